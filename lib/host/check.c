/*
 * vfioctl check: host readiness for VFIO passthrough. Each check reads facts through the host root, says
 * what it saw (evidence, with the file) and, when something is wrong, the exact fix for this distribution.
 * Device-level knowledge (reset bugs, bridges, groups) lives in the quirks table (quirks.c), not here.
 */
#include "vfioctl/check.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "parse-util.h"
#include "strv.h"
#include "vfioctl/account.h"
#include "vfioctl/cpu.h"
#include "vfioctl/distro.h"
#include "vfioctl/firmware.h"
#include "vfioctl/kernel.h"
#include "vfioctl/memory.h"
#include "vfioctl/pciids.h"
#include "vfioctl/selector.h"

#define GiB (UINT64_C(1) << 30)
#define MiB (UINT64_C(1) << 20)
/* libvirt's rule for VFIO guests (qemuDomainGetMemLockLimitBytes): all guest RAM is pinned, plus 1 GiB
 * for the IOMMU page tables and device ROMs/BARs QEMU maps. */
#define MEMLOCK_OVERHEAD GiB
/* With no memlock line the kernel default applies: 8 MiB since Linux 5.16 (64 KiB before). */
#define MEMLOCK_KERNEL_DEFAULT (8 * MiB)

typedef struct ctx {
        const vfio_host *h;
        const vfio_check_options *o;
        vfio_check_report *R;
        vfio_model *m;
        vfio_cpu *cpu;
        vfio_kernel *k;
        vfio_modprobe *mp;
        vfio_memory *mem;
        vfio_firmware *fw;
        vfio_distro *d;
        vfio_account *acct;
        vfio_account *desk; /* [vm] desktop_user, when named */
        vfio_pci_names *names;
} ctx;

const char *vfio_check_status_to_string(vfio_check_status s)
{
        switch (s) {
        case VFIO_CHECK_PASS:
                return "pass";
        case VFIO_CHECK_SKIP:
                return "skip";
        case VFIO_CHECK_WARN:
                return "warn";
        case VFIO_CHECK_FAIL:
                return "fail";
        }
        return "unknown";
}

const char *vfio_check_verdict_to_string(vfio_check_status s)
{
        return s == VFIO_CHECK_FAIL ? "not-ready" : s == VFIO_CHECK_WARN ? "warnings" : "ready";
}

vfio_check_report *vfio_check_report_free(vfio_check_report *r)
{
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n; i++) {
                free(r->checks[i].title);
                free(r->checks[i].evidence);
                free(r->checks[i].fix);
                free(r->checks[i].device);
        }
        free(r->checks);
        vfio_quirk_matches_free(r->quirks);
        strv_free(r->to_pass);
        strv_free(r->pass_why);
        strv_free(r->candidates);
        strv_free(r->problems);
        free(r->user);
        free(r);
        return NULL;
}

