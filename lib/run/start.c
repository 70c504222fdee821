/* Starting a VM: whose QEMU it is, its runtime directory locked, the command line, a detached supervisor. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host-steps.h"
#include "parse-util.h"
#include "safedir.h"
#include "start-private.h"
#include "strv.h"
#include "vfioctl/launch.h"
#include "vfioctl/macvtap.h"
#include "vfioctl/media.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/release.h"

extern char **environ;

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

int vm_start_new(vm_config *c, const vm_start_options *o, vm_start **ret, char **ret_error)
{
        _cleanup_(vm_start_freep) vm_start *x = NULL;
        int r;

        assert(c);
        assert(o);
        assert(ret);
        assert(ret_error);
        x = calloc(1, sizeof(*x));
        if (!x)
                return -ENOMEM;
        x->c = c;
        x->o = *o;
        x->lock_fd = x->plan_fd = x->notify_fd = x->state_fd = x->mem_fd = -EBADF;
        x->st = calloc(1, sizeof(*x->st));
        if (!x->st)
                return -ENOMEM;
        r = vm_user_for_start(c, getuid(), &x->user, &x->drop, ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(x);
        return 0;
}

void vm_start_abort(vm_start *x)
{
        assert(x);
        if (!x->pending)
                return;
        vm_release_undo(&(vm_release_ctx){ .run = x->run,
                                           .state = x->st,
                                           .rollback = true,
                                           .report = x->o.report,
                                           .userdata = x->o.userdata });
        x->pending = false;
        /* The record said "starting" while the host changed: it ends here, QEMU never ran. */
        if (x->st->state == VM_STATE_STARTING && x->st->pid == 0) {
                x->st->state = VM_STATE_STOPPED;
                free(x->st->exit_reason);
                x->st->exit_reason =
                        strdup("the start was abandoned before QEMU ran; its host changes were given back");
                (void)vm_runstate_write(x->run->dirfd, x->st);
        }
}

vm_start *vm_start_free(vm_start *x)
{
        if (!x)
                return NULL;
        /* The host is never left half-changed by a start that did not get as far as a supervisor. */
        if (x->run)
                vm_start_abort(x);
        vm_user_free(x->user);
        vm_run_free(x->run);
        if (x->lock_fd >= 0)
                close(x->lock_fd);
        vm_start_end_plan_turn(x);
        if (x->notify_fd >= 0)
                close(x->notify_fd);
        if (x->state_fd >= 0)
                close(x->state_fd);
        if (x->mem_fd >= 0)
                close(x->mem_fd);
        vm_runstate_free(x->st);
        vfio_host_free(x->host);
        vfio_model_free(x->model);
        vfio_pci_names_free(x->names);
        strv_free(x->devices);
        strv_free(x->pin);
        strv_free(x->emulator_pin);
        for (size_t i = 0; x->busy_cpus && i < strv_length(x->busy_names); i++)
                strv_free(x->busy_cpus[i]);
        free(x->busy_cpus);
        strv_free(x->busy_names);
        free(x->isolated_by);
        vm_paths_done(&x->paths);
        vm_macvtap_close_all(x->net_fds, x->n_net_fds);
        strv_free(x->swtpm_argv);
        free(x->swtpm_socket);
        free(x->ddc);
        strv_free(x->argv);
        strv_free(x->envp);
        free(x);
        return NULL;
}

const vm_user *vm_start_user(const vm_start *x)
{
        assert(x);
        return x->user;
}

