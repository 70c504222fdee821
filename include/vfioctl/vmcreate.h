/* A new VM's configuration from a few choices and this host's facts (what `vfioctl create` writes). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "vfioctl/host.h"
#include "vfioctl/model.h"
#include "vfioctl/pciids.h"
#include "vfioctl/vmconf.h"

typedef struct vm_create_opts {
        const char *gpu;          /* a selector or "auto"; NULL: no GPU (an emulated display) */
        const char *memory;       /* "16G"; NULL: 8G */
        const char *cpus;         /* "8"; NULL: the host's CPUs less two, at most 8 */
        const char *disk;         /* an absolute path, or a size for STATE_DIR/system.qcow2; NULL: none */
        const char *iso;          /* an absolute path; NULL: none */
        bool windows;             /* Windows defaults (Hyper-V, TPM, Secure Boot, SATA, e1000e) */
        const char *state_dir;    /* where a disk given by size goes */
        const char *user;         /* [vm] user: who QEMU runs as when root starts it; NULL: not set */
        const char *desktop_user; /* [vm] desktop_user: who hears the VM at the screen; NULL or root: none */
} vm_create_opts;

/*
 * Fills c (from vm_config_new) with the choices in o and defaults from the host: the GPU and its slot's
 * functions, a pinning plan, hugepages already reserved, disks, network, audio. m and names may be NULL
 * when o->gpu is NULL. Problems go to *errors as one-line messages: -EINVAL for a bad value (a usage
 * error), -ENXIO for a GPU selector that does not pick exactly one passable device. Notes for the user go
 * to *warnings.
 */
int vm_create_build(vm_config *c, const vfio_host *h, const vfio_model *m, vfio_pci_names *names,
                    const vm_create_opts *o, char ***warnings, char ***errors);

/*
 * Applies one quirk setting ("cpu.kvm=off", "hyperv.vendor_id=vfioctl0000", "firmware=ovmf",
 * "vfio.x-vga=off") to a config being built; -EINVAL for a setting it does not know. Settings that
 * vfioctl applies at every start (machine.max-ram-below-4g) are not written into the file.
 */
int vm_create_apply_setting(vm_config *c, const char *setting);

/*
 * The user at the screen ([vm] desktop_user), who hears the VM and runs the Looking Glass client
 * (docs/audio.md), as create and guide pick it: option when given (-EINVAL when it is not a user name:
 * letters, digits, '.', '_', '-', at most 32, not starting with '-'); else, on the running system only,
 * who ran sudo, the seat's active user, or the caller. *ret is NULL when nobody is known, and for root
 * (nobody's desktop session runs as root).
 */
int vm_create_desktop_user(const vfio_host *h, const char *option, char **ret);
