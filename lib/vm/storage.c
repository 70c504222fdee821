/* Disks and snapshots: qemu-img images, ZFS datasets and zvols, and the facts of the filesystem under them.
 */
#include "vfioctl/storage.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "exec-util.h"
#include "log.h"
#include "parse-util.h"
#include "safedir.h"
#include "strv.h"
#include "vfioctl/host.h"

static const char *const format_names[_VFIO_DISK_FORMAT_MAX] = {
        [VFIO_DISK_RAW] = "raw",
        [VFIO_DISK_QCOW2] = "qcow2",
        [VFIO_DISK_ZVOL] = "zvol",
};

const char *vfio_disk_format_to_string(vfio_disk_format f)
{
        return f >= 0 && f < _VFIO_DISK_FORMAT_MAX ? format_names[f] : NULL;
}

int vfio_disk_format_from_string(const char *s, vfio_disk_format *ret)
{
        assert(ret);

        for (int i = 0; s && i < _VFIO_DISK_FORMAT_MAX; i++)
                if (strcmp(s, format_names[i]) == 0) {
                        *ret = (vfio_disk_format)i;
                        return 0;
                }
        return -EINVAL;
}

/* Runs a helper; on a non-zero exit returns -EIO with its first stderr (else stdout) line in *ret_error. */
static int run_helper(char *const *argv, const exec_opts *o, char **ret_out, char **ret_error)
{
        exec_result res = {};
        int r;

        r = exec_run(argv, o, &res);
        if (r < 0) {
                if (ret_error && r == -ENOENT)
                        (void)asprintf(ret_error, "%s is not installed", argv[0]);
                return r;
        }
        if (res.status != 0) {
                if (ret_error)
                        *ret_error = exec_first_line(*res.err ? res.err : res.out);
                log_debug("%s failed (%d): %s", argv[0], res.status, res.err);
                exec_result_done(&res);
                return -EIO;
        }
        if (ret_out)
                *ret_out = TAKE_PTR(res.out);
        exec_result_done(&res);
        return 0;
}

/* qemu-img with the identity the caller chose (vfio_storage_tools.run_as). */
static int run_qemu_img(const vfio_storage_tools *t, char *const *argv, const exec_opts *o, char **ret_out,
                        char **ret_error)
{
        exec_opts x = o ? *o : (exec_opts){};
        int r;

        if (t->run_as) {
                x.drop = true;
                x.uid = t->run_uid;
                x.gid = t->run_gid;
                x.groups = t->run_groups;
                x.n_groups = t->n_run_groups;
        }
        r = run_helper(argv, &x, ret_out, ret_error);
        if (r == -EIO && t->run_as && ret_error && *ret_error && !**ret_error) {
                free(*ret_error);
                (void)asprintf(ret_error, "%s could not become uid %u", argv[0], (unsigned)t->run_uid);
        }
        return r;
}

/* Root may run qemu-img on a path another user controls only as that user. */
static int may_run_on(const vfio_storage_tools *t, uid_t owner)
{
        if (owner == VFIO_STORAGE_NOBODY || geteuid() != 0)
                return 0;
        if (t->run_as && t->run_uid == owner)
                return 0;
        return log_debug_errno(-EPERM, "qemu-img would run as root on a path uid %u controls",
                               (unsigned)owner);
}

int vfio_storage_path_owner(const char *path, bool parent, uid_t *ret)
{
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *name = NULL, *abs = NULL;
        uid_t owner = VFIO_STORAGE_NOBODY;
        int r;

        if (path[0] != '/') {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);

                if (!cwd || asprintf(&abs, "%s/%s", cwd, path) < 0)
                        return -ENOMEM;
                path = abs;
        }
        r = parent ? safedir_open_parent(path, &fd, &name, &owner)
                   : safedir_open_path(path, O_RDONLY | O_NOCTTY, 0, &fd, &owner);
        if (r < 0)
                return r;
        *ret = owner;
        return 0;
}

/* --- backend facts --- */

static char *parent_dir(const char *path)
{
        _cleanup_free_ char *copy = strdup(path);

        if (!copy)
                return NULL;
        return strdup(dirname(copy));
}

int vfio_storage_supports_odirect(const char *path)
{
        _cleanup_free_ char *probe = NULL, *name = NULL;
        _cleanup_close_ int fd = -EBADF, dirfd = -EBADF;
        struct stat st;
        void *block = NULL;
        ssize_t n;
        int r = 1;

        /* 4096 covers every logical block size in use; O_DIRECT needs buffer, offset and length aligned. */
        if (posix_memalign(&block, 4096, 4096) != 0)
                return -ENOMEM;
        memset(block, 0, 4096);
        /* Opened like everything root touches in another user's directory: no link followed, and a FIFO
         * put at the disk's name cannot hang the probe (basic/safedir.h). */
        r = safedir_open_path(path, O_RDONLY | O_NOCTTY, 0, &fd, NULL);
        if (r >= 0 && fstat(fd, &st) < 0)
                r = -errno;
        if (r >= 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
                int fl = fcntl(fd, F_GETFL);

                /* F_SETFL O_DIRECT fails with EINVAL where the filesystem has no direct I/O, as open does.
                 */
                if (fl < 0 || fcntl(fd, F_SETFL, fl | O_DIRECT) < 0)
                        r = errno == EINVAL ? 0 : -errno;
                else
                        r = pread(fd, block, 4096, 0) < 0 ? (errno == EINVAL ? 0 : -errno) : 1;
                free(block);
                return r;
        }
        if (r >= 0 && S_ISDIR(st.st_mode)) {
                dirfd = TAKE_FD(fd);
                r = 0;
        } else if (r >= 0) {
                free(block);
                return -EBADFD;
        } else if (r == -ENOENT)
                r = safedir_open_parent(path, &dirfd, &name, NULL);
        if (r < 0) {
                free(block);
                return r;
        }
        if (asprintf(&probe, ".vfioctl-odirect-%d", (int)getpid()) < 0) {
                free(block);
                return -ENOMEM;
        }
        fd = safedir_openat(dirfd, probe, O_RDWR | O_CREAT | O_EXCL | O_DIRECT, 0600);
        if (fd < 0) {
                r = fd == -EINVAL ? 0 : fd;
                free(block);
                return r;
        }
        /* Some filesystems accept the flag at open and fail the I/O (FUSE without direct_io support). */
        r = 1;
        n = pwrite(fd, block, 4096, 0);
        if (n < 0)
                r = errno == EINVAL ? 0 : -errno;
        (void)safedir_unlink(dirfd, probe, 0);
        free(block);
        log_debug("O_DIRECT in %s: %s", path, r > 0 ? "yes" : r == 0 ? "no" : strerror(-r));
        return r;
}

