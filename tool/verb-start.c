/*
 * vfioctl start NAME [--detach] [--paused]: preflight every host resource, drop to the VM's user, exec QEMU
 * paused (-S), pin its threads over QMP, `cont`, then supervise it until it exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "parse-util.h"
#include "strv.h"
#include "tool.h"
#include "vfioctl/bind.h"
#include "vfioctl/launch.h"
#include "vfioctl/model.h"
#include "vfioctl/pciids.h"
#include "vfioctl/perm.h"
#include "vfioctl/prealloc.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/runstate.h"
#include "vfioctl/vmdefaults.h"
#include "vm-relay.h"
#include "vm-run.h"
#include "vm-util.h"

extern char **environ;

/* VFIO pins all guest RAM plus ROMs, firmware and MMIO shadows: the test bed needed RAM + 64 MiB; keep 2x.
 */
#define MEMLOCK_MARGIN (128ULL << 20)

typedef struct vm_user {
        char *name;
        uid_t uid;
        gid_t gid;
        char *home;
        gid_t *member_of; /* the user's groups (getgrouplist) */
        int n_member_of;
        gid_t keep[32]; /* supplementary groups device access needs */
        size_t n_keep;
} vm_user;

static void vm_user_done(vm_user *u)
{
        free(u->name);
        free(u->home);
        free(u->member_of);
}

static int lookup_user(const char *spec, vm_user *ret)
{
        struct passwd *pw;
        uint64_t u;
        int n = 64;

        errno = 0;
        pw = parse_uint(spec, 10, UINT32_MAX - 1, &u) >= 0 ? getpwuid((uid_t)u) : getpwnam(spec);
        if (!pw)
                return errno ? -errno : -ESRCH;
        ret->name = strdup(pw->pw_name);
        ret->home = strdup(pw->pw_dir ? pw->pw_dir : "/");
        ret->uid = pw->pw_uid;
        ret->gid = pw->pw_gid;
        ret->member_of = calloc(n, sizeof(gid_t));
        if (!ret->name || !ret->home || !ret->member_of)
                return -ENOMEM;
        if (getgrouplist(ret->name, ret->gid, ret->member_of, &n) < 0) {
                free(ret->member_of);
                ret->member_of = calloc(n, sizeof(gid_t));
                if (!ret->member_of || getgrouplist(ret->name, ret->gid, ret->member_of, &n) < 0)
                        return -ENOMEM;
        }
        ret->n_member_of = n;
        return 0;
}

static bool user_in_group(const vm_user *u, gid_t g)
{
        for (int i = 0; i < u->n_member_of; i++)
                if (u->member_of[i] == g)
                        return true;
        return false;
}

static const char *group_name(gid_t g, char buf[static 16])
{
        struct group *gr = getgrgid(g);

        if (gr)
                return gr->gr_name;
        snprintf(buf, 16, "%u", (unsigned)g);
        return buf;
}

/*
 * Can the VM user open path with want (R_OK|W_OK)? Decided from the mode bits as the kernel would for that
 * uid (ACLs are not read). A group the user belongs to that grants access is kept for the drop.
 */
static int check_access(vm_user *u, const char *path, int want, char ***errors)
{
        struct stat st;
        unsigned bits, need = (want & R_OK ? 4 : 0) | (want & W_OK ? 2 : 0);
        char gbuf[16];
        char *e = NULL;
        int r;

        if (stat(path, &st) < 0) {
                if (asprintf(&e, "%s: %s", path, strerror(errno)) >= 0)
                        strv_push(errors, e);
                return -errno;
        }
        if (u->uid == 0)
                return 0;
        if (st.st_uid == u->uid)
                bits = (st.st_mode >> 6) & 7;
        else if (user_in_group(u, st.st_gid) || st.st_gid == u->gid) {
                bits = (st.st_mode >> 3) & 7;
                if ((bits & need) == need && st.st_gid != u->gid && u->n_keep < ELEMENTSOF(u->keep)) {
                        bool have = false;

                        for (size_t i = 0; i < u->n_keep; i++)
                                have |= u->keep[i] == st.st_gid;
                        if (!have)
                                u->keep[u->n_keep++] = st.st_gid;
                }
        } else
                bits = st.st_mode & 7;
        if ((bits & need) == need || ((st.st_mode & 7) & need) == need)
                return 0;
        {
                const char *gname = group_name(st.st_gid, gbuf);
                bool group_grants = (((st.st_mode >> 3) & 7) & need) == need;
                _cleanup_free_ char *fix = NULL;

                /* Root's group is never the answer: give the node to a group of the VM user instead. */
                if (st.st_gid != 0 && group_grants)
                        r = asprintf(&fix, "add %s to group %s: usermod -aG %s %s", u->name, gname, gname,
                                     u->name);
                else
                        r = asprintf(
                                &fix,
                                "give the node to a group of %s with a udev rule (vfioctl setup writes them; seed 003: SUBSYSTEM==\"vfio\", GROUP=\"kvm\"); for now: chgrp kvm %s && chmod g+rw %s, with %s in group kvm (usermod -aG kvm %s)",
                                u->name, path, path, u->name, u->name);
                if (r < 0)
                        fix = NULL;
                if (asprintf(&e, "%s (%s:%s, mode %04o) is not %s by user %s; fix: %s", path,
                             getpwuid(st.st_uid) ? getpwuid(st.st_uid)->pw_name : "?", gname,
                             (unsigned)(st.st_mode & 07777),
                             want & W_OK ? "readable and writable" : "readable", u->name,
                             fix ? fix : "change its owner or mode") >= 0)
                        strv_push(errors, e);
        }
        return -EACCES;
}

static void add_error(char ***errors, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_error(char ***errors, const char *fmt, ...)
{
        va_list ap;
        char *s;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) >= 0)
                strv_push(errors, s);
        va_end(ap);
}

/*
 * The one function the bind module replaces: make sure a device is on vfio-pci. Until lib/bind.c is
 * merged it only checks and says what to run.
 */
static int start_ensure_vfio(const vfio_model_device *d, char ***errors)
{
        if (d->pci->driver && strcmp(d->pci->driver, "vfio-pci") == 0)
                return 0;
        add_error(errors, "device %s is on driver %s, not vfio-pci; run: vfioctl bind %s", d->pci->name,
                  d->pci->driver ? d->pci->driver : "(none)", d->pci->name);
        return -EBUSY;
}

/*
 * [vm] bind_devices, started by root: move the VM's devices (and the other endpoints of their groups) to
 * vfio-pci with lib/bind.c's rules (host-critical devices refused, rollback on failure), before the checks.
 * What was moved is recorded as "ADDR=driver" so the release step gives each back to its driver.
 */
static int start_bind_devices(const vfio_host *h, vfio_model **m, vfio_pci_names *names, char **devices,
                              char ***moved, char ***errors)
{
        _cleanup_(vfio_selection_freep) vfio_selection *sel = NULL;
        _cleanup_(vfio_bind_plan_freep) vfio_bind_plan *plan = NULL;
        vfio_bind_opts o = { .with_group = true };
        int r;

        if (vfio_host_is_live(h)) {
                o.verify = true;
                o.modprobe = MODPROBE_PATH;
        }
        r = vfio_selection_resolve(h, *m, names, devices, VFIO_SELECT_FUNCTION_ONLY, &sel);
        if (r < 0) {
                STRV_FOREACH(p, sel ? sel->problems : NULL)
                        add_error(errors, "bind_devices: %s", *p);
                if (!sel || !sel->problems || !sel->problems[0])
                        add_error(errors, "bind_devices: %s", strerror(-r));
                return r;
        }
        r = vfio_bind_plan_new(h, *m, sel, VFIO_BIND_TO_VFIO, &o, &plan);
        if (r < 0) {
                add_error(errors, "bind_devices: cannot plan the binding: %s", strerror(-r));
                return r;
        }
        if (plan->refusals && plan->refusals[0]) {
                STRV_FOREACH(p, plan->refusals)
                        add_error(errors, "bind_devices: %s", *p);
                return -EPERM;
        }
        r = vfio_bind_execute(h, plan, &o);
        if (r < 0) {
                add_error(errors,
                          "bind_devices: binding to vfio-pci failed: %s (the devices moved were put back)",
                          strerror(-r));
                return r;
        }
        for (size_t i = 0; i < plan->n; i++)
                if (plan->devs[i].moved &&
                    strv_extendf(moved, "%s=%s", plan->devs[i].name,
                                 plan->devs[i].driver ? plan->devs[i].driver : "") < 0)
                        return -ENOMEM;
        /* Drivers changed: the checks below must see the host as it is now. */
        *m = vfio_model_free(*m);
        r = vfio_model_load(h, m);
        if (r < 0)
                add_error(errors, "cannot re-read the host's PCI devices after binding: %s", strerror(-r));
        return r;
}

