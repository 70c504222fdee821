/* The installed QEMU's identity and capabilities as data (qemu-info.h). */
#include "vfioctl/qemu-info.h"

#include <assert.h>
#include <stdlib.h>

#include "strv.h"

vfio_qemu_info *vfio_qemu_info_free(vfio_qemu_info *q)
{
        if (!q)
                return NULL;
        free(q->package);
        strv_free(q->machines);
        free(q->default_machine);
        strv_free(q->types);
        free(q);
        return NULL;
}

bool vfio_qemu_info_has_type(const vfio_qemu_info *q, const char *type)
{
        assert(q);

        return strv_contains(q->types, type);
}

bool vfio_qemu_info_has_machine(const vfio_qemu_info *q, const char *machine)
{
        assert(q);

        return strv_contains(q->machines, machine);
}
