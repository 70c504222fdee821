/*
 * The QEMU 7.2 command line for a VM model. Pure: no host reads, no environment; host-specific parts
 * (resolved PCI addresses, runtime paths) come in as data. Option syntax: QEMU docs "QEMU System
 * Emulator Invocation" (docs/system/invocation.rst) and qemu-options.hx of 7.2.
 */
#include "vfioctl/qemu-argv.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "strv.h"
#include "vfioctl/audio-grant.h"
#include "vfioctl/firmware.h"

char *vm_qemu_escape(const char *s)
{
        size_t n = strlen(s), extra = 0;
        char *out, *o;

        for (const char *p = s; *p; p++)
                extra += *p == ',';
        out = malloc(n + extra + 1);
        if (!out)
                return NULL;
        o = out;
        for (const char *p = s; *p; p++) {
                *o++ = *p;
                if (*p == ',')
                        *o++ = ',';
        }
        *o = 0;
        return out;
}

const char *vm_qemu_firmware_code(const vm_config *c)
{
        assert(c);

        if (c->firmware.code)
                return c->firmware.code;
        /* Debian's ovmf package: the secboot build carries SMM, which Secure Boot relies on. */
        return c->firmware.secure_boot ? "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
                                       : "/usr/share/OVMF/OVMF_CODE_4M.fd";
}

const char *vm_qemu_firmware_vars_template(const vm_config *c)
{
        assert(c);

        if (c->firmware.vars_template)
                return c->firmware.vars_template;
        /* A code image of its own takes the vars template packaged with it (the 2 MiB build's, say). */
        if (c->firmware.code && vfio_ovmf_vars_template_for(c->firmware.code))
                return vfio_ovmf_vars_template_for(c->firmware.code);
        /* .ms.fd has Microsoft's keys enrolled, which Windows needs to boot with Secure Boot on. */
        return c->firmware.secure_boot ? "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"
                                       : "/usr/share/OVMF/OVMF_VARS_4M.fd";
}

static char *path_join(const char *dir, const char *file)
{
        char *s;

        return asprintf(&s, "%s/%s", dir, file) < 0 ? NULL : s;
}

char *vm_qemu_firmware_vars(const vm_config *c, const vm_argv_paths *p)
{
        assert(c);
        assert(p);

        return c->firmware.vars ? strdup(c->firmware.vars) : path_join(p->state_dir, "OVMF_VARS.fd");
}

char *vm_qemu_qmp_socket(const vm_argv_paths *p)
{
        assert(p);

        return path_join(p->runtime_dir, "qmp.sock");
}

char *vm_qemu_tpm_socket(const vm_config *c, const vm_argv_paths *p)
{
        assert(c);
        assert(p);

        return c->tpm.socket ? strdup(c->tpm.socket) : path_join(p->runtime_dir, "swtpm.sock");
}

bool vm_qemu_audio_granted(const vm_config *c, const vm_argv_paths *p)
{
        const char *user = p->user ? p->user : c->vm.user;

        return vm_audio_server_of(c) == VM_SERVER_DESKTOP && user && c->vm.desktop_user &&
               strcmp(user, c->vm.desktop_user) != 0;
}

char *vm_qemu_audio_server(const vm_config *c, const vm_argv_paths *p)
{
        const char *user = p->user ? p->user : c->vm.user;
        char *s;

        switch (vm_audio_server_of(c)) {
        case VM_SERVER_NONE:
                return NULL;
        case VM_SERVER_PATH:
                return strdup(c->audio.server);
        case VM_SERVER_DESKTOP:
                if (vm_qemu_audio_granted(c, p))
                        return vfio_audio_grant_socket(p->root, user);
                break;
        case VM_SERVER_SESSION:
                break;
        }
        /* PipeWire's pipewire-pulse listens on the same socket as PulseAudio. */
        return asprintf(&s, "/run/user/%u/pulse/native", p->uid) < 0 ? NULL : s;
}

/*
 * One option value under construction, "driver,key=value,...", built from typed properties: numbers
 * and switches are formatted here, every string goes through vm_qemu_escape() where it is emitted, and
 * raw text is only ever a literal of this file (opt_const). So no value of a config can add a property.
 */
typedef struct opt {
        char *s;
        int error;
        /* -cpu splits features on every ',' with no escape (target/i386/cpu.c, x86_cpu_parse_featurestr):
         * a value holding ',' is refused there instead of escaped. */
        bool unescapable;
} opt;

static void opt_fail(opt *o, int error)
{
        if (!o->error)
                o->error = error;
}

/* Appends ",piece" (or the first piece). */
static void opt_append(opt *o, const char *piece)
{
        char *n;

        if (o->error)
                return;
        if (asprintf(&n, "%s%s%s", o->s ? o->s : "", o->s ? "," : "", piece) < 0) {
                opt_fail(o, -ENOMEM);
                return;
        }
        free(o->s);
        o->s = n;
}

/* Raw option text: a string literal only (the "" makes anything else a compile error). */
#define opt_const(o, text) opt_append((o), "" text "")

