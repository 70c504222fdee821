/* Reads PCI devices from sysfs under the host root; every attribute is optional. */
#include "vfioctl/pci.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "parse-util.h"
#include "strv.h"

/* A machine has a few hundred functions; far beyond that the input is not a real sysfs. */
#define PCI_DEVICES_MAX 65536

int vfio_pci_addr_parse(const char *s, vfio_pci_addr *ret)
{
        unsigned domain = 0, bus, slot, func;
        const char *p = s;
        size_t n;
        char tail;

        assert(ret);

        if (!s)
                return -EINVAL;
        /* Count the leading hex digits to tell "DDDD:BB:SS.F" from "BB:SS.F". */
        n = strspn(p, "0123456789abcdefABCDEF");
        if (n >= 4 && n <= 8 && p[n] == ':') {
                uint64_t d;
                char buf[9];

                memcpy(buf, p, n);
                buf[n] = 0;
                if (parse_uint(buf, 16, UINT32_MAX, &d) < 0)
                        return -EINVAL;
                domain = (unsigned)d;
                p += n + 1;
        } else if (n != 2)
                return -EINVAL;
        if (strlen(p) != 7 || !isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
            p[2] != ':' || !isxdigit((unsigned char)p[3]) || !isxdigit((unsigned char)p[4]) || p[5] != '.' ||
            !isdigit((unsigned char)p[6]))
                return -EINVAL;
        if (sscanf(p, "%2x:%2x.%1u%c", &bus, &slot, &func, &tail) != 3)
                return -EINVAL;
        if (slot > 0x1f || func > 7)
                return -EINVAL;
        *ret = (vfio_pci_addr){
                .domain = domain, .bus = (uint8_t)bus, .slot = (uint8_t)slot, .func = (uint8_t)func
        };
        return 0;
}

char *vfio_pci_addr_format(const vfio_pci_addr *a, char buf[static VFIO_PCI_ADDR_MAX])
{
        assert(a);

        snprintf(buf, VFIO_PCI_ADDR_MAX, "%04x:%02x:%02x.%u", a->domain, a->bus, a->slot, a->func);
        return buf;
}

int vfio_pci_addr_compare(const vfio_pci_addr *a, const vfio_pci_addr *b)
{
        assert(a);
        assert(b);

        if (a->domain != b->domain)
                return a->domain < b->domain ? -1 : 1;
        if (a->bus != b->bus)
                return a->bus < b->bus ? -1 : 1;
        if (a->slot != b->slot)
                return a->slot < b->slot ? -1 : 1;
        if (a->func != b->func)
                return a->func < b->func ? -1 : 1;
        return 0;
}

bool vfio_pci_dev_is_bridge(const vfio_pci_dev *d)
{
        assert(d);

        /* The kernel's pci_is_bridge(): header type 1 or 2. Class is the fallback without config. */
        if (d->header == VFIO_PCI_HEADER_BRIDGE || d->header == VFIO_PCI_HEADER_CARDBUS)
                return true;
        if (d->header == VFIO_PCI_HEADER_UNKNOWN && d->class >= 0)
                return (d->class >> 8) == 0x0604 || (d->class >> 8) == 0x0607 || (d->class >> 8) == 0x0609;
        return false;
}

bool vfio_pci_dev_is_display(const vfio_pci_dev *d)
{
        assert(d);

        return d->class >= 0 && (d->class >> 16) == 0x03;
}

bool vfio_pci_driver_is_stub(const char *driver)
{
        return driver && (strcmp(driver, "vfio-pci") == 0 || strcmp(driver, "pci-stub") == 0);
}

unsigned vfio_pci_parse_link_speed(const char *s)
{
        unsigned whole = 0, tenth = 0;
        const char *p = s;

        if (!s || !isdigit((unsigned char)*p))
                return 0;
        while (isdigit((unsigned char)*p) && whole < 1000)
                whole = whole * 10 + (unsigned)(*p++ - '0');
        if (*p == '.' && isdigit((unsigned char)p[1])) {
                tenth = (unsigned)(p[1] - '0');
                p += 2;
                while (isdigit((unsigned char)*p))
                        p++;
        }
        if (strncmp(p, " GT/s", 5) != 0)
                return 0;
        return whole * 1000 + tenth * 100;
}

