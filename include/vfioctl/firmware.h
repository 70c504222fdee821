/* Firmware and emulator facts under the root: DMI board, ACPI tables, OVMF images, swtpm and QEMU. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "vfioctl/common.h"
#include "vfioctl/host.h"

typedef struct vfio_ovmf {
        char *code;       /* root-relative: "usr/share/OVMF/OVMF_CODE_4M.fd" */
        char *vars;       /* the matching variable store template, NULL when none is found */
        bool secure_boot; /* a Secure Boot build (.secboot / .ms / secboot in the name) */
        bool ms_keys;     /* its vars template enrolls Microsoft's keys (.ms) */
} vfio_ovmf;

typedef struct vfio_firmware {
        char *board_vendor, *board_name, *sys_vendor, *product_name; /* sys/class/dmi/id; NULL when absent */
        bool have_acpi_tables; /* sys/firmware/acpi/tables is readable */
        char **acpi_tables;    /* its entries: "APIC", "DMAR", "IVRS", ... */
        vfio_ovmf *ovmf;       /* every code image found, in search order */
        size_t n_ovmf;
        char *swtpm; /* root-relative path of swtpm, NULL when absent */
        char *qemu;  /* root-relative path of qemu-system-x86_64 (or qemu-kvm), NULL when absent */
} vfio_firmware;

int vfio_firmware_read(const vfio_host *h, vfio_firmware **ret);
vfio_firmware *vfio_firmware_free(vfio_firmware *f);
VFIO_DEFINE_POINTER_CLEANUP(vfio_firmware, vfio_firmware_free)

bool vfio_firmware_has_acpi_table(const vfio_firmware *f, const char *sig);
/*
 * The vars template packaged with an OVMF code image ("/usr/share/OVMF/OVMF_CODE.fd" ->
 * "/usr/share/OVMF/OVMF_VARS.fd"), from the distributions' pairing table; NULL for an image it does not
 * know. A code image and a vars store of different builds do not boot (their flash layouts differ).
 */
const char *vfio_ovmf_vars_template_for(const char *code);
/* The first OVMF pair with a vars template, preferring (secure_boot) a Secure Boot build; NULL if none. */
const vfio_ovmf *vfio_firmware_pick_ovmf(const vfio_firmware *f, bool secure_boot);