/*
 * A bare word in the first position (a driver, backend or CPU model name) or a -cpu flag: QEMU reads
 * it up to ',' (and in the first position up to '=', as a key), with no escape, so a word holding
 * either is refused.
 */
static void opt_word(opt *o, const char *word)
{
        if (!*word || strpbrk(word, o->unescapable ? "," : ",=")) {
                log_debug("QEMU option word '%s' holds a separator; refused", word);
                opt_fail(o, -EINVAL);
                return;
        }
        opt_append(o, word);
}

/* key=value, the value escaped (or, in -cpu, refused when it holds ','). key is a literal. */
static void opt_str_(opt *o, const char *key, const char *value)
{
        _cleanup_free_ char *e = NULL, *piece = NULL;

        if (o->error)
                return;
        if (o->unescapable && strchr(value, ',')) {
                log_debug("-cpu %s='%s' holds ',', which -cpu cannot escape; refused", key, value);
                opt_fail(o, -EINVAL);
                return;
        }
        e = o->unescapable ? strdup(value) : vm_qemu_escape(value);
        if (!e || asprintf(&piece, "%s=%s", key, e) < 0) {
                opt_fail(o, -ENOMEM);
                return;
        }
        opt_append(o, piece);
}
#define opt_str(o, key, value) opt_str_((o), "" key "", (value))

/* key=value with the value formatted first (an id made of a section name and a number), then escaped. */
static void opt_strf_(opt *o, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void opt_strf_(opt *o, const char *key, const char *fmt, ...)
{
        _cleanup_free_ char *v = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&v, fmt, ap);
        va_end(ap);
        if (r < 0) {
                opt_fail(o, -ENOMEM);
                return;
        }
        opt_str_(o, key, v);
}
#define opt_strf(o, key, ...) opt_strf_((o), "" key "", __VA_ARGS__)

static void opt_uint_(opt *o, const char *key, uint64_t v)
{
        char buf[32];

        snprintf(buf, sizeof(buf), "%" PRIu64, v);
        opt_str_(o, key, buf);
}
#define opt_uint(o, key, v) opt_uint_((o), "" key "", (v))

/* key=0xN, at least width hex digits. */
static void opt_hex_(opt *o, const char *key, int width, uint64_t v)
{
        char buf[32];

        snprintf(buf, sizeof(buf), "0x%0*" PRIx64, width, v);
        opt_str_(o, key, buf);
}
#define opt_hex(o, key, width, v) opt_hex_((o), "" key "", (width), (v))

typedef struct builder {
        char **argv;
        char **notes;
        int error;
} builder;

static void add(builder *b, const char *s)
{
        if (b->error)
                return;
        b->error = strv_extend(&b->argv, s);
}

/* Appends "-option" and the finished value, freeing it. */
static void add_opt(builder *b, const char *option, opt *o)
{
        if (o->error && !b->error)
                b->error = o->error;
        add(b, option);
        add(b, o->s ? o->s : "");
        free(o->s);
        o->s = NULL;
}

static void note(builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(builder *b, const char *fmt, ...)
{
        char *s;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0 || strv_push(&b->notes, s) < 0) {
                if (r >= 0)
                        free(s);
                b->error = -ENOMEM;
        }
}

/* Sizes as QEMU reads them: the largest binary unit that divides evenly. */
static void format_size(uint64_t v, char buf[static 32])
{
        if (v && v % (1ULL << 30) == 0)
                snprintf(buf, 32, "%" PRIu64 "G", v >> 30);
        else if (v && v % (1ULL << 20) == 0)
                snprintf(buf, 32, "%" PRIu64 "M", v >> 20);
        else
                snprintf(buf, 32, "%" PRIu64, v);
}

static void opt_size_(opt *o, const char *key, uint64_t v)
{
        char sz[32];

        format_size(v, sz);
        opt_str_(o, key, sz);
}
#define opt_size(o, key, v) opt_size_((o), "" key "", (v))

static bool needs_memory_backend(const vm_config *c)
{
        return c->memory.hugepages != VM_HUGEPAGES_NONE || c->memory.prealloc || c->memory.host_nodes;
}

static void build_machine(builder *b, const vm_config *c)
{
        opt o = {};

        opt_word(&o, c->vm.machine == VM_MACHINE_Q35 ? "q35" : "pc");
        if (c->vm.max_ram_below_4g)
                opt_size(&o, "max-ram-below-4g", c->vm.max_ram_below_4g);
        /* Secure Boot variables are only protected from the guest OS with SMM (OVMF README, "SMM"). */
        if (c->firmware.secure_boot)
                opt_const(&o, "smm=on");
        if (!c->vm.hpet)
                opt_const(&o, "hpet=off");
        if (!c->vm.vmport)
                opt_const(&o, "vmport=off");
        if (needs_memory_backend(c))
                opt_const(&o, "memory-backend=mem");
        add_opt(b, "-machine", &o);
        add(b, "-accel");
        add(b, c->vm.accel == VM_ACCEL_KVM ? "kvm" : "tcg");
}

