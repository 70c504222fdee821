#!/bin/bash
# test-lifecycle.sh VFIOCTL PTY_CONSOLE UNIT -- the VM lifecycle with the real QEMU under TCG (suite 'qemu').
#
# Every VM here is the demo guest (`vfioctl demo` builds it: Debian's kernel + a busybox initramfs whose
# /init powers off on the ACPI power button and runs a shell on the serial console). All state lives under
# a private --root, so nothing on the host changes. Run as root, QEMU drops to nobody (uid 65534); run as
# anyone else, it runs as that user. Output: TAP, one line per check.
set -uo pipefail

VFIOCTL=${1:?usage: test-lifecycle.sh VFIOCTL PTY_CONSOLE UNIT}
PTY=${2:?}
UNIT=${3:?}
T=$(mktemp -d /tmp/vfioctl-lifecycle.XXXXXX)
chmod 755 "$T"
V() { "$VFIOCTL" --root "$T" "$@"; }
N=0; FAILED=0
ok() { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $*"; }
# A part that cannot run here is a TAP skip with its reason (scripts/test.sh reports it, and fails CI
# when the reason is a missing package rather than the machine).
skip() { N=$((N + 1)); echo "ok $N - $1 # SKIP $2"; }
check() { # check "description" command...; the command's output becomes TAP comments
  local d=$1 r=0; shift
  "$@" > "$T/check.out" || r=1
  sed 's/^/# /' "$T/check.out"
  if [ $r = 0 ]; then ok "$d"; else not_ok "$d"; fi
}
jq_of() { V status "$1" --json 2>/dev/null | jq -r "$2"; }
cleanup() {
  for d in "$T"/run/vfioctl/*/; do
    [ -f "$d/status" ] || continue
    p=$(sed -n 's/^pid=//p' "$d/status"); [ "${p:-0}" -gt 0 ] && kill -9 "$p" 2>/dev/null
    s=$(sed -n 's/^supervisor=//p' "$d/status"); [ "${s:-0}" -gt 0 ] && kill -9 "$s" 2>/dev/null
  done
  # the real hugetlbfs of the guest-RAM case, and the pages it reserved
  mountpoint -q "$T/huge" 2>/dev/null && umount "$T/huge"
  if [ -n "${HUGE_ADDED:-}" ] && [ "$HUGE_ADDED" -gt 0 ]; then
    echo $(( $(cat /proc/sys/vm/nr_hugepages) - HUGE_ADDED )) > /proc/sys/vm/nr_hugepages
  fi
  rm -rf "$T"
  [ -n "${NS:-}" ] && ip netns del "$NS" 2>/dev/null
}
trap cleanup EXIT
command -v qemu-system-x86_64 >/dev/null || { echo "1..0 # SKIP qemu-system-x86_64 missing"; exit 77; }
command -v jq >/dev/null || { echo "1..0 # SKIP jq missing"; exit 77; }

if [ "$(id -u)" = 0 ]; then USERLINE="user = nobody"; WANT_UID=65534; else USERLINE=""; WANT_UID=$(id -u); fi
NCPU=$(nproc)
if [ "$NCPU" -ge 2 ]; then PIN=1; EMU=0; else PIN=0; EMU=0; fi

# --- the demo: the README's main command --------------------------------------------------------
t0=$(date +%s.%N)
V demo > "$T/demo.out" 2>&1; rc=$?
demo_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}')
if [ $rc -ne 0 ] && grep -q "no guest kernel" "$T/demo.out"; then
  echo "1..0 # SKIP no guest kernel (run tests/vfio-e2e/setup.sh or apt-get update)"; exit 77
fi
echo "# demo wall time ${demo_s}s"
sed 's/^/# demo: /' "$T/demo.out"
check "demo exits 0" [ $rc -eq 0 ]
check "demo shows the guest's greeting" grep -q "serial console: vfioctl demo guest: hello from" "$T/demo.out"
check "demo shows status running with a pinned vCPU" grep -q "vCPU 0 .*on host CPU" "$T/demo.out"
check "demo stops gracefully (guest-shutdown)" grep -q "state stopped, reason guest-shutdown" "$T/demo.out"
check "demo finishes in under 60 s (${demo_s}s)" awk -v s="$demo_s" 'BEGIN{exit !(s < 60)}'
# its closing advice is the whole path: guide first, and setup among the steps (it used to be missing)
check "demo points to vfioctl guide" grep -q "sudo vfioctl guide win11 --gpu auto" "$T/demo.out"
check "demo's steps include setup, before create" awk '/vfioctl setup --vm/ { s = NR } /vfioctl create/ && s { ok = 1 } END { exit !ok }' "$T/demo.out"
# the demo says where it wrote its config (as root below --root, else in the user's cache)
DEMOCONF=$(sed -n 's/^config: *\([^ ]*\) .*/\1/p' "$T/demo.out")
KERNEL=$(sed -n 's/^kernel = //p' "$DEMOCONF" 2>/dev/null)
INITRD=$(sed -n 's/^initrd = //p' "$DEMOCONF" 2>/dev/null)
[ -n "$KERNEL" ] && [ -n "$INITRD" ] || { not_ok "demo left no guest to reuse"; echo "1..$N"; exit 1; }

# conf NAME [extra lines...]: a demo-guest VM config
conf() {
  local name=$1; shift
  mkdir -p "$T/vms"; chmod 755 "$T/vms"
  {
    echo "[vm]"; echo "accel = tcg"; [ -n "$USERLINE" ] && echo "$USERLINE"
    echo "kernel = $KERNEL"; echo "initrd = $INITRD"; echo "append = console=ttyS0 quiet panic=-1"
    echo "[firmware]"; echo "type = seabios"
    echo "[cpu]"; echo "model = qemu64"; echo "sockets = 1"; echo "cores = 1"; echo "threads = 1"
    echo "[memory]"; echo "size = 128M"
    for l in "$@"; do echo "$l"; done
  } > "$T/vms/$name.conf"
  echo "$T/vms/$name.conf"
}
wait_hello() { # the guest's shell is up (acpid runs before the greeting)
  for _ in $(seq 300); do grep -q "hello from" "$T/run/vfioctl/$1/qemu/console.log" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
wait_state() { # NAME STATE
  for _ in $(seq 100); do [ "$(jq_of "$1" .state)" = "$2" ] && return 0; sleep 0.1; done
  return 1
}
qmp() { V qmp "$1" "$2" 2>/dev/null; }

# --- 1. start paused: pinned before the first instruction, as nobody ----------------------------
truncate -s 1M "$T/vms/data.img" 2>/dev/null || { mkdir -p "$T/vms"; truncate -s 1M "$T/vms/data.img"; }
chmod 755 "$T/vms"; [ "$(id -u)" = 0 ] && chown 65534:65534 "$T/vms/data.img"
# one disk with an iothread: its thread must land on the emulator CPUs too
C1=$(conf life "[cpu]" "pin = $PIN" "emulator_pin = $EMU" "[disk \"data\"]" "path = $T/vms/data.img" "format = raw" \
  "bus = virtio-blk" "iothread = yes")
ts=$(date +%s%N)
V start "$C1" --detach --paused > "$T/start.out" 2>&1; rc=$?
start_ms=$(( ($(date +%s%N) - ts) / 1000000 ))
echo "# start latency (to paused and pinned): ${start_ms} ms"
check "start --detach --paused exits 0" [ $rc -eq 0 ]
PID=$(jq_of life .pid)
check "DIR/pid holds QEMU's pid" [ "$(cat "$T/run/vfioctl/life/pid")" = "$PID" ]
check "QEMU runs as uid $WANT_UID (/proc/PID/status)" \
  bash -c "grep -E '^Uid:' /proc/$PID/status | awk '{exit !(\$2 == $WANT_UID && \$3 == $WANT_UID && \$4 == $WANT_UID && \$5 == $WANT_UID)}'"
if [ "$(id -u)" = 0 ]; then
  check "QEMU has no supplementary groups it does not need" \
    bash -c "[ -z \"\$(grep -E '^Groups:' /proc/$PID/status | cut -f2 | tr -d ' ')\" ]"
fi
check "QEMU was started with -S and -sandbox spawn=deny" \
  bash -c "tr '\0' '\n' < /proc/$PID/cmdline | grep -qx -- -S && tr '\0' '\n' < /proc/$PID/cmdline | grep -q 'spawn=deny'"
check "QEMU has no DISPLAY/XAUTHORITY/WAYLAND_DISPLAY" \
  bash -c "! tr '\0' '\n' < /proc/$PID/environ | grep -qE '^(DISPLAY|XAUTHORITY|WAYLAND_DISPLAY)='"
check "the guest never ran: QMP status is prelaunch" [ "$(qmp life '{"execute":"query-status"}' | jq -r .status)" = prelaunch ]
TIDS=$(qmp life '{"execute":"query-cpus-fast"}' | jq -r '.[]."thread-id"')
aff_ok=1
for t in $TIDS; do [ "$(taskset -pc "$t" | awk -F': ' '{print $2}')" = "$PIN" ] || aff_ok=0; done
check "vCPU threads (query-cpus-fast thread-id) pinned to CPU $PIN while still in prelaunch" [ -n "$TIDS" ] && [ $aff_ok = 1 ]
other_ok=1
for t in $(ls /proc/"$PID"/task); do
  echo "$TIDS" | grep -qx "$t" && continue
  [ "$(taskset -pc "$t" | awk -F': ' '{print $2}')" = "$EMU" ] || other_ok=0
done
check "every other QEMU thread pinned to emulator CPU $EMU" [ $other_ok = 1 ]
IOT=$(qmp life '{"execute":"query-iothreads"}' | jq -r '.[]."thread-id"')
check "the disk's iothread (query-iothreads thread-id) pinned to emulator CPU $EMU" \
  bash -c "[ -n '$IOT' ] && [ \"\$(taskset -pc $IOT | awk -F': ' '{print \$2}')\" = '$EMU' ]"
check "status --json says paused before resume" [ "$(jq_of life .state)" = paused ]
V resume life > /dev/null
check "resume: running" wait_state life running
check "QMP status running after resume" [ "$(qmp life '{"execute":"query-status"}' | jq -r .status)" = running ]
S=$(V status life --json)
check "status --json: pid, user, memory, vCPU CPUs read back, uptime" \
  [ "$(echo "$S" | jq -r '[.pid == '"$PID"', .user == "'"$(id -nu $WANT_UID)"'", .memory == 134217728, .vcpus[0].cpus == "'"$PIN"'", .vcpus[0].thread > 0, (.uptime >= 0), .emulator_cpus == ["'"$EMU"'"]] | all')" = true ]
echo "$S" > "$T/status.json"
jq -r '.placement[]?' "$T/status.json" | sed 's/^/# placement: /'
check "status --json explains the placement (NUMA, SMT) against this host's topology" \
  jq -e '(.placement | length >= 2) and (.placement[0] | startswith("NUMA: ")) and any(.placement[]; startswith("SMT: "))' "$T/status.json"
check "status says why the vCPUs sit where they do" bash -c "'$VFIOCTL' --root '$T' status life | grep -q '^  placement: *NUMA: '"
check "status exits 0 when running" bash -c "'$VFIOCTL' --root '$T' status life > /dev/null"
L=$(V list --json)
check "list --json names the VM running" [ "$(echo "$L" | jq -r '.[] | select(.name == "life") | .state')" = running ]

# --- 2. console through a pty ------------------------------------------------------------------
wait_hello life
check "console: type into the guest's shell through a pty, leave with Ctrl-]" "$PTY" "$VFIOCTL" --root "$T" life
check "pause: QMP status paused" bash -c "'$VFIOCTL' --root '$T' pause life >/dev/null && [ \"\$('$VFIOCTL' --root '$T' qmp life '{\"execute\":\"query-status\"}' | jq -r .status)\" = paused ]"
check "status says paused" wait_state life paused
V resume life > /dev/null

# reboot: a hard reset; the guest boots and greets again
V reboot life > /dev/null
check "reboot: the guest boots again (a second greeting on the console)" \
  bash -c "for i in \$(seq 300); do [ \$(grep -c 'hello from' '$T/run/vfioctl/life/qemu/console.log') -ge 2 ] && exit 0; sleep 0.1; done; exit 1"
check "log shows the command line and the console log the greeting" \
  bash -c "'$VFIOCTL' --root '$T' log life | grep -q 'starting VM life as' && '$VFIOCTL' --root '$T' log life --console | grep -q 'hello from'"
V qmp life '{"execute":"no-such-command"}' > "$T/q.out" 2>&1; rc=$?
check "qmp: a QMP error is reported with its class (exit 1)" bash -c "[ $rc -eq 1 ] && grep -q CommandNotFound '$T/q.out'"

# --- 3. graceful stop -----------------------------------------------------------------------------
V stop life > "$T/stop.out" 2>&1; rc=$?
check "stop exits 0" [ $rc -eq 0 ]
check "stop is graceful: SHUTDOWN reason guest-shutdown" [ "$(jq_of life .exit_reason)" = guest-shutdown ]
check "the supervisor logged the QMP SHUTDOWN event" grep -q "QMP event SHUTDOWN, reason guest-shutdown" "$T/run/vfioctl/life/log"
check "status exits 3 when stopped" bash -c "'$VFIOCTL' --root '$T' status life > /dev/null; [ \$? -eq 3 ]"
check "QEMU's sockets removed" [ ! -e "$T/run/vfioctl/life/qemu/ctl.sock" ]
check "runtime directory is private (0700 or 0710)" bash -c "stat -c %a '$T/run/vfioctl/life' | grep -qE '^7[01]0$'"
check "stop of a stopped VM is a no-op success" V stop life

# --- 4. stop --force -----------------------------------------------------------------------------
V start "$C1" --detach > /dev/null 2>&1
check "stop --force kills it" V stop life --force
check "--force recorded as stopped, not crashed" [ "$(jq_of life '.state + " " + .exit_reason')" = "stopped killed by vfioctl stop --force" ]

# --- 5. QEMU killed with SIGKILL: crashed, release steps, restart -------------------------------
V start "$C1" --detach > /dev/null 2>&1
PID=$(jq_of life .pid)
kill -9 "$PID"
check "SIGKILLed QEMU: status crashed" wait_state life crashed
check "crash reason names the signal" bash -c "'$VFIOCTL' --root '$T' status life --json | jq -r .exit_reason | grep -q 'signal 9 (SIGKILL)'"
check "release steps ran (sockets gone, logged)" bash -c "[ ! -e '$T/run/vfioctl/life/qemu/ctl.sock' ] && grep -q 'life: crashed' '$T/run/vfioctl/life/log'"
check "a new start works after the crash" V start "$C1" --detach
check "and it runs" wait_state life running

# --- 6. the supervisor killed while QEMU runs -----------------------------------------------------
SUP=$(jq_of life .supervisor)
PID=$(jq_of life .pid)
kill -9 "$SUP"; sleep 0.3
check "supervisor gone, QEMU still running" kill -0 "$PID"
# Its guardian (forked beside it) adopts QEMU: the record names the guardian as the supervisor.
guardian_took_over() {
  for _ in $(seq 50); do
    g=$(jq_of life '.state + " " + (.supervisor|tostring)')
    case "$g" in "running null" | "running $SUP") sleep 0.1 ;; running\ [0-9]*) return 0 ;; *) return 1 ;; esac
  done
  return 1
}
check "status still says running, now supervised by the guardian" guardian_took_over
check "a second start is refused while the guardian holds the VM" bash -c "'$VFIOCTL' --root '$T' start '$C1' --detach 2>&1 | grep -q 'already being started or supervised'"
wait_hello life
check "stop still works without the supervisor" V stop life
check "it recorded the guest's shutdown" [ "$(jq_of life '.state + " " + .exit_reason')" = "stopped guest-shutdown" ]

