/* Selectors on the q35-viommu capture: address forms, IDs, names with #N, identities, identical NICs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fixture-copy.h"
#include "strv.h"
#include "vfioctl/selector.h"

typedef struct env {
        vfio_host *h;
        vfio_model *m;
        vfio_pci_names *names;
} env;

static int setup_env(void **state)
{
        char dir[4096];
        env *e = calloc(1, sizeof(*e));

        assert_non_null(e);
        assert_int_equal(vfio_host_open(fixture_dir("q35-viommu", dir, sizeof(dir)), &e->h), 0);
        assert_int_equal(vfio_model_load(e->h, &e->m), 0);
        assert_int_equal(vfio_pci_names_new(NULL, &e->names), 0);
        *state = e;
        return 0;
}

static int teardown_env(void **state)
{
        env *e = *state;

        vfio_pci_names_free(e->names);
        vfio_model_free(e->m);
        vfio_host_free(e->h);
        free(e);
        return 0;
}

/* Resolves one selector; returns the result code and the selected names joined by spaces. */
static int resolve(env *e, const char *text, unsigned flags, char **ret_names, vfio_selection **ret_sel)
{
        char *v[] = { (char *)text, NULL };
        _cleanup_strv_free_ char **names = NULL;
        vfio_selection *sel = NULL;
        int r;

        r = vfio_selection_resolve(e->h, e->m, e->names, v, flags, &sel);
        assert_non_null(sel);
        names = calloc(1, sizeof(char *));
        for (size_t i = 0; i < sel->n; i++)
                assert_int_equal(strv_extend(&names, sel->items[i].name), 0);
        *ret_names = strv_join(names, " ");
        if (ret_sel)
                *ret_sel = sel;
        else
                vfio_selection_free(sel);
        return r;
}

static bool any_contains(char *const *l, const char *needle)
{
        STRV_FOREACH(s, l)
                if (strstr(*s, needle))
                        return true;
        return false;
}

static void test_parse_kinds(void **state)
{
        vfio_selector *s = NULL;

        assert_int_equal(vfio_selector_parse("01:00.0", &s), 0);
        assert_int_equal(s->kind, VFIO_SELECTOR_ADDRESS);
        assert_int_equal(s->addr.bus, 1);
        s = vfio_selector_free(s);
        assert_int_equal(vfio_selector_parse("0000:03:00.1", &s), 0);
        assert_int_equal(s->kind, VFIO_SELECTOR_ADDRESS);
        assert_int_equal(s->addr.func, 1);
        s = vfio_selector_free(s);
        assert_int_equal(vfio_selector_parse("10de:1284", &s), 0);
        assert_int_equal(s->kind, VFIO_SELECTOR_IDS);
        assert_int_equal(s->id.vendor, 0x10de);
        assert_int_equal(s->id.subsystem_vendor, -1);
        s = vfio_selector_free(s);
        assert_int_equal(vfio_selector_parse("10de:1284:3842:2887#2", &s), 0);
        assert_int_equal(s->kind, VFIO_SELECTOR_IDS);
        assert_int_equal(s->id.subsystem_device, 0x2887);
        assert_int_equal(s->nth, 2);
        s = vfio_selector_free(s);
        assert_int_equal(vfio_selector_parse("GTX 780 Ti#2", &s), 0);
        assert_int_equal(s->kind, VFIO_SELECTOR_NAME);
        assert_string_equal(s->pattern, "GTX 780 Ti");
        assert_int_equal(s->nth, 2);
        s = vfio_selector_free(s);
        assert_int_equal(vfio_selector_parse(
                                 "8086:10d3:8086:0000@pci0000:00/11.0/00.0,dsn=52-54-00-ff-ff-e2-e0-02", &s),
                         0);
        assert_int_equal(s->kind, VFIO_SELECTOR_IDENTITY);
        assert_true(s->id.has_dsn);
        assert_true(s->id.dsn == UINT64_C(0x525400ffffe2e002));
        assert_string_equal(s->id.path, "pci0000:00/11.0/00.0");
        s = vfio_selector_free(s);
}

static void test_parse_refuses_near_misses(void **state)
{
        vfio_selector *s = NULL;

        assert_int_equal(vfio_selector_parse("", &s), -EINVAL);
        assert_int_equal(vfio_selector_parse("GTX#0", &s), -EINVAL);
        assert_int_equal(vfio_selector_parse("GTX#x", &s), -EINVAL);
        assert_int_equal(vfio_selector_parse("   ", &s), -EINVAL);
        assert_int_equal(vfio_selector_parse("8086:10d3@pci0000:00/11.0", &s), 0); /* minimal identity */
        s = vfio_selector_free(s);
        assert_int_equal(vfio_selector_parse("8086:10d3@/11.0/00.0", &s), -EINVAL);
        assert_int_equal(vfio_selector_parse("8086:10d3@pci0000:00/11.0,dsn=52-54", &s), -EINVAL);
        assert_int_equal(vfio_selector_parse("8086:10d3:8086@pci0000:00/11.0", &s), -EINVAL);
        assert_null(s);
}

