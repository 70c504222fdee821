/*
 * The VM model written out: as a complete vfioctl config (vmconf-write.c's writer) and as a libvirt
 * domain XML for libvirt 9 (formatdomain.rst; checked against domain.rng by virt-xml-validate).
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlsave.h>

#include "log.h"
#include "parse-util.h"
#include "strv.h"
#include "vfioctl/libvirt-xml.h"
#include "vfioctl/pci.h"
#include "vfioctl/qemu-argv.h"
#include "xmllib.h"

int vm_libvirt_config_text(const vm_config *c, const char *header, char **ret)
{
        return vm_config_write(c, 0, header, ret);
}

/* ---- export ---------------------------------------------------------------------------------------- */

typedef struct writer {
        xmlDocPtr doc;
        xmlNsPtr qemu_ns;
        xmlNode *cmdline;
        char ***lost;
        int error;
} writer;

static xmlNode *el(writer *w, xmlNode *parent, const char *name, const char *content)
{
        xmlNode *n;

        if (w->error)
                return NULL;
        n = xmlNewChild(parent, NULL, (const xmlChar *)name, NULL);
        if (!n) {
                w->error = -ENOMEM;
                return NULL;
        }
        /* xmlNewTextChild escapes; xmlNewChild would take the content as markup. */
        if (content && !xmlAddChild(n, xmlNewText((const xmlChar *)content)))
                w->error = -ENOMEM;
        return n;
}

static void at(writer *w, xmlNode *n, const char *name, const char *value)
{
        if (w->error || !n)
                return;
        if (!xmlNewProp(n, (const xmlChar *)name, (const xmlChar *)value))
                w->error = -ENOMEM;
}

static void atf(writer *w, xmlNode *n, const char *name, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void atf(writer *w, xmlNode *n, const char *name, const char *fmt, ...)
{
        _cleanup_free_ char *v = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&v, fmt, ap);
        va_end(ap);
        if (r < 0) {
                w->error = -ENOMEM;
                return;
        }
        at(w, n, name, v);
}

static void lost(writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lost(writer *w, const char *fmt, ...)
{
        char *s;
        va_list ap;
        int r;

        if (!w->lost)
                return;
        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0 || strv_push(w->lost, s) < 0) {
                if (r >= 0)
                        free(s);
                w->error = -ENOMEM;
        }
}

static void qemu_arg(writer *w, xmlNode *root, const char *value)
{
        xmlNode *a;

        if (w->error)
                return;
        if (!w->cmdline) {
                w->cmdline = xmlNewChild(root, w->qemu_ns, (const xmlChar *)"commandline", NULL);
                if (!w->cmdline) {
                        w->error = -ENOMEM;
                        return;
                }
        }
        a = xmlNewChild(w->cmdline, w->qemu_ns, (const xmlChar *)"arg", NULL);
        if (!a) {
                w->error = -ENOMEM;
                return;
        }
        at(w, a, "value", value);
}

static void kib(writer *w, xmlNode *parent, const char *name, uint64_t bytes)
{
        xmlNode *n;
        char buf[32];

        snprintf(buf, sizeof(buf), "%" PRIu64, bytes >> 10);
        n = el(w, parent, name, buf);
        at(w, n, "unit", "KiB");
}

static void ua_alias(writer *w, xmlNode *dev, const char *prefix, const char *name)
{
        xmlNode *a = el(w, dev, "alias", NULL);

        atf(w, a, "name", "ua-%s%s", prefix, name);
}

static void export_cputune(writer *w, xmlNode *root, const vm_config *c)
{
        xmlNode *ct;

        if (!c->cpu.pin && !c->cpu.emulator_pin)
                return;
        ct = el(w, root, "cputune", NULL);
        for (size_t i = 0; c->cpu.pin && c->cpu.pin[i]; i++) {
                xmlNode *p = el(w, ct, "vcpupin", NULL);

                atf(w, p, "vcpu", "%zu", i);
                at(w, p, "cpuset", c->cpu.pin[i]);
        }
        if (c->cpu.emulator_pin) {
                _cleanup_free_ char *set = strv_join(c->cpu.emulator_pin, ",");
                xmlNode *p = el(w, ct, "emulatorpin", NULL);

                if (!set)
                        w->error = -ENOMEM;
                else
                        at(w, p, "cpuset", set);
        }
}

static void export_os(writer *w, xmlNode *root, const vm_config *c)
{
        xmlNode *os = el(w, root, "os", NULL), *n;

        n = el(w, os, "type", "hvm");
        at(w, n, "arch", "x86_64");
        at(w, n, "machine", c->vm.machine == VM_MACHINE_Q35 ? "q35" : "pc");
        if (c->firmware.type == VM_FIRMWARE_OVMF) {
                n = el(w, os, "loader", vm_qemu_firmware_code(c));
                at(w, n, "readonly", "yes");
                at(w, n, "secure", c->firmware.secure_boot ? "yes" : "no");
                at(w, n, "type", "pflash");
                /* Without a vars path libvirt keeps the copy in /var/lib/libvirt/qemu/nvram/NAME_VARS.fd. */
                n = el(w, os, "nvram", c->firmware.vars);
                at(w, n, "template", vm_qemu_firmware_vars_template(c));
        }
        if (c->smbios.bios_vendor || c->smbios.bios_version || c->smbios.bios_date ||
            c->smbios.bios_release || c->smbios.system_manufacturer || c->smbios.system_product ||
            c->smbios.system_version || c->smbios.system_serial || c->smbios.system_uuid ||
            c->smbios.system_sku || c->smbios.system_family || c->smbios.baseboard_manufacturer ||
            c->smbios.baseboard_product || c->smbios.baseboard_version || c->smbios.baseboard_serial ||
            c->smbios.baseboard_asset || c->smbios.chassis_manufacturer || c->smbios.chassis_version ||
            c->smbios.chassis_serial || c->smbios.chassis_asset || c->smbios.chassis_sku) {
                n = el(w, os, "smbios", NULL);
                at(w, n, "mode", "sysinfo");
        }
}

