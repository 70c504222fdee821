/* The release steps: host changes made for a VM before or beside QEMU, undone in reverse when it ends. */
#include "vfioctl/release.h"

#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-steps.h"
#include "parse-util.h"
#include "strv.h"
#include "vfioctl/bind.h"
#include "vfioctl/ddc.h"
#include "vfioctl/host.h"
#include "vfioctl/model.h"
#include "vfioctl/relay.h"
#include "vfioctl/selector.h"

/* What a step says: the VM's log after a run, the caller (who prints it) when a start is rolled back. */
void vm_release_say(const vm_release_ctx *ctx, vfio_problem_level level, const char *fmt, ...)
{
        _cleanup_free_ char *s = NULL;
        va_list ap;

        assert(ctx);
        assert(fmt);

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        if (!s)
                return;
        if (ctx->rollback) {
                if (ctx->report)
                        ctx->report(level, s, ctx->userdata);
        } else
                vm_run_log(ctx->run, "%s%s", level == VFIO_PROBLEM_WARNING ? "warning: " : "", s);
}

int vm_release_give_back(const char *root, const char *addr_driver, char **ret_error)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_(vfio_model_freep) vfio_model *m = NULL;
        _cleanup_(vfio_selection_freep) vfio_selection *sel = NULL;
        _cleanup_(vfio_bind_plan_freep) vfio_bind_plan *plan = NULL;
        _cleanup_free_ char *addr = strndup(addr_driver, strcspn(addr_driver, "="));
        char *sels[] = { addr, NULL };
        vfio_bind_opts o = {};
        const char *what;
        int r;

        assert(addr_driver);

        if (!addr)
                return -ENOMEM;
        /* "unbind": back to the driver bind recorded for it (run/vfioctl/bind/ADDR), as the user would. */
        if ((r = vfio_host_open(root, &h)) < 0)
                what = "cannot open the host root";
        else if ((r = vfio_model_load(h, &m)) < 0)
                what = "cannot read the PCI devices";
        else if ((r = vfio_selection_resolve(h, m, NULL, sels, VFIO_SELECT_FUNCTION_ONLY, &sel)) < 0)
                what = "the device is gone";
        else if ((r = vfio_bind_plan_new(h, m, sel, VFIO_BIND_RESTORE, &o, &plan)) < 0 ||
                 (plan->refusals && plan->refusals[0] && (r = -EPERM)))
                what = plan && plan->refusals && plan->refusals[0] ? plan->refusals[0] : "cannot plan it";
        else {
                o.verify = vfio_host_is_live(h);
                r = vfio_bind_execute(h, plan, &o);
                what = "restoring its driver failed";
        }
        if (r < 0 && ret_error &&
            asprintf(ret_error, "giving %s back to its host driver: %s (%s); run: vfioctl unbind %s", addr,
                     what, strerror(-r), addr) < 0)
                *ret_error = NULL;
        return r;
}

static void undo_rebind(const vm_release_ctx *ctx)
{
        vm_runstate *s = ctx->state;

        STRV_FOREACH(d, s->rebind) {
                _cleanup_free_ char *err = NULL;

                if (vm_release_give_back(ctx->run->root, *d, &err) < 0)
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING, "%s", err ? err : *d);
        }
        s->rebind = strv_free(s->rebind);
}

