/* Becoming another user for good: the one privilege drop every child and the relay go through. */
#include "user-util.h"

#include <errno.h>
#include <grp.h>
#include <unistd.h>

int drop_privileges(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups)
{
        if (setgroups(n_groups, groups) < 0)
                return 1;
        if (setgid(gid) < 0)
                return 2;
        if (setuid(uid) < 0)
                return 3;
        if (uid != 0 && (setuid(0) == 0 || geteuid() == 0)) {
                errno = EPERM;
                return 4;
        }
        return 0;
}
