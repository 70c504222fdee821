/* vfioctl validate NAME|FILE: judges a VM config by itself (syntax, types, consistency), no host needed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "strv.h"
#include "tool.h"
#include "vfioctl/vmdefaults.h"
#include "vfioctl/vmpaths.h"

int verb_validate(int argc, char **argv)
{
        _cleanup_(vm_config_freep) vm_config *c = NULL;
        _cleanup_strv_free_ char **warnings = NULL, **errors = NULL;
        int r;

        if (tool_check_arity(argc - 1) < 0)
                return EXIT_USAGE;
        r = tool_load_config(argv[1], &c);
        if (r == -EINVAL)
                return EXIT_DATAERR;
        if (r < 0)
                return EXIT_FAILURE_GENERIC;
        /* Selectors are checked for form only: which devices they name is the host's business (cmdline). */
        r = vm_config_resolve(c, NULL, NULL, &warnings, &errors);
        if (r == -ENOMEM) {
                tool_error("out of memory");
                return EXIT_FAILURE_GENERIC;
        }
        STRV_FOREACH(e, errors)
                tool_error("%s", *e);
        if (errors)
                return EXIT_DATAERR;
        printf("%s: valid (VM \"%s\", %u vCPUs)\n", c->filename, c->name, vm_config_vcpus(c));
        return EXIT_OK;
}
