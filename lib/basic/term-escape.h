/* Text from outside (configs, XML, sysfs, QMP) made safe to print on a terminal, and bounded. */
#pragma once

#include <stddef.h>

/*
 * A copy of s for a message: control bytes (C0, DEL, and the C1 range U+0080..U+009F a terminal may
 * obey), invalid UTF-8 and backslashes written as \xHH / \\, so no input can move the cursor, change
 * colours, forge a line or retitle the terminal; at most max bytes of s are shown, then
 * "...(N more bytes)". NULL on allocation failure.
 */
char *escape_for_terminal(const char *s, size_t max);
