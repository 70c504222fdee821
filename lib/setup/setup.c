/*
 * Persistent host setup: the files the seeds' guides write by hand (002: pci-stub ids and a vfio-bind
 * service; 003: modprobe.d ids, udev group rules, limits.conf memlock), generated from the host model,
 * written atomically and listed in a manifest so --undo removes exactly them.
 */
#include "vfioctl/setup.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "parse-util.h"
#include "plan.h"
#include "sha256.h"
#include "strv.h"
#include "vfioctl/account.h"
#include "vfioctl/bind.h"
#include "vfioctl/distro.h"
#include "vfioctl/hostfile.h"
#include "vfioctl/kernel.h"

#define MODPROBE_CONF     "etc/modprobe.d/vfioctl.conf"
#define BIND_UNIT         "etc/systemd/system/vfioctl-bind.service"
#define UDEV_RULES        "etc/udev/rules.d/90-vfioctl.rules"
#define LIMITS_CONF       "etc/security/limits.d/90-vfioctl.conf"
#define SYSCTL_CONF       "etc/sysctl.d/90-vfioctl.conf"
#define MODULES_CONF      "etc/modules-load.d/vfioctl.conf"
#define UNIT_DIR          "etc/systemd/system"
#define BIND_UNIT_LINK    UNIT_DIR "/sysinit.target.wants/vfioctl-bind.service"
#define HUGE1G_UNIT       UNIT_DIR "/dev-hugepages1G.mount"
#define HUGE1G_LINK       UNIT_DIR "/sysinit.target.wants/dev-hugepages1G.mount"
#define DRACUT_CONF       "etc/dracut.conf.d/vfioctl.conf"
#define MKINITCPIO_DROPIN "etc/mkinitcpio.conf.d/vfioctl.conf"
#define BACKUP_DIR        "var/lib/vfioctl/setup.backup"
#define HEADER            VFIO_SETUP_HEADER
#define FILE_MAX          (1024 * 1024)
#define MANIFEST_MAX      (256 * 1024)
#define GIB               (UINT64_C(1) << 30)

vfio_setup_plan *vfio_setup_plan_free(vfio_setup_plan *p)
{
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n; i++) {
                free(p->files[i].path);
                free(p->files[i].content);
                free(p->files[i].link);
        }
        free(p->files);
        strv_free(p->commands);
        strv_free(p->notes);
        strv_free(p->refusals);
        strv_free(p->cmdline_add);
        free(p->bootloader);
        vfio_hostcmds_done(&p->effect);
        strv_free(p->effect_missing);
        free(p);
        return NULL;
}

/* Appends to a growing string; *s stays valid (and owned by the caller) on failure. */
static int append(char **s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int append(char **s, const char *fmt, ...)
{
        va_list ap;
        char *piece, *n;
        size_t a = *s ? strlen(*s) : 0;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&piece, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        n = realloc(*s, a + (size_t)r + 1);
        if (!n) {
                free(piece);
                return -ENOMEM;
        }
        memcpy(n + a, piece, (size_t)r + 1);
        free(piece);
        *s = n;
        return 0;
}

static int plan_file(vfio_setup_plan *p, const char *path, char *content, mode_t mode, bool owned)
{
        vfio_setup_file *n = realloc(p->files, (p->n + 1) * sizeof(*n));
        char *dup = strdup(path);

        if (!n || !dup) {
                free(dup);
                if (n)
                        p->files = n;
                return -ENOMEM;
        }
        p->files = n;
        p->files[p->n++] =
                (vfio_setup_file){ .path = dup, .content = content, .mode = mode, .owned = owned };
        return 0;
}

/* A symbolic link (a unit enabled: what systemctl enable makes), listed in the manifest like a file. */
static int plan_link(vfio_setup_plan *p, const char *path, const char *target)
{
        char *t = strdup(target);
        int r;

        if (!t)
                return -ENOMEM;
        r = plan_file(p, path, NULL, 0777, true);
        if (r < 0) {
                free(t);
                return r;
        }
        p->files[p->n - 1].link = t;
        return 0;
}

int vfio_setup_plan_add(vfio_setup_plan *p, const char *path, char *content, mode_t mode)
{
        int r = plan_file(p, path, content, mode, true);

        if (r < 0)
                free(content);
        return r;
}

bool vfio_setup_name_ok(const char *s)
{
        if (!s || !*s || strlen(s) > 32 || s[0] == '-')
                return false;
        for (; *s; s++)
                if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') && !(*s >= '0' && *s <= '9') &&
                    !strchr("._-", *s))
                        return false;
        return true;
}

/* Host drivers that claim a GPU (or its HDMI audio) at boot; vfio-pci must load before them. */
static bool is_softdep_driver(const char *d)
{
        static const char *const drivers[] = { "nvidia", "nouveau", "amdgpu", "radeon", "snd_hda_intel" };

        for (size_t i = 0; d && i < ELEMENTSOF(drivers); i++)
                if (strcmp(d, drivers[i]) == 0)
                        return true;
        return false;
}

/* The driver a device has on the host: its current one, or the one recorded by 'vfioctl bind'. */
static char *host_driver(const vfio_host *h, const vfio_pci_dev *d)
{
        _cleanup_free_ char *path = NULL, *s = NULL;
        _cleanup_strv_free_ char **lines = NULL;

        if (d->driver && !vfio_pci_driver_is_stub(d->driver))
                return strdup(d->driver);
        if (asprintf(&path, "run/vfioctl/bind/%s", d->name) < 0 ||
            vfio_hostfile_read(h, path, 4096, &s, NULL) < 0 || strv_split(s, "\n", &lines) < 0)
                return NULL;
        STRV_FOREACH(l, lines)
                if (strncmp(*l, "driver=", 7) == 0 && (*l)[7])
                        return strdup(*l + 7);
        return NULL;
}

static int check_selection(const vfio_host *h, const vfio_model *m, vfio_selection *sel,
                           const vfio_setup_opts *o, vfio_setup_plan *p)
{
        int r;

        for (size_t i = 0; i < sel->n; i++) {
                const vfio_model_device *md = vfio_model_find_device(m, sel->items[i].name);

                if (!md)
                        return -ENOENT;
                if (md->pci->iommu_group < 0 &&
                    (r = strv_extendf(
                             &p->notes,
                             "%s has no IOMMU group yet: the kernel command line below enables the IOMMU",
                             md->pci->name)) < 0)
                        return r;
                STRV_FOREACH(peer, md->group_peers) {
                        if (vfio_selection_contains(sel, *peer))
                                continue;
                        if (o->with_group)
                                r = vfio_selection_add(sel, h, m, *peer, "group peer");
                        else
                                r = strv_extendf(
                                        &p->refusals,
                                        "%s is in IOMMU group %d with %s: add --with-group to take it too, or select it",
                                        md->pci->name, md->pci->iommu_group, *peer);
                        if (r < 0)
                                return r;
                }
                /* Not by verdict: without an IOMMU no group verdict says host-critical (see bind.c). */
                if (strv_length(md->critical) > 0 || strv_length(md->blockers) > 0) {
                        STRV_FOREACH(c, md->critical)
                                if ((r = strv_extendf(o->force ? &p->notes : &p->refusals,
                                                      "%s is needed by the host: %s%s", md->pci->name, *c,
                                                      o->force ? " (--force)" : "")) < 0)
                                        return r;
                        STRV_FOREACH(b, md->blockers)
                                if ((r = strv_extendf(
                                             o->force ? &p->notes : &p->refusals,
                                             "%s shares its IOMMU group with a device the host needs: %s%s",
                                             md->pci->name, *b, o->force ? " (--force)" : "")) < 0)
                                        return r;
                }
        }
        return 0;
}

static bool twin_stays_on_host(const vfio_model *m, const vfio_selection *sel, const vfio_pci_dev *d,
                               const char **ret_twin)
{
        for (size_t i = 0; i < m->pci->n; i++) {
                const vfio_pci_dev *o = m->pci->devs[i];

                if (o != d && o->vendor == d->vendor && o->device == d->device &&
                    !vfio_selection_contains(sel, o->name)) {
                        *ret_twin = o->name;
                        return true;
                }
        }
        return false;
}

/* vfioctl-bind.service's TimeoutStartSec=: above what `bind --boot` itself may wait for n devices, so bind
 * gives up and rolls back by its own bound before systemd kills it half-way; never unlimited (a oneshot's
 * default), so a hung sysfs write cannot hold the boot forever. */
static unsigned boot_unit_timeout_s(size_t n)
{
        return (unsigned)(n * VFIO_BIND_WAITS_PER_DEVICE * (VFIO_BIND_BOOT_TIMEOUT_MS / 1000) + 30);
}

/* What `bind --boot` takes for the functions bound by identity: each one's card whole, as the selector
 * adds a selected function's slot (bridges aside), so the unit's bound counts those, not the selectors. */
static size_t boot_bind_functions(const vfio_model *m, const vfio_pci_dev *const *by_identity, size_t n)
{
        size_t taken = 0;

        for (size_t i = 0; i < m->pci->n; i++) {
                const vfio_pci_dev *o = m->pci->devs[i];

                for (size_t j = 0; j < n; j++)
                        if (o == by_identity[j] ||
                            (vfio_pci_same_slot(o, by_identity[j]) && !vfio_pci_dev_is_bridge(o))) {
                                taken++;
                                break;
                        }
        }
        return taken;
}

