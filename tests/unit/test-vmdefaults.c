/* Host-derived VM defaults: the vCPU pinning plan over a host topology. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strv.h"
#include "variant.h"
#include "vfioctl/model.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/quirks.h"
#include "vfioctl/vmcreate.h"
#include "vfioctl/vmdefaults.h"

/* A Ryzen 7 3700X as the kernel numbers it: 8 cores in two CCXs of 4 (one L3 each), SMT sibling n+8. */
static void ryzen_3700x(vm_host_cpu cpus[16])
{
        for (unsigned i = 0; i < 16; i++)
                cpus[i] = (vm_host_cpu){ .cpu = i, .core = i % 8, .package = 0, .l3 = (i % 8) < 4 ? 0 : 4 };
}

static void assert_plan(const vm_host_cpu *cpus, size_t n, unsigned vcpus, const char *want_pin,
                        const char *want_emu, unsigned want_threads)
{
        char **pin = NULL, **emu = NULL, *p, *e;
        unsigned threads = 0;

        assert_int_equal(vm_plan_pinning(cpus, n, vcpus, &pin, &emu, &threads), 0);
        p = strv_join(pin, " ");
        e = strv_join(emu, " ");
        assert_string_equal(p, want_pin);
        assert_string_equal(e, want_emu);
        assert_int_equal(threads, want_threads);
        free(p);
        free(e);
        strv_free(pin);
        strv_free(emu);
}

static void test_pinning_prefers_one_l3_and_keeps_a_core(void **state)
{
        vm_host_cpu cpus[16];

        ryzen_3700x(cpus);
        /* Core 0 (CPUs 0 and 8) stays with the host; the second CCX has four free cores: all of it. */
        assert_plan(cpus, 16, 8, "4 12 5 13 6 14 7 15", "0 8", 2);
}

static void test_pinning_spills_into_second_l3(void **state)
{
        vm_host_cpu cpus[16];

        ryzen_3700x(cpus);
        assert_plan(cpus, 16, 12, "4 12 5 13 6 14 7 15 1 9 2 10", "0 8", 2);
}

static void test_pinning_odd_count_without_smt_pairs(void **state)
{
        vm_host_cpu cpus[16];

        ryzen_3700x(cpus);
        assert_plan(cpus, 16, 3, "4 12 5", "0 8", 1);
}

static void test_pinning_no_smt(void **state)
{
        vm_host_cpu cpus[4];

        for (unsigned i = 0; i < 4; i++)
                cpus[i] = (vm_host_cpu){ .cpu = i, .core = i, .l3 = 0 };
        assert_plan(cpus, 4, 3, "1 2 3", "0", 1);
}

static void test_pinning_too_few_cpus(void **state)
{
        vm_host_cpu cpus[16];
        char **pin = NULL, **emu = NULL;
        unsigned threads = 7;

        ryzen_3700x(cpus);
        /* 16 vCPUs would leave the host nothing. */
        assert_int_equal(vm_plan_pinning(cpus, 16, 16, &pin, &emu, &threads), -E2BIG);
        assert_null(pin);
        assert_int_equal(threads, 7);
}

/* Resolves text against the fixture at root; returns the config, warnings joined in *ret_warn. */
static vm_config *resolve_on(const char *root, const char *text, char **ret_warn)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_(vfio_model_freep) vfio_model *m = NULL;
        char **errors = NULL, **warnings = NULL;
        vm_config *c = NULL;

        assert_int_equal(vm_config_parse_string(text, "t.conf", "t", &c, &errors), 0);
        assert_int_equal(vfio_host_open(root, &h), 0);
        assert_int_equal(vfio_model_load(h, &m), 0);
        assert_int_equal(vm_config_resolve(c, m, NULL, &warnings, &errors), 0);
        assert_null(errors);
        *ret_warn = warnings ? strv_join(warnings, "\n") : strdup("");
        strv_free(warnings);
        return c;
}

static bool argv_has(const vm_config *c, const char *needle)
{
        vm_argv_paths p = { .runtime_dir = "/run/vfioctl/t",
                            .state_dir = "/var/lib/vfioctl/t",
                            .uid = 1000 };
        char **args = NULL, **notes = NULL;
        bool found = false;

        assert_int_equal(vm_qemu_argv(c, &p, &args, &notes), 0);
        STRV_FOREACH(a, args)
                found |= strstr(*a, needle) != NULL;
        strv_free(args);
        strv_free(notes);
        return found;
}

