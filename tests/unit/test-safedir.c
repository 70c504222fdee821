/* The safe-directory rules on scratch trees, with openat2 and with the O_NOFOLLOW walk older kernels get:
 * whatever another user puts in its directory (a symlink, a hard link, a FIFO, a directory, a mount), root
 * working there through safedir never reaches, changes or reads anything outside it. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "safedir.h"

#define OTHER_UID 4242u
#define OTHER_GID 4242u
#define THIRD_UID 5555u

static char top[] = "/tmp/test-safedir-XXXXXX";
static int topfd = -1;

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

static char *get(const char *path)
{
        static char buf[256];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        assert_true(fd >= 0);
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        assert_true(n >= 0);
        buf[n] = 0;
        return buf;
}

static bool is_root(void)
{
        return geteuid() == 0;
}

static int setup(void **state)
{
        (void)state;
        umask(022);
        if (!mkdtemp(top))
                return -1;
        chmod(top, 0755);
        topfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return topfd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
        char cmd[4200];

        (void)state;
        close(topfd);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
        return system(cmd) == 0 ? 0 : -1;
}

/* Each case twice: the kernel's openat2 and the walk for kernels without it. */
#define BOTH(...)                                 \
        for (int mode_ = 0; mode_ < 2; mode_++) { \
                safedir_use_openat2(mode_ == 0);  \
                __VA_ARGS__;                      \
        }                                         \
        safedir_use_openat2(true)

static void test_openat_refuses_links_dotdot_absolute(void **state)
{
        (void)state;
        assert_int_equal(mkdir(at("o"), 0755), 0);
        assert_int_equal(mkdir(at("o/real"), 0755), 0);
        put("o/real/file", "inside", 0644);
        put("secret", "root only", 0600);
        assert_int_equal(symlink("real", at("o/dlink")), 0);
        assert_int_equal(symlink("../secret", at("o/flink")), 0);
        BOTH({
                int d = safedir_open_dir(topfd, "o"), fd;

                assert_true(d >= 0);
                fd = safedir_openat(d, "real/file", O_RDONLY, 0);
                assert_true(fd >= 0);
                close(fd);
                /* A link anywhere: the last component, a directory on the way, O_PATH of the link. */
                assert_int_equal(safedir_openat(d, "flink", O_RDONLY, 0), -ELOOP);
                assert_int_equal(safedir_openat(d, "dlink/file", O_RDONLY, 0), -ELOOP);
                assert_int_equal(safedir_openat(d, "flink", O_PATH, 0), -ELOOP);
                assert_int_equal(safedir_open_dir(d, "dlink"), -ELOOP);
                /* Out of the directory by name: refused before any lookup. */
                assert_int_equal(safedir_openat(d, "../secret", O_RDONLY, 0), -EINVAL);
                assert_int_equal(safedir_openat(d, "real/../../secret", O_RDONLY, 0), -EINVAL);
                assert_int_equal(safedir_openat(d, "/etc/passwd", O_RDONLY, 0), -EINVAL);
                assert_int_equal(safedir_openat(d, "", O_RDONLY, 0), -EINVAL);
                /* O_CREAT over a dangling link creates nothing at its target. */
                assert_int_equal(symlink("../created-through-link", at("o/dangle")), 0);
                assert_true(safedir_openat(d, "dangle", O_WRONLY | O_CREAT, 0644) < 0);
                assert_int_equal(access(at("created-through-link"), F_OK), -1);
                assert_int_equal(unlink(at("o/dangle")), 0);
                close(d);
        });
}

