/* The input relay beside a VM: started before QEMU by the supervisor, stopped when the VM is released. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "strv.h"
#include "time-util.h"
#include "vfioctl/input.h"
#include "vfioctl/launch.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/relay.h"
#include "vfioctl/runstate.h"
#include "vfioctl/vmneeds.h"

#define RELAY_READY_TIMEOUT_MS 15000
#define RELAY_STOP_TIMEOUT_MS  3000

bool vm_relay_preflight(const vm_config *c, const vfio_host *h, vfio_problems *problems)
{
        _cleanup_free_ char *why = NULL, *names = NULL;
        _cleanup_strv_free_ char **direct = NULL;
        const vm_input *first_required = NULL;
        int r;

        assert(c);
        assert(h);
        assert(problems);
        if (!vm_needs_relay(c))
                return false;
        r = vfio_input_uinput_available(h);
        if (r > 0)
                return true;
        if (r == 0)
                why = strdup(
                        "/dev/uinput does not exist: load the module (modprobe uinput; keep it with echo uinput > /etc/modules-load.d/uinput.conf)");
        else if (
                asprintf(
                        &why,
                        "/dev/uinput cannot be opened (%s): start the VM as root (vfioctl drops to [vm] user), or let this user write it (udev rule KERNEL==\"uinput\", GROUP=\"input\", MODE=\"0660\")",
                        strerror(-r)) < 0)
                why = NULL;
        for (size_t i = 0; i < c->n_inputs; i++)
                if (vm_qemu_input_wants_relay(&c->inputs[i])) {
                        (void)strv_extend(&direct, c->inputs[i].name);
                        if (!first_required && c->inputs[i].relay == VM_RELAY_YES)
                                first_required = &c->inputs[i];
                }
        names = strv_join(direct, ", ");
        if (first_required)
                (void)vfio_problems_add(
                        problems, VFIO_PROBLEM_ERROR,
                        "%s:%u: [input \"%s\"] relay = yes, but the input relay cannot run: %s; or set relay = auto to let QEMU read the devices directly",
                        c->filename, first_required->line, first_required->name,
                        why ? why : "uinput unavailable");
        else
                (void)vfio_problems_add(
                        problems, VFIO_PROBLEM_WARNING,
                        "input %s: no relay (%s); QEMU reads the devices directly and loses them when one is unplugged",
                        names ? names : "?", why ? why : "uinput unavailable");
        return false;
}

static int relay_argv(const vm_relay_spawn *s, char ***ret)
{
        _cleanup_strv_free_ char **a = NULL;
        const char *toggle = NULL;
        int r = 0;

        r = strv_extend(&a, "vfioctl");
        if (r >= 0 && s->root)
                r = strv_extendf(&a, "--root=%s", s->root);
        if (r >= 0)
                r = strv_extend(&a, "input");
        if (r >= 0)
                r = strv_extend(&a, "relay");
        if (r >= 0)
                r = strv_extendf(&a, "--out=%s", s->c->name);
        for (size_t i = 0; r >= 0 && i < s->c->n_inputs; i++) {
                const vm_input *in = &s->c->inputs[i];

                if (!vm_qemu_input_wants_relay(in))
                        continue;
                r = strv_extendf(&a, "--grab=%s", in->evdev);
                if (r >= 0)
                        r = strv_extendf(&a, "--label=%s", in->name);
                /* One relay, one hotkey: the first one a relayed input sets (QEMU's default otherwise). */
                if (!toggle && in->grab_toggle)
                        toggle = in->grab_toggle;
        }
        if (r >= 0)
                r = strv_extendf(&a, "--toggle=%s", toggle ? toggle : "ctrl-ctrl");
        if (r >= 0)
                r = strv_extendf(&a, "--link=%s", s->link_dir);
        if (r >= 0 && s->drop) {
                _cleanup_strv_free_ char **gids = NULL;
                _cleanup_free_ char *groups = NULL;

                for (size_t i = 0; r >= 0 && i < s->n_groups; i++)
                        r = strv_extendf(&gids, "%u", (unsigned)s->groups[i]);
                if (r >= 0 && !(groups = strv_join(gids, ",")))
                        r = -ENOMEM;
                if (r >= 0)
                        r = strv_extendf(&a, "--user=%u:%u:%s", (unsigned)s->uid, (unsigned)s->gid, groups);
        }
        if (r >= 0)
                r = strv_extend(&a, "--log-fd=3"); /* vm_spawn.pass_fd */
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

