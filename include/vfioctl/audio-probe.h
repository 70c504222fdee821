/*
 * Is a sound server reachable for the VM user? A real connect and the first exchange of PulseAudio's
 * native protocol (AUTH), which PulseAudio and PipeWire's pipewire-pulse both answer: what QEMU's pa driver
 * does first, so a pass here means QEMU will be let in.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* Our side of the protocol; servers answer with their own version (PulseAudio 16 speaks 35). */
#define VM_AUDIO_PROTOCOL_VERSION 35u
/* A reply to AUTH is a few words; anything larger is not a sound server talking. */
#define VM_AUDIO_REPLY_MAX 4096u

/*
 * Parses one packet (the 20-byte frame descriptor and its payload) as the reply to AUTH with tag: 0 and
 * *ret_version for a REPLY, -EPERM for an ERROR (*ret_code: PA_ERR_ACCESS is 1), -EPROTO for anything
 * else (*ret_error says what). Exported for the fuzzer.
 */
int vm_audio_parse_reply(const uint8_t *buf, size_t len, uint32_t tag, uint32_t *ret_version,
                         uint32_t *ret_code, char **ret_error);

/*
 * Speaks AUTH over fd (a connected stream socket, borrowed) with this process's credentials
 * (SCM_CREDENTIALS, which PulseAudio's auth-group checks) and reads the reply within timeout_ms. 0 and
 * *ret_version on success; -EPERM when the server refuses us; -EPROTO, -ECONNRESET, -ETIMEDOUT otherwise.
 * *ret_error (optional) says what happened.
 */
int vm_audio_handshake(int fd, unsigned timeout_ms, uint32_t *ret_version, char **ret_error);

/*
 * Connects to the socket at path as uid:gid with no supplementary groups (as vfioctl start runs QEMU: a
 * child drops to them when we are root and they are someone else) and does the handshake. 0 with
 * *ret_detail "PulseAudio protocol 35"; -ENOENT (no socket), -EACCES (the filesystem keeps uid out),
 * -ECONNREFUSED (no server listening), -EPERM (the server refused uid), -EPROTO, -ETIMEDOUT, with
 * *ret_detail saying which. Cannot act as another user without root: -ENOTSUP and a detail saying so.
 */
int vm_audio_probe(const char *path, uid_t uid, gid_t gid, unsigned timeout_ms, char **ret_detail);
