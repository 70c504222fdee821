/*
 * The four seed VMs (docs/examples/NNN-*.conf) started in the real QEMU. Their host-specific parts cannot
 * exist on this test host and are replaced by fixtures, each change made here in the open:
 *   - [gpu] and [pci] are dropped: vfio-pci needs an IOMMU and a spare device (the vfio-e2e test bed
 *     covers passthrough; the goldens in tests/data/vm/examples/ cover their argv);
 *   - evdev inputs are dropped: this host has no /dev/input;
 *   - disk paths (zvols, bcache, partitions) become files in the test directory, all options kept;
 *   - audio backend pa talks to a private PulseAudio server started for the test (none when pulseaudio
 *     is not installed), the sound device kept;
 *   - bridge networking becomes user networking (no bridge or qemu-bridge-helper here), MAC kept;
 *   - hugepage-backed memory shrinks to 256M on a hugetlbfs mounted for the test (root only; without
 *     root the hugepages are dropped and the test says so).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "qemu-harness.h"
#include "strv.h"

static void drop_pci(vm_pci **items, size_t *n)
{
        for (size_t i = 0; i < *n; i++) {
                free((*items)[i].name);
                free((*items)[i].device);
                strv_free((*items)[i].functions);
                free((*items)[i].romfile);
                strv_free((*items)[i].resolved);
        }
        free(*items);
        *items = NULL;
        *n = 0;
}

static qvm *seed_vm(const char *file)
{
        const char *dir = getenv("VFIOCTL_EXAMPLES");
        char path[4096];
        qvm *v;
        vm_config *c;
        size_t k = 0;

        assert_non_null(dir);
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        v = qvm_new();
        qvm_config_file(v, path);
        c = v->cfg;
        print_message("%s: dropping %zu [gpu] and %zu [pci] (no vfio here)\n", file, c->n_gpus, c->n_pcis);
        drop_pci(&c->gpus, &c->n_gpus);
        drop_pci(&c->pcis, &c->n_pcis);
        for (size_t i = 0; i < c->n_inputs; i++) {
                if (c->inputs[i].type == VM_INPUT_EVDEV) {
                        print_message("%s: dropping evdev input %s (no /dev/input here)\n", file,
                                      c->inputs[i].name);
                        free(c->inputs[i].name);
                        free(c->inputs[i].evdev);
                        free(c->inputs[i].grab_toggle);
                        continue;
                }
                c->inputs[k++] = c->inputs[i];
        }
        c->n_inputs = k;
        for (size_t i = 0; i < c->n_disks; i++) {
                char *img;

                assert_true(asprintf(&img, "%s/%s.img", v->dir, c->disks[i].name) > 0);
                print_message("%s: disk %s: %s -> %s\n", file, c->disks[i].name, c->disks[i].path, img);
                make_file(img, 64 << 20);
                free(c->disks[i].path);
                c->disks[i].path = img;
        }
        if (c->audio.enabled && c->audio.backend == VM_AUDIO_PA) {
                free(c->audio.server);
                c->audio.server = NULL;
                if (access("/usr/bin/pulseaudio", X_OK) == 0) {
                        pulseaudio_start(v);
                        assert_true(asprintf(&c->audio.server, "%s/native", v->dir) > 0);
                        print_message("%s: audio: pa server -> a private PulseAudio at %s\n", file,
                                      c->audio.server);
                } else {
                        /* Not a silent downgrade to no audio: a skip with its reason, which CI counts as a
                         * failure (scripts/test.sh, ENV_SKIP). */
                        print_message("skipped: pulseaudio is not installed (apt-get install pulseaudio)\n");
                        skip();
                }
        }
        for (size_t i = 0; i < c->n_nets; i++)
                if (c->nets[i].type == VM_NET_BRIDGE) {
                        print_message("%s: net %s: bridge %s -> user\n", file, c->nets[i].name,
                                      c->nets[i].bridge);
                        c->nets[i].type = VM_NET_USER;
                        free(c->nets[i].bridge);
                        c->nets[i].bridge = NULL;
                }
        if (c->memory.hugepages == VM_HUGEPAGES_2M) {
                if (hugepages_reserve(128)) {
                        char *huge;

                        assert_true(asprintf(&huge, "%s/huge", v->dir) > 0);
                        hugetlbfs_mount(v, huge);
                        free(c->memory.hugepage_path);
                        c->memory.hugepage_path = huge;
                        c->memory.size = 256 << 20;
                        print_message("%s: memory on 2M hugepages shrunk to 256M at %s\n", file, huge);
                } else {
                        print_message("%s: NOT testing hugepages (needs root and free hugepages)\n", file);
                        c->memory.hugepages = VM_HUGEPAGES_NONE;
                }
        }
        return v;
}

static void assert_bool_prop(json_object *o, bool want)
{
        assert_int_equal(json_object_get_boolean(o), want);
        json_object_put(o);
}

