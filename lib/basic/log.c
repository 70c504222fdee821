/* Debug log sink, enabled by --debug or VFIOCTL_DEBUG=1. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static bool debug_on;

void log_set_debug(bool on)
{
        debug_on = on;
}

bool log_debug_enabled(void)
{
        return debug_on;
}

void log_debug_internal(const char *file, int line, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "debug %s:%d: ", file, line);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}
