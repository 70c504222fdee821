# shellcheck shell=sh
# guest.sh -- the VFIO test bed's driver script, run inside the outer guest by
# /init (busybox sh, as root). Not executable on the host on purpose.
#
# Kernel command line (set by run.sh):
#   vfioctl.testdir=DIR   tests/vfio-e2e of the source tree (host path)
#   vfioctl.bin=PATH      the vfioctl binary (host path)
#   vfioctl.cases=LIST    comma-separated case names, "all" or "none"
#   vfioctl.capture=1     run tests/tools/capture-sysfs.sh first (needs vfioctl.out=1)
# The host root is mounted read-only at /hostroot; host binaries (QEMU, setpriv,
# socat, jq, vfioctl) run through `chroot /hostroot` with the guest's /proc,
# /sys, /dev mounted there and a tmpfs on /run.
#
# Output: "@@@ CASE <name> PASS|FAIL [<seconds>s] <detail>" per case and a final
# "@@@ TEST-END pass=N fail=N". Every wait is bounded; nothing here hangs.
#
# Adding a case: write case_<name_with_underscores>() { ...; } that sets DETAIL
# and returns 0 (pass) or 1 (fail), and add <name> to ALL_CASES. A case must
# set up the bindings it needs itself (ensure_vfio / ensure_host), so that any
# subset can run with --case. Cases in OPT_CASES (benchmarks: cases-bench.sh) run only when named.

ALL_CASES="layout boot-vga devices-json identical-nics root-passthrough
 user-passthrough user-lowmemlock host-driver not-viable user-noperm
 bridge-group gpu-display-audio usb-controller devices-json-bound"
OPT_CASES=""

R=/hostroot
W=/run/e2e                   # work dir, same path inside and outside the chroot
QEMU=/usr/bin/qemu-system-x86_64
INNER_MEM=64                 # MiB of guest RAM of the inner QEMU
USER_MEMLOCK=$(( (INNER_MEM + 64) * 1024 ))   # KiB: inner RAM + ROMs/BIOS + margin
export PATH=/bin

up() { cut -d' ' -f1 /proc/uptime; }
mark() { echo "@@@ [$(up)] $*"; }
arg() { sed -n "s/^\(.*[[:space:]]\)\{0,1\}$1=\([^[:space:]]*\).*/\2/p" /proc/cmdline; }
secs() { awk -v a="$1" -v b="$(up)" 'BEGIN{printf "%.1f", b - a}'; }
in_chroot() { chroot "$R" "$@"; }

TESTDIR=$(arg vfioctl.testdir)
VFIOCTL=$(arg vfioctl.bin)
CASES=$(arg vfioctl.cases); CASES=${CASES:-all}
CAPTURE=$(arg vfioctl.capture)
PASS=0; FAIL=0
trap "" PIPE   # an inner QEMU may die while socat still writes to it

# ---------------------------------------------------------------------------------
# sysfs helpers
dev() { echo "/sys/bus/pci/devices/$1"; }
rd() { _v=; read -r _v < "$1" 2>/dev/null; echo "$_v"; }
drv() { # driver name of $1, or "-"
  if [ -e "$(dev "$1")/driver" ]; then _l=$(readlink "$(dev "$1")/driver"); echo "${_l##*/}"; else echo -; fi
}
grp() { # IOMMU group of $1, or "-"
  if [ -e "$(dev "$1")/iommu_group" ]; then _l=$(readlink "$(dev "$1")/iommu_group"); echo "${_l##*/}"; else echo -; fi
}
ids() { echo "$(rd "$(dev "$1")/vendor"):$(rd "$(dev "$1")/device")" | sed 's/0x//g'; }
group_members() { ls "/sys/kernel/iommu_groups/$1/devices" 2>/dev/null | tr '\n' ' ' | sed 's/ $//'; }

show_devices() {
  for d in /sys/bus/pci/devices/*; do
    a=${d##*/}
    echo "  $a $(ids "$a") class=$(rd "$d/class") group=$(grp "$a") driver=$(drv "$a")"
  done
}

