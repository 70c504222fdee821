/* The supervisor: swtpm and the relay, QEMU paused, pinned, `cont`, its events to its end, then release. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fileio.h"
#include "fs-util.h"
#include "host-steps.h"
#include "safedir.h"
#include "start-private.h"
#include "strv.h"
#include "time-util.h"
#include "vfioctl/ddc.h"
#include "vfioctl/launch.h"
#include "vfioctl/pin.h"
#include "vfioctl/qmp.h"
#include "vfioctl/relay.h"
#include "vfioctl/release.h"

/* How long QEMU may take to open its QMP socket: 300 tries of 100 ms. */
#define QMP_CONNECT_TRIES 300

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
        got_signal++;
}

/* The waiting parent of a detached supervisor learns the outcome: "OK PID" or "E what failed". */
static void notify(vm_start *x, const char *msg)
{
        if (x->notify_fd >= 0) {
                (void)!write(x->notify_fd, msg, strlen(msg));
                close(x->notify_fd);
                x->notify_fd = -EBADF;
        }
}

/* To the caller's report function; a detached supervisor has no caller to tell (its parent is notified). */
static void report(vm_start *x, vfio_problem_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void report(vm_start *x, vfio_problem_level level, const char *fmt, ...)
{
        _cleanup_free_ char *s = NULL;
        va_list ap;

        if (x->detached || !x->o.report)
                return;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        if (s)
                x->o.report(level, s, x->o.userdata);
}

/* Said to the VM log and to the caller. */
static void say(vm_start *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(vm_start *x, const char *fmt, ...)
{
        _cleanup_free_ char *s = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        if (!s)
                return;
        vm_run_log(x->run, "%s", s);
        report(x, VFIO_PROBLEM_NOTE, "%s", s);
}

/* What vfioctl stop wrote for the supervisor ("powerdown", "force"); NULL when nothing. */
static char *stop_request(vm_start *x)
{
        _cleanup_close_ int fd = -EBADF;
        char *request = NULL;

        fd = safedir_open_regular(x->run->dirfd, "stop-request", O_RDONLY, NULL);
        if (fd >= 0)
                (void)read_attr_fd(fd, 64, &request);
        return request;
}

/*
 * A start that ends before the guest ran: the parent told, the release steps run, the VM crashed -- unless
 * vfioctl stop --force ended it meanwhile (it kills QEMU while it starts): that is a stop.
 */
static int fail(vm_start *x, int r, const char *notice, const char *reason)
{
        _cleanup_free_ char *request = stop_request(x);
        bool forced = request && strcmp(request, "force") == 0;

        notify(x, notice);
        vm_run_release(x->run, x->st, forced ? VM_STATE_STOPPED : VM_STATE_CRASHED,
                       forced ? "killed by vfioctl stop --force" : reason);
        return r < 0 ? r : -EIO;
}

/* The record exists before the program runs (vm_spawn.before_exec): a kill -9 of vfioctl from here on
 * leaves a QEMU or swtpm that status, stop and start find. */
static int record_swtpm(pid_t pid, void *userdata)
{
        vm_start *x = userdata;

        x->st->swtpm = pid;
        (void)vm_proc_starttime(x->run->proc_fd, pid, &x->st->swtpm_starttime);
        x->st->supervisor = getpid();
        x->st->state = VM_STATE_STARTING;
        return vm_runstate_write(x->run->dirfd, x->st);
}

static int record_qemu(pid_t pid, void *userdata)
{
        vm_start *x = userdata;
        char buf[32];
        int r;

        x->st->pid = pid;
        (void)vm_proc_starttime(x->run->proc_fd, pid, &x->st->pid_starttime);
        x->st->supervisor = getpid();
        x->st->started = (uint64_t)time(NULL);
        x->st->state = VM_STATE_STARTING;
        r = vm_runstate_write(x->run->dirfd, x->st);
        if (r < 0)
                return r;
        /* DIR/pid for scripts (the status file has it too). */
        snprintf(buf, sizeof(buf), "%d\n", (int)pid);
        (void)safedir_write(x->run->dirfd, "pid", -1, buf, strlen(buf), 0644, SAFEDIR_KEEP_UID,
                            SAFEDIR_KEEP_GID, 0);
        return 0;
}

/* QEMU's own last word in the log (its stderr goes there): why it exited, for the message. */
static char *qemu_last_words(vm_start *x)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        char *line = NULL, *save = NULL;
        const char *last = NULL;

        fd = safedir_open_regular(x->run->dirfd, "log", O_RDONLY, NULL);
        if (fd < 0 || read_full_fd(fd, 1 << 20, &text, NULL) < 0)
                return NULL;
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                if (!strstr(line, " vfioctl: ") && *line)
                        last = line;
        return last ? strdup(last) : NULL;
}

static vm_spawn spawn_as_user(const vm_start *x, char *const *argv, int log_fd)
{
        return (vm_spawn){ .argv = argv,
                           .envp = x->envp,
                           .drop = x->drop,
                           .uid = x->user->uid,
                           .gid = x->user->gid,
                           .groups = x->user->keep,
                           .n_groups = x->user->n_keep,
                           .log_fd = log_fd };
}

/* The TPM emulator first: QEMU connects to its socket at startup (QEMU docs, "TPM"). */
static int start_swtpm(vm_start *x, int log_fd)
{
        vm_spawn sp = spawn_as_user(x, x->swtpm_argv, log_fd);
        const char *stage = NULL;
        pid_t pid = 0;
        int r;

        sp.before_exec = record_swtpm;
        sp.userdata = x;
        r = vm_launch_spawn(&sp, &pid, &stage);
        for (int i = 0; r >= 0 && i < 100 && access(x->swtpm_socket, F_OK) < 0; i++)
                usleep(50 * 1000);
        if (r < 0 || access(x->swtpm_socket, F_OK) < 0) {
                report(x, VFIO_PROBLEM_ERROR, "starting swtpm failed%s%s: %s; see: vfioctl log %s",
                       stage ? " at " : "", stage ? stage : "", r < 0 ? strerror(-r) : "no socket after 5 s",
                       x->run->name);
                if (pid > 0) {
                        kill(pid, SIGKILL);
                        (void)waitpid(pid, NULL, 0);
                }
                return fail(x, r, "E swtpm did not start", "swtpm could not be started");
        }
        (void)vm_release_record(x->st, VM_RELEASE_SWTPM);
        vm_run_log(x->run, "swtpm started (pid %d): %s", (int)pid, x->swtpm_socket);
        return 0;
}

/* The relay grabs the host's keyboard and mouse: recorded with its release step before it runs, so a
 * kill -9 of vfioctl at any point leaves a relay that stop and the next start find and end. */
static int record_relay(pid_t pid, void *userdata)
{
        vm_start *x = userdata;
        int r;

        x->st->relay = pid;
        (void)vm_proc_starttime(x->run->proc_fd, pid, &x->st->relay_starttime);
        if ((r = vm_release_record(x->st, VM_RELEASE_RELAY)) < 0)
                return r;
        x->st->supervisor = getpid();
        x->st->state = VM_STATE_STARTING;
        return vm_runstate_write(x->run->dirfd, x->st);
}

/* Before QEMU: its input-linux objects open the relay's devices through the links. */
static int start_relay(vm_start *x, int log_fd)
{
        vm_relay_spawn rs = { .c = x->c,
                              .program = x->o.relay_program,
                              .root = x->o.root,
                              .link_dir = x->run->qemu_dir,
                              .drop = x->drop,
                              .uid = x->user->uid,
                              .gid = x->user->gid,
                              .groups = x->user->keep,
                              .n_groups = x->user->n_keep,
                              .log_fd = log_fd,
                              .before_exec = record_relay,
                              .userdata = x };
        _cleanup_free_ char *out = NULL;
        pid_t pid = 0;
        int r;

        r = vm_relay_start(&rs, &pid, &out);
        if (r < 0) {
                report(x, VFIO_PROBLEM_ERROR, "the input relay did not start: %s", out ? out : strerror(-r));
                vm_run_log(x->run, "the input relay did not start: %s", out ? out : strerror(-r));
                return fail(x, r, "E the input relay did not start", "the input relay did not start");
        }
        for (char *l = out, *e; l && *l; l = e ? e + 1 : NULL) {
                e = strchr(l, '\n');
                if (e)
                        *e = 0;
                vm_run_log(x->run, "input relay (pid %d, user %s): %s -> %s", (int)pid, x->user->name, l,
                           x->run->qemu_dir);
        }
        return 0;
}

/* QEMU as the VM user, paused (-S); the record says it is starting, and DIR/pid holds its pid, before
 * QEMU runs (record_qemu). */
static int spawn_qemu(vm_start *x, int log_fd, pid_t *ret_pid)
{
        vm_spawn sp = spawn_as_user(x, x->argv, log_fd);
        const char *stage = NULL;
        pid_t pid;
        int r;

        sp.memlock = x->memlock;
        /* The macvtap NICs' tap devices, where the argv says QEMU finds them (-netdev tap,fd=N). */
        sp.fds = x->net_fds;
        sp.n_fds = x->n_net_fds;
        sp.fds_base = VM_QEMU_MACVTAP_FD_BASE;
        sp.before_exec = record_qemu;
        sp.userdata = x;
        sp.pass_fd = x->mem_fd > 2 ? x->mem_fd : 0; /* guest RAM vfioctl filled: QEMU's fd 3 */
        if (x->mem_fd > 2)
                vm_run_log(x->run,
                           "guest RAM: %llu MiB of %llu KiB hugepages allocated by %u thread%s in %.2f s%s",
                           (unsigned long long)(x->c->memory.size >> 20),
                           (unsigned long long)(x->prealloc.result.page_size >> 10),
                           x->prealloc.result.threads, x->prealloc.result.threads == 1 ? "" : "s",
                           x->prealloc.seconds,
                           x->prealloc.nodes ? ", bound to the NUMA nodes of the pinned CPUs" : "");
        else if (x->prealloc.skip)
                vm_run_log(x->run, "guest RAM: allocated by QEMU (%s)", x->prealloc.skip);
        r = vm_launch_spawn(&sp, &pid, &stage);
        if (x->mem_fd >= 0) { /* QEMU holds it now: the pages go back to the pool when QEMU ends */
                close(x->mem_fd);
                x->mem_fd = -EBADF;
        }
        if (r < 0) {
                report(x, VFIO_PROBLEM_ERROR, "starting %s failed at %s: %s", x->argv[0],
                       stage ? stage : "fork", strerror(-r));
                vm_run_log(x->run, "starting %s failed at %s: %s", x->argv[0], stage ? stage : "fork",
                           strerror(-r));
                return fail(x, r, "E QEMU could not be started", "QEMU could not be started");
        }
        if (!x->pin)
                vm_run_log(
                        x->run,
                        "note: vCPUs are not pinned: no [cpu] pin and this host has too few CPUs for a plan (vfioctl keeps CPU 0's core for the host)");
        if (vm_launch_needs_spawn(x->c))
                vm_run_log(
                        x->run,
                        "note: bridge networking or an SMB share: QEMU's sandbox allows it to spawn the helper (%s)",
                        VM_LAUNCH_SANDBOX_SPAWN);
        *ret_pid = pid;
        return 0;
}

/* QEMU and what the supervisor knows of it. */
typedef struct qemu_proc {
        pid_t pid;
        int status; /* waitpid's, once exited */
        bool exited;
        qmp_client *q;
        char *shutdown_reason; /* from the SHUTDOWN event */
        /* Adopted by the guardian: not our child, so no exit status; /proc tells when it is gone. */
        bool adopted;
        uint64_t starttime;
        int proc_fd;
} qemu_proc;

static bool reap(qemu_proc *p, int options)
{
        if (p->exited)
                return true;
        if (p->adopted) {
                /* A QEMU that hung up its monitor is on its way out: wait (bounded) until it is gone. */
                for (int i = 0; i < (options & WNOHANG ? 1 : 500); i++) {
                        if (!vm_runstate_pid_alive(p->proc_fd, p->pid, p->starttime))
                                return p->exited = true;
                        if (!(options & WNOHANG))
                                usleep(20 * 1000);
                }
                return false;
        }
        if (waitpid(p->pid, &p->status, options) == p->pid)
                p->exited = true;
        return p->exited;
}

/*
 * QEMU creates the socket during startup: connect while watching that it is still alive. Only QEMU's own
 * socket (SO_PEERCRED pid = the one we started) gets our commands.
 */
static int connect_qmp(vm_start *x, qemu_proc *p)
{
        _cleanup_close_ int qdir = -EBADF;
        bool impostor = false;
        int fd = -EBADF, r;

        /* QEMU's directory is the VM user's: the socket is found there without following links. */
        qdir = safedir_open_dir(x->run->dirfd, "qemu");
        if (qdir < 0)
                return qdir;
        for (int i = 0; i < QMP_CONNECT_TRIES && !reap(p, WNOHANG); i++) {
                r = qmp_connect_unix_at(qdir, "qmp.sock", 100, &fd);
                if (r < 0) {
                        if (r != -ENOENT && r != -ECONNREFUSED && r != -ETIMEDOUT)
                                usleep(100 * 1000); /* not a socket (yet): QEMU makes it */
                        continue;
                }
                if (qmp_check_peer_pid(fd, p->pid) >= 0)
                        break;
                if (!impostor)
                        vm_run_log(x->run,
                                   "%s/qmp.sock is served by another process, not QEMU (pid %d): ignored",
                                   x->run->qemu_dir, (int)p->pid);
                impostor = true;
                close(fd);
                fd = -EBADF;
        }
        if (fd < 0)
                return -ETIMEDOUT;
        r = qmp_client_new(fd, &p->q);
        if (r >= 0)
                r = qmp_handshake(p->q, 10000);
        if (r < 0)
                p->q = qmp_client_free(p->q);
        return r;
}

static void kill_qemu(qemu_proc *p)
{
        if (!p->exited) {
                kill(p->pid, SIGKILL);
                if (p->adopted)
                        (void)reap(p, 0);
                else
                        (void)waitpid(p->pid, &p->status, 0);
                p->exited = true;
        }
}

/* Pinned while QEMU is still paused by -S, so the vCPUs never run on other CPUs; then `cont`. */
static int pin_and_run(vm_start *x, qemu_proc *p)
{
        _cleanup_free_ char *err = NULL;
        int r;

        r = vm_pin_apply(p->q, x->run->proc_fd, p->pid, x->pin, x->emulator_pin, x->st);
        if (r < 0) {
                report(x, VFIO_PROBLEM_ERROR,
                       "pinning the vCPU threads failed: %s; QEMU stopped (the guest never ran)",
                       strerror(-r));
                (void)qmp_execute(p->q, "quit", NULL, 5000, NULL, NULL);
                kill_qemu(p);
                return fail(x, r, "E pinning failed", "pinning the vCPU threads failed");
        }
        if (x->o.paused)
                return 0;
        r = qmp_execute(p->q, "cont", NULL, 10000, NULL, &err);
        if (r < 0) {
                report(x, VFIO_PROBLEM_ERROR, "QMP cont failed: %s", err ? err : strerror(-r));
                kill_qemu(p);
                return fail(x, r, "E cont failed", "QMP cont failed");
        }
        return 0;
}

/* The VM runs (or waits paused): recorded, said, the monitor switched to it, the parent told. */
static void announce(vm_start *x, const qemu_proc *p, double t0)
{
        _cleanup_free_ char *pins = strv_join(x->st->vcpu_pins, " ");
        char msg[64];

        x->st->state = x->o.paused ? VM_STATE_PAUSED : VM_STATE_RUNNING;
        (void)vm_runstate_write(x->run->dirfd, x->st);
        say(x, "VM %s %s (pid %d, user %s, vCPU CPUs %s) in %.2f s", x->run->name,
            x->o.paused ? "started paused (vfioctl resume to run it)" : "running", (int)p->pid,
            x->user->name, pins && *pins ? pins : "-", now_s() - t0);
        if (x->ddc && !x->o.paused) {
                _cleanup_free_ char *err = NULL;
                int r;

                r = vm_ddc_switch(x->ddc, x->c->display.input_guest, &err);
                if (r < 0)
                        say(x,
                            "warning: switching the monitor to the guest input failed: %s (the VM runs on)",
                            err ? err : strerror(-r));
        }
        snprintf(msg, sizeof(msg), "OK %d", (int)p->pid);
        notify(x, msg);
}

/* A SHUTDOWN event's reason ("guest-shutdown", "host-qmp-quit", "guest-panic"): true when ev had one. */
static bool set_shutdown_reason(qemu_proc *p, json_object *ev)
{
        json_object *name, *data, *reason;

        if (!json_object_object_get_ex(ev, "event", &name) ||
            strcmp(json_object_get_string(name), "SHUTDOWN") != 0 ||
            !json_object_object_get_ex(ev, "data", &data) ||
            !json_object_object_get_ex(data, "reason", &reason))
                return false;
        free(p->shutdown_reason);
        p->shutdown_reason = strdup(json_object_get_string(reason));
        return true;
}

static void on_event(vm_start *x, qemu_proc *p, json_object *ev)
{
        json_object *name;
        const char *n;

        if (!json_object_object_get_ex(ev, "event", &name))
                return;
        n = json_object_get_string(name);
        if (strcmp(n, "SHUTDOWN") == 0) {
                if (set_shutdown_reason(p, ev))
                        vm_run_log(x->run, "QMP event SHUTDOWN, reason %s",
                                   p->shutdown_reason ? p->shutdown_reason : "?");
        } else if (strcmp(n, "STOP") == 0 || strcmp(n, "RESUME") == 0) {
                x->st->state = n[0] == 'S' ? VM_STATE_PAUSED : VM_STATE_RUNNING;
                (void)vm_runstate_write(x->run->dirfd, x->st);
        } else if (strcmp(n, "GUEST_PANICKED") == 0)
                vm_run_log(x->run, "QMP event GUEST_PANICKED");
}

typedef struct stop_requests {
        bool powerdown_sent, quit_sent;
        unsigned presses;
} stop_requests;

/* Ctrl-C or systemd's SIGTERM: ask the guest to shut down (ACPI power button); a second one quits QEMU. */
static void on_signals(vm_start *x, qemu_proc *p, stop_requests *s)
{
        if (got_signal && !s->powerdown_sent) {
                _cleanup_free_ char *err = NULL;
                int r;

                say(x, "signal received: powering the guest down (again to quit QEMU at once)");
                r = p->q ? qmp_execute(p->q, "system_powerdown", NULL, 5000, NULL, &err) : -ENOTCONN;
                if (r < 0)
                        say(x, "system_powerdown failed: %s", err ? err : strerror(-r));
                s->powerdown_sent = true;
        } else if (got_signal == 1 && s->powerdown_sent && p->q && ++s->presses % 20 == 0)
                /* Every 10 s: a press during early boot, before the guest listens, is lost. */
                (void)qmp_execute(p->q, "system_powerdown", NULL, 5000, NULL, NULL);
        else if (got_signal > 1 && !s->quit_sent) {
                if (p->q)
                        (void)qmp_execute(p->q, "quit", NULL, 5000, NULL, NULL);
                s->quit_sent = true;
        }
}

/* Events until QEMU goes away, then what it said last (the SHUTDOWN event may still be in the socket). */
static void watch(vm_start *x, qemu_proc *p)
{
        stop_requests s = {};

        while (!p->exited) {
                json_object *ev = NULL;
                int r;

                on_signals(x, p, &s);
                r = p->q ? qmp_next_event(p->q, 500, &ev) : -ECONNRESET;
                if (r >= 0) {
                        on_event(x, p, ev);
                        json_object_put(ev);
                } else if (r != -ETIMEDOUT) {
                        p->q = qmp_client_free(p->q);
                        (void)reap(p, 0);
                }
                (void)reap(p, WNOHANG);
        }
        if (p->q) {
                json_object *ev = NULL;

                while (qmp_next_event(p->q, 200, &ev) >= 0) {
                        (void)set_shutdown_reason(p, ev);
                        json_object_put(ev);
                }
        }
}

static const char *signal_name(int sig)
{
        const char *s = sigabbrev_np(sig);

        return s ? s : "?";
}

/* How it ended: the guest's own SHUTDOWN reason, a stop --force, a signal, QEMU's exit status. */
static vm_state how_it_ended(vm_start *x, const qemu_proc *p, char **ret_reason)
{
        _cleanup_free_ char *request = stop_request(x);
        char *reason = NULL;
        vm_state final;

        if (p->shutdown_reason && strcmp(p->shutdown_reason, "guest-panic") != 0) {
                final = VM_STATE_STOPPED;
                reason = strdup(p->shutdown_reason);
        } else if (p->shutdown_reason) {
                final = VM_STATE_CRASHED;
                reason = strdup("guest-panic");
        } else if (request && strcmp(request, "force") == 0) {
                final = VM_STATE_STOPPED;
                reason = strdup("killed by vfioctl stop --force");
        } else if (p->adopted) {
                final = VM_STATE_CRASHED;
                reason = strdup(
                        "QEMU ended while its supervisor was gone (no exit status; see: vfioctl log)");
        } else if (WIFSIGNALED(p->status)) {
                final = VM_STATE_CRASHED;
                if (asprintf(&reason, "QEMU killed by signal %d (SIG%s)", WTERMSIG(p->status),
                             signal_name(WTERMSIG(p->status))) < 0)
                        reason = NULL;
        } else if (WEXITSTATUS(p->status) != 0) {
                final = VM_STATE_CRASHED;
                if (asprintf(&reason, "QEMU exited with status %d (see: vfioctl log %s)",
                             WEXITSTATUS(p->status), x->run->name) < 0)
                        reason = NULL;
        } else {
                final = VM_STATE_STOPPED;
                reason = strdup("QEMU exited");
        }
        *ret_reason = reason;
        return final;
}

/* The log starts afresh with the command line; signals that stop the VM are ours from here. */
static int open_log(vm_start *x, int *ret_fd)
{
        struct sigaction sa = { .sa_handler = on_signal };
        _cleanup_free_ char *cmd = NULL;
        int fd;

        /* O_APPEND: QEMU, swtpm and the relay write their stderr through this descriptor while vm_run_log
         * appends our lines; at offset 0 QEMU's first message overwrote our command line, and "QEMU did not
         * come up" quoted the line's remainder instead of QEMU's reason. */
        fd = safedir_openat(x->run->dirfd, "log", O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0640);
        if (fd < 0) {
                int r = fd;

                report(x, VFIO_PROBLEM_ERROR, "cannot open %s/log: %s", x->run->dir, strerror(-r));
                return fail(x, r, "E cannot open the log", "the VM log could not be opened");
        }
        cmd = strv_join(x->argv, " ");
        vm_run_log(x->run, "starting VM %s as %s (uid %u): %s", x->run->name, x->user->name,
                   (unsigned)x->user->uid, cmd ? cmd : "");
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        *ret_fd = fd;
        return 0;
}

/* Everything up to a guest that runs: on failure the release steps have run and the VM is crashed. */
static int launch(vm_start *x, qemu_proc *p)
{
        _cleanup_close_ int log_fd = -EBADF;
        double t0 = now_s();
        int r;

        if ((r = open_log(x, &log_fd)) < 0)
                return r;
        if (x->swtpm_argv && (r = start_swtpm(x, log_fd)) < 0)
                return r;
        if (x->relay && (r = start_relay(x, log_fd)) < 0)
                return r;
        if ((r = spawn_qemu(x, log_fd, &p->pid)) < 0)
                return r;
        r = connect_qmp(x, p);
        if (r < 0) {
                _cleanup_free_ char *why = NULL, *notice = NULL;
                bool exited = p->exited;

                kill_qemu(p);
                /* QEMU's own reason, not only "it exited": its last line in the log. */
                why = exited ? qemu_last_words(x) : NULL;
                report(x, VFIO_PROBLEM_ERROR, "QEMU did not come up (%s%s%s); its messages: vfioctl log %s",
                       exited ? "it exited" : "no QMP socket after 30 s", why ? ": " : "", why ? why : "",
                       x->run->name);
                if (asprintf(&notice, "E QEMU did not come up%s%s", why ? ": " : "", why ? why : "") < 0)
                        notice = NULL;
                return fail(x, r, notice ? notice : "E QEMU did not come up",
                            "QEMU failed to start (see the log)");
        }
        if (x->c->cpu.isolate) {
                _cleanup_free_ char *err = NULL;

                /* Before pinning: moving QEMU between cgroups resets its threads' CPU affinity. */
                r = vm_isolate_apply(x, p->pid, &err);
                if (r < 0) {
                        report(x, VFIO_PROBLEM_ERROR,
                               "isolating the host failed: %s; QEMU stopped (the guest never ran), the host's CPUs, IRQs and governors are given back",
                               err ? err : strerror(-r));
                        vm_run_log(x->run, "isolating the host failed: %s", err ? err : strerror(-r));
                        (void)qmp_execute(p->q, "quit", NULL, 5000, NULL, NULL);
                        kill_qemu(p);
                        return fail(x, r, "E isolating the host failed", "isolating the host failed");
                }
        }
        if ((r = pin_and_run(x, p)) < 0)
                return r;
        announce(x, p, t0);
        return 0;
}

/*
 * The guardian's side once the supervisor is gone: the record on disk is the truth. A VM that ended
 * properly has nothing left; a QEMU still running is adopted (watched over QMP until it ends) and the host
 * given back then; one already gone gets its host back at once.
 */
static void adopt(vm_start *x)
{
        _cleanup_(vm_runstate_freep) vm_runstate *s = NULL;
        _cleanup_free_ char *reason = NULL;
        qemu_proc p = { .adopted = true, .proc_fd = x->run->proc_fd };
        pid_t gone = 0;
        vm_state final;

        if (vm_runstate_read(x->run->dirfd, &s) < 0)
                return;
        if ((s->state == VM_STATE_STOPPED || s->state == VM_STATE_CRASHED) && !(s->steps && s->steps[0]))
                return;
        gone = s->supervisor;
        vm_runstate_free(x->st);
        x->st = TAKE_PTR(s);
        if (!vm_run_alive(x->run, x->st)) {
                vm_run_log(
                        x->run,
                        "the supervisor (pid %d) was killed and QEMU is not running: its guardian (pid %d) gives the host back",
                        (int)gone, (int)getpid());
                vm_run_release(x->run, x->st, VM_STATE_CRASHED,
                               x->st->pid > 0 ? "QEMU ended while its supervisor was gone"
                                              : "the supervisor was killed before QEMU ran");
                return;
        }
        p.pid = x->st->pid;
        p.starttime = x->st->pid_starttime;
        x->st->supervisor = getpid();
        (void)vm_runstate_write(x->run->dirfd, x->st);
        vm_run_log(
                x->run,
                "the supervisor (pid %d) was killed: its guardian (pid %d) watches QEMU (pid %d) and gives the host back when it ends",
                (int)gone, (int)getpid(), (int)p.pid);
        (void)connect_qmp(x, &p);
        watch(x, &p);
        final = how_it_ended(x, &p, &reason);
        vm_run_release(x->run, x->st, final, reason);
        qmp_client_free(p.q);
        free(p.shutdown_reason);
}

/*
 * A small process beside the supervisor that outlives it: it waits on a pipe only the supervisor writes,
 * so end of file means the supervisor is gone, however it went (kill -9, the OOM killer). It keeps the
 * VM's lock (the same open file description), so no other start or stop races it.
 */
_Noreturn static void guardian(vm_start *x, int watch_fd)
{
        char c;
        ssize_t n;

        /* Its own process group: Ctrl-C at the terminal and a stop's signals are the supervisor's. */
        (void)setpgid(0, 0);
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        (void)prctl(PR_SET_NAME, "vfioctl-guard");
        if (x->notify_fd >= 0) {
                close(x->notify_fd);
                x->notify_fd = -EBADF;
        }
        x->detached = true;
        do
                n = read(watch_fd, &c, 1);
        while (n < 0 && errno == EINTR);
        if (n <= 0)
                adopt(x);
        _exit(0);
}

/* The write end stays with the supervisor (CLOEXEC: QEMU, swtpm and the relay never hold it). */
static int start_guardian(vm_start *x, int *ret_fd)
{
        int pfd[2];
        pid_t pid;

        if (pipe2(pfd, O_CLOEXEC) < 0)
                return -errno;
        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                close(pfd[0]);
                close(pfd[1]);
                return -errno;
        }
        if (pid == 0) {
                close(pfd[1]);
                guardian(x, pfd[0]);
        }
        close(pfd[0]);
        *ret_fd = pfd[1];
        return 0;
}

