/*
 * The quirks knowledge base: known hardware and platform problems of PCI passthrough as one data table,
 * and the matcher that evaluates it against the host model. Adding a quirk means adding a row; the
 * predicates below are the only code, and each is named by a vfio_quirk_cond.
 */
#include "vfioctl/quirks.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "strv.h"
#include "vfioctl/firmware.h"
#include "vfioctl/kernel.h"

/* ---- the table ---- */

#define PCI_ANY              \
        {                    \
                .vendor = -1 \
        }

/* IDs checked against pci.ids 2023.04.10 (/usr/share/misc/pci.ids, vendor 1002). */
static const uint16_t amd_reset_bug_ids[] = {
        0x67df, /* Ellesmere [Radeon RX 470/480/570/570X/580/580X/590] (Polaris 10/20) */
        0x67ef, /* Baffin [Radeon RX 460/560D / Pro 450/455/460/555/555X/560/560X] (Polaris 11) */
        0x67ff, /* Baffin [Radeon RX 550 640SP / RX 560/560X] (Polaris 11) */
        0x6fdf, /* Polaris 20 XL [Radeon RX 580 2048SP] */
        0x699f, /* Lexa PRO [Radeon 540/540X/550/550X / RX 540X/550/550X] (Polaris 12) */
        0x687f, /* Vega 10 XL/XT [Radeon RX Vega 56/64] */
        0x6863, /* Vega 10 XTX [Radeon Vega Frontier Edition] */
        0x66af, /* Vega 20 [Radeon VII] */
        0x731f, /* Navi 10 [Radeon RX 5600 OEM/5600 XT / 5700/5700 XT] */
        0x7340, /* Navi 14 [Radeon RX 5500/5500M / Pro 5500M] */
        0,
};
static const uint16_t nf200_ids[] = { 0x05b1, 0 }; /* NF200 PCIe 2.0 switch */

static const char *const evga_sr2_boards[] = { "SR-2", "270-WS-W555", NULL };

static const char *const settings_nf200[] = { "machine.max-ram-below-4g=1G", NULL };
static const char *const settings_code43[] = { "cpu.kvm=off", "hyperv.vendor_id=vfioctl0000", NULL };
static const char *const settings_no_xvga[] = { "firmware=ovmf", "vfio.x-vga=off", NULL };