# ensure_vfio ADDR: bind ADDR to vfio-pci (driver_override + unbind + drivers_probe)
ensure_vfio() {
  _d=$(dev "$1")
  [ "$(drv "$1")" = vfio-pci ] && return 0
  echo vfio-pci > "$_d/driver_override"
  [ -e "$_d/driver" ] && echo "$1" > "$_d/driver/unbind"
  echo "$1" > /sys/bus/pci/drivers_probe 2>/dev/null
  if [ "$(drv "$1")" = vfio-pci ] && [ -c "/dev/vfio/$(grp "$1")" ]; then
    echo "  bind $1 -> vfio-pci (group $(grp "$1"): $(ls -l "/dev/vfio/$(grp "$1")" | awk '{print $1, $3":"$4}'))"
    return 0
  fi
  echo "  bind $1 -> vfio-pci FAILED (driver now $(drv "$1"))"
  return 1
}
# ensure_host ADDR: give ADDR back to its host driver (clear driver_override, reprobe)
ensure_host() {
  _d=$(dev "$1")
  [ "$(drv "$1")" = vfio-pci ] || [ "$(drv "$1")" = - ] || return 0
  echo > "$_d/driver_override"
  [ -e "$_d/driver" ] && echo "$1" > "$_d/driver/unbind"
  echo "$1" > /sys/bus/pci/drivers_probe 2>/dev/null
  _n=$(drv "$1")
  echo "  unbind $1 -> $_n"
  [ "$_n" != vfio-pci ] && [ "$_n" != - ]
}

# ---------------------------------------------------------------------------------
# inner QEMU: run_inner NAME UID MEMLOCK_KB QEMU-ARGS...
# Starts the host's QEMU (through the chroot, as UID with RLIMIT_MEMLOCK set),
# paused (-S), with QMP on a unix socket; asks query-pci and quits. Sets
#   QRC   exit status of QEMU
#   QPCI  "qdev_id=vvvv:dddd ..." of the devices with a qdev id (hostdevN)
#   QERR  first line of QEMU's stderr that says "vfio" or "error" (else first line)
# Bounded: 60 s for the QMP socket, 60 s for the QMP exchange, QEMU itself is
# run under `timeout -s KILL 120` and killed by its pidfile PID if still alive.
run_inner() {
  _n=$1 _uid=$2 _lock=$3; shift 3
  _sock=$W/$_n.qmp
  rm -f "$R$_sock" "$W/$_n.pid" "$W/$_n.err" "$W/$_n.reply"
  echo "  inner[$_n] uid=$_uid memlock=${_lock}KiB: qemu ... $*"
  _t0=$(up)
  # shellcheck disable=SC3045  # busybox sh has ulimit -l
  ( ulimit -l "$_lock" && exec chroot "$R" /usr/bin/setpriv --reuid="$_uid" --regid="$_uid" --clear-groups -- \
      /usr/bin/timeout -s KILL 120 "$QEMU" -accel tcg -machine q35 -m "$INNER_MEM" -nodefaults \
      -display none -S -pidfile "$W/$_n.pid" -qmp "unix:$_sock,server=on,wait=off" "$@" \
  ) < /dev/null > "$W/$_n.out" 2> "$W/$_n.err" &
  _pid=$!
  _i=0
  while [ $_i -lt 600 ] && [ ! -S "$R$_sock" ] && kill -0 "$_pid" 2>/dev/null; do
    sleep 0.1; _i=$((_i + 1))
  done
  if [ -S "$R$_sock" ]; then
    printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"query-pci"}' '{"execute":"quit"}' |
      timeout 60 chroot "$R" /usr/bin/socat -t 30 - "UNIX-CONNECT:$_sock,shut-none" > "$W/$_n.reply" 2>&1
  fi
  _i=0
  while [ $_i -lt 300 ] && kill -0 "$_pid" 2>/dev/null; do sleep 0.1; _i=$((_i + 1)); done
  if kill -0 "$_pid" 2>/dev/null; then
    echo "  inner[$_n] still running after QMP quit; killing it"
    [ -s "$W/$_n.pid" ] && kill -9 "$(cat "$W/$_n.pid")" 2>/dev/null
    kill -9 "$_pid" 2>/dev/null
  fi
  wait "$_pid"; QRC=$?
  QPCI=""
  if grep -q '"return": \[' "$W/$_n.reply" 2>/dev/null; then
    QPCI=$(in_chroot /usr/bin/jq -r 'select(.return|type=="array") | .return[].devices[]
             | recurse(.pci_bridge.devices[]?) | select(.qdev_id != "")
             | "\(.qdev_id) \(.id.vendor) \(.id.device)"' "$W/$_n.reply" 2>/dev/null |
           while read -r q v d; do printf '%s=%04x:%04x ' "$q" "$v" "$d"; done)
    QPCI=${QPCI% }
  fi
  QERR=$(grep -iE 'vfio|error' "$W/$_n.err" | head -1)
  [ -n "$QERR" ] || QERR=$(head -1 "$W/$_n.err")
  sed 's/^/  [qemu stderr] /' "$W/$_n.err" | head -20
  echo "  inner[$_n] rc=$QRC after $(secs "$_t0")s; query-pci: ${QPCI:-none}"
}
# expect_ok TOKEN...: the last run_inner's query-pci shows every "hostdevN=vvvv:dddd"
expect_ok() {
  for _tok in "$@"; do
    case " $QPCI " in *" $_tok "*) ;; *) DETAIL="query-pci lacks $_tok (has: ${QPCI:-nothing}; rc=$QRC; $QERR)"; return 1;; esac
  done
  DETAIL="query-pci: $QPCI"
}
# expect_fail ERE: the last run_inner failed (no query-pci) with ERE on stderr
expect_fail() {
  if [ -n "$QPCI" ]; then DETAIL="expected failure /$1/, but QEMU ran (query-pci: $QPCI)"; return 1; fi
  if ! grep -qE "$1" "$W/$_n.err"; then DETAIL="expected /$1/, got rc=$QRC: ${QERR:-no stderr}"; return 1; fi
  DETAIL="failed as expected (rc=$QRC): $(grep -E "$1" "$W/$_n.err" | head -1)"
}
need() { # need VAR...: the layout devices a case uses were found
  for _v in "$@"; do
    eval "_x=\${$_v:-}"
    [ -n "$_x" ] || { DETAIL="layout device $_v not found"; return 1; }
  done
}
need_iommu() {
  [ -n "$(ls /sys/kernel/iommu_groups 2>/dev/null)" ] && return 0
  DETAIL="no IOMMU groups (booted without an IOMMU?)"; return 1
}

