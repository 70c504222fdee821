/*
 * qcow2 disks and snapshots as users run them: the built vfioctl with the real qemu-img, data written and
 * read back with qemu-io, and the refusal while a real QEMU (TCG, paused) holds the disk.
 */
#include <errno.h>
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

#define QEMU_IMG "/usr/bin/qemu-img"
#define QEMU_IO  "/usr/bin/qemu-io"
#define QEMU     "/usr/bin/qemu-system-x86_64"

static char *dir;

static char *in_dir(const char *name)
{
        char *p;

        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

/* qemu-io -c 'write -P 0xNN 0 1M' (the qcow2 layer decides where the cluster lands; only QEMU reads it
 * back). */
static int qemu_io(const char *path, const char *fmt, const char *cmd)
{
        const char *argv[] = { QEMU_IO, "-f", fmt, "-c", cmd, path, NULL };
        char *out = NULL;
        int r = run_cmd(&out, NULL, argv);

        if (r != 0)
                fprintf(stderr, "# qemu-io %s '%s' -> %d: %s", path, cmd, r, out ? out : "");
        free(out);
        return r;
}

static void write_file(const char *path, const char *content)
{
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        fputs(content, f);
        assert_int_equal(fclose(f), 0);
}

static void assert_file_equals(const char *path, const char *content)
{
        char *s = fixture_read(path);

        assert_non_null(s);
        assert_string_equal(s, content);
        free(s);
}

static int setup(void **state)
{
        dir = make_temp_dir("vfioctl-qcow2");
        return 0;
}

static int teardown(void **state)
{
        rm_rf(dir);
        free(dir);
        return 0;
}

/* Two qcow2 disks and a vars file: snapshot, overwrite, roll back, every byte back; then delete. */
static void test_snapshot_rollback_restores_data(void **state)
{
        char *a = in_dir("win.qcow2"), *b = in_dir("data.qcow2"), *vars = in_dir("OVMF_VARS.fd"),
             *out = NULL, *copy = NULL;

        assert_int_equal(
                run_vfioctl(&out, NULL, (const char *[]){ "disk", "create", a, "--size", "64M", NULL }), 0);
        assert_non_null(strstr(out, a));
        free(out);
        assert_int_equal(
                run_vfioctl(NULL, NULL, (const char *[]){ "disk", "create", b, "--size", "32M", NULL }), 0);
        assert_int_equal(qemu_io(a, "qcow2", "write -P 0xab 0 1M"), 0);
        assert_int_equal(qemu_io(b, "qcow2", "write -P 0x5a 4M 1M"), 0);
        write_file(vars, "VARS before");

        assert_int_equal(run_vfioctl(NULL, NULL,
                                     (const char *[]){ "snapshot", "create", "clean-install", "--disk", a,
                                                       "--disk", b, "--vars", vars, NULL }),
                         0);
        copy = in_dir("OVMF_VARS.fd.snap-clean-install");
        assert_file_equals(copy, "VARS before");

        /* The guest "breaks" everything. */
        assert_int_equal(qemu_io(a, "qcow2", "write -P 0xcd 0 1M"), 0);
        assert_int_equal(qemu_io(b, "qcow2", "write -P 0x00 4M 1M"), 0);
        write_file(vars, "VARS after, longer than before");
        assert_int_not_equal(qemu_io(a, "qcow2", "read -P 0xab 0 1M"), 0); /* the check can fail */

        assert_int_equal(run_vfioctl(&out, NULL,
                                     (const char *[]){ "--json", "snapshot", "list", "--disk", a, "--disk",
                                                       b, "--vars", vars, NULL }),
                         0);
        assert_non_null(strstr(out, "\"name\":\"clean-install\""));
        assert_non_null(strstr(out, "\"complete\":true"));
        free(out);

        assert_int_equal(run_vfioctl(NULL, NULL,
                                     (const char *[]){ "snapshot", "rollback", "clean-install", "--disk", a,
                                                       "--disk", b, "--vars", vars, NULL }),
                         0);
        assert_int_equal(qemu_io(a, "qcow2", "read -P 0xab 0 1M"), 0);
        assert_int_equal(qemu_io(b, "qcow2", "read -P 0x5a 4M 1M"), 0);
        assert_file_equals(vars, "VARS before");

        assert_int_equal(run_vfioctl(NULL, NULL,
                                     (const char *[]){ "snapshot", "delete", "clean-install", "--disk", a,
                                                       "--disk", b, "--vars", vars, NULL }),
                         0);
        assert_int_equal(access(copy, F_OK), -1);
        assert_int_equal(
                run_vfioctl(&out, NULL, (const char *[]){ "--json", "snapshot", "list", "--disk", a, NULL }),
                0);
        assert_null(strstr(out, "clean-install"));
        free(out);
        free(a);
        free(b);
        free(vars);
        free(copy);
}

/* A raw file outside ZFS cannot be snapshotted: refused with the reason and the fix. */
static void test_raw_refused(void **state)
{
        char *q = in_dir("src.qcow2"), *raw = in_dir("src.img"), *err = NULL;

        assert_int_equal(
                run_vfioctl(NULL, NULL, (const char *[]){ "disk", "create", q, "--size", "8M", NULL }), 0);
        assert_int_equal(qemu_io(q, "qcow2", "write -P 0x77 1M 512k"), 0);
        /* import converts with qemu-img convert -p; .img means raw */
        assert_int_equal(run_vfioctl(NULL, NULL, (const char *[]){ "disk", "import", q, raw, NULL }), 0);
        assert_true(has_pattern(raw, 1 << 20, 512 << 10, 0x77));
        assert_true(has_pattern(raw, 0, 4096, 0));
        /* never overwrites */
        assert_int_equal(run_vfioctl(NULL, &err, (const char *[]){ "disk", "import", q, raw, NULL }), 1);
        assert_non_null(strstr(err, "already exists"));
        free(err);

        assert_int_equal(
                run_vfioctl(NULL, &err, (const char *[]){ "snapshot", "create", "s", "--disk", raw, NULL }),
                1);
        assert_non_null(strstr(err, "raw image outside ZFS"));
        assert_non_null(strstr(err, "vfioctl disk import"));
        free(err);
        free(q);
        free(raw);
}

static pid_t start_qemu(const char *disk, const char *sock)
{
        char *drive, *qmp;
        pid_t pid;

        assert_true(asprintf(&drive, "file=%s,format=qcow2,if=none,id=disk0", disk) > 0);
        assert_true(asprintf(&qmp, "unix:%s,server=on,wait=off", sock) > 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                const char *argv[] = { QEMU,   "-accel", "tcg", "-S",   "-nodefaults", "-display",
                                       "none", "-drive", drive, "-qmp", qmp,           NULL };

                execv(QEMU, (char *const *)argv);
                _exit(127);
        }
        free(drive);
        free(qmp);
        /* QEMU opens the drive before it creates the QMP socket; bounded wait (30 s under TCG). */
        for (int i = 0; i < 300 && access(sock, F_OK) < 0; i++) {
                int st;

                if (waitpid(pid, &st, WNOHANG) == pid)
                        fail_msg("QEMU exited early with status %d", st);
                nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
        }
        assert_int_equal(access(sock, F_OK), 0);
        return pid;
}

static void stop_qemu(pid_t pid)
{
        int st;

        kill(pid, SIGTERM);
        assert_int_equal(waitpid(pid, &st, 0), pid);
}

/* While QEMU runs the VM, create and rollback are refused with the reason; after it stops they work. */
static void test_refused_while_running(void **state)
{
        char *disk = in_dir("running.qcow2"), *sock = in_dir("qmp.sock"), *err = NULL, *out = NULL,
             pidarg[16];
        pid_t pid;

        assert_int_equal(
                run_vfioctl(NULL, NULL, (const char *[]){ "disk", "create", disk, "--size", "16M", NULL }),
                0);
        assert_int_equal(
                run_vfioctl(NULL, NULL,
                            (const char *[]){ "snapshot", "create", "before", "--disk", disk, NULL }),
                0);
        pid = start_qemu(disk, sock);
        snprintf(pidarg, sizeof(pidarg), "%d", (int)pid);

        assert_int_equal(run_vfioctl(NULL, &err,
                                     (const char *[]){ "snapshot", "create", "live", "--disk", disk,
                                                       "--running-pid", pidarg, NULL }),
                         1);
        assert_non_null(strstr(err, "while the VM runs"));
        assert_non_null(strstr(err, "State blocked by non-migratable device"));
        assert_non_null(strstr(err, pidarg));
        free(err);
        assert_int_equal(run_vfioctl(NULL, &err,
                                     (const char *[]){ "snapshot", "rollback", "before", "--disk", disk,
                                                       "--running-pid", pidarg, NULL }),
                         1);
        assert_non_null(strstr(err, "while the VM runs"));
        free(err);
        /* Without the pid, qemu-img's image lock still stops it (QEMU holds the "write" lock). */
        assert_int_equal(run_vfioctl(NULL, &err,
                                     (const char *[]){ "snapshot", "create", "live", "--disk", disk, NULL }),
                         1);
        assert_non_null(strstr(err, "lock"));
        free(err);
        /* Listing is read-only and works while it runs. */
        assert_int_equal(run_vfioctl(&out, NULL,
                                     (const char *[]){ "--json", "snapshot", "list", "--disk", disk, NULL }),
                         0);
        assert_non_null(strstr(out, "\"before\""));
        assert_null(strstr(out, "\"live\""));
        free(out);

        stop_qemu(pid);
        assert_int_equal(run_vfioctl(NULL, NULL,
                                     (const char *[]){ "snapshot", "create", "live", "--disk", disk,
                                                       "--running-pid", pidarg, NULL }),
                         0);
        free(disk);
        free(sock);
}

/* disk info: the backend facts a VM config needs (O_DIRECT decides cache=none vs writeback). */
static void test_disk_info(void **state)
{
        char *disk = in_dir("info.qcow2"), *out = NULL;

        assert_int_equal(
                run_vfioctl(NULL, NULL, (const char *[]){ "disk", "create", disk, "--size", "1G", NULL }),
                0);
        assert_int_equal(run_vfioctl(&out, NULL, (const char *[]){ "--json", "disk", "info", disk, NULL }),
                         0);
        assert_non_null(strstr(out, "\"format\":\"qcow2\""));
        assert_non_null(strstr(out, "\"snapshots\":\"qcow2\""));
        assert_non_null(strstr(out, "\"odirect\":"));
        free(out);
        free(disk);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_snapshot_rollback_restores_data),
                cmocka_unit_test(test_raw_refused),
                cmocka_unit_test(test_refused_while_running),
                cmocka_unit_test(test_disk_info),
        };

        if (!executable(QEMU_IMG) || !executable(QEMU_IO) || !executable(QEMU)) {
                printf("1..0 # SKIP qemu-img, qemu-io or qemu-system-x86_64 missing (apt-get install qemu-utils qemu-system-x86)\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, setup, teardown);
}
