/*
 * vfioctl guide: the path from a bare host to a running passthrough VM as steps, each verified on the host
 * and planned with the code of check, setup and create; nothing here is remembered between runs.
 */
#include "vfioctl/guide.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "parse-util.h"
#include "strv.h"
#include "vfioctl/account.h"
#include "vfioctl/audio-grant.h"
#include "vfioctl/cpu.h"
#include "vfioctl/distro.h"
#include "vfioctl/hostfile.h"
#include "vfioctl/input.h"
#include "vfioctl/kernel.h"
#include "vfioctl/model.h"
#include "vfioctl/perm.h"
#include "vfioctl/runstate.h"
#include "vfioctl/selector.h"
#include "vfioctl/start.h"
#include "vfioctl/storage.h"
#include "vfioctl/vmconf.h"
#include "vfioctl/vmcreate.h"
#include "vfioctl/vmdefaults.h"
#include "vfioctl/vmrun.h"

#define GIB        (UINT64_C(1) << 30)
#define VM_GROUP   "kvm" /* /dev/kvm's group on every distribution; setup's udev rule gives it /dev/vfio/N */
#define CONFIG_DIR "etc/vfioctl/vms"
#define STATE_DIR  "var/lib/vfioctl"
#define QEMU_IMG   "/usr/bin/qemu-img"
#define MANIFEST   VFIO_SETUP_MANIFEST

static const struct {
        const char *name, *title;
} steps[_VFIO_GUIDE_STEP_MAX] = {
        [VFIO_GUIDE_CHECK] = { "check", "Check the host" },
        [VFIO_GUIDE_DEVICES] = { "devices", "Choose the GPU and what goes with it" },
        [VFIO_GUIDE_PACKAGES] = { "packages", "Install QEMU and the UEFI firmware" },
        [VFIO_GUIDE_USER] = { "user", "The VM user" },
        [VFIO_GUIDE_SETUP] = { "setup", "Write the host setup (vfioctl setup; setup --undo reverses it)" },
        [VFIO_GUIDE_BOOT] = { "boot", "Make it take effect at boot (initramfs, boot loader, udev)" },
        [VFIO_GUIDE_REBOOT] = { "reboot", "Reboot into the new setup" },
        [VFIO_GUIDE_CREATE] = { "create", "Create the VM and its disk" },
        [VFIO_GUIDE_VERIFY] = { "verify", "Check the host for this VM (check --vm)" },
        [VFIO_GUIDE_START] = { "start", "Start the VM as the VM user" },
};

const char *vfio_guide_step_title(vfio_guide_step_id id)
{
        return id < _VFIO_GUIDE_STEP_MAX ? steps[id].title : "?";
}

const char *vfio_guide_step_name(vfio_guide_step_id id)
{
        return id < _VFIO_GUIDE_STEP_MAX ? steps[id].name : "?";
}

const char *vfio_guide_state_to_string(vfio_guide_state s)
{
        switch (s) {
        case VFIO_GUIDE_DONE:
                return "done";
        case VFIO_GUIDE_TODO:
                return "to do";
        case VFIO_GUIDE_REBOOT_NEEDED:
                return "reboot needed";
        case VFIO_GUIDE_BLOCKED:
                return "blocked";
        case VFIO_GUIDE_LATER:
                return "after the steps before it";
        }
        return "?";
}

vfio_guide_plan *vfio_guide_plan_free(vfio_guide_plan *p)
{
        if (!p)
                return NULL;
        for (size_t i = 0; i < _VFIO_GUIDE_STEP_MAX; i++) {
                strv_free(p->steps[i].evidence);
                strv_free(p->steps[i].why);
                vfio_hostcmds_done(&p->steps[i].cmds);
        }
        free(p->name);
        free(p->user);
        free(p->gpu);
        strv_free(p->devices);
        vfio_setup_plan_free(p->setup);
        free(p->config_path);
        free(p->config_text);
        free(p->disk_path);
        free(p->state_dir);
        free(p->qemu_img);
        strv_free(p->notes);
        free(p);
        return NULL;
}

char *vfio_guide_default_user(const char *vm_name)
{
        char *u;

        /* useradd's rule (lower case, digits, - and _), at most 32: "vm-" and the VM's name. */
        if (asprintf(&u, "vm-%.29s", vm_name) < 0)
                return NULL;
        for (char *c = u + 3; *c; c++) {
                if (*c >= 'A' && *c <= 'Z')
                        *c = (char)(*c - 'A' + 'a');
                else if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789_-", *c))
                        *c = '-';
        }
        return u;
}

/* The context of one planning pass: the host facts every step reads. */
typedef struct ctx {
        const vfio_host *h;
        const vfio_guide_opts *o;
        vfio_guide_plan *p;
        vfio_model *m;
        vfio_cpu *cpu;
        vfio_kernel *k;
        vfio_distro *d;
        vfio_check_report *R;
        vfio_pci_names *names;
        bool iommu;       /* the kernel has IOMMU groups */
        bool with_group;  /* group peers go with the GPU */
        bool input_relay; /* the config gets evdev inputs */
        char **kbd_mouse; /* their by-id paths: keyboard first, then mouse */
} ctx;

static vfio_guide_step *step(ctx *c, vfio_guide_step_id id)
{
        return &c->p->steps[id];
}

/* ---- 1. check ------------------------------------------------------------------------------------ */

/* The firmware switch for hardware virtualization, as the vendors' setup screens name it. */
static const char *firmware_virt(const vfio_cpu *cpu)
{
        return cpu->vendor == VFIO_CPU_VENDOR_AMD
                       ? "in the firmware setup (UEFI/BIOS, Del or F2 at power-on) set 'SVM Mode' (also 'AMD-V', 'Secure Virtual Machine'; ASUS and MSI: Advanced > CPU Configuration; Gigabyte: Tweaker > Advanced CPU Settings) to Enabled, save, and run vfioctl guide again"
                       : "in the firmware setup (UEFI/BIOS, Del or F2 at power-on) enable 'Intel Virtualization Technology' (also 'Intel VT-x', 'VMX'; ASUS: Advanced > CPU Configuration; MSI: OC > CPU Features; Gigabyte: Advanced CPU Settings; Dell, HP, Lenovo: Virtualization Support), save, and run vfioctl guide again";
}

static const char *firmware_iommu(const vfio_cpu *cpu)
{
        return cpu->vendor == VFIO_CPU_VENDOR_AMD
                       ? "in the firmware setup (UEFI/BIOS) set 'IOMMU' (also 'AMD-Vi'; ASUS, MSI, Gigabyte: Advanced > AMD CBS > NBIO Common Options > IOMMU) to Enabled, not Auto, save, and run vfioctl guide again"
                       : "in the firmware setup (UEFI/BIOS) enable 'Intel VT-d' (also 'VT for Directed I/O'; ASUS: Advanced > System Agent Configuration; MSI: OC > CPU Features; Gigabyte: Chipset; Dell, HP, Lenovo: Virtualization Technology for Directed I/O), save, and run vfioctl guide again";
}

