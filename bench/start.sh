#!/bin/bash
# Case 1: start/stop latency of a small TCG VM: vfioctl vs raw QEMU (floor) vs libvirt warm and cold (bench/start.py).
# usage: bench/start.sh BUILD_DIR OUT_MD [RUNS]
# VFIOCTL_BENCH_EXPORT: a vfioctl with export-libvirt, when BUILD_DIR's has the lifecycle verbs but not that one.
set -euo pipefail
BUILD=${1:?build dir}; OUT=${2:?output markdown}; RUNS=${3:-5}
if ! "$BUILD/tool/vfioctl" --help | grep -q '^  start '; then
  printf '### Start and stop latency\n\nNot measured: %s has no start verb.\n' "$BUILD/tool/vfioctl" > "$OUT"
  exit 0
fi
# The graceful-stop guest: Debian's kernel, busybox and its ACPI modules from the VFIO test bed's cache.
CACHE=${VFIOCTL_TESTBED_CACHE:-/var/cache/vfioctl-testbed}
GUEST=()
if [ -r "$CACHE/vmlinux" ] && [ -x "$CACHE/bb/bin/busybox" ] && [ -r "$CACHE/kernel-version" ]; then
  GUEST=("$CACHE/vmlinux" "$CACHE/bb/bin/busybox" "$CACHE/kpkg/lib/modules/$(cat "$CACHE/kernel-version")")
fi
exec python3 "$(dirname "$0")/start.py" "$BUILD/tool/vfioctl" "$OUT" "$RUNS" "${VFIOCTL_BENCH_EXPORT:-}" "${GUEST[@]}"
