/*
 * Every VM feature, proven in the real qemu-system-x86_64: vfioctl's argv for a config is started
 * (TCG, paused) and QMP shows the VM has the feature. vfio-pci passthrough cannot run on this host (no
 * IOMMU, no spare device): its options are covered by the golden argv and the vfio-e2e test bed; its
 * PCI layout (root ports, one multifunction slot per GPU) is tested here with emulated stand-ins.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "qemu-harness.h"
#include "strv.h"

static char *path_in(const qvm *v, const char *name)
{
        char *s;

        assert_true(asprintf(&s, "%s/%s", v->dir, name) > 0);
        return s;
}

static void test_machine_i440fx_max_ram_below_4g(void **state)
{
        qvm *v = qvm_new();
        json_object *o, *pci;

        qvm_config(v, "[vm]\nmachine = i440fx\nmax_ram_below_4g = 1G\nhpet = no\n"
                      "uuid = 11111111-1111-1111-1111-111111111111\n[firmware]\ntype = seabios\n");
        qvm_start(v);
        o = qvm_qom_get(v, "/machine", "max-ram-below-4g");
        assert_int_equal(json_object_get_int64(o), 1LL << 30);
        json_object_put(o);
        o = qvm_qom_get(v, "/machine", "hpet");
        assert_false(json_object_get_boolean(o));
        json_object_put(o);
        o = qvm_qmp(v, "query-uuid", NULL);
        assert_string_equal(jstr(o, "UUID"), "11111111-1111-1111-1111-111111111111");
        json_object_put(o);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_int_equal(pci_count(pci, 0x8086, 0x1237), 1); /* the i440FX host bridge */
        json_object_put(pci);
        qvm_free(v);
}

static void test_machine_q35_root_ports_and_ovmf(void **state)
{
        qvm *v = qvm_new();
        json_object *pci, *blk, *rp, *d;
        char *vars;

        qvm_config(v, "[vm]\nspare_root_ports = 2\n");
        qvm_start(v);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_int_equal(pci_count(pci, 0x8086, 0x29c0), 1); /* the Q35 host bridge */
        rp = pci_find(pci, "rp1");
        assert_non_null(rp);
        assert_int_equal(jint(rp, "slot"), 0x10);
        assert_int_equal(pci_count(pci, 0x1b36, 0x000c), 2); /* pcie-root-port */
        assert_int_equal(jint(pci_find(pci, "rp2"), "slot"), 0x11);
        json_object_put(pci);
        /* OVMF: code read-only, the per-VM vars copy writable. */
        blk = qvm_qmp(v, "query-block", NULL);
        d = json_find(blk, "device", "pflash0");
        assert_non_null(d);
        json_object_object_get_ex(d, "inserted", &d);
        assert_true(jbool(d, "ro"));
        assert_string_equal(jstr(d, "file"), "/usr/share/OVMF/OVMF_CODE_4M.fd");
        d = json_find(blk, "device", "pflash1");
        json_object_object_get_ex(d, "inserted", &d);
        assert_false(jbool(d, "ro"));
        vars = path_in(v, "OVMF_VARS.fd");
        assert_string_equal(jstr(d, "file"), vars);
        free(vars);
        json_object_put(blk);
        qvm_free(v);
}

static void test_cpu_topology_hyperv_hidden(void **state)
{
        qvm *v = qvm_new();
        json_object *cpus, *o;
        int cores[4] = {}, threads[2] = {};

        qvm_config(v, "[vm]\nos = windows\n[cpu]\nsockets = 1\ncores = 4\nthreads = 2\nhide_kvm = yes\n"
                      "hyperv_vendor_id = whatever\npin = 1 2 3 4 5 6 7 8\n");
        qvm_start(v);
        cpus = qvm_qmp(v, "query-cpus-fast", NULL);
        assert_int_equal(json_object_array_length(cpus), 8);
        for (size_t i = 0; i < 8; i++) {
                json_object *props;

                json_object_object_get_ex(json_object_array_get_idx(cpus, i), "props", &props);
                assert_int_equal(jint(props, "socket-id"), 0);
                cores[jint(props, "core-id")]++;
                threads[jint(props, "thread-id")]++;
        }
        for (int i = 0; i < 4; i++)
                assert_int_equal(cores[i], 2);
        assert_int_equal(threads[0], 4);
        assert_int_equal(threads[1], 4);
        {
                const char *path = jstr(json_object_array_get_idx(cpus, 0), "qom-path");

                o = qvm_qom_get(v, path, "kvm");
                assert_false(json_object_get_boolean(o)); /* kvm=off */
                json_object_put(o);
                o = qvm_qom_get(v, path, "hv-relaxed");
                assert_true(json_object_get_boolean(o));
                json_object_put(o);
                o = qvm_qom_get(v, path, "hv-vapic");
                assert_true(json_object_get_boolean(o));
                json_object_put(o);
                o = qvm_qom_get(v, path, "hv-time");
                assert_true(json_object_get_boolean(o));
                json_object_put(o);
                o = qvm_qom_get(v, path, "hv-spinlocks");
                assert_int_equal(json_object_get_int64(o), 0x1fff);
                json_object_put(o);
                o = qvm_qom_get(v, path, "hv-vendor-id");
                assert_string_equal(json_object_get_string(o), "whatever");
                json_object_put(o);
        }
        json_object_put(cpus);
        /* Windows defaults: RTC in local time is not queryable; hpet=off is. */
        o = qvm_qom_get(v, "/machine", "hpet");
        assert_false(json_object_get_boolean(o));
        json_object_put(o);
        qvm_free(v);
}

