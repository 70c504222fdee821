/*
 * vfioctl demo: the whole life of a VM on any machine. Builds a tiny guest (Debian's kernel and busybox, an
 * initramfs whose /init greets on the serial console and powers off on the ACPI power button), starts it
 * as an unprivileged user, shows its status, stops it gracefully, and points to vfioctl guide for a real
 * host.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileio.h"
#include "fs-util.h"
#include "time-util.h"
#include "tool.h"
#include "vfioctl/demo.h"
#include "vfioctl/kvm.h"
#include "vfioctl/vmrun.h"

/* The demo's own download of the guest into cache, saying so. */
static int fetch_guest(const char *cache, vm_demo_guest **ret)
{
        _cleanup_free_ char *pkg = NULL;
        int r;

        if ((r = mkdir_p(cache, 0755)) < 0 || (r = vm_demo_kernel_package(&pkg)) < 0)
                return r;
        fprintf(stderr, "demo: downloading %s and busybox-static with apt-get into %s\n", pkg, cache);
        if ((r = vm_demo_fetch(cache, pkg)) < 0)
                return r;
        return vm_demo_guest_find(cache, ret);
}

/* A verb of this vfioctl (same --root), run as a user would type it; its exit code. */
static int run_verb(const char *name, const char *a1, const char *a2)
{
        char *argv[] = { (char *)name, (char *)a1, (char *)a2, NULL };

        return tool_run_verb(a2 ? 3 : a1 ? 2 : 1, argv);
}

/* 1. the guest: the VFIO test bed's kernel and busybox if it ran here, else our own download (in own). */
static int demo_guest(bool root, char **ret_own, vm_demo_guest **ret)
{
        _cleanup_free_ char *testbed = NULL, *own = NULL;
        const char *cache_env = secure_getenv("VFIOCTL_TESTBED_CACHE"),
                   *xdg_cache = secure_getenv("XDG_CACHE_HOME"), *home = secure_getenv("HOME");
        int e = 0;

        testbed = strdup(cache_env && *cache_env ? cache_env : "/var/cache/vfioctl-testbed");
        if (root)
                own = strdup("/var/cache/vfioctl/demo");
        else if (xdg_cache && xdg_cache[0] == '/')
                e = asprintf(&own, "%s/vfioctl/demo", xdg_cache);
        else
                e = asprintf(&own, "%s/.cache/vfioctl/demo", home && home[0] == '/' ? home : "/tmp");
        if (e < 0 || !testbed || !own)
                return -ENOMEM;
        if (vm_demo_guest_find(testbed, ret) < 0 && vm_demo_guest_find(own, ret) < 0 &&
            fetch_guest(own, ret) < 0) {
                tool_error(
                        "demo: no guest kernel: neither %s nor %s holds Debian's kernel and busybox, and apt-get download failed; run: apt-get update, then vfioctl demo again (or tests/vfio-e2e/setup.sh)",
                        testbed, own);
                return -ENOENT;
        }
        *ret_own = TAKE_PTR(own);
        return 0;
}

/* 2. the initramfs and the config, in a directory the VM user can read; the config's path. */
static int demo_files(bool root, const char *own, const vm_demo_guest *g, char **ret_conf)
{
        _cleanup_free_ char *work = NULL, *initrd = NULL, *conf = NULL, *text = NULL;
        bool kvm;
        int e;

        if (root)
                e = asprintf(&work, "%s/var/lib/vfioctl/demo", arg_root ? arg_root : "");
        else
                e = asprintf(&work, "%s/vfioctl-demo", own);
        if (e < 0 || (e = vm_demo_workdir(work)) < 0) {
                tool_error("demo: cannot create %s: %s", work ? work : "the demo directory",
                           strerror(e < 0 ? -e : ENOMEM));
                return -EIO;
        }
        if (asprintf(&initrd, "%s/initramfs.cpio", work) < 0 ||
            asprintf(&conf, "%s/%s.conf", work, VM_DEMO_NAME) < 0)
                return -ENOMEM;
        e = vm_demo_initramfs(g, initrd);
        if (e < 0) {
                tool_error("demo: building %s: %s", initrd, strerror(-e));
                return e;
        }
        printf("initramfs:     %s (busybox, /init greets and powers off on the ACPI power button)\n",
               initrd);
        /* Root hands the VM to nobody, who is not in group kvm: TCG. Anyone else: KVM if it really runs. */
        kvm = !root && vfio_kvm_usable();
        if ((e = vm_demo_config(g, initrd, kvm, root, &text)) < 0 ||
            (e = write_file_atomic(conf, text, strlen(text), 0644, 0)) < 0)
                return e;
        printf("config:        %s (%s%s)\n\n", conf,
               kvm ? "KVM" : "TCG: /dev/kvm cannot run guests for this user",
               root ? "; QEMU runs as nobody" : "");
        fflush(stdout);
        *ret_conf = TAKE_PTR(conf);
        return 0;
}

