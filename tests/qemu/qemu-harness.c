/* Real-QEMU test harness: temp dir, config, fork+exec QEMU paused under TCG, QMP over lib/qmp.c. */
#include "qemu-harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"
#include "strv.h"
#include "vfioctl/launch.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/vmdefaults.h"

/*
 * What a failed assertion leaves behind (cmocka longjmps out of the test): VMs and helper processes are
 * tracked here and cleaned up by harness_teardown, so no QEMU or swtpm outlives its test.
 */
static qvm *live_vms[16];
static pid_t live_pids[16];

void harness_track_pid(pid_t pid)
{
        for (size_t i = 0; i < 16; i++)
                if (live_pids[i] <= 0) {
                        live_pids[i] = pid;
                        return;
                }
}

void harness_reap_pid(pid_t pid)
{
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        for (size_t i = 0; i < 16; i++)
                if (live_pids[i] == pid)
                        live_pids[i] = 0;
}

int harness_teardown(void **state)
{
        for (size_t i = 0; i < 16; i++)
                if (live_vms[i])
                        qvm_free(live_vms[i]);
        for (size_t i = 0; i < 16; i++)
                if (live_pids[i] > 0)
                        harness_reap_pid(live_pids[i]);
        return 0;
}

qvm *qvm_new(void)
{
        qvm *v = calloc(1, sizeof(*v));
        char tmpl[] = "/var/tmp/vfioctl-qemu-XXXXXX";

        assert_non_null(v);
        /* /var/tmp, not /tmp: a disk-backed file system, where O_DIRECT (cache=none) works. */
        assert_non_null(mkdtemp(tmpl));
        v->dir = strdup(tmpl);
        v->pid = -1;
        for (size_t i = 0; i < 16; i++)
                if (!live_vms[i]) {
                        live_vms[i] = v;
                        break;
                }
        return v;
}

static char *substitute(const char *text, const char *dir)
{
        char *out = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&out, &size);

        assert_non_null(f);
        for (const char *p = text; *p;) {
                if (strncmp(p, "@DIR@", 5) == 0) {
                        fputs(dir, f);
                        p += 5;
                } else
                        fputc(*p++, f);
        }
        fclose(f);
        return out;
}

void qvm_config(qvm *v, const char *text)
{
        char *t = substitute(text, v->dir), **errors = NULL;

        if (vm_config_parse_string(t, "test.conf", "test", &v->cfg, &errors) < 0) {
                char *j = strv_join(errors, "\n");

                fail_msg("config rejected:\n%s\n--- config ---\n%s", j, t);
        }
        free(t);
}

void qvm_config_file(qvm *v, const char *path)
{
        char **errors = NULL;

        if (vm_config_load(path, &v->cfg, &errors) < 0)
                fail_msg("%s rejected: %s", path, errors ? errors[0] : "(I/O error)");
}

static void copy_file(const char *from, const char *to)
{
        int in = open(from, O_RDONLY | O_CLOEXEC), out;
        char buf[65536];
        ssize_t n;

        assert_true(in >= 0);
        out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(out >= 0);
        while ((n = read(in, buf, sizeof(buf))) > 0)
                assert_int_equal(write(out, buf, (size_t)n), n);
        close(in);
        close(out);
}

static void print_log(const qvm *v)
{
        char path[4096], *log = NULL;
        int fd;

        snprintf(path, sizeof(path), "%s/qemu.log", v->dir);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && read_full_fd(fd, 1 << 20, &log, NULL) >= 0)
                print_error("--- QEMU log ---\n%s\n", log);
        if (fd >= 0)
                close(fd);
        free(log);
        if (v->argv) {
                char *j = strv_join(v->argv, " ");

                print_error("--- argv ---\n%s\n", j);
                free(j);
        }
}

