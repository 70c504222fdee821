/* VM config meets host: device selectors resolved, and defaults for `vfioctl create` from host facts. */
#pragma once

#include <stdbool.h>

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
        int l3;          /* first CPU of its L3 domain, -1 unknown */
        int node;        /* NUMA node (sys/devices/system/node/nodeN/cpulist), -1 unknown */
        int sibling;     /* first CPU of topology/thread_siblings_list: its core; -1 unknown */
        unsigned speed;  /* cpufreq/cpuinfo_max_freq in kHz, else cpu_capacity; 0 unknown */
        bool efficiency; /* a hybrid part's efficiency core (listed in sys/devices/cpu_atom/cpus) */
} vm_host_cpu;

/*
 * Reads sys/devices/system/cpu/cpuN/topology, cache/index3 and cpufreq for every online CPU, the NUMA node
 * of each from sys/devices/system/node, and the E-cores of a hybrid Intel part from sys/devices/cpu_atom.
 */
int vm_host_cpus(const vfio_host *h, vm_host_cpu **ret, size_t *ret_n);

/* What another VM holds: its [cpu] pin (or, at start, the CPUs it runs on). */
typedef struct vm_pin_holder {
        const char *name;
        char *const *pin;
        bool autostart; /* started at boot (or running now): it really holds these CPUs */
} vm_pin_holder;

typedef struct vm_pin_request {
        unsigned vcpus;
        int gpu_node;    /* NUMA node of the VM's GPU (sysfs numa_node), -1 none or unknown */
        const char *gpu; /* its address, for the explanation; NULL without a GPU */
        const vm_pin_holder *holders;
        size_t n_holders;
} vm_pin_request;

typedef struct vm_pin_plan {
        char **pin;         /* host CPU per vCPU */
        char **emulator;    /* host CPUs of QEMU's other threads: the core the host keeps */
        unsigned threads;   /* 2 only when every vCPU pair runs on the two threads of one core */
        int memory_node;    /* bind guest memory here (more than one node, all vCPUs on it); -1 none */
        char **why;         /* one sentence per choice, for create's comment and status */
        char **shared_with; /* VMs whose CPUs this plan had to share (no free core was left) */
} vm_pin_plan;

vm_pin_plan *vm_pin_plan_free(vm_pin_plan *p);
VFIO_DEFINE_POINTER_CLEANUP(vm_pin_plan, vm_pin_plan_free)

/*
 * Plans vCPU pinning. The host keeps one core (the core of CPU 0; on a hybrid part its first E-core) for
 * itself and QEMU's other threads. vCPUs take whole cores (SMT siblings next to each other), preferring in
 * order: cores no other VM holds (autostarted holders weigh more), cores on the GPU's NUMA node, fast cores
 * over E-cores; among those one L3 domain that fits them all (the smallest that does, away from the host's
 * core), else whole L3 domains largest first. -E2BIG when the host has too few cores.
 */
int vm_plan_pinning(const vm_host_cpu *cpus, size_t n, const vm_pin_request *req, vm_pin_plan **ret);

/*
 * Explains a pin list against the host topology (node, SMT pairing, L3 domains), one sentence per fact:
 * what `status` says of a running VM, pinned by a plan or by hand. gpu_node as in vm_pin_request; threads
 * is the guest's (0: unknown, judged from the pins).
 */
int vm_explain_pinning(const vm_host_cpu *cpus, size_t n, char *const *pin, unsigned threads, int gpu_node,
                       const char *gpu, char ***ret);

/* The same for a running VM on host h: its GPU is the first display device of devices (PCI addresses). */
int vm_explain_host_pinning(const vfio_host *h, char *const *pin, char *const *devices, char ***ret);

/* The other VMs defined for this user and system, as holders of CPUs for a new plan. */
typedef struct vm_others {
        vm_config **configs;
        vm_pin_holder *holders; /* point into configs */
        size_t n;
} vm_others;

vm_others *vm_others_free(vm_others *o);
VFIO_DEFINE_POINTER_CLEANUP(vm_others, vm_others_free)
/*
 * Loads every VM config in the user's directory and ROOT/etc/vfioctl/vms (the user's wins, as for start)
 * except the one named except, with whether it starts at boot (the vfioctl@NAME.service wants link below
 * h). A config that does not parse is skipped: it holds nothing a start could use.
 */
int vm_others_load(const vfio_host *h, const char *except, vm_others **ret);

/* Free hugepages reserved of a size (kB 2048 or 1048576), from sys/kernel/mm/hugepages. */
int vm_host_hugepages_free(const vfio_host *h, unsigned size_kb, uint64_t *ret);

/* The GPU `create --gpu auto` picks: a display device that is not the boot VGA and can be passed. */
const vfio_model_device *vm_pick_gpu(const vfio_model *m);
