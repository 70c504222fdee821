/*
 * libvirt domain XMLs imported by vfioctl and started in the real QEMU (TCG, paused), checked over QMP:
 * the seeds' XMLs (tests/data/libvirt/seed000-edi.xml, seed001-repaired.xml), one user's q35 domain and
 * one user's Looking Glass (kvmfr) domain.
 * What cannot exist on this test host is replaced by fixtures, each change printed:
 *   - passed-through PCI functions are dropped: vfio-pci needs an IOMMU and a spare device (the unit test
 *     test-libvirt-xml checks that every one reaches the argv as -device vfio-pci,host=...);
 *   - evdev inputs are dropped: this host has no /dev/input (their -object input-linux is checked in the
 *     argv);
 *   - disk paths (zvols, images under /var/lib/libvirt, ISOs) become 64M files in the test directory;
 *   - firmware images the authors had (OVMF-pure-efi.fd, OVMF_CODE.fd) become Debian's OVMF_CODE_4M.fd,
 *     and their per-VM vars copies a copy of OVMF_VARS_4M.fd in the test directory;
 *   - the emulator becomes qemu-system-x86_64 (seed 000 named RHEL's /usr/libexec/qemu-kvm);
 *   - bridge networking becomes user networking, the PulseAudio backend none (no bridge or server here);
 *   - hugepages shrink to 256M on a hugetlbfs mounted for the test (root only; else dropped, said so);
 *   - USB host devices are dropped, and Looking Glass memory (/dev/kvmfr0) becomes a file in the test
 *     directory, size and sharing kept;
 *   - Hyper-V flags beyond vfioctl's base set (hv-vpindex, hv-synic, ...) are left out after checking they
 *     were imported: TCG refuses them ("kernel doesn't allow setting HyperV VP_INDEX").
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

#include "cleanup.h"
#include "qemu-harness.h"
#include "strv.h"
#include "vfioctl/libvirt-xml.h"

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

static void set(char **dst, const char *v)
{
        free(*dst);
        *dst = v ? strdup(v) : NULL;
}

static qvm *imported_vm(const char *rel)
{
        const char *data = getenv("VFIOCTL_TEST_DATA");
        char path[4096], *err = NULL;
        vm_libvirt_import *imp = NULL;
        vm_config *c;
        size_t k = 0;
        qvm *v;

        assert_non_null(data);
        snprintf(path, sizeof(path), "%s/libvirt/%s", data, rel);
        /* QEMU arguments vfioctl has no key for are kept (and dropped below, printed, as a fixture). */
        if (vm_libvirt_import_file(path, NULL, VM_LIBVIRT_KEEP_UNKNOWN_ARGS, &imp, &err) < 0)
                fail_msg("%s: %s", path, err ? err : "import failed");
        v = qvm_new();
        v->cfg = c = imp->config;
        imp->config = NULL;
        print_message("%s: imported, %zu parts not imported\n", rel, imp->n_dropped);
        vm_libvirt_import_free(imp);

        if (c->vm.extra_args) {
                _cleanup_free_ char *j = strv_join(c->vm.extra_args, " ");

                print_message(
                        "%s: fixture: dropping extra_args %s (files and host tuning of the author's)\n", rel,
                        j);
                c->vm.extra_args = strv_free(c->vm.extra_args);
        }
        print_message("%s: fixture: dropping %zu [gpu] and %zu [pci] (no vfio here)\n", rel, c->n_gpus,
                      c->n_pcis);
        drop_pci(&c->gpus, &c->n_gpus);
        drop_pci(&c->pcis, &c->n_pcis);
        for (size_t i = 0; i < c->n_inputs; i++) {
                if (c->inputs[i].type == VM_INPUT_EVDEV) {
                        print_message("%s: fixture: dropping evdev input %s (%s)\n", rel, c->inputs[i].name,
                                      c->inputs[i].evdev);
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
                print_message("%s: fixture: disk %s: %s -> %s\n", rel, c->disks[i].name, c->disks[i].path,
                              img);
                make_file(img, 64 << 20);
                free(c->disks[i].path);
                c->disks[i].path = img;
        }
        if (strcmp(c->vm.emulator, "qemu-system-x86_64") != 0) {
                print_message("%s: fixture: emulator %s -> qemu-system-x86_64\n", rel, c->vm.emulator);
                set(&c->vm.emulator, "qemu-system-x86_64");
        }
        if (c->firmware.type == VM_FIRMWARE_OVMF && (c->firmware.code || c->firmware.vars)) {
                print_message("%s: fixture: OVMF code %s -> Debian's, vars %s -> the test directory\n", rel,
                              c->firmware.code ? c->firmware.code : "(default)",
                              c->firmware.vars ? c->firmware.vars : "(default)");
                set(&c->firmware.code, NULL);
                set(&c->firmware.vars_template, NULL);
                set(&c->firmware.vars, NULL);
        }
        for (size_t i = 0; i < c->n_nets; i++)
                if (c->nets[i].type != VM_NET_USER) {
                        print_message("%s: fixture: net %s -> user networking\n", rel, c->nets[i].name);
                        c->nets[i].type = VM_NET_USER;
                        set(&c->nets[i].bridge, NULL);
                        set(&c->nets[i].ifname, NULL);
                        set(&c->nets[i].link, NULL);
                        set(&c->nets[i].macvtap_mode, NULL);
                }
        if (c->audio.enabled && c->audio.backend == VM_AUDIO_PA) {
                print_message("%s: fixture: audio backend pa -> none\n", rel);
                c->audio.backend = VM_AUDIO_NONE;
                set(&c->audio.server, NULL);
        }
        if (c->n_usbs) {
                print_message("%s: fixture: dropping %zu [usb] (the devices are not on this host)\n", rel,
                              c->n_usbs);
                for (size_t i = 0; i < c->n_usbs; i++) {
                        free(c->usbs[i].name);
                        free(c->usbs[i].host_port);
                }
                c->n_usbs = 0;
        }
        if (c->looking_glass.enabled && c->looking_glass.path) {
                char *lg;

                assert_true(asprintf(&lg, "%s/looking-glass", v->dir) > 0);
                print_message("%s: fixture: Looking Glass memory %s -> %s\n", rel, c->looking_glass.path,
                              lg);
                free(c->looking_glass.path);
                c->looking_glass.path = lg;
        }
        if (c->memory.hugepages != VM_HUGEPAGES_NONE) {
                if (c->memory.hugepages == VM_HUGEPAGES_2M && hugepages_reserve(128)) {
                        char *huge;

                        assert_true(asprintf(&huge, "%s/huge", v->dir) > 0);
                        hugetlbfs_mount(v, huge);
                        free(c->memory.hugepage_path);
                        c->memory.hugepage_path = huge;
                        c->memory.size = 256 << 20;
                        print_message("%s: fixture: memory on 2M hugepages shrunk to 256M at %s\n", rel,
                                      huge);
                } else {
                        print_message("%s: NOT testing hugepages (needs root and free hugepages)\n", rel);
                        c->memory.hugepages = VM_HUGEPAGES_NONE;
                }
        }
        return v;
}

