/* A VM's runtime directory (status, lock, log; qemu/ for QEMU's sockets) and reading its state back. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "vfioctl/common.h"
#include "vfioctl/qmp.h"
#include "vfioctl/runstate.h"
#include "vfioctl/vmconf.h"

typedef struct vm_run {
        char *name;
        char *root;     /* the host root (--root) the VM's host changes were made below; NULL: "/" */
        char *dir;      /* runtime directory: status, lock, log */
        char *qemu_dir; /* DIR/qemu: what QEMU itself writes (sockets, console log) */
        int dirfd;
        int proc_fd; /* the live /proc: processes are always real, even under --root */
} vm_run;

/* $XDG_RUNTIME_DIR/vfioctl, /run/vfioctl as root, ROOT/run/vfioctl under a host root (--root). */
int vm_run_base(const char *root, char **ret);
/*
 * Opens (create: makes, mode 0700) the VM's runtime directory below vm_run_base(root). On failure
 * *ret_error says why: -EINVAL not a VM name, -ENOENT never started here, other -errno.
 */
int vm_run_open(const char *root, const char *name, bool create, vm_run **ret, char **ret_error);
/*
 * Starts of different VMs below one runtime base take turns from the look at the other VMs to the record
 * of what this one holds (BASE/.plan-lock, flock; not a VM name): two VMs started at the same instant
 * never plan the same CPUs or take the same device. Waits at most timeout_ms; -ETIMEDOUT then, *ret_error
 * naming the VM whose start holds it. Closing *ret_fd ends the turn.
 */
int vm_run_plan_lock(const char *root, const char *name, unsigned timeout_ms, int *ret_fd, char **ret_error);
/* Opens the existing runtime directory base/name quietly (listing VMs, looking for conflicts). */
int vm_run_open_in(const char *base, const char *name, vm_run **ret);
vm_run *vm_run_free(vm_run *r);
VFIO_DEFINE_POINTER_CLEANUP(vm_run, vm_run_free)

/*
 * Reads the status and reconciles it with the processes: a VM recorded as running whose QEMU is gone and
 * that no supervisor watches is reported crashed. -ENOENT: never started here.
 */
int vm_run_load(vm_run *r, vm_runstate **ret);
bool vm_run_alive(const vm_run *r, const vm_runstate *s);
/* Connects to the control monitor (ctl.sock) and negotiates; *ret_error says why not. */
int vm_run_ctl(const vm_run *r, qmp_client **ret, char **ret_error);
/* Connects to the serial console's socket (DIR/qemu/console.sock); *ret_error says why not. */
int vm_run_console(const vm_run *r, int *ret_fd, char **ret_error);
/* Opens what the VM said for reading: vfioctl's and QEMU's DIR/log, or (console) the serial output. */
int vm_run_open_log(const vm_run *r, bool console, int *ret_fd, char **ret_error);
/* Appends a timestamped line to DIR/log. */
void vm_run_log(const vm_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The end of a VM, once QEMU exited: the release steps undone (release.h, logged to DIR/log), QEMU's
 * sockets removed, then the final state and reason written.
 */
void vm_run_release(vm_run *r, vm_runstate *s, vm_state final, const char *reason);

/*
 * Completes what nobody did: a record whose QEMU is gone, that no vfioctl supervises (the caller holds the
 * lock itself when locked_by_caller), but that still lists host changes (its supervisor and guardian were
 * killed, or a start was killed before QEMU ran) gets its release steps run now, ending with reason
 * unless the record already ended with one. 1 when it released, 0 when there was nothing to do.
 */
int vm_run_finish_release(vm_run *r, bool locked_by_caller, const char *reason);

/* Writes DIR/stop-request ("powerdown" or "force") so the supervisor can tell a stop from a crash. */
int vm_run_stop_request(vm_run *r, const char *how);
