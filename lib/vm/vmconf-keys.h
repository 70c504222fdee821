/* The tables behind vfioctl.conf(5), private to lib/vm: one entry per key and per section (vmconf.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vfioctl/vmconf.h"

typedef enum key_type {
        K_STRING,
        K_PATH, /* absolute path */
        K_BOOL,
        K_UINT,
        K_HEX, /* unsigned, C prefixes allowed */
        K_SIZE,
        K_ENUM,
        K_LIST, /* whitespace-separated; repeated lines append */
        K_UUID,
        K_MAC,
        K_USB_ID,    /* vendor:product into vm_usb */
        K_FUNCTIONS, /* "auto" or selectors into vm_pci */
} key_type;

typedef struct key_def {
        const char *section;
        const char *key;
        key_type type;
        size_t offset;
        const char *const *values; /* K_ENUM: index = enum value */
        uint64_t min, max;         /* K_UINT, K_HEX, K_SIZE */
        const char *allowed;
} key_def;

typedef struct section_def {
        const char *name;
        bool repeated;
        bool name_optional; /* [gpu] may go without a name */
        size_t cfg_offset;  /* singleton struct, or the array pointer */
        size_t count_offset;
        size_t item_size;
} section_def;