int vfio_storage_free_bytes(const char *path, uint64_t *ret)
{
        _cleanup_free_ char *dir = NULL;
        struct statvfs sv;

        assert(ret);

        if (statvfs(path, &sv) < 0) {
                if (errno != ENOENT)
                        return -errno;
                dir = parent_dir(path);
                if (!dir)
                        return -ENOMEM;
                if (statvfs(dir, &sv) < 0)
                        return -errno;
        }
        *ret = (uint64_t)sv.f_bavail * sv.f_frsize;
        return 0;
}

int vfio_storage_probe_format(const char *path, vfio_disk_format *ret)
{
        _cleanup_close_ int fd = -EBADF;
        unsigned char magic[4];
        struct stat st;
        ssize_t n;

        assert(ret);

        if (strncmp(path, "/dev/zvol/", 10) == 0) {
                *ret = VFIO_DISK_ZVOL;
                return 0;
        }
        {
                _cleanup_free_ char *abs = NULL;
                int r;

                if (path[0] != '/') {
                        _cleanup_free_ char *cwd = getcwd(NULL, 0);

                        if (!cwd || asprintf(&abs, "%s/%s", cwd, path) < 0)
                                return -ENOMEM;
                        path = abs;
                }
                r = safedir_open_path(path, O_RDONLY | O_NOCTTY, 0, &fd, NULL);
                if (r < 0)
                        return r;
        }
        if (fstat(fd, &st) < 0)
                return -errno;
        /* A FIFO or a socket is no image; reading one could block forever. */
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
                return S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD;
        n = pread(fd, magic, sizeof(magic), 0);
        if (n < 0)
                return -errno;
        /* qcow2.txt: "magic: QCOW magic string ("QFI\xfb")". */
        *ret = n == 4 && memcmp(magic, "QFI\xfb", 4) == 0 ? VFIO_DISK_QCOW2 : VFIO_DISK_RAW;
        return 0;
}

/* The mounted ZFS filesystem on device dev: 1 and *ret, 0 when none is. */
static int zfs_dataset_of_dev(const vfio_storage_tools *t, dev_t dev, char **ret)
{
        _cleanup_free_ char *out = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        int r;

        if (!t->zfs || access(t->zfs, X_OK) < 0)
                return 0;
        r = run_helper((char *const[]){ (char *)t->zfs, (char *)"list", (char *)"-H", (char *)"-o",
                                        (char *)"name,mountpoint", (char *)"-t", (char *)"filesystem",
                                        NULL },
                       NULL, &out, NULL);
        if (r < 0)
                return r == -EIO ? 0 : r; /* no daemon (zfs-fuse stopped) or no pool: not on ZFS */
        r = strv_split(out, "\n", &lines);
        if (r < 0)
                return r;
        STRV_FOREACH(l, lines) {
                char *tab = strchr(*l, '\t');
                struct stat mst;

                if (!tab || tab[1] != '/')
                        continue;
                *tab = 0;
                /* Each mounted dataset is its own filesystem: same st_dev means the file lives there. */
                if (stat(tab + 1, &mst) == 0 && mst.st_dev == dev) {
                        char *ds = strdup(*l);

                        if (!ds)
                                return -ENOMEM;
                        *ret = ds;
                        return 1;
                }
        }
        return 0;
}

int vfio_storage_zfs_dataset_of(const vfio_storage_tools *t, const char *path, char **ret)
{
        _cleanup_free_ char *dir = NULL;
        struct stat st;

        assert(t);
        assert(ret);

        if (strncmp(path, "/dev/zvol/", 10) == 0) {
                char *ds = strdup(path + 10);

                if (!ds)
                        return -ENOMEM;
                *ret = ds;
                return 1;
        }
        if (!t->zfs || access(t->zfs, X_OK) < 0)
                return 0;
        if (stat(path, &st) < 0) {
                if (errno != ENOENT)
                        return -errno;
                dir = parent_dir(path);
                if (!dir)
                        return -ENOMEM;
                if (stat(dir, &st) < 0)
                        return -errno;
        }
        return zfs_dataset_of_dev(t, st.st_dev, ret);
}

static int zfs_get(const vfio_storage_tools *t, const char *prop, const char *dataset, bool parsable,
                   char **ret)
{
        _cleanup_free_ char *out = NULL, *err = NULL;
        char *nl;
        int r;

        if (!t->zfs)
                return -ENOENT;
        r = run_helper((char *const[]){ (char *)t->zfs, (char *)"get", (char *)(parsable ? "-Hp" : "-H"),
                                        (char *)"-o", (char *)"value", (char *)prop, (char *)dataset, NULL },
                       NULL, &out, &err);
        if (r == -EIO && err && strstr(err, "does not exist"))
                return -ENOENT;
        if (r < 0)
                return r;
        nl = strchr(out, '\n');
        if (nl)
                *nl = 0;
        *ret = TAKE_PTR(out);
        return 0;
}

int vfio_storage_zfs_available(const vfio_storage_tools *t, const char *dataset, uint64_t *ret)
{
        _cleanup_free_ char *v = NULL;
        int r;

        r = zfs_get(t, "available", dataset, true, &v);
        if (r < 0)
                return r;
        return parse_uint(v, 10, UINT64_MAX, ret);
}

int vfio_storage_zfs_mountpoint(const vfio_storage_tools *t, const char *dataset, char **ret)
{
        return zfs_get(t, "mountpoint", dataset, false, ret);
}