static void build_cpu(builder *b, const vm_config *c)
{
        opt o = { .unescapable = true };
        char n[16];

        opt_word(&o, c->cpu.model);
        /* kvm=off clears the KVM CPUID signature, which GeForce drivers before 465 refuse (code 43). */
        if (c->cpu.hide_kvm)
                opt_const(&o, "kvm=off");
        /* The set Windows benefits from and QEMU 7.2 accepts on KVM and TCG (docs/hyperv.txt). */
        if (c->cpu.hyperv)
                opt_const(&o, "hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,hv-time");
        /* Flags of their own too: an imported domain has exactly the enlightenments its XML lists. */
        if (c->cpu.hyperv_vendor_id)
                opt_str(&o, "hv-vendor-id", c->cpu.hyperv_vendor_id);
        STRV_FOREACH(f, c->cpu.hyperv_extra)
                opt_word(&o, *f);
        /* CPUID feature switches (qemu-options.hx, -cpu: "feature=on|off"). */
        STRV_FOREACH(f, c->cpu.features) {
                _cleanup_free_ char *sw = NULL;

                if (asprintf(&sw, "%s=%s", *f + 1, **f == '+' ? "on" : "off") < 0)
                        opt_fail(&o, -ENOMEM);
                else
                        opt_word(&o, sw);
        }
        add_opt(b, "-cpu", &o);
        o = (opt){};
        snprintf(n, sizeof(n), "%u", vm_config_vcpus(c));
        opt_word(&o, n);
        opt_uint(&o, "sockets", c->cpu.sockets);
        opt_uint(&o, "cores", c->cpu.cores);
        opt_uint(&o, "threads", c->cpu.threads);
        /* Fewer vCPUs than topology places: the rest stay empty, as libvirt's <vcpu current> leaves them. */
        if (vm_config_vcpus(c) < vm_config_max_vcpus(c))
                opt_uint(&o, "maxcpus", vm_config_max_vcpus(c));
        add_opt(b, "-smp", &o);
}

const char *vm_qemu_hugepage_dir(const vm_config *c)
{
        if (c->memory.hugepage_path)
                return c->memory.hugepage_path;
        return c->memory.hugepages == VM_HUGEPAGES_1G ? "/dev/hugepages1G" : "/dev/hugepages";
}

static void build_memory(builder *b, const vm_config *c, const vm_argv_paths *p)
{
        opt o = {};
        char sz[32];

        format_size(c->memory.size, sz);
        add(b, "-m");
        add(b, sz);
        if (c->memory.hugepages != VM_HUGEPAGES_NONE) {
                const char *path = vm_qemu_hugepage_dir(c);

                opt_const(&o, "memory-backend-file,id=mem");
                opt_size(&o, "size", c->memory.size);
                /* vfioctl's filled file: shared, or each write would copy a page of it (MAP_PRIVATE). */
                opt_str(&o, "mem-path", p->memory_file ? p->memory_file : path);
                if (p->memory_file)
                        opt_const(&o, "share=on");
        } else if (c->memory.prealloc || c->memory.host_nodes) {
                opt_const(&o, "memory-backend-ram,id=mem");
                opt_size(&o, "size", c->memory.size);
        }
        if (o.s) {
                if (c->memory.prealloc || c->memory.hugepages != VM_HUGEPAGES_NONE)
                        opt_const(&o, "prealloc=on");
                if (c->memory.prealloc_threads)
                        opt_uint(&o, "prealloc-threads", c->memory.prealloc_threads);
                /* Guest RAM on the GPU's node: its DMA and the vCPUs stay local (qemu-options.hx,
                 * memory-backend: host-nodes, policy=bind; a list is one host-nodes= per node). */
                STRV_FOREACH(node, c->memory.host_nodes)
                        opt_str(&o, "host-nodes", *node);
                if (c->memory.host_nodes)
                        opt_const(&o, "policy=bind");
                add_opt(b, "-object", &o);
        }
        /* Locks guest and QEMU memory so the host never swaps it (qemu-options.hx, -overcommit). */
        if (c->memory.locked) {
                add(b, "-overcommit");
                add(b, "mem-lock=on");
        }
}

static void build_firmware(builder *b, const vm_config *c, const vm_argv_paths *p)
{
        _cleanup_free_ char *vars = NULL;
        opt o = {};

        if (c->firmware.type != VM_FIRMWARE_OVMF)
                return;
        vars = vm_qemu_firmware_vars(c, p);
        if (!vars) {
                b->error = -ENOMEM;
                return;
        }
        opt_const(&o, "if=pflash,format=raw,unit=0,readonly=on");
        opt_str(&o, "file", vm_qemu_firmware_code(c));
        add_opt(b, "-drive", &o);
        opt_const(&o, "if=pflash,format=raw,unit=1");
        opt_str(&o, "file", vars);
        add_opt(b, "-drive", &o);
        if (c->firmware.secure_boot) {
                add(b, "-global");
                add(b, "driver=cfi.pflash01,property=secure,value=on");
        }
        /*
         * OVMF sizes its 64-bit PCI MMIO window from this fw_cfg file, in MiB (OvmfPkg PlatformPei,
         * "X-PciMmio64Mb"): large-BAR GPUs (resizable BAR) need more than OVMF's default.
         */
        if (c->firmware.mmio64_size) {
                opt_const(&o, "name=opt/ovmf/X-PciMmio64Mb");
                opt_uint(&o, "string", c->firmware.mmio64_size >> 20);
                add_opt(b, "-fw_cfg", &o);
        }
}

