#!/bin/bash
# Case 5: peak RSS and CPU time per verb, the supervisor's RSS while a VM runs, the input relay's latency
# (from the VFIO test bed's logs: this host has no uinput) (bench/resources.py).
# usage: bench/resources.sh BUILD_DIR OUT_MD [RUNS]
# VFIOCTL_BENCH_EXPORT: a second vfioctl for verbs BUILD_DIR's lacks (before the lifecycle branch merged).
# VFIOCTL_BENCH_INPUT_LOGS: space-separated globs of test bed logs (default BUILD_DIR/meson-logs/*.log).
set -euo pipefail
BUILD=${1:?build dir}; OUT=${2:?output markdown}; RUNS=${3:-5}
SRC=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
cc -O2 -Wall -Wextra -Werror -o "$TMP/rusage" "$SRC/rusage.c"
read -r -a LOGS <<< "${VFIOCTL_BENCH_INPUT_LOGS:-$BUILD/meson-logs/*.log}"
python3 "$SRC/resources.py" "$TMP/rusage" "$BUILD/tool/vfioctl" "$OUT" "$RUNS" "${VFIOCTL_BENCH_EXPORT:-}" "${LOGS[@]}"
