/* The user QEMU runs as: who it is, its groups, and whether it can open what QEMU opens as it. */
#include "vfioctl/vmuser.h"

#include <assert.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "parse-util.h"

vm_user *vm_user_free(vm_user *u)
{
        if (!u)
                return NULL;
        free(u->name);
        free(u->home);
        free(u->member_of);
        free(u);
        return NULL;
}

int vm_user_lookup(const char *spec, vm_user **ret)
{
        _cleanup_(vm_user_freep) vm_user *u = NULL;
        struct passwd *pw;
        uint64_t id;
        int n = 64;

        assert(spec);
        assert(ret);
        errno = 0;
        pw = parse_uint(spec, 10, UINT32_MAX - 1, &id) >= 0 ? getpwuid((uid_t)id) : getpwnam(spec);
        if (!pw)
                return errno ? -errno : -ESRCH;
        u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        u->name = strdup(pw->pw_name);
        u->home = strdup(pw->pw_dir ? pw->pw_dir : "/");
        u->uid = pw->pw_uid;
        u->gid = pw->pw_gid;
        u->member_of = calloc(n, sizeof(gid_t));
        if (!u->name || !u->home || !u->member_of)
                return -ENOMEM;
        if (getgrouplist(u->name, u->gid, u->member_of, &n) < 0) {
                free(u->member_of);
                u->member_of = calloc(n, sizeof(gid_t));
                if (!u->member_of || getgrouplist(u->name, u->gid, u->member_of, &n) < 0)
                        return -ENOMEM;
        }
        u->n_member_of = (size_t)n;
        *ret = TAKE_PTR(u);
        return 0;
}

bool vm_user_in_group(const vm_user *u, gid_t gid)
{
        assert(u);
        for (size_t i = 0; i < u->n_member_of; i++)
                if (u->member_of[i] == gid)
                        return true;
        return false;
}

static int fail(char **ret_error, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char **ret_error, int r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return r;
}

int vm_user_for_start(const vm_config *c, uid_t caller, vm_user **ret, bool *ret_drop, char **ret_error)
{
        _cleanup_(vm_user_freep) vm_user *u = NULL;
        char self[32];
        int r;

        assert(c);
        assert(ret);
        assert(ret_drop);
        assert(ret_error);
        if (caller == 0) {
                if (!c->vm.user)
                        return fail(
                                ret_error, -EINVAL,
                                "%s: [vm] user is not set: vfioctl does not run QEMU as root (a guest escape would own the host). Add 'user = NAME' to [vm], or start it as that user",
                                c->filename);
                r = vm_user_lookup(c->vm.user, &u);
                if (r < 0)
                        return fail(
                                ret_error, -EINVAL,
                                "%s:%u: [vm] user = %s: no such user; create it: useradd --system --no-create-home --groups kvm %s",
                                c->filename, vm_config_key_line(c, "vm", "user"), c->vm.user, c->vm.user);
                if (u->uid == 0)
                        return fail(ret_error, -EINVAL,
                                    "%s: [vm] user = %s is root: name an unprivileged user", c->filename,
                                    c->vm.user);
                *ret_drop = true;
                *ret = TAKE_PTR(u);
                return 0;
        }
        snprintf(self, sizeof(self), "%u", (unsigned)caller);
        r = vm_user_lookup(self, &u);
        if (r < 0)
                return fail(ret_error, r, "cannot look up the current user (uid %s): %s", self,
                            strerror(-r));
        if (c->vm.user && strcmp(c->vm.user, u->name) != 0 && strcmp(c->vm.user, self) != 0)
                return fail(
                        ret_error, -EPERM,
                        "%s: [vm] user = %s, but you are %s: start it as root (vfioctl drops to %s) or as %s",
                        c->filename, c->vm.user, u->name, c->vm.user, c->vm.user);
        *ret_drop = false;
        *ret = TAKE_PTR(u);
        return 0;
}

static const char *group_name(gid_t g, char buf[static 16])
{
        struct group *gr = getgrgid(g);

        if (gr)
                return gr->gr_name;
        snprintf(buf, 16, "%u", (unsigned)g);
        return buf;
}

static void keep_group(vm_user *u, gid_t g)
{
        for (size_t i = 0; i < u->n_keep; i++)
                if (u->keep[i] == g)
                        return;
        if (u->n_keep < ELEMENTSOF(u->keep))
                u->keep[u->n_keep++] = g;
}

int vm_user_check_access(vm_user *u, const char *path, int want, vfio_problems *problems)
{
        unsigned bits, need = (want & R_OK ? 4 : 0) | (want & W_OK ? 2 : 0);
        _cleanup_free_ char *fix = NULL;
        const char *gname;
        struct stat st;
        char gbuf[16];
        int r;

        assert(u);
        assert(path);
        assert(problems);
        if (stat(path, &st) < 0) {
                r = -errno;
                (void)vfio_problems_add(problems, VFIO_PROBLEM_ERROR, "%s: %s", path, strerror(-r));
                return r;
        }
        if (u->uid == 0)
                return 0;
        if (st.st_uid == u->uid)
                bits = (st.st_mode >> 6) & 7;
        else if (vm_user_in_group(u, st.st_gid) || st.st_gid == u->gid) {
                bits = (st.st_mode >> 3) & 7;
                if ((bits & need) == need && st.st_gid != u->gid)
                        keep_group(u, st.st_gid);
        } else
                bits = st.st_mode & 7;
        if ((bits & need) == need || ((st.st_mode & 7) & need) == need)
                return 0;
        gname = group_name(st.st_gid, gbuf);
        /* Root's group is never the answer: give the node to a group of the VM user instead. */
        if (st.st_gid != 0 && (((st.st_mode >> 3) & 7) & need) == need)
                r = asprintf(&fix, "add %s to group %s: usermod -aG %s %s", u->name, gname, gname, u->name);
        else
                r = asprintf(
                        &fix,
                        "give the node to a group of %s with a udev rule (vfioctl setup writes them; seed 003: SUBSYSTEM==\"vfio\", GROUP=\"kvm\"); for now: chgrp kvm %s && chmod g+rw %s, with %s in group kvm (usermod -aG kvm %s)",
                        u->name, path, path, u->name, u->name);
        if (r < 0)
                fix = NULL;
        (void)vfio_problems_add(problems, VFIO_PROBLEM_ERROR, "%s (%s:%s, mode %04o) is not %s by user %s",
                                path, getpwuid(st.st_uid) ? getpwuid(st.st_uid)->pw_name : "?", gname,
                                (unsigned)(st.st_mode & 07777),
                                want & W_OK ? "readable and writable" : "readable", u->name);
        (void)vfio_problems_fix(problems, "fix: %s", fix ? fix : "change its owner or mode");
        return -EACCES;
}
