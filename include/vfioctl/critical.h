/* Devices the host cannot give away: its boot display, its mounted disks' controllers, its default NIC. */
#pragma once

#include <stddef.h>

#include "vfioctl/common.h"
#include "vfioctl/host.h"
#include "vfioctl/pci.h"

typedef enum vfio_critical_kind {
        VFIO_CRITICAL_BOOT_DISPLAY,
        VFIO_CRITICAL_STORAGE,
        VFIO_CRITICAL_NETWORK,
} vfio_critical_kind;

typedef struct vfio_critical {
        char *device; /* PCI address */
        vfio_critical_kind kind;
        char *detail; /* "/ (ext4 on vda1)", "default route via eth0", "boot_vga=1, driver i915" */
} vfio_critical;

typedef struct vfio_critical_list {
        vfio_critical *items;
        size_t n;
        char **problems; /* mounts or interfaces that could not be traced to a device */
} vfio_critical_list;

int vfio_critical_scan(const vfio_host *h, const vfio_pci_list *pci, vfio_critical_list **ret);
vfio_critical_list *vfio_critical_list_free(vfio_critical_list *l);
VFIO_DEFINE_POINTER_CLEANUP(vfio_critical_list, vfio_critical_list_free)

const char *vfio_critical_kind_to_string(vfio_critical_kind k);
/* Parses one /proc/self/mountinfo line into its major:minor, mount point, fstype and source. */
int vfio_mountinfo_parse_line(const char *line, unsigned *ret_major, unsigned *ret_minor,
                              char **ret_mountpoint, char **ret_fstype, char **ret_source);
