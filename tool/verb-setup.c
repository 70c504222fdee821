/* vfioctl setup: write (or --undo) the persistent host configuration for passthrough. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parse-util.h"
#include "strv.h"
#include "tool.h"
#include "vfioctl/model.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/selector.h"
#include "vfioctl/setup.h"
#include "vfioctl/useradd.h"
#include "vfioctl/vmneeds.h"

enum {
        OPT_VM = 0x100,
        OPT_USER,
        OPT_GROUP,
        OPT_MEMORY,
        OPT_HUGEPAGES,
        OPT_USB,
        OPT_CREATE_USER,
        OPT_WITH_GROUP,
        OPT_FORCE,
        OPT_DRY_RUN,
        OPT_UNDO,
        OPT_APPLY_CMDLINE,
        OPT_VFIOCTL_PATH,
};

static const struct option options[] = {
        { "vm", required_argument, NULL, OPT_VM },
        { "user", required_argument, NULL, OPT_USER },
        { "group", required_argument, NULL, OPT_GROUP },
        { "memory", required_argument, NULL, OPT_MEMORY },
        { "hugepages", required_argument, NULL, OPT_HUGEPAGES },
        { "usb", required_argument, NULL, OPT_USB },
        { "create-user", no_argument, NULL, OPT_CREATE_USER },
        { "with-group", no_argument, NULL, OPT_WITH_GROUP },
        { "force", no_argument, NULL, OPT_FORCE },
        { "dry-run", no_argument, NULL, OPT_DRY_RUN },
        { "undo", no_argument, NULL, OPT_UNDO },
        { "apply-cmdline", no_argument, NULL, OPT_APPLY_CMDLINE },
        { "vfioctl-path", required_argument, NULL, OPT_VFIOCTL_PATH },
        { "help", no_argument, NULL, 'h' },
        {},
};

/* parse_option's answer to --help: stop, with success. */
#define HELP_PRINTED (-1)

/* What the command line (and --vm's config) asks of setup. */
typedef struct setup_args {
        vfio_setup_opts o;
        bool dry_run, undo;
        const char *vm;
        char **usb;         /* --usb, then the VM's */
        char **selectors;   /* the VM's devices, then the command line's */
        vm_config *vm_conf; /* --vm's config: o borrows its users and Looking Glass path */
} setup_args;

static void setup_args_done(setup_args *a)
{
        strv_free(a->usb);
        strv_free(a->selectors);
        vm_config_free(a->vm_conf);
}

/* One option; EXIT_OK to go on, HELP_PRINTED, or the exit status of a bad value (reported). */
static int parse_option(setup_args *a, int c)
{
        uint64_t v;

        switch (c) {
        case OPT_VM:
                a->vm = optarg;
                return EXIT_OK;
        case OPT_USER:
                a->o.user = optarg;
                return EXIT_OK;
        case OPT_GROUP:
                a->o.group = optarg;
                return EXIT_OK;
        case OPT_MEMORY:
        case OPT_HUGEPAGES:
                if (parse_size(optarg, &v) < 0 || v == 0) {
                        tool_error("--%s: '%s' is not a size (e.g. 16G, 8192M)",
                                   c == OPT_MEMORY ? "memory" : "hugepages", optarg);
                        return EXIT_USAGE;
                }
                if (c == OPT_MEMORY)
                        a->o.memory = v;
                else
                        a->o.hugepages = v;
                return EXIT_OK;
        case OPT_USB:
                if (strlen(optarg) != 9 || optarg[4] != ':' ||
                    strspn(optarg, "0123456789abcdefABCDEF:") != 9) {
                        tool_error("--usb: '%s' is not VENDOR:PRODUCT (e.g. 046d:c52b, see lsusb)", optarg);
                        return EXIT_USAGE;
                }
                return strv_extend(&a->usb, optarg) < 0 ? EXIT_FAILURE_GENERIC : EXIT_OK;
        case OPT_CREATE_USER:
                a->o.create_user = true;
                return EXIT_OK;
        case OPT_WITH_GROUP:
                a->o.with_group = true;
                return EXIT_OK;
        case OPT_FORCE:
                a->o.force = true;
                return EXIT_OK;
        case OPT_DRY_RUN:
                a->dry_run = true;
                return EXIT_OK;
        case OPT_UNDO:
                a->undo = true;
                return EXIT_OK;
        case OPT_APPLY_CMDLINE:
                a->o.apply_cmdline = true;
                return EXIT_OK;
        case OPT_VFIOCTL_PATH:
                if (optarg[0] != '/') {
                        tool_error("--vfioctl-path: '%s' must be absolute (systemd ExecStart=)", optarg);
                        return EXIT_USAGE;
                }
                a->o.vfioctl_path = optarg;
                return EXIT_OK;
        case 'h':
                printf("vfioctl setup [SELECTOR...] [--user U] [--memory SIZE] [--hugepages SIZE] [--usb VID:PID] [--create-user]\n"
                       "              [--with-group] [--force] [--dry-run] [--undo] [--apply-cmdline]\n"
                       "See docs/bind.md or vfioctl(1).\n");
                return HELP_PRINTED;
        default:
                return EXIT_USAGE;
        }
}

