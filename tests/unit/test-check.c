/*
 * vfioctl check, one story per check and per quirk: a captured kernel tree (q35 guest with an emulated
 * VT-d, the same without, this Firecracker host), varied in only what the case needs, must trigger the
 * check or quirk — and the unvaried tree must not. Plus the live run on this very machine.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "strv.h"
#include "variant.h"
#include "vfioctl/check.h"
#include "vfioctl/host.h"
#include "vfioctl/model.h"
#include "vfioctl/qmp-probe.h"
#include "vfioctl/quirks.h"

#define VIOMMU  "q35-viommu"
#define NOIOMMU "q35-noiommu"
#define GiB     (UINT64_C(1) << 30)

/* The q35 guest's devices (tests/data/sysfs/README.md): a bochs VGA as boot display, a second one with an
 * HDA function below root port 00:12.0, an e1000e below 00:10.0, a PCIe-to-PCI bridge 04:00.0 (below
 * 00:13.0) with an e1000 and a virtio-rng behind it, the ICH9 AHCI controller. */
#define BOOT_VGA "0000:00:01.0"
#define GPU      "0000:03:00.0"
#define GPU_HDA  "0000:03:00.1"
#define NIC      "0000:01:00.0"
#define BRIDGE   "0000:04:00.0"
#define BEHIND   "0000:05:01.0"
#define AHCI     "0000:00:1f.2"

typedef struct opts {
        const char *user;
        uint64_t memory;
        const char *pass[4];
        bool force;
        bool probe;
        bool input_relay;
} opts;

static vfio_check_report *run(const char *root, const opts *o)
{
        vfio_check_options co = { .probe = NULL };
        vfio_check_report *R = NULL;
        char *bad = NULL;
        char *pass[5] = { 0 };
        vfio_host *h = NULL;
        size_t n = 0;

        if (o) {
                co.user = o->user;
                co.memory = o->memory;
                co.force = o->force;
                co.probe = o->probe ? vfio_qmp_probe_run : NULL;
                co.input_relay = o->input_relay;
                for (; n < 4 && o->pass[n]; n++)
                        pass[n] = (char *)o->pass[n];
                if (n)
                        co.pass = pass;
        }
        assert_int_equal(vfio_host_open(root, &h), 0);
        assert_int_equal(vfio_check_run(h, &co, &R, &bad), 0);
        vfio_host_free(h);
        free(bad);
        return R;
}

static const vfio_check *check(const vfio_check_report *R, const char *id)
{
        const vfio_check *c = vfio_check_report_find(R, id);

        if (!c)
                fail_msg("no check %s in the report", id);
        return c;
}

static void assert_status(const vfio_check_report *R, const char *id, vfio_check_status want)
{
        const vfio_check *c = check(R, id);

        if (c->status != want)
                fail_msg("%s: status %s, expected %s; evidence: %s; fix: %s", id,
                         vfio_check_status_to_string(c->status), vfio_check_status_to_string(want),
                         c->evidence, c->fix ? c->fix : "(none)");
}

static void assert_contains(const char *hay, const char *needle)
{
        if (!hay || !strstr(hay, needle))
                fail_msg("expected '%s' in: %s", needle, hay ? hay : "(null)");
}

static const vfio_quirk_match *quirk(const vfio_check_report *R, const char *id, const char *device)
{
        for (size_t i = 0; i < R->quirks->n; i++)
                if (strcmp(R->quirks->items[i].quirk->id, id) == 0 &&
                    (!device ||
                     (R->quirks->items[i].device && strcmp(R->quirks->items[i].device, device) == 0)))
                        return &R->quirks->items[i];
        return NULL;
}

static void assert_no_quirk(const vfio_check_report *R, const char *id)
{
        const vfio_quirk_match *m = quirk(R, id, NULL);

        if (m)
                fail_msg("quirk %s matched unexpectedly on %s: %s", id, m->device ? m->device : "(board)",
                         m->evidence);
}

static const vfio_quirk_match *assert_quirk(const vfio_check_report *R, const char *id, const char *device,
                                            vfio_quirk_action action)
{
        const vfio_quirk_match *m = quirk(R, id, device);

        if (!m)
                fail_msg("quirk %s did not match %s", id, device ? device : "the board");
        assert_string_equal(vfio_quirk_action_to_string(m->action), vfio_quirk_action_to_string(action));
        return m;
}

/* A VM user "vm" (uid/gid not the test's) in group "kvm", whose gid is the one our fixture files get. */
static void add_vm_user(const char *root)
{
        char line[128];

        snprintf(line, sizeof(line), "vm:x:%u:%u::/home/vm:/bin/sh", (unsigned)getuid() + 4242,
                 (unsigned)getgid() + 4242);
        variant_append(root, "etc/passwd", "root:x:0:0:root:/root:/bin/bash");
        variant_append(root, "etc/passwd", line);
        snprintf(line, sizeof(line), "kvm:x:%u:vm", (unsigned)getgid());
        variant_append(root, "etc/group", line);
        snprintf(line, sizeof(line), "vm:x:%u:", (unsigned)getgid() + 4242);
        variant_append(root, "etc/group", line);
}

/* ---------------- this machine and the emulated-IOMMU guest ---------------- */

static void test_live_host(void **state)
{
        vfio_check_report *R = run("/", NULL);
        const vfio_check *g = check(R, "iommu.groups");

        if (access("/sys/kernel/iommu_groups/0", F_OK) < 0) {
                /* This Firecracker microVM: no IOMMU at all, so passthrough is impossible here. */
                assert_int_equal(g->status, VFIO_CHECK_FAIL);
                assert_string_equal(
                        g->evidence,
                        "sys/class/iommu has no IOMMU units and sys/kernel/iommu_groups holds no groups: the kernel runs without an IOMMU, so no device can be passed through");
                assert_int_equal(R->verdict, VFIO_CHECK_FAIL);
                assert_string_equal(vfio_check_verdict_to_string(R->verdict), "not-ready");
        } else
                assert_int_equal(g->status, VFIO_CHECK_PASS);
        vfio_check_report_free(R);
}

static void test_viommu_guest(void **state)
{
        char *root = variant_new(VIOMMU);
        vfio_check_report *R = run(root, NULL);

        assert_status(R, "iommu.groups", VFIO_CHECK_PASS);
        assert_string_equal(check(R, "iommu.groups")->evidence,
                            "sys/kernel/iommu_groups holds 16 groups; sys/class/iommu: dmar0");
        assert_status(R, "iommu.cmdline", VFIO_CHECK_PASS);
        assert_string_equal(check(R, "iommu.cmdline")->evidence, "proc/cmdline: intel_iommu=on, iommu=pt");
        assert_status(R, "iommu.interrupt-remapping", VFIO_CHECK_PASS);
        assert_status(R, "iommu.acpi", VFIO_CHECK_PASS);
        assert_status(R, "vfio.modules", VFIO_CHECK_PASS);
        assert_string_equal(check(R, "vfio.modules")->evidence,
                            "vfio loaded, vfio_iommu_type1 loaded, vfio_pci loaded");
        assert_status(R, "kernel.version", VFIO_CHECK_PASS);
        assert_status(R, "qemu.binary", VFIO_CHECK_FAIL); /* the guest has no QEMU of its own */
        /* Both bochs VGAs are candidates; nothing is chosen, so no quirk fails the verdict. */
        assert_string_equal(R->candidates[0], BOOT_VGA);
        assert_string_equal(R->candidates[1], GPU);
        assert_quirk(R, "host-critical-device", BOOT_VGA, VFIO_QUIRK_INFO);
        assert_true(quirk(R, "host-critical-device", BOOT_VGA)->candidate);
        assert_int_equal(R->verdict, VFIO_CHECK_FAIL);
        vfio_check_report_free(R);
        variant_free(root);
}

