/* NULL-terminated string vectors. */
#include "strv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char **strv_free(char **l)
{
        if (!l)
                return NULL;
        for (char **s = l; *s; s++)
                free(*s);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l)
{
        size_t n = 0;

        while (l && l[n])
                n++;
        return n;
}

int strv_push(char ***l, char *s)
{
        size_t n = strv_length(*l);
        char **m;

        m = realloc(*l, sizeof(char *) * (n + 2));
        if (!m)
                return -ENOMEM;
        m[n] = s;
        m[n + 1] = NULL;
        *l = m;
        return 0;
}

int strv_extend(char ***l, const char *s)
{
        char *c = strdup(s);
        int r;

        if (!c)
                return -ENOMEM;
        r = strv_push(l, c);
        if (r < 0)
                free(c);
        return r;
}

int strv_extendf(char ***l, const char *fmt, ...)
{
        va_list ap;
        char *s;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        r = strv_push(l, s);
        if (r < 0)
                free(s);
        return r;
}

bool strv_contains(char *const *l, const char *s)
{
        STRV_FOREACH(i, l)
                if (strcmp(*i, s) == 0)
                        return true;
        return false;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

void strv_sort(char **l)
{
        size_t n = strv_length(l);

        if (n > 1)
                qsort(l, n, sizeof(char *), cmp_str);
}

char *strv_join(char *const *l, const char *sep)
{
        size_t len = 1, slen = strlen(sep);
        char *r, *p;

        STRV_FOREACH(s, l)
                len += strlen(*s) + slen;
        r = p = malloc(len);
        if (!r)
                return NULL;
        *p = 0;
        STRV_FOREACH(s, l) {
                if (s != l)
                        p = stpcpy(p, sep);
                p = stpcpy(p, *s);
        }
        return r;
}

int strv_split(const char *s, const char *seps, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        int r;

        /* Callers may keep an empty result: always return a vector, never NULL. */
        l = calloc(1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        while (*s) {
                size_t n;

                s += strspn(s, seps);
                n = strcspn(s, seps);
                if (n == 0)
                        break;
                char *w = strndup(s, n);
                if (!w)
                        return -ENOMEM;
                r = strv_push(&l, w);
                if (r < 0) {
                        free(w);
                        return r;
                }
                s += n;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int strv_extend_strv(char ***l, char *const *add)
{
        int r;

        for (char *const *a = add; a && *a; a++)
                if ((r = strv_extend(l, *a)) < 0)
                        return r;
        return 0;
}
