/* vfioctl check: host readiness for passthrough, grouped checks with evidence and fixes, plus quirks. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parse-util.h"
#include "strv.h"
#include "tool.h"
#include "vfioctl/account.h"
#include "vfioctl/audio-probe.h"
#include "vfioctl/check.h"
#include "vfioctl/isolate.h"
#include "vfioctl/model.h"
#include "vfioctl/pciids.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/qmp-probe.h"
#include "vfioctl/selector.h"
#include "vfioctl/vmneeds.h"

/* Exit codes of check (docs/check.md): the verdict, so scripts can gate on it. */
enum {
        EXIT_CHECK_READY = 0,
        EXIT_CHECK_WARNINGS = 1,
        EXIT_CHECK_NOT_READY = 2,
};

/* What check --vm asks about the VM's sound and Looking Glass (docs/audio.md); strings point into c or the
 * bufs. */
static int check_vm_media(const vfio_host *h, const vm_config *c, vfio_check_options *o, char **user_buf,
                          char **socket_buf)
{
        _cleanup_(vfio_account_freep) vfio_account *a = NULL;
        const char *user;

        o->desktop_user = c->vm.desktop_user;
        if (c->looking_glass.enabled) {
                o->lg_path = vm_looking_glass_path(c);
                o->lg_kvmfr = c->looking_glass.device == VM_LG_KVMFR;
                o->lg_size = vm_looking_glass_bytes(c);
        }
        if (!c->audio.enabled || c->audio.backend == VM_AUDIO_NONE ||
            vm_audio_server_of(c) == VM_SERVER_NONE)
                return 0;
        o->audio_driver = c->audio.backend == VM_AUDIO_PA ? "pa" : "alsa";
        if (c->audio.backend != VM_AUDIO_PA)
                return 0;
        /* The socket start will give QEMU, for the user QEMU will run as. */
        if (!o->user && !(*user_buf = vfio_check_default_user(h)))
                return -ENOMEM;
        user = o->user ? o->user : *user_buf;
        if (vfio_account_lookup(h, user, &a) == -ENOMEM)
                return -ENOMEM;
        {
                vm_argv_paths p = { .user = user,
                                    .uid = a ? a->uid : getuid(),
                                    .root = vfio_host_is_live(h) ? NULL : vfio_host_root(h) };

                *socket_buf = vm_qemu_audio_server(c, &p);
                if (!*socket_buf)
                        return -ENOMEM;
                o->audio_socket = *socket_buf;
                o->audio_grant = vm_qemu_audio_granted(c, &p);
        }
        o->audio_probe = vm_audio_probe;
        return 0;
}

/* Resolves the VM's selectors on this host, adding slot companions, into addresses for --pass. */
static int check_vm_devices(const vfio_host *h, char **selectors, char ***pass)
{
        _cleanup_(vfio_model_freep) vfio_model *m = NULL;
        _cleanup_(vfio_selection_freep) vfio_selection *sel = NULL;
        _cleanup_(vfio_pci_names_freep) vfio_pci_names *names = NULL;
        int r;

        if (!selectors || !selectors[0])
                return 0;
        if (tool_load_model(h, &m) < 0)
                return -EIO;
        (void)vfio_pci_names_new(NULL, &names);
        r = vfio_selection_resolve(h, m, names, selectors, 0, &sel);
        if (r < 0) {
                STRV_FOREACH(p, sel ? sel->problems : NULL)
                        tool_error("check --vm: %s", *p);
                return r;
        }
        for (size_t i = 0; i < sel->n; i++)
                if (!strv_contains(*pass, sel->items[i].name) && strv_extend(pass, sel->items[i].name) < 0)
                        return -ENOMEM;
        return 0;
}

static const struct {
        const char *id, *heading;
} groups[] = {
        { "cpu", "CPU and KVM" }, { "iommu", "IOMMU" },
        { "vfio", "VFIO" },       { "access", "Device access" },
        { "memory", "Memory" },   { "firmware", "Guest firmware" },
        { "qemu", "QEMU" },       { "kernel", "Kernel" },
        { "devices", "Devices" }, { "desktop", "Sound and picture for the desktop user" },
};

