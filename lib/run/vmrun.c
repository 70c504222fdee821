/* A VM's runtime directory (status, lock, log; qemu/ for QEMU's sockets), reading its state back, its end.
 */
#include "vfioctl/vmrun.h"
#include "vfioctl/release.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "fs-util.h"
#include "parse-util.h"
#include "strv.h"
#include "vfioctl/launch.h"
#include "vfioctl/runstate.h"
#include "vfioctl/vmpaths.h"

int vm_run_base(const char *root, char **ret)
{
        const char *rt = secure_getenv("XDG_RUNTIME_DIR"); /* never the caller's under setuid */
        char *s;

        assert(ret);

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

        assert(base);
        assert(name);
        assert(ret);

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

        assert(name);
        assert(ret);

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
        assert(r);
        assert(s);
        return s->pid > 0 && vm_runstate_pid_alive(r->proc_fd, s->pid, s->pid_starttime);
}

int vm_run_load(vm_run *r, vm_runstate **ret)
{
        _cleanup_(vm_runstate_freep) vm_runstate *s = NULL;
        int e;

        assert(r);
        assert(ret);

        e = vm_runstate_read(r->dirfd, &s);
        if (e < 0)
                return e;
        if ((s->state == VM_STATE_RUNNING || s->state == VM_STATE_PAUSED || s->state == VM_STATE_STARTING) &&
            !vm_run_alive(r, s) && vm_runstate_lock_held(r->dirfd) <= 0) {
                /* Nobody saw it go: no SHUTDOWN event, no exit status. */
                s->state = VM_STATE_CRASHED;
                free(s->exit_reason);
                if ((s->pid > 0
                             ? asprintf(&s->exit_reason,
                                        "QEMU (pid %d) vanished while no vfioctl supervised it", (int)s->pid)
                             : asprintf(&s->exit_reason,
                                        "the vfioctl that was starting it was killed before QEMU ran")) < 0)
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

        assert(r);
        assert(ret);

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

int vm_run_console(const vm_run *r, int *ret_fd, char **ret_error)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        assert(r);
        assert(ret_fd);
        assert(ret_error);
        path = vm_launch_console_socket(r->qemu_dir);
        if (!path || strlen(path) >= sizeof(sa.sun_path))
                return fail(ret_error, -ENAMETOOLONG, "console socket path too long: %s", path ? path : "?");
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int e = -errno;

                return fail(ret_error, e, "cannot connect to the serial console %s: %s%s", path,
                            strerror(-e),
                            e == -EACCES ? "; run as the user who started the VM, or root" : "");
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int vm_run_open_log(const vm_run *r, bool console, int *ret_fd, char **ret_error)
{
        _cleanup_free_ char *path = NULL;
        int fd;

        assert(r);
        assert(ret_fd);
        assert(ret_error);
        path = console ? vm_launch_console_log(r->qemu_dir) : strdup("log");
        if (!path)
                return -ENOMEM;
        fd = openat(r->dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                int e = -errno;

                return fail(ret_error, e, "cannot open %s/%s: %s", r->dir, path, strerror(-e));
        }
        *ret_fd = fd;
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

        assert(r);
        assert(fmt);

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

        assert(r);
        assert(how);

        fd = openat(r->dirfd, "stop-request.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                    0600);
        if (fd < 0 || write(fd, how, strlen(how)) != (ssize_t)strlen(how))
                return -errno;
        return renameat(r->dirfd, "stop-request.tmp", r->dirfd, "stop-request") < 0 ? -errno : 0;
}

void vm_run_release(vm_run *r, vm_runstate *s, vm_state final, const char *reason)
{
        _cleanup_free_ char *ctl = NULL, *con = NULL, *qmp = NULL, *tpm = NULL;
        int e;

        assert(r);
        assert(s);
        vm_release_undo(&(vm_release_ctx){ .run = r, .state = s });
        ctl = vm_launch_ctl_socket(r->qemu_dir);
        con = vm_launch_console_socket(r->qemu_dir);
        if (asprintf(&tpm, "%s/swtpm.sock", r->qemu_dir) >= 0)
                (void)unlink(tpm);
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

int vm_run_finish_release(vm_run *r, bool locked_by_caller, const char *reason)
{
        _cleanup_(vm_runstate_freep) vm_runstate *s = NULL;
        _cleanup_free_ char *list = NULL, *why = NULL;
        vm_state final;
        int e;

        assert(r);
        e = vm_runstate_read(r->dirfd, &s);
        if (e < 0)
                return e == -ENOENT ? 0 : e;
        if (!s->steps || !s->steps[0] || vm_run_alive(r, s) ||
            (!locked_by_caller && vm_runstate_lock_held(r->dirfd) > 0))
                return 0;
        list = strv_join(s->steps, " ");
        vm_run_log(r, "host changes of VM %s were still recorded (%s): giving them back now", r->name,
                   list ? list : "?");
        final = s->state == VM_STATE_STOPPED ? VM_STATE_STOPPED : VM_STATE_CRASHED;
        /* A reason the record already ends with stays (the release itself was what got cut short). */
        why = strdup(s->exit_reason && (s->state == VM_STATE_STOPPED || s->state == VM_STATE_CRASHED)
                             ? s->exit_reason
                             : reason);
        vm_run_release(r, s, final, why ? why : reason);
        return 1;
}
