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

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pinning_prefers_one_l3_and_keeps_a_core),
                cmocka_unit_test(test_pinning_spills_into_second_l3),
                cmocka_unit_test(test_pinning_odd_count_without_smt_pairs),
                cmocka_unit_test(test_pinning_no_smt),
                cmocka_unit_test(test_pinning_too_few_cpus),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
