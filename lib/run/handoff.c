/*
 * Single-GPU handoff: the card the host displays on goes to the VM while it runs ([gpu] handoff = yes),
 * one recorded step at a time, and comes back in reverse however the VM ends (release.h).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec-util.h"
#include "host-steps.h"
#include "parse-util.h"
#include "strv.h"
#include "time-util.h"
#include "vfioctl/bind.h"
#include "vfioctl/selector.h"

/* A display manager's session may take a while to close the card's DRM nodes after its unit stopped. */
#define HOLDERS_TIMEOUT_MS 15000
/* Console and framebuffer (un)binding is synchronous in the kernel; the bound is only a safety net. */
#define BIND_TIMEOUT_MS 5000
/* systemctl start/stop waits for its job; a unit that hangs must not hold up the host's display forever. */
#define SYSTEMCTL_TIMEOUT_MS 120000

/* The firmware framebuffers' platform drivers: efifb, vesafb, and simplefb/simpledrm (both take the
 * "simple-framebuffer" device sysfb makes). */
static const char *const fb_drivers[] = { "efi-framebuffer", "vesa-framebuffer", "simple-framebuffer" };

/* --- helpers shared with isolate.c ------------------------------------------------------------------ */

typedef struct deadline {
        long long end;
} deadline;

static int past_deadline(void *userdata)
{
        const deadline *d = userdata;

        return now_ms() > d->end ? -ETIMEDOUT : 0;
}