int vm_start_run(vm_start *x, vm_state *ret_final, char **ret_reason)
{
        _cleanup_close_ int guard_fd = -EBADF;
        qemu_proc p = {};
        vm_state final;
        char *reason = NULL;
        int r;

        assert(x);
        assert(ret_final);
        assert(ret_reason);
        assert(x->argv); /* vm_start_prepare first */
        /* From here on the release steps are the supervisor's: it runs them however QEMU ends. */
        x->pending = false;
        /* The record on disk from here on, so the guardian finds what preflight changed; it names the CPUs
         * and devices this VM holds, so the next start planning at the same instant may look now. */
        vm_start_save_record(x);
        vm_start_end_plan_turn(x);
        r = start_guardian(x, &guard_fd);
        if (r < 0)
                vm_run_log(x->run,
                           "warning: no guardian (%s): if this supervisor is killed, run: vfioctl stop %s",
                           strerror(-r), x->run->name);
        r = launch(x, &p);
        if (r >= 0) {
                watch(x, &p);
                final = how_it_ended(x, &p, &reason);
                vm_run_release(x->run, x->st, final, reason);
        }
        qmp_client_free(p.q);
        free(p.shutdown_reason);
        if (r < 0) {
                free(reason);
                return r;
        }
        *ret_final = final;
        *ret_reason = reason;
        return 0;
}
