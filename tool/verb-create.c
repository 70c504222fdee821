/* vfioctl create NAME: writes a complete, commented VM config with defaults chosen from this host. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "parse-util.h"
#include "strv.h"
#include "tool.h"
#include "vfioctl/hostfile.h"
#include "vfioctl/model.h"
#include "vfioctl/pciids.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/selector.h"
#include "vfioctl/storage.h"
#include "vfioctl/vmcreate.h"
#include "vfioctl/vmdefaults.h"
#include "vfioctl/vmpaths.h"

static const char *arg_gpu;
static const char *arg_memory;
static const char *arg_cpus;
static const char *arg_disk;
static const char *arg_iso;
static const char *arg_output;
static const char *arg_user;
static bool arg_windows;
static bool arg_force;
static bool arg_dry_run;
static const char *arg_desktop_user;

/* qemu-img create -f qcow2 PATH SIZE through the storage module: by absolute path, never a shell, into a
 * hidden partial file that takes PATH's name only when complete (a kill never leaves half an image). */
static int create_image(const char *path, const char *size)
{
        _cleanup_free_ char *err = NULL;
        vfio_storage_tools t;
        uint64_t bytes;
        int r;

        r = parse_size(size, &bytes);
        if (r < 0)
                return r;
        tool_storage_tools(&t, NULL);
        return vfio_storage_create_image(&t, path, VFIO_DISK_QCOW2, bytes, false, &err);
}

