/* Helpers of the lifecycle verbs: where a VM's runtime state lives, reading it back, and the release steps.
 */
#include "vfioctl/vmrun.h"
#include "vfioctl/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "fs-util.h"
#include "parse-util.h"
#include "strv.h"
#include "vfioctl/bind.h"
#include "vfioctl/host.h"
#include "vfioctl/launch.h"
#include "vfioctl/model.h"
#include "vfioctl/runstate.h"
#include "vfioctl/selector.h"
#include "vfioctl/vmpaths.h"

int vm_run_base(const char *root, char **ret)
{
        const char *rt = secure_getenv("XDG_RUNTIME_DIR"); /* never the caller's under setuid */
        char *s;

        if (root)
                return asprintf(&s, "%s/run/vfioctl", root) < 0 ? -ENOMEM : (*ret = s, 0);
        if (getuid() == 0)
                return (s = strdup("/run/vfioctl")) ? (*ret = s, 0) : -ENOMEM;
        if (rt && rt[0] == '/')
                return asprintf(&s, "%s/vfioctl", rt) < 0 ? -ENOMEM : (*ret = s, 0);
        return asprintf(&s, "/run/user/%u/vfioctl", (unsigned)getuid()) < 0 ? -ENOMEM : (*ret = s, 0);
}

static int fail(char **ret_error, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char **ret_error, int r, const char *fmt, ...)
{
        va_list ap;

        if (!ret_error)
                return r;
        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return r;
}

vm_run *vm_run_free(vm_run *r)
{
        if (!r)
                return NULL;
        free(r->name);
        free(r->root);
        free(r->dir);
        free(r->qemu_dir);
        if (r->dirfd >= 0)
                close(r->dirfd);
        if (r->proc_fd >= 0)
                close(r->proc_fd);
        free(r);
        return NULL;
}

static int run_new(const char *base, const char *name, vm_run **ret)
{
        _cleanup_(vm_run_freep) vm_run *r = NULL;

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->dirfd = r->proc_fd = -EBADF;
        if (asprintf(&r->dir, "%s/%s", base, name) < 0) {
                r->dir = NULL;
                return -ENOMEM;
        }
        if (asprintf(&r->qemu_dir, "%s/qemu", r->dir) < 0) {
                r->qemu_dir = NULL;
                return -ENOMEM;
        }
        if (!(r->name = strdup(name)))
                return -ENOMEM;
        *ret = TAKE_PTR(r);
        return 0;
}

int vm_run_open_in(const char *base, const char *name, vm_run **ret)
{
        _cleanup_(vm_run_freep) vm_run *r = NULL;
        int e;

        e = run_new(base, name, &r);
        if (e < 0)
                return e;
        r->dirfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r->dirfd < 0)
                return -errno;
        r->proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        *ret = TAKE_PTR(r);
        return 0;
}

int vm_run_open(const char *root, const char *name, bool create, vm_run **ret, char **ret_error)
{
        _cleanup_(vm_run_freep) vm_run *r = NULL;
        _cleanup_free_ char *base = NULL;
        struct stat st;
        int e;

        if (!vm_name_valid(name))
                return fail(ret_error, -EINVAL, "'%s' is not a VM name (letters, digits, - _ .)", name);
        if ((e = vm_run_base(root, &base)) < 0)
                return e;
        if ((e = run_new(base, name, &r)) < 0)
                return e;
        if (root && !(r->root = strdup(root)))
                return -ENOMEM;
        if (create && (e = mkdir_p(r->dir, 0700)) < 0)
                return fail(ret_error, e, "cannot create the runtime directory %s: %s", r->dir,
                            strerror(-e));
        r->dirfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r->dirfd < 0) {
                e = -errno;
                if (e == -ENOENT)
                        return fail(
                                ret_error, e,
                                "VM '%s' has never been started here (no %s); start it with: vfioctl start %s",
                                name, r->dir, name);
                return fail(ret_error, e, "cannot open %s: %s", r->dir, strerror(-e));
        }
        /*
         * State of a VM is private to whoever runs it: created 0700 (start makes it 0710 root:GROUP when
         * QEMU runs as another user, so QEMU reaches only DIR/qemu). Never widened for others.
         */
        if (fstat(r->dirfd, &st) == 0 && create && (st.st_mode & 007))
                (void)fchmod(r->dirfd, st.st_mode & 0770);
        r->proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        *ret = TAKE_PTR(r);
        return 0;
}

