/* Fuzz target: the host configuration parsers of vfioctl check (modprobe.d, limits.conf, cpuinfo,
 * proc/version, proc/cmdline, os-release, buddyinfo) must accept or refuse any text, never crash. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"
#include "vfioctl/cpu.h"
#include "vfioctl/distro.h"
#include "vfioctl/kernel.h"
#include "vfioctl/memory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = malloc(size + 1), *rel = NULL, **cl = NULL, *groups[] = { (char *)"kvm", NULL };
        vfio_modprobe *mp = vfio_modprobe_new();
        vfio_memlock ml = { .soft = VFIO_LIMIT_UNSET, .hard = VFIO_LIMIT_UNSET };
        vfio_memory mem = { .page_size = 4096 };
        vfio_distro *d = NULL;
        vfio_cpu *c = NULL;
        int ps = 100, ph = 100;
        unsigned v;

        if (!s || !mp) {
                free(s);
                vfio_modprobe_free(mp);
                return 0;
        }
        memcpy(s, data, size);
        s[size] = 0;
        (void)vfio_modprobe_parse(mp, s, "fuzz.conf");
        (void)vfio_memlock_parse(&ml, &ps, &ph, s, "limits.conf", "vm", 1000, groups);
        if (vfio_cpu_parse(s, &c) >= 0)
                vfio_cpu_free(c);
        if (vfio_kernel_parse_version(s, &rel, &v) >= 0)
                free(rel);
        if (vfio_kernel_parse_cmdline(s, &cl) >= 0)
                strv_free(cl);
        if (vfio_distro_parse(s, 1, 0, &d) >= 0) {
                free(vfio_distro_cmdline_fix(d, "intel_iommu=on"));
                vfio_distro_free(d);
        }
        (void)vfio_memory_parse_buddyinfo(&mem, s);
        (void)vfio_memory_free_in_blocks(&mem, 2u << 20);
        for (size_t i = 0; i < mem.n_zones; i++)
                free(mem.zones[i].zone);
        free(mem.zones);
        vfio_memlock_done(&ml);
        vfio_modprobe_free(mp);
        free(s);
        return 0;
}
