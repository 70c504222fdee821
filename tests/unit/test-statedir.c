/* Root preparing the VM user's state directory (issue 15 items 1 and 2, library part): whatever the VM user
 * put there (a link, a hard link, a FIFO, a directory), nothing outside changes owner, mode or content. */
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
#include <unistd.h>

#include <cmocka.h>

#include "vfioctl/statedir.h"

#define VM_UID 4242u
#define VM_GID 4243u

static char top[] = "/tmp/test-statedir-XXXXXX";
static int tpl = -1;

static char *at(const char *rel)
{
        static char p[4][4096];
        static int k;

        k = (k + 1) % 4;
        snprintf(p[k], sizeof(p[k]), "%s/%s", top, rel);
        return p[k];
}

static void put(const char *rel, const char *text, mode_t mode)
{
        int fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
        assert_int_equal(chmod(at(rel), mode), 0);
}

static void expect_mode_owner(const char *rel, mode_t mode, uid_t uid)
{
        struct stat st;

        assert_int_equal(lstat(at(rel), &st), 0);
        assert_int_equal(st.st_mode & 07777, mode);
        assert_int_equal(st.st_uid, uid);
}

static int setup(void **state)
{
        (void)state;
        if (geteuid() != 0)
                return 0;
        if (!mkdtemp(top))
                return -1;
        chmod(top, 0755);
        put("template.fd", "TEMPLATE", 0644);
        put("secret", "root only", 0600);
        tpl = open(at("template.fd"), O_RDONLY | O_CLOEXEC);
        return tpl >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
        char cmd[4200];

        (void)state;
        if (geteuid() != 0)
                return 0;
        close(tpl);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
        return system(cmd) == 0 ? 0 : -1;
}

static void test_state_dir_made_for_the_vm_user(void **state)
{
        char *err = NULL;
        int fd = -1;

        (void)state;
        if (geteuid() != 0)
                skip();
        assert_int_equal(vm_statedir_open(at("var/lib/vfioctl/vm1"), VM_UID, VM_GID, &fd, &err), 0);
        close(fd);
        expect_mode_owner("var/lib/vfioctl", 0755, 0);
        expect_mode_owner("var/lib/vfioctl/vm1", 0700, VM_UID);
        /* A link where the state directory goes is not followed, nor chowned through. */
        assert_int_equal(symlink(at("secret"), at("var/lib/vfioctl/vm2")), 0);
        assert_int_equal(vm_statedir_open(at("var/lib/vfioctl/vm2"), VM_UID, VM_GID, &fd, &err), -ELOOP);
        assert_non_null(strstr(err, "remove it"));
        free(err);
        err = NULL;
        expect_mode_owner("secret", 0600, 0);
        /* A parent another user owns: refused. */
        assert_int_equal(mkdir(at("home"), 0755), 0);
        assert_int_equal(chown(at("home"), VM_UID, VM_GID), 0);
        assert_true(vm_statedir_open(at("home/vm3"), VM_UID, VM_GID, &fd, &err) < 0);
        free(err);
}

/* A root-only directory above the state directory: QEMU, as the VM user, could not reach its files there
 * ("Permission denied" opening the OVMF variable store): refused before QEMU runs, with the fix. */
static void test_parent_the_vm_user_cannot_search_refused(void **state)
{
        char *err = NULL;
        int fd = -1;

        (void)state;
        if (geteuid() != 0)
                skip();
        assert_int_equal(mkdir(at("closed"), 0700), 0);
        assert_int_equal(chmod(at("closed"), 0700), 0);
        assert_int_equal(vm_statedir_open(at("closed/vm4"), VM_UID, VM_GID, &fd, &err), -EACCES);
        assert_non_null(err);
        assert_non_null(strstr(err, "chmod 755"));
        free(err);
        err = NULL;
        assert_int_equal(access(at("closed/vm4"), F_OK), -1); /* nothing made */
        /* Without a VM user (not root: no privilege dropped) the caller's own directory is fine. */
        assert_int_equal(vm_statedir_open(at("closed/vm5"), (uid_t)-1, (gid_t)-1, &fd, &err), 0);
        close(fd);
}

