/* The demo guest: Debian's kernel and busybox in an initramfs that greets and powers off, and its config. */
#pragma once

#include <stdbool.h>

#include "vfioctl/common.h"

#define VM_DEMO_NAME  "vfioctl-demo"
#define VM_DEMO_HELLO "vfioctl demo guest: hello from" /* what /init prints on the serial console */

typedef struct vm_demo_guest {
        char *kernel;  /* CACHE/vmlinux (the test bed's raw kernel: PVH, no decompression) or vmlinuz-VER */
        char *busybox; /* CACHE/bb/bin/busybox */
        char *moddir;  /* CACHE/kpkg/lib/modules/VER */
} vm_demo_guest;

vm_demo_guest *vm_demo_guest_free(vm_demo_guest *g);
VFIO_DEFINE_POINTER_CLEANUP(vm_demo_guest, vm_demo_guest_free)

/* The guest unpacked in cache (the VFIO test bed's cache has the same layout); -ENOENT when not there. */
int vm_demo_guest_find(const char *cache, vm_demo_guest **ret);
/* The kernel package linux-image-amd64 depends on here ("linux-image-6.1.0-26-amd64"), by apt-cache. */
int vm_demo_kernel_package(char **ret);
/* apt-get download of that package and busybox-static into CACHE/pkgs, dpkg -x into CACHE/kpkg and bb. */
int vm_demo_fetch(const char *cache, const char *kernel_package);
/*
 * The initramfs (newc cpio, Documentation/driver-api/early-userspace): busybox, /init, acpid's power button
 * script, the button and evdev modules when the kernel has them as modules. Written atomically to out.
 */
int vm_demo_initramfs(const vm_demo_guest *g, const char *out);
/* The demo's directory (initramfs, config): made, and readable by the VM user (0755) if it was there. */
int vm_demo_workdir(const char *dir);
/* The demo VM's config text: TCG or KVM, as nobody when root starts it. */
int vm_demo_config(const vm_demo_guest *g, const char *initrd, bool kvm, bool as_root, char **ret);
