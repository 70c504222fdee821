/*
 * Golden files: every config in tests/data/vm/ and docs/examples/ gives exactly the QEMU argv stored next
 * to it (NAME.argv, one argument per line, then "# note:" lines), or, for a config that must be refused,
 * exactly the errors in NAME.err. As libvirt's qemuxmlconftest keeps its data: a golden without its
 * config fails, a mismatch prints a unified diff, and there is no limit on the number of cases.
 * VFIOCTL_TEST_REGENERATE=1 rewrites the goldens; review the diff like code.
 */
#include <dirent.h>
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

#include "cleanup.h"
#include "fileio.h"
#include "run-cmd.h"
#include "strv.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/vmconf.h"
#include "vfioctl/vmdefaults.h"

typedef struct golden {
        char *name; /* the test's name: the config's file name */
        char *conf;
        char *argv; /* NAME.argv: the config gives this argv */
        char *err;  /* NAME.err: the config is refused with these errors */
} golden;

/* The argv (and notes) of a config, or its errors ("ERROR: " lines); *ret_refused says which. */
static char *render(const char *conf_path, bool *ret_refused)
{
        _cleanup_(vm_config_freep) vm_config *c = NULL;
        _cleanup_strv_free_ char **errors = NULL, **warnings = NULL, **args = NULL, **notes = NULL;
        _cleanup_free_ char *rt = NULL, *st = NULL;
        char *out = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        f = open_memstream(&out, &size);
        assert_non_null(f);
        r = vm_config_load(conf_path, &c, &errors);
        /* No host: selectors are literal addresses here, resolved as written. */
        if (r >= 0)
                r = vm_config_resolve(c, NULL, NULL, &warnings, &errors);
        if (r < 0) {
                assert_non_null(errors);
                *ret_refused = true;
                /* Paths differ between checkouts: errors name the config by its file name. */
                STRV_FOREACH(e, errors) {
                        const char *slash = strrchr(conf_path, '/');

                        if (strncmp(*e, conf_path, strlen(conf_path)) == 0)
                                fprintf(f, "%s%s\n", slash + 1, *e + strlen(conf_path));
                        else
                                fprintf(f, "%s\n", *e);
                }
                assert_int_equal(fclose(f), 0);
                return out;
        }
        *ret_refused = false;
        assert_true(asprintf(&rt, "/run/user/1000/vfioctl/%s", c->name) > 0);
        assert_true(asprintf(&st, "/home/user/.local/state/vfioctl/%s", c->name) > 0);
        /* NAME-relayed.conf renders as start does while its input relay runs; NAME-prefilled.conf as start
         * does when it has filled the guest RAM itself (lib/run/prealloc.c, QEMU's descriptor 3). */
        vm_argv_paths p = { .runtime_dir = rt,
                            .state_dir = st,
                            .uid = 1000,
                            .input_relay = strstr(conf_path, "-relayed.conf") != NULL,
                            .memory_file = strstr(conf_path, "-prefilled.conf") ? "/proc/self/fd/3" : NULL };
        assert_int_equal(vm_qemu_argv(c, &p, &args, &notes), 0);
        STRV_FOREACH(a, args)
                fprintf(f, "%s\n", *a);
        STRV_FOREACH(n, notes)
                fprintf(f, "# note: %s\n", *n);
        assert_int_equal(fclose(f), 0);
        return out;
}

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");

        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
}

/* Fails with `diff -u golden got`. */
static void fail_with_diff(const char *golden_path, const char *got)
{
        _cleanup_free_ char *dir = make_temp_dir("vfioctl-argv-diff"), *path = NULL, *out = NULL,
                            *err = NULL;
        const char *base = strrchr(golden_path, '/') + 1;

        assert_true(asprintf(&path, "%s/%s", dir, base) > 0);
        write_file(path, got);
        run_cmd(&out, &err, (const char *const[]){ "/usr/bin/diff", "-u", golden_path, path, NULL });
        rm_rf(dir);
        print_error("%s differs (run with VFIOCTL_TEST_REGENERATE=1 and review the diff):\n%s%s",
                    golden_path, out ? out : "", err ? err : "");
        fail();
}

static void test_golden(void **state)
{
        const golden *g = *state;
        _cleanup_free_ char *want = NULL, *got = NULL;
        _cleanup_close_ int fd = -EBADF;
        bool refused;
        const char *path;

        got = render(g->conf, &refused);
        if (getenv("VFIOCTL_TEST_REGENERATE")) {
                write_file(refused ? g->err : g->argv, got);
                /* A config now refused (or now accepted) leaves no stale golden of the other kind. */
                (void)unlink(refused ? g->argv : g->err);
                return;
        }
        path = refused ? g->err : g->argv;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                fail_msg(
                        "%s: the config is %s but %s is missing; run with VFIOCTL_TEST_REGENERATE=1 and review it:\n%s",
                        g->conf, refused ? "refused" : "accepted", path, got);
        if (access(refused ? g->argv : g->err, F_OK) == 0)
                fail_msg("%s: the config is %s, but %s exists too", g->conf,
                         refused ? "refused" : "accepted", refused ? g->argv : g->err);
        assert_int_equal(read_full_fd(fd, 1 << 20, &want, NULL), 0);
        if (strcmp(got, want) != 0)
                fail_with_diff(path, got);
}

