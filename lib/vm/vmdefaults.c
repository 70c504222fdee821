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

#include "config.h"
#include "cpulist.h"
#include "log.h"
#include "parse-util.h"
#include "strv.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/quirks.h"
#include "vfioctl/selector.h"
#include "vfioctl/vmpaths.h"

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

/* The first CPU of a kernel CPU list ("4-7,36-39" -> 4), -1 when there is none. */
static int first_cpu_of(const vfio_host *h, const char *path)
{
        _cleanup_free_ char *s = NULL;
        uint64_t v;

        if (vfio_host_read_attr(h, path, 4096, &s) < 0)
                return -1;
        s[strspn(s, "0123456789")] = 0;
        return parse_uint(s, 10, CPULIST_MAX - 1, &v) == 0 ? (int)v : -1;
}

/* Reads a kernel CPU list file into a new set of CPULIST_MAX entries; NULL when absent or malformed. */
static bool *read_cpuset(const vfio_host *h, const char *path)
{
        _cleanup_free_ char *s = NULL;
        bool *set;

        if (vfio_host_read_attr(h, path, 65536, &s) < 0)
                return NULL;
        set = calloc(CPULIST_MAX, sizeof(bool));
        if (set && cpulist_parse(s, set, CPULIST_MAX) < 0) {
                free(set);
                return NULL;
        }
        return set;
}

/* Each CPU's NUMA node from sys/devices/system/node/nodeN/cpulist
 * (Documentation/ABI/stable/sysfs-devices-node). */
static int read_nodes(const vfio_host *h, vm_host_cpu *cpus, size_t n)
{
        _cleanup_strv_free_ char **nodes = NULL;

        if (vfio_host_list_dir(h, "sys/devices/system/node", 65536, &nodes) < 0)
                return 0; /* no NUMA support in the kernel: one node, unknown */
        STRV_FOREACH(e, nodes) {
                _cleanup_free_ bool *set = NULL;
                char path[96];
                uint64_t id;

                if (strncmp(*e, "node", 4) != 0 || parse_uint(*e + 4, 10, 4095, &id) < 0)
                        continue;
                snprintf(path, sizeof(path), "sys/devices/system/node/%s/cpulist", *e);
                set = read_cpuset(h, path);
                for (size_t i = 0; set && i < n; i++)
                        if (set[cpus[i].cpu])
                                cpus[i].node = (int)id;
        }
        return 0;
}

int vm_host_cpus(const vfio_host *h, vm_host_cpu **ret, size_t *ret_n)
{
        _cleanup_strv_free_ char **entries = NULL;
        _cleanup_free_ vm_host_cpu *cpus = NULL;
        _cleanup_free_ bool *atom = NULL;
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

                if (strncmp(*e, "cpu", 3) != 0 || parse_uint(*e + 3, 10, CPULIST_MAX - 1, &id) < 0)
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
                *t = (vm_host_cpu){ .cpu = (unsigned)id, .core = (unsigned)id, .l3 = -1, .node = -1 };
                snprintf(path, sizeof(path), "sys/devices/system/cpu/%s/topology/core_id", *e);
                if (read_uint_attr(h, path, UINT32_MAX, &v) == 0)
                        t->core = v;
                snprintf(path, sizeof(path), "sys/devices/system/cpu/%s/topology/physical_package_id", *e);
                if (read_uint_attr(h, path, UINT32_MAX, &v) == 0)
                        t->package = v;
                /* The kernel's own grouping of threads into cores: core_id alone repeats across dies. */
                snprintf(path, sizeof(path), "sys/devices/system/cpu/%s/topology/thread_siblings_list", *e);
                t->sibling = first_cpu_of(h, path);
                snprintf(path, sizeof(path), "sys/devices/system/cpu/%s/cache/index3/shared_cpu_list", *e);
                t->l3 = first_cpu_of(h, path);
                /* Hybrid and asymmetric parts: the highest frequency each core reaches (cpufreq), else the
                 * scheduler's relative capacity (Documentation/ABI/testing/sysfs-devices-system-cpu). */
                snprintf(path, sizeof(path), "sys/devices/system/cpu/%s/cpufreq/cpuinfo_max_freq", *e);
                if (read_uint_attr(h, path, UINT32_MAX, &v) == 0)
                        t->speed = v;
                else {
                        snprintf(path, sizeof(path), "sys/devices/system/cpu/%s/cpu_capacity", *e);
                        if (read_uint_attr(h, path, UINT32_MAX, &v) == 0)
                                t->speed = v;
                }
        }
        if (n == 0)
                return -ENOENT;
        qsort(cpus, n, sizeof(*cpus), cmp_cpu);
        r = read_nodes(h, cpus, n);
        if (r < 0)
                return r;
        /* Intel hybrid parts register one PMU per core type; cpu_atom lists the E-cores. */
        atom = read_cpuset(h, "sys/devices/cpu_atom/cpus");
        for (size_t i = 0; atom && i < n; i++)
                cpus[i].efficiency = atom[cpus[i].cpu];
        *ret_n = n;
        *ret = TAKE_PTR(cpus);
        return 0;
}

