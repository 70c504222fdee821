/*
 * The one config writer (vm_config_write): every key it knows is written, what it writes parses back to
 * the same config (with and without the guide of `vfioctl create`), and a value no line can hold is
 * refused, so neither the writer nor a libvirt import can slip a key or a section into a file.
 */
#include <dirent.h>
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

#include "cleanup.h"
#include "strv.h"
#include "vfioctl/libvirt-xml.h"
#include "vfioctl/vmconf.h"

static vm_config *parse_ok(const char *text, const char *label)
{
        vm_config *c = NULL;
        char **errors = NULL;

        if (vm_config_parse_string(text, label, "t", &c, &errors) < 0) {
                char *j = strv_join(errors, "\n");

                fail_msg("%s does not parse:\n%s\n--- text ---\n%s", label, j, text);
        }
        return c;
}

static char *write_ok(const vm_config *c, unsigned flags)
{
        char *t = NULL;

        assert_int_equal(vm_config_write(c, flags, NULL, &t), 0);
        return t;
}

/* Written, read back and written again: the same text; the guide's text reads back to the same too. */
static char *assert_round_trip(const char *text, const char *label)
{
        _cleanup_(vm_config_freep) vm_config *c = parse_ok(text, label), *back = NULL, *guided = NULL;
        _cleanup_free_ char *again = NULL, *guide = NULL, *from_guide = NULL;
        char *t1 = write_ok(c, 0);

        back = parse_ok(t1, "written.conf");
        again = write_ok(back, 0);
        if (strcmp(t1, again) != 0)
                fail_msg("%s: written, read back and written again differs:\n%s\n--- again ---\n%s", label,
                         t1, again);
        guide = write_ok(c, VM_CONFIG_WRITE_GUIDE);
        guided = parse_ok(guide, "guide.conf");
        from_guide = write_ok(guided, 0);
        if (strcmp(t1, from_guide) != 0)
                fail_msg("%s: the guide's text reads back different:\n%s\n--- from the guide ---\n%s", label,
                         t1, from_guide);
        return t1;
}

static void round_trip_dir(const char *dir, size_t *count)
{
        struct dirent **ents = NULL;
        int n = scandir(dir, &ents, NULL, alphasort);

        assert_true(n >= 0);
        for (int i = 0; i < n; i++) {
                size_t l = strlen(ents[i]->d_name);

                if (l > 5 && strcmp(ents[i]->d_name + l - 5, ".conf") == 0) {
                        _cleanup_(vm_config_freep) vm_config *c = NULL;
                        _cleanup_strv_free_ char **errors = NULL;
                        _cleanup_free_ char *path = NULL, *t = NULL, *text = NULL, *err = NULL;

                        assert_true(asprintf(&path, "%s/%s", dir, ents[i]->d_name) > 0);
                        /* NAME.err: a config the argv goldens expect to be refused. */
                        assert_true(asprintf(&err, "%s/%.*s.err", dir, (int)(l - 5), ents[i]->d_name) > 0);
                        if (access(err, F_OK) == 0) {
                                free(ents[i]);
                                continue;
                        }
                        assert_int_equal(vm_config_load(path, &c, &errors), 0);
                        text = write_ok(c, 0);
                        t = assert_round_trip(text, path);
                        (*count)++;
                }
                free(ents[i]);
        }
        free(ents);
}

/* Every config of the argv goldens, the examples and the libvirt import goldens. */
static void test_every_golden_config_round_trips(void **state)
{
        const char *data = getenv("VFIOCTL_TEST_DATA"), *examples = getenv("VFIOCTL_EXAMPLES");
        _cleanup_free_ char *vm = NULL, *lv = NULL;
        size_t count = 0;

        assert_non_null(data);
        assert_non_null(examples);
        assert_true(asprintf(&vm, "%s/vm", data) > 0);
        assert_true(asprintf(&lv, "%s/libvirt/golden", data) > 0);
        round_trip_dir(vm, &count);
        round_trip_dir(examples, &count);
        round_trip_dir(lv, &count);
        assert_true(count >= 40);
}

