/* vfioctl input: list keyboards and mice with stable paths, and the relay that keeps them in the VM across
 * replugs. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "parse-util.h"
#include "strv.h"
#include "tool.h"
#include "vfioctl/input.h"

static bool arg_all;
static char **arg_grab;
static const char *arg_out;
static const char *arg_toggle = "ctrl-ctrl";
static const char *arg_link_dir;
static bool arg_no_grab;
static char **arg_label;
static const char *arg_user; /* "UID:GID[:G,G...]": vfioctl start's relay drops to the VM user */
static int arg_log_fd = -1;

static const char *const ev_names[EV_CNT] = {
        [EV_SYN] = "EV_SYN", [EV_KEY] = "EV_KEY", [EV_REL] = "EV_REL", [EV_ABS] = "EV_ABS",
        [EV_MSC] = "EV_MSC", [EV_SW] = "EV_SW",   [EV_LED] = "EV_LED", [EV_SND] = "EV_SND",
        [EV_REP] = "EV_REP", [EV_FF] = "EV_FF",   [EV_PWR] = "EV_PWR", [EV_FF_STATUS] = "EV_FF_STATUS",
};

static const char *kinds_string(unsigned k, char buf[static 32])
{
        snprintf(buf, 32, "%s%s%s%s", k & VFIO_INPUT_KEYBOARD ? "keyboard," : "",
                 k & VFIO_INPUT_MOUSE ? "mouse," : "", k & VFIO_INPUT_TABLET ? "tablet," : "",
                 k == 0 ? "other," : "");
        buf[strlen(buf) - 1] = 0;
        return buf;
}

static unsigned count_bits(const unsigned long *bits, size_t nbits)
{
        unsigned n = 0;

        for (size_t i = 0; i < nbits; i++)
                n += vfio_input_test_bit(bits, (unsigned)i);
        return n;
}

static struct json_object *codes_json(const unsigned long *bits, size_t nbits)
{
        struct json_object *a = json_object_new_array();

        for (size_t i = 0; i < nbits; i++)
                if (vfio_input_test_bit(bits, (unsigned)i))
                        json_object_array_add(a, json_object_new_int((int)i));
        return a;
}

