/*
 * vfioctl guide: from a bare host to a running passthrough VM, as steps. Each step is verified on the
 * host (never remembered), planned (the files it writes, the commands it runs) and applied by the same
 * code as check, setup and create, so running the guide again after a kill or a reboot resumes it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vfioctl/check.h"
#include "vfioctl/common.h"
#include "vfioctl/host.h"
#include "vfioctl/hostcmd.h"
#include "vfioctl/problem.h"
#include "vfioctl/qemu-info.h"
#include "vfioctl/setup.h"

typedef enum vfio_guide_step_id {
        VFIO_GUIDE_CHECK,    /* the host; what software cannot fix (the firmware) stops the guide */
        VFIO_GUIDE_DEVICES,  /* the GPU, every function of its card, what its IOMMU group takes along */
        VFIO_GUIDE_PACKAGES, /* QEMU, OVMF (swtpm for Windows) from the distribution */
        VFIO_GUIDE_USER,     /* the VM user, created if missing, in the group of the device nodes */
        VFIO_GUIDE_SETUP,    /* the persistent host files, through setup's manifest (setup --undo) */
        VFIO_GUIDE_BOOT,     /* the host's tools that make them take effect: initramfs, boot loader, udev */
        VFIO_GUIDE_REBOOT,   /* when the command line or the boot-time binding changed; verified after */
        VFIO_GUIDE_CREATE,   /* the VM's configuration and its disk */
        VFIO_GUIDE_VERIFY,   /* check --vm on it */
        VFIO_GUIDE_START,    /* start it as the VM user (then status, and enable offered) */
        _VFIO_GUIDE_STEP_MAX,
} vfio_guide_step_id;

typedef enum vfio_guide_state {
        VFIO_GUIDE_DONE,          /* verified on the host */
        VFIO_GUIDE_TODO,          /* planned: files and commands say what applying it does */
        VFIO_GUIDE_REBOOT_NEEDED, /* the reboot step: why[] says which change needs it */
        VFIO_GUIDE_BLOCKED,       /* cannot go on; why[] says what is wrong and what to do */
        VFIO_GUIDE_LATER,         /* waits for an earlier step; what it will do is planned already */
} vfio_guide_state;

typedef struct vfio_guide_step {
        vfio_guide_step_id id;
        vfio_guide_state state;
        char **evidence;    /* what was seen on the host, one line each */
        char **why;         /* blocked or reboot: each reason with what to do about it */
        vfio_hostcmds cmds; /* what applying the step runs, in order */
        bool firmware;      /* blocked by a firmware setting (nothing on the host can fix it) */
} vfio_guide_step;

typedef struct vfio_guide_opts {
        const char *name;         /* the VM */
        const char *gpu;          /* a selector or "auto"; NULL: auto */
        const char *user;         /* the VM user; NULL: "vm-" and the VM's name */
        const char *memory;       /* guest RAM ("16G"); NULL: create's default */
        const char *cpus;         /* NULL: create's default */
        const char *disk;         /* a size for STATE/system.qcow2 or an absolute path; NULL: none */
        const char *iso;          /* an installation image (absolute path); NULL: none */
        bool windows;             /* create --windows */
        const char *desktop_user; /* [vm] desktop_user, picked as create picks it; NULL: none */
        const char *vfioctl_path; /* this program, for the boot-time unit's ExecStart= (absolute) */
        vfio_qemu_probe_fn probe; /* check's QEMU probe (live root only); NULL: not probed */
        const char *qemu_img;     /* the create step's qemu-img, by absolute path (the tool's choice) */
} vfio_guide_opts;

typedef struct vfio_guide_plan {
        vfio_guide_step steps[_VFIO_GUIDE_STEP_MAX];
        char *name;
        char *user;             /* the VM user */
        char *gpu;              /* the GPU's address ("0000:03:00.0"); NULL when none was chosen */
        char **devices;         /* every function passed: the GPU's slot and its group's peers */
        bool tcg;               /* no hardware virtualization (a VM without nested virtualization) */
        uint64_t memory;        /* guest RAM in bytes */
        bool hugepages_1g;      /* guest RAM on 1 GiB pages reserved at boot */
        vfio_setup_plan *setup; /* the setup step's files (NULL when no device could be chosen) */
        char *config_path;      /* below the root: "etc/vfioctl/vms/NAME.conf" */
        char *config_text;      /* what create writes there */
        char *disk_path;        /* absolute, as the VM sees it; NULL without a disk to make */
        uint64_t disk_size;     /* bytes, for a disk to make */
        char *state_dir;        /* below the root: "var/lib/vfioctl/NAME" */
        char *qemu_img;         /* the create step's qemu-img (from the options) */
        char **notes;           /* decisions and their reasons */
} vfio_guide_plan;