# ---------------------------------------------------------------------------------
# cases

# The layout itself: groups as run.sh intends them.
case_layout() {
  need VGA NIC1 NIC2 GPU GPUAUDIO BRIDGE BRNIC BRRNG XHCI HDA || return 1
  _bad=""
  [ "$(drv "$HDA")" = snd_hda_intel ] || _bad="$_bad HDA-driver=$(drv "$HDA")"
  case "$(rd "$(dev "$GPU")/class")" in 0x0300*) ;; *) _bad="$_bad GPU-class=$(rd "$(dev "$GPU")/class")";; esac
  case "$(rd "$(dev "$GPUAUDIO")/class")" in 0x0403*) ;; *) _bad="$_bad GPU-audio-class";; esac
  if ! grep -q 'intel_iommu=on' /proc/cmdline; then   # run.sh --no-iommu
    [ -z "$(ls /sys/kernel/iommu_groups 2>/dev/null)" ] || _bad="$_bad groups-without-iommu"
    DETAIL="no IOMMU: $(ls /sys/bus/pci/devices | wc -l) devices, no groups${_bad:+ BAD:$_bad}"
    [ -z "$_bad" ]; return
  fi
  need_iommu || return 1
  [ "$(group_members "$(grp "$VGA")")" = "$VGA" ] || _bad="$_bad VGA-not-alone"
  [ "$(group_members "$(grp "$NIC1")")" = "$NIC1" ] || _bad="$_bad NIC1-not-alone"
  [ "$(group_members "$(grp "$NIC2")")" = "$NIC2" ] || _bad="$_bad NIC2-not-alone"
  [ "$(group_members "$(grp "$GPU")")" = "$GPU $GPUAUDIO" ] || _bad="$_bad GPU-group($(group_members "$(grp "$GPU")"))"
  [ "$(group_members "$(grp "$BRNIC")")" = "$BRIDGE $BRNIC $BRRNG" ] || _bad="$_bad bridge-group($(group_members "$(grp "$BRNIC")"))"
  [ "$(group_members "$(grp "$XHCI")")" = "$XHCI" ] || _bad="$_bad XHCI-not-alone"
  DETAIL="vga=$VGA(g$(grp "$VGA")) nics=$NIC1(g$(grp "$NIC1")),$NIC2(g$(grp "$NIC2")) gpu=$GPU+$GPUAUDIO(g$(grp "$GPU")) bridge=$BRIDGE:$BRNIC+$BRRNG(g$(grp "$BRNIC")) xhci=$XHCI(g$(grp "$XHCI")) hda=$HDA(g$(grp "$HDA"),$(drv "$HDA"))${_bad:+ BAD:$_bad}"
  [ -z "$_bad" ]
}