bool vm_run_alive(const vm_run *r, const vm_runstate *s)
{
        return s->pid > 0 && vm_runstate_pid_alive(r->proc_fd, s->pid, s->pid_starttime);
}

int vm_run_load(vm_run *r, vm_runstate **ret)
{
        _cleanup_(vm_runstate_freep) vm_runstate *s = NULL;
        int e;

        e = vm_runstate_read(r->dirfd, &s);
        if (e < 0)
                return e;
        if ((s->state == VM_STATE_RUNNING || s->state == VM_STATE_PAUSED || s->state == VM_STATE_STARTING) &&
            !vm_run_alive(r, s) && vm_runstate_lock_held(r->dirfd) <= 0) {
                /* Nobody saw it go: no SHUTDOWN event, no exit status. */
                s->state = VM_STATE_CRASHED;
                free(s->exit_reason);
                if (asprintf(&s->exit_reason, "QEMU (pid %d) vanished while no vfioctl supervised it",
                             (int)s->pid) < 0)
                        s->exit_reason = NULL;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

int vm_run_ctl(const vm_run *r, qmp_client **ret, char **ret_error)
{
        _cleanup_free_ char *path = vm_launch_ctl_socket(r->qemu_dir);
        _cleanup_(qmp_client_freep) qmp_client *q = NULL;
        int fd, e;

        if (!path)
                return -ENOMEM;
        e = qmp_connect_unix(path, 5000, &fd);
        if (e >= 0) {
                _cleanup_(vm_runstate_freep) vm_runstate *st = NULL;

                /* The socket must be the recorded QEMU's (SO_PEERCRED): a socket another process put at
                 * that path must not receive our commands for this VM. */
                if (vm_runstate_read(r->dirfd, &st) >= 0 && st->pid > 0 &&
                    (e = qmp_check_peer_pid(fd, st->pid)) < 0) {
                        close(fd);
                        return fail(
                                ret_error, e,
                                "%s is not served by the QEMU of VM '%s' (pid %d): refusing to talk to it; see: vfioctl status %s",
                                path, r->name, (int)st->pid, r->name);
                }
                e = qmp_client_new(fd, &q);
        }
        if (e >= 0)
                e = qmp_handshake(q, 10000);
        if (e < 0)
                return fail(ret_error, e, "cannot talk to VM '%s' over QMP (%s): %s%s", r->name, path,
                            strerror(-e), e == -EACCES ? "; run as the user who started it, or root" : "");
        *ret = TAKE_PTR(q);
        return 0;
}

void vm_run_log(const vm_run *r, const char *fmt, ...)
{
        _cleanup_close_ int fd = -1;
        char stamp[64];
        struct tm tm;
        time_t t = time(NULL);
        va_list ap;
        FILE *f;

        fd = openat(r->dirfd, "log", O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0)
                return;
        f = fdopen(fd, "a");
        if (!f)
                return;
        fd = -1;
        gmtime_r(&t, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        fprintf(f, "%s vfioctl: ", stamp);
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        fputc('\n', f);
        fclose(f);
}

int vm_run_stop_request(vm_run *r, const char *how)
{
        _cleanup_close_ int fd = -1;

        fd = openat(r->dirfd, "stop-request.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                    0600);
        if (fd < 0 || write(fd, how, strlen(how)) != (ssize_t)strlen(how))
                return -errno;
        return renameat(r->dirfd, "stop-request.tmp", r->dirfd, "stop-request") < 0 ? -errno : 0;
}

int vm_run_ddc_switch(const char *ddc, unsigned code, char **ret_error)
{
        /* VFIOCTL_DDCUTIL lets tests record the request; secure_getenv: ignored when setuid. */
        const char *tool = secure_getenv("VFIOCTL_DDCUTIL");
        char opt[16], num[32], val[8];
        const char *eq = strchr(ddc, '=');
        pid_t pid;
        int status = 0;

        if (!tool || !*tool)
                tool = "/usr/bin/ddcutil";
        if (!eq || strlen(eq + 1) >= sizeof(num))
                return -EINVAL;
        snprintf(opt, sizeof(opt), "--%.*s", (int)(eq - ddc), ddc);
        snprintf(num, sizeof(num), "%s", eq + 1);
        /* VCP 0x60 is "Input Select" (VESA MCCS 2.2a, section 8.3.5). */
        snprintf(val, sizeof(val), "0x%02x", code & 0xff);
        {
                char *const argv[] = { (char *)tool, opt, num, (char *)"setvcp", (char *)"60", val, NULL };

                pid = fork();
                if (pid < 0)
                        return -errno;
                if (pid == 0) {
                        int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                        if (null >= 0) {
                                dup2(null, 0);
                                dup2(null, 1);
                        }
                        execv(tool, argv);
                        _exit(127);
                }
        }
        /* ddcutil can hang on a bad I2C bus: never let the monitor hold up the VM. */
        for (int i = 0; i < 100; i++) {
                pid_t w = waitpid(pid, &status, WNOHANG);

                if (w == pid) {
                        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                                return 0;
                        if (ret_error &&
                            asprintf(ret_error, "%s %s %s setvcp 60 %s %s %d", tool, opt, num, val,
                                     WIFEXITED(status) ? "exited with status" : "killed by signal",
                                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status)) < 0)
                                *ret_error = NULL;
                        return -EIO;
                }
                usleep(100 * 1000);
        }
        kill(pid, SIGKILL);
        (void)waitpid(pid, NULL, 0);
        if (ret_error && asprintf(ret_error, "%s did not finish within 10 s (killed)", tool) < 0)
                *ret_error = NULL;
        return -ETIMEDOUT;
}

int vm_run_give_back(const char *root, const char *addr_driver, char **ret_error)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_(vfio_model_freep) vfio_model *m = NULL;
        _cleanup_(vfio_selection_freep) vfio_selection *sel = NULL;
        _cleanup_(vfio_bind_plan_freep) vfio_bind_plan *plan = NULL;
        _cleanup_free_ char *addr = strndup(addr_driver, strcspn(addr_driver, "="));
        char *sels[] = { addr, NULL };
        vfio_bind_opts o = {};
        const char *what;
        int r;

        if (!addr)
                return -ENOMEM;
        /* "unbind": back to the driver bind recorded for it (run/vfioctl/bind/ADDR), as the user would. */
        if ((r = vfio_host_open(root, &h)) < 0)
                what = "cannot open the host root";
        else if ((r = vfio_model_load(h, &m)) < 0)
                what = "cannot read the PCI devices";
        else if ((r = vfio_selection_resolve(h, m, NULL, sels, VFIO_SELECT_FUNCTION_ONLY, &sel)) < 0)
                what = "the device is gone";
        else if ((r = vfio_bind_plan_new(h, m, sel, VFIO_BIND_RESTORE, &o, &plan)) < 0 ||
                 (plan->refusals && plan->refusals[0] && (r = -EPERM)))
                what = plan && plan->refusals && plan->refusals[0] ? plan->refusals[0] : "cannot plan it";
        else {
                o.verify = vfio_host_is_live(h);
                r = vfio_bind_execute(h, plan, &o);
                what = "restoring its driver failed";
        }
        if (r < 0 && ret_error &&
            asprintf(ret_error, "giving %s back to its host driver: %s (%s); run: vfioctl unbind %s", addr,
                     what, strerror(-r), addr) < 0)
                *ret_error = NULL;
        return r;
}

void vm_run_release(vm_run *r, vm_runstate *s, vm_state final, const char *reason)
{
        _cleanup_free_ char *ctl = vm_launch_ctl_socket(r->qemu_dir),
                            *con = vm_launch_console_socket(r->qemu_dir), *qmp = NULL;
        int e;

        if (s->ddc) {
                /* "bus=N host=0xNN guest=0xNN": back to the host's input. */
                _cleanup_strv_free_ char **parts = NULL;
                _cleanup_free_ char *err = NULL;
                uint64_t code = 0;

                if (strv_split(s->ddc, " ", &parts) >= 0 && strv_length(parts) >= 2 &&
                    strncmp(parts[1], "host=", 5) == 0 && parse_uint(parts[1] + 5, 0, 255, &code) >= 0) {
                        e = vm_run_ddc_switch(parts[0], (unsigned)code, &err);
                        if (e < 0)
                                vm_run_log(r, "warning: switching the monitor back to the host failed: %s",
                                           err ? err : strerror(-e));
                        else
                                vm_run_log(r, "monitor switched back to the host input (0x%02x)",
                                           (unsigned)code);
                }
        }
        if (s->hugepages_reserved && s->hugepage_kb) {
                _cleanup_(vfio_host_freep) vfio_host *h = NULL;
                _cleanup_free_ char *cur = NULL;
                char path[128], val[32];
                uint64_t n;

                snprintf(path, sizeof(path), "sys/kernel/mm/hugepages/hugepages-%ukB/nr_hugepages",
                         s->hugepage_kb);
                if (vfio_host_open(r->root, &h) >= 0 && vfio_host_read_attr(h, path, 64, &cur) >= 0 &&
                    parse_uint(cur, 10, UINT64_MAX, &n) >= 0) {
                        snprintf(val, sizeof(val), "%llu",
                                 (unsigned long long)(n > s->hugepages_reserved ? n - s->hugepages_reserved
                                                                                : 0));
                        e = vfio_host_write_attr(h, path, val);
                        if (e < 0)
                                vm_run_log(r, "warning: releasing %llu hugepages failed: %s",
                                           (unsigned long long)s->hugepages_reserved, strerror(-e));
                        else
                                vm_run_log(r, "released %llu hugepages reserved at start",
                                           (unsigned long long)s->hugepages_reserved);
                }
                s->hugepages_reserved = 0;
        }
        STRV_FOREACH(d, s->rebind) {
                _cleanup_free_ char *err = NULL;

                if (vm_run_give_back(r->root, *d, &err) < 0)
                        vm_run_log(r, "warning: %s", err ? err : *d);
        }
        /* The relay gives the keyboard and mouse back to the host: they must never stay grabbed. */
        if (s->relay > 0 && vm_runstate_pid_alive(r->proc_fd, s->relay, s->relay_starttime)) {
                vm_relay_stop(r->proc_fd, s->relay, s->relay_starttime);
                vm_run_log(r, "stopped the input relay (pid %d)", (int)s->relay);
        }
        s->relay = 0;
        /* swtpm ends with QEMU (--terminate); one that lingers (QEMU never connected) is stopped here. */
        if (s->swtpm > 0 && vm_runstate_pid_alive(r->proc_fd, s->swtpm, s->swtpm_starttime)) {
                kill(s->swtpm, SIGTERM);
                vm_run_log(r, "stopped swtpm (pid %d)", (int)s->swtpm);
        }
        s->swtpm = 0;
        {
                _cleanup_free_ char *tpm = NULL;

                if (asprintf(&tpm, "%s/swtpm.sock", r->qemu_dir) >= 0)
                        (void)unlink(tpm);
        }
        if (ctl)
                (void)unlink(ctl);
        if (con)
                (void)unlink(con);
        if (asprintf(&qmp, "%s/qmp.sock", r->qemu_dir) >= 0)
                (void)unlink(qmp);
        (void)unlinkat(r->dirfd, "stop-request", 0);
        (void)unlinkat(r->dirfd, "pid", 0);
        s->state = final;
        free(s->exit_reason);
        s->exit_reason = reason ? strdup(reason) : NULL;
        s->stopped = (uint64_t)time(NULL);
        s->supervisor = 0;
        e = vm_runstate_write(r->dirfd, s);
        if (e < 0)
                vm_run_log(r, "warning: writing the final status failed: %s", strerror(-e));
        vm_run_log(r, "VM %s: %s%s%s", r->name, vm_state_to_string(final), reason ? ": " : "",
                   reason ? reason : "");
}
