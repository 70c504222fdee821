#!/bin/sh
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for SECONDS (default 60); new
# crashes are written to tests/fuzz/crashes/ (fix them, then move the input into tests/fuzz/corpus/TARGET/
# so the replay test keeps it). Corpus growth stays in build-fuzz/corpus (not committed). Prints the
# executions per target, and exits 1 on the first crash.
set -eu
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
[ -d build-fuzz ] || CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
ninja -C build-fuzz >/dev/null
mkdir -p tests/fuzz/crashes
total=0
for t in $(sed -n "s/^fuzz_targets = \[\(.*\)\]/\1/p" tests/fuzz/meson.build | tr -d "',"); do
  mkdir -p "build-fuzz/corpus/$t"
  cp -n tests/fuzz/corpus/"$t"/* "build-fuzz/corpus/$t/" 2>/dev/null || true
  log="build-fuzz/fuzz-$t.log"
  "build-fuzz/tests/fuzz/fuzz-$t" -max_total_time="$SECONDS_EACH" -max_len=4096 -timeout=10 \
    -artifact_prefix="tests/fuzz/crashes/$t-" "build-fuzz/corpus/$t" > "$log" 2>&1 || true
  grep -E "^(==.*ERROR|SUMMARY)" "$log" || true
  runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  echo "fuzz-$t: ${runs:-?} executions in ${SECONDS_EACH}s, corpus $(ls "build-fuzz/corpus/$t" | wc -l) inputs"
  total=$((total + ${runs:-0}))
  ls tests/fuzz/crashes/"$t"-* >/dev/null 2>&1 && { echo "fuzz-$t: crash found, see tests/fuzz/crashes/ and $log"; exit 1; }
done
echo "fuzz: no crashes, $total executions"
