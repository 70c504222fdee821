/* Everything `start` checks before QEMU runs, as problems with their fixes, and the host changes it needs.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cpulist.h"
#include "fs-util.h"
#include "host-steps.h"
#include "parse-util.h"
#include "safedir.h"
#include "start-private.h"
#include "strv.h"
#include "vfioctl/account.h"
#include "vfioctl/bind.h"
#include "vfioctl/macvtap.h"
#include "vfioctl/media.h"
#include "vfioctl/perm.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/relay.h"
#include "vfioctl/release.h"
#include "vfioctl/selector.h"
#include "vfioctl/statedir.h"
#include "vfioctl/vmdefaults.h"
#include "vfioctl/vmneeds.h"

/* A turn covers the rest of preflight (guest RAM filled, the display handed off) up to the record: long for
 * a large VM, never minutes. */
#define PLAN_TURN_TIMEOUT_MS (120 * 1000)

/* VFIO pins all guest RAM plus ROMs, firmware and MMIO shadows: the test bed needed RAM + 64 MiB; keep 2x.
 */
#define MEMLOCK_MARGIN (128ULL << 20)

#define ERR VFIO_PROBLEM_ERROR

static int fatal(char **ret_error, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fatal(char **ret_error, int r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return r;
}

/* A path below the host root as the user knows it: "/dev/vfio/3" live, "ROOT/dev/vfio/3" under --root. */
static const char *root_prefix(const vfio_host *h)
{
        return vfio_host_is_live(h) ? "" : vfio_host_root(h);
}

static int open_host(vm_start *x, char **ret_error)
{
        int r;

        if (x->host)
                return 0;
        r = vfio_host_open(x->o.root, &x->host);
        if (r < 0)
                return fatal(
                        ret_error, r,
                        "cannot open the host root %s: %s (--root must name a directory holding sys/, proc/)",
                        x->o.root ? x->o.root : "/", strerror(-r));
        return 0;
}

/* A warning for each problem of the host model, as every verb shows them. */
static void model_warnings(const vfio_host *h, const vfio_model *m, vfio_problems *problems)
{
        STRV_FOREACH(p, m->problems)
                (void)vfio_problems_add(
                        problems, VFIO_PROBLEM_WARNING, "%s%s%s (ignored; the listing may be incomplete)",
                        vfio_host_is_live(h) ? "/" : vfio_host_root(h), vfio_host_is_live(h) ? "" : "/", *p);
}

/* The host's PCI devices and their names, for configs that pass any. */
static int load_model(vm_start *x, vfio_problems *problems, char **ret_error)
{
        int r;

        if (x->c->n_gpus + x->c->n_pcis == 0)
                return 0;
        if ((r = open_host(x, ret_error)) < 0)
                return r;
        r = vfio_model_load(x->host, &x->model);
        if (r < 0)
                return fatal(ret_error, r, "cannot read the host's PCI devices below %s: %s",
                             vfio_host_root(x->host), strerror(-r));
        model_warnings(x->host, x->model, problems);
        (void)vfio_pci_names_new(NULL, &x->names); /* optional: name patterns then match nothing */
        return 0;
}

/* Resolves the [gpu]/[pci] selectors into the host addresses passed through. */
static int resolve_devices(vm_start *x, vfio_problems *problems)
{
        _cleanup_strv_free_ char **warnings = NULL, **errors = NULL, **l = NULL;
        const vm_config *c = x->c;
        int r;

        r = vm_config_resolve(x->c, x->model, x->names, &warnings, &errors);
        (void)vfio_problems_add_strv(problems, VFIO_PROBLEM_WARNING, warnings);
        (void)vfio_problems_add_strv(problems, ERR, errors);
        if (r < 0 && !errors)
                (void)vfio_problems_add(problems, ERR, "resolving devices: %s", strerror(-r));
        for (size_t i = 0; i < c->n_gpus; i++)
                STRV_FOREACH(a, c->gpus[i].resolved)
                        if (!strv_contains(l, *a) && (r = strv_extend(&l, *a)) < 0)
                                return r;
        for (size_t i = 0; i < c->n_pcis; i++)
                STRV_FOREACH(a, c->pcis[i].resolved)
                        if (!strv_contains(l, *a) && (r = strv_extend(&l, *a)) < 0)
                                return r;
        x->devices = TAKE_PTR(l);
        return 0;
}

/*
 * [vm] bind_devices, started by root: the VM's devices (and the other endpoints of their groups) go to
 * vfio-pci by bind's rules (host-critical devices refused, rollback on failure), before the checks. What
 * moved is recorded ("ADDR=driver", release step "rebind") so each goes back to its driver.
 */
static int bind_devices(vm_start *x, vfio_problems *problems)
{
        _cleanup_(vfio_selection_freep) vfio_selection *sel = NULL;
        _cleanup_(vfio_bind_plan_freep) vfio_bind_plan *plan = NULL;
        _cleanup_strv_free_ char **mine = NULL;
        vfio_bind_opts o = { .with_group = true };
        int r;

        if (vfio_host_is_live(x->host)) {
                o.verify = true;
                o.modprobe = x->o.modprobe;
        }
        /* The handed-off card moves last, after the host let go of it (handoff.c). */
        STRV_FOREACH(a, x->devices)
                if (!vm_handoff_owns(x, *a) && (r = strv_extend(&mine, *a)) < 0)
                        return r;
        if (!mine)
                return 0;
        r = vfio_selection_resolve(x->host, x->model, x->names, mine, VFIO_SELECT_FUNCTION_ONLY, &sel);
        if (r < 0) {
                STRV_FOREACH(p, sel ? sel->problems : NULL)
                        (void)vfio_problems_add(problems, ERR, "bind_devices: %s", *p);
                if (!sel || !sel->problems || !sel->problems[0])
                        (void)vfio_problems_add(problems, ERR, "bind_devices: %s", strerror(-r));
                return r;
        }
        r = vfio_bind_plan_new(x->host, x->model, sel, VFIO_BIND_TO_VFIO, &o, &plan);
        if (r < 0) {
                (void)vfio_problems_add(problems, ERR, "bind_devices: cannot plan the binding: %s",
                                        strerror(-r));
                return r;
        }
        if (plan->refusals && plan->refusals[0]) {
                STRV_FOREACH(p, plan->refusals)
                        (void)vfio_problems_add(problems, ERR, "bind_devices: %s", *p);
                return -EPERM;
        }
        r = vfio_bind_execute(x->host, plan, &o);
        if (r < 0) {
                (void)vfio_problems_add(
                        problems, ERR,
                        "bind_devices: binding to vfio-pci failed: %s (the devices moved were put back)",
                        strerror(-r));
                return r;
        }
        for (size_t i = 0; i < plan->n; i++)
                if (plan->devs[i].moved &&
                    strv_extendf(&x->st->rebind, "%s=%s", plan->devs[i].name,
                                 plan->devs[i].driver ? plan->devs[i].driver : "") < 0)
                        return -ENOMEM;
        if (x->st->rebind) {
                x->pending = true;
                if ((r = vm_release_record(x->st, VM_RELEASE_REBIND)) < 0)
                        return r;
        }
        /* Drivers changed: the checks below must see the host as it is now. */
        x->model = vfio_model_free(x->model);
        r = vfio_model_load(x->host, &x->model);
        if (r < 0)
                (void)vfio_problems_add(problems, ERR,
                                        "cannot re-read the host's PCI devices after binding: %s",
                                        strerror(-r));
        return r;
}

static bool on_vfio(const vfio_model_device *d)
{
        return d->pci->driver && strcmp(d->pci->driver, "vfio-pci") == 0;
}

/* One device: passable, on vfio-pci, its group viable, its group node open to the VM user. */
static bool check_device(vm_start *x, const char *addr, vfio_problems *problems)
{
        const vfio_model_device *d = vfio_model_find_device(x->model, addr);
        char node[512];

        if (!d) {
                (void)vfio_problems_add(problems, ERR,
                                        "device %s does not exist on this host (lspci -D lists them)", addr);
                (void)vfio_problems_fix(problems, "fix the [gpu]/[pci] selector");
                return false;
        }
        switch (d->verdict) {
        case VFIO_VERDICT_NO_IOMMU:
                (void)vfio_problems_add(problems, ERR, "device %s has no IOMMU group: the IOMMU is off",
                                        addr);
                (void)vfio_problems_fix(problems, "run: vfioctl check");
                return false;
        case VFIO_VERDICT_HOST_CRITICAL:
                (void)vfio_problems_add(
                        problems, ERR,
                        "device %s shares its IOMMU group with a device the host needs (%s); it cannot be passed through safely (vfioctl devices shows the group)",
                        addr, d->blockers && d->blockers[0] ? d->blockers[0] : "host-critical");
                return false;
        case VFIO_VERDICT_BRIDGE:
                (void)vfio_problems_add(problems, ERR, "device %s is a PCI bridge, not a passthrough target",
                                        addr);
                return false;
        default:
                break;
        }
        if (!on_vfio(d)) {
                (void)vfio_problems_add(problems, ERR, "device %s is on driver %s, not vfio-pci",
                                        d->pci->name, d->pci->driver ? d->pci->driver : "(none)");
                (void)vfio_problems_fix(problems, "run: vfioctl bind %s", d->pci->name);
        }
        /* The group is viable only when every endpoint in it is on vfio-pci (vfio.rst, "Groups"). */
        STRV_FOREACH(p, d->group_peers) {
                const vfio_model_device *pd = vfio_model_find_device(x->model, *p);

                if (pd && !on_vfio(pd) && !strv_contains(x->devices, *p)) {
                        (void)vfio_problems_add(
                                problems, ERR, "IOMMU group %d of %s is not viable: %s is on driver %s",
                                d->pci->iommu_group, addr, *p, pd->pci->driver ? pd->pci->driver : "(none)");
                        (void)vfio_problems_fix(
                                problems, "pass it too ([pci] or functions = auto) or run: vfioctl bind %s",
                                *p);
                }
        }
        snprintf(node, sizeof(node), "%s/dev/vfio/%d", root_prefix(x->host), d->pci->iommu_group);
        if (on_vfio(d))
                (void)vm_user_check_access(x->user, node, R_OK | W_OK, problems);
        return true;
}

static void check_devices(vm_start *x, vfio_problems *problems, bool handoff)
{
        bool any = false;

        /* The handed-off card is checked once it moved (handoff == true), the others before. */
        STRV_FOREACH(a, x->devices)
                if (vm_handoff_owns(x, *a) == handoff)
                        any |= check_device(x, *a, problems);
        if (any) {
                char node[512];

                snprintf(node, sizeof(node), "%s/dev/vfio/vfio", root_prefix(x->host));
                (void)vm_user_check_access(x->user, node, R_OK | W_OK, problems);
        }
}

/* The sysfs name (sys/bus/usb/devices) of a [usb] device, by vendor:product or by bus-port. */
static bool usb_matches(const vfio_host *h, const vm_usb *usb, const char *name)
{
        _cleanup_free_ char *vid = NULL, *pid = NULL;
        char path[512], want[64];
        uint64_t v, p;

        if (!usb->has_id) {
                snprintf(want, sizeof(want), "%u-%s", usb->host_bus, usb->host_port ? usb->host_port : "");
                return strcmp(name, want) == 0;
        }
        snprintf(path, sizeof(path), "sys/bus/usb/devices/%s/idVendor", name);
        if (vfio_host_read_attr(h, path, 16, &vid) < 0 || parse_uint(vid, 16, 0xffff, &v) < 0)
                return false;
        snprintf(path, sizeof(path), "sys/bus/usb/devices/%s/idProduct", name);
        if (vfio_host_read_attr(h, path, 16, &pid) < 0 || parse_uint(pid, 16, 0xffff, &p) < 0)
                return false;
        return v == usb->vendor && p == usb->product;
}

/* The node QEMU opens for a USB device (dev/bus/usb/BBB/DDD), from its busnum and devnum. */
static int usb_node(const vfio_host *h, const char *name, char *buf, size_t size)
{
        _cleanup_free_ char *bus = NULL, *dev = NULL;
        char path[512];
        uint64_t b, d;

        snprintf(path, sizeof(path), "sys/bus/usb/devices/%s/busnum", name);
        if (vfio_host_read_attr(h, path, 16, &bus) < 0 || parse_uint(bus, 10, 999, &b) < 0)
                return -ENOENT;
        snprintf(path, sizeof(path), "sys/bus/usb/devices/%s/devnum", name);
        if (vfio_host_read_attr(h, path, 16, &dev) < 0 || parse_uint(dev, 10, 999, &d) < 0)
                return -ENOENT;
        snprintf(buf, size, "%s/dev/bus/usb/%03u/%03u", root_prefix(h), (unsigned)b, (unsigned)d);
        return 0;
}

/* USB devices passed with usb-host: QEMU opens their nodes as the VM user. */
static void check_usb(vm_start *x, vfio_problems *problems)
{
        _cleanup_strv_free_ char **names = NULL;
        const vm_config *c = x->c;

        if (vfio_host_list_dir(x->host, "sys/bus/usb/devices", 1024, &names) < 0) {
                (void)vfio_problems_add(problems, ERR, "cannot list %s/sys/bus/usb/devices: is USB present?",
                                        root_prefix(x->host));
                return;
        }
        for (size_t i = 0; i < c->n_usbs; i++) {
                const vm_usb *usb = &c->usbs[i];
                bool found = false;

                STRV_FOREACH(n, names) {
                        char node[512];

                        if (strchr(*n, ':'))
                                continue; /* interfaces ("1-2:1.0"), not devices */
                        if (!usb_matches(x->host, usb, *n) || usb_node(x->host, *n, node, sizeof(node)) < 0)
                                continue;
                        (void)vm_user_check_access(x->user, node, R_OK | W_OK, problems);
                        found = true;
                        break;
                }
                if (found)
                        continue;
                if (usb->has_id)
                        (void)vfio_problems_add(
                                problems, ERR,
                                "%s:%u: [usb \"%s\"] %04x:%04x is not plugged in (lsusb lists what is)",
                                c->filename, usb->line, usb->name, usb->vendor, usb->product);
                else
                        (void)vfio_problems_add(
                                problems, ERR, "%s:%u: [usb \"%s\"] nothing is plugged in at bus %u port %s",
                                c->filename, usb->line, usb->name, usb->host_bus,
                                usb->host_port ? usb->host_port : "?");
        }
}

/* Device nodes and files QEMU opens as the VM user: /dev/kvm, evdev inputs, disks. */
static void check_access(vm_start *x, vfio_problems *problems)
{
        const vm_config *c = x->c;

        if (c->vm.accel == VM_ACCEL_KVM)
                (void)vm_user_check_access(x->user, "/dev/kvm", R_OK | W_OK, problems);
        for (size_t i = 0; i < c->n_inputs; i++)
                if (c->inputs[i].type == VM_INPUT_EVDEV && c->inputs[i].evdev)
                        (void)vm_user_check_access(x->user, c->inputs[i].evdev, R_OK, problems);
}

static void check_disks(vm_start *x, vfio_problems *problems)
{
        const vm_config *c = x->c;

        for (size_t i = 0; i < c->n_disks; i++)
                if (c->disks[i].path)
                        (void)vm_user_check_access(
                                x->user, c->disks[i].path,
                                c->disks[i].readonly || c->disks[i].media == VM_MEDIA_CDROM ? R_OK
                                                                                            : R_OK | W_OK,
                                problems);
}

/*
 * Root starting a VM for its user: nothing root reads on the VM's behalf may be changeable by anyone but
 * root (seed 003, "Permissions for non-root GPU passthrough": the start script must not be writable by the
 * VM user). The config decides what root binds and runs; the OVMF template is copied by root. Disks are
 * opened by QEMU as the VM user, so they are the VM user's to own. perm.c walks every component.
 */
static void check_root_paths(vm_start *x, vfio_problems *problems)
{
        _cleanup_(vfio_host_freep) vfio_host *live = NULL;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ uint32_t *gids = NULL;
        _cleanup_free_ char *cfg = NULL;
        const vm_config *c = x->c;
        const vm_user *u = x->user;
        const char *paths[3] = {};
        vfio_account a;

        gids = calloc(u->n_member_of + 1, sizeof(uint32_t));
        if (!gids || vfio_host_open(NULL, &live) < 0)
                return;
        for (size_t i = 0; i < u->n_member_of; i++) {
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
                if (r == 1) {
                        (void)vfio_problems_add(
                                problems, ERR,
                                "%s: %s is %s (uid %u, gid %u, mode %04o): user %s (or another) could change what root reads to start the VM",
                                paths[i], issue->path, vfio_perm_reason_to_string(issue->reason), issue->uid,
                                issue->gid, issue->mode, u->name);
                        (void)vfio_problems_fix(problems, "fix: %s", issue->fix);
                } else if (r < 0)
                        /* A path that is gone is refused too: a config read, then removed, or /dev/stdin
                         * (its target is no file), must not pass unchecked. */
                        (void)vfio_problems_add(problems, ERR, "%s: cannot check its ownership: %s",
                                                paths[i], strerror(-r));
        }
}

/* Memory VFIO pins must fit RLIMIT_MEMLOCK (the test bed's "VFIO_MAP_DMA failed: -12"). */
static void check_memlock(vm_start *x, vfio_problems *problems)
{
        const vm_config *c = x->c;
        uint64_t need = c->memory.size + MEMLOCK_MARGIN;
        struct rlimit rl;

        if (!x->devices && !c->memory.locked)
                return;
        if (x->drop) {
                /* Set in the child while still root; raising the hard limit needs CAP_SYS_RESOURCE. */
                x->memlock = need;
                if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
                    rl.rlim_max < need &&
                    setrlimit(RLIMIT_MEMLOCK, &(struct rlimit){ rl.rlim_cur, need }) < 0) {
                        (void)vfio_problems_add(
                                problems, ERR,
                                "cannot raise RLIMIT_MEMLOCK to %llu KiB (guest RAM + 128 MiB; the hard limit is %llu KiB and this root lacks CAP_SYS_RESOURCE, a container?)",
                                (unsigned long long)need / 1024, (unsigned long long)rl.rlim_max / 1024);
                        (void)vfio_problems_fix(
                                problems,
                                "raise it where vfioctl runs: LimitMEMLOCK=infinity in the unit, or ulimit -l %llu",
                                (unsigned long long)need / 1024);
                }
                return;
        }
        if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
                return;
        if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need)
                x->memlock = need;
        else {
                (void)vfio_problems_add(
                        problems, ERR,
                        "RLIMIT_MEMLOCK of %s is %llu KiB but VFIO pins guest RAM + 128 MiB = %llu KiB",
                        x->user->name, (unsigned long long)rl.rlim_max / 1024,
                        (unsigned long long)need / 1024);
                (void)vfio_problems_fix(
                        problems,
                        "add '%s - memlock %llu' to /etc/security/limits.d/vfioctl.conf and log in again (or start the VM as root with [vm] user = %s)",
                        x->user->name, (unsigned long long)need / 1024, x->user->name);
        }
}