static int run_tool(const char *env, const char *fallback, char *const *args, char **ret_out,
                    char **ret_error)
{
        /* Tests record the commands through the variable; secure_getenv: ignored when setuid. */
        const char *tool = secure_getenv(env);
        _cleanup_strv_free_ char **argv = NULL;
        exec_result res = {};
        deadline d = { now_ms() + SYSTEMCTL_TIMEOUT_MS };
        int r;

        if (!tool || !*tool)
                tool = fallback;
        if ((r = strv_extend(&argv, tool)) < 0 || (r = strv_extend_strv(&argv, args)) < 0)
                return r;
        r = exec_run(argv, &(exec_opts){ .on_tick = past_deadline, .userdata = &d, .tick_ms = 100 }, &res);
        if (r < 0) {
                if (ret_error && asprintf(ret_error, "cannot run %s: %s", tool, strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        if (res.status != 0 && ret_error) {
                _cleanup_free_ char *cmd = strv_join(argv, " "), *line = exec_first_line(res.err);

                if (asprintf(ret_error, "%s exited with status %d%s%s", cmd ? cmd : tool, res.status,
                             line && *line ? ": " : "", line ? line : "") < 0)
                        *ret_error = NULL;
        }
        if (ret_out) {
                *ret_out = res.out;
                res.out = NULL;
                if (*ret_out)
                        (*ret_out)[strcspn(*ret_out, "\n")] = 0;
        }
        r = res.status;
        exec_result_done(&res);
        return r;
}

int vm_systemctl(char *const *args, char **ret_out, char **ret_error)
{
        assert(args);

        return run_tool("VFIOCTL_SYSTEMCTL", "/usr/bin/systemctl", args, ret_out, ret_error);
}

int vm_busctl(char *const *args, char **ret_error)
{
        assert(args);

        return run_tool("VFIOCTL_BUSCTL", "/usr/bin/busctl", args, NULL, ret_error);
}

bool vm_host_systemd(const vfio_host *h)
{
        assert(h);

        return vfio_host_exists(h, "run/systemd/system") > 0;
}

bool vm_wait_for(bool (*cond)(const void *arg), const void *arg, unsigned timeout_ms)
{
        long long end = now_ms() + timeout_ms;

        for (;;) {
                if (cond(arg))
                        return true;
                if (now_ms() >= end)
                        return false;
                usleep(20 * 1000);
        }
}

/* --- which card, and may it go ----------------------------------------------------------------------- */

const vm_pci *vm_handoff_gpu(const vm_config *c)
{
        assert(c);

        for (size_t i = 0; i < c->n_gpus; i++)
                if (c->gpus[i].handoff)
                        return &c->gpus[i];
        return NULL;
}

bool vm_handoff_owns(const vm_start *x, const char *addr)
{
        const vm_pci *g = NULL;

        assert(x);
        assert(addr);
        g = vm_handoff_gpu(x->c);

        return g && strv_contains(g->resolved, addr);
}

static const char *section_of(const vm_pci *g, char buf[static 160])
{
        snprintf(buf, 160, strcmp(g->name, "gpu") ? "gpu \"%s\"" : "%s", g->name);
        return buf;
}

static bool on_display_driver(const vfio_pci_dev *d)
{
        return vfio_pci_dev_is_display(d) && d->driver && strcmp(d->driver, "vfio-pci") != 0 &&
               !vfio_pci_driver_is_stub(d->driver);
}

void vm_handoff_check(vm_start *x, vfio_problems *problems)
{
        const vm_pci *g = NULL;
        const vfio_model_device *d;
        char sec[160];

        assert(x);
        assert(problems);
        g = vm_handoff_gpu(x->c);

        if (!g)
                return;
        section_of(g, sec);
        if (geteuid() != 0) {
                (void)vfio_problems_add(
                        problems, VFIO_PROBLEM_ERROR,
                        "%s: [%s] handoff = yes gives the host's own display to the VM (it stops the display manager, unbinds the console and the card's driver): only root can do that",
                        x->c->filename, sec);
                (void)vfio_problems_fix(
                        problems, "start it as root (QEMU still runs as [vm] user): sudo vfioctl start %s",
                        x->c->name);
                return;
        }
        if (!x->model || !g->resolved || !g->resolved[0])
                return; /* resolve_devices said why */
        d = vfio_model_find_device(x->model, g->resolved[0]);
        if (!d)
                return;
        if (d->pci->boot_vga != 1 && !on_display_driver(d->pci)) {
                (void)vfio_problems_add(
                        problems, VFIO_PROBLEM_ERROR,
                        "%s:%u: [%s] handoff: %s is neither the boot display nor bound to a display driver (driver %s): the host shows nothing on it to hand off",
                        x->c->filename, g->line, sec, d->pci->name,
                        d->pci->driver ? d->pci->driver : "none");
                (void)vfio_problems_fix(
                        problems,
                        "drop handoff = yes; a card the host does not use is passed with: vfioctl bind %s",
                        d->pci->name);
                return;
        }
        if (d->verdict == VFIO_VERDICT_HOST_CRITICAL && !vfio_model_device_only_display(x->model, d)) {
                (void)vfio_problems_add(
                        problems, VFIO_PROBLEM_ERROR,
                        "%s:%u: [%s] handoff: %s is needed by the host for more than its display (%s)",
                        x->c->filename, g->line, sec, d->pci->name,
                        d->blockers && d->blockers[0]   ? d->blockers[0]
                        : d->critical && d->critical[0] ? d->critical[0]
                                                        : "host-critical");
                (void)vfio_problems_fix(problems, "vfioctl devices shows its IOMMU group");
        }
}

/* --- the steps --------------------------------------------------------------------------------------- */

/* Everything a failing step says: what happened, what the user sees, how to get the console back. */
static int step_failed(vm_start *x, vfio_problems *problems, int r, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int step_failed(vm_start *x, vfio_problems *problems, int r, const char *fmt, ...)
{
        _cleanup_free_ char *what = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&what, fmt, ap) < 0)
                what = NULL;
        va_end(ap);
        (void)vfio_problems_add(
                problems, VFIO_PROBLEM_ERROR,
                "handoff: %s; everything handed off so far is given back now, in reverse (the screen may stay black for a few seconds until the console and the display manager return)",
                what ? what : strerror(-r));
        (void)vfio_problems_fix(
                problems,
                "if the screen stays black, log in from another machine (ssh) or press Ctrl+Alt+F2, and run: vfioctl stop %s (it gives back what is still held); by hand: echo 1 > /sys/class/vtconsole/vtcon1/bind; systemctl start display-manager.service",
                x->c->name);
        return r < 0 ? r : -EIO;
}

static void note(vm_start *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(vm_start *x, const char *fmt, ...)
{
        _cleanup_free_ char *s = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        if (s && x->o.report)
                x->o.report(VFIO_PROBLEM_NOTE, s, x->o.userdata);
}

/* Test injection (VFIOCTL_TEST_FAIL_STEP): the step fails as if the kernel or systemd had refused it. */
static bool injected(const vm_start *x, const char *step)
{
        return x->o.fail_step && strcmp(x->o.fail_step, step) == 0;
}

static int recorded(vm_start *x, const char *step)
{
        int r = vm_release_record(x->st, step);

        x->pending = true;
        vm_start_save_record(x);
        return r;
}

typedef struct holders_arg {
        const vfio_host *h;
        const vfio_model *m;
        char *const *devices;
        char ***out;
} holders_arg;

/* No process has a device node of the card open any more (DRM card/render nodes, fbdev). */
static bool no_holders(const void *arg)
{
        const holders_arg *a = arg;

        *a->out = strv_free(*a->out);
        STRV_FOREACH(dev, a->devices) {
                const vfio_model_device *d = vfio_model_find_device(a->m, *dev);
                _cleanup_strv_free_ char **l = NULL;

                if (d && vfio_bind_find_holders(a->h, d->pci, &l) >= 0 && l && l[0])
                        (void)strv_extend_strv(a->out, l);
        }
        return !*a->out || !(*a->out)[0];
}

/* The unit display-manager.service is an alias of (systemd's [Install] Alias= makes it a symlink). */
static int display_manager_unit(const vm_start *x, const vm_pci *g, char **ret)
{
        _cleanup_free_ char *link = NULL;
        const char *base;

        if (g->display_manager)
                return (*ret = strdup(g->display_manager)) ? 1 : -ENOMEM;
        if (vfio_host_read_link(x->host, "etc/systemd/system/display-manager.service", &link) < 0)
                return 0;
        base = strrchr(link, '/');
        base = base ? base + 1 : link;
        if (!*base || !strstr(base, ".service"))
                return 0;
        return (*ret = strdup(base)) ? 1 : -ENOMEM;
}

static int step_display_manager(vm_start *x, const vm_pci *g, vfio_problems *problems)
{
        _cleanup_free_ char *unit = NULL, *err = NULL;
        _cleanup_strv_free_ char **held = NULL;
        holders_arg ha = { .h = x->host, .m = x->model, .devices = g->resolved, .out = &held };
        int r;

        r = display_manager_unit(x, g, &unit);
        if (r < 0)
                return r;
        if (!vm_host_systemd(x->host)) {
                if (g->display_manager)
                        return step_failed(
                                x, problems, -EOPNOTSUPP,
                                "display_manager = %s, but systemd is not this host's init (no /run/systemd/system): stop the display manager before starting the VM, or drop the key",
                                g->display_manager);
                note(x, "handoff: no systemd, so no display manager to stop");
        } else if (!unit)
                note(x, "handoff: no display manager (display-manager.service names none): nothing to stop");
        else {
                char *is_active[] = { (char *)"is-active", (char *)"--quiet", unit, NULL };
                char *stop[] = { (char *)"stop", unit, NULL };

                if (vm_systemctl(is_active, NULL, NULL) != 0)
                        note(x, "handoff: %s is not running: nothing to stop", unit);
                else {
                        r = injected(x, VM_RELEASE_DISPLAY_MANAGER) ? -EIO : vm_systemctl(stop, NULL, &err);
                        if (r != 0)
                                return step_failed(x, problems, r < 0 ? r : -EIO, "stopping %s failed: %s",
                                                   unit, err ? err : "injected failure");
                        x->st->display_manager = TAKE_PTR(unit);
                        if ((r = recorded(x, VM_RELEASE_DISPLAY_MANAGER)) < 0)
                                return r;
                        note(x, "handoff: stopped %s", x->st->display_manager);
                }
        }
        /* Its session (Xorg, the compositor) lets go of /dev/dri/cardN after the unit stopped. */
        if (!vm_wait_for(no_holders, &ha, HOLDERS_TIMEOUT_MS)) {
                _cleanup_free_ char *who = strv_join(held, "; ");

                return step_failed(x, problems, -EBUSY, "%s still in use after %d s: %s", g->resolved[0],
                                   HOLDERS_TIMEOUT_MS / 1000, who ? who : "?");
        }
        return 0;
}

/* The card drives a framebuffer: fbdev emulation of its DRM driver, a legacy fbdev driver, or the firmware
 * framebuffer on the boot display. */
static bool card_has_framebuffer(const vm_start *x, const vfio_model_device *d)
{
        _cleanup_strv_free_ char **fbs = NULL;

        if (vfio_host_list_dir(x->host, "sys/class/graphics", 256, &fbs) >= 0)
                STRV_FOREACH(fb, fbs) {
                        _cleanup_free_ char *link = NULL;
                        char path[300];
                        const char *base;

                        if (strncmp(*fb, "fb", 2) != 0)
                                continue;
                        snprintf(path, sizeof(path), "sys/class/graphics/%s/device", *fb);
                        if (vfio_host_read_link(x->host, path, &link) < 0)
                                continue;
                        base = strrchr(link, '/');
                        if (strcmp(base ? base + 1 : link, d->pci->name) == 0)
                                return true;
                        /* efifb/simplefb/vesafb: a platform device describing the boot display. */
                        if (d->pci->boot_vga == 1 && strstr(link, "framebuffer"))
                                return true;
                }
        return false;
}

typedef struct attr_arg {
        const vfio_host *h;
        const char *path;
        const char *want; /* NULL: the path must be gone */
} attr_arg;

static bool attr_is(const void *arg)
{
        const attr_arg *a = arg;
        _cleanup_free_ char *v = NULL;

        if (!a->want)
                return vfio_host_exists(a->h, a->path) == 0;
        return vfio_host_read_attr(a->h, a->path, 64, &v) >= 0 && strcmp(v, a->want) == 0;
}

static bool path_exists(const void *arg)
{
        const attr_arg *a = arg;

        return vfio_host_exists(a->h, a->path) > 0;
}

/* fbcon lets go of the framebuffer before its driver does (an unbind under a bound console can hang). */
static int step_consoles(vm_start *x, const vfio_model_device *d, vfio_problems *problems)
{
        _cleanup_strv_free_ char **vts = NULL;
        int r;

        if (!card_has_framebuffer(x, d)) {
                note(x, "handoff: %s drives no framebuffer: no console to unbind", d->pci->name);
                return 0;
        }
        if (vfio_host_list_dir(x->host, "sys/class/vtconsole", 64, &vts) < 0)
                return 0; /* no virtual terminals (CONFIG_VT=n) */
        STRV_FOREACH(vt, vts) {
                _cleanup_free_ char *name = NULL, *bind = NULL;
                char path[128];

                snprintf(path, sizeof(path), "sys/class/vtconsole/%s/name", *vt);
                if (vfio_host_read_attr(x->host, path, 256, &name) < 0 || !strstr(name, "frame buffer"))
                        continue;
                snprintf(path, sizeof(path), "sys/class/vtconsole/%s/bind", *vt);
                if (vfio_host_read_attr(x->host, path, 16, &bind) < 0 || strcmp(bind, "1") != 0)
                        continue;
                r = injected(x, VM_RELEASE_CONSOLES) ? -EIO : vfio_host_write_attr(x->host, path, "0");
                if (r < 0 || !vm_wait_for(attr_is, &(attr_arg){ x->host, path, "0" }, BIND_TIMEOUT_MS))
                        return step_failed(x, problems, r < 0 ? r : -ETIMEDOUT,
                                           "unbinding the framebuffer console %s failed: %s", *vt,
                                           r < 0 ? strerror(-r) : "it stayed bound");
                if ((r = strv_extend(&x->st->consoles, *vt)) < 0 ||
                    (r = recorded(x, VM_RELEASE_CONSOLES)) < 0)
                        return r;
                note(x, "handoff: unbound the framebuffer console (%s)", *vt);
        }
        return 0;
}

/* efifb, vesafb, simpledrm sit on the boot display: the firmware's framebuffer is in that card's BAR (the
 * VGA arbiter picks the boot device by exactly that, vgaarb.c vga_is_firmware_default). */
static int step_framebuffer(vm_start *x, const vfio_model_device *d, vfio_problems *problems)
{
        int r;

        if (d->pci->boot_vga != 1)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(fb_drivers); i++) {
                _cleanup_strv_free_ char **ents = NULL;
                char dir[128];

                snprintf(dir, sizeof(dir), "sys/bus/platform/drivers/%s", fb_drivers[i]);
                if (vfio_host_list_dir(x->host, dir, 64, &ents) < 0)
                        continue;
                STRV_FOREACH(e, ents) {
                        char path[300], drv[300];

                        /* Devices are "efi-framebuffer.0"; the rest are the driver's own attributes. */
                        if (!strchr(*e, '.') || strchr(*e, '/') || strcmp(*e, "..") == 0)
                                continue;
                        snprintf(path, sizeof(path), "%s/unbind", dir);
                        r = injected(x, VM_RELEASE_FRAMEBUFFER) ? -EIO
                                                                : vfio_host_write_attr(x->host, path, *e);
                        snprintf(drv, sizeof(drv), "sys/bus/platform/devices/%s/driver", *e);
                        if (r < 0 ||
                            !vm_wait_for(attr_is, &(attr_arg){ x->host, drv, NULL }, BIND_TIMEOUT_MS))
                                return step_failed(
                                        x, problems, r < 0 ? r : -ETIMEDOUT,
                                        "unbinding the firmware framebuffer %s from %s failed: %s", *e,
                                        fb_drivers[i], r < 0 ? strerror(-r) : "it stayed bound");
                        if ((r = strv_extendf(&x->st->framebuffers, "%s=%s", *e, fb_drivers[i])) < 0 ||
                            (r = recorded(x, VM_RELEASE_FRAMEBUFFER)) < 0)
                                return r;
                        note(x, "handoff: unbound the firmware framebuffer %s (%s)", *e, fb_drivers[i]);
                }
        }
        return 0;
}

/*
 * The card's driver lets go of every function and vfio-pci takes them, by bind's rules. Nothing is
 * unloaded: unbinding through sysfs releases this card only, and a module unload would take the driver
 * from every other card it drives (a second GPU on the same driver keeps working).
 */
static int step_card(vm_start *x, const vm_pci *g, vfio_problems *problems)
{
        _cleanup_(vfio_selection_freep) vfio_selection *sel = NULL;
        _cleanup_(vfio_bind_plan_freep) vfio_bind_plan *plan = NULL;
        vfio_bind_opts o = { .with_group = true, .give_display = true };
        int r;

        if (vfio_host_is_live(x->host)) {
                o.verify = true;
                o.modprobe = x->o.modprobe;
        }
        /* An injected failure lands between unbinding the host driver and vfio-pci's probe. */
        if (injected(x, VM_RELEASE_HANDOFF))
                o.fail_after = 2;
        r = vfio_selection_resolve(x->host, x->model, x->names, g->resolved, VFIO_SELECT_FUNCTION_ONLY,
                                   &sel);
        if (r < 0)
                return step_failed(x, problems, r, "cannot select %s: %s", g->resolved[0], strerror(-r));
        r = vfio_bind_plan_new(x->host, x->model, sel, VFIO_BIND_TO_VFIO, &o, &plan);
        if (r < 0)
                return step_failed(x, problems, r, "cannot plan binding %s: %s", g->resolved[0],
                                   strerror(-r));
        if (plan->refusals && plan->refusals[0]) {
                _cleanup_free_ char *why = strv_join(plan->refusals, "; ");

                return step_failed(x, problems, -EPERM, "%s cannot go to vfio-pci: %s", g->resolved[0],
                                   why ? why : "refused");
        }
        r = vfio_bind_execute(x->host, plan, &o);
        /* What moved is recorded even on failure: bind put those back, and their undo finds them there. */
        for (size_t i = 0; i < plan->n; i++)
                if (plan->devs[i].moved && r >= 0 &&
                    strv_extendf(&x->st->handoff, "%s=%s", plan->devs[i].name,
                                 plan->devs[i].driver ? plan->devs[i].driver : "") < 0)
                        return -ENOMEM;
        if (r < 0)
                return step_failed(
                        x, problems, r,
                        "binding %s to vfio-pci failed: %s (the functions that had moved went back to their drivers)",
                        g->resolved[0], strerror(-r));
        if (x->st->handoff) {
                int e = recorded(x, VM_RELEASE_HANDOFF);

                if (e < 0)
                        return e;
        }
        for (size_t i = 0; i < plan->n; i++)
                if (plan->devs[i].moved)
                        note(x, "handoff: %s: %s -> vfio-pci", plan->devs[i].name,
                             plan->devs[i].driver ? plan->devs[i].driver : "(none)");
        /* Drivers changed: what follows must see the host as it is now. */
        x->model = vfio_model_free(x->model);
        r = vfio_model_load(x->host, &x->model);
        if (r < 0)
                return step_failed(x, problems, r, "cannot re-read the PCI devices after binding: %s",
                                   strerror(-r));
        return 0;
}

/*
 * The group node goes to the VM user for the VM's life, as the card's DRM nodes belonged to the user of
 * the session that had the display: no udev rule is needed, and nobody else gets it. By descriptor (O_PATH,
 * no symlink followed); opening the node itself would claim the VFIO group.
 */
static int step_vfio_node(vm_start *x, vfio_problems *problems)
{
        _cleanup_strv_free_ char **groups = NULL;
        int r;

        if (!x->drop)
                return 0;
        STRV_FOREACH(a, x->devices) {
                const vfio_model_device *d = vfio_model_find_device(x->model, *a);
                char g[16];

                if (!d || !vm_handoff_owns(x, *a) || d->pci->iommu_group < 0)
                        continue;
                snprintf(g, sizeof(g), "%d", d->pci->iommu_group);
                if (!strv_contains(groups, g) && (r = strv_extend(&groups, g)) < 0)
                        return r;
        }
        STRV_FOREACH(g, groups) {
                _cleanup_close_ int fd = -EBADF;
                char path[64], fdpath[64];
                struct stat st;

                snprintf(path, sizeof(path), "dev/vfio/%s", *g);
                fd = vfio_host_open_path(x->host, path, O_PATH | O_NOFOLLOW);
                if (fd < 0 || fstat(fd, &st) < 0)
                        return step_failed(x, problems, fd < 0 ? fd : -errno, "cannot open /%s: %s", path,
                                           strerror(fd < 0 ? -fd : errno));
                if (!S_ISCHR(st.st_mode))
                        continue; /* a fixture's stand-in file */
                if ((r = strv_extendf(&x->st->vfio_nodes, "%s=%u:%u:%o", *g, (unsigned)st.st_uid,
                                      (unsigned)st.st_gid, (unsigned)(st.st_mode & 07777))) < 0 ||
                    (r = recorded(x, VM_RELEASE_VFIO_NODE)) < 0)
                        return r;
                snprintf(fdpath, sizeof(fdpath), "self/fd/%d", fd);
                if (injected(x, VM_RELEASE_VFIO_NODE) ||
                    /* not another user's directory: both act on the descriptor opened O_NOFOLLOW beneath the
                       root handle (AT_EMPTY_PATH, /proc/self/fd) */
                    fchownat(fd, "", x->user->uid, x->user->gid, AT_EMPTY_PATH) < 0 ||
                    /* not another user's directory: the same descriptor, through /proc/self/fd */
                    fchmodat(x->run->proc_fd, fdpath, 0600, 0) < 0)
                        return step_failed(x, problems, -errno ?: -EIO, "giving /%s to %s failed: %s", path,
                                           x->user->name, errno ? strerror(errno) : "injected failure");
                note(x, "handoff: /%s lent to %s while the VM runs", path, x->user->name);
        }
        return 0;
}

int vm_handoff_apply(vm_start *x, vfio_problems *problems)
{
        const vm_pci *g = vm_handoff_gpu(x->c);
        const vfio_model_device *d;
        int r;

        assert(x);
        assert(problems);
        if (!g || !x->model || !x->host || !g->resolved || !g->resolved[0])
                return 0;
        d = vfio_model_find_device(x->model, g->resolved[0]);
        if (!d)
                return 0;
        if ((r = step_display_manager(x, g, problems)) < 0)
                return r;
        /* The model may be stale after the display manager's exit; the card itself did not change. */
        d = vfio_model_find_device(x->model, g->resolved[0]);
        if ((r = step_consoles(x, d, problems)) < 0 || (r = step_framebuffer(x, d, problems)) < 0 ||
            (r = step_card(x, g, problems)) < 0 || (r = step_vfio_node(x, problems)) < 0)
                return r;
        return 0;
}

/* --- the way back ------------------------------------------------------------------------------------ */

static vfio_host *open_root(const vm_release_ctx *ctx)
{
        vfio_host *h = NULL;

        if (vfio_host_open(ctx->run->root, &h) < 0) {
                vm_release_say(ctx, VFIO_PROBLEM_WARNING, "cannot open the host root %s",
                               ctx->run->root ? ctx->run->root : "/");
                return NULL;
        }
        return h;
}

/* "N=UID:GID:MODE" back as it was; a node that went away with its group needs nothing. */
void vm_handoff_undo_vfio_node(const vm_release_ctx *ctx)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        vm_runstate *s = NULL;

        assert(ctx);
        h = open_root(ctx);
        s = ctx->state;

        STRV_FOREACH(e, h ? s->vfio_nodes : NULL) {
                _cleanup_close_ int fd = -EBADF;
                unsigned grp, uid, gid, mode;
                char path[64], fdpath[64];
                struct stat st;
                int n = 0;

                if (sscanf(*e, "%u=%u:%u:%o%n", &grp, &uid, &gid, &mode, &n) != 4 || (*e)[n] ||
                    mode > 07777) {
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING,
                                       "vfio_nodes: '%s' is not GROUP=UID:GID:MODE", *e);
                        continue;
                }
                snprintf(path, sizeof(path), "dev/vfio/%u", grp);
                fd = vfio_host_open_path(h, path, O_PATH | O_NOFOLLOW);
                if (fd < 0 || fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode))
                        continue;
                snprintf(fdpath, sizeof(fdpath), "self/fd/%d", fd);
                /* not another user's directory: both act on the descriptor opened O_NOFOLLOW beneath the
                 * root handle (AT_EMPTY_PATH, /proc/self/fd) */
                if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) < 0 ||
                    /* not another user's directory: the same descriptor, through /proc/self/fd */
                    fchmodat(ctx->run->proc_fd, fdpath, mode, 0) < 0)
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING, "giving /%s back to %u:%u failed: %s",
                                       path, uid, gid, strerror(errno));
        }
        s->vfio_nodes = strv_free(s->vfio_nodes);
}

