/*
 * Guest RAM allocation before QEMU: the NUMA plan from the pinned CPUs on sysfs trees (the captured q35
 * guest, one node, and a variant with two), CPU lists, and the refusals that send the work back to QEMU.
 * The allocation itself on a real hugetlbfs is in tests/qemu/test-lifecycle.sh (root, hugepages).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "vfioctl/prealloc.h"

static void test_cpu_lists(void **state)
{
        cpu_set_t s;

        (void)state;
        assert_int_equal(vm_prealloc_parse_cpu_list("0-3,8,10-11", &s), 0);
        assert_int_equal(CPU_COUNT(&s), 7);
        assert_true(CPU_ISSET(3, &s) && CPU_ISSET(8, &s) && CPU_ISSET(11, &s) && !CPU_ISSET(9, &s));
        assert_int_equal(vm_prealloc_parse_cpu_list("5", &s), 0);
        assert_int_equal(CPU_COUNT(&s), 1);
        CPU_ZERO(&s);
        CPU_SET(1, &s);
        assert_int_equal(vm_prealloc_parse_cpu_list("3-1", &s), -EINVAL);
        assert_int_equal(vm_prealloc_parse_cpu_list("x", &s), -EINVAL);
        assert_int_equal(vm_prealloc_parse_cpu_list("1-", &s), -EINVAL);
        assert_int_equal(vm_prealloc_parse_cpu_list("99999", &s), -EINVAL);
        assert_true(CPU_ISSET(1, &s) && CPU_COUNT(&s) == 1); /* untouched on failure */
}

static void test_one_node_means_no_policy(void **state)
{
        char *root = fixture_clone("q35-viommu");
        char *pin[] = { (char *)"0", (char *)"1", NULL };
        vfio_host *h = NULL;
        uint64_t nodes = 42;
        cpu_set_t cpus;

        (void)state;
        assert_int_equal(vfio_host_open(root, &h), 0);
        assert_int_equal(vm_prealloc_nodes_of_cpus(h, pin, &nodes, &cpus), 0);
        assert_int_equal(nodes, 0);
        assert_int_equal(CPU_COUNT(&cpus), 0);
        vfio_host_free(h);
        fixture_remove(root);
}

static void test_two_nodes_bind_to_the_pinned_cpus_node(void **state)
{
        char *root = fixture_clone("q35-viommu");
        char *pin1[] = { (char *)"1", NULL }, *both[] = { (char *)"0", (char *)"1", NULL };
        vfio_host *h = NULL;
        uint64_t nodes = 0;
        cpu_set_t cpus;

        (void)state;
        /* The same guest split into two nodes of one CPU each, as sys/devices/system/node shows them. */
        fixture_write(root, "sys/devices/system/node/node0/cpulist", "0\n");
        fixture_mkdir(root, "sys/devices/system/node/node1");
        fixture_write(root, "sys/devices/system/node/node1/cpulist", "1\n");
        assert_int_equal(vfio_host_open(root, &h), 0);
        assert_int_equal(vm_prealloc_nodes_of_cpus(h, pin1, &nodes, &cpus), 0);
        assert_int_equal(nodes, 1u << 1);
        assert_int_equal(CPU_COUNT(&cpus), 1);
        assert_true(CPU_ISSET(1, &cpus));
        assert_int_equal(vm_prealloc_nodes_of_cpus(h, both, &nodes, &cpus), 0);
        assert_int_equal(nodes, 3);
        assert_int_equal(CPU_COUNT(&cpus), 2);
        /* A memory-only node (no CPUs) is never chosen. */
        fixture_mkdir(root, "sys/devices/system/node/node2");
        fixture_write(root, "sys/devices/system/node/node2/cpulist", "\n");
        assert_int_equal(vm_prealloc_nodes_of_cpus(h, both, &nodes, &cpus), 0);
        assert_int_equal(nodes, 3);
        vfio_host_free(h);
        fixture_remove(root);
}

static void test_not_hugetlbfs_is_left_to_qemu(void **state)
{
        char dir[] = "/tmp/vfioctl-test-prealloc-XXXXXX";
        vm_prealloc_opts o = { .size = 2u << 20, .threads = 2 };
        int dfd, fd = 1234;

        (void)state;
        assert_non_null(mkdtemp(dir));
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        /* An ordinary filesystem: QEMU's own prealloc (or a plain error) is the answer, never RAM here. */
        assert_int_equal(vm_prealloc_hugetlbfs(dfd, &o, &fd, NULL), -EMEDIUMTYPE);
        assert_int_equal(fd, 1234);
        close(dfd);
        rmdir(dir);
}

/*
 * The filesystem is checked before anything is created in the directory (a directory from a config may be
 * anywhere): one that cannot hold unnamed files at all, as procfs, is "not hugetlbfs", not "the kernel
 * cannot make unnamed files on hugetlbfs", which would send the user to upgrade a kernel.
 */
static void test_not_hugetlbfs_is_found_before_creating_a_file(void **state)
{
        vm_prealloc_opts o = { .size = 2u << 20, .threads = 2 };
        int dfd, fd = 1234;

        (void)state;
        dfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        assert_int_equal(vm_prealloc_hugetlbfs(dfd, &o, &fd, NULL), -EMEDIUMTYPE);
        assert_int_equal(fd, 1234);
        close(dfd);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cpu_lists),
                cmocka_unit_test(test_one_node_means_no_policy),
                cmocka_unit_test(test_two_nodes_bind_to_the_pinned_cpus_node),
                cmocka_unit_test(test_not_hugetlbfs_is_left_to_qemu),
                cmocka_unit_test(test_not_hugetlbfs_is_found_before_creating_a_file),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
