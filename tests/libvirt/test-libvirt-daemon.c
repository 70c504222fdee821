/*
 * vfioctl's exported domain XMLs against the real libvirt: libvirt's schema (virt-xml-validate), a real
 * libvirtd that defines them, and libvirt's own QEMU argv generator (virsh domxml-to-native) as the oracle
 * for vfioctl's argv (vm_qemu_argv), compared option by option after normalising ids, addresses and order.
 *
 * The daemon is private to the test: a session libvirtd (as nobody when run as root) with HOME and
 * XDG_RUNTIME_DIR in a temporary directory, started and stopped by PID. This host has no KVM, so every VM
 * is exported with accel = tcg and [cpu] model = max (domain type 'qemu', cpu mode 'maximum'); that is the
 * only change made to the configs. The differences that are by design are listed in by_design[] and in
 * docs/libvirt.md; any other difference fails the test.
 */
#include <dirent.h>
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
#include <json-c/json.h>

#include "cleanup.h"
#include "fileio.h"
#include "parse-util.h"
#include "strv.h"
#include "vfioctl/libvirt-xml.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/vmdefaults.h"

/* Facts print absent option values as glibc's "(null)", which then shows up as a difference. */
#pragma GCC diagnostic ignored "-Wformat-overflow"

static char dir[256];
static pid_t daemon_pid = -1;
static bool as_nobody;
static bool huge_mounted; /* a hugetlbfs for the daemon's qemu.conf hugetlbfs_mount (root only) */

static char **child_env(void)
{
        char **env = NULL;
        char buf[512];

        snprintf(buf, sizeof(buf), "HOME=%s/home", dir);
        strv_extend(&env, buf);
        snprintf(buf, sizeof(buf), "XDG_RUNTIME_DIR=%s/run", dir);
        strv_extend(&env, buf);
        snprintf(buf, sizeof(buf), "XDG_CONFIG_HOME=%s/home/.config", dir);
        strv_extend(&env, buf);
        snprintf(buf, sizeof(buf), "XDG_CACHE_HOME=%s/home/.cache", dir);
        strv_extend(&env, buf);
        strv_extend(&env, "PATH=/usr/sbin:/usr/bin:/sbin:/bin");
        strv_extend(&env, "LC_ALL=C");
        return env;
}

