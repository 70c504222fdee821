/* Test helper: a writable copy of a captured sysfs fixture (symlinks kept verbatim), removed afterwards. */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static inline int run_argv(char *const argv[])
{
        pid_t pid = fork();
        int status;

        if (pid < 0)
                return -1;
        if (pid == 0) {
                execvp(argv[0], argv);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static inline const char *fixture_dir(const char *name, char *buf, size_t size)
{
        const char *data = getenv("VFIOCTL_TEST_DATA");

        snprintf(buf, size, "%s/sysfs/%s", data ? data : "tests/data", name);
        return buf;
}

/* Copies fixture `name` into a fresh temp dir; returns its path (free with fixture_remove). */
static inline char *fixture_copy(const char *name)
{
        /* tmpfs when there is one: a capture is ~2700 small files, slow to copy and remove on a disk. */
        char src[4096], *dst = strdup(access("/dev/shm", W_OK) == 0 ? "/dev/shm/vfioctl-test.XXXXXX"
                                                                    : "/tmp/vfioctl-test.XXXXXX");
        char *cp[] = { (char *)"cp", (char *)"-a", NULL, NULL, NULL };
        char from[4200];

        if (!dst || !mkdtemp(dst))
                return NULL;
        snprintf(from, sizeof(from), "%s/.", fixture_dir(name, src, sizeof(src)));
        cp[2] = from;
        cp[3] = dst;
        if (run_argv(cp) != 0) {
                free(dst);
                return NULL;
        }
        return dst;
}

static inline void fixture_remove(char *dir)
{
        char *rm[] = { (char *)"rm", (char *)"-rf", dir, NULL };

        if (dir &&
            (strncmp(dir, "/tmp/vfioctl-test.", 18) == 0 || strncmp(dir, "/dev/shm/vfioctl-test.", 22) == 0))
                run_argv(rm);
        free(dir);
}

/* Content of a file below dir (without a trailing newline), or NULL. */
static inline char *fixture_read(const char *dir, const char *rel)
{
        char path[4096];
        FILE *f;
        char *buf = calloc(1, 65536);
        size_t n;

        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        f = fopen(path, "re");
        if (!f || !buf) {
                if (f)
                        fclose(f);
                free(buf);
                return NULL;
        }
        n = fread(buf, 1, 65535, f);
        fclose(f);
        while (n > 0 && buf[n - 1] == '\n')
                buf[--n] = 0;
        return buf;
}
