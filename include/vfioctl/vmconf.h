/* The VM model: one INI file per VM (vfioctl.conf(5)) parsed into plain data, with file:line errors. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vfioctl/common.h"

/* A config is read whole; anything larger is not a hand-written VM definition. */
#define VM_CONFIG_MAX_SIZE (1024 * 1024)
/* Errors kept per file (a count says how many more), and bytes per message (input is cut, not echoed whole).
 */
#define VM_CONFIG_MAX_ERRORS    100
#define VM_CONFIG_MAX_ERROR_LEN 512
/* Caps on repeated sections, so a runaway file cannot make an unbounded argv. */
#define VM_CONFIG_MAX_ITEMS 64

typedef enum vm_machine { VM_MACHINE_Q35, VM_MACHINE_I440FX } vm_machine;
typedef enum vm_accel { VM_ACCEL_KVM, VM_ACCEL_TCG } vm_accel;
typedef enum vm_os { VM_OS_OTHER, VM_OS_WINDOWS, VM_OS_LINUX } vm_os;
typedef enum vm_firmware { VM_FIRMWARE_OVMF, VM_FIRMWARE_SEABIOS } vm_firmware;
typedef enum vm_hugepages { VM_HUGEPAGES_NONE, VM_HUGEPAGES_2M, VM_HUGEPAGES_1G } vm_hugepages;
typedef enum vm_disk_bus { VM_DISK_VIRTIO_BLK, VM_DISK_VIRTIO_SCSI, VM_DISK_SATA, VM_DISK_IDE } vm_disk_bus;
typedef enum vm_disk_format { VM_DISK_RAW, VM_DISK_QCOW2 } vm_disk_format;
typedef enum vm_disk_media { VM_MEDIA_DISK, VM_MEDIA_CDROM } vm_disk_media;
typedef enum vm_input_type {
        VM_INPUT_EVDEV,
        VM_INPUT_VIRTIO_KEYBOARD,
        VM_INPUT_VIRTIO_MOUSE,
        VM_INPUT_VIRTIO_TABLET,
} vm_input_type;
/* How vfioctl start feeds an evdev device to QEMU: through its uinput relay (survives a replug) or directly.
 */
typedef enum vm_input_relay { VM_RELAY_AUTO, VM_RELAY_YES, VM_RELAY_NO } vm_input_relay;
typedef enum vm_display_device {
        VM_DISPLAY_NONE,
        VM_DISPLAY_VIRTIO_VGA,
        VM_DISPLAY_QXL,
        VM_DISPLAY_STD
} vm_display_device;
typedef enum vm_display_protocol {
        VM_PROTOCOL_NONE,
        VM_PROTOCOL_SPICE,
        VM_PROTOCOL_VNC
} vm_display_protocol;
typedef enum vm_net_type { VM_NET_USER, VM_NET_BRIDGE, VM_NET_TAP, VM_NET_MACVTAP } vm_net_type;
typedef enum vm_net_model { VM_NET_VIRTIO, VM_NET_E1000E } vm_net_model;
typedef enum vm_audio_backend { VM_AUDIO_NONE, VM_AUDIO_PA, VM_AUDIO_ALSA } vm_audio_backend;
typedef enum vm_audio_device { VM_AUDIO_ICH9_HDA, VM_AUDIO_INTEL_HDA, VM_AUDIO_AC97 } vm_audio_device;
typedef enum vm_audio_codec { VM_CODEC_DUPLEX, VM_CODEC_OUTPUT } vm_audio_codec;
/* Where [audio] backend = pa sends the sound (docs/audio.md). */
typedef enum vm_audio_server {
        VM_SERVER_SESSION, /* no server key and no desktop user: the VM user's own /run/user/UID/pulse/native
                            */
        VM_SERVER_DESKTOP, /* the desktop user's server, through the socket vfioctl setup --vm grants */
        VM_SERVER_PATH,    /* an explicit socket path */
        VM_SERVER_NONE,    /* no server: QEMU's silent backend */
} vm_audio_server;
/* What backs Looking Glass's IVSHMEM region: a file in /dev/shm, or the kvmfr module's device. */
typedef enum vm_lg_device { VM_LG_SHM, VM_LG_KVMFR } vm_lg_device;
typedef enum vm_share_type { VM_SHARE_SMB, VM_SHARE_VIRTIOFS } vm_share_type;

/*
 * One string table per enum: NAME_table[value] is the value's spelling in vfioctl.conf(5), the table ends
 * with NULL. The parser, the config writer, the libvirt exporter and the man page test all read these.
 * NAME_to_string() gives NULL for a value out of range; NAME_from_string() the value, or -EINVAL.
 */
