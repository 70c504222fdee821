/* Host-derived VM defaults: the vCPU pinning plan over a host topology. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
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
                cpus[i] = (vm_host_cpu){ .cpu = i,
                                         .core = i % 8,
                                         .package = 0,
                                         .l3 = (i % 8) < 4 ? 0 : 4,
                                         .node = 0,
                                         .sibling = (int)(i % 8) };
}

static void assert_plan(const vm_host_cpu *cpus, size_t n, unsigned vcpus, const char *want_pin,
                        const char *want_emu, unsigned want_threads)
{
        vm_pin_request req = { .vcpus = vcpus, .gpu_node = -1 };
        vm_pin_plan *plan = NULL;
        char *p, *e;

        assert_int_equal(vm_plan_pinning(cpus, n, &req, &plan), 0);
        p = strv_join(plan->pin, " ");
        e = strv_join(plan->emulator, " ");
        assert_string_equal(p, want_pin);
        assert_string_equal(e, want_emu);
        assert_int_equal(plan->threads, want_threads);
        free(p);
        free(e);
        vm_pin_plan_free(plan);
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
                cpus[i] = (vm_host_cpu){ .cpu = i, .core = i, .l3 = 0, .node = -1, .sibling = (int)i };
        assert_plan(cpus, 4, 3, "1 2 3", "0", 1);
}

static void test_pinning_too_few_cpus(void **state)
{
        vm_host_cpu cpus[16];
        vm_pin_request req = { .vcpus = 16, .gpu_node = -1 };
        vm_pin_plan *plan = NULL;

        ryzen_3700x(cpus);
        /* 16 vCPUs would leave the host nothing. */
        assert_int_equal(vm_plan_pinning(cpus, 16, &req, &plan), -E2BIG);
        assert_null(plan);
}

/* A 2P+8E laptop part as the kernel numbers it (P-core threads first, E-cores without siblings after). */
static void hybrid_2p8e(vm_host_cpu cpus[12])
{
        for (unsigned i = 0; i < 12; i++)
                cpus[i] = (vm_host_cpu){ .cpu = i,
                                         .core = i < 4 ? i / 2 * 4 : 8 + i,
                                         .l3 = 0,
                                         .node = 0,
                                         .sibling = i < 4 ? (int)(i / 2 * 2) : (int)i,
                                         .speed = i < 4 ? 4400000 : 3300000,
                                         .efficiency = i >= 4 };
}

/* The defect of issue 21: two separate E-cores were declared as one core's two threads. */
static void test_pinning_hybrid_never_pairs_e_cores(void **state)
{
        vm_host_cpu cpus[12];
        vm_pin_request req = { .vcpus = 6, .gpu_node = -1 };
        vm_pin_plan *plan = NULL;
        char *p;

        hybrid_2p8e(cpus);
        /* Both P-cores whole (the host keeps an E-core), then E-cores: no pair of E-cores is a core. */
        assert_int_equal(vm_plan_pinning(cpus, 12, &req, &plan), 0);
        p = strv_join(plan->pin, " ");
        assert_string_equal(p, "0 1 2 3 5 6");
        assert_string_equal(plan->emulator[0], "4");
        assert_int_equal(plan->threads, 1);
        free(p);
        vm_pin_plan_free(plan);
        /* Four fit on the two P-cores: there threads = 2 is true. */
        req.vcpus = 4;
        assert_int_equal(vm_plan_pinning(cpus, 12, &req, &plan), 0);
        p = strv_join(plan->pin, " ");
        assert_string_equal(p, "0 1 2 3");
        assert_int_equal(plan->threads, 2);
        free(p);
        vm_pin_plan_free(plan);
}

/* The topology fixtures (tests/data/sysfs/topology, tables of real machines) and where their GPU sits. */
static const struct topo_case {
        const char *fixture, *golden, *title;
        int gpu_node;
} topo_cases[] = {
        { "cpu-xeon-e5-2660v2-2s", "xeon-e5-2660v2-2s", "2x Xeon E5-2660 v2, two NUMA nodes, GPU on node 1",
          1 },
        /* The GPU on the host's own node: the node outweighs keeping clear of the host core's L3. */
        { "cpu-xeon-e5-2660v2-2s", "xeon-e5-2660v2-2s-node0",
          "2x Xeon E5-2660 v2, GPU on node 0 (the host core's)", 0 },
        { "cpu-tr-3970x", "tr-3970x", "Threadripper 3970X, Zen 2: 8 CCXs of 4 cores, two per die", 0 },
        { "cpu-i7-12700k", "i7-12700k", "Core i7-12700K, hybrid: 8 P-cores with SMT, 4 E-cores", 0 },
};

static const vm_host_cpu *cpu_of(const vm_host_cpu *cpus, size_t n, const char *s)
{
        unsigned long v = strtoul(s, NULL, 10);

        for (size_t i = 0; i < n; i++)
                if (cpus[i].cpu == v)
                        return &cpus[i];
        fail_msg("CPU %s is not on the host", s);
        return NULL;
}

/* CPUs of the host outside the emulator (host) core that satisfy a predicate, counted. */
static size_t count_free(const vm_host_cpu *cpus, size_t n, const vm_pin_plan *plan, int node, int l3,
                         bool fast)
{
        size_t k = 0;

        for (size_t i = 0; i < n; i++) {
                char buf[16];

                snprintf(buf, sizeof(buf), "%u", cpus[i].cpu);
                if (strv_contains(plan->emulator, buf) || (node >= 0 && cpus[i].node != node) ||
                    (l3 >= 0 && cpus[i].l3 != l3) || (fast && cpus[i].efficiency))
                        continue;
                k++;
        }
        return k;
}

