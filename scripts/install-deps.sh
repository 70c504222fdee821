#!/bin/sh
# Installs what building and testing vfioctl needs on a fresh Debian 12 machine (run as root).
# The audio test (tests/qemu/test-audio.sh) runs a real PulseAudio (pactl, parec: pulseaudio-utils) and a
# real PipeWire (the pipewire program is pipewire-bin's): pipewire-pulse only Recommends wireplumber, which
# --no-install-recommends skips, and WirePlumber needs a session bus (dbus-run-session: dbus-daemon); sox
# measures what was recorded. The test bed's zero-to-vm case makes the system's disk (mkfs.ext4, debugfs:
# e2fsprogs) and boots it with the host's own initramfs-tools (update-initramfs, lsinitramfs; kmod's depmod).
set -eu
PACKAGES="
  build-essential meson ninja-build pkg-config clang libclang-rt-14-dev clang-format
  libpci-dev pciutils pci.ids libjson-c-dev libinih-dev libxml2-dev libxml2-utils libcmocka-dev libvirt-dev
  libvirt-clients libvirt-daemon libvirt-daemon-driver-qemu
  qemu-system-x86 qemu-system-gui qemu-utils ovmf jq socat hyperfine iproute2 linux-perf
  xz-utils cpio dpkg-dev util-linux udev swtpm swtpm-tools pulseaudio zfs-fuse python3 systemd tmux
  pulseaudio-utils pipewire pipewire-bin pipewire-pulse wireplumber dbus-daemon sox
  debhelper lintian rpm zsh
  e2fsprogs initramfs-tools kmod
"
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: run as root (sudo $0)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "install-deps: installing:$missing"
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
echo "install-deps: all packages present"