static int plan_check(ctx *c)
{
        vfio_guide_step *s = step(c, VFIO_GUIDE_CHECK);
        int r = 0;

        for (size_t i = 0; i < c->R->n && r >= 0; i++) {
                const vfio_check *x = &c->R->checks[i];

                if (x->status != VFIO_CHECK_FAIL && x->status != VFIO_CHECK_WARN)
                        continue;
                if (strcmp(x->id, "cpu.virtualization") == 0 && x->status == VFIO_CHECK_FAIL) {
                        if (c->cpu->hypervisor) {
                                /* A VM without nested virtualization (the test bed, some clouds): the
                                 * IOMMU and VFIO still work, the guest runs emulated. */
                                c->p->tcg = true;
                                r = strv_extendf(
                                        &s->evidence,
                                        "%s: this host is itself a VM without nested virtualization, so the VM runs emulated (TCG, slow); enable nested virtualization on the outer host for KVM",
                                        x->id);
                        } else {
                                s->firmware = true;
                                r = strv_extendf(&s->why, "%s: %s; %s", x->id, x->evidence,
                                                 firmware_virt(c->cpu));
                        }
                } else if (strcmp(x->id, "kvm.module") == 0 || strcmp(x->id, "kvm.device") == 0) {
                        if (c->p->tcg)
                                continue;
                        if (x->status == VFIO_CHECK_FAIL && strstr(x->evidence, "disabled by bios")) {
                                s->firmware = true;
                                r = strv_extendf(&s->why, "%s: %s; %s", x->id, x->evidence,
                                                 firmware_virt(c->cpu));
                        } else if (strcmp(x->id, "kvm.module") == 0)
                                r = strv_extendf(
                                        &s->evidence,
                                        "%s: %s (udev loads it at boot for a CPU with VT-x/AMD-V; or now: modprobe %s)",
                                        x->id, x->evidence,
                                        vfio_cpu_kvm_module(c->cpu) ? vfio_cpu_kvm_module(c->cpu)
                                                                    : "kvm_intel");
                        else
                                r = strv_extendf(&s->evidence,
                                                 "%s: %s (the VM user step puts the user in group " VM_GROUP
                                                 ")",
                                                 x->id, x->evidence);
                } else if (strcmp(x->id, "iommu.acpi") == 0 && x->status == VFIO_CHECK_FAIL) {
                        s->firmware = true;
                        r = strv_extendf(
                                &s->why, "%s: %s; %s", x->id, x->evidence,
                                c->cpu->hypervisor
                                        ? "this host is itself a VM: its hypervisor must give it an IOMMU (QEMU: -device intel-iommu,intremap=on with -machine q35,kernel-irqchip=split; a cloud: an instance type with GPU passthrough), then run vfioctl guide again"
                                        : firmware_iommu(c->cpu));
                } else if (strcmp(x->id, "iommu.interrupt-remapping") == 0 && x->status == VFIO_CHECK_FAIL) {
                        s->firmware = true;
                        r = strv_extendf(
                                &s->why,
                                "%s: %s; in the firmware setup enable 'Interrupt Remapping' (or x2APIC) with VT-d / the IOMMU, save, and run vfioctl guide again",
                                x->id, x->evidence);
                } else if ((strcmp(x->id, "vfio.modules") == 0 || strcmp(x->id, "kernel.version") == 0 ||
                            strcmp(x->id, "qemu.probe") == 0) &&
                           x->status == VFIO_CHECK_FAIL)
                        r = strv_extendf(&s->why, "%s: %s; %s", x->id, x->evidence, x->fix ? x->fix : "");
                else if ((strcmp(x->id, "firmware.swtpm") == 0 ||
                          strcmp(x->id, "firmware.secure-boot") == 0) &&
                         !c->o->windows)
                        continue; /* Windows 11's needs: the packages step adds them with --windows */
                else if (strncmp(x->id, "qemu.", 5) == 0 || strncmp(x->id, "firmware.", 9) == 0)
                        r = strv_extendf(&s->evidence, "%s: %s (the packages step installs it)", x->id,
                                         x->evidence);
                else if (strcmp(x->id, "memory.hugepages") == 0 ||
                         strcmp(x->id, "memory.fragmentation") == 0)
                        r = strv_extendf(&s->evidence, "%s: %s (%s)", x->id, x->evidence,
                                         c->p->hugepages_1g
                                                 ? "the setup step reserves 1 GiB pages at boot"
                                                 : "no matter: the VM's memory is not on huge pages");
                else if (strncmp(x->id, "memory.", 7) == 0 || strncmp(x->id, "vfio.", 5) == 0 ||
                         strncmp(x->id, "iommu.", 6) == 0)
                        r = strv_extendf(&s->evidence, "%s: %s (the setup steps change this)", x->id,
                                         x->evidence);
                else if (x->status == VFIO_CHECK_FAIL)
                        r = strv_extendf(&s->evidence, "%s: %s", x->id, x->evidence);
        }
        if (r < 0)
                return r;
        if (strv_length(s->why) > 0)
                s->state = VFIO_GUIDE_BLOCKED;
        else {
                s->state = VFIO_GUIDE_DONE;
                if (strv_length(s->evidence) == 0)
                        r = strv_extendf(&s->evidence, "nothing is missing that a later step does not plan");
        }
        return r;
}

/* ---- 2. devices ---------------------------------------------------------------------------------- */

/* A GPU for --gpu auto: create's choice with an IOMMU; without one (no groups yet), the first display
 * function 0 that is neither the boot display nor host-critical. */
static const vfio_model_device *auto_gpu(ctx *c)
{
        const vfio_model_device *d;

        /* A GPU on vfio-pci already is the one an earlier run (or the user) set up: resume with it. */
        for (size_t i = 0; i < c->m->pci->n; i++) {
                d = &c->m->devices[i];
                if (vfio_pci_dev_is_display(d->pci) && d->pci->addr.func == 0 && d->pci->boot_vga != 1 &&
                    strv_length(d->critical) == 0 && d->pci->driver &&
                    strcmp(d->pci->driver, "vfio-pci") == 0)
                        return d;
        }
        d = c->iommu ? vm_pick_gpu(c->m) : NULL;

        if (c->iommu)
                return d;
        for (size_t i = 0; i < c->m->pci->n; i++) {
                const vfio_model_device *x = &c->m->devices[i];

                if (vfio_pci_dev_is_display(x->pci) && x->pci->addr.func == 0 && x->pci->boot_vga != 1 &&
                    strv_length(x->critical) == 0)
                        return x;
        }
        return NULL;
}

static int plan_devices(ctx *c)
{
        vfio_guide_step *s = step(c, VFIO_GUIDE_DEVICES);
        _cleanup_(vfio_selection_freep) vfio_selection *sel = NULL;
        const vfio_model_device *gpu = NULL;
        const char *sel_text = c->o->gpu && strcmp(c->o->gpu, "auto") != 0 ? c->o->gpu : NULL;
        int r;

        if (!sel_text) {
                gpu = auto_gpu(c);
                if (!gpu) {
                        s->state = VFIO_GUIDE_BLOCKED;
                        return strv_extendf(
                                &s->why,
                                "no display device of this host can be passed: the only GPU is the boot display, or each shares its IOMMU group with a device the host needs; 'vfioctl devices --gpu' shows why; a second GPU (or the host on its integrated graphics) is needed");
                }
                sel_text = gpu->pci->name;
        }
        r = vfio_selection_resolve(c->h, c->m, c->names, (char *[]){ (char *)sel_text, NULL }, 0, &sel);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                s->state = VFIO_GUIDE_BLOCKED;
                STRV_FOREACH(x, sel ? sel->problems : NULL)
                        if ((r = strv_extendf(&s->why, "--gpu %s", *x)) < 0)
                                return r;
                return strv_extendf(
                        &s->why,
                        "name one GPU with --gpu (an address, vendor:device#N or a name); 'vfioctl devices --gpu' lists them");
        }
        gpu = vfio_model_find_device(c->m, sel->items[0].name);
        if (!gpu)
                return -ENOENT;
        c->p->gpu = strdup(gpu->pci->name);
        if (!c->p->gpu)
                return -ENOMEM;
        if (!vfio_pci_dev_is_display(gpu->pci) &&
            (r = strv_extendf(&s->why,
                              "%s is not a display device (class %06x): --gpu names the GPU to pass",
                              gpu->pci->name, (unsigned)gpu->pci->class)) < 0)
                return r;
        for (size_t i = 0; i < sel->n; i++) {
                const vfio_model_device *d = vfio_model_find_device(c->m, sel->items[i].name);
                _cleanup_free_ char *name = d ? vfio_selector_device_name(c->names, d->pci) : NULL;

                if (!d)
                        continue;
                if ((r = strv_extend(&c->p->devices, d->pci->name)) < 0 ||
                    (r = strv_extendf(&s->evidence, "%s %s (%s)", d->pci->name, name ? name : "",
                                      strcmp(sel->items[i].reason, "selected") == 0
                                              ? "the GPU"
                                              : "another function of its card")) < 0)
                        return r;
                if (d->pci->boot_vga == 1)
                        r = strv_extendf(
                                &s->why,
                                "%s is the boot display: the host would lose its screen; choose another GPU with --gpu, or boot the host on another one (firmware: primary display)",
                                d->pci->name);
                STRV_FOREACH(x, d->critical)
                        if (r >= 0 && d->pci->boot_vga != 1)
                                r = strv_extendf(
                                        &s->why,
                                        "%s is needed by the host (%s): choose another GPU with --gpu",
                                        d->pci->name, *x);
                STRV_FOREACH(b, d->blockers)
                        if (r >= 0)
                                r = strv_extendf(
                                        &s->why,
                                        "%s shares IOMMU group %d with a device the host needs (%s): use another slot (one wired to the CPU), or --gpu another card",
                                        d->pci->name, d->pci->iommu_group, *b);
                if (r < 0)
                        return r;
        }
        /* VFIO assigns whole groups (Documentation/driver-api/vfio.rst): peers go along, bridges stay. */
        for (size_t i = 0; c->iommu && i < sel->n; i++) {
                const vfio_model_device *d = vfio_model_find_device(c->m, sel->items[i].name);

                STRV_FOREACH(peer, d ? d->group_peers : NULL) {
                        const vfio_model_device *pd = vfio_model_find_device(c->m, *peer);

                        if (strv_contains(c->p->devices, *peer) || !pd || strv_length(pd->critical) > 0)
                                continue;
                        c->with_group = true;
                        if ((r = strv_extend(&c->p->devices, *peer)) < 0 ||
                            (r = strv_extendf(
                                     &s->evidence,
                                     "%s shares IOMMU group %d with the GPU: it goes to the VM too (VFIO assigns whole groups)",
                                     *peer, d->pci->iommu_group)) < 0)
                                return r;
                }
        }
        if (!c->iommu &&
            (r = strv_extendf(
                     &s->evidence,
                     "IOMMU groups are not known until the IOMMU is on: they are checked after the reboot")) <
                    0)
                return r;
        s->state = strv_length(s->why) > 0 ? VFIO_GUIDE_BLOCKED : VFIO_GUIDE_DONE;
        return 0;
}

