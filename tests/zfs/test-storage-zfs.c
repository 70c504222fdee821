/*
 * Disks and snapshots on real ZFS: the test starts zfs-fuse itself (stopped by PID at the end), makes a
 * pool on a file, and runs the built vfioctl: datasets, data written, snapshot, overwrite, rollback, every
 * byte compared, delete. zvols are OpenZFS-only and are checked to be refused with the reason here.
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

#include "fixture.h"
#include "run-cmd.h"

#define ZFS_FUSE "/usr/sbin/zfs-fuse"
#define ZFS      "/usr/sbin/zfs"
#define ZPOOL    "/usr/sbin/zpool"
#define QEMU_IO  "/usr/bin/qemu-io"

static char *dir, *pool, *mnt;
static pid_t daemon_pid = -1;

static int zpool_list_ok(void)
{
        return run_cmd(NULL, NULL, (const char *[]){ ZPOOL, "list", "-H", NULL }) == 0;
}

static void sleep_ms(long ms)
{
        nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000 }, NULL);
}

static int start_daemon(void)
{
        /* A zfs-fuse already serving (the distribution's service) is used as it is. */
        if (zpool_list_ok())
                return 0;
        daemon_pid = fork();
        if (daemon_pid < 0)
                return -errno;
        if (daemon_pid == 0) {
                int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

                dup2(fd, 0);
                dup2(fd, 1);
                setsid();
                execl(ZFS_FUSE, ZFS_FUSE, "--no-daemon", (char *)NULL);
                _exit(127);
        }
        for (int i = 0; i < 100; i++) {
                int st;

                if (zpool_list_ok())
                        return 0;
                if (waitpid(daemon_pid, &st, WNOHANG) == daemon_pid) {
                        daemon_pid = -1;
                        return -EIO;
                }
                sleep_ms(100);
        }
        return -ETIMEDOUT;
}

static void stop_daemon(void)
{
        int st;

        if (daemon_pid <= 0)
                return;
        kill(daemon_pid, SIGTERM);
        for (int i = 0; i < 100 && waitpid(daemon_pid, &st, WNOHANG) == 0; i++)
                sleep_ms(100);
        if (kill(daemon_pid, 0) == 0) {
                kill(daemon_pid, SIGKILL);
                waitpid(daemon_pid, &st, 0);
        }
        daemon_pid = -1;
}

static int setup(void **state)
{
        char *img, *err = NULL;
        int fd, r;

        dir = make_temp_dir("vfioctl-zfs");
        assert_true(asprintf(&img, "%s/pool.img", dir) > 0);
        assert_true(asprintf(&mnt, "%s/mnt", dir) > 0);
        assert_true(asprintf(&pool, "vfiotest%d", (int)getpid()) > 0);
        /* zpool create needs at least 64 MiB per vdev. */
        fd = open(img, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 192 << 20), 0);
        close(fd);
        r = start_daemon();
        if (r < 0) {
                fprintf(stderr, "# cannot start %s: %s\n", ZFS_FUSE, strerror(-r));
                return -1;
        }
        r = run_cmd(NULL, &err, (const char *[]){ ZPOOL, "create", "-m", mnt, pool, img, NULL });
        if (r != 0) {
                fprintf(stderr, "# zpool create failed: %s\n", err);
                free(err);
                return -1;
        }
        free(err);
        free(img);
        return 0;
}

static int teardown(void **state)
{
        char *err = NULL;

        if (run_cmd(NULL, &err, (const char *[]){ ZPOOL, "destroy", "-f", pool, NULL }) != 0)
                fprintf(stderr, "# zpool destroy %s: %s\n", pool, err);
        free(err);
        stop_daemon();
        rm_rf(dir);
        free(dir);
        free(mnt);
        free(pool);
        return 0;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
        va_list ap;
        char *s;

        va_start(ap, f);
        assert_true(vasprintf(&s, f, ap) > 0);
        va_end(ap);
        return s;
}

static bool snapshot_exists(const char *snap)
{
        return run_cmd(NULL, NULL,
                       (const char *[]){ ZFS, "list", "-H", "-t", "snapshot", "-o", "name", snap, NULL }) ==
               0;
}

static void assert_file_equals(const char *path, const char *content)
{
        char *s = fixture_read(path);

        assert_non_null(s);
        assert_string_equal(s, content);
        free(s);
}

static void write_file(const char *path, const char *content)
{
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        fputs(content, f);
        assert_int_equal(fclose(f), 0);
}