static void test_memory_hugepages_prealloc_locked(void **state)
{
        qvm *v;
        json_object *mem, *m, *o;
        char *huge, text[1024];
        long before;

        if (!hugepages_reserve(64)) {
                print_message("skipped: needs root and 64 free 2M hugepages (this is a real dependency)\n");
                skip();
        }
        v = qvm_new();
        huge = path_in(v, "huge");
        hugetlbfs_mount(v, huge);
        snprintf(
                text, sizeof(text),
                "[memory]\nsize = 128M\nhugepages = 2M\nhugepage_path = %s\nprealloc = yes\nprealloc_threads = 2\n"
                "locked = yes\n",
                huge);
        qvm_config(v, text);
        before = free_hugepages(2048);
        qvm_start(v);
        /* prealloc: the 64 pages are taken at start, not on first touch. */
        assert_int_equal(free_hugepages(2048), before - 64);
        /* locked: -overcommit mem-lock=on made QEMU mlockall() the guest RAM. */
        assert_true(qvm_locked_kb(v) >= 128 * 1024);
        mem = qvm_qmp(v, "query-memdev", NULL);
        m = json_find(mem, "id", "mem");
        assert_non_null(m);
        assert_int_equal(jint(m, "size"), 128 << 20);
        assert_true(jbool(m, "prealloc"));
        json_object_put(mem);
        o = qvm_qom_get(v, "/objects/mem", "mem-path");
        assert_string_equal(json_object_get_string(o), huge);
        json_object_put(o);
        o = qvm_qom_get(v, "/objects/mem", "prealloc-threads");
        assert_int_equal(json_object_get_int64(o), 2);
        json_object_put(o);
        free(huge);
        qvm_free(v);
}

static void test_memory_hugepages_1g(void **state)
{
        qvm *v;
        json_object *mem, *o;
        char *huge;

        if (!hugepages_1g_reserve()) {
                print_message("skipped: needs root and a free 1G hugepage (the kernel found no 1G range)\n");
                skip();
        }
        v = qvm_new();
        huge = path_in(v, "huge1g");
        hugetlbfs_mount_size(v, huge, "1G");
        qvm_config(v, "[memory]\nsize = 1G\nhugepages = 1G\nhugepage_path = @DIR@/huge1g\n");
        qvm_start(v);
        assert_int_equal(free_hugepages(1048576), 0); /* hugepages imply prealloc: the page is in use */
        mem = qvm_qmp(v, "query-memdev", NULL);
        assert_int_equal(jint(json_find(mem, "id", "mem"), "size"), 1 << 30);
        json_object_put(mem);
        o = qvm_qom_get(v, "/objects/mem", "mem-path");
        assert_string_equal(json_object_get_string(o), huge);
        json_object_put(o);
        free(huge);
        qvm_free(v);
}

static void test_memory_prealloc_ram(void **state)
{
        qvm *v = qvm_new();
        json_object *mem, *m;

        qvm_config(v, "[memory]\nsize = 256M\nprealloc = yes\n");
        qvm_start(v);
        mem = qvm_qmp(v, "query-memdev", NULL);
        m = json_find(mem, "id", "mem");
        assert_non_null(m);
        assert_int_equal(jint(m, "size"), 256 << 20);
        assert_true(jbool(m, "prealloc"));
        json_object_put(mem);
        qvm_free(v);
}

static json_object *inserted(json_object *blk, const char *device)
{
        json_object *d = json_find(blk, "device", device), *ins;

        if (!d || !json_object_object_get_ex(d, "inserted", &ins))
                fail_msg("query-block has no medium in %s", device);
        return ins;
}

static void test_disks_buses_options_and_odd_paths(void **state)
{
        qvm *v = qvm_new();
        char *sys = path_in(v, "sys,tem disk.img"), *data = path_in(v, "data.img"),
             *games = path_in(v, "games.qcow2"), *iso = path_in(v, "install.iso");
        char *const qemu_img[] = { (char *)"qemu-img", (char *)"create",
                                   (char *)"-q",       (char *)"-f",
                                   (char *)"qcow2",    games,
                                   (char *)"64M",      NULL };
        json_object *blk, *ins, *cache, *io, *pci, *o;

        make_file(sys, 64 << 20);
        make_file(data, 64 << 20);
        make_file(iso, 1 << 20);
        run_ok(qemu_img);
        qvm_config(
                v,
                "[disk \"system\"]\npath = @DIR@/sys,tem disk.img\nbus = virtio-blk\niothread = yes\n"
                "cache = none\naio = native\ndiscard = unmap\nserial = 1\nbootindex = 1\n"
                "[disk \"data\"]\npath = @DIR@/data.img\nbus = virtio-scsi\niothread = yes\ncache = writeback\nreadonly = yes\n"
                "[disk \"games\"]\npath = @DIR@/games.qcow2\nformat = qcow2\nbus = sata\n"
                "[disk \"install\"]\npath = @DIR@/install.iso\nmedia = cdrom\nbus = sata\nbootindex = 2\n"
                "[disk \"drivers\"]\npath = @DIR@/install.iso\nmedia = cdrom\nbus = virtio-scsi\n");
        qvm_start(v);
        blk = qvm_qmp(v, "query-block", NULL);
        ins = inserted(blk, "drive-system");
        assert_string_equal(jstr(ins, "file"), sys); /* the comma and the space survived */
        json_object_object_get_ex(ins, "cache", &cache);
        assert_true(jbool(cache, "direct"));
        assert_true(jbool(cache, "writeback"));
        assert_false(jbool(ins, "ro"));
        assert_string_equal(jstr(ins, "detect_zeroes"), "off");
        ins = inserted(blk, "drive-data");
        json_object_object_get_ex(ins, "cache", &cache);
        assert_false(jbool(cache, "direct"));
        assert_true(jbool(ins, "ro"));
        ins = inserted(blk, "drive-games");
        assert_string_equal(jstr(ins, "drv"), "qcow2");
        assert_false(jbool(ins, "ro"));
        ins = inserted(blk, "drive-install");
        assert_true(jbool(ins, "ro"));
        assert_true(jbool(json_find(blk, "device", "drive-install"), "removable"));
        assert_true(jbool(json_find(blk, "device", "drive-drivers"), "removable"));
        json_object_put(blk);

        io = qvm_qmp(v, "query-iothreads", NULL);
        assert_non_null(json_find(io, "id", "io-system"));
        assert_non_null(json_find(io, "id", "io-data"));
        json_object_put(io);
        o = qvm_qom_get(v, "/machine/peripheral/disk-system", "iothread");
        assert_string_equal(json_object_get_string(o), "/objects/io-system");
        json_object_put(o);
        o = qvm_qom_get(v, "/machine/peripheral/disk-system", "serial");
        assert_string_equal(json_object_get_string(o), "1");
        json_object_put(o);
        o = qvm_qom_get(v, "/machine/peripheral/scsi-data", "iothread");
        assert_string_equal(json_object_get_string(o), "/objects/io-data");
        json_object_put(o);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_non_null(pci_find(pci, "disk-system"));
        assert_non_null(pci_find(pci, "scsi-data"));
        assert_non_null(pci_find(pci, "scsi-drivers"));
        json_object_put(pci);
        free(sys);
        free(data);
        free(games);
        free(iso);
        qvm_free(v);
}

