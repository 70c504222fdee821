/* Files vfioctl writes below the host root (state, setup files): created atomically, never via a shell. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "vfioctl/host.h"

/* Creates dir and its missing parents below the root; appends each directory it created to *created. */
int vfio_hostfile_mkdir_p(const vfio_host *h, const char *dir, mode_t mode, char ***created);
/*
 * Replaces path with data (write_file_atomic_at in basic/fs-util.h, in the directory resolved inside the
 * root): readers see the old or the new content, never a mix. Each step is a fault point (basic/fault.h:
 * the tool sets VFIOCTL_TEST_KILL_AT_STEP for tests/fault/).
 */
int vfio_hostfile_write_atomic(const vfio_host *h, const char *path, const void *data, size_t len,
                               mode_t mode);
/* The same with an owner set on the temp file's descriptor before the rename ((uid_t)-1: root's). */
int vfio_hostfile_write_atomic_owned(const vfio_host *h, const char *path, const void *data, size_t len,
                                     mode_t mode, uid_t uid, gid_t gid);
/* Whole regular file, at most max bytes (-EFBIG beyond); -ENOENT when missing. */
/* Makes path a symbolic link to target, atomically (a temporary link renamed over path). */
int vfio_hostfile_symlink_atomic(const vfio_host *h, const char *path, const char *target);
int vfio_hostfile_read(const vfio_host *h, const char *path, size_t max, char **ret, size_t *ret_len);
int vfio_hostfile_unlink(const vfio_host *h, const char *path);
int vfio_hostfile_rmdir(const vfio_host *h, const char *path);
/* Removes the temp files (".#vfioctl.<16 hex>") a killed vfio_hostfile_write_atomic left in dir. */
int vfio_hostfile_sweep_temps(const vfio_host *h, const char *dir);
