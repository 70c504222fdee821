/* vfioctl: entry point, global options and the verb table. */
#include <errno.h>
#include <getopt.h>
#include <linux/capability.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "fault.h"
#include "log.h"
#include "parse-util.h"
#include "strv.h"
#include "term-escape.h"
#include "tool.h"
#include "vfioctl/model.h"
#include "vfioctl/perm.h"
#include "vfioctl/vmpaths.h"

const char *arg_root;
bool arg_json;
int arg_color = -1;
static const verb *current_verb;

static const verb verbs[] = {
        { "demo", 0, 0, verb_demo, "demo",
          "boot a tiny VM as an unprivileged user, show its status, stop it (works without an IOMMU or KVM)",
          .own_help = false },
        { "devices", 0, 0, verb_devices, "devices [--gpu] [--tree] [--json]",
          "PCI devices by IOMMU group, with drivers, reset methods and a passthrough verdict",
          .own_help = true },
        { "bind", 1, 64, verb_bind, "bind SELECTOR... [--with-group] [--force] [--dry-run]",
          "hand devices to vfio-pci (driver_override), refusing host-critical devices and split groups",
          .own_help = true },
        { "unbind", 1, 64, verb_unbind, "unbind SELECTOR... [--force] [--dry-run]",
          "give devices back to the driver they had before 'bind'", .own_help = true },
        { "rebind", 1, 64, verb_rebind, "rebind SELECTOR... [--force] [--dry-run]",
          "clear driver_override and let the kernel probe the host driver again", .own_help = true },
        { "guide", 0, 1, verb_guide,
          "guide [NAME] [--gpu SEL|auto] [--user U] [--memory 16G] [--cpus N] [--disk SIZE|PATH] [--iso FILE] [--windows] [--desktop-user U] [--yes] [--dry-run]",
          "from this host to a running passthrough VM: check, setup, reboot, create, start (resumable)",
          .own_help = true },
        { "setup", 0, 64, verb_setup,
          "setup [SELECTOR...] [--user U] [--dry-run] [--undo] [--apply-cmdline]",
          "make the host configuration persistent: modprobe.d, udev, limits, hugepages, kernel command line",
          .own_help = true },
        { "check", 0, 64, verb_check,
          "check [--json] [--pass SEL...] [--user U] [--memory SIZE] [--no-probe]",
          "host readiness for passthrough: each check with evidence and fix, plus known hardware quirks",
          .own_help = true },
        { "create", 1, 1, verb_create,
          "create NAME [--gpu SEL|auto] [--user U] [--memory 16G] [--cpus 8] [--disk PATH|SIZE] [--iso FILE] [--windows] [--desktop-user U] [--dry-run] [--output FILE] [--force]",
          "write a complete, commented VM config with defaults from this host", .own_help = false },
        { "validate", 1, 1, verb_validate, "validate NAME|FILE",
          "check a VM config by itself (no host needed)", .own_help = false },
        { "cmdline", 1, 1, verb_cmdline, "cmdline NAME|FILE", "print the exact QEMU command line for a VM",
          .own_help = false },
        { "start", 1, 1, verb_start, "start NAME|FILE [--detach] [--paused]",
          "check the host, start the VM as its user, pin it, supervise it", .own_help = true },
        { "stop", 1, 1, verb_stop, "stop NAME [--timeout S] [--force]",
          "ACPI power-down, wait (60 s), then quit; --force kills QEMU", .own_help = false },
        { "reboot", 1, 1, verb_reboot, "reboot NAME", "hard-reset the VM (the reset button)",
          .own_help = false },
        { "pause", 1, 1, verb_pause, "pause NAME", "stop the vCPUs", .own_help = false },
        { "resume", 1, 1, verb_resume, "resume NAME", "run paused vCPUs again", .own_help = false },
        { "status", 1, 1, verb_status, "status NAME [--json]",
          "state, uptime, pid, user, pinned CPUs (read back), devices, memory", .own_help = false },
        { "list", 0, 0, verb_list, "list [--json]", "every VM that ran here, with its state",
          .own_help = false },
        { "console", 1, 1, verb_console, "console NAME", "attach to the serial console (leave with Ctrl-])",
          .own_help = false },
        { "log", 1, 1, verb_log, "log NAME [--console]",
          "QEMU's and vfioctl's messages (or the serial output)", .own_help = false },
        { "qmp", 2, 2, verb_qmp, "qmp NAME '{\"execute\": ...}'", "send one raw QMP command",
          .own_help = false },
        { "enable", 1, 1, verb_enable, "enable NAME", "start the VM at boot (vfioctl@NAME.service)",
          .own_help = false },
        { "disable", 1, 1, verb_disable, "disable NAME", "do not start the VM at boot", .own_help = false },
        { "disk", 2, 3, verb_disk, "disk create VM|PATH|DATASET | import SRC DST | info PATH",
          "create a VM disk (qcow2/raw image, ZFS dataset, zvol), import one, show its backend facts",
          .own_help = false },
        { "snapshot", 1, 3, verb_snapshot,
          "snapshot [VM] create|list|rollback|delete [SNAP] [--disk PATH...]",
          "snapshots of a stopped VM's disks and OVMF vars (ZFS or qcow2)", .own_help = false },
        { "input", 1, 1, verb_input, "input list|relay [--json] [--grab DEV... --out NAME]",
          "keyboards and mice with stable paths; the relay that keeps them in the VM across replugs",
          .own_help = false },
        { "import-libvirt", 1, 1, verb_import_libvirt,
          "import-libvirt FILE.xml|--connect URI DOMAIN [--name NAME | -o FILE] [--dry-run] [--strict] [--keep-unknown-args]",
          "turn a libvirt domain (an XML file, or a domain defined on a libvirt connection) into a VM config, listing every part not imported",
          .own_help = false },
        { "export-libvirt", 1, 1, verb_export_libvirt,
          "export-libvirt NAME|FILE [-o FILE.xml | --define] [--connect URI] [--force]",
          "write a VM as a libvirt domain XML, or define it on a libvirt connection with that host's devices",
          .own_help = false },
        { "completion", 1, 2, verb_completion, "completion bash|zsh",
          "print the shell completion script (verbs, options, VM names, devices), made from this table",
          .own_help = false },
};

