/* A new VM's configuration from a few choices and this host's facts: what `vfioctl create` writes. */
#include "vfioctl/vmcreate.h"

#include <assert.h>
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parse-util.h"
#include "strv.h"
#include "vfioctl/account.h"
#include "vfioctl/quirks.h"
#include "vfioctl/selector.h"
#include "vfioctl/vmdefaults.h"

static int add_item(void **array, size_t *n, size_t size, const char *name, void **ret)
{
        char *a = realloc(*array, (*n + 1) * size);

        if (!a)
                return -ENOMEM;
        *array = a;
        a += *n * size;
        memset(a, 0, size);
        *(char **)a = strdup(name);
        if (!*(char **)a)
                return -ENOMEM;
        (*n)++;
        *ret = a;
        return 0;
}

int vm_create_apply_setting(vm_config *c, const char *setting)
{
        if (strcmp(setting, "cpu.kvm=off") == 0)
                c->cpu.hide_kvm = true;
        else if (strncmp(setting, "hyperv.vendor_id=", 17) == 0) {
                char *v = strdup(setting + 17);

                if (!v)
                        return -ENOMEM;
                /* The vendor id is a Hyper-V CPUID leaf: it needs the enlightenments on. */
                c->cpu.hyperv = true;
                free(c->cpu.hyperv_vendor_id);
                c->cpu.hyperv_vendor_id = v;
        } else if (strcmp(setting, "firmware=ovmf") == 0)
                c->firmware.type = VM_FIRMWARE_OVMF;
        else if (strcmp(setting, "vfio.x-vga=off") == 0)
                for (size_t i = 0; i < c->n_gpus; i++)
                        c->gpus[i].x_vga = false;
        else if (strncmp(setting, "machine.max-ram-below-4g=", 25) == 0)
                return 0; /* applied at every start (vm_config_resolve), whatever the file says */
        else
                return -EINVAL;
        return 0;
}

/* The quirks of the chosen GPU's functions ask for VM settings (nvidia-geforce-code43: kvm=off and a
 * Hyper-V vendor id); the config carries them, so what check says vfioctl does is what the VM gets. */
static int apply_quirks(vm_config *c, const vfio_host *h, const vfio_model *m, const vfio_pci_dev *gpu,
                        char ***warnings)
{
        _cleanup_strv_free_ char **pass = NULL, **settings = NULL;
        int r;

        for (size_t i = 0; i < m->pci->n; i++) {
                const vfio_pci_dev *d = m->pci->devs[i];

                if (d->addr.domain == gpu->addr.domain && d->addr.bus == gpu->addr.bus &&
                    d->addr.slot == gpu->addr.slot && !vfio_pci_dev_is_bridge(d) &&
                    (r = strv_extend(&pass, d->name)) < 0)
                        return r;
        }
        r = vfio_quirks_vm_settings(h, m, pass, &settings);
        if (r < 0)
                return r;
        STRV_FOREACH(s, settings) {
                r = vm_create_apply_setting(c, *s);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 &&
                    (r = strv_extendf(warnings, "quirk setting '%s' is not one create knows; left out",
                                      *s)) < 0)
                        return r;
        }
        return 0;
}

