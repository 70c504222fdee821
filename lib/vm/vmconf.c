/*
 * VM config files: INI (inih) into the VM model. One table describes every key, so parsing, the
 * did-you-mean hints and vfioctl.conf(5) cannot drift apart.
 */
#include "vfioctl/vmconf.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "log.h"
#include "parse-util.h"
#include "strv.h"
#include "vmconf-keys.h"

#define G(f)  offsetof(vm_general, f)
#define FW(f) offsetof(vm_firmware_conf, f)
#define C(f)  offsetof(vm_cpu, f)
#define M(f)  offsetof(vm_memory, f)
#define SM(f) offsetof(vm_smbios, f)
#define P(f)  offsetof(vm_pci, f)
#define D(f)  offsetof(vm_disk, f)
#define N(f)  offsetof(vm_net, f)
#define I(f)  offsetof(vm_input, f)
#define U(f)  offsetof(vm_usb, f)
#define A(f)  offsetof(vm_audio, f)
#define BOOL  "yes, no (also on/off, true/false, 1/0)"
#define SIZE  "a size with unit K, M, G or T (16G, 16384M)"
#define PATH  "an absolute path"
#define SMBIOS(name)                                                                    \
        {                                                                               \
                "smbios", #name, K_STRING, SM(name), NULL, 0, 0, "text", .write = W_SET \
        }

/* Keys the writer writes by their neighbours: evdev switches only for evdev, codec only for HDA. */
static bool written_if_evdev(const vm_config *c, const void *item)
{
        return ((const vm_input *)item)->type == VM_INPUT_EVDEV;
}

static bool written_unless_ac97(const vm_config *c, const void *item)
{
        return c->audio.device != VM_AUDIO_AC97;
}

/* Bus 0 is a real I2C bus: set means written in the file (or set by a caller), not non-zero. */
static bool written_if_ddc_bus(const vm_config *c, const void *item)
{
        return c->display.ddc_bus || vm_config_key_line(c, "display", "ddc_bus");
}

