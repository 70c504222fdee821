/* Memory facts: huge pages per size and NUMA node, free-block fragmentation, and memlock limits. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vfioctl/common.h"
#include "vfioctl/host.h"

typedef struct vfio_hugepage_pool {
        uint64_t page_size; /* bytes: 2 MiB, 1 GiB */
        int node;           /* -1: the system-wide pool (sys/kernel/mm/hugepages) */
        uint64_t nr, free, resv, surplus;
} vfio_hugepage_pool;

typedef struct vfio_buddy_zone {
        int node;
        char *zone;        /* "DMA", "DMA32", "Normal", "Movable" */
        uint64_t free[16]; /* free blocks per order */
        unsigned n_orders;
} vfio_buddy_zone;

typedef struct vfio_memory {
        uint64_t total;            /* MemTotal, bytes; 0 when unknown */
        uint64_t available;        /* MemAvailable, bytes */
        uint64_t page_size;        /* base page size assumed for buddyinfo orders: 4 KiB on x86 */
        vfio_hugepage_pool *pools; /* system pools first (by size), then per node (by node, size) */
        size_t n_pools;
        vfio_buddy_zone *zones;
        size_t n_zones;
} vfio_memory;

int vfio_memory_read(const vfio_host *h, vfio_memory **ret);
vfio_memory *vfio_memory_free(vfio_memory *m);
VFIO_DEFINE_POINTER_CLEANUP(vfio_memory, vfio_memory_free)

/* Parses proc/buddyinfo text into m->zones (exported for tests). */
int vfio_memory_parse_buddyinfo(vfio_memory *m, const char *text);
/* Bytes free in blocks of at least `block` bytes (zones other than DMA), i.e. what a runtime reservation
 * of pages of that size can take without compaction. */
uint64_t vfio_memory_free_in_blocks(const vfio_memory *m, uint64_t block);

/* ---- memlock limits (limits.conf(5), pam_limits) ---- */

#define VFIO_LIMIT_UNLIMITED UINT64_MAX
#define VFIO_LIMIT_UNSET     (UINT64_MAX - 1)

typedef struct vfio_memlock {
        uint64_t soft, hard; /* bytes, VFIO_LIMIT_UNLIMITED, or VFIO_LIMIT_UNSET (no line applies) */
        char *soft_where, *hard_where; /* "etc/security/limits.d/vfio.conf:2" of the line that won */
} vfio_memlock;

/*
 * The memlock limits pam_limits gives user (uid, member of groups) from etc/security/limits.conf and then
 * etc/security/limits.d/NAME.conf in name order: a line for the user beats a @group line beats "*"; among
 * equals the later line wins; group and "*" lines do not apply to uid 0 (limits.conf(5)).
 */
int vfio_memlock_read(const vfio_host *h, const char *user, uint32_t uid, char *const *groups,
                      vfio_memlock *ret);
/* Applies one file's text (exported for tests). */
int vfio_memlock_parse(vfio_memlock *m, int *prio_soft, int *prio_hard, const char *text, const char *where,
                       const char *user, uint32_t uid, char *const *groups);
void vfio_memlock_done(vfio_memlock *m);
