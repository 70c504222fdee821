/* Commands that change the host (the distribution's own tools), as argv arrays with the reason for each. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "vfioctl/common.h"
#include "vfioctl/host.h"

typedef struct vfio_hostcmd {
        char **argv; /* argv[0] absolute: never looked up in $PATH, never run through a shell */
        char *why;   /* what it makes take effect: "the initramfs carries the VFIO modules" */
} vfio_hostcmd;

typedef struct vfio_hostcmds {
        vfio_hostcmd *items;
        size_t n;
} vfio_hostcmds;

void vfio_hostcmds_done(vfio_hostcmds *l);
/* Appends a command; argv is copied, NULL-terminated. */
int vfio_hostcmds_add(vfio_hostcmds *l, const char *why, const char *const *argv);
/* The command as a person types it: words shell-quoted only where needed. */
char *vfio_hostcmd_format(const vfio_hostcmd *c);
/*
 * The absolute path of a host tool by name, from a fixed list of directories below the root (usr/sbin,
 * usr/bin, sbin, bin; never $PATH): "/usr/sbin/update-initramfs". -ENOENT when none has it.
 */
int vfio_hostcmd_locate(const vfio_host *h, const char *name, char **ret);
/*
 * Runs one command on the running host (never under --root: its tools change the real host: -EROFS), with
 * stdin on /dev/null. show: its output goes to ours (a person watches update-initramfs; and the command
 * finishes even when we are killed); else it is captured and *ret_error (may be NULL) gets its last line
 * when it fails. -EIO when it ran and exited non-zero (show: *ret_error says "exit status N").
 */
int vfio_hostcmd_run(const vfio_host *h, const vfio_hostcmd *c, bool show, char **ret_error);

/*
 * The VM user: the account QEMU runs as, in group (its /dev/kvm and /dev/vfio nodes). Plans groupadd when
 * the group is missing, useradd --system (no home, nologin) when the user is, or usermod -a -G when the
 * user lacks the group; nothing when all is there. Reads etc/passwd and etc/group below the root.
 */
int vfio_vmuser_plan(const vfio_host *h, const char *user, const char *group, vfio_hostcmds *ret);
/* Whether name is an account name useradd accepts (letters, digits, _ and -, not first; at most 32). */
bool vfio_vmuser_name_valid(const char *name);
