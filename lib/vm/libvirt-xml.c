/*
 * libvirt domain XML import into the VM model. Element and attribute meanings follow libvirt's
 * "Domain XML format" (formatdomain.rst) and its schema (docs/schemas/domaincommon.rng, libvirt 9.0).
 * Every element and attribute read is marked in the node's _private field; whatever stays unmarked is
 * reported with its line, so nothing is lost silently.
 */
#include "vfioctl/libvirt-xml.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "fileio.h"
#include "log.h"
#include "parse-util.h"
#include "strv.h"
#include "vfioctl/firmware.h"
#include "vfioctl/pci.h"
#include "vfioctl/qemu-argv.h"
#include "xmllib.h"

#define QEMU_NS "http://libvirt.org/schemas/domain/qemu/1.0"
/* Marks in _private: read and mapped, or already reported (so a subtree is listed once). */
#define USED ((void *)1)

static void items_free(vm_libvirt_item *items, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(items[i].what);
                free(items[i].reason);
        }
        free(items);
}

vm_libvirt_import *vm_libvirt_import_free(vm_libvirt_import *imp)
{
        if (!imp)
                return NULL;
        vm_config_free(imp->config);
        items_free(imp->dropped, imp->n_dropped);
        items_free(imp->ignored, imp->n_ignored);
        free(imp);
        return NULL;
}

/* A passed-through PCI function, gathered first and grouped by slot afterwards. */
typedef struct hostdev {
        vfio_pci_addr addr;
        unsigned line;
        char *alias;
        char *romfile;
        bool rombar_off;
        bool x_vga;         /* x-vga=on (from a qemu:arg vfio-pci) */
        unsigned bootindex; /* <boot order> */
} hostdev;

typedef struct state {
        const char *filename;
        unsigned flags;
        vm_config *c;
        vm_libvirt_import *imp;
        char *error;
        int r; /* first failure: -ENOMEM or -EINVAL (with error set) */
        hostdev *hds;
        size_t n_hds;
        char **hv;           /* enlightenments the domain turns on (hv-relaxed, hv-time), QEMU spelling */
        bool smbios_sysinfo; /* <os><smbios mode='sysinfo'> */
        bool scsi_iothread;  /* <controller type='scsi'><driver iothread=...> */
        xmlNode *sysinfo;    /* applied after <os> is read */
        char **boot_order;   /* <os><boot dev=...> in order */
        bool any_boot_order; /* some device has <boot order=...> */
        xmlNode *vcpu_node;  /* <vcpu>, for messages */
        bool *online;        /* per libvirt vCPU id: started by libvirt */
        unsigned max_vcpus, n_online;
        xmlNode *memory_node; /* for messages */
        xmlNode *graphics;    /* the <graphics> that set [display] protocol, for messages */
} state;

