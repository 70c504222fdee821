/* The parsers behind vfioctl check: modprobe.d, limits.conf, cpuinfo, proc/version, os-release, buddyinfo.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strv.h"
#include "vfioctl/cpu.h"
#include "vfioctl/distro.h"
#include "vfioctl/kernel.h"
#include "vfioctl/memory.h"

static void test_modprobe_softdep_options_blacklist(void **state)
{
        vfio_modprobe *m = vfio_modprobe_new();
        const vfio_softdep *s;

        assert_non_null(m);
        /* Seed 003's vfio-pci.conf, plus the usual softdeps, a continuation and comments. */
        assert_int_equal(vfio_modprobe_parse(m,
                                             "# GPU for the VM\n"
                                             "options vfio-pci ids=10DE:17c8,10de:0fb0\n"
                                             "softdep nouveau pre: vfio-pci\n"
                                             "softdep snd_hda_intel pre: vfio_pci post: \\\n"
                                             "  snd-hda-codec-hdmi\n"
                                             "  # softdep amdgpu pre: vfio-pci\n"
                                             "blacklist nvidiafb\n"
                                             "options vfio_iommu_type1 allow_unsafe_interrupts=1\n",
                                             "etc/modprobe.d/vfio.conf"),
                         0);
        assert_int_equal(strv_length(m->vfio_pci_ids), 2);
        assert_string_equal(m->vfio_pci_ids[0], "10de:17c8"); /* lower-cased */
        assert_string_equal(m->vfio_pci_ids_where, "etc/modprobe.d/vfio.conf:2");
        s = vfio_modprobe_find_softdep(m, "nouveau", "vfio_pci");
        assert_non_null(s);
        assert_string_equal(s->where, "etc/modprobe.d/vfio.conf:3");
        s = vfio_modprobe_find_softdep(m, "snd_hda_intel", "vfio_pci");
        assert_non_null(s);
        assert_false(strv_contains(s->pre, "snd_hda_codec_hdmi"));        /* post:, not pre: */
        assert_null(vfio_modprobe_find_softdep(m, "amdgpu", "vfio_pci")); /* commented out */
        assert_true(strv_contains(m->blacklist, "nvidiafb"));
        assert_true(m->allow_unsafe_interrupts);
        /* A later ids= replaces the earlier one: the module sees the last value. */
        assert_int_equal(vfio_modprobe_parse(m, "options vfio_pci ids=1002:67df\n", "etc/modprobe.d/z.conf"),
                         0);
        assert_int_equal(strv_length(m->vfio_pci_ids), 1);
        assert_string_equal(m->vfio_pci_ids_where, "etc/modprobe.d/z.conf:1");
        vfio_modprobe_free(m);
}

static void test_memlock_precedence(void **state)
{
        char *groups[] = { (char *)"vm", (char *)"kvm", NULL };
        vfio_memlock ml = { .soft = VFIO_LIMIT_UNSET, .hard = VFIO_LIMIT_UNSET };
        int ps = 100, ph = 100;

        /* limits.conf(5): user beats @group beats *; among equals the later line wins; values in KiB. */
        assert_int_equal(vfio_memlock_parse(&ml, &ps, &ph,
                                            "*    hard memlock 65536\n"
                                            "@kvm hard memlock 8388608 # 8 GiB\n"
                                            "*    hard memlock 131072\n"
                                            "@kvm - memlock unlimited\n"
                                            "vm   soft memlock 16777216\n"
                                            "other hard memlock 1\n"
                                            "vm hard nofile 1024\n",
                                            "etc/security/limits.conf", "vm", 1000, groups),
                         0);
        assert_true(ml.hard == VFIO_LIMIT_UNLIMITED);
        assert_string_equal(ml.hard_where, "etc/security/limits.conf:4");
        assert_true(ml.soft == (UINT64_C(16777216) << 10));
        assert_string_equal(ml.soft_where, "etc/security/limits.conf:5");
        /* A later group line cannot beat the user's own line. */
        assert_int_equal(vfio_memlock_parse(&ml, &ps, &ph, "@kvm soft memlock 1024\n",
                                            "etc/security/limits.d/x.conf", "vm", 1000, groups),
                         0);
        assert_true(ml.soft == (UINT64_C(16777216) << 10));
        vfio_memlock_done(&ml);

        /* Group and wildcard lines do not apply to root. */
        ps = ph = 100;
        assert_int_equal(vfio_memlock_parse(&ml, &ps, &ph, "* hard memlock 64\n@root hard memlock 64\n", "f",
                                            "root", 0, groups),
                         0);
        assert_true(ml.hard == VFIO_LIMIT_UNSET);
        vfio_memlock_done(&ml);
}

static void test_cpuinfo(void **state)
{
        vfio_cpu *c = NULL;

        assert_int_equal(
                vfio_cpu_parse(
                        "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU E3-1225 v3 @ 3.20GHz\nflags\t\t: fpu vme vmx est\n\nprocessor\t: 1\n"
                        "vendor_id\t: GenuineIntel\nflags\t\t: fpu\n",
                        &c),
                0);
        assert_int_equal(c->vendor, VFIO_CPU_VENDOR_INTEL);
        assert_true(c->vmx);
        assert_false(c->svm);
        assert_false(c->hypervisor);
        assert_int_equal(c->n_cpus, 2);
        assert_string_equal(vfio_cpu_kvm_module(c), "kvm_intel");
        vfio_cpu_free(c);
        /* "svm" must be a whole flag, not part of "svm_lock"-like names. */
        assert_int_equal(vfio_cpu_parse("vendor_id : AuthenticAMD\nflags : svm_lock hypervisor\n", &c), 0);
        assert_false(c->svm);
        assert_true(c->hypervisor);
        assert_string_equal(vfio_cpu_iommu_param(c), "amd_iommu=on");
        vfio_cpu_free(c);
}