static void undo_hugepages(const vm_release_ctx *ctx)
{
        vm_runstate *s = ctx->state;
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_free_ char *cur = NULL;
        char path[128], val[32];
        uint64_t n;
        int e;

        if (!s->hugepages_reserved || !s->hugepage_kb)
                return;
        snprintf(path, sizeof(path), "sys/kernel/mm/hugepages/hugepages-%ukB/nr_hugepages", s->hugepage_kb);
        if (vfio_host_open(ctx->run->root, &h) >= 0 && vfio_host_read_attr(h, path, 64, &cur) >= 0 &&
            parse_uint(cur, 10, UINT64_MAX, &n) >= 0) {
                snprintf(val, sizeof(val), "%llu",
                         (unsigned long long)(n > s->hugepages_reserved ? n - s->hugepages_reserved : 0));
                e = vfio_host_write_attr(h, path, val);
                if (e < 0)
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING, "releasing %llu hugepages failed: %s",
                                       (unsigned long long)s->hugepages_reserved, strerror(-e));
                else if (ctx->rollback)
                        vm_release_say(ctx, VFIO_PROBLEM_NOTE,
                                       "released the %llu hugepages reserved for this start",
                                       (unsigned long long)s->hugepages_reserved);
                else
                        vm_release_say(ctx, VFIO_PROBLEM_NOTE, "released %llu hugepages reserved at start",
                                       (unsigned long long)s->hugepages_reserved);
        }
        s->hugepages_reserved = 0;
}

static void undo_ddc(const vm_release_ctx *ctx)
{
        vm_runstate *s = ctx->state;
        _cleanup_strv_free_ char **parts = NULL;
        _cleanup_free_ char *err = NULL;
        uint64_t code = 0;
        int e;

        /* "bus=N host=0xNN guest=0xNN": back to the host's input. */
        if (s->ddc && strv_split(s->ddc, " ", &parts) >= 0 && strv_length(parts) >= 2 &&
            strncmp(parts[1], "host=", 5) == 0 && parse_uint(parts[1] + 5, 0, 255, &code) >= 0) {
                e = vm_ddc_switch(parts[0], (unsigned)code, &err);
                if (e < 0)
                        vm_release_say(ctx, VFIO_PROBLEM_WARNING,
                                       "switching the monitor back to the host failed: %s",
                                       err ? err : strerror(-e));
                else
                        vm_release_say(ctx, VFIO_PROBLEM_NOTE,
                                       "monitor switched back to the host input (0x%02x)", (unsigned)code);
        }
        free(s->ddc);
        s->ddc = NULL;
}

static void undo_swtpm(const vm_release_ctx *ctx)
{
        vm_runstate *s = ctx->state;

        /* swtpm ends with QEMU (--terminate); one that lingers (QEMU never connected) is stopped here. */
        if (s->swtpm > 0 && vm_runstate_pid_alive(ctx->run->proc_fd, s->swtpm, s->swtpm_starttime)) {
                kill(s->swtpm, SIGTERM);
                vm_release_say(ctx, VFIO_PROBLEM_NOTE, "stopped swtpm (pid %d)", (int)s->swtpm);
        }
        s->swtpm = 0;
}

static void undo_relay(const vm_release_ctx *ctx)
{
        vm_runstate *s = ctx->state;

        /* The relay gives the keyboard and mouse back to the host: they must never stay grabbed. */
        if (s->relay > 0 && vm_runstate_pid_alive(ctx->run->proc_fd, s->relay, s->relay_starttime)) {
                vm_relay_stop(ctx->run->proc_fd, s->relay, s->relay_starttime);
                vm_release_say(ctx, VFIO_PROBLEM_NOTE, "stopped the input relay (pid %d)", (int)s->relay);
        }
        s->relay = 0;
}

typedef struct release_step {
        const char *name;
        /* For a record older than steps=: was the step done? */
        bool (*recorded)(const vm_runstate *s);
        void (*undo)(const vm_release_ctx *ctx);
} release_step;

static bool rebind_recorded(const vm_runstate *s)
{
        return s->rebind && s->rebind[0];
}

static bool hugepages_recorded(const vm_runstate *s)
{
        return s->hugepages_reserved > 0;
}

static bool ddc_recorded(const vm_runstate *s)
{
        return s->ddc;
}

static bool swtpm_recorded(const vm_runstate *s)
{
        return s->swtpm > 0;
}

static bool relay_recorded(const vm_runstate *s)
{
        return s->relay > 0;
}

static bool display_manager_recorded(const vm_runstate *s)
{
        return s->display_manager;
}

static bool consoles_recorded(const vm_runstate *s)
{
        return s->consoles && s->consoles[0];
}