/* The VM's sound and Looking Glass: what the VM user needs of the desktop user (docs/audio.md). */
static void setup_vm_media(const vm_config *c, vfio_setup_opts *o)
{
        vm_argv_paths p = {};

        /* The user QEMU runs as: --user, else the config's. */
        if (!o->user)
                o->user = c->vm.user;
        p.user = o->user;
        o->desktop_user = c->vm.desktop_user;
        o->audio_grant = c->audio.enabled && c->audio.backend == VM_AUDIO_PA && vm_qemu_audio_granted(c, &p);
        if (c->looking_glass.enabled) {
                o->looking_glass = true;
                o->lg_kvmfr = c->looking_glass.device == VM_LG_KVMFR;
                o->lg_path = vm_looking_glass_path(c);
                o->lg_size = vm_looking_glass_bytes(c);
        }
}

/* The VM file names the devices, memory, hugepages, USB devices, sound and Looking Glass; options given on
 * the command line win, and selectors given beside --vm are added. */
static int add_vm_needs(setup_args *a)
{
        _cleanup_(vm_needs_done) vm_needs n = {};
        int r;

        r = tool_load_config(a->vm, &a->vm_conf);
        if (r >= 0)
                r = vm_needs_from_config(a->vm_conf, &n);
        if (r < 0)
                return r == -EINVAL ? EXIT_DATAERR : EXIT_USAGE;
        STRV_FOREACH(d, n.devices)
                if (strv_extend(&a->selectors, *d) < 0)
                        return EXIT_FAILURE_GENERIC;
        STRV_FOREACH(u, n.usb)
                if (!strv_contains(a->usb, *u) && strv_extend(&a->usb, *u) < 0)
                        return EXIT_FAILURE_GENERIC;
        if (!a->o.memory)
                a->o.memory = n.memory;
        if (!a->o.hugepages) {
                a->o.hugepages = n.hugepages;
                a->o.hugepage_size = n.hugepage_size;
        }
        a->o.uinput = n.input_relay;
        setup_vm_media(a->vm_conf, &a->o);
        return EXIT_OK;
}

static int parse_args(int argc, char **argv, setup_args *a)
{
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                if ((r = parse_option(a, c)) != EXIT_OK)
                        return r;
        if (a->vm && (r = add_vm_needs(a)) != EXIT_OK)
                return r;
        a->o.usb = a->usb;
        for (int i = optind; i < argc; i++)
                if (strv_extend(&a->selectors, argv[i]) < 0)
                        return EXIT_FAILURE_GENERIC;
        if (a->o.create_user && !a->o.user) {
                tool_error("--create-user needs --user NAME");
                return EXIT_USAGE;
        }
        return EXIT_OK;
}

static int setup_undo(const vfio_host *h, const setup_args *a)
{
        _cleanup_strv_free_ char **log = NULL;
        int r;

        if (a->dry_run) {
                printf("Would undo what %s/%s lists.\n", vfio_host_root(h), VFIO_SETUP_MANIFEST);
                return EXIT_OK;
        }
        r = vfio_setup_undo(h, a->o.force, &log);
        STRV_FOREACH(l, log)
                printf("%s\n", *l);
        if (r == -ENOENT) {
                printf("Nothing to undo: no %s.\n", VFIO_SETUP_MANIFEST);
                return EXIT_OK;
        }
        if (r == -EBUSY) {
                /* Files the admin edited since setup wrote them are kept on purpose (listed above). */
                tool_error(
                        "undo kept the files listed above as changed since setup wrote them; /%s still lists them: edit them back, or restore setup's originals over the changes with: vfioctl setup --undo --force",
                        VFIO_SETUP_MANIFEST);
                return EXIT_FAILURE_GENERIC;
        }
        if (r < 0) {
                tool_error(
                        "undo incomplete: %s (the step that failed is listed above); what is left is still listed in /%s",
                        strerror(-r), VFIO_SETUP_MANIFEST);
                return EXIT_FAILURE_GENERIC;
        }
        printf("Undone. Regenerate the initramfs and the boot loader configuration as after setup.\n");
        return EXIT_OK;
}