vm_pin_plan *vm_pin_plan_free(vm_pin_plan *p)
{
        if (!p)
                return NULL;
        strv_free(p->pin);
        strv_free(p->emulator);
        strv_free(p->why);
        strv_free(p->shared_with);
        free(p);
        return NULL;
}

/* A host core: its threads, where it sits, how fast it is and who else holds it. */
typedef struct core {
        unsigned cpus[8];
        size_t n, taken;
        unsigned package, core_id;
        int sibling, l3, node;
        unsigned speed;
        bool slow;     /* an E-core, or clearly slower than the fastest core */
        unsigned load; /* 2 per autostarted (or running) VM holding it, 1 per other VM and for the host */
        bool host;
        char **holders;
} core;

typedef struct topo {
        core *cores;
        size_t n;
        size_t host;
        unsigned n_nodes;
        bool hybrid, smt;
        unsigned fast_speed, slow_speed;
} topo;

static void topo_done(topo *t)
{
        for (size_t i = 0; t->cores && i < t->n; i++)
                strv_free(t->cores[i].holders);
        free(t->cores);
}

static bool same_core(const core *c, const vm_host_cpu *x)
{
        if (c->sibling >= 0 || x->sibling >= 0)
                return c->sibling == x->sibling;
        return c->package == x->package && c->core_id == x->core;
}

