/*
 * Sound and picture for the desktop user, per run (docs/audio.md): what vfioctl start does before QEMU
 * starts so the VM user's QEMU can play through the desktop user's sound server and share Looking Glass
 * memory with the desktop user's client.
 */
#pragma once

#include <stdbool.h>

#include "vfioctl/problem.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/vmconf.h"

/*
 * On the running system: prepares the Looking Glass file (shmem.h; device = kvmfr: the device is only
 * checked), then checks QEMU's audio driver, the sound server as the VM user (p->user, p->uid; the grant
 * socket under p->root) and the Looking Glass memory (check.h's vfio_check_media). Each failure is an
 * error in problems with its fix, each warning a warning. The file is not a release step: it outlives the
 * VM, as tmpfiles.d makes it at boot, and the client may still map it. -ENOMEM, else 0.
 */
int vm_media_preflight(const vm_config *c, const vm_argv_paths *p, vfio_problems *problems);
/* The client command the desktop user runs, as a note: "Looking Glass: as USER, run: ...". */
int vm_media_notes(const vm_config *c, const vm_argv_paths *p, vfio_problems *notes);
