/* vfioctl disk: create a VM disk (qemu-img image, ZFS dataset holding one, or a zvol), import one, show
 * facts. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <json-c/json.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "parse-util.h"
#include "safedir.h"
#include "tool.h"
#include "vfioctl/storage.h"
#include "vfioctl/vmpaths.h"

static uint64_t arg_size = 120ULL << 30;
static vfio_disk_format arg_format = VFIO_DISK_QCOW2;
static bool arg_format_set;
static const char *arg_on;
static bool arg_prealloc;
static bool arg_dry_run;

static int progress_bar(double pct, void *userdata)
{
        const char *label = userdata;
        int width = 40, filled = (int)(pct * width / 100.0);

        fprintf(stderr, "\r%s [", label);
        for (int i = 0; i < width; i++)
                fputc(i < filled ? '#' : '.', stderr);
        fprintf(stderr, "] %5.1f%%", pct);
        if (pct >= 100)
                fputc('\n', stderr);
        fflush(stderr);
        return 0;
}

void tool_storage_tools(vfio_storage_tools *t, const char *progress_label)
{
        /* By absolute path, as Debian ships them (qemu-utils, zfsutils-linux / zfs-fuse). */
        *t = (vfio_storage_tools){
                .qemu_img = "/usr/bin/qemu-img",
                .zfs = "/usr/sbin/zfs",
                .zpool = "/usr/sbin/zpool",
        };
        /* A progress bar only where a person watches. */
        if (progress_label && isatty(STDERR_FILENO) && !arg_json) {
                t->progress = progress_bar;
                t->userdata = (void *)progress_label;
        }
}

int tool_storage_run_as(vfio_storage_tools *t, const char *path, uid_t owner)
{
        static gid_t groups[NGROUPS_MAX];
        int n = NGROUPS_MAX;
        struct passwd *pw;

        if (geteuid() != 0 || owner == VFIO_STORAGE_NOBODY)
                return 0;
        /* qemu-img follows what that user may change: it gets that user's rights, never root's. */
        pw = getpwuid(owner);
        t->run_as = true;
        t->run_uid = owner;
        t->run_gid = pw ? pw->pw_gid : (gid_t)owner;
        /* That user's groups too, as a login would have them: a disk may be theirs through one (kvm). */
        if (pw && getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) >= 0) {
                t->run_groups = groups;
                t->n_run_groups = (size_t)n;
        }
        fprintf(stderr, "note: %s is controlled by user %s: qemu-img runs as that user\n", path,
                pw ? pw->pw_name : "(uid without a name)");
        return 0;
}

const char *tool_path_refusal(int r)
{
        return safedir_strerror(r);
}

static void human(uint64_t b, char buf[static 32])
{
        static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
        double v = (double)b;
        int i = 0;

        while (v >= 1024 && i < 4) {
                v /= 1024;
                i++;
        }
        snprintf(buf, 32, i == 0 ? "%.0f %s" : "%.1f %s", v, u[i]);
}

/* A DATASET argument: no leading '/' or '.', has a '/', and its first component is an imported pool. */
static bool looks_like_dataset(const vfio_storage_tools *t, const char *arg)
{
        _cleanup_free_ char *health = NULL;

        if (arg[0] == '/' || arg[0] == '.' || !strchr(arg, '/'))
                return false;
        return vfio_storage_zpool_health(t, arg, &health) >= 0;
}

static int check_pool(const vfio_storage_tools *t, const char *dataset)
{
        _cleanup_free_ char *health = NULL;
        int r;

        r = vfio_storage_zpool_health(t, dataset, &health);
        if (r < 0) {
                tool_error("cannot read the health of the pool of %s (zpool list -H -o health): %s", dataset,
                           strerror(-r));
                return r;
        }
        if (strcmp(health, "DEGRADED") == 0)
                tool_warning("pool of %s is DEGRADED: 'zpool status -x' says which device to replace",
                             dataset);
        else if (strcmp(health, "ONLINE") != 0) {
                tool_error("pool of %s is %s; a new disk there would not be safe. See 'zpool status -x'",
                           dataset, health);
                return -EIO;
        }
        return 0;
}

