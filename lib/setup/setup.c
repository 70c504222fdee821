/*
 * Persistent host setup: the files the seeds' guides write by hand (002: pci-stub ids and a vfio-bind
 * service; 003: modprobe.d ids, udev group rules, limits.conf memlock), generated from the host model,
 * written atomically and listed in a manifest so --undo removes exactly them.
 */
#include "vfioctl/setup.h"

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
#include "vfioctl/distro.h"
#include "vfioctl/hostfile.h"

#define MODPROBE_CONF "etc/modprobe.d/vfioctl.conf"
#define BIND_UNIT     "etc/systemd/system/vfioctl-bind.service"
#define UDEV_RULES    "etc/udev/rules.d/90-vfioctl.rules"
#define LIMITS_CONF   "etc/security/limits.d/90-vfioctl.conf"
#define SYSCTL_CONF   "etc/sysctl.d/90-vfioctl.conf"
#define MODULES_CONF  "etc/modules-load.d/vfioctl.conf"
#define BACKUP_DIR    "var/lib/vfioctl/setup.backup"
#define HEADER        VFIO_SETUP_HEADER
#define FILE_MAX      (1024 * 1024)
#define MANIFEST_MAX  (256 * 1024)
#define GIB           (UINT64_C(1) << 30)

vfio_setup_plan *vfio_setup_plan_free(vfio_setup_plan *p)
{
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n; i++) {
                free(p->files[i].path);
                free(p->files[i].content);
        }
        free(p->files);
        strv_free(p->commands);
        strv_free(p->notes);
        strv_free(p->refusals);
        strv_free(p->cmdline_add);
        free(p->bootloader);
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
                if (md->verdict == VFIO_VERDICT_HOST_CRITICAL) {
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

static int plan_modprobe(const vfio_host *h, const vfio_model *m, const vfio_selection *sel,
                         const vfio_setup_opts *o, vfio_setup_plan *p, char ***ret_ids)
{
        _cleanup_strv_free_ char **ids = NULL, **by_identity = NULL, **softdeps = NULL;
        _cleanup_free_ char *conf = NULL, *unit = NULL, *ids_joined = NULL;
        int r;

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
                             "Before=sysinit.target display-manager.service\n"
                             "ConditionPathIsDirectory=/sys/bus/pci/devices\n\n"
                             "[Service]\n"
                             "Type=oneshot\n"
                             "RemainAfterExit=yes\n"
                             "ExecStart=%s bind --boot %s\n"
                             "ExecStop=%s unbind %s\n\n"
                             "[Install]\n"
                             "WantedBy=sysinit.target\n",
                             o->vfioctl_path ? o->vfioctl_path : "/usr/bin/vfioctl", args,
                             o->vfioctl_path ? o->vfioctl_path : "/usr/bin/vfioctl", args) < 0)
                        return -ENOMEM;
                r = plan_file(p, BIND_UNIT, TAKE_PTR(unit), 0644, true);
                if (r < 0)
                        return r;
                r = strv_extendf(&p->commands,
                                 "systemctl daemon-reload && systemctl enable vfioctl-bind.service");
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

