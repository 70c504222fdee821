/*
 * Config values holding QEMU's separators reach the real qemu-system-x86_64 as one value each: QEMU
 * starts (an injected property would make it refuse to) and QMP reads every value back whole. The argv
 * side, for every key, is tests/unit/test-qemu-inject.c; this is its proof in QEMU for a representative
 * set: the VM name (-name), a disk's path and serial (-drive, -device), a VNC socket ('=' where QEMU
 * reads a bare value as a key), the Looking Glass file (-object) and the debug console (-chardev).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "qemu-harness.h"
#include "strv.h"

#define INJECT ",x-injected=on"

static char *path_in(const qvm *v, const char *name)
{
        char *s;

        assert_true(asprintf(&s, "%s/%s", v->dir, name) > 0);
        return s;
}

static void assert_string_prop(qvm *v, const char *path, const char *prop, const char *want)
{
        json_object *o = qvm_qom_get(v, path, prop);

        assert_string_equal(json_object_get_string(o), want);
        json_object_put(o);
}

static void test_separators_reach_qemu_as_one_value(void **state)
{
        qvm *v = qvm_new();
        char *disk = path_in(v, "d" INJECT ",,=1.img"), *vnc = path_in(v, "v=x-injected" INJECT ".sock"),
             *lg = path_in(v, "lg" INJECT), *dbg = path_in(v, "dbg" INJECT ".log"), *conf = NULL;
        json_object *o, *blk, *d, *srv;
        struct stat st;

        make_file(disk, 16 << 20);
        assert_true(asprintf(&conf,
                             "[disk \"d\"]\npath = %s\nserial = s" INJECT "\n"
                             "[display]\ndevice = std\nprotocol = vnc\nsocket = %s\n"
                             "[looking-glass]\npath = %s\nsize = 32M\n"
                             "[vm]\ndebugcon = %s\n",
                             disk, vnc, lg, dbg) > 0);
        qvm_config(v, conf);
        free(v->cfg->name);
        v->cfg->name = strdup("vm" INJECT);
        qvm_start(v);

        o = qvm_qmp(v, "query-name", NULL);
        assert_string_equal(jstr(o, "name"), "vm" INJECT);
        json_object_put(o);

        blk = qvm_qmp(v, "query-block", NULL);
        d = json_find(blk, "device", "drive-d");
        assert_non_null(d);
        assert_string_equal(jstr(json_object_object_get(d, "inserted"), "file"), disk);
        json_object_put(blk);
        assert_string_prop(v, "/machine/peripheral/disk-d", "serial", "s" INJECT);

        o = qvm_qmp(v, "query-vnc-servers", NULL);
        srv = json_object_array_get_idx(json_object_object_get(json_object_array_get_idx(o, 0), "server"),
                                        0);
        assert_non_null(srv);
        assert_string_equal(jstr(srv, "family"), "unix");
        assert_string_equal(jstr(srv, "service"), vnc);
        json_object_put(o);
        assert_int_equal(stat(vnc, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));

        assert_string_prop(v, "/objects/looking-glass", "mem-path", lg);
        /* QEMU opens the debug console file at start: it exists under its whole name. */
        assert_int_equal(stat(dbg, &st), 0);

        free(disk);
        free(vnc);
        free(lg);
        free(dbg);
        free(conf);
        qvm_free(v);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_separators_reach_qemu_as_one_value, harness_teardown),
        };

        if (access("/usr/bin/qemu-system-x86_64", X_OK) < 0) {
                fprintf(stderr, "qemu-system-x86_64 is not installed\n");
                return 77;
        }
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
