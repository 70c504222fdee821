/* vfioctl export-libvirt NAME|FILE: the VM as a libvirt domain XML, written or defined on a libvirt
 * connection. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "fs-util.h"
#include "strv.h"
#include "tool.h"
#include "vfioctl/libvirt-connect.h"
#include "vfioctl/libvirt-xml.h"
#include "vfioctl/model.h"
#include "vfioctl/pciids.h"
#include "vfioctl/vmdefaults.h"
#include "vfioctl/vmpaths.h"

static const char *arg_output;
static const char *arg_connect;
static bool arg_force;
static bool arg_define;

/*
 * The VM's devices on the libvirt connection's host: its node devices, not this host's sysfs. Every
 * device missing there is reported; nothing is defined then.
 */
static int resolve_on_connection(vm_libvirt_conn *conn, vm_config *c)
{
        _cleanup_(vm_node_devices_freep) vm_node_devices *nd = NULL;
        _cleanup_(vfio_pci_names_freep) vfio_pci_names *names = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        _cleanup_free_ char *err = NULL;
        int r;

        r = vm_libvirt_node_devices(conn, &nd, &err);
        if (r < 0) {
                tool_error("%s", err ? err : strerror(-r));
                return EXIT_FAILURE_GENERIC;
        }
        (void)vfio_pci_names_new(NULL, &names);
        r = vm_node_devices_resolve(c, nd, names, vm_libvirt_conn_uri(conn), &errors);
        STRV_FOREACH(e, errors)
                tool_error("%s", *e);
        if (r == -ENODEV || r == -EINVAL)
                return EXIT_DATAERR;
        if (r < 0) {
                tool_error("resolving devices on %s: %s", vm_libvirt_conn_uri(conn), strerror(-r));
                return EXIT_FAILURE_GENERIC;
        }
        return EXIT_OK;
}

/* libvirt names host devices by address: selectors are resolved on this host, as cmdline does. */
static int resolve_here(vm_config *c)
{
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_(vfio_model_freep) vfio_model *m = NULL;
        _cleanup_(vfio_pci_names_freep) vfio_pci_names *names = NULL;
        _cleanup_strv_free_ char **warnings = NULL, **errors = NULL;
        int r;

        if (c->n_gpus + c->n_pcis > 0) {
                if (tool_open_host(&h) < 0 || tool_load_model(h, &m) < 0)
                        return EXIT_FAILURE_GENERIC;
                (void)vfio_pci_names_new(NULL, &names);
        }
        r = vm_config_resolve(c, m, names, &warnings, &errors);
        STRV_FOREACH(w, warnings)
                tool_warning("%s", *w);
        STRV_FOREACH(e, errors)
                tool_error("%s", *e);
        if (r == -EINVAL)
                return EXIT_DATAERR;
        if (r < 0) {
                tool_error("resolving devices: %s", strerror(-r));
                return EXIT_FAILURE_GENERIC;
        }
        return EXIT_OK;
}

/* Defines the domain on the connection; a domain of that name is replaced only with --force. */
static int define(vm_libvirt_conn *conn, const vm_config *c, const char *xml)
{
        _cleanup_free_ char *err = NULL;
        int r;

        r = vm_libvirt_domain_exists(conn, c->name, &err);
        if (r < 0) {
                tool_error("%s: %s", vm_libvirt_conn_uri(conn), err ? err : strerror(-r));
                return EXIT_FAILURE_GENERIC;
        }
        if (r > 0 && !arg_force) {
                tool_error(
                        "a domain named %s is already defined on %s; replace its definition with: vfioctl export-libvirt --define --force --connect %s %s",
                        c->name, vm_libvirt_conn_uri(conn), vm_libvirt_conn_uri(conn), c->name);
                return EXIT_FAILURE_GENERIC;
        }
        r = vm_libvirt_define(conn, xml, &err);
        if (r < 0) {
                tool_error("%s: %s", vm_libvirt_conn_uri(conn), err ? err : strerror(-r));
                return EXIT_FAILURE_GENERIC;
        }
        printf("Defined domain %s on %s\nNext: virsh -c %s start %s\n", c->name, vm_libvirt_conn_uri(conn),
               vm_libvirt_conn_uri(conn), c->name);
        return EXIT_OK;
}

int verb_export_libvirt(int argc, char **argv)
{
        enum { OPT_FORCE = 0x100, OPT_DEFINE, OPT_CONNECT };
        static const struct option options[] = {
                { "output", required_argument, NULL, 'o' },
                { "force", no_argument, NULL, OPT_FORCE },
                { "define", no_argument, NULL, OPT_DEFINE },
                { "connect", required_argument, NULL, OPT_CONNECT },
                {},
        };
        _cleanup_(vm_config_freep) vm_config *c = NULL;
        _cleanup_(vm_libvirt_conn_freep) vm_libvirt_conn *conn = NULL;
        _cleanup_strv_free_ char **lost = NULL;
        _cleanup_free_ char *xml = NULL, *err = NULL;
        int r, o;

        while ((o = getopt_long(argc, argv, "o:c:", options, NULL)) >= 0)
                switch (o) {
                case 'o':
                        arg_output = optarg;
                        break;
                case OPT_FORCE:
                        arg_force = true;
                        break;
                case OPT_DEFINE:
                        arg_define = true;
                        break;
                case 'c':
                case OPT_CONNECT:
                        arg_connect = optarg;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (tool_check_arity(argc - optind) < 0)
                return EXIT_USAGE;
        if (arg_define && arg_output) {
                tool_error(
                        "export-libvirt: --define defines the domain on the connection and -o writes a file; give one");
                return EXIT_USAGE;
        }
        r = tool_load_config(argv[optind], &c);
        if (r == -EINVAL)
                return EXIT_DATAERR;
        if (r < 0)
                return EXIT_FAILURE_GENERIC;
        /* --define without --connect: libvirt's default URI (LIBVIRT_DEFAULT_URI, else per user). */
        if (arg_define || arg_connect) {
                r = vm_libvirt_connect(arg_connect, false, &conn, &err);
                if (r < 0) {
                        tool_error("%s", err ? err : strerror(-r));
                        return EXIT_FAILURE_GENERIC;
                }
                r = resolve_on_connection(conn, c);
        } else
                r = resolve_here(c);
        if (r != EXIT_OK)
                return r;
        r = vm_libvirt_export(c, &xml, &lost);
        if (r < 0) {
                tool_error("building the domain XML: %s", strerror(-r));
                return EXIT_FAILURE_GENERIC;
        }
        STRV_FOREACH(l, lost)
                tool_warning("not exported: %s", *l);
        if (arg_define)
                return define(conn, c, xml);
        if (!arg_output) {
                fputs(xml, stdout);
                return EXIT_OK;
        }
        r = write_file_atomic(arg_output, xml, strlen(xml), 0644, arg_force ? 0 : WRITE_ATOMIC_NOREPLACE);
        if (r == -EEXIST) {
                tool_error("%s exists; overwrite with: vfioctl export-libvirt --force -o %s %s", arg_output,
                           arg_output, argv[optind]);
                return EXIT_FAILURE_GENERIC;
        }
        if (r < 0) {
                tool_error("cannot write %s: %s", arg_output, strerror(-r));
                return EXIT_FAILURE_GENERIC;
        }
        printf("Wrote %s\nNext: virt-xml-validate %s domain && virsh define %s\n", arg_output, arg_output,
               arg_output);
        return EXIT_OK;
}