const verb *tool_verbs(size_t *ret_n)
{
        *ret_n = ELEMENTSOF(verbs);
        return verbs;
}

/* Messages carry input (config values, XML, paths): escaped and bounded before they reach a terminal. */
static void report(const char *label, const char *color, const char *fmt, va_list ap)
{
        _cleanup_free_ char *msg = NULL, *safe = NULL;

        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        safe = msg ? escape_for_terminal(msg, TOOL_MESSAGE_MAX) : NULL;
        fprintf(stderr, "%svfioctl: %s:%s %s\n", tool_color(stderr, color), label,
                tool_color(stderr, ANSI_RESET), safe ? safe : "(out of memory formatting the message)");
}

void tool_error(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        report("error", ANSI_RED ANSI_BOLD, fmt, ap);
        va_end(ap);
}

void tool_warning(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        report("warning", ANSI_YELLOW, fmt, ap);
        va_end(ap);
}

char *tool_escape(const char *s)
{
        return escape_for_terminal(s ? s : "", TOOL_MESSAGE_MAX);
}

bool tool_use_color(FILE *f)
{
        const char *nc;

        if (arg_color >= 0)
                return arg_color;
        nc = getenv("NO_COLOR");
        if (nc && *nc)
                return false;
        return isatty(fileno(f)) && getenv("TERM") && strcmp(getenv("TERM"), "dumb") != 0;
}

const char *tool_color(FILE *f, const char *ansi)
{
        return tool_use_color(f) ? ansi : "";
}

int tool_open_host(vfio_host **ret)
{
        int r;

        r = vfio_host_open(arg_root, ret);
        if (r < 0) {
                tool_error(
                        "cannot open the host root %s: %s (--root must name a directory holding sys/, proc/)",
                        arg_root ? arg_root : "/", strerror(-r));
                return r;
        }
        return 0;
}

int tool_check_arity(int nargs)
{
        if (nargs < (int)current_verb->min_args || nargs > (int)current_verb->max_args) {
                tool_error("%s: expected %s%u argument%s; usage: vfioctl %s", current_verb->name,
                           current_verb->min_args == current_verb->max_args ? "" : "at most ",
                           current_verb->max_args, current_verb->max_args == 1 ? "" : "s",
                           current_verb->synopsis);
                return -EINVAL;
        }
        return 0;
}

int tool_run_verb(int argc, char **argv)
{
        const verb *saved = current_verb;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (strcmp(argv[0], verbs[i].name) == 0) {
                        current_verb = &verbs[i];
                        optind = 0; /* each verb parses its own options from the start */
                        r = verbs[i].run(argc, argv);
                        current_verb = saved;
                        return r;
                }
        return EXIT_USAGE;
}

