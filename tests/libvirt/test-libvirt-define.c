/*
 * export-libvirt --define and import-libvirt --connect against real libvirt daemons started here: a
 * session libvirtd reached as qemu:///session, and a second one reached only through a remote-style URI
 * (qemu+unix:///session?socket=PATH). The VM's devices are resolved on the daemon's host through its node
 * devices: vfioctl itself runs with VFIOCTL_ROOT at a sysfs fixture of another machine (tests/data/sysfs/
 * q35-viommu), so a device found on the daemon's side but not in the fixture proves whose devices count,
 * and one found only in the fixture must be refused before anything is defined.
 *
 * What the session daemon shows as node devices is this machine's real PCI devices (libvirt's udev
 * backend over /sys); nothing is faked. The test picks a device there whose vendor:device is unique.
 * As root, the daemons, virsh and vfioctl run as nobody (a session daemon is a user's); each daemon has
 * its own HOME and XDG_RUNTIME_DIR in a temporary directory and is stopped by PID.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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
#include "strv.h"
#include "vfioctl/libvirt-xml.h"

typedef struct lvd {
        char dir[256];
        pid_t pid;
        char uri[512]; /* how vfioctl reaches it */
} lvd;

static lvd one, two;
static bool as_nobody;
static char devsel[32];  /* vendor:device of a PCI device the daemons' host has once */
static char devaddr[32]; /* its address there, as import writes it ("00:03.0") */

