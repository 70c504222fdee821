/* Device selectors as VM configs write them: a PCI address, vendor:device, or a name pattern. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "cleanup.h"
#include "vfioctl/model.h"
#include "vfioctl/pci.h"
#include "vfioctl/pciids.h"

typedef enum vfio_selector_kind {
        VFIO_SELECTOR_ADDRESS, /* 01:00.0 or 0000:01:00.0 */
        VFIO_SELECTOR_ID,      /* 10de:1b80 */
        VFIO_SELECTOR_NAME, /* a shell pattern over "Vendor Device" names, case-insensitive: '*GTX 1080*' */
} vfio_selector_kind;

typedef struct vfio_selector {
        vfio_selector_kind kind;
        char *text; /* as written */
        vfio_pci_addr addr;
        uint16_t vendor, device;
} vfio_selector;

int vfio_selector_parse(const char *s, vfio_selector **ret);
vfio_selector *vfio_selector_free(vfio_selector *s);
DEFINE_POINTER_CLEANUP(vfio_selector, vfio_selector_free)

/*
 * Resolves against the host model into sysfs names ("0000:01:00.0"), sorted. Bridges never match an ID or
 * a name. names may be NULL (name patterns then match nothing). -ENXIO when nothing matches.
 */
int vfio_selector_resolve(const vfio_selector *s, const vfio_model *m, vfio_pci_names *names, char ***ret);