const vfio_check *vfio_check_report_find(const vfio_check_report *r, const char *id)
{
        assert(r);

        for (size_t i = 0; i < r->n; i++)
                if (strcmp(r->checks[i].id, id) == 0)
                        return &r->checks[i];
        return NULL;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
        va_list ap;
        char *s;
        int r;

        va_start(ap, f);
        r = vasprintf(&s, f, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}

/* Adds a check; takes evidence and fix (either may be NULL only for fix). Returns -ENOMEM on failure. */
static int add(ctx *c, const char *id, const char *group, vfio_check_status st, const char *title,
               char *evidence, char *fix, const char *device)
{
        vfio_check *n;

        if (!evidence || (device && !*device))
                goto oom;
        n = realloc(c->R->checks, (c->R->n + 1) * sizeof(*n));
        if (!n)
                goto oom;
        c->R->checks = n;
        n[c->R->n] = (vfio_check){ .id = id,
                                   .group = group,
                                   .status = st,
                                   .title = strdup(title),
                                   .evidence = evidence,
                                   .fix = fix,
                                   .device = device ? strdup(device) : NULL };
        if (!n[c->R->n].title || (device && !n[c->R->n].device)) {
                free(n[c->R->n].title);
                free(n[c->R->n].device);
                goto oom;
        }
        c->R->n++;
        return 0;
oom:
        free(evidence);
        free(fix);
        return -ENOMEM;
}

static char *cmdline_fix(ctx *c, const char *args)
{
        return vfio_distro_cmdline_fix(c->d, args);
}

/* before + the distribution's edit for the formatted arguments + after. */
static char *cmdline_fixf(ctx *c, const char *before, const char *after, const char *args_fmt, ...)
        __attribute__((format(printf, 4, 5)));
static char *cmdline_fixf(ctx *c, const char *before, const char *after, const char *args_fmt, ...)
{
        _cleanup_free_ char *args = NULL, *edit = NULL;
        va_list ap;
        int r;

        va_start(ap, args_fmt);
        r = vasprintf(&args, args_fmt, ap);
        va_end(ap);
        if (r < 0)
                return NULL;
        edit = cmdline_fix(c, args);
        return edit ? fmt("%s%s%s", before, edit, after) : NULL;
}

char *vfio_check_expand_fix(const vfio_host *h, const char *fix)
{
        _cleanup_(vfio_distro_freep) vfio_distro *d = NULL;
        const char *open = fix ? strstr(fix, "{cmdline:") : NULL, *close;
        _cleanup_free_ char *args = NULL, *edit = NULL;

        if (!fix)
                return NULL;
        if (!open || !(close = strchr(open, '}')))
                return strdup(fix);
        if (vfio_distro_read(h, &d) < 0)
                return NULL;
        args = strndup(open + 9, (size_t)(close - open - 9));
        edit = args ? vfio_distro_cmdline_fix(d, args) : NULL;
        if (!edit)
                return NULL;
        return fmt("%.*s%s%s", (int)(open - fix), fix, edit, close + 1);
}

/* ---- CPU and KVM ---- */

static int check_cpu(ctx *c)
{
        const vfio_cpu *cpu = c->cpu;
        bool amd;

        if (!cpu)
                return add(c, "cpu.virtualization", "cpu", VFIO_CHECK_WARN, "CPU virtualization extensions",
                           strdup("proc/cpuinfo could not be read"),
                           strdup("check that proc is mounted under the root"), NULL);
        amd = cpu->vendor == VFIO_CPU_VENDOR_AMD;
        if (cpu->vmx || cpu->svm)
                return add(c, "cpu.virtualization", "cpu", VFIO_CHECK_PASS, "CPU virtualization extensions",
                           fmt("proc/cpuinfo: %s flag on %s (%s)",
                               cpu->vmx ? "vmx (Intel VT-x)" : "svm (AMD-V)",
                               cpu->model_name ? cpu->model_name : "?",
                               cpu->vendor_id ? cpu->vendor_id : "?"),
                           NULL, NULL);
        return add(
                c, "cpu.virtualization", "cpu", VFIO_CHECK_FAIL, "CPU virtualization extensions",
                fmt("proc/cpuinfo: the flags of %s (%s) have neither vmx nor svm%s",
                    cpu->model_name ? cpu->model_name : "?", cpu->vendor_id ? cpu->vendor_id : "?",
                    cpu->hypervisor
                            ? "; the 'hypervisor' flag is set: this host is itself a virtual machine without nested virtualization"
                            : ""),
                cpu->hypervisor
                        ? fmt("enable nested virtualization on the outer host (options %s nested=1 in its /etc/modprobe.d/kvm.conf, and -cpu host for this VM)",
                              amd ? "kvm_amd" : "kvm_intel")
                        : fmt("enable %s in the firmware setup (often under CPU or Advanced settings), then power-cycle",
                              amd ? "SVM Mode (AMD-V)" : "Intel Virtualization Technology (VT-x)"),
                NULL);
}

static int check_kvm_module(ctx *c)
{
        const char *mod = c->cpu ? vfio_cpu_kvm_module(c->cpu) : NULL;
        vfio_module_state st;

        if (!mod)
                return add(c, "kvm.module", "cpu", VFIO_CHECK_WARN, "KVM enabled (kvm_intel / kvm_amd)",
                           fmt("unknown CPU vendor '%s' in proc/cpuinfo",
                               c->cpu && c->cpu->vendor_id ? c->cpu->vendor_id : ""),
                           strdup("vfioctl knows Intel and AMD x86-64 hosts only"), NULL);
        st = vfio_kernel_module_state(c->h, c->k, mod);
        if (st == VFIO_MODULE_LOADED || st == VFIO_MODULE_BUILTIN)
                return add(c, "kvm.module", "cpu", VFIO_CHECK_PASS, "KVM enabled (kvm_intel / kvm_amd)",
                           fmt("%s is %s (sys/module/%s)", mod, vfio_module_state_to_string(st), mod), NULL,
                           NULL);
        return add(
                c, "kvm.module", "cpu", VFIO_CHECK_FAIL, "KVM enabled (kvm_intel / kvm_amd)",
                fmt("%s is %s: no sys/module/%s%s%s", mod,
                    st == VFIO_MODULE_MISSING ? "missing from this kernel" : "not loaded", mod,
                    vfio_host_exists(c->h, "sys/module/kvm") > 0 ? ", although sys/module/kvm exists" : "",
                    c->k->have_proc_modules ? "" : ", and proc/modules is absent (no loadable modules)"),
                fmt("run: sudo modprobe %s; if it says 'disabled by bios', enable %s in the firmware setup",
                    mod,
                    strcmp(mod, "kvm_amd") == 0 ? "SVM Mode (AMD-V)"
                                                : "Intel Virtualization Technology (VT-x)"),
                NULL);
}

static int stat_at(ctx *c, const char *path, struct stat *st)
{
        _cleanup_close_ int fd = vfio_host_open_path(c->h, path, O_PATH);

        if (fd < 0)
                return fd;
        return fstat(fd, st) < 0 ? -errno : 0;
}

static char *owner_str(ctx *c, const struct stat *st)
{
        _cleanup_free_ char *u = vfio_account_user_name(c->h, st->st_uid),
                            *g = vfio_account_group_name(c->h, st->st_gid);
        char ubuf[16], gbuf[16];

        snprintf(ubuf, sizeof(ubuf), "%u", (unsigned)st->st_uid);
        snprintf(gbuf, sizeof(gbuf), "%u", (unsigned)st->st_gid);
        return fmt("%s:%s mode %04o", u ? u : ubuf, g ? g : gbuf, (unsigned)(st->st_mode & 07777));
}

/* The fix that gives the VM user read-write access to a device node of this owner/mode. */
static char *access_fix(ctx *c, const struct stat *st, const char *udev_match, const char *rules_file)
{
        _cleanup_free_ char *g = vfio_account_group_name(c->h, st->st_gid);

        if (g && strcmp(g, "root") != 0 && (st->st_mode & 0060) == 0060)
                return fmt(
                        "run: sudo usermod -aG %s %s, then log in again (or restart the session that starts the VM)",
                        g, c->R->user);
        return fmt(
                "create %s containing: %s, GROUP=\"kvm\", MODE=\"0660\"; run: sudo udevadm control --reload-rules && sudo udevadm trigger; then: sudo usermod -aG kvm %s, and log in again",
                rules_file, udev_match, c->R->user);
}

static int check_kvm_device(ctx *c)
{
        struct stat st;
        _cleanup_free_ char *own = NULL;
        int r;

        r = stat_at(c, "dev/kvm", &st);
        if (r < 0)
                return add(c, "kvm.device", "access", VFIO_CHECK_FAIL, "/dev/kvm usable by the VM user",
                           fmt("dev/kvm: %s", r == -ENOENT ? "does not exist" : strerror(-r)),
                           fmt("load KVM (see kvm.module): sudo modprobe %s",
                               c->cpu && vfio_cpu_kvm_module(c->cpu) ? vfio_cpu_kvm_module(c->cpu)
                                                                     : "kvm_intel"),
                           NULL);
        own = owner_str(c, &st);
        if (!own)
                return -ENOMEM;
        if (!c->acct)
                return add(
                        c, "kvm.device", "access", VFIO_CHECK_WARN, "/dev/kvm usable by the VM user",
                        fmt("dev/kvm is %s; user '%s' is not in etc/passwd under the root", own, c->R->user),
                        fmt("name an existing user with --user, or create it: sudo useradd -m -G kvm %s",
                            c->R->user),
                        NULL);
        if (vfio_account_can_rw(c->acct, st.st_uid, st.st_gid, st.st_mode))
                return add(c, "kvm.device", "access", VFIO_CHECK_PASS, "/dev/kvm usable by the VM user",
                           fmt("dev/kvm is %s; user %s (uid %u) can read and write it", own, c->acct->name,
                               (unsigned)c->acct->uid),
                           NULL, NULL);
        return add(c, "kvm.device", "access", VFIO_CHECK_FAIL, "/dev/kvm usable by the VM user",
                   fmt("dev/kvm is %s; user %s (uid %u) cannot read and write it", own, c->acct->name,
                       (unsigned)c->acct->uid),
                   access_fix(c, &st, "KERNEL==\"kvm\"", "/etc/udev/rules.d/65-kvm.rules"), NULL);
}

/* vfioctl start's input relay makes its virtual keyboard and mouse with uinput (opened as root). */
static int check_uinput(ctx *c)
{
        struct stat st;
        int r;

        if (!c->o->input_relay)
                return 0;
        r = stat_at(c, "dev/uinput", &st);
        if (r >= 0)
                return add(
                        c, "input.uinput", "access", VFIO_CHECK_PASS, "uinput for the input relay",
                        fmt("dev/uinput exists: the relay keeps the VM's keyboard and mouse across a replug"),
                        NULL, NULL);
        return add(
                c, "input.uinput", "access", VFIO_CHECK_WARN, "uinput for the input relay",
                fmt("dev/uinput: %s; without it QEMU reads the VM's evdev inputs directly and loses one that is unplugged until the VM restarts",
                    r == -ENOENT ? "does not exist (module uinput not loaded)" : strerror(-r)),
                fmt("sudo modprobe uinput; load it at every boot: sudo vfioctl setup --vm NAME, or echo uinput | sudo tee /etc/modules-load.d/uinput.conf"),
                NULL);
}

/* ---- IOMMU ---- */

/* AMD-Vi or Intel VT-d: by the units the kernel registered, else the ACPI table, else the CPU vendor. */
static bool iommu_is_amd(const ctx *c)
{
        STRV_FOREACH(u, c->m->iommu->units) {
                if (strncmp(*u, "dmar", 4) == 0)
                        return false;
                if (strncmp(*u, "ivhd", 4) == 0)
                        return true;
        }
        if (vfio_firmware_has_acpi_table(c->fw, "DMAR"))
                return false;
        if (vfio_firmware_has_acpi_table(c->fw, "IVRS"))
                return true;
        return c->cpu && c->cpu->vendor == VFIO_CPU_VENDOR_AMD;
}

static int check_iommu_acpi(ctx *c)
{
        const char *want = iommu_is_amd(c) ? "IVRS" : "DMAR";
        bool dmar = vfio_firmware_has_acpi_table(c->fw, "DMAR"),
             ivrs = vfio_firmware_has_acpi_table(c->fw, "IVRS");
        _cleanup_free_ char *list = NULL;

        if (!c->fw->have_acpi_tables && strv_length(c->m->iommu->units) > 0) {
                _cleanup_free_ char *u = strv_join(c->m->iommu->units, ", ");

                return add(
                        c, "iommu.acpi", "iommu", VFIO_CHECK_PASS,
                        "Firmware describes an IOMMU (ACPI DMAR/IVRS)",
                        fmt("sys/firmware/acpi/tables is not readable, but the kernel registered %s, which it only does from the firmware's %s table",
                            u ? u : "?", want),
                        NULL, NULL);
        }
        if (!c->fw->have_acpi_tables)
                return add(
                        c, "iommu.acpi", "iommu", VFIO_CHECK_WARN,
                        "Firmware describes an IOMMU (ACPI DMAR/IVRS)",
                        strdup("sys/firmware/acpi/tables is not readable: cannot tell whether the firmware describes an IOMMU"),
                        strdup("run vfioctl check on the host itself (or capture sys/firmware/acpi/tables)"),
                        NULL);
        if (dmar || ivrs)
                return add(c, "iommu.acpi", "iommu", VFIO_CHECK_PASS,
                           "Firmware describes an IOMMU (ACPI DMAR/IVRS)",
                           fmt("sys/firmware/acpi/tables/%s present (%s)", dmar ? "DMAR" : "IVRS",
                               dmar ? "Intel VT-d" : "AMD-Vi"),
                           NULL, NULL);
        list = strv_join(c->fw->acpi_tables, " ");
        return add(
                c, "iommu.acpi", "iommu", VFIO_CHECK_FAIL, "Firmware describes an IOMMU (ACPI DMAR/IVRS)",
                fmt("sys/firmware/acpi/tables has %s; no DMAR (Intel VT-d) or IVRS (AMD-Vi)",
                    list && *list ? list : "no tables"),
                fmt("enable %s in the firmware setup (the option is often called '%s'), then power-cycle; without the %s table the kernel cannot use the IOMMU",
                    strcmp(want, "IVRS") == 0 ? "the IOMMU (AMD-Vi)" : "VT-d",
                    strcmp(want, "IVRS") == 0 ? "IOMMU' or 'AMD-Vi"
                                              : "VT-d' or 'Intel Virtualization Technology for Directed I/O",
                    want),
                NULL);
}

static int check_iommu_cmdline(ctx *c)
{
        bool amd = iommu_is_amd(c);
        const char *key = amd ? "amd_iommu" : "intel_iommu";
        const char *v = vfio_kernel_cmdline_value(c->k, key),
                   *iommu = vfio_kernel_cmdline_value(c->k, "iommu");
        bool on = v && strstr(v, "on"), pt = iommu && strcmp(iommu, "pt") == 0;
        bool groups = vfio_iommu_enabled(c->m->iommu);
        _cleanup_free_ char *args = NULL;

        if ((v && strstr(v, "off")) || (iommu && strcmp(iommu, "off") == 0))
                return add(
                        c, "iommu.cmdline", "iommu", VFIO_CHECK_FAIL,
                        "Kernel command line enables the IOMMU",
                        fmt("proc/cmdline has %s=%s: the IOMMU is switched off",
                            v && strstr(v, "off") ? key : "iommu", v && strstr(v, "off") ? v : iommu),
                        fmt("remove '%s=%s' from the kernel command line (where it was added: /etc/default/grub, /etc/kernel/cmdline or kernelstub), and add '%s=on iommu=pt'",
                            v && strstr(v, "off") ? key : "iommu", v && strstr(v, "off") ? v : iommu, key),
                        NULL);
        if (on || groups)
                return add(
                        c, "iommu.cmdline", "iommu", VFIO_CHECK_PASS,
                        "Kernel command line enables the IOMMU",
                        fmt("proc/cmdline: %s%s%s%s", on ? key : "",
                            on ? "=on"
                               : (amd ? "amd_iommu not set (AMD-Vi is on by default)"
                                      : "intel_iommu not set, IOMMU on by the kernel's default (CONFIG_INTEL_IOMMU_DEFAULT_ON)"),
                            pt ? ", iommu=pt" : "",
                            pt ? "" : "; iommu=pt is recommended: host devices then skip DMA translation"),
                        NULL, NULL);
        args = fmt("%s=on iommu=pt", key);
        return add(c, "iommu.cmdline", "iommu", VFIO_CHECK_FAIL, "Kernel command line enables the IOMMU",
                   fmt("proc/cmdline has no %s=on%s", key, pt ? "" : " and no iommu=pt"),
                   args ? cmdline_fix(c, args) : NULL, NULL);
}

static int check_iommu_groups(ctx *c)
{
        const vfio_iommu *i = c->m->iommu;
        _cleanup_free_ char *units = NULL, *args = NULL, *fix = NULL;
        bool amd = iommu_is_amd(c);

        if (vfio_iommu_enabled(i)) {
                units = strv_join(i->units, ", ");
                return add(c, "iommu.groups", "iommu", VFIO_CHECK_PASS, "IOMMU active with groups",
                           fmt("sys/kernel/iommu_groups holds %zu groups; sys/class/iommu: %s", i->n_groups,
                               units && *units ? units : "(no units)"),
                           NULL, NULL);
        }
        args = fmt("%s=on iommu=pt", amd ? "amd_iommu" : "intel_iommu");
        fix = args ? cmdline_fix(c, args) : NULL;
        return add(
                c, "iommu.groups", "iommu", VFIO_CHECK_FAIL, "IOMMU active with groups",
                fmt("sys/class/iommu has %s and sys/kernel/iommu_groups holds no groups: the kernel runs without an IOMMU, so no device can be passed through",
                    strv_length(i->units) ? "units but" : "no IOMMU units"),
                fix ? fmt("enable %s in the firmware setup; then %s", amd ? "the IOMMU (AMD-Vi)" : "VT-d",
                          fix)
                    : NULL,
                NULL);
}

static int check_interrupt_remapping(ctx *c)
{
        const vfio_iommu *i = c->m->iommu;
        _cleanup_strv_free_ char **without = calloc(1, sizeof(char *)), **with = calloc(1, sizeof(char *));
        _cleanup_free_ char *param = NULL, *jw = NULL, *jwo = NULL;
        const char *intremap = vfio_kernel_cmdline_value(c->k, "intremap");
        bool unsafe_param, unsafe_conf = c->mp->allow_unsafe_interrupts, amd_units = false;
        const char *title = "Interrupt remapping (or the unsafe-interrupts fallback)";
        const char *risk =
                "without interrupt remapping a guest can make its device write MSI messages the host takes as arbitrary interrupts (interrupt injection into the host); allowing it is only acceptable when the guest is trusted";

        if (!without || !with)
                return -ENOMEM;
        if (strv_length(i->units) == 0)
                return add(c, "iommu.interrupt-remapping", "iommu", VFIO_CHECK_SKIP, title,
                           strdup("no IOMMU units in sys/class/iommu"), NULL, NULL);
        STRV_FOREACH(u, i->units) {
                _cleanup_free_ char *path = NULL, *s = NULL;
                uint64_t ecap;

                if (asprintf(&path, "sys/class/iommu/%s/intel-iommu/ecap", *u) < 0)
                        return -ENOMEM;
                if (vfio_host_read_attr(c->h, path, 64, &s) < 0) {
                        free(path);
                        path = NULL;
                        if (asprintf(&path, "sys/class/iommu/%s/amd-iommu", *u) < 0)
                                return -ENOMEM;
                        /* AMD-Vi always includes interrupt remapping (AMD IOMMU spec 2.2.5); only
                         * intremap=off or amd_iommu_intr=... turns it off. */
                        if (vfio_host_exists(c->h, path) > 0) {
                                amd_units = true;
                                if (strv_extend(&with, *u) < 0)
                                        return -ENOMEM;
                        }
                        continue;
                }
                /* ECAP bit 3 is IR: Interrupt Remapping support (VT-d spec, 11.4.3 Extended Capability). */
                if (parse_uint(s, 16, UINT64_MAX, &ecap) < 0)
                        continue;
                if (strv_extend((ecap >> 3) & 1 ? &with : &without, *u) < 0)
                        return -ENOMEM;
        }
        if (intremap && strcmp(intremap, "off") == 0) {
                STRV_FOREACH(u, with)
                        if (strv_extend(&without, *u) < 0)
                                return -ENOMEM;
                strv_free(with);
                with = calloc(1, sizeof(char *));
                if (!with)
                        return -ENOMEM;
        }
        if (strv_length(with) == 0 && strv_length(without) == 0)
                return add(c, "iommu.interrupt-remapping", "iommu", VFIO_CHECK_WARN, title,
                           strdup("sys/class/iommu/*/intel-iommu/ecap unreadable: cannot tell"), NULL, NULL);
        jw = strv_join(with, ", ");
        jwo = strv_join(without, ", ");
        if (strv_length(without) == 0)
                return add(
                        c, "iommu.interrupt-remapping", "iommu", VFIO_CHECK_PASS, title,
                        amd_units ? fmt("%s: AMD-Vi with interrupt remapping", jw)
                                  : fmt("%s: ECAP bit 3 (IR) set in sys/class/iommu/*/intel-iommu/ecap", jw),
                        NULL, NULL);
        (void)vfio_host_read_attr(c->h, "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", 16,
                                  &param);
        unsafe_param = param && (strcmp(param, "Y") == 0 || strcmp(param, "1") == 0);
        if (unsafe_param || unsafe_conf)
                return add(
                        c, "iommu.interrupt-remapping", "iommu", VFIO_CHECK_WARN, title,
                        fmt("%s: no interrupt remapping%s; the fallback is on (%s): %s", jwo,
                            intremap && strcmp(intremap, "off") == 0 ? " (intremap=off on the command line)"
                                                                     : "",
                            unsafe_param
                                    ? "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts=Y"
                                    : "options vfio_iommu_type1 allow_unsafe_interrupts=1 in modprobe.d",
                            risk),
                        strdup("enable interrupt remapping (firmware: x2APIC / 'Interrupt Remapping' under VT-d; remove intremap=off) and then drop allow_unsafe_interrupts"),
                        NULL);
        return add(
                c, "iommu.interrupt-remapping", "iommu", VFIO_CHECK_FAIL, title,
                fmt("%s: ECAP bit 3 (IR) clear%s, and vfio_iommu_type1 allow_unsafe_interrupts is %s: VFIO refuses to assign devices ('No interrupt remapping support')",
                    jwo, intremap && strcmp(intremap, "off") == 0 ? " or intremap=off" : "",
                    param ? param : "unset"),
                fmt("enable interrupt remapping in the firmware setup (x2APIC / 'Interrupt Remapping') and drop any intremap=off; failing that, as a fallback, write /etc/modprobe.d/vfio-unsafe.conf with 'options vfio_iommu_type1 allow_unsafe_interrupts=1' and run: sudo %s. Risk: %s",
                    vfio_distro_initramfs_cmd(c->d), risk),
                NULL);
}

/* ---- VFIO ---- */

static const char *const vfio_modules[] = { "vfio", "vfio_iommu_type1", "vfio_pci" };

/* A file under the root that loads module early (modules-load.d, initramfs configuration), or NULL. */
static char *early_load_config(ctx *c, const char *module)
{
        static const char *const files[] = { "etc/modules", "etc/initramfs-tools/modules",
                                             "etc/mkinitcpio.conf" };
        static const char *const dirs[] = { "etc/modules-load.d", "etc/dracut.conf.d",
                                            "etc/mkinitcpio.conf.d" };
        _cleanup_free_ char *dash = strdup(module);
        const char *pre = vfio_kernel_cmdline_value(c->k, "rd.driver.pre");

        if (!dash)
                return NULL;
        /* dracut loads rd.driver.pre= modules first thing in the initramfs (dracut.cmdline(7)). */
        for (char *p = dash; *p; p++)
                if (*p == '_')
                        *p = '-';
        if (pre && (strstr(pre, module) || strstr(pre, dash) || strstr(pre, "vfio")))
                return strdup("proc/cmdline rd.driver.pre=");
        for (size_t i = 0; i < ELEMENTSOF(files) + ELEMENTSOF(dirs); i++) {
                _cleanup_strv_free_ char **names = NULL;

                if (i < ELEMENTSOF(files)) {
                        names = calloc(2, sizeof(char *));
                        if (!names || !(names[0] = strdup(files[i])))
                                return NULL;
                } else {
                        _cleanup_strv_free_ char **l = NULL;

                        if (vfio_host_list_dir(c->h, dirs[i - ELEMENTSOF(files)], 256, &l) < 0)
                                continue;
                        STRV_FOREACH(n, l) {
                                char *p = fmt("%s/%s", dirs[i - ELEMENTSOF(files)], *n);

                                if (!p || strv_push(&names, p) < 0) {
                                        free(p);
                                        return NULL;
                                }
                        }
                }
                STRV_FOREACH(f, names) {
                        _cleanup_free_ char *text = NULL;

                        if (vfio_host_read_attr(c->h, *f, 1u << 20, &text) < 0)
                                continue;
                        for (char *line = text, *next; line && *line; line = next) {
                                next = strchr(line, '\n');
                                if (next)
                                        *next++ = 0;
                                line += strspn(line, " \t");
                                if (*line == '#')
                                        continue;
                                if (strstr(line, module) || strstr(line, dash))
                                        return strdup(*f);
                        }
                }
        }
        return NULL;
}

static int check_vfio_modules(ctx *c)
{
        _cleanup_strv_free_ char **parts = NULL, **missing = NULL, **unknown = NULL, **notloaded = NULL;
        _cleanup_free_ char *j = NULL;
        const char *title = "VFIO modules present and loaded early";
        bool early = true;

        for (size_t i = 0; i < ELEMENTSOF(vfio_modules); i++) {
                vfio_module_state st = vfio_kernel_module_state(c->h, c->k, vfio_modules[i]);
                _cleanup_free_ char *where = NULL;
                char *s;

                if (st == VFIO_MODULE_AVAILABLE) {
                        where = early_load_config(c, vfio_modules[i]);
                        if (!where)
                                early = false;
                }
                s = fmt("%s %s%s%s%s", vfio_modules[i], vfio_module_state_to_string(st),
                        where ? " (loaded early by " : "", where ? where : "", where ? ")" : "");
                if (!s || strv_push(&parts, s) < 0) {
                        free(s);
                        return -ENOMEM;
                }
                if ((st == VFIO_MODULE_MISSING && strv_extend(&missing, vfio_modules[i]) < 0) ||
                    (st == VFIO_MODULE_UNKNOWN && strv_extend(&unknown, vfio_modules[i]) < 0) ||
                    (st == VFIO_MODULE_AVAILABLE && !where && strv_extend(&notloaded, vfio_modules[i]) < 0))
                        return -ENOMEM;
        }
        j = strv_join(parts, ", ");
        if (!j)
                return -ENOMEM;
        if (strv_length(missing))
                return add(
                        c, "vfio.modules", "vfio", VFIO_CHECK_FAIL, title,
                        fmt("%s (sys/module, proc/modules, lib/modules/%s/modules.builtin and modules.dep)",
                            j, c->k->release ? c->k->release : "?"),
                        strdup("this kernel has no VFIO (CONFIG_VFIO, CONFIG_VFIO_PCI): boot the distribution's standard kernel, or rebuild with CONFIG_VFIO_PCI=m"),
                        NULL);
        if (strv_length(unknown))
                return add(c, "vfio.modules", "vfio", VFIO_CHECK_WARN, title,
                           fmt("%s: lib/modules/%s is not under the root to tell", j,
                               c->k->release ? c->k->release : "?"),
                           strdup("run vfioctl check on the host itself"), NULL);
        if (!early) {
                _cleanup_free_ char *mods = strv_join(notloaded, " ");

                return add(
                        c, "vfio.modules", "vfio", VFIO_CHECK_WARN, title,
                        fmt("%s: not loaded and not configured to load early, so a GPU driver may claim the card first",
                            j),
                        mods ? vfio_distro_early_modules_fix(c->d, mods) : NULL, NULL);
        }
        return add(c, "vfio.modules", "vfio", VFIO_CHECK_PASS, title, TAKE_PTR(j), NULL, NULL);
}

static const char *const *host_gpu_drivers(const vfio_pci_dev *d)
{
        static const char *const nvidia[] = { "nouveau", "nvidia", NULL };
        static const char *const amd[] = { "amdgpu", "radeon", NULL };

        if (!vfio_pci_dev_is_display(d))
                return NULL;
        return d->vendor == 0x10de ? nvidia : d->vendor == 0x1002 ? amd : NULL;
}

/*
 * Whether a softdep for this GPU driver matters here: it is bound to the device, or this kernel has it as
 * a module (loaded or in modules.dep). Built-in drivers bind before any module, so no softdep helps them.
 * When lib/modules is not there to tell, every driver of the vendor counts unless the device is already
 * bound to one of them (then that one is the one installed).
 */
static bool gpu_driver_relevant(ctx *c, const vfio_pci_dev *d, const char *drv)
{
        _cleanup_free_ char *bound = d->driver ? strdup(d->driver) : NULL;
        vfio_module_state st = vfio_kernel_module_state(c->h, c->k, drv);
        bool bound_in_list = false;

        vfio_module_name_normalize(bound);
        if (bound && strcmp(bound, drv) == 0)
                return true;
        if (st == VFIO_MODULE_LOADED || st == VFIO_MODULE_AVAILABLE)
                return true;
        if (st != VFIO_MODULE_UNKNOWN)
                return false;
        for (const char *const *x = host_gpu_drivers(d); bound && x && *x; x++)
                if (strcmp(*x, bound) == 0)
                        bound_in_list = true;
        return !bound_in_list;
}

static char *id_str(const vfio_pci_dev *d)
{
        return fmt("%04x:%04x", (unsigned)(d->vendor & 0xffff), (unsigned)(d->device & 0xffff));
}

static bool ids_configured(ctx *c, const char *id)
{
        _cleanup_strv_free_ char **cl = NULL;
        const char *v = vfio_kernel_cmdline_value(c->k, "vfio-pci.ids");

        if (!v)
                v = vfio_kernel_cmdline_value(c->k, "vfio_pci.ids");
        if (v && strv_split(v, ",", &cl) >= 0 && strv_contains(cl, id))
                return true;
        return strv_contains(c->mp->vfio_pci_ids, id);
}

/* "softdep a pre: vfio-pci' and 'softdep b pre: vfio-pci" (quoted by the caller), "" for none. */
static char *softdep_lines(char *const *drivers)
{
        _cleanup_strv_free_ char **lines = NULL;

        STRV_FOREACH(drv, drivers) {
                char *s = fmt("softdep %s pre: vfio-pci", *drv);

                if (!s || strv_push(&lines, s) < 0) {
                        free(s);
                        return NULL;
                }
        }
        return lines ? strv_join(lines, "' and '") : strdup("");
}

/* Another device with the same vendor:device that is not passed: 'vfio-pci ids=' would take it too (seed
 * 000's twin cards; a boot GPU identical to the guest GPU; on-board audio with the HDMI function's IDs). */
static const vfio_pci_dev *host_twin(ctx *c, const vfio_pci_dev *d)
{
        for (size_t i = 0; i < c->m->pci->n; i++) {
                const vfio_pci_dev *o = c->m->pci->devs[i];

                if (o != d && o->vendor == d->vendor && o->device == d->device &&
                    !strv_contains(c->R->to_pass, o->name))
                        return o;
        }
        return NULL;
}

/* What 'vfioctl setup' writes to bind devices by identity at boot, and the link 'systemctl enable' makes. */
#define BIND_UNIT       "etc/systemd/system/vfioctl-bind.service"
#define BIND_UNIT_WANTS "etc/systemd/system/sysinit.target.wants/vfioctl-bind.service"

/* The devices the boot-time bind unit takes: each selector of its ExecStart= resolved on this host. */
static int boot_unit_devices(ctx *c, char ***ret)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_strv_free_ char **lines = NULL, **devs = calloc(1, sizeof(char *));
        int r;

        if (!devs)
                return -ENOMEM;
        r = vfio_host_read_attr(c->h, BIND_UNIT, 64u << 10, &text);
        if (r == -ENOMEM)
                return r;
        if (r >= 0 && strv_split(text, "\n", &lines) < 0)
                return -ENOMEM;
        STRV_FOREACH(l, lines) {
                _cleanup_strv_free_ char **w = NULL;
                bool after_bind = false;

                if (strncmp(*l, "ExecStart=", 10) != 0)
                        continue;
                if (strv_split(*l + 10, " \t", &w) < 0)
                        return -ENOMEM;
                STRV_FOREACH(x, w) {
                        _cleanup_(vfio_selection_freep) vfio_selection *sel = NULL;
                        char *one[] = { *x, NULL };

                        if (strcmp(*x, "bind") == 0) {
                                after_bind = true;
                                continue;
                        }
                        if (!after_bind || **x == '-')
                                continue;
                        r = vfio_selection_resolve(c->h, c->m, NULL, one, VFIO_SELECT_FUNCTION_ONLY, &sel);
                        if (r == -ENOMEM)
                                return r;
                        if (r >= 0 && sel->n > 0 && !strv_contains(devs, sel->items[0].name) &&
                            strv_extend(&devs, sel->items[0].name) < 0)
                                return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(devs);
        return 0;
}

/*
 * Early binding when a device to pass has a twin that stays with the host: only a binding by identity
 * (vfioctl-bind.service, as setup writes it) takes the right one; ids= there, in modprobe.d or on the
 * command line, takes the twin too and is reported as such.
 */
static int check_twins_binding(ctx *c, const char *title, char **twins, char **claimed, char **twin_devs,
                               char **twin_missing, char **identities, bool unit_enabled, bool unit_exists,
                               char **missing_ids, char **missing_dep, bool builtin)
{
        _cleanup_free_ char *jt = strv_join(twins, ", "), *jc = strv_join(claimed, ","),
                            *jdevs = strv_join(c->R->to_pass, " "), *jid = strv_join(identities, " "),
                            *jmi = strv_join(missing_ids, ","), *jmd = strv_join(missing_dep, ", "),
                            *jtd = strv_join(twin_devs, " "), *file = NULL, *evidence = NULL, *fix = NULL;
        _cleanup_strv_free_ char **ev = NULL, **fx = NULL;
        const char *where = c->mp->vfio_pci_ids_where;
        int r = 0;

        if (!jt || !jc || !jdevs || !jid || !jmi || !jmd || !jtd)
                return -ENOMEM;
        if (strv_length(twin_missing) == 0 && strv_length(claimed) == 0 && strv_length(missing_ids) == 0 &&
            (builtin || strv_length(missing_dep) == 0))
                return add(
                        c, "vfio.early-binding", "vfio", VFIO_CHECK_PASS, title,
                        fmt("%s bound at boot by identity (etc/systemd/system/vfioctl-bind.service, enabled); their twins stay with the host: %s",
                            jtd, jt),
                        NULL, NULL);
        if (strv_extendf(&ev, "twins stay with the host (%s): 'vfio-pci ids=' cannot tell them apart", jt) <
            0)
                return -ENOMEM;
        if (strv_length(twin_missing) > 0)
                r = strv_extendf(
                        &ev, "%s",
                        !unit_exists
                                ? "no boot-time binding by identity (etc/systemd/system/vfioctl-bind.service)"
                        : !unit_enabled ? "vfioctl-bind.service is not enabled"
                                        : "etc/systemd/system/vfioctl-bind.service does not take them all");
        /* Name the host device each claimed ID would take, so the reader sees what the old advice costs. */
        STRV_FOREACH(id, claimed)
                STRV_FOREACH(t, twins)
                        if (r >= 0 && strncmp(*t, *id, strlen(*id)) == 0 &&
                            strncmp(*t + strlen(*id), " is also ", 9) == 0)
                                r = strv_extendf(&ev, "%s claims %s, which %s has too",
                                                 where ? where : "vfio-pci.ids= on the kernel command line",
                                                 *id, *t + strlen(*id) + 9);
        if (r >= 0 && strv_length(missing_ids) > 0)
                r = strv_extendf(&ev, "no 'options vfio-pci ids=' for %s", jmi);
        if (r >= 0 && !builtin && strv_length(missing_dep) > 0)
                r = strv_extendf(&ev, "no 'softdep X pre: vfio-pci' for %s", jmd);
        if (r < 0 || !(evidence = strv_join(ev, "; ")))
                return -ENOMEM;

        if (strv_length(claimed) > 0) {
                if (where) {
                        file = strndup(where, strcspn(where, ":"));
                        if (!file)
                                return -ENOMEM;
                        r = strv_extendf(&fx, "remove %s from 'options vfio-pci ids=' in /%s", jc, file);
                } else
                        r = strv_extendf(&fx, "remove %s from vfio-pci.ids= on the kernel command line", jc);
                if (r < 0)
                        return -ENOMEM;
        }
        if (strv_length(twin_missing) > 0 && unit_exists && !unit_enabled)
                r = strv_extendf(
                        &fx,
                        "run: sudo systemctl enable vfioctl-bind.service (it binds %s by identity at boot)",
                        jid);
        else if (strv_length(twin_missing) > 0 || strv_length(missing_ids) > 0 ||
                 (!builtin && strv_length(missing_dep) > 0))
                r = strv_extendf(
                        &fx,
                        "bind by identity at boot, as setup does: sudo vfioctl setup %s writes /etc/systemd/system/vfioctl-bind.service (ExecStart=/usr/bin/vfioctl bind --boot %s)%s, then run: sudo systemctl enable vfioctl-bind.service and reboot",
                        jdevs, jid,
                        strv_length(missing_ids) || (!builtin && strv_length(missing_dep))
                                ? " and /etc/modprobe.d/vfioctl.conf for the rest"
                                : "");
        if (r < 0 || !(fix = strv_join(fx, "; then ")))
                return -ENOMEM;
        return add(c, "vfio.early-binding", "vfio", VFIO_CHECK_WARN, title, TAKE_PTR(evidence),
                   TAKE_PTR(fix), NULL);
}

static int check_vfio_softdep(ctx *c)
{
        _cleanup_strv_free_ char **ids = calloc(1, sizeof(char *)),
                                 **missing_ids = calloc(1, sizeof(char *)),
                                 **missing_dep = calloc(1, sizeof(char *)),
                                 **twins = calloc(1, sizeof(char *)),
                                 **twin_ids_claimed = calloc(1, sizeof(char *)),
                                 **twin_devs = calloc(1, sizeof(char *)),
                                 **twin_missing = calloc(1, sizeof(char *)),
                                 **identities = calloc(1, sizeof(char *)), **unit_devs = NULL;
        _cleanup_free_ char *jids = NULL, *jmi = NULL, *jmd = NULL, *conf = NULL, *deps = NULL,
                            *jpass = NULL;
        const char *title = "vfio-pci claims the devices before the GPU drivers";
        vfio_module_state st = vfio_kernel_module_state(c->h, c->k, "vfio_pci");
        bool builtin = st == VFIO_MODULE_BUILTIN, unit_enabled;
        int r;

        if (!ids || !missing_ids || !missing_dep || !twins || !twin_ids_claimed || !twin_devs ||
            !twin_missing || !identities)
                return -ENOMEM;
        if (strv_length(c->R->to_pass) == 0)
                return add(c, "vfio.early-binding", "vfio", VFIO_CHECK_SKIP, title,
                           strdup("no device to pass"), NULL, NULL);
        r = boot_unit_devices(c, &unit_devs);
        if (r < 0)
                return r;
        r = vfio_host_exists(c->h, BIND_UNIT_WANTS);
        unit_enabled = r > 0;
        STRV_FOREACH(a, c->R->to_pass) {
                const vfio_pci_dev *d = vfio_pci_list_find(c->m->pci, *a);
                const vfio_pci_dev *twin;
                _cleanup_free_ char *id = NULL;

                if (!d || !(id = id_str(d)))
                        continue;
                twin = host_twin(c, d);
                if (twin) {
                        /* ids= cannot tell the twins apart: only a binding by identity may take this one. */
                        vfio_identity ident;
                        char *s;

                        if (strv_extendf(&twins, "%s is also %s", id, twin->name) < 0 ||
                            strv_extend(&twin_devs, d->name) < 0)
                                return -ENOMEM;
                        if (ids_configured(c, id) && !strv_contains(twin_ids_claimed, id) &&
                            strv_extend(&twin_ids_claimed, id) < 0)
                                return -ENOMEM;
                        if (!strv_contains(unit_devs, d->name) || !unit_enabled) {
                                if (strv_extend(&twin_missing, d->name) < 0)
                                        return -ENOMEM;
                        }
                        if (vfio_identity_of(c->h, d, &ident) >= 0) {
                                s = vfio_identity_format(&ident);
                                vfio_identity_done(&ident);
                                if (!s || strv_push(&identities, s) < 0) {
                                        free(s);
                                        return -ENOMEM;
                                }
                        }
                } else {
                        if (!strv_contains(ids, id) && strv_extend(&ids, id) < 0)
                                return -ENOMEM;
                        if (!ids_configured(c, id) && !strv_contains(missing_ids, id) &&
                            strv_extend(&missing_ids, id) < 0)
                                return -ENOMEM;
                }
                for (const char *const *drv = host_gpu_drivers(d); drv && *drv && !builtin; drv++)
                        if (gpu_driver_relevant(c, d, *drv) &&
                            !vfio_modprobe_find_softdep(c->mp, *drv, "vfio_pci") &&
                            !strv_contains(missing_dep, *drv) && strv_extend(&missing_dep, *drv) < 0)
                                return -ENOMEM;
        }
        jids = strv_join(ids, ",");
        jpass = strv_join(c->R->to_pass, " ");
        jmi = strv_join(missing_ids, ",");
        jmd = strv_join(missing_dep, ", ");
        if (!jids || !jmi || !jmd || !jpass)
                return -ENOMEM;
        if (strv_length(twins) > 0)
                return check_twins_binding(c, title, twins, twin_ids_claimed, twin_devs, twin_missing,
                                           identities, unit_enabled, strv_length(unit_devs) > 0, missing_ids,
                                           missing_dep, builtin);
        if (!strv_length(missing_ids) && !strv_length(missing_dep))
                return add(c, "vfio.early-binding", "vfio", VFIO_CHECK_PASS, title,
                           fmt("vfio-pci ids %s configured (%s)%s", jids,
                               c->mp->vfio_pci_ids_where ? c->mp->vfio_pci_ids_where : "kernel command line",
                               builtin ? "; vfio-pci is built in, so it binds before any GPU module"
                                       : "; softdeps order vfio-pci before the GPU drivers"),
                           NULL, NULL);
        if (builtin)
                return add(c, "vfio.early-binding", "vfio", VFIO_CHECK_WARN, title,
                           fmt("vfio-pci is built in, but the command line has no vfio-pci.ids for %s", jmi),
                           cmdline_fixf(c, "", "", "vfio-pci.ids=%s", jids), NULL);
        deps = softdep_lines(missing_dep);
        if (!deps)
                return -ENOMEM;
        return add(
                c, "vfio.early-binding", "vfio", VFIO_CHECK_WARN, title,
                fmt("%s%s%s%s%s (read: %s)",
                    strv_length(missing_ids) ? "no 'options vfio-pci ids=' for " : "",
                    strv_length(missing_ids) ? jmi : "",
                    strv_length(missing_ids) && strv_length(missing_dep) ? "; " : "",
                    strv_length(missing_dep) ? "no 'softdep X pre: vfio-pci' for " : "", jmd,
                    strv_length(c->mp->files) ? (conf = strv_join(c->mp->files, ", "))
                                              : "no modprobe.d files"),
                fmt("write /etc/modprobe.d/vfio.conf with the lines 'options vfio-pci ids=%s'%s%s%s, then run: sudo %s and reboot (or let vfioctl write it: sudo vfioctl setup %s)",
                    jids, *deps ? " and '" : "", deps, *deps ? "'" : "", vfio_distro_initramfs_cmd(c->d),
                    jpass),
                NULL);
}

static int check_drivers(ctx *c)
{
        const char *title = "Driver holding each device to pass";
        int r;

        if (strv_length(c->R->to_pass) == 0)
                return add(
                        c, "vfio.driver", "vfio", VFIO_CHECK_SKIP, title,
                        strdup("no device to pass: none is on vfio-pci or pci-stub or named in vfio-pci.ids; name them with --pass"),
                        NULL, NULL);
        STRV_FOREACH(a, c->R->to_pass) {
                const vfio_pci_dev *d = vfio_pci_list_find(c->m->pci, *a);
                _cleanup_free_ char *id = NULL;

                if (!d)
                        continue;
                id = id_str(d);
                if (!id)
                        return -ENOMEM;
                if (d->driver && strcmp(d->driver, "vfio-pci") == 0)
                        r = add(c, "vfio.driver", "vfio", VFIO_CHECK_PASS, title,
                                fmt("%s [%s] is bound to vfio-pci", d->name, id), NULL, d->name);
                else if (!d->driver)
                        r = add(c, "vfio.driver", "vfio", VFIO_CHECK_PASS, title,
                                fmt("%s [%s] has no driver: vfio-pci can take it when the VM starts",
                                    d->name, id),
                                NULL, d->name);
                else
                        r = add(c, "vfio.driver", "vfio", VFIO_CHECK_WARN, title,
                                fmt("%s [%s] is held by %s%s", d->name, id, d->driver,
                                    strcmp(d->driver, "pci-stub") == 0
                                            ? " (a placeholder: QEMU's vfio-pci needs the vfio-pci driver)"
                                            : ", a host driver"),
                                host_twin(c, d)
                                        ? fmt("bind it now with: vfioctl bind %s; to keep it off the host driver at boot see vfio.early-binding (by identity: %s has a twin on the host)",
                                              d->name, id)
                                        : fmt("bind it now with: vfioctl bind %s; to keep it off the host driver at boot see vfio.early-binding (options vfio-pci ids=%s)",
                                              d->name, id),
                                d->name);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int check_vfio_devices(ctx *c)
{
        const char *title = "/dev/vfio nodes usable by the VM user";
        _cleanup_strv_free_ char **groups = calloc(1, sizeof(char *)), **bad = calloc(1, sizeof(char *)),
                                 **absent = calloc(1, sizeof(char *)), **ok = calloc(1, sizeof(char *));
        _cleanup_free_ char *jb = NULL, *ja = NULL, *jo = NULL;
        struct stat st, bad_st = { 0 };
        int r;

        if (!groups || !bad || !absent || !ok)
                return -ENOMEM;
        r = stat_at(c, "dev/vfio/vfio", &st);
        if (r < 0)
                return add(c, "vfio.dev-permissions", "access", VFIO_CHECK_FAIL, title,
                           fmt("dev/vfio/vfio: %s (the vfio module creates it)",
                               r == -ENOENT ? "does not exist" : strerror(-r)),
                           strdup("load VFIO: sudo modprobe vfio-pci (see vfio.modules to load it at boot)"),
                           NULL);
        if (c->acct && !vfio_account_can_rw(c->acct, st.st_uid, st.st_gid, st.st_mode)) {
                _cleanup_free_ char *own = owner_str(c, &st);

                return add(
                        c, "vfio.dev-permissions", "access", VFIO_CHECK_FAIL, title,
                        fmt("dev/vfio/vfio is %s; user %s cannot open it", own ? own : "?", c->acct->name),
                        strdup("restore the default mode 0666 of /dev/vfio/vfio (a udev rule changed it)"),
                        NULL);
        }
        STRV_FOREACH(a, c->R->to_pass) {
                const vfio_pci_dev *d = vfio_pci_list_find(c->m->pci, *a);
                char g[32];

                if (!d || d->iommu_group < 0)
                        continue;
                snprintf(g, sizeof(g), "%d", d->iommu_group);
                if (!strv_contains(groups, g) && strv_extend(&groups, g) < 0)
                        return -ENOMEM;
        }
        STRV_FOREACH(g, groups) {
                _cleanup_free_ char *path = fmt("dev/vfio/%s", *g);
                char ***l;

                if (!path)
                        return -ENOMEM;
                r = stat_at(c, path, &st);
                if (r < 0)
                        l = &absent;
                else if (c->acct && !vfio_account_can_rw(c->acct, st.st_uid, st.st_gid, st.st_mode)) {
                        l = &bad;
                        bad_st = st;
                } else
                        l = &ok;
                if (strv_extend(l, path) < 0)
                        return -ENOMEM;
        }
        jb = strv_join(bad, ", ");
        ja = strv_join(absent, ", ");
        jo = strv_join(ok, ", ");
        if (!jb || !ja || !jo)
                return -ENOMEM;
        if (strv_length(bad)) {
                _cleanup_free_ char *own = owner_str(c, &bad_st);

                return add(
                        c, "vfio.dev-permissions", "access", VFIO_CHECK_FAIL, title,
                        fmt("%s: %s; user %s cannot open it (QEMU: 'vfio: error opening /dev/vfio/N: Permission denied')",
                            jb, own ? own : "?", c->R->user),
                        access_fix(c, &bad_st, "SUBSYSTEM==\"vfio\", OWNER=\"root\"",
                                   "/etc/udev/rules.d/10-vfio.rules"),
                        NULL);
        }
        if (!c->acct)
                return add(c, "vfio.dev-permissions", "access", VFIO_CHECK_WARN, title,
                           fmt("user '%s' is not in etc/passwd under the root", c->R->user),
                           fmt("name an existing user with --user, or create it: sudo useradd -m -G kvm %s",
                               c->R->user),
                           NULL);
        if (strv_length(absent))
                return add(
                        c, "vfio.dev-permissions", "access", VFIO_CHECK_WARN, title,
                        fmt("%s absent: the group node appears once every device of the group is bound to vfio-pci%s%s",
                            ja, *jo ? "; usable: " : "", jo),
                        strdup("bind the devices to vfio-pci (see vfio.driver), then re-run vfioctl check"),
                        NULL);
        return add(c, "vfio.dev-permissions", "access", VFIO_CHECK_PASS, title,
                   fmt("dev/vfio/vfio%s%s usable by %s", *jo ? ", " : "", jo, c->R->user), NULL, NULL);
}

/* ---- memory ---- */

static char *size_str(uint64_t b)
{
        if (b == VFIO_LIMIT_UNLIMITED)
                return strdup("unlimited");
        if (b >= GiB)
                return b % GiB ? fmt("%.1f GiB", (double)b / (double)GiB) : fmt("%" PRIu64 " GiB", b / GiB);
        if (b >= MiB)
                return b % MiB ? fmt("%.1f MiB", (double)b / (double)MiB) : fmt("%" PRIu64 " MiB", b / MiB);
        return fmt("%" PRIu64 " KiB", b >> 10);
}

static int check_memlock(ctx *c)
{
        const char *title = "Locked-memory limit of the VM user (VFIO pins all guest RAM)";
        _cleanup_free_ char *soft_s = NULL, *hard_s = NULL, *need_s = NULL, *src = NULL;
        vfio_memlock ml = { .soft = VFIO_LIMIT_UNSET, .hard = VFIO_LIMIT_UNSET };
        uint64_t need = c->o->memory ? c->o->memory + MEMLOCK_OVERHEAD : 0, eff;
        bool from_rlimit = false;
        int r;

        if (!c->acct)
                return add(c, "memory.memlock", "memory", VFIO_CHECK_WARN, title,
                           fmt("user '%s' is not in etc/passwd under the root", c->R->user),
                           fmt("name an existing user with --user, or create it: sudo useradd -m -G kvm %s",
                               c->R->user),
                           NULL);
        if (c->acct->uid == 0)
                return add(c, "memory.memlock", "memory", VFIO_CHECK_PASS, title,
                           strdup("the VM user is root: CAP_IPC_LOCK exempts it from the memlock limit"),
                           NULL, NULL);
        r = vfio_memlock_read(c->h, c->acct->name, c->acct->uid, c->acct->groups, &ml);
        if (r < 0)
                return r;
        /* The running process's limit describes the session only when it is this user on this root. */
        if (vfio_host_is_live(c->h) && getuid() == c->acct->uid) {
                struct rlimit rl;

                if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0) {
                        vfio_memlock_done(&ml);
                        ml.soft = rl.rlim_cur == RLIM_INFINITY ? VFIO_LIMIT_UNLIMITED : rl.rlim_cur;
                        ml.hard = rl.rlim_max == RLIM_INFINITY ? VFIO_LIMIT_UNLIMITED : rl.rlim_max;
                        from_rlimit = true;
                }
        }
        if (ml.soft == VFIO_LIMIT_UNSET)
                ml.soft = ml.hard != VFIO_LIMIT_UNSET && ml.hard < MEMLOCK_KERNEL_DEFAULT
                                  ? ml.hard
                                  : MEMLOCK_KERNEL_DEFAULT;
        if (ml.hard == VFIO_LIMIT_UNSET)
                ml.hard = ml.soft > MEMLOCK_KERNEL_DEFAULT ? ml.soft : MEMLOCK_KERNEL_DEFAULT;
        /* The launcher raises the soft limit to the hard one before starting QEMU: the hard limit counts. */
        eff = ml.hard;
        soft_s = size_str(ml.soft);
        hard_s = size_str(ml.hard);
        src = from_rlimit ? strdup("getrlimit(RLIMIT_MEMLOCK) of this session")
                          : fmt("%s%s%s", ml.hard_where ? ml.hard_where : "",
                                ml.hard_where
                                        ? ""
                                        : "no memlock line in etc/security/limits.conf or limits.d applies",
                                ml.hard_where ? "" : " (kernel default 8 MiB)");
        vfio_memlock_done(&ml);
        if (!soft_s || !hard_s || !src)
                return -ENOMEM;
        if (!need) {
                if (eff == VFIO_LIMIT_UNLIMITED)
                        return add(c, "memory.memlock", "memory", VFIO_CHECK_PASS, title,
                                   fmt("memlock for %s: soft %s, hard %s (%s)", c->acct->name, soft_s,
                                       hard_s, src),
                                   NULL, NULL);
                return add(
                        c, "memory.memlock", "memory", VFIO_CHECK_WARN, title,
                        fmt("memlock for %s: soft %s, hard %s (%s); a VFIO guest needs its RAM + 1 GiB locked - pass --memory to compare",
                            c->acct->name, soft_s, hard_s, src),
                        fmt("add to /etc/security/limits.d/vfio.conf: '%s hard memlock <guest RAM in KiB + 1048576>' and the same line with 'soft', then log in again",
                            c->acct->name),
                        NULL);
        }
        need_s = size_str(need);
        if (!need_s)
                return -ENOMEM;
        if (eff != VFIO_LIMIT_UNLIMITED && eff < need)
                return add(
                        c, "memory.memlock", "memory", VFIO_CHECK_FAIL, title,
                        fmt("memlock for %s: soft %s, hard %s (%s); the guest needs %s (RAM + 1 GiB): QEMU would fail with 'vfio_dma_map(...) = -12 (Cannot allocate memory)'",
                            c->acct->name, soft_s, hard_s, src, need_s),
                        fmt("add to /etc/security/limits.d/vfio.conf the lines '%s soft memlock %" PRIu64
                            "' and '%s hard memlock %" PRIu64
                            "' (KiB), then log in again (or: sudo vfioctl setup --user %s --memory %" PRIu64
                            "M)",
                            c->acct->name, need >> 10, c->acct->name, need >> 10, c->acct->name,
                            (c->o->memory + MiB - 1) / MiB),
                        NULL);
        return add(c, "memory.memlock", "memory", VFIO_CHECK_PASS, title,
                   fmt("memlock for %s: soft %s, hard %s (%s); the guest needs %s", c->acct->name, soft_s,
                       hard_s, src, need_s),
                   NULL, NULL);
}

static int check_hugepages(ctx *c)
{
        const char *title = "Huge pages reserved for the guest";
        _cleanup_strv_free_ char **parts = NULL;
        _cleanup_free_ char *j = NULL;
        uint64_t best_free = 0, best_size = 0;
        bool reserved = false;

        for (size_t i = 0; i < c->mem->n_pools; i++) {
                const vfio_hugepage_pool *p = &c->mem->pools[i];
                _cleanup_free_ char *sz = size_str(p->page_size);
                char *s;

                if (!sz)
                        return -ENOMEM;
                s = p->node < 0 ? fmt("%s: %" PRIu64 " reserved, %" PRIu64 " free", sz, p->nr, p->free)
                                : fmt("node%d %s: %" PRIu64 " reserved, %" PRIu64 " free", p->node, sz,
                                      p->nr, p->free);
                if (!s || strv_push(&parts, s) < 0) {
                        free(s);
                        return -ENOMEM;
                }
                if (p->node < 0 && p->nr > 0) {
                        reserved = true;
                        if ((p->free - (p->resv < p->free ? p->resv : 0)) * p->page_size > best_free) {
                                best_free = (p->free - (p->resv < p->free ? p->resv : 0)) * p->page_size;
                                best_size = p->page_size;
                        }
                }
        }
        if (c->mem->n_pools == 0)
                return add(c, "memory.hugepages", "memory", VFIO_CHECK_SKIP, title,
                           strdup("sys/kernel/mm/hugepages is absent: the kernel has no huge page support"),
                           NULL, NULL);
        j = strv_join(parts, "; ");
        if (!j)
                return -ENOMEM;
        if (!reserved)
                return add(
                        c, "memory.hugepages", "memory", VFIO_CHECK_PASS, title,
                        fmt("none reserved (%s; sys/kernel/mm/hugepages): the guest uses normal pages, which is fine; huge pages only speed it up",
                            j),
                        NULL, NULL);
        if (c->o->memory && best_free < c->o->memory) {
                _cleanup_free_ char *need = size_str(c->o->memory), *have = size_str(best_free);

                return add(c, "memory.hugepages", "memory", VFIO_CHECK_WARN, title,
                           fmt("%s: %s free in huge pages, the guest has %s", j, have ? have : "?",
                               need ? need : "?"),
                           cmdline_fixf(c, "reserve enough at boot: ", "",
                                        "hugepagesz=%s hugepages=%" PRIu64, best_size == GiB ? "1G" : "2M",
                                        (c->o->memory + (best_size ? best_size : 2 * MiB) - 1) /
                                                (best_size ? best_size : 2 * MiB)),
                           NULL);
        }
        /* Enough in total, but where? A guest whose RAM is on another NUMA node than its GPU pays for every
         * DMA across the interconnect; the pages of the device's node are what the VM should use. */
        STRV_FOREACH(a, c->R->to_pass) {
                const vfio_pci_dev *d = vfio_pci_list_find(c->m->pci, *a);
                uint64_t node_free = 0;
                bool node_known = false;

                if (!d || d->numa_node < 0 || !c->o->memory)
                        continue;
                for (size_t i = 0; i < c->mem->n_pools; i++) {
                        const vfio_hugepage_pool *p = &c->mem->pools[i];

                        if (p->node == d->numa_node && p->page_size == best_size) {
                                node_known = true;
                                node_free = p->free * p->page_size;
                        }
                }
                if (node_known && node_free < c->o->memory) {
                        _cleanup_free_ char *need = size_str(c->o->memory), *have = size_str(node_free),
                                            *sz = size_str(best_size);

                        return add(
                                c, "memory.hugepages", "memory", VFIO_CHECK_WARN, title,
                                fmt("%s: %s sits on NUMA node %d, which has only %s free in %s pages for a guest of %s; its RAM would come from another node",
                                    j, d->name, d->numa_node, have ? have : "?", sz ? sz : "?",
                                    need ? need : "?"),
                                fmt("reserve the pages on node %d: echo %" PRIu64
                                    " | sudo tee /sys/devices/system/node/node%d/hugepages/hugepages-%" PRIu64
                                    "kB/nr_hugepages (at boot: a systemd unit or hugepages=%d:%" PRIu64
                                    " on the kernel command line, Linux 5.13+)",
                                    d->numa_node, (c->o->memory + best_size - 1) / best_size, d->numa_node,
                                    best_size >> 10, d->numa_node,
                                    (c->o->memory + best_size - 1) / best_size),
                                NULL);
                }
        }
        return add(c, "memory.hugepages", "memory", VFIO_CHECK_PASS, title, fmt("%s", j), NULL, NULL);
}

static int check_fragmentation(ctx *c)
{
        const char *title = "Free memory contiguous enough for reserving huge pages at run time";
        uint64_t in2m;
        _cleanup_free_ char *have = NULL, *need = NULL;

        if (c->mem->n_zones == 0)
                return add(c, "memory.fragmentation", "memory", VFIO_CHECK_SKIP, title,
                           strdup("proc/buddyinfo is not readable"), NULL, NULL);
        in2m = vfio_memory_free_in_blocks(c->mem, 2 * MiB);
        have = size_str(in2m);
        if (!have)
                return -ENOMEM;
        if (!c->o->memory)
                return add(
                        c, "memory.fragmentation", "memory", VFIO_CHECK_PASS, title,
                        fmt("proc/buddyinfo: %s free in blocks of 2 MiB or more (1 GiB pages can only be reserved reliably at boot)",
                            have),
                        NULL, NULL);
        need = size_str(c->o->memory);
        if (!need)
                return -ENOMEM;
        if (in2m < c->o->memory)
                return add(
                        c, "memory.fragmentation", "memory", VFIO_CHECK_WARN, title,
                        fmt("proc/buddyinfo: only %s free in blocks of 2 MiB or more, the guest has %s: reserving its huge pages now would fall short or stall on compaction",
                            have, need),
                        cmdline_fixf(c, "reserve them at boot instead: ", " (or use normal pages)",
                                     "hugepagesz=2M hugepages=%" PRIu64,
                                     (c->o->memory + 2 * MiB - 1) / (2 * MiB)),
                        NULL);
        return add(c, "memory.fragmentation", "memory", VFIO_CHECK_PASS, title,
                   fmt("proc/buddyinfo: %s free in blocks of 2 MiB or more, enough for %s of 2 MiB pages",
                       have, need),
                   NULL, NULL);
}

/* ---- firmware and QEMU ---- */

int vfio_check_judge_qemu(const vfio_qemu_info *q, vfio_check_status *ret_status, char **ret_evidence)
{
        _cleanup_free_ char *ev = NULL;
        bool vfio, q35, old;
        char *s;

        assert(q);
        assert(ret_status);
        assert(ret_evidence);

        /* vfio-pci is the point; q35 gives GPUs a PCIe topology; max-ram-below-4g (the NF200 workaround,
         * seed 001) arrived in QEMU 2.1. */
        vfio = vfio_qemu_info_has_type(q, "vfio-pci");
        q35 = vfio_qemu_info_has_machine(q, "q35");
        old = q->major < 2 || (q->major == 2 && q->minor < 1);
        ev = fmt("QEMU %u.%u.%u%s%s%s; q35: %s, vfio-pci: %s, intel-iommu: %s, tpm-crb: %s, ramfb: %s",
                 q->major, q->minor, q->micro, q->package ? " (" : "", q->package ? q->package : "",
                 q->package ? ")" : "", q35 ? "yes" : "no", vfio ? "yes" : "no",
                 vfio_qemu_info_has_type(q, "intel-iommu") ? "yes" : "no",
                 vfio_qemu_info_has_type(q, "tpm-crb") ? "yes" : "no",
                 vfio_qemu_info_has_type(q, "ramfb") ? "yes" : "no");
        if (!ev)
                return -ENOMEM;
        if (!vfio)
                s = fmt("%s: this QEMU was built without VFIO", ev);
        else if (!q35 || old)
                s = fmt("%s%s%s", ev, q35 ? "" : "; no q35 machine (PCIe topology for GPUs)",
                        old ? "; older than 2.1: no max-ram-below-4g" : "");
        else
                s = TAKE_PTR(ev);
        if (!s)
                return -ENOMEM;
        *ret_status = !vfio ? VFIO_CHECK_FAIL : (!q35 || old) ? VFIO_CHECK_WARN : VFIO_CHECK_PASS;
        *ret_evidence = s;
        return 0;
}

static int check_firmware(ctx *c)
{
        const vfio_ovmf *o = vfio_firmware_pick_ovmf(c->fw, false),
                        *sb = vfio_firmware_pick_ovmf(c->fw, true);
        int r;

        if (!o && !sb)
                r = add(c, "firmware.ovmf", "firmware", VFIO_CHECK_FAIL,
                        "UEFI firmware for the guest (OVMF)",
                        fmt("no OVMF code + vars pair in usr/share/OVMF, usr/share/edk2/ovmf, usr/share/edk2/x64, usr/share/edk2-ovmf/x64 or usr/share/qemu%s",
                            c->fw->n_ovmf ? " (a code image without its vars template was found)" : ""),
                        vfio_distro_install_cmd(c->d, "ovmf"), NULL);
        else
                r = add(c, "firmware.ovmf", "firmware", VFIO_CHECK_PASS,
                        "UEFI firmware for the guest (OVMF)",
                        fmt("%s + %s", (o ? o : sb)->code, (o ? o : sb)->vars), NULL, NULL);
        if (r < 0)
                return r;
        if (!o && !sb)
                r = add(c, "firmware.secure-boot", "firmware", VFIO_CHECK_SKIP,
                        "Secure Boot firmware variant", strdup("no OVMF found"), NULL, NULL);
        else if (sb)
                r = add(c, "firmware.secure-boot", "firmware", VFIO_CHECK_PASS,
                        "Secure Boot firmware variant",
                        fmt("%s + %s%s", sb->code, sb->vars,
                            sb->ms_keys ? " (Microsoft keys enrolled: Windows 11 boots)" : ""),
                        NULL, NULL);
        else
                r = add(c, "firmware.secure-boot", "firmware", VFIO_CHECK_WARN,
                        "Secure Boot firmware variant",
                        strdup("no Secure Boot OVMF build (.secboot/.ms): Windows 11 requires Secure Boot"),
                        vfio_distro_install_cmd(c->d, "ovmf"), NULL);
        if (r < 0)
                return r;
        if (c->fw->swtpm)
                return add(c, "firmware.swtpm", "firmware", VFIO_CHECK_PASS, "TPM 2.0 emulator (swtpm)",
                           fmt("%s present", c->fw->swtpm), NULL, NULL);
        return add(c, "firmware.swtpm", "firmware", VFIO_CHECK_WARN, "TPM 2.0 emulator (swtpm)",
                   strdup("no usr/bin/swtpm: guests get no TPM 2.0, which Windows 11 requires"),
                   vfio_distro_install_cmd(c->d, "swtpm swtpm-tools"), NULL);
}

static int check_qemu(ctx *c)
{
        _cleanup_(vfio_qemu_info_freep) vfio_qemu_info *q = NULL;
        _cleanup_free_ char *err = NULL, *path = NULL;
        const char *title = "QEMU capabilities (probed over QMP)";
        int r;

        if (!c->fw->qemu)
                r = add(c, "qemu.binary", "qemu", VFIO_CHECK_FAIL, "QEMU installed",
                        strdup("no usr/bin/qemu-system-x86_64 or usr/libexec/qemu-kvm under the root"),
                        vfio_distro_install_cmd(c->d, "qemu-system-x86"), NULL);
        else
                r = add(c, "qemu.binary", "qemu", VFIO_CHECK_PASS, "QEMU installed",
                        fmt("%s present", c->fw->qemu), NULL, NULL);
        if (r < 0 || !c->fw->qemu)
                return r;
        if (!c->o->probe)
                return add(c, "qemu.probe", "qemu", VFIO_CHECK_SKIP, title,
                           strdup("not probed (--no-probe)"), NULL, NULL);
        if (!vfio_host_is_live(c->h))
                return add(c, "qemu.probe", "qemu", VFIO_CHECK_SKIP, title,
                           fmt("not probed: the root %s is not the running system", vfio_host_root(c->h)),
                           NULL, NULL);
        path = fmt("/%s", c->fw->qemu);
        if (!path)
                return -ENOMEM;
        r = c->o->probe(path, c->o->probe_timeout_ms ? c->o->probe_timeout_ms : 10000, &q, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return add(
                        c, "qemu.probe", "qemu", VFIO_CHECK_WARN, title,
                        fmt("%s -machine none -qmp stdio: %s", path, err ? err : strerror(-r)),
                        fmt("run '%s -machine none -nodefaults -display none -qmp stdio' by hand to see why it fails",
                            path),
                        NULL);
        {
                vfio_check_status st;
                char *ev = NULL;

                r = vfio_check_judge_qemu(q, &st, &ev);
                if (r < 0)
                        return r;
                return add(c, "qemu.probe", "qemu", st, title, ev,
                           st == VFIO_CHECK_PASS ? NULL : vfio_distro_install_cmd(c->d, "qemu-system-x86"),
                           NULL);
        }
}

/* ---- sound and picture for the desktop user (check --vm; docs/audio.md) ---- */

/* Where each distribution family puts QEMU's loadable modules (QEMU's --with-suffix, libdir/qemu). */
static const char *const qemu_module_dirs[] = { "usr/lib/x86_64-linux-gnu/qemu", "usr/lib64/qemu",
                                                "usr/lib/qemu" };

/* The package holding QEMU's module audio-DRIVER.so: Debian splits them by toolkit, the others by name. */
static char *audio_pkg_fix(ctx *c, const char *driver)
{
        _cleanup_free_ char *pkg = NULL;

        if (c->d->family == VFIO_FAMILY_DEBIAN || c->d->family == VFIO_FAMILY_UNKNOWN)
                pkg = strdup(strcmp(driver, "pa") == 0 ? "qemu-system-gui" : "qemu-system-common");
        else
                pkg = fmt("qemu-audio-%s", driver);
        return pkg ? vfio_distro_install_cmd(c->d, pkg) : NULL;
}

static int check_audio_driver(ctx *c)
{
        const char *title = "QEMU's audio driver for the VM's sound";
        const char *drv = c->o->audio_driver, *found_dir = NULL;
        _cleanup_free_ char *module = NULL;
        bool any_modules = false;

        if (!drv || !c->fw->qemu)
                return 0;
        module = fmt("audio-%s.so", drv);
        if (!module)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(qemu_module_dirs); i++) {
                _cleanup_strv_free_ char **files = NULL;

                if (vfio_host_list_dir(c->h, qemu_module_dirs[i], 4096, &files) < 0)
                        continue;
                STRV_FOREACH(f, files)
                        if (strncmp(*f, "audio-", 6) == 0 || strncmp(*f, "ui-", 3) == 0 ||
                            strncmp(*f, "hw-", 3) == 0)
                                any_modules = true;
                if (strv_contains(files, module)) {
                        found_dir = qemu_module_dirs[i];
                        break;
                }
        }
        if (found_dir)
                return add(c, "audio.driver", "desktop", VFIO_CHECK_PASS, title,
                           fmt("%s/%s present (-audiodev %s)", found_dir, module, drv), NULL, NULL);
        if (!any_modules)
                /* A QEMU built without modules has its drivers inside; nothing to look for. */
                return add(c, "audio.driver", "desktop", VFIO_CHECK_SKIP, title,
                           fmt("no QEMU module directory (%s, %s, %s): the drivers are built in",
                               qemu_module_dirs[0], qemu_module_dirs[1], qemu_module_dirs[2]),
                           NULL, NULL);
        return add(
                c, "audio.driver", "desktop", VFIO_CHECK_FAIL, title,
                fmt("QEMU's modules are there but not %s: QEMU stops with \"module audio-audio-%s not found\" (-audiodev %s)",
                    module, drv, drv),
                audio_pkg_fix(c, drv), NULL);
}

/* The fix for a sound socket that did not answer, by what went wrong. */
static char *audio_fix(ctx *c, int r, const char *user, bool dir_exists)
{
        const char *vm = c->o->vm_name ? c->o->vm_name : "NAME", *desk = c->o->desktop_user;
        _cleanup_free_ char *rs = NULL;

        if (!c->o->audio_grant) {
                if (r == -EACCES)
                        return fmt(
                                "user %s may not open %s: name a socket it may use in [audio] server, or set [vm] desktop_user and let vfioctl setup --vm %s grant one",
                                user, c->o->audio_socket, vm);
                return fmt(
                        "start the sound server that should own %s (log its user in), or set [audio] server = PATH, or server = none for a silent VM",
                        c->o->audio_socket);
        }
        rs = fmt("systemctl --user -M %s@ try-restart pipewire-pulse.service pulseaudio.service", desk);
        if (!rs)
                return NULL;
        if (r == -ENOENT && !dir_exists)
                return fmt(
                        "sudo vfioctl setup --vm %s, then: sudo systemd-tmpfiles --create /etc/tmpfiles.d/vfioctl-audio-%s.conf && sudo %s",
                        vm, user, rs);
        if (r == -ENOENT || r == -ECONNREFUSED)
                return fmt(
                        "%s's sound server does not listen there: log %s in, or restart it: sudo %s (it reads /etc/pulse/default.pa.d/vfioctl-audio-%s.pa or /etc/pipewire/pipewire-pulse.conf.d/90-vfioctl-audio.conf, which vfioctl setup --vm %s writes)",
                        desk, desk, rs, user, vm);
        if (r == -EACCES || r == -EPERM)
                return fmt(
                        "sudo vfioctl setup --vm %s (the directory's group and the server's auth-group must be %s's), then: sudo systemd-tmpfiles --create /etc/tmpfiles.d/vfioctl-audio-%s.conf && sudo %s",
                        vm, user, user, rs);
        return fmt(
                "something other than a PulseAudio server answers on %s; restart %s's sound server: sudo %s",
                c->o->audio_socket, desk, rs);
}

static int check_audio_server(ctx *c)
{
        const char *title = "The VM user reaches the sound server";
        _cleanup_free_ char *detail = NULL, *dir = NULL;
        bool dir_exists;
        struct stat st;
        int r;

        if (!c->o->audio_socket || c->o->audio_socket[0] != '/')
                return 0;
        if (!c->acct)
                return add(c, "audio.server", "desktop", VFIO_CHECK_SKIP, title,
                           fmt("user '%s' is not in etc/passwd under the root: nobody to try %s as",
                               c->R->user, c->o->audio_socket),
                           NULL, NULL);
        if (!c->o->audio_probe)
                return add(c, "audio.server", "desktop", VFIO_CHECK_SKIP, title,
                           fmt("%s not tried", c->o->audio_socket), NULL, NULL);
        /* The grant socket lives under the root; a session socket is the running system's. */
        if (!c->o->audio_grant && !vfio_host_is_live(c->h))
                return add(c, "audio.server", "desktop", VFIO_CHECK_SKIP, title,
                           fmt("%s not tried: the root %s is not the running system", c->o->audio_socket,
                               vfio_host_root(c->h)),
                           NULL, NULL);
        r = c->o->audio_probe(c->o->audio_socket, c->acct->uid, c->acct->gid, 5000, &detail);
        if (r >= 0)
                return add(c, "audio.server", "desktop", VFIO_CHECK_PASS, title,
                           fmt("%s answered %s (uid %u, gid %u) as QEMU will be: %s", c->o->audio_socket,
                               c->acct->name, (unsigned)c->acct->uid, (unsigned)c->acct->gid,
                               detail ? detail : "connected"),
                           NULL, NULL);
        if (r == -ENOMEM)
                return r;
        if (r == -ENOTSUP)
                return add(c, "audio.server", "desktop", VFIO_CHECK_SKIP, title,
                           fmt("%s not tried as %s: %s; run check as root (sudo) to try it as QEMU will be",
                               c->o->audio_socket, c->acct->name, detail ? detail : "not root"),
                           NULL, NULL);
        /* The socket's directory, as a host path like the socket itself (it is under the root already). */
        dir = strndup(c->o->audio_socket, (size_t)(strrchr(c->o->audio_socket, '/') - c->o->audio_socket));
        if (!dir)
                return -ENOMEM;
        dir_exists = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
        return add(c, "audio.server", "desktop", VFIO_CHECK_FAIL, title,
                   fmt("%s as %s (uid %u, gid %u): %s%s", c->o->audio_socket, c->acct->name,
                       (unsigned)c->acct->uid, (unsigned)c->acct->gid, detail ? detail : strerror(-r),
                       c->o->audio_grant && r == -ENOENT && !dir_exists
                               ? "; its directory is missing (vfioctl setup --vm makes it at boot)"
                               : ""),
                   audio_fix(c, r, c->acct->name, dir_exists), NULL);
}

/* kvmfr's size, from the module's parameter (Looking Glass module/kvmfr.c, static_size_mb), in bytes. */
static int kvmfr_size(const vfio_host *h, uint64_t *ret)
{
        _cleanup_free_ char *s = NULL;
        uint64_t mb;
        int r;

        r = vfio_host_read_attr(h, "sys/module/kvmfr/parameters/static_size_mb", 256, &s);
        if (r < 0)
                return r;
        /* One value per device: the first is kvmfr0's. */
        s[strcspn(s, ",")] = 0;
        r = parse_uint(s, 10, 1u << 20, &mb);
        if (r < 0)
                return r;
        *ret = mb << 20;
        return 0;
}

/* Looking Glass's memory: owner the VM user, group the desktop user's, 0660, of the region's size. */
static int judge_looking_glass(ctx *c, vfio_check_status *ret_status, char **ret_evidence, char **ret_fix)
{
        _cleanup_free_ char *own = NULL, *fix = NULL, *ev = NULL, *dgroup = NULL;
        const vfio_check_options *o = c->o;
        const vfio_host *h = c->h;
        const vfio_account *vm = c->acct, *desk = c->desk;
        const char *path = o->lg_path, *vmname = o->vm_name ? o->vm_name : "NAME", *vm_user = c->R->user;
        vfio_check_status st = VFIO_CHECK_PASS;
        uint64_t have = 0;
        struct stat sb;
        int r;

        r = stat_at(c, path + 1, &sb);
        if (r < 0) {
                if (o->lg_kvmfr) {
                        ev = fmt("%s: %s: the kvmfr module is not loaded (or not built)", path + 1,
                                 r == -ENOENT ? "does not exist" : strerror(-r));
                        fix = fmt(
                                "build kvmfr from Looking Glass's source (module/: dkms install .), then: sudo vfioctl setup --vm %s && sudo modprobe kvmfr static_size_mb=%llu",
                                vmname, (unsigned long long)((o->lg_size + (1u << 20) - 1) >> 20));
                } else {
                        const char *base = strrchr(path, '/') + 1;

                        ev = fmt("%s: %s", path + 1, r == -ENOENT ? "does not exist" : strerror(-r));
                        fix = fmt(
                                "sudo vfioctl setup --vm %s && sudo systemd-tmpfiles --create /etc/tmpfiles.d/vfioctl-looking-glass-%s.conf (vfioctl start as root also creates it)",
                                vmname, base);
                }
                st = VFIO_CHECK_FAIL;
                goto done;
        }
        own = owner_str(c, &sb);
        if (!own)
                return -ENOMEM;
        if (o->lg_kvmfr ? !S_ISCHR(sb.st_mode) : !S_ISREG(sb.st_mode)) {
                ev = fmt("%s is %s, not %s", path + 1, own,
                         o->lg_kvmfr ? "a character device" : "a regular file");
                fix = fmt("remove it (sudo rm %s); %s", path,
                          o->lg_kvmfr ? "udev makes the device when kvmfr loads"
                                      : "vfioctl start creates the file");
                st = VFIO_CHECK_FAIL;
                goto done;
        }
        if (o->lg_kvmfr) {
                r = kvmfr_size(h, &have);
                if (r == -ENOMEM)
                        return r;
        } else
                have = (uint64_t)sb.st_size;
        dgroup = desk ? vfio_account_group_name(h, desk->gid) : NULL;
        if (!vm || (desk && (sb.st_uid != vm->uid || sb.st_gid != desk->gid)) ||
            (sb.st_mode & 0777) != 0660) {
                ev = fmt(
                        "%s is %s; QEMU (%s) must own it and %s's group %s read it, mode 0660 (the frames are the guest's screen)",
                        path + 1, own, vm_user, o->desktop_user ? o->desktop_user : "the desktop user",
                        dgroup ? dgroup : "(no [vm] desktop_user)");
                if (o->lg_kvmfr)
                        fix = fmt(
                                "sudo vfioctl setup --vm %s (a udev rule), then: sudo udevadm control --reload-rules && sudo udevadm trigger --subsystem-match=kvmfr",
                                vmname);
                else if (desk)
                        fix = fmt(
                                "sudo chown %s:%s %s && sudo chmod 0660 %s (vfioctl start as root does it; vfioctl setup --vm %s keeps it at boot)",
                                vm_user, dgroup ? dgroup : "GROUP", path, path, vmname);
                else
                        fix = fmt(
                                "set [vm] desktop_user = the user who runs looking-glass-client, then: sudo vfioctl setup --vm %s",
                                vmname);
                st = VFIO_CHECK_FAIL;
                goto done;
        }
        if (o->lg_kvmfr && have == 0) {
                ev = fmt("%s is %s; sys/module/kvmfr/parameters/static_size_mb cannot be read", path + 1,
                         own);
                st = VFIO_CHECK_WARN;
        } else if (have != 0 && have < o->lg_size) {
                ev = fmt(
                        "%s is %s and %llu bytes; the VM's region is %llu bytes: QEMU refuses a smaller backing store",
                        path + 1, own, (unsigned long long)have, (unsigned long long)o->lg_size);
                fix = o->lg_kvmfr
                              ? fmt("sudo vfioctl setup --vm %s, then reload kvmfr: sudo modprobe -r kvmfr && sudo modprobe kvmfr static_size_mb=%llu",
                                    vmname, (unsigned long long)(o->lg_size >> 20))
                              : fmt("sudo truncate -s %llu %s (vfioctl start as root sizes it)",
                                    (unsigned long long)o->lg_size, path);
                st = VFIO_CHECK_FAIL;
        } else if (have > o->lg_size) {
                ev = fmt("%s is %s and %llu bytes, more than the VM's %llu", path + 1, own,
                         (unsigned long long)have, (unsigned long long)o->lg_size);
                fix = o->lg_kvmfr ? NULL
                                  : fmt("sudo truncate -s %llu %s (vfioctl start as root sizes it)",
                                        (unsigned long long)o->lg_size, path);
                st = VFIO_CHECK_WARN;
        } else
                ev = fmt(
                        "%s is %s, %s (the VM's region: %llu bytes); the client: looking-glass-client -f %s",
                        path + 1, own, have ? "of that size" : "empty (start sizes it)",
                        (unsigned long long)o->lg_size, path);
done:
        if (!ev)
                return -ENOMEM;
        *ret_status = st;
        *ret_evidence = TAKE_PTR(ev);
        *ret_fix = TAKE_PTR(fix);
        return 0;
}

static int check_looking_glass(ctx *c)
{
        vfio_check_status st = VFIO_CHECK_SKIP;
        char *ev = NULL, *fix = NULL;
        int r;

        if (!c->o->lg_path || c->o->lg_path[0] != '/')
                return 0;
        r = judge_looking_glass(c, &st, &ev, &fix);
        if (r < 0)
                return r;
        return add(c, "looking-glass.memory", "desktop", st, "Looking Glass shared memory", ev, fix, NULL);
}

static vfio_check_report *report_new(const vfio_check_options *o, const vfio_host *h)
{
        _cleanup_(vfio_check_report_freep) vfio_check_report *R = calloc(1, sizeof(vfio_check_report));

        if (!R)
                return NULL;
        R->to_pass = calloc(1, sizeof(char *));
        R->pass_why = calloc(1, sizeof(char *));
        R->candidates = calloc(1, sizeof(char *));
        R->problems = calloc(1, sizeof(char *));
        R->user = o->user ? strdup(o->user) : vfio_check_default_user(h);
        if (!R->to_pass || !R->pass_why || !R->candidates || !R->problems || !R->user)
                return NULL;
        return TAKE_PTR(R);
}

int vfio_check_media(const vfio_host *h, const vfio_check_options *o, const vfio_account *vm,
                     const vfio_account *desk, vfio_check_report **ret)
{
        _cleanup_(vfio_check_report_freep) vfio_check_report *R = report_new(o, h);
        ctx c = { .h = h, .o = o, .R = R, .acct = (vfio_account *)vm, .desk = (vfio_account *)desk };
        int r;

        if (!R || !(R->quirks = calloc(1, sizeof(*R->quirks))))
                return -ENOMEM;
        if ((r = vfio_firmware_read(h, &c.fw)) < 0 || (r = vfio_distro_read(h, &c.d)) < 0)
                goto finish;
        if ((r = check_audio_driver(&c)) < 0 || (r = check_audio_server(&c)) < 0 ||
            (r = check_looking_glass(&c)) < 0)
                goto finish;
        R->verdict = VFIO_CHECK_PASS;
        for (size_t i = 0; i < R->n; i++)
                if (R->checks[i].status > R->verdict)
                        R->verdict = R->checks[i].status;
        if (R->verdict == VFIO_CHECK_SKIP)
                R->verdict = VFIO_CHECK_PASS;
        *ret = TAKE_PTR(R);
        r = 0;
finish:
        vfio_firmware_free(c.fw);
        vfio_distro_free(c.d);
        return r;
}

/* ---- kernel ---- */

static int check_kernel(ctx *c)
{
        const char *title = "Kernel version gates (PCIe reset, vfio-pci)";
        unsigned v = c->k->version;
        vfio_module_state st = vfio_kernel_module_state(c->h, c->k, "vfio_pci");
        _cleanup_free_ char *ev = NULL;

        if (!v)
                return add(c, "kernel.version", "kernel", VFIO_CHECK_WARN, title,
                           strdup("proc/version unreadable or not understood"),
                           strdup("run vfioctl check on the host"), NULL);
        ev = fmt("proc/version: %s; vfio-pci %s", c->k->release, vfio_module_state_to_string(st));
        if (!ev)
                return -ENOMEM;
        /* Seed 002 'PCIe device reset': bus reset of assigned devices arrived in 3.12; vfio-pci's ids= and
         * driver_override binding at boot in 4.1 / 3.16 (seed 003, 'Dedicated GPU isolation'). */
        if (v < VFIO_KERNEL_VERSION(3, 12, 0))
                return add(
                        c, "kernel.version", "kernel", VFIO_CHECK_FAIL, title,
                        fmt("%s: older than 3.12, no PCIe bus reset for assigned devices (the host freezes on the second VM start)",
                            ev),
                        strdup("upgrade to a kernel >= 3.12 (any supported distribution kernel)"), NULL);
        if (v < VFIO_KERNEL_VERSION(4, 1, 0))
                return add(
                        c, "kernel.version", "kernel", VFIO_CHECK_WARN, title,
                        fmt("%s: older than 4.1, vfio-pci cannot claim devices at boot (ids=); pci-stub is needed",
                            ev),
                        strdup("upgrade to a kernel >= 4.1"), NULL);
        return add(c, "kernel.version", "kernel", VFIO_CHECK_PASS, title,
                   fmt("%s (>= 3.12 PCIe reset, >= 4.1 vfio-pci ids=, >= 3.16 driver_override)", ev), NULL,
                   NULL);
}

/* ---- devices to pass ---- */

static int derive_devices(ctx *c)
{
        vfio_check_report *R = c->R;
        int r;

        for (size_t i = 0; i < c->m->pci->n; i++) {
                const vfio_pci_dev *d = c->m->pci->devs[i];
                _cleanup_free_ char *id = NULL;
                char *why = NULL;

                if (vfio_pci_dev_is_bridge(d))
                        continue;
                id = id_str(d);
                if (!id)
                        return -ENOMEM;
                if (vfio_pci_driver_is_stub(d->driver))
                        why = fmt("bound to %s", d->driver);
                else if (vfio_pci_driver_is_stub(d->driver_override))
                        why = fmt("driver_override %s", d->driver_override); /* set by 'vfioctl bind' */
                else if (ids_configured(c, id))
                        why = fmt("%s named in vfio-pci ids (%s)", id,
                                  c->mp->vfio_pci_ids_where && strv_contains(c->mp->vfio_pci_ids, id)
                                          ? c->mp->vfio_pci_ids_where
                                          : "proc/cmdline");
                else if (vfio_pci_dev_is_display(d)) {
                        if (strv_extend(&R->candidates, d->name) < 0)
                                return -ENOMEM;
                        continue;
                } else
                        continue;
                if (!why || (r = strv_extend(&R->to_pass, d->name)) < 0 ||
                    (r = strv_push(&R->pass_why, why)) < 0) {
                        free(why);
                        return -ENOMEM;
                }
        }
        return 0;
}

static int add_quirks(ctx *c)
{
        vfio_quirk_input in = {
                .model = c->m,
                .to_pass = c->R->to_pass,
                .candidates = c->R->candidates,
                .board_vendor = c->fw->board_vendor,
                .board_name = c->fw->board_name,
                .kernel_version = c->k->version,
                .cmdline = c->k->cmdline,
                .names = c->names,
                .force = c->o->force,
        };

        return vfio_quirks_evaluate(&in, &c->R->quirks);
}

static int check_selection(ctx *c)
{
        _cleanup_strv_free_ char **parts = NULL;
        _cleanup_free_ char *j = NULL, *jc = NULL;

        for (size_t i = 0; c->R->to_pass && c->R->to_pass[i]; i++) {
                char *s = fmt("%s (%s)", c->R->to_pass[i], c->R->pass_why[i]);

                if (!s || strv_push(&parts, s) < 0) {
                        free(s);
                        return -ENOMEM;
                }
        }
        j = strv_join(parts, ", ");
        jc = strv_join(c->R->candidates, ", ");
        if (!j || !jc)
                return -ENOMEM;
        return add(c, "devices.selection", "devices",
                   strv_length(c->R->to_pass) ? VFIO_CHECK_PASS : VFIO_CHECK_SKIP, "Devices to pass",
                   fmt("to pass: %s; display devices checked as candidates: %s", *j ? j : "none",
                       *jc ? jc : "none"),
                   NULL, NULL);
}

char *vfio_check_default_user(const vfio_host *h)
{
        const char *s = secure_getenv("SUDO_USER");
        struct passwd *pw;

        if (!vfio_host_is_live(h))
                return strdup("root");
        if (s && *s && getuid() == 0)
                return strdup(s);
        pw = getpwuid(getuid());
        return pw ? strdup(pw->pw_name) : fmt("%u", (unsigned)getuid());
}

int vfio_check_run(const vfio_host *h, const vfio_check_options *o, vfio_check_report **ret,
                   char **ret_error)
{
        _cleanup_(vfio_check_report_freep) vfio_check_report *R = report_new(o, h);
        ctx c = { .h = h, .o = o, .R = R };
        int r;

        assert(o);
        assert(ret);

        if (!R)
                return -ENOMEM;

        if ((r = vfio_model_load(h, &c.m)) < 0 || (r = vfio_kernel_read(h, &c.k)) < 0 ||
            (r = vfio_modprobe_read(h, &c.mp)) < 0 || (r = vfio_memory_read(h, &c.mem)) < 0 ||
            (r = vfio_firmware_read(h, &c.fw)) < 0 || (r = vfio_distro_read(h, &c.d)) < 0)
                goto finish;
        r = vfio_cpu_read(h, &c.cpu);
        if (r == -ENOMEM)
                goto finish;
        r = vfio_account_lookup(h, R->user, &c.acct);
        if (r == -ENOMEM)
                goto finish;
        if (o->desktop_user && (r = vfio_account_lookup(h, o->desktop_user, &c.desk)) == -ENOMEM)
                goto finish;
        (void)vfio_pci_names_new(NULL, &c.names);
        STRV_FOREACH(p, c.m->problems)
                if ((r = strv_extend(&R->problems, *p)) < 0)
                        goto finish;

        if (o->pass) {
                _cleanup_(vfio_selection_freep) vfio_selection *sel = NULL;

                /* The same selectors as bind (selector.h); exactly the functions named, no slot companions:
                 * the report must be about what the VM gets. */
                r = vfio_selection_resolve(h, c.m, c.names, o->pass, VFIO_SELECT_FUNCTION_ONLY, &sel);
                if (r < 0) {
                        if (r != -ENOMEM && ret_error)
                                *ret_error = sel ? strv_join(sel->problems, "\n") : NULL;
                        r = r == -ENOMEM ? r : -ENXIO;
                        goto finish;
                }
                for (size_t i = 0; i < sel->n; i++) {
                        _cleanup_free_ char *why = fmt("--pass");

                        if (!why || strv_extend(&R->to_pass, sel->items[i].name) < 0 ||
                            strv_push(&R->pass_why, why) < 0) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        TAKE_PTR(why);
                }
        } else if ((r = derive_devices(&c)) < 0)
                goto finish;

        if ((r = check_cpu(&c)) < 0 || (r = check_kvm_module(&c)) < 0 || (r = check_kvm_device(&c)) < 0 ||
            (r = check_uinput(&c)) < 0 || (r = check_iommu_acpi(&c)) < 0 ||
            (r = check_iommu_cmdline(&c)) < 0 || (r = check_iommu_groups(&c)) < 0 ||
            (r = check_interrupt_remapping(&c)) < 0 || (r = check_vfio_modules(&c)) < 0 ||
            (r = check_vfio_softdep(&c)) < 0 || (r = check_drivers(&c)) < 0 ||
            (r = check_vfio_devices(&c)) < 0 || (r = check_memlock(&c)) < 0 ||
            (r = check_hugepages(&c)) < 0 || (r = check_fragmentation(&c)) < 0 ||
            (r = check_firmware(&c)) < 0 || (r = check_qemu(&c)) < 0 || (r = check_kernel(&c)) < 0 ||
            (r = check_audio_driver(&c)) < 0 || (r = check_audio_server(&c)) < 0 ||
            (r = check_looking_glass(&c)) < 0 || (r = check_selection(&c)) < 0 || (r = add_quirks(&c)) < 0)
                goto finish;

        R->verdict = VFIO_CHECK_PASS;
        for (size_t i = 0; i < R->n; i++)
                if (R->checks[i].status > R->verdict)
                        R->verdict = R->checks[i].status;
        for (size_t i = 0; i < R->quirks->n; i++) {
                vfio_check_status s = R->quirks->items[i].action == VFIO_QUIRK_FAIL   ? VFIO_CHECK_FAIL
                                      : R->quirks->items[i].action == VFIO_QUIRK_WARN ? VFIO_CHECK_WARN
                                                                                      : VFIO_CHECK_PASS;
                if (s > R->verdict)
                        R->verdict = s;
        }
        if (R->verdict == VFIO_CHECK_SKIP)
                R->verdict = VFIO_CHECK_PASS;
        *ret = TAKE_PTR(R);
        r = 0;
finish:
        vfio_model_free(c.m);
        vfio_kernel_free(c.k);
        vfio_modprobe_free(c.mp);
        vfio_memory_free(c.mem);
        vfio_firmware_free(c.fw);
        vfio_distro_free(c.d);
        vfio_cpu_free(c.cpu);
        vfio_account_free(c.acct);
        vfio_account_free(c.desk);
        vfio_pci_names_free(c.names);
        return r;
}