static int input_list(void)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        vfio_input_dev *d = NULL;
        size_t n = 0;
        int r;

        if (tool_open_host(&h) < 0)
                return EXIT_FAILURE_GENERIC;
        r = vfio_input_list(h, arg_all, &d, &n);
        if (r < 0) {
                tool_error("cannot list input devices below %s/sys/class/input: %s", vfio_host_root(h),
                           strerror(-r));
                return EXIT_FAILURE_GENERIC;
        }
        if (arg_json) {
                struct json_object *arr = json_object_new_array();

                for (size_t i = 0; i < n; i++) {
                        struct json_object *o = json_object_new_object(), *kinds = json_object_new_array(),
                                           *links = json_object_new_array(),
                                           *caps = json_object_new_object(), *ev = json_object_new_array();
                        char node[300];

                        snprintf(node, sizeof(node), "/dev/input/%s", d[i].event);
                        json_object_object_add(o, "node", json_object_new_string(node));
                        json_object_object_add(o, "name",
                                               d[i].name ? json_object_new_string(d[i].name) : NULL);
                        json_object_object_add(o, "phys",
                                               d[i].phys && *d[i].phys ? json_object_new_string(d[i].phys)
                                                                       : NULL);
                        if (d[i].kinds & VFIO_INPUT_KEYBOARD)
                                json_object_array_add(kinds, json_object_new_string("keyboard"));
                        if (d[i].kinds & VFIO_INPUT_MOUSE)
                                json_object_array_add(kinds, json_object_new_string("mouse"));
                        if (d[i].kinds & VFIO_INPUT_TABLET)
                                json_object_array_add(kinds, json_object_new_string("tablet"));
                        json_object_object_add(o, "kinds", kinds);
                        STRV_FOREACH(l, d[i].links) {
                                char p[600];

                                snprintf(p, sizeof(p), "/dev/input/%s", *l);
                                json_object_array_add(links, json_object_new_string(p));
                        }
                        json_object_object_add(o, "links", links);
                        for (unsigned t = 0; t < EV_CNT; t++)
                                if (vfio_input_test_bit(d[i].caps.ev, t) && ev_names[t])
                                        json_object_array_add(ev, json_object_new_string(ev_names[t]));
                        json_object_object_add(caps, "ev", ev);
                        json_object_object_add(caps, "keys",
                                               json_object_new_int((int)count_bits(d[i].caps.key, KEY_CNT)));
                        json_object_object_add(caps, "rel", codes_json(d[i].caps.rel, REL_CNT));
                        json_object_object_add(caps, "abs", codes_json(d[i].caps.abs, ABS_CNT));
                        json_object_object_add(o, "capabilities", caps);
                        json_object_array_add(arr, o);
                }
                printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
                                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(arr);
        } else if (n == 0) {
                printf("no keyboards or mice below %s (sys/class/input)%s\n", vfio_host_root(h),
                       arg_all ? "" : "; --all lists every event device");
        } else {
                printf("%-18s %-15s %-5s %-5s %-32s %s\n", "NODE", "KIND", "KEYS", "AXES", "NAME",
                       "STABLE PATH (use this in the VM config)");
                for (size_t i = 0; i < n; i++) {
                        char node[300], kinds[32];
                        const char *stable = NULL;

                        snprintf(node, sizeof(node), "/dev/input/%s", d[i].event);
                        /* by-id follows the device to any port; by-path the port. */
                        STRV_FOREACH(l, d[i].links)
                                if (!stable ||
                                    (strncmp(*l, "by-id/", 6) == 0 && strncmp(stable, "by-id/", 6) != 0))
                                        stable = *l;
                        printf("%-18s %-15s %-5u %-5u %-32s %s%s\n", node, kinds_string(d[i].kinds, kinds),
                               count_bits(d[i].caps.key, KEY_CNT),
                               count_bits(d[i].caps.rel, REL_CNT) + count_bits(d[i].caps.abs, ABS_CNT),
                               d[i].name ? d[i].name : "?", stable ? "/dev/input/" : "",
                               stable ? stable : "(no by-id/by-path link: udev not running?)");
                }
        }
        vfio_input_devs_free(d, n);
        return EXIT_OK;
}

