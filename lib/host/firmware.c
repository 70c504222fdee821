/*
 * Firmware and emulator facts: DMI identity, ACPI table names, OVMF images where distributions install
 * them, and the swtpm and QEMU binaries. Only names and paths are read; nothing is executed here.
 */
#include "vfioctl/firmware.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "strv.h"

vfio_firmware *vfio_firmware_free(vfio_firmware *f)
{
        if (!f)
                return NULL;
        free(f->board_vendor);
        free(f->board_name);
        free(f->sys_vendor);
        free(f->product_name);
        strv_free(f->acpi_tables);
        for (size_t i = 0; i < f->n_ovmf; i++) {
                free(f->ovmf[i].code);
                free(f->ovmf[i].vars);
        }
        free(f->ovmf);
        free(f->swtpm);
        free(f->qemu);
        free(f);
        return NULL;
}

bool vfio_firmware_has_acpi_table(const vfio_firmware *f, const char *sig)
{
        assert(f);

        return strv_contains(f->acpi_tables, sig);
}

/*
 * Code images and the vars template each pairs with, per distribution packaging:
 * Debian/Ubuntu ovmf (usr/share/OVMF), Fedora/RHEL edk2-ovmf (usr/share/edk2/ovmf), Arch edk2-ovmf
 * (usr/share/edk2/x64, older usr/share/edk2-ovmf/x64), openSUSE qemu-ovmf-x86_64 (usr/share/qemu).
 * Order: preferred first (4 MiB variable store builds, which Windows 11 and Secure Boot need). Paths are
 * absolute as a VM config names them; the host root is searched without the leading '/'.
 */
static const struct {
        const char *code, *vars;
        bool secure_boot, ms_keys;
} ovmf_known[] = {
        { "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd", false, false },
        { "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd", "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", true, true },
        { "/usr/share/OVMF/OVMF_CODE_4M.ms.fd", "/usr/share/OVMF/OVMF_VARS_4M.ms.fd", true, true },
        { "/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd", false, false },
        { "/usr/share/OVMF/OVMF_CODE.secboot.fd", "/usr/share/OVMF/OVMF_VARS.ms.fd", true, true },
        { "/usr/share/edk2/ovmf/OVMF_CODE.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd", false, false },
        { "/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd", "/usr/share/edk2/ovmf/OVMF_VARS.secboot.fd", true,
          true },
        { "/usr/share/edk2/x64/OVMF_CODE.4m.fd", "/usr/share/edk2/x64/OVMF_VARS.4m.fd", false, false },
        { "/usr/share/edk2/x64/OVMF_CODE.secboot.4m.fd", "/usr/share/edk2/x64/OVMF_VARS.4m.fd", true,
          false },
        { "/usr/share/edk2/x64/OVMF_CODE.fd", "/usr/share/edk2/x64/OVMF_VARS.fd", false, false },
        { "/usr/share/edk2-ovmf/x64/OVMF_CODE.fd", "/usr/share/edk2-ovmf/x64/OVMF_VARS.fd", false, false },
        { "/usr/share/edk2-ovmf/x64/OVMF_CODE.secboot.fd", "/usr/share/edk2-ovmf/x64/OVMF_VARS.fd", true,
          false },
        { "/usr/share/qemu/ovmf-x86_64-4m-code.bin", "/usr/share/qemu/ovmf-x86_64-4m-vars.bin", false,
          false },
        { "/usr/share/qemu/ovmf-x86_64-ms-4m-code.bin", "/usr/share/qemu/ovmf-x86_64-ms-4m-vars.bin", true,
          true },
};

static const char *const qemu_paths[] = {
        "usr/bin/qemu-system-x86_64", "usr/local/bin/qemu-system-x86_64",
        "usr/libexec/qemu-kvm", /* RHEL/CentOS: the only QEMU they ship */
};

static const char *const swtpm_paths[] = { "usr/bin/swtpm", "usr/local/bin/swtpm" };

static int first_existing(const vfio_host *h, const char *const *paths, size_t n, char **ret)
{
        for (size_t i = 0; i < n; i++)
                if (vfio_host_exists(h, paths[i]) > 0) {
                        *ret = strdup(paths[i]);
                        return *ret ? 0 : -ENOMEM;
                }
        *ret = NULL;
        return 0;
}

static int read_dmi(const vfio_host *h, const char *attr, char **ret)
{
        _cleanup_free_ char *path = NULL;
        int r;

        *ret = NULL;
        if (asprintf(&path, "sys/class/dmi/id/%s", attr) < 0)
                return -ENOMEM;
        r = vfio_host_read_attr(h, path, 256, ret);
        return r == -ENOMEM ? r : 0;
}

int vfio_firmware_read(const vfio_host *h, vfio_firmware **ret)
{
        _cleanup_(vfio_firmware_freep) vfio_firmware *f = calloc(1, sizeof(vfio_firmware));
        int r;

        assert(ret);

        if (!f)
                return -ENOMEM;
        if ((r = read_dmi(h, "board_vendor", &f->board_vendor)) < 0 ||
            (r = read_dmi(h, "board_name", &f->board_name)) < 0 ||
            (r = read_dmi(h, "sys_vendor", &f->sys_vendor)) < 0 ||
            (r = read_dmi(h, "product_name", &f->product_name)) < 0)
                return r;
        r = vfio_host_list_dir(h, "sys/firmware/acpi/tables", 1024, &f->acpi_tables);
        if (r == -ENOMEM)
                return r;
        f->have_acpi_tables = r >= 0;
        if (!f->acpi_tables && !(f->acpi_tables = calloc(1, sizeof(char *))))
                return -ENOMEM;

        f->ovmf = calloc(ELEMENTSOF(ovmf_known), sizeof(vfio_ovmf));
        if (!f->ovmf)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(ovmf_known); i++) {
                vfio_ovmf *o = &f->ovmf[f->n_ovmf];

                if (vfio_host_exists(h, ovmf_known[i].code + 1) <= 0)
                        continue;
                o->code = strdup(ovmf_known[i].code + 1);
                if (!o->code)
                        return -ENOMEM;
                if (vfio_host_exists(h, ovmf_known[i].vars + 1) > 0 &&
                    !(o->vars = strdup(ovmf_known[i].vars + 1)))
                        return -ENOMEM;
                o->secure_boot = ovmf_known[i].secure_boot;
                o->ms_keys = ovmf_known[i].ms_keys && o->vars;
                f->n_ovmf++;
        }
        if ((r = first_existing(h, qemu_paths, ELEMENTSOF(qemu_paths), &f->qemu)) < 0 ||
            (r = first_existing(h, swtpm_paths, ELEMENTSOF(swtpm_paths), &f->swtpm)) < 0)
                return r;
        *ret = TAKE_PTR(f);
        return 0;
}

const char *vfio_ovmf_vars_template_for(const char *code)
{
        for (size_t i = 0; code && i < ELEMENTSOF(ovmf_known); i++)
                if (strcmp(ovmf_known[i].code, code) == 0)
                        return ovmf_known[i].vars;
        return NULL;
}

const vfio_ovmf *vfio_firmware_pick_ovmf(const vfio_firmware *f, bool secure_boot)
{
        assert(f);

        for (size_t i = 0; i < f->n_ovmf; i++)
                if (f->ovmf[i].vars && f->ovmf[i].secure_boot == secure_boot)
                        return &f->ovmf[i];
        return NULL;
}