static void fail(state *st, unsigned line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(state *st, unsigned line, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        if (st->r < 0)
                return;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (!msg || asprintf(&st->error, "%s:%u: %s", st->filename, line, msg) < 0) {
                st->error = NULL;
                st->r = -ENOMEM;
                return;
        }
        st->r = -EINVAL;
}

static void oom(state *st)
{
        if (st->r >= 0)
                st->r = -ENOMEM;
}

static unsigned line_of(xmlNode *n)
{
        long l = n ? xmlGetLineNo(n) : 0;

        return l > 0 ? (unsigned)l : 0;
}

/* Marks n and everything inside it (not its siblings). */
static void mark_tree(xmlNode *n)
{
        if (!n)
                return;
        n->_private = USED;
        if (n->type != XML_ELEMENT_NODE)
                return;
        for (xmlAttr *a = n->properties; a; a = a->next)
                a->_private = USED;
        for (xmlNode *ch = n->children; ch; ch = ch->next)
                mark_tree(ch);
}

static bool is_elem(xmlNode *n, const char *name)
{
        return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static const char *qname(xmlNode *n)
{
        return (const char *)n->name;
}

/* "<tag a='v' b='w'>" (with the text of a leaf element), for messages. */
static char *describe(xmlNode *n)
{
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        bool leaf = true;

        if (!f)
                return NULL;
        fprintf(f, "<%s%s%s", n->ns && n->ns->prefix ? (const char *)n->ns->prefix : "",
                n->ns && n->ns->prefix ? ":" : "", qname(n));
        for (xmlAttr *a = n->properties; a; a = a->next) {
                xmlChar *v = xmlNodeGetContent((xmlNode *)a);

                fprintf(f, " %s='%s'", (const char *)a->name, v ? (const char *)v : "");
                xmlFree(v);
        }
        for (xmlNode *ch = n->children; ch; ch = ch->next)
                if (ch->type == XML_ELEMENT_NODE)
                        leaf = false;
        if (leaf && n->children) {
                xmlChar *v = xmlNodeGetContent(n);
                const char *s = v ? (const char *)v : "";

                s += strspn(s, " \t\r\n");
                fprintf(f, ">%.80s</%s>", s, qname(n));
                xmlFree(v);
        } else
                fprintf(f, "%s>", leaf ? "/" : "");
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(buf);
}

static void add_item(state *st, bool dropped, unsigned line, char *what, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static void add_item(state *st, bool dropped, unsigned line, char *what, const char *fmt, ...)
{
        vm_libvirt_item **items = dropped ? &st->imp->dropped : &st->imp->ignored;
        size_t *n = dropped ? &st->imp->n_dropped : &st->imp->n_ignored;
        vm_libvirt_item *t;
        char *reason = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&reason, fmt, ap);
        va_end(ap);
        t = r < 0 || !what ? NULL : realloc(*items, (*n + 1) * sizeof(**items));
        if (!t) {
                if (r >= 0)
                        free(reason);
                free(what);
                oom(st);
                return;
        }
        *items = t;
        t[*n] = (vm_libvirt_item){ .line = line, .what = what, .reason = reason };
        (*n)++;
}

/*
 * The XML line a config key came from, kept in the config's own key lines (vm_config_key_line), so that
 * vm_config_check and the value checks report the XML's line.
 */
static void key_line(state *st, const char *section, const char *key, unsigned line)
{
        vm_config *c = st->c;
        vm_key_line *t;

        if (!line || vm_config_key_line(c, section, key))
                return;
        t = realloc(c->lines, (c->n_lines + 1) * sizeof(*t));
        if (!t) {
                oom(st);
                return;
        }
        c->lines = t;
        t[c->n_lines] = (vm_key_line){ .section = strdup(section), .key = strdup(key), .line = line };
        if (!t[c->n_lines].section || !t[c->n_lines].key) {
                free(t[c->n_lines].section);
                free(t[c->n_lines].key);
                oom(st);
                return;
        }
        c->n_lines++;
}

/* The element and everything in it did not become config. */
static void drop(state *st, xmlNode *n, const char *why)
{
        add_item(st, true, line_of(n), describe(n), "%s", why);
        mark_tree(n);
}

static void ignore(state *st, xmlNode *n, const char *why)
{
        add_item(st, false, line_of(n), describe(n), "%s", why);
        mark_tree(n);
}

/* Mapped, with a remark the user should read (an approximation). */
static void note(state *st, xmlNode *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(state *st, xmlNode *n, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (!msg) {
                oom(st);
                return;
        }
        add_item(st, false, line_of(n), describe(n), "%s", msg);
        if (st->imp->n_ignored && st->r >= 0)
                st->imp->ignored[st->imp->n_ignored - 1].approximate = true;
}

static void drop_attr(state *st, xmlNode *n, const char *attr, const char *why)
{
        for (xmlAttr *a = n->properties; a; a = a->next)
                if (strcmp((const char *)a->name, attr) == 0 && a->_private != USED) {
                        xmlChar *v = xmlNodeGetContent((xmlNode *)a);
                        char *what = NULL;

                        if (asprintf(&what, "%s='%s' on <%s>", attr, v ? (const char *)v : "", qname(n)) < 0)
                                what = NULL;
                        xmlFree(v);
                        a->_private = USED;
                        add_item(st, true, line_of(n), what, "%s", why);
                }
}

static xmlNode *use(xmlNode *n)
{
        if (n)
                n->_private = USED;
        return n;
}

/* The first child element with that name (no namespace), marked as read. */
static xmlNode *child(xmlNode *n, const char *name)
{
        if (!n)
                return NULL;
        for (xmlNode *ch = n->children; ch; ch = ch->next)
                if (is_elem(ch, name) && !ch->ns)
                        return use(ch);
        return NULL;
}

/* An attribute's value (owned by the document), marked as read; NULL when absent. */
static const char *attr(xmlNode *n, const char *name)
{
        if (!n)
                return NULL;
        for (xmlAttr *a = n->properties; a; a = a->next)
                if (strcmp((const char *)a->name, name) == 0 && !a->ns) {
                        a->_private = USED;
                        if (a->children && a->children->type == XML_TEXT_NODE && !a->children->next)
                                return (const char *)a->children->content;
                        return "";
                }
        return NULL;
}

/* An attribute read but deliberately not mapped: listed among the ignored parts (--verbose). */
static void ignore_attr(state *st, xmlNode *n, const char *name, const char *why)
{
        const char *v = attr(n, name);
        char *what = NULL;

        if (!v)
                return;
        if (asprintf(&what, "%s='%s' on <%s>", name, v, qname(n)) < 0)
                what = NULL;
        add_item(st, false, line_of(n), what, "%s", why);
}

static bool attr_is(xmlNode *n, const char *name, const char *value)
{
        const char *v = attr(n, name);

        return v && strcmp(v, value) == 0;
}

/* An element's text, whitespace-trimmed (malloc'd); "" for an empty element. */
static char *text(xmlNode *n)
{
        xmlChar *v = xmlNodeGetContent(n);
        const char *s = v ? (const char *)v : "";
        size_t len;
        char *out;

        use(n);
        s += strspn(s, " \t\r\n");
        len = strlen(s);
        while (len && strchr(" \t\r\n", s[len - 1]))
                len--;
        out = strndup(s, len);
        xmlFree(v);
        return out;
}

static void set_str(state *st, char **dst, const char *v)
{
        char *s = strdup(v);

        if (!s) {
                oom(st);
                return;
        }
        free(*dst);
        *dst = s;
}

/*
 * libvirt "scaled integer" units (formatdomain.rst, "Memory Allocation"; virScaleInteger): b/bytes, then
 * k, M, G, T, P, E alone or with "iB" for powers of 1024, with "B" for powers of 1000; case-insensitive.
 */
static int scaled(const char *value, const char *unit, uint64_t default_mult, uint64_t *ret)
{
        uint64_t mult = default_mult, v;

        if (unit && *unit) {
                static const char prefixes[] = "kmgtpe";
                const char *q;
                uint64_t base;

                if (!strcasecmp(unit, "b") || !strcasecmp(unit, "byte") || !strcasecmp(unit, "bytes"))
                        mult = 1;
                else {
                        q = strchr(prefixes, tolower((unsigned char)unit[0]));
                        if (!q || !unit[0])
                                return -EINVAL;
                        if (!unit[1] || !strcasecmp(unit + 1, "iB"))
                                base = 1024;
                        else if (tolower((unsigned char)unit[1]) == 'b' && !unit[2])
                                base = 1000;
                        else
                                return -EINVAL;
                        mult = 1;
                        for (const char *p = prefixes; p <= q; p++)
                                mult *= base; /* at most 1024^6 = 2^60 */
                }
        }
        if (parse_uint(value, 10, UINT64_MAX, &v) < 0 || (v && mult > UINT64_MAX / v))
                return -EINVAL;
        *ret = v * mult;
        return 0;
}

static bool scaled_elem(state *st, xmlNode *n, uint64_t default_mult, uint64_t *ret)
{
        _cleanup_free_ char *v = text(n);
        const char *unit = attr(n, "unit");

        if (!v) {
                oom(st);
                return false;
        }
        if (scaled(v, unit, default_mult, ret) < 0) {
                fail(st, line_of(n),
                     "<%s unit='%s'>%s</%s>: not a size; expected a number with unit b, KiB, MiB, GiB, KB, MB or GB",
                     qname(n), unit ? unit : "KiB", v, qname(n));
                return false;
        }
        return true;
}

/* A cpuset ("0-3,8,^2", formatdomain.rst "CPU Allocation") into CPU numbers. */
static int parse_cpuset(const char *s, char ***ret)
{
        bool set[8192] = {};
        _cleanup_strv_free_ char **parts = NULL, **out = NULL;
        int r;

        r = strv_split(s, ",", &parts);
        if (r < 0)
                return r;
        if (!parts)
                return -EINVAL;
        for (int pass = 0; pass < 2; pass++)
                STRV_FOREACH(p, parts) {
                        const char *q = *p + strspn(*p, " ");
                        bool neg = q[0] == '^';
                        _cleanup_free_ char *a = NULL;
                        uint64_t lo, hi;
                        char *dash;

                        if (neg != (pass == 1))
                                continue;
                        a = strdup(q + neg);
                        if (!a)
                                return -ENOMEM;
                        dash = strchr(a, '-');
                        if (dash)
                                *dash = 0;
                        if (parse_uint(a, 10, 8191, &lo) < 0)
                                return -EINVAL;
                        hi = lo;
                        if (dash && (parse_uint(dash + 1, 10, 8191, &hi) < 0 || hi < lo))
                                return -EINVAL;
                        for (uint64_t i = lo; i <= hi; i++)
                                set[i] = !neg;
                }
        for (unsigned i = 0; i < ELEMENTSOF(set); i++)
                if (set[i]) {
                        char buf[16];

                        snprintf(buf, sizeof(buf), "%u", i);
                        if ((r = strv_extend(&out, buf)) < 0)
                                return r;
                }
        if (!out)
                return -EINVAL;
        *ret = TAKE_PTR(out);
        return 0;
}

/* Section names in the config: letters, digits, '-', '_' (from target dev names, aliases). */
static char *section_name(const char *s, const char *fallback, unsigned idx)
{
        char *out;

        if (s && strncmp(s, "ua-", 3) == 0)
                s += 3;
        if (!s || !*s) {
                if (asprintf(&out, "%s%u", fallback, idx) < 0)
                        return NULL;
                return out;
        }
        out = strndup(s, 48);
        if (!out)
                return NULL;
        for (char *p = out; *p; p++)
                if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') ||
                      *p == '-' || *p == '_'))
                        *p = '-';
        return out;
}

/* A user alias (libvirt "ua-" prefix, formatdomain.rst "Devices", alias) or NULL. */
static const char *user_alias(xmlNode *dev)
{
        xmlNode *a = child(dev, "alias");
        const char *name = attr(a, "name");

        if (a)
                mark_tree(a); /* libvirt's own aliases (hostdev0) are housekeeping */
        return name && strncmp(name, "ua-", 3) == 0 ? name : NULL;
}

/* Appends an item to one of the config's arrays; every item struct starts with char *name. */
static void *push(state *st, void **array, size_t *n, size_t size, const char *name, unsigned line)
{
        char *t;
        char **pname;

        if (*n >= VM_CONFIG_MAX_ITEMS) {
                fail(st, line, "more than %d devices of one kind; vfioctl configs hold at most %d",
                     VM_CONFIG_MAX_ITEMS, VM_CONFIG_MAX_ITEMS);
                return NULL;
        }
        /* Names must be unique within a kind: a second "vda" becomes "vda-2". */
        for (size_t i = 0; i < *n; i++)
                if (strcmp(*(char **)((char *)*array + i * size), name) == 0) {
                        char buf[64];

                        snprintf(buf, sizeof(buf), "%.48s-%zu", name, *n + 1);
                        return push(st, array, n, size, buf, line);
                }
        t = realloc(*array, (*n + 1) * size);
        if (!t) {
                oom(st);
                return NULL;
        }
        *array = t;
        t += *n * size;
        memset(t, 0, size);
        pname = (char **)t;
        *pname = strdup(name);
        if (!*pname) {
                oom(st);
                return NULL;
        }
        (*n)++;
        return t;
}

#define PUSH(st, arr, name, line)                                                         \
        ((__typeof__(*(st)->c->arr) *)push(st, (void **)&(st)->c->arr, &(st)->c->n_##arr, \
                                           sizeof(*(st)->c->arr), name, line))

/* ---- <memory>, <vcpu>, <cputune>, <memoryBacking> ---------------------------------------------- */

static void map_memory(state *st, xmlNode *dom)
{
        xmlNode *m = child(dom, "memory"), *cur = child(dom, "currentMemory"), *mb, *n;
        uint64_t size = 0, current = 0;

        if (!m) {
                fail(st, line_of(dom), "<domain> has no <memory>; libvirt requires it");
                return;
        }
        if (!scaled_elem(st, m, 1024, &size))
                return;
        drop_attr(st, m, "dumpCore", "vfioctl does not set dump-guest-core");
        if (size < (64ULL << 20) || size > (1ULL << 42)) {
                fail(st, line_of(m), "<memory>: %" PRIu64 " bytes is outside 64M to 4T", size);
                return;
        }
        key_line(st, "memory", "size", line_of(m));
        /* Whole MiB, rounded up as libvirt does (qemuDomainAlignMemorySizes). */
        st->c->memory.size = (size + (1ULL << 20) - 1) & ~((1ULL << 20) - 1);
        if (cur && scaled_elem(st, cur, 1024, &current) && current != size)
                note(st, cur,
                     "balloon target differs from <memory>: vfioctl gives the guest all of <memory> (no balloon: memory pinned for VFIO cannot be ballooned)");
        if ((n = child(dom, "maxMemory")))
                drop(st, n, "memory hotplug is not supported by vfioctl");
        mb = child(dom, "memoryBacking");
        if (mb) {
                xmlNode *hp = child(mb, "hugepages");

                if (hp) {
                        xmlNode *page = child(hp, "page");
                        uint64_t psize = 2ULL << 20;

                        st->c->memory.hugepages = VM_HUGEPAGES_2M;
                        if (page) {
                                const char *v = attr(page, "size"), *unit = attr(page, "unit");

                                if (!v || scaled(v, unit, 1024, &psize) < 0) {
                                        fail(st, line_of(page),
                                             "<page size='%s' unit='%s'>: not a page size (2048 KiB or 1 GiB)",
                                             v ? v : "", unit ? unit : "KiB");
                                        return;
                                }
                                drop_attr(st, page, "nodeset", "per-NUMA-node hugepages are not supported");
                                if (page->next)
                                        for (xmlNode *p2 = page->next; p2; p2 = p2->next)
                                                if (is_elem(p2, "page"))
                                                        drop(st, p2, "only the first <page> size is used");
                        }
                        if (psize == 1ULL << 30)
                                st->c->memory.hugepages = VM_HUGEPAGES_1G;
                        else if (psize != 2ULL << 20) {
                                fail(st, line_of(page),
                                     "<page>: %" PRIu64 " KiB pages; vfioctl uses 2M or 1G", psize >> 10);
                                return;
                        }
                        /* Guest RAM must fill whole hugepages (hugetlbfs rounds up otherwise). */
                        {
                                uint64_t ps =
                                        st->c->memory.hugepages == VM_HUGEPAGES_1G ? 1ULL << 30 : 2ULL << 20;

                                if (st->c->memory.size % ps) {
                                        st->c->memory.size -= st->c->memory.size % ps;
                                        note(st, m, "rounded down to whole hugepages");
                                }
                        }
                }
                if ((n = child(mb, "locked")))
                        st->c->memory.locked = true;
                if ((n = child(mb, "allocation"))) {
                        const char *threads = attr(n, "threads");
                        uint64_t t;

                        if (attr_is(n, "mode", "immediate"))
                                st->c->memory.prealloc = true;
                        if (threads && parse_uint(threads, 10, 256, &t) == 0 && t > 0)
                                st->c->memory.prealloc_threads = (unsigned)t;
                        else if (threads)
                                drop_attr(st, n, "threads", "not a thread count from 1 to 256");
                }
                /* virtiofs needs shared memory; [share] type = virtiofs says how to set it up. */
                if ((n = child(mb, "access")) && attr_is(n, "mode", "shared"))
                        ignore(st, n,
                               "shared memory is what virtiofs needs; vfioctl's [share] notes cover it");
                if ((n = child(mb, "source")))
                        ignore(st, n, "the memory backend type follows from [memory] hugepages");
        }
}

/* The vCPUs libvirt starts: those <vcpus> enables, else the first <vcpu current> (formatdomain.rst, "CPU
 * Allocation"; libvirt 9 counts current from the enabled ones when <vcpus> is there). */
static void map_online_vcpus(state *st, xmlNode *v, xmlNode *vcpus, uint64_t max)
{
        const char *cur_s = attr(v, "current");
        uint64_t cur = max;

        st->online = calloc(max, sizeof(bool));
        if (!st->online) {
                oom(st);
                return;
        }
        st->max_vcpus = (unsigned)max;
        if (cur_s && (parse_uint(cur_s, 10, max, &cur) < 0 || cur == 0)) {
                fail(st, line_of(v), "<vcpu current='%s'>: not a vCPU count from 1 to %" PRIu64, cur_s, max);
                return;
        }
        if (!vcpus) {
                for (uint64_t i = 0; i < cur; i++)
                        st->online[i] = true;
                st->n_online = (unsigned)cur;
                return;
        }
        for (xmlNode *n = vcpus->children; n; n = n->next) {
                const char *id = attr(n, "id"), *enabled = attr(n, "enabled");
                uint64_t i;

                if (!is_elem(n, "vcpu"))
                        continue;
                use(n);
                attr(n, "hotpluggable");
                attr(n, "order"); /* the order libvirt hot-plugs them in: the guest sees the same set */
                if (!id || parse_uint(id, 10, max - 1, &i) < 0) {
                        fail(st, line_of(n),
                             "<vcpu id='%s'>: not a vCPU of <vcpu>%" PRIu64 "</vcpu> (0 to %" PRIu64 ")",
                             id ? id : "", max, max - 1);
                        return;
                }
                if (enabled && strcmp(enabled, "yes") && strcmp(enabled, "no")) {
                        fail(st, line_of(n), "<vcpu enabled='%s'>: yes or no", enabled);
                        return;
                }
                if (enabled && !strcmp(enabled, "yes") && !st->online[i]) {
                        st->online[i] = true;
                        st->n_online++;
                }
        }
        if (!st->n_online) {
                fail(st, line_of(vcpus),
                     "<vcpus> enables no vCPU; libvirt starts the ones with enabled='yes'");
                return;
        }
        if (cur_s && cur != st->n_online)
                note(st, v, "<vcpus> enables %u vCPUs: libvirt starts those, whatever current says",
                     st->n_online);
}

static void map_topology(state *st, xmlNode *v, xmlNode *topo, uint64_t count)
{
        const char *names[] = { "sockets", "cores", "threads" };
        unsigned *dst[] = { &st->c->cpu.sockets, &st->c->cpu.cores, &st->c->cpu.threads };
        const uint64_t max[] = { 16, 256, 2 };
        uint64_t prod = 1;

        if (!topo) {
                /* libvirt gives each vCPU a socket of its own when there is no <topology>; so does vfioctl.
                 */
                if (count > 16) {
                        st->c->cpu.sockets = 1;
                        st->c->cpu.cores = (unsigned)count;
                        add_item(st, true, line_of(v), describe(v),
                                 "no <topology>: libvirt makes %" PRIu64
                                 " sockets, vfioctl at most 16; the vCPUs became cores of one socket",
                                 count);
                } else {
                        st->c->cpu.sockets = (unsigned)count;
                        st->c->cpu.cores = 1;
                        if (count > 2)
                                note(st, v,
                                     "no <topology>: %" PRIu64
                                     " sockets of one core, as libvirt makes them; Windows desktop editions use at most 2 sockets, so vfioctl recommends [cpu] sockets = 1, cores = %" PRIu64,
                                     count, count);
                }
                st->c->cpu.threads = 1;
                return;
        }
        for (size_t i = 0; i < 3; i++) {
                const char *s = attr(topo, names[i]);
                uint64_t u;

                if (!s)
                        continue;
                if (parse_uint(s, 10, max[i], &u) < 0 || u == 0) {
                        fail(st, line_of(topo), "<topology %s='%s'>: vfioctl takes 1 to %" PRIu64, names[i],
                             s, max[i]);
                        return;
                }
                *dst[i] = (unsigned)u;
                prod *= u;
        }
        for (size_t i = 0; i < 2; i++) {
                const char *extra = attr(topo, i == 0 ? "dies" : "clusters");

                if (extra && strcmp(extra, "1") != 0)
                        drop_attr(st, topo, i == 0 ? "dies" : "clusters",
                                  "multi-die/cluster topologies are not supported");
        }
        if (prod != count)
                fail(st, line_of(topo),
                     "<topology> makes %" PRIu64 " vCPUs but <vcpu> is %" PRIu64
                     "; libvirt refuses this too: make sockets x dies x cores x threads equal <vcpu>",
                     prod, count);
}

static void map_vcpus(state *st, xmlNode *dom)
{
        xmlNode *v = child(dom, "vcpu"), *cpu = child(dom, "cpu"), *topo = child(cpu, "topology");
        _cleanup_free_ char *count_s = NULL;
        uint64_t count = 1;

        if (v) {
                count_s = text(v);
                if (!count_s) {
                        oom(st);
                        return;
                }
                if (parse_uint(count_s, 10, 4096, &count) < 0 || count == 0) {
                        fail(st, line_of(v), "<vcpu>%s</vcpu>: not a vCPU count", count_s);
                        return;
                }
                attr(v, "placement");
                st->vcpu_node = v;
        }
        map_online_vcpus(st, v ?: dom, child(dom, "vcpus"), count);
        if (st->r < 0)
                return;
        map_topology(st, v ?: dom, topo, count);
        if (st->r < 0 || st->n_online == count)
                return;
        st->c->cpu.vcpus = st->n_online;
        key_line(st, "cpu", "vcpus", line_of(v));
        for (unsigned i = 0; i < st->n_online; i++)
                if (!st->online[i]) {
                        note(st, v,
                             "libvirt starts %u vCPUs but not in the first places of the topology; vfioctl starts the first %u places (same count, same pins in vCPU order)",
                             st->n_online, st->n_online);
                        break;
                }
}

/* One <vcpupin>: the host CPU of a vCPU libvirt starts, or a reason to refuse. */
static void map_vcpupin(state *st, xmlNode *n, char **pin)
{
        const char *vcpu = attr(n, "vcpu"), *cpuset = attr(n, "cpuset");
        _cleanup_strv_free_ char **cpus = NULL;
        uint64_t i;
        int r;

        if (!vcpu || parse_uint(vcpu, 10, st->max_vcpus - 1, &i) < 0) {
                fail(st, line_of(n), "<vcpupin vcpu='%s'>: this VM has vCPUs 0 to %u", vcpu ? vcpu : "",
                     st->max_vcpus - 1);
                return;
        }
        if (!st->online[i]) {
                ignore(st, n, "a vCPU libvirt does not start (<vcpus> enabled='no' or beyond current)");
                return;
        }
        r = cpuset ? parse_cpuset(cpuset, &cpus) : -EINVAL;
        if (r == -ENOMEM) {
                oom(st);
                return;
        }
        if (r < 0 || cpus[1]) {
                fail(st, line_of(n),
                     "<vcpupin vcpu='%s' cpuset='%s'>: vfioctl pins each vCPU to one host CPU ([cpu] pin); pick one CPU of the set",
                     vcpu, cpuset ? cpuset : "");
                return;
        }
        free(pin[i]);
        pin[i] = TAKE_PTR(cpus[0]);
}

static void map_cputune_into(state *st, xmlNode *ct, char **pin)
{
        unsigned k = 0;
        bool any = false;

        for (xmlNode *n = ct->children; n && st->r >= 0; n = n->next) {
                if (n->type != XML_ELEMENT_NODE)
                        continue;
                use(n);
                if (is_elem(n, "vcpupin"))
                        map_vcpupin(st, n, pin);
                else if (is_elem(n, "emulatorpin")) {
                        const char *cpuset = attr(n, "cpuset");
                        char **cpus = NULL;
                        int r = cpuset ? parse_cpuset(cpuset, &cpus) : -EINVAL;

                        if (r == -ENOMEM) {
                                oom(st);
                                return;
                        }
                        if (r < 0) {
                                fail(st, line_of(n), "<emulatorpin cpuset='%s'>: not a cpuset (0-3,8)",
                                     cpuset ? cpuset : "");
                                return;
                        }
                        strv_free(st->c->cpu.emulator_pin);
                        st->c->cpu.emulator_pin = cpus;
                } else if (is_elem(n, "iothreadpin"))
                        drop(st, n, "vfioctl does not pin I/O threads (they follow [cpu] emulator_pin)");
                else if (is_elem(n, "vcpusched") || is_elem(n, "iothreadsched") ||
                         is_elem(n, "emulatorsched"))
                        drop(st, n, "real-time scheduling is not set by vfioctl (use chrt on the host)");
                else
                        drop(st, n, "CPU bandwidth tuning is not supported by vfioctl");
        }
        if (st->r < 0)
                return;
        for (unsigned i = 0; i < st->max_vcpus; i++)
                any = any || (st->online[i] && pin[i]);
        if (!any)
                return;
        /* libvirt lets an unpinned vCPU float; vfioctl pins every vCPU or none: refuse rather than unpin. */
        for (unsigned i = 0; i < st->max_vcpus; i++)
                if (st->online[i] && !pin[i]) {
                        fail(st, line_of(ct),
                             "<cputune> pins some vCPUs but not vCPU %u, which libvirt starts; vfioctl pins every vCPU or none: add <vcpupin vcpu='%u' cpuset='N'/> or remove the others",
                             i, i);
                        return;
                }
        strv_free(st->c->cpu.pin);
        st->c->cpu.pin = calloc(st->n_online + 1, sizeof(char *));
        if (!st->c->cpu.pin) {
                oom(st);
                return;
        }
        /* vfioctl's vCPU k is libvirt's k-th started vCPU. */
        for (unsigned i = 0; i < st->max_vcpus; i++)
                if (st->online[i])
                        st->c->cpu.pin[k++] = TAKE_PTR(pin[i]);
        key_line(st, "cpu", "pin", line_of(ct));
}

static void map_cputune(state *st, xmlNode *dom)
{
        xmlNode *ct = child(dom, "cputune"), *v = st->vcpu_node;
        const char *cpuset = attr(v, "cpuset");
        char **pin;

        if (st->r < 0)
                return;
        if (ct) {
                /* One slot per vCPU; pins may arrive in any order and leave holes, so free slot by slot. */
                pin = calloc(st->max_vcpus + 1, sizeof(char *));
                if (!pin) {
                        oom(st);
                        return;
                }
                map_cputune_into(st, ct, pin);
                for (unsigned i = 0; i < st->max_vcpus; i++)
                        free(pin[i]);
                free(pin);
        }
        if (!cpuset || st->r < 0)
                return;
        /* <vcpu cpuset>: where unpinned vCPUs and (without <emulatorpin>) the emulator threads run. */
        if (!st->c->cpu.pin)
                drop_attr(
                        st, v, "cpuset",
                        "unpinned vCPUs floating over a set of host CPUs; vfioctl pins each vCPU to one ([cpu] pin)");
        else if (!st->c->cpu.emulator_pin) {
                char **cpus = NULL;
                int r = parse_cpuset(cpuset, &cpus);

                if (r == -ENOMEM) {
                        oom(st);
                        return;
                }
                if (r < 0) {
                        fail(st, line_of(v), "<vcpu cpuset='%s'>: not a cpuset (0-3,8)", cpuset);
                        return;
                }
                st->c->cpu.emulator_pin = cpus;
                note(st, v, "cpuset applies to QEMU's other threads here: [cpu] emulator_pin");
        }
}

/* ---- <os>, <sysinfo>, <features>, <cpu>, <clock> -------------------------------------------------- */

/* <os><type arch machine>: x86_64 full virtualization on q35 or i440fx. -EINVAL (reported) otherwise. */
static int map_os_type(state *st, xmlNode *os)
{
        xmlNode *type;
        const char *arch, *machine;

        type = child(os, "type");
        arch = attr(type, "arch");
        if (arch && strcmp(arch, "x86_64") != 0) {
                fail(st, line_of(type), "<type arch='%s'>: vfioctl runs x86_64 guests only", arch);
                return -EINVAL;
        }
        if (type) {
                _cleanup_free_ char *t = text(type);

                if (t && strcmp(t, "hvm") != 0) {
                        fail(st, line_of(type),
                             "<type>%s</type>: vfioctl runs full virtualization (hvm) only", t);
                        return -EINVAL;
                }
        }
        machine = attr(type, "machine");
        if (machine) {
                /* pc-q35-7.2, q35; pc, pc-i440fx-2.2, pc-i440fx-bionic (Ubuntu's names). */
                if (strncmp(machine, "pc-q35", 6) == 0 || strncmp(machine, "q35", 3) == 0)
                        st->c->vm.machine = VM_MACHINE_Q35;
                else if (strcmp(machine, "pc") == 0 || strncmp(machine, "pc-", 3) == 0)
                        st->c->vm.machine = VM_MACHINE_I440FX;
                else {
                        fail(st, line_of(type), "<type machine='%s'>: not a q35 or i440fx machine type",
                             machine);
                        return -EINVAL;
                }
                if (strcmp(machine, "q35") != 0 && strcmp(machine, "pc") != 0)
                        note(st, type, "machine version pinned by libvirt; vfioctl uses QEMU's current %s",
                             st->c->vm.machine == VM_MACHINE_Q35 ? "q35" : "i440fx (pc)");
        } else
                st->c->vm.machine = VM_MACHINE_I440FX; /* libvirt's default for x86_64 is "pc" */
        return 0;
}

/* The firmware: SeaBIOS, or OVMF from <os firmware='efi'>, <loader> and <nvram>, Debian's defaults implicit.
 */
static void map_firmware(state *st, xmlNode *os)
{
        xmlNode *loader, *nvram, *n;
        bool efi = false;

        if (attr_is(os, "firmware", "efi"))
                efi = true;
        if ((n = child(os, "firmware"))) {
                /* <firmware><feature name='secure-boot' enabled='yes'/> (libvirt 7.2+, auto-selection). */
                for (xmlNode *f = n->children; f; f = f->next)
                        if (is_elem(f, "feature")) {
                                use(f);
                                if (attr_is(f, "name", "secure-boot") && attr_is(f, "enabled", "yes"))
                                        st->c->firmware.secure_boot = true;
                                else
                                        attr(f, "name"), attr(f, "enabled");
                        }
        }
        loader = child(os, "loader");
        if (loader) {
                _cleanup_free_ char *path = text(loader);
                const char *ltype = attr(loader, "type");

                attr(loader, "readonly");
                if (ltype && strcmp(ltype, "rom") == 0) {
                        drop(st, loader, "a custom BIOS ROM; vfioctl uses SeaBIOS or OVMF pflash");
                } else {
                        efi = true;
                        if (path && *path == '/') {
                                set_str(st, &st->c->firmware.code, path);
                                key_line(st, "firmware", "code", line_of(loader));
                        }
                        if (attr_is(loader, "secure", "yes"))
                                st->c->firmware.secure_boot = true;
                        else
                                attr(loader, "secure");
                        /* format='raw' is all QEMU 7.2's pflash takes here; libvirt 9.2+ writes it. */
                        if (attr(loader, "format") && !attr_is(loader, "format", "raw"))
                                drop_attr(st, loader, "format", "vfioctl uses raw firmware images");
                }
        }
        nvram = child(os, "nvram");
        if (nvram) {
                _cleanup_free_ char *path = text(nvram);
                const char *tmpl = attr(nvram, "template");

                if (tmpl && *tmpl == '/')
                        set_str(st, &st->c->firmware.vars_template, tmpl);
                if (path && *path == '/')
                        set_str(st, &st->c->firmware.vars, path);
                key_line(st, "firmware", "vars", line_of(nvram));
                key_line(st, "firmware", "vars_template", line_of(nvram));
                if (attr(nvram, "format") && !attr_is(nvram, "format", "raw"))
                        drop_attr(st, nvram, "format", "vfioctl uses raw firmware images");
        }
        st->c->firmware.type = efi ? VM_FIRMWARE_OVMF : VM_FIRMWARE_SEABIOS;
        /* Debian's OVMF images are vfioctl's defaults: leave them implicit, as a written config would. */
        if (st->c->firmware.code &&
            !strcmp(st->c->firmware.code, st->c->firmware.secure_boot
                                                  ? "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
                                                  : "/usr/share/OVMF/OVMF_CODE_4M.fd")) {
                free(st->c->firmware.code);
                st->c->firmware.code = NULL;
        }
        /* Without <nvram template>, the template packaged with the code image
         * (vm_qemu_firmware_vars_template). */
        if (st->c->firmware.code && !st->c->firmware.vars_template &&
            !vfio_ovmf_vars_template_for(st->c->firmware.code))
                note(st, loader,
                     "no <nvram template> and an OVMF image vfioctl has no pairing for: a missing vars copy starts from Debian's OVMF_VARS_4M.fd; set [firmware] vars_template to the one built with it");
        /* A template that is what vfioctl would pick anyway (Debian's, or the code image's pair) stays
         * implicit. */
        if (st->c->firmware.vars_template) {
                char *tmpl = TAKE_PTR(st->c->firmware.vars_template);

                if (strcmp(tmpl, vm_qemu_firmware_vars_template(st->c)) == 0)
                        free(tmpl);
                else
                        st->c->firmware.vars_template = tmpl;
        }
}

static void map_os(state *st, xmlNode *dom)
{
        xmlNode *os = child(dom, "os"), *n;

        if (!os) {
                fail(st, line_of(dom), "<domain> has no <os>; libvirt requires <os><type>hvm</type></os>");
                return;
        }
        if (map_os_type(st, os) < 0)
                return;
        map_firmware(st, os);
        for (n = os->children; n; n = n->next)
                if (is_elem(n, "boot")) {
                        const char *dev = attr(use(n), "dev");

                        if (dev && strcmp(dev, "hd") && strcmp(dev, "cdrom"))
                                drop(st, n, "vfioctl boots from disks and CD-ROMs only (bootindex)");
                        else if (dev && strv_extend(&st->boot_order, dev) < 0)
                                oom(st);
                }
        if ((n = child(os, "smbios"))) {
                const char *mode = attr(n, "mode");

                if (mode && strcmp(mode, "sysinfo") == 0)
                        st->smbios_sysinfo = true;
                else if (mode && strcmp(mode, "host") == 0)
                        drop(st, n, "copying the host's SMBIOS is not supported; set [smbios] values");
        }
        if ((n = child(os, "bootmenu")))
                drop(st, n, "the boot menu is not offered by vfioctl (OVMF's own menu: press Esc)");
}

/* <sysinfo type='fwcfg'>: QEMU fw_cfg files; vfioctl knows OVMF's 64-bit MMIO window. */
static void map_fwcfg(state *st, xmlNode *si)
{
        for (xmlNode *e = si->children; e; e = e->next) {
                _cleanup_free_ char *v = NULL;
                const char *name;
                uint64_t mb;

                if (!is_elem(e, "entry"))
                        continue;
                name = attr(use(e), "name");
                if (!name || strcmp(name, "opt/ovmf/X-PciMmio64Mb") != 0 || attr(e, "file")) {
                        fail(st, line_of(e),
                             "<sysinfo type='fwcfg'> entry '%s': vfioctl knows opt/ovmf/X-PciMmio64Mb only; remove it to import the rest",
                             name ? name : "");
                        return;
                }
                v = text(e);
                if (!v || parse_uint(v, 10, 1ULL << 24, &mb) < 0 || mb < 1024) {
                        fail(st, line_of(e), "<entry name='%s'>%s</entry>: not a size in MiB from 1024",
                             name, v ? v : "");
                        return;
                }
                st->c->firmware.mmio64_size = mb << 20;
                key_line(st, "firmware", "mmio64_size", line_of(e));
        }
}

static void map_sysinfo(state *st, xmlNode *dom)
{
        static const struct {
                const char *block, *entry;
                size_t offset;
        } map[] = {
#define SMB(b, e, f) { b, e, offsetof(vm_smbios, f) }
                SMB("bios", "vendor", bios_vendor),
                SMB("bios", "version", bios_version),
                SMB("bios", "date", bios_date),
                SMB("bios", "release", bios_release),
                SMB("system", "manufacturer", system_manufacturer),
                SMB("system", "product", system_product),
                SMB("system", "version", system_version),
                SMB("system", "serial", system_serial),
                SMB("system", "uuid", system_uuid),
                SMB("system", "sku", system_sku),
                SMB("system", "family", system_family),
                SMB("baseBoard", "manufacturer", baseboard_manufacturer),
                SMB("baseBoard", "product", baseboard_product),
                SMB("baseBoard", "version", baseboard_version),
                SMB("baseBoard", "serial", baseboard_serial),
                SMB("baseBoard", "asset", baseboard_asset),
                SMB("chassis", "manufacturer", chassis_manufacturer),
                SMB("chassis", "version", chassis_version),
                SMB("chassis", "serial", chassis_serial),
                SMB("chassis", "asset", chassis_asset),
                SMB("chassis", "sku", chassis_sku),
#undef SMB
        };
        xmlNode *si = NULL;

        for (xmlNode *n = dom->children; n; n = n->next)
                if (is_elem(n, "sysinfo") && attr_is(use(n), "type", "fwcfg"))
                        map_fwcfg(st, n);
                else if (is_elem(n, "sysinfo") && !si && attr_is(n, "type", "smbios"))
                        si = n;
                else if (is_elem(n, "sysinfo"))
                        drop(st, n, "only one SMBIOS and fw_cfg sysinfo are supported");
        if (!si)
                return;
        /* Without <smbios mode='sysinfo'/> libvirt does not put <sysinfo> into the guest. */
        if (!st->smbios_sysinfo) {
                drop(st, si, "not applied by libvirt either: <os> has no <smbios mode='sysinfo'/>");
                return;
        }
        for (xmlNode *b = si->children; b; b = b->next) {
                if (b->type != XML_ELEMENT_NODE)
                        continue;
                for (xmlNode *e = b->children; e; e = e->next) {
                        const char *name;
                        bool found = false;

                        if (!is_elem(e, "entry"))
                                continue;
                        name = attr(e, "name");
                        for (size_t i = 0; name && i < ELEMENTSOF(map); i++)
                                if (strcmp(qname(b), map[i].block) == 0 && strcmp(name, map[i].entry) == 0) {
                                        _cleanup_free_ char *v = text(e);

                                        use(b);
                                        if (!v) {
                                                oom(st);
                                                return;
                                        }
                                        if (*v)
                                                set_str(st,
                                                        (char **)((char *)&st->c->smbios + map[i].offset),
                                                        v);
                                        found = true;
                                }
                        if (!found)
                                drop(st, e, "no such [smbios] field");
                }
        }
}

static const char *const hv_extra[][2] = {
        { "vpindex", "hv-vpindex" },
        { "runtime", "hv-runtime" },
        { "synic", "hv-synic" },
        { "stimer", "hv-stimer" },
        { "reset", "hv-reset" },
        { "frequencies", "hv-frequencies" },
        { "reenlightenment", "hv-reenlightenment" },
        { "tlbflush", "hv-tlbflush" },
        { "ipi", "hv-ipi" },
        { "evmcs", "hv-evmcs" },
        { "avic", "hv-avic" },
        { "xmm_input", "hv-xmm-input" },
        { "emsr_bitmap", "hv-emsr-bitmap" },
};

/* An enlightenment the XML turns on, in QEMU's spelling; vfioctl's [cpu] keys are chosen at the end. */
static void hyperv_flag(state *st, const char *flag)
{
        if (!strv_contains(st->hv, flag) && strv_extend(&st->hv, flag) < 0)
                oom(st);
}

static void map_hyperv(state *st, xmlNode *hv)
{
        const char *mode = attr(hv, "mode");

        if (mode && strcmp(mode, "passthrough") == 0)
                /* Every enlightenment the host offers (QEMU docs/hyperv.txt, hv-passthrough). */
                hyperv_flag(st, "hv-passthrough");
        else if (mode && strcmp(mode, "custom") != 0) {
                drop(st, hv, "a Hyper-V mode vfioctl does not know (custom or passthrough)");
                return;
        }
        for (xmlNode *f = hv->children; f; f = f->next) {
                bool found = false;

                if (f->type != XML_ELEMENT_NODE)
                        continue;
                use(f);
                if (!attr_is(f, "state", "on")) {
                        attr(f, "state");
                        mark_tree(f);
                        continue;
                }
                if (is_elem(f, "relaxed") || is_elem(f, "vapic")) {
                        hyperv_flag(st, is_elem(f, "relaxed") ? "hv-relaxed" : "hv-vapic");
                        continue;
                }
                if (is_elem(f, "spinlocks")) {
                        const char *retries = attr(f, "retries");
                        uint64_t n = 8191;
                        char buf[32];

                        if (retries && (parse_uint(retries, 10, UINT32_MAX, &n) < 0 || n < 4095)) {
                                fail(st, line_of(f), "<spinlocks retries='%s'>: libvirt takes 4095 or more",
                                     retries);
                                return;
                        }
                        snprintf(buf, sizeof(buf), "hv-spinlocks=0x%" PRIx64, n);
                        hyperv_flag(st, buf);
                        continue;
                }
                if (is_elem(f, "vendor_id")) {
                        const char *v = attr(f, "value");

                        if (v) {
                                set_str(st, &st->c->cpu.hyperv_vendor_id, v);
                                key_line(st, "cpu", "hyperv_vendor_id", line_of(f));
                        }
                        continue;
                }
                for (size_t i = 0; i < ELEMENTSOF(hv_extra); i++)
                        if (is_elem(f, hv_extra[i][0])) {
                                hyperv_flag(st, hv_extra[i][1]);
                                found = true;
                        }
                if (!found) {
                        drop(st, f, "an enlightenment vfioctl does not know");
                        continue;
                }
                /* <stimer><direct state='on'/></stimer> */
                if (is_elem(f, "stimer")) {
                        xmlNode *d = child(f, "direct");

                        if (d && attr_is(d, "state", "on"))
                                hyperv_flag(st, "hv-stimer-direct");
                }
                /* <tlbflush><direct/><extended/></tlbflush> are libvirt 9.1+. */
        }
}

/*
 * The enlightenments become [cpu] keys: hyperv = yes when the XML has vfioctl's whole base set (hv-relaxed,
 * hv-vapic, hv-spinlocks=0x1fff, hv-time), the rest in hyperv_extra. A domain with less gets exactly what
 * it has; vfioctl's set is offered as a note, never added.
 */
static void hyperv_keys(state *st, xmlNode *dom)
{
        static const char *const base[] = { "hv-relaxed", "hv-vapic", "hv-spinlocks=0x1fff", "hv-time" };
        _cleanup_free_ char *missing = NULL;
        bool all = true;

        for (size_t i = 0; i < ELEMENTSOF(base); i++)
                if (!strv_contains(st->hv, base[i])) {
                        char *m;

                        all = false;
                        if (asprintf(&m, "%s%s%s", missing ? missing : "", missing ? ", " : "", base[i]) <
                            0) {
                                oom(st);
                                return;
                        }
                        free(missing);
                        missing = m;
                }
        strv_free(st->c->cpu.hyperv_extra);
        st->c->cpu.hyperv_extra = NULL;
        st->c->cpu.hyperv = all;
        STRV_FOREACH(f, st->hv) {
                bool in_base = false;

                for (size_t i = 0; all && i < ELEMENTSOF(base); i++)
                        in_base = in_base || !strcmp(*f, base[i]);
                if (!in_base && strv_extend(&st->c->cpu.hyperv_extra, *f) < 0) {
                        oom(st);
                        return;
                }
        }
        if (!all && (st->hv || st->c->cpu.hyperv_vendor_id || st->c->vm.os == VM_OS_WINDOWS)) {
                xmlNode *at = child(child(dom, "features"), "hyperv") ?: dom;

                note(st, at,
                     "vfioctl recommends [cpu] hyperv = yes for Windows guests (adds %s); not set: the domain does not have them",
                     missing);
        }
}

static void map_features(state *st, xmlNode *dom)
{
        xmlNode *fs = child(dom, "features");

        if (!fs)
                return;
        for (xmlNode *f = fs->children; f; f = f->next) {
                if (f->type != XML_ELEMENT_NODE)
                        continue;
                use(f);
                if (is_elem(f, "acpi") || is_elem(f, "apic") || is_elem(f, "pae")) {
                        /* Always on in vfioctl's machines (ACPI is QEMU's default; APIC and PAE are x86_64).
                         */
                        drop_attr(st, f, "eoi", "the paravirtual EOI CPU flag is not set by vfioctl");
                } else if (is_elem(f, "hyperv"))
                        map_hyperv(st, f);
                else if (is_elem(f, "kvm")) {
                        for (xmlNode *k = f->children; k; k = k->next) {
                                if (k->type != XML_ELEMENT_NODE)
                                        continue;
                                use(k);
                                if (is_elem(k, "hidden"))
                                        st->c->cpu.hide_kvm = attr_is(k, "state", "on");
                                else
                                        drop(st, k, "a KVM paravirt hint vfioctl does not set");
                        }
                } else if (is_elem(f, "vmport"))
                        st->c->vm.vmport = attr_is(f, "state", "on");
                else if (is_elem(f, "ioapic")) {
                        /* driver='kvm' is QEMU's default with KVM (the in-kernel irqchip). */
                        if (!attr_is(f, "driver", "kvm"))
                                drop(st, f, "a userspace IOAPIC is not supported (vfioctl keeps KVM's)");
                } else if (is_elem(f, "smm")) {
                        /* vfioctl turns SMM on exactly when Secure Boot needs it. */
                        if (!attr_is(f, "state", "on") || child(f, "tseg"))
                                drop(st, f, "vfioctl sets SMM from [firmware] secure_boot");
                        else if (!st->c->firmware.secure_boot)
                                note(st, f,
                                     "SMM without Secure Boot: vfioctl enables SMM only with secure_boot");
                } else
                        drop(st, f, "a machine feature vfioctl does not set");
        }
}

/*
 * <feature policy='require' name='topoext'/>: libvirt turns require and force on, disable and forbid off
 * (formatdomain.rst, "CPU model and topology"); QEMU spells '_' in feature names as '-'.
 */
static void map_cpu_feature(state *st, xmlNode *n)
{
        const char *policy = attr(n, "policy"), *name = attr(n, "name");
        char buf[80];
        bool on;

        if (!name || !*name || strlen(name) > 60 ||
            strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(name)) {
                fail(st, line_of(n), "<feature name='%s'>: not a CPU feature name", name ? name : "");
                return;
        }
        if (!policy || !strcmp(policy, "require") || !strcmp(policy, "force"))
                on = true;
        else if (!strcmp(policy, "disable") || !strcmp(policy, "forbid"))
                on = false;
        else if (!strcmp(policy, "optional")) {
                ignore(st, n, "optional: used when the host CPU has it, which -cpu host does by itself");
                return;
        } else {
                fail(st, line_of(n), "<feature policy='%s'>: require, force, optional, disable or forbid",
                     policy);
                return;
        }
        snprintf(buf, sizeof(buf), "%c%s", on ? '+' : '-', name);
        for (char *p = buf; *p; p++)
                if (*p == '_')
                        *p = '-';
        if (strv_extend(&st->c->cpu.features, buf) < 0)
                oom(st);
        key_line(st, "cpu", "features", line_of(n));
}

static void map_cpu(state *st, xmlNode *dom)
{
        xmlNode *cpu = child(dom, "cpu"), *n;
        const char *mode;

        if (!cpu || (!attr(cpu, "mode") && !child(cpu, "model"))) {
                /* No CPU model: libvirt leaves QEMU's default, qemu64, and so does the import. */
                set_str(st, &st->c->cpu.model, "qemu64");
                if (st->c->vm.accel == VM_ACCEL_KVM)
                        note(st, cpu ?: dom,
                             "no CPU model: QEMU's default qemu64, as libvirt starts it; vfioctl recommends [cpu] model = host (host-passthrough) for passthrough VMs");
                if (!cpu)
                        return;
        }
        mode = attr(cpu, "mode");
        attr(cpu, "check");
        if (attr_is(cpu, "migratable", "off"))
                ignore_attr(st, cpu, "migratable",
                            "vfioctl's -cpu host keeps QEMU's default (migratable=on)");
        attr(cpu, "match");
        if (!mode || strcmp(mode, "custom") == 0) {
                xmlNode *model = child(cpu, "model");

                if (model) {
                        _cleanup_free_ char *m = text(model);

                        attr(model, "fallback");
                        if (m && *m)
                                set_str(st, &st->c->cpu.model, m);
                }
        } else if (strcmp(mode, "host-passthrough") == 0)
                set_str(st, &st->c->cpu.model, "host");
        else if (strcmp(mode, "maximum") == 0)
                set_str(st, &st->c->cpu.model, "max");
        else if (strcmp(mode, "host-model") == 0) {
                set_str(st, &st->c->cpu.model, "host");
                note(st, cpu, "host-model became host-passthrough (model = host)");
                if ((n = child(cpu, "model")))
                        ignore(st, n, "host-model's model is recomputed by libvirt");
        }
        if ((n = child(cpu, "cache")))
                drop(st, n, "host cache topology passthrough is not set by vfioctl");
        for (n = cpu->children; n; n = n->next)
                if (is_elem(n, "feature"))
                        map_cpu_feature(st, use(n));
        if ((n = child(cpu, "numa")))
                drop(st, n, "guest NUMA nodes are not supported by vfioctl");
        if ((n = child(cpu, "vendor")))
                drop(st, n, "not used with this CPU mode");
}

static void map_clock(state *st, xmlNode *dom)
{
        xmlNode *clk = child(dom, "clock");
        const char *offset;

        if (!clk)
                return;
        offset = attr(clk, "offset");
        st->c->vm.rtc_localtime = offset && strcmp(offset, "localtime") == 0;
        if (offset && strcmp(offset, "localtime") != 0 && strcmp(offset, "utc") != 0)
                drop_attr(st, clk, "offset", "vfioctl keeps the RTC in UTC or localtime");
        for (xmlNode *t = clk->children; t; t = t->next) {
                const char *name;

                if (!is_elem(t, "timer"))
                        continue;
                name = attr(use(t), "name");
                if (name && strcmp(name, "hpet") == 0)
                        st->c->vm.hpet = !attr_is(t, "present", "no");
                else if (name && strcmp(name, "rtc") == 0 && attr_is(t, "tickpolicy", "catchup") &&
                         !attr(t, "track") && !attr(t, "present"))
                        st->c->vm.rtc_catchup = true; /* -rtc driftfix=slew */
                else if (name && strcmp(name, "pit") == 0 && attr_is(t, "tickpolicy", "delay") &&
                         !attr(t, "present"))
                        st->c->vm.pit_delay = true; /* -global kvm-pit.lost_tick_policy=delay */
                else if (name && strcmp(name, "hypervclock") == 0) {
                        if (attr_is(t, "present", "yes"))
                                hyperv_flag(st, "hv-time");
                } else if (name && strcmp(name, "kvmclock") == 0 && !attr_is(t, "present", "no"))
                        attr(t, "present"); /* on by default with KVM */
                else if (name && strcmp(name, "tsc") == 0 && !attr(t, "frequency") && !attr(t, "mode"))
                        attr(t, "present");
                else
                        drop(st, t, "timer tuning (tick policies) is left to QEMU's defaults");
        }
}

/* ---- <devices> ----------------------------------------------------------------------------------- */

/* <boot order='N'/> on a device: its bootindex (formatdomain.rst, "Device boot order"). */
static unsigned boot_order(state *st, xmlNode *n)
{
        const char *order = attr(n, "order");
        uint64_t o;

        attr(n, "loadparm");
        if (!order || parse_uint(order, 10, 99, &o) < 0 || o == 0) {
                fail(st, line_of(n), "<boot order='%s'>: vfioctl takes a boot order from 1 to 99",
                     order ? order : "");
                return 0;
        }
        st->any_boot_order = true;
        return (unsigned)o;
}

static void map_disk(state *st, xmlNode *d)
{
        const char *type = attr(d, "type"), *device = attr(d, "device");
        xmlNode *src = child(d, "source"), *drv = child(d, "driver"), *tgt = child(d, "target"), *n;
        const char *path = NULL, *bus, *dev;
        bool cdrom = device && strcmp(device, "cdrom") == 0;
        vm_disk *disk;
        _cleanup_free_ char *name = NULL;

        if (device && strcmp(device, "disk") != 0 && !cdrom) {
                drop(st, d, "only disk and cdrom devices are supported");
                return;
        }
        if (type && strcmp(type, "file") == 0)
                path = attr(src, "file");
        else if (type && strcmp(type, "block") == 0)
                path = attr(src, "dev");
        else {
                drop(st, d, "only file and block disk sources are supported");
                return;
        }
        if (!path || path[0] != '/') {
                drop(st, d,
                     cdrom ? "an empty CD-ROM drive; add [disk] media = cdrom with the ISO's path"
                           : "a disk without a source path");
                return;
        }
        if (drv) {
                const char *fmt = attr(drv, "type");

                attr(drv, "name");
                if (fmt && strcmp(fmt, "raw") != 0 && strcmp(fmt, "qcow2") != 0) {
                        drop(st, d, "only raw and qcow2 images are supported");
                        return;
                }
        }
        bus = attr(tgt, "bus");
        dev = attr(tgt, "dev");
        name = section_name(user_alias(d) ?: dev, "disk", (unsigned)st->c->n_disks);
        if (!name) {
                oom(st);
                return;
        }
        disk = PUSH(st, disks, name, line_of(d));
        if (!disk)
                return;
        disk->line = line_of(d);
        disk->path = strdup(path);
        if (!disk->path) {
                oom(st);
                return;
        }
        disk->media = cdrom ? VM_MEDIA_CDROM : VM_MEDIA_DISK;
        disk->format = drv && attr_is(drv, "type", "qcow2") ? VM_DISK_QCOW2 : VM_DISK_RAW;
        if (!bus || strcmp(bus, "virtio") == 0)
                disk->bus = VM_DISK_VIRTIO_BLK;
        else if (strcmp(bus, "sata") == 0)
                disk->bus = VM_DISK_SATA;
        else if (strcmp(bus, "ide") == 0)
                disk->bus = VM_DISK_IDE;
        else if (strcmp(bus, "scsi") == 0)
                disk->bus = VM_DISK_VIRTIO_SCSI;
        else {
                disk->bus = VM_DISK_SATA;
                note(st, tgt, "bus '%s' is not supported; the disk goes on SATA", bus);
        }
        if (cdrom && disk->bus == VM_DISK_VIRTIO_BLK)
                disk->bus = VM_DISK_SATA;
        if (drv) {
                const char *cache = attr(drv, "cache"), *io = attr(drv, "io"),
                           *discard = attr(drv, "discard"), *iothread = attr(drv, "iothread");

                if (cache && strcmp(cache, "default") != 0)
                        disk->cache = strdup(cache);
                if (io && strcmp(io, "default") != 0)
                        disk->aio = strdup(io);
                if (discard)
                        disk->discard = strdup(discard);
                if ((cache && !disk->cache) || (io && !disk->aio) || (discard && !disk->discard)) {
                        oom(st);
                        return;
                }
                /* QEMU refuses aio=native without O_DIRECT (cache.direct=on): "none" is what works. */
                if (disk->aio && strcmp(disk->aio, "native") == 0 && !disk->cache) {
                        disk->cache = strdup("none");
                        if (!disk->cache) {
                                oom(st);
                                return;
                        }
                        note(st, drv, "io='native' needs cache='none' in QEMU; cache = none set");
                }
                if (iothread) {
                        if (disk->bus == VM_DISK_VIRTIO_BLK || disk->bus == VM_DISK_VIRTIO_SCSI)
                                disk->iothread = true;
                        else
                                note(st, drv, "iothread applies to virtio disks only");
                }
                drop_attr(st, drv, "detect_zeroes", "not set by vfioctl");
                drop_attr(st, drv, "queues", "virtio queue count is QEMU's default");
                drop_attr(st, drv, "error_policy", "QEMU's default error policy is kept");
        }
        if ((n = child(d, "serial"))) {
                _cleanup_free_ char *s = text(n);

                if (!s) {
                        oom(st);
                        return;
                }
                if (*s && !cdrom)
                        disk->serial = TAKE_PTR(s);
        }
        if (child(d, "readonly") && !cdrom) {
                disk->readonly = true;
                if (disk->bus == VM_DISK_SATA || disk->bus == VM_DISK_IDE)
                        fail(st, line_of(d),
                             "<disk> with <readonly/> on bus '%s': QEMU cannot make an IDE/SATA hard disk read-only; use device='cdrom' or bus='virtio'",
                             bus ? bus : "");
        }
        if ((n = child(d, "boot")))
                disk->bootindex = boot_order(st, n);
        if ((n = child(d, "address")))
                ignore(st, n, "guest address: vfioctl places disks itself");
        if ((n = child(d, "backingStore")))
                ignore(st, n, "QEMU reads the backing chain from the image");
        if ((n = child(d, "shareable")))
                drop(st, n, "shared disks are not supported");
}

/* A PCI function to pass, from a <source><address domain bus slot function/> (NULL after a failure). */
static hostdev *pci_hostdev(state *st, xmlNode *h, xmlNode *a)
{
        const char *fields[] = { "domain", "bus", "slot", "function" };
        const uint64_t max[] = { UINT32_MAX, 0xff, 0x1f, 7 };
        uint64_t v[4] = {};
        hostdev *t;

        for (size_t i = 0; i < 4; i++) {
                const char *s = attr(a, fields[i]);

                if (!s && i == 0)
                        continue;
                if (!s || parse_uint(s, 0, max[i], &v[i]) < 0) {
                        fail(st, line_of(a ?: h),
                             "<%s type='%s'> source address %s='%s' is not a PCI %s (0x%" PRIx64 " at most)",
                             qname(h), attr(h, "type") ?: "", fields[i], s ? s : "", fields[i], max[i]);
                        return NULL;
                }
        }
        attr(a, "type");
        t = realloc(st->hds, (st->n_hds + 1) * sizeof(*t));
        if (!t) {
                oom(st);
                return NULL;
        }
        st->hds = t;
        t += st->n_hds++;
        *t = (hostdev){
                .addr = { (uint32_t)v[0], (uint8_t)v[1], (uint8_t)v[2], (uint8_t)v[3] },
                .line = line_of(h),
        };
        return t;
}

/*
 * <interface type='direct'>: a macvtap on a host interface (formatdomain.rst, "Direct attachment to
 * physical interface"). libvirt creates it at start; vfioctl opens one that exists (named by <target dev>,
 * else macvtapN as libvirt would name it) and refuses at start, with the command, when it does not.
 */
static void map_interface_direct(state *st, xmlNode *i, vm_net *net, xmlNode *src)
{
        const char *dev = attr(src, "dev"), *mode = attr(src, "mode"),
                   *target = attr(child(i, "target"), "dev");
        unsigned k = 0;
        char name[16];

        net->type = VM_NET_MACVTAP;
        if (!dev || !*dev) {
                fail(st, line_of(i),
                     "<interface type='direct'> needs <source dev='enp5s0'/> (the host interface)");
                return;
        }
        if (mode && strcmp(mode, "bridge") && strcmp(mode, "vepa") && strcmp(mode, "private") &&
            strcmp(mode, "passthrough")) {
                fail(st, line_of(src), "<source mode='%s'>: bridge, vepa, private or passthrough", mode);
                return;
        }
        set_str(st, &net->link, dev);
        if (mode && strcmp(mode, "bridge") != 0)
                set_str(st, &net->macvtap_mode, mode);
        for (size_t j = 0; j + 1 < st->c->n_nets; j++)
                k += st->c->nets[j].type == VM_NET_MACVTAP;
        snprintf(name, sizeof(name), "macvtap%u", k);
        set_str(st, &net->ifname, target && *target && strlen(target) < 16 ? target : name);
        attr(child(i, "target"), "managed");
        if ((target = attr(child(i, "virtualport"), "type")))
                drop(st, child(i, "virtualport"), "802.1Qbg/Qbh port profiles are not set by vfioctl");
}

/*
 * <interface type='hostdev'>: an SR-IOV virtual function passed through (formatdomain.rst, "PCI
 * Passthrough"): a [pci] like any <hostdev>. libvirt also sets its MAC through the physical function.
 */
static void map_interface_hostdev(state *st, xmlNode *i)
{
        xmlNode *n;
        hostdev *t = pci_hostdev(st, i, child(child(i, "source"), "address"));

        if (!t)
                return;
        attr(i, "managed");
        if ((n = child(i, "mac")))
                drop(st, n,
                     "the VF's MAC is set by libvirt through its physical function; set it before start: ip link set PF vf N mac ADDRESS");
        if ((n = child(i, "driver")) && !attr_is(n, "name", "vfio"))
                drop(st, n, "vfioctl always uses vfio-pci");
        if ((n = child(i, "boot")))
                t->bootindex = boot_order(st, n);
        if ((n = child(i, "address")))
                ignore(st, n, "guest address: vfioctl places passed-through devices itself");
}

static void map_interface(state *st, xmlNode *i)
{
        const char *type = attr(i, "type");
        xmlNode *src = child(i, "source"), *model = child(i, "model"), *mac = child(i, "mac"), *n;
        _cleanup_free_ char *name = NULL;
        vm_net *net;

        name = section_name(user_alias(i), "net", (unsigned)st->c->n_nets);
        if (!name) {
                oom(st);
                return;
        }
        if (type && strcmp(type, "hostdev") == 0) {
                map_interface_hostdev(st, i);
                return;
        }
        if (!type || (strcmp(type, "bridge") && strcmp(type, "network") && strcmp(type, "user") &&
                      strcmp(type, "ethernet") && strcmp(type, "direct"))) {
                drop(st, i,
                     "only bridge, network (as user), user, ethernet (tap), direct (macvtap) and hostdev interfaces are supported");
                return;
        }
        net = PUSH(st, nets, name, line_of(i));
        if (!net)
                return;
        net->line = line_of(i);
        if (strcmp(type, "bridge") == 0) {
                const char *br = attr(src, "bridge");

                net->type = VM_NET_BRIDGE;
                if (br && !(net->bridge = strdup(br))) {
                        oom(st);
                        return;
                }
        } else if (strcmp(type, "network") == 0) {
                /* A libvirt network is NAT behind virbr0 by default; user networking needs no setup. */
                net->type = VM_NET_USER;
                attr(src, "bridge");
                note(st, i, "libvirt network '%s' became user networking (NAT without setup)",
                     attr(src, "network") ?: "");
        } else if (strcmp(type, "ethernet") == 0) {
                const char *dev = attr(child(i, "target"), "dev");

                net->type = VM_NET_TAP;
                if (!dev) {
                        fail(st, line_of(i),
                             "<interface type='ethernet'> needs <target dev='tap0'/> for vfioctl");
                        return;
                }
                net->ifname = strdup(dev);
                if (!net->ifname) {
                        oom(st);
                        return;
                }
                attr(child(i, "target"), "managed");
        } else if (strcmp(type, "direct") == 0)
                map_interface_direct(st, i, net, src);
        else
                net->type = VM_NET_USER;
        if (st->r < 0)
                return;
        if (mac) {
                const char *a = attr(mac, "address");

                if (a && !(net->mac = strdup(a))) {
                        oom(st);
                        return;
                }
        }
        net->model = VM_NET_VIRTIO;
        if (model) {
                const char *m = attr(model, "type");

                if (m && strcmp(m, "e1000e") == 0)
                        net->model = VM_NET_E1000E;
                else if (m && strcmp(m, "virtio") != 0) {
                        net->model = VM_NET_E1000E;
                        note(st, model, "NIC model '%s' became e1000e (Windows has its driver built in)", m);
                }
        } else {
                net->model = VM_NET_E1000E;
                note(st, i, "no <model>: libvirt's default NIC became e1000e");
        }
        if ((n = child(i, "target")) && strcmp(type, "ethernet") != 0 && strcmp(type, "direct") != 0)
                ignore(st, n, "the host tap name is chosen by the helper");
        if (net->type == VM_NET_MACVTAP && net->mac)
                note(st, i,
                     "macvtap: vfioctl start opens the existing interface %s and hands QEMU its tap device; create it first with: ip link add link %s name %s type macvtap mode %s && ip link set %s address %s up",
                     net->ifname, net->link ? net->link : "LINK", net->ifname,
                     net->macvtap_mode
                             ? (!strcmp(net->macvtap_mode, "passthrough") ? "passthru" : net->macvtap_mode)
                             : "bridge",
                     net->ifname, net->mac);
        else if (net->type == VM_NET_MACVTAP)
                note(st, i,
                     "macvtap: vfioctl start opens the existing interface %s and hands QEMU its tap device, with the interface's MAC; create it first with: ip link add link %s name %s type macvtap mode bridge && ip link set %s up",
                     net->ifname, net->link ? net->link : "LINK", net->ifname, net->ifname);
        if ((n = child(i, "address")))
                ignore(st, n, "guest address: vfioctl places NICs itself");
        if ((n = child(i, "link")))
                drop(st, n, "link state is not set by vfioctl");
        if ((n = child(i, "driver")))
                drop(st, n, "NIC driver tuning is not set by vfioctl");
}

static void map_hostdev(state *st, xmlNode *h)
{
        const char *type = attr(h, "type"), *mode = attr(h, "mode");
        xmlNode *src = child(h, "source"), *n;

        if (mode && strcmp(mode, "subsystem") != 0) {
                fail(st, line_of(h),
                     "<hostdev mode='%s'>: vfioctl passes devices in subsystem mode only (PCI, USB); remove it from the XML to import the rest",
                     mode);
                return;
        }
        /* vfioctl binds devices to vfio-pci itself (vfioctl bind), not at each VM start. */
        ignore_attr(st, h, "managed", "vfioctl binds the device to vfio-pci itself (vfioctl bind)");
        if (type && strcmp(type, "pci") == 0) {
                xmlNode *rom = child(h, "rom");
                hostdev *t = pci_hostdev(st, h, child(src, "address"));

                if (!t)
                        return;
                if ((n = child(h, "driver")) && !attr_is(n, "name", "vfio"))
                        drop(st, n, "vfioctl always uses vfio-pci");
                if (user_alias(h) && !(t->alias = strdup(user_alias(h)))) {
                        oom(st);
                        return;
                }
                if (rom) {
                        const char *file = attr(rom, "file");

                        if (file && !(t->romfile = strdup(file))) {
                                oom(st);
                                return;
                        }
                        t->rombar_off = attr_is(rom, "bar", "off") || attr_is(rom, "enabled", "no");
                        if (!attr_is(rom, "bar", "off"))
                                attr(rom, "bar");
                        attr(rom, "enabled");
                }
                if ((n = child(h, "boot")))
                        t->bootindex = boot_order(st, n);
        } else if (type && strcmp(type, "usb") == 0) {
                xmlNode *vendor = child(src, "vendor"), *product = child(src, "product");
                const char *vid = attr(vendor, "id"), *pid = attr(product, "id");
                uint32_t vv, pp;
                _cleanup_free_ char *name = NULL;
                vm_usb *u;

                ignore_attr(st, src, "startupPolicy",
                            "vfioctl's launcher checks USB devices before starting");
                if (!vid || !pid || parse_hex_id(vid, 16, &vv) < 0 || parse_hex_id(pid, 16, &pp) < 0) {
                        /* A passed-through device is never dropped quietly: the import stops here. */
                        fail(st, line_of(h),
                             "<hostdev type='usb'> by bus/device number (it changes at every plug): vfioctl needs <vendor id='0x....'/><product id='0x....'/> (lsusb shows them) or [usb] host_bus and host_port");
                        return;
                }
                name = section_name(user_alias(h), "usb", (unsigned)st->c->n_usbs);
                if (!name) {
                        oom(st);
                        return;
                }
                u = PUSH(st, usbs, name, line_of(h));
                if (!u)
                        return;
                u->line = line_of(h);
                u->vendor = (uint16_t)vv;
                u->product = (uint16_t)pp;
                u->has_id = true;
                if ((n = child(src, "address")))
                        ignore(st, n, "vendor:product identifies the device");
                if ((n = child(h, "boot")))
                        u->bootindex = boot_order(st, n);
        } else if (type && strcmp(type, "mdev") == 0) {
                fail(st, line_of(h),
                     "<hostdev type='mdev'>: a mediated device (a vGPU slice, Intel GVT-g); vfioctl passes whole PCI functions only; remove it from the XML to import the rest");
                return;
        } else {
                fail(st, line_of(h),
                     "<hostdev type='%s'>: vfioctl passes PCI and USB host devices only; remove it from the XML to import the rest",
                     type ? type : "");
                return;
        }
        if ((n = child(h, "address")))
                ignore(st, n, "guest address: vfioctl places passed-through devices itself");
}

static void map_input(state *st, xmlNode *in)
{
        const char *type = attr(in, "type"), *bus = attr(in, "bus");
        _cleanup_free_ char *name = NULL;
        vm_input *inp;
        xmlNode *n;

        name = section_name(user_alias(in), type ? type : "input", (unsigned)st->c->n_inputs);
        if (!name) {
                oom(st);
                return;
        }
        if (type && strcmp(type, "evdev") == 0) {
                xmlNode *src = child(in, "source");
                const char *dev = attr(src, "dev"), *grab = attr(src, "grab"), *repeat = attr(src, "repeat"),
                           *toggle = attr(src, "grabToggle");

                if (!dev || dev[0] != '/') {
                        fail(st, line_of(in), "<input type='evdev'> needs <source dev='/dev/input/...'/>");
                        return;
                }
                inp = PUSH(st, inputs, name, line_of(in));
                if (!inp)
                        return;
                inp->line = line_of(in);
                inp->type = VM_INPUT_EVDEV;
                inp->evdev = strdup(dev);
                if (!inp->evdev) {
                        oom(st);
                        return;
                }
                inp->grab_all = grab && strcmp(grab, "all") == 0;
                inp->repeat = repeat && strcmp(repeat, "on") == 0;
                if (toggle && !(inp->grab_toggle = strdup(toggle))) {
                        oom(st);
                        return;
                }
                return;
        }
        if (bus && strcmp(bus, "ps2") == 0) {
                ignore(st, in, "the PS/2 keyboard and mouse are built into the machine");
                return;
        }
        if (bus && strcmp(bus, "virtio") == 0 && type &&
            (!strcmp(type, "keyboard") || !strcmp(type, "mouse") || !strcmp(type, "tablet"))) {
                inp = PUSH(st, inputs, name, line_of(in));
                if (!inp)
                        return;
                inp->line = line_of(in);
                inp->type = !strcmp(type, "keyboard") ? VM_INPUT_VIRTIO_KEYBOARD
                            : !strcmp(type, "mouse")  ? VM_INPUT_VIRTIO_MOUSE
                                                      : VM_INPUT_VIRTIO_TABLET;
                if ((n = child(in, "address")))
                        ignore(st, n, "guest address: vfioctl places devices itself");
                return;
        }
        if (type && strcmp(type, "passthrough") == 0) {
                drop(st, in, "virtio-input-host passthrough; use type = evdev (input-linux) instead");
                return;
        }
        drop(st, in,
             "only evdev and virtio keyboard/mouse/tablet inputs are supported (a USB tablet: use virtio-tablet)");
}

static void map_video(state *st, xmlNode *v, bool *seen)
{
        xmlNode *model = child(v, "model"), *n;
        const char *type = attr(model, "type");

        if (*seen) {
                drop(st, v, "vfioctl has one emulated display device");
                return;
        }
        *seen = true;
        if (!type || strcmp(type, "none") == 0)
                st->c->display.device = VM_DISPLAY_NONE;
        else if (strcmp(type, "qxl") == 0)
                st->c->display.device = VM_DISPLAY_QXL;
        else if (strcmp(type, "virtio") == 0)
                st->c->display.device = VM_DISPLAY_VIRTIO_VGA;
        else if (strcmp(type, "vga") == 0)
                st->c->display.device = VM_DISPLAY_STD;
        else {
                st->c->display.device = VM_DISPLAY_STD;
                note(st, model, "video model '%s' became std VGA", type);
        }
        /* Video memory sizes and heads: QEMU's defaults fit one display. */
        for (const char *const *a =
                     (const char *const[]){ "ram", "vram", "vram64", "vgamem", "heads", NULL };
             *a; a++)
                ignore_attr(st, model, *a, "video memory and heads are QEMU's defaults in vfioctl");
        attr(model, "primary");
        if ((n = child(model, "acceleration")))
                drop(st, n, "3D acceleration (virgl) is not set by vfioctl");
        if ((n = child(v, "address")))
                ignore(st, n, "guest address: vfioctl places devices itself");
        if ((n = child(v, "driver")))
                drop(st, n, "video driver tuning is not set by vfioctl");
}

static void map_graphics(state *st, xmlNode *g)
{
        const char *type = attr(g, "type");

        st->graphics = g;
        key_line(st, "display", "protocol", line_of(g));

        if (type && strcmp(type, "spice") == 0)
                st->c->display.protocol = VM_PROTOCOL_SPICE;
        else if (type && strcmp(type, "vnc") == 0)
                st->c->display.protocol = VM_PROTOCOL_VNC;
        else {
                drop(st, g, "only SPICE and VNC displays are supported");
                return;
        }
        /* vfioctl serves SPICE/VNC on a unix socket only the user can reach, never on TCP. */
        ignore(st, g, "the display is served on a unix socket ([display] socket), not TCP");
}

static void map_sound(state *st, xmlNode *s, bool *seen)
{
        const char *model = attr(s, "model");
        xmlNode *n;

        if (*seen) {
                drop(st, s, "vfioctl has one sound device");
                return;
        }
        *seen = true;
        if (model && strcmp(model, "ich9") == 0)
                st->c->audio.device = VM_AUDIO_ICH9_HDA;
        else if (model && strcmp(model, "ich6") == 0)
                st->c->audio.device = VM_AUDIO_INTEL_HDA;
        else if (model && strcmp(model, "ac97") == 0)
                st->c->audio.device = VM_AUDIO_AC97;
        else {
                drop(st, s, "only ich9, ich6 (intel-hda) and ac97 sound devices are supported");
                return;
        }
        st->c->audio.enabled = true;
        if ((n = child(s, "codec"))) {
                if (attr_is(n, "type", "output"))
                        st->c->audio.codec = VM_CODEC_OUTPUT;
                else if (!attr_is(n, "type", "duplex") && !attr_is(n, "type", "micro"))
                        drop(st, n, "only duplex and output HDA codecs are supported");
        }
        if ((n = child(s, "audio")))
                attr(n, "id");
        if ((n = child(s, "address")))
                ignore(st, n, "guest address: vfioctl places devices itself");
}

static void map_audio(state *st, xmlNode *a)
{
        const char *type = attr(a, "type");

        attr(a, "id");
        if (type && (strcmp(type, "pulseaudio") == 0 || strcmp(type, "pipewire") == 0)) {
                const char *server = attr(a, "serverName");

                /* pipewire-pulse serves the PulseAudio protocol on the same socket. */
                st->c->audio.backend = VM_AUDIO_PA;
                if (server && server[0] == '/')
                        set_str(st, &st->c->audio.server, server);
                else if (server)
                        drop_attr(st, a, "serverName", "vfioctl takes a PulseAudio socket path");
                if (strcmp(type, "pipewire") == 0)
                        note(st, a, "PipeWire's own backend (libvirt 9.3+) became pa (pipewire-pulse)");
        } else if (type && strcmp(type, "alsa") == 0)
                st->c->audio.backend = VM_AUDIO_ALSA;
        else if (type && strcmp(type, "none") == 0)
                st->c->audio.backend = VM_AUDIO_NONE;
        else {
                st->c->audio.backend = VM_AUDIO_NONE;
                note(st, a, "audio backend '%s' is not supported; sound has no backend (none)",
                     type ? type : "");
        }
        for (xmlNode *n = a->children; n; n = n->next)
                if (n->type == XML_ELEMENT_NODE)
                        drop(st, n, "audio stream tuning is not mapped");
}

static void map_shmem(state *st, xmlNode *s)
{
        const char *name = attr(s, "name");
        xmlNode *model = child(s, "model"), *size = child(s, "size"), *n;
        uint64_t bytes = 0;

        if (!name || (model && !attr_is(model, "type", "ivshmem-plain")) || st->c->looking_glass.enabled) {
                drop(st, s, "only one ivshmem-plain region (Looking Glass) is supported");
                return;
        }
        /* libvirt puts ivshmem-plain memory at /dev/shm/NAME (formatdomain.rst, "Shared memory device"). */
        st->c->looking_glass.enabled = true;
        if (strcmp(name, "looking-glass") != 0) {
                char *p;

                if (asprintf(&p, "/dev/shm/%s", name) < 0) {
                        oom(st);
                        return;
                }
                free(st->c->looking_glass.path);
                st->c->looking_glass.path = p;
        }
        /* The size vfioctl computes for the resolution stays implicit (export writes it out). */
        if (size && scaled_elem(st, size, 1, &bytes) &&
            bytes != vm_looking_glass_size(st->c->looking_glass.width, st->c->looking_glass.height))
                st->c->looking_glass.size = bytes;
        if ((n = child(s, "address")))
                ignore(st, n, "guest address: vfioctl places devices itself");
}

static void map_tpm(state *st, xmlNode *t)
{
        xmlNode *b = child(t, "backend");

        attr(t, "model");
        if (!b || !attr_is(b, "type", "emulator")) {
                drop(st, t, "only the emulated TPM (swtpm) is supported");
                return;
        }
        st->c->tpm.enabled = true;
        if (!attr_is(t, "model", "tpm-crb"))
                note(st, t, "vfioctl's TPM is tpm-crb");
        if (attr(b, "version") && !attr_is(b, "version", "2.0"))
                drop_attr(st, b, "version", "vfioctl's TPM is 2.0");
        for (xmlNode *n = b->children; n; n = n->next)
                if (n->type == XML_ELEMENT_NODE)
                        ignore(st, n, "swtpm's state location is vfioctl's ([tpm] socket)");
}

static void map_filesystem(state *st, xmlNode *f)
{
        xmlNode *drv = child(f, "driver"), *src = child(f, "source"), *tgt = child(f, "target");
        const char *dir = attr(src, "dir"), *tag = attr(tgt, "dir");
        _cleanup_free_ char *name = NULL;
        vm_share *s;

        attr(f, "type");
        attr(f, "accessmode");
        if (!attr_is(drv, "type", "virtiofs") || !dir || dir[0] != '/') {
                drop(st, f, "only virtiofs shares of a host directory are supported");
                return;
        }
        name = section_name(tag, "share", (unsigned)st->c->n_shares);
        if (!name) {
                oom(st);
                return;
        }
        s = PUSH(st, shares, name, line_of(f));
        if (!s)
                return;
        s->line = line_of(f);
        s->type = VM_SHARE_VIRTIOFS;
        if (!(s->path = strdup(dir))) {
                oom(st);
                return;
        }
        for (xmlNode *n = f->children; n; n = n->next)
                if (n->type == XML_ELEMENT_NODE && n->_private != USED)
                        ignore(st, n, "virtiofsd runs beside QEMU; see the [share] note");
}

static void map_devices(state *st, xmlNode *dom)
{
        xmlNode *devs = child(dom, "devices");
        bool video = false, sound = false;

        if (!devs)
                return;
        for (xmlNode *d = devs->children; d; d = d->next) {
                if (d->type != XML_ELEMENT_NODE)
                        continue;
                use(d);
                /* Every device's <alias> is libvirt's naming (user aliases become section names below). */
                (void)user_alias(d);
                if (is_elem(d, "emulator")) {
                        _cleanup_free_ char *e = text(d);

                        const char *base = e ? strrchr(e, '/') : NULL;

                        /* Debian's qemu-system-x86_64 stays the PATH name; another binary is kept as is. */
                        if (e && *e && strcmp(base ? base + 1 : e, "qemu-system-x86_64") != 0) {
                                set_str(st, &st->c->vm.emulator, e);
                                note(st, d,
                                     "a QEMU binary other than qemu-system-x86_64; check it exists here");
                        }
                } else if (is_elem(d, "disk"))
                        map_disk(st, d);
                else if (is_elem(d, "interface"))
                        map_interface(st, d);
                else if (is_elem(d, "hostdev"))
                        map_hostdev(st, d);
                else if (is_elem(d, "input"))
                        map_input(st, d);
                else if (is_elem(d, "video"))
                        map_video(st, d, &video);
                else if (is_elem(d, "graphics"))
                        map_graphics(st, d);
                else if (is_elem(d, "sound"))
                        map_sound(st, d, &sound);
                else if (is_elem(d, "audio"))
                        map_audio(st, d);
                else if (is_elem(d, "shmem"))
                        map_shmem(st, d);
                else if (is_elem(d, "tpm"))
                        map_tpm(st, d);
                else if (is_elem(d, "filesystem"))
                        map_filesystem(st, d);
                else if (is_elem(d, "controller")) {
                        /* pcie-root-port with a "ua-spare" alias: vfioctl's own spare hotplug ports. */
                        const char *alias = user_alias(d);

                        if (attr_is(d, "model", "pcie-root-port") && alias &&
                            strncmp(alias, "ua-spare", 8) == 0)
                                st->c->vm.spare_root_ports++;
                        else if (attr_is(d, "type", "scsi") && attr(d, "model") &&
                                 !attr_is(d, "model", "virtio-scsi"))
                                drop(st, d, "SCSI disks go on virtio-scsi in vfioctl");
                        else if (attr_is(d, "type", "scsi") && child(d, "driver") &&
                                 attr(child(d, "driver"), "iothread")) {
                                /* The controller's I/O thread serves its disks: iothread = yes on each. */
                                st->scsi_iothread = true;
                                ignore(st, d,
                                       "virtio-scsi controller with an I/O thread: iothread = yes on its disks");
                        } else
                                ignore(st, d,
                                       "controllers are added by QEMU and vfioctl as the devices need them");
                } else if (is_elem(d, "memballoon")) {
                        if (!attr_is(d, "model", "none"))
                                drop(st, d, "no balloon: memory pinned for VFIO cannot be ballooned");
                        else
                                mark_tree(d);
                } else if (is_elem(d, "channel") || is_elem(d, "serial") || is_elem(d, "console"))
                        drop(st, d,
                             "serial ports, consoles and guest-agent channels are not set by vfioctl");
                else if (is_elem(d, "redirdev"))
                        drop(st, d,
                             "SPICE USB redirection is not set by vfioctl; pass USB devices with [usb]");
                else
                        drop(st, d, "a device vfioctl does not set");
        }
}

/* "ua-gpu-NAME-F" (written by export) to NAME, for prefix "ua-gpu-"; NULL when it has another form. */
static char *hostdev_alias_name(const char *alias, const char *prefix)
{
        size_t n = strlen(prefix), len;
        _cleanup_free_ char *s = NULL;
        char *dash;

        if (!alias || strncmp(alias, prefix, n) != 0)
                return NULL;
        s = strdup(alias + n);
        if (!s)
                return NULL;
        dash = strrchr(s, '-');
        if (dash && dash[1] && strspn(dash + 1, "0123456789") == strlen(dash + 1))
                *dash = 0;
        len = strlen(s);
        return len ? section_name(s, prefix, 0) : NULL;
}

/* Groups the passed-through functions by slot: several functions make a [gpu], one a [pci]. */
static void map_hostdev_groups(state *st)
{
        bool *done = calloc(st->n_hds + 1, sizeof(bool));
        unsigned n_gpu = 0, n_pci = 0;

        if (!done) {
                oom(st);
                return;
        }
        for (size_t i = 0; i < st->n_hds && st->r >= 0; i++) {
                _cleanup_strv_free_ char **members = NULL;
                _cleanup_free_ char *name = NULL;
                const hostdev *first = NULL;
                char buf[VFIO_PCI_ADDR_MAX + 8];
                size_t count = 0;
                vm_pci *p;

                if (done[i])
                        continue;
                /* Members in function order, function 0 (or the lowest) first. */
                for (unsigned fn = 0; fn < 8; fn++)
                        for (size_t j = i; j < st->n_hds; j++) {
                                const hostdev *h = &st->hds[j];

                                if (done[j] || h->addr.domain != st->hds[i].addr.domain ||
                                    h->addr.bus != st->hds[i].addr.bus ||
                                    h->addr.slot != st->hds[i].addr.slot || h->addr.func != fn)
                                        continue;
                                done[j] = true;
                                if (!first)
                                        first = h;
                                if (h->addr.domain)
                                        snprintf(buf, sizeof(buf), "%04x:%02x:%02x.%x", h->addr.domain,
                                                 h->addr.bus, h->addr.slot, h->addr.func);
                                else
                                        snprintf(buf, sizeof(buf), "%02x:%02x.%x", h->addr.bus, h->addr.slot,
                                                 h->addr.func);
                                if (strv_extend(&members, buf) < 0)
                                        goto nomem;
                                count++;
                                if (h != first && (h->romfile || h->rombar_off)) {
                                        /* Only function 0 carries the ROM in vfioctl's [gpu]. */
                                        add_item(st, true, h->line, strdup("<rom> on a secondary function"),
                                                 "vfioctl sets the ROM of function 0 only");
                                }
                                if (h != first && (h->bootindex || h->x_vga))
                                        add_item(st, true, h->line,
                                                 strdup(h->bootindex ? "<boot order> on a secondary function"
                                                                     : "x-vga on a secondary function"),
                                                 "vfioctl sets it on the device's first function");
                        }
                /* A GPU: several functions, or the one function with x-vga (a [pci] has no x_vga). */
                if (count > 1 || first->x_vga) {
                        char def[16];

                        snprintf(def, sizeof(def), n_gpu ? "gpu%u" : "gpu", n_gpu + 1);
                        name = hostdev_alias_name(first->alias, "ua-gpu-") ?: strdup(def);
                        if (!name)
                                goto nomem;
                        p = PUSH(st, gpus, name, first->line);
                        n_gpu++;
                } else {
                        name = hostdev_alias_name(first->alias, "ua-pci-")
                                       ?: section_name(NULL, "hostdev", n_pci);
                        if (!name)
                                goto nomem;
                        p = PUSH(st, pcis, name, first->line);
                        n_pci++;
                }
                if (!p)
                        break;
                p->line = first->line;
                p->rombar = !first->rombar_off;
                p->bootindex = first->bootindex;
                p->x_vga = first->x_vga;
                p->functions_auto = count == 1 && !first->x_vga;
                if (first->romfile && !(p->romfile = strdup(first->romfile)))
                        goto nomem;
                p->device = strdup(members[0]);
                if (!p->device)
                        goto nomem;
                if (count > 1) {
                        if (strv_extend(&p->functions, members[1]) < 0)
                                goto nomem;
                        for (size_t k = 2; k < count; k++)
                                if (strv_extend(&p->functions, members[k]) < 0)
                                        goto nomem;
                }
        }
        free(done);
        return;
nomem:
        free(done);
        oom(st);
}

/* ---- <qemu:commandline> -------------------------------------------------------------------------- */

/*
 * QEMU arguments a libvirt user added (formatdomain.rst, "QEMU command-line passthrough"). Each one with a
 * vfioctl meaning becomes config, all of it or nothing: a translator checks every property first and
 * returns a reason when one has no key. What is left is an error naming the argument and its line, or,
 * with --keep-unknown-args, kept verbatim in [vm] extra_args and listed. A passthrough device is never
 * lost without one of the two.
 */

/* Splits "a=b,c,d=e" on commas (",," is an escaped comma, qemu-options.hx). */
static int split_opts(const char *s, char ***ret)
{
        _cleanup_strv_free_ char **out = NULL;
        _cleanup_free_ char *cur = malloc(strlen(s) + 1);
        size_t n = 0;
        int r;

        if (!cur)
                return -ENOMEM;
        for (const char *p = s;; p++) {
                if (*p == ',' && p[1] == ',') {
                        cur[n++] = ',';
                        p++;
                } else if (*p == ',' || !*p) {
                        cur[n] = 0;
                        if ((r = strv_extend(&out, cur)) < 0)
                                return r;
                        n = 0;
                        if (!*p)
                                break;
                } else
                        cur[n++] = *p;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

static bool opt_on(const char *v)
{
        return !v || !strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true");
}

static bool opt_bool(const char *v)
{
        return v && (opt_on(v) || !strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false"));
}

static const char *kv(const char *piece, const char *key)
{
        size_t n = strlen(key);

        return strncmp(piece, key, n) == 0 && piece[n] == '=' ? piece + n + 1 : NULL;
}

/* One argument with its value, as libvirt put them on QEMU's command line. */
typedef struct qarg {
        unsigned line;
        const char *opt, *value; /* owned by the document */
        char *reason;            /* why it was not translated (NULL: translated) */
} qarg;

/*
 * An option value as properties: QEMU's "driver,key=value" (',,' escapes a comma) or its JSON form
 * ({"driver":"vfio-pci","host":"0a:00.0"}, qemu-options.hx: -object and -device take both). The implied
 * first key (driver, qom-type) is "". Every property read is marked, so an unknown one can be named.
 */
typedef struct props {
        char **keys, **values;
        bool *used;
        size_t n;
} props;

static void props_done(props *p)
{
        strv_free(p->keys);
        strv_free(p->values);
        free(p->used);
        *p = (props){};
}

static int props_add(props *p, const char *k, const char *v)
{
        int r;

        if ((r = strv_extend(&p->keys, k)) < 0 || (r = strv_extend(&p->values, v)) < 0)
                return r;
        p->n++;
        return 0;
}

/* -EINVAL: JSON that is not an object of plain values. */
static int props_parse(const char *value, const char *implied, props *ret)
{
        props p = {};
        int r = 0;

        if (value[0] == '{') {
                json_object *j = json_tokener_parse(value);

                if (!j || !json_object_is_type(j, json_type_object)) {
                        json_object_put(j);
                        return -EINVAL;
                }
                json_object_object_foreach(j, key, val)
                {
                        char buf[32];
                        const char *s;

                        if (json_object_is_type(val, json_type_boolean))
                                s = json_object_get_boolean(val) ? "on" : "off";
                        else if (json_object_is_type(val, json_type_int)) {
                                snprintf(buf, sizeof(buf), "%" PRId64, json_object_get_int64(val));
                                s = buf;
                        } else if (json_object_is_type(val, json_type_string))
                                s = json_object_get_string(val);
                        else {
                                r = -EINVAL;
                                break;
                        }
                        if ((r = props_add(&p, implied && !strcmp(key, implied) ? "" : key, s)) < 0)
                                break;
                }
                json_object_put(j);
        } else {
                _cleanup_strv_free_ char **pieces = NULL;

                r = split_opts(value, &pieces);
                STRV_FOREACH(piece, pieces) {
                        const char *eq = strchr(*piece, '=');
                        _cleanup_free_ char *k = eq ? strndup(*piece, (size_t)(eq - *piece)) : NULL;

                        if (eq && !k)
                                r = -ENOMEM;
                        else if (eq)
                                r = props_add(&p, !strcmp(k, implied ?: "") ? "" : k, eq + 1);
                        else
                                r = props_add(&p, piece == pieces && implied ? "" : *piece,
                                              piece == pieces && implied ? *piece : "on");
                        if (r < 0)
                                break;
                }
        }
        if (r >= 0 && !(p.used = calloc(p.n + 1, sizeof(bool))))
                r = -ENOMEM;
        if (r < 0) {
                props_done(&p);
                return r;
        }
        *ret = p;
        return 0;
}

static const char *prop(props *p, const char *key)
{
        for (size_t i = 0; i < p->n; i++)
                if (!strcmp(p->keys[i], key)) {
                        p->used[i] = true;
                        return p->values[i];
                }
        return NULL;
}

/* Marks properties that only place the device in the guest (vfioctl places devices itself). */
static void props_placement(props *p)
{
        prop(p, "id");
        prop(p, "bus");
        prop(p, "addr");
        prop(p, "multifunction");
}

/* NULL when every property was read; else "has no vfioctl key for property 'x-foo'" (malloc'd). */
static char *props_leftover(const props *p, const char *what)
{
        char *s;

        for (size_t i = 0; i < p->n; i++)
                if (!p->used[i])
                        return asprintf(&s, "%s property '%s' has no vfioctl key", what, p->keys[i]) < 0
                                       ? NULL
                                       : s;
        return NULL;
}

static char *reason(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *reason(const char *fmt, ...)
{
        char *s;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}

/* A number as QEMU takes it: decimal or 0x-hex. */
static bool prop_uint(const char *v, uint64_t max, uint64_t *ret)
{
        return v && parse_uint(v, 0, max, ret) == 0;
}

/* -device vfio-pci,host=0a:00.0 (or sysfsdev=/sys/bus/pci/devices/...): a passed PCI function. */
static char *translate_vfio_pci(state *st, unsigned line, props *p)
{
        const char *host = prop(p, "host"), *sysfs = prop(p, "sysfsdev"), *xvga = prop(p, "x-vga"),
                   *romfile = prop(p, "romfile"), *rombar = prop(p, "rombar"), *boot = prop(p, "bootindex");
        vfio_pci_addr a;
        uint64_t bar = 1, bi = 0;
        char *why;
        hostdev *t;

        props_placement(p);
        if ((why = props_leftover(p, "vfio-pci")))
                return why;
        if (sysfs && !strncmp(sysfs, "/sys/bus/pci/devices/", 21))
                host = sysfs + 21;
        if (!host || vfio_pci_addr_parse(host, &a) < 0)
                return reason("vfio-pci needs host=BB:SS.F (or sysfsdev=/sys/bus/pci/devices/DDDD:BB:SS.F)");
        if (xvga && !opt_bool(xvga))
                return reason("x-vga='%s' is not on or off", xvga);
        if (rombar && !prop_uint(rombar, 1, &bar))
                return reason("rombar='%s' is not 0 or 1", rombar);
        if (romfile && romfile[0] != '/')
                return reason("romfile='%s' is not an absolute path", romfile);
        if (boot && (!prop_uint(boot, 99, &bi) || bi == 0))
                return reason("bootindex='%s' is not from 1 to 99", boot);
        t = realloc(st->hds, (st->n_hds + 1) * sizeof(*t));
        if (!t) {
                oom(st);
                return NULL;
        }
        st->hds = t;
        t += st->n_hds++;
        *t = (hostdev){ .addr = a,
                        .line = line,
                        .rombar_off = bar == 0,
                        .x_vga = xvga && opt_on(xvga),
                        .bootindex = (unsigned)bi };
        if (romfile && !(t->romfile = strdup(romfile)))
                oom(st);
        return NULL;
}

/* -device usb-host,vendorid=0x046d,productid=0xc52b or hostbus=3,hostport=2.1. */
static char *translate_usb_host(state *st, unsigned line, props *p)
{
        const char *vid = prop(p, "vendorid"), *pid = prop(p, "productid"), *bus = prop(p, "hostbus"),
                   *port = prop(p, "hostport"), *boot = prop(p, "bootindex"), *addr = prop(p, "hostaddr");
        _cleanup_free_ char *name = NULL;
        uint64_t v = 0, pr = 0, b = 0, bi = 0;
        char *why;
        vm_usb *u;

        props_placement(p);
        prop(p, "port"); /* the guest's USB port */
        if ((why = props_leftover(p, "usb-host")))
                return why;
        if (addr)
                return reason(
                        "usb-host by hostaddr (a device number that changes at every plug): use vendorid/productid or hostbus/hostport");
        if (boot && (!prop_uint(boot, 99, &bi) || bi == 0))
                return reason("bootindex='%s' is not from 1 to 99", boot);
        if (vid || pid) {
                if (!prop_uint(vid, 0xffff, &v) || !prop_uint(pid, 0xffff, &pr) || bus || port)
                        return reason(
                                "usb-host needs both vendorid and productid (0x046d, 0xc52b), without hostbus/hostport");
        } else if (!prop_uint(bus, 255, &b) || b == 0 || !port || !*port ||
                   strspn(port, "0123456789.") != strlen(port))
                return reason("usb-host needs vendorid/productid or hostbus with hostport (2.1)");
        name = section_name(prop(p, "id"), "usb", (unsigned)st->c->n_usbs);
        if (!name) {
                oom(st);
                return NULL;
        }
        u = PUSH(st, usbs, name, line);
        if (!u)
                return NULL;
        u->line = line;
        u->bootindex = (unsigned)bi;
        if (vid) {
                u->vendor = (uint16_t)v;
                u->product = (uint16_t)pr;
                u->has_id = true;
        } else {
                u->host_bus = (unsigned)b;
                set_str(st, &u->host_port, port);
        }
        return NULL;
}

/* -object input-linux,id=kbd1,evdev=/dev/input/...,grab_all=on,repeat=on. */
static char *translate_input_linux(state *st, unsigned line, props *p)
{
        const char *id = prop(p, "id"), *evdev = prop(p, "evdev"), *grab = prop(p, "grab_all"),
                   *repeat = prop(p, "repeat"), *toggle = prop(p, "grab-toggle");
        _cleanup_free_ char *name = NULL;
        char *why;
        vm_input *in;

        if ((why = props_leftover(p, "input-linux")))
                return why;
        if (!evdev || evdev[0] != '/')
                return reason("input-linux needs evdev=/dev/input/...");
        if ((grab && !opt_bool(grab)) || (repeat && !opt_bool(repeat)))
                return reason("grab_all and repeat are on or off");
        name = section_name(id, "evdev", (unsigned)st->c->n_inputs);
        if (!name) {
                oom(st);
                return NULL;
        }
        in = PUSH(st, inputs, name, line);
        if (!in)
                return NULL;
        in->line = line;
        in->type = VM_INPUT_EVDEV;
        in->grab_all = grab && opt_on(grab);
        in->repeat = repeat && opt_on(repeat);
        set_str(st, &in->evdev, evdev);
        if (toggle)
                set_str(st, &in->grab_toggle, toggle);
        return NULL;
}

/* -drive if=pflash,format=raw,unit=0,readonly=on,file=...: OVMF as two pflash drives (OvmfPkg/README). */
static char *translate_pflash(state *st, props *p)
{
        const char *file = prop(p, "file"), *unit = prop(p, "unit"), *ro = prop(p, "readonly"),
                   *format = prop(p, "format");
        bool code;
        char *why;

        prop(p, "if");
        if ((why = props_leftover(p, "pflash")))
                return why;
        if (format && strcmp(format, "raw") != 0)
                return reason("format='%s': vfioctl uses raw firmware images", format);
        if (!file || file[0] != '/')
                return reason("a pflash drive without an absolute file=");
        code = (ro && opt_on(ro)) || (unit && !strcmp(unit, "0"));
        st->c->firmware.type = VM_FIRMWARE_OVMF;
        set_str(st, code ? &st->c->firmware.code : &st->c->firmware.vars, file);
        return NULL;
}

/* -rtc base=localtime,driftfix=slew (qemu-options.hx, -rtc). */
static char *translate_rtc(state *st, props *p)
{
        const char *base = prop(p, "base"), *drift = prop(p, "driftfix"), *clock = prop(p, "clock");
        char *why;

        if ((why = props_leftover(p, "-rtc")))
                return why;
        if (base && strcmp(base, "utc") && strcmp(base, "localtime"))
                return reason("base='%s': vfioctl keeps the RTC in utc or localtime", base);
        if (drift && strcmp(drift, "slew") && strcmp(drift, "none"))
                return reason("driftfix='%s' is not slew or none", drift);
        if (clock && strcmp(clock, "host"))
                return reason("clock='%s': vfioctl keeps QEMU's default (host)", clock);
        if (base)
                st->c->vm.rtc_localtime = !strcmp(base, "localtime");
        if (drift)
                st->c->vm.rtc_catchup = !strcmp(drift, "slew");
        return NULL;
}

/* -fw_cfg name=opt/ovmf/X-PciMmio64Mb,string=65536: OVMF's 64-bit MMIO window in MiB. */
static char *translate_fw_cfg(state *st, unsigned line, props *p)
{
        const char *name = prop(p, ""), *string = prop(p, "string");
        uint64_t mb;
        char *why;

        if ((why = props_leftover(p, "-fw_cfg")))
                return why;
        if (!name || strcmp(name, "opt/ovmf/X-PciMmio64Mb") != 0)
                return reason("fw_cfg '%s': vfioctl knows opt/ovmf/X-PciMmio64Mb only", name ? name : "");
        if (!string || parse_uint(string, 10, 1ULL << 24, &mb) < 0 || mb < 1024)
                return reason("X-PciMmio64Mb string='%s' is not a size in MiB from 1024",
                              string ? string : "");
        st->c->firmware.mmio64_size = mb << 20;
        key_line(st, "firmware", "mmio64_size", line);
        return NULL;
}

/* Sound devices: the HDA controllers, their codecs, AC97. */
static char *translate_sound(state *st, unsigned line, const char *driver, props *p)
{
        char *why;

        props_placement(p);
        prop(p, "audiodev");
        prop(p, "cad");
        if ((why = props_leftover(p, driver)))
                return why;
        st->c->audio.enabled = true;
        if (!strcmp(driver, "ich9-intel-hda"))
                st->c->audio.device = VM_AUDIO_ICH9_HDA;
        else if (!strcmp(driver, "intel-hda"))
                st->c->audio.device = VM_AUDIO_INTEL_HDA;
        else if (!strcmp(driver, "AC97"))
                st->c->audio.device = VM_AUDIO_AC97;
        else {
                st->c->audio.codec = !strcmp(driver, "hda-output") ? VM_CODEC_OUTPUT : VM_CODEC_DUPLEX;
                if (!strcmp(driver, "hda-micro"))
                        add_item(st, false, line, strdup("<qemu:arg> -device hda-micro"),
                                 "became codec = hda-duplex (the same two streams)");
        }
        return NULL;
}

/* -audiodev pa,id=x,server=/run/user/1000/pulse/native (and alsa, none). */
static char *translate_audiodev(state *st, unsigned line, props *p)
{
        const char *driver = prop(p, ""), *server = prop(p, "server"), *dev = prop(p, "out.dev"),
                   *in_dev = prop(p, "in.dev"), *buf = prop(p, "out.buffer-length"),
                   *in_buf = prop(p, "in.buffer-length"), *timer = prop(p, "timer-period");
        uint64_t b = 0, tp = 0;
        char *why;

        prop(p, "id");
        if ((why = props_leftover(p, "-audiodev")))
                return why;
        if (!driver || (strcmp(driver, "pa") && strcmp(driver, "alsa") && strcmp(driver, "none") &&
                        strcmp(driver, "pipewire")))
                return reason("audio backend '%s': vfioctl has pa, alsa and none", driver ? driver : "");
        if (server && (strcmp(driver, "pa") || server[0] != '/'))
                return reason("server='%s': vfioctl takes a PulseAudio socket path", server);
        if ((dev || in_dev) && (strcmp(driver, "alsa") || (dev && in_dev && strcmp(dev, in_dev))))
                return reason("out.dev/in.dev: vfioctl has one ALSA device for both directions");
        if ((buf && (!prop_uint(buf, 1000000, &b) || b < 1000)) || (in_buf && (!buf || strcmp(buf, in_buf))))
                return reason("buffer-length: vfioctl has one for both directions, 1000 to 1000000 us");
        if (timer && (!prop_uint(timer, 1000000, &tp) || tp < 100))
                return reason("timer-period='%s' is not from 100 to 1000000 us", timer);
        st->c->audio.backend = !strcmp(driver, "alsa")   ? VM_AUDIO_ALSA
                               : !strcmp(driver, "none") ? VM_AUDIO_NONE
                                                         : VM_AUDIO_PA;
        if (!strcmp(driver, "pipewire"))
                add_item(
                        st, false, line, strdup("<qemu:arg> -audiodev pipewire"),
                        "became pa: QEMU 7.2 has no PipeWire backend; pipewire-pulse serves the PulseAudio socket");
        if (server)
                set_str(st, &st->c->audio.server, server);
        if (dev || in_dev)
                set_str(st, &st->c->audio.alsa_device, dev ?: in_dev);
        st->c->audio.buffer_length = (unsigned)b;
        st->c->audio.timer_period = (unsigned)tp;
        return NULL;
}

/*
 * -cpu MODEL,flags: QEMU keeps only the last -cpu, so this one replaces libvirt's whole CPU (model,
 * <hyperv>, <kvm hidden>, <feature>): the import does the same, and says what the XML had that QEMU never
 * saw.
 */
static char *translate_cpu(state *st, unsigned line, const char *value)
{
        _cleanup_strv_free_ char **pieces = NULL, **hv = NULL, **features = NULL;
        _cleanup_free_ char *model = NULL, *vendor = NULL;
        bool hide = false;
        int r;

        r = split_opts(value, &pieces);
        if (r < 0) {
                oom(st);
                return NULL;
        }
        STRV_FOREACH(p, pieces) {
                const char *v = strchr(*p, '=');
                _cleanup_free_ char *key = v ? strndup(*p, (size_t)(v - *p)) : strdup(*p);
                bool on;

                if (!key) {
                        oom(st);
                        return NULL;
                }
                v = v ? v + 1 : NULL;
                for (char *c = key; *c; c++)
                        if (*c == '_')
                                *c = '-';
                if (p == pieces && !v && key[0] != '+' && key[0] != '-') {
                        model = strdup(*p);
                        if (!model) {
                                oom(st);
                                return NULL;
                        }
                        continue;
                }
                if (!strcmp(key, "kvm") && opt_bool(v)) {
                        hide = !opt_on(v);
                        continue;
                }
                if (!strcmp(key, "hv-vendor-id") && v) {
                        free(vendor);
                        vendor = strdup(v);
                        if (!vendor) {
                                oom(st);
                                return NULL;
                        }
                        continue;
                }
                if ((key[0] == '+' || key[0] == '-') && !v) {
                        on = key[0] == '+';
                        memmove(key, key + 1, strlen(key));
                } else if (!v || opt_bool(v))
                        on = opt_on(v);
                else if (!strncmp(key, "hv-", 3) && strspn(v, "0123456789abcdefxABCDEFX") == strlen(v)) {
                        char buf[96];

                        snprintf(buf, sizeof(buf), "%s=%s", key, v);
                        if (strv_extend(&hv, buf) < 0) {
                                oom(st);
                                return NULL;
                        }
                        continue;
                } else
                        return reason("-cpu '%s': a CPU property with a value vfioctl has no key for", *p);
                if (!strncmp(key, "hv-", 3)) {
                        if (on && strv_extend(&hv, key) < 0) {
                                oom(st);
                                return NULL;
                        }
                        if (!on)
                                return reason("-cpu '%s': an enlightenment turned off", *p);
                        continue;
                }
                {
                        char buf[96];

                        snprintf(buf, sizeof(buf), "%c%s", on ? '+' : '-', key);
                        if (strv_extend(&features, buf) < 0) {
                                oom(st);
                                return NULL;
                        }
                }
        }
        if (!model)
                return reason("-cpu without a CPU model first");
        if (st->hv || st->c->cpu.features || st->c->cpu.hide_kvm || st->c->cpu.hyperv_vendor_id)
                add_item(
                        st, false, line, strdup("<qemu:arg> -cpu"),
                        "replaces libvirt's -cpu (QEMU keeps the last): the XML's <hyperv>, <kvm><hidden> and CPU <feature>s never reached QEMU, so the import leaves them out too; add them to this -cpu or to [cpu] to have them");
        set_str(st, &st->c->cpu.model, model);
        st->c->cpu.hide_kvm = hide;
        strv_free(st->hv);
        st->hv = TAKE_PTR(hv);
        strv_free(st->c->cpu.features);
        st->c->cpu.features = TAKE_PTR(features);
        free(st->c->cpu.hyperv_vendor_id);
        st->c->cpu.hyperv_vendor_id = TAKE_PTR(vendor);
        return NULL;
}

/* -machine pieces merge with libvirt's (QEMU merges -machine options). */
static bool machine_piece(state *st, const char *piece, bool first)
{
        const char *v;
        uint64_t sz;

        if (first && !strchr(piece, '=')) {
                if (!strncmp(piece, "pc-q35", 6) || !strcmp(piece, "q35"))
                        st->c->vm.machine = VM_MACHINE_Q35;
                else if (!strcmp(piece, "pc") || !strncmp(piece, "pc-", 3))
                        st->c->vm.machine = VM_MACHINE_I440FX;
                else
                        return false;
        } else if ((v = kv(piece, "max-ram-below-4g"))) {
                if (parse_size(v, &sz) < 0 || sz == 0 || sz > 4ULL << 30)
                        return false;
                st->c->vm.max_ram_below_4g = sz;
        } else if ((v = kv(piece, "accel")))
                st->c->vm.accel = strcmp(v, "tcg") == 0 ? VM_ACCEL_TCG : VM_ACCEL_KVM;
        else if ((v = kv(piece, "usb")) && !opt_on(v))
                ; /* usb=off is vfioctl's too: -nodefaults, a USB controller only with [usb]. */
        else if ((v = kv(piece, "vmport")))
                st->c->vm.vmport = opt_on(v);
        else if ((v = kv(piece, "hpet")))
                st->c->vm.hpet = opt_on(v);
        else if ((v = kv(piece, "type")))
                st->c->vm.machine =
                        !strncmp(v, "pc-q35", 6) || !strcmp(v, "q35") ? VM_MACHINE_Q35 : VM_MACHINE_I440FX;
        else
                return false;
        return true;
}

static char *translate_machine(state *st, const char *value)
{
        _cleanup_strv_free_ char **pieces = NULL;

        if (split_opts(value, &pieces) < 0) {
                oom(st);
                return NULL;
        }
        /* All pieces known first: a half-applied -machine would be neither translated nor kept. */
        {
                vm_config saved = *st->c;

                STRV_FOREACH(p, pieces)
                        if (!machine_piece(st, *p, p == pieces)) {
                                st->c->vm = saved.vm;
                                return reason("-machine '%s' has no vfioctl key", *p);
                        }
        }
        return NULL;
}

/* The value of an option, or NULL for options that take none. */
static bool takes_value(const char *opt)
{
        static const char *const flags[] = { "-S",          "-no-hpet",    "-no-reboot",      "-no-shutdown",
                                             "-enable-kvm", "-nodefaults", "-no-user-config", NULL };

        for (size_t i = 0; flags[i]; i++)
                if (!strcmp(opt, flags[i]))
                        return false;
        return true;
}

/* The key a value's first word stands for (qemu-options.hx: -device DRIVER, -object TYPE, -fw_cfg NAME). */
static const char *implied_key(const char *opt)
{
        return !strcmp(opt, "-device")     ? "driver"
               : !strcmp(opt, "-object")   ? "qom-type"
               : !strcmp(opt, "-fw_cfg")   ? "name"
               : !strcmp(opt, "-audiodev") ? "driver"
                                           : NULL;
}

/* Translates one argument; returns NULL (translated, or out of memory) or why not (malloc'd). */
static char *translate_arg(state *st, qarg *a, props *p, char ***lg_backends, size_t idx)
{
        const char *opt = a->opt, *drv;
        int r;

        if (!a->value)
                return reason("an option vfioctl has no key for");
        /* libvirt's device ids (hostdev0, net0) are not in vfioctl's argv, whose ids are hostdev-NAME-F. */
        if (!strcmp(opt, "-set") && !strncmp(a->value, "device.", 7))
                return reason(
                        "sets a property of a device by libvirt's id, which vfioctl's argv does not have (its passed devices are hostdev-NAME-F); vfioctl has no key for the property");
        if (!strcmp(opt, "-cpu"))
                return translate_cpu(st, a->line, a->value);
        if (!strcmp(opt, "-machine") || !strcmp(opt, "-M"))
                return translate_machine(st, a->value);
        r = props_parse(a->value, implied_key(opt), p);
        if (r == -ENOMEM) {
                oom(st);
                return NULL;
        }
        if (r < 0)
                return reason(
                        "not an option value QEMU parses (key=value list or a JSON object of plain values)");
        drv = prop(p, "");
        if (!strcmp(opt, "-rtc"))
                return translate_rtc(st, p);
        if (!strcmp(opt, "-fw_cfg"))
                return translate_fw_cfg(st, a->line, p);
        if (!strcmp(opt, "-audiodev"))
                return translate_audiodev(st, a->line, p);
        if (!strcmp(opt, "-drive") && prop(p, "if") && !strcmp(prop(p, "if"), "pflash"))
                return translate_pflash(st, p);
        if (!strcmp(opt, "-object") && drv && !strcmp(drv, "input-linux"))
                return translate_input_linux(st, a->line, p);
        if (!strcmp(opt, "-device") && drv && !strcmp(drv, "vfio-pci"))
                return translate_vfio_pci(st, a->line, p);
        if (!strcmp(opt, "-device") && drv && !strcmp(drv, "usb-host"))
                return translate_usb_host(st, a->line, p);
        if (!strcmp(opt, "-device") && drv &&
            (!strcmp(drv, "ich9-intel-hda") || !strcmp(drv, "intel-hda") || !strcmp(drv, "AC97") ||
             !strcmp(drv, "hda-duplex") || !strcmp(drv, "hda-micro") || !strcmp(drv, "hda-output")))
                return translate_sound(st, a->line, drv, p);
        /* Looking Glass: an ivshmem-plain device and its memory backend, paired once all are read. */
        if ((!strcmp(opt, "-device") && drv && !strcmp(drv, "ivshmem-plain")) ||
            (!strcmp(opt, "-object") && drv && !strcmp(drv, "memory-backend-file"))) {
                char buf[24];

                snprintf(buf, sizeof(buf), "%zu", idx);
                if (strv_extend(lg_backends, buf) < 0)
                        oom(st);
                return reason("pending");
        }
        return reason("an option vfioctl has no key for");
}

/*
 * The Looking Glass pair (its docs, "IVSHMEM"): -device ivshmem-plain,memdev=ID with -object
 * memory-backend-file,id=ID,mem-path=/dev/shm/... or /dev/kvmfr0,size=32M,share=on. Both become
 * [looking-glass]; one without the other, or a second pair, stays untranslated.
 */
static void translate_looking_glass(state *st, qarg *args, props *ps, char **pending)
{
        qarg *dev = NULL, *mem = NULL;
        props *pd = NULL, *pm = NULL;
        const char *memdev, *path, *size, *share;
        uint64_t sz = 0;
        char *why;

        STRV_FOREACH(s, pending) {
                size_t i = strtoul(*s, NULL, 10);
                const char *drv = prop(&ps[i], "");

                if (!strcmp(drv, "ivshmem-plain") && !dev)
                        dev = &args[i], pd = &ps[i];
        }
        if (!dev)
                return;
        memdev = prop(pd, "memdev");
        STRV_FOREACH(s, pending) {
                size_t i = strtoul(*s, NULL, 10);

                if (!strcmp(prop(&ps[i], ""), "memory-backend-file") && memdev && prop(&ps[i], "id") &&
                    !strcmp(prop(&ps[i], "id"), memdev))
                        mem = &args[i], pm = &ps[i];
        }
        props_placement(pd);
        if ((why = props_leftover(pd, "ivshmem-plain"))) {
                free(dev->reason);
                dev->reason = why;
                return;
        }
        if (!mem) {
                free(dev->reason);
                dev->reason = reason("ivshmem-plain memdev='%s' names no -object memory-backend-file",
                                     memdev ? memdev : "");
                return;
        }
        path = prop(pm, "mem-path");
        size = prop(pm, "size");
        share = prop(pm, "share");
        prop(pm, "prealloc");
        why = props_leftover(pm, "memory-backend-file");
        if (!why && !(path && path[0] == '/'))
                why = reason("memory-backend-file without an absolute mem-path");
        if (!why && (!size || parse_size(size, &sz) < 0 || sz < (1ULL << 20) || sz > (1ULL << 32)))
                why = reason("memory-backend-file size='%s' is not 1M to 4G", size ? size : "");
        if (!why && (!share || !opt_on(share)))
                why = reason(
                        "memory-backend-file without share=on: the Looking Glass client could not see it");
        if (why) {
                free(mem->reason);
                mem->reason = why;
                free(dev->reason);
                dev->reason = reason("its memory backend is not translated (line %u)", mem->line);
                return;
        }
        if (st->c->looking_glass.enabled) {
                free(dev->reason);
                dev->reason = reason("a second ivshmem region; vfioctl has one [looking-glass]");
                return;
        }
        st->c->looking_glass.enabled = true;
        /* A kvmfr module's device (Looking Glass docs, "kvmfr") rather than a /dev/shm file. */
        if (strncmp(path, "/dev/kvmfr", 10) == 0)
                st->c->looking_glass.device = VM_LG_KVMFR;
        if (strcmp(path, vm_looking_glass_path(st->c)) != 0)
                set_str(st, &st->c->looking_glass.path, path);
        if (sz != vm_looking_glass_size(st->c->looking_glass.width, st->c->looking_glass.height))
                st->c->looking_glass.size = sz;
        free(dev->reason);
        free(mem->reason);
        dev->reason = mem->reason = NULL;
}

/* Keeps what was not translated verbatim in [vm] extra_args, listed; false when it cannot be kept. */
static bool keep_arg(state *st, const qarg *a)
{
        if ((a->value && strpbrk(a->value, " \t\n")) || strpbrk(a->opt, " \t\n"))
                return false;
        if (strv_extend(&st->c->vm.extra_args, a->opt) < 0 ||
            (a->value && strv_extend(&st->c->vm.extra_args, a->value) < 0)) {
                oom(st);
                return true;
        }
        add_item(st, false, a->line,
                 reason("<qemu:arg> %s%s%s", a->opt, a->value ? " " : "", a->value ?: ""),
                 "kept verbatim in [vm] extra_args (--keep-unknown-args): %s", a->reason);
        if (st->imp->n_ignored && st->r >= 0)
                st->imp->ignored[st->imp->n_ignored - 1].approximate = true;
        return true;
}

/* Every argument not translated: kept (--keep-unknown-args) or one error listing them all. */
static void report_untranslated(state *st, qarg *args, size_t n)
{
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, count = 0;
        bool keep = st->flags & VM_LIBVIRT_KEEP_UNKNOWN_ARGS;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f) {
                oom(st);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                if (!args[i].reason || (keep && keep_arg(st, &args[i])))
                        continue;
                fprintf(f, "%s:%u: <qemu:arg> %s%s%.200s: %s%s\n", st->filename, args[i].line, args[i].opt,
                        args[i].value ? " " : "", args[i].value ?: "", args[i].reason,
                        keep ? " (and it holds spaces, which [vm] extra_args cannot keep)" : "");
                count++;
        }
        if (count && !keep)
                fprintf(f,
                        "vfioctl has no key for %s; import with --keep-unknown-args to keep %s verbatim in [vm] extra_args, or remove %s from the XML\n",
                        count == 1 ? "this QEMU argument" : "these QEMU arguments",
                        count == 1 ? "it" : "them", count == 1 ? "it" : "them");
        if (fclose(f) != 0) {
                oom(st);
                return;
        }
        /* Each line carries its own "FILE:LINE:", so the message is set whole rather than through fail(). */
        if (count && st->r >= 0) {
                if (size && buf[size - 1] == '\n')
                        buf[size - 1] = 0;
                st->error = TAKE_PTR(buf);
                st->r = -EINVAL;
        }
}

static void map_commandline(state *st, xmlNode *dom)
{
        qarg args[256];
        props ps[256] = {};
        _cleanup_strv_free_ char **pending = NULL;
        size_t n = 0;
        xmlNode *nodes[256];
        size_t n_nodes = 0;

        for (xmlNode *cl = dom->children; cl; cl = cl->next) {
                if (!(cl->type == XML_ELEMENT_NODE && cl->ns && cl->ns->href &&
                      strcmp((const char *)cl->ns->href, QEMU_NS) == 0))
                        continue;
                use(cl);
                if (strcmp(qname(cl), "commandline") != 0) {
                        drop(st, cl, "a QEMU namespace element vfioctl does not know");
                        continue;
                }
                for (xmlNode *a = cl->children; a; a = a->next) {
                        if (a->type != XML_ELEMENT_NODE)
                                continue;
                        use(a);
                        if (strcmp(qname(a), "arg") == 0 && attr(a, "value")) {
                                if (n_nodes < ELEMENTSOF(nodes))
                                        nodes[n_nodes++] = a;
                                else {
                                        fail(st, line_of(a),
                                             "more than 256 <qemu:arg>; vfioctl reads at most 256");
                                        return;
                                }
                        } else if (strcmp(qname(a), "env") == 0) {
                                const char *name = attr(a, "name"), *value = attr(a, "value");

                                /* QEMU's pre-5.0 audio variables (QEMU_AUDIO_DRV=pa, QEMU_PA_SERVER). */
                                if (name && value && !strcmp(name, "QEMU_AUDIO_DRV") && !strcmp(value, "pa"))
                                        st->c->audio.backend = VM_AUDIO_PA;
                                else if (name && value && !strcmp(name, "QEMU_PA_SERVER") && value[0] == '/')
                                        set_str(st, &st->c->audio.server, value);
                                else if (name && !strncmp(name, "QEMU_PA_", 8))
                                        ignore(st, a,
                                               "PulseAudio stream tuning is QEMU's default in vfioctl");
                                else
                                        drop(st, a, "QEMU environment variables are not set by vfioctl");
                        } else
                                drop(st, a, "not a qemu:arg");
                }
        }
        /* An option's value is the next argument unless the option takes none. */
        for (size_t i = 0; i < n_nodes; i++) {
                qarg *a = &args[n++];

                *a = (qarg){ .line = line_of(nodes[i]), .opt = attr(nodes[i], "value") };
                if (a->opt[0] != '-') {
                        a->value = a->opt;
                        a->opt = "";
                        a->reason = reason("a value without its option");
                        continue;
                }
                if (takes_value(a->opt) && i + 1 < n_nodes)
                        a->value = attr(nodes[++i], "value");
        }
        for (size_t i = 0; i < n && st->r >= 0; i++)
                if (!args[i].reason)
                        args[i].reason = translate_arg(st, &args[i], &ps[i], &pending, i);
        if (st->r >= 0 && pending)
                translate_looking_glass(st, args, ps, pending);
        STRV_FOREACH(s, pending) {
                size_t i = strtoul(*s, NULL, 10);

                if (args[i].reason && !strcmp(args[i].reason, "pending")) {
                        free(args[i].reason);
                        args[i].reason = reason(
                                "%s is not one half of vfioctl's one Looking Glass pair (-device ivshmem-plain,memdev=ID with -object memory-backend-file,id=ID,share=on)",
                                prop(&ps[i], ""));
                }
        }
        if (st->r >= 0)
                report_untranslated(st, args, n);
        for (size_t i = 0; i < n; i++) {
                free(args[i].reason);
                props_done(&ps[i]);
        }
}

/* ---- the sweep: whatever nobody read ------------------------------------------------------------- */

static void sweep(state *st, xmlNode *n)
{
        for (; n; n = n->next) {
                if (n->type != XML_ELEMENT_NODE)
                        continue;
                if (n->_private != USED) {
                        drop(st, n, "not mapped by vfioctl");
                        continue;
                }
                for (xmlAttr *a = n->properties; a; a = a->next)
                        if (a->_private != USED)
                                drop_attr(st, n, (const char *)a->name, "not mapped by vfioctl");
                sweep(st, n->children);
        }
}

static void map_identity(state *st, xmlNode *dom, const char *name)
{
        xmlNode *n;
        const char *type = attr(dom, "type");

        attr(dom, "id");
        if (type && strcmp(type, "kvm") != 0 && strcmp(type, "qemu") != 0) {
                fail(st, line_of(dom), "<domain type='%s'>: vfioctl runs QEMU guests (kvm or qemu)", type);
                return;
        }
        st->c->vm.accel = type && strcmp(type, "qemu") == 0 ? VM_ACCEL_TCG : VM_ACCEL_KVM;
        if ((n = child(dom, "name")) && !name) {
                _cleanup_free_ char *s = text(n);

                if (s && *s)
                        set_str(st, &st->c->name, s);
        }
        if ((n = child(dom, "uuid"))) {
                _cleanup_free_ char *s = text(n);

                if (s && *s) {
                        set_str(st, &st->c->vm.uuid, s);
                        key_line(st, "vm", "uuid", line_of(n));
                }
        }
        /* libosinfo's OS id says what the guest is (https://libosinfo.org, "os" ids). */
        if ((n = child(dom, "metadata"))) {
                for (xmlNode *m = n->children; m; m = m->next) {
                        if (m->type != XML_ELEMENT_NODE)
                                continue;
                        if (strcmp(qname(m), "libosinfo") == 0)
                                for (xmlNode *o = m->children; o; o = o->next)
                                        if (o->type == XML_ELEMENT_NODE && strcmp(qname(o), "os") == 0) {
                                                xmlChar *id = xmlGetProp(o, (const xmlChar *)"id");
                                                const char *s = id ? (const char *)id : "";

                                                if (strstr(s, "microsoft.com/win"))
                                                        st->c->vm.os = VM_OS_WINDOWS;
                                                else if (strstr(s, "linux") || strstr(s, "fedora") ||
                                                         strstr(s, "ubuntu") || strstr(s, "debian") ||
                                                         strstr(s, "redhat") || strstr(s, "opensuse") ||
                                                         strstr(s, "centos") || strstr(s, "archlinux"))
                                                        st->c->vm.os = VM_OS_LINUX;
                                                xmlFree(id);
                                        }
                        mark_tree(m);
                }
                ignore(st, n, "metadata (libosinfo's OS id sets [vm] os)");
        }
        for (const char *const *e =
                     (const char *const[]){ "title", "description", "on_poweroff", "on_reboot", "on_crash",
                                            "resource", "seclabel", "pm", NULL };
             *e; e++)
                if ((n = child(dom, *e))) {
                        if (!strcmp(*e, "pm"))
                                ignore(st, n, "guest S3/S4 suspend is not used with passthrough GPUs");
                        else
                                ignore(st, n, "libvirt housekeeping with no QEMU equivalent in vfioctl");
                }
        for (n = dom->children; n; n = n->next)
                if (is_elem(n, "seclabel") && n->_private != USED)
                        ignore(st, n, "libvirt housekeeping with no QEMU equivalent in vfioctl");
}

static void parse_domain(state *st, xmlNode *dom, const char *name)
{
        xmlNode *n;

        map_identity(st, dom, name);
        map_memory(st, dom);
        map_vcpus(st, dom);
        map_cputune(st, dom);
        if ((n = child(dom, "iothreads")))
                attr(n, "count"); /* vfioctl makes one I/O thread per disk with iothread = yes */
        map_os(st, dom);
        map_sysinfo(st, dom);
        map_features(st, dom);
        map_cpu(st, dom);
        map_clock(st, dom);
        map_devices(st, dom);
        /* Before grouping: qemu:arg vfio-pci functions join the slots of the <hostdev>s. */
        map_commandline(st, dom);
        map_hostdev_groups(st);
        hyperv_keys(st, dom);
        /* OVMF's setting means nothing to SeaBIOS: libvirt passes it, the firmware never reads it. */
        if (st->c->firmware.mmio64_size && st->c->firmware.type != VM_FIRMWARE_OVMF) {
                add_item(st, true, vm_config_key_line(st->c, "firmware", "mmio64_size"),
                         strdup("opt/ovmf/X-PciMmio64Mb"),
                         "an OVMF setting in a SeaBIOS VM: it has no effect there");
                st->c->firmware.mmio64_size = 0;
        }
        for (size_t i = 0; i < st->c->n_disks && st->scsi_iothread; i++)
                if (st->c->disks[i].bus == VM_DISK_VIRTIO_SCSI && st->c->disks[i].media == VM_MEDIA_DISK)
                        st->c->disks[i].iothread = true;
        /* SPICE/VNC with <video model='none'>: nothing to show, the display has no device to serve. */
        if (st->c->display.protocol != VM_PROTOCOL_NONE && st->c->display.device == VM_DISPLAY_NONE) {
                add_item(
                        st, true, line_of(st->graphics), describe(st->graphics),
                        "with <video> none there is no emulated display to serve; vfioctl drops the viewer");
                st->c->display.protocol = VM_PROTOCOL_NONE;
        }
        /* Boot order from <os><boot dev=...> when no device has its own <boot order>. */
        if (!st->any_boot_order && st->boot_order) {
                unsigned idx = 1;

                STRV_FOREACH(b, st->boot_order) {
                        vm_disk_media want = !strcmp(*b, "cdrom") ? VM_MEDIA_CDROM : VM_MEDIA_DISK;

                        if (strcmp(*b, "hd") && strcmp(*b, "cdrom"))
                                continue;
                        for (size_t i = 0; i < st->c->n_disks; i++)
                                if (st->c->disks[i].media == want && !st->c->disks[i].bootindex) {
                                        st->c->disks[i].bootindex = idx++;
                                        break;
                                }
                }
        }
        sweep(st, dom);
}

/* Keeps the first error libxml2 reports (the later ones are usually its consequences). */
static void xml_error(void *ctx, xmlErrorPtr e)
{
        xmlError *first = ctx;

        if (first->code == 0 && e && e->level >= XML_ERR_ERROR)
                xmlCopyError(e, first);
}

/* The XML line of the device a config message is about ("[net \"net0\"] mac: ..."), or 0. */
static unsigned message_line(const vm_config *c, const char *msg)
{
        /* "[vm] uuid: ..." or "[net \"x\"] mac: ...": the key's own line, when the import recorded one. */
        if (msg[0] == '[') {
                const char *end = strstr(msg, "] ");
                char section[128], key[64];
                size_t kn;

                if (end && (size_t)(end - msg - 1) < sizeof(section)) {
                        memcpy(section, msg + 1, (size_t)(end - msg - 1));
                        section[end - msg - 1] = 0;
                        kn = strcspn(end + 2, ": ");
                        if (kn < sizeof(key)) {
                                memcpy(key, end + 2, kn);
                                key[kn] = 0;
                                if (vm_config_key_line(c, section, key))
                                        return vm_config_key_line(c, section, key);
                        }
                }
        }
#define FIND(kind, arr)                                                                 \
        for (size_t i = 0; i < c->n_##arr; i++) {                                       \
                char sec[128];                                                          \
                snprintf(sec, sizeof(sec), "[%s \"%s\"]", kind, c->arr[i].name);        \
                if (strstr(msg, sec) || (!strcmp(kind, "gpu") && strstr(msg, "[gpu]"))) \
                        return c->arr[i].line;                                          \
        }
        FIND("gpu", gpus);
        FIND("pci", pcis);
        FIND("usb", usbs);
        FIND("input", inputs);
        FIND("disk", disks);
        FIND("net", nets);
        FIND("share", shares);
#undef FIND
        return 0;
}

/*
 * Every value must also pass the config parser (a MAC, a UUID, a path): the config text is parsed back and
 * its first complaint becomes the import's error, at the device's XML line where there is one.
 */
static int check_values(const vm_config *c, const char *filename, char **ret_error)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_(vm_config_freep) vm_config *back = NULL;
        const char *msg;
        unsigned line;
        int r;

        r = vm_libvirt_config_text(c, NULL, &text);
        if (r < 0)
                return r;
        r = vm_config_parse_string(text, "<imported>", c->name, &back, &errors);
        if (r != -EINVAL)
                return r;
        msg = errors && errors[0] ? errors[0] : "not accepted";
        /* "<imported>:LINE: message": the generated file's line means nothing to the user. */
        if (strncmp(msg, "<imported>:", 11) == 0) {
                const char *colon = strchr(msg + 11, ':');

                msg = colon ? colon + 1 + (colon[1] == ' ') : msg;
        }
        line = message_line(c, msg);
        if ((line ? asprintf(ret_error, "%s:%u: %s", filename, line, msg)
                  : asprintf(ret_error, "%s: %s", filename, msg)) < 0)
                *ret_error = NULL;
        return -EINVAL;
}

int vm_libvirt_import_string(const char *xml, size_t size, const char *filename, const char *name,
                             unsigned flags, vm_libvirt_import **ret, char **ret_error)
{
        _cleanup_(vm_libvirt_import_freep) vm_libvirt_import *imp = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        xmlParserCtxtPtr ctxt = NULL;
        xmlDocPtr doc = NULL;
        xmlError first = {};
        xmlNode *root;
        state st = { .filename = filename, .flags = flags };
        int r;

        assert(ret);
        assert(ret_error);

        if (size > VM_LIBVIRT_MAX_SIZE || size > INT_MAX)
                return -EFBIG;
        r = vm_xml_load(ret_error);
        if (r < 0)
                return r;
        imp = calloc(1, sizeof(*imp));
        if (!imp)
                return -ENOMEM;
        r = vm_config_new(name ? name : "vm", &imp->config);
        if (r < 0)
                return r;
        free(imp->config->filename);
        imp->config->filename = strdup(filename);
        if (!imp->config->filename)
                return -ENOMEM;
        st.imp = imp;
        st.c = imp->config;

        ctxt = xmlNewParserCtxt();
        if (!ctxt)
                return -ENOMEM;
        /*
         * NONET: never fetch a DTD or entity over the network; no NOENT: entities are not substituted
         * (no billion laughs, no external files); BIG_LINES: true line numbers past 65535.
         */
        xmlSetStructuredErrorFunc(&first, xml_error);
        doc = xmlCtxtReadMemory(ctxt, xml, (int)size, filename, NULL,
                                XML_PARSE_NONET | XML_PARSE_BIG_LINES | XML_PARSE_NOERROR |
                                        XML_PARSE_NOWARNING);
        xmlSetStructuredErrorFunc(NULL, NULL);
        if (!doc || first.code) {
                xmlErrorPtr e = first.code ? &first : xmlCtxtGetLastError(ctxt);
                _cleanup_free_ char *msg = strdup(e && e->message ? e->message : "not well-formed XML");

                if (msg)
                        msg[strcspn(msg, "\n")] = 0;
                if (asprintf(ret_error, "%s:%d:%d: %s", filename, e ? e->line : 0, e ? e->int2 : 0,
                             msg ? msg : "not well-formed XML") < 0)
                        *ret_error = NULL;
                xmlResetError(&first);
                xmlFreeDoc(doc);
                xmlFreeParserCtxt(ctxt);
                return -EBADMSG;
        }
        xmlFreeParserCtxt(ctxt);
        root = xmlDocGetRootElement(doc);
        if (!root || !is_elem(root, "domain")) {
                if (asprintf(ret_error,
                             "%s:%u: the root element is <%s>, not <domain>: not a libvirt domain XML",
                             filename, line_of(root), root ? qname(root) : "") < 0)
                        *ret_error = NULL;
                xmlFreeDoc(doc);
                return -EINVAL;
        }
        use(root);
        parse_domain(&st, root, name);
        xmlFreeDoc(doc);
        for (size_t i = 0; i < st.n_hds; i++) {
                free(st.hds[i].alias);
                free(st.hds[i].romfile);
        }
        free(st.hds);
        strv_free(st.boot_order);
        free(st.online);
        strv_free(st.hv);
        if (st.r < 0) {
                *ret_error = st.error;
                return st.r;
        }
        r = vm_config_check(imp->config, &errors);
        if (r < 0 && errors) {
                _cleanup_free_ char *j = NULL;

                /* "FILE:0: [section] ...": a key the XML set without a line of its own; find the device's.
                 */
                for (char **e = errors; *e; e++) {
                        size_t n = strlen(filename);
                        char *fixed;
                        unsigned line;

                        if (strncmp(*e, filename, n) != 0 || strncmp(*e + n, ":0: ", 4) != 0)
                                continue;
                        line = message_line(imp->config, *e + n + 4);
                        if ((line ? asprintf(&fixed, "%s:%u: %s", filename, line, *e + n + 4)
                                  : asprintf(&fixed, "%s: %s", filename, *e + n + 4)) < 0)
                                return -ENOMEM;
                        free(*e);
                        *e = fixed;
                }
                j = strv_join(errors, "\n");

                if (asprintf(ret_error, "%s: the imported config is not consistent:\n%s", filename,
                             j ? j : "") < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }
        if (r < 0)
                return r;
        r = check_values(imp->config, filename, ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(imp);
        return 0;
}

int vm_libvirt_import_file(const char *path, const char *name, unsigned flags, vm_libvirt_import **ret,
                           char **ret_error)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        r = read_full_fd(fd, VM_LIBVIRT_MAX_SIZE, &text, &size);
        if (r < 0)
                return r;
        return vm_libvirt_import_string(text, size, path, name, flags, ret, ret_error);
}