static int pick_gpu(vm_config *c, const vfio_host *h, const vfio_model *m, vfio_pci_names *names,
                    const char *gpu, const vfio_model_device **ret_dev, char ***warnings, char ***errors)
{
        _cleanup_(vfio_selector_freep) vfio_selector *sel = NULL;
        _cleanup_strv_free_ char **found = NULL;
        const vfio_model_device *d = NULL;
        vm_pci *p;
        int r;

        if (strcmp(gpu, "auto") == 0) {
                d = vm_pick_gpu(m);
                if (!d) {
                        r = strv_extendf(
                                errors,
                                "--gpu auto: no display device on this host can be passed through; 'vfioctl devices --gpu' shows why");
                        return r < 0 ? r : -ENXIO;
                }
        } else {
                r = vfio_selector_parse(gpu, &sel);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        r = strv_extendf(
                                errors,
                                "--gpu: '%s' is not a selector (01:00.0, 10de:1b80 or a name pattern)", gpu);
                        return r < 0 ? r : -ENXIO;
                }
                r = vfio_selector_resolve(sel, m, names, &found);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || found[1]) {
                        r = strv_extendf(
                                errors,
                                "--gpu: '%s' matches %s on this host; 'vfioctl devices --gpu' lists them",
                                gpu, r < 0 ? "no PCI device" : "several devices");
                        return r < 0 ? r : -ENXIO;
                }
                d = vfio_model_find_device(m, found[0]);
        }
        r = add_item((void **)&c->gpus, &c->n_gpus, sizeof(vm_pci), "gpu", (void **)&p);
        if (r < 0)
                return r;
        /* The identity bind records (IDs at a topology path), not the address: a card added upstream
         * renumbers the buses, and an identical card elsewhere has the same IDs. The serial is left out:
         * a VM config names a slot, and a card swapped for its twin there is the same to the guest. */
        {
                vfio_identity id;

                r = vfio_identity_of(h, d->pci, &id);
                if (r < 0)
                        return r;
                id.has_dsn = false;
                p->device = vfio_identity_format(&id);
                vfio_identity_done(&id);
                if (!p->device)
                        return -ENOMEM;
        }
        *ret_dev = d;
        p->functions_auto = true;
        p->rombar = true;
        r = apply_quirks(c, h, m, d->pci, warnings);
        if (r < 0)
                return r;
        /* The card's own functions (its HDMI audio) come along anyway: only other endpoints need a word. */
        STRV_FOREACH(peer, d->group_peers) {
                const vfio_pci_dev *pd = vfio_pci_list_find(m->pci, *peer);

                if (pd && pd->addr.domain == d->pci->addr.domain && pd->addr.bus == d->pci->addr.bus &&
                    pd->addr.slot == d->pci->addr.slot)
                        continue;
                return strv_extendf(
                        warnings,
                        "GPU %s shares its IOMMU group with other devices (%s); they must all be bound to vfio-pci",
                        d->pci->name, *peer);
        }
        return 0;
}

