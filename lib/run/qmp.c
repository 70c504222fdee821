/*
 * QMP client. The protocol (QEMU docs/interop/qmp-spec.txt): the server greets with {"QMP": ...}, the
 * client must send qmp_capabilities first; then each command gets one reply carrying the command's "id",
 * and asynchronous {"event": ...} messages may arrive at any time in between. Messages are JSON objects,
 * one per line ("\r\n" terminated). Every wait is bounded by a deadline; every message by a size cap.
 */
#include "vfioctl/qmp.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "safedir.h"
#include "time-util.h"

struct qmp_client {
        int fd;
        char *buf;
        size_t len, cap;
        json_object *greeting;
        json_object *events[QMP_EVENTS_MAX];
        size_t n_events;
        unsigned long next_id;
};

int qmp_client_new(int fd, qmp_client **ret)
{
        qmp_client *q;

        assert(ret);

        if (fd < 0)
                return -EBADF;
        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->fd = fd;
        *ret = q;
        return 0;
}

qmp_client *qmp_client_free(qmp_client *q)
{
        if (!q)
                return NULL;
        if (q->fd >= 0)
                close(q->fd);
        free(q->buf);
        json_object_put(q->greeting);
        for (size_t i = 0; i < q->n_events; i++)
                json_object_put(q->events[i]);
        free(q);
        return NULL;
}

int qmp_connect_unix(const char *path, int timeout_ms, int *ret_fd)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        long long deadline = now_ms() + timeout_ms;

        assert(path);
        assert(ret_fd);

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        for (;;) {
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

                if (fd < 0)
                        return -errno;
                if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
                        *ret_fd = fd;
                        return 0;
                }
                close(fd);
                /* QEMU creates the socket early but not instantly: retry while it is not there yet. */
                if ((errno != ENOENT && errno != ECONNREFUSED) || now_ms() >= deadline)
                        return -errno;
                usleep(20 * 1000);
        }
}

int qmp_connect_unix_at(int dirfd, const char *name, int timeout_ms, int *ret_fd)
{
        assert(name);
        assert(ret_fd);

        long long deadline = now_ms() + timeout_ms;

        for (;;) {
                _cleanup_close_ int node = -EBADF;
                struct stat st;
                char path[64];
                int r;

                node = safedir_openat(dirfd, name, O_PATH, 0);
                if (node >= 0) {
                        if (fstat(node, &st) < 0)
                                return -errno;
                        if (!S_ISSOCK(st.st_mode))
                                return -ENOTSOCK;
                        /* The inode just judged, by its descriptor: connect(2) follows this magic link to
                         * it. */
                        snprintf(path, sizeof(path), "/proc/self/fd/%d", node);
                        r = qmp_connect_unix(path, 0, ret_fd);
                } else
                        r = node;
                if (r >= 0 || (r != -ENOENT && r != -ECONNREFUSED) || now_ms() >= deadline)
                        return r;
                usleep(20 * 1000);
        }
}

int qmp_check_peer_pid(int fd, pid_t pid)
{
        struct ucred cred = {};
        socklen_t len = sizeof(cred);

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return -errno;
        if (len != sizeof(cred))
                return -ENOTSOCK;
        if (pid <= 0 || cred.pid != pid) {
                log_debug("qmp: socket peer is pid %d, expected QEMU's pid %d", (int)cred.pid, (int)pid);
                return -EPERM;
        }
        return 0;
}

/* Takes one complete line out of the buffer and parses it; 0 when no full line is buffered. */
static int take_message(qmp_client *q, json_object **ret)
{
        char *nl = q->len ? memchr(q->buf, '\n', q->len) : NULL; /* buf is NULL before the first read */
        json_tokener *tok;
        json_object *o;
        size_t n;

        if (!nl)
                return 0;
        n = (size_t)(nl - q->buf);
        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, q->buf, (int)n);
        if (o && json_tokener_get_parse_end(tok) < n &&
            strspn(q->buf + json_tokener_get_parse_end(tok), "\r \t") !=
                    n - json_tokener_get_parse_end(tok)) {
                json_object_put(o);
                o = NULL;
        }
        json_tokener_free(tok);
        memmove(q->buf, nl + 1, q->len - n - 1);
        q->len -= n + 1;
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return log_debug_errno(-EBADMSG, "qmp: a message is not a JSON object");
        }
        *ret = o;
        return 1;
}

static int read_message(qmp_client *q, long long deadline, json_object **ret)
{
        for (;;) {
                struct pollfd p = { .fd = q->fd, .events = POLLIN };
                ssize_t n;
                int r;

                r = take_message(q, ret);
                if (r != 0)
                        return r;
                if (q->len >= QMP_MESSAGE_MAX)
                        return log_debug_errno(-EMSGSIZE, "qmp: message longer than %d bytes",
                                               QMP_MESSAGE_MAX);
                if (q->cap - q->len < 4096) {
                        size_t cap = q->cap ? q->cap * 2 : 8192;
                        char *b;

                        if (cap > QMP_MESSAGE_MAX + 4096)
                                cap = QMP_MESSAGE_MAX + 4096;
                        b = realloc(q->buf, cap);
                        if (!b)
                                return -ENOMEM;
                        q->buf = b;
                        q->cap = cap;
                }
                r = poll(&p, 1, ms_until(deadline));
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (r == 0)
                        return -ETIMEDOUT;
                n = read(q->fd, q->buf + q->len, q->cap - q->len);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -ECONNRESET;
                q->len += (size_t)n;
        }
}