/* Refuses when a preallocated disk cannot fit; warns when a thin one could outgrow the free space. */
static int check_space(uint64_t need, uint64_t avail, bool thin, const char *where)
{
        char n[32], a[32];

        human(need, n);
        human(avail, a);
        if (need <= avail)
                return 0;
        if (thin) {
                tool_warning(
                        "%s has %s free, less than the disk's %s: the VM will stop with an I/O error when the image fills it",
                        where, a, n);
                return 0;
        }
        tool_error("%s has %s free, %s needed; free space there or pick another place", where, a, n);
        return -ENOSPC;
}

static int report_failure(const char *what, const char *target, int r, char *err)
{
        if (r == -EEXIST)
                tool_error("%s: %s already exists; remove it or pick another name", what, target);
        else
                tool_error("%s %s: %s", what, target, err ? err : strerror(-r));
        free(err);
        return EXIT_FAILURE_GENERIC;
}

/*
 * The first [disk] of a VM (not a CD-ROM) whose image does not exist yet; its format becomes the default
 * --format. Reports failure.
 */
static int vm_disk_to_create(const char *name, char **ret)
{
        _cleanup_(vm_config_freep) vm_config *c = NULL;
        int r;

        r = tool_load_config_trusted(name, &c);
        if (r < 0)
                return r;
        for (size_t i = 0; i < c->n_disks; i++) {
                const vm_disk *d = &c->disks[i];

                if (d->media != VM_MEDIA_DISK || !d->path || access(d->path, F_OK) == 0)
                        continue;
                if (!arg_format_set)
                        arg_format = d->format == VM_DISK_RAW ? VFIO_DISK_RAW : VFIO_DISK_QCOW2;
                printf("VM %s: creating its [disk \"%s\"] %s\n", c->name, d->name ? d->name : "", d->path);
                *ret = strdup(d->path);
                return *ret ? 0 : -ENOMEM;
        }
        tool_error(
                "VM '%s' names no disk image that is still to be made: every [disk] path exists or there is none; add a [disk] section with a path, or give a PATH or DATASET to 'disk create'",
                c->name);
        return -ENOENT;
}

/* --format zvol: a ZFS volume (OpenZFS only), space checked on its parent first. */
static int disk_create_zvol(vfio_storage_tools *t, const char *target)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_free_ char *err = NULL;
        uint64_t avail = 0;
        int r;

        if (tool_open_host(&h) < 0)
                return EXIT_FAILURE_GENERIC;
        if (!strchr(target, '/') || target[0] == '/') {
                tool_error(
                        "--format zvol: name the volume as POOL/NAME (it appears as /dev/zvol/POOL/NAME)");
                return EXIT_USAGE;
        }
        if (!vfio_storage_zfs_is_kernel(h)) {
                tool_error(
                        "zvols need OpenZFS (the zfs kernel module; /sys/module/zfs is missing): zfs-fuse has no volumes. Use a dataset holding an image instead: vfioctl disk create %s --format qcow2",
                        target);
                return EXIT_FAILURE_GENERIC;
        }
        if (check_pool(t, target) < 0)
                return EXIT_FAILURE_GENERIC;
        {
                _cleanup_free_ char *parent = strndup(target, strrchr(target, '/') - target);

                if (parent && vfio_storage_zfs_available(t, parent, &avail) >= 0 &&
                    check_space(arg_size, avail, !arg_prealloc, parent) < 0)
                        return EXIT_FAILURE_GENERIC;
        }
        if (arg_dry_run) {
                printf("would run: zfs create %s-V %llu %s\n", arg_prealloc ? "" : "-s ",
                       (unsigned long long)arg_size, target);
                return EXIT_OK;
        }
        r = vfio_storage_zfs_create_zvol(t, target, arg_size, !arg_prealloc, &err);
        if (r < 0)
                return report_failure("zfs create -V", target, r, TAKE_PTR(err));
        printf("/dev/zvol/%s\n", target);
        return EXIT_OK;
}