static int plan_modprobe(const vfio_host *h, const vfio_model *m, const vfio_selection *sel,
                         const vfio_setup_opts *o, vfio_setup_plan *p, char ***ret_ids)
{
        _cleanup_strv_free_ char **ids = NULL, **by_identity = NULL, **softdeps = NULL;
        _cleanup_free_ char *conf = NULL, *unit = NULL, *ids_joined = NULL;
        _cleanup_free_ const vfio_pci_dev **ident_devs = NULL;
        size_t n_ident = 0;
        int r;

        ident_devs = calloc(sel->n + 1, sizeof(*ident_devs));
        if (!ident_devs)
                return -ENOMEM;
        ids = calloc(1, sizeof(char *));
        by_identity = calloc(1, sizeof(char *));
        softdeps = calloc(1, sizeof(char *));
        if (!ids || !by_identity || !softdeps)
                return -ENOMEM;
        for (size_t i = 0; i < sel->n; i++) {
                const vfio_pci_dev *d = vfio_pci_list_find(m->pci, sel->items[i].name);
                _cleanup_free_ char *drv = NULL, *idstr = NULL;
                const char *twin = NULL;
                char vd[16];

                if (!d)
                        return -ENOENT;
                snprintf(vd, sizeof(vd), "%04x:%04x", (unsigned)d->vendor & 0xffff,
                         (unsigned)d->device & 0xffff);
                if (twin_stays_on_host(m, sel, d, &twin)) {
                        /* ids= would take the host's twin too (the seed 000 problem): bind by identity
                         * instead. */
                        idstr = vfio_identity_format(&sel->items[i].id);
                        if (!idstr || strv_extend(&by_identity, idstr) < 0)
                                return -ENOMEM;
                        ident_devs[n_ident++] = d;
                        r = strv_extendf(
                                &p->notes,
                                "%s: %s is also at %s, which stays with the host: bound at boot by identity (%s), not by vfio-pci ids=",
                                d->name, vd, twin, idstr);
                } else if (!strv_contains(ids, vd))
                        r = strv_extend(&ids, vd);
                else
                        r = 0;
                if (r < 0)
                        return r;
                drv = host_driver(h, d);
                if (is_softdep_driver(drv) && !strv_contains(softdeps, drv) &&
                    (r = strv_extend(&softdeps, drv)) < 0)
                        return r;
        }
        conf = strdup(HEADER);
        if (!conf)
                return -ENOMEM;
        if (strv_length(ids) > 0) {
                ids_joined = strv_join(ids, ",");
                if (!ids_joined ||
                    append(&conf,
                           "# No identical device stays with the host: claim these IDs at boot.\n"
                           "options vfio-pci ids=%s\n",
                           ids_joined) < 0)
                        return -ENOMEM;
        }
        if (strv_length(softdeps) > 0 &&
            append(&conf, "# Load vfio-pci before the host drivers so it claims the devices first.\n") < 0)
                return -ENOMEM;
        STRV_FOREACH(s, softdeps)
                if (append(&conf, "softdep %s pre: vfio-pci\n", *s) < 0)
                        return -ENOMEM;
        if (strv_length(ids) > 0 || strv_length(softdeps) > 0) {
                r = plan_file(p, MODPROBE_CONF, TAKE_PTR(conf), 0644, true);
                if (r < 0)
                        return r;
        }
        if (strv_length(by_identity) > 0) {
                _cleanup_free_ char *args = strv_join(by_identity, " ");
                if (!args ||
                    asprintf(&unit,
                             HEADER
                             "[Unit]\n"
                             "Description=Bind VFIO passthrough devices to vfio-pci by stable identity\n"
                             "Documentation=man:vfioctl(1)\n"
                             "DefaultDependencies=no\n"
                             "After=systemd-udevd.service systemd-modules-load.service\n"
                             "Before=systemd-udev-trigger.service sysinit.target display-manager.service\n"
                             "ConditionPathIsDirectory=/sys/bus/pci/devices\n\n"
                             "[Service]\n"
                             "Type=oneshot\n"
                             "RemainAfterExit=yes\n"
                             "TimeoutStartSec=%u\n"
                             "ExecStart=%s bind --boot %s\n"
                             "ExecStop=%s unbind %s\n\n"
                             "[Install]\n"
                             "WantedBy=sysinit.target\n",
                             boot_unit_timeout_s(boot_bind_functions(m, ident_devs, n_ident)),
                             o->vfioctl_path ? o->vfioctl_path : "/usr/bin/vfioctl", args,
                             o->vfioctl_path ? o->vfioctl_path : "/usr/bin/vfioctl", args) < 0)
                        return -ENOMEM;
                r = plan_file(p, BIND_UNIT, TAKE_PTR(unit), 0644, true);
                if (r >= 0)
                        /* Enabled here, so --undo disables it too; systemd reads it at the next boot. */
                        r = plan_link(p, BIND_UNIT_LINK, "../vfioctl-bind.service");
                if (r >= 0)
                        r = strv_extendf(&p->commands, "systemctl daemon-reload");
                if (r < 0)
                        return r;
        }
        *ret_ids = TAKE_PTR(ids);
        return 0;
}

static int plan_udev_limits(const vfio_host *h, const vfio_setup_opts *o, vfio_setup_plan *p)
{
        const char *group = o->group ? o->group : "kvm";
        _cleanup_free_ char *rules = NULL, *limits = NULL;
        uint64_t memory = o->memory ? o->memory : 16 * GIB;
        int r;

        /* Seed 003: "vfio: error opening /dev/vfio/1: Permission denied" without these. */
        if (asprintf(&rules,
                     HEADER "# VFIO group nodes for the VM user's group '%s'.\n"
                            "SUBSYSTEM==\"vfio\", KERNEL!=\"vfio\", GROUP=\"%s\", MODE=\"0660\"\n",
                     group, group) < 0)
                return -ENOMEM;
        STRV_FOREACH(u, o->usb) {
                char vid[5] = {}, pid[5] = {};

                if (strlen(*u) != 9 || (*u)[4] != ':')
                        return -EINVAL;
                memcpy(vid, *u, 4);
                memcpy(pid, *u + 5, 4);
                if (append(&rules,
                           "SUBSYSTEM==\"usb\", ATTR{idVendor}==\"%s\", ATTR{idProduct}==\"%s\", GROUP=\"%s\", MODE=\"0660\"\n",
                           vid, pid, group) < 0)
                        return -ENOMEM;
        }
        r = plan_file(p, UDEV_RULES, TAKE_PTR(rules), 0644, true);
        if (r < 0)
                return r;
        r = strv_extendf(&p->commands,
                         "udevadm control --reload-rules && udevadm trigger --subsystem-match=vfio");
        if (r < 0)
                return r;
        if (!o->user)
                return 0;
        /* VFIO pins all guest RAM (vfio_iommu_type1 accounts it to RLIMIT_MEMLOCK); 1 GiB covers QEMU's own.
         */
        {
                uint64_t kib = (memory + GIB) / 1024;

                if (asprintf(&limits,
                             HEADER "# Guest RAM %" PRIu64
                                    " MiB + 1 GiB for QEMU and VFIO mappings, in KiB (limits.conf(5)).\n"
                                    "%s soft memlock %" PRIu64 "\n"
                                    "%s hard memlock %" PRIu64 "\n",
                             memory >> 20, o->user, kib, o->user, kib) < 0)
                        return -ENOMEM;
        }
        r = plan_file(p, LIMITS_CONF, TAKE_PTR(limits), 0644, true);
        if (r < 0)
                return r;
        if (o->create_user) {
                _cleanup_free_ char *passwd = NULL;
                _cleanup_free_ char *needle = NULL;

                if (asprintf(&needle, "\n%s:", o->user) < 0)
                        return -ENOMEM;
                if (vfio_hostfile_read(h, "etc/passwd", FILE_MAX, &passwd, NULL) >= 0 &&
                    (strncmp(passwd, needle + 1, strlen(needle + 1)) == 0 || strstr(passwd, needle)))
                        r = strv_extendf(&p->notes, "user %s exists already", o->user);
                else
                        r = strv_extendf(
                                &p->commands,
                                "/usr/sbin/useradd --system --no-create-home --shell /usr/sbin/nologin --groups %s %s",
                                group, o->user);
                if (r < 0)
                        return r;
        } else {
                r = strv_extendf(&p->commands, "usermod -a -G %s %s", group, o->user);
                if (r < 0)
                        return r;
        }
        return 0;
}

/*
 * 1 GiB pages: reserved by the kernel at boot (hugepagesz=1G hugepages=N on the command line; later the
 * memory is too fragmented to find whole gigabytes, Documentation/admin-guide/mm/hugetlbpage.rst), and a
 * hugetlbfs with pagesize=1G mounted where QEMU's argv looks (/dev/hugepages1G), by a mount unit that
 * setup enables itself. The VM user's group may create files there (QEMU runs as that user).
 */
static int plan_hugepages_1g(const vfio_host *h, const vfio_setup_opts *o, vfio_setup_plan *p,
                             char ***cmdline_want)
{
        const char *group = o->group ? o->group : "kvm";
        _cleanup_free_ char *unit = NULL, *owner = NULL;
        uint64_t pages = (o->hugepages + (UINT64_C(1) << 30) - 1) >> 30;
        uint32_t gid;
        int r;

        r = strv_extend(cmdline_want, "hugepagesz=1G");
        if (r >= 0)
                r = strv_extendf(cmdline_want, "hugepages=%" PRIu64, pages);
        if (r < 0)
                return r;
        if (vfio_account_group_gid(h, group, &gid) >= 0)
                r = asprintf(&owner, ",mode=01770,gid=%" PRIu32, gid);
        else {
                r = strv_extendf(
                        &p->notes,
                        "group %s is not in etc/group: /dev/hugepages1G is mounted for root only; run setup again once the group exists",
                        group);
                if (r >= 0)
                        r = asprintf(&owner, ",mode=01770");
        }
        if (r < 0)
                return -ENOMEM;
        if (asprintf(
                    &unit,
                    HEADER
                    "# %" PRIu64
                    " GiB of 1 GiB huge pages for guest RAM, reserved at boot by hugepagesz=1G hugepages=%" PRIu64
                    " on the kernel command line.\n"
                    "[Unit]\n"
                    "Description=1 GiB huge pages for VM memory (vfioctl)\n"
                    "Documentation=man:vfioctl(1)\n"
                    "DefaultDependencies=no\n"
                    "Before=sysinit.target\n"
                    "ConditionPathExists=/sys/kernel/mm/hugepages/hugepages-1048576kB\n\n"
                    "[Mount]\n"
                    "What=hugetlbfs\n"
                    "Where=/dev/hugepages1G\n"
                    "Type=hugetlbfs\n"
                    "Options=pagesize=1G%s\n\n"
                    "[Install]\n"
                    "WantedBy=sysinit.target\n",
                    pages, pages, owner) < 0)
                return -ENOMEM;
        r = plan_file(p, HUGE1G_UNIT, TAKE_PTR(unit), 0644, true);
        if (r >= 0)
                r = plan_link(p, HUGE1G_LINK, "../dev-hugepages1G.mount");
        return r;
}

