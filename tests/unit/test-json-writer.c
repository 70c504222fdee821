/*
 * The JSON writer against json-c as the oracle: random documents built both ways (every byte value in
 * strings and keys, empty and nested containers, integer extremes) must print the same bytes as
 * json_object_to_json_string_ext(PRETTY | SPACED | NOSLASHESCAPE); misuse is reported, never printed.
 */
#include <errno.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "json-writer.h"

#define FLAGS (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
        /* xorshift64: the same documents on every run, so a failure reproduces. */
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return (uint32_t)(rng_state % n);
}

static void random_string(char *buf, size_t size)
{
        size_t n = rnd((uint32_t)size);

        for (size_t i = 0; i < n; i++)
                buf[i] = (char)(1 + rnd(255)); /* any byte but NUL */
        buf[n] = 0;
}

/* Builds one random value both ways; json-c's side is returned (NULL stands for null). */
static json_object *random_value(json_writer *w, unsigned depth)
{
        char s[40];
        uint32_t kind = rnd(depth < 5 ? 8 : 5);

        switch (kind) {
        case 0: {
                int64_t v = rnd(4) == 0 ? INT64_MIN : rnd(4) == 0 ? INT64_MAX : (int64_t)rnd(100000) - 50000;

                json_writer_int(w, v);
                return json_object_new_int64(v);
        }
        case 1: {
                bool b = rnd(2);

                json_writer_bool(w, b);
                return json_object_new_boolean(b);
        }
        case 2:
                if (rnd(2)) {
                        json_writer_null(w);
                } else
                        json_writer_string(w, NULL);
                return NULL;
        case 3:
        case 4:
                random_string(s, sizeof(s));
                json_writer_string(w, s);
                return json_object_new_string(s);
        case 5:
        case 6: {
                json_object *o = json_object_new_object();
                unsigned n = rnd(5);

                json_writer_object_begin(w);
                for (unsigned i = 0; i < n; i++) {
                        /* Distinct keys: json-c replaces a repeated key in place, the writer does not. */
                        random_string(s, sizeof(s) - 4);
                        snprintf(s + strlen(s), 4, "%u", i);
                        json_writer_key(w, s);
                        json_object_object_add(o, s, random_value(w, depth + 1));
                }
                json_writer_object_end(w);
                return o;
        }
        default: {
                json_object *a = json_object_new_array();
                unsigned n = rnd(5);

                json_writer_array_begin(w);
                for (unsigned i = 0; i < n; i++)
                        json_object_array_add(a, random_value(w, depth + 1));
                json_writer_array_end(w);
                return a;
        }
        }
}

static void test_random_documents_match_json_c(void **state)
{
        (void)state;
        rng_state = 0x9e3779b97f4a7c15u;
        for (unsigned i = 0; i < 3000; i++) {
                _cleanup_(json_writer_freep) json_writer *w = NULL;
                json_object *o;
                const char *got;
                size_t len;

                assert_int_equal(json_writer_new(&w), 0);
                /* Documents are objects or arrays at the top, as every vfioctl listing. */
                json_writer_object_begin(w);
                json_writer_key(w, "doc");
                o = json_object_new_object();
                json_object_object_add(o, "doc", random_value(w, 0));
                json_writer_object_end(w);
                assert_int_equal(json_writer_finish(w, &got, &len), 0);
                assert_string_equal(got, json_object_to_json_string_ext(o, FLAGS));
                assert_int_equal(len, strlen(got));
                json_object_put(o);
        }
}

static void test_every_byte_is_escaped_as_json_c_does(void **state)
{
        _cleanup_(json_writer_freep) json_writer *w = NULL;
        json_object *a = json_object_new_array();
        const char *got;
        char s[2] = { 0 };

        (void)state;
        assert_int_equal(json_writer_new(&w), 0);
        json_writer_array_begin(w);
        for (int c = 1; c < 256; c++) {
                s[0] = (char)c;
                json_writer_string(w, s);
                json_object_array_add(a, json_object_new_string(s));
        }
        json_writer_array_end(w);
        assert_int_equal(json_writer_finish(w, &got, NULL), 0);
        assert_string_equal(got, json_object_to_json_string_ext(a, FLAGS));
        /* The forms a reader sees: control bytes as \u00xx, "/" bare. */
        assert_non_null(strstr(got, "\"\\u001f\""));
        assert_non_null(strstr(got, "\"/\""));
        json_object_put(a);
}

static void test_empty_containers_close_on_their_own_line(void **state)
{
        _cleanup_(json_writer_freep) json_writer *w = NULL;
        const char *got;

        (void)state;
        assert_int_equal(json_writer_new(&w), 0);
        json_writer_object_begin(w);
        json_writer_key(w, "a");
        json_writer_array_begin(w);
        json_writer_array_end(w);
        json_writer_key(w, "o");
        json_writer_object_begin(w);
        json_writer_object_end(w);
        json_writer_object_end(w);
        assert_int_equal(json_writer_finish(w, &got, NULL), 0);
        assert_string_equal(got, "{\n  \"a\": [\n  ],\n  \"o\": {\n  }\n}");
}

static void test_misuse_is_an_error_not_output(void **state)
{
        const char *got = NULL;

        (void)state;
        {
                _cleanup_(json_writer_freep) json_writer *w = NULL;

                assert_int_equal(json_writer_new(&w), 0);
                json_writer_object_begin(w);
                json_writer_string(w, "a value without a key");
                json_writer_object_end(w);
                assert_int_equal(json_writer_finish(w, &got, NULL), -EINVAL);
        }
        {
                _cleanup_(json_writer_freep) json_writer *w = NULL;

                assert_int_equal(json_writer_new(&w), 0);
                json_writer_array_begin(w);
                json_writer_key(w, "a key in an array");
                assert_int_equal(json_writer_finish(w, &got, NULL), -EINVAL);
        }
        {
                _cleanup_(json_writer_freep) json_writer *w = NULL;

                assert_int_equal(json_writer_new(&w), 0);
                json_writer_array_begin(w);
                assert_int_equal(json_writer_finish(w, &got, NULL), -EINVAL); /* unclosed */
                json_writer_object_end(w);                                    /* the wrong kind */
                assert_int_equal(json_writer_finish(w, &got, NULL), -EINVAL);
        }
        {
                _cleanup_(json_writer_freep) json_writer *w = NULL;

                assert_int_equal(json_writer_new(&w), 0);
                for (int i = 0; i < 40; i++)
                        json_writer_array_begin(w);
                assert_int_equal(json_writer_finish(w, &got, NULL), -E2BIG);
        }
        {
                _cleanup_(json_writer_freep) json_writer *w = NULL;

                assert_int_equal(json_writer_new(&w), 0);
                assert_int_equal(json_writer_finish(w, &got, NULL), -EINVAL); /* nothing written */
                json_writer_null(w);
                json_writer_null(w);
                assert_int_equal(json_writer_finish(w, &got, NULL), -EINVAL); /* two documents */
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_random_documents_match_json_c),
                cmocka_unit_test(test_every_byte_is_escaped_as_json_c_does),
                cmocka_unit_test(test_empty_containers_close_on_their_own_line),
                cmocka_unit_test(test_misuse_is_an_error_not_output),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