/* ---------------- CPU and KVM ---------------- */

static void test_cpu_virtualization(void **state)
{
        char *root = variant_new(VIOMMU);
        vfio_check_report *R = run(root, NULL);

        assert_status(R, "cpu.virtualization", VFIO_CHECK_PASS);
        assert_contains(check(R, "cpu.virtualization")->evidence, "svm (AMD-V)");
        vfio_check_report_free(R);
        /* The same CPU without AMD-V: every processor's flags lose " svm". */
        for (int i = 0; i < 64; i++) {
                char *p, *text;

                if (asprintf(&p, "%s/proc/cpuinfo", root) < 0)
                        abort();
                text = fixture_read(p);
                free(p);
                if (!strstr(text, " svm")) {
                        free(text);
                        break;
                }
                free(text);
                variant_replace(root, "proc/cpuinfo", " svm", "");
        }
        R = run(root, NULL);
        assert_status(R, "cpu.virtualization", VFIO_CHECK_FAIL);
        assert_contains(check(R, "cpu.virtualization")->evidence, "neither vmx nor svm");
        assert_contains(check(R, "cpu.virtualization")->evidence, "the 'hypervisor' flag is set");
        assert_string_equal(
                check(R, "cpu.virtualization")->fix,
                "enable nested virtualization on the outer host (options kvm_amd nested=1 in its /etc/modprobe.d/kvm.conf, and -cpu host for this VM)");
        vfio_check_report_free(R);
        variant_free(root);
}

static void test_kvm_module(void **state)
{
        char *root = variant_new(VIOMMU);
        vfio_check_report *R = run(root, NULL);

        assert_status(R, "kvm.module", VFIO_CHECK_FAIL);
        assert_string_equal(
                check(R, "kvm.module")->fix,
                "run: sudo modprobe kvm_amd; if it says 'disabled by bios', enable SVM Mode (AMD-V) in the firmware setup");
        vfio_check_report_free(R);
        variant_append(root, "proc/modules", "kvm_amd 155648 0 - Live 0xffffffffc0a00000");
        variant_append(root, "proc/modules", "kvm 1146880 1 kvm_amd, Live 0xffffffffc0800000");
        R = run(root, NULL);
        assert_status(R, "kvm.module", VFIO_CHECK_PASS);
        vfio_check_report_free(R);
        variant_free(root);
}

static void test_kvm_device(void **state)
{
        char *root = variant_new(VIOMMU);
        opts o = { .user = "vm" };
        vfio_check_report *R;

        add_vm_user(root);
        R = run(root, &o);
        assert_status(R, "kvm.device", VFIO_CHECK_FAIL);
        assert_string_equal(check(R, "kvm.device")->evidence, "dev/kvm: does not exist");
        vfio_check_report_free(R);

        /* /dev/kvm as Debian's udev rule leaves it: group kvm, 0660. */
        variant_write(root, "dev/kvm", "");
        variant_chmod(root, "dev/kvm", 0660);
        R = run(root, &o);
        assert_status(R, "kvm.device", VFIO_CHECK_PASS);
        vfio_check_report_free(R);

        /* Owner-only: the group cannot help, a udev rule must change the mode. */
        variant_chmod(root, "dev/kvm", 0600);
        R = run(root, &o);
        assert_status(R, "kvm.device", VFIO_CHECK_FAIL);
        assert_contains(
                check(R, "kvm.device")->fix,
                "create /etc/udev/rules.d/65-kvm.rules containing: KERNEL==\"kvm\", GROUP=\"kvm\", MODE=\"0660\"");
        assert_contains(check(R, "kvm.device")->fix, "sudo usermod -aG kvm vm");
        vfio_check_report_free(R);
        variant_free(root);
}

static void test_uinput(void **state)
{
        char *root = variant_new(VIOMMU);
        opts o = { .user = "vm" };
        vfio_check_report *R;

        add_vm_user(root);
        /* No relayed evdev input: not a question. */
        R = run(root, &o);
        assert_null(vfio_check_report_find(R, "input.uinput"));
        vfio_check_report_free(R);

        o.input_relay = true;
        R = run(root, &o);
        assert_status(R, "input.uinput", VFIO_CHECK_WARN);
        assert_contains(check(R, "input.uinput")->evidence, "does not exist (module uinput not loaded)");
        assert_contains(check(R, "input.uinput")->fix, "/etc/modules-load.d/uinput.conf");
        vfio_check_report_free(R);

        variant_write(root, "dev/uinput", "");
        R = run(root, &o);
        assert_status(R, "input.uinput", VFIO_CHECK_PASS);
        vfio_check_report_free(R);
        variant_free(root);
}

/* ---------------- IOMMU ---------------- */

static void test_iommu_acpi(void **state)
{
        char *root = variant_new(NOIOMMU);
        vfio_check_report *R;
        static const char *const tables[] = { "APIC", "DSDT", "FACP", "HPET", "MCFG", "WAET" };
        char rel[64];

        /* q35 without intel-iommu: QEMU's ACPI tables, no DMAR. */
        for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
                snprintf(rel, sizeof(rel), "sys/firmware/acpi/tables/%s", tables[i]);
                variant_write(root, rel, "");
        }
        R = run(root, NULL);
        assert_status(R, "iommu.acpi", VFIO_CHECK_FAIL);
        assert_string_equal(
                check(R, "iommu.acpi")->evidence,
                "sys/firmware/acpi/tables has APIC DSDT FACP HPET MCFG WAET; no DMAR (Intel VT-d) or IVRS (AMD-Vi)");
        vfio_check_report_free(R);
        variant_write(root, "sys/firmware/acpi/tables/DMAR", "");
        R = run(root, NULL);
        assert_status(R, "iommu.acpi", VFIO_CHECK_PASS);
        assert_string_equal(check(R, "iommu.acpi")->evidence,
                            "sys/firmware/acpi/tables/DMAR present (Intel VT-d)");
        /* With DMAR the IOMMU is Intel's: the command-line fix names intel_iommu. */
        assert_contains(check(R, "iommu.cmdline")->fix, "intel_iommu=on iommu=pt");
        vfio_check_report_free(R);
        variant_free(root);
}

