/*
 * Host isolation while a VM runs ([cpu] isolate = yes): the host's tasks confined to the CPUs the plan left
 * to the host, the passed devices' IRQs steered there, the vCPUs' CPUs on the performance governor; each
 * change recorded as it is made and undone in reverse however the VM ends (release.h).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpulist.h"
#include "host-steps.h"
#include "parse-util.h"
#include "strv.h"
#include "vfioctl/isolate.h"

#define CGROOT "sys/fs/cgroup"
/* Top-level cgroups of our own on a host without systemd: the root cgroup's tasks, and the VMs. */
#define HOST_CGROUP "vfioctl.host"
#define VMS_CGROUP  "vfioctl.vms"
/* The units systemd puts every host task in (systemd.special(7)); VMs go to machine.slice. */
static const char *const host_units[] = { "init.scope", "system.slice", "user.slice" };

static int fail(char **ret_error, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char **ret_error, int r, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return r < 0 ? r : -EIO;
}

int vm_isolate_support(const vfio_host *h, vm_isolate_caps *ret)
{
        _cleanup_free_ char *controllers = NULL, *gov = NULL;
        vm_isolate_caps c = {};

        assert(h);
        assert(ret);
        c.systemd = vm_host_systemd(h);
        if (vfio_host_read_attr(h, CGROOT "/cgroup.controllers", 4096, &controllers) >= 0) {
                _cleanup_strv_free_ char **l = NULL;

                c.cgroup2 = true;
                c.cpuset = strv_split(controllers, " ", &l) >= 0 && strv_contains(l, "cpuset");
        }
        c.irq = vfio_host_exists(h, "proc/irq/default_smp_affinity") > 0;
        c.cpufreq = vfio_host_read_attr(h, "sys/devices/system/cpu/cpu0/cpufreq/scaling_available_governors",
                                        4096, &gov) >= 0;
        if (c.cpufreq) {
                _cleanup_strv_free_ char **l = NULL;

                c.performance = strv_split(gov, " ", &l) >= 0 && strv_contains(l, "performance");
        }
        *ret = c;
        return 0;
}

/* The CPUs the host keeps: every online CPU the vCPUs are not pinned to. */
static int host_cpus(const vfio_host *h, char *const *pin, bool *vm, bool *host, size_t n)
{
        _cleanup_free_ char *online = NULL;
        int r;

        r = vfio_host_read_attr(h, "sys/devices/system/cpu/online", 4096, &online);
        if (r < 0 || (r = cpulist_parse(online, host, n)) < 0)
                return r;
        memset(vm, 0, n * sizeof(bool));
        STRV_FOREACH(p, pin) {
                uint64_t c;

                if (parse_uint(*p, 10, n - 1, &c) < 0)
                        return -EINVAL;
                vm[c] = true;
                host[c] = false;
        }
        return cpulist_count(host, n) > 0 ? 0 : -ENOSPC;
}

