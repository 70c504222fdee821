/*
 * bind planning and execution on writable copies of the q35-viommu capture. In a capture the sysfs
 * write files are plain files and the driver links never move, so these tests prove WHAT is written and
 * in which order, the refusals and the rollback; the kernel's answer is proven in tests/vfio-e2e.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture-copy.h"
#include "strv.h"
#include "time-util.h"
#include "vfioctl/bind.h"

typedef struct env {
        char *dir;
        vfio_host *h;
        vfio_model *m;
        vfio_selection *sel;
        vfio_bind_plan *plan;
} env;

static int setup_env(void **state)
{
        env *e = calloc(1, sizeof(*e));

        assert_non_null(e);
        e->dir = fixture_copy("q35-viommu");
        assert_non_null(e->dir);
        *state = e;
        return 0;
}

static int teardown_env(void **state)
{
        env *e = *state;

        vfio_bind_plan_free(e->plan);
        vfio_selection_free(e->sel);
        vfio_model_free(e->m);
        vfio_host_free(e->h);
        fixture_remove(e->dir);
        free(e);
        return 0;
}

/* (Re)loads the model and plans `action` for one selector. */
static void plan(env *e, const char *selector, vfio_bind_action action, const vfio_bind_opts *o)
{
        char *v[] = { (char *)selector, NULL };

        e->plan = vfio_bind_plan_free(e->plan);
        e->sel = vfio_selection_free(e->sel);
        e->m = vfio_model_free(e->m);
        e->h = vfio_host_free(e->h);
        assert_int_equal(vfio_host_open(e->dir, &e->h), 0);
        assert_int_equal(vfio_model_load(e->h, &e->m), 0);
        assert_int_equal(vfio_selection_resolve(e->h, e->m, NULL, v, 0, &e->sel), 0);
        assert_int_equal(vfio_bind_plan_new(e->h, e->m, e->sel, action, o, &e->plan), 0);
}

static bool any_contains(char *const *l, const char *needle)
{
        STRV_FOREACH(s, l)
                if (strstr(*s, needle))
                        return true;
        return false;
}

static char *joined_writes(env *e)
{
        return strv_join(e->plan->writes, "\n");
}

static void test_bind_writes_override_unbind_probe_in_order(void **state)
{
        env *e = *state;
        vfio_bind_opts o = {};
        char *w, *s;

        plan(e, "01:00.0", VFIO_BIND_TO_VFIO, &o);
        assert_int_equal(strv_length(e->plan->refusals), 0);
        assert_int_equal(e->plan->n, 1);
        assert_string_equal(e->plan->devs[0].driver, "e1000e");
        assert_false(e->plan->load_vfio_pci); /* the capture has sys/bus/pci/drivers/vfio-pci */
        assert_int_equal(vfio_bind_execute(e->h, e->plan, &o), 0);
        w = joined_writes(e);
        assert_string_equal(w, "sys/bus/pci/devices/0000:01:00.0/driver_override <- vfio-pci\n"
                               "sys/bus/pci/devices/0000:01:00.0/driver/unbind <- 0000:01:00.0\n"
                               "sys/bus/pci/drivers_probe <- 0000:01:00.0");
        free(w);
        /* The writes landed where the kernel would read them: driver/unbind is e1000e's unbind file. */
        s = fixture_read(e->dir, "sys/bus/pci/devices/0000:01:00.0/driver_override");
        assert_string_equal(s, "vfio-pci");
        free(s);
        s = fixture_read(e->dir, "sys/bus/pci/drivers/e1000e/unbind");
        assert_string_equal(s, "0000:01:00.0");
        free(s);
        s = fixture_read(e->dir, "sys/bus/pci/drivers_probe");
        assert_string_equal(s, "0000:01:00.0");
        free(s);
        /* The identical NIC was not touched: driver_override, not new_id. */
        s = fixture_read(e->dir, "sys/bus/pci/devices/0000:02:00.0/driver_override");
        assert_string_equal(s, "(null)");
        free(s);
        s = fixture_read(e->dir, "sys/bus/pci/drivers/vfio-pci/new_id");
        assert_string_equal(s, "");
        free(s);
        /* The original driver is recorded for unbind. */
        s = fixture_read(e->dir, "run/vfioctl/bind/0000:01:00.0");
        assert_non_null(s);
        assert_non_null(strstr(s, "driver=e1000e\n"));
        assert_non_null(
                strstr(s, "identity=8086:10d3:8086:0000@pci0000:00/10.0/00.0,dsn=52-54-00-ff-ff-e2-e0-01"));
        free(s);
}

