/* The memory floor of bench/memory.sh: memset bandwidth and the time to touch N GiB of fresh pages. */
/* usage: membw SIZE_GIB THREADS [hugetlb]   prints key=value lines (seconds, GB/s = 1e9 bytes/s) */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

struct job {
        char *p;
        size_t len;
        size_t stride; /* 0: memset every byte; else one store per page (QEMU's touch_all_pages) */
};

static double now(void)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return t.tv_sec + t.tv_nsec / 1e9;
}

static void *fill(void *arg)
{
        struct job *j = arg;

        if (!j->stride)
                memset(j->p, 0x5a, j->len);
        else
                for (size_t o = 0; o < j->len; o += j->stride)
                        *(volatile char *)(j->p + o) = 1;
        return NULL;
}

/* memset LEN bytes of P with N threads, each on its own contiguous slice (as QEMU's prealloc threads). */
static double run(char *p, size_t len, unsigned n, size_t stride)
{
        pthread_t t[64];
        struct job j[64];
        size_t slice = len / n;
        double t0 = now();

        for (unsigned i = 0; i < n; i++) {
                j[i] = (struct job){ p + i * slice, i == n - 1 ? len - i * slice : slice, stride };
                if (pthread_create(&t[i], NULL, fill, &j[i]) != 0)
                        fill(&j[i]);
        }
        for (unsigned i = 0; i < n; i++)
                pthread_join(t[i], NULL);
        return now() - t0;
}

static int parse(const char *s, unsigned long max, unsigned long *ret)
{
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || end == s || *end || v == 0 || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

int main(int argc, char **argv)
{
        unsigned long gib, threads;
        int huge = argc > 3 && strcmp(argv[3], "hugetlb") == 0;
        size_t len, hot = 512UL << 20;
        char *p;
        double best = 1e9;

        if (argc < 3 || parse(argv[1], 1024, &gib) < 0 || parse(argv[2], 64, &threads) < 0) {
                fprintf(stderr, "usage: membw SIZE_GIB THREADS [hugetlb]\n");
                return 2;
        }
        len = gib << 30;

        /* Bandwidth: a 512 MiB buffer already faulted in, best of 5 passes (no page faults, only stores). */
        p = mmap(NULL, hot, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (p == MAP_FAILED)
                return perror("mmap"), 1;
        for (int i = 0; i < 5; i++) {
                double t = run(p, hot, threads, 0);
                best = t < best ? t : best;
        }
        printf("memset_gbps=%.2f\n", hot / best / 1e9);
        munmap(p, hot);

        /* Fresh pages: one store per page, so the kernel faults in and zeroes each one: what prealloc does.
         */
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (huge ? MAP_HUGETLB : 0),
                 -1, 0);
        if (p == MAP_FAILED)
                return perror("mmap fresh"), 1;
        printf("touch_s=%.3f\n", run(p, len, threads, huge ? 2UL << 20 : 4096));
        munmap(p, len);
        return 0;
}
