#!/bin/bash
# setup.sh [CACHE_DIR] -- prepare the VFIO test bed (idempotent).
#
# Fetches Debian's stock kernel (the package linux-image-amd64 depends on) and
# busybox-static with `apt-get download`, unpacks them with `dpkg -x`, builds
# modules.dep with `busybox depmod` (the host needs no kmod), extracts the raw
# ELF vmlinux from the bzImage (PVH boot: QEMU jumps straight into the ELF and
# TCG does not have to run the in-kernel XZ decompressor), and builds the outer
# guest's initramfs (busybox + the modules the layout needs + tests/vfio-e2e/init).
#
# Default CACHE_DIR: ${VFIOCTL_TESTBED_CACHE:-/var/cache/vfioctl-testbed}
# Re-running is cheap: nothing is fetched when the packages are unpacked, and
# the initramfs is rebuilt only when init, this script or the module list change.
# Host tools the test bed needs (qemu-system-x86_64, socat, jq, setpriv, xz) are
# installed with apt-get when missing and we are root.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${1:-${VFIOCTL_TESTBED_CACHE:-/var/cache/vfioctl-testbed}}
# Modules of the outer guest: transport (9p over virtio), vfio, and a driver for
# every device of the layout (run.sh) so the captured view has all drivers bound.
MODULES="9p 9pnet_virtio virtio_pci virtio-rng vfio vfio-pci vfio_iommu_type1
 e1000e e1000 xhci-pci snd-hda-intel snd-hda-codec-generic bochs uinput evdev
 ahci lpc_ich i2c-i801 sd_mod crc32c_generic ext4 overlay"

T0=$(date +%s.%N)
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}'; }
log() { echo "setup: $*"; }
die() { echo "setup: ERROR: $*" >&2; exit 1; }

mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
# Serialize concurrent setups (meson may start two test runs).
exec 9>"$CACHE/.lock"
flock -w 600 9 || die "could not lock $CACHE/.lock"

APT_UPDATED=0
apt_update_once() {
  [ "$APT_UPDATED" = 1 ] && return 1
  APT_UPDATED=1
  log "apt-get update"
  apt-get update -qq >/dev/null
}

# --- host tools ---------------------------------------------------------------
need_pkgs=""
command -v qemu-system-x86_64 >/dev/null || need_pkgs="$need_pkgs qemu-system-x86"
command -v socat >/dev/null || need_pkgs="$need_pkgs socat"
command -v jq >/dev/null || need_pkgs="$need_pkgs jq"
command -v xz >/dev/null || need_pkgs="$need_pkgs xz-utils"
command -v setpriv >/dev/null || need_pkgs="$need_pkgs util-linux"
command -v lspci >/dev/null || need_pkgs="$need_pkgs pciutils"
if [ -n "$need_pkgs" ]; then
  [ "$(id -u)" = 0 ] || die "missing host packages:$need_pkgs (run as root or install them)"
  T=$(date +%s.%N)
  log "installing host packages:$need_pkgs"
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need_pkgs >/dev/null ||
    { apt_update_once; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need_pkgs >/dev/null; }
  log "host packages installed in $(elapsed "$T")s"
fi

# --- stamp: what the cached result was built from ----------------------------
stamp_of() {
  { cat "$HERE/setup.sh" "$HERE/init"; echo "$MODULES"; } | sha256sum | cut -d' ' -f1
}
STAMP=$(stamp_of)
if [ -f "$CACHE/ready" ] && [ "$(cat "$CACHE/ready")" = "$STAMP" ] &&
   [ -f "$CACHE/initramfs.cpio.gz" ] && [ -f "$CACHE/kernel-version" ]; then
  log "up to date in $CACHE (kernel $(cat "$CACHE/kernel-version")), $(elapsed "$T0")s"
  exit 0
fi
rm -f "$CACHE/ready"

# --- packages -----------------------------------------------------------------
mkdir -p "$CACHE/pkgs"
if [ -f "$CACHE/kpkg.done" ] && [ -f "$CACHE/bb.done" ]; then
  log "packages already unpacked ($(cat "$CACHE/kpkg.done"), $(cat "$CACHE/bb.done"))"
