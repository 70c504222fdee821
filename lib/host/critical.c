/*
 * Finds the PCI devices the running host depends on, by following the kernel's own links from a mounted
 * filesystem or a routed interface down to the PCI function that carries it.
 */
#include "vfioctl/critical.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "log.h"
#include "parse-util.h"
#include "strv.h"

#define PROC_FILE_MAX   (4u << 20)
#define STACK_DEPTH_MAX 8

vfio_critical_list *vfio_critical_list_free(vfio_critical_list *l)
{
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n; i++) {
                free(l->items[i].device);
                free(l->items[i].detail);
        }
        free(l->items);
        strv_free(l->problems);
        free(l);
        return NULL;
}

const char *vfio_critical_kind_to_string(vfio_critical_kind k)
{
        switch (k) {
        case VFIO_CRITICAL_BOOT_DISPLAY:
                return "boot-display";
        case VFIO_CRITICAL_STORAGE:
                return "storage";
        case VFIO_CRITICAL_NETWORK:
                return "network";
        }
        return "unknown";
}

static int add_item(vfio_critical_list *l, const char *device, vfio_critical_kind kind, const char *detail)
{
        vfio_critical *n;

        /* One entry per device and kind: the first reason found is enough to refuse it. */
        for (size_t i = 0; i < l->n; i++)
                if (l->items[i].kind == kind && strcmp(l->items[i].device, device) == 0)
                        return 0;
        n = realloc(l->items, (l->n + 1) * sizeof(vfio_critical));
        if (!n)
                return -ENOMEM;
        l->items = n;
        n[l->n] = (vfio_critical){ .device = strdup(device), .kind = kind, .detail = strdup(detail) };
        if (!n[l->n].device || !n[l->n].detail) {
                free(n[l->n].device);
                free(n[l->n].detail);
                return -ENOMEM;
        }
        l->n++;
        return 0;
}

/* The last PCI address in a sysfs link target: the function closest to the block or net device. */
static char *last_pci_component(const char *target)
{
        _cleanup_strv_free_ char **parts = NULL;
        const char *found = NULL;

        if (strv_split(target, "/", &parts) < 0)
                return NULL;
        STRV_FOREACH(c, parts) {
                vfio_pci_addr a;

                if (strchr(*c, ':') != strrchr(*c, ':') && vfio_pci_addr_parse(*c, &a) >= 0)
                        found = *c;
        }
        return found ? strdup(found) : NULL;
}

/*
 * Resolves a sysfs class entry (block or net) to the PCI functions below it. Stacked devices (dm, md,
 * bridges, bonds) have no PCI parent of their own; their lower devices are followed instead.
 */
static int resolve_to_pci(const vfio_host *h, const char *entry, const char *lower_dir,
                          const char *lower_prefix, unsigned depth, char ***devices)
{
        _cleanup_free_ char *target = NULL, *pci = NULL, *dir = NULL;
        _cleanup_strv_free_ char **lowers = NULL;
        int r;

        if (depth > STACK_DEPTH_MAX)
                return 0;
        r = vfio_host_read_link(h, entry, &target);
        if (r < 0)
                return r;
        pci = last_pci_component(target);
        if (pci) {
                if (strv_contains(*devices, pci))
                        return 0;
                return strv_push(devices, TAKE_PTR(pci)) < 0 ? -ENOMEM : 0;
        }
        if (asprintf(&dir, "%s/%s", entry, lower_dir) < 0)
                return -ENOMEM;
        r = vfio_host_list_dir(h, dir, 256, &lowers);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        STRV_FOREACH(l, lowers) {
                _cleanup_free_ char *sub = NULL;

                if (lower_prefix && strncmp(*l, lower_prefix, strlen(lower_prefix)) != 0)
                        continue;
                /* "slaves/sda2" and "lower_eth0" are links to the lower device's own directory. */
                if (asprintf(&sub, "%s/%s", dir, *l) < 0)
                        return -ENOMEM;
                r = resolve_to_pci(h, sub, lower_dir, lower_prefix, depth + 1, devices);
                if (r == -ENOMEM)
                        return r;
        }
        return 0;
}

/* Unescapes mountinfo's octal escapes (\040 for space) in place. */
static void unescape_octal(char *s)
{
        char *w = s;

        for (char *p = s; *p; p++) {
                if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
                    p[3] >= '0' && p[3] <= '7') {
                        *w++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
                        p += 3;
                } else
                        *w++ = *p;
        }
        *w = 0;
}