/* useradd as asked by --create-user; once done, its command leaves the list the user still has to run. */
static void create_user(const setup_args *a, vfio_setup_plan *plan)
{
        if (vfio_useradd_system(a->o.user, a->o.group ? a->o.group : "kvm") < 0) {
                tool_warning("%s failed; create the user by hand (command below)", VFIO_USERADD_PATH);
                return;
        }
        printf("created user %s\n", a->o.user);
        for (char **cmd = plan->commands; cmd && *cmd; cmd++)
                if (strncmp(*cmd, VFIO_USERADD_PATH " ", strlen(VFIO_USERADD_PATH) + 1) == 0) {
                        free(*cmd);
                        memmove(cmd, cmd + 1, (strv_length(cmd + 1) + 1) * sizeof(char *));
                        break;
                }
}

/* --dry-run: the diff of every file against the host; else the files written (or all put back). */
static int setup_write(const vfio_host *h, const setup_args *a, vfio_setup_plan *plan)
{
        _cleanup_strv_free_ char **log = NULL;
        _cleanup_free_ char *diff = NULL, *failed = NULL;
        int r;

        if (a->dry_run) {
                r = vfio_setup_diff(h, plan, &diff);
                if (r < 0) {
                        tool_error("cannot compare with the files below %s: %s", vfio_host_root(h),
                                   strerror(-r));
                        return EXIT_FAILURE_GENERIC;
                }
                fputs(diff, stdout);
                return EXIT_OK;
        }
        r = vfio_setup_apply(h, plan, &log, &failed);
        STRV_FOREACH(l, log)
                printf("%s\n", *l);
        if (r < 0) {
                tool_error(
                        "setup failed at %s%s: %s; every file of this run was put back and /%s is as before",
                        failed ? "/" : "", failed ? failed : "(an unknown step)", strerror(-r),
                        VFIO_SETUP_MANIFEST);
                return EXIT_FAILURE_GENERIC;
        }
        if (a->o.create_user && vfio_host_is_live(h))
                create_user(a, plan);
        return EXIT_OK;
}

/* What is left to the user: the kernel command line and the commands setup does not run itself. */
static void print_next_steps(const vfio_setup_plan *plan, bool dry_run)
{
        if (strv_length(plan->cmdline_add) > 0) {
                _cleanup_free_ char *j = strv_join(plan->cmdline_add, " ");

                printf("Kernel command line needs: %s (boot loader: %s)\n", j ? j : "",
                       plan->bootloader ? plan->bootloader : "unknown");
        }
        if (strv_length(plan->commands) > 0) {
                printf("%s:\n", dry_run ? "Then run" : "Now run");
                STRV_FOREACH(cmd, plan->commands)
                        printf("  %s\n", *cmd);
        }
}

int verb_setup(int argc, char **argv)
{
        _cleanup_(setup_args_done) setup_args a = {};
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_(vfio_model_freep) vfio_model *m = NULL;
        _cleanup_(vfio_selection_freep) vfio_selection *sel = NULL;
        _cleanup_(vfio_setup_plan_freep) vfio_setup_plan *plan = NULL;
        int r;

        r = parse_args(argc, argv, &a);
        if (r != EXIT_OK)
                return r == HELP_PRINTED ? EXIT_OK : r;
        if (tool_open_host(&h) < 0)
                return EXIT_FAILURE_GENERIC;
        if (vfio_host_is_live(h) && !a.dry_run && geteuid() != 0) {
                tool_error(
                        "setup writes below /etc: run it as root (sudo vfioctl setup ...), or add --dry-run");
                return EXIT_FAILURE_GENERIC;
        }
        if (a.undo)
                return setup_undo(h, &a);
        if (a.o.vfioctl_path && !a.dry_run && tool_check_boot_program(h, a.o.vfioctl_path) < 0)
                return EXIT_NOPERM;
        if (tool_load_model(h, &m) < 0)
                return EXIT_FAILURE_GENERIC;
        r = tool_resolve_selection(h, m, a.selectors ? a.selectors : argv + optind, 0, &sel);
        if (r != EXIT_OK)
                return r;
        r = vfio_setup_plan_new(h, m, sel, &a.o, &plan);
        if (r < 0) {
                tool_error("cannot plan the setup: %s%s", strerror(-r),
                           r == -EINVAL ? " (check --user and --usb values)" : "");
                return EXIT_FAILURE_GENERIC;
        }
        STRV_FOREACH(n, plan->notes)
                printf("note: %s\n", *n);
        if (strv_length(plan->refusals) > 0) {
                STRV_FOREACH(x, plan->refusals)
                        tool_error("%s", *x);
                tool_error("nothing was written");
                return EXIT_FAILURE_GENERIC;
        }
        r = setup_write(h, &a, plan);
        if (r != EXIT_OK)
                return r;
        print_next_steps(plan, a.dry_run);
        return EXIT_OK;
}