/* ---- 3. packages --------------------------------------------------------------------------------- */

static int plan_packages(ctx *c)
{
        vfio_guide_step *s = step(c, VFIO_GUIDE_PACKAGES);
        _cleanup_strv_free_ char **pkgs = NULL, **argv = NULL;
        _cleanup_free_ char *tool = NULL;
        const char *const *install = vfio_distro_install_argv(c->d);
        static const struct {
                const char *check, *pkg;
                bool windows_only;
        } need[] = {
                { "qemu.binary", "qemu-system-x86", false },
                { "firmware.ovmf", "ovmf", false },
                { "firmware.swtpm", "swtpm", true },
        };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(need); i++) {
                const vfio_check *x = vfio_check_report_find(c->R, need[i].check);

                if (need[i].windows_only && !c->o->windows)
                        continue;
                if (x && (x->status == VFIO_CHECK_FAIL ||
                          (need[i].windows_only && x->status == VFIO_CHECK_WARN))) {
                        if ((r = strv_extend(&pkgs, vfio_distro_package(c->d, need[i].pkg))) < 0)
                                return r;
                } else if ((r = strv_extendf(&s->evidence, "%s: %s", need[i].check,
                                             x ? x->evidence : "not checked")) < 0)
                        return r;
        }
        if (strv_length(pkgs) == 0) {
                s->state = VFIO_GUIDE_DONE;
                return 0;
        }
        if (vfio_hostcmd_locate(c->h, install[0], &tool) < 0) {
                _cleanup_free_ char *j = strv_join(pkgs, " ");

                s->state = VFIO_GUIDE_BLOCKED;
                return strv_extendf(
                        &s->why,
                        "%s is not installed below %s to install %s: install them with the distribution's tools, then run vfioctl guide again",
                        install[0], vfio_host_root(c->h), j ? j : "");
        }
        if ((r = strv_extend(&argv, tool)) < 0)
                return r;
        for (const char *const *a = install + 1; *a; a++)
                if ((r = strv_extend(&argv, *a)) < 0)
                        return r;
        STRV_FOREACH(x, pkgs)
                if ((r = strv_extend(&argv, *x)) < 0)
                        return r;
        s->state = VFIO_GUIDE_TODO;
        return vfio_hostcmds_add(&s->cmds, "QEMU and the UEFI firmware the VM boots with",
                                 (const char *const *)argv);
}

/* ---- 4. the VM user ------------------------------------------------------------------------------ */

static int plan_user(ctx *c)
{
        vfio_guide_step *s = step(c, VFIO_GUIDE_USER);
        int r;

        r = vfio_vmuser_plan(c->h, c->p->user, VM_GROUP, &s->cmds);
        if (r < 0)
                return r;
        s->state = s->cmds.n > 0 ? VFIO_GUIDE_TODO : VFIO_GUIDE_DONE;
        if (s->state == VFIO_GUIDE_DONE)
                return strv_extendf(&s->evidence,
                                    "%s exists and is in group " VM_GROUP " (/dev/kvm, /dev/vfio/N)",
                                    c->p->user);
        return strv_extendf(
                &s->evidence,
                "%s runs QEMU: root starts the VM and drops to this account, which gets the devices, memory lock and disk, nothing else",
                c->p->user);
}

/* ---- 5. setup ------------------------------------------------------------------------------------ */

/* Guest RAM on 1 GiB pages when the CPU maps them and the host keeps at least as much as the guest gets. */
static int decide_hugepages(ctx *c)
{
        _cleanup_free_ char *meminfo = NULL;
        uint64_t total_kb = 0;
        const char *s;

        if (c->p->memory % GIB != 0)
                return strv_extendf(&c->p->notes, "no huge pages: guest RAM is not a whole number of GiB");
        if (!c->cpu->gbpages)
                return strv_extendf(
                        &c->p->notes,
                        "no huge pages: this CPU has no 1 GiB pages (pdpe1gb), and 2 MiB pages gain little for their setup");
        if (vfio_host_read_attr(c->h, "proc/meminfo", 64 * 1024, &meminfo) >= 0 &&
            (s = strstr(meminfo, "MemTotal:")) != NULL)
                (void)sscanf(s, "MemTotal: %" SCNu64 " kB", &total_kb);
        if (total_kb * 1024 < 2 * c->p->memory)
                return strv_extendf(
                        &c->p->notes,
                        "no huge pages: 1 GiB pages reserved at boot are gone for the host, and it has %" PRIu64
                        " MiB for a %" PRIu64 " MiB guest",
                        total_kb >> 10, c->p->memory >> 20);
        c->p->hugepages_1g = true;
        return strv_extendf(&c->p->notes,
                            "guest RAM on 1 GiB huge pages, reserved at boot (%" PRIu64 " of them)",
                            c->p->memory / GIB);
}

static int plan_setup(ctx *c)
{
        vfio_guide_step *s = step(c, VFIO_GUIDE_SETUP);
        _cleanup_(vfio_selection_freep) vfio_selection *sel = NULL;
        _cleanup_free_ char *diff = NULL;
        vfio_setup_opts so = {
                .user = c->p->user,
                .group = VM_GROUP,
                .memory = c->p->memory,
                .hugepages = c->p->hugepages_1g ? c->p->memory : 0,
                .hugepage_size = c->p->hugepages_1g ? GIB : 0,
                .uinput = c->input_relay,
                .with_group = c->with_group,
                .apply_cmdline = true, /* no step needs an edit by hand */
                .vfioctl_path = c->o->vfioctl_path,
        };
        int r;

        if (!c->p->devices) {
                s->state = VFIO_GUIDE_LATER;
                return strv_extendf(&s->evidence, "waits for a GPU (the devices step)");
        }
        r = vfio_selection_resolve(c->h, c->m, NULL, c->p->devices, VFIO_SELECT_FUNCTION_ONLY, &sel);
        if (r < 0)
                return r == -ENOMEM ? r : -EINVAL;
        r = vfio_setup_plan_new(c->h, c->m, sel, &so, &c->p->setup);
        if (r < 0)
                return r;
        STRV_FOREACH(x, c->p->setup->refusals)
                if ((r = strv_extendf(&s->why, "%s", *x)) < 0)
                        return r;
        STRV_FOREACH(x, c->p->setup->notes)
                if ((r = strv_extendf(&s->evidence, "%s", *x)) < 0)
                        return r;
        if (strv_length(s->why) > 0) {
                s->state = VFIO_GUIDE_BLOCKED;
                return 0;
        }
        r = vfio_setup_diff(c->h, c->p->setup, &diff);
        if (r < 0)
                return r;
        s->state = *diff ? VFIO_GUIDE_TODO : VFIO_GUIDE_DONE;
        if (s->state == VFIO_GUIDE_DONE)
                return strv_extendf(&s->evidence, "every file is as setup plans it (/%s)", MANIFEST);
        return 0;
}

/* ---- 6. boot: the host's tools ------------------------------------------------------------------- */

static int mtime_of(const vfio_host *h, const char *path, struct timespec *ret)
{
        _cleanup_close_ int fd = vfio_host_open_path(h, path, O_PATH);
        struct stat st;

        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        *ret = st.st_mtim;
        return 0;
}

