/* VM config parsing: what is accepted, and every error naming file:line, the key, what is allowed, a hint.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strv.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/vmconf.h"

/* Parses text that must fail and returns its errors joined by newlines. */
static char *errors_of(const char *text)
{
        vm_config *c = NULL;
        char **errors = NULL, *joined;

        assert_int_equal(vm_config_parse_string(text, "t.conf", "t", &c, &errors), -EINVAL);
        assert_null(c);
        assert_non_null(errors);
        joined = strv_join(errors, "\n");
        strv_free(errors);
        return joined;
}

static void assert_error(const char *text, const char *want)
{
        char *got = errors_of(text);

        if (strcmp(got, want) != 0)
                fail_msg("errors differ:\n got: %s\nwant: %s", got, want);
        free(got);
}

static vm_config *parse_ok(const char *text)
{
        vm_config *c = NULL;
        char **errors = NULL;

        if (vm_config_parse_string(text, "t.conf", "t", &c, &errors) < 0) {
                char *j = strv_join(errors, "\n");

                fail_msg("unexpected errors: %s", j);
        }
        return c;
}

static void test_misspelt_key_gets_a_hint(void **state)
{
        assert_error(
                "[disk \"a\"]\npath = /a\ncahce = none\n",
                "t.conf:3: [disk \"a\"] unknown key 'cahce' (did you mean 'cache'?); keys in [disk]: path, format, media, bus, iothread, aio, cache, discard, serial, readonly, bootindex");
}

static void test_key_in_wrong_section_is_named(void **state)
{
        assert_error(
                "[vm]\nhugepages = 2M\n",
                "t.conf:2: [vm] unknown key 'hugepages' ('hugepages' is a key of [memory]); keys in [vm]: emulator, os, machine, accel, max_ram_below_4g, spare_root_ports, uuid, rtc_localtime, rtc_catchup, pit_delay, hpet, vmport, debugcon, extra_args, kernel, initrd, append, user, bind_devices, desktop_user");
}

static void test_enum_lists_allowed_values_and_hint(void **state)
{
        assert_error(
                "\n[vm]\nmachine = q53\n",
                "t.conf:3: [vm] machine: 'q53' is not allowed (did you mean 'q35'?); use one of: q35, i440fx");
        assert_error(
                "[disk \"a\"]\npath = /a\nbus = virtio\n",
                "t.conf:3: [disk \"a\"] bus: 'virtio' is not allowed (did you mean 'virtio-blk'?); use one of: virtio-blk, virtio-scsi, sata, ide");
}

static void test_sizes_take_units(void **state)
{
        vm_config *c = parse_ok("[memory]\nsize = 16384M\n[vm]\nmax_ram_below_4g = 1G\n");

        assert_int_equal(c->memory.size, 16ULL << 30);
        assert_int_equal(c->vm.max_ram_below_4g, 1ULL << 30);
        vm_config_free(c);
        assert_error(
                "[memory]\nsize = 16Q\n",
                "t.conf:2: [memory] size: '16Q' is not valid; expected a size from 64M to 4T (16G, 16384M)");
        assert_error("[vm]\nmax_ram_below_4g = 5G\n",
                     "t.conf:2: [vm] max_ram_below_4g: '5G' is not valid; expected a size up to 4G (1G)");
}

static void test_numbers_and_bools_checked(void **state)
{
        assert_error("[cpu]\nsockets = 0\n", "t.conf:2: [cpu] sockets: '0' is not valid; expected 1 to 16");
        assert_error("[cpu]\ncores = 4x\n", "t.conf:2: [cpu] cores: '4x' is not valid; expected 1 to 256");
        assert_error(
                "[cpu]\nhide_kvm = maybe\n",
                "t.conf:2: [cpu] hide_kvm: 'maybe' is not valid; expected yes, no (also on/off, true/false, 1/0)");
        assert_error(
                "[net \"n\"]\nmac = 01:00:00:00:00:01\n",
                "t.conf:2: [net \"n\"] mac: '01:00:00:00:00:01' is not valid; expected a unicast MAC (52:54:00:12:34:56)");
}