# --- 7. two starts at once ----------------------------------------------------------------------------
V start "$C1" --detach > "$T/a.out" 2>&1 & A=$!
V start "$C1" --detach > "$T/b.out" 2>&1 & B=$!
wait $A; ra=$?; wait $B; rb=$?
check "two starts at once: one wins, one gets exit 75 ($ra/$rb)" bash -c "[ \"$ra $rb\" = '0 75' ] || [ \"$ra $rb\" = '75 0' ]"
sed "s/^/# start: /" "$T/a.out" "$T/b.out"
check "the loser says why" bash -c "cat '$T/a.out' '$T/b.out' | grep -q 'already being started or supervised'"

# --- 8. a second VM asking for a pinned core in use: refused before launch ----------------------
C2=$(conf other "[cpu]" "pin = $PIN")
V start "$C2" --detach > "$T/c.out" 2>&1; rc=$?
check "core conflict refused with exit 69" [ $rc -eq 69 ]
check "the refusal names the CPU and the VM" grep -q "host CPU $PIN is pinned by the running VM 'life'" "$T/c.out"
check "no QEMU was started for it" bash -c "! [ -f '$T/run/vfioctl/other/status' ] || ! grep -q '^state=running' '$T/run/vfioctl/other/status'"
wait_hello life
V stop life > /dev/null

