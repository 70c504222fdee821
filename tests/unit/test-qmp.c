/* The QMP client against a scripted peer on a socketpair: handshake, ids, events, errors, limits, timeouts.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vfioctl/qmp.h"

#define GREETING                                                                           \
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}}, " \
        "\"capabilities\": []}}\r\n"

/* The peer's side: one line from the client, which must contain want; returns its "id". */
static void peer_expect(int fd, const char *want, char *id, size_t idsize)
{
        char line[4096];
        size_t n = 0;
        const char *p;

        while (n < sizeof(line) - 1 && read(fd, line + n, 1) == 1 && line[n] != '\n')
                n++;
        line[n] = 0;
        if (!strstr(line, want))
                _exit(2);
        p = strstr(line, "\"id\": \"");
        if (!p)
                p = strstr(line, "\"id\":\"");
        if (!p)
                _exit(3);
        p = strchr(p + 4, '"') + 1;
        snprintf(id, idsize, "%.*s", (int)(strchr(p, '"') - p), p);
}

static void peer_send(int fd, const char *fmt, ...)
{
        char buf[4096];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (write(fd, buf, strlen(buf)) < 0)
                _exit(4);
}

typedef void (*script)(int fd);

static pid_t start_peer(script s, qmp_client **ret)
{
        int sv[2];
        pid_t pid;

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(sv[0]);
                s(sv[1]);
                _exit(0);
        }
        close(sv[1]);
        assert_int_equal(qmp_client_new(sv[0], ret), 0);
        return pid;
}

static void finish_peer(pid_t pid)
{
        int status;

        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0); /* the peer saw what it expected */
}

static void handshake(int fd)
{
        char id[64];

        peer_send(fd, GREETING);
        peer_expect(fd, "\"execute\":\"qmp_capabilities\"", id, sizeof(id));
        peer_send(fd, "{\"return\": {}, \"id\": \"%s\"}\r\n", id);
}

static void script_status_with_event(int fd)
{
        char id[64];

        handshake(fd);
        peer_expect(fd, "\"execute\":\"query-status\"", id, sizeof(id));
        /* An event and a stale reply arrive before the answer: both must be set aside. */
        peer_send(fd, "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\r\n");
        peer_send(fd, "{\"return\": {}, \"id\": \"someone-else\"}\r\n");
        peer_send(fd, "{\"return\": {\"status\": \"prelaunch\", \"running\": false}, \"id\": \"%s\"}\r\n",
                  id);
        sleep(1);
}

static void test_handshake_execute_and_events(void **state)
{
        qmp_client *q = NULL;
        json_object *ret = NULL, *ev = NULL, *v, *version;
        pid_t pid = start_peer(script_status_with_event, &q);

        assert_int_equal(qmp_handshake(q, 5000), 0);
        assert_true(json_object_object_get_ex(qmp_greeting(q), "version", &version));
        assert_int_equal(qmp_execute(q, "query-status", NULL, 5000, &ret, NULL), 0);
        assert_true(json_object_object_get_ex(ret, "status", &v));
        assert_string_equal(json_object_get_string(v), "prelaunch");
        json_object_put(ret);
        assert_int_equal(qmp_next_event(q, 1000, &ev), 0);
        assert_true(json_object_object_get_ex(ev, "event", &v));
        assert_string_equal(json_object_get_string(v), "STOP");
        json_object_put(ev);
        assert_int_equal(qmp_next_event(q, 100, &ev), -ETIMEDOUT);
        qmp_client_free(q);
        finish_peer(pid);
}

static void script_error(int fd)
{
        char id[64];

        handshake(fd);
        peer_expect(fd, "\"arguments\":{\"path\":\"\\/nope\",\"property\":\"x\"}", id, sizeof(id));
        peer_send(
                fd,
                "{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"Device '/nope' not found\"}, \"id\": \"%s\"}\r\n",
                id);
}

static void test_error_reply(void **state)
{
        qmp_client *q = NULL;
        json_object *args = json_object_new_object(), *ret = NULL;
        char *err = NULL;
        pid_t pid = start_peer(script_error, &q);

        json_object_object_add(args, "path", json_object_new_string("/nope"));
        json_object_object_add(args, "property", json_object_new_string("x"));
        assert_int_equal(qmp_handshake(q, 5000), 0);
        assert_int_equal(qmp_execute(q, "qom-get", args, 5000, &ret, &err), -EREMOTEIO);
        assert_null(ret);
        assert_string_equal(err, "DeviceNotFound: Device '/nope' not found");
        free(err);
        json_object_put(args);
        qmp_client_free(q);
        finish_peer(pid);
}

static void script_silent(int fd)
{
        peer_send(fd, GREETING);
        sleep(2);
}

static void test_timeout(void **state)
{
        qmp_client *q = NULL;
        pid_t pid = start_peer(script_silent, &q);

        assert_int_equal(qmp_handshake(q, 300), -ETIMEDOUT);
        qmp_client_free(q);
        finish_peer(pid);
}

static void script_hangup(int fd)
{
        peer_send(fd, GREETING);
        close(fd);
}

static void test_hangup(void **state)
{
        qmp_client *q = NULL;
        pid_t pid = start_peer(script_hangup, &q);
        int r = qmp_handshake(q, 5000);

        /* The capabilities write may meet the closed socket, or the read its end: one error for both. */
        assert_int_equal(r, -ECONNRESET);
        qmp_client_free(q);
        finish_peer(pid);
}

static void script_garbage(int fd)
{
        peer_send(fd, "this is not json\r\n");
}

static void test_bad_message(void **state)
{
        qmp_client *q = NULL;
        pid_t pid = start_peer(script_garbage, &q);

        assert_int_equal(qmp_handshake(q, 5000), -EBADMSG);
        qmp_client_free(q);
        finish_peer(pid);
}