static void test_dry_run_writes_nothing(void **state)
{
        env *e = *state;
        vfio_bind_opts o = { .dry_run = true };
        char *s;

        plan(e, "03:00.0", VFIO_BIND_TO_VFIO, &o);
        assert_int_equal(e->plan->n, 2); /* VGA + its HDA function */
        assert_int_equal(vfio_bind_execute(e->h, e->plan, &o), 0);
        assert_int_equal(strv_length(e->plan->writes), 6);
        assert_string_equal(e->plan->writes[3],
                            "sys/bus/pci/devices/0000:03:00.1/driver_override <- vfio-pci");
        s = fixture_read(e->dir, "sys/bus/pci/devices/0000:03:00.0/driver_override");
        assert_string_equal(s, "(null)");
        free(s);
        s = fixture_read(e->dir, "run/vfioctl/bind/0000:03:00.0");
        assert_null(s);
}

static void test_group_peer_refused_by_name(void **state)
{
        env *e = *state;
        vfio_bind_opts o = {};

        plan(e, "05:01.0", VFIO_BIND_TO_VFIO, &o);
        assert_int_equal(strv_length(e->plan->refusals), 1);
        assert_true(any_contains(e->plan->refusals, "IOMMU group 14 with 0000:05:02.0 (virtio-pci)"));
        assert_true(any_contains(e->plan->refusals, "--with-group"));
        assert_int_equal(vfio_bind_execute(e->h, e->plan, &o), -EPERM);
        assert_int_equal(strv_length(e->plan->writes), 0);
}

static void test_with_group_takes_the_peer_not_the_bridge(void **state)
{
        env *e = *state;
        vfio_bind_opts o = { .with_group = true, .dry_run = true };

        plan(e, "05:01.0", VFIO_BIND_TO_VFIO, &o);
        assert_int_equal(strv_length(e->plan->refusals), 0);
        assert_int_equal(e->plan->n, 2);
        assert_string_equal(e->plan->devs[1].name, "0000:05:02.0");
        assert_string_equal(e->plan->devs[1].reason, "group peer");
        /* 0000:04:00.0, the PCIe-to-PCI bridge of the same group, stays with the host. */
        for (size_t i = 0; i < e->plan->n; i++)
                assert_string_not_equal(e->plan->devs[i].name, "0000:04:00.0");
}

static void test_bridge_refused(void **state)
{
        env *e = *state;
        vfio_bind_opts o = { .force = true };

        plan(e, "04:00.0", VFIO_BIND_TO_VFIO, &o);
        assert_true(any_contains(e->plan->refusals, "is a PCI bridge"));
}

static void test_boot_vga_refused_unless_forced(void **state)
{
        env *e = *state;
        vfio_bind_opts o = {};

        plan(e, "00:01.0", VFIO_BIND_TO_VFIO, &o);
        assert_true(any_contains(e->plan->refusals, "0000:00:01.0 is needed by the host: boot-display"));
        assert_true(any_contains(e->plan->refusals, "--force"));
        o.force = true;
        o.dry_run = true;
        plan(e, "00:01.0", VFIO_BIND_TO_VFIO, &o);
        assert_int_equal(strv_length(e->plan->refusals), 0);
        assert_true(any_contains(e->plan->warnings, "boot-display"));
}

/* Without an IOMMU no device has a group, so no verdict says "host-critical"; the boot display is still the
 * host's, and --force must say so out loud (and refuse without --force), as it does with an IOMMU. */
static void test_no_iommu_force_never_takes_a_host_critical_device_silently(void **state)
{
        env *e = *state;
        vfio_bind_opts o = {};

        fixture_remove(e->dir);
        e->dir = fixture_copy("q35-noiommu");
        assert_non_null(e->dir);
        plan(e, "00:01.0", VFIO_BIND_TO_VFIO, &o);
        assert_true(any_contains(e->plan->refusals, "0000:00:01.0 is needed by the host: boot-display"));
        o.force = true;
        o.dry_run = true;
        plan(e, "00:01.0", VFIO_BIND_TO_VFIO, &o);
        assert_int_equal(strv_length(e->plan->refusals), 0);
        assert_true(any_contains(e->plan->warnings, "0000:00:01.0 is needed by the host: boot-display"));
        assert_true(any_contains(e->plan->warnings, "has no IOMMU group"));
}