/* A real block device, as a zvol or partition would be: a loop device over a file (root only). */
static void test_disks_block_device(void **state)
{
        qvm *v;
        char *img, text[512], loopdev[64] = "";
        json_object *blk, *nodes, *ins, *cache;
        int fd[2];
        pid_t pid;
        ssize_t n;

        if (geteuid() != 0 || access("/dev/loop-control", R_OK | W_OK) < 0) {
                print_message("skipped: a loop block device needs root and /dev/loop-control\n");
                skip();
        }
        v = qvm_new();
        img = path_in(v, "backing.img");
        make_file(img, 64 << 20);
        assert_int_equal(pipe2(fd, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char *const argv[] = { (char *)"losetup", (char *)"--find", (char *)"--show", img, NULL };

                dup2(fd[1], 1);
                execvp(argv[0], argv);
                _exit(127);
        }
        close(fd[1]);
        n = read(fd[0], loopdev, sizeof(loopdev) - 1);
        close(fd[0]);
        waitpid(pid, NULL, 0);
        if (n <= 0 || strncmp(loopdev, "/dev/loop", 9) != 0) {
                print_message("skipped: losetup could not attach a loop device here\n");
                qvm_free(v);
                free(img);
                skip();
        }
        loopdev[strcspn(loopdev, "\n")] = 0;
        snprintf(
                text, sizeof(text),
                "[disk \"zvol\"]\npath = %s\nbus = virtio-blk\ncache = none\naio = native\ndiscard = unmap\n",
                loopdev);
        qvm_config(v, text);
        qvm_start(v);
        blk = qvm_qmp(v, "query-block", NULL);
        ins = inserted(blk, "drive-zvol");
        assert_string_equal(jstr(ins, "file"), loopdev);
        json_object_object_get_ex(ins, "cache", &cache);
        assert_true(jbool(cache, "direct"));
        json_object_put(blk);
        /* QEMU picked its block-device protocol driver for the path, not a plain file. */
        nodes = qvm_qmp(v, "query-named-block-nodes", NULL);
        assert_non_null(json_find(nodes, "drv", "host_device"));
        json_object_put(nodes);
        qvm_free(v);
        {
                char *const argv[] = { (char *)"losetup", (char *)"-d", loopdev, NULL };

                run_ok(argv);
        }
        free(img);
}

static void test_disks_ide_on_i440fx(void **state)
{
        qvm *v = qvm_new();
        char *img = path_in(v, "win7.img"), *iso = path_in(v, "win7.iso");
        json_object *blk;

        make_file(img, 16 << 20);
        make_file(iso, 1 << 20);
        qvm_config(v, "[vm]\nmachine = i440fx\n[firmware]\ntype = seabios\n"
                      "[disk \"system\"]\npath = @DIR@/win7.img\nbus = ide\n"
                      "[disk \"cd\"]\npath = @DIR@/win7.iso\nbus = ide\nmedia = cdrom\n");
        qvm_start(v);
        blk = qvm_qmp(v, "query-block", NULL);
        assert_string_equal(jstr(inserted(blk, "drive-system"), "file"), img);
        assert_true(jbool(json_find(blk, "device", "drive-cd"), "removable"));
        json_object_put(blk);
        free(img);
        free(iso);
        qvm_free(v);
}

static pid_t start_swtpm(const char *dir, const char *sock)
{
        char state[4096], tpmstate[4200], ctrl[4200];
        pid_t pid;

        snprintf(state, sizeof(state), "%s/tpm", dir);
        assert_int_equal(mkdir(state, 0700), 0);
        snprintf(tpmstate, sizeof(tpmstate), "dir=%s", state);
        snprintf(ctrl, sizeof(ctrl), "type=unixio,path=%s", sock);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                char *const argv[] = { (char *)"swtpm",
                                       (char *)"socket",
                                       (char *)"--tpm2",
                                       (char *)"--tpmstate",
                                       tpmstate,
                                       (char *)"--ctrl",
                                       ctrl,
                                       NULL };

                char log[4200];
                int lfd;

                (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
                /* Not the test's stdout: a helper holding meson's pipe would stall the whole run. */
                snprintf(log, sizeof(log), "%s/swtpm.log", dir);
                lfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (lfd < 0 || dup2(lfd, 1) < 0 || dup2(lfd, 2) < 0)
                        _exit(126);
                execvp(argv[0], argv);
                _exit(127);
        }
        harness_track_pid(pid);
        for (int i = 0; i < 100; i++) {
                struct stat st;

                if (stat(sock, &st) == 0)
                        return pid;
                usleep(50 * 1000);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fail_msg("swtpm did not create %s", sock);
        return -1;
}

static void test_firmware_secure_boot_and_tpm(void **state)
{
        qvm *v;
        json_object *tpm, *t, *opts, *o, *blk;
        char *sock;
        pid_t swtpm;

        if (access("/usr/bin/swtpm", X_OK) < 0) {
                print_message("skipped: swtpm is not installed (apt-get install swtpm swtpm-tools)\n");
                skip();
        }
        v = qvm_new();
        sock = path_in(v, "swtpm.sock");
        swtpm = start_swtpm(v->dir, sock);
        qvm_config(v, "[firmware]\nsecure_boot = yes\n[tpm]\n");
        qvm_start(v);
        tpm = qvm_qmp(v, "query-tpm", NULL);
        assert_int_equal(json_object_array_length(tpm), 1);
        t = json_object_array_get_idx(tpm, 0);
        assert_string_equal(jstr(t, "model"), "tpm-crb");
        assert_string_equal(jstr(t, "id"), "tpm0");
        json_object_object_get_ex(t, "options", &opts);
        assert_string_equal(jstr(opts, "type"), "emulator");
        json_object_put(tpm);
        o = qvm_qom_get(v, "/machine", "smm");
        assert_string_equal(json_object_get_string(o), "on");
        json_object_put(o);
        blk = qvm_qmp(v, "query-block", NULL);
        assert_string_equal(jstr(inserted(blk, "pflash0"), "file"),
                            "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd");
        json_object_put(blk);
        o = qvm_qom_get(v, "/machine/system.flash0", "secure");
        assert_true(json_object_get_boolean(o));
        json_object_put(o);
        qvm_free(v);
        harness_reap_pid(swtpm);
        free(sock);
}

/* The guest RTC's hour as QEMU set it, and the host's UTC hour read right after. */
static void rtc_hours(qvm *v, int *ret_rtc, int *ret_utc)
{
        json_object *o = qvm_qom_get(v, "/machine", "rtc-time");
        time_t now = time(NULL);
        struct tm tm;

        gmtime_r(&now, &tm);
        *ret_rtc = (int)jint(o, "tm_hour");
        *ret_utc = tm.tm_hour;
        json_object_put(o);
}

static void test_rtc_utc_by_default(void **state)
{
        qvm *v = qvm_new();
        int rtc, utc;

        qvm_config(v, "[firmware]\ntype = seabios\n");
        qvm_start(v);
        rtc_hours(v, &rtc, &utc);
        assert_int_equal(rtc, utc);
        qvm_free(v);
}

static void test_smbios_uuid_rtc(void **state)
{
        qvm *v = qvm_new();
        json_object *o;

        /* QEMU has no query for SMBIOS tables: acceptance of every field (commas included) is the check. */
        qvm_config(
                v,
                "[vm]\nuuid = 11111111-1111-1111-1111-111111111111\nrtc_localtime = yes\nrtc_catchup = yes\n"
                "pit_delay = yes\n"
                "[smbios]\nbios_vendor = GENERIC\nbios_version = GENERIC\nbios_date = 01/01/2014\n"
                "bios_release = 0.91\nsystem_manufacturer = GENERIC\nsystem_product = GENERIC\n"
                "system_version = GENERIC\nsystem_serial = 1\n"
                "system_uuid = 11111111-1111-1111-1111-111111111111\nsystem_sku = GENERIC\n"
                "system_family = GENERIC\nbaseboard_manufacturer = ASUSTeK COMPUTER INC.\n"
                "baseboard_product = PRIME X570-P\nchassis_manufacturer = Generic, Inc.\n"
                "chassis_serial = 12345\n");
        qvm_start(v);
        o = qvm_qmp(v, "query-uuid", NULL);
        assert_string_equal(jstr(o, "UUID"), "11111111-1111-1111-1111-111111111111");
        json_object_put(o);
        {
                /* QEMU runs with TZ=JST-9 (UTC+9): base=localtime puts the RTC nine hours ahead of UTC. */
                int rtc, utc;
                json_object *path;

                rtc_hours(v, &rtc, &utc);
                assert_int_equal(rtc, (utc + 9) % 24);
                path = qvm_qom_get(v, "/machine", "rtc_state");
                o = qvm_qom_get(v, json_object_get_string(path), "lost_tick_policy");
                assert_string_equal(json_object_get_string(o), "slew"); /* rtc_catchup */
                json_object_put(o);
                json_object_put(path);
        }
        qvm_free(v);
}

static void test_net_user_hostfwd_mac_models(void **state)
{
        qvm *v = qvm_new();
        json_object *pci, *o, *a;

        qvm_config(v, "[net \"lan\"]\ntype = user\nhostfwd = tcp::24811-:24800\nmac = de:ad:be:ef:33:4a\n"
                      "[net \"e1k\"]\ntype = user\nmodel = e1000e\n");
        qvm_start(v);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_non_null(pci_find(pci, "nic-lan"));
        assert_int_equal(jint(json_object_object_get(pci_find(pci, "nic-lan"), "id"), "vendor"), 0x1af4);
        assert_int_equal(pci_count(pci, 0x8086, 0x10d3), 1); /* e1000e (82574L) */
        json_object_put(pci);
        o = qvm_qom_get(v, "/machine/peripheral/nic-lan", "mac");
        assert_string_equal(json_object_get_string(o), "de:ad:be:ef:33:4a");
        json_object_put(o);
        a = json_object_new_object();
        json_object_object_add(a, "command-line", json_object_new_string("info usernet"));
        o = qvm_qmp(v, "human-monitor-command", a);
        assert_non_null(strstr(json_object_get_string(o), "24811"));
        assert_non_null(strstr(json_object_get_string(o), "24800"));
        json_object_put(o);
        qvm_free(v);
}

static void test_net_tap(void **state)
{
        qvm *v;
        json_object *pci, *o, *a;

        if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) < 0) {
                print_message("skipped: a tap device needs root and /dev/net/tun\n");
                skip();
        }
        v = qvm_new();
        qvm_config(v, "[net \"tap\"]\ntype = tap\nifname = vfioctltap0\nmodel = e1000e\n");
        qvm_start(v);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_non_null(pci_find(pci, "nic-tap"));
        json_object_put(pci);
        a = json_object_new_object();
        json_object_object_add(a, "command-line", json_object_new_string("info network"));
        o = qvm_qmp(v, "human-monitor-command", a);
        assert_non_null(strstr(json_object_get_string(o), "ifname=vfioctltap0"));
        json_object_put(o);
        qvm_free(v);
}

