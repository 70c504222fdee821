/* Starting a VM at boot: vfioctl@NAME.service enabled as `systemctl enable` does, below any root. */
#include "vfioctl/autostart.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "exec-util.h"
#include "fs-util.h"

#define WANTS "etc/systemd/system/multi-user.target.wants"

static int fail(char **ret_error, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char **ret_error, int r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return r;
}

vfio_autostart *vfio_autostart_free(vfio_autostart *a)
{
        if (!a)
                return NULL;
        free(a->output);
        free(a->unit);
        free(a->link);
        free(a->target);
        free(a);
        return NULL;
}

/* systemctl by absolute path: /usr/bin on merged-/usr systems, /bin on the others. */
static int run_systemctl(vfio_autostart *a, bool enable, char **ret_error)
{
        static const char *const paths[] = { "/usr/bin/systemctl", "/bin/systemctl" };
        const char *action = enable ? "enable" : "disable";
        exec_result res = {};
        int r = -ENOENT;

        for (size_t i = 0; i < ELEMENTSOF(paths) && r == -ENOENT; i++)
                r = exec_run((char *const[]){ (char *)paths[i], (char *)action, a->unit, NULL }, NULL, &res);
        if (r >= 0) {
                if (asprintf(&a->output, "%s%s", res.out, res.err) < 0)
                        a->output = NULL;
                r = res.status == 0 ? 0 : -EIO;
        }
        exec_result_done(&res);
        if (r < 0)
                return fail(ret_error, r == -EIO ? r : -EIO, "systemctl %s %s failed", action, a->unit);
        return 0;
}

/* What `systemctl enable` writes: the wants link to the template, made beside and renamed into place. */
static int write_link(vfio_autostart *a, const char *dir, char **ret_error)
{
        _cleanup_close_ int dfd = -EBADF;
        int r;

        r = mkdir_p(dir, 0755);
        if (r < 0)
                return fail(ret_error, r, "cannot create %s: %s", dir, strerror(-r));
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return fail(ret_error, -errno, "cannot create %s: %s", a->link, strerror(errno));
        r = symlink_atomic_at(dfd, a->unit, a->target);
        if (r < 0)
                return fail(ret_error, r, "cannot create %s: %s", a->link, strerror(-r));
        return 0;
}

int vfio_autostart_set(const char *root, const char *unitdir, const char *name, bool enable,
                       vfio_autostart **ret, char **ret_error)
{
        _cleanup_(vfio_autostart_freep) vfio_autostart *a = NULL;
        _cleanup_free_ char *dir = NULL;
        int r;

        assert(unitdir);
        assert(name);
        assert(ret);
        assert(ret_error);
        if (!*name || strchr(name, '/'))
                return fail(ret_error, -EINVAL, "'%s' is not a VM name", name);
        a = calloc(1, sizeof(*a));
        if (!a || asprintf(&a->unit, "vfioctl@%s.service", name) < 0)
                return -ENOMEM;
        /* Live host with systemd as PID 1: let systemctl do it (it also reloads). */
        if (!root && access("/run/systemd/system", F_OK) == 0) {
                a->by_systemctl = true;
                if ((r = run_systemctl(a, enable, ret_error)) < 0)
                        return r;
                *ret = TAKE_PTR(a);
                return 0;
        }
        if (asprintf(&dir, "%s/" WANTS, root ? root : "") < 0 ||
            asprintf(&a->link, "%s/%s", dir, a->unit) < 0 ||
            asprintf(&a->target, "%s/vfioctl@.service", unitdir) < 0)
                return -ENOMEM;
        if (!enable) {
                if (unlink(a->link) < 0 && errno != ENOENT) {
                        r = -errno;
                        return fail(ret_error, r, "cannot remove %s: %s", a->link, strerror(-r));
                }
        } else if ((r = write_link(a, dir, ret_error)) < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}
