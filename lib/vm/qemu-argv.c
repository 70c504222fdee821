/*
 * The QEMU 7.2 command line for a VM model. Pure: no host reads, no environment; host-specific parts
 * (resolved PCI addresses, runtime paths) come in as data. Option syntax: QEMU docs "QEMU System
 * Emulator Invocation" (docs/system/invocation.rst) and qemu-options.hx of 7.2.
 */
#include "vfioctl/qemu-argv.h"

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
        if (c->firmware.code)
                return c->firmware.code;
        /* Debian's ovmf package: the secboot build carries SMM, which Secure Boot relies on. */
        return c->firmware.secure_boot ? "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
                                       : "/usr/share/OVMF/OVMF_CODE_4M.fd";
}

const char *vm_qemu_firmware_vars_template(const vm_config *c)
{
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
        return c->firmware.vars ? strdup(c->firmware.vars) : path_join(p->state_dir, "OVMF_VARS.fd");
}

char *vm_qemu_qmp_socket(const vm_argv_paths *p)
{
        return path_join(p->runtime_dir, "qmp.sock");
}

char *vm_qemu_tpm_socket(const vm_config *c, const vm_argv_paths *p)
{
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

/* One option value under construction: "driver,key=value,...". */
typedef struct opt {
        char *s;
        int error;
} opt;

static void opt_raw(opt *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void opt_raw(opt *o, const char *fmt, ...)
{
        _cleanup_free_ char *piece = NULL;
        char *n;
        va_list ap;
        int r;

        if (o->error)
                return;
        va_start(ap, fmt);
        r = vasprintf(&piece, fmt, ap);
        va_end(ap);
        if (r < 0 || asprintf(&n, "%s%s%s", o->s ? o->s : "", o->s ? "," : "", piece) < 0) {
                o->error = -ENOMEM;
                return;
        }
        free(o->s);
        o->s = n;
}

/* key=value with the value escaped: every user-supplied string goes through here. */
static void opt_str(opt *o, const char *key, const char *value)
{
        _cleanup_free_ char *e = vm_qemu_escape(value);

        if (!e) {
                o->error = -ENOMEM;
                return;
        }
        opt_raw(o, "%s=%s", key, e);
}

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

static bool needs_memory_backend(const vm_config *c)
{
        return c->memory.hugepages != VM_HUGEPAGES_NONE || c->memory.prealloc;
}

static void build_machine(builder *b, const vm_config *c)
{
        opt o = {};
        char sz[32];

        opt_raw(&o, "%s", c->vm.machine == VM_MACHINE_Q35 ? "q35" : "pc");
        if (c->vm.max_ram_below_4g) {
                format_size(c->vm.max_ram_below_4g, sz);
                opt_raw(&o, "max-ram-below-4g=%s", sz);
        }
        /* Secure Boot variables are only protected from the guest OS with SMM (OVMF README, "SMM"). */
        if (c->firmware.secure_boot)
                opt_raw(&o, "smm=on");
        if (!c->vm.hpet)
                opt_raw(&o, "hpet=off");
        if (!c->vm.vmport)
                opt_raw(&o, "vmport=off");
        if (needs_memory_backend(c))
                opt_raw(&o, "memory-backend=mem");
        add_opt(b, "-machine", &o);
        add(b, "-accel");
        add(b, c->vm.accel == VM_ACCEL_KVM ? "kvm" : "tcg");
}

static void build_cpu(builder *b, const vm_config *c)
{
        opt o = {};

        opt_raw(&o, "%s", c->cpu.model);
        /* kvm=off clears the KVM CPUID signature, which GeForce drivers before 465 refuse (code 43). */
        if (c->cpu.hide_kvm)
                opt_raw(&o, "kvm=off");
        /* The set Windows benefits from and QEMU 7.2 accepts on KVM and TCG (docs/hyperv.txt). */
        if (c->cpu.hyperv)
                opt_raw(&o, "hv-relaxed,hv-vapic,hv-spinlocks=0x1fff,hv-time");
        /* Flags of their own too: an imported domain has exactly the enlightenments its XML lists. */
        if (c->cpu.hyperv_vendor_id)
                opt_raw(&o, "hv-vendor-id=%s", c->cpu.hyperv_vendor_id);
        STRV_FOREACH(f, c->cpu.hyperv_extra)
                opt_raw(&o, "%s", *f);
        /* CPUID feature switches (qemu-options.hx, -cpu: "feature=on|off"). */
        STRV_FOREACH(f, c->cpu.features)
                opt_raw(&o, "%s=%s", *f + 1, **f == '+' ? "on" : "off");
        add_opt(b, "-cpu", &o);
        opt_raw(&o, "%u,sockets=%u,cores=%u,threads=%u", vm_config_vcpus(c), c->cpu.sockets, c->cpu.cores,
                c->cpu.threads);
        /* Fewer vCPUs than topology places: the rest stay empty, as libvirt's <vcpu current> leaves them. */
        if (vm_config_vcpus(c) < vm_config_max_vcpus(c))
                opt_raw(&o, "maxcpus=%u", vm_config_max_vcpus(c));
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

                opt_raw(&o, "memory-backend-file,id=mem,size=%s", sz);
                /* vfioctl's filled file: shared, or each write would copy a page of it (MAP_PRIVATE). */
                opt_str(&o, "mem-path", p->memory_file ? p->memory_file : path);
                if (p->memory_file)
                        opt_raw(&o, "share=on");
        } else if (c->memory.prealloc)
                opt_raw(&o, "memory-backend-ram,id=mem,size=%s", sz);
        if (o.s) {
                if (c->memory.prealloc || c->memory.hugepages != VM_HUGEPAGES_NONE)
                        opt_raw(&o, "prealloc=on");
                if (c->memory.prealloc_threads)
                        opt_raw(&o, "prealloc-threads=%u", c->memory.prealloc_threads);
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
        opt_raw(&o, "if=pflash,format=raw,unit=0,readonly=on");
        opt_str(&o, "file", vm_qemu_firmware_code(c));
        add_opt(b, "-drive", &o);
        opt_raw(&o, "if=pflash,format=raw,unit=1");
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
                opt_raw(&o, "name=opt/ovmf/X-PciMmio64Mb,string=%" PRIu64, c->firmware.mmio64_size >> 20);
                add_opt(b, "-fw_cfg", &o);
        }
}

static void smbios_field(opt *o, const char *key, const char *v)
{
        if (v)
                opt_str(o, key, v);
}

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
                opt_raw(&o, "type=0");
                smbios_field(&o, "vendor", s->bios_vendor);
                smbios_field(&o, "version", s->bios_version);
                smbios_field(&o, "date", s->bios_date);
                smbios_field(&o, "release", s->bios_release);
                add_opt(b, "-smbios", &o);
        }
        if (s->system_manufacturer || s->system_product || s->system_version || s->system_serial ||
            s->system_uuid || s->system_sku || s->system_family) {
                opt_raw(&o, "type=1");
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
                opt_raw(&o, "type=2");
                smbios_field(&o, "manufacturer", s->baseboard_manufacturer);
                smbios_field(&o, "product", s->baseboard_product);
                smbios_field(&o, "version", s->baseboard_version);
                smbios_field(&o, "serial", s->baseboard_serial);
                smbios_field(&o, "asset", s->baseboard_asset);
                add_opt(b, "-smbios", &o);
        }
        if (s->chassis_manufacturer || s->chassis_version || s->chassis_serial || s->chassis_asset ||
            s->chassis_sku) {
                opt_raw(&o, "type=3");
                smbios_field(&o, "manufacturer", s->chassis_manufacturer);
                smbios_field(&o, "version", s->chassis_version);
                smbios_field(&o, "serial", s->chassis_serial);
                smbios_field(&o, "asset", s->chassis_asset);
                smbios_field(&o, "sku", s->chassis_sku);
                add_opt(b, "-smbios", &o);
        }
        if (c->vm.rtc_localtime || c->vm.rtc_catchup) {
                opt_raw(&o, "base=%s", c->vm.rtc_localtime ? "localtime" : "utc");
                if (c->vm.rtc_catchup)
                        opt_raw(&o, "driftfix=slew");
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
        opt_raw(&o, "socket,id=qmp");
        opt_str(&o, "path", sock);
        opt_raw(&o, "server=on,wait=off");
        add_opt(b, "-chardev", &o);
        add(b, "-mon");
        add(b, "chardev=qmp,mode=control");
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
        char bus[48];
        opt o = {};

        if (c->vm.machine == VM_MACHINE_Q35) {
                opt_raw(&o, "pcie-root-port,id=rp%u,bus=pcie.0,chassis=%u,port=0x%x,addr=0x%x", s - 0x10 + 1,
                        s - 0x10 + 1, s, s);
                add_opt(b, "-device", &o);
                snprintf(bus, sizeof(bus), "bus=rp%u,addr=0x0", s - 0x10 + 1);
        } else
                snprintf(bus, sizeof(bus), "bus=pci.0,addr=0x%x", s);
        for (size_t f = 0; f < n; f++) {
                opt_raw(&o, "vfio-pci");
                opt_str(&o, "host", p->resolved[f]);
                opt_raw(&o, "id=hostdev-%s-%zu,%s.%zu", p->name, f, bus, f);
                if (f == 0 && n > 1)
                        opt_raw(&o, "multifunction=on");
                if (f == 0 && gpu && p->x_vga)
                        opt_raw(&o, "x-vga=on");
                if (f == 0 && p->romfile)
                        opt_str(&o, "romfile", p->romfile);
                if (f == 0 && !p->rombar)
                        opt_raw(&o, "rombar=0");
                if (f == 0 && p->bootindex)
                        opt_raw(&o, "bootindex=%u", p->bootindex);
                add_opt(b, "-device", &o);
        }
}

