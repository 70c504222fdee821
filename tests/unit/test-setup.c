/* setup planning on the q35-viommu capture (read-only) and the unified diff it prints for --dry-run. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fixture-copy.h"
#include "strv.h"
#include "variant.h"
#include "vfioctl/setup.h"

typedef struct env {
        vfio_host *h;
        vfio_model *m;
        vfio_selection *sel;
        vfio_setup_plan *p;
} env;

static int setup_env(void **state)
{
        char dir[4096];
        env *e = calloc(1, sizeof(*e));

        assert_non_null(e);
        assert_int_equal(vfio_host_open(fixture_dir("q35-viommu", dir, sizeof(dir)), &e->h), 0);
        assert_int_equal(vfio_model_load(e->h, &e->m), 0);
        *state = e;
        return 0;
}

static int teardown_env(void **state)
{
        env *e = *state;

        vfio_setup_plan_free(e->p);
        vfio_selection_free(e->sel);
        vfio_model_free(e->m);
        vfio_host_free(e->h);
        free(e);
        return 0;
}

static void plan(env *e, const char *selector, const vfio_setup_opts *o)
{
        char *v[] = { (char *)selector, NULL };

        e->p = vfio_setup_plan_free(e->p);
        e->sel = vfio_selection_free(e->sel);
        assert_int_equal(vfio_selection_resolve(e->h, e->m, NULL, selector ? v : v + 1, 0, &e->sel), 0);
        assert_int_equal(vfio_setup_plan_new(e->h, e->m, e->sel, o, &e->p), 0);
}

static const char *file(env *e, const char *path)
{
        for (size_t i = 0; i < e->p->n; i++)
                if (strcmp(e->p->files[i].path, path) == 0)
                        return e->p->files[i].content;
        return NULL;
}

static bool any_contains(char *const *l, const char *needle)
{
        STRV_FOREACH(s, l)
                if (strstr(*s, needle))
                        return true;
        return false;
}

static void test_unique_device_uses_vfio_pci_ids(void **state)
{
        env *e = *state;
        vfio_setup_opts o = {};

        plan(e, "06:00.0", &o);
        assert_non_null(
                strstr(file(e, "etc/modprobe.d/vfioctl.conf"), "\noptions vfio-pci ids=1b36:000d\n"));
        assert_null(file(e, "etc/systemd/system/vfioctl-bind.service"));
        assert_null(file(e, "etc/security/limits.d/90-vfioctl.conf")); /* no --user */
        assert_null(file(e, "etc/sysctl.d/90-vfioctl.conf"));          /* no --hugepages */
        assert_null(file(e, "etc/modules-load.d/vfioctl.conf"));       /* no relayed input */
        /* The capture's kernel runs with intel_iommu=on iommu=pt: only the ids are missing. */
        assert_int_equal(strv_length(e->p->cmdline_add), 1);
        assert_string_equal(e->p->cmdline_add[0], "vfio-pci.ids=1b36:000d");
        assert_true(any_contains(e->p->commands, "update-initramfs -u")); /* etc/os-release: Debian */
}

static void test_identical_twin_on_host_means_bind_by_identity(void **state)
{
        env *e = *state;
        vfio_setup_opts o = { .vfioctl_path = "/opt/bin/vfioctl" };
        const char *unit;

        plan(e, "8086:10d3#2", &o);
        /* ids=8086:10d3 would take NIC 1 as well: a unit binds NIC 2 by path and serial instead. */
        assert_null(file(e, "etc/modprobe.d/vfioctl.conf"));
        unit = file(e, "etc/systemd/system/vfioctl-bind.service");
        assert_non_null(unit);
        assert_non_null(strstr(
                unit,
                "\nExecStart=/opt/bin/vfioctl bind --boot 8086:10d3:8086:0000@pci0000:00/11.0/00.0,dsn=52-54-00-ff-ff-e2-e0-02\n"));
        /* It binds before udev's coldplug loads the host drivers (which would race it for the device),
         * and systemd's bound on it lies above bind's own for one device (3 waits of 30 s), never none. */
        assert_non_null(strstr(unit, "\nBefore=systemd-udev-trigger.service "));
        assert_non_null(strstr(unit, "\nTimeoutStartSec=120\n"));
        assert_true(any_contains(e->p->notes, "is also at 0000:01:00.0, which stays with the host"));
        assert_int_equal(strv_length(e->p->cmdline_add), 0);
        /* Enabled by setup itself (the link systemctl enable makes), so --undo takes it away too. */
        {
                const vfio_setup_file *l = NULL;

                for (size_t i = 0; i < e->p->n; i++)
                        if (strcmp(e->p->files[i].path,
                                   "etc/systemd/system/sysinit.target.wants/vfioctl-bind.service") == 0)
                                l = &e->p->files[i];
                assert_non_null(l);
                assert_string_equal(l->link, "../vfioctl-bind.service");
                assert_false(any_contains(e->p->commands, "systemctl enable"));
        }
}

