/* Shared state and helpers of the vfioctl command-line tool. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "vfioctl/host.h"

/* Exit codes, documented in vfioctl(1). */
enum {
        EXIT_OK = 0,
        EXIT_FAILURE_GENERIC = 1, /* the operation failed; the message says why */
        EXIT_USAGE = 64,          /* bad command line (sysexits EX_USAGE) */
        EXIT_DATAERR = 65,        /* bad input data: config, sysfs content, XML */
        EXIT_UNAVAILABLE = 69,    /* a needed service is missing, e.g. uinput (sysexits EX_UNAVAILABLE) */
        /* The lifecycle verbs (docs/lifecycle.md): */
        EXIT_NOT_RUNNING = 3, /* status and VM verbs: the VM is not running (LSB init-script convention) */
        EXIT_PREFLIGHT = EXIT_UNAVAILABLE, /* start: a host check failed; QEMU was not started */
        EXIT_BUSY = 75,   /* start: the VM runs or is being started by another vfioctl (EX_TEMPFAIL) */
        EXIT_NOPERM = 77, /* the caller may not act on that VM (EX_NOPERM) */
};

/* Helpers run as root are named by absolute path, never looked up in PATH. */
#define MODPROBE_PATH "/sbin/modprobe"

typedef struct verb {
        const char *name;
        unsigned min_args, max_args; /* positional arguments after the verb */
        int (*run)(int argc, char **argv);
        const char *synopsis;
        const char *help;
        /* The verb prints its own --help (with its options); else main.c prints synopsis and help. */
        bool own_help;
} verb;

/* The verb table (main.c), for what is generated from it: vfioctl completion. */
const verb *tool_verbs(size_t *ret_n);

/* Global options, set by main.c (command-line globals live in tool/ only). */
extern const char *arg_root;
extern bool arg_json;
extern int arg_color; /* -1 auto, 0 never, 1 always */

/* Opens the host root chosen by --root / VFIOCTL_ROOT, reporting failure to the user. */
int tool_open_host(vfio_host **ret);
bool tool_use_color(FILE *f);
const char *tool_color(FILE *f, const char *ansi);
#define ANSI_RED    "\033[31m"
#define ANSI_GREEN  "\033[32m"
#define ANSI_YELLOW "\033[33m"
#define ANSI_BOLD   "\033[1m"
#define ANSI_DIM    "\033[2m"
#define ANSI_RESET  "\033[0m"

/* One message to stderr, once, at the boundary: control bytes escaped, at most TOOL_MESSAGE_MAX bytes. */
#define TOOL_MESSAGE_MAX 4096
void tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tool_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same escaping for lines printed otherwise (lists under an error); caller frees. */
char *tool_escape(const char *s);

/* Runs a verb of the table in this process (argv[0] is its name), as `vfioctl VERB ARGS` would. */
int tool_run_verb(int argc, char **argv);
/* Checks the positional argument count left after a verb's options against the verb table. */
int tool_check_arity(int nargs);
/* Builds the model of the host, reporting problems as warnings; returns <0 after reporting failure. */
struct vfio_model;
int tool_load_model(const vfio_host *h, struct vfio_model **ret);
/* Finds and parses a VM config (NAME or FILE), reporting every error; -EINVAL when the config is wrong. */
struct vm_config;
int tool_load_config(const char *arg, struct vm_config **ret);
/* The same for a config root acts on: the trust decision first (perm.h's vfio_perm_load_config). */
int tool_load_config_trusted(const char *arg, struct vm_config **ret);
/* For the verbs that take a VM NAME: false after saying why the argument is not one (exit EXIT_USAGE). */
/* The program a boot-time unit runs as root: refused (reported, -EPERM) unless only root can change it,
 * every directory of its path included. */
int tool_check_boot_program(const vfio_host *h, const char *path);
bool tool_vm_name(const char *s);

int verb_devices(int argc, char **argv);
int verb_bind(int argc, char **argv);
int verb_unbind(int argc, char **argv);
int verb_rebind(int argc, char **argv);
int verb_setup(int argc, char **argv);
int verb_guide(int argc, char **argv);
/* Resolves device selectors against the model, reporting problems; returns an exit code. */
struct vfio_selection;
int tool_resolve_selection(const vfio_host *h, const struct vfio_model *m, char *const *selectors,
                           unsigned flags, struct vfio_selection **ret);
int verb_check(int argc, char **argv);
int verb_create(int argc, char **argv);
int verb_validate(int argc, char **argv);
int verb_cmdline(int argc, char **argv);
int verb_disk(int argc, char **argv);
int verb_snapshot(int argc, char **argv);
int verb_input(int argc, char **argv);

/* The storage helpers by absolute path; a progress bar labelled progress_label on a TTY (NULL: none). */
struct vfio_storage_tools;
void tool_storage_tools(struct vfio_storage_tools *t, const char *progress_label);
/* Root working on a path owner controls (vfio_storage_path_owner, a snapshot plan's owner): qemu-img runs as
 * that user, and a note says so. No change otherwise. */
int tool_storage_run_as(struct vfio_storage_tools *t, const char *path, uid_t owner);
/* Why the safe walk (basic/safedir.h) refused a path, for messages: "a symbolic link in a directory ...". */
const char *tool_path_refusal(int r);
int verb_import_libvirt(int argc, char **argv);
int verb_export_libvirt(int argc, char **argv);
int verb_start(int argc, char **argv);
int verb_demo(int argc, char **argv);
int verb_stop(int argc, char **argv);
int verb_reboot(int argc, char **argv);
int verb_pause(int argc, char **argv);
int verb_resume(int argc, char **argv);
int verb_status(int argc, char **argv);
int verb_list(int argc, char **argv);
int verb_console(int argc, char **argv);
int verb_log(int argc, char **argv);
int verb_qmp(int argc, char **argv);
int verb_enable(int argc, char **argv);
int verb_disable(int argc, char **argv);
int verb_completion(int argc, char **argv);
