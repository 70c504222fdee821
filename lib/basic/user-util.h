/* Becoming another user for good: the one privilege drop every child and the relay go through. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/*
 * setgroups, setgid, setuid (that order: each needs the privilege the next one drops), then proves root
 * cannot be regained. Async-signal-safe (used between fork and exec). Returns 0, or the failing step (1
 * setgroups, 2 setgid, 3 setuid, 4 still root) with errno set.
 */
int drop_privileges(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups);
