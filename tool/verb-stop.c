/* vfioctl stop|reboot|pause|resume NAME: power control over the VM's control monitor (QMP). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "parse-util.h"
#include "time-util.h"
#include "tool.h"
#include "vfioctl/vmpaths.h"
#include "vfioctl/vmrun.h"

/* Waits for QEMU to go, reading SHUTDOWN events meanwhile. true when it is gone. */
static bool wait_gone(vm_run *r, vm_runstate *s, qmp_client *q, uint64_t timeout_ms, char **reason)
{
        long long end = now_ms() + (long long)timeout_ms;

        while (now_ms() < end) {
                json_object *ev = NULL, *name, *data, *why;

                if (!vm_run_alive(r, s))
                        return true;
                if (q && qmp_next_event(q, 100, &ev) >= 0) {
                        if (json_object_object_get_ex(ev, "event", &name) &&
                            strcmp(json_object_get_string(name), "SHUTDOWN") == 0 &&
                            json_object_object_get_ex(ev, "data", &data) &&
                            json_object_object_get_ex(data, "reason", &why) && reason) {
                                free(*reason);
                                *reason = strdup(json_object_get_string(why));
                        }
                        json_object_put(ev);
                } else if (!q)
                        usleep(10 * 1000);
        }
        return !vm_run_alive(r, s);
}

/* Running VM or a message and EXIT_NOT_RUNNING. */
static int open_running(const char *name, vm_run **r, vm_runstate **s, bool quiet_if_stopped)
{
        _cleanup_free_ char *err = NULL;
        int e;

        if (vm_run_open(arg_root, name, false, r, &err) < 0) {
                if (err)
                        tool_error("%s", err);
                return EXIT_NOT_RUNNING;
        }
        e = vm_run_load(*r, s);
        if (e < 0 || !vm_run_alive(*r, *s)) {
                if (!quiet_if_stopped)
                        tool_error("VM '%s' is not running; start it with: vfioctl start %s", name, name);
                return EXIT_NOT_RUNNING;
        }
        return EXIT_OK;
}

