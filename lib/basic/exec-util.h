/* Runs a helper program (qemu-img, zfs, zpool) by absolute path with an argv array: never a shell. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Called at most every tick_ms with each complete chunk of stdout (lines ended by \n or \r); return <0 to
 * kill. */
typedef int (*exec_output_fn)(const char *chunk, void *userdata);
/* Called every tick_ms while the child runs (e.g. to measure a file growing); return <0 to kill. */
typedef int (*exec_tick_fn)(void *userdata);

typedef struct exec_opts {
        exec_output_fn on_stdout; /* chunks split on \n and \r: qemu-img -p redraws with \r */
        exec_tick_fn on_tick;
        unsigned tick_ms; /* default 200 */
        void *userdata;
        size_t max_output; /* cap on captured stdout and stderr each; default 1 MiB */
        /* Run the helper as this user instead (setgroups to none, setgid, setuid in the child, then proven
         * irreversible): root working on files another user controls lends it no rights. */
        bool drop;
        uid_t uid;
        gid_t gid;
        const gid_t *groups; /* that user's supplementary groups (a disk may be theirs through one) */
        size_t n_groups;
        char *const *envp;   /* the child's whole environment; NULL: ours, with LC_ALL=C */
        const char *cwd;     /* the child's working directory; NULL: ours */
        bool inherit_output; /* the child writes to our stdout and stderr (nothing captured): for tools a
                                person watches, and that must not die with us on a closed pipe */
} exec_opts;

typedef struct exec_result {
        int status; /* exit code, or 128 + signal number */
        char *out;  /* captured stdout (NUL-terminated, possibly truncated at max_output) */
        char *err;  /* captured stderr */
} exec_result;

void exec_result_done(exec_result *r);

/*
 * Forks and execs argv[0] (an absolute path; -EINVAL otherwise) with stdin on /dev/null, collecting
 * stdout and stderr. With opts->drop the child becomes opts->uid/gid first (exit status 126 if it cannot).
 * Returns 0 when the child ran (whatever its exit status), -ENOENT when argv[0] does not exist, <0 on other
 * failures to run it.
 */
int exec_run(char *const *argv, const exec_opts *opts, exec_result *ret);
/* The first line of s without trailing whitespace, for one-line error messages; "" for NULL. Caller frees.
 */
char *exec_first_line(const char *s);
