/*
 * What the installed QEMU is and can do, as data: the host checks judge it, the QMP probe (qmp-probe.h)
 * fills it in.
 */
#pragma once

#include <stdbool.h>

#include "vfioctl/common.h"

typedef struct vfio_qemu_info {
        unsigned major, minor, micro;
        char *package;         /* "Debian 1:7.2+dfsg-7+deb12u18"; NULL when empty */
        char **machines;       /* machine names and their aliases ("pc-q35-7.2", "q35") */
        char *default_machine; /* NULL when none is marked default */
        char **types;          /* concrete QOM types ("vfio-pci", "intel-iommu", "tpm-crb") */
} vfio_qemu_info;

vfio_qemu_info *vfio_qemu_info_free(vfio_qemu_info *q);
VFIO_DEFINE_POINTER_CLEANUP(vfio_qemu_info, vfio_qemu_info_free)
bool vfio_qemu_info_has_type(const vfio_qemu_info *q, const char *type);
bool vfio_qemu_info_has_machine(const vfio_qemu_info *q, const char *machine);

/* Fills *ret by asking the QEMU binary at path; *ret_error says why not. vfio_qmp_probe_run is one. */
typedef int (*vfio_qemu_probe_fn)(const char *qemu, unsigned timeout_ms, vfio_qemu_info **ret,
                                  char **ret_error);
