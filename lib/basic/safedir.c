/* Working in directories another user can write: descriptors, no symlink following, fchown/fchmod. */
#include "safedir.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "fault.h"
#include "fs-util.h"
#include "log.h"
#include "strv.h"

/* path_resolution(7) gives up after 40 links; so do we. */
#define SAFEDIR_MAX_LINKS 40
/* A swapped entry between fstatat and openat is retried this often before giving up (-EAGAIN). */
#define SAFEDIR_RETRIES 8

static bool try_openat2 = true;

void safedir_use_openat2(bool on)
{
        try_openat2 = on;
}

static bool name_ok(const char *n)
{
        return n && *n && !strchr(n, '/') && strcmp(n, ".") != 0 && strcmp(n, "..") != 0;
}

/* Relative, every component a plain name ("a/b"), or "." alone for the directory itself. */
static bool rel_ok(const char *p)
{
        const char *s = p;

        if (!p || !*p || *p == '/')
                return false;
        if (strcmp(p, ".") == 0)
                return true;
        while (*s) {
                size_t n = strcspn(s, "/");

                if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
                        return false;
                s += n;
                if (*s == '/' && !*++s)
                        return false; /* trailing slash */
        }
        return true;
}

static bool mine(uid_t u)
{
        return u == 0 || u == geteuid();
}

/* O_PATH descriptors of a symlink (O_PATH | O_NOFOLLOW) are the link itself: never handed out. */
static int refuse_link(int fd)
{
        struct stat st;

        if (fstat(fd, &st) < 0) {
                int e = -errno;
                close(fd);
                return e;
        }
        if (S_ISLNK(st.st_mode)) {
                close(fd);
                return -ELOOP;
        }
        return fd;
}

/* ENOTDIR from O_DIRECTORY | O_NOFOLLOW on a symlink says less than it should: report the link. */
static int open_errno(int dirfd, const char *name)
{
        int e = errno;
        struct stat st;

        if ((e == ENOTDIR || e == ELOOP) && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISLNK(st.st_mode))
                return -ELOOP;
        return -e;
}

/* The walk kernels without openat2 get: one component at a time, O_NOFOLLOW, st_dev compared. */
static int openat_walk(int dirfd, const char *path, int flags, mode_t mode)
{
        _cleanup_free_ char *copy = strdup(path);
        _cleanup_close_ int cur = -EBADF;
        char *comp, *next, *save = NULL;
        struct stat cst, st;
        int cfd = dirfd, fd;

        if (!copy)
                return -ENOMEM;
        if (fstat(dirfd, &cst) < 0)
                return -errno;
        comp = strtok_r(copy, "/", &save);
        while ((next = strtok_r(NULL, "/", &save))) {
                int nfd = openat(cfd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                if (nfd < 0)
                        return open_errno(cfd, comp);
                if (fstat(nfd, &st) < 0 || st.st_dev != cst.st_dev) {
                        close(nfd);
                        return -EXDEV;
                }
                closep(&cur);
                cfd = cur = nfd;
                cst = st;
                comp = next;
        }
        fd = openat(cfd, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0)
                return open_errno(cfd, comp);
        if (fstat(fd, &st) < 0 || (st.st_dev != cst.st_dev && strcmp(comp, ".") != 0)) {
                close(fd);
                return -EXDEV;
        }
        return refuse_link(fd);
}

int safedir_openat(int dirfd, const char *path, int flags, mode_t mode)
{
        int fd;

        if (!rel_ok(path))
                return -EINVAL;
        if (try_openat2) {
                struct open_how how = {
                        .flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
                        .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
                        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
                                   RESOLVE_NO_XDEV,
                };

                /* EAGAIN: a rename raced the lookup (openat2(2)); the walk is short, try again. */
                for (int i = 0; i < SAFEDIR_RETRIES; i++) {
                        fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
                        if (fd >= 0 || errno != EAGAIN)
                                break;
                }
                if (fd >= 0)
                        return refuse_link(fd);
                if (errno != ENOSYS)
                        return open_errno(dirfd, path);
                log_debug("openat2 missing (kernel before 5.6): walking with O_NOFOLLOW");
                try_openat2 = false;
        }
        return openat_walk(dirfd, path, flags, mode);
}

int safedir_open_dir(int dirfd, const char *path)
{
        return safedir_openat(dirfd, path, O_RDONLY | O_DIRECTORY, 0);
}

int safedir_mkdir(int dirfd, const char *name, mode_t mode, uid_t uid, gid_t gid, int *ret_fd)
{
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (!name_ok(name))
                return -EINVAL;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno != ENOENT)
                        return -errno;
                fault_point();
                if (mkdirat(dirfd, name, mode & 07777) < 0 && errno != EEXIST)
                        return -errno;
        }
        fd = safedir_open_dir(dirfd, name);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        if ((uid != SAFEDIR_KEEP_UID && st.st_uid != uid) || (gid != SAFEDIR_KEEP_GID && st.st_gid != gid)) {
                fault_point();
                if (fchown(fd, uid, gid) < 0)
                        return -errno;
        }
        if ((st.st_mode & 07777) != (mode & 07777) && fchmod(fd, mode & 07777) < 0)
                return -errno;
        if (ret_fd)
                *ret_fd = TAKE_FD(fd);
        return 0;
}