/* Between them, every key of vfioctl.conf(5) set to something other than its default. */
static const char *const everything[] = {
        "[vm]\nemulator = /usr/bin/qemu-system-x86_64\nos = windows\nmachine = q35\naccel = tcg\n"
        "max_ram_below_4g = 1G\nspare_root_ports = 2\nuuid = 11111111-2222-3333-4444-555555555555\n"
        "rtc_localtime = no\nrtc_catchup = no\npit_delay = no\nhpet = yes\nvmport = yes\n"
        "debugcon = /tmp/ovmf.log\nextra_args = -device virtio-rng-pci\nkernel = /boot/k\ninitrd = /boot/i\n"
        "append = console=ttyS0 quiet\nuser = alice\nbind_devices = yes\ndesktop_user = carol\n"
        "[firmware]\ntype = ovmf\nsecure_boot = yes\ncode = /fw/code.fd\nvars_template = /fw/vars.fd\n"
        "vars = /fw/my-vars.fd\nmmio64_size = 64G\n"
        "[tpm]\nsocket = /run/swtpm.sock\n"
        "[cpu]\nmodel = max\nsockets = 1\ncores = 2\nthreads = 2\nhide_kvm = yes\nhyperv = yes\n"
        "hyperv_vendor_id = vfioctl\nhyperv_extra = hv-vpindex hv-synic\nfeatures = +topoext -hypervisor\n"
        "vcpus = 3\npin = 0 1 2\nemulator_pin = 4 5\nisolate = yes\n"
        "[memory]\nsize = 8G\nhugepages = 2M\nhugepage_path = /dev/hugepages\nprealloc = yes\n"
        "prealloc_threads = 4\nlocked = yes\nhost_nodes = 1\n"
        "[smbios]\nbios_vendor = a\nbios_version = b\nbios_date = c\nbios_release = 1.2\n"
        "system_manufacturer = d\nsystem_product = e\nsystem_version = f\nsystem_serial = g\n"
        "system_uuid = 11111111-2222-3333-4444-666666666666\nsystem_sku = h\nsystem_family = i\n"
        "baseboard_manufacturer = j\nbaseboard_product = k\nbaseboard_version = l\nbaseboard_serial = m\n"
        "baseboard_asset = n\nchassis_manufacturer = o\nchassis_version = p\nchassis_serial = q\n"
        "chassis_asset = r\nchassis_sku = s\n"
        "[display]\ndevice = qxl\nprotocol = spice\nsocket = /run/spice.sock\nddc_bus = 0\nmonitor = 1\n"
        "input_host = 0x0f\ninput_guest = 0x11\n"
        "[looking-glass]\nwidth = 2560\nheight = 1440\nsize = 64M\npath = /dev/shm/lg\ndevice = kvmfr\n"
        "[audio]\nbackend = pa\nserver = /run/pulse/native\ndevice = intel-hda\ncodec = hda-output\n"
        "buffer_length = 10000\ntimer_period = 1000\n"
        "[gpu]\ndevice = 01:00.0\nfunctions = 01:00.1\nx_vga = yes\nromfile = /vbios.rom\nrombar = no\n"
        "handoff = yes\ndisplay_manager = gdm.service\nbootindex = 2\n"
        "[pci \"nvme\"]\ndevice = 03:00.0\nromfile = /nvme.rom\nrombar = no\nbootindex = 3\n"
        "[usb \"mouse\"]\ndevice = 046d:c52b\n"
        "[usb \"port\"]\nhost_bus = 1\nhost_port = 2.3\nbootindex = 4\n"
        "[input \"kbd\"]\ntype = evdev\nevdev = /dev/input/event0\ngrab_all = yes\nrepeat = yes\n"
        "grab_toggle = alt-alt\nrelay = no\n"
        "[input \"tablet\"]\ntype = virtio-tablet\n"
        "[disk \"system\"]\npath = /dev/zvol/tank/win\nformat = qcow2\nmedia = disk\nbus = virtio-scsi\n"
        "iothread = yes\naio = native\ncache = none\ndiscard = unmap\nserial = WD-1\nreadonly = yes\n"
        "bootindex = 1\n"
        "[net \"lan\"]\ntype = user\nmodel = e1000e\nmac = 52:54:00:12:34:56\nhostfwd = tcp::2222-:22\n"
        "[net \"br\"]\ntype = bridge\nbridge = br0\nhelper = /usr/lib/qemu/qemu-bridge-helper\n"
        "[net \"tap\"]\ntype = tap\nifname = tap0\n"
        "[net \"mv\"]\ntype = macvtap\nifname = macvtap0\nlink = enp5s0\nmacvtap_mode = vepa\n"
        "[share \"files\"]\ntype = smb\npath = /srv/files\n",
        "[audio]\nbackend = alsa\nalsa_device = hw:0\ndevice = ac97\n"
        "[share \"fs\"]\ntype = virtiofs\npath = /srv/fs\n",
};