static void drop_privileges(void)
{
        /* libvirt's session daemon is for unprivileged users; as root, become nobody (65534). */
        if (as_nobody && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
                _exit(126);
}

/* Runs argv as the daemon's user; returns the exit status and stdout+stderr (fork+exec, no shell). */
static int run(const char *const argv[], char **ret_out)
{
        char **env = child_env();
        int fds[2], status;
        pid_t pid;
        char *out = NULL;

        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(fds[1], 1);
                dup2(fds[1], 2);
                drop_privileges();
                execve(argv[0], (char **)argv, env);
                _exit(127);
        }
        close(fds[1]);
        assert_true(read_full_fd(fds[0], 4 << 20, &out, NULL) >= 0);
        close(fds[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        strv_free(env);
        if (ret_out)
                *ret_out = out;
        else
                free(out);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void mkdir_for_daemon(const char *path, mode_t mode)
{
        assert_true(mkdir(path, mode) == 0 || errno == EEXIST);
        if (as_nobody)
                assert_int_equal(chown(path, 65534, 65534), 0);
}

static int run_root(const char *const argv[])
{
        int status;
        pid_t pid = fork();

        if (pid < 0)
                return -1;
        if (pid == 0) {
                int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

                dup2(devnull, 1);
                dup2(devnull, 2);
                execv(argv[0], (char **)argv);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) != pid)
                return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/*
 * Hugepage-backed VMs need libvirt's qemu.conf hugetlbfs_mount: as root, the test mounts a 2M hugetlbfs
 * of its own and points the session daemon at it (unmounted at the end).
 */
static void setup_hugetlbfs(void)
{
        char huge[512], conf[512], line[600];
        int fd;

        if (!as_nobody)
                return;
        snprintf(huge, sizeof(huge), "%s/huge", dir);
        if (mkdir(huge, 0755) < 0 ||
            run_root((const char *const[]){ "/bin/mount", "-t", "hugetlbfs", "-o", "pagesize=2M,mode=0777",
                                            "none", huge, NULL }) != 0)
                return;
        huge_mounted = true;
        snprintf(conf, sizeof(conf), "%s/home/.config", dir);
        mkdir_for_daemon(conf, 0755);
        snprintf(conf, sizeof(conf), "%s/home/.config/libvirt", dir);
        mkdir_for_daemon(conf, 0755);
        snprintf(conf, sizeof(conf), "%s/home/.config/libvirt/qemu.conf", dir);
        snprintf(line, sizeof(line), "hugetlbfs_mount = \"%s\"\n", huge);
        fd = open(conf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
                if (write(fd, line, strlen(line)) < 0)
                        huge_mounted = false;
                close(fd);
        }
}

static int start_daemon(void **state)
{
        char path[512], sock[512];
        char **env;
        struct timespec t0, now;

        as_nobody = geteuid() == 0;
        snprintf(dir, sizeof(dir), "/var/tmp/vfioctl-libvirt-XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        chmod(dir, 0755);
        snprintf(path, sizeof(path), "%s/home", dir);
        mkdir_for_daemon(path, 0755);
        snprintf(path, sizeof(path), "%s/run", dir);
        mkdir_for_daemon(path, 0700);
        snprintf(path, sizeof(path), "%s/xml", dir);
        mkdir_for_daemon(path, 0755);
        setup_hugetlbfs();
        env = child_env();
        daemon_pid = fork();
        if (daemon_pid == 0) {
                char log[600];
                int fd;

                snprintf(log, sizeof(log), "%s/libvirtd.log", dir);
                fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd >= 0) {
                        dup2(fd, 1);
                        dup2(fd, 2);
                }
                drop_privileges();
                /* --timeout: even if the test dies, the daemon exits once idle. */
                execve("/usr/sbin/libvirtd",
                       (char *[]){ (char *)"libvirtd", (char *)"--timeout", (char *)"600", NULL }, env);
                _exit(127);
        }
        strv_free(env);
        snprintf(sock, sizeof(sock), "%s/run/libvirt/libvirt-sock", dir);
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
                struct stat st;

                if (stat(sock, &st) == 0)
                        break;
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec - t0.tv_sec > 30 || waitpid(daemon_pid, NULL, WNOHANG) == daemon_pid) {
                        fprintf(stderr, "libvirtd did not come up; see %s/libvirtd.log\n", dir);
                        return -1;
                }
                usleep(100000);
        }
        return 0;
}

static int stop_daemon(void **state)
{
        if (daemon_pid > 0) {
                kill(daemon_pid, SIGTERM);
                waitpid(daemon_pid, NULL, 0);
        }
        if (huge_mounted) {
                char huge[512];

                snprintf(huge, sizeof(huge), "%s/huge", dir);
                (void)run_root((const char *const[]){ "/bin/umount", huge, NULL });
        }
        if (!getenv("VFIOCTL_TEST_KEEP")) {
                const char *const rm[] = { "/bin/rm", "-rf", dir, NULL };
                pid_t pid = fork();

                if (pid == 0) {
                        execv(rm[0], (char **)rm);
                        _exit(127);
                }
                waitpid(pid, NULL, 0);
        }
        return 0;
}

/* ---- argv normalisation ---------------------------------------------------------------------------- */

/* virsh prints "ENV=... /usr/bin/qemu-system-x86_64 -opt 'json' ..." with POSIX single quotes. */
static char **split_shell(const char *s)
{
        char **out = NULL, *cur = malloc(strlen(s) + 1);
        size_t n = 0;
        bool any = false;

        assert_non_null(cur);
        for (const char *p = s;; p++) {
                if (*p == '\'') {
                        any = true;
                        for (p++; *p && *p != '\''; p++)
                                cur[n++] = *p;
                } else if (*p == '\\' && p[1]) {
                        cur[n++] = *++p;
                        any = true;
                } else if (!*p || *p == ' ' || *p == '\n') {
                        if (n || any) {
                                cur[n] = 0;
                                assert_int_equal(strv_extend(&out, cur), 0);
                        }
                        n = 0;
                        any = false;
                        if (!*p)
                                break;
                } else {
                        cur[n++] = *p;
                        any = true;
                }
        }
        free(cur);
        return out;
}

typedef struct kv {
        char **keys, **values; /* values[i] for keys[i]; the implied first key is "" */
} kv;

static void kv_done(kv *o)
{
        strv_free(o->keys);
        strv_free(o->values);
}

static const char *kv_get(const kv *o, const char *key)
{
        for (size_t i = 0; o->keys && o->keys[i]; i++)
                if (strcmp(o->keys[i], key) == 0)
                        return o->values[i];
        return NULL;
}

static void kv_add(kv *o, const char *k, const char *v)
{
        assert_int_equal(strv_extend(&o->keys, k), 0);
        assert_int_equal(strv_extend(&o->values, v), 0);
}

/* "drv,a=b,c" (',,' escapes ',') or libvirt's JSON form: both into key/value pairs. */
static kv parse_value(const char *v, const char *implied_json_key)
{
        kv o = {};

        if (v[0] == '{') {
                json_object *j = json_tokener_parse(v);

                assert_non_null(j);
                json_object_object_foreach(j, key, val)
                {
                        char buf[64];
                        const char *s;

                        if (json_object_is_type(val, json_type_boolean))
                                s = json_object_get_boolean(val) ? "on" : "off";
                        else if (json_object_is_type(val, json_type_int)) {
                                snprintf(buf, sizeof(buf), "%" PRId64, json_object_get_int64(val));
                                s = buf;
                        } else if (json_object_is_type(val, json_type_string))
                                s = json_object_get_string(val);
                        else
                                s = json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN);
                        kv_add(&o, implied_json_key && !strcmp(key, implied_json_key) ? "" : key, s);
                }
                json_object_put(j);
                return o;
        }
        {
                char *cur = malloc(strlen(v) + 1);
                size_t n = 0;
                bool first = true;

                assert_non_null(cur);
                for (const char *p = v;; p++) {
                        if (*p == ',' && p[1] == ',') {
                                cur[n++] = ',';
                                p++;
                        } else if (*p == ',' || !*p) {
                                char *eq;

                                cur[n] = 0;
                                eq = strchr(cur, '=');
                                if (eq) {
                                        *eq = 0;
                                        kv_add(&o, cur, eq + 1);
                                } else
                                        kv_add(&o, first ? "" : cur, first ? cur : "on");
                                first = false;
                                n = 0;
                                if (!*p)
                                        break;
                        } else
                                cur[n++] = *p;
                }
                free(cur);
        }
        return o;
}

