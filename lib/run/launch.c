/* Launching QEMU without privileges: options, credentials, exec, and pinning of its threads before `cont`.
 */
#include "vfioctl/launch.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "parse-util.h"
#include "strv.h"
#include "user-util.h"
#include "vfioctl/qemu-argv.h"

static char *join(const char *dir, const char *file)
{
        char *s;

        return asprintf(&s, "%s/%s", dir, file) < 0 ? NULL : s;
}

char *vm_launch_ctl_socket(const char *qemu_dir)
{
        assert(qemu_dir);

        return join(qemu_dir, "ctl.sock");
}

char *vm_launch_console_socket(const char *qemu_dir)
{
        assert(qemu_dir);

        return join(qemu_dir, "console.sock");
}

char *vm_launch_console_log(const char *qemu_dir)
{
        assert(qemu_dir);

        return join(qemu_dir, "console.log");
}

bool vm_launch_needs_spawn(const vm_config *c)
{
        assert(c);

        for (size_t i = 0; i < c->n_nets; i++)
                if (c->nets[i].type == VM_NET_BRIDGE)
                        return true;
        for (size_t i = 0; i < c->n_shares; i++)
                if (c->shares[i].type == VM_SHARE_SMB)
                        return true;
        return false;
}

int vm_launch_argv(char ***argv, size_t n_extra, const char *qemu_dir, bool allow_spawn)
{
        _cleanup_free_ char *ctl = NULL, *con = NULL, *log = NULL, *ectl = NULL, *econ = NULL, *elog = NULL,
                            *o_ctl = NULL, *o_con = NULL;
        _cleanup_strv_free_ char **out = NULL;
        size_t n, keep;
        int r;

        assert(argv);
        assert(qemu_dir);
        n = strv_length(*argv);
        ctl = vm_launch_ctl_socket(qemu_dir);
        con = vm_launch_console_socket(qemu_dir);
        log = vm_launch_console_log(qemu_dir);
        if (!ctl || !con || !log || n_extra > n)
                return -ENOMEM;
        ectl = vm_qemu_escape(ctl);
        econ = vm_qemu_escape(con);
        elog = vm_qemu_escape(log);
        if (!ectl || !econ || !elog)
                return -ENOMEM;
        if (asprintf(&o_ctl, "socket,id=ctl,path=%s,server=on,wait=off", ectl) < 0 ||
            asprintf(&o_con, "socket,id=console0,path=%s,server=on,wait=off,logfile=%s,logappend=on", econ,
                     elog) < 0)
                return -ENOMEM;
        keep = n - n_extra;
        for (size_t i = 0; i < keep; i++)
                if ((r = strv_extend(&out, (*argv)[i])) < 0)
                        return r;
        {
                /* -S: vCPUs stay stopped until `cont`, after pinning (qemu-options.hx, -S). */
                const char *add[] = { "-S",  "-sandbox", VM_LAUNCH_SANDBOX,          "-chardev",
                                      o_ctl, "-mon",     "chardev=ctl,mode=control", "-chardev",
                                      o_con, "-serial",  "chardev:console0",         NULL };

                for (const char **a = add; *a; a++)
                        if ((r = strv_extend(&out, *a)) < 0)
                                return r;
        }
        for (size_t i = keep; i < n; i++)
                if ((r = strv_extend(&out, (*argv)[i])) < 0)
                        return r;
        strv_free(*argv);
        *argv = TAKE_PTR(out);
        return 0;
}

bool vm_launch_env_blocked(const char *entry)
{
        assert(entry);

        static const char *const blocked[] = { "DISPLAY=", "XAUTHORITY=", "WAYLAND_DISPLAY=", NULL };

        for (const char *const *b = blocked; *b; b++)
                if (strncmp(entry, *b, strlen(*b)) == 0)
                        return true;
        return false;
}

typedef struct child_error {
        int error;
        int stage;
} child_error;