/* A descriptor known to be a regular file with one name loses the O_NONBLOCK it was opened with. */
static int check_regular(int fd, bool one_name, bool keep_nonblock, struct stat *ret_st)
{
        struct stat st;
        int fl;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (S_ISLNK(st.st_mode))
                return -ELOOP;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        if (one_name && st.st_nlink > 1)
                return -EMLINK;
        if (!keep_nonblock && ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0))
                return -errno;
        if (ret_st)
                *ret_st = st;
        return 0;
}

int safedir_open_regular(int dirfd, const char *path, int flags, struct stat *ret_st)
{
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (flags & (O_CREAT | O_TRUNC | O_DIRECTORY | O_PATH | O_TMPFILE))
                return -EINVAL;
        fd = safedir_openat(dirfd, path, flags | O_NONBLOCK | O_NOCTTY, 0);
        if (fd == -ENXIO)
                return -EBADFD; /* a FIFO with no reader, or a socket */
        if (fd < 0)
                return fd;
        r = check_regular(fd, true, flags & O_NONBLOCK, ret_st);
        if (r < 0)
                return r;
        return TAKE_FD(fd);
}

static int write_all(int fd, const void *buf, size_t len)
{
        for (size_t off = 0; off < len;) {
                ssize_t n = write(fd, (const char *)buf + off, len - off);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                off += (size_t)n;
        }
        return 0;
}

static int copy_fd(int src, int dst)
{
        char buf[65536];

        for (;;) {
                ssize_t n = read(src, buf, sizeof(buf));
                int r;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                if ((r = write_all(dst, buf, (size_t)n)) < 0)
                        return r;
        }
}

int safedir_rename_noreplace(int dirfd, const char *from, const char *to)
{
        if (!name_ok(from) || !name_ok(to))
                return -EINVAL;
        fault_point();
        if (renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE) == 0)
                return 0;
        if (errno != EINVAL && errno != ENOSYS)
                return -errno;
        if (linkat(dirfd, from, dirfd, to, 0) < 0)
                return -errno;
        (void)unlinkat(dirfd, from, 0);
        return 0;
}

