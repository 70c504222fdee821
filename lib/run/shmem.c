/*
 * Looking Glass's shared memory (its docs, "IVSHMEM"), prepared per run by whoever starts the VM. Root
 * works only through descriptors: a planted link or hard link in /dev/shm must not make it chown, chmod or
 * truncate another file (the attack a world-writable sticky directory invites).
 */
#include "vfioctl/shmem.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "safedir.h"

static int fail(char **ret_error, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char **ret_error, int r, const char *fmt, ...)
{
        va_list ap;

        if (ret_error) {
                free(*ret_error);
                va_start(ap, fmt);
                if (vasprintf(ret_error, fmt, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return r;
}

/* For messages only: the first component of path that is a symbolic link, as the length of its prefix. */
static int first_link(const char *path)
{
        _cleanup_free_ char *copy = strdup(path);
        struct stat st;

        if (!copy)
                return -1;
        for (char *slash = copy; (slash = strchr(slash + 1, '/'));) {
                *slash = 0;
                if (lstat(copy, &st) == 0 && S_ISLNK(st.st_mode))
                        return (int)(slash - copy);
                *slash = '/';
        }
        return -1;
}

/*
 * The directory holding path's last component, walked by safedir from "/" following no link at all; no
 * user but root may be able to change it or any directory above it, and the directory itself is root's
 * (writable by others only with the sticky bit, whose entries then belong to their owners, as /dev/shm).
 */
static int open_parent(const char *path, int *ret_dir, char **ret_name, char **ret_error)
{
        _cleanup_close_ int dir = -EBADF;
        _cleanup_free_ char *name = NULL;
        uid_t owner = SAFEDIR_NOBODY;
        struct stat st;
        int r, n;

        if (path[0] != '/')
                return fail(ret_error, -EINVAL, "%s: not an absolute path", path);
        r = safedir_open_parent_nolinks(path, &dir, &name, &owner);
        if (r == -ELOOP && (n = first_link(path)) > 0)
                return fail(ret_error, -ELOOP,
                            "%.*s is a symbolic link; name the real directory in [looking-glass] path", n,
                            path);
        if (r == -ENOTDIR || r == -ELOOP)
                return fail(
                        ret_error, r,
                        "%s: a directory on the way is %s; name the real directory in [looking-glass] path",
                        path, r == -ELOOP ? "a symbolic link" : "not a directory");
        if (r == -EPERM)
                return fail(
                        ret_error, -EPERM,
                        "the directory of %s is not a directory only root controls (%s); keep the Looking Glass file in /dev/shm",
                        path, safedir_strerror(r));
        if (r == -EINVAL)
                return fail(ret_error, -EINVAL, "%s: no file name", path);
        if (r < 0)
                return fail(ret_error, r, "the directory of %s: %s", path, safedir_strerror(r));
        if (fstat(dir, &st) < 0)
                return -errno;
        if (owner != SAFEDIR_NOBODY || st.st_uid != 0)
                return fail(
                        ret_error, -EPERM,
                        "the directory of %s (uid %u, mode %04o, changeable by uid %d) is not a directory only root controls; keep the Looking Glass file in /dev/shm",
                        path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
                        owner == SAFEDIR_NOBODY ? (int)st.st_uid : (int)owner);
        *ret_name = TAKE_PTR(name);
        *ret_dir = TAKE_FD(dir);
        return 0;
}

int vm_shmem_prepare(const char *path, uid_t owner, gid_t group, uint64_t size, char **ret_error)
{
        _cleanup_close_ int dir = -EBADF, fd = -EBADF;
        _cleanup_free_ char *name = NULL;
        bool root = geteuid() == 0, created = false;
        struct stat st;
        int r;

        assert(path);
        r = open_parent(path, &dir, &name, ret_error);
        if (r < 0)
                return r;
        /* O_CREAT | O_EXCL: a fresh inode or nothing; whatever is at the name is never opened this way. */
        fd = safedir_openat(dir, name, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd >= 0)
                created = true;
        else if (fd == -EEXIST) {
                /* What is there already: a regular file with one name, or refused without being acted on
                 * (safedir opens it O_NONBLOCK, so a planted FIFO cannot hang root). */
                fd = safedir_open_regular(dir, name, O_RDWR, NULL);
                if (fd == -ELOOP)
                        return fail(
                                ret_error, -ELOOP,
                                "%s is a symbolic link (to what, root does not look); remove it: rm %s (vfioctl start then creates the file)",
                                path, path);
                if (fd == -EBADFD || fd == -EISDIR)
                        return fail(ret_error, -EPERM, "%s is not a regular file; remove it: rm %s", path,
                                    path);
                if (fd < 0 && fd != -EMLINK)
                        return fail(ret_error, fd, "%s: %s", path, safedir_strerror(fd));
        } else
                return fail(ret_error, fd, "cannot create %s: %s", path, safedir_strerror(fd));
        /* On -EMLINK, the name's fstatat is for the message only: nothing is done to what it names. */
        if (fd < 0 ? fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 : fstat(fd, &st) < 0)
                return -errno;
        if (!created) {
                /* Another owner's file would be handed to the VM user; a second link would be another
                 * name for some file (fs.protected_hardlinks aside). */
                if (fd < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid != owner)
                        return fail(
                                ret_error, -EPERM,
                                "%s (uid %u, %lu links) is not the VM user's (uid %u) own single-link file; remove it: rm %s (vfioctl start then creates it)",
                                path, (unsigned)st.st_uid, (unsigned long)st.st_nlink, (unsigned)owner,
                                path);
        }
        if (root) {
                if (fchown(fd, owner, group) < 0) {
                        r = fail(ret_error, -errno, "chown of %s: %s", path, strerror(errno));
                        goto undo;
                }
        } else if (st.st_gid != group && fchown(fd, (uid_t)-1, group) < 0)
                return fail(
                        ret_error, -errno,
                        "%s has group %u, the desktop user's is %u, and only root can change that: sudo chgrp %u %s (or let root start the VM)",
                        path, (unsigned)st.st_gid, (unsigned)group, (unsigned)group, path);
        if (fchmod(fd, 0660) < 0) {
                r = fail(ret_error, -errno, "chmod of %s: %s", path, strerror(errno));
                goto undo;
        }
        if ((uint64_t)st.st_size != size && ftruncate(fd, (off_t)size) < 0) {
                r = fail(ret_error, -errno, "cannot size %s to %llu bytes: %s (is /dev/shm large enough?)",
                         path, (unsigned long long)size, strerror(errno));
                goto undo;
        }
        log_debug("%s: %s, uid %u gid %u mode 0660, %llu bytes", path, created ? "created" : "reused",
                  (unsigned)owner, (unsigned)group, (unsigned long long)size);
        return 0;
undo:
        /* What this call created goes again; the directory is sticky, so the name is still ours. */
        if (created)
                (void)safedir_unlink(dir, name, 0);
        return r;
}
