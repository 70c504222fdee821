/* Bounded reads of small kernel attribute files, relative to a directory fd; whole writes to a descriptor.
 */
#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cleanup.h"
#include "strv.h"

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

ssize_t read_virtual_at(int dirfd, const char *name, char *buf, size_t size)
{
        _cleanup_close_ int fd = -EBADF;

        fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        return read_virtual_fd(fd, buf, size);
}

ssize_t read_virtual_fd(int fd, char *buf, size_t size)
{
        ssize_t n;

        if (size < 2)
                return -EINVAL;
        do
                n = read(fd, buf, size - 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        /* size - 1 bytes read means at least one more than the caller allows: too long, as read_attr_at. */
        if ((size_t)n > size - 2)
                return -EFBIG;
        buf[n] = 0;
        if (strlen(buf) != (size_t)n)
                return -EBADMSG;
        if (n > 0 && buf[n - 1] == '\n')
                buf[--n] = 0;
        return n;
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

/*
 * getdents64() on the descriptor itself: opendir()'s fcntl and fstat and its per-name bookkeeping cost
 * more than the listing when a scan lists thousands of small directories (one per IOMMU group). The
 * vector grows by doubling, so a 4096-entry directory is not copied 4096 times.
 */
int read_dir_names_fd(int fd, size_t max, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0, alloc = 8;
        _Alignas(struct dirent64) char buf[16384];

        l = calloc(alloc, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (;;) {
                ssize_t got = getdents64(fd, buf, sizeof(buf));

                if (got < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (got == 0)
                        break;
                for (ssize_t off = 0; off < got;) {
                        struct dirent64 *de = (struct dirent64 *)(buf + off);

                        off += de->d_reclen;
                        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                                continue;
                        if (n + 1 > max)
                                return -E2BIG;
                        if (n + 1 >= alloc) {
                                char **m = reallocarray(l, alloc * 2, sizeof(char *));

                                if (!m)
                                        return -ENOMEM;
                                l = m;
                                alloc *= 2;
                        }
                        l[n] = strdup(de->d_name);
                        if (!l[n])
                                return -ENOMEM;
                        l[++n] = NULL;
                }
        }
        strv_sort(l);
        *ret = TAKE_PTR(l);
        return 0;
}

void close_many(int *fds, size_t n)
{
        int sorted[FD_BATCH_MAX];
        size_t m = 0;

        if (n > ELEMENTSOF(sorted)) {
                for (size_t i = 0; i < n; i++)
                        if (fds[i] >= 0)
                                close(fds[i]);
                goto done;
        }
        /* Insertion sort: a handful of descriptors. */
        for (size_t i = 0; i < n; i++) {
                size_t j;

                if (fds[i] < 0)
                        continue;
                for (j = m; j > 0 && sorted[j - 1] > fds[i]; j--)
                        sorted[j] = sorted[j - 1];
                sorted[j] = fds[i];
                m++;
        }
        /* Each run of consecutive numbers in one call; an inherited descriptor in between splits a run. */
        for (size_t i = 0; i < m;) {
                size_t j = i + 1;

                while (j < m && sorted[j] == sorted[j - 1] + 1)
                        j++;
                if (j - i == 1 || close_range((unsigned)sorted[i], (unsigned)sorted[j - 1], 0) < 0)
                        for (size_t k = i; k < j; k++)
                                close(sorted[k]);
                i = j;
        }
done:
        for (size_t i = 0; i < n; i++)
                if (fds[i] >= 0)
                        fds[i] = -EBADF;
}

void fd_batch_flush(fd_batch *b)
{
        close_many(b->fd, b->n);
        b->n = 0;
}

void fd_batch_add(fd_batch *b, int *fds, size_t n)
{
        size_t open = 0;

        if (!b) {
                close_many(fds, n);
                return;
        }
        for (size_t i = 0; i < n; i++)
                open += fds[i] >= 0;
        if (open > FD_BATCH_MAX) {
                close_many(fds, n);
                return;
        }
        if (b->n + open > FD_BATCH_MAX)
                fd_batch_flush(b);
        for (size_t i = 0; i < n; i++)
                if (fds[i] >= 0) {
                        b->fd[b->n++] = fds[i];
                        fds[i] = -EBADF;
                }
        /* When as many again would not fit, close now: the next files then take the lowest numbers again and
         * the next batch is one run, not two (the one opened before this close and the ones after it). */
        if (b->n + open > FD_BATCH_MAX)
                fd_batch_flush(b);
}

bool fd_batch_fits(size_t extra)
{
        struct rlimit rl;

        /* Room for the batch, the caller's own and up to 256 the process already holds (stdio, inherited).
         */
        return getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
               (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= FD_BATCH_MAX + extra + 256);
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
