/* Streams JSON into a buffer, laid out byte for byte as json-c prints a tree (pretty, spaced, "/" bare). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cleanup.h"

/*
 * For listings of thousands of records: json-c builds a hash table per object and a copy of every key
 * only to print them once and free them, which costs more than reading the records from sysfs. The
 * writer appends the same bytes as json_object_to_json_string_ext(JSON_C_TO_STRING_PRETTY |
 * JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE) would for the tree built in the same order
 * (tests/unit/test-json-writer.c compares the two). Errors are sticky: calls after an allocation failure
 * or a misuse (a value where a key is due, too deep, unbalanced) do nothing, and json_writer_finish()
 * reports the first error, so a caller checks once.
 */
typedef struct json_writer json_writer;

int json_writer_new(json_writer **ret);
json_writer *json_writer_free(json_writer *w);
DEFINE_POINTER_CLEANUP(json_writer, json_writer_free)

void json_writer_object_begin(json_writer *w);
void json_writer_object_end(json_writer *w);
void json_writer_array_begin(json_writer *w);
void json_writer_array_end(json_writer *w);
/* The name of the next object member; its value follows with one of the calls below. */
void json_writer_key(json_writer *w, const char *key);
/* NULL writes null, as json-c prints a member whose value is NULL. */
void json_writer_string(json_writer *w, const char *s);
void json_writer_int(json_writer *w, int64_t v);
void json_writer_bool(json_writer *w, bool v);
void json_writer_null(json_writer *w);

/* The document (NUL-terminated; *ret_len without the NUL) once every container is closed, or -errno. The
 * buffer stays the writer's. */
int json_writer_finish(json_writer *w, const char **ret, size_t *ret_len);