static int topo_build(const vm_host_cpu *cpus, size_t n, topo *t)
{
        unsigned max_speed = 0;
        int nodes[64];
        size_t n_nodes = 0;

        *t = (topo){};
        t->cores = calloc(n, sizeof(core));
        if (!t->cores)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                size_t j;

                for (j = 0; j < t->n; j++)
                        if (same_core(&t->cores[j], &cpus[i]))
                                break;
                if (j == t->n)
                        t->cores[t->n++] = (core){ .package = cpus[i].package,
                                                   .core_id = cpus[i].core,
                                                   .sibling = cpus[i].sibling,
                                                   .l3 = cpus[i].l3,
                                                   .node = cpus[i].node,
                                                   .slow = cpus[i].efficiency };
                if (t->cores[j].n < ELEMENTSOF(t->cores[j].cpus))
                        t->cores[j].cpus[t->cores[j].n++] = cpus[i].cpu;
                if (cpus[i].speed > t->cores[j].speed)
                        t->cores[j].speed = cpus[i].speed;
                if (cpus[i].speed > max_speed)
                        max_speed = cpus[i].speed;
                if (cpus[i].node >= 0) {
                        size_t k;

                        for (k = 0; k < n_nodes && nodes[k] != cpus[i].node; k++)
                                ;
                        if (k == n_nodes && n_nodes < ELEMENTSOF(nodes))
                                nodes[n_nodes++] = cpus[i].node;
                }
        }
        t->n_nodes = (unsigned)n_nodes;
        for (size_t j = 0; j < t->n; j++) {
                core *c = &t->cores[j];

                /* Without cpu_atom (other kernels, other vendors) a core well below the fastest one's
                 * frequency is treated as a slow core too. */
                if (max_speed && c->speed && (uint64_t)c->speed * 100 < (uint64_t)max_speed * 85)
                        c->slow = true;
                t->smt |= c->n > 1;
        }
        for (size_t j = 0; j < t->n; j++) {
                core *c = &t->cores[j];

                if (c->slow && (!t->slow_speed || c->speed > t->slow_speed))
                        t->slow_speed = c->speed;
                if (!c->slow && c->speed > t->fast_speed)
                        t->fast_speed = c->speed;
                t->hybrid |= c->slow;
        }
        if (t->hybrid) {
                bool any_fast = false;

                for (size_t j = 0; j < t->n; j++)
                        any_fast |= !t->cores[j].slow;
                t->hybrid = any_fast;
        }
        /* The core of CPU 0 stays with the host: interrupts and housekeeping land there. On a hybrid part
         * the host keeps its first E-core instead, so the fast cores are all free for a guest. */
        t->host = 0;
        if (t->hybrid)
                for (size_t j = 0; j < t->n; j++)
                        if (t->cores[j].slow) {
                                t->host = j;
                                break;
                        }
        /* The host counts as a light holder of its core: when every other core is held by a running VM,
         * the next one goes there rather than stacking on a guest's core (issue 21: eight unpinned VMs on
         * one CPU while CPU 0 idled). */
        t->cores[t->host].host = true;
        t->cores[t->host].load += 1;
        return 0;
}

static core *core_of_cpu(topo *t, unsigned cpu)
{
        for (size_t j = 0; j < t->n; j++)
                for (size_t k = 0; k < t->cores[j].n; k++)
                        if (t->cores[j].cpus[k] == cpu)
                                return &t->cores[j];
        return NULL;
}

static int topo_add_holders(topo *t, const vm_pin_request *req)
{
        int r;

        for (size_t i = 0; i < req->n_holders; i++) {
                const vm_pin_holder *hd = &req->holders[i];

                for (char *const *p = hd->pin; p && *p; p++) {
                        uint64_t v;
                        core *c;

                        if (parse_uint(*p, 10, CPULIST_MAX - 1, &v) < 0 ||
                            !(c = core_of_cpu(t, (unsigned)v)))
                                continue;
                        if (strv_contains(c->holders, hd->name))
                                continue;
                        c->load += hd->autostart ? 2 : 1;
                        if ((r = strv_extend(&c->holders, hd->name)) < 0)
                                return r;
                }
        }
        return 0;
}

/* The order of preference between two free cores' classes: lower is better. */
typedef struct tier {
        unsigned load;
        bool off_node, slow;
} tier;

static tier tier_of(const core *c, int gpu_node)
{
        return (tier){ .load = c->load, .off_node = gpu_node >= 0 && c->node != gpu_node, .slow = c->slow };
}

static int tier_cmp(tier a, tier b)
{
        if (a.load != b.load)
                return a.load < b.load ? -1 : 1;
        if (a.off_node != b.off_node)
                return a.off_node ? 1 : -1;
        if (a.slow != b.slow)
                return a.slow ? 1 : -1;
        return 0;
}

/* Free CPUs of the cores of tier w in L3 domain l3. */
static size_t l3_capacity(const topo *t, const bool *used, int gpu_node, tier w, int l3)
{
        size_t cap = 0;

        for (size_t j = 0; j < t->n; j++)
                if (!used[j] && t->cores[j].l3 == l3 && tier_cmp(tier_of(&t->cores[j], gpu_node), w) == 0)
                        cap += t->cores[j].n;
        return cap;
}

