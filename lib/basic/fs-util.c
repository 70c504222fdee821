/* Files and directories vfioctl creates: mkdir -p, ownership through descriptors, atomic replacement. */
#include "fs-util.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "fault.h"
#include "fileio.h"
#include "safedir.h"

bool atomic_temp_name(const char *name)
{
        size_t n = strlen(ATOMIC_TEMP_PREFIX);

        return strlen(name) == n + 16 && strncmp(name, ATOMIC_TEMP_PREFIX, n) == 0 &&
               strspn(name + n, "0123456789abcdef") == 16;
}

static int atomic_temp(char tmp[static sizeof(ATOMIC_TEMP_PREFIX) + 16])
{
        uint64_t rnd;

        if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
                return -EIO;
        snprintf(tmp, sizeof(ATOMIC_TEMP_PREFIX) + 16, ATOMIC_TEMP_PREFIX "%016llx",
                 (unsigned long long)rnd);
        return 0;
}

int write_file_atomic_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                         unsigned flags)
{
        _cleanup_close_ int fd = -EBADF;
        char tmp[sizeof(ATOMIC_TEMP_PREFIX) + 16];
        int r;

        assert(name);
        assert(data || len == 0);
        if ((flags & WRITE_ATOMIC_NOREPLACE) && faccessat(dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return -EEXIST;
        if ((r = atomic_temp(tmp)) < 0)
                return r;
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return -errno;
        /* The umask must not narrow what we promise (limits.d and udev rules are read by other users). */
        if (fchmod(fd, mode) < 0)
                goto fail_errno;
        if ((r = write_full_fd(fd, data, len / 2)) < 0)
                goto fail;
        fault_point();
        if ((r = write_full_fd(fd, (const char *)data + len / 2, len - len / 2)) < 0)
                goto fail;
        if (fsync(fd) < 0)
                goto fail_errno;
        fault_point();
        /* RENAME_NOREPLACE: a file that appeared meanwhile is never replaced either. */
        if ((flags & WRITE_ATOMIC_NOREPLACE ? renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE)
                                            : renameat(dirfd, tmp, dirfd, name)) < 0)
                goto fail_errno;
        (void)fsync(dirfd);
        fault_point();
        return 0;
fail_errno:
        r = -errno;
fail:
        (void)unlinkat(dirfd, tmp, 0);
        return r;
}

int symlink_atomic_at(int dirfd, const char *name, const char *target)
{
        char tmp[sizeof(ATOMIC_TEMP_PREFIX) + 16];
        int r;

        assert(name);
        assert(target);
        if ((r = atomic_temp(tmp)) < 0)
                return r;
        if (symlinkat(target, dirfd, tmp) < 0)
                return -errno;
        fault_point();
        if (renameat(dirfd, tmp, dirfd, name) < 0) {
                r = -errno;
                (void)unlinkat(dirfd, tmp, 0);
                return r;
        }
        (void)fsync(dirfd);
        fault_point();
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, unsigned flags)
{
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int dfd = -EBADF;
        const char *slash;

        assert(path);
        slash = strrchr(path, '/');
        if (!slash)
                dir = strdup(".");
        else
                dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
        if (!dir)
                return -ENOMEM;
        if (slash && !slash[1])
                return -EISDIR;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        return write_file_atomic_at(dfd, slash ? slash + 1 : path, data, len, mode, flags);
}

/* 1 made, 0 already a directory. */
static int mkdir_one(const char *path, mode_t mode)
{
        struct stat st;
        int e;

        if (mkdir(path, mode) == 0)
                return 1;
        e = -errno;
        /* An existing directory is what we want, even where we may not create one (EACCES, EROFS). */
        if (stat(path, &st) == 0)
                return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
        return e;
}

int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = NULL;
        int r;

        assert(path);
        p = strdup(path);
        if (!p)
                return -ENOMEM;
        /* "a/b/" names the directory b: it is the last one, made with mode. */
        for (size_t n = strlen(p); n > 1 && p[n - 1] == '/'; n--)
                p[n - 1] = 0;
        for (char *s = p + 1; *s; s++)
                if (*s == '/' && s[-1] != '/') {
                        *s = 0;
                        r = mkdir_one(p, 0755);
                        *s = '/';
                        if (r < 0)
                                return r;
                }
        return mkdir_one(p, mode);
}

int chown_dir_nofollow(const char *path, uid_t uid, gid_t gid)
{
        _cleanup_free_ char *name = NULL, *abs = NULL;
        _cleanup_close_ int dirfd = -EBADF, fd = -EBADF;
        int r;

        assert(path);
        if (path[0] != '/') {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);

                if (!cwd || asprintf(&abs, "%s/%s", cwd, path) < 0)
                        return -ENOMEM;
                path = abs;
        }
        /* The one rule for directories another user may write (safedir.h): no link on the way either, the
         * owner changed on the directory's own descriptor. */
        r = safedir_open_parent(path, &dirfd, &name, NULL);
        if (r < 0)
                return r;
        fd = safedir_open_dir(dirfd, name);
        if (fd < 0)
                return fd;
        return fchown(fd, uid, gid) < 0 ? -errno : 0;
}

int mkdir_p_owned(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
        int made, r;

        made = mkdir_p(path, mode);
        if (made < 0)
                return made;
        r = chown_dir_nofollow(path, uid, gid);
        return r < 0 ? r : made;
}
