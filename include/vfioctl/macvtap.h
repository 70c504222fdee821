/* macvtap NICs at start: the tap device of each [net] type = macvtap, opened for QEMU to inherit. */
#pragma once

#include <stddef.h>

#include "vfioctl/host.h"
#include "vfioctl/vmconf.h"

/* How many [net] sections are type = macvtap. */
size_t vm_macvtap_count(const vm_config *c);

/*
 * Opens the tap device (dev/tapIFINDEX below the host root) of every [net] type = macvtap, in [net] order,
 * after checking that it is the character device sysfs gives that interface (sys/class/net/IF/macvtap/
 * tapN/dev). A net without mac takes the interface's address (a macvtap only delivers frames for its own
 * address); one whose mac differs is refused. Returns the descriptors (O_CLOEXEC) for the launcher to put
 * at VM_QEMU_MACVTAP_FD_BASE + i. Fails with -ENOENT (no such interface), -ENOTTY (not a macvtap), -EACCES,
 * -EADDRNOTAVAIL (MAC differs) or -ESTALE (the device node is not the interface's), each with a
 * "FILE:LINE: [net ...]" message and the command that fixes it in *ret_error (or NULL when out of memory);
 * nothing is left open on failure.
 */
int vm_macvtap_open_all(const vfio_host *h, vm_config *c, int **ret_fds, size_t *ret_n, char **ret_error);

/* Closes and frees what vm_macvtap_open_all returned. */
void vm_macvtap_close_all(int *fds, size_t n);
