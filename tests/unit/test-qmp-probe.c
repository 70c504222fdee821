/* The QEMU capability probe against a scripted QMP peer: replies, events, errors, silence and hang-ups. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vfioctl/qmp-probe.h"

#define GREETING                                                                                        \
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \"package\": " \
        "\"Debian 1:7.2+dfsg-7+deb12u18+b3\"}, \"capabilities\": [\"oob\"]}}\r\n"

typedef enum script {
        SCRIPT_OK,
        SCRIPT_ERROR_ON_MACHINES,
        SCRIPT_SILENT,
        SCRIPT_HANGUP_AFTER_GREETING,
        SCRIPT_GARBAGE,
} script;

/* Replies as QEMU 7.2 does (trimmed): one JSON object per line, CRLF-terminated. */
static const char *reply_for(const char *line, script s)
{
        if (strstr(line, "\"qmp_capabilities\""))
                return s == SCRIPT_GARBAGE ? "this is not json\r\n" : "{\"return\": {}}\r\n";
        if (strstr(line, "\"query-version\""))
                /* An event may arrive before any reply (qmp-spec.rst, "Asynchronous events"). */
                return "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"RESUME\"}\r\n"
                       "{\"return\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, \"package\": "
                       "\" Debian 1:7.2+dfsg-7+deb12u18+b3\"}}\r\n";
        if (strstr(line, "\"query-machines\""))
                return s == SCRIPT_ERROR_ON_MACHINES
                               ? "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no machines today\"}}\r\n"
                               : "{\"return\": [{\"hotpluggable-cpus\": true, \"name\": \"pc-q35-7.2\", \"alias\": \"q35\", \"cpu-max\": 288, \"deprecated\": false}, {\"name\": \"pc-i440fx-7.2\", \"alias\": \"pc\", \"is-default\": true, \"cpu-max\": 255}, {\"name\": \"none\", \"cpu-max\": 1}]}\r\n";
        if (strstr(line, "\"qom-list-types\""))
                return "{\"return\": [{\"name\": \"vfio-pci\", \"parent\": \"vfio-pci-base\"}, {\"name\": \"intel-iommu\", \"parent\": \"x86-iommu\"}, {\"name\": \"tpm-crb\", \"parent\": \"device\"}]}\r\n";
        if (strstr(line, "\"quit\""))
                return "{\"return\": {}}\r\n";
        return "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"unknown\"}}\r\n";
}

/* QEMU copies a command's "id" into its reply (qmp-spec.rst, "Commands Responses"); events carry none. */
static int send_with_id(int fd, const char *reply, const char *command)
{
        const char *id = strstr(command, "\"id\":\"");
        char out[8192];
        size_t len = 0;

        for (const char *line = reply; *line;) {
                const char *end = strchr(line, '\n');
                size_t n = end ? (size_t)(end - line) + 1 : strlen(line);
                bool answer = strncmp(line, "{\"return\"", 9) == 0 || strncmp(line, "{\"error\"", 8) == 0;

                if (answer && id) {
                        size_t idlen = strcspn(id + 6, "\"");

                        len += (size_t)snprintf(out + len, sizeof(out) - len, "{\"id\": \"%.*s\", ",
                                                (int)idlen, id + 6);
                        line++, n--; /* the reply's own '{' */
                }
                len += (size_t)snprintf(out + len, sizeof(out) - len, "%.*s", (int)n, line);
                line += n;
        }
        return write(fd, out, len) == (ssize_t)len ? 0 : -1;
}