void vm_isolate_check(vm_start *x, vfio_problems *problems)
{
        _cleanup_(vfio_host_freep) vfio_host *live = NULL;
        _cleanup_free_ bool *vm = NULL, *host = NULL;
        vm_isolate_caps caps;

        assert(x);
        assert(problems);

        if (!x->c->cpu.isolate)
                return;
        if (geteuid() != 0) {
                (void)vfio_problems_add(
                        problems, VFIO_PROBLEM_ERROR,
                        "%s: [cpu] isolate = yes confines the host's own tasks and IRQs while the VM runs: only root can do that",
                        x->c->filename);
                (void)vfio_problems_fix(
                        problems, "start it as root (QEMU still runs as [vm] user): sudo vfioctl start %s",
                        x->c->name);
                return;
        }
        if (x->isolated_by) {
                unsigned line = vm_config_key_line(x->c, "cpu", "isolate");

                (void)vfio_problems_add(
                        problems, VFIO_PROBLEM_ERROR,
                        "%s:%u: [cpu] isolate = yes, but %s isolates the host already; two isolated VMs at once are not supported (each would give the host's CPUs back while the other runs)",
                        x->c->filename, line, x->isolated_by);
                (void)vfio_problems_fix(problems, "stop that VM first, or set isolate = no in [cpu] of %s",
                                        x->c->filename);
                return;
        }
        if (!x->pin) {
                (void)vfio_problems_add(
                        problems, VFIO_PROBLEM_ERROR,
                        "%s: [cpu] isolate = yes needs the vCPUs pinned, but this host has too few CPUs for a plan and [cpu] pin is not set",
                        x->c->filename);
                (void)vfio_problems_fix(problems, "set [cpu] pin, or drop isolate");
                return;
        }
        /* CPUs and cgroups are the live host's even under --root, like the pinning plan. */
        vm = calloc(CPULIST_MAX, sizeof(bool));
        host = calloc(CPULIST_MAX, sizeof(bool));
        if (!vm || !host || vfio_host_open(NULL, &live) < 0 || vm_isolate_support(live, &caps) < 0)
                return;
        if (host_cpus(live, x->pin, vm, host, CPULIST_MAX) < 0) {
                (void)vfio_problems_add(
                        problems, VFIO_PROBLEM_ERROR,
                        "%s: [cpu] isolate = yes, but the vCPUs take every online CPU: nothing is left for the host",
                        x->c->filename);
                (void)vfio_problems_fix(problems, "pin fewer vCPUs, leaving at least one core to the host");
                return;
        }
        if (!caps.systemd && !(caps.cgroup2 && caps.cpuset)) {
                (void)vfio_problems_add(
                        problems, VFIO_PROBLEM_ERROR,
                        "%s: [cpu] isolate = yes needs systemd, or a cgroup v2 hierarchy at /sys/fs/cgroup with the cpuset controller; this host has neither",
                        x->c->filename);
                (void)vfio_problems_fix(problems, "mount -t cgroup2 none /sys/fs/cgroup, or drop isolate");
        }
}