static const key_def keys[] = {
        { "vm", "emulator", K_STRING, G(emulator), NULL, 0, 0, "the QEMU binary (qemu-system-x86_64)",
          .write = W_ALWAYS },
        { "vm", "os", K_ENUM, G(os), vm_os_table, 0, 0, NULL, .write = W_ALWAYS },
        { "vm", "machine", K_ENUM, G(machine), vm_machine_table, 0, 0, NULL, .write = W_ALWAYS },
        { "vm", "accel", K_ENUM, G(accel), vm_accel_table, 0, 0, NULL, .write = W_ALWAYS },
        { "vm", "max_ram_below_4g", K_SIZE, G(max_ram_below_4g), NULL, 1, 4ULL << 30, "a size up to 4G (1G)",
          .write = W_SET },
        { "vm", "spare_root_ports", K_UINT, G(spare_root_ports), NULL, 0, 16, "0 to 16", .write = W_SET },
        { "vm", "uuid", K_UUID, G(uuid), NULL, 0, 0, "a UUID (11111111-1111-1111-1111-111111111111)",
          .write = W_SET },
        { "vm", "rtc_localtime", K_BOOL, G(rtc_localtime), NULL, 0, 0, BOOL, .write = W_ALWAYS },
        { "vm", "rtc_catchup", K_BOOL, G(rtc_catchup), NULL, 0, 0, BOOL, .write = W_ALWAYS },
        { "vm", "pit_delay", K_BOOL, G(pit_delay), NULL, 0, 0, BOOL, .write = W_ALWAYS },
        { "vm", "hpet", K_BOOL, G(hpet), NULL, 0, 0, BOOL, .write = W_ALWAYS },
        { "vm", "vmport", K_BOOL, G(vmport), NULL, 0, 0, BOOL, .write = W_ALWAYS },
        { "vm", "debugcon", K_PATH, G(debugcon), NULL, 0, 0, PATH, .write = W_SET },
        { "vm", "extra_args", K_LIST, G(extra_args), NULL, 0, 0, "raw QEMU arguments, unchecked",
          .write = W_SET },
        { "vm", "kernel", K_PATH, G(kernel), NULL, 0, 0, PATH, .write = W_SET },
        { "vm", "initrd", K_PATH, G(initrd), NULL, 0, 0, PATH, .write = W_SET },
        { "vm", "append", K_STRING, G(append), NULL, 0, 0, "a kernel command line (console=ttyS0 quiet)",
          .write = W_SET },
        { "vm", "user", K_STRING, G(user), NULL, 0, 0,
          "a user name or uid QEMU runs as (vfioctl start by root)", .write = W_SET },
        { "vm", "bind_devices", K_BOOL, G(bind_devices), NULL, 0, 0, BOOL, .write = W_SET },
        { "vm", "desktop_user", K_STRING, G(desktop_user), NULL, 0, 0,
          "the user at the screen, who hears the VM and runs the Looking Glass client", .write = W_SET },
        { "firmware", "type", K_ENUM, FW(type), vm_firmware_table, 0, 0, NULL, .write = W_ALWAYS },
        { "firmware", "secure_boot", K_BOOL, FW(secure_boot), NULL, 0, 0, BOOL, .write = W_ALWAYS },
        { "firmware", "code", K_PATH, FW(code), NULL, 0, 0, PATH, .write = W_SET },
        { "firmware", "vars_template", K_PATH, FW(vars_template), NULL, 0, 0, PATH, .write = W_SET },
        { "firmware", "vars", K_PATH, FW(vars), NULL, 0, 0, PATH, .write = W_SET },
        { "firmware", "mmio64_size", K_SIZE, FW(mmio64_size), NULL, 1ULL << 30, 1ULL << 44,
          "a size from 1G to 16T in whole MiB (64G)", .write = W_SET },
        { "tpm", "socket", K_PATH, offsetof(vm_tpm, socket), NULL, 0, 0, PATH, .write = W_SET },
        { "cpu", "model", K_STRING, C(model), NULL, 0, 0, "host or a QEMU CPU model (qemu64, max)",
          .write = W_ALWAYS },
        { "cpu", "sockets", K_UINT, C(sockets), NULL, 1, 16, "1 to 16", .write = W_ALWAYS },
        { "cpu", "cores", K_UINT, C(cores), NULL, 1, 256, "1 to 256", .write = W_ALWAYS },
        { "cpu", "threads", K_UINT, C(threads), NULL, 1, 2, "1 or 2", .write = W_ALWAYS },
        { "cpu", "hide_kvm", K_BOOL, C(hide_kvm), NULL, 0, 0, BOOL, .write = W_ALWAYS },
        { "cpu", "hyperv", K_BOOL, C(hyperv), NULL, 0, 0, BOOL, .write = W_ALWAYS },
        { "cpu", "hyperv_vendor_id", K_STRING, C(hyperv_vendor_id), NULL, 0, 0, "1 to 12 characters",
          .write = W_SET },
        { "cpu", "hyperv_extra", K_LIST, C(hyperv_extra), NULL, 0, 0, "hv-* flags (hv-vpindex hv-synic)",
          .write = W_SET },
        { "cpu", "features", K_LIST, C(features), NULL, 0, 0,
          "CPU features to turn on (+name) or off (-name): +topoext -hypervisor", .write = W_SET },
        { "cpu", "vcpus", K_UINT, C(vcpus), NULL, 1, 4096, "1 to sockets x cores x threads",
          .write = W_SET },
        { "cpu", "pin", K_LIST, C(pin), NULL, 0, 0, "one host CPU number per vCPU (0 4 1 5)",
          .write = W_SET },
        { "cpu", "emulator_pin", K_LIST, C(emulator_pin), NULL, 0, 0, "host CPU numbers (3 7)",
          .write = W_SET },
        { "cpu", "isolate", K_BOOL, C(isolate), NULL, 0, 0, BOOL, .write = W_SET },
        { "memory", "size", K_SIZE, M(size), NULL, 64ULL << 20, 1ULL << 42,
          "a size from 64M to 4T (16G, 16384M)", .write = W_ALWAYS },
        { "memory", "hugepages", K_ENUM, M(hugepages), vm_hugepages_table, 0, 0, NULL, .write = W_ALWAYS },
        { "memory", "hugepage_path", K_PATH, M(hugepage_path), NULL, 0, 0, PATH, .write = W_SET },
        { "memory", "prealloc", K_BOOL, M(prealloc), NULL, 0, 0, BOOL, .write = W_ALWAYS },
        { "memory", "prealloc_threads", K_UINT, M(prealloc_threads), NULL, 1, 256, "1 to 256",
          .write = W_SET },
        { "memory", "locked", K_BOOL, M(locked), NULL, 0, 0, BOOL, .write = W_ALWAYS },
        { "memory", "host_nodes", K_LIST, M(host_nodes), NULL, 0, 0, "host NUMA node numbers (1)",
          .write = W_SET },
        SMBIOS(bios_vendor),
        SMBIOS(bios_version),
        SMBIOS(bios_date),
        SMBIOS(bios_release),
        SMBIOS(system_manufacturer),
        SMBIOS(system_product),
        SMBIOS(system_version),
        SMBIOS(system_serial),
        { "smbios", "system_uuid", K_UUID, SM(system_uuid), NULL, 0, 0, "a UUID", .write = W_SET },
        SMBIOS(system_sku),
        SMBIOS(system_family),
        SMBIOS(baseboard_manufacturer),
        SMBIOS(baseboard_product),
        SMBIOS(baseboard_version),
        SMBIOS(baseboard_serial),
        SMBIOS(baseboard_asset),
        SMBIOS(chassis_manufacturer),
        SMBIOS(chassis_version),
        SMBIOS(chassis_serial),
        SMBIOS(chassis_asset),
        SMBIOS(chassis_sku),
        { "display", "device", K_ENUM, offsetof(vm_display, device), vm_display_device_table, 0, 0, NULL,
          .write = W_ALWAYS },
        { "display", "protocol", K_ENUM, offsetof(vm_display, protocol), vm_display_protocol_table, 0, 0,
          NULL, .write = W_ALWAYS },
        { "display", "socket", K_PATH, offsetof(vm_display, socket), NULL, 0, 0, PATH, .write = W_SET },
        { "display", "ddc_bus", K_UINT, offsetof(vm_display, ddc_bus), NULL, 0, 1023,
          "an I2C bus number (ddcutil --bus)", .written = written_if_ddc_bus, .write = W_SET },
        { "display", "monitor", K_STRING, offsetof(vm_display, monitor), NULL, 0, 0,
          "a ddcutil display number (ddcutil --display)", .write = W_SET },
        { "display", "input_host", K_HEX, offsetof(vm_display, input_host), NULL, 1, 255,
          "a VCP 0x60 value (0x0f)", .write = W_SET },
        { "display", "input_guest", K_HEX, offsetof(vm_display, input_guest), NULL, 1, 255,
          "a VCP 0x60 value (0x11)", .write = W_SET },
        { "looking-glass", "width", K_UINT, offsetof(vm_looking_glass, width), NULL, 320, 16384,
          "320 to 16384", .write = W_ALWAYS },
        { "looking-glass", "height", K_UINT, offsetof(vm_looking_glass, height), NULL, 200, 16384,
          "200 to 16384", .write = W_ALWAYS },
        { "looking-glass", "size", K_SIZE, offsetof(vm_looking_glass, size), NULL, 1ULL << 20, 1ULL << 32,
          "a size from 1M to 4G (32M)", .write = W_SET },
        { "looking-glass", "path", K_PATH, offsetof(vm_looking_glass, path), NULL, 0, 0, PATH,
          .write = W_SET },
        { "looking-glass", "device", K_ENUM, offsetof(vm_looking_glass, device), vm_lg_device_table, 0, 0,
          NULL, .write = W_SET },
        { "audio", "backend", K_ENUM, A(backend), vm_audio_backend_table, 0, 0, NULL, .write = W_ALWAYS },
        { "audio", "server", K_STRING, A(server), NULL, 0, 0,
          "desktop, none or an absolute socket path (/run/user/1000/pulse/native)", .write = W_SET },
        { "audio", "alsa_device", K_STRING, A(alsa_device), NULL, 0, 0, "an ALSA PCM name (default, hw:0)",
          .write = W_SET },
        { "audio", "device", K_ENUM, A(device), vm_audio_device_table, 0, 0, NULL, .write = W_ALWAYS },
        { "audio", "codec", K_ENUM, A(codec), vm_audio_codec_table, 0, 0, NULL,
          .written = written_unless_ac97, .write = W_SET },
        { "audio", "buffer_length", K_UINT, A(buffer_length), NULL, 1000, 1000000,
          "microseconds, 1000 to 1000000", .write = W_SET },
        { "audio", "timer_period", K_UINT, A(timer_period), NULL, 100, 1000000,
          "microseconds, 100 to 1000000", .write = W_SET },
        { "gpu", "device", K_STRING, P(device), NULL, 0, 0,
          "a selector: 01:00.0, 10de:1b80 or a name pattern", .write = W_SET },
        { "gpu", "functions", K_FUNCTIONS, 0, NULL, 0, 0, "auto, none or selectors (01:00.1 01:00.2)",
          .write = W_ALWAYS },
        { "gpu", "x_vga", K_BOOL, P(x_vga), NULL, 0, 0, BOOL, .write = W_ALWAYS },
        { "gpu", "romfile", K_PATH, P(romfile), NULL, 0, 0, PATH, .write = W_SET },
        { "gpu", "rombar", K_BOOL, P(rombar), NULL, 0, 0, BOOL, .write = W_ALWAYS },
        { "gpu", "handoff", K_BOOL, P(handoff), NULL, 0, 0, BOOL, .write = W_SET },
        { "gpu", "display_manager", K_STRING, P(display_manager), NULL, 0, 0,
          "a systemd service name (gdm.service, sddm.service)", .write = W_SET },
        { "gpu", "bootindex", K_UINT, P(bootindex), NULL, 1, 99, "1 to 99", .write = W_SET },
        { "pci", "device", K_STRING, P(device), NULL, 0, 0,
          "a selector: 03:00.0, 1912:0014 or a name pattern", .write = W_SET },
        { "pci", "romfile", K_PATH, P(romfile), NULL, 0, 0, PATH, .write = W_SET },
        { "pci", "rombar", K_BOOL, P(rombar), NULL, 0, 0, BOOL, .write = W_ALWAYS },
        { "pci", "bootindex", K_UINT, P(bootindex), NULL, 1, 99, "1 to 99", .write = W_SET },
        { "usb", "device", K_USB_ID, 0, NULL, 0, 0, "vendor:product in hex (046d:c52b)", .write = W_SET },
        { "usb", "host_bus", K_UINT, U(host_bus), NULL, 1, 255, "1 to 255", .write = W_SET },
        { "usb", "host_port", K_STRING, U(host_port), NULL, 0, 0, "a port path (2 or 2.3)", .write = W_SET },
        { "usb", "bootindex", K_UINT, U(bootindex), NULL, 1, 99, "1 to 99", .write = W_SET },
        { "input", "type", K_ENUM, I(type), vm_input_type_table, 0, 0, NULL, .write = W_ALWAYS },
        { "input", "evdev", K_PATH, I(evdev), NULL, 0, 0,
          "an absolute path (/dev/input/by-id/...-event-kbd)", .write = W_SET },
        { "input", "grab_all", K_BOOL, I(grab_all), NULL, 0, 0, BOOL, .written = written_if_evdev,
          .write = W_SET },
        { "input", "repeat", K_BOOL, I(repeat), NULL, 0, 0, BOOL, .written = written_if_evdev,
          .write = W_SET },
        { "input", "grab_toggle", K_WORD, I(grab_toggle), vm_input_grab_toggle_table, 0, 0, NULL,
          .write = W_SET },
        { "input", "relay", K_ENUM, I(relay), vm_input_relay_table, 0, 0, NULL, .write = W_SET },
        { "disk", "path", K_PATH, D(path), NULL, 0, 0, "an absolute path (image file, block device, zvol)",
          .write = W_ALWAYS },
        { "disk", "format", K_ENUM, D(format), vm_disk_format_table, 0, 0, NULL, .write = W_ALWAYS },
        { "disk", "media", K_ENUM, D(media), vm_disk_media_table, 0, 0, NULL, .write = W_ALWAYS },
        { "disk", "bus", K_ENUM, D(bus), vm_disk_bus_table, 0, 0, NULL, .write = W_ALWAYS },
        { "disk", "iothread", K_BOOL, D(iothread), NULL, 0, 0, BOOL, .write = W_SET },
        { "disk", "aio", K_WORD, D(aio), vm_disk_aio_table, 0, 0, NULL, .write = W_SET },
        { "disk", "cache", K_WORD, D(cache), vm_disk_cache_table, 0, 0, NULL, .write = W_SET },
        { "disk", "discard", K_WORD, D(discard), vm_disk_discard_table, 0, 0, NULL, .write = W_SET },
        { "disk", "serial", K_STRING, D(serial), NULL, 0, 0, "up to 20 characters", .write = W_SET },
        { "disk", "readonly", K_BOOL, D(readonly), NULL, 0, 0, BOOL, .write = W_SET },
        { "disk", "bootindex", K_UINT, D(bootindex), NULL, 1, 99, "1 to 99", .write = W_SET },
        { "net", "type", K_ENUM, N(type), vm_net_type_table, 0, 0, NULL, .write = W_ALWAYS },
        { "net", "model", K_ENUM, N(model), vm_net_model_table, 0, 0, NULL, .write = W_ALWAYS },
        { "net", "mac", K_MAC, N(mac), NULL, 0, 0, "a unicast MAC (52:54:00:12:34:56)", .write = W_SET },
        { "net", "bridge", K_STRING, N(bridge), NULL, 0, 0, "a bridge interface (br0)", .write = W_SET },
        { "net", "helper", K_PATH, N(helper), NULL, 0, 0, PATH, .write = W_SET },
        { "net", "ifname", K_STRING, N(ifname), NULL, 0, 0, "a tap or macvtap interface (tap0, macvtap0)",
          .write = W_SET },
        { "net", "link", K_STRING, N(link), NULL, 0, 0, "the host interface below a macvtap (enp5s0)",
          .write = W_SET },
        { "net", "macvtap_mode", K_WORD, N(macvtap_mode), vm_net_macvtap_mode_table, 0, 0, NULL,
          .write = W_SET },
        { "net", "hostfwd", K_LIST, N(hostfwd), NULL, 0, 0,
          "PROTO:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT", .write = W_SET },
        { "share", "type", K_ENUM, offsetof(vm_share, type), vm_share_type_table, 0, 0, NULL,
          .write = W_ALWAYS },
        { "share", "path", K_PATH, offsetof(vm_share, path), NULL, 0, 0, PATH, .write = W_ALWAYS },
};

#define SINGLE(n, f)                                                                \
        {                                                                           \
                n, false, false, offsetof(vm_config, f), 0, 0, .has_enabled = false \
        }
/* A singleton whose presence alone turns something on: [tpm], [audio], [looking-glass]. */
#define SINGLE_ON(n, f, t)                                                                \
        {                                                                                 \
                n, false, false, offsetof(vm_config, f), 0, 0, true, offsetof(t, enabled) \
        }
