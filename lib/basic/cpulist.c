/* CPU lists and masks in the kernel's text forms (Documentation/admin-guide/cputopology.rst, proc(5)). */
#include "cpulist.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse-util.h"

int cpulist_parse(const char *s, bool *set, size_t n)
{
        bool *tmp;

        if (!s || n == 0 || n > CPULIST_MAX)
                return -EINVAL;
        tmp = calloc(n, sizeof(bool));
        if (!tmp)
                return -ENOMEM;
        for (const char *p = s; *p;) {
                char a[16], b[16];
                size_t la, lb = 0;
                uint64_t lo, hi;

                if (*p == ',' || *p == ' ' || *p == '\n' || *p == '\t') {
                        p++;
                        continue;
                }
                la = strspn(p, "0123456789");
                if (la == 0 || la >= sizeof(a))
                        goto bad;
                memcpy(a, p, la);
                a[la] = 0;
                p += la;
                if (*p == '-') {
                        p++;
                        lb = strspn(p, "0123456789");
                        if (lb == 0 || lb >= sizeof(b))
                                goto bad;
                        memcpy(b, p, lb);
                        b[lb] = 0;
                        p += lb;
                }
                if (*p && *p != ',' && *p != ' ' && *p != '\n' && *p != '\t')
                        goto bad;
                if (parse_uint(a, 10, n - 1, &lo) < 0 || (lb && parse_uint(b, 10, n - 1, &hi) < 0))
                        goto bad;
                if (!lb)
                        hi = lo;
                if (hi < lo)
                        goto bad;
                for (uint64_t c = lo; c <= hi; c++)
                        tmp[c] = true;
        }
        memcpy(set, tmp, n * sizeof(bool));
        free(tmp);
        return 0;
bad:
        free(tmp);
        return -EINVAL;
}

char *cpulist_format(const bool *set, size_t n, char sep)
{
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        bool first = true;

        if (!f)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                size_t j = i;

                if (!set[i])
                        continue;
                while (j + 1 < n && set[j + 1])
                        j++;
                if (!first)
                        fputc(sep, f);
                first = false;
                if (j == i)
                        fprintf(f, "%zu", i);
                else
                        fprintf(f, "%zu-%zu", i, j);
                i = j;
        }
        if (fclose(f) != 0) {
                free(buf);
                return NULL;
        }
        return buf;
}

char *cpulist_format_mask(const bool *set, size_t n)
{
        size_t words = (n + 31) / 32, used = 1;
        char *buf, *p;

        /* Leading all-zero words are dropped, as the kernel prints it (at least one word). */
        for (size_t w = 0; w < words; w++)
                for (size_t b = 0; b < 32 && w * 32 + b < n; b++)
                        if (set[w * 32 + b])
                                used = w + 1;
        buf = malloc(used * 9 + 1);
        if (!buf)
                return NULL;
        p = buf;
        for (size_t w = used; w > 0; w--) {
                unsigned v = 0;

                for (size_t b = 0; b < 32 && (w - 1) * 32 + b < n; b++)
                        if (set[(w - 1) * 32 + b])
                                v |= 1u << b;
                p += sprintf(p, "%s%08x", w == used ? "" : ",", v);
        }
        return buf;
}

int cpulist_parse_mask(const char *s, bool *set, size_t n)
{
        size_t len, words = 0, w;
        bool *tmp;

        if (!s || n == 0 || n > CPULIST_MAX)
                return -EINVAL;
        len = strcspn(s, "\n");
        /* The walk below goes from the last word to the first and stops at the first character: an
         * empty first word (a leading comma, or nothing at all) would pass unseen. */
        if (len == 0 || s[0] == ',')
                return -EINVAL;
        for (size_t i = 0; i < len; i++)
                if (!isxdigit((unsigned char)s[i]) && s[i] != ',')
                        return -EINVAL;
        tmp = calloc(n, sizeof(bool));
        if (!tmp)
                return -ENOMEM;
        /* Words of up to 8 hex digits, the last one holds CPUs 0-31. */
        for (size_t end = len; end > 0; words++) {
                size_t start = end;
                char word[9];
                unsigned long v;

                while (start > 0 && s[start - 1] != ',')
                        start--;
                if (end - start == 0 || end - start > 8) {
                        free(tmp);
                        return -EINVAL;
                }
                memcpy(word, s + start, end - start);
                word[end - start] = 0;
                v = strtoul(word, NULL, 16);
                for (unsigned b = 0; b < 32; b++)
                        if (v & (1ul << b)) {
                                w = words * 32 + b;
                                if (w >= n) {
                                        free(tmp);
                                        return -EINVAL;
                                }
                                tmp[w] = true;
                        }
                end = start > 0 ? start - 1 : 0;
                if (start == 0)
                        break;
        }
        memcpy(set, tmp, n * sizeof(bool));
        free(tmp);
        return 0;
}

size_t cpulist_count(const bool *set, size_t n)
{
        size_t k = 0;

        for (size_t i = 0; i < n; i++)
                k += set[i];
        return k;
}