# two VMs without [cpu] pin running at once: the second's plan at start keeps clear of the first's CPU
# (issue 21: unpinned VMs all landed on host CPU 1 while CPU 0 idled)
if [ "$NCPU" -ge 2 ]; then
  CU1=$(conf unpinned1); CU2=$(conf unpinned2)
  V start "$CU1" --detach > "$T/u1.out" 2>&1; r1=$?
  V start "$CU2" --detach > "$T/u2.out" 2>&1; r2=$?
  sed 's/^/# unpinned start: /' "$T/u1.out" "$T/u2.out"
  U1=$(jq_of unpinned1 '.vcpus[0].cpus'); U2=$(jq_of unpinned2 '.vcpus[0].cpus')
  check "two unpinned VMs start and run together ($r1/$r2)" bash -c "[ $r1 -eq 0 ] && [ $r2 -eq 0 ]"
  check "their vCPUs run on different host CPUs ($U1 / $U2)" bash -c "[ -n '$U1' ] && [ -n '$U2' ] && [ '$U1' != '$U2' ]"
  check "both are running" bash -c "[ \"\$('$VFIOCTL' --root '$T' status unpinned1 --json | jq -r .state)\" = running ] && [ \"\$('$VFIOCTL' --root '$T' status unpinned2 --json | jq -r .state)\" = running ]"
  V stop unpinned1 --force > /dev/null 2>&1; V stop unpinned2 --force > /dev/null 2>&1

  # The same VMs started at the same instant: neither sees the other recorded as running yet, so only a
  # lock across plan -> record keeps them apart. One VM per host CPU (at most 4), one vCPU each: the host
  # has a CPU for every one, so their vCPU threads' real affinities must not overlap.
  NC=$NCPU; [ "$NC" -gt 4 ] && NC=4
  CONC=()
  for i in $(seq "$NC"); do CONC+=("$(conf "together$i")"); done
  PIDS=()
  for i in $(seq "$NC"); do V start "${CONC[$((i - 1))]}" --detach > "$T/t$i.out" 2>&1 & PIDS+=($!); done
  rcs=""
  for p in "${PIDS[@]}"; do wait "$p"; rcs="$rcs $?"; done
  sed 's/^/# concurrent start: /' "$T"/t[0-9]*.out
  check "$NC unpinned VMs started at once all start ($rcs)" bash -c "[ -z \"\$(echo '$rcs' | tr -d ' 0')\" ]"
  # the kernel's view, not the record's: QMP thread ids -> /proc/TID/status Cpus_allowed_list
  AFF=""
  for i in $(seq "$NC"); do
    for t in $(qmp "together$i" '{"execute":"query-cpus-fast"}' | jq -r '.[]."thread-id"'); do
      a=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "/proc/$t/status" 2>/dev/null)
      AFF="$AFF together$i:${a:-?}"
    done
  done
  echo "# vCPU affinities:$AFF"
  check "their vCPU threads' affinities are $NC disjoint single CPUs ($AFF )" \
    bash -c "echo '$AFF' | tr ' ' '\n' | sed -n 's/^together[0-9]*://p' | awk '/^[0-9]+\$/ { if (seen[\$0]++) exit 1; n++ } END { exit !(n == $NC) }'"
  for i in $(seq "$NC"); do V stop "together$i" --force > /dev/null 2>&1; done