/* Item 1: the TPM directory replaced by the VM user. */
static void test_tpm_dir_never_followed(void **state)
{
        static const char *kinds[] = { "symlink-file", "symlink-dir", "hardlink", "fifo" };
        char *err = NULL;
        int fd = -1;

        (void)state;
        if (geteuid() != 0)
                skip();
        assert_int_equal(mkdir(at("victimdir"), 0755), 0);
        assert_int_equal(vm_statedir_open(at("var/lib/vfioctl/tpmvm"), VM_UID, VM_GID, &fd, &err), 0);
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
                unlink(at("var/lib/vfioctl/tpmvm/tpm"));
                if (strcmp(kinds[i], "symlink-file") == 0)
                        assert_int_equal(symlink(at("secret"), at("var/lib/vfioctl/tpmvm/tpm")), 0);
                else if (strcmp(kinds[i], "symlink-dir") == 0)
                        assert_int_equal(symlink(at("victimdir"), at("var/lib/vfioctl/tpmvm/tpm")), 0);
                else if (strcmp(kinds[i], "hardlink") == 0)
                        assert_int_equal(link(at("secret"), at("var/lib/vfioctl/tpmvm/tpm")), 0);
                else
                        assert_int_equal(mkfifo(at("var/lib/vfioctl/tpmvm/tpm"), 0600), 0);
                assert_true(vm_statedir_subdir(fd, at("var/lib/vfioctl/tpmvm"), "tpm", VM_UID, VM_GID,
                                               &err) < 0);
                free(err);
                err = NULL;
                expect_mode_owner("secret", 0600, 0);
                expect_mode_owner("victimdir", 0755, 0);
        }
        unlink(at("var/lib/vfioctl/tpmvm/tpm"));
        assert_int_equal(vm_statedir_subdir(fd, at("var/lib/vfioctl/tpmvm"), "tpm", VM_UID, VM_GID, &err),
                         0);
        expect_mode_owner("var/lib/vfioctl/tpmvm/tpm", 0700, VM_UID);
        close(fd);
}

static void test_vars_copy_never_redirected(void **state)
{
        char *err = NULL, buf[64] = "";
        int fd = -1, r;

        (void)state;
        if (geteuid() != 0)
                skip();
        assert_int_equal(vm_statedir_open(at("var/lib/vfioctl/varsvm"), VM_UID, VM_GID, &fd, &err), 0);
        close(fd);
        /* Made from the template: the VM user's, 0600. */
        assert_int_equal(
                vm_statedir_vars(at("var/lib/vfioctl/varsvm/OVMF_VARS.fd"), tpl, VM_UID, VM_GID, &err), 1);
        expect_mode_owner("var/lib/vfioctl/varsvm/OVMF_VARS.fd", 0600, VM_UID);
        fd = open(at("var/lib/vfioctl/varsvm/OVMF_VARS.fd"), O_RDONLY | O_CLOEXEC);
        assert_int_equal(read(fd, buf, sizeof(buf) - 1), 8);
        close(fd);
        assert_string_equal(buf, "TEMPLATE");
        /* There already: kept. */
        assert_int_equal(
                vm_statedir_vars(at("var/lib/vfioctl/varsvm/OVMF_VARS.fd"), tpl, VM_UID, VM_GID, &err), 0);
        /* What the VM user can put there instead: refused, nothing outside touched, no hang. */
        alarm(30);
        for (int k = 0; k < 4; k++) {
                unlink(at("var/lib/vfioctl/varsvm/OVMF_VARS.fd"));
                rmdir(at("var/lib/vfioctl/varsvm/OVMF_VARS.fd"));
                if (k == 0)
                        assert_int_equal(symlink(at("secret"), at("var/lib/vfioctl/varsvm/OVMF_VARS.fd")),
                                         0);
                else if (k == 1)
                        assert_int_equal(link(at("secret"), at("var/lib/vfioctl/varsvm/OVMF_VARS.fd")), 0);
                else if (k == 2)
                        assert_int_equal(mkfifo(at("var/lib/vfioctl/varsvm/OVMF_VARS.fd"), 0600), 0);
                else
                        assert_int_equal(mkdir(at("var/lib/vfioctl/varsvm/OVMF_VARS.fd"), 0700), 0);
                r = vm_statedir_vars(at("var/lib/vfioctl/varsvm/OVMF_VARS.fd"), tpl, VM_UID, VM_GID, &err);
                assert_true(r < 0);
                assert_non_null(strstr(err, "remove it"));
                free(err);
                err = NULL;
                expect_mode_owner("secret", 0600, 0);
        }
        alarm(0);
        /* A directory of a third user for the vars: refused. */
        assert_int_equal(mkdir(at("third"), 0755), 0);
        assert_int_equal(chown(at("third"), 5555, 5555), 0);
        assert_true(vm_statedir_vars(at("third/OVMF_VARS.fd"), tpl, VM_UID, VM_GID, &err) < 0);
        free(err);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_state_dir_made_for_the_vm_user),
                cmocka_unit_test(test_parent_the_vm_user_cannot_search_refused),
                cmocka_unit_test(test_tpm_dir_never_followed),
                cmocka_unit_test(test_vars_copy_never_redirected),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
