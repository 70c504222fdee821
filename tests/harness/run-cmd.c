/* Test helpers: run host programs through exec-util (argv, no shell) and compare file contents byte for
 * byte. */
#include "run-cmd.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "exec-util.h"
#include "fixture.h"

bool executable(const char *path)
{
        return access(path, X_OK) == 0;
}

int run_cmd(char **ret_out, char **ret_err, const char *const *argv)
{
        exec_result res = {};

        if (exec_run((char *const *)argv, NULL, &res) < 0)
                return -1;
        if (ret_out)
                *ret_out = TAKE_PTR(res.out);
        if (ret_err)
                *ret_err = TAKE_PTR(res.err);
        exec_result_done(&res);
        return res.status;
}

int run_vfioctl(char **ret_out, char **ret_err, const char *const *args)
{
        char *out = NULL, *err = NULL;
        int r = fixture_run_tool(&out, &err, args);

        fprintf(stderr, "# vfioctl");
        for (const char *const *a = args; *a; a++)
                fprintf(stderr, " %s", *a);
        fprintf(stderr, " -> %d\n", r);
        if (err && *err)
                fprintf(stderr, "#   stderr: %s", err);
        if (ret_out)
                *ret_out = out;
        else
                free(out);
        if (ret_err)
                *ret_err = err;
        else
                free(err);
        return r;
}

void write_pattern(const char *path, long offset, size_t n, unsigned char byte)
{
        unsigned char *b = malloc(n);
        int fd = open(path, O_WRONLY | O_CLOEXEC);

        if (!b || fd < 0 || (memset(b, byte, n), pwrite(fd, b, n, offset)) != (ssize_t)n || fsync(fd) < 0) {
                fprintf(stderr, "write_pattern %s failed\n", path);
                abort();
        }
        close(fd);
        free(b);
}

bool has_pattern(const char *path, long offset, size_t n, unsigned char byte)
{
        unsigned char *b = malloc(n);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        bool ok = b && fd >= 0 && pread(fd, b, n, offset) == (ssize_t)n;

        for (size_t i = 0; ok && i < n; i++)
                if (b[i] != byte) {
                        fprintf(stderr, "# %s: byte %zu is 0x%02x, expected 0x%02x\n", path,
                                (size_t)offset + i, b[i], byte);
                        ok = false;
                }
        if (fd >= 0)
                close(fd);
        free(b);
        return ok;
}

char *make_temp_dir(const char *prefix)
{
        const char *tmp = getenv("TMPDIR");
        char *d;

        if (asprintf(&d, "%s/%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix) < 0 || !mkdtemp(d))
                abort();
        return d;
}

void rm_rf(const char *path)
{
        const char *argv[] = { "/bin/rm", "-rf", "--one-file-system", path, NULL };

        (void)run_cmd(NULL, NULL, argv);
}
