/* Test fixtures: copies of captured sysfs trees that a test may vary, and a runner for the built tool. */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void fail(const char *what, const char *arg)
{
        fprintf(stderr, "fixture: %s %s: %s\n", what, arg ? arg : "", strerror(errno));
        abort();
}

char *fixture_data_path(const char *rel)
{
        const char *base = getenv("VFIOCTL_TEST_DATA");
        char *p;

        if (!base)
                base = "tests/data";
        if (asprintf(&p, "%s/%s", base, rel) < 0)
                fail("asprintf", rel);
        return p;
}

static int run_argv(const char *const *argv)
{
        pid_t pid;
        int st;

        if (posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv, environ) != 0)
                fail("spawn", argv[0]);
        if (waitpid(pid, &st, 0) < 0)
                fail("waitpid", argv[0]);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

char *fixture_clone(const char *name)
{
        char tmpl[] = "/tmp/vfioctl-fixture-XXXXXX", *src, *dir, *srcdot;

        src = fixture_data_path("sysfs");
        if (asprintf(&srcdot, "%s/%s/.", src, name) < 0)
                fail("asprintf", name);
        free(src);
        if (!mkdtemp(tmpl))
                fail("mkdtemp", tmpl);
        dir = strdup(tmpl);
        {
                const char *argv[] = { "cp", "-a", srcdot, dir, NULL };

                if (run_argv(argv) != 0) {
                        errno = EIO;
                        fail("cp -a", srcdot);
                }
        }
        free(srcdot);
        return dir;
}

void fixture_remove(char *dir)
{
        if (!dir)
                return;
        if (strncmp(dir, "/tmp/vfioctl-", 13) == 0) {
                const char *argv[] = { "rm", "-rf", "--", dir, NULL };

                run_argv(argv);
        }
        free(dir);
}

static char *join(const char *root, const char *rel)
{
        char *p;

        if (asprintf(&p, "%s/%s", root, rel) < 0)
                fail("asprintf", rel);
        return p;
}

void fixture_write(const char *root, const char *rel, const char *content)
{
        char *p = join(root, rel);
        FILE *f;

        (void)unlink(p);
        f = fopen(p, "we");
        if (!f)
                fail("create", p);
        fputs(content, f);
        fclose(f);
        free(p);
}

void fixture_unlink(const char *root, const char *rel)
{
        char *p = join(root, rel);

        if (unlink(p) < 0 && errno != ENOENT)
                fail("unlink", p);
        free(p);
}

void fixture_rmtree(const char *root, const char *rel)
{
        char *p = join(root, rel);
        const char *argv[] = { "rm", "-rf", "--", p, NULL };

        if (strncmp(root, "/tmp/vfioctl-", 13) != 0 || strstr(rel, ".."))
                fail("refusing to remove outside a fixture", p);
        run_argv(argv);
        free(p);
}

void fixture_mkdir(const char *root, const char *rel)
{
        char *p = join(root, rel);
        const char *argv[] = { "mkdir", "-p", "--", p, NULL };

        if (run_argv(argv) != 0)
                fail("mkdir -p", p);
        free(p);
}

void fixture_symlink(const char *root, const char *rel, const char *target)
{
        char *p = join(root, rel);

        (void)unlink(p);
        if (symlink(target, p) < 0)
                fail("symlink", p);
        free(p);
}

char *fixture_read(const char *path)
{
        FILE *f = fopen(path, "re");
        char *buf = NULL;
        size_t len = 0;

        if (!f)
                return NULL;
        {
                FILE *m = open_memstream(&buf, &len);
                char chunk[65536];
                size_t n;

                while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                        fwrite(chunk, 1, n, m);
                fclose(m);
        }
        fclose(f);
        return buf;
}

static char *slurp_fd(int fd)
{
        char *buf = NULL, chunk[65536];
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        ssize_t n;

        while ((n = read(fd, chunk, sizeof(chunk))) > 0)
                fwrite(chunk, 1, (size_t)n, m);
        fclose(m);
        return buf;
}

int fixture_run_tool(char **ret_out, char **ret_err, const char *const *args)
{
        const char *bin = getenv("VFIOCTL_BIN");
        char outtmpl[] = "/tmp/vfioctl-out-XXXXXX", errtmpl[] = "/tmp/vfioctl-err-XXXXXX";
        posix_spawn_file_actions_t fa;
        const char *argv[64];
        size_t n = 0;
        int outfd, errfd, st;
        pid_t pid;

        if (!bin)
                bin = "build/tool/vfioctl";
        argv[n++] = bin;
        for (const char *const *a = args; *a && n < 62; a++)
                argv[n++] = *a;
        argv[n] = NULL;
        /* Files, not pipes: a large listing must not deadlock against a full pipe. */
        outfd = mkstemp(outtmpl);
        errfd = mkstemp(errtmpl);
        if (outfd < 0 || errfd < 0)
                fail("mkstemp", NULL);
        unlink(outtmpl);
        unlink(errtmpl);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, outfd, 1);
        posix_spawn_file_actions_adddup2(&fa, errfd, 2);
        unsetenv("VFIOCTL_ROOT");
        setenv("NO_COLOR", "1", 1);
        if (posix_spawn(&pid, bin, &fa, NULL, (char *const *)argv, environ) != 0)
                fail("spawn", bin);
        posix_spawn_file_actions_destroy(&fa);
        if (waitpid(pid, &st, 0) < 0)
                fail("waitpid", bin);
        lseek(outfd, 0, SEEK_SET);
        lseek(errfd, 0, SEEK_SET);
        if (ret_out)
                *ret_out = slurp_fd(outfd);
        if (ret_err)
                *ret_err = slurp_fd(errfd);
        close(outfd);
        close(errfd);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

bool fixture_golden(const char *rel, const char *text)
{
        char *path = fixture_data_path(rel), *want;
        const char *regen = getenv("VFIOCTL_TEST_REGENERATE");
        bool ok;

        if (regen && strcmp(regen, "1") == 0) {
                FILE *f = fopen(path, "we");

                if (!f)
                        fail("create", path);
                fputs(text, f);
                fclose(f);
                fprintf(stderr, "fixture: regenerated %s\n", path);
                free(path);
                return true;
        }
        want = fixture_read(path);
        ok = want && strcmp(want, text) == 0;
        if (!ok) {
                char got[] = "/tmp/vfioctl-golden-XXXXXX";
                int fd = mkstemp(got);

                if (fd >= 0) {
                        (void)!write(fd, text, strlen(text));
                        close(fd);
                }
                fprintf(stderr,
                        "fixture: output differs from %s; diff -u %s %s (VFIOCTL_TEST_REGENERATE=1 rewrites)\n",
                        path, path, got);
        }
        free(want);
        free(path);
        return ok;
}