int vm_relay_start(const vm_relay_spawn *s, pid_t *ret_pid, char **ret_report)
{
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *out = NULL;
        char *const envp[] = { (char *)"PATH=/usr/bin:/bin", (char *)"LC_ALL=C", NULL };
        const char *stage = NULL;
        size_t len = 0;
        int pfd[2], r, status;
        long long deadline;
        pid_t pid;

        assert(s);
        assert(s->c);
        assert(ret_pid);
        assert(ret_report);

        *ret_report = NULL;
        r = relay_argv(s, &argv);
        if (r < 0)
                return r;
        if (pipe2(pfd, O_CLOEXEC) < 0)
                return -errno;
        fflush(NULL);
        /* Not dropped here: the relay opens its devices as root and becomes the VM user itself (--user).
         * Its own session keeps the terminal's Ctrl-C for the supervisor, which stops it in order. */
        r = vm_launch_spawn(&(vm_spawn){ .argv = argv,
                                         .envp = envp,
                                         .path = s->program ? s->program : "/proc/self/exe",
                                         .log_fd = pfd[1], /* until READY */
                                         .pass_fd = s->log_fd,
                                         .before_exec = s->before_exec,
                                         .userdata = s->userdata },
                            &pid, &stage);
        close(pfd[1]);
        if (r < 0) {
                close(pfd[0]);
                if (asprintf(ret_report, "%s failed: %s", stage ? stage : "fork", strerror(-r)) < 0)
                        *ret_report = NULL;
                return r;
        }
        deadline = now_ms() + RELAY_READY_TIMEOUT_MS;
        r = -ETIMEDOUT;
        for (;;) {
                struct pollfd p = { .fd = pfd[0], .events = POLLIN };
                char buf[512], *nout, *ready;
                ssize_t n;

                if (now_ms() >= deadline || poll(&p, 1, ms_until(deadline)) == 0)
                        break;
                n = read(pfd[0], buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = -EIO; /* it exited: what it said explains why */
                        break;
                }
                if (len + (size_t)n > 64 * 1024)
                        break;
                nout = realloc(out, len + (size_t)n + 1);
                if (!nout)
                        break;
                out = nout;
                memcpy(out + len, buf, (size_t)n);
                len += (size_t)n;
                out[len] = 0;
                ready = strstr(out, "READY\n");
                if (ready && (ready == out || ready[-1] == '\n')) {
                        *ready = 0;
                        r = 0;
                        break;
                }
        }
        close(pfd[0]);
        if (r < 0) {
                if (kill(pid, SIGKILL) == 0 || errno != ESRCH)
                        (void)waitpid(pid, &status, 0);
                if (!out && r == -ETIMEDOUT)
                        out = strdup("no answer in 15 s");
        }
        if (out) {
                /* One line per message, without our own prefix. */
                size_t l = strlen(out);

                while (l > 0 && out[l - 1] == '\n')
                        out[--l] = 0;
                for (char *p; (p = strstr(out, "vfioctl: error: ")) || (p = strstr(out, "vfioctl: "));) {
                        size_t skip = strncmp(p, "vfioctl: error: ", 16) == 0 ? 16 : 9;

                        memmove(p, p + skip, strlen(p + skip) + 1);
                }
        }
        *ret_report = TAKE_PTR(out);
        if (r >= 0)
                *ret_pid = pid;
        return r;
}

void vm_relay_stop(int proc_dirfd, pid_t pid, uint64_t starttime)
{
        long long deadline;

        if (pid <= 0 || !vm_runstate_pid_alive(proc_dirfd, pid, starttime))
                return;
        kill(pid, SIGTERM);
        deadline = now_ms() + RELAY_STOP_TIMEOUT_MS;
        while (now_ms() < deadline) {
                /* Our child (the supervisor's case) is reaped here; another's relay just goes away. */
                if (waitpid(pid, NULL, WNOHANG) == pid || !vm_runstate_pid_alive(proc_dirfd, pid, starttime))
                        return;
                nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
        }
        kill(pid, SIGKILL);
        (void)waitpid(pid, NULL, 0);
}