vfio_pci_dev *vfio_pci_dev_free(vfio_pci_dev *d)
{
        if (!d)
                return NULL;
        free(d->name);
        free(d->driver);
        free(d->driver_override);
        strv_free(d->reset_methods);
        free(d->sysfs_path);
        strv_free(d->parents);
        strv_free(d->problems);
        free(d);
        return NULL;
}

vfio_pci_list *vfio_pci_list_free(vfio_pci_list *l)
{
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n; i++)
                vfio_pci_dev_free(l->devs[i]);
        free(l->devs);
        strv_free(l->problems);
        free(l);
        return NULL;
}

static const char *errno_what(int r)
{
        switch (r) {
        case -ENOENT:
                return "missing";
        case -EFBIG:
                return "too long";
        case -EBADMSG:
                return "contains a NUL byte";
        case -EINVAL:
        case -ERANGE:
                return "malformed";
        default:
                return strerror(-r);
        }
}

/*
 * Reads attr of the device directory dfd; *ret is NULL and a problem is noted when it is absent but
 * `required`. Attribute names are plain file names: opening them relative to the device's own directory
 * fd cannot leave the root, and saves resolving the whole path for each of a device's ~15 attributes.
 */
static int read_dev_attr(int dfd, vfio_pci_dev *d, const char *attr, bool required, char **ret)
{
        int r;

        *ret = NULL;
        r = read_attr_at(dfd, attr, ATTR_MAX_DEFAULT, ret);
        if (r == -ENOMEM)
                return r;
        if (r < 0 && (required || r != -ENOENT))
                return strv_extendf(&d->problems, "%s: %s", attr, errno_what(r));
        return 0;
}

static int read_hex_attr(int dfd, vfio_pci_dev *d, const char *attr, unsigned bits, int32_t *ret)
{
        _cleanup_free_ char *s = NULL;
        uint32_t v;
        int r;

        *ret = -1;
        r = read_dev_attr(dfd, d, attr, true, &s);
        if (r < 0 || !s)
                return r;
        if (parse_hex_id(s, bits, &v) < 0)
                return strv_extendf(&d->problems, "%s: %s", attr, "malformed");
        *ret = (int32_t)v;
        return 0;
}

static int read_int_attr(int dfd, vfio_pci_dev *d, const char *attr, int64_t min, int64_t max, int *ret)
{
        _cleanup_free_ char *s = NULL;
        int64_t v;
        int r;

        *ret = -1;
        r = read_dev_attr(dfd, d, attr, false, &s);
        if (r < 0 || !s)
                return r;
        if (parse_int(s, min, max, &v) < 0)
                return strv_extendf(&d->problems, "%s: %s", attr, "malformed");
        *ret = (int)v;
        return 0;
}

/* The last path component of a link such as "../../../bus/pci/drivers/e1000e". */
static int read_link_basename(int dfd, const char *name, char **ret)
{
        _cleanup_free_ char *target = NULL;
        const char *b;
        int r;

        r = read_link_at(dfd, name, &target);
        if (r < 0)
                return r;
        b = strrchr(target, '/');
        b = b ? b + 1 : target;
        if (!*b)
                return -EINVAL;
        *ret = strdup(b);
        return *ret ? 0 : -ENOMEM;
}

