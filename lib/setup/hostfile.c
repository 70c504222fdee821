/* Atomic file replacement and directory creation below the host root (house rule 14). */
#include "vfioctl/hostfile.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "fileio.h"
#include "fs-util.h"
#include "log.h"
#include "safedir.h"
#include "strv.h"

/* Splits "a/b/c" into a parent directory fd (resolved inside the root) and "c". */
static int open_parent(const vfio_host *h, const char *path, int flags, const char **ret_base)
{
        _cleanup_free_ char *parent = NULL;
        const char *slash;

        while (*path == '/')
                path++;
        slash = strrchr(path, '/');
        if (!slash) {
                *ret_base = path;
                return vfio_host_open_path(h, ".", flags | O_DIRECTORY);
        }
        if (!slash[1])
                return -EINVAL;
        parent = strndup(path, (size_t)(slash - path));
        if (!parent)
                return -ENOMEM;
        *ret_base = slash + 1;
        return vfio_host_open_path(h, parent, flags | O_DIRECTORY);
}

int vfio_hostfile_mkdir_p(const vfio_host *h, const char *dir, mode_t mode, char ***created)
{
        _cleanup_free_ char *p = NULL;
        char *s;
        int r;

        assert(dir);

        while (*dir == '/')
                dir++;
        p = strdup(dir);
        if (!p)
                return -ENOMEM;
        for (s = p;; s++) {
                char saved = *s;

                if (*s != '/' && *s != 0)
                        continue;
                *s = 0;
                r = vfio_host_exists(h, p);
                if (r < 0)
                        return r;
                if (r == 0) {
                        _cleanup_close_ int fd = -EBADF;
                        const char *base;

                        fd = open_parent(h, p, O_PATH, &base);
                        if (fd < 0)
                                return fd;
                        fault_point();
                        if (mkdirat(fd, base, mode) < 0 && errno != EEXIST)
                                return -errno;
                        if (created && (r = strv_extend(created, p)) < 0)
                                return r;
                }
                *s = saved;
                if (!saved)
                        break;
        }
        return 0;
}

int vfio_hostfile_write_atomic(const vfio_host *h, const char *path, const void *data, size_t len,
                               mode_t mode)
{
        _cleanup_close_ int dfd = -EBADF;
        const char *base;
        int r;

        dfd = open_parent(h, path, O_RDONLY, &base);
        if (dfd < 0)
                return dfd;
        r = write_file_atomic_at(dfd, base, data, len, mode, 0);
        if (r < 0)
                return log_debug_errno(r, "writing %s failed: %s", path, strerror(-r));
        return 0;
}

int vfio_hostfile_symlink_atomic(const vfio_host *h, const char *path, const char *target)
{
        _cleanup_close_ int dfd = -EBADF;
        const char *base;

        dfd = open_parent(h, path, O_RDONLY, &base);
        if (dfd < 0)
                return dfd;
        return symlink_atomic_at(dfd, base, target);
}

int vfio_hostfile_write_atomic_owned(const vfio_host *h, const char *path, const void *data, size_t len,
                                     mode_t mode, uid_t uid, gid_t gid)
{
        _cleanup_close_ int dfd = -EBADF;
        const char *base;
        int r;

        if (uid == (uid_t)-1)
                return vfio_hostfile_write_atomic(h, path, data, len, mode);
        dfd = open_parent(h, path, O_RDONLY, &base);
        if (dfd < 0)
                return dfd;
        /* The owner is set on the temp file's descriptor before the rename (basic/safedir.h). */
        r = safedir_write(dfd, base, -1, data, len, mode, uid, gid, 0);
        if (r < 0)
                return log_debug_errno(r, "writing %s failed: %s", path, strerror(-r));
        return 0;
}

int vfio_hostfile_read(const vfio_host *h, const char *path, size_t max, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = vfio_host_open_path(h, path, O_RDONLY | O_NOCTTY | O_NOFOLLOW);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return S_ISDIR(st.st_mode) ? -EISDIR : -EBADF;
        return read_full_fd(fd, max, ret, ret_len);
}

int vfio_hostfile_unlink(const vfio_host *h, const char *path)
{
        _cleanup_close_ int dfd = -EBADF;
        const char *base;

        dfd = open_parent(h, path, O_PATH, &base);
        if (dfd < 0)
                return dfd;
        fault_point();
        return unlinkat(dfd, base, 0) < 0 ? -errno : 0;
}

int vfio_hostfile_rmdir(const vfio_host *h, const char *path)
{
        _cleanup_close_ int dfd = -EBADF;
        const char *base;

        dfd = open_parent(h, path, O_PATH, &base);
        if (dfd < 0)
                return dfd;
        fault_point();
        return unlinkat(dfd, base, AT_REMOVEDIR) < 0 ? -errno : 0;
}

int vfio_hostfile_sweep_temps(const vfio_host *h, const char *dir)
{
        _cleanup_strv_free_ char **names = NULL;
        int r;

        r = vfio_host_list_dir(h, dir, 65536, &names);
        if (r < 0)
                return r == -ENOENT || r == -ENOTDIR ? 0 : r;
        STRV_FOREACH(n, names) {
                _cleanup_free_ char *p = NULL;

                /* Exactly the name vfio_hostfile_write_atomic makes, nothing else. */
                if (!atomic_temp_name(*n))
                        continue;
                if (asprintf(&p, "%s/%s", dir, *n) < 0)
                        return -ENOMEM;
                (void)vfio_hostfile_unlink(h, p);
        }
        return 0;
}
