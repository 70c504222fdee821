/*
 * vfioctl guide on fixture roots: the q35 capture (a twin-card host: its GPU has the IDs of the boot
 * display, its HDMI-style audio those of the on-board audio) dressed as each distribution family check
 * knows. --dry-run prints the whole plan (golden per family) and leaves the root byte-identical.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "variant.h"
#include "vfioctl/guide.h"
#include "vfioctl/host.h"

#define GPU "0000:03:00.0"

/* Every name, type, mode and link target below root, and every regular file's SHA-256: equal or not. */
static char *tree_digest(const char *root)
{
        char cmd[4400], *out = NULL;
        size_t size = 0;
        FILE *p, *m = open_memstream(&out, &size);
        int c;

        assert_non_null(m);
        snprintf(cmd, sizeof(cmd),
                 "cd '%s' && find . -printf '%%p %%y %%m %%l\\n' | LC_ALL=C sort && "
                 "find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum",
                 root);
        p = popen(cmd, "r");
        assert_non_null(p);
        while ((c = fgetc(p)) != EOF)
                fputc(c, m);
        assert_int_equal(pclose(p), 0);
        fclose(m);
        return out;
}

/* A file a package puts there (the tool guide looks for; its content does not matter to a dry run). */
static void tool_file(const char *root, const char *rel)
{
        variant_write(root, rel, "");
}

typedef struct family {
        const char *name, *os_release;
        void (*dress)(const char *root);
} family;

