/* The permission walk on scratch trees: each way a non-root user could change what root reads is caught. */
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
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "vfioctl/perm.h"

#define VM_UID    4242u
#define VM_GID    4242u
#define KVM_GID   4300u
#define THIRD_UID 5555u

static char root[] = "/tmp/test-perm-XXXXXX";
static vfio_account vm;
static char *vm_groups[] = { (char *)"vmuser", (char *)"kvm", NULL };
static uint32_t vm_gids[] = { VM_GID, KVM_GID };

/* Creates root/rel (a directory when rel ends in '/', else a file) with that owner and mode. */
static void mk(const char *rel, uid_t uid, gid_t gid, mode_t mode)
{
        char p[4096];
        size_t n;

        snprintf(p, sizeof(p), "%s/%s", root, rel);
        n = strlen(p);
        if (p[n - 1] == '/') {
                p[n - 1] = 0;
                assert_true(mkdir(p, 0755) == 0 || errno == EEXIST);
        } else {
                int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

                assert_true(fd >= 0);
                close(fd);
        }
        assert_int_equal(chown(p, uid, gid), 0);
        assert_int_equal(chmod(p, mode), 0);
}

static void ln(const char *target, const char *rel)
{
        char p[4096];

        snprintf(p, sizeof(p), "%s/%s", root, rel);
        assert_int_equal(symlink(target, p), 0);
}

static int setup(void **state)
{
        (void)state;
        if (geteuid() != 0)
                return 0;
        if (!mkdtemp(root))
                return -1;
        assert_int_equal(chmod(root, 0755), 0);
        vm = (vfio_account){
                .name = (char *)"vmuser", .uid = VM_UID, .gid = VM_GID, .groups = vm_groups, .gids = vm_gids
        };
        mk("etc/", 0, 0, 0755);
        mk("etc/vfioctl/", 0, 0, 0755);
        mk("etc/vfioctl/good.conf", 0, 0, 0644);
        mk("etc/vfioctl/world.conf", 0, 0, 0666);
        mk("etc/vfioctl/vmowned.conf", VM_UID, VM_GID, 0644);
        mk("etc/vfioctl/kvmgroup.conf", 0, KVM_GID, 0664);
        mk("etc/vfioctl/rootgroup.conf", 0, 0, 0664);
        mk("srv/", 0, 0, 0755);
        mk("srv/vm/", VM_UID, VM_GID, 0755);
        mk("srv/vm/disk.qcow2", VM_UID, VM_GID, 0600);
        mk("srv/kvm/", 0, KVM_GID, 0775);
        mk("srv/kvm/x.conf", 0, 0, 0644);
        mk("var/", 0, 0, 0755);
        mk("var/lib/", 0, 0, 0755);
        mk("var/lib/vfioctl/", 0, 0, 0755);
        mk("var/lib/vfioctl/disk.qcow2", VM_UID, VM_GID, 0600);
        mk("var/lib/vfioctl/third.qcow2", THIRD_UID, THIRD_UID, 0600);
        mk("var/lib/vfioctl/shared.qcow2", VM_UID, VM_GID, 0666);
        mk("var/lib/vfioctl/OVMF_VARS.fd", VM_UID, KVM_GID, 0660);
        mk("var/lib/vfioctl/my vm.conf", THIRD_UID, 0, 0644);
        mk("tmp/", 0, 0, 01777);
        mk("tmp/root.conf", 0, 0, 0644);
        mk("tmp/disk.qcow2", VM_UID, VM_GID, 0600);
        mk("home/", 0, 0, 0755);
        mk("home/vmuser/", VM_UID, VM_GID, 0700);
        mk("home/vmuser/real.conf", 0, 0, 0644);
        /* Links: each is safe in itself (root's directory); what they point to decides. */
        ln("/home/vmuser/real.conf", "etc/vfioctl/abs-link.conf");
        ln("../../home/vmuser/real.conf", "etc/vfioctl/rel-link.conf");
        ln("good.conf", "etc/vfioctl/ok-link.conf");
        ln("/srv/../etc/./vfioctl/good.conf", "etc/vfioctl/dotdot-link.conf");
        ln("loop-b", "etc/vfioctl/loop-a");
        ln("loop-a", "etc/vfioctl/loop-b");
        ln("/etc/vfioctl", "etc/dir-link");
        return 0;
}

