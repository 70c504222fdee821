#!/bin/sh
# Runs the README's two commands in a clean Debian 12 root, as a new user's machine would: the check that
# scripts/install-deps.sh lists every package the build and the tests need (run as root; ~30 min).
#
#   sh scripts/fresh-root.sh [--main-only] [ROOT]      (ROOT default /var/tmp/vfioctl-fresh-root)
#
# The root is debootstrap's minbase (what a container or a minimal install has), unpacked anew from a
# cached tarball on every run ($VFIOCTL_FRESH_CACHE, default /var/cache/vfioctl-fresh-root); the
# committed tree (git archive HEAD) goes to ROOT/src/vfioctl, ../shared beside it when it is there, as
# CI lays them out. /proc, /sys, /dev and /dev/pts are bound in. What a chroot cannot give stays the
# host's: the kernel, its modules, /dev/kvm, /dev/fuse, hugepages. The test run holds the shared lock
# /tmp/vfioctl-heavy.lock. Prints the main job's result and the test summary line; the logs stay in
# ROOT/src/vfioctl/build*/meson-logs.
set -eu
cd "$(dirname "$0")/.."
SRC=$(pwd)
MAIN_ONLY=0
[ "${1:-}" = --main-only ] && { MAIN_ONLY=1; shift; }
ROOT=${1:-/var/tmp/vfioctl-fresh-root}
CACHE=${VFIOCTL_FRESH_CACHE:-/var/cache/vfioctl-fresh-root}
SUITE=bookworm
MIRROR=${VFIOCTL_FRESH_MIRROR:-http://deb.debian.org/debian}
[ "$(id -u)" = 0 ] || { echo "fresh-root: run as root (debootstrap, chroot, mount)" >&2; exit 1; }

if [ ! -s "$CACHE/$SUITE-minbase.tar" ]; then
  command -v debootstrap >/dev/null || apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  mkdir -p "$CACHE"
  rm -rf "$CACHE/tmp-root"
  echo "fresh-root: debootstrap --variant=minbase $SUITE (once; cached in $CACHE)"
  debootstrap --variant=minbase "$SUITE" "$CACHE/tmp-root" "$MIRROR" > "$CACHE/debootstrap.log" 2>&1 ||
    { tail -5 "$CACHE/debootstrap.log"; exit 1; }
  tar -C "$CACHE/tmp-root" -cf "$CACHE/$SUITE-minbase.tar.tmp" .
  mv "$CACHE/$SUITE-minbase.tar.tmp" "$CACHE/$SUITE-minbase.tar"
  rm -rf "$CACHE/tmp-root"
fi

unmount() {
  for m in dev/shm dev/pts dev sys proc ""; do
    mountpoint -q "$ROOT/$m" && umount -l "$ROOT/$m"
  done
  return 0
}
trap unmount EXIT INT TERM
unmount
rm -rf "$ROOT"
mkdir -p "$ROOT"
# Its own mount, as a machine's / is: unshare -m (the tests' private mounts) cannot change the
# propagation of a root that is only a directory.
mount --bind "$ROOT" "$ROOT"
tar -C "$ROOT" -xf "$CACHE/$SUITE-minbase.tar"
# The same archive as the host, with updates and security (a Debian 12 machine as installed).
cat > "$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
EOF
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
mkdir -p "$ROOT/src/vfioctl"
git archive --format=tar HEAD | tar -C "$ROOT/src/vfioctl" -xf -
[ -d ../shared ] && cp -a ../shared "$ROOT/src/shared"
for m in proc sys dev dev/pts; do mount --bind "/$m" "$ROOT/$m"; done
mount -t tmpfs -o mode=1777 tmpfs "$ROOT/dev/shm"   # a machine's own, not the host's: nothing shared

run() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  HOME=/root TERM=dumb CI=true /bin/sh -c "cd /src/vfioctl && $1"; }

echo "== fresh-root: the README's main-job command"
rc=0
run 'sh scripts/install-deps.sh && meson setup build && ninja -C build && build/tool/vfioctl demo && build/tool/vfioctl check --no-probe; build/tool/vfioctl devices' ||
  rc=$?
echo "fresh-root: main job exit $rc"
[ $MAIN_ONLY = 1 ] && exit $rc
echo "== fresh-root: the README's test command"
flock /tmp/vfioctl-heavy.lock chroot "$ROOT" /usr/bin/env -i \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb CI=true \
  /bin/sh -c 'cd /src/vfioctl && sh scripts/install-deps.sh && sh scripts/test.sh' || rc=$?
exit $rc
