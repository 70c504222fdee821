/* What a VM config asks of the host, for the host-side verbs (check --vm, setup --vm). */
#include "vfioctl/vmneeds.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"
#include "vfioctl/qemu-argv.h"

void vm_needs_done(vm_needs *n)
{
        n->devices = strv_free(n->devices);
        n->usb = strv_free(n->usb);
}

static int add_pci(char ***l, const vm_pci *p)
{
        int r;

        /* Selectors stay as written: check and setup resolve them on this host with bind's selection,
         * which adds the other functions of each slot ("functions = auto"). */
        if (p->device && !strv_contains(*l, p->device) && (r = strv_extend(l, p->device)) < 0)
                return r;
        STRV_FOREACH(f, p->functions)
                if (strcmp(*f, "auto") != 0 && !strv_contains(*l, *f) && (r = strv_extend(l, *f)) < 0)
                        return r;
        return 0;
}

bool vm_needs_relay(const vm_config *c)
{
        assert(c);

        for (size_t i = 0; i < c->n_inputs; i++)
                if (vm_qemu_input_wants_relay(&c->inputs[i]))
                        return true;
        return false;
}

int vm_needs_from_config(const vm_config *c, vm_needs *ret)
{
        vm_needs n = { 0 };
        int r;

        assert(c);
        assert(ret);

        n.devices = calloc(1, sizeof(char *));
        n.usb = calloc(1, sizeof(char *));
        if (!n.devices || !n.usb) {
                vm_needs_done(&n);
                return -ENOMEM;
        }
        for (size_t i = 0; i < c->n_gpus; i++)
                if ((r = add_pci(&n.devices, &c->gpus[i])) < 0)
                        goto fail;
        for (size_t i = 0; i < c->n_pcis; i++)
                if ((r = add_pci(&n.devices, &c->pcis[i])) < 0)
                        goto fail;
        for (size_t i = 0; i < c->n_usbs; i++) {
                char id[10];

                if (!c->usbs[i].has_id)
                        continue; /* by bus/port: no stable ID for a udev rule */
                snprintf(id, sizeof(id), "%04x:%04x", c->usbs[i].vendor, c->usbs[i].product);
                if (!strv_contains(n.usb, id) && (r = strv_extend(&n.usb, id)) < 0)
                        goto fail;
        }
        n.input_relay = vm_needs_relay(c);
        n.memory = c->memory.size;
        n.hugepages = c->memory.hugepages != VM_HUGEPAGES_NONE ? c->memory.size : 0;
        n.hugepage_size = c->memory.hugepages == VM_HUGEPAGES_1G   ? UINT64_C(1) << 30
                          : c->memory.hugepages == VM_HUGEPAGES_2M ? UINT64_C(2) << 20
                                                                   : 0;
        *ret = n;
        return 0;
fail:
        vm_needs_done(&n);
        return r;
}
