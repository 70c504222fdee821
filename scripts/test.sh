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
skips() { # $1 = build dir: one line per skipped test program or TAP case, "NAME<TAB>REASON"
  # The reason: a program's "1..0 # SKIP why" (else its last line of output), a case's "# SKIP why", or
  # the "skipped: why" line cmocka tests print before skip() (cmocka itself names only the test there).
  jq -r '
    def clean: sub("^\\s+"; "") | sub("\\s+$"; "") | if . == "" then "no reason given" else . end;
    ((.stdout // "") | split("\n")) as $lines | .name as $n
    | if .result == "SKIP" then
        ([$lines[] | select(test("^1\\.\\.0 *# *(SKIP|skip)")) | sub("^1\\.\\.0 *# *(SKIP|skip):? *"; "")] | first)
          // ([($lines + ((.stderr // "") | split("\n")))[] | select(test("\\S"))] | last) // ""
        | "\($n)\t\(clean)"
      else
        foreach $lines[] as $l ({why: null, out: null};
          if ($l | test("^(# )?skipped: ")) then {why: ($l | sub("^(# )?skipped: "; "")), out: null}
          elif ($l | test("^(not )?ok [0-9]+.*# (SKIP|skip)")) then
            {why: null, out: (.why // ($l | sub("^.*# (SKIP|skip):? *"; "")))}
          elif ($l | test("^(not )?ok [0-9]+")) then {why: null, out: null}
          else {why: .why, out: null} end;
          .out // empty)
        | "\($n)\t\(clean)"
      end' "$1/meson-logs/testlog.json"
}
# A test may skip for what no package gives a machine: root, hugepages, FUSE, KVM, a tap or loop device,
# namespaces, ACLs, setuid (none under sanitizers). Any other skip — a missing program, package or QEMU
# module, or a reason not listed here — is a failure: install-deps.sh must make every test runnable on a
# fresh Debian 12 (scripts/fresh-root.sh checks that in a clean root).
ENV_SKIP='not a Debian system|needs root|hugepage|/dev/fuse|/dev/kvm|/dev/net/tun|/dev/loop|loop device|unshare|POSIX ACL|setuid|sanitizer'

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

# The package as users get it: .deb built, lintian, rpmspec, installed, demo and check run, purged, nothing left.
echo "== package (dpkg-buildpackage, lintian, rpmspec -P, install, demo, check, purge)"
sh scripts/package-check.sh > build-ci/package-check.log 2>&1 || rc=1
grep -v '^# deb: ' build-ci/package-check.log
set -- $(sed -n 's/^package: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' build-ci/package-check.log)
pass=$((pass + ${1:-0})); fail=$((fail + ${2:-1}))

# Skips by reason; those no environment explains are failures (see ENV_SKIP).
{ skips build-ci; skips build-asan; } > build-ci/skips.tsv
bad=$(cut -f2 build-ci/skips.tsv | grep -cvE "$ENV_SKIP" || true)
skip=$((skip - bad)); fail=$((fail + bad))
why=$(cut -f2 build-ci/skips.tsv | grep -E "$ENV_SKIP" | sort | uniq -c | sort -rn |
  awk '{ n = $1; $1 = ""; sub(/^ /, ""); printf "%s%s%s", (NR > 1 ? "; " : ""), $0, (n > 1 ? " x" n : "") }')

# Repeated at the end because CI logs are read from their tail.
failures build-ci
failures build-asan
grep '^not ok' build-ci/package-check.log | sed 's/^/FAILED package-check: /'
grep -vE "$ENV_SKIP" build-ci/skips.tsv | while IFS="$(printf '\t')" read -r name reason; do
  echo "FAILED $name: skipped for a missing program, package or QEMU module: $reason (add it to scripts/install-deps.sh; a skip only an environment explains is listed in ENV_SKIP)"
done
echo "tests: $pass passed, $fail failed, $skip skipped${why:+ ($why)}"
[ "$fail" = 0 ] || rc=1
exit $rc
