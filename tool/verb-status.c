/* vfioctl status NAME / vfioctl list: state, uptime, pid, user, pinned CPUs read back, devices, memory. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "parse-util.h"
#include "strv.h"
#include "tool.h"
#include "vfioctl/host.h"
#include "vfioctl/launch.h"
#include "vfioctl/pin.h"
#include "vfioctl/vmdefaults.h"
#include "vfioctl/vmpaths.h"
#include "vfioctl/vmrun.h"

static json_object *strv_json(char **l)
{
        json_object *a = json_object_new_array();

        STRV_FOREACH(s, l)
                json_object_array_add(a, json_object_new_string(*s));
        return a;
}

/* The JSON object of one VM (keys documented in docs/lifecycle.md). */
static json_object *status_json(vm_run *r, vm_runstate *s)
{
        json_object *o = json_object_new_object(), *vcpus = json_object_new_array();
        bool alive = vm_run_alive(r, s);
        uint64_t now = (uint64_t)time(NULL);

        json_object_object_add(o, "name", json_object_new_string(r->name));
        json_object_object_add(o, "state", json_object_new_string(vm_state_to_string(s->state)));
        json_object_object_add(o, "pid", alive ? json_object_new_int(s->pid) : NULL);
        json_object_object_add(o, "supervisor",
                               alive && s->supervisor && vm_runstate_lock_held(r->dirfd) > 0
                                       ? json_object_new_int(s->supervisor)
                                       : NULL);
        /* false: QEMU runs and no vfioctl watches it (its start or supervisor was killed). */
        json_object_object_add(o, "supervised", alive ? json_object_new_boolean(!s->orphan) : NULL);
        json_object_object_add(
                o, "input_relay",
                alive && s->relay > 0 && vm_runstate_pid_alive(r->proc_fd, s->relay, s->relay_starttime)
                        ? json_object_new_int(s->relay)
                        : NULL);
        json_object_object_add(o, "user", s->user ? json_object_new_string(s->user) : NULL);
        json_object_object_add(o, "uid", json_object_new_int64(s->uid));
        json_object_object_add(o, "started", s->started ? json_object_new_int64((int64_t)s->started) : NULL);
        json_object_object_add(o, "uptime",
                               alive && s->started ? json_object_new_int64((int64_t)(now - s->started))
                                                   : NULL);
        json_object_object_add(o, "memory", json_object_new_int64((int64_t)s->memory));
        json_object_object_add(o, "devices", strv_json(s->devices));
        /* CPUs as the kernel has them now (sched_getaffinity), not as planned. */
        for (size_t i = 0; alive && s->vcpu_threads && s->vcpu_threads[i]; i++) {
                json_object *v = json_object_new_object();
                _cleanup_free_ char *cpus = NULL;
                uint64_t tid;

                json_object_object_add(v, "vcpu", json_object_new_int((int)i));
                if (parse_uint(s->vcpu_threads[i], 10, INT32_MAX, &tid) >= 0) {
                        json_object_object_add(v, "thread", json_object_new_int64((int64_t)tid));
                        if (vm_pin_get((pid_t)tid, &cpus) >= 0)
                                json_object_object_add(v, "cpus", json_object_new_string(cpus));
                }
                json_object_array_add(vcpus, v);
        }
        json_object_object_add(o, "vcpus", vcpus);
        json_object_object_add(o, "emulator_cpus", strv_json(alive ? s->emulator_pins : NULL));
        /* Why its vCPUs sit where they do, against the live host's topology (CPUs are never --root's). */
        if (alive && s->vcpu_pins) {
                _cleanup_(vfio_host_freep) vfio_host *live = NULL;
                _cleanup_strv_free_ char **why = NULL;

                if (vfio_host_open(NULL, &live) >= 0 &&
                    vm_explain_host_pinning(live, s->vcpu_pins, s->devices, &why) >= 0)
                        json_object_object_add(o, "placement", strv_json(why));
        }
        json_object_object_add(o, "exit_reason",
                               !alive && s->exit_reason ? json_object_new_string(s->exit_reason) : NULL);
        return o;
}

