/*
 * libvirt domain XML import and export: the seeds' XMLs, 25 users' published XMLs (one broken as
 * published), what is reported as not imported, and import -> export -> import stability.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
        if (vm_libvirt_import_string(xml, strlen(xml), "exported.xml", NULL, 0, &again, &err) < 0)
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
                  "t.xml: [vm] uuid: 'not-a-uuid' is not valid" },
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

        assert_int_equal(vm_libvirt_import_string(xml, strlen(xml), "t.xml", NULL, 0, &a, &err), 0);
        assert_true(dropped_at(a, 4, "-acpitable file=/x/SSDT1.dat"));
        assert_true(dropped_at(a, 5, "'-hypervisor'"));
        assert_null(a->config->vm.extra_args);
        assert_true(a->config->cpu.hide_kvm);
        assert_string_equal(a->config->cpu.hyperv_vendor_id, "null");
        assert_int_equal(vm_libvirt_import_string(xml, strlen(xml), "t.xml", NULL,
                                                  VM_LIBVIRT_KEEP_UNKNOWN_ARGS, &b, &err),
                         0);
        assert_int_equal(strv_length(b->config->vm.extra_args), 2);
        assert_string_equal(b->config->vm.extra_args[0], "-acpitable");
        assert_false(dropped_at(b, 4, "-acpitable"));
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

/* The PCI host addresses of every <hostdev type='pci'>, read independently with XPath. */
static char **xml_hostdev_addrs(const char *path)
{
        xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        xmlXPathContextPtr ctx;
        xmlXPathObjectPtr res;
        char **out = NULL;

        assert_non_null(doc);
        ctx = xmlXPathNewContext(doc);
        res = xmlXPathEvalExpression((const xmlChar *)"//devices/hostdev[@type='pci']/source/address", ctx);
        for (int i = 0; res && res->nodesetval && i < res->nodesetval->nodeNr; i++) {
                xmlNode *n = res->nodesetval->nodeTab[i];
                const char *f[] = { "domain", "bus", "slot", "function" };
                unsigned long v[4] = {};
                char buf[64];

                for (int k = 0; k < 4; k++) {
                        xmlChar *s = xmlGetProp(n, (const xmlChar *)f[k]);

                        v[k] = s ? strtoul((const char *)s, NULL, 0) : 0;
                        xmlFree(s);
                }
                snprintf(buf, sizeof(buf), "vfio-pci,host=%04lx:%02lx:%02lx.%lx,", v[0], v[1], v[2], v[3]);
                assert_int_equal(strv_extend(&out, buf), 0);
        }
        xmlXPathFreeObject(res);
        xmlXPathFreeContext(ctx);
        xmlFreeDoc(doc);
        return out;
}

static void test_user_xml(void **state)
{
        const char *path = *state;
        _cleanup_free_ char *err = NULL;
        _cleanup_(vm_libvirt_import_freep) vm_libvirt_import *imp = NULL;
        _cleanup_strv_free_ char **want = NULL, **args = NULL;
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
        if (r < 0)
                fail_msg("%s: %s", path, err ? err : strerror(-r));
        for (size_t i = 0; i < imp->n_dropped; i++)
                assert_true(imp->dropped[i].line > 0 || strcmp(imp->dropped[i].what, "<graphics>") == 0);
        /* Every passed-through PCI function reaches QEMU as vfio-pci with its host address. */
        want = xml_hostdev_addrs(path);
        args = argv_of(imp->config);
        STRV_FOREACH(w, want)
                if (!argv_has_prefix(args, *w))
                        fail_msg("%s: no -device %s... in the argv", path, *w);
        print_message("# %s: %zu PCI functions, %zu parts not imported\n", strrchr(path, '/') + 1,
                      strv_length(want), imp->n_dropped);
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
