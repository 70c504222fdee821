/* The per-VM runtime state: a key=value status file replaced atomically, a flock lock, PID liveness. */
#include "vfioctl/runstate.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "parse-util.h"
#include "safedir.h"
#include "strv.h"

static const char *const state_names[_VM_STATE_MAX] = {
        [VM_STATE_STOPPED] = "stopped", [VM_STATE_STARTING] = "starting", [VM_STATE_RUNNING] = "running",
        [VM_STATE_PAUSED] = "paused",   [VM_STATE_CRASHED] = "crashed",
};

const char *vm_state_to_string(vm_state s)
{
        return s >= 0 && s < _VM_STATE_MAX ? state_names[s] : NULL;
}

int vm_state_from_string(const char *s, vm_state *ret)
{
        assert(s);
        assert(ret);

        for (int i = 0; i < _VM_STATE_MAX; i++)
                if (strcmp(s, state_names[i]) == 0) {
                        *ret = (vm_state)i;
                        return 0;
                }
        return -EINVAL;
}

vm_runstate *vm_runstate_free(vm_runstate *s)
{
        if (!s)
                return NULL;
        free(s->user);
        free(s->exit_reason);
        strv_free(s->devices);
        strv_free(s->cpus);
        strv_free(s->evdevs);
        strv_free(s->vcpu_threads);
        strv_free(s->vcpu_pins);
        strv_free(s->planned);
        strv_free(s->emulator_pins);
        free(s->qemu_dir);
        strv_free(s->rebind);
        free(s->ddc);
        strv_free(s->steps);
        free(s->display_manager);
        strv_free(s->consoles);
        strv_free(s->framebuffers);
        strv_free(s->handoff);
        strv_free(s->vfio_nodes);
        free(s->vm_cgroup);
        strv_free(s->cpu_units);
        strv_free(s->cpusets);
        free(s->host_cgroup);
        strv_free(s->irqs);
        free(s->irq_default);
        strv_free(s->governors);
        free(s);
        return NULL;
}

/* Values are single lines: a newline in a reason would let it forge keys. */
static void put_str(FILE *f, const char *key, const char *v)
{
        if (!v)
                return;
        fprintf(f, "%s=", key);
        for (; *v; v++)
                fputc(*v == '\n' || *v == '\r' ? ' ' : *v, f);
        fputc('\n', f);
}

static void put_strv(FILE *f, const char *key, char **l)
{
        _cleanup_free_ char *j = NULL;

        if (!l)
                return;
        j = strv_join(l, " ");
        put_str(f, key, j ? j : "");
}

int vm_runstate_write(int dirfd, const vm_runstate *s)
{
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        assert(s);

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        put_str(f, "state", vm_state_to_string(s->state));
        fprintf(f, "pid=%d\npid_starttime=%llu\nsupervisor=%d\nuid=%u\n", (int)s->pid,
                (unsigned long long)s->pid_starttime, (int)s->supervisor, s->uid);
        fprintf(f, "swtpm=%d\nswtpm_starttime=%llu\n", (int)s->swtpm,
                (unsigned long long)s->swtpm_starttime);
        fprintf(f, "relay=%d\nrelay_starttime=%llu\n", (int)s->relay,
                (unsigned long long)s->relay_starttime);
        put_str(f, "user", s->user);
        fprintf(f, "started=%llu\nstopped=%llu\nmemory=%llu\nhugepages_reserved=%llu\nhugepage_kb=%u\n",
                (unsigned long long)s->started, (unsigned long long)s->stopped,
                (unsigned long long)s->memory, (unsigned long long)s->hugepages_reserved, s->hugepage_kb);
        put_str(f, "exit_reason", s->exit_reason);
        put_strv(f, "devices", s->devices);
        put_strv(f, "cpus", s->cpus);
        put_strv(f, "evdevs", s->evdevs);
        put_strv(f, "vcpu_threads", s->vcpu_threads);
        put_strv(f, "vcpu_pins", s->vcpu_pins);
        put_strv(f, "planned", s->planned);
        put_strv(f, "emulator_pins", s->emulator_pins);
        put_str(f, "qemu_dir", s->qemu_dir);
        put_strv(f, "rebind", s->rebind);
        put_str(f, "ddc", s->ddc);
        put_strv(f, "steps", s->steps);
        put_str(f, "display_manager", s->display_manager);
        put_strv(f, "consoles", s->consoles);
        put_strv(f, "framebuffers", s->framebuffers);
        put_strv(f, "handoff", s->handoff);
        put_strv(f, "vfio_nodes", s->vfio_nodes);
        put_str(f, "vm_cgroup", s->vm_cgroup);
        put_strv(f, "cpu_units", s->cpu_units);
        put_strv(f, "cpusets", s->cpusets);
        put_str(f, "host_cgroup", s->host_cgroup);
        if (s->cpuset_enabled)
                fputs("cpuset_enabled=1\n", f);
        if (s->isolate)
                fputs("isolate=1\n", f);
        put_strv(f, "irqs", s->irqs);
        put_str(f, "irq_default", s->irq_default);
        put_strv(f, "governors", s->governors);
        if (fclose(f) != 0)
                return -ENOMEM;

        /* Temp + rename: a reader sees the old file or the new one, never half of one. Each step is a
         * kill point of the crash tests (tests/fault/: start killed at every step). */
        r = safedir_write(dirfd, "status", -1, buf, size, 0600, SAFEDIR_KEEP_UID, SAFEDIR_KEEP_GID, 0);
        if (r < 0)
                return log_debug_errno(r, "writing the status: %s", strerror(-r));
        return 0;
}