static void assert_cpu_bool(qvm *v, const char *prop, bool want)
{
        json_object *o = qvm_cpu0_prop(v, prop);

        if (json_object_get_boolean(o) != want)
                fail_msg("CPU property %s is %s, want %s", prop, json_object_get_boolean(o) ? "on" : "off",
                         want ? "on" : "off");
        json_object_put(o);
}

/* The guest RAM backend (explicit "mem", or QEMU's implicit pc.ram) and its size. */
static void assert_ram(qvm *v, uint64_t size)
{
        json_object *mem = qvm_qmp(v, "query-memdev", NULL);
        uint64_t total = 0;

        for (size_t i = 0; i < json_object_array_length(mem); i++) {
                json_object *m = json_object_array_get_idx(mem, i);
                const char *id = jstr(m, "id");

                if (id && (strcmp(id, "mem") == 0 || strcmp(id, "pc.ram") == 0))
                        total += (uint64_t)jint(m, "size");
        }
        assert_int_equal(total, size);
        json_object_put(mem);
}

static void test_seed000_edi(void **state)
{
        qvm *v = imported_vm("seed000-edi.xml");
        json_object *o, *pci;

        /* The imported config, before fixtures touched the host parts, kept what qemu:commandline said. */
        assert_int_equal(v->cfg->vm.max_ram_below_4g, 1ULL << 30);
        qvm_start(v);
        o = qvm_qom_get(v, "/machine", "max-ram-below-4g");
        assert_int_equal(json_object_get_int64(o), 1LL << 30);
        json_object_put(o);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_int_equal(pci_count(pci, 0x8086, 0x1237), 1); /* i440FX */
        assert_non_null(pci_find(pci, "disk-vda"));
        assert_non_null(pci_find(pci, "nic-net0"));
        json_object_put(pci);
        qvm_assert_topology(v, 1, 4, 1);
        assert_cpu_bool(v, "kvm", false); /* -cpu host,kvm=off */
        assert_ram(v, 16ULL << 30);
        o = qvm_qom_get(v, "/machine/peripheral/disk-vda", "serial");
        assert_string_equal(json_object_get_string(o), "1");
        json_object_put(o);
        o = qvm_qmp(v, "query-uuid", NULL);
        assert_string_equal(jstr(o, "UUID"), "11111111-1111-1111-1111-111111111111");
        json_object_put(o);
        o = qvm_qom_get(v, "/machine/peripheral/nic-net0", "mac");
        assert_string_equal(json_object_get_string(o), "52:54:00:11:22:33");
        json_object_put(o);
        assert_true(strv_contains(v->argv,
                                  "type=0,vendor=GENERIC,version=GENERIC,date=01/01/2014,release=0.91"));
        qvm_free(v);
}