static void build_passthrough(builder *b, const vm_config *c)
{
        unsigned slot = 0x10;
        opt o = {};

        for (size_t i = 0; i < c->n_gpus; i++)
                build_hostdev(b, c, &c->gpus[i], true, &slot);
        for (size_t i = 0; i < c->n_pcis; i++)
                build_hostdev(b, c, &c->pcis[i], false, &slot);
        for (unsigned i = 0; i < c->vm.spare_root_ports; i++, slot++) {
                opt_raw(&o, "pcie-root-port,id=rp%u,bus=pcie.0,chassis=%u,port=0x%x,addr=0x%x",
                        slot - 0x10 + 1, slot - 0x10 + 1, slot, slot);
                add_opt(b, "-device", &o);
        }
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

                opt_raw(&o, "usb-host,bus=xhci.0,id=usb-%s", u->name);
                if (u->has_id)
                        opt_raw(&o, "vendorid=0x%04x,productid=0x%04x", u->vendor, u->product);
                else {
                        opt_raw(&o, "hostbus=%u", u->host_bus);
                        opt_str(&o, "hostport", u->host_port);
                }
                if (u->bootindex)
                        opt_raw(&o, "bootindex=%u", u->bootindex);
                add_opt(b, "-device", &o);
        }
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

                if (d->iothread) {
                        opt_raw(&o, "iothread,id=io-%s", d->name);
                        add_opt(b, "-object", &o);
                }
                opt_raw(&o, "if=none,id=drive-%s", d->name);
                opt_str(&o, "file", d->path);
                opt_raw(&o, "format=%s", d->format == VM_DISK_QCOW2 ? "qcow2" : "raw");
                if (cdrom)
                        opt_raw(&o, "media=cdrom");
                if (cdrom || d->readonly)
                        opt_raw(&o, "readonly=on");
                if (d->cache)
                        opt_raw(&o, "cache=%s", d->cache);
                if (d->aio)
                        opt_raw(&o, "aio=%s", d->aio);
                if (d->discard)
                        opt_raw(&o, "discard=%s", d->discard);
                add_opt(b, "-drive", &o);

                /* q35 has no IDE: its built-in AHCI (ich9-ahci, buses ide.0-5) serves both. */
                if (bus == VM_DISK_IDE && c->vm.machine == VM_MACHINE_Q35)
                        bus = VM_DISK_SATA;
                switch (bus) {
                case VM_DISK_VIRTIO_BLK:
                        opt_raw(&o, "virtio-blk-pci,drive=drive-%s,id=disk-%s", d->name, d->name);
                        if (d->iothread)
                                opt_raw(&o, "iothread=io-%s", d->name);
                        break;
                case VM_DISK_VIRTIO_SCSI:
                        /* One controller per disk, so each disk's iothread is its own. */
                        opt_raw(&o, "virtio-scsi-pci,id=scsi-%s", d->name);
                        if (d->iothread)
                                opt_raw(&o, "iothread=io-%s", d->name);
                        add_opt(b, "-device", &o);
                        opt_raw(&o, "%s,bus=scsi-%s.0,drive=drive-%s,id=disk-%s",
                                cdrom ? "scsi-cd" : "scsi-hd", d->name, d->name, d->name);
                        break;
                case VM_DISK_SATA:
                        if (c->vm.machine == VM_MACHINE_I440FX && !ahci_added) {
                                add(b, "-device");
                                add(b, "ich9-ahci,id=sata");
                                ahci_added = true;
                        }
                        opt_raw(&o, "%s,bus=%s.%u,drive=drive-%s,id=disk-%s", cdrom ? "ide-cd" : "ide-hd",
                                c->vm.machine == VM_MACHINE_Q35 ? "ide" : "sata", ahci, d->name, d->name);
                        ahci++;
                        break;
                case VM_DISK_IDE:
                        /* PIIX IDE on i440fx: two buses, two units each. */
                        opt_raw(&o, "%s,bus=ide.%u,unit=%u,drive=drive-%s,id=disk-%s",
                                cdrom ? "ide-cd" : "ide-hd", ide / 2, ide % 2, d->name, d->name);
                        ide++;
                        break;
                }
                if (d->serial && !cdrom)
                        opt_str(&o, "serial", d->serial);
                if (d->bootindex)
                        opt_raw(&o, "bootindex=%u", d->bootindex);
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
                        opt_raw(&o, "user,id=net-%s", n->name);
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
                        opt_raw(&o, "bridge,id=net-%s", n->name);
                        opt_str(&o, "br", n->bridge);
                        if (n->helper)
                                opt_str(&o, "helper", n->helper);
                        break;
                case VM_NET_TAP:
                        opt_raw(&o, "tap,id=net-%s", n->name);
                        opt_str(&o, "ifname", n->ifname);
                        opt_raw(&o, "script=no,downscript=no");
                        break;
                case VM_NET_MACVTAP:
                        /*
                         * The macvtap's character device (/dev/tapIFINDEX), opened by vfioctl start and
                         * inherited by QEMU at this number: QEMU reads it as a tap (qemu-options.hx, -netdev
                         * tap,fd=), the way libvirt hands it over.
                         */
                        opt_raw(&o, "tap,id=net-%s,fd=%d", n->name, vm_qemu_macvtap_fd(c, n));
                        break;
                }
                add_opt(b, "-netdev", &o);
                opt_raw(&o, "%s,netdev=net-%s,id=nic-%s",
                        n->model == VM_NET_E1000E ? "e1000e" : "virtio-net-pci", n->name, n->name);
                if (n->mac)
                        opt_raw(&o, "mac=%s", n->mac);
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
        return in->type == VM_INPUT_EVDEV && in->evdev && in->relay != VM_RELAY_NO;
}

