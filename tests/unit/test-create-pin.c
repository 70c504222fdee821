/*
 * `vfioctl create` on the CPU topology fixtures of real machines: guest memory on the GPU's node, and VMs
 * created one after another get CPUs no other VM holds while the host has them, or say whom they share with.
 */
#include <errno.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "strv.h"
#include "variant.h"
#include "vfioctl/host.h"
#include "vfioctl/vmconf.h"
#include "vfioctl/vmdefaults.h"

extern char **environ;

static char *config_home;

static int setup(void **state)
{
        char tmpl[] = "/tmp/vfioctl-create-pin-XXXXXX";

        if (!mkdtemp(tmpl))
                return -1;
        config_home = strdup(tmpl);
        /* create writes $XDG_CONFIG_HOME/vfioctl/vms/NAME.conf and reads the other VMs there. */
        return setenv("XDG_CONFIG_HOME", config_home, 1);
}

static int teardown(void **state)
{
        fixture_remove(config_home);
        return 0;
}

static void forget_vms(void)
{
        fixture_rmtree(config_home, "vfioctl");
}

/* Runs create NAME on root with more arguments; returns its stderr (warnings) and checks it succeeded. */
static char *create(const char *root, const char *name, const char *cpus, const char *gpu)
{
        const char *argv[] = { "--root",   root,     "create",
                               name,       "--cpus", cpus,
                               "--memory", "4G",     gpu ? "--gpu" : NULL,
                               gpu,        NULL };
        char *out = NULL, *err = NULL;
        int r = fixture_run_tool(&out, &err, argv);

        if (r != 0)
                fail_msg("create %s failed (%d): %s%s", name, r, out, err);
        free(out);
        return err;
}

static vm_config *load_vm(const char *name, char **ret_text)
{
        char *path = NULL, **errors = NULL;
        vm_config *c = NULL;

        assert_true(asprintf(&path, "%s/vfioctl/vms/%s.conf", config_home, name) > 0);
        assert_int_equal(vm_config_load(path, &c, &errors), 0);
        if (ret_text)
                *ret_text = fixture_read(path);
        strv_free(errors);
        free(path);
        return c;
}

/* Copies DATA/sysfs/<fixture>/sys/devices/system/{cpu,node} over the same directories of root. */
static void put_topology(const char *root, const char *fixture)
{
        char *src = NULL, *dst = NULL, *data = fixture_data_path("sysfs");
        const char *what[] = { "cpu", "node" };

        for (size_t i = 0; i < 2; i++) {
                char *path = NULL;
                pid_t pid;
                int status;

                assert_true(asprintf(&path, "sys/devices/system/%s", what[i]) > 0);
                variant_rmtree(root, path);
                assert_true(asprintf(&src, "%s/%s/%s", data, fixture, path) > 0);
                assert_true(asprintf(&dst, "%s/sys/devices/system/", root) > 0);
                char cp[] = "cp", a[] = "-a";
                char *argv[] = { cp, a, src, dst, NULL };
                assert_int_equal(posix_spawnp(&pid, "cp", NULL, NULL, argv, environ), 0);
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
                free(path);
                free(src);
                free(dst);
        }
        free(data);
}

/* The two-socket Xeon with the q35 capture's discrete GPU (03:00.0) on node 1. */
static void test_create_puts_vcpus_and_memory_on_the_gpu_node(void **state)
{
        char *root = variant_new("q35-viommu"), *text = NULL, *err;
        vm_config *c;
        const char *needle;

        put_topology(root, "cpu-xeon-e5-2660v2-2s");
        variant_pci_attr(root, "0000:03:00.0", "numa_node", "1");
        err = create(root, "numa1", "8", "0000:03:00.0");
        c = load_vm("numa1", &text);
        assert_int_equal(strv_length(c->cpu.pin), 8);
        STRV_FOREACH(p, c->cpu.pin) {
                int cpu = atoi(*p);

                /* node1's CPUs: 10-19 and their siblings 30-39 */
                assert_true((cpu >= 10 && cpu <= 19) || (cpu >= 30 && cpu <= 39));
        }
        assert_int_equal(c->cpu.threads, 2);
        assert_non_null(c->memory.host_nodes);
        assert_string_equal(c->memory.host_nodes[0], "1");
        assert_null(c->memory.host_nodes[1]);
        /* The reasons sit right above the plan. */
        needle = strstr(text, "# NUMA: the vCPUs are on node 1, the node of GPU 0000:03:00.0");
        assert_non_null(needle);
        assert_true(needle < strstr(text, "\npin = "));
        assert_non_null(strstr(text, "# SMT: each vCPU pair"));
        assert_non_null(strstr(text, "host_nodes = 1\n"));
        assert_null(strstr(err, "shares host CPUs"));
        free(err);
        free(text);
        vm_config_free(c);
        /* The same card on node 0: the plan follows it. */
        variant_pci_attr(root, "0000:03:00.0", "numa_node", "0");
        free(create(root, "numa0", "8", "0000:03:00.0"));
        c = load_vm("numa0", NULL);
        assert_string_equal(c->memory.host_nodes[0], "0");
        STRV_FOREACH(p, c->cpu.pin)
                assert_true(atoi(*p) < 10 || (atoi(*p) >= 20 && atoi(*p) < 30));
        vm_config_free(c);
        forget_vms();
        variant_free(root);
}