static void test_duplicate_key_names_first_line(void **state)
{
        assert_error("[memory]\nsize = 4G\n\nsize = 8G\n",
                     "t.conf:4: [memory] size is set twice (first on line 2); keep one");
}

static void test_unknown_section_hint(void **state)
{
        assert_error(
                "[memroy]\nsize = 4G\n",
                "t.conf:2: unknown section [memroy] (did you mean [memory]?); sections: vm, firmware, tpm, cpu, memory, smbios, display, looking-glass, audio, gpu, pci, usb, input, disk, net, share");
}

static void test_section_names(void **state)
{
        assert_error("[disk]\npath = /a\n", "t.conf:2: section [disk] needs a name, e.g. [disk \"system\"]");
        assert_error("[cpu \"x\"]\ncores = 2\n", "t.conf:2: section [cpu \"x\"] takes no name; write [cpu]");
        assert_error(
                "[disk \"a b\"]\npath = /a\n",
                "t.conf:2: section [disk \"a b\"]: the name 'a b' may hold only letters, digits, '-' and '_' (at most 32)");
}

static void test_syntax_error_line_in_order(void **state)
{
        assert_error(
                "[vm]\nmachine = q35\ngarbage\n[cpu]\ncores = x\n",
                "t.conf:3: syntax error: expected [section], key = value, or a comment starting with # or ;\n"
                "t.conf:5: [cpu] cores: 'x' is not valid; expected 1 to 256");
}

static void test_long_lines_keep_line_numbers(void **state)
{
        char text[1024];
        vm_config *c;

        /* inih's default line limit is 200; paths are longer than that in real life. */
        snprintf(text, sizeof(text), "[disk \"a\"]\npath = /%0400d\n\nbus = nope\n", 0);
        assert_error(
                text,
                "t.conf:4: [disk \"a\"] bus: 'nope' is not allowed; use one of: virtio-blk, virtio-scsi, sata, ide");
        snprintf(text, sizeof(text), "[disk \"a\"]\npath = /%0400d\n", 0);
        c = parse_ok(text);
        assert_int_equal(strlen(c->disks[0].path), 401);
        vm_config_free(c);
}

