/*
 * QEMU capability probe over QMP (docs/interop/qmp-spec.rst): one short-lived "-machine none" process,
 * a fixed list of queries, then quit. Everything is bounded: total time, message size, reply count.
 */
#include "vfioctl/qmp-probe.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "strv.h"

#define QMP_MESSAGE_MAX (8u << 20) /* qom-list-types of a full x86 build is ~100 KiB */
#define QMP_LINES_MAX   10000      /* events and replies read before giving up */

vfio_qemu_info *vfio_qemu_info_free(vfio_qemu_info *q)
{
        if (!q)
                return NULL;
        free(q->package);
        strv_free(q->machines);
        free(q->default_machine);
        strv_free(q->types);
        free(q);
        return NULL;
}

bool vfio_qemu_info_has_type(const vfio_qemu_info *q, const char *type)
{
        return strv_contains(q->types, type);
}

bool vfio_qemu_info_has_machine(const vfio_qemu_info *q, const char *machine)
{
        return strv_contains(q->machines, machine);
}

typedef struct conn {
        int in, out;
        long long deadline_ms;
        char *buf;
        size_t len, cap;
} conn;

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int conn_send(conn *c, const char *s)
{
        size_t len = strlen(s), off = 0;

        while (off < len) {
                struct pollfd p = { .fd = c->out, .events = POLLOUT };
                long long left = c->deadline_ms - now_ms();
                ssize_t n;
                int r;

                if (left <= 0)
                        return -ETIMEDOUT;
                r = poll(&p, 1, (int)left);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return -ETIMEDOUT;
                n = write(c->out, s + off, len - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EPIPE)
                        return -ECONNRESET; /* the same as reading EOF: QEMU went away */
                if (n < 0)
                        return -errno;
                off += (size_t)n;
        }
        return 0;
}

/* Next complete line (QMP ends every message with CRLF or LF), parsed as a JSON object. */
static int conn_recv(conn *c, json_object **ret)
{
        for (;;) {
                char *nl = c->buf ? memchr(c->buf, '\n', c->len) : NULL;

                if (nl) {
                        size_t n = (size_t)(nl - c->buf) + 1;
                        enum json_tokener_error jerr;
                        json_object *o;

                        *nl = 0;
                        o = json_tokener_parse_verbose(c->buf, &jerr);
                        memmove(c->buf, c->buf + n, c->len - n);
                        c->len -= n;
                        if (!o || !json_object_is_type(o, json_type_object)) {
                                json_object_put(o);
                                return -EPROTO;
                        }
                        *ret = o;
                        return 0;
                }
                if (c->len >= QMP_MESSAGE_MAX)
                        return -EMSGSIZE;
                if (c->cap - c->len < 65536) {
                        size_t cap = c->cap ? c->cap * 2 : 65536;
                        char *b = realloc(c->buf, cap + 1);

                        if (!b)
                                return -ENOMEM;
                        c->buf = b;
                        c->cap = cap;
                }
                {
                        struct pollfd p = { .fd = c->in, .events = POLLIN };
                        long long left = c->deadline_ms - now_ms();
                        ssize_t n;
                        int r;

                        if (left <= 0)
                                return -ETIMEDOUT;
                        r = poll(&p, 1, (int)left);
                        if (r < 0 && errno == EINTR)
                                continue;
                        if (r < 0)
                                return -errno;
                        if (r == 0)
                                return -ETIMEDOUT;
                        n = read(c->in, c->buf + c->len, c->cap - c->len);
                        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                                continue;
                        if (n < 0)
                                return -errno;
                        if (n == 0)
                                return -ECONNRESET;
                        c->len += (size_t)n;
                }
        }
}

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