/* The handoff ([gpu] handoff = yes) gives the boot display to the VM: bind names it instead of refusing it,
 * without --force; without the handoff the same device is still refused by its own facts. */
static void test_handed_boot_display_named_not_refused(void **state)
{
        env *e = *state;
        vfio_bind_opts o = { .give_display = true, .dry_run = true };

        plan(e, "00:01.0", VFIO_BIND_TO_VFIO, &o);
        assert_int_equal(strv_length(e->plan->refusals), 0);
        assert_true(any_contains(e->plan->warnings, "0000:00:01.0: boot-display"));
        assert_true(any_contains(e->plan->warnings, "(handed to the VM)"));
        o.give_display = false;
        plan(e, "00:01.0", VFIO_BIND_TO_VFIO, &o);
        assert_true(any_contains(e->plan->refusals, "0000:00:01.0 is needed by the host: boot-display"));
}

static void test_processes_holding_the_gpu_are_named(void **state)
{
        env *e = *state;
        vfio_bind_opts o = { .force = true };
        char path[4200];

        /* /proc/PID/fd/N links as procfs shows them (proc(5)); the capture has no processes. */
        snprintf(path, sizeof(path), "%s/proc/4242/fd", e->dir);
        assert_int_equal(run_argv((char *[]){ (char *)"mkdir", (char *)"-p", path, NULL }), 0);
        snprintf(path, sizeof(path), "%s/proc/4242/fd/7", e->dir);
        assert_int_equal(symlink("/dev/dri/card0", path), 0);
        snprintf(path, sizeof(path), "%s/proc/4242/fd/8", e->dir);
        assert_int_equal(symlink("/dev/null", path), 0);
        snprintf(path, sizeof(path), "%s/proc/4242/comm", e->dir);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs("Xorg\n", f);
        fclose(f);
        plan(e, "00:01.0", VFIO_BIND_TO_VFIO, &o);
        assert_true(
                any_contains(e->plan->warnings, "0000:00:01.0: Xorg (pid 4242) has /dev/dri/card0 open"));
        o.force = false;
        plan(e, "00:01.0", VFIO_BIND_TO_VFIO, &o);
        assert_true(
                any_contains(e->plan->refusals, "Xorg (pid 4242) has /dev/dri/card0 open; stop it first"));
        /* The second GPU's card node is a different one: no holder there. */
        plan(e, "03:00.0", VFIO_BIND_TO_VFIO, &o);
        assert_int_equal(strv_length(e->plan->refusals), 0);
}

static void test_failure_mid_way_rolls_back(void **state)
{
        env *e = *state;
        vfio_bind_opts o = { .with_group = true, .fail_after = 4 };
        char *s;

        /* Write 4 is 05:02.0's driver_override: 05:01.0 is moved already and must be put back. */
        plan(e, "05:01.0", VFIO_BIND_TO_VFIO, &o);
        assert_int_equal(vfio_bind_execute(e->h, e->plan, &o), -EIO);
        assert_string_equal(e->plan->writes[3],
                            "sys/bus/pci/devices/0000:05:02.0/driver_override <- vfio-pci");
        /* Rollback, newest first: 05:02.0 (no unbind: the failed write never moved it), then 05:01.0. */
        assert_string_equal(e->plan->writes[4], "sys/bus/pci/devices/0000:05:02.0/driver_override <- \\n");
        assert_string_equal(e->plan->writes[5], "sys/bus/pci/drivers_probe <- 0000:05:02.0");
        assert_string_equal(e->plan->writes[6], "sys/bus/pci/devices/0000:05:01.0/driver_override <- \\n");
        assert_string_equal(e->plan->writes[7], "sys/bus/pci/drivers_probe <- 0000:05:01.0");
        assert_true(any_contains(e->plan->log, "0000:05:01.0: rolled back to e1000"));
        s = fixture_read(e->dir, "run/vfioctl/bind/0000:05:01.0");
        assert_null(s);
}

