/* Turns what the user names (address, IDs, name, recorded identity) into PCI devices of the model. */
#include "vfioctl/selector.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "parse-util.h"
#include "strv.h"

/* A selector is typed by people and unit files; nothing legitimate is longer. */
#define SELECTOR_MAX 512
/* "#N": more identical devices than this in one machine is not a real request. */
#define NTH_MAX 256
/* PCIe extended configuration space is 4 KiB; extended capabilities start at 0x100 (7.6.3). */
#define CONFIG_EXT_START 0x100
#define CONFIG_SIZE      4096
#define EXT_CAP_ID_DSN   0x0003

void vfio_identity_done(vfio_identity *id)
{
        free(id->path);
        free(id->address);
        free(id->slot);
        *id = (vfio_identity){ .vendor = -1, .device = -1, .subsystem_vendor = -1, .subsystem_device = -1 };
}

vfio_selector *vfio_selector_free(vfio_selector *s)
{
        if (!s)
                return NULL;
        free(s->text);
        free(s->pattern);
        vfio_identity_done(&s->id);
        free(s);
        return NULL;
}

static int parse_id16(const char *s, size_t len, int32_t *ret)
{
        char buf[5];
        uint32_t v;

        if (len != 4)
                return -EINVAL;
        memcpy(buf, s, 4);
        buf[4] = 0;
        if (strspn(buf, "0123456789abcdefABCDEF") != 4 || parse_hex_id(buf, 16, &v) < 0)
                return -EINVAL;
        *ret = (int32_t)v;
        return 0;
}

/* "VVVV:DDDD" or "VVVV:DDDD:SSSS:ssss", exactly; fills id and returns 0, or -EINVAL. */
static int parse_ids(const char *s, size_t len, vfio_identity *id)
{
        int32_t v[4] = { -1, -1, -1, -1 };
        size_t n = 0;
        const char *p = s, *end = s + len;

        while (p < end) {
                const char *colon = memchr(p, ':', (size_t)(end - p));
                size_t l = colon ? (size_t)(colon - p) : (size_t)(end - p);

                if (n >= 4 || parse_id16(p, l, &v[n]) < 0)
                        return -EINVAL;
                n++;
                p += l;
                if (colon) {
                        p++;
                        if (p == end)
                                return -EINVAL;
                }
        }
        if (n != 2 && n != 4)
                return -EINVAL;
        id->vendor = v[0], id->device = v[1], id->subsystem_vendor = v[2], id->subsystem_device = v[3];
        return 0;
}

static int parse_dsn(const char *s, uint64_t *ret)
{
        uint64_t v = 0;

        /* Eight hex byte pairs separated by '-', as lspci prints it. */
        if (strlen(s) != 23)
                return -EINVAL;
        for (int i = 0; i < 8; i++) {
                const char *b = s + 3 * i;

                if (!isxdigit((unsigned char)b[0]) || !isxdigit((unsigned char)b[1]) ||
                    (i < 7 && b[2] != '-'))
                        return -EINVAL;
                v = v << 8 | (uint64_t)strtoul((char[]){ b[0], b[1], 0 }, NULL, 16);
        }
        *ret = v;
        return 0;
}

/* "pci0000:00/03.0/00.0": a root bus, then SS.F hops. */
static bool is_topology_path(const char *s)
{
        _cleanup_strv_free_ char **parts = NULL;
        size_t n;

        if (strncmp(s, "pci", 3) != 0 || strv_split(s, "/", &parts) < 0)
                return false;
        n = strv_length(parts);
        if (n < 2)
                return false;
        for (size_t i = 1; i < n; i++) {
                const char *p = parts[i];

                if (strlen(p) != 4 || !isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
                    p[2] != '.' || p[3] < '0' || p[3] > '7')
                        return false;
        }
        return true;
}

static int parse_nth(char *s, unsigned *ret)
{
        char *hash = strrchr(s, '#');
        uint64_t v;

        *ret = 0;
        if (!hash)
                return 0;
        if (parse_uint(hash + 1, 10, NTH_MAX, &v) < 0 || v == 0)
                return -EINVAL;
        *hash = 0;
        *ret = (unsigned)v;
        return 0;
}