/* Adds n pages to the pool of size kb: how many the kernel really added (it may add fewer: fragmentation).
 */
static int reserve_hugepages(vfio_host *h, unsigned kb, uint64_t n, uint64_t *ret_added)
{
        _cleanup_free_ char *cur = NULL, *after = NULL;
        char path[128], val[32];
        uint64_t before = 0, now;
        int r;

        snprintf(path, sizeof(path), "sys/kernel/mm/hugepages/hugepages-%ukB/nr_hugepages", kb);
        if ((r = vfio_host_read_attr(h, path, 64, &cur)) < 0 ||
            (r = parse_uint(cur, 10, UINT64_MAX, &before)) < 0)
                return r;
        snprintf(val, sizeof(val), "%llu", (unsigned long long)(before + n));
        if ((r = vfio_host_write_attr(h, path, val)) < 0)
                return r;
        now = before;
        if (vfio_host_read_attr(h, path, 64, &after) >= 0)
                (void)parse_uint(after, 10, UINT64_MAX, &now);
        *ret_added = now > before ? now - before : 0;
        return 0;
}

/* Hugepages: root reserves what is missing (a release step gives them back), anyone else is told how. */
static int check_hugepages(vm_start *x, vfio_problems *problems, char **ret_error)
{
        const vm_config *c = x->c;
        unsigned kb = c->memory.hugepages == VM_HUGEPAGES_1G ? 1048576 : 2048;
        uint64_t need = c->memory.size / ((uint64_t)kb * 1024), free_pages = 0, added = 0;
        int r;

        if (c->memory.hugepages == VM_HUGEPAGES_NONE)
                return 0;
        if ((r = open_host(x, ret_error)) < 0)
                return r;
        r = vm_host_hugepages_free(x->host, kb, &free_pages);
        if (r < 0) {
                (void)vfio_problems_add(problems, ERR, "cannot read the hugepage pool of %u kB pages: %s",
                                        kb, strerror(-r));
                return 0;
        }
        if (free_pages >= need)
                return 0;
        if (getuid() != 0) {
                (void)vfio_problems_add(problems, ERR, "%llu free %u kB hugepages, the VM needs %llu",
                                        (unsigned long long)free_pages, kb, (unsigned long long)need);
                (void)vfio_problems_fix(
                        problems,
                        "as root: echo %llu > /sys/kernel/mm/hugepages/hugepages-%ukB/nr_hugepages (vfioctl start as root reserves and releases them)",
                        (unsigned long long)need, kb);
                return 0;
        }
        if (reserve_hugepages(x->host, kb, need - free_pages, &added) >= 0 && added > 0) {
                x->st->hugepages_reserved = added;
                x->st->hugepage_kb = kb;
                x->pending = true;
                if ((r = vm_release_record(x->st, VM_RELEASE_HUGEPAGES)) < 0)
                        return r;
        }
        (void)vm_host_hugepages_free(x->host, kb, &free_pages);
        if (free_pages < need) {
                (void)vfio_problems_add(
                        problems, ERR,
                        "only %llu of the %llu free %u kB hugepages the VM needs could be reserved (memory is fragmented)",
                        (unsigned long long)free_pages, (unsigned long long)need, kb);
                (void)vfio_problems_fix(problems,
                                        "reserve them at boot: hugepages=%llu on the kernel command line",
                                        (unsigned long long)need);
        }
        return 0;
}

