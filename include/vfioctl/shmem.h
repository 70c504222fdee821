/*
 * Looking Glass's shared memory file, made ready before QEMU starts: owned by the VM user (QEMU writes
 * frames into it), of the desktop user's group (the client reads them), mode 0660, of the region's size.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/*
 * Root does this in a directory anyone may write (/dev/shm, sticky): nothing a user planted there may
 * turn it against another file. Every directory on the way is opened without following links and must be
 * root's (writable by others only when sticky); the file is created with O_CREAT|O_EXCL|O_NOFOLLOW, or an
 * existing one opened with O_NOFOLLOW and kept only when it is a regular file with one link owned by
 * owner; ownership, mode and size are then changed on the open descriptor, never by name.
 *
 * Run by the VM user itself (not root), the file must already be its own (tmpfiles.d makes it at boot):
 * mode and size are set, the group only when it already is group (a user cannot give a file away).
 * Returns 0, or -errno with *ret_error saying what was found and the fix.
 */
int vm_shmem_prepare(const char *path, uid_t owner, gid_t group, uint64_t size, char **ret_error);
