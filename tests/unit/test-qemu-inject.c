/*
 * No config value can add a QEMU option. For every key of vfioctl.conf(5), a value carrying one of QEMU's
 * separators (",x-injected=on", "=", ",,", a newline) is either refused with FILE:LINE naming the key, or
 * reaches QEMU as one value: the argv is read back with QEMU's own splitting rules (QemuOpts/keyval:
 * ',' ends a value and ",," is a comma; a bare first value ends at '='; -cpu splits on every ',', see
 * x86_cpu_parse_featurestr) and must hold the value whole and no "x-injected" property. [vm] extra_args
 * is left out: it is the documented raw escape hatch.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cleanup.h"
#include "strv.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/vmconf.h"
#include "vfioctl/vmdefaults.h"

/*
 * One key in a config that makes vfioctl emit it: @V@ is replaced by the value under test (its line is
 * the key's line). base is a valid value the separators are appended to. emitted: the key reaches the
 * QEMU command line (else only the absence of an injected option is checked).
 */
typedef struct key_case {
        const char *section; /* kind, as vm_config_keys() names it */
        const char *key;
        const char *config;
        const char *base;
        bool emitted;
} key_case;

#define PATH "/tmp/lt"

static const key_case cases[] = {
        { "vm", "emulator", "[vm]\nemulator = @V@\n", "/usr/bin/qemu", true },
        { "vm", "os", "[vm]\nos = @V@\n", "windows", false },
        { "vm", "machine", "[vm]\nmachine = @V@\n", "q35", false },
        { "vm", "accel", "[vm]\naccel = @V@\n", "kvm", false },
        { "vm", "max_ram_below_4g", "[vm]\nmax_ram_below_4g = @V@\n", "1G", false },
        { "vm", "spare_root_ports", "[vm]\nspare_root_ports = @V@\n", "1", false },
        { "vm", "uuid", "[vm]\nuuid = @V@\n", "11111111-1111-1111-1111-111111111111", false },
        { "vm", "rtc_localtime", "[vm]\nrtc_localtime = @V@\n", "yes", false },
        { "vm", "rtc_catchup", "[vm]\nrtc_catchup = @V@\n", "yes", false },
        { "vm", "pit_delay", "[vm]\npit_delay = @V@\n", "yes", false },
        { "vm", "hpet", "[vm]\nhpet = @V@\n", "yes", false },
        { "vm", "vmport", "[vm]\nvmport = @V@\n", "yes", false },
        { "vm", "debugcon", "[vm]\ndebugcon = @V@\n", PATH, true },
        { "vm", "kernel", "[vm]\nkernel = @V@\n", PATH, true },
        { "vm", "initrd", "[vm]\nkernel = /k\ninitrd = @V@\n", PATH, true },
        { "vm", "append", "[vm]\nkernel = /k\nappend = @V@\n", "console=ttyS0", true },
        { "vm", "user", "[vm]\nuser = @V@\n", "alice", false },
        { "vm", "bind_devices", "[vm]\nbind_devices = @V@\n", "yes", false },
        { "vm", "desktop_user", "[vm]\ndesktop_user = @V@\n", "carol", false },
        { "firmware", "type", "[firmware]\ntype = @V@\n", "ovmf", false },
        { "firmware", "secure_boot", "[firmware]\nsecure_boot = @V@\n", "yes", false },
        { "firmware", "code", "[firmware]\ncode = @V@\n", PATH, true },
        /* Copied by vfioctl start into [firmware] vars; QEMU never sees it. */
        { "firmware", "vars_template", "[firmware]\nvars_template = @V@\n", PATH, false },
        { "firmware", "vars", "[firmware]\nvars = @V@\n", PATH, true },
        /* A number of MiB in -fw_cfg: the size itself is never in the argv. */
        { "firmware", "mmio64_size", "[firmware]\nmmio64_size = @V@\n", "64G", false },
        { "tpm", "socket", "[tpm]\nsocket = @V@\n", PATH, true },
        { "cpu", "model", "[cpu]\nmodel = @V@\n", "max", true },
        { "cpu", "sockets", "[cpu]\nsockets = @V@\n", "1", false },
        { "cpu", "cores", "[cpu]\ncores = @V@\n", "2", false },
        { "cpu", "threads", "[cpu]\nthreads = @V@\n", "1", false },
        { "cpu", "hide_kvm", "[cpu]\nhide_kvm = @V@\n", "yes", false },
        { "cpu", "hyperv", "[cpu]\nhyperv = @V@\n", "yes", false },
        { "cpu", "hyperv_vendor_id", "[cpu]\nhyperv = yes\nhyperv_vendor_id = @V@\n", "v", true },
        { "cpu", "hyperv_extra", "[cpu]\nhyperv = yes\nhyperv_extra = @V@\n", "hv-vpindex", true },
        /* +NAME becomes NAME=on: checked to be a bare name, then emitted. */
        { "cpu", "features", "[cpu]\nfeatures = @V@\n", "+topoext", false },
        { "cpu", "vcpus", "[cpu]\ncores = 2\nvcpus = @V@\n", "1", false },
        { "cpu", "pin", "[cpu]\ncores = 1\npin = @V@\n", "0", false },
        { "cpu", "emulator_pin", "[cpu]\nemulator_pin = @V@\n", "0", false },
        /* Host isolation around the VM (lib/run/isolate.c): nothing in the argv. */
        { "cpu", "isolate", "[cpu]\ncores = 1\npin = 0\nisolate = @V@\n", "yes", false },
        { "memory", "size", "[memory]\nsize = @V@\n", "4G", false },
        { "memory", "hugepages", "[memory]\nhugepages = @V@\n", "2M", false },
        { "memory", "hugepage_path", "[memory]\nhugepages = 2M\nhugepage_path = @V@\n", PATH, true },
        { "memory", "prealloc", "[memory]\nprealloc = @V@\n", "yes", false },
        { "memory", "prealloc_threads", "[memory]\nprealloc = yes\nprealloc_threads = @V@\n", "2", false },
        { "memory", "locked", "[memory]\nlocked = @V@\n", "yes", false },
        { "memory", "host_nodes", "[memory]\nhost_nodes = @V@\n", "1", true },
        { "smbios", "bios_vendor", "[smbios]\nbios_vendor = @V@\n", "a", true },
        { "smbios", "bios_version", "[smbios]\nbios_version = @V@\n", "a", true },
        { "smbios", "bios_date", "[smbios]\nbios_date = @V@\n", "a", true },
        { "smbios", "bios_release", "[smbios]\nbios_release = @V@\n", "a", true },
        { "smbios", "system_manufacturer", "[smbios]\nsystem_manufacturer = @V@\n", "a", true },
        { "smbios", "system_product", "[smbios]\nsystem_product = @V@\n", "a", true },
        { "smbios", "system_version", "[smbios]\nsystem_version = @V@\n", "a", true },
        { "smbios", "system_serial", "[smbios]\nsystem_serial = @V@\n", "a", true },
        { "smbios", "system_uuid", "[smbios]\nsystem_uuid = @V@\n", "11111111-1111-1111-1111-111111111111",
          false },
        { "smbios", "system_sku", "[smbios]\nsystem_sku = @V@\n", "a", true },
        { "smbios", "system_family", "[smbios]\nsystem_family = @V@\n", "a", true },
        { "smbios", "baseboard_manufacturer", "[smbios]\nbaseboard_manufacturer = @V@\n", "a", true },
        { "smbios", "baseboard_product", "[smbios]\nbaseboard_product = @V@\n", "a", true },
        { "smbios", "baseboard_version", "[smbios]\nbaseboard_version = @V@\n", "a", true },
        { "smbios", "baseboard_serial", "[smbios]\nbaseboard_serial = @V@\n", "a", true },
        { "smbios", "baseboard_asset", "[smbios]\nbaseboard_asset = @V@\n", "a", true },
        { "smbios", "chassis_manufacturer", "[smbios]\nchassis_manufacturer = @V@\n", "a", true },
        { "smbios", "chassis_version", "[smbios]\nchassis_version = @V@\n", "a", true },
        { "smbios", "chassis_serial", "[smbios]\nchassis_serial = @V@\n", "a", true },
        { "smbios", "chassis_asset", "[smbios]\nchassis_asset = @V@\n", "a", true },
        { "smbios", "chassis_sku", "[smbios]\nchassis_sku = @V@\n", "a", true },
        { "display", "device", "[display]\ndevice = @V@\n", "std", false },
        { "display", "protocol", "[display]\ndevice = std\nprotocol = @V@\n", "vnc", false },
        /* A bare first value: '=' matters there (QEMU reads "unix:/a=b" as the key "unix:/a"). */
        { "display", "socket", "[display]\ndevice = std\nprotocol = vnc\nsocket = @V@\n", PATH, true },
        { "display", "socket", "[display]\ndevice = std\nprotocol = spice\nsocket = @V@\n", PATH, true },
        { "display", "ddc_bus", "[display]\ninput_host = 0x0f\ninput_guest = 0x11\nddc_bus = @V@\n", "4",
          false },
        /* ddcutil's display number, used by vfioctl start, never by QEMU. */
        { "display", "monitor", "[display]\ninput_host = 0x0f\ninput_guest = 0x11\nmonitor = @V@\n", "1",
          false },
        { "display", "input_host", "[display]\nddc_bus = 4\ninput_guest = 0x11\ninput_host = @V@\n", "0x0f",
          false },
        { "display", "input_guest", "[display]\nddc_bus = 4\ninput_host = 0x0f\ninput_guest = @V@\n", "0x11",
          false },
        { "looking-glass", "width", "[looking-glass]\nwidth = @V@\n", "1920", false },
        { "looking-glass", "height", "[looking-glass]\nheight = @V@\n", "1080", false },
        { "looking-glass", "size", "[looking-glass]\nsize = @V@\n", "32M", false },
        { "looking-glass", "path", "[looking-glass]\npath = @V@\n", PATH, true },
        { "looking-glass", "device", "[looking-glass]\ndevice = @V@\n", "kvmfr", false },
        { "audio", "backend", "[audio]\nbackend = @V@\n", "pa", false },
        { "audio", "server", "[audio]\nbackend = pa\nserver = @V@\n", PATH, true },
        { "audio", "alsa_device", "[audio]\nbackend = alsa\nalsa_device = @V@\n", "hw:0", true },
        { "audio", "device", "[audio]\ndevice = @V@\n", "ac97", false },
        { "audio", "codec", "[audio]\ncodec = @V@\n", "hda-output", false },
        { "audio", "buffer_length", "[audio]\nbuffer_length = @V@\n", "10000", false },
        { "audio", "timer_period", "[audio]\ntimer_period = @V@\n", "1000", false },
        /* Selectors never reach QEMU as written: vfioctl resolves them to host addresses first. */
        { "gpu", "device", "[gpu]\ndevice = @V@\n", "01:00.0", false },
        { "gpu", "functions", "[gpu]\ndevice = 01:00.0\nfunctions = @V@\n", "01:00.1", false },
        { "gpu", "x_vga", "[gpu]\ndevice = 01:00.0\nx_vga = @V@\n", "yes", false },
        { "gpu", "romfile", "[gpu]\ndevice = 01:00.0\nromfile = @V@\n", PATH, true },
        { "gpu", "rombar", "[gpu]\ndevice = 01:00.0\nrombar = @V@\n", "no", false },
        /* The single-GPU handoff (lib/run/handoff.c) works on the host; QEMU never sees these. */
        { "gpu", "handoff", "[gpu]\ndevice = 01:00.0\nhandoff = @V@\n", "yes", false },
        { "gpu", "display_manager", "[gpu]\ndevice = 01:00.0\nhandoff = yes\ndisplay_manager = @V@\n",
          "gdm.service", false },
        { "gpu", "bootindex", "[gpu]\ndevice = 01:00.0\nbootindex = @V@\n", "2", false },
        { "pci", "device", "[pci \"p\"]\ndevice = @V@\n", "03:00.0", false },
        { "pci", "romfile", "[pci \"p\"]\ndevice = 03:00.0\nromfile = @V@\n", PATH, true },
        { "pci", "rombar", "[pci \"p\"]\ndevice = 03:00.0\nrombar = @V@\n", "no", false },
        { "pci", "bootindex", "[pci \"p\"]\ndevice = 03:00.0\nbootindex = @V@\n", "3", false },
        { "usb", "device", "[usb \"u\"]\ndevice = @V@\n", "046d:c52b", false },
        { "usb", "host_bus", "[usb \"u\"]\nhost_port = 2\nhost_bus = @V@\n", "1", false },
        { "usb", "host_port", "[usb \"u\"]\nhost_bus = 1\nhost_port = @V@\n", "2.3", true },
        { "usb", "bootindex", "[usb \"u\"]\ndevice = 046d:c52b\nbootindex = @V@\n", "4", false },
        { "input", "type", "[input \"i\"]\ntype = @V@\n", "virtio-tablet", false },
        { "input", "evdev", "[input \"i\"]\nevdev = @V@\n", PATH, true },
        { "input", "grab_all", "[input \"i\"]\nevdev = /e\ngrab_all = @V@\n", "yes", false },
        { "input", "repeat", "[input \"i\"]\nevdev = /e\nrepeat = @V@\n", "yes", false },
        { "input", "grab_toggle", "[input \"i\"]\nevdev = /e\ngrab_toggle = @V@\n", "alt-alt", false },
        { "input", "relay", "[input \"i\"]\nevdev = /e\nrelay = @V@\n", "no", false },
        { "disk", "path", "[disk \"d\"]\npath = @V@\n", PATH, true },
        { "disk", "format", "[disk \"d\"]\npath = /d\nformat = @V@\n", "qcow2", false },
        { "disk", "media", "[disk \"d\"]\npath = /d\nbus = sata\nmedia = @V@\n", "cdrom", false },
        { "disk", "bus", "[disk \"d\"]\npath = /d\nbus = @V@\n", "sata", false },
        { "disk", "iothread", "[disk \"d\"]\npath = /d\niothread = @V@\n", "yes", false },
        { "disk", "aio", "[disk \"d\"]\npath = /d\naio = @V@\n", "threads", false },
        { "disk", "cache", "[disk \"d\"]\npath = /d\ncache = @V@\n", "none", false },
        { "disk", "discard", "[disk \"d\"]\npath = /d\ndiscard = @V@\n", "unmap", false },
        { "disk", "serial", "[disk \"d\"]\npath = /d\nserial = @V@\n", "s", true },
        { "disk", "readonly", "[disk \"d\"]\npath = /d\nreadonly = @V@\n", "yes", false },
        { "disk", "bootindex", "[disk \"d\"]\npath = /d\nbootindex = @V@\n", "1", false },
        { "net", "type", "[net \"n\"]\ntype = @V@\n", "user", false },
        { "net", "model", "[net \"n\"]\nmodel = @V@\n", "e1000e", false },
        { "net", "mac", "[net \"n\"]\nmac = @V@\n", "52:54:00:12:34:56", false },
        { "net", "bridge", "[net \"n\"]\ntype = bridge\nbridge = @V@\n", "br0", true },
        { "net", "helper", "[net \"n\"]\ntype = bridge\nbridge = br0\nhelper = @V@\n", PATH, true },
        { "net", "ifname", "[net \"n\"]\ntype = tap\nifname = @V@\n", "tap0", true },
        /* The macvtap reaches QEMU as an inherited descriptor: its link and mode stay with vfioctl. */
        { "net", "link", "[net \"n\"]\ntype = macvtap\nifname = macvtap0\nlink = @V@\n", "enp5s0", false },
        { "net", "macvtap_mode", "[net \"n\"]\ntype = macvtap\nifname = macvtap0\nmacvtap_mode = @V@\n",
          "vepa", false },
        { "net", "hostfwd", "[net \"n\"]\nhostfwd = @V@\n", "tcp::1-:1", true },
        { "share", "type", "[net \"n\"]\ntype = user\n[share \"s\"]\npath = /s\ntype = @V@\n", "smb",
          false },
        { "share", "path", "[net \"n\"]\ntype = user\n[share \"s\"]\npath = @V@\n", PATH, true },
};