static void test_every_key_is_written_and_read_back(void **state)
{
        _cleanup_free_ char *all = NULL;
        size_t n;
        const vm_key_info *keys = vm_config_keys(&n);

        for (size_t i = 0; i < ELEMENTSOF(everything); i++) {
                _cleanup_free_ char *t = assert_round_trip(everything[i], "everything.conf"), *joined = NULL;

                assert_true(asprintf(&joined, "%s%s", all ? all : "", t) > 0);
                free(all);
                all = TAKE_PTR(joined);
        }
        for (size_t i = 0; i < n; i++) {
                const char *sec = all;
                char head[64], key[64];
                bool found = false;

                /* Look for "key = " below a header of the key's section. */
                snprintf(head, sizeof(head), "[%s", keys[i].section);
                snprintf(key, sizeof(key), "\n%s = ", keys[i].key);
                while (!found && (sec = strstr(sec, head))) {
                        const char *next = strstr(sec + 1, "\n[");

                        sec += strlen(head);
                        if (*sec != ']' && *sec != ' ')
                                continue;
                        for (const char *k = strstr(sec, key); k && (!next || k < next);
                             k = strstr(k + 1, key))
                                found = true;
                }
                if (!found)
                        fail_msg("[%s] %s is not written:\n%s", keys[i].section, keys[i].key, all);
        }
}

/* A newline in a value would begin a new line of the file: a key or a section nobody wrote. */
static void test_control_characters_are_refused(void **state)
{
        _cleanup_(vm_config_freep) vm_config *c =
                parse_ok("[disk \"d\"]\npath = /d\nserial = s\n", "t.conf");
        _cleanup_strv_free_ char **errors = NULL;
        char *t = NULL;

        free(c->disks[0].serial);
        c->disks[0].serial = strdup("a\n[tpm]");
        assert_int_equal(vm_config_write(c, 0, NULL, &t), -EINVAL);
        assert_null(t);
        assert_int_equal(vm_config_check(c, &errors), -EINVAL);
        assert_string_equal(
                errors[0],
                "t.conf:3: [disk \"d\"] serial: the value holds a control character (a line break?); write it on one line");
}

static void test_list_word_with_a_blank_is_refused(void **state)
{
        _cleanup_(vm_config_freep) vm_config *c = parse_ok("[vm]\nextra_args = -a b\n", "t.conf");
        _cleanup_strv_free_ char **errors = NULL;
        char *t = NULL;

        free(c->vm.extra_args[1]);
        c->vm.extra_args[1] = strdup("b c");
        assert_int_equal(vm_config_write(c, 0, NULL, &t), -EINVAL);
        assert_int_equal(vm_config_check(c, &errors), -EINVAL);
        assert_non_null(strstr(errors[0], "t.conf:2: [vm] extra_args: the word 'b c'"));
}

/* A libvirt domain whose disk serial holds a line break cannot add a [tpm] (or any key) to the config. */
static void test_libvirt_import_cannot_add_a_section(void **state)
{
        static const char xml[] = "<domain type='kvm'><name>nl</name><memory unit='GiB'>4</memory>"
                                  "<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>"
                                  "<disk type='file' device='disk'><source file='/var/lib/a.img'/>"
                                  "<target dev='vda' bus='virtio'/><serial>a&#10;[tpm]</serial></disk>"
                                  "</devices></domain>";
        _cleanup_(vm_libvirt_import_freep) vm_libvirt_import *imp = NULL;
        _cleanup_free_ char *err = NULL;

        assert_int_equal(vm_libvirt_import_string(xml, sizeof(xml) - 1, "nl.xml", NULL, 0, &imp, &err),
                         -EINVAL);
        assert_null(imp);
        assert_non_null(err);
        assert_non_null(strstr(err, "serial: the value holds a control character"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_golden_config_round_trips),
                cmocka_unit_test(test_every_key_is_written_and_read_back),
                cmocka_unit_test(test_control_characters_are_refused),
                cmocka_unit_test(test_list_word_with_a_blank_is_refused),
                cmocka_unit_test(test_libvirt_import_cannot_add_a_section),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
