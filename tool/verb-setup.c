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

int verb_setup(int argc, char **argv)
{
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
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_(vfio_model_freep) vfio_model *m = NULL;
        _cleanup_(vfio_selection_freep) vfio_selection *sel = NULL;
        _cleanup_(vfio_setup_plan_freep) vfio_setup_plan *plan = NULL;
        _cleanup_strv_free_ char **usb = NULL, **log = NULL, **vm_selectors = NULL;
        _cleanup_free_ char *diff = NULL;
        _cleanup_(vm_config_freep) vm_config *vm_conf = NULL;
        vfio_setup_opts o = {};
        bool dry_run = false, undo = false;
        const char *vm = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case OPT_VM:
                        vm = optarg;
                        break;
                case OPT_USER:
                        o.user = optarg;
                        break;
                case OPT_GROUP:
                        o.group = optarg;
                        break;
                case OPT_MEMORY:
                case OPT_HUGEPAGES: {
                        uint64_t v;

                        if (parse_size(optarg, &v) < 0 || v == 0) {
                                tool_error("--%s: '%s' is not a size (e.g. 16G, 8192M)",
                                           c == OPT_MEMORY ? "memory" : "hugepages", optarg);
                                return EXIT_USAGE;
                        }
                        if (c == OPT_MEMORY)
                                o.memory = v;
                        else
                                o.hugepages = v;
                        break;
                }
                case OPT_USB:
                        if (strlen(optarg) != 9 || optarg[4] != ':' ||
                            strspn(optarg, "0123456789abcdefABCDEF:") != 9) {
                                tool_error("--usb: '%s' is not VENDOR:PRODUCT (e.g. 046d:c52b, see lsusb)",
                                           optarg);
                                return EXIT_USAGE;
                        }
                        if (strv_extend(&usb, optarg) < 0)
                                return EXIT_FAILURE_GENERIC;
                        break;
                case OPT_CREATE_USER:
                        o.create_user = true;
                        break;
                case OPT_WITH_GROUP:
                        o.with_group = true;
                        break;
                case OPT_FORCE:
                        o.force = true;
                        break;
                case OPT_DRY_RUN:
                        dry_run = true;
                        break;
                case OPT_UNDO:
                        undo = true;
                        break;
                case OPT_APPLY_CMDLINE:
                        o.apply_cmdline = true;
                        break;
                case OPT_VFIOCTL_PATH:
                        if (optarg[0] != '/') {
                                tool_error("--vfioctl-path: '%s' must be absolute (systemd ExecStart=)",
                                           optarg);
                                return EXIT_USAGE;
                        }
                        o.vfioctl_path = optarg;
                        break;
                case 'h':
                        printf("vfioctl setup [SELECTOR...] [--user U] [--memory SIZE] [--hugepages SIZE] [--usb VID:PID] [--create-user]\n"
                               "              [--with-group] [--force] [--dry-run] [--undo] [--apply-cmdline]\n"
                               "See docs/bind.md or vfioctl(1).\n");
                        return EXIT_OK;
                default:
                        return EXIT_USAGE;
                }
        }
        o.usb = usb;
        if (vm) {
                /* The VM file names the devices, memory, hugepages and USB devices; options given on the
                 * command line win, and selectors given beside --vm are added. */
                vm_needs n;

                r = tool_load_config(vm, &vm_conf);
                if (r >= 0)
                        r = vm_needs_from_config(vm_conf, &n);
                if (r < 0)
                        return r == -EINVAL ? EXIT_DATAERR : EXIT_USAGE;
                STRV_FOREACH(d, n.devices)
                        if (strv_extend(&vm_selectors, *d) < 0) {
                                vm_needs_done(&n);
                                return EXIT_FAILURE_GENERIC;
                        }
                STRV_FOREACH(u, n.usb)
                        if (!strv_contains(usb, *u) && strv_extend(&usb, *u) < 0) {
                                vm_needs_done(&n);
                                return EXIT_FAILURE_GENERIC;
                        }
                if (!o.memory)
                        o.memory = n.memory;
                if (!o.hugepages)
                        o.hugepages = n.hugepages;
                o.uinput = n.input_relay;
                vm_needs_done(&n);
                o.usb = usb;
                setup_vm_media(vm_conf, &o);
        }
        for (int i = optind; i < argc; i++)
                if (strv_extend(&vm_selectors, argv[i]) < 0)
                        return EXIT_FAILURE_GENERIC;
        if (o.create_user && !o.user) {
                tool_error("--create-user needs --user NAME");
                return EXIT_USAGE;
        }
        if (tool_open_host(&h) < 0)
                return EXIT_FAILURE_GENERIC;
        if (vfio_host_is_live(h) && !dry_run && geteuid() != 0) {
                tool_error(
                        "setup writes below /etc: run it as root (sudo vfioctl setup ...), or add --dry-run");
                return EXIT_FAILURE_GENERIC;
        }
        if (undo) {
                if (dry_run) {
                        printf("Would undo what %s/%s lists.\n", vfio_host_root(h), VFIO_SETUP_MANIFEST);
                        return EXIT_OK;
                }
                r = vfio_setup_undo(h, o.force, &log);
                STRV_FOREACH(l, log)
                        printf("%s\n", *l);
                if (r == -ENOENT) {
                        printf("Nothing to undo: no %s.\n", VFIO_SETUP_MANIFEST);
                        return EXIT_OK;
                }
                if (r == -EBUSY) {
                        /* Files the admin edited since setup wrote them are kept on purpose (listed above).
                         */
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
        if (tool_load_model(h, &m) < 0)
                return EXIT_FAILURE_GENERIC;
        r = tool_resolve_selection(h, m, vm_selectors ? vm_selectors : argv + optind, 0, &sel);
        if (r != EXIT_OK)
                return r;
        r = vfio_setup_plan_new(h, m, sel, &o, &plan);
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
        if (dry_run) {
                r = vfio_setup_diff(h, plan, &diff);
                if (r < 0) {
                        tool_error("cannot compare with the files below %s: %s", vfio_host_root(h),
                                   strerror(-r));
                        return EXIT_FAILURE_GENERIC;
                }
                fputs(diff, stdout);
        } else {
                _cleanup_free_ char *failed = NULL;

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
                if (o.create_user && vfio_host_is_live(h)) {
                        r = vfio_useradd_system(o.user, o.group ? o.group : "kvm");
                        if (r < 0)
                                tool_warning("%s failed; create the user by hand (command below)",
                                             VFIO_USERADD_PATH);
                        else {
                                printf("created user %s\n", o.user);
                                /* Done: drop it from the commands left to the user. */
                                for (char **cmd = plan->commands; cmd && *cmd; cmd++)
                                        if (strncmp(*cmd, VFIO_USERADD_PATH " ",
                                                    strlen(VFIO_USERADD_PATH) + 1) == 0) {
                                                free(*cmd);
                                                memmove(cmd, cmd + 1,
                                                        (strv_length(cmd + 1) + 1) * sizeof(char *));
                                                break;
                                        }
                        }
                }
        }
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
        return EXIT_OK;
}