static void test_consistency_errors(void **state)
{
        assert_error(
                "[vm]\naccel = tcg\n",
                "t.conf:2: [cpu] model = host needs accel = kvm; with accel = tcg set model = max or qemu64");
        assert_error(
                "[vm]\nmachine = i440fx\n[firmware]\nsecure_boot = yes\n",
                "t.conf:4: [firmware] secure_boot needs machine = q35 (OVMF Secure Boot requires SMM, which i440fx lacks)");
        assert_error(
                "[cpu]\ncores = 4\npin = 0 1 2\n",
                "t.conf:3: [cpu] pin lists 3 host CPUs but the VM starts 4 vCPUs ([cpu] vcpus, else sockets x cores x threads); list exactly one per vCPU");
        /* [cpu] vcpus starts fewer vCPUs than the topology has places; pins are for the started ones. */
        assert_error(
                "[cpu]\ncores = 4\nvcpus = 2\npin = 0 1 2 3\n",
                "t.conf:4: [cpu] pin lists 4 host CPUs but the VM starts 2 vCPUs ([cpu] vcpus, else sockets x cores x threads); list exactly one per vCPU");
        assert_error(
                "[cpu]\ncores = 4\nvcpus = 5\n",
                "t.conf:3: [cpu] vcpus = 5 is more than the 4 places of the topology (sockets x cores x threads)");
        assert_error(
                "[cpu]\nfeatures = +topoext topoext=on\n",
                "t.conf:2: [cpu] features: 'topoext=on' is not +NAME or -NAME with a QEMU CPU feature name (+topoext, -hypervisor)");
        /* An hv flag cannot carry a second -cpu property. */
        assert_error(
                "[cpu]\nhyperv_extra = hv-vpindex,kvm=off\n",
                "t.conf:2: [cpu] hyperv_extra: 'hv-vpindex,kvm=off' is not an hv-* flag (hv-vpindex, or hv-spinlocks=0x1fff)");
        assert_error(
                "[disk \"a\"]\npath = /a\nbootindex = 1\n[pci \"n\"]\ndevice = 03:00.0\nbootindex = 1\n",
                "t.conf:6: [pci \"n\"] bootindex = 1 is also the bootindex of [disk \"a\"]; each boot device needs its own");
        assert_error("[vm]\nmachine = i440fx\n[firmware]\ntype = seabios\nmmio64_size = 64G\n",
                     "t.conf:5: [firmware] mmio64_size needs type = ovmf (an OVMF setting)");
        assert_error(
                "[net \"n\"]\ntype = macvtap\nlink = enp5s0\n",
                "t.conf:2: [net \"n\"] type = macvtap needs ifname = the macvtap interface (ip link add link enp5s0 name macvtap0 type macvtap mode bridge)");
        assert_error("[net \"n\"]\ntype = user\nlink = enp5s0\n",
                     "t.conf:2: [net \"n\"] link and macvtap_mode need type = macvtap");
        assert_error("[disk \"a\"]\npath = /a\naio = native\n",
                     "t.conf:2: [disk \"a\"] aio = native needs cache = none or directsync");
        assert_error("[disk \"cd\"]\npath = /a.iso\nmedia = cdrom\n",
                     "t.conf:2: [disk \"cd\"] media = cdrom needs bus = sata, ide or virtio-scsi");
        assert_error("[memory]\nsize = 3584M\nhugepages = 1G\nhugepage_path = /h\n",
                     "t.conf:2: [memory] size must be a multiple of the 1G hugepage size");
        assert_error("[memory]\nsize = 4097M\nhugepages = 2M\n",
                     "t.conf:2: [memory] size must be a multiple of the 2M hugepage size");
        assert_error("[net \"n\"]\ntype = bridge\n",
                     "t.conf:2: [net \"n\"] type = bridge needs bridge = br0");
        assert_error(
                "[net \"n\"]\nhostfwd = 24800\n",
                "t.conf:2: [net \"n\"] hostfwd: '24800' is not valid; expected PROTO:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT (tcp::24800-:24800)");
        assert_error("[input \"k\"]\ntype = evdev\n",
                     "t.conf:2: [input \"k\"] type = evdev needs evdev = /dev/input/by-id/...-event-kbd");
        assert_error(
                "[input \"t\"]\ntype = virtio-tablet\nrelay = yes\n",
                "t.conf:2: [input \"t\"] evdev, grab_all, repeat, grab_toggle and relay need type = evdev");
        assert_error("[input \"k\"]\ntype = evdev\nevdev = /dev/input/event0\nrelay = maybe\n",
                     "t.conf:4: [input \"k\"] relay: 'maybe' is not allowed; use one of: auto, yes, no");
        assert_error("[usb \"u\"]\nhost_bus = 1\n",
                     "t.conf:2: [usb \"u\"] needs both host_bus and host_port (see lsusb -t)");
        assert_error(
                "[gpu]\nx_vga = yes\n",
                "t.conf:2: [gpu] needs device = SELECTOR (01:00.0, 10de:1b80 or 'NVIDIA*'), or 'auto' via vfioctl create --gpu auto");
        /* Single-GPU handoff: the display manager is a systemd service, only with handoff, one card. */
        assert_error("[gpu]\ndevice = 00:02.0\ndisplay_manager = gdm.service\n",
                     "t.conf:3: [gpu] display_manager needs handoff = yes");
        assert_error(
                "[gpu]\ndevice = 00:02.0\nhandoff = yes\ndisplay_manager = gdm; rm -rf /\n",
                "t.conf:4: [gpu] display_manager: 'gdm; rm -rf /' is not a systemd service name (gdm.service, sddm.service, lightdm.service)");
        assert_error(
                "[gpu]\ndevice = 00:02.0\nhandoff = yes\n[gpu \"b\"]\ndevice = 01:00.0\nhandoff = yes\n",
                "t.conf:6: [gpu \"b\"] handoff: only one GPU can be the host's display handed to the VM ([gpu] has it too)");
        assert_error(
                "[display]\nprotocol = spice\n",
                "t.conf:2: [display] protocol = spice needs a display device: set device = virtio-vga, qxl or std");
        assert_error(
                "[share \"s\"]\npath = /srv\n",
                "t.conf:2: [share \"s\"] type = smb needs a [net] with type = user (QEMU's built-in SMB server rides on user networking)");
        assert_error(
                "[vm]\nspare_root_ports = 14\n[pci \"a\"]\ndevice = 01:00.0\n[pci \"b\"]\ndevice = 02:00.0\n",
                "t.conf:2: 16 passed-through devices and spare root ports do not fit the 15 slots vfioctl lays out (0x10 upward); pass fewer or lower spare_root_ports");
        assert_error(
                "[disk \"a\"]\npath = /a\nbus = sata\nreadonly = yes\n",
                "t.conf:2: [disk \"a\"] readonly needs bus = virtio-blk or virtio-scsi (QEMU cannot make SATA/IDE hard disks read-only); or use media = cdrom");
        assert_error(
                "[cpu]\nhyperv = yes\nhyperv_vendor_id = 0123456789abc\n",
                "t.conf:3: [cpu] hyperv_vendor_id: '0123456789abc' is longer than 12 characters (the CPUID leaf holds 12)");
}