int vfio_selector_parse(const char *s, vfio_selector **ret)
{
        _cleanup_(vfio_selector_freep) vfio_selector *sel = NULL;
        _cleanup_free_ char *work = NULL;
        char *at;
        int r;

        assert(ret);

        if (!s || !*s || strlen(s) > SELECTOR_MAX)
                return -EINVAL;
        sel = calloc(1, sizeof(*sel));
        if (!sel)
                return -ENOMEM;
        vfio_identity_done(&sel->id);
        sel->text = strdup(s);
        work = strdup(s);
        if (!sel->text || !work)
                return -ENOMEM;

        if (vfio_pci_addr_parse(s, &sel->addr) >= 0) {
                sel->kind = VFIO_SELECTOR_ADDRESS;
                *ret = TAKE_PTR(sel);
                return 0;
        }
        at = strchr(work, '@');
        if (at) {
                char *comma;

                *at = 0;
                comma = strchr(at + 1, ',');
                if (comma) {
                        *comma = 0;
                        if (strncmp(comma + 1, "dsn=", 4) != 0 || parse_dsn(comma + 5, &sel->id.dsn) < 0)
                                return -EINVAL;
                        sel->id.has_dsn = true;
                }
                if (parse_ids(work, strlen(work), &sel->id) < 0 || !is_topology_path(at + 1))
                        return -EINVAL;
                sel->id.path = strdup(at + 1);
                if (!sel->id.path)
                        return -ENOMEM;
                sel->kind = VFIO_SELECTOR_IDENTITY;
                *ret = TAKE_PTR(sel);
                return 0;
        }
        r = parse_nth(work, &sel->nth);
        if (r < 0)
                return r;
        if (parse_ids(work, strlen(work), &sel->id) >= 0) {
                sel->kind = VFIO_SELECTOR_IDS;
                *ret = TAKE_PTR(sel);
                return 0;
        }
        /* Anything else is a name pattern; surrounding blanks are never meant. */
        {
                char *p = work, *e;

                while (isspace((unsigned char)*p))
                        p++;
                e = p + strlen(p);
                while (e > p && isspace((unsigned char)e[-1]))
                        *--e = 0;
                if (!*p)
                        return -EINVAL;
                sel->pattern = strdup(p);
                if (!sel->pattern)
                        return -ENOMEM;
        }
        sel->kind = VFIO_SELECTOR_NAME;
        *ret = TAKE_PTR(sel);
        return 0;
}

char *vfio_dsn_format(uint64_t dsn, char buf[static 24])
{
        snprintf(buf, 24, "%02x-%02x-%02x-%02x-%02x-%02x-%02x-%02x", (unsigned)(dsn >> 56) & 0xff,
                 (unsigned)(dsn >> 48) & 0xff, (unsigned)(dsn >> 40) & 0xff, (unsigned)(dsn >> 32) & 0xff,
                 (unsigned)(dsn >> 24) & 0xff, (unsigned)(dsn >> 16) & 0xff, (unsigned)(dsn >> 8) & 0xff,
                 (unsigned)dsn & 0xff);
        return buf;
}

