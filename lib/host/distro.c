/* The distribution from etc/os-release, and the exact commands it uses to change the boot configuration. */
#include "vfioctl/distro.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"

vfio_distro *vfio_distro_free(vfio_distro *d)
{
        if (!d)
                return NULL;
        free(d->id);
        free(d->pretty_name);
        free(d);
        return NULL;
}

/* os-release(5): KEY=value with optional shell quoting. */
static char *os_release_value(const char *text, const char *key)
{
        size_t k = strlen(key);

        for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
                size_t n;
                const char *v;

                if (strncmp(p, key, k) != 0 || p[k] != '=')
                        continue;
                v = p + k + 1;
                n = strcspn(v, "\n");
                if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
                        v++;
                        n -= 2;
                }
                return strndup(v, n);
        }
        return NULL;
}

static bool word_in(const char *list, const char *w)
{
        _cleanup_strv_free_ char **l = NULL;

        return list && strv_split(list, " ", &l) >= 0 && strv_contains(l, w);
}

int vfio_distro_parse(const char *os_release, int has_grub, int has_kernel_cmdline, vfio_distro **ret)
{
        _cleanup_(vfio_distro_freep) vfio_distro *d = calloc(1, sizeof(vfio_distro));
        _cleanup_free_ char *like = NULL;
        const char *text = os_release ? os_release : "";

        assert(ret);

        if (!d)
                return -ENOMEM;
        d->id = os_release_value(text, "ID");
        d->pretty_name = os_release_value(text, "PRETTY_NAME");
        like = os_release_value(text, "ID_LIKE");
        if (!d->id && !(d->id = strdup("linux")))
                return -ENOMEM;
        if (strcmp(d->id, "debian") == 0 || strcmp(d->id, "ubuntu") == 0 || strcmp(d->id, "pop") == 0 ||
            word_in(like, "debian") || word_in(like, "ubuntu"))
                d->family = VFIO_FAMILY_DEBIAN;
        else if (strcmp(d->id, "fedora") == 0 || word_in(like, "fedora") || word_in(like, "rhel"))
                d->family = VFIO_FAMILY_FEDORA;
        else if (strcmp(d->id, "arch") == 0 || word_in(like, "arch"))
                d->family = VFIO_FAMILY_ARCH;
        else if (strncmp(d->id, "opensuse", 8) == 0 || strcmp(d->id, "sles") == 0 || word_in(like, "suse") ||
                 word_in(like, "opensuse"))
                d->family = VFIO_FAMILY_SUSE;
        if (strcmp(d->id, "pop") == 0)
                d->boot = VFIO_BOOT_KERNELSTUB;
        else if (has_kernel_cmdline > 0 && has_grub <= 0)
                d->boot = VFIO_BOOT_SYSTEMD_BOOT;
        else
                d->boot = VFIO_BOOT_GRUB;
        *ret = TAKE_PTR(d);
        return 0;
}

int vfio_distro_read(const vfio_host *h, vfio_distro **ret)
{
        _cleanup_free_ char *text = NULL;
        int r;

        r = vfio_host_read_attr(h, "etc/os-release", 64u << 10, &text);
        if (r == -ENOENT)
                r = vfio_host_read_attr(h, "usr/lib/os-release", 64u << 10, &text);
        if (r == -ENOMEM)
                return r;
        return vfio_distro_parse(text, vfio_host_exists(h, "etc/default/grub"),
                                 vfio_host_exists(h, "etc/kernel/cmdline"), ret);
}

const char *vfio_distro_initramfs_cmd(const vfio_distro *d)
{
        assert(d);

        switch (d->family) {
        case VFIO_FAMILY_FEDORA:
        case VFIO_FAMILY_SUSE:
                return "dracut -f --regenerate-all";
        case VFIO_FAMILY_ARCH:
                return "mkinitcpio -P";
        case VFIO_FAMILY_DEBIAN:
        case VFIO_FAMILY_UNKNOWN:
                break;
        }
        return "update-initramfs -u -k all";
}

const char *const *vfio_distro_initramfs_argv(const vfio_distro *d)
{
        static const char *const dracut[] = { "dracut", "-f", "--regenerate-all", NULL },
                                 *const mkinitcpio[] = { "mkinitcpio", "-P", NULL },
                                 *const debian[] = { "update-initramfs", "-u", "-k", "all", NULL };

        assert(d);

        switch (d->family) {
        case VFIO_FAMILY_FEDORA:
        case VFIO_FAMILY_SUSE:
                return dracut;
        case VFIO_FAMILY_ARCH:
                return mkinitcpio;
        case VFIO_FAMILY_DEBIAN:
        case VFIO_FAMILY_UNKNOWN:
                break;
        }
        return debian;
}

const char *const *vfio_distro_grub_mkconfig_argv(const vfio_distro *d)
{
        static const char *const grub2[] = { "grub2-mkconfig", "-o", "/boot/grub2/grub.cfg", NULL },
                                 *const arch[] = { "grub-mkconfig", "-o", "/boot/grub/grub.cfg", NULL },
                                 *const debian[] = { "update-grub", NULL };

        assert(d);

        switch (d->family) {
        case VFIO_FAMILY_FEDORA:
        case VFIO_FAMILY_SUSE:
                return grub2;
        case VFIO_FAMILY_ARCH:
                return arch;
        case VFIO_FAMILY_DEBIAN:
        case VFIO_FAMILY_UNKNOWN:
                break;
        }
        return debian;
}