/* Two disks on two datasets + the vars file in one of them: one atomic snapshot, rollback restores all. */
static void test_datasets_snapshot_rollback(void **state)
{
        char *ds1 = fmt("%s/vm/edi", pool), *ds2 = fmt("%s/vm/data", pool), *out = NULL, *err = NULL;
        char *disk1 = fmt("%s/vm/edi/disk.raw", mnt), *disk2 = fmt("%s/vm/data/disk.qcow2", mnt);
        char *vars = fmt("%s/vm/edi/OVMF_VARS.fd", mnt), *snap1 = fmt("%s@installed", ds1),
             *snap2 = fmt("%s@installed", ds2);

        /* DATASET argument: zfs create -p, the image inside named after the format. */
        assert_int_equal(run_vfioctl(&out, NULL,
                                     (const char *[]){ "disk", "create", ds1, "--format", "raw", "--size",
                                                       "24M", "--prealloc", NULL }),
                         0);
        assert_non_null(strstr(out, disk1));
        free(out);
        assert_int_equal(
                run_vfioctl(NULL, NULL, (const char *[]){ "disk", "create", ds2, "--size", "16M", NULL }),
                0);
        assert_int_equal(access(disk2, F_OK), 0);

        assert_int_equal(run_vfioctl(&out, NULL, (const char *[]){ "--json", "disk", "info", disk1, NULL }),
                         0);
        assert_non_null(strstr(out, "\"pool_health\":\"ONLINE\""));
        assert_non_null(strstr(out, "\"snapshots\":\"zfs\""));
        assert_non_null(strstr(out, ds1));
        free(out);

        write_pattern(disk1, 0, 1 << 20, 0xab);
        write_pattern(disk1, 20 << 20, 4096, 0x11);
        assert_int_equal(
                run_cmd(NULL, NULL,
                        (const char *[]){ QEMU_IO, "-f", "qcow2", "-c", "write -P 0x5a 0 1M", disk2, NULL }),
                0);
        write_file(vars, "VARS installed");

        assert_int_equal(run_vfioctl(NULL, NULL,
                                     (const char *[]){ "snapshot", "create", "installed", "--disk", disk1,
                                                       "--disk", disk2, "--vars", vars, NULL }),
                         0);
        assert_true(snapshot_exists(snap1));
        assert_true(snapshot_exists(snap2));

        write_pattern(disk1, 0, 1 << 20, 0xcd);
        write_pattern(disk1, 20 << 20, 4096, 0x22);
        assert_int_equal(
                run_cmd(NULL, NULL,
                        (const char *[]){ QEMU_IO, "-f", "qcow2", "-c", "write -P 0x00 0 1M", disk2, NULL }),
                0);
        write_file(vars, "VARS broken by an update");
        assert_false(has_pattern(disk1, 0, 1 << 20, 0xab)); /* the check can fail */

        assert_int_equal(run_vfioctl(&out, NULL,
                                     (const char *[]){ "--json", "snapshot", "list", "--disk", disk1,
                                                       "--disk", disk2, "--vars", vars, NULL }),
                         0);
        assert_non_null(strstr(out, "\"name\":\"installed\""));
        assert_non_null(strstr(out, "\"complete\":true"));
        free(out);

        assert_int_equal(run_vfioctl(NULL, NULL,
                                     (const char *[]){ "snapshot", "rollback", "installed", "--disk", disk1,
                                                       "--disk", disk2, "--vars", vars, NULL }),
                         0);
        assert_true(has_pattern(disk1, 0, 1 << 20, 0xab));
        assert_true(has_pattern(disk1, 20 << 20, 4096, 0x11));
        assert_int_equal(
                run_cmd(NULL, NULL,
                        (const char *[]){ QEMU_IO, "-f", "qcow2", "-c", "read -P 0x5a 0 1M", disk2, NULL }),
                0);
        assert_file_equals(vars, "VARS installed");

        /* Refused while the VM runs (our own pid stands for QEMU's: it is alive). */
        {
                char pid[16];

                snprintf(pid, sizeof(pid), "%d", (int)getpid());
                assert_int_equal(run_vfioctl(NULL, &err,
                                             (const char *[]){ "snapshot", "rollback", "installed", "--disk",
                                                               disk1, "--running-pid", pid, NULL }),
                                 1);
                assert_non_null(strstr(err, "State blocked by non-migratable device"));
                free(err);
        }

        assert_int_equal(run_vfioctl(NULL, NULL,
                                     (const char *[]){ "snapshot", "delete", "installed", "--disk", disk1,
                                                       "--disk", disk2, "--vars", vars, NULL }),
                         0);
        assert_false(snapshot_exists(snap1));
        assert_false(snapshot_exists(snap2));
        free(ds1);
        free(ds2);
        free(disk1);
        free(disk2);
        free(vars);
        free(snap1);
        free(snap2);
}

