/*
 * Binds devices to vfio-pci and back. The kernel's driver_override (Documentation/ABI/testing/
 * sysfs-bus-pci, "driver_override") names the only driver that may claim one device, so an identical
 * device on the host is untouched — unlike new_id, which adds the IDs to vfio-pci's table for every
 * device (seed 000's script needed two extra driver_override lines to undo that). The sequence is
 * override, unbind, drivers_probe; each write is checked and undone on failure.
 */
#include "vfioctl/bind.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "parse-util.h"
#include "strv.h"
#include "time-util.h"
#include "vfioctl/hostfile.h"

#define VFIO_PCI          "vfio-pci"
#define STATE_DIR_DEFAULT "run/vfioctl/bind"
#define TIMEOUT_DEFAULT   5000
#define PROC_MAX          (1 << 22)
#define FD_MAX            (1 << 20)

vfio_bind_plan *vfio_bind_plan_free(vfio_bind_plan *p)
{
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n; i++) {
                free(p->devs[i].name);
                free(p->devs[i].driver);
                free(p->devs[i].target);
                free(p->devs[i].identity);
        }
        free(p->devs);
        strv_free(p->refusals);
        strv_free(p->warnings);
        strv_free(p->writes);
        strv_free(p->log);
        strv_free(p->not_restored);
        free(p);
        return NULL;
}

static const char *state_dir(const vfio_bind_opts *o)
{
        return o->state_dir ? o->state_dir : STATE_DIR_DEFAULT;
}

int vfio_bind_state_read(const vfio_host *h, const char *dir, const char *name, char **ret_driver,
                         char **ret_identity)
{
        _cleanup_free_ char *path = NULL, *s = NULL, *driver = NULL, *identity = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        int r;

        assert(ret_driver);

        if (asprintf(&path, "%s/%s", dir ? dir : STATE_DIR_DEFAULT, name) < 0)
                return -ENOMEM;
        r = vfio_hostfile_read(h, path, 4096, &s, NULL);
        if (r < 0)
                return r;
        r = strv_split(s, "\n", &lines);
        if (r < 0)
                return r;
        STRV_FOREACH(l, lines) {
                if (strncmp(*l, "driver=", 7) == 0) {
                        free(driver);
                        driver = strdup(*l + 7);
                } else if (strncmp(*l, "identity=", 9) == 0) {
                        free(identity);
                        identity = strdup(*l + 9);
                }
        }
        if (!driver)
                return -EBADMSG;
        *ret_driver = TAKE_PTR(driver);
        if (ret_identity)
                *ret_identity = TAKE_PTR(identity);
        return 0;
}

static int state_write(const vfio_host *h, const vfio_bind_opts *o, const vfio_bind_dev *d)
{
        _cleanup_free_ char *path = NULL, *content = NULL;
        int r;

        r = vfio_hostfile_mkdir_p(h, state_dir(o), 0755, NULL);
        if (r < 0)
                return r;
        if (asprintf(&path, "%s/%s", state_dir(o), d->name) < 0 ||
            asprintf(&content,
                     "# vfioctl bind: the driver to restore with 'vfioctl unbind'\ndriver=%s\nidentity=%s\n",
                     d->driver ? d->driver : "", d->identity ? d->identity : "") < 0)
                return -ENOMEM;
        return vfio_hostfile_write_atomic(h, path, content, strlen(content), 0644);
}

static int state_remove(const vfio_host *h, const vfio_bind_opts *o, const char *name)
{
        _cleanup_free_ char *path = NULL;
        int r;

        if (asprintf(&path, "%s/%s", state_dir(o), name) < 0)
                return -ENOMEM;
        r = vfio_hostfile_unlink(h, path);
        return r == -ENOENT ? 0 : r;
}

/* ---- processes holding the device -------------------------------------------------------------- */