vfio_guide_plan *vfio_guide_plan_free(vfio_guide_plan *p);
VFIO_DEFINE_POINTER_CLEANUP(vfio_guide_plan, vfio_guide_plan_free)

/*
 * Reads the host and plans every step, nothing changed. -EINVAL for options that cannot work (a bad VM
 * name, user, size; *ret_error says which); a GPU that cannot be passed is a blocked step, not an error.
 */
int vfio_guide_plan_new(const vfio_host *h, const vfio_guide_opts *o, vfio_guide_plan **ret,
                        char **ret_error);
/*
 * Applies one TODO step: writes its files (setup's atomic writes and manifest; the VM configuration
 * atomically), runs its commands on the running host (never under --root). Steps that only start or
 * check (VERIFY, START) are the caller's. *log receives what was done; *ret_error why it failed.
 */
int vfio_guide_apply(const vfio_host *h, const vfio_guide_plan *p, vfio_guide_step_id id, char ***log,
                     char **ret_error);

/*
 * The start step, as `vfioctl start --detach` does it (start.h): the configuration the create step wrote,
 * started by root as its [vm] user: locked, every preflight check, the command line, then a supervisor of
 * its own (so a kill of the guide does not stop the VM). A preflight that fails is undone, and its
 * findings, each with its fix, are in problems (-EPERM). -EBUSY: another vfioctl is starting it now.
 * report receives what happens meanwhile. Only on the running host (-EROFS below --root).
 */
int vfio_guide_start(const vfio_host *h, const vfio_guide_plan *p, const char *modprobe,
                     vfio_report_fn report, void *userdata, vfio_problems *problems, int *ret_pid,
                     char **ret_error);

/* A display device the GPU step could take, for a person to choose from. */
typedef struct vfio_guide_gpu {
        char *address;     /* "0000:03:00.0" */
        char *description; /* "NVIDIA Corporation GP104 [GeForce GTX 1080] [10de:1b80], IOMMU group 13" */
        char *why_not;     /* NULL when it can be passed; else why not ("the boot display") */
} vfio_guide_gpu;

void vfio_guide_gpus_free(vfio_guide_gpu *g, size_t n);
/* The host's display devices (function 0), passable first; *ret_default is the one auto takes, or n. */
int vfio_guide_gpus(const vfio_host *h, vfio_guide_gpu **ret, size_t *ret_n, size_t *ret_default);

/*
 * Fault injection for the test bed's kill -9 cases: spec "STEP:MS" (VFIOCTL_TEST_GUIDE_KILL, read by the
 * tool with secure_getenv) SIGKILLs this process MS milliseconds after the call for that step, as a kill
 * -9 at that moment would; what it started (update-initramfs, vfioctl start) goes on. NULL: nothing.
 */
void vfio_guide_arm_kill(const char *spec, vfio_guide_step_id id);

/* "Check the host", ..., for progress lines. */
const char *vfio_guide_step_title(vfio_guide_step_id id);
/* "check", "devices", ... (stable names for messages and tests). */
const char *vfio_guide_step_name(vfio_guide_step_id id);
const char *vfio_guide_state_to_string(vfio_guide_state s);
/* The VM user guide uses by default for a VM: "vm-" and its name, made a valid account name. */
char *vfio_guide_default_user(const char *vm_name);

/*
 * Whether an initramfs or boot loader tool of root's is running now (proc/PID/comm, 15 characters, and
 * proc/PID/status's real and effective uid 0): a guide killed in its boot step leaves one running, and the
 * next waits for it rather than write the same image beside it. Another user's process of that name is
 * not waited for. *ret_which (may be NULL): "dracut (pid 123)".
 */
bool vfio_guide_boot_tool_running(const vfio_host *h, char **ret_which);