int vfio_storage_zpool_health(const vfio_storage_tools *t, const char *pool, char **ret)
{
        _cleanup_free_ char *out = NULL, *name = NULL;
        char *p;
        int r;

        assert(t);
        assert(ret);

        if (!t->zpool)
                return -ENOENT;
        name = strndup(pool, strcspn(pool, "/@"));
        if (!name)
                return -ENOMEM;
        r = run_helper((char *const[]){ (char *)t->zpool, (char *)"list", (char *)"-H", (char *)"-o",
                                        (char *)"health", name, NULL },
                       NULL, &out, NULL);
        if (r < 0)
                return r == -EIO ? -ENOENT : r;
        p = out + strcspn(out, "\n");
        *p = 0;
        *ret = TAKE_PTR(out);
        return 0;
}

bool vfio_storage_zfs_is_kernel(const vfio_host *h)
{
        return vfio_host_exists(h, "sys/module/zfs") > 0;
}

/* --- progress --- */

int vfio_storage_parse_progress(const char *line, double *ret)
{
        /* qemu-img.c / util/qemu-progress.c: printf("    (%3.2f/100%%)\r", current). */
        const char *p = line, *slash;
        char num[16];
        char *end;
        double v;
        size_t n;

        assert(ret);

        while (*p == ' ')
                p++;
        if (*p != '(')
                return -EINVAL;
        p++;
        slash = strchr(p, '/');
        if (!slash || strcmp(slash, "/100%)") != 0)
                return -EINVAL;
        n = (size_t)(slash - p);
        if (n == 0 || n >= sizeof(num))
                return -EINVAL;
        memcpy(num, p, n);
        num[n] = 0;
        for (size_t i = 0; i < n; i++)
                if (!isdigit((unsigned char)num[i]) && num[i] != '.')
                        return -EINVAL;
        errno = 0;
        v = strtod(num, &end);
        if (errno || *end || v < 0 || v > 100)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int progress_line(const char *chunk, void *userdata)
{
        const vfio_storage_tools *t = userdata;
        double pct;

        if (t->progress && vfio_storage_parse_progress(chunk, &pct) >= 0)
                return t->progress(pct, t->userdata);
        return 0;
}

/* --- creating disks --- */

typedef struct grow_watch {
        const vfio_storage_tools *t;
        int dirfd;
        const char *name;
        uint64_t size;
} grow_watch;

static int grow_tick(void *userdata)
{
        grow_watch *g = userdata;
        struct stat st;

        /* qemu-img create has no -p: measure preallocation by the blocks the file holds so far. */
        if (g->t->progress && g->size > 0 && fstatat(g->dirfd, g->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                double pct = 100.0 * (double)st.st_blocks * 512.0 / (double)g->size;

                return g->t->progress(pct > 100 ? 100 : pct, g->t->userdata);
        }
        return 0;
}

/*
 * Where a new image goes: the directory holding path, opened once (basic/safedir.h), and two names in it,
 * the final one and ".NAME.vfioctl-partial.RANDOM" that qemu-img writes first (same directory, so the
 * rename is atomic): a kill -9 midway leaves a hidden partial file, never a truncated image under the
 * real name. Root may only go on as the user who controls that directory (may_run_on).
 */
typedef struct new_image {
        int dirfd;
        char *name;         /* path's last component */
        char *partial;      /* the temporary name, in dirfd */
        char *partial_path; /* the same as a path, for qemu-img */
} new_image;

static void new_image_done(new_image *n)
{
        if (n->dirfd >= 0)
                close(n->dirfd);
        free(n->name);
        free(n->partial);
        free(n->partial_path);
        *n = (new_image){ .dirfd = -EBADF };
}

static int new_image_open(const vfio_storage_tools *t, const char *path, new_image *ret)
{
        _cleanup_free_ char *abs = NULL;
        new_image n = { .dirfd = -EBADF };
        const char *slash;
        uid_t owner = VFIO_STORAGE_NOBODY;
        struct stat st;
        unsigned rnd;
        int r;

        if (path[0] != '/') {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);

                if (!cwd || asprintf(&abs, "%s/%s", cwd, path) < 0)
                        return -ENOMEM;
                path = abs;
        }
        r = safedir_open_parent(path, &n.dirfd, &n.name, &owner);
        if (r < 0)
                return r;
        if ((r = may_run_on(t, owner)) < 0 ||
            (fstatat(n.dirfd, n.name, &st, AT_SYMLINK_NOFOLLOW) == 0 && (r = -EEXIST))) {
                new_image_done(&n);
                return r;
        }
        slash = strrchr(path, '/');
        if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd) ||
            asprintf(&n.partial, ".%s.vfioctl-partial.%08x", n.name, rnd) < 0 ||
            asprintf(&n.partial_path, "%.*s%s", (int)(slash - path + 1), path, n.partial) < 0) {
                n.partial = n.partial_path = NULL;
                new_image_done(&n);
                return -ENOMEM;
        }
        *ret = n;
        return 0;
}

/* Gives the finished file its name, unless something took the name meanwhile (-EEXIST, file kept). */
static int new_image_publish(new_image *n, int r)
{
        if (r >= 0)
                r = safedir_rename_noreplace(n->dirfd, n->partial, n->name);
        if (r < 0)
                (void)safedir_unlink(n->dirfd, n->partial, 0);
        return r;
}

int vfio_storage_create_image(const vfio_storage_tools *t, const char *path, vfio_disk_format format,
                              uint64_t size, bool prealloc, char **ret_error)
{
        new_image n = { .dirfd = -EBADF };
        grow_watch g = { .t = t, .size = size };
        exec_opts o = { .on_tick = grow_tick, .userdata = &g, .tick_ms = 250 };
        char sz[32];
        int r;

        assert(t);

        if (format != VFIO_DISK_RAW && format != VFIO_DISK_QCOW2)
                return -EINVAL;
        if ((r = new_image_open(t, path, &n)) < 0)
                return r;
        g.dirfd = n.dirfd;
        g.name = n.partial;
        snprintf(sz, sizeof(sz), "%llu", (unsigned long long)size);
        /* preallocation=full writes every block (qemu-img(1)): works on every filesystem, unlike falloc on
         * zfs-fuse, and its progress can be measured. */
        r = run_qemu_img(t,
                         (char *const[]){ (char *)t->qemu_img, (char *)"create", (char *)"-q", (char *)"-f",
                                          (char *)vfio_disk_format_to_string(format), (char *)"-o",
                                          (char *)(prealloc ? "preallocation=full" : "preallocation=off"),
                                          n.partial_path, sz, NULL },
                         prealloc ? &o : NULL, NULL, ret_error);
        r = new_image_publish(&n, r);
        new_image_done(&n);
        if (r >= 0 && prealloc && t->progress)
                t->progress(100, t->userdata);
        return r;
}