static void test_gpu_audio_softdep(void **state)
{
        env *e = *state;
        vfio_setup_opts o = {};

        plan(e, "03:00.0", &o); /* the VGA function brings its HDA function (same slot) */
        assert_non_null(
                strstr(file(e, "etc/modprobe.d/vfioctl.conf"), "\nsoftdep snd_hda_intel pre: vfio-pci\n"));
        /* Both functions have twins on the host (00:01.0, 00:1b.0): no ids= line at all. */
        assert_null(strstr(file(e, "etc/modprobe.d/vfioctl.conf"), "options vfio-pci"));
}

static void test_group_and_safety_refusals(void **state)
{
        env *e = *state;
        vfio_setup_opts o = {};

        plan(e, "05:01.0", &o);
        assert_true(any_contains(e->p->refusals, "IOMMU group 14 with 0000:05:02.0"));
        o.with_group = true;
        plan(e, "05:01.0", &o);
        assert_int_equal(strv_length(e->p->refusals), 0);
        assert_non_null(strstr(file(e, "etc/modprobe.d/vfioctl.conf"), "ids=8086:100e,1af4:1005\n"));
        o.with_group = false;
        plan(e, "00:01.0", &o);
        assert_true(any_contains(e->p->refusals, "boot display"));
        o.force = true;
        plan(e, "00:01.0", &o);
        assert_int_equal(strv_length(e->p->refusals), 0);
        assert_true(any_contains(e->p->notes, "boot display"));
}

/* Without an IOMMU there is no host-critical group verdict; the boot display is still refused. */
static void test_no_iommu_host_critical_refused(void **state)
{
        env *e = calloc(1, sizeof(*e));
        char dir[4096];
        vfio_setup_opts o = {};
        void *st = e;

        (void)state;
        assert_non_null(e);
        assert_int_equal(vfio_host_open(fixture_dir("q35-noiommu", dir, sizeof(dir)), &e->h), 0);
        assert_int_equal(vfio_model_load(e->h, &e->m), 0);
        plan(e, "00:01.0", &o);
        assert_true(any_contains(e->p->refusals, "0000:00:01.0 is needed by the host: boot-display"));
        o.force = true;
        plan(e, "00:01.0", &o);
        assert_int_equal(strv_length(e->p->refusals), 0);
        assert_true(any_contains(e->p->notes, "0000:00:01.0 is needed by the host: boot-display"));
        assert_true(any_contains(e->p->notes, "(--force)"));
        teardown_env(&st);
}

static void test_user_memlock_and_hugepages(void **state)
{
        env *e = *state;
        vfio_setup_opts o = { .user = "vmuser", .hugepages = UINT64_C(1) << 30, .group = "vfio" };

        plan(e, NULL, &o);
        /* 16 GiB default + 1 GiB margin, in KiB. */
        assert_non_null(strstr(file(e, "etc/security/limits.d/90-vfioctl.conf"),
                               "\nvmuser soft memlock 17825792\n"
                               "vmuser hard memlock 17825792\n"));
        assert_non_null(strstr(file(e, "etc/sysctl.d/90-vfioctl.conf"), "\nvm.nr_hugepages = 512\n"));
        assert_non_null(
                strstr(file(e, "etc/udev/rules.d/90-vfioctl.rules"), "GROUP=\"vfio\", MODE=\"0660\""));
        assert_true(any_contains(e->p->commands, "usermod -a -G vfio vmuser"));
        o.user = "bad user";
        e->sel = vfio_selection_free(e->sel);
        assert_int_equal(vfio_selection_resolve(e->h, e->m, NULL, (char *[]){ NULL }, 0, &e->sel), 0);
        assert_int_equal(vfio_setup_plan_new(e->h, e->m, e->sel, &o, &e->p), -EINVAL);
}

