/* Host changes made for a VM beyond its own devices: the single-GPU handoff and host isolation. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "start-private.h"
#include "vfioctl/release.h"

/* What a release step says (release.c): the VM log after a run, the caller when a start is rolled back. */
void vm_release_say(const vm_release_ctx *ctx, vfio_problem_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/* Persists the record after a host change, so a vfioctl killed right after it still finds it. */
void vm_start_save_record(vm_start *x);
/* Other VMs' starts may look at this one's record now: it says what this VM holds (vm_run_plan_lock). */
void vm_start_end_plan_turn(vm_start *x);

/* --- handoff.c ------------------------------------------------------------------------------------ */

/* The [gpu] section with handoff = yes, or NULL. */
const vm_pci *vm_handoff_gpu(const vm_config *c);
/* Whether addr is one of the handed-off card's functions (preflight checks them once they moved). */
bool vm_handoff_owns(const vm_start *x, const char *addr);
/* Refusals before anything changes: root, the card the host displays on, the group. */
void vm_handoff_check(vm_start *x, vfio_problems *problems);
/*
 * The host lets go of the card, step by step, each recorded for the way back: display manager, virtual
 * consoles, firmware framebuffer, the card's driver (all functions to vfio-pci), its group node to the VM
 * user. A failing step adds an error saying what the user sees and how to get the console back; the
 * caller then undoes what was done (vm_start_abort).
 */
int vm_handoff_apply(vm_start *x, vfio_problems *problems);

void vm_handoff_undo_display_manager(const vm_release_ctx *ctx);
void vm_handoff_undo_consoles(const vm_release_ctx *ctx);
void vm_handoff_undo_framebuffer(const vm_release_ctx *ctx);
void vm_handoff_undo_card(const vm_release_ctx *ctx);
void vm_handoff_undo_vfio_node(const vm_release_ctx *ctx);

/* --- isolate.c ------------------------------------------------------------------------------------ */

/*
 * [cpu] isolate: QEMU (paused, pid) into a cgroup of its own, the host's tasks confined to the CPUs left
 * to the host, the passed devices' IRQs steered to them, the vCPUs' CPUs on the performance governor.
 * Each change is recorded as it is made; <0 with *ret_error when one failed (the caller releases).
 */
int vm_isolate_apply(vm_start *x, pid_t qemu, char **ret_error);
/* Refusals before anything changes: root, vCPUs pinned, a CPU left to the host, a way to confine. */
void vm_isolate_check(vm_start *x, vfio_problems *problems);

void vm_isolate_undo_vm_cgroup(const vm_release_ctx *ctx);
void vm_isolate_undo_cpus(const vm_release_ctx *ctx);
void vm_isolate_undo_irqs(const vm_release_ctx *ctx);
void vm_isolate_undo_governor(const vm_release_ctx *ctx);

/* --- both ----------------------------------------------------------------------------------------- */

/* Runs systemctl (VFIOCTL_SYSTEMCTL in tests) with args; its exit status, or <0 when it could not run. */
int vm_systemctl(char *const *args, char **ret_out, char **ret_error);
/* The same for busctl (VFIOCTL_BUSCTL). */
int vm_busctl(char *const *args, char **ret_error);
/* systemd is PID 1 below the root (sd_booted(3): the directory run/systemd/system exists). */
bool vm_host_systemd(const vfio_host *h);
/* Polls cond every 20 ms until it holds or timeout_ms passed: waits are for conditions, and bounded. */
bool vm_wait_for(bool (*cond)(const void *arg), const void *arg, unsigned timeout_ms);
