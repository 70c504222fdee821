/*
 * The VM user reaches the desktop user's sound server: a second native-protocol socket in a directory that
 * tmpfiles.d makes at boot (owner the desktop user, group the VM user's, mode 0710), opened by the desktop
 * user's PulseAudio (default.pa.d) or pipewire-pulse (pipewire-pulse.conf.d). Why this shape: docs/audio.md.
 */
#include "vfioctl/audio-grant.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "strv.h"
#include "vfioctl/account.h"
#include "vfioctl/hostfile.h"

#define PULSE_DIR     "etc/pulse/default.pa.d"
#define PIPEWIRE_CONF "etc/pipewire/pipewire-pulse.conf.d/90-vfioctl-audio.conf"
#define CONF_MAX      (64 * 1024)

char *vfio_audio_grant_socket(const char *root, const char *vm_user)
{
        size_t n = root ? strlen(root) : 0;
        char *s;

        while (n > 0 && root[n - 1] == '/')
                n--;
        if (asprintf(&s, "%.*s/" VFIO_AUDIO_GRANT_DIR "/%s/native", (int)n, n ? root : "", vm_user) < 0)
                return NULL;
        return s;
}

char *vfio_audio_grant_tmpfiles(const char *vm_user)
{
        char *s;

        return asprintf(&s, "etc/tmpfiles.d/vfioctl-audio-%s.conf", vm_user) < 0 ? NULL : s;
}

/* Characters PulseAudio's module arguments and PipeWire's SPA-JSON take unquoted and unescaped. */
static bool path_ok(const char *s)
{
        for (; *s; s++)
                if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') && !(*s >= '0' && *s <= '9') &&
                    !strchr("._/-+", *s))
                        return false;
        return true;
}

/*
 * pipewire-pulse takes one server.address list, and a later conf.d fragment replaces an earlier one's: the
 * sockets of every VM user live in this one file, so keep the others' lines when adding this one's.
 */
static int pipewire_fragment(const vfio_host *h, const char *socket, char **ret)
{
        _cleanup_free_ char *old = NULL, *s = NULL;
        _cleanup_strv_free_ char **lines = NULL, **sockets = NULL;
        FILE *f;
        size_t size = 0;
        int r;

        r = vfio_hostfile_read(h, PIPEWIRE_CONF, CONF_MAX, &old, NULL);
        if (r >= 0 && strv_split(old, "\n", &lines) < 0)
                return -ENOMEM;
        STRV_FOREACH(l, lines) {
                const char *a = strstr(*l, "\"unix:/"), *e;

                if (!a || !strstr(*l, "/" VFIO_AUDIO_GRANT_DIR "/") || !(e = strchr(a + 6, '"')))
                        continue;
                {
                        _cleanup_free_ char *path = strndup(a + 6, (size_t)(e - a - 6));

                        if (!path)
                                return -ENOMEM;
                        if (path_ok(path) && strcmp(path, socket) != 0 && !strv_contains(sockets, path) &&
                            (r = strv_extend(&sockets, path)) < 0)
                                return r;
                }
        }
        if ((r = strv_extend(&sockets, socket)) < 0)
                return r;
        strv_sort(sockets);
        f = open_memstream(&s, &size);
        if (!f)
                return -ENOMEM;
        fputs(VFIO_SETUP_HEADER
              "# pipewire-pulse (PipeWire's PulseAudio server) also listens on a socket per VM user, in\n"
              "# /" VFIO_AUDIO_GRANT_DIR
              "/USER: only the desktop user's server can enter that directory (the\n"
              "# other users' servers log that they could not and go on). This list replaces the default\n"
              "# server.address (pipewire-pulse.conf): \"unix:native\" keeps the usual socket. docs/audio.md.\n"
              "pulse.properties = {\n"
              "    server.address = [\n"
              "        \"unix:native\"\n",
              f);
        STRV_FOREACH(k, sockets)
                fprintf(f, "        \"unix:%s\"\n", *k);
        fputs("    ]\n}\n", f);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}

