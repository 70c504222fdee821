/*
 * libFuzzer target: the VM config parser, its consistency checks and the argv builder on what parses.
 * Build: CC=clang CFLAGS=-fsanitize=fuzzer-no-link,address,undefined meson setup build-fuzz -Dfuzz=true
 * Run:   build-fuzz/tests/fuzz-vmconf -max_len=4096 CORPUS tests/data/vm docs/examples
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/vmconf.h"
#include "vfioctl/vmdefaults.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        vm_config *c = NULL;
        char **errors = NULL, **warnings = NULL, **argv = NULL, **notes = NULL, *text;
        vm_argv_paths p = { .runtime_dir = "/run/user/1000/vfioctl/f", .state_dir = "/s", .uid = 1000 };

        if (size > VM_CONFIG_MAX_SIZE)
                return 0;
        text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        if (vm_config_parse_string(text, "fuzz.conf", "f", &c, &errors) >= 0 &&
            vm_config_resolve(c, NULL, NULL, &warnings, &errors) >= 0 &&
            vm_qemu_argv(c, &p, &argv, &notes) >= 0) {
                char *guide = NULL, *t1 = NULL, *t2 = NULL, **errors2 = NULL;
                vm_config *back = NULL;

                (void)vm_config_write(c, VM_CONFIG_WRITE_GUIDE, NULL, &guide);
                /* What the writer writes reads back to a config it writes the same way. */
                if (vm_config_write(c, 0, NULL, &t1) == 0 &&
                    (vm_config_parse_string(t1, "written.conf", "f", &back, &errors2) < 0 ||
                     vm_config_write(back, 0, NULL, &t2) < 0 || strcmp(t1, t2) != 0))
                        abort();
                free(guide);
                free(t1);
                free(t2);
                strv_free(errors2);
                vm_config_free(back);
        }
        strv_free(argv);
        strv_free(notes);
        strv_free(warnings);
        strv_free(errors);
        vm_config_free(c);
        free(text);
        return 0;
}
