/* Users and groups as the host root's etc/passwd and etc/group describe them (the VM user's identity). */
#pragma once

#include <stdint.h>

#include "vfioctl/common.h"
#include "vfioctl/host.h"

typedef struct vfio_account {
        char *name;
        uint32_t uid, gid;
        char **groups;  /* names of the primary and supplementary groups */
        uint32_t *gids; /* their ids, parallel to groups */
        char *where;    /* "etc/passwd" or "NSS" */
} vfio_account;

/* -ENOENT when the user is in neither etc/passwd under the root nor (on a live root) NSS. */
int vfio_account_lookup(const vfio_host *h, const char *user, vfio_account **ret);
vfio_account *vfio_account_free(vfio_account *a);
VFIO_DEFINE_POINTER_CLEANUP(vfio_account, vfio_account_free)
/* The gid of a group: etc/group under the root, then (live root) NSS; -ENOENT when there is none. */
int vfio_account_group_gid(const vfio_host *h, const char *group, uint32_t *ret);
/* The running system's NSS alone (getpwnam, getgrouplist), whatever the root: the user a process runs as. */
int vfio_account_lookup_nss(const char *user, vfio_account **ret);
/* Name of a group id from etc/group (NULL when unknown); newly allocated. */
char *vfio_account_group_name(const vfio_host *h, uint32_t gid);
/* Name of a user id from etc/passwd (NULL when unknown); newly allocated. */
char *vfio_account_user_name(const vfio_host *h, uint32_t uid);

/*
 * Every user whose primary group is gid (etc/passwd) or who is listed in it (etc/group), under the root;
 * each name once, in file order. An empty list when neither file can be read.
 */
int vfio_account_group_users(const vfio_host *h, uint32_t gid, char ***ret);
/* The user at the seat's active session (run/systemd/seats/seat0, ACTIVE_UID), by name; -ENOENT: none. */
int vfio_account_seat_user(const vfio_host *h, char **ret);

/* Whether the account may open a file of that owner and mode for reading and writing (ACLs not seen). */
int vfio_account_can_rw(const vfio_account *a, uint32_t st_uid, uint32_t st_gid, uint32_t mode);
