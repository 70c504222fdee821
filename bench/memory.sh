#!/bin/bash
# Case 3: memory setup of a large guest (hugepage-backed when the host allows): vfioctl start (which fills the guest
# RAM with one thread per CPU) vs QEMU's own prealloc, 1 thread and prealloc-threads, against the machine's floor
# (bench/membw.c), with the factors one at a time (bench/prealloc-factors.c) (bench/memory.py).
# usage: bench/memory.sh BUILD_DIR OUT_MD [RUNS] [SIZE_GIB]   (8 GiB: 16 leaves a shared 24 GiB machine too little)
set -euo pipefail
BUILD=${1:?build dir}; OUT=${2:?output markdown}; RUNS=${3:-5}; GIB=${4:-8}
SRC=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
cc -O2 -Wall -Wextra -Werror -pthread -o "$TMP/membw" "$SRC/membw.c"
cc -O2 -Wall -Wextra -Werror -pthread -o "$TMP/prealloc-factors" "$SRC/prealloc-factors.c"
python3 "$SRC/memory.py" "$BUILD/tool/vfioctl" "$TMP/membw" "$OUT" "$RUNS" "$GIB" "$TMP/prealloc-factors"
