/* Checked parsing: every accepted form, and every near miss refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "parse-util.h"

static void test_parse_uint_accepts_whole_numbers(void **state)
{
        uint64_t v;

        assert_int_equal(parse_uint("42", 10, 100, &v), 0);
        assert_int_equal(v, 42);
        assert_int_equal(parse_uint("ff", 16, 255, &v), 0);
        assert_int_equal(v, 255);
}

static void test_parse_uint_refuses_near_misses(void **state)
{
        uint64_t v = 7;

        assert_int_equal(parse_uint("", 10, 100, &v), -EINVAL);
        assert_int_equal(parse_uint(" 4", 10, 100, &v), -EINVAL);
        assert_int_equal(parse_uint("-1", 10, 100, &v), -EINVAL);
        assert_int_equal(parse_uint("4x", 10, 100, &v), -EINVAL);
        assert_int_equal(parse_uint("101", 10, 100, &v), -ERANGE);
        assert_int_equal(parse_uint("99999999999999999999999", 10, UINT64_MAX, &v), -ERANGE);
        assert_int_equal(v, 7); /* untouched on failure */
}

static void test_parse_int_range(void **state)
{
        int64_t v;

        assert_int_equal(parse_int("-1", -1, 10, &v), 0);
        assert_int_equal(v, -1);
        assert_int_equal(parse_int("-2", -1, 10, &v), -ERANGE);
        assert_int_equal(parse_int("+3", -1, 10, &v), -EINVAL);
        assert_int_equal(parse_int("abc", -1, 10, &v), -EINVAL);
}

static void test_parse_hex_id(void **state)
{
        uint32_t v;

        assert_int_equal(parse_hex_id("0x10de", 16, &v), 0);
        assert_int_equal(v, 0x10de);
        assert_int_equal(parse_hex_id("1b80", 16, &v), 0);
        assert_int_equal(v, 0x1b80);
        assert_int_equal(parse_hex_id("0x030000", 24, &v), 0);
        assert_int_equal(v, 0x030000);
        assert_int_equal(parse_hex_id("0x10de0", 16, &v), -EINVAL);
        assert_int_equal(parse_hex_id("0x", 16, &v), -EINVAL);
        assert_int_equal(parse_hex_id("0xzz", 16, &v), -EINVAL);
}

static void test_parse_size_units(void **state)
{
        uint64_t v;

        assert_int_equal(parse_size("16G", &v), 0);
        assert_int_equal(v, UINT64_C(16) << 30);
        assert_int_equal(parse_size("16384M", &v), 0);
        assert_int_equal(v, UINT64_C(16) << 30);
        assert_int_equal(parse_size("2GiB", &v), 0);
        assert_int_equal(v, UINT64_C(2) << 30);
        assert_int_equal(parse_size("512", &v), 0);
        assert_int_equal(v, 512);
        assert_int_equal(parse_size("G", &v), -EINVAL);
        assert_int_equal(parse_size("1Q", &v), -EINVAL);
        assert_int_equal(parse_size("99999999999T", &v), -ERANGE);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_uint_accepts_whole_numbers),
                cmocka_unit_test(test_parse_uint_refuses_near_misses),
                cmocka_unit_test(test_parse_int_range),
                cmocka_unit_test(test_parse_hex_id),
                cmocka_unit_test(test_parse_size_units),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
