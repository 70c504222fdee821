/* Starts the real qemu-system-x86_64 (TCG, paused) with vfioctl's argv for a config and talks QMP to it. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

#include "vfioctl/qmp.h"
#include "vfioctl/vmconf.h"

typedef struct qvm {
        char *dir; /* temporary: sockets, images, OVMF vars, the QEMU log */
        vm_config *cfg;
        pid_t pid;
        qmp_client *qmp;
        char **argv;
        char *mounted; /* a hugetlbfs mount to undo */
        pid_t pulseaudio;
        /* Optional: rewrites vfioctl's argv before exec (only to swap in stand-ins for vfio-pci). */
        void (*rewrite)(char **argv);
        /* Optional: descriptors QEMU inherits at VM_QEMU_MACVTAP_FD_BASE (vm_launch_place_fds), as start
         * does. */
        const int *fds;
        size_t n_fds;
} qvm;

/* A temporary directory for a VM-to-be (so a test can put files there before writing the config). */
qvm *qvm_new(void);
/* Parses text, with every "@DIR@" replaced by the VM's directory; fails the test on errors. */
void qvm_config(qvm *v, const char *text);
/* Loads a config file instead. */
void qvm_config_file(qvm *v, const char *path);
/*
 * This host has no KVM: the run uses accel = tcg, and [cpu] model = host becomes max. Everything else
 * is vfioctl's argv unchanged, plus -S (paused: no guest code runs). Fails the test with QEMU's log
 * when QEMU does not come up.
 */
void qvm_start(qvm *v);
/* Runs a QMP command that must succeed; the result is owned by the caller. */
json_object *qvm_qmp(qvm *v, const char *cmd, json_object *args);
/* qom-get */
json_object *qvm_qom_get(qvm *v, const char *path, const char *property);
/* query-cpus-fast: as many vCPUs as sockets x cores x threads, with socket/core/thread ids covering them. */
void qvm_assert_topology(qvm *v, unsigned sockets, unsigned cores, unsigned threads);
/* A property of vCPU 0's QOM object (the CPU model's flags), via qom-get. */
json_object *qvm_cpu0_prop(qvm *v, const char *prop);
/* Starts a private PulseAudio server listening on DIR/native (as pipewire-pulse would), stopped by qvm_free.
 */
void pulseaudio_start(qvm *v);
/* Helper processes of a test (swtpm), killed by harness_teardown if the test fails first. */
void harness_track_pid(pid_t pid);
/* SIGTERM, reap, untrack. */
void harness_reap_pid(pid_t pid);
/* cmocka teardown for every test: frees VMs and helpers a failed assertion left behind. */
int harness_teardown(void **state);
/* quit, reap, unmount, remove the directory. */
void qvm_free(qvm *v);

/* The query-pci device with this qdev id (below bridges too), or NULL. */
json_object *pci_find(json_object *query_pci, const char *qdev_id);
/* How many query-pci devices have this vendor:device. */
int pci_count(json_object *query_pci, int vendor, int device);
/* A member of a JSON array of objects whose key equals value (string compare). */
json_object *json_find(json_object *array, const char *key, const char *value);
const char *jstr(json_object *o, const char *key);
int64_t jint(json_object *o, const char *key);
bool jbool(json_object *o, const char *key);

/* Creates a sparse file of size bytes. */
void make_file(const char *path, off_t size);
/* Runs argv (fork+exec) and asserts it exits 0. */
void run_ok(char *const argv[]);
/* True when running as root with hugetlbfs available: reserves n 2M pages (restored at exit). */
bool hugepages_reserve(unsigned n);
/* Mounts hugetlbfs (2M pages, or pagesize "1G") at path for v (root only). */
void hugetlbfs_mount(qvm *v, const char *path);
void hugetlbfs_mount_size(qvm *v, const char *path, const char *pagesize);
/* Free hugepages of a size (kB), -1 when unknown. */
long free_hugepages(unsigned size_kb);
/* Root only: makes one 1G page available (restored at exit); false when the kernel cannot. */
bool hugepages_1g_reserve(void);
/* VmLck of the running QEMU in kB (-overcommit mem-lock=on), -1 when unknown. */
long qvm_locked_kb(const qvm *v);
