/*
 * pty-console VFIOCTL [--root DIR] NAME: drives `vfioctl console NAME` through a real pseudo-terminal
 * (posix_openpt) as a person would: waits for the banner, types a command into the guest's shell, expects
 * its output, leaves with Ctrl-], and checks the terminal was put back in cooked mode. Exit 0 on success.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static char seen[1 << 16];
static size_t n_seen;

/* Reads from the pty master until needle shows up or timeout_ms passes. */
static int expect(int m, const char *needle, int timeout_ms)
{
        struct timespec t0, t;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
                struct pollfd p = { m, POLLIN, 0 };
                int left;

                seen[n_seen] = 0;
                if (strstr(seen, needle))
                        return 0;
                clock_gettime(CLOCK_MONOTONIC, &t);
                left = timeout_ms -
                       (int)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
                if (left <= 0)
                        return -ETIMEDOUT;
                if (poll(&p, 1, left) > 0) {
                        ssize_t n = read(m, seen + n_seen, sizeof(seen) - 1 - n_seen);

                        if (n <= 0)
                                return -EIO;
                        n_seen += (size_t)n;
                }
        }
}

int main(int argc, char **argv)
{
        struct termios tio;
        int m, status;
        pid_t pid;

        if (argc < 3) {
                fprintf(stderr, "usage: pty-console VFIOCTL [vfioctl options] NAME\n");
                return 2;
        }
        m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
                perror("posix_openpt");
                return 1;
        }
        pid = fork();
        if (pid == 0) {
                /* The child: a session whose controlling terminal is the pty slave, like a login shell. */
                int s;
                char **args = calloc((size_t)argc + 2, sizeof(char *));

                setsid();
                s = open(ptsname(m), O_RDWR);
                if (s < 0 || !args)
                        _exit(126);
                ioctl(s, TIOCSCTTY, 0);
                dup2(s, 0);
                dup2(s, 1);
                dup2(s, 2);
                args[0] = argv[1];
                for (int i = 2; i < argc - 1; i++)
                        args[i - 1] = argv[i];
                args[argc - 2] = (char *)"console";
                args[argc - 1] = argv[argc - 1];
                execv(argv[1], args);
                _exit(127);
        }
        if (expect(m, "leave with Ctrl-]", 10000) < 0) {
                fprintf(stderr, "no console banner; got: %s\n", seen);
                return 1;
        }
        /* Raw mode while attached: the slave must not echo or translate. */
        if (tcgetattr(m, &tio) == 0 && (tio.c_lflag & (ICANON | ECHO))) {
                fprintf(stderr, "the terminal is not raw while attached (lflag %#x)\n",
                        (unsigned)tio.c_lflag);
                return 1;
        }
        /* The guest's shell may not read the line yet (still starting): type again every 2 s. */
        for (int i = 0; i < 10; i++) {
                (void)!write(m, "echo CONSOLE-$((6*7))\r", 22);
                if (expect(m, "CONSOLE-42", 2000) == 0)
                        break;
        }
        if (expect(m, "CONSOLE-42", 100) < 0) {
                fprintf(stderr, "the guest did not answer on the console; got: %s\n", seen);
                return 1;
        }
        (void)!write(m, "\x1d", 1);
        if (expect(m, "Disconnected from VM", 5000) < 0) {
                fprintf(stderr, "Ctrl-] did not detach; got: %s\n", seen);
                return 1;
        }
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "vfioctl console did not exit 0 (status %#x)\n", status);
                return 1;
        }
        if (tcgetattr(m, &tio) == 0 && !(tio.c_lflag & ICANON)) {
                fprintf(stderr, "the terminal was left raw\n");
                return 1;
        }
        printf("console: typed into the guest's shell, got CONSOLE-42 back, left with Ctrl-]\n");
        return 0;
}