#define VM_ENUM_DECLARE(name)                    \
        extern const char *const name##_table[]; \
        const char *name##_to_string(name v);    \
        int name##_from_string(const char *s)

VM_ENUM_DECLARE(vm_machine);
VM_ENUM_DECLARE(vm_accel);
VM_ENUM_DECLARE(vm_os);
VM_ENUM_DECLARE(vm_firmware);
VM_ENUM_DECLARE(vm_hugepages);
VM_ENUM_DECLARE(vm_disk_bus);
VM_ENUM_DECLARE(vm_disk_format);
VM_ENUM_DECLARE(vm_disk_media);
VM_ENUM_DECLARE(vm_input_type);
VM_ENUM_DECLARE(vm_input_relay);
VM_ENUM_DECLARE(vm_display_device);
VM_ENUM_DECLARE(vm_display_protocol);
VM_ENUM_DECLARE(vm_net_type);
VM_ENUM_DECLARE(vm_net_model);
VM_ENUM_DECLARE(vm_audio_backend);
VM_ENUM_DECLARE(vm_audio_device);
VM_ENUM_DECLARE(vm_audio_codec);
VM_ENUM_DECLARE(vm_lg_device);
VM_ENUM_DECLARE(vm_share_type);

/* Keys whose value is kept as its spelling (QEMU's own words) rather than an enum: the allowed words. */
extern const char *const vm_disk_aio_table[];
extern const char *const vm_disk_cache_table[];
extern const char *const vm_disk_discard_table[];
extern const char *const vm_net_macvtap_mode_table[];
extern const char *const vm_input_grab_toggle_table[];

typedef struct vm_general {
        char *emulator; /* QEMU binary, argv[0] */
        vm_os os;
        vm_machine machine;
        vm_accel accel;
        uint64_t max_ram_below_4g; /* 0: QEMU's default */
        unsigned spare_root_ports; /* q35: empty PCIe root ports for hotplug */
        char *uuid;
        bool rtc_localtime;
        bool rtc_catchup; /* driftfix=slew: the RTC catches up on missed ticks */
        bool pit_delay;   /* kvm-pit.lost_tick_policy=delay */
        bool hpet;
        bool vmport;
        char *debugcon; /* OVMF debug log file */
        char **extra_args;
        char *user; /* account QEMU runs as when started by root (vfioctl start); NULL: root refuses */
        char *desktop_user; /* the person at the screen: hears the VM, reads Looking Glass; NULL: unknown */
        bool bind_devices;  /* start (as root) moves passed devices to vfio-pci, and back to their drivers
                               after */
        char *kernel, *initrd, *append; /* direct kernel boot (-kernel, -initrd, -append) */
} vm_general;

typedef struct vm_firmware_conf {
        vm_firmware type;
        bool secure_boot;
        char *code;           /* read-only pflash image */
        char *vars_template;  /* copied once per VM */
        char *vars;           /* the per-VM copy; NULL: STATE_DIR/NAME/OVMF_VARS.fd */
        uint64_t mmio64_size; /* OVMF's 64-bit PCI MMIO window (fw_cfg opt/ovmf/X-PciMmio64Mb); 0: OVMF's */
} vm_firmware_conf;

typedef struct vm_tpm {
        bool enabled;
        char *socket; /* swtpm control socket; NULL: RUNTIME_DIR/swtpm.sock */
} vm_tpm;

typedef struct vm_cpu {
        char *model; /* "host" (passthrough) or a QEMU CPU model */
        unsigned sockets, cores, threads;
        bool hide_kvm; /* kvm=off: hides the KVM signature (NVIDIA error 43 before driver 465) */
        bool hyperv;
        char *hyperv_vendor_id;
        char **hyperv_extra; /* more hv-* flags, "hv-vpindex", "hv-spinlocks=0xfff" (with or without hyperv)
                              */
        char **features;     /* CPUID features on or off: "+topoext", "-hypervisor" */
        unsigned vcpus;      /* vCPUs started; 0: all of sockets x cores x threads (the rest stay empty) */
        char **pin;          /* host CPU for each started vCPU, in vCPU order (applied by the launcher) */
        char **emulator_pin; /* host CPUs for QEMU's other threads */
        char **pin_notes; /* why create chose pin: written as comments above it, not a key (never parsed) */
        bool isolate; /* while it runs, host tasks, the passed devices' IRQs and the frequency governor keep
                         off the vCPUs' host CPUs (lib/run/isolate.c) */
} vm_cpu;

