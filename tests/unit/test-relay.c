/*
 * The input relay's launch is gated like QEMU's: the caller's record of the relay's pid exists before the
 * relay runs a single instruction, and a record that cannot be made leaves no relay running. The relay
 * here is a real program (a shell script standing in for `vfioctl input relay`, which needs /dev/uinput):
 * its first act is to look for its own pid in the record.
 */
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vfioctl/relay.h"
#include "vfioctl/runstate.h"
#include "vfioctl/vmconf.h"

static char dir[64];
static char script[128], record[128], ran[128];

static int setup(void **state)
{
        FILE *f;

        (void)state;
        snprintf(dir, sizeof(dir), "/tmp/vfioctl-test-relay-XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        snprintf(script, sizeof(script), "%s/relay", dir);
        snprintf(record, sizeof(record), "%s/record", dir);
        snprintf(ran, sizeof(ran), "%s/ran", dir);
        f = fopen(script, "we");
        if (!f)
                return -1;
        /* READY only when the record already names this very process; then it waits to be stopped. */
        fprintf(f,
                "#!/bin/sh\n"
                ": > %s\n"
                "if [ \"$(cat %s 2>/dev/null)\" = \"$$\" ]; then echo READY; exec sleep 30; fi\n"
                "echo \"vfioctl: error: started before its pid was recorded\"\n"
                "exit 1\n",
                ran, record);
        fclose(f);
        return chmod(script, 0755);
}

static int teardown(void **state)
{
        (void)state;
        unlink(script);
        unlink(record);
        unlink(ran);
        rmdir(dir);
        return 0;
}

static int write_record(pid_t pid, void *userdata)
{
        FILE *f = fopen(record, "we");

        (*(int *)userdata)++;
        if (!f)
                return -errno;
        fprintf(f, "%d", (int)pid);
        return fclose(f) == 0 ? 0 : -EIO;
}

static int refuse_record(pid_t pid, void *userdata)
{
        (void)pid;
        (*(int *)userdata)++;
        return -ENOSPC; /* the runtime record could not be written */
}

static vm_relay_spawn spawn_for(const vm_config *c, int (*hook)(pid_t, void *), int *calls)
{
        return (vm_relay_spawn){ .c = c,
                                 .program = script,
                                 .link_dir = dir,
                                 .log_fd = -1,
                                 .before_exec = hook,
                                 .userdata = calls };
}

static void test_recorded_before_it_runs(void **state)
{
        vm_config c = { .name = (char *)"relaytest" };
        vm_relay_spawn s = spawn_for(&c, write_record, &(int){ 0 });
        char *report = NULL;
        pid_t pid = 0;
        int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC), status;
        uint64_t st = 0;

        (void)state;
        assert_true(proc >= 0);
        assert_int_equal(vm_relay_start(&s, &pid, &report), 0);
        assert_int_equal(*(int *)s.userdata, 1);
        assert_true(pid > 0);
        assert_int_equal(access(ran, F_OK), 0);
        /* The pid the relay found in the record is the one vm_relay_start hands back. */
        {
                FILE *f = fopen(record, "re");
                int recorded = 0;

                assert_non_null(f);
                assert_int_equal(fscanf(f, "%d", &recorded), 1);
                fclose(f);
                assert_int_equal(recorded, pid);
        }
        assert_int_equal(vm_proc_starttime(proc, pid, &st), 0);
        vm_relay_stop(proc, pid, st);
        assert_int_equal(kill(pid, 0), -1);
        assert_int_equal(waitpid(pid, &status, WNOHANG), -1);
        close(proc);
        free(report);
}

static void test_no_record_no_relay(void **state)
{
        vm_config c = { .name = (char *)"relaytest" };
        int calls = 0;
        vm_relay_spawn s = spawn_for(&c, refuse_record, &calls);
        char *report = NULL;
        pid_t pid = 0;

        (void)state;
        assert_int_equal(vm_relay_start(&s, &pid, &report), -ENOSPC);
        assert_int_equal(calls, 1);
        assert_int_equal(pid, 0); /* untouched on failure */
        /* Killed at the gate: not one instruction of it ran, and no child is left (reaped, not running). */
        assert_int_equal(access(ran, F_OK), -1);
        assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
        free(report);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_recorded_before_it_runs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_record_no_relay, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