static int teardown(void **state)
{
        char *argv[] = { (char *)"rm", (char *)"-rf", root, NULL };
        pid_t pid;

        (void)state;
        if (geteuid() != 0 || strstr(root, "XXXXXX"))
                return 0;
        pid = fork();
        if (pid == 0) {
                execv("/bin/rm", argv);
                _exit(127);
        }
        return pid > 0 ? 0 : -1;
}

/* Checks path; returns the result and leaves the issue (if any) in *issue. */
static int check(const char *path, unsigned flags, vfio_perm_issue **issue)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;

        *issue = NULL;
        assert_int_equal(vfio_host_open(root, &h), 0);
        return vfio_perm_check_path(h, path, &vm, flags, issue);
}

static void expect_issue(const char *path, unsigned flags, const char *at, vfio_perm_reason reason,
                         const char *fix)
{
        _cleanup_(vfio_perm_issue_freep) vfio_perm_issue *i = NULL;

        assert_int_equal(check(path, flags, &i), 1);
        assert_non_null(i);
        assert_string_equal(i->path, at);
        assert_int_equal(i->reason, reason);
        assert_string_equal(i->fix, fix);
}

static void expect_safe(const char *path, unsigned flags)
{
        _cleanup_(vfio_perm_issue_freep) vfio_perm_issue *i = NULL;
        int r = check(path, flags, &i);

        if (r == 1)
                fail_msg("%s: unexpected issue at %s (%s)", path, i->path,
                         vfio_perm_reason_to_string(i->reason));
        assert_int_equal(r, 0);
        assert_null(i);
}

#define NEED_ROOT()                                                   \
        do {                                                          \
                if (geteuid() != 0)                                   \
                        skip(); /* chown to other users needs root */ \
        } while (0)

static void test_root_owned_config_is_safe(void **state)
{
        (void)state;
        NEED_ROOT();
        expect_safe("/etc/vfioctl/good.conf", 0);
        expect_safe("/etc/vfioctl/ok-link.conf", 0);
        expect_safe("/etc/vfioctl/dotdot-link.conf", 0);
        expect_safe("/etc/dir-link/good.conf", 0);
        /* Root's group writing is root writing, as long as the VM user is not in group root. */
        expect_safe("/etc/vfioctl/rootgroup.conf", 0);
}

static void test_writable_config_refused(void **state)
{
        (void)state;
        NEED_ROOT();
        expect_issue("/etc/vfioctl/world.conf", 0, "/etc/vfioctl/world.conf", VFIO_PERM_WORLD_WRITABLE,
                     "chmod o-w /etc/vfioctl/world.conf");
        expect_issue("/etc/vfioctl/vmowned.conf", 0, "/etc/vfioctl/vmowned.conf", VFIO_PERM_NOT_ROOT_OWNED,
                     "chown root:root /etc/vfioctl/vmowned.conf && chmod go-w /etc/vfioctl/vmowned.conf");
        expect_issue("/etc/vfioctl/kvmgroup.conf", 0, "/etc/vfioctl/kvmgroup.conf", VFIO_PERM_GROUP_WRITABLE,
                     "chmod g-w /etc/vfioctl/kvmgroup.conf");
}

static void test_writable_parent_refused(void **state)
{
        (void)state;
        NEED_ROOT();
        /* The VM user owns /srv/vm: it can rename disk.qcow2 away and put anything in its place. */
        expect_issue("/srv/vm/disk.qcow2", VFIO_PERM_VM_MAY_WRITE, "/srv/vm", VFIO_PERM_NOT_ROOT_OWNED,
                     "chown root:root /srv/vm && chmod go-w /srv/vm");
        expect_issue("/srv/kvm/x.conf", 0, "/srv/kvm", VFIO_PERM_GROUP_WRITABLE, "chmod g-w /srv/kvm");
        /* Missing components and relative paths are errors, not verdicts. */
        {
                vfio_perm_issue *i = NULL;

                assert_int_equal(check("/srv/nothing/x", 0, &i), -ENOENT);
                assert_null(i);
                assert_int_equal(check("srv/vm", 0, &i), -EINVAL);
                assert_int_equal(check("/etc/vfioctl/good.conf/x", 0, &i), -ENOTDIR);
        }
}

