/* vfioctl check as a user runs it: exit codes 0/1/2, grouped text with fixes, the documented JSON keys. */
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "variant.h"

/* The q35 guest with what a ready host has on top: KVM loaded, /dev/kvm, OVMF (with Secure Boot), swtpm and
 * QEMU installed. Nothing is passed, so per-device checks are skipped. */
static char *ready_host(void)
{
        char *root = variant_new("q35-viommu");

        variant_append(root, "proc/modules", "kvm_amd 155648 0 - Live 0xffffffffc0a00000");
        variant_write(root, "dev/kvm", "");
        variant_chmod(root, "dev/kvm", 0660);
        variant_write(root, "usr/share/OVMF/OVMF_CODE_4M.fd", "");
        variant_write(root, "usr/share/OVMF/OVMF_VARS_4M.fd", "");
        variant_write(root, "usr/share/OVMF/OVMF_CODE_4M.secboot.fd", "");
        variant_write(root, "usr/share/OVMF/OVMF_VARS_4M.ms.fd", "");
        variant_write(root, "usr/bin/swtpm", "");
        variant_write(root, "usr/bin/qemu-system-x86_64", "");
        return root;
}

static int run_check(const char *root, const char *a1, const char *a2, char **out, char **err)
{
        const char *argv[] = { "--root", root, "check", "--no-probe", a1, a2, NULL };

        return fixture_run_tool(out, err, argv);
}

static void test_ready_host_exits_0(void **state)
{
        char *root = ready_host(), *out = NULL, *err = NULL;

        assert_int_equal(run_check(root, NULL, NULL, &out, &err), 0);
        assert_non_null(strstr(out, "\nIOMMU\n  [ ok ] Firmware describes an IOMMU"));
        assert_non_null(strstr(out, "Verdict: ready\n"));
        assert_null(strstr(out, "\033[")); /* not a TTY: no colour */
        free(out);
        free(err);
        variant_free(root);
}

static void test_warnings_exit_1_with_fix(void **state)
{
        char *root = ready_host(), *out = NULL, *err = NULL;

        variant_unlink(root, "usr/bin/swtpm");
        assert_int_equal(run_check(root, NULL, NULL, &out, &err), 1);
        assert_non_null(
                strstr(out, "  [warn] TPM 2.0 emulator (swtpm)  (firmware.swtpm)\n"
                            "         no usr/bin/swtpm: guests get no TPM 2.0, which Windows 11 requires\n"
                            "         fix: sudo apt-get install swtpm swtpm-tools\n"));
        assert_non_null(strstr(out, "Verdict: ready, with warnings\n"));
        free(out);
        free(err);
        variant_free(root);
}

static void test_not_ready_exits_2_json(void **state)
{
        char *root = variant_new("q35-noiommu"), *out = NULL, *err = NULL;
        json_object *j, *checks, *v;
        bool saw_groups = false;

        assert_int_equal(run_check(root, "--json", NULL, &out, &err), 2);
        j = json_tokener_parse(out);
        assert_non_null(j);
        assert_true(json_object_object_get_ex(j, "verdict", &v));
        assert_string_equal(json_object_get_string(v), "not-ready");
        assert_true(json_object_object_get_ex(j, "quirks", &v));
        assert_true(json_object_is_type(v, json_type_array));
        assert_true(json_object_object_get_ex(j, "checks", &checks));
        for (size_t i = 0; i < json_object_array_length(checks); i++) {
                json_object *c = json_object_array_get_idx(checks, i), *id, *st, *fix;
                static const char *const keys[] = { "id", "status", "title", "evidence", "fix" };

                for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
                        assert_true(json_object_object_get_ex(c, keys[k], NULL));
                json_object_object_get_ex(c, "id", &id);
                json_object_object_get_ex(c, "status", &st);
                json_object_object_get_ex(c, "fix", &fix);
                if (strcmp(json_object_get_string(id), "iommu.groups") == 0) {
                        saw_groups = true;
                        assert_string_equal(json_object_get_string(st), "fail");
                        assert_non_null(strstr(json_object_get_string(fix), "sudo update-grub"));
                }
        }
        assert_true(saw_groups);
        json_object_put(j);
        free(out);
        free(err);
        variant_free(root);
}