else
  skip "two unpinned VMs on different CPUs" "this host has one CPU"
fi

# an isolated VM gone with its confinement still recorded (all its processes killed): a second isolated VM
# is refused, naming it, and never takes that confinement for the host's own. (A disk that does not exist
# keeps this start from ever reaching the real host's cgroups, whatever the code under test does.)
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$T/run/vfioctl/deadiso"
  sleep 0.01 & DP=$!; wait $DP
  printf 'state=crashed\npid=%s\npid_starttime=1\nsupervisor=0\nuid=0\nisolate=1\ncpusets=vfioctl.host=0-1\nsteps=isolate-cpus\n' "$DP" \
    > "$T/run/vfioctl/deadiso/status"
  CI=$(conf iso2 "[cpu]" "pin = $PIN" "isolate = yes" "[disk \"gone\"]" "path = $T/no-such-disk.img" "format = raw")
  V start "$CI" --detach > "$T/iso2.out" 2>&1; rc=$?
  sed 's/^/# /' "$T/iso2.out"
  check "an isolated VM is refused while a dead VM's isolation is still recorded (exit $rc)" \
    bash -c "[ $rc -eq 69 ] && grep -q \"VM 'deadiso', whose isolation was not given back (run: vfioctl stop deadiso)\" '$T/iso2.out'"
  rm -rf "$T/run/vfioctl/deadiso"
fi

# a device in use: a VM recorded as running with a device (its "QEMU" is a sleep of ours)
mkdir -p "$T/run/vfioctl/holder" "$T/sys/bus/pci/devices"
sleep 300 & SP=$!
ST=$(awk '{print $22}' /proc/$SP/stat)
printf 'state=running\npid=%s\npid_starttime=%s\nsupervisor=0\nuid=0\ndevices=0000:01:00.0\ncpus=\n' "$SP" "$ST" > "$T/run/vfioctl/holder/status"
C3=$(conf wants-dev "[pci \"nic\"]" "device = 0000:01:00.0")
V start "$C3" --detach > "$T/d.out" 2>&1; rc=$?
kill "$SP" 2>/dev/null
check "device in use by another running VM refused (exit 69)" bash -c "[ $rc -eq 69 ] && grep -q \"device 0000:01:00.0 is in use by the running VM 'holder'\" '$T/d.out'"
sed 's/^/# /' "$T/d.out"
if [ "$(id -u)" = 0 ]; then
  # root also sees the VMs users started themselves (run/user/UID/vfioctl)
  mkdir -p "$T/run/user/1000/vfioctl/uvm"
  sleep 300 & SP=$!
  printf 'state=running\npid=%s\npid_starttime=%s\nuid=1000\ncpus=%s\n' "$SP" "$(awk '{print $22}' /proc/$SP/stat)" "$PIN" \
    > "$T/run/user/1000/vfioctl/uvm/status"
  V start "$C2" --detach > "$T/d2.out" 2>&1; rc=$?
  kill "$SP" 2>/dev/null
  check "root refuses a core pinned by a user's own running VM (exit 69)" \
    bash -c "[ $rc -eq 69 ] && grep -q \"host CPU $PIN is pinned by the running VM 'uvm'\" '$T/d2.out'"
fi

# --- 9. monitor switching through ddcutil (recorded) ------------------------------------------------
cat > "$T/ddcutil" <<EOS
#!/bin/sh
echo "\$*" >> "$T/ddc.log"
EOS
chmod 755 "$T/ddcutil"
C4=$(conf mon "[display]" "ddc_bus = 7" "input_host = 0x0f" "input_guest = 0x11")
VFIOCTL_DDCUTIL=$T/ddcutil V start "$C4" --detach > /dev/null 2>&1
check "start switched the monitor to the guest: ddcutil --bus 7 setvcp 60 0x11" \
  bash -c "for i in \$(seq 50); do grep -qx -- '--bus 7 setvcp 60 0x11' '$T/ddc.log' 2>/dev/null && exit 0; sleep 0.1; done; exit 1"
wait_hello mon
V stop mon > /dev/null
check "stop switched it back: ddcutil --bus 7 setvcp 60 0x0f" bash -c "tail -1 '$T/ddc.log' | grep -qx -- '--bus 7 setvcp 60 0x0f'"
printf '#!/bin/sh\nexit 1\n' > "$T/ddcutil-bad"; chmod 755 "$T/ddcutil-bad"
VFIOCTL_DDCUTIL=$T/ddcutil-bad V start "$C4" --detach > /dev/null 2>&1; rc=$?
check "a failing monitor switch never blocks the VM" bash -c "[ $rc -eq 0 ] && grep -q 'switching the monitor to the guest input failed' '$T/run/vfioctl/mon/log'"
V stop mon --force > /dev/null

# --- foreground: the supervisor is the start process; SIGTERM (systemd's stop) powers the guest down --
C9=$(conf fg)
"$VFIOCTL" --root "$T" start "$C9" > "$T/fg.out" 2>&1 & FG=$!
wait_hello fg
kill -TERM $FG
wait $FG; rc=$?
sed 's/^/# fg: /' "$T/fg.out"
check "foreground start: SIGTERM shuts the guest down, start exits 0" \
  bash -c "[ $rc -eq 0 ] && [ \"\$('$VFIOCTL' --root '$T' status fg --json | jq -r '.state + \" \" + .exit_reason')\" = 'stopped guest-shutdown' ]"

# --- OVMF: the per-VM variable store is created from the template, owned by the VM user --------------
if [ -f /usr/share/OVMF/OVMF_VARS_4M.fd ]; then
  C10=$(conf ovmf)
  sed -i '/^type = seabios/d' "$C10"
  V start "$C10" --detach --paused > "$T/o.out" 2>&1; rc=$?
  if [ "$(id -u)" = 0 ]; then VARS=$T/var/lib/vfioctl/ovmf/OVMF_VARS.fd; else VARS=${XDG_STATE_HOME:-$HOME/.local/state}/vfioctl/ovmf/OVMF_VARS.fd; fi
  check "OVMF vars created from the template (owner uid $WANT_UID, 0600) and QEMU accepted them" \
    bash -c "[ $rc -eq 0 ] && [ \"\$(stat -c '%u %a' '$VARS')\" = '$WANT_UID 600' ] && cmp -s '$VARS' /usr/share/OVMF/OVMF_VARS_4M.fd"
  V stop ovmf --force > /dev/null
