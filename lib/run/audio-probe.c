/*
 * PulseAudio's native protocol, just its first exchange: a frame descriptor of five big-endian words
 * (length, channel, offset high, offset low, flags; channel -1 for a command packet) and a tagstruct
 * payload of typed values ('L' for a u32, 'x' for a byte string). AUTH is command 8 carrying the
 * protocol version and a 256-byte cookie; the server answers REPLY (2) with its version or ERROR (0)
 * with a code. Sources: PulseAudio's src/pulsecore/pstream.c, tagstruct.h, native-common.h and
 * protocol-native.c (command_auth); pipewire-pulse implements the same (module-protocol-pulse).
 */
#include "vfioctl/audio-probe.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "time-util.h"
#include "user-util.h"

#define DESCRIPTOR_SIZE 20
#define CHANNEL_COMMAND 0xffffffffu
#define COMMAND_ERROR   0u
#define COMMAND_REPLY   2u
#define COMMAND_AUTH    8u
#define COOKIE_SIZE     256u
#define TAG_U32         'L'
#define TAG_ARBITRARY   'x'
#define VERSION_MASK    0x0000ffffu /* the top bits carry SHM/memfd flags since version 13 */
#define AUTH_TAG        1u

static void put32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void set_error(char **ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(char **ret, const char *fmt, ...)
{
        va_list ap;

        if (!ret)
                return;
        free(*ret);
        *ret = NULL;
        va_start(ap, fmt);
        if (vasprintf(ret, fmt, ap) < 0)
                *ret = NULL;
        va_end(ap);
}

/* A tagged u32 at *pos of the payload. */
static int take_u32(const uint8_t *p, size_t len, size_t *pos, uint32_t *ret)
{
        if (*pos + 5 > len || p[*pos] != TAG_U32)
                return -EPROTO;
        *ret = get32(p + *pos + 1);
        *pos += 5;
        return 0;
}

int vm_audio_parse_reply(const uint8_t *buf, size_t len, uint32_t tag, uint32_t *ret_version,
                         uint32_t *ret_code, char **ret_error)
{
        uint32_t plen, cmd, t, v;
        const uint8_t *p;
        size_t pos = 0;

        assert(buf);

        if (len < DESCRIPTOR_SIZE) {
                set_error(ret_error, "a reply of %zu bytes, shorter than a frame descriptor", len);
                return -EPROTO;
        }
        plen = get32(buf);
        if (get32(buf + 4) != CHANNEL_COMMAND || plen != len - DESCRIPTOR_SIZE ||
            plen > VM_AUDIO_REPLY_MAX) {
                set_error(ret_error, "not a PulseAudio command packet (channel %#x, %u bytes)",
                          get32(buf + 4), plen);
                return -EPROTO;
        }
        p = buf + DESCRIPTOR_SIZE;
        if (take_u32(p, plen, &pos, &cmd) < 0 || take_u32(p, plen, &pos, &t) < 0) {
                set_error(ret_error, "a packet without command and tag");
                return -EPROTO;
        }
        if (t != tag || (cmd != COMMAND_REPLY && cmd != COMMAND_ERROR)) {
                set_error(ret_error, "command %u tag %u where the reply to AUTH (tag %u) was due", cmd, t,
                          tag);
                return -EPROTO;
        }
        if (take_u32(p, plen, &pos, &v) < 0) {
                set_error(ret_error, "a %s without its value", cmd == COMMAND_REPLY ? "reply" : "error");
                return -EPROTO;
        }
        if (cmd == COMMAND_ERROR) {
                if (ret_code)
                        *ret_code = v;
                /* pa_strerror: 1 is PA_ERR_ACCESS, what command_auth sends to a client it does not know. */
                set_error(ret_error, "the server refused us (PulseAudio error %u%s)", v,
                          v == 1 ? ": access denied" : "");
                return -EPERM;
        }
        if (ret_version)
                *ret_version = v & VERSION_MASK;
        return 0;
}

static int wait_fd(int fd, short events, long long deadline)
{
        struct pollfd pfd = { .fd = fd, .events = events };
        int r;

        do
                r = poll(&pfd, 1, ms_until(deadline));
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return -errno;
        if (r == 0)
                return -ETIMEDOUT;
        return 0;
}

static int read_exact(int fd, uint8_t *buf, size_t n, long long deadline)
{
        size_t got = 0;

        while (got < n) {
                ssize_t k;
                int r = wait_fd(fd, POLLIN, deadline);

                if (r < 0)
                        return r;
                k = read(fd, buf + got, n - got);
                if (k < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -ECONNRESET;
                got += (size_t)k;
        }
        return 0;
}

int vm_audio_handshake(int fd, unsigned timeout_ms, uint32_t *ret_version, char **ret_error)
{
        /* descriptor, then 'L' AUTH, 'L' tag, 'L' version, 'x' length cookie */
        uint8_t out[DESCRIPTOR_SIZE + 3 * 5 + 5 + COOKIE_SIZE] = {},
                                                  reply[DESCRIPTOR_SIZE + VM_AUDIO_REPLY_MAX];
        size_t plen = sizeof(out) - DESCRIPTOR_SIZE, n = 0;
        long long deadline = now_ms() + (long long)timeout_ms;
        struct ucred cred = { .pid = getpid(), .uid = getuid(), .gid = getgid() };
        char control[CMSG_SPACE(sizeof(cred))] = {};
        struct iovec iov = { .iov_base = out, .iov_len = sizeof(out) };
        struct msghdr msg = {
                .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)
        };
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        uint32_t version = 0;
        ssize_t k;
        int r;

        put32(out, (uint32_t)plen);
        put32(out + 4, CHANNEL_COMMAND);
        n = DESCRIPTOR_SIZE;
        out[n] = TAG_U32;
        put32(out + n + 1, COMMAND_AUTH);
        out[n + 5] = TAG_U32;
        put32(out + n + 6, AUTH_TAG);
        out[n + 10] = TAG_U32;
        put32(out + n + 11, VM_AUDIO_PROTOCOL_VERSION); /* no SHM flag: we never share memory */
        out[n + 15] = TAG_ARBITRARY;
        put32(out + n + 16, COOKIE_SIZE); /* a zero cookie: the grant is by credentials, not by cookie */
        /* libpulse sends its credentials with the first packet; auth-group compares their gid. */
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_CREDENTIALS;
        cm->cmsg_len = CMSG_LEN(sizeof(cred));
        memcpy(CMSG_DATA(cm), &cred, sizeof(cred));
        r = wait_fd(fd, POLLOUT, deadline);
        if (r < 0) {
                set_error(ret_error, "the socket did not take the AUTH packet: %s", strerror(-r));
                return r;
        }
        do
                k = sendmsg(fd, &msg, MSG_NOSIGNAL);
        while (k < 0 && errno == EINTR);
        if (k != (ssize_t)sizeof(out)) {
                r = k < 0 ? -errno : -EIO;
                set_error(ret_error, "sending AUTH: %s", strerror(-r));
                return r == -EPIPE ? -ECONNRESET : r;
        }
        r = read_exact(fd, reply, DESCRIPTOR_SIZE, deadline);
        if (r >= 0) {
                plen = get32(reply);
                if (plen > VM_AUDIO_REPLY_MAX) {
                        set_error(ret_error, "a reply of %zu bytes: not a sound server", plen);
                        return -EPROTO;
                }
                r = read_exact(fd, reply + DESCRIPTOR_SIZE, plen, deadline);
        }
        if (r < 0) {
                set_error(ret_error, "%s",
                          r == -ETIMEDOUT    ? "no reply to AUTH in time"
                          : r == -ECONNRESET ? "the server hung up instead of answering AUTH"
                                             : strerror(-r));
                return r;
        }
        r = vm_audio_parse_reply(reply, DESCRIPTOR_SIZE + plen, AUTH_TAG, &version, NULL, ret_error);
        if (r < 0)
                return r;
        if (ret_version)
                *ret_version = version;
        return 0;
}

/* In this process: connect and handshake. Returns -errno and a detail. */
static int probe_here(const char *path, unsigned timeout_ms, char **ret_detail)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *err = NULL;
        uint32_t version = 0;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path)) {
                set_error(ret_detail, "%s is longer than a socket path may be (107 bytes)", path);
                return -ENAMETOOLONG;
        }
        memcpy(sa.sun_path, path, strlen(path));
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
                r = -errno;
                set_error(ret_detail, "connect(%s): %s", path, strerror(-r));
                return r;
        }
        r = vm_audio_handshake(fd, timeout_ms, &version, &err);
        if (r < 0) {
                set_error(ret_detail, "%s: %s", path, err ? err : strerror(-r));
                return r;
        }
        set_error(ret_detail, "PulseAudio protocol %u", version);
        return 0;
}

