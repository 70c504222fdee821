/* What a VM config asks of the host, for the host-side verbs (check --vm, setup --vm). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "vfioctl/vmconf.h"

typedef struct vm_needs {
        char **devices;     /* selectors as the config writes them; the verbs add slot companions */
        char **usb;         /* "046d:c52b" of USB devices passed by vendor:product */
        uint64_t memory;    /* guest RAM in bytes: VFIO pins all of it */
        uint64_t hugepages; /* bytes of hugepages the guest backs its RAM with; 0 without */
        bool input_relay;   /* evdev inputs for the input relay (needs uinput) */
        vm_config *config;  /* the config itself: its user, desktop user, sound and Looking Glass */
} vm_needs;

/* Loads NAME (or a config FILE) and collects its needs; reports config errors itself. */
int vm_needs_load(const char *name, vm_needs *ret);
void vm_needs_done(vm_needs *n);