void vm_handoff_undo_card(const vm_release_ctx *ctx)
{
        vm_runstate *s = NULL;

        assert(ctx);
        s = ctx->state;

        STRV_FOREACH(d, s->handoff) {
                _cleanup_free_ char *err = NULL;

                if (vm_release_give_back(ctx->run->root, *d, &err) < 0)
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING, "%s", err ? err : *d);
                else
                        vm_release_say(ctx, VFIO_PROBLEM_NOTE, "handoff: %.*s back on %s",
                                       (int)strcspn(*d, "="), *d,
                                       strchr(*d, '=') && strchr(*d, '=')[1] ? strchr(*d, '=') + 1
                                                                             : "its host driver");
        }
        s->handoff = strv_free(s->handoff);
}

void vm_handoff_undo_framebuffer(const vm_release_ctx *ctx)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        vm_runstate *s = NULL;

        assert(ctx);
        h = open_root(ctx);
        s = ctx->state;

        STRV_FOREACH(e, h ? s->framebuffers : NULL) {
                _cleanup_free_ char *dev = strndup(*e, strcspn(*e, "="));
                const char *drv = strchr(*e, '=');
                char path[300], link[300];
                bool known = false;
                int r;

                for (size_t i = 0; drv && i < ELEMENTSOF(fb_drivers); i++)
                        known |= strcmp(drv + 1, fb_drivers[i]) == 0;
                if (!dev || !known || strchr(dev, '/') || !*dev) {
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING, "framebuffers: '%s' is not DEVICE=DRIVER",
                                       *e);
                        continue;
                }
                snprintf(path, sizeof(path), "sys/bus/platform/drivers/%s/bind", drv + 1);
                snprintf(link, sizeof(link), "sys/bus/platform/devices/%s/driver", dev);
                r = vfio_host_write_attr(h, path, dev);
                if (r >= 0 && !vm_wait_for(path_exists, &(attr_arg){ h, link, NULL }, BIND_TIMEOUT_MS))
                        r = -ETIMEDOUT;
                if (r < 0)
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING, "binding %s to %s again failed: %s", dev,
                                       drv + 1, strerror(-r));
                else
                        vm_release_say(ctx, VFIO_PROBLEM_NOTE, "handoff: firmware framebuffer %s back on %s",
                                       dev, drv + 1);
        }
        s->framebuffers = strv_free(s->framebuffers);
}

