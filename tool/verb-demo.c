/*
 * vfioctl demo: the whole life of a VM on any machine. Builds a tiny guest (Debian's kernel and busybox, an
 * initramfs whose /init greets on the serial console and powers off on the ACPI power button), starts it
 * as an unprivileged user, shows its status, stops it gracefully, and says what a real setup adds.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "fs-util.h"
#include "strv.h"
#include "time-util.h"
#include "tool.h"
#include "vfioctl/launch.h"
#include "vfioctl/vmpaths.h"
#include "vfioctl/vmrun.h"

#define DEMO_NAME "vfioctl-demo"
#define HELLO     "vfioctl demo guest: hello from"

/*
 * The guest's /init (busybox sh): acpid turns the ACPI power button (QMP system_powerdown) into poweroff;
 * a shell on the serial console for `vfioctl console`.
 */
static const char init_script[] =
        "#!/bin/sh\n"
        "export PATH=/bin\n"
        "/bin/busybox --install -s /bin\n"
        "mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev\n"
        "insmod /lib/modules/evdev.ko 2>/dev/null; insmod /lib/modules/button.ko 2>/dev/null\n"
        "acpid -f -c /etc/acpi -l /dev/null &\n"
        /* greet only once acpid listens: a power button pressed before that would be lost */
        "i=0; while [ $i -lt 50 ] && ! ls -l /proc/$!/fd 2>/dev/null | grep -q /dev/input/event; do\n"
        "  sleep 0.1; i=$((i + 1)); done\n"
        "echo \"" HELLO " $(uname -r)\"\n"
        "while :; do setsid cttyhack sh; done\n";
/* busybox acpid runs CONFDIR/PWRF/00000080 for the power button (busybox util-linux/acpid.c, f_evt_tab). */
static const char power_script[] = "#!/bin/sh\n"
                                   "echo 'vfioctl demo guest: power button pressed, powering off'\n"
                                   "exec /bin/busybox poweroff -f\n";

/* ---- a newc cpio writer (the kernel's initramfs format, Documentation/driver-api/early-userspace) ---- */

typedef struct cpio {
        FILE *f;
        unsigned ino;
        int error;
} cpio;

static void cpio_entry(cpio *c, const char *name, unsigned mode, const void *data, size_t size,
                       unsigned rmaj, unsigned rmin)
{
        static const char zeros[4];
        size_t namesize = strlen(name) + 1;

        if (fprintf(c->f, "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X", c->ino++, mode, 0u,
                    0u, 1u, 0u, size, 0u, 0u, rmaj, rmin, namesize, 0u) < 0 ||
            fwrite(name, 1, namesize, c->f) != namesize)
                c->error = -EIO;
        /* header (110) + name padded to 4, data padded to 4 */
        fwrite(zeros, 1, (4 - (110 + namesize) % 4) % 4, c->f);
        if (size && fwrite(data, 1, size, c->f) != size)
                c->error = -EIO;
        fwrite(zeros, 1, (4 - size % 4) % 4, c->f);
}

static int cpio_file(cpio *c, const char *name, unsigned mode, const char *path)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        int r;

        if (fd < 0)
                return -errno;
        r = read_full_fd(fd, 256 << 20, &data, &size);
        if (r < 0)
                return r;
        cpio_entry(c, name, 0100000 | mode, data, size, 0, 0);
        return 0;
}

static int build_initramfs(const char *busybox, const char *moddir, const char *out)
{
        _cleanup_free_ char *tmp = NULL, *button = NULL, *evdev = NULL;
        const char *dirs[] = { ".",        "bin",           "dev", "proc",        "sys", "etc",
                               "etc/acpi", "etc/acpi/PWRF", "lib", "lib/modules", NULL };
        cpio c = {};
        int r;

        if (asprintf(&tmp, "%s.tmp", out) < 0 ||
            asprintf(&button, "%s/kernel/drivers/acpi/button.ko", moddir) < 0 ||
            asprintf(&evdev, "%s/kernel/drivers/input/evdev.ko", moddir) < 0)
                return -ENOMEM;
        c.f = fopen(tmp, "we");
        if (!c.f)
                return -errno;
        c.ino = 1;
        for (const char **d = dirs; *d; d++)
                cpio_entry(&c, *d, 040755, NULL, 0, 0, 0);
        cpio_entry(&c, "dev/console", 020600, NULL, 0, 5, 1);
        cpio_entry(&c, "bin/sh", 0120777, "busybox", 7, 0, 0);
        cpio_entry(&c, "init", 0100755, init_script, strlen(init_script), 0, 0);
        cpio_entry(&c, "etc/acpi/PWRF/00000080", 0100755, power_script, strlen(power_script), 0, 0);
        r = cpio_file(&c, "bin/busybox", 0755, busybox);
        /* The modules are optional: without them the guest cannot hear the power button (stop then quits).
         */
        if (r >= 0)
                (void)cpio_file(&c, "lib/modules/button.ko", 0644, button);
        if (r >= 0)
                (void)cpio_file(&c, "lib/modules/evdev.ko", 0644, evdev);
        cpio_entry(&c, "TRAILER!!!", 0, NULL, 0, 0, 0);
        if (fclose(c.f) != 0 && r >= 0)
                r = -EIO;
        if (r >= 0 && c.error)
                r = c.error;
        if (r >= 0 && (chmod(tmp, 0644) < 0 || rename(tmp, out) < 0))
                r = -errno;
        if (r < 0)
                (void)unlink(tmp);
        return r;
}