else
  T=$(date +%s.%N)
  resolve_kpkg() {
    apt-cache depends linux-image-amd64 2>/dev/null |
      awk '/Depends: linux-image-[0-9]/{print $2; exit}'
  }
  KPKG=$(resolve_kpkg || true)
  if [ -z "$KPKG" ]; then apt_update_once; KPKG=$(resolve_kpkg || true); fi
  [ -n "$KPKG" ] || die "cannot resolve the kernel package linux-image-amd64 depends on"
  download() {
    # APT::Sandbox::User=root: the cache dir may not be readable by _apt.
    (cd "$CACHE/pkgs" && apt-get download -q -o APT::Sandbox::User=root "$@" >/dev/null)
  }
  if ! download "$KPKG" busybox-static; then
    apt_update_once || true
    download "$KPKG" busybox-static || die "apt-get download $KPKG busybox-static failed"
  fi
  KDEB=$(ls -t "$CACHE/pkgs/${KPKG}"_*.deb | head -1)
  BDEB=$(ls -t "$CACHE/pkgs/"busybox-static_*.deb | head -1)
  log "downloaded $(basename "$KDEB") $(basename "$BDEB") in $(elapsed "$T")s"
  T=$(date +%s.%N)
  rm -rf "$CACHE/kpkg" "$CACHE/bb" "$CACHE/vmlinux"
  mkdir -p "$CACHE/kpkg" "$CACHE/bb"
  dpkg -x "$KDEB" "$CACHE/kpkg"
  dpkg -x "$BDEB" "$CACHE/bb"
  KV=$(ls "$CACHE/kpkg/lib/modules")
  "$CACHE/bb/bin/busybox" depmod -b "$CACHE/kpkg" "$KV"
  echo "$KV" > "$CACHE/kernel-version"
  echo "$KPKG $(dpkg-deb -f "$KDEB" Version)" > "$CACHE/kpkg.done"
  echo "busybox-static $(dpkg-deb -f "$BDEB" Version)" > "$CACHE/bb.done"
  log "unpacked + depmod in $(elapsed "$T")s"
fi
KV=$(cat "$CACHE/kernel-version")
BB=$CACHE/bb/bin/busybox
SRC=$CACHE/kpkg/lib/modules/$KV

# --- raw vmlinux for PVH boot --------------------------------------------------
if [ ! -f "$CACHE/vmlinux" ]; then
  T=$(date +%s.%N)
  VMLINUZ=$CACHE/kpkg/boot/vmlinuz-$KV
  off=$( (LC_ALL=C grep -m1 -obUaP '\xfd7zXZ\x00' "$VMLINUZ" || true) | head -1 | cut -d: -f1)
  if [ -n "$off" ]; then
    tail -c +$((off + 1)) "$VMLINUZ" | xz -dc --single-stream > "$CACHE/vmlinux.tmp" 2>/dev/null || true
  fi
  if [ -s "$CACHE/vmlinux.tmp" ] && [ "$(head -c4 "$CACHE/vmlinux.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
    mv "$CACHE/vmlinux.tmp" "$CACHE/vmlinux"
    log "extracted vmlinux (PVH entry) in $(elapsed "$T")s"
  else
    rm -f "$CACHE/vmlinux.tmp"
    log "WARNING: vmlinux extraction failed; run.sh will boot the bzImage (slower)"
  fi
fi

# --- initramfs -------------------------------------------------------------------
T=$(date +%s.%N)
R=$CACHE/initramfs-root
rm -rf "$R"
mkdir -p "$R"/bin "$R"/dev "$R"/proc "$R"/sys "$R"/tmp "$R"/run "$R"/etc \
         "$R"/hostroot "$R"/out "$R/lib/modules/$KV"
cp "$BB" "$R/bin/busybox"
ln -s busybox "$R/bin/sh"
# The guest's userland is Debian 12's busybox; say so for captures of its /etc.
if [ -f /usr/lib/os-release ]; then cp /usr/lib/os-release "$R/etc/os-release"
elif [ -f /etc/os-release ]; then cp /etc/os-release "$R/etc/os-release"; fi
declare -A seen=()
add_mod() { # $1 = module path relative to $SRC; copies it and its dependencies
  [ -n "${seen[$1]:-}" ] && return 0
  seen[$1]=1
  mkdir -p "$R/lib/modules/$KV/$(dirname "$1")"
  cp "$SRC/$1" "$R/lib/modules/$KV/$1"
  local d
  for d in $(grep "^$1:" "$SRC/modules.dep" | cut -d: -f2); do add_mod "$d"; done
}
for m in $MODULES; do
  # modules.dep spells names with - or _ as the file does; accept either.
  alt=$(echo "$m" | tr '_-' '-_')
  p=$(grep -E "/($m|$alt)\.ko:" "$SRC/modules.dep" | head -1 | cut -d: -f1)
  [ -n "$p" ] || die "module $m not found in $KV"
  add_mod "$p"
done
cp "$SRC/modules.builtin" "$SRC/modules.order" "$R/lib/modules/$KV/"
[ -f "$SRC/modules.builtin.modinfo" ] && cp "$SRC/modules.builtin.modinfo" "$R/lib/modules/$KV/"
"$BB" depmod -b "$R" "$KV"
cp "$HERE/init" "$R/init"
chmod 755 "$R/init"
(cd "$R" && find . | "$BB" cpio -o -H newc 2>/dev/null | gzip -1) > "$CACHE/initramfs.cpio.gz.tmp"
mv "$CACHE/initramfs.cpio.gz.tmp" "$CACHE/initramfs.cpio.gz"
log "initramfs: $(du -h "$CACHE/initramfs.cpio.gz" | cut -f1), ${#seen[@]} modules, built in $(elapsed "$T")s"

echo "$STAMP" > "$CACHE/ready"
log "done in $(elapsed "$T0")s: kernel $KV ($(cat "$CACHE/kpkg.done")), $(cat "$CACHE/bb.done"), cache $CACHE"
