/*
 * The release steps: undone last-done-first as the record lists them, older records in start's order,
 * what a rollback undid told to the caller. A fixture root stands for the host (its hugepage pool) and a
 * recording ddcutil (VFIOCTL_DDCUTIL) notes the pool size at the moment the monitor is switched back, so
 * the order of the two undos is visible.
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

#include "cleanup.h"
#include "fileio.h"
#include "strv.h"
#include "vfioctl/release.h"
#include "vfioctl/runstate.h"
#include "vfioctl/vmrun.h"

#define POOL "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"

typedef struct fixture {
        char *root;
        char *ddc_log;
        vm_run *run;
} fixture;

static void put(const char *root, const char *rel, const char *text)
{
        char path[1024], cmd[1200];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", root, rel);
        snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
        assert_int_equal(system(cmd), 0);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

static char *get(const char *root, const char *rel)
{
        _cleanup_close_ int fd = -EBADF;
        char path[1024], *s = NULL;

        snprintf(path, sizeof(path), "%s/%s", root, rel);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return strdup("");
        assert_int_equal(read_full_fd(fd, 1 << 20, &s, NULL), 0);
        return s;
}

static int setup(void **state)
{
        fixture *f = calloc(1, sizeof(*f));
        char script[4096];
        _cleanup_free_ char *err = NULL;

        assert_non_null(f);
        f->root = strdup("/tmp/vfioctl-test-release-XXXXXX");
        assert_non_null(mkdtemp(f->root));
        assert_true(asprintf(&f->ddc_log, "%s/ddc.log", f->root) > 0);
        put(f->root, POOL, "96\n");
        snprintf(script, sizeof(script), "#!/bin/sh\necho \"$* pool=$(cat '%s/%s')\" >> '%s'\n", f->root,
                 POOL, f->ddc_log);
        put(f->root, "ddcutil", script);
        {
                char path[1024];

                snprintf(path, sizeof(path), "%s/ddcutil", f->root);
                assert_int_equal(chmod(path, 0755), 0);
                assert_int_equal(setenv("VFIOCTL_DDCUTIL", path, 1), 0);
        }
        assert_int_equal(vm_run_open(f->root, "vm1", true, &f->run, &err), 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        fixture *f = *state;
        char cmd[1200];

        vm_run_free(f->run);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
        assert_int_equal(system(cmd), 0);
        free(f->root);
        free(f->ddc_log);
        free(f);
        return 0;
}

/* A record of a VM that reserved 64 pages and switched the monitor (host input 0x0f). */
static vm_runstate *record(void)
{
        vm_runstate *s = calloc(1, sizeof(*s));

        assert_non_null(s);
        s->hugepages_reserved = 64;
        s->hugepage_kb = 2048;
        s->ddc = strdup("bus=7 host=0x0f guest=0x11");
        assert_non_null(s->ddc);
        return s;
}

static void test_undone_last_first(void **state)
{
        fixture *f = *state;
        _cleanup_(vm_runstate_freep) vm_runstate *s = record();
        _cleanup_free_ char *log = NULL, *pool = NULL;

        /* start reserves the pages first, switches the monitor later: the monitor goes back first. */
        assert_int_equal(vm_release_record(s, VM_RELEASE_HUGEPAGES), 0);
        assert_int_equal(vm_release_record(s, VM_RELEASE_DDC), 0);
        assert_int_equal(vm_release_record(s, VM_RELEASE_DDC), 0); /* once */
        assert_int_equal(strv_length(s->steps), 2);
        vm_release_undo(&(vm_release_ctx){ .run = f->run, .state = s });
        log = get(f->root, "ddc.log");
        assert_string_equal(log, "--bus 7 setvcp 60 0x0f pool=96\n");
        pool = get(f->root, POOL);
        assert_string_equal(pool, "32\n");
        /* Nothing is left to undo a second time. */
        assert_null(s->steps);
        assert_int_equal(s->hugepages_reserved, 0);
        assert_null(s->ddc);
}

