/* Files and directories vfioctl creates: mkdir -p, ownership through descriptors, atomic replacement. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The temporary files write_file_atomic_at makes are ".#vfioctl." and 16 hex digits, hidden and sweepable.
 */
#define ATOMIC_TEMP_PREFIX ".#vfioctl."
/* Whether a directory entry is exactly such a temporary file, nothing else. */
bool atomic_temp_name(const char *name);

enum {
        WRITE_ATOMIC_NOREPLACE = 1u << 0, /* -EEXIST instead of replacing an existing file */
};

/*
 * Replaces name (in dirfd) with data: a temporary file in the same directory, written (in two halves: a
 * fault test stops between them), given mode whatever the umask, fsync'ed, renamed over name, and the
 * directory fsync'ed so the rename is durable. Readers see the old or the new content, never a mix; on
 * failure the temporary file is removed and name is untouched. Each step is a fault point (fault.h).
 */
int write_file_atomic_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                         unsigned flags);
/* Makes name (in dirfd) a symbolic link to target the same way: a temporary link renamed over it. */
int symlink_atomic_at(int dirfd, const char *name, const char *target);
/* The same for a path, relative to the working directory or absolute. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, unsigned flags);

/* mkdir -p: missing parents 0755, the last directory mode. 1 when it made the last one, 0 when it was there.
 */
int mkdir_p(const char *path, mode_t mode);
/* Gives the directory path to uid:gid on its own descriptor, with basic/safedir.h's walk: a symlink at path,
 * or on the way where another user could have put it, is refused (-ELOOP/-ENOTDIR), never followed. */
int chown_dir_nofollow(const char *path, uid_t uid, gid_t gid);
/* mkdir_p, then the last directory, made or found, given to uid:gid as chown_dir_nofollow does. */
int mkdir_p_owned(const char *path, mode_t mode, uid_t uid, gid_t gid);