static bool ts_before(struct timespec a, struct timespec b)
{
        return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

/* The newest initramfs image of the running kernel (Debian's, dracut's, mkinitcpio's names). */
static int newest_initramfs(ctx *c, struct timespec *ret, char **ret_path)
{
        _cleanup_strv_free_ char **names = NULL;
        bool found = false;
        int r;

        r = vfio_host_list_dir(c->h, "boot", 4096, &names);
        if (r < 0)
                return r;
        STRV_FOREACH(n, names) {
                _cleanup_free_ char *p = NULL;
                struct timespec t;
                bool mine = c->k->release && (strstr(*n, c->k->release) != NULL);

                /* initrd.img-REL (initramfs-tools), initramfs-REL.img (dracut), initramfs-linux.img (Arch).
                 */
                if (!((strncmp(*n, "initrd.img-", 11) == 0 || strncmp(*n, "initramfs-", 10) == 0) &&
                      (mine || c->d->family == VFIO_FAMILY_ARCH)))
                        continue;
                if (asprintf(&p, "boot/%s", *n) < 0)
                        return -ENOMEM;
                if (mtime_of(c->h, p, &t) < 0)
                        continue;
                if (!found || ts_before(*ret, t)) {
                        *ret = t;
                        free(*ret_path);
                        *ret_path = TAKE_PTR(p);
                        found = true;
                }
        }
        return found ? 0 : -ENOENT;
}

/* Whether the initramfs was rebuilt after the last change to what goes into it. */
static int initramfs_current(ctx *c, char ***evidence)
{
        static const char *const inputs[] = { "etc/initramfs-tools/modules",
                                              "etc/dracut.conf.d/vfioctl.conf",
                                              "etc/mkinitcpio.conf.d/vfioctl.conf", "etc/mkinitcpio.conf",
                                              "etc/modprobe.d/vfioctl.conf" };
        _cleanup_free_ char *image = NULL;
        struct timespec img = {}, t;
        int r;

        r = newest_initramfs(c, &img, &image);
        if (r == -ENOENT || r == -ENOTDIR)
                return strv_extendf(evidence, "no initramfs image of %s in /boot yet",
                                    c->k->release ? c->k->release : "this kernel") < 0
                               ? -ENOMEM
                               : 0;
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(inputs); i++)
                if (mtime_of(c->h, inputs[i], &t) >= 0 && ts_before(img, t))
                        return strv_extendf(evidence, "/%s is older than /%s", image, inputs[i]) < 0
                                       ? -ENOMEM
                                       : 0;
        return strv_extendf(evidence, "/%s was made after the module list and modprobe.d", image) < 0
                       ? -ENOMEM
                       : 1;
}

/* Whether the boot loader's generated configuration carries every parameter setup added. */
static int bootloader_current(ctx *c, char ***evidence)
{
        static const char *const cfgs[] = { "boot/grub/grub.cfg", "boot/grub2/grub.cfg" };
        const vfio_setup_plan *sp = c->p->setup;

        if (!sp->bootloader || strcmp(sp->bootloader, "grub") != 0)
                return 0; /* grubby, kernelstub, kernel-install: the reboot step sees what they did */
        for (size_t i = 0; i < ELEMENTSOF(cfgs); i++) {
                _cleanup_free_ char *text = NULL;
                bool all = true;

                if (vfio_hostfile_read(c->h, cfgs[i], 16u << 20, &text, NULL) < 0)
                        continue;
                STRV_FOREACH(a, sp->cmdline_add)
                        all &= strstr(text, *a) != NULL;
                if (all)
                        return strv_extendf(evidence, "/%s carries %s", cfgs[i],
                                            "the new kernel parameters") < 0
                                       ? -ENOMEM
                                       : 1;
                return strv_extendf(evidence, "/%s lacks some of the new kernel parameters", cfgs[i]) < 0
                               ? -ENOMEM
                               : 0;
        }
        return strv_extendf(evidence, "no grub.cfg in /boot/grub or /boot/grub2 yet") < 0 ? -ENOMEM : 0;
}

static int boot_time(const vfio_host *h, time_t *ret);

static int plan_boot(ctx *c)
{
        vfio_guide_step *s = step(c, VFIO_GUIDE_BOOT);
        const vfio_setup_plan *sp = c->p->setup;
        bool initramfs = false, loader = false, current = true;
        int r;

        if (!sp) {
                s->state = VFIO_GUIDE_LATER;
                return 0;
        }
        for (size_t i = 0; i < sp->effect.n; i++) {
                const char *tool = strrchr(sp->effect.items[i].argv[0], '/') + 1;

                initramfs |= strcmp(tool, "update-initramfs") == 0 || strcmp(tool, "dracut") == 0 ||
                             strcmp(tool, "mkinitcpio") == 0;
                loader |= strcmp(tool, "update-grub") == 0 || strstr(tool, "mkconfig") != NULL;
                r = vfio_hostcmds_add(&s->cmds, sp->effect.items[i].why,
                                      (const char *const *)sp->effect.items[i].argv);
                if (r < 0)
                        return r;
        }
        STRV_FOREACH(x, sp->effect_missing)
                if ((r = strv_extendf(
                             &s->why,
                             "%s is not installed: install the distribution's package for it, then run vfioctl guide again",
                             *x)) < 0)
                        return r;
        if (strv_length(s->why) > 0) {
                s->state = VFIO_GUIDE_BLOCKED;
                return 0;
        }
        if (step(c, VFIO_GUIDE_SETUP)->state != VFIO_GUIDE_DONE) {
                s->state = s->cmds.n > 0 ? VFIO_GUIDE_LATER : VFIO_GUIDE_DONE;
                return 0;
        }
        if (initramfs) {
                r = initramfs_current(c, &s->evidence);
                if (r < 0)
                        return r;
                current &= r > 0;
        }
        if (loader) {
                r = bootloader_current(c, &s->evidence);
                if (r < 0)
                        return r;
                current &= r > 0;
        }
        /* Only the initramfs and the boot loader are checked: the reloads of systemd and udev matter until
         * the reboot, which does them anyway. So with nothing else left, a boot later than setup's files
         * (the manifest's mtime) is the reloads done. */
        if (!initramfs && !loader && s->cmds.n > 0) {
                struct timespec setup_at;
                time_t booted;

                if (mtime_of(c->h, MANIFEST, &setup_at) >= 0 && boot_time(c->h, &booted) >= 0 &&
                    booted > setup_at.tv_sec) {
                        s->state = VFIO_GUIDE_DONE;
                        return strv_extendf(
                                &s->evidence,
                                "the host booted after setup wrote its files: systemd and udev read them then");
                }
        }
        s->state = s->cmds.n == 0 || ((initramfs || loader) && current) ? VFIO_GUIDE_DONE : VFIO_GUIDE_TODO;
        return 0;
}

/* ---- 7. reboot ----------------------------------------------------------------------------------- */

/* When the host booted, from proc/stat (btime); -ENOENT in a captured tree without it. */
static int boot_time(const vfio_host *h, time_t *ret)
{
        _cleanup_free_ char *stat = NULL;
        const char *s;
        long long t;

        if (vfio_host_read_attr(h, "proc/stat", 1u << 20, &stat) < 0 || !(s = strstr(stat, "\nbtime ")) ||
            sscanf(s, "\nbtime %lld", &t) != 1)
                return -ENOENT;
        *ret = (time_t)t;
        return 0;
}