fi

# --- TPM: vfioctl runs swtpm as the VM user before QEMU; it ends with the VM ---------------------------
if [ -x /usr/bin/swtpm ]; then
  C12=$(conf tpm "[tpm]")
  V start "$C12" --detach --paused > "$T/tpm.out" 2>&1; rc=$?
  sed 's/^/# /' "$T/tpm.out"
  SW=$(sed -n 's/^swtpm=//p' "$T/run/vfioctl/tpm/status")
  TPMDEV=$(qmp tpm '{"execute":"query-tpm"}' | jq -r '.[0].model + " " + .[0].options.type')
  check "[tpm]: swtpm runs as uid $WANT_UID and QEMU has a TPM ($TPMDEV)" \
    bash -c "[ $rc -eq 0 ] && [ '${SW:-0}' -gt 0 ] && grep -qE '^Uid:\s+$WANT_UID\s' /proc/$SW/status && [ '$TPMDEV' = 'tpm-crb emulator' ]"
  V stop tpm --force > /dev/null
  check "swtpm is gone after the VM" bash -c "for i in \$(seq 50); do kill -0 ${SW:-0} 2>/dev/null || exit 0; sleep 0.1; done; exit 1"
else
  echo "# swtpm missing: TPM not exercised (apt-get install swtpm)"
fi

# --- hugepages: root reserves what is missing and rolls back when the pool cannot grow (fixture sysfs) --
if [ "$(id -u)" = 0 ]; then
  HP=$T/sys/kernel/mm/hugepages/hugepages-2048kB
  mkdir -p "$HP"; echo 0 > "$HP/nr_hugepages"; echo 0 > "$HP/free_hugepages"
  # (a sysfs-style write does not truncate this regular file: the rollback's "0" over "64" reads "04")
  C11=$(conf huge "[memory]" "hugepages = 2M")
  V start "$C11" --detach > "$T/hp.out" 2>&1; rc=$?
  sed 's/^/# /' "$T/hp.out"
  check "hugepages: 64 pages asked of the pool, the shortfall refused (exit 69), nr_hugepages rolled back" \
    bash -c "[ $rc -eq 69 ] && grep -q 'only 0 of the 64 free 2048 kB hugepages' '$T/hp.out' && grep -q 'released the 64 hugepages reserved for this start' '$T/hp.out' && [ \"\$(head -c1 '$HP/nr_hugepages')\" = 0 ]"
fi

# --- guest RAM on real hugepages, allocated by vfioctl before QEMU maps it (lib/run/prealloc.c) --------
# Root only: it reserves 64 real 2 MiB pages (and gives back what it added) and mounts a hugetlbfs of its own.
# The pages are counted on that mount (size=128M: statfs free blocks are its limit less what its files hold),
# not in the host's pool, which other tests and benchmarks on this host change while this one runs.
if [ "$(id -u)" = 0 ]; then
  HFREE=/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages
  HUGE_ADDED=0
  if [ "$(cat $HFREE)" -lt 64 ]; then
    want=$(( 64 - $(cat $HFREE) ))
    echo $(( $(cat /proc/sys/vm/nr_hugepages) + want )) > /proc/sys/vm/nr_hugepages
    HUGE_ADDED=$want
  fi
  if [ "$(cat $HFREE)" -ge 64 ] && mkdir -p "$T/huge" && mount -t hugetlbfs -o pagesize=2M,mode=1777,size=128M none "$T/huge"; then
    echo 64 > "$T/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages" # the fixture's pool: preflight passes
    # (no locked = yes: it needs RLIMIT_MEMLOCK raised, which a root without CAP_SYS_RESOURCE cannot;
    # hugetlb pages are never swapped either way, and VFIO pins them when it maps them)
    C12=$(conf ram "[memory]" "hugepages = 2M" "hugepage_path = $T/huge" "prealloc_threads = 2")
    before=$(stat -f -c %f "$T/huge")
    V start "$C12" --detach > "$T/ram.out" 2>&1; rc=$?
    sed 's/^/# /' "$T/ram.out"
    RPID=$(jq_of ram .pid)
    after=$(stat -f -c %f "$T/huge")
    check "hugepage guest starts (exit $rc)" [ $rc -eq 0 ]
    check "the mount's pool gave exactly the guest's 64 pages ($before free before, $after after)" \
      bash -c "[ '$before' -eq 64 ] && [ '$after' -eq 0 ]"
    MD=$(qmp ram '{"execute":"query-memdev"}')
    echo "# query-memdev: $(printf "%s" "$MD" | tr -d "\n")"
    check "QMP query-memdev: 128 MiB, preallocated, shared (the file vfioctl filled)" \
      [ "$(echo "$MD" | jq -r '.[] | select(.id == "mem") | [.size == 134217728, .prealloc, .share] | all')" = true ]
    check "QEMU maps guest RAM from its descriptor 3 (mem-path=/proc/self/fd/3), not a file of its own" \
      bash -c "tr '\0' '\n' < /proc/$RPID/cmdline | grep -q 'mem-path=/proc/self/fd/3,share=on' && [ -z \"\$(ls -A '$T/huge')\" ]"
    check "all 128 MiB of it are hugepages mapped shared in QEMU (/proc/PID/smaps: rw-s, *_Hugetlb)" \
      bash -c "grep -A3 ' rw-s .*$T/huge/' /proc/$RPID/smaps | grep -q '^KernelPageSize: *2048 kB' && awk '/^(Shared|Private)_Hugetlb:/ {s += \$2} END {exit !(s >= 131072)}' /proc/$RPID/smaps"
    check "the VM log says vfioctl allocated it with 2 threads" \
      grep -q "guest RAM: 128 MiB of 2048 KiB hugepages allocated by 2 threads" "$T/run/vfioctl/ram/log"
    V stop ram --force > /dev/null 2>&1
    check "stopped: the 64 pages are back in the mount's pool" \
      bash -c "for i in \$(seq 50); do [ \$(stat -f -c %f '$T/huge') -eq 64 ] && exit 0; sleep 0.1; done; exit 1"
    umount "$T/huge"
  else
    echo "# could not reserve 64 free 2 MiB hugepages or mount hugetlbfs: the guest-RAM case did not run"
  fi
fi

