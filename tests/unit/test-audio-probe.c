/*
 * The sound server probe: AUTH as PulseAudio's native protocol frames it, answered by a scripted server on
 * a socketpair (what it sent, credentials included, and each kind of answer), then vm_audio_probe on a
 * listening socket: found, refused by the filesystem for another user, no listener, no socket.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "vfioctl/audio-probe.h"

typedef enum answer { REPLY, REFUSE, GARBAGE, HANG_UP, SILENCE, WRONG_TAG } answer;

typedef struct peer {
        int fd;
        answer how;
        /* what the client sent */
        uint32_t command, tag, version, cookie_len;
        size_t got;
        bool creds;
        struct ucred cred;
} peer;

static uint32_t get32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}

/* A packet: descriptor + 'L' a, 'L' b, 'L' c. */
static size_t packet(uint8_t *out, uint32_t a, uint32_t b, uint32_t c)
{
        memset(out, 0, 20);
        put32(out, 15);
        put32(out + 4, 0xffffffffu);
        for (int i = 0; i < 3; i++) {
                out[20 + 5 * i] = 'L';
                put32(out + 21 + 5 * i, i == 0 ? a : i == 1 ? b : c);
        }
        return 35;
}

static void *serve(void *arg)
{
        peer *p = arg;
        uint8_t buf[1024], out[64];
        char control[CMSG_SPACE(sizeof(struct ucred))];
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
        struct msghdr msg = {
                .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)
        };
        ssize_t k = recvmsg(p->fd, &msg, 0);
        size_t n = 0;

        if (k <= 0)
                return NULL;
        p->got = (size_t)k;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
                        memcpy(&p->cred, CMSG_DATA(c), sizeof(p->cred));
                        p->creds = true;
                }
        if (k >= 41) {
                p->command = get32(buf + 21);
                p->tag = get32(buf + 26);
                p->version = get32(buf + 31);
                p->cookie_len = buf[35] == 'x' ? get32(buf + 36) : 0;
        }
        switch (p->how) {
        case REPLY:
                /* PulseAudio sets flag bits above the version (SHM, memfd). */
                n = packet(out, 2, p->tag, 0x80000000u | 35);
                break;
        case REFUSE:
                n = packet(out, 0, p->tag, 1);
                break;
        case WRONG_TAG:
                n = packet(out, 2, p->tag + 7, 35);
                break;
        case GARBAGE:
                memcpy(out, "HTTP/1.1 400 Bad Request\r\n\r\n", 28);
                n = 28;
                break;
        case HANG_UP:
                break;
        case SILENCE:
                usleep(600 * 1000);
                break;
        }
        if (n)
                (void)!write(p->fd, out, n);
        if (p->how != SILENCE)
                shutdown(p->fd, SHUT_RDWR);
        return NULL;
}

static int talk(answer how, peer *p, uint32_t *ret_version, char **ret_error)
{
        int sv[2], one = 1, r;
        pthread_t t;

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        /* As PulseAudio's server does (pa_iochannel_creds_enable). */
        assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
        memset(p, 0, sizeof(*p));
        p->fd = sv[1];
        p->how = how;
        assert_int_equal(pthread_create(&t, NULL, serve, p), 0);
        r = vm_audio_handshake(sv[0], 300, ret_version, ret_error);
        pthread_join(t, NULL);
        close(sv[0]);
        close(sv[1]);
        return r;
}

static void test_auth_packet_and_reply(void **state)
{
        uint32_t version = 0;
        char *err = NULL;
        peer p;

        assert_int_equal(talk(REPLY, &p, &version, &err), 0);
        /* descriptor 20 + three tagged u32 + 'x' length + a 256-byte cookie */
        assert_int_equal(p.got, 20 + 15 + 5 + 256);
        assert_int_equal(p.command, 8); /* PA_COMMAND_AUTH */
        assert_int_equal(p.version, VM_AUDIO_PROTOCOL_VERSION);
        assert_int_equal(p.cookie_len, 256);
        /* auth-group decides by these */
        assert_true(p.creds);
        assert_int_equal(p.cred.uid, getuid());
        assert_int_equal(p.cred.gid, getgid());
        assert_int_equal(version, 35);
        free(err);
}