/* What each case appends to its base value. */
static const char *const separators[] = {
        ",x-injected=on", ",,x-injected=on", "=x-injected", ",x-injected", "\nx-injected=on",
};

/* Options whose value QEMU takes as one plain string, never split into properties. */
static bool plain_option(const char *opt)
{
        static const char *const plain[] = { "-kernel", "-initrd", "-append", "-uuid", "-m" };

        for (size_t i = 0; i < ELEMENTSOF(plain); i++)
                if (strcmp(opt, plain[i]) == 0)
                        return true;
        return false;
}

/* One property as QEMU reads it: key (NULL for a bare first value) and its unescaped value. */
typedef struct prop {
        char *key;
        char *value;
} prop;

static void props_free(prop *p, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(p[i].key);
                free(p[i].value);
        }
        free(p);
}

/* QemuOpts' get_opt_value(): up to a lone ',', with ",," read as ','. */
static const char *read_value(const char *p, char **ret)
{
        char *out = malloc(strlen(p) + 1), *o = out;

        assert_non_null(out);
        while (*p) {
                if (*p == ',') {
                        if (p[1] != ',')
                                break;
                        p++;
                }
                *o++ = *p++;
        }
        *o = 0;
        *ret = out;
        return p;
}

/* QemuOpts/keyval splitting (util/qemu-option.c opts_do_parse, util/keyval.c). */
static prop *split_opts(const char *s, size_t *ret_n)
{
        prop *props = NULL;
        size_t n = 0;
        bool first = true;

        for (const char *p = s; *p;) {
                size_t len = strcspn(p, "=,");
                prop x = {};

                if (p[len] == '=') {
                        x.key = strndup(p, len);
                        p = read_value(p + len + 1, &x.value);
                } else if (first)
                        p = read_value(p, &x.value);
                else {
                        /* A bare "flag" after the first: QEMU reads it as flag=on. */
                        x.key = strndup(p, len);
                        x.value = strdup("on");
                        p += len;
                }
                props = realloc(props, (n + 1) * sizeof(*props));
                assert_non_null(props);
                props[n++] = x;
                first = false;
                if (*p == ',')
                        p++;
        }
        *ret_n = n;
        return props;
}

