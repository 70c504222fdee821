/* Human names of PCI IDs, from pci.ids through libpci. */
#pragma once

#include <stdint.h>

#include "vfioctl/common.h"

typedef struct vfio_pci_names vfio_pci_names;

/* ids_path NULL: the pci.ids the build was configured with. The file is loaded on first lookup. */
int vfio_pci_names_new(const char *ids_path, vfio_pci_names **ret);
vfio_pci_names *vfio_pci_names_free(vfio_pci_names *n);
VFIO_DEFINE_POINTER_CLEANUP(vfio_pci_names, vfio_pci_names_free)

/* Each returns a newly allocated name, or NULL when pci.ids has none (or the IDs are unknown, -1). */
char *vfio_pci_names_vendor(vfio_pci_names *n, int32_t vendor);
char *vfio_pci_names_device(vfio_pci_names *n, int32_t vendor, int32_t device);
char *vfio_pci_names_subsystem(vfio_pci_names *n, int32_t vendor, int32_t device, int32_t subvendor,
                               int32_t subdevice);
/* The subclass name, else the class name. */
char *vfio_pci_names_class(vfio_pci_names *n, int32_t class);
