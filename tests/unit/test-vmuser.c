/*
 * The VM user: whose QEMU a start runs (root drops to [vm] user, anyone else runs their own), and the
 * access check that turns a node QEMU could not open into a problem with its fix. Uses the real user
 * nobody (uid 65534, group nogroup) and files made here; a problem's text is "MESSAGE; FIX".
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
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

#include "cleanup.h"
#include "vfioctl/problem.h"
#include "vfioctl/vmconf.h"
#include "vfioctl/vmuser.h"

static void test_problems_keep_message_and_fix(void **state)
{
        _cleanup_(vfio_problems_freep) vfio_problems *p = NULL;
        _cleanup_free_ char *a = NULL, *b = NULL;
        char *const lines[] = { (char *)"one", (char *)"two", NULL };

        assert_int_equal(vfio_problems_new(&p), 0);
        assert_false(vfio_problems_has_errors(p));
        assert_int_equal(vfio_problems_fix(p, "nothing to fix"), -ENOENT);
        assert_int_equal(vfio_problems_add(p, VFIO_PROBLEM_WARNING, "input %s: no relay", "kbd"), 0);
        assert_false(vfio_problems_has_errors(p));
        assert_int_equal(
                vfio_problems_add(p, VFIO_PROBLEM_ERROR, "device %s is on driver %s", "01:00.0", "e1000e"),
                0);
        assert_int_equal(vfio_problems_fix(p, "run: vfioctl bind %s", "01:00.0"), 0);
        assert_int_equal(vfio_problems_add_strv(p, VFIO_PROBLEM_ERROR, lines), 0);
        assert_true(vfio_problems_has_errors(p));
        assert_int_equal(p->n, 4);
        assert_int_equal(p->n_errors, 3);
        a = vfio_problem_text(&p->items[1]);
        assert_string_equal(a, "device 01:00.0 is on driver e1000e; run: vfioctl bind 01:00.0");
        b = vfio_problem_text(&p->items[0]);
        assert_string_equal(b, "input kbd: no relay");
        assert_null(p->items[3].fix);
}

static bool have_nobody(void)
{
        struct passwd *pw = getpwnam("nobody");

        return pw && pw->pw_uid == 65534;
}

static vm_config *config(const char *user)
{
        vm_config *c = NULL;

        assert_int_equal(vm_config_new("t", &c), 0);
        c->filename = strdup("/etc/vfioctl/vms/t.conf");
        assert_non_null(c->filename);
        if (user) {
                c->vm.user = strdup(user);
                assert_non_null(c->vm.user);
        }
        return c;
}

static void test_whose_qemu(void **state)
{
        _cleanup_(vm_user_freep) vm_user *u = NULL;
        _cleanup_free_ char *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL, *e5 = NULL;
        bool drop = false;

        if (!have_nobody())
                skip();
        {
                _cleanup_(vm_config_freep) vm_config *c = config(NULL);

                /* root never runs QEMU as root */
                assert_int_equal(vm_user_for_start(c, 0, &u, &drop, &e1), -EINVAL);
                assert_non_null(strstr(e1, "[vm] user is not set: vfioctl does not run QEMU as root"));
                assert_null(u);
        }
        {
                _cleanup_(vm_config_freep) vm_config *c = config("root");

                assert_int_equal(vm_user_for_start(c, 0, &u, &drop, &e2), -EINVAL);
                assert_non_null(strstr(e2, "[vm] user = root is root: name an unprivileged user"));
        }
        {
                _cleanup_(vm_config_freep) vm_config *c = config("no-such-user-vfioctl-test");

                assert_int_equal(vm_user_for_start(c, 0, &u, &drop, &e3), -EINVAL);
                assert_non_null(strstr(e3, "no such user; create it: useradd --system"));
        }
        {
                _cleanup_(vm_config_freep) vm_config *c = config("nobody");

                assert_int_equal(vm_user_for_start(c, 0, &u, &drop, &e4), 0);
                assert_true(drop);
                assert_string_equal(u->name, "nobody");
                assert_int_equal(u->uid, 65534);
                u = vm_user_free(u);
                /* nobody starting it runs it as themselves; somebody else may not */
                assert_int_equal(vm_user_for_start(c, 65534, &u, &drop, &e4), 0);
                assert_false(drop);
                u = vm_user_free(u);
        }
        {
                _cleanup_(vm_config_freep) vm_config *c = config("root");

                assert_int_equal(vm_user_for_start(c, 65534, &u, &drop, &e5), -EPERM);
                assert_non_null(strstr(e5, "[vm] user = root, but you are nobody"));
        }
}

static void test_access_as_the_vm_user(void **state)
{
        _cleanup_(vm_user_freep) vm_user *u = NULL;
        _cleanup_(vfio_problems_freep) vfio_problems *p = NULL;
        _cleanup_free_ char *d = strdup("/tmp/vfioctl-test-vmuser-XXXXXX"), *node = NULL, *text = NULL,
                            *missing = NULL;
        char cmd[256];
        int fd;

        if (!have_nobody() || geteuid() != 0)
                skip(); /* the nodes must belong to root, as /dev's do */
        assert_non_null(mkdtemp(d));
        assert_int_equal(chmod(d, 0755), 0);
        assert_int_equal(vm_user_lookup("nobody", &u), 0);
        assert_int_equal(vfio_problems_new(&p), 0);
        assert_true(asprintf(&node, "%s/node", d) > 0);
        fd = open(node, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(chmod(node, 0600), 0);
        assert_int_equal(vm_user_check_access(u, node, R_OK | W_OK, p), -EACCES);
        assert_int_equal(p->n, 1);
        text = vfio_problem_text(&p->items[0]);
        assert_non_null(strstr(
                text,
                "/node (root:root, mode 0600) is not readable and writable by user nobody; fix: give the node to a group of nobody with a udev rule"));
        /* World-readable is enough to read; the user's own group grants what its bits say. */
        assert_int_equal(chmod(node, 0644), 0);
        assert_int_equal(vm_user_check_access(u, node, R_OK, p), 0);
        assert_int_equal(chown(node, 0, u->gid), 0);
        assert_int_equal(chmod(node, 0660), 0);
        assert_int_equal(vm_user_check_access(u, node, R_OK | W_OK, p), 0);
        assert_int_equal(p->n, 1);
        /* A node that is not there says so. */
        assert_true(asprintf(&missing, "%s/missing", d) > 0);
        assert_int_equal(vm_user_check_access(u, missing, R_OK, p), -ENOENT);
        assert_int_equal(p->n_errors, 2);
        assert_non_null(strstr(p->items[1].message, "missing: No such file or directory"));
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
        assert_int_equal(system(cmd), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_problems_keep_message_and_fix),
                cmocka_unit_test(test_whose_qemu),
                cmocka_unit_test(test_access_as_the_vm_user),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