typedef struct vm_memory {
        uint64_t size;
        vm_hugepages hugepages;
        char *hugepage_path; /* NULL: /dev/hugepages (2M) or /dev/hugepages1G (1G) */
        bool prealloc;
        unsigned prealloc_threads;
        bool locked;
        char **host_nodes; /* host NUMA nodes guest RAM is bound to (host-nodes=,policy=bind); NULL: any */
} vm_memory;

typedef struct vm_smbios {
        char *bios_vendor, *bios_version, *bios_date, *bios_release;
        char *system_manufacturer, *system_product, *system_version, *system_serial, *system_uuid,
                *system_sku, *system_family;
        char *baseboard_manufacturer, *baseboard_product, *baseboard_version, *baseboard_serial,
                *baseboard_asset;
        char *chassis_manufacturer, *chassis_version, *chassis_serial, *chassis_asset, *chassis_sku;
} vm_smbios;

typedef struct vm_display {
        vm_display_device device; /* NONE: no emulated display; "-display none" */
        vm_display_protocol protocol;
        char *socket; /* NULL: RUNTIME_DIR/spice.sock or vnc.sock */
        /* DDC/CI monitor input switching by vfioctl start/stop (ddcutil setvcp 60, MCCS "Input Select"). */
        unsigned ddc_bus; /* /dev/i2c-N; set when vm_config_key_line(c, "display", "ddc_bus") */
        char *monitor;    /* ddcutil --display N, when ddc_bus is not set */
        unsigned input_host, input_guest; /* VCP 0x60 values; 0: not set */
} vm_display;

typedef struct vm_looking_glass {
        bool enabled;
        unsigned width, height;
        uint64_t size; /* 0: computed from width x height */
        char *path;    /* NULL: /dev/shm/looking-glass, or /dev/kvmfr0 with device = kvmfr */
        vm_lg_device device;
} vm_looking_glass;

typedef struct vm_audio {
        bool enabled; /* the [audio] section is present */
        vm_audio_backend backend;
        char *server; /* "desktop", "none" or a PulseAudio/PipeWire socket path; NULL: see vm_audio_server_of
                       */
        char *alsa_device;
        vm_audio_device device;
        vm_audio_codec codec;
        unsigned buffer_length; /* microseconds, 0: QEMU's default */
        unsigned timer_period;  /* microseconds, 0: QEMU's default */
} vm_audio;

/* Passthrough of a GPU with its functions, or of any other PCI device. */
typedef struct vm_pci {
        char *name;
        unsigned line;
        char *device;     /* selector: 01:00.0, 10de:1b80 or a name pattern */
        char **functions; /* extra selectors; "auto" = every function of the device's slot */
        bool functions_auto;
        bool x_vga;
        char *romfile;
        bool rombar;
        /* [gpu] only: the host's own display card given to the VM while it runs (lib/run/handoff.c) */
        bool handoff;
        char *display_manager; /* systemd unit stopped first; NULL: what display-manager.service names */
        char **resolved;       /* host addresses after vm_config_resolve(), function 0 first */
        unsigned bootindex;    /* firmware boot order of function 0; 0: not a boot device */
} vm_pci;

typedef struct vm_usb {
        char *name;
        unsigned line;
        uint16_t vendor, product;
        bool has_id;
        unsigned host_bus;
        char *host_port; /* "2.3" */
        unsigned bootindex;
} vm_usb;

typedef struct vm_input {
        char *name;
        unsigned line;
        vm_input_type type;
        char *evdev;
        bool grab_all;
        bool repeat;
        char *grab_toggle;
        vm_input_relay relay;
} vm_input;

typedef struct vm_disk {
        char *name;
        unsigned line;
        char *path;
        vm_disk_format format;
        vm_disk_media media;
        vm_disk_bus bus;
        bool iothread;
        char *aio;
        char *cache;
        char *discard;
        char *serial;
        bool readonly;
        unsigned bootindex;
} vm_disk;

typedef struct vm_net {
        char *name;
        unsigned line;
        vm_net_type type;
        vm_net_model model;
        char *mac;
        char *bridge;
        char *helper;
        char *ifname; /* tap: the tap device; macvtap: the macvtap interface vfioctl opens */
        char **hostfwd;
        char *link;         /* macvtap: the host interface below it (enp5s0), for libvirt and the fix */
        char *macvtap_mode; /* macvtap: bridge, vepa, private or passthrough */
} vm_net;

typedef struct vm_share {
        char *name;
        unsigned line;
        vm_share_type type;
        char *path;
} vm_share;

typedef struct vm_key_line {
        char *section; /* as written: disk "system" */
        char *key;
        unsigned line;
} vm_key_line;

