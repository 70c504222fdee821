/* Shared libraries opened on demand (dlopen) with a table of the functions the caller calls. */
#pragma once

#include <stddef.h>

/* One function to look up: its name and the function pointer it goes into. */
typedef struct dl_symbol {
        const char *name;
        void *slot;
} dl_symbol;

/*
 * Opens soname and fills every slot of the table from it. Each slot is filled by memcpy of dlsym's result
 * into the function pointer's bytes: storing through a void ** to a function pointer breaks C's aliasing
 * rules, and an optimising compiler then read the pointer before the store (a call through NULL in the
 * sanitizer build). Either everything is filled and *ret_handle set (0), or nothing is kept: the slots
 * are zeroed, the library closed, and -EOPNOTSUPP returned with *ret_missing the symbol it lacks (NULL
 * when the library itself could not be loaded) and the loader's reason in why (copied: a later dl call
 * may overwrite dlerror's string).
 */
int dl_open_table(const char *soname, const dl_symbol *table, size_t n, void **ret_handle,
                  const char **ret_missing, char *why, size_t why_size);