/* ---- fetching Debian's kernel and busybox (apt-get download + dpkg -x; argv only) ---- */

static int run_argv(char *const argv[], const char *cwd, char **ret_stdout)
{
        int pfd[2] = { -1, -1 }, status;
        pid_t pid;

        if (ret_stdout && pipe2(pfd, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                if (cwd && chdir(cwd) < 0)
                        _exit(127);
                if (ret_stdout)
                        dup2(pfd[1], STDOUT_FILENO);
                execv(argv[0], argv);
                _exit(127);
        }
        if (ret_stdout) {
                close(pfd[1]);
                (void)read_full_fd(pfd[0], 1 << 20, ret_stdout, NULL);
                close(pfd[0]);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static int fetch_packages(const char *cache)
{
        _cleanup_free_ char *deps = NULL, *pkgs = NULL, *kdir = NULL, *bdir = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        char *kpkg = NULL;
        int r;

        {
                char *const argv[] = { (char *)"/usr/bin/apt-cache", (char *)"depends",
                                       (char *)"linux-image-amd64", NULL };
                r = run_argv(argv, NULL, &deps);
        }
        if (r < 0 || !deps)
                return -ENOENT;
        (void)strv_split(deps, "\n", &lines);
        STRV_FOREACH(l, lines) {
                const char *p = strstr(*l, "Depends: linux-image-");

                if (p && p[strlen("Depends: linux-image-")] >= '0' &&
                    p[strlen("Depends: linux-image-")] <= '9') {
                        kpkg = strdup(p + strlen("Depends: "));
                        break;
                }
        }
        if (!kpkg)
                return -ENOENT;
        fprintf(stderr, "demo: downloading %s and busybox-static with apt-get into %s\n", kpkg, cache);
        if (asprintf(&pkgs, "%s/pkgs", cache) < 0 || (mkdir(pkgs, 0755) < 0 && errno != EEXIST)) {
                free(kpkg);
                return -ENOMEM;
        }
        {
                char *const argv[] = { (char *)"/usr/bin/apt-get",
                                       (char *)"download",
                                       (char *)"-q",
                                       (char *)"-o",
                                       (char *)"APT::Sandbox::User=root",
                                       kpkg,
                                       (char *)"busybox-static",
                                       NULL };
                r = run_argv(argv, pkgs, NULL);
        }
        if (r < 0) {
                free(kpkg);
                return r;
        }
        if (asprintf(&kdir, "%s/kpkg", cache) < 0 || asprintf(&bdir, "%s/bb", cache) < 0) {
                free(kpkg);
                return -ENOMEM;
        }
        {
                _cleanup_(vfio_host_freep) vfio_host *h = NULL;
                _cleanup_strv_free_ char **files = NULL;

                if (vfio_host_open(pkgs, &h) >= 0)
                        (void)vfio_host_list_dir(h, ".", 256, &files);
                STRV_FOREACH(f, files) {
                        _cleanup_free_ char *deb = NULL;
                        bool k = strncmp(*f, kpkg, strlen(kpkg)) == 0 && (*f)[strlen(kpkg)] == '_';
                        bool b = strncmp(*f, "busybox-static_", 15) == 0;

                        if (!k && !b)
                                continue;
                        if (asprintf(&deb, "%s/%s", pkgs, *f) < 0)
                                continue;
                        {
                                char *const argv[] = { (char *)"/usr/bin/dpkg", (char *)"-x", deb,
                                                       k ? kdir : bdir, NULL };
                                r = run_argv(argv, NULL, NULL);
                        }
                        if (r < 0)
                                break;
                }
        }
        free(kpkg);
        return r;
}

/* First existing file: the kernel of the VFIO test bed's cache (raw vmlinux: PVH boot, no decompression). */
static int find_guest(const char *cache, char **ret_kernel, char **ret_busybox, char **ret_moddir)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_strv_free_ char **kvs = NULL;
        _cleanup_free_ char *mods = NULL;

        if (asprintf(&mods, "%s/kpkg/lib/modules", cache) < 0)
                return -ENOMEM;
        if (vfio_host_open(mods, &h) < 0 || vfio_host_list_dir(h, ".", 16, &kvs) < 0 || !kvs || !kvs[0])
                return -ENOENT;
        if (asprintf(ret_moddir, "%s/%s", mods, kvs[0]) < 0 ||
            asprintf(ret_busybox, "%s/bb/bin/busybox", cache) < 0)
                return -ENOMEM;
        if (asprintf(ret_kernel, "%s/vmlinux", cache) < 0)
                return -ENOMEM;
        if (access(*ret_kernel, R_OK) < 0) {
                free(*ret_kernel);
                if (asprintf(ret_kernel, "%s/kpkg/boot/vmlinuz-%s", cache, kvs[0]) < 0)
                        return -ENOMEM;
        }
        return access(*ret_kernel, R_OK) == 0 && access(*ret_busybox, X_OK) == 0 ? 0 : -ENOENT;
}

static void on_alarm(int sig)
{
}

/*
 * Can this process run a KVM guest? /dev/kvm may open and create VMs yet fail at KVM_RUN (nested or
 * restricted hosts): run one `hlt` in real mode (Documentation/virt/kvm/api.rst, KVM_RUN, KVM_EXIT_HLT).
 */
static bool kvm_usable(void)
{
        _cleanup_close_ int kvm = -1, vm = -1, vcpu = -1;
        struct kvm_userspace_memory_region region = {};
        struct kvm_sregs sregs;
        struct kvm_regs regs = { .rip = 0, .rflags = 2 };
        struct kvm_run *run;
        struct sigaction sa = { .sa_handler = on_alarm }, old;
        void *mem;
        int mmap_size, r;

        kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        if (kvm < 0 || ioctl(kvm, KVM_GET_API_VERSION, 0) != 12)
                return false;
        vm = ioctl(kvm, KVM_CREATE_VM, 0);
        if (vm < 0)
                return false;
        mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED)
                return false;
        ((unsigned char *)mem)[0] = 0xf4; /* hlt */
        region = (struct kvm_userspace_memory_region){
                .slot = 0, .guest_phys_addr = 0, .memory_size = 4096, .userspace_addr = (unsigned long)mem
        };
        r = -1;
        if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) == 0 &&
            (vcpu = ioctl(vm, KVM_CREATE_VCPU, 0)) >= 0 &&
            (mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0)) > 0 &&
            ioctl(vcpu, KVM_GET_SREGS, &sregs) == 0) {
                run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
                if (run != MAP_FAILED) {
                        sregs.cs.base = 0;
                        sregs.cs.selector = 0;
                        if (ioctl(vcpu, KVM_SET_SREGS, &sregs) == 0 &&
                            ioctl(vcpu, KVM_SET_REGS, &regs) == 0) {
                                sigaction(SIGALRM, &sa, &old);
                                alarm(2);
                                r = ioctl(vcpu, KVM_RUN, 0);
                                alarm(0);
                                sigaction(SIGALRM, &old, NULL);
                                if (r == 0 && run->exit_reason != KVM_EXIT_HLT)
                                        r = -1;
                        }
                        munmap(run, (size_t)mmap_size);
                }
        }
        munmap(mem, 4096);
        return r == 0;
}

