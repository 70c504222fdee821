/* The distribution (etc/os-release) and how it applies kernel command-line and initramfs changes. */
#pragma once

#include "vfioctl/common.h"
#include "vfioctl/host.h"

typedef enum vfio_family {
        VFIO_FAMILY_UNKNOWN,
        VFIO_FAMILY_DEBIAN, /* Debian, Ubuntu, Mint, Pop!_OS */
        VFIO_FAMILY_FEDORA, /* Fedora, RHEL, CentOS, Rocky, Alma */
        VFIO_FAMILY_ARCH,   /* Arch, Manjaro, EndeavourOS */
        VFIO_FAMILY_SUSE,   /* openSUSE Leap and Tumbleweed, SLES */
} vfio_family;

typedef enum vfio_bootloader {
        VFIO_BOOT_GRUB,         /* etc/default/grub */
        VFIO_BOOT_SYSTEMD_BOOT, /* etc/kernel/cmdline, no grub */
        VFIO_BOOT_KERNELSTUB,   /* Pop!_OS */
} vfio_bootloader;

typedef struct vfio_distro {
        char *id, *pretty_name;
        vfio_family family;
        vfio_bootloader boot;
} vfio_distro;

int vfio_distro_read(const vfio_host *h, vfio_distro **ret);
/* Parses os-release text (exported for tests); has_grub/has_kernel_cmdline say what etc/ holds. */
int vfio_distro_parse(const char *os_release, int has_grub, int has_kernel_cmdline, vfio_distro **ret);
vfio_distro *vfio_distro_free(vfio_distro *d);
VFIO_DEFINE_POINTER_CLEANUP(vfio_distro, vfio_distro_free)

/* The exact edit and commands that add args ("intel_iommu=on iommu=pt") to the kernel command line. */
char *vfio_distro_cmdline_fix(const vfio_distro *d, const char *args);
/* The command that rebuilds the initramfs ("update-initramfs -u", "dracut -f", "mkinitcpio -P"); Debian's
 * for an unknown family (advice only: setup runs nothing there). */
const char *vfio_distro_initramfs_cmd(const vfio_distro *d);
/* The same as argument vectors, the tool by name (vfio_hostcmd_locate finds its path); NULL-terminated. */
const char *const *vfio_distro_initramfs_argv(const vfio_distro *d);
const char *const *vfio_distro_grub_mkconfig_argv(const vfio_distro *d);
/* The command that regenerates grub.cfg from etc/default/grub ("update-grub", "grub2-mkconfig -o ..."). */
const char *vfio_distro_grub_mkconfig_cmd(const vfio_distro *d);
/* The edit that puts modules into the initramfs so they load before the GPU drivers, then the rebuild. */
char *vfio_distro_early_modules_fix(const vfio_distro *d, const char *modules);
/* The package of this family for a Debian package name ("ovmf" is "edk2-ovmf" on Fedora and Arch). */
const char *vfio_distro_package(const vfio_distro *d, const char *pkg);
/* The non-interactive install command without its packages, the tool by name ("apt-get", "install", "-y").
 */
const char *const *vfio_distro_install_argv(const vfio_distro *d);
/* "apt-get install swtpm" etc.; pkg names the Debian package, the others are mapped here. */
char *vfio_distro_install_cmd(const vfio_distro *d, const char *what);
