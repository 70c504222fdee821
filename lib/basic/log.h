/* Debug logging for the library: the library never prints to users, the tool does. */
#pragma once

#include <stdbool.h>

void log_set_debug(bool on);
bool log_debug_enabled(void);
void log_debug_internal(const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#define log_debug(...)                                                       \
        do {                                                                 \
                if (log_debug_enabled())                                     \
                        log_debug_internal(__FILE__, __LINE__, __VA_ARGS__); \
        } while (0)

/* Logs at debug level and evaluates to the negative errno, for `return log_debug_errno(-EINVAL, ...)`. */
#define log_debug_errno(err, ...)       \
        ({                              \
                int _e = (err);         \
                log_debug(__VA_ARGS__); \
                _e;                     \
        })