/* Runs this vfioctl again with a verb (same --root), as a user would type it. */
static int self(const char *v, const char *a1, const char *a2, char **ret_stdout)
{
        _cleanup_strv_free_ char **argv = NULL;

        (void)strv_extend(&argv, "/proc/self/exe");
        if (arg_root) {
                (void)strv_extend(&argv, "--root");
                (void)strv_extend(&argv, arg_root);
        }
        (void)strv_extend(&argv, v);
        if (a1)
                (void)strv_extend(&argv, a1);
        if (a2)
                (void)strv_extend(&argv, a2);
        return argv ? run_argv(argv, NULL, ret_stdout) : -ENOMEM;
}

/* find_guest, with nothing left set when it fails. */
static int find_guest_in(const char *dir, char **kernel, char **busybox, char **moddir)
{
        int r = find_guest(dir, kernel, busybox, moddir);

        if (r < 0) {
                free(*kernel);
                free(*busybox);
                free(*moddir);
                *kernel = *busybox = *moddir = NULL;
        }
        return r;
}

/* 1. the guest: the VFIO test bed's kernel and busybox if it ran here, else our own download (in own). */
static int demo_guest(bool root, char **ret_own, char **kernel, char **busybox, char **moddir)
{
        const char *cache_env = secure_getenv("VFIOCTL_TESTBED_CACHE"),
                   *xdg_cache = secure_getenv("XDG_CACHE_HOME"), *home = secure_getenv("HOME");
        _cleanup_free_ char *testbed = NULL, *own = NULL;

        testbed = strdup(cache_env && *cache_env ? cache_env : "/var/cache/vfioctl-testbed");
        if (root)
                own = strdup("/var/cache/vfioctl/demo");
        else if (xdg_cache && xdg_cache[0] == '/' ? asprintf(&own, "%s/vfioctl/demo", xdg_cache) < 0
                                                  : asprintf(&own, "%s/.cache/vfioctl/demo",
                                                             home && home[0] == '/' ? home : "/tmp") < 0)
                own = NULL;
        if (!testbed || !own)
                return EXIT_FAILURE_GENERIC;
        if (find_guest_in(testbed, kernel, busybox, moddir) < 0 &&
            find_guest_in(own, kernel, busybox, moddir) < 0 &&
            (mkdir_p(own, 0755) < 0 || fetch_packages(own) < 0 ||
             find_guest_in(own, kernel, busybox, moddir) < 0)) {
                tool_error(
                        "demo: no guest kernel: neither %s nor %s holds Debian's kernel and busybox, and apt-get download failed; run: apt-get update, then vfioctl demo again (or tests/vfio-e2e/setup.sh)",
                        testbed, own);
                return EXIT_FAILURE_GENERIC;
        }
        printf("guest kernel:  %s\n", *kernel);
        *ret_own = TAKE_PTR(own);
        return EXIT_OK;
}