#define MULTI(n, f, t, opt)                                                                  \
        {                                                                                    \
                n, true, opt, offsetof(vm_config, f), offsetof(vm_config, n_##f), sizeof(t), \
                        .has_enabled = false                                                 \
        }

static const section_def sections[] = {
        SINGLE("vm", vm),
        SINGLE("firmware", firmware),
        SINGLE_ON("tpm", tpm, vm_tpm),
        SINGLE("cpu", cpu),
        SINGLE("memory", memory),
        SINGLE("smbios", smbios),
        SINGLE("display", display),
        SINGLE_ON("looking-glass", looking_glass, vm_looking_glass),
        SINGLE_ON("audio", audio, vm_audio),
        MULTI("gpu", gpus, vm_pci, true),
        MULTI("pci", pcis, vm_pci, false),
        MULTI("usb", usbs, vm_usb, false),
        MULTI("input", inputs, vm_input, false),
        MULTI("disk", disks, vm_disk, false),
        MULTI("net", nets, vm_net, false),
        MULTI("share", shares, vm_share, false),
};

const key_def *vm_config_key_defs(size_t *ret_n)
{
        *ret_n = ELEMENTSOF(keys);
        return keys;
}

const section_def *vm_config_section_defs(size_t *ret_n)
{
        *ret_n = ELEMENTSOF(sections);
        return sections;
}

const vm_key_info *vm_config_keys(size_t *ret_n)
{
        static vm_key_info info[ELEMENTSOF(keys)];

        assert(ret_n);

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                static char buf[ELEMENTSOF(keys)][256];

                info[i].section = keys[i].section;
                info[i].key = keys[i].key;
                info[i].values = keys[i].type == K_ENUM || keys[i].type == K_WORD ? keys[i].values : NULL;
                if (keys[i].allowed)
                        info[i].allowed = keys[i].allowed;
                else {
                        size_t n = 0;

                        buf[i][0] = 0;
                        for (const char *const *v = keys[i].values; *v; v++)
                                n += (size_t)snprintf(buf[i] + n, sizeof(buf[i]) - n, "%s%s",
                                                      v == keys[i].values ? "" : ", ", *v);
                        info[i].allowed = buf[i];
                }
        }
        *ret_n = ELEMENTSOF(keys);
        return info;
}

/* Optimal string alignment distance: Levenshtein plus adjacent transpositions ("cahce"), case-blind. */
static size_t edit_distance(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b), d[64][64];

        if (la >= 63 || lb >= 63)
                return SIZE_MAX;
        for (size_t i = 0; i <= la; i++)
                d[i][0] = i;
        for (size_t j = 0; j <= lb; j++)
                d[0][j] = j;
        for (size_t i = 1; i <= la; i++)
                for (size_t j = 1; j <= lb; j++) {
                        int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
                        size_t v = d[i - 1][j - 1] + (ca != cb);

                        if (d[i - 1][j] + 1 < v)
                                v = d[i - 1][j] + 1;
                        if (d[i][j - 1] + 1 < v)
                                v = d[i][j - 1] + 1;
                        if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                            tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < v)
                                v = d[i - 2][j - 2] + 1;
                        d[i][j] = v;
                }
        return d[la][lb];
}

const char *vm_did_you_mean(const char *s, const char *const *candidates, size_t n)
{
        const char *best = NULL;
        size_t best_d = SIZE_MAX;

        assert(candidates);

        for (size_t i = 0; i < n; i++) {
                size_t d = edit_distance(s, candidates[i]);

                /* Two edits for words of 5+ letters, one for shorter ones: "q53" -> q35, not "aio" -> "bus".
                 */
                if (d < best_d && d <= (strlen(candidates[i]) >= 5 ? 2u : 1u)) {
                        best = candidates[i];
                        best_d = d;
                }
        }
        if (!best && strlen(s) >= 3)
                for (size_t i = 0; i < n; i++)
                        if (strncmp(candidates[i], s, strlen(s)) == 0)
                                return candidates[i];
        return best;
}

uint64_t vm_looking_glass_size(unsigned width, unsigned height)
{
        uint64_t need = (uint64_t)width * height * 4 * 2 + (10ULL << 20), size = 1ULL << 20;

        while (size < need)
                size <<= 1;
        return size;
}

uint64_t vm_looking_glass_bytes(const vm_config *c)
{
        return c->looking_glass.size
                       ?: vm_looking_glass_size(c->looking_glass.width, c->looking_glass.height);
}

const char *vm_looking_glass_path(const vm_config *c)
{
        if (c->looking_glass.path)
                return c->looking_glass.path;
        /* Looking Glass docs: "IVSHMEM" (a file in /dev/shm) and "kvmfr" (the module's first device). */
        return c->looking_glass.device == VM_LG_KVMFR ? "/dev/kvmfr0" : "/dev/shm/looking-glass";
}

vm_audio_server vm_audio_server_of(const vm_config *c)
{
        const char *s = c->audio.server;

        if (!s)
                return c->vm.desktop_user ? VM_SERVER_DESKTOP : VM_SERVER_SESSION;
        if (strcmp(s, "desktop") == 0)
                return VM_SERVER_DESKTOP;
        if (strcmp(s, "none") == 0)
                return VM_SERVER_NONE;
        return VM_SERVER_PATH;
}

/* A login name as useradd(8) takes it: no path, option or field separators to smuggle into files. */
static bool valid_user_name(const char *s)
{
        if (!*s || strlen(s) > 32 || s[0] == '-')
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
                        return false;
        return true;
}

unsigned vm_config_max_vcpus(const vm_config *c)
{
        assert(c);

        return c->cpu.sockets * c->cpu.cores * c->cpu.threads;
}

unsigned vm_config_vcpus(const vm_config *c)
{
        assert(c);

        return c->cpu.vcpus ? c->cpu.vcpus : vm_config_max_vcpus(c);
}

void vm_config_item_defaults(const section_def *s, void *item)
{
        memset(item, 0, s->item_size);
        if (strcmp(s->name, "gpu") == 0 || strcmp(s->name, "pci") == 0) {
                ((vm_pci *)item)->rombar = true;
                ((vm_pci *)item)->functions_auto = true;
        }
}

int vm_config_new(const char *name, vm_config **ret)
{
        _cleanup_(vm_config_freep) vm_config *c = NULL;

        assert(ret);

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->name = strdup(name ? name : "vm");
        c->vm.emulator = strdup("qemu-system-x86_64");
        c->cpu.model = strdup("host");
        if (!c->name || !c->vm.emulator || !c->cpu.model)
                return -ENOMEM;
        c->vm.machine = VM_MACHINE_Q35;
        c->vm.accel = VM_ACCEL_KVM;
        c->vm.hpet = true;
        c->cpu.sockets = 1;
        c->cpu.cores = 2;
        c->cpu.threads = 1;
        c->memory.size = 4ULL << 30;
        c->audio.backend = VM_AUDIO_PA;
        c->audio.device = VM_AUDIO_ICH9_HDA;
        c->looking_glass.width = 1920;
        c->looking_glass.height = 1080;
        *ret = TAKE_PTR(c);
        return 0;
}

static void pci_done(vm_pci *p)
{
        free(p->name);
        free(p->device);
        strv_free(p->functions);
        free(p->romfile);
        free(p->display_manager);
        strv_free(p->resolved);
}

vm_config *vm_config_free(vm_config *c)
{
        if (!c)
                return NULL;
        free(c->name);
        free(c->filename);
        free(c->vm.emulator);
        free(c->vm.uuid);
        free(c->vm.debugcon);
        strv_free(c->vm.extra_args);
        free(c->firmware.code);
        free(c->firmware.vars_template);
        free(c->firmware.vars);
        free(c->tpm.socket);
        free(c->cpu.model);
        free(c->cpu.hyperv_vendor_id);
        strv_free(c->cpu.hyperv_extra);
        strv_free(c->cpu.features);
        strv_free(c->cpu.pin);
        strv_free(c->cpu.emulator_pin);
        strv_free(c->cpu.pin_notes);
        strv_free(c->memory.host_nodes);
        free(c->memory.hugepage_path);
        for (char **s = &c->smbios.bios_vendor; s <= &c->smbios.chassis_sku; s++)
                free(*s);
        free(c->display.socket);
        free(c->display.monitor);
        free(c->vm.user);
        free(c->vm.desktop_user);
        free(c->vm.kernel);
        free(c->vm.initrd);
        free(c->vm.append);
        free(c->looking_glass.path);
        free(c->audio.server);
        free(c->audio.alsa_device);
        for (size_t i = 0; i < c->n_gpus; i++)
                pci_done(&c->gpus[i]);
        free(c->gpus);
        for (size_t i = 0; i < c->n_pcis; i++)
                pci_done(&c->pcis[i]);
        free(c->pcis);
        for (size_t i = 0; i < c->n_usbs; i++) {
                free(c->usbs[i].name);
                free(c->usbs[i].host_port);
        }
        free(c->usbs);
        for (size_t i = 0; i < c->n_inputs; i++) {
                free(c->inputs[i].name);
                free(c->inputs[i].evdev);
                free(c->inputs[i].grab_toggle);
        }
        free(c->inputs);
        for (size_t i = 0; i < c->n_disks; i++) {
                vm_disk *d = &c->disks[i];

                free(d->name);
                free(d->path);
                free(d->aio);
                free(d->cache);
                free(d->discard);
                free(d->serial);
        }
        free(c->disks);
        for (size_t i = 0; i < c->n_nets; i++) {
                vm_net *n = &c->nets[i];

                free(n->name);
                free(n->mac);
                free(n->bridge);
                free(n->helper);
                free(n->ifname);
                strv_free(n->hostfwd);
                free(n->link);
                free(n->macvtap_mode);
        }
        free(c->nets);
        for (size_t i = 0; i < c->n_shares; i++) {
                free(c->shares[i].name);
                free(c->shares[i].path);
        }
        free(c->shares);
        for (size_t i = 0; i < c->n_lines; i++) {
                free(c->lines[i].section);
                free(c->lines[i].key);
        }
        free(c->lines);
        free(c);
        return NULL;
}

typedef struct parse_state {
        vm_config *cfg;
        const char *filename;
        const char *text;
        size_t pos;
        unsigned line;
        bool at_line_start;
        char **errors;
        size_t n_errors; /* all of them; only the first VM_CONFIG_MAX_ERRORS are kept */
        int oom;
} parse_state;

