/*
 * libvirt domain XML import and export: the seeds' XMLs, 25 users' published XMLs (one broken as
 * published), what is reported as not imported, and import -> export -> import stability.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "cleanup.h"
#include "fileio.h"
#include "strv.h"
#include "vfioctl/libvirt-xml.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/vmdefaults.h"

static char *data_path(const char *rel)
{
        char *p;

        assert_true(asprintf(&p, "%s/libvirt/%s", getenv("VFIOCTL_TEST_DATA"), rel) > 0);
        return p;
}

static vm_libvirt_import *import_ok(const char *path, unsigned flags)
{
        vm_libvirt_import *imp = NULL;
        _cleanup_free_ char *err = NULL;
        int r = vm_libvirt_import_file(path, NULL, flags, &imp, &err);

        if (r < 0)
                fail_msg("%s: import failed (%d): %s", path, r, err ? err : "");
        return imp;
}

static char **argv_of(vm_config *c)
{
        _cleanup_strv_free_ char **w = NULL, **e = NULL, **notes = NULL;
        vm_argv_paths p = { .runtime_dir = "/run/user/1000/vfioctl/t",
                            .state_dir = "/state/t",
                            .uid = 1000 };
        char **args = NULL;

        assert_int_equal(vm_config_resolve(c, NULL, NULL, &w, &e), 0);
        assert_int_equal(vm_qemu_argv(c, &p, &args, &notes), 0);
        return args;
}

/* An argv element that starts with prefix. */
static bool argv_has_prefix(char **args, const char *prefix)
{
        STRV_FOREACH(a, args)
                if (strncmp(*a, prefix, strlen(prefix)) == 0)
                        return true;
        return false;
}

static bool dropped_at(const vm_libvirt_import *imp, unsigned line, const char *what)
{
        for (size_t i = 0; i < imp->n_dropped; i++)
                if (imp->dropped[i].line == line && strstr(imp->dropped[i].what, what))
                        return true;
        return false;
}

static char *config_text(const vm_config *c)
{
        char *t = NULL;

        assert_int_equal(vm_libvirt_config_text(c, NULL, &t), 0);
        return t;
}

/* import -> export -> import gives an equal config, and the written config parses back equal too. */
static void assert_round_trip(const char *label, vm_libvirt_import *imp)
{
        _cleanup_(vm_libvirt_import_freep) vm_libvirt_import *again = NULL;
        _cleanup_(vm_config_freep) vm_config *parsed = NULL;
        _cleanup_free_ char *xml = NULL, *t1 = NULL, *t2 = NULL, *t3 = NULL, *err = NULL;
        _cleanup_strv_free_ char **lost = NULL, **errors = NULL, **w = NULL, **e = NULL;

        assert_int_equal(vm_config_resolve(imp->config, NULL, NULL, &w, &e), 0);
        assert_int_equal(vm_libvirt_export(imp->config, &xml, &lost), 0);
        /* Arguments kept verbatim travel as qemu:commandline and come back the same way. */
        if (vm_libvirt_import_string(xml, strlen(xml), "exported.xml", NULL,
                                     imp->config->vm.extra_args ? VM_LIBVIRT_KEEP_UNKNOWN_ARGS : 0, &again,
                                     &err) < 0)
                fail_msg("%s: the exported XML does not import: %s\n%s", label, err, xml);
        t1 = config_text(imp->config);
        t2 = config_text(again->config);
        if (strcmp(t1, t2) != 0)
                fail_msg(
                        "%s: import -> export -> import changed the config\n--- first ---\n%s\n--- again ---\n%s",
                        label, t1, t2);
        /* What export writes back is only libvirt housekeeping: nothing is dropped the second time. */
        for (size_t i = 0; i < again->n_dropped; i++)
                fail_msg("%s: re-import dropped line %u %s: %s\n%s", label, again->dropped[i].line,
                         again->dropped[i].what, again->dropped[i].reason, xml);
        if (vm_config_parse_string(t1, "written.conf", imp->config->name, &parsed, &errors) < 0)
                fail_msg("%s: the written config does not parse: %s\n%s", label, errors[0], t1);
        t3 = config_text(parsed);
        assert_string_equal(t1, t3);
}

static void assert_goldens(const char *xml_path, const vm_libvirt_import *imp);

static void test_seed000(void **state)
{
        _cleanup_free_ char *path = data_path("seed000-edi.xml");
        _cleanup_(vm_libvirt_import_freep) vm_libvirt_import *imp = import_ok(path, 0);
        _cleanup_strv_free_ char **args = NULL;
        vm_config *c = imp->config;

        assert_string_equal(c->name, "edi");
        assert_int_equal(c->vm.machine, VM_MACHINE_I440FX);
        /* From qemu:commandline: -machine ...,max-ram-below-4g=1G and -cpu host,kvm=off, -drive if=pflash.
         */
        assert_int_equal(c->vm.max_ram_below_4g, 1ULL << 30);
        assert_true(c->cpu.hide_kvm);
        assert_int_equal(c->firmware.type, VM_FIRMWARE_OVMF);
        assert_string_equal(c->firmware.code, "/usr/share/edk2.git/ovmf-x64/OVMF-pure-efi.fd");
        assert_null(c->vm.extra_args);
        assert_int_equal(c->cpu.sockets, 1);
        assert_int_equal(c->cpu.cores, 4);
        assert_int_equal(c->memory.size, 16ULL << 30);
        assert_string_equal(c->vm.uuid, "11111111-1111-1111-1111-111111111111");
        assert_true(c->vm.rtc_localtime);
        assert_string_equal(c->smbios.bios_date, "01/01/2014");
        assert_string_equal(c->smbios.system_family, "GENERIC");
        assert_int_equal(c->n_disks, 1);
        assert_string_equal(c->disks[0].path, "/dev/zvol/normandy/edi");
        assert_string_equal(c->disks[0].aio, "native");
        assert_string_equal(c->disks[0].cache, "none");
        assert_string_equal(c->disks[0].serial, "1");
        assert_int_equal(c->n_nets, 1);
        assert_int_equal(c->nets[0].type, VM_NET_BRIDGE);
        assert_string_equal(c->nets[0].bridge, "br0");
        assert_string_equal(c->nets[0].mac, "52:54:00:11:22:33");
        assert_int_equal(c->n_gpus, 1);
        assert_string_equal(c->gpus[0].device, "07:00.0");
        assert_string_equal(c->gpus[0].functions[0], "07:00.1");
        assert_int_equal(c->n_pcis, 1);
        assert_string_equal(c->pcis[0].device, "0d:00.0");
        /* Not imported, with the XML's lines: the empty CD-ROM drive and the balloon. */
        assert_true(dropped_at(imp, 43, "<disk type='block' device='cdrom'>"));
        assert_true(dropped_at(imp, 90, "<memballoon model='virtio'>"));
        assert_int_equal(imp->n_dropped, 2);

        args = argv_of(c);
        assert_true(argv_has_prefix(args, "vfio-pci,host=0000:07:00.0,"));
        assert_true(argv_has_prefix(args, "vfio-pci,host=0000:07:00.1,"));
        assert_true(argv_has_prefix(args, "vfio-pci,host=0000:0d:00.0,"));
        assert_true(strv_contains(args, "pc,max-ram-below-4g=1G,vmport=off"));
        assert_true(strv_contains(args, "host,kvm=off"));
        assert_round_trip("seed000", imp);
        assert_goldens(path, imp);
}

static void test_seed001_repaired(void **state)
{
        _cleanup_free_ char *path = data_path("seed001-repaired.xml");
        _cleanup_(vm_libvirt_import_freep) vm_libvirt_import *imp = import_ok(path, 0);
        _cleanup_strv_free_ char **args = NULL;
        vm_config *c = imp->config;

        assert_string_equal(c->name, "overwatch");
        assert_int_equal(c->vm.machine, VM_MACHINE_I440FX);
        assert_true(c->cpu.hyperv);
        assert_string_equal(c->cpu.hyperv_vendor_id, "whatever");
        assert_true(c->cpu.hide_kvm);
        assert_false(c->vm.hpet);
        assert_false(c->vm.vmport);
        assert_int_equal(strv_length(c->cpu.pin), 4);
        assert_string_equal(c->cpu.pin[3], "3");
        assert_string_equal(c->firmware.code, "/usr/share/qemu/OVMF-pure-efi.fd");
        /* The evdev pair from qemu:commandline -object input-linux, plus virtio keyboard and mouse. */
        assert_int_equal(c->n_inputs, 4);
        assert_int_equal(c->inputs[2].type, VM_INPUT_EVDEV);
        assert_string_equal(c->inputs[2].evdev, "/dev/input/event9");
        assert_false(c->inputs[2].grab_all);
        assert_string_equal(c->inputs[3].name, "kbd1");
        assert_true(c->inputs[3].grab_all);
        assert_true(c->inputs[3].repeat);
        /* qemu:env QEMU_AUDIO_DRV=pa and <sound model='ich9'>. */
        assert_true(c->audio.enabled);
        assert_int_equal(c->audio.backend, VM_AUDIO_PA);
        assert_int_equal(c->audio.device, VM_AUDIO_ICH9_HDA);
        assert_int_equal(c->display.device, VM_DISPLAY_STD); /* cirrus -> std VGA */
        assert_string_equal(c->gpus[0].device, "02:00.0");
        /* <timer name='rtc' tickpolicy='catchup'/> and <timer name='pit' tickpolicy='delay'/>. */
        assert_true(c->vm.rtc_catchup);
        assert_true(c->vm.pit_delay);
        assert_false(dropped_at(imp, 37, "<timer"));
        assert_true(dropped_at(imp, 148, "<redirdev"));
        assert_null(c->vm.extra_args);
        args = argv_of(c);
        assert_true(strv_contains(
                args, "host,kvm=off,hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,hv-time,hv-vendor-id=whatever"));
        assert_true(argv_has_prefix(
                args, "input-linux,id=input-kbd1,evdev=/dev/input/event10,grab_all=on,repeat=on"));
        assert_round_trip("seed001", imp);
        assert_goldens(path, imp);
}