static void test_uinput_loaded_at_boot(void **state)
{
        env *e = *state;
        vfio_setup_opts o = { .uinput = true };

        plan(e, NULL, &o);
        assert_non_null(strstr(file(e, "etc/modules-load.d/vfioctl.conf"), "\nuinput\n"));
}

/* The distribution (etc/os-release, read through vfio_distro as check does) picks setup's commands;
 * on one it does not know, setup runs none and says what to do. */
static void test_distro_commands(void **state)
{
        static const struct {
                const char *os_release, *initramfs, *grub;
        } cases[] = {
                { "ID=\"opensuse-tumbleweed\"\nID_LIKE=\"opensuse suse\"\n", "dracut -f --regenerate-all",
                  "grub2-mkconfig -o /boot/grub2/grub.cfg" },
                { "ID=endeavouros\nID_LIKE=arch\n", "mkinitcpio -P",
                  "grub-mkconfig -o /boot/grub/grub.cfg" },
                { "ID=debian\n", "update-initramfs -u -k all", "update-grub" },
                { "ID=plan9\n", NULL, "update-grub" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *root = variant_new("q35-viommu");
                env *e = calloc(1, sizeof(*e));
                vfio_setup_opts o = {};
                void *st = e;

                assert_non_null(e);
                variant_write(root, "etc/default/grub", "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n");
                variant_write(root, "etc/os-release", cases[i].os_release);
                assert_int_equal(vfio_host_open(root, &e->h), 0);
                assert_int_equal(vfio_model_load(e->h, &e->m), 0);
                plan(e, "06:00.0", &o);
                assert_true(any_contains(e->p->commands, cases[i].grub));
                if (cases[i].initramfs)
                        assert_true(any_contains(e->p->commands, cases[i].initramfs));
                else {
                        assert_false(any_contains(e->p->commands, "initramfs") ||
                                     any_contains(e->p->commands, "dracut") ||
                                     any_contains(e->p->commands, "mkinitcpio"));
                        assert_true(any_contains(e->p->notes, "unknown distribution (etc/os-release)"));
                }
                teardown_env(&st);
                variant_free(root);
        }
}

/*
 * The VM user's state directory (var/lib/vfioctl/NAME, where QEMU opens its OVMF variable store) is below
 * var/lib/vfioctl: setup must leave that directory searchable for everyone even when the first thing it
 * makes there is its private backup tree (a root-only var/lib/vfioctl made QEMU fail at start as the VM
 * user, "Permission denied", in the test bed's zero-to-vm case).
 */
static void test_state_dir_stays_searchable_after_a_backup(void **state)
{
        char *root = variant_new("q35-viommu"), path[4200];
        env *e = calloc(1, sizeof(*e));
        _cleanup_strv_free_ char **log = NULL;
        vfio_setup_opts o = { .apply_cmdline = true };
        struct stat st;
        void *st_env = e;

        (void)state;
        assert_non_null(e);
        variant_write(root, "etc/default/grub", "GRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\n");
        variant_write(root, "etc/os-release", "ID=debian\n");
        assert_int_equal(vfio_host_open(root, &e->h), 0);
        assert_int_equal(vfio_model_load(e->h, &e->m), 0);
        plan(e, "06:00.0", &o);
        assert_true(strv_length(e->p->cmdline_add) > 0); /* so etc/default/grub is edited, with a backup */
        assert_int_equal(vfio_setup_apply(e->h, e->p, &log, NULL), 0);
        snprintf(path, sizeof(path), "%s/var/lib/vfioctl/setup.backup/etc/default/grub", root);
        assert_int_equal(stat(path, &st), 0);
        snprintf(path, sizeof(path), "%s/var/lib/vfioctl/setup.backup", root);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        snprintf(path, sizeof(path), "%s/var/lib/vfioctl", root);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0755);
        teardown_env(&st_env);
        variant_free(root);
}

static const vfio_setup_file *plan_file_of(env *e, const char *path)
{
        for (size_t i = 0; i < e->p->n; i++)
                if (strcmp(e->p->files[i].path, path) == 0)
                        return &e->p->files[i];
        return NULL;
}