static uint32_t le32(const uint8_t *p)
{
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int vfio_config_find_dsn(const uint8_t *config, size_t size, uint64_t *ret)
{
        size_t off = CONFIG_EXT_START;

        assert(ret);

        /* Each capability is visited at most once: (4096 - 256) / 4 hops bounds a looping list. */
        for (unsigned hops = 0; hops < (CONFIG_SIZE - CONFIG_EXT_START) / 4; hops++) {
                uint32_t hdr;

                if (off < CONFIG_EXT_START || off + 12 > size || off % 4)
                        return -ENOENT;
                hdr = le32(config + off);
                /* An all-zero or all-ones header means no extended capabilities (7.6.3). */
                if (hdr == 0 || hdr == 0xffffffff)
                        return -ENOENT;
                if ((hdr & 0xffff) == EXT_CAP_ID_DSN) {
                        /* Serial Number Register: lower DW at +4, upper DW at +8 (7.9.3.2). */
                        *ret = (uint64_t)le32(config + off + 8) << 32 | le32(config + off + 4);
                        return 0;
                }
                off = hdr >> 20;
                if (off == 0)
                        return -ENOENT;
        }
        return -ELOOP;
}

int vfio_topology_path(const char *sysfs_path, char **ret)
{
        _cleanup_strv_free_ char **parts = NULL;
        _cleanup_free_ char *out = NULL;
        size_t len = 0;
        int r;

        assert(ret);

        r = strv_split(sysfs_path, "/", &parts);
        if (r < 0)
                return r;
        STRV_FOREACH(p, parts) {
                vfio_pci_addr a;
                char hop[16];
                const char *piece;
                char *n;

                if (strncmp(*p, "pci", 3) == 0 && !out)
                        piece = *p; /* the host bridge: "pci0000:00" */
                else if (vfio_pci_addr_parse(*p, &a) >= 0 && strchr(*p, ':') != strrchr(*p, ':') && out) {
                        snprintf(hop, sizeof(hop), "%02x.%u", a.slot, a.func);
                        piece = hop;
                } else
                        continue;
                n = realloc(out, len + strlen(piece) + 2);
                if (!n)
                        return -ENOMEM;
                out = n;
                len += (size_t)sprintf(out + len, "%s%s", len ? "/" : "", piece);
        }
        if (!out || !strchr(out, '/'))
                return -EINVAL;
        *ret = TAKE_PTR(out);
        return 0;
}

static int read_dsn(const vfio_host *h, const vfio_pci_dev *d, uint64_t *ret)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint8_t buf[CONFIG_SIZE];
        ssize_t n;

        if (asprintf(&path, "sys/bus/pci/devices/%s/config", d->name) < 0)
                return -ENOMEM;
        fd = vfio_host_open_path(h, path, O_RDONLY);
        if (fd < 0)
                return fd;
        /* Config reads past 64 bytes need CAP_SYS_ADMIN; the kernel then returns a shorter file. */
        n = pread(fd, buf, sizeof(buf), 0);
        if (n < 0)
                return -errno;
        return vfio_config_find_dsn(buf, (size_t)n, ret);
}

/* The physical slot whose address ("0000:01:00") matches the device's domain:bus:slot, if any. */
static int read_slot(const vfio_host *h, const vfio_pci_dev *d, char **ret)
{
        _cleanup_strv_free_ char **slots = NULL;
        char want[32];
        int r;

        *ret = NULL;
        snprintf(want, sizeof(want), "%04x:%02x:%02x", d->addr.domain, d->addr.bus, d->addr.slot);
        r = vfio_host_list_dir(h, "sys/bus/pci/slots", 4096, &slots);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        STRV_FOREACH(s, slots) {
                _cleanup_free_ char *path = NULL, *addr = NULL;

                if (asprintf(&path, "sys/bus/pci/slots/%s/address", *s) < 0)
                        return -ENOMEM;
                if (vfio_host_read_attr(h, path, 64, &addr) < 0)
                        continue;
                if (strcmp(addr, want) == 0) {
                        *ret = strdup(*s);
                        return *ret ? 0 : -ENOMEM;
                }
        }
        return 0;
}

int vfio_identity_of(const vfio_host *h, const vfio_pci_dev *d, vfio_identity *ret)
{
        _cleanup_(vfio_identity_done) vfio_identity id = {};
        int r;

        assert(d);
        assert(ret);

        id = (vfio_identity){ .vendor = d->vendor,
                              .device = d->device,
                              .subsystem_vendor = d->subsystem_vendor,
                              .subsystem_device = d->subsystem_device };
        r = vfio_topology_path(d->sysfs_path, &id.path);
        if (r < 0)
                return r;
        id.address = strdup(d->name);
        if (!id.address)
                return -ENOMEM;
        id.has_dsn = read_dsn(h, d, &id.dsn) >= 0;
        r = read_slot(h, d, &id.slot);
        if (r < 0)
                return r;
        *ret = id;
        id = (vfio_identity){};
        return 0;
}