static void peer(int fd, script s)
{
        char buf[4096];
        size_t len = 0;

        if (s == SCRIPT_SILENT) {
                pause();
                _exit(0);
        }
        if (write(fd, GREETING, strlen(GREETING)) < 0)
                _exit(1);
        if (s == SCRIPT_HANGUP_AFTER_GREETING)
                _exit(0);
        for (;;) {
                ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
                char *nl;

                if (n <= 0)
                        _exit(0);
                len += (size_t)n;
                buf[len] = 0;
                while ((nl = strchr(buf, '\n'))) {
                        const char *r;

                        *nl = 0;
                        r = reply_for(buf, s);
                        if (send_with_id(fd, r, buf) < 0)
                                _exit(1);
                        if (strstr(buf, "\"quit\""))
                                _exit(0);
                        len -= (size_t)(nl + 1 - buf);
                        memmove(buf, nl + 1, len + 1);
                }
        }
}

static int probe(script s, unsigned timeout_ms, vfio_qemu_info **ret, char **ret_error)
{
        int sv[2], r, st;
        pid_t pid;

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                close(sv[0]);
                peer(sv[1], s);
        }
        close(sv[1]);
        r = vfio_qmp_probe_session(sv[0], timeout_ms, ret, ret_error);
        close(sv[0]);
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        return r;
}

static void test_probe_reads_version_machines_types(void **state)
{
        vfio_qemu_info *q = NULL;
        char *err = NULL;

        assert_int_equal(probe(SCRIPT_OK, 5000, &q, &err), 0);
        assert_null(err);
        assert_int_equal(q->major, 7);
        assert_int_equal(q->minor, 2);
        assert_int_equal(q->micro, 22);
        assert_string_equal(q->package, "Debian 1:7.2+dfsg-7+deb12u18+b3");
        assert_true(vfio_qemu_info_has_machine(q, "q35"));
        assert_true(vfio_qemu_info_has_machine(q, "pc-q35-7.2"));
        assert_string_equal(q->default_machine, "pc-i440fx-7.2");
        assert_true(vfio_qemu_info_has_type(q, "vfio-pci"));
        assert_false(vfio_qemu_info_has_type(q, "vfio-pci-base"));
        vfio_qemu_info_free(q);
}

static void test_probe_error_reply(void **state)
{
        vfio_qemu_info *q = NULL;
        char *err = NULL;

        assert_int_equal(probe(SCRIPT_ERROR_ON_MACHINES, 5000, &q, &err), -EREMOTEIO);
        assert_null(q);
        assert_string_equal(err,
                            "query-machines: QEMU answered with an error: GenericError: no machines today");
        free(err);
}

static void test_probe_timeout(void **state)
{
        vfio_qemu_info *q = NULL;
        char *err = NULL;

        assert_int_equal(probe(SCRIPT_SILENT, 200, &q, &err), -ETIMEDOUT);
        assert_null(q);
        assert_string_equal(err, "greeting: none before the timeout");
        free(err);
}

static void test_probe_hangup(void **state)
{
        vfio_qemu_info *q = NULL;
        char *err = NULL;

        assert_int_equal(probe(SCRIPT_HANGUP_AFTER_GREETING, 5000, &q, &err), -ECONNRESET);
        assert_string_equal(err, "qmp_capabilities: QEMU closed the connection");
        free(err);
}

static void test_probe_garbage(void **state)
{
        vfio_qemu_info *q = NULL;
        char *err = NULL;

        assert_int_equal(probe(SCRIPT_GARBAGE, 5000, &q, &err), -EBADMSG);
        assert_string_equal(err, "qmp_capabilities: reply is not a JSON object");
        free(err);
}

static void test_probe_missing_binary(void **state)
{
        vfio_qemu_info *q = NULL;
        char *err = NULL;

        assert_true(vfio_qmp_probe_run("/nonexistent/qemu-system-x86_64", 2000, &q, &err) < 0);
        assert_null(q);
        assert_string_equal(err, "/nonexistent/qemu-system-x86_64 could not be executed");
        free(err);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_probe_reads_version_machines_types),
                cmocka_unit_test(test_probe_error_reply),
                cmocka_unit_test(test_probe_timeout),
                cmocka_unit_test(test_probe_hangup),
                cmocka_unit_test(test_probe_garbage),
                cmocka_unit_test(test_probe_missing_binary),
        };

        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