static int device_nodes(const vfio_host *h, const vfio_pci_dev *d, char ***ret)
{
        _cleanup_strv_free_ char **nodes = NULL, **drm = NULL;
        _cleanup_free_ char *path = NULL;
        int r;

        nodes = calloc(1, sizeof(char *));
        if (!nodes)
                return -ENOMEM;
        /* DRM minors of this device are its drm/ children (card0, renderD128); nodes live in /dev/dri. */
        if (asprintf(&path, "sys/bus/pci/devices/%s/drm", d->name) < 0)
                return -ENOMEM;
        r = vfio_host_list_dir(h, path, 64, &drm);
        if (r < 0 && r != -ENOENT && r != -ENOTDIR)
                return r;
        STRV_FOREACH(c, drm)
                if ((strncmp(*c, "card", 4) == 0 || strncmp(*c, "render", 6) == 0) &&
                    (r = strv_extendf(&nodes, "/dev/dri/%s", *c)) < 0)
                        return r;
        /* The proprietary driver's nodes are not tied to a sysfs child; any of them may reach the GPU. */
        if (d->driver && strcmp(d->driver, "nvidia") == 0 && (r = strv_extend(&nodes, "/dev/nvidia")) < 0)
                return r;
        if (d->iommu_group >= 0 && (r = strv_extendf(&nodes, "/dev/vfio/%d", d->iommu_group)) < 0)
                return r;
        *ret = TAKE_PTR(nodes);
        return 0;
}

static bool node_matches(char *const *nodes, const char *target)
{
        STRV_FOREACH(n, nodes) {
                if (strcmp(*n, "/dev/nvidia") == 0 ? strncmp(target, "/dev/nvidia", 11) == 0
                                                   : strcmp(target, *n) == 0)
                        return true;
        }
        return false;
}