static void test_symlink_targets_walked(void **state)
{
        vfio_perm_issue *i = NULL;

        (void)state;
        NEED_ROOT();
        /* The link and the final file are root's; the directory the link leads through is not. */
        expect_issue("/etc/vfioctl/abs-link.conf", 0, "/home/vmuser", VFIO_PERM_NOT_ROOT_OWNED,
                     "chown root:root /home/vmuser && chmod go-w /home/vmuser");
        expect_issue("/etc/vfioctl/rel-link.conf", 0, "/home/vmuser", VFIO_PERM_NOT_ROOT_OWNED,
                     "chown root:root /home/vmuser && chmod go-w /home/vmuser");
        assert_int_equal(check("/etc/vfioctl/loop-a", 0, &i), -ELOOP);
        assert_null(i);
}

static void test_vm_writable_files(void **state)
{
        (void)state;
        NEED_ROOT();
        /* A disk or OVMF VARS copy the VM user owns (or shares through its group) in root's directory. */
        expect_safe("/var/lib/vfioctl/disk.qcow2", VFIO_PERM_VM_MAY_WRITE);
        expect_safe("/var/lib/vfioctl/OVMF_VARS.fd", VFIO_PERM_VM_MAY_WRITE);
        /* The same file is not good enough for root to read as its own (a config, OVMF CODE). */
        expect_issue(
                "/var/lib/vfioctl/disk.qcow2", 0, "/var/lib/vfioctl/disk.qcow2", VFIO_PERM_NOT_ROOT_OWNED,
                "chown root:root /var/lib/vfioctl/disk.qcow2 && chmod go-w /var/lib/vfioctl/disk.qcow2");
        expect_issue("/var/lib/vfioctl/third.qcow2", VFIO_PERM_VM_MAY_WRITE, "/var/lib/vfioctl/third.qcow2",
                     VFIO_PERM_FOREIGN_OWNER,
                     "chown vmuser: /var/lib/vfioctl/third.qcow2 && chmod o-w /var/lib/vfioctl/third.qcow2");
        expect_issue("/var/lib/vfioctl/shared.qcow2", VFIO_PERM_VM_MAY_WRITE,
                     "/var/lib/vfioctl/shared.qcow2", VFIO_PERM_WORLD_WRITABLE,
                     "chmod o-w /var/lib/vfioctl/shared.qcow2");
}

static void test_sticky_directory(void **state)
{
        (void)state;
        NEED_ROOT();
        /* /tmp (1777): others cannot replace root's entry, so root's file there is safe ... */
        expect_safe("/tmp/root.conf", 0);
        /* ... but the VM user can unlink its own and leave a symlink to /etc/shadow for root to chown. */
        expect_issue(
                "/tmp/disk.qcow2", VFIO_PERM_VM_MAY_WRITE, "/tmp/disk.qcow2", VFIO_PERM_REPLACEABLE,
                "mkdir -p /var/lib/vfioctl && mv /tmp/disk.qcow2 /var/lib/vfioctl/ (a directory only root can write)");
}

static void test_fix_quotes_path(void **state)
{
        (void)state;
        NEED_ROOT();
        expect_issue(
                "/var/lib/vfioctl/my vm.conf", 0, "/var/lib/vfioctl/my vm.conf", VFIO_PERM_NOT_ROOT_OWNED,
                "chown root:root '/var/lib/vfioctl/my vm.conf' && chmod go-w '/var/lib/vfioctl/my vm.conf'");
}

static void test_root_itself_checked(void **state)
{
        (void)state;
        NEED_ROOT();
        assert_int_equal(chmod(root, 0777), 0);
        expect_issue("/etc/vfioctl/good.conf", 0, "/", VFIO_PERM_WORLD_WRITABLE, "chmod o-w /");
        assert_int_equal(chmod(root, 0755), 0);
}