static void test_input_virtio_and_evdev(void **state)
{
        qvm *v = qvm_new();
        json_object *pci;
        DIR *d;

        qvm_config(v, "[input \"vkbd\"]\ntype = virtio-keyboard\n[input \"vmouse\"]\ntype = virtio-mouse\n"
                      "[input \"tablet\"]\ntype = virtio-tablet\n");
        qvm_start(v);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_non_null(pci_find(pci, "input-vkbd"));
        assert_non_null(pci_find(pci, "input-vmouse"));
        assert_non_null(pci_find(pci, "input-tablet"));
        assert_int_equal(pci_count(pci, 0x1af4, 0x1052), 3); /* virtio-input */
        json_object_put(pci);
        qvm_free(v);

        /* input-linux needs a real evdev node; this host has no /dev/input and no uinput to make one. */
        d = opendir("/dev/input");
        if (!d) {
                print_message("input-linux (evdev) not run: no /dev/input on this host; golden argv only\n");
                return;
        }
        closedir(d);
        {
                struct dirent **ents = NULL;
                int n = scandir("/dev/input", &ents, NULL, alphasort);
                char evdev[300] = "";
                json_object *objs;

                for (int i = 0; i < n; i++) {
                        if (!evdev[0] && strncmp(ents[i]->d_name, "event", 5) == 0)
                                snprintf(evdev, sizeof(evdev), "/dev/input/%s", ents[i]->d_name);
                        free(ents[i]);
                }
                free(ents);
                if (!evdev[0])
                        return;
                v = qvm_new();
                {
                        char text[600];

                        snprintf(text, sizeof(text),
                                 "[input \"kbd\"]\ntype = evdev\nevdev = %s\nrepeat = yes\n"
                                 "grab_toggle = ctrl-ctrl\n",
                                 evdev);
                        qvm_config(v, text);
                }
                qvm_start(v);
                {
                        json_object *a = json_object_new_object();

                        json_object_object_add(a, "path", json_object_new_string("/objects"));
                        objs = qvm_qmp(v, "qom-list", a);
                }
                assert_non_null(json_find(objs, "name", "input-kbd"));
                json_object_put(objs);
                qvm_free(v);
        }
}