int vfio_storage_zfs_create_dataset(const vfio_storage_tools *t, const char *dataset, char **ret_mountpoint,
                                    char **ret_error)
{
        int r;

        assert(t);

        r = run_helper(
                (char *const[]){ (char *)t->zfs, (char *)"create", (char *)"-p", (char *)dataset, NULL },
                NULL, NULL, ret_error);
        if (r < 0)
                return r;
        return vfio_storage_zfs_mountpoint(t, dataset, ret_mountpoint);
}

int vfio_storage_zfs_destroy(const vfio_storage_tools *t, const char *dataset, char **ret_error)
{
        assert(t);

        return run_helper((char *const[]){ (char *)t->zfs, (char *)"destroy", (char *)dataset, NULL }, NULL,
                          NULL, ret_error);
}

int vfio_storage_zfs_create_zvol(const vfio_storage_tools *t, const char *dataset, uint64_t size,
                                 bool sparse, char **ret_error)
{
        char sz[32];

        assert(t);

        snprintf(sz, sizeof(sz), "%llu", (unsigned long long)size);
        /* zfs(8): -V creates a volume, -s makes it sparse (no refreservation). */
        if (sparse)
                return run_helper((char *const[]){ (char *)t->zfs, (char *)"create", (char *)"-p",
                                                   (char *)"-s", (char *)"-V", sz, (char *)dataset, NULL },
                                  NULL, NULL, ret_error);
        return run_helper((char *const[]){ (char *)t->zfs, (char *)"create", (char *)"-p", (char *)"-V", sz,
                                           (char *)dataset, NULL },
                          NULL, NULL, ret_error);
}

int vfio_storage_measure(const vfio_storage_tools *t, const char *src, vfio_disk_format format,
                         uint64_t *ret_required, char **ret_error)
{
        _cleanup_free_ char *out = NULL;
        struct json_object *root, *v;
        uid_t so = VFIO_STORAGE_NOBODY;
        int64_t req;
        int r;

        assert(t);
        assert(ret_required);

        if ((r = vfio_storage_path_owner(src, false, &so)) < 0 || (r = may_run_on(t, so)) < 0)
                return r;
        r = run_qemu_img(t,
                         (char *const[]){ (char *)t->qemu_img, (char *)"measure", (char *)"--output=json",
                                          (char *)"-O", (char *)vfio_disk_format_to_string(format),
                                          (char *)src, NULL },
                         NULL, &out, ret_error);
        if (r < 0)
                return r;
        root = json_tokener_parse(out);
        if (!root)
                return -EBADMSG;
        /* qapi/block-core.json BlockMeasureInfo: "required" bytes for the data now in the source. */
        if (!json_object_object_get_ex(root, "required", &v) || !json_object_is_type(v, json_type_int) ||
            (req = json_object_get_int64(v)) < 0) {
                json_object_put(root);
                return -EBADMSG;
        }
        json_object_put(root);
        *ret_required = (uint64_t)req;
        return 0;
}

int vfio_storage_convert(const vfio_storage_tools *t, const char *src, const char *dst,
                         vfio_disk_format format, char **ret_error)
{
        exec_opts o = { .on_stdout = progress_line, .userdata = (void *)t };
        new_image n = { .dirfd = -EBADF };
        int r;

        uid_t so = VFIO_STORAGE_NOBODY;

        assert(t);

        if (format != VFIO_DISK_RAW && format != VFIO_DISK_QCOW2)
                return -EINVAL;
        /* qemu-img reads src too: its controller must be the one qemu-img runs as. */
        if ((r = vfio_storage_path_owner(src, false, &so)) < 0 || (r = may_run_on(t, so)) < 0)
                return r;
        if ((r = new_image_open(t, dst, &n)) < 0)
                return r;
        r = run_qemu_img(t,
                         (char *const[]){ (char *)t->qemu_img, (char *)"convert", (char *)"-p", (char *)"-O",
                                          (char *)vfio_disk_format_to_string(format), (char *)src,
                                          n.partial_path, NULL },
                         &o, NULL, ret_error);
        r = new_image_publish(&n, r);
        new_image_done(&n);
        return r;
}

/* --- snapshots --- */

bool vfio_snapshot_name_valid(const char *name)
{
        size_t n = name ? strlen(name) : 0;

        if (n == 0 || n > 64 || name[0] == '-' || name[0] == '.')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)name[i]) && !strchr("_.:-", name[i]))
                        return false;
        return true;
}

vfio_snap_plan *vfio_snap_plan_free(vfio_snap_plan *p)
{
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_disks; i++) {
                free(p->disks[i].path);
                free(p->disks[i].dataset);
        }
        free(p->disks);
        free(p->vars.path);
        free(p->vars.dataset);
        strv_free(p->datasets);
        free(p);
        return NULL;
}

/*
 * One disk or the vars file, opened once with basic/safedir.h's rules: the descriptor decides the format
 * and the dataset (st_dev), so what is judged is what was opened. *owner collects the user who controls
 * the parts (-EPERM for a second one).
 */
