/* Checked number parsing: whole string, explicit base, explicit range. */
#pragma once

#include <stdint.h>

/* Parses an unsigned number in base (0 = C prefixes) that must be entirely consumed and <= max. */
int parse_uint(const char *s, unsigned base, uint64_t max, uint64_t *ret);
/* Parses a signed decimal number in [min, max]. */
int parse_int(const char *s, int64_t min, int64_t max, int64_t *ret);
/* Parses a sysfs hex ID such as "0x10de" (the "0x" prefix optional) of at most `bits` bits. */
int parse_hex_id(const char *s, unsigned bits, uint32_t *ret);
/* Parses a size with an optional K/M/G/T suffix (binary units), e.g. "16G" or "16384M", into bytes. */
int parse_size(const char *s, uint64_t *ret);
