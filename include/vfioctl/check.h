/* Host readiness for VFIO passthrough: every check with its status, evidence and exact fix, plus quirks. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vfioctl/account.h"
#include "vfioctl/common.h"
#include "vfioctl/host.h"
#include "vfioctl/model.h"
#include "vfioctl/qemu-info.h"
#include "vfioctl/quirks.h"

typedef enum vfio_check_status {
        VFIO_CHECK_PASS,
        VFIO_CHECK_SKIP, /* not applicable here (no device to pass, --no-probe, not a live root) */
        VFIO_CHECK_WARN,
        VFIO_CHECK_FAIL,
} vfio_check_status;

typedef struct vfio_check {
        const char *id;    /* stable, documented in docs/check.md: "iommu.groups" */
        const char *group; /* "cpu", "iommu", "vfio", "access", "memory", "firmware", "qemu", "kernel",
                              "devices" */
        vfio_check_status status;
        char *title;
        char *evidence; /* what was read, with the file: "sys/kernel/iommu_groups holds no groups ..." */
        char *fix;      /* the exact command or file edit for this distribution; NULL when nothing to fix */
        char *device;   /* the PCI device a per-device check is about, else NULL */
} vfio_check;

/*
 * Tries the sound server socket at path as uid:gid (audio-probe.h's vm_audio_probe is one): 0 when it
 * answered the protocol's first exchange, else -errno (-ENOENT, -EACCES, -ECONNREFUSED, -EPERM refused by
 * the server, -EPROTO, -ETIMEDOUT; -ENOTSUP when it cannot act as that user); *ret_detail says what
 * happened either way.
 */
typedef int (*vfio_audio_probe_fn)(const char *path, uid_t uid, gid_t gid, unsigned timeout_ms,
                                   char **ret_detail);

typedef struct vfio_check_options {
        const char *user;  /* the VM user; NULL: SUDO_USER or the caller (live), "root" otherwise */
        uint64_t memory;   /* guest RAM in bytes; 0 when not known */
        char *const *pass; /* selectors (selector.h: address, vendor:device, name, identity); NULL: derive */
        vfio_qemu_probe_fn probe;  /* asks QEMU what it can do (live root only); NULL: not probed */
        unsigned probe_timeout_ms; /* 0: 10 s */
        bool force;                /* accept host-critical devices (fail → warn) */
        bool input_relay;          /* the VM's evdev inputs go through vfioctl's relay: /dev/uinput needed */
        /* Sound and picture for the desktop user (check --vm; docs/audio.md): */
        const char *vm_name;      /* names the VM in fixes: "vfioctl setup --vm NAME" */
        const char *desktop_user; /* [vm] desktop_user */
        const char *audio_driver; /* QEMU's audio driver the VM needs ("pa", "alsa"); NULL: no sound */
        const char *audio_socket; /* host path of the PulseAudio socket QEMU will use; NULL: none */
        bool audio_grant;         /* it is the socket setup --vm grants (audio-grant.h) */
        vfio_audio_probe_fn audio_probe; /* NULL: the socket is not tried */
        const char *lg_path;             /* Looking Glass memory (host path); NULL: no [looking-glass] */
        bool lg_kvmfr;                   /* lg_path is kvmfr's device, not a file */
        uint64_t lg_size;                /* the region's size */
} vfio_check_options;

typedef struct vfio_check_report {
        vfio_check *checks;
        size_t n;
        vfio_quirk_matches *quirks;
        char **to_pass;    /* resolved devices to pass */
        char **pass_why;   /* parallel to to_pass: "bound to vfio-pci", "--pass 10de:1b80", ... */
        char **candidates; /* display devices checked as candidates */
        char *user;        /* the VM user checked */
        char **problems;   /* host facts that could not be read (the model's problems), for the tool */
        vfio_check_status verdict;
} vfio_check_report;

/*
 * Runs every check against the host root. The only program it may run is QEMU for the capability probe
 * (o->probe, live root only); nothing on the host is changed. Fails only on allocation failure or a
 * selector that does not resolve (-ENXIO; *ret_error holds the selector module's explanation, one line
 * per problem).
 */
int vfio_check_run(const vfio_host *h, const vfio_check_options *o, vfio_check_report **ret,
                   char **ret_error);
vfio_check_report *vfio_check_report_free(vfio_check_report *r);
VFIO_DEFINE_POINTER_CLEANUP(vfio_check_report, vfio_check_report_free)

const char *vfio_check_status_to_string(vfio_check_status s);  /* "pass", "skip", "warn", "fail" */
const char *vfio_check_verdict_to_string(vfio_check_status s); /* "ready", "warnings", "not-ready" */
const vfio_check *vfio_check_report_find(const vfio_check_report *r, const char *id);
/* Judges a QEMU probe result (qemu.probe): fail without vfio-pci, warn without q35 or before 2.1. */
int vfio_check_judge_qemu(const vfio_qemu_info *q, vfio_check_status *ret_status, char **ret_evidence);
/* The user checked when none is named: SUDO_USER or the caller on a live root, else root. */
char *vfio_check_default_user(const vfio_host *h);
/*
 * Only the sound and Looking Glass checks (group "desktop"), for start's preflight: vm is the user QEMU
 * runs as, desk the desktop user (NULL when none), as the caller looked them up.
 */
int vfio_check_media(const vfio_host *h, const vfio_check_options *o, const vfio_account *vm,
                     const vfio_account *desk, vfio_check_report **ret);
/* A quirk's fix with "{cmdline:ARGS}" expanded to this distribution's command-line edit; newly allocated. */
char *vfio_check_expand_fix(const vfio_host *h, const char *fix);