int vm_start_lock(vm_start *x, char **ret_error)
{
        _cleanup_(vm_runstate_freep) vm_runstate *old = NULL;
        int r;

        assert(x);
        assert(ret_error);
        r = vm_run_open(x->o.root, x->c->name, true, &x->run, ret_error);
        if (r < 0)
                return r == -EBUSY ? -EIO : r;
        /* One start at a time: the lock is held by whoever starts and then supervises this VM. */
        r = vm_runstate_lock(x->run->dirfd, &x->lock_fd);
        if (r == -EBUSY)
                return fail(
                        ret_error, r,
                        "VM '%s' is already being started or supervised by another vfioctl (lock %s/lock is held); see: vfioctl status %s",
                        x->c->name, x->run->dir, x->c->name);
        if (r < 0)
                return fail(ret_error, r, "cannot lock %s/lock: %s", x->run->dir, strerror(-r));
        /* Host changes an earlier run could not give back (its vfioctl was killed) go back first. */
        if (vm_run_finish_release(x->run, true,
                                  "its vfioctl was killed; the next start gave its host changes back") > 0 &&
            x->o.report)
                x->o.report(
                        VFIO_PROBLEM_NOTE,
                        "an earlier run of this VM had left host changes behind; they were given back first (see: vfioctl log)",
                        x->o.userdata);
        if (vm_runstate_read(x->run->dirfd, &old) >= 0 && old->pid > 0 && vm_run_alive(x->run, old))
                return fail(
                        ret_error, -EBUSY,
                        "VM '%s' is already running (pid %d, its supervisor is gone); stop it first: vfioctl stop %s",
                        x->c->name, (int)old->pid, x->c->name);
        /* A start killed after swtpm was recorded but before QEMU ran leaves swtpm holding the TPM state:
         * the record names it (pid and start time), so it is ended here, never some other process. */
        if (old && old->swtpm > 0 &&
            vm_runstate_pid_alive(x->run->proc_fd, old->swtpm, old->swtpm_starttime)) {
                kill(old->swtpm, SIGKILL);
                vm_run_log(x->run, "ended swtpm (pid %d) left by a start that did not finish",
                           (int)old->swtpm);
        }
        return 0;
}

void vm_start_end_plan_turn(vm_start *x)
{
        assert(x);
        if (x->plan_fd >= 0)
                close(x->plan_fd);
        x->plan_fd = -EBADF;
}

void vm_start_save_record(vm_start *x)
{
        assert(x);

        /* Until QEMU runs the record says "starting" with no pid: status shows a start in progress. */
        if (x->st->state == VM_STATE_STOPPED || x->st->state == VM_STATE_CRASHED) {
                x->st->state = VM_STATE_STARTING;
                x->st->pid = 0;
                x->st->supervisor = 0;
                x->st->stopped = 0;
                free(x->st->exit_reason);
                x->st->exit_reason = NULL;
        }
        (void)vm_runstate_write(x->run->dirfd, x->st);
}

/* [display] ddc_bus or monitor: the monitor's input follows the VM (release step "ddc" switches it back). */
static int plan_ddc(vm_start *x)
{
        const vm_config *c = x->c;

        if (!vm_config_key_line(c, "display", "ddc_bus") && !c->display.monitor)
                return 0;
        if (vm_config_key_line(c, "display", "ddc_bus")) {
                if (asprintf(&x->ddc, "bus=%u", c->display.ddc_bus) < 0)
                        return (x->ddc = NULL), -ENOMEM;
        } else if (asprintf(&x->ddc, "display=%s", c->display.monitor) < 0)
                return (x->ddc = NULL), -ENOMEM;
        if (asprintf(&x->st->ddc, "%s host=0x%02x guest=0x%02x", x->ddc, c->display.input_host,
                     c->display.input_guest) < 0)
                return (x->st->ddc = NULL), -ENOMEM;
        x->pending = true;
        return vm_release_record(x->st, VM_RELEASE_DDC);
}

/* No X or Wayland access for QEMU; a fresh environment for another user. */
static int plan_env(vm_start *x)
{
        int r;

        if (!x->drop) {
                for (char **e = environ; e && *e; e++)
                        if (!vm_launch_env_blocked(*e) && (r = strv_extend(&x->envp, *e)) < 0)
                                return r;
                return 0;
        }
        if ((r = strv_extend(&x->envp, "PATH=/usr/local/bin:/usr/bin:/bin")) < 0 ||
            (r = strv_extendf(&x->envp, "HOME=%s", x->user->home)) < 0 ||
            (r = strv_extendf(&x->envp, "USER=%s", x->user->name)) < 0 ||
            (r = strv_extendf(&x->envp, "LOGNAME=%s", x->user->name)) < 0)
                return r;
        return 0;
}

/*
 * QEMU, once unprivileged, writes only in DIR/qemu; vfioctl's status and lock stay out of its reach. The
 * runtime directory itself becomes 0710 root:GROUP-of-the-VM-user so QEMU can pass through it to qemu/
 * without being able to list or change anything else in it.
 */
static int prepare_qemu_dir(vm_start *x)
{
        int r;

        /* Made or found as a directory (a link there is refused), given to the VM user on its descriptor. */
        r = safedir_mkdir(x->run->dirfd, "qemu", 0700, x->drop ? x->user->uid : SAFEDIR_KEEP_UID,
                          x->drop ? x->user->gid : SAFEDIR_KEEP_GID, NULL);
        if (r < 0)
                return r;
        if (x->drop && (fchown(x->run->dirfd, 0, x->user->gid) < 0 || fchmod(x->run->dirfd, 0710) < 0))
                return -errno;
        return 0;
}

