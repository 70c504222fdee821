/*
 * Joins PCI devices, IOMMU groups and host-critical devices into one model with a verdict per device and
 * group. A group is the unit VFIO assigns: every member that is not a PCI bridge must be on vfio-pci (or
 * pci-stub, or unbound) before any of them can be opened (Documentation/driver-api/vfio.rst, "Groups").
 */
#include "vfioctl/model.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "strv.h"

const char *vfio_verdict_to_string(vfio_verdict v)
{
        switch (v) {
        case VFIO_VERDICT_ALONE:
                return "alone";
        case VFIO_VERDICT_WITH_PEERS:
                return "with-peers";
        case VFIO_VERDICT_HOST_CRITICAL:
                return "host-critical";
        case VFIO_VERDICT_BRIDGE:
                return "bridge";
        case VFIO_VERDICT_NO_IOMMU:
                return "no-iommu";
        }
        return "unknown";
}

vfio_model *vfio_model_free(vfio_model *m)
{
        if (!m)
                return NULL;
        if (m->devices && m->pci)
                for (size_t i = 0; i < m->pci->n; i++) {
                        strv_free(m->devices[i].group_peers);
                        strv_free(m->devices[i].critical);
                        strv_free(m->devices[i].blockers);
                }
        free(m->devices);
        free(m->groups);
        vfio_pci_list_free(m->pci);
        vfio_iommu_free(m->iommu);
        vfio_critical_list_free(m->critical);
        strv_free(m->problems);
        free(m);
        return NULL;
}

const vfio_model_device *vfio_model_find_device(const vfio_model *m, const char *name)
{
        ssize_t i;

        assert(m);

        i = vfio_pci_list_index(m->pci, name);
        return i < 0 ? NULL : &m->devices[i];
}

const vfio_model_group *vfio_model_find_group(const vfio_model *m, int id)
{
        const vfio_iommu_group *g;

        assert(m);

        g = vfio_iommu_find_group(m->iommu, id);
        return g ? &m->groups[g - m->iommu->groups] : NULL;
}

/* A group member that is not a PCI device we could read counts as an endpoint: it may hold a driver. */
static bool member_is_bridge(const vfio_model *m, const char *name)
{
        const vfio_pci_dev *d = vfio_pci_list_find(m->pci, name);

        return d && vfio_pci_dev_is_bridge(d);
}

static int append_problems(char ***dst, char *const *src, const char *prefix)
{
        STRV_FOREACH(p, src) {
                char *s;

                if (asprintf(&s, "%s%s", prefix, *p) < 0)
                        return -ENOMEM;
                if (strv_push(dst, s) < 0) {
                        free(s);
                        return -ENOMEM;
                }
        }
        return 0;
}

static int collect_critical(vfio_model *m)
{
        for (size_t c = 0; c < m->critical->n; c++) {
                const vfio_critical *crit = &m->critical->items[c];
                ssize_t i = vfio_pci_list_index(m->pci, crit->device);
                char *s;

                if (i < 0)
                        continue;
                if (asprintf(&s, "%s: %s", vfio_critical_kind_to_string(crit->kind), crit->detail) < 0)
                        return -ENOMEM;
                if (strv_push(&m->devices[i].critical, s) < 0) {
                        free(s);
                        return -ENOMEM;
                }
        }
        return 0;
}

bool vfio_model_device_only_display(const vfio_model *m, const vfio_model_device *d)
{
        bool display = false;

        if (!m || !d || (d->blockers && d->blockers[0]))
                return false;
        for (size_t c = 0; c < m->critical->n; c++) {
                const vfio_critical *crit = &m->critical->items[c];

                if (strcmp(crit->device, d->pci->name) != 0)
                        continue;
                if (crit->kind != VFIO_CRITICAL_BOOT_DISPLAY)
                        return false;
                display = true;
        }
        return display;
}