static json_object *jstr(const char *s)
{
        return s ? json_object_new_string(s) : NULL;
}

static int print_json(const vfio_host *h, const vfio_check_report *R, const vm_isolate_caps *iso)
{
        json_object *root = json_object_new_object(), *checks = json_object_new_array(),
                    *quirks = json_object_new_array(), *devs = json_object_new_object(),
                    *tp = json_object_new_array(), *cand = json_object_new_array();

        json_object_object_add(root, "verdict",
                               json_object_new_string(vfio_check_verdict_to_string(R->verdict)));
        json_object_object_add(root, "user", jstr(R->user));
        for (size_t i = 0; R->to_pass[i]; i++) {
                json_object *d = json_object_new_object();

                json_object_object_add(d, "address", jstr(R->to_pass[i]));
                json_object_object_add(d, "why", jstr(R->pass_why[i]));
                json_object_array_add(tp, d);
        }
        STRV_FOREACH(c, R->candidates)
                json_object_array_add(cand, json_object_new_string(*c));
        json_object_object_add(devs, "to_pass", tp);
        json_object_object_add(devs, "candidates", cand);
        json_object_object_add(root, "devices", devs);
        for (size_t i = 0; i < R->n; i++) {
                const vfio_check *c = &R->checks[i];
                json_object *o = json_object_new_object();

                json_object_object_add(o, "id", jstr(c->id));
                json_object_object_add(o, "group", jstr(c->group));
                json_object_object_add(o, "status", jstr(vfio_check_status_to_string(c->status)));
                json_object_object_add(o, "title", jstr(c->title));
                json_object_object_add(o, "evidence", jstr(c->evidence));
                json_object_object_add(o, "fix", jstr(c->fix));
                json_object_object_add(o, "device", jstr(c->device));
                json_object_array_add(checks, o);
        }
        for (size_t i = 0; i < R->quirks->n; i++) {
                const vfio_quirk_match *m = &R->quirks->items[i];
                json_object *o = json_object_new_object(), *settings = json_object_new_array();
                _cleanup_free_ char *fix = vfio_check_expand_fix(h, m->quirk->fix);

                json_object_object_add(o, "id", jstr(m->quirk->id));
                json_object_object_add(o, "action", jstr(vfio_quirk_action_to_string(m->action)));
                json_object_object_add(o, "candidate", json_object_new_boolean(m->candidate));
                json_object_object_add(o, "device", jstr(m->device));
                json_object_object_add(o, "related", jstr(m->related));
                json_object_object_add(o, "title", jstr(m->quirk->title));
                json_object_object_add(o, "evidence", jstr(m->evidence));
                json_object_object_add(o, "explanation", jstr(m->quirk->explanation));
                json_object_object_add(o, "source", jstr(m->quirk->source));
                json_object_object_add(o, "fix", jstr(fix));
                for (const char *const *s = m->quirk->settings; s && *s; s++)
                        json_object_array_add(settings, json_object_new_string(*s));
                json_object_object_add(o, "settings", settings);
                json_object_object_add(o, "settings_applied",
                                       m->quirk->settings ? jstr(vfio_quirk_settings_when(m->quirk)) : NULL);
                json_object_array_add(quirks, o);
        }
        json_object_object_add(root, "checks", checks);
        {
                json_object *pr = json_object_new_array();

                STRV_FOREACH(p, R->problems)
                        json_object_array_add(pr, json_object_new_string(*p));
                json_object_object_add(root, "problems", pr);
        }
        json_object_object_add(root, "quirks", quirks);
        if (iso) {
                json_object *o = json_object_new_object();

                json_object_object_add(o, "systemd", json_object_new_boolean(iso->systemd));
                json_object_object_add(o, "cgroup2", json_object_new_boolean(iso->cgroup2));
                json_object_object_add(o, "cpuset", json_object_new_boolean(iso->cpuset));
                json_object_object_add(o, "irq", json_object_new_boolean(iso->irq));
                json_object_object_add(o, "cpufreq", json_object_new_boolean(iso->cpufreq));
                json_object_object_add(o, "performance", json_object_new_boolean(iso->performance));
                json_object_object_add(root, "isolation", o);
        }
        puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(root);
        return 0;
}