static void test_seed001_as_printed(void **state)
{
        _cleanup_free_ char *path = data_path("seed001-as-printed.xml"), *err = NULL, *want = NULL;
        vm_libvirt_import *imp = NULL;

        /* The blog lost its closing tags: refused at the end of the data, naming the open element. */
        assert_int_equal(vm_libvirt_import_file(path, NULL, 0, &imp, &err), -EBADMSG);
        assert_null(imp);
        assert_non_null(err);
        assert_true(asprintf(&want, "%s:116:1: ", path) > 0);
        if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, "seclabel"))
                fail_msg("unexpected message: %s", err);
}

static void test_malformed(void **state)
{
        static const struct {
                const char *xml, *want;
        } cases[] = {
                { "<domain type='kvm'>\n  <name>x</name>\n  <memory unit='KiB'>1</memory\n</domain>\n",
                  "t.xml:4:1: " },
                { "<domain type='kvm'>\n<name>x</nam>\n</domain>\n",
                  "t.xml:2:14: Opening and ending tag mismatch" },
                { "", "t.xml:1:1: " },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *err = NULL;
                vm_libvirt_import *imp = NULL;

                assert_int_equal(vm_libvirt_import_string(cases[i].xml, strlen(cases[i].xml), "t.xml", NULL,
                                                          0, &imp, &err),
                                 -EBADMSG);
                if (!err || strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
                        fail_msg("case %zu: got '%s', want a message starting '%s'", i, err ? err : "(none)",
                                 cases[i].want);
        }
}

static void test_bad_values(void **state)
{
        static const struct {
                const char *xml, *want;
        } cases[] = {
                { "<domain type='kvm'><name>x</name>\n<memory unit='XB'>4</memory><os><type>hvm</type></os></domain>",
                  "t.xml:2: <memory unit='XB'>4</memory>: not a size" },
                { "<domain type='kvm'><name>x</name><memory>4194304</memory>\n<os><type arch='aarch64'>hvm</type></os></domain>",
                  "t.xml:2: <type arch='aarch64'>" },
                { "<domain type='xen'><name>x</name><memory>4194304</memory><os><type>hvm</type></os></domain>",
                  "t.xml:1: <domain type='xen'>" },
                { "<domain type='kvm'><name>x</name><memory>4194304</memory><os><type>hvm</type></os>\n<devices>\n"
                  "<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0x1ff' slot='0' function='0'/></source></hostdev></devices></domain>",
                  "t.xml:3: <hostdev type='pci'> source address bus='0x1ff'" },
                { "<config/>", "t.xml:1: the root element is <config>" },
                /* Values the config would refuse are refused here, at the device's line. */
                { "<domain type='kvm'><name>x</name><memory>4194304</memory><os><type>hvm</type></os>\n<devices>\n"
                  "<interface type='user'><mac address='52:54:00:zz:0d:6c'/></interface></devices></domain>",
                  "t.xml:3: [net \"net0\"] mac: '52:54:00:zz:0d:6c' is not valid" },
                { "<domain type='kvm'><name>x</name><uuid>not-a-uuid</uuid><memory>4194304</memory><os><type>hvm</type></os></domain>",
                  "t.xml:1: [vm] uuid: 'not-a-uuid' is not valid" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *err = NULL;
                vm_libvirt_import *imp = NULL;

                assert_int_equal(vm_libvirt_import_string(cases[i].xml, strlen(cases[i].xml), "t.xml", NULL,
                                                          0, &imp, &err),
                                 -EINVAL);
                if (!err || strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
                        fail_msg("case %zu: got '%s', want a message starting '%s'", i, err ? err : "(none)",
                                 cases[i].want);
        }
}

/* libvirt's units: binary and decimal, any case; rounded up to whole MiB as libvirt does. */
static void test_units(void **state)
{
        static const struct {
                const char *mem;
                uint64_t want;
        } cases[] = {
                { "<memory unit='GiB'>16</memory>", 16ULL << 30 },
                { "<memory unit='g'>2</memory>", 2ULL << 30 },
                { "<memory unit='M'>4096</memory>", 4096ULL << 20 },
                { "<memory unit='MB'>4096</memory>", 3907ULL << 20 },
                { "<memory>219100</memory>", 214ULL << 20 },
                { "<memory unit='bytes'>1073741824</memory>", 1ULL << 30 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(vm_libvirt_import_freep) vm_libvirt_import *imp = NULL;
                _cleanup_free_ char *xml = NULL, *err = NULL;

                assert_true(asprintf(&xml,
                                     "<domain type='kvm'><name>u</name>%s<os><type>hvm</type></os></domain>",
                                     cases[i].mem) > 0);
                if (vm_libvirt_import_string(xml, strlen(xml), "t.xml", NULL, 0, &imp, &err) < 0)
                        fail_msg("%s: %s", cases[i].mem, err);
                assert_int_equal(imp->config->memory.size, cases[i].want);
        }
}

/* No entity is substituted and nothing outside the document is read (XML_PARSE_NOENT is off). */
static void test_no_entities(void **state)
{
        static const char xml[] =
                "<!DOCTYPE domain [<!ENTITY e SYSTEM 'file:///etc/hostname'><!ENTITY b 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'>]>\n"
                "<domain type='kvm'><name>n&e;</name><memory>4194304</memory><os><type>hvm</type></os><description>&b;&b;&b;</description></domain>";
        _cleanup_(vm_libvirt_import_freep) vm_libvirt_import *imp = NULL;
        _cleanup_free_ char *err = NULL;

        assert_int_equal(vm_libvirt_import_string(xml, strlen(xml), "t.xml", NULL, 0, &imp, &err), 0);
        assert_string_equal(imp->config->name, "n");
}

/* Unknown elements and attributes are listed with their lines, not lost. */
static void test_unknown_listed(void **state)
{
        static const char xml[] =
                "<domain type='kvm'>\n<name>u</name>\n<memory>4194304</memory>\n"
                "<os><type>hvm</type></os>\n<frobnicate/>\n<vcpu placement='static' wibble='1'>2</vcpu>\n"
                "<devices><watchdog model='itco' action='reset'/></devices>\n"
                "</domain>";
        _cleanup_(vm_libvirt_import_freep) vm_libvirt_import *imp = NULL;
        _cleanup_free_ char *err = NULL;

        assert_int_equal(vm_libvirt_import_string(xml, strlen(xml), "t.xml", NULL, 0, &imp, &err), 0);
        assert_true(dropped_at(imp, 5, "<frobnicate/>"));
        assert_true(dropped_at(imp, 6, "wibble='1' on <vcpu>"));
        assert_true(dropped_at(imp, 7, "<watchdog model='itco' action='reset'/>"));
        assert_int_equal(imp->n_dropped, 3);
}

/* Untranslatable qemu:commandline arguments are listed, and kept only when asked. */
static void test_keep_unknown_args(void **state)
{
        static const char xml[] =
                "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
                "<name>k</name><memory>4194304</memory><os><type>hvm</type></os>\n<qemu:commandline>\n"
                "<qemu:arg value='-acpitable'/><qemu:arg value='file=/x/SSDT1.dat'/>\n"
                "<qemu:arg value='-cpu'/><qemu:arg value='host,kvm=off,hv_vendor_id=null,-hypervisor'/>\n"
                "</qemu:commandline></domain>";
        _cleanup_(vm_libvirt_import_freep) vm_libvirt_import *a = NULL, *b = NULL;
        _cleanup_free_ char *err = NULL;

        /* -acpitable has no key: an error at its line; the -cpu translates whole (-hypervisor is a feature).
         */
        assert_int_equal(vm_libvirt_import_string(xml, strlen(xml), "t.xml", NULL, 0, &a, &err), -EINVAL);
        assert_null(a);
        if (!err || strncmp(err, "t.xml:4: <qemu:arg> -acpitable file=/x/SSDT1.dat: ", 49) != 0 ||
            strstr(err, "-cpu"))
                fail_msg("unexpected message: %s", err ? err : "(none)");
        assert_int_equal(vm_libvirt_import_string(xml, strlen(xml), "t.xml", NULL,
                                                  VM_LIBVIRT_KEEP_UNKNOWN_ARGS, &b, &err),
                         0);
        assert_int_equal(strv_length(b->config->vm.extra_args), 2);
        assert_string_equal(b->config->vm.extra_args[0], "-acpitable");
        assert_string_equal(b->config->vm.extra_args[1], "file=/x/SSDT1.dat");
        assert_int_equal(b->n_dropped, 0);
        assert_true(b->config->cpu.hide_kvm);
        assert_string_equal(b->config->cpu.hyperv_vendor_id, "null");
        assert_true(strv_contains(b->config->cpu.features, "-hypervisor"));
}

/* ---- issue 18: nothing lost silently ------------------------------------------------------------- */

/* Imports XML written for a test; on failure returns the error in *ret_err (or fails when want_ok). */
static vm_libvirt_import *import_text(const char *xml, unsigned flags, int *ret_r, char **ret_err)
{
        vm_libvirt_import *imp = NULL;
        char *err = NULL;
        int r = vm_libvirt_import_string(xml, strlen(xml), "t.xml", NULL, flags, &imp, &err);

        if (ret_r)
                *ret_r = r;
        else if (r < 0)
                fail_msg("import failed (%d): %s\n%s", r, err ? err : "", xml);
        if (ret_err)
                *ret_err = err;
        else
                free(err);
        return imp;
}

/* The argv element right after option opt whose text starts with prefix, or NULL. */
static const char *argv_value(char **args, const char *opt, const char *prefix)
{
        for (size_t i = 0; args && args[i] && args[i + 1]; i++)
                if (!strcmp(args[i], opt) && !strncmp(args[i + 1], prefix, strlen(prefix)))
                        return args[i + 1];
        return NULL;
}

static void assert_argv_value(char **args, const char *opt, const char *prefix, const char *const *has)
{
        const char *v = argv_value(args, opt, prefix);
        _cleanup_free_ char *all = strv_join(args, " ");

        if (!v)
                fail_msg("no %s %s... in the argv:\n%s", opt, prefix, all);
        for (; has && *has; has++)
                if (!strstr(v, *has))
                        fail_msg("%s %s has no '%s'", opt, v, *has);
}

static bool listed(const vm_libvirt_import *imp, bool dropped, const char *what)
{
        const vm_libvirt_item *items = dropped ? imp->dropped : imp->ignored;
        size_t n = dropped ? imp->n_dropped : imp->n_ignored;

        for (size_t i = 0; i < n; i++)
                if (strstr(items[i].what, what) || strstr(items[i].reason, what))
                        return true;
        return false;
}

#define DOMAIN_HEAD                                                                                     \
        "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"         /* 1 */ \
        "<name>t</name><memory unit='GiB'>4</memory><vcpu>2</vcpu>\n"                           /* 2 */ \
        "<os><type arch='x86_64' machine='q35'>hvm</type></os><cpu mode='host-passthrough'/>\n" /* 3 */

/* Passed-through devices and the RTC given as QEMU arguments reach the argv, with their options. */
static void test_commandline_passthrough(void **state)
{
        static const char xml[] = DOMAIN_HEAD
                "<qemu:commandline>\n"
                "<qemu:arg value='-device'/><qemu:arg value='vfio-pci,host=0a:00.0,bus=pcie.0,addr=0x10.0x0,multifunction=on,x-vga=on,romfile=/var/lib/libvirt/vbios/gtx1080.rom'/>\n"
                "<qemu:arg value='-device'/><qemu:arg value='vfio-pci,host=0a:00.1,bus=pcie.0,addr=0x10.0x1'/>\n"
                "<qemu:arg value='-device'/><qemu:arg value='vfio-pci,host=0000:0c:00.0,rombar=0,bootindex=1'/>\n"
                "<qemu:arg value='-device'/><qemu:arg value='vfio-pci,sysfsdev=/sys/bus/pci/devices/0000:0d:00.0'/>\n"
                "<qemu:arg value='-device'/><qemu:arg value='usb-host,vendorid=0x046d,productid=0xc52b'/>\n"
                "<qemu:arg value='-device'/><qemu:arg value='usb-host,hostbus=3,hostport=2.1'/>\n"
                "<qemu:arg value='-rtc'/><qemu:arg value='base=localtime,driftfix=slew'/>\n"
                "</qemu:commandline></domain>\n";
        _cleanup_(vm_libvirt_import_freep) vm_libvirt_import *imp = import_text(xml, 0, NULL, NULL);
        _cleanup_strv_free_ char **args = argv_of(imp->config);

        for (size_t i = 0; i < imp->n_dropped; i++)
                fail_msg("line %u: %s: %s was dropped", imp->dropped[i].line, imp->dropped[i].what,
                         imp->dropped[i].reason);
        assert_argv_value(args, "-device", "vfio-pci,host=0000:0a:00.0,",
                          (const char *const[]){ "multifunction=on", "x-vga=on",
                                                 "romfile=/var/lib/libvirt/vbios/gtx1080.rom", NULL });
        assert_argv_value(args, "-device", "vfio-pci,host=0000:0a:00.1,", NULL);
        assert_argv_value(args, "-device", "vfio-pci,host=0000:0c:00.0,",
                          (const char *const[]){ "rombar=0", "bootindex=1", NULL });
        assert_argv_value(args, "-device", "vfio-pci,host=0000:0d:00.0,", NULL);
        assert_argv_value(args, "-device", "usb-host,",
                          (const char *const[]){ "vendorid=0x046d,productid=0xc52b", NULL });
        assert_argv_value(args, "-device", "usb-host,", NULL);
        {
                bool port = false;

                STRV_FOREACH(a, args)
                        port = port || strstr(*a, "hostbus=3,hostport=2.1");
                assert_true(port);
        }
        assert_argv_value(args, "-rtc", "base=localtime", (const char *const[]){ "driftfix=slew", NULL });
}

/* What has no vfioctl meaning is an error naming the argument and its line, unless kept on request. */
static void test_commandline_unknown_is_error(void **state)
{
        static const char xml[] =
                DOMAIN_HEAD "<qemu:commandline>\n"                                                   /* 4 */
                            "<qemu:arg value='-acpitable'/>\n"                                       /* 5 */
                            "<qemu:arg value='file=/x/SSDT1.dat'/>\n"                                /* 6 */
                            "<qemu:arg value='-overcommit'/><qemu:arg value='cpu-pm=on'/>\n"         /* 7 */
                            "<qemu:arg value='-device'/>\n"                                          /* 8 */
                            "<qemu:arg value='vfio-pci,host=0b:00.0,x-pci-sub-vendor-id=0x17aa'/>\n" /* 9 */
                            "</qemu:commandline></domain>\n";
        _cleanup_(vm_libvirt_import_freep) vm_libvirt_import *kept = NULL;
        _cleanup_free_ char *err = NULL;
        vm_libvirt_import *imp;
        int r;

        imp = import_text(xml, 0, &r, &err);
        assert_int_equal(r, -EINVAL);
        assert_null(imp);
        assert_non_null(err);
        if (!strstr(err, "t.xml:5: ") || !strstr(err, "-acpitable file=/x/SSDT1.dat") ||
            !strstr(err, "t.xml:7: ") || !strstr(err, "-overcommit cpu-pm=on") ||
            !strstr(err, "t.xml:8: ") || !strstr(err, "x-pci-sub-vendor-id") ||
            !strstr(err, "--keep-unknown-args"))
                fail_msg("unexpected message: %s", err);
        kept = import_text(xml, VM_LIBVIRT_KEEP_UNKNOWN_ARGS, NULL, NULL);
        assert_int_equal(strv_length(kept->config->vm.extra_args), 6);
        assert_string_equal(kept->config->vm.extra_args[0], "-acpitable");
        assert_string_equal(kept->config->vm.extra_args[5],
                            "vfio-pci,host=0b:00.0,x-pci-sub-vendor-id=0x17aa");
        /* Kept verbatim and listed, each with its line. */
        assert_true(listed(kept, false, "-acpitable"));
        assert_true(listed(kept, false, "-overcommit"));
}

/* -object in JSON syntax (Looking Glass guides), -fw_cfg of OVMF's 64-bit MMIO window, input-linux. */
static void test_commandline_json_objects(void **state)
{
        static const char xml[] =
                "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
                "<name>t</name><memory unit='GiB'>4</memory><vcpu>2</vcpu>\n"
                "<os><type arch='x86_64' machine='q35'>hvm</type><loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader></os><cpu mode='host-passthrough'/>\n"
                "<qemu:commandline>\n"
                "<qemu:arg value='-device'/><qemu:arg value='{\"driver\":\"ivshmem-plain\",\"id\":\"shmem0\",\"memdev\":\"lgmem\"}'/>\n"
                "<qemu:arg value='-object'/><qemu:arg value='{\"qom-type\":\"memory-backend-file\",\"id\":\"lgmem\",\"mem-path\":\"/dev/kvmfr0\",\"size\":33554432,\"share\":true}'/>\n"
                "<qemu:arg value='-fw_cfg'/><qemu:arg value='opt/ovmf/X-PciMmio64Mb,string=65536'/>\n"
                "<qemu:arg value='-object'/><qemu:arg value='{\"qom-type\":\"input-linux\",\"id\":\"kbd1\",\"evdev\":\"/dev/input/by-id/kbd-event-kbd\",\"grab_all\":true,\"repeat\":true}'/>\n"
                "<qemu:arg value='-device'/><qemu:arg value='{\"driver\":\"vfio-pci\",\"host\":\"0000:0e:00.0\"}'/>\n"
                "</qemu:commandline></domain>\n";
        _cleanup_(vm_libvirt_import_freep) vm_libvirt_import *imp = import_text(xml, 0, NULL, NULL);
        _cleanup_strv_free_ char **args = argv_of(imp->config);

        for (size_t i = 0; i < imp->n_dropped; i++)
                fail_msg("line %u: %s: %s was dropped", imp->dropped[i].line, imp->dropped[i].what,
                         imp->dropped[i].reason);
        assert_argv_value(args, "-object", "memory-backend-file,id=looking-glass,",
                          (const char *const[]){ "mem-path=/dev/kvmfr0", "size=32M", "share=on", NULL });
        assert_argv_value(args, "-device", "ivshmem-plain,",
                          (const char *const[]){ "memdev=looking-glass", NULL });
        assert_argv_value(args, "-fw_cfg", "name=opt/ovmf/X-PciMmio64Mb,string=65536", NULL);
        assert_argv_value(args, "-object", "input-linux,",
                          (const char *const[]){ "evdev=/dev/input/by-id/kbd-event-kbd", "grab_all=on",
                                                 "repeat=on", NULL });
        assert_argv_value(args, "-device", "vfio-pci,host=0000:0e:00.0,", NULL);
}

/* A Looking Glass pair QEMU could not share with the client, or half a pair, is refused at its lines. */
static void test_commandline_looking_glass_refused(void **state)
{
        static const char noshare[] = DOMAIN_HEAD
                "<qemu:commandline>\n"                                                               /* 4 */
                "<qemu:arg value='-device'/><qemu:arg value='ivshmem-plain,id=shmem0,memdev=lg'/>\n" /* 5 */
                "<qemu:arg value='-object'/><qemu:arg value='memory-backend-file,id=lg,mem-path=/dev/shm/lg,size=32M'/>\n" /* 6 */
                "</qemu:commandline></domain>\n";
        static const char half[] = DOMAIN_HEAD
                "<qemu:commandline>\n"                                                     /* 4 */
                "<qemu:arg value='-device'/><qemu:arg value='ivshmem-plain,memdev=lg'/>\n" /* 5 */
                "</qemu:commandline></domain>\n";
        _cleanup_free_ char *e1 = NULL, *e2 = NULL;
        int r;

        assert_null(import_text(noshare, 0, &r, &e1));
        assert_int_equal(r, -EINVAL);
        if (!e1 || !strstr(e1, "t.xml:5: <qemu:arg> -device ivshmem-plain") ||
            !strstr(e1, "t.xml:6: <qemu:arg> -object") || !strstr(e1, "without share=on"))
                fail_msg("unexpected message: %s", e1 ? e1 : "(none)");
        assert_null(import_text(half, 0, &r, &e2));
        assert_int_equal(r, -EINVAL);
        if (!e2 || !strstr(e2, "t.xml:5: ") || !strstr(e2, "names no -object memory-backend-file"))
                fail_msg("unexpected message: %s", e2 ? e2 : "(none)");
}

/* <vcpu current> with <vcpus enabled>: libvirt starts the enabled ones; their pins are kept, in order. */
static void test_vcpu_current(void **state)
{
        static const char xml[] =
                "<domain type='kvm'>\n<name>t</name><memory unit='GiB'>4</memory>\n"
                "<vcpu placement='static' current='4'>8</vcpu>\n"
                "<vcpus><vcpu id='0' enabled='yes' hotpluggable='no'/><vcpu id='1' enabled='yes' hotpluggable='no'/>"
                "<vcpu id='2' enabled='no' hotpluggable='yes'/><vcpu id='3' enabled='no' hotpluggable='yes'/>"
                "<vcpu id='4' enabled='yes' hotpluggable='yes'/><vcpu id='5' enabled='yes' hotpluggable='yes'/>"
                "<vcpu id='6' enabled='no' hotpluggable='yes'/><vcpu id='7' enabled='no' hotpluggable='yes'/></vcpus>\n"
                "<cputune><vcpupin vcpu='0' cpuset='2'/><vcpupin vcpu='1' cpuset='3'/><vcpupin vcpu='2' cpuset='4'/>"
                "<vcpupin vcpu='3' cpuset='5'/><vcpupin vcpu='4' cpuset='6'/><vcpupin vcpu='5' cpuset='7'/>"
                "<vcpupin vcpu='6' cpuset='8'/><vcpupin vcpu='7' cpuset='9'/><emulatorpin cpuset='0-1'/></cputune>\n"
                "<os><type arch='x86_64' machine='q35'>hvm</type></os>\n"
                "<cpu mode='host-passthrough'><topology sockets='1' dies='1' cores='4' threads='2'/></cpu>\n"
                "</domain>\n";
        /* Without <vcpus>: current counts from vCPU 0. */
        static const char xml2[] =
                "<domain type='kvm'>\n<name>t</name><memory unit='GiB'>4</memory>\n"
                "<vcpu placement='static' current='3'>4</vcpu>\n"
                "<cputune><vcpupin vcpu='0' cpuset='4'/><vcpupin vcpu='1' cpuset='5'/><vcpupin vcpu='2' cpuset='6'/>"
                "<vcpupin vcpu='3' cpuset='7'/></cputune>\n"
                "<os><type arch='x86_64' machine='q35'>hvm</type></os>\n"
                "<cpu mode='host-passthrough'><topology sockets='1' cores='4' threads='1'/></cpu>\n"
                "</domain>\n";
        _cleanup_(vm_libvirt_import_freep) vm_libvirt_import *imp = import_text(xml, 0, NULL, NULL),
                                                             *imp2 = import_text(xml2, 0, NULL, NULL);
        _cleanup_strv_free_ char **args = argv_of(imp->config), **args2 = argv_of(imp2->config);
        _cleanup_free_ char *pins = NULL, *pins2 = NULL;

        assert_argv_value(args, "-smp", "4,sockets=1,cores=4,threads=2,maxcpus=8", NULL);
        pins = strv_join(imp->config->cpu.pin, " ");
        assert_non_null(pins);
        assert_string_equal(pins, "2 3 6 7");
        assert_int_equal(strv_length(imp->config->cpu.emulator_pin), 2);
        assert_argv_value(args2, "-smp", "3,sockets=1,cores=4,threads=1,maxcpus=4", NULL);
        pins2 = strv_join(imp2->config->cpu.pin, " ");
        assert_non_null(pins2);
        assert_string_equal(pins2, "4 5 6");
}

/* Pins vfioctl cannot keep (some vCPUs pinned, others not) are refused with the reason, not dropped. */
static void test_vcpu_pins_refused(void **state)
{
        static const char xml[] = "<domain type='kvm'>\n<name>t</name><memory unit='GiB'>4</memory>\n"
                                  "<vcpu placement='static'>4</vcpu>\n"
                                  "<cputune><vcpupin vcpu='0' cpuset='2'/>\n" /* 4 */
                                  "<vcpupin vcpu='1' cpuset='3'/></cputune>\n"
                                  "<os><type arch='x86_64'>hvm</type></os></domain>\n";
        _cleanup_free_ char *err = NULL;
        int r;

        assert_null(import_text(xml, 0, &r, &err));
        assert_int_equal(r, -EINVAL);
        if (!err || strncmp(err, "t.xml:4: ", 9) != 0 || !strstr(err, "vCPU 2"))
                fail_msg("unexpected message: %s", err ? err : "(none)");
}

/* A hostdev's boot order (the passed-through NVMe that holds Windows) and a macvtap NIC are kept. */
static void test_hostdev_boot_and_macvtap(void **state)
{
        static const char xml[] =
                "<domain type='kvm'>\n<name>t</name><memory unit='GiB'>4</memory><vcpu>2</vcpu>\n"
                "<os><type arch='x86_64' machine='q35'>hvm</type></os><cpu mode='host-passthrough'/>\n"
                "<devices>\n"
                "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x04' slot='0x00' function='0x0'/></source><boot order='1'/></hostdev>\n"
                "<hostdev mode='subsystem' type='usb' managed='yes'><source><vendor id='0x0781'/><product id='0x5583'/></source><boot order='2'/></hostdev>\n"
                "<interface type='direct'><mac address='52:54:00:5a:f6:e6'/><source dev='enp0s31f6' mode='bridge'/><model type='virtio'/></interface>\n"
                "</devices></domain>\n";
        _cleanup_(vm_libvirt_import_freep) vm_libvirt_import *imp = import_text(xml, 0, NULL, NULL);
        _cleanup_strv_free_ char **args = argv_of(imp->config);

        for (size_t i = 0; i < imp->n_dropped; i++)
                fail_msg("line %u: %s: %s was dropped", imp->dropped[i].line, imp->dropped[i].what,
                         imp->dropped[i].reason);
        assert_argv_value(args, "-device", "vfio-pci,host=0000:04:00.0,",
                          (const char *const[]){ "bootindex=1", NULL });
        assert_argv_value(args, "-device", "usb-host,", (const char *const[]){ "bootindex=2", NULL });
        assert_argv_value(args, "-netdev", "tap,", (const char *const[]){ "fd=", NULL });
        assert_argv_value(args, "-device", "virtio-net-pci,",
                          (const char *const[]){ "mac=52:54:00:5a:f6:e6", NULL });
}

/* The domain as written: Hyper-V flags, CPU flags and the CPU model it has, no more; the rest offered. */
static void test_reproduces_cpu(void **state)
{
        static const char partial[] =
                "<domain type='kvm'>\n<name>t</name><memory unit='GiB'>4</memory><vcpu>2</vcpu>\n"
                "<os><type arch='x86_64' machine='q35'>hvm</type></os>\n"
                "<features><acpi/><hyperv mode='custom'><relaxed state='on'/><vendor_id state='on' value='1234567890ab'/></hyperv></features>\n"
                "<cpu mode='host-passthrough'><feature policy='require' name='topoext'/><feature policy='disable' name='hypervisor'/></cpu>\n"
                "</domain>\n";
        static const char nocpu[] =
                "<domain type='kvm'>\n<name>t</name><memory unit='GiB'>4</memory><vcpu>2</vcpu>\n"
                "<os><type arch='x86_64' machine='q35'>hvm</type></os>\n"
                "<features><acpi/></features>\n"
                "</domain>\n";
        _cleanup_(vm_libvirt_import_freep) vm_libvirt_import *imp = import_text(partial, 0, NULL, NULL),
                                                             *imp2 = import_text(nocpu, 0, NULL, NULL);
        _cleanup_strv_free_ char **args = argv_of(imp->config), **args2 = argv_of(imp2->config);
        const char *cpu = argv_value(args, "-cpu", "host");

        assert_non_null(cpu);
        /* Only what the XML has: hv-relaxed and the vendor id, no hv-vapic/hv-spinlocks/hv-time. */
        assert_non_null(strstr(cpu, "hv-relaxed"));
        assert_non_null(strstr(cpu, "hv-vendor-id=1234567890ab"));
        assert_null(strstr(cpu, "hv-vapic"));
        assert_null(strstr(cpu, "hv-spinlocks"));
        assert_null(strstr(cpu, "hv-time"));
        assert_non_null(strstr(cpu, "topoext=on"));
        assert_non_null(strstr(cpu, "hypervisor=off"));
        for (size_t i = 0; i < imp->n_dropped; i++)
                fail_msg("line %u: %s: %s was dropped", imp->dropped[i].line, imp->dropped[i].what,
                         imp->dropped[i].reason);
        /* vfioctl's recommendation is offered, not applied. */
        assert_true(listed(imp, false, "hyperv = yes"));
        /* No <cpu>: QEMU's default model, as libvirt would start it. */
        assert_non_null(argv_value(args2, "-cpu", "qemu64"));
        assert_null(argv_value(args2, "-cpu", "host"));
}

/* Every error carries the XML line it is about. */
static void test_error_lines(void **state)
{
        static const char uuid[] = "<domain type='kvm'>\n<name>x</name>\n<uuid>not-a-uuid</uuid>\n"
                                   "<memory>4194304</memory><os><type>hvm</type></os></domain>";
        static const char graphics[] = "<domain type='kvm'>\n<name>x</name><memory>4194304</memory>\n"
                                       "<os><type>hvm</type></os>\n<devices>\n"
                                       "<video><model type='none'/></video>\n"
                                       "<graphics type='spice' autoport='yes'/>\n" /* 6 */
                                       "</devices></domain>";
        _cleanup_(vm_libvirt_import_freep) vm_libvirt_import *g = NULL;
        _cleanup_free_ char *err = NULL;
        int r;

        assert_null(import_text(uuid, 0, &r, &err));
        assert_int_equal(r, -EINVAL);
        if (!err || strncmp(err, "t.xml:3: ", 9) != 0)
                fail_msg("uuid: got '%s', want it at line 3", err ? err : "(none)");
        g = import_text(graphics, 0, NULL, NULL);
        assert_true(dropped_at(g, 6, "<graphics"));
}

/* Without <nvram template>, the vars template is the one packaged with the code image. */
static void test_ovmf_vars_pair(void **state)
{
        static const char xml[] =
                "<domain type='kvm'>\n<name>t</name><memory unit='GiB'>4</memory><vcpu>2</vcpu>\n"
                "<os><type arch='x86_64' machine='q35'>hvm</type>"
                "<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>"
                "<nvram>/var/lib/libvirt/qemu/nvram/t_VARS.fd</nvram></os><cpu mode='host-passthrough'/>\n"
                "</domain>\n";
        _cleanup_(vm_libvirt_import_freep) vm_libvirt_import *imp = import_text(xml, 0, NULL, NULL);

        assert_string_equal(vm_qemu_firmware_code(imp->config), "/usr/share/OVMF/OVMF_CODE.fd");
        assert_string_equal(vm_qemu_firmware_vars_template(imp->config), "/usr/share/OVMF/OVMF_VARS.fd");
}

/*
 * Golden files, reviewed in diffs like code: the config an XML imports to (with its list of what was not
 * imported) and the XML that config exports to, in tests/data/libvirt/golden/. VFIOCTL_TEST_REGENERATE=1
 * rewrites them.
 */
static void check_golden(const char *name, const char *suffix, const char *got)
{
        _cleanup_free_ char *path = NULL, *want = NULL;
        _cleanup_close_ int fd = -EBADF;

        assert_true(asprintf(&path, "%s/libvirt/golden/%s%s", getenv("VFIOCTL_TEST_DATA"), name, suffix) >
                    0);
        if (getenv("VFIOCTL_TEST_REGENERATE")) {
                FILE *f = fopen(path, "we");

                assert_non_null(f);
                fputs(got, f);
                assert_int_equal(fclose(f), 0);
                return;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                fail_msg("%s is missing; run with VFIOCTL_TEST_REGENERATE=1 and review it", path);
        assert_int_equal(read_full_fd(fd, 1 << 20, &want, NULL), 0);
        if (strcmp(got, want) != 0)
                fail_msg("%s differs; VFIOCTL_TEST_REGENERATE=1 rewrites it (then review the diff)", path);
}

static void assert_goldens(const char *xml_path, const vm_libvirt_import *imp)
{
        _cleanup_free_ char *base = strdup(strrchr(xml_path, '/') + 1), *header = NULL, *text = NULL,
                            *xml = NULL;
        _cleanup_strv_free_ char **lost = NULL;
        size_t size = 0;
        FILE *f;

        assert_non_null(base);
        base[strlen(base) - 4] = 0; /* .xml */
        f = open_memstream(&header, &size);
        assert_non_null(f);
        fprintf(f, "Imported from %s.xml; not imported (%zu):\n", base, imp->n_dropped);
        for (size_t i = 0; i < imp->n_dropped; i++)
                fprintf(f, "  line %u: %s: %s\n", imp->dropped[i].line, imp->dropped[i].what,
                        imp->dropped[i].reason);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(vm_libvirt_config_text(imp->config, header, &text), 0);
        check_golden(base, ".conf", text);
        assert_int_equal(vm_libvirt_export(imp->config, &xml, &lost), 0);
        check_golden(base, ".export.xml", xml);
}

/*
 * The shared corpus, checked per file against facts read from the XML independently (XPath, not the
 * importer): every passed-through PCI function and USB device, every QEMU argument, the vCPUs libvirt
 * would start, each pin, the memory and the topology must reach the argv (pins: the [cpu] pin list the
 * launcher applies). A file that cannot be imported must fail with the line and reason given here.
 */
typedef struct corpus_fact {
        xmlDocPtr doc;
        xmlXPathContextPtr ctx;
} corpus_fact;

static corpus_fact corpus_open(const char *path)
{
        corpus_fact f = {};

        f.doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        assert_non_null(f.doc);
        f.ctx = xmlXPathNewContext(f.doc);
        assert_non_null(f.ctx);
        xmlXPathRegisterNs(f.ctx, (const xmlChar *)"qemu",
                           (const xmlChar *)"http://libvirt.org/schemas/domain/qemu/1.0");
        return f;
}

static void corpus_close(corpus_fact *f)
{
        xmlXPathFreeContext(f->ctx);
        xmlFreeDoc(f->doc);
}

static xmlNodeSetPtr corpus_nodes(corpus_fact *f, const char *expr, xmlXPathObjectPtr *keep)
{
        *keep = xmlXPathEvalExpression((const xmlChar *)expr, f->ctx);
        assert_non_null(*keep);
        return (*keep)->nodesetval;
}

/* The string value of an XPath expression ("" when nothing matches). */
static char *corpus_str(corpus_fact *f, const char *expr)
{
        xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)expr, f->ctx);
        xmlChar *v;
        char *s;

        assert_non_null(o);
        v = xmlXPathCastToString(o);
        s = strdup(v ? (const char *)v : "");
        xmlFree(v);
        xmlXPathFreeObject(o);
        assert_non_null(s);
        return s;
}

static unsigned long corpus_num(corpus_fact *f, const char *expr, unsigned long dflt)
{
        _cleanup_free_ char *v = corpus_str(f, expr);

        return *v ? strtoul(v, NULL, 0) : dflt;
}

/* The PCI host addresses of every <hostdev type='pci'>, as vfio-pci argv prefixes. */
static char **xml_hostdev_addrs(corpus_fact *f)
{
        xmlXPathObjectPtr o;
        xmlNodeSetPtr ns = corpus_nodes(f, "//devices/hostdev[@type='pci']/source/address", &o);
        char **out = NULL;

        for (int i = 0; ns && i < ns->nodeNr; i++) {
                const char *k[] = { "domain", "bus", "slot", "function" };
                unsigned long v[4] = {};
                char buf[64];

                for (int j = 0; j < 4; j++) {
                        xmlChar *s = xmlGetProp(ns->nodeTab[i], (const xmlChar *)k[j]);

                        v[j] = s ? strtoul((const char *)s, NULL, 0) : 0;
                        xmlFree(s);
                }
                snprintf(buf, sizeof(buf), "vfio-pci,host=%04lx:%02lx:%02lx.%lx,", v[0], v[1], v[2], v[3]);
                assert_int_equal(strv_extend(&out, buf), 0);
        }
        xmlXPathFreeObject(o);
        return out;
}

/* The first argv value of option opt containing every one of needles. */
static bool argv_opt_has(char **args, const char *opt, const char *const *needles)
{
        for (size_t i = 0; args && args[i] && args[i + 1]; i++) {
                bool all = !strcmp(args[i], opt);

                for (const char *const *n = needles; all && *n; n++)
                        all = strstr(args[i + 1], *n) != NULL;
                if (all)
                        return true;
        }
        return false;
}

typedef struct corpus_arg {
        unsigned line;
        char *opt, *value;
} corpus_arg;

/* The <qemu:arg>s as option/value pairs, with the option's line. */
static size_t corpus_args(corpus_fact *f, corpus_arg *out, size_t max)
{
        xmlXPathObjectPtr o;
        xmlNodeSetPtr ns = corpus_nodes(f, "//qemu:commandline/qemu:arg/@value", &o);
        size_t n = 0;

        for (int i = 0; ns && i < ns->nodeNr && n < max; i++) {
                xmlChar *v = xmlNodeGetContent(ns->nodeTab[i]), *w = NULL;

                out[n].line = (unsigned)xmlGetLineNo(ns->nodeTab[i]->parent);
                out[n].opt = strdup((const char *)v);
                out[n].value = NULL;
                if (i + 1 < ns->nodeNr && (w = xmlNodeGetContent(ns->nodeTab[i + 1])) && w[0] != '-') {
                        out[n].value = strdup((const char *)w);
                        i++;
                }
                xmlFree(v);
                xmlFree(w);
                n++;
        }
        xmlXPathFreeObject(o);
        return n;
}

/* Whether vfioctl has a meaning for a QEMU argument (the list), decided here on its own. */
static bool corpus_arg_known(const corpus_arg *a)
{
        static const char *const devices[] = { "vfio-pci,", "usb-host,",  "ivshmem-plain,", "ich9-intel-hda",
                                               "intel-hda", "hda-duplex", "hda-micro",      "hda-output",
                                               "AC97",      NULL };

        if (!a->value)
                return false;
        if (!strcmp(a->opt, "-device")) {
                for (const char *const *d = devices; *d; d++)
                        if (!strncmp(a->value, *d, strlen(*d)))
                                return true;
                return false;
        }
        if (!strcmp(a->opt, "-object"))
                return !strncmp(a->value, "input-linux,", 12) ||
                       !strncmp(a->value, "memory-backend-file,", 20);
        return !strcmp(a->opt, "-cpu") || !strcmp(a->opt, "-machine") || !strcmp(a->opt, "-rtc") ||
               !strcmp(a->opt, "-fw_cfg") || !strcmp(a->opt, "-audiodev");
}

/* What a translated argument must show in the argv. */
static void corpus_assert_arg(const char *file, const corpus_arg *a, char **args)
{
        _cleanup_strv_free_ char **pieces = NULL;
        const char *first;

        assert_int_equal(strv_split(a->value, ",", &pieces), 0);
        first = pieces[0];
        if (!strcmp(a->opt, "-object") && !strcmp(first, "input-linux")) {
                const char *want[4] = { NULL };
                size_t k = 0;

                STRV_FOREACH(p, pieces)
                        if (!strncmp(*p, "evdev=", 6) || !strcmp(*p, "grab_all=on") ||
                            !strcmp(*p, "repeat=on"))
                                want[k++] = *p;
                if (!argv_opt_has(args, "-object", want))
                        fail_msg("%s:%u: -object %s does not reach the argv", file, a->line, a->value);
        } else if (!strcmp(a->opt, "-object")) {
                STRV_FOREACH(p, pieces)
                        if (!strncmp(*p, "mem-path=", 9) &&
                            !argv_opt_has(args, "-object",
                                          (const char *const[]){ "memory-backend-file,id=looking-glass", *p,
                                                                 "share=on", NULL }))
                                fail_msg("%s:%u: -object %s does not reach the argv", file, a->line,
                                         a->value);
        } else if (!strcmp(a->opt, "-device") && !strcmp(first, "ivshmem-plain")) {
                if (!argv_opt_has(args, "-device", (const char *const[]){ "ivshmem-plain,", NULL }))
                        fail_msg("%s:%u: -device %s does not reach the argv", file, a->line, a->value);
        } else if (!strcmp(a->opt, "-device") && (!strncmp(first, "hda-", 4))) {
                if (!argv_opt_has(args, "-device", (const char *const[]){ "hda-", "audiodev=", NULL }))
                        fail_msg("%s:%u: -device %s does not reach the argv", file, a->line, a->value);
        } else if (!strcmp(a->opt, "-device")) {
                if (!argv_opt_has(args, "-device", (const char *const[]){ first, NULL }))
                        fail_msg("%s:%u: -device %s does not reach the argv", file, a->line, a->value);
        } else if (!strcmp(a->opt, "-audiodev")) {
                const char *want[3] = { first, NULL, NULL };

                STRV_FOREACH(p, pieces)
                        if (!strncmp(*p, "server=", 7))
                                want[1] = *p;
                if (!argv_opt_has(args, "-audiodev", want))
                        fail_msg("%s:%u: -audiodev %s does not reach the argv", file, a->line, a->value);
        } else if (!strcmp(a->opt, "-cpu")) {
                /* QEMU keeps the last -cpu: its model and every flag are vfioctl's -cpu. */
                STRV_FOREACH(p, pieces) {
                        _cleanup_free_ char *want = strdup(*p);

                        for (char *c = want; *c; c++)
                                if (*c == '_')
                                        *c = '-';
                        if (want[0] == '-') {
                                free(want);
                                if (asprintf(&want, "%s=off", *p + 1) < 0)
                                        fail();
                        }
                        if (!argv_opt_has(args, "-cpu", (const char *const[]){ want, NULL }))
                                fail_msg("%s:%u: -cpu %s: '%s' is not in the argv's -cpu", file, a->line,
                                         a->value, *p);
                }
        }
}

/* The vCPUs libvirt starts (enabled ones, else current, else all) and their pins, in vCPU order. */
static unsigned corpus_vcpus(corpus_fact *f, char ***ret_pins)
{
        unsigned long max = corpus_num(f, "string(/domain/vcpu)", 1);
        unsigned long cur = corpus_num(f, "string(/domain/vcpu/@current)", max);
        unsigned n = 0;
        char **pins = NULL;

        if (corpus_num(f, "count(/domain/vcpus/vcpu)", 0) > 0)
                cur = corpus_num(f, "count(/domain/vcpus/vcpu[@enabled='yes'])", 0);
        for (unsigned long i = 0; i < max; i++) {
                char expr[160];
                _cleanup_free_ char *pin = NULL;
                bool started;

                snprintf(expr, sizeof(expr), "count(/domain/vcpus/vcpu[@id='%lu' and @enabled='yes'])", i);
                started = corpus_num(f, "count(/domain/vcpus/vcpu)", 0) > 0 ? corpus_num(f, expr, 0) > 0
                                                                            : i < cur;
                if (!started)
                        continue;
                n++;
                snprintf(expr, sizeof(expr), "string(/domain/cputune/vcpupin[@vcpu='%lu']/@cpuset)", i);
                pin = corpus_str(f, expr);
                if (*pin)
                        assert_int_equal(strv_extend(&pins, pin), 0);
        }
        *ret_pins = pins;
        return n;
}

/* A file the importer must refuse: the reason and line it gives (the rest of the checks run with keep). */
typedef struct corpus_refusal {
        const char *file;
        const char *error; /* the start of the message after "PATH:" */
} corpus_refusal;

static const corpus_refusal refusals[] = {
        /* 20 of 24 vCPUs pinned: vfioctl pins all or none, and will not unpin the 20. */
        { "bnunowo-gaming.xml", "20: <cputune> pins some vCPUs but not vCPU 20" },
        /* An Intel GVT-g slice of the iGPU: a passed device vfioctl cannot pass, so no silent drop. */
        { "xseed-win10-2.xml", "192: <hostdev type='mdev'>: a mediated device" },
};

static void test_user_xml(void **state)
{
        const char *path = *state, *file = strrchr(path, '/') + 1;
        _cleanup_free_ char *err = NULL, *mem = NULL, *unit = NULL, *want_smp = NULL, *pins_s = NULL,
                            *want_pins = NULL;
        _cleanup_(vm_libvirt_import_freep) vm_libvirt_import *imp = NULL;
        _cleanup_strv_free_ char **want = NULL, **args = NULL, **pins = NULL;
        corpus_arg qargs[64];
        size_t n_args, n_unknown = 0;
        corpus_fact f;
        unsigned vcpus, sockets, cores, threads, total;
        uint64_t bytes;
        int r;

        r = vm_libvirt_import_file(path, NULL, 0, &imp, &err);
        if (strstr(path, "_broken")) {
                /* Published with markdown notes inside the XML: refused at the stray </features>. */
                _cleanup_free_ char *prefix = NULL;

                assert_int_equal(r, -EBADMSG);
                assert_true(asprintf(&prefix,
                                     "%s:20:14: Opening and ending tag mismatch: domain line 1 and features",
                                     path) > 0);
                if (!err || strcmp(err, prefix) != 0)
                        fail_msg("got '%s'", err ? err : "(none)");
                return;
        }
        for (size_t i = 0; i < ELEMENTSOF(refusals); i++)
                if (!strcmp(file, refusals[i].file)) {
                        _cleanup_free_ char *prefix = NULL;

                        assert_int_equal(r, -EINVAL);
                        assert_true(asprintf(&prefix, "%s:%s", path, refusals[i].error) > 0);
                        if (!err || strncmp(err, prefix, strlen(prefix)) != 0)
                                fail_msg("%s: got '%s', want '%s...'", file, err ? err : "(none)", prefix);
                        print_message("# %s: refused as expected: %s\n", file, err + strlen(path) + 1);
                        return;
                }
        f = corpus_open(path);
        n_args = corpus_args(&f, qargs, ELEMENTSOF(qargs));
        /* Arguments without a vfioctl meaning: the import fails naming each with its line... */
        for (size_t i = 0; i < n_args; i++)
                if (!corpus_arg_known(&qargs[i])) {
                        char at[64];

                        n_unknown++;
                        snprintf(at, sizeof(at), "%s:%u: <qemu:arg> %s", file, qargs[i].line, qargs[i].opt);
                        if (r != -EINVAL || !err || !strstr(err, at))
                                fail_msg(
                                        "%s: %s has no vfioctl meaning: want an error naming it, got %d '%s'",
                                        file, at, r, err ? err : "");
                }
        /* ...and with --keep-unknown-args they are kept verbatim. */
        if (n_unknown) {
                print_message("# %s: %zu QEMU arguments refused without --keep-unknown-args\n", file,
                              n_unknown);
                free(err);
                err = NULL;
                r = vm_libvirt_import_file(path, NULL, VM_LIBVIRT_KEEP_UNKNOWN_ARGS, &imp, &err);
        }
        if (r < 0)
                fail_msg("%s: %s", path, err ? err : strerror(-r));
        for (size_t i = 0; i < imp->n_dropped; i++)
                assert_true(imp->dropped[i].line > 0);
        args = argv_of(imp->config);
        /* Every passed-through PCI function reaches QEMU as vfio-pci with its host address. */
        want = xml_hostdev_addrs(&f);
        STRV_FOREACH(w, want)
                if (!argv_has_prefix(args, *w))
                        fail_msg("%s: no -device %s... in the argv", path, *w);
        /* Every USB device by vendor:product. */
        {
                xmlXPathObjectPtr o;
                xmlNodeSetPtr ns = corpus_nodes(&f, "//devices/hostdev[@type='usb']/source", &o);

                for (int i = 0; ns && i < ns->nodeNr; i++) {
                        char expr[128], buf[64];
                        unsigned long v, p;

                        f.ctx->node = ns->nodeTab[i];
                        v = corpus_num(&f, "string(vendor/@id)", 0);
                        p = corpus_num(&f, "string(product/@id)", 0);
                        snprintf(buf, sizeof(buf), "vendorid=0x%04lx,productid=0x%04lx", v, p);
                        (void)expr;
                        if (!argv_opt_has(args, "-device", (const char *const[]){ "usb-host,", buf, NULL }))
                                fail_msg("%s: USB %s does not reach the argv", file, buf);
                }
                f.ctx->node = NULL;
                xmlXPathFreeObject(o);
        }
        /* Every QEMU argument: translated into the argv, or kept verbatim. */
        for (size_t i = 0; i < n_args; i++) {
                if (corpus_arg_known(&qargs[i]))
                        corpus_assert_arg(file, &qargs[i], args);
                else {
                        bool kept = false;

                        for (size_t k = 0; args[k] && args[k + 1]; k++)
                                kept = kept || (!strcmp(args[k], qargs[i].opt) && qargs[i].value &&
                                                !strcmp(args[k + 1], qargs[i].value));
                        if (!kept && (qargs[i].value || !strv_contains(args, qargs[i].opt)))
                                fail_msg("%s:%u: %s %s is not kept verbatim", file, qargs[i].line,
                                         qargs[i].opt, qargs[i].value ?: "");
                }
                free(qargs[i].opt);
                free(qargs[i].value);
        }
        /* The vCPUs libvirt starts, in the topology libvirt gives them (one socket each without one). */
        vcpus = corpus_vcpus(&f, &pins);
        total = (unsigned)corpus_num(&f, "string(/domain/vcpu)", 1);
        sockets = (unsigned)corpus_num(&f, "string(/domain/cpu/topology/@sockets)", total);
        cores = (unsigned)corpus_num(&f, "string(/domain/cpu/topology/@cores)", 1);
        threads = (unsigned)corpus_num(&f, "string(/domain/cpu/topology/@threads)", 1);
        if (vcpus < total)
                assert_true(asprintf(&want_smp, "%u,sockets=%u,cores=%u,threads=%u,maxcpus=%u", vcpus,
                                     sockets, cores, threads, total) > 0);
        else
                assert_true(asprintf(&want_smp, "%u,sockets=%u,cores=%u,threads=%u", vcpus, sockets, cores,
                                     threads) > 0);
        if (!strv_contains(args, want_smp))
                fail_msg("%s: no -smp %s in the argv", file, want_smp);
        /* Each pin of a started vCPU, in vCPU order (applied by the launcher over QMP). */
        want_pins = pins ? strv_join(pins, " ") : strdup("");
        pins_s = imp->config->cpu.pin ? strv_join(imp->config->cpu.pin, " ") : strdup("");
        if (strcmp(want_pins, pins_s) != 0)
                fail_msg("%s: pins '%s', want '%s'", file, pins_s, want_pins);
        /* Memory: <memory> in whole MiB (rounded down to whole hugepages with hugepages). */
        mem = corpus_str(&f, "string(/domain/memory)");
        unit = corpus_str(&f, "string(/domain/memory/@unit)");
        bytes = strtoull(mem, NULL, 10) * (!*unit || !strcmp(unit, "KiB") || !strcmp(unit, "k") ? 1024ULL
                                           : !strcmp(unit, "MiB") || !strcmp(unit, "M")         ? 1ULL << 20
                                           : !strcmp(unit, "GiB") || !strcmp(unit, "G")         ? 1ULL << 30
                                                                                                : 0);
        assert_true(bytes > 0);
        bytes = (bytes + (1ULL << 20) - 1) & ~((1ULL << 20) - 1);
        if (corpus_num(&f, "count(/domain/memoryBacking/hugepages)", 0) > 0)
                bytes -= bytes %
                         (corpus_num(&f, "string(/domain/memoryBacking/hugepages/page/@size)", 2048) << 10);
        {
                char m[32];

                if (bytes % (1ULL << 30) == 0)
                        snprintf(m, sizeof(m), "%" PRIu64 "G", bytes >> 30);
                else
                        snprintf(m, sizeof(m), "%" PRIu64 "M", bytes >> 20);
                if (!argv_value(args, "-m", m) || strcmp(argv_value(args, "-m", m), m) != 0)
                        fail_msg("%s: no -m %s in the argv", file, m);
        }
        print_message(
                "# %s: %zu PCI functions, %u of %u vCPUs, %zu pins, %zu QEMU arguments, %zu parts not imported\n",
                file, strv_length(want), vcpus, total, strv_length(pins), n_args, imp->n_dropped);
        corpus_close(&f);
        assert_round_trip(path, imp);
        assert_goldens(path, imp);
}

/* The tool: --strict refuses what would be dropped; --dry-run writes nothing and prints the config. */
static int run_tool(const char *const extra[], char **ret_out)
{
        const char *bin = getenv("VFIOCTL_BIN");
        char *argv[16] = { (char *)bin };
        int fds[2], status;
        size_t n = 1;
        pid_t pid;

        assert_non_null(bin);
        for (size_t i = 0; extra[i] && n < 15; i++)
                argv[n++] = (char *)extra[i];
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

                dup2(fds[1], 1);
                dup2(devnull, 2);
                execv(bin, argv);
                _exit(127);
        }
        close(fds[1]);
        assert_true(read_full_fd(fds[0], 1 << 20, ret_out, NULL) >= 0);
        close(fds[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * The VM's sound and Looking Glass where libvirt can say them: the grant socket as <audio serverName>,
 * server = none as <audio type='none'>, kvmfr through qemu:commandline; back in, the socket is the server
 * path and the kvmfr memory is device = kvmfr.
 */
static void test_audio_and_looking_glass_round_trip(void **state)
{
        static const char conf[] = "[vm]\nuser = vfvm\ndesktop_user = alice\n[audio]\n"
                                   "[looking-glass]\ndevice = kvmfr\n";
        _cleanup_(vm_config_freep) vm_config *c = NULL, *none = NULL;
        _cleanup_(vm_libvirt_import_freep) vm_libvirt_import *back = NULL;
        _cleanup_strv_free_ char **errors = NULL, **lost = NULL;
        _cleanup_free_ char *xml = NULL, *err = NULL;

        assert_int_equal(vm_config_parse_string(conf, "t.conf", "t", &c, &errors), 0);
        assert_int_equal(vm_libvirt_export(c, &xml, &lost), 0);
        assert_non_null(strstr(
                xml, "<audio id=\"1\" type=\"pulseaudio\" serverName=\"/run/vfioctl-audio/vfvm/native\"/>"));
        assert_non_null(strstr(xml, "mem-path=/dev/kvmfr0,size=32M,share=yes"));
        assert_int_equal(vm_libvirt_import_string(xml, strlen(xml), "x.xml", NULL, 0, &back, &err), 0);
        assert_string_equal(back->config->audio.server, "/run/vfioctl-audio/vfvm/native");
        assert_int_equal(back->config->looking_glass.device, VM_LG_KVMFR);
        assert_string_equal(vm_looking_glass_path(back->config), "/dev/kvmfr0");
        free(xml);
        xml = NULL;
        lost = strv_free(lost);
        assert_int_equal(vm_config_parse_string("[vm]\ndesktop_user = alice\n[audio]\nserver = none\n",
                                                "n.conf", "n", &none, &errors),
                         0);
        assert_int_equal(vm_libvirt_export(none, &xml, &lost), 0);
        assert_non_null(strstr(xml, "<audio id=\"1\" type=\"none\"/>"));
}

static void test_tool(void **state)
{
        _cleanup_free_ char *seed = data_path("seed000-edi.xml"),
                            *broken = data_path("seed001-as-printed.xml");
        _cleanup_free_ char *o1 = NULL, *o2 = NULL, *o3 = NULL;

        assert_int_equal(
                run_tool((const char *const[]){ "import-libvirt", "--strict", "--dry-run", seed, NULL },
                         &o1),
                65);
        assert_int_equal(run_tool((const char *const[]){ "import-libvirt", "--dry-run", seed, NULL }, &o2),
                         0);
        assert_non_null(strstr(o2, "#   line 90: <memballoon model='virtio'>"));
        assert_non_null(strstr(o2, "max_ram_below_4g = 1G\n"));
        assert_int_equal(run_tool((const char *const[]){ "import-libvirt", "--dry-run", broken, NULL }, &o3),
                         65);
}

/* The CLI round trip: import -o FILE.conf, then export-libvirt that file; no overwrite without --force. */
static void test_tool_export(void **state)
{
        _cleanup_free_ char *seed = data_path("seed001-repaired.xml"), *conf = NULL, *xml = NULL, *o1 = NULL,
                            *o2 = NULL, *o3 = NULL, *o4 = NULL, *text = NULL;
        char dir[] = "/tmp/vfioctl-test-XXXXXX";
        _cleanup_close_ int fd = -EBADF;

        assert_non_null(mkdtemp(dir));
        assert_true(asprintf(&conf, "%s/overwatch.conf", dir) > 0);
        assert_true(asprintf(&xml, "%s/overwatch.xml", dir) > 0);
        assert_int_equal(run_tool((const char *const[]){ "import-libvirt", "-o", conf, seed, NULL }, &o1),
                         0);
        assert_int_equal(run_tool((const char *const[]){ "import-libvirt", "-o", conf, seed, NULL }, &o2),
                         1);
        assert_int_equal(run_tool((const char *const[]){ "export-libvirt", "-o", xml, conf, NULL }, &o3), 0);
        fd = open(xml, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(read_full_fd(fd, 1 << 20, &text, NULL), 0);
        assert_non_null(strstr(text, "<vendor_id state=\"on\" value=\"whatever\"/>"));
        assert_non_null(strstr(text, "<source dev=\"/dev/input/event10\" grab=\"all\" repeat=\"on\"/>"));
        assert_int_equal(run_tool((const char *const[]){ "export-libvirt", "-o", xml, conf, NULL }, &o4), 1);
        unlink(conf);
        unlink(xml);
        rmdir(dir);
}

/* The copies in tests/data/libvirt/users/ are the shared files byte for byte (when shared/ is beside us). */
static void test_users_match_shared(void **state)
{
        _cleanup_free_ char *shared = NULL;
        struct dirent **ents = NULL;
        int n;

        assert_true(asprintf(&shared, "%s/../../../shared/libvirt-xml", getenv("VFIOCTL_TEST_DATA")) > 0);
        n = scandir(shared, &ents, NULL, alphasort);
        assert_true(n > 0); /* main() only runs this test when shared/ is beside the checkout */
        for (int i = 0; i < n; i++) {
                const char *name = ents[i]->d_name;
                size_t l = strlen(name);

                if (l > 4 && strcmp(name + l - 4, ".xml") == 0) {
                        _cleanup_free_ char *a = NULL, *b = NULL, *pa = NULL, *pb = NULL;
                        _cleanup_close_ int fa = -EBADF, fb = -EBADF;
                        size_t na = 0, nb = 0;

                        assert_true(asprintf(&pa, "%s/%s", shared, name) > 0);
                        assert_true(asprintf(&pb, "%s/libvirt/users/%s", getenv("VFIOCTL_TEST_DATA"), name) >
                                    0);
                        fa = open(pa, O_RDONLY | O_CLOEXEC);
                        fb = open(pb, O_RDONLY | O_CLOEXEC);
                        if (fb < 0)
                                fail_msg("%s is in shared/ but not copied to %s", name, pb);
                        assert_true(fa >= 0);
                        assert_int_equal(read_full_fd(fa, 1 << 20, &a, &na), 0);
                        assert_int_equal(read_full_fd(fb, 1 << 20, &b, &nb), 0);
                        if (na != nb || memcmp(a, b, na) != 0)
                                fail_msg("%s differs from %s", pb, pa);
                }
                free(ents[i]);
        }
        free(ents);
}

int main(void)
{
        const char *data = getenv("VFIOCTL_TEST_DATA");
        static struct CMUnitTest tests[64];
        static char *paths[40];
        struct dirent **ents = NULL;
        _cleanup_free_ char *users = NULL;
        size_t n = 0, n_users = 0;
        int k;

        if (!data || !getenv("VFIOCTL_BIN")) {
                fprintf(stderr, "VFIOCTL_TEST_DATA and VFIOCTL_BIN must be set (meson test does)\n");
                return 1;
        }
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_seed000);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_seed001_repaired);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_seed001_as_printed);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_malformed);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_bad_values);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_no_entities);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_units);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_unknown_listed);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_keep_unknown_args);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_commandline_passthrough);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_commandline_unknown_is_error);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_commandline_json_objects);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_commandline_looking_glass_refused);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_vcpu_current);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_vcpu_pins_refused);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_hostdev_boot_and_macvtap);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_reproduces_cpu);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_error_lines);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_ovmf_vars_pair);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_audio_and_looking_glass_round_trip);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_tool);
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_tool_export);
        {
                /* cmocka's skip() prints "not ok # SKIP", which TAP readers count as a failure: run the
                 * comparison only where shared/ is beside the checkout (CI), and say so otherwise. */
                char *shared = NULL;

                if (asprintf(&shared, "%s/../../../shared/libvirt-xml", data) < 0)
                        return 1;
                if (access(shared, R_OK) == 0)
                        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_users_match_shared);
                else
                        printf("# %s is not here (CI has it beside the checkout): copies not compared\n",
                               shared);
                free(shared);
        }
        if (asprintf(&users, "%s/libvirt/users", data) < 0)
                return 1;
        k = scandir(users, &ents, NULL, alphasort);
        for (int i = 0; i < k; i++) {
                size_t l = strlen(ents[i]->d_name);

                if (l > 4 && strcmp(ents[i]->d_name + l - 4, ".xml") == 0 && n_users < ELEMENTSOF(paths)) {
                        if (asprintf(&paths[n_users], "%s/%s", users, ents[i]->d_name) < 0)
                                return 1;
                        tests[n++] = (struct CMUnitTest){ .name = strrchr(paths[n_users], '/') + 1,
                                                          .test_func = test_user_xml,
                                                          .initial_state = paths[n_users] };
                        n_users++;
                }
                free(ents[i]);
        }
        free(ents);
        /* The 25 published files must all be there: a missing one is a broken checkout, not a pass. */
        if (n_users != 25) {
                fprintf(stderr, "%s holds %zu domain XMLs, expected 25\n", users, n_users);
                return 1;
        }
        return _cmocka_run_group_tests("libvirt-xml", tests, n, NULL, NULL);
}
