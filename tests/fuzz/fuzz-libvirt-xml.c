/*
 * libFuzzer target: the libvirt domain XML import, the config text it writes (parsed back), and the
 * export of what imported.
 * Build: CC=clang CFLAGS=-fsanitize=fuzzer-no-link,address,undefined meson setup build-fuzz -Dfuzz=true
 * Run:   build-fuzz/tests/fuzz-libvirt-xml -max_len=16384 CORPUS tests/data/libvirt tests/data/libvirt/users
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"
#include "vfioctl/libvirt-xml.h"
#include "vfioctl/vmdefaults.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        vm_libvirt_import *imp = NULL;
        vm_config *back = NULL;
        char *err = NULL, *text = NULL, *xml = NULL, **errors = NULL, **warnings = NULL, **lost = NULL;

        if (vm_libvirt_import_string((const char *)data, size, "fuzz.xml", NULL,
                                     VM_LIBVIRT_KEEP_UNKNOWN_ARGS, &imp, &err) >= 0) {
                /* What import writes must parse (the tool treats a failure as a bug). */
                if (vm_libvirt_config_text(imp->config, "fuzz", &text) >= 0 &&
                    vm_config_parse_string(text, "fuzz.conf", imp->config->name, &back, &errors) < 0)
                        abort();
                if (vm_config_resolve(imp->config, NULL, NULL, &warnings, &errors) >= 0)
                        (void)vm_libvirt_export(imp->config, &xml, &lost);
        }
        vm_libvirt_import_free(imp);
        vm_config_free(back);
        free(err);
        free(text);
        free(xml);
        strv_free(errors);
        strv_free(warnings);
        strv_free(lost);
        return 0;
}