static int disk_create(const char *target)
{
        _cleanup_free_ char *path = NULL, *mountpoint = NULL, *err = NULL, *dataset = NULL;
        vfio_storage_tools t;
        uint64_t avail = 0;
        bool is_dataset, created = false;
        int r;

        tool_storage_tools(&t, "preallocating");
        is_dataset = arg_format == VFIO_DISK_ZVOL || looks_like_dataset(&t, target);

        if (arg_format == VFIO_DISK_ZVOL)
                return disk_create_zvol(&t, target);

        if (is_dataset || arg_on) {
                const char *ds = is_dataset ? target : arg_on;
                _cleanup_free_ char *existing = strdup(ds), *mp = NULL;

                if (!existing || check_pool(&t, ds) < 0)
                        return EXIT_FAILURE_GENERIC;
                /* Space is checked on the closest existing dataset before anything is created. */
                while ((r = vfio_storage_zfs_mountpoint(&t, existing, &mp)) == -ENOENT &&
                       strchr(existing, '/'))
                        *strrchr(existing, '/') = 0;
                if (r >= 0)
                        r = vfio_storage_zfs_available(&t, existing, &avail);
                if (r < 0) {
                        tool_error("cannot read the free space of %s (zfs get available): %s", existing,
                                   strerror(-r));
                        return EXIT_FAILURE_GENERIC;
                }
                if (check_space(arg_size, avail, !arg_prealloc, existing) < 0)
                        return EXIT_FAILURE_GENERIC;
                if (arg_dry_run) {
                        printf("would run: zfs create -p %s, then qemu-img create -f %s in it\n", ds,
                               vfio_disk_format_to_string(arg_format));
                        return EXIT_OK;
                }
                created = strcmp(existing, ds) != 0;
                r = vfio_storage_zfs_create_dataset(&t, ds, &mountpoint, &err);
                if (r < 0)
                        return report_failure("zfs create", ds, r, TAKE_PTR(err));
                dataset = strdup(ds);
                if (!dataset)
                        return EXIT_FAILURE_GENERIC;
                if (mountpoint[0] != '/') {
                        tool_error(
                                "dataset %s has mountpoint '%s'; the image needs a mounted dataset: zfs set mountpoint=/PATH %s",
                                ds, mountpoint, ds);
                        goto undo;
                }
                /* DATASET alone: one dataset per disk, the image inside named after the format. */
                if (is_dataset)
                        r = asprintf(&path, "%s/disk.%s", mountpoint,
                                     vfio_disk_format_to_string(arg_format));
                else
                        r = asprintf(&path, "%s/%s", mountpoint,
                                     strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
                if (r < 0)
                        goto undo;
        } else {
                path = strdup(target);
                if (!path)
                        return EXIT_FAILURE_GENERIC;
                r = vfio_storage_free_bytes(path, &avail);
                if (r < 0) {
                        tool_error("cannot read the free space for %s: %s", path, strerror(-r));
                        return EXIT_FAILURE_GENERIC;
                }
                if (check_space(arg_size, avail, !arg_prealloc, path) < 0)
                        return EXIT_FAILURE_GENERIC;
        }
        if (arg_dry_run) {
                printf("would run: qemu-img create -f %s -o preallocation=%s %s %llu\n",
                       vfio_disk_format_to_string(arg_format), arg_prealloc ? "full" : "off", path,
                       (unsigned long long)arg_size);
                return EXIT_OK;
        }
        {
                uid_t owner = VFIO_STORAGE_NOBODY;

                r = vfio_storage_path_owner(path, true, &owner);
                if (r < 0) {
                        tool_error("cannot create %s: its directory is %s", path, tool_path_refusal(r));
                        goto undo;
                }
                (void)tool_storage_run_as(&t, path, owner);
        }
        r = vfio_storage_create_image(&t, path, arg_format, arg_size, arg_prealloc, &err);
        if (r < 0) {
                (void)report_failure("qemu-img create", path, r, TAKE_PTR(err));
                goto undo;
        }
        printf("%s\n", path);
        r = vfio_storage_supports_odirect(path);
        if (r == 0)
                tool_warning("%s does not support O_DIRECT: the VM must use cache=writeback, not cache=none",
                             path);
        return EXIT_OK;
undo:
        /* Never leave half a disk: a dataset this command created goes again. */
        if (created && dataset) {
                _cleanup_free_ char *e = NULL;

                if (vfio_storage_zfs_destroy(&t, dataset, &e) < 0)
                        tool_warning(
                                "could not remove the dataset %s created for the disk: %s; run zfs destroy %s",
                                dataset, e ? e : "failed", dataset);
        }
        return EXIT_FAILURE_GENERIC;
}

static int disk_import(const char *src, const char *dst)
{
        _cleanup_free_ char *err = NULL;
        vfio_storage_tools t;
        uint64_t need, avail;
        int r;

        tool_storage_tools(&t, "converting");
        if (access(dst, F_OK) == 0) {
                tool_error("%s already exists; vfioctl disk import never overwrites a disk", dst);
                return EXIT_FAILURE_GENERIC;
        }
        if (!arg_format_set) {
                const char *dot = strrchr(dst, '.');

                if (dot && (strcmp(dot, ".img") == 0 || strcmp(dot, ".raw") == 0))
                        arg_format = VFIO_DISK_RAW;
        }
        if (arg_format == VFIO_DISK_ZVOL) {
                tool_error(
                        "--format zvol: import into a zvol with 'qemu-img convert -O raw SRC /dev/zvol/...'");
                return EXIT_USAGE;
        }
        {
                /* qemu-img reads SRC and writes beside DST: as root, it runs as the user who controls them
                 * (a link put at SRC would otherwise make root copy a file only root may read into an
                 * image others can read); two different users: refused. */
                uid_t so = VFIO_STORAGE_NOBODY, dob = VFIO_STORAGE_NOBODY;

                r = vfio_storage_path_owner(src, false, &so);
                if (r < 0) {
                        tool_error("cannot import %s: it is %s", src, tool_path_refusal(r));
                        return EXIT_FAILURE_GENERIC;
                }
                r = vfio_storage_path_owner(dst, true, &dob);
                if (r < 0) {
                        tool_error("cannot create %s: its directory is %s", dst, tool_path_refusal(r));
                        return EXIT_FAILURE_GENERIC;
                }
                if (so != VFIO_STORAGE_NOBODY && dob != VFIO_STORAGE_NOBODY && so != dob && geteuid() == 0) {
                        tool_error(
                                "%s and the directory of %s are controlled by two different users (uid %u and %u): import as one of them, or move the image first",
                                src, dst, (unsigned)so, (unsigned)dob);
                        return EXIT_FAILURE_GENERIC;
                }
                (void)tool_storage_run_as(&t, so != VFIO_STORAGE_NOBODY ? src : dst,
                                          so != VFIO_STORAGE_NOBODY ? so : dob);
        }
        r = vfio_storage_measure(&t, src, arg_format, &need, &err);
        if (r < 0)
                return report_failure("qemu-img measure", src, r, TAKE_PTR(err));
        r = vfio_storage_free_bytes(dst, &avail);
        if (r < 0) {
                tool_error("cannot read the free space for %s: %s", dst, strerror(-r));
                return EXIT_FAILURE_GENERIC;
        }
        if (check_space(need, avail, false, dst) < 0)
                return EXIT_FAILURE_GENERIC;
        if (arg_dry_run) {
                printf("would run: qemu-img convert -p -O %s %s %s\n",
                       vfio_disk_format_to_string(arg_format), src, dst);
                return EXIT_OK;
        }
        /* Never half an image under dst: convert writes a hidden partial file and renames it when whole
         * (nothing to remove here; removing dst by name could hit whatever another user put there). */
        r = vfio_storage_convert(&t, src, dst, arg_format, &err);
        if (r < 0)
                return report_failure("qemu-img convert", src, r, TAKE_PTR(err));
        printf("%s\n", dst);
        return EXIT_OK;
}

static int disk_info(const char *path)
{
        _cleanup_free_ char *dataset = NULL, *health = NULL;
        vfio_storage_tools t;
        vfio_disk_format f = VFIO_DISK_RAW;
        uint64_t avail = 0;
        int odirect, zfs, r;

        tool_storage_tools(&t, NULL);
        r = vfio_storage_probe_format(path, &f);
        if (r < 0) {
                tool_error("cannot read %s: %s", path, tool_path_refusal(r));
                return EXIT_FAILURE_GENERIC;
        }
        odirect = vfio_storage_supports_odirect(path);
        zfs = vfio_storage_zfs_dataset_of(&t, path, &dataset);
        if (zfs > 0) {
                (void)vfio_storage_zfs_available(&t, dataset, &avail);
                (void)vfio_storage_zpool_health(&t, dataset, &health);
        } else
                (void)vfio_storage_free_bytes(path, &avail);
        if (arg_json) {
                struct json_object *o = json_object_new_object();

                json_object_object_add(o, "path", json_object_new_string(path));
                json_object_object_add(o, "format", json_object_new_string(vfio_disk_format_to_string(f)));
                json_object_object_add(o, "odirect", odirect < 0 ? NULL : json_object_new_boolean(odirect));
                json_object_object_add(o, "cache",
                                       json_object_new_string(odirect > 0 ? "none" : "writeback"));
                json_object_object_add(o, "zfs_dataset", dataset ? json_object_new_string(dataset) : NULL);
                json_object_object_add(o, "pool_health", health ? json_object_new_string(health) : NULL);
                json_object_object_add(o, "available", json_object_new_int64((int64_t)avail));
                json_object_object_add(o, "snapshots",
                                       json_object_new_string(zfs > 0                ? "zfs"
                                                              : f == VFIO_DISK_QCOW2 ? "qcow2"
                                                                                     : "none"));
                printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
                                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
                return EXIT_OK;
        }
        {
                char a[32];

                human(avail, a);
                printf("path:       %s\nformat:     %s\n", path, vfio_disk_format_to_string(f));
                printf("O_DIRECT:   %s -> cache=%s\n",
                       odirect > 0    ? "yes"
                       : odirect == 0 ? "no"
                                      : "unknown",
                       odirect > 0 ? "none" : "writeback");
                printf("zfs:        %s%s%s%s\n", dataset ? dataset : "no", health ? " (pool " : "",
                       health ? health : "", health ? ")" : "");
                printf("free:       %s\n", a);
                printf("snapshots:  %s\n", zfs > 0                ? "zfs snapshot"
                                           : f == VFIO_DISK_QCOW2 ? "qcow2 internal (qemu-img snapshot)"
                                                                  : "none (raw outside ZFS)");
        }
        return EXIT_OK;
}

int verb_disk(int argc, char **argv)
{
        enum { OPT_SIZE = 0x100, OPT_FORMAT, OPT_ON, OPT_PREALLOC, OPT_DRY_RUN };
        static const struct option options[] = {
                { "size", required_argument, NULL, OPT_SIZE },
                { "format", required_argument, NULL, OPT_FORMAT },
                { "on", required_argument, NULL, OPT_ON },
                { "prealloc", no_argument, NULL, OPT_PREALLOC },
                { "dry-run", no_argument, NULL, OPT_DRY_RUN },
                { "json", no_argument, NULL, 'j' },
                {},
        };
        const char *sub;
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case OPT_SIZE:
                        if (parse_size(optarg, &arg_size) < 0 || arg_size == 0) {
                                tool_error("--size: '%s' is not a size such as 120G or 512M", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case OPT_FORMAT:
                        if (vfio_disk_format_from_string(optarg, &arg_format) < 0) {
                                tool_error("--format: '%s' is not one of qcow2, raw, zvol", optarg);
                                return EXIT_USAGE;
                        }
                        arg_format_set = true;
                        break;
                case OPT_ON:
                        arg_on = optarg;
                        break;
                case OPT_PREALLOC:
                        arg_prealloc = true;
                        break;
                case OPT_DRY_RUN:
                        arg_dry_run = true;
                        break;
                case 'j':
                        arg_json = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        }
        if (tool_check_arity(argc - optind) < 0)
                return EXIT_USAGE;
        sub = argv[optind];
        if (strcmp(sub, "create") == 0 && argc - optind == 2) {
                _cleanup_free_ char *path = NULL;
                int r;

                if (!vm_config_exists(argv[optind + 1]))
                        return disk_create(argv[optind + 1]);
                /* disk create VM: the disk its config names and that does not exist yet. */
                r = vm_disk_to_create(argv[optind + 1], &path);
                if (r < 0)
                        return r == -EINVAL ? EXIT_DATAERR : EXIT_FAILURE_GENERIC;
                return disk_create(path);
        }
        if (strcmp(sub, "import") == 0 && argc - optind == 3)
                return disk_import(argv[optind + 1], argv[optind + 2]);
        if (strcmp(sub, "info") == 0 && argc - optind == 2)
                return disk_info(argv[optind + 1]);
        tool_error("disk: expected 'create PATH|DATASET', 'import SRC DST' or 'info PATH'");
        return EXIT_USAGE;
}