static int push_cpu(char ***l, unsigned cpu)
{
        char buf[16];

        snprintf(buf, sizeof(buf), "%u", cpu);
        return strv_extend(l, buf);
}

/* Chooses cores for want CPUs: best tier first; in it one L3 domain that fits, else the largest domains. */
static int choose(topo *t, bool *used, int gpu_node, size_t want, char ***pin)
{
        int host_l3 = t->cores[t->host].l3;
        int r;

        while (want > 0) {
                tier w = {};
                bool have = false;
                int best_l3 = 0;
                size_t best_cap = 0;
                bool best_fits = false, best_away = false;

                for (size_t j = 0; j < t->n; j++)
                        if (!used[j] && (!have || tier_cmp(tier_of(&t->cores[j], gpu_node), w) < 0)) {
                                w = tier_of(&t->cores[j], gpu_node);
                                have = true;
                        }
                if (!have)
                        return -E2BIG;
                have = false;
                for (size_t j = 0; j < t->n; j++) {
                        const core *c = &t->cores[j];
                        size_t cap;
                        bool fits, away, better;

                        if (used[j] || tier_cmp(tier_of(c, gpu_node), w) != 0)
                                continue;
                        cap = l3_capacity(t, used, gpu_node, w, c->l3);
                        fits = cap >= want;
                        away = c->l3 != host_l3;
                        if (!have)
                                better = true;
                        else if (fits != best_fits)
                                better = fits;
                        else if (away != best_away)
                                better = away;
                        else if (fits) /* the smallest domain that fits: larger ones stay whole */
                                better = cap < best_cap;
                        else /* none fits: the largest domain first, whole */
                                better = cap > best_cap;
                        if (better) {
                                best_l3 = c->l3;
                                best_cap = cap;
                                best_fits = fits;
                                best_away = away;
                                have = true;
                        }
                }
                /* Non-host cores before the host's own (it is in a tier only when everything is held). */
                for (int pass = 0; pass < 2 && want > 0; pass++)
                        for (size_t j = 0; j < t->n && want > 0; j++) {
                                core *c = &t->cores[j];

                                if (used[j] || c->l3 != best_l3 || tier_cmp(tier_of(c, gpu_node), w) != 0 ||
                                    c->host != (pass == 1))
                                        continue;
                                used[j] = true;
                                for (size_t k = 0; k < c->n && want > 0; k++, want--) {
                                        if ((r = push_cpu(pin, c->cpus[k])) < 0)
                                                return r;
                                        c->taken++;
                                }
                        }
        }
        return 0;
}

/* "4-7,36-39": the CPUs of the cores matching (l3 >= 0: that L3 domain; else the given core). */
static char *cpus_text(const topo *t, int l3, const core *one)
{
        _cleanup_free_ bool *set = calloc(CPULIST_MAX, sizeof(bool));

        if (!set)
                return NULL;
        for (size_t j = 0; j < t->n; j++)
                if (one ? &t->cores[j] == one : t->cores[j].l3 == l3)
                        for (size_t k = 0; k < t->cores[j].n; k++)
                                set[t->cores[j].cpus[k]] = true;
        return cpulist_format(set, CPULIST_MAX, ',');
}

static char *list_text(char *const *pin)
{
        _cleanup_free_ bool *set = calloc(CPULIST_MAX, sizeof(bool));
        uint64_t v;

        if (!set)
                return NULL;
        for (char *const *p = pin; p && *p; p++)
                if (parse_uint(*p, 10, CPULIST_MAX - 1, &v) == 0)
                        set[v] = true;
        return cpulist_format(set, CPULIST_MAX, ',');
}

