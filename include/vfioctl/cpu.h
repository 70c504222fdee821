/* CPU facts from proc/cpuinfo and the KVM modules: hardware virtualization and who can use /dev/kvm. */
#pragma once

#include <stdbool.h>

#include "vfioctl/common.h"
#include "vfioctl/host.h"

typedef enum vfio_cpu_vendor {
        VFIO_CPU_VENDOR_UNKNOWN,
        VFIO_CPU_VENDOR_INTEL,
        VFIO_CPU_VENDOR_AMD,
} vfio_cpu_vendor;

typedef struct vfio_cpu {
        vfio_cpu_vendor vendor;
        char *vendor_id;  /* "GenuineIntel", "AuthenticAMD" */
        char *model_name; /* "Intel(R) Xeon(R) CPU E3-1225 v3 @ 3.20GHz" */
        bool vmx, svm;    /* Intel VT-x / AMD-V flags of the first CPU */
        bool hypervisor;  /* the "hypervisor" flag: this host is itself a guest */
        bool gbpages;     /* "pdpe1gb": the MMU maps 1 GiB pages (hugepagesz=1G works) */
        unsigned n_cpus;  /* "processor" entries */
} vfio_cpu;

int vfio_cpu_read(const vfio_host *h, vfio_cpu **ret);
/* Parses proc/cpuinfo text (exported for tests). */
int vfio_cpu_parse(const char *text, vfio_cpu **ret);
vfio_cpu *vfio_cpu_free(vfio_cpu *c);
VFIO_DEFINE_POINTER_CLEANUP(vfio_cpu, vfio_cpu_free)

/* "kvm_intel", "kvm_amd" or NULL for an unknown vendor. */
const char *vfio_cpu_kvm_module(const vfio_cpu *c);
/* "intel_iommu=on", "amd_iommu=on". */
const char *vfio_cpu_iommu_param(const vfio_cpu *c);