/*
 * -cpu: model, then features split on every ',' with no escape (target/i386/cpu.c). A feature's value is
 * kept as written ("hv-vendor-id=x"), since a flag is one value there.
 */
static prop *split_cpu(const char *s, size_t *ret_n)
{
        _cleanup_strv_free_ char **parts = NULL;
        prop *props = NULL;
        size_t n = 0;

        assert_int_equal(strv_split(s, ",", &parts), 0);
        STRV_FOREACH(p, parts) {
                const char *name = *p + (**p == '+' || **p == '-');
                prop x = { .value = strdup(*p) };

                if (p != parts)
                        x.key = strndup(name, strcspn(name, "="));
                props = realloc(props, (n + 1) * sizeof(*props));
                assert_non_null(props);
                props[n++] = x;
        }
        *ret_n = n;
        return props;
}

static bool is_injected(const prop *p)
{
        return p->key && strstr(p->key, "x-injected");
}

/*
 * Counts the values (properties or plain arguments) of argv that hold want whole; *ret_injected counts the
 * injected properties (each one printed).
 */
static size_t scan_argv(char **argv, const char *want, const char *label, size_t *ret_injected)
{
        size_t found = 0;

        *ret_injected = 0;
        if (want && strstr(argv[0], want))
                found++;
        for (size_t i = 1; argv[i]; i++) {
                const char *opt = argv[i], *val = argv[i + 1];
                prop *props;
                size_t n;

                if (opt[0] != '-' || !val)
                        continue;
                i++;
                if (plain_option(opt)) {
                        found += want && strstr(val, want);
                        continue;
                }
                props = strcmp(opt, "-cpu") == 0 ? split_cpu(val, &n) : split_opts(val, &n);
                for (size_t j = 0; j < n; j++) {
                        if (is_injected(&props[j])) {
                                print_error("%s: %s %s carries the property '%s'\n", label, opt, val,
                                            props[j].key);
                                (*ret_injected)++;
                        }
                        found += want && strstr(props[j].value, want);
                }
                props_free(props, n);
        }
        return found;
}