static const vfio_quirk
        quirks[] = {
                {
                        .id = "nf200-dma-bypass",
                        .target = VFIO_QUIRK_TARGET_PASS,
                        .dev = PCI_ANY,
                        .rel = VFIO_QUIRK_REL_BRIDGE_ABOVE,
                        .other = { .vendor = 0x10de, .devices = nf200_ids },
                        .action = VFIO_QUIRK_WARN,
                        .title = "Nvidia NF200 PCIe bridge above a device to pass",
                        .explanation =
                                "NF200 bridges do not route all DMA through the upstream root port, so the IOMMU never sees it: guest memory between 1 GiB and 4 GiB that overlaps a host PCI MMIO range reaches the physical device instead, crashing the host or writing garbage through a disk controller. Keeping guest RAM out of that range (max-ram-below-4g=1G) works around it without losing memory.",
                        .source =
                                "seed 000, EVGA SR-2 review, 'Virtualization With VT-d / IOMMU', and Virtually Gaming part 2, 'Nvidia Bugs/Features Workarounds'",
                        .fix = "run the VM with -machine ...,max-ram-below-4g=1G (vfioctl applies it to every VM at start, whatever its configuration says), or move the device to a slot that is not behind the NF200",
                        .settings = settings_nf200,
                        .settings_at_start = true,
                },
                {
                        .id = "nf200-sas-hba",
                        .target = VFIO_QUIRK_TARGET_HOST,
                        .dev = { .vendor = -1, .class = 0x010400, .class_mask = 0xff0000 | 0xff00 },
                        .rel = VFIO_QUIRK_REL_HOST_HAS,
                        .other = { .vendor = 0x10de, .devices = nf200_ids },
                        .cond = VFIO_QUIRK_COND_IOMMU_ON,
                        .action = VFIO_QUIRK_WARN,
                        .title = "RAID/SAS controller on a board with NF200 bridges, with the IOMMU on",
                        .explanation =
                                "On NF200 boards (EVGA SR-2) SAS and RAID controllers misbehave under VT-d even with the max-ram-below-4g workaround: disks missing with intel_iommu=on (older LSI, Adaptec) or random crashes while a passthrough VM runs (3Ware). Plain SATA (AHCI) controllers are not affected.",
                        .source = "seed 000, 'Virtualization With VT-d / IOMMU'",
                        .fix = "keep the host's disks on an AHCI SATA controller, or accept the risk knowingly",
                },
                {
                        .id = "nf200-sas-hba",
                        .target = VFIO_QUIRK_TARGET_HOST,
                        .dev = { .vendor = -1, .class = 0x010700, .class_mask = 0xffff00 },
                        .rel = VFIO_QUIRK_REL_HOST_HAS,
                        .other = { .vendor = 0x10de, .devices = nf200_ids },
                        .cond = VFIO_QUIRK_COND_IOMMU_ON,
                        .action = VFIO_QUIRK_WARN,
                        .title = "RAID/SAS controller on a board with NF200 bridges, with the IOMMU on",
                        .explanation =
                                "On NF200 boards (EVGA SR-2) SAS and RAID controllers misbehave under VT-d even with the max-ram-below-4g workaround: disks missing with intel_iommu=on (older LSI, Adaptec) or random crashes while a passthrough VM runs (3Ware). Plain SATA (AHCI) controllers are not affected.",
                        .source = "seed 000, 'Virtualization With VT-d / IOMMU'",
                        .fix = "keep the host's disks on an AHCI SATA controller, or accept the risk knowingly",
                },
                {
                        .id = "evga-sr2-hotplug-flapping",
                        .target = VFIO_QUIRK_TARGET_BOARD,
                        .dmi_board_vendor = "EVGA",
                        .dmi_board_names = evga_sr2_boards,
                        .cmdline_absent = "pcie_ports",
                        .action = VFIO_QUIRK_WARN,
                        .title = "EVGA SR-2: PCIe hot-plug flapping",
                        .explanation =
                                "An on-board device is wrongly marked hot-pluggable and, with ASPM, flaps between plugged and unplugged, flooding the console until the system grinds to a halt. Disabling ASPM in the BIOS is not enough; pcie_ports=compat is.",
                        .source = "seed 000, 'Linux / Hot-plug Flapping'",
                        .fix = "{cmdline:pcie_ports=compat}",
                },
                {
                        .id = "nvidia-geforce-code43",
                        .target = VFIO_QUIRK_TARGET_PASS,
                        .dev = { .vendor = 0x10de,
                                 .class = 0x030000,
                                 .class_mask = 0xff0000,
                                 .name_contains = "GeForce" },
                        .action = VFIO_QUIRK_INFO,
                        .title = "Nvidia GeForce: Code 43 in a VM with older drivers",
                        .explanation =
                                "GeForce drivers before R465 stop the device (Windows 'Code 43') when they see a hypervisor. Hiding KVM (kvm=off) and setting a Hyper-V vendor id avoids it. Drivers from R465 on support GeForce passthrough and need neither; the settings are harmless with them.",
                        .source =
                                "seed 001, 'Getting the GPU setup with VFIO' (Code 43, vendor_id + hidden); seed 000, Virtually Gaming part 2, 'Nvidia Bugs/Features Workarounds' (kvm=off); seed 002 and seed 003, 'QEMU setup' (kvm=off); NVIDIA, 'GeForce GPU Passthrough for Windows Virtual Machine (Beta)', R465 release",
                        .fix = "use driver R465 or newer in the guest; otherwise run with -cpu host,kvm=off,hv_vendor_id=... (vfioctl create writes both into the VM's configuration: [cpu] hide_kvm = yes, hyperv_vendor_id)",
                        .settings = settings_code43,
                },
                {
                        .id = "amd-reset-bug",
                        .target = VFIO_QUIRK_TARGET_PASS,
                        .dev = { .vendor = 0x1002, .devices = amd_reset_bug_ids },
                        .action = VFIO_QUIRK_WARN,
                        .title = "AMD GPU with a known reset bug",
                        .explanation =
                                "Polaris, Vega and Navi 10/14 GPUs do not come back from the bus and FLR resets the kernel offers: the first VM start works, but after the VM shuts down the GPU stays hung, so the second start shows a black screen or hangs the guest (and sometimes the host) until the host reboots.",
                        .source = "seed 002, 'PCIe device reset'; device IDs from pci.ids 2023.04.10",
                        .fix = "install the vendor-reset module (https://github.com/gnif/vendor-reset, DKMS), load it early (add 'vendor-reset' to /etc/modules-load.d/vendor-reset.conf) and select it with: echo device_specific | sudo tee /sys/bus/pci/devices/<ADDR>/reset_method",
                },
                {
                        .id = "gpu-no-reset",
                        .target = VFIO_QUIRK_TARGET_PASS,
                        .dev = { .vendor = -1, .class = 0x030000, .class_mask = 0xff0000 },
                        .cond = VFIO_QUIRK_COND_RESET_NO_FLR_BUS,
                        .action = VFIO_QUIRK_WARN,
                        .title = "GPU without a function-level or bus reset",
                        .explanation =
                                "Between VM runs VFIO resets the device with a method from reset_method; with neither flr nor bus the GPU keeps its state from the last run, and a second VM start commonly freezes the guest or the host.",
                        .source =
                                "seed 002, 'PCIe device reset'; Documentation/ABI/testing/sysfs-bus-pci (reset_method)",
                        .fix = "for AMD GPUs install vendor-reset (https://github.com/gnif/vendor-reset) and write device_specific to the device's reset_method; otherwise reboot the host between VM runs",
                },
                {
                        .id = "igpu-vga-arbitration",
                        .target = VFIO_QUIRK_TARGET_PASS,
                        .dev = { .vendor = -1, .class = 0x030000, .class_mask = 0xffff00 },
                        .rel = VFIO_QUIRK_REL_HOST_HAS,
                        .other = { .vendor = 0x8086, .class = 0x030000, .class_mask = 0xffff00 },
                        .cond = VFIO_QUIRK_COND_BOOT_VGA_OTHER,
                        .action = VFIO_QUIRK_INFO,
                        .title = "Intel iGPU is the boot VGA: VGA arbitration with x-vga",
                        .explanation =
                                "Passing a discrete GPU with x-vga=on needs the host's VGA arbiter, but the i915 driver of the Intel iGPU claims the VGA ranges without taking part in arbitration: legacy VGA accesses go to the wrong card, breaking the host display and the guest's GPU. UEFI guests (OVMF) do not use legacy VGA, so vfioctl boots with OVMF and without x-vga.",
                        .source =
                                "seed 002, 'VGA arbiter and multiple GPUs'; seed 000, Virtually Gaming part 2 (UEFI OVMF 'does away with all of legacy VGA complications such as VGA arbitration')",
                        .fix = "boot the guest with OVMF and leave x-vga off (vfioctl's default); with SeaBIOS and x-vga=on the i915 VGA-arbiter kernel patch is needed",
                        .settings = settings_no_xvga,
                },
                {
                        .id = "iommu-group-shared",
                        .target = VFIO_QUIRK_TARGET_PASS,
                        .dev = PCI_ANY,
                        .cond = VFIO_QUIRK_COND_GROUP_SHARED,
                        .action = VFIO_QUIRK_FAIL,
                        .title = "The device shares its IOMMU group with endpoints the host keeps",
                        .explanation =
                                "VFIO assigns whole IOMMU groups: every endpoint of the group must be bound to vfio-pci (or no driver) before the VM can open any of them, because without ACS (PCIe Access Control Services) between them the devices can reach each other's memory without passing the IOMMU.",
                        .source =
                                "seed 001, 'Getting the GPU setup with VFIO' ('all the available PCI lanes landed on the same IOMMU group', ACS override kernel builds); Documentation/driver-api/vfio.rst, 'Groups, Devices, and IOMMUs'",
                        .fix = "pass the other endpoints of the group too (vfioctl check --pass ADDR...), or move the card to a slot with its own group (one wired to the CPU's root ports), or - last resort - boot a kernel with the ACS override patch (pcie_acs_override=downstream,multifunction), which only pretends the devices are isolated: a guest could then DMA into the memory of host devices in that group",
                },
                {
                        .id = "pcie-link-degraded",
                        .target = VFIO_QUIRK_TARGET_PASS,
                        .dev = PCI_ANY,
                        .cond = VFIO_QUIRK_COND_LINK_DEGRADED,
                        .action = VFIO_QUIRK_WARN,
                        .title = "The device's PCIe link runs below its maximum width or speed",
                        .explanation =
                                "The guest gets no more bandwidth than the link carries. A link narrower than the device supports points at the slot (an x16 card in a slot wired x4 or x1, or behind a one-lane bridge like the Marvell 88SE9123 on the EVGA SR-2). A lower speed alone is often power saving of an idle GPU and returns under load.",
                        .source = "seed 000, 'Marvell 88SE9123 SATA-3 6 GBit controller'",
                        .fix = "move the card to a slot with the full link width (see the board manual), and compare current_link_speed under load before worrying about speed",
                },
                {
                        .id = "host-critical-device",
                        .target = VFIO_QUIRK_TARGET_PASS,
                        .dev = PCI_ANY,
                        .cond = VFIO_QUIRK_COND_HOST_CRITICAL,
                        .action = VFIO_QUIRK_FAIL,
                        .title = "The device, or its IOMMU group, is something the host needs",
                        .explanation =
                                "Passing the boot display, the controller of a mounted disk or the NIC of the default route (or any device in their IOMMU group) takes it away from the host the moment the VM starts: no console, a root filesystem that vanishes, or a dropped network session.",
                        .source =
                                "seed 003, 'Hardware requirements' (one GPU for the host, one for the guest); vfioctl host model (critical.c)",
                        .fix = "pass a different device, or move the host's disk/NIC/display elsewhere; --force accepts it when you know the host copes",
                },
                {
                        .id = "realtek-nic",
                        .target = VFIO_QUIRK_TARGET_PASS,
                        .dev = { .vendor = 0x10ec, .class = 0x020000, .class_mask = 0xffff00 },
                        .action = VFIO_QUIRK_WARN,
                        .title = "Realtek Ethernet controller chosen for passthrough",
                        .explanation =
                                "Realtek NICs are the ones passthrough users report trouble with; Intel Ethernet controllers are the safe choice. A virtio-net NIC on a host bridge is usually just as fast.",
                        .source = "seed 002, 'Build considerations & preparation'",
                        .fix = "pass an Intel Ethernet controller instead, or give the VM virtio-net",
                },
                {
                        .id = "kernel-pcie-reset",
                        .target = VFIO_QUIRK_TARGET_BOARD,
                        .kernel_below = VFIO_KERNEL_VERSION(3, 12, 0),
                        .action = VFIO_QUIRK_FAIL,
                        .title = "Kernel older than 3.12: no PCIe reset for assigned devices",
                        .explanation =
                                "Without the bus-reset support merged in 3.12 a passed device is not reset between VM runs; the machine typically freezes when the VM starts a second time.",
                        .source = "seed 002, 'PCIe device reset'",
                        .fix = "upgrade the kernel to 3.12 or newer (any supported distribution kernel is)",
                },
        };