static void entry(writer *w, xmlNode **block, xmlNode *si, const char *bname, const char *name,
                  const char *v)
{
        xmlNode *e;

        if (!v)
                return;
        if (!*block)
                *block = el(w, si, bname, NULL);
        e = el(w, *block, "entry", v);
        at(w, e, "name", name);
}

static void export_sysinfo(writer *w, xmlNode *root, const vm_config *c)
{
        const vm_smbios *s = &c->smbios;
        xmlNode *si, *b = NULL, *sys = NULL, *bb = NULL, *ch = NULL;

        si = el(w, root, "sysinfo", NULL);
        at(w, si, "type", "smbios");
        entry(w, &b, si, "bios", "vendor", s->bios_vendor);
        entry(w, &b, si, "bios", "version", s->bios_version);
        entry(w, &b, si, "bios", "date", s->bios_date);
        entry(w, &b, si, "bios", "release", s->bios_release);
        entry(w, &sys, si, "system", "manufacturer", s->system_manufacturer);
        entry(w, &sys, si, "system", "product", s->system_product);
        entry(w, &sys, si, "system", "version", s->system_version);
        entry(w, &sys, si, "system", "serial", s->system_serial);
        entry(w, &sys, si, "system", "uuid", s->system_uuid);
        entry(w, &sys, si, "system", "sku", s->system_sku);
        entry(w, &sys, si, "system", "family", s->system_family);
        entry(w, &bb, si, "baseBoard", "manufacturer", s->baseboard_manufacturer);
        entry(w, &bb, si, "baseBoard", "product", s->baseboard_product);
        entry(w, &bb, si, "baseBoard", "version", s->baseboard_version);
        entry(w, &bb, si, "baseBoard", "serial", s->baseboard_serial);
        entry(w, &bb, si, "baseBoard", "asset", s->baseboard_asset);
        entry(w, &ch, si, "chassis", "manufacturer", s->chassis_manufacturer);
        entry(w, &ch, si, "chassis", "version", s->chassis_version);
        entry(w, &ch, si, "chassis", "serial", s->chassis_serial);
        entry(w, &ch, si, "chassis", "asset", s->chassis_asset);
        entry(w, &ch, si, "chassis", "sku", s->chassis_sku);
        if (!b && !sys && !bb && !ch) {
                xmlUnlinkNode(si);
                xmlFreeNode(si);
        }
}

static const char *const hv_names[][2] = {
        { "hv-vpindex", "vpindex" },
        { "hv-runtime", "runtime" },
        { "hv-synic", "synic" },
        { "hv-stimer", "stimer" },
        { "hv-reset", "reset" },
        { "hv-frequencies", "frequencies" },
        { "hv-reenlightenment", "reenlightenment" },
        { "hv-tlbflush", "tlbflush" },
        { "hv-ipi", "ipi" },
        { "hv-evmcs", "evmcs" },
        { "hv-avic", "avic" },
        { "hv-xmm-input", "xmm_input" },
        { "hv-emsr-bitmap", "emsr_bitmap" },
};

/* An hv-* flag of [cpu] in effect: from hyperv = yes's base set or from hyperv_extra. */
static bool hv_on(const vm_config *c, const char *flag)
{
        static const char *const base[] = { "hv-relaxed", "hv-vapic", "hv-time" };

        for (size_t i = 0; c->cpu.hyperv && i < ELEMENTSOF(base); i++)
                if (!strcmp(flag, base[i]))
                        return true;
        return strv_contains(c->cpu.hyperv_extra, flag);
}

/* The spinlock retry count in effect (hyperv = yes: 8191; hyperv_extra hv-spinlocks=N wins), or 0. */
static uint64_t hv_spinlocks(const vm_config *c)
{
        uint64_t n = c->cpu.hyperv ? 8191 : 0;

        STRV_FOREACH(f, c->cpu.hyperv_extra)
                if (!strncmp(*f, "hv-spinlocks=", 13) && parse_uint(*f + 13, 0, UINT32_MAX, &n) < 0)
                        n = 0;
        return n;
}