static void smbios_field_(opt *o, const char *key, const char *v)
{
        if (v)
                opt_str_(o, key, v);
}
#define smbios_field(o, key, v) smbios_field_((o), "" key "", (v))

static void build_identity(builder *b, const vm_config *c)
{
        const vm_smbios *s = &c->smbios;
        opt o = {};

        if (c->vm.uuid) {
                add(b, "-uuid");
                add(b, c->vm.uuid);
        }
        /* SMBIOS tables (DMTF DSP0134): type 0 BIOS, 1 system, 2 baseboard, 3 chassis. */
        if (s->bios_vendor || s->bios_version || s->bios_date || s->bios_release) {
                opt_const(&o, "type=0");
                smbios_field(&o, "vendor", s->bios_vendor);
                smbios_field(&o, "version", s->bios_version);
                smbios_field(&o, "date", s->bios_date);
                smbios_field(&o, "release", s->bios_release);
                add_opt(b, "-smbios", &o);
        }
        if (s->system_manufacturer || s->system_product || s->system_version || s->system_serial ||
            s->system_uuid || s->system_sku || s->system_family) {
                opt_const(&o, "type=1");
                smbios_field(&o, "manufacturer", s->system_manufacturer);
                smbios_field(&o, "product", s->system_product);
                smbios_field(&o, "version", s->system_version);
                smbios_field(&o, "serial", s->system_serial);
                smbios_field(&o, "uuid", s->system_uuid);
                smbios_field(&o, "sku", s->system_sku);
                smbios_field(&o, "family", s->system_family);
                add_opt(b, "-smbios", &o);
        }
        if (s->baseboard_manufacturer || s->baseboard_product || s->baseboard_version ||
            s->baseboard_serial || s->baseboard_asset) {
                opt_const(&o, "type=2");
                smbios_field(&o, "manufacturer", s->baseboard_manufacturer);
                smbios_field(&o, "product", s->baseboard_product);
                smbios_field(&o, "version", s->baseboard_version);
                smbios_field(&o, "serial", s->baseboard_serial);
                smbios_field(&o, "asset", s->baseboard_asset);
                add_opt(b, "-smbios", &o);
        }
        if (s->chassis_manufacturer || s->chassis_version || s->chassis_serial || s->chassis_asset ||
            s->chassis_sku) {
                opt_const(&o, "type=3");
                smbios_field(&o, "manufacturer", s->chassis_manufacturer);
                smbios_field(&o, "version", s->chassis_version);
                smbios_field(&o, "serial", s->chassis_serial);
                smbios_field(&o, "asset", s->chassis_asset);
                smbios_field(&o, "sku", s->chassis_sku);
                add_opt(b, "-smbios", &o);
        }
        if (c->vm.rtc_localtime || c->vm.rtc_catchup) {
                if (c->vm.rtc_localtime)
                        opt_const(&o, "base=localtime");
                else
                        opt_const(&o, "base=utc");
                if (c->vm.rtc_catchup)
                        opt_const(&o, "driftfix=slew");
                add_opt(b, "-rtc", &o);
        }
        /* Only KVM's in-kernel PIT has the policy; other accelerators ignore the -global. */
        if (c->vm.pit_delay) {
                add(b, "-global");
                add(b, "kvm-pit.lost_tick_policy=delay");
        }
}

static void build_qmp(builder *b, const vm_argv_paths *p)
{
        _cleanup_free_ char *sock = vm_qemu_qmp_socket(p);
        opt o = {};

        if (!sock) {
                b->error = -ENOMEM;
                return;
        }
        opt_const(&o, "socket,id=qmp");
        opt_str(&o, "path", sock);
        opt_const(&o, "server=on,wait=off");
        add_opt(b, "-chardev", &o);
        add(b, "-mon");
        add(b, "chardev=qmp,mode=control");
}

/* A PCIe root port at slot s of pcie.0, named rpN (N counts from 1 at slot 0x10). */
static void root_port(builder *b, unsigned s)
{
        opt o = {};

        opt_const(&o, "pcie-root-port");
        opt_strf(&o, "id", "rp%u", s - 0x10 + 1);
        opt_const(&o, "bus=pcie.0");
        opt_uint(&o, "chassis", s - 0x10 + 1);
        opt_hex(&o, "port", 0, s);
        opt_hex(&o, "addr", 0, s);
        add_opt(b, "-device", &o);
}

/*
 * Passed-through devices get fixed places, emitted before any device QEMU places itself: on q35 one
 * PCIe root port each (slots 0x10 upward of pcie.0, as PCIe endpoints expect to sit below a root port),
 * on i440fx a slot of pci.0 each. A GPU's functions share the slot, function 0 with multifunction=on,
 * as on the physical card (drivers look for the audio function next to the GPU).
 */
