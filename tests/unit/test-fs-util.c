/* The one way files and directories are made (fs-util), the one whole write (fileio) and the one shell
 * quoting (escape). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "escape.h"
#include "fileio.h"
#include "fs-util.h"

static char *tmpdir(void)
{
        char *d = strdup("/tmp/vfioctl-test-fs-util-XXXXXX");

        assert_non_null(d);
        assert_non_null(mkdtemp(d));
        return d;
}

static void rm_rf(const char *d)
{
        char cmd[512];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
        assert_int_equal(system(cmd), 0);
}

static char *slurp(const char *path)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        char *s = NULL;

        assert_true(fd >= 0);
        assert_int_equal(read_full_fd(fd, 1 << 20, &s, NULL), 0);
        return s;
}

/* Entries of dir other than . and .. (the file itself and any temporary file left beside it). */
static int entries(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        n++;
        closedir(d);
        return n;
}

static void test_shell_quote(void **state)
{
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "plain", "plain" },
                { "/srv/vm/disk.qcow2", "/srv/vm/disk.qcow2" },
                { "vfio-pci,host=0000:01:00.0", "vfio-pci,host=0000:01:00.0" },
                { "", "''" },
                { "my vm.conf", "'my vm.conf'" },
                { "it's", "'it'\\''s'" },
                { "$(reboot)", "'$(reboot)'" },
                { "a;b", "'a;b'" },
                { "*", "'*'" },
                { "new\nline", "'new\nline'" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *q = shell_quote(cases[i].in);

                assert_string_equal(q, cases[i].out);
        }
}

static void test_write_atomic_replaces_with_mode(void **state)
{
        _cleanup_free_ char *d = tmpdir(), *p = NULL, *text = NULL;
        struct stat st;
        mode_t old = umask(077);

        assert_true(asprintf(&p, "%s/vm.conf", d) > 0);
        assert_int_equal(write_file_atomic(p, "first\n", 6, 0644, 0), 0);
        assert_int_equal(write_file_atomic(p, "second\n", 7, 0644, 0), 0);
        umask(old);
        text = slurp(p);
        assert_string_equal(text, "second\n");
        /* The mode promised, whatever the umask said. */
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(entries(d), 1);
        rm_rf(d);
}

static void test_write_atomic_noreplace(void **state)
{
        _cleanup_free_ char *d = tmpdir(), *p = NULL, *text = NULL;

        assert_true(asprintf(&p, "%s/vm.conf", d) > 0);
        assert_int_equal(write_file_atomic(p, "mine", 4, 0600, WRITE_ATOMIC_NOREPLACE), 0);
        assert_int_equal(write_file_atomic(p, "theirs", 6, 0600, WRITE_ATOMIC_NOREPLACE), -EEXIST);
        text = slurp(p);
        assert_string_equal(text, "mine");
        assert_int_equal(entries(d), 1);
        rm_rf(d);
}

static void test_write_atomic_failure_leaves_nothing(void **state)
{
        _cleanup_free_ char *d = tmpdir(), *p = NULL;
        _cleanup_close_ int dfd = -EBADF;

        /* The name is a directory: the rename fails, the temporary file goes, the directory stays. */
        assert_true(asprintf(&p, "%s/taken", d) > 0);
        assert_int_equal(mkdir(p, 0755), 0);
        assert_true(write_file_atomic(p, "x", 1, 0644, 0) < 0);
        assert_int_equal(entries(d), 1);
        /* No such directory: nothing is created anywhere. */
        free(p);
        assert_true(asprintf(&p, "%s/missing/vm.conf", d) > 0);
        assert_int_equal(write_file_atomic(p, "x", 1, 0644, 0), -ENOENT);
        assert_int_equal(entries(d), 1);
        /* The temporary names are recognised exactly, nothing else. */
        assert_true(atomic_temp_name(".#vfioctl.0123456789abcdef"));
        assert_false(atomic_temp_name(".#vfioctl.0123456789abcde"));
        assert_false(atomic_temp_name(".#vfioctl.0123456789abcdefg"));
        assert_false(atomic_temp_name("vm.conf"));
        dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        assert_int_equal(write_file_atomic_at(dfd, "at.conf", "y", 1, 0600, 0), 0);
        assert_int_equal(entries(d), 2);
        rm_rf(d);
}

static void test_symlink_atomic(void **state)
{
        _cleanup_free_ char *d = tmpdir(), *p = NULL, *q = NULL;
        _cleanup_close_ int dfd = -EBADF;
        char buf[64];
        ssize_t n;

        dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        assert_true(asprintf(&p, "%s/vm.service", d) > 0);
        assert_int_equal(symlink_atomic_at(dfd, "vm.service", "/first"), 0);
        /* An existing link is replaced in one rename: the name never goes missing. */
        assert_int_equal(symlink_atomic_at(dfd, "vm.service", "/second"), 0);
        n = readlink(p, buf, sizeof(buf) - 1);
        assert_true(n > 0);
        buf[n] = 0;
        assert_string_equal(buf, "/second");
        assert_int_equal(entries(d), 1);
        /* A directory at the name: the rename fails, the directory stays, no temporary link is left. */
        assert_true(asprintf(&q, "%s/taken", d) > 0);
        assert_int_equal(mkdir(q, 0755), 0);
        assert_true(symlink_atomic_at(dfd, "taken", "/x") < 0);
        assert_int_equal(entries(d), 2);
        rm_rf(d);
}

