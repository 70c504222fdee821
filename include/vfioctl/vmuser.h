/* The user QEMU runs as: who it is, its groups, and whether it can open what QEMU opens as it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "vfioctl/common.h"
#include "vfioctl/problem.h"
#include "vfioctl/vmconf.h"

typedef struct vm_user {
        char *name;
        uid_t uid;
        gid_t gid;
        char *home;
        gid_t *member_of; /* the user's groups (getgrouplist) */
        size_t n_member_of;
        gid_t keep[32]; /* supplementary groups device access needs: the only ones QEMU keeps */
        size_t n_keep;
} vm_user;

/* Looks up a user by name or uid (the system's user database: QEMU runs on this host). -ESRCH: none. */
int vm_user_lookup(const char *spec, vm_user **ret);
vm_user *vm_user_free(vm_user *u);
VFIO_DEFINE_POINTER_CLEANUP(vm_user, vm_user_free)

bool vm_user_in_group(const vm_user *u, gid_t gid);

/*
 * Whose QEMU this is. Root drops to [vm] user; anyone else runs it as themselves. *ret_drop is true when
 * the credentials change. -EINVAL: the config is wrong for this ([vm] user missing, unknown, root); -EPERM:
 * the caller may not start it ([vm] user names somebody else); other -errno: the lookup failed. Each with
 * *ret_error saying what to do.
 */
int vm_user_for_start(const vm_config *c, uid_t caller, vm_user **ret, bool *ret_drop, char **ret_error);

/*
 * Can the user open path with want (R_OK, R_OK|W_OK)? Decided from the mode bits as the kernel would for
 * that uid (ACLs are not read). A group of the user's that grants it is kept (u->keep) for the privilege
 * drop. A refusal is added to problems with the fix; returns -EACCES then, -errno when path is missing.
 */
int vm_user_check_access(vm_user *u, const char *path, int want, vfio_problems *problems);