static void test_address_forms_select_the_same_device(void **state)
{
        env *e = *state;
        char *a = NULL, *b = NULL;

        assert_int_equal(resolve(e, "01:00.0", 0, &a, NULL), 0);
        assert_int_equal(resolve(e, "0000:01:00.0", 0, &b, NULL), 0);
        assert_string_equal(a, "0000:01:00.0");
        assert_string_equal(a, b);
        free(a);
        free(b);
        assert_int_equal(resolve(e, "09:00.0", 0, &a, NULL), -ENOENT);
        free(a);
}

static void test_functions_of_one_slot_travel_together(void **state)
{
        env *e = *state;
        char *a = NULL;
        vfio_selection *sel = NULL;

        assert_int_equal(resolve(e, "03:00.0", 0, &a, &sel), 0);
        assert_string_equal(a, "0000:03:00.0 0000:03:00.1");
        assert_string_equal(sel->items[1].reason, "same slot");
        vfio_selection_free(sel);
        free(a);
        assert_int_equal(resolve(e, "03:00.0", VFIO_SELECT_FUNCTION_ONLY, &a, NULL), 0);
        assert_string_equal(a, "0000:03:00.0");
        free(a);
}

static void test_identical_nics_need_a_choice(void **state)
{
        env *e = *state;
        char *a = NULL;
        vfio_selection *sel = NULL;

        /* Seed 000: two identical cards; "head -1" guessing is what we refuse to do. */
        assert_int_equal(resolve(e, "8086:10d3", 0, &a, &sel), -ENOTUNIQ);
        assert_true(any_contains(sel->problems, "8086:10d3#1: 0000:01:00.0"));
        assert_true(any_contains(sel->problems, "8086:10d3#2: 0000:02:00.0"));
        assert_true(any_contains(sel->problems, "serial 52-54-00-ff-ff-e2-e0-02"));
        vfio_selection_free(sel);
        free(a);
        assert_int_equal(resolve(e, "8086:10d3#2", 0, &a, NULL), 0);
        assert_string_equal(a, "0000:02:00.0");
        free(a);
        assert_int_equal(resolve(e, "8086:10d3#3", 0, &a, NULL), -ENOENT);
        free(a);
}

static void test_name_patterns(void **state)
{
        env *e = *state;
        char *a = NULL;

        assert_int_equal(resolve(e, "82574l#2", 0, &a, NULL), 0); /* case-insensitive */
        assert_string_equal(a, "0000:02:00.0");
        free(a);
        assert_int_equal(resolve(e, "82540EM", 0, &a, NULL), 0);
        assert_string_equal(a, "0000:05:01.0");
        free(a);
        assert_int_equal(resolve(e, "gigabit", 0, &a, NULL), -ENOTUNIQ);
        free(a);
        assert_int_equal(resolve(e, "no such card", 0, &a, NULL), -ENOENT);
        free(a);
        /* Bridges never match: "PCIe Root port" names five of them. */
        assert_int_equal(resolve(e, "Root port", 0, &a, NULL), -ENOENT);
        free(a);
}

static void test_dsn_read_from_config(void **state)
{
        env *e = *state;
        const vfio_model_device *md = vfio_model_find_device(e->m, "0000:01:00.0");
        vfio_identity id;
        char *s;

        assert_non_null(md);
        assert_int_equal(vfio_identity_of(e->h, md->pci, &id), 0);
        assert_true(id.has_dsn);
        assert_true(id.dsn == UINT64_C(0x525400ffffe2e001));
        assert_string_equal(id.path, "pci0000:00/10.0/00.0");
        s = vfio_identity_format(&id);
        assert_string_equal(s, "8086:10d3:8086:0000@pci0000:00/10.0/00.0,dsn=52-54-00-ff-ff-e2-e0-01");
        free(s);
        vfio_identity_done(&id);
        /* The VGA function is conventional PCI: 256 bytes of config, no extended capabilities. */
        md = vfio_model_find_device(e->m, "0000:03:00.0");
        assert_int_equal(vfio_identity_of(e->h, md->pci, &id), 0);
        assert_false(id.has_dsn);
        assert_string_equal(id.path, "pci0000:00/12.0/00.0");
        vfio_identity_done(&id);
}

