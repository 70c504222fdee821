/*
 * Asks a throwaway QEMU ("-machine none") what it is and what it can do, through the QMP client (qmp.h).
 */
#pragma once

#include <stdbool.h>

#include "vfioctl/qemu-info.h"

/*
 * Speaks QMP over fd (a connected stream socket, borrowed): greeting, qmp_capabilities, query-version,
 * query-machines, qom-list-types, quit. Gives up after timeout_ms in total with the client's error
 * (-ETIMEDOUT, -ECONNRESET, -EBADMSG, -EREMOTEIO for a QMP error reply, -EPROTO for a reply of the
 * wrong shape); *ret_error, when given, says which command and why.
 */
int vfio_qmp_probe_session(int fd, unsigned timeout_ms, vfio_qemu_info **ret, char **ret_error);

/*
 * Starts `qemu -machine none -accel tcg -nodefaults -no-user-config -display none -qmp stdio` (no guest,
 * no devices, no KVM), runs the session and makes sure the process is gone before returning.
 */
int vfio_qmp_probe_run(const char *qemu, unsigned timeout_ms, vfio_qemu_info **ret, char **ret_error);
