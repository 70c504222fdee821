/* A running VM's state directory: the status file (atomic key=value), the start lock, process liveness. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vfioctl/common.h"

/* The status file is small and written by vfioctl only; anything larger is not ours. */
#define VM_RUNSTATE_MAX_SIZE (64 * 1024)

/* Life of a VM as `vfioctl status` reports it (stable strings, documented in docs/lifecycle.md). */
typedef enum vm_state {
        VM_STATE_STOPPED,
        VM_STATE_STARTING, /* QEMU runs paused (-S) while vfioctl pins its threads */
        VM_STATE_RUNNING,
        VM_STATE_PAUSED,
        VM_STATE_CRASHED, /* QEMU ended without a SHUTDOWN event, or vanished */
        _VM_STATE_MAX,
} vm_state;

typedef struct vm_runstate {
        vm_state state;
        pid_t pid;              /* QEMU; 0 when none */
        uint64_t pid_starttime; /* /proc/PID/stat field 22, against PID reuse */
        pid_t supervisor;       /* the vfioctl process waiting for QEMU */
        pid_t swtpm;            /* the TPM emulator vfioctl started for it; 0: none */
        uint64_t swtpm_starttime;
        pid_t relay; /* the input relay (vfioctl input relay) beside QEMU; 0: none */
        uint64_t relay_starttime;
        unsigned uid;                /* QEMU's uid */
        char *user;                  /* its name */
        uint64_t started, stopped;   /* unix seconds; 0 when not */
        char *exit_reason;           /* "guest-shutdown", "killed by signal 9 (KILL)" */
        uint64_t memory;             /* guest RAM, bytes */
        uint64_t hugepages_reserved; /* pages vfioctl added to nr_hugepages, released on exit */
        unsigned hugepage_kb;
        char **devices;       /* host PCI addresses passed through */
        char **cpus;          /* host CPUs pinned by the config ([cpu] pin), held exclusively */
        char **evdevs;        /* evdev paths grabbed */
        char **vcpu_threads;  /* thread ids, vCPU order */
        char **vcpu_pins;     /* host CPU of each vCPU as applied, vCPU order */
        char **planned;       /* host CPUs planned at start: held until vcpu_pins says where they run */
        char **emulator_pins; /* host CPUs of the other threads */
        char *qemu_dir;       /* directory QEMU writes (sockets, console log) */
        char **rebind;        /* devices to give back to host drivers on exit ("ADDR=driver") */
        char *ddc;            /* "bus=N host=0xNN" when monitor switching is set up */
        char **steps;         /* release steps done for it, in order (release.h); NULL in older records */
        /* single-GPU handoff (lib/run/handoff.c), each given back by its release step */
        char *display_manager; /* the systemd unit stopped ("gdm.service") */
        char **consoles;       /* virtual consoles unbound from the framebuffer ("vtcon1") */
        char **framebuffers;   /* firmware framebuffers unbound ("efi-framebuffer.0=efi-framebuffer") */
        char **handoff;        /* the card's functions moved to vfio-pci ("ADDR=driver") */
        char **vfio_nodes;     /* group nodes lent to the VM user ("GROUP=UID:GID:MODE", octal mode) */
        /* host isolation (lib/run/isolate.c) */
        char *vm_cgroup;     /* the cgroup QEMU was moved to, below the cgroup2 root ("vfioctl.vms/win") */
        char **cpu_units;    /* systemd units confined ("system.slice=OLD", OLD a CPU list or empty) */
        char **cpusets;      /* cgroups confined without systemd ("CGROUP=OLD") */
        char *host_cgroup;   /* the cgroup made for the root cgroup's tasks ("vfioctl.host") */
        bool cpuset_enabled; /* the cpuset controller was switched on in the root's subtree_control */
        bool isolate;        /* [cpu] isolate, from the start on: a second isolated VM is refused */
        char **irqs;         /* IRQs steered ("N=OLD", OLD a CPU list) */
        char *irq_default;   /* /proc/irq/default_smp_affinity before (a hex mask) */
        char **governors;    /* cpufreq governors changed ("CPU=OLD") */
        /* Not stored: set by vm_run_load when QEMU runs and no vfioctl supervises it (its supervisor was
         * killed): status says so, stop ends it, start refuses to start a second one. */
        bool orphan;
} vm_runstate;

vm_runstate *vm_runstate_free(vm_runstate *s);
VFIO_DEFINE_POINTER_CLEANUP(vm_runstate, vm_runstate_free)

const char *vm_state_to_string(vm_state s);
int vm_state_from_string(const char *s, vm_state *ret);

/* DIR/status, written to a temporary file and renamed (mode 0600). */
int vm_runstate_write(int dirfd, const vm_runstate *s);
/* -ENOENT when there is none (never started here); -EBADMSG when it is not ours. */
int vm_runstate_read(int dirfd, vm_runstate **ret);

/*
 * Takes the VM's lock (flock on DIR/lock, O_CLOEXEC): held by the process that starts and then supervises
 * the VM. -EBUSY when another process holds it.
 */
int vm_runstate_lock(int dirfd, int *ret_fd);
/* 1 when some process holds the lock (a supervisor is alive), 0 when not. */
int vm_runstate_lock_held(int dirfd);

/* Field 22 of proc/PID/stat (start time in clock ticks since boot), read below proc_dirfd. */
int vm_proc_starttime(int proc_dirfd, pid_t pid, uint64_t *ret);
/* True when pid runs and is the process recorded (same start time). */
bool vm_runstate_pid_alive(int proc_dirfd, pid_t pid, uint64_t starttime);