static void test_windows_defaults_yield_to_explicit_keys(void **state)
{
        vm_config *c = parse_ok("[vm]\nos = windows\nhpet = yes\n");

        assert_true(c->vm.rtc_localtime);
        assert_true(c->vm.hpet); /* set explicitly */
        assert_true(c->cpu.hyperv);
        vm_config_free(c);
}

static void test_lists_append_and_comments(void **state)
{
        vm_config *c = parse_ok(
                "# comment\n; another\n[net \"n\"]\nhostfwd = tcp::1-:1 tcp::2-:2 ; inline comment\n"
                "hostfwd = udp::3-:3\n[tpm]\n");

        assert_int_equal(strv_length(c->nets[0].hostfwd), 3);
        assert_string_equal(c->nets[0].hostfwd[2], "udp::3-:3");
        assert_true(c->tpm.enabled); /* an empty [tpm] section enables it */
        assert_int_equal(vm_config_key_line(c, "net \"n\"", "hostfwd"), 4);
        vm_config_free(c);
}

static void test_did_you_mean(void **state)
{
        const char *const cand[] = { "machine", "accel", "uuid", "hpet" };

        assert_string_equal(vm_did_you_mean("machin", cand, 4), "machine");
        assert_string_equal(vm_did_you_mean("acel", cand, 4), "accel");
        assert_null(vm_did_you_mean("zzzzzz", cand, 4));
}

static void test_looking_glass_size(void **state)
{
        /* 1920*1080*4*2 + 10 MiB = 25.8 MiB -> 32 MiB; 2560x1440 -> 38.1 MiB -> 64 MiB; 4K -> 128 MiB. */
        assert_int_equal(vm_looking_glass_size(1920, 1080), 32ULL << 20);
        assert_int_equal(vm_looking_glass_size(2560, 1440), 64ULL << 20);
        assert_int_equal(vm_looking_glass_size(3840, 2160), 128ULL << 20);
}

/* Where the sound goes: desktop by default once a desktop user is known, else the QEMU user's session. */
static void test_audio_server_and_desktop_user(void **state)
{
        vm_config *c;

        c = parse_ok("[audio]\n");
        assert_int_equal(vm_audio_server_of(c), VM_SERVER_SESSION);
        vm_config_free(c);
        c = parse_ok("[vm]\ndesktop_user = alice\n[audio]\n");
        assert_int_equal(vm_audio_server_of(c), VM_SERVER_DESKTOP);
        vm_config_free(c);
        c = parse_ok("[vm]\ndesktop_user = alice\n[audio]\nserver = none\n");
        assert_int_equal(vm_audio_server_of(c), VM_SERVER_NONE);
        vm_config_free(c);
        c = parse_ok("[vm]\ndesktop_user = alice\n[audio]\nserver = /run/pulse/native\n");
        assert_int_equal(vm_audio_server_of(c), VM_SERVER_PATH);
        vm_config_free(c);
        assert_error(
                "[audio]\nserver = desktop\n",
                "t.conf:2: [audio] server = desktop needs [vm] desktop_user = NAME (the user whose sound server plays the VM)");
        assert_error(
                "[audio]\nserver = pulse\n",
                "t.conf:2: [audio] server: 'pulse' is not valid; expected desktop, none or an absolute socket path (/run/user/1000/pulse/native)");
        assert_error("[audio]\nbackend = alsa\nserver = desktop\n[vm]\ndesktop_user = a\n",
                     "t.conf:3: [audio] server needs backend = pa");
        /* The name goes into tmpfiles.d lines and udev rules: nothing that could split or end them. */
        assert_error(
                "[vm]\ndesktop_user = a b\n",
                "t.conf:2: [vm] desktop_user: 'a b' is not a user name (letters, digits, '.', '_', '-'; at most 32)");
        assert_error(
                "[vm]\ndesktop_user = ../x\n",
                "t.conf:2: [vm] desktop_user: '../x' is not a user name (letters, digits, '.', '_', '-'; at most 32)");
}

