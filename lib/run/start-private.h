/* What a start carries from one step to the next (start.h); shared by start.c, preflight.c, supervise.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "vfioctl/host.h"
#include "vfioctl/model.h"
#include "vfioctl/pciids.h"
#include "vfioctl/prealloc.h"
#include "vfioctl/runstate.h"
#include "vfioctl/start.h"
#include "vfioctl/vmpaths.h"
#include "vfioctl/vmrun.h"
#include "vfioctl/vmuser.h"

struct vm_start {
        vm_config *c;
        vm_start_options o;
        vm_user *user;
        bool drop; /* root starting for [vm] user: credentials change */
        vm_run *run;
        int lock_fd;
        int plan_fd;     /* BASE/.plan-lock (vm_run_plan_lock): this start's turn; -EBADF */
        int state_fd;    /* the VM's state directory (statedir.h), once preflight made it; -EBADF before */
        vm_runstate *st; /* the record: written once QEMU runs, its release steps as they are done */
        bool pending;    /* preflight changed the host and nothing has taken that over yet */

        /* preflight */
        vfio_host *host; /* the host root, opened when a check needs it */
        vfio_model *model;
        vfio_pci_names *names;
        char **devices; /* host PCI addresses passed through */
        bool relay;     /* the input relay runs beside QEMU */
        uint64_t memlock;
        char **pin, **emulator_pin;
        char **busy_names;  /* the running VMs found by the conflict check ... */
        char ***busy_cpus;  /* ... and the host CPUs their vCPUs run on: a plan at start keeps clear of them
                             */
        char *isolated_by;  /* "the running VM 'x' (pid N)" isolating the host: [cpu] isolate refused */
        vm_paths_buf paths; /* QEMU's directory, the state directory */
        char **swtpm_argv;  /* the TPM emulator to start first; NULL: none */
        char *swtpm_socket;
        int mem_fd; /* guest RAM vfioctl filled (prealloc.h), QEMU's descriptor 3; -EBADF: QEMU allocates */
        vm_prealloc_report prealloc;

        int *net_fds; /* macvtap NICs' tap devices, QEMU's at VM_QEMU_MACVTAP_FD_BASE (lib/run/macvtap.c) */
        size_t n_net_fds;

        /* prepare */
        char *ddc; /* "bus=N" or "display=N" */
        char **argv, **envp;

        /* run */
        int notify_fd; /* a detached supervisor tells the waiting parent the outcome */
        bool detached;
};