static void test_seed001_overwatch(void **state)
{
        qvm *v = imported_vm("seed001-repaired.xml");
        json_object *o, *pci;

        qvm_start(v);
        /* No <topology>: libvirt gives each of the 4 vCPUs a socket, and so does the import. */
        qvm_assert_topology(v, 4, 1, 1);
        assert_cpu_bool(v, "kvm", false); /* <kvm><hidden state='on'/> */
        assert_cpu_bool(v, "hv-relaxed", true);
        assert_cpu_bool(v, "hv-vapic", true);
        assert_cpu_bool(v, "hv-time", true); /* <timer name='hypervclock' present='yes'/> */
        o = qvm_cpu0_prop(v, "hv-spinlocks");
        assert_int_equal(json_object_get_int64(o), 8191);
        json_object_put(o);
        o = qvm_cpu0_prop(v, "hv-vendor-id");
        assert_string_equal(json_object_get_string(o), "whatever");
        json_object_put(o);
        o = qvm_qom_get(v, "/machine", "hpet");
        assert_false(json_object_get_boolean(o));
        json_object_put(o);
        assert_ram(v, 16ULL << 30);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_int_equal(pci_count(pci, 0x8086, 0x1237), 1); /* i440FX (pc-i440fx-bionic) */
        assert_non_null(pci_find(pci, "input-mouse0"));
        assert_non_null(pci_find(pci, "input-keyboard1"));
        assert_non_null(pci_find(pci, "sound0"));
        assert_non_null(pci_find(pci, "video0"));
        assert_non_null(pci_find(pci, "nic-net0"));
        assert_null(pci_find(pci, "disk-hda")); /* on the PIIX IDE controller, not a PCI device of its own */
        json_object_put(pci);
        o = qvm_qom_get(v, "/machine/peripheral/disk-hda", "drive");
        assert_string_equal(json_object_get_string(o), "drive-hda");
        json_object_put(o);
        qvm_free(v);
}

/* A q35 domain written by virt-manager: 6 cores x 2 threads, hugepages, more Hyper-V enlightenments. */
static void test_user_q35(void **state)
{
        qvm *v = imported_vm("users/bryansteiner-win10.xml");
        json_object *o, *pci;
        bool huge = v->cfg->memory.hugepages != VM_HUGEPAGES_NONE;
        char **extra = v->cfg->cpu.hyperv_extra;

        /*
         * hv-vpindex, hv-synic, hv-stimer need the KVM Hyper-V MSRs ("kernel doesn't allow setting HyperV
         * VP_INDEX" under TCG): checked as imported, then left out of this TCG run.
         */
        assert_int_equal(strv_length(extra), 5);
        assert_true(strv_contains(extra, "hv-vpindex") && strv_contains(extra, "hv-synic") &&
                    strv_contains(extra, "hv-stimer") && strv_contains(extra, "hv-reset") &&
                    strv_contains(extra, "hv-frequencies"));
        print_message("fixture: hyperv_extra (%zu flags) left out: TCG has no Hyper-V synthetic MSRs\n",
                      strv_length(extra));
        v->cfg->cpu.hyperv_extra = strv_free(extra);
        qvm_start(v);
        qvm_assert_topology(v, 1, 6, 2);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_int_equal(pci_count(pci, 0x8086, 0x29c0), 1); /* Q35 */
        assert_non_null(pci_find(pci, "nic-net0"));
        json_object_put(pci);
        assert_cpu_bool(v, "kvm", false);
        assert_cpu_bool(v, "hv-relaxed", true);
        assert_cpu_bool(v, "hv-time", true);
        o = qvm_cpu0_prop(v, "hv-vendor-id");
        assert_string_equal(json_object_get_string(o), "kvm hyperv");
        json_object_put(o);
        if (huge) {
                o = qvm_qmp(v, "query-memdev", NULL);
                assert_non_null(json_find(o, "id", "mem"));
                json_object_put(o);
                assert_ram(v, 256ULL << 20);
        } else
                assert_ram(v, 16ULL << 30);
        o = qvm_qmp(v, "query-block", NULL);
        assert_non_null(json_find(o, "qdev", "disk-sda"));
        json_object_put(o);
        qvm_free(v);
}