static void script_flood(int fd)
{
        static char chunk[65536];

        memset(chunk, 'x', sizeof(chunk));
        peer_send(fd, "{\"QMP\": \"");
        /* Far past QMP_MESSAGE_MAX without a newline; stop once the client gives up. */
        for (int i = 0; i < (QMP_MESSAGE_MAX / (int)sizeof(chunk)) * 2; i++)
                if (write(fd, chunk, sizeof(chunk)) < 0)
                        break;
}

static void test_message_size_capped(void **state)
{
        qmp_client *q = NULL;
        pid_t pid = start_peer(script_flood, &q);

        assert_int_equal(qmp_handshake(q, 10000), -EMSGSIZE);
        qmp_client_free(q);
        finish_peer(pid);
}

static void script_no_greeting(int fd)
{
        peer_send(fd, "{\"return\": {}}\r\n");
}

static void test_greeting_required(void **state)
{
        qmp_client *q = NULL;
        pid_t pid = start_peer(script_no_greeting, &q);

        assert_int_equal(qmp_handshake(q, 5000), -EPROTO);
        qmp_client_free(q);
        finish_peer(pid);
}

/* A QMP socket path that another process bound (the real QEMU's replaced) is told apart by the peer's pid.
 */
static void test_peer_pid(void **state)
{
        char dir[] = "/tmp/test-qmp-peer-XXXXXX", path[64];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int sync[2], sp[2], p[2], fd, lfd;
        pid_t impostor, qemu;
        char c;

        (void)state;
        /* socketpair: the peer is this very process. */
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
        assert_int_equal(qmp_check_peer_pid(sp[0], getpid()), 0);
        assert_int_equal(qmp_check_peer_pid(sp[0], getppid()), -EPERM);
        assert_int_equal(qmp_check_peer_pid(sp[0], 0), -EPERM);
        close(sp[0]);
        close(sp[1]);
        assert_int_equal(pipe(p), 0);
        assert_int_equal(qmp_check_peer_pid(p[0], getpid()), -ENOTSOCK);
        close(p[0]);
        close(p[1]);

        /* "QEMU" is a process that never listens; the impostor owns the socket at QEMU's path. */
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/qmp.sock", dir);
        strcpy(sa.sun_path, path);
        qemu = fork();
        assert_true(qemu >= 0);
        if (qemu == 0) {
                pause();
                _exit(0);
        }
        assert_int_equal(pipe(sync), 0);
        impostor = fork();
        assert_true(impostor >= 0);
        if (impostor == 0) {
                lfd = socket(AF_UNIX, SOCK_STREAM, 0);
                if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0)
                        _exit(1);
                if (write(sync[1], "x", 1) != 1)
                        _exit(1);
                fd = accept(lfd, NULL, NULL);
                pause();
                _exit(fd < 0);
        }
        assert_int_equal(read(sync[0], &c, 1), 1);
        assert_int_equal(qmp_connect_unix(path, 1000, &fd), 0);
        assert_int_equal(qmp_check_peer_pid(fd, qemu), -EPERM);
        assert_int_equal(qmp_check_peer_pid(fd, impostor), 0);
        close(fd);
        close(sync[0]);
        close(sync[1]);
        kill(impostor, SIGKILL);
        kill(qemu, SIGKILL);
        waitpid(impostor, NULL, 0);
        waitpid(qemu, NULL, 0);
        unlink(path);
        rmdir(dir);
}

/* A socket in a directory another user owns: found without following links, connected by descriptor. */
static void test_connect_at_no_links(void **state)
{
        char dir[] = "/tmp/test-qmp-at-XXXXXX", deep[512], path[600];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int lfd, dfd, fd = -1;

        (void)state;
        assert_non_null(mkdtemp(dir));
        /* So deep that the socket's path is longer than sun_path: only the descriptor route reaches it. */
        snprintf(deep, sizeof(deep), "%s/%0150d", dir, 0);
        assert_int_equal(mkdir(deep, 0700), 0);
        dfd = open(deep, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        /* bind through the short /proc/self/fd path of the directory. */
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/qmp.sock", dfd);
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(lfd >= 0);
        assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(lfd, 4), 0);
        assert_int_equal(qmp_connect_unix_at(dfd, "qmp.sock", 1000, &fd), 0);
        assert_int_equal(qmp_check_peer_pid(fd, getpid()), 0);
        close(fd);
        /* A link to that socket put at another name is not followed; a FIFO is not a socket. */
        assert_int_equal(symlinkat("qmp.sock", dfd, "ctl.sock"), 0);
        assert_int_equal(qmp_connect_unix_at(dfd, "ctl.sock", 200, &fd), -ELOOP);
        assert_int_equal(mkfifoat(dfd, "console.sock", 0600), 0);
        assert_int_equal(qmp_connect_unix_at(dfd, "console.sock", 200, &fd), -ENOTSOCK);
        /* Missing: retried until the deadline, then ENOENT. */
        assert_int_equal(qmp_connect_unix_at(dfd, "none.sock", 100, &fd), -ENOENT);
        close(lfd);
        close(dfd);
        snprintf(path, sizeof(path), "rm -rf '%s'", dir);
        assert_int_equal(system(path), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_handshake_execute_and_events),
                cmocka_unit_test(test_error_reply),
                cmocka_unit_test(test_timeout),
                cmocka_unit_test(test_hangup),
                cmocka_unit_test(test_bad_message),
                cmocka_unit_test(test_message_size_capped),
                cmocka_unit_test(test_greeting_required),
                cmocka_unit_test(test_peer_pid),
                cmocka_unit_test(test_connect_at_no_links),
        };

        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