/* One q35 root per case with etc/os-release (and what the distribution's initramfs tool keeps in etc/). */
static env *distro_env(char **root, const char *os_release)
{
        env *e = calloc(1, sizeof(*e));

        assert_non_null(e);
        *root = variant_new("q35-viommu");
        variant_write(*root, "etc/os-release", os_release);
        return e;
}

static void open_env(env *e, const char *root)
{
        assert_int_equal(vfio_host_open(root, &e->h), 0);
        assert_int_equal(vfio_model_load(e->h, &e->m), 0);
}

/*
 * vfio-pci must be in the initramfs and load before the GPU drivers, or it loses the race at boot: setup
 * writes the module list of the distribution's initramfs tool, not only the command that rebuilds it.
 */
static void test_initramfs_module_lists(void **state)
{
        char *root;
        env *e;
        void *st;
        const vfio_setup_file *f;
        vfio_setup_opts o = {};

        /* Debian, Ubuntu: initramfs-tools reads /etc/initramfs-tools/modules, one module per line; the
         * file is the package's, so it is edited (with a backup), its lines kept. */
        e = distro_env(&root, "ID=debian\n");
        variant_write(root, "etc/initramfs-tools/modules",
                      "# List of modules that you want to include in your initramfs.\nloop\n");
        open_env(e, root);
        plan(e, "06:00.0", &o);
        f = plan_file_of(e, "etc/initramfs-tools/modules");
        assert_non_null(f);
        assert_false(f->owned);
        assert_string_equal(
                f->content,
                "# List of modules that you want to include in your initramfs.\nloop\n"
                "# vfioctl setup: VFIO before the GPU drivers, so vfio-pci claims the passthrough devices\n"
                "vfio\nvfio_iommu_type1\nvfio_pci\n");
        assert_true(any_contains(e->p->commands, "update-initramfs -u -k all"));
        st = e;
        teardown_env(&st);
        /* Already listed (a second run, or by hand): nothing to change. */
        e = calloc(1, sizeof(*e));
        variant_write(root, "etc/initramfs-tools/modules", "vfio\nvfio_iommu_type1\nvfio-pci\n");
        open_env(e, root);
        plan(e, "06:00.0", &o);
        assert_null(plan_file_of(e, "etc/initramfs-tools/modules"));
        st = e;
        teardown_env(&st);
        variant_free(root);

        /* Fedora, RHEL, openSUSE: a dracut drop-in of vfioctl's own. */
        e = distro_env(&root, "ID=fedora\n");
        open_env(e, root);
        plan(e, "06:00.0", &o);
        f = plan_file_of(e, "etc/dracut.conf.d/vfioctl.conf");
        assert_non_null(f);
        assert_true(f->owned);
        assert_non_null(strstr(f->content, "\nforce_drivers+=\" vfio vfio_iommu_type1 vfio_pci \"\n"));
        assert_true(any_contains(e->p->commands, "dracut -f --regenerate-all"));
        st = e;
        teardown_env(&st);
        variant_free(root);

        /* Arch with mkinitcpio's drop-in directory: a file of vfioctl's own puts the modules first. */
        e = distro_env(&root, "ID=arch\n");
        variant_write(root, "etc/mkinitcpio.conf", "MODULES=(amdgpu)\nHOOKS=(base udev modconf)\n");
        variant_write(root, "etc/mkinitcpio.conf.d/.keep", "");
        open_env(e, root);
        plan(e, "06:00.0", &o);
        f = plan_file_of(e, "etc/mkinitcpio.conf.d/vfioctl.conf");
        assert_non_null(f);
        assert_true(f->owned);
        assert_non_null(
                strstr(f->content, "\nMODULES=(vfio_pci vfio vfio_iommu_type1 \"${MODULES[@]}\")\n"));
        assert_null(plan_file_of(e, "etc/mkinitcpio.conf"));
        assert_true(any_contains(e->p->commands, "mkinitcpio -P"));
        st = e;
        teardown_env(&st);
        /* An older mkinitcpio without the directory: the MODULES line of mkinitcpio.conf is edited. */
        variant_rmtree(root, "etc/mkinitcpio.conf.d");
        e = calloc(1, sizeof(*e));
        open_env(e, root);
        plan(e, "06:00.0", &o);
        f = plan_file_of(e, "etc/mkinitcpio.conf");
        assert_non_null(f);
        assert_false(f->owned);
        assert_string_equal(f->content,
                            "MODULES=(vfio_pci vfio vfio_iommu_type1 amdgpu)\nHOOKS=(base udev modconf)\n");
        st = e;
        teardown_env(&st);
        variant_free(root);

        /* openSUSE: dracut, as on Fedora. */
        e = distro_env(&root, "ID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\n");
        open_env(e, root);
        plan(e, "06:00.0", &o);
        assert_non_null(plan_file_of(e, "etc/dracut.conf.d/vfioctl.conf"));
        st = e;
        teardown_env(&st);
        variant_free(root);
}