static int parse_options(int argc, char **argv)
{
        enum {
                OPT_GPU = 0x100,
                OPT_MEMORY,
                OPT_CPUS,
                OPT_DISK,
                OPT_ISO,
                OPT_WINDOWS,
                OPT_FORCE,
                OPT_DRY_RUN,
                OPT_OUTPUT,
                OPT_USER,
                OPT_DESKTOP_USER,
        };
        static const struct option options[] = {
                { "gpu", required_argument, NULL, OPT_GPU },
                { "memory", required_argument, NULL, OPT_MEMORY },
                { "cpus", required_argument, NULL, OPT_CPUS },
                { "disk", required_argument, NULL, OPT_DISK },
                { "iso", required_argument, NULL, OPT_ISO },
                { "windows", no_argument, NULL, OPT_WINDOWS },
                { "force", no_argument, NULL, OPT_FORCE },
                { "dry-run", no_argument, NULL, OPT_DRY_RUN },
                { "output", required_argument, NULL, OPT_OUTPUT },
                { "user", required_argument, NULL, OPT_USER },
                { "desktop-user", required_argument, NULL, OPT_DESKTOP_USER },
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case OPT_GPU:
                        arg_gpu = optarg;
                        break;
                case OPT_MEMORY:
                        arg_memory = optarg;
                        break;
                case OPT_CPUS:
                        arg_cpus = optarg;
                        break;
                case OPT_DISK:
                        arg_disk = optarg;
                        break;
                case OPT_ISO:
                        arg_iso = optarg;
                        break;
                case OPT_WINDOWS:
                        arg_windows = true;
                        break;
                case OPT_FORCE:
                        arg_force = true;
                        break;
                case OPT_DRY_RUN:
                        arg_dry_run = true;
                        break;
                case OPT_OUTPUT:
                        arg_output = optarg;
                        break;
                case OPT_USER:
                        arg_user = optarg;
                        break;
                case OPT_DESKTOP_USER:
                        arg_desktop_user = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        return 0;
}

/* The user at the screen: --desktop-user, else as vm_create_desktop_user picks one. NULL: unknown. */
static int pick_desktop_user(const vfio_host *h, char **ret)
{
        int r = vm_create_desktop_user(h, arg_desktop_user, ret);

        if (r == -EINVAL)
                tool_error("--desktop-user: '%s' is not a user name (letters, digits, '.', '_', '-')",
                           arg_desktop_user);
        return r;
}

/*
 * The VM user written to [vm] user: --user; else, through sudo, the user who ran sudo; else the caller
 * (start by anyone else requires [vm] user to name them). Root alone has no one to name: start as root
 * refuses a VM without it, so the warning says how to set it.
 */
static char *default_user(void)
{
        const char *sudo = secure_getenv("SUDO_USER");
        struct passwd *pw;

        if (arg_user)
                return strdup(arg_user);
        if (geteuid() == 0 && sudo && *sudo && strcmp(sudo, "root") != 0)
                return strdup(sudo);
        if (geteuid() != 0 && (pw = getpwuid(geteuid())))
                return strdup(pw->pw_name);
        return NULL;
}

int verb_create(int argc, char **argv)
{
        _cleanup_(vm_config_freep) vm_config *c = NULL;
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_(vfio_model_freep) vfio_model *m = NULL;
        _cleanup_(vfio_pci_names_freep) vfio_pci_names *names = NULL;
        _cleanup_free_ char *text = NULL, *dir = NULL, *path = NULL, *user = NULL, *desktop_user = NULL;
        _cleanup_strv_free_ char **errors = NULL, **warnings = NULL, **build_errors = NULL;
        vm_create_opts o;
        _cleanup_(vm_config_freep) vm_config *check = NULL;
        _cleanup_(vm_paths_done) vm_paths_buf paths = {};
        const char *name;
        int r;

        if (parse_options(argc, argv) < 0)
                return EXIT_USAGE;
        user = default_user();
        if (tool_check_arity(argc - optind) < 0)
                return EXIT_USAGE;
        name = argv[optind];
        if (!vm_name_valid(name)) {
                tool_error("'%s' is not a VM name: use letters, digits, '-', '_' and '.' (at most 64)",
                           name);
                return EXIT_USAGE;
        }
        if (vm_config_new(name, &c) < 0 || tool_open_host(&h) < 0)
                return EXIT_FAILURE_GENERIC;
        r = pick_desktop_user(h, &desktop_user);
        if (r < 0)
                return r == -EINVAL ? EXIT_USAGE : EXIT_FAILURE_GENERIC;
        if (arg_gpu) {
                if (tool_load_model(h, &m) < 0)
                        return EXIT_FAILURE_GENERIC;
                (void)vfio_pci_names_new(NULL, &names);
        }
        if (vm_default_paths(c, &paths) < 0)
                return EXIT_FAILURE_GENERIC;
        o = (vm_create_opts){ .gpu = arg_gpu,
                              .memory = arg_memory,
                              .cpus = arg_cpus,
                              .disk = arg_disk,
                              .iso = arg_iso,
                              .windows = arg_windows,
                              .state_dir = paths.state_dir,
                              .user = user,
                              .desktop_user = desktop_user };
        if (arg_user && (!*arg_user || strpbrk(arg_user, " \t\n=#;[]\"'\\") || strlen(arg_user) > 32)) {
                tool_error("--user: '%s' is not a user name", arg_user);
                return EXIT_USAGE;
        }
        if (!user)
                tool_warning(
                        "no VM user: vfioctl start as root refuses a VM without [vm] user; pass --user NAME (the account QEMU runs as)");
        r = vm_create_build(c, h, m, names, &o, &warnings, &build_errors);
        STRV_FOREACH(w, warnings)
                tool_warning("%s", *w);
        STRV_FOREACH(e, build_errors)
                tool_error("%s", *e);
        if (r < 0)
                return r == -ENXIO ? EXIT_DATAERR : r == -EINVAL ? EXIT_USAGE : EXIT_FAILURE_GENERIC;
        r = vm_config_write(c, VM_CONFIG_WRITE_GUIDE, NULL, &text);
        if (r < 0)
                return EXIT_FAILURE_GENERIC;
        /* What we write must pass our own parser: a create that writes an invalid file is a bug. */
        r = vm_config_parse_string(text, "<generated>", name, &check, &errors);
        STRV_FOREACH(e, errors)
                tool_error("internal: generated config is invalid: %s", *e);
        if (r < 0)
                return EXIT_FAILURE_GENERIC;
        if (arg_dry_run) {
                fputs(text, stdout);
                return EXIT_OK;
        }
        if (arg_output)
                path = strdup(arg_output);
        else if (vm_user_config_dir(&dir) < 0 || mkdir_p(dir, 0755) < 0 ||
                 asprintf(&path, "%s/%s.conf", dir, name) < 0)
                path = NULL;
        if (!path) {
                tool_error("cannot make the config directory %s; set XDG_CONFIG_HOME or use --output FILE",
                           dir ? dir : "$XDG_CONFIG_HOME/vfioctl/vms");
                return EXIT_FAILURE_GENERIC;
        }
        /* Refuse before touching anything: a create that fails on an existing config must not have
         * replaced the VM's disk image on the way. */
        if (!arg_force && access(path, F_OK) == 0) {
                tool_error("%s exists; edit it, or overwrite with: vfioctl create --force %s", path, name);
                return EXIT_FAILURE_GENERIC;
        }
        if (arg_disk && arg_disk[0] != '/' && access(c->disks[0].path, F_OK) == 0) {
                /* Never replace a disk image, not even with --force: it holds the guest's data. */
                tool_error(
                        "%s exists: vfioctl create never replaces a disk image; remove it yourself, or pass --disk %s to use it",
                        c->disks[0].path, c->disks[0].path);
                return EXIT_FAILURE_GENERIC;
        }
        if (arg_disk && arg_disk[0] != '/') {
                r = mkdir_p(paths.state_dir, 0755);
                if (r >= 0)
                        r = create_image(c->disks[0].path, arg_disk);
                if (r < 0) {
                        tool_error("cannot create the disk image %s: run: qemu-img create -f qcow2 %s %s",
                                   c->disks[0].path, c->disks[0].path, arg_disk);
                        return EXIT_FAILURE_GENERIC;
                }
                printf("Created disk image %s (%s, qcow2)\n", c->disks[0].path, arg_disk);
        }
        r = write_file_atomic(path, text, strlen(text), 0644, arg_force ? 0 : WRITE_ATOMIC_NOREPLACE);
        if (r == -EEXIST) {
                tool_error("%s exists; edit it, or overwrite with: vfioctl create --force %s", path, name);
                return EXIT_FAILURE_GENERIC;
        }
        if (r < 0) {
                tool_error("cannot write %s: %s", path, strerror(-r));
                return EXIT_FAILURE_GENERIC;
        }
        printf("Wrote %s\nNext: vfioctl validate %s && vfioctl cmdline %s\n", path, name, name);
        return EXIT_OK;
}