/* <hyperv> with exactly the enlightenments the config turns on, in the order of domain.rng's group. */
static void export_hyperv(writer *w, xmlNode *fs, const vm_config *c)
{
        xmlNode *hv, *n;
        uint64_t spin = hv_spinlocks(c);
        bool any = c->cpu.hyperv || c->cpu.hyperv_vendor_id;

        STRV_FOREACH(f, c->cpu.hyperv_extra)
                any = any || strcmp(*f, "hv-time") != 0;
        if (!any)
                return;
        hv = el(w, fs, "hyperv", NULL);
        at(w, hv, "mode", hv_on(c, "hv-passthrough") ? "passthrough" : "custom");
        if (hv_on(c, "hv-relaxed"))
                at(w, el(w, hv, "relaxed", NULL), "state", "on");
        if (hv_on(c, "hv-vapic"))
                at(w, el(w, hv, "vapic", NULL), "state", "on");
        if (spin) {
                n = el(w, hv, "spinlocks", NULL);
                at(w, n, "state", "on");
                atf(w, n, "retries", "%" PRIu64, spin);
        }
        for (size_t i = 0; i < ELEMENTSOF(hv_names); i++)
                if (strv_contains(c->cpu.hyperv_extra, hv_names[i][0])) {
                        n = el(w, hv, hv_names[i][1], NULL);
                        at(w, n, "state", "on");
                        if (!strcmp(hv_names[i][0], "hv-stimer") &&
                            strv_contains(c->cpu.hyperv_extra, "hv-stimer-direct"))
                                at(w, el(w, n, "direct", NULL), "state", "on");
                }
        if (c->cpu.hyperv_vendor_id) {
                n = el(w, hv, "vendor_id", NULL);
                at(w, n, "state", "on");
                at(w, n, "value", c->cpu.hyperv_vendor_id);
        }
        STRV_FOREACH(f, c->cpu.hyperv_extra) {
                bool known = !strcmp(*f, "hv-stimer-direct") || !strcmp(*f, "hv-relaxed") ||
                             !strcmp(*f, "hv-vapic") || !strcmp(*f, "hv-time") ||
                             !strcmp(*f, "hv-passthrough") || !strncmp(*f, "hv-spinlocks=", 13);

                for (size_t i = 0; i < ELEMENTSOF(hv_names); i++)
                        known = known || !strcmp(*f, hv_names[i][0]);
                if (!known)
                        lost(w, "[cpu] hyperv_extra %s: libvirt has no element for it", *f);
        }
}

static void export_features(writer *w, xmlNode *root, const vm_config *c)
{
        xmlNode *fs = el(w, root, "features", NULL), *n;

        el(w, fs, "acpi", NULL);
        el(w, fs, "apic", NULL);
        export_hyperv(w, fs, c);
        if (c->cpu.hide_kvm) {
                n = el(w, fs, "kvm", NULL);
                at(w, el(w, n, "hidden", NULL), "state", "on");
        }
        n = el(w, fs, "vmport", NULL);
        at(w, n, "state", c->vm.vmport ? "on" : "off");
        if (c->firmware.secure_boot)
                at(w, el(w, fs, "smm", NULL), "state", "on");
}

static void export_cpu(writer *w, xmlNode *root, const vm_config *c)
{
        xmlNode *cpu = el(w, root, "cpu", NULL), *n;

        if (!strcmp(c->cpu.model, "host")) {
                at(w, cpu, "mode", "host-passthrough");
                at(w, cpu, "check", "none");
                at(w, cpu, "migratable", "on");
        } else if (!strcmp(c->cpu.model, "max"))
                at(w, cpu, "mode", "maximum");
        else {
                at(w, cpu, "mode", "custom");
                at(w, cpu, "match", "exact");
                at(w, cpu, "check", "none");
                n = el(w, cpu, "model", c->cpu.model);
                at(w, n, "fallback", "forbid");
        }
        n = el(w, cpu, "topology", NULL);
        atf(w, n, "sockets", "%u", c->cpu.sockets);
        at(w, n, "dies", "1");
        atf(w, n, "cores", "%u", c->cpu.cores);
        atf(w, n, "threads", "%u", c->cpu.threads);
        /* domain.rng: <feature> follows <topology>; require turns it on, disable off. */
        STRV_FOREACH(f, c->cpu.features) {
                n = el(w, cpu, "feature", NULL);
                at(w, n, "policy", **f == '+' ? "require" : "disable");
                at(w, n, "name", *f + 1);
        }
}

static void export_clock(writer *w, xmlNode *root, const vm_config *c)
{
        xmlNode *clk = el(w, root, "clock", NULL), *t;

        at(w, clk, "offset", c->vm.rtc_localtime ? "localtime" : "utc");
        if (c->vm.rtc_catchup) {
                t = el(w, clk, "timer", NULL);
                at(w, t, "name", "rtc");
                at(w, t, "tickpolicy", "catchup");
        }
        if (c->vm.pit_delay) {
                t = el(w, clk, "timer", NULL);
                at(w, t, "name", "pit");
                at(w, t, "tickpolicy", "delay");
        }
        t = el(w, clk, "timer", NULL);
        at(w, t, "name", "hpet");
        at(w, t, "present", c->vm.hpet ? "yes" : "no");
        if (hv_on(c, "hv-time")) {
                t = el(w, clk, "timer", NULL);
                at(w, t, "name", "hypervclock");
                at(w, t, "present", "yes");
        }
}