static void on_notice(vfio_input_notice what, const char *detail, void *userdata)
{
        vfio_input_relay *r = *(vfio_input_relay **)userdata;
        vfio_input_stats s;

        if (arg_log_fd >= 0) {
                /* In the VM log, stamped like the launcher's own lines. */
                char stamp[32];
                time_t now = time(NULL);
                struct tm tm;

                if (gmtime_r(&now, &tm) && strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ ", &tm))
                        fputs(stamp, stderr);
        }
        switch (what) {
        case VFIO_INPUT_NOTICE_GONE:
                fprintf(stderr,
                        "vfioctl: input: %s%s went away; keys released, waiting for it to come back\n",
                        detail[0] == '/' ? "" : "/", detail);
                break;
        case VFIO_INPUT_NOTICE_BACK:
                fprintf(stderr, "vfioctl: input: source back as %s%s\n", detail[0] == '/' ? "" : "/",
                        detail);
                break;
        case VFIO_INPUT_NOTICE_TO_HOST:
                fprintf(stderr, "vfioctl: input: toggled to the host (%s again gives it back to the VM)\n",
                        arg_toggle);
                break;
        case VFIO_INPUT_NOTICE_TO_GUEST:
                fprintf(stderr, "vfioctl: input: toggled to the VM\n");
                break;
        case VFIO_INPUT_NOTICE_STATS:
                if (!r)
                        break;
                vfio_input_relay_get_stats(r, &s);
                fprintf(stderr,
                        "vfioctl: input: stats events=%llu latency_avg_us=%.1f latency_max_us=%.1f latency_last_us=%.1f replugs=%llu toggles=%llu\n",
                        (unsigned long long)s.events,
                        s.events ? (double)s.total_ns / (double)s.events / 1000.0 : 0.0,
                        (double)s.max_ns / 1000.0, (double)s.last_ns / 1000.0, (unsigned long long)s.replugs,
                        (unsigned long long)s.toggles);
                break;
        }
        fflush(stderr);
}

/* --user UID:GID[:G,G...] -> the credentials vfioctl start hands its relay. */
static int parse_user(const char *spec, uid_t *uid, gid_t *gid, gid_t *groups, size_t *n_groups)
{
        _cleanup_strv_free_ char **parts = NULL, **gl = NULL;
        uint64_t u;

        *n_groups = 0;
        if (strv_split(spec, ":", &parts) < 0 || strv_length(parts) < 2 || strv_length(parts) > 3)
                return -EINVAL;
        if (parse_uint(parts[0], 10, UINT32_MAX - 1, &u) < 0 || u == 0)
                return -EINVAL;
        *uid = (uid_t)u;
        if (parse_uint(parts[1], 10, UINT32_MAX - 1, &u) < 0)
                return -EINVAL;
        *gid = (gid_t)u;
        if (parts[2] && *parts[2]) {
                if (strv_split(parts[2], ",", &gl) < 0 || strv_length(gl) > 32)
                        return -EINVAL;
                STRV_FOREACH(g, gl) {
                        if (parse_uint(*g, 10, UINT32_MAX - 1, &u) < 0)
                                return -EINVAL;
                        groups[(*n_groups)++] = (gid_t)u;
                }
        }
        return 0;
}

/* The relay's command line checked before anything is opened: an exit code, EXIT_OK when it is good. */
static int relay_check_args(vfio_input_relay_config *c, uid_t *uid, gid_t *gid, gid_t groups[static 32],
                            size_t *n_groups)
{
        if (arg_label && strv_length(arg_label) != strv_length(arg_grab)) {
                tool_error("input relay: give one --label per --grab (%zu labels, %zu sources)",
                           strv_length(arg_label), strv_length(arg_grab));
                return EXIT_USAGE;
        }
        STRV_FOREACH(l, arg_label)
                if (strlen(*l) > 32 || strpbrk(*l, "/ ") || !**l) {
                        tool_error("--label '%s': use a short name without '/' or spaces", *l);
                        return EXIT_USAGE;
                }
        if (arg_user && parse_user(arg_user, uid, gid, groups, n_groups) < 0) {
                tool_error("--user '%s': expected UID:GID[:GID,GID...] with a UID other than 0", arg_user);
                return EXIT_USAGE;
        }
        if (arg_user && geteuid() != 0) {
                tool_error("--user needs root: the relay opens its devices as root, then becomes that user");
                return EXIT_NOPERM;
        }
        if (arg_log_fd >= 0 && (arg_log_fd <= 2 || fcntl(arg_log_fd, F_GETFD) < 0)) {
                tool_error("--log-fd %d: not an open descriptor above 2", arg_log_fd);
                return EXIT_USAGE;
        }
        if (!arg_grab || !arg_out) {
                tool_error(
                        "input relay: name the sources with --grab DEV (one per device) and the output with --out NAME");
                return EXIT_USAGE;
        }
        if (strlen(arg_out) > 40 || strpbrk(arg_out, "/ ")) {
                tool_error(
                        "--out '%s': use a short name without '/' or spaces (it names the virtual devices)",
                        arg_out);
                return EXIT_USAGE;
        }
        if (strcmp(arg_toggle, "none") != 0 && vfio_input_toggle_parse(arg_toggle, &c->toggle) < 0) {
                tool_error(
                        "--toggle '%s': use ctrl-ctrl, alt-alt, shift-shift, meta-meta, scrolllock, ctrl-scrolllock, none, or keys joined by '+' (KEY_LEFTCTRL+KEY_F12, or key numbers)",
                        arg_toggle);
                return EXIT_USAGE;
        }
        return EXIT_OK;
}

/* /dev/uinput present and writable, or the fix (and QEMU's plain input-linux as the fallback). */
static int relay_check_uinput(const vfio_host *h)
{
        int r;

        r = vfio_input_uinput_available(h);
        if (r == 0) {
                tool_error(
                        "uinput is not available (/dev/uinput is missing): load it with 'modprobe uinput' and keep it with 'echo uinput > /etc/modules-load.d/uinput.conf'. Without the relay, give QEMU the devices directly (plain input-linux, lost when a device is unplugged): -object input-linux,id=kbd0,evdev=%s,grab_all=on,repeat=on",
                        arg_grab[0]);
                return EXIT_UNAVAILABLE;
        }
        if (r < 0) {
                tool_error(
                        "cannot open /dev/uinput: %s. Let the VM user write it with a udev rule (/etc/udev/rules.d/60-vfioctl-uinput.rules: KERNEL==\"uinput\", GROUP=\"input\", MODE=\"0660\") and add the user to group input; or fall back to plain input-linux: -object input-linux,id=kbd0,evdev=%s,grab_all=on,repeat=on",
                        strerror(-r), arg_grab[0]);
                return EXIT_UNAVAILABLE;
        }
        return EXIT_OK;
}

/* Each virtual device on stdout ("kbd /dev/input/event7") and, with --link, as a link QEMU opens. */
static int relay_publish_outputs(const vfio_input_relay *relay, char ***links)
{
        int r;

        for (size_t i = 0; i < vfio_input_relay_n_outputs(relay); i++) {
                const char *kind = vfio_input_relay_output_kind(relay, i),
                           *node = vfio_input_relay_output_node(relay, i);
                _cleanup_free_ char *target = NULL;

                if (asprintf(&target, "/%s", node) < 0)
                        return EXIT_FAILURE_GENERIC;
                printf("%s %s\n", kind, target);
                if (arg_link_dir &&
                    (r = vfio_input_relay_link(arg_link_dir, arg_out, kind, target, links)) < 0) {
                        tool_error("cannot create the link %s/%s-%s: %s", arg_link_dir, arg_out, kind,
                                   strerror(-r));
                        return EXIT_FAILURE_GENERIC;
                }
        }
        return EXIT_OK;
}

/*
 * The relay opened its devices as root; from here on it is the VM user, not dumpable (QEMU, under the same
 * uid, cannot ptrace it to reach /dev/uinput), and it ends with the supervisor that started it.
 */
static int input_relay(void)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_(vfio_input_relay_freep) vfio_input_relay *relay = NULL;
        _cleanup_free_ char *failed = NULL;
        _cleanup_strv_free_ char **links = NULL;
        _cleanup_close_ int sigfd = -EBADF;
        vfio_input_relay_config c = {};
        sigset_t mask;
        int r;

        uid_t uid = 0;
        gid_t gid = 0, groups[32];
        size_t n_groups = 0;
        pid_t parent = getppid();

        r = relay_check_args(&c, &uid, &gid, groups, &n_groups);
        if (r != EXIT_OK)
                return r;
        if (tool_open_host(&h) < 0)
                return EXIT_FAILURE_GENERIC;
        r = relay_check_uinput(h);
        if (r != EXIT_OK)
                return r;
        c.sources = arg_grab;
        c.labels = arg_label;
        c.name = arg_out;
        c.no_grab = arg_no_grab;
        c.notify = on_notice;
        c.userdata = &relay;

        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGUSR1);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0 || (sigfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0) {
                tool_error("signalfd: %m");
                return EXIT_FAILURE_GENERIC;
        }
        r = vfio_input_relay_new(h, &c, &relay, &failed);
        if (r < 0) {
                if (failed && strcmp(failed, "dev/uinput") == 0)
                        tool_error("cannot create the virtual device through /dev/uinput: %s", strerror(-r));
                else
                        tool_error(
                                "cannot open input device %s: %s%s", failed ? failed : "?", strerror(-r),
                                r == -EACCES
                                        ? " (add the VM user to group input, or a udev rule giving it the device)"
                                : r == -ENOENT
                                        ? " ('vfioctl input list' shows the devices and their stable paths)"
                                        : "");
                return EXIT_FAILURE_GENERIC;
        }
        if (arg_user) {
                r = vfio_input_relay_give_outputs(relay, uid);
                if (r < 0) {
                        tool_error("cannot give the virtual devices to uid %u: %s", (unsigned)uid,
                                   strerror(-r));
                        return EXIT_FAILURE_GENERIC;
                }
                r = vfio_input_relay_become(uid, gid, groups, n_groups, parent);
                if (r < 0) {
                        tool_error("cannot become uid %u: %s", (unsigned)uid, strerror(-r));
                        return EXIT_FAILURE_GENERIC;
                }
        }
        r = relay_publish_outputs(relay, &links);
        if (r != EXIT_OK)
                return r;
        /* The line scripts (and the launcher) wait for: the outputs exist and the sources are grabbed. */
        printf("READY\n");
        fflush(stdout);
        if (arg_log_fd >= 0) {
                /* The launcher reads until READY; what follows (replugs, toggles, stats) goes to the VM log.
                 */
                if (dup2(arg_log_fd, STDOUT_FILENO) < 0 || dup2(arg_log_fd, STDERR_FILENO) < 0)
                        return EXIT_FAILURE_GENERIC;
                close(arg_log_fd);
        }
        r = vfio_input_relay_run(relay, sigfd);
        on_notice(VFIO_INPUT_NOTICE_STATS, NULL, &relay);
        /* The outputs go with us: links to them would point at whatever takes their eventN next. */
        vfio_input_relay_unlink(links);
        if (r < 0) {
                tool_error("input relay stopped: %s", strerror(-r));
                return EXIT_FAILURE_GENERIC;
        }
        return EXIT_OK;
}