static void test_iommu_groups_and_cmdline_per_distribution(void **state)
{
        char *root = variant_new(NOIOMMU);
        vfio_check_report *R;

        variant_write(root, "sys/firmware/acpi/tables/DMAR", "");
        R = run(root, NULL); /* Debian 12 (etc/os-release of the capture), GRUB */
        assert_status(R, "iommu.groups", VFIO_CHECK_FAIL);
        assert_status(R, "iommu.cmdline", VFIO_CHECK_FAIL);
        assert_string_equal(check(R, "iommu.cmdline")->evidence,
                            "proc/cmdline has no intel_iommu=on and no iommu=pt");
        assert_string_equal(
                check(R, "iommu.cmdline")->fix,
                "add 'intel_iommu=on iommu=pt' to GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, then run: sudo update-grub, and reboot");
        vfio_check_report_free(R);

        variant_write(root, "etc/os-release", "NAME=\"Fedora Linux\"\nID=fedora\nVERSION_ID=40\n");
        R = run(root, NULL);
        assert_string_equal(
                check(R, "iommu.cmdline")->fix,
                "run: sudo grubby --update-kernel=ALL --args=\"intel_iommu=on iommu=pt\" (or add it to GRUB_CMDLINE_LINUX in /etc/default/grub and run: sudo grub2-mkconfig -o /boot/grub2/grub.cfg), then reboot");
        vfio_check_report_free(R);

        variant_write(root, "etc/os-release", "NAME=\"Pop!_OS\"\nID=pop\nID_LIKE=\"ubuntu debian\"\n");
        R = run(root, NULL);
        assert_string_equal(check(R, "iommu.cmdline")->fix,
                            "run: sudo kernelstub -a intel_iommu=on -a iommu=pt, then reboot");
        vfio_check_report_free(R);

        variant_write(root, "etc/os-release", "NAME=\"Arch Linux\"\nID=arch\n");
        variant_write(root, "etc/kernel/cmdline", "root=UUID=1 rw\n");
        R = run(root, NULL);
        assert_contains(check(R, "iommu.cmdline")->fix,
                        "append 'intel_iommu=on iommu=pt' to the single line in /etc/kernel/cmdline");
        vfio_check_report_free(R);

        /* Switched off explicitly: the fix is to remove it. */
        variant_replace(root, "proc/cmdline", "console=ttyS0", "console=ttyS0 intel_iommu=off");
        R = run(root, NULL);
        assert_status(R, "iommu.cmdline", VFIO_CHECK_FAIL);
        assert_contains(check(R, "iommu.cmdline")->evidence, "intel_iommu=off: the IOMMU is switched off");
        assert_contains(check(R, "iommu.cmdline")->fix, "remove 'intel_iommu=off'");
        vfio_check_report_free(R);
        variant_free(root);
}

static void test_interrupt_remapping(void **state)
{
        char *root = variant_new(VIOMMU);
        vfio_check_report *R;

        /* ecap f00f4a: bit 3 (IR) set. Clear it: f00f42. */
        variant_write(root, "sys/class/iommu/dmar0/intel-iommu/ecap", "f00f42\n");
        R = run(root, NULL);
        assert_status(R, "iommu.interrupt-remapping", VFIO_CHECK_FAIL);
        assert_contains(check(R, "iommu.interrupt-remapping")->evidence, "dmar0: ECAP bit 3 (IR) clear");
        assert_contains(
                check(R, "iommu.interrupt-remapping")->fix,
                "'options vfio_iommu_type1 allow_unsafe_interrupts=1' and run: sudo update-initramfs -u -k all");
        assert_contains(check(R, "iommu.interrupt-remapping")->fix, "interrupt injection into the host");
        vfio_check_report_free(R);

        /* The fallback switched on: passthrough works, with its risk spelled out. */
        variant_write(root, "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", "Y\n");
        R = run(root, NULL);
        assert_status(R, "iommu.interrupt-remapping", VFIO_CHECK_WARN);
        assert_contains(check(R, "iommu.interrupt-remapping")->evidence, "allow_unsafe_interrupts=Y");
        assert_contains(check(R, "iommu.interrupt-remapping")->evidence,
                        "interrupt injection into the host");
        vfio_check_report_free(R);

        /* intremap=off overrides what the hardware can do. */
        variant_write(root, "sys/class/iommu/dmar0/intel-iommu/ecap", "f00f4a\n");
        variant_write(root, "sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", "N\n");
        variant_replace(root, "proc/cmdline", "iommu=pt", "iommu=pt intremap=off");
        R = run(root, NULL);
        assert_status(R, "iommu.interrupt-remapping", VFIO_CHECK_FAIL);
        vfio_check_report_free(R);
        variant_free(root);
}

/* ---------------- VFIO ---------------- */

static void drop_vfio_modules(const char *root)
{
        static const char *const lines[] = {
                "vfio_iommu_type1 45056 0 - Live 0xffffffffc0313000\n",
                "vfio_pci 16384 0 - Live 0xffffffffc024e000\n",
                "vfio 49152 3 vfio_iommu_type1,vfio_pci,vfio_pci_core, Live 0xffffffffc02cc000\n",
        };

        for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
                variant_replace(root, "proc/modules", lines[i], "");
        variant_rmtree(root, "sys/module/vfio_pci");
        variant_rmtree(root, "sys/module/vfio_iommu_type1");
}

static void test_vfio_modules(void **state)
{
        char *root = variant_new(VIOMMU);
        vfio_check_report *R;

        /* Not loaded, but shipped (modules.dep of the Debian kernel lists them). */
        drop_vfio_modules(root);
        variant_write(root, "lib/modules/6.1.0-56-amd64/modules.dep",
                      "kernel/drivers/vfio/vfio.ko: kernel/drivers/vfio/vfio_iommu_type1.ko\n"
                      "kernel/drivers/vfio/vfio_iommu_type1.ko:\n"
                      "kernel/drivers/vfio/pci/vfio-pci.ko: kernel/drivers/vfio/pci/vfio-pci-core.ko\n");
        R = run(root, NULL);
        assert_status(R, "vfio.modules", VFIO_CHECK_WARN);
        assert_string_equal(
                check(R, "vfio.modules")->fix,
                "add these lines, one module per line, to /etc/initramfs-tools/modules: vfio vfio_iommu_type1 vfio_pci; then run: sudo update-initramfs -u -k all");
        vfio_check_report_free(R);

        variant_write(root, "etc/initramfs-tools/modules", "vfio\nvfio_iommu_type1\nvfio_pci\n");
        R = run(root, NULL);
        assert_status(R, "vfio.modules", VFIO_CHECK_PASS);
        assert_contains(check(R, "vfio.modules")->evidence,
                        "vfio_pci available (loaded early by etc/initramfs-tools/modules)");
        vfio_check_report_free(R);

        /* dracut's rd.driver.pre= loads them first thing in the initramfs. */
        variant_unlink(root, "etc/initramfs-tools/modules");
        variant_replace(root, "proc/cmdline", "iommu=pt", "iommu=pt rd.driver.pre=vfio-pci");
        R = run(root, NULL);
        assert_status(R, "vfio.modules", VFIO_CHECK_PASS);
        assert_contains(check(R, "vfio.modules")->evidence, "(loaded early by proc/cmdline rd.driver.pre=)");
        vfio_check_report_free(R);
        variant_replace(root, "proc/cmdline", " rd.driver.pre=vfio-pci", "");

        /* Built into the kernel image. */
        variant_write(root, "lib/modules/6.1.0-56-amd64/modules.builtin",
                      "kernel/drivers/vfio/vfio.ko\nkernel/drivers/vfio/vfio_iommu_type1.ko\n"
                      "kernel/drivers/vfio/pci/vfio-pci.ko\n");
        R = run(root, NULL);
        assert_status(R, "vfio.modules", VFIO_CHECK_PASS);
        assert_string_equal(check(R, "vfio.modules")->evidence,
                            "vfio built-in, vfio_iommu_type1 built-in, vfio_pci built-in");
        vfio_check_report_free(R);
        variant_free(root);

        /* This Firecracker host's kernel has no VFIO and no loadable modules at all. */
        root = variant_new("host-firecracker");
        R = run(root, NULL);
        assert_status(R, "vfio.modules", VFIO_CHECK_FAIL);
        assert_contains(check(R, "vfio.modules")->evidence,
                        "vfio missing, vfio_iommu_type1 missing, vfio_pci missing");
        vfio_check_report_free(R);
        variant_free(root);
}