static void export_disks(writer *w, xmlNode *devs, const vm_config *c)
{
        unsigned count[4] = {};
        static const char prefix[4][3] = { "vd", "sd", "sd", "hd" };
        static const char *const bus[4] = { "virtio", "scsi", "sata", "ide" };
        bool scsi = false;
        unsigned scsi_iothread = 0;

        for (size_t i = 0; i < c->n_disks; i++) {
                const vm_disk *d = &c->disks[i];
                bool block = !strncmp(d->path, "/dev/", 5);
                /* q35 has no IDE: vfioctl puts IDE disks on the AHCI controller, as libvirt requires. */
                vm_disk_bus b =
                        d->bus == VM_DISK_IDE && c->vm.machine == VM_MACHINE_Q35 ? VM_DISK_SATA : d->bus;
                unsigned k = b == VM_DISK_VIRTIO_SCSI || b == VM_DISK_SATA ? count[1] + count[2] : count[b];
                xmlNode *disk = el(w, devs, "disk", NULL), *n;
                char dev[8];

                at(w, disk, "type", block ? "block" : "file");
                at(w, disk, "device", d->media == VM_MEDIA_CDROM ? "cdrom" : "disk");
                n = el(w, disk, "driver", NULL);
                at(w, n, "name", "qemu");
                at(w, n, "type", d->format == VM_DISK_QCOW2 ? "qcow2" : "raw");
                if (d->cache)
                        at(w, n, "cache", d->cache);
                if (d->aio)
                        at(w, n, "io", d->aio);
                if (d->discard)
                        at(w, n, "discard", d->discard);
                /* virtio-scsi disks take their I/O thread from the controller (formatdomain.rst). */
                if (d->iothread && b != VM_DISK_VIRTIO_SCSI)
                        atf(w, n, "iothread", "%zu", i + 1);
                if (d->iothread && b == VM_DISK_VIRTIO_SCSI)
                        scsi_iothread = (unsigned)i + 1;
                n = el(w, disk, "source", NULL);
                at(w, n, block ? "dev" : "file", d->path);
                snprintf(dev, sizeof(dev), "%s%c", prefix[b], 'a' + (char)(k % 26));
                count[b]++;
                n = el(w, disk, "target", NULL);
                at(w, n, "dev", dev);
                at(w, n, "bus", bus[b]);
                if (d->media == VM_MEDIA_CDROM || d->readonly)
                        el(w, disk, "readonly", NULL);
                if (d->serial && d->media != VM_MEDIA_CDROM)
                        el(w, disk, "serial", d->serial);
                if (d->bootindex)
                        atf(w, el(w, disk, "boot", NULL), "order", "%u", d->bootindex);
                ua_alias(w, disk, "", d->name);
                if (b == VM_DISK_VIRTIO_SCSI)
                        scsi = true;
        }
        if (scsi) {
                xmlNode *ctl = el(w, devs, "controller", NULL);

                at(w, ctl, "type", "scsi");
                at(w, ctl, "index", "0");
                at(w, ctl, "model", "virtio-scsi");
                if (scsi_iothread)
                        atf(w, el(w, ctl, "driver", NULL), "iothread", "%u", scsi_iothread);
                lost(w, "virtio-scsi disks share one controller in libvirt (vfioctl: one per disk)");
        }
}

static void export_nets(writer *w, xmlNode *devs, const vm_config *c)
{
        for (size_t i = 0; i < c->n_nets; i++) {
                const vm_net *nt = &c->nets[i];
                xmlNode *n = el(w, devs, "interface", NULL), *x;

                switch (nt->type) {
                case VM_NET_USER:
                        at(w, n, "type", "user");
                        break;
                case VM_NET_BRIDGE:
                        at(w, n, "type", "bridge");
                        break;
                case VM_NET_TAP:
                        at(w, n, "type", "ethernet");
                        break;
                case VM_NET_MACVTAP:
                        /* libvirt makes the macvtap itself, on link (formatdomain.rst, "Direct attachment").
                         */
                        at(w, n, "type", "direct");
                        break;
                }
                if (nt->mac)
                        at(w, el(w, n, "mac", NULL), "address", nt->mac);
                if (nt->type == VM_NET_BRIDGE)
                        at(w, el(w, n, "source", NULL), "bridge", nt->bridge);
                if (nt->type == VM_NET_TAP) {
                        x = el(w, n, "target", NULL);
                        at(w, x, "dev", nt->ifname);
                        at(w, x, "managed", "no");
                }
                if (nt->type == VM_NET_MACVTAP) {
                        x = el(w, n, "source", NULL);
                        at(w, x, "dev", nt->link ? nt->link : nt->ifname);
                        at(w, x, "mode", nt->macvtap_mode ? nt->macvtap_mode : "bridge");
                        if (!nt->link)
                                lost(w,
                                     "[net \"%s\"] has no link: libvirt creates the macvtap on a host interface; <source dev> names %s, set it to the interface below it",
                                     nt->name, nt->ifname);
                }
                at(w, el(w, n, "model", NULL), "type", nt->model == VM_NET_E1000E ? "e1000e" : "virtio");
                ua_alias(w, n, "", nt->name);
                if (nt->hostfwd)
                        lost(w,
                             "[net \"%s\"] hostfwd: libvirt 9 has port forwarding only with the passt backend",
                             nt->name);
                if (nt->helper)
                        lost(w, "[net \"%s\"] helper: libvirt runs its own bridge setup", nt->name);
        }
}

static void pci_address(writer *w, xmlNode *parent, unsigned bus, unsigned slot, unsigned fn, bool multi)
{
        xmlNode *a = el(w, parent, "address", NULL);

        at(w, a, "type", "pci");
        at(w, a, "domain", "0x0000");
        atf(w, a, "bus", "0x%02x", bus);
        atf(w, a, "slot", "0x%02x", slot);
        atf(w, a, "function", "0x%x", fn);
        if (multi)
                at(w, a, "multifunction", "on");
}