static void test_looking_glass_device_and_path(void **state)
{
        vm_config *c;

        c = parse_ok("[looking-glass]\n");
        assert_string_equal(vm_looking_glass_path(c), "/dev/shm/looking-glass");
        assert_int_equal(vm_looking_glass_bytes(c), 32ULL << 20);
        vm_config_free(c);
        c = parse_ok("[looking-glass]\ndevice = kvmfr\nsize = 64M\n");
        assert_string_equal(vm_looking_glass_path(c), "/dev/kvmfr0");
        assert_int_equal(vm_looking_glass_bytes(c), 64ULL << 20);
        vm_config_free(c);
        assert_error("[looking-glass]\npath = /dev/kvmfr1\n",
                     "t.conf:2: [looking-glass] path = /dev/kvmfr1 is a kvmfr device: add device = kvmfr");
        assert_error("[looking-glass]\ndevice = ivshmem\n",
                     "t.conf:2: [looking-glass] device: 'ivshmem' is not allowed; use one of: shm, kvmfr");
}

static void test_escape(void **state)
{
        char *e = vm_qemu_escape("/a,b c,,d");

        assert_string_equal(e, "/a,,b c,,,,d");
        free(e);
}

/* Each enum's table gives every value a spelling that reads back as the same value. */
#define ASSERT_ENUM_TABLE(name, count)                                                      \
        do {                                                                                \
                for (int i = 0; i < (count); i++) {                                         \
                        assert_non_null(name##_to_string((name)i));                         \
                        assert_int_equal(name##_from_string(name##_to_string((name)i)), i); \
                }                                                                           \
                assert_null(name##_table[(count)]);                                         \
                assert_null(name##_to_string((name)(count)));                               \
                assert_int_equal(name##_from_string("no-such-word"), -EINVAL);              \
                assert_int_equal(name##_from_string(NULL), -EINVAL);                        \
        } while (0)

static void test_enum_tables_round_trip(void **state)
{
        ASSERT_ENUM_TABLE(vm_machine, 2);
        ASSERT_ENUM_TABLE(vm_accel, 2);
        ASSERT_ENUM_TABLE(vm_os, 3);
        ASSERT_ENUM_TABLE(vm_firmware, 2);
        ASSERT_ENUM_TABLE(vm_hugepages, 3);
        ASSERT_ENUM_TABLE(vm_disk_bus, 4);
        ASSERT_ENUM_TABLE(vm_disk_format, 2);
        ASSERT_ENUM_TABLE(vm_disk_media, 2);
        ASSERT_ENUM_TABLE(vm_input_type, 4);
        ASSERT_ENUM_TABLE(vm_input_relay, 3);
        ASSERT_ENUM_TABLE(vm_display_device, 4);
        ASSERT_ENUM_TABLE(vm_display_protocol, 3);
        ASSERT_ENUM_TABLE(vm_net_type, 4);
        ASSERT_ENUM_TABLE(vm_net_model, 2);
        ASSERT_ENUM_TABLE(vm_audio_backend, 3);
        ASSERT_ENUM_TABLE(vm_audio_device, 3);
        ASSERT_ENUM_TABLE(vm_audio_codec, 2);
        ASSERT_ENUM_TABLE(vm_lg_device, 2);
        ASSERT_ENUM_TABLE(vm_share_type, 2);
        assert_string_equal(vm_disk_bus_to_string(VM_DISK_VIRTIO_SCSI), "virtio-scsi");
        assert_int_equal(vm_audio_device_from_string("ac97"), VM_AUDIO_AC97);
}

/* The man page's paragraph of [kind] key (".B key" up to the next .TP or .SH), with roff's "\-" as '-'. */
static char *man_paragraph(const char *man, const char *kind, const char *key)
{
        char head[64], needle[128], *out, *o;
        const char *sec, *at, *end;

        /* .SH "[vm]", .SH "[gpu] or [gpu \(dqNAME\(dq] (repeated)", .SH "[disk \(dqNAME\(dq] (repeated)" */
        snprintf(head, sizeof(head), ".SH \"[%s", kind);
        for (sec = strstr(man, head); sec; sec = strstr(sec + 1, head))
                if (sec[strlen(head)] == ']' || sec[strlen(head)] == ' ')
                        break;
        if (!sec)
                return NULL;
        snprintf(needle, sizeof(needle), "\n.B %s\n", key);
        at = strstr(sec, needle);
        end = strstr(sec + 1, "\n.SH");
        if (!at || (end && at > end))
                return NULL;
        at += strlen(needle);
        end = strstr(at, "\n.TP");
        if (!end || (strstr(at, "\n.SH") && strstr(at, "\n.SH") < end))
                end = strstr(at, "\n.SH");
        out = o = calloc(1, (size_t)(end - at) + 1);
        assert_non_null(out);
        for (const char *p = at; p < end; p++)
                if (!(p[0] == '\\' && p[1] == '-'))
                        *o++ = *p;
        return out;
}

static void test_every_key_documented_in_man_page(void **state)
{
        const char *data = getenv("VFIOCTL_TEST_DATA");
        size_t n;
        const vm_key_info *k = vm_config_keys(&n);
        char path[4096], *text = NULL;
        FILE *f;
        long size;

        assert_non_null(data);
        snprintf(path, sizeof(path), "%s/../../man/vfioctl.conf.5", data);
        f = fopen(path, "re");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        rewind(f);
        text = calloc(1, (size_t)size + 1);
        assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
        fclose(f);
        for (size_t i = 0; i < n; i++) {
                char *para = man_paragraph(text, k[i].section, k[i].key);

                /* Keys appear as ".B key" (with roff's "\-" for a hyphen there is none in keys). */
                if (!para)
                        fail_msg("[%s] %s is not documented in man/vfioctl.conf.5", k[i].section, k[i].key);
                /* A key with a fixed set of words names each of them (from the same table the parser uses).
                 */
                for (const char *const *v = k[i].values; v && *v; v++)
                        if (!strstr(para, *v))
                                fail_msg(
                                        "[%s] %s: the value '%s' is not in its paragraph of man/vfioctl.conf.5",
                                        k[i].section, k[i].key, *v);
                free(para);
        }
        free(text);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_misspelt_key_gets_a_hint),
                cmocka_unit_test(test_key_in_wrong_section_is_named),
                cmocka_unit_test(test_enum_lists_allowed_values_and_hint),
                cmocka_unit_test(test_sizes_take_units),
                cmocka_unit_test(test_numbers_and_bools_checked),
                cmocka_unit_test(test_duplicate_key_names_first_line),
                cmocka_unit_test(test_unknown_section_hint),
                cmocka_unit_test(test_section_names),
                cmocka_unit_test(test_syntax_error_line_in_order),
                cmocka_unit_test(test_long_lines_keep_line_numbers),
                cmocka_unit_test(test_consistency_errors),
                cmocka_unit_test(test_windows_defaults_yield_to_explicit_keys),
                cmocka_unit_test(test_lists_append_and_comments),
                cmocka_unit_test(test_did_you_mean),
                cmocka_unit_test(test_looking_glass_size),
                cmocka_unit_test(test_audio_server_and_desktop_user),
                cmocka_unit_test(test_looking_glass_device_and_path),
                cmocka_unit_test(test_escape),
                cmocka_unit_test(test_enum_tables_round_trip),
                cmocka_unit_test(test_every_key_documented_in_man_page),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