static void test_each_kind_of_answer(void **state)
{
        static const struct {
                answer how;
                int r;
                const char *says;
        } cases[] = {
                { REFUSE, -EPERM, "the server refused us (PulseAudio error 1: access denied)" },
                { GARBAGE, -EPROTO, "not a sound server" },
                { WRONG_TAG, -EPROTO, "where the reply to AUTH (tag 1) was due" },
                { HANG_UP, -ECONNRESET, "the server hung up instead of answering AUTH" },
                { SILENCE, -ETIMEDOUT, "no reply to AUTH in time" },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *err = NULL;
                uint32_t version = 77;
                peer p;

                assert_int_equal(talk(cases[i].how, &p, &version, &err), cases[i].r);
                assert_non_null(err);
                if (!strstr(err, cases[i].says))
                        fail_msg("case %zu: '%s' lacks '%s'", i, err, cases[i].says);
                /* ret_version untouched on failure */
                assert_int_equal(version, 77);
                free(err);
        }
}

static void test_parse_reply_bounds(void **state)
{
        uint8_t buf[64];
        uint32_t v = 0, code = 0;
        char *err = NULL;
        size_t n = packet(buf, 2, 1, 35);

        assert_int_equal(vm_audio_parse_reply(buf, n, 1, &v, &code, &err), 0);
        assert_int_equal(v, 35);
        /* a length that disagrees with what arrived, a truncated value, a short descriptor */
        put32(buf, 99);
        assert_int_equal(vm_audio_parse_reply(buf, n, 1, &v, &code, &err), -EPROTO);
        put32(buf, 14);
        assert_int_equal(vm_audio_parse_reply(buf, n - 1, 1, &v, &code, &err), -EPROTO);
        assert_int_equal(vm_audio_parse_reply(buf, 10, 1, &v, &code, &err), -EPROTO);
        n = packet(buf, 0, 1, 1);
        assert_int_equal(vm_audio_parse_reply(buf, n, 1, &v, &code, &err), -EPERM);
        assert_int_equal(code, 1);
        free(err);
}

typedef struct listener {
        int fd;
} listener;

static void *accept_one(void *arg)
{
        listener *l = arg;
        int c = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC), one = 1;
        peer p = { .fd = c, .how = REPLY };

        if (c < 0)
                return NULL;
        setsockopt(c, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
        serve(&p);
        close(c);
        return NULL;
}

static void test_probe_a_listening_socket(void **state)
{
        char dir[] = "/tmp/vfioctl-audio-probe-XXXXXX", path[128], *detail = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        listener l;
        pthread_t t;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/native", dir);
        assert_int_equal(vm_audio_probe(path, getuid(), getgid(), 500, &detail), -ENOENT);
        assert_non_null(strstr(detail, "No such file"));
        l.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        strcpy(sa.sun_path, path);
        assert_int_equal(bind(l.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(l.fd, 4), 0);
        assert_int_equal(pthread_create(&t, NULL, accept_one, &l), 0);
        assert_int_equal(vm_audio_probe(path, getuid(), getgid(), 2000, &detail), 0);
        assert_string_equal(detail, "PulseAudio protocol 35");
        pthread_join(t, NULL);
        if (getuid() == 0) {
                /* The directory is root's 0700: nobody cannot pass it, and the probe is made as nobody. */
                assert_int_equal(vm_audio_probe(path, 65534, 65534, 2000, &detail), -EACCES);
                assert_non_null(strstr(detail, "Permission denied"));
        } else
                print_message("not root: the probe as another user is not tried\n");
        close(l.fd);
        /* the socket file stays, nobody listens: what a crashed sound server leaves */
        assert_int_equal(vm_audio_probe(path, getuid(), getgid(), 500, &detail), -ECONNREFUSED);
        unlink(path);
        rmdir(dir);
        free(detail);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_auth_packet_and_reply),
                cmocka_unit_test(test_each_kind_of_answer),
                cmocka_unit_test(test_parse_reply_bounds),
                cmocka_unit_test(test_probe_a_listening_socket),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
