/* IOMMU units and groups as the kernel exposes them (sys/class/iommu, sys/kernel/iommu_groups). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "vfioctl/common.h"
#include "vfioctl/host.h"

typedef struct vfio_iommu_group {
        int id;
        char *type;     /* "DMA", "DMA-FQ", "identity", "blocked"; NULL when absent */
        char **members; /* device names (PCI addresses), sorted */
} vfio_iommu_group;

typedef struct vfio_iommu {
        char **units;             /* entries of sys/class/iommu: "dmar0", "ivhd0" */
        vfio_iommu_group *groups; /* sorted by id */
        size_t n_groups;
        char **problems;
} vfio_iommu;

int vfio_iommu_scan(const vfio_host *h, vfio_iommu **ret);
vfio_iommu *vfio_iommu_free(vfio_iommu *i);
VFIO_DEFINE_POINTER_CLEANUP(vfio_iommu, vfio_iommu_free)

/* Groups exist only when the kernel runs with a working IOMMU (or vfio's no-IOMMU mode). */
bool vfio_iommu_enabled(const vfio_iommu *i);
const vfio_iommu_group *vfio_iommu_find_group(const vfio_iommu *i, int id);