/* A root with the desktop user alice and the VM user vfvm (its own group), as useradd would leave them. */
static env *desktop_env(char **ret_root)
{
        char *root = variant_new("q35-viommu");
        env *e = calloc(1, sizeof(*e));

        assert_non_null(e);
        variant_write(root, "etc/passwd",
                      "root:x:0:0:root:/root:/bin/bash\n"
                      "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n"
                      "vfvm:x:998:997::/nonexistent:/usr/sbin/nologin\n");
        variant_write(root, "etc/group", "root:x:0:\nkvm:x:104:vfvm\nalice:x:1000:\nvfvm:x:997:\n");
        assert_int_equal(vfio_host_open(root, &e->h), 0);
        assert_int_equal(vfio_model_load(e->h, &e->m), 0);
        *ret_root = root;
        return e;
}

/*
 * server = desktop: a directory at boot that only alice (owner) and vfvm's group may enter, a second socket
 * in it for both PulseAudio and pipewire-pulse, and no access for anyone else.
 */
static void test_audio_grant_files(void **state)
{
        char *root, *want_sock;
        env *e = desktop_env(&root);
        vfio_setup_opts o = { .user = "vfvm", .desktop_user = "alice", .audio_grant = true };
        void *st = e;
        const char *t, *pa, *pw;

        plan(e, NULL, &o);
        assert_true(asprintf(&want_sock, "%s/run/vfioctl-audio/vfvm/native", root) > 0);
        t = file(e, "etc/tmpfiles.d/vfioctl-audio-vfvm.conf");
        assert_non_null(t);
        assert_non_null(strstr(t, "\nd /run/vfioctl-audio 0755 root root -\n"));
        assert_non_null(strstr(t, "\nd /run/vfioctl-audio/vfvm 0710 alice vfvm -\n"));
        pa = file(e, "etc/pulse/default.pa.d/vfioctl-audio-vfvm.pa");
        assert_non_null(pa);
        assert_non_null(strstr(pa, "load-module module-native-protocol-unix socket="));
        assert_non_null(strstr(pa, want_sock));
        assert_non_null(strstr(pa, " auth-group=vfvm auth-cookie-enabled=0\n"));
        /* anonymous access is what seed 003's author ended up with: never */
        assert_null(strstr(pa, "auth-anonymous"));
        pw = file(e, "etc/pipewire/pipewire-pulse.conf.d/90-vfioctl-audio.conf");
        assert_non_null(pw);
        assert_non_null(strstr(pw, "\"unix:native\""));
        assert_non_null(strstr(pw, want_sock));
        assert_true(any_contains(e->p->commands,
                                 "systemd-tmpfiles --create /etc/tmpfiles.d/vfioctl-audio-vfvm.conf"));
        assert_true(any_contains(e->p->commands, "systemctl --user -M alice@ try-restart"));
        assert_int_equal(strv_length(e->p->refusals), 0);
        /* vfvm's group is its own: no note about others sharing it */
        assert_false(any_contains(e->p->notes, "is also"));
        free(want_sock);
        teardown_env(&st);
        variant_free(root);
}

/* A second VM user keeps the first one's socket in pipewire-pulse's single address list. */
static void test_audio_grant_pipewire_keeps_other_sockets(void **state)
{
        char *root;
        env *e = desktop_env(&root);
        vfio_setup_opts o = { .user = "vfvm", .desktop_user = "alice", .audio_grant = true };
        void *st = e;
        const char *pw;

        variant_write(root, "etc/pipewire/pipewire-pulse.conf.d/90-vfioctl-audio.conf",
                      "pulse.properties = {\n    server.address = [\n        \"unix:native\"\n"
                      "        \"unix:/run/vfioctl-audio/other/native\"\n    ]\n}\n");
        plan(e, NULL, &o);
        pw = file(e, "etc/pipewire/pipewire-pulse.conf.d/90-vfioctl-audio.conf");
        assert_non_null(strstr(pw, "\"unix:/run/vfioctl-audio/other/native\""));
        assert_non_null(strstr(pw, "/run/vfioctl-audio/vfvm/native\""));
        teardown_env(&st);
        variant_free(root);
}

