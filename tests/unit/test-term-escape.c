/* Input shown in messages cannot drive the terminal (escape sequences, C1 controls, bad UTF-8) and is
 * bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "term-escape.h"

static void expect(const char *in, size_t max, const char *want)
{
        char *s = escape_for_terminal(in, max);

        assert_non_null(s);
        assert_string_equal(s, want);
        free(s);
}

static void test_controls_escaped(void **state)
{
        (void)state;
        expect("plain text, é and 日本", 100, "plain text, é and 日本");
        /* OSC title change and SGR colour: every ESC, BEL, CR, LF shown, none sent. */
        expect("\033]0;pwned\007\033[31mred", 100, "\\x1b]0;pwned\\x07\\x1b[31mred");
        expect("a\nforged: line\r", 100, "a\\x0aforged: line\\x0d");
        expect("del\177", 100, "del\\x7f");
        /* U+009B is CSI as a C1 control (UTF-8 c2 9b); 0x9b alone is invalid UTF-8. */
        expect("\xc2\x9b"
               "31m",
               100, "\\xc2\\x9b31m");
        expect("\x9b"
               "31m",
               100, "\\x9b31m");
        /* Overlong and surrogate forms are not let through as text. */
        expect("\xc0\xaf", 100, "\\xc0\\xaf");
        expect("\xed\xa0\x80", 100, "\\xed\\xa0\\x80");
        expect("back\\slash", 100, "back\\\\slash");
}

static void test_bounded(void **state)
{
        char *big = malloc(500001), *s;

        (void)state;
        memset(big, 'A', 500000);
        big[500000] = 0;
        s = escape_for_terminal(big, 64);
        assert_non_null(s);
        assert_true(strlen(s) < 100);
        assert_non_null(strstr(s, "...(499936 more bytes)"));
        free(s);
        free(big);
        /* A multi-byte character cut by the bound is escaped, never half-printed. */
        expect("ab\xc3\xa9", 3, "ab\\xc3...(1 more bytes)");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_controls_escaped),
                cmocka_unit_test(test_bounded),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