static int plan_reboot(ctx *c)
{
        vfio_guide_step *s = step(c, VFIO_GUIDE_REBOOT);
        const vfio_setup_plan *sp = c->p->setup;
        _cleanup_strv_free_ char **reasons = NULL;
        struct timespec setup_at;
        time_t booted;
        bool rebooted;
        int r = 0;

        if (!sp) {
                s->state = VFIO_GUIDE_LATER;
                return 0;
        }
        STRV_FOREACH(a, sp->cmdline_add)
                if ((r = strv_extendf(
                             &reasons,
                             "the kernel command line lacks %s (%s): the kernel reads it only at boot", *a,
                             sp->bootloader ? "written to the boot loader's configuration"
                                            : "add it to the boot loader")) < 0)
                        return r;
        STRV_FOREACH(a, c->p->devices) {
                const vfio_pci_dev *d = vfio_pci_list_find(c->m->pci, *a);

                if (!d || (d->driver && strcmp(d->driver, "vfio-pci") == 0))
                        continue;
                r = strv_extendf(
                        &reasons,
                        "%s is on %s: the boot-time binding gives it to vfio-pci at boot (or now: vfioctl bind %s, then run vfioctl guide again)",
                        d->name, d->driver ? d->driver : "no driver", d->name);
                if (r < 0)
                        return r;
        }
        if (!c->iommu && strv_length(reasons) == 0 &&
            (r = strv_extendf(&reasons, "the kernel has no IOMMU groups: the IOMMU turns on at boot")) < 0)
                return r;
        if (strv_length(reasons) == 0) {
                s->state = VFIO_GUIDE_DONE;
                r = strv_extendf(
                        &s->evidence,
                        "the kernel command line has what setup planned, and %zu IOMMU group(s) exist",
                        c->m->iommu ? c->m->iommu->n_groups : 0);
                STRV_FOREACH(a, c->p->devices)
                        if (r >= 0)
                                r = strv_extendf(&s->evidence, "%s is on vfio-pci", *a);
                return r;
        }
        if (step(c, VFIO_GUIDE_SETUP)->state != VFIO_GUIDE_DONE ||
            step(c, VFIO_GUIDE_BOOT)->state != VFIO_GUIDE_DONE) {
                s->state = VFIO_GUIDE_LATER;
                s->why = TAKE_PTR(reasons);
                return 0;
        }
        /* Rebooted since setup wrote its files? Then what is still missing did not take effect: say why. */
        rebooted = mtime_of(c->h, MANIFEST, &setup_at) >= 0 && boot_time(c->h, &booted) >= 0 &&
                   booted > setup_at.tv_sec;
        if (!rebooted) {
                s->state = VFIO_GUIDE_REBOOT_NEEDED;
                s->why = TAKE_PTR(reasons);
                return 0;
        }
        s->state = VFIO_GUIDE_BLOCKED;
        STRV_FOREACH(x, reasons)
                if ((r = strv_extendf(&s->why, "after the reboot, %s", *x)) < 0)
                        return r;
        STRV_FOREACH(a, sp->cmdline_add) {
                _cleanup_strv_free_ char **ev = NULL;

                if (sp->bootloader && strcmp(sp->bootloader, "grub") == 0) {
                        r = bootloader_current(c, &ev);
                        if (r < 0)
                                return r;
                        r = strv_extendf(
                                &s->why,
                                r > 0 ? "grub.cfg has %s, but the kernel did not boot with it: the firmware boots another boot loader or entry; choose the GRUB entry of this system"
                                      : "grub.cfg does not have %s: run the boot step's command again (vfioctl guide), then reboot",
                                *a);
                } else
                        r = strv_extendf(&s->why,
                                         "the boot entry does not pass %s: check the boot loader's entries",
                                         *a);
                if (r < 0)
                        return r;
                break;
        }
        STRV_FOREACH(a, c->p->devices) {
                const vfio_pci_dev *d = vfio_pci_list_find(c->m->pci, *a);

                if (d && !(d->driver && strcmp(d->driver, "vfio-pci") == 0))
                        return strv_extendf(
                                &s->why,
                                "vfio-pci did not take %s at boot: see 'journalctl -b -u vfioctl-bind.service' and whether the initramfs has vfio_pci (lsinitramfs, lsinitrd)",
                                d->name);
        }
        return 0;
}

/* ---- 8. create ----------------------------------------------------------------------------------- */

/* The keyboard and mouse to relay: their /dev/input/by-id links (USB devices have them), if any. */
static int find_inputs(ctx *c)
{
        vfio_input_dev *devs = NULL;
        const char *kbd = NULL, *mouse = NULL;
        size_t n = 0;
        int r;

        r = vfio_input_list(c->h, false, &devs, &n);
        if (r < 0)
                return 0; /* no input devices to read: none passed */
        for (size_t i = 0; i < n; i++)
                STRV_FOREACH(l, devs[i].links) {
                        if (!strstr(*l, "/by-id/"))
                                continue;
                        if (!kbd && (devs[i].kinds & VFIO_INPUT_KEYBOARD) && strstr(*l, "-event-kbd"))
                                kbd = *l;
                        else if (!mouse && (devs[i].kinds & VFIO_INPUT_MOUSE) && strstr(*l, "-event-mouse"))
                                mouse = *l;
                }
        /* The links are below dev/input; the config names them from /. */
        if ((kbd && (r = strv_extendf(&c->kbd_mouse, "/dev/input/%s", kbd)) < 0) ||
            (mouse && (r = strv_extendf(&c->kbd_mouse, "/dev/input/%s", mouse)) < 0))
                goto out;
        c->input_relay = kbd || mouse;
        r = 0;
out:
        vfio_input_devs_free(TAKE_PTR(devs), n);
        return r;
}

static int add_inputs(ctx *c, vm_config *cfg)
{
        for (size_t i = 0; i < strv_length(c->kbd_mouse); i++) {
                vm_input *n = realloc(cfg->inputs, (cfg->n_inputs + 1) * sizeof(*n));

                if (!n)
                        return -ENOMEM;
                cfg->inputs = n;
                n = &cfg->inputs[cfg->n_inputs];
                *n = (vm_input){ .type = VM_INPUT_EVDEV, .grab_all = true, .repeat = true };
                n->name = strdup(strstr(c->kbd_mouse[i], "-event-kbd") ? "keyboard" : "mouse");
                n->evdev = strdup(c->kbd_mouse[i]);
                if (!n->name || !n->evdev) {
                        free(n->name);
                        free(n->evdev);
                        return -ENOMEM;
                }
                cfg->n_inputs++;
        }
        return 0;
}

static int build_config(ctx *c, char ***warnings, char ***errors)
{
        _cleanup_(vm_config_freep) vm_config *cfg = NULL;
        _cleanup_(vfio_account_freep) vfio_account *acct = NULL;
        _cleanup_free_ char *state_abs = NULL, *pulse = NULL;
        vm_create_opts co = {
                .gpu = c->p->gpu,
                .memory = c->o->memory,
                .cpus = c->o->cpus,
                .disk = c->o->disk,
                .iso = c->o->iso,
                .windows = c->o->windows,
                .user = c->p->user,
                .desktop_user = c->o->desktop_user,
        };
        int r;

        if (asprintf(&state_abs, "/%s", c->p->state_dir) < 0)
                return -ENOMEM;
        co.state_dir = state_abs;
        r = vm_config_new(c->p->name, &cfg);
        if (r < 0)
                return r;
        r = vm_create_build(cfg, c->h, c->m, c->names, &co, warnings, errors);
        if (r < 0)
                return r;
        if (c->p->tcg) {
                /* No KVM here (a VM without nested virtualization): QEMU emulates the CPU. */
                cfg->vm.accel = VM_ACCEL_TCG;
                free(cfg->cpu.model);
                if (!(cfg->cpu.model = strdup("max")))
                        return -ENOMEM;
        }
        if (c->p->hugepages_1g)
                cfg->memory.hugepages = VM_HUGEPAGES_1G;
        /* QEMU runs as the VM user: without the sound server's socket it reaches, the sound card is there
         * for the guest and the sound goes nowhere, instead of QEMU failing to start. With a desktop user
         * other than the VM user that is the desktop session's, through setup's grant ([audio] server =
         * desktop, docs/audio.md); else the VM user's own session's. */
        if (cfg->vm.desktop_user && strcmp(cfg->vm.desktop_user, c->p->user) != 0) {
                if (asprintf(&pulse, VFIO_AUDIO_GRANT_DIR "/%s/native", c->p->user) < 0)
                        return -ENOMEM;
                if (vfio_host_exists(c->h, pulse) <= 0) {
                        cfg->audio.backend = VM_AUDIO_NONE;
                        if ((r = strv_extendf(
                                     &c->p->notes,
                                     "audio: %s's sound server reaches QEMU only through setup's grant (/%s is not there), so [audio] backend = none; to hear the VM set backend = pa in /%s, then run: sudo vfioctl setup --vm %s",
                                     cfg->vm.desktop_user, pulse, c->p->config_path, c->p->name)) < 0)
                                return r;
                }
        } else if (vfio_account_lookup(c->h, c->p->user, &acct) >= 0 &&
                   asprintf(&pulse, "run/user/%" PRIu32 "/pulse/native", acct->uid) >= 0 &&
                   vfio_host_exists(c->h, pulse) <= 0) {
                cfg->audio.backend = VM_AUDIO_NONE;
                if ((r = strv_extendf(
                             &c->p->notes,
                             "audio: %s has no PulseAudio or PipeWire session (/%s), so [audio] backend = none; set pa when it does",
                             c->p->user, pulse)) < 0)
                        return r;
        } else if (!acct)
                cfg->audio.backend = VM_AUDIO_NONE;
        r = add_inputs(c, cfg);
        if (r < 0)
                return r;
        if (cfg->n_disks > 0 && cfg->disks[0].media == VM_MEDIA_DISK && c->o->disk && c->o->disk[0] != '/') {
                if (parse_size(c->o->disk, &c->p->disk_size) < 0)
                        return -EINVAL;
                c->p->disk_path = strdup(cfg->disks[0].path);
                if (!c->p->disk_path)
                        return -ENOMEM;
        }
        return vm_config_write(cfg, VM_CONFIG_WRITE_GUIDE, NULL, &c->p->config_text);
}

