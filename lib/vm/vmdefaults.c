/* Where VM configs meet the host: selector resolution, CPU pinning plan, hugepages, the GPU to pass. */
#include "vfioctl/vmdefaults.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "parse-util.h"
#include "strv.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/quirks.h"
#include "vfioctl/selector.h"

static int push_msg(char ***l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int push_msg(char ***l, const char *fmt, ...)
{
        char *s;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        if (strv_push(l, s) < 0) {
                free(s);
                return -ENOMEM;
        }
        return 0;
}

/* One selector to host names; a literal address missing from the host is used as written. */
/* Where resolution happens: this host (lenient with literal addresses) or another one named by where. */
typedef struct resolve_target {
        const char *where; /* NULL: this host */
} resolve_target;

static int resolve_one(const vm_config *c, const char *section, unsigned line, const char *text,
                       const vfio_model *m, vfio_pci_names *names, const resolve_target *t, char ***out,
                       char ***warnings, char ***errors)
{
        _cleanup_(vfio_selector_freep) vfio_selector *sel = NULL;
        _cleanup_strv_free_ char **found = NULL;
        int r;

        r = vfio_selector_parse(text, &sel);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return push_msg(
                        errors,
                        "%s:%u: [%s] device: '%s' is not a selector; write a PCI address (01:00.0), vendor:device (10de:1b80) or a name pattern ('*GTX 1080*')",
                        c->filename, line, section, text);
        /* Without a host (validate) only literal addresses resolve; the rest waits for the real host. */
        if (!m && sel->kind != VFIO_SELECTOR_ADDRESS)
                return 0;
        r = m ? vfio_selector_resolve(sel, m, names, &found) : -ENXIO;
        if (r == -ENOMEM)
                return r;
        if (r == -ENXIO && t->where)
                return push_msg(
                        errors,
                        "%s:%u: [%s] device: '%s' is not on %s (its node devices have no such PCI device); nothing was defined",
                        c->filename, line, section, text, t->where);
        if (r == -ENXIO && sel->kind == VFIO_SELECTOR_ADDRESS) {
                char buf[VFIO_PCI_ADDR_MAX];

                if (m)
                        r = push_msg(
                                warnings,
                                "%s:%u: [%s] device %s is not present on this host; using the address as written",
                                c->filename, line, section, text);
                else
                        r = 0;
                if (r < 0)
                        return r;
                return strv_extend(out, vfio_pci_addr_format(&sel->addr, buf));
        }
        if (r == -ENXIO)
                return push_msg(
                        errors,
                        "%s:%u: [%s] device: selector '%s' matches no PCI device on this host; 'vfioctl devices' lists them",
                        c->filename, line, section, text);
        if (r < 0)
                return r;
        if (found[1]) {
                _cleanup_free_ char *list = strv_join(found, ", ");

                return push_msg(
                        errors,
                        "%s:%u: [%s] device: selector '%s' matches %zu devices (%s); use one address",
                        c->filename, line, section, text, strv_length(found), list ? list : "");
        }
        STRV_FOREACH(f, found)
                if (!strv_contains(*out, *f) && (r = strv_extend(out, *f)) < 0)
                        return r;
        return 0;
}

static int resolve_pci(vm_config *c, vm_pci *p, bool gpu, const vfio_model *m, vfio_pci_names *names,
                       const resolve_target *t, char ***warnings, char ***errors)
{
        _cleanup_strv_free_ char **out = NULL;
        char section[64];
        size_t nerr = strv_length(*errors);
        int r;

        snprintf(section, sizeof(section), gpu && strcmp(p->name, "gpu") == 0 ? "%s" : "%s \"%s\"",
                 gpu ? "gpu" : "pci", p->name);
        if (!p->device)
                return 0; /* vm_config_check reported it */
        r = resolve_one(c, section, p->line, p->device, m, names, t, &out, warnings, errors);
        if (r < 0 || strv_length(*errors) > nerr || !out)
                return r;
        if (gpu && p->functions_auto && m) {
                /* Every function of the GPU's slot travels with it (HDMI audio, USB-C, UCSI). */
                vfio_pci_addr a;

                if (vfio_pci_addr_parse(out[0], &a) == 0)
                        for (size_t i = 0; i < m->pci->n; i++) {
                                const vfio_pci_dev *d = m->pci->devs[i];

                                if (d->addr.domain == a.domain && d->addr.bus == a.bus &&
                                    d->addr.slot == a.slot && !strv_contains(out, d->name) &&
                                    (r = strv_extend(&out, d->name)) < 0)
                                        return r;
                        }
        } else if (gpu)
                STRV_FOREACH(f, p->functions) {
                        r = resolve_one(c, section, vm_config_key_line(c, section, "functions") ?: p->line,
                                        *f, m, names, t, &out, warnings, errors);
                        if (r < 0)
                                return r;
                }
        strv_free(p->resolved);
        p->resolved = TAKE_PTR(out);
        return 0;
}

/* The quirk setting that keeps guest RAM out of the host's PCI MMIO hole (NF200-class bridges). */
#define DMA_RANGE_SETTING "machine.max-ram-below-4g=1G"
#define DMA_RANGE_LIMIT   (1ULL << 30)

/*
 * Host safety, not a preference: a device below a bridge that lets DMA bypass the IOMMU (quirk
 * nf200-dma-bypass, seed 000 "Virtualization With VT-d / IOMMU") must not see guest RAM between 1 GiB and
 * 4 GiB, or guest writes land on host devices. So whenever a quirk asks for max-ram-below-4g=1G the
 * config gets it (or keeps a lower value it already has), whatever the file says, with a warning.
 */
static int apply_dma_quirks(vm_config *c, const vfio_model *m, vfio_pci_names *names, char ***warnings)
{
        _cleanup_(vfio_quirk_matches_freep) vfio_quirk_matches *qm = NULL;
        _cleanup_strv_free_ char **pass = NULL;
        vfio_quirk_input in;
        int r;

        for (size_t i = 0; i < c->n_gpus; i++)
                STRV_FOREACH(a, c->gpus[i].resolved)
                        if ((r = strv_extend(&pass, *a)) < 0)
                                return r;
        for (size_t i = 0; i < c->n_pcis; i++)
                STRV_FOREACH(a, c->pcis[i].resolved)
                        if ((r = strv_extend(&pass, *a)) < 0)
                                return r;
        if (!pass)
                return 0;
        /* Board and kernel facts are not needed for topology quirks; quirks that need them do not match. */
        in = (vfio_quirk_input){ .model = m, .to_pass = pass, .names = names };
        r = vfio_quirks_evaluate(&in, &qm);
        if (r < 0)
                return r;
        for (size_t i = 0; i < qm->n; i++) {
                const vfio_quirk_match *x = &qm->items[i];
                bool wants = false;

                if (x->candidate)
                        continue;
                for (const char *const *s = x->quirk->settings; s && *s; s++)
                        wants |= strcmp(*s, DMA_RANGE_SETTING) == 0;
                if (!wants || (c->vm.max_ram_below_4g && c->vm.max_ram_below_4g <= DMA_RANGE_LIMIT))
                        continue;
                if (c->vm.max_ram_below_4g)
                        r = push_msg(
                                warnings,
                                "%s: [vm] max_ram_below_4g lowered to 1G: %s (quirk %s); a larger value lets guest DMA reach host devices",
                                c->filename, x->evidence ? x->evidence : "", x->quirk->id);
                else
                        r = push_msg(warnings, "%s: max-ram-below-4g=1G applied: %s (quirk %s)", c->filename,
                                     x->evidence ? x->evidence : "", x->quirk->id);
                if (r < 0)
                        return r;
                c->vm.max_ram_below_4g = DMA_RANGE_LIMIT;
        }
        return 0;
}

static int resolve_all(vm_config *c, const vfio_model *m, vfio_pci_names *names, const resolve_target *t,
                       char ***warnings, char ***errors)
{
        int r;

        assert(c);
        assert(errors);

        for (size_t i = 0; i < c->n_gpus; i++)
                if ((r = resolve_pci(c, &c->gpus[i], true, m, names, t, warnings, errors)) < 0)
                        return r;
        for (size_t i = 0; i < c->n_pcis; i++)
                if ((r = resolve_pci(c, &c->pcis[i], false, m, names, t, warnings, errors)) < 0)
                        return r;
        return *errors ? -EINVAL : 0;
}

int vm_config_resolve_on(vm_config *c, const vfio_model *m, vfio_pci_names *names, const char *where,
                         char ***errors)
{
        _cleanup_strv_free_ char **warnings = NULL;
        resolve_target t = { .where = where };

        assert(m && where);
        return resolve_all(c, m, names, &t, &warnings, errors);
}

int vm_config_resolve(vm_config *c, const vfio_model *m, vfio_pci_names *names, char ***warnings,
                      char ***errors)
{
        resolve_target t = {};
        int r;

        r = resolve_all(c, m, names, &t, warnings, errors);
        if (r < 0)
                return r;
        if (m && (r = apply_dma_quirks(c, m, names, warnings)) < 0)
                return r;
        return 0;
}

static int read_uint_attr(const vfio_host *h, const char *path, uint64_t max, unsigned *ret)
{
        _cleanup_free_ char *s = NULL;
        uint64_t v;
        int r;

        r = vfio_host_read_attr(h, path, 64, &s);
        if (r < 0)
                return r;
        r = parse_uint(s, 10, max, &v);
        if (r < 0)
                return r;
        *ret = (unsigned)v;
        return 0;
}

static int cmp_cpu(const void *a, const void *b)
{
        const vm_host_cpu *x = a, *y = b;

        return (x->cpu > y->cpu) - (x->cpu < y->cpu);
}

int vm_host_cpus(const vfio_host *h, vm_host_cpu **ret, size_t *ret_n)
{
        _cleanup_strv_free_ char **entries = NULL;
        _cleanup_free_ vm_host_cpu *cpus = NULL;
        size_t n = 0;
        int r;

        assert(ret);
        assert(ret_n);

        r = vfio_host_list_dir(h, "sys/devices/system/cpu", 65536, &entries);
        if (r < 0)
                return r;
        STRV_FOREACH(e, entries) {
                char path[128];
                uint64_t id;
                unsigned online = 1, v;
                vm_host_cpu *t;

                if (strncmp(*e, "cpu", 3) != 0 || parse_uint(*e + 3, 10, 65535, &id) < 0)
                        continue;
                /* cpu0 often has no "online" file: it cannot go offline. */
                snprintf(path, sizeof(path), "sys/devices/system/cpu/%s/online", *e);
                (void)read_uint_attr(h, path, 1, &online);
                if (!online)
                        continue;
                t = realloc(cpus, (n + 1) * sizeof(*cpus));
                if (!t)
                        return -ENOMEM;
                cpus = t;
                t = &cpus[n++];
                *t = (vm_host_cpu){ .cpu = (unsigned)id, .core = (unsigned)id, .l3 = -1 };
                snprintf(path, sizeof(path), "sys/devices/system/cpu/%s/topology/core_id", *e);
                if (read_uint_attr(h, path, UINT32_MAX, &v) == 0)
                        t->core = v;
                snprintf(path, sizeof(path), "sys/devices/system/cpu/%s/topology/physical_package_id", *e);
                if (read_uint_attr(h, path, UINT32_MAX, &v) == 0)
                        t->package = v;
                snprintf(path, sizeof(path), "sys/devices/system/cpu/%s/cache/index3/shared_cpu_list", *e);
                {
                        _cleanup_free_ char *l3 = NULL;

                        if (vfio_host_read_attr(h, path, 4096, &l3) == 0) {
                                l3[strspn(l3, "0123456789")] = 0;
                                if (parse_uint(l3, 10, 65535, &id) == 0)
                                        t->l3 = (int)id;
                        }
                }
        }
        if (n == 0)
                return -ENOENT;
        qsort(cpus, n, sizeof(*cpus), cmp_cpu);
        *ret_n = n;
        *ret = TAKE_PTR(cpus);
        return 0;
}

typedef struct core {
        unsigned package, core;
        int l3;
        unsigned cpus[8];
        size_t n;
} core;

int vm_plan_pinning(const vm_host_cpu *cpus, size_t n, unsigned vcpus, char ***ret_pin, char ***ret_emulator,
                    unsigned *ret_threads)
{
        _cleanup_free_ core *cores = NULL;
        _cleanup_strv_free_ char **pin = NULL, **emu = NULL;
        size_t ncores = 0, host = 0, smt = 1, need;
        int best_l3 = -1;
        bool *used = NULL;
        char buf[16];
        int r = 0;

        assert(cpus);
        assert(ret_pin);
        assert(ret_emulator);
        assert(ret_threads);

        cores = calloc(n, sizeof(*cores));
        if (!cores)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                size_t j;

                for (j = 0; j < ncores; j++)
                        if (cores[j].package == cpus[i].package && cores[j].core == cpus[i].core)
                                break;
                if (j == ncores)
                        cores[ncores++] =
                                (core){ .package = cpus[i].package, .core = cpus[i].core, .l3 = cpus[i].l3 };
                if (cores[j].n < ELEMENTSOF(cores[j].cpus))
                        cores[j].cpus[cores[j].n++] = cpus[i].cpu;
                if (cores[j].n > smt)
                        smt = cores[j].n;
        }
        /* The core of the lowest CPU stays with the host: interrupts and housekeeping land there. */
        need = (vcpus + smt - 1) / smt;
        if (need > ncores - 1)
                return -E2BIG;
        {
                /* Prefer the L3 domain with the most cores free for the guest: one cache, no cross-CCX
                 * traffic. */
                size_t best = 0;

                for (size_t i = 0; i < ncores; i++) {
                        size_t k = 0;

                        for (size_t j = 0; j < ncores; j++)
                                k += j != host && cores[j].l3 == cores[i].l3;
                        if (k > best) {
                                best = k;
                                best_l3 = cores[i].l3;
                        }
                }
        }
        used = calloc(ncores, sizeof(bool));
        if (!used)
                return -ENOMEM;
        used[host] = true;
        for (int pass = 0; pass < 2 && strv_length(pin) < vcpus; pass++)
                for (size_t j = 0; j < ncores && strv_length(pin) < vcpus; j++) {
                        if (used[j] || (pass == 0 && cores[j].l3 != best_l3))
                                continue;
                        used[j] = true;
                        for (size_t k = 0; k < cores[j].n && strv_length(pin) < vcpus; k++) {
                                snprintf(buf, sizeof(buf), "%u", cores[j].cpus[k]);
                                if ((r = strv_extend(&pin, buf)) < 0)
                                        goto finish;
                        }
                }
        for (size_t k = 0; k < cores[host].n; k++) {
                snprintf(buf, sizeof(buf), "%u", cores[host].cpus[k]);
                if ((r = strv_extend(&emu, buf)) < 0)
                        goto finish;
        }
        *ret_threads = smt >= 2 && vcpus % 2 == 0 ? 2 : 1;
        *ret_pin = TAKE_PTR(pin);
        *ret_emulator = TAKE_PTR(emu);
finish:
        free(used);
        return r;
}

int vm_host_hugepages_free(const vfio_host *h, unsigned size_kb, uint64_t *ret)
{
        char path[96];
        unsigned v;
        int r;

        snprintf(path, sizeof(path), "sys/kernel/mm/hugepages/hugepages-%ukB/free_hugepages", size_kb);
        r = read_uint_attr(h, path, UINT32_MAX, &v);
        if (r < 0)
                return r;
        *ret = v;
        return 0;
}

const vfio_model_device *vm_pick_gpu(const vfio_model *m)
{
        const vfio_model_device *fallback = NULL;

        assert(m);

        for (size_t i = 0; i < m->pci->n; i++) {
                const vfio_model_device *d = &m->devices[i];

                if (!vfio_pci_dev_is_display(d->pci) || d->pci->addr.func != 0)
                        continue;
                if (d->verdict != VFIO_VERDICT_ALONE && d->verdict != VFIO_VERDICT_WITH_PEERS)
                        continue;
                /* The boot VGA usually drives the host console: take another card when there is one. */
                if (d->pci->boot_vga == 1) {
                        fallback = fallback ?: d;
                        continue;
                }
                return d;
        }
        return fallback;
}