static void note(vm_start *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(vm_start *x, const char *fmt, ...)
{
        _cleanup_free_ char *s = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        if (s)
                vm_run_log(x->run, "isolate: %s", s);
}

static bool injected(const vm_start *x, const char *step)
{
        return x->o.fail_step && strcmp(x->o.fail_step, step) == 0;
}

static int record(vm_start *x, const char *step)
{
        int r = vm_release_record(x->st, step);

        (void)vm_runstate_write(x->run->dirfd, x->st);
        return r;
}

/* A cgroup v2 name below the root that we made or confine: one or two plain components. */
static bool cgroup_name_ok(const char *s)
{
        return s && *s && !strstr(s, "..") && s[0] != '/' &&
               strspn(s, "abcdefghijklmnopqrstuvwxyz"
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@:/") == strlen(s);
}

static int write_cg(const vfio_host *h, const char *cg, const char *file, const char *value)
{
        char path[512];

        snprintf(path, sizeof(path), CGROOT "%s%s/%s", cg && *cg ? "/" : "", cg ? cg : "", file);
        return vfio_host_write_attr(h, path, value);
}

static int read_cg(const vfio_host *h, const char *cg, const char *file, char **ret)
{
        char path[512];

        snprintf(path, sizeof(path), CGROOT "%s%s/%s", cg && *cg ? "/" : "", cg ? cg : "", file);
        return vfio_host_read_attr(h, path, 1 << 20, ret);
}

static int mkdir_cg(const vfio_host *h, const char *cg)
{
        _cleanup_close_ int fd = vfio_host_open_path(h, CGROOT, O_RDONLY | O_DIRECTORY);

        if (fd < 0)
                return fd;
        /* not another user's directory: the cgroup filesystem's root, root's alone */
        return mkdirat(fd, cg, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

static int rmdir_cg(const vfio_host *h, const char *cg)
{
        _cleanup_close_ int fd = vfio_host_open_path(h, CGROOT, O_RDONLY | O_DIRECTORY);

        if (fd < 0)
                return fd;
        /* not another user's directory: the cgroup filesystem's root, root's alone */
        return unlinkat(fd, cg, AT_REMOVEDIR) < 0 && errno != ENOENT ? -errno : 0;
}

/* Every process of cgroup from to cgroup to; kernel threads cannot move (EINVAL) and stay. */
static int move_procs(const vfio_host *h, const char *from, const char *to, unsigned *ret_moved)
{
        unsigned moved = 0;

        /* Processes forked while we move land where their parent was: go round until none is left. */
        for (int round = 0; round < 4; round++) {
                _cleanup_free_ char *procs = NULL;
                _cleanup_strv_free_ char **l = NULL;
                unsigned now = 0;
                int r;

                if ((r = read_cg(h, from, "cgroup.procs", &procs)) < 0 ||
                    (r = strv_split(procs, "\n", &l)) < 0)
                        return r;
                STRV_FOREACH(p, l)
                        if (write_cg(h, to, "cgroup.procs", *p) >= 0)
                                now++;
                moved += now;
                if (now == 0)
                        break;
        }
        if (ret_moved)
                *ret_moved = moved;
        return 0;
}

/* QEMU out of the host's cgroups: there the CPUs it is pinned to will be forbidden. */
static int vm_cgroup(vm_start *x, const vfio_host *h, pid_t qemu, bool systemd, char **ret_error)
{
        _cleanup_free_ char *cg = NULL, *controllers = NULL, *err = NULL;
        char pid[16];
        int r;

        snprintf(pid, sizeof(pid), "%d", (int)qemu);
        if (systemd) {
                /* A transient scope in machine.slice holding QEMU, as libvirt does (StartTransientUnit
                 * with PIDs, org.freedesktop.systemd1(5)); systemd drops it once QEMU is gone. */
                _cleanup_free_ char *unit = NULL;

                if (asprintf(&unit, "vfioctl-%s.scope", x->c->name) < 0 ||
                    asprintf(&cg, "machine.slice/%s", unit) < 0)
                        return -ENOMEM;
                {
                        /* busctl(1) speaks the D-Bus call systemctl has no verb for. */
                        char *args[] = { (char *)"--system",
                                         (char *)"call",
                                         (char *)"org.freedesktop.systemd1",
                                         (char *)"/org/freedesktop/systemd1",
                                         (char *)"org.freedesktop.systemd1.Manager",
                                         (char *)"StartTransientUnit",
                                         (char *)"ssa(sv)a(sa(sv))",
                                         unit,
                                         (char *)"fail",
                                         (char *)"2",
                                         (char *)"PIDs",
                                         (char *)"au",
                                         (char *)"1",
                                         pid,
                                         (char *)"Slice",
                                         (char *)"s",
                                         (char *)"machine.slice",
                                         (char *)"0",
                                         NULL };

                        r = injected(x, VM_RELEASE_VM_CGROUP) ? -EIO : vm_busctl(args, &err);
                }
                if (r != 0)
                        return fail(ret_error, r, "moving QEMU into %s failed: %s", cg,
                                    err ? err : strerror(-r));
        } else {
                if ((r = read_cg(h, NULL, "cgroup.subtree_control", &controllers)) < 0)
                        return fail(ret_error, r, "cannot read /%s/cgroup.subtree_control: %s", CGROOT,
                                    strerror(-r));
                /* cpuset.cpus of the host's cgroups exists only once the root hands cpuset down. */
                if (!strstr(controllers, "cpuset")) {
                        r = write_cg(h, NULL, "cgroup.subtree_control", "+cpuset");
                        if (r < 0)
                                return fail(ret_error, r, "enabling the cpuset controller in /%s failed: %s",
                                            CGROOT, strerror(-r));
                        x->st->cpuset_enabled = true;
                }
                if (asprintf(&cg, VMS_CGROUP "/%s", x->c->name) < 0)
                        return -ENOMEM;
                if ((r = mkdir_cg(h, VMS_CGROUP)) < 0 || (r = mkdir_cg(h, cg)) < 0)
                        return fail(ret_error, r, "cannot make /%s/%s: %s", CGROOT, cg, strerror(-r));
                r = injected(x, VM_RELEASE_VM_CGROUP) ? -EIO : write_cg(h, cg, "cgroup.procs", pid);
                if (r < 0) {
                        (void)rmdir_cg(h, cg);
                        return fail(ret_error, r, "moving QEMU (pid %s) into /%s/%s failed: %s", pid, CGROOT,
                                    cg, strerror(-r));
                }
        }
        x->st->vm_cgroup = TAKE_PTR(cg);
        if ((r = record(x, VM_RELEASE_VM_CGROUP)) < 0)
                return r;
        note(x, "QEMU (pid %s) moved to the cgroup %s", pid, x->st->vm_cgroup);
        return 0;
}

/* "0-1 4" as systemd prints a CPU set, in one token for the record ("0-1,4"). */
static char *token(const char *s)
{
        char *t = strdup(s ? s : "");

        for (char *p = t; p && *p; p++)
                if (*p == ' ' || *p == '\n')
                        *p = ',';
        return t;
}

static int confine_systemd(vm_start *x, const char *hostlist, char **ret_error)
{
        int r;

        for (size_t i = 0; i < ELEMENTSOF(host_units); i++) {
                _cleanup_free_ char *old = NULL, *err = NULL, *prop = NULL, *tok = NULL;
                char *show[] = { (char *)"show", (char *)"--property=AllowedCPUs", (char *)"--value",
                                 (char *)host_units[i], NULL };
                char *set[] = { (char *)"set-property", (char *)"--runtime", (char *)host_units[i], NULL,
                                NULL };

                r = vm_systemctl(show, &old, &err);
                if (r != 0)
                        return fail(ret_error, r, "reading AllowedCPUs of %s failed: %s", host_units[i],
                                    err ? err : strerror(-r));
                if (asprintf(&prop, "AllowedCPUs=%s", hostlist) < 0 || !(tok = token(old ? old : "")))
                        return -ENOMEM;
                /* The record first: a kill between the two leaves a restore of the old value, harmless. */
                while (*tok && tok[strlen(tok) - 1] == ',')
                        tok[strlen(tok) - 1] = 0;
                if ((r = strv_extendf(&x->st->cpu_units, "%s=%s", host_units[i], tok)) < 0 ||
                    (r = record(x, VM_RELEASE_CPUS)) < 0)
                        return r;
                set[3] = prop;
                free(err);
                err = NULL;
                r = injected(x, VM_RELEASE_CPUS) ? -EIO : vm_systemctl(set, NULL, &err);
                if (r != 0)
                        return fail(ret_error, r, "confining %s to CPUs %s failed: %s", host_units[i],
                                    hostlist, err ? err : "injected failure");
        }
        note(x, "host units %s, %s, %s confined to CPUs %s (runtime only)", host_units[0], host_units[1],
             host_units[2], hostlist);
        return 0;
}

static int confine_cgroups(vm_start *x, const vfio_host *h, const char *hostlist, char **ret_error)
{
        _cleanup_strv_free_ char **tops = NULL;
        unsigned moved = 0;
        int r;

        /* Tasks of the root cgroup itself no cpuset can reach: they move to one of ours for the VM's life.
         */
        if ((r = mkdir_cg(h, HOST_CGROUP)) < 0)
                return fail(ret_error, r, "cannot make /%s/%s: %s", CGROOT, HOST_CGROUP, strerror(-r));
        if (!(x->st->host_cgroup = strdup(HOST_CGROUP)))
                return -ENOMEM;
        if ((r = record(x, VM_RELEASE_CPUS)) < 0)
                return r;
        r = injected(x, VM_RELEASE_CPUS) ? -EIO : write_cg(h, HOST_CGROUP, "cpuset.cpus", hostlist);
        if (r < 0)
                return fail(ret_error, r, "confining /%s/%s to CPUs %s failed: %s", CGROOT, HOST_CGROUP,
                            hostlist, strerror(-r));
        if ((r = move_procs(h, NULL, HOST_CGROUP, &moved)) < 0)
                return fail(ret_error, r, "moving the root cgroup's tasks failed: %s", strerror(-r));
        /* Every other top-level cgroup (a service manager's, a container's) is confined in place. */
        if ((r = vfio_host_list_dir(h, CGROOT, 4096, &tops)) < 0)
                return fail(ret_error, r, "cannot list /%s: %s", CGROOT, strerror(-r));
        STRV_FOREACH(t, tops) {
                _cleanup_free_ char *old = NULL, *tok = NULL;
                char path[512];

                if (strcmp(*t, HOST_CGROUP) == 0 || strcmp(*t, VMS_CGROUP) == 0 || !cgroup_name_ok(*t))
                        continue;
                snprintf(path, sizeof(path), CGROOT "/%s/cpuset.cpus", *t);
                if (vfio_host_read_attr(h, path, 4096, &old) < 0)
                        continue; /* not a cgroup, or no cpuset in it */
                if (!(tok = token(old)) || (r = strv_extendf(&x->st->cpusets, "%s=%s", *t, tok)) < 0 ||
                    (r = record(x, VM_RELEASE_CPUS)) < 0)
                        return r ? r : -ENOMEM;
                r = vfio_host_write_attr(h, path, hostlist);
                if (r < 0)
                        return fail(ret_error, r, "confining /%s/%s to CPUs %s failed: %s", CGROOT, *t,
                                    hostlist, strerror(-r));
        }
        note(x,
             "host tasks confined to CPUs %s: %u from the root cgroup moved to /%s/%s, %zu other top-level cgroups confined",
             hostlist, moved, CGROOT, HOST_CGROUP, strv_length(x->st->cpusets));
        return 0;
}

/* The devices' interrupts (INTx line and MSI vectors) off the vCPUs' CPUs; vectors the guest enables later
 * get /proc/irq/default_smp_affinity, which is set too (Documentation/core-api/irq/irq-affinity.rst). */
static int steer_irqs(vm_start *x, const vfio_host *h, const bool *host, size_t n, const char *hostlist,
                      char **ret_error)
{
        _cleanup_free_ char *mask = cpulist_format_mask(host, n), *old_default = NULL;
        _cleanup_strv_free_ char **irqs = NULL;
        int r;

        if (!mask)
                return -ENOMEM;
        if (vfio_host_read_attr(h, "proc/irq/default_smp_affinity", 4096, &old_default) < 0)
                return 0; /* no /proc/irq: nothing to steer */
        STRV_FOREACH(d, x->devices) {
                _cleanup_strv_free_ char **msi = NULL;
                _cleanup_free_ char *line = NULL;
                char path[300];
                uint64_t v;

                snprintf(path, sizeof(path), "sys/bus/pci/devices/%s/irq", *d);
                if (vfio_host_read_attr(h, path, 32, &line) >= 0 &&
                    parse_uint(line, 10, 1u << 20, &v) >= 0 && v > 0 &&
                    strv_extendf(&irqs, "%llu", (unsigned long long)v) < 0)
                        return -ENOMEM;
                snprintf(path, sizeof(path), "sys/bus/pci/devices/%s/msi_irqs", *d);
                if (vfio_host_list_dir(h, path, 4096, &msi) >= 0)
                        STRV_FOREACH(m, msi)
                                if (!strv_contains(irqs, *m) && strv_extend(&irqs, *m) < 0)
                                        return -ENOMEM;
        }
        if (!(x->st->irq_default = strdup(old_default)) || (r = record(x, VM_RELEASE_IRQS)) < 0)
                return x->st->irq_default ? r : -ENOMEM;
        r = injected(x, VM_RELEASE_IRQS) ? -EIO
                                         : vfio_host_write_attr(h, "proc/irq/default_smp_affinity", mask);
        if (r < 0)
                return fail(ret_error, r, "setting /proc/irq/default_smp_affinity to %s failed: %s", mask,
                            strerror(-r));
        STRV_FOREACH(i, irqs) {
                _cleanup_free_ char *old = NULL;
                char path[128];
                uint64_t v;

                if (parse_uint(*i, 10, 1u << 20, &v) < 0)
                        continue;
                snprintf(path, sizeof(path), "proc/irq/%s/smp_affinity_list", *i);
                if (vfio_host_read_attr(h, path, 4096, &old) < 0)
                        continue; /* not allocated (yet) */
                if ((r = strv_extendf(&x->st->irqs, "%s=%s", *i, old)) < 0 ||
                    (r = record(x, VM_RELEASE_IRQS)) < 0)
                        return r;
                r = vfio_host_write_attr(h, path, hostlist);
                /* Some interrupt controllers cannot move a line (EIO): say so, the VM still runs. */
                if (r < 0)
                        note(x, "IRQ %s could not be steered to CPUs %s: %s", *i, hostlist, strerror(-r));
        }
        note(x, "IRQs %s of the passed devices and new IRQs (default affinity %s) steered to CPUs %s",
             irqs ? "" : "(none yet)", mask, hostlist);
        return 0;
}

static int set_governor(vm_start *x, const vfio_host *h, const bool *vm, size_t n, char **ret_error)
{
        unsigned changed = 0;
        int r;

        for (size_t c = 0; c < n; c++) {
                _cleanup_free_ char *avail = NULL, *old = NULL;
                _cleanup_strv_free_ char **l = NULL;
                char path[160];

                if (!vm[c])
                        continue;
                snprintf(path, sizeof(path),
                         "sys/devices/system/cpu/cpu%zu/cpufreq/scaling_available_governors", c);
                if (vfio_host_read_attr(h, path, 4096, &avail) < 0 || strv_split(avail, " ", &l) < 0 ||
                    !strv_contains(l, "performance"))
                        continue; /* no cpufreq on this CPU, or no performance governor */
                snprintf(path, sizeof(path), "sys/devices/system/cpu/cpu%zu/cpufreq/scaling_governor", c);
                if (vfio_host_read_attr(h, path, 64, &old) < 0 || strcmp(old, "performance") == 0)
                        continue;
                if ((r = strv_extendf(&x->st->governors, "%zu=%s", c, old)) < 0 ||
                    (r = record(x, VM_RELEASE_GOVERNOR)) < 0)
                        return r;
                r = injected(x, VM_RELEASE_GOVERNOR) ? -EIO : vfio_host_write_attr(h, path, "performance");
                if (r < 0)
                        return fail(ret_error, r, "setting CPU %zu's governor to performance failed: %s", c,
                                    strerror(-r));
                changed++;
        }
        if (changed)
                note(x, "%u vCPU host CPUs on the performance governor", changed);
        return 0;
}

int vm_isolate_apply(vm_start *x, pid_t qemu, char **ret_error)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_free_ bool *vm = NULL, *host = NULL;
        _cleanup_free_ char *hostlist = NULL;
        vm_isolate_caps caps;
        int r;

        assert(x);
        assert(ret_error);
        if (!x->c->cpu.isolate)
                return 0;
        /* Processes, cgroups and IRQs are the live host's, even under --root (as pinning). */
        if ((r = vfio_host_open(NULL, &h)) < 0)
                return fail(ret_error, r, "cannot open the host root: %s", strerror(-r));
        vm = calloc(CPULIST_MAX, sizeof(bool));
        host = calloc(CPULIST_MAX, sizeof(bool));
        if (!vm || !host)
                return -ENOMEM;
        if ((r = host_cpus(h, x->pin, vm, host, CPULIST_MAX)) < 0)
                return fail(ret_error, r, "no CPU is left for the host (vCPUs on %s)", "every online CPU");
        hostlist = cpulist_format(host, CPULIST_MAX, ',');
        if (!hostlist)
                return -ENOMEM;
        (void)vm_isolate_support(h, &caps);
        if ((r = vm_cgroup(x, h, qemu, caps.systemd, ret_error)) < 0)
                return r;
        r = caps.systemd ? confine_systemd(x, hostlist, ret_error)
                         : confine_cgroups(x, h, hostlist, ret_error);
        if (r < 0 || (r = steer_irqs(x, h, host, CPULIST_MAX, hostlist, ret_error)) < 0 ||
            (r = set_governor(x, h, vm, CPULIST_MAX, ret_error)) < 0)
                return r;
        return 0;
}

/* --- the way back ------------------------------------------------------------------------------------ */

static vfio_host *live_root(const vm_release_ctx *ctx)
{
        vfio_host *h = NULL;

        if (vfio_host_open(NULL, &h) < 0)
                vm_release_say(ctx, VFIO_PROBLEM_WARNING, "isolate: cannot open /");
        return h;
}

/* "KEY=VALUE" split; value may be empty. NULL key when malformed. */
static char *split_kv(const char *e, const char **ret_value)
{
        const char *eq = strchr(e, '=');

        if (!eq || eq == e)
                return NULL;
        *ret_value = eq + 1;
        return strndup(e, (size_t)(eq - e));
}

void vm_isolate_undo_governor(const vm_release_ctx *ctx)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        vm_runstate *s = NULL;

        assert(ctx);
        h = live_root(ctx);
        s = ctx->state;

        STRV_FOREACH(e, h ? s->governors : NULL) {
                const char *old = NULL;
                _cleanup_free_ char *cpu = split_kv(*e, &old);
                char path[160];
                uint64_t c;
                int r;

                if (!cpu || parse_uint(cpu, 10, CPULIST_MAX - 1, &c) < 0 || !*old || strchr(old, '/')) {
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING, "governors: '%s' is not CPU=GOVERNOR", *e);
                        continue;
                }
                snprintf(path, sizeof(path), "sys/devices/system/cpu/cpu%llu/cpufreq/scaling_governor",
                         (unsigned long long)c);
                if ((r = vfio_host_write_attr(h, path, old)) < 0)
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING,
                                       "isolate: CPU %llu's governor back to %s failed: %s",
                                       (unsigned long long)c, old, strerror(-r));
        }
        if (s->governors)
                vm_release_say(ctx, VFIO_PROBLEM_NOTE, "isolate: %zu CPU governors restored",
                               strv_length(s->governors));
        s->governors = strv_free(s->governors);
}

