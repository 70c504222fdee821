/*
 * The host-side verbs read a VM's needs from its config: `check --vm` and `setup --vm` on the captured
 * q35 + intel-iommu tree, with a config written by `create` for its multi-function GPU.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"

static char *root, *conf;

static int setup_vm(void **state)
{
        char *sysfs = fixture_data_path("sysfs");
        char tmpl[] = "/tmp/vfioctl-vmhost-XXXXXX";
        const char *argv[12];
        char *out = NULL, *err = NULL;
        int fd, r;

        if (asprintf(&root, "%s/q35-viommu", sysfs) < 0)
                return -1;
        free(sysfs);
        fd = mkstemp(tmpl);
        if (fd < 0)
                return -1;
        close(fd);
        conf = strdup(tmpl);
        argv[0] = "--root";
        argv[1] = root;
        argv[2] = "create";
        argv[3] = "gamer";
        argv[4] = "--gpu";
        argv[5] = "0000:03:00.0";
        argv[6] = "--memory";
        argv[7] = "4G";
        argv[8] = "--output";
        argv[9] = conf;
        argv[10] = "--force";
        argv[11] = NULL;
        r = fixture_run_tool(&out, &err, argv);
        if (r != 0)
                fprintf(stderr, "create failed (%d): %s%s\n", r, out, err);
        free(out);
        free(err);
        if (r == 0) {
                /* A keyboard for the input relay: check wants uinput, setup loads it at boot. */
                FILE *f = fopen(conf, "ae");

                if (!f)
                        return -1;
                fputs("[input \"kbd\"]\ntype = evdev\nevdev = /dev/input/by-id/usb-Example-event-kbd\n", f);
                if (fclose(f) != 0)
                        return -1;
        }
        return r == 0 ? 0 : -1;
}

static int teardown_vm(void **state)
{
        unlink(conf);
        free(conf);
        free(root);
        return 0;
}

static void test_check_vm_takes_the_gpu_and_memory_from_the_config(void **state)
{
        const char *argv[] = { "--root", root, "check", "--no-probe", "--json", "--vm", conf, NULL };
        char *out = NULL, *err = NULL;
        int r;

        r = fixture_run_tool(&out, &err, argv);
        /* The GPU is still on bochs-drm in the capture: warnings or not ready, never "ready". */
        assert_true(r == 1 || r == 2);
        assert_non_null(strstr(out, "\"devices.selection\""));
        /* functions = auto: the GPU's HDMI audio function is checked with it. */
        assert_non_null(strstr(out, "to pass: 0000:03:00.0 (--pass), 0000:03:00.1 (--pass)"));
        /* The capture has no dev/uinput: the relay could not run there. */
        assert_non_null(strstr(out, "\"input.uinput\""));
        assert_non_null(strstr(out, "dev/uinput: does not exist (module uinput not loaded)"));
        free(out);
        free(err);
}

static void test_setup_vm_sizes_memlock_and_binds_the_gpu_functions(void **state)
{
        const char *argv[] = {
                "--root", root, "setup", "--vm", conf, "--user", "nobody", "--dry-run", NULL
        };
        char *out = NULL, *err = NULL;

        assert_int_equal(fixture_run_tool(&out, &err, argv), 0);
        assert_non_null(strstr(out, "etc/modules-load.d/vfioctl.conf"));
        assert_non_null(strstr(out, "\n+uinput\n"));
        /* 4 GiB of guest RAM + 1 GiB margin, in KiB. */
        assert_non_null(strstr(out, "+nobody hard memlock 5242880"));
        /* The GPU's functions are bound at boot by identity: an identical card stays with the host. */
        assert_non_null(strstr(
                out,
                "ExecStart=/usr/bin/vfioctl bind --boot 1234:1111:1af4:1100@pci0000:00/12.0/00.0 8086:293e:1af4:1100@pci0000:00/12.0/00.1"));
        free(out);
        free(err);
}

static void test_vm_config_errors_name_file_and_line(void **state)
{
        char bad[] = "/tmp/vfioctl-vmhost-bad-XXXXXX";
        const char *argv[] = { "check", "--no-probe", "--vm", bad, NULL };
        const char *setup_argv[] = { "--root", root, "setup", "--dry-run", "--vm", bad, NULL };
        char *out = NULL, *err = NULL, *want;
        int fd = mkstemp(bad);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, "[vm]\nmemroy = 4G\n", 17), 17);
        close(fd);
        assert_true(asprintf(&want, "%s:2: [vm] unknown key 'memroy'", bad) > 0);
        assert_int_equal(fixture_run_tool(&out, &err, argv), 65);
        assert_non_null(strstr(err, want));
        free(out);
        free(err);
        assert_int_equal(fixture_run_tool(&out, &err, setup_argv), 65);
        assert_non_null(strstr(err, want));
        free(out);
        free(err);
        free(want);
        unlink(bad);
}

/* create plans hugepages only when the pool has them; then one allocating thread per host CPU. */
static void test_create_sets_prealloc_threads_with_hugepages(void **state)
{
        char *clone = fixture_clone("q35-viommu"), *out = NULL, *err = NULL, *text;
        char conf2[] = "/tmp/vfioctl-vmhost-huge-XXXXXX";
        const char *argv[] = { "--root", clone,      "create", "huge",    "--memory",
                               "4G",     "--output", conf2,    "--force", NULL };
        int fd = mkstemp(conf2);

        assert_true(fd >= 0);
        close(fd);
        /* No free pages: neither hugepages nor threads (the config written by setup_vm, same tree). */
        text = fixture_read(conf);
        assert_non_null(strstr(text, "hugepages = none"));
        assert_null(strstr(text, "prealloc_threads"));
        free(text);
        /* 2048 free 2M pages = 4 GiB: hugepages, and the fixture's 2 online CPUs allocate them. */
        fixture_write(clone, "sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "2048\n");
        assert_int_equal(fixture_run_tool(&out, &err, argv), 0);
        text = fixture_read(conf2);
        assert_non_null(strstr(text, "hugepages = 2M"));
        assert_non_null(strstr(text, "prealloc_threads = 2\n"));
        free(text);
        free(out);
        free(err);
        unlink(conf2);
        fixture_remove(clone);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_check_vm_takes_the_gpu_and_memory_from_the_config),
                cmocka_unit_test(test_setup_vm_sizes_memlock_and_binds_the_gpu_functions),
                cmocka_unit_test(test_vm_config_errors_name_file_and_line),
                cmocka_unit_test(test_create_sets_prealloc_threads_with_hugepages),
        };

        return cmocka_run_group_tests(tests, setup_vm, teardown_vm);
}