static int plan_create(ctx *c)
{
        vfio_guide_step *s = step(c, VFIO_GUIDE_CREATE);
        _cleanup_strv_free_ char **warnings = NULL, **errors = NULL;
        _cleanup_free_ char *text = NULL;
        bool config_done = false, disk_done = true;
        int r;

        if (!c->p->gpu) {
                s->state = VFIO_GUIDE_LATER;
                return 0;
        }
        r = build_config(c, &warnings, &errors);
        if (r == -ENOMEM)
                return r;
        STRV_FOREACH(e, errors)
                if ((r = strv_extendf(&s->why, "%s", *e)) < 0)
                        return r;
        if (r < 0 || strv_length(s->why) > 0) {
                s->state = VFIO_GUIDE_BLOCKED;
                return 0;
        }
        STRV_FOREACH(w, warnings)
                if ((r = strv_extendf(&s->evidence, "%s", *w)) < 0)
                        return r;
        r = vfio_hostfile_read(c->h, c->p->config_path, VM_CONFIG_MAX_SIZE, &text, NULL);
        if (r >= 0) {
                _cleanup_(vm_config_freep) vm_config *have = NULL;
                _cleanup_strv_free_ char **perr = NULL;

                /* A config there already is kept (it may hold the user's edits) when it is valid. */
                if (vm_config_parse_string(text, c->p->config_path, c->p->name, &have, &perr) < 0) {
                        s->state = VFIO_GUIDE_BLOCKED;
                        STRV_FOREACH(e, perr)
                                if ((r = strv_extendf(&s->why, "/%s", *e)) < 0)
                                        return r;
                        return strv_extendf(
                                &s->why,
                                "fix /%s (vfioctl validate names each error), or remove it to have it written again",
                                c->p->config_path);
                }
                config_done = true;
                if (!have->vm.user || strcmp(have->vm.user, c->p->user) != 0)
                        r = strv_extendf(&s->evidence, "/%s exists with [vm] user = %s; kept as it is",
                                         c->p->config_path, have->vm.user ? have->vm.user : "(none)");
                else
                        r = strv_extendf(&s->evidence, "/%s exists (user %s); kept as it is",
                                         c->p->config_path, c->p->user);
                if (r < 0)
                        return r;
        } else if (r != -ENOENT && r != -ENOTDIR)
                return r;
        if (c->p->disk_path) {
                _cleanup_free_ char *rel = strdup(c->p->disk_path + 1);

                if (!rel)
                        return -ENOMEM;
                disk_done = vfio_host_exists(c->h, rel) > 0;
                if (disk_done && (r = strv_extendf(&s->evidence, "%s exists", c->p->disk_path)) < 0)
                        return r;
        }
        if (config_done && disk_done)
                s->state = VFIO_GUIDE_DONE;
        else
                s->state = step(c, VFIO_GUIDE_REBOOT)->state == VFIO_GUIDE_DONE ? VFIO_GUIDE_TODO
                                                                                : VFIO_GUIDE_LATER;
        return 0;
}

/* ---- 9. verify: check --vm ----------------------------------------------------------------------- */

static int plan_verify(ctx *c)
{
        vfio_guide_step *s = step(c, VFIO_GUIDE_VERIFY);
        _cleanup_(vfio_check_report_freep) vfio_check_report *R = NULL;
        _cleanup_free_ char *err = NULL;
        vfio_check_options co = {
                .user = c->p->user,
                .memory = c->p->memory,
                .pass = c->p->devices,
                .probe = NULL, /* probed by the check step already */
                .input_relay = c->input_relay,
        };
        int r;

        if (step(c, VFIO_GUIDE_CREATE)->state != VFIO_GUIDE_DONE) {
                s->state = VFIO_GUIDE_LATER;
                return 0;
        }
        r = vfio_check_run(c->h, &co, &R, &err);
        if (r < 0)
                return r == -ENOMEM ? r : strv_extendf(&s->why, "%s", err ? err : strerror(-r));
        for (size_t i = 0; i < R->n; i++) {
                const vfio_check *x = &R->checks[i];

                /* Without KVM (emulated) the KVM checks do not apply; the firmware was judged before. */
                if (c->p->tcg &&
                    (strcmp(x->id, "cpu.virtualization") == 0 || strncmp(x->id, "kvm.", 4) == 0))
                        continue;
                if (x->status == VFIO_CHECK_FAIL)
                        r = strv_extendf(&s->why, "%s: %s%s%s", x->id, x->evidence, x->fix ? "; fix: " : "",
                                         x->fix ? x->fix : "");
                else if (x->status == VFIO_CHECK_WARN)
                        r = strv_extendf(&s->evidence, "%s (warning): %s", x->id, x->evidence);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < R->quirks->n; i++)
                if (R->quirks->items[i].action == VFIO_QUIRK_FAIL && !R->quirks->items[i].candidate &&
                    (r = strv_extendf(&s->why, "quirk %s: %s", R->quirks->items[i].quirk->id,
                                      R->quirks->items[i].evidence)) < 0)
                        return r;
        s->state = strv_length(s->why) > 0 ? VFIO_GUIDE_BLOCKED : VFIO_GUIDE_DONE;
        if (s->state == VFIO_GUIDE_DONE)
                return strv_extendf(&s->evidence, "no check fails for %s with %" PRIu64 " MiB as %s",
                                    c->p->gpu, c->p->memory >> 20, c->p->user);
        return 0;
}

/* ---- the GPUs to choose from --------------------------------------------------------------------- */

void vfio_guide_gpus_free(vfio_guide_gpu *g, size_t n)
{
        for (size_t i = 0; g && i < n; i++) {
                free(g[i].address);
                free(g[i].description);
                free(g[i].why_not);
        }
        free(g);
}

int vfio_guide_gpus(const vfio_host *h, vfio_guide_gpu **ret, size_t *ret_n, size_t *ret_default)
{
        _cleanup_(vfio_model_freep) vfio_model *m = NULL;
        _cleanup_(vfio_pci_names_freep) vfio_pci_names *names = NULL;
        vfio_guide_gpu *v = NULL;
        const vfio_model_device *pick;
        size_t n = 0, def;
        bool iommu;
        int r;

        r = vfio_model_load(h, &m);
        if (r < 0)
                return r;
        (void)vfio_pci_names_new(NULL, &names);
        iommu = m->iommu && vfio_iommu_enabled(m->iommu);
        {
                ctx c = { .h = h, .m = m, .iommu = iommu };

                pick = auto_gpu(&c);
        }
        def = SIZE_MAX;
        /* Two passes: the passable ones first, then the others with the reason. */
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < m->pci->n; i++) {
                        const vfio_model_device *d = &m->devices[i];
                        _cleanup_free_ char *name = NULL, *why = NULL, *desc = NULL;
                        vfio_guide_gpu *nv;

                        if (!vfio_pci_dev_is_display(d->pci) || d->pci->addr.func != 0)
                                continue;
                        if (d->pci->boot_vga == 1)
                                why = strdup("the boot display: the host would lose its screen");
                        else if (strv_length(d->critical) > 0)
                                r = asprintf(&why, "needed by the host (%s)", d->critical[0]);
                        else if (strv_length(d->blockers) > 0)
                                r = asprintf(&why, "its IOMMU group holds a device the host needs (%s)",
                                             d->blockers[0]);
                        if (r < 0)
                                goto oom;
                        if ((pass == 0) != !why)
                                continue;
                        name = vfio_selector_device_name(names, d->pci);
                        if (iommu)
                                r = asprintf(&desc, "%s [%04x:%04x], IOMMU group %d", name ? name : "",
                                             (unsigned)d->pci->vendor & 0xffff,
                                             (unsigned)d->pci->device & 0xffff, d->pci->iommu_group);
                        else
                                r = asprintf(&desc, "%s [%04x:%04x]", name ? name : "",
                                             (unsigned)d->pci->vendor & 0xffff,
                                             (unsigned)d->pci->device & 0xffff);
                        if (r < 0)
                                goto oom;
                        nv = realloc(v, (n + 1) * sizeof(*v));
                        if (!nv)
                                goto oom;
                        v = nv;
                        v[n] = (vfio_guide_gpu){ .address = strdup(d->pci->name),
                                                 .description = TAKE_PTR(desc),
                                                 .why_not = TAKE_PTR(why) };
                        if (!v[n].address) {
                                n++;
                                goto oom;
                        }
                        if (pick && d == pick)
                                def = n;
                        n++;
                }
        *ret = v;
        *ret_n = n;
        *ret_default = def == SIZE_MAX ? n : def;
        return 0;
