/* vfioctl guide [NAME]: from a bare host to a running VM, step by step; the plan is lib/guide's, this talks.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "parse-util.h"
#include "strv.h"
#include "tool.h"
#include "vfioctl/guide.h"
#include "vfioctl/qmp-probe.h"
#include "vfioctl/storage.h"
#include "vfioctl/vmcreate.h"
#include "vfioctl/vmpaths.h"

/* guide's own exit codes beyond tool.h's (vfioctl(1), guide). */
enum {
        EXIT_GUIDE_FIRMWARE = 2, /* stopped on what only the firmware setup can change */
        EXIT_GUIDE_REBOOT = 75,  /* reboot, then run the same command again (EX_TEMPFAIL) */
};

static const char *arg_gpu, *arg_user, *arg_memory, *arg_cpus, *arg_disk, *arg_iso, *arg_desktop_user;
static bool arg_windows, arg_yes, arg_dry_run;

static int parse_options(int argc, char **argv)
{
        enum {
                OPT_GPU = 0x100,
                OPT_USER,
                OPT_MEMORY,
                OPT_CPUS,
                OPT_DISK,
                OPT_ISO,
                OPT_WINDOWS,
                OPT_DESKTOP_USER,
                OPT_YES,
                OPT_DRY_RUN
        };
        static const struct option options[] = {
                { "gpu", required_argument, NULL, OPT_GPU },
                { "user", required_argument, NULL, OPT_USER },
                { "memory", required_argument, NULL, OPT_MEMORY },
                { "cpus", required_argument, NULL, OPT_CPUS },
                { "disk", required_argument, NULL, OPT_DISK },
                { "iso", required_argument, NULL, OPT_ISO },
                { "windows", no_argument, NULL, OPT_WINDOWS },
                { "desktop-user", required_argument, NULL, OPT_DESKTOP_USER },
                { "yes", no_argument, NULL, OPT_YES },
                { "dry-run", no_argument, NULL, OPT_DRY_RUN },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case OPT_GPU:
                        arg_gpu = optarg;
                        break;
                case OPT_USER:
                        arg_user = optarg;
                        break;
                case OPT_MEMORY:
                        arg_memory = optarg;
                        break;
                case OPT_CPUS:
                        arg_cpus = optarg;
                        break;
                case OPT_DISK:
                        arg_disk = optarg;
                        break;
                case OPT_ISO:
                        arg_iso = optarg;
                        break;
                case OPT_WINDOWS:
                        arg_windows = true;
                        break;
                case OPT_DESKTOP_USER:
                        arg_desktop_user = optarg;
                        break;
                case OPT_YES:
                        arg_yes = true;
                        break;
                case OPT_DRY_RUN:
                        arg_dry_run = true;
                        break;
                case 'h':
                        printf("vfioctl guide [NAME] [--gpu SEL|auto] [--user USER] [--memory SIZE] [--cpus N] [--disk SIZE|PATH]\n"
                               "              [--iso FILE] [--windows] [--desktop-user USER] [--yes] [--dry-run]\n\n"
                               "From this host as it is to a running passthrough VM: checks the host, chooses the GPU, writes the\n"
                               "host setup (setup --undo reverses it), asks for a reboot when one is needed, creates the VM and\n"
                               "starts it as its user. Each change is shown and asked for first; run it again to resume.\n"
                               "See vfioctl(1), guide.\n");
                        return 1;
                default:
                        return -EINVAL;
                }
        return 0;
}

static const char *dim(void)
{
        return tool_color(stdout, ANSI_DIM);
}
static const char *reset(void)
{
        return tool_color(stdout, ANSI_RESET);
}

static void indent(const char *text, const char *prefix)
{
        for (const char *l = text; l && *l;) {
                size_t n = strcspn(l, "\n");

                printf("%s%.*s\n", prefix, (int)n, l);
                l += n + (l[n] == '\n');
        }
}

static void print_cmds(const vfio_hostcmds *l)
{
        for (size_t i = 0; i < l->n; i++) {
                _cleanup_free_ char *s = vfio_hostcmd_format(&l->items[i]);

                printf("       run: %s\n", s ? s : "?");
                printf("       %s(%s)%s\n", dim(), l->items[i].why, reset());
        }
}

