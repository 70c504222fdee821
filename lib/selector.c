/* Device selectors: parsing and resolution against the host model (the subset VM configs need). */
#include "vfioctl/selector.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "parse-util.h"
#include "strv.h"

vfio_selector *vfio_selector_free(vfio_selector *s)
{
        if (!s)
                return NULL;
        free(s->text);
        free(s);
        return NULL;
}

static bool parse_id_pair(const char *s, uint16_t *ret_vendor, uint16_t *ret_device)
{
        char v[5] = {};
        uint32_t a, b;

        /* Exactly 4:4 hex digits, the lspci -nn form; anything else is an address or a name. */
        if (strlen(s) != 9 || s[4] != ':')
                return false;
        memcpy(v, s, 4);
        if (parse_hex_id(v, 16, &a) < 0 || parse_hex_id(s + 5, 16, &b) < 0 || strncasecmp(v, "0x", 2) == 0 ||
            strncasecmp(s + 5, "0x", 2) == 0)
                return false;
        *ret_vendor = (uint16_t)a;
        *ret_device = (uint16_t)b;
        return true;
}

int vfio_selector_parse(const char *s, vfio_selector **ret)
{
        _cleanup_(vfio_selector_freep) vfio_selector *sel = NULL;

        if (!s || !*s || strlen(s) > 256)
                return -EINVAL;
        sel = calloc(1, sizeof(*sel));
        if (!sel)
                return -ENOMEM;
        sel->text = strdup(s);
        if (!sel->text)
                return -ENOMEM;
        if (vfio_pci_addr_parse(s, &sel->addr) == 0)
                sel->kind = VFIO_SELECTOR_ADDRESS;
        else if (parse_id_pair(s, &sel->vendor, &sel->device))
                sel->kind = VFIO_SELECTOR_ID;
        else if (strchr(s, ':') && strspn(s, "0123456789abcdefABCDEF:.") == strlen(s))
                return -EINVAL; /* looks like a malformed address or ID, not a name */
        else
                sel->kind = VFIO_SELECTOR_NAME;
        *ret = TAKE_PTR(sel);
        return 0;
}

static bool name_matches(const vfio_selector *s, const vfio_pci_dev *d, vfio_pci_names *names)
{
        _cleanup_free_ char *vendor = NULL, *device = NULL, *full = NULL;

        if (!names)
                return false;
        vendor = vfio_pci_names_vendor(names, d->vendor);
        device = vfio_pci_names_device(names, d->vendor, d->device);
        if (asprintf(&full, "%s %s", vendor ? vendor : "", device ? device : "") < 0)
                return false;
        return fnmatch(s->text, full, FNM_CASEFOLD) == 0 ||
               (device && fnmatch(s->text, device, FNM_CASEFOLD) == 0);
}

int vfio_selector_resolve(const vfio_selector *s, const vfio_model *m, vfio_pci_names *names, char ***ret)
{
        _cleanup_strv_free_ char **found = NULL;
        int r;

        for (size_t i = 0; m && m->pci && i < m->pci->n; i++) {
                const vfio_pci_dev *d = m->pci->devs[i];
                bool match;

                switch (s->kind) {
                case VFIO_SELECTOR_ADDRESS:
                        match = vfio_pci_addr_compare(&d->addr, &s->addr) == 0;
                        break;
                case VFIO_SELECTOR_ID:
                        match = !vfio_pci_dev_is_bridge(d) && d->vendor == s->vendor &&
                                d->device == s->device;
                        break;
                default:
                        match = !vfio_pci_dev_is_bridge(d) && name_matches(s, d, names);
                        break;
                }
                if (match) {
                        r = strv_extend(&found, d->name);
                        if (r < 0)
                                return r;
                }
        }
        if (!found)
                return log_debug_errno(-ENXIO, "selector '%s' matches no PCI device", s->text);
        *ret = TAKE_PTR(found);
        return 0;
}