static void common(const char *root)
{
        /* A host that has not been set up: no IOMMU parameter on the kernel command line yet. */
        variant_replace(root, "proc/cmdline", "intel_iommu=on iommu=pt", "quiet");
        /* 1 GiB pages and room for them: the hugepage settings are part of the plan. */
        variant_replace(root, "proc/cpuinfo", "flags\t\t: ", "flags\t\t: pdpe1gb ");
        variant_write(
                root, "proc/meminfo",
                "MemTotal:       33554432 kB\nMemFree:        30000000 kB\nHugepagesize:       2048 kB\n");
        tool_file(root, "usr/sbin/useradd");
        tool_file(root, "usr/sbin/groupadd");
        tool_file(root, "usr/sbin/usermod");
        variant_write(root, "etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
        variant_write(root, "etc/group", "root:x:0:\nkvm:x:994:\n");
}

static void debian(const char *root)
{
        common(root);
        variant_write(
                root, "etc/default/grub",
                "GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n");
        variant_write(root, "etc/initramfs-tools/modules",
                      "# List of modules that you want to include in your initramfs.\n");
        tool_file(root, "usr/sbin/update-initramfs");
        tool_file(root, "usr/sbin/update-grub");
        tool_file(root, "usr/bin/apt-get");
        tool_file(root, "usr/bin/qemu-system-x86_64");
        tool_file(root, "usr/share/OVMF/OVMF_CODE_4M.fd");
        tool_file(root, "usr/share/OVMF/OVMF_VARS_4M.fd");
}

static void fedora(const char *root)
{
        common(root);
        /* Fedora's GRUB takes its command line through grubby (BLS entries). */
        variant_write(root, "etc/default/grub", "GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX=\"rhgb quiet\"\n");
        variant_write(root, "etc/dracut.conf.d/.keep", "");
        tool_file(root, "usr/sbin/grubby");
        tool_file(root, "usr/bin/dracut");
        tool_file(root, "usr/bin/dnf");
        tool_file(root, "usr/libexec/qemu-kvm");
        /* No OVMF yet: the plan installs edk2-ovmf. */
}

static void arch(const char *root)
{
        common(root);
        variant_write(root, "etc/default/grub",
                      "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"loglevel=3 quiet\"\n");
        variant_write(root, "etc/mkinitcpio.conf",
                      "MODULES=()\nHOOKS=(base udev autodetect modconf block filesystems)\n");
        variant_write(root, "etc/mkinitcpio.conf.d/.keep", "");
        tool_file(root, "usr/bin/mkinitcpio");
        tool_file(root, "usr/bin/grub-mkconfig");
        tool_file(root, "usr/bin/pacman");
        tool_file(root, "usr/bin/qemu-system-x86_64");
        tool_file(root, "usr/share/edk2/x64/OVMF_CODE.4m.fd");
        tool_file(root, "usr/share/edk2/x64/OVMF_VARS.4m.fd");
}

static void opensuse(const char *root)
{
        common(root);
        variant_write(root, "etc/default/grub",
                      "GRUB_DEFAULT=saved\nGRUB_CMDLINE_LINUX_DEFAULT=\"splash=silent quiet\"\n");
        tool_file(root, "usr/bin/dracut");
        tool_file(root, "usr/sbin/grub2-mkconfig");
        tool_file(root, "usr/bin/zypper");
        tool_file(root, "usr/bin/qemu-system-x86_64");
        tool_file(root, "usr/share/qemu/ovmf-x86_64-code.bin");
        tool_file(root, "usr/share/qemu/ovmf-x86_64-vars.bin");
}

static const family families[] = {
        { "debian", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n", debian },
        { "fedora", "NAME=\"Fedora Linux\"\nID=fedora\nVERSION_ID=40\n", fedora },
        { "arch", "NAME=\"Arch Linux\"\nID=arch\n", arch },
        { "opensuse",
          "NAME=\"openSUSE Tumbleweed\"\nID=\"opensuse-tumbleweed\"\nID_LIKE=\"opensuse suse\"\n",
          opensuse },
};

/* The output with what differs between machines taken out: the root's path and this program's. */
static char *normalize(const char *out, const char *root)
{
        const char *bin = getenv("VFIOCTL_BIN");
        char real[4096], *s = strdup(out);

        assert_non_null(s);
        assert_non_null(realpath(bin, real));
        for (int pass = 0; pass < 2; pass++) {
                const char *from = pass == 0 ? real : root, *to = pass == 0 ? "VFIOCTL" : "ROOT";
                char *p;

                while ((p = strstr(s, from))) {
                        char *n;

                        assert_true(asprintf(&n, "%.*s%s%s", (int)(p - s), s, to, p + strlen(from)) > 0);
                        free(s);
                        s = n;
                }
        }
        return s;
}

static void test_dry_run_per_family(void **state)
{
        for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
                char *root = variant_new("q35-viommu"), *before, *after, *out = NULL, *err = NULL, *norm,
                     golden[64];
                const char *argv[] = { "--root",   root,  "guide",  "win",  "--gpu",     GPU,
                                       "--memory", "16G", "--disk", "120G", "--dry-run", NULL };

                variant_write(root, "etc/os-release", families[i].os_release);
                families[i].dress(root);
                before = tree_digest(root);
                assert_int_equal(fixture_run_tool(&out, &err, argv), 0);
                after = tree_digest(root);
                /* Nothing below the root changed: not a byte, mode or link. */
                assert_string_equal(before, after);
                assert_string_equal(err, "");
                norm = normalize(out, root);
                snprintf(golden, sizeof(golden), "golden/guide-%s.txt", families[i].name);
                if (!fixture_golden(golden, norm))
                        fail_msg("%s: the plan differs from tests/data/%s", families[i].name, golden);
                free(norm);
                free(before);
                free(after);
                free(out);
                free(err);
                variant_free(root);
        }
}

/* What each family's plan must name, whatever else the golden holds. */
static void test_plans_name_the_distribution_tools(void **state)
{
        static const struct {
                const char *name, *want[8];
        } expect[] = {
                { "debian",
                  { "run: /usr/sbin/update-initramfs -u -k all", "+++ b/etc/initramfs-tools/modules",
                    "+vfio_pci", "run: /usr/sbin/update-grub",
                    "+GRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel_iommu=on iommu=pt hugepagesz=1G hugepages=16\"",
                    "/usr/sbin/useradd --system --no-create-home --shell /usr/sbin/nologin --groups kvm vm-win" } },
                { "fedora",
                  { "run: /usr/bin/dracut -f --regenerate-all",
                    "+force_drivers+=\" vfio vfio_iommu_type1 vfio_pci \"",
                    "run: /usr/sbin/grubby --update-kernel=ALL '--args=intel_iommu=on iommu=pt hugepagesz=1G hugepages=16'",
                    "run: /usr/bin/dnf install -y edk2-ovmf" } },
                { "arch",
                  { "run: /usr/bin/mkinitcpio -P", "+++ b/etc/mkinitcpio.conf.d/vfioctl.conf",
                    "+MODULES=(vfio_pci vfio vfio_iommu_type1 \"${MODULES[@]}\")",
                    "run: /usr/bin/grub-mkconfig -o /boot/grub/grub.cfg" } },
                { "opensuse",
                  { "run: /usr/bin/dracut -f --regenerate-all", "+++ b/etc/dracut.conf.d/vfioctl.conf",
                    "run: /usr/sbin/grub2-mkconfig -o /boot/grub2/grub.cfg" } },
        };
        /* And in every plan: the udev rule, the limits file, the 1 GiB pages and the VM user. */
        static const char *const all[] = {
                "+++ b/etc/udev/rules.d/90-vfioctl.rules",
                "+SUBSYSTEM==\"vfio\", KERNEL!=\"vfio\", GROUP=\"kvm\", MODE=\"0660\"",
                "+++ b/etc/security/limits.d/90-vfioctl.conf",
                "+vm-win hard memlock 17825792",
                "+++ b/etc/systemd/system/dev-hugepages1G.mount",
                "+Options=pagesize=1G,mode=01770,gid=994",
                "+ExecStart=VFIOCTL bind --boot 1234:1111:1af4:1100@pci0000:00/12.0/00.0 8086:293e:1af4:1100@pci0000:00/12.0/00.1",
                "user = vm-win",
                "hugepages = 1G",
                "device = 1234:1111:1af4:1100@pci0000:00/12.0/00.0",
                "run: qemu-img create -f qcow2 /var/lib/vfioctl/win/system.qcow2 120G",
                "the kernel command line lacks intel_iommu=on",
        };

        for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
                char *root = variant_new("q35-viommu"), *out = NULL, *err = NULL, *norm;
                const char *argv[] = { "--root",   root,  "guide",  "win",  "--gpu",     GPU,
                                       "--memory", "16G", "--disk", "120G", "--dry-run", NULL };

                assert_string_equal(families[i].name, expect[i].name);
                variant_write(root, "etc/os-release", families[i].os_release);
                families[i].dress(root);
                assert_int_equal(fixture_run_tool(&out, &err, argv), 0);
                norm = normalize(out, root);
                for (size_t k = 0; k < 8 && expect[i].want[k]; k++)
                        if (!strstr(norm, expect[i].want[k]))
                                fail_msg("%s: no '%s' in the plan:\n%s", expect[i].name, expect[i].want[k],
                                         norm);
                for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++)
                        if (!strstr(norm, all[k]))
                                fail_msg("%s: no '%s' in the plan:\n%s", expect[i].name, all[k], norm);
                /* Twins stay with the host: never an ids= line that would take them. */
                assert_null(strstr(norm, "options vfio-pci ids="));
                assert_null(strstr(norm, "vfio-pci.ids"));
                free(norm);
                free(out);
                free(err);
                variant_free(root);
        }
}

