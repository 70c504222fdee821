/* The host root: every host fact is read (and written) below one directory, "/" on a real host. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "vfioctl/common.h"

typedef struct vfio_host vfio_host;

/* Opens root (NULL means "/"). Fails with -ENOTDIR/-ENOENT when root is not a directory. */
int vfio_host_open(const char *root, vfio_host **ret);
vfio_host *vfio_host_free(vfio_host *h);
VFIO_DEFINE_POINTER_CLEANUP(vfio_host, vfio_host_free)

/* The root as given, for messages ("/" on a real host). */
const char *vfio_host_root(const vfio_host *h);
/* True when the root is the real "/", i.e. facts describe the running system. */
bool vfio_host_is_live(const vfio_host *h);

/*
 * All paths below are relative to the root ("sys/bus/pci/devices"); absolute symlinks met on the way
 * are resolved inside the root, never on the real host.
 */
int vfio_host_open_path(const vfio_host *h, const char *path, int flags);
/*
 * Opens path relative to dirfd (a directory opened with vfio_host_open_path) without leaving it: no "..",
 * absolute or magic link may take the lookup out (openat2 RESOLVE_BENEATH). For scans that open thousands
 * of paths below one directory: the walk starts there instead of at the root. -EXDEV when the path would
 * leave dirfd, -ENOSYS without openat2: the caller then opens it with vfio_host_open_path.
 */
int vfio_host_open_beneath(const vfio_host *h, int dirfd, const char *path, int flags);
int vfio_host_read_attr(const vfio_host *h, const char *path, size_t max, char **ret);
int vfio_host_read_link(const vfio_host *h, const char *path, char **ret);
int vfio_host_write_attr(const vfio_host *h, const char *path, const char *value);
/* Sorted entry names of a directory (without . and ..), at most max of them (-E2BIG beyond). */
int vfio_host_list_dir(const vfio_host *h, const char *path, size_t max, char ***ret);
/* 1 if path exists (following symlinks), 0 if not, <0 on other errors. */
int vfio_host_exists(const vfio_host *h, const char *path);
