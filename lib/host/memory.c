/* Memory facts: huge page pools (sysfs), buddyinfo fragmentation, MemTotal, and pam_limits memlock lines. */
#include "vfioctl/memory.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "parse-util.h"
#include "strv.h"

#define PROC_FILE_MAX (1u << 20)
#define CONF_MAX      (1u << 20)

vfio_memory *vfio_memory_free(vfio_memory *m)
{
        if (!m)
                return NULL;
        free(m->pools);
        for (size_t i = 0; i < m->n_zones; i++)
                free(m->zones[i].zone);
        free(m->zones);
        free(m);
        return NULL;
}

static uint64_t read_u64(const vfio_host *h, const char *dir, const char *attr)
{
        _cleanup_free_ char *path = NULL, *s = NULL;
        uint64_t v = 0;

        if (asprintf(&path, "%s/%s", dir, attr) < 0)
                return 0;
        if (vfio_host_read_attr(h, path, 64, &s) < 0 || parse_uint(s, 10, UINT64_MAX, &v) < 0)
                return 0;
        return v;
}

/* One "hugepages-2048kB" directory into a pool. */
static int add_pool(vfio_memory *m, const vfio_host *h, const char *dir, const char *name, int node)
{
        _cleanup_free_ char *path = NULL;
        vfio_hugepage_pool *n;
        uint64_t kb;
        char num[32];
        size_t len;

        if (strncmp(name, "hugepages-", 10) != 0)
                return 0;
        len = strcspn(name + 10, "k");
        if (len == 0 || len >= sizeof(num) || strcmp(name + 10 + len, "kB") != 0)
                return 0;
        memcpy(num, name + 10, len);
        num[len] = 0;
        if (parse_uint(num, 10, UINT64_MAX >> 10, &kb) < 0)
                return 0;
        if (asprintf(&path, "%s/%s", dir, name) < 0)
                return -ENOMEM;
        n = realloc(m->pools, (m->n_pools + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        m->pools = n;
        n[m->n_pools++] = (vfio_hugepage_pool){
                .page_size = kb << 10,
                .node = node,
                .nr = read_u64(h, path, "nr_hugepages"),
                .free = read_u64(h, path, "free_hugepages"),
                .resv = read_u64(h, path, "resv_hugepages"),
                .surplus = read_u64(h, path, "surplus_hugepages"),
        };
        return 0;
}

static int read_pools(vfio_memory *m, const vfio_host *h, const char *dir, int node)
{
        _cleanup_strv_free_ char **names = NULL;
        int r;

        r = vfio_host_list_dir(h, dir, 64, &names);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;
        STRV_FOREACH(n, names)
                if ((r = add_pool(m, h, dir, *n, node)) < 0)
                        return r;
        return 0;
}

int vfio_memory_parse_buddyinfo(vfio_memory *m, const char *text)
{
        assert(m);

        /* "Node 0, zone   Normal   1445   1219 ..." (mm/vmstat.c frag_show_print) */
        for (const char *line = text; line && *line;) {
                const char *nl = strchr(line, '\n');
                _cleanup_free_ char *l = strndup(line, nl ? (size_t)(nl - line) : strlen(line));
                _cleanup_strv_free_ char **w = NULL;
                vfio_buddy_zone z = { 0 }, *n;
                int64_t node;
                int r;

                line = nl ? nl + 1 : NULL;
                if (!l)
                        return -ENOMEM;
                r = strv_split(l, " \t,", &w);
                if (r < 0)
                        return r;
                if (strv_length(w) < 5 || strcmp(w[0], "Node") != 0 || strcmp(w[2], "zone") != 0 ||
                    parse_int(w[1], 0, 65535, &node) < 0)
                        continue;
                z.node = (int)node;
                for (size_t i = 4; w[i] && z.n_orders < ELEMENTSOF(z.free); i++)
                        if (parse_uint(w[i], 10, UINT64_MAX, &z.free[z.n_orders]) >= 0)
                                z.n_orders++;
                z.zone = strdup(w[3]);
                if (!z.zone)
                        return -ENOMEM;
                n = realloc(m->zones, (m->n_zones + 1) * sizeof(*n));
                if (!n) {
                        free(z.zone);
                        return -ENOMEM;
                }
                m->zones = n;
                n[m->n_zones++] = z;
        }
        return 0;
}

uint64_t vfio_memory_free_in_blocks(const vfio_memory *m, uint64_t block)
{
        uint64_t sum = 0;

        assert(m);

        for (size_t i = 0; i < m->n_zones; i++) {
                /* ZONE_DMA (the first 16 MiB) is never used for huge pages. */
                if (strcmp(m->zones[i].zone, "DMA") == 0)
                        continue;
                for (unsigned o = 0; o < m->zones[i].n_orders; o++) {
                        uint64_t size = m->page_size << o;

                        if (size >= block)
                                sum += m->zones[i].free[o] * size;
                }
        }
        return sum;
}

static uint64_t meminfo_kb(const char *text, const char *key)
{
        const char *p = text;
        size_t k = strlen(key);

        while (p && *p) {
                if (strncmp(p, key, k) == 0 && p[k] == ':') {
                        char num[32];
                        size_t n;
                        uint64_t v;

                        p += k + 1;
                        p += strspn(p, " \t");
                        n = strspn(p, "0123456789");
                        if (n == 0 || n >= sizeof(num))
                                return 0;
                        memcpy(num, p, n);
                        num[n] = 0;
                        return parse_uint(num, 10, UINT64_MAX >> 10, &v) < 0 ? 0 : v;
                }
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        return 0;
}

int vfio_memory_read(const vfio_host *h, vfio_memory **ret)
{
        _cleanup_(vfio_memory_freep) vfio_memory *m = calloc(1, sizeof(vfio_memory));
        _cleanup_strv_free_ char **nodes = NULL;
        _cleanup_free_ char *text = NULL;
        int r;

        assert(ret);

        if (!m)
                return -ENOMEM;
        m->page_size = 4096; /* x86-64: the only architecture vfioctl drives */
        r = vfio_host_read_attr(h, "proc/meminfo", PROC_FILE_MAX, &text);
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                m->total = meminfo_kb(text, "MemTotal") << 10;
                m->available = meminfo_kb(text, "MemAvailable") << 10;
        }
        free(text);
        text = NULL;
        r = vfio_host_read_attr(h, "proc/buddyinfo", PROC_FILE_MAX, &text);
        if (r == -ENOMEM)
                return r;
        if (r >= 0 && (r = vfio_memory_parse_buddyinfo(m, text)) < 0)
                return r;

        r = read_pools(m, h, "sys/kernel/mm/hugepages", -1);
        if (r < 0)
                return r;
        r = vfio_host_list_dir(h, "sys/devices/system/node", 4096, &nodes);
        if (r == -ENOMEM)
                return r;
        STRV_FOREACH(n, nodes) {
                _cleanup_free_ char *dir = NULL;
                int64_t id;

                if (strncmp(*n, "node", 4) != 0 || parse_int(*n + 4, 0, 65535, &id) < 0)
                        continue;
                if (asprintf(&dir, "sys/devices/system/node/%s/hugepages", *n) < 0)
                        return -ENOMEM;
                r = read_pools(m, h, dir, (int)id);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(m);
        return 0;
}

/* ---- limits.conf ---- */

enum { PRIO_USER = 1, PRIO_GROUP = 2, PRIO_ALL = 3, PRIO_NONE = 100 };

void vfio_memlock_done(vfio_memlock *m)
{
        free(m->soft_where);
        free(m->hard_where);
        *m = (vfio_memlock){ .soft = VFIO_LIMIT_UNSET, .hard = VFIO_LIMIT_UNSET };
}

/* Which priority a limits.conf domain has for this user, 0 when it does not apply. */
static int domain_prio(const char *domain, const char *user, uint32_t uid, char *const *groups)
{
        if (strcmp(domain, user) == 0)
                return PRIO_USER;
        if (domain[0] == '@' && strv_contains(groups, domain + 1))
                return uid == 0 ? 0 : PRIO_GROUP;
        if (strcmp(domain, "*") == 0)
                return uid == 0 ? 0 : PRIO_ALL;
        /* uid ranges "1000:", ":999", "1000:2000" and a single "1000:1000" (pam_limits since 1.1.8). */
        if (strchr(domain, ':') && (isdigit((unsigned char)domain[0]) || domain[0] == ':')) {
                const char *colon = strchr(domain, ':');
                _cleanup_free_ char *lo_s = strndup(domain, (size_t)(colon - domain));
                uint64_t lo = 0, hi = UINT32_MAX;

                if (!lo_s)
                        return 0;
                if (*lo_s && parse_uint(lo_s, 10, UINT32_MAX, &lo) < 0)
                        return 0;
                if (colon[1] && parse_uint(colon + 1, 10, UINT32_MAX, &hi) < 0)
                        return 0;
                if (uid >= lo && uid <= hi)
                        return lo == hi ? PRIO_USER : PRIO_GROUP;
        }
        return 0;
}

static int set_limit(uint64_t *val, char **where, int *prio, int p, uint64_t v, const char *loc)
{
        char *w;

        /* Lower number = more specific; among equals the later line wins. */
        if (p > *prio)
                return 0;
        w = strdup(loc);
        if (!w)
                return -ENOMEM;
        free(*where);
        *where = w;
        *val = v;
        *prio = p;
        return 0;
}

int vfio_memlock_parse(vfio_memlock *m, int *prio_soft, int *prio_hard, const char *text, const char *where,
                       const char *user, uint32_t uid, char *const *groups)
{
        unsigned lineno = 0;

        assert(m);

        for (const char *line = text; line && *line;) {
                const char *nl = strchr(line, '\n');
                _cleanup_free_ char *l = strndup(line, nl ? (size_t)(nl - line) : strlen(line)), *loc = NULL;
                _cleanup_strv_free_ char **w = NULL;
                uint64_t v;
                int p, r;
                char *hash;

                lineno++;
                line = nl ? nl + 1 : NULL;
                if (!l)
                        return -ENOMEM;
                hash = strchr(l, '#');
                if (hash)
                        *hash = 0;
                r = strv_split(l, " \t", &w);
                if (r < 0)
                        return r;
                if (strv_length(w) != 4 || strcmp(w[2], "memlock") != 0)
                        continue;
                p = domain_prio(w[0], user, uid, groups);
                if (p == 0)
                        continue;
                if (strcmp(w[3], "unlimited") == 0 || strcmp(w[3], "infinity") == 0 ||
                    strcmp(w[3], "-1") == 0)
                        v = VFIO_LIMIT_UNLIMITED;
                else if (parse_uint(w[3], 10, UINT64_MAX >> 10, &v) >= 0)
                        v <<= 10; /* memlock is in KiB (limits.conf(5)) */
                else {
                        log_debug("%s:%u: memlock value '%s' not understood, ignored", where, lineno, w[3]);
                        continue;
                }
                if (asprintf(&loc, "%s:%u", where, lineno) < 0)
                        return -ENOMEM;
                if (strcmp(w[1], "soft") == 0 || strcmp(w[1], "-") == 0)
                        if ((r = set_limit(&m->soft, &m->soft_where, prio_soft, p, v, loc)) < 0)
                                return r;
                if (strcmp(w[1], "hard") == 0 || strcmp(w[1], "-") == 0)
                        if ((r = set_limit(&m->hard, &m->hard_where, prio_hard, p, v, loc)) < 0)
                                return r;
        }
        return 0;
}

int vfio_memlock_read(const vfio_host *h, const char *user, uint32_t uid, char *const *groups,
                      vfio_memlock *ret)
{
        _cleanup_strv_free_ char **files = NULL, **names = NULL;
        vfio_memlock m = { .soft = VFIO_LIMIT_UNSET, .hard = VFIO_LIMIT_UNSET };
        int ps = PRIO_NONE, ph = PRIO_NONE, r;

        assert(ret);

        r = strv_extend(&files, "etc/security/limits.conf");
        if (r < 0)
                return r;
        r = vfio_host_list_dir(h, "etc/security/limits.d", 1024, &names);
        if (r == -ENOMEM)
                return r;
        STRV_FOREACH(n, names) {
                size_t len = strlen(*n);
                char *p;

                if (len < 6 || strcmp(*n + len - 5, ".conf") != 0)
                        continue;
                if (asprintf(&p, "etc/security/limits.d/%s", *n) < 0)
                        return -ENOMEM;
                if (strv_push(&files, p) < 0) {
                        free(p);
                        return -ENOMEM;
                }
        }
        STRV_FOREACH(f, files) {
                _cleanup_free_ char *text = NULL;

                r = vfio_host_read_attr(h, *f, CONF_MAX, &text);
                if (r == -ENOMEM) {
                        vfio_memlock_done(&m);
                        return r;
                }
                if (r < 0)
                        continue;
                r = vfio_memlock_parse(&m, &ps, &ph, text, *f, user, uid, groups);
                if (r < 0) {
                        vfio_memlock_done(&m);
                        return r;
                }
        }
        *ret = m;
        return 0;
}
