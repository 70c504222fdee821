/* What root prepares for the VM user in its state directory, through basic/safedir.h only. */
#include "vfioctl/statedir.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "safedir.h"

static int fail(char **ret_error, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char **ret_error, int r, const char *fmt, ...)
{
        va_list ap;

        if (ret_error) {
                va_start(ap, fmt);
                if (vasprintf(ret_error, fmt, ap) < 0)
                        *ret_error = NULL;
                va_end(ap);
        }
        return r;
}

/* Splits an absolute path into its directory and last component. */
static int split(const char *path, char **ret_dir, const char **ret_name)
{
        const char *slash = strrchr(path, '/');

        if (path[0] != '/' || !slash || !slash[1])
                return -EINVAL;
        *ret_dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
        if (!*ret_dir)
                return -ENOMEM;
        *ret_name = slash + 1;
        return 0;
}

int vm_statedir_open(const char *dir, uid_t uid, gid_t gid, int *ret_fd, char **ret_error)
{
        _cleanup_free_ char *parent = NULL;
        _cleanup_close_ int pfd = -EBADF, fd = -EBADF;
        const char *name;
        int r;

        assert(dir);
        assert(ret_fd);

        r = split(dir, &parent, &name);
        if (r < 0)
                return fail(ret_error, r, "%s: not an absolute directory path", dir);
        /* Above the state directory everything is root's (ROOT/var/lib/vfioctl) or the caller's own. */
        r = safedir_open_trusted(parent, true, &pfd);
        if (r < 0)
                return fail(ret_error, r, "cannot use %s for VM state: %s", parent,
                            r == -EPERM ? "a user other than root can change it or a directory above it"
                                        : safedir_strerror(r));
        /* QEMU opens its files there as the VM user: the directory above must let that user through (a
         * root-only /var/lib/vfioctl failed only in QEMU, "Permission denied" on the OVMF variable store).
         */
        if (uid != (uid_t)-1 && uid != 0) {
                struct stat st;

                if (fstat(pfd, &st) < 0)
                        return fail(ret_error, -errno, "%s: %s", parent, strerror(errno));
                /* Only what is certain: the VM user's supplementary groups are not known here. */
                if (st.st_uid == uid ? !(st.st_mode & S_IXUSR) : !(st.st_mode & (S_IXGRP | S_IXOTH)))
                        return fail(
                                ret_error, -EACCES,
                                "the VM user (uid %u) cannot reach its state directory %s: %s is mode %04o; run: sudo chmod 755 %s",
                                (unsigned)uid, dir, parent, (unsigned)(st.st_mode & 07777), parent);
        }
        r = safedir_mkdir(pfd, name, 0700, uid, uid == (uid_t)-1 ? (gid_t)-1 : gid, &fd);
        if (r < 0)
                return fail(ret_error, r, "cannot prepare the state directory %s: %s%s", dir,
                            safedir_strerror(r),
                            r == -ELOOP || r == -ENOTDIR ? "; something else was put there: remove it" : "");
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int vm_statedir_vars(const char *vars, int template_fd, uid_t uid, gid_t gid, char **ret_error)
{
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int dirfd = -EBADF, fd = -EBADF;
        uid_t owner = SAFEDIR_NOBODY;
        struct stat st;
        int r;

        assert(vars);

        r = safedir_open_parent(vars, &dirfd, &name, &owner);
        if (r < 0)
                return fail(ret_error, r, "OVMF variable store %s: its directory is %s", vars,
                            safedir_strerror(r));
        if (owner != SAFEDIR_NOBODY && owner != uid)
                return fail(
                        ret_error, -EPERM,
                        "OVMF variable store %s: its directory belongs to uid %u, neither root nor the VM user; set [firmware] vars to a path in the VM user's or root's directory",
                        vars, (unsigned)owner);
        for (int attempt = 0; attempt < 2; attempt++) {
                if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                        /* There already: it must be the plain file vfioctl made (or the user's own copy). */
                        fd = safedir_open_regular(dirfd, name, O_RDONLY, &st);
                        if (fd < 0)
                                return fail(
                                        ret_error, fd,
                                        "OVMF variable store %s is %s: remove it and start again (vfioctl makes a fresh copy of the template)",
                                        vars, safedir_strerror(fd));
                        if (st.st_uid != 0 && st.st_uid != uid && geteuid() == 0)
                                return fail(
                                        ret_error, -EPERM,
                                        "OVMF variable store %s belongs to uid %u, not the VM user: remove it and start again",
                                        vars, (unsigned)st.st_uid);
                        return 0;
                }
                if (errno != ENOENT)
                        return fail(ret_error, -errno, "OVMF variable store %s: %s", vars, strerror(errno));
                if (template_fd < 0)
                        return -ENODATA; /* a copy is needed: the caller opens the template and asks again */
                if (lseek(template_fd, 0, SEEK_SET) < 0)
                        return fail(ret_error, -errno, "OVMF variable template: %s", strerror(errno));
                r = safedir_write(dirfd, name, template_fd, NULL, 0, 0600,
                                  geteuid() == 0 ? uid : SAFEDIR_KEEP_UID,
                                  geteuid() == 0 ? gid : SAFEDIR_KEEP_GID, SAFEDIR_NOREPLACE);
                if (r == -EEXIST)
                        continue; /* made meanwhile: judge what is there */
                if (r < 0)
                        return fail(ret_error, r, "cannot write the OVMF variable store %s: %s", vars,
                                    strerror(-r));
                log_debug("made %s from the template, owner %u", vars, (unsigned)uid);
                return 1;
        }
        return fail(ret_error, -EBUSY,
                    "OVMF variable store %s keeps changing: is another program writing it?", vars);
}

int vm_statedir_subdir(int dirfd, const char *dir_path, const char *name, uid_t uid, gid_t gid,
                       char **ret_error)
{
        int r;

        assert(dir_path);
        assert(name);

        r = safedir_mkdir(dirfd, name, 0700, geteuid() == 0 ? uid : SAFEDIR_KEEP_UID,
                          geteuid() == 0 ? gid : SAFEDIR_KEEP_GID, NULL);
        if (r < 0)
                return fail(ret_error, r, "cannot prepare %s/%s: %s%s", dir_path, name, safedir_strerror(r),
                            r == -ELOOP || r == -ENOTDIR ? "; something else was put there: remove it" : "");
        return 0;
}