case_boot_vga() {
  need VGA GPU || return 1
  _a=$(rd "$(dev "$VGA")/boot_vga"); _b=$(rd "$(dev "$GPU")/boot_vga")
  DETAIL="$VGA boot_vga=$_a, $GPU boot_vga=$_b"
  [ "$_a" = 1 ] && [ "$_b" = 0 ]
}

# vfioctl devices --json against the kernel's view (groups, drivers, ids).
compare_devices_json() {
  if [ ! -x "$R$VFIOCTL" ]; then DETAIL="vfioctl not built ($VFIOCTL)"; return 1; fi
  timeout 60 chroot "$R" "$VFIOCTL" devices --json > "$W/devices.json" 2> "$W/devices.err"
  _rc=$?
  if [ $_rc -ne 0 ]; then DETAIL="vfioctl devices --json exited $_rc: $(head -c 300 "$W/devices.err")"; return 1; fi
  if ! in_chroot /usr/bin/jq -e . "$W/devices.json" > /dev/null 2>&1; then
    DETAIL="output is not JSON: $(head -c 200 "$W/devices.json")"; return 1
  fi
  # kernel view: "address group driver vendor device", group "-" when ungrouped
  for d in /sys/bus/pci/devices/*; do
    _a=${d##*/}; _dr=$(drv "$_a"); [ "$_dr" = - ] && _dr=null
    echo "$_a $(grp "$_a") $_dr $(ids "$_a" | tr : ' ')"
  done | sort > "$W/kernel.txt"
  in_chroot /usr/bin/jq -r '
      (.groups[]? | .id as $g | .devices[] | "\(.address) \($g) \(.driver // "null") \(.vendor) \(.device)"),
      (.ungrouped[]? | if type == "object"
         then "\(.address) - \(.driver // "null") \(.vendor) \(.device)" else "\(.) - ? ? ?" end)' \
      "$W/devices.json" 2>&1 | sort > "$W/json.txt"
  ls /sys/kernel/iommu_groups 2>/dev/null | sort -n | tr '\n' ' ' > "$W/kgroups.txt"
  in_chroot /usr/bin/jq -r '.groups[]?.id' "$W/devices.json" | sort -n | tr '\n' ' ' > "$W/jgroups.txt"
  _kiommu=false; [ -n "$(ls /sys/kernel/iommu_groups 2>/dev/null)" ] && _kiommu=true
  _jiommu=$(in_chroot /usr/bin/jq -r '.iommu' "$W/devices.json")
  _why=""
  [ "$_kiommu" = "$_jiommu" ] || _why="$_why iommu=$_jiommu(kernel:$_kiommu);"
  cmp -s "$W/kgroups.txt" "$W/jgroups.txt" || _why="$_why groups [$(cat "$W/jgroups.txt")] != kernel [$(cat "$W/kgroups.txt")];"
  if ! cmp -s "$W/kernel.txt" "$W/json.txt"; then
    _why="$_why devices differ:$(diff "$W/kernel.txt" "$W/json.txt" | grep '^[-+][^-+]' | head -8 | tr '\n' ';')"
  fi
  # group_peers: informational (the brief leaves its exact meaning to vfioctl)
  in_chroot /usr/bin/jq -r '.groups[]? | .devices[] | "\(.address) \((.group_peers // []) | map(if type=="object" then .address else . end) | sort | join(","))"' \
    "$W/devices.json" 2>/dev/null | while read -r _a _p; do
      _k=$(group_members "$(grp "$_a")" | tr ' ' '\n' | grep -vx "$_a" | sort | tr '\n' ',' | sed 's/,$//')
      [ "$_p" = "$_k" ] || echo "  note: $_a group_peers=[$_p] kernel peers=[$_k]"
    done
  _n=$(wc -l < "$W/kernel.txt")
  if [ -n "$_why" ]; then
    echo "  kernel view:"; sed 's/^/    /' "$W/kernel.txt"
    echo "  vfioctl view:"; sed 's/^/    /' "$W/json.txt"
    DETAIL="mismatch:$_why"; return 1
  fi
  DETAIL="$_n devices, groups [$(sed 's/ $//' "$W/kgroups.txt")] match the kernel (iommu=$_jiommu)"
}
case_devices_json() { compare_devices_json; }
case_devices_json_bound() {
  if [ -n "$(ls /sys/kernel/iommu_groups 2>/dev/null)" ]; then
    need NIC2 BRNIC BRRNG || return 1
    ensure_vfio "$NIC2" && ensure_vfio "$BRNIC" && ensure_vfio "$BRRNG" || { DETAIL="binding failed"; return 1; }
  fi
  compare_devices_json
}

