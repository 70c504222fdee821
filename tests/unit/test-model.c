/*
 * The host model on sysfs trees captured from real kernels: this machine (Firecracker, no IOMMU) and a
 * q35 guest with an emulated Intel IOMMU, plus variants that change only what a case needs.
 */
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
#include "vfioctl/model.h"

static vfio_model *load(const char *root)
{
        vfio_host *h = NULL;
        vfio_model *m = NULL;

        assert_int_equal(vfio_host_open(root, &h), 0);
        assert_int_equal(vfio_model_load(h, &m), 0);
        vfio_host_free(h);
        return m;
}

static vfio_model *load_fixture(const char *name)
{
        char *sysfs = fixture_data_path("sysfs"), *root;
        vfio_model *m;

        assert_true(asprintf(&root, "%s/%s", sysfs, name) > 0);
        m = load(root);
        free(root);
        free(sysfs);
        return m;
}

static const vfio_model_device *dev(const vfio_model *m, const char *addr)
{
        const vfio_model_device *md = vfio_model_find_device(m, addr);

        if (!md)
                fail_msg("device %s not in the model", addr);
        return md;
}

static bool has_problem(const vfio_model *m, const char *needle)
{
        STRV_FOREACH(p, m->problems)
                if (strstr(*p, needle))
                        return true;
        return false;
}

/* ---- this machine: Firecracker, six virtio functions on bus 0, no IOMMU ---- */

static void test_firecracker_has_no_iommu_but_lists_devices(void **state)
{
        vfio_model *m = load_fixture("host-firecracker");

        assert_false(vfio_iommu_enabled(m->iommu));
        assert_int_equal(m->pci->n, 6);
        for (size_t i = 0; i < m->pci->n; i++) {
                assert_int_equal(m->pci->devs[i]->iommu_group, -1);
                assert_int_equal(m->devices[i].verdict, VFIO_VERDICT_NO_IOMMU);
        }
        assert_null(dev(m, "0000:00:00.0")->pci->driver);
        assert_string_equal(dev(m, "00:02.0")->pci->driver, "virtio-pci");
        assert_int_equal(dev(m, "0000:00:02.0")->pci->vendor, 0x1af4);
        assert_int_equal(dev(m, "0000:00:02.0")->pci->device, 0x1042);
        assert_int_equal(dev(m, "0000:00:02.0")->pci->class, 0x018000);
        assert_int_equal(dev(m, "0000:00:00.0")->pci->header, VFIO_PCI_HEADER_ENDPOINT);
        assert_int_equal(strv_length(m->problems), 0);
        vfio_model_free(m);
}

static void test_firecracker_root_disk_and_default_nic_are_critical(void **state)
{
        vfio_model *m = load_fixture("host-firecracker");

        /* The root filesystem is on /dev/vda (virtio-blk 00:02.0); eth0 (virtio-net 00:03.0) routes. */
        assert_int_equal(strv_length(dev(m, "0000:00:02.0")->critical), 1);
        assert_non_null(strstr(dev(m, "0000:00:02.0")->critical[0], "storage: / ("));
        assert_string_equal(dev(m, "0000:00:03.0")->critical[0], "network: default route via eth0");
        assert_int_equal(strv_length(dev(m, "0000:00:01.0")->critical), 0);
        vfio_model_free(m);
}

/* ---- bad input: the tree is wrong in one place, the rest is still read ---- */

