/*
 * check --vm's sound and Looking Glass checks (vfio_check_media) on small roots made here: QEMU's audio
 * module per distribution with the package named, each answer of the sound server (a scripted probe; the
 * real one is tested in test-audio-probe) with its fix, and the Looking Glass file missing, of the wrong
 * size, owner or mode, and right.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "strv.h"
#include "vfioctl/check.h"
#include "vfioctl/host.h"

static char root[64];

static void write_file(const char *rel, const char *content, mode_t mode)
{
        char path[512], cmd[640];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", root, rel);
        snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
        assert_int_equal(system(cmd), 0);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
        assert_int_equal(fchmod(fd, mode), 0);
        close(fd);
}

static int make_root(void **state)
{
        char uid[128], gid[128];

        strcpy(root, "/tmp/vfioctl-check-media-XXXXXX");
        if (!mkdtemp(root))
                return -1;
        write_file("etc/os-release", "ID=debian\n", 0644);
        write_file("usr/bin/qemu-system-x86_64", "", 0755);
        write_file("usr/lib/x86_64-linux-gnu/qemu/audio-alsa.so", "", 0644);
        write_file("usr/lib/x86_64-linux-gnu/qemu/ui-gtk.so", "", 0644);
        /* the caller is the VM user; the desktop user shares its primary group, so the file test can chgrp
         */
        snprintf(uid, sizeof(uid), "vfvm:x:%u:%u::/:/bin/sh\n", (unsigned)getuid(), (unsigned)getgid());
        snprintf(gid, sizeof(gid), "alice:x:%u:%u::/home/alice:/bin/sh\n", 4242u, (unsigned)getgid());
        {
                char passwd[300], group[64];

                snprintf(passwd, sizeof(passwd), "%s%s", uid, gid);
                snprintf(group, sizeof(group), "desk:x:%u:\n", (unsigned)getgid());
                write_file("etc/passwd", passwd, 0644);
                write_file("etc/group", group, 0644);
        }
        return 0;
}

static int remove_root(void **state)
{
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        return system(cmd) == 0 ? 0 : -1;
}

static vfio_check_report *run(const vfio_check_options *o)
{
        vfio_host *h = NULL;
        vfio_account *vm = NULL, *desk = NULL;
        vfio_check_report *R = NULL;

        assert_int_equal(vfio_host_open(root, &h), 0);
        assert_int_equal(vfio_account_lookup(h, "vfvm", &vm), 0);
        assert_int_equal(vfio_account_lookup(h, "alice", &desk), 0);
        assert_int_equal(vfio_check_media(h, o, vm, desk, &R), 0);
        vfio_account_free(vm);
        vfio_account_free(desk);
        vfio_host_free(h);
        return R;
}

static const vfio_check *find(const vfio_check_report *R, const char *id)
{
        const vfio_check *c = vfio_check_report_find(R, id);

        if (!c)
                fail_msg("no check %s", id);
        return c;
}

static void assert_has(const char *s, const char *needle)
{
        if (!s || !strstr(s, needle))
                fail_msg("'%s' lacks '%s'", s ? s : "(null)", needle);
}

static void test_audio_driver_per_distribution(void **state)
{
        vfio_check_options o = { .user = "vfvm", .audio_driver = "alsa" };
        vfio_check_report *R = run(&o);

        assert_int_equal(find(R, "audio.driver")->status, VFIO_CHECK_PASS);
        assert_has(find(R, "audio.driver")->evidence, "usr/lib/x86_64-linux-gnu/qemu/audio-alsa.so present");
        vfio_check_report_free(R);
        /* Debian: the PulseAudio driver lives in qemu-system-gui, which --no-install-recommends skips */
        o.audio_driver = "pa";
        R = run(&o);
        assert_int_equal(find(R, "audio.driver")->status, VFIO_CHECK_FAIL);
        assert_has(find(R, "audio.driver")->evidence, "module audio-audio-pa not found");
        assert_has(find(R, "audio.driver")->fix, "sudo apt-get install qemu-system-gui");
        vfio_check_report_free(R);
        write_file("etc/os-release", "ID=fedora\n", 0644);
        R = run(&o);
        assert_has(find(R, "audio.driver")->fix, "sudo dnf install qemu-audio-pa");
        vfio_check_report_free(R);
        write_file("etc/os-release", "ID=arch\n", 0644);
        R = run(&o);
        assert_has(find(R, "audio.driver")->fix, "sudo pacman -S qemu-audio-pa");
        vfio_check_report_free(R);
        write_file("etc/os-release", "ID=\"opensuse-tumbleweed\"\nID_LIKE=\"opensuse suse\"\n", 0644);
        R = run(&o);
        assert_has(find(R, "audio.driver")->fix, "sudo zypper install qemu-audio-pa");
        vfio_check_report_free(R);
        write_file("usr/lib/x86_64-linux-gnu/qemu/audio-pa.so", "", 0644);
        R = run(&o);
        assert_int_equal(find(R, "audio.driver")->status, VFIO_CHECK_PASS);
        vfio_check_report_free(R);
}

static int scripted_r;
static uid_t probed_uid;

static int scripted_probe(const char *path, uid_t uid, gid_t gid, unsigned timeout_ms, char **ret_detail)
{
        probed_uid = uid;
        *ret_detail = strdup(scripted_r == 0 ? "PulseAudio protocol 35" : strerror(-scripted_r));
        return scripted_r;
}

