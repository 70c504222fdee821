/* Bounded reads of small kernel attribute files, relative to a directory fd; whole writes to a descriptor.
 */
#pragma once

#include <stddef.h>

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
/* Writes all of data to fd, retrying on EINTR and short writes (pipes, sockets, terminals). */
int write_full_fd(int fd, const void *data, size_t len);
/* Writes s to an existing attribute in one write(), as the kernel expects. */
int write_attr_at(int dirfd, const char *path, const char *s);
