/* What a VM config asks of the host, for the host-side verbs (check --vm, setup --vm). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "vfioctl/vmconf.h"

typedef struct vm_needs {
        char **devices;         /* selectors as the config writes them; the verbs add slot companions */
        char **usb;             /* "046d:c52b" of USB devices passed by vendor:product */
        uint64_t memory;        /* guest RAM in bytes: VFIO pins all of it */
        uint64_t hugepages;     /* bytes of hugepages the guest backs its RAM with; 0 without */
        uint64_t hugepage_size; /* bytes per page: 2 MiB or 1 GiB ([memory] hugepages); 0 without */
        bool input_relay;       /* evdev inputs for the input relay (needs uinput) */
} vm_needs;

/* Collects what the config c needs of the host. */
int vm_needs_from_config(const vm_config *c, vm_needs *ret);
void vm_needs_done(vm_needs *n);

/* Whether any evdev input asks for the input relay (relay = auto or yes). */
bool vm_needs_relay(const vm_config *c);