/*
 * vfio-pci cannot run here, but where vfioctl puts passed devices can: each "vfio-pci,host=..." becomes
 * an emulated stand-in with the same id, bus, address and multifunction flag (VGA for a GPU's function 0,
 * HDA for its audio, e1000e for a NIC), as the vfio-e2e test bed does in hardware terms. x-vga is
 * vfio-only and dropped. Everything else in the argv is vfioctl's.
 */
static void stand_ins(char **argv)
{
        for (char **a = argv; *a; a++) {
                const char *rest, *drv;
                char *n;

                if (strncmp(*a, "vfio-pci,host=", 14) != 0)
                        continue;
                rest = strchr(*a + 14, ','); /* after host=ADDR */
                drv = strstr(*a, "id=hostdev-gpu-0")   ? "VGA"
                      : strstr(*a, "id=hostdev-gpu-1") ? "ich9-intel-hda"
                                                       : "e1000e";
                assert_true(asprintf(&n, "%s%s", drv, rest) > 0);
                if (strstr(n, ",x-vga=on"))
                        memmove(strstr(n, ",x-vga=on"), strstr(n, ",x-vga=on") + 9,
                                strlen(strstr(n, ",x-vga=on") + 9) + 1);
                free(*a);
                *a = n;
        }
}

/* Where QOM says a device sits: its parent bus and devfn (slot << 3 | function). */
static void assert_place(qvm *v, const char *id, const char *bus, int slot, int function)
{
        char path[256];
        json_object *o;

        snprintf(path, sizeof(path), "/machine/peripheral/%s", id);
        o = qvm_qom_get(v, path, "parent_bus");
        assert_string_equal(json_object_get_string(o), bus);
        json_object_put(o);
        o = qvm_qom_get(v, path, "addr");
        assert_int_equal(json_object_get_int64(o), slot << 3 | function);
        json_object_put(o);
}