typedef struct probe_result {
        int r;
        char detail[512];
} probe_result;

int vm_audio_probe(const char *path, uid_t uid, gid_t gid, unsigned timeout_ms, char **ret_detail)
{
        _cleanup_close_ int rd = -EBADF, wr = -EBADF;
        probe_result res = { .r = -EIO };
        int pfd[2], status;
        long long deadline;
        pid_t pid;
        ssize_t k;

        assert(path);

        if (uid == geteuid() && gid == getegid())
                return probe_here(path, timeout_ms, ret_detail);
        if (geteuid() != 0) {
                set_error(ret_detail, "only root can try the socket as uid %u (we are uid %u)",
                          (unsigned)uid, (unsigned)geteuid());
                return -ENOTSUP;
        }
        if (pipe2(pfd, O_CLOEXEC) < 0)
                return -errno;
        rd = pfd[0];
        wr = pfd[1];
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                char *detail = NULL;

                /* As QEMU will be: the VM user, its primary group, no other group. */
                if (drop_privileges(uid, gid, NULL, 0) != 0) {
                        res.r = -errno;
                        snprintf(res.detail, sizeof(res.detail), "cannot become uid %u: %s", (unsigned)uid,
                                 strerror(errno));
                } else {
                        res.r = probe_here(path, timeout_ms, &detail);
                        snprintf(res.detail, sizeof(res.detail), "%s", detail ? detail : "");
                }
                (void)!write(wr, &res, sizeof(res));
                _exit(0);
        }
        close(TAKE_FD(wr));
        deadline = now_ms() + (long long)timeout_ms + 1000;
        if (wait_fd(rd, POLLIN, deadline) < 0 || (k = read(rd, &res, sizeof(res))) != (ssize_t)sizeof(res)) {
                (void)kill(pid, SIGKILL);
                res.r = -ETIMEDOUT;
                snprintf(res.detail, sizeof(res.detail), "%s: no answer in time", path);
        }
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        res.detail[sizeof(res.detail) - 1] = 0;
        set_error(ret_detail, "%s", res.detail);
        log_debug("audio probe of %s as uid %u: %d (%s)", path, (unsigned)uid, res.r, res.detail);
        return res.r;
}
