/* vfioctl enable|disable NAME: autostart at boot through the vfioctl@.service template (contrib/systemd). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "config.h"
#include "tool.h"
#include "vfioctl/autostart.h"
#include "vfioctl/problem.h"
#include "vfioctl/startcheck.h"
#include "vfioctl/vmpaths.h"

static int enable_disable(int argc, char **argv, bool enable)
{
        _cleanup_(vfio_autostart_freep) vfio_autostart *a = NULL;
        _cleanup_free_ char *err = NULL;
        int e;

        if (tool_check_arity(argc - 1) < 0)
                return EXIT_USAGE;
        if (!vm_name_valid(argv[1])) {
                tool_error("'%s' is not a VM name (letters, digits, - _ .): units are named vfioctl@NAME",
                           argv[1]);
                return EXIT_USAGE;
        }
        if (enable) {
                /* The unit runs `vfioctl start NAME` as root at boot: what start would refuse then is
                 * refused now, not found after a reboot. */
                _cleanup_(vfio_host_freep) vfio_host *h = NULL;
                _cleanup_(vfio_problems_freep) vfio_problems *problems = NULL;

                if (tool_open_host(&h) < 0 || vfio_problems_new(&problems) < 0 ||
                    vm_start_check_boot(h, argv[1], problems) < 0)
                        return EXIT_FAILURE_GENERIC;
                if (vfio_problems_has_errors(problems)) {
                        for (size_t i = 0; i < problems->n; i++) {
                                _cleanup_free_ char *text = vfio_problem_text(&problems->items[i]);

                                tool_error("%s", text ? text : problems->items[i].message);
                        }
                        tool_error(
                                "vfioctl@%s.service was not enabled: vfioctl start %s would refuse the VM at boot",
                                argv[1], argv[1]);
                        return EXIT_DATAERR;
                }
        }
        e = vfio_autostart_set(arg_root, VFIOCTL_UNITDIR, argv[1], enable, &a, &err);
        if (e < 0) {
                if (err)
                        tool_error("%s", err);
                return e == -EACCES ? EXIT_NOPERM : EXIT_FAILURE_GENERIC;
        }
        if (a->by_systemctl) {
                if (a->output && *a->output)
                        fputs(a->output, stderr);
                printf("%s %s\n", enable ? "Enabled" : "Disabled", a->unit);
        } else if (!enable)
                printf("Removed %s\n", a->link);
        else {
                printf("Created symlink %s -> %s\n", a->link, a->target);
                if (!arg_root)
                        printf("systemd is not running on this host (no /run/systemd/system): the VM starts at the next boot under systemd.\n");
        }
        return EXIT_OK;
}

int verb_enable(int argc, char **argv)
{
        return enable_disable(argc, argv, true);
}

int verb_disable(int argc, char **argv)
{
        return enable_disable(argc, argv, false);
}
