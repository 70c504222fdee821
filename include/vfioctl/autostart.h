/* Starting a VM at boot: vfioctl@NAME.service enabled as `systemctl enable` does, below any root. */
#pragma once

#include <stdbool.h>

#include "vfioctl/common.h"

typedef struct vfio_autostart {
        bool by_systemctl; /* systemd runs this host: systemctl itself enabled or disabled it (and reloaded)
                            */
        char *output;      /* what systemctl said, for the caller to show; NULL when not run */
        char *unit;        /* vfioctl@NAME.service */
        char *link;        /* ROOT/etc/systemd/system/multi-user.target.wants/UNIT, made or removed here */
        char *target;      /* UNITDIR/vfioctl@.service, what the link names */
} vfio_autostart;

vfio_autostart *vfio_autostart_free(vfio_autostart *a);
VFIO_DEFINE_POINTER_CLEANUP(vfio_autostart, vfio_autostart_free)

/*
 * Enables (or disables) the template instance for VM name. On a live host run by systemd
 * (run/systemd/system exists) through systemctl, found by absolute path; otherwise (a --root tree, a
 * host booted without systemd) by writing or removing the wants link (systemd.unit(5), "[Install]"),
 * atomically. unitdir is where vfioctl@.service is installed. -EINVAL for a name that is not one;
 * -EIO when systemctl failed; -errno of the link otherwise (-EACCES: not permitted); *ret_error says it.
 */
int vfio_autostart_set(const char *root, const char *unitdir, const char *name, bool enable,
                       vfio_autostart **ret, char **ret_error);
