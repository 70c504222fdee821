#include "dl-util.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static void copy_reason(char *why, size_t size)
{
        const char *s = dlerror();

        snprintf(why, size, "%s", s ? s : "unknown error");
}

int dl_open_table(const char *soname, const dl_symbol *table, size_t n, void **ret_handle,
                  const char **ret_missing, char *why, size_t why_size)
{
        void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

        *ret_missing = NULL;
        if (!h) {
                copy_reason(why, why_size);
                return -EOPNOTSUPP;
        }
        for (size_t i = 0; i < n; i++) {
                void *sym = dlsym(h, table[i].name);

                if (!sym) {
                        *ret_missing = table[i].name;
                        copy_reason(why, why_size);
                        for (size_t j = 0; j < n; j++)
                                memset(table[j].slot, 0, sizeof(sym));
                        dlclose(h);
                        return -EOPNOTSUPP;
                }
                /* POSIX: a function's address from dlsym has the representation of a void *. */
                memcpy(table[i].slot, &sym, sizeof(sym));
        }
        *ret_handle = h;
        return 0;
}