static void build_hostdev(builder *b, const vm_config *c, const vm_pci *p, bool gpu, unsigned *slot)
{
        size_t n = strv_length(p->resolved);
        unsigned s = (*slot)++;
        bool q35 = c->vm.machine == VM_MACHINE_Q35;
        opt o = {};

        if (q35)
                root_port(b, s);
        for (size_t f = 0; f < n; f++) {
                opt_const(&o, "vfio-pci");
                opt_str(&o, "host", p->resolved[f]);
                opt_strf(&o, "id", "hostdev-%s-%zu", p->name, f);
                if (q35) {
                        opt_strf(&o, "bus", "rp%u", s - 0x10 + 1);
                        opt_strf(&o, "addr", "0x0.%zu", f);
                } else {
                        opt_const(&o, "bus=pci.0");
                        opt_strf(&o, "addr", "0x%x.%zu", s, f);
                }
                if (f == 0 && n > 1)
                        opt_const(&o, "multifunction=on");
                if (f == 0 && gpu && p->x_vga)
                        opt_const(&o, "x-vga=on");
                if (f == 0 && p->romfile)
                        opt_str(&o, "romfile", p->romfile);
                if (f == 0 && !p->rombar)
                        opt_const(&o, "rombar=0");
                if (f == 0 && p->bootindex)
                        opt_uint(&o, "bootindex", p->bootindex);
                add_opt(b, "-device", &o);
        }
}

static void build_passthrough(builder *b, const vm_config *c)
{
        unsigned slot = 0x10;

        for (size_t i = 0; i < c->n_gpus; i++)
                build_hostdev(b, c, &c->gpus[i], true, &slot);
        for (size_t i = 0; i < c->n_pcis; i++)
                build_hostdev(b, c, &c->pcis[i], false, &slot);
        for (unsigned i = 0; i < c->vm.spare_root_ports; i++, slot++)
                root_port(b, slot);
}

static void build_usb(builder *b, const vm_config *c)
{
        opt o = {};

        if (c->n_usbs == 0)
                return;
        add(b, "-device");
        add(b, "qemu-xhci,id=xhci");
        for (size_t i = 0; i < c->n_usbs; i++) {
                const vm_usb *u = &c->usbs[i];

                opt_const(&o, "usb-host,bus=xhci.0");
                opt_strf(&o, "id", "usb-%s", u->name);
                if (u->has_id) {
                        opt_hex(&o, "vendorid", 4, u->vendor);
                        opt_hex(&o, "productid", 4, u->product);
                } else {
                        opt_uint(&o, "hostbus", u->host_bus);
                        opt_str(&o, "hostport", u->host_port);
                }
                if (u->bootindex)
                        opt_uint(&o, "bootindex", u->bootindex);
                add_opt(b, "-device", &o);
        }
}

/* The -drive of a disk (its backend); the device comes from build_disk_device. */
static void build_drive(builder *b, const vm_disk *d)
{
        bool cdrom = d->media == VM_MEDIA_CDROM;
        opt o = {};

        if (d->iothread) {
                opt_const(&o, "iothread");
                opt_strf(&o, "id", "io-%s", d->name);
                add_opt(b, "-object", &o);
        }
        opt_const(&o, "if=none");
        opt_strf(&o, "id", "drive-%s", d->name);
        opt_str(&o, "file", d->path);
        opt_str(&o, "format", d->format == VM_DISK_QCOW2 ? "qcow2" : "raw");
        if (cdrom)
                opt_const(&o, "media=cdrom");
        if (cdrom || d->readonly)
                opt_const(&o, "readonly=on");
        if (d->cache)
                opt_str(&o, "cache", d->cache);
        if (d->aio)
                opt_str(&o, "aio", d->aio);
        if (d->discard)
                opt_str(&o, "discard", d->discard);
        add_opt(b, "-drive", &o);
}

