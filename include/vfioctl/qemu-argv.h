/* VM model (with resolved host devices) to the QEMU 7.2 command line: a pure function, golden-tested. */
#pragma once

#include <stdbool.h>

#include "vfioctl/vmconf.h"

typedef struct vm_argv_paths {
        const char *runtime_dir; /* sockets: qmp.sock, spice.sock, vnc.sock, swtpm.sock */
        const char *state_dir;   /* per-VM files: OVMF_VARS.fd */
        unsigned uid;            /* for the default PulseAudio server /run/user/UID/pulse/native */
        const char *user; /* the user QEMU runs as; NULL: [vm] user (server = desktop decides by it) */
        const char *root; /* the host root the grant socket lives under; NULL: "/" (audio-grant.h) */
        bool input_relay; /* evdev inputs with relay != no come from vfioctl's relay (RUNTIME_DIR/VM-*) */
        /* A hugetlbfs file vfioctl has filled (vm_prealloc_hugetlbfs), e.g. "/proc/self/fd/3": the memory
         * backend maps it shared instead of creating its own in [memory] hugepage_path. */
        const char *memory_file;
} vm_argv_paths;

/* The one place QEMU option values are escaped: ',' becomes ",," (QEMU docs, "Invocation", options). */
char *vm_qemu_escape(const char *s);

/* Firmware images in effect (the config's, else Debian's OVMF 4M builds). */
const char *vm_qemu_firmware_code(const vm_config *c);
const char *vm_qemu_firmware_vars_template(const vm_config *c);
/* The per-VM vars copy: [firmware] vars, else STATE_DIR/OVMF_VARS.fd. */
char *vm_qemu_firmware_vars(const vm_config *c, const vm_argv_paths *p);
/*
 * A [net] type = macvtap reaches QEMU as an open descriptor of its tap device: the n-th macvtap of the
 * config (in [net] order) at VM_QEMU_MACVTAP_FD_BASE + n, where the launcher must put it.
 */
#define VM_QEMU_MACVTAP_FD_BASE 10
int vm_qemu_macvtap_fd(const vm_config *c, const vm_net *n);
/* The hugetlbfs directory of the guest RAM: [memory] hugepage_path, else /dev/hugepages(1G). */
const char *vm_qemu_hugepage_dir(const vm_config *c);
/* RUNTIME_DIR/qmp.sock */
char *vm_qemu_qmp_socket(const vm_argv_paths *p);
char *vm_qemu_tpm_socket(const vm_config *c, const vm_argv_paths *p);
/*
 * [audio] server = desktop with QEMU running as a user other than [vm] desktop_user: the sound goes through
 * the socket vfioctl setup --vm grants (audio-grant.h, docs/audio.md).
 */
bool vm_qemu_audio_granted(const vm_config *c, const vm_argv_paths *p);
/*
 * The PulseAudio socket for backend = pa: the server path, the grant socket (see above), else the session
 * socket of the user QEMU runs as, /run/user/UID/pulse/native. NULL with server = none or without memory.
 */
char *vm_qemu_audio_server(const vm_config *c, const vm_argv_paths *p);
/* True when QEMU reads this input from the relay; then RUNTIME_DIR/VM-INPUT is the link it opens (made by
 * `vfioctl input relay --out VM --label INPUT --link RUNTIME_DIR`). */
bool vm_qemu_input_relayed(const vm_input *in, const vm_argv_paths *p);
/* An evdev input that asks for the relay (relay = auto or yes), whether or not it can run. */
bool vm_qemu_input_wants_relay(const vm_input *in);
char *vm_qemu_input_link(const vm_config *c, const vm_input *in, const vm_argv_paths *p);

/*
 * Builds argv (argv[0] is [vm] emulator). Every [gpu]/[pci] must be resolved (vm_config_resolve);
 * -EINVAL otherwise. ret_notes (optional) receives remarks for the user, e.g. how to run virtiofsd.
 * [vm] extra_args come last, unchanged: the caller can tell them apart by their count.
 */
int vm_qemu_argv(const vm_config *c, const vm_argv_paths *p, char ***ret, char ***ret_notes);