static void test_quirk_in_json_with_settings(void **state)
{
        char *root = variant_new("q35-viommu"), *out = NULL, *err = NULL;
        json_object *j, *quirks;
        bool found = false;

        variant_pci_ids(root, "0000:04:00.0", 0x10de, 0x05b1, 0);
        assert_int_equal(run_check(root, "--json", "--pass=05:01.0", &out, &err), 2);
        j = json_tokener_parse(out);
        assert_non_null(j);
        assert_true(json_object_object_get_ex(j, "quirks", &quirks));
        for (size_t i = 0; i < json_object_array_length(quirks); i++) {
                json_object *q = json_object_array_get_idx(quirks, i), *id, *settings, *action, *source;

                json_object_object_get_ex(q, "id", &id);
                if (strcmp(json_object_get_string(id), "nf200-dma-bypass") != 0)
                        continue;
                found = true;
                json_object_object_get_ex(q, "settings", &settings);
                json_object_object_get_ex(q, "action", &action);
                json_object_object_get_ex(q, "source", &source);
                assert_string_equal(json_object_get_string(json_object_array_get_idx(settings, 0)),
                                    "machine.max-ram-below-4g=1G");
                assert_string_equal(json_object_get_string(action), "warn");
                assert_non_null(strstr(json_object_get_string(source), "seed 000"));
        }
        assert_true(found);
        json_object_put(j);
        free(out);
        free(err);
        variant_free(root);
}

static void test_pass_takes_several_selectors(void **state)
{
        char *root = variant_new("q35-viommu"), *out = NULL, *err = NULL;
        const char *argv[] = { "--root", root,      "check",   "--no-probe", "--json",
                               "--pass", "03:00.0", "03:00.1", NULL };
        const char *stray[] = { "--root", root, "check", "--no-probe", "03:00.0", NULL };

        fixture_run_tool(&out, &err, argv);
        assert_non_null(strstr(out, "\"address\": \"0000:03:00.0\""));
        assert_non_null(strstr(out, "\"address\": \"0000:03:00.1\""));
        assert_null(strstr(out, "\"iommu-group-shared\"")); /* both functions of the group are passed */
        free(out);
        free(err);
        assert_int_equal(fixture_run_tool(&out, &err, stray), 64);
        assert_non_null(strstr(err, "unexpected argument '03:00.0'"));
        free(out);
        free(err);
        variant_free(root);
}

/* The story the fixes tell: check names what is missing, 'vfioctl setup' writes it, check agrees. */
static void test_check_setup_check(void **state)
{
        char *root = variant_new("q35-viommu"), *out = NULL, *err = NULL;
        const char *check[] = { "--root",   root, "check",  "--no-probe", "--user",  "vm",
                                "--memory", "8G", "--pass", "03:00.0",    "03:00.1", NULL };
        const char *setup[] = { "--root", root, "setup",    "03:00.0", "03:00.1",
                                "--user", "vm", "--memory", "8G",      NULL };

        variant_append(root, "etc/passwd", "vm:x:1000:1000::/home/vm:/bin/sh");
        variant_append(root, "etc/group", "kvm:x:994:vm");
        variant_append(root, "etc/group", "vm:x:1000:");
        /* A GeForce GTX 1080 with its HDMI audio, the GPU held by nouveau as on a fresh install. */
        variant_pci_ids(root, "0000:03:00.0", 0x10de, 0x1b80, 0);
        variant_pci_ids(root, "0000:03:00.1", 0x10de, 0x10f0, 0);
        variant_pci_driver(root, "0000:03:00.0", "nouveau");

        fixture_run_tool(&out, &err, check);
        assert_non_null(strstr(out, "[warn] vfio-pci claims the devices before the GPU drivers"));
        assert_non_null(
                strstr(out, "(or let vfioctl write it: sudo vfioctl setup 0000:03:00.0 0000:03:00.1)"));
        assert_non_null(strstr(out, "[FAIL] Locked-memory limit of the VM user"));
        free(out);
        free(err);

        assert_int_equal(fixture_run_tool(&out, &err, setup), 0);
        free(out);
        free(err);

        fixture_run_tool(&out, &err, check);
        assert_non_null(strstr(out, "[ ok ] vfio-pci claims the devices before the GPU drivers"));
        assert_non_null(strstr(out, "etc/modprobe.d/vfioctl.conf:3"));
        assert_non_null(strstr(out, "[ ok ] Locked-memory limit of the VM user"));
        assert_non_null(strstr(out, "(etc/security/limits.d/90-vfioctl.conf:"));
        free(out);
        free(err);
        variant_free(root);
}