void qvm_start(qvm *v)
{
        vm_argv_paths p = { .runtime_dir = v->dir, .state_dir = v->dir, .uid = (unsigned)getuid() };
        char **warnings = NULL, **errors = NULL, **notes = NULL, sock[4096];
        struct timespec start, now;
        int fd = -1, r;

        assert_non_null(v->cfg);
        assert_int_equal(vm_config_resolve(v->cfg, NULL, NULL, &warnings, &errors), 0);
        /* No KVM here (see the header): the only changes made to vfioctl's argv. */
        v->cfg->vm.accel = VM_ACCEL_TCG;
        if (strcmp(v->cfg->cpu.model, "host") == 0) {
                free(v->cfg->cpu.model);
                v->cfg->cpu.model = strdup("max");
        }
        if (v->cfg->firmware.type == VM_FIRMWARE_OVMF) {
                char *vars = vm_qemu_firmware_vars(v->cfg, &p);

                copy_file(vm_qemu_firmware_vars_template(v->cfg), vars);
                free(vars);
        }
        assert_int_equal(vm_qemu_argv(v->cfg, &p, &v->argv, &notes), 0);
        assert_int_equal(strv_extend(&v->argv, "-S"), 0);
        if (v->rewrite)
                v->rewrite(v->argv);
        strv_free(notes);
        strv_free(warnings);

        v->pid = fork();
        assert_true(v->pid >= 0);
        if (v->pid == 0) {
                char log[4096];
                int lfd;

                snprintf(log, sizeof(log), "%s/qemu.log", v->dir);
                lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (lfd < 0 || dup2(lfd, 1) < 0 || dup2(lfd, 2) < 0)
                        _exit(126);
                /* A test killed by its timeout must not leave QEMU running. */
                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (v->n_fds && vm_launch_place_fds(v->fds, v->n_fds, VM_QEMU_MACVTAP_FD_BASE) < 0)
                        _exit(126);
                /* Nine hours east of UTC, so an RTC in local time differs from one in UTC. */
                setenv("TZ", "JST-9", 1);
                execvp(v->argv[0], v->argv);
                _exit(127);
        }
        snprintf(sock, sizeof(sock), "%s/qmp.sock", v->dir);
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                int status;

                if (waitpid(v->pid, &status, WNOHANG) == v->pid) {
                        v->pid = -1;
                        print_log(v);
                        fail_msg("QEMU exited before its QMP socket came up (status %d)", status);
                }
                r = qmp_connect_unix(sock, 100, &fd);
                if (r >= 0)
                        break;
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec - start.tv_sec > 30) {
                        print_log(v);
                        fail_msg("QMP socket %s did not come up: %s", sock, strerror(-r));
                }
        }
        assert_int_equal(qmp_client_new(fd, &v->qmp), 0);
        /* The greeting comes after device init (e.g. the TPM's handshake with swtpm): allow for a loaded
         * host. */
        r = qmp_handshake(v->qmp, 60000);
        if (r < 0) {
                print_log(v);
                fail_msg("QMP handshake failed: %s", strerror(-r));
        }
}

void pulseaudio_start(qvm *v)
{
        char sock[4096], load[4200];
        pid_t pa;

        snprintf(sock, sizeof(sock), "%s/native", v->dir);
        snprintf(load, sizeof(load), "module-native-protocol-unix socket=%s auth-anonymous=1", sock);
        pa = fork();
        assert_true(pa >= 0);
        if (pa == 0) {
                char *const argv[] = { (char *)"pulseaudio",
                                       (char *)"--daemonize=no",
                                       (char *)"-n",
                                       (char *)"--use-pid-file=no",
                                       (char *)"--exit-idle-time=-1",
                                       (char *)"-L",
                                       load,
                                       (char *)"-L",
                                       (char *)"module-null-sink",
                                       NULL };
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                /* Its cookie and runtime files stay in the test directory. */
                setenv("HOME", v->dir, 1);
                setenv("XDG_RUNTIME_DIR", v->dir, 1);
                if (null >= 0) {
                        dup2(null, 1);
                        dup2(null, 2);
                }
                execvp(argv[0], argv);
                _exit(127);
        }
        v->pulseaudio = pa;
        for (int i = 0; i < 100 && access(sock, F_OK) < 0; i++)
                usleep(50 * 1000);
        if (access(sock, F_OK) < 0)
                fail_msg("pulseaudio did not create %s", sock);
}

json_object *qvm_qmp(qvm *v, const char *cmd, json_object *args)
{
        json_object *ret = NULL;
        char *err = NULL;
        int r = qmp_execute(v->qmp, cmd, args, 20000, &ret, &err);

        json_object_put(args);
        if (r < 0)
                fail_msg("QMP %s failed: %s (%s)", cmd, strerror(-r), err ? err : "");
        return ret;
}

json_object *qvm_qom_get(qvm *v, const char *path, const char *property)
{
        json_object *a = json_object_new_object();

        json_object_object_add(a, "path", json_object_new_string(path));
        json_object_object_add(a, "property", json_object_new_string(property));
        return qvm_qmp(v, "qom-get", a);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(path) < 0 ? 0 : 0;
}