static void test_proc_version_and_cmdline(void **state)
{
        char *rel = NULL, **cl = NULL;
        unsigned v = 0;

        assert_int_equal(
                vfio_kernel_parse_version(
                        "Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) (gcc-12) #1 SMP",
                        &rel, &v),
                0);
        assert_string_equal(rel, "6.1.0-56-amd64");
        assert_int_equal(v, VFIO_KERNEL_VERSION(6, 1, 0));
        free(rel);
        assert_int_equal(vfio_kernel_parse_version("Linux version 3.10.0-1160.el7.x86_64 (x)", &rel, &v), 0);
        assert_int_equal(v, VFIO_KERNEL_VERSION(3, 10, 0));
        free(rel);
        rel = NULL;
        assert_int_equal(vfio_kernel_parse_version("FreeBSD 14", &rel, &v), -EINVAL);
        assert_null(rel);
        /* Everything after "--" belongs to init (this machine's Firecracker command line has it). */
        assert_int_equal(
                vfio_kernel_parse_cmdline("quiet intel_iommu=on -- --firecracker-init iommu=pt\n", &cl), 0);
        assert_int_equal(strv_length(cl), 2);
        assert_false(strv_contains(cl, "iommu=pt"));
        strv_free(cl);
}

static void test_distro_commands(void **state)
{
        vfio_distro *d = NULL;
        char *s;

        assert_int_equal(vfio_distro_parse("ID=ubuntu\nID_LIKE=debian\n", 1, 0, &d), 0);
        assert_int_equal(d->family, VFIO_FAMILY_DEBIAN);
        assert_string_equal(vfio_distro_initramfs_cmd(d), "update-initramfs -u -k all");
        vfio_distro_free(d);
        assert_int_equal(vfio_distro_parse("ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n", 1, 0, &d), 0);
        assert_int_equal(d->family, VFIO_FAMILY_FEDORA);
        assert_string_equal(vfio_distro_initramfs_cmd(d), "dracut -f --regenerate-all");
        s = vfio_distro_early_modules_fix(d, "vfio vfio_iommu_type1 vfio_pci");
        assert_string_equal(
                s,
                "write /etc/dracut.conf.d/vfio.conf containing: force_drivers+=\" vfio vfio_iommu_type1 vfio_pci \", then run: sudo dracut -f --regenerate-all");
        free(s);
        vfio_distro_free(d);
        assert_int_equal(vfio_distro_parse("ID=arch\n", 1, 0, &d), 0);
        s = vfio_distro_cmdline_fix(d, "intel_iommu=on");
        assert_string_equal(
                s,
                "add 'intel_iommu=on' to GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, then run: sudo grub-mkconfig -o /boot/grub/grub.cfg, and reboot");
        free(s);
        assert_string_equal(vfio_distro_initramfs_cmd(d), "mkinitcpio -P");
        vfio_distro_free(d);
        assert_int_equal(vfio_distro_parse("ID=\"sles\"\nID_LIKE=\"suse\"\n", 1, 0, &d), 0);
        assert_int_equal(d->family, VFIO_FAMILY_SUSE);
        s = vfio_distro_cmdline_fix(d, "iommu=pt");
        assert_string_equal(
                s,
                "add 'iommu=pt' to GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, then run: sudo grub2-mkconfig -o /boot/grub2/grub.cfg, and reboot");
        free(s);
        s = vfio_distro_install_cmd(d, "ovmf");
        assert_string_equal(s, "sudo zypper install qemu-ovmf-x86_64");
        free(s);
        assert_string_equal(vfio_distro_initramfs_cmd(d), "dracut -f --regenerate-all");
        vfio_distro_free(d);
}

static void test_buddyinfo(void **state)
{
        vfio_memory m = { .page_size = 4096 };

        /* This machine's buddyinfo: DMA is never used, order 9 (2 MiB) and 10 (4 MiB) count for 2 MiB pages.
         */
        assert_int_equal(
                vfio_memory_parse_buddyinfo(
                        &m,
                        "Node 0, zone      DMA      0      0      0      0      0      0      0      0      1      1      3 \n"
                        "Node 0, zone    DMA32      1      1      4      2      5      4      3      3      4      2    752 \n"),
                0);
        assert_int_equal(m.n_zones, 2);
        assert_true(vfio_memory_free_in_blocks(&m, 2u << 20) == (UINT64_C(2) << 21) + (UINT64_C(752) << 22));
        for (size_t i = 0; i < m.n_zones; i++)
                free(m.zones[i].zone);
        free(m.zones);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_modprobe_softdep_options_blacklist),
                cmocka_unit_test(test_memlock_precedence),
                cmocka_unit_test(test_cpuinfo),
                cmocka_unit_test(test_proc_version_and_cmdline),
                cmocka_unit_test(test_distro_commands),
                cmocka_unit_test(test_buddyinfo),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
