/* Fuzz target: every string parser of the host model must refuse or accept, never crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse-util.h"
#include "vfioctl/critical.h"
#include "vfioctl/pci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1), *mnt = NULL, *fstype = NULL, *source = NULL;
        char buf[VFIO_PCI_ADDR_MAX];
        vfio_pci_addr a;
        unsigned maj, min;
        uint64_t u;
        int64_t i;
        uint32_t id;

        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;
        (void)parse_uint(s, 0, UINT64_MAX, &u);
        (void)parse_uint(s, 16, 0xffff, &u);
        (void)parse_int(s, INT64_MIN, INT64_MAX, &i);
        (void)parse_hex_id(s, 24, &id);
        (void)parse_size(s, &u);
        (void)vfio_pci_parse_link_speed(s);
        if (vfio_pci_addr_parse(s, &a) >= 0) {
                vfio_pci_addr b;

                /* Whatever parses must print back to a form that parses to the same address. */
                vfio_pci_addr_format(&a, buf);
                if (vfio_pci_addr_parse(buf, &b) < 0 || vfio_pci_addr_compare(&a, &b) != 0)
                        abort();
        }
        if (vfio_mountinfo_parse_line(s, &maj, &min, &mnt, &fstype, &source) >= 0) {
                free(mnt);
                free(fstype);
                free(source);
        }
        free(s);
        return 0;
}
