/* vfioctl bind / unbind / rebind: move selected devices to vfio-pci and back, with safety checks. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parse-util.h"
#include "strv.h"
#include "tool.h"
#include "vfioctl/bind.h"
#include "vfioctl/model.h"
#include "vfioctl/pciids.h"
#include "vfioctl/selector.h"

/* Where a live host keeps modprobe; exec'd by absolute path only, never through PATH or a shell. */

static void print_lines(FILE *f, const char *prefix, char *const *l)
{
        STRV_FOREACH(s, l)
                fprintf(f, "%s%s\n", prefix, *s);
}

static const char *action_verb(vfio_bind_action a)
{
        return a == VFIO_BIND_TO_VFIO ? "bind" : a == VFIO_BIND_RESTORE ? "unbind" : "rebind";
}

/* Resolves SELECTORs, reporting every problem; returns an exit code (EXIT_OK to go on). */
int tool_resolve_selection(const vfio_host *h, const vfio_model *m, char *const *selectors, unsigned flags,
                           vfio_selection **ret)
{
        _cleanup_(vfio_pci_names_freep) vfio_pci_names *names = NULL;
        _cleanup_(vfio_selection_freep) vfio_selection *sel = NULL;
        int r;

        if (vfio_pci_names_new(NULL, &names) < 0)
                names = NULL;
        r = vfio_selection_resolve(h, m, names, selectors, flags, &sel);
        if (r == -ENOMEM) {
                tool_error("out of memory");
                return EXIT_FAILURE_GENERIC;
        }
        if (sel)
                STRV_FOREACH(n, sel->notes)
                        tool_warning("%s", *n);
        if (r < 0) {
                STRV_FOREACH(p, sel->problems)
                        tool_error("%s", *p);
                return r == -EINVAL ? EXIT_USAGE : EXIT_FAILURE_GENERIC;
        }
        *ret = TAKE_PTR(sel);
        return EXIT_OK;
}

