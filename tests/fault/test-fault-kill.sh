#!/bin/bash
# Fault injection: vfioctl killed (SIGKILL) at every file-changing step of setup, create and start, and at
# random moments of setup, create --disk, disk create, snapshot create and start, must leave each file it
# writes either as it was or as a finished run writes it, never truncated, and no QEMU it cannot see; setup's manifest must stay usable (--undo
# restores the tree, a rerun completes it); a full filesystem gives a clear error with the old state intact.
# Sizes: FAULT_ITERATIONS (default 60) random kills per verb (start: FAULT_START_ITERATIONS, default 10, at most); every step of setup and create is killed once.
set -u
BIN=${VFIOCTL_BIN:?VFIOCTL_BIN not set (run through meson test)}
DATA=${VFIOCTL_TEST_DATA:?VFIOCTL_TEST_DATA not set}
QEMU_IMG=/usr/bin/qemu-img
N=${FAULT_ITERATIONS:-60}
if [ -z "${TMPDIR:-}" ] && [ -w /dev/shm ]; then TMPDIR=/dev/shm; fi
T=$(mktemp -d "${TMPDIR:-/tmp}/vfioctl-fault.XXXXXX")
# QEMUs a failed start section left behind are ended by pid (their -name holds this test's VM name).
trap 'for p in /proc/[0-9]*; do case "$(tr "\0" " " < "$p/cmdline" 2> /dev/null)" in *qemu-system*"guest=fk$$,"*) kill -9 "${p#/proc/}" ;; esac; done 2> /dev/null; rm -rf "$T"' EXIT
FAILS=0 CHECKS=0 KILLS=0
ok() { CHECKS=$((CHECKS + 1)); echo "ok $CHECKS - $1"; }
bad() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "not ok $CHECKS - $1"; }
skip() { CHECKS=$((CHECKS + 1)); echo "ok $CHECKS - $1 # SKIP $2"; }
# A random delay for timeout(1) in [1, $1] ms, $1 being how long an uninterrupted run took (measured
# below with run_ms), so the kills spread over the whole run whatever the machine's speed. Never 0:
# timeout(1) takes a duration of 0 as no timeout at all, and a foreground start --paused then runs until
# the suite's own limit kills it (it did, once in 1/$1 draws).
rnd_delay() { local ms=$((1 + RANDOM % ($1 > 1 ? $1 : 2))); printf '%d.%03d' $((ms / 1000)) $((ms % 1000)); }
run_ms() { local t0; t0=$(date +%s%N); "$@" > /dev/null 2>&1; echo $((($(date +%s%N) - t0) / 1000000 + 1)); }
# Every finished run's temp files are gone; a killed run may leave hidden ones (".#vfioctl.*",
# "NAME.XXXXXX", ".NAME.vfioctl-partial.*"): those are not the file, only litter, and are listed apart.
is_temp() { case "$1" in */.\#vfioctl.*|*.vfioctl-partial.*|*.conf.??????|*.tmp??????) return 0 ;; esac; return 1; }

# ---------------------------------------------------------------------------------------------------------
# 1. setup on a scratch root: killed at each step k (VFIOCTL_TEST_KILL_AT_STEP), then at random moments.
S=$T/root
cp -a "$DATA/sysfs/q35-viommu" "$S"
mkdir -p "$S/etc/default" "$S/etc/sysctl.d"
printf 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX=""\n' > "$S/etc/default/grub"
cp -a "$S/etc" "$T/etc0"
ARGS=(setup 02:00.0 06:00.0 05:01.0 --with-group --user vmuser --memory 8G --hugepages 4G --usb 046d:c52b
      --apply-cmdline)
ARGS_EARLIER=(setup 06:00.0 --user vmuser --memory 4G)
# /var/lib exists on every host; setup makes /var/lib/vfioctl.
reset_root() { rm -rf "$S/etc" "$S/var"; cp -a "$T/etc0" "$S/etc"; mkdir -p "$S/var/lib"; }
# "TYPE MODE PATH [HASH]" for every entry under etc/ and var/, temp files left out. The manifest is
# hashed as a set of lines: a rerun after a kill may list the same entries in another order.
listing() {
  (cd "$S" && find etc var -printf '%y %m %p\n' 2>/dev/null | while read -r y m p; do
    is_temp "$p" && continue
    if [ "$p" = var/lib/vfioctl/setup.manifest ]; then echo "$y $m $p $(LC_ALL=C sort "$p" | sha256sum | cut -c1-16)"
    elif [ "$y" = f ]; then echo "$y $m $p $(sha256sum < "$p" | cut -c1-16)"; else echo "$y $m $p"; fi
  done | LC_ALL=C sort)
}
temps() { (cd "$S" && find etc var 2>/dev/null | while read -r p; do is_temp "$p" && echo "$p"; done); }
# Every file now is as in $1 (before) or as in $2 (after): same path, same hash. Prints offenders. The
# manifest is the exception: while a run writes, it lists both states (judged by undo and rerun below).
old_or_new() {
  awk 'FNR == 1 { f++ } $1 == "f" { h[f, $3] = $4 } f == 3 && $1 == "f" && $3 !~ /setup.manifest$/ && $4 != h[1, $3] && $4 != h[2, $3] { print $3; bad = 1 }
       END { exit bad }' "$1" "$2" <(listing)
}

reset_root; listing > "$T/B0"
"$BIN" --root "$S" "${ARGS[@]}" > /dev/null 2>&1 || bad "setup (reference run) failed"
listing > "$T/B1"
reset_root; "$BIN" --root "$S" "${ARGS_EARLIER[@]}" > /dev/null 2>&1; listing > "$T/M0"
"$BIN" --root "$S" "${ARGS[@]}" > /dev/null 2>&1; listing > "$T/M1"

setup_case() { # setup_case LABEL BEFORE AFTER PREP KILL-COMMAND...: one kill and the checks after it
  local label=$1 before=$2 after=$3 prep=$4; shift 4
  reset_root
  [ "$prep" = earlier ] && "$BIN" --root "$S" "${ARGS_EARLIER[@]}" > /dev/null 2>&1
  "$@" > "$T/out" 2>&1; local rc=$?
  [ $rc = 137 ] && KILLS=$((KILLS + 1))
  local off; off=$(old_or_new "$before" "$after") || { bad "$label: files neither old nor new: $off"; return; }
  # The manifest and the files agree: undo restores the pristine tree, or a rerun finishes the work.
  if [ "$prep" = fresh ]; then
    "$BIN" --root "$S" setup --undo > "$T/undo" 2>&1; local urc=$?
    if [ $urc = 0 ] && cmp -s "$T/B0" <(listing); then :; else
      bad "$label: undo after the kill (rc=$urc) did not restore the tree: $(diff "$T/B0" <(listing) | head -3 | tr '\n' ' ') $(head -2 "$T/undo" | tr '\n' ' ')"; return
    fi
    [ -z "$(temps)" ] || { bad "$label: undo left temp files: $(temps | tr '\n' ' ')"; return; }
  else
    "$BIN" --root "$S" "${ARGS[@]}" > "$T/rerun" 2>&1; local rrc=$?
    if [ $rrc = 0 ] && cmp -s "$after" <(listing); then :; else
      bad "$label: rerun after the kill (rc=$rrc) did not reach the finished state: $(diff "$after" <(listing) | head -3 | tr '\n' ' ') $(head -2 "$T/rerun" | tr '\n' ' ')"; return
    fi
  fi
  return 0
}

steps=0
while :; do
  reset_root
  VFIOCTL_TEST_KILL_AT_STEP=$((steps + 1)) "$BIN" --root "$S" "${ARGS[@]}" > /dev/null 2>&1
  [ $? = 137 ] || break
  steps=$((steps + 1))
  [ $steps -lt 500 ] || break
done
if [ $steps -gt 5 ]; then ok "setup has $steps file-changing steps, each a kill point"; else bad "setup kill points: only $steps"; fi
fails_before=$FAILS
for k in $(seq 1 "$steps"); do
  setup_case "setup killed at step $k (fresh host)" "$T/B0" "$T/B1" fresh env VFIOCTL_TEST_KILL_AT_STEP=$k "$BIN" --root "$S" "${ARGS[@]}"
  setup_case "setup killed at step $k (over an earlier setup)" "$T/M0" "$T/M1" earlier env VFIOCTL_TEST_KILL_AT_STEP=$k "$BIN" --root "$S" "${ARGS[@]}"
done
[ $FAILS = $fails_before ] && ok "setup: killed at each of $steps steps twice (fresh, over an earlier setup): old or new files, undo and rerun consistent"
fails_before=$FAILS k0=$KILLS
reset_root; D=$(run_ms "$BIN" --root "$S" "${ARGS[@]}")
for i in $(seq 1 "$N"); do
  setup_case "setup killed at random ($i)" "$T/B0" "$T/B1" fresh timeout -s KILL "$(rnd_delay "$D")" "$BIN" --root "$S" "${ARGS[@]}"
done
[ $FAILS = $fails_before ] && ok "setup: $N random kill attempts ($((KILLS - k0)) landed before it finished), old or new files, undo consistent"
# undo itself killed: the manifest must still describe what is left, so a second undo finishes.
fails_before=$FAILS
for k in $(seq 1 40); do
  reset_root; "$BIN" --root "$S" "${ARGS[@]}" > /dev/null 2>&1
  VFIOCTL_TEST_KILL_AT_STEP=$k "$BIN" --root "$S" setup --undo > /dev/null 2>&1; rc=$?
  [ $rc = 137 ] || break
  KILLS=$((KILLS + 1))
  off=$(old_or_new "$T/B1" "$T/B0") || { bad "undo killed at step $k: files neither old nor new: $off"; continue; }
  "$BIN" --root "$S" setup --undo > "$T/undo" 2>&1; urc=$?
  { [ $urc = 0 ] && cmp -s "$T/B0" <(listing) && [ -z "$(temps)" ]; } ||
    bad "undo killed at step $k: a second undo (rc=$urc) did not restore the tree: $(diff "$T/B0" <(listing) | head -3 | tr '\n' ' ') $(head -2 "$T/undo" | tr '\n' ' ')"
done
[ $FAILS = $fails_before ] && ok "setup --undo killed at each of its $((k - 1)) steps: a second undo restores the tree"

# ---------------------------------------------------------------------------------------------------------
# 2. create NAME --disk SIZE: the config and the disk image; each step, then random moments.
export XDG_CONFIG_HOME=$T/xdg/config XDG_STATE_HOME=$T/xdg/state
CONF=$XDG_CONFIG_HOME/vfioctl/vms/vm1.conf IMG=$XDG_STATE_HOME/vfioctl/vm1/system.qcow2
CREATE=(create --memory 2G --cpus 1 --disk 64M vm1)
img_ok() { # the image is absent, or a whole qcow2 of size $2
  [ -e "$1" ] || return 0
  "$QEMU_IMG" check -q "$1" > /dev/null 2>&1 || return 1
  [ "$("$QEMU_IMG" info --output=json "$1" | jq '."virtual-size"')" = "$2" ]
}
# A killed vfioctl's qemu-img child is reparented and finishes its work on its own, holding the image's
# lock until then (as with any tool that runs a helper): wait for every qemu-img working below $T
# before judging the files, or qemu-img check meets that lock.
wait_qemu_img() {
  local i=0 p a busy
  while [ $i -lt 600 ]; do
    busy=0
    for p in /proc/[0-9]*/cmdline; do
      a=""; IFS= read -r -d '' a < "$p" 2>/dev/null
      case "$a" in *qemu-img) grep -qaF -- "$T/" "$p" 2>/dev/null && { busy=1; break; };; esac
    done
    [ $busy = 0 ] && return 0
    sleep 0.1; i=$((i + 1))
  done
  echo "# a qemu-img below $T still runs after 60 s"
}
create_case() {
  local label=$1; shift
  rm -rf "$T/xdg"
  "$@" > "$T/out" 2>&1; [ $? = 137 ] && KILLS=$((KILLS + 1))
  wait_qemu_img
  if [ -e "$CONF" ] && ! "$BIN" validate "$CONF" > "$T/val" 2>&1; then bad "$label: config truncated: $(head -2 "$T/val" | tr '\n' ' ')"; return; fi
  img_ok "$IMG" 67108864 || { bad "$label: disk image is not a whole 64M qcow2"; return; }
  # A rerun completes whatever the kill interrupted. create never replaces an image: one made before the
  # kill is named with --disk PATH, as its refusal says.
  if [ ! -e "$CONF" ] && [ -e "$IMG" ]; then
    "$BIN" "${CREATE[@]}" > "$T/rerun" 2>&1 && { bad "$label: rerun replaced the existing image"; return; }
    grep -q "pass --disk $IMG to use it" "$T/rerun" || { bad "$label: rerun's refusal lacks the fix: $(head -2 "$T/rerun" | tr '\n' ' ')"; return; }
    "$BIN" create --memory 2G --cpus 1 --disk "$IMG" vm1 > "$T/rerun" 2>&1 || { bad "$label: rerun with --disk failed: $(head -2 "$T/rerun" | tr '\n' ' ')"; return; }
  elif [ ! -e "$CONF" ]; then
    "$BIN" "${CREATE[@]}" > "$T/rerun" 2>&1 || { bad "$label: rerun failed: $(head -2 "$T/rerun" | tr '\n' ' ')"; return; }
  fi
  { [ -e "$CONF" ] && "$BIN" validate "$CONF" > /dev/null 2>&1 && [ -e "$IMG" ] && img_ok "$IMG" 67108864; } ||
    bad "$label: not complete after a rerun"
}
if [ -x "$QEMU_IMG" ]; then
  cs=0
  while :; do
    rm -rf "$T/xdg"
    VFIOCTL_TEST_KILL_AT_STEP=$((cs + 1)) "$BIN" "${CREATE[@]}" > /dev/null 2>&1
    [ $? = 137 ] || break
    cs=$((cs + 1)); [ $cs -lt 100 ] || break
  done
  fails_before=$FAILS
  for k in $(seq 1 "$cs"); do create_case "create killed at step $k" env VFIOCTL_TEST_KILL_AT_STEP=$k "$BIN" "${CREATE[@]}"; done
  k0=$KILLS
  rm -rf "$T/xdg"; D=$(run_ms "$BIN" "${CREATE[@]}")
  for i in $(seq 1 "$N"); do create_case "create killed at random ($i)" timeout -s KILL "$(rnd_delay "$D")" "$BIN" "${CREATE[@]}"; done
  [ $FAILS = $fails_before ] && ok "create --disk: killed at each of $cs steps and $N random moments ($((KILLS - k0)) landed): config and image whole or absent, a rerun (with --disk PATH for a kept image) completes"

  # 3. disk create with preallocation (slow enough to be killed midway): whole image or none.
  fails_before=$FAILS k0=$KILLS
  mkdir -p "$T/disks"
  D=$(run_ms "$BIN" disk create "$T/disks/ref.qcow2" --size 64M --prealloc); rm -f "$T/disks/ref.qcow2"
  for i in $(seq 1 "$N"); do
    rm -f "$T/disks/"* "$T/disks/".??* 2>/dev/null
    timeout -s KILL "$(rnd_delay "$D")" "$BIN" disk create "$T/disks/d.qcow2" --size 64M --prealloc > /dev/null 2>&1
    [ $? = 137 ] && KILLS=$((KILLS + 1))
    wait_qemu_img
    img_ok "$T/disks/d.qcow2" 67108864 || { bad "disk create killed at random ($i): truncated image under the real name"; continue; }
    "$BIN" disk create "$T/disks/d2.qcow2" --size 1M > /dev/null 2>&1 || bad "disk create after a kill ($i) failed"
  done
  [ $FAILS = $fails_before ] && ok "disk create --prealloc: $N random kill attempts ($((KILLS - k0)) landed), the image is whole or absent"

  # 4. snapshot create: each image stays a consistent qcow2 (qemu-img check), the vars copy whole or absent.
  fails_before=$FAILS k0=$KILLS
  mkdir -p "$T/snap"
  "$BIN" disk create "$T/snap/a.qcow2" --size 32M > /dev/null 2>&1
  "$BIN" disk create "$T/snap/b.qcow2" --size 32M > /dev/null 2>&1
  head -c 131072 /dev/urandom > "$T/snap/VARS.fd"
  vsum=$(sha256sum < "$T/snap/VARS.fd")
  D=$(run_ms "$BIN" snapshot create ref --disk "$T/snap/a.qcow2" --disk "$T/snap/b.qcow2" --vars "$T/snap/VARS.fd")
  for i in $(seq 1 "$N"); do
    timeout -s KILL "$(rnd_delay "$D")" "$BIN" snapshot create "s$i" --disk "$T/snap/a.qcow2" --disk "$T/snap/b.qcow2" --vars "$T/snap/VARS.fd" > /dev/null 2>&1
    [ $? = 137 ] && KILLS=$((KILLS + 1))
    wait_qemu_img
    for d in a b; do
      "$QEMU_IMG" check -q "$T/snap/$d.qcow2" > "$T/chk" 2>&1; crc=$?
      # qemu-img check: 0 clean, 3 leaked clusters only (space, not data); 2 is corruption.
      [ $crc = 0 ] || [ $crc = 3 ] || bad "snapshot killed at random ($i): $d.qcow2 corrupt (check rc=$crc): $(head -2 "$T/chk" | tr '\n' ' ')"
    done
    c="$T/snap/VARS.fd.snap-s$i"
    [ ! -e "$c" ] || [ "$(sha256sum < "$c")" = "$vsum" ] || bad "snapshot killed at random ($i): vars copy truncated"
    [ "$(sha256sum < "$T/snap/VARS.fd")" = "$vsum" ] || bad "snapshot killed at random ($i): the vars file itself changed"
  done
  "$BIN" snapshot create final --disk "$T/snap/a.qcow2" --disk "$T/snap/b.qcow2" --vars "$T/snap/VARS.fd" > "$T/out" 2>&1 ||
    bad "snapshot create after $N kills failed: $(head -2 "$T/out" | tr '\n' ' ')"
  # An interrupted create leaves the name on some disks: a new create of that name must not add a
  # second snapshot with the same tag there; delete clears the partial set.
  "$QEMU_IMG" snapshot -c part "$T/snap/a.qcow2"
  "$BIN" snapshot create part --disk "$T/snap/a.qcow2" --disk "$T/snap/b.qcow2" --vars "$T/snap/VARS.fd" > "$T/out" 2>&1 &&
    bad "snapshot create over a partial set succeeded"
  "$BIN" snapshot delete part --disk "$T/snap/a.qcow2" --disk "$T/snap/b.qcow2" --vars "$T/snap/VARS.fd" > /dev/null 2>&1
  for d in a b; do
    dups=$("$QEMU_IMG" snapshot -l "$T/snap/$d.qcow2" | awk 'NR > 2 { print $2 }' | sort | uniq -d | tr '\n' ' ')
    [ -z "$dups" ] || bad "snapshot: $d.qcow2 holds the same tag twice: $dups"
    "$QEMU_IMG" snapshot -l "$T/snap/$d.qcow2" | awk 'NR > 2 { print $2 }' | grep -qx part && bad "snapshot delete left part on $d.qcow2"
  done
  [ $FAILS = $fails_before ] && ok "snapshot create: $N random kill attempts ($((KILLS - k0)) landed), images consistent, vars copies whole or absent, no duplicate tags, a partial set refused then deleted"