/* Host addresses the config passes through, resolved. */
static int collect_devices(const vm_config *c, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        int r;

        for (size_t i = 0; i < c->n_gpus; i++)
                STRV_FOREACH(a, c->gpus[i].resolved)
                        if (!strv_contains(l, *a) && (r = strv_extend(&l, *a)) < 0)
                                return r;
        for (size_t i = 0; i < c->n_pcis; i++)
                STRV_FOREACH(a, c->pcis[i].resolved)
                        if (!strv_contains(l, *a) && (r = strv_extend(&l, *a)) < 0)
                                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

static void check_devices(const vm_config *c, const vfio_host *h, const vfio_model *m, char **devices,
                          vm_user *u, char ***errors)
{
        bool any = false;

        STRV_FOREACH(a, devices) {
                const vfio_model_device *d = vfio_model_find_device(m, *a);
                char node[64];

                if (!d) {
                        add_error(
                                errors,
                                "device %s does not exist on this host (lspci -D lists them); fix the [gpu]/[pci] selector",
                                *a);
                        continue;
                }
                switch (d->verdict) {
                case VFIO_VERDICT_NO_IOMMU:
                        add_error(errors,
                                  "device %s has no IOMMU group: the IOMMU is off; run: vfioctl check", *a);
                        continue;
                case VFIO_VERDICT_HOST_CRITICAL:
                        add_error(
                                errors,
                                "device %s shares its IOMMU group with a device the host needs (%s); it cannot be passed through safely (vfioctl devices shows the group)",
                                *a, d->blockers && d->blockers[0] ? d->blockers[0] : "host-critical");
                        continue;
                case VFIO_VERDICT_BRIDGE:
                        add_error(errors, "device %s is a PCI bridge, not a passthrough target", *a);
                        continue;
                default:
                        break;
                }
                (void)start_ensure_vfio(d, errors);
                /* The group is viable only when every endpoint in it is on vfio-pci (vfio.rst, "Groups"). */
                STRV_FOREACH(p, d->group_peers) {
                        const vfio_model_device *pd = vfio_model_find_device(m, *p);

                        if (pd && !(pd->pci->driver && strcmp(pd->pci->driver, "vfio-pci") == 0) &&
                            !strv_contains(devices, *p))
                                add_error(
                                        errors,
                                        "IOMMU group %d of %s is not viable: %s is on driver %s; pass it too ([pci] or functions = auto) or run: vfioctl bind %s",
                                        d->pci->iommu_group, *a, *p,
                                        pd->pci->driver ? pd->pci->driver : "(none)", *p);
                }
                snprintf(node, sizeof(node), "%s/dev/vfio/%d", vfio_host_is_live(h) ? "" : vfio_host_root(h),
                         d->pci->iommu_group);
                if (d->pci->driver && strcmp(d->pci->driver, "vfio-pci") == 0)
                        (void)check_access(u, node, R_OK | W_OK, errors);
                any = true;
        }
        if (any) {
                char node[512];

                snprintf(node, sizeof(node), "%s/dev/vfio/vfio",
                         vfio_host_is_live(h) ? "" : vfio_host_root(h));
                (void)check_access(u, node, R_OK | W_OK, errors);
        }
}

/*
 * USB devices passed with usb-host: QEMU opens /dev/bus/usb/BBB/DDD as the VM user. Finds the device in
 * sys/bus/usb/devices by id or by bus-port (the kernel's "BUS-PORT" names) and checks that node.
 */
static void check_usb(const vfio_host *h, const vm_config *c, vm_user *u, char ***errors)
{
        _cleanup_strv_free_ char **names = NULL;

        if (c->n_usbs == 0)
                return;
        if (vfio_host_list_dir(h, "sys/bus/usb/devices", 1024, &names) < 0) {
                add_error(errors, "cannot list %s/sys/bus/usb/devices: is USB present?",
                          vfio_host_is_live(h) ? "" : vfio_host_root(h));
                return;
        }
        for (size_t i = 0; i < c->n_usbs; i++) {
                const vm_usb *usb = &c->usbs[i];
                bool found = false;

                STRV_FOREACH(n, names) {
                        _cleanup_free_ char *vid = NULL, *pid = NULL, *bus = NULL, *dev = NULL;
                        char path[512], want[64];
                        uint64_t b, d, v, p;

                        if (strchr(*n, ':'))
                                continue; /* interfaces ("1-2:1.0"), not devices */
                        if (usb->has_id) {
                                snprintf(path, sizeof(path), "sys/bus/usb/devices/%s/idVendor", *n);
                                if (vfio_host_read_attr(h, path, 16, &vid) < 0 ||
                                    parse_uint(vid, 16, 0xffff, &v) < 0)
                                        continue;
                                snprintf(path, sizeof(path), "sys/bus/usb/devices/%s/idProduct", *n);
                                if (vfio_host_read_attr(h, path, 16, &pid) < 0 ||
                                    parse_uint(pid, 16, 0xffff, &p) < 0 || v != usb->vendor ||
                                    p != usb->product)
                                        continue;
                        } else {
                                snprintf(want, sizeof(want), "%u-%s", usb->host_bus,
                                         usb->host_port ? usb->host_port : "");
                                if (strcmp(*n, want) != 0)
                                        continue;
                        }
                        snprintf(path, sizeof(path), "sys/bus/usb/devices/%s/busnum", *n);
                        if (vfio_host_read_attr(h, path, 16, &bus) < 0 || parse_uint(bus, 10, 999, &b) < 0)
                                continue;
                        snprintf(path, sizeof(path), "sys/bus/usb/devices/%s/devnum", *n);
                        if (vfio_host_read_attr(h, path, 16, &dev) < 0 || parse_uint(dev, 10, 999, &d) < 0)
                                continue;
                        snprintf(path, sizeof(path), "%s/dev/bus/usb/%03u/%03u",
                                 vfio_host_is_live(h) ? "" : vfio_host_root(h), (unsigned)b, (unsigned)d);
                        (void)check_access(u, path, R_OK | W_OK, errors);
                        found = true;
                        break;
                }
                if (!found) {
                        if (usb->has_id)
                                add_error(
                                        errors,
                                        "%s:%u: [usb \"%s\"] %04x:%04x is not plugged in (lsusb lists what is)",
                                        c->filename, usb->line, usb->name, usb->vendor, usb->product);
                        else
                                add_error(errors,
                                          "%s:%u: [usb \"%s\"] nothing is plugged in at bus %u port %s",
                                          c->filename, usb->line, usb->name, usb->host_bus,
                                          usb->host_port ? usb->host_port : "?");
                }
        }
}

static void check_conflicts_in(const char *base, const char *self, char **devices, char **cpus,
                               char **evdevs, char ***errors);

/*
 * Other running VMs: devices, explicitly pinned CPUs and evdev grabs are exclusive. The VMs of this
 * runtime base are scanned; root also scans every user's (run/user/UID/vfioctl), which users cannot read
 * the other way round (root's VM directories are 0700).
 */
static void check_conflicts(const char *self, char **devices, char **cpus, char **evdevs, char ***errors)
{
        _cleanup_free_ char *base = NULL, *users = NULL;
        _cleanup_strv_free_ char **uids = NULL;

        if (vm_run_base(&base) < 0)
                return;
        check_conflicts_in(base, self, devices, cpus, evdevs, errors);
        if (getuid() != 0 || asprintf(&users, "%s/run/user", arg_root ? arg_root : "") < 0)
                return;
        {
                _cleanup_(vfio_host_freep) vfio_host *h = NULL;

                if (vfio_host_open(users, &h) < 0 || vfio_host_list_dir(h, ".", 4096, &uids) < 0)
                        return;
        }
        STRV_FOREACH(u, uids) {
                _cleanup_free_ char *b2 = NULL;

                if (asprintf(&b2, "%s/%s/vfioctl", users, *u) >= 0 && access(b2, F_OK) == 0)
                        check_conflicts_in(b2, NULL, devices, cpus, evdevs, errors);
        }
}

static void check_conflicts_in(const char *base, const char *self, char **devices, char **cpus,
                               char **evdevs, char ***errors)
{
        _cleanup_strv_free_ char **names = NULL;

        {
                _cleanup_(vfio_host_freep) vfio_host *h = NULL;

                if (vfio_host_open(base, &h) < 0 || vfio_host_list_dir(h, ".", 1024, &names) < 0)
                        return;
        }
        STRV_FOREACH(n, names) {
                _cleanup_(vm_runstate_freep) vm_runstate *s = NULL;
                vm_run r = {};

                if ((self && strcmp(*n, self) == 0) || !vm_name_valid(*n))
                        continue;
                if (asprintf(&r.dir, "%s/%s", base, *n) < 0)
                        continue;
                r.name = strdup(*n);
                r.qemu_dir = strdup("");
                r.dirfd = open(r.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                r.proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (r.dirfd >= 0 && vm_runstate_read(r.dirfd, &s) >= 0 && vm_run_alive(&r, s)) {
                        STRV_FOREACH(d, devices)
                                if (strv_contains(s->devices, *d))
                                        add_error(
                                                errors,
                                                "device %s is in use by the running VM '%s' (pid %d); stop it first: vfioctl stop %s",
                                                *d, *n, (int)s->pid, *n);
                        STRV_FOREACH(c, cpus)
                                if (strv_contains(s->cpus, *c))
                                        add_error(
                                                errors,
                                                "host CPU %s is pinned by the running VM '%s' (pid %d); choose other CPUs in [cpu] pin or stop it: vfioctl stop %s",
                                                *c, *n, (int)s->pid, *n);
                        STRV_FOREACH(e, evdevs)
                                if (strv_contains(s->evdevs, *e))
                                        add_error(
                                                errors,
                                                "input %s is grabbed by the running VM '%s' (pid %d); stop it first: vfioctl stop %s",
                                                *e, *n, (int)s->pid, *n);
                }
                vm_run_done(&r);
        }
}

/* mkdir -p; the last directory 0700 and, when dropping privileges, owned by the VM user. */
static int mkdir_parents_owned(const char *path, const vm_user *u, bool drop)
{
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        (void)mkdir(p, 0755);
                        *s = '/';
                }
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
                return -errno;
        if (drop && chown(p, u->uid, u->gid) < 0)
                return -errno;
        return 0;
}

/*
 * Root starting a VM for its user: nothing root reads on the VM's behalf may be changeable by anyone but
 * root (seed 003, "Permissions for non-root GPU passthrough": the start script must not be writable by the
 * VM user). The config decides what root binds and runs; the OVMF template is copied by root. Disks are
 * opened by QEMU as the VM user, so they are the VM user's to own. lib/perm.c walks every component.
 */
static void check_root_paths(const vm_config *c, const vm_user *u, char ***errors)
{
        _cleanup_(vfio_host_freep) vfio_host *live = NULL;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ uint32_t *gids = calloc((size_t)u->n_member_of + 1, sizeof(uint32_t));
        _cleanup_free_ char *cfg = NULL;
        const char *paths[3] = {};
        vfio_account a;

        if (!gids || vfio_host_open(NULL, &live) < 0)
                return;
        for (int i = 0; i < u->n_member_of; i++) {
                gids[i] = u->member_of[i];
                if (strv_extend(&names, "") < 0)
                        return;
        }
        a = (vfio_account){ .name = u->name, .uid = u->uid, .gid = u->gid, .groups = names, .gids = gids };
        if (c->filename && c->filename[0] != '/') {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);

                if (cwd && asprintf(&cfg, "%s/%s", cwd, c->filename) < 0)
                        cfg = NULL;
        } else if (c->filename)
                cfg = strdup(c->filename);
        paths[0] = cfg;
        if (c->firmware.type == VM_FIRMWARE_OVMF) {
                paths[1] = vm_qemu_firmware_code(c);
                paths[2] = vm_qemu_firmware_vars_template(c);
        }
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                _cleanup_(vfio_perm_issue_freep) vfio_perm_issue *issue = NULL;
                int r;

                if (!paths[i])
                        continue;
                r = vfio_perm_check_path(live, paths[i], &a, 0, &issue);
                if (r == 1)
                        add_error(
                                errors,
                                "%s: %s is %s (uid %u, gid %u, mode %04o): user %s (or another) could change what root reads to start the VM; fix: %s",
                                paths[i], issue->path, vfio_perm_reason_to_string(issue->reason), issue->uid,
                                issue->gid, issue->mode, u->name, issue->fix);
                else if (r < 0 && r != -ENOENT)
                        add_error(errors, "%s: cannot check its ownership: %s", paths[i], strerror(-r));
        }
}

