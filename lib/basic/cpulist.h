/* CPU lists as the kernel writes them ("0-3,8-11", sysfs cpulist files) and as CPU masks ("ff,0000000f"). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The largest CPU number vfioctl handles (the kernel's NR_CPUS on distribution kernels is 8192). */
#define CPULIST_MAX 8192

/*
 * Parses a list of CPU numbers and ranges separated by commas, spaces or newlines into set[0..n) (cleared
 * first). -EINVAL on anything else, a reversed range, or a CPU >= n; set untouched on failure.
 */
int cpulist_parse(const char *s, bool *set, size_t n);
/* "0-3,8" (sep ','), "" for an empty set. Newly allocated; NULL on ENOMEM. */
char *cpulist_format(const bool *set, size_t n, char sep);
/* The mask form of /proc/irq/default_smp_affinity: hex words of 32 CPUs, highest first, comma-separated. */
char *cpulist_format_mask(const bool *set, size_t n);
/* Parses that mask form into set[0..n). */
int cpulist_parse_mask(const char *s, bool *set, size_t n);
size_t cpulist_count(const bool *set, size_t n);