static void fact(char ***facts, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fact(char ***facts, const char *fmt, ...)
{
        char *s;
        va_list ap;

        va_start(ap, fmt);
        assert_true(vasprintf(&s, fmt, ap) >= 0);
        va_end(ap);
        assert_int_equal(strv_push(facts, s), 0);
}

static uint64_t size_of(const char *s, bool plain_is_mib)
{
        uint64_t v;

        if (plain_is_mib && parse_uint(s, 10, UINT64_MAX >> 20, &v) == 0)
                return v << 20;
        assert_int_equal(parse_size(s, &v), 0);
        return v;
}

static bool is_flag_option(const char *o)
{
        static const char *const flags[] = { "-S",       "-nodefaults",  "-no-user-config",
                                             "-no-hpet", "-no-shutdown", "-enable-kvm",
                                             NULL };

        for (size_t i = 0; flags[i]; i++)
                if (!strcmp(o, flags[i]))
                        return true;
        return false;
}

static const char *on(const char *v)
{
        return !v || !strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "yes") ? "on" : "off";
}

/*
 * Where a device sits in the guest: bus "pci.0"/"pcie.0" is 0, libvirt's "pci.N" and vfioctl's "rpN" are
 * both the root port of controller index N; addr "0x10", "0x10.1" or libvirt's "0x10.0x1".
 */
static const char *guest_slot(const char *bus, const char *addr, bool multi)
{
        static char buf[64];
        unsigned long b = 0, sl = 0, fn = 0;
        const char *dot;

        if (bus && !strncmp(bus, "rp", 2))
                b = strtoul(bus + 2, NULL, 10);
        else if (bus && strchr(bus, '.'))
                b = strtoul(strchr(bus, '.') + 1, NULL, 10);
        if (addr) {
                sl = strtoul(addr, NULL, 16);
                dot = strchr(addr, '.');
                if (dot)
                        fn = strtoul(dot + 1, NULL, 16);
        }
        snprintf(buf, sizeof(buf), "bus %lu slot 0x%lx function %lu%s", b, sl, fn,
                 multi ? " multifunction" : "");
        return buf;
}