static void test_config_dsn_walk(void **state)
{
        uint8_t cfg[4096] = { 0 };
        uint64_t v = 0;

        assert_int_equal(vfio_config_find_dsn(cfg, 256, &v), -ENOENT);
        assert_int_equal(vfio_config_find_dsn(cfg, sizeof(cfg), &v), -ENOENT);
        /* AER at 0x100 -> DSN at 0x140, as QEMU's e1000e lays it out. */
        cfg[0x100] = 0x01, cfg[0x102] = 0x02 | 0x00, cfg[0x103] = 0x14;
        cfg[0x140] = 0x03, cfg[0x142] = 0x01;
        cfg[0x144] = 0x01, cfg[0x145] = 0xe0, cfg[0x146] = 0xe2, cfg[0x147] = 0xff;
        cfg[0x148] = 0xff, cfg[0x149] = 0x00, cfg[0x14a] = 0x54, cfg[0x14b] = 0x52;
        assert_int_equal(vfio_config_find_dsn(cfg, sizeof(cfg), &v), 0);
        assert_true(v == UINT64_C(0x525400ffffe2e001));
        /* A list pointing back at itself must end. */
        memset(cfg, 0, sizeof(cfg));
        cfg[0x100] = 0x01, cfg[0x103] = 0x10; /* next = 0x100 */
        assert_int_equal(vfio_config_find_dsn(cfg, sizeof(cfg), &v), -ELOOP);
}

static void test_identity_re_resolves(void **state)
{
        env *e = *state;
        char *a = NULL;
        vfio_selection *sel = NULL;

        assert_int_equal(resolve(e, "8086:10d3:8086:0000@pci0000:00/11.0/00.0,dsn=52-54-00-ff-ff-e2-e0-02",
                                 0, &a, &sel),
                         0);
        assert_string_equal(a, "0000:02:00.0");
        assert_int_equal(strv_length(sel->notes), 0);
        vfio_selection_free(sel);
        free(a);
        /* The card with serial ...01 was recorded in the other slot: it moved, and we say so. */
        assert_int_equal(resolve(e, "8086:10d3:8086:0000@pci0000:00/11.0/00.0,dsn=52-54-00-ff-ff-e2-e0-01",
                                 0, &a, &sel),
                         0);
        assert_string_equal(a, "0000:01:00.0");
        assert_true(any_contains(sel->notes, "moved from pci0000:00/11.0/00.0 to pci0000:00/10.0/00.0"));
        vfio_selection_free(sel);
        free(a);
}

static void test_identity_stale_says_what_changed(void **state)
{
        env *e = *state;
        char *a = NULL;
        vfio_selection *sel = NULL;

        /* Recorded at the bridge's slot, where a bridge now sits: never grab one of the two NICs instead. */
        assert_int_equal(resolve(e, "8086:10d3:8086:0000@pci0000:00/13.0/00.0", 0, &a, &sel), -ESTALE);
        assert_string_equal(a, "");
        assert_true(any_contains(sel->problems, "no device with IDs 8086:10d3 is at pci0000:00/13.0/00.0"));
        assert_true(any_contains(sel->problems, "now at pci0000:00/13.0/00.0: 0000:04:00.0 [1b36:000e"));
        assert_true(any_contains(sel->problems, "same IDs: 0000:01:00.0"));
        assert_true(any_contains(sel->problems, "same IDs: 0000:02:00.0"));
        vfio_selection_free(sel);
        free(a);
        /* A serial that is gone. */
        assert_int_equal(
                resolve(e, "8086:10d3@pci0000:00/10.0/00.0,dsn=00-11-22-33-44-55-66-77", 0, &a, &sel),
                -ESTALE);
        assert_true(any_contains(sel->problems, "serial 00-11-22-33-44-55-66-77"));
        assert_true(any_contains(sel->problems, "now at pci0000:00/10.0/00.0: 0000:01:00.0"));
        vfio_selection_free(sel);
        free(a);
}

static void test_topology_path(void **state)
{
        char *p = NULL;

        assert_int_equal(vfio_topology_path("devices/pci0000:00/0000:00:13.0/0000:04:00.0/0000:05:02.0", &p),
                         0);
        assert_string_equal(p, "pci0000:00/13.0/00.0/02.0");
        free(p);
        assert_int_equal(vfio_topology_path("devices/platform/foo", &p), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_kinds),
                cmocka_unit_test(test_parse_refuses_near_misses),
                cmocka_unit_test(test_config_dsn_walk),
                cmocka_unit_test(test_topology_path),
                cmocka_unit_test_setup_teardown(test_address_forms_select_the_same_device, setup_env,
                                                teardown_env),
                cmocka_unit_test_setup_teardown(test_functions_of_one_slot_travel_together, setup_env,
                                                teardown_env),
                cmocka_unit_test_setup_teardown(test_identical_nics_need_a_choice, setup_env, teardown_env),
                cmocka_unit_test_setup_teardown(test_name_patterns, setup_env, teardown_env),
                cmocka_unit_test_setup_teardown(test_dsn_read_from_config, setup_env, teardown_env),
                cmocka_unit_test_setup_teardown(test_identity_re_resolves, setup_env, teardown_env),
                cmocka_unit_test_setup_teardown(test_identity_stale_says_what_changed, setup_env,
                                                teardown_env),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
