/*
 * start's preflight for the VM's sound and Looking Glass: the per-run half of what setup --vm makes
 * permanent (docs/audio.md). Decided on the running system, as the users QEMU and the client run as.
 */
#include "vfioctl/media.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "vfioctl/account.h"
#include "vfioctl/audio-probe.h"
#include "vfioctl/check.h"
#include "vfioctl/host.h"
#include "vfioctl/shmem.h"

/* An error with its fix (or none), as start lists them. */
static int add(vfio_problems *problems, vfio_problem_level level, const char *msg, const char *fix)
{
        int r = vfio_problems_add(problems, level, "%s", msg);

        if (r >= 0 && fix)
                r = vfio_problems_fix(problems, "%s", fix);
        return r;
}

int vm_media_preflight(const vm_config *c, const vm_argv_paths *p, vfio_problems *problems)
{
        _cleanup_(vfio_account_freep) vfio_account *vm = NULL, *desk = NULL;
        _cleanup_(vfio_check_report_freep) vfio_check_report *R = NULL;
        _cleanup_(vfio_host_freep) vfio_host *live = NULL;
        _cleanup_free_ char *socket = NULL;
        vfio_check_options o = {};
        bool sound;
        int r;

        assert(c);
        assert(p);
        assert(problems);
        sound = c->audio.enabled && c->audio.backend != VM_AUDIO_NONE &&
                vm_audio_server_of(c) != VM_SERVER_NONE;
        o = (vfio_check_options){ .user = p->user, .vm_name = c->filename ? c->filename : c->name };

        if (!sound && !c->looking_glass.enabled)
                return 0;
        if (!p->user)
                return -EINVAL;
        r = vfio_account_lookup_nss(p->user, &vm);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return vfio_problems_add(problems, VFIO_PROBLEM_ERROR,
                                         "user %s (QEMU's) cannot be looked up: %s", p->user, strerror(-r));
        if (c->vm.desktop_user) {
                r = vfio_account_lookup_nss(c->vm.desktop_user, &desk);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return vfio_problems_add(
                                problems, VFIO_PROBLEM_ERROR,
                                "%s:%u: [vm] desktop_user = %s: no such user; name the user who logs in at the screen",
                                c->filename ? c->filename : c->name,
                                vm_config_key_line(c, "vm", "desktop_user"), c->vm.desktop_user);
                o.desktop_user = c->vm.desktop_user;
        }
        if (c->looking_glass.enabled) {
                o.lg_path = vm_looking_glass_path(c);
                o.lg_kvmfr = c->looking_glass.device == VM_LG_KVMFR;
                o.lg_size = vm_looking_glass_bytes(c);
                if (!o.lg_kvmfr) {
                        _cleanup_free_ char *err = NULL;

                        /* Without a desktop user the VM user's own group: nobody else reads the frames. */
                        r = vm_shmem_prepare(o.lg_path, vm->uid, desk ? desk->gid : vm->gid, o.lg_size,
                                             &err);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                return vfio_problems_add(problems, VFIO_PROBLEM_ERROR, "Looking Glass: %s",
                                                         err ? err : strerror(-r));
                }
        }
        if (sound) {
                o.audio_driver = c->audio.backend == VM_AUDIO_PA ? "pa" : "alsa";
                if (c->audio.backend == VM_AUDIO_PA) {
                        socket = vm_qemu_audio_server(c, p);
                        if (!socket)
                                return -ENOMEM;
                        o.audio_socket = socket;
                        o.audio_grant = vm_qemu_audio_granted(c, p);
                        o.audio_probe = vm_audio_probe;
                }
        }
        /* QEMU runs on the running system whatever --root says: its modules, the file, the device. */
        r = vfio_host_open(NULL, &live);
        if (r < 0)
                return r;
        r = vfio_check_media(live, &o, vm, desk, &R);
        if (r < 0)
                return r;
        for (size_t i = 0; i < R->n; i++) {
                const vfio_check *k = &R->checks[i];
                _cleanup_free_ char *msg = NULL;

                if (k->status != VFIO_CHECK_FAIL && k->status != VFIO_CHECK_WARN)
                        continue;
                if (asprintf(&msg, "%s: %s", k->title, k->evidence) < 0)
                        return -ENOMEM;
                r = add(problems, k->status == VFIO_CHECK_FAIL ? VFIO_PROBLEM_ERROR : VFIO_PROBLEM_WARNING,
                        msg, k->fix);
                if (r < 0)
                        return r;
        }
        return 0;
}

int vm_media_notes(const vm_config *c, const vm_argv_paths *p, vfio_problems *notes)
{
        assert(c);
        assert(p);
        assert(notes);

        if (!c->looking_glass.enabled)
                return 0;
        /* Looking Glass client's -f (app:shmFile): the file or the kvmfr device. */
        return vfio_problems_add(notes, VFIO_PROBLEM_NOTE,
                                 "Looking Glass: as %s, run: looking-glass-client -f %s",
                                 c->vm.desktop_user ? c->vm.desktop_user
                                 : p->user          ? p->user
                                                    : "the desktop user",
                                 vm_looking_glass_path(c));
}
