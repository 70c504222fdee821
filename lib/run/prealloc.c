/* Guest RAM allocated before QEMU maps it: an unnamed hugetlbfs file filled by one thread per host CPU. */
#include "vfioctl/prealloc.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/mempolicy.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileio.h"
#include "log.h"
#include "parse-util.h"
#include "safedir.h"
#include "strv.h"
#include "vfioctl/qemu-argv.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14, include/uapi/asm-generic/mman-common.h */
#endif

/* More threads than this only queue on the same memory bandwidth. */
#define PREALLOC_THREADS_MAX 256

/*
 * The threads start populating together, once all exist. Creating a thread maps its stack, and a thread's
 * first malloc() maps an arena: both take the process's mmap_lock for writing, while MADV_POPULATE_WRITE
 * holds it for reading over its whole range. A thread created (or allocating) while another populates
 * waits for that one to finish: the ranges are filled one after another. That is what QEMU 7.2's
 * prealloc-threads runs into here (mmap_lock tracepoints: a touch thread's write lock waited out the
 * other's 4 GiB populate; docs/BENCHMARKS.md, "Memory setup").
 */
typedef struct start_gate {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool open;
} start_gate;

typedef struct populate_job {
        start_gate *gate;
        char *addr;
        size_t len;
        int error; /* positive errno of the populating madvise(), 0 on success */
} populate_job;

static void *populate(void *arg)
{
        populate_job *j = arg;

        if (j->gate) {
                pthread_mutex_lock(&j->gate->lock);
                while (!j->gate->open)
                        pthread_cond_wait(&j->gate->cond, &j->gate->lock);
                pthread_mutex_unlock(&j->gate->lock);
        }
        /*
         * MADV_POPULATE_WRITE faults every page in writable and reports a failure as an error rather than
         * SIGBUS (madvise(2)); on a shared hugetlbfs mapping each fault allocates and zeroes a page of the
         * file. Faults of different pages take different locks (the hugetlb fault mutex is hashed by file
         * offset), so the threads' ranges fill at the same time. EINTR leaves the range partly done; the
         * populated pages are skipped on the next call.
         */
        while (madvise(j->addr, j->len, MADV_POPULATE_WRITE) < 0) {
                if (errno != EINTR) {
                        j->error = errno;
                        break;
                }
        }
        return NULL;
}

static int set_mempolicy_bind(uint64_t nodes)
{
        unsigned long mask = (unsigned long)nodes;

        /* maxnode counts one past the last bit the kernel reads (set_mempolicy(2), "maxnode"). */
        if (syscall(SYS_set_mempolicy, nodes ? MPOL_BIND : MPOL_DEFAULT, nodes ? &mask : NULL,
                    nodes ? (unsigned long)VM_PREALLOC_NODES_MAX + 1 : 0) < 0)
                return -errno;
        return 0;
}

/* Without MADV_POPULATE_WRITE (kernels before 5.14): fallocate() allocates the same pages, one thread. */
static int fill_by_fallocate(int fd, uint64_t size, uint64_t nodes)
{
        int r = 0;

        /* hugetlbfs_fallocate() takes the policy of the calling task for the pages it allocates. */
        if (nodes && (r = set_mempolicy_bind(nodes)) < 0)
                return r;
        if (fallocate(fd, 0, 0, (off_t)size) < 0)
                r = -errno;
        if (nodes)
                (void)set_mempolicy_bind(0);
        return r;
}

static unsigned default_threads(const cpu_set_t *cpus)
{
        cpu_set_t mine;
        int n;

        if (cpus)
                n = CPU_COUNT(cpus);
        else if (sched_getaffinity(0, sizeof(mine), &mine) == 0)
                n = CPU_COUNT(&mine);
        else
                n = (int)sysconf(_SC_NPROCESSORS_ONLN);
        return n > 0 ? (unsigned)n : 1;
}

/* Runs the populating threads over the mapping; the first failure wins. */
/* Runs the populating threads over the mapping; the first failure wins. */
static int fill_by_threads(char *addr, uint64_t size, uint64_t page, unsigned n, const cpu_set_t *cpus)
{
        pthread_t tid[PREALLOC_THREADS_MAX];
        populate_job jobs[PREALLOC_THREADS_MAX];
        start_gate gate = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
        pthread_attr_t attr;
        uint64_t pages = size / page, per = pages / n, extra = pages % n, off = 0;
        unsigned started = 0;
        int r = 0;

        if (pthread_attr_init(&attr) != 0)
                return -ENOMEM;
        if (cpus)
                (void)pthread_attr_setaffinity_np(&attr, sizeof(*cpus), cpus);
        for (unsigned i = 0; i < n; i++) {
                uint64_t count =
                        per + (i < extra); /* contiguous ranges, the first `extra` one page longer */

                jobs[i] = (populate_job){ .gate = &gate,
                                          .addr = addr + off * page,
                                          .len = (size_t)(count * page) };
                off += count;
                if (pthread_create(&tid[i], &attr, populate, &jobs[i]) != 0) {
                        tid[i] = 0; /* fewer threads is slower, not wrong: this range is filled below */
                        continue;
                }
                started++;
        }
        pthread_mutex_lock(&gate.lock);
        gate.open = true;
        pthread_cond_broadcast(&gate.cond);
        pthread_mutex_unlock(&gate.lock);
        for (unsigned i = 0; i < n; i++)
                if (!tid[i])
                        populate(&jobs[i]);
        for (unsigned i = 0; i < n; i++)
                if (tid[i])
                        pthread_join(tid[i], NULL);
        pthread_attr_destroy(&attr);
        for (unsigned i = 0; i < n && r == 0; i++)
                if (jobs[i].error)
                        r = -jobs[i].error;
        log_debug("prealloc: %u threads (%u started), %llu pages of %llu bytes: %s", n, started,
                  (unsigned long long)pages, (unsigned long long)page, r < 0 ? strerror(-r) : "done");
        return r;
}

