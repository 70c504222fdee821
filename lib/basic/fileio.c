/* Bounded reads of small kernel attribute files, relative to a directory fd; whole writes to a descriptor.
 */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, alloc = 0;

        for (;;) {
                ssize_t n;

                if (len + 1 >= alloc) {
                        size_t na = alloc ? alloc * 2 : 256;
                        char *nb;

                        /* Allow one byte past max so an over-long file is detected, not truncated. */
                        if (na > max + 2)
                                na = max + 2;
                        if (na <= len + 1)
                                return -EFBIG;
                        nb = realloc(buf, na);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                        alloc = na;
                }
                n = read(fd, buf + len, alloc - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > max)
                        return -EFBIG;
        }
        if (!buf) {
                buf = malloc(1);
                if (!buf)
                        return -ENOMEM;
        }
        buf[len] = 0;
        if (ret_size)
                *ret_size = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

int read_attr_at(int dirfd, const char *path, size_t max, char **ret)
{
        _cleanup_close_ int fd = -EBADF;

        fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return read_attr_fd(fd, max, ret);
}

int read_attr_fd(int fd, size_t max, char **ret)
{
        _cleanup_free_ char *s = NULL;
        size_t n;
        int r;

        r = read_full_fd(fd, max, &s, &n);
        if (r < 0)
                return r;
        if (strlen(s) != n)
                return -EBADMSG;
        if (n > 0 && s[n - 1] == '\n')
                s[n - 1] = 0;
        *ret = TAKE_PTR(s);
        return 0;
}

int read_link_at(int dirfd, const char *path, char **ret)
{
        char buf[PATH_MAX];
        ssize_t n;
        char *s;

        n = readlinkat(dirfd, path, buf, sizeof(buf));
        if (n < 0)
                return -errno;
        if ((size_t)n >= sizeof(buf))
                return -ENAMETOOLONG;
        s = strndup(buf, (size_t)n);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int write_full_fd(int fd, const void *data, size_t len)
{
        for (size_t off = 0; off < len;) {
                ssize_t n = write(fd, (const char *)data + off, len - off);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                off += (size_t)n;
        }
        return 0;
}

int write_attr_at(int dirfd, const char *path, const char *s)
{
        _cleanup_close_ int fd = -EBADF;
        size_t len = strlen(s);
        ssize_t n;

        fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        n = write(fd, s, len);
        if (n < 0)
                return -errno;
        if ((size_t)n != len)
                return -EIO;
        return 0;
}
