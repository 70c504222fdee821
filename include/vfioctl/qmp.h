/* A QMP client over a file descriptor (QEMU docs/interop/qmp-spec.txt): greeting, capabilities, commands,
 * events. */
#pragma once

#include <json-c/json.h>
#include <sys/types.h>

#include "vfioctl/common.h"

/* QMP replies (query-pci on a big VM) are tens of KiB; anything past this is not a sane peer. */
#define QMP_MESSAGE_MAX (16 * 1024 * 1024)
/* Events kept while waiting for a reply; the oldest are dropped beyond this. */
#define QMP_EVENTS_MAX 256

typedef struct qmp_client qmp_client;

/* Takes ownership of fd: a connected stream socket (QEMU's -qmp unix:... or -qmp stdio on a socketpair). */
int qmp_client_new(int fd, qmp_client **ret);
qmp_client *qmp_client_free(qmp_client *q);
VFIO_DEFINE_POINTER_CLEANUP(qmp_client, qmp_client_free)

/* Connects to a QMP unix socket, retrying until it appears or timeout_ms passes. */
int qmp_connect_unix(const char *path, int timeout_ms, int *ret_fd);
/*
 * The same for the socket name in the directory dirfd, when that directory is another user's (QEMU's own
 * directory, the VM user's): the socket is found with basic/safedir.h's rules (a link put at its name is
 * refused, -ELOOP; anything but a socket, -ENOTSOCK) and connected through /proc/self/fd, so no path is
 * followed and sun_path's 107 bytes do not limit where the directory is.
 */
int qmp_connect_unix_at(int dirfd, const char *name, int timeout_ms, int *ret_fd);

/*
 * The peer of a connected unix socket must be the process we started: SO_PEERCRED's pid (taken by the
 * kernel at connect/listen time, unix(7)) equals pid. A socket path another process replaced gives
 * -EPERM; a socket without credentials (not AF_UNIX) -ENOTSOCK or the getsockopt error.
 */
int qmp_check_peer_pid(int fd, pid_t pid);

/* Reads the greeting only: -EPROTO when the first message is not one. */
int qmp_read_greeting(qmp_client *q, int timeout_ms);
/* Reads the greeting and negotiates capabilities (qmp_capabilities). */
int qmp_handshake(qmp_client *q, int timeout_ms);
/* The greeting's "QMP" object (version, capabilities), borrowed; NULL before the handshake. */
json_object *qmp_greeting(qmp_client *q);

/*
 * Runs command with arguments (borrowed, may be NULL). On success *ret_return (optional) holds the
 * "return" value (caller puts it). A QMP error gives -EREMOTEIO and its class and desc in *ret_error.
 * -ETIMEDOUT after timeout_ms, -ECONNRESET when the peer hangs up, -EMSGSIZE / -EBADMSG on bad input.
 */
int qmp_execute(qmp_client *q, const char *command, json_object *arguments, int timeout_ms,
                json_object **ret_return, char **ret_error);
/* The oldest queued event, else waits up to timeout_ms for one. -ETIMEDOUT when none came. */
int qmp_next_event(qmp_client *q, int timeout_ms, json_object **ret);
