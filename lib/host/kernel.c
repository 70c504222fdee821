/* Kernel facts: version (proc/version), command line, module state and modprobe.d, all under the root. */
#include "vfioctl/kernel.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "parse-util.h"
#include "strv.h"

#define PROC_SMALL_MAX   (64u << 10)
#define MODULES_FILE_MAX (16u << 20)
#define CONF_FILE_MAX    (1u << 20)
#define CONF_FILES_MAX   1024

void vfio_module_name_normalize(char *s)
{
        for (; s && *s; s++)
                if (*s == '-')
                        *s = '_';
}

const char *vfio_module_state_to_string(vfio_module_state s)
{
        switch (s) {
        case VFIO_MODULE_MISSING:
                return "missing";
        case VFIO_MODULE_AVAILABLE:
                return "available";
        case VFIO_MODULE_LOADED:
                return "loaded";
        case VFIO_MODULE_BUILTIN:
                return "built-in";
        case VFIO_MODULE_UNKNOWN:
                return "unknown";
        }
        return "unknown";
}

vfio_kernel *vfio_kernel_free(vfio_kernel *k)
{
        if (!k)
                return NULL;
        free(k->release);
        strv_free(k->cmdline);
        strv_free(k->loaded);
        strv_free(k->builtin);
        strv_free(k->available);
        free(k);
        return NULL;
}

int vfio_kernel_parse_version(const char *proc_version, char **ret_release, unsigned *ret_version)
{
        static const char prefix[] = "Linux version ";
        unsigned v[3] = { 0, 0, 0 };
        const char *p, *e;
        char *release;
        int i = 0;

        assert(ret_release);
        assert(ret_version);

        if (!proc_version || strncmp(proc_version, prefix, strlen(prefix)) != 0)
                return -EINVAL;
        p = proc_version + strlen(prefix);
        e = p + strcspn(p, " \t\n");
        if (e == p || e - p > 256)
                return -EINVAL;
        release = strndup(p, (size_t)(e - p));
        if (!release)
                return -ENOMEM;
        /* "6.1.0-18-amd64", "3.10.0-1160.el7.x86_64", "6.8-rc1": up to three dotted numbers. */
        for (const char *q = p; q < e && i < 3;) {
                unsigned n = 0;

                if (!isdigit((unsigned char)*q))
                        break;
                while (q < e && isdigit((unsigned char)*q) && n < 100000)
                        n = n * 10 + (unsigned)(*q++ - '0');
                v[i++] = n;
                if (q < e && *q == '.')
                        q++;
                else
                        break;
        }
        if (i < 2) {
                free(release);
                return -EINVAL;
        }
        *ret_release = release;
        *ret_version = VFIO_KERNEL_VERSION(v[0] > 255 ? 255 : v[0], v[1] > 255 ? 255 : v[1], v[2]);
        return 0;
}

int vfio_kernel_parse_cmdline(const char *s, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        int r;

        assert(ret);

        r = strv_split(s ? s : "", " \t\n", &l);
        if (r < 0)
                return r;
        /* The kernel hands everything after "--" to init (Documentation/admin-guide/kernel-parameters.rst).
         */
        for (size_t i = 0; l[i]; i++)
                if (strcmp(l[i], "--") == 0) {
                        for (size_t j = i; l[j]; j++) {
                                free(l[j]);
                                l[j] = NULL;
                        }
                        break;
                }
        *ret = TAKE_PTR(l);
        return 0;
}

const char *vfio_kernel_cmdline_value(const vfio_kernel *k, const char *key)
{
        const char *v = NULL;
        size_t n = strlen(key);

        assert(k);

        STRV_FOREACH(a, k->cmdline)
                if (strncmp(*a, key, n) == 0 && (*a)[n] == '=')
                        v = *a + n + 1;
        return v;
}

bool vfio_kernel_cmdline_has(const vfio_kernel *k, const char *key)
{
        size_t n = strlen(key);

        assert(k);

        STRV_FOREACH(a, k->cmdline)
                if (strncmp(*a, key, n) == 0 && ((*a)[n] == '=' || (*a)[n] == 0))
                        return true;
        return false;
}

/* "kernel/drivers/vfio/pci/vfio-pci.ko.zst" → "vfio_pci". */
static char *module_from_path(const char *path, size_t len)
{
        const char *b = path, *ko;
        char *s;

        for (const char *p = path; p < path + len; p++)
                if (*p == '/')
                        b = p + 1;
        ko = strstr(b, ".ko");
        if (!ko || ko > path + len)
                return NULL;
        s = strndup(b, (size_t)(ko - b));
        vfio_module_name_normalize(s);
        return s;
}