char *vfio_identity_format(const vfio_identity *id)
{
        char dsn[24], *s;
        int r;

        assert(id);

        if (id->subsystem_vendor >= 0 && id->subsystem_device >= 0)
                r = asprintf(&s, "%04x:%04x:%04x:%04x@%s%s%s", (unsigned)id->vendor, (unsigned)id->device,
                             (unsigned)id->subsystem_vendor, (unsigned)id->subsystem_device,
                             id->path ? id->path : "", id->has_dsn ? ",dsn=" : "",
                             id->has_dsn ? vfio_dsn_format(id->dsn, dsn) : "");
        else
                r = asprintf(&s, "%04x:%04x@%s%s%s", (unsigned)id->vendor, (unsigned)id->device,
                             id->path ? id->path : "", id->has_dsn ? ",dsn=" : "",
                             id->has_dsn ? vfio_dsn_format(id->dsn, dsn) : "");
        return r < 0 ? NULL : s;
}

char *vfio_selector_device_name(vfio_pci_names *names, const vfio_pci_dev *d)
{
        _cleanup_free_ char *vendor = NULL, *device = NULL, *sub = NULL;
        char *s;
        int r;

        assert(d);

        if (names) {
                vendor = vfio_pci_names_vendor(names, d->vendor);
                device = vfio_pci_names_device(names, d->vendor, d->device);
                sub = vfio_pci_names_subsystem(names, d->vendor, d->device, d->subsystem_vendor,
                                               d->subsystem_device);
        }
        if (vendor && device)
                r = asprintf(&s, "%s %s%s%s%s", vendor, device, sub ? " (" : "", sub ? sub : "",
                             sub ? ")" : "");
        else
                r = asprintf(&s, "Device %04x:%04x", (unsigned)(d->vendor & 0xffff),
                             (unsigned)(d->device & 0xffff));
        return r < 0 ? NULL : s;
}

vfio_selection *vfio_selection_free(vfio_selection *s)
{
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n; i++) {
                free(s->items[i].name);
                vfio_identity_done(&s->items[i].id);
        }
        free(s->items);
        strv_free(s->notes);
        strv_free(s->problems);
        free(s);
        return NULL;
}

bool vfio_selection_contains(const vfio_selection *s, const char *name)
{
        assert(s);

        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->items[i].name, name) == 0)
                        return true;
        return false;
}

int vfio_selection_add(vfio_selection *s, const vfio_host *h, const vfio_model *m, const char *name,
                       const char *reason)
{
        const vfio_model_device *md = vfio_model_find_device(m, name);
        vfio_selection_item *n, it = { .reason = reason };
        int r;

        assert(s);

        if (!md)
                return -ENOENT;
        if (vfio_selection_contains(s, md->pci->name))
                return 0;
        r = vfio_identity_of(h, md->pci, &it.id);
        if (r < 0)
                return r;
        it.name = strdup(md->pci->name);
        n = it.name ? realloc(s->items, (s->n + 1) * sizeof(*n)) : NULL;
        if (!n) {
                free(it.name);
                vfio_identity_done(&it.id);
                return -ENOMEM;
        }
        s->items = n;
        s->items[s->n++] = it;
        return 0;
}

static bool ids_match(const vfio_identity *want, const vfio_pci_dev *d)
{
        if (want->vendor != d->vendor || want->device != d->device)
                return false;
        if (want->subsystem_vendor >= 0 && want->subsystem_vendor != d->subsystem_vendor)
                return false;
        if (want->subsystem_device >= 0 && want->subsystem_device != d->subsystem_device)
                return false;
        return true;
}

static bool name_matches(vfio_pci_names *names, const vfio_pci_dev *d, const char *pattern)
{
        _cleanup_free_ char *n = vfio_selector_device_name(names, d);

        if (!n)
                return false;
        /* VM configs may write a shell pattern ('*GTX 1080*'); a bare phrase is a substring. */
        if (strpbrk(pattern, "*?["))
                return fnmatch(pattern, n, FNM_CASEFOLD) == 0;
        return strcasestr(n, pattern);
}