static void test_truncated_and_malformed_attributes_are_reported(void **state)
{
        char *root = fixture_clone("host-firecracker");
        vfio_model *m;

        fixture_write(root, "sys/devices/pci0000:00/0000:00:01.0/vendor", "");
        fixture_write(root, "sys/devices/pci0000:00/0000:00:01.0/device", "0x10"); /* valid, short */
        fixture_write(root, "sys/devices/pci0000:00/0000:00:03.0/class", "0xzz0000\n");
        fixture_write(root, "sys/devices/pci0000:00/0000:00:04.0/numa_node", "many\n");
        m = load(root);
        assert_int_equal(m->pci->n, 6);
        assert_int_equal(dev(m, "0000:00:01.0")->pci->vendor, -1);
        assert_int_equal(dev(m, "0000:00:01.0")->pci->device, 0x10);
        assert_int_equal(dev(m, "0000:00:03.0")->pci->class, -1);
        assert_int_equal(dev(m, "0000:00:04.0")->pci->numa_node, -1);
        assert_true(has_problem(m, "sys/bus/pci/devices/0000:00:01.0/vendor: malformed"));
        assert_true(has_problem(m, "sys/bus/pci/devices/0000:00:03.0/class: malformed"));
        assert_true(has_problem(m, "sys/bus/pci/devices/0000:00:04.0/numa_node: malformed"));
        vfio_model_free(m);
        fixture_remove(root);
}

static void test_nul_bytes_and_oversized_attributes_are_refused(void **state)
{
        char *root = fixture_clone("host-firecracker"), *big;
        FILE *f;
        char *path;
        vfio_model *m;

        assert_true(asprintf(&path, "%s/sys/devices/pci0000:00/0000:00:05.0/vendor", root) > 0);
        f = fopen(path, "we");
        assert_non_null(f);
        fwrite("0x1a\0f4\n", 1, 8, f);
        fclose(f);
        free(path);
        big = malloc(10000);
        memset(big, '1', 9999);
        big[9999] = 0;
        fixture_write(root, "sys/devices/pci0000:00/0000:00:04.0/device", big);
        free(big);
        m = load(root);
        assert_int_equal(dev(m, "0000:00:05.0")->pci->vendor, -1);
        assert_true(has_problem(m, "0000:00:05.0/vendor: contains a NUL byte"));
        assert_int_equal(dev(m, "0000:00:04.0")->pci->device, -1);
        assert_true(has_problem(m, "0000:00:04.0/device: too long"));
        vfio_model_free(m);
        fixture_remove(root);
}

static void test_dangling_device_link_is_skipped_and_named(void **state)
{
        char *root = fixture_clone("host-firecracker");
        vfio_model *m;

        /* The link stays, the directory it points to is gone (a device removed mid-scan). */
        fixture_symlink(root, "sys/bus/pci/devices/0000:00:07.0",
                        "../../../devices/pci0000:00/0000:00:07.0");
        fixture_symlink(root, "sys/bus/pci/devices/garbage", "../../../devices/pci0000:00/garbage");
        m = load(root);
        assert_int_equal(m->pci->n, 6);
        assert_null(vfio_model_find_device(m, "0000:00:07.0"));
        assert_true(has_problem(m, "sys/bus/pci/devices/0000:00:07.0: dangling link"));
        assert_true(has_problem(m, "sys/bus/pci/devices/garbage: not a PCI device link"));
        vfio_model_free(m);
        fixture_remove(root);
}

static void test_missing_pci_bus_is_an_empty_list(void **state)
{
        char *root = fixture_clone("host-firecracker");
        vfio_model *m;

        /* Containers and some microVMs have no PCI bus at all: an empty model, not an error. */
        fixture_rmtree(root, "sys/bus/pci");
        m = load(root);
        assert_int_equal(m->pci->n, 0);
        assert_false(vfio_iommu_enabled(m->iommu));
        vfio_model_free(m);
        fixture_remove(root);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_firecracker_has_no_iommu_but_lists_devices),
                cmocka_unit_test(test_firecracker_root_disk_and_default_nic_are_critical),
                cmocka_unit_test(test_truncated_and_malformed_attributes_are_reported),
                cmocka_unit_test(test_nul_bytes_and_oversized_attributes_are_refused),
                cmocka_unit_test(test_dangling_device_link_is_skipped_and_named),
                cmocka_unit_test(test_missing_pci_bus_is_an_empty_list),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