static void status_tag(vfio_check_status s)
{
        static const char *const tags[] = { "[ ok ]", "[skip]", "[warn]", "[FAIL]" };
        static const char *const colors[] = { ANSI_GREEN, ANSI_DIM, ANSI_YELLOW, ANSI_RED ANSI_BOLD };

        printf("  %s%s%s ", tool_color(stdout, colors[s]), tags[s], tool_color(stdout, ANSI_RESET));
}

/* What [cpu] isolate can use here: how host tasks are confined, IRQ steering, the governor. */
static void print_isolation(const vm_isolate_caps *iso)
{
        printf("\n%sHost isolation while a VM runs ([cpu] isolate)%s\n", tool_color(stdout, ANSI_BOLD),
               tool_color(stdout, ANSI_RESET));
        printf("  host tasks:  %s\n",
               iso->systemd
                       ? "confined through systemd (AllowedCPUs on init.scope, system.slice, user.slice)"
               : iso->cgroup2 && iso->cpuset
                       ? "confined through the cgroup v2 cpuset (sys/fs/cgroup)"
                       : "cannot be confined: no systemd and no cgroup v2 cpuset (isolate = yes is refused)");
        printf("  device IRQs: %s\n",
               iso->irq ? "steered off the vCPUs' CPUs (proc/irq)" : "not steerable (no proc/irq)");
        printf("  governor:    %s\n", iso->performance ? "performance on the vCPUs' CPUs"
                                      : iso->cpufreq   ? "unchanged (cpufreq has no performance governor)"
                                                       : "unchanged (no cpufreq)");
}

static void print_text(const vfio_host *h, const vfio_check_report *R, const vm_isolate_caps *iso)
{
        static const char *const qtags[] = { "[info]", "[warn]", "[FAIL]" };
        static const char *const qcolors[] = { ANSI_DIM, ANSI_YELLOW, ANSI_RED ANSI_BOLD };

        printf("Host readiness for VFIO passthrough (root %s, VM user %s)\n", vfio_host_root(h), R->user);
        for (size_t g = 0; g < ELEMENTSOF(groups); g++) {
                bool heading = false;

                for (size_t i = 0; i < R->n; i++) {
                        const vfio_check *c = &R->checks[i];

                        if (strcmp(c->group, groups[g].id) != 0)
                                continue;
                        if (!heading) {
                                printf("\n%s%s%s\n", tool_color(stdout, ANSI_BOLD), groups[g].heading,
                                       tool_color(stdout, ANSI_RESET));
                                heading = true;
                        }
                        status_tag(c->status);
                        printf("%s  %s(%s)%s\n", c->title, tool_color(stdout, ANSI_DIM), c->id,
                               tool_color(stdout, ANSI_RESET));
                        printf("         %s\n", c->evidence);
                        if (c->fix && c->status >= VFIO_CHECK_WARN)
                                printf("         %sfix:%s %s\n", tool_color(stdout, ANSI_BOLD),
                                       tool_color(stdout, ANSI_RESET), c->fix);
                }
        }
        if (R->quirks->n) {
                printf("\n%sKnown hardware quirks%s\n", tool_color(stdout, ANSI_BOLD),
                       tool_color(stdout, ANSI_RESET));
                for (size_t i = 0; i < R->quirks->n; i++) {
                        const vfio_quirk_match *m = &R->quirks->items[i];
                        _cleanup_free_ char *fix = vfio_check_expand_fix(h, m->quirk->fix);

                        printf("  %s%s%s %s  %s(%s%s)%s\n", tool_color(stdout, qcolors[m->action]),
                               qtags[m->action], tool_color(stdout, ANSI_RESET), m->quirk->title,
                               tool_color(stdout, ANSI_DIM), m->quirk->id,
                               m->candidate ? ", candidate only" : "", tool_color(stdout, ANSI_RESET));
                        printf("         %s\n", m->evidence);
                        printf("         %s\n", m->quirk->explanation);
                        printf("         source: %s\n", m->quirk->source);
                        if (fix)
                                printf("         %sfix:%s %s\n", tool_color(stdout, ANSI_BOLD),
                                       tool_color(stdout, ANSI_RESET), fix);
                        if (m->quirk->settings) {
                                printf("         VM settings %s:", vfio_quirk_settings_how(m->quirk));
                                for (const char *const *s = m->quirk->settings; *s; s++)
                                        printf(" %s", *s);
                                putchar('\n');
                        }
                }
        }
        if (iso)
                print_isolation(iso);
        printf("\nVerdict: %s%s%s\n",
               tool_color(stdout, R->verdict == VFIO_CHECK_FAIL   ? ANSI_RED ANSI_BOLD
                                  : R->verdict == VFIO_CHECK_WARN ? ANSI_YELLOW
                                                                  : ANSI_GREEN),
               R->verdict == VFIO_CHECK_FAIL   ? "not ready"
               : R->verdict == VFIO_CHECK_WARN ? "ready, with warnings"
                                               : "ready",
               tool_color(stdout, ANSI_RESET));
}