static void test_order_follows_the_record(void **state)
{
        fixture *f = *state;
        _cleanup_(vm_runstate_freep) vm_runstate *s = record();
        _cleanup_free_ char *log = NULL;

        /* Done the other way round (a future step order): undone the other way round. */
        assert_int_equal(vm_release_record(s, VM_RELEASE_DDC), 0);
        assert_int_equal(vm_release_record(s, VM_RELEASE_HUGEPAGES), 0);
        vm_release_undo(&(vm_release_ctx){ .run = f->run, .state = s });
        log = get(f->root, "ddc.log");
        assert_string_equal(log, "--bus 7 setvcp 60 0x0f pool=32\n");
}

static void test_older_record_in_start_order(void **state)
{
        fixture *f = *state;
        _cleanup_(vm_runstate_freep) vm_runstate *s = record(), *back = NULL;
        _cleanup_free_ char *log = NULL, *vmlog = NULL;

        /* Written by a vfioctl without steps=: read back, its fields alone say what was done. */
        assert_int_equal(vm_runstate_write(f->run->dirfd, s), 0);
        assert_int_equal(vm_runstate_read(f->run->dirfd, &back), 0);
        assert_null(back->steps);
        vm_release_undo(&(vm_release_ctx){ .run = f->run, .state = back });
        log = get(f->root, "ddc.log");
        assert_string_equal(log, "--bus 7 setvcp 60 0x0f pool=96\n");
        vmlog = get(f->root, "run/vfioctl/vm1/log");
        assert_non_null(strstr(vmlog, "monitor switched back to the host input (0x0f)"));
        assert_non_null(strstr(vmlog, "released 64 hugepages reserved at start"));
}

static void test_record_round_trip_and_unknown_steps(void **state)
{
        fixture *f = *state;
        _cleanup_(vm_runstate_freep) vm_runstate *s = record(), *back = NULL;
        _cleanup_free_ char *vmlog = NULL, *pool = NULL;

        assert_int_equal(vm_release_record(s, "no-such-step"), -EINVAL);
        assert_int_equal(vm_release_record(s, VM_RELEASE_HUGEPAGES), 0);
        /* A newer vfioctl's step in the record: said, skipped, the others still undone. */
        assert_int_equal(strv_extend(&s->steps, "some-future-step"), 0);
        assert_int_equal(vm_runstate_write(f->run->dirfd, s), 0);
        assert_int_equal(vm_runstate_read(f->run->dirfd, &back), 0);
        assert_int_equal(strv_length(back->steps), 2);
        assert_string_equal(back->steps[0], VM_RELEASE_HUGEPAGES);
        assert_string_equal(back->steps[1], "some-future-step");
        vm_release_undo(&(vm_release_ctx){ .run = f->run, .state = back });
        vmlog = get(f->root, "run/vfioctl/vm1/log");
        assert_non_null(strstr(
                vmlog, "warning: release step 'some-future-step' was recorded by another vfioctl version"));
        pool = get(f->root, POOL);
        assert_string_equal(pool, "32\n");
}

typedef struct heard {
        char **lines;
} heard;

static void hear(vfio_problem_level level, const char *message, void *userdata)
{
        heard *h = userdata;

        assert_int_equal(
                strv_extendf(&h->lines, "%s%s", level == VFIO_PROBLEM_WARNING ? "warning: " : "", message),
                0);
}

