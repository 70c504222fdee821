/* The VM verbs end to end through the built tool: validate, cmdline (--root fixture) and create. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"
#include "strv.h"

typedef struct result {
        int status;
        char *out, *err;
} result;

static char *slurp(const char *path)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        char *s = NULL;

        assert_true(fd >= 0);
        assert_int_equal(read_full_fd(fd, 1 << 20, &s, NULL), 0);
        close(fd);
        return s;
}

/* Runs argv with stdin from in_path (or /dev/null), capturing stdout and stderr. */
static result run(char *const argv[], const char *in_path)
{
        char out[] = "/tmp/vfioctl-verbs-out-XXXXXX", err[] = "/tmp/vfioctl-verbs-err-XXXXXX";
        int ofd = mkostemp(out, O_CLOEXEC), efd = mkostemp(err, O_CLOEXEC), status;
        result r = {};
        pid_t pid;

        assert_true(ofd >= 0 && efd >= 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int in = open(in_path ? in_path : "/dev/null", O_RDONLY | O_CLOEXEC);

                if (in < 0 || dup2(in, 0) < 0 || dup2(ofd, 1) < 0 || dup2(efd, 2) < 0)
                        _exit(126);
                setenv("NO_COLOR", "1", 1);
                execv(argv[0], argv);
                _exit(127);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        r.out = slurp(out);
        r.err = slurp(err);
        close(ofd);
        close(efd);
        unlink(out);
        unlink(err);
        return r;
}

static void result_done(result *r)
{
        free(r->out);
        free(r->err);
}

static const char *bin(void)
{
        const char *b = getenv("VFIOCTL_BIN");

        assert_non_null(b);
        return b;
}

static char *write_temp(const char *text)
{
        char *path = strdup("/tmp/vfioctl-verbs-XXXXXX.conf");
        int fd = mkostemps(path, 5, O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
        return path;
}

static void test_validate_good_and_bad(void **state)
{
        char ex[4096], *bad;
        result r;

        snprintf(ex, sizeof(ex), "%s/000-edi.conf", getenv("VFIOCTL_EXAMPLES"));
        r = run((char *const[]){ (char *)bin(), (char *)"validate", ex, NULL }, NULL);
        assert_int_equal(r.status, 0);
        assert_non_null(strstr(r.out, "valid (VM \"000-edi\", 4 vCPUs)"));
        result_done(&r);

        bad = write_temp("[vm]\nmachine = q53\n[disk \"a\"]\npath = /a\ncahce = none\n");
        r = run((char *const[]){ (char *)bin(), (char *)"validate", bad, NULL }, NULL);
        assert_int_equal(r.status, 65);
        assert_non_null(strstr(r.err, ":2: [vm] machine: 'q53' is not allowed (did you mean 'q35'?)"));
        assert_non_null(strstr(r.err, ":5: [disk \"a\"] unknown key 'cahce' (did you mean 'cache'?)"));
        result_done(&r);
        unlink(bad);
        free(bad);
}

static void test_validate_needs_no_host(void **state)
{
        char *conf = write_temp("[gpu]\ndevice = 10de:1b80\n[pci \"x\"]\ndevice = '*GTX*'\n");
        result r = run((char *const[]){ (char *)bin(), (char *)"--root", (char *)"/nonexistent",
                                        (char *)"validate", conf, NULL },
                       NULL);

        assert_int_equal(r.status, 0);
        result_done(&r);
        unlink(conf);
        free(conf);
}

static void test_cmdline_resolves_selectors_on_the_root(void **state)
{
        char root[4096];
        char *conf =
                write_temp("[vm]\naccel = tcg\n[cpu]\nmodel = max\n[pci \"rng\"]\ndevice = 1af4:1044\n"
                           "[pci \"byname\"]\ndevice = *Virtio 1.0 RNG*\n[pci \"lit\"]\ndevice = 00:07.0\n");
        result r;

        /* root-rng: two devices of this machine's sysfs (a KVM guest), copied with their links. */
        snprintf(root, sizeof(root), "%s/vm/root-rng", getenv("VFIOCTL_TEST_DATA"));
        r = run((char *const[]){ (char *)bin(), (char *)"--root", root, (char *)"cmdline", conf, NULL },
                NULL);
        assert_int_equal(r.status, 0);
        assert_non_null(strstr(r.out, "-device vfio-pci,host=0000:00:05.0,id=hostdev-rng-0,"));
        assert_non_null(strstr(r.out, "-device vfio-pci,host=0000:00:05.0,id=hostdev-byname-0,"));
        assert_non_null(strstr(r.out, "-device vfio-pci,host=0000:00:07.0,id=hostdev-lit-0,"));
        assert_non_null(strstr(
                r.err,
                ":10: [pci \"lit\"] device 00:07.0 is not present on this host; using the address as written"));
        result_done(&r);
        unlink(conf);
        free(conf);

        conf = write_temp("[gpu]\ndevice = 10de:1b80\n");
        r = run((char *const[]){ (char *)bin(), (char *)"--root", root, (char *)"cmdline", conf, NULL },
                NULL);
        assert_int_equal(r.status, 65);
        assert_non_null(
                strstr(r.err, ":2: [gpu] device: selector '10de:1b80' matches no PCI device on this host"));
        result_done(&r);
        unlink(conf);
        free(conf);
}

static void test_cmdline_quoting_round_trips_through_a_shell(void **state)
{
        char *conf = write_temp("[vm]\naccel = tcg\nextra_args = -msg timestamp=on\n[cpu]\nmodel = max\n"
                                "[disk \"d\"]\npath = /srv/it's a \"dir\",x/$HOME`x`.img\n");
        char *out_path = strdup("/tmp/vfioctl-verbs-cmd-XXXXXX");
        result r = run((char *const[]){ (char *)bin(), (char *)"cmdline", conf, NULL }, NULL), sh;
        int fd = mkostemp(out_path, O_CLOEXEC);

        assert_int_equal(r.status, 0);
        assert_non_null(
                strstr(r.out, "# The last 2 arguments come from [vm] extra_args, passed unchecked."));
        assert_int_equal(write(fd, r.out, strlen(r.out)), (ssize_t)strlen(r.out));
        close(fd);
        /* The printed command (less its comment line), read back by a real shell, gives back each argument.
         */
        sh = run(
                (char *const[]){
                        (char *)"/bin/sh", (char *)"-c",
                        (char *)"eval \"set -- $(grep -v '^#')\"; for a; do printf '%s\\n' \"$a\"; done",
                        NULL },
                out_path);
        assert_int_equal(sh.status, 0);
        if (!strstr(sh.out, "drive-d,file=/srv/it"))
                print_error("shell read back:\n%s\nstderr: %s\n", sh.out, sh.err);
        assert_non_null(strstr(
                sh.out, "\nif=none,id=drive-d,file=/srv/it's a \"dir\",,x/$HOME`x`.img,format=raw\n"));
        assert_non_null(strstr(sh.out, "\n-msg\ntimestamp=on\n"));
        result_done(&sh);
        result_done(&r);
        unlink(out_path);
        unlink(conf);
        free(out_path);
        free(conf);
}

static void test_create_writes_a_valid_config_once(void **state)
{
        char dir[] = "/tmp/vfioctl-create-XXXXXX", out[4200];
        result r;

        assert_non_null(mkdtemp(dir));
        snprintf(out, sizeof(out), "%s/win.conf", dir);
        r = run((char *const[]){ (char *)bin(), (char *)"create", (char *)"--windows", (char *)"--memory",
                                 (char *)"16G", (char *)"--cpus", (char *)"1", (char *)"--disk",
                                 (char *)"/dev/zvol/tank/win", (char *)"--iso", (char *)"/srv/win.iso",
                                 (char *)"--output", out, (char *)"win", NULL },
                NULL);
        assert_int_equal(r.status, 0);
        result_done(&r);
        r = run((char *const[]){ (char *)bin(), (char *)"validate", out, NULL }, NULL);
        assert_int_equal(r.status, 0);
        result_done(&r);
        {
                char *text = slurp(out);

                assert_non_null(strstr(text, "os = windows\n"));
                assert_non_null(strstr(text, "secure_boot = yes\n"));
                assert_non_null(strstr(text, "[tpm]\n"));
                assert_non_null(strstr(text, "size = 16G\n"));
                assert_non_null(strstr(text, "path = /dev/zvol/tank/win\n"));
                assert_non_null(strstr(text, "aio = native\n"));
                assert_non_null(strstr(text, "media = cdrom\n"));
                free(text);
        }
        /* A second create must not clobber the file. */
        r = run((char *const[]){ (char *)bin(), (char *)"create", (char *)"--output", out, (char *)"win",
                                 NULL },
                NULL);
        assert_int_equal(r.status, 1);
        assert_non_null(strstr(r.err, "exists; edit it, or overwrite with: vfioctl create --force win"));
        result_done(&r);
        unlink(out);
        rmdir(dir);
}

static void test_create_gpu_from_the_host_model(void **state)
{
        char root[4096];
        result r;

        snprintf(root, sizeof(root), "%s/vm/root-rng", getenv("VFIOCTL_TEST_DATA"));
        /* The fixture (a KVM guest) has no display device at all. */
        r = run((char *const[]){ (char *)bin(), (char *)"--root", root, (char *)"create", (char *)"--gpu",
                                 (char *)"auto", (char *)"--dry-run", (char *)"g", NULL },
                NULL);
        assert_int_equal(r.status, 65);
        assert_non_null(strstr(r.err, "--gpu auto: no display device on this host can be passed through"));
        result_done(&r);
        r = run((char *const[]){ (char *)bin(), (char *)"--root", root, (char *)"create", (char *)"--gpu",
                                 (char *)"1af4:1044", (char *)"--dry-run", (char *)"g", NULL },
                NULL);
        assert_int_equal(r.status, 0);
        assert_non_null(strstr(r.out, "[gpu]\n"));
        /* The device by the identity bind records (IDs at a topology path), not a bus address. */
        assert_non_null(strstr(r.out, "device = 1af4:1044:1af4:1044@pci0000:00/05.0\n"));
        assert_non_null(strstr(r.out, "functions = auto\n"));
        result_done(&r);
        r = run((char *const[]){ (char *)bin(), (char *)"--root", root, (char *)"create", (char *)"--gpu",
                                 (char *)"10de:1b80", (char *)"--dry-run", (char *)"g", NULL },
                NULL);
        assert_int_equal(r.status, 65);
        assert_non_null(strstr(r.err, "--gpu: '10de:1b80' matches no PCI device on this host"));
        result_done(&r);
}

/*
 * The twin-card capture: 03:00.0 has the IDs of the boot display 00:01.0. create --gpu '1234:1111#2' stores
 * the identity (IDs and topology path), so the config names that card even when buses are renumbered, and
 * writes the VM user that start as root requires.
 */
static void test_create_stores_the_identity_and_the_vm_user(void **state)
{
        char root[4096];
        result r;

        snprintf(root, sizeof(root), "%s/sysfs/q35-viommu", getenv("VFIOCTL_TEST_DATA"));
        r = run((char *const[]){ (char *)bin(), (char *)"--root", root, (char *)"create", (char *)"--gpu",
                                 (char *)"1234:1111#2", (char *)"--user", (char *)"gamer",
                                 (char *)"--dry-run", (char *)"twin", NULL },
                NULL);
        assert_int_equal(r.status, 0);
        assert_non_null(strstr(r.out, "\ndevice = 1234:1111:1af4:1100@pci0000:00/12.0/00.0\n"));
        assert_non_null(strstr(r.out, "\nuser = gamer\n"));
        result_done(&r);
        /* Through sudo, the VM user is the one who ran sudo. */
        setenv("SUDO_USER", "alice", 1);
        r = run((char *const[]){ (char *)bin(), (char *)"--root", root, (char *)"create",
                                 (char *)"--dry-run", (char *)"plain", NULL },
                NULL);
        unsetenv("SUDO_USER");
        assert_int_equal(r.status, 0);
        if (geteuid() == 0)
                assert_non_null(strstr(r.out, "\nuser = alice\n"));
        else
                assert_null(strstr(r.out, "\nuser = alice\n"));
        assert_non_null(strstr(r.out, "\nuser = "));
        result_done(&r);
}

/* The desktop user: the option; from SUDO_USER only on the running system, never for a --root tree. */
static void test_create_desktop_user(void **state)
{
        char root[4096];
        result r;

        snprintf(root, sizeof(root), "%s/vm/root-rng", getenv("VFIOCTL_TEST_DATA"));
        r = run((char *const[]){ (char *)bin(), (char *)"--root", root, (char *)"create",
                                 (char *)"--desktop-user", (char *)"alice", (char *)"--dry-run", (char *)"d",
                                 NULL },
                NULL);
        assert_int_equal(r.status, 0);
        assert_non_null(strstr(r.out, "\ndesktop_user = alice\n"));
        result_done(&r);
        setenv("SUDO_USER", "bob", 1);
        r = run((char *const[]){ (char *)bin(), (char *)"--root", root, (char *)"create",
                                 (char *)"--dry-run", (char *)"d", NULL },
                NULL);
        unsetenv("SUDO_USER");
        assert_int_equal(r.status, 0);
        assert_null(strstr(r.out, "desktop_user"));
        result_done(&r);
        r = run((char *const[]){ (char *)bin(), (char *)"create", (char *)"--desktop-user", (char *)"a/b",
                                 (char *)"--dry-run", (char *)"d", NULL },
                NULL);
        assert_int_equal(r.status, 64);
        assert_non_null(strstr(r.err, "--desktop-user: 'a/b' is not a user name"));
        result_done(&r);
}

static void test_names_live_in_xdg_config_home(void **state)
{
        char dir[] = "/tmp/vfioctl-xdg-XXXXXX", path[4200];
        result r;

        assert_non_null(mkdtemp(dir));
        setenv("XDG_CONFIG_HOME", dir, 1);
        setenv("XDG_STATE_HOME", dir, 1);
        r = run((char *const[]){ (char *)bin(), (char *)"create", (char *)"--memory", (char *)"8G",
                                 (char *)"--disk", (char *)"1G", (char *)"mine", NULL },
                NULL);
        assert_int_equal(r.status, 0);
        snprintf(path, sizeof(path), "%s/vfioctl/vms/mine.conf", dir);
        assert_non_null(strstr(r.out, path));
        result_done(&r);
        {
                /* --disk SIZE: a qcow2 image made with qemu-img in the VM's state directory, named in the
                 * config. */
                char img[4200], want[4300], *conf = slurp(path);

                snprintf(img, sizeof(img), "%s/vfioctl/mine/system.qcow2", dir);
                assert_int_equal(access(img, R_OK), 0);
                snprintf(want, sizeof(want), "path = %s\nformat = qcow2\n", img);
                assert_non_null(strstr(conf, want));
                free(conf);
                unlink(img);
                snprintf(img, sizeof(img), "%s/vfioctl/mine", dir);
                rmdir(img);
        }
        r = run((char *const[]){ (char *)bin(), (char *)"validate", (char *)"mine", NULL }, NULL);
        assert_int_equal(r.status, 0);
        result_done(&r);
        r = run((char *const[]){ (char *)bin(), (char *)"validate", (char *)"nosuchvm", NULL }, NULL);
        assert_int_equal(r.status, 1);
        assert_non_null(strstr(r.err, "no VM 'nosuchvm'"));
        assert_non_null(strstr(r.err, "create one with: vfioctl create nosuchvm"));
        result_done(&r);
        unsetenv("XDG_CONFIG_HOME");
        unsetenv("XDG_STATE_HOME");
        unlink(path);
        snprintf(path, sizeof(path), "%s/vfioctl/vms", dir);
        rmdir(path);
        snprintf(path, sizeof(path), "%s/vfioctl", dir);
        rmdir(path);
        rmdir(dir);
}

static void test_create_never_replaces_a_disk_image(void **state)
{
        char dir[] = "/tmp/vfioctl-xdg-XXXXXX", img[4200], conf[4200];
        struct stat before, after;
        result r;

        assert_non_null(mkdtemp(dir));
        setenv("XDG_CONFIG_HOME", dir, 1);
        setenv("XDG_STATE_HOME", dir, 1);
        r = run((char *const[]){ (char *)bin(), (char *)"create", (char *)"--memory", (char *)"1G",
                                 (char *)"--disk", (char *)"1G", (char *)"keep", NULL },
                NULL);
        assert_int_equal(r.status, 0);
        result_done(&r);
        snprintf(img, sizeof(img), "%s/vfioctl/keep/system.qcow2", dir);
        snprintf(conf, sizeof(conf), "%s/vfioctl/vms/keep.conf", dir);
        assert_int_equal(stat(img, &before), 0);
        /* Again without --force: refused on the config, the image untouched (it used to be re-created). */
        r = run((char *const[]){ (char *)bin(), (char *)"create", (char *)"--memory", (char *)"1G",
                                 (char *)"--disk", (char *)"2G", (char *)"keep", NULL },
                NULL);
        assert_int_equal(r.status, 1);
        assert_non_null(strstr(r.err, "exists; edit it, or overwrite with: vfioctl create --force keep"));
        result_done(&r);
        /* With --force the config may be replaced, the disk image never. */
        r = run((char *const[]){ (char *)bin(), (char *)"create", (char *)"--memory", (char *)"1G",
                                 (char *)"--disk", (char *)"2G", (char *)"--force", (char *)"keep", NULL },
                NULL);
        assert_int_equal(r.status, 1);
        assert_non_null(strstr(r.err, "vfioctl create never replaces a disk image"));
        result_done(&r);
        assert_int_equal(stat(img, &after), 0);
        assert_int_equal(before.st_ino, after.st_ino);
        assert_int_equal(before.st_size, after.st_size);
        assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
        unsetenv("XDG_CONFIG_HOME");
        unsetenv("XDG_STATE_HOME");
        unlink(img);
        unlink(conf);
        snprintf(img, sizeof(img), "%s/vfioctl/keep", dir);
        rmdir(img);
        snprintf(img, sizeof(img), "%s/vfioctl/vms", dir);
        rmdir(img);
        snprintf(img, sizeof(img), "%s/vfioctl", dir);
        rmdir(img);
        rmdir(dir);
}

static void test_disk_create_for_a_vm_makes_the_image_its_config_names(void **state)
{
        char dir[] = "/tmp/vfioctl-xdg-XXXXXX", path[4200], img[4200], text[8600];
        struct stat st;
        result r;

        assert_non_null(mkdtemp(dir));
        setenv("XDG_CONFIG_HOME", dir, 1);
        snprintf(path, sizeof(path), "%s/vfioctl", dir);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/vfioctl/vms", dir);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(img, sizeof(img), "%s/sys.img", dir);
        snprintf(
                text, sizeof(text),
                "[vm]\naccel = tcg\n[cpu]\nmodel = qemu64\n[memory]\nsize = 1G\n[disk \"system\"]\npath = %s\n"
                "format = raw\n",
                img);
        snprintf(path, sizeof(path), "%s/vfioctl/vms/diskvm.conf", dir);
        {
                FILE *f = fopen(path, "we");

                assert_non_null(f);
                fputs(text, f);
                fclose(f);
        }
        r = run((char *const[]){ (char *)bin(), (char *)"disk", (char *)"create", (char *)"diskvm",
                                 (char *)"--size", (char *)"64M", NULL },
                NULL);
        assert_int_equal(r.status, 0);
        assert_non_null(strstr(r.out, "creating its [disk \"system\"]"));
        result_done(&r);
        /* The config's format (raw) and the requested size. */
        assert_int_equal(stat(img, &st), 0);
        assert_int_equal(st.st_size, 64 << 20);
        /* Every disk exists now: a second run refuses rather than touching the image. */
        r = run((char *const[]){ (char *)bin(), (char *)"disk", (char *)"create", (char *)"diskvm",
                                 (char *)"--size", (char *)"128M", NULL },
                NULL);
        assert_int_equal(r.status, 1);
        assert_non_null(strstr(r.err, "names no disk image that is still to be made"));
        result_done(&r);
        assert_int_equal(stat(img, &st), 0);
        assert_int_equal(st.st_size, 64 << 20);
        unsetenv("XDG_CONFIG_HOME");
        unlink(img);
        unlink(path);
        snprintf(path, sizeof(path), "%s/vfioctl/vms", dir);
        rmdir(path);
        snprintf(path, sizeof(path), "%s/vfioctl", dir);
        rmdir(path);
        rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_validate_good_and_bad),
                cmocka_unit_test(test_validate_needs_no_host),
                cmocka_unit_test(test_cmdline_resolves_selectors_on_the_root),
                cmocka_unit_test(test_cmdline_quoting_round_trips_through_a_shell),
                cmocka_unit_test(test_create_writes_a_valid_config_once),
                cmocka_unit_test(test_create_gpu_from_the_host_model),
                cmocka_unit_test(test_create_stores_the_identity_and_the_vm_user),
                cmocka_unit_test(test_create_desktop_user),
                cmocka_unit_test(test_names_live_in_xdg_config_home),
                cmocka_unit_test(test_create_never_replaces_a_disk_image),
                cmocka_unit_test(test_disk_create_for_a_vm_makes_the_image_its_config_names),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