/* 4. the guest's greeting on its serial console (logged by QEMU's chardev): when it came, or 0. */
static double demo_wait_greeting(const vm_run *r, double t_start)
{
        for (int i = 0; i < 600; i++) {
                _cleanup_free_ char *out = NULL, *err = NULL;
                _cleanup_close_ int fd = -EBADF;
                char *line;

                if (vm_run_open_log(r, true, &fd, &err) >= 0 && read_full_fd(fd, 1 << 20, &out, NULL) >= 0 &&
                    (line = strstr(out, VM_DEMO_HELLO))) {
                        double t_hello = now_s();

                        line[strcspn(line, "\r\n")] = 0;
                        printf("\nserial console: %s   (%.1f s after start)\n\n", line, t_hello - t_start);
                        return t_hello;
                }
                usleep(100 * 1000);
        }
        return 0;
}

/* 5. status, a graceful stop and how it ended; then what a real setup adds. */
static int demo_status_stop(const vm_run *r, double t0)
{
        _cleanup_(vm_runstate_freep) vm_runstate *s = NULL;
        double t_stop;

        printf("$ vfioctl status %s\n", VM_DEMO_NAME);
        fflush(stdout);
        (void)run_verb("status", VM_DEMO_NAME, NULL);
        printf("\n$ vfioctl stop %s      # ACPI power button; the guest's acpid powers it off\n",
               VM_DEMO_NAME);
        fflush(stdout);
        t_stop = now_s();
        if (run_verb("stop", VM_DEMO_NAME, NULL) != EXIT_OK)
                return EXIT_FAILURE_GENERIC;
        if (vm_runstate_read(r->dirfd, &s) >= 0)
                printf("stopped in %.1f s: state %s, reason %s\n", now_s() - t_stop,
                       vm_state_to_string(s->state), s->exit_reason ? s->exit_reason : "-");
        printf("\nThe demo took %.1f s. On a real host one command goes from here to a running passthrough VM,\n"
               "showing each change and asking before it (resume it after the reboot it asks for):\n"
               "  sudo vfioctl guide win11 --gpu auto --memory 16G --windows\n"
               "It does, in this order (each also a verb of its own):\n"
               "  vfioctl check                          is the IOMMU on, which kernel options are missing\n"
               "  vfioctl devices --gpu                  GPUs by IOMMU group, with a passthrough verdict\n"
               "  vfioctl setup --vm win11 --user gamer  kernel command line, initramfs modules, early binding, udev, limits\n"
               "  (reboot)                               when the kernel command line or the boot-time binding changed\n"
               "  vfioctl create win11 --gpu auto --user gamer --memory 16G --windows\n"
               "  vfioctl start win11                    as [vm] user, pinned, with the GPU passed through\n"
               "  vfioctl enable win11                   start it at boot (vfioctl@win11.service)\n",
               now_s() - t0);
        return EXIT_OK;
}

int verb_demo(int argc, char **argv)
{
        _cleanup_free_ char *own = NULL, *conf = NULL, *err = NULL;
        _cleanup_(vm_demo_guest_freep) vm_demo_guest *g = NULL;
        _cleanup_(vm_run_freep) vm_run *r = NULL;
        bool root = getuid() == 0;
        double t0 = now_s(), t_start;

        if (tool_check_arity(argc - 1) < 0)
                return EXIT_USAGE;
        printf("== vfioctl demo: a VM's whole life on this machine ==\n");
        if (demo_guest(root, &own, &g) < 0)
                return EXIT_FAILURE_GENERIC;
        printf("guest kernel:  %s\n", g->kernel);
        if (demo_files(root, own, g, &conf) < 0)
                return EXIT_FAILURE_GENERIC;

        /* 3. start, detached: preflight, drop privileges, pin, cont */
        printf("$ vfioctl start %s --detach\n", conf);
        fflush(stdout);
        t_start = now_s();
        if (run_verb("start", conf, "--detach") != EXIT_OK) {
                tool_error("demo: start failed (see above); the log: vfioctl log %s", VM_DEMO_NAME);
                return EXIT_FAILURE_GENERIC;
        }
        if (vm_run_open(arg_root, VM_DEMO_NAME, false, &r, &err) < 0) {
                if (err)
                        tool_error("%s", err);
                return EXIT_FAILURE_GENERIC;
        }
        if (!demo_wait_greeting(r, t_start)) {
                tool_error("demo: the guest did not greet within 60 s; see: vfioctl log %s --console",
                           VM_DEMO_NAME);
                (void)run_verb("stop", VM_DEMO_NAME, "--force");
                return EXIT_FAILURE_GENERIC;
        }
        return demo_status_stop(r, t0);
}