/*
 * [memory] host_nodes names nodes with memory on this host: QEMU's mbind fails on any other one ("cannot
 * bind memory to host NUMA nodes", only in the VM's log). Without the kernel's list (no NUMA support) QEMU
 * decides.
 */
static int check_host_nodes(vm_start *x, vfio_problems *problems, char **ret_error)
{
        _cleanup_free_ char *text = NULL, *have = NULL;
        _cleanup_free_ bool *set = NULL;
        const vm_config *c = x->c;
        unsigned line = vm_config_key_line(c, "memory", "host_nodes");
        int r;

        if (!c->memory.host_nodes)
                return 0;
        if ((r = open_host(x, ret_error)) < 0)
                return r;
        set = calloc(CPULIST_MAX, sizeof(bool));
        if (!set)
                return -ENOMEM;
        if (vfio_host_read_attr(x->host, "sys/devices/system/node/has_memory", 65536, &text) < 0 ||
            cpulist_parse(text, set, CPULIST_MAX) < 0)
                return 0;
        have = cpulist_format(set, CPULIST_MAX, ',');
        STRV_FOREACH(n, c->memory.host_nodes) {
                uint64_t v;

                if (parse_uint(*n, 10, CPULIST_MAX - 1, &v) < 0 || set[v])
                        continue;
                (void)vfio_problems_add(
                        problems, ERR,
                        "%s:%u: [memory] host_nodes: this host has no memory on NUMA node %s (nodes with memory: %s, sys/devices/system/node/has_memory)",
                        c->filename ? c->filename : "?", line, *n, have ? have : "?");
                (void)vfio_problems_fix(
                        problems, "list nodes this host has in [memory] host_nodes, or remove the key");
        }
        return 0;
}

