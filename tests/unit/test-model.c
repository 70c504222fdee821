/*
 * The host model on sysfs trees captured from real kernels: this machine (Firecracker, no IOMMU) and a
 * q35 guest with an emulated Intel IOMMU, plus variants that change only what a case needs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* The cap is exact: a page of content is an attribute, one byte more is refused (one read() or many). */
static void test_attribute_cap_is_exactly_a_page(void **state)
{
        char *root = fixture_clone("host-firecracker"), page[4098];
        vfio_model *m;

        memset(page, 'a', 4096);
        page[4096] = 0;
        fixture_write(root, "sys/devices/pci0000:00/0000:00:01.0/driver_override", page);
        page[4096] = '\n'; /* the newline counts: a sysfs page holds the value and its newline */
        page[4097] = 0;
        fixture_write(root, "sys/devices/pci0000:00/0000:00:03.0/driver_override", page);
        page[4096] = 'a';
        fixture_write(root, "sys/devices/pci0000:00/0000:00:04.0/driver_override", page);
        m = load(root);
        assert_int_equal(strlen(dev(m, "0000:00:01.0")->pci->driver_override), 4096);
        assert_false(has_problem(m, "0000:00:01.0/driver_override"));
        assert_null(dev(m, "0000:00:03.0")->pci->driver_override);
        assert_true(has_problem(m, "0000:00:03.0/driver_override: too long"));
        assert_null(dev(m, "0000:00:04.0")->pci->driver_override);
        assert_true(has_problem(m, "0000:00:04.0/driver_override: too long"));
        vfio_model_free(m);
        fixture_remove(root);
}

/* Every form the kernel names functions by, and the near misses that are not addresses. */
static void test_pci_address_forms(void **state)
{
        static const struct {
                const char *s;
                int r;
                uint32_t domain;
                uint8_t bus, slot, func;
        } cases[] = {
                { "0000:01:00.0", 0, 0, 1, 0, 0 },
                { "01:1f.7", 0, 0, 1, 0x1f, 7 },
                { "ABCD:Ef:1F.3", 0, 0xabcd, 0xef, 0x1f, 3 },
                { "10000:00:01.0", 0, 0x10000, 0, 1, 0 },
                { "ffffffff:ff:1f.7", 0, 0xffffffff, 0xff, 0x1f, 7 },
                { "", -EINVAL, 0, 0, 0, 0 },
                { "000:01:00.0", -EINVAL, 0, 0, 0, 0 }, /* 3 domain digits */
                { "100000000:00:00.0", -EINVAL, 0, 0, 0, 0 },
                { "0000:01:20.0", -EINVAL, 0, 0, 0, 0 },  /* slot > 0x1f */
                { "0000:01:00.8", -EINVAL, 0, 0, 0, 0 },  /* function > 7 */
                { "0000:01:00.a", -EINVAL, 0, 0, 0, 0 },  /* function is decimal */
                { "0000:01:00.00", -EINVAL, 0, 0, 0, 0 }, /* trailing */
                { "0000:01:00", -EINVAL, 0, 0, 0, 0 },
                { "0000:1:00.0", -EINVAL, 0, 0, 0, 0 },
                { "0000:01.00.0", -EINVAL, 0, 0, 0, 0 },
                { "0000:01:0g.0", -EINVAL, 0, 0, 0, 0 },
                { " 01:00.0", -EINVAL, 0, 0, 0, 0 },
                { "pci0000:00", -EINVAL, 0, 0, 0, 0 },
                { "0000:00", -EINVAL, 0, 0, 0, 0 },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                vfio_pci_addr a = { .domain = 42 };

                assert_int_equal(vfio_pci_addr_parse(cases[i].s, &a), cases[i].r);
                if (cases[i].r < 0) {
                        assert_int_equal(a.domain, 42); /* untouched on failure */
                        continue;
                }
                assert_int_equal(a.domain, cases[i].domain);
                assert_int_equal(a.bus, cases[i].bus);
                assert_int_equal(a.slot, cases[i].slot);
                assert_int_equal(a.func, cases[i].func);
        }
        assert_int_equal(vfio_pci_addr_parse(NULL, &(vfio_pci_addr){ 0 }), -EINVAL);
}