else
  skip "create/disk/snapshot kills" "no $QEMU_IMG (qemu-utils)"
fi

# ---------------------------------------------------------------------------------------------------------
# 6. start (root for a VM user, QEMU under TCG, paused): killed at each of its file-changing steps, then at
# random moments of a foreground start. Afterwards there is never a QEMU vfioctl cannot see: if one runs,
# status shows its pid and that no vfioctl supervises it, stop --force ends it; a new start then works; at
# the end no QEMU of this test is left (issue 15 item 5).
if [ "$(id -u)" = 0 ] && command -v qemu-system-x86_64 > /dev/null && command -v jq > /dev/null; then
  R=$T/startroot SN=fk$$
  # QEMU runs as nobody and binds its sockets below $R/run: it must be able to pass through $T (mktemp's
  # 0700 made every start fail with "Failed to unlink socket ...: Permission denied").
  chmod 0711 "$T"
  mkdir -p "$R/vms" && chmod 0755 "$R" "$R/vms"
  SC=$R/vms/$SN.conf
  printf '[vm]\naccel = tcg\nuser = nobody\n[firmware]\ntype = seabios\n[cpu]\nmodel = qemu64\nsockets = 1\ncores = 1\nthreads = 1\n[memory]\nsize = 64M\n' > "$SC"
  SV() { timeout -s KILL 90 "$BIN" --root "$R" "$@"; }
  # QEMU processes of this VM, whoever started them (its -name carries the unique VM name).
  qemus() {
    local p a
    for p in /proc/[0-9]*; do
      a=$(tr '\0' ' ' 2> /dev/null < "$p/cmdline") || continue # a process may end meanwhile: quietly
      case "$a" in *qemu-system*"guest=$SN,"*) echo "${p#/proc/}" ;; esac
    done
  }
  gone() { local i; for i in $(seq 100); do [ -z "$(qemus)" ] && return 0; sleep 0.1; done; return 1; }
  # After a kill: every QEMU of the VM is seen by status (its pid, not supervised) and stopped by stop --force.
  start_case() { # start_case LABEL
    local label=$1 live st pid sup
    sleep 0.5 # a QEMU the kill left behind finishes starting
    live=$(qemus | head -1)
    if [ -n "$live" ]; then
      st=$(SV status "$SN" --json 2> "$T/st.err")
      pid=$(printf '%s' "$st" | jq -r '.pid // empty' 2> /dev/null)
      sup=$(printf '%s' "$st" | jq -r '.supervised' 2> /dev/null)
      if [ "$pid" != "$live" ]; then bad "$label: QEMU pid $live runs, status shows pid '${pid:-none}': unseen"; fi
      if [ "$sup" != false ] && [ -z "$(SV status "$SN" --json | jq -r '.supervisor // empty')" ]; then
        bad "$label: QEMU pid $live runs without a supervisor and status does not say so (supervised=$sup)"
      fi
      SV stop "$SN" --force > "$T/stop.out" 2>&1
      gone || { bad "$label: stop --force left QEMU running: $(head -2 "$T/stop.out" | tr '\n' ' ')"; for p in $(qemus); do kill -9 "$p"; done; }
    fi
    SV start "$SC" --detach --paused > "$T/restart.out" 2>&1 || bad "$label: a new start failed: $(head -3 "$T/restart.out" | tr '\n' ' ')"
    SV stop "$SN" --force > /dev/null 2>&1
    gone || { bad "$label: QEMU left after the new start's stop"; for p in $(qemus); do kill -9 "$p"; done; }
  }
  fails_before=$FAILS k0=$KILLS ss=0
  for k in $(seq 1 200); do
    VFIOCTL_TEST_KILL_AT_STEP=$k SV start "$SC" --detach --paused > "$T/out" 2>&1; rc=$?
    if [ $rc = 0 ]; then
      # The supervisor went on: the kill point may still come in its release, after stop.
      SV stop "$SN" --force > /dev/null 2>&1; gone
      if [ "$(SV status "$SN" --json 2> /dev/null | jq -r '.state + " " + .exit_reason')" = "stopped killed by vfioctl stop --force" ]; then
        break # the whole start and stop ran: every step has been a kill point
      fi
    fi
    KILLS=$((KILLS + 1)); ss=$k
    start_case "start killed at step $k (rc=$rc)"
  done
  if [ $ss -gt 3 ]; then ok "start has $ss file-changing steps (start and release), each a kill point"; else bad "start kill points: only $ss"; fi
  [ $FAILS = $fails_before ] && ok "start killed at each of its $ss steps: every QEMU left was seen by status, stopped by stop --force, and a new start worked"
  # Random kills of a foreground start (it supervises QEMU itself): the window the issue saw, 2 of 8.
  fails_before=$FAILS k0=$KILLS
  D=$(run_ms "$BIN" --root "$R" start "$SC" --detach --paused); SV stop "$SN" --force > /dev/null 2>&1; gone
  # Each case starts and stops real QEMUs (seconds each under TCG on a loaded host): at most
  # FAULT_START_ITERATIONS (default 10) random kills here, so the suite stays within its time.
  for i in $(seq 1 "$((N < ${FAULT_START_ITERATIONS:-10} ? N : ${FAULT_START_ITERATIONS:-10}))"); do
    timeout -s KILL "$(rnd_delay "$D")" "$BIN" --root "$R" start "$SC" --paused > /dev/null 2>&1
    [ $? = 137 ] && KILLS=$((KILLS + 1))
    start_case "foreground start killed at random ($i)"
  done
  [ $FAILS = $fails_before ] && ok "foreground start: $i random kills ($((KILLS - k0)) landed), no QEMU unseen or unstoppable"
  # stop --force while start is still starting QEMU (state "starting") is a stop, not a crash.
  hit=0
  for i in $(seq 1 20); do
    "$BIN" --root "$R" start "$SC" --paused > /dev/null 2>&1 &
    fg=$!
    st=
    for _ in $(seq 2000); do
      st=$(sed -n 's/^state=//p' "$R/run/vfioctl/$SN/status" 2> /dev/null)
      [ "$st" = starting ] && [ -n "$(sed -n 's/^pid=[1-9]/x/p' "$R/run/vfioctl/$SN/status" 2> /dev/null)" ] && break
      kill -0 $fg 2> /dev/null || break
      sleep 0.005
    done
    [ "$st" = starting ] && { SV stop "$SN" --force > /dev/null 2>&1; hit=1; }
    SV stop "$SN" --force > /dev/null 2>&1
    wait $fg 2> /dev/null; gone
    [ $hit = 1 ] && break
    rm -f "$R/run/vfioctl/$SN/status"
  done
  if [ $hit = 0 ]; then echo "# stop --force never met a start in state starting in 20 tries (machine too fast)"
  else
    fin=$(SV status "$SN" --json 2> /dev/null | jq -r '.state + ": " + .exit_reason')
    [ "$fin" = "stopped: killed by vfioctl stop --force" ] && ok "stop --force during start is recorded as a stop ($fin)" ||
      bad "stop --force during start recorded as '$fin'"
  fi
  [ -z "$(qemus)" ] && ok "no QEMU of this test is left" || { bad "QEMU left at the end: $(qemus | tr '\n' ' ')"; for p in $(qemus); do kill -9 "$p"; done; }
