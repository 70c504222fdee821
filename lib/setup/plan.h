/* What the planners of setup/ share: the header of every file they write and adding a file to a plan. */
#pragma once

#include <sys/types.h>

#include "vfioctl/setup.h"

#define VFIO_SETUP_HEADER "# Written by 'vfioctl setup'; 'vfioctl setup --undo' removes it. Do not edit.\n"

/* Adds a file vfioctl owns to the plan; takes content (also on failure). */
int vfio_setup_plan_add(vfio_setup_plan *p, const char *path, char *content, mode_t mode);
/* The desktop user's sound server opens a socket for the VM user (audio-grant.c; o->audio_grant). */
int vfio_audio_grant_plan(const vfio_host *h, const vfio_setup_opts *o, vfio_setup_plan *p);
/* Looking Glass's shared memory at every boot: tmpfiles.d, or kvmfr's module option and udev rule. */
int vfio_lg_setup_plan(const vfio_host *h, const vfio_setup_opts *o, vfio_setup_plan *p);
/* A user or group name that is safe inside the files setup writes (no separators, spaces or quotes). */
bool vfio_setup_name_ok(const char *s);