static const char *const stages[] = { "setrlimit(RLIMIT_MEMLOCK)",
                                      "setgroups",
                                      "setgid",
                                      "setuid",
                                      "dropping privileges (still root)",
                                      "setsid",
                                      "dup2",
                                      "exec",
                                      "recording the process" };

_Noreturn static void child_fail(int fd, int stage)
{
        child_error e = { errno, stage };

        (void)!write(fd, &e, sizeof(e));
        _exit(127);
}

/* fd itself, or a copy of it at hi or above when it lies in [3, hi): async-signal-safe, for the child. */
static int lift_fd(int fd, int hi)
{
        if (fd < 3 || fd >= hi)
                return fd;
        return fcntl(fd, F_DUPFD_CLOEXEC, hi);
}

/*
 * execve with a bare program name looked up like execvp(3), but never through a PATH the caller controls
 * when privileged (root, dropping to the VM user, or setuid): then only the system directories are
 * searched. A name with a slash is used as given; an empty PATH entry (the current directory) is skipped.
 * Returns only on failure, with errno set.
 */
static void exec_search(char *const *argv, char *const *envp, bool privileged)
{
        static const char system_path[] = "/usr/local/bin:/usr/bin:/bin";
        const char *path = privileged ? system_path : getenv("PATH");
        int err = ENOENT;

        if (strchr(argv[0], '/')) {
                execve(argv[0], argv, envp);
                return;
        }
        for (const char *p = path ? path : system_path; *p;) {
                size_t n = strcspn(p, ":");
                char full[4096];

                if (n > 0 && n + 1 + strlen(argv[0]) < sizeof(full)) {
                        memcpy(full, p, n);
                        full[n] = '/';
                        strcpy(full + n + 1, argv[0]);
                        execve(full, argv, envp);
                        if (errno != ENOENT && errno != ENOTDIR)
                                err = errno;
                }
                p += n;
                if (*p == ':')
                        p++;
        }
        errno = err;
}

int vm_launch_place_fds(const int *fds, size_t n, int base)
{
        int tmp[64];

        if (n > ELEMENTSOF(tmp) || base < 3)
                return -E2BIG;
        /* First above the targets, so that no descriptor is overwritten before it is moved. */
        for (size_t i = 0; i < n; i++) {
                tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, base + (int)n);
                if (tmp[i] < 0)
                        return -errno;
        }
        /* dup2 clears FD_CLOEXEC on the target: these are the ones the program inherits. */
        for (size_t i = 0; i < n; i++) {
                if (dup2(tmp[i], base + (int)i) < 0)
                        return -errno;
                close(tmp[i]);
        }
        return 0;
}

/*
 * The child of vm_launch_spawn, from fork to exec (only async-signal-safe calls): rlimit, privilege drop,
 * session, descriptors placed, then it waits at the gate (gate_fd >= 0) and execs. Failures go to err_fd.
 */
