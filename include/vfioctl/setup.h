/* Persistent host setup (modprobe.d, boot-time bind unit, udev, limits, hugepages, kernel command line). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vfioctl/common.h"
#include "vfioctl/host.h"
#include "vfioctl/hostcmd.h"
#include "vfioctl/model.h"
#include "vfioctl/selector.h"

#define VFIO_SETUP_MANIFEST "var/lib/vfioctl/setup.manifest"

typedef struct vfio_setup_opts {
        const char *user;       /* the VM user: memlock limit and group membership; NULL: none */
        const char *group;      /* group given the VFIO/USB nodes; NULL: "kvm" */
        uint64_t memory;        /* guest RAM the user's VMs lock, bytes; 0: 16 GiB */
        uint64_t hugepages;     /* bytes of huge pages to reserve at boot; 0: none */
        uint64_t hugepage_size; /* bytes per page, 2 MiB or 1 GiB; 0: the kernel's default (Hugepagesize) */
        char **usb;             /* "VVVV:PPPP" USB devices the VM takes (udev group rule) */
        bool uinput;            /* load uinput at boot (modules-load.d), for vfioctl start's input relay */
        bool create_user;       /* a dedicated system user */
        bool with_group;        /* take the selected devices' IOMMU group peers too */
        bool force;             /* host-critical devices are warnings, not refusals */
        bool apply_cmdline;     /* edit etc/default/grub or etc/kernel/cmdline (else only print) */
        const char *vfioctl_path; /* ExecStart of the boot-time bind unit; NULL: "/usr/bin/vfioctl" */
        /* Sound and picture for the user at the screen (docs/audio.md), from the VM file: */
        const char *desktop_user; /* [vm] desktop_user */
        bool audio_grant;         /* user reaches desktop_user's sound server ([audio] server = desktop) */
        bool looking_glass;  /* [looking-glass]: shared memory of user, readable by desktop_user's group */
        bool lg_kvmfr;       /* device = kvmfr: the module's option, its loading and a udev rule */
        const char *lg_path; /* the file in /dev/shm, or the kvmfr device */
        uint64_t lg_size;    /* its size in bytes */
        /*
         * Hook for the VM configuration module (--vm NAME): it fills selectors, memory, hugepages, usb
         * and user from the VM file before calling vfio_setup_plan_new(); nothing here reads VM files.
         */
} vfio_setup_opts;

typedef struct vfio_setup_file {
        char *path;    /* below the root: "etc/modprobe.d/vfioctl.conf" */
        char *content; /* NULL for a link */
        mode_t mode;
        bool owned; /* vfioctl's own file; false: an edit of a host file (etc/default/grub) */
        char *link; /* a symbolic link to this target instead of a file: a unit enabled in a .wants/ */
} vfio_setup_file;

typedef struct vfio_setup_plan {
        vfio_setup_file *files;
        size_t n;
        char **commands;    /* to run by hand afterwards, exact: "update-initramfs -u" */
        char **notes;       /* decisions and their reasons */
        char **refusals;    /* why it must not run */
        char **cmdline_add; /* kernel parameters missing from proc/cmdline */
        char *bootloader;   /* "grub", "grubby", "kernelstub", "systemd-boot"; NULL when unknown */
        /*
         * The host's own tools that make the files take effect, as argv arrays (a guided setup runs them):
         * the initramfs rebuild, the boot loader update, systemctl daemon-reload, the udev reload.
         */
        vfio_hostcmds effect;
        char **effect_missing; /* those tools the root lacks: "update-grub (the boot loader's ...)" */
} vfio_setup_plan;

vfio_setup_plan *vfio_setup_plan_free(vfio_setup_plan *p);
VFIO_DEFINE_POINTER_CLEANUP(vfio_setup_plan, vfio_setup_plan_free)

/* Pure planning from the model, the selection and host files (os-release, cmdline, cpuinfo, grub). */
int vfio_setup_plan_new(const vfio_host *h, const vfio_model *m, vfio_selection *sel,
                        const vfio_setup_opts *o, vfio_setup_plan **ret);
/* Unified diff of every planned file against what is there now ("" when nothing would change). */
int vfio_setup_diff(const vfio_host *h, const vfio_setup_plan *p, char **ret);
/* Unified diff of two texts, labelled a/PATH and b/PATH (PATH /dev/null for a missing side). */
char *vfio_setup_unified_diff(const char *path, const char *old, const char *new);

/*
 * Writes the plan: backups of replaced files and the manifest first, then each file atomically. A
 * failure restores every file written in this run and the previous manifest. Idempotent: an unchanged
 * file is not rewritten and keeps its original backup. log (may be NULL) receives what was done;
 * *ret_failed_path (may be NULL; caller frees) the path the failing step worked on. A replaced file's
 * owner is recorded and given back by the rollback and by vfio_setup_undo.
 */
int vfio_setup_apply(const vfio_host *h, const vfio_setup_plan *p, char ***log, char **ret_failed_path);
/*
 * Removes exactly the files the manifest lists and restores their backups. A file changed since setup
 * wrote it is left alone (and kept in the manifest) unless force. -ENOENT: no manifest.
 */
int vfio_setup_undo(const vfio_host *h, bool force, char ***log);
