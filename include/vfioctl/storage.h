/* Disks and snapshots: qemu-img images, ZFS datasets and zvols, and the backend facts a VM config needs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vfioctl/common.h"

/*
 * The helper programs, by absolute path (never looked up in $PATH, never run through a shell). The
 * caller (the tool) fills them; progress, when set, is called with 0..100 during long work.
 */
typedef struct vfio_storage_tools {
        const char *qemu_img; /* /usr/bin/qemu-img */
        const char *zfs;      /* /usr/sbin/zfs (OpenZFS or zfs-fuse) */
        const char *zpool;    /* /usr/sbin/zpool */
        int (*progress)(double percent, void *userdata);
        void *userdata;
        /*
         * qemu-img runs as this user when run_as is set. Root working on disks another user controls (the
         * owner vfio_snapshot_plan and vfio_storage_path_owner report) must set it to that user: qemu-img
         * follows the links in the path and the backing files named inside the image, which are that user's
         * to choose, so it gets that user's rights, never root's. The library refuses (-EPERM) otherwise.
         */
        bool run_as;
        uid_t run_uid;
        gid_t run_gid;
        const gid_t *run_groups; /* that user's supplementary groups */
        size_t n_run_groups;
} vfio_storage_tools;

/* "No other user": root (or the caller) alone can change the path. */
#define VFIO_STORAGE_NOBODY ((uid_t)-1)

/*
 * Who, besides root and the caller, can change what path names (parent: the directory it is or would be
 * created in): its uid, or VFIO_STORAGE_NOBODY. Walks path with basic/safedir.h's rules: -ELOOP for a
 * symbolic link where another user could have put it, -EPERM when several users can change it (a group-
 * or world-writable directory), -EMLINK for a root file with a second name there.
 */
int vfio_storage_path_owner(const char *path, bool parent, uid_t *ret);

typedef enum vfio_disk_format {
        VFIO_DISK_RAW,
        VFIO_DISK_QCOW2,
        VFIO_DISK_ZVOL, /* a ZFS volume: a block device /dev/zvol/POOL/NAME (OpenZFS only) */
        _VFIO_DISK_FORMAT_MAX,
} vfio_disk_format;

const char *vfio_disk_format_to_string(vfio_disk_format f);
int vfio_disk_format_from_string(const char *s, vfio_disk_format *ret);

/* --- backend facts (detected, never assumed) --- */

/*
 * 1 when files at path (an existing file, or a directory / the directory of a file to be created)
 * accept O_DIRECT I/O, 0 when the filesystem refuses it (-EINVAL from open(2) or from an aligned read/
 * write: older FUSE, zfs-fuse on older kernels, ZFS before 2.3's Direct I/O on some setups, tmpfs before
 * Linux 6.6). A VM config must then use cache=writeback instead of cache=none (QEMU fails to open the
 * image otherwise: qemu-options "cache.direct"). <0 on other errors.
 */
int vfio_storage_supports_odirect(const char *path);
/* Free bytes for an unprivileged writer at path (or its parent directory when it does not exist yet). */
int vfio_storage_free_bytes(const char *path, uint64_t *ret);
/* The image format by its header: "QFI\xfb" is qcow2 (qcow2.txt), anything else raw. */
int vfio_storage_probe_format(const char *path, vfio_disk_format *ret);

/*
 * The ZFS dataset holding path: for /dev/zvol/POOL/NAME the volume itself, for a file the mounted
 * filesystem whose mountpoint is on the same device (st_dev). 1 and *ret set when on ZFS, 0 when not
 * (or when no zfs command is installed).
 */
int vfio_storage_zfs_dataset_of(const vfio_storage_tools *t, const char *path, char **ret);
/* `zfs get -Hp -o value available DATASET`. */
int vfio_storage_zfs_available(const vfio_storage_tools *t, const char *dataset, uint64_t *ret);
/* `zfs get -H -o value mountpoint DATASET`; -ENOENT when the dataset does not exist. */
int vfio_storage_zfs_mountpoint(const vfio_storage_tools *t, const char *dataset, char **ret);
/* `zpool list -H -o health POOL` ("ONLINE", "DEGRADED", "FAULTED", ...). POOL may be a dataset name. */
int vfio_storage_zpool_health(const vfio_storage_tools *t, const char *pool, char **ret);
/* True when ZFS is the kernel module (OpenZFS: sys/module/zfs exists), false for zfs-fuse or none. */
struct vfio_host;
bool vfio_storage_zfs_is_kernel(const struct vfio_host *h);

/* --- progress parsing (pure) --- */

/* Parses qemu-img's -p line "    (42.17/100%)" into 42.17; -EINVAL for anything else. */
int vfio_storage_parse_progress(const char *line, double *ret);

/* --- creating disks --- */

/*
 * The helper's first stderr line on failure is returned in *ret_error (caller frees) for the tool's
 * message; -EIO means "the helper ran and failed".
 */
int vfio_storage_create_image(const vfio_storage_tools *t, const char *path, vfio_disk_format format,
                              uint64_t size, bool prealloc, char **ret_error);
/* `zfs create -p DATASET`; returns its mountpoint. */
int vfio_storage_zfs_create_dataset(const vfio_storage_tools *t, const char *dataset, char **ret_mountpoint,
                                    char **ret_error);