void qvm_free(qvm *v)
{
        if (!v)
                return;
        for (size_t i = 0; i < 16; i++)
                if (live_vms[i] == v)
                        live_vms[i] = NULL;
        if (v->qmp) {
                (void)qmp_execute(v->qmp, "quit", NULL, 5000, NULL, NULL);
                v->qmp = qmp_client_free(v->qmp);
        }
        if (v->pid > 0) {
                for (int i = 0; i < 100; i++) {
                        if (waitpid(v->pid, NULL, WNOHANG) == v->pid) {
                                v->pid = -1;
                                break;
                        }
                        usleep(50 * 1000);
                }
                if (v->pid > 0) {
                        kill(v->pid, SIGKILL);
                        waitpid(v->pid, NULL, 0);
                }
        }
        if (v->pulseaudio > 0) {
                kill(v->pulseaudio, SIGTERM);
                waitpid(v->pulseaudio, NULL, 0);
        }
        if (v->mounted) {
                umount2(v->mounted, MNT_DETACH);
                free(v->mounted);
        }
        if (!getenv("VFIOCTL_TEST_KEEP"))
                nftw(v->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        vm_config_free(v->cfg);
        strv_free(v->argv);
        free(v->dir);
        free(v);
}

static json_object *pci_find_in(json_object *devices, const char *qdev_id)
{
        size_t n = json_object_array_length(devices);

        for (size_t i = 0; i < n; i++) {
                json_object *d = json_object_array_get_idx(devices, i), *id, *br, *sub;

                if (json_object_object_get_ex(d, "qdev_id", &id) &&
                    strcmp(json_object_get_string(id), qdev_id) == 0)
                        return d;
                if (json_object_object_get_ex(d, "pci_bridge", &br) &&
                    json_object_object_get_ex(br, "devices", &sub)) {
                        json_object *r = pci_find_in(sub, qdev_id);

                        if (r)
                                return r;
                }
        }
        return NULL;
}

json_object *pci_find(json_object *query_pci, const char *qdev_id)
{
        size_t n = json_object_array_length(query_pci);

        for (size_t i = 0; i < n; i++) {
                json_object *devices, *r;

                if (json_object_object_get_ex(json_object_array_get_idx(query_pci, i), "devices",
                                              &devices) &&
                    (r = pci_find_in(devices, qdev_id)))
                        return r;
        }
        return NULL;
}

static int pci_count_in(json_object *devices, int vendor, int device)
{
        size_t n = json_object_array_length(devices);
        int k = 0;

        for (size_t i = 0; i < n; i++) {
                json_object *d = json_object_array_get_idx(devices, i), *id, *br, *sub;

                if (json_object_object_get_ex(d, "id", &id) && jint(id, "vendor") == vendor &&
                    jint(id, "device") == device)
                        k++;
                if (json_object_object_get_ex(d, "pci_bridge", &br) &&
                    json_object_object_get_ex(br, "devices", &sub))
                        k += pci_count_in(sub, vendor, device);
        }
        return k;
}

int pci_count(json_object *query_pci, int vendor, int device)
{
        size_t n = json_object_array_length(query_pci);
        int k = 0;

        for (size_t i = 0; i < n; i++) {
                json_object *devices;

                if (json_object_object_get_ex(json_object_array_get_idx(query_pci, i), "devices", &devices))
                        k += pci_count_in(devices, vendor, device);
        }
        return k;
}

json_object *json_find(json_object *array, const char *key, const char *value)
{
        size_t n = json_object_array_length(array);

        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_array_get_idx(array, i), *v;

                if (json_object_object_get_ex(o, key, &v) && strcmp(json_object_get_string(v), value) == 0)
                        return o;
        }
        return NULL;
}

const char *jstr(json_object *o, const char *key)
{
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v))
                fail_msg("JSON has no '%s': %s", key, o ? json_object_to_json_string(o) : "null");
        return json_object_get_string(v);
}

int64_t jint(json_object *o, const char *key)
{
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v))
                fail_msg("JSON has no '%s': %s", key, o ? json_object_to_json_string(o) : "null");
        return json_object_get_int64(v);
}

bool jbool(json_object *o, const char *key)
{
        json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v))
                fail_msg("JSON has no '%s': %s", key, o ? json_object_to_json_string(o) : "null");
        return json_object_get_boolean(v);
}

void make_file(const char *path, off_t size)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, size), 0);
        close(fd);
}

void run_ok(char *const argv[])
{
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

                if (null >= 0)
                        dup2(null, 1);
                execvp(argv[0], argv);
                _exit(127);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                fail_msg("%s failed (status %d)", argv[0], status);
}

static long hugepages_orig = -1;

static void hugepages_restore(void)
{
        FILE *f;

        if (hugepages_orig < 0)
                return;
        f = fopen("/proc/sys/vm/nr_hugepages", "we");
        if (f) {
                fprintf(f, "%ld\n", hugepages_orig);
                fclose(f);
        }
}