/*
 * A PCIe root port at slot 0x10+k of pcie.0 (q35), as vfioctl's argv puts one before each passed-through
 * device: controller index k+1, chassis k+1, port 0x10+k.
 */
static void root_port(writer *w, xmlNode *devs, unsigned k, const char *alias)
{
        xmlNode *n = el(w, devs, "controller", NULL), *x;

        at(w, n, "type", "pci");
        atf(w, n, "index", "%u", k + 1);
        at(w, n, "model", "pcie-root-port");
        at(w, el(w, n, "model", NULL), "name", "pcie-root-port");
        x = el(w, n, "target", NULL);
        atf(w, x, "chassis", "%u", k + 1);
        atf(w, x, "port", "0x%x", 0x10 + k);
        if (alias)
                ua_alias(w, n, "", alias);
        pci_address(w, n, 0, 0x10 + k, 0, false);
}

/*
 * vfioctl's layout, which libvirt would not choose by itself: a device's functions share one guest slot
 * (function 0 multifunction), as on the card, since GPU drivers look for the HDMI audio function there.
 * k counts the passed-through devices (and then the spare ports), as build_passthrough does.
 */
static void export_hostdev(writer *w, xmlNode *devs, const vm_config *c, const vm_pci *p, bool gpu,
                           unsigned *k)
{
        size_t n = strv_length(p->resolved);
        bool q35 = c->vm.machine == VM_MACHINE_Q35;
        unsigned slot = *k;

        if (!n) {
                lost(w, "[%s \"%s\"] is not resolved to a host address", gpu ? "gpu" : "pci", p->name);
                return;
        }
        (*k)++;
        if (q35)
                root_port(w, devs, slot, NULL);
        for (size_t f = 0; f < n; f++) {
                vfio_pci_addr a;
                xmlNode *h, *src, *x;
                char name[80];

                if (vfio_pci_addr_parse(p->resolved[f], &a) < 0) {
                        lost(w, "[%s \"%s\"] %s is not a PCI address", gpu ? "gpu" : "pci", p->name,
                             p->resolved[f]);
                        continue;
                }
                h = el(w, devs, "hostdev", NULL);
                at(w, h, "mode", "subsystem");
                at(w, h, "type", "pci");
                /* vfioctl binds devices itself (vfioctl bind); libvirt should not rebind them. */
                at(w, h, "managed", "no");
                at(w, el(w, h, "driver", NULL), "name", "vfio");
                src = el(w, h, "source", NULL);
                x = el(w, src, "address", NULL);
                atf(w, x, "domain", "0x%04x", a.domain);
                atf(w, x, "bus", "0x%02x", a.bus);
                atf(w, x, "slot", "0x%02x", a.slot);
                atf(w, x, "function", "0x%x", a.func);
                if (f == 0 && p->bootindex)
                        atf(w, el(w, h, "boot", NULL), "order", "%u", p->bootindex);
                if (f == 0 && (p->romfile || !p->rombar)) {
                        x = el(w, h, "rom", NULL);
                        if (!p->rombar)
                                at(w, x, "bar", "off");
                        if (p->romfile)
                                at(w, x, "file", p->romfile);
                }
                snprintf(name, sizeof(name), "%s-%s-%zu", gpu ? "gpu" : "pci", p->name, f);
                ua_alias(w, h, "", name);
                if (q35)
                        pci_address(w, h, slot + 1, 0, (unsigned)f, f == 0 && n > 1);
                else
                        pci_address(w, h, 0, 0x10 + slot, (unsigned)f, f == 0 && n > 1);
                if (f == 0 && gpu && p->x_vga)
                        lost(w, "[gpu \"%s\"] x_vga: libvirt has no setting for it", p->name);
        }
}

/* Keyboards and mice: evdev passthrough (libvirt 7.4+ input-linux) or virtio input devices. */
static void export_inputs(writer *w, xmlNode *devs, const vm_config *c)
{
        xmlNode *n, *x;

        for (size_t i = 0; i < c->n_inputs; i++) {
                const vm_input *in = &c->inputs[i];

                n = el(w, devs, "input", NULL);
                if (in->type == VM_INPUT_EVDEV) {
                        /* libvirt 7.4+: input-linux (formatdomain.rst, "Input devices", evdev). */
                        at(w, n, "type", "evdev");
                        x = el(w, n, "source", NULL);
                        at(w, x, "dev", in->evdev);
                        if (in->grab_all)
                                at(w, x, "grab", "all");
                        if (in->grab_toggle)
                                at(w, x, "grabToggle", in->grab_toggle);
                        if (in->repeat)
                                at(w, x, "repeat", "on");
                } else {
                        at(w, n, "type",
                           in->type == VM_INPUT_VIRTIO_KEYBOARD ? "keyboard"
                           : in->type == VM_INPUT_VIRTIO_MOUSE  ? "mouse"
                                                                : "tablet");
                        at(w, n, "bus", "virtio");
                }
                ua_alias(w, n, "", in->name);
        }
}

