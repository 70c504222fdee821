/*
 * Golden files: every config in tests/data/vm/ and docs/examples/ gives exactly the QEMU argv stored next
 * to it (NAME.argv, one argument per line, then "# note:" lines). VFIOCTL_TEST_REGENERATE=1 rewrites them;
 * review the diff like code.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cleanup.h"
#include "fileio.h"
#include "strv.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/vmconf.h"
#include "vfioctl/vmdefaults.h"

#include <fcntl.h>

typedef struct golden {
        char *conf;
        char *argv;
} golden;

static char *render(const char *conf_path)
{
        _cleanup_(vm_config_freep) vm_config *c = NULL;
        _cleanup_strv_free_ char **errors = NULL, **warnings = NULL, **args = NULL, **notes = NULL;
        _cleanup_free_ char *rt = NULL, *st = NULL;
        char *out = NULL;
        size_t size = 0;
        FILE *f;

        if (vm_config_load(conf_path, &c, &errors) < 0) {
                STRV_FOREACH(e, errors)
                        print_error("%s\n", *e);
                return NULL;
        }
        /* No host: selectors are literal addresses here, resolved as written. */
        if (vm_config_resolve(c, NULL, NULL, &warnings, &errors) < 0)
                return NULL;
        if (asprintf(&rt, "/run/user/1000/vfioctl/%s", c->name) < 0 ||
            asprintf(&st, "/home/user/.local/state/vfioctl/%s", c->name) < 0)
                return NULL;
        /* NAME-relayed.conf renders as start does while its input relay runs; NAME-prefilled.conf as start
         * does when it has filled the guest RAM itself (lib/run/prealloc.c, QEMU's descriptor 3). */
        vm_argv_paths p = { .runtime_dir = rt,
                            .state_dir = st,
                            .uid = 1000,
                            .input_relay = strstr(conf_path, "-relayed.conf") != NULL,
                            .memory_file = strstr(conf_path, "-prefilled.conf") ? "/proc/self/fd/3" : NULL };
        if (vm_qemu_argv(c, &p, &args, &notes) < 0)
                return NULL;
        f = open_memstream(&out, &size);
        if (!f)
                return NULL;
        STRV_FOREACH(a, args)
                fprintf(f, "%s\n", *a);
        STRV_FOREACH(n, notes)
                fprintf(f, "# note: %s\n", *n);
        fclose(f);
        return out;
}

static void test_golden(void **state)
{
        const golden *g = *state;
        _cleanup_free_ char *got = render(g->conf), *want = NULL;
        _cleanup_close_ int fd = -EBADF;

        assert_non_null(got);
        if (getenv("VFIOCTL_TEST_REGENERATE")) {
                FILE *f = fopen(g->argv, "we");

                assert_non_null(f);
                fputs(got, f);
                assert_int_equal(fclose(f), 0);
                return;
        }
        fd = open(g->argv, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                fail_msg("%s is missing; run with VFIOCTL_TEST_REGENERATE=1 and review it", g->argv);
        assert_int_equal(read_full_fd(fd, 1 << 20, &want, NULL), 0);
        if (strcmp(got, want) != 0) {
                print_error("%s: argv differs from %s\n--- got ---\n%s", g->conf, g->argv, got);
                fail();
        }
}

static size_t collect(const char *dir, const char *golden_dir, golden *out, size_t max)
{
        struct dirent **ents = NULL;
        size_t k = 0;
        int n = scandir(dir, &ents, NULL, alphasort);

        for (int i = 0; i < n; i++) {
                size_t l = strlen(ents[i]->d_name);

                if (l > 5 && strcmp(ents[i]->d_name + l - 5, ".conf") == 0 && k < max) {
                        assert_true(asprintf(&out[k].conf, "%s/%s", dir, ents[i]->d_name) > 0);
                        assert_true(asprintf(&out[k].argv, "%s/%.*s.argv", golden_dir, (int)(l - 5),
                                             ents[i]->d_name) > 0);
                        k++;
                }
                free(ents[i]);
        }
        free(ents);
        return k;
}

int main(void)
{
        const char *data = getenv("VFIOCTL_TEST_DATA"), *examples = getenv("VFIOCTL_EXAMPLES");
        static golden goldens[256];
        static struct CMUnitTest tests[256];
        _cleanup_free_ char *vm = NULL, *ex = NULL;
        size_t n;

        if (!data || !examples) {
                fprintf(stderr, "VFIOCTL_TEST_DATA and VFIOCTL_EXAMPLES must be set (meson test does)\n");
                return 1;
        }
        if (asprintf(&vm, "%s/vm", data) < 0 || asprintf(&ex, "%s/vm/examples", data) < 0)
                return 1;
        n = collect(vm, vm, goldens, 256);
        n += collect(examples, ex, goldens + n, 256 - n);
        if (n < 10) {
                fprintf(stderr, "only %zu configs found; the golden data is missing\n", n);
                return 1;
        }
        for (size_t i = 0; i < n; i++)
                tests[i] = (struct CMUnitTest){ .name = strrchr(goldens[i].conf, '/') + 1,
                                                .test_func = test_golden,
                                                .initial_state = &goldens[i] };
        return _cmocka_run_group_tests("qemu-argv goldens", tests, n, NULL, NULL);
}