bool hugepages_reserve(unsigned n)
{
        char *s = NULL;
        int fd;
        long cur = 0, now = 0;
        FILE *f;

        if (geteuid() != 0)
                return false;
        fd = open("/proc/sys/vm/nr_hugepages", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read_full_fd(fd, 64, &s, NULL) < 0)
                return false;
        close(fd);
        cur = strtol(s, NULL, 10); /* the kernel's own number */
        free(s);
        if (hugepages_orig < 0) {
                hugepages_orig = cur;
                atexit(hugepages_restore);
        }
        f = fopen("/proc/sys/vm/nr_hugepages", "we");
        if (!f)
                return false;
        fprintf(f, "%ld\n", cur + n);
        if (fclose(f) != 0)
                return false;
        fd = open("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read_full_fd(fd, 64, &s, NULL) < 0)
                return false;
        close(fd);
        now = strtol(s, NULL, 10);
        free(s);
        return now >= (long)n;
}

long free_hugepages(unsigned size_kb)
{
        char path[128], *s = NULL;
        long v;
        int fd;

        snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%ukB/free_hugepages", size_kb);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read_full_fd(fd, 64, &s, NULL) < 0)
                return -1;
        close(fd);
        v = strtol(s, NULL, 10);
        free(s);
        return v;
}

static long gigantic_orig = -1;

static void gigantic_restore(void)
{
        FILE *f = fopen("/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages", "we");

        if (f) {
                fprintf(f, "%ld\n", gigantic_orig);
                fclose(f);
        }
}

bool hugepages_1g_reserve(void)
{
        FILE *f;
        long cur;

        if (geteuid() != 0)
                return false;
        cur = free_hugepages(1048576);
        if (cur < 0)
                return false;
        if (cur >= 1)
                return true;
        if (gigantic_orig < 0) {
                gigantic_orig = 0;
                atexit(gigantic_restore);
        }
        /* The kernel finds a free, aligned 1G range at run time or refuses; either is fine. */
        f = fopen("/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages", "we");
        if (!f)
                return false;
        fprintf(f, "1\n");
        fclose(f);
        return free_hugepages(1048576) >= 1;
}

long qvm_locked_kb(const qvm *v)
{
        char path[64], *s = NULL, *l;
        long kb = -1;
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)v->pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read_full_fd(fd, 1 << 16, &s, NULL) < 0)
                return -1;
        close(fd);
        l = strstr(s, "\nVmLck:");
        if (l)
                kb = strtol(l + 8, NULL, 10);
        free(s);
        return kb;
}

void hugetlbfs_mount(qvm *v, const char *path)
{
        hugetlbfs_mount_size(v, path, "2M");
}

void hugetlbfs_mount_size(qvm *v, const char *path, const char *pagesize)
{
        char opts[64];

        snprintf(opts, sizeof(opts), "pagesize=%s", pagesize);
        assert_int_equal(mkdir(path, 0700), 0);
        if (mount("hugetlbfs", path, "hugetlbfs", 0, opts) < 0)
                fail_msg("mount hugetlbfs at %s: %s", path, strerror(errno));
        v->mounted = strdup(path);
}

void qvm_assert_topology(qvm *v, unsigned sockets, unsigned cores, unsigned threads)
{
        json_object *cpus = qvm_qmp(v, "query-cpus-fast", NULL);
        size_t n = json_object_array_length(cpus);
        int64_t max_core = -1, max_thread = -1, max_socket = -1;

        assert_int_equal(n, sockets * cores * threads);
        for (size_t i = 0; i < n; i++) {
                json_object *props;

                json_object_object_get_ex(json_object_array_get_idx(cpus, i), "props", &props);
                if (jint(props, "socket-id") > max_socket)
                        max_socket = jint(props, "socket-id");
                if (jint(props, "core-id") > max_core)
                        max_core = jint(props, "core-id");
                if (jint(props, "thread-id") > max_thread)
                        max_thread = jint(props, "thread-id");
        }
        assert_int_equal(max_socket + 1, sockets);
        assert_int_equal(max_core + 1, cores);
        assert_int_equal(max_thread + 1, threads);
        json_object_put(cpus);
}

json_object *qvm_cpu0_prop(qvm *v, const char *prop)
{
        json_object *cpus = qvm_qmp(v, "query-cpus-fast", NULL), *o;

        o = qvm_qom_get(v, jstr(json_object_array_get_idx(cpus, 0), "qom-path"), prop);
        json_object_put(cpus);
        return o;
}
