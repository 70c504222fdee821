/* The QEMU probe of vfioctl check against the real QEMU of this machine (suite 'qemu'). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vfioctl/check.h"
#include "vfioctl/qmp-probe.h"

#define QEMU "/usr/bin/qemu-system-x86_64"

static int failed;

#define EXPECT(cond, ...)                                                    \
        do {                                                                 \
                if (!(cond)) {                                               \
                        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
                        fprintf(stderr, __VA_ARGS__);                        \
                        fputc('\n', stderr);                                 \
                        failed = 1;                                          \
                }                                                            \
        } while (0)

int main(void)
{
        vfio_qemu_info *q = NULL;
        vfio_check_options o = { .probe = vfio_qmp_probe_run, .probe_timeout_ms = 20000 };
        vfio_check_report *R = NULL;
        const vfio_check *c;
        vfio_host *h = NULL;
        char *err = NULL;
        int r;

        if (access(QEMU, X_OK) < 0) {
                printf("SKIP: %s not installed\n", QEMU);
                return 77;
        }
        /* The probe itself: -machine none under TCG answers query-version/machines/qom-list-types. */
        r = vfio_qmp_probe_run(QEMU, 20000, &q, &err);
        EXPECT(r == 0, "probe failed: %s (%s)", strerror(-r), err ? err : "");
        if (r == 0) {
                EXPECT(q->major >= 2, "implausible QEMU version %u", q->major);
                EXPECT(vfio_qemu_info_has_type(q, "vfio-pci"), "no vfio-pci type");
                EXPECT(vfio_qemu_info_has_machine(q, "q35"), "no q35 machine");
        }
        /* The child is reaped: nothing of ours is left running. */
        EXPECT(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD, "a child process was left behind");
        vfio_qemu_info_free(q);
        free(err);

        /* The check on this live root runs it too and reports it. */
        if (vfio_host_open("/", &h) < 0 || vfio_check_run(h, &o, &R, NULL) < 0) {
                fprintf(stderr, "FAIL: check did not run\n");
                return 1;
        }
        c = vfio_check_report_find(R, "qemu.probe");
        EXPECT(c && c->status == VFIO_CHECK_PASS, "qemu.probe: %s: %s",
               c ? vfio_check_status_to_string(c->status) : "?", c ? c->evidence : "missing");
        EXPECT(c && strncmp(c->evidence, "QEMU ", 5) == 0 && strstr(c->evidence, "vfio-pci: yes"),
               "evidence: %s", c ? c->evidence : "");
        vfio_check_report_free(R);
        vfio_host_free(h);
        if (!failed)
                printf("ok: QEMU probe over QMP\n");
        return failed;
}