static char *describe(const vfio_host *h, vfio_pci_names *names, const vfio_pci_dev *d)
{
        _cleanup_free_ char *n = vfio_selector_device_name(names, d);
        _cleanup_(vfio_identity_done) vfio_identity id = {};
        char *s = NULL, dsn[24];

        if (vfio_identity_of(h, d, &id) < 0)
                return NULL;
        if (asprintf(&s, "%s [%04x:%04x:%04x:%04x] %s at %s%s%s", d->name, (unsigned)d->vendor & 0xffff,
                     (unsigned)d->device & 0xffff, (unsigned)d->subsystem_vendor & 0xffff,
                     (unsigned)d->subsystem_device & 0xffff, n ? n : "", id.path,
                     id.has_dsn ? ", serial " : "", id.has_dsn ? vfio_dsn_format(id.dsn, dsn) : "") < 0)
                s = NULL;
        return s;
}

/* Re-finds a recorded identity; never falls back to a weaker match than the one recorded. */
static int resolve_identity(const vfio_host *h, const vfio_model *m, vfio_pci_names *names,
                            vfio_selection *sel, const vfio_selector *s, const vfio_pci_dev **ret)
{
        const vfio_identity *want = &s->id;
        const vfio_pci_dev *found = NULL, *at_path = NULL;
        _cleanup_strv_free_ char **same_ids = NULL;
        char dsn[24];
        int r;

        for (size_t i = 0; i < m->pci->n; i++) {
                const vfio_pci_dev *d = m->pci->devs[i];
                _cleanup_free_ char *path = NULL;
                _cleanup_(vfio_identity_done) vfio_identity id = {};

                if (vfio_topology_path(d->sysfs_path, &path) >= 0 && want->path &&
                    strcmp(path, want->path) == 0)
                        at_path = d;
                if (!ids_match(want, d))
                        continue;
                if (vfio_identity_of(h, d, &id) < 0)
                        continue;
                if (strv_extend(&same_ids, d->name) < 0)
                        return -ENOMEM;
                if (want->has_dsn ? (id.has_dsn && id.dsn == want->dsn)
                                  : (want->path && id.path && strcmp(id.path, want->path) == 0))
                        found = d;
        }
        if (found) {
                _cleanup_free_ char *path = NULL;

                r = vfio_topology_path(found->sysfs_path, &path);
                if (r < 0)
                        return r;
                if (want->path && strcmp(path, want->path) != 0 &&
                    strv_extendf(&sel->notes, "%s: the device (serial %s) moved from %s to %s, now %s",
                                 s->text, vfio_dsn_format(want->dsn, dsn), want->path, path,
                                 found->name) < 0)
                        return -ENOMEM;
                *ret = found;
                return 0;
        }
        if (want->has_dsn)
                r = strv_extendf(&sel->problems, "%s: no device with IDs %04x:%04x and serial %s is present",
                                 s->text, (unsigned)want->vendor, (unsigned)want->device,
                                 vfio_dsn_format(want->dsn, dsn));
        else
                r = strv_extendf(&sel->problems, "%s: no device with IDs %04x:%04x is at %s any more",
                                 s->text, (unsigned)want->vendor, (unsigned)want->device, want->path);
        if (r < 0)
                return r;
        if (at_path) {
                _cleanup_free_ char *d = describe(h, names, at_path);

                if (!d || strv_extendf(&sel->problems, "  now at %s: %s", want->path, d) < 0)
                        return -ENOMEM;
        } else if (want->path &&
                   strv_extendf(&sel->problems, "  nothing is at %s now (card removed or moved)",
                                want->path) < 0)
                return -ENOMEM;
        STRV_FOREACH(n, same_ids) {
                _cleanup_free_ char *d = describe(h, names, vfio_pci_list_find(m->pci, *n));

                if (!d || strv_extendf(&sel->problems, "  same IDs: %s", d) < 0)
                        return -ENOMEM;
        }
        if (strv_extendf(
                    &sel->problems,
                    "  select the device again (by address or name) if the hardware change was intended") <
            0)
                return -ENOMEM;
        return -ESTALE;
}