static int host_defaults(vm_config *c, const vfio_host *h, const vfio_model_device *gpu,
                         const vm_create_opts *o, char ***warnings, char ***errors)
{
        _cleanup_free_ vm_host_cpu *cpus = NULL;
        _cleanup_(vm_pin_plan_freep) vm_pin_plan *plan = NULL;
        _cleanup_(vm_others_freep) vm_others *others = NULL;
        vm_pin_request req = { .gpu_node = -1 };
        size_t n = 0;
        unsigned vcpus, threads = 1;
        uint64_t v, pages;
        int r;

        r = vm_host_cpus(h, &cpus, &n);
        if (r < 0 &&
            (r = strv_extendf(warnings, "cannot read the CPU topology below %s: %s; no pinning planned",
                              vfio_host_root(h), strerror(-r))) < 0)
                return r;
        if (o->cpus) {
                if (parse_uint(o->cpus, 10, 256, &v) < 0 || v == 0) {
                        r = strv_extendf(errors, "--cpus: '%s' is not a count from 1 to 256", o->cpus);
                        return r < 0 ? r : -EINVAL;
                }
                vcpus = (unsigned)v;
        } else
                /* Leave one core to the host; cap at 8 vCPUs, plenty for a desktop guest. */
                vcpus = n > 2 ? (unsigned)(n - 2 < 8 ? n - 2 : 8) : 1;
        /* The plan follows the GPU's NUMA node and keeps clear of the other VMs' CPUs (issue 21). */
        req.vcpus = vcpus;
        if (gpu) {
                req.gpu_node = gpu->pci->numa_node;
                req.gpu = gpu->pci->name;
        }
        r = vm_others_load(h, c->name, &others);
        if (r < 0)
                return r;
        req.holders = others->holders;
        req.n_holders = others->n;
        if (n > 0 && (r = vm_plan_pinning(cpus, n, &req, &plan)) == 0) {
                c->cpu.pin = TAKE_PTR(plan->pin);
                c->cpu.emulator_pin = TAKE_PTR(plan->emulator);
                c->cpu.pin_notes = TAKE_PTR(plan->why);
                threads = plan->threads;
                if (plan->memory_node >= 0) {
                        char node[16];

                        snprintf(node, sizeof(node), "%d", plan->memory_node);
                        if (strv_extend(&c->memory.host_nodes, node) < 0)
                                return -ENOMEM;
                }
                if (plan->shared_with) {
                        _cleanup_free_ char *who = strv_join(plan->shared_with, "', '");

                        if ((r = strv_extendf(
                                     warnings,
                                     "VM '%s' shares host CPUs with VM '%s': this host has no free core left for its %u vCPUs; the comment above [cpu] pin in its config says which CPUs",
                                     c->name, who ? who : "?", vcpus)) < 0)
                                return r;
                }
        } else if (r == -ENOMEM)
                return r;
        else if (
                n > 0 &&
                (r = strv_extendf(
                         warnings,
                         "this host has %zu CPUs: too few to pin %u vCPUs and keep a core for itself; no pinning planned",
                         n, vcpus)) < 0)
                return r;
        c->cpu.threads = threads;
        c->cpu.cores = vcpus / threads;
        c->cpu.sockets = 1;

        if (o->memory) {
                if (parse_size(o->memory, &v) < 0 || v < (256ULL << 20)) {
                        r = strv_extendf(errors,
                                         "--memory: '%s' is not a size of at least 256M (16G, 16384M)",
                                         o->memory);
                        return r < 0 ? r : -EINVAL;
                }
                c->memory.size = v;
        } else
                c->memory.size = 8ULL << 30;
        /* Use hugepages only when enough are already reserved: reserving them is a host change. */
        if (vm_host_hugepages_free(h, 1048576, &pages) == 0 && pages * (1ULL << 30) >= c->memory.size &&
            c->memory.size % (1ULL << 30) == 0)
                c->memory.hugepages = VM_HUGEPAGES_1G;
        else if (vm_host_hugepages_free(h, 2048, &pages) == 0 && pages * (2ULL << 20) >= c->memory.size &&
                 c->memory.size % (2ULL << 20) == 0)
                c->memory.hugepages = VM_HUGEPAGES_2M;
        /* Hugepages are allocated at start, all of them: one thread per host CPU zeroes them in a
         * fraction of the time one thread takes (docs/BENCHMARKS.md, "Memory setup"). */
        if (c->memory.hugepages != VM_HUGEPAGES_NONE && n > 0)
                c->memory.prealloc_threads = n > 256 ? 256 : (unsigned)n;
        return 0;
}