static void print_duration(uint64_t s)
{
        if (s >= 86400)
                printf("%llud %lluh", (unsigned long long)(s / 86400),
                       (unsigned long long)(s % 86400 / 3600));
        else if (s >= 3600)
                printf("%lluh %llum", (unsigned long long)(s / 3600), (unsigned long long)(s % 3600 / 60));
        else if (s >= 60)
                printf("%llum %llus", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
        else
                printf("%llus", (unsigned long long)s);
}

static void print_status(json_object *o)
{
        json_object *v, *state, *vcpus;
        const char *st;

        json_object_object_get_ex(o, "state", &state);
        st = json_object_get_string(state);
        printf("VM %s: %s%s%s\n", json_object_get_string(json_object_object_get(o, "name")),
               tool_color(stdout, strcmp(st, "running") == 0   ? ANSI_GREEN
                                  : strcmp(st, "crashed") == 0 ? ANSI_RED
                                                               : ANSI_BOLD),
               st, tool_color(stdout, ANSI_RESET));
        if ((v = json_object_object_get(o, "pid")))
                printf("  pid:        %d (user %s, uid %d)\n", json_object_get_int(v),
                       json_object_get_string(json_object_object_get(o, "user")),
                       json_object_get_int(json_object_object_get(o, "uid")));
        if ((v = json_object_object_get(o, "pid"))) {
                json_object *sup = json_object_object_get(o, "supervisor");

                if (sup)
                        printf("  supervisor: %d\n", json_object_get_int(sup));
                else
                        printf("  supervisor: none: QEMU runs with no vfioctl watching it (its start or supervisor was killed); stop it with: vfioctl stop %s (--force if it does not react)\n",
                               json_object_get_string(json_object_object_get(o, "name")));
        }
        if ((v = json_object_object_get(o, "input_relay")))
                printf("  input:      relay pid %d (keyboard and mouse survive a replug; vfioctl log %s)\n",
                       json_object_get_int(v), json_object_get_string(json_object_object_get(o, "name")));
        if ((v = json_object_object_get(o, "uptime"))) {
                printf("  uptime:     ");
                print_duration((uint64_t)json_object_get_int64(v));
                putchar('\n');
        }
        printf("  memory:     %lld MiB\n",
               (long long)json_object_get_int64(json_object_object_get(o, "memory")) >> 20);
        vcpus = json_object_object_get(o, "vcpus");
        for (size_t i = 0; vcpus && i < json_object_array_length(vcpus); i++) {
                json_object *c = json_object_array_get_idx(vcpus, i);
                json_object *cpus = json_object_object_get(c, "cpus");

                printf("  vCPU %-2zu     thread %lld on host CPU %s\n", i,
                       (long long)json_object_get_int64(json_object_object_get(c, "thread")),
                       cpus ? json_object_get_string(cpus) : "?");
        }
        v = json_object_object_get(o, "emulator_cpus");
        if (v && json_object_array_length(v)) {
                printf("  emulator:   host CPU");
                for (size_t i = 0; i < json_object_array_length(v); i++)
                        printf(" %s", json_object_get_string(json_object_array_get_idx(v, i)));
                putchar('\n');
        }
        v = json_object_object_get(o, "placement");
        for (size_t i = 0; v && i < json_object_array_length(v); i++)
                printf("  %-11s %s\n", i == 0 ? "placement:" : "",
                       json_object_get_string(json_object_array_get_idx(v, i)));
        v = json_object_object_get(o, "devices");
        if (v && json_object_array_length(v)) {
                printf("  devices:   ");
                for (size_t i = 0; i < json_object_array_length(v); i++)
                        printf(" %s", json_object_get_string(json_object_array_get_idx(v, i)));
                putchar('\n');
        }
        if ((v = json_object_object_get(o, "exit_reason")))
                printf("  exit:       %s\n", json_object_get_string(v));
}

/* --json is global (before the verb) and accepted after it too: `vfioctl status NAME --json`. */
static int parse_json_opt(int argc, char **argv)
{
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                {},
        };
        int opt;

        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                if (opt == 'j')
                        arg_json = true;
                else
                        return -EINVAL;
        return optind;
}