/* The sound card and its <audio> backend (formatdomain.rst, "Audio backends"). */
static void export_audio(writer *w, xmlNode *devs, const vm_config *c)
{
        xmlNode *n;

        n = el(w, devs, "sound", NULL);
        at(w, n, "model",
           c->audio.device == VM_AUDIO_AC97        ? "ac97"
           : c->audio.device == VM_AUDIO_INTEL_HDA ? "ich6"
                                                   : "ich9");
        if (c->audio.device != VM_AUDIO_AC97)
                at(w, el(w, n, "codec", NULL), "type",
                   c->audio.codec == VM_CODEC_OUTPUT ? "output" : "duplex");
        at(w, el(w, n, "audio", NULL), "id", "1");
        n = el(w, devs, "audio", NULL);
        at(w, n, "id", "1");
        switch (c->audio.backend) {
        case VM_AUDIO_PA: {
                /* The grant socket when the VM user is not the desktop user (docs/audio.md); without
                 * serverName libvirt uses the QEMU user's own session server. */
                vm_argv_paths p = { .user = c->vm.user };
                _cleanup_free_ char *server = NULL;

                if (vm_audio_server_of(c) == VM_SERVER_NONE) {
                        at(w, n, "type", "none");
                        break;
                }
                at(w, n, "type", "pulseaudio");
                if (vm_audio_server_of(c) == VM_SERVER_PATH || vm_qemu_audio_granted(c, &p)) {
                        server = vm_qemu_audio_server(c, &p);
                        if (!server) {
                                w->error = -ENOMEM;
                                return;
                        }
                        at(w, n, "serverName", server);
                }
                break;
        }
        case VM_AUDIO_ALSA:
                at(w, n, "type", "alsa");
                if (c->audio.alsa_device)
                        lost(w, "[audio] alsa_device: set it in <audio><input dev=...> by hand");
                break;
        case VM_AUDIO_NONE:
                at(w, n, "type", "none");
                break;
        }
        if (c->audio.buffer_length || c->audio.timer_period)
                lost(w, "[audio] buffer_length/timer_period are not exported");
}

/* USB devices by vendor:product; by host port is not something libvirt can name. */
static void export_usbs(writer *w, xmlNode *devs, const vm_config *c)
{
        xmlNode *n, *x;

        for (size_t i = 0; i < c->n_usbs; i++) {
                const vm_usb *u = &c->usbs[i];

                if (!u->has_id) {
                        lost(w,
                             "[usb \"%s\"] by host port: libvirt names USB devices by vendor:product or bus/device",
                             u->name);
                        continue;
                }
                n = el(w, devs, "hostdev", NULL);
                at(w, n, "mode", "subsystem");
                at(w, n, "type", "usb");
                at(w, n, "managed", "yes");
                x = el(w, n, "source", NULL);
                atf(w, el(w, x, "vendor", NULL), "id", "0x%04x", u->vendor);
                atf(w, el(w, x, "product", NULL), "id", "0x%04x", u->product);
                if (u->bootindex)
                        atf(w, el(w, n, "boot", NULL), "order", "%u", u->bootindex);
                ua_alias(w, n, "", u->name);
        }
}

/* Looking Glass's shared memory: <shmem> for a /dev/shm file, qemu:commandline for anything else. */
static void export_looking_glass(writer *w, xmlNode *root, xmlNode *devs, const vm_config *c)
{
        xmlNode *n, *x;
        const char *path = vm_looking_glass_path(c);
        uint64_t size = vm_looking_glass_bytes(c);

        if (strncmp(path, "/dev/shm/", 9) == 0 && !strchr(path + 9, '/') && path[9]) {
                /* libvirt maps <shmem name='X'> to /dev/shm/X. */
                n = el(w, devs, "shmem", NULL);
                at(w, n, "name", path + 9);
                at(w, el(w, n, "model", NULL), "type", "ivshmem-plain");
                char sz[32];

                snprintf(sz, sizeof(sz), "%" PRIu64, size >> 20);
                x = el(w, n, "size", sz);
                at(w, x, "unit", "M");
        } else {
                /* kvmfr (/dev/kvmfr0) and other paths: the Looking Glass docs' qemu:commandline
                 * form. */
                _cleanup_free_ char *e = vm_qemu_escape(path), *v = NULL;

                if (!e ||
                    asprintf(&v,
                             "memory-backend-file,id=looking-glass,mem-path=%s,size=%" PRIu64 "M,share=yes",
                             e, size >> 20) < 0) {
                        w->error = -ENOMEM;
                        return;
                }
                qemu_arg(w, root, "-device");
                qemu_arg(w, root, "ivshmem-plain,id=shmem0,memdev=looking-glass");
                qemu_arg(w, root, "-object");
                qemu_arg(w, root, v);
        }
}

/* Shared directories: virtiofs only (libvirt has no SMB share). */
static void export_shares(writer *w, xmlNode *devs, const vm_config *c)
{
        xmlNode *n;

        for (size_t i = 0; i < c->n_shares; i++) {
                const vm_share *s = &c->shares[i];

                if (s->type != VM_SHARE_VIRTIOFS) {
                        lost(w, "[share \"%s\"] smb: libvirt has no SMB share", s->name);
                        continue;
                }
                n = el(w, devs, "filesystem", NULL);
                at(w, n, "type", "mount");
                at(w, n, "accessmode", "passthrough");
                at(w, el(w, n, "driver", NULL), "type", "virtiofs");
                at(w, el(w, n, "source", NULL), "dir", s->path);
                at(w, el(w, n, "target", NULL), "dir", s->name);
        }
}