else
  skip "start kills" "needs root, qemu-system-x86_64 and jq"
fi

# ---------------------------------------------------------------------------------------------------------
# 5. A full filesystem while writing: a 64 KiB tmpfs, nearly filled, in a private mount namespace.
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
  full() { # full DIR COMMAND...: run COMMAND with DIR a 64k tmpfs holding DIR's files and little room left
    unshare -m bash -c 'd=$1; shift; cp -a "$d" "$d.copy" && mount -t tmpfs -o size=64k tmpfs "$d" &&
      cp -a "$d.copy/." "$d/" && rm -rf "$d.copy" &&
      { head -c 65536 /dev/zero > "$d/.filler" 2>/dev/null; rm -f "$d/.filler"; head -c 61440 /dev/zero > "$d/.filler" 2>/dev/null; true; } &&
      "$@"; rc=$?; rm -f "$d/.filler"; exit $rc' _ "$@"
  }
  reset_root; "$BIN" --root "$S" "${ARGS_EARLIER[@]}" > /dev/null 2>&1; listing > "$T/F0"
  full "$S/etc" "$BIN" --root "$S" "${ARGS[@]}" > "$T/full.out" 2>&1; rc=$?
  if [ $rc != 0 ] && grep -q "No space left on device" "$T/full.out"; then ok "setup on a full filesystem fails, saying so"; else bad "setup on a full filesystem: rc=$rc, $(head -3 "$T/full.out" | tr '\n' ' ')"; fi
  if cmp -s "$T/F0" <(listing) && [ -z "$(temps)" ]; then ok "setup on a full filesystem leaves the earlier setup and manifest intact"; else bad "full filesystem changed the tree: $(diff "$T/F0" <(listing) | head -3 | tr '\n' ' ')"; fi
  rm -rf "$T/xdg"; mkdir -p "$XDG_CONFIG_HOME/vfioctl/vms"; echo "# the user's own" > "$CONF"
  full "$XDG_CONFIG_HOME/vfioctl/vms" "$BIN" create --force --memory 2G --cpus 1 vm1 > "$T/full.out" 2>&1; rc=$?
  if [ $rc != 0 ] && grep -q "No space left on device" "$T/full.out"; then ok "create on a full filesystem fails, saying so"; else bad "create on a full filesystem: rc=$rc, $(head -3 "$T/full.out" | tr '\n' ' ')"; fi
  if [ "$(cat "$CONF")" = "# the user's own" ] && [ "$(ls -A "$XDG_CONFIG_HOME/vfioctl/vms")" = vm1.conf ]; then ok "create on a full filesystem keeps the old config, no temp file"; else bad "create on a full filesystem damaged the config dir: $(ls -A "$XDG_CONFIG_HOME/vfioctl/vms" | tr '\n' ' ')"; fi
else
  skip "full filesystem" "needs root and unshare -m"
fi

echo "# $KILLS processes killed by SIGKILL"
echo "1..$CHECKS"
[ "$FAILS" = 0 ]