static int judge_group(vfio_model *m, size_t gi)
{
        const vfio_iommu_group *g = &m->iommu->groups[gi];
        vfio_model_group *mg = &m->groups[gi];
        _cleanup_strv_free_ char **critical = NULL;
        int r;

        mg->group = g;
        critical = calloc(1, sizeof(char *));
        if (!critical)
                return -ENOMEM;
        STRV_FOREACH(member, g->members) {
                ssize_t i = vfio_pci_list_index(m->pci, *member);

                if (!member_is_bridge(m, *member))
                        mg->n_endpoints++;
                if (i < 0)
                        continue;
                STRV_FOREACH(c, m->devices[i].critical) {
                        char *s;

                        if (asprintf(&s, "%s: %s", *member, *c) < 0)
                                return -ENOMEM;
                        if (strv_push(&critical, s) < 0) {
                                free(s);
                                return -ENOMEM;
                        }
                }
        }
        if (strv_length(critical) > 0)
                mg->verdict = VFIO_VERDICT_HOST_CRITICAL;
        else if (mg->n_endpoints == 0)
                mg->verdict = VFIO_VERDICT_BRIDGE;
        else if (mg->n_endpoints == 1)
                mg->verdict = VFIO_VERDICT_ALONE;
        else
                mg->verdict = VFIO_VERDICT_WITH_PEERS;

        STRV_FOREACH(member, g->members) {
                ssize_t i = vfio_pci_list_index(m->pci, *member);
                vfio_model_device *md;

                if (i < 0)
                        continue;
                md = &m->devices[i];
                if (md->pci->iommu_group != g->id)
                        continue; /* a stale group entry; the device's own link wins */
                STRV_FOREACH(peer, g->members)
                        if (strcmp(*peer, *member) != 0 && !member_is_bridge(m, *peer) &&
                            (r = strv_extend(&md->group_peers, *peer)) < 0)
                                return r;
                STRV_FOREACH(c, critical)
                        if (strncmp(*c, *member, strlen(*member)) != 0 &&
                            (r = strv_extend(&md->blockers, *c)) < 0)
                                return r;
                if (vfio_pci_dev_is_bridge(md->pci))
                        md->verdict = VFIO_VERDICT_BRIDGE;
                else if (mg->verdict == VFIO_VERDICT_HOST_CRITICAL)
                        md->verdict = VFIO_VERDICT_HOST_CRITICAL;
                else
                        md->verdict = strv_length(md->group_peers) == 0 ? VFIO_VERDICT_ALONE
                                                                        : VFIO_VERDICT_WITH_PEERS;
        }
        return 0;
}

int vfio_model_load(const vfio_host *h, vfio_model **ret)
{
        _cleanup_(vfio_model_freep) vfio_model *m = NULL;
        int r;

        assert(ret);

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->problems = calloc(1, sizeof(char *));
        if (!m->problems)
                return -ENOMEM;
        r = vfio_pci_scan(h, &m->pci);
        if (r < 0)
                return log_debug_errno(r, "PCI scan failed: %s", strerror(-r));
        r = vfio_iommu_scan(h, &m->iommu);
        if (r < 0)
                return log_debug_errno(r, "IOMMU scan failed: %s", strerror(-r));
        r = vfio_critical_scan(h, m->pci, &m->critical);
        if (r < 0)
                return log_debug_errno(r, "host-critical scan failed: %s", strerror(-r));

        m->devices = calloc(m->pci->n + 1, sizeof(vfio_model_device));
        m->groups = calloc(m->iommu->n_groups + 1, sizeof(vfio_model_group));
        if (!m->devices || !m->groups)
                return -ENOMEM;
        for (size_t i = 0; i < m->pci->n; i++) {
                vfio_model_device *md = &m->devices[i];

                md->pci = m->pci->devs[i];
                md->group_peers = calloc(1, sizeof(char *));
                md->critical = calloc(1, sizeof(char *));
                md->blockers = calloc(1, sizeof(char *));
                if (!md->group_peers || !md->critical || !md->blockers)
                        return -ENOMEM;
                md->verdict = vfio_pci_dev_is_bridge(md->pci) ? VFIO_VERDICT_BRIDGE : VFIO_VERDICT_NO_IOMMU;
                {
                        _cleanup_free_ char *prefix = NULL;

                        if (asprintf(&prefix, "sys/bus/pci/devices/%s/", md->pci->name) < 0)
                                return -ENOMEM;
                        r = append_problems(&m->problems, md->pci->problems, prefix);
                        if (r < 0)
                                return r;
                }
        }
        if ((r = append_problems(&m->problems, m->pci->problems, "")) < 0 ||
            (r = append_problems(&m->problems, m->iommu->problems, "")) < 0 ||
            (r = append_problems(&m->problems, m->critical->problems, "")) < 0)
                return r;
        r = collect_critical(m);
        if (r < 0)
                return r;
        for (size_t g = 0; g < m->iommu->n_groups; g++) {
                r = judge_group(m, g);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(m);
        return 0;
}
