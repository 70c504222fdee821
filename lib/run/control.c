/* Power control of a running VM over its control monitor: stop (ACPI, quit, kill), reset, pause, resume, raw
 * QMP. */
#include "vfioctl/control.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "time-util.h"
#include "vfioctl/qmp.h"

static int fail(char **ret_error, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char **ret_error, int r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return r;
}

static void say(const vm_stop_options *o, vfio_problem_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void say(const vm_stop_options *o, vfio_problem_level level, const char *fmt, ...)
{
        _cleanup_free_ char *s = NULL;
        va_list ap;

        if (!o->report)
                return;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        if (s)
                o->report(level, s, o->userdata);
}

/* The reason of a SHUTDOWN event ("guest-shutdown", "host-qmp-quit"). */
static void take_reason(json_object *ev, char **reason)
{
        json_object *name, *data, *why;

        if (json_object_object_get_ex(ev, "event", &name) &&
            strcmp(json_object_get_string(name), "SHUTDOWN") == 0 &&
            json_object_object_get_ex(ev, "data", &data) &&
            json_object_object_get_ex(data, "reason", &why)) {
                free(*reason);
                *reason = strdup(json_object_get_string(why));
        }
}

/* Waits for QEMU to go, reading SHUTDOWN events meanwhile. true when it is gone. */
static bool wait_gone(vm_run *r, vm_runstate *s, qmp_client *q, uint64_t timeout_ms, char **reason)
{
        long long end = now_ms() + (long long)timeout_ms;

        while (now_ms() < end) {
                json_object *ev = NULL;

                if (!vm_run_alive(r, s))
                        return true;
                if (q && qmp_next_event(q, 100, &ev) >= 0) {
                        take_reason(ev, reason);
                        json_object_put(ev);
                } else if (!q)
                        usleep(10 * 1000);
        }
        return !vm_run_alive(r, s);
}

static int stop_force(vm_run *r, vm_runstate *s, bool *gone, char **reason, char **ret_error)
{
        (void)vm_run_stop_request(r, "force");
        if (kill(s->pid, SIGKILL) < 0 && errno != ESRCH) {
                int e = -errno;

                return fail(ret_error, e,
                            "cannot kill QEMU (pid %d): %s; run as the user who started it, or root",
                            (int)s->pid, strerror(-e));
        }
        *gone = wait_gone(r, s, NULL, 10000, NULL);
        free(*reason);
        *reason = strdup("killed by vfioctl stop --force");
        return 0;
}

/*
 * The ACPI power button, pressed again every 10 s until the timeout (an edge: a press before the guest
 * listens is lost); then QMP quit; then SIGKILL.
 */
static int stop_graceful(vm_run *r, vm_runstate *s, const vm_stop_options *o, qmp_client *q, bool *gone,
                         char **reason)
{
        _cleanup_free_ char *err = NULL;
        uint64_t timeout = o->timeout_s;
        int e;

        e = qmp_execute(q, "system_powerdown", NULL, 10000, NULL, &err);
        if (e < 0)
                say(o, VFIO_PROBLEM_WARNING, "system_powerdown failed: %s", err ? err : strerror(-e));
        *gone = false;
        for (uint64_t waited = 0;
             waited < timeout &&
             !(*gone = wait_gone(r, s, q, (timeout - waited < 10 ? timeout - waited : 10) * 1000, reason));
             waited += 10)
                if (waited + 10 < timeout)
                        (void)qmp_execute(q, "system_powerdown", NULL, 10000, NULL, NULL);
        if (!*gone) {
                say(o, VFIO_PROBLEM_NOTE, "VM %s did not power off within %llu s; quitting QEMU", r->name,
                    (unsigned long long)timeout);
                (void)qmp_execute(q, "quit", NULL, 5000, NULL, NULL);
                *gone = wait_gone(r, s, q, 10000, reason);
        }
        if (!*gone) {
                kill(s->pid, SIGKILL);
                *gone = wait_gone(r, s, NULL, 5000, NULL);
        }
        return 0;
}

int vm_control_stop(vm_run *r, vm_runstate *s, const vm_stop_options *o, char **ret_error)
{
        _cleanup_(qmp_client_freep) qmp_client *q = NULL;
        _cleanup_free_ char *reason = NULL;
        bool gone = false;
        int e;

        assert(r);
        assert(s);
        assert(o);
        assert(ret_error);
        if (!o->force && s->orphan && s->state == VM_STATE_STARTING)
                /* Left by a start that was killed before the guest ran (QEMU waits in -S): nothing to power
                 * down, and maybe no monitor yet. */
                say(o, VFIO_PROBLEM_WARNING,
                    "VM %s: QEMU (pid %d) was left by a start that did not finish, the guest never ran: ending it",
                    r->name, (int)s->pid);
        if (o->force || (s->orphan && s->state == VM_STATE_STARTING))
                e = stop_force(r, s, &gone, &reason, ret_error);
        else {
                (void)vm_run_stop_request(r, "powerdown");
                e = vm_run_ctl(r, &q, ret_error);
                if (e >= 0)
                        e = stop_graceful(r, s, o, q, &gone, &reason);
        }
        if (e < 0)
                return e;
        if (q && gone) {
                /* QEMU may be gone before we read its last words: the SHUTDOWN event is still queued. */
                json_object *ev = NULL;

                while (qmp_next_event(q, 100, &ev) >= 0) {
                        take_reason(ev, &reason);
                        json_object_put(ev);
                }
        }
        q = qmp_client_free(q);
        if (!gone)
                return fail(ret_error, -ETIMEDOUT, "QEMU (pid %d) is still running", (int)s->pid);
        /* The supervisor records the end and releases; without one (it was killed), this does. Polled
         * finely: a --force stop is otherwise dominated by this wait (bench case 1 measured 100 ms). */
        for (int i = 0; i < 1000 && vm_runstate_lock_held(r->dirfd) > 0; i++)
                usleep(10 * 1000);
        if (vm_runstate_lock_held(r->dirfd) <= 0) {
                _cleanup_(vm_runstate_freep) vm_runstate *now = NULL;

                if (vm_runstate_read(r->dirfd, &now) >= 0 && now->state != VM_STATE_STOPPED &&
                    now->state != VM_STATE_CRASHED)
                        vm_run_release(r, now, VM_STATE_STOPPED,
                                       reason ? reason : "stopped by vfioctl stop");
        }
        return 0;
}

int vm_control_command(vm_run *r, vm_runstate *s, const char *command, char **ret_error)
{
        _cleanup_(qmp_client_freep) qmp_client *q = NULL;
        _cleanup_free_ char *err = NULL;
        int e;

        assert(r);
        assert(s);
        assert(command);
        assert(ret_error);
        e = vm_run_ctl(r, &q, ret_error);
        if (e < 0)
                return e;
        e = qmp_execute(q, command, NULL, 10000, NULL, &err);
        if (e < 0)
                return fail(ret_error, e, "QMP %s failed: %s", command, err ? err : strerror(-e));
        if (strcmp(command, "stop") != 0 && strcmp(command, "cont") != 0)
                return 0;
        /* The supervisor follows STOP/RESUME events; without one, record it here. */
        if (vm_runstate_lock_held(r->dirfd) <= 0) {
                s->state = strcmp(command, "stop") == 0 ? VM_STATE_PAUSED : VM_STATE_RUNNING;
                (void)vm_runstate_write(r->dirfd, s);
        } else
                usleep(200 * 1000); /* let it write the new state before we return */
        return 0;
}

int vm_control_qmp(vm_run *r, const char *command, json_object *arguments, json_object **ret_reply,
                   char **ret_error)
{
        _cleanup_(qmp_client_freep) qmp_client *q = NULL;
        int e;

        assert(r);
        assert(command);
        assert(ret_reply);
        assert(ret_error);
        e = vm_run_ctl(r, &q, ret_error);
        if (e < 0)
                return e;
        e = qmp_execute(q, command, arguments, 30000, ret_reply, ret_error);
        if (e < 0)
                return e;
        vm_run_log(r, "raw QMP command by vfioctl qmp: %s", command);
        return 0;
}
