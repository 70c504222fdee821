/* Power control of a running VM over its control monitor: stop (ACPI, quit, kill), reset, pause, resume, raw
 * QMP. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "vfioctl/problem.h"
#include "vfioctl/runstate.h"
#include "vfioctl/vmrun.h"

typedef struct vm_stop_options {
        uint64_t timeout_s; /* how long the guest may take to power off before QEMU is told to quit */
        bool force;         /* SIGKILL QEMU at once */
        /* What happens on the way (the power button unheard, QEMU told to quit); NULL: nothing said. */
        vfio_report_fn report;
        void *userdata;
} vm_stop_options;

/*
 * Stops the VM recorded in s (running: vm_run_alive). Gracefully: the ACPI power button (QMP
 * system_powerdown) pressed again every 10 s, a press before the guest listens being lost (ACPI 6.4,
 * 4.8.2.2.1.1 "Power Button"); after the timeout QMP quit, then SIGKILL. The supervisor records the end
 * and releases; when none watches (it was killed), this does, with the guest's SHUTDOWN reason.
 * -EPERM: QEMU may not be killed by this user; -ETIMEDOUT: it still runs; each with *ret_error.
 */
int vm_control_stop(vm_run *r, vm_runstate *s, const vm_stop_options *o, char **ret_error);

/*
 * One command on the control monitor for a running VM ("system_reset", "stop", "cont"); for stop and cont
 * the record follows (the supervisor does it from the STOP/RESUME events, this when none watches).
 * *ret_error says what failed: the monitor unreachable, or "QMP stop failed: REASON".
 */
int vm_control_command(vm_run *r, vm_runstate *s, const char *command, char **ret_error);

/*
 * A raw QMP command (power users): arguments borrowed, may be NULL; QEMU's "return" in *ret_reply.
 * Logged in the VM log. -EREMOTEIO when QEMU refused it ("CLASS: desc" in *ret_error).
 */
int vm_control_qmp(vm_run *r, const char *command, json_object *arguments, json_object **ret_reply,
                   char **ret_error);
