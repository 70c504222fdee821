/* Pure parts of the storage module: qemu-img progress lines, snapshot names, formats, the raw refusal, exec.
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
#include <unistd.h>

#include <cmocka.h>

#include "exec-util.h"
#include "vfioctl/storage.h"

static void test_parse_progress(void **state)
{
        double v = -1;

        /* util/qemu-progress.c prints "    (%3.2f/100%%)\r" */
        assert_int_equal(vfio_storage_parse_progress("    (0.00/100%)", &v), 0);
        assert_true(v == 0.0);
        assert_int_equal(vfio_storage_parse_progress("    (42.17/100%)", &v), 0);
        assert_true(v > 42.16 && v < 42.18);
        assert_int_equal(vfio_storage_parse_progress("(100.00/100%)", &v), 0);
        assert_true(v == 100.0);
        v = 7;
        assert_int_equal(vfio_storage_parse_progress("", &v), -EINVAL);
        assert_int_equal(vfio_storage_parse_progress("    (101.00/100%)", &v), -EINVAL);
        assert_int_equal(vfio_storage_parse_progress("    (-1.00/100%)", &v), -EINVAL);
        assert_int_equal(vfio_storage_parse_progress("    (1e2/100%)", &v), -EINVAL);
        assert_int_equal(vfio_storage_parse_progress("    (12.5/100%) trailing", &v), -EINVAL);
        assert_int_equal(vfio_storage_parse_progress("qemu-img: error", &v), -EINVAL);
        assert_true(v == 7); /* untouched on failure */
}

