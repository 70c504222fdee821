/* Helpers shared by the VM verbs: config lookup and loading, runtime paths, shell quoting. */
#pragma once

#include <stdbool.h>

#include "vfioctl/qemu-argv.h"
#include "vfioctl/vmconf.h"

bool vm_name_valid(const char *s);
/* For the verbs that take a VM NAME: false after saying why the argument is not one (exit EXIT_USAGE). */
bool vm_name_or_usage(const char *s);
/* $XDG_CONFIG_HOME/vfioctl/vms, else ~/.config/vfioctl/vms. */
int vm_user_config_dir(char **ret);
/* NAME -> user or system config path; a FILE argument is taken as it is. Reports failure. */
int vm_find_config(const char *arg, char **ret);
/* Whether NAME (not a path) has a config file, quietly. */
bool vm_config_exists(const char *name);
/* Finds and parses; reports every error (file:line) itself. */
int vm_load_config(const char *arg, vm_config **ret);
/*
 * The same for a config root acts on (start, snapshot VM, disk create VM): as root, the trust decision comes
 * first (issue 15 item 2): the file is opened once and judged on that descriptor (a regular file owned by
 * root and writable by nobody else, in directories only root can change) before a byte of it is read;
 * -EPERM when it is not root's alone, reported with the fix. Anyone else: vm_load_config.
 */
int vm_load_config_trusted(const char *arg, vm_config **ret);

typedef struct vm_paths_buf {
        vm_argv_paths paths;
        char *runtime_dir, *state_dir;
} vm_paths_buf;
/* $XDG_RUNTIME_DIR/vfioctl/NAME and $XDG_STATE_HOME/vfioctl/NAME (with the XDG fallbacks). */
int vm_default_paths(const vm_config *c, vm_paths_buf *b);
void vm_paths_done(vm_paths_buf *b);

/* Quotes for a POSIX shell only when needed. */
char *shell_quote(const char *s);
