/* vfioctl import-libvirt FILE.xml | --connect URI DOMAIN: a libvirt domain as a vfioctl config, listing what
 * did not map. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs-util.h"
#include "strv.h"
#include "tool.h"
#include "vfioctl/libvirt-connect.h"
#include "vfioctl/libvirt-xml.h"
#include "vfioctl/pci.h"
#include "vfioctl/vmpaths.h"

static const char *arg_name;
static const char *arg_output;
static bool arg_dry_run;
static bool arg_strict;
static bool arg_keep_unknown;
static bool arg_force;
static bool arg_verbose;
static const char *arg_connect;

static int parse_options(int argc, char **argv)
{
        enum { OPT_NAME = 0x100, OPT_DRY_RUN, OPT_STRICT, OPT_KEEP, OPT_FORCE, OPT_VERBOSE, OPT_CONNECT };
        static const struct option options[] = {
                { "name", required_argument, NULL, OPT_NAME },
                { "output", required_argument, NULL, 'o' },
                { "dry-run", no_argument, NULL, OPT_DRY_RUN },
                { "strict", no_argument, NULL, OPT_STRICT },
                { "keep-unknown-args", no_argument, NULL, OPT_KEEP },
                { "force", no_argument, NULL, OPT_FORCE },
                { "verbose", no_argument, NULL, OPT_VERBOSE },
                { "connect", required_argument, NULL, OPT_CONNECT },
                {},
        };
        int c;

        while ((c = getopt_long(argc, argv, "o:vc:", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                case OPT_CONNECT:
                        arg_connect = optarg;
                        break;
                case OPT_NAME:
                        arg_name = optarg;
                        break;
                case 'o':
                        arg_output = optarg;
                        break;
                case OPT_DRY_RUN:
                        arg_dry_run = true;
                        break;
                case OPT_STRICT:
                        arg_strict = true;
                        break;
                case OPT_KEEP:
                        arg_keep_unknown = true;
                        break;
                case OPT_FORCE:
                        arg_force = true;
                        break;
                case 'v':
                case OPT_VERBOSE:
                        arg_verbose = true;
                        break;
                default:
                        return -EINVAL;
                }
        if (arg_name && !vm_name_valid(arg_name)) {
                tool_error("--name '%s': a VM name is letters, digits, '-', '_' and '.'", arg_name);
                return -EINVAL;
        }
        return 0;
}

/* The config's own header: where it came from and what was left behind. */
static char *header(const char *file, const vm_libvirt_import *imp)
{
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return NULL;
        fprintf(f, "VM \"%s\", imported from %s by vfioctl import-libvirt.\n", imp->config->name, file);
        fprintf(f, "Every key is described in vfioctl.conf(5). Check: vfioctl validate %s\n",
                imp->config->name);
        if (imp->n_dropped) {
                fprintf(f, "Not imported (%zu; the line is the XML's):\n", imp->n_dropped);
                for (size_t i = 0; i < imp->n_dropped; i++)
                        fprintf(f, "  line %u: %s: %s\n", imp->dropped[i].line, imp->dropped[i].what,
                                imp->dropped[i].reason);
        }
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(buf);
}

/*
 * The domain as defined on a libvirt connection (its persistent XML), and what its host's node devices say
 * the passed-through PCI devices are: the addresses are that host's.
 */
static int import_from_connection(const char *domain, unsigned flags, vm_libvirt_import **ret,
                                  char **ret_label, char **ret_error)
{
        _cleanup_(vm_libvirt_conn_freep) vm_libvirt_conn *conn = NULL;
        _cleanup_(vm_node_devices_freep) vm_node_devices *nd = NULL;
        _cleanup_free_ char *xml = NULL, *err = NULL, *label = NULL;
        int r;

        r = vm_libvirt_connect(arg_connect, true, &conn, ret_error);
        if (r < 0)
                return r;
        r = vm_libvirt_domain_xml(conn, domain, &xml, ret_error);
        if (r < 0)
                return r;
        /* Line numbers are those of what this prints: */
        if (asprintf(&label, "%s.xml (virsh -c %s dumpxml --inactive %s)", domain, vm_libvirt_conn_uri(conn),
                     domain) < 0)
                return -ENOMEM;
        r = vm_libvirt_import_string(xml, strlen(xml), label, arg_name, flags, ret, ret_error);
        if (r < 0)
                return r;
        if (vm_libvirt_node_devices(conn, &nd, &err) < 0) {
                tool_warning("%s: the node devices cannot be read (%s); the PCI addresses are not checked",
                             vm_libvirt_conn_uri(conn), err ? err : "");
        } else {
                const vm_config *c = (*ret)->config;

                for (size_t k = 0; k < c->n_gpus + c->n_pcis; k++) {
                        const vm_pci *p = k < c->n_gpus ? &c->gpus[k] : &c->pcis[k - c->n_gpus];
                        const vfio_pci_dev *d = vfio_pci_list_find(nd->model->pci, p->device);

                        if (!d)
                                tool_warning("%s: [%s \"%s\"] device %s is not among the node devices of %s",
                                             label, k < c->n_gpus ? "gpu" : "pci", p->name, p->device,
                                             vm_libvirt_conn_uri(conn));
                        else
                                fprintf(stderr,
                                        "%s: note: [%s \"%s\"] device %s is %04x:%04x on %s (on another host, that device may sit at another address)\n",
                                        label, k < c->n_gpus ? "gpu" : "pci", p->name, p->device,
                                        (unsigned)d->vendor, (unsigned)d->device, vm_libvirt_conn_uri(conn));
                }
        }
        *ret_label = TAKE_PTR(label);
        return 0;
}

