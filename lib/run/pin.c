/* Pinning QEMU's threads to host CPUs: found over QMP and /proc, set and read back with sched_*affinity. */
#include "vfioctl/pin.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "parse-util.h"
#include "strv.h"

int vm_pin_thread(pid_t tid, char *const *cpus)
{
        cpu_set_t set;
        uint64_t u;

        CPU_ZERO(&set);
        STRV_FOREACH(c, cpus) {
                if (parse_uint(*c, 10, CPU_SETSIZE - 1, &u) < 0)
                        return -EINVAL;
                CPU_SET(u, &set);
        }
        if (CPU_COUNT(&set) == 0)
                return -EINVAL;
        if (sched_setaffinity(tid, sizeof(set), &set) < 0)
                return log_debug_errno(-errno, "sched_setaffinity(%d): %m", (int)tid);
        return 0;
}

int vm_pin_get(pid_t tid, char **ret)
{
        _cleanup_strv_free_ char **l = NULL;
        cpu_set_t set;
        char buf[16], *s;
        int r;

        assert(ret);

        if (sched_getaffinity(tid, sizeof(set), &set) < 0)
                return -errno;
        for (int i = 0; i < CPU_SETSIZE; i++)
                if (CPU_ISSET(i, &set)) {
                        snprintf(buf, sizeof(buf), "%d", i);
                        if ((r = strv_extend(&l, buf)) < 0)
                                return r;
                }
        s = strv_join(l, ",");
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int qmp_thread_ids(qmp_client *q, const char *command, int timeout_ms, bool by_index, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *error = NULL;
        json_object *reply = NULL;
        size_t n;
        int r;

        r = qmp_execute(q, command, NULL, timeout_ms, &reply, &error);
        if (r < 0)
                return log_debug_errno(r, "%s: %s", command, error ? error : strerror(-r));
        if (!json_object_is_type(reply, json_type_array)) {
                json_object_put(reply);
                return -EBADMSG;
        }
        n = json_object_array_length(reply);
        l = calloc(n + 1, sizeof(char *));
        if (!l) {
                json_object_put(reply);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(reply, i), *tid, *idx;
                size_t at = i;

                if (!json_object_object_get_ex(e, "thread-id", &tid) ||
                    !json_object_is_type(tid, json_type_int)) {
                        r = -EBADMSG;
                        break;
                }
                if (by_index) {
                        /* cpu-index orders vCPUs as [cpu] pin lists them. */
                        if (!json_object_object_get_ex(e, "cpu-index", &idx) ||
                            json_object_get_int64(idx) < 0 || (size_t)json_object_get_int64(idx) >= n ||
                            l[json_object_get_int64(idx)]) {
                                r = -EBADMSG;
                                break;
                        }
                        at = (size_t)json_object_get_int64(idx);
                }
                if (asprintf(&l[at], "%" PRId64, json_object_get_int64(tid)) < 0) {
                        l[at] = NULL;
                        r = -ENOMEM;
                        break;
                }
        }
        json_object_put(reply);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

int vm_qmp_vcpu_threads(qmp_client *q, int timeout_ms, char ***ret)
{
        assert(q);
        assert(ret);
        return qmp_thread_ids(q, "query-cpus-fast", timeout_ms, true, ret);
}

int vm_qmp_iothreads(qmp_client *q, int timeout_ms, char ***ret)
{
        assert(q);
        assert(ret);
        return qmp_thread_ids(q, "query-iothreads", timeout_ms, false, ret);
}

int vm_proc_threads(int proc_dirfd, pid_t pid, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        char path[64];
        DIR *d;
        struct dirent *de;
        int fd, r = 0;

        assert(ret);

        snprintf(path, sizeof(path), "%d/task", (int)pid);
        /* not another user's directory: /proc, the kernel's */
        fd = openat(proc_dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -errno;
        }
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && (r = strv_extend(&l, de->d_name)) < 0)
                        break;
        closedir(d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

static int tid_of(const char *s, pid_t *ret)
{
        uint64_t tid;

        if (parse_uint(s, 10, INT32_MAX, &tid) < 0)
                return -EBADMSG;
        *ret = (pid_t)tid;
        return 0;
}

/* vCPU i to pin[i]. */
static int pin_vcpus(char *const *vcpu_threads, char *const *pin)
{
        int r;

        if (strv_length(pin) < strv_length(vcpu_threads))
                return -EINVAL;
        for (size_t i = 0; vcpu_threads[i]; i++) {
                char *one[] = { pin[i], NULL };
                pid_t tid;

                if ((r = tid_of(vcpu_threads[i], &tid)) < 0 || (r = vm_pin_thread(tid, one)) < 0)
                        return r;
        }
        return 0;
}

/* Every other thread (main loop, RCU, workers) and the iothreads to the emulator CPUs. */
static int pin_emulator(qmp_client *q, int proc_dirfd, pid_t pid, char *const *vcpu_threads,
                        char *const *emulator_pin)
{
        _cleanup_strv_free_ char **io = NULL, **tasks = NULL;
        int r;

        if (vm_qmp_iothreads(q, 10000, &io) >= 0)
                STRV_FOREACH(t, io) {
                        pid_t tid;

                        if (tid_of(*t, &tid) >= 0)
                                (void)vm_pin_thread(tid, emulator_pin);
                }
        r = vm_proc_threads(proc_dirfd, pid, &tasks);
        if (r < 0)
                return r;
        STRV_FOREACH(t, tasks) {
                pid_t tid;

                if (strv_contains(vcpu_threads, *t) || tid_of(*t, &tid) < 0)
                        continue;
                r = vm_pin_thread(tid, emulator_pin);
                if (r < 0 && r != -ESRCH) /* a worker may end meanwhile */
                        return r;
        }
        return 0;
}

/* The CPUs of each vCPU thread as the kernel applied them. */
static int read_back(char *const *vcpu_threads, char ***ret)
{
        _cleanup_strv_free_ char **l = NULL;
        int r;

        STRV_FOREACH(t, vcpu_threads) {
                _cleanup_free_ char *cpus = NULL;
                pid_t tid;

                if ((r = tid_of(*t, &tid)) < 0 || (r = vm_pin_get(tid, &cpus)) < 0 ||
                    (r = strv_extend(&l, cpus)) < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

int vm_pin_apply(qmp_client *q, int proc_dirfd, pid_t pid, char *const *pin, char *const *emulator_pin,
                 vm_runstate *s)
{
        _cleanup_strv_free_ char **vcpus = NULL, **readback = NULL, **emu = NULL;
        int r;

        assert(q);
        assert(s);
        r = vm_qmp_vcpu_threads(q, 10000, &vcpus);
        if (r < 0)
                return r;
        strv_free(s->vcpu_threads);
        s->vcpu_threads = TAKE_PTR(vcpus);
        if (pin && (r = pin_vcpus(s->vcpu_threads, pin)) < 0)
                return r;
        if (emulator_pin && (r = pin_emulator(q, proc_dirfd, pid, s->vcpu_threads, emulator_pin)) < 0)
                return r;
        r = read_back(s->vcpu_threads, &readback);
        if (r < 0)
                return r;
        if (emulator_pin && (r = strv_extend_strv(&emu, emulator_pin)) < 0)
                return r;
        strv_free(s->vcpu_pins);
        s->vcpu_pins = TAKE_PTR(readback);
        strv_free(s->emulator_pins);
        s->emulator_pins = TAKE_PTR(emu);
        return 0;
}