static void test_rollback_tells_the_caller(void **state)
{
        fixture *f = *state;
        _cleanup_(vm_runstate_freep) vm_runstate *s = record();
        _cleanup_free_ char *vmlog = NULL;
        heard h = {};

        free(s->ddc);
        s->ddc = NULL;
        assert_int_equal(vm_release_record(s, VM_RELEASE_HUGEPAGES), 0);
        /* A device that is not there to give back: a warning with the fix, the rest still undone. */
        assert_int_equal(strv_extend(&s->rebind, "0000:99:00.0=e1000e"), 0);
        assert_int_equal(vm_release_record(s, VM_RELEASE_REBIND), 0);
        vm_release_undo(&(vm_release_ctx){
                .run = f->run, .state = s, .rollback = true, .report = hear, .userdata = &h });
        assert_int_equal(strv_length(h.lines), 2);
        assert_non_null(strstr(h.lines[0], "warning: giving 0000:99:00.0 back to its host driver"));
        assert_non_null(strstr(h.lines[0], "run: vfioctl unbind 0000:99:00.0"));
        assert_string_equal(h.lines[1], "released the 64 hugepages reserved for this start");
        /* A rollback speaks to the caller, not to the log of a VM that never ran. */
        vmlog = get(f->root, "run/vfioctl/vm1/log");
        assert_null(strstr(vmlog, "hugepages"));
        strv_free(h.lines);
}

