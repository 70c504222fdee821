/* vfioctl stop|reboot|pause|resume NAME: power control over the VM's control monitor (lib/run/control.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "parse-util.h"
#include "tool.h"
#include "vfioctl/control.h"
#include "vfioctl/vmpaths.h"
#include "vfioctl/vmrun.h"

/* Running VM or a message and EXIT_NOT_RUNNING. */
static int open_running(const char *name, vm_run **r, vm_runstate **s, bool quiet_if_stopped)
{
        _cleanup_free_ char *err = NULL;
        int e;

        if (vm_run_open(arg_root, name, false, r, &err) < 0) {
                if (err)
                        tool_error("%s", err);
                return EXIT_NOT_RUNNING;
        }
        e = vm_run_load(*r, s);
        if (e < 0 || !vm_run_alive(*r, *s)) {
                if (!quiet_if_stopped)
                        tool_error("VM '%s' is not running; start it with: vfioctl start %s", name, name);
                return EXIT_NOT_RUNNING;
        }
        return EXIT_OK;
}

static void on_report(vfio_problem_level level, const char *message, void *userdata)
{
        if (level == VFIO_PROBLEM_WARNING)
                tool_warning("%s", message);
        else
                fprintf(stderr, "%s\n", message);
}

/* Never started here: nothing to stop, and nothing to complain about. */
static bool never_started(const char *name)
{
        _cleanup_free_ char *base = NULL, *dir = NULL;

        return vm_name_valid(name) && vm_run_base(arg_root, &base) >= 0 &&
               asprintf(&dir, "%s/%s", base, name) >= 0 && access(dir, F_OK) < 0 && errno == ENOENT;
}

int verb_stop(int argc, char **argv)
{
        enum { OPT_TIMEOUT = 0x100, OPT_FORCE };
        static const struct option options[] = {
                { "timeout", required_argument, NULL, OPT_TIMEOUT },
                { "force", no_argument, NULL, OPT_FORCE },
                {},
        };
        _cleanup_(vm_runstate_freep) vm_runstate *s = NULL, *fin = NULL;
        _cleanup_(vm_run_freep) vm_run *r = NULL;
        _cleanup_free_ char *err = NULL;
        vm_stop_options o = { .timeout_s = 60, .report = on_report };
        int opt, e;

        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (opt) {
                case OPT_TIMEOUT:
                        if (parse_uint(optarg, 10, 86400, &o.timeout_s) < 0) {
                                tool_error("--timeout: '%s' is not a number of seconds (0 to 86400)",
                                           optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case OPT_FORCE:
                        o.force = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (tool_check_arity(argc - optind) < 0 || !tool_vm_name(argv[optind]))
                return EXIT_USAGE;
        if (never_started(argv[optind])) {
                printf("VM %s is not running\n", argv[optind]);
                return EXIT_OK;
        }
        if (open_running(argv[optind], &r, &s, true) != EXIT_OK) {
                /* Host changes its supervisor and guardian could not give back (both killed): now. */
                if (r && vm_run_finish_release(
                                 r, false, "stopped by vfioctl stop after its supervisor was killed") > 0)
                        printf("VM %s was not running; the host changes it still held were given back (see: vfioctl log %s)\n",
                               argv[optind], argv[optind]);
                else
                        printf("VM %s is not running\n", argv[optind]);
                return EXIT_OK; /* stopping a stopped VM is done, like systemctl stop */
        }
        e = vm_control_stop(r, s, &o, &err);
        if (e < 0) {
                if (err)
                        tool_error("%s", err);
                return e == -EPERM ? EXIT_NOPERM : EXIT_FAILURE_GENERIC;
        }
        if (vm_runstate_read(r->dirfd, &fin) >= 0)
                printf("VM %s %s: %s\n", r->name, vm_state_to_string(fin->state),
                       fin->exit_reason ? fin->exit_reason : "-");
        return EXIT_OK;
}

/* reboot, pause, resume: one QMP command each. */
static int simple(int argc, char **argv, const char *command, const char *done)
{
        _cleanup_(vm_runstate_freep) vm_runstate *s = NULL;
        _cleanup_(vm_run_freep) vm_run *r = NULL;
        _cleanup_free_ char *err = NULL;
        int ret;

        if (tool_check_arity(argc - 1) < 0 || !tool_vm_name(argv[1]))
                return EXIT_USAGE;
        ret = open_running(argv[1], &r, &s, false);
        if (ret != EXIT_OK)
                return ret;
        if (vm_control_command(r, s, command, &err) < 0) {
                tool_error("%s %s: %s", argv[0], r->name, err ? err : "failed");
                return EXIT_FAILURE_GENERIC;
        }
        vm_run_log(r, "%s by vfioctl %s", done, argv[0]);
        printf("VM %s %s\n", r->name, done);
        return EXIT_OK;
}

int verb_reboot(int argc, char **argv)
{
        /* A hard reset (the reset button): x86 has no ACPI reboot request a guest must honour. */
        return simple(argc, argv, "system_reset", "reset");
}

int verb_pause(int argc, char **argv)
{
        return simple(argc, argv, "stop", "paused");
}

int verb_resume(int argc, char **argv)
{
        return simple(argc, argv, "cont", "resumed");
}