void vm_isolate_undo_irqs(const vm_release_ctx *ctx)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        vm_runstate *s = NULL;
        int r;

        assert(ctx);
        h = live_root(ctx);
        s = ctx->state;

        STRV_FOREACH(e, h ? s->irqs : NULL) {
                const char *old = NULL;
                _cleanup_free_ char *irq = split_kv(*e, &old);
                char path[128];
                uint64_t v;

                if (!irq || parse_uint(irq, 10, 1u << 20, &v) < 0 || !*old) {
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING, "irqs: '%s' is not IRQ=CPUS", *e);
                        continue;
                }
                snprintf(path, sizeof(path), "proc/irq/%llu/smp_affinity_list", (unsigned long long)v);
                /* An IRQ freed meanwhile (the device's vectors went with QEMU) needs nothing. */
                if ((r = vfio_host_write_attr(h, path, old)) < 0 && r != -ENOENT)
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING,
                                       "isolate: IRQ %llu back to CPUs %s failed: %s", (unsigned long long)v,
                                       old, strerror(-r));
        }
        if (h && s->irq_default) {
                if ((r = vfio_host_write_attr(h, "proc/irq/default_smp_affinity", s->irq_default)) < 0)
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING,
                                       "isolate: /proc/irq/default_smp_affinity back to %s failed: %s",
                                       s->irq_default, strerror(-r));
                else
                        vm_release_say(ctx, VFIO_PROBLEM_NOTE, "isolate: IRQ affinities restored");
        }
        s->irqs = strv_free(s->irqs);
        free(s->irq_default);
        s->irq_default = NULL;
}

