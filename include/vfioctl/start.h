/* Starting a VM: whose QEMU it is, every check before it runs, then QEMU launched, pinned and supervised. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "vfioctl/common.h"
#include "vfioctl/problem.h"
#include "vfioctl/runstate.h"
#include "vfioctl/vmconf.h"
#include "vfioctl/vmuser.h"

/*
 * The steps, in order, each its own call so a caller (the start verb, a guided setup, a service) can show
 * or act on what each one found:
 *
 *   vm_start_new        whose QEMU it is (root drops to [vm] user)
 *   vm_start_lock       the runtime directory, locked: one start at a time
 *   vm_start_preflight  every check before QEMU, as data; host changes they need recorded as release steps
 *   vm_start_abort      (after a failed preflight) those changes undone
 *   vm_start_prepare    the QEMU command line, its environment and directory
 *   vm_start_run        QEMU here, to its end; or vm_start_detach: a supervisor of its own
 *
 * Host changes made for the VM (release.h) are undone, last first, however the VM ends.
 */

typedef struct vm_start_options {
        const char *root;          /* host root (--root): facts and changes below it; NULL: "/" */
        bool paused;               /* leave the vCPUs stopped after pinning (vfioctl resume runs them) */
        const char *relay_program; /* runs `vfioctl input relay`; NULL: this binary (/proc/self/exe) */
        const char *modprobe;      /* loads vfio-pci for [vm] bind_devices on a live host; NULL: never */
        /* Tests: this host step (a release step name, release.h) fails as if the host refused it. */
        const char *fail_step;
        /* What happens while QEMU starts and runs, and what a rollback undid; NULL: the VM log only. */
        vfio_report_fn report;
        void *userdata;
} vm_start_options;

typedef struct vm_start vm_start;

/*
 * A start of c (borrowed: it must outlive the start) by the calling user. Fails as vm_user_for_start
 * does: -EINVAL when the config is wrong for it, -EPERM when the caller may not start it.
 */
int vm_start_new(vm_config *c, const vm_start_options *o, vm_start **ret, char **ret_error);
/* Host changes preflight made that neither a run nor a supervisor took over are undone first. */
vm_start *vm_start_free(vm_start *x);
VFIO_DEFINE_POINTER_CLEANUP(vm_start, vm_start_free)

/* The user QEMU runs as. */
const vm_user *vm_start_user(const vm_start *x);

/* Opens (makes) and locks the runtime directory. -EBUSY: another vfioctl holds it, or its QEMU runs. */
int vm_start_lock(vm_start *x, char **ret_error);

/*
 * Every check before QEMU: devices and their groups, device nodes the VM user must open, USB, the input
 * relay, paths root reads, disks, RLIMIT_MEMLOCK, hugepages, other running VMs, the OVMF variable store
 * and the TPM. Host changes they need ([vm] bind_devices, hugepages root reserves, the variable store,
 * the TPM state directory) are made and recorded as release steps. Findings go to problems: warnings,
 * and errors (QEMU must not start then: call vm_start_abort). <0 with *ret_error when the host could not
 * be checked at all (its root or PCI devices unreadable).
 */
int vm_start_preflight(vm_start *x, vfio_problems *problems, char **ret_error);

/* Undoes the host changes preflight made, last first, telling o->report what it did. */
void vm_start_abort(vm_start *x);

/*
 * The QEMU command line (vm_qemu_argv with the launcher's options), its environment, QEMU's directory.
 * What is worth knowing about the command line goes to problems as notes.
 */
int vm_start_prepare(vm_start *x, vfio_problems *problems, char **ret_error);

/*
 * Runs the VM in this process until QEMU ends: swtpm and the input relay first, QEMU paused (-S) as the
 * VM user, pinned over QMP, `cont`, then its events; SIGINT/SIGTERM/SIGHUP power the guest down, a second
 * one quits QEMU. The release steps run however it ends. <0 when QEMU never ran (said through report);
 * otherwise 0 with how it ended (stopped or crashed) and why.
 */
int vm_start_run(vm_start *x, vm_state *ret_final, char **ret_reason);

/*
 * vm_start_run in a supervisor process of its own (own session, no terminal; it keeps the lock) and
 * returns once QEMU runs (its pid) or failed to (*ret_error says why).
 */
int vm_start_detach(vm_start *x, pid_t *ret_pid, char **ret_error);