static unsigned line_of(const char *text, const char *mark)
{
        unsigned line = 1;

        for (const char *p = text; p < strstr(text, mark); p++)
                line += *p == '\n';
        return line;
}

static char *replace(const char *text, const char *mark, const char *with)
{
        const char *at = strstr(text, mark);
        char *out;

        assert_non_null(at);
        assert_true(asprintf(&out, "%.*s%s%s", (int)(at - text), text, with, at + strlen(mark)) > 0);
        return out;
}

/*
 * Config text -> argv as `vfioctl cmdline` makes it without a host; NULL with *ret_errors on refusal.
 * NULL without errors: a [gpu]/[pci] selector that only a host can resolve (a name pattern). Only the
 * host addresses it resolves to ever reach QEMU, never the text.
 */
static char **argv_of(const char *text, const char *vm_name, bool relay, char ***ret_errors)
{
        _cleanup_(vm_config_freep) vm_config *c = NULL;
        _cleanup_strv_free_ char **warnings = NULL, **notes = NULL;
        char **errors = NULL, **argv = NULL;
        vm_argv_paths p = { .runtime_dir = "/run/user/1000/vfioctl/t",
                            .state_dir = "/home/u/.local/state/vfioctl/t",
                            .uid = 1000,
                            .input_relay = relay };

        if (vm_config_parse_string(text, "t.conf", vm_name, &c, &errors) < 0 ||
            vm_config_resolve(c, NULL, NULL, &warnings, &errors) < 0) {
                assert_non_null(errors);
                *ret_errors = errors;
                return NULL;
        }
        for (size_t i = 0; i < c->n_gpus + c->n_pcis; i++)
                if (!(i < c->n_gpus ? c->gpus[i] : c->pcis[i - c->n_gpus]).resolved)
                        return NULL;
        /* Past the parser, vfioctl must build the argv: refusing only here would come without a line. */
        if (vm_qemu_argv(c, &p, &argv, &notes) < 0)
                fail_msg("the config is accepted but gives no argv:\n%s", text);
        return argv;
}