static void add_error(parse_state *st, unsigned line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void add_error(parse_state *st, unsigned line, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        char *full;
        va_list ap;
        int r;

        /* 20,000 bad sections are not 20,000 lines: the first ones, then a count (vm_config_parse_string).
         */
        if (++st->n_errors > VM_CONFIG_MAX_ERRORS)
                return;
        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        /* A 500 KB key is not echoed whole: messages are bounded where they are made. */
        if (r >= 0 && strlen(msg) > VM_CONFIG_MAX_ERROR_LEN)
                strcpy(msg + VM_CONFIG_MAX_ERROR_LEN - 4, "...");
        if (r < 0 || asprintf(&full, "%s:%u: %s", st->filename, line, msg) < 0) {
                st->oom = -ENOMEM;
                return;
        }
        if (strv_push(&st->errors, full) < 0) {
                free(full);
                st->oom = -ENOMEM;
        }
}

/* inih reads through here, so we know the line of every key: a chunk starts a line after a newline. */
static char *reader(char *str, int num, void *stream)
{
        parse_state *st = stream;
        size_t n = 0;

        if (!st->text[st->pos] || num < 2)
                return NULL;
        if (st->at_line_start)
                st->line++;
        while (st->text[st->pos] && n < (size_t)num - 1) {
                char ch = st->text[st->pos++];

                str[n++] = ch;
                if (ch == '\n')
                        break;
        }
        str[n] = 0;
        st->at_line_start = n > 0 && str[n - 1] == '\n';
        return str;
}

static const section_def *find_section(const char *kind)
{
        for (size_t i = 0; i < ELEMENTSOF(sections); i++)
                if (strcmp(sections[i].name, kind) == 0)
                        return &sections[i];
        return NULL;
}

static bool valid_item_name(const char *s)
{
        if (!*s || strlen(s) > 32)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
                        return false;
        return true;
}

/* Splits 'disk "system"' into kind and name; name is NULL for a plain [vm]. */
static int split_section(const char *section, char **ret_kind, char **ret_name)
{
        const char *sp = strchr(section, ' ');
        _cleanup_free_ char *kind = NULL, *name = NULL;
        size_t n;

        if (!sp) {
                kind = strdup(section);
                if (!kind)
                        return -ENOMEM;
                *ret_kind = TAKE_PTR(kind);
                *ret_name = NULL;
                return 0;
        }
        kind = strndup(section, (size_t)(sp - section));
        if (!kind)
                return -ENOMEM;
        sp += strspn(sp, " ");
        n = strlen(sp);
        if (n < 2 || sp[0] != '"' || sp[n - 1] != '"')
                return -EINVAL;
        name = strndup(sp + 1, n - 2);
        if (!name)
                return -ENOMEM;
        *ret_kind = TAKE_PTR(kind);
        *ret_name = TAKE_PTR(name);
        return 0;
}

static void *section_item(parse_state *st, const section_def *s, const char *name, unsigned line)
{
        char *base = (char *)st->cfg + s->cfg_offset;
        size_t *count;
        char **array;
        char *item;

        if (!s->repeated)
                return base;
        array = (char **)base;
        count = (size_t *)((char *)st->cfg + s->count_offset);
        for (size_t i = 0; i < *count; i++) {
                item = *array + i * s->item_size;
                /* Every item struct starts with char *name. */
                if (strcmp(*(char **)item, name) == 0)
                        return item;
        }
        if (*count >= VM_CONFIG_MAX_ITEMS) {
                add_error(st, line, "more than %d [%s] sections", VM_CONFIG_MAX_ITEMS, s->name);
                return NULL;
        }
        item = realloc(*array, (*count + 1) * s->item_size);
        if (!item) {
                st->oom = -ENOMEM;
                return NULL;
        }
        *array = item;
        item += *count * s->item_size;
        vm_config_item_defaults(s, item);
        *(char **)item = strdup(name);
        if (!*(char **)item) {
                st->oom = -ENOMEM;
                return NULL;
        }
        (*count)++;
        if (strcmp(s->name, "gpu") == 0 || strcmp(s->name, "pci") == 0)
                ((vm_pci *)item)->line = line;
        else if (strcmp(s->name, "usb") == 0)
                ((vm_usb *)item)->line = line;
        else if (strcmp(s->name, "input") == 0)
                ((vm_input *)item)->line = line;
        else if (strcmp(s->name, "disk") == 0)
                ((vm_disk *)item)->line = line;
        else if (strcmp(s->name, "net") == 0)
                ((vm_net *)item)->line = line;
        else if (strcmp(s->name, "share") == 0)
                ((vm_share *)item)->line = line;
        return item;
}

static int parse_bool(const char *v, bool *ret)
{
        static const char *const yes[] = { "yes", "on", "true", "1" }, *const no[] = { "no", "off", "false",
                                                                                       "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(v, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(v, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

static bool valid_uuid(const char *s)
{
        if (strlen(s) != 36)
                return false;
        for (size_t i = 0; i < 36; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return false;
                } else if (!isxdigit((unsigned char)s[i]))
                        return false;
        }
        return true;
}

static bool valid_mac(const char *s)
{
        uint32_t first;
        char b[3] = {};

        if (strlen(s) != 17)
                return false;
        for (size_t i = 0; i < 17; i++)
                if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
                        return false;
        memcpy(b, s, 2);
        /* Bit 0 of the first octet marks multicast, which a NIC cannot own (IEEE 802, 9.2). */
        return parse_hex_id(b, 8, &first) == 0 && !(first & 1);
}

static bool valid_text(const char *s)
{
        /* QEMU option values can hold anything but control characters; commas are escaped later. */
        for (; *s; s++)
                if ((unsigned char)*s < 0x20)
                        return false;
        return true;
}

static int record_line(parse_state *st, const char *section, const char *key, unsigned *ret_prev)
{
        vm_config *c = st->cfg;
        vm_key_line *l;

        for (size_t i = 0; i < c->n_lines; i++)
                if (strcmp(c->lines[i].section, section) == 0 && strcmp(c->lines[i].key, key) == 0) {
                        *ret_prev = c->lines[i].line;
                        return 0;
                }
        l = realloc(c->lines, (c->n_lines + 1) * sizeof(*l));
        if (!l)
                return -ENOMEM;
        c->lines = l;
        l = &c->lines[c->n_lines];
        l->section = strdup(section);
        l->key = strdup(key);
        l->line = st->line;
        if (!l->section || !l->key) {
                free(l->section);
                free(l->key);
                return -ENOMEM;
        }
        c->n_lines++;
        *ret_prev = 0;
        return 0;
}

unsigned vm_config_key_line(const vm_config *c, const char *section, const char *key)
{
        assert(c);

        for (size_t i = 0; i < c->n_lines; i++)
                if (strcmp(c->lines[i].section, section) == 0 && strcmp(c->lines[i].key, key) == 0)
                        return c->lines[i].line;
        return 0;
}

static char *join_values(const char *const *v)
{
        _cleanup_free_ char *s = NULL;

        for (; v && *v; v++) {
                char *n;

                if (asprintf(&n, "%s%s%s", s ? s : "", s ? ", " : "", *v) < 0)
                        return NULL;
                free(s);
                s = n;
        }
        return TAKE_PTR(s);
}

static void unknown_key(parse_state *st, const char *section, const char *kind, const char *key)
{
        const char *cand[ELEMENTSOF(keys)];
        _cleanup_free_ char *list = NULL;
        const char *hint;
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (strcmp(keys[i].section, kind) == 0)
                        cand[n++] = keys[i].key;
        cand[n] = NULL;
        list = join_values(cand);
        hint = vm_did_you_mean(key, cand, n);
        if (!hint)
                for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                        if (strcmp(keys[i].key, key) == 0) {
                                add_error(st, st->line,
                                          "[%s] unknown key '%s' ('%s' is a key of [%s]); keys in [%s]: %s",
                                          section, key, key, keys[i].section, kind, list ? list : "");
                                return;
                        }
        if (hint)
                add_error(st, st->line, "[%s] unknown key '%s' (did you mean '%s'?); keys in [%s]: %s",
                          section, key, hint, kind, list ? list : "");
        else
                add_error(st, st->line, "[%s] unknown key '%s'; keys in [%s]: %s", section, key, kind,
                          list ? list : "");
}

static void unknown_section(parse_state *st, const char *section, const char *kind)
{
        const char *cand[ELEMENTSOF(sections) + 1];
        _cleanup_free_ char *list = NULL;
        const char *hint;

        for (size_t i = 0; i < ELEMENTSOF(sections); i++)
                cand[i] = sections[i].name;
        cand[ELEMENTSOF(sections)] = NULL;
        list = join_values(cand);
        hint = vm_did_you_mean(kind, cand, ELEMENTSOF(sections));
        if (hint)
                add_error(st, st->line, "unknown section [%s] (did you mean [%s]?); sections: %s", section,
                          hint, list ? list : "");
        else
                add_error(st, st->line, "unknown section [%s]; sections: %s", section, list ? list : "");
}

static int set_string(char **dst, const char *v)
{
        char *s = strdup(v);

        if (!s)
                return -ENOMEM;
        free(*dst);
        *dst = s;
        return 0;
}

/* A value not in an enum's list: the error names the list and the closest value. */
static int report_not_allowed(parse_state *st, const char *section, const key_def *k, const char *v)
{
        _cleanup_free_ char *list = join_values(k->values);
        size_t n = 0;
        const char *hint;

        while (k->values[n])
                n++;
        hint = vm_did_you_mean(v, k->values, n);
        add_error(st, st->line, "[%s] %s: '%s' is not allowed%s%s%s; use one of: %s", section, k->key, v,
                  hint ? " (did you mean '" : "", hint ? hint : "", hint ? "'?)" : "", list ? list : "");
        return 0;
}

/* K_LIST: words separated by blanks, appended to the list. 1: not valid. */
static int parse_list_value(char ***dst, const char *v)
{
        _cleanup_strv_free_ char **words = NULL;
        int r;

        if (!valid_text(v))
                return 1;
        r = strv_split(v, " \t", &words);
        if (r < 0)
                return r;
        if (!words || !words[0])
                return 1;
        STRV_FOREACH(w, words) {
                r = strv_extend(dst, *w);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* K_USB_ID: vendor:product in hex without 0x (lsusb's form). 1: not valid. */
static int parse_usb_id(vm_usb *usb, const char *v)
{
        const char *colon = strchr(v, ':');
        char vid[8] = {};
        uint32_t a, p;

        if (!colon || colon - v > 4 || colon == v)
                return 1;
        memcpy(vid, v, (size_t)(colon - v));
        if (parse_hex_id(vid, 16, &a) < 0 || parse_hex_id(colon + 1, 16, &p) < 0 ||
            strncasecmp(colon + 1, "0x", 2) == 0 || strncasecmp(vid, "0x", 2) == 0)
                return 1;
        usb->vendor = (uint16_t)a;
        usb->product = (uint16_t)p;
        usb->has_id = true;
        return 0;
}

/* K_FUNCTIONS: auto, none, or the functions to pass with the device. 1: not valid. */
static int parse_functions(vm_pci *p, const char *v)
{
        _cleanup_strv_free_ char **words = NULL;
        int r;

        r = strv_split(v, " \t,", &words);
        if (r < 0)
                return r;
        if (!words || !words[0])
                return 1;
        if (strcmp(words[0], "auto") == 0 && !words[1]) {
                p->functions_auto = true;
                return 0;
        }
        /* "none": the device's own function only (a GPU without HDMI audio, or one left to the
         * host). */
        if (strcmp(words[0], "none") == 0 && !words[1]) {
                p->functions_auto = false;
                p->functions = strv_free(p->functions);
                return 0;
        }
        if (strv_contains(words, "auto") || strv_contains(words, "none"))
                return 1;
        p->functions_auto = false;
        strv_free(p->functions);
        p->functions = TAKE_PTR(words);
        return 0;
}

static int parse_value(parse_state *st, const char *section, const key_def *k, void *item, const char *v)
{
        void *dst = (char *)item + k->offset;
        uint64_t u;
        bool b;
        int r;

        switch (k->type) {
        case K_STRING:
                if (!*v || !valid_text(v))
                        goto bad;
                return set_string(dst, v);
        case K_PATH:
                if (v[0] != '/' || !valid_text(v))
                        goto bad;
                return set_string(dst, v);
        case K_UUID:
                if (!valid_uuid(v))
                        goto bad;
                return set_string(dst, v);
        case K_MAC:
                if (!valid_mac(v))
                        goto bad;
                return set_string(dst, v);
        case K_BOOL:
                if (parse_bool(v, &b) < 0)
                        goto bad;
                *(bool *)dst = b;
                return 0;
        case K_UINT:
        case K_HEX:
                r = parse_uint(v, k->type == K_HEX ? 0 : 10, k->max, &u);
                if (r < 0 || u < k->min)
                        goto bad;
                *(unsigned *)dst = (unsigned)u;
                return 0;
        case K_SIZE:
                if (parse_size(v, &u) < 0 || u < k->min || u > k->max)
                        goto bad;
                *(uint64_t *)dst = u;
                return 0;
        case K_ENUM:
        case K_WORD:
                for (size_t i = 0; k->values[i]; i++)
                        if (strcmp(v, k->values[i]) == 0) {
                                if (k->type == K_WORD)
                                        return set_string(dst, v);
                                *(int *)dst = (int)i;
                                return 0;
                        }
                return report_not_allowed(st, section, k, v);
        case K_LIST:
                r = parse_list_value(dst, v);
                if (r > 0)
                        goto bad;
                return r;
        case K_USB_ID:
                if (parse_usb_id(item, v) > 0)
                        goto bad;
                return 0;
        case K_FUNCTIONS:
                r = parse_functions(item, v);
                if (r > 0)
                        goto bad;
                return r;
        }
bad:
        add_error(st, st->line, "[%s] %s: '%s' is not valid; expected %s", section, k->key, v,
                  k->allowed ? k->allowed : "a value");
        return 0;
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
        parse_state *st = user;
        _cleanup_free_ char *kind = NULL, *name = NULL;
        const section_def *s;
        const key_def *k = NULL;
        unsigned prev;
        void *item;
        int r;

        if (!*section) {
                add_error(st, st->line, "'%s' is outside any section; put it under [vm] or another section",
                          key);
                return 1;
        }
        r = split_section(section, &kind, &name);
        if (r == -ENOMEM) {
                st->oom = r;
                return 0;
        }
        if (r < 0) {
                add_error(st, st->line,
                          "section [%s] is malformed; write [kind \"name\"], e.g. [disk \"system\"]",
                          section);
                return 1;
        }
        s = find_section(kind);
        if (!s) {
                unknown_section(st, section, kind);
                return 1;
        }
        if (!s->repeated && name) {
                add_error(st, st->line, "section [%s] takes no name; write [%s]", section, kind);
                return 1;
        }
        if (s->repeated && !name && !s->name_optional) {
                add_error(st, st->line, "section [%s] needs a name, e.g. [%s \"%s\"]", section, kind,
                          strcmp(kind, "disk") == 0 ? "system" : "main");
                return 1;
        }
        if (name && !valid_item_name(name)) {
                add_error(
                        st, st->line,
                        "section [%s]: the name '%s' may hold only letters, digits, '-' and '_' (at most 32)",
                        section, name);
                return 1;
        }
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (strcmp(keys[i].section, kind) == 0 && strcmp(keys[i].key, key) == 0)
                        k = &keys[i];
        if (!k) {
                unknown_key(st, section, kind, key);
                return 1;
        }
        r = record_line(st, section, key, &prev);
        if (r < 0) {
                st->oom = r;
                return 0;
        }
        if (prev && k->type != K_LIST) {
                add_error(st, st->line, "[%s] %s is set twice (first on line %u); keep one", section, key,
                          prev);
                return 1;
        }
        item = section_item(st, s, name ? name : kind, st->line);
        if (!item)
                return st->oom ? 0 : 1;
        if (strcmp(kind, "tpm") == 0)
                st->cfg->tpm.enabled = true;
        else if (strcmp(kind, "audio") == 0)
                st->cfg->audio.enabled = true;
        else if (strcmp(kind, "looking-glass") == 0)
                st->cfg->looking_glass.enabled = true;
        r = parse_value(st, section, k, item, value);
        if (r < 0) {
                st->oom = r;
                return 0;
        }
        return 1;
}

/* Sections with no keys never reach the handler; note them here so "[tpm]" alone enables a TPM. */
static void scan_empty_sections(parse_state *st)
{
        const char *p = st->text;

        while (p && *p) {
                const char *eol = strchr(p, '\n');
                size_t n = eol ? (size_t)(eol - p) : strlen(p);

                while (n > 0 && (*p == ' ' || *p == '\t')) {
                        p++;
                        n--;
                }
                if (n >= 5 && strncmp(p, "[tpm]", 5) == 0)
                        st->cfg->tpm.enabled = true;
                else if (n >= 7 && strncmp(p, "[audio]", 7) == 0)
                        st->cfg->audio.enabled = true;
                else if (n >= 15 && strncmp(p, "[looking-glass]", 15) == 0)
                        st->cfg->looking_glass.enabled = true;
                p = eol ? eol + 1 : NULL;
        }
}

static void check_error(char ***errors, int *ret, const vm_config *c, unsigned line, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static void check_error(char ***errors, int *ret, const vm_config *c, unsigned line, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        char *full = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r >= 0)
                r = asprintf(&full, "%s:%u: %s", c->filename ? c->filename : c->name, line, msg);
        if (r < 0 || strv_push(errors, full) < 0) {
                free(full);
                *ret = -ENOMEM;
                return;
        }
        if (*ret == 0)
                *ret = -EINVAL;
}

#define ERR(line, ...) check_error(errors, ret, c, (line), __VA_ARGS__)
#define LINE(sec, key) vm_config_key_line(c, (sec), (key))

static unsigned section_line(const vm_config *c, const char *kind, const char *name)
{
        char sec[64];

        snprintf(sec, sizeof(sec), name ? "%s \"%s\"" : "%s", kind, name);
        for (size_t i = 0; i < c->n_lines; i++)
                if (strcmp(c->lines[i].section, sec) == 0)
                        return c->lines[i].line;
        return 0;
}

/* The line of a key in a named section ([net "n"] helper), 0 when not set. */
static unsigned item_key_line(const vm_config *c, const char *kind, const char *name, const char *key)
{
        char sec[80];

        snprintf(sec, sizeof(sec), "%s \"%s\"", kind, name);
        return vm_config_key_line(c, sec, key);
}

/*
 * A config built by a caller (libvirt import) rather than parsed can hold what no line of a file can:
 * a control character (a newline would start a new line, a key or a section, in the written file) or a
 * list word with a blank (it would read back as two). Checked for every text key of every section.
 */
static void check_text_values(const vm_config *c, char ***errors, int *ret)
{
        size_t nkeys = ELEMENTSOF(keys);

        for (size_t si = 0; si < ELEMENTSOF(sections); si++) {
                const section_def *s = &sections[si];
                const char *base = (const char *)c + s->cfg_offset;
                size_t n = s->repeated ? *(const size_t *)((const char *)c + s->count_offset) : 1;

                for (size_t i = 0; i < n; i++) {
                        const char *item = s->repeated ? *(char *const *)base + i * s->item_size : base;
                        const char *name = s->repeated ? *(char *const *)item : NULL;
                        char sec[64];

                        snprintf(sec, sizeof(sec), name ? "%s \"%s\"" : "%s", s->name, name);
                        for (size_t k = 0; k < nkeys; k++) {
                                const key_def *kd = &keys[k];
                                const char *v = NULL;

                                if (strcmp(kd->section, s->name) != 0)
                                        continue;
                                if (kd->type == K_STRING || kd->type == K_PATH || kd->type == K_WORD ||
                                    kd->type == K_UUID || kd->type == K_MAC)
                                        v = *(char *const *)(item + kd->offset);
                                if (v && !valid_text(v))
                                        check_error(
                                                errors, ret, c, vm_config_key_line(c, sec, kd->key),
                                                "[%s] %s: the value holds a control character (a line break?); write it on one line",
                                                sec, kd->key);
                                if (kd->type != K_LIST)
                                        continue;
                                STRV_FOREACH(w, *(char **const *)(item + kd->offset))
                                        if (!**w || !valid_text(*w) || strchr(*w, ' '))
                                                check_error(
                                                        errors, ret, c, vm_config_key_line(c, sec, kd->key),
                                                        "[%s] %s: the word '%s' is empty or holds a blank or control character; a list is words separated by blanks",
                                                        sec, kd->key, *w);
                        }
                }
        }
}

/* The accelerator and the firmware the machine can carry. */
static void check_accel_firmware(const vm_config *c, char ***errors, int *ret)
{
        if (c->vm.accel == VM_ACCEL_TCG && strcmp(c->cpu.model, "host") == 0)
                ERR(LINE("cpu", "model") ?: LINE("vm", "accel"),
                    "[cpu] model = host needs accel = kvm; with accel = tcg set model = max or qemu64");
        if (c->firmware.secure_boot && c->vm.machine != VM_MACHINE_Q35)
                ERR(LINE("firmware", "secure_boot"),
                    "[firmware] secure_boot needs machine = q35 (OVMF Secure Boot requires SMM, which i440fx lacks)");
        if (c->firmware.secure_boot && c->firmware.type != VM_FIRMWARE_OVMF)
                ERR(LINE("firmware", "secure_boot"), "[firmware] secure_boot needs type = ovmf");
}

/* [cpu] names that land in -cpu, which cannot escape a separator. */
static void check_cpu_names(const vm_config *c, char ***errors, int *ret)
{
        if (c->cpu.hyperv_vendor_id && strlen(c->cpu.hyperv_vendor_id) > 12)
                ERR(LINE("cpu", "hyperv_vendor_id"),
                    "[cpu] hyperv_vendor_id: '%s' is longer than 12 characters (the CPUID leaf holds 12)",
                    c->cpu.hyperv_vendor_id);
        /* -cpu splits features on ',' without an escape (x86_cpu_parse_featurestr). */
        if (c->cpu.hyperv_vendor_id && strpbrk(c->cpu.hyperv_vendor_id, ",="))
                ERR(LINE("cpu", "hyperv_vendor_id"), "[cpu] hyperv_vendor_id may not hold ',' or '='");
        if (strpbrk(c->cpu.model, ",= "))
                ERR(LINE("cpu", "model"),
                    "[cpu] model: '%s' is not a CPU model name; extra flags go in hyperv_extra",
                    c->cpu.model);
}

/* Root ports and the slots vfioctl lays out for passed devices. */
static void check_slots(const vm_config *c, char ***errors, int *ret)
{
        if (c->vm.spare_root_ports && c->vm.machine != VM_MACHINE_Q35)
                ERR(LINE("vm", "spare_root_ports"),
                    "[vm] spare_root_ports needs machine = q35 (i440fx has no PCIe)");
        /* Passed devices take slots 0x10 upward of the root bus; q35's LPC/SATA/SMBus sit at 0x1f. */
        {
                size_t used = c->n_gpus + c->n_pcis + c->vm.spare_root_ports;
                size_t max = c->vm.machine == VM_MACHINE_Q35 ? 15 : 16;

                if (used > max)
                        ERR(LINE("vm", "spare_root_ports") ?: (c->n_pcis ? c->pcis[c->n_pcis - 1].line : 1),
                            "%zu passed-through devices and spare root ports do not fit the %zu slots vfioctl lays out (0x10 upward); pass fewer or lower spare_root_ports",
                            used, max);
        }
}

/* hv-NAME or hv-NAME=VALUE: one -cpu property, nothing that could start another (',' splits -cpu). */
static bool valid_hv_flag(const char *f)
{
        const char *eq;

        if (strncmp(f, "hv-", 3) != 0 || strlen(f) > 64)
                return false;
        eq = strchr(f, '=');
        for (const char *p = f + 3; *p && p != eq; p++)
                if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-' && *p != '_')
                        return false;
        if (eq && (!eq[1] || strspn(eq + 1, "0123456789abcdefABCDEFxX") != strlen(eq + 1)))
                return false;
        return !eq || eq > f + 3;
}

/* +NAME / -NAME with a QEMU feature name (target/i386/cpu.c spells them lower case, '-', '_', '.'). */
static bool valid_feature(const char *f)
{
        if ((f[0] != '+' && f[0] != '-') || !f[1] || strlen(f) > 64)
                return false;
        for (const char *p = f + 1; *p; p++)
                if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && !strchr("-_.", *p))
                        return false;
        return true;
}

/* Hyper-V flags, CPU features, the vCPUs started and CPU pinning. */
static void check_cpu_features(const vm_config *c, char ***errors, int *ret)
{
        unsigned vcpus = vm_config_vcpus(c);

        /* Each flag is one -cpu property, and -cpu cannot escape ',' (see [cpu] model). */
        STRV_FOREACH(f, c->cpu.hyperv_extra)
                if (!valid_hv_flag(*f))
                        ERR(LINE("cpu", "hyperv_extra"),
                            "[cpu] hyperv_extra: '%s' is not an hv-* flag (hv-vpindex, or hv-spinlocks=0x1fff)",
                            *f);
        STRV_FOREACH(f, c->cpu.features)
                if (!valid_feature(*f))
                        ERR(LINE("cpu", "features"),
                            "[cpu] features: '%s' is not +NAME or -NAME with a QEMU CPU feature name (+topoext, -hypervisor)",
                            *f);
        if (c->cpu.vcpus > vm_config_max_vcpus(c))
                ERR(LINE("cpu", "vcpus"),
                    "[cpu] vcpus = %u is more than the %u places of the topology (sockets x cores x threads)",
                    c->cpu.vcpus, vm_config_max_vcpus(c));
        if (c->cpu.pin && strv_length(c->cpu.pin) != vcpus)
                ERR(LINE("cpu", "pin"),
                    "[cpu] pin lists %zu host CPUs but the VM starts %u vCPUs ([cpu] vcpus, else sockets x cores x threads); list exactly one per vCPU",
                    strv_length(c->cpu.pin), vcpus);
        STRV_FOREACH(p, c->cpu.pin) {
                uint64_t u;

                if (parse_uint(*p, 10, 8191, &u) < 0)
                        ERR(LINE("cpu", "pin"), "[cpu] pin: '%s' is not a host CPU number", *p);
        }
        STRV_FOREACH(p, c->cpu.emulator_pin) {
                uint64_t u;

                if (parse_uint(*p, 10, 8191, &u) < 0)
                        ERR(LINE("cpu", "emulator_pin"), "[cpu] emulator_pin: '%s' is not a host CPU number",
                            *p);
        }
}

/* Hugepages, preallocation. */
static void check_memory(const vm_config *c, char ***errors, int *ret)
{
        if (c->memory.hugepages != VM_HUGEPAGES_NONE) {
                uint64_t page = c->memory.hugepages == VM_HUGEPAGES_1G ? 1ULL << 30 : 2ULL << 20;

                if (c->memory.size % page)
                        ERR(LINE("memory", "size") ?: LINE("memory", "hugepages"),
                            "[memory] size must be a multiple of the %s hugepage size",
                            vm_hugepages_to_string(c->memory.hugepages));
        }
        if (c->memory.prealloc_threads && !c->memory.prealloc && c->memory.hugepages == VM_HUGEPAGES_NONE)
                ERR(LINE("memory", "prealloc_threads"), "[memory] prealloc_threads needs prealloc = yes");
        if (c->memory.hugepage_path && c->memory.hugepages == VM_HUGEPAGES_NONE)
                ERR(LINE("memory", "hugepage_path"), "[memory] hugepage_path needs hugepages = 2M or 1G");
        STRV_FOREACH(p, c->memory.host_nodes) {
                uint64_t u;

                /* MAX_NUMNODES is 1 << CONFIG_NODES_SHIFT, 1024 on distribution kernels. */
                if (parse_uint(*p, 10, 1023, &u) < 0)
                        ERR(LINE("memory", "host_nodes"),
                            "[memory] host_nodes: '%s' is not a host NUMA node number (0 to 1023; see /sys/devices/system/node)",
                            *p);
        }
}

/* The display, direct kernel boot and monitor input switching. */
static void check_display_boot(const vm_config *c, char ***errors, int *ret)
{
        if (c->display.protocol != VM_PROTOCOL_NONE && c->display.device == VM_DISPLAY_NONE)
                ERR(LINE("display", "protocol"),
                    "[display] protocol = %s needs a display device: set device = virtio-vga, qxl or std",
                    vm_display_protocol_to_string(c->display.protocol));
        if (c->display.socket && c->display.protocol == VM_PROTOCOL_NONE)
                ERR(LINE("display", "socket"), "[display] socket needs protocol = spice or vnc");
        if ((c->vm.initrd || c->vm.append) && !c->vm.kernel)
                ERR(LINE("vm", "initrd") ?: LINE("vm", "append"),
                    "[vm] initrd and append need kernel = PATH");
        if ((LINE("display", "ddc_bus") || c->display.monitor) &&
            (!c->display.input_host || !c->display.input_guest))
                ERR(LINE("display", "ddc_bus") ?: LINE("display", "monitor"),
                    "[display] monitor switching needs both input_host and input_guest (VCP 0x60 values; list them with: ddcutil capabilities)");
        if ((c->display.input_host || c->display.input_guest) && !LINE("display", "ddc_bus") &&
            !c->display.monitor)
                ERR(LINE("display", "input_host") ?: LINE("display", "input_guest"),
                    "[display] input_host/input_guest need ddc_bus = N or monitor = N (ddcutil detect lists them)");
}

/* [audio] keys that belong to one backend or device, the desktop user they name, Looking Glass's device. */
static void check_audio(const vm_config *c, char ***errors, int *ret)
{
        if (c->audio.enabled && c->audio.codec == VM_CODEC_OUTPUT && c->audio.device == VM_AUDIO_AC97)
                ERR(LINE("audio", "codec"), "[audio] codec applies to HDA devices only, not ac97");
        if (c->audio.server && c->audio.backend != VM_AUDIO_PA)
                ERR(LINE("audio", "server"), "[audio] server needs backend = pa");
        if (c->audio.server && c->audio.server[0] != '/' && strcmp(c->audio.server, "desktop") != 0 &&
            strcmp(c->audio.server, "none") != 0)
                ERR(LINE("audio", "server"),
                    "[audio] server: '%s' is not valid; expected desktop, none or an absolute socket path (/run/user/1000/pulse/native)",
                    c->audio.server);
        if (c->audio.server && strcmp(c->audio.server, "desktop") == 0 && !c->vm.desktop_user)
                ERR(LINE("audio", "server"),
                    "[audio] server = desktop needs [vm] desktop_user = NAME (the user whose sound server plays the VM)");
        if (c->vm.desktop_user && !valid_user_name(c->vm.desktop_user))
                ERR(LINE("vm", "desktop_user"),
                    "[vm] desktop_user: '%s' is not a user name (letters, digits, '.', '_', '-'; at most 32)",
                    c->vm.desktop_user);
        if (c->looking_glass.path && c->looking_glass.device == VM_LG_SHM &&
            strncmp(c->looking_glass.path, "/dev/kvmfr", 10) == 0)
                ERR(LINE("looking-glass", "path"),
                    "[looking-glass] path = %s is a kvmfr device: add device = kvmfr",
                    c->looking_glass.path);
        if (c->audio.alsa_device && c->audio.backend != VM_AUDIO_ALSA)
                ERR(LINE("audio", "alsa_device"), "[audio] alsa_device needs backend = alsa");
}

/* [gpu], [pci] and [usb] name their device. */
static void check_devices(const vm_config *c, char ***errors, int *ret)
{
        for (size_t i = 0; i < c->n_gpus; i++) {
                const vm_pci *p = &c->gpus[i];

                if (!p->device)
                        ERR(p->line,
                            "[gpu%s%s%s] needs device = SELECTOR (01:00.0, 10de:1b80 or 'NVIDIA*'), or 'auto' via vfioctl create --gpu auto",
                            strcmp(p->name, "gpu") ? " \"" : "", strcmp(p->name, "gpu") ? p->name : "",
                            strcmp(p->name, "gpu") ? "\"" : "");
                if (p->display_manager) {
                        char sec[160];
                        size_t n = strlen(p->display_manager);

                        snprintf(sec, sizeof(sec), strcmp(p->name, "gpu") ? "gpu \"%s\"" : "%s", p->name);
                        if (!p->handoff)
                                ERR(LINE(sec, "display_manager"), "[%s] display_manager needs handoff = yes",
                                    sec);
                        /* A unit name as systemd spells one (systemd.unit(5), "Description"). */
                        if (n < 9 || n > 255 || strcmp(p->display_manager + n - 8, ".service") != 0 ||
                            p->display_manager[strspn(p->display_manager,
                                                      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                      "0123456789:_.\\@-")] != 0)
                                ERR(LINE(sec, "display_manager"),
                                    "[%s] display_manager: '%s' is not a systemd service name (gdm.service, sddm.service, lightdm.service)",
                                    sec, p->display_manager);
                }
        }
        /* Each card after the first with handoff is refused once, at its own handoff line. */
        for (size_t j = 0, first = SIZE_MAX; j < c->n_gpus; j++) {
                char sec[160];

                if (!c->gpus[j].handoff)
                        continue;
                if (first == SIZE_MAX) {
                        first = j;
                        continue;
                }
                snprintf(sec, sizeof(sec), strcmp(c->gpus[j].name, "gpu") ? "gpu \"%s\"" : "%s",
                         c->gpus[j].name);
                ERR(LINE(sec, "handoff"),
                    "[%s] handoff: only one GPU can be the host's display handed to the VM ([%s%s%s] has it too)",
                    sec, strcmp(c->gpus[first].name, "gpu") ? "gpu \"" : "", c->gpus[first].name,
                    strcmp(c->gpus[first].name, "gpu") ? "\"" : "");
        }
        for (size_t i = 0; i < c->n_pcis; i++)
                if (!c->pcis[i].device)
                        ERR(c->pcis[i].line, "[pci \"%s\"] needs device = SELECTOR (03:00.0 or 1912:0014)",
                            c->pcis[i].name);
        for (size_t i = 0; i < c->n_usbs; i++) {
                const vm_usb *u = &c->usbs[i];

                if (u->has_id == (u->host_bus || u->host_port))
                        ERR(u->line,
                            "[usb \"%s\"] needs either device = VENDOR:PRODUCT or host_bus and host_port",
                            u->name);
                else if (!u->has_id && (!u->host_bus || !u->host_port))
                        ERR(u->line, "[usb \"%s\"] needs both host_bus and host_port (see lsusb -t)",
                            u->name);
        }
}

/* evdev keys need type = evdev and the reverse. */
static void check_inputs(const vm_config *c, char ***errors, int *ret)
{
        for (size_t i = 0; i < c->n_inputs; i++) {
                const vm_input *in = &c->inputs[i];
                bool evdev = in->type == VM_INPUT_EVDEV;

                if (evdev && !in->evdev)
                        ERR(in->line,
                            "[input \"%s\"] type = evdev needs evdev = /dev/input/by-id/...-event-kbd",
                            in->name);
                if (!evdev && (in->evdev || in->grab_all || in->repeat || in->grab_toggle ||
                               in->relay != VM_RELAY_AUTO))
                        ERR(in->line,
                            "[input \"%s\"] evdev, grab_all, repeat, grab_toggle and relay need type = evdev",
                            in->name);
        }
}

/* Disk buses, media and options QEMU would refuse together. */
static void check_disks(const vm_config *c, char ***errors, int *ret)
{
        for (size_t i = 0; i < c->n_disks; i++) {
                const vm_disk *d = &c->disks[i];
                unsigned l = section_line(c, "disk", d->name);

                if (!d->path)
                        ERR(d->line,
                            "[disk \"%s\"] needs path = /absolute/path (image, block device or zvol)",
                            d->name);
                if (d->media == VM_MEDIA_CDROM && d->bus == VM_DISK_VIRTIO_BLK)
                        ERR(l, "[disk \"%s\"] media = cdrom needs bus = sata, ide or virtio-scsi", d->name);
                /* QEMU refuses read-only IDE/AHCI hard disks ("Block node is read-only"). */
                if (d->readonly && d->media == VM_MEDIA_DISK &&
                    (d->bus == VM_DISK_SATA || d->bus == VM_DISK_IDE))
                        ERR(l,
                            "[disk \"%s\"] readonly needs bus = virtio-blk or virtio-scsi (QEMU cannot make SATA/IDE hard disks read-only); or use media = cdrom",
                            d->name);
                if (d->iothread && d->bus != VM_DISK_VIRTIO_BLK && d->bus != VM_DISK_VIRTIO_SCSI)
                        ERR(l, "[disk \"%s\"] iothread needs bus = virtio-blk or virtio-scsi", d->name);
                /* Linux AIO only works on O_DIRECT files (QEMU docs, -drive aio=native). */
                if (d->aio && strcmp(d->aio, "native") == 0 &&
                    !(d->cache && (strcmp(d->cache, "none") == 0 || strcmp(d->cache, "directsync") == 0)))
                        ERR(l, "[disk \"%s\"] aio = native needs cache = none or directsync", d->name);
                if (d->serial && strlen(d->serial) > 20)
                        ERR(l,
                            "[disk \"%s\"] serial: '%s' is longer than the 20 characters virtio-blk allows",
                            d->name, d->serial);
        }
}

/* Network types and their keys. */
static void check_nets(const vm_config *c, char ***errors, int *ret)
{
        for (size_t i = 0; i < c->n_nets; i++) {
                const vm_net *n = &c->nets[i];
                unsigned l = section_line(c, "net", n->name);

                if (n->type == VM_NET_BRIDGE && !n->bridge)
                        ERR(l, "[net \"%s\"] type = bridge needs bridge = br0", n->name);
                if (n->type != VM_NET_BRIDGE && (n->bridge || n->helper))
                        ERR(l, "[net \"%s\"] bridge and helper need type = bridge", n->name);
                /* QEMU runs a helper whose path holds a blank as a command line of /bin/sh (net/tap.c). */
                if (n->helper && strchr(n->helper, ' '))
                        ERR(item_key_line(c, "net", n->name, "helper"),
                            "[net \"%s\"] helper: '%s' holds a blank, which QEMU would run through /bin/sh; give the helper's path alone (/usr/lib/qemu/qemu-bridge-helper)",
                            n->name, n->helper);
                if (n->type == VM_NET_TAP && !n->ifname)
                        ERR(l, "[net \"%s\"] type = tap needs ifname = tap0", n->name);
                if (n->type == VM_NET_MACVTAP && !n->ifname)
                        ERR(l,
                            "[net \"%s\"] type = macvtap needs ifname = the macvtap interface (ip link add link enp5s0 name macvtap0 type macvtap mode bridge)",
                            n->name);
                if (n->type != VM_NET_TAP && n->type != VM_NET_MACVTAP && n->ifname)
                        ERR(l, "[net \"%s\"] ifname needs type = tap or macvtap", n->name);
                if (n->type != VM_NET_MACVTAP && (n->link || n->macvtap_mode))
                        ERR(l, "[net \"%s\"] link and macvtap_mode need type = macvtap", n->name);
                if (n->type != VM_NET_USER && n->hostfwd)
                        ERR(l, "[net \"%s\"] hostfwd needs type = user", n->name);
                STRV_FOREACH(f, n->hostfwd)
                        if ((strncmp(*f, "tcp:", 4) != 0 && strncmp(*f, "udp:", 4) != 0) || !strchr(*f, '-'))
                                ERR(l,
                                    "[net \"%s\"] hostfwd: '%s' is not valid; expected PROTO:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT (tcp::24800-:24800)",
                                    n->name, *f);
        }
}

/*
 * QEMU refuses more CPUs than the machine type takes ("The max CPUs supported by machine 'pc-q35-7.2' is
 * 288"; i440fx 255): say so here, with the product that exceeds it.
 */
static void check_machine_cpus(const vm_config *c, char ***errors, int *ret)
{
        unsigned vcpus = vm_config_vcpus(c), max = c->vm.machine == VM_MACHINE_Q35 ? 288 : 255;

        if (vcpus > max)
                ERR(LINE("cpu", "cores") ?: LINE("cpu", "sockets") ?: LINE("cpu", "threads"),
                    "[cpu] sockets %u x cores %u x threads %u = %u vCPUs; QEMU's %s machine takes at most %u: lower cores or sockets",
                    c->cpu.sockets, c->cpu.cores, c->cpu.threads, vcpus,
                    c->vm.machine == VM_MACHINE_Q35 ? "q35" : "i440fx", max);
}

static unsigned boot_line(const vm_config *c, const char *kind, const char *name, unsigned fallback)
{
        unsigned l = item_key_line(c, kind, name, "bootindex");

        if (!l && !strcmp(kind, "gpu"))
                l = vm_config_key_line(c, "gpu", "bootindex");
        return l ? l : fallback;
}

/* QEMU refuses two devices with one bootindex ("bootindex N used by two devices"). */
static void check_bootindex(const vm_config *c, char ***errors, int *ret)
{
        struct {
                unsigned index, line;
                char what[80];
        } seen[4 * VM_CONFIG_MAX_ITEMS];
        size_t n = 0;

#define SEEN(idx, ln, ...)                                                         \
        do {                                                                       \
                if ((idx) && n < ELEMENTSOF(seen)) {                               \
                        seen[n].index = (idx);                                     \
                        seen[n].line = (ln);                                       \
                        snprintf(seen[n].what, sizeof(seen[n].what), __VA_ARGS__); \
                        n++;                                                       \
                }                                                                  \
        } while (0)
        for (size_t i = 0; i < c->n_disks; i++)
                SEEN(c->disks[i].bootindex, boot_line(c, "disk", c->disks[i].name, c->disks[i].line),
                     "[disk \"%s\"]", c->disks[i].name);
        for (size_t i = 0; i < c->n_gpus; i++)
                SEEN(c->gpus[i].bootindex, boot_line(c, "gpu", c->gpus[i].name, c->gpus[i].line),
                     "[gpu \"%s\"]", c->gpus[i].name);
        for (size_t i = 0; i < c->n_pcis; i++)
                SEEN(c->pcis[i].bootindex, boot_line(c, "pci", c->pcis[i].name, c->pcis[i].line),
                     "[pci \"%s\"]", c->pcis[i].name);
        for (size_t i = 0; i < c->n_usbs; i++)
                SEEN(c->usbs[i].bootindex, boot_line(c, "usb", c->usbs[i].name, c->usbs[i].line),
                     "[usb \"%s\"]", c->usbs[i].name);
#undef SEEN
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < i; j++)
                        if (seen[i].index == seen[j].index)
                                ERR(seen[i].line,
                                    "%s bootindex = %u is also the bootindex of %s; each boot device needs its own",
                                    seen[i].what, seen[i].index, seen[j].what);
}

/* OVMF's 64-bit MMIO window. */
static void check_mmio64(const vm_config *c, char ***errors, int *ret)
{
        if (c->firmware.mmio64_size && c->firmware.type != VM_FIRMWARE_OVMF)
                ERR(LINE("firmware", "mmio64_size"),
                    "[firmware] mmio64_size needs type = ovmf (an OVMF setting)");
        if (c->firmware.mmio64_size % (1ULL << 20))
                ERR(LINE("firmware", "mmio64_size"),
                    "[firmware] mmio64_size must be whole MiB (OVMF reads it in MiB)");
}

/* Shares and the user network QEMU's SMB server needs. */
static void check_shares(const vm_config *c, char ***errors, int *ret)
{
        for (size_t i = 0; i < c->n_shares; i++) {
                const vm_share *s = &c->shares[i];
                bool user_net = false;

                if (!s->path)
                        ERR(s->line, "[share \"%s\"] needs path = /absolute/dir", s->name);
                for (size_t j = 0; j < c->n_nets; j++)
                        user_net = user_net || c->nets[j].type == VM_NET_USER;
                if (s->type == VM_SHARE_SMB && !user_net)
                        ERR(s->line,
                            "[share \"%s\"] type = smb needs a [net] with type = user (QEMU's built-in SMB server rides on user networking)",
                            s->name);
        }
        {
                size_t smb = 0;

                for (size_t i = 0; i < c->n_shares; i++)
                        smb += c->shares[i].type == VM_SHARE_SMB;
                if (smb > 1)
                        ERR(c->shares[c->n_shares - 1].line,
                            "only one [share] of type = smb is possible (QEMU's -netdev user,smb= takes one directory)");
        }
}

int vm_config_check(const vm_config *c, char ***errors)
{
        int ret = 0;

        check_text_values(c, errors, &ret);
        check_machine_cpus(c, errors, &ret);
        check_accel_firmware(c, errors, &ret);
        check_cpu_names(c, errors, &ret);
        check_slots(c, errors, &ret);
        check_cpu_features(c, errors, &ret);
        check_memory(c, errors, &ret);
        check_display_boot(c, errors, &ret);
        check_audio(c, errors, &ret);
        check_devices(c, errors, &ret);
        check_inputs(c, errors, &ret);
        check_disks(c, errors, &ret);
        check_nets(c, errors, &ret);
        check_bootindex(c, errors, &ret);
        check_mmio64(c, errors, &ret);
        check_shares(c, errors, &ret);
        return ret;
}

/* [cpu] and friends take defaults from [vm] os unless set explicitly. */
static int apply_os_defaults(vm_config *c)
{
        if (c->vm.os != VM_OS_WINDOWS)
                return 0;
        /*
         * Windows keeps the RTC in local time, counts missed timer ticks (so the RTC catches up and the PIT
         * delays), and runs best with Hyper-V enlightenments and no HPET: libvirt's Windows defaults.
         */
        if (!vm_config_key_line(c, "vm", "rtc_localtime"))
                c->vm.rtc_localtime = true;
        if (!vm_config_key_line(c, "vm", "rtc_catchup"))
                c->vm.rtc_catchup = true;
        if (!vm_config_key_line(c, "vm", "pit_delay"))
                c->vm.pit_delay = true;
        if (!vm_config_key_line(c, "vm", "hpet"))
                c->vm.hpet = false;
        if (!vm_config_key_line(c, "cpu", "hyperv"))
                c->cpu.hyperv = true;
        return 0;
}

/* Every parse error starts with "FILENAME:"; the file name may itself hold colons. */
static _Thread_local size_t error_prefix_len;

static unsigned error_line(const char *e)
{
        char digits[16] = {};
        size_t n;
        uint64_t v;

        if (strlen(e) <= error_prefix_len)
                return 0;
        e += error_prefix_len;
        n = strspn(e, "0123456789");
        if (n == 0 || n >= sizeof(digits))
                return 0;
        memcpy(digits, e, n);
        return parse_uint(digits, 10, UINT32_MAX, &v) < 0 ? 0 : (unsigned)v;
}

static int cmp_error_line(const void *a, const void *b)
{
        unsigned x = error_line(*(char *const *)a), y = error_line(*(char *const *)b);

        /* qsort is not stable; equal lines keep a fixed order by their text. */
        return x != y ? (x > y) - (x < y) : strcmp(*(char *const *)a, *(char *const *)b);
}

int vm_config_parse_string(const char *text, const char *filename, const char *name, vm_config **ret,
                           char ***ret_errors)
{
        _cleanup_(vm_config_freep) vm_config *c = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        parse_state st = { .filename = filename ? filename : "<string>",
                           .text = text,
                           .at_line_start = true };
        int r;

        assert(ret);
        assert(ret_errors);

        r = vm_config_new(name, &c);
        if (r < 0)
                return r;
        c->filename = strdup(st.filename);
        if (!c->filename)
                return -ENOMEM;
        st.cfg = c;
        /* Debian's inih exposes its build options at run time; pin the ones this format relies on. */
        ini_allow_multiline = false;
        ini_allow_inline_comments = true;
        ini_use_stack = false;
        ini_allow_realloc = true;
        ini_max_line = 64 * 1024;
        ini_stop_on_first_error = false;
        r = ini_parse_stream(reader, &st, handler, &st);
        if (st.oom < 0) {
                strv_free(st.errors);
                return st.oom;
        }
        errors = TAKE_PTR(st.errors);
        if (r > 0) {
                bool reported = false;
                char prefix[64];

                snprintf(prefix, sizeof(prefix), ":%d: ", r);
                STRV_FOREACH(e, errors)
                        reported = reported || strstr(*e, prefix);
                if (!reported) {
                        char *e;

                        if (asprintf(
                                    &e,
                                    "%s:%d: syntax error: expected [section], key = value, or a comment starting with # or ;",
                                    st.filename, r) < 0 ||
                            strv_push(&errors, e) < 0)
                                return -ENOMEM;
                }
        } else if (r < 0)
                return -ENOMEM;
        /* Report in file order: inih tells us about syntax errors only at the end. */
        error_prefix_len = strlen(st.filename) + 1;
        if (errors)
                qsort(errors, strv_length(errors), sizeof(char *), cmp_error_line);
        if (st.n_errors > VM_CONFIG_MAX_ERRORS) {
                char *e;

                if (asprintf(&e, "%s: %zu more errors not shown; fix the ones above, then check again",
                             st.filename, st.n_errors - VM_CONFIG_MAX_ERRORS) < 0 ||
                    strv_push(&errors, e) < 0)
                        return -ENOMEM;
        }
        scan_empty_sections(&st);
        apply_os_defaults(c);
        if (!errors) {
                r = vm_config_check(c, &errors);
                if (r == -ENOMEM)
                        return r;
        }
        if (errors) {
                log_debug("%s: %zu errors", st.filename, strv_length(errors));
                *ret_errors = TAKE_PTR(errors);
                return -EINVAL;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

int vm_config_load(const char *path, vm_config **ret, char ***ret_errors)
{
        _cleanup_close_ int fd = -EBADF;

        /* O_NONBLOCK: a FIFO named as the config must not hang the open (vm_config_load_fd refuses it). */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return negative_errno();
        return vm_config_load_fd(fd, path, ret, ret_errors);
}

int vm_config_load_fd(int fd, const char *path, vm_config **ret, char ***ret_errors)
{
        _cleanup_free_ char *text = NULL, *name = NULL;
        const char *base = strrchr(path, '/');
        struct stat st;
        size_t n, len;
        int r, fl;

        /* Only a regular file: a FIFO, a terminal or a socket could block forever or change between reads.
         */
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD;
        if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
                return negative_errno();
        r = read_full_fd(fd, VM_CONFIG_MAX_SIZE, &text, &len);
        if (r < 0)
                return r;
        if (strlen(text) != len) {
                /* A NUL would end the text early: everything after it silently ignored, the rest "valid". */
                unsigned line = 1;
                char *e;

                for (const char *c = text; *c; c++)
                        line += *c == '\n';
                if (asprintf(
                            &e,
                            "%s:%u: a NUL byte: a config is text; remove it (everything after it would be lost)",
                            path, line) < 0 ||
                    strv_push(ret_errors, e) < 0)
                        return -ENOMEM;
                return -EINVAL;
        }
        base = base ? base + 1 : path;
        n = strlen(base);
        if (n > 5 && strcmp(base + n - 5, ".conf") == 0)
                n -= 5;
        name = strndup(base, n);
        if (!name)
                return -ENOMEM;
        return vm_config_parse_string(text, path, name, ret, ret_errors);
}