static int load_one(const char *name, bool report, json_object **ret)
{
        _cleanup_(vm_runstate_freep) vm_runstate *s = NULL;
        _cleanup_(vm_run_freep) vm_run *r = NULL;
        int e;

        if (report) {
                _cleanup_free_ char *err = NULL;

                if (vm_run_open(arg_root, name, false, &r, &err) < 0) {
                        if (err)
                                tool_error("%s", err);
                        return -ENOENT;
                }
        } else {
                /* list: quietly skip what is not a VM directory */
                _cleanup_free_ char *base = NULL;

                if (vm_run_base(arg_root, &base) < 0)
                        return -ENOMEM;
                if (vm_run_open_in(base, name, &r) < 0)
                        return -ENOENT;
        }
        e = vm_run_load(r, &s);
        if (e < 0) {
                if (report)
                        tool_error("VM '%s' has no status in %s (%s); start it with: vfioctl start %s", name,
                                   r->dir, strerror(-e), name);
                return e;
        }
        *ret = status_json(r, s);
        return 0;
}

int verb_status(int argc, char **argv)
{
        json_object *o = NULL;
        const char *st;
        int ret, i;

        i = parse_json_opt(argc, argv);
        if (i < 0 || tool_check_arity(argc - i) < 0 || !tool_vm_name(argv[i]))
                return EXIT_USAGE;
        if (load_one(argv[i], true, &o) < 0)
                return EXIT_NOT_RUNNING;
        if (arg_json)
                printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
        else
                print_status(o);
        st = json_object_get_string(json_object_object_get(o, "state"));
        /* LSB: 0 when it runs (paused included), 3 when it does not. */
        ret = strcmp(st, "running") == 0 || strcmp(st, "paused") == 0 || strcmp(st, "starting") == 0
                      ? EXIT_OK
                      : EXIT_NOT_RUNNING;
        json_object_put(o);
        return ret;
}

int verb_list(int argc, char **argv)
{
        _cleanup_free_ char *base = NULL;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        json_object *all;
        int i;

        i = parse_json_opt(argc, argv);
        if (i < 0 || tool_check_arity(argc - i) < 0)
                return EXIT_USAGE;
        all = json_object_new_array();
        if (vm_run_base(arg_root, &base) >= 0 && vfio_host_open(base, &h) >= 0)
                (void)vfio_host_list_dir(h, ".", 4096, &names);
        STRV_FOREACH(n, names) {
                json_object *o = NULL;

                if (vm_name_valid(*n) && load_one(*n, false, &o) >= 0)
                        json_object_array_add(all, o);
        }
        if (arg_json)
                printf("%s\n", json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY |
                                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
        else {
                printf("%-20s %-9s %-8s %-10s %-9s %s\n", "NAME", "STATE", "PID", "USER", "UPTIME",
                       "VCPU-CPUS");
                for (size_t k2 = 0; k2 < json_object_array_length(all); k2++) {
                        json_object *o = json_object_array_get_idx(all, k2), *v, *vc;
                        _cleanup_strv_free_ char **cpus = NULL;
                        _cleanup_free_ char *cj = NULL;
                        char up[32] = "-", pid[16] = "-";

                        if ((v = json_object_object_get(o, "pid")))
                                snprintf(pid, sizeof(pid), "%d", json_object_get_int(v));
                        if ((v = json_object_object_get(o, "uptime")))
                                snprintf(up, sizeof(up), "%llds", (long long)json_object_get_int64(v));
                        vc = json_object_object_get(o, "vcpus");
                        for (size_t k = 0; vc && k < json_object_array_length(vc); k++) {
                                json_object *c =
                                        json_object_object_get(json_object_array_get_idx(vc, k), "cpus");
                                (void)strv_extend(&cpus, c ? json_object_get_string(c) : "?");
                        }
                        cj = strv_join(cpus, " ");
                        v = json_object_object_get(o, "user");
                        printf("%-20s %-9s %-8s %-10s %-9s %s\n",
                               json_object_get_string(json_object_object_get(o, "name")),
                               json_object_get_string(json_object_object_get(o, "state")), pid,
                               v ? json_object_get_string(v) : "-", up, cj && *cj ? cj : "-");
                }
                if (json_object_array_length(all) == 0)
                        printf("(no VM has run here; %s is empty)\n", base ? base : "the runtime directory");
        }
        json_object_put(all);
        return EXIT_OK;
}
