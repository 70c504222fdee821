/* Quoting for the places a person copies text into a shell: printed commands and fixes. */
#include "escape.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

char *shell_quote(const char *s)
{
        size_t n = 3;
        char *out, *o;

        assert(s);
        /* Characters no POSIX shell treats specially inside a word. */
        if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_@%+=:,./-") ==
                          strlen(s))
                return strdup(s);
        for (const char *p = s; *p; p++)
                n += *p == '\'' ? 4 : 1;
        out = malloc(n);
        if (!out)
                return NULL;
        o = out;
        *o++ = '\'';
        for (const char *p = s; *p; p++) {
                if (*p == '\'') {
                        memcpy(o, "'\\''", 4);
                        o += 4;
                } else
                        *o++ = *p;
        }
        *o++ = '\'';
        *o = 0;
        return out;
}