/* True when value is refused at its line naming the key, or reaches QEMU whole and adds nothing. */
static bool check_value(const key_case *k, const char *value)
{
        _cleanup_free_ char *text = replace(k->config, "@V@", value), *label = NULL;
        _cleanup_strv_free_ char **argv = NULL, **errors = NULL;
        unsigned line = line_of(k->config, "@V@");
        size_t found, injected;

        assert_true(asprintf(&label, "[%s] %s = '%s'", k->section, k->key, value) > 0);
        argv = argv_of(text, "t", false, &errors);
        if (!argv && !errors) {
                if (k->emitted)
                        print_error("%s: left unresolved, so never emitted\n", label);
                return !k->emitted;
        }
        if (!argv) {
                bool newline = strchr(value, '\n');
                char prefix[32];

                /* A newline splits the value: the refusal is of the line it made. */
                snprintf(prefix, sizeof(prefix), "t.conf:%u: ", newline ? line + 1 : line);
                STRV_FOREACH(e, errors)
                        if (strncmp(*e, prefix, strlen(prefix)) == 0 && (newline || strstr(*e, k->key)))
                                return true;
                print_error("%s: refused without '%s' and the key in the message: %s\n", label, prefix,
                            errors[0]);
                return false;
        }
        found = scan_argv(argv, k->emitted ? value : NULL, label, &injected);
        if (k->emitted && found == 0) {
                _cleanup_free_ char *j = strv_join(argv, " ");

                print_error("%s: accepted but not found whole in the argv: %s\n", label, j);
                return false;
        }
        return injected == 0;
}

