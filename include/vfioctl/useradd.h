/* The VM user made for the host: useradd for a system account, never a shell, never a home. */
#pragma once

#define VFIO_USERADD_PATH "/usr/sbin/useradd"

/*
 * useradd --system --no-create-home --shell /usr/sbin/nologin --groups GROUP USER, by absolute path with a
 * fixed PATH (it runs as root). -ENOEXEC when useradd refused (the user exists, no such group).
 */
int vfio_useradd_system(const char *user, const char *group);
