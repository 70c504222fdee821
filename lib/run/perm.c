/* Ownership and permission walk over a path root relies on: nobody but root may change what it names. */
#include "vfioctl/perm.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "escape.h"
#include "log.h"
#include "safedir.h"
#include "strv.h"
#include "vfioctl/vmpaths.h"

/* path_resolution(7) gives up after 40 links; so do we. */
#define PERM_MAX_LINKS 40
/* acl(5) on-disk xattr: a 4-byte header and 8 bytes per entry; the minimal ACL (user, group, other)
 * mirrors the mode bits, anything longer has named entries or a mask that can grant more. */
#define ACL_MINIMAL_SIZE (4 + 3 * 8)

vfio_perm_issue *vfio_perm_issue_free(vfio_perm_issue *i)
{
        if (!i)
                return NULL;
        free(i->path);
        free(i->fix);
        free(i);
        return NULL;
}

const char *vfio_perm_reason_to_string(vfio_perm_reason r)
{
        switch (r) {
        case VFIO_PERM_NOT_ROOT_OWNED:
                return "not owned by root";
        case VFIO_PERM_GROUP_WRITABLE:
                return "writable by its group";
        case VFIO_PERM_WORLD_WRITABLE:
                return "writable by every user";
        case VFIO_PERM_FOREIGN_OWNER:
                return "owned by a user other than root and the VM user";
        case VFIO_PERM_REPLACEABLE:
                return "owned by the VM user in a directory the VM user can write (it could be swapped for a symlink)";
        case VFIO_PERM_ACL:
                return "has an extended ACL that may grant write access";
        }
        return "unsafe";
}

/* Single-quoted for sh when it holds anything beyond [A-Za-z0-9/._+-]. */
static bool vm_in_group(const vfio_account *vm, uint32_t gid)
{
        size_t n = strv_length(vm->groups);

        if (vm->gid == gid)
                return true;
        for (size_t i = 0; i < n; i++)
                if (vm->gids[i] == gid)
                        return true;
        return false;
}

/* Whether the VM user can create or remove entries in this directory (sticky or not). */
static bool dir_writable_by_vm(const vfio_account *vm, const struct stat *d)
{
        if (d->st_uid == vm->uid)
                return true;
        if ((d->st_mode & S_IWGRP) && vm_in_group(vm, d->st_gid))
                return true;
        return d->st_mode & S_IWOTH;
}