static bool has_suffix(const char *s, const char *suffix)
{
        size_t n = strlen(s), m = strlen(suffix);

        return n > m && strcmp(s + n - m, suffix) == 0;
}

/* The configs of dir, their goldens in golden_dir. */
static void collect(const char *dir, const char *golden_dir, golden **goldens, size_t *n)
{
        struct dirent **ents = NULL;
        int k = scandir(dir, &ents, NULL, alphasort);

        assert_true(k >= 0);
        for (int i = 0; i < k; i++) {
                const char *e = ents[i]->d_name;
                size_t l = strlen(e);

                if (has_suffix(e, ".conf")) {
                        golden *g;

                        *goldens = realloc(*goldens, (*n + 1) * sizeof(**goldens));
                        assert_non_null(*goldens);
                        g = &(*goldens)[(*n)++];
                        *g = (golden){ .name = strdup(e) };
                        assert_true(asprintf(&g->conf, "%s/%s", dir, e) > 0);
                        assert_true(asprintf(&g->argv, "%s/%.*s.argv", golden_dir, (int)(l - 5), e) > 0);
                        assert_true(asprintf(&g->err, "%s/%.*s.err", golden_dir, (int)(l - 5), e) > 0);
                }
                free(ents[i]);
        }
        free(ents);
}

/* Every .argv and .err in dir belongs to a config of the run: a golden nobody checks is an error. */
static size_t stray_goldens(const char *dir, const golden *goldens, size_t n)
{
        struct dirent **ents = NULL;
        int k = scandir(dir, &ents, NULL, alphasort);
        size_t stray = 0;

        assert_true(k >= 0);
        for (int i = 0; i < k; i++) {
                _cleanup_free_ char *path = NULL;
                bool used = false;

                if (has_suffix(ents[i]->d_name, ".argv") || has_suffix(ents[i]->d_name, ".err")) {
                        assert_true(asprintf(&path, "%s/%s", dir, ents[i]->d_name) > 0);
                        for (size_t j = 0; j < n && !used; j++)
                                used = strcmp(goldens[j].argv, path) == 0 ||
                                       strcmp(goldens[j].err, path) == 0;
                        if (!used) {
                                print_error("%s: a golden with no config; remove it or add its .conf\n",
                                            path);
                                stray++;
                        }
                }
                free(ents[i]);
        }
        free(ents);
        return stray;
}

typedef struct run {
        const char *dirs[2];
        golden *goldens;
        size_t n;
} run;

static void test_no_golden_without_config(void **state)
{
        const run *r = *state;
        size_t stray = 0;

        for (size_t i = 0; i < ELEMENTSOF(r->dirs); i++)
                stray += stray_goldens(r->dirs[i], r->goldens, r->n);
        if (stray)
                fail_msg("%zu goldens have no config", stray);
}

int main(void)
{
        const char *data = getenv("VFIOCTL_TEST_DATA"), *examples = getenv("VFIOCTL_EXAMPLES");
        _cleanup_free_ char *vm = NULL, *ex = NULL;
        struct CMUnitTest *tests;
        run all = {};
        int r;

        if (!data || !examples) {
                fprintf(stderr, "VFIOCTL_TEST_DATA and VFIOCTL_EXAMPLES must be set (meson test does)\n");
                return 1;
        }
        if (asprintf(&vm, "%s/vm", data) < 0 || asprintf(&ex, "%s/vm/examples", data) < 0)
                return 1;
        collect(vm, vm, &all.goldens, &all.n);
        collect(examples, ex, &all.goldens, &all.n);
        if (all.n < 10) {
                fprintf(stderr, "only %zu configs found; the golden data is missing\n", all.n);
                return 1;
        }
        all.dirs[0] = vm;
        all.dirs[1] = ex;
        tests = calloc(all.n + 1, sizeof(*tests));
        if (!tests)
                return 1;
        for (size_t i = 0; i < all.n; i++)
                tests[i] = (struct CMUnitTest){ .name = all.goldens[i].name,
                                                .test_func = test_golden,
                                                .initial_state = &all.goldens[i] };
        tests[all.n] = (struct CMUnitTest){ .name = "no golden without its config",
                                            .test_func = test_no_golden_without_config,
                                            .initial_state = &all };
        r = _cmocka_run_group_tests("qemu-argv goldens", tests, all.n + 1, NULL, NULL);
        for (size_t i = 0; i < all.n; i++) {
                free(all.goldens[i].name);
                free(all.goldens[i].conf);
                free(all.goldens[i].argv);
                free(all.goldens[i].err);
        }
        free(all.goldens);
        free(tests);
        return r;
}
