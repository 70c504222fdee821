/* Fuzz target: whatever QEMU (or something pretending to be it) answers the capability probe, the probe
 * ends with a result or an error, within bounds, never a crash. The input is the peer's whole output on a
 * socketpair; replies count only with the ids the client gives ("vfioctl-1" ... "vfioctl-5"). */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qmp-peer.h"
#include "vfioctl/qmp-probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        qmp_peer p = { .data = data, .size = size };
        vfio_qemu_info *q = NULL;
        char *err = NULL;
        pthread_t th;
        int sp[2];

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
                return 0;
        p.fd = sp[1];
        if (pthread_create(&th, NULL, qmp_peer_main, &p) != 0) {
                close(sp[0]);
                close(sp[1]);
                return 0;
        }
        if (vfio_qmp_probe_session(sp[0], 1000, &q, &err) >= 0)
                vfio_qemu_info_free(q);
        free(err);
        close(sp[0]); /* unblocks a peer still writing */
        pthread_join(th, NULL);
        close(sp[1]);
        return 0;
}