# --- 10. preflight messages --------------------------------------------------------------------------
C5=$(conf bad "[disk \"sys\"]" "path = $T/missing.qcow2" "format = qcow2")
V start "$C5" > "$T/e.out" 2>&1; rc=$?
check "missing disk: refused before launch with exit 69 and the path" bash -c "[ $rc -eq 69 ] && grep -q '$T/missing.qcow2' '$T/e.out'"
# [memory] host_nodes: a node without memory here is refused before QEMU (whose mbind would fail in the log);
# a node the host has starts, QEMU binding guest RAM there (real mbind under TCG)
mkdir -p "$T/sys/devices/system/node"; echo 0 > "$T/sys/devices/system/node/has_memory"
C10=$(conf numa "host_nodes = 1")
V start "$C10" > "$T/n.out" 2>&1; rc=$?
sed 's/^/# /' "$T/n.out"
check "host_nodes = 1 on a host with node 0 only: refused (exit 69) at its line" \
  bash -c "[ $rc -eq 69 ] && grep -q 'numa.conf:[0-9]*: \[memory\] host_nodes: this host has no memory on NUMA node 1 (nodes with memory: 0' '$T/n.out'"
sed -i 's/^host_nodes = 1$/host_nodes = 0/' "$C10"
V start "$C10" --detach > "$T/n2.out" 2>&1; rc=$?
sed 's/^/# /' "$T/n2.out"
check "host_nodes = 0: QEMU runs with host-nodes=0,policy=bind" \
  bash -c "[ $rc -eq 0 ] && tr '\0' '\n' < /proc/\$('$VFIOCTL' --root '$T' status numa --json | jq -r .pid)/cmdline | grep -q 'memory-backend-ram,id=mem,size=128M,host-nodes=0,policy=bind'"
V stop numa --force > /dev/null 2>&1
rm -f "$T/sys/devices/system/node/has_memory"

if [ "$(id -u)" = 0 ]; then
  sed -i '/^user = /d' "$C5"
  V start "$C5" > "$T/f.out" 2>&1; rc=$?
  check "root without [vm] user refuses (exit 65)" bash -c "[ $rc -eq 65 ] && grep -q 'does not run QEMU as root' '$T/f.out'"
fi

if [ "$(id -u)" = 0 ]; then
  # The input relay: no uinput under the root. relay = yes refuses; auto warns and lets QEMU read directly.
  mkdir -p "$T/dev/input"; : > "$T/dev/input/event0"; chmod 0644 "$T/dev/input/event0"
  C7=$(conf kbd "[input \"kbd\"]" "type = evdev" "evdev = $T/dev/input/event0" "relay = yes")
  V start "$C7" > "$T/i.out" 2>&1; rc=$?
  sed 's/^/# /' "$T/i.out"
  check "relay = yes without uinput: refused (exit 69) with file:line and modprobe uinput" \
    bash -c "[ $rc -eq 69 ] && grep -q 'kbd.conf:[0-9]*: \[input \"kbd\"\] relay = yes, but the input relay cannot run: /dev/uinput does not exist: load the module (modprobe uinput' '$T/i.out'"
  sed -i 's/^relay = yes$/relay = auto/' "$C7"
  V start "$C7" > "$T/i2.out" 2>&1; rc=$?
  sed 's/^/# /' "$T/i2.out"
  check "relay = auto without uinput: a warning, QEMU reads the device directly (and rejects a non-evdev file)" \
    bash -c "grep -q 'warning: input kbd: no relay (/dev/uinput does not exist' '$T/i2.out' && grep -q 'evdev=$T/dev/input/event0' '$T/run/vfioctl/kbd/log'"
  # A dev/uinput that is not uinput: the relay starts, fails, and the VM is not started, with its reason.
  : > "$T/dev/uinput"; chmod 0600 "$T/dev/uinput"
  V start "$C7" > "$T/i3.out" 2>&1; rc=$?
  sed 's/^/# /' "$T/i3.out"
  reason=$(jq_of kbd .exit_reason)
  check "a relay that fails: start exits 1 with the relay's own message, no QEMU, state crashed" \
    bash -c "[ $rc -eq 1 ] && grep -q 'the input relay did not start: .*input' '$T/i3.out' && ! grep -q 'QEMU did not come up' '$T/i3.out' && ! grep -q 'error: error:' '$T/i3.out' && [ '$reason' = 'the input relay did not start' ]"
  rm -f "$T/dev/uinput"

  # USB: the device node QEMU opens, found through (a fixture) sysfs under --root
  mkdir -p "$T/sys/bus/usb/devices/3-2.1" "$T/dev/bus/usb/003"
  echo 3 > "$T/sys/bus/usb/devices/3-2.1/busnum"; echo 5 > "$T/sys/bus/usb/devices/3-2.1/devnum"
  echo 1b1c > "$T/sys/bus/usb/devices/3-2.1/idVendor"; echo 1b3d > "$T/sys/bus/usb/devices/3-2.1/idProduct"
  : > "$T/dev/bus/usb/003/005"; chmod 0600 "$T/dev/bus/usb/003/005"
  C6=$(conf usb "[usb \"mouse\"]" "device = 046d:c52b" "[usb \"kbd\"]" "host_bus = 3" "host_port = 2.1")
  V start "$C6" > "$T/g.out" 2>&1; rc=$?
  sed 's/^/# /' "$T/g.out"
  check "USB: an unplugged device and an inaccessible node refused (exit 69)" \
    bash -c "[ $rc -eq 69 ] && grep -q '046d:c52b is not plugged in' '$T/g.out' && grep -q 'dev/bus/usb/003/005 (root:root, mode 0600) is not readable and writable by user nobody' '$T/g.out'"
fi

# memlock: guest RAM + 128 MiB for QEMU, set while still root, or a preflight refusal saying why not
C7=$(conf locked "[memory]" "locked = yes")
if bash -c 'ulimit -l 262144' 2>/dev/null; then
  V start "$C7" --detach > "$T/h.out" 2>&1; rc=$?
  P=$(jq_of locked .pid)
  check "memory locked: QEMU's RLIMIT_MEMLOCK is RAM + 128 MiB" \
    bash -c "[ $rc -eq 0 ] && grep -q '^Max locked memory *268435456 *268435456' /proc/$P/limits"
  V stop locked --force > /dev/null
else
  V start "$C7" --detach > "$T/h.out" 2>&1; rc=$?
  sed 's/^/# /' "$T/h.out"
  check "memory locked, hard limit $(ulimit -Hl) KiB cannot be raised here: refused before launch (exit 69)" \
    bash -c "[ $rc -eq 69 ] && grep -qE 'cannot raise RLIMIT_MEMLOCK to 262144 KiB|RLIMIT_MEMLOCK of .* VFIO pins guest RAM' '$T/h.out'"
