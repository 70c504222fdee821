/* Fuzz target: whatever QEMU (or something pretending to be it) prints on its QMP stream, the probe ends
 * with a result or an error, within bounds, never a crash. The input is the peer's whole output. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vfioctl/qmp-probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        FILE *f = tmpfile();
        int out = open("/dev/null", O_WRONLY | O_CLOEXEC);
        vfio_qemu_info *q = NULL;
        char *err = NULL;

        if (!f || out < 0) {
                if (f)
                        fclose(f);
                if (out >= 0)
                        close(out);
                return 0;
        }
        /* A regular file is always readable and ends in EOF: the session cannot block. */
        if (fwrite(data, 1, size, f) == size && fflush(f) == 0 && fseek(f, 0, SEEK_SET) == 0 &&
            vfio_qmp_probe_session(fileno(f), out, 1000, &q, &err) >= 0)
                vfio_qemu_info_free(q);
        free(err);
        fclose(f);
        close(out);
        return 0;
}
