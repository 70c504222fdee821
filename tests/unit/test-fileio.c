/* The file helpers a sysfs scan leans on: one-read attributes, batched closes, directory listings. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"
#include "strv.h"

static char dir[] = "/tmp/vfioctl-test-fileio-XXXXXX";

static void put(const char *name, const char *data, size_t len)
{
        char path[256];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t)len);
        close(fd);
}

static int setup(void **state)
{
        (void)state;
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
        char cmd[300];

        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static void test_read_virtual_keeps_read_attr_at_contract(void **state)
{
        char buf[VIRTUAL_BUF_SIZE(8)], big[9];
        int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);

        (void)state;
        assert_true(dfd >= 0);
        put("a", "0x8086\n", 7);
        assert_int_equal(read_virtual_at(dfd, "a", buf, sizeof(buf)), 6);
        assert_string_equal(buf, "0x8086");
        put("empty", "", 0);
        assert_int_equal(read_virtual_at(dfd, "empty", buf, sizeof(buf)), 0);
        assert_string_equal(buf, "");
        /* Exactly the cap fits; one byte more is too long, a trailing newline too (it counts, as in
         * read_attr_at: a sysfs page holds the value and its newline). */
        memset(big, 'x', 8);
        put("eight", big, 8);
        assert_int_equal(read_virtual_at(dfd, "eight", buf, sizeof(buf)), 8);
        big[8] = '\n';
        put("eightnl", big, 9);
        assert_int_equal(read_virtual_at(dfd, "eightnl", buf, sizeof(buf)), -EFBIG);
        big[7] = '\n';
        put("sevennl", big, 8);
        assert_int_equal(read_virtual_at(dfd, "sevennl", buf, sizeof(buf)), 7);
        big[7] = 'x';
        big[8] = 'x';
        put("nine", big, 9);
        assert_int_equal(read_virtual_at(dfd, "nine", buf, sizeof(buf)), -EFBIG);
        put("nul", "ab\0c\n", 5);
        assert_int_equal(read_virtual_at(dfd, "nul", buf, sizeof(buf)), -EBADMSG);
        assert_int_equal(read_virtual_at(dfd, "missing", buf, sizeof(buf)), -ENOENT);
        close(dfd);
}

static bool is_open(int fd)
{
        return fcntl(fd, F_GETFD) >= 0;
}

static void test_close_many_closes_only_its_own(void **state)
{
        int fds[6], copy[6], other, n = 0;

        (void)state;
        /* Three in a row, one that is not ours, two more: two runs around the stranger. */
        for (int i = 0; i < 3; i++)
                fds[n++] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        other = open("/dev/null", O_RDONLY | O_CLOEXEC);
        for (int i = 0; i < 2; i++)
                fds[n++] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        fds[n++] = -ENOENT; /* a failed open stays a negative errno and is skipped */
        for (int i = 0; i < 5; i++)
                assert_true(is_open(fds[i]));
        memcpy(copy, fds, sizeof(fds));
        close_many(fds, (size_t)n);
        for (int i = 0; i < n; i++)
                assert_true(fds[i] < 0);
        for (int i = 0; i < 5; i++)
                assert_false(is_open(copy[i]));
        assert_true(is_open(other));
        close(other);
}

static void test_fd_batch_closes_when_full_and_on_flush(void **state)
{
        fd_batch b = { .n = 0 };
        int first[60], second[61], held[120], last[3], other;

        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(first); i++)
                first[i] = held[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        fd_batch_add(&b, first, ELEMENTSOF(first));
        assert_int_equal(b.n, 60);
        assert_true(first[0] < 0 && first[59] < 0); /* the batch owns them now */
        assert_true(is_open(held[0]) && is_open(held[59]));

        /* 60 more fit (120 of 128), but 60 after those would not: all 120 are closed now. */
        other = open("/dev/null", O_RDONLY | O_CLOEXEC);
        for (size_t i = 0; i < 60; i++)
                second[i] = held[60 + i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        second[60] = -ENOENT; /* a failed open is skipped */
        fd_batch_add(&b, second, ELEMENTSOF(second));
        assert_int_equal(b.n, 0);
        for (size_t i = 0; i < ELEMENTSOF(held); i++)
                assert_false(is_open(held[i]));
        assert_true(is_open(other)); /* in between, but not the batch's */

        for (size_t i = 0; i < ELEMENTSOF(last); i++)
                last[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        memcpy(held, last, sizeof(last));
        fd_batch_add(&b, last, ELEMENTSOF(last));
        assert_int_equal(b.n, 3);
        assert_true(is_open(held[2]));
        fd_batch_flush(&b);
        assert_int_equal(b.n, 0);
        for (size_t i = 0; i < ELEMENTSOF(last); i++)
                assert_false(is_open(held[i]));
        assert_true(is_open(other));
        close(other);
}

static void test_dir_names_are_sorted_and_capped(void **state)
{
        char sub[300], name[16];
        char **l = NULL;
        int fd;

        (void)state;
        snprintf(sub, sizeof(sub), "%s/d", dir);
        assert_int_equal(mkdir(sub, 0755), 0);
        for (int i = 0; i < 300; i++) {
                char path[340];

                snprintf(name, sizeof(name), "n%03d", 299 - i);
                snprintf(path, sizeof(path), "%s/%s", sub, name);
                close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
        }
        fd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_int_equal(read_dir_names_fd(fd, 300, &l), 0);
        assert_int_equal(strv_length(l), 300);
        assert_string_equal(l[0], "n000");
        assert_string_equal(l[299], "n299");
        strv_free(l);
        close(fd);
        fd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        l = NULL;
        assert_int_equal(read_dir_names_fd(fd, 299, &l), -E2BIG);
        assert_null(l);
        close(fd);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_read_virtual_keeps_read_attr_at_contract),
                cmocka_unit_test(test_close_many_closes_only_its_own),
                cmocka_unit_test(test_fd_batch_closes_when_full_and_on_flush),
                cmocka_unit_test(test_dir_names_are_sorted_and_capped),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
