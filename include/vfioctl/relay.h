/* The input relay vfioctl start runs beside QEMU: `vfioctl input relay` for the VM's evdev inputs. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "vfioctl/host.h"
#include "vfioctl/problem.h"
#include "vfioctl/vmconf.h"

/*
 * Preflight: can the relay run here (/dev/uinput present and writable by whoever opens it: root, or the
 * user starting the VM)? Returns true when it will run. Where it cannot, an input with relay = yes is an
 * error and relay = auto a warning that QEMU reads the devices directly, each naming the fix.
 */
bool vm_relay_preflight(const vm_config *c, const vfio_host *h, vfio_problems *problems);

typedef struct vm_relay_spawn {
        const vm_config *c;
        const char *program;  /* runs `vfioctl input relay`; NULL: this binary (/proc/self/exe) */
        const char *root;     /* the host root the relay reads below (--root); NULL: "/" */
        const char *link_dir; /* QEMU's runtime dir: the links VM-INPUT go there */
        bool drop;            /* root starting for [vm] user: the relay becomes uid/gid/groups itself */
        uid_t uid;
        gid_t gid;
        const gid_t *groups;
        size_t n_groups;
        int log_fd; /* the VM log: the relay's messages once it is ready */
        /*
         * As vm_spawn.before_exec: called once the relay's process exists and before it may exec, so the
         * caller records its pid (the runtime record and its release step) and no relay ever runs
         * unrecorded. <0: the process is killed and vm_relay_start fails with that error. NULL: none.
         */
        int (*before_exec)(pid_t pid, void *userdata);
        void *userdata;
} vm_relay_spawn;

/*
 * Starts `vfioctl input relay` (s->program) and waits until it is READY: the
 * sources are grabbed and the virtual devices exist. *ret_report holds its output lines ("kbd
 * /dev/input/event7") on success, what it said on failure.
 */
int vm_relay_start(const vm_relay_spawn *s, pid_t *ret_pid, char **ret_report);

/* SIGTERM, then SIGKILL after 3 s: the relay releases held keys and destroys its devices on SIGTERM. */
void vm_relay_stop(int proc_dirfd, pid_t pid, uint64_t starttime);