/* The facts an argv states about the VM, for the features both vfioctl and libvirt generate. */
static char **facts_of(char **argv)
{
        char **facts = NULL, **drives = NULL; /* drives: "ID\tPATH\tFORMAT\tAIO\tDIRECT\tRO" */
        const char *vmport = "on", *hpet = "on", *memlock = "off", *rtc = "utc";
        size_t n = strv_length(argv);

        for (size_t i = 0; i < n; i++) {
                const char *opt = argv[i], *val = NULL;
                kv o;

                if (opt[0] != '-')
                        continue;
                if (!strcmp(opt, "-no-hpet"))
                        hpet = "off";
                if (is_flag_option(opt) || i + 1 >= n)
                        continue;
                val = argv[++i];
                o = parse_value(val, !strcmp(opt, "-device")   ? "driver"
                                     : !strcmp(opt, "-object") ? "qom-type"
                                                               : NULL);
                if (!strcmp(opt, "-machine")) {
                        const char *t = kv_get(&o, "") ?: kv_get(&o, "type");

                        if (t)
                                fact(&facts, "machine=%s",
                                     !strncmp(t, "pc-q35", 6) || !strcmp(t, "q35") ? "q35" : "pc");
                        if (kv_get(&o, "vmport"))
                                vmport = on(kv_get(&o, "vmport"));
                        if (kv_get(&o, "hpet"))
                                hpet = on(kv_get(&o, "hpet"));
                        if (kv_get(&o, "max-ram-below-4g"))
                                fact(&facts, "max-ram-below-4g=%" PRIu64,
                                     size_of(kv_get(&o, "max-ram-below-4g"), false));
                        if (kv_get(&o, "smm") && !strcmp(on(kv_get(&o, "smm")), "on"))
                                fact(&facts, "smm=on");
                } else if (!strcmp(opt, "-accel"))
                        fact(&facts, "accel=%s", kv_get(&o, ""));
                else if (!strcmp(opt, "-cpu")) {
                        fact(&facts, "cpu=%s", kv_get(&o, ""));
                        for (size_t k = 1; o.keys && o.keys[k]; k++) {
                                _cleanup_free_ char *key = strdup(o.keys[k]);

                                for (char *p = key; *p; p++)
                                        if (*p == '_')
                                                *p = '-';
                                if (!strcmp(o.values[k], "on"))
                                        fact(&facts, "cpu.%s", key);
                                else
                                        fact(&facts, "cpu.%s=%s", key, o.values[k]);
                        }
                } else if (!strcmp(opt, "-smp"))
                        /* maxcpus: the places of the topology; without it, as many as started. */
                        fact(&facts, "smp=%s maxcpus=%s sockets=%s cores=%s threads=%s", kv_get(&o, ""),
                             kv_get(&o, "maxcpus") ?: kv_get(&o, ""), kv_get(&o, "sockets"),
                             kv_get(&o, "cores"), kv_get(&o, "threads"));
                else if (!strcmp(opt, "-fw_cfg"))
                        fact(&facts, "fw_cfg name=%s string=%s", kv_get(&o, "name"), kv_get(&o, "string"));
                else if (!strcmp(opt, "-m"))
                        fact(&facts, "ram=%" PRIu64, size_of(kv_get(&o, "") ?: kv_get(&o, "size"), true));
                else if (!strcmp(opt, "-overcommit") && kv_get(&o, "mem-lock"))
                        memlock = on(kv_get(&o, "mem-lock"));
                else if (!strcmp(opt, "-uuid"))
                        fact(&facts, "uuid=%s", val);
                else if (!strcmp(opt, "-smbios") || !strcmp(opt, "-global") || !strcmp(opt, "-display"))
                        fact(&facts, "%s %s", opt + 1, val);
                else if (!strcmp(opt, "-rtc") && kv_get(&o, "base"))
                        rtc = strcmp(kv_get(&o, "base"), "localtime") == 0 ? "localtime" : "utc";
                else if (!strcmp(opt, "-spice") || !strcmp(opt, "-vnc"))
                        fact(&facts, "graphics=%s", opt + 1);
                else if (!strcmp(opt, "-tpmdev"))
                        fact(&facts, "tpmdev=%s", kv_get(&o, "") ?: kv_get(&o, "type"));
                else if (!strcmp(opt, "-audiodev")) {
                        fact(&facts, "audiodev=%s", kv_get(&o, "") ?: kv_get(&o, "driver"));
                        if (kv_get(&o, "server"))
                                fact(&facts, "audiodev.server=%s", kv_get(&o, "server"));
                } else if (!strcmp(opt, "-drive")) {
                        const char *f = kv_get(&o, "file"), *cache = kv_get(&o, "cache");

                        if (kv_get(&o, "if") && !strcmp(kv_get(&o, "if"), "pflash")) {
                                if (!strcmp(kv_get(&o, "unit") ?: "0", "0"))
                                        fact(&facts, "pflash0=%s", f);
                                else
                                        fact(&facts, "pflash1");
                        } else {
                                char *d;

                                assert_true(asprintf(&d, "%s\t%s\t%s\t%s\t%s\t%s", kv_get(&o, "id"), f,
                                                     kv_get(&o, "format") ?: "raw",
                                                     kv_get(&o, "aio") ?: "threads",
                                                     cache && (!strcmp(cache, "none") ||
                                                               !strcmp(cache, "directsync"))
                                                             ? "on"
                                                             : "off",
                                                     kv_get(&o, "readonly") ? on(kv_get(&o, "readonly"))
                                                                            : "off") > 0);
                                assert_int_equal(strv_push(&drives, d), 0);
                        }
                } else if (!strcmp(opt, "-blockdev")) {
                        const char *node = kv_get(&o, "node-name") ?: "", *fname = kv_get(&o, "filename");

                        if (!strcmp(node, "libvirt-pflash0-storage"))
                                fact(&facts, "pflash0=%s", fname);
                        else if (!strcmp(node, "libvirt-pflash1-storage"))
                                fact(&facts, "pflash1");
                        else if (fname) {
                                /* A storage node: its format node (same prefix, -format) names it for
                                 * -device. */
                                _cleanup_free_ char *base = strndup(node, strlen(node) - strlen("-storage"));
                                const char *cache = kv_get(&o, "cache");
                                char *d;

                                assert_true(asprintf(&d, "%s-format\t%s\t?\t%s\t%s\t?", base, fname,
                                                     kv_get(&o, "aio") ?: "threads",
                                                     cache && strstr(cache, "\"direct\":true") ? "on"
                                                                                               : "off") > 0);
                                assert_int_equal(strv_push(&drives, d), 0);
                        } else {
                                /* The format node: fill in format and read-only. */
                                for (char **dr = drives; dr && *dr; dr++) {
                                        _cleanup_strv_free_ char **f = NULL;
                                        char *d;

                                        assert_int_equal(strv_split(*dr, "\t", &f), 0);
                                        if (strcmp(f[0], node) != 0)
                                                continue;
                                        assert_true(asprintf(&d, "%s\t%s\t%s\t%s\t%s\t%s", f[0], f[1],
                                                             kv_get(&o, "driver"), f[3], f[4],
                                                             on(kv_get(&o, "read-only"))) > 0);
                                        free(*dr);
                                        *dr = d;
                                }
                        }
                } else if (!strcmp(opt, "-object")) {
                        const char *type = kv_get(&o, ""), *id = kv_get(&o, "id") ?: "";

                        if (!strcmp(type, "input-linux")) {
                                fact(&facts, "input-linux evdev=%s grab_all=%s repeat=%s grab-toggle=%s",
                                     kv_get(&o, "evdev"), on(kv_get(&o, "grab_all") ?: "off"),
                                     on(kv_get(&o, "repeat") ?: "off"), kv_get(&o, "grab-toggle") ?: "-");
                        } else if (!strncmp(type, "memory-backend-", 15) && kv_get(&o, "mem-path") &&
                                   (!strcmp(id, "looking-glass") || !strncmp(id, "shmmem-", 7)))
                                fact(&facts, "shmem path=%s size=%" PRIu64 " share=%s",
                                     kv_get(&o, "mem-path"), size_of(kv_get(&o, "size"), false),
                                     on(kv_get(&o, "share")));
                        else if (!strcmp(type, "memory-backend-file"))
                                fact(&facts, "ram.backend=file prealloc=%s threads=%s",
                                     on(kv_get(&o, "prealloc") ?: "off"),
                                     kv_get(&o, "prealloc-threads") ?: "-");
                        /* memory-backend-ram (libvirt's pc.ram), secret, iothread: no VM-visible fact. */
                } else if (!strcmp(opt, "-device")) {
                        const char *drv = kv_get(&o, "");
                        static const char *const skip[] = { "pcie-root-port",  "piix3-usb-uhci",
                                                            "qemu-xhci",       "ich9-ahci",
                                                            "virtio-scsi-pci", "pci-bridge",
                                                            "pcie-pci-bridge", NULL };
                        bool skipped = false;

                        for (size_t k = 0; skip[k]; k++)
                                skipped = skipped || !strcmp(drv, skip[k]);
                        if (skipped)
                                ; /* controllers: placement, by design (see the header) */
                        else if (!strcmp(drv, "vfio-pci")) {
                                fact(&facts, "vfio-pci host=%s", kv_get(&o, "host"));
                                fact(&facts, "vfio-pci host=%s at %s", kv_get(&o, "host"),
                                     guest_slot(kv_get(&o, "bus"), kv_get(&o, "addr"),
                                                !strcmp(on(kv_get(&o, "multifunction") ?: "off"), "on")));
                                if (kv_get(&o, "romfile"))
                                        fact(&facts, "vfio-pci host=%s romfile=%s", kv_get(&o, "host"),
                                             kv_get(&o, "romfile"));
                                if (kv_get(&o, "rombar") && !strcmp(kv_get(&o, "rombar"), "0"))
                                        fact(&facts, "vfio-pci host=%s rombar=0", kv_get(&o, "host"));
                                if (kv_get(&o, "bootindex"))
                                        fact(&facts, "vfio-pci host=%s bootindex=%s", kv_get(&o, "host"),
                                             kv_get(&o, "bootindex"));
                        } else if (kv_get(&o, "drive")) {
                                const char *drive = kv_get(&o, "drive");
                                bool found = false;

                                STRV_FOREACH(dr, drives) {
                                        _cleanup_strv_free_ char **f = NULL;

                                        assert_int_equal(strv_split(*dr, "\t", &f), 0);
                                        if (strcmp(f[0], drive) != 0)
                                                continue;
                                        found = true;
                                        fact(&facts,
                                             "disk %s device=%s format=%s aio=%s direct=%s readonly=%s",
                                             f[1], drv, f[2], f[3], f[4],
                                             !strcmp(drv, "ide-cd") || !strcmp(drv, "scsi-cd") ? "on"
                                                                                               : f[5]);
                                        if (kv_get(&o, "serial"))
                                                fact(&facts, "disk %s serial=%s", f[1],
                                                     kv_get(&o, "serial"));
                                        if (kv_get(&o, "bootindex"))
                                                fact(&facts, "disk %s bootindex=%s", f[1],
                                                     kv_get(&o, "bootindex"));
                                        if (kv_get(&o, "iothread"))
                                                fact(&facts, "disk %s iothread", f[1]);
                                }
                                if (!found)
                                        fact(&facts, "device=%s drive=?", drv);
                        } else if (!strcmp(drv, "VGA") || !strcmp(drv, "qxl-vga") ||
                                   !strncmp(drv, "virtio-vga", 10))
                                fact(&facts, "video=%s", drv);
                        else if (!strcmp(drv, "hda-duplex") || !strcmp(drv, "hda-output") ||
                                 !strcmp(drv, "hda-micro"))
                                fact(&facts, "codec=%s", drv);
                        else
                                fact(&facts, "device=%s", drv);
                }
                kv_done(&o);
        }
        fact(&facts, "vmport=%s", vmport);
        fact(&facts, "hpet=%s", hpet);
        fact(&facts, "mem-lock=%s", memlock);
        fact(&facts, "rtc base=%s", rtc); /* QEMU's default is UTC */
        strv_free(drives);
        strv_sort(facts);
        return facts;
}

