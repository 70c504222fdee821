/* vfioctl cmdline NAME|FILE: the exact QEMU argv for a VM on this host, shell-quoted, one option a line. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "escape.h"
#include "strv.h"
#include "tool.h"
#include "vfioctl/model.h"
#include "vfioctl/pciids.h"
#include "vfioctl/problem.h"
#include "vfioctl/qemu-argv.h"
#include "vfioctl/relay.h"
#include "vfioctl/vmdefaults.h"
#include "vfioctl/vmneeds.h"
#include "vfioctl/vmpaths.h"

/* An option is "-x" followed by its values (arguments that do not start with '-'). */
static void print_argv(char **argv, size_t n_extra)
{
        size_t n = strv_length(argv);

        if (n_extra)
                printf("# The last %zu argument%s come%s from [vm] extra_args, passed unchecked.\n", n_extra,
                       n_extra == 1 ? "" : "s", n_extra == 1 ? "s" : "");
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *q = shell_quote(argv[i]);
                bool starts = i == 0 || argv[i][0] == '-';
                bool next_starts = i + 1 >= n || argv[i + 1][0] == '-';

                if (starts && i > 0)
                        fputs("  ", stdout);
                fputs(q ? q : "''", stdout);
                if (i + 1 == n)
                        fputc('\n', stdout);
                else if (next_starts)
                        fputs(" \\\n", stdout);
                else
                        fputc(' ', stdout);
        }
}

int verb_cmdline(int argc, char **argv)
{
        _cleanup_(vm_config_freep) vm_config *c = NULL;
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_(vfio_model_freep) vfio_model *m = NULL;
        _cleanup_(vfio_pci_names_freep) vfio_pci_names *names = NULL;
        _cleanup_strv_free_ char **warnings = NULL, **errors = NULL, **args = NULL, **notes = NULL;
        vm_paths_buf paths = {};
        int r;

        if (tool_check_arity(argc - 1) < 0)
                return EXIT_USAGE;
        r = tool_load_config(argv[1], &c);
        if (r == -EINVAL)
                return EXIT_DATAERR;
        if (r < 0)
                return EXIT_FAILURE_GENERIC;
        if (c->n_gpus + c->n_pcis > 0) {
                if (tool_open_host(&h) < 0 || tool_load_model(h, &m) < 0)
                        return EXIT_FAILURE_GENERIC;
                (void)vfio_pci_names_new(NULL, &names); /* names are optional: patterns then match nothing */
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
        r = vm_default_paths(c, &paths);
        if (r >= 0 && vm_needs_relay(c)) {
                /* As start would: through the relay where uinput works here, else directly. */
                _cleanup_(vfio_problems_freep) vfio_problems *why = NULL;

                if ((!h && tool_open_host(&h) < 0) || vfio_problems_new(&why) < 0)
                        return EXIT_FAILURE_GENERIC;
                paths.paths.input_relay = vm_relay_preflight(c, h, why);
                for (size_t i = 0; i < why->n; i++)
                        fprintf(stderr, "note: %s\n", why->items[i].message);
                if (paths.paths.input_relay)
                        fprintf(stderr,
                                "note: evdev inputs are read through vfioctl's input relay, which vfioctl start runs beside QEMU (it makes %s/%s-INPUT)\n",
                                paths.paths.runtime_dir, c->name);
        }
        if (r >= 0)
                r = vm_qemu_argv(c, &paths.paths, &args, &notes);
        if (r >= 0 && c->firmware.type == VM_FIRMWARE_OVMF) {
                _cleanup_free_ char *vars = vm_qemu_firmware_vars(c, &paths.paths);

                /* QEMU writes UEFI variables there: it must be this VM's own copy, made once. */
                if (vars && access(vars, F_OK) < 0)
                        fprintf(stderr,
                                "note: %s does not exist yet; the launcher copies it from %s, or run: install -D -m 600 %s %s\n",
                                vars, vm_qemu_firmware_vars_template(c), vm_qemu_firmware_vars_template(c),
                                vars);
        }
        vm_paths_done(&paths);
        if (r < 0) {
                tool_error("building the QEMU command line: %s", strerror(-r));
                return EXIT_FAILURE_GENERIC;
        }
        STRV_FOREACH(n, notes)
                fprintf(stderr, "note: %s\n", *n);
        print_argv(args, strv_length(c->vm.extra_args));
        return EXIT_OK;
}