case_identical_nics() {
  need NIC1 NIC2 || return 1
  _s1="$(ids "$NIC1"):$(rd "$(dev "$NIC1")/subsystem_vendor"):$(rd "$(dev "$NIC1")/subsystem_device")"
  _s2="$(ids "$NIC2"):$(rd "$(dev "$NIC2")/subsystem_vendor"):$(rd "$(dev "$NIC2")/subsystem_device")"
  [ "$_s1" = "$_s2" ] || { DETAIL="NICs not identical: $_s1 vs $_s2"; return 1; }
  ensure_host "$NIC1"
  ensure_vfio "$NIC2" || { DETAIL="binding $NIC2 failed (driver $(drv "$NIC2"))"; return 1; }
  DETAIL="both $_s1; $NIC1 driver=$(drv "$NIC1") group $(grp "$NIC1"), $NIC2 driver=$(drv "$NIC2") group $(grp "$NIC2")"
  [ "$(drv "$NIC1")" = e1000e ] && [ "$(drv "$NIC2")" = vfio-pci ] && [ "$(grp "$NIC1")" != "$(grp "$NIC2")" ] &&
    [ ! -e "/dev/vfio/$(grp "$NIC1")" ]
}

case_root_passthrough() {
  need NIC2 && need_iommu || return 1
  ensure_vfio "$NIC2" || { DETAIL="bind failed"; return 1; }
  run_inner root-passthrough 0 unlimited -device "vfio-pci,host=$NIC2,id=hostdev0"
  expect_ok "hostdev0=$(ids "$NIC2")"
}

case_user_passthrough() {
  need NIC2 && need_iommu || return 1
  ensure_vfio "$NIC2" || { DETAIL="bind failed"; return 1; }
  chown 1000:1000 "/dev/vfio/$(grp "$NIC2")"
  run_inner user-passthrough 1000 "$USER_MEMLOCK" -device "vfio-pci,host=$NIC2,id=hostdev0"
  expect_ok "hostdev0=$(ids "$NIC2")"
}

case_user_lowmemlock() {
  need NIC2 && need_iommu || return 1
  ensure_vfio "$NIC2" || { DETAIL="bind failed"; return 1; }
  chown 1000:1000 "/dev/vfio/$(grp "$NIC2")"
  run_inner user-lowmemlock 1000 64 -device "vfio-pci,host=$NIC2,id=hostdev0"
  expect_fail 'VFIO_MAP_DMA.*(Cannot allocate memory|-12)|vfio_dma_map.*-12'
}

case_host_driver() {
  need HDA && need_iommu || return 1
  ensure_host "$HDA" >/dev/null
  [ "$(drv "$HDA")" = snd_hda_intel ] || { DETAIL="$HDA is on $(drv "$HDA"), not snd_hda_intel"; return 1; }
  run_inner host-driver 0 unlimited -device "vfio-pci,host=$HDA,id=hostdev0"
  expect_fail "/dev/vfio/$(grp "$HDA"): No such file or directory"
}