const vfio_quirk *vfio_quirks_table(size_t *ret_n)
{
        assert(ret_n);

        *ret_n = ELEMENTSOF(quirks);
        return quirks;
}

const char *vfio_quirk_action_to_string(vfio_quirk_action a)
{
        switch (a) {
        case VFIO_QUIRK_INFO:
                return "info";
        case VFIO_QUIRK_WARN:
                return "warn";
        case VFIO_QUIRK_FAIL:
                return "fail";
        }
        return "unknown";
}

vfio_quirk_matches *vfio_quirk_matches_free(vfio_quirk_matches *m)
{
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n; i++) {
                free(m->items[i].device);
                free(m->items[i].related);
                free(m->items[i].evidence);
        }
        free(m->items);
        free(m);
        return NULL;
}

/* ---- matching ---- */

static bool pci_matches(const vfio_quirk_pci *p, const vfio_pci_dev *d, vfio_pci_names *names)
{
        if (p->vendor >= 0 && d->vendor != p->vendor)
                return false;
        if (p->devices) {
                bool found = false;

                for (const uint16_t *id = p->devices; *id; id++)
                        if (d->device == *id)
                                found = true;
                if (!found)
                        return false;
        }
        if (p->class_mask && (d->class < 0 || ((uint32_t)d->class & p->class_mask) != p->class))
                return false;
        if (p->name_contains && names) {
                _cleanup_free_ char *n = vfio_pci_names_device(names, d->vendor, d->device);

                /* Unknown to pci.ids (newer than the database): match, the advice is harmless. */
                if (n && !strstr(n, p->name_contains))
                        return false;
        }
        return true;
}