/* Without a terminal and without --yes the plan is printed and nothing changes. */
static void test_no_terminal_no_yes_changes_nothing(void **state)
{
        char *root = variant_new("q35-viommu"), *before, *after, *out = NULL, *err = NULL;
        const char *argv[] = { "--root", root, "guide", "win", "--gpu", GPU, NULL };

        variant_write(root, "etc/os-release", families[0].os_release);
        debian(root);
        before = tree_digest(root);
        assert_int_equal(fixture_run_tool(&out, &err, argv), 0);
        after = tree_digest(root);
        assert_string_equal(before, after);
        assert_non_null(strstr(
                out,
                "Nothing was changed: run it on a terminal to be asked before each step, or add --yes."));
        assert_non_null(strstr(out, "[5/10] Write the host setup"));
        free(out);
        free(err);
        /* -y is no option of guide's (--yes is spelled out): a usage error, never taken for another option.
         */
        const char *short_y[] = { "--root", root, "guide", "win", "--gpu", GPU, "-y", NULL };
        assert_int_equal(fixture_run_tool(&out, &err, short_y), 64);
        free(after);
        after = tree_digest(root);
        assert_string_equal(before, after);
        free(before);
        free(after);
        free(out);
        free(err);
        variant_free(root);
}

/* The boot display is never the GPU the guide takes; a GPU that is not there is named. */
static void test_refusals(void **state)
{
        char *root = variant_new("q35-viommu"), *out = NULL, *err = NULL;
        const char *boot[] = { "--root", root, "guide", "win", "--gpu", "0000:00:01.0", "--yes", NULL };
        const char *none[] = { "--root", root, "guide", "win", "--gpu", "10de:1b80", "--yes", NULL };

        variant_write(root, "etc/os-release", families[0].os_release);
        debian(root);
        assert_int_equal(fixture_run_tool(&out, &err, boot), 1);
        assert_non_null(strstr(out, "0000:00:01.0 is the boot display: the host would lose its screen"));
        assert_non_null(strstr(err, "stopped at step 2 (devices)"));
        free(out);
        free(err);
        assert_int_equal(fixture_run_tool(&out, &err, none), 1);
        assert_non_null(strstr(out, "10de:1b80: no PCI device matches"));
        free(out);
        free(err);
        /* A VM name the default user would have to change could share that user with another VM. */
        const char *dotted[] = { "--root", root, "guide", "win.11", "--gpu", GPU, "--dry-run", NULL };
        const char *own[] = { "--root", root,     "guide",    "win.11",    "--gpu",
                              GPU,      "--user", "vm-win11", "--dry-run", NULL };
        assert_int_equal(fixture_run_tool(&out, &err, dotted), 64);
        assert_non_null(strstr(
                err,
                "the VM name 'win.11' does not make a user name as it is (vm-win-11 would be the user of another VM named so): give the VM its own user with --user NAME"));
        free(out);
        free(err);
        assert_int_equal(fixture_run_tool(&out, &err, own), 0);
        assert_non_null(strstr(out, "vm-win11"));
        free(out);
        free(err);
        variant_free(root);
}