static int plan_hugepages(const vfio_host *h, const vfio_setup_opts *o, vfio_setup_plan *p,
                          char ***cmdline_want)
{
        _cleanup_free_ char *meminfo = NULL, *conf = NULL;
        uint64_t page = 2 * 1024 * 1024, kb;
        const char *s;

        if (!o->hugepages)
                return 0;
        if (o->hugepage_size == UINT64_C(1) << 30)
                return plan_hugepages_1g(h, o, p, cmdline_want);
        if (vfio_host_read_attr(h, "proc/meminfo", 64 * 1024, &meminfo) >= 0 &&
            (s = strstr(meminfo, "Hugepagesize:")) != NULL &&
            sscanf(s, "Hugepagesize: %" SCNu64 " kB", &kb) == 1 && kb > 0 && kb <= 16 * 1024 * 1024)
                page = kb * 1024;
        if (asprintf(&conf,
                     HEADER "# %" PRIu64 " MiB of %" PRIu64
                            " KiB huge pages for guest RAM (Documentation/admin-guide/mm/hugetlbpage.rst).\n"
                            "vm.nr_hugepages = %" PRIu64 "\n",
                     o->hugepages >> 20, page >> 10, (o->hugepages + page - 1) / page) < 0)
                return -ENOMEM;
        return plan_file(p, SYSCTL_CONF, TAKE_PTR(conf), 0644, true);
}

/* The VFIO modules, in the order the distributions' guides list them: before any GPU driver. */
static const char *const initramfs_modules[] = { "vfio", "vfio_iommu_type1", "vfio_pci" };

/* Whether a module list (one word per line, or a MODULES=(...) array) already names m (- or _). */
static bool lists_module(const char *text, const char *m)
{
        _cleanup_strv_free_ char **w = NULL;

        if (strv_split(text, " \t\n()\"'", &w) < 0)
                return false;
        STRV_FOREACH(x, w) {
                size_t n = strlen(m);
                bool same = strlen(*x) == n;

                for (size_t i = 0; same && i < n; i++)
                        same = (*x)[i] == m[i] || ((*x)[i] == '-' && m[i] == '_');
                if (same)
                        return true;
        }
        return false;
}

/* initramfs-tools: /etc/initramfs-tools/modules (the package's file, edited), one module per line. */
static int plan_initramfs_tools(const vfio_host *h, vfio_setup_plan *p)
{
        _cleanup_free_ char *cur = NULL, *next = NULL;
        const char *path = "etc/initramfs-tools/modules";
        bool missing = false;
        int r;

        r = vfio_hostfile_read(h, path, FILE_MAX, &cur, NULL);
        if (r < 0 && r != -ENOENT && r != -ENOTDIR)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(initramfs_modules); i++)
                missing |= !cur || !lists_module(cur, initramfs_modules[i]);
        if (!missing)
                return 0;
        next = strdup(cur ? cur : "");
        if (!next)
                return -ENOMEM;
        if (*next && next[strlen(next) - 1] != '\n' && append(&next, "\n") < 0)
                return -ENOMEM;
        if (append(&next,
                   "# vfioctl setup: VFIO before the GPU drivers, so vfio-pci claims the passthrough devices\n") <
            0)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(initramfs_modules); i++)
                if ((!cur || !lists_module(cur, initramfs_modules[i])) &&
                    append(&next, "%s\n", initramfs_modules[i]) < 0)
                        return -ENOMEM;
        /* Ours to remove when setup made it; an edit with a backup when the package did. */
        return plan_file(p, path, TAKE_PTR(next), 0644, !cur);
}

/* mkinitcpio: a drop-in (mkinitcpio.conf.d, sourced after mkinitcpio.conf) that puts the modules first;
 * without the directory (older mkinitcpio), the MODULES=(...) line of mkinitcpio.conf is edited. */
static int plan_mkinitcpio(const vfio_host *h, vfio_setup_plan *p)
{
        _cleanup_free_ char *cur = NULL, *next = NULL, *conf = NULL;
        const char *key = "MODULES=(";
        int r;

        r = vfio_hostfile_read(h, "etc/mkinitcpio.conf", FILE_MAX, &cur, NULL);
        if (r < 0 && r != -ENOENT && r != -ENOTDIR)
                return r;
        if (vfio_host_exists(h, "etc/mkinitcpio.conf.d") > 0 || !cur) {
                if (asprintf(
                            &conf, HEADER
                            "# VFIO first, before any GPU driver of MODULES, so vfio-pci claims the passthrough devices.\n"
                            "MODULES=(vfio_pci vfio vfio_iommu_type1 \"${MODULES[@]}\")\n") < 0)
                        return -ENOMEM;
                return plan_file(p, MKINITCPIO_DROPIN, TAKE_PTR(conf), 0644, true);
        }
        {
                bool all = true;

                for (size_t i = 0; i < ELEMENTSOF(initramfs_modules); i++) {
                        const char *line = strstr(cur, key);

                        all &= line &&
                               lists_module(strndupa(line, strcspn(line, "\n")), initramfs_modules[i]);
                }
                if (all)
                        return 0;
        }
        next = strdup("");
        if (!next)
                return -ENOMEM;
        {
                bool done = false;

                for (const char *l = cur; *l;) {
                        size_t len = strcspn(l, "\n");
                        bool nl = l[len] == '\n';

                        if (!done && strncmp(l, key, strlen(key)) == 0) {
                                const char *rest = l + strlen(key);

                                r = append(&next, "%svfio_pci vfio vfio_iommu_type1%s%.*s%s", key,
                                           *rest == ')' ? "" : " ", (int)(len - strlen(key)), rest,
                                           nl ? "\n" : "");
                                done = true;
                        } else
                                r = append(&next, "%.*s%s", (int)len, l, nl ? "\n" : "");
                        if (r < 0)
                                return -ENOMEM;
                        l += len + nl;
                }
                if (!done && append(&next, "%sMODULES=(vfio_pci vfio vfio_iommu_type1)\n",
                                    *cur && cur[strlen(cur) - 1] != '\n' ? "\n" : "") < 0)
                        return -ENOMEM;
        }
        return plan_file(p, "etc/mkinitcpio.conf", TAKE_PTR(next), 0644, false);
}

/*
 * The module list of the distribution's initramfs tool: vfio-pci must be in the initramfs and loaded
 * before the GPU drivers, or the driver wins the race at boot (the rebuild command alone changes nothing).
 * The modprobe.d file setup writes travels into the initramfs with it.
 */
static int plan_initramfs_modules(const vfio_host *h, const vfio_distro *d, vfio_setup_plan *p)
{
        char *conf;

        switch (d->family) {
        case VFIO_FAMILY_DEBIAN:
                return plan_initramfs_tools(h, p);
        case VFIO_FAMILY_FEDORA:
        case VFIO_FAMILY_SUSE:
                /* dracut.conf(5): force_drivers are added and loaded early (as rd.driver.pre=). */
                conf = strdup(HEADER
                              "# VFIO in the initramfs, loaded before the GPU drivers (dracut.conf(5)).\n"
                              "force_drivers+=\" vfio vfio_iommu_type1 vfio_pci \"\n");
                if (!conf)
                        return -ENOMEM;
                return plan_file(p, DRACUT_CONF, conf, 0644, true);
        case VFIO_FAMILY_ARCH:
                return plan_mkinitcpio(h, p);
        case VFIO_FAMILY_UNKNOWN:
                break;
        }
        return 0;
}

static int plan_modules_load(const vfio_setup_opts *o, vfio_setup_plan *p)
{
        char *conf;

        if (!o->uinput)
                return 0;
        /* Debian does not load uinput on its own; the relay needs /dev/uinput before the VM starts. */
        conf = strdup(HEADER
                      "# vfioctl start's input relay (keyboard and mouse that survive a replug).\nuinput\n");
        if (!conf)
                return -ENOMEM;
        return plan_file(p, MODULES_CONF, conf, 0644, true);
}

static char *cpu_vendor(const vfio_host *h)
{
        _cleanup_free_ char *cpuinfo = NULL;
        _cleanup_strv_free_ char **units = NULL;

        /* An IOMMU the kernel already drives says which one it is (VT-d "dmar", AMD-Vi "ivhd"); CPUID does
         * not always (a QEMU guest's qemu64 CPU claims AuthenticAMD next to an emulated intel-iommu). */
        if (vfio_host_list_dir(h, "sys/class/iommu", 256, &units) >= 0)
                STRV_FOREACH(u, units) {
                        if (strncmp(*u, "dmar", 4) == 0)
                                return strdup("intel");
                        if (strncmp(*u, "ivhd", 4) == 0)
                                return strdup("amd");
                }

        if (vfio_host_read_attr(h, "proc/cpuinfo", 4 * 1024 * 1024, &cpuinfo) < 0)
                return NULL;
        if (strstr(cpuinfo, "GenuineIntel"))
                return strdup("intel");
        if (strstr(cpuinfo, "AuthenticAMD") || strstr(cpuinfo, "HygonGenuine"))
                return strdup("amd");
        return NULL;
}

static bool cmdline_has(char *const *words, const char *param)
{
        const char *eq = strchr(param, '=');
        size_t kl = eq ? (size_t)(eq - param) : strlen(param);

        /* A parameter counts as present when its key is there with the same value; "vfio-pci.ids" only
         * needs the key (the value is merged by hand when it differs). */
        STRV_FOREACH(w, words) {
                if (strcmp(*w, param) == 0)
                        return true;
                if (strncmp(param, "vfio-pci.ids=", 13) == 0 && strncmp(*w, param, kl + 1) == 0)
                        return true;
        }
        return false;
}