/* The command that removes the fault, with the path quoted for sh. */
static int fix_for(vfio_perm_reason reason, const char *q, const vfio_account *vm, char **ret)
{
        int n = -1;

        switch (reason) {
        case VFIO_PERM_NOT_ROOT_OWNED:
                n = asprintf(ret, "chown root:root %s && chmod go-w %s", q, q);
                break;
        case VFIO_PERM_GROUP_WRITABLE:
                n = asprintf(ret, "chmod g-w %s", q);
                break;
        case VFIO_PERM_WORLD_WRITABLE:
                n = asprintf(ret, "chmod o-w %s", q);
                break;
        case VFIO_PERM_FOREIGN_OWNER:
                n = asprintf(ret, "chown %s: %s && chmod o-w %s", vm->name ? vm->name : "VMUSER", q, q);
                break;
        case VFIO_PERM_REPLACEABLE:
                n = asprintf(
                        ret,
                        "mkdir -p /var/lib/vfioctl && mv %s /var/lib/vfioctl/ (a directory only root can write)",
                        q);
                break;
        case VFIO_PERM_ACL:
                n = asprintf(ret, "setfacl -b %s", q);
                break;
        }
        if (n < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

static int make_issue(const char *path, const struct stat *st, vfio_perm_reason reason,
                      const vfio_account *vm, vfio_perm_issue **ret)
{
        _cleanup_(vfio_perm_issue_freep) vfio_perm_issue *i = calloc(1, sizeof(*i));
        _cleanup_free_ char *q = NULL;

        if (!i)
                return -ENOMEM;
        i->path = strdup(path);
        q = shell_quote(path);
        if (!i->path || !q || fix_for(reason, q, vm, &i->fix) < 0)
                return -ENOMEM;
        i->reason = reason;
        i->uid = st->st_uid;
        i->gid = st->st_gid;
        i->mode = st->st_mode & 07777;
        log_debug("perm: %s: %s (uid %u gid %u mode %04o)", path, vfio_perm_reason_to_string(reason),
                  (unsigned)i->uid, (unsigned)i->gid, (unsigned)i->mode);
        *ret = TAKE_PTR(i);
        return 1;
}

/* An extended ACL on a directory or regular file (others are not opened: a FIFO or device open has
 * effects). Unreadable nodes (tests run unprivileged) are not judged on their ACL. */
static bool has_extended_acl(const vfio_host *h, const char *rel, const struct stat *st)
{
        _cleanup_close_ int fd = -EBADF;
        ssize_t n;

        if (!S_ISDIR(st->st_mode) && !S_ISREG(st->st_mode))
                return false;
        fd = vfio_host_open_path(h, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return false;
        n = fgetxattr(fd, "system.posix_acl_access", NULL, 0);
        return n > ACL_MINIMAL_SIZE;
}

/* Judges one component. dir is the directory holding it (NULL for the root itself). */
static int check_node(const vfio_host *h, const char *rel, const char *path, const struct stat *st,
                      const struct stat *dir, bool vm_file, const vfio_account *vm, vfio_perm_issue **ret)
{
        bool sticky_dir = S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX);

        if (vm_file) {
                /* The VM writes this file: the VM user may own it, nobody else may. */
                if (st->st_uid != 0 && st->st_uid != vm->uid)
                        return make_issue(path, st, VFIO_PERM_FOREIGN_OWNER, vm, ret);
                if (st->st_mode & S_IWOTH)
                        return make_issue(path, st, VFIO_PERM_WORLD_WRITABLE, vm, ret);
                /* Root later opens or chowns this path: if the VM user may unlink it (its own file in a
                 * sticky directory), it can put a symlink to /etc/shadow there. */
                if (st->st_uid == vm->uid && dir && dir_writable_by_vm(vm, dir))
                        return make_issue(path, st, VFIO_PERM_REPLACEABLE, vm, ret);
        } else {
                if (st->st_uid != 0)
                        return make_issue(path, st, VFIO_PERM_NOT_ROOT_OWNED, vm, ret);
                /* A sticky directory (/tmp) lets others add entries but not replace root's: the next
                 * component is checked to be root's, which is what makes it safe. */
                if ((st->st_mode & S_IWGRP) && !sticky_dir && (st->st_gid != 0 || vm_in_group(vm, 0)))
                        return make_issue(path, st, VFIO_PERM_GROUP_WRITABLE, vm, ret);
                if ((st->st_mode & S_IWOTH) && !sticky_dir)
                        return make_issue(path, st, VFIO_PERM_WORLD_WRITABLE, vm, ret);
        }
        if (has_extended_acl(h, rel, st))
                return make_issue(path, st, VFIO_PERM_ACL, vm, ret);
        return 0;
}

static int stat_rel(const vfio_host *h, const char *rel, struct stat *ret)
{
        _cleanup_close_ int fd = -EBADF;

        fd = vfio_host_open_path(h, *rel ? rel : "/", O_PATH | O_NOFOLLOW);
        if (fd < 0)
                return fd;
        return fstat(fd, ret) < 0 ? -errno : 0;
}

/* The components of s, "" and "." dropped, prepended to the rest of todo (from index i). */
static int splice_components(const char *s, char **todo, size_t i, char ***ret)
{
        _cleanup_strv_free_ char **parts = NULL, **out = NULL;
        int r;

        r = strv_split(s, "/", &parts);
        if (r < 0)
                return r;
        for (size_t k = 0; parts && parts[k]; k++)
                if (strcmp(parts[k], ".") != 0 && (r = strv_extend(&out, parts[k])) < 0)
                        return r;
        for (size_t k = i; todo && todo[k]; k++)
                if ((r = strv_extend(&out, todo[k])) < 0)
                        return r;
        if (!out) {
                out = calloc(1, sizeof(char *));
                if (!out)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

int vfio_perm_check_path(const vfio_host *h, const char *path, const vfio_account *vm, unsigned flags,
                         vfio_perm_issue **ret_issue)
{
        _cleanup_strv_free_ char **todo = NULL;
        _cleanup_free_ char *cur = strdup(""); /* canonical so far, symlink-free, "" is the root */
        struct stat root_st, dir_st, st;
        unsigned links = 0;
        size_t i = 0;
        int r;

        assert(h);

        if (!cur)
                return -ENOMEM;
        if (!path || path[0] != '/' || !vm)
                return -EINVAL;
        r = splice_components(path, NULL, 0, &todo);
        if (r < 0)
                return r;
        r = stat_rel(h, "", &root_st);
        if (r < 0)
                return r;
        r = check_node(h, "/", "/", &root_st, NULL, false, vm, ret_issue);
        if (r != 0)
                return r;
        dir_st = root_st;

        while (todo[i]) {
                _cleanup_free_ char *next = NULL, *shown = NULL;
                const char *comp = todo[i];
                bool leaf = !todo[i + 1];

                if (strcmp(comp, "..") == 0) {
                        char *slash = strrchr(cur, '/');

                        if (slash)
                                *slash = '\0';
                        else
                                cur[0] = '\0';
                        r = stat_rel(h, cur, &dir_st);
                        if (r < 0)
                                return r;
                        i++;
                        continue;
                }
                if (asprintf(&next, "%s%s%s", cur, *cur ? "/" : "", comp) < 0)
                        return -ENOMEM;
                r = stat_rel(h, next, &st);
                if (r < 0)
                        return r;
                if (S_ISLNK(st.st_mode)) {
                        _cleanup_free_ char *target = NULL;
                        char **spliced = NULL;

                        /* The link itself cannot be changed in place: only replaced, which its directory
                         * (checked already) decides. What it points to is walked like the path itself. */
                        if (++links > PERM_MAX_LINKS)
                                return -ELOOP;
                        r = vfio_host_read_link(h, next, &target);
                        if (r < 0)
                                return r;
                        r = splice_components(target, todo, i + 1, &spliced);
                        if (r < 0)
                                return r;
                        strv_free(todo);
                        todo = spliced;
                        i = 0;
                        if (target[0] == '/') {
                                cur[0] = '\0';
                                dir_st = root_st;
                        }
                        continue;
                }
                if (asprintf(&shown, "/%s", next) < 0)
                        return -ENOMEM;
                r = check_node(h, next, shown, &st, &dir_st, leaf && (flags & VFIO_PERM_VM_MAY_WRITE), vm,
                               ret_issue);
                if (r != 0)
                        return r;
                if (!leaf && !S_ISDIR(st.st_mode))
                        return -ENOTDIR;
                free(cur);
                cur = TAKE_PTR(next);
                dir_st = st;
                i++;
        }
        return 0;
}

int vfio_perm_open_trusted(const vfio_host *h, const char *path, const vfio_account *vm, int *ret_fd,
                           vfio_perm_issue **ret_issue)
{
        static const vfio_account nobody = { .uid = UINT32_MAX, .gid = UINT32_MAX };
        _cleanup_close_ int fd = -EBADF;
        uid_t owner = SAFEDIR_NOBODY;
        struct stat st;
        vfio_perm_reason reason;
        int r, fl;

        assert(ret_fd);

        if (!path || path[0] != '/')
                return -EINVAL;
        if (!vm)
                vm = &nobody;
        r = safedir_open_path(path, O_RDONLY | O_NOCTTY, 0, &fd, &owner);
        if (r == -ELOOP || r == -EPERM || r == -EMLINK || r == -EXDEV ||
            (r >= 0 && owner != SAFEDIR_NOBODY)) {
                /* Another user can change the way there: the path walk names the component and the fix. */
                r = vfio_perm_check_path(h, path, vm, 0, ret_issue);
                if (r != 0)
                        return r == -ENOENT ? -ELOOP : r;
                /* The walk found nothing (the user swapped it back meanwhile): still not root's alone. */
                return -EPERM;
        }
        if (r < 0)
                return r;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD;
        if (st.st_uid != 0)
                reason = VFIO_PERM_NOT_ROOT_OWNED;
        else if ((st.st_mode & S_IWGRP) && (st.st_gid != 0 || vm_in_group(vm, 0)))
                reason = VFIO_PERM_GROUP_WRITABLE;
        else if (st.st_mode & S_IWOTH)
                reason = VFIO_PERM_WORLD_WRITABLE;
        else if (fgetxattr(fd, "system.posix_acl_access", NULL, 0) > ACL_MINIMAL_SIZE)
                reason = VFIO_PERM_ACL;
        else {
                /* The descriptor goes back to blocking reads: it is a regular file. */
                if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
                        return -errno;
                *ret_fd = TAKE_FD(fd);
                return 0;
        }
        {
                _cleanup_free_ char *shown = safedir_fd_path(fd);

                return make_issue(shown ? shown : path, &st, reason, vm, ret_issue);
        }
}

int vfio_perm_load_config(const char *arg, vm_config **ret, char ***ret_errors)
{
        _cleanup_(vfio_host_freep) vfio_host *live = NULL;
        _cleanup_(vfio_perm_issue_freep) vfio_perm_issue *issue = NULL;
        _cleanup_free_ char *path = NULL, *abs = NULL, *error = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        assert(ret);

        if (geteuid() != 0)
                return vm_load_config(arg, ret, ret_errors);
        r = vm_find_config(arg, &path, &error);
        if (r < 0) {
                if (error && strv_push(ret_errors, error) >= 0)
                        error = NULL;
                return r;
        }
        if (path[0] != '/') {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);

                if (!cwd || asprintf(&abs, "%s/%s", cwd, path) < 0)
                        return -ENOMEM;
        } else if (!(abs = strdup(path)))
                return -ENOMEM;
        r = vfio_host_open(NULL, &live);
        if (r >= 0)
                r = vfio_perm_open_trusted(live, abs, NULL, &fd, &issue);
        if (r == 1) {
                (void)strv_extendf(
                        ret_errors,
                        "%s: %s is %s (uid %u, gid %u, mode %04o): another user could change what root does with this VM; fix: %s",
                        path, issue->path, vfio_perm_reason_to_string(issue->reason), issue->uid, issue->gid,
                        issue->mode, issue->fix);
                return -EPERM;
        }
        if (r < 0) {
                (void)strv_extendf(
                        ret_errors,
                        "%s: root acts only on a config it can trust, and cannot check this one: %s", path,
                        r == -EBADFD
                                ? "not a regular file (root reads a VM's config from a file root owns, never from a pipe or /dev/stdin)"
                        : r == -ENOENT
                                ? "it does not exist, or names no file (a pipe: root reads a VM's config from a file root owns)"
                                : safedir_strerror(r));
                return r == -ELOOP || r == -EPERM || r == -EBADFD || r == -EMLINK || r == -EXDEV ? -EPERM
                                                                                                 : r;
        }
        r = vm_config_load_fd(fd, path, ret, &errors);
        return vm_load_config_finish(path, r, ret, &errors, ret_errors);
}