int verb_input(int argc, char **argv)
{
        enum {
                OPT_ALL = 0x100,
                OPT_GRAB,
                OPT_OUT,
                OPT_TOGGLE,
                OPT_LINK,
                OPT_NO_GRAB,
                OPT_LABEL,
                OPT_USER,
                OPT_LOG_FD
        };
        static const struct option options[] = {
                { "all", no_argument, NULL, OPT_ALL },
                { "grab", required_argument, NULL, OPT_GRAB },
                { "out", required_argument, NULL, OPT_OUT },
                { "toggle", required_argument, NULL, OPT_TOGGLE },
                { "link", required_argument, NULL, OPT_LINK },
                { "no-grab", no_argument, NULL, OPT_NO_GRAB },
                { "label", required_argument, NULL, OPT_LABEL },
                { "user", required_argument, NULL, OPT_USER },
                { "log-fd", required_argument, NULL, OPT_LOG_FD },
                { "json", no_argument, NULL, 'j' },
                {},
        };
        const char *sub;
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case OPT_ALL:
                        arg_all = true;
                        break;
                case OPT_GRAB:
                        if (strv_extend(&arg_grab, optarg) < 0)
                                return EXIT_FAILURE_GENERIC;
                        break;
                case OPT_OUT:
                        arg_out = optarg;
                        break;
                case OPT_TOGGLE:
                        arg_toggle = optarg;
                        break;
                case OPT_LINK:
                        arg_link_dir = optarg;
                        break;
                case OPT_NO_GRAB:
                        arg_no_grab = true;
                        break;
                case OPT_LABEL:
                        if (strv_extend(&arg_label, optarg) < 0)
                                return EXIT_FAILURE_GENERIC;
                        break;
                case OPT_USER:
                        arg_user = optarg;
                        break;
                case OPT_LOG_FD: {
                        uint64_t v;

                        if (parse_uint(optarg, 10, INT32_MAX, &v) < 0) {
                                tool_error("--log-fd '%s': not a descriptor number", optarg);
                                return EXIT_USAGE;
                        }
                        arg_log_fd = (int)v;
                        break;
                }
                case 'j':
                        arg_json = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        }
        if (tool_check_arity(argc - optind) < 0)
                return EXIT_USAGE;
        sub = argv[optind];
        if (strcmp(sub, "list") == 0)
                return input_list();
        if (strcmp(sub, "relay") == 0)
                return input_relay();
        tool_error("input: '%s' is not one of list, relay", sub);
        return EXIT_USAGE;
}
