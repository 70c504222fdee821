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
#include "vfioctl/account.h"
#include "vfioctl/hostfile.h"
#include "vfioctl/model.h"
#include "vfioctl/pciids.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/selector.h"
#include "vfioctl/storage.h"
#include "vfioctl/vmdefaults.h"
#include "vfioctl/vmpaths.h"

static const char *arg_gpu;
static const char *arg_memory;
static const char *arg_cpus;
static const char *arg_disk;
static const char *arg_iso;
static const char *arg_output;
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

static int add_item(void **array, size_t *n, size_t size, const char *name, void **ret)
{
        char *a = realloc(*array, (*n + 1) * size);

        if (!a)
                return -ENOMEM;
        *array = a;
        a += *n * size;
        memset(a, 0, size);
        *(char **)a = strdup(name);
        if (!*(char **)a)
                return -ENOMEM;
        (*n)++;
        *ret = a;
        return 0;
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
                case OPT_DESKTOP_USER:
                        arg_desktop_user = optarg;
                        break;
                default:
                        return -EINVAL;
                }
        return 0;
}

/*
 * The user at the screen, who hears the VM and runs the Looking Glass client (docs/audio.md): the option,
 * else on the running system who ran sudo, the seat's active user, or the caller. NULL: unknown.
 */
static int pick_desktop_user(const vfio_host *h, char **ret)
{
        const char *sudo = secure_getenv("SUDO_USER");
        struct passwd *pw;

        *ret = NULL;
        if (arg_desktop_user) {
                /* What vfioctl.conf(5) takes: it goes into tmpfiles.d lines and udev rules later. */
                if (!*arg_desktop_user || strlen(arg_desktop_user) > 32 || arg_desktop_user[0] == '-' ||
                    arg_desktop_user[strspn(
                            arg_desktop_user,
                            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")]) {
                        tool_error(
                                "--desktop-user: '%s' is not a user name (letters, digits, '.', '_', '-')",
                                arg_desktop_user);
                        return -EINVAL;
                }
                return (*ret = strdup(arg_desktop_user)) ? 0 : -ENOMEM;
        }
        if (!vfio_host_is_live(h))
                return 0;
        if (getuid() == 0 && sudo && *sudo && strcmp(sudo, "root") != 0)
                return (*ret = strdup(sudo)) ? 0 : -ENOMEM;
        if (getuid() == 0) {
                int r = vfio_account_seat_user(h, ret);

                return r == -ENOMEM ? r : 0;
        }
        pw = getpwuid(getuid());
        if (pw)
                return (*ret = strdup(pw->pw_name)) ? 0 : -ENOMEM;
        return 0;
}

static int pick_gpu(vm_config *c, const vfio_model *m, vfio_pci_names *names)
{
        _cleanup_(vfio_selector_freep) vfio_selector *sel = NULL;
        _cleanup_strv_free_ char **found = NULL;
        const vfio_model_device *d = NULL;
        vm_pci *p;
        int r;

        if (strcmp(arg_gpu, "auto") == 0) {
                d = vm_pick_gpu(m);
                if (!d) {
                        tool_error(
                                "--gpu auto: no display device on this host can be passed through; 'vfioctl devices --gpu' shows why");
                        return -ENXIO;
                }
        } else {
                r = vfio_selector_parse(arg_gpu, &sel);
                if (r < 0) {
                        tool_error("--gpu: '%s' is not a selector (01:00.0, 10de:1b80 or a name pattern)",
                                   arg_gpu);
                        return r;
                }
                r = vfio_selector_resolve(sel, m, names, &found);
                if (r < 0 || found[1]) {
                        tool_error("--gpu: '%s' matches %s on this host; 'vfioctl devices --gpu' lists them",
                                   arg_gpu, r < 0 ? "no PCI device" : "several devices");
                        return -ENXIO;
                }
                d = vfio_model_find_device(m, found[0]);
        }
        r = add_item((void **)&c->gpus, &c->n_gpus, sizeof(vm_pci), "gpu", (void **)&p);
        if (r < 0)
                return r;
        p->device = strdup(d->pci->name);
        if (!p->device)
                return -ENOMEM;
        p->functions_auto = true;
        p->rombar = true;
        if (d->verdict == VFIO_VERDICT_WITH_PEERS)
                tool_warning(
                        "GPU %s shares its IOMMU group with other devices; they must all be bound to vfio-pci",
                        d->pci->name);
        return 0;
}

static int host_defaults(vm_config *c, const vfio_host *h, const vfio_model *m)
{
        _cleanup_free_ vm_host_cpu *cpus = NULL;
        _cleanup_(vm_pin_plan_freep) vm_pin_plan *plan = NULL;
        _cleanup_(vm_others_freep) vm_others *others = NULL;
        vm_pin_request req = { .gpu_node = -1 };
        size_t n = 0;
        unsigned vcpus, threads = 1;
        uint64_t v, pages;
        int r;

        r = vm_host_cpus(h, &cpus, &n);
        if (r < 0)
                tool_warning("cannot read the CPU topology below %s: %s; no pinning planned",
                             vfio_host_root(h), strerror(-r));
        if (arg_cpus) {
                if (parse_uint(arg_cpus, 10, 256, &v) < 0 || v == 0) {
                        tool_error("--cpus: '%s' is not a count from 1 to 256", arg_cpus);
                        return -EINVAL;
                }
                vcpus = (unsigned)v;
        } else
                /* Leave one core to the host; cap at 8 vCPUs, plenty for a desktop guest. */
                vcpus = n > 2 ? (unsigned)(n - 2 < 8 ? n - 2 : 8) : 1;
        req.vcpus = vcpus;
        if (m && c->n_gpus > 0 && c->gpus[0].device) {
                const vfio_model_device *d = vfio_model_find_device(m, c->gpus[0].device);

                if (d) {
                        req.gpu_node = d->pci->numa_node;
                        req.gpu = d->pci->name;
                }
        }
        r = vm_others_load(h, c->name, &others);
        if (r < 0)
                return r;
        req.holders = others->holders;
        req.n_holders = others->n;
        if (n > 0 && (r = vm_plan_pinning(cpus, n, &req, &plan)) == 0) {
                c->cpu.pin = TAKE_PTR(plan->pin);
                c->cpu.emulator_pin = TAKE_PTR(plan->emulator);
                c->cpu.pin_notes = TAKE_PTR(plan->why);
                threads = plan->threads;
                if (plan->memory_node >= 0) {
                        char node[16];

                        snprintf(node, sizeof(node), "%d", plan->memory_node);
                        if (strv_extend(&c->memory.host_nodes, node) < 0)
                                return -ENOMEM;
                }
                if (plan->shared_with) {
                        _cleanup_free_ char *who = strv_join(plan->shared_with, "', '");

                        tool_warning(
                                "VM '%s' shares host CPUs with VM '%s': this host has no free core left for its %u vCPUs; the comment above [cpu] pin in its config says which CPUs",
                                c->name, who ? who : "?", vcpus);
                }
        } else if (r == -ENOMEM)
                return r;
        else if (n > 0)
                tool_warning(
                        "this host has %zu CPUs: too few to pin %u vCPUs and keep a core for itself; no pinning planned",
                        n, vcpus);
        c->cpu.threads = threads;
        c->cpu.cores = vcpus / threads;
        c->cpu.sockets = 1;

        if (arg_memory) {
                if (parse_size(arg_memory, &v) < 0 || v < (256ULL << 20)) {
                        tool_error("--memory: '%s' is not a size of at least 256M (16G, 16384M)",
                                   arg_memory);
                        return -EINVAL;
                }
                c->memory.size = v;
        } else
                c->memory.size = 8ULL << 30;
        /* Use hugepages only when enough are already reserved: reserving them is a host change. */
        if (vm_host_hugepages_free(h, 1048576, &pages) == 0 && pages * (1ULL << 30) >= c->memory.size &&
            c->memory.size % (1ULL << 30) == 0)
                c->memory.hugepages = VM_HUGEPAGES_1G;
        else if (vm_host_hugepages_free(h, 2048, &pages) == 0 && pages * (2ULL << 20) >= c->memory.size &&
                 c->memory.size % (2ULL << 20) == 0)
                c->memory.hugepages = VM_HUGEPAGES_2M;
        /* Hugepages are allocated at start, all of them: one thread per host CPU zeroes them in a
         * fraction of the time one thread takes (docs/BENCHMARKS.md, "Memory setup"). */
        if (c->memory.hugepages != VM_HUGEPAGES_NONE && n > 0)
                c->memory.prealloc_threads = n > 256 ? 256 : (unsigned)n;
        return 0;
}

static int build(vm_config *c, const vfio_host *h, const vfio_model *m, vm_paths_buf *paths)
{
        vm_disk *d;
        vm_net *net;
        int r;

        if (arg_windows) {
                c->vm.os = VM_OS_WINDOWS;
                c->vm.rtc_localtime = true;
                c->vm.rtc_catchup = true;
                c->vm.pit_delay = true;
                c->vm.hpet = false;
                c->cpu.hyperv = true;
                /* Windows 11 requires TPM 2.0 and Secure Boot. */
                c->tpm.enabled = true;
                c->firmware.secure_boot = true;
        }
        r = host_defaults(c, h, m);
        if (r < 0)
                return r;
        if (arg_disk) {
                uint64_t size;

                r = add_item((void **)&c->disks, &c->n_disks, sizeof(vm_disk), "system", (void **)&d);
                if (r < 0)
                        return r;
                /* Windows setup has no virtio drivers: SATA installs out of the box. */
                d->bus = arg_windows ? VM_DISK_SATA : VM_DISK_VIRTIO_BLK;
                d->bootindex = 1;
                if (arg_disk[0] != '/' && parse_size(arg_disk, &size) == 0) {
                        if (asprintf(&d->path, "%s/system.qcow2", paths->state_dir) < 0)
                                return -ENOMEM;
                        d->format = VM_DISK_QCOW2;
                        d->discard = strdup("unmap");
                        if (!d->discard)
                                return -ENOMEM;
                } else if (arg_disk[0] == '/') {
                        d->path = strdup(arg_disk);
                        if (!d->path)
                                return -ENOMEM;
                        if (strlen(arg_disk) > 6 && strcmp(arg_disk + strlen(arg_disk) - 6, ".qcow2") == 0)
                                d->format = VM_DISK_QCOW2;
                        else if (strncmp(arg_disk, "/dev/", 5) == 0) {
                                /* Block devices and zvols: no host page cache, native AIO. */
                                d->cache = strdup("none");
                                d->aio = strdup("native");
                                if (!d->cache || !d->aio)
                                        return -ENOMEM;
                        }
                } else {
                        tool_error("--disk: '%s' is neither an absolute path nor a size (64G)", arg_disk);
                        return -EINVAL;
                }
        }
        if (arg_iso) {
                if (arg_iso[0] != '/') {
                        tool_error("--iso: '%s' must be an absolute path", arg_iso);
                        return -EINVAL;
                }
                r = add_item((void **)&c->disks, &c->n_disks, sizeof(vm_disk), "install", (void **)&d);
                if (r < 0)
                        return r;
                d->media = VM_MEDIA_CDROM;
                d->bus = VM_DISK_SATA;
                d->bootindex = 2;
                d->path = strdup(arg_iso);
                if (!d->path)
                        return -ENOMEM;
        }
        r = add_item((void **)&c->nets, &c->n_nets, sizeof(vm_net), "lan", (void **)&net);
        if (r < 0)
                return r;
        net->model = arg_windows ? VM_NET_E1000E : VM_NET_VIRTIO;
        c->audio.enabled = true;
        r = pick_desktop_user(h, &c->vm.desktop_user);
        if (r < 0)
                return r;
        if (c->vm.desktop_user && strcmp(c->vm.desktop_user, "root") == 0) {
                /* nobody's desktop session runs as root */
                free(c->vm.desktop_user);
                c->vm.desktop_user = NULL;
        }
        if (c->n_gpus == 0) {
                /* Without a passed GPU the guest needs a screen of its own. */
                c->display.device = VM_DISPLAY_VIRTIO_VGA;
                c->display.protocol = VM_PROTOCOL_SPICE;
        }
        return 0;
}

int verb_create(int argc, char **argv)
{
        _cleanup_(vm_config_freep) vm_config *c = NULL;
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_(vfio_model_freep) vfio_model *m = NULL;
        _cleanup_(vfio_pci_names_freep) vfio_pci_names *names = NULL;
        _cleanup_free_ char *text = NULL, *dir = NULL, *path = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_(vm_config_freep) vm_config *check = NULL;
        _cleanup_(vm_paths_done) vm_paths_buf paths = {};
        const char *name;
        int r;

        if (parse_options(argc, argv) < 0)
                return EXIT_USAGE;
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
        if (arg_gpu) {
                if (tool_load_model(h, &m) < 0)
                        return EXIT_FAILURE_GENERIC;
                (void)vfio_pci_names_new(NULL, &names);
                r = pick_gpu(c, m, names);
                if (r < 0)
                        return r == -ENOMEM ? EXIT_FAILURE_GENERIC : EXIT_DATAERR;
        }
        if (vm_default_paths(c, &paths) < 0)
                return EXIT_FAILURE_GENERIC;
        r = build(c, h, m, &paths);
        if (r < 0)
                return r == -EINVAL ? EXIT_USAGE : EXIT_FAILURE_GENERIC;
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