/* Edits GRUB_CMDLINE_LINUX_DEFAULT="..." in etc/default/grub, appending the missing parameters. */
static int grub_edit(const char *grub, char *const *add, char **ret)
{
        _cleanup_free_ char *out = NULL, *joined = NULL;
        _cleanup_strv_free_ char **words = NULL, **missing = NULL;
        const char *key = "GRUB_CMDLINE_LINUX_DEFAULT=\"", *p = grub, *line;
        bool done = false;
        int r;

        /* Parameters already in the file (a second run, or added by hand) are not added again. */
        r = strv_split(grub, " \t\n\"", &words);
        if (r < 0)
                return r;
        missing = calloc(1, sizeof(char *));
        if (!missing)
                return -ENOMEM;
        STRV_FOREACH(a, add) {
                bool found = false;

                STRV_FOREACH(w, words) {
                        const char *eq = strchr(*w, '=');

                        /* "GRUB_CMDLINE_LINUX_DEFAULT=quiet" splits with its key; compare what follows. */
                        if (strcmp(*w, *a) == 0 ||
                            (eq && strncmp(*w, "GRUB_", 5) == 0 && strcmp(eq + 1, *a) == 0))
                                found = true;
                }
                if (!found && (r = strv_extend(&missing, *a)) < 0)
                        return r;
        }
        if (strv_length(missing) == 0)
                return (*ret = strdup(grub)) ? 0 : -ENOMEM;
        joined = strv_join(missing, " ");
        out = strdup("");
        if (!joined || !out)
                return -ENOMEM;
        while (*p) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);

                line = p;
                if (!done && strncmp(line, key, strlen(key)) == 0 && len > strlen(key) &&
                    line[len - 1] == '"') {
                        size_t inner = len - strlen(key) - 1;

                        if (append(&out, "%s%.*s%s%s\"%s", key, (int)inner, line + strlen(key),
                                   inner ? " " : "", joined, nl ? "\n" : "") < 0)
                                return -ENOMEM;
                        done = true;
                } else if (append(&out, "%.*s%s", (int)len, line, nl ? "\n" : "") < 0)
                        return -ENOMEM;
                p += len + (nl ? 1 : 0);
        }
        if (!done && append(&out, "%sGRUB_CMDLINE_LINUX_DEFAULT=\"%s\"\n",
                            *grub && grub[strlen(grub) - 1] != '\n' ? "\n" : "", joined) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(out);
        return 0;
}

static int plan_cmdline(const vfio_host *h, const vfio_distro *d, char *const *ids, char *const *extra,
                        const vfio_setup_opts *o, vfio_setup_plan *p)
{
        _cleanup_free_ char *cmdline = NULL, *vendor = cpu_vendor(h), *joined = NULL;
        _cleanup_strv_free_ char **words = NULL, **want = NULL;
        int r;

        if (vfio_host_read_attr(h, "proc/cmdline", 64 * 1024, &cmdline) < 0 && !(cmdline = strdup("")))
                return -ENOMEM;
        r = strv_split(cmdline, " \t\n", &words);
        if (r < 0)
                return r;
        want = calloc(1, sizeof(char *));
        if (!want)
                return -ENOMEM;
        /* Intel needs intel_iommu=on; AMD enables its IOMMU by default, amd_iommu=on is harmless and
         * explicit. iommu=pt keeps host devices on identity mappings
         * (Documentation/admin-guide/kernel-parameters.txt). */
        if (!vendor || strcmp(vendor, "intel") == 0)
                r = strv_extend(&want, "intel_iommu=on");
        else
                r = strv_extend(&want, "amd_iommu=on");
        if (r < 0 || (r = strv_extend(&want, "iommu=pt")) < 0)
                return r;
        if (strv_length(ids) > 0) {
                _cleanup_free_ char *j = strv_join(ids, ",");

                /* For a vfio-pci built into the kernel or loaded from the initramfs before modprobe.d is
                 * read. */
                if (!j || strv_extendf(&want, "vfio-pci.ids=%s", j) < 0)
                        return -ENOMEM;
        }
        STRV_FOREACH(x, extra)
                if ((r = strv_extend(&want, *x)) < 0)
                        return r;
        p->cmdline_add = calloc(1, sizeof(char *));
        if (!p->cmdline_add)
                return -ENOMEM;
        STRV_FOREACH(w, want)
                if (!cmdline_has(words, *w) && (r = strv_extend(&p->cmdline_add, *w)) < 0)
                        return r;
        if (strv_length(p->cmdline_add) == 0)
                return 0;
        joined = strv_join(p->cmdline_add, " ");
        if (!joined)
                return -ENOMEM;
        if (vfio_host_exists(h, "usr/sbin/grubby") > 0 || vfio_host_exists(h, "sbin/grubby") > 0) {
                p->bootloader = strdup("grubby");
                r = strv_extendf(&p->commands, "grubby --update-kernel=ALL --args=\"%s\"", joined);
        } else if (vfio_host_exists(h, "usr/bin/kernelstub") > 0) {
                p->bootloader = strdup("kernelstub");
                r = strv_extendf(&p->commands, "kernelstub --add-options \"%s\"", joined);
        } else if (vfio_host_exists(h, "etc/kernel/cmdline") > 0) {
                _cleanup_free_ char *cur = NULL, *next = NULL;

                p->bootloader = strdup("systemd-boot");
                r = vfio_hostfile_read(h, "etc/kernel/cmdline", 64 * 1024, &cur, NULL);
                if (r < 0)
                        return r;
                while (*cur && (cur[strlen(cur) - 1] == '\n' || cur[strlen(cur) - 1] == ' '))
                        cur[strlen(cur) - 1] = 0;
                {
                        _cleanup_strv_free_ char **have = NULL, **missing = NULL;
                        _cleanup_free_ char *mj = NULL;

                        if (strv_split(cur, " \t", &have) < 0 || !(missing = calloc(1, sizeof(char *))))
                                return -ENOMEM;
                        STRV_FOREACH(a, p->cmdline_add)
                                if (!strv_contains(have, *a) && strv_extend(&missing, *a) < 0)
                                        return -ENOMEM;
                        mj = strv_join(missing, " ");
                        if (!mj || asprintf(&next, "%s%s%s\n", cur, *cur && *mj ? " " : "", mj) < 0)
                                return -ENOMEM;
                }
                if (o->apply_cmdline)
                        r = plan_file(p, "etc/kernel/cmdline", TAKE_PTR(next), 0644, false);
                else
                        r = strv_extendf(
                                &p->commands,
                                "echo '%s' > /etc/kernel/cmdline  (or: vfioctl setup --apply-cmdline)",
                                next[strlen(next) - 1] == '\n' ? strndupa(next, strlen(next) - 1) : next);
                if (r >= 0)
                        r = strv_extendf(&p->commands,
                                         "kernel-install add \"$(uname -r)\" \"/boot/vmlinuz-$(uname -r)\"");
        } else if (vfio_host_exists(h, "etc/default/grub") > 0) {
                _cleanup_free_ char *grub = NULL, *edited = NULL;

                p->bootloader = strdup("grub");
                r = vfio_hostfile_read(h, "etc/default/grub", FILE_MAX, &grub, NULL);
                if (r < 0)
                        return r;
                r = grub_edit(grub, p->cmdline_add, &edited);
                if (r < 0)
                        return r;
                if (o->apply_cmdline)
                        r = plan_file(p, "etc/default/grub", TAKE_PTR(edited), 0644, false);
                else
                        r = strv_extendf(
                                &p->commands,
                                "add \"%s\" to GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub (or: vfioctl setup --apply-cmdline)",
                                joined);
                if (r >= 0)
                        r = strv_extendf(&p->commands, "%s", vfio_distro_grub_mkconfig_cmd(d));
        } else
                r = strv_extendf(
                        &p->notes,
                        "no boot loader configuration found (etc/default/grub, etc/kernel/cmdline, grubby, kernelstub): add \"%s\" to the kernel command line by hand",
                        joined);
        return r;
}

/* One effect command by tool name; a tool the root does not have becomes a note naming it. */
static int effect(const vfio_host *h, vfio_setup_plan *p, const char *why, const char *const *argv)
{
        _cleanup_free_ char *path = NULL;
        const char *v[16];
        size_t n = 0;
        int r;

        r = vfio_hostcmd_locate(h, argv[0], &path);
        if (r == -ENOENT)
                return strv_extendf(&p->effect_missing, "%s (%s)", argv[0], why);
        if (r < 0)
                return r;
        v[n++] = path;
        for (const char *const *a = argv + 1; *a && n < ELEMENTSOF(v) - 1; a++)
                v[n++] = *a;
        v[n] = NULL;
        return vfio_hostcmds_add(&p->effect, why, v);
}

static bool plans_file(const vfio_setup_plan *p, const char *prefix)
{
        for (size_t i = 0; i < p->n; i++)
                if (strncmp(p->files[i].path, prefix, strlen(prefix)) == 0)
                        return true;
        return false;
}

/*
 * What makes the planned files take effect, by the host's own tools: the initramfs carries the module list
 * and modprobe.d; the boot loader's configuration carries the command line; systemd reads new units;
 * udev applies the rules now. A guided setup runs these; the setup verb prints its own list.
 */
static int plan_effect(const vfio_host *h, const vfio_distro *d, const vfio_kernel *k, vfio_setup_plan *p)
{
        int r = 0;

        if (d->family != VFIO_FAMILY_UNKNOWN &&
            (plans_file(p, "etc/initramfs-tools/") || plans_file(p, "etc/dracut.conf.d/") ||
             plans_file(p, "etc/mkinitcpio.conf") || plans_file(p, MODPROBE_CONF)))
                r = effect(h, p, "the initramfs carries the VFIO modules and modprobe.d",
                           vfio_distro_initramfs_argv(d));
        if (r >= 0 && strv_length(p->cmdline_add) > 0 && p->bootloader) {
                _cleanup_free_ char *joined = strv_join(p->cmdline_add, " ");

                if (!joined)
                        return -ENOMEM;
                if (strcmp(p->bootloader, "grub") == 0)
                        r = effect(h, p, "the boot loader's configuration carries the kernel command line",
                                   vfio_distro_grub_mkconfig_argv(d));
                else if (strcmp(p->bootloader, "grubby") == 0) {
                        _cleanup_free_ char *args = NULL;

                        if (asprintf(&args, "--args=%s", joined) < 0)
                                return -ENOMEM;
                        r = effect(h, p, "every boot entry carries the kernel command line",
                                   (const char *const[]){ "grubby", "--update-kernel=ALL", args, NULL });
                } else if (strcmp(p->bootloader, "kernelstub") == 0)
                        r = effect(h, p, "the boot entry carries the kernel command line",
                                   (const char *const[]){ "kernelstub", "--add-options", joined, NULL });
                else if (strcmp(p->bootloader, "systemd-boot") == 0 && k->release) {
                        _cleanup_free_ char *image = NULL;

                        if (asprintf(&image, "/boot/vmlinuz-%s", k->release) < 0)
                                return -ENOMEM;
                        r = effect(
                                h, p, "the boot entry carries /etc/kernel/cmdline",
                                (const char *const[]){ "kernel-install", "add", k->release, image, NULL });
                }
        }
        if (r >= 0 && vfio_host_exists(h, "run/systemd/system") > 0 && plans_file(p, UNIT_DIR "/"))
                r = effect(h, p, "systemd reads the units setup wrote",
                           (const char *const[]){ "systemctl", "daemon-reload", NULL });
        if (r >= 0 && vfio_host_exists(h, "run/udev/control") > 0 && plans_file(p, UDEV_RULES)) {
                r = effect(h, p, "udev reads the rules setup wrote",
                           (const char *const[]){ "udevadm", "control", "--reload-rules", NULL });
                if (r >= 0)
                        r = effect(h, p, "the VFIO nodes that exist now get the group of the rules",
                                   (const char *const[]){ "udevadm", "trigger", "--subsystem-match=vfio",
                                                          NULL });
        }
        return r;
}