static void test_every_key_is_covered(void **state)
{
        size_t n;
        const vm_key_info *keys = vm_config_keys(&n);

        for (size_t i = 0; i < n; i++) {
                bool covered = strcmp(keys[i].section, "vm") == 0 && strcmp(keys[i].key, "extra_args") == 0;

                for (size_t j = 0; j < ELEMENTSOF(cases) && !covered; j++)
                        covered = strcmp(cases[j].section, keys[i].section) == 0 &&
                                  strcmp(cases[j].key, keys[i].key) == 0;
                if (!covered)
                        fail_msg(
                                "[%s] %s has no case here: add one (how vfioctl emits it, or that it does not)",
                                keys[i].section, keys[i].key);
        }
}

/* Each case's base value is accepted and (when emitted) reaches the argv: the cases test what they say. */
static void test_base_values_reach_qemu(void **state)
{
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const key_case *k = &cases[i];
                _cleanup_free_ char *text = replace(k->config, "@V@", k->base);
                _cleanup_strv_free_ char **argv = NULL, **errors = NULL;
                size_t injected;

                argv = argv_of(text, "t", false, &errors);
                if (!argv)
                        fail_msg("[%s] %s = '%s' is refused: %s", k->section, k->key, k->base, errors[0]);
                if (k->emitted && scan_argv(argv, k->base, k->key, &injected) == 0)
                        fail_msg("[%s] %s = '%s' is not in the argv", k->section, k->key, k->base);
        }
}