static void build_disks(builder *b, const vm_config *c)
{
        unsigned ahci = 0, ide = 0;
        bool ahci_added = false;
        opt o = {};

        for (size_t i = 0; i < c->n_disks; i++) {
                const vm_disk *d = &c->disks[i];
                bool cdrom = d->media == VM_MEDIA_CDROM;
                vm_disk_bus bus = d->bus;

                build_drive(b, d);
                /* q35 has no IDE: its built-in AHCI (ich9-ahci, buses ide.0-5) serves both. */
                if (bus == VM_DISK_IDE && c->vm.machine == VM_MACHINE_Q35)
                        bus = VM_DISK_SATA;
                switch (bus) {
                case VM_DISK_VIRTIO_BLK:
                        opt_const(&o, "virtio-blk-pci");
                        opt_strf(&o, "drive", "drive-%s", d->name);
                        opt_strf(&o, "id", "disk-%s", d->name);
                        if (d->iothread)
                                opt_strf(&o, "iothread", "io-%s", d->name);
                        break;
                case VM_DISK_VIRTIO_SCSI:
                        /* One controller per disk, so each disk's iothread is its own. */
                        opt_const(&o, "virtio-scsi-pci");
                        opt_strf(&o, "id", "scsi-%s", d->name);
                        if (d->iothread)
                                opt_strf(&o, "iothread", "io-%s", d->name);
                        add_opt(b, "-device", &o);
                        opt_word(&o, cdrom ? "scsi-cd" : "scsi-hd");
                        opt_strf(&o, "bus", "scsi-%s.0", d->name);
                        opt_strf(&o, "drive", "drive-%s", d->name);
                        opt_strf(&o, "id", "disk-%s", d->name);
                        break;
                case VM_DISK_SATA:
                        if (c->vm.machine == VM_MACHINE_I440FX && !ahci_added) {
                                add(b, "-device");
                                add(b, "ich9-ahci,id=sata");
                                ahci_added = true;
                        }
                        opt_word(&o, cdrom ? "ide-cd" : "ide-hd");
                        opt_strf(&o, "bus", "%s.%u", c->vm.machine == VM_MACHINE_Q35 ? "ide" : "sata", ahci);
                        opt_strf(&o, "drive", "drive-%s", d->name);
                        opt_strf(&o, "id", "disk-%s", d->name);
                        ahci++;
                        break;
                case VM_DISK_IDE:
                        /* PIIX IDE on i440fx: two buses, two units each. */
                        opt_word(&o, cdrom ? "ide-cd" : "ide-hd");
                        opt_strf(&o, "bus", "ide.%u", ide / 2);
                        opt_uint(&o, "unit", ide % 2);
                        opt_strf(&o, "drive", "drive-%s", d->name);
                        opt_strf(&o, "id", "disk-%s", d->name);
                        ide++;
                        break;
                }
                if (d->serial && !cdrom)
                        opt_str(&o, "serial", d->serial);
                if (d->bootindex)
                        opt_uint(&o, "bootindex", d->bootindex);
                add_opt(b, "-device", &o);
        }
        if (ahci > 6)
                note(b, "more than 6 SATA disks: the AHCI controller has 6 ports; QEMU will refuse");
}

static void build_net(builder *b, const vm_config *c)
{
        bool smb_done = false;
        opt o = {};

        for (size_t i = 0; i < c->n_nets; i++) {
                const vm_net *n = &c->nets[i];

                switch (n->type) {
                case VM_NET_USER:
                        opt_const(&o, "user");
                        opt_strf(&o, "id", "net-%s", n->name);
                        STRV_FOREACH(f, n->hostfwd)
                                opt_str(&o, "hostfwd", *f);
                        /* QEMU's SMB share runs smbd from samba; one directory per user netdev. */
                        for (size_t j = 0; j < c->n_shares && !smb_done; j++)
                                if (c->shares[j].type == VM_SHARE_SMB) {
                                        opt_str(&o, "smb", c->shares[j].path);
                                        smb_done = true;
                                }
                        break;
                case VM_NET_BRIDGE:
                        /* qemu-bridge-helper creates the tap; the bridge must be allowed in bridge.conf. */
                        opt_const(&o, "bridge");
                        opt_strf(&o, "id", "net-%s", n->name);
                        opt_str(&o, "br", n->bridge);
                        if (n->helper)
                                opt_str(&o, "helper", n->helper);
                        break;
                case VM_NET_TAP:
                        opt_const(&o, "tap");
                        opt_strf(&o, "id", "net-%s", n->name);
                        opt_str(&o, "ifname", n->ifname);
                        opt_const(&o, "script=no,downscript=no");
                        break;
                case VM_NET_MACVTAP:
                        /*
                         * The macvtap's character device (/dev/tapIFINDEX), opened by vfioctl start and
                         * inherited by QEMU at this number: QEMU reads it as a tap (qemu-options.hx, -netdev
                         * tap,fd=), the way libvirt hands it over.
                         */
                        opt_const(&o, "tap");
                        opt_strf(&o, "id", "net-%s", n->name);
                        opt_uint(&o, "fd", (uint64_t)vm_qemu_macvtap_fd(c, n));
                        break;
                }
                add_opt(b, "-netdev", &o);
                opt_word(&o, n->model == VM_NET_E1000E ? "e1000e" : "virtio-net-pci");
                opt_strf(&o, "netdev", "net-%s", n->name);
                opt_strf(&o, "id", "nic-%s", n->name);
                if (n->mac)
                        opt_str(&o, "mac", n->mac);
                add_opt(b, "-device", &o);
        }
}

int vm_qemu_macvtap_fd(const vm_config *c, const vm_net *n)
{
        int k = 0;

        for (size_t i = 0; i < c->n_nets && &c->nets[i] != n; i++)
                k += c->nets[i].type == VM_NET_MACVTAP;
        return VM_QEMU_MACVTAP_FD_BASE + k;
}

bool vm_qemu_input_wants_relay(const vm_input *in)
{
        assert(in);

        return in->type == VM_INPUT_EVDEV && in->evdev && in->relay != VM_RELAY_NO;
}

bool vm_qemu_input_relayed(const vm_input *in, const vm_argv_paths *p)
{
        assert(p);

        return p->input_relay && vm_qemu_input_wants_relay(in);
}

char *vm_qemu_input_link(const vm_config *c, const vm_input *in, const vm_argv_paths *p)
{
        char *s;

        assert(c);
        assert(in);
        assert(p);

        return asprintf(&s, "%s/%s-%s", p->runtime_dir, c->name, in->name) < 0 ? NULL : s;
}

