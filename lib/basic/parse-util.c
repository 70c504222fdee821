/* Checked number parsing: whole string, explicit base, explicit range. */
#include "parse-util.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int parse_uint(const char *s, unsigned base, uint64_t max, uint64_t *ret)
{
        unsigned long long v;
        char *end;

        /* strtoull accepts leading blanks and a sign, and wraps "-1": reject both up front. */
        if (!s || !isxdigit((unsigned char)s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, base);
        if (errno == ERANGE)
                return -ERANGE;
        if (errno != 0 || end == s || *end != '\0')
                return -EINVAL;
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int parse_int(const char *s, int64_t min, int64_t max, int64_t *ret)
{
        long long v;
        char *end;

        if (!s || !(isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1]))))
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (errno != 0 || *end != '\0')
                return -EINVAL;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int parse_hex_id(const char *s, unsigned bits, uint32_t *ret)
{
        uint64_t v;
        int r;

        if (!s)
                return -EINVAL;
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
                s += 2;
        if (strlen(s) == 0 || strlen(s) > (bits + 3) / 4)
                return -EINVAL;
        r = parse_uint(s, 16, bits >= 32 ? UINT32_MAX : (UINT64_C(1) << bits) - 1, &v);
        if (r < 0)
                return r;
        *ret = (uint32_t)v;
        return 0;
}

int parse_size(const char *s, uint64_t *ret)
{
        static const struct {
                char suffix;
                unsigned shift;
        } units[] = { { 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 } };
        char buf[32];
        unsigned shift = 0;
        size_t n;
        uint64_t v;
        int r;

        if (!s)
                return -EINVAL;
        n = strlen(s);
        if (n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, n + 1);
        /* Accept "16G", "16GiB" and "16GB" alike: memory sizes here are always binary. */
        if (n > 2 && (strcmp(buf + n - 2, "iB") == 0)) {
                n -= 2;
                buf[n] = 0;
        } else if (n > 1 && buf[n - 1] == 'B' && n > 1 && isalpha((unsigned char)buf[n - 2])) {
                n -= 1;
                buf[n] = 0;
        }
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
                if (n > 1 && toupper((unsigned char)buf[n - 1]) == units[i].suffix) {
                        shift = units[i].shift;
                        buf[--n] = 0;
                        break;
                }
        r = parse_uint(buf, 10, UINT64_MAX >> shift, &v);
        if (r < 0)
                return r;
        *ret = v << shift;
        return 0;
}
