/* VM config meets host: device selectors resolved, and defaults for `vfioctl create` from host facts. */
#pragma once

#include "vfioctl/host.h"
#include "vfioctl/model.h"
#include "vfioctl/pciids.h"
#include "vfioctl/vmconf.h"

/*
 * Resolves every [gpu]/[pci] selector into host addresses (vm_pci.resolved). m may be NULL (no host):
 * literal addresses are then used as written. A literal address the host lacks is used as written with
 * a warning; any other selector that resolves to nothing is an error naming it. Messages are
 * "FILE:LINE: ..." strings; returns -EINVAL when there are errors. With a host model, quirks that keep
 * guest RAM out of the PCI hole (NF200-class bridges above a passed device: max-ram-below-4g=1G) are
 * applied to c->vm, overriding a larger value, with a warning each.
 */
int vm_config_resolve(vm_config *c, const vfio_model *m, vfio_pci_names *names, char ***warnings,
                      char ***errors);
/*
 * Resolves the selectors against another host's devices (m: that host's PCI devices, e.g. from libvirt's
 * node devices), strictly: a literal address that host lacks is an error too. where names the host in
 * messages ("qemu+ssh://server/system"). No quirks: they are facts of this host, not of that one.
 */
int vm_config_resolve_on(vm_config *c, const vfio_model *m, vfio_pci_names *names, const char *where,
                         char ***errors);

typedef struct vm_host_cpu {
        unsigned cpu, core, package;
        int l3; /* first CPU of its L3 domain, -1 unknown */
} vm_host_cpu;

/* Reads sys/devices/system/cpu/cpuN/topology and cache/index3 for every online CPU. */
int vm_host_cpus(const vfio_host *h, vm_host_cpu **ret, size_t *ret_n);

/*
 * Plans vCPU pinning: the host keeps the core of CPU 0; vCPUs take whole cores (SMT siblings next to
 * each other, matching threads=2) from the largest L3 domain first. Sets ret_threads to 2 when the host
 * has SMT and the count is even. -E2BIG when the host has too few CPUs.
 */
int vm_plan_pinning(const vm_host_cpu *cpus, size_t n, unsigned vcpus, char ***ret_pin, char ***ret_emulator,
                    unsigned *ret_threads);

/* Free hugepages reserved of a size (kB 2048 or 1048576), from sys/kernel/mm/hugepages. */
int vm_host_hugepages_free(const vfio_host *h, unsigned size_kb, uint64_t *ret);

/* The GPU `create --gpu auto` picks: a display device that is not the boot VGA and can be passed. */
const vfio_model_device *vm_pick_gpu(const vfio_model *m);