static void test_audio_server_answers_and_fixes(void **state)
{
        char sock[160], dir[128];
        vfio_check_options o = { .user = "vfvm",
                                 .vm_name = "win",
                                 .desktop_user = "alice",
                                 .audio_socket = sock,
                                 .audio_grant = true,
                                 .audio_probe = scripted_probe };
        vfio_check_report *R;
        static const struct {
                int r;
                bool dir;
                const char *fix;
        } cases[] = {
                { -ENOENT, false,
                  "sudo vfioctl setup --vm win, then: sudo systemd-tmpfiles --create /etc/tmpfiles.d/vfioctl-audio-vfvm.conf && sudo systemctl --user -M alice@ try-restart pipewire-pulse.service pulseaudio.service" },
                { -ENOENT, true, "alice's sound server does not listen there: log alice in, or restart it" },
                { -ECONNREFUSED, true, "alice's sound server does not listen there" },
                { -EACCES, true,
                  "sudo vfioctl setup --vm win (the directory's group and the server's auth-group must be vfvm's)" },
                { -EPERM, true, "the server's auth-group must be vfvm's" },
                { -EPROTO, true, "something other than a PulseAudio server answers on" },
        };
        const vfio_check *k;

        snprintf(dir, sizeof(dir), "%s/run/vfioctl-audio/vfvm", root);
        snprintf(sock, sizeof(sock), "%s/native", dir);
        scripted_r = 0;
        R = run(&o);
        assert_int_equal(find(R, "audio.server")->status, VFIO_CHECK_PASS);
        assert_has(find(R, "audio.server")->evidence, "answered vfvm");
        /* tried as the VM user, not as whoever runs check */
        assert_int_equal(probed_uid, getuid());
        vfio_check_report_free(R);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char cmd[200];

                snprintf(cmd, sizeof(cmd), cases[i].dir ? "mkdir -p '%s'" : "rm -rf '%s'", dir);
                assert_int_equal(system(cmd), 0);
                scripted_r = cases[i].r;
                R = run(&o);
                assert_int_equal(find(R, "audio.server")->status, VFIO_CHECK_FAIL);
                assert_has(find(R, "audio.server")->fix, cases[i].fix);
                if (cases[i].r == -ENOENT && !cases[i].dir)
                        assert_has(find(R, "audio.server")->evidence, "its directory is missing");
                vfio_check_report_free(R);
        }
        /* Not root and not the VM user: not tried, and never reported as the grant's fault. */
        scripted_r = -ENOTSUP;
        R = run(&o);
        k = find(R, "audio.server");
        assert_int_equal(k->status, VFIO_CHECK_SKIP);
        assert_has(k->evidence, "run check as root (sudo) to try it as QEMU will be");
        vfio_check_report_free(R);
}

static void test_looking_glass_file(void **state)
{
        vfio_check_options o = { .user = "vfvm",
                                 .vm_name = "win",
                                 .desktop_user = "alice",
                                 .lg_path = "/dev/shm/looking-glass",
                                 .lg_size = 32 << 20 };
        vfio_check_report *R;
        char path[256];

        R = run(&o);
        assert_int_equal(find(R, "looking-glass.memory")->status, VFIO_CHECK_FAIL);
        assert_has(find(R, "looking-glass.memory")->evidence, "dev/shm/looking-glass: does not exist");
        assert_has(
                find(R, "looking-glass.memory")->fix,
                "sudo vfioctl setup --vm win && sudo systemd-tmpfiles --create /etc/tmpfiles.d/vfioctl-looking-glass-looking-glass.conf");
        vfio_check_report_free(R);
        snprintf(path, sizeof(path), "%s/dev/shm/looking-glass", root);
        write_file("dev/shm/looking-glass", "", 0660);
        assert_int_equal(truncate(path, 16 << 20), 0);
        R = run(&o);
        assert_int_equal(find(R, "looking-glass.memory")->status, VFIO_CHECK_FAIL);
        assert_has(
                find(R, "looking-glass.memory")->evidence,
                "and 16777216 bytes; the VM's region is 33554432 bytes: QEMU refuses a smaller backing store");
        vfio_check_report_free(R);
        assert_int_equal(truncate(path, 32 << 20), 0);
        assert_int_equal(chmod(path, 0666), 0);
        R = run(&o);
        assert_int_equal(find(R, "looking-glass.memory")->status, VFIO_CHECK_FAIL);
        assert_has(find(R, "looking-glass.memory")->evidence, "mode 0666");
        assert_has(find(R, "looking-glass.memory")->fix, "&& sudo chmod 0660 /dev/shm/looking-glass");
        vfio_check_report_free(R);
        assert_int_equal(chmod(path, 0660), 0);
        R = run(&o);
        assert_int_equal(find(R, "looking-glass.memory")->status, VFIO_CHECK_PASS);
        assert_has(find(R, "looking-glass.memory")->evidence,
                   "looking-glass-client -f /dev/shm/looking-glass");
        vfio_check_report_free(R);
        /* kvmfr: the device must be a character device; a regular file there is named */
        o.lg_kvmfr = true;
        o.lg_path = "/dev/kvmfr0";
        R = run(&o);
        assert_int_equal(find(R, "looking-glass.memory")->status, VFIO_CHECK_FAIL);
        assert_has(find(R, "looking-glass.memory")->evidence, "the kvmfr module is not loaded");
        assert_has(find(R, "looking-glass.memory")->fix, "modprobe kvmfr static_size_mb=32");
        vfio_check_report_free(R);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_audio_driver_per_distribution, make_root, remove_root),
                cmocka_unit_test_setup_teardown(test_audio_server_answers_and_fixes, make_root, remove_root),
                cmocka_unit_test_setup_teardown(test_looking_glass_file, make_root, remove_root),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