static void build_input(builder *b, const vm_config *c, const vm_argv_paths *p)
{
        static const char *const devices[] = {
                [VM_INPUT_VIRTIO_KEYBOARD] = "virtio-keyboard-pci",
                [VM_INPUT_VIRTIO_MOUSE] = "virtio-mouse-pci",
                [VM_INPUT_VIRTIO_TABLET] = "virtio-tablet-pci",
        };
        opt o = {};

        for (size_t i = 0; i < c->n_inputs; i++) {
                const vm_input *in = &c->inputs[i];

                if (in->type == VM_INPUT_EVDEV) {
                        /* input-linux reads the host evdev node and grabs it (qemu-options.hx, -object). */
                        _cleanup_free_ char *link = NULL;

                        /* Relayed: the relay's virtual device, which stays while the real one is replugged.
                         */
                        if (vm_qemu_input_relayed(in, p) && !(link = vm_qemu_input_link(c, in, p))) {
                                b->error = -ENOMEM;
                                return;
                        }
                        opt_const(&o, "input-linux");
                        opt_strf(&o, "id", "input-%s", in->name);
                        opt_str(&o, "evdev", link ? link : in->evdev);
                        if (in->grab_all)
                                opt_const(&o, "grab_all=on");
                        if (in->repeat)
                                opt_const(&o, "repeat=on");
                        if (in->grab_toggle)
                                opt_str(&o, "grab-toggle", in->grab_toggle);
                        add_opt(b, "-object", &o);
                } else {
                        opt_word(&o, devices[in->type]);
                        opt_strf(&o, "id", "input-%s", in->name);
                        add_opt(b, "-device", &o);
                }
        }
}

static void build_display(builder *b, const vm_config *c, const vm_argv_paths *p)
{
        static const char *const devices[] = {
                [VM_DISPLAY_VIRTIO_VGA] = "virtio-vga",
                [VM_DISPLAY_QXL] = "qxl-vga",
                [VM_DISPLAY_STD] = "VGA",
        };
        _cleanup_free_ char *sock = NULL;
        opt o = {};

        if (c->display.device != VM_DISPLAY_NONE) {
                opt_word(&o, devices[c->display.device]);
                opt_const(&o, "id=video0");
                add_opt(b, "-device", &o);
        }
        if (c->display.protocol != VM_PROTOCOL_NONE) {
                bool spice = c->display.protocol == VM_PROTOCOL_SPICE;

                sock = c->display.socket ? strdup(c->display.socket)
                                         : path_join(p->runtime_dir, spice ? "spice.sock" : "vnc.sock");
                if (!sock) {
                        b->error = -ENOMEM;
                        return;
                }
                if (spice) {
                        /* A unix socket only the user can reach: no ticket needed. */
                        opt_const(&o, "unix=on");
                        opt_str(&o, "addr", sock);
                        opt_const(&o, "disable-ticketing=on");
                        add_opt(b, "-spice", &o);
                } else {
                        /* Keyed, not the bare first value: QEMU would read a '=' in a bare value as a key.
                         */
                        opt_strf(&o, "vnc", "unix:%s", sock);
                        add_opt(b, "-vnc", &o);
                }
        } else {
                /* No viewer: never let QEMU open a window of its own. */
                add(b, "-display");
                add(b, "none");
        }
        if (c->looking_glass.enabled) {
                /* Looking Glass docs, "IVSHMEM": a shared file in /dev/shm (or kvmfr's device) the client
                 * maps too. */
                opt_const(&o, "memory-backend-file,id=looking-glass");
                opt_str(&o, "mem-path", vm_looking_glass_path(c));
                opt_size(&o, "size", vm_looking_glass_bytes(c));
                opt_const(&o, "share=on");
                add_opt(b, "-object", &o);
                add(b, "-device");
                add(b, "ivshmem-plain,id=shmem0,memdev=looking-glass");
        }
}

static void build_audio(builder *b, const vm_config *c, const vm_argv_paths *p)
{
        const vm_audio *a = &c->audio;
        opt o = {};

        if (!a->enabled)
                return;
        switch (a->backend) {
        case VM_AUDIO_PA: {
                _cleanup_free_ char *server = NULL;

                if (vm_audio_server_of(c) == VM_SERVER_NONE) {
                        /* The guest keeps its sound card; nothing is played. */
                        opt_const(&o, "none,id=audio0");
                        break;
                }
                server = vm_qemu_audio_server(c, p);
                if (!server) {
                        b->error = -ENOMEM;
                        return;
                }
                opt_const(&o, "pa,id=audio0");
                opt_str(&o, "server", server);
                break;
        }
        case VM_AUDIO_ALSA:
                opt_const(&o, "alsa,id=audio0");
                if (a->alsa_device) {
                        opt_str(&o, "out.dev", a->alsa_device);
                        opt_str(&o, "in.dev", a->alsa_device);
                }
                break;
        case VM_AUDIO_NONE:
                opt_const(&o, "none,id=audio0");
                break;
        }
        if (a->buffer_length) {
                opt_uint(&o, "out.buffer-length", a->buffer_length);
                opt_uint(&o, "in.buffer-length", a->buffer_length);
        }
        if (a->timer_period)
                opt_uint(&o, "timer-period", a->timer_period);
        add_opt(b, "-audiodev", &o);
        if (a->device == VM_AUDIO_AC97) {
                add(b, "-device");
                add(b, "AC97,id=sound0,audiodev=audio0");
                return;
        }
        opt_word(&o, a->device == VM_AUDIO_ICH9_HDA ? "ich9-intel-hda" : "intel-hda");
        opt_const(&o, "id=sound0");
        add_opt(b, "-device", &o);
        opt_word(&o, a->codec == VM_CODEC_OUTPUT ? "hda-output" : "hda-duplex");
        opt_const(&o, "bus=sound0.0,audiodev=audio0");
        add_opt(b, "-device", &o);
}

