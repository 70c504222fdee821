/* Test fixtures: copies of captured sysfs trees that a test may vary, and a runner for the built tool. */
#pragma once

#include <stdbool.h>

/* $VFIOCTL_TEST_DATA/<rel> (tests/data in the source tree). Caller frees. */
char *fixture_data_path(const char *rel);
/* Copies tests/data/sysfs/<name> (symlinks as they are) into a new temporary directory. */
char *fixture_clone(const char *name);
void fixture_remove(char *dir);
/* Writes content to <root>/<rel>, replacing the file (or a symlink: it is removed first). */
void fixture_write(const char *root, const char *rel, const char *content);
void fixture_unlink(const char *root, const char *rel);
/* Removes <root>/<rel> recursively. */
void fixture_rmtree(const char *root, const char *rel);
void fixture_symlink(const char *root, const char *rel, const char *target);
/* mkdir -p <root>/<rel>. */
void fixture_mkdir(const char *root, const char *rel);
/* Reads a file entirely; NULL when it does not exist. */
char *fixture_read(const char *path);
/*
 * Runs $VFIOCTL_BIN with argv (NULL-terminated), capturing stdout and stderr; returns the exit status
 * (or 128+signal). Environment: VFIOCTL_ROOT unset, NO_COLOR=1.
 */
int fixture_run_tool(char **ret_out, char **ret_err, const char *const *argv);
/*
 * Compares text with the golden file tests/data/<rel>; with VFIOCTL_TEST_REGENERATE=1 rewrites it instead.
 * Returns true when they match (or after regenerating); prints a diff hint otherwise.
 */
bool fixture_golden(const char *rel, const char *text);