int safedir_write(int dirfd, const char *name, int src_fd, const void *buf, size_t len, mode_t mode,
                  uid_t uid, gid_t gid, unsigned flags)
{
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        if (!name_ok(name) || (src_fd < 0 && len > 0 && !buf))
                return -EINVAL;
        if ((flags & SAFEDIR_NOREPLACE) && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                return -EEXIST;
        /* O_CREAT | O_EXCL never follows a link and never opens what is there: a fresh inode, root's. */
        for (int i = 0; fd < 0 && i < SAFEDIR_RETRIES; i++) {
                uint64_t rnd;

                if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
                        return -EIO;
                free(tmp);
                /* fs-util's temp name: the sweeps of killed runs (atomic_temp_name) know it. */
                if (asprintf(&tmp, ATOMIC_TEMP_PREFIX "%016llx", (unsigned long long)rnd) < 0) {
                        tmp = NULL;
                        return -ENOMEM;
                }
                fault_point();
                fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd < 0 && errno != EEXIST)
                        return -errno;
        }
        if (fd < 0)
                return -EEXIST;
        if (src_fd >= 0)
                r = copy_fd(src_fd, fd);
        else {
                /* In two halves, so a fault test can stop with the temp file half written. */
                r = write_all(fd, buf, len / 2);
                fault_point();
                if (r >= 0)
                        r = write_all(fd, (const char *)buf + len / 2, len - len / 2);
        }
        if (r >= 0 && (uid != SAFEDIR_KEEP_UID || gid != SAFEDIR_KEEP_GID) && fchown(fd, uid, gid) < 0)
                r = -errno;
        if (r >= 0 && (fchmod(fd, mode & 07777) < 0 || fsync(fd) < 0))
                r = -errno;
        fault_point();
        if (r >= 0)
                r = (flags & SAFEDIR_NOREPLACE)             ? safedir_rename_noreplace(dirfd, tmp, name)
                    : renameat(dirfd, tmp, dirfd, name) < 0 ? -errno
                                                            : 0;
        if (r < 0) {
                (void)unlinkat(dirfd, tmp, 0);
                return r;
        }
        (void)fsync(dirfd); /* the rename itself durable */
        fault_point();
        return 0;
}

