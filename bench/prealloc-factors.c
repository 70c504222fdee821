/*
 * The factors of hugepage preallocation, one at a time (bench/memory.py): how long N threads take to get
 * SIZE GiB of a hugetlbfs file allocated, by the way QEMU 7.2 does it and the ways it could be done.
 *
 * usage: prealloc-factors MODE SIZE_GIB THREADS HUGETLBFS_DIR
 *   private-populate  MAP_PRIVATE mapping, MADV_POPULATE_WRITE per thread range (QEMU, share=off)
 *   shared-populate   MAP_SHARED mapping, MADV_POPULATE_WRITE per thread range (vfioctl, lib/run/prealloc.c)
 *   private-touch     MAP_PRIVATE mapping, one store per page (QEMU before MADV_POPULATE_WRITE)
 *   fallocate         fallocate() of each thread's range of the file
 * The threads start together once all exist (creating one maps a stack under the mmap_lock, which a running
 * MADV_POPULATE_WRITE holds: see lib/run/prealloc.c). Prints key=value: seconds (all threads), threads_s
 * (each thread's own time, comma-separated: a thread that waited for another shows the sum).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define PAGE (2UL << 20)

enum mode { PRIVATE_POPULATE, SHARED_POPULATE, PRIVATE_TOUCH, FALLOCATE };

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open;

struct job {
        enum mode mode;
        char *map;
        int fd;
        size_t off, len;
        double seconds;
        int error;
};

static double now(void)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return t.tv_sec + t.tv_nsec / 1e9;
}

static void *work(void *arg)
{
        struct job *j = arg;
        double t0;

        pthread_mutex_lock(&gate_lock);
        while (!gate_open)
                pthread_cond_wait(&gate_cond, &gate_lock);
        pthread_mutex_unlock(&gate_lock);
        t0 = now();

        switch (j->mode) {
        case PRIVATE_POPULATE:
        case SHARED_POPULATE:
                if (madvise(j->map + j->off, j->len, MADV_POPULATE_WRITE) < 0)
                        j->error = errno;
                break;
        case PRIVATE_TOUCH:
                for (size_t o = 0; o < j->len; o += PAGE)
                        *(volatile char *)(j->map + j->off + o) = 0;
                break;
        case FALLOCATE:
                if (fallocate(j->fd, 0, (off_t)j->off, (off_t)j->len) < 0)
                        j->error = errno;
                break;
        }
        j->seconds = now() - t0;
        return NULL;
}

int main(int argc, char **argv)
{
        static const char *const names[] = { "private-populate", "shared-populate", "private-touch",
                                             "fallocate" };
        pthread_t tid[64];
        struct job jobs[64];
        enum mode mode = PRIVATE_POPULATE;
        size_t len, pages, per;
        unsigned long gib, n;
        char *map = NULL, *end;
        double t0, total;
        int fd, found = 0;

        if (argc != 5) {
                fprintf(stderr, "usage: prealloc-factors MODE SIZE_GIB THREADS HUGETLBFS_DIR\n");
                return 2;
        }
        for (unsigned i = 0; i < 4; i++)
                if (strcmp(argv[1], names[i]) == 0) {
                        mode = (enum mode)i;
                        found = 1;
                }
        gib = strtoul(argv[2], &end, 10);
        if (!found || *end || gib == 0 || gib > 1024)
                return fprintf(stderr, "prealloc-factors: bad MODE or SIZE_GIB\n"), 2;
        n = strtoul(argv[3], &end, 10);
        if (*end || n == 0 || n > 64)
                return fprintf(stderr, "prealloc-factors: THREADS is 1 to 64\n"), 2;
        len = gib << 30;
        pages = len / PAGE;
        per = pages / n;

        /* The file as QEMU makes it (a file in the directory, then unlinked) but unnamed from the start. */
        fd = open(argv[4], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0)
                return perror("prealloc-factors: O_TMPFILE"), 1;
        if (ftruncate(fd, (off_t)len) < 0)
                return perror("prealloc-factors: ftruncate"), 1;
        if (mode != FALLOCATE) {
                map = mmap(NULL, len, PROT_READ | PROT_WRITE,
                           mode == SHARED_POPULATE ? MAP_SHARED : MAP_PRIVATE, fd, 0);
                if (map == MAP_FAILED)
                        return perror("prealloc-factors: mmap"), 1;
        }
        for (unsigned long i = 0; i < n; i++) {
                size_t count = per + (i < pages % n);

                jobs[i] = (struct job){ .mode = mode,
                                        .map = map,
                                        .fd = fd,
                                        .len = count * PAGE,
                                        .off = (i * per + (i < pages % n ? i : pages % n)) * PAGE };
                if (pthread_create(&tid[i], NULL, work, &jobs[i]) != 0)
                        return fprintf(stderr, "prealloc-factors: pthread_create failed\n"), 1;
        }
        t0 = now();
        pthread_mutex_lock(&gate_lock);
        gate_open = 1;
        pthread_cond_broadcast(&gate_cond);
        pthread_mutex_unlock(&gate_lock);
        for (unsigned long i = 0; i < n; i++)
                pthread_join(tid[i], NULL);
        total = now() - t0;
        for (unsigned long i = 0; i < n; i++)
                if (jobs[i].error)
                        return fprintf(stderr, "prealloc-factors: %s: %s\n", names[mode],
                                       strerror(jobs[i].error)),
                               1;
        printf("seconds=%.3f\nthreads_s=", total);
        for (unsigned long i = 0; i < n; i++)
                printf("%s%.3f", i ? "," : "", jobs[i].seconds);
        printf("\n");
        return 0;
}
