/*
 * macvtap NICs (the kernel's macvtap driver, Documentation/networking/tuntap.rst and drivers/net/macvtap.c):
 * each macvtap interface has a character device /dev/tapIFINDEX that reads and writes its frames. vfioctl
 * start opens it (as root when root starts the VM) and QEMU inherits the descriptor (-netdev tap,fd=N),
 * the way libvirt hands a macvtap to QEMU; QEMU itself never opens a host path for it.
 */
#include "vfioctl/macvtap.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "parse-util.h"
#include "strv.h"

size_t vm_macvtap_count(const vm_config *c)
{
        size_t n = 0;

        assert(c);

        for (size_t i = 0; i < c->n_nets; i++)
                n += c->nets[i].type == VM_NET_MACVTAP;
        return n;
}

void vm_macvtap_close_all(int *fds, size_t n)
{
        for (size_t i = 0; fds && i < n; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        free(fds);
}

/* ip-link(8) spells libvirt's "passthrough" mode "passthru". */
static const char *ip_mode(const vm_net *n)
{
        if (!n->macvtap_mode)
                return "bridge";
        return strcmp(n->macvtap_mode, "passthrough") == 0 ? "passthru" : n->macvtap_mode;
}

static int fail(char **ret_error, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char **ret_error, int r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return r;
}

static int open_one(const vfio_host *h, vm_net *n, int *ret_fd, char **ret_error)
{
        _cleanup_free_ char *path = NULL, *index = NULL, *dev = NULL, *addr = NULL;
        _cleanup_strv_free_ char **taps = NULL;
        _cleanup_close_ int fd = -EBADF;
        unsigned maj, mnr;
        struct stat st;
        int r;

        /* An interface name is one path component of at most IFNAMSIZ - 1 characters. */
        if (!n->ifname || !*n->ifname || strlen(n->ifname) > 15 || strchr(n->ifname, '/') ||
            !strcmp(n->ifname, ".") || !strcmp(n->ifname, ".."))
                return fail(ret_error, -EINVAL, "[net \"%s\"] ifname '%s' is not an interface name", n->name,
                            n->ifname ? n->ifname : "");
        if (asprintf(&path, "sys/class/net/%s/ifindex", n->ifname) < 0)
                return -ENOMEM;
        r = vfio_host_read_attr(h, path, 32, &index);
        if (r == -ENOENT)
                return fail(
                        ret_error, -ENOENT,
                        "[net \"%s\"] the macvtap interface %s does not exist; create it (as root) with: ip link add link %s name %s type macvtap mode %s && ip link set %s%s%s up",
                        n->name, n->ifname, n->link ? n->link : "LINK", n->ifname, ip_mode(n), n->ifname,
                        n->mac ? " address " : "", n->mac ? n->mac : "");
        if (r < 0)
                return fail(ret_error, r, "[net \"%s\"] cannot read %s: %s", n->name, path, strerror(-r));
        free(path);
        if (asprintf(&path, "sys/class/net/%s/macvtap", n->ifname) < 0)
                return -ENOMEM;
        r = vfio_host_list_dir(h, path, 4, &taps);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !taps || !taps[0] || taps[1])
                return fail(
                        ret_error, -ENOTTY,
                        "[net \"%s\"] %s is not a macvtap interface (ip -d link show %s); type = macvtap needs one made with: ip link add link %s name %s type macvtap mode %s",
                        n->name, n->ifname, n->ifname, n->link ? n->link : "LINK", n->ifname, ip_mode(n));
        free(path);
        if (asprintf(&path, "sys/class/net/%s/macvtap/%s/dev", n->ifname, taps[0]) < 0)
                return -ENOMEM;
        r = vfio_host_read_attr(h, path, 32, &dev);
        if (r < 0 || sscanf(dev, "%u:%u", &maj, &mnr) != 2)
                return fail(ret_error, r < 0 ? r : -EBADMSG, "[net \"%s\"] cannot read %s", n->name, path);
        /* The device node devtmpfs made for it; refuse anything else at that name. */
        free(path);
        if (asprintf(&path, "dev/%s", taps[0]) < 0)
                return -ENOMEM;
        fd = vfio_host_open_path(h, path, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd == -EACCES || fd == -EPERM)
                return fail(
                        ret_error, -EACCES,
                        "[net \"%s\"] cannot open /%s (the tap device of %s) as uid %u: start the VM as root with [vm] user set, or give the user the device: chown USER /%s (a udev rule keeps that across re-creation)",
                        n->name, path, n->ifname, (unsigned)geteuid(), path);
        if (fd < 0)
                return fail(ret_error, fd, "[net \"%s\"] cannot open /%s: %s", n->name, path, strerror(-fd));
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != maj || minor(st.st_rdev) != mnr)
                return fail(
                        ret_error, -ESTALE,
                        "[net \"%s\"] /%s is not the tap device of %s (sysfs says %u:%u); refusing to hand it to QEMU",
                        n->name, path, n->ifname, maj, mnr);
        free(path);
        if (asprintf(&path, "sys/class/net/%s/address", n->ifname) < 0)
                return -ENOMEM;
        r = vfio_host_read_attr(h, path, 64, &addr);
        if (r < 0)
                return fail(ret_error, r, "[net \"%s\"] cannot read %s: %s", n->name, path, strerror(-r));
        /* A macvtap passes up only frames for its own address: the guest NIC must have it. */
        if (n->mac && strcasecmp(n->mac, addr) != 0)
                return fail(
                        ret_error, -EADDRNOTAVAIL,
                        "[net \"%s\"] mac %s differs from %s's address %s; a macvtap only receives frames for its own address: ip link set %s address %s (or remove mac to use %s's)",
                        n->name, n->mac, n->ifname, addr, n->ifname, n->mac, n->ifname);
        if (!n->mac && !(n->mac = strdup(addr)))
                return -ENOMEM;
        log_debug("[net \"%s\"]: %s is /%s (%u:%u), %s", n->name, n->ifname, taps[0], maj, mnr, addr);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int vm_macvtap_open_all(const vfio_host *h, vm_config *c, int **ret_fds, size_t *ret_n, char **ret_error)
{
        size_t n, k = 0;
        int *fds;
        int r;

        assert(h);
        assert(c);
        assert(ret_fds);
        assert(ret_n);
        n = vm_macvtap_count(c);

        if (!n) {
                *ret_fds = NULL;
                *ret_n = 0;
                return 0;
        }
        fds = malloc(n * sizeof(int));
        if (!fds)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_nets; i++) {
                _cleanup_free_ char *err = NULL;

                if (c->nets[i].type != VM_NET_MACVTAP)
                        continue;
                r = open_one(h, &c->nets[i], &fds[k], &err);
                if (r < 0) {
                        vm_macvtap_close_all(fds, k);
                        /* "FILE:LINE: [net ...] ...": the config line the refusal is about. */
                        if (err && asprintf(ret_error, "%s:%u: %s", c->filename ? c->filename : c->name,
                                            c->nets[i].line, err) < 0)
                                return -ENOMEM;
                        return r;
                }
                k++;
        }
        *ret_fds = fds;
        *ret_n = n;
        return 0;
}
