/* What a check found, as data: each problem with its level, what is wrong and the fix, for the tool to
 * print. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "vfioctl/common.h"

typedef enum vfio_problem_level {
        VFIO_PROBLEM_ERROR,   /* what was asked cannot be done */
        VFIO_PROBLEM_WARNING, /* it goes on, not quite as asked */
        VFIO_PROBLEM_NOTE,    /* worth saying */
} vfio_problem_level;

typedef struct vfio_problem {
        vfio_problem_level level;
        char *message; /* what is wrong, naming the file, the value, the device */
        char *fix;     /* what to do ("run: vfioctl bind 0000:01:00.0"); NULL when the message says it */
} vfio_problem;

typedef struct vfio_problems {
        vfio_problem *items;
        size_t n;
        size_t n_errors; /* counted even when the text could not be allocated: an error is never lost */
        bool last_lost;  /* the last add failed: its fix must not land on the problem before it */
} vfio_problems;

int vfio_problems_new(vfio_problems **ret);
vfio_problems *vfio_problems_free(vfio_problems *p);
VFIO_DEFINE_POINTER_CLEANUP(vfio_problems, vfio_problems_free)

/* Appends a problem (printf format). -ENOMEM when its text could not be kept (an error still counts). */
int vfio_problems_add(vfio_problems *p, vfio_problem_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Sets the fix of the problem added last (printf format). */
int vfio_problems_fix(vfio_problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends each string of a list as a problem of that level (messages other modules return as lists). */
int vfio_problems_add_strv(vfio_problems *p, vfio_problem_level level, char *const *messages);

bool vfio_problems_has_errors(const vfio_problems *p);
/* "MESSAGE; FIX", or the message alone: the one line a person reads. Newly allocated. */
char *vfio_problem_text(const vfio_problem *p);

/*
 * Where a long-running library function tells its caller what happens (the supervisor starting QEMU, a
 * release step): the tool prints it, a service would log it. The library itself never prints.
 */
typedef void (*vfio_report_fn)(vfio_problem_level level, const char *message, void *userdata);
