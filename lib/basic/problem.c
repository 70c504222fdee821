/* What a check found, as data: each problem with its level, what is wrong and the fix, for the tool to
 * print. */
#include "vfioctl/problem.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

int vfio_problems_new(vfio_problems **ret)
{
        vfio_problems *p;

        assert(ret);
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}

vfio_problems *vfio_problems_free(vfio_problems *p)
{
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n; i++) {
                free(p->items[i].message);
                free(p->items[i].fix);
        }
        free(p->items);
        free(p);
        return NULL;
}

static int add_va(vfio_problems *p, vfio_problem_level level, const char *fmt, va_list ap)
{
        vfio_problem *n;
        char *s;

        if (level == VFIO_PROBLEM_ERROR)
                p->n_errors++;
        p->last_lost = true;
        if (vasprintf(&s, fmt, ap) < 0)
                return -ENOMEM;
        n = realloc(p->items, (p->n + 1) * sizeof(*p->items));
        if (!n) {
                free(s);
                return -ENOMEM;
        }
        p->last_lost = false;
        p->items = n;
        p->items[p->n++] = (vfio_problem){ .level = level, .message = s };
        return 0;
}

int vfio_problems_add(vfio_problems *p, vfio_problem_level level, const char *fmt, ...)
{
        va_list ap;
        int r;

        assert(p);
        assert(fmt);
        va_start(ap, fmt);
        r = add_va(p, level, fmt, ap);
        va_end(ap);
        return r;
}

int vfio_problems_fix(vfio_problems *p, const char *fmt, ...)
{
        va_list ap;
        char *s;
        int r;

        assert(p);
        assert(fmt);
        if (p->n == 0 || p->last_lost)
                return -ENOENT;
        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        free(p->items[p->n - 1].fix);
        p->items[p->n - 1].fix = s;
        return 0;
}

int vfio_problems_add_strv(vfio_problems *p, vfio_problem_level level, char *const *messages)
{
        int r = 0;

        assert(p);
        for (char *const *m = messages; m && *m; m++) {
                int k = vfio_problems_add(p, level, "%s", *m);

                if (k < 0)
                        r = k;
        }
        return r;
}

bool vfio_problems_has_errors(const vfio_problems *p)
{
        return p && p->n_errors > 0;
}

char *vfio_problem_text(const vfio_problem *p)
{
        char *s;

        assert(p);
        if (!p->fix)
                return strdup(p->message);
        return asprintf(&s, "%s; %s", p->message, p->fix) < 0 ? NULL : s;
}