static int get_u64(const char *v, uint64_t *ret)
{
        return parse_uint(v, 10, UINT64_MAX, ret);
}

int vm_runstate_read(int dirfd, vm_runstate **ret)
{
        _cleanup_(vm_runstate_freep) vm_runstate *s = NULL;
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -1;
        char *line, *save = NULL;
        int r;

        assert(ret);

        fd = safedir_open_regular(dirfd, "status", O_RDONLY, NULL);
        if (fd < 0)
                return fd;
        r = read_full_fd(fd, VM_RUNSTATE_MAX_SIZE, &text, NULL);
        if (r < 0)
                return r;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *v = strchr(line, '=');
                char ***list = NULL;
                char **str = NULL;
                uint64_t u = 0;

                if (!v)
                        return -EBADMSG;
                *v++ = 0;
                if (strcmp(line, "state") == 0)
                        r = vm_state_from_string(v, &s->state);
                else if (strcmp(line, "pid") == 0 || strcmp(line, "supervisor") == 0) {
                        r = parse_uint(v, 10, INT32_MAX, &u);
                        *(line[0] == 'p' ? &s->pid : &s->supervisor) = (pid_t)u;
                } else if (strcmp(line, "uid") == 0 || strcmp(line, "hugepage_kb") == 0) {
                        r = parse_uint(v, 10, UINT32_MAX, &u);
                        *(line[0] == 'u' ? &s->uid : &s->hugepage_kb) = (unsigned)u;
                } else if (strcmp(line, "swtpm") == 0 || strcmp(line, "relay") == 0) {
                        /* Read back too: a stop without the supervisor has to find them. */
                        r = parse_uint(v, 10, INT32_MAX, &u);
                        *(line[0] == 's' ? &s->swtpm : &s->relay) = (pid_t)u;
                } else if (strcmp(line, "pid_starttime") == 0)
                        r = get_u64(v, &s->pid_starttime);
                else if (strcmp(line, "swtpm_starttime") == 0)
                        r = get_u64(v, &s->swtpm_starttime);
                else if (strcmp(line, "relay_starttime") == 0)
                        r = get_u64(v, &s->relay_starttime);
                else if (strcmp(line, "started") == 0)
                        r = get_u64(v, &s->started);
                else if (strcmp(line, "stopped") == 0)
                        r = get_u64(v, &s->stopped);
                else if (strcmp(line, "memory") == 0)
                        r = get_u64(v, &s->memory);
                else if (strcmp(line, "hugepages_reserved") == 0)
                        r = get_u64(v, &s->hugepages_reserved);
                else if (strcmp(line, "user") == 0)
                        str = &s->user;
                else if (strcmp(line, "exit_reason") == 0)
                        str = &s->exit_reason;
                else if (strcmp(line, "qemu_dir") == 0)
                        str = &s->qemu_dir;
                else if (strcmp(line, "ddc") == 0)
                        str = &s->ddc;
                else if (strcmp(line, "devices") == 0)
                        list = &s->devices;
                else if (strcmp(line, "cpus") == 0)
                        list = &s->cpus;
                else if (strcmp(line, "evdevs") == 0)
                        list = &s->evdevs;
                else if (strcmp(line, "vcpu_threads") == 0)
                        list = &s->vcpu_threads;
                else if (strcmp(line, "vcpu_pins") == 0)
                        list = &s->vcpu_pins;
                else if (strcmp(line, "planned") == 0)
                        list = &s->planned;
                else if (strcmp(line, "emulator_pins") == 0)
                        list = &s->emulator_pins;
                else if (strcmp(line, "rebind") == 0)
                        list = &s->rebind;
                else if (strcmp(line, "steps") == 0)
                        list = &s->steps;
                else if (strcmp(line, "display_manager") == 0)
                        str = &s->display_manager;
                else if (strcmp(line, "consoles") == 0)
                        list = &s->consoles;
                else if (strcmp(line, "framebuffers") == 0)
                        list = &s->framebuffers;
                else if (strcmp(line, "handoff") == 0)
                        list = &s->handoff;
                else if (strcmp(line, "vfio_nodes") == 0)
                        list = &s->vfio_nodes;
                else if (strcmp(line, "vm_cgroup") == 0)
                        str = &s->vm_cgroup;
                else if (strcmp(line, "cpu_units") == 0)
                        list = &s->cpu_units;
                else if (strcmp(line, "cpusets") == 0)
                        list = &s->cpusets;
                else if (strcmp(line, "host_cgroup") == 0)
                        str = &s->host_cgroup;
                else if (strcmp(line, "cpuset_enabled") == 0) {
                        r = parse_uint(v, 10, 1, &u);
                        s->cpuset_enabled = u == 1;
                } else if (strcmp(line, "isolate") == 0) {
                        r = parse_uint(v, 10, 1, &u);
                        s->isolate = u == 1;
                } else if (strcmp(line, "irqs") == 0)
                        list = &s->irqs;
                else if (strcmp(line, "irq_default") == 0)
                        str = &s->irq_default;
                else if (strcmp(line, "governors") == 0)
                        list = &s->governors;
                else
                        continue; /* a newer vfioctl's key: ignore */
                if (r < 0)
                        return log_debug_errno(-EBADMSG, "status: bad %s=%s", line, v);
                if (str) {
                        free(*str);
                        *str = strdup(v);
                        if (!*str)
                                return -ENOMEM;
                } else if (list) {
                        strv_free(*list);
                        *list = NULL;
                        r = strv_split(v, " ", list);
                        if (r < 0)
                                return r;
                }
        }
        *ret = TAKE_PTR(s);
        return 0;
}