int vm_create_build(vm_config *c, const vfio_host *h, const vfio_model *m, vfio_pci_names *names,
                    const vm_create_opts *o, char ***warnings, char ***errors)
{
        const vfio_model_device *gpu_dev = NULL;
        vm_disk *d;
        vm_net *net;
        int r;

        if (o->gpu) {
                r = pick_gpu(c, h, m, names, o->gpu, &gpu_dev, warnings, errors);
                if (r < 0)
                        return r;
        }
        if (o->user && !(c->vm.user = strdup(o->user)))
                return -ENOMEM;
        if (o->windows) {
                c->vm.os = VM_OS_WINDOWS;
                c->vm.rtc_localtime = true;
                c->vm.rtc_catchup = true;
                c->vm.pit_delay = true;
                c->vm.hpet = false;
                c->cpu.hyperv = true;
                /* Windows 11 requires TPM 2.0 and Secure Boot. */
                c->tpm.enabled = true;
                c->firmware.secure_boot = true;
        }
        r = host_defaults(c, h, gpu_dev, o, warnings, errors);
        if (r < 0)
                return r;
        if (o->disk) {
                uint64_t size;

                r = add_item((void **)&c->disks, &c->n_disks, sizeof(vm_disk), "system", (void **)&d);
                if (r < 0)
                        return r;
                /* Windows setup has no virtio drivers: SATA installs out of the box. */
                d->bus = o->windows ? VM_DISK_SATA : VM_DISK_VIRTIO_BLK;
                d->bootindex = 1;
                if (o->disk[0] != '/' && parse_size(o->disk, &size) == 0) {
                        if (asprintf(&d->path, "%s/system.qcow2", o->state_dir) < 0)
                                return -ENOMEM;
                        d->format = VM_DISK_QCOW2;
                        d->discard = strdup("unmap");
                        if (!d->discard)
                                return -ENOMEM;
                } else if (o->disk[0] == '/') {
                        d->path = strdup(o->disk);
                        if (!d->path)
                                return -ENOMEM;
                        if (strlen(o->disk) > 6 && strcmp(o->disk + strlen(o->disk) - 6, ".qcow2") == 0)
                                d->format = VM_DISK_QCOW2;
                        else if (strncmp(o->disk, "/dev/", 5) == 0) {
                                /* Block devices and zvols: no host page cache, native AIO. */
                                d->cache = strdup("none");
                                d->aio = strdup("native");
                                if (!d->cache || !d->aio)
                                        return -ENOMEM;
                        }
                } else {
                        r = strv_extendf(errors, "--disk: '%s' is neither an absolute path nor a size (64G)",
                                         o->disk);
                        return r < 0 ? r : -EINVAL;
                }
        }
        if (o->iso) {
                if (o->iso[0] != '/') {
                        r = strv_extendf(errors, "--iso: '%s' must be an absolute path", o->iso);
                        return r < 0 ? r : -EINVAL;
                }
                r = add_item((void **)&c->disks, &c->n_disks, sizeof(vm_disk), "install", (void **)&d);
                if (r < 0)
                        return r;
                d->media = VM_MEDIA_CDROM;
                d->bus = VM_DISK_SATA;
                d->bootindex = 2;
                d->path = strdup(o->iso);
                if (!d->path)
                        return -ENOMEM;
        }
        r = add_item((void **)&c->nets, &c->n_nets, sizeof(vm_net), "lan", (void **)&net);
        if (r < 0)
                return r;
        net->model = o->windows ? VM_NET_E1000E : VM_NET_VIRTIO;
        c->audio.enabled = true;
        /* nobody's desktop session runs as root */
        if (o->desktop_user && strcmp(o->desktop_user, "root") != 0 &&
            !(c->vm.desktop_user = strdup(o->desktop_user)))
                return -ENOMEM;
        if (c->n_gpus == 0) {
                /* Without a passed GPU the guest needs a screen of its own. */
                c->display.device = VM_DISPLAY_VIRTIO_VGA;
                c->display.protocol = VM_PROTOCOL_SPICE;
        }
        return 0;
}

int vm_create_desktop_user(const vfio_host *h, const char *option, char **ret)
{
        static const char name_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
        const char *sudo = secure_getenv("SUDO_USER");
        char *s = NULL;

        assert(h);
        assert(ret);

        if (option) {
                /* What vfioctl.conf(5) takes: it goes into tmpfiles.d lines and udev rules later. */
                if (!*option || strlen(option) > 32 || option[0] == '-' ||
                    option[strspn(option, name_chars)])
                        return -EINVAL;
                s = strdup(option);
                if (!s)
                        return -ENOMEM;
        } else if (vfio_host_is_live(h)) {
                if (getuid() == 0 && sudo && *sudo) {
                        s = strdup(sudo);
                        if (!s)
                                return -ENOMEM;
                } else if (getuid() == 0) {
                        int r = vfio_account_seat_user(h, &s);

                        if (r == -ENOMEM)
                                return r;
                } else {
                        struct passwd *pw = getpwuid(getuid());

                        if (pw && !(s = strdup(pw->pw_name)))
                                return -ENOMEM;
                }
        }
        if (s &&
            (strcmp(s, "root") == 0 || !*s || strlen(s) > 32 || s[0] == '-' || s[strspn(s, name_chars)])) {
                /* root's desktop is nobody's; a name from the environment vfioctl.conf(5) cannot take is
                 * none */
                free(s);
                s = NULL;
        }
        *ret = s;
        return 0;
}
