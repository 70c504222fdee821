/* What host isolation while a VM runs ([cpu] isolate) can use on this host. */
#pragma once

#include <stdbool.h>

#include "vfioctl/common.h"
#include "vfioctl/host.h"

typedef struct vm_isolate_caps {
        bool systemd;     /* PID 1 is systemd: AllowedCPUs on init.scope, system.slice, user.slice */
        bool cgroup2;     /* a cgroup v2 hierarchy at sys/fs/cgroup */
        bool cpuset;      /* its cpuset controller is available */
        bool irq;         /* proc/irq: device interrupts can be steered */
        bool cpufreq;     /* cpufreq governors exist (not in most VMs) */
        bool performance; /* and "performance" is one of them */
} vm_isolate_caps;

int vm_isolate_support(const vfio_host *h, vm_isolate_caps *ret);
