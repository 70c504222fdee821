/* The guest of bench/jitter.sh: a timer loop with nothing under it. A 32-bit Multiboot kernel (QEMU's
 * -kernel loads it; no guest OS, so no guest timer interrupt or guest scheduler adds its own jitter):
 * for a fixed time, each iteration reads the time stamp counter BATCH times (its fixed work, ~100 us under
 * the test bed's nested TCG) and the iteration's duration goes into a histogram; then it prints count,
 * median, p99 and max on the serial port and powers off.
 *
 * Under TCG the guest's TSC follows the host's clock, and so does the emulated PIT: the PIT's channel 2
 * gives the TSC's rate (ticks per 50 ms) so the host side can turn ticks into microseconds. The host
 * taking the vCPU thread off its CPU shows up as a long iteration. The batch makes an iteration long
 * enough that such gaps, a few per second, reach the p99 (one TSC read per iteration would leave them
 * below it: millions of iterations a second).
 *
 * Output, one line:
 *   jitter tsc_per_50ms=N n=N p50=T p99=T max=T      (T in TSC ticks; p50/p99 to within 1/16)
 * then "jitter done". Built by bench/jitter.sh with gcc -m32 -ffreestanding -nostdlib. */
#include <stdint.h>

#define SECONDS    8u
#define BATCH      400u /* TSC reads per iteration */
#define SKIP       10u  /* the first iterations include translating the loop */
#define SUB_BITS   4u
#define SUB        (1u << SUB_BITS)
#define NBUCKETS   ((32u - SUB_BITS + 1u) * SUB)
#define PIT_HZ     1193182u
#define CAL_DIV    50u /* windows of 1/50 s = 20 ms */
#define CAL_TRIES  9u
#define COM1       0x3f8
#define PM1A_CNT   0x604 /* q35's ACPI PM base as SeaBIOS sets it (0x600) + 4 */
#define STACK_SIZE 16384

__asm__(".section .text.boot,\"ax\"\n"
        ".align 4\n"
        "multiboot_header:\n"
        ".long 0x1BADB002\n"    /* magic */
        ".long 0\n"             /* flags: an ELF image, nothing asked of the loader */
        ".long -(0x1BADB002)\n" /* checksum */
        ".globl _start\n"
        "_start:\n"
        "mov $stack + 16384, %esp\n" /* STACK_SIZE */
        "call main\n"
        "1: cli\n"
        "hlt\n"
        "jmp 1b\n"
        ".previous\n");

static uint8_t stack[STACK_SIZE] __attribute__((aligned(16), used));
static uint32_t hist[NBUCKETS];

static inline void outb(uint16_t port, uint8_t v)
{
        __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
        __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
        uint8_t v;

        __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
        return v;
}
static inline uint64_t rdtsc(void)
{
        uint32_t lo, hi;

        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        return ((uint64_t)hi << 32) | lo;
}

static void putc_serial(char c)
{
        while (!(inb(COM1 + 5) & 0x20))
                ;
        outb(COM1, (uint8_t)c);
}
static void puts_serial(const char *s)
{
        while (*s)
                putc_serial(*s++);
}
static void putu(uint32_t v)
{
        char buf[11];
        int i = 0;

        do {
                buf[i++] = (char)('0' + v % 10);
                v /= 10;
        } while (v);
        while (i)
                putc_serial(buf[--i]);
}

/* Bucket of a duration: exact below SUB, else its top SUB_BITS + 1 bits (relative error < 1/SUB). */
static uint32_t bucket(uint32_t d)
{
        uint32_t msb;

        if (d < SUB)
                return d;
        msb = 31u - (uint32_t)__builtin_clz(d);
        return (msb - SUB_BITS + 1u) * SUB + ((d >> (msb - SUB_BITS)) & (SUB - 1u));
}
/* Largest duration that falls in bucket i. */
static uint32_t bucket_top(uint32_t i)
{
        uint32_t msb, sub;

        if (i < SUB)
                return i;
        msb = i / SUB + SUB_BITS - 1u;
        sub = i % SUB;
        return (uint32_t)((((uint64_t)(SUB + sub + 1u)) << (msb - SUB_BITS)) - 1u);
}

/* TSC ticks in 1/CAL_DIV s of the PIT (channel 2, gate through port 0x61, speaker off). */
static uint32_t calibrate_once(void)
{
        uint32_t count = PIT_HZ / CAL_DIV;
        uint64_t t0, t1;

        outb(0x61, (uint8_t)((inb(0x61) & ~0x02u) | 0x01u));
        outb(0x43, 0xb0); /* channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count) */
        outb(0x42, (uint8_t)(count & 0xff));
        outb(0x42, (uint8_t)(count >> 8));
        t0 = rdtsc();
        while (!(inb(0x61) & 0x20))
                ;
        t1 = rdtsc();
        return (uint32_t)(t1 - t0);
}

/* The host taking the vCPU away while the count runs out makes one window read long (never short, but
 * for the few instructions between starting the count and reading the TSC): the shortest of several. */
static uint32_t calibrate(void)
{
        uint32_t best = 0xffffffffu;

        for (uint32_t i = 0; i < CAL_TRIES; i++) {
                uint32_t t = calibrate_once();

                if (t < best)
                        best = t;
        }
        return best;
}

static uint32_t percentile(uint32_t rank)
{
        uint32_t seen = 0;

        for (uint32_t i = 0; i < NBUCKETS; i++) {
                seen += hist[i];
                if (seen >= rank)
                        return bucket_top(i);
        }
        return 0;
}

void main(void);
void main(void)
{
        uint32_t cal, n = 0, max = 0, it = 0;
        uint64_t prev, end;

        for (uint32_t i = 0; i < NBUCKETS; i++)
                hist[i] = 0;
        cal = calibrate();
        prev = rdtsc();
        end = prev + (uint64_t)cal * CAL_DIV * SECONDS;
        cal = (uint32_t)((uint64_t)cal * 5u / 2u); /* printed per 50 ms */
        for (;;) {
                uint64_t t = 0, d64;

                for (uint32_t k = 0; k < BATCH; k++)
                        t = rdtsc();
                d64 = t - prev;
                uint32_t d = d64 > 0xffffffffu ? 0xffffffffu : (uint32_t)d64;

                prev = t;
                if (++it > SKIP) {
                        hist[bucket(d)]++;
                        n++;
                        if (d > max)
                                max = d;
                }
                if (t >= end)
                        break;
        }
        puts_serial("jitter tsc_per_50ms=");
        putu(cal);
        puts_serial(" n=");
        putu(n);
        puts_serial(" p50=");
        putu(percentile(n / 2u + 1u));
        puts_serial(" p99=");
        putu(percentile(n - n / 100u));
        puts_serial(" max=");
        putu(max);
        puts_serial("\njitter done\n");
        outw(PM1A_CNT, 0x2000); /* S5: SLP_EN with QEMU's SLP_TYP 0 */
}