static void test_early_binding_softdep(void **state)
{
        char *root = variant_new(VIOMMU);
        opts o = { .pass = { GPU, GPU_HDA } };
        vfio_check_report *R;

        variant_pci_ids(root, GPU, 0x10de, 0x1b80, 0);     /* GP104 [GeForce GTX 1080] */
        variant_pci_ids(root, GPU_HDA, 0x10de, 0x10f0, 0); /* GP104 High Definition Audio Controller */
        R = run(root, &o);
        assert_status(R, "vfio.early-binding", VFIO_CHECK_WARN);
        assert_contains(check(R, "vfio.early-binding")->evidence,
                        "no 'options vfio-pci ids=' for 10de:1b80,10de:10f0");
        assert_contains(check(R, "vfio.early-binding")->evidence,
                        "no 'softdep X pre: vfio-pci' for nouveau, nvidia");
        assert_string_equal(
                check(R, "vfio.early-binding")->fix,
                "write /etc/modprobe.d/vfio.conf with the lines 'options vfio-pci ids=10de:1b80,10de:10f0' and 'softdep nouveau pre: vfio-pci' and 'softdep nvidia pre: vfio-pci', then run: sudo update-initramfs -u -k all and reboot (or let vfioctl write it: sudo vfioctl setup 0000:03:00.0 0000:03:00.1)");
        vfio_check_report_free(R);

        /* This kernel ships nouveau but not the proprietary nvidia module: only nouveau needs the softdep.
         */
        variant_write(root, "lib/modules/6.1.0-56-amd64/modules.dep",
                      "kernel/drivers/gpu/drm/nouveau/nouveau.ko: kernel/drivers/gpu/drm/drm.ko\n");
        R = run(root, &o);
        assert_contains(check(R, "vfio.early-binding")->evidence,
                        "no 'softdep X pre: vfio-pci' for nouveau (read");
        vfio_check_report_free(R);
        variant_unlink(root, "lib/modules/6.1.0-56-amd64/modules.dep");

        variant_write(root, "etc/modprobe.d/vfio.conf",
                      "options vfio-pci ids=10de:1b80,10de:10f0\nsoftdep nouveau pre: vfio-pci\n"
                      "softdep nvidia pre: vfio-pci\n");
        R = run(root, &o);
        assert_status(R, "vfio.early-binding", VFIO_CHECK_PASS);
        assert_contains(check(R, "vfio.early-binding")->evidence, "etc/modprobe.d/vfio.conf:1");
        vfio_check_report_free(R);

        /* Without --pass, the ids= line alone makes them the devices to pass. */
        R = run(root, NULL);
        assert_int_equal(strv_length(R->to_pass), 2);
        assert_string_equal(R->pass_why[0], "10de:1b80 named in vfio-pci ids (etc/modprobe.d/vfio.conf:1)");
        vfio_check_report_free(R);
        variant_free(root);
}

static void assert_not_contains(const char *hay, const char *needle)
{
        if (hay && strstr(hay, needle))
                fail_msg("'%s' contains '%s'", hay, needle);
}

/*
 * The capture is a twin-card host: the GPU 03:00.0 has the IDs (and subsystem) of the boot display 00:01.0,
 * and its HDMI-style audio 03:00.1 those of the on-board audio 00:1b.0. 'options vfio-pci ids=' would take
 * the host's display and sound at boot, so check's fix binds by identity, as setup does.
 */
static void test_early_binding_twins_by_identity(void **state)
{
        char *root = variant_new(VIOMMU);
        opts o = { .pass = { GPU, GPU_HDA } };
        const vfio_check *c;
        vfio_check_report *R;

        R = run(root, &o);
        c = check(R, "vfio.early-binding");
        assert_int_equal(c->status, VFIO_CHECK_WARN);
        assert_not_contains(c->fix, "ids=");
        assert_contains(c->evidence, "1234:1111 is also 0000:00:01.0");
        assert_contains(c->evidence, "8086:293e is also 0000:00:1b.0");
        assert_contains(c->fix, "by identity");
        assert_contains(c->fix, "sudo vfioctl setup 0000:03:00.0 0000:03:00.1");
        assert_contains(c->fix, "1234:1111:1af4:1100@pci0000:00/12.0/00.0");
        for (size_t i = 0; i < R->n; i++)
                if (strcmp(R->checks[i].id, "vfio.driver") == 0)
                        assert_not_contains(R->checks[i].fix, "ids=");
        vfio_check_report_free(R);

        /* Following the old advice takes the host's twins: said so, even though it binds the GPU. */
        variant_write(root, "etc/modprobe.d/vfio.conf", "options vfio-pci ids=1234:1111,8086:293e\n");
        R = run(root, &o);
        c = check(R, "vfio.early-binding");
        assert_int_equal(c->status, VFIO_CHECK_WARN);
        assert_contains(c->evidence,
                        "etc/modprobe.d/vfio.conf:1 claims 1234:1111, which 0000:00:01.0 has too");
        assert_contains(
                c->fix,
                "remove 1234:1111,8086:293e from 'options vfio-pci ids=' in /etc/modprobe.d/vfio.conf");
        vfio_check_report_free(R);
        variant_unlink(root, "etc/modprobe.d/vfio.conf");

        /* What setup writes: the unit, enabled (systemctl's wants link). */
        variant_write(root, "etc/systemd/system/vfioctl-bind.service",
                      "[Service]\nType=oneshot\nExecStart=/usr/bin/vfioctl bind --boot "
                      "1234:1111:1af4:1100@pci0000:00/12.0/00.0 8086:293e:1af4:1100@pci0000:00/12.0/00.1\n");
        R = run(root, &o);
        c = check(R, "vfio.early-binding");
        assert_int_equal(c->status, VFIO_CHECK_WARN);
        assert_contains(c->evidence, "vfioctl-bind.service is not enabled");
        assert_contains(c->fix, "systemctl enable vfioctl-bind.service");
        vfio_check_report_free(R);
        variant_write(root, "etc/systemd/system/sysinit.target.wants/.keep", "");
        {
                char link[4096];

                snprintf(link, sizeof(link),
                         "%s/etc/systemd/system/sysinit.target.wants/vfioctl-bind.service", root);
                assert_int_equal(symlink("../vfioctl-bind.service", link), 0);
                variant_unlink(root, "etc/systemd/system/sysinit.target.wants/.keep");
        }
        R = run(root, &o);
        c = check(R, "vfio.early-binding");
        assert_int_equal(c->status, VFIO_CHECK_PASS);
        assert_contains(c->evidence,
                        "bound at boot by identity (etc/systemd/system/vfioctl-bind.service, enabled)");
        vfio_check_report_free(R);
        variant_free(root);
}

