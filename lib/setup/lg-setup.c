/*
 * Looking Glass's shared memory at every boot (its docs, "IVSHMEM" and "kvmfr"): a tmpfiles.d line that
 * makes /dev/shm/NAME owned by the VM user and readable by the desktop user's group, or, for the kvmfr
 * module, its size option, its loading at boot and a udev rule with the same owner, group and mode.
 * vfioctl start does the per-run part (the file's size); this is what must survive a reboot.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "strv.h"
#include "vfioctl/account.h"

/* What udev rules and tmpfiles.d lines take unquoted. */
static bool path_ok(const char *s)
{
        if (!s || s[0] != '/')
                return false;
        for (; *s; s++)
                if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') && !(*s >= '0' && *s <= '9') &&
                    !strchr("._/-+", *s))
                        return false;
        return true;
}

static int plan_kvmfr(const vfio_setup_opts *o, const char *group, vfio_setup_plan *p)
{
        const char *dev = strrchr(o->lg_path, '/') + 1;
        _cleanup_free_ char *mp = NULL, *load = NULL, *rules = NULL;
        uint64_t mb = (o->lg_size + (1u << 20) - 1) >> 20;
        int r;

        /* The module's size option is per device, in MiB (Looking Glass module/kvmfr.c, static_size_mb). */
        if (strncmp(dev, "kvmfr", 5) != 0)
                return strv_extendf(
                        &p->refusals,
                        "[looking-glass] device = kvmfr: path = %s is not a kvmfr device (/dev/kvmfr0)",
                        o->lg_path);
        if (asprintf(&mp,
                     VFIO_SETUP_HEADER "# Looking Glass: kvmfr's device holds the VM's frames (%" PRIu64
                                       " MiB).\n"
                                       "options kvmfr static_size_mb=%" PRIu64 "\n",
                     mb, mb) < 0 ||
            asprintf(&load, VFIO_SETUP_HEADER "# Looking Glass's shared memory device.\nkvmfr\n") < 0 ||
            asprintf(&rules,
                     VFIO_SETUP_HEADER
                     "# Looking Glass: QEMU (%s) writes frames, %s's client reads them.\n"
                     "SUBSYSTEM==\"kvmfr\", KERNEL==\"%s\", OWNER=\"%s\", GROUP=\"%s\", MODE=\"0660\"\n",
                     o->user, o->desktop_user, dev, o->user, group) < 0)
                return -ENOMEM;
        if ((r = vfio_setup_plan_add(p, "etc/modprobe.d/vfioctl-kvmfr.conf", TAKE_PTR(mp), 0644)) < 0 ||
            (r = vfio_setup_plan_add(p, "etc/modules-load.d/vfioctl-kvmfr.conf", TAKE_PTR(load), 0644)) <
                    0 ||
            (r = vfio_setup_plan_add(p, "etc/udev/rules.d/91-vfioctl-kvmfr.rules", TAKE_PTR(rules), 0644)) <
                    0)
                return r;
        if ((r = strv_extendf(
                     &p->notes,
                     "Looking Glass: kvmfr is not part of the kernel; build it from Looking Glass's source (module/, dkms install .)")) <
                    0 ||
            (r = strv_extendf(&p->commands,
                              "udevadm control --reload-rules && modprobe kvmfr static_size_mb=%" PRIu64,
                              mb)) < 0)
                return r;
        return 0;
}

int vfio_lg_setup_plan(const vfio_host *h, const vfio_setup_opts *o, vfio_setup_plan *p)
{
        _cleanup_(vfio_account_freep) vfio_account *desk = NULL;
        _cleanup_free_ char *conf = NULL, *path = NULL;
        const char *group, *name;
        int r;

        if (!o->looking_glass)
                return 0;
        if (!o->desktop_user)
                return strv_extendf(
                        &p->notes,
                        "Looking Glass: [vm] desktop_user is not set, so no file gives its shared memory to the client's user; set it to the user who runs looking-glass-client");
        if (!vfio_setup_name_ok(o->user) || !vfio_setup_name_ok(o->desktop_user))
                return strv_extendf(
                        &p->refusals,
                        "[looking-glass] needs [vm] user and [vm] desktop_user set to user names (or --user)");
        if (!path_ok(o->lg_path) || !o->lg_size)
                return strv_extendf(
                        &p->refusals,
                        "[looking-glass] path = %s: only letters, digits and ._-+/ can go into tmpfiles.d and udev rules",
                        o->lg_path ? o->lg_path : "");
        r = vfio_account_lookup(h, o->desktop_user, &desk);
        if (r == -ENOMEM)
                return r;
        group = r >= 0 && desk->groups ? desk->groups[0] : NULL;
        if (!vfio_setup_name_ok(group))
                return strv_extendf(
                        &p->refusals,
                        "[vm] desktop_user = %s is not in etc/passwd (or its group has no name in etc/group): name the user who logs in at the screen",
                        o->desktop_user);
        if (o->lg_kvmfr)
                return plan_kvmfr(o, group, p);
        name = strrchr(o->lg_path, '/') + 1;
        /*
         * tmpfiles.d(5) "f": made at boot when missing, owner and mode set when present. The desktop user's
         * group and not the world: the frames are the guest's screen.
         */
        if (asprintf(&path, "etc/tmpfiles.d/vfioctl-looking-glass-%s.conf", name) < 0 ||
            asprintf(&conf,
                     VFIO_SETUP_HEADER
                     "# Looking Glass's shared memory: QEMU (%s) writes frames, %s's client reads them.\n"
                     "# vfioctl start sizes it (%" PRIu64 " bytes) before each run.\n"
                     "f %s 0660 %s %s -\n",
                     o->user, o->desktop_user, o->lg_size, o->lg_path, o->user, group) < 0)
                return -ENOMEM;
        r = vfio_setup_plan_add(p, path, TAKE_PTR(conf), 0644);
        if (r < 0)
                return r;
        return strv_extendf(&p->commands, "systemd-tmpfiles --create /%s", path);
}
