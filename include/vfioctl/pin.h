/* Pinning QEMU's threads to host CPUs: found over QMP and /proc, set and read back with sched_*affinity. */
#pragma once

#include <sys/types.h>

#include "vfioctl/qmp.h"
#include "vfioctl/runstate.h"

/* sched_setaffinity of one thread to the host CPUs listed ("0", "3"). */
int vm_pin_thread(pid_t tid, char *const *cpus);
/* sched_getaffinity as a sorted CPU list "1,3". */
int vm_pin_get(pid_t tid, char **ret);
/* QMP query-cpus-fast: vCPU thread ids in cpu-index order (QEMU qapi/machine.json, CpuInfoFast.thread-id).
 */
int vm_qmp_vcpu_threads(qmp_client *q, int timeout_ms, char ***ret);
/* QMP query-iothreads: thread ids of iothread objects (qapi/misc.json, IOThreadInfo.thread-id). */
int vm_qmp_iothreads(qmp_client *q, int timeout_ms, char ***ret);
/* Thread ids of a process (proc/PID/task below proc_dirfd). */
int vm_proc_threads(int proc_dirfd, pid_t pid, char ***ret);

/*
 * Pins a QEMU that still waits paused (-S), so no vCPU ever runs elsewhere: vCPU i (query-cpus-fast, in
 * cpu-index order) to pin[i], every other thread (main loop, RCU, workers, iothreads) to emulator_pin.
 * Either may be NULL: not pinned. Records in s the vCPU threads, their CPUs as the kernel now has them
 * (what status shows, not the plan) and the emulator CPUs. -EINVAL when pin has fewer CPUs than QEMU has
 * vCPUs.
 */
int vm_pin_apply(qmp_client *q, int proc_dirfd, pid_t pid, char *const *pin, char *const *emulator_pin,
                 vm_runstate *s);