/* threads = 2 is true to the guest only when vCPUs 2k and 2k+1 are the two threads of one host core. */
static bool pairs_are_siblings(topo *t, char *const *pin)
{
        size_t n = strv_length((char **)pin);
        uint64_t a, b;

        if (n == 0 || n % 2)
                return false;
        for (size_t i = 0; i < n; i += 2) {
                if (parse_uint(pin[i], 10, CPULIST_MAX - 1, &a) < 0 ||
                    parse_uint(pin[i + 1], 10, CPULIST_MAX - 1, &b) < 0 || a == b)
                        return false;
                if (!core_of_cpu(t, (unsigned)a) ||
                    core_of_cpu(t, (unsigned)a) != core_of_cpu(t, (unsigned)b))
                        return false;
        }
        return true;
}

static int explain(topo *t, char *const *pin, unsigned threads, int gpu_node, const char *gpu, char ***why)
{
        int nodes[8], l3s[64];
        size_t n_nodes = 0, n_l3 = 0, n_slow = 0, n_single = 0;
        bool unknown = false;
        uint64_t v;
        int r;

        for (char *const *p = pin; p && *p; p++) {
                core *c;
                size_t k;

                if (parse_uint(*p, 10, CPULIST_MAX - 1, &v) < 0 || !(c = core_of_cpu(t, (unsigned)v))) {
                        unknown = true;
                        continue;
                }
                for (k = 0; k < n_nodes && nodes[k] != c->node; k++)
                        ;
                if (k == n_nodes && n_nodes < ELEMENTSOF(nodes))
                        nodes[n_nodes++] = c->node;
                for (k = 0; k < n_l3 && l3s[k] != c->l3; k++)
                        ;
                if (k == n_l3 && n_l3 < ELEMENTSOF(l3s))
                        l3s[n_l3++] = c->l3;
                n_slow += c->slow;
                n_single += c->n == 1;
        }
        if (unknown && (r = strv_extendf(why, "some pinned CPUs are not online on this host")) < 0)
                return r;
        /* NUMA: where the GPU's DMA and guest memory meet
         * (Documentation/admin-guide/mm/numa_memory_policy.rst). */
        if (t->n_nodes > 1 && n_nodes == 1 && gpu_node >= 0 && nodes[0] == gpu_node)
                r = strv_extendf(
                        why,
                        "NUMA: the vCPUs are on node %d, the node of GPU %s, so its DMA and the guest's memory stay on one node",
                        nodes[0], gpu ? gpu : "?");
        else if (t->n_nodes > 1 && n_nodes == 1 && gpu_node >= 0)
                r = strv_extendf(
                        why,
                        "NUMA: the vCPUs are on node %d but GPU %s is on node %d: its DMA crosses between the sockets",
                        nodes[0], gpu ? gpu : "?", gpu_node);
        else if (t->n_nodes > 1 && n_nodes == 1)
                r = strv_extendf(why, "NUMA: the vCPUs are all on node %d", nodes[0]);
        else if (t->n_nodes > 1)
                r = strv_extendf(
                        why,
                        "NUMA: the vCPUs span %zu nodes (too few free cores on one): guest memory is not bound to a node",
                        n_nodes);
        else
                r = strv_extendf(why, "NUMA: this host has one memory node: nothing to place");
        if (r < 0)
                return r;
        /* SMT: a guest told threads = 2 schedules as if vCPU pairs shared a core's caches and ports. */
        if (threads == 0 && pairs_are_siblings(t, pin))
                r = strv_extendf(
                        why, "SMT: each vCPU pair (0+1, 2+3, ...) runs on the two threads of one host core");
        else if (threads == 2)
                r = strv_extendf(
                        why,
                        "SMT: each vCPU pair (0+1, 2+3, ...) runs on the two threads of one host core, so the guest is told threads = 2");
        else if (!t->smt)
                r = strv_extendf(why,
                                 "SMT: this host has no SMT siblings; the guest sees one thread per core");
        else if (n_single > 0 && t->hybrid)
                r = strv_extendf(
                        why,
                        "SMT: not declared to the guest: %zu vCPUs run on E-cores, which have no SMT sibling, so no vCPU pair could be a real core's two threads",
                        n_single);
        else if (strv_length((char **)pin) % 2)
                r = strv_extendf(
                        why,
                        "SMT: not declared to the guest: an odd vCPU count leaves one core with a single vCPU");
        else
                r = strv_extendf(
                        why,
                        "SMT: not declared to the guest: the vCPU pairs do not run on sibling threads of one core");
        if (r < 0)
                return r;
        if (n_l3 == 1 && l3s[0] >= 0) {
                _cleanup_free_ char *dom = cpus_text(t, l3s[0], NULL);

                r = strv_extendf(why, "L3: all vCPUs share one L3 cache (the domain of CPUs %s)",
                                 dom ? dom : "?");
        } else if (n_l3 > 1)
                r = strv_extendf(why,
                                 "L3: the vCPUs span %zu L3 domains: no single domain had enough free cores",
                                 n_l3);
        if (r < 0)
                return r;
        if (t->hybrid && n_slow == 0)
                r = strv_extendf(
                        why,
                        "hybrid CPU: all vCPUs run on performance cores (up to %u MHz; E-cores reach %u MHz)",
                        t->fast_speed / 1000, t->slow_speed / 1000);
        else if (t->hybrid)
                r = strv_extendf(
                        why,
                        "hybrid CPU: %zu vCPUs run on E-cores (up to %u MHz): the performance cores (%u MHz) were not enough",
                        n_slow, t->slow_speed / 1000, t->fast_speed / 1000);
        return r;
}

