#!/bin/sh
# Builds vfioctl twice (warnings as errors; ASan+UBSan) and runs every test suite; prints one summary line.
set -eu
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
summary() { # $1 = build dir: "passed failed skipped", counting each TAP test case of a program
  jq -rs '
    def cases: (.stdout // "") | split("\n")
      | { ok: map(select(test("^ok [0-9]+") and (test("# (SKIP|skip)") | not))) | length,
          notok: map(select(test("^not ok [0-9]+") and (test("# (SKIP|skip)") | not))) | length,
          skip: map(select(test("^(not )?ok [0-9]+.*# (SKIP|skip)"))) | length };
    map(cases as $c
        | if ($c.ok + $c.notok + $c.skip) > 0 then
            [$c.ok, ($c.notok + (if (.result == "OK" or .result == "SKIP") or $c.notok > 0 then 0 else 1 end)), $c.skip]
          elif .result == "OK" then [1, 0, 0]
          elif .result == "SKIP" then [0, 0, 1]
          else [0, 1, 0] end)
    | transpose | map(add // 0) | "\(.[0]) \(.[1]) \(.[2])"' "$1/meson-logs/testlog.json"
}
failures() { # $1 = build dir: each failing test program and its failing TAP cases, for the log's tail
  jq -r 'select(.result != "OK" and .result != "SKIP")
    | "FAILED \(.name) (\(.result), \(.duration | floor) s)",
      ((.stdout // "") | split("\n") | map(select(test("^not ok |^# |^Bail out"))) | .[-12:][] | "    \(.)")' \
    "$1/meson-logs/testlog.json"
}
rc=0
echo "== build (-Werror)"
[ -d build-ci ] || meson setup build-ci -Dwerror=true >/dev/null
ninja -C build-ci -j "$JOBS"
echo "== tests"
meson test -C build-ci --num-processes "$JOBS" --print-errorlogs || rc=1
set -- $(summary build-ci); pass=$1; fail=$2; skip=$3

echo "== build (ASan+UBSan)"
[ -d build-asan ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true >/dev/null
ninja -C build-asan -j "$JOBS"
echo "== tests under ASan+UBSan (all suites but the nested-VM one)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --num-processes "$JOBS" --print-errorlogs --no-suite vfio || rc=1
set -- $(summary build-asan); pass=$((pass + $1)); fail=$((fail + $2)); skip=$((skip + $3))

# libFuzzer: every parser's fuzzer for a bounded time (clang, ASan+UBSan); a crash fails CI.
echo "== fuzz (${FUZZ_SECONDS:-20}s per target)"
sh scripts/fuzz.sh "${FUZZ_SECONDS:-20}" || { rc=1; fail=$((fail + 1)); }

# Repeated at the end because CI logs are read from their tail.
failures build-ci
failures build-asan
echo "tests: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ] || rc=1
exit $rc