static void test_snapshot_names(void **state)
{
        assert_true(vfio_snapshot_name_valid("clean-install"));
        assert_true(vfio_snapshot_name_valid("2024-01-01_10:00"));
        assert_false(vfio_snapshot_name_valid(""));
        assert_false(vfio_snapshot_name_valid("-r"));      /* would be an option to zfs/qemu-img */
        assert_false(vfio_snapshot_name_valid(".hidden")); /* and a hidden vars copy */
        assert_false(vfio_snapshot_name_valid("a@b"));     /* zfs snapshot separator */
        assert_false(vfio_snapshot_name_valid("a/b"));     /* path separator in <vars>.snap-NAME */
        assert_false(vfio_snapshot_name_valid("a b"));
        assert_false(vfio_snapshot_name_valid(NULL));
        assert_false(vfio_snapshot_name_valid(
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

static void test_formats(void **state)
{
        vfio_disk_format f = VFIO_DISK_RAW;

        assert_int_equal(vfio_disk_format_from_string("qcow2", &f), 0);
        assert_int_equal(f, VFIO_DISK_QCOW2);
        assert_int_equal(vfio_disk_format_from_string("zvol", &f), 0);
        assert_int_equal(f, VFIO_DISK_ZVOL);
        assert_int_equal(vfio_disk_format_from_string("vmdk", &f), -EINVAL);
        assert_int_equal(f, VFIO_DISK_ZVOL);
        assert_string_equal(vfio_disk_format_to_string(VFIO_DISK_RAW), "raw");
        assert_null(vfio_disk_format_to_string(_VFIO_DISK_FORMAT_MAX));
}

static char *temp_file(const char *content, size_t n)
{
        char *p = strdup("/tmp/vfioctl-storage-XXXXXX");
        int fd = mkostemp(p, O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, content, n), (ssize_t)n);
        close(fd);
        return p;
}

/* Without ZFS: qcow2 (by its "QFI\xfb" magic) gets internal snapshots, anything else is refused. */
static void test_plan_without_zfs(void **state)
{
        vfio_storage_tools t = { .qemu_img = "/usr/bin/qemu-img" }; /* no zfs: nothing is on ZFS */
        char *q = temp_file("QFI\xfb\0\0\0\3", 8), *raw = temp_file("\xeb\x63\x90", 3),
             *vars = temp_file("v", 1);
        char *disks_ok[] = { q, NULL }, *disks_bad[] = { q, raw, NULL }, *refused = NULL, *copy;
        vfio_snap_plan *p = NULL;

        assert_int_equal(vfio_snapshot_plan(&t, disks_ok, vars, &p, &refused), 0);
        assert_int_equal(p->n_disks, 1);
        assert_int_equal(p->disks[0].backend, VFIO_SNAP_QCOW2);
        assert_int_equal(p->vars.backend, VFIO_SNAP_NONE);
        assert_null(p->datasets[0]);
        vfio_snap_plan_free(p);
        p = NULL;

        assert_int_equal(vfio_snapshot_plan(&t, disks_bad, NULL, &p, &refused), -EOPNOTSUPP);
        assert_null(p);
        assert_non_null(refused);
        assert_non_null(strstr(refused, raw + 5)); /* realpath of /tmp/... */
        free(refused);

        copy = vfio_snapshot_vars_copy_path("/vm/OVMF_VARS.fd", "s1");
        assert_string_equal(copy, "/vm/OVMF_VARS.fd.snap-s1");
        free(copy);
        unlink(q);
        unlink(raw);
        unlink(vars);
        free(q);
        free(raw);
        free(vars);
}

/* O_DIRECT is probed, not assumed: a real answer for an existing file and a directory, an error for neither.
 */
static void test_odirect_probe(void **state)
{
        char *f = temp_file("0123456789abcdef", 16);
        int a = vfio_storage_supports_odirect(f), b = vfio_storage_supports_odirect("/tmp"),
            c = vfio_storage_supports_odirect("/tmp/vfioctl-not-here-yet.qcow2");

        assert_true(a == 0 || a == 1);
        assert_true(b == 0 || b == 1);
        assert_int_equal(c, b); /* a file to be created is probed in its directory */
        assert_int_equal(vfio_storage_supports_odirect("/nonexistent-dir/x.qcow2"), -ENOENT);
        unlink(f);
        free(f);
}

static void test_running(void **state)
{
        assert_int_equal(vfio_storage_vm_running(0, NULL), 0);
        assert_int_equal(vfio_storage_vm_running(getpid(), NULL), 1);
        /* pid_max is at most 2^22: this one cannot exist */
        assert_int_equal(vfio_storage_vm_running(0x7ffffff0, NULL), 0);
}

static int collect(const char *chunk, void *userdata)
{
        char *buf = userdata;

        strcat(buf, "[");
        strcat(buf, chunk);
        strcat(buf, "]");
        return 0;
}

/* exec_run splits stdout on \r and \n (qemu-img -p redraws its line with \r) and reports exit codes. */
static void test_exec(void **state)
{
        char seen[256] = "";
        exec_opts o = { .on_stdout = collect, .userdata = seen };
        exec_result r = {};

        assert_int_equal(
                exec_run((char *const[]){ (char *)"/usr/bin/printf",
                                          (char *)"  (1.00/100%%)\\r  (50.00/100%%)\\rdone\\n", NULL },
                         &o, &r),
                0);
        assert_int_equal(r.status, 0);
        assert_string_equal(seen, "[  (1.00/100%)][  (50.00/100%)][done]");
        exec_result_done(&r);

        assert_int_equal(exec_run((char *const[]){ (char *)"/bin/false", NULL }, NULL, &r), 0);
        assert_int_equal(r.status, 1);
        exec_result_done(&r);
        assert_int_equal(exec_run((char *const[]){ (char *)"/nonexistent/qemu-img", NULL }, NULL, &r),
                         -ENOENT);
        assert_int_equal(exec_run((char *const[]){ (char *)"qemu-img", NULL }, NULL, &r),
                         -EINVAL); /* no PATH */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_progress), cmocka_unit_test(test_snapshot_names),
                cmocka_unit_test(test_formats),        cmocka_unit_test(test_plan_without_zfs),
                cmocka_unit_test(test_running),        cmocka_unit_test(test_odirect_probe),
                cmocka_unit_test(test_exec),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