int vm_explain_host_pinning(const vfio_host *h, char *const *pin, char *const *devices, char ***ret)
{
        _cleanup_free_ vm_host_cpu *cpus = NULL;
        const char *gpu = NULL;
        int gpu_node = -1;
        size_t n = 0;
        int r;

        assert(h);
        assert(ret);

        r = vm_host_cpus(h, &cpus, &n);
        if (r < 0)
                return r;
        /* The first display device passed (PCI class 03xxxx) is the GPU whose node counts. */
        for (char *const *d = devices; d && *d && !gpu; d++) {
                _cleanup_free_ char *class = NULL, *node = NULL;
                char path[128];
                int64_t v;

                snprintf(path, sizeof(path), "sys/bus/pci/devices/%s/class", *d);
                if (vfio_host_read_attr(h, path, 64, &class) < 0 || strncmp(class, "0x03", 4) != 0)
                        continue;
                gpu = *d;
                snprintf(path, sizeof(path), "sys/bus/pci/devices/%s/numa_node", *d);
                if (vfio_host_read_attr(h, path, 64, &node) == 0 && parse_int(node, -1, 4095, &v) == 0)
                        gpu_node = (int)v;
        }
        return vm_explain_pinning(cpus, n, pin, 0, gpu_node, gpu, ret);
}

int vm_explain_pinning(const vm_host_cpu *cpus, size_t n, char *const *pin, unsigned threads, int gpu_node,
                       const char *gpu, char ***ret)
{
        _cleanup_strv_free_ char **why = NULL;
        topo t;
        int r;

        assert(cpus);
        assert(ret);

        r = topo_build(cpus, n, &t);
        if (r < 0)
                return r;
        r = explain(&t, pin, threads, gpu_node, gpu, &why);
        topo_done(&t);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(why);
        return 0;
}