/* What status says of a VM pinned by hand to the wrong socket: the card's DMA crosses between them. */
static void test_status_explains_a_pinning_against_the_host(void **state)
{
        char *root = variant_new("q35-viommu"), *joined;
        char c0[] = "0", c20[] = "20", c1[] = "1", c21[] = "21", gpu[] = "0000:03:00.0",
             audio[] = "0000:03:00.1";
        char *pin[] = { c1, c21, c0, c20, NULL }, *devices[] = { audio, gpu, NULL }, **why = NULL;
        vfio_host *h = NULL;

        put_topology(root, "cpu-xeon-e5-2660v2-2s");
        variant_pci_attr(root, "0000:03:00.0", "numa_node", "1");
        assert_int_equal(vfio_host_open(root, &h), 0);
        assert_int_equal(vm_explain_host_pinning(h, pin, devices, &why), 0);
        joined = strv_join(why, "\n");
        /* The GPU is the display function (class 03xxxx), not the first device listed. */
        assert_non_null(strstr(joined, "NUMA: the vCPUs are on node 0 but GPU 0000:03:00.0 is on node 1"));
        assert_non_null(strstr(
                joined, "SMT: each vCPU pair (0+1, 2+3, ...) runs on the two threads of one host core"));
        assert_non_null(strstr(joined, "L3: all vCPUs share one L3 cache (the domain of CPUs 0-9,20-29)"));
        free(joined);
        strv_free(why);
        /* Pairs split across cores: said, not hidden. */
        pin[1] = c0;
        pin[2] = c21;
        assert_int_equal(vm_explain_host_pinning(h, pin, devices, &why), 0);
        joined = strv_join(why, "\n");
        assert_non_null(strstr(
                joined, "SMT: not declared to the guest: the vCPU pairs do not run on sibling threads"));
        free(joined);
        strv_free(why);
        vfio_host_free(h);
        variant_free(root);
}

static void assert_disjoint(char **names, size_t n)
{
        vm_config *c[8];

        for (size_t i = 0; i < n; i++)
                c[i] = load_vm(names[i], NULL);
        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n; j++)
                        STRV_FOREACH(p, c[i]->cpu.pin)
                                if (strv_contains(c[j]->cpu.pin, *p))
                                        fail_msg("VMs %s and %s both hold host CPU %s", names[i], names[j],
                                                 *p);
        for (size_t i = 0; i < n; i++)
                vm_config_free(c[i]);
}

/* Two, then four VMs on each machine: no CPU is pinned twice while the host has free cores. */
static void test_vms_created_in_turn_get_disjoint_pins(void **state)
{
        static const char *fixtures[] = { "cpu-xeon-e5-2660v2-2s", "cpu-tr-3970x", "cpu-i7-12700k" };
        char n1[] = "vm1", n2[] = "vm2", n3[] = "vm3", n4[] = "vm4";
        char *names[] = { n1, n2, n3, n4 };

        for (size_t f = 0; f < ELEMENTSOF(fixtures); f++) {
                char *root = variant_new(fixtures[f]);

                for (size_t i = 0; i < 4; i++) {
                        char *err = create(root, names[i], "4", NULL);

                        assert_null(strstr(err, "shares host CPUs"));
                        free(err);
                        if (i == 1)
                                assert_disjoint(names, 2);
                }
                assert_disjoint(names, 4);
                forget_vms();
                variant_free(root);
        }
}

/*
 * The i7-12700K: a VM started at boot holds four P-cores, another VM four more; a third finds only three
 * free E-cores and must share: with the VM that is not autostarted, and create says so.
 */
static void test_create_says_whom_it_shares_with(void **state)
{
        char *root = variant_new("cpu-i7-12700k"), *err;
        vm_config *a, *b, *c;

        free(create(root, "boot", "8", NULL));
        fixture_mkdir(root, "etc/systemd/system/multi-user.target.wants");
        fixture_symlink(root, "etc/systemd/system/multi-user.target.wants/vfioctl@boot.service",
                        "/usr/lib/systemd/system/vfioctl@.service");
        free(create(root, "other", "8", NULL));
        err = create(root, "third", "8", NULL);
        a = load_vm("boot", NULL);
        b = load_vm("other", NULL);
        c = load_vm("third", NULL);
        /* The free E-cores first (the host keeps CPU 16), then the non-autostarted VM's P-cores. */
        assert_string_equal(c->cpu.pin[0], "17");
        assert_string_equal(c->cpu.pin[2], "19");
        STRV_FOREACH(p, c->cpu.pin) {
                assert_false(strv_contains(a->cpu.pin, *p));
                assert_string_not_equal(*p, "16");
        }
        assert_true(strv_contains(b->cpu.pin, c->cpu.pin[3]));
        assert_non_null(strstr(err, "VM 'third' shares host CPUs with VM 'other'"));
        assert_null(strstr(err, "'boot'"));
        /* Mixed P- and E-cores: no vCPU pair is a core's two threads, so none is declared. */
        assert_int_equal(c->cpu.threads, 1);
        free(err);
        vm_config_free(a);
        vm_config_free(b);
        vm_config_free(c);
        forget_vms();
        variant_free(root);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_create_puts_vcpus_and_memory_on_the_gpu_node),
                cmocka_unit_test(test_vms_created_in_turn_get_disjoint_pins),
                cmocka_unit_test(test_create_says_whom_it_shares_with),
                cmocka_unit_test(test_status_explains_a_pinning_against_the_host),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
