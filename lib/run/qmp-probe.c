/*
 * QEMU capability probe over QMP (docs/interop/qmp-spec.rst): one short-lived "-machine none" process,
 * a fixed list of queries through the QMP client (qmp.h), then quit. Bounded by one total deadline.
 */
#include "vfioctl/qmp-probe.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "strv.h"
#include "time-util.h"
#include "vfioctl/qmp.h"

static int set_error(char **ret_error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_error(char **ret_error, const char *fmt, ...)
{
        va_list ap;
        char *s;

        if (!ret_error)
                return 0;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        free(*ret_error);
        *ret_error = s;
        return 0;
}

static const char *transport_error(int r)
{
        switch (r) {
        case -ETIMEDOUT:
                return "no reply before the timeout";
        case -ECONNRESET:
                return "QEMU closed the connection";
        case -EBADMSG:
                return "reply is not a JSON object";
        case -EMSGSIZE:
                return "reply too long";
        case -EPROTO:
                return "reply has neither \"return\" nor \"error\"";
        default:
                return strerror(-r);
        }
}

/* One query of the probe: its "return" value (caller puts it), or *ret_error naming the command. */
static int probe_execute(qmp_client *qmp, const char *cmd, json_object *args, long long deadline,
                         json_object **ret, char **ret_error)
{
        _cleanup_free_ char *err = NULL;
        int r;

        r = qmp_execute(qmp, cmd, args, ms_until(deadline), ret, &err);
        if (r == -EREMOTEIO)
                set_error(ret_error, "%s: QEMU answered with an error: %s", cmd,
                          err ? err : "(no description)");
        else if (r < 0)
                set_error(ret_error, "%s: %s", cmd, transport_error(r));
        return r;
}

static unsigned get_uint(json_object *o, const char *key)
{
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return 0;
        return (unsigned)json_object_get_int(v);
}

static int add_string_member(char ***l, json_object *o, const char *key)
{
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return 0;
        return strv_extend(l, json_object_get_string(v));
}

int vfio_qmp_probe_session(int fd, unsigned timeout_ms, vfio_qemu_info **ret, char **ret_error)
{
        _cleanup_(vfio_qemu_info_freep) vfio_qemu_info *q = calloc(1, sizeof(vfio_qemu_info));
        _cleanup_(qmp_client_freep) qmp_client *qmp = NULL;
        long long deadline = now_ms() + timeout_ms;
        json_object *v = NULL, *qemu;
        int r, own;

        assert(ret);

        if (!q)
                return -ENOMEM;
        q->machines = calloc(1, sizeof(char *));
        q->types = calloc(1, sizeof(char *));
        if (!q->machines || !q->types)
                return -ENOMEM;
        own = fcntl(fd, F_DUPFD_CLOEXEC, 3); /* the client closes its copy; fd stays the caller's */
        if (own < 0)
                return -errno;
        r = qmp_client_new(own, &qmp);
        if (r < 0) {
                close(own);
                return r;
        }

        /* The greeting: {"QMP": {"version": ..., "capabilities": [...]}} (qmp-spec.rst, "Server Greeting").
         */
        r = qmp_read_greeting(qmp, ms_until(deadline));
        if (r < 0)
                return set_error(ret_error, "greeting: %s",
                                 r == -ETIMEDOUT    ? "none before the timeout"
                                 : r == -ECONNRESET ? "QEMU exited"
                                 : r == -EPROTO     ? "not a QMP greeting"
                                                    : transport_error(r)),
                       r;
        r = probe_execute(qmp, "qmp_capabilities", NULL, deadline, NULL, ret_error);
        if (r < 0)
                return r;

        r = probe_execute(qmp, "query-version", NULL, deadline, &v, ret_error);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(v, "qemu", &qemu)) {
                set_error(ret_error, "query-version: no \"qemu\" member");
                r = -EPROTO;
                goto finish;
        }
        q->major = get_uint(qemu, "major");
        q->minor = get_uint(qemu, "minor");
        q->micro = get_uint(qemu, "micro");
        if (json_object_object_get_ex(v, "package", &qemu) && json_object_get_string_len(qemu) > 0) {
                const char *p = json_object_get_string(qemu);

                q->package = strdup(p + strspn(p, " "));
                if (!q->package) {
                        r = -ENOMEM;
                        goto finish;
                }
        }
        json_object_put(v);
        v = NULL;

        r = probe_execute(qmp, "query-machines", NULL, deadline, &v, ret_error);
        if (r < 0)
                return r;
        for (size_t i = 0; json_object_is_type(v, json_type_array) && i < json_object_array_length(v); i++) {
                json_object *m = json_object_array_get_idx(v, i), *d;

                if ((r = add_string_member(&q->machines, m, "name")) < 0 ||
                    (r = add_string_member(&q->machines, m, "alias")) < 0)
                        goto finish;
                if (json_object_object_get_ex(m, "is-default", &d) && json_object_get_boolean(d) &&
                    json_object_object_get_ex(m, "name", &d) && !q->default_machine &&
                    !(q->default_machine = strdup(json_object_get_string(d)))) {
                        r = -ENOMEM;
                        goto finish;
                }
        }
        json_object_put(v);
        v = NULL;

        {
                json_object *args = json_object_new_object();

                if (!args)
                        return -ENOMEM;
                json_object_object_add(args, "abstract", json_object_new_boolean(0));
                r = probe_execute(qmp, "qom-list-types", args, deadline, &v, ret_error);
                json_object_put(args);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; json_object_is_type(v, json_type_array) && i < json_object_array_length(v); i++)
                if ((r = add_string_member(&q->types, json_object_array_get_idx(v, i), "name")) < 0)
                        goto finish;
        strv_sort(q->machines);
        strv_sort(q->types);

        /* "quit" is answered before QEMU exits; a lost reply changes nothing, the caller reaps it anyway. */
        (void)qmp_execute(qmp, "quit", NULL, ms_until(deadline), NULL, NULL);
        *ret = TAKE_PTR(q);
        r = 0;
finish:
        json_object_put(v);
        return r;
}

