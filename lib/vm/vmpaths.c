/* Helpers shared by the VM verbs (create, validate, cmdline): where configs live, loading, quoting. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "strv.h"
#include "vfioctl/vmpaths.h"

bool vm_name_valid(const char *s)
{
        /* The name becomes a file name, a directory name and QEMU's -name guest=. */
        if (!s || !*s || strlen(s) > 64 || s[0] == '.' || s[0] == '-')
                return false;
        for (; *s; s++)
                if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') || ('0' <= *s && *s <= '9') ||
                      strchr("-_.", *s)))
                        return false;
        return true;
}

/* secure_getenv here and below: under setuid the caller's environment must not choose where files go. */
int vm_user_config_dir(char **ret)
{
        const char *xdg = secure_getenv("XDG_CONFIG_HOME"), *home = secure_getenv("HOME");
        char *s;

        assert(ret);

        if (xdg && xdg[0] == '/')
                return asprintf(&s, "%s/vfioctl/vms", xdg) < 0 ? -ENOMEM : (*ret = s, 0);
        if (!home || home[0] != '/')
                return -ENOENT;
        return asprintf(&s, "%s/.config/vfioctl/vms", home) < 0 ? -ENOMEM : (*ret = s, 0);
}

bool vm_config_exists(const char *name)
{
        _cleanup_free_ char *user = NULL, *path = NULL;

        if (!vm_name_valid(name))
                return false;
        if (vm_user_config_dir(&user) == 0 && asprintf(&path, "%s/%s.conf", user, name) >= 0 &&
            access(path, F_OK) == 0)
                return true;
        free(path);
        path = NULL;
        return asprintf(&path, VFIOCTL_SYSTEM_VMS_DIR "/%s.conf", name) >= 0 && access(path, F_OK) == 0;
}

int vm_find_config(const char *arg, char **ret, char **ret_error)
{
        _cleanup_free_ char *user = NULL, *path = NULL;
        struct stat st;

        assert(ret);

        /* A path (has a slash or ends in .conf) is used as it is. */
        if (strchr(arg, '/') || (strlen(arg) > 5 && strcmp(arg + strlen(arg) - 5, ".conf") == 0)) {
                path = strdup(arg);
                if (!path)
                        return -ENOMEM;
                *ret = TAKE_PTR(path);
                return 0;
        }
        if (!vm_name_valid(arg)) {
                if (asprintf(ret_error,
                             "'%s' is neither a VM name (letters, digits, - _ .) nor a config file path",
                             arg) < 0)
                        return -ENOMEM;
                return -EINVAL;
        }
        /* The user's own definition wins over the system's, as with systemd units. */
        if (vm_user_config_dir(&user) == 0) {
                if (asprintf(&path, "%s/%s.conf", user, arg) < 0)
                        return -ENOMEM;
                if (stat(path, &st) == 0) {
                        *ret = TAKE_PTR(path);
                        return 0;
                }
                free(path);
                path = NULL;
        }
        if (asprintf(&path, VFIOCTL_SYSTEM_VMS_DIR "/%s.conf", arg) < 0)
                return -ENOMEM;
        if (stat(path, &st) == 0) {
                *ret = TAKE_PTR(path);
                return 0;
        }
        if (asprintf(ret_error,
                     "no VM '%s': neither %s/%s.conf nor %s exists; create one with: vfioctl create %s", arg,
                     user ? user : "$XDG_CONFIG_HOME/vfioctl/vms", arg, path, arg) < 0)
                return -ENOMEM;
        return -ENOENT;
}

int vm_load_config(const char *arg, vm_config **ret, char ***ret_errors)
{
        _cleanup_free_ char *path = NULL, *error = NULL;
        _cleanup_strv_free_ char **errors = NULL;
        int r;

        assert(ret_errors);

        r = vm_find_config(arg, &path, &error);
        if (r < 0) {
                if (error && strv_push(ret_errors, error) >= 0)
                        error = NULL;
                return r;
        }
        r = vm_config_load(path, ret, &errors);
        return vm_load_config_finish(path, r, ret, &errors, ret_errors);
}

int vm_load_config_finish(const char *path, int r, vm_config **ret, char ***errors, char ***ret_errors)
{
        if (r == -EINVAL) {
                *ret_errors = TAKE_PTR(*errors);
                return r;
        }
        if (r < 0) {
                (void)strv_extendf(
                        ret_errors, "cannot read %s: %s", path,
                        r == -EBADFD
                                ? "not a regular file (a FIFO, a pipe or a device): name the config file itself"
                                : strerror(-r));
                return r;
        }
        if (!vm_name_valid((*ret)->name)) {
                /* What start would refuse is refused by validate and cmdline too. */
                (void)strv_extendf(
                        ret_errors,
                        "%s: the VM name '%s' (the file's name without .conf) is not a VM name: use 1 to 64 of letters, digits, - _ . (not starting with - or .) and rename the file",
                        path, (*ret)->name);
                *ret = vm_config_free(*ret);
                return -EINVAL;
        }
        return 0;
}

int vm_default_paths(const vm_config *c, vm_paths_buf *b)
{
        const char *rt = secure_getenv("XDG_RUNTIME_DIR"), *state = secure_getenv("XDG_STATE_HOME"),
                   *home = secure_getenv("HOME");

        assert(c);
        assert(b);

        b->paths.uid = (unsigned)getuid();
        if (rt && rt[0] == '/') {
                if (asprintf(&b->runtime_dir, "%s/vfioctl/%s", rt, c->name) < 0)
                        return -ENOMEM;
        } else if (asprintf(&b->runtime_dir, "/run/user/%u/vfioctl/%s", b->paths.uid, c->name) < 0)
                return -ENOMEM;
        if (state && state[0] == '/') {
                if (asprintf(&b->state_dir, "%s/vfioctl/%s", state, c->name) < 0)
                        return -ENOMEM;
        } else if (asprintf(&b->state_dir, "%s/.local/state/vfioctl/%s",
                            home && home[0] == '/' ? home : "/root", c->name) < 0)
                return -ENOMEM;
        b->paths.runtime_dir = b->runtime_dir;
        b->paths.state_dir = b->state_dir;
        return 0;
}

int vm_system_state_dir(const char *root, const char *name, char **ret)
{
        char *s;

        assert(name);
        assert(ret);
        if (asprintf(&s, "%s/var/lib/vfioctl/%s", root ? root : "", name) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

void vm_paths_done(vm_paths_buf *b)
{
        free(b->runtime_dir);
        free(b->state_dir);
}
