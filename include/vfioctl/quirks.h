/*
 * Hardware quirks as data: one table of known problems, each with what it matches, why (with its source),
 * and what to do — warn, fail the check, or a setting the VM configuration applies by itself.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vfioctl/common.h"
#include "vfioctl/host.h"
#include "vfioctl/model.h"
#include "vfioctl/pciids.h"

typedef enum vfio_quirk_action {
        VFIO_QUIRK_INFO, /* worth knowing; the VM configuration handles it (settings) */
        VFIO_QUIRK_WARN,
        VFIO_QUIRK_FAIL,
} vfio_quirk_action;

/* What the quirk is about. */
typedef enum vfio_quirk_target {
        VFIO_QUIRK_TARGET_PASS,  /* a device to pass (or a display device checked as a candidate) */
        VFIO_QUIRK_TARGET_HOST,  /* any PCI device of the host */
        VFIO_QUIRK_TARGET_BOARD, /* the machine itself: DMI, kernel version, command line */
} vfio_quirk_target;

/* How `other` must relate to the target device. */
typedef enum vfio_quirk_relation {
        VFIO_QUIRK_REL_NONE,
        VFIO_QUIRK_REL_BRIDGE_ABOVE, /* a PCI device in the target's parents chain matches `other` */
        VFIO_QUIRK_REL_HOST_HAS,     /* some other host device matches `other` */
} vfio_quirk_relation;

/* Conditions that are not an ID match; each is one named predicate in quirks.c. */
typedef enum vfio_quirk_cond {
        VFIO_QUIRK_COND_NONE,
        VFIO_QUIRK_COND_RESET_NO_FLR_BUS, /* reset_method lists neither flr nor bus */
        VFIO_QUIRK_COND_GROUP_SHARED,     /* the group holds endpoints that are not passed along */
        VFIO_QUIRK_COND_LINK_DEGRADED,    /* link narrower or slower than the device's maximum */
        VFIO_QUIRK_COND_HOST_CRITICAL,    /* the model's verdict is host-critical */
        VFIO_QUIRK_COND_BOOT_VGA_OTHER,   /* the target is not the boot VGA and `other` is (HOST_HAS) */
        VFIO_QUIRK_COND_IOMMU_ON,         /* the host runs with IOMMU groups */
} vfio_quirk_cond;

typedef struct vfio_quirk_pci {
        int32_t vendor;             /* -1: any */
        const uint16_t *devices;    /* 0-terminated list; NULL: any */
        uint32_t class, class_mask; /* (class & mask) == class; mask 0: any */
        const char *name_contains;  /* in the pci.ids device name ("GeForce"); NULL: any */
} vfio_quirk_pci;

typedef struct vfio_quirk {
        const char *id; /* stable, documented: "nf200-dma-bypass" */
        vfio_quirk_target target;
        vfio_quirk_pci dev;
        vfio_quirk_relation rel;
        vfio_quirk_pci other;
        vfio_quirk_cond cond;
        const char *dmi_board_vendor;       /* exact (case-insensitive); NULL: any */
        const char *const *dmi_board_names; /* substrings, NULL-terminated; NULL: any */
        unsigned kernel_below;              /* VFIO_KERNEL_VERSION; 0: any */
        const char *cmdline_absent;         /* matches only without this command-line argument */
        vfio_quirk_action action;
        const char *title;
        const char *explanation;
        const char *source; /* "seed 000, 'Virtualization With VT-d / IOMMU'" */
        const char *fix;    /* may contain {cmdline} (replaced with the distribution's command line edit) */
        const char *const *settings; /* VM settings, "machine.max-ram-below-4g=1G"; NULL-terminated */
        /* true: vfioctl applies the settings to every VM at each start, whatever its file says (host
         * safety); false: create and guide write them into a new VM's configuration, where they can be
         * changed. */
        bool settings_at_start;
} vfio_quirk;

const vfio_quirk *vfio_quirks_table(size_t *ret_n);

typedef struct vfio_quirk_input {
        const vfio_model *model;
        char *const *to_pass;    /* PCI addresses the VM gets */
        char *const *candidates; /* display devices checked as candidates: matches are informational */
        const char *board_vendor, *board_name; /* DMI */
        unsigned kernel_version;               /* 0 unknown */
        char *const *cmdline;
        vfio_pci_names *names; /* optional: for name_contains */
        bool force;            /* --force: host-critical fails become warnings */
} vfio_quirk_input;

typedef struct vfio_quirk_match {
        const vfio_quirk *quirk;
        vfio_quirk_action action; /* the quirk's, adjusted for candidates and --force */
        bool candidate;           /* matched on a candidate, not on a device to pass */
        char *device;             /* the matched device, NULL for board quirks */
        char *related;            /* the bridge/peer/boot VGA that made it match, or NULL */
        char *evidence; /* what was seen: "0000:02:00.0 [10de:1b80] below 0000:01:00.0 [10de:05b1]" */
} vfio_quirk_match;

typedef struct vfio_quirk_matches {
        vfio_quirk_match *items;
        size_t n;
} vfio_quirk_matches;

int vfio_quirks_evaluate(const vfio_quirk_input *in, vfio_quirk_matches **ret);
vfio_quirk_matches *vfio_quirk_matches_free(vfio_quirk_matches *m);
VFIO_DEFINE_POINTER_CLEANUP(vfio_quirk_matches, vfio_quirk_matches_free)
const char *vfio_quirk_action_to_string(vfio_quirk_action a);
/* How a quirk's settings reach a VM, as check prints it: "vfioctl applies at every start" or "vfioctl
 * create writes into a new VM's configuration"; "start" or "create" for --json. */
const char *vfio_quirk_settings_how(const vfio_quirk *q);
const char *vfio_quirk_settings_when(const vfio_quirk *q);

/*
 * For the VM configuration: the settings the quirks ask for when these devices are passed on this host,
 * deduplicated, in table order ("machine.max-ram-below-4g=1G", "cpu.kvm=off", ...). Reads DMI, kernel
 * version and command line from h.
 */
int vfio_quirks_vm_settings(const vfio_host *h, const vfio_model *m, char *const *devices_to_pass,
                            char ***ret);
