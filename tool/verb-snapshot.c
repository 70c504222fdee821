/* vfioctl snapshot: create, list, roll back and delete one snapshot across a VM's disks and OVMF vars file.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "parse-util.h"
#include "strv.h"
#include "tool.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/runstate.h"
#include "vfioctl/storage.h"
#include "vfioctl/vmpaths.h"
#include "vfioctl/vmrun.h"

static char **arg_disks;
static const char *arg_vars;
static char *vm_vars;
static int64_t arg_pid;

static bool vm_running;

static int refuse_running(const char *what)
{
        int r = vm_running ? 1 : vfio_storage_vm_running((pid_t)arg_pid, NULL);

        if (r <= 0)
                return 0;
        /* A VM with a passed-through device has no savable live state: QEMU's migration blockers say
         * "State blocked by non-migratable device" (vfio-pci), and disks changing under a running guest
         * would give a snapshot it never wrote. */
        tool_error(
                "cannot %s while the VM runs (QEMU pid %lld): a passed-through device blocks live state (QEMU: \"State blocked by non-migratable device\"); shut the VM down, then run this again",
                what, (long long)arg_pid);
        return -EBUSY;
}

static const char *const subverbs[] = { "create", "list", "rollback", "delete" };

static bool is_subverb(const char *s)
{
        for (size_t i = 0; i < ELEMENTSOF(subverbs); i++)
                if (strcmp(s, subverbs[i]) == 0)
                        return true;
        return false;
}

/*
 * `snapshot VM create|...`: the disks (not CD-ROMs) and the OVMF vars file come from the VM's config (the
 * vars where start keeps them: /var/lib/vfioctl/NAME as root, $XDG_STATE_HOME/vfioctl/NAME otherwise), and
 * "running" from its runtime state, so nobody has to pass --disk or --running-pid by hand.
 */
static int load_vm(const char *name, bool *ret_running, pid_t *ret_pid)
{
        _cleanup_(vm_config_freep) vm_config *c = NULL;
        _cleanup_(vm_runstate_freep) vm_runstate *st = NULL;
        _cleanup_free_ char *base = NULL, *dir = NULL, *err = NULL;
        _cleanup_(vm_run_freep) vm_run *run = NULL;
        vm_paths_buf paths = {};
        int r;

        r = tool_load_config_trusted(name, &c);
        if (r < 0)
                return r;
        for (size_t i = 0; i < c->n_disks; i++)
                if (c->disks[i].media == VM_MEDIA_DISK && c->disks[i].path &&
                    (r = strv_extend(&arg_disks, c->disks[i].path)) < 0)
                        return r;
        if (c->firmware.type == VM_FIRMWARE_OVMF && !arg_vars) {
                r = vm_default_paths(c, &paths);
                if (r < 0)
                        return r;
                if (geteuid() == 0) {
                        free(paths.state_dir);
                        paths.state_dir = NULL;
                        (void)vm_system_state_dir(arg_root, c->name, &paths.state_dir);
                        paths.paths.state_dir = paths.state_dir;
                }
                vm_vars = paths.state_dir ? vm_qemu_firmware_vars(c, &paths.paths) : NULL;
                vm_paths_done(&paths);
                /* A VM that never started has no vars copy yet: nothing to snapshot there. */
                if (vm_vars && access(vm_vars, F_OK) == 0)
                        arg_vars = vm_vars;
        }
        *ret_running = false;
        *ret_pid = 0;
        if (vm_run_base(arg_root, &base) >= 0 && asprintf(&dir, "%s/%s", base, c->name) >= 0 &&
            access(dir, F_OK) == 0 && vm_run_open(arg_root, c->name, false, &run, &err) < 0)
                tool_error("%s", err ? err : strerror(ENOMEM));
        else if (run && vm_run_load(run, &st) >= 0 &&
                 (st->state == VM_STATE_RUNNING || st->state == VM_STATE_PAUSED ||
                  st->state == VM_STATE_STARTING) &&
                 vm_run_alive(run, st)) {
                *ret_running = true;
                *ret_pid = st->pid;
        }
        if (!arg_disks) {
                tool_error("VM '%s' has no disks ([disk] sections) to snapshot", c->name);
                return -ENOENT;
        }
        return 0;
}