/* What applying a step writes or runs, exactly (the setup files as a diff against what is there). */
static void print_actions(const vfio_host *h, const vfio_guide_plan *p, const vfio_guide_step *s)
{
        switch (s->id) {
        case VFIO_GUIDE_SETUP:
                if (p->setup) {
                        _cleanup_free_ char *diff = NULL;

                        if (vfio_setup_diff(h, p->setup, &diff) >= 0 && *diff) {
                                printf("       writes (listed in /%s; vfioctl setup --undo removes them):\n",
                                       VFIO_SETUP_MANIFEST);
                                indent(diff, "         ");
                        }
                }
                break;
        case VFIO_GUIDE_CREATE:
                if (!p->config_text)
                        break; /* no GPU chosen yet: nothing to show */
                if (p->disk_path)
                        printf("       run: qemu-img create -f qcow2 %s %llu%s   (then owned by %s, mode 0600)\n",
                               p->disk_path,
                               (unsigned long long)(p->disk_size % (1ULL << 30) == 0 ? p->disk_size >> 30
                                                                                     : p->disk_size),
                               p->disk_size % (1ULL << 30) == 0 ? "G" : "", p->user);
                printf("       writes /%s (root's, 0644: what start as root and enable accept):\n",
                       p->config_path);
                indent(p->config_text, "         ");
                break;
        case VFIO_GUIDE_VERIFY:
                printf("       runs the host checks for this VM (vfioctl check --vm %s)\n", p->name);
                break;
        case VFIO_GUIDE_START:
                printf("       run: vfioctl start %s --detach   (QEMU as %s), then vfioctl status %s\n",
                       p->name, p->user, p->name);
                break;
        default:
                print_cmds(&s->cmds);
                break;
        }
}

static void print_step(const vfio_host *h, const vfio_guide_plan *p, const vfio_guide_step *s, bool full)
{
        static const char *const colors[] = { ANSI_GREEN, ANSI_BOLD, ANSI_YELLOW, ANSI_RED ANSI_BOLD,
                                              ANSI_DIM };

        printf("[%d/%d] %s: %s%s%s\n", (int)s->id + 1, (int)_VFIO_GUIDE_STEP_MAX,
               vfio_guide_step_title(s->id), tool_color(stdout, colors[s->state]),
               vfio_guide_state_to_string(s->state), reset());
        STRV_FOREACH(e, s->evidence)
                printf("       %s%s%s\n", dim(), *e, reset());
        STRV_FOREACH(w, s->why)
                printf("       %s\n", *w);
        if (full && (s->state == VFIO_GUIDE_TODO || s->state == VFIO_GUIDE_LATER))
                print_actions(h, p, s);
}

static int ask(const char *question, bool default_yes);

/* On a terminal without --gpu: the display devices, the ones that cannot be passed with the reason; the
 * answer (a number, Enter for auto's choice) becomes --gpu. */
static int choose_gpu(const vfio_host *h, char **ret)
{
        vfio_guide_gpu *g = NULL;
        size_t n = 0, def = 0;
        char buf[64];
        uint64_t pick;
        int r;

        r = vfio_guide_gpus(h, &g, &n, &def);
        if (r < 0)
                return r;
        printf("Which GPU goes to the VM? (with every function of its card)\n");
        for (size_t i = 0; i < n; i++)
                printf("  %s%zu) %s %s%s%s%s\n", g[i].why_not ? dim() : "", i + 1, g[i].address,
                       g[i].description, g[i].why_not ? ": not possible, " : "",
                       g[i].why_not ? g[i].why_not : "", g[i].why_not ? reset() : "");
        if (def >= n) {
                vfio_guide_gpus_free(g, n);
                printf("None can be passed: the host needs a second GPU (or to boot on its integrated graphics).\n");
                return -ENXIO;
        }
        printf("GPU [%zu]: ", def + 1);
        fflush(stdout);
        pick = def + 1;
        if (fgets(buf, sizeof(buf), stdin)) {
                buf[strcspn(buf, "\r\n")] = 0;
                if (buf[0] && (parse_uint(buf, 10, n, &pick) < 0 || pick == 0 || g[pick - 1].why_not)) {
                        printf("'%s' is not one of the GPUs that can be passed; run vfioctl guide again to choose\n",
                               buf);
                        vfio_guide_gpus_free(g, n);
                        return -EINVAL;
                }
        }
        *ret = strdup(g[pick - 1].address);
        vfio_guide_gpus_free(g, n);
        return *ret ? 0 : -ENOMEM;
}