/* What one running (or starting) VM holds that this one asks for: devices, explicitly pinned CPUs, evdev
 * grabs. */
static void check_conflicts_with(vm_start *x, const char *name, const vm_runstate *s, char **evdevs,
                                 vfio_problems *problems)
{
        _cleanup_free_ char *who = NULL;
        /* Until its vCPUs are pinned a VM holds the CPUs its start planned. */
        char **held = s->vcpu_pins ? s->vcpu_pins : s->planned;

        if ((s->pid > 0 ? asprintf(&who, "the running VM '%s' (pid %d)", name, (int)s->pid)
                        : asprintf(&who, "the VM '%s' being started", name)) < 0)
                who = NULL;
        STRV_FOREACH(d, x->devices)
                if (strv_contains(s->devices, *d)) {
                        (void)vfio_problems_add(problems, ERR, "device %s is in use by %s", *d,
                                                who ? who : name);
                        (void)vfio_problems_fix(problems, "stop it first: vfioctl stop %s", name);
                }
        STRV_FOREACH(c, x->c->cpu.pin)
                if (strv_contains(s->cpus, *c)) {
                        (void)vfio_problems_add(problems, ERR, "host CPU %s is pinned by %s", *c,
                                                who ? who : name);
                        (void)vfio_problems_fix(problems,
                                                "choose other CPUs in [cpu] pin or stop it: vfioctl stop %s",
                                                name);
                }
        /* Remembered for a plan at start: unpinned VMs must not pile onto one CPU (issue 21). */
        if (held && !strv_contains(x->busy_names, name)) {
                size_t n = strv_length(x->busy_names);
                char ***cpus = realloc(x->busy_cpus, (n + 1) * sizeof(char **));
                char **copy = NULL;

                if (cpus)
                        x->busy_cpus = cpus;
                if (cpus && strv_extend_strv(&copy, held) >= 0 && strv_extend(&x->busy_names, name) >= 0)
                        x->busy_cpus[n] = copy;
                else
                        strv_free(copy);
        }
        /* Isolation is one host-wide confinement: a second isolated VM would hand the host the first's
         * CPUs, and the first's give-back would lift it under the second (vm_isolate_check refuses). */
        if ((s->isolate || s->cpu_units || s->cpusets) && !x->isolated_by)
                x->isolated_by = who ? strdup(who) : NULL;
        STRV_FOREACH(e, evdevs)
                if (strv_contains(s->evdevs, *e)) {
                        (void)vfio_problems_add(problems, ERR, "input %s is grabbed by %s", *e,
                                                who ? who : name);
                        (void)vfio_problems_fix(problems, "stop it first: vfioctl stop %s", name);
                }
}

