/* Fuzz target: selector parsing, identity round trips, the DSN capability walk and the setup diff. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vfioctl/selector.h"
#include "vfioctl/setup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        vfio_selector *sel = NULL;
        uint8_t config[4096];
        uint64_t dsn;
        char *s;

        s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;
        if (vfio_selector_parse(s, &sel) >= 0 && sel->kind == VFIO_SELECTOR_IDENTITY) {
                /* A parsed identity prints back to a selector that parses to the same identity. */
                char *again = vfio_identity_format(&sel->id);
                vfio_selector *b = NULL;

                if (!again || vfio_selector_parse(again, &b) < 0 || b->kind != VFIO_SELECTOR_IDENTITY ||
                    b->id.vendor != sel->id.vendor || b->id.device != sel->id.device ||
                    b->id.has_dsn != sel->id.has_dsn || (b->id.has_dsn && b->id.dsn != sel->id.dsn) ||
                    strcmp(b->id.path, sel->id.path) != 0)
                        abort();
                vfio_selector_free(b);
                free(again);
        }
        vfio_selector_free(sel);
        /* The bytes as a config space image: the walk must end, in bounds, on any list. */
        memset(config, 0, sizeof(config));
        memcpy(config + 0x100, data, size < sizeof(config) - 0x100 ? size : sizeof(config) - 0x100);
        (void)vfio_config_find_dsn(config, sizeof(config), &dsn);
        (void)vfio_config_find_dsn(data, size, &dsn);
        /* The two halves of the input as old and new text of a file. */
        if (size < 2048) {
                char *half = strndup(s, size / 2), *d;

                if (half) {
                        d = vfio_setup_unified_diff("f", half, s + size / 2);
                        free(d);
                        free(half);
                }
        }
        free(s);
        return 0;
}