/* The scan's shortcuts (paths opened beneath sys/ and the groups directory) change nothing for links of
 * other forms: an absolute device link and a group directory reached through absolute links are followed
 * inside the root, as every host path is. */
static void test_links_of_any_form_are_followed_inside_the_root(void **state)
{
        char *root = fixture_clone("q35-viommu");
        vfio_model *m;
        const vfio_iommu_group *g;

        fixture_unlink(root, "sys/bus/pci/devices/0000:00:01.0");
        fixture_symlink(root, "sys/bus/pci/devices/0000:00:01.0", "/sys/devices/pci0000:00/0000:00:01.0");
        m = load(root);
        assert_int_equal(dev(m, "0000:00:01.0")->pci->vendor, 0x1234);
        g = vfio_iommu_find_group(m->iommu, dev(m, "0000:00:01.0")->pci->iommu_group);
        assert_non_null(g);
        assert_true(strv_contains(g->members, "0000:00:01.0"));
        vfio_model_free(m);
        /* Group 1 moved aside and reached through an absolute link, its devices/ through another. */
        {
                char *from, *to;

                assert_true(asprintf(&from, "%s/sys/kernel/iommu_groups/1", root) > 0);
                assert_true(asprintf(&to, "%s/sys/kernel/iommu_groups/elsewhere1", root) > 0);
                assert_int_equal(rename(from, to), 0);
                free(from);
                free(to);
        }
        fixture_symlink(root, "sys/kernel/iommu_groups/1", "/sys/kernel/iommu_groups/elsewhere1");
        m = load(root);
        g = vfio_iommu_find_group(m->iommu, 1);
        assert_non_null(g);
        assert_true(strv_length(g->members) > 0);
        assert_string_equal(g->type, "identity");
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

static void test_root_on_dm_crypt_is_traced_through_slaves(void **state)
{
        char *root = fixture_clone("host-firecracker");
        vfio_model *m;

        /* The same machine with / on /dev/mapper/root (dm-0) stacked on vda, as with LUKS or LVM. */
        fixture_write(root, "proc/self/mountinfo",
                      "21 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/root rw\n"
                      "22 21 0:21 / /proc rw,relatime - proc proc rw\n");
        fixture_write(root, "proc/swaps", "Filename Type Size Used Priority\n");
        fixture_mkdir(root, "sys/devices/virtual/block/dm-0/slaves");
        fixture_symlink(root, "sys/devices/virtual/block/dm-0/slaves/vda",
                        "../../../../pci0000:00/0000:00:02.0/virtio1/block/vda");
        fixture_symlink(root, "sys/dev/block/253:0", "../../devices/virtual/block/dm-0");
        m = load(root);
        assert_int_equal(strv_length(dev(m, "0000:00:02.0")->critical), 1);
        assert_string_equal(dev(m, "0000:00:02.0")->critical[0], "storage: / (ext4 on /dev/mapper/root)");
        vfio_model_free(m);
        fixture_remove(root);
}

static void test_default_route_over_a_bridge_is_traced_to_its_port(void **state)
{
        char *root = fixture_clone("host-firecracker");
        vfio_model *m;

        /* Seed 000's host: a bridge br0 carries the default route, eth0 (virtio-net 00:03.0) is its port. */
        fixture_write(root, "proc/net/route",
                      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
                      "br0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n");
        fixture_mkdir(root, "sys/devices/virtual/net/br0");
        fixture_symlink(root, "sys/devices/virtual/net/br0/lower_eth0",
                        "../../../pci0000:00/0000:00:03.0/virtio2/net/eth0");
        fixture_symlink(root, "sys/class/net/br0", "../../devices/virtual/net/br0");
        m = load(root);
        assert_int_equal(strv_length(dev(m, "0000:00:03.0")->critical), 1);
        assert_string_equal(dev(m, "0000:00:03.0")->critical[0], "network: default route via br0");
        vfio_model_free(m);
        fixture_remove(root);
}

/* ---- q35 guest with an emulated Intel IOMMU (tests/data/sysfs/README.md has the QEMU layout) ---- */

static void test_q35_groups_and_verdicts(void **state)
{
        vfio_model *m = load_fixture("q35-viommu");
        const vfio_model_group *g;

        assert_true(vfio_iommu_enabled(m->iommu));
        assert_int_equal(m->iommu->n_groups, 16);
        assert_int_equal(strv_length(m->iommu->units), 1);
        assert_string_equal(m->iommu->units[0], "dmar0");
        /* Root ports sit alone in their groups (ACS): bridges only. */
        g = vfio_model_find_group(m, dev(m, "0000:00:10.0")->pci->iommu_group);
        assert_int_equal(g->verdict, VFIO_VERDICT_BRIDGE);
        assert_int_equal(dev(m, "0000:00:10.0")->verdict, VFIO_VERDICT_BRIDGE);
        assert_int_equal(dev(m, "0000:00:10.0")->pci->header, VFIO_PCI_HEADER_BRIDGE);
        /* The ICH9 functions at 1f.x share a group: passable only together. */
        g = vfio_model_find_group(m, 10);
        assert_int_equal(g->verdict, VFIO_VERDICT_WITH_PEERS);
        assert_int_equal(g->n_endpoints, 3);
        assert_int_equal(strv_length(dev(m, "0000:00:1f.2")->group_peers), 2);
        assert_string_equal(dev(m, "0000:00:1f.2")->group_peers[0], "0000:00:1f.0");
        assert_string_equal(dev(m, "0000:00:1f.2")->group_peers[1], "0000:00:1f.3");
        assert_int_equal(strv_length(m->problems), 0);
        vfio_model_free(m);
}

static void test_q35_boot_vga_is_host_critical(void **state)
{
        vfio_model *m = load_fixture("q35-viommu");
        const vfio_model_device *vga = dev(m, "0000:00:01.0");

        assert_int_equal(vga->pci->boot_vga, 1);
        assert_int_equal(vga->verdict, VFIO_VERDICT_HOST_CRITICAL);
        assert_string_equal(vga->critical[0], "boot-display: boot display (boot_vga=1, driver bochs-drm)");
        /* The secondary VGA is not the boot display. */
        assert_int_equal(dev(m, "0000:03:00.0")->pci->boot_vga, 0);
        assert_int_equal(strv_length(dev(m, "0000:03:00.0")->critical), 0);
        vfio_model_free(m);
}

static void test_q35_identical_nics_are_alone_and_told_apart_by_path(void **state)
{
        vfio_model *m = load_fixture("q35-viommu");
        const vfio_pci_dev *a = dev(m, "0000:01:00.0")->pci, *b = dev(m, "0000:02:00.0")->pci;

        assert_int_equal(a->vendor, b->vendor);
        assert_int_equal(a->device, b->device);
        assert_int_equal(a->subsystem_vendor, b->subsystem_vendor);
        assert_int_equal(a->subsystem_device, b->subsystem_device);
        assert_int_equal(dev(m, "0000:01:00.0")->verdict, VFIO_VERDICT_ALONE);
        assert_int_equal(dev(m, "0000:02:00.0")->verdict, VFIO_VERDICT_ALONE);
        assert_int_not_equal(a->iommu_group, b->iommu_group);
        assert_string_equal(a->parents[0], "0000:00:10.0");
        assert_string_equal(b->parents[0], "0000:00:11.0");
        assert_string_equal(a->driver, "e1000e");
        assert_int_equal(strv_length(a->reset_methods), 2);
        assert_string_equal(a->reset_methods[0], "pm");
        assert_string_equal(a->reset_methods[1], "bus");
        assert_int_equal(a->link.cur_width, 1);
        assert_int_equal(a->link.cur_speed, 2500);
        vfio_model_free(m);
}

static void test_q35_multifunction_gpu_travels_with_its_audio(void **state)
{
        vfio_model *m = load_fixture("q35-viommu");
        const vfio_model_device *vga = dev(m, "0000:03:00.0"), *hda = dev(m, "0000:03:00.1");

        assert_true(vfio_pci_dev_is_display(vga->pci));
        assert_int_equal(vga->pci->iommu_group, hda->pci->iommu_group);
        assert_int_equal(vga->verdict, VFIO_VERDICT_WITH_PEERS);
        assert_int_equal(strv_length(vga->group_peers), 1);
        assert_string_equal(vga->group_peers[0], "0000:03:00.1");
        assert_string_equal(hda->group_peers[0], "0000:03:00.0");
        vfio_model_free(m);
}

static void test_q35_conventional_bridge_group_peers_exclude_the_bridge(void **state)
{
        vfio_model *m = load_fixture("q35-viommu");
        const vfio_model_device *nic = dev(m, "0000:05:01.0"), *bridge = dev(m, "0000:04:00.0");

        assert_int_equal(bridge->verdict, VFIO_VERDICT_BRIDGE);
        assert_int_equal(nic->pci->iommu_group, bridge->pci->iommu_group);
        assert_int_equal(strv_length(nic->group_peers), 1);
        assert_string_equal(nic->group_peers[0], "0000:05:02.0");
        assert_int_equal(strv_length(nic->pci->parents), 2);
        assert_string_equal(nic->pci->parents[1], "0000:04:00.0");
        vfio_model_free(m);
}

static void test_q35_gpu_sharing_its_group_with_other_endpoints(void **state)
{
        char *root = fixture_clone("q35-viommu");
        const char *d = "sys/devices/pci0000:00/0000:00:13.0/0000:04:00.0/0000:05:01.0";
        char path[256];
        vfio_model *m;

        /* The same tree with the e1000 behind the PCIe-to-PCI bridge turned into a GeForce GTX 1080. */
        snprintf(path, sizeof(path), "%s/vendor", d);
        fixture_write(root, path, "0x10de\n");
        snprintf(path, sizeof(path), "%s/device", d);
        fixture_write(root, path, "0x1b80\n");
        snprintf(path, sizeof(path), "%s/class", d);
        fixture_write(root, path, "0x030000\n");
        m = load(root);
        assert_true(vfio_pci_dev_is_display(dev(m, "0000:05:01.0")->pci));
        assert_int_equal(dev(m, "0000:05:01.0")->verdict, VFIO_VERDICT_WITH_PEERS);
        assert_string_equal(dev(m, "0000:05:01.0")->group_peers[0], "0000:05:02.0");
        vfio_model_free(m);
        fixture_remove(root);
}

static void test_q35_without_iommu(void **state)
{
        vfio_model *m = load_fixture("q35-noiommu");

        assert_false(vfio_iommu_enabled(m->iommu));
        assert_int_equal(m->pci->n, 21);
        assert_int_equal(dev(m, "0000:03:00.0")->verdict, VFIO_VERDICT_NO_IOMMU);
        assert_int_equal(dev(m, "0000:00:10.0")->verdict, VFIO_VERDICT_BRIDGE);
        /* Host-critical devices are still found without groups. */
        assert_int_equal(strv_length(dev(m, "0000:00:01.0")->critical), 1);
        vfio_model_free(m);
}

static void test_non_numeric_groups_are_reported(void **state)
{
        char *root = fixture_clone("q35-viommu");
        vfio_model *m;

        fixture_symlink(root, "sys/devices/pci0000:00/0000:00:14.0/0000:06:00.0/iommu_group",
                        "../../../../kernel/iommu_groups/fifteen");
        fixture_symlink(root, "sys/kernel/iommu_groups/fifteen", "15");
        m = load(root);
        assert_int_equal(dev(m, "0000:06:00.0")->pci->iommu_group, -1);
        assert_int_equal(dev(m, "0000:06:00.0")->verdict, VFIO_VERDICT_NO_IOMMU);
        assert_true(has_problem(m, "0000:06:00.0/iommu_group: not a group number"));
        assert_true(has_problem(m, "sys/kernel/iommu_groups/fifteen: not a group number, ignored"));
        /* Group 15 still lists the device, but the device's own link decides: no stale verdict. */
        assert_int_equal(m->iommu->n_groups, 16);
        vfio_model_free(m);
        fixture_remove(root);
}

static void test_ten_thousand_devices(void **state)
{
        char tmpl[] = "/dev/shm/vfioctl-big-XXXXXX", *sysfs = fixture_data_path("sysfs/q35-viommu");
        const char *gen = getenv("VFIOCTL_GEN_SYSFS_TREE");
        vfio_model *m;
        int st;

        assert_non_null(gen);
        /* tmpfs: half a million file creations on a disk would dominate the test's run time. */
        if (!mkdtemp(tmpl)) {
                memcpy(tmpl, "/tmp/vfioctl-big-XXXXXX", sizeof("/tmp/vfioctl-big-XXXXXX"));
                assert_non_null(mkdtemp(tmpl));
        }
        {
                /* 25 domains from 10000 (as Intel VMD numbers them) x 200 root ports, one endpoint each. */
                const char *cmd[] = { gen,     sysfs, "0000:00:10.0", "0000:01:00.0", tmpl, "25", "200",
                                      "10000", NULL };
                pid_t pid = fork();

                if (pid == 0) {
                        setenv("GEN_SYSFS_ATTRS",
                               "vendor,device,subsystem_vendor,subsystem_device,revision,class,config,numa_node,driver_override,reset_method,current_link_speed,current_link_width,max_link_speed,max_link_width",
                               1);
                        /* Its summary line is not TAP: stdout is the test's result stream. */
                        if (dup2(2, 1) < 0)
                                _exit(127);
                        execv(gen, (char *const *)cmd);
                        _exit(127);
                }
                assert_int_equal(waitpid(pid, &st, 0), pid);
                assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        m = load(tmpl);
        assert_int_equal(m->pci->n, 10000);
        assert_int_equal(m->iommu->n_groups, 10000);
        assert_string_equal(m->pci->devs[0]->name, "10000:00:01.0");
        assert_string_equal(m->pci->devs[9999]->name, "10018:c8:00.0");
        for (size_t i = 0; i < m->pci->n; i++)
                assert_int_equal(m->devices[i].verdict, vfio_pci_dev_is_bridge(m->pci->devs[i])
                                                                ? VFIO_VERDICT_BRIDGE
                                                                : VFIO_VERDICT_ALONE);
        assert_string_equal(dev(m, "10018:c8:00.0")->pci->parents[0], "10018:00:19.7");
        vfio_model_free(m);
        {
                const char *rm[] = { "rm", "-rf", tmpl, NULL };
                pid_t pid = fork();

                if (pid == 0) {
                        execvp("rm", (char *const *)rm);
                        _exit(127);
                }
                waitpid(pid, &st, 0);
        }
        free(sysfs);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_firecracker_has_no_iommu_but_lists_devices),
                cmocka_unit_test(test_firecracker_root_disk_and_default_nic_are_critical),
                cmocka_unit_test(test_truncated_and_malformed_attributes_are_reported),
                cmocka_unit_test(test_nul_bytes_and_oversized_attributes_are_refused),
                cmocka_unit_test(test_attribute_cap_is_exactly_a_page),
                cmocka_unit_test(test_pci_address_forms),
                cmocka_unit_test(test_links_of_any_form_are_followed_inside_the_root),
                cmocka_unit_test(test_dangling_device_link_is_skipped_and_named),
                cmocka_unit_test(test_missing_pci_bus_is_an_empty_list),
                cmocka_unit_test(test_root_on_dm_crypt_is_traced_through_slaves),
                cmocka_unit_test(test_default_route_over_a_bridge_is_traced_to_its_port),
                cmocka_unit_test(test_q35_groups_and_verdicts),
                cmocka_unit_test(test_q35_boot_vga_is_host_critical),
                cmocka_unit_test(test_q35_identical_nics_are_alone_and_told_apart_by_path),
                cmocka_unit_test(test_q35_multifunction_gpu_travels_with_its_audio),
                cmocka_unit_test(test_q35_conventional_bridge_group_peers_exclude_the_bridge),
                cmocka_unit_test(test_q35_gpu_sharing_its_group_with_other_endpoints),
                cmocka_unit_test(test_q35_without_iommu),
                cmocka_unit_test(test_non_numeric_groups_are_reported),
                cmocka_unit_test(test_ten_thousand_devices),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