static void test_passthrough_layout_q35(void **state)
{
        qvm *v = qvm_new();
        json_object *o;

        v->rewrite = stand_ins;
        qvm_config(
                v,
                "[gpu]\ndevice = 01:00.0\nfunctions = 01:00.1\nrombar = no\n[pci \"nic\"]\ndevice = 03:00.0\n");
        qvm_start(v);
        /* Each passed device below its own root port on pcie.0 slots 0x10, 0x11... */
        assert_place(v, "rp1", "/machine/q35/pcie.0", 0x10, 0);
        assert_place(v, "rp2", "/machine/q35/pcie.0", 0x11, 0);
        /* ...the GPU's functions together on one slot behind rp1, function 0 multifunction. */
        assert_place(v, "hostdev-gpu-0", "/machine/peripheral/rp1/rp1", 0, 0);
        assert_place(v, "hostdev-gpu-1", "/machine/peripheral/rp1/rp1", 0, 1);
        assert_place(v, "hostdev-nic-0", "/machine/peripheral/rp2/rp2", 0, 0);
        o = qvm_qom_get(v, "/machine/peripheral/hostdev-gpu-0", "multifunction");
        assert_true(json_object_get_boolean(o));
        json_object_put(o);
        o = qvm_qom_get(v, "/machine/peripheral/hostdev-gpu-0", "rombar");
        assert_int_equal(json_object_get_int64(o), 0);
        json_object_put(o);
        qvm_free(v);
}

static void test_passthrough_layout_i440fx(void **state)
{
        qvm *v = qvm_new();
        json_object *pci;

        v->rewrite = stand_ins;
        qvm_config(v, "[vm]\nmachine = i440fx\n[firmware]\ntype = seabios\n"
                      "[gpu]\ndevice = 07:00.0\nfunctions = 07:00.1\nx_vga = yes\n");
        qvm_start(v);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_int_equal(jint(pci_find(pci, "hostdev-gpu-0"), "slot"), 0x10);
        assert_int_equal(jint(pci_find(pci, "hostdev-gpu-1"), "function"), 1);
        json_object_put(pci);
        assert_place(v, "hostdev-gpu-0", "/machine/i440fx/pci.0", 0x10, 0);
        assert_place(v, "hostdev-gpu-1", "/machine/i440fx/pci.0", 0x10, 1);
        qvm_free(v);
}

/* [cpu] vcpus: 12 of 16 places started; features and hv flags exactly as listed, without hyperv = yes. */
static void test_cpu_vcpus_features_hv(void **state)
{
        qvm *v = qvm_new();
        json_object *cpus, *hot, *o;
        size_t empty = 0;

        /* qemu64 lacks pdpe1gb and has hypervisor: both switches show (TCG implements both). */
        qvm_config(v, "[cpu]\nmodel = qemu64\nsockets = 1\ncores = 8\nthreads = 2\nvcpus = 12\n"
                      "features = +pdpe1gb -hypervisor\nhyperv = no\nhyperv_vendor_id = 087D1028\n"
                      "hyperv_extra = hv-relaxed hv-spinlocks=0xfff\n");
        qvm_start(v);
        cpus = qvm_qmp(v, "query-cpus-fast", NULL);
        assert_int_equal(json_object_array_length(cpus), 12);
        json_object_put(cpus);
        hot = qvm_qmp(v, "query-hotpluggable-cpus", NULL);
        assert_int_equal(json_object_array_length(hot), 16);
        for (size_t i = 0; i < json_object_array_length(hot); i++) {
                json_object *q;

                empty += !json_object_object_get_ex(json_object_array_get_idx(hot, i), "qom-path", &q);
        }
        assert_int_equal(empty, 4);
        json_object_put(hot);
        o = qvm_cpu0_prop(v, "pdpe1gb");
        assert_true(json_object_get_boolean(o));
        json_object_put(o);
        o = qvm_cpu0_prop(v, "hypervisor");
        assert_false(json_object_get_boolean(o));
        json_object_put(o);
        o = qvm_cpu0_prop(v, "hv-relaxed");
        assert_true(json_object_get_boolean(o));
        json_object_put(o);
        /* Not in the list, so not there: hyperv = yes would have added them. */
        o = qvm_cpu0_prop(v, "hv-vapic");
        assert_false(json_object_get_boolean(o));
        json_object_put(o);
        o = qvm_cpu0_prop(v, "hv-time");
        assert_false(json_object_get_boolean(o));
        json_object_put(o);
        o = qvm_cpu0_prop(v, "hv-spinlocks");
        assert_int_equal(json_object_get_int64(o), 0xfff);
        json_object_put(o);
        o = qvm_cpu0_prop(v, "hv-vendor-id");
        assert_string_equal(json_object_get_string(o), "087D1028");
        json_object_put(o);
        qvm_free(v);
}

/* bootindex on a passed-through PCI device (an emulated stand-in here) and on a USB host device. */
static void test_bootindex_passthrough_and_usb(void **state)
{
        qvm *v = qvm_new();
        json_object *o;

        v->rewrite = stand_ins;
        qvm_config(v, "[pci \"nic\"]\ndevice = 04:00.0\nbootindex = 1\n[usb \"stick\"]\ndevice = 0781:5583\n"
                      "bootindex = 2\n[disk \"d\"]\npath = @DIR@/d.img\nbootindex = 3\n");
        make_file(v->cfg->disks[0].path, 64 << 20);
        qvm_start(v);
        o = qvm_qom_get(v, "/machine/peripheral/hostdev-nic-0", "bootindex");
        assert_int_equal(json_object_get_int64(o), 1);
        json_object_put(o);
        o = qvm_qom_get(v, "/machine/peripheral/usb-stick", "bootindex");
        assert_int_equal(json_object_get_int64(o), 2);
        json_object_put(o);
        o = qvm_qom_get(v, "/machine/peripheral/disk-d", "bootindex");
        assert_int_equal(json_object_get_int64(o), 3);
        json_object_put(o);
        qvm_free(v);
}