static bool contains_ci(const char *hay, const char *needle)
{
        size_t n = strlen(needle);

        for (const char *p = hay; p && *p; p++)
                if (strncasecmp(p, needle, n) == 0)
                        return true;
        return false;
}

static bool board_matches(const vfio_quirk *q, const vfio_quirk_input *in)
{
        if (q->dmi_board_vendor) {
                bool any = false;

                if (!in->board_vendor || !contains_ci(in->board_vendor, q->dmi_board_vendor))
                        return false;
                for (const char *const *n = q->dmi_board_names; n && *n; n++)
                        if (in->board_name && contains_ci(in->board_name, *n))
                                any = true;
                if (q->dmi_board_names && !any)
                        return false;
        }
        if (q->kernel_below && (in->kernel_version == 0 || in->kernel_version >= q->kernel_below))
                return false;
        if (q->cmdline_absent) {
                size_t n = strlen(q->cmdline_absent);

                STRV_FOREACH(a, in->cmdline)
                        if (strncmp(*a, q->cmdline_absent, n) == 0 && ((*a)[n] == '=' || (*a)[n] == 0))
                                return false;
        }
        return true;
}

static const char *dev_str(const vfio_pci_dev *d, char buf[static 64])
{
        snprintf(buf, 64, "%s [%04x:%04x]", d->name, (unsigned)(d->vendor & 0xffff),
                 (unsigned)(d->device & 0xffff));
        return buf;
}

