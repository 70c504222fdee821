/* Reads PCI devices from sysfs under the host root; every attribute is optional. */
#include "vfioctl/pci.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "parse-util.h"
#include "strv.h"

/* A machine has a few hundred functions; far beyond that the input is not a real sysfs. */
#define PCI_DEVICES_MAX 65536

static int hex_digit(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Parsed by hand: every model lookup and every link component goes through here, thousands of times. */
int vfio_pci_addr_parse(const char *s, vfio_pci_addr *ret)
{
        uint32_t domain = 0;
        const char *p = s;
        size_t n = 0;
        unsigned bus, slot, func;

        assert(ret);

        if (!s)
                return -EINVAL;
        /* Count the leading hex digits to tell "DDDD:BB:SS.F" from "BB:SS.F". */
        while (hex_digit(p[n]) >= 0)
                n++;
        if (n >= 4 && n <= 8 && p[n] == ':') {
                for (size_t i = 0; i < n; i++)
                        domain = domain << 4 | (uint32_t)hex_digit(p[i]);
                p += n + 1;
        } else if (n != 2)
                return -EINVAL;
        if (hex_digit(p[0]) < 0 || hex_digit(p[1]) < 0 || p[2] != ':' || hex_digit(p[3]) < 0 ||
            hex_digit(p[4]) < 0 || p[5] != '.' || p[6] < '0' || p[6] > '9' || p[7] != 0)
                return -EINVAL;
        bus = (unsigned)(hex_digit(p[0]) << 4 | hex_digit(p[1]));
        slot = (unsigned)(hex_digit(p[3]) << 4 | hex_digit(p[4]));
        func = (unsigned)(p[6] - '0');
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

bool vfio_pci_same_slot(const vfio_pci_dev *a, const vfio_pci_dev *b)
{
        assert(a);
        assert(b);

        return a->addr.domain == b->addr.domain && a->addr.bus == b->addr.bus &&
               a->addr.slot == b->addr.slot;
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
 * The files a scan reads of each device, in the order their problems are reported. They are all opened
 * first, relative to the device's own directory fd (plain file names cannot leave the root, and the path
 * is resolved once, not for each file), then read with one read() each (read_virtual_fd), then closed
 * together: descriptors opened in a row have consecutive numbers, so one close_range() closes them
 * (close_many). Per function that is 15 opens, reads and 1 close instead of 15 opens, 30 reads, 15 closes.
 * boot_vga is opened only when the class says the kernel shows it (vga_attr_visible), so most functions
 * need 14 opens.
 */
enum {
        ATTR_VENDOR,
        ATTR_DEVICE,
        ATTR_SUBSYSTEM_VENDOR,
        ATTR_SUBSYSTEM_DEVICE,
        ATTR_REVISION,
        ATTR_CLASS,
        ATTR_BOOT_VGA,
        ATTR_NUMA_NODE,
        ATTR_DRIVER_OVERRIDE,
        ATTR_RESET_METHOD,
        ATTR_CUR_SPEED,
        ATTR_MAX_SPEED,
        ATTR_CUR_WIDTH,
        ATTR_MAX_WIDTH,
        ATTR_CONFIG,
        N_ATTRS,
};

static const char *const attr_names[N_ATTRS] = {
        [ATTR_VENDOR] = "vendor",
        [ATTR_DEVICE] = "device",
        [ATTR_SUBSYSTEM_VENDOR] = "subsystem_vendor",
        [ATTR_SUBSYSTEM_DEVICE] = "subsystem_device",
        [ATTR_REVISION] = "revision",
        [ATTR_CLASS] = "class",
        [ATTR_BOOT_VGA] = "boot_vga",
        [ATTR_NUMA_NODE] = "numa_node",
        [ATTR_DRIVER_OVERRIDE] = "driver_override",
        [ATTR_RESET_METHOD] = "reset_method",
        [ATTR_CUR_SPEED] = "current_link_speed",
        [ATTR_MAX_SPEED] = "max_link_speed",
        [ATTR_CUR_WIDTH] = "current_link_width",
        [ATTR_MAX_WIDTH] = "max_link_width",
        [ATTR_CONFIG] = "config",
};

/*
 * A --root tree is written by whoever owns it: a FIFO in place of an attribute must not block the open or
 * the read, so neither waits (O_NONBLOCK); what it is shows when it reads empty (not_regular).
 */
#define ATTR_OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

/* Only asked when a read came back empty or would block, which a sysfs attribute never does: no fstat()
 * per attribute. */
static bool not_regular(int fd)
{
        struct stat st;

        return fstat(fd, &st) == 0 && !S_ISREG(st.st_mode);
}

/*
 * Reads the attribute open as fd (or the open's -errno) into buf; returns 1 when read, 0 when absent (a
 * problem is noted when it is `required` or unreadable).
 */
static int read_dev_attr(int fd, vfio_pci_dev *d, const char *attr, bool required, char *buf, size_t size)
{
        ssize_t n;
        int r;

        n = fd < 0 ? fd : read_virtual_fd(fd, buf, size);
        if ((n == 0 || n == -EAGAIN) && not_regular(fd)) {
                r = strv_extendf(&d->problems, "%s: %s", attr, "not a regular file");
                return r < 0 ? r : 0;
        }
        if (n >= 0)
                return 1;
        if (n == -ENOMEM)
                return (int)n;
        if (required || n != -ENOENT) {
                r = strv_extendf(&d->problems, "%s: %s", attr, errno_what((int)n));
                return r < 0 ? r : 0;
        }
        return 0;
}

static int read_hex_attr(const int *fds, vfio_pci_dev *d, unsigned a, unsigned bits, int32_t *ret)
{
        char s[VIRTUAL_BUF_SIZE(ATTR_MAX_DEFAULT)];
        uint32_t v;
        int r;

        *ret = -1;
        r = read_dev_attr(fds[a], d, attr_names[a], true, s, sizeof(s));
        if (r <= 0)
                return r;
        if (parse_hex_id(s, bits, &v) < 0)
                return strv_extendf(&d->problems, "%s: %s", attr_names[a], "malformed");
        *ret = (int32_t)v;
        return 0;
}

static int read_int_attr(const int *fds, vfio_pci_dev *d, unsigned a, int64_t min, int64_t max, int *ret)
{
        char s[VIRTUAL_BUF_SIZE(ATTR_MAX_DEFAULT)];
        int64_t v;
        int r;

        *ret = -1;
        r = read_dev_attr(fds[a], d, attr_names[a], false, s, sizeof(s));
        if (r <= 0)
                return r;
        if (parse_int(s, min, max, &v) < 0)
                return strv_extendf(&d->problems, "%s: %s", attr_names[a], "malformed");
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

static int read_header_type(int fd, vfio_pci_header *ret)
{
        unsigned char b;
        ssize_t n;

        /* Config offset 0x0e, bits 0-6 (PCI Local Bus spec 3.0, 6.2.1); readable by anyone. */
        if (fd < 0)
                return fd;
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

/*
 * The device link's target. With the sys/bus/pci/devices directory open (devices_fd >= 0, as during a scan),
 * one readlinkat() on it; otherwise the link is opened beneath the root first. A name that is there but is
 * no link reads as missing either way, as vfio_host_read_link() reports it.
 */
static int read_device_link(const vfio_host *h, int devices_fd, const char *name, const char *dir,
                            char **ret)
{
        int r;

        if (devices_fd < 0)
                return vfio_host_read_link(h, dir, ret);
        r = read_link_at(devices_fd, name, ret);
        return r == -EINVAL ? -ENOENT : r;
}

/*
 * Whether the kernel shows boot_vga for a function of this class: only for VGA-compatible ones, class
 * 0x0300 or the pre-2.0 0x0001 (pci_dev_attrs_are_visible and pci_is_vga, drivers/pci/pci-sysfs.c). An
 * unreadable class looks anyway.
 */
static bool vga_attr_visible(int32_t class)
{
        return class < 0 || class >> 8 == 0x0300 || class >> 8 == 0x0001;
}

typedef struct dev_files {
        int fd[N_ATTRS + 1]; /* the attributes (descriptor or -errno of the open), then the directory */
        fd_batch *batch;     /* where they go when read (a scan), or NULL: closed at once */
} dev_files;

static void dev_files_close(dev_files *f)
{
        fd_batch_add(f->batch, f->fd, N_ATTRS + 1);
}

/*
 * The device's own directory. During a scan whose sys/bus/pci/devices/../../.. is sys/ (sys_fd >= 0, see
 * open_sys_for_links), a link of the kernel's form "../../../devices/..." lands on sys/devices/...: that is
 * opened beneath sys/, a walk of a few components instead of the whole path and the link from the root.
 * Anything else, or a path that would leave sys/, is opened as before.
 */
static int open_device_dir(const vfio_host *h, int sys_fd, const char *target, const char *dir)
{
        static const char canonical[] = "../../../devices/";
        int fd;

        if (sys_fd >= 0 && strncmp(target, canonical, strlen(canonical)) == 0) {
                fd = vfio_host_open_beneath(h, sys_fd, target + strlen("../../../"), O_PATH | O_DIRECTORY);
                if (fd != -EXDEV && fd != -ENOSYS)
                        return fd;
        }
        return vfio_host_open_path(h, dir, O_PATH | O_DIRECTORY);
}

/* sys/, when following a device link from sys/bus/pci/devices leads where it says below sys/. */
static int open_sys_for_links(const vfio_host *h)
{
        _cleanup_close_ int up = -EBADF;
        int sys_fd;
        struct stat a, b;

        sys_fd = vfio_host_open_path(h, "sys", O_PATH | O_DIRECTORY);
        if (sys_fd < 0)
                return sys_fd;
        up = vfio_host_open_path(h, "sys/bus/pci/devices/../../..", O_PATH | O_DIRECTORY);
        if (up < 0 || fstat(up, &a) < 0 || fstat(sys_fd, &b) < 0 || a.st_dev != b.st_dev ||
            a.st_ino != b.st_ino) {
                close(sys_fd);
                return -ENOTDIR;
        }
        return sys_fd;
}

static int read_device(const vfio_host *h, int devices_fd, int sys_fd, fd_batch *batch, const char *name,
                       vfio_pci_dev **ret)
{
        _cleanup_(vfio_pci_dev_freep) vfio_pci_dev *d = NULL;
        _cleanup_free_ char *target = NULL, *s = NULL;
        _cleanup_(dev_files_close) dev_files files = { .fd = { [0 ... N_ATTRS] = -EBADF }, .batch = batch };
        const int *fds;
        int dfd;
        char dir[sizeof("sys/bus/pci/devices/") + NAME_MAX];
        char buf[VIRTUAL_BUF_SIZE(ATTR_MAX_DEFAULT)];
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
        snprintf(dir, sizeof(dir), "sys/bus/pci/devices/%s", name);
        r = read_device_link(h, devices_fd, name, dir, &target);
        if (r < 0)
                return log_debug_errno(r, "%s: cannot read link: %s", dir, strerror(-r));
        r = parse_device_path(target, name, &d->sysfs_path, &d->parents);
        if (r < 0)
                return log_debug_errno(r, "%s: unexpected link target %s", dir, target);
        dfd = open_device_dir(h, sys_fd, target, dir);
        if (dfd < 0)
                return dfd == -ENOTDIR ? -ENOENT : dfd; /* dangling: the device directory is gone */
        files.fd[N_ATTRS] = dfd;
        for (unsigned a = 0; a < N_ATTRS; a++) {
                int fd;

                if (a == ATTR_BOOT_VGA) {
                        files.fd[a] = -ENOENT; /* decided by the class, below */
                        continue;
                }
                fd = openat(dfd, attr_names[a], ATTR_OPEN_FLAGS | (a == ATTR_CONFIG ? O_NOFOLLOW : 0));
                files.fd[a] = fd < 0 ? -errno : fd;
        }
        fds = files.fd;

        if ((r = read_hex_attr(fds, d, ATTR_VENDOR, 16, &d->vendor)) < 0 ||
            (r = read_hex_attr(fds, d, ATTR_DEVICE, 16, &d->device)) < 0 ||
            (r = read_hex_attr(fds, d, ATTR_SUBSYSTEM_VENDOR, 16, &d->subsystem_vendor)) < 0 ||
            (r = read_hex_attr(fds, d, ATTR_SUBSYSTEM_DEVICE, 16, &d->subsystem_device)) < 0 ||
            (r = read_hex_attr(fds, d, ATTR_REVISION, 8, &d->revision)) < 0 ||
            (r = read_hex_attr(fds, d, ATTR_CLASS, 24, &d->class)) < 0)
                return r;
        if (vga_attr_visible(d->class)) {
                int fd = openat(dfd, attr_names[ATTR_BOOT_VGA], ATTR_OPEN_FLAGS);

                files.fd[ATTR_BOOT_VGA] = fd < 0 ? -errno : fd;
        }
        if ((r = read_int_attr(fds, d, ATTR_BOOT_VGA, 0, 1, &d->boot_vga)) < 0 ||
            (r = read_int_attr(fds, d, ATTR_NUMA_NODE, -1, 4095, &d->numa_node)) < 0)
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

        r = read_dev_attr(fds[ATTR_DRIVER_OVERRIDE], d, attr_names[ATTR_DRIVER_OVERRIDE], false, buf,
                          sizeof(buf));
        if (r < 0)
                return r;
        if (r > 0 && *buf && strcmp(buf, "(null)") != 0) {
                d->driver_override = strdup(buf);
                if (!d->driver_override)
                        return -ENOMEM;
        }

        r = read_dev_attr(fds[ATTR_RESET_METHOD], d, attr_names[ATTR_RESET_METHOD], false, buf, sizeof(buf));
        if (r < 0)
                return r;
        if (r > 0 && (r = strv_split(buf, " \t", &d->reset_methods)) < 0)
                return r;
        /* The kernel shows reset_method and reset under one condition, some reset works (both use
         * pci_dev_reset_attr_is_visible, drivers/pci/pci-sysfs.c): only a kernel without reset_method
         * (before 5.15) needs the look. */
        d->has_reset = d->reset_methods ? true : faccessat(dfd, "reset", F_OK, AT_SYMLINK_NOFOLLOW) == 0;

        {
                static const struct {
                        unsigned attr;
                        bool speed;
                        size_t off;
                } link_attrs[] = {
                        { ATTR_CUR_SPEED, true, offsetof(vfio_pci_link, cur_speed) },
                        { ATTR_MAX_SPEED, true, offsetof(vfio_pci_link, max_speed) },
                        { ATTR_CUR_WIDTH, false, offsetof(vfio_pci_link, cur_width) },
                        { ATTR_MAX_WIDTH, false, offsetof(vfio_pci_link, max_width) },
                };
                for (size_t i = 0; i < ELEMENTSOF(link_attrs); i++) {
                        unsigned *field = (unsigned *)((char *)&d->link + link_attrs[i].off);
                        unsigned a = link_attrs[i].attr;
                        uint64_t v;

                        r = read_dev_attr(fds[a], d, attr_names[a], false, buf, sizeof(buf));
                        if (r < 0)
                                return r;
                        if (r == 0)
                                continue;
                        if (link_attrs[i].speed)
                                *field = vfio_pci_parse_link_speed(buf);
                        else if (parse_uint(buf, 10, 64, &v) >= 0)
                                *field = (unsigned)v;
                        /* "Unknown" speeds and width 0 of a down link are legitimate: stay 0. */
                }
        }

        r = read_header_type(fds[ATTR_CONFIG], &d->header);
        if (r == -ENOMEM)
                return r;

        *ret = TAKE_PTR(d);
        return 0;
}

int vfio_pci_read_device(const vfio_host *h, const char *name, vfio_pci_dev **ret)
{
        return read_device(h, -EBADF, -EBADF, NULL, name, ret);
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
        _cleanup_close_ int devices_fd = -EBADF, sys_fd = -EBADF;
        _cleanup_(fd_batch_flush) fd_batch batch = { .n = 0 };
        fd_batch *closing;
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
        /* The links are read relative to the directory, opened once; without it each is opened on its own.
         */
        devices_fd = vfio_host_open_path(h, "sys/bus/pci/devices", O_PATH | O_DIRECTORY);
        sys_fd = open_sys_for_links(h);
        /* The devices' files are closed eight devices at a time, when the descriptor limit leaves room. */
        closing = fd_batch_fits(N_ATTRS + 1) ? &batch : NULL;
        STRV_FOREACH(n, names) {
                vfio_pci_dev *d;
                char *msg;

                r = read_device(h, devices_fd, sys_fd, closing, *n, &d);
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
