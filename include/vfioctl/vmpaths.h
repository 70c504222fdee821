/* Where a VM's files live: its name, its config (the user's or the system's), its runtime and state
 * directories. */
#pragma once

#include <stdbool.h>

#include "vfioctl/qemu-argv.h"
#include "vfioctl/vmconf.h"

bool vm_name_valid(const char *s);
/* $XDG_CONFIG_HOME/vfioctl/vms, else ~/.config/vfioctl/vms. */
int vm_user_config_dir(char **ret);
/*
 * NAME -> user or system config path; a FILE argument is taken as it is. -EINVAL (not a name) and -ENOENT
 * (no such VM) come with *ret_error saying what to do.
 */
int vm_find_config(const char *arg, char **ret, char **ret_error);
/* Whether NAME (not a path) has a config file, quietly. */
bool vm_config_exists(const char *name);
/*
 * Finds and parses. On failure *ret_errors holds what to tell the user: one "FILE:LINE: ..." line per
 * error when the config is wrong (-EINVAL), else one message (no such VM, unreadable file).
 */
int vm_load_config(const char *arg, vm_config **ret, char ***ret_errors);
/*
 * The end of a load (vm_config_load or vm_config_load_fd returned r for path): errors moved to *ret_errors
 * or described (a FIFO, an unreadable file), and a config whose name start would refuse ('..', a comma, a
 * leading '-') refused here too (-EINVAL). For loaders other than vm_load_config (perm.h's trusted one).
 */
int vm_load_config_finish(const char *path, int r, vm_config **ret, char ***errors, char ***ret_errors);

typedef struct vm_paths_buf {
        vm_argv_paths paths;
        char *runtime_dir, *state_dir;
} vm_paths_buf;
/* $XDG_RUNTIME_DIR/vfioctl/NAME and $XDG_STATE_HOME/vfioctl/NAME (with the XDG fallbacks). */
int vm_default_paths(const vm_config *c, vm_paths_buf *b);
/* Where root keeps a VM's state (OVMF variables, TPM): ROOT/var/lib/vfioctl/NAME, apart from any user's
 * home. */
int vm_system_state_dir(const char *root, const char *name, char **ret);
void vm_paths_done(vm_paths_buf *b);