static void test_driver_binding(void **state)
{
        char *root = variant_new(VIOMMU);
        opts o = { .pass = { NIC } };
        vfio_check_report *R = run(root, &o);

        assert_status(R, "vfio.driver", VFIO_CHECK_WARN);
        assert_string_equal(check(R, "vfio.driver")->evidence,
                            "0000:01:00.0 [8086:10d3] is held by e1000e, a host driver");
        assert_string_equal(check(R, "vfio.driver")->device, NIC);
        vfio_check_report_free(R);

        /* driver_override set (as 'vfioctl bind' does before the driver moves): already chosen. */
        variant_pci_attr(root, NIC, "driver_override", "vfio-pci\n");
        R = run(root, NULL);
        assert_string_equal(R->to_pass[0], NIC);
        assert_string_equal(R->pass_why[0], "driver_override vfio-pci");
        vfio_check_report_free(R);

        variant_pci_driver(root, NIC, "vfio-pci");
        R = run(root, NULL); /* derived: bound to vfio-pci */
        assert_string_equal(R->to_pass[0], NIC);
        assert_string_equal(R->pass_why[0], "bound to vfio-pci");
        assert_status(R, "vfio.driver", VFIO_CHECK_PASS);
        vfio_check_report_free(R);
        variant_free(root);
}

static void test_dev_vfio_permissions(void **state)
{
        char *root = variant_new(VIOMMU);
        opts o = { .user = "vm", .pass = { NIC } };
        vfio_check_report *R;
        char g[32];

        add_vm_user(root);
        variant_chmod(root, "dev/vfio/vfio",
                      0666); /* the mode the kernel gives it (capture keeps names only) */
        variant_pci_driver(root, NIC, "vfio-pci");
        R = run(root, &o);
        assert_status(R, "vfio.dev-permissions", VFIO_CHECK_WARN); /* no group node yet */
        assert_contains(check(R, "vfio.dev-permissions")->evidence, "dev/vfio/11 absent");
        vfio_check_report_free(R);

        snprintf(g, sizeof(g), "dev/vfio/%d", 11);
        variant_write(root, g, "");
        variant_chmod(root, g, 0600);
        R = run(root, &o);
        assert_status(R, "vfio.dev-permissions", VFIO_CHECK_FAIL);
        assert_contains(
                check(R, "vfio.dev-permissions")->fix,
                "create /etc/udev/rules.d/10-vfio.rules containing: SUBSYSTEM==\"vfio\", OWNER=\"root\", GROUP=\"kvm\", MODE=\"0660\"");
        vfio_check_report_free(R);

        variant_chmod(root, g, 0660);
        R = run(root, &o);
        assert_status(R, "vfio.dev-permissions", VFIO_CHECK_PASS);
        vfio_check_report_free(R);
        variant_free(root);
}

/* ---------------- memory ---------------- */

static void test_memlock(void **state)
{
        char *root = variant_new(VIOMMU);
        opts o = { .user = "vm", .memory = 8 * GiB };
        vfio_check_report *R;

        add_vm_user(root);
        R = run(root, &o);
        assert_status(R, "memory.memlock", VFIO_CHECK_FAIL);
        assert_contains(check(R, "memory.memlock")->evidence,
                        "no memlock line in etc/security/limits.conf or limits.d applies");
        assert_string_equal(
                check(R, "memory.memlock")->fix,
                "add to /etc/security/limits.d/vfio.conf the lines 'vm soft memlock 9437184' and 'vm hard memlock 9437184' (KiB), then log in again (or: sudo vfioctl setup --user vm --memory 8192M)");
        vfio_check_report_free(R);

        /* A group line for kvm is enough; the user line later beats it only when more specific. */
        variant_write(root, "etc/security/limits.d/vfio.conf",
                      "@kvm hard memlock 9437184\n@kvm soft memlock 9437184\n");
        R = run(root, &o);
        assert_status(R, "memory.memlock", VFIO_CHECK_PASS);
        assert_contains(check(R, "memory.memlock")->evidence,
                        "hard 9 GiB (etc/security/limits.d/vfio.conf:1)");
        vfio_check_report_free(R);

        /* 16 GiB guest: 9 GiB is too little. */
        o.memory = 16 * GiB;
        R = run(root, &o);
        assert_status(R, "memory.memlock", VFIO_CHECK_FAIL);
        vfio_check_report_free(R);
        variant_free(root);
}