/* Matches of an IDS or NAME selector, in address order. */
static int match_all(const vfio_model *m, vfio_pci_names *names, const vfio_selector *s,
                     const vfio_pci_dev ***ret, size_t *ret_n)
{
        const vfio_pci_dev **v = calloc(m->pci->n + 1, sizeof(*v));
        size_t n = 0;

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < m->pci->n; i++) {
                const vfio_pci_dev *d = m->pci->devs[i];

                if (vfio_pci_dev_is_bridge(d))
                        continue; /* bridges are never passthrough targets */
                if (s->kind == VFIO_SELECTOR_IDS ? ids_match(&s->id, d) : name_matches(names, d, s->pattern))
                        v[n++] = d;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static int resolve_one(const vfio_host *h, const vfio_model *m, vfio_pci_names *names, vfio_selection *sel,
                       const vfio_selector *s, const vfio_pci_dev ***ret, size_t *ret_n)
{
        _cleanup_free_ const vfio_pci_dev **v = NULL;
        size_t n = 0, slots = 0;
        int r;

        switch (s->kind) {
        case VFIO_SELECTOR_ADDRESS: {
                char buf[VFIO_PCI_ADDR_MAX];
                const vfio_pci_dev *d = vfio_pci_list_find(m->pci, vfio_pci_addr_format(&s->addr, buf));

                if (!d) {
                        r = strv_extendf(&sel->problems, "%s: no PCI device at %s (see 'vfioctl devices')",
                                         s->text, buf);
                        return r < 0 ? r : -ENOENT;
                }
                v = calloc(2, sizeof(*v));
                if (!v)
                        return -ENOMEM;
                v[0] = d;
                *ret_n = 1;
                *ret = TAKE_PTR(v);
                return 0;
        }
        case VFIO_SELECTOR_IDENTITY: {
                const vfio_pci_dev *d;

                r = resolve_identity(h, m, names, sel, s, &d);
                if (r < 0)
                        return r;
                v = calloc(2, sizeof(*v));
                if (!v)
                        return -ENOMEM;
                v[0] = d;
                *ret_n = 1;
                *ret = TAKE_PTR(v);
                return 0;
        }
        case VFIO_SELECTOR_IDS:
        case VFIO_SELECTOR_NAME:
                break;
        }
        if (s->kind == VFIO_SELECTOR_NAME && !names) {
                r = strv_extendf(
                        &sel->problems,
                        "%s: device names are unavailable (pci.ids not found); use an address or vendor:device",
                        s->text);
                return r < 0 ? r : -ENOENT;
        }
        r = match_all(m, names, s, &v, &n);
        if (r < 0)
                return r;
        if (n == 0) {
                r = strv_extendf(&sel->problems,
                                 "%s: no PCI device matches (see 'vfioctl devices' for names and IDs)",
                                 s->text);
                return r < 0 ? r : -ENOENT;
        }
        if (s->nth > 0) {
                if (s->nth > n) {
                        r = strv_extendf(&sel->problems, "%s: only %zu device%s match%s", s->text, n,
                                         n == 1 ? "" : "s", n == 1 ? "es" : "");
                        return r < 0 ? r : -ENOENT;
                }
                v[0] = v[s->nth - 1];
                v[1] = NULL;
                *ret_n = 1;
                *ret = TAKE_PTR(v);
                return 0;
        }
        for (size_t i = 0; i < n; i++)
                if (i == 0 || !vfio_pci_same_slot(v[i], v[i - 1]))
                        slots++;
        if (slots > 1) {
                /* Two identical cards: taking both, or the first, would be a guess (seed 000's head -1). */
                r = strv_extendf(&sel->problems,
                                 "%s matches %zu devices in %zu slots; add #N to pick one:", s->text, n,
                                 slots);
                for (size_t i = 0; r >= 0 && i < n; i++) {
                        _cleanup_free_ char *d = describe(h, names, v[i]);

                        r = d ? strv_extendf(&sel->problems, "  %s#%zu: %s", s->text, i + 1, d) : -ENOMEM;
                }
                return r < 0 ? r : -ENOTUNIQ;
        }
        *ret_n = n;
        *ret = TAKE_PTR(v);
        return 0;
}

int vfio_selection_resolve(const vfio_host *h, const vfio_model *m, vfio_pci_names *names,
                           char *const *selectors, unsigned flags, vfio_selection **ret)
{
        _cleanup_(vfio_selection_freep) vfio_selection *sel = NULL;
        int r, first_error = 0;

        assert(m);
        assert(ret);

        sel = calloc(1, sizeof(*sel));
        if (!sel)
                return -ENOMEM;
        sel->notes = calloc(1, sizeof(char *));
        sel->problems = calloc(1, sizeof(char *));
        if (!sel->notes || !sel->problems)
                return -ENOMEM;
        STRV_FOREACH(text, selectors) {
                _cleanup_(vfio_selector_freep) vfio_selector *s = NULL;
                _cleanup_free_ const vfio_pci_dev **v = NULL;
                size_t n = 0;

                r = vfio_selector_parse(*text, &s);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        if (strv_extendf(
                                    &sel->problems,
                                    "'%s' is not a selector: use an address (01:00.0), vendor:device (10de:1284), a name (\"GTX 780 Ti\", \"GTX 780 Ti#2\") or a recorded identity",
                                    *text) < 0)
                                return -ENOMEM;
                        if (!first_error)
                                first_error = -EINVAL;
                        continue;
                }
                r = resolve_one(h, m, names, sel, s, &v, &n);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        if (!first_error)
                                first_error = r;
                        continue;
                }
                for (size_t i = 0; i < n; i++) {
                        r = vfio_selection_add(sel, h, m, v[i]->name, "selected");
                        if (r < 0)
                                return r;
                }
        }
        if (!(flags & VFIO_SELECT_FUNCTION_ONLY)) {
                size_t n_selected = sel->n;

                for (size_t i = 0; i < n_selected; i++) {
                        const vfio_pci_dev *d = vfio_pci_list_find(m->pci, sel->items[i].name);

                        for (size_t j = 0; d && j < m->pci->n; j++) {
                                const vfio_pci_dev *o = m->pci->devs[j];

                                if (o == d || !vfio_pci_same_slot(o, d) || vfio_pci_dev_is_bridge(o))
                                        continue;
                                r = vfio_selection_add(sel, h, m, o->name, "same slot");
                                if (r < 0)
                                        return r;
                        }
                }
        }
        if (first_error < 0) {
                *ret = TAKE_PTR(sel);
                return first_error;
        }
        *ret = TAKE_PTR(sel);
        return 0;
}