static int read_module_list(const vfio_host *h, const char *path, bool dep, char ***ret)
{
        _cleanup_free_ char *text = NULL;
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = vfio_host_read_attr(h, path, MODULES_FILE_MAX, &text);
        if (r < 0)
                return r;
        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (char *line = text, *next; line && *line; line = next) {
                size_t len;
                char *name;

                next = strchr(line, '\n');
                len = next ? (size_t)(next - line) : strlen(line);
                if (next)
                        next++;
                if (dep) /* modules.dep: "kernel/...ko: deps" */
                        len = strcspn(line, ":\n");
                name = module_from_path(line, len);
                if (name && strv_push(&l, name) < 0) {
                        free(name);
                        return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int vfio_kernel_read(const vfio_host *h, vfio_kernel **ret)
{
        _cleanup_(vfio_kernel_freep) vfio_kernel *k = NULL;
        _cleanup_free_ char *s = NULL, *path = NULL;
        int r;

        assert(ret);

        k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        r = vfio_host_read_attr(h, "proc/version", PROC_SMALL_MAX, &s);
        if (r == -ENOMEM)
                return r;
        if (r >= 0 && vfio_kernel_parse_version(s, &k->release, &k->version) < 0)
                log_debug("proc/version: unexpected format");
        free(s);
        s = NULL;

        r = vfio_host_read_attr(h, "proc/cmdline", PROC_SMALL_MAX, &s);
        if (r == -ENOMEM)
                return r;
        r = vfio_kernel_parse_cmdline(r >= 0 ? s : "", &k->cmdline);
        if (r < 0)
                return r;
        free(s);
        s = NULL;

        /* proc/modules: "vfio_pci 16384 0 - Live 0x0000000000000000" */
        k->loaded = calloc(1, sizeof(char *));
        if (!k->loaded)
                return -ENOMEM;
        r = vfio_host_read_attr(h, "proc/modules", MODULES_FILE_MAX, &s);
        if (r == -ENOMEM)
                return r;
        k->have_proc_modules = r >= 0;
        if (r >= 0)
                for (char *line = s, *next; line && *line; line = next) {
                        size_t len = strcspn(line, " \n");
                        char *name;

                        next = strchr(line, '\n');
                        if (next)
                                next++;
                        if (len == 0)
                                continue;
                        name = strndup(line, len);
                        vfio_module_name_normalize(name);
                        if (!name || strv_push(&k->loaded, name) < 0) {
                                free(name);
                                return -ENOMEM;
                        }
                }

        if (k->release) {
                if (asprintf(&path, "lib/modules/%s", k->release) < 0)
                        return -ENOMEM;
                k->have_modules_dir = vfio_host_exists(h, path) > 0;
                free(path);
                path = NULL;
                if (asprintf(&path, "lib/modules/%s/modules.builtin", k->release) < 0)
                        return -ENOMEM;
                r = read_module_list(h, path, false, &k->builtin);
                if (r == -ENOMEM)
                        return r;
                free(path);
                path = NULL;
                if (asprintf(&path, "lib/modules/%s/modules.dep", k->release) < 0)
                        return -ENOMEM;
                r = read_module_list(h, path, true, &k->available);
                if (r == -ENOMEM)
                        return r;
        }
        if ((!k->builtin && !(k->builtin = calloc(1, sizeof(char *)))) ||
            (!k->available && !(k->available = calloc(1, sizeof(char *)))))
                return -ENOMEM;
        *ret = TAKE_PTR(k);
        return 0;
}

vfio_module_state vfio_kernel_module_state(const vfio_host *h, const vfio_kernel *k, const char *module)
{
        _cleanup_free_ char *name = strdup(module), *path = NULL;

        assert(k);

        if (!name)
                return VFIO_MODULE_UNKNOWN;
        vfio_module_name_normalize(name);
        if (strv_contains(k->builtin, name))
                return VFIO_MODULE_BUILTIN;
        if (strv_contains(k->loaded, name))
                return VFIO_MODULE_LOADED;
        /* sys/module/X exists for loaded modules and for built-ins with parameters or a version;
         * only loadable modules have an initstate (Documentation/ABI/stable/sysfs-module). */
        if (asprintf(&path, "sys/module/%s/initstate", name) < 0)
                return VFIO_MODULE_UNKNOWN;
        if (vfio_host_exists(h, path) > 0)
                return VFIO_MODULE_LOADED;
        free(path);
        path = NULL;
        if (asprintf(&path, "sys/module/%s", name) < 0)
                return VFIO_MODULE_UNKNOWN;
        if (vfio_host_exists(h, path) > 0)
                return VFIO_MODULE_BUILTIN;
        if (strv_contains(k->available, name))
                return VFIO_MODULE_AVAILABLE;
        /* Without proc/modules the kernel cannot load modules at all: what is not there is missing. */
        if (k->have_modules_dir || !k->have_proc_modules)
                return VFIO_MODULE_MISSING;
        return VFIO_MODULE_UNKNOWN;
}

/* ---- modprobe.d ---- */

vfio_modprobe *vfio_modprobe_new(void)
{
        vfio_modprobe *m = calloc(1, sizeof(*m));

        if (!m)
                return NULL;
        m->vfio_pci_ids = calloc(1, sizeof(char *));
        m->blacklist = calloc(1, sizeof(char *));
        m->files = calloc(1, sizeof(char *));
        if (!m->vfio_pci_ids || !m->blacklist || !m->files)
                return vfio_modprobe_free(m);
        return m;
}

vfio_modprobe *vfio_modprobe_free(vfio_modprobe *m)
{
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_softdeps; i++) {
                free(m->softdeps[i].module);
                strv_free(m->softdeps[i].pre);
                free(m->softdeps[i].where);
        }
        free(m->softdeps);
        strv_free(m->vfio_pci_ids);
        free(m->vfio_pci_ids_where);
        strv_free(m->blacklist);
        strv_free(m->files);
        free(m);
        return NULL;
}

const vfio_softdep *vfio_modprobe_find_softdep(const vfio_modprobe *m, const char *module, const char *pre)
{
        assert(m);

        for (size_t i = 0; i < m->n_softdeps; i++)
                if (strcmp(m->softdeps[i].module, module) == 0 && strv_contains(m->softdeps[i].pre, pre))
                        return &m->softdeps[i];
        return NULL;
}

static int parse_softdep(vfio_modprobe *m, char **w, const char *where)
{
        _cleanup_strv_free_ char **pre = calloc(1, sizeof(char *));
        _cleanup_free_ char *module = NULL, *wh = NULL;
        vfio_softdep *n;
        bool in_pre = false;
        int r;

        if (!pre || !w[1])
                return pre ? 0 : -ENOMEM;
        module = strdup(w[1]);
        wh = strdup(where);
        if (!module || !wh)
                return -ENOMEM;
        vfio_module_name_normalize(module);
        for (char **a = w + 2; *a; a++) {
                if (strcmp(*a, "pre:") == 0)
                        in_pre = true;
                else if (strcmp(*a, "post:") == 0)
                        in_pre = false;
                else if (in_pre) {
                        r = strv_extend(&pre, *a);
                        if (r < 0)
                                return r;
                        vfio_module_name_normalize(pre[strv_length(pre) - 1]);
                }
        }
        n = realloc(m->softdeps, (m->n_softdeps + 1) * sizeof(vfio_softdep));
        if (!n)
                return -ENOMEM;
        m->softdeps = n;
        n[m->n_softdeps++] =
                (vfio_softdep){ .module = TAKE_PTR(module), .pre = TAKE_PTR(pre), .where = TAKE_PTR(wh) };
        return 0;
}

static int parse_options(vfio_modprobe *m, char **w, const char *where)
{
        _cleanup_free_ char *module = NULL;
        int r;

        if (!w[1])
                return 0;
        module = strdup(w[1]);
        if (!module)
                return -ENOMEM;
        vfio_module_name_normalize(module);
        for (char **a = w + 2; *a; a++) {
                if (strcmp(module, "vfio_pci") == 0 && strncmp(*a, "ids=", 4) == 0) {
                        _cleanup_strv_free_ char **ids = NULL;

                        /* Later options lines for the same parameter win (the module sees the last). */
                        r = strv_split(*a + 4, ",", &ids);
                        if (r < 0)
                                return r;
                        STRV_FOREACH(id, ids)
                                for (char *c = *id; *c; c++)
                                        *c = (char)tolower((unsigned char)*c);
                        strv_free(m->vfio_pci_ids);
                        m->vfio_pci_ids = TAKE_PTR(ids);
                        free(m->vfio_pci_ids_where);
                        m->vfio_pci_ids_where = strdup(where);
                        if (!m->vfio_pci_ids_where)
                                return -ENOMEM;
                } else if (strcmp(module, "vfio_iommu_type1") == 0 &&
                           strncmp(*a, "allow_unsafe_interrupts=", 24) == 0) {
                        const char *v = *a + 24;

                        m->allow_unsafe_interrupts = strcmp(v, "1") == 0 || strcasecmp(v, "y") == 0 ||
                                                     strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0;
                }
        }
        return 0;
}

int vfio_modprobe_parse(vfio_modprobe *m, const char *text, const char *where)
{
        _cleanup_free_ char *buf = strdup(text ? text : "");
        unsigned lineno = 0;
        int r;

        assert(m);

        if (!buf)
                return -ENOMEM;
        /* modprobe.d(5): '#' comments, a trailing backslash continues the line. */
        for (char *line = buf, *next; line && *line; line = next) {
                _cleanup_strv_free_ char **w = NULL;
                _cleanup_free_ char *loc = NULL;
                unsigned first = ++lineno;
                char *e;

                next = strchr(line, '\n');
                while (next && next > line && next[-1] == '\\') {
                        next[-1] = ' ';
                        *next = ' ';
                        lineno++;
                        next = strchr(next, '\n');
                }
                if (next)
                        *next++ = 0;
                e = line + strspn(line, " \t");
                if (*e == '#' || !*e)
                        continue;
                r = strv_split(e, " \t", &w);
                if (r < 0)
                        return r;
                if (asprintf(&loc, "%s:%u", where, first) < 0)
                        return -ENOMEM;
                if (strcmp(w[0], "softdep") == 0)
                        r = parse_softdep(m, w, loc);
                else if (strcmp(w[0], "options") == 0)
                        r = parse_options(m, w, loc);
                else if (strcmp(w[0], "blacklist") == 0 && w[1]) {
                        r = strv_extend(&m->blacklist, w[1]);
                        if (r >= 0)
                                vfio_module_name_normalize(m->blacklist[strv_length(m->blacklist) - 1]);
                } else
                        r = 0;
                if (r < 0)
                        return r;
        }
        return 0;
}

static int cmp_base(const void *a, const void *b)
{
        const char *x = strrchr(*(char *const *)a, '/'), *y = strrchr(*(char *const *)b, '/');

        return strcmp(x ? x + 1 : *(char *const *)a, y ? y + 1 : *(char *const *)b);
}

int vfio_modprobe_read(const vfio_host *h, vfio_modprobe **ret)
{
        static const char *const dirs[] = { "etc/modprobe.d", "run/modprobe.d", "usr/local/lib/modprobe.d",
                                            "usr/lib/modprobe.d", "lib/modprobe.d" };
        _cleanup_(vfio_modprobe_freep) vfio_modprobe *m = vfio_modprobe_new();
        _cleanup_strv_free_ char **paths = calloc(1, sizeof(char *)), **seen = calloc(1, sizeof(char *));
        int r;

        assert(ret);

        if (!m || !paths || !seen)
                return -ENOMEM;
        for (size_t d = 0; d < ELEMENTSOF(dirs); d++) {
                _cleanup_strv_free_ char **names = NULL;

                r = vfio_host_list_dir(h, dirs[d], CONF_FILES_MAX, &names);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                STRV_FOREACH(n, names) {
                        size_t len = strlen(*n);
                        char *p;

                        if (len < 6 || strcmp(*n + len - 5, ".conf") != 0 || strv_contains(seen, *n))
                                continue;
                        if (strv_extend(&seen, *n) < 0 || asprintf(&p, "%s/%s", dirs[d], *n) < 0)
                                return -ENOMEM;
                        if (strv_push(&paths, p) < 0) {
                                free(p);
                                return -ENOMEM;
                        }
                }
        }
        qsort(paths, strv_length(paths), sizeof(char *), cmp_base);
        STRV_FOREACH(p, paths) {
                _cleanup_free_ char *text = NULL;

                r = vfio_host_read_attr(h, *p, CONF_FILE_MAX, &text);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        log_debug("%s: %s", *p, strerror(-r));
                        continue;
                }
                r = vfio_modprobe_parse(m, text, *p);
                if (r < 0)
                        return r;
                if (strv_extend(&m->files, *p) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(m);
        return 0;
}