bool vm_qemu_input_relayed(const vm_input *in, const vm_argv_paths *p)
{
        return p->input_relay && vm_qemu_input_wants_relay(in);
}

char *vm_qemu_input_link(const vm_config *c, const vm_input *in, const vm_argv_paths *p)
{
        char *s;

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
                        opt_raw(&o, "input-linux,id=input-%s", in->name);
                        opt_str(&o, "evdev", link ? link : in->evdev);
                        if (in->grab_all)
                                opt_raw(&o, "grab_all=on");
                        if (in->repeat)
                                opt_raw(&o, "repeat=on");
                        if (in->grab_toggle)
                                opt_raw(&o, "grab-toggle=%s", in->grab_toggle);
                        add_opt(b, "-object", &o);
                } else {
                        opt_raw(&o, "%s,id=input-%s", devices[in->type], in->name);
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
                opt_raw(&o, "%s,id=video0", devices[c->display.device]);
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
                        opt_raw(&o, "unix=on");
                        opt_str(&o, "addr", sock);
                        opt_raw(&o, "disable-ticketing=on");
                        add_opt(b, "-spice", &o);
                } else {
                        _cleanup_free_ char *e = vm_qemu_escape(sock);

                        if (!e) {
                                b->error = -ENOMEM;
                                return;
                        }
                        opt_raw(&o, "unix:%s", e);
                        add_opt(b, "-vnc", &o);
                }
        } else {
                /* No viewer: never let QEMU open a window of its own. */
                add(b, "-display");
                add(b, "none");
        }
        if (c->looking_glass.enabled) {
                char sz[32];

                format_size(vm_looking_glass_bytes(c), sz);
                /* Looking Glass docs, "IVSHMEM": a shared file in /dev/shm (or kvmfr's device) the client
                 * maps too. */
                opt_raw(&o, "memory-backend-file,id=looking-glass");
                opt_str(&o, "mem-path", vm_looking_glass_path(c));
                opt_raw(&o, "size=%s,share=on", sz);
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
                        opt_raw(&o, "none,id=audio0");
                        break;
                }
                server = vm_qemu_audio_server(c, p);
                if (!server) {
                        b->error = -ENOMEM;
                        return;
                }
                opt_raw(&o, "pa,id=audio0");
                opt_str(&o, "server", server);
                break;
        }
        case VM_AUDIO_ALSA:
                opt_raw(&o, "alsa,id=audio0");
                if (a->alsa_device) {
                        opt_str(&o, "out.dev", a->alsa_device);
                        opt_str(&o, "in.dev", a->alsa_device);
                }
                break;
        case VM_AUDIO_NONE:
                opt_raw(&o, "none,id=audio0");
                break;
        }
        if (a->buffer_length)
                opt_raw(&o, "out.buffer-length=%u,in.buffer-length=%u", a->buffer_length, a->buffer_length);
        if (a->timer_period)
                opt_raw(&o, "timer-period=%u", a->timer_period);
        add_opt(b, "-audiodev", &o);
        if (a->device == VM_AUDIO_AC97) {
                add(b, "-device");
                add(b, "AC97,id=sound0,audiodev=audio0");
                return;
        }
        opt_raw(&o, "%s,id=sound0", a->device == VM_AUDIO_ICH9_HDA ? "ich9-intel-hda" : "intel-hda");
        add_opt(b, "-device", &o);
        opt_raw(&o, "%s,bus=sound0.0,audiodev=audio0",
                a->codec == VM_CODEC_OUTPUT ? "hda-output" : "hda-duplex");
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
        opt_raw(&o, "socket,id=chrtpm");
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
                opt_raw(&o, "file,id=debugcon");
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

        for (size_t i = 0; i < c->n_gpus; i++)
                if (!c->gpus[i].resolved)
                        return log_debug_errno(-EINVAL, "[gpu] %s is not resolved", c->gpus[i].name);
        for (size_t i = 0; i < c->n_pcis; i++)
                if (!c->pcis[i].resolved)
                        return log_debug_errno(-EINVAL, "[pci] %s is not resolved", c->pcis[i].name);

        add(&b, c->vm.emulator);
        opt_str(&o, "guest", c->name);
        opt_raw(&o, "debug-threads=on");
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
