/* The one way to touch a directory another user can write: descriptors, no symlinks, fchown/fchmod. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/*
 * The rule (docs/SECURITY.md, "Directories another user can write"): when root creates, reads, replaces,
 * removes or changes the owner or mode of anything in a directory another user can write (a VM's state,
 * runtime, snapshot, OVMF vars and TPM directories), it works through a descriptor of that directory and
 * names entries relative to it; no symbolic link is followed at any component (openat2 with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV where the kernel has it, otherwise one component
 * at a time with O_NOFOLLOW and fstat); owner and mode are changed on the opened descriptor (fchown,
 * fchmod), never by path; files are replaced through a fresh O_EXCL temp name and renameat. The
 * directory's owner can still swap entries at any moment: whatever is opened is then checked on its
 * descriptor (type, link count, owner) before root relies on it.
 */

/* For owner arguments: leave the owner (or group) as it is. */
#define SAFEDIR_KEEP_UID ((uid_t)-1)
#define SAFEDIR_KEEP_GID ((gid_t)-1)
/* *ret_owner when root (or the caller) alone controls a path. */
#define SAFEDIR_NOBODY ((uid_t)-1)

/* Tests turn openat2(2) off to run the O_NOFOLLOW walk that kernels before 5.6 get. */
void safedir_use_openat2(bool on);

/*
 * Opens path below dirfd: relative, no "..", no symbolic link at any component (-ELOOP), no mount point
 * crossed (-EXDEV). flags as open(2); O_CLOEXEC and O_NOFOLLOW are added. Returns the descriptor or -errno.
 */
int safedir_openat(int dirfd, const char *path, int flags, mode_t mode);

/* An existing directory below dirfd, opened O_RDONLY | O_DIRECTORY with safedir_openat's rules. */
int safedir_open_dir(int dirfd, const char *path);

/*
 * Makes the directory name in dirfd (mkdirat) unless a directory is there already; anything else there
 * (a symlink, a file, a FIFO) fails (-ELOOP, -ENOTDIR). Then sets its owner (uid/gid, SAFEDIR_KEEP_* to
 * leave them) and its mode with fchown/fchmod on the opened descriptor. *ret_fd (may be NULL): the
 * directory, O_RDONLY | O_DIRECTORY.
 */
int safedir_mkdir(int dirfd, const char *name, mode_t mode, uid_t uid, gid_t gid, int *ret_fd);

/*
 * Opens an existing regular file below dirfd (flags O_RDONLY, O_WRONLY or O_RDWR, no O_CREAT/O_TRUNC) with
 * safedir_openat's rules and O_NONBLOCK until it is known to be regular, so a FIFO put there cannot hang
 * the caller. Refuses a directory (-EISDIR), anything else that is not a regular file (-EBADFD) and a file
 * with more than one name (-EMLINK: the directory's owner may have hard-linked a file only root can read).
 * *ret_st (may be NULL): its fstat.
 */
int safedir_open_regular(int dirfd, const char *path, int flags, struct stat *ret_st);

enum {
        SAFEDIR_NOREPLACE = 1u << 0, /* -EEXIST when name exists (RENAME_NOREPLACE) */
};

/*
 * Gives dirfd/name new contents, whole or not at all: a fresh temp file ".#vfioctl.<16 hex>" (fs-util.h's,
 * which sweeps know) made with O_CREAT | O_EXCL, the data (copied from src_fd when >= 0, else len bytes of
 * buf), mode and owner set on its descriptor, fsync, renameat over name. A failure removes the temp file.
 * Each step is a fault point.
 */
int safedir_write(int dirfd, const char *name, int src_fd, const void *buf, size_t len, mode_t mode,
                  uid_t uid, gid_t gid, unsigned flags);

/* renameat of one entry to another in dirfd without replacing (-EEXIST); filesystems without
 * RENAME_NOREPLACE (FUSE: EINVAL) get linkat + unlinkat, which fails the same way when the name is taken. */
int safedir_rename_noreplace(int dirfd, const char *from, const char *to);

/* Removes the entry name (no '/') of dirfd; a missing one is success. flags: 0 or AT_REMOVEDIR. */
int safedir_unlink(int dirfd, const char *name, int flags);

/*
 * Absolute paths. Walks abs from "/": a symbolic link is followed only where nobody but root (and the
 * caller) can change the directory holding it (a sticky directory such as /tmp counts for links root or
 * the caller owns); from the first directory another user can change, safedir_openat's rules hold for the
 * rest. *ret_owner (may be NULL): the user who can change what abs names (the first owner other than root
 * and the caller met on the way, the file itself included), or SAFEDIR_NOBODY. -EPERM when no one user
 * does: a directory writable by a group or by everyone (not sticky), or two different owners. A regular
 * file another user can reach must have one name (-EMLINK). Opened O_NONBLOCK then reset, as above.
 */
int safedir_open_path(const char *abs, int flags, mode_t mode, int *ret_fd, uid_t *ret_owner);

/* The directory holding abs, opened O_RDONLY | O_DIRECTORY under safedir_open_path's rules, and abs's last
 * component (caller frees). *ret_owner as above, for the directory. */
int safedir_open_parent(const char *abs, int *ret_dirfd, char **ret_name, uid_t *ret_owner);

/*
 * safedir_open_path and safedir_open_parent that follow no symbolic link at all, not even one only root
 * could have made (-ELOOP), for paths whose every component must be what the config names: the Looking
 * Glass file and the hugepage directory, which QEMU (as the VM user) opens again by the same name.
 */
int safedir_open_path_nolinks(const char *abs, int flags, mode_t mode, int *ret_fd, uid_t *ret_owner);
int safedir_open_parent_nolinks(const char *abs, int *ret_dirfd, char **ret_name, uid_t *ret_owner);

/*
 * A directory only root (and the caller) can change, such as ROOT/var/lib/vfioctl: walked like
 * safedir_open_path, missing components made (0755) when create, and refused (-EPERM) when another user can
 * change it or any directory above it. *ret_fd: O_RDONLY | O_DIRECTORY.
 */
int safedir_open_trusted(const char *abs, bool create, int *ret_fd);

/* Why safedir refused a path, for messages: "a symbolic link in a directory another user can change ...";
 * strerror() for the errors it does not give itself. Static string. */
const char *safedir_strerror(int r);

/* The path of an open descriptor, for messages only (readlink of /proc/self/fd/N); NULL when unknown. */
char *safedir_fd_path(int fd);