/* Looking Glass over kvmfr from qemu:commandline (-object memory-backend-file + -device ivshmem-plain). */
static void test_user_looking_glass(void **state)
{
        qvm *v = imported_vm("users/kinsteen-win10.xml");
        json_object *o, *pci, *m;

        assert_int_equal(
                v->cfg->looking_glass.size
                        ?: vm_looking_glass_size(v->cfg->looking_glass.width, v->cfg->looking_glass.height),
                32ULL << 20);
        assert_true(strv_contains(v->cfg->cpu.hyperv_extra, "hv-synic"));
        print_message("fixture: hyperv_extra left out: TCG has no Hyper-V synthetic MSRs\n");
        v->cfg->cpu.hyperv_extra = strv_free(v->cfg->cpu.hyperv_extra);
        qvm_start(v);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_non_null(pci_find(pci, "shmem0"));
        assert_int_equal(pci_count(pci, 0x1af4, 0x1110), 1); /* Red Hat ivshmem */
        json_object_put(pci);
        o = qvm_qmp(v, "query-memdev", NULL);
        m = json_find(o, "id", "looking-glass");
        assert_non_null(m);
        assert_int_equal(jint(m, "size"), 32LL << 20);
        assert_true(jbool(m, "share"));
        json_object_put(o);
        qvm_assert_topology(v, 1, 6, 2);
        qvm_free(v);
}

/* The index of the argument after option opt. */
static size_t strv_index_after(char **l, const char *opt)
{
        for (size_t i = 0; l[i] && l[i + 1]; i++)
                if (!strcmp(l[i], opt))
                        return i + 1;
        fail_msg("no %s in the argv", opt);
        return 0;
}

/*
 * <vcpu current='12'>16</vcpu> with 4 vCPUs disabled, pinned, with CPUID <feature>s: QEMU starts the 12
 * libvirt starts, the 4 other places stay empty, and the features are on or off as the domain says.
 */
static void test_user_vcpus_current(void **state)
{
        qvm *v = imported_vm("users/cappyt-g14-win10.xml");
        json_object *cpus, *hot;
        size_t empty = 0;

        assert_int_equal(v->cfg->cpu.vcpus, 12);
        assert_int_equal(strv_length(v->cfg->cpu.pin), 12);
        qvm_start(v);
        cpus = qvm_qmp(v, "query-cpus-fast", NULL);
        assert_int_equal(json_object_array_length(cpus), 12);
        json_object_put(cpus);
        hot = qvm_qmp(v, "query-hotpluggable-cpus", NULL);
        assert_int_equal(json_object_array_length(hot), 16);
        for (size_t i = 0; i < json_object_array_length(hot); i++) {
                json_object *q;

                empty += !json_object_object_get_ex(json_object_array_get_idx(hot, i), "qom-path", &q);
        }
        assert_int_equal(empty, 4);
        json_object_put(hot);
        /* The <feature>s are in -cpu (TCG lacks topoext and invtsc: it drops them with a warning). */
        assert_non_null(strstr(v->argv[strv_index_after(v->argv, "-cpu")], "topoext=on"));
        assert_non_null(strstr(v->argv[strv_index_after(v->argv, "-cpu")], "amd-stibp=off"));
        assert_cpu_bool(v, "svm", true); /* <feature policy='require' name='svm'/>, which TCG has */
        assert_cpu_bool(v, "hv-time", true);
        qvm_free(v);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_seed000_edi),        cmocka_unit_test(test_seed001_overwatch),
                cmocka_unit_test(test_user_q35),           cmocka_unit_test(test_user_looking_glass),
                cmocka_unit_test(test_user_vcpus_current),
        };

        if (access("/usr/bin/qemu-system-x86_64", X_OK) < 0) {
                fprintf(stderr, "qemu-system-x86_64 is not installed\n");
                return 77;
        }
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