static int read_header_type(int dfd, vfio_pci_header *ret)
{
        _cleanup_close_ int fd = -EBADF;
        unsigned char b;
        ssize_t n;

        /* Config offset 0x0e, bits 0-6 (PCI Local Bus spec 3.0, 6.2.1); readable by anyone. */
        fd = openat(dfd, "config", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        n = pread(fd, &b, 1, 0x0e);
        if (n != 1)
                return n < 0 ? -errno : -ENODATA;
        switch (b & 0x7f) {
        case 0:
                *ret = VFIO_PCI_HEADER_ENDPOINT;
                return 0;
        case 1:
                *ret = VFIO_PCI_HEADER_BRIDGE;
                return 0;
        case 2:
                *ret = VFIO_PCI_HEADER_CARDBUS;
                return 0;
        default:
                return -EINVAL;
        }
}

/* Splits the device link target into its path below sys/ and the PCI devices above it. */
static int parse_device_path(const char *target, const char *name, char **ret_path, char ***ret_parents)
{
        _cleanup_strv_free_ char **parts = NULL, **parents = NULL;
        const char *p;
        int r;

        p = strstr(target, "devices/");
        if (!p)
                return -EINVAL;
        r = strv_split(p, "/", &parts);
        if (r < 0)
                return r;
        parents = calloc(1, sizeof(char *));
        if (!parents)
                return -ENOMEM;
        STRV_FOREACH(c, parts) {
                vfio_pci_addr a;

                /* Skip "devices", "pci0000:00" roots and VMD's nested "pci10000:00" buses. */
                if (vfio_pci_addr_parse(*c, &a) < 0 || strchr(*c, ':') == strrchr(*c, ':'))
                        continue;
                if (strcmp(*c, name) == 0 && !c[1])
                        break;
                r = strv_extend(&parents, *c);
                if (r < 0)
                        return r;
        }
        *ret_path = strdup(p);
        if (!*ret_path)
                return -ENOMEM;
        *ret_parents = TAKE_PTR(parents);
        return 0;
}

int vfio_pci_read_device(const vfio_host *h, const char *name, vfio_pci_dev **ret)
{
        _cleanup_(vfio_pci_dev_freep) vfio_pci_dev *d = NULL;
        _cleanup_free_ char *dir = NULL, *target = NULL, *s = NULL;
        _cleanup_close_ int dfd = -EBADF;
        int r;

        assert(ret);

        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->iommu_group = d->boot_vga = d->numa_node = -1;
        d->header = VFIO_PCI_HEADER_UNKNOWN;
        d->name = strdup(name);
        if (!d->name)
                return -ENOMEM;
        r = vfio_pci_addr_parse(name, &d->addr);
        if (r < 0)
                return log_debug_errno(r, "not a PCI address: %s", name);
        if (asprintf(&dir, "sys/bus/pci/devices/%s", name) < 0)
                return -ENOMEM;
        r = vfio_host_read_link(h, dir, &target);
        if (r < 0)
                return log_debug_errno(r, "%s: cannot read link: %s", dir, strerror(-r));
        r = parse_device_path(target, name, &d->sysfs_path, &d->parents);
        if (r < 0)
                return log_debug_errno(r, "%s: unexpected link target %s", dir, target);
        dfd = vfio_host_open_path(h, dir, O_PATH | O_DIRECTORY);
        if (dfd < 0)
                return dfd == -ENOTDIR ? -ENOENT : dfd; /* dangling: the device directory is gone */

        if ((r = read_hex_attr(dfd, d, "vendor", 16, &d->vendor)) < 0 ||
            (r = read_hex_attr(dfd, d, "device", 16, &d->device)) < 0 ||
            (r = read_hex_attr(dfd, d, "subsystem_vendor", 16, &d->subsystem_vendor)) < 0 ||
            (r = read_hex_attr(dfd, d, "subsystem_device", 16, &d->subsystem_device)) < 0 ||
            (r = read_hex_attr(dfd, d, "revision", 8, &d->revision)) < 0 ||
            (r = read_hex_attr(dfd, d, "class", 24, &d->class)) < 0)
                return r;
        if ((r = read_int_attr(dfd, d, "boot_vga", 0, 1, &d->boot_vga)) < 0 ||
            (r = read_int_attr(dfd, d, "numa_node", -1, 4095, &d->numa_node)) < 0)
                return r;

        r = read_link_basename(dfd, "driver", &d->driver);
        if (r < 0 && r != -ENOENT && (r = strv_extendf(&d->problems, "%s: %s", "driver", errno_what(r))) < 0)
                return r;

        r = read_link_basename(dfd, "iommu_group", &s);
        if (r >= 0) {
                int64_t g;

                if (parse_int(s, 0, INT32_MAX, &g) >= 0)
                        d->iommu_group = (int)g;
                else if ((r = strv_extendf(&d->problems, "%s: %s", "iommu_group", "not a group number")) < 0)
                        return r;
        } else if (r != -ENOENT &&
                   (r = strv_extendf(&d->problems, "%s: %s", "iommu_group", errno_what(r))) < 0)
                return r;
        free(s);
        s = NULL;

        r = read_dev_attr(dfd, d, "driver_override", false, &s);
        if (r < 0)
                return r;
        if (s && *s && strcmp(s, "(null)") != 0)
                d->driver_override = TAKE_PTR(s);
        free(s);
        s = NULL;

        r = read_dev_attr(dfd, d, "reset_method", false, &s);
        if (r < 0)
                return r;
        if (s && (r = strv_split(s, " \t", &d->reset_methods)) < 0)
                return r;
        d->has_reset = faccessat(dfd, "reset", F_OK, AT_SYMLINK_NOFOLLOW) == 0;

        {
                static const struct {
                        const char *attr;
                        bool speed;
                        size_t off;
                } link_attrs[] = {
                        { "current_link_speed", true, offsetof(vfio_pci_link, cur_speed) },
                        { "max_link_speed", true, offsetof(vfio_pci_link, max_speed) },
                        { "current_link_width", false, offsetof(vfio_pci_link, cur_width) },
                        { "max_link_width", false, offsetof(vfio_pci_link, max_width) },
                };
                for (size_t i = 0; i < ELEMENTSOF(link_attrs); i++) {
                        unsigned *field = (unsigned *)((char *)&d->link + link_attrs[i].off);
                        uint64_t v;

                        free(s);
                        s = NULL;
                        r = read_dev_attr(dfd, d, link_attrs[i].attr, false, &s);
                        if (r < 0)
                                return r;
                        if (!s)
                                continue;
                        if (link_attrs[i].speed)
                                *field = vfio_pci_parse_link_speed(s);
                        else if (parse_uint(s, 10, 64, &v) >= 0)
                                *field = (unsigned)v;
                        /* "Unknown" speeds and width 0 of a down link are legitimate: stay 0. */
                }
        }

        r = read_header_type(dfd, &d->header);
        if (r == -ENOMEM)
                return r;

        *ret = TAKE_PTR(d);
        return 0;
}

static int cmp_dev(const void *a, const void *b)
{
        const vfio_pci_dev *x = *(vfio_pci_dev *const *)a, *y = *(vfio_pci_dev *const *)b;

        return vfio_pci_addr_compare(&x->addr, &y->addr);
}

int vfio_pci_scan(const vfio_host *h, vfio_pci_list **ret)
{
        _cleanup_(vfio_pci_list_freep) vfio_pci_list *l = NULL;
        _cleanup_strv_free_ char **names = NULL;
        int r;

        assert(ret);

        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->problems = calloc(1, sizeof(char *));
        if (!l->problems)
                return -ENOMEM;
        r = vfio_host_list_dir(h, "sys/bus/pci/devices", PCI_DEVICES_MAX, &names);
        if (r == -ENOENT) {
                /* No PCI bus at all (some VMs, containers): an empty list, not an error. */
                *ret = TAKE_PTR(l);
                return 0;
        }
        if (r < 0)
                return r;
        l->devs = calloc(strv_length(names) + 1, sizeof(vfio_pci_dev *));
        if (!l->devs)
                return -ENOMEM;
        STRV_FOREACH(n, names) {
                vfio_pci_dev *d;
                char *msg;

                r = vfio_pci_read_device(h, *n, &d);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        if (asprintf(&msg, "sys/bus/pci/devices/%s: %s", *n,
                                     r == -ENOENT   ? "dangling link (device directory missing)"
                                     : r == -EINVAL ? "not a PCI device link"
                                                    : strerror(-r)) < 0)
                                return -ENOMEM;
                        if (strv_push(&l->problems, msg) < 0) {
                                free(msg);
                                return -ENOMEM;
                        }
                        continue;
                }
                l->devs[l->n++] = d;
        }
        qsort(l->devs, l->n, sizeof(vfio_pci_dev *), cmp_dev);
        *ret = TAKE_PTR(l);
        return 0;
}

ssize_t vfio_pci_list_index(const vfio_pci_list *l, const char *name)
{
        vfio_pci_addr a;
        size_t lo = 0, hi;

        assert(l);

        hi = l->n;
        if (vfio_pci_addr_parse(name, &a) < 0)
                return -1;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = vfio_pci_addr_compare(&l->devs[mid]->addr, &a);

                if (c == 0)
                        return (ssize_t)mid;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return -1;
}

vfio_pci_dev *vfio_pci_list_find(const vfio_pci_list *l, const char *name)
{
        ssize_t i;

        assert(l);

        i = vfio_pci_list_index(l, name);
        return i < 0 ? NULL : l->devs[i];
}