static void test_hugepages(void **state)
{
        char *root = variant_new(VIOMMU);
        opts o = { .memory = 4 * GiB };
        vfio_check_report *R = run(root, &o);

        assert_status(R, "memory.hugepages", VFIO_CHECK_PASS); /* none reserved: normal pages are fine */
        vfio_check_report_free(R);
        variant_write(root, "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "1024\n");
        variant_write(root, "sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "1024\n");
        R = run(root, &o);
        assert_status(R, "memory.hugepages", VFIO_CHECK_WARN);
        assert_contains(check(R, "memory.hugepages")->evidence,
                        "2 GiB free in huge pages, the guest has 4 GiB");
        assert_contains(check(R, "memory.hugepages")->fix, "hugepagesz=2M hugepages=2048");
        vfio_check_report_free(R);
        variant_write(root, "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "2048\n");
        variant_write(root, "sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "2048\n");
        R = run(root, &o);
        assert_status(R, "memory.hugepages", VFIO_CHECK_PASS);
        vfio_check_report_free(R);

        /* Two NUMA nodes (node1 a copy of the kernel's node0 directory): all pages on node 0, the GPU on 1.
         */
        variant_write(root, "sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages",
                      "2048\n");
        variant_write(root, "sys/devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages",
                      "2048\n");
        variant_copy(root, "sys/devices/system/node/node0", "sys/devices/system/node/node1");
        variant_write(root, "sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages", "0\n");
        variant_write(root, "sys/devices/system/node/node1/hugepages/hugepages-2048kB/free_hugepages",
                      "0\n");
        variant_pci_attr(root, GPU, "numa_node", "1\n");
        o.pass[0] = GPU;
        o.pass[1] = GPU_HDA;
        R = run(root, &o);
        assert_status(R, "memory.hugepages", VFIO_CHECK_WARN);
        assert_contains(
                check(R, "memory.hugepages")->evidence,
                "0000:03:00.0 sits on NUMA node 1, which has only 0 KiB free in 2 MiB pages for a guest of 4 GiB");
        assert_contains(
                check(R, "memory.hugepages")->fix,
                "echo 2048 | sudo tee /sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages");
        vfio_check_report_free(R);
        variant_pci_attr(root, GPU, "numa_node", "0\n");
        R = run(root, &o);
        assert_status(R, "memory.hugepages", VFIO_CHECK_PASS);
        vfio_check_report_free(R);
        variant_free(root);
}

static void test_fragmentation(void **state)
{
        char *root = variant_new(VIOMMU);
        opts o = { .memory = 512u << 20 };
        vfio_check_report *R = run(root, &o);

        /* The guest's buddyinfo has 848 MiB in blocks of 2 MiB or more. */
        assert_status(R, "memory.fragmentation", VFIO_CHECK_PASS);
        vfio_check_report_free(R);
        o.memory = 2 * GiB;
        R = run(root, &o);
        assert_status(R, "memory.fragmentation", VFIO_CHECK_WARN);
        assert_contains(check(R, "memory.fragmentation")->evidence,
                        "only 848 MiB free in blocks of 2 MiB or more");
        assert_contains(check(R, "memory.fragmentation")->fix, "hugepagesz=2M hugepages=1024");
        vfio_check_report_free(R);
        variant_free(root);
}

/* ---------------- firmware, QEMU, kernel ---------------- */

static void test_firmware(void **state)
{
        char *root = variant_new(VIOMMU);
        vfio_check_report *R = run(root, NULL);

        assert_status(R, "firmware.ovmf", VFIO_CHECK_FAIL);
        assert_string_equal(check(R, "firmware.ovmf")->fix, "sudo apt-get install ovmf");
        assert_status(R, "firmware.swtpm", VFIO_CHECK_WARN);
        assert_status(R, "qemu.binary", VFIO_CHECK_FAIL);
        vfio_check_report_free(R);

        /* Debian's ovmf package without its Secure Boot files, swtpm and QEMU installed. */
        variant_write(root, "usr/share/OVMF/OVMF_CODE_4M.fd", "");
        variant_write(root, "usr/share/OVMF/OVMF_VARS_4M.fd", "");
        variant_write(root, "usr/bin/swtpm", "");
        variant_write(root, "usr/bin/qemu-system-x86_64", "");
        R = run(root, NULL);
        assert_status(R, "firmware.ovmf", VFIO_CHECK_PASS);
        assert_string_equal(check(R, "firmware.ovmf")->evidence,
                            "usr/share/OVMF/OVMF_CODE_4M.fd + usr/share/OVMF/OVMF_VARS_4M.fd");
        assert_status(R, "firmware.secure-boot", VFIO_CHECK_WARN);
        assert_status(R, "firmware.swtpm", VFIO_CHECK_PASS);
        assert_status(R, "qemu.binary", VFIO_CHECK_PASS);
        /* Never probed on a tree that is not the running system. */
        assert_status(R, "qemu.probe", VFIO_CHECK_SKIP);
        assert_string_equal(check(R, "qemu.probe")->evidence, "not probed (--no-probe)");
        vfio_check_report_free(R);
        {
                opts p = { .probe = true };

                /* Asked to probe, it still never runs a program found in a tree that is not this system. */
                R = run(root, &p);
                assert_status(R, "qemu.probe", VFIO_CHECK_SKIP);
                assert_contains(check(R, "qemu.probe")->evidence, "is not the running system");
                vfio_check_report_free(R);
        }

        variant_write(root, "usr/share/OVMF/OVMF_CODE_4M.secboot.fd", "");
        variant_write(root, "usr/share/OVMF/OVMF_VARS_4M.ms.fd", "");
        R = run(root, NULL);
        assert_status(R, "firmware.secure-boot", VFIO_CHECK_PASS);
        assert_contains(check(R, "firmware.secure-boot")->evidence, "Microsoft keys enrolled");
        vfio_check_report_free(R);
        variant_free(root);

        /* Fedora's layout and package names. */
        root = variant_new(VIOMMU);
        variant_write(root, "etc/os-release", "NAME=\"Fedora Linux\"\nID=fedora\n");
        R = run(root, NULL);
        assert_string_equal(check(R, "firmware.ovmf")->fix, "sudo dnf install edk2-ovmf");
        vfio_check_report_free(R);
        variant_write(root, "usr/share/edk2/ovmf/OVMF_CODE.fd", "");
        variant_write(root, "usr/share/edk2/ovmf/OVMF_VARS.fd", "");
        R = run(root, NULL);
        assert_status(R, "firmware.ovmf", VFIO_CHECK_PASS);
        vfio_check_report_free(R);
        variant_free(root);
}

static void test_qemu_judgement(void **state)
{
        char *types[] = { (char *)"intel-iommu", (char *)"vfio-pci", NULL },
             *machines[] = { (char *)"q35", NULL };
        char *no_types[] = { NULL }, *no_machines[] = { NULL };
        vfio_qemu_info q = { .major = 7, .minor = 2, .micro = 22, .types = types, .machines = machines };
        vfio_check_status st;
        char *ev = NULL;

        assert_int_equal(vfio_check_judge_qemu(&q, &st, &ev), 0);
        assert_int_equal(st, VFIO_CHECK_PASS);
        assert_string_equal(
                ev, "QEMU 7.2.22; q35: yes, vfio-pci: yes, intel-iommu: yes, tpm-crb: no, ramfb: no");
        free(ev);
        /* Built without VFIO (--disable-vfio or a non-Linux build). */
        q.types = no_types;
        assert_int_equal(vfio_check_judge_qemu(&q, &st, &ev), 0);
        assert_int_equal(st, VFIO_CHECK_FAIL);
        assert_contains(ev, "this QEMU was built without VFIO");
        free(ev);
        /* QEMU 2.0: no q35 alias here and no max-ram-below-4g yet. */
        q = (vfio_qemu_info){ .major = 2, .minor = 0, .types = types, .machines = no_machines };
        assert_int_equal(vfio_check_judge_qemu(&q, &st, &ev), 0);
        assert_int_equal(st, VFIO_CHECK_WARN);
        assert_contains(ev,
                        "; no q35 machine (PCIe topology for GPUs); older than 2.1: no max-ram-below-4g");
        free(ev);
}

static void test_kernel_version(void **state)
{
        char *root = variant_new(VIOMMU);
        vfio_check_report *R = run(root, NULL);

        assert_status(R, "kernel.version", VFIO_CHECK_PASS);
        assert_no_quirk(R, "kernel-pcie-reset");
        vfio_check_report_free(R);
        variant_replace(root, "proc/version", "6.1.0-56-amd64", "3.10.0-123.el7.x86_64");
        R = run(root, NULL);
        assert_status(R, "kernel.version", VFIO_CHECK_FAIL);
        assert_contains(check(R, "kernel.version")->evidence, "older than 3.12");
        assert_quirk(R, "kernel-pcie-reset", NULL, VFIO_QUIRK_FAIL);
        vfio_check_report_free(R);
        variant_replace(root, "proc/version", "3.10.0-123.el7.x86_64", "4.0.4-301.fc22.x86_64");
        R = run(root, NULL);
        assert_status(R, "kernel.version", VFIO_CHECK_WARN);
        assert_no_quirk(R, "kernel-pcie-reset");
        vfio_check_report_free(R);
        variant_free(root);
}

/* ---------------- quirks ---------------- */

static void test_quirk_nf200_dma(void **state)
{
        char *root = variant_new(VIOMMU);
        opts o = { .pass = { BEHIND } };
        vfio_check_report *R = run(root, &o);
        const vfio_quirk_match *m;
        vfio_model *model = NULL;
        vfio_host *h = NULL;
        char **settings = NULL;
        char *pass[] = { (char *)BEHIND, NULL };

        assert_no_quirk(R, "nf200-dma-bypass");
        vfio_check_report_free(R);
        /* The PCIe-to-PCI bridge above the e1000 becomes an NF200 (10de:05b1). */
        variant_pci_ids(root, BRIDGE, 0x10de, 0x05b1, 0);
        R = run(root, &o);
        m = assert_quirk(R, "nf200-dma-bypass", BEHIND, VFIO_QUIRK_WARN);
        assert_string_equal(m->related, BRIDGE);
        assert_string_equal(m->evidence, "0000:05:01.0 [8086:100e] sits below 0000:04:00.0 [10de:05b1]");
        assert_string_equal(m->quirk->settings[0], "machine.max-ram-below-4g=1G");
        assert_contains(m->quirk->source, "seed 000");
        vfio_check_report_free(R);

        /* The NIC is not below it: no match. */
        o.pass[0] = NIC;
        R = run(root, &o);
        assert_no_quirk(R, "nf200-dma-bypass");
        vfio_check_report_free(R);

        /* The API the VM configuration uses. */
        assert_int_equal(vfio_host_open(root, &h), 0);
        assert_int_equal(vfio_model_load(h, &model), 0);
        assert_int_equal(vfio_quirks_vm_settings(h, model, pass, &settings), 0);
        assert_true(strv_contains(settings, "machine.max-ram-below-4g=1G"));
        strv_free(settings);
        vfio_model_free(model);
        vfio_host_free(h);
        variant_free(root);
}

static void test_quirk_nf200_sas(void **state)
{
        char *root = variant_new(VIOMMU);
        vfio_check_report *R;

        variant_pci_ids(root, AHCI, 0x1000, 0x0097, 0x010700); /* SAS3008 Fusion-MPT SAS-3 */
        R = run(root, NULL);
        assert_no_quirk(R, "nf200-sas-hba"); /* a SAS HBA alone is fine */
        vfio_check_report_free(R);
        variant_pci_ids(root, BRIDGE, 0x10de, 0x05b1, 0);
        R = run(root, NULL);
        assert_quirk(R, "nf200-sas-hba", AHCI, VFIO_QUIRK_WARN);
        assert_int_equal(R->verdict, VFIO_CHECK_FAIL);
        vfio_check_report_free(R);
        variant_free(root);
}

static void test_quirk_evga_sr2(void **state)
{
        char *root = variant_new(VIOMMU);
        vfio_check_report *R;
        char *fix;
        vfio_host *h = NULL;

        variant_write(root, "sys/class/dmi/id/board_vendor", "EVGA\n");
        variant_write(root, "sys/class/dmi/id/board_name", "X58 SLI Classified\n");
        R = run(root, NULL);
        assert_no_quirk(R, "evga-sr2-hotplug-flapping");
        vfio_check_report_free(R);
        variant_write(root, "sys/class/dmi/id/board_name", "Classified SR-2\n");
        R = run(root, NULL);
        assert_quirk(R, "evga-sr2-hotplug-flapping", NULL, VFIO_QUIRK_WARN);
        assert_int_equal(vfio_host_open(root, &h), 0);
        fix = vfio_check_expand_fix(h, quirk(R, "evga-sr2-hotplug-flapping", NULL)->quirk->fix);
        assert_string_equal(
                fix,
                "add 'pcie_ports=compat' to GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, then run: sudo update-grub, and reboot");
        free(fix);
        vfio_host_free(h);
        vfio_check_report_free(R);
        variant_replace(root, "proc/cmdline", "iommu=pt", "iommu=pt pcie_ports=compat");
        R = run(root, NULL);
        assert_no_quirk(R, "evga-sr2-hotplug-flapping");
        vfio_check_report_free(R);
        variant_free(root);
}

static void test_quirk_code43(void **state)
{
        char *root = variant_new(VIOMMU);
        opts o = { .pass = { GPU, GPU_HDA } };
        vfio_check_report *R;
        const vfio_quirk_match *m;

        variant_pci_ids(root, GPU, 0x10de, 0x1bb0, 0); /* GP104GL [Quadro P5000]: never blocked */
        R = run(root, &o);
        assert_no_quirk(R, "nvidia-geforce-code43");
        vfio_check_report_free(R);
        variant_pci_ids(root, GPU, 0x10de, 0x1b80, 0); /* GP104 [GeForce GTX 1080] */
        R = run(root, &o);
        m = assert_quirk(R, "nvidia-geforce-code43", GPU, VFIO_QUIRK_INFO);
        assert_string_equal(m->quirk->settings[0], "cpu.kvm=off");
        assert_contains(m->quirk->settings[1], "hyperv.vendor_id=");
        assert_contains(m->quirk->explanation, "R465");
        vfio_check_report_free(R);
        variant_free(root);
}

static void test_quirk_amd_reset(void **state)
{
        char *root = variant_new(VIOMMU);
        opts o = { .pass = { GPU, GPU_HDA } };
        vfio_check_report *R;
        const vfio_quirk_match *m;

        variant_pci_ids(root, GPU, 0x1002, 0x73bf, 0); /* Navi 21: resets fine */
        R = run(root, &o);
        assert_no_quirk(R, "amd-reset-bug");
        vfio_check_report_free(R);
        variant_pci_ids(root, GPU, 0x1002, 0x67df, 0); /* Ellesmere [Radeon RX 470/480/570/580/590] */
        R = run(root, &o);
        m = assert_quirk(R, "amd-reset-bug", GPU, VFIO_QUIRK_WARN);
        assert_contains(m->quirk->fix, "vendor-reset");
        assert_contains(m->quirk->explanation, "second start");
        assert_contains(m->quirk->source, "pci.ids");
        vfio_check_report_free(R);
        variant_free(root);
}

static void test_quirk_gpu_no_reset(void **state)
{
        char *root = variant_new(VIOMMU);
        opts o = { .pass = { GPU, GPU_HDA } };
        vfio_check_report *R = run(root, &o);

        assert_no_quirk(R, "gpu-no-reset"); /* reset_method "bus" */
        vfio_check_report_free(R);
        variant_pci_attr(root, GPU, "reset_method", "pm\n");
        R = run(root, &o);
        assert_string_equal(assert_quirk(R, "gpu-no-reset", GPU, VFIO_QUIRK_WARN)->evidence,
                            "0000:03:00.0 [1234:1111]: reset_method is 'pm'");
        vfio_check_report_free(R);
        variant_free(root);
}

static void test_quirk_igpu_vga(void **state)
{
        char *root = variant_new(VIOMMU);
        opts o = { .pass = { GPU, GPU_HDA } };
        vfio_check_report *R = run(root, &o);

        assert_no_quirk(R, "igpu-vga-arbitration");
        vfio_check_report_free(R);
        /* The boot display becomes an Intel iGPU (CoffeeLake-S GT2 [UHD Graphics 630]). */
        variant_pci_ids(root, BOOT_VGA, 0x8086, 0x3e92, 0);
        R = run(root, &o);
        assert_string_equal(
                assert_quirk(R, "igpu-vga-arbitration", GPU, VFIO_QUIRK_INFO)->evidence,
                "0000:00:01.0 [8086:3e92] is the boot VGA (boot_vga=1); 0000:03:00.0 [1234:1111] is not");
        assert_true(strv_contains(
                (char **)assert_quirk(R, "igpu-vga-arbitration", GPU, VFIO_QUIRK_INFO)->quirk->settings,
                "vfio.x-vga=off"));
        vfio_check_report_free(R);
        variant_free(root);
}

static void test_quirk_group_shared(void **state)
{
        char *root = variant_new(VIOMMU);
        opts o = { .pass = { GPU } };
        vfio_check_report *R = run(root, &o);
        const vfio_quirk_match *m = assert_quirk(R, "iommu-group-shared", GPU, VFIO_QUIRK_FAIL);

        assert_string_equal(
                m->evidence,
                "IOMMU group 13 of 0000:03:00.0 also holds 0000:03:00.1, bound to a host driver");
        assert_contains(m->quirk->fix, "ACS override patch");
        assert_contains(m->quirk->source, "seed 001");
        assert_int_equal(R->verdict, VFIO_CHECK_FAIL);
        vfio_check_report_free(R);
        o.pass[1] = GPU_HDA;
        R = run(root, &o);
        assert_no_quirk(R, "iommu-group-shared");
        vfio_check_report_free(R);
        /* Not passed, but parked on vfio-pci: the group stays viable. */
        o.pass[1] = NULL;
        variant_pci_driver(root, GPU_HDA, "vfio-pci");
        R = run(root, &o);
        assert_no_quirk(R, "iommu-group-shared");
        vfio_check_report_free(R);
        variant_free(root);
}

static void test_quirk_link_degraded(void **state)
{
        char *root = variant_new(VIOMMU);
        opts o = { .pass = { NIC } };
        vfio_check_report *R = run(root, &o);

        assert_no_quirk(R, "pcie-link-degraded"); /* x1 2.5 GT/s of x1 2.5 GT/s */
        vfio_check_report_free(R);
        variant_pci_attr(root, NIC, "max_link_width", "4\n");
        R = run(root, &o);
        assert_string_equal(
                assert_quirk(R, "pcie-link-degraded", NIC, VFIO_QUIRK_WARN)->evidence,
                "0000:01:00.0 [8086:10d3]: link x1 at 2.5 GT/s, the device supports x4 at 2.5 GT/s");
        vfio_check_report_free(R);
        variant_free(root);
}

static void test_quirk_host_critical(void **state)
{
        char *root = variant_new(VIOMMU);
        opts o = { .pass = { BOOT_VGA } };
        vfio_check_report *R = run(root, &o);
        const vfio_quirk_match *m = assert_quirk(R, "host-critical-device", BOOT_VGA, VFIO_QUIRK_FAIL);

        assert_contains(m->evidence, "0000:00:01.0 is boot-display: boot display (boot_vga=1");
        assert_int_equal(R->verdict, VFIO_CHECK_FAIL);
        vfio_check_report_free(R);
        o.force = true;
        R = run(root, &o);
        assert_quirk(R, "host-critical-device", BOOT_VGA, VFIO_QUIRK_WARN);
        vfio_check_report_free(R);
        o.force = false;
        o.pass[0] = NIC; /* not needed by the host */
        R = run(root, &o);
        assert_no_quirk(R, "host-critical-device");
        vfio_check_report_free(R);
        /* The same NIC carrying the default route (the capture's route table had none). */
        variant_append(root, "proc/net/route", "eth0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0");
        R = run(root, &o);
        assert_contains(assert_quirk(R, "host-critical-device", NIC, VFIO_QUIRK_FAIL)->evidence,
                        "0000:01:00.0 is network: ");
        vfio_check_report_free(R);
        variant_free(root);
}

static void test_quirk_realtek(void **state)
{
        char *root = variant_new(VIOMMU);
        opts o = { .pass = { NIC } };
        vfio_check_report *R = run(root, &o);

        assert_no_quirk(R, "realtek-nic");
        vfio_check_report_free(R);
        variant_pci_ids(root, NIC, 0x10ec, 0x8168, 0); /* RTL8111/8168/8411 */
        R = run(root, &o);
        assert_contains(assert_quirk(R, "realtek-nic", NIC, VFIO_QUIRK_WARN)->quirk->fix, "Intel");
        vfio_check_report_free(R);
        variant_free(root);
}

static void test_selector_errors(void **state)
{
        vfio_check_options co = { .probe = NULL };
        char *pass[] = { (char *)"10de:ffff", NULL }, *bad = NULL;
        vfio_check_report *R = NULL;
        vfio_host *h = NULL;
        char *root = variant_new(VIOMMU);

        co.pass = pass;
        assert_int_equal(vfio_host_open(root, &h), 0);
        assert_int_equal(vfio_check_run(h, &co, &R, &bad), -ENXIO);
        assert_null(R);
        assert_string_equal(bad,
                            "10de:ffff: no PCI device matches (see 'vfioctl devices' for names and IDs)");
        free(bad);
        vfio_host_free(h);
        variant_free(root);
}

static void test_quirk_table_is_documented_data(void **state)
{
        size_t n;
        const vfio_quirk *q = vfio_quirks_table(&n);

        assert_true(n >= 12);
        for (size_t i = 0; i < n; i++) {
                assert_non_null(q[i].id);
                assert_non_null(q[i].title);
                assert_non_null(q[i].explanation);
                assert_non_null(q[i].source);
                assert_non_null(q[i].fix);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_live_host),
                cmocka_unit_test(test_viommu_guest),
                cmocka_unit_test(test_cpu_virtualization),
                cmocka_unit_test(test_kvm_module),
                cmocka_unit_test(test_kvm_device),
                cmocka_unit_test(test_uinput),
                cmocka_unit_test(test_iommu_acpi),
                cmocka_unit_test(test_iommu_groups_and_cmdline_per_distribution),
                cmocka_unit_test(test_interrupt_remapping),
                cmocka_unit_test(test_vfio_modules),
                cmocka_unit_test(test_early_binding_softdep),
                cmocka_unit_test(test_early_binding_twins_by_identity),
                cmocka_unit_test(test_driver_binding),
                cmocka_unit_test(test_dev_vfio_permissions),
                cmocka_unit_test(test_memlock),
                cmocka_unit_test(test_hugepages),
                cmocka_unit_test(test_fragmentation),
                cmocka_unit_test(test_firmware),
                cmocka_unit_test(test_qemu_judgement),
                cmocka_unit_test(test_kernel_version),
                cmocka_unit_test(test_quirk_nf200_dma),
                cmocka_unit_test(test_quirk_nf200_sas),
                cmocka_unit_test(test_quirk_evga_sr2),
                cmocka_unit_test(test_quirk_code43),
                cmocka_unit_test(test_quirk_amd_reset),
                cmocka_unit_test(test_quirk_gpu_no_reset),
                cmocka_unit_test(test_quirk_igpu_vga),
                cmocka_unit_test(test_quirk_group_shared),
                cmocka_unit_test(test_quirk_link_degraded),
                cmocka_unit_test(test_quirk_host_critical),
                cmocka_unit_test(test_quirk_realtek),
                cmocka_unit_test(test_selector_errors),
                cmocka_unit_test(test_quirk_table_is_documented_data),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
