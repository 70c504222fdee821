/*
 * How a VM user reaches the desktop user's sound server (PulseAudio, or PipeWire's pipewire-pulse): a
 * second native-protocol socket the desktop user's server opens in a directory only the VM user's group may
 * enter. The reasons for this shape are in docs/audio.md.
 */
#pragma once

/* The directory, below the host root, that holds one socket directory per VM user. */
#define VFIO_AUDIO_GRANT_DIR "run/vfioctl-audio"
/* AF_UNIX socket paths hold at most 107 bytes (unix(7), sun_path). */
#define VFIO_AUDIO_SOCKET_MAX 107

/*
 * The socket's host path for vm_user: ROOT/run/vfioctl-audio/VM_USER/native (ROOT NULL or "/": none). NULL
 * on allocation failure.
 */
char *vfio_audio_grant_socket(const char *root, const char *vm_user);
/* Below the root: etc/tmpfiles.d/vfioctl-audio-VM_USER.conf, the file that makes the directory at boot. */
char *vfio_audio_grant_tmpfiles(const char *vm_user);