static int classify(const vfio_storage_tools *t, const char *path, bool is_vars, vfio_snap_target *ret,
                    uid_t *owner)
{
        _cleanup_free_ char *ds = NULL, *abs = NULL;
        _cleanup_close_ int fd = -EBADF;
        unsigned char magic[4];
        uid_t o = VFIO_STORAGE_NOBODY;
        struct stat st;
        ssize_t n;
        int r;

        /* /dev/zvol/POOL/NAME is a symlink to /dev/zdN: keep the name that carries the dataset. */
        if (strncmp(path, "/dev/zvol/", 10) == 0 && !is_vars) {
                *ret = (vfio_snap_target){ .path = strdup(path),
                                           .backend = VFIO_SNAP_ZFS,
                                           .dataset = strdup(path + 10) };
                return ret->path && ret->dataset ? 0 : -ENOMEM;
        }
        if (path[0] != '/') {
                _cleanup_free_ char *cwd = getcwd(NULL, 0);

                if (!cwd || asprintf(&abs, "%s/%s", cwd, path) < 0)
                        return -ENOMEM;
        } else if (!(abs = strdup(path)))
                return -ENOMEM;
        r = safedir_open_path(abs, O_RDONLY | O_NOCTTY, 0, &fd, &o);
        if (r < 0)
                return r;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode) && !(S_ISBLK(st.st_mode) && !is_vars))
                return -EBADFD;
        if (o != VFIO_STORAGE_NOBODY) {
                if (*owner != VFIO_STORAGE_NOBODY && *owner != o)
                        return -EPERM;
                *owner = o;
        } else {
                /* not another user's directory: nobody but root (or the caller) controls abs; its links
                 * are resolved for qemu-img and zfs. */
                char *real = realpath(abs, NULL);

                if (!real)
                        return -errno;
                free(abs);
                abs = real;
        }
        r = zfs_dataset_of_dev(t, st.st_dev, &ds);
        if (r < 0)
                return r;
        if (r > 0) {
                *ret = (vfio_snap_target){ .path = TAKE_PTR(abs),
                                           .backend = VFIO_SNAP_ZFS,
                                           .dataset = TAKE_PTR(ds) };
                return 0;
        }
        if (is_vars) {
                *ret = (vfio_snap_target){ .path = TAKE_PTR(abs), .backend = VFIO_SNAP_NONE };
                return 0;
        }
        /* qcow2.txt: "magic: QCOW magic string ("QFI\xfb")". */
        n = pread(fd, magic, sizeof(magic), 0);
        if (n < 0)
                return -errno;
        *ret = (vfio_snap_target){ .path = TAKE_PTR(abs),
                                   .backend = n == 4 && memcmp(magic, "QFI\xfb", 4) == 0 ? VFIO_SNAP_QCOW2
                                                                                         : VFIO_SNAP_NONE };
        return 0;
}

int vfio_snapshot_plan(const vfio_storage_tools *t, char *const *disks, const char *vars,
                       vfio_snap_plan **ret, char **ret_refused)
{
        _cleanup_(vfio_snap_plan_freep) vfio_snap_plan *p = NULL;
        size_t n = strv_length(disks);
        int r;

        assert(ret);

        if (n == 0)
                return -EINVAL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->disks = calloc(n, sizeof(*p->disks));
        p->datasets = calloc(1, sizeof(char *));
        p->owner = VFIO_STORAGE_NOBODY;
        if (!p->disks || !p->datasets)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = classify(t, disks[i], false, &p->disks[i], &p->owner);
                if (r < 0) {
                        if (ret_refused)
                                *ret_refused = strdup(disks[i]);
                        return r;
                }
                p->n_disks++;
                if (p->disks[i].backend == VFIO_SNAP_NONE) {
                        if (ret_refused)
                                *ret_refused = strdup(p->disks[i].path);
                        return -EOPNOTSUPP;
                }
                if (p->disks[i].backend == VFIO_SNAP_ZFS &&
                    !strv_contains(p->datasets, p->disks[i].dataset) &&
                    (r = strv_extend(&p->datasets, p->disks[i].dataset)) < 0)
                        return r;
        }
        if (vars) {
                r = classify(t, vars, true, &p->vars, &p->owner);
                if (r < 0) {
                        if (ret_refused)
                                *ret_refused = strdup(vars);
                        return r;
                }
                if (p->vars.backend == VFIO_SNAP_ZFS && !strv_contains(p->datasets, p->vars.dataset) &&
                    (r = strv_extend(&p->datasets, p->vars.dataset)) < 0)
                        return r;
        }
        strv_sort(p->datasets);
        *ret = TAKE_PTR(p);
        return 0;
}

char *vfio_snapshot_vars_copy_path(const char *vars, const char *name)
{
        char *s;

        return asprintf(&s, "%s.snap-%s", vars, name) < 0 ? NULL : s;
}

/*
 * The vars file's directory is the VM user's: every step goes through its descriptor (basic/safedir.h).
 * Opens it and names the file and the copy of snapshot name in it.
 */
typedef struct vars_dir {
        int dirfd;
        char *name, *copy;
} vars_dir;

static void vars_dir_done(vars_dir *v)
{
        if (v->dirfd >= 0)
                close(v->dirfd);
        free(v->name);
        free(v->copy);
        *v = (vars_dir){ .dirfd = -EBADF };
}

static int vars_dir_open(const vfio_snap_plan *p, const char *snap, vars_dir *ret)
{
        vars_dir v = { .dirfd = -EBADF };
        int r;

        r = safedir_open_parent(p->vars.path, &v.dirfd, &v.name, NULL);
        if (r < 0)
                return r;
        if (asprintf(&v.copy, "%s.snap-%s", v.name, snap) < 0) {
                v.copy = NULL;
                vars_dir_done(&v);
                return -ENOMEM;
        }
        *ret = v;
        return 0;
}

