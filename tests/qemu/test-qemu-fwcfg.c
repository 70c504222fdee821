/*
 * [firmware] mmio64_size reaches OVMF as the fw_cfg file opt/ovmf/X-PciMmio64Mb. QMP lists no fw_cfg files
 * (qom-list /machine/fw_cfg shows only QEMU's own ROM blobs), so the guest reads it: vfioctl's argv for
 * an OVMF VM with direct kernel boot is started in the real QEMU (TCG), the guest loads qemu_fw_cfg and
 * prints the file on its serial port, which must hold what the config says, in MiB.
 *
 * The guest is the VFIO test bed's: Debian's kernel and busybox-static, cached by tests/vfio-e2e/setup.sh
 * in $VFIOCTL_TESTBED_CACHE (default /var/cache/vfioctl-testbed). Without that cache the test is skipped
 * and says how to fill it. The initramfs (a newc cpio written here: /init, busybox, the module) lives in
 * the test's directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "fileio.h"
#include "qemu-harness.h"
#include "strv.h"

static char cache[1024], kernel[1200], busybox[1200], module[1400];

/* One newc cpio entry (the kernel's initramfs format,
 * Documentation/driver-api/early-userspace/buffer-format.rst). */
static void cpio_entry(FILE *f, unsigned ino, const char *name, unsigned mode, const char *data, size_t size)
{
        size_t namesize = strlen(name) + 1;
        static const char zeros[4] = {};

        fprintf(f, "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X", ino, mode, 0, 0, 1, 0,
                size, 0, 0, 0, 0, namesize, 0);
        fwrite(name, 1, namesize, f);
        fwrite(zeros, 1, (4 - (110 + namesize) % 4) % 4, f);
        if (size)
                fwrite(data, 1, size, f);
        fwrite(zeros, 1, (4 - size % 4) % 4, f);
}

static char *slurp(const char *path, size_t *ret_size)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        char *s = NULL;

        assert_true(fd >= 0);
        assert_int_equal(read_full_fd(fd, 64 << 20, &s, ret_size), 0);
        return s;
}

static void write_initramfs(const char *path)
{
        static const char init[] =
                "#!/bin/busybox sh\n"
                "/bin/busybox mount -t proc proc /proc\n"
                "/bin/busybox mount -t sysfs sysfs /sys\n"
                "/bin/busybox mount -t devtmpfs devtmpfs /dev\n"
                "/bin/busybox insmod /qemu_fw_cfg.ko\n"
                "echo \"FWCFG=$(/bin/busybox cat /sys/firmware/qemu_fw_cfg/by_name/opt/ovmf/X-PciMmio64Mb/raw)\" >/dev/ttyS0\n"
                "/bin/busybox poweroff -f\n";
        _cleanup_free_ char *bb = NULL, *ko = NULL;
        size_t nbb = 0, nko = 0;
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        bb = slurp(busybox, &nbb);
        ko = slurp(module, &nko);
        cpio_entry(f, 1, "bin", 040755, NULL, 0);
        cpio_entry(f, 2, "dev", 040755, NULL, 0);
        cpio_entry(f, 3, "proc", 040755, NULL, 0);
        cpio_entry(f, 4, "sys", 040755, NULL, 0);
        cpio_entry(f, 7, "init", 0100755, init, strlen(init));
        cpio_entry(f, 8, "bin/busybox", 0100755, bb, nbb);
        cpio_entry(f, 9, "qemu_fw_cfg.ko", 0100644, ko, nko);
        cpio_entry(f, 10, "TRAILER!!!", 0, NULL, 0);
        assert_int_equal(fclose(f), 0);
}

static void test_mmio64_reaches_the_guest(void **state)
{
        qvm *v = qvm_new();
        char text[4096], initrd[1200], serial[1200];
        _cleanup_free_ char *out = NULL;
        struct timespec t0, now;
        json_object *o;
        int status = 0;

        snprintf(initrd, sizeof(initrd), "%s/initrd.cpio", v->dir);
        snprintf(serial, sizeof(serial), "%s/serial.log", v->dir);
        write_initramfs(initrd);
        snprintf(
                text, sizeof(text),
                "[vm]\nkernel = %s\ninitrd = %s\nappend = console=ttyS0 panic=-1 quiet\n"
                "extra_args = -serial file:%s -no-reboot\n[firmware]\nmmio64_size = 64G\n[memory]\nsize = 512M\n",
                kernel, initrd, serial);
        qvm_config(v, text);
        qvm_start(v);
        assert_true(strv_contains(v->argv, "name=opt/ovmf/X-PciMmio64Mb,string=65536"));
        o = qvm_qmp(v, "cont", NULL);
        json_object_put(o);
        /* OVMF and a 6.1 kernel under TCG: allow for a loaded machine. */
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
                if (waitpid(v->pid, &status, WNOHANG) == v->pid) {
                        v->pid = -1;
                        break;
                }
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec - t0.tv_sec > 240)
                        fail_msg("the guest did not power off within 240 s; see %s", serial);
                usleep(200000);
        }
        out = slurp(serial, NULL);
        print_message("guest serial: %s\n",
                      strstr(out, "FWCFG=") ? strstr(out, "FWCFG=") : "(no FWCFG= line)");
        assert_non_null(strstr(out, "FWCFG=65536"));
        qvm_free(v);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_mmio64_reaches_the_guest, harness_teardown),
        };
        const char *c = getenv("VFIOCTL_TESTBED_CACHE");
        _cleanup_free_ char *ver = NULL;

        snprintf(cache, sizeof(cache), "%s", c && *c ? c : "/var/cache/vfioctl-testbed");
        snprintf(busybox, sizeof(busybox), "%s/bb/bin/busybox", cache);
        {
                char vpath[1100];
                _cleanup_close_ int fd = -EBADF;

                snprintf(vpath, sizeof(vpath), "%s/kernel-version", cache);
                fd = open(vpath, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || read_full_fd(fd, 256, &ver, NULL) < 0) {
                        fprintf(stderr,
                                "the test bed's kernel is not cached in %s: run tests/vfio-e2e/setup.sh\n",
                                cache);
                        return 77;
                }
                ver[strcspn(ver, "\n")] = 0;
        }
        snprintf(kernel, sizeof(kernel), "%s/kpkg/boot/vmlinuz-%s", cache, ver);
        snprintf(module, sizeof(module), "%s/kpkg/lib/modules/%s/kernel/drivers/firmware/qemu_fw_cfg.ko",
                 cache, ver);
        if (access(kernel, R_OK) < 0 || access(busybox, R_OK) < 0 || access(module, R_OK) < 0) {
                fprintf(stderr,
                        "the test bed's cache %s lacks the kernel, busybox or qemu_fw_cfg.ko: run tests/vfio-e2e/setup.sh\n",
                        cache);
                return 77;
        }
        if (access("/usr/share/OVMF/OVMF_CODE_4M.fd", R_OK) < 0) {
                fprintf(stderr, "OVMF is not installed (apt-get install ovmf)\n");
                return 77;
        }
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests_name("qemu-fwcfg", tests, NULL, NULL);
}