int tool_load_model(const vfio_host *h, vfio_model **ret)
{
        _cleanup_(vfio_model_freep) vfio_model *m = NULL;
        int r;

        r = vfio_model_load(h, &m);
        if (r < 0) {
                tool_error("cannot read the host's PCI devices below %s: %s", vfio_host_root(h),
                           strerror(-r));
                return r;
        }
        STRV_FOREACH(p, m->problems)
                tool_warning("%s%s%s (ignored; the listing may be incomplete)",
                             vfio_host_is_live(h) ? "/" : vfio_host_root(h), vfio_host_is_live(h) ? "" : "/",
                             *p);
        *ret = TAKE_PTR(m);
        return 0;
}

int tool_load_config(const char *arg, vm_config **ret)
{
        _cleanup_strv_free_ char **errors = NULL;
        int r;

        r = vm_load_config(arg, ret, &errors);
        STRV_FOREACH(e, errors)
                tool_error("%s", *e);
        return r;
}

int tool_load_config_trusted(const char *arg, vm_config **ret)
{
        _cleanup_strv_free_ char **errors = NULL;
        int r;

        r = vfio_perm_load_config(arg, ret, &errors);
        STRV_FOREACH(e, errors)
                tool_error("%s", *e);
        return r;
}

int tool_check_boot_program(const vfio_host *h, const char *path)
{
        _cleanup_(vfio_perm_issue_freep) vfio_perm_issue *issue = NULL;
        int r;

        /* Below --root the program is this build's, not a file of the tree the unit is written into. */
        if (!vfio_host_is_live(h))
                return 0;
        /* Judged against an account in no group of root's: only root may be able to change it. */
        char *groups[] = { NULL };
        const vfio_account anyone = {
                .name = (char *)"anyone", .uid = 65534, .gid = 65534, .groups = groups
        };

        r = vfio_perm_check_path(h, path, &anyone, 0, &issue);
        if (r == 1) {
                tool_error(
                        "%s: %s is %s (uid %u, gid %u, mode %04o): root would run this program at every boot (vfioctl-bind.service), so whoever can change it would get root; run an installed vfioctl (/usr/bin/vfioctl) or fix: %s",
                        path, issue->path, vfio_perm_reason_to_string(issue->reason), issue->uid, issue->gid,
                        issue->mode, issue->fix);
                return -EPERM;
        }
        if (r < 0) {
                tool_error("%s: cannot check who can change it: %s", path, strerror(-r));
                return r;
        }
        return 0;
}

bool tool_vm_name(const char *s)
{
        if (vm_name_valid(s))
                return true;
        tool_error("'%s' is not a VM name: 1 to 64 of letters, digits, - _ . (not starting with - or .)", s);
        return false;
}

static void help(FILE *f)
{
        fprintf(f,
                "vfioctl %s: GPU passthrough (VFIO) from a bare host to a running VM\n\n"
                "Usage: vfioctl [OPTIONS] VERB [ARGS...]\n\n"
                "Verbs:\n",
                VFIOCTL_VERSION);
        /* Synopses are long: the synopsis on its own line, what the verb does indented below it. */
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
                fprintf(f, "  %s\n      %s\n", verbs[i].synopsis, verbs[i].help);
        fprintf(f, "\nOptions:\n"
                   "  --root DIR        read every host fact below DIR instead of / (also VFIOCTL_ROOT;\n"
                   "                    both are ignored when vfioctl runs setuid)\n"
                   "  --json            machine-readable output (stable keys, see vfioctl(1))\n"
                   "  --color WHEN      auto (default), always or never; NO_COLOR is honoured\n"
                   "  --debug           log library decisions to stderr\n"
                   "  -h, --help        show this help\n"
                   "  --version         show the version\n");
}

/*
 * Installed setuid or setgid (or with file capabilities), vfioctl keeps nothing of it: it becomes its
 * caller again, for good, before it reads an argument. Every path the caller names (import-libvirt -o,
 * create --output, export-libvirt -o, cmdline FILE, a config to start) is then opened with the caller's
 * own rights, and the verbs that need root (bind, setup, start for another user) refuse as they do for
 * any user. Root's verbs are run through sudo or the vfioctl@.service unit instead (docs/SECURITY.md,
 * "Installed setuid"). The environment stays ignored (secure_getenv), as the man page says.
 */