static bool framebuffer_recorded(const vm_runstate *s)
{
        return s->framebuffers && s->framebuffers[0];
}

static bool handoff_recorded(const vm_runstate *s)
{
        return s->handoff && s->handoff[0];
}

static bool vfio_node_recorded(const vm_runstate *s)
{
        return s->vfio_nodes && s->vfio_nodes[0];
}

static bool vm_cgroup_recorded(const vm_runstate *s)
{
        return s->vm_cgroup;
}

static bool cpus_recorded(const vm_runstate *s)
{
        return (s->cpu_units && s->cpu_units[0]) || (s->cpusets && s->cpusets[0]) || s->host_cgroup ||
               s->cpuset_enabled;
}

static bool irqs_recorded(const vm_runstate *s)
{
        return (s->irqs && s->irqs[0]) || s->irq_default;
}

static bool governor_recorded(const vm_runstate *s)
{
        return s->governors && s->governors[0];
}

/* In the order start does them. */
static const release_step steps[] = {
        { VM_RELEASE_REBIND, rebind_recorded, undo_rebind },
        { VM_RELEASE_HUGEPAGES, hugepages_recorded, undo_hugepages },
        { VM_RELEASE_DISPLAY_MANAGER, display_manager_recorded, vm_handoff_undo_display_manager },
        { VM_RELEASE_CONSOLES, consoles_recorded, vm_handoff_undo_consoles },
        { VM_RELEASE_FRAMEBUFFER, framebuffer_recorded, vm_handoff_undo_framebuffer },
        { VM_RELEASE_HANDOFF, handoff_recorded, vm_handoff_undo_card },
        { VM_RELEASE_VFIO_NODE, vfio_node_recorded, vm_handoff_undo_vfio_node },
        { VM_RELEASE_DDC, ddc_recorded, undo_ddc },
        { VM_RELEASE_SWTPM, swtpm_recorded, undo_swtpm },
        { VM_RELEASE_RELAY, relay_recorded, undo_relay },
        { VM_RELEASE_VM_CGROUP, vm_cgroup_recorded, vm_isolate_undo_vm_cgroup },
        { VM_RELEASE_CPUS, cpus_recorded, vm_isolate_undo_cpus },
        { VM_RELEASE_IRQS, irqs_recorded, vm_isolate_undo_irqs },
        { VM_RELEASE_GOVERNOR, governor_recorded, vm_isolate_undo_governor },
};

static const release_step *find_step(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(steps); i++)
                if (strcmp(steps[i].name, name) == 0)
                        return &steps[i];
        return NULL;
}

int vm_release_record(vm_runstate *s, const char *step)
{
        assert(s);
        assert(step);
        if (!find_step(step))
                return -EINVAL;
        if (strv_contains(s->steps, step))
                return 0;
        return strv_extend(&s->steps, step);
}

void vm_release_undo(const vm_release_ctx *ctx)
{
        _cleanup_strv_free_ char **done = NULL;

        assert(ctx);
        assert(ctx->run);
        assert(ctx->state);
        done = TAKE_PTR(ctx->state->steps);
        if (!done)
                for (size_t i = 0; i < ELEMENTSOF(steps); i++)
                        if (steps[i].recorded(ctx->state) && strv_extend(&done, steps[i].name) < 0)
                                break;
        for (size_t i = strv_length(done); i > 0; i--) {
                const release_step *st = find_step(done[i - 1]);

                if (st)
                        st->undo(ctx);
                else
                        vm_release_say(
                                ctx, VFIO_PROBLEM_WARNING,
                                "release step '%s' was recorded by another vfioctl version and cannot be undone by this one",
                                done[i - 1]);
                /* The record keeps what is still to give back: a release killed halfway resumes there. */
                free(done[i - 1]);
                done[i - 1] = NULL;
                strv_free(ctx->state->steps);
                ctx->state->steps = NULL;
                if (i > 1 && strv_extend_strv(&ctx->state->steps, done) < 0)
                        continue;
                (void)vm_runstate_write(ctx->run->dirfd, ctx->state);
        }
}