/* Differences that are by design, documented in docs/libvirt.md ("argv comparison"). */
static const struct {
        char side; /* 'v': only in vfioctl's argv, 'l': only in libvirt's */
        const char *prefix;
} by_design[] = {
        /* libvirt always gives QEMU an audio backend ("none" without <sound>); vfioctl only with [audio]. */
        { 'l', "audiodev=none" },
        /* With a SPICE display and no <audio>, libvirt routes sound to SPICE. */
        { 'l', "audiodev=spice" },
        /* vfioctl names the PulseAudio socket (/run/user/UID/pulse/native); libvirt lets QEMU find it. */
        { 'v', "audiodev.server=/run/user/" },
        /* libvirt makes up a UUID when the XML has none; vfioctl leaves it to QEMU. */
        { 'l', "uuid=" },
        /* libvirt keeps the vars copy in its own nvram directory; both have one. (Paths are not facts.) */
        /* libvirt maps <hyperv> vendor_id and the rest, but also adds hv-time from hypervclock: equal. */
        /* libvirt's hda codec with audiodev is the same device; an ICH9 HDA under libvirt has "cad". */
        /* vfioctl's -display none comes with every VM without a viewer; libvirt's too: equal. */
        { 0, NULL },
};

static bool strv_find_substr(char **l, const char *needle)
{
        STRV_FOREACH(s, l)
                if (strstr(*s, needle))
                        return true;
        return false;
}

