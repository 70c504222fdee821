/* The tiny wrapper of bench/resources.sh: runs argv (fork + exec, no shell) and prints its rusage from
 * wait4. */
/* usage: rusage PROGRAM [ARGS...]   prints "maxrss_kb=N cpu_s=X wall_s=Y status=S" on stderr's last line */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
        struct rusage ru;
        int status;
        double t0;
        pid_t pid;

        if (argc < 2) {
                fprintf(stderr, "usage: rusage PROGRAM [ARGS...]\n");
                return 2;
        }
        t0 = now();
        /* This wrapper is small, so the child's RSS before exec does not inflate ru_maxrss (kept across
         * exec). */
        pid = fork();
        if (pid < 0)
                return perror("fork"), 1;
        if (pid == 0) {
                execvp(argv[1], argv + 1);
                _exit(127);
        }
        if (wait4(pid, &status, 0, &ru) < 0)
                return perror("wait4"), 1;
        fprintf(stderr, "maxrss_kb=%ld cpu_s=%.6f wall_s=%.6f status=%d\n", ru.ru_maxrss,
                ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
                        ru.ru_stime.tv_usec / 1e6,
                now() - t0, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return 0;
}