static void check_conflicts_in(vm_start *x, const char *base, bool skip_self, char **evdevs,
                               vfio_problems *problems)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_strv_free_ char **names = NULL;

        if (vfio_host_open(base, &h) < 0 || vfio_host_list_dir(h, ".", 1024, &names) < 0)
                return;
        STRV_FOREACH(n, names) {
                _cleanup_(vm_runstate_freep) vm_runstate *s = NULL;
                _cleanup_(vm_run_freep) vm_run *r = NULL;

                if ((skip_self && strcmp(*n, x->c->name) == 0) || !vm_name_valid(*n))
                        continue;
                /* A VM whose start still holds its lock and has recorded what it holds counts too: its
                 * start took its plan turn before this one (vm_run_plan_lock). */
                if (vm_run_open_in(base, *n, &r) < 0 || vm_runstate_read(r->dirfd, &s) < 0)
                        continue;
                if (vm_run_alive(r, s) ||
                    (s->state == VM_STATE_STARTING && vm_runstate_lock_held(r->dirfd) > 0))
                        check_conflicts_with(x, *n, s, evdevs, problems);
                /* A VM gone with its confinement still recorded (all its processes killed): the host's CPU
                 * sets are still its, and must never be recorded as the host's own by a second isolated VM.
                 */
                else if (strv_contains(s->steps, VM_RELEASE_CPUS) && !x->isolated_by &&
                         asprintf(&x->isolated_by,
                                  "VM '%s', whose isolation was not given back (run: vfioctl stop %s),", *n,
                                  *n) < 0)
                        x->isolated_by = NULL;
        }
}