static void compare(const char *name, char **mine, char **theirs, char ***report)
{
        size_t i = 0, j = 0, nm = strv_length(mine), nt = strv_length(theirs);
        bool ok = true;

        while (i < nm || j < nt) {
                int c = i >= nm ? 1 : j >= nt ? -1 : strcmp(mine[i], theirs[j]);
                const char *f = c < 0 ? mine[i] : theirs[j];
                char side = c < 0 ? 'v' : 'l';
                bool expected = false;

                if (c == 0) {
                        if (getenv("VFIOCTL_TEST_VERBOSE"))
                                print_message("%s: same in both: %s\n", name, mine[i]);
                        i++, j++;
                        continue;
                }
                /* No boot order in the XML: libvirt's default <boot dev='hd'/> is bootindex=1 on the first
                 * disk. */
                if (side == 'l' && !strncmp(f, "disk ", 5) && strstr(f, " bootindex=1") &&
                    !strv_find_substr(mine, "bootindex="))
                        expected = true;
                for (size_t k = 0; by_design[k].prefix; k++)
                        if (by_design[k].side == side &&
                            !strncmp(f, by_design[k].prefix, strlen(by_design[k].prefix)))
                                expected = true;
                /* Without a UUID in the config there is nothing to compare libvirt's made-up one with. */
                fact(report, "%s: %s only in %s: %s", name, expected ? "by design" : "DIFFERENCE",
                     side == 'v' ? "vfioctl's argv" : "libvirt's argv", f);
                print_message("%s\n", (*report)[strv_length(*report) - 1]);
                if (!expected)
                        ok = false;
                if (c < 0)
                        i++;
                else
                        j++;
        }
        if (!ok)
                fail_msg("%s: vfioctl's and libvirt's argv differ (see above)", name);
}

typedef struct vm_case {
        const char *name;
        const char *source; /* a config (tests/data/vm/) or an XML (tests/data/libvirt/) */
        bool native;        /* compare with domxml-to-native (see why not in docs/libvirt.md) */
        bool no_define;     /* virtiofs: a session libvirtd refuses it (system libvirtd only) */
        bool huge;          /* 2M hugepages: compared when the test could mount a hugetlbfs (root) */
} vm_case;

static vm_config *load_case(const vm_case *t)
{
        const char *data = getenv("VFIOCTL_TEST_DATA");
        _cleanup_strv_free_ char **errors = NULL, **w = NULL, **e = NULL;
        _cleanup_free_ char *path = NULL, *err = NULL;
        vm_config *c = NULL;

        assert_true(asprintf(&path, "%s/%s", data, t->source) > 0);
        if (strstr(path, ".xml")) {
                vm_libvirt_import *imp = NULL;

                /* QEMU arguments without a vfioctl key travel verbatim on both sides. */
                if (vm_libvirt_import_file(path, NULL, VM_LIBVIRT_KEEP_UNKNOWN_ARGS, &imp, &err) < 0)
                        fail_msg("%s: %s", path, err);
                c = imp->config;
                imp->config = NULL;
                vm_libvirt_import_free(imp);
        } else if (vm_config_load(path, &c, &errors) < 0)
                fail_msg("%s: %s", path, errors ? errors[0] : "");
        free(c->name);
        c->name = strdup(t->name);
        /* Seed 000 named RHEL's binary: libvirt checks the emulator exists when defining. */
        if (strcmp(c->vm.emulator, "qemu-system-x86_64") != 0) {
                free(c->vm.emulator);
                c->vm.emulator = strdup("qemu-system-x86_64");
        }
        /* No KVM on this host: TCG with the max model, in both argvs alike. */
        c->vm.accel = VM_ACCEL_TCG;
        if (!strcmp(c->cpu.model, "host")) {
                free(c->cpu.model);
                c->cpu.model = strdup("max");
        }
        assert_int_equal(vm_config_resolve(c, NULL, NULL, &w, &e), 0);
        return c;
}

static char *write_xml(const char *name, const char *suffix, const char *xml)
{
        char *path;
        int fd;

        assert_true(asprintf(&path, "%s/xml/%s%s.xml", dir, name, suffix) > 0);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, xml, strlen(xml)), (ssize_t)strlen(xml));
        close(fd);
        return path;
}

/* Removes every element that opens with `open` (up to its closing tag `close`) from xml. */
static void remove_elements(char *xml, const char *open, const char *close)
{
        char *a;

        while ((a = strstr(xml, open))) {
                char *b = strstr(a, close), *ws = a;

                assert_non_null(b);
                b += strlen(close);
                while (ws > xml && (ws[-1] == ' ' || ws[-1] == '\n'))
                        ws--;
                memmove(ws, b, strlen(b) + 1);
        }
}