int vm_runstate_lock(int dirfd, int *ret_fd)
{
        _cleanup_close_ int fd = -1;

        assert(ret_fd);

        fd = safedir_openat(dirfd, "lock", O_RDWR | O_CREAT, 0600);
        if (fd < 0)
                return fd;
        /* flock belongs to the open file description: a forked supervisor keeps it after its parent exits.
         */
        if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? -EBUSY : -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int vm_runstate_lock_held(int dirfd)
{
        _cleanup_close_ int fd = -1;

        fd = safedir_openat(dirfd, "lock", O_RDONLY, 0);
        if (fd < 0)
                return fd == -ENOENT ? 0 : fd;
        if (flock(fd, LOCK_SH | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? 1 : -errno;
        return 0; /* closing fd drops our probe lock */
}

int vm_proc_starttime(int proc_dirfd, pid_t pid, uint64_t *ret)
{
        _cleanup_free_ char *text = NULL;
        char path[64], *p, *save = NULL, *tok;
        uint64_t u;
        int r;

        assert(ret);

        snprintf(path, sizeof(path), "%d/stat", (int)pid);
        r = read_attr_at(proc_dirfd, path, 4096, &text);
        if (r < 0)
                return r;
        /* comm (field 2) may hold spaces and parentheses: fields resume after the last ')'. */
        p = strrchr(text, ')');
        if (!p)
                return -EBADMSG;
        tok = strtok_r(p + 1, " ", &save); /* field 3 */
        for (int field = 3; tok && field < 22; field++)
                tok = strtok_r(NULL, " ", &save);
        if (!tok || parse_uint(tok, 10, UINT64_MAX, &u) < 0)
                return -EBADMSG;
        *ret = u;
        return 0;
}

bool vm_runstate_pid_alive(int proc_dirfd, pid_t pid, uint64_t starttime)
{
        uint64_t t;

        if (pid <= 0)
                return false;
        if (vm_proc_starttime(proc_dirfd, pid, &t) < 0)
                return false;
        if (starttime && t != starttime)
                return false;
        {
                /* A zombie (our own unreaped child) is not running. */
                _cleanup_free_ char *text = NULL;
                char path[64], *p;

                snprintf(path, sizeof(path), "%d/stat", (int)pid);
                if (read_attr_at(proc_dirfd, path, 4096, &text) >= 0 && (p = strrchr(text, ')')) &&
                    p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X'))
                        return false;
        }
        return true;
}
