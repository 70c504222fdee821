/* PCI devices as the kernel shows them in sysfs (read-only model). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vfioctl/common.h"
#include "vfioctl/host.h"

/* "10000:00:1f.7" is the longest form: VMD domains use 5 hex digits; allow the full 32-bit range. */
#define VFIO_PCI_ADDR_MAX sizeof("ffffffff:ff:1f.7")

typedef struct vfio_pci_addr {
        uint32_t domain;
        uint8_t bus;
        uint8_t slot;
        uint8_t func;
} vfio_pci_addr;

/* Accepts "DDDD:BB:SS.F" (domain 4 to 8 hex digits) and the short "BB:SS.F" (domain 0). */
int vfio_pci_addr_parse(const char *s, vfio_pci_addr *ret);
/* Formats as the kernel names devices: at least 4 domain digits, "0000:01:00.0". */
char *vfio_pci_addr_format(const vfio_pci_addr *a, char buf[static VFIO_PCI_ADDR_MAX]);
int vfio_pci_addr_compare(const vfio_pci_addr *a, const vfio_pci_addr *b);

typedef enum vfio_pci_header {
        VFIO_PCI_HEADER_UNKNOWN = -1,
        VFIO_PCI_HEADER_ENDPOINT = 0,
        VFIO_PCI_HEADER_BRIDGE = 1,
        VFIO_PCI_HEADER_CARDBUS = 2,
} vfio_pci_header;

typedef struct vfio_pci_link {
        /* Speeds in MT/s per lane (2.5 GT/s = 2500), widths in lanes; 0 when the kernel doesn't say. */
        unsigned cur_speed;
        unsigned max_speed;
        unsigned cur_width;
        unsigned max_width;
} vfio_pci_link;

typedef struct vfio_pci_dev {
        char *name; /* sysfs name, "0000:01:00.0" */
        vfio_pci_addr addr;
        /* IDs are -1 when the attribute is missing or malformed (see problems). */
        int32_t vendor, device, subsystem_vendor, subsystem_device, revision, class;
        char *driver;          /* NULL when no driver is bound */
        char *driver_override; /* NULL when unset */
        int iommu_group;       /* -1 without an IOMMU group */
        int boot_vga;          /* -1 when the attribute is absent (non-VGA devices) */
        char **reset_methods;  /* NULL when the kernel has no reset_method attribute (< 5.15) */
        bool has_reset;        /* the write-only "reset" attribute exists: some reset works (true with
                                  reset_methods) */
        int numa_node;         /* -1 when unknown or not NUMA */
        vfio_pci_link link;
        vfio_pci_header header;
        char *sysfs_path; /* below sys/: "devices/pci0000:00/0000:00:01.0/0000:01:00.0" */
        char **parents;   /* PCI devices above it, nearest last: "0000:00:01.0" */
        char **problems;  /* attributes that were missing or malformed, as "attr: reason" */
} vfio_pci_dev;

typedef struct vfio_pci_list {
        vfio_pci_dev **devs; /* sorted by address */
        size_t n;
        char **problems; /* entries that could not be read at all */
} vfio_pci_list;

/* Reads every device under sys/bus/pci/devices. Devices whose link dangles are skipped and reported. */
int vfio_pci_scan(const vfio_host *h, vfio_pci_list **ret);
/* Reads one device by sysfs name. */
int vfio_pci_read_device(const vfio_host *h, const char *name, vfio_pci_dev **ret);
vfio_pci_list *vfio_pci_list_free(vfio_pci_list *l);
vfio_pci_dev *vfio_pci_dev_free(vfio_pci_dev *d);
VFIO_DEFINE_POINTER_CLEANUP(vfio_pci_list, vfio_pci_list_free)
VFIO_DEFINE_POINTER_CLEANUP(vfio_pci_dev, vfio_pci_dev_free)

/* Finds a device by address (any accepted form); binary search over the sorted list. */
vfio_pci_dev *vfio_pci_list_find(const vfio_pci_list *l, const char *name);
ssize_t vfio_pci_list_index(const vfio_pci_list *l, const char *name);

bool vfio_pci_dev_is_bridge(const vfio_pci_dev *d);
/* Same domain, bus and slot: the functions of one card (GPU, its HDMI audio, its USB-C controller). */
bool vfio_pci_same_slot(const vfio_pci_dev *a, const vfio_pci_dev *b);
/* PCI class 03xxxx: VGA, XGA, 3D and other display controllers. */
bool vfio_pci_dev_is_display(const vfio_pci_dev *d);
/* Driver that keeps a device away from host drivers without using it (vfio-pci, pci-stub). */
bool vfio_pci_driver_is_stub(const char *driver);

/* Parses a sysfs link speed ("8.0 GT/s PCIe", "2.5 GT/s", "Unknown") into MT/s; 0 when unknown. */
unsigned vfio_pci_parse_link_speed(const char *s);