/*
 * domxml-to-native creates a tap for every <interface> (which a session daemon may not) and looks every
 * USB host device up on this host: both are removed, from the XML and from vfioctl's config alike.
 */
static char *without_host_devices(const char *xml)
{
        char *out = strdup(xml);

        assert_non_null(out);
        remove_elements(out, "<interface ", "</interface>");
        remove_elements(out, "<hostdev mode=\"subsystem\" type=\"usb\"", "</hostdev>");
        return out;
}

static void test_vm(void **state)
{
        const vm_case *t = *state;
        _cleanup_(vm_config_freep) vm_config *c = load_case(t);
        _cleanup_free_ char *xml = NULL, *path = NULL, *out = NULL, *nonet = NULL, *npath = NULL;
        _cleanup_strv_free_ char **lost = NULL, **mine = NULL, **theirs = NULL, **a1 = NULL, **a2 = NULL,
                                 **notes = NULL, **report = NULL;
        vm_argv_paths p = { .runtime_dir = "/run/user/1000/vfioctl/t",
                            .state_dir = "/state/t",
                            .uid = 1000 };
        const char *uri = "qemu:///session";

        assert_int_equal(vm_libvirt_export(c, &xml, &lost), 0);
        path = write_xml(t->name, "", xml);
        /* libvirt's own schema (domain.rng of libvirt 9.0). */
        if (run((const char *const[]){ "/usr/bin/virt-xml-validate", path, "domain", NULL }, &out) != 0)
                fail_msg("%s: virt-xml-validate refused it:\n%s\n%s", t->name, out, xml);
        free(out);
        out = NULL;
        if (t->no_define)
                return;
        /* A real libvirtd defines it (and gives it back when asked). */
        if (run((const char *const[]){ "/usr/bin/virsh", "-c", uri, "define", path, NULL }, &out) != 0)
                fail_msg("%s: virsh define refused it:\n%s\n%s", t->name, out, xml);
        free(out);
        out = NULL;
        assert_int_equal(
                run((const char *const[]){ "/usr/bin/virsh", "-c", uri, "dominfo", t->name, NULL }, NULL),
                0);
        assert_int_equal(run((const char *const[]){ "/usr/bin/virsh", "-c", uri, "undefine", "--nvram",
                                                    t->name, NULL },
                             NULL),
                         0);
        if (!t->native && !(t->huge && huge_mounted)) {
                if (t->huge)
                        print_message("%s: argv not compared: no hugetlbfs for libvirt (needs root)\n",
                                      t->name);
                return;
        }
        /* libvirt's argv for the same XML, less NICs; vfioctl's for the same config, less NICs. */
        nonet = without_host_devices(xml);
        npath = write_xml(t->name, "-nonet", nonet);
        if (run((const char *const[]){ "/usr/bin/virsh", "-c", uri, "domxml-to-native", "qemu-argv", npath,
                                       NULL },
                &out) != 0)
                fail_msg("%s: domxml-to-native failed:\n%s", t->name, out);
        a2 = split_shell(out);
        for (size_t i = 0; i < c->n_nets; i++) {
                free(c->nets[i].name);
                free(c->nets[i].mac);
                free(c->nets[i].bridge);
                free(c->nets[i].helper);
                free(c->nets[i].ifname);
                strv_free(c->nets[i].hostfwd);
                free(c->nets[i].link);
                free(c->nets[i].macvtap_mode);
        }
        c->n_nets = 0;
        for (size_t i = 0; i < c->n_usbs; i++) {
                free(c->usbs[i].name);
                free(c->usbs[i].host_port);
        }
        c->n_usbs = 0;
        assert_int_equal(vm_qemu_argv(c, &p, &a1, &notes), 0);
        mine = facts_of(a1);
        theirs = facts_of(a2);
        compare(t->name, mine, theirs, &report);
}

/* Every exported golden (tests/data/libvirt/golden/, from the seeds and the 24 users' XMLs) is valid. */
static void test_golden_exports(void **state)
{
        _cleanup_free_ char *gdir = NULL;
        struct dirent **ents = NULL;
        int n, checked = 0;

        assert_true(asprintf(&gdir, "%s/libvirt/golden", getenv("VFIOCTL_TEST_DATA")) > 0);
        n = scandir(gdir, &ents, NULL, alphasort);
        assert_true(n > 0);
        for (int i = 0; i < n; i++) {
                const char *name = ents[i]->d_name;
                size_t l = strlen(name);

                if (l > 11 && strcmp(name + l - 11, ".export.xml") == 0) {
                        _cleanup_free_ char *path = NULL, *out = NULL;

                        assert_true(asprintf(&path, "%s/%s", gdir, name) > 0);
                        if (run((const char *const[]){ "/usr/bin/virt-xml-validate", path, "domain", NULL },
                                &out) != 0)
                                fail_msg("%s: virt-xml-validate refused it:\n%s", path, out);
                        checked++;
                }
                free(ents[i]);
        }
        free(ents);
        /* 23 users' XMLs (one refused for its pins, one for an mdev, one broken as published) and the two
         * seeds. */
        assert_int_equal(checked, 24);
}