static int load_plan(vfio_storage_tools *t, vfio_snap_plan **ret)
{
        _cleanup_free_ char *refused = NULL;
        int r;

        r = vfio_snapshot_plan(t, arg_disks, arg_vars, ret, &refused);
        if (r == -EOPNOTSUPP) {
                tool_error(
                        "%s is a raw image outside ZFS: it has no snapshots. Convert it to qcow2 (vfioctl disk import %s %s.qcow2) or move it onto a ZFS dataset",
                        refused, refused, refused);
                return r;
        }
        if (r < 0) {
                tool_error("cannot inspect %s: %s", refused ? refused : "the disks", tool_path_refusal(r));
                return r;
        }
        return tool_storage_run_as(t, (*ret)->disks[0].path, (*ret)->owner);
}

static void describe(const vfio_snap_plan *p)
{
        for (size_t i = 0; i < p->n_disks; i++)
                printf("  %s: %s%s\n", p->disks[i].path,
                       p->disks[i].backend == VFIO_SNAP_ZFS ? "zfs dataset " : "qcow2 internal snapshot",
                       p->disks[i].backend == VFIO_SNAP_ZFS ? p->disks[i].dataset : "");
        if (p->vars.path)
                printf("  %s: %s%s\n", p->vars.path,
                       p->vars.backend == VFIO_SNAP_ZFS ? "zfs dataset " : "copied to <vars>.snap-NAME",
                       p->vars.backend == VFIO_SNAP_ZFS ? p->vars.dataset : "");
}

static int list(const vfio_storage_tools *t, const vfio_snap_plan *p)
{
        vfio_snap_info *a = NULL;
        size_t n = 0;
        int r;

        r = vfio_snapshot_list(t, p, &a, &n);
        if (r < 0) {
                tool_error("cannot list snapshots: %s", strerror(-r));
                return EXIT_FAILURE_GENERIC;
        }
        if (arg_json) {
                struct json_object *arr = json_object_new_array();

                for (size_t i = 0; i < n; i++) {
                        struct json_object *o = json_object_new_object();

                        json_object_object_add(o, "name", json_object_new_string(a[i].name));
                        json_object_object_add(o, "complete",
                                               json_object_new_boolean(a[i].n_have == a[i].n_total));
                        json_object_object_add(o, "parts", json_object_new_int64((int64_t)a[i].n_have));
                        json_object_object_add(o, "parts_total",
                                               json_object_new_int64((int64_t)a[i].n_total));
                        json_object_object_add(o, "created",
                                               a[i].created >= 0 ? json_object_new_int64(a[i].created)
                                                                 : NULL);
                        json_object_array_add(arr, o);
                }
                printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY));
                json_object_put(arr);
        } else {
                printf("%-24s %-20s %s\n", "NAME", "CREATED", "PARTS");
                for (size_t i = 0; i < n; i++) {
                        char when[32] = "-";
                        time_t tt = (time_t)a[i].created;
                        struct tm tm;

                        if (a[i].created >= 0 && localtime_r(&tt, &tm))
                                strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
                        printf("%-24s %-20s %zu/%zu%s\n", a[i].name, when, a[i].n_have, a[i].n_total,
                               a[i].n_have == a[i].n_total ? "" : " (incomplete: not on every disk)");
                }
        }
        vfio_snap_info_free_array(a, n);
        return EXIT_OK;
}