/*
 * The desktop user goes into the config as create writes it; its sound reaches QEMU (another user) only
 * through setup's grant, so until that is there the plan says so and writes backend = none, and start
 * cannot fail on a socket that is not there.
 */
static void test_desktop_user(void **state)
{
        char *root = variant_new("q35-viommu"), *out = NULL, *err = NULL;
        const char *alice[] = { "--root",   root,  "guide",          "win",   "--gpu",     GPU,
                                "--memory", "16G", "--desktop-user", "alice", "--dry-run", NULL };
        const char *bad[] = { "--root",         root,  "guide",     "win", "--gpu", GPU,
                              "--desktop-user", "-rf", "--dry-run", NULL };

        variant_write(root, "etc/os-release", families[0].os_release);
        debian(root);
        assert_int_equal(fixture_run_tool(&out, &err, alice), 0);
        assert_non_null(strstr(out, "desktop_user = alice\n"));
        assert_non_null(strstr(out, "backend = none\n"));
        assert_non_null(strstr(
                out,
                "audio: alice's sound server reaches QEMU only through setup's grant (/run/vfioctl-audio/vm-win/native is not there), so [audio] backend = none"));
        free(out);
        free(err);
        assert_int_equal(fixture_run_tool(&out, &err, bad), 64);
        assert_non_null(strstr(err, "--desktop-user: '-rf' is not a user name"));
        free(out);
        free(err);
        variant_free(root);
}

/*
 * The boot step waits for an initramfs or boot-loader tool a killed run left running: root's only. Any user
 * can name a process "update-initramfs"; waiting for it would let that user hold root's guide for 20
 * minutes.
 */
static void test_boot_tool_of_root_only(void **state)
{
        char *root = variant_new("q35-viommu"), *which = NULL;
        vfio_host *h = NULL;

        variant_write(root, "proc/4242/comm", "update-initramf\n");
        variant_write(root, "proc/4242/status",
                      "Name:\tupdate-initramf\nUmask:\t0022\nState:\tS (sleeping)\n"
                      "Uid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\n");
        variant_write(root, "proc/77/comm", "bash\n");
        variant_write(root, "proc/77/status", "Name:\tbash\nUid:\t0\t0\t0\t0\n");
        assert_int_equal(vfio_host_open(root, &h), 0);
        assert_false(vfio_guide_boot_tool_running(h, &which));
        assert_null(which);

        /* A process of root's with that name: waited for, named. */
        variant_write(root, "proc/4243/comm", "dracut\n");
        variant_write(root, "proc/4243/status", "Name:\tdracut\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n");
        assert_true(vfio_guide_boot_tool_running(h, &which));
        assert_string_equal(which, "dracut (pid 4243)");
        free(which);
        /* setuid-like: real uid a user's, effective root's: still the user's process. */
        variant_write(root, "proc/4243/status", "Name:\tdracut\nUid:\t1000\t0\t0\t0\n");
        assert_false(vfio_guide_boot_tool_running(h, NULL));
        vfio_host_free(h);
        variant_free(root);
}

/*
 * Resuming across a reboot, on a root where the host's tools are played by hand (below --root guide runs
 * none): the setup written, then the initramfs and grub.cfg as update-initramfs and update-grub leave
 * them; guide asks for the reboot; a reboot that did not take effect is diagnosed; one that did lets the
 * plan go on to create.
 */
