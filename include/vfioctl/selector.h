/* Device selectors (address, vendor:device, name pattern, stable identity) and their re-resolution. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vfioctl/common.h"
#include "vfioctl/host.h"
#include "vfioctl/model.h"
#include "vfioctl/pciids.h"

typedef enum vfio_selector_kind {
        VFIO_SELECTOR_ADDRESS,  /* "01:00.0", "0000:01:00.0" */
        VFIO_SELECTOR_IDS,      /* "10de:1284", "10de:1284:3842:2887" */
        VFIO_SELECTOR_NAME,     /* "GTX 780 Ti", case-insensitive substring of the pci.ids name */
        VFIO_SELECTOR_IDENTITY, /* "10de:1284:3842:2887@pci0000:00/03.0/00.0[,dsn=..]": a recorded identity
                                 */
} vfio_selector_kind;

/*
 * The facts that tell one device from another across reboots and hardware changes. The address alone
 * is not stable (bus numbers move when a card is added upstream) and IDs alone do not tell two identical
 * cards apart; the topology path (root bus, then device.function of every hop) and the PCIe Device
 * Serial Number (PCIe Base Spec r5.0, 7.9.3) do.
 */
typedef struct vfio_identity {
        int32_t vendor, device, subsystem_vendor, subsystem_device; /* -1: not recorded */
        char *path;   /* "pci0000:00/03.0/00.0"; NULL when not recorded */
        uint64_t dsn; /* PCIe Device Serial Number */
        bool has_dsn;
        char *address; /* where it was when recorded, for messages; NULL when not recorded */
        char *slot;    /* physical slot name (sys/bus/pci/slots/NAME), NULL when the firmware gives none */
} vfio_identity;

typedef struct vfio_selector {
        vfio_selector_kind kind;
        char *text;         /* as the user wrote it */
        vfio_pci_addr addr; /* ADDRESS */
        vfio_identity id;   /* IDS (vendor/device, optionally subsystem) and IDENTITY */
        char *pattern;      /* NAME */
        unsigned nth;       /* "#N" suffix of IDS and NAME: 1-based, 0 when absent */
} vfio_selector;

int vfio_selector_parse(const char *s, vfio_selector **ret);
vfio_selector *vfio_selector_free(vfio_selector *s);
VFIO_DEFINE_POINTER_CLEANUP(vfio_selector, vfio_selector_free)

void vfio_identity_done(vfio_identity *id);
/* Reads the identity of one device of the model (DSN from its config space when readable). */
int vfio_identity_of(const vfio_host *h, const vfio_pci_dev *d, vfio_identity *ret);
/* "10de:1284:3842:2887@pci0000:00/03.0/00.0,dsn=52-54-00-ff-ff-e2-e0-01": parsable back as a selector. */
char *vfio_identity_format(const vfio_identity *id);
/* The DSN as lspci prints it: "52-54-00-ff-ff-e2-e0-01". */
char *vfio_dsn_format(uint64_t dsn, char buf[static 24]);
/*
 * Walks the extended capability list of a config space image (PCIe Base Spec r5.0, 7.6.3) for the
 * Device Serial Number capability (ID 0x0003). -ENOENT when absent or the image is the 256 bytes a
 * non-root reader or a conventional PCI device gives.
 */
int vfio_config_find_dsn(const uint8_t *config, size_t size, uint64_t *ret);
/* "pci0000:00/03.0/00.0" from a device's sysfs path below sys/ ("devices/pci0000:00/0000:00:03.0/..."). */
int vfio_topology_path(const char *sysfs_path, char **ret);

/* Selection flags. */
enum {
        VFIO_SELECT_FUNCTION_ONLY = 1 << 0, /* do not add the other functions of the same slot */
};

typedef struct vfio_selection_item {
        char *name;         /* "0000:01:00.0" */
        const char *reason; /* "selected", "same slot" */
        vfio_identity id;
} vfio_selection_item;

typedef struct vfio_selection {
        vfio_selection_item *items; /* in selector order, then slot companions; no duplicates */
        size_t n;
        char **notes;    /* what changed for identity selectors that still resolved ("renumbered ...") */
        char **problems; /* why resolution failed, one line each, for the tool to print */
} vfio_selection;

/*
 * Resolves selectors against the model. Fails with -ENOENT (nothing matches), -ENOTUNIQ (a pattern or
 * IDs match devices in more than one slot without "#N"), -ESTALE (a recorded identity no longer matches
 * what is at its place): ret->problems then says which and what is there now, and ret is still set so
 * the caller can print them. names may be NULL (name selectors then fail with -ENOENT).
 */
int vfio_selection_resolve(const vfio_host *h, const vfio_model *m, vfio_pci_names *names,
                           char *const *selectors, unsigned flags, vfio_selection **ret);
vfio_selection *vfio_selection_free(vfio_selection *s);
VFIO_DEFINE_POINTER_CLEANUP(vfio_selection, vfio_selection_free)
bool vfio_selection_contains(const vfio_selection *s, const char *name);
/* Appends a device (e.g. a group peer taken with --with-group); no-op when already there. */
int vfio_selection_add(vfio_selection *s, const vfio_host *h, const vfio_model *m, const char *name,
                       const char *reason);

/* Name of a device as lspci prints it ("Intel Corporation 82574L Gigabit Network Connection"). */
char *vfio_selector_device_name(vfio_pci_names *names, const vfio_pci_dev *d);

/*
 * Resolves one selector into the sysfs names it matches ("0000:01:00.0"), in address order, without the
 * slot companions and without refusing ambiguity (VM configs list each function they pass). Bridges never
 * match IDs or names. names may be NULL (name patterns then match nothing). -ENXIO when nothing matches.
 */
int vfio_selector_resolve(const vfio_selector *s, const vfio_model *m, vfio_pci_names *names, char ***ret);