/* An image file placed on an existing dataset with --on; a second snapshot name; zvols refused on zfs-fuse.
 */
static void test_on_dataset_and_zvol(void **state)
{
        char *ds = fmt("%s/images", pool), *img = fmt("%s/images/win10.qcow2", mnt),
             *zv = fmt("%s/zv", pool), *out = NULL, *err = NULL;
        bool openzfs = access("/sys/module/zfs", F_OK) == 0;

        assert_int_equal(run_vfioctl(&out, NULL,
                                     (const char *[]){ "disk", "create", "win10.qcow2", "--on", ds, "--size",
                                                       "32M", NULL }),
                         0);
        assert_non_null(strstr(out, img));
        free(out);
        write_pattern(img, 1 << 20, 65536, 0x42); /* past the qcow2 header: raw bytes of the file */
        assert_int_equal(
                run_vfioctl(NULL, NULL, (const char *[]){ "snapshot", "create", "a", "--disk", img, NULL }),
                0);
        write_pattern(img, 1 << 20, 65536, 0x43);
        assert_int_equal(
                run_vfioctl(NULL, NULL, (const char *[]){ "snapshot", "create", "b", "--disk", img, NULL }),
                0);
        /* rollback -r to the older one destroys the later snapshot, as zfs(8) does */
        assert_int_equal(run_vfioctl(NULL, NULL,
                                     (const char *[]){ "snapshot", "rollback", "a", "--disk", img, NULL }),
                         0);
        assert_true(has_pattern(img, 1 << 20, 65536, 0x42));
        assert_int_equal(run_vfioctl(&out, NULL,
                                     (const char *[]){ "--json", "snapshot", "list", "--disk", img, NULL }),
                         0);
        assert_non_null(strstr(out, "\"a\""));
        assert_null(strstr(out, "\"b\""));
        free(out);

        if (openzfs) {
                print_message("# OpenZFS kernel module present: zvol creation exercised\n");
                assert_int_equal(run_vfioctl(NULL, NULL,
                                             (const char *[]){ "disk", "create", zv, "--format", "zvol",
                                                               "--size", "16M", NULL }),
                                 0);
        } else {
                assert_int_equal(run_vfioctl(NULL, &err,
                                             (const char *[]){ "disk", "create", zv, "--format", "zvol",
                                                               "--size", "16M", NULL }),
                                 1);
                assert_non_null(strstr(err, "zvols need OpenZFS"));
                free(err);
        }
        /* A dataset that cannot hold an image (mountpoint=none): refused, and the dataset it made is gone.
         */
        {
                char *nomount = fmt("%s/nomount", pool), *child = fmt("%s/nomount/vm", pool);

                assert_int_equal(
                        run_cmd(NULL, NULL,
                                (const char *[]){ ZFS, "create", "-o", "mountpoint=none", nomount, NULL }),
                        0);
                assert_int_equal(run_vfioctl(NULL, &err,
                                             (const char *[]){ "disk", "create", "x.qcow2", "--on", child,
                                                               "--size", "8M", NULL }),
                                 1);
                assert_non_null(strstr(err, "mountpoint"));
                free(err);
                assert_int_not_equal(run_cmd(NULL, NULL, (const char *[]){ ZFS, "list", "-H", child, NULL }),
                                     0);
                free(nomount);
                free(child);
        }
        /* A pool too small for a preallocated disk: refused before anything is written. */
        assert_int_equal(run_vfioctl(NULL, &err,
                                     (const char *[]){ "disk", "create", "big.raw", "--on", ds, "--format",
                                                       "raw", "--size", "10G", "--prealloc", NULL }),
                         1);
        assert_non_null(strstr(err, "free"));
        free(err);
        free(ds);
        free(img);
        free(zv);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_datasets_snapshot_rollback),
                cmocka_unit_test(test_on_dataset_and_zvol),
        };

        if (!executable(ZFS_FUSE) || !executable(ZFS) || !executable(ZPOOL)) {
                printf("1..0 # SKIP zfs-fuse is not installed (apt-get install zfs-fuse)\n");
                return 77;
        }
        if (access("/dev/fuse", R_OK | W_OK) < 0) {
                printf("1..0 # SKIP /dev/fuse is not usable (%s): zfs-fuse needs FUSE\n", strerror(errno));
                return 77;
        }
        if (geteuid() != 0) {
                printf("1..0 # SKIP zfs-fuse needs root\n");
                return 77;
        }
        if (!executable(QEMU_IO)) {
                printf("1..0 # SKIP qemu-io missing (apt-get install qemu-utils)\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, setup, teardown);
}
