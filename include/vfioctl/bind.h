/* Moving PCI devices between host drivers and vfio-pci with driver_override, with state and rollback. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "vfioctl/common.h"
#include "vfioctl/host.h"
#include "vfioctl/model.h"
#include "vfioctl/selector.h"

typedef enum vfio_bind_action {
        VFIO_BIND_TO_VFIO, /* bind: host driver -> vfio-pci */
        VFIO_BIND_RESTORE, /* unbind: vfio-pci -> the driver recorded when it was bound */
        VFIO_BIND_REPROBE, /* rebind: clear the override, let the kernel probe the best host driver */
} vfio_bind_action;

typedef struct vfio_bind_opts {
        bool with_group;      /* bind the group's other endpoints too */
        bool force;           /* go ahead past host-critical devices and open device nodes (as warnings) */
        bool give_display;    /* single-GPU handoff: the boot display may go (the host let go of it first) */
        bool dry_run;         /* plan and log the writes, change nothing */
        bool verify;          /* a live host: check the driver link after probing, wait for /dev/vfio/N */
        const char *modprobe; /* absolute path of modprobe(8) for vfio-pci; NULL: never exec anything */
        unsigned timeout_ms;  /* each wait for the driver and /dev/vfio/N (wall clock); 0: 5000 */
        const char *state_dir; /* below the root; NULL: "run/vfioctl/bind" (bindings die with a reboot) */
        unsigned fail_after;   /* test injection: fail the Nth sysfs write (1-based); 0: never */
        unsigned crash_after;  /* test injection: SIGKILL ourselves instead of the Nth write (a kill -9) */
} vfio_bind_opts;

/*
 * Each wait's bound for `bind --boot` (vfioctl-bind.service), in ms. At boot the host's GPU driver may be
 * loading beside the unit and a slow machine (a nested or loaded guest, a GPU out of D3cold retraining its
 * link, a host driver taking seconds to let go) is far slower than an interactive bind: 5 s timed out there
 * while the device was still on its way to vfio-pci. A wait that is met returns at once, so a longer bound
 * costs nothing on a healthy boot.
 */
#define VFIO_BIND_BOOT_TIMEOUT_MS 30000
/* Waits one device's bind can do: the driver, /dev/vfio/N, and the driver again if it is rolled back. */
#define VFIO_BIND_WAITS_PER_DEVICE 3

typedef struct vfio_bind_dev {
        char *name;         /* "0000:01:00.0" */
        const char *reason; /* "selected", "same slot", "group peer" */
        char *driver;       /* bound now, NULL when none */
        char *target;   /* driver it should end on: "vfio-pci", the recorded one, NULL: kernel's choice */
        char *identity; /* vfio_identity_format() */
        int group;      /* IOMMU group, -1 without */
        bool noop;      /* already where it should be */
        bool moved;     /* execution changed it (rollback candidate) */
} vfio_bind_dev;

typedef struct vfio_bind_plan {
        vfio_bind_action action;
        vfio_bind_dev *devs;
        size_t n;
        bool load_vfio_pci;  /* sys/bus/pci/drivers/vfio-pci is missing */
        char **refusals;     /* reasons not to go ahead; empty when the plan may run */
        char **warnings;     /* refusals overridden with --force, processes holding the devices */
        char **writes;       /* "PATH <- VALUE", every sysfs write done (or, with dry_run, planned) */
        char **log;          /* what happened, for the tool: "0000:01:00.0: e1000e -> vfio-pci" */
        bool rolled_back;    /* a failed bind put back the devices it had moved (see not_restored) */
        char **not_restored; /* devices that rollback could not put back ("0000:01:00.0=e1000e") */
} vfio_bind_plan;

vfio_bind_plan *vfio_bind_plan_free(vfio_bind_plan *p);
VFIO_DEFINE_POINTER_CLEANUP(vfio_bind_plan, vfio_bind_plan_free)

/*
 * Checks group rules and safety for the selection and plans the action. With opts->with_group the peers
 * are added to sel. Returns 0 with a plan whose refusals say why it must not run (the tool reports them).
 */
int vfio_bind_plan_new(const vfio_host *h, const vfio_model *m, vfio_selection *sel, vfio_bind_action action,
                       const vfio_bind_opts *opts, vfio_bind_plan **ret);
/*
 * Runs a plan without refusals. Every write is checked; on failure the devices already moved are put
 * back (and what that did is in plan->log) and the first error is returned.
 */
int vfio_bind_execute(const vfio_host *h, vfio_bind_plan *plan, const vfio_bind_opts *opts);

/* Processes holding a device node of the PCI device (DRM card/render nodes, nvidia nodes) or /dev/vfio/N. */
int vfio_bind_find_holders(const vfio_host *h, const vfio_pci_dev *d, char ***ret);

/* The driver recorded when the device was bound ("" when it had none); -ENOENT without a record. */
int vfio_bind_state_read(const vfio_host *h, const char *state_dir, const char *name, char **ret_driver,
                         char **ret_identity);
