#!/bin/sh
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for SECONDS (default 60); new
# crashes are written to tests/fuzz/crashes/. Corpus growth stays in build-fuzz/corpus (not committed).
set -eu
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
[ -d build-fuzz ] || CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
ninja -C build-fuzz >/dev/null
mkdir -p tests/fuzz/crashes
for t in $(sed -n "s/^fuzz_targets = \[\(.*\)\]/\1/p" tests/fuzz/meson.build | tr -d "',"); do
  mkdir -p "build-fuzz/corpus/$t"
  cp -n tests/fuzz/corpus/"$t"/* "build-fuzz/corpus/$t/" 2>/dev/null || true
  echo "== fuzz-$t for ${SECONDS_EACH}s"
  "build-fuzz/tests/fuzz/fuzz-$t" -max_total_time="$SECONDS_EACH" -max_len=4096 -timeout=10 \
    -artifact_prefix="tests/fuzz/crashes/$t-" "build-fuzz/corpus/$t" 2>&1 | grep -E "^(#[0-9]+ +DONE|Done|==.*ERROR|SUMMARY)" || true
  ls tests/fuzz/crashes/"$t"-* >/dev/null 2>&1 && { echo "fuzz-$t: crash found, see tests/fuzz/crashes/"; exit 1; }
done
echo "fuzz: no crashes"