static int add_match(vfio_quirk_matches *m, const vfio_quirk *q, vfio_quirk_action action, bool candidate,
                     const char *device, const char *related, char *evidence)
{
        vfio_quirk_match *n;

        if (!evidence)
                return -ENOMEM;
        n = realloc(m->items, (m->n + 1) * sizeof(*n));
        if (!n) {
                free(evidence);
                return -ENOMEM;
        }
        m->items = n;
        n[m->n] = (vfio_quirk_match){
                .quirk = q,
                .action = action,
                .candidate = candidate,
                .device = device ? strdup(device) : NULL,
                .related = related ? strdup(related) : NULL,
                .evidence = evidence,
        };
        if ((device && !n[m->n].device) || (related && !n[m->n].related)) {
                free(n[m->n].device);
                free(n[m->n].related);
                free(evidence);
                return -ENOMEM;
        }
        m->n++;
        return 0;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
        va_list ap;
        char *s;
        int r;

        va_start(ap, f);
        r = vasprintf(&s, f, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}

/* Evaluates a cond for target device d; ret_evidence and ret_related describe what was seen. */
static int cond_holds(const vfio_quirk *q, const vfio_quirk_input *in, const vfio_pci_dev *d,
                      char **ret_evidence, char **ret_related)
{
        const vfio_model_device *md = d ? vfio_model_find_device(in->model, d->name) : NULL;
        char b[64];

        switch (q->cond) {
        case VFIO_QUIRK_COND_NONE:
                return 1;
        case VFIO_QUIRK_COND_IOMMU_ON:
                return vfio_iommu_enabled(in->model->iommu);
        case VFIO_QUIRK_COND_RESET_NO_FLR_BUS: {
                _cleanup_free_ char *j = NULL;

                /* Kernels before 5.15 have no reset_method: nothing to judge by. */
                if (!d->reset_methods || strv_contains(d->reset_methods, "flr") ||
                    strv_contains(d->reset_methods, "bus"))
                        return 0;
                j = strv_length(d->reset_methods) ? strv_join(d->reset_methods, " ") : strdup("(empty)");
                *ret_evidence = fmt("%s: reset_method is '%s'", dev_str(d, b), j ? j : "?");
                return *ret_evidence ? 1 : -ENOMEM;
        }
        case VFIO_QUIRK_COND_GROUP_SHARED: {
                _cleanup_strv_free_ char **left = calloc(1, sizeof(char *));
                _cleanup_free_ char *j = NULL;

                if (!left)
                        return -ENOMEM;
                if (!md)
                        return 0;
                /* Peers on vfio-pci, pci-stub or no driver keep the group viable; host drivers do not. */
                STRV_FOREACH(p, md->group_peers) {
                        const vfio_pci_dev *peer = vfio_pci_list_find(in->model->pci, *p);

                        if (strv_contains(in->to_pass, *p) ||
                            (peer && (!peer->driver || vfio_pci_driver_is_stub(peer->driver))))
                                continue;
                        if (strv_extend(&left, *p) < 0)
                                return -ENOMEM;
                }
                if (strv_length(left) == 0)
                        return 0;
                j = strv_join(left, ", ");
                *ret_related = j ? strdup(j) : NULL;
                *ret_evidence = fmt("IOMMU group %d of %s also holds %s, bound to a host driver",
                                    d->iommu_group, d->name, j ? j : "?");
                return *ret_evidence ? 1 : -ENOMEM;
        }
        case VFIO_QUIRK_COND_LINK_DEGRADED: {
                const vfio_pci_link *l = &d->link;
                bool narrow = l->max_width && l->cur_width && l->cur_width < l->max_width;
                bool slow = l->max_speed && l->cur_speed && l->cur_speed < l->max_speed;

                if (!narrow && !slow)
                        return 0;
                *ret_evidence =
                        fmt("%s: link x%u at %u.%u GT/s, the device supports x%u at %u.%u GT/s%s",
                            dev_str(d, b), l->cur_width, l->cur_speed / 1000, l->cur_speed % 1000 / 100,
                            l->max_width, l->max_speed / 1000, l->max_speed % 1000 / 100,
                            narrow ? "" : " (width is full: likely idle power saving)");
                return *ret_evidence ? 1 : -ENOMEM;
        }
        case VFIO_QUIRK_COND_HOST_CRITICAL: {
                _cleanup_strv_free_ char **why = NULL;
                _cleanup_free_ char *j = NULL;

                if (!md || md->verdict != VFIO_VERDICT_HOST_CRITICAL)
                        return 0;
                STRV_FOREACH(c, md->critical) {
                        char *s = fmt("%s is %s", d->name, *c);

                        if (!s || strv_push(&why, s) < 0) {
                                free(s);
                                return -ENOMEM;
                        }
                }
                STRV_FOREACH(c, md->blockers)
                        if (strv_extend(&why, *c) < 0)
                                return -ENOMEM;
                j = strv_join(why, "; ");
                *ret_evidence = fmt("%s", j ? j : "host-critical");
                return *ret_evidence ? 1 : -ENOMEM;
        }
        case VFIO_QUIRK_COND_BOOT_VGA_OTHER:
                /* Handled with the relation: the target must not be the boot VGA, `other` must be. */
                return d->boot_vga != 1;
        }
        return 0;
}

static int match_device(vfio_quirk_matches *m, const vfio_quirk *q, const vfio_quirk_input *in,
                        const vfio_pci_dev *d, bool candidate)
{
        const vfio_pci_list *pci = in->model->pci;
        _cleanup_free_ char *evidence = NULL, *related = NULL;
        vfio_quirk_action action = q->action;
        char b1[64], b2[64];
        int r;

        if (!pci_matches(&q->dev, d, in->names))
                return 0;
        switch (q->rel) {
        case VFIO_QUIRK_REL_NONE:
                break;
        case VFIO_QUIRK_REL_BRIDGE_ABOVE:
                STRV_FOREACH(p, d->parents) {
                        const vfio_pci_dev *b = vfio_pci_list_find(pci, *p);

                        if (b && pci_matches(&q->other, b, in->names)) {
                                related = strdup(b->name);
                                evidence = fmt("%s sits below %s", dev_str(d, b1), dev_str(b, b2));
                                break;
                        }
                }
                if (!related)
                        return 0;
                break;
        case VFIO_QUIRK_REL_HOST_HAS:
                for (size_t i = 0; i < pci->n && !related; i++) {
                        const vfio_pci_dev *o = pci->devs[i];

                        if (o == d || !pci_matches(&q->other, o, in->names))
                                continue;
                        if (q->cond == VFIO_QUIRK_COND_BOOT_VGA_OTHER && o->boot_vga != 1)
                                continue;
                        related = strdup(o->name);
                        evidence = fmt(q->cond == VFIO_QUIRK_COND_BOOT_VGA_OTHER
                                               ? "%s is the boot VGA (boot_vga=1); %s is not"
                                               : "host has %s; matched %s",
                                       dev_str(o, b1), dev_str(d, b2));
                }
                if (!related)
                        return 0;
                break;
        }
        if (q->cond != VFIO_QUIRK_COND_NONE) {
                _cleanup_free_ char *ce = NULL, *cr = NULL;

                r = cond_holds(q, in, d, &ce, &cr);
                if (r <= 0)
                        return r;
                if (ce) {
                        free(evidence);
                        evidence = TAKE_PTR(ce);
                }
                if (cr) {
                        free(related);
                        related = TAKE_PTR(cr);
                }
        }
        if (!evidence) {
                _cleanup_free_ char *name =
                        in->names ? vfio_pci_names_device(in->names, d->vendor, d->device) : NULL;

                evidence = name ? fmt("%s %s", dev_str(d, b1), name) : fmt("%s", dev_str(d, b1));
        }
        if (!board_matches(q, in))
                return 0;
        if (candidate && action > VFIO_QUIRK_INFO)
                action = VFIO_QUIRK_INFO; /* not chosen for passthrough: only worth knowing */
        if (q->cond == VFIO_QUIRK_COND_HOST_CRITICAL && in->force && action == VFIO_QUIRK_FAIL)
                action = VFIO_QUIRK_WARN;
        return add_match(m, q, action, candidate, d->name, related, TAKE_PTR(evidence));
}

int vfio_quirks_evaluate(const vfio_quirk_input *in, vfio_quirk_matches **ret)
{
        _cleanup_(vfio_quirk_matches_freep) vfio_quirk_matches *m = calloc(1, sizeof(vfio_quirk_matches));
        const vfio_pci_list *pci;
        int r;

        assert(in);
        assert(ret);

        pci = in->model->pci;
        if (!m)
                return -ENOMEM;
        for (size_t qi = 0; qi < ELEMENTSOF(quirks); qi++) {
                const vfio_quirk *q = &quirks[qi];

                switch (q->target) {
                case VFIO_QUIRK_TARGET_BOARD: {
                        char *ev;

                        if (!board_matches(q, in))
                                continue;
                        if (q->kernel_below)
                                ev = fmt("kernel %u.%u.%u", in->kernel_version >> 16,
                                         (in->kernel_version >> 8) & 0xff, in->kernel_version & 0xff);
                        else
                                ev = fmt("board '%s' '%s' (sys/class/dmi/id)%s%s%s",
                                         in->board_vendor ? in->board_vendor : "",
                                         in->board_name ? in->board_name : "",
                                         q->cmdline_absent ? ", no " : "",
                                         q->cmdline_absent ? q->cmdline_absent : "",
                                         q->cmdline_absent ? "= on the kernel command line" : "");
                        r = add_match(m, q, q->action, false, NULL, NULL, ev);
                        if (r < 0)
                                return r;
                        break;
                }
                case VFIO_QUIRK_TARGET_HOST:
                        for (size_t i = 0; i < pci->n; i++)
                                if ((r = match_device(m, q, in, pci->devs[i], false)) < 0)
                                        return r;
                        break;
                case VFIO_QUIRK_TARGET_PASS:
                        STRV_FOREACH(a, in->to_pass) {
                                const vfio_pci_dev *d = vfio_pci_list_find(pci, *a);

                                if (d && (r = match_device(m, q, in, d, false)) < 0)
                                        return r;
                        }
                        STRV_FOREACH(a, in->candidates) {
                                const vfio_pci_dev *d = vfio_pci_list_find(pci, *a);

                                if (d && !strv_contains(in->to_pass, *a) &&
                                    (r = match_device(m, q, in, d, true)) < 0)
                                        return r;
                        }
                        break;
                }
        }
        *ret = TAKE_PTR(m);
        return 0;
}

const char *vfio_quirk_settings_how(const vfio_quirk *q)
{
        return q->settings_at_start ? "vfioctl applies at every start"
                                    : "vfioctl create writes into a new VM's configuration";
}

const char *vfio_quirk_settings_when(const vfio_quirk *q)
{
        return q->settings_at_start ? "start" : "create";
}

int vfio_quirks_vm_settings(const vfio_host *h, const vfio_model *model, char *const *devices_to_pass,
                            char ***ret)
{
        _cleanup_(vfio_quirk_matches_freep) vfio_quirk_matches *m = NULL;
        _cleanup_(vfio_firmware_freep) vfio_firmware *fw = NULL;
        _cleanup_(vfio_kernel_freep) vfio_kernel *k = NULL;
        _cleanup_(vfio_pci_names_freep) vfio_pci_names *names = NULL;
        _cleanup_strv_free_ char **settings = calloc(1, sizeof(char *));
        vfio_quirk_input in;
        int r;

        assert(ret);

        if (!settings)
                return -ENOMEM;
        if ((r = vfio_firmware_read(h, &fw)) < 0 || (r = vfio_kernel_read(h, &k)) < 0)
                return r;
        (void)vfio_pci_names_new(NULL, &names);
        in = (vfio_quirk_input){
                .model = model,
                .to_pass = devices_to_pass,
                .board_vendor = fw->board_vendor,
                .board_name = fw->board_name,
                .kernel_version = k->version,
                .cmdline = k->cmdline,
                .names = names,
        };
        r = vfio_quirks_evaluate(&in, &m);
        if (r < 0)
                return r;
        for (size_t i = 0; i < m->n; i++)
                for (const char *const *s = m->items[i].quirk->settings; s && *s; s++)
                        if (!strv_contains(settings, *s) && strv_extend(&settings, *s) < 0)
                                return -ENOMEM;
        *ret = TAKE_PTR(settings);
        return 0;
}
