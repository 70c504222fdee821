/* The spelling of every enum value of the VM model, one table each (see VM_ENUM_DECLARE in vmconf.h). */
#include <errno.h>
#include <string.h>

#include "cleanup.h"
#include "vfioctl/vmconf.h"

#define VM_ENUM_DEFINE(name, ...)                                                           \
        const char *const name##_table[] = { __VA_ARGS__, NULL };                           \
        const char *name##_to_string(name v)                                                \
        {                                                                                   \
                return (unsigned)v < ELEMENTSOF(name##_table) - 1 ? name##_table[v] : NULL; \
        }                                                                                   \
        int name##_from_string(const char *s)                                               \
        {                                                                                   \
                for (size_t i = 0; s && name##_table[i]; i++)                               \
                        if (strcmp(name##_table[i], s) == 0)                                \
                                return (int)i;                                              \
                return -EINVAL;                                                             \
        }

/* Index = enum value: the order of the enums in vmconf.h. */
VM_ENUM_DEFINE(vm_machine, [VM_MACHINE_Q35] = "q35", [VM_MACHINE_I440FX] = "i440fx")
VM_ENUM_DEFINE(vm_accel, [VM_ACCEL_KVM] = "kvm", [VM_ACCEL_TCG] = "tcg")
VM_ENUM_DEFINE(vm_os, [VM_OS_OTHER] = "other", [VM_OS_WINDOWS] = "windows", [VM_OS_LINUX] = "linux")
VM_ENUM_DEFINE(vm_firmware, [VM_FIRMWARE_OVMF] = "ovmf", [VM_FIRMWARE_SEABIOS] = "seabios")
VM_ENUM_DEFINE(
        vm_hugepages, [VM_HUGEPAGES_NONE] = "none", [VM_HUGEPAGES_2M] = "2M", [VM_HUGEPAGES_1G] = "1G")
VM_ENUM_DEFINE(vm_disk_bus, [VM_DISK_VIRTIO_BLK] = "virtio-blk", [VM_DISK_VIRTIO_SCSI] = "virtio-scsi",
               [VM_DISK_SATA] = "sata", [VM_DISK_IDE] = "ide")
VM_ENUM_DEFINE(vm_disk_format, [VM_DISK_RAW] = "raw", [VM_DISK_QCOW2] = "qcow2")
VM_ENUM_DEFINE(vm_disk_media, [VM_MEDIA_DISK] = "disk", [VM_MEDIA_CDROM] = "cdrom")
VM_ENUM_DEFINE(vm_input_type, [VM_INPUT_EVDEV] = "evdev", [VM_INPUT_VIRTIO_KEYBOARD] = "virtio-keyboard",
               [VM_INPUT_VIRTIO_MOUSE] = "virtio-mouse", [VM_INPUT_VIRTIO_TABLET] = "virtio-tablet")
VM_ENUM_DEFINE(vm_input_relay, [VM_RELAY_AUTO] = "auto", [VM_RELAY_YES] = "yes", [VM_RELAY_NO] = "no")
VM_ENUM_DEFINE(vm_display_device, [VM_DISPLAY_NONE] = "none", [VM_DISPLAY_VIRTIO_VGA] = "virtio-vga",
               [VM_DISPLAY_QXL] = "qxl", [VM_DISPLAY_STD] = "std")
VM_ENUM_DEFINE(vm_display_protocol, [VM_PROTOCOL_NONE] = "none", [VM_PROTOCOL_SPICE] = "spice",
               [VM_PROTOCOL_VNC] = "vnc")
VM_ENUM_DEFINE(vm_net_type, [VM_NET_USER] = "user", [VM_NET_BRIDGE] = "bridge", [VM_NET_TAP] = "tap",
               [VM_NET_MACVTAP] = "macvtap")
VM_ENUM_DEFINE(vm_net_model, [VM_NET_VIRTIO] = "virtio", [VM_NET_E1000E] = "e1000e")
VM_ENUM_DEFINE(vm_audio_backend, [VM_AUDIO_NONE] = "none", [VM_AUDIO_PA] = "pa", [VM_AUDIO_ALSA] = "alsa")
VM_ENUM_DEFINE(vm_audio_device, [VM_AUDIO_ICH9_HDA] = "ich9-intel-hda", [VM_AUDIO_INTEL_HDA] = "intel-hda",
               [VM_AUDIO_AC97] = "ac97")
VM_ENUM_DEFINE(vm_audio_codec, [VM_CODEC_DUPLEX] = "hda-duplex", [VM_CODEC_OUTPUT] = "hda-output")
VM_ENUM_DEFINE(vm_lg_device, [VM_LG_SHM] = "shm", [VM_LG_KVMFR] = "kvmfr")
VM_ENUM_DEFINE(vm_share_type, [VM_SHARE_SMB] = "smb", [VM_SHARE_VIRTIOFS] = "virtiofs")

/* QEMU's own words for -drive aio=, cache=, discard= and input-linux grab-toggle= (qemu-options.hx). */
const char *const vm_disk_aio_table[] = { "threads", "native", "io_uring", NULL };
const char *const vm_disk_cache_table[] = {
        "none", "writeback", "writethrough", "directsync", "unsafe", NULL
};
const char *const vm_disk_discard_table[] = { "ignore", "unmap", NULL };
/* The macvtap modes of ip-link(8) and libvirt's <interface type='direct'> (formatdomain.rst, "Direct
 * attachment"). */
const char *const vm_net_macvtap_mode_table[] = { "bridge", "vepa", "private", "passthrough", NULL };
const char *const vm_input_grab_toggle_table[] = { "ctrl-ctrl", "alt-alt",    "shift-shift",
                                                   "meta-meta", "scrolllock", "ctrl-scrolllock",
                                                   NULL };