static void test_real_write_failure_rolls_back(void **state)
{
        env *e = *state;
        vfio_bind_opts o = {};
        char path[4200];

        /* e1000e's unbind that cannot be written (a directory in its place): EISDIR at step 2. */
        snprintf(path, sizeof(path), "%s/sys/bus/pci/drivers/e1000e/unbind", e->dir);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(mkdir(path, 0755), 0);
        plan(e, "02:00.0", VFIO_BIND_TO_VFIO, &o);
        assert_int_equal(vfio_bind_execute(e->h, e->plan, &o), -EISDIR);
        assert_true(any_contains(e->plan->log, "0000:02:00.0: FAILED"));
        assert_true(any_contains(e->plan->writes, "0000:02:00.0/driver_override <- \\n"));
        assert_true(any_contains(e->plan->log, "0000:02:00.0: rolled back to e1000e"));
        assert_false(any_contains(e->plan->log, "rolled back to e1000e FAILED"));
        assert_null(fixture_read(e->dir, "run/vfioctl/bind/0000:02:00.0"));
}

/* A rollback that fails itself is reported as such, with the devices left moved (issue 15 item 6). */
static void test_failed_rollback_is_not_called_put_back(void **state)
{
        env *e = *state;
        vfio_bind_opts o = {};
        char path[4200];

        /* drivers_probe cannot be written (a directory in its place): the bind fails there, and so does the
         * rollback's reprobe of the same device. */
        snprintf(path, sizeof(path), "%s/sys/bus/pci/drivers_probe", e->dir);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(mkdir(path, 0755), 0);
        plan(e, "02:00.0", VFIO_BIND_TO_VFIO, &o);
        assert_int_equal(vfio_bind_execute(e->h, e->plan, &o), -EISDIR);
        assert_true(e->plan->rolled_back);
        assert_true(any_contains(e->plan->log, "0000:02:00.0: rolled back to e1000e FAILED"));
        assert_int_equal(strv_length(e->plan->not_restored), 1);
        assert_string_equal(e->plan->not_restored[0], "0000:02:00.0=e1000e");
}

/* Points the device's driver link at vfio-pci, as the kernel does after a successful probe. */
static void fake_bound_to_vfio(env *e, const char *name)
{
        char path[4200];

        snprintf(path, sizeof(path), "%s/sys/devices/pci0000:00/0000:00:10.0/%s/driver", e->dir, name);
        assert_int_equal(unlink(path), 0);
        assert_int_equal(symlink("../../../../bus/pci/drivers/vfio-pci", path), 0);
}

static void test_idempotent_and_unbind_restores(void **state)
{
        env *e = *state;
        vfio_bind_opts o = {};
        char *w;

        plan(e, "01:00.0", VFIO_BIND_TO_VFIO, &o);
        assert_int_equal(vfio_bind_execute(e->h, e->plan, &o), 0);
        fake_bound_to_vfio(e, "0000:01:00.0");
        /* Second run: nothing to do, nothing written. */
        plan(e, "01:00.0", VFIO_BIND_TO_VFIO, &o);
        assert_true(e->plan->devs[0].noop);
        assert_int_equal(vfio_bind_execute(e->h, e->plan, &o), 0);
        assert_int_equal(strv_length(e->plan->writes), 0);
        assert_true(any_contains(e->plan->log, "already on vfio-pci"));
        /* unbind: back to the recorded e1000e. */
        plan(e, "01:00.0", VFIO_BIND_RESTORE, &o);
        assert_string_equal(e->plan->devs[0].target, "e1000e");
        assert_int_equal(vfio_bind_execute(e->h, e->plan, &o), 0);
        w = joined_writes(e);
        assert_string_equal(w, "sys/bus/pci/devices/0000:01:00.0/driver_override <- \\n\n"
                               "sys/bus/pci/devices/0000:01:00.0/driver/unbind <- 0000:01:00.0\n"
                               "sys/bus/pci/drivers_probe <- 0000:01:00.0");
        free(w);
        assert_null(fixture_read(e->dir, "run/vfioctl/bind/0000:01:00.0"));
        /* unbind of a device on its host driver is a no-op. */
        plan(e, "02:00.0", VFIO_BIND_RESTORE, &o);
        assert_true(e->plan->devs[0].noop);
}

static void test_interrupted_bind_keeps_the_original_driver(void **state)
{
        env *e = *state;
        vfio_bind_opts o = {};
        char path[4200], *s;

        /* A run killed between unbind and probe: the record says e1000e, the device has no driver. */
        plan(e, "01:00.0", VFIO_BIND_TO_VFIO, &o);
        assert_int_equal(vfio_bind_execute(e->h, e->plan, &o), 0);
        snprintf(path, sizeof(path), "%s/sys/devices/pci0000:00/0000:00:10.0/0000:01:00.0/driver", e->dir);
        assert_int_equal(unlink(path), 0);
        plan(e, "01:00.0", VFIO_BIND_TO_VFIO, &o);
        assert_null(e->plan->devs[0].driver);
        assert_int_equal(vfio_bind_execute(e->h, e->plan, &o), 0);
        /* No unbind write (nothing bound); the record still names e1000e, not "no driver". */
        assert_int_equal(strv_length(e->plan->writes), 2);
        s = fixture_read(e->dir, "run/vfioctl/bind/0000:01:00.0");
        assert_non_null(strstr(s, "driver=e1000e\n"));
        free(s);
}