static void test_seed_000_edi(void **state)
{
        qvm *v = seed_vm("000-edi.conf");
        json_object *o, *pci;

        qvm_start(v);
        o = qvm_qom_get(v, "/machine", "max-ram-below-4g");
        assert_int_equal(json_object_get_int64(o), 1LL << 30);
        json_object_put(o);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_int_equal(pci_count(pci, 0x8086, 0x1237), 1); /* i440FX */
        assert_non_null(pci_find(pci, "disk-system"));
        json_object_put(pci);
        qvm_assert_topology(v, 1, 4, 1);
        assert_bool_prop(qvm_cpu0_prop(v, "kvm"), false);
        o = qvm_qom_get(v, "/machine/peripheral/disk-system", "serial");
        assert_string_equal(json_object_get_string(o), "1");
        json_object_put(o);
        o = qvm_qmp(v, "query-uuid", NULL);
        assert_string_equal(jstr(o, "UUID"), "11111111-1111-1111-1111-111111111111");
        json_object_put(o);
        o = qvm_qom_get(v, "/machine/peripheral/nic-lan", "mac");
        assert_string_equal(json_object_get_string(o), "52:54:00:11:22:33");
        json_object_put(o);
        /* The SMBIOS GENERIC values: accepted by QEMU (there is no query for the tables). */
        assert_true(strv_contains(v->argv,
                                  "type=0,vendor=GENERIC,version=GENERIC,date=01/01/2014,release=0.91"));
        qvm_free(v);
}

static void test_seed_001_overwatch(void **state)
{
        qvm *v = seed_vm("001-overwatch.conf");
        json_object *o, *pci, *mem;

        qvm_start(v);
        qvm_assert_topology(v, 1, 4, 1);
        assert_bool_prop(qvm_cpu0_prop(v, "kvm"), false); /* hidden */
        assert_bool_prop(qvm_cpu0_prop(v, "hv-relaxed"), true);
        assert_bool_prop(qvm_cpu0_prop(v, "hv-vapic"), true);
        assert_bool_prop(qvm_cpu0_prop(v, "hv-time"), true);
        o = qvm_cpu0_prop(v, "hv-spinlocks");
        assert_int_equal(json_object_get_int64(o), 8191);
        json_object_put(o);
        o = qvm_cpu0_prop(v, "hv-vendor-id");
        assert_string_equal(json_object_get_string(o), "whatever");
        json_object_put(o);
        o = qvm_qom_get(v, "/machine", "hpet");
        assert_false(json_object_get_boolean(o));
        json_object_put(o);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_non_null(pci_find(pci, "input-vmouse"));
        assert_non_null(pci_find(pci, "input-vkeyboard"));
        assert_non_null(pci_find(pci, "sound0"));
        json_object_put(pci);
        if (v->cfg->memory.hugepages == VM_HUGEPAGES_2M) {
                mem = qvm_qmp(v, "query-memdev", NULL);
                assert_non_null(json_find(mem, "id", "mem"));
                json_object_put(mem);
                o = qvm_qom_get(v, "/objects/mem", "mem-path");
                assert_string_equal(json_object_get_string(o), v->cfg->memory.hugepage_path);
                json_object_put(o);
        }
        /* The pinning plan is data for the launcher; here it must match the vCPU count. */
        assert_int_equal(strv_length(v->cfg->cpu.pin), 4);
        qvm_free(v);
}

static void test_seed_002_fedora(void **state)
{
        qvm *v = seed_vm("002-fedora.conf");
        json_object *pci, *blk;

        qvm_start(v);
        qvm_assert_topology(v, 1, 3, 2);
        assert_bool_prop(qvm_cpu0_prop(v, "kvm"), false);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_int_equal(pci_count(pci, 0x8086, 0x29c0), 1); /* Q35 */
        assert_non_null(pci_find(pci, "disk-partition"));
        assert_non_null(pci_find(pci, "disk-image"));
        json_object_put(pci);
        blk = qvm_qmp(v, "query-block", NULL);
        assert_null(json_find(blk, "device", "pflash0")); /* SeaBIOS: no pflash */
        json_object_put(blk);
        qvm_free(v);
}

static void test_seed_003_qemu_vga(void **state)
{
        qvm *v = seed_vm("003-qemu-vga.conf");
        json_object *o, *pci, *io, *chr, *a;

        qvm_start(v);
        qvm_assert_topology(v, 1, 4, 2);
        assert_bool_prop(qvm_cpu0_prop(v, "kvm"), false);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_int_equal(pci_count(pci, 0x8086, 0x29c0), 1); /* Q35 */
        assert_non_null(pci_find(pci, "scsi-system"));
        assert_non_null(pci_find(pci, "sound0"));
        assert_non_null(pci_find(pci, "nic-lan"));
        json_object_put(pci);
        io = qvm_qmp(v, "query-iothreads", NULL);
        assert_non_null(json_find(io, "id", "io-system"));
        json_object_put(io);
        o = qvm_qom_get(v, "/machine/peripheral/scsi-system", "iothread");
        assert_string_equal(json_object_get_string(o), "/objects/io-system");
        json_object_put(o);
        chr = qvm_qmp(v, "query-chardev", NULL);
        assert_non_null(json_find(chr, "label", "debugcon"));
        json_object_put(chr);
        a = json_object_new_object();
        json_object_object_add(a, "command-line", json_object_new_string("info usernet"));
        o = qvm_qmp(v, "human-monitor-command", a);
        assert_non_null(strstr(json_object_get_string(o), "24800"));
        json_object_put(o);
        o = qvm_qom_get(v, "/machine/peripheral/nic-lan", "mac");
        assert_string_equal(json_object_get_string(o), "de:ad:be:ef:33:4a");
        json_object_put(o);
        qvm_free(v);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_seed_000_edi, harness_teardown),
                cmocka_unit_test_teardown(test_seed_001_overwatch, harness_teardown),
                cmocka_unit_test_teardown(test_seed_002_fedora, harness_teardown),
                cmocka_unit_test_teardown(test_seed_003_qemu_vga, harness_teardown),
        };

        if (access("/usr/bin/qemu-system-x86_64", X_OK) < 0) {
                fprintf(stderr, "qemu-system-x86_64 is not installed\n");
                return 77;
        }
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