fi

# --- a user starting their own VM (no root anywhere): state in $XDG_RUNTIME_DIR/vfioctl ------------
if [ "$(id -u)" = 0 ] && command -v setpriv > /dev/null; then
  mkdir -p "$T/xdg"; chown 65534:65534 "$T/xdg"; chmod 700 "$T/xdg"
  USERLINE="" C8=$(USERLINE="" conf selfrun)
  sed -i '/^user = /d' "$C8"
  AS_NOBODY() { setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH="$PATH" XDG_RUNTIME_DIR="$T/xdg" HOME="$T/xdg" "$VFIOCTL" "$@"; }
  AS_NOBODY start "$C8" --detach > "$T/i.out" 2>&1; rc=$?
  sed 's/^/# /' "$T/i.out"
  P=$(AS_NOBODY status selfrun --json 2>/dev/null | jq -r .pid)
  check "non-root user starts their own VM: state in \$XDG_RUNTIME_DIR/vfioctl/selfrun (0700), QEMU as that user" \
    bash -c "[ $rc -eq 0 ] && [ \"\$(stat -c '%a %u' '$T/xdg/vfioctl/selfrun')\" = '700 65534' ] && grep -qE '^Uid:\s+65534\s' /proc/$P/status"
  for _ in $(seq 300); do grep -q "hello from" "$T/xdg/vfioctl/selfrun/qemu/console.log" 2>/dev/null && break; sleep 0.1; done
  AS_NOBODY stop selfrun > /dev/null 2>&1
  check "and stops it gracefully" [ "$(AS_NOBODY status selfrun --json 2>/dev/null | jq -r '.state + " " + .exit_reason')" = "stopped guest-shutdown" ]
fi

# --- 11. autostart unit ---------------------------------------------------------------------------------
# enable refuses what start as root would refuse at boot: the VM is not in /etc/vfioctl/vms of the root.
V enable life > "$T/enable.out" 2>&1; rc=$?
check "enable refuses a VM that is not in the system location (exit 65), linking nothing" \
  bash -c "[ $rc -eq 65 ] && grep -q 'no VM life in /etc/vfioctl/vms/life.conf' '$T/enable.out' && [ ! -e '$T/etc/systemd/system/multi-user.target.wants/vfioctl@life.service' ]"
# Where root finds it at boot, with its [vm] user (in the root's own user database).
mkdir -p "$T/etc/vfioctl/vms"
sed '/^user = /d; s/^\[vm\]$/[vm]\nuser = nobody/' "$C1" > "$T/etc/vfioctl/vms/life.conf"
grep '^nobody:' /etc/passwd >> "$T/etc/passwd"
V enable life > /dev/null
check "enable links vfioctl@life.service into multi-user.target.wants" \
  bash -c "readlink '$T/etc/systemd/system/multi-user.target.wants/vfioctl@life.service' | grep -q '/vfioctl@.service\$'"
V disable life > /dev/null
check "disable removes the link" [ ! -L "$T/etc/systemd/system/multi-user.target.wants/vfioctl@life.service" ]
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$T/units"
  sed "s|^\(Exec[A-Za-z]*=\)[^ ]*/vfioctl |\1$VFIOCTL |" "$UNIT" > "$T/units/vfioctl@life.service"
  systemd-analyze verify --man=no "$T/units/vfioctl@life.service" > "$T/verify.out" 2>&1; rc=$?
  sed 's/^/# systemd-analyze: /' "$T/verify.out"
  check "systemd-analyze verify accepts vfioctl@.service" [ $rc -eq 0 ]
else
  skip "systemd-analyze verify accepts vfioctl@.service" "systemd-analyze missing (apt-get install systemd)"
fi
echo "# systemd is not PID 1 here ($(cat /proc/1/comm)): starting the unit under systemd is not exercised"

# --- 12. security: what root reads must be root's; QMP commands go only to the recorded QEMU ----------
if [ "$(id -u)" = 0 ]; then
  USERLINE="user = nobody"
  C11=$(conf perm)
  chown 65534:65534 "$C11"
  V start "$C11" > "$T/perm.out" 2>&1; rc=$?
  sed 's/^/# /' "$T/perm.out"
  check "root refuses a config the VM user owns, with the fix (exit 69)" \
    bash -c "[ $rc -eq 69 ] && grep -q 'fix: chown root:root $C11 && chmod go-w $C11' '$T/perm.out'"
  chown 0:0 "$C11"
  mkdir -p "$T/uvms"; chown 65534:65534 "$T/uvms"; cp "$C11" "$T/uvms/perm2.conf"
  V start "$T/uvms/perm2.conf" > "$T/perm2.out" 2>&1; rc=$?
  check "root refuses a config in a directory the VM user owns (exit 69)" \
    bash -c "[ $rc -eq 69 ] && grep -q 'fix: chown root:root $T/uvms && chmod go-w $T/uvms' '$T/perm2.out'"
  if command -v socat > /dev/null; then
    # Started with umask 000: vfioctl sets 022, so nothing QEMU creates is world-writable.
    (umask 000; V start "$C11" --detach) > "$T/imp.out" 2>&1; rc=$?
    CTL=$T/run/vfioctl/perm/qemu/ctl.sock
    check "under the caller's umask 000, QEMU's files are not group/world-writable (umask 022)" \
      bash -c "[ $rc -eq 0 ] && [ -z \"\$(find '$T/run/vfioctl/perm' -perm /022 ! -type l ! -type s)\" ]"
    if [ $rc -eq 0 ] && [ -S "$CTL" ]; then
      # Another process takes the socket path over and answers like QEMU would.
      rm -f "$CTL"
      socat UNIX-LISTEN:"$CTL",fork SYSTEM:'echo "{\"QMP\": {\"version\": {}, \"capabilities\": []}}"; cat > /dev/null' &
      SOCAT=$!
      for _ in $(seq 50); do [ -S "$CTL" ] && break; sleep 0.1; done
      V stop perm > "$T/imp2.out" 2>&1; rc=$?
      sed 's/^/# /' "$T/imp2.out"
      check "a QMP socket served by another process is refused (SO_PEERCRED pid is not QEMU's)" \
        bash -c "[ $rc -ne 0 ] && grep -q 'is not served by the QEMU of VM .perm.' '$T/imp2.out'"
      kill "$SOCAT" 2>/dev/null; wait "$SOCAT" 2>/dev/null
      P=$(jq_of perm .pid); [ "${P:-0}" -gt 0 ] && kill -9 "$P" 2>/dev/null
      S=$(jq_of perm .supervisor); [ "${S:-0}" -gt 0 ] && kill -9 "$S" 2>/dev/null
    else
      not_ok "start for the QMP impostor case failed (rc=$rc): $(head -2 "$T/imp.out" | tr '\n' ' ')"
    fi
  else
    skip "a QMP socket served by another process is refused" "socat missing (apt-get install socat)"
  fi