static int ask(const char *question, bool default_yes)
{
        char buf[64];

        printf("%s %s ", question, default_yes ? "[Y/n]" : "[y/N]");
        fflush(stdout);
        if (!fgets(buf, sizeof(buf), stdin))
                return 0; /* end of input: no */
        buf[strcspn(buf, "\r\n")] = 0;
        if (!buf[0])
                return default_yes;
        return buf[0] == 'y' || buf[0] == 'Y';
}

/* What the library says while the VM starts (preflight's changes, the supervisor), as start prints it. */
static void on_report(vfio_problem_level level, const char *message, void *userdata)
{
        if (level == VFIO_PROBLEM_ERROR)
                tool_error("%s", message);
        else if (level == VFIO_PROBLEM_WARNING)
                tool_warning("%s", message);
        else
                fprintf(stderr, "%s\n", message);
}

/* The start step: as start --detach does it; then status, and enable offered. */
static int start_step(const vfio_host *h, const vfio_guide_plan *p, bool interactive, bool *ret_busy)
{
        _cleanup_(vfio_problems_freep) vfio_problems *problems = NULL;
        _cleanup_free_ char *err = NULL;
        int pid = 0, r;

        *ret_busy = false;
        if (vfio_problems_new(&problems) < 0)
                return EXIT_FAILURE_GENERIC;
        r = vfio_guide_start(h, p, MODPROBE_PATH, on_report, NULL, problems, &pid, &err);
        for (size_t i = 0; i < problems->n; i++)
                if (problems->items[i].level == VFIO_PROBLEM_WARNING)
                        tool_warning("%s", problems->items[i].message);
        if (r == -EBUSY) {
                *ret_busy = true;
                return EXIT_OK;
        }
        if (r == -EPERM) {
                tool_error("%s was not started; %zu check%s before QEMU failed:", p->name,
                           problems->n_errors, problems->n_errors == 1 ? "" : "s");
                for (size_t i = 0; i < problems->n; i++)
                        if (problems->items[i].level == VFIO_PROBLEM_ERROR) {
                                _cleanup_free_ char *text = vfio_problem_text(&problems->items[i]);

                                fprintf(stderr, "  - %s\n", text ? text : problems->items[i].message);
                        }
                tool_error("fix them, then run vfioctl guide %s again", p->name);
                return EXIT_FAILURE_GENERIC;
        }
        if (r == -EROFS) {
                tool_error("below --root no VM is started: run vfioctl guide %s on the host itself",
                           p->name);
                return EXIT_FAILURE_GENERIC;
        }
        if (r < 0) {
                tool_error("%s did not start: %s; see: vfioctl log %s, then run vfioctl guide %s again",
                           p->name, err ? err : strerror(-r), p->name, p->name);
                return EXIT_FAILURE_GENERIC;
        }
        printf("[%d/%d] %s: done\n       %s runs (pid %d, user %s)\n", (int)VFIO_GUIDE_START + 1,
               (int)_VFIO_GUIDE_STEP_MAX, vfio_guide_step_title(VFIO_GUIDE_START), p->name, pid, p->user);
        printf("$ vfioctl status %s\n", p->name);
        fflush(stdout);
        optind = 0;
        (void)verb_status(2, (char *[]){ (char *)"status", (char *)p->name, NULL });
        if (interactive && ask("Start it at every boot (vfioctl enable)?", false)) {
                optind = 0;
                if (verb_enable(2, (char *[]){ (char *)"enable", (char *)p->name, NULL }) != EXIT_OK)
                        tool_warning("vfioctl enable %s failed; the VM runs, but does not start at boot",
                                     p->name);
        } else
                printf("To start it at every boot: vfioctl enable %s\n", p->name);
        printf("Done: %s runs as %s. Stop it with: vfioctl stop %s   Console: vfioctl console %s\n", p->name,
               p->user, p->name, p->name);
        return EXIT_OK;
}

