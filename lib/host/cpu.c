/* CPU facts: vendor and virtualization flags from proc/cpuinfo (the first processor is representative). */
#include "vfioctl/cpu.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"

#define CPUINFO_MAX (16u << 20)

vfio_cpu *vfio_cpu_free(vfio_cpu *c)
{
        if (!c)
                return NULL;
        free(c->vendor_id);
        free(c->model_name);
        free(c);
        return NULL;
}

/* The value of "key\t: value" when line starts with key, else NULL. */
static const char *field(const char *line, size_t len, const char *key, size_t *ret_len)
{
        size_t k = strlen(key);
        const char *p, *end = line + len;

        if (len < k || strncmp(line, key, k) != 0)
                return NULL;
        p = line + k;
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        if (p >= end || *p != ':')
                return NULL;
        p++;
        while (p < end && *p == ' ')
                p++;
        *ret_len = (size_t)(end - p);
        return p;
}

static bool has_flag(const char *flags, size_t len, const char *flag)
{
        size_t k = strlen(flag);

        for (const char *p = flags; p < flags + len;) {
                size_t w = strcspn(p, " \n");

                if (w > len - (size_t)(p - flags))
                        w = len - (size_t)(p - flags);
                if (w == k && strncmp(p, flag, k) == 0)
                        return true;
                p += w + 1;
        }
        return false;
}

int vfio_cpu_parse(const char *text, vfio_cpu **ret)
{
        _cleanup_(vfio_cpu_freep) vfio_cpu *c = calloc(1, sizeof(vfio_cpu));
        bool flags_seen = false;

        assert(ret);

        if (!c)
                return -ENOMEM;
        for (const char *line = text; line && *line;) {
                const char *nl = strchr(line, '\n'), *v;
                size_t len = nl ? (size_t)(nl - line) : strlen(line), vl;

                if (field(line, len, "processor", &vl))
                        c->n_cpus++;
                else if (!c->vendor_id && (v = field(line, len, "vendor_id", &vl))) {
                        c->vendor_id = strndup(v, vl);
                        if (!c->vendor_id)
                                return -ENOMEM;
                } else if (!c->model_name && (v = field(line, len, "model name", &vl))) {
                        c->model_name = strndup(v, vl);
                        if (!c->model_name)
                                return -ENOMEM;
                } else if (!flags_seen && (v = field(line, len, "flags", &vl))) {
                        flags_seen = true;
                        c->vmx = has_flag(v, vl, "vmx");
                        c->svm = has_flag(v, vl, "svm");
                        c->hypervisor = has_flag(v, vl, "hypervisor");
                        c->gbpages = has_flag(v, vl, "pdpe1gb");
                }
                line = nl ? nl + 1 : NULL;
        }
        if (c->vendor_id && strcmp(c->vendor_id, "GenuineIntel") == 0)
                c->vendor = VFIO_CPU_VENDOR_INTEL;
        else if (c->vendor_id &&
                 (strcmp(c->vendor_id, "AuthenticAMD") == 0 || strcmp(c->vendor_id, "HygonGenuine") == 0))
                c->vendor = VFIO_CPU_VENDOR_AMD;
        *ret = TAKE_PTR(c);
        return 0;
}

int vfio_cpu_read(const vfio_host *h, vfio_cpu **ret)
{
        _cleanup_free_ char *text = NULL;
        int r;

        r = vfio_host_read_attr(h, "proc/cpuinfo", CPUINFO_MAX, &text);
        if (r < 0)
                return r;
        return vfio_cpu_parse(text, ret);
}

const char *vfio_cpu_kvm_module(const vfio_cpu *c)
{
        assert(c);

        return c->vendor == VFIO_CPU_VENDOR_INTEL ? "kvm_intel"
               : c->vendor == VFIO_CPU_VENDOR_AMD ? "kvm_amd"
                                                  : NULL;
}

const char *vfio_cpu_iommu_param(const vfio_cpu *c)
{
        assert(c);

        return c->vendor == VFIO_CPU_VENDOR_AMD ? "amd_iommu=on" : "intel_iommu=on";
}