static int plan(topo *t, const vm_pin_request *req, vm_pin_plan *p)
{
        _cleanup_free_ bool *used = NULL;
        _cleanup_free_ char *hostcpus = NULL;
        core *hc = &t->cores[t->host];
        size_t avail = 0;
        int r;

        r = topo_add_holders(t, req);
        if (r < 0)
                return r;
        for (size_t j = 0; j < t->n; j++)
                if (j != t->host)
                        avail += t->cores[j].n;
        /* One VM never takes the host's core as well: it would leave the host nothing. */
        if (req->vcpus == 0 || req->vcpus > avail)
                return -E2BIG;
        used = calloc(t->n, sizeof(bool));
        if (!used)
                return -ENOMEM;
        r = choose(t, used, req->gpu_node, req->vcpus, &p->pin);
        if (r < 0)
                return r;
        for (size_t k = 0; k < hc->n; k++)
                if ((r = push_cpu(&p->emulator, hc->cpus[k])) < 0)
                        return r;
        p->threads = pairs_are_siblings(t, p->pin) ? 2 : 1;
        p->memory_node = -1;
        if (t->n_nodes > 1) {
                int node = -2;
                uint64_t v;

                STRV_FOREACH(c, p->pin) {
                        core *x = parse_uint(*c, 10, CPULIST_MAX - 1, &v) == 0 ? core_of_cpu(t, (unsigned)v)
                                                                               : NULL;

                        if (!x || x->node < 0 || (node != -2 && node != x->node)) {
                                node = -1;
                                break;
                        }
                        node = x->node;
                }
                p->memory_node = node >= 0 ? node : -1;
        }
        r = explain(t, p->pin, p->threads, req->gpu_node, req->gpu, &p->why);
        if (r < 0)
                return r;
        if (p->memory_node >= 0 &&
            (r = strv_extendf(
                     &p->why,
                     "memory: guest RAM bound to node %d ([memory] host_nodes: host-nodes=%d,policy=bind)",
                     p->memory_node, p->memory_node)) < 0)
                return r;
        hostcpus = cpus_text(t, -1, hc);
        r = strv_extendf(
                &p->why,
                t->hybrid
                        ? "host: keeps E-core CPU %s for itself and QEMU's other threads (emulator_pin), leaving the performance cores to guests"
                        : "host: keeps the core of CPUs %s for itself and QEMU's other threads (emulator_pin)",
                hostcpus ? hostcpus : "?");
        if (r < 0)
                return r;
        /* Whom this plan shares with, and whom it kept clear of. */
        for (size_t j = 0; j < t->n; j++) {
                core *c = &t->cores[j];

                if (!c->taken)
                        continue;
                STRV_FOREACH(name, c->holders)
                        if (!strv_contains(p->shared_with, *name) &&
                            (r = strv_extend(&p->shared_with, *name)) < 0)
                                return r;
        }
        STRV_FOREACH(name, p->shared_with) {
                _cleanup_free_ bool *set = calloc(CPULIST_MAX, sizeof(bool));
                _cleanup_free_ char *l = NULL;

                if (!set)
                        return -ENOMEM;
                for (size_t j = 0; j < t->n; j++)
                        if (t->cores[j].taken && strv_contains(t->cores[j].holders, *name))
                                for (size_t k = 0; k < t->cores[j].taken; k++)
                                        set[t->cores[j].cpus[k]] = true;
                l = cpulist_format(set, CPULIST_MAX, ',');
                if ((r = strv_extendf(&p->why, "shares host CPUs %s with VM '%s': no free core was left",
                                      l ? l : "?", *name)) < 0)
                        return r;
        }
        for (size_t i = 0; i < req->n_holders; i++) {
                _cleanup_free_ char *l = NULL;

                if (strv_contains(p->shared_with, req->holders[i].name) || !req->holders[i].pin)
                        continue;
                l = list_text(req->holders[i].pin);
                if ((r = strv_extendf(&p->why, "keeps clear of CPUs %s, pinned by VM '%s'%s", l ? l : "?",
                                      req->holders[i].name,
                                      req->holders[i].autostart ? " (autostarted)" : "")) < 0)
                        return r;
        }
        return 0;
}

