/* Bounded reads of small kernel attribute files, relative to a directory fd; whole writes to a descriptor.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Attributes in sysfs are at most a page; cap reads there unless a caller asks for more. */
#define ATTR_MAX_DEFAULT 4096

/*
 * Reads the file at path (relative to dirfd) into a NUL-terminated string with one trailing newline
 * removed. Fails with -EFBIG when it is longer than max, -EBADMSG when it holds a NUL byte.
 */
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size);
int read_attr_fd(int fd, size_t max, char **ret);
int read_attr_at(int dirfd, const char *path, size_t max, char **ret);
int read_link_at(int dirfd, const char *path, char **ret);
/*
 * Reads a sysfs attribute (name relative to dirfd) into buf with one read(): the kernel hands the whole
 * show() output of a text attribute to the first read of an open file, and a small regular file (a fixture)
 * comes whole too, so the empty read that read_attr_at() makes to see the end is saved. Same contract as
 * read_attr_at() with max = size - 2: returns the length with one trailing newline removed, -EFBIG when the
 * file is longer than size - 2 bytes, -EBADMSG when it holds a NUL byte. Not for /proc files (seq_file
 * hands those out a page at a time).
 */
ssize_t read_virtual_at(int dirfd, const char *name, char *buf, size_t size);
ssize_t read_virtual_fd(int fd, char *buf, size_t size);
/* The buffer read_virtual_at() needs for an attribute of up to max bytes. */
#define VIRTUAL_BUF_SIZE(max) ((max) + 2)
/* The names in the open directory fd (without "." and ".."), sorted; -E2BIG past max entries. */
int read_dir_names_fd(int fd, size_t max, char ***ret);
/*
 * Closes every descriptor >= 0 in fds and sets it to -EBADF. Descriptors opened one after another take
 * consecutive numbers: each run of them is closed with one close_range() instead of one close() each. Only
 * the numbers in fds are closed (a descriptor inherited in between splits the run).
 */
void close_many(int *fds, size_t n);
/*
 * Descriptors a scan is done with, closed together later: a listing that opens a dozen files per device
 * closes eight devices' worth with one close_range() (close_many) instead of one per device.
 * fd_batch_add() takes the descriptors >= 0 of fds (setting them to -EBADF), closing what the batch held
 * first when they would not fit; with no batch (NULL) it closes them at once. fd_batch_flush() closes the
 * rest. The caller keeps the batch's
 * FD_BATCH_MAX descriptors within its RLIMIT_NOFILE (fd_batch_fits).
 */
#define FD_BATCH_MAX 128
typedef struct fd_batch {
        int fd[FD_BATCH_MAX];
        size_t n;
} fd_batch;
void fd_batch_add(fd_batch *b, int *fds, size_t n);
void fd_batch_flush(fd_batch *b);
/* Whether this process may hold a full batch beside `extra` other descriptors (RLIMIT_NOFILE). */
bool fd_batch_fits(size_t extra);
/* Writes all of data to fd, retrying on EINTR and short writes (pipes, sockets, terminals). */
int write_full_fd(int fd, const void *data, size_t len);
/* Writes s to an existing attribute in one write(), as the kernel expects. */
int write_attr_at(int dirfd, const char *path, const char *s);