static void test_usage_errors(void **state)
{
        char *root = variant_new("q35-viommu"), *out = NULL, *err = NULL;

        assert_int_equal(run_check(root, "--pass", "10de:ffff", &out, &err), 64);
        assert_non_null(strstr(err, "check: --pass: 10de:ffff: no PCI device matches"));
        free(out);
        free(err);
        /* The same selectors as bind: two identical NICs need "#N" (seed 000's two GTX 780 Ti). */
        assert_int_equal(run_check(root, "--pass", "8086:10d3", &out, &err), 64);
        assert_non_null(strstr(err, "8086:10d3 matches 2 devices in 2 slots; add #N to pick one"));
        free(out);
        free(err);
        assert_int_equal(run_check(root, "--json", "--pass=8086:10d3#2", &out, &err), 2);
        assert_non_null(strstr(out, "\"address\": \"0000:02:00.0\""));
        free(out);
        free(err);
        assert_int_equal(run_check(root, "--vm", "win10", &out, &err), 64);
        /* A VM that has no config file: the error names where it looked and how to make one. */
        assert_non_null(strstr(err, "no VM 'win10'"));
        assert_non_null(strstr(err, "vfioctl create win10"));
        free(out);
        free(err);
        assert_int_equal(run_check(root, "--memory", "lots", &out, &err), 64);
        assert_non_null(strstr(err, "--memory 'lots' is not a size"));
        free(out);
        free(err);
        variant_free(root);
}

static void test_color_only_when_asked(void **state)
{
        char *root = ready_host(), *out = NULL, *err = NULL;
        const char *argv[] = { "--color", "always", "--root", root, "check", "--no-probe", NULL };

        assert_int_equal(fixture_run_tool(&out, &err, argv), 0);
        assert_non_null(strstr(out, "\033[32m[ ok ]\033[0m"));
        free(out);
        free(err);
        variant_free(root);
}

static void test_unreadable_facts_are_warned(void **state)
{
        char *root = variant_new("q35-viommu"), *out = NULL, *err = NULL;

        variant_pci_attr(root, "0000:05:02.0", "vendor", "0xzzzz\n");
        assert_int_equal(run_check(root, "--json", NULL, &out, &err), 2);
        assert_non_null(strstr(
                err,
                "sys/bus/pci/devices/0000:05:02.0/vendor: malformed (ignored; the report may be incomplete)"));
        assert_non_null(strstr(
                out, "\"problems\": [\n    \"sys/bus/pci/devices/0000:05:02.0/vendor: malformed\"\n  ]"));
        free(out);
        free(err);
        variant_free(root);
}

/* Replaces every occurrence of from in s (the variant's random root path) with to. */
static char *replace_all(const char *s, const char *from, const char *to)
{
        size_t n = 0, fl = strlen(from);
        char *out, *o;

        for (const char *p = s; (p = strstr(p, from)); p += fl)
                n++;
        out = malloc(strlen(s) + n * strlen(to) + 1);
        assert_non_null(out);
        o = out;
        for (const char *p = s, *q; *p; p = q + fl) {
                q = strstr(p, from);
                if (!q) {
                        strcpy(o, p);
                        return out;
                }
                memcpy(o, p, (size_t)(q - p));
                o += q - p;
                strcpy(o, to);
                o += strlen(to);
        }
        *o = 0;
        return out;
}

/* The whole report on the emulated-IOMMU guest, text and JSON, reviewed as golden files. */
static void test_golden_reports(void **state)
{
        char *root = variant_new("q35-viommu"), *out = NULL, *err = NULL, *norm;
        const char *text[] = { "--root", root, "check", "--no-probe", "--pass", "03:00.0", NULL };
        const char *json[] = { "--root", root, "check", "--no-probe", "--json", "--pass", "03:00.0", NULL };

        assert_int_equal(fixture_run_tool(&out, &err, text), 2);
        norm = replace_all(out, root, "ROOT");
        assert_true(fixture_golden("golden/check-q35-viommu.txt", norm));
        free(norm);
        free(out);
        free(err);
        assert_int_equal(fixture_run_tool(&out, &err, json), 2);
        norm = replace_all(out, root, "ROOT");
        assert_true(fixture_golden("golden/check-q35-viommu.json", norm));
        free(norm);
        free(out);
        free(err);
        variant_free(root);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ready_host_exits_0),
                cmocka_unit_test(test_warnings_exit_1_with_fix),
                cmocka_unit_test(test_not_ready_exits_2_json),
                cmocka_unit_test(test_quirk_in_json_with_settings),
                cmocka_unit_test(test_pass_takes_several_selectors),
                cmocka_unit_test(test_check_setup_check),
                cmocka_unit_test(test_usage_errors),
                cmocka_unit_test(test_golden_reports),
                cmocka_unit_test(test_color_only_when_asked),
                cmocka_unit_test(test_unreadable_facts_are_warned),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