int safedir_unlink(int dirfd, const char *name, int flags)
{
        if (!name_ok(name) || (flags & ~AT_REMOVEDIR))
                return -EINVAL;
        fault_point();
        if (unlinkat(dirfd, name, flags) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

/* --- absolute paths --- */

typedef struct walker {
        int fd; /* the directory reached so far, O_PATH */
        struct stat st;
        bool controlled; /* nobody but root and the caller can change its entries */
        bool sticky; /* writable by others but sticky: its entries owned by root or the caller are safe */
        uid_t owner; /* the other user who can change what the walk reached, or SAFEDIR_NOBODY */
} walker;

static void walker_done(walker *w)
{
        closep(&w->fd);
        w->fd = -EBADF;
}

static int note_owner(walker *w, uid_t u)
{
        if (mine(u) || w->owner == u)
                return 0;
        if (w->owner != SAFEDIR_NOBODY)
                return -EPERM; /* two users */
        w->owner = u;
        return 0;
}

/* Takes the directory fd (O_PATH) as the walk's position and judges who can change its entries. */
static int walker_enter(walker *w, int fd, bool via_sticky)
{
        struct stat st;
        bool others_write;
        int r;

        if (fstat(fd, &st) < 0) {
                int e = -errno;
                close(fd);
                return e;
        }
        closep(&w->fd);
        w->fd = fd;
        /* Below a directory another user controls, everything stays theirs (they can rename it away). */
        if (w->controlled && via_sticky && !mine(st.st_uid))
                w->controlled = false;
        others_write = (st.st_mode & S_IWOTH) || ((st.st_mode & S_IWGRP) && st.st_gid != 0);
        if (!mine(st.st_uid)) {
                if (others_write)
                        return -EPERM;
                w->controlled = false;
        } else if (others_write && !(st.st_mode & S_ISVTX))
                return -EPERM;
        if ((r = note_owner(w, st.st_uid)) < 0)
                return r;
        w->sticky = others_write && (st.st_mode & S_ISVTX);
        w->st = st;
        return 0;
}

static int walker_root(walker *w)
{
        int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        w->controlled = true;
        w->owner = SAFEDIR_NOBODY;
        return walker_enter(w, fd, false);
}

/* The components of s, "" and "." dropped, followed by todo[i..]. */
static int splice_components(const char *s, char **todo, size_t i, char ***ret)
{
        _cleanup_strv_free_ char **parts = NULL, **out = NULL;
        int r;

        if ((r = strv_split(s, "/", &parts)) < 0)
                return r;
        STRV_FOREACH(p, parts)
                if (strcmp(*p, ".") != 0 && (r = strv_extend(&out, *p)) < 0)
                        return r;
        for (size_t k = i; todo && todo[k]; k++)
                if ((r = strv_extend(&out, todo[k])) < 0)
                        return r;
        if (!out && !(out = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = TAKE_PTR(out);
        return 0;
}

enum { WALK_PARENT = 1u << 0, WALK_MKDIR = 1u << 1, WALK_NO_LINKS = 1u << 2 };

/*
 * The link (*todo)[*i], whose lstat is est, in the directory the walk reached: its target's components
 * replace it in *todo, the walk going on from the first of them (from "/" for an absolute target).
 */
static int follow_link(walker *w, unsigned how, const struct stat *est, unsigned *links, char ***todo,
                       size_t *i)
{
        _cleanup_free_ char *target = NULL;
        char **spliced = NULL;
        ssize_t n;
        int r;

        /* In a sticky directory only links root (or the caller) made are followed. */
        if ((how & WALK_NO_LINKS) || (w->sticky && !mine(est->st_uid)))
                return -ELOOP;
        if (++*links > SAFEDIR_MAX_LINKS)
                return -ELOOP;
        target = malloc((size_t)est->st_size + 2 > 4096 ? (size_t)est->st_size + 2 : 4096);
        if (!target)
                return -ENOMEM;
        n = readlinkat(w->fd, (*todo)[*i], target, 4095);
        if (n < 0)
                return -errno;
        target[n] = 0;
        if ((r = splice_components(target, *todo, *i + 1, &spliced)) < 0)
                return r;
        strv_free(*todo);
        *todo = spliced;
        *i = 0;
        if (target[0] == '/' && (r = walker_root(w)) < 0)
                return r;
        if (!(*todo)[0] && (how & WALK_PARENT))
                return -EINVAL;
        return 0;
}

/* The last component comp in the directory the walk reached: opened, and judged on its descriptor. */
static int open_leaf(walker *w, const char *comp, int flags, mode_t mode, bool nonblock, int *ret_fd)
{
        struct stat st;
        int fd, r;

        if (w->controlled && !w->sticky)
                fd = openat(w->fd, comp, flags | O_NOFOLLOW | O_CLOEXEC | (nonblock ? O_NONBLOCK : 0), mode);
        else
                fd = safedir_openat(w->fd, comp, flags | (nonblock ? O_NONBLOCK : 0), mode);
        if (fd < 0) {
                if (!(w->controlled && !w->sticky))
                        return fd == -ENXIO ? -EBADFD : fd;
                return errno == ENXIO ? -EBADFD : open_errno(w->fd, comp);
        }
        if (fstat(fd, &st) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        r = 0;
        if (S_ISLNK(st.st_mode))
                r = -ELOOP;
        else if (!(w->controlled && !w->sticky) && st.st_dev != w->st.st_dev)
                r = -EXDEV;
        else if ((!w->controlled || w->sticky) && mine(st.st_uid) && S_ISREG(st.st_mode) && st.st_nlink > 1)
                r = -EMLINK; /* a second name of a file only root may read, linked in by another user */
        else
                r = note_owner(w, st.st_uid);
        if (r >= 0 && nonblock && !(flags & O_NONBLOCK)) {
                int fl = fcntl(fd, F_GETFL);

                if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
                        r = -errno;
        }
        if (r < 0) {
                close(fd);
                return r;
        }
        *ret_fd = fd;
        return 0;
}

/*
 * The walk of safedir_open_path: symlinks followed while the directory holding them is controlled; at
 * the first directory that is not, the rest goes to safedir_openat in one call.
 */
static int walk(const char *abs, unsigned how, int flags, mode_t mode, int *ret_fd, char **ret_name,
                walker *w)
{
        _cleanup_strv_free_ char **todo = NULL;
        _cleanup_free_ char *rest = NULL;
        unsigned links = 0, retries = 0;
        size_t i = 0;
        bool nonblock = !(flags & (O_DIRECTORY | O_PATH));
        int r, fd;

        if (!abs || abs[0] != '/')
                return -EINVAL;
        if ((r = splice_components(abs, NULL, 0, &todo)) < 0)
                return r;
        if (!todo[0] && (how & WALK_PARENT))
                return -EINVAL;
        if ((r = walker_root(w)) < 0)
                return r;
        while (todo[i] && w->controlled) {
                const char *comp = todo[i];
                bool last = !todo[i + 1];
                struct stat est;

                if ((how & WALK_PARENT) && last)
                        break;
                if (strcmp(comp, "..") == 0) {
                        fd = openat(w->fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
                        if (fd < 0)
                                return -errno;
                        /* Up from a controlled directory: judged afresh, nothing inherited. */
                        w->controlled = true;
                        w->owner = SAFEDIR_NOBODY;
                        if ((r = walker_enter(w, fd, false)) < 0)
                                return r;
                        i++;
                        continue;
                }
                if (fstatat(w->fd, comp, &est, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT && (how & WALK_MKDIR) && !w->sticky) {
                                if (++retries > SAFEDIR_RETRIES)
                                        return -EAGAIN;
                                fault_point();
                                if (mkdirat(w->fd, comp, 0755) < 0 && errno != EEXIST)
                                        return -errno;
                                continue;
                        }
                        if (errno == ENOENT && last && (flags & O_CREAT))
                                return open_leaf(w, todo[i], flags, mode, nonblock, ret_fd);
                        return -errno;
                }
                if (S_ISLNK(est.st_mode)) {
                        if ((r = follow_link(w, how, &est, &links, &todo, &i)) < 0)
                                return r;
                        continue;
                }
                if (last)
                        return open_leaf(w, todo[i], flags, mode, nonblock, ret_fd);
                fd = openat(w->fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return open_errno(w->fd, comp);
                {
                        struct stat st;

                        /* Swapped between the two calls: look again (a controlled directory's entries
                         * change only by root's hand, so this is rare and bounded). */
                        if (fstat(fd, &st) < 0 || st.st_ino != est.st_ino || st.st_dev != est.st_dev) {
                                close(fd);
                                if (++retries > SAFEDIR_RETRIES)
                                        return -EAGAIN;
                                continue;
                        }
                }
                if ((r = walker_enter(w, fd, w->sticky)) < 0)
                        return r;
                i++;
        }

        if (!w->controlled && todo[i]) {
                /* From here on another user can swap anything: the directories left go to one
                 * descriptor-relative call with no links, then the directory holding the leaf is judged
                 * (another user's directory below the first one would be a second controller). */
                size_t n = strv_length(todo);
                char *save = todo[n - 1];

                todo[n - 1] = NULL;
                rest = strv_join(todo + i, "/");
                todo[n - 1] = save;
                if (!rest)
                        return -ENOMEM;
                if (*rest) {
                        fd = safedir_openat(w->fd, rest, O_PATH | O_DIRECTORY, 0);
                        if (fd < 0)
                                return fd;
                        if ((r = walker_enter(w, fd, false)) < 0)
                                return r;
                }
                i = n - 1;
                if (!(how & WALK_PARENT))
                        return open_leaf(w, todo[i], flags, mode, nonblock, ret_fd);
        }

        if (how & WALK_PARENT) {
                if (!todo[i])
                        return -EINVAL;
                fd = openat(w->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                *ret_name = strdup(todo[i]);
                if (!*ret_name) {
                        close(fd);
                        return -ENOMEM;
                }
                *ret_fd = fd;
                return 0;
        }
        if (!todo[i]) {
                /* The path ended at a directory already entered ("/", or links resolving to one). */
                fd = openat(w->fd, ".", (flags & ~(O_CREAT | O_EXCL | O_TRUNC)) | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                *ret_fd = fd;
                return 0;
        }
        return open_leaf(w, todo[i], flags, mode, nonblock, ret_fd);
}

static int open_path(const char *abs, unsigned how, int flags, mode_t mode, int *ret_fd, uid_t *ret_owner)
{
        walker w = { .fd = -EBADF };
        int fd = -EBADF, r;

        r = walk(abs, how, flags, mode, &fd, NULL, &w);
        walker_done(&w);
        if (r < 0)
                return log_debug_errno(r, "safedir: %s: %s", abs, strerror(-r));
        *ret_fd = fd;
        if (ret_owner)
                *ret_owner = w.owner;
        return 0;
}

int safedir_open_path(const char *abs, int flags, mode_t mode, int *ret_fd, uid_t *ret_owner)
{
        return open_path(abs, 0, flags, mode, ret_fd, ret_owner);
}

int safedir_open_path_nolinks(const char *abs, int flags, mode_t mode, int *ret_fd, uid_t *ret_owner)
{
        return open_path(abs, WALK_NO_LINKS, flags, mode, ret_fd, ret_owner);
}

static int open_parent(const char *abs, unsigned how, int *ret_dirfd, char **ret_name, uid_t *ret_owner)
{
        walker w = { .fd = -EBADF };
        char *name = NULL;
        int fd = -EBADF, r;

        r = walk(abs, WALK_PARENT | how, O_RDONLY | O_DIRECTORY, 0, &fd, &name, &w);
        walker_done(&w);
        if (r < 0)
                return log_debug_errno(r, "safedir: directory of %s: %s", abs, strerror(-r));
        *ret_dirfd = fd;
        *ret_name = name;
        if (ret_owner)
                *ret_owner = w.owner;
        return 0;
}

int safedir_open_parent(const char *abs, int *ret_dirfd, char **ret_name, uid_t *ret_owner)
{
        return open_parent(abs, 0, ret_dirfd, ret_name, ret_owner);
}

int safedir_open_parent_nolinks(const char *abs, int *ret_dirfd, char **ret_name, uid_t *ret_owner)
{
        return open_parent(abs, WALK_NO_LINKS, ret_dirfd, ret_name, ret_owner);
}

int safedir_open_trusted(const char *abs, bool create, int *ret_fd)
{
        walker w = { .fd = -EBADF };
        int fd = -EBADF, r;

        r = walk(abs, create ? WALK_MKDIR : 0, O_RDONLY | O_DIRECTORY, 0, &fd, NULL, &w);
        if (r >= 0 && (!w.controlled || w.sticky || w.owner != SAFEDIR_NOBODY)) {
                close(fd);
                r = -EPERM;
        }
        walker_done(&w);
        if (r < 0)
                return log_debug_errno(r, "safedir: %s is not root's alone: %s", abs, strerror(-r));
        *ret_fd = fd;
        return 0;
}

const char *safedir_strerror(int r)
{
        switch (r) {
        case -ELOOP:
                return "a symbolic link in a directory another user can change (root does not follow those: name the real path)";
        case -EMLINK:
                return "a file with a second name (a hard link) in a directory another user can change";
        case -EPERM:
                return "changeable by several users (a group- or world-writable directory, or directories of two users)";
        case -EBADFD:
                return "not a regular file (a FIFO, socket or device)";
        case -EXDEV:
                return "a mount point in a directory another user can change";
        default:
                return strerror(-r);
        }
}

char *safedir_fd_path(int fd)
{
        char p[64], buf[4096];
        ssize_t n;

        snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
        n = readlink(p, buf, sizeof(buf) - 1);
        if (n < 0)
                return NULL;
        buf[n] = 0;
        return strdup(buf);
}