int vfio_mountinfo_parse_line(const char *line, unsigned *ret_major, unsigned *ret_minor,
                              char **ret_mountpoint, char **ret_fstype, char **ret_source)
{
        _cleanup_strv_free_ char **f = NULL;
        size_t n, sep = 0;
        uint64_t maj, min;
        char *colon;
        int r;

        assert(ret_major);
        assert(ret_minor);
        assert(ret_source);

        /* proc(5): id parent maj:min root mountpoint options [optional...] - fstype source superopts */
        r = strv_split(line, " ", &f);
        if (r < 0)
                return r;
        n = strv_length(f);
        if (n < 10)
                return -EINVAL;
        for (size_t i = 6; i < n; i++)
                if (strcmp(f[i], "-") == 0) {
                        sep = i;
                        break;
                }
        if (sep == 0 || sep + 2 >= n)
                return -EINVAL;
        colon = strchr(f[2], ':');
        if (!colon)
                return -EINVAL;
        *colon = 0;
        if (parse_uint(f[2], 10, UINT32_MAX, &maj) < 0 || parse_uint(colon + 1, 10, UINT32_MAX, &min) < 0)
                return -EINVAL;
        unescape_octal(f[4]);
        unescape_octal(f[sep + 2]);
        *ret_major = (unsigned)maj;
        *ret_minor = (unsigned)min;
        *ret_mountpoint = strdup(f[4]);
        *ret_fstype = strdup(f[sep + 1]);
        *ret_source = strdup(f[sep + 2]);
        if (!*ret_mountpoint || !*ret_fstype || !*ret_source) {
                free(*ret_mountpoint);
                free(*ret_fstype);
                free(*ret_source);
                return -ENOMEM;
        }
        return 0;
}