static void test_mkdir_never_follows_and_sets_mode_on_descriptor(void **state)
{
        struct stat st;
        int fd;

        (void)state;
        assert_int_equal(mkdir(at("m"), 0755), 0);
        assert_int_equal(mkdir(at("victim"), 0755), 0);
        put("victimfile", "v", 0644);
        assert_int_equal(symlink("../victim", at("m/tpm")), 0);
        assert_int_equal(symlink("../victimfile", at("m/tpm2")), 0);
        assert_int_equal(mkfifo(at("m/fifo"), 0600), 0);
        BOTH({
                int d = safedir_open_dir(topfd, "m");

                assert_int_equal(safedir_mkdir(d, "tpm", 0700, getuid(), getgid(), NULL), -ELOOP);
                assert_int_equal(safedir_mkdir(d, "tpm2", 0700, getuid(), getgid(), NULL), -ELOOP);
                assert_int_equal(safedir_mkdir(d, "fifo", 0700, SAFEDIR_KEEP_UID, SAFEDIR_KEEP_GID, NULL),
                                 -ENOTDIR);
                assert_int_equal(safedir_mkdir(d, "a/b", 0700, SAFEDIR_KEEP_UID, SAFEDIR_KEEP_GID, NULL),
                                 -EINVAL);
                close(d);
        });
        /* The targets kept their mode. */
        assert_int_equal(stat(at("victim"), &st), 0);
        assert_int_equal(st.st_mode & 07777, 0755);
        assert_int_equal(stat(at("victimfile"), &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        /* Made fresh with the exact mode whatever the umask, and an existing one's mode corrected. */
        umask(077);
        fd = safedir_open_dir(topfd, "m");
        assert_int_equal(safedir_mkdir(fd, "new", 0710, SAFEDIR_KEEP_UID, SAFEDIR_KEEP_GID, NULL), 0);
        umask(022);
        assert_int_equal(stat(at("m/new"), &st), 0);
        assert_int_equal(st.st_mode & 07777, 0710);
        assert_int_equal(chmod(at("m/new"), 0777), 0);
        assert_int_equal(safedir_mkdir(fd, "new", 0700, SAFEDIR_KEEP_UID, SAFEDIR_KEEP_GID, NULL), 0);
        assert_int_equal(stat(at("m/new"), &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        if (is_root()) {
                int sub = -1;

                assert_int_equal(safedir_mkdir(fd, "owned", 0700, OTHER_UID, OTHER_GID, &sub), 0);
                assert_true(sub >= 0);
                assert_int_equal(fstat(sub, &st), 0);
                assert_int_equal(st.st_uid, OTHER_UID);
                assert_int_equal(st.st_gid, OTHER_GID);
                close(sub);
        }
        close(fd);
}

static void test_open_regular_refuses_fifo_dir_link_hardlink(void **state)
{
        struct stat st;

        (void)state;
        assert_int_equal(mkdir(at("r"), 0755), 0);
        put("r/vars", "vars", 0600);
        put("rootonly", "root only", 0600);
        assert_int_equal(mkfifo(at("r/fifo"), 0600), 0);
        assert_int_equal(mkdir(at("r/dir"), 0755), 0);
        assert_int_equal(symlink("../rootonly", at("r/link")), 0);
        /* The test runs as root (or owns the file), so the kernel lets it make the link an attacker could
         * make where fs.protected_hardlinks is 0. */
        assert_int_equal(link(at("rootonly"), at("r/hard")), 0);
        alarm(20); /* a FIFO opened without O_NONBLOCK would hang here */
        BOTH({
                int d = safedir_open_dir(topfd, "r"), fd;

                assert_int_equal(safedir_open_regular(d, "fifo", O_RDONLY, NULL), -EBADFD);
                assert_int_equal(safedir_open_regular(d, "fifo", O_WRONLY, NULL), -EBADFD);
                assert_int_equal(safedir_open_regular(d, "dir", O_RDONLY, NULL), -EISDIR);
                assert_int_equal(safedir_open_regular(d, "link", O_RDONLY, NULL), -ELOOP);
                assert_int_equal(safedir_open_regular(d, "hard", O_RDONLY, NULL), -EMLINK);
                assert_int_equal(safedir_open_regular(d, "vars", O_RDONLY | O_TRUNC, NULL), -EINVAL);
                fd = safedir_open_regular(d, "vars", O_RDONLY, &st);
                assert_true(fd >= 0);
                /* Blocking again once known to be a file. */
                assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
                assert_int_equal(st.st_size, 4);
                close(fd);
                close(d);
        });
        alarm(0);
}

static void test_write_replaces_link_not_target(void **state)
{
        struct stat st;
        int d;

        (void)state;
        assert_int_equal(mkdir(at("w"), 0755), 0);
        put("target", "untouched", 0644);
        assert_int_equal(symlink("../target", at("w/vars")), 0);
        d = safedir_open_dir(topfd, "w");
        assert_int_equal(
                safedir_write(d, "vars", -1, "new vars", 8, 0600, SAFEDIR_KEEP_UID, SAFEDIR_KEEP_GID, 0), 0);
        assert_string_equal(get(at("target")), "untouched");
        assert_int_equal(lstat(at("w/vars"), &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_string_equal(get(at("w/vars")), "new vars");
        /* NOREPLACE keeps what is there, a link included. */
        assert_int_equal(symlink("../target", at("w/copy")), 0);
        assert_int_equal(safedir_write(d, "copy", -1, "x", 1, 0600, SAFEDIR_KEEP_UID, SAFEDIR_KEEP_GID,
                                       SAFEDIR_NOREPLACE),
                         -EEXIST);
        assert_string_equal(get(at("target")), "untouched");
        /* From a descriptor, with an owner. */
        {
                int src = open(at("target"), O_RDONLY | O_CLOEXEC);

                assert_true(src >= 0);
                assert_int_equal(safedir_write(d, "fromfd", src, NULL, 0, 0640,
                                               is_root() ? OTHER_UID : SAFEDIR_KEEP_UID,
                                               is_root() ? OTHER_GID : SAFEDIR_KEEP_GID, SAFEDIR_NOREPLACE),
                                 0);
                close(src);
                assert_int_equal(stat(at("w/fromfd"), &st), 0);
                assert_int_equal(st.st_mode & 07777, 0640);
                if (is_root())
                        assert_int_equal(st.st_uid, OTHER_UID);
                assert_string_equal(get(at("w/fromfd")), "untouched");
        }
        /* No temp file is left behind. */
        {
                char cmd[4200];

                snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -q vfioctl", at("w"));
                assert_int_not_equal(system(cmd), 0);
        }
        assert_int_equal(safedir_unlink(d, "copy", 0), 0);
        assert_int_equal(lstat(at("w/copy"), &st), -1);
        assert_int_equal(safedir_unlink(d, "copy", 0), 0); /* gone already: fine */
        assert_int_equal(safedir_unlink(d, "../target", 0), -EINVAL);
        assert_string_equal(get(at("target")), "untouched");
        close(d);
}

/* A tree as root would meet it: T (root) / u (another user's, 0700) / ... */
static void test_open_path_follows_only_roots_links(void **state)
{
        char *name = NULL;
        uid_t owner;
        int fd, d;

        (void)state;
        if (!is_root())
                skip();
        assert_int_equal(mkdir(at("p"), 0755), 0);
        assert_int_equal(mkdir(at("p/u"), 0700), 0);
        put("p/u/disk", "disk", 0600);
        put("p/secret", "root only", 0600);
        assert_int_equal(chown(at("p/u"), OTHER_UID, OTHER_GID), 0);
        assert_int_equal(chown(at("p/u/disk"), OTHER_UID, OTHER_GID), 0);
        assert_int_equal(symlink("../secret", at("p/u/link")), 0);
        assert_int_equal(symlink("/etc", at("p/u/dlink")), 0);
        assert_int_equal(symlink("u/disk", at("p/rootlink")), 0); /* root's own link: followed */
        assert_int_equal(link(at("p/secret"), at("p/u/hard")), 0);
        assert_int_equal(mkdir(at("p/ww"), 0777), 0);
        assert_int_equal(chmod(at("p/ww"), 0777), 0);
        put("p/ww/f", "f", 0644);
        assert_int_equal(mkdir(at("p/st"), 01777), 0);
        assert_int_equal(chmod(at("p/st"), 01777), 0);
        put("p/st/rootfile", "r", 0644);
        assert_int_equal(symlink("../secret", at("p/st/theirlink")), 0);
        assert_int_equal(lchown(at("p/st/theirlink"), OTHER_UID, OTHER_GID), 0);
        assert_int_equal(symlink("rootfile", at("p/st/rootlink")), 0);
        assert_int_equal(mkdir(at("p/u/third"), 0755), 0);
        put("p/u/third/f", "f", 0644);
        assert_int_equal(chown(at("p/u/third"), THIRD_UID, THIRD_UID), 0);
        BOTH({
                owner = 0;
                assert_int_equal(safedir_open_path(at("p/u/disk"), O_RDONLY, 0, &fd, &owner), 0);
                assert_int_equal(owner, OTHER_UID);
                close(fd);
                owner = 0;
                assert_int_equal(safedir_open_path(at("p/rootlink"), O_RDONLY, 0, &fd, &owner), 0);
                assert_int_equal(owner, OTHER_UID);
                close(fd);
                assert_int_equal(safedir_open_path(at("p/u/link"), O_RDONLY, 0, &fd, &owner), -ELOOP);
                assert_int_equal(safedir_open_path(at("p/u/dlink/passwd"), O_RDONLY, 0, &fd, &owner),
                                 -ELOOP);
                assert_int_equal(safedir_open_path(at("p/u/hard"), O_RDONLY, 0, &fd, &owner), -EMLINK);
                assert_int_equal(safedir_open_path(at("p/ww/f"), O_RDONLY, 0, &fd, &owner), -EPERM);
                assert_int_equal(safedir_open_path(at("p/st/theirlink"), O_RDONLY, 0, &fd, &owner), -ELOOP);
                owner = 0;
                assert_int_equal(safedir_open_path(at("p/st/rootlink"), O_RDONLY, 0, &fd, &owner), 0);
                assert_int_equal(owner, SAFEDIR_NOBODY);
                close(fd);
                assert_int_equal(safedir_open_path(at("p/u/third/f"), O_RDONLY, 0, &fd, &owner), -EPERM);
                owner = 0;
                assert_int_equal(safedir_open_path(at("p/secret"), O_RDONLY, 0, &fd, &owner), 0);
                assert_int_equal(owner, SAFEDIR_NOBODY);
                close(fd);
                /* The directory holding a file, and its name. */
                assert_int_equal(safedir_open_parent(at("p/u/disk"), &d, &name, &owner), 0);
                assert_string_equal(name, "disk");
                assert_int_equal(owner, OTHER_UID);
                free(name);
                close(d);
                assert_int_equal(safedir_open_parent(at("p/u/dlink/passwd"), &d, &name, &owner), -ELOOP);
                /* The _nolinks walks follow not even root's own links, anywhere on the path. */
                assert_int_equal(safedir_open_path_nolinks(at("p/rootlink"), O_RDONLY, 0, &fd, &owner),
                                 -ELOOP);
                assert_int_equal(safedir_open_path_nolinks(at("p/st/rootlink"), O_RDONLY, 0, &fd, &owner),
                                 -ELOOP);
                assert_int_equal(safedir_open_parent_nolinks(at("p/rootlink/x"), &d, &name, &owner), -ELOOP);
                owner = 0;
                assert_int_equal(safedir_open_path_nolinks(at("p/u/disk"), O_RDONLY, 0, &fd, &owner), 0);
                assert_int_equal(owner, OTHER_UID);
                close(fd);
                assert_int_equal(safedir_open_parent_nolinks(at("p/st/rootfile"), &d, &name, &owner), 0);
                assert_string_equal(name, "rootfile");
                assert_int_equal(owner, SAFEDIR_NOBODY);
                free(name);
                close(d);
        });
}

static void test_open_trusted_makes_and_judges(void **state)
{
        struct stat st;
        int fd;

        (void)state;
        assert_int_equal(safedir_open_trusted(at("t/var/lib/vfioctl"), true, &fd), 0);
        close(fd);
        assert_int_equal(stat(at("t/var/lib/vfioctl"), &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0755);
        assert_int_equal(safedir_open_trusted(at("t/missing"), false, &fd), -ENOENT);
        if (!is_root())
                return;
        /* A directory another user owns anywhere above: not root's alone. */
        assert_int_equal(chown(at("t/var"), OTHER_UID, OTHER_GID), 0);
        assert_int_equal(safedir_open_trusted(at("t/var/lib/vfioctl"), true, &fd), -EPERM);
        assert_int_equal(chown(at("t/var"), 0, 0), 0);
        assert_int_equal(chmod(at("t/var/lib"), 0777), 0);
        assert_int_equal(safedir_open_trusted(at("t/var/lib/vfioctl"), false, &fd), -EPERM);
        assert_int_equal(chmod(at("t/var/lib"), 0755), 0);
        /* Another user's link in the way is not followed into making directories elsewhere. */
        assert_int_equal(mkdir(at("t/u"), 0755), 0);
        assert_int_equal(chown(at("t/u"), OTHER_UID, OTHER_GID), 0);
        assert_int_equal(symlink(at("t/elsewhere"), at("t/u/l")), 0);
        {
                int r = safedir_open_trusted(at("t/u/l/x"), true, &fd);

                assert_true(r == -ELOOP || r == -EPERM);
        }
        assert_int_equal(access(at("t/elsewhere"), F_OK), -1);
}

/* A mount put below a directory another user can write (FUSE lets users mount on their own directories). */
static void test_mount_point_not_crossed(void **state)
{
        pid_t pid;
        int status = 0;

        (void)state;
        if (!is_root())
                skip();
        assert_int_equal(mkdir(at("x"), 0755), 0);
        assert_int_equal(mkdir(at("x/mnt"), 0755), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int d, fd, bad = 0;

                if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                    mount("tmpfs", at("x/mnt"), "tmpfs", 0, "size=64k") < 0)
                        _exit(77);
                fd = open(at("x/mnt/f"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                close(fd);
                /* A descriptor opened before unshare walks the old namespace's mounts: open afresh. */
                close(topfd);
                topfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                for (int m = 0; m < 2; m++) {
                        safedir_use_openat2(m == 0);
                        d = safedir_open_dir(topfd, "x");
                        bad |= (safedir_openat(d, "mnt/f", O_RDONLY, 0) != -EXDEV) << (2 * m);
                        bad |= (safedir_open_dir(d, "mnt") != -EXDEV) << (2 * m + 1);
                        close(d);
                }
                _exit(bad);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
                skip(); /* no mount namespaces here (a container) */
        assert_true(WIFEXITED(status));
        /* bit 0/1: openat2 file/directory, bit 2/3: the walk */
        assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_openat_refuses_links_dotdot_absolute),
                cmocka_unit_test(test_mkdir_never_follows_and_sets_mode_on_descriptor),
                cmocka_unit_test(test_open_regular_refuses_fifo_dir_link_hardlink),
                cmocka_unit_test(test_write_replaces_link_not_target),
                cmocka_unit_test(test_open_path_follows_only_roots_links),
                cmocka_unit_test(test_open_trusted_makes_and_judges),
                cmocka_unit_test(test_mount_point_not_crossed),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
