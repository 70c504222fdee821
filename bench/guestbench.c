/* In-guest micro-benchmarks of bench/pinning.sh (static, run by the initramfs /init; results on the
 * console). */
/* usage: guestbench RUNS   prints "guestbench cpu1_ms=.. cpuall_ms=.. memlat_ns=.." once per run (run 0:
 * warm-up) */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CPU_ITERS   20000000UL   /* ~0.15 s under TCG here, ~0.05 s natively */
#define CHASE_BYTES (32UL << 20) /* larger than any L2/L3 slice it may run on */
#define CHASE_LOADS 2000000UL

static double now(void)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return t.tv_sec + t.tv_nsec / 1e9;
}

/* CPU-bound: xorshift64 and a multiply per iteration, no memory traffic. */
static uint64_t spin(unsigned long n)
{
        uint64_t x = 88172645463325252ULL, acc = 0;

        for (unsigned long i = 0; i < n; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                acc += x * 0x9e3779b97f4a7c15ULL;
        }
        return acc;
}

static double cpu_one(void)
{
        volatile uint64_t sink;
        double t0 = now();

        sink = spin(CPU_ITERS);
        (void)sink;
        return (now() - t0) * 1000;
}

/* The same loop on every online vCPU at once (one process pinned to each): where host pinning matters. */
static double cpu_all(long ncpu)
{
        double t0 = now();

        for (long c = 0; c < ncpu; c++) {
                pid_t pid = fork();

                if (pid == 0) {
                        cpu_set_t set;
                        volatile uint64_t sink;

                        CPU_ZERO(&set);
                        CPU_SET(c, &set);
                        sched_setaffinity(0, sizeof(set), &set);
                        sink = spin(CPU_ITERS);
                        (void)sink;
                        _exit(0);
                }
        }
        while (wait(NULL) > 0 || errno == EINTR)
                ;
        return (now() - t0) * 1000;
}

/* Memory latency: a pointer chase through a random cyclic permutation of cache lines (Sattolo's shuffle). */
static double memlat(void **buf, size_t n)
{
        void **p = buf;
        double t0 = now();

        (void)n;

        for (unsigned long i = 0; i < CHASE_LOADS; i++)
                p = *p;
        if (!p)
                puts("");
        return (now() - t0) * 1e9 / CHASE_LOADS;
}

int main(int argc, char **argv)
{
        long runs = argc > 1 ? strtol(argv[1], NULL, 10) : 6, ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        size_t stride = 64 / sizeof(void *), n = CHASE_BYTES / 64;
        void **buf = mmap(NULL, CHASE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        size_t *idx = malloc(n * sizeof(*idx));
        uint64_t r = 0x2545f4914f6cdd1dULL;

        if (runs < 1 || runs > 100 || buf == MAP_FAILED || !idx)
                return 1;
        for (size_t i = 0; i < n; i++)
                idx[i] = i;
        for (size_t i = n - 1; i > 0; i--) {
                size_t j, t;

                r ^= r << 13;
                r ^= r >> 7;
                r ^= r << 17;
                j = r % i;
                t = idx[i];
                idx[i] = idx[j];
                idx[j] = t;
        }
        for (size_t i = 0; i < n; i++)
                buf[idx[i] * stride] = &buf[idx[(i + 1) % n] * stride];
        free(idx);
        printf("guestbench start vcpus=%ld\n", ncpu);
        for (long i = 0; i < runs; i++)
                printf("guestbench run=%ld cpu1_ms=%.1f cpuall_ms=%.1f memlat_ns=%.1f\n", i, cpu_one(),
                       cpu_all(ncpu), memlat(buf, n));
        printf("guestbench done\n");
        fflush(stdout);
        return 0;
}
