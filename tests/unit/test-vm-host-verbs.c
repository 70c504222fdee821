/*
 * The host-side verbs read a VM's needs from its config: `check --vm` and `setup --vm` on the captured
 * q35 + intel-iommu tree, with a config written by `create` for its multi-function GPU.
 */
#include <errno.h>
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
#include "variant.h"

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
        /* What [cpu] isolate could use: the capture has no cgroup fs, no proc/irq, no cpufreq. */
        assert_non_null(strstr(out, "\"isolation\""));
        assert_non_null(strstr(out, "\"cgroup2\": false"));
        assert_non_null(strstr(out, "\"irq\": false"));
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

/*
 * The Code 43 quirk's claim and what vfioctl does agree: check says create writes the settings into the
 * VM's config, create writes them, and the QEMU command line carries them.
 */
static void test_code43_settings_written_by_create_and_in_the_argv(void **state)
{
        char *vroot = variant_new("q35-viommu");
        char tmpl[] = "/tmp/vfioctl-code43-XXXXXX";
        const char *create[] = { "--root",       vroot,    "create",  "gf",       "--gpu",
                                 "0000:03:00.0", "--user", "nobody",  "--memory", "1G",
                                 "--output",     tmpl,     "--force", NULL };
        const char *cmdline[] = { "--root", vroot, "cmdline", tmpl, NULL };
        const char *check[] = {
                "--root", vroot, "check", "--no-probe", "--pass", "03:00.0", "03:00.1", NULL
        };
        char *out = NULL, *err = NULL, *text;
        int fd = mkstemp(tmpl);

        assert_true(fd >= 0);
        close(fd);
        variant_pci_ids(vroot, "0000:03:00.0", 0x10de, 0x1b80, 0); /* GP104 [GeForce GTX 1080] */
        variant_pci_ids(vroot, "0000:03:00.1", 0x10de, 0x10f0, 0); /* GP104 High Definition Audio */
        /* Not ready (no /dev/kvm in a capture): the report is what matters here. */
        assert_int_equal(fixture_run_tool(&out, &err, check), 2);
        assert_non_null(strstr(out, "(nvidia-geforce-code43)"));
        assert_non_null(strstr(
                out,
                "VM settings vfioctl create writes into a new VM's configuration: cpu.kvm=off hyperv.vendor_id=vfioctl0000"));
        assert_null(strstr(out, "VM settings applied by vfioctl"));
        free(out);
        free(err);
        assert_int_equal(fixture_run_tool(&out, &err, create), 0);
        free(out);
        free(err);
        text = fixture_read(tmpl);
        assert_non_null(text);
        assert_non_null(strstr(text, "\nhide_kvm = yes\n"));
        assert_non_null(strstr(text, "\nhyperv = yes\n"));
        assert_non_null(strstr(text, "\nhyperv_vendor_id = vfioctl0000\n"));
        free(text);
        assert_int_equal(fixture_run_tool(&out, &err, cmdline), 0);
        assert_non_null(strstr(out, "kvm=off"));
        assert_non_null(strstr(out, "hv-vendor-id=vfioctl0000"));
        free(out);
        free(err);
        unlink(tmpl);
        variant_free(vroot);
}

/* A VM backed by 1 GiB pages: setup reserves 1 GiB pages at boot and mounts their hugetlbfs where the
 * argv looks, instead of a vm.nr_hugepages of the default 2 MiB size. */
