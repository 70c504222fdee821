/*
 * CPU lists and masks as the kernel writes them: sysfs cpulist files ("0-3,8-11"), cpuset.cpus,
 * smp_affinity_list, and the hex mask of /proc/irq/default_smp_affinity ("ff,0000000f"). Host isolation
 * records old values in these forms and writes them back, so what is parsed must format back the same.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cpulist.h"

#define N 128

static void round_trip(const char *in, const char *out)
{
        bool set[N];
        char *s;

        assert_int_equal(cpulist_parse(in, set, N), 0);
        s = cpulist_format(set, N, ',');
        assert_non_null(s);
        assert_string_equal(s, out);
        free(s);
}

static void test_lists(void **state)
{
        bool set[N];

        round_trip("0-3,8-11\n", "0-3,8-11");
        round_trip("1", "1");
        round_trip("", "");
        /* systemd prints AllowedCPUs with spaces ("0-1 4"); ranges merge. */
        round_trip("0-1 4 2-3", "0-4");
        round_trip("5,3,4", "3-5");
        assert_int_equal(cpulist_parse("0-127", set, N), 0);
        assert_int_equal(cpulist_count(set, N), 128);
}

static void test_bad_lists_leave_the_set(void **state)
{
        static const char *const bad[] = { "3-1", "a",     "1-",
                                           "-1",  "0-128", "128",
                                           "1;2", "1,,x",  "99999999999999999999" };
        bool set[N];

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                memset(set, 0, sizeof(set));
                set[7] = true;
                assert_int_equal(cpulist_parse(bad[i], set, N), -EINVAL);
                /* untouched on failure */
                assert_true(set[7]);
                assert_int_equal(cpulist_count(set, N), 1);
        }
        assert_int_equal(cpulist_parse("1", set, 0), -EINVAL);
        assert_int_equal(cpulist_parse("1", set, CPULIST_MAX + 1), -EINVAL);
}

static void test_masks(void **state)
{
        bool set[N];
        char *s;

        /* CPU 0 only, as the kernel prints it on a small host. */
        assert_int_equal(cpulist_parse("0", set, N), 0);
        s = cpulist_format_mask(set, N);
        assert_string_equal(s, "00000001");
        free(s);
        /* 32-bit words, highest first: CPUs 0-3 and 32-39. */
        assert_int_equal(cpulist_parse("0-3,32-39", set, N), 0);
        s = cpulist_format_mask(set, N);
        assert_string_equal(s, "000000ff,0000000f");
        free(s);
        assert_int_equal(cpulist_parse_mask("ff,0000000f\n", set, N), 0);
        s = cpulist_format(set, N, ',');
        assert_string_equal(s, "0-3,32-39");
        free(s);
        /* The kernel's short form on a 2-CPU host. */
        assert_int_equal(cpulist_parse_mask("3", set, N), 0);
        assert_int_equal(cpulist_count(set, N), 2);
        /* Not hex, a word too long, a CPU past the cap: refused, set untouched. */
        memset(set, 0, sizeof(set));
        assert_int_equal(cpulist_parse_mask("xyz", set, N), -EINVAL);
        assert_int_equal(cpulist_parse_mask("123456789", set, N), -EINVAL);
        assert_int_equal(cpulist_parse_mask("1,00000000,00000000,00000000,00000000", set, N), -EINVAL);
        /* An empty word is no word the kernel writes: at either end, between two commas, or the whole. */
        assert_int_equal(cpulist_parse_mask(",ff", set, N), -EINVAL);
        assert_int_equal(cpulist_parse_mask("ff,", set, N), -EINVAL);
        assert_int_equal(cpulist_parse_mask("ff,,0", set, N), -EINVAL);
        assert_int_equal(cpulist_parse_mask("", set, N), -EINVAL);
        assert_int_equal(cpulist_parse_mask("\n", set, N), -EINVAL);
        assert_int_equal(cpulist_count(set, N), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lists),
                cmocka_unit_test(test_bad_lists_leave_the_set),
                cmocka_unit_test(test_masks),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
