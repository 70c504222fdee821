/* Scope-bound ownership helpers (the systemd/libvirt g_autoptr idiom). */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vfioctl/common.h"

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p)
{
        free(*(void **)p);
}

static inline void closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}

static inline void fclosep(FILE **f)
{
        if (*f)
                fclose(*f);
}

#define _cleanup_free_   _cleanup_(freep)
#define _cleanup_close_  _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hands ownership on: returns the value and clears the variable so its cleanup is a no-op. */
#define TAKE_PTR(p)                         \
        ({                                  \
                __typeof__(p) _taken = (p); \
                (p) = NULL;                 \
                _taken;                     \
        })

#define TAKE_FD(fd)                \
        ({                         \
                int _taken = (fd); \
                (fd) = -EBADF;     \
                _taken;            \
        })

/* Declares type_freep() for a destructor that accepts NULL, for use with _cleanup_(type_freep). */
#define DEFINE_POINTER_CLEANUP(type, func) VFIO_DEFINE_POINTER_CLEANUP(type, func)

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

static inline int negative_errno(void)
{
        /* Some library calls fail without setting errno; never turn that into success. */
        return errno > 0 ? -errno : -EIO;
}