typedef struct fb_arg {
        const vfio_host *h;
} fb_arg;

/* A framebuffer is registered (the card's driver is back and its fbdev emulation came up). */
static bool any_framebuffer(const void *arg)
{
        const fb_arg *a = arg;
        _cleanup_strv_free_ char **l = NULL;

        if (vfio_host_list_dir(a->h, "sys/class/graphics", 256, &l) < 0)
                return false;
        STRV_FOREACH(e, l)
                if (strncmp(*e, "fb", 2) == 0 && (*e)[2] >= '0' && (*e)[2] <= '9')
                        return true;
        return false;
}

void vm_handoff_undo_consoles(const vm_release_ctx *ctx)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        vm_runstate *s = NULL;

        assert(ctx);
        h = open_root(ctx);
        s = ctx->state;

        /* fbcon binds to the framebuffers registered when it binds: wait for the card's to be back. */
        if (h && s->consoles && !vm_wait_for(any_framebuffer, &(fb_arg){ h }, BIND_TIMEOUT_MS))
                vm_release_say(ctx, VFIO_PROBLEM_WARNING,
                               "no framebuffer came back within %d s; binding the console anyway",
                               BIND_TIMEOUT_MS / 1000);
        STRV_FOREACH(vt, h ? s->consoles : NULL) {
                char path[128];
                int r;

                if (strncmp(*vt, "vtcon", 5) != 0 || strchr(*vt, '/')) {
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING, "consoles: '%s' is not a vtconN", *vt);
                        continue;
                }
                snprintf(path, sizeof(path), "sys/class/vtconsole/%s/bind", *vt);
                r = vfio_host_write_attr(h, path, "1");
                if (r < 0 || !vm_wait_for(attr_is, &(attr_arg){ h, path, "1" }, BIND_TIMEOUT_MS))
                        vm_release_say(
                                ctx, VFIO_PROBLEM_WARNING,
                                "binding the framebuffer console %s again failed: %s; by hand: echo 1 > /sys/class/vtconsole/%s/bind",
                                *vt, r < 0 ? strerror(-r) : "it stayed unbound", *vt);
                else
                        vm_release_say(ctx, VFIO_PROBLEM_NOTE,
                                       "handoff: framebuffer console bound again (%s)", *vt);
        }
        s->consoles = strv_free(s->consoles);
}

void vm_handoff_undo_display_manager(const vm_release_ctx *ctx)
{
        vm_runstate *s = NULL;
        _cleanup_free_ char *err = NULL;
        int r;

        assert(ctx);
        s = ctx->state;

        if (s->display_manager) {
                char *start[] = { (char *)"start", s->display_manager, NULL };

                r = vm_systemctl(start, NULL, &err);
                if (r != 0)
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING,
                                       "starting %s again failed: %s; by hand: systemctl start %s",
                                       s->display_manager, err ? err : strerror(-r), s->display_manager);
                else
                        vm_release_say(ctx, VFIO_PROBLEM_NOTE, "handoff: started %s again",
                                       s->display_manager);
        }
        free(s->display_manager);
        s->display_manager = NULL;
}