int verb_import_libvirt(int argc, char **argv)
{
        _cleanup_(vm_libvirt_import_freep) vm_libvirt_import *imp = NULL;
        _cleanup_(vm_config_freep) vm_config *check = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ char *error = NULL, *text = NULL, *head = NULL, *path = NULL, *dir = NULL,
                            *label = NULL;
        const char *file;
        size_t n_housekeeping = 0;
        int r;

        if (parse_options(argc, argv) < 0)
                return EXIT_USAGE;
        if (tool_check_arity(argc - optind) < 0)
                return EXIT_USAGE;
        if (arg_name && arg_output) {
                tool_error("import-libvirt: --name and -o both say where the config goes; give one");
                return EXIT_USAGE;
        }
        file = argv[optind];
        if (arg_connect) {
                r = import_from_connection(file, arg_keep_unknown ? VM_LIBVIRT_KEEP_UNKNOWN_ARGS : 0, &imp,
                                           &label, &error);
                /* libvirt's reason, or the loader's when its client library is missing */
                if (r == -EIO || r == -EOPNOTSUPP) {
                        tool_error("%s", error ? error : file);
                        return EXIT_FAILURE_GENERIC;
                }
                if (r >= 0)
                        file = label;
        } else
                r = vm_libvirt_import_file(
                        file, arg_name, arg_keep_unknown ? VM_LIBVIRT_KEEP_UNKNOWN_ARGS : 0, &imp, &error);
        if (r == -EBADMSG) {
                tool_error("%s (not well-formed XML; fix it at that line and column)", error ? error : file);
                return EXIT_DATAERR;
        }
        if (r == -EINVAL) {
                tool_error("%s", error ? error : file);
                return EXIT_DATAERR;
        }
        if (r == -EFBIG) {
                tool_error("%s is larger than %d MiB; a domain XML is a few KiB", file,
                           VM_LIBVIRT_MAX_SIZE >> 20);
                return EXIT_DATAERR;
        }
        if (r < 0) {
                tool_error("cannot read %s: %s", file, strerror(-r));
                return EXIT_FAILURE_GENERIC;
        }
        if (!vm_name_valid(imp->config->name)) {
                tool_error(
                        "%s: the domain's <name> '%s' is not a vfioctl VM name; give one with --name NAME",
                        file, imp->config->name);
                return EXIT_DATAERR;
        }
        for (size_t i = 0; i < imp->n_dropped; i++)
                fprintf(stderr, "%s:%u: %s%s: %s\n", file, imp->dropped[i].line,
                        arg_strict ? "error: not imported: " : "not imported: ", imp->dropped[i].what,
                        imp->dropped[i].reason);
        /* Approximations always (the VM differs a little); libvirt housekeeping only when asked. */
        for (size_t i = 0; i < imp->n_ignored; i++)
                if (arg_verbose || imp->ignored[i].approximate)
                        fprintf(stderr, "%s:%u: note: %s: %s\n", file, imp->ignored[i].line,
                                imp->ignored[i].what, imp->ignored[i].reason);
                else
                        n_housekeeping++;
        if (n_housekeeping)
                fprintf(stderr,
                        "%zu libvirt-only parts ignored (aliases, guest addresses, controllers; --verbose lists them)\n",
                        n_housekeeping);
        if (arg_strict && imp->n_dropped) {
                tool_error("--strict: %zu part%s of %s would not be imported (listed above)", imp->n_dropped,
                           imp->n_dropped == 1 ? "" : "s", file);
                return EXIT_DATAERR;
        }
        head = header(file, imp);
        if (!head || vm_libvirt_config_text(imp->config, head, &text) < 0) {
                tool_error("out of memory");
                return EXIT_FAILURE_GENERIC;
        }
        /* What we write must pass our own parser: an import that writes an invalid file is a bug. */
        r = vm_config_parse_string(text, "<imported>", imp->config->name, &check, &errors);
        STRV_FOREACH(e, errors)
                tool_error("internal: imported config is invalid: %s", *e);
        if (r < 0)
                return EXIT_FAILURE_GENERIC;
        if (arg_dry_run) {
                fputs(text, stdout);
                return EXIT_OK;
        }
        if (arg_output)
                path = strdup(arg_output);
        else if (vm_user_config_dir(&dir) < 0 || mkdir_p(dir, 0755) < 0 ||
                 asprintf(&path, "%s/%s.conf", dir, imp->config->name) < 0)
                path = NULL;
        if (!path) {
                tool_error("cannot make the config directory %s; set XDG_CONFIG_HOME or use -o FILE",
                           dir ? dir : "$XDG_CONFIG_HOME/vfioctl/vms");
                return EXIT_FAILURE_GENERIC;
        }
        r = write_file_atomic(path, text, strlen(text), 0644, arg_force ? 0 : WRITE_ATOMIC_NOREPLACE);
        if (r == -EEXIST) {
                if (arg_connect)
                        tool_error(
                                "%s exists; overwrite with: vfioctl import-libvirt --force --connect %s %s",
                                path, arg_connect, argv[optind]);
                else
                        tool_error("%s exists; overwrite with: vfioctl import-libvirt --force %s", path,
                                   file);
                return EXIT_FAILURE_GENERIC;
        }
        if (r < 0) {
                tool_error("cannot write %s: %s", path, strerror(-r));
                return EXIT_FAILURE_GENERIC;
        }
        printf("Wrote %s (%zu part%s not imported)\nNext: vfioctl validate %s && vfioctl cmdline %s\n", path,
               imp->n_dropped, imp->n_dropped == 1 ? "" : "s", arg_output ? path : imp->config->name,
               arg_output ? path : imp->config->name);
        return EXIT_OK;
}