fi

# --- snapshots by VM name: the disks come from the config, refused while the VM runs ---------------
if command -v qemu-img >/dev/null && command -v qemu-io >/dev/null; then
  if [ "$(id -u)" = 0 ]; then USERLINE="user = nobody"; else USERLINE=""; fi
  qemu-img create -q -f qcow2 "$T/vms/snap.qcow2" 16M
  [ "$(id -u)" = 0 ] && chown 65534:65534 "$T/vms/snap.qcow2"
  CS=$(conf snapvm "[disk \"system\"]" "path = $T/vms/snap.qcow2" "format = qcow2")
  qemu-io -c 'write -P 0xab 0 1M' "$T/vms/snap.qcow2" > /dev/null
  V start "$CS" --detach --paused > "$T/snap-start.out" 2>&1; rc=$?
  sed 's/^/# snapshot VM start: /' "$T/snap-start.out"
  check "snapshot VM: the VM with a qcow2 disk starts" [ $rc -eq 0 ]
  V snapshot "$CS" create s1 > "$T/snap-run.out" 2>&1; rc=$?
  sed 's/^/# snapshot while running: /' "$T/snap-run.out"
  check "snapshot VM create is refused while the VM runs, with the reason" \
    bash -c "[ $rc -ne 0 ] && grep -q 'while the VM runs' '$T/snap-run.out' && grep -q 'non-migratable' '$T/snap-run.out'"
  V stop snapvm --force > /dev/null 2>&1
  V snapshot "$CS" create s1 > "$T/snap.out" 2>&1; rc=$?
  sed 's/^/# snapshot create: /' "$T/snap.out"
  check "snapshot VM create s1 once the VM is stopped (disk taken from the config)" [ $rc -eq 0 ]
  qemu-io -c 'write -P 0xcd 0 1M' "$T/vms/snap.qcow2" > /dev/null
  V snapshot "$CS" list > "$T/snap-list.out" 2>&1
  check "snapshot VM list shows s1" grep -q '^s1 ' "$T/snap-list.out"
  V snapshot "$CS" rollback s1 > /dev/null 2>&1; rc=$?
  check "snapshot VM rollback s1 brings the data back byte for byte" \
    bash -c "[ $rc -eq 0 ] && qemu-io -c 'read -P 0xab 0 1M' '$T/vms/snap.qcow2' | grep -q 'read 1048576/1048576'"
  V snapshot "$CS" delete s1 > "$T/snap-del.out" 2>&1; rc=$?
  sed 's/^/# snapshot delete: /' "$T/snap-del.out"
  check "snapshot VM delete s1" bash -c "[ $rc -eq 0 ] && ! qemu-img snapshot -l '$T/vms/snap.qcow2' | grep -q ' s1 '"
else
  skip "snapshots by VM name" "qemu-img/qemu-io missing (apt-get install qemu-utils)"
fi

# --- a macvtap NIC: start opens its tap device and QEMU inherits it (root: a network namespace) --------
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && ip netns add "vfioctl-life$$" 2>/dev/null; then
  NS=vfioctl-life$$
  IDX=$((2000000 + $$ % 100000))   # its /dev/tapIDX: devtmpfs is shared, so a number of this test's own
  ip -n "$NS" link add vfv0 type veth peer name vfp0 &&
    ip -n "$NS" link add link vfv0 name mvt0 index "$IDX" type macvtap mode bridge &&
    ip -n "$NS" link set mvt0 address 52:54:00:ab:cd:01 up && ip -n "$NS" link set vfv0 up
  # What start reads of it, below --root: sysfs-shaped copies of the kernel's attributes, and a device
  # node with the number of the kernel's /dev/tapIDX (the real macvtap; nothing else is faked).
  S="$T/sys/class/net/mvt0"
  mkdir -p "$S/macvtap/tap$IDX" "$T/dev"
  ip netns exec "$NS" cat /sys/class/net/mvt0/ifindex > "$S/ifindex"
  ip netns exec "$NS" cat /sys/class/net/mvt0/address > "$S/address"
  ip netns exec "$NS" cat "/sys/class/net/mvt0/macvtap/tap$IDX/dev" > "$S/macvtap/tap$IDX/dev"
  mknod "$T/dev/tap$IDX" c "$(cut -d: -f1 "$S/macvtap/tap$IDX/dev")" "$(cut -d: -f2 "$S/macvtap/tap$IDX/dev")"
  CM=$(conf mvt "[net \"wan\"]" "type = macvtap" "ifname = mvt0" "link = vfv0" "model = virtio")
  V start "$CM" --detach --paused > "$T/mvt.out" 2>&1; rc=$?
  sed 's/^/# macvtap start: /' "$T/mvt.out"
  check "macvtap: start opens the macvtap's tap device and starts QEMU" [ $rc -eq 0 ]
  MPID=$(jq_of mvt .pid)
  check "macvtap: QEMU (uid $WANT_UID) holds the tap device as fd 10" \
    bash -c "[ \"\$(readlink /proc/$MPID/fd/10)\" = '$T/dev/tap$IDX' ]"
  qmp mvt '{"execute":"human-monitor-command","arguments":{"command-line":"info network"}}' > "$T/mvt-net.out"
  sed 's/^/# info network: /' "$T/mvt-net.out"
  check "macvtap: the netdev is a tap on fd 10" grep -q 'net-wan: index=0,type=tap,fd=10' "$T/mvt-net.out"
  check "macvtap: the NIC has the macvtap's address" grep -q 'macaddr=52:54:00:ab:cd:01' "$T/mvt-net.out"
  V stop mvt --force > /dev/null 2>&1
  CM2=$(conf mvt2 "[net \"wan\"]" "type = macvtap" "ifname = nosuch0" "link = vfv0")
  V start "$CM2" --detach --paused > "$T/mvt2.out" 2>&1; rc=$?
  sed 's/^/# missing macvtap: /' "$T/mvt2.out"
  check "macvtap: a missing interface is refused with the command that creates it" \
    bash -c "[ $rc -ne 0 ] && grep -q 'ip link add link vfv0 name nosuch0 type macvtap mode bridge' '$T/mvt2.out'"
else
  echo "# macvtap start not exercised: needs root and ip netns"
fi

echo "1..$N"
echo "# total $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}')s"
[ $FAILED -eq 0 ]