static int become_caller(void)
{
        uid_t ruid = getuid(), r, e, s;
        gid_t rgid = getgid(), rg, eg, sg;

        if (setresgid(rgid, rgid, rgid) < 0 || setresuid(ruid, ruid, ruid) < 0)
                return -errno;
        if (ruid != 0) {
                /* setresuid to non-zero ids clears capabilities gained from root; file capabilities of a
                 * non-root caller stay unless dropped too. */
                struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
                struct __user_cap_data_struct none[2] = {};

                if (syscall(SYS_capset, &hdr, none) < 0)
                        return -errno;
        }
        if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0)
                return -errno;
        if (r != ruid || e != ruid || s != ruid || rg != rgid || eg != rgid || sg != rgid)
                return -EPERM;
        /* Proven for good: the old identity cannot be taken back. */
        if (ruid != 0 && (setresuid((uid_t)-1, 0, (uid_t)-1) == 0 || geteuid() == 0))
                return -EPERM;
        return 0;
}

int main(int argc, char **argv)
{
        enum { OPT_ROOT = 0x100, OPT_JSON, OPT_COLOR, OPT_DEBUG, OPT_VERSION };
        static const struct option options[] = {
                { "root", required_argument, NULL, OPT_ROOT },
                { "json", no_argument, NULL, OPT_JSON },
                { "color", required_argument, NULL, OPT_COLOR },
                { "debug", no_argument, NULL, OPT_DEBUG },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {},
        };
        const verb *v = NULL;
        int c;

        /* Nothing vfioctl (or the QEMU it starts) creates is group- or world-writable, whatever umask the
         * caller left; wider modes are set explicitly where they are meant (hostfile.c). */
        umask(022);
        if (getauxval(AT_SECURE)) {
                int r = become_caller();

                if (r < 0) {
                        fprintf(stderr,
                                "vfioctl: error: installed setuid/setgid, and giving that up failed: %s; refusing to run\n",
                                strerror(-r));
                        return EXIT_NOPERM;
                }
        }
        /* secure_getenv: a setuid vfioctl must never let the caller redirect host writes. */
        arg_root = secure_getenv("VFIOCTL_ROOT");
        /* Fault-injection tests only (tests/fault/): die by SIGKILL at the Nth file-changing step. */
        if (secure_getenv("VFIOCTL_TEST_KILL_AT_STEP")) {
                uint64_t step;

                if (parse_uint(secure_getenv("VFIOCTL_TEST_KILL_AT_STEP"), 10, 100000, &step) >= 0)
                        fault_set_kill_at((unsigned)step);
        }
        if (secure_getenv("VFIOCTL_DEBUG"))
                log_set_debug(true);

        /* Global options come before the verb; "+" stops at the first non-option (the verb). */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
                switch (c) {
                case OPT_ROOT:
                        arg_root = optarg;
                        break;
                case OPT_JSON:
                        arg_json = true;
                        break;
                case OPT_COLOR:
                        if (strcmp(optarg, "auto") == 0)
                                arg_color = -1;
                        else if (strcmp(optarg, "always") == 0)
                                arg_color = 1;
                        else if (strcmp(optarg, "never") == 0)
                                arg_color = 0;
                        else {
                                tool_error("--color: '%s' is not one of auto, always, never", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case OPT_DEBUG:
                        log_set_debug(true);
                        break;
                case 'h':
                        help(stdout);
                        return EXIT_OK;
                case OPT_VERSION:
                        printf("vfioctl %s\n", VFIOCTL_VERSION);
                        return EXIT_OK;
                default:
                        fprintf(stderr, "Try 'vfioctl --help'.\n");
                        return EXIT_USAGE;
                }
        }
        /* A setuid/setgid vfioctl must never let its caller redirect reads or writes (rdma-core does the
         * same for its sysfs path): AT_SECURE covers setuid, setgid and file capabilities. */
        if (getauxval(AT_SECURE) && arg_root) {
                tool_warning("--root is ignored when vfioctl runs setuid or setgid; reading /");
                arg_root = NULL;
        }
        if (optind >= argc) {
                help(stderr);
                return EXIT_USAGE;
        }
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
                if (strcmp(argv[optind], verbs[i].name) == 0)
                        v = &verbs[i];
        if (!v) {
                tool_error("unknown verb '%s'; 'vfioctl --help' lists them", argv[optind]);
                return EXIT_USAGE;
        }
        /* The verb parses its own options; argv[0] becomes the verb name for its messages. */
        /* Verbs that do not print their own help get the verb table's: synopsis, purpose, the man page. */
        if (!v->own_help)
                for (int i = optind + 1; i < argc && strcmp(argv[i], "--") != 0; i++)
                        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                                printf("Usage: vfioctl %s\n\n%s.\n\nEvery option is described in vfioctl(1) (man -l man/vfioctl.1 in the source tree).\n",
                                       v->synopsis, v->help);
                                return EXIT_OK;
                        }
        current_verb = v;
        argc -= optind;
        argv += optind;
        optind = 0;
        return v->run(argc, argv);
}