/*
 * check --vm NAME: the VM's config loaded into *conf, its memory, input relay, user, media and devices
 * added to o and *pass; *h opened. EXIT_OK, or the exit code verb_check returns.
 */
static int check_for_vm(const char *vm, vfio_check_options *o, vfio_host **h, vm_config **conf,
                        char **vm_user, char **user_buf, char **socket_buf, char ***pass)
{
        vm_needs n;
        int r;

        r = tool_load_config(vm, conf);
        if (r < 0)
                return r == -EINVAL ? EXIT_DATAERR : EXIT_USAGE; /* reported by tool_load_config */
        r = vm_needs_from_config(*conf, &n);
        if (r < 0)
                return EXIT_FAILURE_GENERIC;
        if (!o->memory)
                o->memory = n.memory;
        o->input_relay = n.input_relay;
        o->vm_name = vm; /* as the user named it: the fixes repeat it */
        /* The VM's own user is the one checked, unless --user names another. */
        if (!o->user && (*conf)->vm.user && !(o->user = *vm_user = strdup((*conf)->vm.user))) {
                vm_needs_done(&n);
                return EXIT_FAILURE_GENERIC;
        }
        if (tool_open_host(h) < 0) {
                vm_needs_done(&n);
                return EXIT_CHECK_NOT_READY;
        }
        r = check_vm_media(*h, *conf, o, user_buf, socket_buf);
        /* The VM's devices join any named with --pass, with the other functions of their slots
         * (functions = auto passes them too); --memory, when given, wins. */
        if (r >= 0)
                r = check_vm_devices(*h, n.devices, pass);
        vm_needs_done(&n);
        if (r < 0)
                return r == -ENOMEM ? EXIT_FAILURE_GENERIC : EXIT_USAGE;
        return EXIT_OK;
}