int vm_plan_pinning(const vm_host_cpu *cpus, size_t n, const vm_pin_request *req, vm_pin_plan **ret)
{
        _cleanup_(vm_pin_plan_freep) vm_pin_plan *p = NULL;
        topo t;
        int r;

        assert(cpus);
        assert(req);
        assert(ret);

        if (n == 0)
                return -E2BIG;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        r = topo_build(cpus, n, &t);
        if (r < 0)
                return r;
        r = plan(&t, req, p);
        topo_done(&t);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

vm_others *vm_others_free(vm_others *o)
{
        if (!o)
                return NULL;
        for (size_t i = 0; i < o->n; i++)
                vm_config_free(o->configs[i]);
        free(o->configs);
        free(o->holders);
        free(o);
        return NULL;
}

static int others_add(vm_others *o, const vfio_host *h, const char *path, const char *name)
{
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ char *link = NULL, *target = NULL;
        vm_config *c = NULL, **cs;
        vm_pin_holder *hs;

        if (vm_config_load(path, &c, &errors) < 0 || !c)
                return 0;
        cs = realloc(o->configs, (o->n + 1) * sizeof(*cs));
        if (!cs) {
                vm_config_free(c);
                return -ENOMEM;
        }
        o->configs = cs;
        hs = realloc(o->holders, (o->n + 1) * sizeof(*hs));
        if (!hs) {
                vm_config_free(c);
                return -ENOMEM;
        }
        o->holders = hs;
        /* `vfioctl enable` makes this link (lib/setup/autostart.c); it may dangle below a --root tree. */
        if (asprintf(&link, "etc/systemd/system/multi-user.target.wants/vfioctl@%s.service", name) < 0) {
                vm_config_free(c);
                return -ENOMEM;
        }
        o->configs[o->n] = c;
        o->holders[o->n] = (vm_pin_holder){ .name = c->name,
                                            .pin = c->cpu.pin,
                                            .autostart = vfio_host_read_link(h, link, &target) >= 0 };
        o->n++;
        return 0;
}

static bool conf_name(const char *entry, char *buf, size_t size)
{
        size_t l = strlen(entry);

        if (l <= 5 || l - 5 >= size || strcmp(entry + l - 5, ".conf") != 0)
                return false;
        memcpy(buf, entry, l - 5);
        buf[l - 5] = 0;
        return vm_name_valid(buf);
}

int vm_others_load(const vfio_host *h, const char *except, vm_others **ret)
{
        _cleanup_(vm_others_freep) vm_others *o = calloc(1, sizeof(vm_others));
        _cleanup_(vfio_host_freep) vfio_host *user = NULL;
        _cleanup_strv_free_ char **mine = NULL, **system = NULL;
        _cleanup_free_ char *dir = NULL;
        char name[80], path[4096];
        int r;

        assert(h);
        assert(ret);

        if (!o)
                return -ENOMEM;
        if (vm_user_config_dir(&dir) == 0 && vfio_host_open(dir, &user) == 0)
                (void)vfio_host_list_dir(user, ".", 65536, &mine);
        STRV_FOREACH(e, mine) {
                if (!conf_name(*e, name, sizeof(name)) || (except && strcmp(name, except) == 0))
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, *e);
                if ((r = others_add(o, h, path, name)) < 0)
                        return r;
        }
        (void)vfio_host_list_dir(h, VFIOCTL_SYSTEM_VMS_DIR + 1, 65536, &system);
        STRV_FOREACH(e, system) {
                if (!conf_name(*e, name, sizeof(name)) || (except && strcmp(name, except) == 0) ||
                    strv_contains(mine, *e))
                        continue;
                snprintf(path, sizeof(path), "%s%s/%s", vfio_host_is_live(h) ? "" : vfio_host_root(h),
                         VFIOCTL_SYSTEM_VMS_DIR, *e);
                if ((r = others_add(o, h, path, name)) < 0)
                        return r;
        }
        *ret = TAKE_PTR(o);
        return 0;
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