/* Sends a command and returns its "return" member (owned by *ret_msg), skipping events. */
static int execute(conn *c, const char *cmd, const char *args, json_object **ret_msg,
                   json_object **ret_value, char **ret_error)
{
        _cleanup_free_ char *line = NULL;
        int r;

        if (asprintf(&line, "{\"execute\": \"%s\"%s%s}\n", cmd, args ? ", \"arguments\": " : "",
                     args ? args : "") < 0)
                return -ENOMEM;
        r = conn_send(c, line);
        if (r < 0)
                return set_error(ret_error, "%s: %s", cmd,
                                 r == -ECONNRESET ? "QEMU closed the connection" : strerror(-r)),
                       r;
        for (unsigned i = 0; i < QMP_LINES_MAX; i++) {
                json_object *o = NULL, *v;

                r = conn_recv(c, &o);
                if (r < 0)
                        return set_error(ret_error, "%s: %s", cmd,
                                         r == -ETIMEDOUT    ? "no reply before the timeout"
                                         : r == -ECONNRESET ? "QEMU closed the connection"
                                         : r == -EPROTO     ? "reply is not a JSON object"
                                                            : strerror(-r)),
                               r;
                if (json_object_object_get_ex(o, "event", NULL)) {
                        json_object_put(o);
                        continue;
                }
                if (json_object_object_get_ex(o, "error", &v)) {
                        json_object *desc = NULL;

                        json_object_object_get_ex(v, "desc", &desc);
                        set_error(ret_error, "%s: QEMU answered with an error: %s", cmd,
                                  desc ? json_object_get_string(desc) : "(no description)");
                        json_object_put(o);
                        return -EPROTO;
                }
                if (!json_object_object_get_ex(o, "return", &v)) {
                        json_object_put(o);
                        set_error(ret_error, "%s: reply has neither \"return\" nor \"error\"", cmd);
                        return -EPROTO;
                }
                *ret_msg = o;
                *ret_value = v;
                return 0;
        }
        return set_error(ret_error, "%s: too many events without a reply", cmd), -EPROTO;
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

int vfio_qmp_probe_session(int in_fd, int out_fd, unsigned timeout_ms, vfio_qemu_info **ret,
                           char **ret_error)
{
        _cleanup_(vfio_qemu_info_freep) vfio_qemu_info *q = calloc(1, sizeof(vfio_qemu_info));
        conn c = { .in = in_fd, .out = out_fd, .deadline_ms = now_ms() + timeout_ms };
        json_object *msg = NULL, *v, *qemu;
        int r;

        if (!q)
                return -ENOMEM;
        q->machines = calloc(1, sizeof(char *));
        q->types = calloc(1, sizeof(char *));
        if (!q->machines || !q->types)
                return -ENOMEM;

        /* The greeting: {"QMP": {"version": ..., "capabilities": [...]}} (qmp-spec.rst, "Server Greeting").
         */
        r = conn_recv(&c, &msg);
        if (r < 0) {
                set_error(ret_error, "greeting: %s",
                          r == -ETIMEDOUT    ? "none before the timeout"
                          : r == -ECONNRESET ? "QEMU exited"
                                             : strerror(-r));
                goto finish;
        }
        if (!json_object_object_get_ex(msg, "QMP", NULL)) {
                set_error(ret_error, "greeting: not a QMP greeting");
                r = -EPROTO;
                goto finish;
        }
        json_object_put(msg);
        msg = NULL;

        r = execute(&c, "qmp_capabilities", NULL, &msg, &v, ret_error);
        if (r < 0)
                goto finish;
        json_object_put(msg);
        msg = NULL;

        r = execute(&c, "query-version", NULL, &msg, &v, ret_error);
        if (r < 0)
                goto finish;
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
        json_object_put(msg);
        msg = NULL;

        r = execute(&c, "query-machines", NULL, &msg, &v, ret_error);
        if (r < 0)
                goto finish;
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
        json_object_put(msg);
        msg = NULL;

        r = execute(&c, "qom-list-types", "{\"abstract\": false}", &msg, &v, ret_error);
        if (r < 0)
                goto finish;
        for (size_t i = 0; json_object_is_type(v, json_type_array) && i < json_object_array_length(v); i++)
                if ((r = add_string_member(&q->types, json_object_array_get_idx(v, i), "name")) < 0)
                        goto finish;
        json_object_put(msg);
        msg = NULL;
        strv_sort(q->machines);
        strv_sort(q->types);

        /* "quit" is answered before QEMU exits; a lost reply changes nothing, the caller reaps it anyway. */
        if (execute(&c, "quit", NULL, &msg, &v, NULL) >= 0) {
                json_object_put(msg);
                msg = NULL;
        }
        *ret = TAKE_PTR(q);
        r = 0;
finish:
        json_object_put(msg);
        free(c.buf);
        return r;
}

int vfio_qmp_probe_run(const char *qemu, unsigned timeout_ms, vfio_qemu_info **ret, char **ret_error)
{
        /* No guest, no devices, no user config, no KVM: nothing of the user's VM is ever started. */
        const char *const argv[] = {
                qemu,       "-machine", "none", "-accel", "tcg", "-nodefaults", "-no-user-config",
                "-display", "none",     "-qmp", "stdio",  NULL
        };
        int to_child[2] = { -EBADF, -EBADF }, from_child[2] = { -EBADF, -EBADF }, status = 0, r;
        long long deadline;
        pid_t pid;

        if (pipe2(to_child, O_CLOEXEC) < 0 || pipe2(from_child, O_CLOEXEC) < 0) {
                r = -errno;
                closep(&to_child[0]);
                closep(&to_child[1]);
                return r;
        }
        pid = fork();
        if (pid < 0) {
                r = -errno;
                goto close_all;
        }
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                /* dup2 clears O_CLOEXEC on the copies: only fds 0-2 survive exec. */
                if (dup2(to_child[0], STDIN_FILENO) < 0 || dup2(from_child[1], STDOUT_FILENO) < 0 ||
                    (null >= 0 && dup2(null, STDERR_FILENO) < 0))
                        _exit(127);
                signal(SIGPIPE, SIG_DFL);
                execv(qemu, (char *const *)argv);
                _exit(127);
        }
        closep(&to_child[0]);
        closep(&from_child[1]);
        to_child[0] = from_child[1] = -EBADF;
        {
                void (*old)(int) = signal(SIGPIPE, SIG_IGN);

                r = vfio_qmp_probe_session(from_child[0], to_child[1], timeout_ms, ret, ret_error);
                signal(SIGPIPE, old);
        }
        closep(&to_child[1]);
        to_child[1] = -EBADF;
        /* Give QEMU a moment to exit after "quit" (or EOF on its stdin), then make sure it is gone. */
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
close_all:
        closep(&to_child[0]);
        closep(&to_child[1]);
        closep(&from_child[0]);
        closep(&from_child[1]);
        return r;
}
