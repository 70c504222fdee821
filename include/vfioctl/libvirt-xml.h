/* libvirt domain XML to the VM model and back: import (with every unmapped part listed) and export. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "vfioctl/vmconf.h"

/* A domain XML is read whole; real ones are 5-20 KiB. */
#define VM_LIBVIRT_MAX_SIZE (4 * 1024 * 1024)

typedef enum vm_libvirt_flags {
        /*
         * Keep qemu:commandline arguments vfioctl has no meaning for verbatim in [vm] extra_args (each
         * listed in ignored, approximate); without it they make the import fail with -EINVAL, each named
         * with its line.
         */
        VM_LIBVIRT_KEEP_UNKNOWN_ARGS = 1 << 0,
} vm_libvirt_flags;

/* One part of the XML that did not become config: where, what, and why. */
typedef struct vm_libvirt_item {
        unsigned line;
        char *what;       /* "<timer name='rtc' tickpolicy='catchup'>" or "qemu:arg -overcommit cpu-pm=on" */
        char *reason;     /* why it was not mapped, or what it became */
        bool approximate; /* in ignored: mapped, but not exactly (the user should read it) */
} vm_libvirt_item;

typedef struct vm_libvirt_import {
        vm_config *config;
        /* Parts that change the VM as QEMU runs it: --strict refuses an import with any. */
        vm_libvirt_item *dropped;
        size_t n_dropped;
        /*
         * Parts with no effect on the VM as vfioctl runs it (libvirt housekeeping: aliases, guest PCI
         * addresses, controllers QEMU or vfioctl add by themselves) or mapped approximately (noted).
         */
        vm_libvirt_item *ignored;
        size_t n_ignored;
} vm_libvirt_import;

vm_libvirt_import *vm_libvirt_import_free(vm_libvirt_import *imp);
VFIO_DEFINE_POINTER_CLEANUP(vm_libvirt_import, vm_libvirt_import_free)

/*
 * Parses a domain XML held in memory (filename only for messages) into a config named name (NULL: the
 * XML's <name>) that reproduces the domain: what vfioctl would add is offered in ignored, never applied.
 * Malformed XML: -EBADMSG with "FILE:LINE:COLUMN: message" in *ret_error. What cannot be mapped without
 * losing it (a bad unit, an arch other than x86_64, a passed device vfioctl cannot pass, pins it cannot
 * keep, QEMU arguments without a meaning): -EINVAL with "FILE:LINE: message" (one line per argument for
 * those). The config is checked with vm_config_check; its errors are -EINVAL too, at the XML's lines.
 * *ret_error is set on failure only.
 */
int vm_libvirt_import_string(const char *xml, size_t size, const char *filename, const char *name,
                             unsigned flags, vm_libvirt_import **ret, char **ret_error);
/* Reads (at most VM_LIBVIRT_MAX_SIZE) and imports a file. */
int vm_libvirt_import_file(const char *path, const char *name, unsigned flags, vm_libvirt_import **ret,
                           char **ret_error);

/*
 * The complete config file text for c: every key that differs from its default, so that parsing it
 * gives back an equal config: vm_config_write() without its guide.
 * header (optional) is written first as comment lines.
 */
int vm_libvirt_config_text(const vm_config *c, const char *header, char **ret);

/*
 * A libvirt domain XML for c (libvirt 9 schema, domain.rng). [gpu]/[pci] must be resolved or literal
 * PCI addresses. Parts libvirt cannot express are appended to *ret_lost (optional) as messages; the
 * rest goes through qemu:commandline.
 */
int vm_libvirt_export(const vm_config *c, char **ret_xml, char ***ret_lost);