typedef struct vm_config {
        char *name;
        char *filename; /* for messages */
        vm_general vm;
        vm_firmware_conf firmware;
        vm_tpm tpm;
        vm_cpu cpu;
        vm_memory memory;
        vm_smbios smbios;
        vm_display display;
        vm_looking_glass looking_glass;
        vm_audio audio;
        vm_pci *gpus;
        size_t n_gpus;
        vm_pci *pcis;
        size_t n_pcis;
        vm_usb *usbs;
        size_t n_usbs;
        vm_input *inputs;
        size_t n_inputs;
        vm_disk *disks;
        size_t n_disks;
        vm_net *nets;
        size_t n_nets;
        vm_share *shares;
        size_t n_shares;
        vm_key_line *lines;
        size_t n_lines;
} vm_config;

/* A config with every default set and no sections. */
int vm_config_new(const char *name, vm_config **ret);
vm_config *vm_config_free(vm_config *c);
VFIO_DEFINE_POINTER_CLEANUP(vm_config, vm_config_free)

/*
 * Parses text (the contents of filename, which is only used in messages). On failure returns -EINVAL
 * and every problem as "FILE:LINE: message" in *ret_errors (which is set on failure only).
 */
int vm_config_parse_string(const char *text, const char *filename, const char *name, vm_config **ret,
                           char ***ret_errors);
/*
 * Reads and parses a file (at most VM_CONFIG_MAX_SIZE); the VM name is the file's base name less .conf.
 * -EBADFD when it is not a regular file (a FIFO, /dev/stdin), -EISDIR for a directory; a NUL byte is a
 * "FILE:LINE:" error (-EINVAL).
 */
int vm_config_load(const char *path, vm_config **ret, char ***ret_errors);
/* The same from a descriptor the caller opened (and judged): path names it in messages and gives the name.
 */
int vm_config_load_fd(int fd, const char *path, vm_config **ret, char ***ret_errors);
/* Checks consistency across keys; appends "FILE:LINE: message" to *errors; returns -EINVAL if any. */
int vm_config_check(const vm_config *c, char ***errors);
typedef enum vm_config_write_flags {
        /* The commented starting point of `vfioctl create`: what the main keys do, and examples of keys
         * left out. Without it, the keys alone. */
        VM_CONFIG_WRITE_GUIDE = 1 << 0,
} vm_config_write_flags;

/*
 * The config file text for c: in the order of vfioctl.conf(5), each key that differs from its default
 * and the keys that show a choice (machine, os, ...), so that parsing the text gives back an equal
 * config. header (optional; with VM_CONFIG_WRITE_GUIDE a default one) comes first as comment lines.
 * -EINVAL when a value cannot be one line of the file (a control character; a list word with a blank).
 */
int vm_config_write(const vm_config *c, unsigned flags, const char *header, char **ret);

/* The line a key was set on (0 when it was not set). */
unsigned vm_config_key_line(const vm_config *c, const char *section, const char *key);

/* Number of vCPUs started: [cpu] vcpus, else sockets * cores * threads. */
unsigned vm_config_vcpus(const vm_config *c);
/* Number of vCPU places in the topology: sockets * cores * threads (QEMU's maxcpus). */
unsigned vm_config_max_vcpus(const vm_config *c);
/* Looking Glass shared memory: w*h*4*2 + 10 MiB rounded up to a power of two (its docs, "IVSHMEM"). */
uint64_t vm_looking_glass_size(unsigned width, unsigned height);
/* The region's size in effect: [looking-glass] size, else the computed one. */
uint64_t vm_looking_glass_bytes(const vm_config *c);
/* The file or device QEMU maps: [looking-glass] path, else /dev/shm/looking-glass or /dev/kvmfr0. */
const char *vm_looking_glass_path(const vm_config *c);
/* Where the sound goes, with the default resolved: desktop when [vm] desktop_user is set. */
vm_audio_server vm_audio_server_of(const vm_config *c);

/* Every key, for documentation and did-you-mean: section kind ("disk"), key, type and allowed values. */
typedef struct vm_key_info {
        const char *section;
        const char *key;
        const char *allowed;       /* human text: "q35, i440fx", "size (16G, 16384M)" */
        const char *const *values; /* a key with a fixed set of words: its string table; else NULL */
} vm_key_info;
const vm_key_info *vm_config_keys(size_t *ret_n);

/* Finds the closest known word to s (edit distance at most 2, or a shared prefix), or NULL. */
const char *vm_did_you_mean(const char *s, const char *const *candidates, size_t n);
