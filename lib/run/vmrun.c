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
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "fs-util.h"
#include "parse-util.h"
#include "safedir.h"
#include "strv.h"
#include "time-util.h"
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

/*
 * The runtime directory base/name: base is root's (or the caller's own) and so is the VM's directory in it
 * (0710 root:GROUP when QEMU runs as another user: that user cannot change it). Opened through
 * basic/safedir.h all the same: no link followed, and made 0700 only when it was missing (an existing
 * 0710 one keeps its mode, or a running QEMU would lose its way to qemu/).
 */
static int open_run_dir(const char *base, const char *name, bool create, int *ret_fd)
{
        _cleanup_close_ int bfd = -EBADF;
        struct stat st;
        int e;

        e = safedir_open_trusted(base, create, &bfd);
        if (e < 0)
                return e;
        if (create && fstatat(bfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT &&
            (e = safedir_mkdir(bfd, name, 0700, SAFEDIR_KEEP_UID, SAFEDIR_KEEP_GID, NULL)) < 0)
                return e;
        e = safedir_open_dir(bfd, name);
        if (e < 0)
                return e;
        *ret_fd = e;
        return 0;
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

int vm_run_plan_lock(const char *root, const char *name, unsigned timeout_ms, int *ret_fd, char **ret_error)
{
        _cleanup_free_ char *base = NULL;
        _cleanup_close_ int bfd = -EBADF, fd = -EBADF;
        char holder[65] = "";
        ssize_t n;
        int e;

        assert(name);
        assert(ret_fd);

        if ((e = vm_run_base(root, &base)) < 0)
                return e;
        /* The base is root's (or the caller's own) like every VM directory in it; the file is opened below
         * it without following a link, and ".plan-lock" can never be a VM's directory (vm_name_valid). */
        e = safedir_open_trusted(base, true, &bfd);
        if (e < 0)
                return fail(ret_error, e, "cannot open the runtime directory %s: %s", base,
                            safedir_strerror(e));
        fd = safedir_openat(bfd, ".plan-lock", O_RDWR | O_CREAT, 0600);
        if (fd < 0)
                return fail(ret_error, fd, "cannot open %s/.plan-lock: %s", base, safedir_strerror(fd));
        /* Polled, not a blocking flock: the wait is bounded and a signal never leaves it half-taken. The
         * bound is on the monotonic clock, not a count of sleeps (a loaded host makes each sleep longer). */
        for (long long deadline = now_ms() + timeout_ms;;) {
                if (flock(fd, LOCK_EX | LOCK_NB) == 0)
                        break;
                if (errno != EWOULDBLOCK)
                        return fail(ret_error, -errno, "cannot lock %s/.plan-lock: %s", base,
                                    strerror(errno));
                if (now_ms() >= deadline) {
                        n = pread(fd, holder, sizeof(holder) - 1, 0);
                        holder[n > 0 ? n : 0] = 0;
                        return fail(
                                ret_error, -ETIMEDOUT,
                                "the start of VM '%s' has held %s/.plan-lock for over %u s (it plans its CPUs and records what it holds); start '%s' again once it has started, see: vfioctl status %s",
                                vm_name_valid(holder) ? holder : "?", base, timeout_ms / 1000, name,
                                vm_name_valid(holder) ? holder : "");
                }
                (void)nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
        }
        /* Who holds it, for the message of a start that waited too long. */
        if (ftruncate(fd, 0) == 0) {
                n = pwrite(fd, name, strlen(name), 0);
                (void)n;
        }
        *ret_fd = TAKE_FD(fd);
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
        e = open_run_dir(base, name, false, &r->dirfd);
        if (e < 0)
                return e;
        /* not another user's directory: /proc, the kernel's */
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
        e = open_run_dir(base, name, create, &r->dirfd);
        if (e < 0) {
                if (e == -ENOENT && !create)
                        return fail(
                                ret_error, e,
                                "VM '%s' has never been started here (no %s); start it with: vfioctl start %s",
                                name, r->dir, name);
                return fail(ret_error, e, "cannot %s the runtime directory %s: %s",
                            create ? "create" : "open", r->dir,
                            e == -EPERM ? "a user other than root can change it or a directory above it"
                                        : safedir_strerror(e));
        }
        /*
         * State of a VM is private to whoever runs it: created 0700 (start makes it 0710 root:GROUP when
         * QEMU runs as another user, so QEMU reaches only DIR/qemu). Never widened for others.
         */
        if (fstat(r->dirfd, &st) == 0 && create && (st.st_mode & 007))
                (void)fchmod(r->dirfd, st.st_mode & 0770);
        /* not another user's directory: /proc, the kernel's */
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
        /* Its supervisor was killed (kill -9 of start, a crash): QEMU runs on, and is shown as such. */
        s->orphan = vm_run_alive(r, s) && vm_runstate_lock_held(r->dirfd) <= 0;
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
        _cleanup_close_ int qdir = -EBADF;
        int fd, e;

        assert(r);
        assert(ret);

        if (!path)
                return -ENOMEM;
        /* QEMU's directory is the VM user's: the socket is found without following links (qmp.h). */
        qdir = safedir_open_dir(r->dirfd, "qemu");
        e = qdir < 0 ? qdir : qmp_connect_unix_at(qdir, "ctl.sock", 5000, &fd);
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
        _cleanup_(vm_runstate_freep) vm_runstate *st = NULL;
        _cleanup_close_ int qdir = -EBADF;
        int fd = -EBADF, e;

        assert(r);
        assert(ret_fd);
        assert(ret_error);
        path = vm_launch_console_socket(r->qemu_dir);
        if (!path)
                return -ENOMEM;
        /* QEMU's directory is the VM user's: the socket is found there without following links and must be
         * served by the recorded QEMU (SO_PEERCRED), as for QMP. */
        qdir = safedir_open_dir(r->dirfd, "qemu");
        e = qdir < 0 ? qdir : qmp_connect_unix_at(qdir, "console.sock", 2000, &fd);
        if (e >= 0 && vm_runstate_read(r->dirfd, &st) >= 0 && st->pid > 0 &&
            (e = qmp_check_peer_pid(fd, st->pid)) < 0) {
                close(fd);
                fd = -EBADF;
        }
        if (e < 0)
                return fail(ret_error, e, "cannot connect to the serial console %s: %s%s", path,
                            e == -EPERM ? "it is not served by the VM's QEMU" : safedir_strerror(e),
                            e == -EACCES ? "; run as the user who started the VM, or root" : "");
        *ret_fd = fd;
        return 0;
}

int vm_run_open_log(const vm_run *r, bool console, int *ret_fd, char **ret_error)
{
        const char *path = console ? "qemu/console.log" : "log";
        int fd;

        assert(r);
        assert(ret_fd);
        assert(ret_error);
        /* qemu/ is the VM user's: its console.log may be anything that user put there (a link to a file only
         * root can read, a FIFO that would hang us). */
        fd = safedir_open_regular(r->dirfd, path, O_RDONLY, NULL);
        if (fd < 0)
                return fail(ret_error, fd, "cannot open %s/%s: %s", r->dir, path, safedir_strerror(fd));
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

        fd = safedir_openat(r->dirfd, "log", O_WRONLY | O_APPEND | O_CREAT, 0640);
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
        assert(r);
        assert(how);

        return safedir_write(r->dirfd, "stop-request", -1, how, strlen(how), 0600, SAFEDIR_KEEP_UID,
                             SAFEDIR_KEEP_GID, 0);
}

void vm_run_release(vm_run *r, vm_runstate *s, vm_state final, const char *reason)
{
        _cleanup_close_ int qdir = -EBADF;
        int e;

        assert(r);
        assert(s);
        vm_release_undo(&(vm_release_ctx){ .run = r, .state = s });
        /* QEMU's sockets, in its directory (the VM user's): removed by name in that directory only. */
        qdir = safedir_open_dir(r->dirfd, "qemu");
        if (qdir >= 0)
                for (const char *const *n = (const char *const[]){ "swtpm.sock", "ctl.sock", "console.sock",
                                                                   "qmp.sock", NULL };
                     *n; n++)
                        (void)safedir_unlink(qdir, *n, 0);
        (void)safedir_unlink(r->dirfd, "stop-request", 0);
        (void)safedir_unlink(r->dirfd, "pid", 0);
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

        assert(reason);

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