/* What any plan must be, whatever the machine: the properties issue 21 asks for. */
static void assert_plan_shape(const vm_host_cpu *cpus, size_t n, const vm_pin_plan *plan, unsigned vcpus,
                              int gpu_node, bool multi_node)
{
        size_t np = strv_length(plan->pin), l3_room = 0;
        bool one_l3 = true, on_node = true, any_e = false;
        const vm_host_cpu *first = cpu_of(cpus, n, plan->pin[0]);

        assert_int_equal(np, vcpus);
        for (size_t i = 0; i < np; i++) {
                const vm_host_cpu *c = cpu_of(cpus, n, plan->pin[i]);

                /* Distinct CPUs, none of them the host's. */
                assert_false(strv_contains(plan->emulator, plan->pin[i]));
                for (size_t j = 0; j < i; j++)
                        assert_string_not_equal(plan->pin[i], plan->pin[j]);
                one_l3 &= c->l3 == first->l3;
                on_node &= c->node == gpu_node;
                any_e |= c->efficiency;
        }
        /* Node: on the GPU's node whenever it has room; memory bound there on a multi-node host. */
        if (count_free(cpus, n, plan, gpu_node, -1, false) >= vcpus) {
                assert_true(on_node);
                assert_int_equal(plan->memory_node, multi_node ? gpu_node : -1);
        }
        /* SMT: threads = 2 only over real sibling pairs, and whenever whole SMT cores were taken. */
        if (plan->threads == 2)
                for (size_t i = 0; i < np; i += 2)
                        assert_int_equal(cpu_of(cpus, n, plan->pin[i])->sibling,
                                         cpu_of(cpus, n, plan->pin[i + 1])->sibling);
        else if (vcpus % 2 == 0 && !any_e)
                fail_msg("%u vCPUs on SMT cores only, yet threads = %u", vcpus, plan->threads);
        /* L3: one domain whenever one on that node had room for every vCPU. */
        for (size_t i = 0; i < n; i++) {
                size_t k = count_free(cpus, n, plan, gpu_node, cpus[i].l3, false);

                if (k > l3_room)
                        l3_room = k;
        }
        if (l3_room >= vcpus)
                assert_true(one_l3);
        /* Hybrid: E-cores only once the performance cores are all taken. */
        if (any_e)
                assert_true(count_free(cpus, n, plan, -1, -1, true) < vcpus);
}

static void test_pinning_on_real_topologies(void **state)
{
        static const unsigned counts[] = { 4, 6, 8, 12 };

        for (size_t f = 0; f < ELEMENTSOF(topo_cases); f++) {
                const struct topo_case *tc = &topo_cases[f];
                char *root = fixture_data_path("sysfs"), *dir = NULL, *golden = NULL, *text = NULL;
                _cleanup_(vfio_host_freep) vfio_host *h = NULL;
                vm_host_cpu *cpus = NULL;
                size_t n = 0, size = 0;
                FILE *out;
                bool multi = false;

                assert_true(asprintf(&dir, "%s/%s", root, tc->fixture) > 0);
                assert_int_equal(vfio_host_open(dir, &h), 0);
                assert_int_equal(vm_host_cpus(h, &cpus, &n), 0);
                for (size_t i = 0; i < n; i++)
                        multi |= cpus[i].node != cpus[0].node;
                out = open_memstream(&text, &size);
                fprintf(out, "# %s (tests/data/sysfs/%s)\n", tc->title, tc->fixture);
                for (size_t k = 0; k < ELEMENTSOF(counts); k++) {
                        vm_pin_request req = { .vcpus = counts[k],
                                               .gpu_node = tc->gpu_node,
                                               .gpu = "0000:03:00.0" };
                        vm_pin_plan *plan = NULL;
                        char *p, *e;

                        assert_int_equal(vm_plan_pinning(cpus, n, &req, &plan), 0);
                        assert_plan_shape(cpus, n, plan, counts[k], tc->gpu_node, multi);
                        p = strv_join(plan->pin, " ");
                        e = strv_join(plan->emulator, " ");
                        fprintf(out,
                                "\n%u vCPUs: pin = %s\n  emulator_pin = %s, threads = %u, host_nodes = %d\n",
                                counts[k], p, e, plan->threads, plan->memory_node);
                        STRV_FOREACH(w, plan->why)
                                fprintf(out, "  # %s\n", *w);
                        free(p);
                        free(e);
                        vm_pin_plan_free(plan);
                }
                if (strcmp(tc->fixture, "cpu-i7-12700k") == 0) {
                        /* 18 vCPUs: all 8 P-cores and 2 E-cores; the E-cores are no sibling pair. */
                        vm_pin_request req = { .vcpus = 18, .gpu_node = 0 };
                        vm_pin_plan *plan = NULL;

                        assert_int_equal(vm_plan_pinning(cpus, n, &req, &plan), 0);
                        assert_plan_shape(cpus, n, plan, 18, 0, false);
                        assert_int_equal(plan->threads, 1);
                        assert_string_equal(plan->pin[16], "17");
                        assert_string_equal(plan->pin[17], "18");
                        vm_pin_plan_free(plan);
                }
                fclose(out);
                assert_true(asprintf(&golden, "golden/pin-%s.txt", tc->golden) > 0);
                assert_true(fixture_golden(golden, text));
                free(text);
                free(golden);
                free(cpus);
                free(dir);
                free(root);
        }
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
                cmocka_unit_test(test_pinning_hybrid_never_pairs_e_cores),
                cmocka_unit_test(test_pinning_on_real_topologies),
                cmocka_unit_test(test_nf200_dma_range_applied),
                cmocka_unit_test(test_every_create_quirk_setting_is_applied),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