static void test_extended_acl(void **state)
{
        /* acl(5) xattr, version 2: user::rw- user:4242:rw- group::r-- mask::rw- other::r-- */
        static const uint32_t words[] = {
                2,
                1 | (6u << 16),
                UINT32_MAX, /* ACL_USER_OBJ */
                2 | (6u << 16),
                VM_UID, /* ACL_USER */
                4 | (4u << 16),
                UINT32_MAX, /* ACL_GROUP_OBJ */
                0x10 | (6u << 16),
                UINT32_MAX, /* ACL_MASK */
                0x20 | (4u << 16),
                UINT32_MAX, /* ACL_OTHER */
        };
        char p[4096];

        (void)state;
        NEED_ROOT();
        mk("etc/vfioctl/acl.conf", 0, 0, 0644);
        snprintf(p, sizeof(p), "%s/etc/vfioctl/acl.conf", root);
        if (setxattr(p, "system.posix_acl_access", words, sizeof(words), 0) < 0)
                skip(); /* the filesystem under /tmp has no POSIX ACLs */
        expect_issue("/etc/vfioctl/acl.conf", 0, "/etc/vfioctl/acl.conf", VFIO_PERM_ACL,
                     "setfacl -b /etc/vfioctl/acl.conf");
}

/* The trust decision on one descriptor (issue 15 item 2): what is read is what was judged. */
static int open_trusted(const char *rel, int *fd, vfio_perm_issue **issue)
{
        _cleanup_(vfio_host_freep) vfio_host *live = NULL;
        char p[4096];

        *fd = -1;
        *issue = NULL;
        snprintf(p, sizeof(p), "%s/%s", root, rel);
        assert_int_equal(vfio_host_open(NULL, &live), 0);
        return vfio_perm_open_trusted(live, p, &vm, fd, issue);
}

static void test_open_trusted_descriptor(void **state)
{
        _cleanup_(vfio_perm_issue_freep) vfio_perm_issue *i = NULL;
        char p[4096], buf[16];
        int fd;

        (void)state;
        if (geteuid() != 0)
                skip();
        assert_int_equal(open_trusted("etc/vfioctl/good.conf", &fd, &i), 0);
        assert_true(fd >= 0);
        assert_int_equal(read(fd, buf, sizeof(buf)), 0); /* readable, blocking, the file judged */
        close(fd);
        assert_int_equal(open_trusted("etc/vfioctl/ok-link.conf", &fd, &i), 0); /* root's own link */
        close(fd);
        assert_int_equal(open_trusted("etc/vfioctl/vmowned.conf", &fd, &i), 1);
        assert_int_equal(i->reason, VFIO_PERM_NOT_ROOT_OWNED);
        assert_int_equal(fd, -1);
        i = vfio_perm_issue_free(i);
        assert_int_equal(open_trusted("etc/vfioctl/world.conf", &fd, &i), 1);
        assert_int_equal(i->reason, VFIO_PERM_WORLD_WRITABLE);
        i = vfio_perm_issue_free(i);
        assert_int_equal(open_trusted("etc/vfioctl/kvmgroup.conf", &fd, &i), 1);
        assert_int_equal(i->reason, VFIO_PERM_GROUP_WRITABLE);
        i = vfio_perm_issue_free(i);
        /* A root file in the VM user's directory: the directory is the fault. */
        assert_int_equal(open_trusted("home/vmuser/real.conf", &fd, &i), 1);
        assert_int_equal(i->reason, VFIO_PERM_NOT_ROOT_OWNED);
        snprintf(p, sizeof(p), "%s/home/vmuser", root);
        assert_string_equal(i->path, p);
        i = vfio_perm_issue_free(i);
        /* Gone: refused, never "nothing to check". */
        assert_int_equal(open_trusted("etc/vfioctl/missing.conf", &fd, &i), -ENOENT);
        /* A FIFO (what /dev/stdin can be) is refused without blocking. */
        snprintf(p, sizeof(p), "%s/etc/vfioctl/fifo.conf", root);
        assert_int_equal(mkfifo(p, 0644), 0);
        alarm(20);
        assert_int_equal(open_trusted("etc/vfioctl/fifo.conf", &fd, &i), -EBADFD);
        alarm(0);
        assert_int_equal(open_trusted("etc/vfioctl", &fd, &i), -EISDIR);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_root_owned_config_is_safe),
                cmocka_unit_test(test_writable_config_refused),
                cmocka_unit_test(test_writable_parent_refused),
                cmocka_unit_test(test_symlink_targets_walked),
                cmocka_unit_test(test_vm_writable_files),
                cmocka_unit_test(test_sticky_directory),
                cmocka_unit_test(test_fix_quotes_path),
                cmocka_unit_test(test_root_itself_checked),
                cmocka_unit_test(test_extended_acl),
                cmocka_unit_test(test_open_trusted_descriptor),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
