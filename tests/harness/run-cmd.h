/* Test helpers: run a host program by absolute path (argv, no shell) and check a file's bytes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Runs argv (NULL-terminated, argv[0] absolute); returns the exit status, -1 when it could not run. Output
 * in *ret_out / *ret_err when non-NULL (caller frees). */
int run_cmd(char **ret_out, char **ret_err, const char *const *argv);
/* Runs the built vfioctl; prints its stderr when expect_status differs, returns the status. */
int run_vfioctl(char **ret_out, char **ret_err, const char *const *args);
/* Writes n bytes of byte at offset of path (file must exist). */
void write_pattern(const char *path, long offset, size_t n, unsigned char byte);
/* True when n bytes at offset of path are all byte. */
bool has_pattern(const char *path, long offset, size_t n, unsigned char byte);
/* A fresh directory under $TMPDIR (or /tmp); caller removes it with rm_rf and frees. */
char *make_temp_dir(const char *prefix);
void rm_rf(const char *path);
bool executable(const char *path);
