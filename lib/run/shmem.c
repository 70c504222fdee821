/*
 * Looking Glass's shared memory (its docs, "IVSHMEM"), prepared per run by whoever starts the VM. Root
 * works only through descriptors: a planted link or hard link in /dev/shm must not make it chown, chmod or
 * truncate another file (the attack a world-writable sticky directory invites).
 */
#include "vfioctl/shmem.h"

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

/*
 * Opens the directory holding path's last component, one component at a time from "/", following no
 * link; each directory must be root's, and writable by others only with the sticky bit (whose entries then
 * belong to their owners). *ret_name points into path.
 */
static int open_parent(const char *path, const char **ret_name, char **ret_error)
{
        _cleanup_close_ int dir = -EBADF;
        const char *p = path, *slash;

        if (path[0] != '/')
                return fail(ret_error, -EINVAL, "%s: not an absolute path", path);
        /* not another user's directory: / itself, where the walk starts */
        dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
                return -errno;
        for (p = path + 1; (slash = strchr(p, '/')); p = slash + 1) {
                char comp[256];
                struct stat st;
                size_t n = (size_t)(slash - p);
                int next;

                if (n == 0 || n >= sizeof(comp) || (n == 1 && p[0] == '.') ||
                    (n == 2 && !strncmp(p, "..", 2)))
                        return fail(ret_error, -EINVAL,
                                    "%s: write the path without empty, . or .. components", path);
                memcpy(comp, p, n);
                comp[n] = 0;
                /* no link followed: each component opened O_NOFOLLOW from / (the sticky /dev/shm is another
                 * user's) */
                next = openat(dir, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0) {
                        int r = -errno;

                        if (r == -ENOTDIR || r == -ELOOP) {
                                bool link = fstatat(dir, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                                            S_ISLNK(st.st_mode);

                                return fail(ret_error, link ? -ELOOP : -ENOTDIR,
                                            "%.*s is %s; name the real directory in [looking-glass] path",
                                            (int)(slash - path), path,
                                            link ? "a symbolic link" : "not a directory");
                        }
                        return fail(ret_error, r, "%.*s: %s", (int)(slash - path), path, strerror(-r));
                }
                close(dir);
                dir = next;
                if (fstat(dir, &st) < 0)
                        return -errno;
                if (st.st_uid != 0 || ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)))
                        return fail(
                                ret_error, -EPERM,
                                "%.*s (uid %u, mode %04o) is not a directory only root controls; keep the Looking Glass file in /dev/shm",
                                (int)(slash - path), path, (unsigned)st.st_uid,
                                (unsigned)(st.st_mode & 07777));
        }
        if (!*p || strcmp(p, ".") == 0 || strcmp(p, "..") == 0)
                return fail(ret_error, -EINVAL, "%s: no file name", path);
        *ret_name = p;
        return TAKE_FD(dir);
}

int vm_shmem_prepare(const char *path, uid_t owner, gid_t group, uint64_t size, char **ret_error)
{
        _cleanup_close_ int dir = -EBADF, fd = -EBADF;
        bool root = geteuid() == 0, created = false;
        const char *name = NULL;
        struct stat st;
        int r;

        dir = open_parent(path, &name, ret_error);
        if (dir < 0)
                return dir;
        /* no link followed: O_EXCL | O_NOFOLLOW creation, nothing existing is opened */
        fd = openat(dir, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0)
                created = true;
        else if (errno == EEXIST) {
                struct stat pre;
                /* no link followed: O_PATH | O_NOFOLLOW, then fstat decides */
                _cleanup_close_ int p = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

                /* Look before opening: opening a planted FIFO or device could block or act. */
                if (p < 0 || fstat(p, &pre) < 0)
                        return fail(ret_error, -errno, "%s: %s", path, strerror(errno));
                if (S_ISLNK(pre.st_mode))
                        return fail(
                                ret_error, -ELOOP,
                                "%s is a symbolic link (to what, root does not look); remove it: rm %s (vfioctl start then creates the file)",
                                path, path);
                if (!S_ISREG(pre.st_mode))
                        return fail(ret_error, -EPERM, "%s is not a regular file; remove it: rm %s", path,
                                    path);
                /* no link followed: O_NOFOLLOW, and the open file is compared with the fstat of the name */
                fd = openat(dir, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
                if (fd < 0)
                        return fail(ret_error, -errno, "%s: %s", path, strerror(errno));
                if (fstat(fd, &st) < 0)
                        return -errno;
                if (st.st_dev != pre.st_dev || st.st_ino != pre.st_ino)
                        return fail(ret_error, -EAGAIN, "%s changed while it was opened; try again", path);
        } else
                return fail(ret_error, -errno, "cannot create %s: %s", path, strerror(errno));
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!created) {
                /* Another owner's file would be handed to the VM user; a second link would be another
                 * name for some file (fs.protected_hardlinks aside). */
                if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid != owner)
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
                /* no link followed: unlinkat removes the name itself, never what a link there points to */
                (void)unlinkat(dir, name, 0);
        return r;
}
