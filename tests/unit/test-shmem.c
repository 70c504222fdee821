/*
 * Looking Glass's shared memory file: made with owner, group, mode and size; an existing one resized; and
 * every thing a user can plant at the name in /dev/shm (a link, a hard link, a FIFO, a directory link, a
 * file of someone else) refused with nothing done to what it points at. Runs in /dev/shm itself, the
 * sticky root-owned directory the file lives in; as root the ownership cases use uid 65534.
 */
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

#include "vfioctl/shmem.h"

static char path[128], target[128], dirlink[128];

static int setup(void **state)
{
        snprintf(path, sizeof(path), "/dev/shm/vfioctl-test-shmem-%d", (int)getpid());
        snprintf(target, sizeof(target), "/dev/shm/vfioctl-test-shmem-%d-target", (int)getpid());
        snprintf(dirlink, sizeof(dirlink), "/dev/shm/vfioctl-test-shmem-%d-dir", (int)getpid());
        return access("/dev/shm", W_OK) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
        unlink(path);
        unlink(target);
        unlink(dirlink);
        return 0;
}

static void make_target(void)
{
        int fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, "precious\n", 9), 9);
        close(fd);
}

static void assert_target_untouched(void)
{
        struct stat st;

        assert_int_equal(stat(target, &st), 0);
        assert_int_equal(st.st_size, 9);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(st.st_uid, getuid());
}

static void test_creates_with_owner_group_mode_size(void **state)
{
        struct stat st;
        char *err = NULL;

        assert_int_equal(vm_shmem_prepare(path, getuid(), getgid(), 1 << 20, &err), 0);
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0660);
        assert_int_equal(st.st_size, 1 << 20);
        assert_int_equal(st.st_uid, getuid());
        assert_int_equal(st.st_gid, getgid());
        /* an existing file of the right owner is kept and resized */
        assert_int_equal(chmod(path, 0644), 0);
        assert_int_equal(vm_shmem_prepare(path, getuid(), getgid(), 2 << 20, &err), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_size, 2 << 20);
        assert_int_equal(st.st_mode & 07777, 0660);
        free(err);
}

static void test_refuses_what_was_planted(void **state)
{
        char *err = NULL;

        make_target();
        assert_int_equal(symlink(target, path), 0);
        assert_int_equal(vm_shmem_prepare(path, getuid(), getgid(), 1 << 20, &err), -ELOOP);
        assert_non_null(strstr(err, "is a symbolic link"));
        assert_non_null(strstr(err, "rm "));
        assert_target_untouched();
        unlink(path);

        assert_int_equal(link(target, path), 0);
        assert_int_equal(vm_shmem_prepare(path, getuid(), getgid(), 1 << 20, &err), -EPERM);
        assert_non_null(strstr(err, "2 links"));
        assert_target_untouched();
        unlink(path);

        assert_int_equal(mkfifo(path, 0600), 0);
        assert_int_equal(vm_shmem_prepare(path, getuid(), getgid(), 1 << 20, &err), -EPERM);
        assert_non_null(strstr(err, "is not a regular file"));
        unlink(path);

        /* a directory on the way that is a link: never walked through */
        assert_int_equal(symlink("/dev/shm", dirlink), 0);
        {
                char inner[200];

                snprintf(inner, sizeof(inner), "%s/x", dirlink);
                assert_int_equal(vm_shmem_prepare(inner, getuid(), getgid(), 1 << 20, &err), -ELOOP);
                assert_non_null(strstr(err, "-dir is a symbolic link; name the real directory"));
        }
        free(err);
}

static void test_refuses_another_owners_file(void **state)
{
        char *err = NULL;
        struct stat st;

        if (getuid() != 0) {
                print_message("not root: a file of another owner cannot be made here\n");
                skip();
        }
        make_target();
        assert_int_equal(rename(target, path), 0);
        assert_int_equal(chown(path, 65534, 65534), 0);
        /* root prepares it for uid 1234: the file of uid 65534 is not handed over */
        assert_int_equal(vm_shmem_prepare(path, 1234, 1234, 1 << 20, &err), -EPERM);
        assert_non_null(strstr(err, "(uid 65534, 1 links) is not the VM user's (uid 1234)"));
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_uid, 65534);
        assert_int_equal(st.st_size, 9);
        /* the same file for its owner: chown to the desktop group, 0660, sized */
        assert_int_equal(vm_shmem_prepare(path, 65534, 1234, 1 << 20, &err), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_gid, 1234);
        assert_int_equal(st.st_mode & 07777, 0660);
        assert_int_equal(st.st_size, 1 << 20);
        free(err);
}

static void test_directory_must_be_roots(void **state)
{
        char dir[] = "/tmp/vfioctl-test-shmem-XXXXXX", inner[64], *err = NULL;

        assert_non_null(mkdtemp(dir));
        snprintf(inner, sizeof(inner), "%s/lg", dir);
        if (getuid() == 0)
                assert_int_equal(chown(dir, 65534, 65534), 0);
        /* a directory its owner (not root) controls could swap what root works on */
        assert_int_equal(vm_shmem_prepare(inner, getuid(), getgid(), 1 << 20, &err), -EPERM);
        assert_non_null(strstr(err, "is not a directory only root controls"));
        assert_int_equal(access(inner, F_OK), -1);
        rmdir(dir);
        free(err);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_creates_with_owner_group_mode_size, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refuses_what_was_planted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refuses_another_owners_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_directory_must_be_roots, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