case_not_viable() {
  need BRNIC BRRNG && need_iommu || return 1
  ensure_host "$BRRNG"
  ensure_vfio "$BRNIC" || { DETAIL="bind failed"; return 1; }
  [ "$(drv "$BRRNG")" = virtio-pci ] || { DETAIL="$BRRNG is on $(drv "$BRRNG"), not virtio-pci"; return 1; }
  run_inner not-viable 0 unlimited -device "vfio-pci,host=$BRNIC,id=hostdev0"
  expect_fail "group $(grp "$BRNIC") is not viable"
}

case_user_noperm() {
  need BRNIC BRRNG && need_iommu || return 1
  ensure_vfio "$BRNIC" && ensure_vfio "$BRRNG" || { DETAIL="bind failed"; return 1; }
  _g=$(grp "$BRNIC")
  chown 0:0 "/dev/vfio/$_g"; chmod 0600 "/dev/vfio/$_g"
  run_inner user-noperm 1000 "$USER_MEMLOCK" -device "vfio-pci,host=$BRNIC,id=hostdev0" \
    -device "vfio-pci,host=$BRRNG,id=hostdev1"
  expect_fail "/dev/vfio/$_g: Permission denied"
}

case_bridge_group() {
  need BRNIC BRRNG && need_iommu || return 1
  ensure_vfio "$BRNIC" && ensure_vfio "$BRRNG" || { DETAIL="bind failed"; return 1; }
  run_inner bridge-group 0 unlimited -device "vfio-pci,host=$BRNIC,id=hostdev0" \
    -device "vfio-pci,host=$BRRNG,id=hostdev1"
  expect_ok "hostdev0=$(ids "$BRNIC")" "hostdev1=$(ids "$BRRNG")"
}

case_gpu_display_audio() {
  need GPU GPUAUDIO && need_iommu || return 1
  ensure_vfio "$GPU" && ensure_vfio "$GPUAUDIO" || { DETAIL="bind failed"; return 1; }
  chown 1000:1000 "/dev/vfio/$(grp "$GPU")"
  run_inner gpu-display-audio 1000 "$USER_MEMLOCK" -device "vfio-pci,host=$GPU,id=hostdev0" \
    -device "vfio-pci,host=$GPUAUDIO,id=hostdev1"
  expect_ok "hostdev0=$(ids "$GPU")" "hostdev1=$(ids "$GPUAUDIO")"
}

case_usb_controller() {
  need XHCI && need_iommu || return 1
  ensure_vfio "$XHCI" || { DETAIL="bind failed"; return 1; }
  chown 1000:1000 "/dev/vfio/$(grp "$XHCI")"
  run_inner usb-controller 1000 "$USER_MEMLOCK" -device "vfio-pci,host=$XHCI,id=hostdev0"
  expect_ok "hostdev0=$(ids "$XHCI")"
}

# The capture (not in ALL_CASES: runs when vfioctl.capture=1, before any case).
case_capture() {
  _cap=$R$TESTDIR/../tools/capture-sysfs.sh
  [ -f "$_cap" ] || { DETAIL="no $_cap"; return 1; }
  grep -q ' /out 9p ' /proc/mounts || { DETAIL="no writable /out share"; return 1; }
  rm -rf /tmp/capture
  _line=$(timeout 120 sh "$_cap" / /tmp/capture 2>"$W/capture.err" | tail -1)
  [ -s "$W/capture.err" ] && sed 's/^/  [capture stderr] /' "$W/capture.err" | head -10
  echo "  $_line"
  [ -d /tmp/capture/sys/bus/pci/devices ] || { DETAIL="capture failed: $(head -c 200 "$W/capture.err")"; return 1; }
  tar -C /tmp/capture -cf /out/capture.tar . || { DETAIL="tar to /out failed"; return 1; }
  sync
  DETAIL="${_line#capture-sysfs: }; tar $(wc -c < /out/capture.tar) bytes"
}

# ---------------------------------------------------------------------------------
# Cases of other verbs live in cases-*.sh beside this script (bind, run, input...).
for f in "$R$TESTDIR"/cases-*.sh; do [ -f "$f" ] && . "$f"; done

