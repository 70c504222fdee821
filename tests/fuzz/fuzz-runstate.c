/* Fuzz target: the runtime status file (vm_runstate_read) must refuse or accept anything, never crash. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vfioctl/runstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static char dir[64];
        static int dirfd = -1;
        vm_runstate *s = NULL;
        int fd;

        if (dirfd < 0) {
                strcpy(dir, "/tmp/fuzz-runstate.XXXXXX");
                if (!mkdtemp(dir))
                        abort();
                dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dirfd < 0)
                        abort();
        }
        fd = openat(dirfd, "status", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, data, size) != (ssize_t)size)
                abort();
        close(fd);
        if (vm_runstate_read(dirfd, &s) >= 0) {
                vm_runstate *again = NULL;

                /* Whatever parses writes back to a file that parses to the same state. */
                if (vm_runstate_write(dirfd, s) < 0 || vm_runstate_read(dirfd, &again) < 0 ||
                    again->state != s->state || again->pid != s->pid || again->uid != s->uid)
                        abort();
                vm_runstate_free(again);
                vm_runstate_free(s);
        }
        return 0;
}
