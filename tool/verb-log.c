/* vfioctl log NAME [--console]: QEMU's messages and vfioctl's record of the VM, or its serial output. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "tool.h"
#include "vfioctl/vmrun.h"

int verb_log(int argc, char **argv)
{
        static const struct option options[] = {
                { "console", no_argument, NULL, 'c' },
                {},
        };
        _cleanup_free_ char *err = NULL;
        _cleanup_(vm_run_freep) vm_run *r = NULL;
        bool console = false;
        char buf[65536];
        ssize_t n;
        int opt, fd;

        while ((opt = getopt_long(argc, argv, "", options, NULL)) >= 0)
                if (opt == 'c')
                        console = true;
                else
                        return EXIT_USAGE;
        if (tool_check_arity(argc - optind) < 0 || !tool_vm_name(argv[optind]))
                return EXIT_USAGE;
        if (vm_run_open(arg_root, argv[optind], false, &r, &err) < 0) {
                if (err)
                        tool_error("%s", err);
                return EXIT_NOT_RUNNING;
        }
        if (vm_run_open_log(r, console, &fd, &err) < 0) {
                tool_error("%s", err ? err : "cannot open the log");
                return EXIT_FAILURE_GENERIC;
        }
        fflush(stdout);
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                if (write(STDOUT_FILENO, buf, (size_t)n) != n)
                        break;
        close(fd);
        return EXIT_OK;
}
