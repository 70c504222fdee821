/* Fuzz target: the QMP client (lib/qmp.c) against a hostile peer on a socketpair: any bytes, truncated
 * lines, events in between, messages past QMP_MESSAGE_MAX. The client ends each call with a result or an
 * error, within its caps, never a crash or a hang. Input: the peer's whole output; a leading "HUGE\n"
 * (in an input of at most 64 bytes) makes the peer first send one line longer than QMP_MESSAGE_MAX (too
 * big for libFuzzer's max_len). */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qmp-peer.h"
#include "vfioctl/qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        qmp_peer p = { .data = data, .size = size };
        qmp_client *q = NULL;
        json_object *ret = NULL, *ev = NULL;
        char *err = NULL;
        pthread_t th;
        int sp[2];

        /* Short inputs only: a 16 MiB line costs ~40 ms, and libFuzzer finds the prefix at once. */
        if (size >= 5 && size <= 64 && memcmp(data, "HUGE\n", 5) == 0) {
                p.huge = QMP_MESSAGE_MAX + 65536;
                p.data += 5;
                p.size -= 5;
        }
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                return 0;
        p.fd = sp[1];
        if (qmp_client_new(sp[0], &q) < 0) {
                close(sp[0]);
                close(sp[1]);
                return 0;
        }
        if (pthread_create(&th, NULL, qmp_peer_main, &p) != 0) {
                qmp_client_free(q);
                close(sp[1]);
                return 0;
        }
        /* The launcher's sequence: greeting, capabilities, a command, then events until the peer is gone. */
        if (qmp_handshake(q, 200) >= 0) {
                (void)qmp_greeting(q);
                if (qmp_execute(q, "query-status", NULL, 200, &ret, &err) >= 0)
                        json_object_put(ret);
                free(err);
                err = NULL;
                ret = NULL;
                if (qmp_execute(q, "cont", NULL, 200, &ret, &err) >= 0)
                        json_object_put(ret);
                free(err);
                for (unsigned i = 0; i < 2 * QMP_EVENTS_MAX && qmp_next_event(q, 50, &ev) >= 0; i++)
                        json_object_put(ev);
        }
        /* Closing our end makes a peer still writing (huge message) fail and finish. */
        qmp_client_free(q);
        pthread_join(th, NULL);
        close(sp[1]);
        return 0;
}