int vfio_bind_find_holders(const vfio_host *h, const vfio_pci_dev *d, char ***ret)
{
        _cleanup_strv_free_ char **nodes = NULL, **pids = NULL, **out = NULL;
        int r;

        assert(ret);

        r = device_nodes(h, d, &nodes);
        if (r < 0)
                return r;
        out = calloc(1, sizeof(char *));
        if (!out)
                return -ENOMEM;
        r = vfio_host_list_dir(h, "proc", PROC_MAX, &pids);
        if (r == -ENOENT) {
                *ret = TAKE_PTR(out);
                return 0;
        }
        if (r < 0)
                return r;
        STRV_FOREACH(pid, pids) {
                _cleanup_strv_free_ char **fds = NULL;
                _cleanup_free_ char *fddir = NULL, *comm = NULL, *commpath = NULL;
                uint64_t v;

                if (parse_uint(*pid, 10, UINT32_MAX, &v) < 0)
                        continue;
                if (asprintf(&fddir, "proc/%s/fd", *pid) < 0)
                        return -ENOMEM;
                /* Processes come and go, and other users' fds are unreadable: skip, don't fail. */
                if (vfio_host_list_dir(h, fddir, FD_MAX, &fds) < 0)
                        continue;
                STRV_FOREACH(fd, fds) {
                        _cleanup_free_ char *link = NULL, *target = NULL;

                        if (asprintf(&link, "%s/%s", fddir, *fd) < 0)
                                return -ENOMEM;
                        if (vfio_host_read_link(h, link, &target) < 0 || !node_matches(nodes, target))
                                continue;
                        if (!comm) {
                                if (asprintf(&commpath, "proc/%s/comm", *pid) < 0)
                                        return -ENOMEM;
                                if (vfio_host_read_attr(h, commpath, 64, &comm) < 0 && !(comm = strdup("?")))
                                        return -ENOMEM;
                        }
                        r = strv_extendf(&out, "%s (pid %s) has %s open", comm, *pid, target);
                        if (r < 0)
                                return r;
                }
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* ---- planning ------------------------------------------------------------------------------------- */

static int plan_add(const vfio_host *h, const vfio_model *m, vfio_bind_plan *p,
                    const vfio_selection_item *it, const vfio_bind_opts *o)
{
        const vfio_model_device *md = vfio_model_find_device(m, it->name);
        vfio_bind_dev *n, d = { .reason = it->reason, .group = md ? md->pci->iommu_group : -1 };
        _cleanup_free_ char *recorded = NULL;
        int r;

        if (!md)
                return -ENOENT;
        n = realloc(p->devs, (p->n + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        p->devs = n;
        d.name = strdup(md->pci->name);
        d.identity = vfio_identity_format(&it->id);
        if (!d.name || !d.identity || (md->pci->driver && !(d.driver = strdup(md->pci->driver))))
                goto oom;
        switch (p->action) {
        case VFIO_BIND_TO_VFIO:
                d.target = strdup(VFIO_PCI);
                if (!d.target)
                        goto oom;
                d.noop = d.driver && strcmp(d.driver, VFIO_PCI) == 0;
                break;
        case VFIO_BIND_RESTORE:
                r = vfio_bind_state_read(h, state_dir(o), d.name, &recorded, NULL);
                if (r < 0 && r != -ENOENT && r != -EBADMSG && r != -ENOTDIR)
                        goto fail;
                /* Without a record the kernel picks the host driver, as at boot. */
                if (recorded && *recorded && !(d.target = strdup(recorded)))
                        goto oom;
                d.noop = !(d.driver && strcmp(d.driver, VFIO_PCI) == 0) &&
                         !(md->pci->driver_override && strcmp(md->pci->driver_override, VFIO_PCI) == 0);
                break;
        case VFIO_BIND_REPROBE:
                d.noop = false;
                break;
        }
        p->devs[p->n++] = d;
        return 0;
oom:
        r = -ENOMEM;
fail:
        free(d.name);
        free(d.driver);
        free(d.target);
        free(d.identity);
        return r;
}

static int refuse_or_warn(vfio_bind_plan *p, bool force, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int refuse_or_warn(vfio_bind_plan *p, bool force, const char *fmt, ...)
{
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        if (strv_push(force ? &p->warnings : &p->refusals, s) < 0) {
                free(s);
                return -ENOMEM;
        }
        return 0;
}

static int check_groups(const vfio_host *h, const vfio_model *m, vfio_selection *sel, vfio_bind_plan *p,
                        const vfio_bind_opts *o)
{
        int r;

        /* Peers added with --with-group are checked in turn (the loop sees sel->n grow). */
        for (size_t i = 0; i < sel->n; i++) {
                const vfio_model_device *md = vfio_model_find_device(m, sel->items[i].name);
                _cleanup_strv_free_ char **left = NULL;

                if (!md)
                        return -ENOENT;
                if (vfio_pci_dev_is_bridge(md->pci)) {
                        r = strv_extendf(
                                &p->refusals,
                                "%s is a PCI bridge: bridges stay with the host (select the devices behind it)",
                                md->pci->name);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (md->pci->iommu_group < 0) {
                        r = refuse_or_warn(
                                p, o->force,
                                "%s has no IOMMU group: VFIO cannot assign it. Enable the IOMMU (intel_iommu=on or amd_iommu=on on the kernel command line, VT-d/AMD-Vi in the firmware); 'vfioctl setup' prints the command",
                                md->pci->name);
                        if (r < 0)
                                return r;
                        continue;
                }
                STRV_FOREACH(peer, md->group_peers) {
                        const vfio_pci_dev *pd = vfio_pci_list_find(m->pci, *peer);

                        if (vfio_selection_contains(sel, *peer))
                                continue;
                        /* Unbound or stub-held peers do not break the group's viability. */
                        if (pd && (!pd->driver || vfio_pci_driver_is_stub(pd->driver)))
                                continue;
                        if (o->with_group) {
                                r = vfio_selection_add(sel, h, m, *peer, "group peer");
                        } else {
                                r = strv_extendf(&left, "%s (%s)", *peer,
                                                 pd && pd->driver ? pd->driver : "?");
                        }
                        if (r < 0)
                                return r;
                }
                if (strv_length(left) > 0) {
                        _cleanup_free_ char *j = strv_join(left, ", ");

                        if (!j)
                                return -ENOMEM;
                        r = strv_extendf(
                                &p->refusals,
                                "%s is in IOMMU group %d with %s, still on host drivers: VFIO needs the whole group (Documentation/driver-api/vfio.rst). Add --with-group to bind them too, or select them",
                                md->pci->name, md->pci->iommu_group, j);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int check_safety(const vfio_host *h, const vfio_model *m, vfio_bind_plan *p, const vfio_bind_opts *o)
{
        int r;

        for (size_t i = 0; i < p->n; i++) {
                const vfio_model_device *md = vfio_model_find_device(m, p->devs[i].name);
                _cleanup_strv_free_ char **holders = NULL;
                bool critical, handed;

                if (p->devs[i].noop)
                        continue;
                /* By the device's own facts, not its group verdict: without an IOMMU there are no groups,
                 * so no verdict says host-critical, yet the boot display and the root disk's controller
                 * are still the host's. The one exception is the boot display handed to the VM ([gpu]
                 * handoff = yes): the host gives it up for the VM's life, so it is named, not refused. */
                critical = p->action == VFIO_BIND_TO_VFIO &&
                           (strv_length(md->critical) > 0 || strv_length(md->blockers) > 0);
                handed = critical && o->give_display && vfio_model_device_only_display(m, md);
                if (handed)
                        STRV_FOREACH(c, md->critical)
                                if ((r = strv_extendf(&p->warnings, "%s: %s (handed to the VM)",
                                                      md->pci->name, *c)) < 0)
                                        return r;
                if (critical && !handed) {
                        STRV_FOREACH(c, md->critical)
                                if ((r = refuse_or_warn(
                                             p, o->force, "%s is needed by the host: %s%s", md->pci->name,
                                             *c, o->force ? " (--force)" : " (--force takes it anyway)")) <
                                    0)
                                        return r;
                        STRV_FOREACH(b, md->blockers)
                                if ((r = refuse_or_warn(
                                             p, o->force,
                                             "%s shares IOMMU group %d with a device the host needs: %s%s",
                                             md->pci->name, md->pci->iommu_group, *b,
                                             o->force ? " (--force)" : " (--force takes it anyway)")) < 0)
                                        return r;
                }
                /* Unbinding a driver whose device nodes are open blocks or crashes the holder (Xorg, QEMU).
                 */
                r = vfio_bind_find_holders(h, md->pci, &holders);
                if (r < 0)
                        return r;
                STRV_FOREACH(x, holders)
                        if ((r = refuse_or_warn(p, o->force, "%s: %s; stop it first%s", md->pci->name, *x,
                                                o->force ? " (--force)" : " or use --force")) < 0)
                                return r;
        }
        return 0;
}

int vfio_bind_plan_new(const vfio_host *h, const vfio_model *m, vfio_selection *sel, vfio_bind_action action,
                       const vfio_bind_opts *o, vfio_bind_plan **ret)
{
        _cleanup_(vfio_bind_plan_freep) vfio_bind_plan *p = NULL;
        int r;

        assert(sel);
        assert(ret);

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->action = action;
        p->refusals = calloc(1, sizeof(char *));
        p->warnings = calloc(1, sizeof(char *));
        p->writes = calloc(1, sizeof(char *));
        p->log = calloc(1, sizeof(char *));
        if (!p->refusals || !p->warnings || !p->writes || !p->log)
                return -ENOMEM;
        if (action == VFIO_BIND_TO_VFIO) {
                r = check_groups(h, m, sel, p, o);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < sel->n; i++) {
                r = plan_add(h, m, p, &sel->items[i], o);
                if (r < 0)
                        return r;
        }
        r = check_safety(h, m, p, o);
        if (r < 0)
                return r;
        if (action == VFIO_BIND_TO_VFIO) {
                r = vfio_host_exists(h, "sys/bus/pci/drivers/" VFIO_PCI);
                if (r < 0)
                        return r;
                p->load_vfio_pci = r == 0;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

/* ---- execution ------------------------------------------------------------------------------------ */

typedef struct exec_ctx {
        const vfio_host *h;
        vfio_bind_plan *p;
        const vfio_bind_opts *o;
        unsigned n_writes;
} exec_ctx;

static int do_write(exec_ctx *c, const char *path, const char *value)
{
        int r;

        r = strv_extendf(&c->p->writes, "%s <- %s", path, strcmp(value, "\n") == 0 ? "\\n" : value);
        if (r < 0)
                return r;
        if (c->o->dry_run)
                return 0;
        c->n_writes++;
        /* A kill -9 at the worst moment: no rollback runs; the next run must converge (state file). */
        if (c->o->crash_after && c->n_writes == c->o->crash_after)
                raise(SIGKILL);
        if (c->o->fail_after && c->n_writes == c->o->fail_after)
                return log_debug_errno(-EIO, "%s: injected failure (write %u)", path, c->n_writes);
        r = vfio_host_write_attr(c->h, path, value);
        return log_debug_errno(r, "%s <- %s: %s", path, value, r < 0 ? strerror(-r) : "ok");
}

static int dev_write(exec_ctx *c, const char *name, const char *attr, const char *value)
{
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "sys/bus/pci/devices/%s/%s", name, attr) < 0)
                return -ENOMEM;
        return do_write(c, path, value);
}

static int current_driver(const vfio_host *h, const char *name, char **ret)
{
        _cleanup_free_ char *path = NULL, *target = NULL;
        const char *b;
        int r;

        *ret = NULL;
        if (asprintf(&path, "sys/bus/pci/devices/%s/driver", name) < 0)
                return -ENOMEM;
        r = vfio_host_read_link(h, path, &target);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        b = strrchr(target, '/');
        *ret = strdup(b ? b + 1 : target);
        return *ret ? 0 : -ENOMEM;
}

static void sleep_ms(unsigned ms)
{
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* The end of one bounded wait: a CLOCK_MONOTONIC deadline, so a process that gets little CPU (a loaded or
 * nested host at boot) waits the time it was given, not a number of sleeps that each take longer. */
static long long wait_deadline(const exec_ctx *c)
{
        return now_ms() + (long long)(c->o->timeout_ms ? c->o->timeout_ms : TIMEOUT_DEFAULT);
}

/* Takes the device from a host driver that got it although driver_override says vfio-pci: its probe had
 * begun before the override was written (udev loading the GPU driver at boot while the unit binds). That
 * driver is what the host would have used, so it becomes the one recorded for unbind. */
static int take_from(exec_ctx *c, vfio_bind_dev *d, const char *drv)
{
        char *copy;
        int r;

        if (!d->driver || strcmp(d->driver, drv) != 0) {
                _cleanup_free_ char *recorded = NULL;

                /* A record naming a driver is an interrupted run's, and that driver the true original. */
                if (vfio_bind_state_read(c->h, state_dir(c->o), d->name, &recorded, NULL) >= 0 && recorded &&
                    *recorded)
                        goto unbind;
                copy = strdup(drv);
                if (!copy)
                        return -ENOMEM;
                free(d->driver);
                d->driver = copy;
                if (!c->o->dry_run && (r = state_write(c->h, c->o, d)) < 0)
                        return r;
        }
unbind:
        r = dev_write(c, d->name, "driver/unbind", d->name);
        if (r < 0)
                return r;
        return do_write(c, "sys/bus/pci/drivers_probe", d->name);
}

/* Polls until the device's driver is `want` (NULL: any driver other than vfio-pci). With `d` (a bind),
 * a host driver that took the device meanwhile is unbound once more and the device probed again. */
static int wait_driver(exec_ctx *c, const char *name, const char *want, vfio_bind_dev *d)
{
        long long start = now_ms(), deadline = wait_deadline(c);
        unsigned retaken = 0;

        if (!c->o->verify || c->o->dry_run)
                return 0;
        for (;;) {
                _cleanup_free_ char *drv = NULL;
                int r = current_driver(c->h, name, &drv);

                if (r < 0)
                        return r;
                if (want ? drv && strcmp(drv, want) == 0 : !drv || strcmp(drv, VFIO_PCI) != 0)
                        return 0;
                if (d && drv && strcmp(drv, VFIO_PCI) != 0 && retaken < 3) {
                        retaken++;
                        r = take_from(c, d, drv);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (now_ms() >= deadline) {
                        /* The tool prints the plan's log: say which wait ran out, on what. */
                        (void)strv_extendf(&c->p->log, "%s: still on %s after %lld ms, waiting for %s", name,
                                           drv ? drv : "no driver", now_ms() - start,
                                           want ? want : "a host driver");
                        return log_debug_errno(-ETIMEDOUT, "%s: driver is %s, wanted %s", name,
                                               drv ? drv : "none", want ? want : "a host driver");
                }
                sleep_ms(50);
        }
}

static int wait_group_node(exec_ctx *c, int group)
{
        long long start = now_ms(), deadline = wait_deadline(c);
        char path[32];

        if (!c->o->verify || c->o->dry_run || group < 0)
                return 0;
        snprintf(path, sizeof(path), "dev/vfio/%d", group);
        /* udev (or devtmpfs) creates the node after vfio-pci claims the first device of the group. */
        for (;;) {
                int r = vfio_host_exists(c->h, path);

                if (r != 0)
                        return r < 0 ? r : 0;
                if (now_ms() >= deadline) {
                        (void)strv_extendf(&c->p->log, "/%s did not appear within %lld ms", path,
                                           now_ms() - start);
                        return log_debug_errno(-ETIMEDOUT, "/%s did not appear", path);
                }
                sleep_ms(50);
        }
}

static int load_vfio_pci(exec_ctx *c)
{
        pid_t pid;
        int status, r;

        if (!c->p->load_vfio_pci)
                return 0;
        r = strv_extendf(&c->p->log, "load the vfio-pci module%s",
                         c->o->modprobe ? "" : " (not possible here)");
        if (r < 0)
                return r;
        if (c->o->dry_run)
                return 0;
        if (!c->o->modprobe)
                return log_debug_errno(-ENOENT,
                                       "vfio-pci is not loaded and modprobe is not allowed on this root");
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                /* Never a shell: argv only, a fixed environment (house rule 11). */
                char *const argv[] = { (char *)c->o->modprobe, (char *)"vfio-pci", NULL };
                char *const envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };

                execve(c->o->modprobe, argv, envp);
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return log_debug_errno(-ENOEXEC, "%s vfio-pci failed (status %d)", c->o->modprobe, status);
        r = vfio_host_exists(c->h, "sys/bus/pci/drivers/" VFIO_PCI);
        return r > 0 ? 0 : -ENOENT;
}

static int bind_one(exec_ctx *c, vfio_bind_dev *d)
{
        _cleanup_free_ char *recorded = NULL, *now = NULL;
        int r;

        /* The record comes first: a kill between unbind and probe must still know the original driver.
         * An existing record (an interrupted earlier run) is kept: its driver is the true original. */
        r = vfio_bind_state_read(c->h, state_dir(c->o), d->name, &recorded, NULL);
        if (r < 0 && !c->o->dry_run) {
                r = state_write(c->h, c->o, d);
                if (r < 0)
                        return log_debug_errno(r, "%s: cannot record the original driver: %s", d->name,
                                               strerror(-r));
        }
        d->moved = true;
        r = dev_write(c, d->name, "driver_override", VFIO_PCI);
        if (r < 0)
                return r;
        /* The driver now, not the plan's: at boot udev may have bound the host driver since. */
        r = current_driver(c->h, d->name, &now);
        if (r < 0)
                return r;
        if (now && strcmp(now, VFIO_PCI) != 0)
                r = take_from(c, d, now);
        else
                r = do_write(c, "sys/bus/pci/drivers_probe", d->name);
        if (r < 0)
                return r;
        r = wait_driver(c, d->name, VFIO_PCI, d);
        if (r < 0)
                return r;
        r = wait_group_node(c, d->group);
        if (r < 0)
                return r;
        return strv_extendf(&c->p->log, "%s: %s -> vfio-pci", d->name,
                            d->driver ? d->driver : "(no driver)");
}

/* Puts a device on `target` (NULL: whatever the kernel probes; "": no driver at all). */
static int release_one(exec_ctx *c, const char *name, const char *bound, const char *target)
{
        int r;

        r = dev_write(c, name, "driver_override", "\n");
        if (r < 0)
                return r;
        if (bound && (r = dev_write(c, name, "driver/unbind", name)) < 0)
                return r;
        if (target && !*target)
                return 0; /* it had no driver before: leave it unbound */
        r = do_write(c, "sys/bus/pci/drivers_probe", name);
        if (r < 0)
                return r;
        return wait_driver(c, name, target, NULL);
}

static void rollback(exec_ctx *c)
{
        vfio_bind_opts o = *c->o;
        exec_ctx rc = { .h = c->h, .p = c->p, .o = &o };

        o.fail_after = 0; /* the injected failure is the one we are recovering from */
        c->p->rolled_back = true;
        for (size_t i = c->p->n; i-- > 0;) {
                vfio_bind_dev *d = &c->p->devs[i];
                _cleanup_free_ char *now = NULL;
                int r;

                if (!d->moved)
                        continue;
                if (current_driver(c->h, d->name, &now) < 0)
                        now = NULL;
                /* In a fixture the driver link never changes; what we wrote decides there. */
                r = release_one(&rc, d->name, now ? (strcmp(now, VFIO_PCI) == 0 ? now : NULL) : NULL,
                                d->driver ? d->driver : "");
                if (r >= 0)
                        r = state_remove(c->h, c->o, d->name);
                (void)strv_extendf(&c->p->log, "%s: rolled back to %s%s%s", d->name,
                                   d->driver ? d->driver : "(no driver)", r < 0 ? " FAILED: " : "",
                                   r < 0 ? strerror(-r) : "");
                if (r < 0)
                        (void)strv_extendf(&c->p->not_restored, "%s=%s", d->name,
                                           d->driver ? d->driver : "");
                d->moved = false;
        }
}

int vfio_bind_execute(const vfio_host *h, vfio_bind_plan *p, const vfio_bind_opts *o)
{
        exec_ctx c = { .h = h, .p = p, .o = o };
        int r = 0;

        assert(p);
        assert(o);

        if (strv_length(p->refusals) > 0)
                return -EPERM;
        if (p->action == VFIO_BIND_TO_VFIO) {
                r = load_vfio_pci(&c);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < p->n; i++) {
                vfio_bind_dev *d = &p->devs[i];

                if (d->noop) {
                        r = strv_extendf(&p->log, "%s: already %s", d->name,
                                         p->action == VFIO_BIND_TO_VFIO ? "on vfio-pci"
                                                                        : "on a host driver");
                        if (r < 0)
                                return r;
                        continue;
                }
                switch (p->action) {
                case VFIO_BIND_TO_VFIO:
                        r = bind_one(&c, d);
                        break;
                case VFIO_BIND_RESTORE:
                case VFIO_BIND_REPROBE:
                        d->moved = true;
                        r = release_one(&c, d->name, d->driver,
                                        p->action == VFIO_BIND_RESTORE ? d->target : NULL);
                        if (r >= 0 && !o->dry_run)
                                r = state_remove(h, o, d->name);
                        if (r >= 0)
                                r = strv_extendf(&p->log, "%s: %s -> %s", d->name,
                                                 d->driver ? d->driver : "(no driver)",
                                                 d->target ? d->target : "host driver (kernel's choice)");
                        break;
                }
                if (r < 0) {
                        (void)strv_extendf(&p->log, "%s: FAILED: %s", d->name, strerror(-r));
                        /* Only a bind has a known-good state to return to: the host drivers. */
                        if (p->action == VFIO_BIND_TO_VFIO && !o->dry_run)
                                rollback(&c);
                        return r;
                }
        }
        return 0;
}