static void test_usb_host_devices(void **state)
{
        qvm *v = qvm_new();
        json_object *pci, *o;

        /* usb-host waits for absent devices, so vendor:product and bus/port both start here. */
        qvm_config(v,
                   "[usb \"mouse\"]\ndevice = 046d:c52b\n[usb \"port\"]\nhost_bus = 3\nhost_port = 2.1\n");
        qvm_start(v);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_non_null(pci_find(pci, "xhci"));
        json_object_put(pci);
        o = qvm_qom_get(v, "/machine/peripheral/usb-mouse", "vendorid");
        assert_int_equal(json_object_get_int64(o), 0x046d);
        json_object_put(o);
        o = qvm_qom_get(v, "/machine/peripheral/usb-mouse", "productid");
        assert_int_equal(json_object_get_int64(o), 0xc52b);
        json_object_put(o);
        o = qvm_qom_get(v, "/machine/peripheral/usb-port", "hostport");
        assert_string_equal(json_object_get_string(o), "2.1");
        json_object_put(o);
        o = qvm_qom_get(v, "/machine/peripheral/usb-port", "hostbus");
        assert_int_equal(json_object_get_int64(o), 3);
        json_object_put(o);
        qvm_free(v);
}

static void test_display_spice_qxl(void **state)
{
        qvm *v = qvm_new();
        json_object *pci, *o;
        char *sock = path_in(v, "spice.sock");
        struct stat st;

        qvm_config(v, "[display]\ndevice = qxl\nprotocol = spice\n");
        qvm_start(v);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_int_equal(pci_count(pci, 0x1b36, 0x0100), 1); /* qxl */
        json_object_put(pci);
        o = qvm_qmp(v, "query-spice", NULL);
        assert_true(jbool(o, "enabled"));
        json_object_put(o);
        assert_int_equal(stat(sock, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        free(sock);
        qvm_free(v);
}

static void test_display_vnc_std_odd_socket(void **state)
{
        qvm *v = qvm_new();
        json_object *pci, *o;
        char *sock = path_in(v, "my vm,vnc.sock");
        struct stat st;

        qvm_config(v, "[display]\ndevice = std\nprotocol = vnc\nsocket = @DIR@/my vm,vnc.sock\n");
        qvm_start(v);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_int_equal(pci_count(pci, 0x1234, 0x1111), 1); /* std VGA */
        json_object_put(pci);
        o = qvm_qmp(v, "query-vnc", NULL);
        assert_true(jbool(o, "enabled"));
        assert_string_equal(jstr(o, "family"), "unix");
        json_object_put(o);
        assert_int_equal(stat(sock, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        free(sock);
        qvm_free(v);
}

static void test_display_none_virtio_vga(void **state)
{
        qvm *v = qvm_new();
        json_object *pci;

        qvm_config(v, "[display]\ndevice = virtio-vga\n");
        qvm_start(v);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_non_null(pci_find(pci, "video0"));
        assert_int_equal(pci_count(pci, 0x1af4, 0x1050), 1);
        json_object_put(pci);
        assert_true(strv_contains(v->argv, "-display"));
        qvm_free(v);
}

static void test_looking_glass_ivshmem(void **state)
{
        qvm *v = qvm_new();
        json_object *pci, *o;
        char *shm = path_in(v, "looking-glass");
        struct stat st;

        /* path points into the test directory instead of /dev/shm so parallel runs cannot collide. */
        qvm_config(v, "[looking-glass]\nwidth = 1920\nheight = 1080\npath = @DIR@/looking-glass\n");
        qvm_start(v);
        o = qvm_qom_get(v, "/objects/looking-glass", "size");
        assert_int_equal(json_object_get_int64(o), 32 << 20);
        json_object_put(o);
        o = qvm_qom_get(v, "/objects/looking-glass", "share");
        assert_true(json_object_get_boolean(o));
        json_object_put(o);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_int_equal(pci_count(pci, 0x1af4, 0x1110), 1); /* ivshmem */
        json_object_put(pci);
        assert_int_equal(stat(shm, &st), 0);
        assert_int_equal(st.st_size, 32 << 20);
        free(shm);
        qvm_free(v);
}

static void test_audio_hda_and_ac97(void **state)
{
        qvm *v = qvm_new();
        json_object *pci, *snd;

        /* backend none here; test_audio_pulseaudio_socket runs pa against a real server. */
        qvm_config(
                v,
                "[audio]\nbackend = none\ndevice = ich9-intel-hda\ncodec = hda-duplex\nbuffer_length = 10000\n");
        qvm_start(v);
        pci = qvm_qmp(v, "query-pci", NULL);
        snd = pci_find(pci, "sound0");
        assert_non_null(snd);
        assert_int_equal(jint(json_object_object_get(snd, "id"), "device"), 0x293e); /* ICH9 HDA */
        json_object_put(pci);
        qvm_free(v);

        v = qvm_new();
        qvm_config(
                v,
                "[vm]\nmachine = i440fx\n[firmware]\ntype = seabios\n[audio]\nbackend = none\ndevice = ac97\n");
        qvm_start(v);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_int_equal(pci_count(pci, 0x8086, 0x2415), 1); /* 82801AA AC'97 */
        json_object_put(pci);
        qvm_free(v);
}

static void test_audio_pulseaudio_socket(void **state)
{
        qvm *v;
        json_object *pci;

        if (access("/usr/bin/pulseaudio", X_OK) < 0) {
                print_message("skipped: pulseaudio is not installed (apt-get install pulseaudio)\n");
                skip();
        }
        v = qvm_new();
        pulseaudio_start(v);
        qvm_config(
                v,
                "[audio]\nbackend = pa\nserver = @DIR@/native\ndevice = ich9-intel-hda\ncodec = hda-duplex\n"
                "buffer_length = 10000\ntimer_period = 1000\n");
        /* QEMU's pa driver connects at start and refuses to start without a server (checked by hand). */
        qvm_start(v);
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_non_null(pci_find(pci, "sound0"));
        json_object_put(pci);
        qvm_free(v);
}

static void test_debugcon_chardev_and_extra_args(void **state)
{
        qvm *v = qvm_new();
        json_object *chr, *pci;
        char *log = path_in(v, "ovmf,debug log.txt");
        struct stat st;

        qvm_config(
                v,
                "[vm]\ndebugcon = @DIR@/ovmf,debug log.txt\nextra_args = -device virtio-rng-pci,id=rng0\n");
        qvm_start(v);
        chr = qvm_qmp(v, "query-chardev", NULL);
        assert_non_null(json_find(chr, "label", "debugcon"));
        assert_non_null(json_find(chr, "label", "qmp"));
        json_object_put(chr);
        assert_int_equal(stat(log, &st), 0); /* the file QEMU opened is the one named, comma and all */
        pci = qvm_qmp(v, "query-pci", NULL);
        assert_non_null(pci_find(pci, "rng0")); /* extra_args reached QEMU */
        json_object_put(pci);
        free(log);
        qvm_free(v);
}

/* lib/qmp.c against the real QEMU: events arrive between replies and are queued in order. */
static void test_qmp_events_from_real_qemu(void **state)
{
        qvm *v = qvm_new();
        json_object *o, *ev, *name;
        const char *want[] = { "RESUME", "STOP" };

        qvm_config(v, "[vm]\nmachine = i440fx\n[firmware]\ntype = seabios\n");
        qvm_start(v);
        json_object_put(qvm_qmp(v, "cont", NULL));
        json_object_put(qvm_qmp(v, "stop", NULL));
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                assert_int_equal(qmp_next_event(v->qmp, 5000, &ev), 0);
                assert_true(json_object_object_get_ex(ev, "event", &name));
                assert_string_equal(json_object_get_string(name), want[i]);
                json_object_put(ev);
        }
        o = qvm_qmp(v, "query-status", NULL);
        assert_string_equal(jstr(o, "status"), "paused");
        json_object_put(o);
        qvm_free(v);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_machine_i440fx_max_ram_below_4g, harness_teardown),
                cmocka_unit_test_teardown(test_machine_q35_root_ports_and_ovmf, harness_teardown),
                cmocka_unit_test_teardown(test_cpu_topology_hyperv_hidden, harness_teardown),
                cmocka_unit_test_teardown(test_memory_hugepages_prealloc_locked, harness_teardown),
                cmocka_unit_test_teardown(test_memory_hugepages_1g, harness_teardown),
                cmocka_unit_test_teardown(test_memory_prealloc_ram, harness_teardown),
                cmocka_unit_test_teardown(test_disks_buses_options_and_odd_paths, harness_teardown),
                cmocka_unit_test_teardown(test_disks_block_device, harness_teardown),
                cmocka_unit_test_teardown(test_disks_ide_on_i440fx, harness_teardown),
                cmocka_unit_test_teardown(test_firmware_secure_boot_and_tpm, harness_teardown),
                cmocka_unit_test_teardown(test_smbios_uuid_rtc, harness_teardown),
                cmocka_unit_test_teardown(test_rtc_utc_by_default, harness_teardown),
                cmocka_unit_test_teardown(test_net_user_hostfwd_mac_models, harness_teardown),
                cmocka_unit_test_teardown(test_net_tap, harness_teardown),
                cmocka_unit_test_teardown(test_input_virtio_and_evdev, harness_teardown),
                cmocka_unit_test_teardown(test_passthrough_layout_q35, harness_teardown),
                cmocka_unit_test_teardown(test_passthrough_layout_i440fx, harness_teardown),
                cmocka_unit_test_teardown(test_usb_host_devices, harness_teardown),
                cmocka_unit_test_teardown(test_cpu_vcpus_features_hv, harness_teardown),
                cmocka_unit_test_teardown(test_bootindex_passthrough_and_usb, harness_teardown),
                cmocka_unit_test_teardown(test_display_spice_qxl, harness_teardown),
                cmocka_unit_test_teardown(test_display_vnc_std_odd_socket, harness_teardown),
                cmocka_unit_test_teardown(test_display_none_virtio_vga, harness_teardown),
                cmocka_unit_test_teardown(test_looking_glass_ivshmem, harness_teardown),
                cmocka_unit_test_teardown(test_audio_hda_and_ac97, harness_teardown),
                cmocka_unit_test_teardown(test_audio_pulseaudio_socket, harness_teardown),
                cmocka_unit_test_teardown(test_debugcon_chardev_and_extra_args, harness_teardown),
                cmocka_unit_test_teardown(test_qmp_events_from_real_qemu, harness_teardown),
        };

        if (access("/usr/bin/qemu-system-x86_64", X_OK) < 0) {
                fprintf(stderr, "qemu-system-x86_64 is not installed\n");
                return 77;
        }
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