const char *vfio_distro_grub_mkconfig_cmd(const vfio_distro *d)
{
        assert(d);

        switch (d->family) {
        case VFIO_FAMILY_FEDORA:
        case VFIO_FAMILY_SUSE:
                return "grub2-mkconfig -o /boot/grub2/grub.cfg";
        case VFIO_FAMILY_ARCH:
                return "grub-mkconfig -o /boot/grub/grub.cfg";
        case VFIO_FAMILY_DEBIAN:
        case VFIO_FAMILY_UNKNOWN:
                break;
        }
        return "update-grub";
}

char *vfio_distro_cmdline_fix(const vfio_distro *d, const char *args)
{
        char *s = NULL;
        int r = -1;

        assert(d);

        switch (d->boot) {
        case VFIO_BOOT_KERNELSTUB: {
                _cleanup_strv_free_ char **l = NULL;
                _cleanup_free_ char *j = NULL;

                /* kernelstub takes one -a per argument. */
                if (strv_split(args, " ", &l) < 0)
                        return NULL;
                STRV_FOREACH(a, l) {
                        char *n;

                        if (asprintf(&n, "%s -a %s", j ? j : "", *a) < 0)
                                return NULL;
                        free(j);
                        j = n;
                }
                r = asprintf(&s, "run: sudo kernelstub%s, then reboot", j ? j : "");
                break;
        }
        case VFIO_BOOT_SYSTEMD_BOOT:
                r = asprintf(
                        &s,
                        "append '%s' to the single line in /etc/kernel/cmdline, then run: sudo kernel-install add \"$(uname -r)\" /lib/modules/\"$(uname -r)\"/vmlinuz (or 'sudo bootctl update' if your entries are hand-written), and reboot",
                        args);
                break;
        case VFIO_BOOT_GRUB:
                if (d->family == VFIO_FAMILY_FEDORA)
                        r = asprintf(
                                &s,
                                "run: sudo grubby --update-kernel=ALL --args=\"%s\" (or add it to GRUB_CMDLINE_LINUX in /etc/default/grub and run: sudo %s), then reboot",
                                args, vfio_distro_grub_mkconfig_cmd(d));
                else
                        r = asprintf(
                                &s,
                                "add '%s' to GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, then run: sudo %s, and reboot",
                                args, vfio_distro_grub_mkconfig_cmd(d));
                break;
        }
        return r < 0 ? NULL : s;
}

char *vfio_distro_early_modules_fix(const vfio_distro *d, const char *modules)
{
        char *s = NULL;
        int r = -1;

        assert(d);

        switch (d->family) {
        case VFIO_FAMILY_FEDORA:
        case VFIO_FAMILY_SUSE:
                r = asprintf(
                        &s,
                        "write /etc/dracut.conf.d/vfio.conf containing: force_drivers+=\" %s \", then run: sudo %s",
                        modules, vfio_distro_initramfs_cmd(d));
                break;
        case VFIO_FAMILY_ARCH:
                r = asprintf(
                        &s,
                        "put them first in MODULES=(%s ...) in /etc/mkinitcpio.conf (and keep 'modconf' in HOOKS), then run: sudo %s",
                        modules, vfio_distro_initramfs_cmd(d));
                break;
        case VFIO_FAMILY_DEBIAN:
        case VFIO_FAMILY_UNKNOWN:
                r = asprintf(
                        &s,
                        "add these lines, one module per line, to /etc/initramfs-tools/modules: %s; then run: sudo %s",
                        modules, vfio_distro_initramfs_cmd(d));
                break;
        }
        return r < 0 ? NULL : s;
}

const char *vfio_distro_package(const vfio_distro *d, const char *pkg)
{
        assert(d);
        assert(pkg);

        /* Package names differ per family; map the few vfioctl asks for. */
        if (d->family == VFIO_FAMILY_FEDORA) {
                if (strcmp(pkg, "qemu-system-x86") == 0)
                        return "qemu-kvm";
                if (strcmp(pkg, "ovmf") == 0)
                        return "edk2-ovmf";
        } else if (d->family == VFIO_FAMILY_ARCH) {
                if (strcmp(pkg, "qemu-system-x86") == 0)
                        return "qemu-desktop";
                if (strcmp(pkg, "ovmf") == 0)
                        return "edk2-ovmf";
        } else if (d->family == VFIO_FAMILY_SUSE) {
                if (strcmp(pkg, "qemu-system-x86") == 0)
                        return "qemu-x86";
                if (strcmp(pkg, "ovmf") == 0)
                        return "qemu-ovmf-x86_64";
        }
        return pkg;
}

const char *const *vfio_distro_install_argv(const vfio_distro *d)
{
        static const char *const dnf[] = { "dnf", "install", "-y", NULL },
                                 *const pacman[] = { "pacman", "-S", "--needed", "--noconfirm", NULL },
                                 *const zypper[] = { "zypper", "--non-interactive", "install", NULL },
                                 *const apt[] = { "apt-get", "install", "-y", NULL };

        assert(d);

        return d->family == VFIO_FAMILY_FEDORA ? dnf
               : d->family == VFIO_FAMILY_ARCH ? pacman
               : d->family == VFIO_FAMILY_SUSE ? zypper
                                               : apt;
}

char *vfio_distro_install_cmd(const vfio_distro *d, const char *pkg)
{
        char *s;

        assert(d);

        if (asprintf(&s, "%s %s",
                     d->family == VFIO_FAMILY_FEDORA ? "sudo dnf install"
                     : d->family == VFIO_FAMILY_ARCH ? "sudo pacman -S"
                     : d->family == VFIO_FAMILY_SUSE ? "sudo zypper install"
                                                     : "sudo apt-get install",
                     vfio_distro_package(d, pkg)) < 0)
                return NULL;
        return s;
}