int vfio_selector_resolve(const vfio_selector *s, const vfio_model *m, vfio_pci_names *names, char ***ret)
{
        _cleanup_strv_free_ char **found = NULL;
        _cleanup_free_ const vfio_pci_dev **v = NULL;
        size_t n = 0;
        int r;

        assert(s);
        assert(ret);

        if (!m || !m->pci)
                return -ENXIO;
        if (s->kind == VFIO_SELECTOR_ADDRESS || s->kind == VFIO_SELECTOR_IDENTITY) {
                for (size_t i = 0; i < m->pci->n; i++) {
                        const vfio_pci_dev *d = m->pci->devs[i];
                        bool match;

                        if (s->kind == VFIO_SELECTOR_ADDRESS)
                                match = vfio_pci_addr_compare(&d->addr, &s->addr) == 0;
                        else {
                                _cleanup_free_ char *path = NULL;

                                match = ids_match(&s->id, d) &&
                                        (!s->id.path || (vfio_topology_path(d->sysfs_path, &path) >= 0 &&
                                                         strcmp(path, s->id.path) == 0));
                        }
                        if (match && (r = strv_extend(&found, d->name)) < 0)
                                return r;
                }
        } else {
                r = match_all(m, names, s, &v, &n);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++) {
                        if (s->nth > 0 && i + 1 != s->nth)
                                continue;
                        r = strv_extend(&found, v[i]->name);
                        if (r < 0)
                                return r;
                }
        }
        if (!found)
                return log_debug_errno(-ENXIO, "selector '%s' matches no PCI device", s->text);
        *ret = TAKE_PTR(found);
        return 0;
}
