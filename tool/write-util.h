/* Writing files from the tool: parent directories, and atomic replacement (temp file + rename). */
#pragma once

#include <stdbool.h>

/* mkdir -p with mode 0755. */
int tool_mkdir_p(const char *path);
/* Writes text to path through a temp file in the same directory; -EEXIST if it exists and !replace. */
int tool_write_atomic(const char *path, const char *text, bool replace);