/*
 * At boot udev loads the host driver while the unit binds: a device with no driver when bind planned may
 * have one by the time driver_override is written. bind must take it from that driver (and record it as
 * the one to restore), not probe a device the host driver holds.
 */
static void test_driver_arrived_after_the_plan_is_unbound(void **state)
{
        env *e = *state;
        vfio_bind_opts o = {};
        char path[4200], target[4200], *s;
        ssize_t n;

        snprintf(path, sizeof(path), "%s/sys/devices/pci0000:00/0000:00:10.0/0000:01:00.0/driver", e->dir);
        n = readlink(path, target, sizeof(target) - 1);
        assert_true(n > 0);
        target[n] = '\0';
        assert_int_equal(unlink(path), 0);
        plan(e, "01:00.0", VFIO_BIND_TO_VFIO, &o);
        assert_null(e->plan->devs[0].driver);
        /* udev's coldplug: e1000e takes the device between the plan and the writes. */
        assert_int_equal(symlink(target, path), 0);
        assert_int_equal(vfio_bind_execute(e->h, e->plan, &o), 0);
        assert_true(any_contains(e->plan->writes, "0000:01:00.0/driver/unbind <- 0000:01:00.0"));
        s = fixture_read(e->dir, "sys/bus/pci/drivers/e1000e/unbind");
        assert_string_equal(s, "0000:01:00.0");
        free(s);
        s = fixture_read(e->dir, "run/vfioctl/bind/0000:01:00.0");
        assert_non_null(strstr(s, "driver=e1000e\n"));
        free(s);
        assert_true(any_contains(e->plan->log, "0000:01:00.0: e1000e -> vfio-pci"));
}

/*
 * The bound on the waits for the driver and /dev/vfio/N is time, not a count of sleeps: a process that
 * gets no CPU for longer than the timeout (a loaded or nested host; here SIGSTOP) gives up as soon as it
 * runs again. In a capture the driver link never moves, so the wait for vfio-pci always times out.
 */
static void test_wait_bound_is_wall_clock(void **state)
{
        env *e = *state;
        vfio_bind_opts o = { .verify = true, .timeout_ms = 3000 };
        long long t0, after_cont;
        int status;
        pid_t pid;

        plan(e, "01:00.0", VFIO_BIND_TO_VFIO, &o);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(vfio_bind_execute(e->h, e->plan, &o) == -ETIMEDOUT ? 0 : 1);
        usleep(500 * 1000); /* well inside the wait for vfio-pci */
        assert_int_equal(kill(pid, SIGSTOP), 0);
        usleep(3500 * 1000); /* longer than the whole timeout */
        t0 = now_ms();
        assert_int_equal(kill(pid, SIGCONT), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        after_cont = now_ms() - t0;
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        /* Counting 50 ms sleeps would wait about 2.5 s more after SIGCONT. */
        if (after_cont >= 1500)
                fail_msg("the wait went on for %lld ms after its 3000 ms had passed", after_cont);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_env, teardown_env)
        const struct CMUnitTest tests[] = {
                T(test_bind_writes_override_unbind_probe_in_order),
                T(test_dry_run_writes_nothing),
                T(test_group_peer_refused_by_name),
                T(test_with_group_takes_the_peer_not_the_bridge),
                T(test_bridge_refused),
                T(test_boot_vga_refused_unless_forced),
                T(test_no_iommu_force_never_takes_a_host_critical_device_silently),
                T(test_handed_boot_display_named_not_refused),
                T(test_processes_holding_the_gpu_are_named),
                T(test_failure_mid_way_rolls_back),
                T(test_real_write_failure_rolls_back),
                T(test_failed_rollback_is_not_called_put_back),
                T(test_idempotent_and_unbind_restores),
                T(test_interrupted_bind_keeps_the_original_driver),
                T(test_driver_arrived_after_the_plan_is_unbound),
                T(test_wait_bound_is_wall_clock),
        };
#undef T
        return cmocka_run_group_tests(tests, NULL, NULL);
}