/* stop and stop --force leave their request for the supervisor whole, replacing an earlier one, 0600. */
static void test_stop_request_is_whole(void **state)
{
        fixture *f = *state;
        _cleanup_free_ char *req = NULL, *cmd = NULL;
        struct stat st;

        assert_int_equal(vm_run_stop_request(f->run, "powerdown"), 0);
        assert_int_equal(vm_run_stop_request(f->run, "force"), 0);
        req = get(f->root, "run/vfioctl/vm1/stop-request");
        assert_string_equal(req, "force");
        assert_int_equal(fstatat(f->run->dirfd, "stop-request", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        /* Nothing half-written is left beside it. */
        assert_true(asprintf(&cmd, "ls -A '%s/run/vfioctl/vm1' | grep -v -x -e stop-request -e log",
                             f->root) > 0);
        assert_int_not_equal(system(cmd), 0);
}

/*
 * The single-GPU handoff given back in reverse: the framebuffer console is bound again before the display
 * manager starts (a recording systemctl notes the console's bind file when it is called), and the record
 * on disk loses each step as it is undone, so a release cut short resumes where it stopped.
 */
static void handoff_fixture(fixture *f)
{
        char script[2048], path[1024];

        put(f->root, "sys/class/vtconsole/vtcon1/bind", "0\n");
        put(f->root, "sys/class/vtconsole/vtcon1/name", "(M) frame buffer device\n");
        put(f->root, "sys/class/graphics/fb0/dev", "29:0\n");
        snprintf(
                script, sizeof(script),
                "#!/bin/sh\necho \"$* vtcon1=$(cat '%s/sys/class/vtconsole/vtcon1/bind')\" >> '%s/systemctl.log'\n",
                f->root, f->root);
        put(f->root, "systemctl", script);
        snprintf(path, sizeof(path), "%s/systemctl", f->root);
        assert_int_equal(chmod(path, 0755), 0);
        assert_int_equal(setenv("VFIOCTL_SYSTEMCTL", path, 1), 0);
}

static vm_runstate *handoff_record(void)
{
        vm_runstate *s = calloc(1, sizeof(*s));

        assert_non_null(s);
        s->display_manager = strdup("gdm.service");
        assert_non_null(s->display_manager);
        assert_int_equal(vm_release_record(s, VM_RELEASE_DISPLAY_MANAGER), 0);
        assert_int_equal(strv_extend(&s->consoles, "vtcon1"), 0);
        assert_int_equal(vm_release_record(s, VM_RELEASE_CONSOLES), 0);
        return s;
}

static void test_handoff_given_back_in_reverse(void **state)
{
        fixture *f = *state;
        _cleanup_(vm_runstate_freep) vm_runstate *s = NULL, *back = NULL;
        _cleanup_free_ char *log = NULL, *bind = NULL, *vmlog = NULL;

        handoff_fixture(f);
        s = handoff_record();
        assert_int_equal(vm_runstate_write(f->run->dirfd, s), 0);
        vm_release_undo(&(vm_release_ctx){ .run = f->run, .state = s });
        bind = get(f->root, "sys/class/vtconsole/vtcon1/bind");
        assert_int_equal(bind[0], '1'); /* written over "0\n" in place, as into sysfs */
        log = get(f->root, "systemctl.log");
        assert_string_equal(log, "start gdm.service vtcon1=1\n");
        vmlog = get(f->root, "run/vfioctl/vm1/log");
        assert_non_null(strstr(vmlog, "handoff: framebuffer console bound again (vtcon1)"));
        assert_non_null(strstr(vmlog, "handoff: started gdm.service again"));
        assert_null(s->steps);
        assert_int_equal(vm_runstate_read(f->run->dirfd, &back), 0);
        assert_null(back->steps);
        assert_null(back->display_manager);
        assert_null(back->consoles);
        unsetenv("VFIOCTL_SYSTEMCTL");
}

/* A display manager that does not come back: the log says how to start it by hand. */
static void test_handoff_display_manager_fails(void **state)
{
        fixture *f = *state;
        _cleanup_(vm_runstate_freep) vm_runstate *s = NULL;
        _cleanup_free_ char *vmlog = NULL;

        handoff_fixture(f);
        put(f->root, "systemctl", "#!/bin/sh\necho 'Unit gdm.service not found.' >&2\nexit 5\n");
        s = handoff_record();
        vm_release_undo(&(vm_release_ctx){ .run = f->run, .state = s });
        vmlog = get(f->root, "run/vfioctl/vm1/log");
        assert_non_null(strstr(vmlog, "starting gdm.service again failed:"));
        assert_non_null(strstr(vmlog, "Unit gdm.service not found."));
        assert_non_null(strstr(vmlog, "by hand: systemctl start gdm.service"));
        unsetenv("VFIOCTL_SYSTEMCTL");
}

/*
 * Its supervisor and guardian both killed: the record still lists host changes, QEMU is gone, nobody holds
 * the lock. The next stop or start completes the release (vm_run_finish_release); a second call finds
 * nothing left.
 */
static void test_finish_release_after_kill(void **state)
{
        fixture *f = *state;
        _cleanup_(vm_runstate_freep) vm_runstate *s = NULL, *back = NULL;
        _cleanup_free_ char *log = NULL;

        handoff_fixture(f);
        s = handoff_record();
        s->state = VM_STATE_RUNNING;
        s->pid = 0; /* killed before QEMU ran */
        assert_int_equal(vm_runstate_write(f->run->dirfd, s), 0);
        assert_int_equal(vm_run_finish_release(f->run, false, "stopped by a test"), 1);
        log = get(f->root, "systemctl.log");
        assert_string_equal(log, "start gdm.service vtcon1=1\n");
        assert_int_equal(vm_runstate_read(f->run->dirfd, &back), 0);
        assert_null(back->steps);
        assert_int_equal(back->state, VM_STATE_CRASHED);
        assert_string_equal(back->exit_reason, "stopped by a test");
        assert_int_equal(vm_run_finish_release(f->run, false, "again"), 0);
        unsetenv("VFIOCTL_SYSTEMCTL");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_undone_last_first, setup, teardown),
                cmocka_unit_test_setup_teardown(test_order_follows_the_record, setup, teardown),
                cmocka_unit_test_setup_teardown(test_older_record_in_start_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_record_round_trip_and_unknown_steps, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rollback_tells_the_caller, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stop_request_is_whole, setup, teardown),
                cmocka_unit_test_setup_teardown(test_handoff_given_back_in_reverse, setup, teardown),
                cmocka_unit_test_setup_teardown(test_handoff_display_manager_fails, setup, teardown),
                cmocka_unit_test_setup_teardown(test_finish_release_after_kill, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