int vfio_qmp_probe_run(const char *qemu, unsigned timeout_ms, vfio_qemu_info **ret, char **ret_error)
{
        assert(qemu);
        assert(ret);

        /* No guest, no devices, no user config, no KVM: nothing of the user's VM is ever started. */
        const char *const argv[] = {
                qemu,       "-machine", "none", "-accel", "tcg", "-nodefaults", "-no-user-config",
                "-display", "none",     "-qmp", "stdio",  NULL
        };
        int sv[2], status = 0, r;
        long long deadline;
        pid_t pid;

        /* One socket as QEMU's stdin and stdout: the QMP client speaks over a single stream. */
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(sv[0]);
                close(sv[1]);
                return r;
        }
        if (pid == 0) {
                /* not another user's directory: /dev/null */
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                /* dup2 clears O_CLOEXEC on the copies: only fds 0-2 survive exec. */
                if (dup2(sv[1], STDIN_FILENO) < 0 || dup2(sv[1], STDOUT_FILENO) < 0 ||
                    (null >= 0 && dup2(null, STDERR_FILENO) < 0))
                        _exit(127);
                signal(SIGPIPE, SIG_DFL);
                execv(qemu, (char *const *)argv);
                _exit(127);
        }
        close(sv[1]);
        r = vfio_qmp_probe_session(sv[0], timeout_ms, ret, ret_error);
        close(sv[0]);
        /* Give QEMU a moment to exit after "quit" (or the hang-up), then make sure it is gone. */
        deadline = now_ms() + 2000;
        for (;;) {
                pid_t w = waitpid(pid, &status, WNOHANG);

                if (w == pid || (w < 0 && errno != EINTR))
                        break;
                if (now_ms() > deadline) {
                        kill(pid, SIGKILL);
                        (void)waitpid(pid, &status, 0);
                        break;
                }
                usleep(10000);
        }
        if (r < 0 && WIFEXITED(status) && WEXITSTATUS(status) == 127)
                set_error(ret_error, "%s could not be executed", qemu);
        log_debug("QEMU probe %s: %s", qemu, r < 0 ? strerror(-r) : "ok");
        return r;
}