int verb_check(int argc, char **argv)
{
        enum { OPT_JSON = 0x100, OPT_VM, OPT_USER, OPT_MEMORY, OPT_NO_PROBE, OPT_PASS, OPT_FORCE };
        static const struct option options[] = {
                { "json", no_argument, NULL, OPT_JSON },
                { "vm", required_argument, NULL, OPT_VM },
                { "user", required_argument, NULL, OPT_USER },
                { "memory", required_argument, NULL, OPT_MEMORY },
                { "no-probe", no_argument, NULL, OPT_NO_PROBE },
                { "pass", required_argument, NULL, OPT_PASS },
                { "force", no_argument, NULL, OPT_FORCE },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_(vfio_check_report_freep) vfio_check_report *R = NULL;
        _cleanup_strv_free_ char **pass = NULL;
        _cleanup_free_ char *bad = NULL, *vm_user = NULL, *user_buf = NULL, *socket_buf = NULL;
        _cleanup_(vm_config_freep) vm_config *vm_conf = NULL;
        vfio_check_options o = { .probe = vfio_qmp_probe_run };
        const char *vm = NULL;
        vm_isolate_caps iso;
        bool has_iso = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case OPT_JSON:
                        arg_json = true;
                        break;
                case OPT_VM:
                        vm = optarg;
                        break;
                case OPT_USER:
                        o.user = optarg;
                        break;
                case OPT_MEMORY:
                        if (parse_size(optarg, &o.memory) < 0 || o.memory == 0) {
                                tool_error("check: --memory '%s' is not a size such as 16G or 16384M",
                                           optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case OPT_NO_PROBE:
                        o.probe = NULL;
                        break;
                case OPT_PASS:
                        /* No comma splitting: identity selectors carry ",dsn=..." (selector.h). */
                        if (strv_extend(&pass, optarg) < 0)
                                return EXIT_FAILURE_GENERIC;
                        break;
                case OPT_FORCE:
                        o.force = true;
                        break;
                case 'h':
                        printf("vfioctl check [--json] [--pass SELECTOR]... [--user USER] [--memory SIZE] [--no-probe] [--force] [--vm NAME]\n\n"
                               "  --pass SEL    a device to pass: PCI address (01:00.0) or vendor:device (10de:1b80);\n"
                               "                repeat it or list several after it. Default: devices on vfio-pci or\n"
                               "                pci-stub or named in vfio-pci ids=; display devices are candidates\n"
                               "  --user USER   the user that runs the VM (default: SUDO_USER or you)\n"
                               "  --memory SIZE guest RAM (16G): compared with memlock and huge pages\n"
                               "  --no-probe    do not start QEMU to ask for its version and devices\n"
                               "  --force       accept devices the host needs (failures become warnings)\n"
                               "  --vm NAME     check for a configured VM: its passed devices and memory\n"
                               "  --json        the report as JSON (keys in docs/check.md)\n\n"
                               "Exit status: 0 ready, 1 warnings only, 2 not ready.\n");
                        return EXIT_OK;
                default:
                        return EXIT_USAGE;
                }
        if (tool_check_arity(argc - optind) < 0)
                return EXIT_USAGE;
        /* "--pass A B C": the words after the options are more selectors, and only with --pass. */
        if (optind < argc && !pass) {
                tool_error("check: unexpected argument '%s'; devices are named with --pass SELECTOR...",
                           argv[optind]);
                return EXIT_USAGE;
        }
        for (int i = optind; i < argc; i++)
                if (strv_extend(&pass, argv[i]) < 0)
                        return EXIT_FAILURE_GENERIC;
        if (vm) {
                r = check_for_vm(vm, &o, &h, &vm_conf, &vm_user, &user_buf, &socket_buf, &pass);
                if (r != EXIT_OK)
                        return r;
        }
        o.pass = pass;
        if (!h && tool_open_host(&h) < 0)
                return EXIT_CHECK_NOT_READY;
        r = vfio_check_run(h, &o, &R, &bad);
        if (r == -ENXIO) {
                tool_error("check: --pass: %s",
                           bad ? bad : "a selector does not resolve ('vfioctl devices' lists them)");
                return EXIT_USAGE;
        }
        if (r < 0) {
                tool_error("check: %s", strerror(-r));
                return EXIT_CHECK_NOT_READY;
        }
        STRV_FOREACH(p, R->problems)
                tool_warning("%s%s%s (ignored; the report may be incomplete)",
                             vfio_host_is_live(h) ? "/" : vfio_host_root(h), vfio_host_is_live(h) ? "" : "/",
                             *p);
        if (vm && vm_isolate_support(h, &iso) >= 0)
                has_iso = true;
        if (arg_json)
                print_json(h, R, has_iso ? &iso : NULL);
        else
                print_text(h, R, has_iso ? &iso : NULL);
        return R->verdict == VFIO_CHECK_FAIL   ? EXIT_CHECK_NOT_READY
               : R->verdict == VFIO_CHECK_WARN ? EXIT_CHECK_WARNINGS
                                               : EXIT_CHECK_READY;
}