void vm_isolate_undo_cpus(const vm_release_ctx *ctx)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        vm_runstate *s = NULL;
        int r;

        assert(ctx);
        h = live_root(ctx);
        s = ctx->state;

        STRV_FOREACH(e, h ? s->cpu_units : NULL) {
                const char *old = NULL;
                _cleanup_free_ char *unit = split_kv(*e, &old), *prop = NULL, *err = NULL;
                bool known = false;

                for (size_t i = 0; unit && i < ELEMENTSOF(host_units); i++)
                        known |= strcmp(unit, host_units[i]) == 0;
                if (!known || strspn(old, "0123456789,-") != strlen(old)) {
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING, "cpu_units: '%s' is not UNIT=CPUS", *e);
                        continue;
                }
                /* An empty value resets the property: every CPU again (systemd.resource-control(5)). */
                if (asprintf(&prop, "AllowedCPUs=%s", old) < 0)
                        continue;
                {
                        char *set[] = { (char *)"set-property", (char *)"--runtime", unit, prop, NULL };

                        r = vm_systemctl(set, NULL, &err);
                }
                if (r != 0)
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING,
                                       "isolate: %s back to AllowedCPUs=%s failed: %s", unit, old,
                                       err ? err : strerror(-r));
        }
        STRV_FOREACH(e, h ? s->cpusets : NULL) {
                const char *old = NULL;
                _cleanup_free_ char *cg = split_kv(*e, &old);

                if (!cg || !cgroup_name_ok(cg) || strchr(cg, '/') ||
                    strspn(old, "0123456789,-") != strlen(old)) {
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING, "cpusets: '%s' is not CGROUP=CPUS", *e);
                        continue;
                }
                /* An empty cpuset.cpus means "the parent's": a newline writes it (an empty write is no
                 * write). */
                if ((r = write_cg(h, cg, "cpuset.cpus", *old ? old : "\n")) < 0 && r != -ENOENT)
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING,
                                       "isolate: /%s/%s/cpuset.cpus back to '%s' failed: %s", CGROOT, cg,
                                       old, strerror(-r));
        }
        if (h && s->host_cgroup) {
                unsigned moved = 0;

                if (strcmp(s->host_cgroup, HOST_CGROUP) != 0)
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING, "host_cgroup: '%s' is not ours",
                                       s->host_cgroup);
                else {
                        (void)move_procs(h, HOST_CGROUP, NULL, &moved);
                        if ((r = rmdir_cg(h, HOST_CGROUP)) < 0)
                                vm_release_say(ctx, VFIO_PROBLEM_WARNING,
                                               "isolate: removing /%s/%s failed: %s", CGROOT, HOST_CGROUP,
                                               strerror(-r));
                }
        }
        if (s->cpu_units || s->cpusets || s->host_cgroup)
                vm_release_say(ctx, VFIO_PROBLEM_NOTE, "isolate: host tasks may use every CPU again");
        s->cpu_units = strv_free(s->cpu_units);
        s->cpusets = strv_free(s->cpusets);
        free(s->host_cgroup);
        s->host_cgroup = NULL;
}