/* 2. the initramfs and the config, in a directory the VM user can read. */
static int demo_files(bool root, const char *own, const char *kernel, const char *busybox,
                      const char *moddir, char **ret_conf)
{
        _cleanup_free_ char *work = NULL, *initrd = NULL, *conf = NULL, *text = NULL;
        bool kvm;
        int e;

        if (root)
                e = asprintf(&work, "%s/var/lib/vfioctl/demo", arg_root ? arg_root : "");
        else
                e = asprintf(&work, "%s/vfioctl-demo", own);
        if (e < 0 || mkdir_p(work, 0755) < 0 || chmod(work, 0755) < 0) {
                tool_error("demo: cannot create %s: %s", work ? work : "the demo directory",
                           strerror(errno));
                return EXIT_FAILURE_GENERIC;
        }
        if (asprintf(&initrd, "%s/initramfs.cpio", work) < 0 ||
            asprintf(&conf, "%s/%s.conf", work, DEMO_NAME) < 0)
                return EXIT_FAILURE_GENERIC;
        e = build_initramfs(busybox, moddir, initrd);
        if (e < 0) {
                tool_error("demo: building %s: %s", initrd, strerror(-e));
                return EXIT_FAILURE_GENERIC;
        }
        printf("initramfs:     %s (busybox, /init greets and powers off on the ACPI power button)\n",
               initrd);
        /* Root hands the VM to nobody, who is not in group kvm: TCG. Anyone else: KVM if it really runs. */
        kvm = !root && kvm_usable();
        if (asprintf(&text,
                     "# The vfioctl demo VM (written by vfioctl demo).\n"
                     "[vm]\n"
                     "accel = %s\n"
                     "%s"
                     "kernel = %s\n"
                     "initrd = %s\n"
                     "append = console=ttyS0 quiet panic=-1\n"
                     "[firmware]\n"
                     "type = seabios\n"
                     "[cpu]\n"
                     "model = %s\n"
                     "sockets = 1\n"
                     "cores = 1\n"
                     "threads = 1\n"
                     "[memory]\n"
                     "size = 256M\n",
                     vm_accel_to_string(kvm ? VM_ACCEL_KVM : VM_ACCEL_TCG), root ? "user = nobody\n" : "",
                     kernel, initrd, kvm ? "host" : "qemu64") < 0)
                return EXIT_FAILURE_GENERIC;
        if (write_file_atomic(conf, text, strlen(text), 0644, 0) < 0)
                return EXIT_FAILURE_GENERIC;
        printf("config:        %s (%s%s)\n\n", conf,
               kvm ? "KVM" : "TCG: /dev/kvm cannot run guests for this user",
               root ? "; QEMU runs as nobody" : "");
        fflush(stdout);
        *ret_conf = TAKE_PTR(conf);
        return EXIT_OK;
}

