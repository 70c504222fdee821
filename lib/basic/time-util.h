/* Monotonic deadlines: what every bounded wait (QMP, helpers, the relay's READY, stop) measures with. */
#pragma once

#include <stdint.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC: a wall-clock change must not stretch or cut a timeout. */
static inline long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Nanoseconds on CLOCK_MONOTONIC, for latencies. */
static inline uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Seconds on CLOCK_MONOTONIC, for durations shown to people ("running in 1.23 s"). */
static inline double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What is left until deadline as a poll(2) timeout: 0 once past, capped to fit an int. */
static inline int ms_until(long long deadline)
{
        long long left = deadline - now_ms();

        return left < 0 ? 0 : left > 1000000 ? 1000000 : (int)left;
}
