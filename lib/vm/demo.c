/*
 * The demo guest: Debian's kernel and busybox (apt-get download, dpkg -x; argv only) in an initramfs whose
 * /init greets on the serial console and powers off on the ACPI power button, and its VM config.
 */
#include "vfioctl/demo.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "exec-util.h"
#include "fileio.h"
#include "fs-util.h"
#include "strv.h"
#include "vfioctl/host.h"

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
        "echo \"" VM_DEMO_HELLO " $(uname -r)\"\n"
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

int vm_demo_initramfs(const vm_demo_guest *g, const char *out)
{
        _cleanup_free_ char *button = NULL, *evdev = NULL, *buf = NULL;
        size_t size = 0;
        const char *dirs[] = { ".",        "bin",           "dev", "proc",        "sys", "etc",
                               "etc/acpi", "etc/acpi/PWRF", "lib", "lib/modules", NULL };
        cpio c = {};
        int r;

        assert(g);
        assert(out);
        if (asprintf(&button, "%s/kernel/drivers/acpi/button.ko", g->moddir) < 0 ||
            asprintf(&evdev, "%s/kernel/drivers/input/evdev.ko", g->moddir) < 0)
                return -ENOMEM;
        /* Built in memory (a few MiB), then written in one atomic replacement. */
        c.f = open_memstream(&buf, &size);
        if (!c.f)
                return -ENOMEM;
        c.ino = 1;
        for (const char **d = dirs; *d; d++)
                cpio_entry(&c, *d, 040755, NULL, 0, 0, 0);
        cpio_entry(&c, "dev/console", 020600, NULL, 0, 5, 1);
        cpio_entry(&c, "bin/sh", 0120777, "busybox", 7, 0, 0);
        cpio_entry(&c, "init", 0100755, init_script, strlen(init_script), 0, 0);
        cpio_entry(&c, "etc/acpi/PWRF/00000080", 0100755, power_script, strlen(power_script), 0, 0);
        r = cpio_file(&c, "bin/busybox", 0755, g->busybox);
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
        if (r < 0)
                return r;
        return write_file_atomic(out, buf, size, 0644, 0);
}

/* ---- fetching Debian's kernel and busybox ---- */

static int run(char *const argv[], const char *cwd, char **ret_stdout)
{
        exec_opts o = { .cwd = cwd };
        exec_result res = {};
        int r;

        r = exec_run(argv, &o, &res);
        if (r < 0)
                return r;
        r = res.status == 0 ? 0 : -EIO;
        if (r >= 0 && ret_stdout)
                *ret_stdout = TAKE_PTR(res.out);
        exec_result_done(&res);
        return r;
}

int vm_demo_kernel_package(char **ret)
{
        _cleanup_free_ char *deps = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        const char *want = "Depends: linux-image-";

        assert(ret);
        if (run((char *const[]){ (char *)"/usr/bin/apt-cache", (char *)"depends",
                                 (char *)"linux-image-amd64", NULL },
                NULL, &deps) < 0 ||
            !deps)
                return -ENOENT;
        if (strv_split(deps, "\n", &lines) < 0)
                return -ENOMEM;
        STRV_FOREACH(l, lines) {
                const char *p = strstr(*l, want);

                if (p && p[strlen(want)] >= '0' && p[strlen(want)] <= '9') {
                        *ret = strdup(p + strlen("Depends: "));
                        return *ret ? 0 : -ENOMEM;
                }
        }
        return -ENOENT;
}

int vm_demo_fetch(const char *cache, const char *kernel_package)
{
        _cleanup_free_ char *pkgs = NULL, *kdir = NULL, *bdir = NULL;
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_strv_free_ char **files = NULL;
        size_t klen;
        int r;

        assert(cache);
        assert(kernel_package);
        if (asprintf(&pkgs, "%s/pkgs", cache) < 0 || asprintf(&kdir, "%s/kpkg", cache) < 0 ||
            asprintf(&bdir, "%s/bb", cache) < 0)
                return -ENOMEM;
        if ((r = mkdir_p(pkgs, 0755)) < 0)
                return r;
        r = run((char *const[]){ (char *)"/usr/bin/apt-get", (char *)"download", (char *)"-q", (char *)"-o",
                                 (char *)"APT::Sandbox::User=root", (char *)kernel_package,
                                 (char *)"busybox-static", NULL },
                pkgs, NULL);
        if (r < 0)
                return r;
        if (vfio_host_open(pkgs, &h) >= 0)
                (void)vfio_host_list_dir(h, ".", 256, &files);
        klen = strlen(kernel_package);
        STRV_FOREACH(f, files) {
                _cleanup_free_ char *deb = NULL;
                bool k = strncmp(*f, kernel_package, klen) == 0 && (*f)[klen] == '_';
                bool b = strncmp(*f, "busybox-static_", 15) == 0;

                if (!k && !b)
                        continue;
                if (asprintf(&deb, "%s/%s", pkgs, *f) < 0)
                        return -ENOMEM;
                r = run((char *const[]){ (char *)"/usr/bin/dpkg", (char *)"-x", deb, k ? kdir : bdir, NULL },
                        NULL, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* First existing file: the kernel of the VFIO test bed's cache (raw vmlinux: PVH boot, no decompression). */
vm_demo_guest *vm_demo_guest_free(vm_demo_guest *g)
{
        if (!g)
                return NULL;
        free(g->kernel);
        free(g->busybox);
        free(g->moddir);
        free(g);
        return NULL;
}

int vm_demo_guest_find(const char *cache, vm_demo_guest **ret)
{
        _cleanup_(vm_demo_guest_freep) vm_demo_guest *g = NULL;
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_strv_free_ char **kvs = NULL;
        _cleanup_free_ char *mods = NULL;

        assert(cache);
        assert(ret);
        if (asprintf(&mods, "%s/kpkg/lib/modules", cache) < 0)
                return -ENOMEM;
        if (vfio_host_open(mods, &h) < 0 || vfio_host_list_dir(h, ".", 16, &kvs) < 0 || !kvs || !kvs[0])
                return -ENOENT;
        g = calloc(1, sizeof(*g));
        if (!g || asprintf(&g->moddir, "%s/%s", mods, kvs[0]) < 0 ||
            asprintf(&g->busybox, "%s/bb/bin/busybox", cache) < 0 ||
            asprintf(&g->kernel, "%s/vmlinux", cache) < 0)
                return -ENOMEM;
        if (access(g->kernel, R_OK) < 0) {
                free(g->kernel);
                if (asprintf(&g->kernel, "%s/kpkg/boot/vmlinuz-%s", cache, kvs[0]) < 0)
                        return (g->kernel = NULL), -ENOMEM;
        }
        if (access(g->kernel, R_OK) < 0 || access(g->busybox, X_OK) < 0)
                return -ENOENT;
        *ret = TAKE_PTR(g);
        return 0;
}

int vm_demo_config(const vm_demo_guest *g, const char *initrd, bool kvm, bool as_root, char **ret)
{
        char *s;

        assert(g);
        assert(initrd);
        assert(ret);
        if (asprintf(&s,
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
                     kvm ? "kvm" : "tcg", as_root ? "user = nobody\n" : "", g->kernel, initrd,
                     kvm ? "host" : "qemu64") < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int vm_demo_workdir(const char *dir)
{
        _cleanup_close_ int fd = -EBADF;
        int r;

        assert(dir);
        if ((r = mkdir_p(dir, 0755)) < 0)
                return r;
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fchmod(fd, 0755) < 0)
                return -errno;
        return 0;
}