int verb_snapshot(int argc, char **argv)
{
        enum { OPT_DISK = 0x100, OPT_VARS, OPT_PID };
        static const struct option options[] = {
                { "disk", required_argument, NULL, OPT_DISK },
                { "vars", required_argument, NULL, OPT_VARS },
                { "running-pid", required_argument, NULL, OPT_PID },
                { "json", no_argument, NULL, 'j' },
                {},
        };
        _cleanup_(vfio_snap_plan_freep) vfio_snap_plan *p = NULL;
        _cleanup_free_ char *err = NULL;
        vfio_storage_tools t;
        const char *sub, *name = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case OPT_DISK:
                        if (strv_extend(&arg_disks, optarg) < 0)
                                return EXIT_FAILURE_GENERIC;
                        break;
                case OPT_VARS:
                        arg_vars = optarg;
                        break;
                case OPT_PID:
                        if (parse_int(optarg, 1, INT32_MAX, &arg_pid) < 0) {
                                tool_error("--running-pid: '%s' is not a process id", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'j':
                        arg_json = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        }
        if (tool_check_arity(argc - optind) < 0)
                return EXIT_USAGE;
        sub = argv[optind];
        if (!is_subverb(sub) && argc - optind >= 2 && is_subverb(argv[optind + 1])) {
                /* snapshot VM create|list|rollback|delete [SNAP] */
                pid_t pid = 0;

                if (arg_disks) {
                        tool_error("snapshot %s: a VM's disks come from its config; drop --disk", sub);
                        return EXIT_USAGE;
                }
                r = load_vm(sub, &vm_running, &pid);
                if (r < 0)
                        return r == -EINVAL ? EXIT_DATAERR : EXIT_FAILURE_GENERIC;
                if (vm_running)
                        arg_pid = pid;
                optind++;
                sub = argv[optind];
        } else if (argc - optind > 2) {
                tool_error("snapshot: expected [VM] create|list|rollback|delete [SNAP]");
                return EXIT_USAGE;
        }
        if (argc - optind == 2)
                name = argv[optind + 1];
        if (!arg_disks) {
                tool_error("snapshot: name the VM's disks with --disk PATH (one per disk)");
                return EXIT_USAGE;
        }
        if (strcmp(sub, "list") != 0 && !name) {
                tool_error("snapshot %s: expected a snapshot NAME", sub);
                return EXIT_USAGE;
        }
        if (name && !vfio_snapshot_name_valid(name)) {
                tool_error("snapshot name '%s': use 1-64 of A-Z a-z 0-9 _ . : - (not starting with - or .)",
                           name);
                return EXIT_USAGE;
        }
        tool_storage_tools(&t, NULL);
        if (strcmp(sub, "list") == 0) {
                if (load_plan(&t, &p) < 0)
                        return EXIT_FAILURE_GENERIC;
                return list(&t, p);
        }
        if (strcmp(sub, "create") != 0 && strcmp(sub, "rollback") != 0 && strcmp(sub, "delete") != 0) {
                tool_error("snapshot: '%s' is not one of create, list, rollback, delete", sub);
                return EXIT_USAGE;
        }
        /* Deleting a snapshot is safe while the VM runs; creating or rolling back is not. */
        if (strcmp(sub, "delete") != 0 &&
            refuse_running(strcmp(sub, "create") == 0 ? "snapshot" : "roll back") < 0)
                return EXIT_FAILURE_GENERIC;
        if (load_plan(&t, &p) < 0)
                return EXIT_FAILURE_GENERIC;
        if (strcmp(sub, "create") == 0)
                r = vfio_snapshot_create(&t, p, name, &err);
        else if (strcmp(sub, "rollback") == 0)
                r = vfio_snapshot_rollback(&t, p, name, &err);
        else
                r = vfio_snapshot_delete(&t, p, name, &err);
        if (r < 0) {
                if (r == -EEXIST)
                        tool_error("snapshot %s already exists; delete it first or pick another name", name);
                else
                        tool_error("snapshot %s %s: %s", sub, name, err ? err : strerror(-r));
                return EXIT_FAILURE_GENERIC;
        }
        if (!arg_json) {
                printf("%s %s:\n",
                       strcmp(sub, "create") == 0     ? "created"
                       : strcmp(sub, "rollback") == 0 ? "rolled back to"
                                                      : "deleted",
                       name);
                describe(p);
        }
        return EXIT_OK;
}