static void export_devices(writer *w, xmlNode *root, const vm_config *c)
{
        xmlNode *devs = el(w, root, "devices", NULL), *n, *x;
        unsigned k = 0;
        const char *emu = c->vm.emulator;
        _cleanup_free_ char *emu_path = NULL;

        /* libvirt needs an absolute emulator path; a bare name is Debian's /usr/bin one. */
        if (emu[0] != '/' && asprintf(&emu_path, "/usr/bin/%s", emu) < 0) {
                w->error = -ENOMEM;
                return;
        }
        el(w, devs, "emulator", emu_path ?: emu);
        export_disks(w, devs, c);
        export_nets(w, devs, c);
        export_inputs(w, devs, c);
        if (c->display.protocol != VM_PROTOCOL_NONE) {
                n = el(w, devs, "graphics", NULL);
                at(w, n, "type", c->display.protocol == VM_PROTOCOL_SPICE ? "spice" : "vnc");
                if (c->display.socket) {
                        x = el(w, n, "listen", NULL);
                        at(w, x, "type", "socket");
                        at(w, x, "socket", c->display.socket);
                } else
                        at(w, el(w, n, "listen", NULL), "type", "none");
        }
        if (c->audio.enabled)
                export_audio(w, devs, c);
        if (w->error)
                return;
        n = el(w, devs, "video", NULL);
        at(w, el(w, n, "model", NULL), "type",
           c->display.device == VM_DISPLAY_NONE  ? "none"
           : c->display.device == VM_DISPLAY_QXL ? "qxl"
           : c->display.device == VM_DISPLAY_STD ? "vga"
                                                 : "virtio");
        for (size_t i = 0; i < c->n_gpus; i++)
                export_hostdev(w, devs, c, &c->gpus[i], true, &k);
        for (size_t i = 0; i < c->n_pcis; i++)
                export_hostdev(w, devs, c, &c->pcis[i], false, &k);
        /* Spare hotplug ports follow the devices' ports, as in vfioctl's argv. */
        for (unsigned i = 0; i < c->vm.spare_root_ports; i++, k++) {
                char name[32];

                snprintf(name, sizeof(name), "spare%u", i);
                root_port(w, devs, k, name);
        }
        export_usbs(w, devs, c);
        if (c->tpm.enabled) {
                n = el(w, devs, "tpm", NULL);
                at(w, n, "model", "tpm-crb");
                x = el(w, n, "backend", NULL);
                at(w, x, "type", "emulator");
                at(w, x, "version", "2.0");
                if (c->tpm.socket)
                        lost(w, "[tpm] socket: libvirt starts its own swtpm");
        }
        if (c->looking_glass.enabled)
                export_looking_glass(w, root, devs, c);
        if (w->error)
                return;
        export_shares(w, devs, c);
        n = el(w, devs, "memballoon", NULL);
        at(w, n, "model", "none");
}

/* The guest OS for virt-manager and libosinfo (<metadata><libosinfo:os id=...>). */
static void export_metadata(writer *w, xmlNode *root, const vm_config *c)
{
        xmlNode *md = el(w, root, "metadata", NULL), *lo, *os;
        xmlNsPtr ns;

        lo = xmlNewChild(md, NULL, (const xmlChar *)"libosinfo", NULL);
        ns = lo ? xmlNewNs(lo, (const xmlChar *)"http://libosinfo.org/xmlns/libvirt/domain/1.0",
                           (const xmlChar *)"libosinfo")
                : NULL;
        if (!ns)
                w->error = -ENOMEM;
        else {
                xmlSetNs(lo, ns);
                os = xmlNewChild(lo, ns, (const xmlChar *)"os", NULL);
                at(w, os, "id",
                   c->vm.os == VM_OS_WINDOWS ? "http://microsoft.com/win/10"
                                             : "http://libosinfo.org/linux/2022");
        }
}

/* Guest RAM and how it is backed: hugepages, shared (virtiofs), preallocated, locked. */
static void export_memory(writer *w, xmlNode *root, const vm_config *c)
{
        xmlNode *n;

        kib(w, root, "memory", c->memory.size);
        kib(w, root, "currentMemory", c->memory.size);
        if (c->memory.hugepages != VM_HUGEPAGES_NONE || c->memory.locked || c->memory.prealloc ||
            c->n_shares) {
                xmlNode *mb = el(w, root, "memoryBacking", NULL);

                if (c->memory.hugepages != VM_HUGEPAGES_NONE) {
                        n = el(w, el(w, mb, "hugepages", NULL), "page", NULL);
                        at(w, n, "size", c->memory.hugepages == VM_HUGEPAGES_1G ? "1048576" : "2048");
                        at(w, n, "unit", "KiB");
                        if (c->memory.hugepage_path)
                                lost(w,
                                     "[memory] hugepage_path: libvirt uses its own hugetlbfs mount (qemu.conf hugetlbfs_mount)");
                }
                if (c->n_shares)
                        at(w, el(w, mb, "access", NULL), "mode", "shared");
                /* libvirt preallocates hugepage memory by itself, as vfioctl does. */
                if (c->memory.prealloc) {
                        n = el(w, mb, "allocation", NULL);
                        at(w, n, "mode", "immediate");
                        if (c->memory.prealloc_threads)
                                atf(w, n, "threads", "%u", c->memory.prealloc_threads);
                }
                if (c->memory.locked)
                        el(w, mb, "locked", NULL);
        }
}

