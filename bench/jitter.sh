#!/bin/bash
# Case 6: the guest's timer-loop jitter under a host load on every CPU, pinned only vs pinned + [cpu] isolate,
# side by side in one run of the VFIO test bed (bench/jitter.py; the outer guest has the cgroup v2 cpuset
# isolation needs, this host may not). The guest is bench/jitterguest.c, a Multiboot kernel built here.
# usage: bench/jitter.sh BUILD_DIR OUT_MD [ROUNDS]   (root: the test bed runs vfioctl as root, QEMU as nobody)
# The test bed's kernel comes from ${VFIOCTL_TESTBED_CACHE:-/var/cache/vfioctl-testbed} (tests/vfio-e2e/setup.sh).
set -euo pipefail
BUILD=${1:?build dir}; OUT=${2:?output markdown}; ROUNDS=${3:-3}
SRC=$(cd "$(dirname "$0")" && pwd)
CACHE=${VFIOCTL_TESTBED_CACHE:-/var/cache/vfioctl-testbed}
if [ "$(id -u)" != 0 ] || [ ! -f "$CACHE/ready" ]; then
  printf '### Timer-loop jitter under host load: pinned vs pinned + isolated\n\nNot measured: %s.\n' \
    "$([ "$(id -u)" != 0 ] && echo "needs root (the test bed)" || echo "no test bed in $CACHE (run tests/vfio-e2e/setup.sh)")" > "$OUT"
  exit 0
fi
# the guest kernel must be readable through the test bed's share of / and its path free of whitespace
TMP=$(mktemp -d /var/tmp/vfioctl-jitter.XXXXXX); trap 'rm -rf "$TMP"' EXIT
chmod 755 "$TMP"
gcc -m32 -march=i686 -O2 -Wall -Wextra -Werror -ffreestanding -fno-pic -no-pie -fno-stack-protector \
  -fno-asynchronous-unwind-tables -nostdlib -static -Wl,-Ttext=0x100000 -Wl,--build-id=none -Wl,-z,noseparate-code \
  -Wl,-e,_start -o "$TMP/jitterguest.elf" "$SRC/jitterguest.c"
chmod 644 "$TMP/jitterguest.elf"
VFIOCTL=$(cd "$BUILD" && pwd)/tool/vfioctl
T0=$(date +%s)
rc=0
"$SRC/../tests/vfio-e2e/run.sh" --case bench-jitter --vfioctl "$VFIOCTL" --timeout $((300 + ROUNDS * 160)) \
  --append "vfioctl.jitter_elf=$TMP/jitterguest.elf vfioctl.jitter_rounds=$ROUNDS" > "$TMP/serial.log" 2>&1 || rc=$?
grep -a '@@@ \(JITTER\|CASE\)' "$TMP/serial.log" >&2 || true
[ -n "${VFIOCTL_JITTER_LOG:-}" ] && cp "$TMP/serial.log" "$VFIOCTL_JITTER_LOG"
python3 "$SRC/jitter.py" "$TMP/serial.log" "$OUT" "$ROUNDS" "$(( $(date +%s) - T0 ))" "$rc" "$(cat "$CACHE/kernel-version")"
