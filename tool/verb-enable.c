/* vfioctl enable|disable NAME: autostart at boot through the vfioctl@.service template (contrib/systemd). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "config.h"
#include "fs-util.h"
#include "tool.h"
#include "vfioctl/vmpaths.h"
#include "vfioctl/vmrun.h"

#define WANTS "etc/systemd/system/multi-user.target.wants"

static int run_systemctl(const char *action, const char *unit)
{
        char *const argv[] = { (char *)"systemctl", (char *)action, (char *)unit, NULL };
        int status;
        pid_t pid = fork();

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                execv("/usr/bin/systemctl", argv);
                execv("/bin/systemctl", argv);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static int enable_disable(int argc, char **argv, bool enable)
{
        _cleanup_free_ char *unit = NULL, *dir = NULL, *link = NULL, *tmp = NULL, *target = NULL;
        const char *root = arg_root ? arg_root : "";
        int e;

        if (tool_check_arity(argc - 1) < 0)
                return EXIT_USAGE;
        if (!vm_name_valid(argv[1])) {
                tool_error("'%s' is not a VM name (letters, digits, - _ .): units are named vfioctl@NAME",
                           argv[1]);
                return EXIT_USAGE;
        }
        if (enable && !arg_root) {
                _cleanup_free_ char *cfg = NULL, *err = NULL;

                /* The unit runs `vfioctl start NAME` as root: the VM must be found as root will look it up.
                 */
                if (vm_find_config(argv[1], &cfg, &err) < 0) {
                        if (err)
                                tool_error("%s", err);
                        return EXIT_DATAERR;
                }
        }
        if (asprintf(&unit, "vfioctl@%s.service", argv[1]) < 0)
                return EXIT_FAILURE_GENERIC;
        /* Live host with systemd as PID 1: let systemctl do it (it also reloads). */
        if (!arg_root && access("/run/systemd/system", F_OK) == 0) {
                e = run_systemctl(enable ? "enable" : "disable", unit);
                if (e < 0) {
                        tool_error("systemctl %s %s failed", enable ? "enable" : "disable", unit);
                        return EXIT_FAILURE_GENERIC;
                }
                printf("%s %s\n", enable ? "Enabled" : "Disabled", unit);
                return EXIT_OK;
        }
        if (asprintf(&dir, "%s/" WANTS, root) < 0 || asprintf(&link, "%s/%s", dir, unit) < 0 ||
            asprintf(&tmp, "%s/.%s.tmp", dir, unit) < 0 ||
            asprintf(&target, "%s/vfioctl@.service", VFIOCTL_UNITDIR) < 0)
                return EXIT_FAILURE_GENERIC;
        if (!enable) {
                if (unlink(link) < 0 && errno != ENOENT) {
                        tool_error("cannot remove %s: %s", link, strerror(errno));
                        return errno == EACCES ? EXIT_NOPERM : EXIT_FAILURE_GENERIC;
                }
                printf("Removed %s\n", link);
                return EXIT_OK;
        }
        /* What `systemctl enable` writes: a wants link to the template (systemd.unit(5), "[Install]"). */
        e = mkdir_p(dir, 0755);
        if (e < 0) {
                tool_error("cannot create %s: %s", dir, strerror(-e));
                return e == -EACCES ? EXIT_NOPERM : EXIT_FAILURE_GENERIC;
        }
        (void)unlink(tmp);
        if (symlink(target, tmp) < 0 || rename(tmp, link) < 0) {
                tool_error("cannot create %s: %s", link, strerror(errno));
                (void)unlink(tmp);
                return errno == EACCES ? EXIT_NOPERM : EXIT_FAILURE_GENERIC;
        }
        printf("Created symlink %s -> %s\n", link, target);
        if (!arg_root)
                printf("systemd is not running on this host (no /run/systemd/system): the VM starts at the next boot under systemd.\n");
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