/* vCPUs (maximum and started) and one I/O thread per disk that asks for its own. */
static void export_vcpus(writer *w, xmlNode *root, const vm_config *c)
{
        unsigned iothreads = 0;
        xmlNode *n;
        char sz[32];

        snprintf(sz, sizeof(sz), "%u", vm_config_max_vcpus(c));
        n = el(w, root, "vcpu", sz);
        at(w, n, "placement", "static");
        /* libvirt starts the first `current` vCPUs, as vfioctl's -smp N,maxcpus=M does. */
        if (vm_config_vcpus(c) < vm_config_max_vcpus(c))
                atf(w, n, "current", "%u", vm_config_vcpus(c));
        for (size_t i = 0; i < c->n_disks; i++)
                if (c->disks[i].iothread)
                        iothreads = (unsigned)i + 1;
        if (iothreads) {
                snprintf(sz, sizeof(sz), "%u", iothreads);
                el(w, root, "iothreads", sz);
        }
}

/* What libvirt has no element for travels as QEMU arguments (formatdomain.rst, "QEMU command-line
 * passthrough"). */
static void export_qemu_args(writer *w, xmlNode *root, const vm_config *c)
{
        if (c->vm.max_ram_below_4g) {
                char buf[64];

                snprintf(buf, sizeof(buf), "max-ram-below-4g=%" PRIu64 "M", c->vm.max_ram_below_4g >> 20);
                qemu_arg(w, root, "-machine");
                qemu_arg(w, root, buf);
        }
        /*
         * OVMF's MMIO window: libvirt 9 refuses opt/ovmf/ names in <sysinfo type='fwcfg'> ("That firmware
         * name is reserved"), so it travels as the -fw_cfg users write in qemu:commandline.
         */
        if (c->firmware.type == VM_FIRMWARE_OVMF && c->firmware.mmio64_size) {
                char buf[96];

                snprintf(buf, sizeof(buf), "name=opt/ovmf/X-PciMmio64Mb,string=%" PRIu64,
                         c->firmware.mmio64_size >> 20);
                qemu_arg(w, root, "-fw_cfg");
                qemu_arg(w, root, buf);
        }
        if (c->vm.debugcon) {
                _cleanup_free_ char *e = vm_qemu_escape(c->vm.debugcon), *v = NULL;

                if (!e || asprintf(&v, "file,id=debugcon,path=%s", e) < 0)
                        w->error = -ENOMEM;
                else {
                        qemu_arg(w, root, "-chardev");
                        qemu_arg(w, root, v);
                        qemu_arg(w, root, "-device");
                        qemu_arg(w, root, "isa-debugcon,iobase=0x402,chardev=debugcon");
                }
        }
        STRV_FOREACH(a, c->vm.extra_args)
                qemu_arg(w, root, *a);
}

int vm_libvirt_export(const vm_config *c, char **ret_xml, char ***ret_lost)
{
        _cleanup_strv_free_ char **lostv = NULL;
        writer w = { .lost = &lostv };
        xmlNode *root;
        xmlChar *out = NULL;
        int len = 0, r;

        assert(c);
        assert(ret_xml);

        r = vm_xml_load(NULL);
        if (r < 0)
                return r;
        w.doc = xmlNewDoc((const xmlChar *)"1.0");
        if (!w.doc)
                return -ENOMEM;
        root = xmlNewNode(NULL, (const xmlChar *)"domain");
        if (!root) {
                xmlFreeDoc(w.doc);
                return -ENOMEM;
        }
        xmlDocSetRootElement(w.doc, root);
        w.qemu_ns = xmlNewNs(root, (const xmlChar *)"http://libvirt.org/schemas/domain/qemu/1.0",
                             (const xmlChar *)"qemu");
        if (!w.qemu_ns)
                w.error = -ENOMEM;
        at(&w, root, "type", c->vm.accel == VM_ACCEL_KVM ? "kvm" : "qemu");
        el(&w, root, "name", c->name);
        if (c->vm.uuid)
                el(&w, root, "uuid", c->vm.uuid);
        if (c->vm.os != VM_OS_OTHER)
                export_metadata(&w, root, c);
        export_memory(&w, root, c);
        export_vcpus(&w, root, c);
        export_cputune(&w, root, c);
        export_sysinfo(&w, root, c);
        export_os(&w, root, c);
        export_features(&w, root, c);
        export_cpu(&w, root, c);
        export_clock(&w, root, c);
        export_devices(&w, root, c);
        export_qemu_args(&w, root, c);
        if (!w.error) {
                xmlDocDumpFormatMemoryEnc(w.doc, &out, &len, "UTF-8", 1);
                if (!out)
                        w.error = -ENOMEM;
        }
        xmlFreeDoc(w.doc);
        if (w.error) {
                xmlFree(out);
                return w.error;
        }
        *ret_xml = strndup((const char *)out, (size_t)len);
        xmlFree(out);
        if (!*ret_xml)
                return -ENOMEM;
        if (ret_lost)
                *ret_lost = TAKE_PTR(lostv);
        return 0;
}