int vm_prealloc_hugetlbfs(int dir_fd, const vm_prealloc_opts *o, int *ret_fd, vm_prealloc_result *ret)
{
        _cleanup_close_ int fd = -EBADF;
        struct statfs sfs;
        uint64_t page;
        unsigned n;
        char *addr;
        bool populate_write = true;
        int r;

        assert(o);
        assert(ret_fd);

        /* Nothing is created before the directory is known to be hugetlbfs: it comes from a config and may
         * be anywhere, and a filesystem without unnamed files would otherwise read as an old kernel. */
        if (fstatfs(dir_fd, &sfs) < 0)
                return -errno;
        if ((unsigned long)sfs.f_type != HUGETLBFS_MAGIC)
                return -EMEDIUMTYPE;
        /* O_EXCL: the VM user, who gets the descriptor, cannot link the file into a directory and so keep
         * the pages past the VM (open(2), O_TMPFILE). An unnamed file in dir_fd itself: no name to swap. */
        fd = safedir_openat(dir_fd, ".", O_TMPFILE | O_EXCL | O_RDWR, 0600);
        if (fd < 0)
                return fd == -EISDIR || fd == -EOPNOTSUPP ? -EOPNOTSUPP : fd;
        if (fstatfs(fd, &sfs) < 0)
                return -errno;
        if ((unsigned long)sfs.f_type != HUGETLBFS_MAGIC)
                return -EMEDIUMTYPE;
        page = (uint64_t)sfs.f_bsize; /* hugetlbfs reports its page size as the block size */
        if (page == 0 || o->size == 0 || o->size % page != 0)
                return -EINVAL;
        if (ftruncate(fd, (off_t)o->size) < 0)
                return -errno;
        n = o->threads ? o->threads : default_threads(o->cpus);
        if (n > PREALLOC_THREADS_MAX)
                n = PREALLOC_THREADS_MAX;
        if (n > o->size / page)
                n = (unsigned)(o->size / page);

        /* A shared mapping reserves every page at mmap() (ENOMEM if the pool is short), before any
         * is zeroed. */
        addr = mmap(NULL, (size_t)o->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (addr == MAP_FAILED)
                return -errno;
        r = 0;
        if (o->nodes) {
                unsigned long mask = (unsigned long)o->nodes;

                /* The mapping's policy decides where its faults allocate (mbind(2)). */
                if (syscall(SYS_mbind, addr, (unsigned long)o->size, MPOL_BIND, &mask,
                            (unsigned long)VM_PREALLOC_NODES_MAX + 1, 0) < 0)
                        r = -errno;
        }
        if (r == 0)
                r = fill_by_threads(addr, o->size, page, n, o->cpus);
        (void)munmap(addr, (size_t)o->size);
        if (r == -EINVAL) {
                /* No MADV_POPULATE_WRITE before Linux 5.14. */
                populate_write = false;
                n = 1;
                r = fill_by_fallocate(fd, o->size, o->nodes);
        }
        if (r < 0)
                return r;
        if (o->chown && fchown(fd, o->uid, o->gid) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        if (ret)
                *ret = (vm_prealloc_result){ .threads = n,
                                             .page_size = page,
                                             .populate_write = populate_write };
        return 0;
}

int vm_prealloc_parse_cpu_list(const char *s, cpu_set_t *set)
{
        _cleanup_strv_free_ char **parts = NULL;
        cpu_set_t out;
        int r;

        assert(s);
        assert(set);

        CPU_ZERO(&out);
        r = strv_split(s, ",", &parts);
        if (r < 0)
                return r;
        STRV_FOREACH(p, parts) {
                char *dash = strchr(*p, '-');
                uint64_t lo, hi;

                if (dash)
                        *dash = 0;
                if (parse_uint(*p, 10, CPU_SETSIZE - 1, &lo) < 0 ||
                    parse_uint(dash ? dash + 1 : *p, 10, CPU_SETSIZE - 1, &hi) < 0 || hi < lo)
                        return -EINVAL;
                for (uint64_t c = lo; c <= hi; c++)
                        CPU_SET((int)c, &out);
        }
        *set = out;
        return 0;
}

int vm_prealloc_nodes_of_cpus(const vfio_host *h, char *const *cpus, uint64_t *ret_nodes,
                              cpu_set_t *ret_node_cpus)
{
        _cleanup_strv_free_ char **entries = NULL;
        cpu_set_t want, node_cpus;
        uint64_t nodes = 0;
        size_t n_nodes = 0;
        int r;

        assert(h);
        assert(ret_nodes);

        CPU_ZERO(&want);
        CPU_ZERO(&node_cpus);
        STRV_FOREACH(c, cpus) {
                cpu_set_t one;

                r = vm_prealloc_parse_cpu_list(*c, &one);
                if (r < 0)
                        return r;
                CPU_OR(&want, &want, &one);
        }
        r = vfio_host_list_dir(h, "sys/devices/system/node", 4096, &entries);
        if (r == -ENOENT)
                entries = NULL; /* no NUMA support in the kernel: one node */
        else if (r < 0)
                return r;
        STRV_FOREACH(e, entries) {
                _cleanup_free_ char *list = NULL;
                char path[128];
                cpu_set_t these, common;
                uint64_t id;

                if (strncmp(*e, "node", 4) != 0 || parse_uint(*e + 4, 10, 65535, &id) < 0)
                        continue;
                n_nodes++;
                snprintf(path, sizeof(path), "sys/devices/system/node/%s/cpulist", *e);
                r = vfio_host_read_attr(h, path, 65536, &list);
                if (r < 0)
                        return r;
                if (!*list)
                        continue; /* a memory-only node */
                r = vm_prealloc_parse_cpu_list(list, &these);
                if (r < 0)
                        return r;
                CPU_AND(&common, &these, &want);
                if (CPU_COUNT(&common) == 0)
                        continue;
                if (id >= VM_PREALLOC_NODES_MAX) {
                        nodes = 0; /* beyond what the mask can name: leave it to the kernel */
                        CPU_ZERO(&node_cpus);
                        break;
                }
                nodes |= UINT64_C(1) << id;
                CPU_OR(&node_cpus, &node_cpus, &these);
        }
        if (n_nodes <= 1) {
                nodes = 0;
                CPU_ZERO(&node_cpus);
        }
        *ret_nodes = nodes;
        if (ret_node_cpus)
                *ret_node_cpus = node_cpus;
        return 0;
}

int vm_prealloc_guest_ram(const vfio_host *h, const vm_config *c, char *const *pin, bool chown, uid_t uid,
                          gid_t gid, int *ret_fd, vm_prealloc_report *report)
{
        _cleanup_close_ int dir_fd = -EBADF;
        vm_prealloc_opts o = { .chown = chown, .uid = uid, .gid = gid };
        cpu_set_t node_cpus;
        struct timespec t0, t1;
        uid_t owner = SAFEDIR_NOBODY;
        int fd = -EBADF, r;

        assert(h);
        assert(c);
        assert(ret_fd);
        assert(report);

        o.size = c->memory.size;
        o.threads = c->memory.prealloc_threads;
        *report = (vm_prealloc_report){};
        *ret_fd = -1;
        if (c->memory.hugepages == VM_HUGEPAGES_NONE) {
                report->skip = "no hugepages";
                return 0;
        }
        /*
         * The directory QEMU would create its file in, as the config names it: walked by safedir following
         * no link at all (QEMU opens the same name, and a link another user planted could point root at
         * another mount's pages). It may be the VM user's own (the file made there has no name to swap and
         * vm_prealloc_hugetlbfs() refuses anything but hugetlbfs); a third user's is left to QEMU.
         */
        r = safedir_open_path_nolinks(vm_qemu_hugepage_dir(c), O_RDONLY | O_DIRECTORY, 0, &dir_fd, &owner);
        if (r < 0) {
                report->skip = r == -ELOOP   ? "the hugepage directory's path has a symbolic link"
                               : r == -EPERM ? "the hugepage directory can be changed by several users"
                                             : "the hugepage directory cannot be opened";
                return 0;
        }
        if (owner != SAFEDIR_NOBODY && !(chown && owner == uid)) {
                report->skip = "the hugepage directory belongs to a user other than the VM's";
                return 0;
        }
        if (pin) {
                r = vm_prealloc_nodes_of_cpus(h, pin, &o.nodes, &node_cpus);
                if (r < 0)
                        log_debug("prealloc: no NUMA plan from [cpu] pin: %s", strerror(-r));
                else if (o.nodes)
                        o.cpus = &node_cpus;
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = vm_prealloc_hugetlbfs(dir_fd, &o, &fd, &report->result);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (r == -EMEDIUMTYPE) {
                report->skip = "the hugepage directory is not on hugetlbfs";
                return 0;
        }
        if (r == -EOPNOTSUPP) {
                report->skip = "the kernel cannot make unnamed files on hugetlbfs";
                return 0;
        }
        if (r < 0)
                return r;
        report->nodes = o.nodes;
        report->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        *ret_fd = fd;
        return 0;
}