oom:
        vfio_guide_gpus_free(v, n);
        return -ENOMEM;
}

/* ---- 10. start ---------------------------------------------------------------------------------- */

/* Runs, paused or being started now (by an earlier run, killed meanwhile): the runtime record says so. */
static int plan_start(ctx *c)
{
        vfio_guide_step *s = step(c, VFIO_GUIDE_START);
        _cleanup_(vm_run_freep) vm_run *run = NULL;
        _cleanup_(vm_runstate_freep) vm_runstate *st = NULL;
        _cleanup_free_ char *err = NULL;

        if (step(c, VFIO_GUIDE_VERIFY)->state != VFIO_GUIDE_DONE) {
                s->state = VFIO_GUIDE_LATER;
                return 0;
        }
        s->state = VFIO_GUIDE_TODO;
        if (vm_run_open(vfio_host_is_live(c->h) ? NULL : vfio_host_root(c->h), c->p->name, false, &run,
                        &err) < 0 ||
            vm_run_load(run, &st) < 0)
                return 0;
        if (st->state == VM_STATE_STARTING)
                /* Its start holds the lock: applying the step waits for it (-EBUSY). */
                return strv_extendf(&s->evidence, "%s is being started (pid %d)", c->p->name, (int)st->pid);
        if (st->state == VM_STATE_RUNNING || st->state == VM_STATE_PAUSED) {
                s->state = VFIO_GUIDE_DONE;
                return strv_extendf(&s->evidence, "%s %s (pid %d, user %s)", c->p->name,
                                    vm_state_to_string(st->state), (int)st->pid, st->user ? st->user : "?");
        }
        return 0;
}

int vfio_guide_start(const vfio_host *h, const vfio_guide_plan *p, const char *modprobe,
                     vfio_report_fn report, void *userdata, vfio_problems *problems, int *ret_pid,
                     char **ret_error)
{
        _cleanup_(vm_config_freep) vm_config *c = NULL;
        _cleanup_(vm_start_freep) vm_start *x = NULL;
        _cleanup_(vfio_problems_freep) vfio_problems *notes = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ char *path = NULL;
        pid_t pid;
        int r;

        if (!vfio_host_is_live(h))
                return -EROFS;
        if (asprintf(&path, "/%s", p->config_path) < 0)
                return -ENOMEM;
        /* Loaded as start loads it as root: a config another user could have changed is refused. */
        r = vfio_perm_load_config(path, &c, &errors);
        if (r < 0 || vm_config_check(c, &errors) < 0) {
                if (ret_error)
                        *ret_error = strv_join(errors, "; ");
                return r < 0 ? r : -EINVAL;
        }
        r = vm_start_new(c,
                         &(vm_start_options){ .modprobe = modprobe, .report = report, .userdata = userdata },
                         &x, ret_error);
        if (r < 0)
                return r;
        r = vm_start_lock(x, ret_error);
        if (r < 0)
                return r;
        r = vm_start_preflight(x, problems, ret_error);
        if (r < 0)
                return r;
        if (vfio_problems_has_errors(problems)) {
                /* Never half-changed: what preflight bound or reserved goes back. */
                vm_start_abort(x);
                return -EPERM;
        }
        if (vfio_problems_new(&notes) < 0)
                return -ENOMEM;
        r = vm_start_prepare(x, notes, ret_error);
        if (r < 0)
                return r;
        r = vm_start_detach(x, &pid, ret_error);
        if (r < 0)
                return r;
        *ret_pid = (int)pid;
        return 0;
}

/* ---- the plan ------------------------------------------------------------------------------------ */

static void ctx_done(ctx *c)
{
        vfio_model_free(c->m);
        vfio_cpu_free(c->cpu);
        vfio_kernel_free(c->k);
        vfio_distro_free(c->d);
        vfio_check_report_free(c->R);
        vfio_pci_names_free(c->names);
        strv_free(c->kbd_mouse);
}

int vfio_guide_plan_new(const vfio_host *h, const vfio_guide_opts *o, vfio_guide_plan **ret,
                        char **ret_error)
{
        _cleanup_(vfio_guide_plan_freep) vfio_guide_plan *p = calloc(1, sizeof(*p));
        _cleanup_free_ char *err = NULL;
        _cleanup_(vfio_account_freep) vfio_account *acct = NULL;
        ctx c = { .h = h, .o = o, .p = p };
        vfio_check_options co = { .probe = o->probe };
        int r;

        if (!p)
                return -ENOMEM;
        for (size_t i = 0; i < _VFIO_GUIDE_STEP_MAX; i++)
                p->steps[i].id = (vfio_guide_step_id)i;
        p->name = strdup(o->name);
        p->user = o->user ? strdup(o->user) : vfio_guide_default_user(o->name);
        p->qemu_img = o->qemu_img ? strdup(o->qemu_img) : NULL;
        if (!p->name || !p->user || (o->qemu_img && !p->qemu_img) ||
            asprintf(&p->config_path, CONFIG_DIR "/%s.conf", o->name) < 0 ||
            asprintf(&p->state_dir, STATE_DIR "/%s", o->name) < 0)
                return -ENOMEM;
        /* The default is the VM's name itself behind "vm-": a name it had to change (case, '.', cut at 29)
         * could be another VM's user too ("win.11" and "win-11"), and two VMs sharing one user share their
         * disks and state with each other's QEMU. */
        if (!o->user && strcmp(p->user + 3, o->name) != 0) {
                if (ret_error)
                        (void)asprintf(
                                ret_error,
                                "the VM name '%s' does not make a user name as it is (%s would be the user of another VM named so): give the VM its own user with --user NAME",
                                o->name, p->user);
                return -EINVAL;
        }
        if (!vfio_vmuser_name_valid(p->user)) {
                if (ret_error)
                        (void)asprintf(
                                ret_error,
                                "'%s' is not a user name useradd accepts (lower-case letters, digits, - and _, at most 32)",
                                p->user);
                return -EINVAL;
        }
        p->memory = 8 * GIB;
        if (o->memory && (parse_size(o->memory, &p->memory) < 0 || p->memory < (256ULL << 20))) {
                if (ret_error)
                        (void)asprintf(ret_error,
                                       "--memory: '%s' is not a size of at least 256M (16G, 16384M)",
                                       o->memory);
                return -EINVAL;
        }

        if ((r = vfio_model_load(h, &c.m)) < 0 || (r = vfio_cpu_read(h, &c.cpu)) < 0 ||
            (r = vfio_kernel_read(h, &c.k)) < 0 || (r = vfio_distro_read(h, &c.d)) < 0)
                goto out;
        (void)vfio_pci_names_new(NULL, &c.names);
        c.iommu = c.m->iommu && vfio_iommu_enabled(c.m->iommu);
        /* The checks as the VM user would see them, once it exists; root until then. */
        co.user = vfio_account_lookup(h, p->user, &acct) >= 0 ? p->user : "root";
        co.memory = p->memory;
        r = vfio_check_run(h, &co, &c.R, &err);
        if (r < 0)
                goto out;
        if ((r = decide_hugepages(&c)) < 0 || (r = plan_check(&c)) < 0 || (r = plan_devices(&c)) < 0 ||
            (r = find_inputs(&c)) < 0 || (r = plan_packages(&c)) < 0 || (r = plan_user(&c)) < 0 ||
            (r = plan_setup(&c)) < 0 || (r = plan_boot(&c)) < 0 || (r = plan_reboot(&c)) < 0 ||
            (r = plan_create(&c)) < 0 || (r = plan_verify(&c)) < 0)
                goto out;
        if ((r = plan_start(&c)) < 0)
                goto out;
        /* A step after one that is not done waits for it: what it would do may change. */
        for (size_t i = 1; i < _VFIO_GUIDE_STEP_MAX; i++)
                if (p->steps[i - 1].state != VFIO_GUIDE_DONE && p->steps[i].state == VFIO_GUIDE_TODO)
                        p->steps[i].state = VFIO_GUIDE_LATER;
        *ret = TAKE_PTR(p);
        r = 0;
out:
        if (r < 0 && ret_error && !*ret_error)
                *ret_error = err ? TAKE_PTR(err) : strdup(strerror(-r));
        ctx_done(&c);
        return r;
}

