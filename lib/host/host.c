/* The host root: one O_PATH directory fd that every host access is resolved beneath. */
#include "vfioctl/host.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "strv.h"

struct vfio_host {
        char *root;
        int root_fd;
        bool live;
        bool have_openat2;
};

int vfio_host_open(const char *root, vfio_host **ret)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        struct stat st_root, st_slash;

        assert(ret);

        if (!root || !*root)
                root = "/";
        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->root_fd = -EBADF;
        h->have_openat2 = true;
        h->root = strdup(root);
        if (!h->root)
                return -ENOMEM;
        h->root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (h->root_fd < 0)
                return log_debug_errno(-errno, "cannot open root %s", root);
        if (fstat(h->root_fd, &st_root) == 0 && stat("/", &st_slash) == 0)
                h->live = st_root.st_dev == st_slash.st_dev && st_root.st_ino == st_slash.st_ino;
        *ret = TAKE_PTR(h);
        return 0;
}

vfio_host *vfio_host_free(vfio_host *h)
{
        if (!h)
                return NULL;
        closep(&h->root_fd);
        free(h->root);
        free(h);
        return NULL;
}

const char *vfio_host_root(const vfio_host *h)
{
        assert(h);

        return h->root;
}

bool vfio_host_is_live(const vfio_host *h)
{
        assert(h);

        return h->live;
}

int vfio_host_open_path(const vfio_host *h, const char *path, int flags)
{
        int fd;

        assert(h);
        assert(path);

        while (*path == '/')
                path++;
        if (!*path)
                path = ".";
        if (h->have_openat2) {
                /* RESOLVE_IN_ROOT keeps absolute symlinks of a fixture tree inside that tree. */
                struct open_how how = {
                        .flags = (unsigned)(flags | O_CLOEXEC),
                        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
                };
                /* openat2(2): EAGAIN means a rename or mount anywhere on the system raced the lookup;
                 * the kernel asks the caller to retry. */
                for (unsigned attempt = 0; attempt < 64; attempt++) {
                        fd = (int)syscall(SYS_openat2, h->root_fd, path, &how, sizeof(how));
                        if (fd >= 0 || errno != EAGAIN)
                                break;
                }
                if (fd >= 0)
                        return fd;
                if (errno != ENOSYS)
                        return -errno;
                ((vfio_host *)h)->have_openat2 = false;
        }
        fd = openat(h->root_fd, path, flags | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

int vfio_host_open_beneath(const vfio_host *h, int dirfd, const char *path, int flags)
{
        struct open_how how = {
                .flags = (unsigned)(flags | O_CLOEXEC),
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        int fd = -1;

        if (!h->have_openat2)
                return -ENOSYS;
        for (unsigned attempt = 0; attempt < 64; attempt++) {
                fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
                if (fd >= 0 || errno != EAGAIN)
                        break;
        }
        return fd >= 0 ? fd : -errno;
}

int vfio_host_read_attr(const vfio_host *h, const char *path, size_t max, char **ret)
{
        _cleanup_close_ int fd = -EBADF;

        fd = vfio_host_open_path(h, path, O_RDONLY | O_NOCTTY);
        if (fd < 0)
                return fd;
        return read_attr_fd(fd, max, ret);
}

int vfio_host_read_link(const vfio_host *h, const char *path, char **ret)
{
        _cleanup_close_ int fd = -EBADF;

        fd = vfio_host_open_path(h, path, O_PATH | O_NOFOLLOW);
        if (fd < 0)
                return fd;
        /* An empty path with an O_PATH fd reads the link itself (readlinkat(2), since Linux 2.6.39). */
        return read_link_at(fd, "", ret);
}

int vfio_host_write_attr(const vfio_host *h, const char *path, const char *value)
{
        _cleanup_close_ int fd = -EBADF;
        size_t len = strlen(value);
        ssize_t n;

        fd = vfio_host_open_path(h, path, O_WRONLY | O_NOCTTY);
        if (fd < 0)
                return fd;
        n = write(fd, value, len);
        if (n < 0)
                return -errno;
        return (size_t)n == len ? 0 : -EIO;
}

int vfio_host_list_dir(const vfio_host *h, const char *path, size_t max, char ***ret)
{
        _cleanup_close_ int fd = -EBADF;

        assert(ret);

        fd = vfio_host_open_path(h, path, O_RDONLY | O_DIRECTORY);
        if (fd < 0)
                return fd;
        return read_dir_names_fd(fd, max, ret);
}

int vfio_host_exists(const vfio_host *h, const char *path)
{
        _cleanup_close_ int fd = -EBADF;

        fd = vfio_host_open_path(h, path, O_PATH);
        if (fd >= 0)
                return 1;
        return fd == -ENOENT || fd == -ENOTDIR ? 0 : fd;
}