selected() {
  case ",$CASES," in *,all,*|*",$1,"*) return 0;; esac
  return 1
}
run_case() {
  _name=$1
  _fn=case_$(echo "$_name" | tr - _)
  DETAIL=""
  mark "CASE-START $_name"
  _ts=$(up)
  if $_fn; then _res=PASS; PASS=$((PASS + 1)); else _res=FAIL; FAIL=$((FAIL + 1)); fi
  echo "@@@ CASE $_name $_res [$(secs "$_ts")s] $DETAIL"
}

mark "GUEST-START cases=$CASES capture=${CAPTURE:-0} vfioctl=$VFIOCTL"
mkdir -p "$W"; chmod 1777 "$W"

# 1. drivers: vfio + a host driver for every device (modalias), as on a real host
T=$(up)
modprobe vfio-pci; modprobe vfio_iommu_type1
for d in /sys/bus/pci/devices/*; do modprobe -q "$(rd "$d/modalias")" 2>/dev/null; done
mark "MODULES-LOADED in $(secs "$T")s: $(lsmod | awk 'NR>1{print $1}' | sort | tr '\n' ' ')"

# 2. the layout
VGA='' NIC1='' NIC2='' GPU='' GPUAUDIO='' BRIDGE='' BRNIC='' BRRNG='' XHCI='' HDA=''
for d in /sys/bus/pci/devices/*; do
  a=${d##*/}
  case "$(ids "$a")" in
    1234:1111) case "$a" in 0000:00:*) VGA=$a;; *) GPU=$a;; esac;;
    8086:10d3) if [ -z "$NIC1" ]; then NIC1=$a; else NIC2=$a; fi;;
    8086:293e) case "$a" in 0000:00:*) HDA=$a;; *) GPUAUDIO=$a;; esac;;
    1b36:000e) BRIDGE=$a;;
    8086:100e) BRNIC=$a;;
    1af4:1005|1af4:1044) BRRNG=$a;;
    1b36:000d) XHCI=$a;;
  esac
done
mark "LAYOUT vga=$VGA nic1=$NIC1 nic2=$NIC2 gpu=$GPU+$GPUAUDIO bridge=$BRIDGE($BRNIC,$BRRNG) xhci=$XHCI hda=$HDA"
show_devices

# 3. capture (boot-time view, all host drivers bound, nothing on vfio-pci yet)
[ "$CAPTURE" = 1 ] && run_case capture

# 4. the host root as a chroot for the host's binaries. /run is root's 0755 as on a real host: root makes
# its runtime directories only below a parent no other user can write (basic/safedir).
mount -t proc proc "$R/proc" && mount -t sysfs sysfs "$R/sys" && mount -t devtmpfs devtmpfs "$R/dev" &&
  mount -t tmpfs -o mode=0755 tmpfs "$R/run" || mark "ERROR cannot prepare the chroot"
mkdir -p "$R$W"; chmod 1777 "$R$W"
for t in "$QEMU" /usr/bin/setpriv /usr/bin/timeout /usr/bin/socat /usr/bin/jq; do
  [ -x "$R$t" ] || mark "WARNING host tool $t is missing (setup.sh installs it)"
done
# $W is the same directory inside and outside the chroot
mount --bind "$R$W" "$W"

# 5. the cases, in ALL_CASES order
for c in $ALL_CASES; do
  selected "$c" && run_case "$c"
done
for c in $OPT_CASES; do
  case ",$CASES," in *",$c,"*) run_case "$c";; esac
done
for c in $(echo "$CASES" | tr ',' ' '); do
  case " all none capture $(echo $ALL_CASES $OPT_CASES) " in *" $c "*) ;; *)
    echo "@@@ CASE $c FAIL [0.0s] unknown case (known: $(echo $ALL_CASES))"; FAIL=$((FAIL + 1));; esac
done

mark "FINAL-STATE"; show_devices
dmesg | grep -iE 'vfio[-_ ]|DMAR.*(fault|error)' | grep -v 'ommand line' | tail -15 | sed 's/^/  [dmesg] /'
# artifacts for the host (run.sh --artifacts DIR): vfioctl's JSON, QEMU stderr, QMP replies
if grep -q ' /out 9p ' /proc/mounts; then
  mkdir -p /out/artifacts && for f in "$W"/*; do [ -f "$f" ] && cp "$f" /out/artifacts/; done
fi
echo "@@@ TEST-END pass=$PASS fail=$FAIL"
