/* SHA-256 (FIPS 180-4 section 6.2), a straight single-buffer implementation: manifests hash a few KiB. */
#include "sha256.h"

#include <stdio.h>
#include <string.h>

static const uint32_t K[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void block(uint32_t H[8], const uint8_t *p)
{
        uint32_t W[64], a, b, c, d, e, f, g, h;

        for (int t = 0; t < 16; t++)
                W[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
                       (uint32_t)p[4 * t + 2] << 8 | (uint32_t)p[4 * t + 3];
        for (int t = 16; t < 64; t++) {
                uint32_t s0 = ROR(W[t - 15], 7) ^ ROR(W[t - 15], 18) ^ (W[t - 15] >> 3);
                uint32_t s1 = ROR(W[t - 2], 17) ^ ROR(W[t - 2], 19) ^ (W[t - 2] >> 10);

                W[t] = W[t - 16] + s0 + W[t - 7] + s1;
        }
        a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
        for (int t = 0; t < 64; t++) {
                uint32_t S1 = ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25);
                uint32_t ch = (e & f) ^ (~e & g);
                uint32_t t1 = h + S1 + ch + K[t] + W[t];
                uint32_t S0 = ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22);
                uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
                uint32_t t2 = S0 + maj;

                h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
        }
        H[0] += a, H[1] += b, H[2] += c, H[3] += d, H[4] += e, H[5] += f, H[6] += g, H[7] += h;
}

void sha256(const void *data, size_t len, uint8_t out[static SHA256_DIGEST_SIZE])
{
        uint32_t H[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                          0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
        const uint8_t *p = data;
        uint8_t tail[128] = { 0 };
        size_t full = len / 64, rest = len % 64, tail_len;
        uint64_t bits = (uint64_t)len * 8;

        for (size_t i = 0; i < full; i++)
                block(H, p + 64 * i);
        if (rest)
                memcpy(tail, p + 64 * full, rest);
        tail[rest] = 0x80;
        tail_len = rest + 1 + 8 <= 64 ? 64 : 128;
        for (int i = 0; i < 8; i++)
                tail[tail_len - 1 - i] = (uint8_t)(bits >> (8 * i));
        block(H, tail);
        if (tail_len == 128)
                block(H, tail + 64);
        for (int i = 0; i < 8; i++) {
                out[4 * i] = (uint8_t)(H[i] >> 24);
                out[4 * i + 1] = (uint8_t)(H[i] >> 16);
                out[4 * i + 2] = (uint8_t)(H[i] >> 8);
                out[4 * i + 3] = (uint8_t)H[i];
        }
}

char *sha256_hex(const void *data, size_t len, char out[static SHA256_HEX_SIZE])
{
        uint8_t d[SHA256_DIGEST_SIZE];

        sha256(data, len, d);
        for (int i = 0; i < SHA256_DIGEST_SIZE; i++)
                snprintf(out + 2 * i, 3, "%02x", d[i]);
        return out;
}