/*
 * Other running VMs. The VMs of this runtime base are scanned; root also scans every user's
 * (run/user/UID/vfioctl), which users cannot read the other way round (root's VM directories are 0700).
 */
static void check_conflicts(vm_start *x, char **evdevs, vfio_problems *problems)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_free_ char *base = NULL, *users = NULL;
        _cleanup_strv_free_ char **uids = NULL;

        if (vm_run_base(x->o.root, &base) < 0)
                return;
        check_conflicts_in(x, base, true, evdevs, problems);
        if (getuid() != 0 || asprintf(&users, "%s/run/user", x->o.root ? x->o.root : "") < 0)
                return;
        if (vfio_host_open(users, &h) < 0 || vfio_host_list_dir(h, ".", 4096, &uids) < 0)
                return;
        STRV_FOREACH(u, uids) {
                _cleanup_free_ char *b = NULL;

                if (asprintf(&b, "%s/%s/vfioctl", users, *u) >= 0 && access(b, F_OK) == 0)
                        check_conflicts_in(x, b, false, evdevs, problems);
        }
}

/* Pinning: the config's, else the plan for this host (vm_plan_pinning), clear of the running VMs' CPUs. */
static int plan_pinning(vm_start *x)
{
        _cleanup_(vfio_host_freep) vfio_host *live = NULL;
        _cleanup_free_ vm_host_cpu *cpus = NULL;
        _cleanup_(vm_pin_plan_freep) vm_pin_plan *plan = NULL;
        _cleanup_free_ vm_pin_holder *busy = NULL;
        const vm_config *c = x->c;
        size_t n = 0, n_busy = strv_length(x->busy_names);
        vm_pin_request req = { .vcpus = vm_config_vcpus(c), .gpu_node = -1 };
        int r;

        if (c->cpu.pin) {
                if ((r = strv_extend_strv(&x->pin, c->cpu.pin)) < 0 ||
                    (r = strv_extend_strv(&x->emulator_pin, c->cpu.emulator_pin)) < 0)
                        return r;
                return 0;
        }
        /* Processes and CPUs are the live host's, even under --root. */
        if (n_busy > 0) {
                busy = calloc(n_busy, sizeof(*busy));
                if (!busy)
                        return -ENOMEM;
                for (size_t i = 0; i < n_busy; i++)
                        busy[i] = (vm_pin_holder){ .name = x->busy_names[i],
                                                   .pin = x->busy_cpus[i],
                                                   .autostart = true };
                req.holders = busy;
                req.n_holders = n_busy;
        }
        if (x->model && c->n_gpus > 0 && c->gpus[0].resolved) {
                const vfio_model_device *d = vfio_model_find_device(x->model, c->gpus[0].resolved[0]);

                if (d) {
                        req.gpu_node = d->pci->numa_node;
                        req.gpu = d->pci->name;
                }
        }
        if (vfio_host_open(NULL, &live) >= 0 && vm_host_cpus(live, &cpus, &n) >= 0 &&
            vm_plan_pinning(cpus, n, &req, &plan) >= 0) {
                x->pin = TAKE_PTR(plan->pin);
                if (c->cpu.emulator_pin)
                        return strv_extend_strv(&x->emulator_pin, c->cpu.emulator_pin);
                x->emulator_pin = TAKE_PTR(plan->emulator);
                return 0;
        }
        return strv_extend_strv(&x->emulator_pin, c->cpu.emulator_pin);
}

/* Sockets in QEMU's directory (the only place QEMU writes), per-VM files in the state directory. */
static int plan_paths(vm_start *x)
{
        vm_paths_buf *p = &x->paths;
        int r;

        r = vm_default_paths(x->c, p);
        if (r < 0)
                return r;
        free(p->runtime_dir);
        p->runtime_dir = strdup(x->run->qemu_dir);
        p->paths.runtime_dir = p->runtime_dir;
        p->paths.uid = x->user->uid;
        p->paths.user = x->user->name; /* server = desktop: the grant socket is this user's */
        p->paths.root = x->o.root;
        p->paths.input_relay = x->relay;
        if (getuid() == 0) {
                free(p->state_dir);
                p->state_dir = NULL;
                if ((r = vm_system_state_dir(x->o.root, x->c->name, &p->state_dir)) < 0)
                        return r;
                p->paths.state_dir = p->state_dir;
        }
        return p->runtime_dir && p->state_dir ? 0 : -ENOMEM;
}

/*
 * QEMU binds its sockets by path (console.sock is the longest name): a path past the 107 bytes of sun_path
 * (unix(7)) fails inside QEMU, which showed only as "no QMP socket after 30 s".
 */
static void check_socket_paths(vm_start *x, vfio_problems *problems)
{
        static const char longest[] = "/console.sock";
        struct sockaddr_un sa;
        size_t n = strlen(x->run->qemu_dir) + strlen(longest);

        if (n < sizeof(sa.sun_path))
                return;
        (void)vfio_problems_add(
                problems, ERR,
                "%s%s is %zu bytes, longer than the %zu bytes a socket path may have (unix(7)): QEMU could not create its sockets",
                x->run->qemu_dir, longest, n, sizeof(sa.sun_path) - 1);
        (void)vfio_problems_fix(
                problems,
                "use a shorter runtime directory (XDG_RUNTIME_DIR, or --root) or a shorter VM name");
}

/* The VM user as perm.h's account (its groups decide whether a group-writable path is safe). */
static int vm_account(const vm_user *u, vfio_account *a, char ***names, uint32_t **gids)
{
        *gids = calloc(u->n_member_of + 1, sizeof(uint32_t));
        if (!*gids)
                return -ENOMEM;
        for (size_t i = 0; i < u->n_member_of; i++) {
                (*gids)[i] = u->member_of[i];
                if (strv_extend(names, "") < 0)
                        return -ENOMEM;
        }
        *a = (vfio_account){
                .name = u->name, .uid = u->uid, .gid = u->gid, .groups = *names, .gids = *gids
        };
        return 0;
}

