/* Starting QEMU: the launcher's own options, privilege drop and exec. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vfioctl/qmp.h"
#include "vfioctl/vmconf.h"

/*
 * QEMU's seccomp filter (qemu-options.hx, -sandbox): no obsolete syscalls, no setuid, no fork/exec (which
 * is why vfioctl supervises instead of -daemonize), no sched_setaffinity/setpriority (vfioctl pins).
 */
#define VM_LAUNCH_SANDBOX "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"
/*
 * For configs whose QEMU must exec a helper: qemu-bridge-helper (-netdev bridge) or smbd (-netdev
 * user,smb=). "children" keeps set*id denied in QEMU itself while the (setuid) helper may run
 * (qemu-options.hx).
 */
#define VM_LAUNCH_SANDBOX_SPAWN \
        "on,obsolete=deny,elevateprivileges=children,spawn=allow,resourcecontrol=deny"
/* True when the config needs QEMU to spawn a helper (bridge networking, SMB shares). */
bool vm_launch_needs_spawn(const vm_config *c);

/* Files QEMU itself creates, in the directory QEMU may write (QEMU_DIR). */
char *vm_launch_ctl_socket(const char *qemu_dir);     /* second QMP monitor, for the verbs */
char *vm_launch_console_socket(const char *qemu_dir); /* the serial console (vfioctl console) */
char *vm_launch_console_log(const char *qemu_dir);    /* everything the serial console printed */

/*
 * Inserts the launcher's options into argv from vm_qemu_argv (before the n_extra [vm] extra_args): -S
 * (start paused until pinned), -sandbox, a second QMP monitor on ctl.sock, the serial console on
 * console.sock with a log. allow_spawn: VM_LAUNCH_SANDBOX_SPAWN instead of VM_LAUNCH_SANDBOX.
 */
int vm_launch_argv(char ***argv, size_t n_extra, const char *qemu_dir, bool allow_spawn);

/* Drops X access: the VM user must not reach the desktop session (seed 003, "XServer rights"). */
bool vm_launch_env_blocked(const char *entry);

typedef struct vm_spawn {
        char *const *argv;
        char *const *envp;
        bool drop; /* change credentials: root launching for [vm] user */
        uid_t uid;
        gid_t gid;
        const gid_t *groups; /* supplementary groups kept, only those device access needs */
        size_t n_groups;
        uint64_t memlock; /* RLIMIT_MEMLOCK to set first (bytes); 0 leaves it */
        int log_fd;       /* stdout and stderr of QEMU */
        const char *path; /* the program to exec; NULL: argv[0] (looked up like execvp) */
        int pass_fd;      /* > 2: also given to the program as descriptor 3; 0: none */
        const int *fds;   /* also given to the program as descriptors fds_base, fds_base + 1, ... */
        size_t n_fds;
        int fds_base;
        /*
         * Called in the parent once the child exists and before it may exec (it waits at a gate): the
         * caller records the pid (the runtime record), so no program it starts ever runs unrecorded (a
         * kill -9 of the caller before the record leaves a child that sees the gate close and exits
         * without exec). <0: the child is killed and the spawn fails with that error.
         */
        int (*before_exec)(pid_t pid, void *userdata);
        void *userdata;
} vm_spawn;

/*
 * Moves fds[i] to descriptor base + i, inheritable (the rest keep O_CLOEXEC): how QEMU receives the tap
 * devices of macvtap NICs (VM_QEMU_MACVTAP_FD_BASE). Async-signal-safe, for the child before exec.
 */
int vm_launch_place_fds(const int *fds, size_t n, int base);

/*
 * fork + (setrlimit, setgroups, setgid, setuid, in that order, while still root) + setsid + exec. Returns
 * the child pid once exec succeeded; a failure in the child comes back as its -errno (-EPERM from setuid,
 * -ENOENT from exec) with *ret_stage naming the step.
 */
int vm_launch_spawn(const vm_spawn *s, pid_t *ret_pid, const char **ret_stage);