static int plan_hugepages(const vfio_host *h, const vfio_setup_opts *o, vfio_setup_plan *p)
{
        _cleanup_free_ char *meminfo = NULL, *conf = NULL;
        uint64_t page = 2 * 1024 * 1024, kb;
        const char *s;

        if (!o->hugepages)
                return 0;
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

static int plan_cmdline(const vfio_host *h, const vfio_distro *d, char *const *ids, const vfio_setup_opts *o,
                        vfio_setup_plan *p)
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

int vfio_setup_plan_new(const vfio_host *h, const vfio_model *m, vfio_selection *sel,
                        const vfio_setup_opts *o, vfio_setup_plan **ret)
{
        _cleanup_(vfio_setup_plan_freep) vfio_setup_plan *p = NULL;
        _cleanup_(vfio_distro_freep) vfio_distro *d = NULL;
        _cleanup_strv_free_ char **ids = NULL;
        int r;

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
        r = plan_hugepages(h, o, p);
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
        r = plan_cmdline(h, d, ids, o, p);
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

int vfio_setup_diff(const vfio_host *h, const vfio_setup_plan *p, char **ret)
{
        _cleanup_free_ char *out = strdup("");
        int r;

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < p->n; i++) {
                _cleanup_free_ char *cur = NULL, *d = NULL;

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
        if (!c.path || (e->backup && !c.backup)) {
                free(c.path);
                free(c.backup);
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
        manifest m = {};
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
                        goto fail;
                if (strv_length(w) == 2 && strcmp(w[0], "dir") == 0 && safe_rel_path(w[1])) {
                        e.dir = true;
                        e.path = w[1];
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
                } else {
                        r = log_debug_errno(-EBADMSG, "%s: malformed line '%s'", VFIO_SETUP_MANIFEST, *l);
                        goto fail;
                }
                r = manifest_add(&m, &e);
                if (r < 0)
                        goto fail;
        }
        *ret = m;
        return 0;
fail:
        manifest_done(&m);
        return r;
}

static int manifest_format(const manifest *m, char **ret)
{
        _cleanup_free_ char *s =
                strdup("# vfioctl setup manifest v1: file PATH SHA256 MODE BACKUP | dir PATH\n");

        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < m->n; i++) {
                const entry *e = &m->e[i];

                char owner[32] = "";

                if (!e->dir && (e->uid || e->gid))
                        snprintf(owner, sizeof(owner), ":%u:%u", (unsigned)e->uid, (unsigned)e->gid);
                if (e->dir ? append(&s, "dir %s\n", e->path) < 0
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

int vfio_setup_apply(const vfio_host *h, const vfio_setup_plan *p, char ***log, char **ret_failed_path)
{
        const char *at = NULL; /* what the step that failed worked on, for the tool's message */
        _cleanup_strv_free_ char **created = NULL, **new_backups = NULL, **planned = NULL;
        _cleanup_free_ undo_item *undo = NULL;
        _cleanup_free_ char *old_manifest = NULL;
        manifest m = {};
        bool had_manifest;
        size_t n_undo = 0, n_written = 0; /* files planned to change; files changed so far */
        int r;

        created = calloc(1, sizeof(char *));
        new_backups = calloc(1, sizeof(char *));
        undo = calloc(p->n + 1, sizeof(*undo));
        if (!created || !new_backups || !undo)
                return -ENOMEM;
        r = vfio_hostfile_read(h, VFIO_SETUP_MANIFEST, MANIFEST_MAX, &old_manifest, NULL);
        if (r < 0 && r != -ENOENT)
                return r;
        had_manifest = r >= 0;
        if (had_manifest && (r = manifest_read(h, &m)) < 0)
                return r;

        /* 1. Backups of what will be replaced, and the manifest, before any file changes. */
        for (size_t i = 0; i < p->n; i++) {
                const vfio_setup_file *f = &p->files[i];
                _cleanup_free_ char *cur = NULL, *bpath = NULL, *bdir = NULL;
                size_t len = 0;
                entry e = {}, *known;
                unsigned mode = f->mode;
                uint32_t uid = 0, gid = 0;

                at = f->path;

                r = vfio_hostfile_read(h, f->path, FILE_MAX, &cur, &len);
                if (r < 0 && r != -ENOENT && r != -ENOTDIR)
                        goto rollback;
                if (cur && strcmp(cur, f->content) == 0)
                        continue; /* nothing to change; an earlier run's entry (if any) stays as it is */
                if (cur)
                        (void)file_mode(h, f->path, &mode, &uid, &gid);
                undo[n_undo++] = (undo_item){ .path = f->path,
                                              .old = TAKE_PTR(cur),
                                              .old_len = len,
                                              .mode = mode,
                                              .uid = uid,
                                              .gid = gid };
                known = manifest_find(&m, f->path, false);
                sha256_hex(f->content, strlen(f->content), e.sha);
                if (known) {
                        /* Ours already: keep the backup of the original, not of our own earlier content. */
                        if (!known->prev[0])
                                memcpy(known->prev, known->sha, sizeof(known->sha));
                        memcpy(known->sha, e.sha, sizeof(e.sha));
                        continue;
                }
                e.path = f->path;
                e.mode = undo[n_undo - 1].old ? mode : f->mode;
                e.uid = undo[n_undo - 1].old ? uid : 0;
                e.gid = undo[n_undo - 1].old ? gid : 0;
                if (undo[n_undo - 1].old) {
                        const char *slash;

                        if (asprintf(&bpath, "%s/%s", BACKUP_DIR, f->path) < 0) {
                                r = -ENOMEM;
                                goto rollback;
                        }
                        slash = strrchr(bpath, '/');
                        bdir = strndup(bpath, (size_t)(slash - bpath));
                        if (!bdir) {
                                r = -ENOMEM;
                                goto rollback;
                        }
                        at = bdir;
                        r = vfio_hostfile_mkdir_p(h, bdir, 0700, &created);
                        if (r < 0)
                                goto rollback;
                        /* The backup tree is ours even when a killed earlier run made it. */
                        r = add_own_dirs(&created, bdir);
                        if (r < 0)
                                goto rollback;
                        at = bpath;
                        r = vfio_hostfile_write_atomic(h, bpath, undo[n_undo - 1].old,
                                                       undo[n_undo - 1].old_len, 0600);
                        if (r < 0)
                                goto rollback;
                        r = strv_extend(&new_backups, bpath);
                        if (r < 0)
                                goto rollback;
                        e.backup = bpath;
                }
                r = manifest_add(&m, &e);
                if (r < 0)
                        goto rollback;
        }
        if (n_undo == 0) {
                bool pending = false;

                /* A run killed after its last file but before its final manifest: finish that too. */
                for (size_t i = 0; i < m.n; i++)
                        if (m.e[i].prev[0]) {
                                m.e[i].prev[0] = '\0';
                                pending = true;
                        }
                if (pending && (r = manifest_write(h, &m, NULL)) < 0) {
                        manifest_done(&m);
                        return r;
                }
                if (log)
                        (void)strv_extendf(log, "nothing to change");
                manifest_done(&m);
                return 0;
        }
        /* Directories the files need, recorded in the manifest before they are created so --undo can
         * remove them even when this run is killed right after making them. */
        at = "var/lib/vfioctl";
        r = vfio_hostfile_mkdir_p(h, "var/lib/vfioctl", 0755, &created);
        if (r < 0)
                goto rollback;
        for (size_t i = 0; i < n_undo; i++) {
                _cleanup_free_ char *dir = NULL;
                const char *slash = strrchr(undo[i].path, '/');

                if (!slash)
                        continue;
                dir = strndup(undo[i].path, (size_t)(slash - undo[i].path));
                if (!dir) {
                        r = -ENOMEM;
                        goto rollback;
                }
                r = missing_dirs(h, dir, &planned);
                if (r < 0)
                        goto rollback;
        }
        /* Litter of a run killed before (hidden temp files) goes before the directories are recorded. */
        for (size_t i = 0; i < n_undo; i++)
                sweep_parent(h, undo[i].path);
        STRV_FOREACH(d, created) {
                entry e = { .path = *d, .dir = true };

                strcpy(e.sha, "-");
                if (!manifest_find(&m, *d, true) && (r = manifest_add(&m, &e)) < 0)
                        goto rollback;
        }
        STRV_FOREACH(d, planned) {
                entry e = { .path = *d, .dir = true };

                strcpy(e.sha, "-");
                if (!manifest_find(&m, *d, true) && (r = manifest_add(&m, &e)) < 0)
                        goto rollback;
        }
        at = VFIO_SETUP_MANIFEST;
        r = manifest_write(h, &m, NULL);
        if (r < 0)
                goto rollback;
        STRV_FOREACH(d, planned) {
                at = *d;
                r = vfio_hostfile_mkdir_p(h, *d, 0755, &created);
                if (r < 0)
                        goto rollback;
        }

        /* 2. The files, each atomically. */
        n_written = n_undo;
        for (size_t i = 0; i < n_undo; i++) {
                const vfio_setup_file *f = NULL;

                for (size_t j = 0; j < p->n; j++)
                        if (p->files[j].path == undo[i].path)
                                f = &p->files[j];
                at = f->path;
                r = vfio_hostfile_write_atomic(h, f->path, f->content, strlen(f->content),
                                               undo[i].old ? undo[i].mode : f->mode);
                if (r < 0) {
                        r = log_debug_errno(r, "%s: %s", f->path, strerror(-r));
                        if (log)
                                (void)strv_extendf(log, "FAILED writing /%s: %s", f->path, strerror(-r));
                        n_written =
                                i; /* the failed one is untouched: the atomic write removed its temp file */
                        goto rollback;
                }
                if (log)
                        (void)strv_extendf(log, "%s /%s", undo[i].old ? "updated" : "created", f->path);
        }
        /* Every file written: the manifest loses its in-progress marks. Failing here is harmless (undo
         * accepts either content), so the run still succeeded. */
        for (size_t i = 0; i < m.n; i++)
                m.e[i].prev[0] = '\0';
        (void)manifest_write(h, &m, NULL);
        manifest_done(&m);
        for (size_t i = 0; i < n_undo; i++)
                free(undo[i].old);
        return 0;

rollback:
        if (ret_failed_path && at)
                *ret_failed_path = strdup(at);
        /* Put back every file of this run, then the previous manifest, then the directories we made. */
        for (size_t i = n_written; i-- > 0;) {
                int q;

                if (undo[i].old)
                        q = vfio_hostfile_write_atomic_owned(h, undo[i].path, undo[i].old, undo[i].old_len,
                                                             undo[i].mode, OWNER_UID(undo[i]),
                                                             OWNER_GID(undo[i]));
                else {
                        q = vfio_hostfile_unlink(h, undo[i].path);
                        if (q == -ENOENT || q == -ENOTDIR)
                                q = 0;
                }
                if (log)
                        (void)strv_extendf(log, "rolled back /%s%s", undo[i].path, q < 0 ? " FAILED" : "");
        }
        for (size_t i = 0; i < n_undo; i++)
                free(undo[i].old);
        if (had_manifest)
                (void)vfio_hostfile_write_atomic(h, VFIO_SETUP_MANIFEST, old_manifest, strlen(old_manifest),
                                                 0644);
        else
                (void)vfio_hostfile_unlink(h, VFIO_SETUP_MANIFEST);
        STRV_FOREACH(b, new_backups)
                (void)vfio_hostfile_unlink(h, *b);
        for (size_t i = strv_length(created); i-- > 0;)
                (void)vfio_hostfile_rmdir(h, created[i]);
        manifest_done(&m);
        return r;
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

int vfio_setup_undo(const vfio_host *h, bool force, char ***log)
{
        manifest m = {}, keep = {};
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
        manifest_done(&m);
        manifest_done(&keep);
        return first;
}
