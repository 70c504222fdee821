/* The host model: PCI devices, IOMMU groups and host-critical devices, with a passthrough verdict each. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "vfioctl/common.h"
#include "vfioctl/critical.h"
#include "vfioctl/host.h"
#include "vfioctl/iommu.h"
#include "vfioctl/pci.h"

typedef enum vfio_verdict {
        VFIO_VERDICT_ALONE,         /* the only endpoint of its group: passable by itself */
        VFIO_VERDICT_WITH_PEERS,    /* passable only together with its group peers */
        VFIO_VERDICT_HOST_CRITICAL, /* its group holds a device the host needs */
        VFIO_VERDICT_BRIDGE,        /* a PCI bridge (or a group of bridges only): not a passthrough target */
        VFIO_VERDICT_NO_IOMMU,      /* no IOMMU group: cannot be assigned with VFIO */
} vfio_verdict;

typedef struct vfio_model_device {
        vfio_pci_dev *pci;  /* borrowed from the model's PCI list */
        char **group_peers; /* other non-bridge members of its group */
        vfio_verdict verdict;
        char **critical; /* why this device itself is host-critical ("storage: / (ext4 on vda1)") */
        char **blockers; /* host-critical devices of its group other than itself, as "ADDR: reason" */
} vfio_model_device;

typedef struct vfio_model_group {
        const vfio_iommu_group *group; /* borrowed */
        vfio_verdict verdict;
        size_t n_endpoints;
} vfio_model_group;

typedef struct vfio_model {
        vfio_pci_list *pci;
        vfio_iommu *iommu;
        vfio_critical_list *critical;
        vfio_model_device *devices; /* parallel to pci->devs */
        vfio_model_group *groups;   /* parallel to iommu->groups */
        char **problems;            /* everything that could not be read, for the tool to report */
} vfio_model;

int vfio_model_load(const vfio_host *h, vfio_model **ret);
vfio_model *vfio_model_free(vfio_model *m);
VFIO_DEFINE_POINTER_CLEANUP(vfio_model, vfio_model_free)

const vfio_model_device *vfio_model_find_device(const vfio_model *m, const char *name);
const vfio_model_group *vfio_model_find_group(const vfio_model *m, int id);
/*
 * True when the only reason d is host-critical is that it shows the host's boot display, and nothing
 * critical shares its group: a single-GPU handoff may take it once the host let go of the display.
 */
bool vfio_model_device_only_display(const vfio_model *m, const vfio_model_device *d);
/* Stable identifiers used in --json output and documented in vfioctl(1). */
const char *vfio_verdict_to_string(vfio_verdict v);