int verb_stop(int argc, char **argv)
{
        enum { OPT_TIMEOUT = 0x100, OPT_FORCE };
        static const struct option options[] = {
                { "timeout", required_argument, NULL, OPT_TIMEOUT },
                { "force", no_argument, NULL, OPT_FORCE },
                {},
        };
        _cleanup_(vm_runstate_freep) vm_runstate *s = NULL;
        _cleanup_(qmp_client_freep) qmp_client *q = NULL;
        _cleanup_free_ char *reason = NULL;
        _cleanup_(vm_run_freep) vm_run *r = NULL;
        uint64_t timeout = 60;
        bool force = false, gone;
        int opt, ret;

        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (opt) {
                case OPT_TIMEOUT:
                        if (parse_uint(optarg, 10, 86400, &timeout) < 0) {
                                tool_error("--timeout: '%s' is not a number of seconds (0 to 86400)",
                                           optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case OPT_FORCE:
                        force = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (tool_check_arity(argc - optind) < 0)
                return EXIT_USAGE;
        {
                /* Never started here: nothing to stop, and nothing to complain about. */
                _cleanup_free_ char *base = NULL, *dir = NULL;

                if (vm_name_valid(argv[optind]) && vm_run_base(arg_root, &base) >= 0 &&
                    asprintf(&dir, "%s/%s", base, argv[optind]) >= 0 && access(dir, F_OK) < 0 &&
                    errno == ENOENT) {
                        printf("VM %s is not running\n", argv[optind]);
                        return EXIT_OK;
                }
        }
        ret = open_running(argv[optind], &r, &s, true);
        if (ret != EXIT_OK) {
                /* Host changes its supervisor and guardian could not give back (both killed): now. */
                if (r && vm_run_finish_release(
                                 r, false, "stopped by vfioctl stop after its supervisor was killed") > 0)
                        printf("VM %s was not running; the host changes it still held were given back (see: vfioctl log %s)\n",
                               argv[optind], argv[optind]);
                else if (r || ret == EXIT_NOT_RUNNING)
                        printf("VM %s is not running\n", argv[optind]);
                return EXIT_OK; /* stopping a stopped VM is done, like systemctl stop */
        }
        if (force) {
                (void)vm_run_stop_request(r, "force");
                if (kill(s->pid, SIGKILL) < 0 && errno != ESRCH) {
                        tool_error("cannot kill QEMU (pid %d): %s; run as the user who started it, or root",
                                   (int)s->pid, strerror(errno));
                        return errno == EPERM ? EXIT_NOPERM : EXIT_FAILURE_GENERIC;
                }
                gone = wait_gone(r, s, NULL, 10000, NULL);
                reason = strdup("killed by vfioctl stop --force");
        } else {
                _cleanup_free_ char *err = NULL;
                int e;

                (void)vm_run_stop_request(r, "powerdown");
                if (vm_run_ctl(r, &q, &err) < 0) {
                        if (err)
                                tool_error("%s", err);
                        return EXIT_FAILURE_GENERIC;
                }
                /* The ACPI power button (QMP system_powerdown): the guest shuts down by itself. */
                e = qmp_execute(q, "system_powerdown", NULL, 10000, NULL, &err);
                if (e < 0)
                        tool_warning("system_powerdown failed: %s", err ? err : strerror(-e));
                /*
                 * A press before the guest listens (early boot, no acpid yet) is lost: the button is an edge
                 * (ACPI 6.4, 4.8.2.2.1.1 "Power Button"). Press again every 10 s until the timeout.
                 */
                for (uint64_t waited = 0;
                     waited < timeout &&
                     !(gone = wait_gone(r, s, q, (timeout - waited < 10 ? timeout - waited : 10) * 1000,
                                        &reason));
                     waited += 10)
                        if (waited + 10 < timeout)
                                (void)qmp_execute(q, "system_powerdown", NULL, 10000, NULL, NULL);
                if (!gone) {
                        fprintf(stderr, "VM %s did not power off within %llu s; quitting QEMU\n", r->name,
                                (unsigned long long)timeout);
                        (void)qmp_execute(q, "quit", NULL, 5000, NULL, NULL);
                        gone = wait_gone(r, s, q, 10000, &reason);
                }
                if (!gone) {
                        kill(s->pid, SIGKILL);
                        gone = wait_gone(r, s, NULL, 5000, NULL);
                }
        }
        if (q && gone) {
                /* QEMU may be gone before we read its last words: the SHUTDOWN event is still queued. */
                json_object *ev = NULL, *name, *data, *why;

                while (qmp_next_event(q, 100, &ev) >= 0) {
                        if (json_object_object_get_ex(ev, "event", &name) &&
                            strcmp(json_object_get_string(name), "SHUTDOWN") == 0 &&
                            json_object_object_get_ex(ev, "data", &data) &&
                            json_object_object_get_ex(data, "reason", &why)) {
                                free(reason);
                                reason = strdup(json_object_get_string(why));
                        }
                        json_object_put(ev);
                }
        }
        q = qmp_client_free(q);
        if (!gone) {
                tool_error("QEMU (pid %d) is still running", (int)s->pid);
                return EXIT_FAILURE_GENERIC;
        }
        /* The supervisor records the end and releases; without one (it was killed), stop does it. */
        /* Poll finely: a --force stop is otherwise dominated by this wait (bench case 1 measured 100 ms). */
        for (int i = 0; i < 1000 && vm_runstate_lock_held(r->dirfd) > 0; i++)
                usleep(10 * 1000);
        if (vm_runstate_lock_held(r->dirfd) <= 0) {
                _cleanup_(vm_runstate_freep) vm_runstate *now = NULL;

                if (vm_runstate_read(r->dirfd, &now) >= 0 && now->state != VM_STATE_STOPPED &&
                    now->state != VM_STATE_CRASHED)
                        vm_run_release(r, now, VM_STATE_STOPPED,
                                       reason ? reason : "stopped by vfioctl stop");
        }
        {
                _cleanup_(vm_runstate_freep) vm_runstate *fin = NULL;

                if (vm_runstate_read(r->dirfd, &fin) >= 0)
                        printf("VM %s %s: %s\n", r->name, vm_state_to_string(fin->state),
                               fin->exit_reason ? fin->exit_reason : "-");
        }
        return EXIT_OK;
}

/* reboot, pause, resume: one QMP command each. */
static int simple(int argc, char **argv, const char *command, const char *done)
{
        _cleanup_(vm_runstate_freep) vm_runstate *s = NULL;
        _cleanup_(qmp_client_freep) qmp_client *q = NULL;
        _cleanup_free_ char *err = NULL;
        _cleanup_(vm_run_freep) vm_run *r = NULL;
        int ret, e;

        if (tool_check_arity(argc - 1) < 0)
                return EXIT_USAGE;
        ret = open_running(argv[1], &r, &s, false);
        if (ret != EXIT_OK)
                return ret;
        if (vm_run_ctl(r, &q, &err) < 0) {
                if (err)
                        tool_error("%s", err);
                return EXIT_FAILURE_GENERIC;
        }
        e = qmp_execute(q, command, NULL, 10000, NULL, &err);
        if (e < 0) {
                tool_error("%s %s: QMP %s failed: %s", argv[0], r->name, command, err ? err : strerror(-e));
                return EXIT_FAILURE_GENERIC;
        }
        if (strcmp(command, "system_reset") != 0) {
                /* The supervisor follows STOP/RESUME events; without one, record it here. */
                if (vm_runstate_lock_held(r->dirfd) <= 0) {
                        s->state = strcmp(command, "stop") == 0 ? VM_STATE_PAUSED : VM_STATE_RUNNING;
                        (void)vm_runstate_write(r->dirfd, s);
                } else
                        usleep(200 * 1000); /* let it write the new state before we return */
        }
        vm_run_log(r, "%s by vfioctl %s", done, argv[0]);
        printf("VM %s %s\n", r->name, done);
        return EXIT_OK;
}

int verb_reboot(int argc, char **argv)
{
        /* A hard reset (the reset button): x86 has no ACPI reboot request a guest must honour. */
        return simple(argc, argv, "system_reset", "reset");
}

int verb_pause(int argc, char **argv)
{
        return simple(argc, argv, "stop", "paused");
}

int verb_resume(int argc, char **argv)
{
        return simple(argc, argv, "cont", "resumed");
}