static void build_tpm(builder *b, const vm_config *c, const vm_argv_paths *p)
{
        _cleanup_free_ char *sock = NULL;
        opt o = {};

        if (!c->tpm.enabled)
                return;
        sock = vm_qemu_tpm_socket(c, p);
        if (!sock) {
                b->error = -ENOMEM;
                return;
        }
        /* swtpm's control socket; QEMU docs "TPM device emulation", swtpm section. */
        opt_const(&o, "socket,id=chrtpm");
        opt_str(&o, "path", sock);
        add_opt(b, "-chardev", &o);
        add(b, "-tpmdev");
        add(b, "emulator,id=tpm0,chardev=chrtpm");
        add(b, "-device");
        add(b, "tpm-crb,tpmdev=tpm0");
}

static void build_misc(builder *b, const vm_config *c)
{
        opt o = {};

        if (c->vm.debugcon) {
                /*
                 * OVMF writes its debug log to I/O port 0x402 (OvmfPkg/README). This is the chardev form of
                 * "-global isa-debugcon.iobase=0x402 -debugcon file:PATH", whose legacy file: syntax cannot
                 * be escaped.
                 */
                opt_const(&o, "file,id=debugcon");
                opt_str(&o, "path", c->vm.debugcon);
                add_opt(b, "-chardev", &o);
                add(b, "-device");
                add(b, "isa-debugcon,iobase=0x402,chardev=debugcon");
        }
        for (size_t i = 0; i < c->n_shares; i++)
                if (c->shares[i].type == VM_SHARE_VIRTIOFS)
                        note(b,
                             "[share \"%s\"]: virtiofs needs virtiofsd running beside QEMU and shared memory; vfioctl does not start it. Add to extra_args: -chardev socket,id=fs0,path=SOCK -device vhost-user-fs-pci,chardev=fs0,tag=%s and run /usr/libexec/virtiofsd --socket-path=SOCK --shared-dir=%s",
                             c->shares[i].name, c->shares[i].name, c->shares[i].path);
}

int vm_qemu_argv(const vm_config *c, const vm_argv_paths *p, char ***ret, char ***ret_notes)
{
        builder b = {};
        opt o = {};

        assert(c);
        assert(ret);

        for (size_t i = 0; i < c->n_gpus; i++)
                if (!c->gpus[i].resolved)
                        return log_debug_errno(-EINVAL, "[gpu] %s is not resolved", c->gpus[i].name);
        for (size_t i = 0; i < c->n_pcis; i++)
                if (!c->pcis[i].resolved)
                        return log_debug_errno(-EINVAL, "[pci] %s is not resolved", c->pcis[i].name);

        add(&b, c->vm.emulator);
        opt_str(&o, "guest", c->name);
        opt_const(&o, "debug-threads=on");
        add_opt(&b, "-name", &o);
        /* Nothing QEMU would add by itself (default NIC, VGA, drives) and no /etc/qemu config. */
        add(&b, "-nodefaults");
        add(&b, "-no-user-config");
        build_machine(&b, c);
        build_cpu(&b, c);
        build_memory(&b, c, p);
        build_firmware(&b, c, p);
        build_identity(&b, c);
        if (c->vm.kernel) {
                /* Direct kernel boot (qemu-options.hx, "Linux/Multiboot boot specific"): the firmware hands
                 * over. */
                add(&b, "-kernel");
                add(&b, c->vm.kernel);
                if (c->vm.initrd) {
                        add(&b, "-initrd");
                        add(&b, c->vm.initrd);
                }
                if (c->vm.append) {
                        add(&b, "-append");
                        add(&b, c->vm.append);
                }
        }
        build_qmp(&b, p);
        build_passthrough(&b, c);
        build_usb(&b, c);
        build_disks(&b, c);
        build_net(&b, c);
        build_input(&b, c, p);
        build_display(&b, c, p);
        build_audio(&b, c, p);
        build_tpm(&b, c, p);
        build_misc(&b, c);
        STRV_FOREACH(a, c->vm.extra_args)
                add(&b, *a);
        if (b.error) {
                strv_free(b.argv);
                strv_free(b.notes);
                return b.error;
        }
        *ret = b.argv;
        if (ret_notes)
                *ret_notes = b.notes;
        else
                strv_free(b.notes);
        return 0;
}
