/* Human names of PCI IDs through libpci's pci.ids parser (never a table of our own). */
#include "vfioctl/pciids.h"

#include <assert.h>
#include <errno.h>
#include <pci/pci.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

/* One remembered lookup: a machine has few distinct IDs, so a listing asks libpci the same few questions. */
typedef struct names_entry {
        int key[5]; /* flags, then libpci's four arguments */
        char *name; /* NULL: pci.ids does not know it */
        bool used;
} names_entry;

struct vfio_pci_names {
        struct pci_access *pacc;
        char *ids_path;
        names_entry *cache; /* open addressing, linear probing; n_cache < cache_size / 2 */
        size_t cache_size, n_cache;
};

/* libpci's default error handler calls exit(); a missing pci.ids must only cost us the names. */
static void PCI_NONRET names_error(char *msg, ...)
{
        va_list ap;

        va_start(ap, msg);
        if (log_debug_enabled())
                vfprintf(stderr, msg, ap);
        va_end(ap);
        abort();
}

static void names_warning(char *msg, ...)
{
        va_list ap;

        va_start(ap, msg);
        if (log_debug_enabled()) {
                fputs("debug libpci: ", stderr);
                vfprintf(stderr, msg, ap);
                fputc('\n', stderr);
        }
        va_end(ap);
}

static void names_debug(char *msg, ...)
{
        (void)msg;
}

int vfio_pci_names_new(const char *ids_path, vfio_pci_names **ret)
{
        vfio_pci_names *n;

        assert(ret);

        n = calloc(1, sizeof(*n));
        if (!n)
                return -ENOMEM;
        n->ids_path = strdup(ids_path ? ids_path : VFIOCTL_PCI_IDS);
        if (!n->ids_path) {
                free(n);
                return -ENOMEM;
        }
        n->pacc = pci_alloc();
        if (!n->pacc) {
                free(n->ids_path);
                free(n);
                return -ENOMEM;
        }
        n->pacc->error = names_error;
        n->pacc->warning = names_warning;
        n->pacc->debug = names_debug;
        /* Only pci.ids: the udev hwdb (and DNS, off unless asked) would make names depend on the machine. */
        pci_set_name_list_path(n->pacc, n->ids_path, 0);
        *ret = n;
        return 0;
}

vfio_pci_names *vfio_pci_names_free(vfio_pci_names *n)
{
        if (!n)
                return NULL;
        if (n->pacc)
                pci_cleanup(n->pacc);
        for (size_t i = 0; i < n->cache_size; i++)
                free(n->cache[i].name);
        free(n->cache);
        free(n->ids_path);
        free(n);
        return NULL;
}

static size_t key_hash(const int key[5], size_t size)
{
        uint64_t h = 1469598103934665603u; /* FNV-1a over the five ints */

        for (int i = 0; i < 5; i++) {
                h ^= (uint32_t)key[i];
                h *= 1099511628211u;
        }
        return (size_t)(h & (size - 1));
}

static names_entry *cache_slot(names_entry *cache, size_t size, const int key[5])
{
        size_t i = key_hash(key, size);

        while (cache[i].used && memcmp(cache[i].key, key, sizeof(cache[i].key)) != 0)
                i = (i + 1) & (size - 1);
        return &cache[i];
}

static int cache_grow(vfio_pci_names *n)
{
        size_t size = n->cache_size ? n->cache_size * 2 : 64;
        names_entry *c = calloc(size, sizeof(names_entry));

        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < n->cache_size; i++)
                if (n->cache[i].used)
                        *cache_slot(c, size, n->cache[i].key) = n->cache[i];
        free(n->cache);
        n->cache = c;
        n->cache_size = size;
        return 0;
}

/*
 * pci_lookup_name() formats its answer into the caller's buffer on every call; listing thousands of
 * functions of a few kinds repeats the same few lookups, so answers are remembered per names database.
 */
static char *lookup(vfio_pci_names *n, int flags, int a, int b, int c, int d)
{
        const int key[5] = { flags, a, b, c, d };
        names_entry *e = NULL;
        char buf[512], *s;

        if (n->n_cache + 1 <= n->cache_size / 2 || cache_grow(n) >= 0) {
                e = cache_slot(n->cache, n->cache_size, key);
                if (e->used)
                        return e->name ? strdup(e->name) : NULL;
        }
        s = pci_lookup_name(n->pacc, buf, sizeof(buf), flags | PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB, a,
                            b, c, d);
        if (e && (!s || (e->name = strdup(s)))) {
                memcpy(e->key, key, sizeof(e->key));
                e->used = true;
                n->n_cache++;
        }
        return s ? strdup(s) : NULL;
}

char *vfio_pci_names_vendor(vfio_pci_names *n, int32_t vendor)
{
        if (vendor < 0)
                return NULL;
        return lookup(n, PCI_LOOKUP_VENDOR, vendor, 0, 0, 0);
}

char *vfio_pci_names_device(vfio_pci_names *n, int32_t vendor, int32_t device)
{
        if (vendor < 0 || device < 0)
                return NULL;
        return lookup(n, PCI_LOOKUP_DEVICE, vendor, device, 0, 0);
}

char *vfio_pci_names_subsystem(vfio_pci_names *n, int32_t vendor, int32_t device, int32_t subvendor,
                               int32_t subdevice)
{
        if (vendor < 0 || device < 0 || subvendor < 0 || subdevice < 0)
                return NULL;
        return lookup(n, PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_DEVICE, vendor, device, subvendor, subdevice);
}

char *vfio_pci_names_class(vfio_pci_names *n, int32_t class)
{
        char *s;

        /* The subclass reads best ("PCI bridge", "VGA compatible controller"), as lspci prints it. */
        if (class < 0)
                return NULL;
        s = lookup(n, PCI_LOOKUP_CLASS, class >> 8, 0, 0, 0);
        if (s)
                return s;
        return lookup(n, PCI_LOOKUP_CLASS, (class >> 16) << 8, 0, 0, 0);
}