/* `zfs destroy DATASET` (not recursive: refuses a dataset with children or snapshots). */
int vfio_storage_zfs_destroy(const vfio_storage_tools *t, const char *dataset, char **ret_error);
/* `zfs create [-s] -V SIZE DATASET`: OpenZFS only (zfs-fuse has no zvols: "Function not implemented"). */
int vfio_storage_zfs_create_zvol(const vfio_storage_tools *t, const char *dataset, uint64_t size,
                                 bool sparse, char **ret_error);
/* `qemu-img measure --output=json -O FMT SRC`: bytes the converted image needs when fully written. */
int vfio_storage_measure(const vfio_storage_tools *t, const char *src, vfio_disk_format format,
                         uint64_t *ret_required, char **ret_error);
/* `qemu-img convert -p -O FMT SRC DST`, reporting progress. DST must not exist (-EEXIST). */
int vfio_storage_convert(const vfio_storage_tools *t, const char *src, const char *dst,
                         vfio_disk_format format, char **ret_error);

/* --- snapshots --- */

typedef enum vfio_snap_backend {
        VFIO_SNAP_ZFS,   /* the disk lives on (or is) a ZFS dataset: zfs snapshot */
        VFIO_SNAP_QCOW2, /* qcow2 outside ZFS: internal snapshot, qemu-img snapshot */
        VFIO_SNAP_NONE,  /* raw outside ZFS: cannot be snapshotted */
} vfio_snap_backend;

typedef struct vfio_snap_target {
        char *path;
        vfio_snap_backend backend;
        char *dataset; /* VFIO_SNAP_ZFS */
} vfio_snap_target;

typedef struct vfio_snap_plan {
        vfio_snap_target *disks;
        size_t n_disks;
        vfio_snap_target vars; /* path NULL when no vars file; backend ZFS or NONE (= copied file) */
        char **datasets;       /* the distinct datasets of disks and vars, sorted */
        uid_t owner;           /* the user who controls the disks and vars (qemu-img runs as them), or
                                  VFIO_STORAGE_NOBODY */
} vfio_snap_plan;

vfio_snap_plan *vfio_snap_plan_free(vfio_snap_plan *p);
VFIO_DEFINE_POINTER_CLEANUP(vfio_snap_plan, vfio_snap_plan_free)

/* A snapshot name: 1-64 of [A-Za-z0-9_.:-], not starting with '-' or '.'. */
bool vfio_snapshot_name_valid(const char *name);

/*
 * Classifies every disk (and the OVMF vars file, may be NULL), each opened once with basic/safedir.h's
 * rules (no symbolic link another user could have put on the way, a regular file or a block device, the
 * vars a regular file with one name). Fails with -EOPNOTSUPP, *ret_refused set to the first raw disk
 * outside ZFS, when one cannot be snapshotted; -EPERM when two users control the parts.
 */
int vfio_snapshot_plan(const vfio_storage_tools *t, char *const *disks, const char *vars,
                       vfio_snap_plan **ret, char **ret_refused);

/*
 * ZFS: all datasets in ONE atomic command: `zfs snapshot ds@s` for one, `zfs snapshot ds1@s ds2@s` on
 * OpenZFS, `zfs snapshot -r PARENT@s` of their closest common parent where the multi-argument form is
 * missing (zfs-fuse); qcow2: `qemu-img snapshot -c`; vars outside ZFS: copied to <vars>.snap-<name>
 * through the directory's descriptor (basic/safedir.h), with the vars file's owner and mode. A failure
 * undoes the parts already taken.
 */
int vfio_snapshot_create(const vfio_storage_tools *t, const vfio_snap_plan *p, const char *name,
                         char **ret_error);
/* `zfs rollback -r ds@s` (destroys later snapshots), `qemu-img snapshot -a`, vars copied back atomically,
 * owned by the user whose directory holds it (the VM user, who must be able to write it again). */
int vfio_snapshot_rollback(const vfio_storage_tools *t, const vfio_snap_plan *p, const char *name,
                           char **ret_error);
int vfio_snapshot_delete(const vfio_storage_tools *t, const vfio_snap_plan *p, const char *name,
                         char **ret_error);

typedef struct vfio_snap_info {
        char *name;
        size_t n_have; /* how many of the plan's disks (+ vars) hold it */
        size_t n_total;
        int64_t created; /* seconds since the epoch, -1 when unknown */
} vfio_snap_info;

/* The snapshots found on the plan's disks, sorted by name. */
int vfio_snapshot_list(const vfio_storage_tools *t, const vfio_snap_plan *p, vfio_snap_info **ret,
                       size_t *ret_n);
void vfio_snap_info_free_array(vfio_snap_info *a, size_t n);

/* "<vars>.snap-<name>" (caller frees). */
char *vfio_snapshot_vars_copy_path(const char *vars, const char *name);

/*
 * 1 when the VM is running: pid > 0 is alive (kill(pid, 0)), or, later, the runtime state dir holds a
 * live pid (state_dir: not wired yet, pass NULL). 0 when not running.
 */
int vfio_storage_vm_running(pid_t pid, const char *state_dir);