/* 4. the guest's greeting on its serial console (logged by QEMU's chardev): when it came, or 0. */
static double demo_wait_greeting(const char *qemu_dir, double t_start)
{
        _cleanup_free_ char *log = vm_launch_console_log(qemu_dir);

        for (int i = 0; log && i < 600; i++) {
                _cleanup_free_ char *out = NULL;
                _cleanup_close_ int fd = open(log, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                char *line;

                if (fd >= 0 && read_full_fd(fd, 1 << 20, &out, NULL) >= 0 && (line = strstr(out, HELLO))) {
                        double t_hello = now_s();

                        line[strcspn(line, "\r\n")] = 0;
                        printf("\nserial console: %s   (%.1f s after start)\n\n", line, t_hello - t_start);
                        return t_hello;
                }
                usleep(100 * 1000);
        }
        return 0;
}

static void demo_epilogue(double t0)
{
        printf("\nThe demo took %.1f s. A real setup adds, in this order:\n"
               "  vfioctl check                          is the IOMMU on, which kernel options are missing\n"
               "  vfioctl devices --gpu                  GPUs by IOMMU group, with a passthrough verdict\n"
               "  vfioctl create win11 --gpu auto --memory 16G --cpus 8 --windows\n"
               "  vfioctl bind 01:00.0                   the GPU and its audio function onto vfio-pci\n"
               "  vfioctl start win11                    as [vm] user, pinned, with the GPU passed through\n"
               "  vfioctl enable win11                   start it at boot (vfioctl@win11.service)\n",
               now_s() - t0);
}

int verb_demo(int argc, char **argv)
{
        _cleanup_free_ char *own = NULL, *kernel = NULL, *busybox = NULL, *moddir = NULL, *conf = NULL;
        bool root = getuid() == 0;
        _cleanup_(vm_run_freep) vm_run *r = NULL;
        double t0 = now_s(), t_start, t_stop;
        int ret;

        if (tool_check_arity(argc - 1) < 0)
                return EXIT_USAGE;
        printf("== vfioctl demo: a VM's whole life on this machine ==\n");
        ret = demo_guest(root, &own, &kernel, &busybox, &moddir);
        if (ret != EXIT_OK)
                return ret;
        ret = demo_files(root, own, kernel, busybox, moddir, &conf);
        if (ret != EXIT_OK)
                return ret;

        /* 3. start, detached: preflight, drop privileges, pin, cont */
        printf("$ vfioctl start %s --detach\n", conf);
        fflush(stdout);
        t_start = now_s();
        if (self("start", conf, "--detach", NULL) < 0) {
                tool_error("demo: start failed (see above); the log: vfioctl log %s", DEMO_NAME);
                return EXIT_FAILURE_GENERIC;
        }
        {
                _cleanup_free_ char *err = NULL;

                if (vm_run_open(arg_root, DEMO_NAME, false, &r, &err) < 0) {
                        if (err)
                                tool_error("%s", err);
                        return EXIT_FAILURE_GENERIC;
                }
        }
        if (!demo_wait_greeting(r->qemu_dir, t_start)) {
                tool_error("demo: the guest did not greet within 60 s; see: vfioctl log %s --console",
                           DEMO_NAME);
                (void)self("stop", DEMO_NAME, "--force", NULL);
                return EXIT_FAILURE_GENERIC;
        }
        printf("$ vfioctl status %s\n", DEMO_NAME);
        fflush(stdout);
        (void)self("status", DEMO_NAME, NULL, NULL);
        printf("\n$ vfioctl stop %s      # ACPI power button; the guest's acpid powers it off\n", DEMO_NAME);
        fflush(stdout);
        t_stop = now_s();
        if (self("stop", DEMO_NAME, NULL, NULL) < 0)
                return EXIT_FAILURE_GENERIC;
        {
                _cleanup_(vm_runstate_freep) vm_runstate *s = NULL;

                if (vm_runstate_read(r->dirfd, &s) >= 0)
                        printf("stopped in %.1f s: state %s, reason %s\n", now_s() - t_stop,
                               vm_state_to_string(s->state), s->exit_reason ? s->exit_reason : "-");
        }
        demo_epilogue(t0);
        return EXIT_OK;
}