/* seed 000: a device below an NF200 bridge gets max-ram-below-4g=1G whatever the config says. */
static void test_nf200_dma_range_applied(void **state)
{
        const char *conf = "[pci \"nic\"]\ndevice = 05:01.0\n";
        const char *conf_big = "[vm]\nmax_ram_below_4g = 2G\n[pci \"nic\"]\ndevice = 05:01.0\n";
        const char *conf_low = "[vm]\nmax_ram_below_4g = 512M\n[pci \"nic\"]\ndevice = 05:01.0\n";
        const char *conf_other = "[pci \"nic\"]\ndevice = 01:00.0\n";
        char *root = variant_new("q35-viommu");
        vm_config *c;
        char *w;

        (void)state;
        /* An ordinary bridge: nothing changes. */
        c = resolve_on(root, conf, &w);
        assert_int_equal(c->vm.max_ram_below_4g, 0);
        assert_false(argv_has(c, "max-ram-below-4g"));
        assert_string_equal(w, "");
        free(w);
        vm_config_free(c);

        /* The PCIe-to-PCI bridge above the e1000 at 05:01.0 becomes an NF200 (10de:05b1). */
        variant_pci_ids(root, "0000:04:00.0", 0x10de, 0x05b1, 0);
        c = resolve_on(root, conf, &w);
        assert_int_equal(c->vm.max_ram_below_4g, 1ULL << 30);
        assert_true(argv_has(c, "max-ram-below-4g=1G"));
        assert_non_null(strstr(w, "max-ram-below-4g=1G applied"));
        assert_non_null(strstr(w, "nf200-dma-bypass"));
        free(w);
        vm_config_free(c);

        /* A larger value from the file is lowered (with a warning); a lower one is kept. */
        c = resolve_on(root, conf_big, &w);
        assert_int_equal(c->vm.max_ram_below_4g, 1ULL << 30);
        assert_non_null(strstr(w, "lowered to 1G"));
        free(w);
        vm_config_free(c);
        c = resolve_on(root, conf_low, &w);
        assert_int_equal(c->vm.max_ram_below_4g, 512ULL << 20);
        assert_string_equal(w, "");
        free(w);
        vm_config_free(c);

        /* A device elsewhere on the same host is not affected. */
        c = resolve_on(root, conf_other, &w);
        assert_int_equal(c->vm.max_ram_below_4g, 0);
        free(w);
        vm_config_free(c);
        variant_free(root);
}

/* Every quirk setting that create writes into a config is one it knows how to write: check's claim
 * ("vfioctl create writes into a new VM's configuration") holds for the whole table. */
static void test_every_create_quirk_setting_is_applied(void **state)
{
        size_t n;
        const vfio_quirk *q = vfio_quirks_table(&n);
        unsigned seen = 0;

        for (size_t i = 0; i < n; i++)
                for (const char *const *s = q[i].settings; s && *s; s++) {
                        vm_config *c = NULL;

                        assert_int_equal(vm_config_new("q", &c), 0);
                        assert_int_equal(vm_create_apply_setting(c, *s), 0);
                        if (strcmp(*s, "cpu.kvm=off") == 0)
                                assert_true(c->cpu.hide_kvm);
                        if (strncmp(*s, "hyperv.vendor_id=", 17) == 0) {
                                assert_true(c->cpu.hyperv);
                                assert_string_equal(c->cpu.hyperv_vendor_id, *s + 17);
                        }
                        vm_config_free(c);
                        seen++;
                }
        assert_true(seen >= 5);
        {
                vm_config *c = NULL;

                assert_int_equal(vm_config_new("q", &c), 0);
                assert_int_equal(vm_create_apply_setting(c, "cpu.warp=9"), -EINVAL);
                vm_config_free(c);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pinning_prefers_one_l3_and_keeps_a_core),
                cmocka_unit_test(test_pinning_spills_into_second_l3),
                cmocka_unit_test(test_pinning_odd_count_without_smt_pairs),
                cmocka_unit_test(test_pinning_no_smt),
                cmocka_unit_test(test_pinning_too_few_cpus),
                cmocka_unit_test(test_nf200_dma_range_applied),
                cmocka_unit_test(test_every_create_quirk_setting_is_applied),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