/*
 * The state directory (the VM user's: swtpm and QEMU write there) and, for OVMF, the VM's own copy of the
 * variable store, made only after every check passed and through run/statedir.h (no link followed, owner
 * and mode set on descriptors). Root copies the template only from a file judged root's on the descriptor
 * it reads (issue 15 item 2).
 */
static int prepare_state(vm_start *x, vfio_problems *problems)
{
        _cleanup_free_ char *vars = NULL, *err = NULL;
        _cleanup_close_ int sfd = -EBADF, tpl = -EBADF;
        const vm_config *c = x->c;
        uid_t uid = x->drop ? x->user->uid : (uid_t)-1;
        gid_t gid = x->drop ? x->user->gid : (gid_t)-1;
        const char *tpl_path;
        int r;

        if (c->firmware.type != VM_FIRMWARE_OVMF && !(c->tpm.enabled && !c->tpm.socket))
                return 0;
        r = vm_statedir_open(x->paths.state_dir, uid, gid, &sfd, &err);
        if (r < 0) {
                (void)vfio_problems_add(problems, ERR, "%s", err ? err : strerror(-r));
                return r;
        }
        x->state_fd = TAKE_FD(sfd);
        if (c->firmware.type != VM_FIRMWARE_OVMF)
                return 0;
        vars = vm_qemu_firmware_vars(c, &x->paths.paths);
        if (!vars)
                return -ENOMEM;
        r = vm_statedir_vars(vars, -EBADF, x->user->uid, x->user->gid, &err);
        if (r != -ENODATA)
                goto done;
        tpl_path = vm_qemu_firmware_vars_template(c);
        if (x->drop) {
                _cleanup_(vfio_host_freep) vfio_host *live = NULL;
                _cleanup_(vfio_perm_issue_freep) vfio_perm_issue *issue = NULL;
                _cleanup_strv_free_ char **names = NULL;
                _cleanup_free_ uint32_t *gids = NULL;
                vfio_account a;

                if ((r = vm_account(x->user, &a, &names, &gids)) < 0 ||
                    (r = vfio_host_open(NULL, &live)) < 0)
                        return r;
                r = vfio_perm_open_trusted(live, tpl_path, &a, &tpl, &issue);
                if (r == 1) {
                        (void)vfio_problems_add(
                                problems, ERR,
                                "OVMF variable template %s: %s is %s (uid %u, gid %u, mode %04o): root copies it for user %s",
                                tpl_path, issue->path, vfio_perm_reason_to_string(issue->reason), issue->uid,
                                issue->gid, issue->mode, x->user->name);
                        (void)vfio_problems_fix(problems, "fix: %s", issue->fix);
                        return -EPERM;
                }
        } else {
                /* not another user's directory: not root, the caller reads its own config's template */
                tpl = open(tpl_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
                r = tpl < 0 ? -errno : 0;
        }
        if (r < 0) {
                (void)vfio_problems_add(problems, ERR, "OVMF variable template %s: %s", tpl_path,
                                        safedir_strerror(r));
                (void)vfio_problems_fix(problems, "install ovmf or set [firmware] vars_template");
                return r;
        }
        r = vm_statedir_vars(vars, tpl, x->user->uid, x->user->gid, &err);
done:
        if (r < 0)
                (void)vfio_problems_add(problems, ERR, "%s", err ? err : strerror(-r));
        return r;
}

/* [tpm]: the user's own swtpm must listen already; else vfioctl runs one, its state kept per VM. */
static int plan_tpm(vm_start *x, vfio_problems *problems)
{
        _cleanup_free_ char *tpmdir = NULL, *state = NULL, *ctrl = NULL;
        const vm_config *c = x->c;
        int r;

        if (!c->tpm.enabled)
                return 0;
        if (c->tpm.socket) {
                if (access(c->tpm.socket, F_OK) < 0)
                        (void)vfio_problems_add(
                                problems, ERR,
                                "%s: [tpm] socket %s does not exist: start swtpm first (swtpm socket --tpm2 --ctrl type=unixio,path=%s --tpmstate dir=DIR) or drop the socket key to let vfioctl run it",
                                c->filename, c->tpm.socket, c->tpm.socket);
                return 0;
        }
        if (access("/usr/bin/swtpm", X_OK) < 0) {
                (void)vfio_problems_add(problems, ERR,
                                        "%s: [tpm] needs the TPM emulator swtpm: apt-get install swtpm",
                                        c->filename);
                return 0;
        }
        if (asprintf(&tpmdir, "%s/tpm", x->paths.state_dir) < 0 || asprintf(&state, "dir=%s", tpmdir) < 0 ||
            !(x->swtpm_socket = vm_qemu_tpm_socket(c, &x->paths.paths)) ||
            asprintf(&ctrl, "type=unixio,path=%s", x->swtpm_socket) < 0)
                return -ENOMEM;
        /* Its state (the TPM's NVRAM) persists per VM, private to the VM user: made in the state directory
         * through its descriptor, never through a link the VM user put there (issue 15 item 1). */
        if (x->state_fd >= 0) {
                _cleanup_free_ char *err = NULL;

                r = vm_statedir_subdir(x->state_fd, x->paths.state_dir, "tpm", x->user->uid, x->user->gid,
                                       &err);
                if (r < 0) {
                        (void)vfio_problems_add(problems, ERR, "%s", err ? err : strerror(-r));
                        return 0;
                }
        }
        /* --terminate: swtpm ends when QEMU closes the connection. */
        {
                const char *argv[] = { "/usr/bin/swtpm", "socket", "--tpm2",      "--tpmstate", state,
                                       "--ctrl",         ctrl,     "--terminate", NULL };

                for (const char **a = argv; *a; a++)
                        if ((r = strv_extend(&x->swtpm_argv, *a)) < 0)
                                return r;
        }
        return 0;
}

/*
 * Last, once every other check passed: hugepage guest RAM allocated by vfioctl with one thread per CPU
 * (prealloc.h), because QEMU 7.2's own threaded prealloc does not scale (docs/BENCHMARKS.md). QEMU gets the
 * file as descriptor 3; where vfioctl cannot fill it, QEMU allocates as before and the log says why.
 */
static int fill_guest_ram(vm_start *x, vfio_problems *problems, char **ret_error)
{
        const vm_config *c = x->c;
        int r;

        if (c->memory.hugepages == VM_HUGEPAGES_NONE || vfio_problems_has_errors(problems))
                return 0;
        if ((r = open_host(x, ret_error)) < 0)
                return r;
        r = vm_prealloc_guest_ram(x->host, c, x->pin, x->drop, x->user->uid, x->user->gid, &x->mem_fd,
                                  &x->prealloc);
        if (r < 0) {
                (void)vfio_problems_add(
                        problems, ERR,
                        "allocating the %llu MiB of guest RAM in hugepages below %s failed: %s",
                        (unsigned long long)(c->memory.size >> 20), vm_qemu_hugepage_dir(c), strerror(-r));
                return 0;
        }
        if (x->mem_fd >= 0)
                x->paths.paths.memory_file = "/proc/self/fd/3"; /* vm_spawn.pass_fd (supervise.c) */
        return 0;
}

int vm_start_preflight(vm_start *x, vfio_problems *problems, char **ret_error)
{
        _cleanup_strv_free_ char **evdevs = NULL;
        const vm_config *c;
        int r;

        assert(x);
        assert(problems);
        assert(ret_error);
        assert(x->run); /* vm_start_lock first */
        c = x->c;
        if ((r = load_model(x, problems, ret_error)) < 0)
                return r;
        if ((r = resolve_devices(x, problems)) < 0)
                return r;
        for (size_t i = 0; i < c->n_inputs; i++)
                if (c->inputs[i].type == VM_INPUT_EVDEV && c->inputs[i].evdev &&
                    (r = strv_extend(&evdevs, c->inputs[i].evdev)) < 0)
                        return r;
        /* From the look at the other VMs to this VM's record (vm_start_run), starts take turns: two VMs
         * started at the same instant would otherwise both see the other not running yet. The turn and the
         * conflicts come before anything is bound: a start refused for a device another VM holds must never
         * have moved it (nor give it to the host driver when it rolls back). */
        if ((r = vm_run_plan_lock(x->o.root, c->name, PLAN_TURN_TIMEOUT_MS, &x->plan_fd, ret_error)) < 0)
                return r;
        check_conflicts(x, evdevs, problems);
        strv_free(x->st->evdevs);
        x->st->evdevs = TAKE_PTR(evdevs);
        if (x->model && x->devices && c->vm.bind_devices && geteuid() == 0 &&
            !vfio_problems_has_errors(problems))
                (void)bind_devices(x, problems);
        if (x->model) {
                vm_handoff_check(x, problems);
                check_devices(x, problems, false);
        }
        check_access(x, problems);
        if (c->n_usbs > 0) {
                if ((r = open_host(x, ret_error)) < 0)
                        return r;
                check_usb(x, problems);
        }
        if (vm_needs_relay(c)) {
                if ((r = open_host(x, ret_error)) < 0)
                        return r;
                x->relay = vm_relay_preflight(c, x->host, problems);
        }
        /* macvtap NICs: each tap device opened now (as root when root starts), for QEMU to inherit. */
        if (vm_macvtap_count(c)) {
                _cleanup_free_ char *err = NULL;

                if ((r = open_host(x, ret_error)) < 0)
                        return r;
                r = vm_macvtap_open_all(x->host, x->c, &x->net_fds, &x->n_net_fds, &err);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        (void)vfio_problems_add(problems, ERR, "%s", err ? err : strerror(-r));
        }
        if (x->drop)
                check_root_paths(x, problems);
        check_disks(x, problems);
        check_memlock(x, problems);
        if ((r = check_hugepages(x, problems, ret_error)) < 0)
                return r;
        if ((r = check_host_nodes(x, problems, ret_error)) < 0)
                return r;
        if ((r = plan_pinning(x)) < 0 || (r = plan_paths(x)) < 0)
                return r;
        strv_free(x->st->planned);
        x->st->planned = NULL;
        if (x->pin && (r = strv_extend_strv(&x->st->planned, x->pin)) < 0)
                return r;
        vm_isolate_check(x, problems);
        check_socket_paths(x, problems);
        /* The VM's files are made last, once nothing refused the start: a config or template root cannot
         * trust never gets a copy, a chown or a directory made for it (issue 15 item 2). */
        if (!vfio_problems_has_errors(problems))
                (void)prepare_state(x, problems);
        if ((r = plan_tpm(x, problems)) < 0)
                return r;
        /* ---- audio/Looking Glass (issue 17): the sound server reached as the VM user, the shared memory
         * made ready; lib/run/media.c, docs/audio.md ---- */
        if (!vfio_problems_has_errors(problems) &&
            (r = vm_media_preflight(c, &x->paths.paths, problems)) < 0)
                return r;
        /* The guest RAM is allocated only once every other check passed. */
        if ((r = fill_guest_ram(x, problems, ret_error)) < 0)
                return r;
        /* Last, when everything else holds: the host's display goes only for a VM that will start. */
        if (x->model && vm_handoff_gpu(c) && !vfio_problems_has_errors(problems) &&
            vm_handoff_apply(x, problems) >= 0)
                check_devices(x, problems, true);
        return 0;
}
