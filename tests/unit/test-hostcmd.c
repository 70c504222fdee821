/*
 * The host commands guide runs as root (apt-get, useradd, update-initramfs, dracut, grub) get a fixed
 * environment and working directory: a caller who came through sudo -E, an env_keep list or su without
 * '-' steers none of them. The command run here is a real shell writing what it was given.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"
#include "vfioctl/host.h"
#include "vfioctl/hostcmd.h"

static int read_out(const char *path, char **ret)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC), r;

        if (fd < 0)
                return -errno;
        r = read_full_fd(fd, 65536, ret, NULL);
        close(fd);
        return r;
}

static void test_caller_environment_does_not_reach_the_command(void **state)
{
        char dir[] = "/tmp/vfioctl-hostcmd-XXXXXX", out[64], *text = NULL, *err = NULL;
        vfio_host *h = NULL;
        vfio_hostcmd c = {};

        (void)state;
        assert_non_null(mkdtemp(dir));
        snprintf(out, sizeof(out), "%s/seen", dir);
        char *argv[] = { (char *)"/bin/sh", (char *)"-c",
                         (char *)"env > \"$0\"; echo \"cwd=$(pwd)\" >> \"$0\"", out, NULL };
        c.argv = argv;
        /* What a caller's environment could carry into root's tools. */
        assert_int_equal(setenv("BASH_ENV", "/home/u/evil.sh", 1), 0);
        assert_int_equal(setenv("APT_CONFIG", "/home/u/apt.conf", 1), 0);
        assert_int_equal(setenv("LD_PRELOAD", "/home/u/evil.so", 1), 0);
        assert_int_equal(setenv("PATH", "/home/u/bin:/usr/bin:/bin", 1), 0);
        assert_int_equal(setenv("TERM", "xterm-256color", 1), 0);
        assert_int_equal(chdir(dir), 0);

        assert_int_equal(vfio_host_open("/", &h), 0);
        assert_int_equal(vfio_hostcmd_run(h, &c, false, &err), 0);
        assert_null(err);
        assert_int_equal(read_out(out, &text), 0);
        assert_null(strstr(text, "BASH_ENV"));
        assert_null(strstr(text, "APT_CONFIG"));
        assert_null(strstr(text, "LD_PRELOAD"));
        assert_null(strstr(text, "/home/u"));
        assert_non_null(strstr(text, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"));
        assert_non_null(strstr(text, "cwd=/\n"));
        /* Output not shown on a terminal: no TERM either. */
        assert_null(strstr(text, "TERM="));
        free(text);
        text = NULL;

        /* On guide's terminal a plain TERM is kept (apt's and dracut's progress), a crafted one is not. */
        assert_int_equal(vfio_hostcmd_run(h, &c, true, &err), 0);
        assert_int_equal(read_out(out, &text), 0);
        assert_non_null(strstr(text, "TERM=xterm-256color\n"));
        free(text);
        text = NULL;
        assert_int_equal(setenv("TERM", "../../home/u/terminfo", 1), 0);
        assert_int_equal(vfio_hostcmd_run(h, &c, true, &err), 0);
        assert_int_equal(read_out(out, &text), 0);
        assert_null(strstr(text, "TERM="));
        free(text);

        vfio_host_free(h);
        assert_int_equal(chdir("/"), 0);
        assert_int_equal(unlink(out), 0);
        assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_caller_environment_does_not_reach_the_command),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