/*
 * A VM backed by 1 GiB pages: the kernel reserves them at boot (hugepagesz=1G hugepages=N: at run time
 * memory is too fragmented to find whole gigabytes), and a hugetlbfs with pagesize=1G is mounted where
 * the QEMU argv looks (/dev/hugepages1G), by a systemd mount unit setup enables itself.
 */
static void test_hugepages_1g_at_boot_and_mounted(void **state)
{
        env *e = *state;
        vfio_setup_opts o = { .hugepages = UINT64_C(4) << 30, .hugepage_size = UINT64_C(1) << 30 };
        const vfio_setup_file *f;

        plan(e, NULL, &o);
        assert_null(file(e, "etc/sysctl.d/90-vfioctl.conf")); /* that would be 2 MiB pages */
        assert_true(strv_contains(e->p->cmdline_add, "hugepagesz=1G"));
        assert_true(strv_contains(e->p->cmdline_add, "hugepages=4"));
        f = plan_file_of(e, "etc/systemd/system/dev-hugepages1G.mount");
        assert_non_null(f);
        assert_non_null(strstr(f->content, "\nWhere=/dev/hugepages1G\n"));
        assert_non_null(strstr(f->content, "\nType=hugetlbfs\n"));
        assert_non_null(strstr(f->content, "pagesize=1G"));
        f = plan_file_of(e, "etc/systemd/system/sysinit.target.wants/dev-hugepages1G.mount");
        assert_non_null(f);
        assert_non_null(f->link);
        assert_string_equal(f->link, "../dev-hugepages1G.mount");
        /* 2 MiB pages stay a sysctl (reserved at boot by systemd-sysctl, early enough for 2 MiB). */
        o.hugepage_size = UINT64_C(2) << 20;
        plan(e, NULL, &o);
        assert_non_null(strstr(file(e, "etc/sysctl.d/90-vfioctl.conf"), "\nvm.nr_hugepages = 2048\n"));
        assert_false(strv_contains(e->p->cmdline_add, "hugepagesz=1G"));
}

/* The grant is the directory's group: a group others share is named, a missing user refused. */
static void test_audio_grant_refusals_and_shared_group(void **state)
{
        char *root;
        env *e = desktop_env(&root);
        vfio_setup_opts o = { .user = "nobody", .desktop_user = "alice", .audio_grant = true };
        void *st = e;

        plan(e, NULL, &o);
        assert_true(any_contains(e->p->refusals, "user nobody (the VM user) is not in etc/passwd"));
        variant_append(root, "etc/passwd", "nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin");
        variant_append(root, "etc/passwd", "lp:x:7:65534::/var/spool/lpd:/usr/sbin/nologin");
        variant_append(root, "etc/group", "nogroup:x:65534:");
        plan(e, NULL, &o);
        assert_int_equal(strv_length(e->p->refusals), 0);
        assert_true(any_contains(e->p->notes, "group nogroup is also lp's"));
        o.desktop_user = "bob";
        plan(e, NULL, &o);
        assert_true(any_contains(e->p->refusals, "[vm] desktop_user = bob is not in etc/passwd"));
        /* QEMU as the desktop user itself: its own session socket, nothing to write */
        o.user = o.desktop_user = "alice";
        plan(e, NULL, &o);
        assert_null(file(e, "etc/tmpfiles.d/vfioctl-audio-alice.conf"));
        assert_true(any_contains(e->p->notes, "alice is the desktop user"));
        teardown_env(&st);
        variant_free(root);
}