static void test_setup_vm_with_1g_hugepages(void **state)
{
        char tmpl[] = "/tmp/vfioctl-huge1g-XXXXXX";
        const char *argv[] = { "--root", root, "setup", "--vm", tmpl, "--dry-run", NULL };
        const char *cmd[] = { "--root", root, "cmdline", tmpl, NULL };
        char *out = NULL, *err = NULL;
        int fd = mkstemp(tmpl);
        FILE *f;

        assert_true(fd >= 0);
        f = fdopen(fd, "w");
        assert_non_null(f);
        fputs("[vm]\nuser = nobody\n[memory]\nsize = 4G\nhugepages = 1G\n[gpu]\ndevice = 0000:03:00.0\n", f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(fixture_run_tool(&out, &err, argv), 0);
        assert_null(strstr(out, "vm.nr_hugepages"));
        assert_non_null(strstr(out, "hugepagesz=1G hugepages=4"));
        assert_non_null(strstr(out, "+++ b/etc/systemd/system/dev-hugepages1G.mount\n"));
        assert_non_null(strstr(out, "+Where=/dev/hugepages1G\n"));
        assert_non_null(strstr(out, "+symbolic link to ../dev-hugepages1G.mount\n"));
        free(out);
        free(err);
        /* The argv backs guest RAM with that very mount. */
        assert_int_equal(fixture_run_tool(&out, &err, cmd), 0);
        assert_non_null(strstr(out, "mem-path=/dev/hugepages1G"));
        free(out);
        free(err);
        unlink(tmpl);
}

/*
 * The twin-card capture again, and the same machine with a card added in a slot scanned first
 * (q35-renumbered, captured from the test bed with run.sh --layout renumbered): every bus below moves by
 * one, so 0000:03:00.0 is now the second NIC and the GPU is 0000:04:00.0. A VM created with --gpu
 * '1234:1111#2' names the card's identity and keeps it; a bare address would have taken the NIC.
 */
static void test_renumbered_buses_keep_the_vm_on_its_card(void **state)
{
        char *sysfs = fixture_data_path("sysfs"), renum[4200], tmpl[] = "/tmp/vfioctl-renum-XXXXXX",
             old[] = "/tmp/vfioctl-renum-addr-XXXXXX";
        const char *create[] = { "--root",      root,     "create",  "twin",     "--gpu",
                                 "1234:1111#2", "--user", "nobody",  "--memory", "1G",
                                 "--output",    tmpl,     "--force", NULL };
        const char *cmd_new[] = { "--root", renum, "cmdline", tmpl, NULL };
        const char *cmd_old[] = { "--root", renum, "cmdline", old, NULL };
        const char *setup[] = { "--root", renum, "setup", "--vm", tmpl, "--dry-run", NULL };
        const char *bind[] = {
                "--root", renum, "bind", "--dry-run", "1234:1111:1af4:1100@pci0000:00/12.0/00.0", NULL
        };
        const char *check[] = { "--root", renum, "check", "--no-probe", "--json", "--vm", tmpl, NULL };
        char *out = NULL, *err = NULL;
        int fd;
        FILE *f;

        snprintf(renum, sizeof(renum), "%s/q35-renumbered", sysfs);
        free(sysfs);
        fd = mkstemp(tmpl);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(fixture_run_tool(&out, &err, create), 0);
        free(out);
        free(err);
        /* On the renumbered machine the VM gets the GPU and its audio at their new addresses. */
        assert_int_equal(fixture_run_tool(&out, &err, cmd_new), 0);
        assert_non_null(strstr(out, "-device vfio-pci,host=0000:04:00.0,"));
        assert_non_null(strstr(out, "-device vfio-pci,host=0000:04:00.1,"));
        assert_null(strstr(out, "host=0000:03:00.0"));
        free(out);
        free(err);
        /* What a bare address (the old create) would have done: the second NIC, 8086:10d3. */
        fd = mkstemp(old);
        assert_true(fd >= 0);
        f = fdopen(fd, "w");
        assert_non_null(f);
        fputs("[vm]\nuser = nobody\n[memory]\nsize = 1G\n[gpu]\ndevice = 0000:03:00.0\n", f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(fixture_run_tool(&out, &err, cmd_old), 0);
        assert_non_null(strstr(out, "host=0000:03:00.0"));
        free(out);
        free(err);
        {
                char *vendor, *device, path[4400];

                snprintf(path, sizeof(path), "%s/sys/bus/pci/devices/0000:03:00.0/vendor", renum);
                vendor = fixture_read(path);
                snprintf(path, sizeof(path), "%s/sys/bus/pci/devices/0000:03:00.0/device", renum);
                device = fixture_read(path);
                assert_string_equal(vendor, "0x8086\n");
                assert_string_equal(device, "0x10d3\n");
                free(vendor);
                free(device);
        }
        /* setup binds the card at boot by the same identity, and it resolves to the card's new place. */
        assert_int_equal(fixture_run_tool(&out, &err, setup), 0);
        assert_non_null(strstr(
                out,
                "bind --boot 1234:1111:1af4:1100@pci0000:00/12.0/00.0 8086:293e:1af4:1100@pci0000:00/12.0/00.1"));
        free(out);
        free(err);
        assert_int_equal(fixture_run_tool(&out, &err, bind), 0);
        assert_non_null(strstr(out, "0000:04:00.0"));
        assert_null(strstr(out, "0000:03:00.0"));
        free(out);
        free(err);
        /* check --vm passes the card where it is now. */
        fixture_run_tool(&out, &err, check);
        assert_non_null(strstr(out, "to pass: 0000:04:00.0 (--pass), 0000:04:00.1 (--pass)"));
        free(out);
        free(err);
        unlink(tmpl);
        unlink(old);
}

/*
 * enable refuses what start as root would refuse at boot, before linking the unit: no config in the system
 * location, no [vm] user, a config root does not own. Then it links.
 */
static void test_enable_refuses_what_start_would(void **state)
{
        char *vroot = variant_new("q35-viommu"), link[4200], cpath[4200];
        const char *enable[] = { "--root", vroot, "enable", "gamevm", NULL };
        char *out = NULL, *err = NULL;

        snprintf(link, sizeof(link), "%s/etc/systemd/system/multi-user.target.wants/vfioctl@gamevm.service",
                 vroot);
        snprintf(cpath, sizeof(cpath), "%s/etc/vfioctl/vms/gamevm.conf", vroot);
        variant_write(vroot, "etc/passwd",
                      "root:x:0:0:root:/root:/bin/bash\ngamer:x:1000:1000::/home/gamer:/bin/sh\n");
        /* 1. Not in /etc/vfioctl/vms: root at boot would not find it. */
        assert_int_equal(fixture_run_tool(&out, &err, enable), 65);
        assert_non_null(strstr(
                err, "no VM gamevm in /etc/vfioctl/vms/gamevm.conf: at boot root starts VMs from there"));
        assert_int_equal(access(link, F_OK), -1);
        free(out);
        free(err);
        /* 2. There, but without [vm] user: start as root refuses it. */
        variant_write(vroot, "etc/vfioctl/vms/gamevm.conf", "[memory]\nsize = 1G\n");
        assert_int_equal(fixture_run_tool(&out, &err, enable), 65);
        assert_non_null(strstr(err, "[vm] user is not set: root starts QEMU only as that user"));
        assert_int_equal(access(link, F_OK), -1);
        free(out);
        free(err);
        /* 3. With a user that does not exist. */
        variant_write(vroot, "etc/vfioctl/vms/gamevm.conf",
                      "[vm]\nuser = nosuchuser\n[memory]\nsize = 1G\n");
        assert_int_equal(fixture_run_tool(&out, &err, enable), 65);
        assert_non_null(strstr(err, "[vm] user nosuchuser does not exist"));
        free(out);
        free(err);
        /* 4. Owned by the VM user: it could change what root reads. */
        variant_write(vroot, "etc/vfioctl/vms/gamevm.conf", "[vm]\nuser = gamer\n[memory]\nsize = 1G\n");
        if (geteuid() == 0) {
                assert_int_equal(chown(cpath, 1000, 1000), 0);
                assert_int_equal(fixture_run_tool(&out, &err, enable), 65);
                assert_non_null(strstr(err, "not owned by root"));
                assert_int_equal(access(link, F_OK), -1);
                free(out);
                free(err);
                assert_int_equal(chown(cpath, 0, 0), 0);
        }
        /* 5. Root's, with its user: linked. */
        assert_int_equal(fixture_run_tool(&out, &err, enable), 0);
        assert_int_equal(access(link, F_OK) == 0 || errno == ENOENT, 1);
        {
                char target[4200];
                ssize_t n = readlink(link, target, sizeof(target) - 1);

                assert_true(n > 0);
        }
        free(out);
        free(err);
        variant_free(vroot);
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
                cmocka_unit_test(test_code43_settings_written_by_create_and_in_the_argv),
                cmocka_unit_test(test_setup_vm_with_1g_hugepages),
                cmocka_unit_test(test_renumbered_buses_keep_the_vm_on_its_card),
                cmocka_unit_test(test_enable_refuses_what_start_would),
                cmocka_unit_test(test_create_sets_prealloc_threads_with_hugepages),
        };

        return cmocka_run_group_tests(tests, setup_vm, teardown_vm);
}