static int run(int argc, char **argv, vfio_bind_action action)
{
        enum { OPT_WITH_GROUP = 0x100, OPT_FORCE, OPT_DRY_RUN, OPT_BOOT, OPT_FUNCTION_ONLY, OPT_TIMEOUT };
        static const struct option options[] = {
                { "with-group", no_argument, NULL, OPT_WITH_GROUP },
                { "force", no_argument, NULL, OPT_FORCE },
                { "dry-run", no_argument, NULL, OPT_DRY_RUN },
                { "boot", no_argument, NULL, OPT_BOOT },
                { "function-only", no_argument, NULL, OPT_FUNCTION_ONLY },
                { "timeout", required_argument, NULL, OPT_TIMEOUT },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_(vfio_model_freep) vfio_model *m = NULL;
        _cleanup_(vfio_selection_freep) vfio_selection *sel = NULL;
        _cleanup_(vfio_bind_plan_freep) vfio_bind_plan *plan = NULL;
        vfio_bind_opts o = {};
        unsigned flags = 0;
        bool boot = false, timeout_set = false;
        const char *inject;
        uint64_t v;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case OPT_WITH_GROUP:
                        o.with_group = true;
                        break;
                case OPT_FORCE:
                        o.force = true;
                        break;
                case OPT_DRY_RUN:
                        o.dry_run = true;
                        break;
                case OPT_BOOT:
                        boot = true;
                        break;
                case OPT_FUNCTION_ONLY:
                        flags |= VFIO_SELECT_FUNCTION_ONLY;
                        break;
                case OPT_TIMEOUT:
                        if (parse_uint(optarg, 10, 600000, &v) < 0) {
                                tool_error("--timeout: '%s' is not a number of milliseconds (0..600000)",
                                           optarg);
                                return EXIT_USAGE;
                        }
                        o.timeout_ms = (unsigned)v;
                        timeout_set = true;
                        break;
                case 'h':
                        printf("vfioctl %s SELECTOR... [--with-group] [--force] [--dry-run] [--function-only]\n"
                               "SELECTOR: 01:00.0 | 0000:01:00.0 | 10de:1284[:3842:2887] | \"GTX 780 Ti\"[#N]\n"
                               "See docs/bind.md or vfioctl(1).\n",
                               action_verb(action));
                        return EXIT_OK;
                default:
                        return EXIT_USAGE;
                }
        }
        if (optind >= argc) {
                tool_error(
                        "%s: name at least one device (address, vendor:device or name; see 'vfioctl devices')",
                        action_verb(action));
                return EXIT_USAGE;
        }
        if (tool_open_host(&h) < 0)
                return EXIT_FAILURE_GENERIC;
        if (vfio_host_is_live(h)) {
                o.verify = true;
                o.modprobe = MODPROBE_PATH;
                if (boot && !timeout_set)
                        o.timeout_ms = VFIO_BIND_BOOT_TIMEOUT_MS;
                if (geteuid() != 0 && !o.dry_run) {
                        tool_error(
                                "%s writes to /sys/bus/pci: run it as root (sudo vfioctl %s ...), or add --dry-run to see what it would do",
                                action_verb(action), action_verb(action));
                        return EXIT_FAILURE_GENERIC;
                }
        }
        /* Test bed only: fail the Nth sysfs write to prove the rollback (tests/vfio-e2e/cases-bind.sh). */
        inject = secure_getenv("VFIOCTL_TEST_FAIL_WRITE");
        if (inject && parse_uint(inject, 10, 1000, &v) >= 0)
                o.fail_after = (unsigned)v;
        inject = secure_getenv("VFIOCTL_TEST_KILL_AT_WRITE");
        if (inject && parse_uint(inject, 10, 1000, &v) >= 0)
                o.crash_after = (unsigned)v;
        if (tool_load_model(h, &m) < 0)
                return EXIT_FAILURE_GENERIC;
        r = tool_resolve_selection(h, m, argv + optind, flags, &sel);
        if (r != EXIT_OK)
                return r;

        r = vfio_bind_plan_new(h, m, sel, action, &o, &plan);
        if (r < 0) {
                tool_error("cannot plan the %s: %s", action_verb(action), strerror(-r));
                return EXIT_FAILURE_GENERIC;
        }
        STRV_FOREACH(w, plan->warnings)
                tool_warning("%s", *w);
        if (strv_length(plan->refusals) > 0) {
                STRV_FOREACH(x, plan->refusals)
                        tool_error("%s", *x);
                tool_error("nothing was changed");
                return EXIT_FAILURE_GENERIC;
        }
        r = vfio_bind_execute(h, plan, &o);
        if (o.dry_run) {
                printf("Would %s:\n", action_verb(action));
                for (size_t i = 0; i < plan->n; i++)
                        printf("  %s  %-12s -> %-12s (%s)%s\n", plan->devs[i].name,
                               plan->devs[i].driver ? plan->devs[i].driver : "(none)",
                               plan->devs[i].target ? plan->devs[i].target : "(host)", plan->devs[i].reason,
                               plan->devs[i].noop ? " already done" : "");
                if (plan->load_vfio_pci)
                        printf("  load module vfio-pci (%s vfio-pci)\n", MODPROBE_PATH);
                printf("Writes:\n");
                print_lines(stdout, "  /", plan->writes);
                return r < 0 ? EXIT_FAILURE_GENERIC : EXIT_OK;
        }
        print_lines(stdout, boot ? "vfioctl: " : "", plan->log);
        fflush(stdout); /* the log first, then the verdict, also when both go to one file */
        if (r < 0) {
                if (r == -ENOENT && plan->load_vfio_pci)
                        tool_error("vfio-pci is not loaded%s: run 'modprobe vfio-pci' (or 'vfioctl setup')",
                                   vfio_host_is_live(h) ? "" : " below this --root");
                else if (plan->not_restored) {
                        /* Say what is true: some devices are NOT where they were. */
                        _cleanup_free_ char *names = NULL;

                        STRV_FOREACH(d, plan->not_restored) {
                                char *n = NULL;

                                if (asprintf(&n, "%s%s%.*s", names ? names : "", names ? " " : "",
                                             (int)strcspn(*d, "="), *d) < 0)
                                        break;
                                free(names);
                                names = n;
                        }
                        tool_error(
                                "%s failed: %s, and putting back %s failed too (see above): they may be left on vfio-pci; run: vfioctl unbind %s",
                                action_verb(action), strerror(-r), names ? names : "some devices",
                                names ? names : "...");
                } else if (plan->rolled_back)
                        tool_error(
                                "%s failed: %s; the devices it had moved were put back on their drivers (see above; 'vfioctl devices' shows them)",
                                action_verb(action), strerror(-r));
                else
                        tool_error(
                                "%s failed: %s; the devices listed above were changed, the others not ('vfioctl devices' shows where each is)",
                                action_verb(action), strerror(-r));
                return EXIT_FAILURE_GENERIC;
        }
        return EXIT_OK;
}

int verb_bind(int argc, char **argv)
{
        return run(argc, argv, VFIO_BIND_TO_VFIO);
}

int verb_unbind(int argc, char **argv)
{
        return run(argc, argv, VFIO_BIND_RESTORE);
}

int verb_rebind(int argc, char **argv)
{
        return run(argc, argv, VFIO_BIND_REPROBE);
}
