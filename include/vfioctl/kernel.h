/* Kernel facts under the host root: version, command line, module state and modprobe.d configuration. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "vfioctl/common.h"
#include "vfioctl/host.h"

/* major << 16 | minor << 8 | patch (patch capped at 255), like the kernel's KERNEL_VERSION(). */
#define VFIO_KERNEL_VERSION(a, b, c) \
        (((unsigned)(a) << 16) | ((unsigned)(b) << 8) | ((c) > 255 ? 255u : (unsigned)(c)))

typedef struct vfio_softdep {
        char *module; /* normalised: '-' → '_' */
        char **pre;   /* normalised module names loaded before it */
        char *where;  /* "etc/modprobe.d/vfio.conf:3" */
} vfio_softdep;

typedef struct vfio_modprobe {
        vfio_softdep *softdeps;
        size_t n_softdeps;
        char **vfio_pci_ids;          /* "10de:1b80" from "options vfio-pci ids=", lower case */
        char *vfio_pci_ids_where;     /* first file:line that set them */
        char **blacklist;             /* normalised names from "blacklist X" */
        bool allow_unsafe_interrupts; /* "options vfio_iommu_type1 allow_unsafe_interrupts=1" */
        char **files;                 /* files read, in the order modprobe applies them */
} vfio_modprobe;

typedef struct vfio_kernel {
        char *release;    /* "6.1.0-18-amd64", from proc/version; NULL when unreadable */
        unsigned version; /* VFIO_KERNEL_VERSION(), 0 when unknown */
        char **cmdline;   /* proc/cmdline split on blanks; the init's arguments after "--" are dropped */
        bool have_proc_modules; /* false: the kernel has no loadable-module support (or no proc/) */
        char **loaded;          /* module names from proc/modules, normalised */
        char **builtin;         /* module names from lib/modules/<release>/modules.builtin, normalised */
        bool have_modules_dir;  /* lib/modules/<release> exists under the root */
        char **available;       /* module names of modules.dep, normalised */
} vfio_kernel;

int vfio_kernel_read(const vfio_host *h, vfio_kernel **ret);
vfio_kernel *vfio_kernel_free(vfio_kernel *k);
VFIO_DEFINE_POINTER_CLEANUP(vfio_kernel, vfio_kernel_free)

/* Parses "Linux version 6.1.0-18-amd64 (...)" into the release and version code. */
int vfio_kernel_parse_version(const char *proc_version, char **ret_release, unsigned *ret_version);
/* Splits a command line; the arguments after a lone "--" belong to init and are dropped. */
int vfio_kernel_parse_cmdline(const char *s, char ***ret);
/* The value of "key=value" on the command line (last one wins, as the kernel's parser), or NULL. */
const char *vfio_kernel_cmdline_value(const vfio_kernel *k, const char *key);
/* True when "key" or "key=..." appears. */
bool vfio_kernel_cmdline_has(const vfio_kernel *k, const char *key);

typedef enum vfio_module_state {
        VFIO_MODULE_MISSING,   /* neither built in nor on disk */
        VFIO_MODULE_AVAILABLE, /* on disk (modules.dep), not loaded */
        VFIO_MODULE_LOADED,    /* a loaded module */
        VFIO_MODULE_BUILTIN,   /* built into the kernel image */
        VFIO_MODULE_UNKNOWN,   /* not loaded, and lib/modules/<release> is not there to tell */
} vfio_module_state;

/* '-' and '_' are the same in module names (kmod's modname normalisation). */
void vfio_module_name_normalize(char *s);
vfio_module_state vfio_kernel_module_state(const vfio_host *h, const vfio_kernel *k, const char *module);
const char *vfio_module_state_to_string(vfio_module_state s);

/*
 * Reads modprobe.d the way kmod does: *.conf of etc/modprobe.d, run/modprobe.d, usr/lib/modprobe.d and
 * lib/modprobe.d, a name in an earlier directory hiding the same name in a later one, then in name order.
 */
int vfio_modprobe_read(const vfio_host *h, vfio_modprobe **ret);
/* Parses one file's text into m (exported for tests and fuzzing); where is the file name for messages. */
int vfio_modprobe_parse(vfio_modprobe *m, const char *text, const char *where);
vfio_modprobe *vfio_modprobe_new(void);
vfio_modprobe *vfio_modprobe_free(vfio_modprobe *m);
VFIO_DEFINE_POINTER_CLEANUP(vfio_modprobe, vfio_modprobe_free)
/* The softdep of module (normalised) listing pre (normalised) before it, or NULL. */
const vfio_softdep *vfio_modprobe_find_softdep(const vfio_modprobe *m, const char *module, const char *pre);
