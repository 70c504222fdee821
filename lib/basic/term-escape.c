/* Escaping and bounding text from outside for messages on a terminal. */
#include "term-escape.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one (overlong, surrogate, > U+10FFFF).
 */
static size_t utf8_len(const unsigned char *s, unsigned *ret_cp)
{
        unsigned cp;
        size_t n;

        if (s[0] < 0x80)
                n = 1, cp = s[0];
        else if ((s[0] & 0xe0) == 0xc0)
                n = 2, cp = s[0] & 0x1f;
        else if ((s[0] & 0xf0) == 0xe0)
                n = 3, cp = s[0] & 0x0f;
        else if ((s[0] & 0xf8) == 0xf0)
                n = 4, cp = s[0] & 0x07;
        else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        *ret_cp = cp;
        return n;
}

char *escape_for_terminal(const char *s, size_t max)
{
        const unsigned char *p = (const unsigned char *)s;
        size_t len = strlen(s), shown = len < max ? len : max, cap = shown * 4 + 48, o = 0;
        char *out = malloc(cap);

        if (!out)
                return NULL;
        for (size_t i = 0; i < shown;) {
                unsigned cp = 0;
                size_t n = utf8_len(p + i, &cp);

                if (n == 0 || i + n > shown || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f)) {
                        /* One byte shown as \xHH; a sequence cut by the bound is escaped too. */
                        o += (size_t)snprintf(out + o, cap - o, "\\x%02x", p[i]);
                        i++;
                } else if (cp == '\\') {
                        out[o++] = '\\';
                        out[o++] = '\\';
                        i++;
                } else {
                        memcpy(out + o, p + i, n);
                        o += n;
                        i += n;
                }
        }
        if (shown < len)
                o += (size_t)snprintf(out + o, cap - o, "...(%zu more bytes)", len - shown);
        out[o] = 0;
        return out;
}