void vm_isolate_undo_vm_cgroup(const vm_release_ctx *ctx)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        vm_runstate *s = NULL;
        int r;

        assert(ctx);
        h = live_root(ctx);
        s = ctx->state;

        if (h && s->vm_cgroup && strncmp(s->vm_cgroup, "machine.slice/", 14) == 0) {
                /* The scope ends by itself once QEMU is gone; stopping it covers a QEMU that lingers. */
                char *stop[] = { (char *)"stop", s->vm_cgroup + 14, NULL };

                (void)vm_systemctl(stop, NULL, NULL);
        } else if (h && s->vm_cgroup) {
                if (!cgroup_name_ok(s->vm_cgroup) ||
                    strncmp(s->vm_cgroup, VMS_CGROUP "/", strlen(VMS_CGROUP) + 1) != 0)
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING, "vm_cgroup: '%s' is not ours",
                                       s->vm_cgroup);
                else {
                        /* A QEMU zombie nobody reaped yet still counts for a moment. */
                        for (int i = 0; i < 100 && (r = rmdir_cg(h, s->vm_cgroup)) == -EBUSY; i++)
                                usleep(20 * 1000);
                        if (r < 0)
                                vm_release_say(ctx, VFIO_PROBLEM_WARNING,
                                               "isolate: removing /%s/%s failed: %s", CGROOT, s->vm_cgroup,
                                               strerror(-r));
                        (void)rmdir_cg(h, VMS_CGROUP); /* fails while another VM is in it: fine */
                }
        }
        if (h && s->cpuset_enabled) {
                bool ours_left = vfio_host_exists(h, CGROOT "/" VMS_CGROUP) > 0;

                /* Another isolated VM still needs the controller: the last one switches it off. */
                if (!ours_left && (r = write_cg(h, NULL, "cgroup.subtree_control", "-cpuset")) < 0)
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING,
                                       "isolate: switching the cpuset controller off again failed: %s",
                                       strerror(-r));
        }
        free(s->vm_cgroup);
        s->vm_cgroup = NULL;
        s->cpuset_enabled = false;
}
