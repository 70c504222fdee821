/* Fuzz target: a sound server's answer to AUTH (vm_audio_parse_reply) is judged, never overread. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vfioctl/audio-probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* A copy of exactly size bytes: ASan sees any read past the reply. */
        uint8_t *buf = malloc(size ? size : 1);
        uint32_t version = 0xdeadu, code = 0;
        char *err = NULL;
        int r;

        if (!buf)
                abort();
        memcpy(buf, data, size);
        r = vm_audio_parse_reply(buf, size, 1, &version, &code, &err);
        if (r != 0 && r != -EPERM && r != -EPROTO)
                abort();
        /* Success gives a version without its flag bits; a failure leaves it alone and says why. */
        if ((r == 0 && version > 0xffffu) || (r < 0 && (version != 0xdeadu || !err)))
                abort();
        free(err);
        free(buf);
        return 0;
}