static void on_alarm(int sig)
{
        (void)sig;
}

/*
 * A slow reader and a timer interrupting write() without SA_RESTART: write() then returns short counts
 * and EINTR, and write_full_fd still delivers every byte, in order.
 */
static void test_write_full_fd_survives_short_writes(void **state)
{
        const size_t len = 8u << 20;
        _cleanup_free_ unsigned char *data = malloc(len);
        struct sigaction sa = { .sa_handler = on_alarm }, old;
        struct itimerval tick = { .it_interval = { 0, 500 }, .it_value = { 0, 500 } }, off = {};
        int p[2], status;
        pid_t pid;

        assert_non_null(data);
        for (size_t i = 0; i < len; i++)
                data[i] = (unsigned char)(i * 131 + (i >> 13));
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* The reader: small reads with pauses, so the writer blocks with the pipe full. */
                unsigned char buf[4096];
                size_t got = 0;
                ssize_t n;

                close(p[1]);
                while ((n = read(p[0], buf, sizeof(buf))) > 0) {
                        if (got + (size_t)n > len || memcmp(buf, data + got, (size_t)n) != 0)
                                _exit(2);
                        got += (size_t)n;
                        if (got % (1u << 20) < (size_t)n)
                                usleep(2000);
                }
                _exit(got == len ? 0 : 3);
        }
        close(p[0]);
        assert_int_equal(sigaction(SIGALRM, &sa, &old), 0); /* no SA_RESTART */
        assert_int_equal(setitimer(ITIMER_REAL, &tick, NULL), 0);
        assert_int_equal(write_full_fd(p[1], data, len), 0);
        assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
        assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
        close(p[1]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        /* A descriptor that cannot be written: the error, not a loop. */
        assert_int_equal(write_full_fd(-1, "x", 1), -EBADF);
}

static void test_mkdir_p(void **state)
{
        _cleanup_free_ char *d = tmpdir(), *p = NULL, *f = NULL;
        struct stat st;

        assert_true(asprintf(&p, "%s/a/b//c/", d) > 0);
        assert_int_equal(mkdir_p(p, 0700), 1);
        assert_int_equal(stat(p, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0700);
        assert_int_equal(mkdir_p(p, 0700), 0); /* there already */
        /* A file where a directory should be. */
        assert_true(asprintf(&f, "%s/file", d) > 0);
        assert_int_equal(write_file_atomic(f, "x", 1, 0644, 0), 0);
        free(p);
        assert_true(asprintf(&p, "%s/file/sub", d) > 0);
        assert_true(mkdir_p(p, 0755) < 0);
        assert_int_equal(mkdir_p(f, 0755), -ENOTDIR);
        rm_rf(d);
}

static void test_chown_never_follows_a_symlink(void **state)
{
        _cleanup_free_ char *d = tmpdir(), *target = NULL, *link = NULL, *own = NULL;
        struct stat st;

        assert_true(asprintf(&target, "%s/target", d) > 0);
        assert_true(asprintf(&link, "%s/link", d) > 0);
        assert_true(asprintf(&own, "%s/own", d) > 0);
        assert_int_equal(mkdir(target, 0700), 0);
        assert_int_equal(symlink(target, link), 0);
        /* What another user could plant: the link is refused, the directory it names is untouched. */
        assert_true(chown_dir_nofollow(link, getuid(), getgid()) < 0);
        assert_true(mkdir_p_owned(link, 0700, getuid(), getgid()) < 0);
        /* A real directory is made and given to the owner asked for (ours: no privilege needed). */
        assert_int_equal(mkdir_p_owned(own, 0700, getuid(), getgid()), 1);
        assert_int_equal(stat(own, &st), 0);
        assert_int_equal(st.st_uid, getuid());
        assert_int_equal(mkdir_p_owned(own, 0700, getuid(), getgid()), 0);
        rm_rf(d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_shell_quote),
                cmocka_unit_test(test_write_atomic_replaces_with_mode),
                cmocka_unit_test(test_write_atomic_noreplace),
                cmocka_unit_test(test_write_atomic_failure_leaves_nothing),
                cmocka_unit_test(test_symlink_atomic),
                cmocka_unit_test(test_write_full_fd_survives_short_writes),
                cmocka_unit_test(test_mkdir_p),
                cmocka_unit_test(test_chown_never_follows_a_symlink),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
