/* The VM user made for the host: useradd for a system account, never a shell, never a home. */
#pragma once

#define VFIO_USERADD_PATH "/usr/sbin/useradd"
#define VFIO_USERADD_ARGC 9 /* words of vfio_useradd_argv's array, the NULL included */

/*
 * The one useradd command for the VM user: PATH --system --no-create-home --shell /usr/sbin/nologin
 * --groups GROUP USER, NULL-terminated, into ret (it points at the arguments; nothing is copied). Both
 * `setup --create-user` and the guide's plan use it, so the account they make is the same.
 */
void vfio_useradd_argv(const char *path, const char *user, const char *group,
                       const char *ret[static VFIO_USERADD_ARGC]);

/*
 * Runs vfio_useradd_argv with VFIO_USERADD_PATH and a fixed PATH (it runs as root). -ENOEXEC when useradd
 * refused (the user exists, no such group).
 */
int vfio_useradd_system(const char *user, const char *group);