static void test_looking_glass_files(void **state)
{
        char *root;
        env *e = desktop_env(&root);
        vfio_setup_opts o = { .user = "vfvm",
                              .desktop_user = "alice",
                              .looking_glass = true,
                              .lg_path = "/dev/shm/looking-glass",
                              .lg_size = 32 << 20 };
        void *st = e;
        const char *t;

        plan(e, NULL, &o);
        t = file(e, "etc/tmpfiles.d/vfioctl-looking-glass-looking-glass.conf");
        assert_non_null(t);
        assert_non_null(strstr(t, "\nf /dev/shm/looking-glass 0660 vfvm alice -\n"));
        assert_true(any_contains(
                e->p->commands,
                "systemd-tmpfiles --create /etc/tmpfiles.d/vfioctl-looking-glass-looking-glass.conf"));
        o.lg_kvmfr = true;
        o.lg_path = "/dev/kvmfr0";
        plan(e, NULL, &o);
        assert_null(file(e, "etc/tmpfiles.d/vfioctl-looking-glass-looking-glass.conf"));
        assert_non_null(
                strstr(file(e, "etc/modprobe.d/vfioctl-kvmfr.conf"), "\noptions kvmfr static_size_mb=32\n"));
        assert_non_null(strstr(file(e, "etc/modules-load.d/vfioctl-kvmfr.conf"), "\nkvmfr\n"));
        assert_non_null(strstr(
                file(e, "etc/udev/rules.d/91-vfioctl-kvmfr.rules"),
                "SUBSYSTEM==\"kvmfr\", KERNEL==\"kvmfr0\", OWNER=\"vfvm\", GROUP=\"alice\", MODE=\"0660\"\n"));
        /* a path that would break the tmpfiles.d line is refused, not written */
        o.lg_kvmfr = false;
        o.lg_path = "/dev/shm/a b";
        plan(e, NULL, &o);
        assert_true(any_contains(e->p->refusals, "[looking-glass] path = /dev/shm/a b"));
        teardown_env(&st);
        variant_free(root);
}

static void test_unified_diff(void **state)
{
        char *d;

        d = vfio_setup_unified_diff("etc/x.conf", NULL, "a\nb\n");
        assert_string_equal(d, "--- /dev/null\n+++ b/etc/x.conf\n@@ -0,0 +1,2 @@\n+a\n+b\n");
        free(d);
        d = vfio_setup_unified_diff("etc/x.conf", "a\nb\n", NULL);
        assert_string_equal(d, "--- a/etc/x.conf\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-a\n-b\n");
        free(d);
        d = vfio_setup_unified_diff("etc/x.conf", "same\n", "same\n");
        assert_string_equal(d, "");
        free(d);
        /* One changed line among ten: three lines of context each side, one hunk. */
        d = vfio_setup_unified_diff("f", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n",
                                    "1\n2\n3\n4\n5\nsix\n7\n8\n9\n10\n");
        assert_string_equal(d, "--- a/f\n+++ b/f\n@@ -3,7 +3,7 @@\n 3\n 4\n 5\n-6\n+six\n 7\n 8\n 9\n");
        free(d);
        /* Two changes far apart: two hunks. */
        d = vfio_setup_unified_diff("f", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n",
                                    "one\n2\n3\n4\n5\n6\n7\n8\n9\nten\n");
        assert_string_equal(d, "--- a/f\n+++ b/f\n@@ -1,4 +1,4 @@\n-1\n+one\n 2\n 3\n 4\n"
                               "@@ -7,4 +7,4 @@\n 7\n 8\n 9\n-10\n+ten\n");
        free(d);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_env, teardown_env)
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_unified_diff),
                T(test_unique_device_uses_vfio_pci_ids),
                T(test_identical_twin_on_host_means_bind_by_identity),
                T(test_gpu_audio_softdep),
                T(test_group_and_safety_refusals),
                cmocka_unit_test(test_no_iommu_host_critical_refused),
                T(test_user_memlock_and_hugepages),
                T(test_uinput_loaded_at_boot),
                cmocka_unit_test(test_distro_commands),
                cmocka_unit_test(test_state_dir_stays_searchable_after_a_backup),
                cmocka_unit_test(test_initramfs_module_lists),
                T(test_hugepages_1g_at_boot_and_mounted),
                cmocka_unit_test(test_audio_grant_files),
                cmocka_unit_test(test_audio_grant_pipewire_keeps_other_sockets),
                cmocka_unit_test(test_audio_grant_refusals_and_shared_group),
                cmocka_unit_test(test_looking_glass_files),
        };
#undef T
        return cmocka_run_group_tests(tests, NULL, NULL);
}
