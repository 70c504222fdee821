/* What every public header shares: the scope-bound destructor declaration (systemd's _sd-common.h). */
#pragma once

/* Declares func##p(type **) for a destructor that accepts NULL, for __attribute__((cleanup)). */
#define VFIO_DEFINE_POINTER_CLEANUP(type, func) \
        static inline void func##p(type **p)    \
        {                                       \
                if (*p)                         \
                        func(*p);               \
        }