/* What the record says about the VM from the start: who runs it, what it holds. */
static int fill_record(vm_start *x)
{
        vm_runstate *st = x->st;
        int r;

        st->uid = x->user->uid;
        if (!(st->user = strdup(x->user->name)) || !(st->qemu_dir = strdup(x->run->qemu_dir)))
                return -ENOMEM;
        st->memory = x->c->memory.size;
        st->isolate = x->c->cpu.isolate;
        strv_free(st->devices);
        st->devices = NULL;
        if ((r = strv_extend_strv(&st->devices, x->devices)) < 0 ||
            (r = strv_extend_strv(&st->cpus, x->c->cpu.pin)) < 0)
                return r;
        return 0;
}

int vm_start_prepare(vm_start *x, vfio_problems *problems, char **ret_error)
{
        _cleanup_strv_free_ char **notes = NULL;
        int r;

        assert(x);
        assert(problems);
        assert(ret_error);
        assert(x->paths.runtime_dir); /* vm_start_preflight first */
        r = vm_qemu_argv(x->c, &x->paths.paths, &x->argv, &notes);
        if (r >= 0)
                r = vm_launch_argv(&x->argv, strv_length(x->c->vm.extra_args), x->run->qemu_dir,
                                   vm_launch_needs_spawn(x->c));
        if (r < 0)
                return fail(ret_error, r, "building the QEMU command line: %s", strerror(-r));
        (void)vfio_problems_add_strv(problems, VFIO_PROBLEM_NOTE, notes);
        (void)vm_media_notes(x->c, &x->paths.paths,
                             problems); /* issue 17: the Looking Glass client command */
        if ((r = plan_env(x)) < 0)
                return r;
        r = prepare_qemu_dir(x);
        if (r < 0)
                return fail(ret_error, r, "cannot prepare %s: %s", x->run->qemu_dir, strerror(-r));
        if ((r = fill_record(x)) < 0 || (r = plan_ddc(x)) < 0)
                return r;
        (void)safedir_unlink(x->run->dirfd, "stop-request", 0);
        return 0;
}

/* The supervisor: its own session, no terminal; it keeps the lock (the same open file description). */
_Noreturn static void supervisor(vm_start *x, int notify_fd)
{
        /* not another user's directory: /dev/null */
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        vm_state final = VM_STATE_CRASHED;
        char *reason = NULL;
        int r;

        (void)setsid();
        if (null >= 0) {
                dup2(null, 0);
                dup2(null, 1);
                dup2(null, 2);
        }
        x->notify_fd = notify_fd;
        x->detached = true;
        r = vm_start_run(x, &final, &reason);
        _exit(r >= 0 && final == VM_STATE_STOPPED ? 0 : 1);
}

int vm_start_detach(vm_start *x, pid_t *ret_pid, char **ret_error)
{
        char buf[256] = "";
        uint64_t pid;
        int pfd[2];
        ssize_t n;
        pid_t child;

        assert(x);
        assert(ret_pid);
        assert(ret_error);
        if (pipe2(pfd, O_CLOEXEC) < 0)
                return -errno;
        fflush(NULL);
        child = fork();
        if (child < 0) {
                close(pfd[0]);
                close(pfd[1]);
                return -errno;
        }
        if (child == 0) {
                close(pfd[0]);
                supervisor(x, pfd[1]);
        }
        /* The supervisor runs the release steps now, however the VM ends; it ends the plan turn too. */
        x->pending = false;
        vm_start_end_plan_turn(x);
        close(pfd[1]);
        do
                n = read(pfd[0], buf, sizeof(buf) - 1);
        while (n < 0 && errno == EINTR);
        close(pfd[0]);
        if (n > 3 && strncmp(buf, "OK ", 3) == 0) {
                buf[n] = 0;
                if (parse_uint(buf + 3, 10, INT32_MAX, &pid) < 0)
                        return fail(ret_error, -EBADMSG, "the supervisor said '%s'", buf);
                *ret_pid = (pid_t)pid;
                return 0;
        }
        if (n > 0)
                buf[n] = 0;
        (void)waitpid(child, NULL, 0);
        return fail(ret_error, -EIO, "%s", n > 2 ? buf + 2 : "the supervisor exited");
}
