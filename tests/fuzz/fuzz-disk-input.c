/* Fuzz target: the parsers of the storage and input modules (qemu-img progress, sysfs bitmaps, hotkeys,
 * names). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vfioctl/input.h"
#include "vfioctl/storage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        unsigned long key[VFIO_INPUT_LONGS(KEY_CNT)], ev[VFIO_INPUT_LONGS(EV_CNT)];
        vfio_input_toggle t;
        vfio_disk_format f;
        char *s = malloc(size + 1);
        double pct;

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;
        if (vfio_storage_parse_progress(s, &pct) >= 0 && (pct < 0 || pct > 100))
                abort();
        (void)vfio_input_parse_bitmap(s, key, KEY_CNT);
        (void)vfio_input_parse_bitmap(s, ev, EV_CNT);
        if (vfio_input_toggle_parse(s, &t) >= 0 && (t.n == 0 || t.n > 4))
                abort();
        (void)vfio_snapshot_name_valid(s);
        (void)vfio_disk_format_from_string(s, &f);
        (void)vfio_input_source_reappeared(s, "dev/input/by-id", s);
        free(s);
        return 0;
}
