/* The QMP fuzz targets' peer: a thread that writes the fuzzer's input, as QEMU's side of a socketpair, and
 * hangs up. A client that stops reading (message too big) or closes its end makes the writes fail, which
 * ends the script early. */
#pragma once

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

typedef struct qmp_peer {
        int fd;
        const uint8_t *data;
        size_t size;
        size_t huge; /* bytes of one unterminated string sent first (0: none) */
} qmp_peer;

static int qmp_peer_write_all(int fd, const void *p, size_t n)
{
        const char *c = p;

        while (n > 0) {
                ssize_t w = send(fd, c, n, MSG_NOSIGNAL);

                if (w <= 0)
                        return -1;
                c += w;
                n -= (size_t)w;
        }
        return 0;
}

static void *qmp_peer_main(void *arg)
{
        qmp_peer *p = arg;

        if (p->huge) {
                static char chunk[65536];

                memset(chunk, 'A', sizeof(chunk));
                chunk[0] = '"';
                for (size_t done = 0; done < p->huge; done += sizeof(chunk))
                        if (qmp_peer_write_all(p->fd, chunk, sizeof(chunk)) < 0)
                                goto out;
        }
        (void)qmp_peer_write_all(p->fd, p->data, p->size);
out:
        shutdown(p->fd, SHUT_WR);
        return NULL;
}
