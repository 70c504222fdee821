/* Writing files from the tool: parent directories, and atomic replacement (temp file + rename). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "vfioctl/hostfile.h"
#include "write-util.h"

int tool_mkdir_p(const char *path)
{
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        if (mkdir(p, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        *s = '/';
                }
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* Readers see the old file or the new one, never half of it (rename(2) is atomic). */
int tool_write_atomic(const char *path, const char *text, bool replace)
{
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t n = strlen(text), done = 0;
        struct stat st;

        if (!replace && stat(path, &st) == 0)
                return -EEXIST;
        if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        while (done < n) {
                /* A fault test stops here with the temp file half written (tests/fault/). */
                ssize_t w = write(fd, text + done, done < n / 2 ? n / 2 - done : n - done);

                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        goto fail;
                }
                if (done < n / 2 && done + (size_t)w >= n / 2)
                        vfio_hostfile_fault_point();
                done += (size_t)w;
        }
        if (fchmod(fd, 0644) < 0 || fsync(fd) < 0)
                goto fail;
        vfio_hostfile_fault_point();
        if ((replace ? rename(tmp, path) : renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE)) < 0)
                goto fail;
        vfio_hostfile_fault_point();
        return 0;
fail : {
        int e = -errno;

        (void)unlink(tmp);
        return e;
}
}