_Noreturn static void spawn_child(const vm_spawn *s, int err_fd, int gate_fd)
{
        if (s->memlock) {
                /* First, while still root: VFIO pins all guest RAM against this limit. */
                struct rlimit rl = { s->memlock, s->memlock };
                struct rlimit cur;

                if (getrlimit(RLIMIT_MEMLOCK, &cur) == 0 && cur.rlim_max != RLIM_INFINITY &&
                    cur.rlim_max >= s->memlock && !s->drop)
                        rl.rlim_max = cur.rlim_max;
                if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
                        child_fail(err_fd, 0);
        }
        if (s->drop) {
                int stage = drop_privileges(s->uid, s->gid, s->groups, s->n_groups);

                if (stage)
                        child_fail(err_fd, stage);
        }
        /* Own session: a Ctrl-C on the terminal reaches vfioctl (which powers down), not QEMU. */
        if (setsid() < 0)
                child_fail(err_fd, 5);
        if (s->log_fd >= 0) {
                /* not another user's directory: /dev/null */
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

                if (null < 0 || dup2(null, 0) < 0 || dup2(s->log_fd, 1) < 0 || dup2(s->log_fd, 2) < 0)
                        child_fail(err_fd, 6);
        }
        if (s->pass_fd > 2 || s->n_fds) {
                /* What the child still needs first moves above every descriptor it places (3 for
                 * pass_fd, fds_base... for fds), so that placing one cannot overwrite another. */
                int hi = s->n_fds && s->fds_base + (int)s->n_fds > 4 ? s->fds_base + (int)s->n_fds : 4;
                int pass = s->pass_fd > 3 ? lift_fd(s->pass_fd, hi) : s->pass_fd;
                int lifted = lift_fd(err_fd, hi);

                if (lifted < 0)
                        child_fail(err_fd, 6);
                err_fd = lifted;
                if (gate_fd >= 0 && (gate_fd = lift_fd(gate_fd, hi)) < 0)
                        child_fail(err_fd, 6);
                if (pass < 0)
                        child_fail(err_fd, 6);
                if (s->n_fds && vm_launch_place_fds(s->fds, s->n_fds, s->fds_base) < 0)
                        child_fail(err_fd, 6);
                /* dup2 onto itself keeps O_CLOEXEC: clear it then. */
                if (pass > 2 && (pass == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(pass, 3) < 0))
                        child_fail(err_fd, 6);
        }
        signal(SIGPIPE, SIG_DFL);
        if (gate_fd >= 0) {
                /* Not one instruction of the program before the parent has recorded this pid: a
                 * closed gate (the parent died first) ends the child quietly. */
                char go = 0;
                ssize_t k;

                do
                        k = read(gate_fd, &go, 1);
                while (k < 0 && errno == EINTR);
                if (k != 1 || go != 'g')
                        _exit(0);
        }
        if (s->path)
                execve(s->path, s->argv, s->envp);
        else
                exec_search(s->argv, s->envp, s->drop || geteuid() == 0 || getauxval(AT_SECURE));
        child_fail(err_fd, 7);
}

int vm_launch_spawn(const vm_spawn *s, pid_t *ret_pid, const char **ret_stage)
{
        int pipefd[2], gate[2] = { -EBADF, -EBADF };
        child_error e;
        ssize_t n;
        pid_t pid;

        assert(s);
        assert(s->argv);
        assert(ret_pid);

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        if (s->before_exec && pipe2(gate, O_CLOEXEC) < 0) {
                int r = -errno;
                close(pipefd[0]);
                close(pipefd[1]);
                return r;
        }
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(pipefd[0]);
                close(pipefd[1]);
                if (gate[0] >= 0) {
                        close(gate[0]);
                        close(gate[1]);
                }
                return r;
        }
        if (pid == 0) {
                /* The child: only async-signal-safe calls from here to exec. */
                close(pipefd[0]);
                if (gate[1] >= 0)
                        close(gate[1]);
                spawn_child(s, pipefd[1], gate[0]);
        }
        close(pipefd[1]);
        if (gate[0] >= 0) {
                int r;

                close(gate[0]);
                r = s->before_exec(pid, s->userdata);
                if (r < 0 || write(gate[1], "g", 1) != 1) {
                        r = r < 0 ? r : -errno;
                        close(gate[1]);
                        close(pipefd[0]);
                        kill(pid, SIGKILL);
                        (void)waitpid(pid, NULL, 0);
                        if (ret_stage)
                                *ret_stage = stages[8];
                        return r;
                }
                close(gate[1]);
        }
        do
                n = read(pipefd[0], &e, sizeof(e));
        while (n < 0 && errno == EINTR);
        close(pipefd[0]);
        if (n == sizeof(e)) {
                (void)waitpid(pid, NULL, 0);
                if (ret_stage)
                        *ret_stage = stages[e.stage];
                return -(e.error ? e.error : EIO);
        }
        *ret_pid = pid;
        return 0;
}
