/* vfioctl export-libvirt NAME|FILE: the VM as a libvirt domain XML (for virsh define). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "fs-util.h"
#include "strv.h"
#include "tool.h"
#include "vfioctl/libvirt-xml.h"
#include "vfioctl/model.h"
#include "vfioctl/pciids.h"
#include "vfioctl/vmdefaults.h"
#include "vfioctl/vmpaths.h"

static const char *arg_output;
static bool arg_force;

int verb_export_libvirt(int argc, char **argv)
{
        enum { OPT_FORCE = 0x100 };
        static const struct option options[] = {
                { "output", required_argument, NULL, 'o' },
                { "force", no_argument, NULL, OPT_FORCE },
                {},
        };
        _cleanup_(vm_config_freep) vm_config *c = NULL;
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_(vfio_model_freep) vfio_model *m = NULL;
        _cleanup_(vfio_pci_names_freep) vfio_pci_names *names = NULL;
        _cleanup_strv_free_ char **warnings = NULL, **errors = NULL, **lost = NULL;
        _cleanup_free_ char *xml = NULL;
        int r, o;

        while ((o = getopt_long(argc, argv, "o:", options, NULL)) >= 0)
                switch (o) {
                case 'o':
                        arg_output = optarg;
                        break;
                case OPT_FORCE:
                        arg_force = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        if (tool_check_arity(argc - optind) < 0)
                return EXIT_USAGE;
        r = tool_load_config(argv[optind], &c);
        if (r == -EINVAL)
                return EXIT_DATAERR;
        if (r < 0)
                return EXIT_FAILURE_GENERIC;
        /* libvirt names host devices by address: selectors are resolved on this host, as cmdline does. */
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
        r = vm_libvirt_export(c, &xml, &lost);
        if (r < 0) {
                tool_error("building the domain XML: %s", strerror(-r));
                return EXIT_FAILURE_GENERIC;
        }
        STRV_FOREACH(l, lost)
                tool_warning("not exported: %s", *l);
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
