/* Ownership and permission checks on the files a root vfioctl hands to the VM (config, disk, OVMF, script).
 */
#pragma once

#include <stdint.h>

#include "vfioctl/account.h"
#include "vfioctl/common.h"
#include "vfioctl/host.h"
#include "vfioctl/vmconf.h"

/*
 * The rule: when root acts on a path (reads a config, chowns a disk to the VM user, passes OVMF to QEMU),
 * nobody but root may be able to change what that path names. Every directory on the way (symlink
 * targets included) must be owned by root and writable by nobody else; the file itself too, unless it is
 * one the VM must write (VFIO_PERM_VM_MAY_WRITE: disk images, the OVMF VARS copy), which may be owned by the
 * VM user but still not by a third user, nor world-writable, nor in a directory the VM user can write.
 */
enum {
        VFIO_PERM_VM_MAY_WRITE = 1u << 0, /* the final file may be the VM user's (disk, OVMF VARS) */
};

typedef enum vfio_perm_reason {
        VFIO_PERM_NOT_ROOT_OWNED, /* a directory, or a file root relies on, owned by another user */
        VFIO_PERM_GROUP_WRITABLE, /* group-writable by a group other than root, or root's with the VM user in
                                     it */
        VFIO_PERM_WORLD_WRITABLE, /* o+w (sticky directories pass only when the entry in them is root's) */
        VFIO_PERM_FOREIGN_OWNER,  /* a VM-writable file owned by neither root nor the VM user */
        VFIO_PERM_REPLACEABLE,    /* a VM-owned file in a directory the VM user can write (sticky /tmp) */
        VFIO_PERM_ACL,            /* an extended POSIX ACL may grant write beyond the mode bits */
} vfio_perm_reason;

typedef struct vfio_perm_issue {
        char *path; /* the component at fault, as a host path ("/srv/vm"), symlinks resolved */
        vfio_perm_reason reason;
        uint32_t uid, gid, mode; /* of that component */
        char *fix; /* the command that fixes it: "chown root:root /srv/vm && chmod go-w /srv/vm" */
} vfio_perm_issue;

vfio_perm_issue *vfio_perm_issue_free(vfio_perm_issue *i);
VFIO_DEFINE_POINTER_CLEANUP(vfio_perm_issue, vfio_perm_issue_free)

/* One line, e.g. "owned by uid 1000, not root", for messages. Static string. */
const char *vfio_perm_reason_to_string(vfio_perm_reason r);

/*
 * Walks every component of the absolute path under the host root (the root directory itself, each
 * directory, each symlink's target, the file) and checks it against the rule above for the VM user vm.
 * Returns 0 when the path is safe, 1 with *ret_issue set to the first component at fault, -ENOENT when a
 * component is missing, -ELOOP beyond 40 symlinks, -EINVAL for a relative path, other -errno on failure.
 */
int vfio_perm_check_path(const vfio_host *h, const char *path, const vfio_account *vm, unsigned flags,
                         vfio_perm_issue **ret_issue);

/*
 * The trust decision, on a descriptor: opens path (absolute) once, following symbolic links only where
 * root alone controls the directory holding them (basic/safedir.h), and judges what was opened: a regular
 * file (-EBADFD otherwise: /dev/stdin, a FIFO, a pipe), owned by root, writable by nobody else (vm, may be
 * NULL, decides whether root's group counts as root's, as vfio_perm_check_path does), no extended ACL, in
 * directories nobody but root can change. Returns 0 with *ret_fd (O_RDONLY) to read it through; 1 with
 * *ret_issue (path: the component at fault, when the path walk can name it) and nothing opened; -errno when
 * it cannot be opened (-ENOENT: a path that does not exist is refused, never skipped).
 */
int vfio_perm_open_trusted(const vfio_host *h, const char *path, const vfio_account *vm, int *ret_fd,
                           vfio_perm_issue **ret_issue);

/*
 * vm_load_config for a config root acts on (start, snapshot VM, disk create VM): as root the trust decision
 * comes first (issue 15 item 2): the file is opened once with vfio_perm_open_trusted and judged on that
 * descriptor before a byte of it is read. -EPERM when it is not root's alone, with the component and the fix
 * in *ret_errors. Anyone but root: vm_load_config.
 */
int vfio_perm_load_config(const char *arg, vm_config **ret, char ***ret_errors);
