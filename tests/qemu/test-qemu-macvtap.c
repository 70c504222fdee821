/*
 * A macvtap NIC with a real macvtap: the test makes its own network namespace (root only), a veth pair
 * and a macvtap on one end (ip link, the kernel's macvtap driver), then runs what vfioctl start runs:
 * vm_macvtap_open_all opens the macvtap's /dev/tapN, the descriptor goes to QEMU at
 * VM_QEMU_MACVTAP_FD_BASE (vm_launch_place_fds) and QEMU, started with vfioctl's argv, is checked over
 * QMP: its tap netdev reads that descriptor and the NIC has the macvtap's address. The refusals (no such
 * interface, not a macvtap, another MAC, a user who may not open the device) are checked with their fix.
 *
 * The namespace is private to this test process: the links vanish with it. The macvtap's ifindex is chosen
 * from the PID so that its /dev/tapN (devtmpfs is shared between namespaces) is the test's own.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "qemu-harness.h"
#include "strv.h"
#include "vfioctl/macvtap.h"
#include "vfioctl/qemu-argv.h"

static char veth[16], peer[16], mvt[16];
static unsigned ifindex;
static const char mac[] = "52:54:00:ab:cd:ef";

static void ip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ip(const char *fmt, ...)
{
        _cleanup_strv_free_ char **words = NULL, **argv = NULL;
        char line[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        assert_int_equal(strv_split(line, " ", &words), 0);
        assert_int_equal(strv_extend(&argv, "ip"), 0);
        STRV_FOREACH(w, words)
                assert_int_equal(strv_extend(&argv, *w), 0);
        run_ok(argv);
}

static int setup(void **state)
{
        unsigned id = (unsigned)getpid() % 100000;

        snprintf(veth, sizeof(veth), "vfv%u", id);
        snprintf(peer, sizeof(peer), "vfp%u", id);
        snprintf(mvt, sizeof(mvt), "vfm%u", id);
        ifindex = 1000000 + id;
        ip("link add %s type veth peer name %s", veth, peer);
        ip("link add link %s name %s index %u type macvtap mode bridge", veth, mvt, ifindex);
        ip("link set %s address %s", mvt, mac);
        ip("link set %s up", veth);
        ip("link set %s up", peer);
        ip("link set %s up", mvt);
        return 0;
}

static vm_config *config(const char *ifname, const char *mac_line)
{
        char text[512], **errors = NULL;
        vm_config *c = NULL;

        snprintf(text, sizeof(text), "[net \"wan\"]\ntype = macvtap\nifname = %s\nlink = %s\n%s", ifname,
                 veth, mac_line);
        if (vm_config_parse_string(text, "t.conf", "t", &c, &errors) < 0)
                fail_msg("%s", errors[0]);
        return c;
}

/* The descriptor vfioctl opens is the macvtap's, and QEMU reads it as its tap netdev. */
static void test_qemu_gets_the_macvtap(void **state)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_free_ char *err = NULL, *want = NULL;
        json_object *o, *args, *r;
        char link[256] = {}, path[64];
        int *fds = NULL;
        size_t n = 0;
        qvm *v = qvm_new();

        assert_int_equal(vfio_host_open(NULL, &h), 0);
        qvm_config(v, "[display]\ndevice = none\n");
        vm_config_free(v->cfg);
        v->cfg = config(mvt, "model = virtio\n");
        if (vm_macvtap_open_all(h, v->cfg, &fds, &n, &err) < 0)
                fail_msg("%s", err);
        assert_int_equal(n, 1);
        /* No mac in the config: the macvtap's own. */
        assert_string_equal(v->cfg->nets[0].mac, mac);
        v->fds = fds;
        v->n_fds = n;
        qvm_start(v);
        /* QEMU's descriptor 10 is the macvtap's character device. */
        snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)v->pid, VM_QEMU_MACVTAP_FD_BASE);
        assert_true(readlink(path, link, sizeof(link) - 1) > 0);
        assert_true(asprintf(&want, "/dev/tap%u", ifindex) > 0);
        assert_string_equal(link, want);
        /* The netdev is a tap on that descriptor... */
        args = json_object_new_object();
        json_object_object_add(args, "command-line", json_object_new_string("info network"));
        o = qvm_qmp(v, "human-monitor-command", args);
        print_message("info network: %s\n", json_object_get_string(o));
        assert_non_null(strstr(json_object_get_string(o), "net-wan: index=0,type=tap,fd=10"));
        json_object_put(o);
        /* ...and the guest NIC carries the macvtap's address, the only one it passes frames for. */
        args = json_object_new_object();
        json_object_object_add(args, "name", json_object_new_string("nic-wan"));
        r = qvm_qmp(v, "query-rx-filter", args);
        assert_string_equal(jstr(json_object_array_get_idx(r, 0), "main-mac"), mac);
        json_object_put(r);
        qvm_free(v);
        vm_macvtap_close_all(fds, n);
}

static void assert_refused(vm_config *c, int want_r, const char *want_text)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_free_ char *err = NULL;
        int *fds = NULL;
        size_t n = 0;
        int r;

        assert_int_equal(vfio_host_open(NULL, &h), 0);
        r = vm_macvtap_open_all(h, c, &fds, &n, &err);
        if (r != want_r || !err || !strstr(err, want_text))
                fail_msg("got %d '%s', want %d with '%s'", r, err ? err : "", want_r, want_text);
        print_message("refused: %s\n", err);
        assert_null(fds);
        vm_config_free(c);
}

/* What start refuses, each with the command that fixes it. */
static void test_refusals(void **state)
{
        char want[256];

        snprintf(want, sizeof(want),
                 "create it (as root) with: ip link add link %s name nosuch0 type macvtap mode bridge",
                 veth);
        assert_refused(config("nosuch0", ""), -ENOENT, want);
        snprintf(want, sizeof(want), "%s is not a macvtap interface", veth);
        assert_refused(config(veth, ""), -ENOTTY, want);
        snprintf(want, sizeof(want), "ip link set %s address 52:54:00:00:00:01", mvt);
        assert_refused(config(mvt, "mac = 52:54:00:00:00:01\n"), -EADDRNOTAVAIL, want);
}

/* The VM user (nobody here) may not open root's /dev/tapN: refused with how to allow it. */
static void test_user_without_access(void **state)
{
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                _cleanup_(vfio_host_freep) vfio_host *h = NULL;
                char *err = NULL;
                int *fds = NULL;
                size_t n = 0;
                vm_config *c = config(mvt, "");
                int r;

                if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(2);
                if (vfio_host_open(NULL, &h) < 0)
                        _exit(3);
                r = vm_macvtap_open_all(h, c, &fds, &n, &err);
                fprintf(stderr, "as nobody: %d %s\n", r, err ? err : "");
                _exit(r == -EACCES && err && strstr(err, "chown USER /dev/tap") ? 0 : 1);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_qemu_gets_the_macvtap, harness_teardown),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_user_without_access),
        };

        if (geteuid() != 0) {
                fprintf(stderr, "needs root: it makes a network namespace with a veth pair and a macvtap\n");
                return 77;
        }
        /* A network namespace and a mount namespace of our own, with a sysfs that shows that network. */
        if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0) {
                fprintf(stderr, "cannot make a network namespace here: %s\n", strerror(errno));
                return 77;
        }
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
                fprintf(stderr, "cannot mount sysfs for the namespace: %s\n", strerror(errno));
                return 1;
        }
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests_name("qemu-macvtap", tests, setup, NULL);
}
