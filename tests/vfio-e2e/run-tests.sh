#!/bin/bash
# run-tests.sh [VFIOCTL] [--log FILE] [--timeout SEC] [--case NAME]... [--topology T]
#
# Host side of the VFIO test bed; what `meson test --suite vfio` runs.
#  1. setup.sh (idempotent; downloads the guest kernel + busybox on first run)
#  2. run.sh: boots the outer guest with a hard timeout (QEMU is killed by PID)
#  3. timestamps the serial console into the log:
#     --log FILE, else $MESON_BUILD_ROOT/meson-logs/vfio-e2e.log, else
#     ./meson-logs/vfio-e2e.log when run from a meson build dir, else
#     ${TMPDIR:-/tmp}/vfio-e2e-<date>.log; the guest's work files (vfioctl's
#     JSON, QEMU stderr, QMP replies) go to <log>.artifacts/
#  4. prints the result as TAP (one "ok N - case" per guest case; everything
#     else as "# " comments, ending with "# N passed, N failed") so meson counts
#     each case; exits 1 if a case failed, no case ran, or the guest never
#     printed TEST-END.
# VFIOCTL defaults to <repo>/build/tool/vfioctl. Env: VFIOCTL_TESTBED_CACHE
# (setup cache), VFIO_E2E_TIMEOUT (seconds, default 600).
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
VFIOCTL=""
LOG=""
TIMEOUT=${VFIO_E2E_TIMEOUT:-600}
RUNARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --log) LOG=${2:?}; shift 2;;
    --timeout) TIMEOUT=${2:?}; shift 2;;
    --case) RUNARGS+=(--case "${2:?}"); shift 2;;
    --topology) RUNARGS+=(--topology "${2:?}"); shift 2;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0;;
    -*) echo "run-tests.sh: unknown option $1" >&2; exit 2;;
    *) VFIOCTL=$1; shift;;
  esac
done
VFIOCTL=${VFIOCTL:-$REPO/build/tool/vfioctl}
case "$VFIOCTL" in /*) ;; *) VFIOCTL=$(pwd)/$VFIOCTL;; esac
if [ -z "$LOG" ]; then
  if [ -n "${MESON_BUILD_ROOT:-}" ]; then LOG=$MESON_BUILD_ROOT/meson-logs/vfio-e2e.log
  elif [ -d meson-logs ]; then LOG=$(pwd)/meson-logs/vfio-e2e.log
  else LOG=${TMPDIR:-/tmp}/vfio-e2e-$(date +%Y%m%d-%H%M%S).log; fi
fi
mkdir -p "$(dirname "$LOG")"
ART=$LOG.artifacts
rm -rf "$ART"

now() { echo "${EPOCHREALTIME/./}"; }   # microseconds
fmt() { printf '%d.%02d' $(($1 / 1000000)) $(($1 % 1000000 / 10000)); }
T0=$(now)

finish() { # $1 pass, $2 fail
  local n=0 name verdict detail
  if [ -f "$LOG" ]; then
    while read -r name verdict detail; do
      n=$((n + 1))
      if [ "$verdict" = PASS ]; then echo "ok $n - $name $detail"; else echo "not ok $n - $name $detail"; fi
    done < <(sed -n 's/^\[host *[0-9.]*\] @@@ CASE //p' "$LOG")
  fi
  if [ "$2" -gt 0 ] && [ "$n" -lt $(( $1 + $2 )) ]; then
    n=$((n + 1)); echo "not ok $n - test bed (setup, boot or TEST-END missing: see the log)"
  fi
  echo "1..$n"
  echo "# vfio-e2e: log $LOG, total $(fmt $(( $(now) - T0 )))s"
  echo "# $1 passed, $2 failed"
  [ "$2" = 0 ] && [ "$1" -gt 0 ]
  exit $?
}

if [ "$(id -u)" != 0 ]; then
  echo "# vfio-e2e: needs root (binds devices in a nested guest; setup uses apt-get)"
  finish 0 1
fi

# The host tools come from scripts/install-deps.sh. setup.sh would apt-get a missing one itself, which
# hides a package missing from that list until a fresh machine meets it: name it and fail instead.
missing=""
for tp in qemu-system-x86_64:qemu-system-x86 socat:socat jq:jq xz:xz-utils setpriv:util-linux lspci:pciutils; do
  command -v "${tp%%:*}" >/dev/null || missing="$missing ${tp#*:}"
done
if [ -n "$missing" ]; then
  echo "# vfio-e2e: missing host packages:$missing (add them to scripts/install-deps.sh)"
  finish 0 1
fi

echo "# vfio-e2e: setup"
if ! "$HERE/setup.sh" 2>&1 | sed 's/^/#   /'; then
  echo "# vfio-e2e: setup.sh failed"
  finish 0 1
fi
T1=$(now)
echo "# vfio-e2e: setup took $(fmt $((T1 - T0)))s; booting the outer guest (timeout ${TIMEOUT}s), vfioctl=$VFIOCTL"

: > "$LOG"
# run.sh kills QEMU by PID on its own timeout; `timeout` is the backstop for
# run.sh itself (TERM runs its trap, which kills QEMU).
timeout -k 10 $((TIMEOUT + 30)) "$HERE/run.sh" --vfioctl "$VFIOCTL" --timeout "$TIMEOUT" \
    --artifacts "$ART" "${RUNARGS[@]}" < /dev/null 2>&1 |
  while IFS= read -r line; do   # no forks per line: QEMU needs both cores
    line=${line%$'\r'}
    d=$(( ${EPOCHREALTIME/./} - T1 ))
    printf -v ts '%d.%02d' $((d / 1000000)) $((d % 1000000 / 10000))
    printf '[host %7s] %s\n' "$ts" "$line" >&3
    case "$line" in
      "@@@ CASE "*|"@@@ TEST-END"*|*"Kernel panic"*|"run.sh: TIMEOUT"*|"run.sh: QEMU exited"*)
        printf '# [%7s] %s\n' "$ts" "$line";;
    esac
  done 3>> "$LOG"
T2=$(now)

pass=$(grep -c '^\[host *[0-9.]*\] @@@ CASE [^ ]* PASS' "$LOG")
fail=$(grep -c '^\[host *[0-9.]*\] @@@ CASE [^ ]* FAIL' "$LOG")
echo "# vfio-e2e: guest run took $(fmt $((T2 - T1)))s"
if ! grep -q '@@@ TEST-END pass=' "$LOG"; then
  echo "# vfio-e2e: FAIL: the guest never printed TEST-END (timeout, panic or crash); last lines:"
  tail -15 "$LOG" | sed 's/^/#   /'
  fail=$((fail + 1))
fi
finish "$pass" "$fail"