/* ---- applying a step ----------------------------------------------------------------------------- */

void vfio_guide_arm_kill(const char *spec, vfio_guide_step_id id)
{
        const char *colon = spec ? strchr(spec, ':') : NULL, *name = vfio_guide_step_name(id);
        uint64_t ms = 0;
        pid_t me = getpid(), pid;

        if (!colon || (size_t)(colon - spec) != strlen(name) || strncmp(spec, name, strlen(name)) != 0 ||
            parse_uint(colon + 1, 10, 600000, &ms) < 0)
                return;
        fflush(NULL);
        /* A watchdog child, so the kill lands wherever the step is then, even inside a wait. */
        pid = fork();
        if (pid != 0)
                return;
        {
                struct timespec t = { .tv_sec = (time_t)(ms / 1000),
                                      .tv_nsec = (long)(ms % 1000) * 1000000L };

                while (nanosleep(&t, &t) < 0 && errno == EINTR)
                        ;
        }
        if (getppid() == me)
                (void)kill(me, SIGKILL);
        _exit(0);
}

/* A process of root's: its real and effective uid are 0 (proc/PID/status "Uid:" line). */
static bool run_by_root(const vfio_host *h, const char *pid)
{
        _cleanup_free_ char *path = NULL, *status = NULL;
        unsigned ruid, euid;
        const char *u;

        if (asprintf(&path, "proc/%s/status", pid) < 0 ||
            vfio_host_read_attr(h, path, 1u << 16, &status) < 0)
                return false;
        u = strstr(status, "\nUid:");
        return u && sscanf(u, "\nUid: %u %u", &ruid, &euid) == 2 && ruid == 0 && euid == 0;
}

bool vfio_guide_boot_tool_running(const vfio_host *h, char **ret_which)
{
        static const char *const tools[] = { "update-initramf", "mkinitramfs", "dracut",
                                             "mkinitcpio",      "update-grub", "grub-mkconfig",
                                             "grub2-mkconfig" };
        _cleanup_strv_free_ char **pids = NULL;

        if (vfio_host_list_dir(h, "proc", 1u << 20, &pids) < 0)
                return false;
        STRV_FOREACH(pid, pids) {
                _cleanup_free_ char *path = NULL, *comm = NULL;

                if (strspn(*pid, "0123456789") != strlen(*pid) ||
                    asprintf(&path, "proc/%s/comm", *pid) < 0 || vfio_host_read_attr(h, path, 64, &comm) < 0)
                        continue;
                comm[strcspn(comm, "\n")] = 0;
                for (size_t i = 0; i < ELEMENTSOF(tools); i++)
                        /* Any user can name a process "dracut"; only root's can be the boot step's tool. */
                        if (strcmp(comm, tools[i]) == 0 && run_by_root(h, *pid)) {
                                if (ret_which)
                                        (void)asprintf(ret_which, "%s (pid %s)", comm, *pid);
                                return true;
                        }
        }
        return false;
}

static int run_cmds(const vfio_host *h, const vfio_hostcmds *l, char ***log, char **ret_error)
{
        int r;

        /* Bounded: 20 minutes is more than any initramfs takes, even emulated. */
        for (unsigned i = 0; vfio_host_is_live(h) && i < 1200; i++) {
                _cleanup_free_ char *which = NULL;

                if (!vfio_guide_boot_tool_running(h, &which))
                        break;
                if (i == 0 && log)
                        (void)strv_extendf(log, "waited for %s, still running from an earlier run",
                                           which ? which : "a boot tool");
                (void)sleep(1);
        }

        for (size_t i = 0; i < l->n; i++) {
                _cleanup_free_ char *shown = vfio_hostcmd_format(&l->items[i]), *err = NULL;

                r = vfio_hostcmd_run(h, &l->items[i], true, &err);
                if (r == -EROFS) {
                        if (ret_error)
                                (void)asprintf(
                                        ret_error,
                                        "commands are not run below --root (they would change this host): on the host of %s, run: %s",
                                        vfio_host_root(h), shown ? shown : "");
                        return r;
                }
                if (r < 0) {
                        if (ret_error)
                                (void)asprintf(ret_error, "%s failed%s%s", shown ? shown : "?",
                                               err ? ": " : "", err ? err : "");
                        return r;
                }
                if (log)
                        (void)strv_extendf(log, "ran %s", shown ? shown : "?");
        }
        return 0;
}

static int apply_create(const vfio_host *h, const vfio_guide_plan *p, char ***log, char **ret_error)
{
        _cleanup_(vfio_account_freep) vfio_account *acct = NULL;
        int r;

        r = vfio_account_lookup(h, p->user, &acct);
        if (r < 0) {
                if (ret_error)
                        (void)asprintf(ret_error, "user %s does not exist (the user step creates it)",
                                       p->user);
                return r;
        }
        /* The disk first: a config only names a disk that is there. */
        if (p->disk_path && !p->qemu_img)
                return -EINVAL;
        if (p->disk_path) {
                _cleanup_free_ char *abs = NULL, *err = NULL;
                _cleanup_close_ int fd = -EBADF;
                vfio_storage_tools t = { .qemu_img = p->qemu_img };

                r = vfio_hostfile_mkdir_p(h, p->state_dir, 0755, NULL);
                if (r < 0)
                        return r;
                if (asprintf(&abs, "%s%s", vfio_host_is_live(h) ? "" : vfio_host_root(h), p->disk_path) < 0)
                        return -ENOMEM;
                r = vfio_storage_create_image(&t, abs, VFIO_DISK_QCOW2, p->disk_size, false, &err);
                if (r < 0 && r != -EEXIST) {
                        if (ret_error)
                                (void)asprintf(ret_error, "qemu-img create -f qcow2 %s failed: %s", abs,
                                               err ? err : strerror(-r));
                        return r;
                }
                /* QEMU opens it as the VM user (start checks that it can). */
                fd = vfio_host_open_path(h, p->disk_path + 1, O_RDONLY | O_NOFOLLOW);
                if (fd < 0)
                        return fd;
                if (fchown(fd, acct->uid, acct->gid) < 0 || fchmod(fd, 0600) < 0)
                        return -errno;
                if (log)
                        (void)strv_extendf(log, "created %s (qcow2, owned by %s)", p->disk_path, p->user);
        }
        r = vfio_hostfile_mkdir_p(h, CONFIG_DIR, 0755, NULL);
        if (r < 0)
                return r;
        /* What a run killed during this write left: its temporary file. */
        (void)vfio_hostfile_sweep_temps(h, CONFIG_DIR);
        /* Root's file in the system location: what start as root and enable accept. */
        r = vfio_hostfile_write_atomic(h, p->config_path, p->config_text, strlen(p->config_text), 0644);
        if (r < 0) {
                if (ret_error)
                        (void)asprintf(ret_error, "cannot write /%s: %s", p->config_path, strerror(-r));
                return r;
        }
        if (log)
                (void)strv_extendf(log, "wrote /%s", p->config_path);
        return 0;
}

int vfio_guide_apply(const vfio_host *h, const vfio_guide_plan *p, vfio_guide_step_id id, char ***log,
                     char **ret_error)
{
        const vfio_guide_step *s = &p->steps[id];
        int r;

        if (s->state != VFIO_GUIDE_TODO)
                return -EINVAL;
        switch (id) {
        case VFIO_GUIDE_PACKAGES:
        case VFIO_GUIDE_USER:
        case VFIO_GUIDE_BOOT:
                return run_cmds(h, &s->cmds, log, ret_error);
        case VFIO_GUIDE_SETUP: {
                _cleanup_free_ char *failed = NULL;

                r = vfio_setup_apply(h, p->setup, log, &failed);
                if (r < 0 && ret_error)
                        (void)asprintf(
                                ret_error,
                                "setup failed at /%s: %s; every file of this run was put back and /%s is as before",
                                failed ? failed : "?", strerror(-r), MANIFEST);
                return r;
        }
        case VFIO_GUIDE_CREATE:
                return apply_create(h, p, log, ret_error);
        case VFIO_GUIDE_CHECK:
        case VFIO_GUIDE_DEVICES:
        case VFIO_GUIDE_REBOOT:
        case VFIO_GUIDE_VERIFY:
        case VFIO_GUIDE_START:
        case _VFIO_GUIDE_STEP_MAX:
                break;
        }
        return -EOPNOTSUPP;
}