static void test_resume_across_a_reboot(void **state)
{
        char *root = variant_new("q35-viommu"), *out = NULL, *err = NULL, stat[128];
        const char *yes[] = {
                "--root", root, "guide", "win", "--gpu", GPU, "--memory", "2G", "--yes", NULL
        };
        const char *dry[] = { "--root", root, "guide", "win", "--memory", "2G", "--dry-run", NULL };

        variant_write(root, "etc/os-release", families[0].os_release);
        debian(root);
        variant_write(root, "etc/passwd",
                      "root:x:0:0:root:/root:/bin/bash\nvm-win:x:990:990::/nonexistent:/usr/sbin/nologin\n");
        variant_write(root, "etc/group", "root:x:0:\nkvm:x:994:vm-win\nvm-win:x:990:\n");
        /* 1. The setup is written; the boot step's tools are not run below --root. */
        assert_int_equal(fixture_run_tool(&out, &err, yes), 1);
        assert_non_null(
                strstr(out, "[5/10] Write the host setup (vfioctl setup; setup --undo reverses it): done"));
        assert_non_null(strstr(err, "commands are not run below --root"));
        free(out);
        free(err);
        /* 2. What update-initramfs and update-grub leave: guide now asks for the reboot, and says why. */
        sleep(1); /* mtimes: the image is newer than the module list */
        variant_write(root, "boot/initrd.img-6.1.0-56-amd64", "an initramfs\n");
        variant_write(
                root, "boot/grub/grub.cfg",
                "menuentry 'Debian' {\n\tlinux /boot/vmlinuz-6.1.0-56-amd64 root=/dev/sda1 ro quiet intel_iommu=on iommu=pt hugepagesz=1G hugepages=2\n}\n");
        assert_int_equal(fixture_run_tool(&out, &err, yes), 75);
        assert_non_null(
                strstr(out, "[6/10] Make it take effect at boot (initramfs, boot loader, udev): done"));
        assert_non_null(strstr(out, "[7/10] Reboot into the new setup: reboot needed"));
        assert_non_null(strstr(out, "the kernel command line lacks intel_iommu=on"));
        assert_non_null(strstr(
                out, "0000:03:00.0 is on bochs-drm: the boot-time binding gives it to vfio-pci at boot"));
        assert_non_null(strstr(
                out,
                "Reboot now (the changes above take effect at boot), then run the same command again: vfioctl guide win --yes"));
        free(out);
        free(err);
        /* 3. Booted since, but not with grub.cfg: named, not asked again. */
        snprintf(stat, sizeof(stat), "cpu  1 2 3 4\nbtime %lld\n", (long long)time(NULL) + 60);
        variant_write(root, "proc/stat", stat);
        assert_int_equal(fixture_run_tool(&out, &err, yes), 1);
        assert_non_null(strstr(out, "[7/10] Reboot into the new setup: blocked"));
        assert_non_null(strstr(out, "grub.cfg has intel_iommu=on, but the kernel did not boot with it"));
        assert_non_null(strstr(
                out,
                "vfio-pci did not take 0000:03:00.0 at boot: see 'journalctl -b -u vfioctl-bind.service'"));
        free(out);
        free(err);
        /* 4. A reboot that took effect: the parameters on the command line, the card on vfio-pci (and the
         * GPU found again without --gpu: the one on vfio-pci). Next: create. */
        variant_replace(root, "proc/cmdline", "quiet",
                        "quiet intel_iommu=on iommu=pt hugepagesz=1G hugepages=2");
        variant_pci_driver(root, GPU, "vfio-pci");
        variant_pci_driver(root, "0000:03:00.1", "vfio-pci");
        assert_int_equal(fixture_run_tool(&out, &err, dry), 0);
        assert_non_null(strstr(out, "vfioctl guide win: 10 steps, VM user vm-win, GPU 0000:03:00.0"));
        assert_non_null(strstr(out, "[7/10] Reboot into the new setup: done"));
        assert_non_null(strstr(out, "0000:03:00.0 is on vfio-pci"));
        assert_non_null(strstr(out, "[8/10] Create the VM and its disk: to do"));
        free(out);
        free(err);
        variant_free(root);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dry_run_per_family),
                cmocka_unit_test(test_plans_name_the_distribution_tools),
                cmocka_unit_test(test_no_terminal_no_yes_changes_nothing),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_desktop_user),
                cmocka_unit_test(test_resume_across_a_reboot),
                cmocka_unit_test(test_boot_tool_of_root_only),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
