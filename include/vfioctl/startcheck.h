/* What start as root at boot (vfioctl@NAME.service) would refuse, checked when the unit is enabled. */
#pragma once

#include "vfioctl/host.h"
#include "vfioctl/problem.h"

/* Where the unit's `vfioctl start NAME` (root, no home) finds a VM: below the root. */
#define VM_SYSTEM_CONFIG_DIR "etc/vfioctl/vms"

/*
 * Checks VM name the way start run by root at boot would take it: its config in the system location
 * (etc/vfioctl/vms/NAME.conf below the root; a user's ~/.config is not where root looks), valid, with a
 * [vm] user that exists (on the running host: the user database QEMU would run as; below --root its
 * etc/passwd) and is not root, and its path owned by root all the way down, writable by nobody else (so
 * the VM user cannot change what root reads). Each refusal goes to problems with its fix; returns 0 (the
 * problems say whether it would start), <0 only when the checks could not run.
 */
int vm_start_check_boot(const vfio_host *h, const char *name, vfio_problems *problems);