/* The per-VM OVMF variable store: copied from the template once, owned by the VM user. */
static int ensure_vars(const vm_config *c, const vm_argv_paths *p, const vm_user *u, bool drop,
                       char ***errors)
{
        _cleanup_free_ char *vars = NULL, *tmp = NULL, *buf = NULL;
        _cleanup_close_ int in = -1, out = -1;
        const char *tpl;
        ssize_t n;

        if (c->firmware.type != VM_FIRMWARE_OVMF)
                return 0;
        vars = vm_qemu_firmware_vars(c, p);
        if (!vars)
                return -ENOMEM;
        if (access(vars, F_OK) == 0)
                return 0;
        tpl = vm_qemu_firmware_vars_template(c);
        in = open(tpl, O_RDONLY | O_CLOEXEC);
        if (in < 0) {
                add_error(errors,
                          "OVMF variable template %s: %s; install ovmf or set [firmware] vars_template", tpl,
                          strerror(errno));
                return -errno;
        }
        {
                _cleanup_free_ char *dir = strdup(vars);
                char *slash = dir ? strrchr(dir, '/') : NULL;

                if (slash && slash != dir) {
                        *slash = 0;
                        for (char *s = dir + 1; *s; s++)
                                if (*s == '/') {
                                        *s = 0;
                                        (void)mkdir(dir, 0755);
                                        *s = '/';
                                }
                        if (mkdir(dir, 0700) == 0 && drop)
                                (void)!chown(dir, u->uid, u->gid);
                }
        }
        /* A fresh name, created exclusively: the directory is the VM user's, who could have put a link
         * to a root-owned file at a fixed name for root to truncate and chown. */
        if (asprintf(&tmp, "%s.XXXXXX", vars) < 0)
                return -ENOMEM;
        out = mkostemp(tmp, O_CLOEXEC);
        if (out < 0) {
                add_error(errors, "cannot create the OVMF variable store %s: %s", vars, strerror(errno));
                return -errno;
        }
        buf = malloc(65536);
        if (!buf)
                return -ENOMEM;
        while ((n = read(in, buf, 65536)) > 0)
                if (write(out, buf, n) != n) {
                        n = -1;
                        break;
                }
        if (n < 0 || (drop && fchown(out, u->uid, u->gid) < 0) || rename(tmp, vars) < 0) {
                add_error(errors, "cannot write the OVMF variable store %s: %s", vars, strerror(errno));
                (void)unlink(tmp);
                return -EIO;
        }
        return 0;
}

static int strv_extend_strv_copy(char ***l, char *const *add)
{
        int r;

        STRV_FOREACH(a, add)
                if ((r = strv_extend(l, *a)) < 0)
                        return r;
        return 0;
}

/* ---- launching and supervising ---- */

static volatile sig_atomic_t got_signal;
static void on_signal(int sig)
{
        got_signal++;
}

typedef struct start_ctx {
        vm_config *c;
        vm_run run;
        vm_user user;
        bool drop, paused, detach;
        uint64_t memlock;
        char **argv, **envp;
        vm_runstate *st;
        char **pin, **emulator_pin;
        int notify_fd;     /* --detach: tells the waiting parent the outcome */
        char **swtpm_argv; /* the TPM emulator to start first; NULL: none */
        char *swtpm_socket;
        char *ddc;  /* "bus=N" */
        bool relay; /* run the input relay for the evdev inputs */
        int mem_fd; /* guest RAM vfioctl filled (lib/run/prealloc.c), QEMU's fd 3; -1: QEMU allocates */
        vm_prealloc_report prealloc;
} start_ctx;

static void notify(start_ctx *x, const char *msg)
{
        if (x->notify_fd >= 0) {
                (void)!write(x->notify_fd, msg, strlen(msg));
                close(x->notify_fd);
                x->notify_fd = -1;
        }
}