int vfio_audio_grant_plan(const vfio_host *h, const vfio_setup_opts *o, vfio_setup_plan *p)
{
        _cleanup_(vfio_account_freep) vfio_account *vm = NULL, *desk = NULL;
        _cleanup_free_ char *socket = NULL, *dir = NULL, *tmpfiles = NULL, *tmp = NULL, *pa_path = NULL,
                            *pa = NULL, *pw = NULL;
        _cleanup_strv_free_ char **sharers = NULL;
        const char *group;
        int r;

        if (!o->audio_grant)
                return 0;
        if (!vfio_setup_name_ok(o->user) || !vfio_setup_name_ok(o->desktop_user))
                return strv_extendf(
                        &p->refusals,
                        "[audio] server = desktop needs [vm] user and [vm] desktop_user set to user names (or --user)");
        r = vfio_account_lookup(h, o->user, &vm);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return strv_extendf(
                        &p->refusals,
                        "user %s (the VM user) is not in etc/passwd: create it first (vfioctl setup --create-user --user %s)",
                        o->user, o->user);
        r = vfio_account_lookup(h, o->desktop_user, &desk);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return strv_extendf(
                        &p->refusals,
                        "[vm] desktop_user = %s is not in etc/passwd: name the user who logs in at the screen",
                        o->desktop_user);
        if (vm->uid == desk->uid)
                /* QEMU is the desktop user's own process: its session socket needs no grant. */
                return strv_extendf(
                        &p->notes, "sound: %s is the desktop user, QEMU uses its own session's sound server",
                        o->user);
        group = vm->groups && vm->groups[0] ? vm->groups[0] : NULL;
        if (!vfio_setup_name_ok(group))
                return strv_extendf(
                        &p->refusals,
                        "user %s's primary group (gid %u) has no usable name in etc/group: give %s a group of its own",
                        o->user, (unsigned)vm->gid, o->user);
        socket = vfio_audio_grant_socket(vfio_host_root(h), o->user);
        tmpfiles = vfio_audio_grant_tmpfiles(o->user);
        if (!socket || !tmpfiles)
                return -ENOMEM;
        if (strlen(socket) > VFIO_AUDIO_SOCKET_MAX || !path_ok(socket))
                return strv_extendf(
                        &p->refusals,
                        "the sound socket %s is longer than 107 bytes or holds characters a sound server's configuration cannot take; use a shorter root",
                        socket);
        dir = strndup(socket, strlen(socket) - strlen("/native"));
        if (!dir)
                return -ENOMEM;
        r = vfio_account_group_users(h, vm->gid, &sharers);
        if (r < 0)
                return r;
        for (char **u = sharers; u && *u;)
                if (strcmp(*u, o->user) == 0) {
                        free(*u);
                        memmove(u, u + 1, (strv_length(u + 1) + 1) * sizeof(char *));
                } else
                        u++;
        if (sharers && sharers[0]) {
                _cleanup_free_ char *who = strv_join(sharers, ", ");

                /* The directory's group is the grant: everyone in it reaches the desktop's sound server. */
                r = strv_extendf(
                        &p->notes,
                        "sound: group %s is also %s's: they reach %s's sound server too; give %s a group of its own (useradd --system --user-group)",
                        group, who ? who : "?", o->desktop_user, o->user);
                if (r < 0)
                        return r;
        }
        /* tmpfiles.d(5): paths are relative to the root systemd-tmpfiles --root= is given. */
        if (asprintf(&tmp,
                     VFIO_SETUP_HEADER
                     "# The directory in which %s's sound server listens for %s (QEMU): %s owns it, only\n"
                     "# group %s may pass through it (0710). docs/audio.md.\n"
                     "d /" VFIO_AUDIO_GRANT_DIR " 0755 root root -\n"
                     "d /" VFIO_AUDIO_GRANT_DIR "/%s 0710 %s %s -\n",
                     o->desktop_user, o->user, o->desktop_user, group, o->user, o->desktop_user, group) < 0)
                return -ENOMEM;
        r = vfio_setup_plan_add(p, tmpfiles, TAKE_PTR(tmp), 0644);
        if (r < 0)
                return r;
        /*
         * PulseAudio (pulse-cli-syntax(5)): Debian's default.pa includes default.pa.d. Only a server that
         * may enter the directory loads the module (.ifexists DIR/. needs search permission there), so other
         * users' servers skip it quietly; auth-group lets in exactly clients whose group is the VM user's.
         */
        if (asprintf(&pa_path, PULSE_DIR "/vfioctl-audio-%s.pa", o->user) < 0 ||
            asprintf(
                    &pa,
                    VFIO_SETUP_HEADER
                    "# %s (QEMU) plays through %s's PulseAudio on a second socket (docs/audio.md).\n"
                    ".nofail\n"
                    ".ifexists %s/.\n"
                    "load-module module-native-protocol-unix socket=%s auth-group=%s auth-cookie-enabled=0\n"
                    ".endif\n",
                    o->user, o->desktop_user, dir, socket, group) < 0)
                return -ENOMEM;
        r = vfio_setup_plan_add(p, pa_path, TAKE_PTR(pa), 0644);
        if (r < 0)
                return r;
        r = pipewire_fragment(h, socket, &pw);
        if (r < 0)
                return r;
        r = vfio_setup_plan_add(p, PIPEWIRE_CONF, TAKE_PTR(pw), 0644);
        if (r < 0)
                return r;
        if ((r = strv_extendf(&p->commands, "systemd-tmpfiles --create /%s", tmpfiles)) < 0)
                return r;
        /* The sound server reads its configuration when it starts. */
        return strv_extendf(
                &p->commands,
                "systemctl --user -M %s@ try-restart pipewire-pulse.service pulseaudio.service (or log %s out and in)",
                o->desktop_user, o->desktop_user);
}
