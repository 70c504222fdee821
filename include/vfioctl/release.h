/* The release steps: host changes made for a VM before or beside QEMU, undone in reverse when it ends. */
#pragma once

#include <stdbool.h>

#include "vfioctl/problem.h"
#include "vfioctl/runstate.h"
#include "vfioctl/vmrun.h"

/*
 * Every change vfioctl makes to the host for a VM is a step with a name. Once done it is recorded in the
 * runtime record (runstate steps=, in the order done; its data in the record's own keys) and undone, last
 * done first, by whoever sees the VM end: its supervisor, `vfioctl stop` when the supervisor is gone, or a
 * start that fails before QEMU runs. A new kind (single-GPU handoff, host isolation) adds its name and
 * undo function to the table in release.c, keeps its data in vm_runstate, and calls vm_release_record()
 * right after the change is made.
 */
#define VM_RELEASE_REBIND    "rebind"    /* devices start bound to vfio-pci (rebind=ADDR=driver ...) */
#define VM_RELEASE_HUGEPAGES "hugepages" /* hugepages_reserved= pages of hugepage_kb= added to the pool */
#define VM_RELEASE_DDC       "ddc"       /* the monitor input goes back to the host (ddc=) */
#define VM_RELEASE_SWTPM     "swtpm"     /* the TPM emulator (swtpm=, swtpm_starttime=) */
#define VM_RELEASE_RELAY     "relay"     /* the input relay (relay=, relay_starttime=) */
/* Single-GPU handoff (lib/run/handoff.c), done in this order before QEMU, given back in reverse. */
#define VM_RELEASE_DISPLAY_MANAGER "display-manager" /* the display manager stopped (display_manager=) */
#define VM_RELEASE_CONSOLES        "consoles"        /* virtual consoles unbound from fbcon (consoles=) */
#define VM_RELEASE_FRAMEBUFFER     "framebuffer"     /* efifb/simpledrm/vesafb unbound (framebuffers=) */
#define VM_RELEASE_HANDOFF         "handoff"         /* the card's functions on vfio-pci (handoff=) */
#define VM_RELEASE_VFIO_NODE       "vfio-node"       /* /dev/vfio/N lent to the VM user (vfio_nodes=) */
/* Host isolation (lib/run/isolate.c), done once QEMU runs paused, before its threads are pinned. */
#define VM_RELEASE_VM_CGROUP "vm-cgroup"    /* QEMU in a cgroup of its own (vm_cgroup=) */
#define VM_RELEASE_CPUS      "isolate-cpus" /* host tasks confined (cpu_units=, cpusets=, host_cgroup=) */
#define VM_RELEASE_IRQS      "irq-affinity" /* IRQs steered to the host's CPUs (irqs=, irq_default=) */
#define VM_RELEASE_GOVERNOR  "governor"     /* the vCPUs' host CPUs on performance (governors=) */

/* Records that the step was done (once). -EINVAL for a name release.c does not know. */
int vm_release_record(vm_runstate *s, const char *step);

typedef struct vm_release_ctx {
        const vm_run *run;  /* the VM's runtime directory: the host root, the log, /proc */
        vm_runstate *state; /* the steps done and their data; each step undone is cleared from it */
        bool rollback;      /* a start that failed before QEMU ran: said through report, not the VM log */
        vfio_report_fn report;
        void *userdata;
} vm_release_ctx;

/*
 * Undoes every recorded step, last done first (a record written before steps= existed: in the order start
 * does them). A step that fails is reported and the others still run.
 */
void vm_release_undo(const vm_release_ctx *ctx);

/* Gives a device start bound ("ADDR=driver") back to the driver recorded when it was bound. */
int vm_release_give_back(const char *root, const char *addr_driver, char **ret_error);