int verb_guide(int argc, char **argv)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_free_ char *chosen_gpu = NULL, *desktop_user = NULL;
        vfio_storage_tools tools;
        char exe[PATH_MAX];
        const char *name;
        bool interactive, plan_only, header = false;
        unsigned busy_waits = 0;
        int r;

        r = parse_options(argc, argv);
        if (r != 0)
                return r > 0 ? EXIT_OK : EXIT_USAGE;
        if (argc - optind > 1) {
                tool_error("guide takes one VM name");
                return EXIT_USAGE;
        }
        name = optind < argc ? argv[optind] : "vm";
        if (!vm_name_valid(name)) {
                tool_error("'%s' is not a VM name: use letters, digits, '-', '_' and '.' (at most 64)",
                           name);
                return EXIT_USAGE;
        }
        if (!realpath("/proc/self/exe", exe)) {
                tool_error("cannot find this program's path (/proc/self/exe): %m");
                return EXIT_FAILURE_GENERIC;
        }
        if (tool_open_host(&h) < 0)
                return EXIT_FAILURE_GENERIC;
        r = vm_create_desktop_user(h, arg_desktop_user, &desktop_user);
        if (r == -EINVAL) {
                tool_error("--desktop-user: '%s' is not a user name (letters, digits, '.', '_', '-')",
                           arg_desktop_user);
                return EXIT_USAGE;
        }
        if (r < 0)
                return EXIT_FAILURE_GENERIC;
        tool_storage_tools(&tools, NULL);
        interactive = !arg_yes && !arg_dry_run && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
        plan_only = !arg_yes && !arg_dry_run && !interactive;
        if (vfio_host_is_live(h) && !arg_dry_run && !plan_only && geteuid() != 0) {
                tool_error(
                        "guide changes the host: run it as root (sudo vfioctl guide %s ...), or add --dry-run to see what it would do",
                        name);
                return EXIT_FAILURE_GENERIC;
        }
        /* The boot-time bind unit runs this very program as root: it must be one only root can change
         * (not a copy in a user's build tree). */
        if (!arg_dry_run && !plan_only && tool_check_boot_program(h, exe) < 0)
                return EXIT_NOPERM;

        if (interactive && !arg_gpu) {
                r = choose_gpu(h, &chosen_gpu);
                if (r < 0)
                        return r == -ENXIO    ? EXIT_FAILURE_GENERIC
                               : r == -EINVAL ? EXIT_USAGE
                                              : EXIT_FAILURE_GENERIC;
                arg_gpu = chosen_gpu;
        }

        /* Plan, show, apply one step, plan again from what the host now is: done means verified there. */
        for (unsigned round = 0; round < 3 * _VFIO_GUIDE_STEP_MAX; round++) {
                _cleanup_(vfio_guide_plan_freep) vfio_guide_plan *p = NULL;
                _cleanup_strv_free_ char **log = NULL;
                _cleanup_free_ char *err = NULL;
                vfio_guide_opts o = {
                        .name = name,
                        .gpu = arg_gpu,
                        .user = arg_user,
                        .memory = arg_memory,
                        .cpus = arg_cpus,
                        .disk = arg_disk,
                        .iso = arg_iso,
                        .windows = arg_windows,
                        .desktop_user = desktop_user,
                        .vfioctl_path = exe,
                        .probe = round == 0 && vfio_host_is_live(h) ? vfio_qmp_probe_run : NULL,
                        .qemu_img = tools.qemu_img,
                };
                vfio_guide_step *cur = NULL;

                r = vfio_guide_plan_new(h, &o, &p, &err);
                if (r < 0) {
                        tool_error("cannot plan: %s", err ? err : strerror(-r));
                        return r == -EINVAL ? EXIT_USAGE : EXIT_FAILURE_GENERIC;
                }
                if (!header) {
                        printf("vfioctl guide %s: %d steps, VM user %s%s%s\n", name,
                               (int)_VFIO_GUIDE_STEP_MAX, p->user, p->gpu ? ", GPU " : "",
                               p->gpu ? p->gpu : "");
                        STRV_FOREACH(n, p->notes)
                                printf("  note: %s\n", *n);
                        header = true;
                }
                if (arg_dry_run || plan_only) {
                        for (size_t i = 0; i < _VFIO_GUIDE_STEP_MAX; i++)
                                print_step(h, p, &p->steps[i], true);
                        printf("%s\n",
                               arg_dry_run
                                       ? "Dry run: nothing was changed."
                                       : "Nothing was changed: run it on a terminal to be asked before each step, or add --yes.");
                        return EXIT_OK;
                }
                for (size_t i = 0; i < _VFIO_GUIDE_STEP_MAX && !cur; i++) {
                        vfio_guide_step *s = &p->steps[i];

                        if (s->state != VFIO_GUIDE_DONE)
                                cur = s;
                        else if (round == 0)
                                print_step(h, p, s, false);
                }
                if (!cur) {
                        /* Every step verified, the last one too: the VM runs. */
                        if (round > 0)
                                print_step(h, p, &p->steps[VFIO_GUIDE_START], false);
                        printf("Done: %s runs as %s. Stop it with: vfioctl stop %s\n", name, p->user, name);
                        return EXIT_OK;
                }
                print_step(h, p, cur, true);
                switch (cur->state) {
                case VFIO_GUIDE_BLOCKED:
                        tool_error(
                                "stopped at step %d (%s): fix what it says, then run vfioctl guide %s again",
                                (int)cur->id + 1, vfio_guide_step_name(cur->id), name);
                        return cur->firmware ? EXIT_GUIDE_FIRMWARE : EXIT_FAILURE_GENERIC;
                case VFIO_GUIDE_REBOOT_NEEDED:
                        printf("Reboot now (the changes above take effect at boot), then run the same command again: vfioctl guide %s%s\n",
                               name, arg_yes ? " --yes" : "");
                        return EXIT_GUIDE_REBOOT;
                case VFIO_GUIDE_LATER:
                        tool_error("internal: step %d waits for a step that is done", (int)cur->id + 1);
                        return EXIT_FAILURE_GENERIC;
                case VFIO_GUIDE_DONE:
                case VFIO_GUIDE_TODO:
                        break;
                }
                if (interactive) {
                        char q[128];

                        snprintf(q, sizeof(q), "Do step %d of %d (%s)?", (int)cur->id + 1,
                                 (int)_VFIO_GUIDE_STEP_MAX, vfio_guide_step_name(cur->id));
                        if (!ask(q, true)) {
                                printf("Stopped before step %d; nothing of it was changed. Run vfioctl guide %s again to go on.\n",
                                       (int)cur->id + 1, name);
                                return EXIT_FAILURE_GENERIC;
                        }
                }
                vfio_guide_arm_kill(secure_getenv("VFIOCTL_TEST_GUIDE_KILL"), cur->id);
                if (cur->id == VFIO_GUIDE_START) {
                        bool busy;

                        r = start_step(h, p, interactive, &busy);
                        if (!busy)
                                return r;
                        /* Being started by another vfioctl (an earlier run's): wait, then look again. */
                        if (round == 0 || busy_waits == 0)
                                printf("%s is being started by another vfioctl; waiting for it\n", name);
                        if (++busy_waits > 240) {
                                tool_error(
                                        "%s is still being started by another vfioctl after 2 minutes; see: vfioctl status %s",
                                        name, name);
                                return EXIT_BUSY;
                        }
                        (void)usleep(500 * 1000);
                        continue;
                }
                r = vfio_guide_apply(h, p, cur->id, &log, &err);
                STRV_FOREACH(l, log)
                        printf("       %s\n", *l);
                if (r < 0) {
                        tool_error("step %d (%s) failed: %s; run vfioctl guide %s again once that is fixed",
                                   (int)cur->id + 1, vfio_guide_step_name(cur->id), err ? err : strerror(-r),
                                   name);
                        return EXIT_FAILURE_GENERIC;
                }
                {
                        /* Verified, not assumed: the host must now show the step as done. */
                        _cleanup_(vfio_guide_plan_freep) vfio_guide_plan *q = NULL;
                        _cleanup_free_ char *e2 = NULL;
                        vfio_guide_step_id id = cur->id;

                        o.probe = NULL;
                        if (vfio_guide_plan_new(h, &o, &q, &e2) >= 0 &&
                            q->steps[id].state != VFIO_GUIDE_DONE) {
                                print_step(h, q, &q->steps[id], false);
                                tool_error(
                                        "step %d (%s) did not take effect (see above); run vfioctl guide %s again, or fix it by hand",
                                        (int)id + 1, vfio_guide_step_name(id), name);
                                return EXIT_FAILURE_GENERIC;
                        }
                        printf("[%d/%d] %s: done\n", (int)id + 1, (int)_VFIO_GUIDE_STEP_MAX,
                               vfio_guide_step_title(id));
                }
        }
        tool_error("internal: the guide did not finish in %d rounds", 3 * (int)_VFIO_GUIDE_STEP_MAX);
        return EXIT_FAILURE_GENERIC;
}