int main(void)
{
        static const vm_case cases[] = {
                { "seed000-edi", "libvirt/seed000-edi.xml", true, false, false },
                { "seed001-overwatch", "libvirt/seed001-repaired.xml", true, false, false },
                { "user-bryansteiner", "libvirt/users/bryansteiner-win10.xml", false, false, true },
                { "user-kinsteen", "libvirt/users/kinsteen-win10.xml", false, false, true },
                { "user-lobo6780", "libvirt/users/lobo6780-win11.xml", true, false, false },
                { "user-dillonjason", "libvirt/users/dillonjason-win10.xml", true, false, false },
                { "minimal", "vm/minimal.conf", true, false, false },
                { "cpu-hyperv", "vm/cpu-hyperv.conf", true, false, false },
                { "disks", "vm/disks.conf", true, false, false },
                { "disks-ide", "vm/disks-ide.conf", true, false, false },
                { "input", "vm/input.conf", true, false, false },
                { "looking-glass", "vm/looking-glass.conf", true, false, false },
                { "machine-i440fx", "vm/machine-i440fx.conf", true, false, false },
                { "memory-prealloc", "vm/memory-prealloc.conf", true, false, false },
                { "memory-hugepages", "vm/memory-hugepages.conf", false, false, true },
                /* 1G pages: libvirt needs a hugetlbfs of that page size, which this host may lack. */
                { "memory-1g", "vm/memory-1g.conf", false, false, false },
                { "firmware-secureboot", "vm/firmware-secureboot.conf", true, false, false },
                { "firmware-custom", "vm/firmware-custom.conf", true, false, false },
                { "passthrough-i440fx", "vm/passthrough-i440fx.conf", true, false, false },
                { "passthrough-q35", "vm/passthrough-q35.conf", true, false, false },
                { "display-spice", "vm/display-spice.conf", true, false, false },
                { "display-vnc", "vm/display-vnc.conf", true, false, false },
                { "display-virtio-none", "vm/display-virtio-none.conf", true, false, false },
                { "audio-pa", "vm/audio-pa.conf", true, false, false },
                { "audio-pa-server", "vm/audio-pa-server.conf", true, false, false },
                { "audio-alsa-ac97", "vm/audio-alsa-ac97.conf", true, false, false },
                { "net", "vm/net.conf", true, false, false },
                { "smbios", "vm/smbios.conf", true, false, false },
                { "looking-glass-default", "vm/looking-glass-default.conf", true, false, false },
                { "windows-defaults", "vm/windows-defaults.conf", true, false, false },
                { "debugcon-extra", "vm/debugcon-extra.conf", true, false, false },
                /* libvirt looks a USB device up on the host even for domxml-to-native. */
                { "usb", "vm/usb.conf", false, false, false },
                /* <vcpu current>, CPUID features, enlightenments without hyperv = yes. */
                { "cpu-vcpus-features", "vm/cpu-vcpus-features.conf", true, false, false },
                /* bootindex on a passed-through device; OVMF's MMIO window as -fw_cfg (libvirt 9 reserves
                   opt/ovmf/). */
                { "passthrough-boot", "vm/passthrough-boot.conf", true, false, false },
                /* 12 of 16 vCPUs started, with pins and features (qemu:commandline kept verbatim). */
                { "user-cappyt", "libvirt/users/cappyt-g14-win10.xml", true, false, false },
                /* macvtap: <interface type='direct'>; domxml-to-native would create the macvtap itself. */
                { "net-macvtap", "vm/net-macvtap.conf", false, false, false },
                /* A session libvirtd refuses virtiofs: schema only. */
                { "share-virtiofs", "vm/share-virtiofs.conf", false, true, false },
        };
        static struct CMUnitTest tests[ELEMENTSOF(cases) + 1];
        const char *data = getenv("VFIOCTL_TEST_DATA");
        size_t n = 0;

        if (!data) {
                fprintf(stderr, "VFIOCTL_TEST_DATA must be set (meson test does)\n");
                return 1;
        }
        if (access("/usr/sbin/libvirtd", X_OK) < 0 || access("/usr/bin/virsh", X_OK) < 0 ||
            access("/usr/bin/virt-xml-validate", X_OK) < 0 ||
            access("/usr/bin/qemu-system-x86_64", X_OK) < 0) {
                fprintf(stderr,
                        "libvirt is not installed (apt-get install libvirt-clients libvirt-daemon libvirt-daemon-driver-qemu qemu-system-x86)\n");
                return 77;
        }
        signal(SIGPIPE, SIG_IGN);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char path[4096];

                snprintf(path, sizeof(path), "%s/%s", data, cases[i].source);
                if (access(path, R_OK) < 0) {
                        fprintf(stderr, "%s is missing\n", path);
                        return 1;
                }
                tests[n++] = (struct CMUnitTest){ .name = cases[i].name,
                                                  .test_func = test_vm,
                                                  .initial_state = (void *)&cases[i] };
        }
        tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_golden_exports);
        return _cmocka_run_group_tests("libvirt-daemon", tests, n, start_daemon, stop_daemon);
}
