# shellcheck shell=sh
# cases-bench.sh -- benchmark runs in the VFIO test bed, sourced by guest.sh. They are in OPT_CASES, not
# ALL_CASES: they run only when named (`run.sh --case bench-jitter`), never in the vfio suite.
#
# bench-jitter (driven by bench/jitter.sh): the guest's timer-loop jitter, pinned only vs pinned +
# [cpu] isolate, while an ordinary host process spins on every CPU of the outer guest. Per round, one VM of
# each setup, alternating: the load starts first, then `vfioctl start` of a 1-vCPU VM pinned as vfioctl's plan
# pins it on 2 CPUs (`create --cpus 1`: pin = 1, emulator_pin = 0) whose
# guest is bench/jitterguest.c (a Multiboot kernel: a TSC loop for a fixed time, its histogram on the
# console). While each VM runs, every load process's Cpus_allowed_list is read: it must be the whole
# machine for the pinned-only VM and exclude CPU 1 for the isolated one, and be the whole machine again
# after the VM ended; a round that does not hold fails the case, so the two rows cannot be one setup.
# Kernel command line (run.sh --append): vfioctl.jitter_elf=HOSTPATH vfioctl.jitter_rounds=N
# Output per VM (named jitter-ROUND-SETUP): "@@@ JITTER round=I setup=pinned|isolated <the guest's figures> load_running=[..] ..."

OPT_CASES="$OPT_CASES bench-jitter"

jit_conf() { # jit_conf no|yes
  cat > "$W/$JITVM.conf" <<EOF
[vm]
accel = tcg
user = nobody
kernel = $W/jitterguest.elf
[firmware]
type = seabios
[cpu]
model = qemu64
sockets = 1
cores = 1
threads = 1
pin = 1
emulator_pin = 0
isolate = $1
[memory]
size = 64M
EOF
  chmod 644 "$W/$JITVM.conf"
}

# jit_each VALUE: VALUE once per load process, comma-separated (what jit_allowed reads when all agree)
jit_each() { for _p in $JIT_LOAD; do printf '%s,' "$1"; done | sed 's/,$//'; }

# jit_allowed: the load processes' Cpus_allowed_list, one word
jit_allowed() {
  for _p in $JIT_LOAD; do printf '%s,' "$(awk '/^Cpus_allowed_list/{print $2}' "/proc/$_p/status")"; done | sed 's/,$//'
}

# jit_console: the VM's serial console so far
jit_console() { timeout 30 chroot "$R" "$VFIOCTL" log "$JITVM" --console 2>/dev/null; }

# jit_round I SETUP ISOLATE: one VM under the load; prints its @@@ JITTER line, fails on a wrong setup
jit_round() {
  # a VM of its own per round and setup: a VM's console log is appended to across its boots
  JITVM=jitter-$1-$2
  timeout 60 chroot "$R" "$VFIOCTL" stop "$JITVM" --force > /dev/null 2>&1
  jit_conf "$3"
  _all=$(jit_each "$JIT_CPUS")
  _before=$(jit_allowed)
  vr start "$W/$JITVM.conf" --detach; _rc=$VRC
  _during=$(jit_allowed)
  _pins=$(vr_json "$JITVM" '[.vcpus[]?.cpus] | join(",")')
  # the guest's loop runs a fixed time (jitterguest.c SECONDS) after its boot: bounded wait for its line
  _i=0; _out=""
  # (the serial line arrives in pieces: only a console that has "jitter done" after it holds all of it)
  while [ $_rc = 0 ] && [ $_i -lt 180 ]; do
    jit_console > "$W/$JITVM.console"
    grep -aq '^jitter done' "$W/$JITVM.console" && break
    sleep 1; _i=$((_i + 1))
  done
  _out=$(grep -a '^jitter tsc' "$W/$JITVM.console" 2>/dev/null)
  timeout 60 chroot "$R" "$VFIOCTL" stop "$JITVM" --timeout 3 > /dev/null 2>&1
  # the give-back runs when QEMU has ended: wait (bounded) for the load to have every CPU again
  _i=0
  while [ $_i -lt 30 ] && [ "$(jit_allowed)" != "$_all" ]; do sleep 1; _i=$((_i + 1)); done
  _after=$(jit_allowed)
  echo "@@@ JITTER round=$1 setup=$2 ${_out#jitter } start=$_rc vcpus=[$_pins] load_before=[$_before] load_running=[$_during] load_after=[$_after]"
  echo "$_out" | grep -qE '^jitter tsc_per_50ms=[0-9]+ n=[0-9]+ p50=[0-9]+ p99=[0-9]+ max=[0-9]+$' || return 1
  [ $_rc = 0 ] && [ "$_pins" = 1 ] && [ "$_before" = "$_all" ] && [ "$_after" = "$_all" ] || return 1
  if [ "$3" = yes ]; then
    [ "$_during" = "$(jit_each "$JIT_HOST")" ]
  else
    [ "$_during" = "$_all" ]
  fi
}

case_bench_jitter() {
  [ -x "$R$VFIOCTL" ] || { DETAIL="vfioctl not built ($VFIOCTL)"; return 1; }
  _elf=$(arg vfioctl.jitter_elf); _rounds=$(arg vfioctl.jitter_rounds); _rounds=${_rounds:-3}
  [ -f "$R$_elf" ] || { DETAIL="no guest kernel $_elf (vfioctl.jitter_elf=)"; return 1; }
  cp "$R$_elf" "$W/jitterguest.elf" && chmod 644 "$W/jitterguest.elf"
  _n=$(grep -c '^processor' /proc/cpuinfo)
  [ "$_n" -ge 2 ] || { DETAIL="needs 2 CPUs, the outer guest has $_n"; return 1; }
  JIT_CPUS="0-$((_n - 1))"                           # the VM is pinned to CPU 1; the host keeps the rest
  if [ "$_n" = 2 ]; then JIT_HOST=0; else JIT_HOST="0,2-$((_n - 1))"; fi
  iso_cgroup
  # the host load: one busy ordinary process per CPU, started before any VM and running through all rounds
  JIT_LOAD=""
  _c=0
  while [ $_c -lt "$_n" ]; do
    (while :; do :; done) &
    JIT_LOAD="$JIT_LOAD $!"; _c=$((_c + 1))
  done
  sleep 1
  _bad=0; _r=1
  while [ $_r -le "$_rounds" ]; do
    # alternate which setup goes first, so a drift over the run does not favour one
    if [ $((_r % 2)) = 1 ]; then
      jit_round "$_r" pinned no || _bad=$((_bad + 1))
      jit_round "$_r" isolated yes || _bad=$((_bad + 1))
    else
      jit_round "$_r" isolated yes || _bad=$((_bad + 1))
      jit_round "$_r" pinned no || _bad=$((_bad + 1))
    fi
    _r=$((_r + 1))
  done
  for _p in $JIT_LOAD; do kill "$_p" 2>/dev/null; done
  DETAIL="$_rounds rounds x 2 setups under a load of $_n spinning processes; $_bad VM(s) without a result or with the wrong setup"
  [ $_bad = 0 ]
}