static void test_no_value_adds_an_option(void **state)
{
        size_t bad = 0, total = 0;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                for (size_t s = 0; s < ELEMENTSOF(separators); s++) {
                        _cleanup_free_ char *value = NULL;

                        assert_true(asprintf(&value, "%s%s", cases[i].base, separators[s]) > 0);
                        bad += !check_value(&cases[i], value);
                        total++;
                }
        if (bad)
                fail_msg("%zu of %zu values add an option or are refused without their line", bad, total);
}

/* The VM name comes from the file name, not a key; it lands in -name and in the relay's link path. */
static void test_vm_name_is_one_value(void **state)
{
        static const char *const names[] = { "vm,x-injected=on", "vm=x-injected", "vm,,x-injected=on" };

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_strv_free_ char **argv = NULL, **errors = NULL;
                size_t injected;

                argv = argv_of("[input \"i\"]\nevdev = /e\n", names[i], true, &errors);
                assert_non_null(argv);
                assert_int_equal(scan_argv(argv, names[i], names[i], &injected), 2);
                assert_int_equal(injected, 0);
        }
}

/* QEMU runs a bridge helper whose path holds a blank through /bin/sh -c (net/tap.c): never one from here. */
static void test_bridge_helper_is_no_shell_command(void **state)
{
        _cleanup_strv_free_ char **argv = NULL, **errors = NULL;

        argv = argv_of("[net \"n\"]\ntype = bridge\nbridge = br0\nhelper = /usr/bin/touch /tmp/x #\n", "t",
                       false, &errors);
        assert_null(argv);
        assert_non_null(errors);
        assert_non_null(strstr(errors[0], "t.conf:4: [net \"n\"] helper"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_key_is_covered),
                cmocka_unit_test(test_base_values_reach_qemu),
                cmocka_unit_test(test_no_value_adds_an_option),
                cmocka_unit_test(test_vm_name_is_one_value),
                cmocka_unit_test(test_bridge_helper_is_no_shell_command),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