static int add_block_users(const vfio_host *h, vfio_critical_list *l, const char *entry, const char *what)
{
        _cleanup_strv_free_ char **devs = NULL;
        int r;

        devs = calloc(1, sizeof(char *));
        if (!devs)
                return -ENOMEM;
        r = resolve_to_pci(h, entry, "slaves", NULL, 0, &devs);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return strv_extendf(&l->problems, "%s: block device not found in sysfs", what);
        STRV_FOREACH(d, devs) {
                r = add_item(l, *d, VFIO_CRITICAL_STORAGE, what);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int scan_mounts(const vfio_host *h, vfio_critical_list *l)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        int r;

        r = vfio_host_read_attr(h, "proc/self/mountinfo", PROC_FILE_MAX, &text);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r == -ENOMEM ? r
                                    : strv_extendf(&l->problems, "proc/self/mountinfo: %s", strerror(-r));
        r = strv_split(text, "\n", &lines);
        if (r < 0)
                return r;
        STRV_FOREACH(line, lines) {
                _cleanup_free_ char *mnt = NULL, *fstype = NULL, *source = NULL, *entry = NULL, *what = NULL;
                unsigned maj, min;

                r = vfio_mountinfo_parse_line(*line, &maj, &min, &mnt, &fstype, &source);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                if (maj != 0) {
                        if (asprintf(&entry, "sys/dev/block/%u:%u", maj, min) < 0)
                                return -ENOMEM;
                } else if (strncmp(source, "/dev/", 5) == 0 && !strchr(source + 5, '/')) {
                        /* btrfs and others report an anonymous device number; the source names it. */
                        if (asprintf(&entry, "sys/class/block/%s", source + 5) < 0)
                                return -ENOMEM;
                } else
                        continue; /* proc, tmpfs, 9p, zfs datasets: no block device to trace */
                if (vfio_host_exists(h, entry) <= 0)
                        continue;
                if (asprintf(&what, "%s (%s on %s)", mnt, fstype, source) < 0)
                        return -ENOMEM;
                r = add_block_users(h, l, entry, what);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int scan_swaps(const vfio_host *h, vfio_critical_list *l)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        int r;

        r = vfio_host_read_attr(h, "proc/swaps", PROC_FILE_MAX, &text);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        r = strv_split(text, "\n", &lines);
        if (r < 0)
                return r;
        STRV_FOREACH(line, lines) {
                _cleanup_free_ char *dev = NULL, *entry = NULL, *what = NULL;
                size_t n = strcspn(*line, " \t");

                if (line == lines || strncmp(*line, "/dev/", 5) != 0)
                        continue;
                dev = strndup(*line, n);
                if (!dev)
                        return -ENOMEM;
                if (strchr(dev + 5, '/'))
                        continue;
                if (asprintf(&entry, "sys/class/block/%s", dev + 5) < 0 ||
                    asprintf(&what, "swap on %s", dev) < 0)
                        return -ENOMEM;
                if (vfio_host_exists(h, entry) <= 0)
                        continue;
                r = add_block_users(h, l, entry, what);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_route_iface(const vfio_host *h, vfio_critical_list *l, const char *iface)
{
        _cleanup_strv_free_ char **devs = NULL;
        _cleanup_free_ char *entry = NULL, *what = NULL;
        int r;

        if (strchr(iface, '/') || strcmp(iface, ".") == 0 || strcmp(iface, "..") == 0)
                return 0;
        if (asprintf(&entry, "sys/class/net/%s", iface) < 0 ||
            asprintf(&what, "default route via %s", iface) < 0)
                return -ENOMEM;
        devs = calloc(1, sizeof(char *));
        if (!devs)
                return -ENOMEM;
        /* Bridges, bonds and VLANs list what they sit on as "lower_<ifname>" links (since Linux 4.x). */
        r = resolve_to_pci(h, entry, ".", "lower_", 0, &devs);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return strv_extendf(&l->problems, "%s: interface not found in sys/class/net", iface);
        STRV_FOREACH(d, devs) {
                r = add_item(l, *d, VFIO_CRITICAL_NETWORK, what);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int scan_routes(const vfio_host *h, vfio_critical_list *l)
{
        _cleanup_free_ char *v4 = NULL, *v6 = NULL;
        _cleanup_strv_free_ char **lines = NULL, **lines6 = NULL;
        int r;

        r = vfio_host_read_attr(h, "proc/net/route", PROC_FILE_MAX, &v4);
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                r = strv_split(v4, "\n", &lines);
                if (r < 0)
                        return r;
                STRV_FOREACH(line, lines) {
                        _cleanup_strv_free_ char **f = NULL;

                        /* Iface Destination Gateway Flags RefCnt Use Metric Mask ...: default = dest 0, mask
                         * 0 */
                        if (strv_split(*line, " \t", &f) < 0)
                                return -ENOMEM;
                        if (strv_length(f) < 8 || strcmp(f[1], "00000000") != 0 ||
                            strcmp(f[7], "00000000") != 0)
                                continue;
                        r = add_route_iface(h, l, f[0]);
                        if (r < 0)
                                return r;
                }
        }
        r = vfio_host_read_attr(h, "proc/net/ipv6_route", PROC_FILE_MAX, &v6);
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                r = strv_split(v6, "\n", &lines6);
                if (r < 0)
                        return r;
                STRV_FOREACH(line, lines6) {
                        _cleanup_strv_free_ char **f = NULL;

                        /* dest prefixlen src srcprefixlen nexthop metric refcnt use flags iface */
                        if (strv_split(*line, " \t", &f) < 0)
                                return -ENOMEM;
                        if (strv_length(f) < 10 || strspn(f[0], "0") != 32 || strcmp(f[1], "00") != 0 ||
                            strcmp(f[9], "lo") == 0)
                                continue;
                        r = add_route_iface(h, l, f[9]);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int vfio_critical_scan(const vfio_host *h, const vfio_pci_list *pci, vfio_critical_list **ret)
{
        _cleanup_(vfio_critical_list_freep) vfio_critical_list *l = NULL;
        int r;

        assert(pci);
        assert(ret);

        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->problems = calloc(1, sizeof(char *));
        if (!l->problems)
                return -ENOMEM;
        for (size_t i = 0; i < pci->n; i++) {
                const vfio_pci_dev *d = pci->devs[i];
                _cleanup_free_ char *what = NULL;

                /* A boot VGA without a driver still shows the firmware framebuffer (efifb/simplefb). */
                if (d->boot_vga != 1 || vfio_pci_driver_is_stub(d->driver))
                        continue;
                if (asprintf(&what, "boot display (boot_vga=1, driver %s)", d->driver ? d->driver : "none") <
                    0)
                        return -ENOMEM;
                r = add_item(l, d->name, VFIO_CRITICAL_BOOT_DISPLAY, what);
                if (r < 0)
                        return r;
        }
        if ((r = scan_mounts(h, l)) < 0 || (r = scan_swaps(h, l)) < 0 || (r = scan_routes(h, l)) < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}
