/* Guest RAM allocated before QEMU maps it: an unnamed hugetlbfs file filled by one thread per host CPU. */
#pragma once

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vfioctl/common.h"
#include "vfioctl/host.h"
#include "vfioctl/vmconf.h"

/* NUMA nodes a mask can name: bit N of the mask is node N. */
#define VM_PREALLOC_NODES_MAX 64

typedef struct vm_prealloc_opts {
        uint64_t size;         /* bytes: a multiple of the hugetlbfs page size */
        unsigned threads;      /* allocating threads; 0: one per CPU this process may run on */
        uint64_t nodes;        /* NUMA nodes the pages must come from (MPOL_BIND); 0: the kernel's choice */
        const cpu_set_t *cpus; /* where the allocating threads run (the nodes' CPUs); NULL: anywhere */
        bool chown;            /* give the file to uid:gid (root starting QEMU as [vm] user) */
        uid_t uid;
        gid_t gid;
} vm_prealloc_opts;

typedef struct vm_prealloc_result {
        unsigned threads;    /* how many threads allocated */
        uint64_t page_size;  /* of the hugetlbfs mount */
        bool populate_write; /* MADV_POPULATE_WRITE (else fallocate, one thread) */
} vm_prealloc_result;

/*
 * Creates an unnamed file (O_TMPFILE: no name another user could swap) on the hugetlbfs directory dir_fd,
 * sizes it, and has every page allocated and zeroed by `threads` threads at once, each populating its own
 * range of a shared mapping (MADV_POPULATE_WRITE): the pages stay in the file when the mapping goes, so
 * QEMU, mapping the file shared, finds them all and its own prealloc only maps them. One thread on one
 * file cannot go faster: hugetlbfs fallocate() holds the inode lock for the whole call, so ranges given to
 * several threads are allocated one after the other. Returns the descriptor (O_CLOEXEC), to be handed to
 * QEMU and reopened as /proc/self/fd/N; the pages go back to the pool when its last descriptor closes.
 * -EMEDIUMTYPE: not a hugetlbfs directory; -EOPNOTSUPP: no unnamed files there (kernel before 5.1);
 * -EINVAL: size not a multiple of the page size; -ENOMEM: the pool has too few free pages (the shared
 * mapping reserves them all up front, so this comes before any is zeroed).
 */
int vm_prealloc_hugetlbfs(int dir_fd, const vm_prealloc_opts *o, int *ret_fd, vm_prealloc_result *ret);

/*
 * The NUMA nodes of the host CPUs in cpus (entries as [cpu] pin writes them: "3", "4-7", "0,2"), and the
 * CPUs of those nodes, from sys/devices/system/node. *ret_nodes is 0 (no policy) on a host with one node,
 * when cpus is empty, or when a node is beyond VM_PREALLOC_NODES_MAX.
 */
int vm_prealloc_nodes_of_cpus(const vfio_host *h, char *const *cpus, uint64_t *ret_nodes,
                              cpu_set_t *ret_node_cpus);

/* Parses a kernel CPU list ("0-3,8,10-11") into set; -EINVAL when malformed or beyond CPU_SETSIZE. */
int vm_prealloc_parse_cpu_list(const char *s, cpu_set_t *set);

/* What vm_prealloc_guest_ram() did, for the VM's log. */
typedef struct vm_prealloc_report {
        vm_prealloc_result result;
        uint64_t nodes;   /* the NUMA nodes the pages were bound to; 0: no policy */
        double seconds;   /* wall time of the allocation */
        const char *skip; /* why vfioctl left the allocation to QEMU (static string); NULL when it did it */
} vm_prealloc_report;

/*
 * The guest RAM of c, filled by vfioctl when c uses hugepages (which imply prealloc=on): the file of
 * vm_prealloc_hugetlbfs() in vm_qemu_hugepage_dir(c), prealloc_threads threads (0: one per CPU), bound to
 * the NUMA nodes of the host CPUs the vCPUs are pinned to (pin: [cpu] pin or the launcher's plan; NULL:
 * none) on a host with several, owned by uid:gid when chown is set. *ret_fd is -1
 * with report->skip set when vfioctl leaves the work to QEMU's own prealloc (no hugepages, the directory
 * is no hugetlbfs, the kernel has no unnamed files there); then the start goes on unchanged. Other
 * failures (-ENOMEM: the pool is short) are returned: QEMU would fail on them too, later and less clearly.
 */
int vm_prealloc_guest_ram(const vfio_host *h, const vm_config *c, char *const *pin, bool chown, uid_t uid,
                          gid_t gid, int *ret_fd, vm_prealloc_report *report);
