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
        K_ENUM, /* one of values, stored as its index (the enum value) */
        K_WORD, /* one of values, stored as the word (QEMU's own spelling: aio, cache) */
        K_LIST, /* whitespace-separated; repeated lines append */
        K_UUID,
        K_MAC,
        K_USB_ID,    /* vendor:product into vm_usb */
        K_FUNCTIONS, /* "auto" or selectors into vm_pci */
} key_type;

/* When the config writer writes a key (vm_config_write). */
typedef enum key_write {
        W_SET,    /* when it differs from the default: a string or list set, a number or switch changed */
        W_ALWAYS, /* always, so the file shows the choice */
} key_write;

typedef struct key_def {
        const char *section;
        const char *key;
        key_type type;
        size_t offset;
        const char *const *values; /* K_ENUM: index = enum value; K_WORD: the words */
        uint64_t min, max;         /* K_UINT, K_HEX, K_SIZE */
        const char *allowed;
        key_write write;
        /* When set, the writer writes the key exactly when this is true (item: the section's struct). */
        bool (*written)(const vm_config *c, const void *item);
} key_def;

typedef struct section_def {
        const char *name;
        bool repeated;
        bool name_optional; /* [gpu] may go without a name */
        size_t cfg_offset;  /* singleton struct, or the array pointer */
        size_t count_offset;
        size_t item_size;
        /* Singletons present only when written or turned on ([tpm] alone enables a TPM): their flag. */
        bool has_enabled;
        size_t enabled_offset;
} section_def;

/* The parser's tables, in file order: the writer writes sections and keys in this order. */
const key_def *vm_config_key_defs(size_t *ret_n);
const section_def *vm_config_section_defs(size_t *ret_n);
/* A new item of a repeated section with its defaults (the name and line left unset). */
void vm_config_item_defaults(const section_def *s, void *item);
