/* A VM's state directory, the VM user's: what root prepares there (OVMF variable store, TPM state). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "vfioctl/common.h"

/*
 * Root prepares these for the VM user in directories that user can write (the state directory is
 * theirs: QEMU and swtpm write in it), so every step goes through basic/safedir.h: directory descriptors,
 * no symlink followed, owners and modes set on descriptors. Whatever the VM user put there that vfioctl
 * did not make is refused with a message naming it, never followed, opened, chowned or replaced.
 */

/*
 * The state directory dir: its parent must be a directory only root (or the caller) can change (made when
 * missing, 0755); dir itself is made (0700) or found as a directory, and given to uid:gid on its
 * descriptor. uid (uid_t)-1: the caller's own directory, left as it is. *ret_fd: O_RDONLY | O_DIRECTORY.
 */
int vm_statedir_open(const char *dir, uid_t uid, gid_t gid, int *ret_fd, char **ret_error);

/*
 * The VM's own copy of the OVMF variable store at vars: kept when it is already there (a regular file with
 * one name, owned by uid or root), else copied from the template (template_fd, read from its start) through
 * a fresh temp file, mode 0600, owned by uid:gid, renamed into place without replacing. Anything else at
 * vars (a link, a FIFO, a directory, a hard link, another user's file) is refused (-EPERM family) with
 * *ret_error naming it and the fix. The directory holding vars may be root's or uid's, nobody else's.
 * 1 when it made the copy, 0 when one was there; -ENODATA (nothing said) when a copy is needed and
 * template_fd is -1, so the template is opened (and judged) only when it is read.
 */
int vm_statedir_vars(const char *vars, int template_fd, uid_t uid, gid_t gid, char **ret_error);

/*
 * A private directory name (one component) in the state directory dirfd (the TPM state): made 0700 or
 * found as a directory, given to uid:gid on its descriptor; a link or anything else there is refused.
 */
int vm_statedir_subdir(int dirfd, const char *dir_path, const char *name, uid_t uid, gid_t gid,
                       char **ret_error);
