/* vfioctl console NAME: the VM's serial console (a unix socket chardev) on this terminal; Ctrl-] leaves. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "fileio.h"
#include "tool.h"
#include "vfioctl/vmrun.h"

#define ESCAPE_CHAR 0x1d /* Ctrl-], as telnet and virsh console */

int verb_console(int argc, char **argv)
{
        _cleanup_(vm_runstate_freep) vm_runstate *s = NULL;
        _cleanup_close_ int sock = -EBADF;
        _cleanup_(vm_run_freep) vm_run *r = NULL;
        _cleanup_free_ char *err = NULL;
        struct termios saved, raw;
        bool tty = isatty(STDIN_FILENO), restored = true;
        char buf[4096];
        int ret = EXIT_FAILURE_GENERIC;

        if (tool_check_arity(argc - 1) < 0 || !tool_vm_name(argv[1]))
                return EXIT_USAGE;
        if (vm_run_open(arg_root, argv[1], false, &r, &err) < 0 || vm_run_load(r, &s) < 0 ||
            !vm_run_alive(r, s)) {
                if (r)
                        tool_error("VM '%s' is not running; start it with: vfioctl start %s", argv[1],
                                   argv[1]);
                else if (err)
                        tool_error("%s", err);
                return EXIT_NOT_RUNNING;
        }
        if (vm_run_console(r, &sock, &err) < 0) {
                tool_error("%s", err ? err : "cannot connect to the serial console");
                return EXIT_FAILURE_GENERIC;
        }
        if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
                /* Raw: every key (Ctrl-C included) goes to the guest, unechoed; only Ctrl-] is ours. */
                raw = saved;
                cfmakeraw(&raw);
                if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
                        restored = false;
        }
        fprintf(stderr, "Connected to the serial console of VM %s; leave with Ctrl-]\r\n", r->name);
        for (;;) {
                struct pollfd p[2] = { { STDIN_FILENO, POLLIN, 0 }, { sock, POLLIN, 0 } };
                ssize_t n;

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
                        n = read(sock, buf, sizeof(buf));
                        if (n <= 0) {
                                fprintf(stderr, "\r\n[the VM closed the console]\r\n");
                                ret = EXIT_OK;
                                break;
                        }
                        if (write_full_fd(STDOUT_FILENO, buf, (size_t)n) < 0)
                                break;
                }
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                        char *esc;

                        n = read(STDIN_FILENO, buf, sizeof(buf));
                        if (n <= 0) {
                                ret = EXIT_OK; /* end of input: a script is done */
                                break;
                        }
                        esc = memchr(buf, ESCAPE_CHAR, (size_t)n);
                        if (esc) {
                                (void)write_full_fd(sock, buf, (size_t)(esc - buf));
                                ret = EXIT_OK;
                                break;
                        }
                        if (write_full_fd(sock, buf, (size_t)n) < 0)
                                break;
                }
        }
        if (!restored)
                (void)tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        fprintf(stderr, "\nDisconnected from VM %s\n", r->name);
        return ret;
}
