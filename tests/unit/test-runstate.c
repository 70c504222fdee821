/* The runtime state: status file round trip and hostile input, the start lock, PID liveness, launch argv. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs-util.h"
#include "strv.h"
#include "vfioctl/launch.h"
#include "vfioctl/runstate.h"

static char tmpdir[64];
static int dirfd_ = -1;

static int setup(void **state)
{
        strcpy(tmpdir, "/tmp/test-runstate.XXXXXX");
        assert_non_null(mkdtemp(tmpdir));
        dirfd_ = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dirfd_ >= 0);
        return 0;
}

static int teardown(void **state)
{
        char path[128];

        for (const char *const *f = (const char *const[]){ "status", "status.tmp", "lock", NULL }; *f; f++) {
                snprintf(path, sizeof(path), "%s/%s", tmpdir, *f);
                unlink(path);
        }
        close(dirfd_);
        rmdir(tmpdir);
        return 0;
}

/* Whether a temporary file of the atomic write is left in the directory. */
static bool temp_left(void)
{
        DIR *d = opendir(tmpdir);
        struct dirent *de;
        bool found = false;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (atomic_temp_name(de->d_name) || strcmp(de->d_name, "status.tmp") == 0)
                        found = true;
        closedir(d);
        return found;
}

static void write_file(const char *name, const char *text)
{
        char path[128];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static void test_round_trip(void **state)
{
        vm_runstate s = { .state = VM_STATE_RUNNING,
                          .pid = 1234,
                          .pid_starttime = 987654321,
                          .supervisor = 1233,
                          .swtpm = 1235,
                          .swtpm_starttime = 987654322,
                          .relay = 1236,
                          .relay_starttime = 987654323,
                          .uid = 65534,
                          .user = (char *)"nobody",
                          .started = 1795240000,
                          .memory = 268435456,
                          .hugepages_reserved = 8,
                          .hugepage_kb = 2048,
                          .devices = (char *[]){ (char *)"0000:01:00.0", (char *)"0000:01:00.1", NULL },
                          .cpus = (char *[]){ (char *)"2", (char *)"3", NULL },
                          .vcpu_threads = (char *[]){ (char *)"1240", (char *)"1241", NULL },
                          .vcpu_pins = (char *[]){ (char *)"2", (char *)"3", NULL },
                          .emulator_pins = (char *[]){ (char *)"0", NULL },
                          .ddc = (char *)"bus=7 host=0x0f guest=0x11" };
        vm_runstate *r = NULL;
        struct stat st;

        assert_int_equal(vm_runstate_write(dirfd_, &s), 0);
        assert_int_equal(fstatat(dirfd_, "status", &st, 0), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_false(temp_left()); /* renamed, not left behind */
        assert_int_equal(vm_runstate_read(dirfd_, &r), 0);
        assert_int_equal(r->state, VM_STATE_RUNNING);
        assert_int_equal(r->pid, 1234);
        assert_int_equal(r->pid_starttime, 987654321);
        assert_int_equal(r->supervisor, 1233);
        assert_int_equal(r->swtpm, 1235);
        assert_int_equal(r->swtpm_starttime, 987654322);
        assert_int_equal(r->relay, 1236);
        assert_int_equal(r->relay_starttime, 987654323);
        assert_int_equal(r->uid, 65534);
        assert_string_equal(r->user, "nobody");
        assert_int_equal(r->memory, 268435456);
        assert_int_equal(r->hugepages_reserved, 8);
        assert_int_equal(r->hugepage_kb, 2048);
        assert_int_equal(strv_length(r->devices), 2);
        assert_string_equal(r->devices[1], "0000:01:00.1");
        assert_string_equal(r->vcpu_pins[1], "3");
        assert_string_equal(r->emulator_pins[0], "0");
        assert_string_equal(r->ddc, "bus=7 host=0x0f guest=0x11");
        assert_null(r->exit_reason);
        vm_runstate_free(r);
}

/* What the handoff and isolation changed, with the old values to give back, survives the record. */
static void test_round_trip_host_steps(void **state)
{
        vm_runstate s = {
                .state = VM_STATE_RUNNING,
                .display_manager = (char *)"gdm.service",
                .consoles = (char *[]){ (char *)"vtcon1", NULL },
                .framebuffers = (char *[]){ (char *)"efi-framebuffer.0=efi-framebuffer", NULL },
                .handoff = (char *[]){ (char *)"0000:00:01.0=bochs-drm", (char *)"0000:00:01.1=", NULL },
                .vfio_nodes = (char *[]){ (char *)"1=0:0:600", NULL },
                .vm_cgroup = (char *)"vfioctl.vms/win",
                .cpu_units = (char *[]){ (char *)"system.slice=", (char *)"user.slice=0-3,8", NULL },
                .cpusets = (char *[]){ (char *)"lxc.payload=0-7", NULL },
                .host_cgroup = (char *)"vfioctl.host",
                .cpuset_enabled = true,
                .irqs = (char *[]){ (char *)"24=0-7", NULL },
                .irq_default = (char *)"ff",
                .governors = (char *[]){ (char *)"2=schedutil", NULL }
        };
        vm_runstate *r = NULL;

        assert_int_equal(vm_runstate_write(dirfd_, &s), 0);
        assert_int_equal(vm_runstate_read(dirfd_, &r), 0);
        assert_string_equal(r->display_manager, "gdm.service");
        assert_string_equal(r->consoles[0], "vtcon1");
        assert_string_equal(r->framebuffers[0], "efi-framebuffer.0=efi-framebuffer");
        assert_int_equal(strv_length(r->handoff), 2);
        assert_string_equal(r->handoff[1], "0000:00:01.1=");
        assert_string_equal(r->vfio_nodes[0], "1=0:0:600");
        assert_string_equal(r->vm_cgroup, "vfioctl.vms/win");
        /* An empty old value (systemd's default: every CPU) is a value too. */
        assert_string_equal(r->cpu_units[0], "system.slice=");
        assert_string_equal(r->cpu_units[1], "user.slice=0-3,8");
        assert_string_equal(r->cpusets[0], "lxc.payload=0-7");
        assert_string_equal(r->host_cgroup, "vfioctl.host");
        assert_true(r->cpuset_enabled);
        assert_string_equal(r->irqs[0], "24=0-7");
        assert_string_equal(r->irq_default, "ff");
        assert_string_equal(r->governors[0], "2=schedutil");
        vm_runstate_free(r);
}

static void test_reason_cannot_forge_keys(void **state)
{
        vm_runstate s = { .state = VM_STATE_CRASHED, .exit_reason = (char *)"boom\npid=1\nstate=running" };
        vm_runstate *r = NULL;

        assert_int_equal(vm_runstate_write(dirfd_, &s), 0);
        assert_int_equal(vm_runstate_read(dirfd_, &r), 0);
        assert_int_equal(r->state, VM_STATE_CRASHED);
        assert_int_equal(r->pid, 0);
        assert_string_equal(r->exit_reason, "boom pid=1 state=running");
        vm_runstate_free(r);
}

static void test_bad_files_rejected(void **state)
{
        vm_runstate *r = NULL;

        assert_int_equal(vm_runstate_read(dirfd_, &r), -ENOENT);
        write_file("status", "state=flying\n");
        assert_int_equal(vm_runstate_read(dirfd_, &r), -EBADMSG);
        write_file("status", "state=running\npid=12x\n");
        assert_int_equal(vm_runstate_read(dirfd_, &r), -EBADMSG);
        write_file("status", "state=running\npid=99999999999\n");
        assert_int_equal(vm_runstate_read(dirfd_, &r), -EBADMSG);
        write_file("status", "no equals sign\n");
        assert_int_equal(vm_runstate_read(dirfd_, &r), -EBADMSG);
        /* A newer vfioctl's key is ignored, not an error. */
        write_file("status", "state=paused\nfuture_key=1\n");
        assert_int_equal(vm_runstate_read(dirfd_, &r), 0);
        assert_int_equal(r->state, VM_STATE_PAUSED);
        vm_runstate_free(r);
        assert_null(r = NULL);
}

static void test_oversized_status_rejected(void **state)
{
        char *big = malloc(VM_RUNSTATE_MAX_SIZE + 100);
        vm_runstate *r = NULL;

        assert_non_null(big);
        memset(big, 'a', VM_RUNSTATE_MAX_SIZE + 99);
        memcpy(big, "user=", 5);
        big[VM_RUNSTATE_MAX_SIZE + 99] = 0;
        write_file("status", big);
        free(big);
        assert_true(vm_runstate_read(dirfd_, &r) < 0);
}

static void test_lock_is_exclusive_across_processes(void **state)
{
        int fd = -1, fd2 = -1, status;
        pid_t pid;

        assert_int_equal(vm_runstate_lock_held(dirfd_), 0);
        assert_int_equal(vm_runstate_lock(dirfd_, &fd), 0);
        assert_int_equal(vm_runstate_lock_held(dirfd_), 1);
        pid = fork();
        if (pid == 0)
                _exit(vm_runstate_lock(dirfd_, &fd2) == -EBUSY ? 0 : 1);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_int_equal(WEXITSTATUS(status), 0);
        /* A forked child keeps the lock after its parent lets go (the --detach supervisor). */
        pid = fork();
        if (pid == 0) {
                usleep(300 * 1000);
                _exit(0);
        }
        close(fd);
        assert_int_equal(vm_runstate_lock_held(dirfd_), 1);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_int_equal(vm_runstate_lock_held(dirfd_), 0);
        assert_int_equal(vm_runstate_lock(dirfd_, &fd2), 0);
        close(fd2);
}

static void test_pid_liveness(void **state)
{
        int pfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        uint64_t t = 0;
        pid_t child;
        int status;

        assert_true(pfd >= 0);
        assert_int_equal(vm_proc_starttime(pfd, getpid(), &t), 0);
        assert_true(t > 0);
        assert_true(vm_runstate_pid_alive(pfd, getpid(), t));
        /* Same PID, other start time: a reused PID is not our QEMU. */
        assert_false(vm_runstate_pid_alive(pfd, getpid(), t + 1));
        child = fork();
        if (child == 0)
                _exit(0);
        {
                siginfo_t info = {};

                /* Until the child has exited, left unreaped (a zombie): a condition, not a sleep. */
                assert_int_equal(waitid(P_PID, (id_t)child, &info, WEXITED | WNOWAIT), 0);
        }
        assert_false(vm_runstate_pid_alive(pfd, child, 0)); /* a zombie is not running */
        waitpid(child, &status, 0);
        assert_false(vm_runstate_pid_alive(pfd, child, 0));
        assert_false(vm_runstate_pid_alive(pfd, 0, 0));
        close(pfd);
}

static void test_launch_argv_before_extra_args(void **state)
{
        char **argv = NULL;

        assert_int_equal(strv_extend(&argv, "qemu-system-x86_64"), 0);
        assert_int_equal(strv_extend(&argv, "-m"), 0);
        assert_int_equal(strv_extend(&argv, "1G"), 0);
        assert_int_equal(strv_extend(&argv, "-extra"), 0); /* [vm] extra_args stay last */
        assert_int_equal(vm_launch_argv(&argv, 1, "/run/vfioctl/a,b/qemu", false), 0);
        assert_string_equal(argv[3], "-S");
        assert_string_equal(argv[4], "-sandbox");
        assert_string_equal(argv[5], VM_LAUNCH_SANDBOX);
        assert_string_equal(argv[7],
                            "socket,id=ctl,path=/run/vfioctl/a,,b/qemu/ctl.sock,server=on,wait=off");
        assert_string_equal(argv[12], "-serial");
        assert_string_equal(argv[13], "chardev:console0");
        assert_string_equal(argv[14], "-extra");
        assert_null(argv[15]);
        strv_free(argv);
}

static void test_sandbox_spawn_only_for_helpers(void **state)
{
        static const char *const needs[] = {
                "[net \"lan\"]\ntype = bridge\nbridge = br0\n",
                "[net \"n\"]\ntype = user\n[share \"s\"]\ntype = smb\npath = /srv/share\n"
        };
        static const char *const plain[] = { "[net \"lan\"]\ntype = user\n", "[vm]\nmachine = q35\n" };
        vm_config *c = NULL;
        char **errors = NULL;

        for (size_t i = 0; i < 2; i++) {
                assert_int_equal(vm_config_parse_string(needs[i], "t.conf", "t", &c, &errors), 0);
                assert_true(vm_launch_needs_spawn(c));
                vm_config_free(c);
                assert_int_equal(vm_config_parse_string(plain[i], "t.conf", "t", &c, &errors), 0);
                assert_false(vm_launch_needs_spawn(c));
                vm_config_free(c);
        }
        assert_null(strstr(VM_LAUNCH_SANDBOX, "spawn=allow"));
        assert_non_null(strstr(VM_LAUNCH_SANDBOX_SPAWN, "elevateprivileges=children"));
}

static void test_env_blocks_display(void **state)
{
        assert_true(vm_launch_env_blocked("DISPLAY=:0"));
        assert_true(vm_launch_env_blocked("XAUTHORITY=/home/u/.Xauthority"));
        assert_true(vm_launch_env_blocked("WAYLAND_DISPLAY=wayland-0"));
        assert_false(vm_launch_env_blocked("DISPLAYS=1"));
        assert_false(vm_launch_env_blocked("PATH=/usr/bin"));
}

static void test_spawn_reports_exec_failure(void **state)
{
        char *argv[] = { (char *)"/nonexistent/qemu", NULL }, *envp[] = { NULL };
        vm_spawn s = { .argv = argv, .envp = envp, .log_fd = -1 };
        const char *stage = NULL;
        pid_t pid = 0;

        assert_int_equal(vm_launch_spawn(&s, &pid, &stage), -ENOENT);
        assert_string_equal(stage, "exec");
        assert_int_equal(pid, 0);
}

/* A privileged launch never finds QEMU through the caller's PATH, nor in the current directory. */
static void test_spawn_no_caller_path_when_privileged(void **state)
{
        char dir[] = "/tmp/test-spawn-path-XXXXXX", exe[128], *old_path, cwd[4096];
        char *argv[] = { (char *)"vfioctl-test-fake-qemu", NULL }, *envp[] = { NULL };
        vm_spawn s = { .argv = argv, .envp = envp, .log_fd = -1 };
        const char *stage = NULL;
        pid_t pid = 0;
        int fd, status;

        (void)state;
        if (geteuid() != 0)
                skip(); /* unprivileged, the user's own PATH is the right one */
        assert_non_null(mkdtemp(dir));
        snprintf(exe, sizeof(exe), "%s/vfioctl-test-fake-qemu", dir);
        fd = open(exe, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
        assert_true(fd >= 0);
        assert_true(write(fd, "#!/bin/sh\nexit 0\n", 18) == 18);
        close(fd);
        old_path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
        setenv("PATH", dir, 1);
        assert_non_null(getcwd(cwd, sizeof(cwd)));
        assert_int_equal(chdir(dir), 0);
        status = vm_launch_spawn(&s, &pid, &stage);
        assert_int_equal(chdir(cwd), 0);
        if (old_path)
                setenv("PATH", old_path, 1);
        free(old_path);
        if (status == 0)
                waitpid(pid, NULL, 0);
        unlink(exe);
        rmdir(dir);
        assert_int_equal(status, -ENOENT);
        assert_string_equal(stage, "exec");
}

/* The gate (issue 15 item 5): the program runs only after the caller recorded its pid, never unrecorded. */
typedef struct gate_ctx {
        char marker[256];
        pid_t seen;
        int mode; /* 0 record and go, 1 refuse, 2 die while recording */
} gate_ctx;

static int gate_record(pid_t pid, void *userdata)
{
        gate_ctx *g = userdata;
        struct stat st;

        g->seen = pid;
        /* The child waits at the gate: it cannot have run the program yet. */
        if (stat(g->marker, &st) == 0)
                return -EEXIST;
        if (g->mode == 2)
                _exit(42); /* kill -9 of the caller while it writes the record */
        return g->mode == 1 ? -EPERM : 0;
}

static void test_spawn_waits_for_the_record(void **state)
{
        char *argv[] = { (char *)"/bin/sh", (char *)"-c", NULL, NULL }, *envp[] = { NULL }, cmd[300];
        gate_ctx g = {};
        vm_spawn s = { .argv = argv,
                       .envp = envp,
                       .log_fd = -1,
                       .path = "/bin/sh",
                       .before_exec = gate_record,
                       .userdata = &g };
        const char *stage = NULL;
        struct stat st;
        pid_t pid = 0, middle;
        int status;

        (void)state;
        snprintf(g.marker, sizeof(g.marker), "%s/ran", tmpdir);
        snprintf(cmd, sizeof(cmd), "touch %s", g.marker);
        argv[2] = cmd;
        /* Recorded, then run. */
        assert_int_equal(vm_launch_spawn(&s, &pid, &stage), 0);
        assert_int_equal(g.seen, pid);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_int_equal(stat(g.marker, &st), 0);
        unlink(g.marker);
        /* The record failed: the program never runs. */
        g.mode = 1;
        assert_int_equal(vm_launch_spawn(&s, &pid, &stage), -EPERM);
        assert_string_equal(stage, "recording the process");
        usleep(200 * 1000);
        assert_int_equal(stat(g.marker, &st), -1);
        /* The caller dies while recording (a kill -9 then): the child finds the gate closed, runs nothing.
         */
        g.mode = 2;
        middle = fork();
        assert_true(middle >= 0);
        if (middle == 0) {
                (void)vm_launch_spawn(&s, &pid, &stage);
                _exit(0);
        }
        assert_int_equal(waitpid(middle, &status, 0), middle);
        assert_int_equal(WEXITSTATUS(status), 42);
        usleep(300 * 1000);
        assert_int_equal(stat(g.marker, &st), -1);
}

static void test_spawn_drops_privileges(void **state)
{
        char path[128], *out = NULL;
        char *argv[] = { (char *)"/usr/bin/id", NULL }, *envp[] = { NULL };
        vm_spawn s = {
                .argv = argv, .envp = envp, .drop = true, .uid = 65534, .gid = 65534, .memlock = 64 << 20
        };
        const char *stage = NULL;
        size_t n = 0;
        pid_t pid;
        int status, fd;
        FILE *f;

        {
                /* Without CAP_SYS_RESOURCE (a container) root cannot raise the hard limit: stay below it. */
                struct rlimit rl;

                if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
                    rl.rlim_max < s.memlock)
                        s.memlock = rl.rlim_max;
        }
        if (getuid() != 0) {
                /* Not root: the drop must fail in the child, at setgroups, and say so. */
                snprintf(path, sizeof(path), "%s/id.out", tmpdir);
                s.log_fd = -1;
                assert_int_equal(vm_launch_spawn(&s, &pid, &stage), -EPERM);
                return;
        }
        snprintf(path, sizeof(path), "%s/id.out", tmpdir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        s.log_fd = fd;
        status = vm_launch_spawn(&s, &pid, &stage);
        if (status < 0)
                fail_msg("spawn failed at %s: %s", stage, strerror(-status));
        assert_int_equal(waitpid(pid, &status, 0), pid);
        close(fd);
        f = fopen(path, "re");
        assert_non_null(f);
        assert_true(getline(&out, &n, f) > 0);
        fclose(f);
        unlink(path);
        /* uid, gid and no supplementary groups: "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"
         */
        assert_non_null(strstr(out, "uid=65534("));
        assert_non_null(strstr(out, "gid=65534("));
        assert_null(strstr(out, "groups=0"));
        assert_null(strstr(out, ",0("));
        free(out);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_round_trip_host_steps, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reason_cannot_forge_keys, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_files_rejected, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oversized_status_rejected, setup, teardown),
                cmocka_unit_test_setup_teardown(test_lock_is_exclusive_across_processes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pid_liveness, setup, teardown),
                cmocka_unit_test(test_launch_argv_before_extra_args),
                cmocka_unit_test(test_env_blocks_display),
                cmocka_unit_test(test_sandbox_spawn_only_for_helpers),
                cmocka_unit_test(test_spawn_reports_exec_failure),
                cmocka_unit_test(test_spawn_no_caller_path_when_privileged),
                cmocka_unit_test_setup_teardown(test_spawn_drops_privileges, setup, teardown),
                cmocka_unit_test_setup_teardown(test_spawn_waits_for_the_record, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