static char **env_for(const lvd *d)
{
        char **env = NULL, buf[512];

        snprintf(buf, sizeof(buf), "HOME=%s/home", d->dir);
        assert_int_equal(strv_extend(&env, buf), 0);
        snprintf(buf, sizeof(buf), "XDG_RUNTIME_DIR=%s/run", d->dir);
        assert_int_equal(strv_extend(&env, buf), 0);
        snprintf(buf, sizeof(buf), "XDG_CONFIG_HOME=%s/home/.config", d->dir);
        assert_int_equal(strv_extend(&env, buf), 0);
        snprintf(buf, sizeof(buf), "VFIOCTL_ROOT=%s/sysfs/q35-viommu", getenv("VFIOCTL_TEST_DATA"));
        assert_int_equal(strv_extend(&env, buf), 0);
        assert_int_equal(strv_extend(&env, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"), 0);
        assert_int_equal(strv_extend(&env, "LC_ALL=C"), 0);
        return env;
}

static void become_user(void)
{
        /* libvirt's session daemon is for unprivileged users; as root, become nobody (65534). */
        if (as_nobody && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
                _exit(126);
}

/* Runs argv as the daemon's user in its environment; the exit status, stdout+stderr in *ret_out. */
static int run(const lvd *d, const char *const argv[], char **ret_out)
{
        _cleanup_strv_free_ char **env = env_for(d);
        int fds[2], status;
        char *out = NULL;
        pid_t pid;

        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(fds[1], 1);
                dup2(fds[1], 2);
                become_user();
                execve(argv[0], (char **)argv, env);
                _exit(127);
        }
        close(fds[1]);
        assert_true(read_full_fd(fds[0], 4 << 20, &out, NULL) >= 0);
        close(fds[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (ret_out)
                *ret_out = out;
        else
                free(out);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void mkdir_for_user(const char *path, mode_t mode)
{
        assert_true(mkdir(path, mode) == 0 || errno == EEXIST);
        if (as_nobody)
                assert_int_equal(chown(path, 65534, 65534), 0);
}

static int start(lvd *d, bool remote_uri)
{
        _cleanup_strv_free_ char **env = NULL;
        char path[512], sock[400];
        struct timespec t0, now;

        snprintf(d->dir, sizeof(d->dir), "/var/tmp/vfioctl-define-%d-XXXXXX", (int)getpid());
        if (!mkdtemp(d->dir))
                return -1;
        chmod(d->dir, 0755);
        snprintf(path, sizeof(path), "%s/home", d->dir);
        mkdir_for_user(path, 0755);
        snprintf(path, sizeof(path), "%s/run", d->dir);
        mkdir_for_user(path, 0700);
        snprintf(sock, sizeof(sock), "%s/run/libvirt/libvirt-sock", d->dir);
        if (remote_uri)
                snprintf(d->uri, sizeof(d->uri), "qemu+unix:///session?socket=%s", sock);
        else
                snprintf(d->uri, sizeof(d->uri), "qemu:///session");
        env = env_for(d);
        d->pid = fork();
        if (d->pid == 0) {
                char log[600];
                int fd;

                snprintf(log, sizeof(log), "%s/libvirtd.log", d->dir);
                fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd >= 0) {
                        dup2(fd, 1);
                        dup2(fd, 2);
                }
                become_user();
                /* --timeout: even if the test dies, the daemon exits once idle. */
                execve("/usr/sbin/libvirtd",
                       (char *[]){ (char *)"libvirtd", (char *)"--timeout", (char *)"600", NULL }, env);
                _exit(127);
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
                struct stat st;

                if (stat(sock, &st) == 0)
                        return 0;
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec - t0.tv_sec > 30 || waitpid(d->pid, NULL, WNOHANG) == d->pid) {
                        fprintf(stderr, "libvirtd did not come up; see %s/libvirtd.log\n", d->dir);
                        return -1;
                }
                usleep(100000);
        }
}

static void stop(lvd *d)
{
        if (d->pid > 0) {
                kill(d->pid, SIGTERM);
                waitpid(d->pid, NULL, 0);
                d->pid = -1;
        }
        if (d->dir[0] && !getenv("VFIOCTL_TEST_KEEP")) {
                const char *const rm[] = { "/bin/rm", "-rf", d->dir, NULL };
                pid_t pid = fork();

                if (pid == 0) {
                        execv(rm[0], (char **)rm);
                        _exit(127);
                }
                waitpid(pid, NULL, 0);
        }
}

static const char *virsh_c(const lvd *d)
{
        return d->uri;
}

/*
 * A PCI device of the daemons' host whose vendor:device no other device there has, and that the fixture
 * of "this host" does not have at all: found through the daemon's node devices, as vfioctl will.
 */
static bool pick_device(void)
{
        _cleanup_free_ char *list = NULL;
        _cleanup_strv_free_ char **names = NULL, **ids = NULL, **addrs = NULL;

        if (run(&one,
                (const char *const[]){ "/usr/bin/virsh", "-c", one.uri, "nodedev-list", "--cap", "pci",
                                       NULL },
                &list) != 0)
                return false;
        assert_int_equal(strv_split(list, "\n", &names), 0);
        STRV_FOREACH(n, names) {
                _cleanup_free_ char *x = NULL;
                const char *v, *p, *cls;
                unsigned dom, bus, slot, fn;
                char id[32], addr[32];

                if (run(&one,
                        (const char *const[]){ "/usr/bin/virsh", "-c", one.uri, "nodedev-dumpxml", *n,
                                               NULL },
                        &x) != 0)
                        continue;
                v = strstr(x, "<vendor id='0x");
                p = strstr(x, "<product id='0x");
                cls = strstr(x, "<class>0x");
                if (!v || !p || !cls || !strncmp(cls + 9, "0604", 4) || !strncmp(cls + 9, "0600", 4) ||
                    sscanf(*n, "pci_%x_%x_%x_%x", &dom, &bus, &slot, &fn) != 4)
                        continue;
                snprintf(id, sizeof(id), "%.4s:%.4s", v + 14, p + 15);
                snprintf(addr, sizeof(addr), "%02x:%02x.%x", bus, slot, fn);
                assert_int_equal(strv_extend(&ids, id), 0);
                assert_int_equal(strv_extend(&addrs, addr), 0);
        }
        for (size_t i = 0; ids && ids[i]; i++) {
                size_t same = 0;

                for (size_t k = 0; ids[k]; k++)
                        same += !strcmp(ids[i], ids[k]);
                /* The fixture has 8086:*, 1234:1111, 1b36:* and 1af4:1009/1005: none of virtio 1.0's. */
                if (same == 1 && strncmp(ids[i], "8086:", 5) && strncmp(ids[i], "1234:", 5) &&
                    strncmp(ids[i], "1b36:", 5) && strcmp(ids[i], "1af4:1009") &&
                    strcmp(ids[i], "1af4:1005")) {
                        snprintf(devsel, sizeof(devsel), "%s", ids[i]);
                        snprintf(devaddr, sizeof(devaddr), "%s", addrs[i]);
                        return true;
                }
        }
        return false;
}

static int setup(void **state)
{
        as_nobody = geteuid() == 0;
        if (start(&one, false) < 0 || start(&two, true) < 0)
                return -1;
        if (!pick_device()) {
                fprintf(stderr, "the daemon's host shows no PCI device with a unique vendor:device\n");
                return -1;
        }
        print_message("# device on the daemons' host: %s at %s\n", devsel, devaddr);
        return 0;
}

static int teardown(void **state)
{
        stop(&one);
        stop(&two);
        return 0;
}

static void write_text(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static char *read_text(const char *path)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        char *s = NULL;

        assert_true(fd >= 0);
        assert_int_equal(read_full_fd(fd, 1 << 20, &s, NULL), 0);
        return s;
}

static char *write_conf(const lvd *d, const char *name, const char *text)
{
        char *path;

        assert_true(asprintf(&path, "%s/%s.conf", d->dir, name) > 0);
        write_text(path, text);
        return path;
}

static bool defined(const lvd *d, const char *name)
{
        _cleanup_free_ char *out = NULL;
        _cleanup_strv_free_ char **names = NULL;

        assert_int_equal(run(d,
                             (const char *const[]){ "/usr/bin/virsh", "-c", virsh_c(d), "list", "--all",
                                                    "--name", NULL },
                             &out),
                         0);
        assert_int_equal(strv_split(out, "\n", &names), 0);
        return strv_contains(names, name);
}

/* The config text as vfioctl writes it, for comparing configs (comments and order normalised). */
static char *config_text_of(const char *text, const char *name)
{
        _cleanup_(vm_config_freep) vm_config *c = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        char *out = NULL;

        if (vm_config_parse_string(text, "t.conf", name, &c, &errors) < 0)
                fail_msg("%s", errors[0]);
        assert_int_equal(vm_libvirt_config_text(c, NULL, &out), 0);
        return out;
}

/*
 * The VM is defined with the daemon's device (found there, absent in this host's fixture), and what
 * libvirt then holds (virsh dumpxml) imports back to the same config, through the file and through
 * --connect.
 */
/* A config as complete as libvirt keeps it: UUID and vars copy named, so libvirt adds nothing there. */
static char *vm_text(const lvd *d, const char *name, const char *device)
{
        char *text;

        assert_true(
                asprintf(
                        &text,
                        "[vm]\naccel = tcg\nuuid = 5a0c7a9e-1b7e-4d1c-9d0a-%012d\n[firmware]\nvars = %s/home/%s_VARS.fd\n"
                        "[cpu]\nmodel = max\ncores = 4\nvcpus = 2\npin = 0 1\nfeatures = +topoext\n"
                        "hyperv_extra = hv-relaxed\n[memory]\nsize = 1G\n[pci \"nic\"]\ndevice = %s\n"
                        "bootindex = 1\n",
                        (int)(getpid() % 1000000) * 2 + (d == &two), d->dir, name, device) > 0);
        return text;
}

/*
 * The VM is defined with the daemon's device (found there, absent in this host's fixture), and what
 * libvirt then holds (virsh dumpxml) imports back to the same config, through the file and through
 * --connect.
 */
static void define_and_reimport(lvd *d, const char *name)
{
        _cleanup_free_ char *text = vm_text(d, name, devsel), *resolved = vm_text(d, name, devaddr),
                            *conf = NULL, *out = NULL, *xml = NULL, *xml_path = NULL, *want = NULL,
                            *got = NULL, *again = NULL, *again_path = NULL, *file = NULL;
        vm_libvirt_import *imp = NULL;
        char *err = NULL;

        conf = write_conf(d, name, text);
        assert_int_equal(run(d,
                             (const char *const[]){ getenv("VFIOCTL_BIN"), "export-libvirt", "--define",
                                                    "--connect", d->uri, conf, NULL },
                             &out),
                         0);
        print_message("%s", out);
        assert_non_null(strstr(out, "Defined domain"));
        assert_true(defined(d, name));
        assert_false(defined(d == &one ? &two : &one, name));
        /* A name taken on the daemon is not replaced without --force. */
        free(out);
        assert_int_equal(run(d,
                             (const char *const[]){ getenv("VFIOCTL_BIN"), "export-libvirt", "--define",
                                                    "--connect", d->uri, conf, NULL },
                             &out),
                         1);
        assert_non_null(strstr(out, "is already defined on"));
        free(out);
        assert_int_equal(run(d,
                             (const char *const[]){ getenv("VFIOCTL_BIN"), "export-libvirt", "--define",
                                                    "--force", "--connect", d->uri, conf, NULL },
                             &out),
                         0);
        /* What the daemon holds: its address for the device, not a guess from this host's sysfs. */
        assert_int_equal(run(d,
                             (const char *const[]){ "/usr/bin/virsh", "-c", virsh_c(d), "dumpxml",
                                                    "--inactive", name, NULL },
                             &xml),
                         0);
        assert_true(asprintf(&xml_path, "%s/%s.dump.xml", d->dir, name) > 0);
        write_text(xml_path, xml);
        if (vm_libvirt_import_file(xml_path, name, 0, &imp, &err) < 0)
                fail_msg("%s: %s\n%s", xml_path, err, xml);
        for (size_t i = 0; i < imp->n_dropped; i++)
                fail_msg("%s:%u: %s: %s", xml_path, imp->dropped[i].line, imp->dropped[i].what,
                         imp->dropped[i].reason);
        assert_int_equal(vm_libvirt_config_text(imp->config, NULL, &got), 0);
        vm_libvirt_import_free(imp);
        /* The original, with the selector resolved as on the daemon's host. */
        want = config_text_of(resolved, name);
        if (strcmp(want, got) != 0)
                fail_msg(
                        "virsh dumpxml does not import to the same config\n--- defined ---\n%s\n--- re-imported ---\n%s\n--- XML ---\n%s",
                        want, got, xml);
        /* import-libvirt --connect reads the same definition through the client library. */
        /* Written by the daemon's user, so into its HOME. */
        assert_true(asprintf(&again_path, "%s/home/%s.again.conf", d->dir, name) > 0);
        free(out);
        assert_int_equal(run(d,
                             (const char *const[]){ getenv("VFIOCTL_BIN"), "import-libvirt", "--connect",
                                                    d->uri, "-o", again_path, name, NULL },
                             &out),
                         0);
        print_message("%s", out);
        file = read_text(again_path);
        again = config_text_of(file, name);
        assert_string_equal(again, want);
}

static void test_define_session(void **state)
{
        define_and_reimport(&one, "vfioctl-define-one");
}

static void test_define_remote_uri(void **state)
{
        define_and_reimport(&two, "vfioctl-define-two");
}

/* A device that exists only here (in the fixture) and not on the daemon's host: nothing is defined. */
static void test_missing_device_refused(void **state)
{
        _cleanup_free_ char *conf = NULL, *out = NULL;

        conf = write_conf(
                &two, "vfioctl-missing",
                "[vm]\naccel = tcg\n[cpu]\nmodel = max\n[gpu]\ndevice = 03:00.0\n[usb \"mouse\"]\ndevice = 046d:c52b\n");
        assert_int_equal(run(&two,
                             (const char *const[]){ getenv("VFIOCTL_BIN"), "export-libvirt", "--define",
                                                    "--connect", two.uri, conf, NULL },
                             &out),
                         65);
        print_message("%s", out);
        assert_non_null(strstr(out, "[gpu] device: '03:00.0' is not on qemu+unix:///session?socket="));
        assert_non_null(strstr(out, "[usb \"mouse\"] device 046d:c52b is not plugged into"));
        assert_false(defined(&two, "vfioctl-missing"));
        /* Written to a file instead, the selector resolves on this host (the fixture has 03:00.0). */
        free(out);
        assert_int_equal(run(&two,
                             (const char *const[]){ getenv("VFIOCTL_BIN"), "export-libvirt", conf, NULL },
                             &out),
                         0);
        assert_non_null(strstr(out, "bus=\"0x03\" slot=\"0x00\" function=\"0x0\""));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_define_session),
                cmocka_unit_test(test_define_remote_uri),
                cmocka_unit_test(test_missing_device_refused),
        };

        if (!getenv("VFIOCTL_TEST_DATA") || !getenv("VFIOCTL_BIN")) {
                fprintf(stderr, "VFIOCTL_TEST_DATA and VFIOCTL_BIN must be set (meson test does)\n");
                return 1;
        }
        if (access("/usr/sbin/libvirtd", X_OK) < 0 || access("/usr/bin/virsh", X_OK) < 0) {
                fprintf(stderr,
                        "libvirt is not installed (apt-get install libvirt-clients libvirt-daemon libvirt-daemon-driver-qemu)\n");
                return 77;
        }
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests_name("libvirt-define", tests, setup, teardown);
}
