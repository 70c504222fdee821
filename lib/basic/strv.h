/* NULL-terminated string vectors. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cleanup.h"

char **strv_free(char **l);
DEFINE_POINTER_CLEANUP(char *, strv_free)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

size_t strv_length(char *const *l);
/* Appends a copy of s; on failure *l is unchanged. */
int strv_extend(char ***l, const char *s);
/* Appends a formatted string; on failure *l is unchanged. */
int strv_extendf(char ***l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a copy of every string of add; on failure *l may hold some of them. */
int strv_extend_strv(char ***l, char *const *add);
/* Appends s itself, taking ownership on success only. */
int strv_push(char ***l, char *s);
bool strv_contains(char *const *l, const char *s);
void strv_sort(char **l);
/* Joins with sep; returns NULL on allocation failure. An empty or NULL vector gives "". */
char *strv_join(char *const *l, const char *sep);
/* Splits on any of the characters in seps, skipping empty fields. */
int strv_split(const char *s, const char *seps, char ***ret);

#define STRV_FOREACH(s, l) for (char *const *s = (l); s && *s; s++)
