/* Reads IOMMU units and groups; group membership comes from the kernel's own group directories. */
#include "vfioctl/iommu.h"

#include <assert.h>
#include <errno.h>
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

static int cmp_group(const void *a, const void *b)
{
        const vfio_iommu_group *x = a, *y = b;

        return (x->id > y->id) - (x->id < y->id);
}

int vfio_iommu_scan(const vfio_host *h, vfio_iommu **ret)
{
        _cleanup_(vfio_iommu_freep) vfio_iommu *i = NULL;
        _cleanup_strv_free_ char **names = NULL;
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

        r = vfio_host_list_dir(h, "sys/kernel/iommu_groups", IOMMU_GROUPS_MAX, &names);
        if (r == -ENOENT) {
                *ret = TAKE_PTR(i);
                return 0;
        }
        if (r < 0)
                return r;
        i->groups = calloc(strv_length(names) + 1, sizeof(vfio_iommu_group));
        if (!i->groups)
                return -ENOMEM;
        STRV_FOREACH(n, names) {
                _cleanup_free_ char *path = NULL;
                vfio_iommu_group *g = &i->groups[i->n_groups];
                int64_t id;

                if (parse_int(*n, 0, INT32_MAX, &id) < 0) {
                        r = strv_extendf(&i->problems, "sys/kernel/iommu_groups/%s: %s", *n,
                                         "not a group number, ignored");
                        if (r < 0)
                                return r;
                        continue;
                }
                if (asprintf(&path, "sys/kernel/iommu_groups/%s/devices", *n) < 0)
                        return -ENOMEM;
                r = vfio_host_list_dir(h, path, GROUP_MEMBERS_MAX, &g->members);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        r = strv_extendf(&i->problems, "%s: %s", path, strerror(-r));
                        if (r < 0)
                                return r;
                        continue;
                }
                free(path);
                path = NULL;
                if (asprintf(&path, "sys/kernel/iommu_groups/%s/type", *n) < 0)
                        return -ENOMEM;
                r = vfio_host_read_attr(h, path, 64, &g->type);
                if (r == -ENOMEM)
                        return r;
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
