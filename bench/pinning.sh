#!/bin/bash
# Case 4: pinning effect on in-guest micro-benchmarks (bench/guestbench.c), unpinned vs pinned by vfioctl (bench/pinning.py).
# usage: bench/pinning.sh [--kvm] BUILD_DIR OUT_MD [RUNS]
#   --kvm: the same on a KVM host (accel = kvm, cpu model host); default TCG.
# The guest kernel and busybox come from the VFIO test bed's cache (tests/vfio-e2e/setup.sh fills it).
set -euo pipefail
ACCEL=tcg
[ "${1:-}" = --kvm ] && { ACCEL=kvm; shift; }
BUILD=${1:?build dir}; OUT=${2:?output markdown}; RUNS=${3:-5}
SRC=$(cd "$(dirname "$0")" && pwd)
CACHE=${VFIOCTL_TESTBED_CACHE:-/var/cache/vfioctl-testbed}
KERNEL=$CACHE/vmlinux; BUSYBOX=$CACHE/bb/bin/busybox
if [ ! -r "$KERNEL" ] || [ ! -x "$BUSYBOX" ]; then
  printf '### Pinning effect (%s)\n\nNot measured: no guest kernel and busybox in %s (run tests/vfio-e2e/setup.sh).\n' \
    "${ACCEL^^}" "$CACHE" > "$OUT"
  exit 0
fi
if ! "$BUILD/tool/vfioctl" --help | grep -q '^  start '; then
  printf '### Pinning effect (%s)\n\nNot measured: %s has no start verb.\n' "${ACCEL^^}" "$BUILD/tool/vfioctl" > "$OUT"
  exit 0
fi
if [ $ACCEL = kvm ] && [ ! -w /dev/kvm ]; then
  echo "pinning.sh --kvm: /dev/kvm is missing or not writable here; run it on a KVM host" >&2; exit 1
fi
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
gcc -O2 -static -Wall -Wextra -Werror -o "$TMP/guestbench" "$SRC/guestbench.c"
python3 "$SRC/pinning.py" "$BUILD/tool/vfioctl" "$TMP/guestbench" "$KERNEL" "$BUSYBOX" "$OUT" "$RUNS" "$ACCEL"
