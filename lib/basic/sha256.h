/* SHA-256 (FIPS 180-4) of small in-memory buffers, for the setup manifest's content hashes. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32
#define SHA256_HEX_SIZE    (SHA256_DIGEST_SIZE * 2 + 1)

void sha256(const void *data, size_t len, uint8_t out[static SHA256_DIGEST_SIZE]);
/* Lower-case hex digest, NUL-terminated. */
char *sha256_hex(const void *data, size_t len, char out[static SHA256_HEX_SIZE]);