static bool vars_has(const vars_dir *v, const char *entry)
{
        struct stat st;

        return fstatat(v->dirfd, entry, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/*
 * Copies entry from to entry to in the vars directory, whole or not at all. The source must be a regular
 * file with one name (a link, a FIFO, a hard link to a file only root may read are refused). The copy's
 * owner: the source's; with to_dir_owner, the directory's owner when root works in another user's
 * directory (a rolled-back vars file must stay writable by the VM).
 */
static int vars_copy(const vars_dir *v, const char *from, const char *to, bool to_dir_owner, unsigned flags)
{
        _cleanup_close_ int src = -EBADF;
        struct stat st, dst;
        uid_t uid = SAFEDIR_KEEP_UID;
        gid_t gid = SAFEDIR_KEEP_GID;

        src = safedir_open_regular(v->dirfd, from, O_RDONLY, &st);
        if (src < 0)
                return src;
        if (geteuid() == 0) {
                if (fstat(v->dirfd, &dst) < 0)
                        return -errno;
                uid = to_dir_owner && dst.st_uid != 0 ? dst.st_uid : st.st_uid;
                gid = to_dir_owner && dst.st_uid != 0 ? dst.st_gid : st.st_gid;
        }
        return safedir_write(v->dirfd, to, src, NULL, 0, st.st_mode & 0777, uid, gid, flags);
}

static int zfs_cmd(const vfio_storage_tools *t, char **ret_error, const char *verb, const char *flag,
                   const char *arg)
{
        if (flag)
                return run_helper(
                        (char *const[]){ (char *)t->zfs, (char *)verb, (char *)flag, (char *)arg, NULL },
                        NULL, NULL, ret_error);
        return run_helper((char *const[]){ (char *)t->zfs, (char *)verb, (char *)arg, NULL }, NULL, NULL,
                          ret_error);
}

static char *snap_of(const char *dataset, const char *name)
{
        char *s;

        return asprintf(&s, "%s@%s", dataset, name) < 0 ? NULL : s;
}

static int zfs_snapshot_exists(const vfio_storage_tools *t, const char *dataset, const char *name)
{
        _cleanup_free_ char *snap = snap_of(dataset, name), *err = NULL;
        int r;

        if (!snap)
                return -ENOMEM;
        r = run_helper((char *const[]){ (char *)t->zfs, (char *)"list", (char *)"-H", (char *)"-o",
                                        (char *)"name", (char *)"-t", (char *)"snapshot", snap, NULL },
                       NULL, NULL, &err);
        if (r == -EIO)
                return 0;
        return r < 0 ? r : 1;
}

/* The closest dataset that is a parent of (or equal to) all of them; NULL when they are in different pools.
 */
static char *common_parent(char *const *datasets)
{
        char *p = strdup(datasets[0]);

        if (!p)
                return NULL;
        STRV_FOREACH(d, datasets) {
                for (;;) {
                        size_t n = strlen(p);

                        if (strncmp(*d, p, n) == 0 && ((*d)[n] == 0 || (*d)[n] == '/'))
                                break;
                        char *slash = strrchr(p, '/');
                        if (!slash) {
                                free(p);
                                return NULL;
                        }
                        *slash = 0;
                }
        }
        return p;
}

static int zfs_snapshot_all(const vfio_storage_tools *t, char *const *datasets, const char *name,
                            char **ret_error)
{
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *parent = NULL, *snap = NULL, *err = NULL;
        int r;

        if (strv_extend(&argv, t->zfs) < 0 || strv_extend(&argv, "snapshot") < 0)
                return -ENOMEM;
        STRV_FOREACH(d, datasets) {
                char *s = snap_of(*d, name);

                if (!s || strv_push(&argv, s) < 0) {
                        free(s);
                        return -ENOMEM;
                }
        }
        /* zfs(8): "zfs snapshot ... snapshot..." takes several at once, "created atomically" (OpenZFS). */
        r = run_helper(argv, NULL, NULL, &err);
        if (r != -EIO || strv_length(datasets) == 1 || !err || !strstr(err, "too many arguments")) {
                if (r < 0 && ret_error)
                        *ret_error = TAKE_PTR(err);
                return r;
        }
        /* zfs-fuse (pool v23) takes one snapshot argument; -r of the common parent is atomic as well. */
        parent = common_parent(datasets);
        if (!parent) {
                if (ret_error)
                        *ret_error = strdup(
                                "the disks are on different pools and this zfs cannot snapshot several datasets in one command");
                return -EXDEV;
        }
        snap = snap_of(parent, name);
        if (!snap)
                return -ENOMEM;
        log_debug("zfs has no multi-snapshot form; zfs snapshot -r %s", snap);
        return zfs_cmd(t, ret_error, "snapshot", "-r", snap);
}

static int zfs_destroy_all(const vfio_storage_tools *t, char *const *datasets, const char *name,
                           char **ret_error)
{
        _cleanup_free_ char *parent = NULL;
        int r, k;

        /* A recursive snapshot of the common parent (zfs-fuse path) is destroyed recursively too. */
        parent = strv_length(datasets) > 1 ? common_parent(datasets) : NULL;
        if (parent && !strv_contains(datasets, parent) && zfs_snapshot_exists(t, parent, name) > 0) {
                _cleanup_free_ char *snap = snap_of(parent, name);

                return snap ? zfs_cmd(t, ret_error, "destroy", "-r", snap) : -ENOMEM;
        }
        r = 0;
        STRV_FOREACH(d, datasets) {
                _cleanup_free_ char *snap = snap_of(*d, name);

                if (!snap)
                        return -ENOMEM;
                if (zfs_snapshot_exists(t, *d, name) <= 0)
                        continue;
                k = zfs_cmd(t, r < 0 ? NULL : ret_error, "destroy", NULL, snap);
                if (k < 0 && r >= 0)
                        r = k;
        }
        return r;
}

static int qcow2_snapshot(const vfio_storage_tools *t, const char *op, const char *name, const char *path,
                          char **ret_error)
{
        /* qemu-img(1) snapshot: -c create, -a apply, -d delete; it takes the image's write lock, so it fails
         * ("Failed to get "write" lock") while a QEMU has the image open. */
        return run_qemu_img(t,
                            (char *const[]){ (char *)t->qemu_img, (char *)"snapshot", (char *)op,
                                             (char *)name, (char *)path, NULL },
                            NULL, NULL, ret_error);
}

static char *prefix_error(const char *what, char *err)
{
        char *s;

        if (asprintf(&s, "%s: %s", what, err ? err : "failed") < 0)
                s = NULL;
        free(err);
        return s;
}

static int list_qcow2(const vfio_storage_tools *t, const char *path, vfio_snap_info **a, size_t *n);

int vfio_snapshot_create(const vfio_storage_tools *t, const vfio_snap_plan *p, const char *name,
                         char **ret_error)
{
        _cleanup_(vars_dir_done) vars_dir v = { .dirfd = -EBADF };
        bool copy = false;
        size_t done = 0;
        bool zfs_done = false;
        char *err = NULL;
        int r;

        assert(p);

        if (!vfio_snapshot_name_valid(name))
                return -EINVAL;
        if ((r = may_run_on(t, p->owner)) < 0)
                return r;
        if (p->vars.path && p->vars.backend != VFIO_SNAP_ZFS) {
                r = vars_dir_open(p, name, &v);
                if (r < 0) {
                        if (ret_error)
                                (void)asprintf(ret_error, "%s: %s", p->vars.path, strerror(-r));
                        return r;
                }
                if (vars_has(&v, v.copy))
                        return -EEXIST;
                copy = true;
        }
        /* A create killed midway leaves the name on some disks (snapshot list shows it incomplete);
         * qemu-img would add a second snapshot with the same tag to those, so refuse: delete it first. */
        for (size_t i = 0; i < p->n_disks; i++) {
                vfio_snap_info *a = NULL;
                size_t n = 0;
                bool have = false;

                if (p->disks[i].backend != VFIO_SNAP_QCOW2)
                        continue;
                r = list_qcow2(t, p->disks[i].path, &a, &n);
                for (size_t k = 0; r >= 0 && k < n; k++)
                        have |= strcmp(a[k].name, name) == 0;
                vfio_snap_info_free_array(a, n);
                if (r < 0)
                        return r;
                if (have)
                        return -EEXIST;
        }
        if (p->datasets[0]) {
                r = zfs_snapshot_all(t, p->datasets, name, &err);
                if (r < 0) {
                        if (ret_error)
                                *ret_error = prefix_error("zfs snapshot", err);
                        else
                                free(err);
                        return r;
                }
                zfs_done = true;
        }
        for (; done < p->n_disks; done++) {
                if (p->disks[done].backend != VFIO_SNAP_QCOW2)
                        continue;
                r = qcow2_snapshot(t, "-c", name, p->disks[done].path, &err);
                if (r < 0) {
                        if (ret_error)
                                *ret_error = prefix_error(p->disks[done].path, err);
                        else
                                free(err);
                        goto undo;
                }
        }
        if (copy) {
                r = vars_copy(&v, v.name, v.copy, false, SAFEDIR_NOREPLACE);
                if (r < 0) {
                        if (ret_error)
                                (void)asprintf(ret_error, "copying %s to %s.snap-%s: %s", p->vars.path,
                                               p->vars.path, name, strerror(-r));
                        goto undo;
                }
        }
        return 0;
undo:
        /* Never leave half a snapshot: remove the parts taken so far. */
        for (size_t i = 0; i < done; i++)
                if (p->disks[i].backend == VFIO_SNAP_QCOW2)
                        (void)qcow2_snapshot(t, "-d", name, p->disks[i].path, NULL);
        if (zfs_done)
                (void)zfs_destroy_all(t, p->datasets, name, NULL);
        return r;
}

int vfio_snapshot_rollback(const vfio_storage_tools *t, const vfio_snap_plan *p, const char *name,
                           char **ret_error)
{
        _cleanup_(vars_dir_done) vars_dir v = { .dirfd = -EBADF };
        _cleanup_close_ int check = -EBADF;
        bool copy = false;
        char *err = NULL;
        int r;

        assert(p);

        if (!vfio_snapshot_name_valid(name))
                return -EINVAL;
        if ((r = may_run_on(t, p->owner)) < 0)
                return r;
        /* Check that every part exists before changing anything. */
        STRV_FOREACH(d, p->datasets) {
                r = zfs_snapshot_exists(t, *d, name);
                if (r <= 0) {
                        if (ret_error)
                                (void)asprintf(ret_error, "%s@%s does not exist", *d, name);
                        return r < 0 ? r : -ENOENT;
                }
        }
        if (p->vars.path && p->vars.backend != VFIO_SNAP_ZFS) {
                /* The copy must be there and be a plain file before any disk is rolled back. */
                r = vars_dir_open(p, name, &v);
                if (r >= 0 && (check = safedir_open_regular(v.dirfd, v.copy, O_RDONLY, NULL)) < 0)
                        r = check;
                if (r < 0) {
                        if (ret_error)
                                (void)asprintf(ret_error, "%s.snap-%s: %s", p->vars.path, name,
                                               strerror(-r));
                        return r;
                }
                copy = true;
        }
        STRV_FOREACH(d, p->datasets) {
                _cleanup_free_ char *snap = snap_of(*d, name);

                if (!snap)
                        return -ENOMEM;
                /* zfs(8) rollback -r: later snapshots must go, or ZFS refuses "more recent snapshots exist".
                 */
                r = zfs_cmd(t, &err, "rollback", "-r", snap);
                if (r < 0) {
                        if (ret_error)
                                *ret_error = prefix_error(snap, err);
                        else
                                free(err);
                        return r;
                }
        }
        for (size_t i = 0; i < p->n_disks; i++) {
                if (p->disks[i].backend != VFIO_SNAP_QCOW2)
                        continue;
                r = qcow2_snapshot(t, "-a", name, p->disks[i].path, &err);
                if (r < 0) {
                        if (ret_error)
                                *ret_error = prefix_error(p->disks[i].path, err);
                        else
                                free(err);
                        return r;
                }
        }
        if (copy) {
                r = vars_copy(&v, v.copy, v.name, true, 0);
                if (r < 0) {
                        if (ret_error)
                                (void)asprintf(ret_error, "restoring %s from %s.snap-%s: %s", p->vars.path,
                                               p->vars.path, name, strerror(-r));
                        return r;
                }
        }
        return 0;
}

int vfio_snapshot_delete(const vfio_storage_tools *t, const vfio_snap_plan *p, const char *name,
                         char **ret_error)
{
        char *err = NULL;
        int r = 0, k;

        assert(p);

        if (!vfio_snapshot_name_valid(name))
                return -EINVAL;
        if ((r = may_run_on(t, p->owner)) < 0)
                return r;
        if (p->datasets[0]) {
                k = zfs_destroy_all(t, p->datasets, name, &err);
                if (k < 0) {
                        r = k;
                        if (ret_error)
                                *ret_error = prefix_error("zfs destroy", TAKE_PTR(err));
                }
                free(err);
                err = NULL;
        }
        for (size_t i = 0; i < p->n_disks; i++) {
                if (p->disks[i].backend != VFIO_SNAP_QCOW2)
                        continue;
                k = qcow2_snapshot(t, "-d", name, p->disks[i].path, &err);
                if (k < 0 && r >= 0) {
                        r = k;
                        if (ret_error)
                                *ret_error = prefix_error(p->disks[i].path, TAKE_PTR(err));
                }
                free(err);
                err = NULL;
        }
        if (p->vars.path && p->vars.backend != VFIO_SNAP_ZFS) {
                _cleanup_(vars_dir_done) vars_dir v = { .dirfd = -EBADF };

                k = vars_dir_open(p, name, &v);
                if (k >= 0)
                        k = safedir_unlink(v.dirfd, v.copy, 0);
                if (k < 0 && r >= 0)
                        r = k;
        }
        return r;
}

void vfio_snap_info_free_array(vfio_snap_info *a, size_t n)
{
        for (size_t i = 0; a && i < n; i++)
                free(a[i].name);
        free(a);
}

static int info_add(vfio_snap_info **a, size_t *n, const char *name, int64_t created)
{
        vfio_snap_info *x;

        for (size_t i = 0; i < *n; i++)
                if (strcmp((*a)[i].name, name) == 0) {
                        (*a)[i].n_have++;
                        if ((*a)[i].created < 0)
                                (*a)[i].created = created;
                        return 0;
                }
        x = realloc(*a, (*n + 1) * sizeof(**a));
        if (!x)
                return -ENOMEM;
        *a = x;
        x[*n] = (vfio_snap_info){ .name = strdup(name), .n_have = 1, .created = created };
        if (!x[*n].name)
                return -ENOMEM;
        (*n)++;
        return 0;
}

static int list_zfs(const vfio_storage_tools *t, const char *dataset, vfio_snap_info **a, size_t *n)
{
        _cleanup_free_ char *out = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        size_t dl = strlen(dataset);
        int r;

        /* -d 1 is missing in zfs-fuse; -r and a name filter work everywhere. */
        r = run_helper((char *const[]){ (char *)t->zfs, (char *)"list", (char *)"-H", (char *)"-r",
                                        (char *)"-t", (char *)"snapshot", (char *)"-o", (char *)"name",
                                        (char *)dataset, NULL },
                       NULL, &out, NULL);
        if (r < 0)
                return r;
        r = strv_split(out, "\n", &lines);
        if (r < 0)
                return r;
        STRV_FOREACH(l, lines) {
                _cleanup_free_ char *v = NULL;
                uint64_t created;

                if (strncmp(*l, dataset, dl) != 0 || (*l)[dl] != '@')
                        continue;
                if (zfs_get(t, "creation", *l, true, &v) < 0 || parse_uint(v, 10, INT64_MAX, &created) < 0)
                        created = (uint64_t)-1;
                r = info_add(a, n, *l + dl + 1, created == (uint64_t)-1 ? -1 : (int64_t)created);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int list_qcow2(const vfio_storage_tools *t, const char *path, vfio_snap_info **a, size_t *n)
{
        _cleanup_free_ char *out = NULL;
        struct json_object *root, *snaps;
        int r = 0;

        /* -U: read the snapshot table even while a QEMU holds the image (listing changes nothing). */
        r = run_qemu_img(t,
                         (char *const[]){ (char *)t->qemu_img, (char *)"info", (char *)"-U",
                                          (char *)"--output=json", (char *)path, NULL },
                         NULL, &out, NULL);
        if (r < 0)
                return r;
        root = json_tokener_parse(out);
        if (!root)
                return -EBADMSG;
        if (json_object_object_get_ex(root, "snapshots", &snaps) &&
            json_object_is_type(snaps, json_type_array))
                for (size_t i = 0; r >= 0 && i < json_object_array_length(snaps); i++) {
                        struct json_object *s = json_object_array_get_idx(snaps, i), *nm, *ds;

                        if (!json_object_object_get_ex(s, "name", &nm))
                                continue;
                        r = info_add(a, n, json_object_get_string(nm),
                                     json_object_object_get_ex(s, "date-sec", &ds)
                                             ? json_object_get_int64(ds)
                                             : -1);
                }
        json_object_put(root);
        return r;
}

static int cmp_info(const void *a, const void *b)
{
        return strcmp(((const vfio_snap_info *)a)->name, ((const vfio_snap_info *)b)->name);
}

int vfio_snapshot_list(const vfio_storage_tools *t, const vfio_snap_plan *p, vfio_snap_info **ret,
                       size_t *ret_n)
{
        vfio_snap_info *a = NULL;
        size_t n = 0, total = 0;
        int r = 0;

        assert(p);
        assert(ret);
        assert(ret_n);

        if ((r = may_run_on(t, p->owner)) < 0)
                return r;
        /* A snapshot "has" one part per dataset and per qcow2 disk (+ the vars copy). */
        STRV_FOREACH(d, p->datasets) {
                total++;
                r = list_zfs(t, *d, &a, &n);
                if (r < 0)
                        goto fail;
        }
        for (size_t i = 0; i < p->n_disks; i++) {
                if (p->disks[i].backend != VFIO_SNAP_QCOW2)
                        continue;
                total++;
                r = list_qcow2(t, p->disks[i].path, &a, &n);
                if (r < 0)
                        goto fail;
        }
        if (p->vars.path && p->vars.backend != VFIO_SNAP_ZFS) {
                total++;
                for (size_t i = 0; i < n; i++) {
                        _cleanup_(vars_dir_done) vars_dir v = { .dirfd = -EBADF };

                        if (vars_dir_open(p, a[i].name, &v) >= 0 && vars_has(&v, v.copy))
                                a[i].n_have++;
                }
        }
        for (size_t i = 0; i < n; i++)
                a[i].n_total = total;
        if (n > 0)
                qsort(a, n, sizeof(*a), cmp_info);
        *ret = a;
        *ret_n = n;
        return 0;
fail:
        vfio_snap_info_free_array(a, n);
        return r;
}

int vfio_storage_vm_running(pid_t pid, const char *state_dir)
{
        /* Hook for the runtime state dir (launch/runstate, not merged yet): its pid file will be read here.
         */
        (void)state_dir;
        if (pid <= 0)
                return 0;
        if (kill(pid, 0) == 0 || errno == EPERM)
                return 1;
        return errno == ESRCH ? 0 : -errno;
}