static void queue_event(qmp_client *q, json_object *o)
{
        if (q->n_events == QMP_EVENTS_MAX) {
                json_object_put(q->events[0]);
                memmove(q->events, q->events + 1, (QMP_EVENTS_MAX - 1) * sizeof(q->events[0]));
                q->n_events--;
        }
        q->events[q->n_events++] = o;
}

static int write_all(qmp_client *q, const char *s, size_t n, long long deadline)
{
        while (n > 0) {
                struct pollfd p = { .fd = q->fd, .events = POLLOUT };
                ssize_t w;
                int r;

                r = poll(&p, 1, ms_until(deadline));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return -ETIMEDOUT;
                /* MSG_NOSIGNAL: a QEMU that died must give EPIPE, not kill us with SIGPIPE. */
                w = send(q->fd, s, n, MSG_NOSIGNAL);
                if (w < 0 && errno == ENOTSOCK)
                        w = write(q->fd, s, n);
                if (w < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        /* A hang-up is one error whether we see it writing or reading. */
                        return errno == EPIPE ? -ECONNRESET : -errno;
                }
                s += w;
                n -= (size_t)w;
        }
        return 0;
}

int qmp_read_greeting(qmp_client *q, int timeout_ms)
{
        json_object *o = NULL, *qmp;
        int r;

        assert(q);

        r = read_message(q, now_ms() + timeout_ms, &o);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(o, "QMP", &qmp)) {
                json_object_put(o);
                return log_debug_errno(-EPROTO, "qmp: the first message is not a greeting");
        }
        json_object_put(q->greeting);
        q->greeting = json_object_get(qmp);
        json_object_put(o);
        return 0;
}

int qmp_handshake(qmp_client *q, int timeout_ms)
{
        assert(q);

        long long deadline = now_ms() + timeout_ms;
        int r;

        r = qmp_read_greeting(q, timeout_ms);
        if (r < 0)
                return r;
        return qmp_execute(q, "qmp_capabilities", NULL, ms_until(deadline), NULL, NULL);
}

json_object *qmp_greeting(qmp_client *q)
{
        assert(q);

        return q->greeting;
}

int qmp_execute(qmp_client *q, const char *command, json_object *arguments, int timeout_ms,
                json_object **ret_return, char **ret_error)
{
        long long deadline = now_ms() + timeout_ms;
        json_object *req, *id;
        char idbuf[32];
        const char *s;
        int r;

        assert(q);
        assert(command);

        snprintf(idbuf, sizeof(idbuf), "vfioctl-%lu", ++q->next_id);
        req = json_object_new_object();
        if (!req)
                return -ENOMEM;
        json_object_object_add(req, "execute", json_object_new_string(command));
        if (arguments)
                json_object_object_add(req, "arguments", json_object_get(arguments));
        json_object_object_add(req, "id", json_object_new_string(idbuf));
        s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
        r = s ? write_all(q, s, strlen(s), deadline) : -ENOMEM;
        if (r >= 0)
                r = write_all(q, "\n", 1, deadline);
        json_object_put(req);
        if (r < 0)
                return r;
        for (;;) {
                json_object *o = NULL, *v;

                r = read_message(q, deadline, &o);
                if (r < 0)
                        return r;
                if (json_object_object_get_ex(o, "event", NULL)) {
                        queue_event(q, o);
                        continue;
                }
                if (!json_object_object_get_ex(o, "id", &id) || !json_object_is_type(id, json_type_string) ||
                    strcmp(json_object_get_string(id), idbuf) != 0) {
                        log_debug("qmp: dropping a reply that is not for %s", idbuf);
                        json_object_put(o);
                        continue;
                }
                if (json_object_object_get_ex(o, "error", &v)) {
                        json_object *cls = NULL, *desc = NULL;

                        json_object_object_get_ex(v, "class", &cls);
                        json_object_object_get_ex(v, "desc", &desc);
                        if (ret_error &&
                            asprintf(ret_error, "%s: %s", cls ? json_object_get_string(cls) : "Error",
                                     desc ? json_object_get_string(desc) : "(no description)") < 0)
                                *ret_error = NULL;
                        json_object_put(o);
                        return -EREMOTEIO;
                }
                if (!json_object_object_get_ex(o, "return", &v)) {
                        json_object_put(o);
                        return log_debug_errno(-EPROTO, "qmp: reply to %s has neither return nor error",
                                               command);
                }
                if (ret_return)
                        *ret_return = json_object_get(v);
                json_object_put(o);
                return 0;
        }
}

int qmp_next_event(qmp_client *q, int timeout_ms, json_object **ret)
{
        assert(q);
        assert(ret);

        long long deadline = now_ms() + timeout_ms;

        for (;;) {
                json_object *o = NULL;
                int r;

                if (q->n_events > 0) {
                        *ret = q->events[0];
                        memmove(q->events, q->events + 1, (q->n_events - 1) * sizeof(q->events[0]));
                        q->n_events--;
                        return 0;
                }
                r = read_message(q, deadline, &o);
                if (r < 0)
                        return r;
                if (json_object_object_get_ex(o, "event", NULL))
                        queue_event(q, o);
                else
                        json_object_put(o); /* a late reply to a command that timed out */
        }
}