int vfio_setup_plan_new(const vfio_host *h, const vfio_model *m, vfio_selection *sel,
                        const vfio_setup_opts *o, vfio_setup_plan **ret)
{
        _cleanup_(vfio_setup_plan_freep) vfio_setup_plan *p = NULL;
        _cleanup_(vfio_distro_freep) vfio_distro *d = NULL;
        _cleanup_strv_free_ char **ids = NULL, **cmdline_want = NULL;
        _cleanup_(vfio_kernel_freep) vfio_kernel *k = NULL;
        int r;

        assert(sel);
        assert(o);
        assert(ret);

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->commands = calloc(1, sizeof(char *));
        p->notes = calloc(1, sizeof(char *));
        p->refusals = calloc(1, sizeof(char *));
        if (!p->commands || !p->notes || !p->refusals)
                return -ENOMEM;
        if (o->user && (!*o->user || strpbrk(o->user, " \t\n:/\"'\\") || strlen(o->user) > 32))
                return -EINVAL;
        r = check_selection(h, m, sel, o, p);
        if (r < 0)
                return r;
        if (sel->n > 0) {
                r = plan_modprobe(h, m, sel, o, p, &ids);
                if (r < 0)
                        return r;
        }
        r = plan_udev_limits(h, o, p);
        if (r < 0)
                return r;
        r = plan_hugepages(h, o, p, &cmdline_want);
        if (r >= 0)
                r = plan_modules_load(o, p);
        if (r >= 0)
                r = vfio_audio_grant_plan(h, o, p);
        if (r >= 0)
                r = vfio_lg_setup_plan(h, o, p);
        if (r < 0)
                return r;
        r = vfio_distro_read(h, &d);
        if (r < 0)
                return r;
        r = vfio_kernel_read(h, &k);
        if (r < 0)
                return r;
        /* A vfio-pci built into the kernel binds before any module: no list to write. */
        if (sel->n > 0 && vfio_kernel_module_state(h, k, "vfio_pci") != VFIO_MODULE_BUILTIN &&
            (r = plan_initramfs_modules(h, d, p)) < 0)
                return r;
        r = plan_cmdline(h, d, ids, cmdline_want, o, p);
        if (r < 0)
                return r;
        if (sel->n > 0) {
                /* setup runs its commands: on a distribution it does not know, it guesses none. */
                if (d->family != VFIO_FAMILY_UNKNOWN)
                        r = strv_extendf(&p->commands, "%s", vfio_distro_initramfs_cmd(d));
                else
                        r = strv_extendf(
                                &p->notes,
                                "unknown distribution (etc/os-release): regenerate the initramfs so it carries etc/modprobe.d/vfioctl.conf");
                if (r < 0)
                        return r;
        }
        r = plan_effect(h, d, k, p);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

/* ---- diff ------------------------------------------------------------------------------------------ */

static int split_lines(const char *s, char ***ret, size_t *ret_n)
{
        char **v = NULL;
        size_t n = 0;

        for (const char *p = s; p && *p;) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                char **nv = realloc(v, (n + 2) * sizeof(char *));

                if (!nv) {
                        strv_free(v);
                        return -ENOMEM;
                }
                v = nv;
                v[n] = strndup(p, len);
                v[n + 1] = NULL;
                if (!v[n]) {
                        strv_free(v);
                        return -ENOMEM;
                }
                n++;
                p += len + (nl ? 1 : 0);
        }
        if (!v && !(v = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = v;
        *ret_n = n;
        return 0;
}

char *vfio_setup_unified_diff(const char *path, const char *old, const char *new)
{
        _cleanup_strv_free_ char **a = NULL, **b = NULL;
        _cleanup_free_ unsigned *L = NULL;
        _cleanup_free_ char *ops = NULL, *out = NULL;
        size_t na, nb, nops = 0;
        const size_t ctx = 3;

        if (split_lines(old, &a, &na) < 0 || split_lines(new, &b, &nb) < 0)
                return NULL;
        if (na > 4096 || nb > 4096)
                return NULL; /* host files we touch are small; beyond that a diff is no help */
        /* LCS table, then an edit script of '=', '-', '+'. */
        L = calloc((na + 1) * (nb + 1), sizeof(unsigned));
        ops = malloc(na + nb + 1);
        if (!L || !ops)
                return NULL;
#define LCS(i, j) L[(i) * (nb + 1) + (j)]
        for (size_t i = na; i-- > 0;)
                for (size_t j = nb; j-- > 0;)
                        LCS(i, j) = strcmp(a[i], b[j]) == 0          ? LCS(i + 1, j + 1) + 1
                                    : LCS(i + 1, j) >= LCS(i, j + 1) ? LCS(i + 1, j)
                                                                     : LCS(i, j + 1);
        for (size_t i = 0, j = 0; i < na || j < nb;) {
                if (i < na && j < nb && strcmp(a[i], b[j]) == 0)
                        ops[nops++] = '=', i++, j++;
                else if (i < na && (j == nb || LCS(i + 1, j) >= LCS(i, j + 1)))
                        ops[nops++] = '-', i++; /* removals before additions, as diff(1) prints them */
                else
                        ops[nops++] = '+', j++;
        }
#undef LCS
        out = strdup("");
        if (!out)
                return NULL;
        if (strcmp(old ? old : "", new ? new : "") == 0)
                return TAKE_PTR(out);
        if (append(&out, "--- %s%s\n+++ %s%s\n", old ? "a/" : "/dev/null", old ? path : "",
                   new ? "b/" : "/dev/null", new ? path : "") < 0)
                return NULL;
        /* Hunks: runs of changes with up to ctx lines of context around them (merged when close). */
        for (size_t k = 0; k < nops;) {
                size_t start, end, ai = 0, bi = 0, a_start, b_start, a_len = 0, b_len = 0;

                if (ops[k] == '=') {
                        k++;
                        continue;
                }
                start = k >= ctx ? k - ctx : 0;
                while (start < k && ops[start] != '=')
                        start++;
                end = k;
                for (;;) {
                        size_t eq = 0, q = end;

                        while (q < nops && ops[q] != '=')
                                q++;
                        while (q + eq < nops && ops[q + eq] == '=')
                                eq++;
                        end = q;
                        if (q + eq >= nops || eq > 2 * ctx) {
                                end = q + (eq < ctx ? eq : ctx);
                                break;
                        }
                        end = q + eq;
                }
                for (size_t x = 0; x < start; x++) {
                        if (ops[x] != '+')
                                ai++;
                        if (ops[x] != '-')
                                bi++;
                }
                a_start = ai, b_start = bi;
                for (size_t x = start; x < end; x++) {
                        if (ops[x] != '+')
                                a_len++;
                        if (ops[x] != '-')
                                b_len++;
                }
                if (append(&out, "@@ -%zu,%zu +%zu,%zu @@\n", a_len ? a_start + 1 : a_start, a_len,
                           b_len ? b_start + 1 : b_start, b_len) < 0)
                        return NULL;
                for (size_t x = start; x < end; x++) {
                        const char *line = ops[x] == '+' ? b[bi++] : a[ai++];

                        if (ops[x] == '=')
                                bi++;
                        if (append(&out, "%c%s\n", ops[x] == '=' ? ' ' : ops[x], line) < 0)
                                return NULL;
                }
                k = end;
        }
        return TAKE_PTR(out);
}

/* A link to make, as a diff of its target ("symbolic link to ..."); nothing when it is there already. */
static int diff_link(const vfio_host *h, const vfio_setup_file *f, char **out)
{
        _cleanup_free_ char *cur = NULL;
        int r;

        r = vfio_host_read_link(h, f->path, &cur);
        if (r >= 0 && strcmp(cur, f->link) == 0)
                return 0;
        if (r >= 0)
                return append(
                        out, "--- a/%s\n+++ b/%s\n@@ -1 +1 @@\n-symbolic link to %s\n+symbolic link to %s\n",
                        f->path, f->path, cur, f->link);
        return append(out, "--- /dev/null\n+++ b/%s\n@@ -0,0 +1 @@\n+symbolic link to %s\n", f->path,
                      f->link);
}

int vfio_setup_diff(const vfio_host *h, const vfio_setup_plan *p, char **ret)
{
        _cleanup_free_ char *out = strdup("");
        int r;

        assert(p);
        assert(ret);

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < p->n; i++) {
                _cleanup_free_ char *cur = NULL, *d = NULL;

                if (p->files[i].link) {
                        r = diff_link(h, &p->files[i], &out);
                        if (r < 0)
                                return r;
                        continue;
                }
                r = vfio_hostfile_read(h, p->files[i].path, FILE_MAX, &cur, NULL);
                if (r < 0 && r != -ENOENT && r != -ENOTDIR)
                        return r;
                d = vfio_setup_unified_diff(p->files[i].path, cur, p->files[i].content);
                if (!d)
                        return -ENOMEM;
                if (append(&out, "%s", d) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

/* ---- manifest ------------------------------------------------------------------------------------- */

typedef struct entry {
        char *path;
        char sha[SHA256_HEX_SIZE]; /* "-" for directories */
        /* While a run is writing: the content an earlier run left ("" none). Until the run ends either is
         * ours, so a run killed midway leaves a manifest --undo can still act on. */
        char prev[SHA256_HEX_SIZE];
        unsigned mode;
        uint32_t uid, gid; /* the replaced file's owner, given back by --undo (0:0 unless recorded) */
        char *backup;      /* NULL: none (the file did not exist) */
        char *link;        /* a symbolic link setup made, to this target; NULL for files and directories */
        bool dir;
} entry;

/* The owner to give back: root:root is what a write makes anyway, so only another owner is set. */
#define OWNER_UID(e) ((e).uid || (e).gid ? (uid_t)(e).uid : (uid_t)-1)
#define OWNER_GID(e) ((e).uid || (e).gid ? (gid_t)(e).gid : (gid_t)-1)

typedef struct manifest {
        entry *e;
        size_t n;
} manifest;

static void manifest_done(manifest *m)
{
        for (size_t i = 0; i < m->n; i++) {
                free(m->e[i].path);
                free(m->e[i].backup);
                free(m->e[i].link);
        }
        free(m->e);
        *m = (manifest){};
}

static entry *manifest_find(manifest *m, const char *path, bool dir)
{
        for (size_t i = 0; i < m->n; i++)
                if (m->e[i].dir == dir && strcmp(m->e[i].path, path) == 0)
                        return &m->e[i];
        return NULL;
}

static int manifest_add(manifest *m, const entry *e)
{
        entry *n = realloc(m->e, (m->n + 1) * sizeof(*n));
        entry c = *e;

        if (!n)
                return -ENOMEM;
        m->e = n;
        c.path = strdup(e->path);
        c.backup = e->backup ? strdup(e->backup) : NULL;
        c.link = e->link ? strdup(e->link) : NULL;
        if (!c.path || (e->backup && !c.backup) || (e->link && !c.link)) {
                free(c.path);
                free(c.backup);
                free(c.link);
                return -ENOMEM;
        }
        m->e[m->n++] = c;
        return 0;
}

static bool safe_rel_path(const char *p)
{
        return *p && *p != '/' && !strstr(p, "..") && !strpbrk(p, " \t\n");
}

/* Format: "file PATH SHA256 MODE[:UID:GID] BACKUP|-" and "dir PATH", in the order they were created; a sixth
 * field PREV-SHA256 on a file line while a run is writing it. UID:GID is the owner of the file setup
 * replaced, written when it is not root:root. */
static int parse_mode_owner(const char *s, entry *e)
{
        _cleanup_strv_free_ char **w = NULL;
        uint64_t mode, uid = 0, gid = 0;

        if (strv_split(s, ":", &w) < 0)
                return -ENOMEM;
        if ((strv_length(w) != 1 && strv_length(w) != 3) || parse_uint(w[0], 8, 07777, &mode) < 0 ||
            (w[1] && (parse_uint(w[1], 10, UINT32_MAX - 1, &uid) < 0 ||
                      parse_uint(w[2], 10, UINT32_MAX - 1, &gid) < 0)))
                return -EBADMSG;
        e->mode = (unsigned)mode;
        e->uid = (uint32_t)uid;
        e->gid = (uint32_t)gid;
        return 0;
}

static int manifest_read(const vfio_host *h, manifest *ret)
{
        _cleanup_free_ char *s = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        _cleanup_(manifest_done) manifest m = {};
        int r;

        r = vfio_hostfile_read(h, VFIO_SETUP_MANIFEST, MANIFEST_MAX, &s, NULL);
        if (r < 0)
                return r;
        r = strv_split(s, "\n", &lines);
        if (r < 0)
                return r;
        STRV_FOREACH(l, lines) {
                _cleanup_strv_free_ char **w = NULL;
                entry e = {};

                if (**l == '#')
                        continue;
                r = strv_split(*l, " ", &w);
                if (r < 0)
                        return r;
                if (strv_length(w) == 2 && strcmp(w[0], "dir") == 0 && safe_rel_path(w[1])) {
                        e.dir = true;
                        e.path = w[1];
                        strcpy(e.sha, "-");
                } else if (strv_length(w) == 3 && strcmp(w[0], "link") == 0 && safe_rel_path(w[1]) &&
                           *w[2] && strlen(w[2]) < 4096) {
                        e.path = w[1];
                        e.link = w[2];
                        strcpy(e.sha, "-");
                } else if ((strv_length(w) == 5 ||
                            (strv_length(w) == 6 && strlen(w[5]) == SHA256_HEX_SIZE - 1)) &&
                           strcmp(w[0], "file") == 0 && safe_rel_path(w[1]) &&
                           strlen(w[2]) == SHA256_HEX_SIZE - 1 && parse_mode_owner(w[3], &e) >= 0 &&
                           (strcmp(w[4], "-") == 0 || safe_rel_path(w[4]))) {
                        e.path = w[1];
                        memcpy(e.sha, w[2], SHA256_HEX_SIZE);
                        if (w[5])
                                memcpy(e.prev, w[5], SHA256_HEX_SIZE);
                        e.backup = strcmp(w[4], "-") == 0 ? NULL : w[4];
                } else
                        return log_debug_errno(-EBADMSG, "%s: malformed line '%s'", VFIO_SETUP_MANIFEST, *l);
                r = manifest_add(&m, &e);
                if (r < 0)
                        return r;
        }
        *ret = m;
        m = (manifest){};
        return 0;
}

static int manifest_format(const manifest *m, char **ret)
{
        _cleanup_free_ char *s = strdup(
                "# vfioctl setup manifest v1: file PATH SHA256 MODE BACKUP | dir PATH | link PATH TARGET\n");

        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < m->n; i++) {
                const entry *e = &m->e[i];

                char owner[32] = "";

                if (!e->dir && !e->link && (e->uid || e->gid))
                        snprintf(owner, sizeof(owner), ":%u:%u", (unsigned)e->uid, (unsigned)e->gid);
                if (e->link  ? append(&s, "link %s %s\n", e->path, e->link) < 0
                    : e->dir ? append(&s, "dir %s\n", e->path) < 0
                             : append(&s, "file %s %s %04o%s %s%s%s\n", e->path, e->sha, e->mode, owner,
                                      e->backup ? e->backup : "-", e->prev[0] ? " " : "", e->prev) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

static int manifest_write(const vfio_host *h, const manifest *m, char ***created)
{
        _cleanup_free_ char *s = NULL;
        int r;

        r = vfio_hostfile_mkdir_p(h, "var/lib/vfioctl", 0755, created);
        if (r < 0)
                return r;
        r = manifest_format(m, &s);
        if (r < 0)
                return r;
        return vfio_hostfile_write_atomic(h, VFIO_SETUP_MANIFEST, s, strlen(s), 0644);
}

static int file_mode(const vfio_host *h, const char *path, unsigned *ret, uint32_t *ret_uid,
                     uint32_t *ret_gid)
{
        _cleanup_close_ int fd = vfio_host_open_path(h, path, O_PATH | O_NOFOLLOW);
        struct stat st;

        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        *ret = st.st_mode & 07777;
        *ret_uid = st.st_uid;
        *ret_gid = st.st_gid;
        return 0;
}

/* ---- apply ------------------------------------------------------------------------------------------ */

/* var/lib/vfioctl and every directory from BACKUP_DIR down to dir: vfioctl's own, recorded in the manifest
 * whether this run or a killed earlier one made them. */
static int add_own_dirs(char ***dirs, const char *dir)
{
        _cleanup_free_ char *p = strdup(dir);
        size_t base = strlen(BACKUP_DIR);
        int r;

        if (!p)
                return -ENOMEM;
        if (!strv_contains(*dirs, "var/lib/vfioctl") && (r = strv_extend(dirs, "var/lib/vfioctl")) < 0)
                return r;
        if (strncmp(p, BACKUP_DIR, base) != 0 || (p[base] != '/' && p[base] != '\0'))
                return 0;
        for (char *s = p + base;; s++) {
                char saved = *s;

                if (saved != '/' && saved != '\0')
                        continue;
                *s = '\0';
                if (!strv_contains(*dirs, p) && (r = strv_extend(dirs, p)) < 0)
                        return r;
                *s = saved;
                if (!saved)
                        break;
        }
        return 0;
}

/* Appends dir and its parents that do not exist yet to *dirs, parents first. */
static int missing_dirs(const vfio_host *h, const char *dir, char ***dirs)
{
        _cleanup_free_ char *p = strdup(dir);
        int r;

        if (!p)
                return -ENOMEM;
        for (char *s = p;; s++) {
                char saved = *s;

                if (saved != '/' && saved != '\0')
                        continue;
                *s = '\0';
                r = vfio_host_exists(h, p);
                if (r < 0)
                        return r;
                if (r == 0 && !strv_contains(*dirs, p) && (r = strv_extend(dirs, p)) < 0)
                        return r;
                *s = saved;
                if (!saved)
                        break;
        }
        return 0;
}

/* Removes the hidden temp files a killed run left beside path. */
static void sweep_parent(const vfio_host *h, const char *path)
{
        _cleanup_free_ char *dir = NULL;
        const char *slash = strrchr(path, '/');

        dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
        if (dir)
                (void)vfio_hostfile_sweep_temps(h, dir);
}

typedef struct undo_item {
        char *path;
        char *old; /* NULL: remove */
        size_t old_len;
        unsigned mode;
        uint32_t uid, gid;
} undo_item;

/* One run of vfio_setup_apply: what it has changed so far, so that a failure puts all of it back. */
typedef struct apply_run {
        const vfio_host *h;
        const vfio_setup_plan *p;
        char ***log;
        manifest m;
        char *old_manifest; /* the manifest before this run, restored on failure */
        bool had_manifest;
        undo_item *undo; /* the files this run changes, with their old content */
        size_t n_undo;
        size_t n_written; /* undo[0..n_written) are written (or being written) */
        char **created;   /* directories this run made */
        char **new_backups;
        char **planned;    /* directories the files need, recorded before they are made */
        char **links_made; /* links this run made (units enabled), removed on failure */
        char *at;          /* what the current step works on: the failed path for the tool's message */
        char **ret_failed_path;
} apply_run;

/* The path the next step works on (a copy: the step's own strings may be gone when it fails). */
static int apply_at(apply_run *a, const char *path)
{
        char *copy = strdup(path);

        if (!copy)
                return -ENOMEM;
        free(a->at);
        a->at = copy;
        return 0;
}

static void apply_run_done(apply_run *a)
{
        for (size_t i = 0; i < a->n_undo; i++)
                free(a->undo[i].old);
        free(a->undo);
        free(a->old_manifest);
        manifest_done(&a->m);
        strv_free(a->created);
        strv_free(a->new_backups);
        strv_free(a->planned);
        strv_free(a->links_made);
        free(a->at);
}

/* A backup of the original of f (the first time setup replaces it) beside the manifest entry. */
static int apply_backup(apply_run *a, const vfio_setup_file *f, entry *e)
{
        _cleanup_free_ char *bpath = NULL, *bdir = NULL;
        const undo_item *u = &a->undo[a->n_undo - 1];
        const char *slash;
        int r;

        if (asprintf(&bpath, "%s/%s", BACKUP_DIR, f->path) < 0)
                return -ENOMEM;
        slash = strrchr(bpath, '/');
        bdir = strndup(bpath, (size_t)(slash - bpath));
        if (!bdir)
                return -ENOMEM;
        if ((r = apply_at(a, bdir)) < 0)
                return r;
        /* var/lib/vfioctl first, searchable: the VM users' state directories are below it (QEMU opens its
         * OVMF variable store there as the VM user); only the backup tree in it is root's alone. */
        r = vfio_hostfile_mkdir_p(a->h, "var/lib/vfioctl", 0755, &a->created);
        if (r < 0)
                return r;
        r = vfio_hostfile_mkdir_p(a->h, bdir, 0700, &a->created);
        if (r < 0)
                return r;
        /* The backup tree is ours even when a killed earlier run made it. */
        r = add_own_dirs(&a->created, bdir);
        if (r < 0)
                return r;
        if ((r = apply_at(a, bpath)) < 0)
                return r;
        r = vfio_hostfile_write_atomic(a->h, bpath, u->old, u->old_len, 0600);
        if (r < 0)
                return r;
        r = strv_extend(&a->new_backups, bpath);
        if (r < 0)
                return r;
        e->backup = bpath;
        return manifest_add(&a->m, e);
}

/* Step 1 for one file: note its old content for rollback, back up an original, enter it in the manifest. */
static int apply_prepare_file(apply_run *a, const vfio_setup_file *f)
{
        _cleanup_free_ char *cur = NULL;
        size_t len = 0;
        entry e = {}, *known;
        unsigned mode = f->mode;
        uint32_t uid = 0, gid = 0;
        int r;

        if ((r = apply_at(a, f->path)) < 0)
                return r;
        if (f->link)
                return 0; /* apply_links, once the files are in place */
        r = vfio_hostfile_read(a->h, f->path, FILE_MAX, &cur, &len);
        if (r < 0 && r != -ENOENT && r != -ENOTDIR)
                return r;
        if (cur && strcmp(cur, f->content) == 0)
                return 0; /* nothing to change; an earlier run's entry (if any) stays as it is */
        if (cur)
                (void)file_mode(a->h, f->path, &mode, &uid, &gid);
        a->undo[a->n_undo++] = (undo_item){
                .path = f->path, .old = TAKE_PTR(cur), .old_len = len, .mode = mode, .uid = uid, .gid = gid
        };
        known = manifest_find(&a->m, f->path, false);
        sha256_hex(f->content, strlen(f->content), e.sha);
        if (known) {
                /* Ours already: keep the backup of the original, not of our own earlier content. */
                if (!known->prev[0])
                        memcpy(known->prev, known->sha, sizeof(known->sha));
                memcpy(known->sha, e.sha, sizeof(e.sha));
                return 0;
        }
        e.path = f->path;
        e.mode = a->undo[a->n_undo - 1].old ? mode : f->mode;
        e.uid = a->undo[a->n_undo - 1].old ? uid : 0;
        e.gid = a->undo[a->n_undo - 1].old ? gid : 0;
        if (a->undo[a->n_undo - 1].old)
                return apply_backup(a, f, &e);
        return manifest_add(&a->m, &e);
}

/* Nothing to write. A run killed after its last file but before its final manifest: finish that too. */
static int apply_nothing_to_change(apply_run *a)
{
        bool pending = false;
        int r;

        for (size_t i = 0; i < a->m.n; i++)
                if (a->m.e[i].prev[0]) {
                        a->m.e[i].prev[0] = '\0';
                        pending = true;
                }
        if (pending && (r = manifest_write(a->h, &a->m, NULL)) < 0)
                return r;
        if (a->log && strv_length(a->links_made) == 0)
                (void)strv_extendf(a->log, "nothing to change");
        return 0;
}

static int manifest_add_dirs(manifest *m, char **dirs)
{
        int r;

        STRV_FOREACH(d, dirs) {
                entry e = { .path = *d, .dir = true };

                strcpy(e.sha, "-");
                if (!manifest_find(m, *d, true) && (r = manifest_add(m, &e)) < 0)
                        return r;
        }
        return 0;
}

/*
 * Directories the files need, recorded in the manifest before they are created so --undo can remove them
 * even when this run is killed right after making them; then the manifest, then the directories.
 */
static int apply_record_dirs(apply_run *a)
{
        int r;

        if ((r = apply_at(a, "var/lib/vfioctl")) < 0)
                return r;
        r = vfio_hostfile_mkdir_p(a->h, "var/lib/vfioctl", 0755, &a->created);
        if (r < 0)
                return r;
        for (size_t i = 0; i < a->n_undo; i++) {
                _cleanup_free_ char *dir = NULL;
                const char *slash = strrchr(a->undo[i].path, '/');

                if (!slash)
                        continue;
                dir = strndup(a->undo[i].path, (size_t)(slash - a->undo[i].path));
                if (!dir)
                        return -ENOMEM;
                r = missing_dirs(a->h, dir, &a->planned);
                if (r < 0)
                        return r;
        }
        /* Litter of a run killed before (hidden temp files) goes before the directories are recorded. */
        for (size_t i = 0; i < a->n_undo; i++)
                sweep_parent(a->h, a->undo[i].path);
        r = manifest_add_dirs(&a->m, a->created);
        if (r < 0)
                return r;
        r = manifest_add_dirs(&a->m, a->planned);
        if (r < 0)
                return r;
        if ((r = apply_at(a, VFIO_SETUP_MANIFEST)) < 0)
                return r;
        r = manifest_write(a->h, &a->m, NULL);
        if (r < 0)
                return r;
        STRV_FOREACH(d, a->planned) {
                if ((r = apply_at(a, *d)) < 0)
                        return r;
                r = vfio_hostfile_mkdir_p(a->h, *d, 0755, &a->created);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Step 2: the files, each atomically. */
static int apply_write_files(apply_run *a)
{
        a->n_written = a->n_undo;
        for (size_t i = 0; i < a->n_undo; i++) {
                const vfio_setup_file *f = NULL;
                int r;

                for (size_t j = 0; j < a->p->n; j++)
                        if (a->p->files[j].path == a->undo[i].path)
                                f = &a->p->files[j];
                if ((r = apply_at(a, f->path)) < 0) {
                        a->n_written = i;
                        return r;
                }
                r = vfio_hostfile_write_atomic(a->h, f->path, f->content, strlen(f->content),
                                               a->undo[i].old ? a->undo[i].mode : f->mode);
                if (r < 0) {
                        r = log_debug_errno(r, "%s: %s", f->path, strerror(-r));
                        if (a->log)
                                (void)strv_extendf(a->log, "FAILED writing /%s: %s", f->path, strerror(-r));
                        /* The failed one is untouched: the atomic write removed its temp file. */
                        a->n_written = i;
                        return r;
                }
                if (a->log)
                        (void)strv_extendf(a->log, "%s /%s", a->undo[i].old ? "updated" : "created",
                                           f->path);
        }
        return 0;
}

/*
 * The plan's links (units enabled: what systemctl enable makes). Each is recorded in the manifest, with the
 * directories it needs, before it is made, so a kill at any point leaves something --undo removes. A link
 * already there with the same target is left as it is; anything else at that path is not ours and stays.
 */
static int apply_links(apply_run *a)
{
        int r;

        for (size_t i = 0; i < a->p->n; i++) {
                const vfio_setup_file *f = &a->p->files[i];
                _cleanup_strv_free_ char **dirs = NULL;
                _cleanup_free_ char *cur = NULL, *dir = NULL;
                const char *slash = strrchr(f->path, '/');
                entry e = { .path = f->path, .link = f->link };

                if (!f->link)
                        continue;
                if ((r = apply_at(a, f->path)) < 0)
                        return r;
                r = vfio_host_read_link(a->h, f->path, &cur);
                if (r >= 0 && strcmp(cur, f->link) == 0)
                        continue;
                if ((r >= 0 && !manifest_find(&a->m, f->path, false)) ||
                    (r < 0 && vfio_host_exists(a->h, f->path) > 0)) {
                        if (a->log)
                                (void)strv_extendf(a->log, "kept /%s: something else is there (%s)", f->path,
                                                   cur ? cur : "not a link");
                        continue;
                }
                dir = slash ? strndup(f->path, (size_t)(slash - f->path)) : NULL;
                if (slash && !dir)
                        return -ENOMEM;
                if (dir && (r = missing_dirs(a->h, dir, &dirs)) < 0)
                        return r;
                r = manifest_add_dirs(&a->m, dirs);
                if (r < 0)
                        return r;
                strcpy(e.sha, "-");
                if (!manifest_find(&a->m, f->path, false) && (r = manifest_add(&a->m, &e)) < 0)
                        return r;
                r = manifest_write(a->h, &a->m, &a->created);
                if (r < 0)
                        return r;
                STRV_FOREACH(d, dirs)
                        if ((r = vfio_hostfile_mkdir_p(a->h, *d, 0755, &a->created)) < 0)
                                return r;
                sweep_parent(a->h, f->path);
                r = vfio_hostfile_symlink_atomic(a->h, f->path, f->link);
                if (r < 0) {
                        if (a->log)
                                (void)strv_extendf(a->log, "FAILED linking /%s: %s", f->path, strerror(-r));
                        return r;
                }
                if ((r = strv_extend(&a->links_made, f->path)) < 0)
                        return r;
                if (a->log)
                        (void)strv_extendf(a->log, "linked /%s -> %s", f->path, f->link);
        }
        return 0;
}

/* Puts back every file of this run, then the previous manifest, then the directories it made. */
static int apply_rollback(apply_run *a, int error)
{
        if (a->ret_failed_path && a->at)
                *a->ret_failed_path = TAKE_PTR(a->at);
        for (size_t i = strv_length(a->links_made); i-- > 0;)
                (void)vfio_hostfile_unlink(a->h, a->links_made[i]);
        for (size_t i = a->n_written; i-- > 0;) {
                const undo_item *u = &a->undo[i];
                int q;

                if (u->old)
                        q = vfio_hostfile_write_atomic_owned(a->h, u->path, u->old, u->old_len, u->mode,
                                                             OWNER_UID(*u), OWNER_GID(*u));
                else {
                        q = vfio_hostfile_unlink(a->h, u->path);
                        if (q == -ENOENT || q == -ENOTDIR)
                                q = 0;
                }
                if (a->log)
                        (void)strv_extendf(a->log, "rolled back /%s%s", u->path, q < 0 ? " FAILED" : "");
        }
        if (a->had_manifest)
                (void)vfio_hostfile_write_atomic(a->h, VFIO_SETUP_MANIFEST, a->old_manifest,
                                                 strlen(a->old_manifest), 0644);
        else
                (void)vfio_hostfile_unlink(a->h, VFIO_SETUP_MANIFEST);
        STRV_FOREACH(b, a->new_backups)
                (void)vfio_hostfile_unlink(a->h, *b);
        for (size_t i = strv_length(a->created); i-- > 0;)
                (void)vfio_hostfile_rmdir(a->h, a->created[i]);
        return error;
}

int vfio_setup_apply(const vfio_host *h, const vfio_setup_plan *p, char ***log, char **ret_failed_path)
{
        _cleanup_(apply_run_done)
                apply_run a = { .h = h, .p = p, .log = log, .ret_failed_path = ret_failed_path };
        int r;

        assert(p);

        a.created = calloc(1, sizeof(char *));
        a.new_backups = calloc(1, sizeof(char *));
        a.undo = calloc(p->n + 1, sizeof(*a.undo));
        if (!a.created || !a.new_backups || !a.undo)
                return -ENOMEM;
        r = vfio_hostfile_read(h, VFIO_SETUP_MANIFEST, MANIFEST_MAX, &a.old_manifest, NULL);
        if (r < 0 && r != -ENOENT)
                return r;
        a.had_manifest = r >= 0;
        if (a.had_manifest && (r = manifest_read(h, &a.m)) < 0)
                return r;

        /* 1. Backups of what will be replaced, and the manifest, before any file changes. */
        for (size_t i = 0; i < p->n; i++)
                if ((r = apply_prepare_file(&a, &p->files[i])) < 0)
                        return apply_rollback(&a, r);
        if (a.n_undo == 0) {
                r = apply_links(&a);
                if (r < 0)
                        return apply_rollback(&a, r);
                return apply_nothing_to_change(&a);
        }
        r = apply_record_dirs(&a);
        if (r < 0)
                return apply_rollback(&a, r);
        /* 2. The files. */
        r = apply_write_files(&a);
        if (r < 0)
                return apply_rollback(&a, r);
        r = apply_links(&a);
        if (r < 0)
                return apply_rollback(&a, r);
        /* Every file written: the manifest loses its in-progress marks. Failing here is harmless (undo
         * accepts either content), so the run still succeeded. */
        for (size_t i = 0; i < a.m.n; i++)
                a.m.e[i].prev[0] = '\0';
        (void)manifest_write(h, &a.m, NULL);
        return 0;
}

/* ---- undo ------------------------------------------------------------------------------------------- */

/* A killed run or undo leaves state dirs behind with no manifest: orphan backups (written before the
 * manifest, so setup never changed those files) and empty directories. vfioctl's own, so removed. */
static void remove_orphan_state(const vfio_host *h, const char *dir)
{
        _cleanup_strv_free_ char **names = NULL;

        (void)vfio_hostfile_sweep_temps(h, dir);
        if (vfio_host_list_dir(h, dir, 4096, &names) >= 0)
                STRV_FOREACH(n, names) {
                        _cleanup_free_ char *p = NULL;

                        if (asprintf(&p, "%s/%s", dir, *n) < 0)
                                return;
                        if (vfio_hostfile_unlink(h, p) == -EISDIR)
                                remove_orphan_state(h, p);
                }
        (void)vfio_hostfile_rmdir(h, dir);
}

/* var/lib/vfioctl, what is in it, and its parents: they hold the manifest, so they go after it. */
static bool state_dir_or_parent(const char *p)
{
        static const char state[] = "var/lib/vfioctl";
        size_t n = strlen(p);

        if (strncmp(p, state, sizeof(state) - 1) == 0 && (p[15] == '\0' || p[15] == '/'))
                return true;
        return n < sizeof(state) - 1 && strncmp(state, p, n) == 0 && state[n] == '/';
}

/* Whether cur (len bytes) is content this manifest entry lets undo act on: what the run wrote, what an
 * earlier run wrote (a run killed midway), or the original the backup holds (killed before writing it). */
static bool undoable(const entry *e, const char *cur, size_t len, const char *bak, size_t blen)
{
        char sha[SHA256_HEX_SIZE];

        if (!cur)
                return true;
        sha256_hex(cur, len, sha);
        if (strcmp(sha, e->sha) == 0 || (e->prev[0] && strcmp(sha, e->prev) == 0))
                return true;
        return bak && blen == len && memcmp(bak, cur, len) == 0;
}

/* Removes a link setup made, when it still points where setup pointed it (else kept unless force). */
static int undo_link(const vfio_host *h, const entry *e, bool force, char ***log)
{
        _cleanup_free_ char *cur = NULL;
        int r;

        sweep_parent(h, e->path);
        r = vfio_host_read_link(h, e->path, &cur);
        if (r == -ENOENT || r == -ENOTDIR)
                return 0; /* gone already (an undo killed after removing it) */
        if ((r < 0 || strcmp(cur, e->link) != 0) && !force) {
                if (log)
                        (void)strv_extendf(
                                log, "kept /%s: changed since setup made it (--force removes it anyway)",
                                e->path);
                return -EBUSY;
        }
        r = vfio_hostfile_unlink(h, e->path);
        if (r < 0 && r != -ENOENT) {
                if (log)
                        (void)strv_extendf(log, "FAILED to remove /%s: %s", e->path, strerror(-r));
                return r;
        }
        if (log)
                (void)strv_extendf(log, "removed /%s", e->path);
        return 0;
}

int vfio_setup_undo(const vfio_host *h, bool force, char ***log)
{
        _cleanup_(manifest_done) manifest m = {}, keep = {};
        int r, first = 0;

        r = manifest_read(h, &m);
        if (r == -ENOENT) {
                /* Nothing setup applied; clear what a run killed before its manifest left. */
                remove_orphan_state(h, BACKUP_DIR);
                (void)vfio_hostfile_sweep_temps(h, "var/lib/vfioctl");
                (void)vfio_hostfile_rmdir(h, "var/lib/vfioctl");
        }
        if (r < 0)
                return r;
        for (size_t i = m.n; i-- > 0;) {
                entry *e = &m.e[i];
                _cleanup_free_ char *cur = NULL, *bak = NULL;
                size_t len = 0, blen = 0;
                int rb = 0;

                if (e->dir)
                        continue;
                if (e->link) {
                        r = undo_link(h, e, force, log);
                        if (r < 0) {
                                first = first ?: r;
                                (void)manifest_add(&keep, e);
                        }
                        continue;
                }
                sweep_parent(h, e->path);
                r = vfio_hostfile_read(h, e->path, FILE_MAX, &cur, &len);
                if (r < 0 && r != -ENOENT) {
                        first = first ?: r;
                        (void)manifest_add(&keep, e);
                        continue;
                }
                if (e->backup)
                        rb = vfio_hostfile_read(h, e->backup, FILE_MAX, &bak, &blen);
                /* No backup any more: an undo killed after restoring this file (the backup goes last). */
                if (!undoable(e, cur, len, bak, blen) && !(e->backup && rb == -ENOENT) && !force) {
                        if (log)
                                (void)strv_extendf(
                                        log,
                                        "kept /%s: changed since setup wrote it (--force restores it anyway)",
                                        e->path);
                        first = first ?: -EBUSY;
                        (void)manifest_add(&keep, e);
                        continue;
                }
                if (e->backup) {
                        char sha[SHA256_HEX_SIZE];

                        if (rb == -ENOENT)
                                /* Restored already, unless the file is still ours: then the original is
                                 * lost. */
                                r = cur && strcmp(sha256_hex(cur, len, sha), e->sha) == 0 ? -ENOENT : 0;
                        else if (rb < 0)
                                r = rb;
                        else {
                                r = vfio_hostfile_write_atomic_owned(h, e->path, bak, blen, e->mode,
                                                                     OWNER_UID(*e), OWNER_GID(*e));
                                if (r >= 0)
                                        r = vfio_hostfile_unlink(h, e->backup);
                        }
                } else {
                        r = cur ? vfio_hostfile_unlink(h, e->path) : 0;
                }
                if (r < 0) {
                        first = first ?: r;
                        (void)manifest_add(&keep, e);
                        if (log)
                                (void)strv_extendf(log, "FAILED to restore /%s: %s", e->path, strerror(-r));
                        continue;
                }
                if (log)
                        (void)strv_extendf(log, "%s /%s", e->backup ? "restored" : "removed", e->path);
        }
        if (keep.n > 0) {
                /* Keep the directories too: the kept files live in them. */
                for (size_t i = 0; i < m.n; i++)
                        if (m.e[i].dir)
                                (void)manifest_add(&keep, &m.e[i]);
                r = manifest_write(h, &keep, NULL);
                first = first ?: r;
        } else {
                /* Directories outside the state dir first, while the manifest still lists them (a kill
                 * here leaves an undo to finish); then the manifest; then the state dir. */
                for (int pass = 0; pass < 2; pass++) {
                        if (pass == 1) {
                                r = vfio_hostfile_unlink(h, VFIO_SETUP_MANIFEST);
                                if (r < 0 && r != -ENOENT)
                                        first = first ?: r;
                        }
                        /* Deepest first; a second round takes parents listed before their children. */
                        for (int round = 0; round < 2; round++)
                                for (size_t i = m.n; i-- > 0;) {
                                        if (!m.e[i].dir || state_dir_or_parent(m.e[i].path) != (pass == 1))
                                                continue;
                                        (void)vfio_hostfile_sweep_temps(h, m.e[i].path);
                                        r = vfio_hostfile_rmdir(h, m.e[i].path);
                                        if (r < 0 && r != -ENOENT && round == 1 && log)
                                                (void)strv_extendf(log, "kept directory /%s: %s",
                                                                   m.e[i].path, strerror(-r));
                                }
                }
        }
        return first;
}