static void say(start_ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(start_ctx *x, const char *fmt, ...)
{
        _cleanup_free_ char *s = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        if (!s)
                return;
        vm_run_log(&x->run, "%s", s);
        if (!x->detach)
                fprintf(stderr, "%s\n", s);
}

static int pin_threads(start_ctx *x, qmp_client *q, pid_t pid)
{
        _cleanup_strv_free_ char **vcpus = NULL, **io = NULL, **tasks = NULL, **readback = NULL;
        int r;

        r = vm_qmp_vcpu_threads(q, 10000, &vcpus);
        if (r < 0)
                return r;
        x->st->vcpu_threads = strv_free(x->st->vcpu_threads);
        x->st->vcpu_threads = TAKE_PTR(vcpus);
        if (x->pin) {
                if (strv_length(x->pin) < strv_length(x->st->vcpu_threads))
                        return -EINVAL;
                for (size_t i = 0; x->st->vcpu_threads[i]; i++) {
                        uint64_t tid;
                        char *one[] = { x->pin[i], NULL };

                        if (parse_uint(x->st->vcpu_threads[i], 10, INT32_MAX, &tid) < 0)
                                return -EBADMSG;
                        r = vm_pin_thread((pid_t)tid, one);
                        if (r < 0)
                                return r;
                }
        }
        if (x->emulator_pin) {
                /* Every other thread (main loop, RCU, workers) and iothreads go to the emulator CPUs. */
                if (vm_qmp_iothreads(q, 10000, &io) >= 0)
                        STRV_FOREACH(t, io) {
                                uint64_t tid;

                                if (parse_uint(*t, 10, INT32_MAX, &tid) >= 0)
                                        (void)vm_pin_thread((pid_t)tid, x->emulator_pin);
                        }
                r = vm_proc_threads(x->run.proc_fd, pid, &tasks);
                if (r < 0)
                        return r;
                STRV_FOREACH(t, tasks) {
                        uint64_t tid;

                        if (strv_contains(x->st->vcpu_threads, *t) ||
                            parse_uint(*t, 10, INT32_MAX, &tid) < 0)
                                continue;
                        r = vm_pin_thread((pid_t)tid, x->emulator_pin);
                        if (r < 0 && r != -ESRCH)
                                return r;
                }
        }
        /* Read back what the kernel applied: status shows this, not the plan. */
        STRV_FOREACH(t, x->st->vcpu_threads) {
                _cleanup_free_ char *cpus = NULL;
                uint64_t tid;

                if (parse_uint(*t, 10, INT32_MAX, &tid) < 0 || (r = vm_pin_get((pid_t)tid, &cpus)) < 0)
                        return r < 0 ? r : -EBADMSG;
                if ((r = strv_extend(&readback, cpus)) < 0)
                        return r;
        }
        strv_free(x->st->vcpu_pins);
        x->st->vcpu_pins = TAKE_PTR(readback);
        strv_free(x->st->emulator_pins);
        x->st->emulator_pins = NULL;
        if (x->emulator_pin && (r = strv_extend_strv_copy(&x->st->emulator_pins, x->emulator_pin)) < 0)
                return r;
        return 0;
}

static const char *signal_name(int sig)
{
        const char *s = sigabbrev_np(sig);
        return s ? s : "?";
}

/* Runs QEMU to its end. Returns the exit code of start. */
static int launch_and_supervise(start_ctx *x)
{
        _cleanup_(qmp_client_freep) qmp_client *q = NULL;
        _cleanup_free_ char *qmp_path = NULL, *shutdown_reason = NULL;
        _cleanup_close_ int log_fd = -1;
        const char *stage = NULL;
        vm_spawn sp = {};
        pid_t pid = 0;
        int r, status = 0, fd = -1;
        bool exited = false, powerdown_sent = false, quit_sent = false, impostor = false;
        unsigned presses = 0;
        struct sigaction sa = { .sa_handler = on_signal };
        struct timespec t0, t1;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        log_fd = openat(x->run.dirfd, "log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (log_fd < 0) {
                tool_error("cannot open %s/log: %s", x->run.dir, strerror(errno));
                notify(x, "E cannot open the log");
                return EXIT_FAILURE_GENERIC;
        }
        {
                _cleanup_free_ char *cmd = strv_join(x->argv, " ");
                vm_run_log(&x->run, "starting VM %s as %s (uid %u): %s", x->run.name, x->user.name,
                           (unsigned)x->user.uid, cmd ? cmd : "");
        }
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        if (x->swtpm_argv) {
                /* The TPM emulator first: QEMU connects to its socket at startup (QEMU docs, "TPM"). */
                vm_spawn tp = { .argv = x->swtpm_argv,
                                .envp = x->envp,
                                .drop = x->drop,
                                .uid = x->user.uid,
                                .gid = x->user.gid,
                                .groups = x->user.keep,
                                .n_groups = x->user.n_keep,
                                .log_fd = log_fd };
                pid_t tpid = 0;

                r = vm_launch_spawn(&tp, &tpid, &stage);
                for (int i = 0; r >= 0 && i < 100 && access(x->swtpm_socket, F_OK) < 0; i++)
                        usleep(50 * 1000);
                if (r < 0 || access(x->swtpm_socket, F_OK) < 0) {
                        tool_error("starting swtpm failed%s%s: %s; see: vfioctl log %s", stage ? " at " : "",
                                   stage ? stage : "", r < 0 ? strerror(-r) : "no socket after 5 s",
                                   x->run.name);
                        if (tpid > 0) {
                                kill(tpid, SIGKILL);
                                (void)waitpid(tpid, NULL, 0);
                        }
                        notify(x, "E swtpm did not start");
                        vm_run_release(&x->run, x->st, VM_STATE_CRASHED, "swtpm could not be started");
                        return EXIT_FAILURE_GENERIC;
                }
                x->st->swtpm = tpid;
                (void)vm_proc_starttime(x->run.proc_fd, tpid, &x->st->swtpm_starttime);
                vm_run_log(&x->run, "swtpm started (pid %d): %s", (int)tpid, x->swtpm_socket);
                stage = NULL;
        }
        if (x->relay) {
                /* Before QEMU: its input-linux objects open the relay's devices through the links. */
                vm_relay_spawn rs = { .c = x->c,
                                      .link_dir = x->run.qemu_dir,
                                      .drop = x->drop,
                                      .uid = x->user.uid,
                                      .gid = x->user.gid,
                                      .groups = x->user.keep,
                                      .n_groups = x->user.n_keep,
                                      .log_fd = log_fd };
                _cleanup_free_ char *report = NULL;
                pid_t rpid = 0;

                r = vm_relay_start(&rs, &rpid, &report);
                if (r < 0) {
                        tool_error("the input relay did not start: %s", report ? report : strerror(-r));
                        vm_run_log(&x->run, "the input relay did not start: %s",
                                   report ? report : strerror(-r));
                        notify(x, "E the input relay did not start");
                        vm_run_release(&x->run, x->st, VM_STATE_CRASHED, "the input relay did not start");
                        return EXIT_FAILURE_GENERIC;
                }
                x->st->relay = rpid;
                (void)vm_proc_starttime(x->run.proc_fd, rpid, &x->st->relay_starttime);
                for (char *l = report, *e; l && *l; l = e ? e + 1 : NULL) {
                        e = strchr(l, '\n');
                        if (e)
                                *e = 0;
                        vm_run_log(&x->run, "input relay (pid %d, user %s): %s -> %s", (int)rpid,
                                   x->user.name, l, x->run.qemu_dir);
                }
        }
        sp = (vm_spawn){ .argv = x->argv,
                         .envp = x->envp,
                         .drop = x->drop,
                         .uid = x->user.uid,
                         .gid = x->user.gid,
                         .groups = x->user.keep,
                         .n_groups = x->user.n_keep,
                         .memlock = x->memlock,
                         .log_fd = log_fd,
                         .pass_fd = x->mem_fd > 2 ? x->mem_fd : 0 };
        if (x->mem_fd > 2) /* lib/run/prealloc.c */
                vm_run_log(&x->run,
                           "guest RAM: %llu MiB of %llu KiB hugepages allocated by %u thread%s in %.2f s%s",
                           (unsigned long long)(x->c->memory.size >> 20),
                           (unsigned long long)(x->prealloc.result.page_size >> 10),
                           x->prealloc.result.threads, x->prealloc.result.threads == 1 ? "" : "s",
                           x->prealloc.seconds,
                           x->prealloc.nodes ? ", bound to the NUMA nodes of the pinned CPUs" : "");
        else if (x->prealloc.skip && x->c->memory.hugepages != VM_HUGEPAGES_NONE)
                vm_run_log(&x->run, "guest RAM: allocated by QEMU (%s)", x->prealloc.skip);
        r = vm_launch_spawn(&sp, &pid, &stage);
        if (x->mem_fd >= 0) { /* QEMU holds the guest RAM now: it goes back to the pool when QEMU ends */
                close(x->mem_fd);
                x->mem_fd = -1;
        }
        if (r < 0) {
                tool_error("starting %s failed at %s: %s", x->argv[0], stage ? stage : "fork", strerror(-r));
                vm_run_log(&x->run, "starting %s failed at %s: %s", x->argv[0], stage ? stage : "fork",
                           strerror(-r));
                notify(x, "E QEMU could not be started");
                vm_run_release(&x->run, x->st, VM_STATE_CRASHED, "QEMU could not be started");
                return EXIT_FAILURE_GENERIC;
        }
        x->st->pid = pid;
        (void)vm_proc_starttime(x->run.proc_fd, pid, &x->st->pid_starttime);
        x->st->supervisor = getpid();
        x->st->started = (uint64_t)time(NULL);
        x->st->state = VM_STATE_STARTING;
        (void)vm_runstate_write(x->run.dirfd, x->st);
        {
                /* DIR/pid for scripts (the status file has it too), atomic like every file we write. */
                char buf[32];
                int pfd = openat(x->run.dirfd, "pid.tmp",
                                 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);

                snprintf(buf, sizeof(buf), "%d\n", (int)pid);
                if (pfd >= 0) {
                        if (write(pfd, buf, strlen(buf)) == (ssize_t)strlen(buf))
                                (void)renameat(x->run.dirfd, "pid.tmp", x->run.dirfd, "pid");
                        close(pfd);
                }
        }
        if (!x->pin)
                vm_run_log(
                        &x->run,
                        "note: vCPUs are not pinned: no [cpu] pin and this host has too few CPUs for a plan (vfioctl keeps CPU 0's core for the host)");
        if (vm_launch_needs_spawn(x->c))
                vm_run_log(
                        &x->run,
                        "note: bridge networking or an SMB share: QEMU's sandbox allows it to spawn the helper (%s)",
                        VM_LAUNCH_SANDBOX_SPAWN);

        /* QEMU creates the socket during startup; connect while watching that it is still alive. */
        if (asprintf(&qmp_path, "%s/qmp.sock", x->run.qemu_dir) < 0)
                return EXIT_FAILURE_GENERIC;
        for (int i = 0; i < 300; i++) {
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        exited = true;
                        break;
                }
                if (qmp_connect_unix(qmp_path, 100, &fd) >= 0) {
                        /* Only QEMU's own socket (SO_PEERCRED pid = the one we started) gets our commands.
                         */
                        if (qmp_check_peer_pid(fd, pid) >= 0)
                                break;
                        if (!impostor)
                                vm_run_log(&x->run,
                                           "%s is served by another process, not QEMU (pid %d): ignored",
                                           qmp_path, (int)pid);
                        impostor = true;
                        close(fd);
                        fd = -1;
                }
        }
        if (fd >= 0) {
                r = qmp_client_new(fd, &q);
                if (r >= 0)
                        r = qmp_handshake(q, 10000);
                if (r < 0)
                        q = qmp_client_free(q);
        }
        if (!q) {
                if (!exited) {
                        kill(pid, SIGKILL);
                        (void)waitpid(pid, &status, 0);
                }
                tool_error("QEMU did not come up (%s); its messages: vfioctl log %s",
                           exited ? "it exited" : "no QMP socket after 30 s", x->run.name);
                notify(x, "E QEMU did not come up");
                vm_run_release(&x->run, x->st, VM_STATE_CRASHED, "QEMU failed to start (see the log)");
                return EXIT_FAILURE_GENERIC;
        }

        /* Pinning happens while QEMU is still paused by -S: the vCPUs never run on other CPUs. */
        r = pin_threads(x, q, pid);
        if (r < 0) {
                tool_error("pinning the vCPU threads failed: %s; QEMU stopped (the guest never ran)",
                           strerror(-r));
                (void)qmp_execute(q, "quit", NULL, 5000, NULL, NULL);
                kill(pid, SIGKILL);
                (void)waitpid(pid, &status, 0);
                notify(x, "E pinning failed");
                vm_run_release(&x->run, x->st, VM_STATE_CRASHED, "pinning the vCPU threads failed");
                return EXIT_FAILURE_GENERIC;
        }
        if (!x->paused) {
                _cleanup_free_ char *err = NULL;

                r = qmp_execute(q, "cont", NULL, 10000, NULL, &err);
                if (r < 0) {
                        tool_error("QMP cont failed: %s", err ? err : strerror(-r));
                        kill(pid, SIGKILL);
                        (void)waitpid(pid, &status, 0);
                        notify(x, "E cont failed");
                        vm_run_release(&x->run, x->st, VM_STATE_CRASHED, "QMP cont failed");
                        return EXIT_FAILURE_GENERIC;
                }
        }
        x->st->state = x->paused ? VM_STATE_PAUSED : VM_STATE_RUNNING;
        (void)vm_runstate_write(x->run.dirfd, x->st);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        {
                _cleanup_free_ char *pins = strv_join(x->st->vcpu_pins, " ");
                say(x, "VM %s %s (pid %d, user %s, vCPU CPUs %s) in %.2f s", x->run.name,
                    x->paused ? "started paused (vfioctl resume to run it)" : "running", (int)pid,
                    x->user.name, pins && *pins ? pins : "-",
                    (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
        }
        if (x->ddc && !x->paused) {
                _cleanup_free_ char *err = NULL;

                r = vm_run_ddc_switch(x->ddc, x->c->display.input_guest, &err);
                if (r < 0)
                        say(x,
                            "warning: switching the monitor to the guest input failed: %s (the VM runs on)",
                            err ? err : strerror(-r));
        }
        {
                char msg[64];
                snprintf(msg, sizeof(msg), "OK %d", (int)pid);
                notify(x, msg);
        }

        /* Supervise: events until QEMU goes away. */
        while (!exited) {
                json_object *ev = NULL, *name, *data, *reason;

                if (got_signal && !powerdown_sent) {
                        /* Ctrl-C or systemd's SIGTERM: ask the guest to shut down (ACPI power button). */
                        _cleanup_free_ char *err = NULL;

                        say(x, "signal received: powering the guest down (again to quit QEMU at once)");
                        r = q ? qmp_execute(q, "system_powerdown", NULL, 5000, NULL, &err) : -ENOTCONN;
                        if (r < 0)
                                say(x, "system_powerdown failed: %s", err ? err : strerror(-r));
                        powerdown_sent = true;
                } else if (got_signal == 1 && powerdown_sent && q && ++presses % 20 == 0) {
                        /* Every 10 s: a press during early boot, before the guest listens, is lost. */
                        (void)qmp_execute(q, "system_powerdown", NULL, 5000, NULL, NULL);
                } else if (got_signal > 1 && !quit_sent) {
                        (void)qmp_execute(q, "quit", NULL, 5000, NULL, NULL);
                        quit_sent = true;
                }
                r = q ? qmp_next_event(q, 500, &ev) : -ECONNRESET;
                if (r >= 0) {
                        if (json_object_object_get_ex(ev, "event", &name)) {
                                const char *n = json_object_get_string(name);

                                if (strcmp(n, "SHUTDOWN") == 0 &&
                                    json_object_object_get_ex(ev, "data", &data) &&
                                    json_object_object_get_ex(data, "reason", &reason)) {
                                        free(shutdown_reason);
                                        shutdown_reason = strdup(json_object_get_string(reason));
                                        vm_run_log(&x->run, "QMP event SHUTDOWN, reason %s",
                                                   shutdown_reason ? shutdown_reason : "?");
                                } else if (strcmp(n, "STOP") == 0 || strcmp(n, "RESUME") == 0) {
                                        x->st->state = n[0] == 'S' ? VM_STATE_PAUSED : VM_STATE_RUNNING;
                                        (void)vm_runstate_write(x->run.dirfd, x->st);
                                } else if (strcmp(n, "GUEST_PANICKED") == 0)
                                        vm_run_log(&x->run, "QMP event GUEST_PANICKED");
                        }
                        json_object_put(ev);
                } else if (r != -ETIMEDOUT) {
                        q = qmp_client_free(q);
                        if (waitpid(pid, &status, 0) == pid)
                                exited = true;
                }
                if (!exited && waitpid(pid, &status, WNOHANG) == pid)
                        exited = true;
        }
        /* Drain what QEMU said last (the SHUTDOWN event may still be in the socket). */
        if (q) {
                json_object *ev = NULL, *name, *data, *reason;

                while (qmp_next_event(q, 200, &ev) >= 0) {
                        if (json_object_object_get_ex(ev, "event", &name) &&
                            strcmp(json_object_get_string(name), "SHUTDOWN") == 0 &&
                            json_object_object_get_ex(ev, "data", &data) &&
                            json_object_object_get_ex(data, "reason", &reason)) {
                                free(shutdown_reason);
                                shutdown_reason = strdup(json_object_get_string(reason));
                        }
                        json_object_put(ev);
                }
        }
        {
                _cleanup_free_ char *reason = NULL, *request = NULL;
                vm_state final;

                {
                        _cleanup_close_ int rfd = openat(x->run.dirfd, "stop-request", O_RDONLY | O_CLOEXEC);
                        if (rfd >= 0)
                                (void)read_attr_fd(rfd, 64, &request);
                }
                if (shutdown_reason && strcmp(shutdown_reason, "guest-panic") != 0) {
                        final = VM_STATE_STOPPED;
                        reason = strdup(shutdown_reason);
                } else if (shutdown_reason) {
                        final = VM_STATE_CRASHED;
                        reason = strdup("guest-panic");
                } else if (request && strcmp(request, "force") == 0) {
                        final = VM_STATE_STOPPED;
                        reason = strdup("killed by vfioctl stop --force");
                } else if (WIFSIGNALED(status)) {
                        final = VM_STATE_CRASHED;
                        if (asprintf(&reason, "QEMU killed by signal %d (SIG%s)", WTERMSIG(status),
                                     signal_name(WTERMSIG(status))) < 0)
                                reason = NULL;
                } else if (WEXITSTATUS(status) != 0) {
                        final = VM_STATE_CRASHED;
                        if (asprintf(&reason, "QEMU exited with status %d (see: vfioctl log %s)",
                                     WEXITSTATUS(status), x->run.name) < 0)
                                reason = NULL;
                } else {
                        final = VM_STATE_STOPPED;
                        reason = strdup("QEMU exited");
                }
                vm_run_release(&x->run, x->st, final, reason);
                if (!x->detach)
                        fprintf(stderr, "VM %s %s: %s\n", x->run.name, vm_state_to_string(final),
                                reason ? reason : "");
                return final == VM_STATE_STOPPED ? EXIT_OK : EXIT_FAILURE_GENERIC;
        }
}

static int prepare_qemu_dir(start_ctx *x)
{
        struct stat st;

        if (mkdir(x->run.qemu_dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        if (lstat(x->run.qemu_dir, &st) < 0 || !S_ISDIR(st.st_mode))
                return -ENOTDIR;
        /*
         * QEMU, once unprivileged, writes only here; vfioctl's status and lock stay out of its reach. The
         * runtime directory itself becomes 0710 root:GROUP-of-the-VM-user so QEMU can pass through it to
         * qemu/ without being able to list or change anything else in it.
         */
        if (x->drop &&
            (chown(x->run.qemu_dir, x->user.uid, x->user.gid) < 0 || chmod(x->run.qemu_dir, 0700) < 0 ||
             fchown(x->run.dirfd, 0, x->user.gid) < 0 || fchmod(x->run.dirfd, 0710) < 0))
                return -errno;
        return 0;
}

int verb_start(int argc, char **argv)
{
        enum { OPT_DETACH = 0x100, OPT_PAUSED };
        static const struct option options[] = {
                { "detach", no_argument, NULL, OPT_DETACH },
                { "paused", no_argument, NULL, OPT_PAUSED },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(vm_config_freep) vm_config *c = NULL;
        _cleanup_(vfio_host_freep) vfio_host *h = NULL, *live = NULL;
        _cleanup_(vfio_model_freep) vfio_model *m = NULL;
        _cleanup_(vfio_pci_names_freep) vfio_pci_names *names = NULL;
        _cleanup_strv_free_ char **errors = NULL, **warnings = NULL, **devices = NULL, **notes = NULL,
                                 **moved = NULL, **argv_q = NULL, **envp = NULL, **plan_pin = NULL,
                                 **plan_emu = NULL;
        _cleanup_(vm_runstate_freep) vm_runstate *old = NULL;
        _cleanup_close_ int lock_fd = -1;
        _cleanup_free_ char *ddc = NULL, *swtpm_socket = NULL;
        _cleanup_strv_free_ char **swtpm_argv = NULL;
        vm_paths_buf paths = {};
        start_ctx x = { .notify_fd = -1, .mem_fd = -1 };
        bool detach = false, paused = false, is_root = getuid() == 0;
        uint64_t reserved = 0;
        unsigned reserved_kb = 0;
        int opt, r, ret = EXIT_FAILURE_GENERIC;

        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (opt) {
                case OPT_DETACH:
                        detach = true;
                        break;
                case OPT_PAUSED:
                        paused = true;
                        break;
                case 'h':
                        printf("vfioctl start NAME [--detach] [--paused]\n");
                        return EXIT_OK;
                default:
                        return EXIT_USAGE;
                }
        if (tool_check_arity(argc - optind) < 0)
                return EXIT_USAGE;
        r = vm_load_config(argv[optind], &c);
        if (r < 0)
                return r == -EINVAL ? EXIT_DATAERR : EXIT_FAILURE_GENERIC;
        if (vm_config_check(c, &errors) < 0) {
                STRV_FOREACH(e, errors)
                        tool_error("%s", *e);
                return EXIT_DATAERR;
        }

        /* Whose QEMU this is: root drops to [vm] user; anyone else runs it as themselves. */
        if (is_root) {
                if (!c->vm.user) {
                        tool_error(
                                "%s: [vm] user is not set: vfioctl does not run QEMU as root (a guest escape would own the host). Add 'user = NAME' to [vm], or start it as that user",
                                c->filename);
                        return EXIT_DATAERR;
                }
                r = lookup_user(c->vm.user, &x.user);
                if (r < 0) {
                        tool_error(
                                "%s:%u: [vm] user = %s: no such user; create it: useradd --system --no-create-home --groups kvm %s",
                                c->filename, vm_config_key_line(c, "vm", "user"), c->vm.user, c->vm.user);
                        vm_user_done(&x.user);
                        return EXIT_DATAERR;
                }
                x.drop = x.user.uid != 0;
                if (!x.drop) {
                        tool_error("%s: [vm] user = %s is root: name an unprivileged user", c->filename,
                                   c->vm.user);
                        vm_user_done(&x.user);
                        return EXIT_DATAERR;
                }
        } else {
                char self[32];

                snprintf(self, sizeof(self), "%u", (unsigned)getuid());
                r = lookup_user(self, &x.user);
                if (r < 0) {
                        tool_error("cannot look up the current user (uid %s): %s", self, strerror(-r));
                        vm_user_done(&x.user);
                        return EXIT_FAILURE_GENERIC;
                }
                if (c->vm.user && strcmp(c->vm.user, x.user.name) != 0 && strcmp(c->vm.user, self) != 0) {
                        tool_error(
                                "%s: [vm] user = %s, but you are %s: start it as root (vfioctl drops to %s) or as %s",
                                c->filename, c->vm.user, x.user.name, c->vm.user, c->vm.user);
                        vm_user_done(&x.user);
                        return EXIT_NOPERM;
                }
        }
        x.c = c;
        x.detach = detach;
        x.paused = paused;

        if (vm_run_open(c->name, true, &x.run) < 0)
                goto out;
        /* One start at a time: the lock is held by whoever starts and then supervises this VM. */
        r = vm_runstate_lock(x.run.dirfd, &lock_fd);
        if (r == -EBUSY) {
                tool_error(
                        "VM '%s' is already being started or supervised by another vfioctl (lock %s/lock is held); see: vfioctl status %s",
                        c->name, x.run.dir, c->name);
                ret = EXIT_BUSY;
                goto out;
        }
        if (r < 0) {
                tool_error("cannot lock %s/lock: %s", x.run.dir, strerror(-r));
                goto out;
        }
        if (vm_runstate_read(x.run.dirfd, &old) >= 0 && old->pid > 0 && vm_run_alive(&x.run, old)) {
                tool_error(
                        "VM '%s' is already running (pid %d, its supervisor is gone); stop it first: vfioctl stop %s",
                        c->name, (int)old->pid, c->name);
                ret = EXIT_BUSY;
                goto out;
        }
        errors = strv_free(errors);

        /* --- preflight: everything checked before QEMU starts, each failure with its fix --- */
        if (c->n_gpus + c->n_pcis > 0) {
                if (tool_open_host(&h) < 0 || tool_load_model(h, &m) < 0)
                        goto out;
                (void)vfio_pci_names_new(NULL, &names);
        }
        r = vm_config_resolve(c, m, names, &warnings, &errors);
        STRV_FOREACH(w, warnings)
                tool_warning("%s", *w);
        if (r < 0 && !errors)
                add_error(&errors, "resolving devices: %s", strerror(-r));
        if (collect_devices(c, &devices) < 0)
                goto out;
        if (m && devices && c->vm.bind_devices && geteuid() == 0 && !errors)
                (void)start_bind_devices(h, &m, names, devices, &moved, &errors);
        if (m)
                check_devices(c, h, m, devices, &x.user, &errors);
        if (c->vm.accel == VM_ACCEL_KVM)
                (void)check_access(&x.user, "/dev/kvm", R_OK | W_OK, &errors);
        for (size_t i = 0; i < c->n_inputs; i++)
                if (c->inputs[i].type == VM_INPUT_EVDEV && c->inputs[i].evdev)
                        (void)check_access(&x.user, c->inputs[i].evdev, R_OK, &errors);
        if (c->n_usbs > 0) {
                if (!h && tool_open_host(&h) < 0)
                        goto out;
                check_usb(h, c, &x.user, &errors);
        }
        if (vm_relay_wanted(c)) {
                _cleanup_strv_free_ char **relay_warnings = NULL;

                if (!h && tool_open_host(&h) < 0)
                        goto out;
                x.relay = vm_relay_preflight(c, h, &relay_warnings, &errors);
                STRV_FOREACH(w, relay_warnings)
                        tool_warning("%s", *w);
        }
        if (x.drop)
                check_root_paths(c, &x.user, &errors);
        for (size_t i = 0; i < c->n_disks; i++)
                if (c->disks[i].path)
                        (void)check_access(&x.user, c->disks[i].path,
                                           c->disks[i].readonly || c->disks[i].media == VM_MEDIA_CDROM
                                                   ? R_OK
                                                   : R_OK | W_OK,
                                           &errors);
        /* Memory VFIO pins must fit RLIMIT_MEMLOCK (the test bed's "VFIO_MAP_DMA failed: -12"). */
        if (devices || c->memory.locked) {
                uint64_t need = c->memory.size + MEMLOCK_MARGIN;
                struct rlimit rl;

                if (x.drop) {
                        /* Set in the child while still root; raising the hard limit needs CAP_SYS_RESOURCE.
                         */
                        x.memlock = need;
                        if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
                            rl.rlim_max < need &&
                            setrlimit(RLIMIT_MEMLOCK, &(struct rlimit){ rl.rlim_cur, need }) < 0)
                                add_error(
                                        &errors,
                                        "cannot raise RLIMIT_MEMLOCK to %llu KiB (guest RAM + 128 MiB; the hard limit is %llu KiB and this root lacks CAP_SYS_RESOURCE, a container?); raise it where vfioctl runs: LimitMEMLOCK=infinity in the unit, or ulimit -l %llu",
                                        (unsigned long long)need / 1024,
                                        (unsigned long long)rl.rlim_max / 1024,
                                        (unsigned long long)need / 1024);
                } else if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
                           rl.rlim_cur < need) {
                        if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need)
                                x.memlock = need;
                        else
                                add_error(
                                        &errors,
                                        "RLIMIT_MEMLOCK of %s is %llu KiB but VFIO pins guest RAM + 128 MiB = %llu KiB; add '%s - memlock %llu' to /etc/security/limits.d/vfioctl.conf and log in again (or start the VM as root with [vm] user = %s)",
                                        x.user.name, (unsigned long long)rl.rlim_max / 1024,
                                        (unsigned long long)need / 1024, x.user.name,
                                        (unsigned long long)need / 1024, x.user.name);
                }
        }
        /* Hugepages: reserve what is missing when root, else say how. */
        if (c->memory.hugepages != VM_HUGEPAGES_NONE) {
                unsigned kb = c->memory.hugepages == VM_HUGEPAGES_1G ? 1048576 : 2048;
                uint64_t need = c->memory.size / ((uint64_t)kb * 1024), free_pages = 0;

                if (!h && tool_open_host(&h) < 0)
                        goto out;
                r = vm_host_hugepages_free(h, kb, &free_pages);
                if (r >= 0 && free_pages < need && is_root) {
                        _cleanup_free_ char *cur = NULL;
                        char path[128], val[32];
                        uint64_t n = 0;

                        snprintf(path, sizeof(path), "sys/kernel/mm/hugepages/hugepages-%ukB/nr_hugepages",
                                 kb);
                        if (vfio_host_read_attr(h, path, 64, &cur) >= 0 &&
                            parse_uint(cur, 10, UINT64_MAX, &n) >= 0) {
                                snprintf(val, sizeof(val), "%llu",
                                         (unsigned long long)(n + need - free_pages));
                                if (vfio_host_write_attr(h, path, val) >= 0 &&
                                    vm_host_hugepages_free(h, kb, &free_pages) >= 0) {
                                        /* The kernel may reserve fewer than asked (fragmentation). */
                                        _cleanup_free_ char *after = NULL;
                                        uint64_t m2 = n;

                                        if (vfio_host_read_attr(h, path, 64, &after) >= 0)
                                                (void)parse_uint(after, 10, UINT64_MAX, &m2);
                                        if (m2 > n) {
                                                /* Remembered in the status file, released when QEMU exits.
                                                 */
                                                reserved = m2 - n;
                                                reserved_kb = kb;
                                        }
                                }
                        }
                        if (free_pages < need)
                                add_error(
                                        &errors,
                                        "only %llu of the %llu free %u kB hugepages the VM needs could be reserved (memory is fragmented); reserve them at boot: hugepages=%llu on the kernel command line",
                                        (unsigned long long)free_pages, (unsigned long long)need, kb,
                                        (unsigned long long)need);
                } else if (r >= 0 && free_pages < need)
                        add_error(
                                &errors,
                                "%llu free %u kB hugepages, the VM needs %llu; as root: echo %llu > /sys/kernel/mm/hugepages/hugepages-%ukB/nr_hugepages (vfioctl start as root reserves and releases them)",
                                (unsigned long long)free_pages, kb, (unsigned long long)need,
                                (unsigned long long)need, kb);
                else if (r < 0)
                        add_error(&errors, "cannot read the hugepage pool of %u kB pages: %s", kb,
                                  strerror(-r));
        }
        {
                _cleanup_strv_free_ char **evdevs = NULL;

                for (size_t i = 0; i < c->n_inputs; i++)
                        if (c->inputs[i].type == VM_INPUT_EVDEV && c->inputs[i].evdev)
                                (void)strv_extend(&evdevs, c->inputs[i].evdev);
                check_conflicts(c->name, devices, c->cpu.pin, evdevs, &errors);
                x.st = calloc(1, sizeof(*x.st));
                if (!x.st)
                        goto out;
                x.st->evdevs = TAKE_PTR(evdevs);
                x.st->hugepages_reserved = reserved;
                x.st->hugepage_kb = reserved_kb;
        }
        /* Pinning: the config's, else the plan for this host (vm_plan_pinning). */
        if (c->cpu.pin) {
                x.pin = c->cpu.pin;
                x.emulator_pin = c->cpu.emulator_pin;
        } else {
                _cleanup_free_ vm_host_cpu *cpus = NULL;
                size_t n = 0;
                unsigned threads;

                if (vfio_host_open(NULL, &live) >= 0 && vm_host_cpus(live, &cpus, &n) >= 0 &&
                    vm_plan_pinning(cpus, n, vm_config_vcpus(c), &plan_pin, &plan_emu, &threads) >= 0) {
                        x.pin = plan_pin;
                        x.emulator_pin = c->cpu.emulator_pin ? c->cpu.emulator_pin : plan_emu;
                } else
                        x.emulator_pin = c->cpu.emulator_pin;
        }
        /* Paths: sockets in DIR/qemu (the only place QEMU writes), per-VM files in the state dir. */
        r = vm_default_paths(c, &paths);
        if (r < 0)
                goto out;
        free(paths.runtime_dir);
        paths.runtime_dir = strdup(x.run.qemu_dir);
        paths.paths.runtime_dir = paths.runtime_dir;
        paths.paths.uid = x.user.uid;
        paths.paths.input_relay = x.relay;
        if (is_root) {
                free(paths.state_dir);
                if (asprintf(&paths.state_dir, "%s/var/lib/vfioctl/%s", arg_root ? arg_root : "", c->name) <
                    0)
                        paths.state_dir = NULL;
                paths.paths.state_dir = paths.state_dir;
        }
        if (!paths.runtime_dir || !paths.state_dir)
                goto out;
        (void)ensure_vars(c, &paths.paths, &x.user, x.drop, &errors);
        if (c->tpm.enabled && c->tpm.socket) {
                /* The user runs swtpm: it must be listening already. */
                if (access(c->tpm.socket, F_OK) < 0)
                        add_error(
                                &errors,
                                "%s: [tpm] socket %s does not exist: start swtpm first (swtpm socket --tpm2 --ctrl type=unixio,path=%s --tpmstate dir=DIR) or drop the socket key to let vfioctl run it",
                                c->filename, c->tpm.socket, c->tpm.socket);
        } else if (c->tpm.enabled) {
                _cleanup_free_ char *tpmdir = NULL, *state = NULL, *ctrl = NULL;

                if (access("/usr/bin/swtpm", X_OK) < 0)
                        add_error(&errors, "%s: [tpm] needs the TPM emulator swtpm: apt-get install swtpm",
                                  c->filename);
                else if (asprintf(&tpmdir, "%s/tpm", paths.state_dir) < 0 ||
                         asprintf(&state, "dir=%s", tpmdir) < 0 ||
                         !(swtpm_socket = vm_qemu_tpm_socket(c, &paths.paths)) ||
                         asprintf(&ctrl, "type=unixio,path=%s", swtpm_socket) < 0)
                        goto out;
                else {
                        /* Its state (the TPM's NVRAM) persists per VM, private to the VM user. */
                        (void)mkdir_parents_owned(tpmdir, &x.user, x.drop);
                        (void)strv_extend(&swtpm_argv, "/usr/bin/swtpm");
                        (void)strv_extend(&swtpm_argv, "socket");
                        (void)strv_extend(&swtpm_argv, "--tpm2");
                        (void)strv_extend(&swtpm_argv, "--tpmstate");
                        (void)strv_extend(&swtpm_argv, state);
                        (void)strv_extend(&swtpm_argv, "--ctrl");
                        (void)strv_extend(&swtpm_argv, ctrl);
                        /* --terminate: swtpm ends when QEMU closes the connection. */
                        (void)strv_extend(&swtpm_argv, "--terminate");
                        x.swtpm_argv = swtpm_argv;
                        x.swtpm_socket = swtpm_socket;
                }
        }
        /* ---- guest RAM filled by vfioctl before QEMU maps it (lib/run/prealloc.c) ---- */
        if (!errors) {
                r = vm_prealloc_guest_ram(h, c, x.pin, x.drop, x.user.uid, x.user.gid, &x.mem_fd,
                                          &x.prealloc);
                if (r < 0)
                        add_error(
                                &errors,
                                "%s: allocating the %llu MiB of guest RAM in hugepages below %s failed: %s",
                                c->filename, (unsigned long long)(c->memory.size >> 20),
                                vm_qemu_hugepage_dir(c), strerror(-r));
                else if (x.mem_fd >= 0)
                        paths.paths.memory_file = "/proc/self/fd/3"; /* vm_spawn.pass_fd */
        }
        /* ---- */
        if (errors) {
                tool_error("VM '%s' was not started; %zu preflight check%s failed:", c->name,
                           strv_length(errors), strv_length(errors) == 1 ? "" : "s");
                STRV_FOREACH(e, errors)
                        fprintf(stderr, "  - %s\n", *e);
                /* The host is never left half-changed: devices bound for this start go back. */
                STRV_FOREACH(d, moved) {
                        _cleanup_free_ char *err = NULL;

                        if (vm_run_give_back(*d, &err) < 0)
                                tool_warning("%s", err ? err : *d);
                }
                ret = EXIT_PREFLIGHT;
                if (reserved) {
                        /* Roll back: the host is never left half-changed by a failed start. */
                        char path[128], val[32];
                        _cleanup_free_ char *cur = NULL;
                        uint64_t n = 0;

                        snprintf(path, sizeof(path), "sys/kernel/mm/hugepages/hugepages-%ukB/nr_hugepages",
                                 reserved_kb);
                        if (vfio_host_read_attr(h, path, 64, &cur) >= 0 &&
                            parse_uint(cur, 10, UINT64_MAX, &n) >= 0 && n >= reserved) {
                                snprintf(val, sizeof(val), "%llu", (unsigned long long)(n - reserved));
                                if (vfio_host_write_attr(h, path, val) >= 0)
                                        fprintf(stderr,
                                                "released the %llu hugepages reserved for this start\n",
                                                (unsigned long long)reserved);
                        }
                }
                goto out;
        }
        if (vm_config_key_line(c, "display", "ddc_bus") || c->display.monitor) {
                if (vm_config_key_line(c, "display", "ddc_bus")) {
                        if (asprintf(&ddc, "bus=%u", c->display.ddc_bus) < 0)
                                ddc = NULL;
                } else if (asprintf(&ddc, "display=%s", c->display.monitor) < 0)
                        ddc = NULL;
                x.ddc = ddc;
                if (ddc && asprintf(&x.st->ddc, "%s host=0x%02x guest=0x%02x", ddc, c->display.input_host,
                                    c->display.input_guest) < 0)
                        x.st->ddc = NULL;
        }

        r = vm_qemu_argv(c, &paths.paths, &argv_q, &notes);
        if (r >= 0)
                r = vm_launch_argv(&argv_q, strv_length(c->vm.extra_args), x.run.qemu_dir,
                                   vm_launch_needs_spawn(c));
        if (r < 0) {
                tool_error("building the QEMU command line: %s", strerror(-r));
                goto out;
        }
        STRV_FOREACH(n, notes)
                fprintf(stderr, "note: %s\n", *n);
        /* Environment: no X or Wayland access for QEMU; a fresh one for another user. */
        if (x.drop) {
                char *e = NULL;

                (void)strv_extend(&envp, "PATH=/usr/local/bin:/usr/bin:/bin");
                if (asprintf(&e, "HOME=%s", x.user.home) >= 0)
                        strv_push(&envp, e);
                if (asprintf(&e, "USER=%s", x.user.name) >= 0)
                        strv_push(&envp, e);
                if (asprintf(&e, "LOGNAME=%s", x.user.name) >= 0)
                        strv_push(&envp, e);
        } else
                for (char **e = environ; e && *e; e++)
                        if (!vm_launch_env_blocked(*e))
                                (void)strv_extend(&envp, *e);
        r = prepare_qemu_dir(&x);
        if (r < 0) {
                tool_error("cannot prepare %s: %s", x.run.qemu_dir, strerror(-r));
                goto out;
        }
        x.argv = argv_q;
        x.envp = envp;
        x.st->uid = x.user.uid;
        x.st->user = strdup(x.user.name);
        x.st->memory = c->memory.size;
        x.st->devices = TAKE_PTR(devices);
        x.st->rebind = TAKE_PTR(moved);
        if (c->cpu.pin)
                (void)strv_extend_strv_copy(&x.st->cpus, c->cpu.pin);
        x.st->qemu_dir = strdup(x.run.qemu_dir);
        (void)unlinkat(x.run.dirfd, "stop-request", 0);

        if (detach) {
                int pfd[2];
                char buf[256] = "";
                ssize_t n;
                pid_t child;

                if (pipe2(pfd, O_CLOEXEC) < 0)
                        goto out;
                fflush(NULL);
                child = fork();
                if (child < 0)
                        goto out;
                if (child == 0) {
                        /* The supervisor: its own session, no terminal; it keeps the lock (same
                         * description). */
                        int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                        close(pfd[0]);
                        (void)setsid();
                        if (null >= 0) {
                                dup2(null, 0);
                                dup2(null, 1);
                                dup2(null, 2);
                        }
                        x.notify_fd = pfd[1];
                        _exit(launch_and_supervise(&x));
                }
                close(pfd[1]);
                n = read(pfd[0], buf, sizeof(buf) - 1);
                close(pfd[0]);
                if (n > 3 && strncmp(buf, "OK ", 3) == 0) {
                        buf[n] = 0;
                        printf("VM %s %s (pid %s, user %s); stop it with: vfioctl stop %s\n", c->name,
                               paused ? "started paused" : "running", buf + 3, x.user.name, c->name);
                        ret = EXIT_OK;
                } else {
                        tool_error("VM '%s' did not start: %s; see: vfioctl log %s", c->name,
                                   n > 2 ? buf + 2 : "the supervisor exited", c->name);
                        (void)waitpid(child, NULL, 0);
                        ret = EXIT_FAILURE_GENERIC;
                }
        } else
                ret = launch_and_supervise(&x);
out:
        if (x.mem_fd >= 0)
                close(x.mem_fd);
        vm_paths_done(&paths);
        vm_runstate_free(x.st);
        vm_user_done(&x.user);
        vm_run_done(&x.run);
        return ret;
}
