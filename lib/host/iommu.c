/* Reads IOMMU units and groups; group membership comes from the kernel's own group directories. */
#include "vfioctl/iommu.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "log.h"
#include "parse-util.h"
#include "strv.h"

#define IOMMU_GROUPS_MAX  65536
#define GROUP_MEMBERS_MAX 4096

vfio_iommu *vfio_iommu_free(vfio_iommu *i)
{
        if (!i)
                return NULL;
        strv_free(i->units);
        for (size_t g = 0; g < i->n_groups; g++) {
                free(i->groups[g].type);
                strv_free(i->groups[g].members);
        }
        free(i->groups);
        strv_free(i->problems);
        free(i);
        return NULL;
}

/* A group's devices directory and type file, handed to the scan's batch (or closed) when read. */
typedef struct group_files {
        int fd[2];
        fd_batch *batch;
} group_files;

static void group_files_close(group_files *f)
{
        fd_batch_add(f->batch, f->fd, 2);
}

/*
 * GROUP/FILE of sys/kernel/iommu_groups: opened beneath the groups directory (two components to walk, not
 * five from the root), or from the root as before when that would leave it or openat2 is missing.
 */
static int open_in_group(const vfio_host *h, int groups_fd, const char *group, const char *file, int flags)
{
        char path[sizeof("sys/kernel/iommu_groups//devices") + NAME_MAX];
        int fd;

        snprintf(path, sizeof(path), "sys/kernel/iommu_groups/%s/%s", group, file);
        fd = vfio_host_open_beneath(h, groups_fd, path + strlen("sys/kernel/iommu_groups/"), flags);
        if (fd != -EXDEV && fd != -ENOSYS)
                return fd;
        return vfio_host_open_path(h, path, flags);
}

static int cmp_group(const void *a, const void *b)
{
        const vfio_iommu_group *x = a, *y = b;

        return (x->id > y->id) - (x->id < y->id);
}

int vfio_iommu_scan(const vfio_host *h, vfio_iommu **ret)
{
        _cleanup_(vfio_iommu_freep) vfio_iommu *i = NULL;
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_close_ int groups_fd = -EBADF;
        _cleanup_(fd_batch_flush) fd_batch batch = { .n = 0 };
        fd_batch *closing;
        int r;

        assert(ret);

        i = calloc(1, sizeof(*i));
        if (!i)
                return -ENOMEM;
        i->problems = calloc(1, sizeof(char *));
        if (!i->problems)
                return -ENOMEM;

        r = vfio_host_list_dir(h, "sys/class/iommu", 1024, &i->units);
        if (r == -ENOENT)
                i->units = calloc(1, sizeof(char *));
        else if (r < 0)
                return r;
        if (!i->units)
                return -ENOMEM;

        /* Listed through its descriptor, which the groups' files are then opened beneath (open_in_group). */
        groups_fd = vfio_host_open_path(h, "sys/kernel/iommu_groups", O_RDONLY | O_DIRECTORY);
        r = groups_fd < 0 ? groups_fd : read_dir_names_fd(groups_fd, IOMMU_GROUPS_MAX, &names);
        if (r == -ENOENT) {
                *ret = TAKE_PTR(i);
                return 0;
        }
        if (r < 0)
                return r;
        i->groups = calloc(strv_length(names) + 1, sizeof(vfio_iommu_group));
        if (!i->groups)
                return -ENOMEM;
        /* The groups' files are closed 64 groups at a time, when the descriptor limit leaves room. */
        closing = fd_batch_fits(2) ? &batch : NULL;
        STRV_FOREACH(n, names) {
                char path[sizeof("sys/kernel/iommu_groups//devices") + NAME_MAX];
                char type[VIRTUAL_BUF_SIZE(64)];
                _cleanup_(group_files_close)
                        group_files files = { .fd = { -EBADF, -EBADF }, .batch = closing };
                int *fds = files.fd;
                vfio_iommu_group *g = &i->groups[i->n_groups];
                int64_t id;

                if (parse_int(*n, 0, INT32_MAX, &id) < 0) {
                        r = strv_extendf(&i->problems, "sys/kernel/iommu_groups/%s: %s", *n,
                                         "not a group number, ignored");
                        if (r < 0)
                                return r;
                        continue;
                }
                /* Both files open, then read, then closed with the batch's close_range() (close_many). */
                fds[0] = open_in_group(h, groups_fd, *n, "devices", O_RDONLY | O_DIRECTORY);
                fds[1] = open_in_group(h, groups_fd, *n, "type",
                                       O_RDONLY | O_NOCTTY | O_NONBLOCK); /* a FIFO must not block */
                r = fds[0] < 0 ? fds[0] : read_dir_names_fd(fds[0], GROUP_MEMBERS_MAX, &g->members);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        snprintf(path, sizeof(path), "sys/kernel/iommu_groups/%s/devices", *n);
                        r = strv_extendf(&i->problems, "%s: %s", path, strerror(-r));
                        if (r < 0)
                                return r;
                        continue;
                }
                if (fds[1] >= 0 && read_virtual_fd(fds[1], type, sizeof(type)) >= 0) {
                        g->type = strdup(type);
                        if (!g->type)
                                return -ENOMEM;
                }
                g->id = (int)id;
                i->n_groups++;
        }
        qsort(i->groups, i->n_groups, sizeof(vfio_iommu_group), cmp_group);
        *ret = TAKE_PTR(i);
        return 0;
}

bool vfio_iommu_enabled(const vfio_iommu *i)
{
        assert(i);

        return i->n_groups > 0;
}

const vfio_iommu_group *vfio_iommu_find_group(const vfio_iommu *i, int id)
{
        vfio_iommu_group key = { .id = id };

        assert(i);

        if (!i->groups)
                return NULL;
        return bsearch(&key, i->groups, i->n_groups, sizeof(vfio_iommu_group), cmp_group);
}
