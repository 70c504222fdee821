# shellcheck shell=sh
# cases-run.sh -- VFIO test bed cases for `vfioctl start/stop/status` with a real passed-through device,
# sourced by guest.sh (busybox sh, inside the outer guest, as root) after its helpers are defined. Uses
# guest.sh's helpers (dev drv grp ids ensure_host ensure_vfio need need_iommu in_chroot) and its layout
# variables (NIC2). vfioctl runs through `chroot /hostroot` as root and drops QEMU to nobody; its
# runtime state goes to the chroot's /run (tmpfs). The inner VM is q35 + SeaBIOS with no OS, 64 MiB.
#
# Output per case: "@@@ CASE <name> PASS|FAIL [<s>s] <detail>" (printed by guest.sh's run_case).

ALL_CASES="$ALL_CASES run-preflight-driver run-preflight-perm run-user-passthrough run-restart run-nonroot-vfioctl run-bind-devices-rollback run-preflight-not-viable"

RUNVM=run-nic
# run_conf NAME ADDR: a VM passing ADDR through, run as nobody
run_conf() {
  cat > "$W/$1.conf" <<EOF
[vm]
accel = tcg
user = nobody
[firmware]
type = seabios
[cpu]
model = qemu64
sockets = 1
cores = 1
threads = 1
[memory]
size = 64M
[pci "nic"]
device = $2
EOF
  chmod 644 "$W/$1.conf"
}
# vr ARGS...: vfioctl in the chroot; output in $W/vr.out, status in VRC
vr() {
  timeout 120 chroot "$R" "$VFIOCTL" "$@" > "$W/vr.out" 2>&1 < /dev/null
  VRC=$?
  sed 's/^/  [vfioctl] /' "$W/vr.out" | head -30
  echo "  vfioctl $* -> rc=$VRC"
}
vr_has() { grep -qF -- "$1" "$W/vr.out"; }
vr_json() { # vr_json NAME JQ: a field of status --json
  timeout 30 chroot "$R" "$VFIOCTL" status "$1" --json 2>/dev/null | in_chroot /usr/bin/jq -r "$2"
}
# hostdev_ids FILE: vendor:device of hostdev-nic-0 in a query-pci reply, empty when not (yet) listed
hostdev_ids() {
  in_chroot /usr/bin/jq -r '.[].devices[] | recurse(.pci_bridge.devices[]?) | select(.qdev_id == "hostdev-nic-0")
      | "\(.id.vendor) \(.id.device)"' "$1" 2>/dev/null | while read -r v d; do printf '%04x:%04x' "$v" "$d"; done
}
run_stop_all() { timeout 60 chroot "$R" "$VFIOCTL" stop "$RUNVM" --force > /dev/null 2>&1; }

case_run_preflight_driver() {
  need NIC2 && need_iommu || return 1
  [ -x "$R$VFIOCTL" ] || { DETAIL="vfioctl not built ($VFIOCTL)"; return 1; }
  run_stop_all
  ensure_host "$NIC2" > /dev/null
  run_conf "$RUNVM" "$NIC2"
  vr start "$W/$RUNVM.conf" --detach
  DETAIL="rc=$VRC with $NIC2 on $(drv "$NIC2")"
  [ $VRC = 69 ] && vr_has "device $NIC2 is on driver e1000e" && vr_has "vfioctl bind $NIC2"
}

case_run_preflight_perm() {
  need NIC2 && need_iommu || return 1
  run_stop_all
  ensure_vfio "$NIC2" || { DETAIL="bind failed"; return 1; }
  _g=$(grp "$NIC2")
  chown 0:0 "/dev/vfio/$_g"; chmod 0600 "/dev/vfio/$_g"
  run_conf "$RUNVM" "$NIC2"
  vr start "$W/$RUNVM.conf" --detach
  DETAIL="rc=$VRC with /dev/vfio/$_g root:root 0600"
  [ $VRC = 69 ] && vr_has "/dev/vfio/$_g (root:root, mode 0600) is not readable and writable by user nobody" &&
    vr_has "with a udev rule" && vr_has 'SUBSYSTEM=="vfio", GROUP="kvm"'
}

case_run_user_passthrough() {
  need NIC2 && need_iommu || return 1
  run_stop_all
  ensure_vfio "$NIC2" || { DETAIL="bind failed"; return 1; }
  _g=$(grp "$NIC2")
  chown 65534:65534 "/dev/vfio/$_g"
  run_conf "$RUNVM" "$NIC2"
  vr start "$W/$RUNVM.conf" --detach
  [ $VRC = 0 ] || { DETAIL="start rc=$VRC: $(tail -3 "$W/vr.out" | tr '\n' ' ')"; return 1; }
  _pid=$(vr_json "$RUNVM" .pid)
  _uid=$(awk '/^Uid:/{print $2 ":" $3 ":" $4 ":" $5}' "/proc/$_pid/status" 2>/dev/null)
  _lock=$(awk '/^Max locked memory/{print $4}' "/proc/$_pid/limits" 2>/dev/null)
  # query-pci lists a device behind a root port only once the firmware numbered the buses: ask again
  _i=0; _dev=""
  while [ $_i -lt 30 ] && [ -z "$_dev" ]; do
    timeout 30 chroot "$R" "$VFIOCTL" qmp "$RUNVM" '{"execute":"query-pci"}' > "$W/run-pci.json" 2>&1
    _dev=$(hostdev_ids "$W/run-pci.json")
    [ -n "$_dev" ] || sleep 0.5; _i=$((_i + 1))
  done
  _state=$(vr_json "$RUNVM" '.state + " " + .user + " " + (.devices | join(","))')
  vr stop "$RUNVM" --timeout 3
  _end=$(vr_json "$RUNVM" '.state + " " + .exit_reason')
  DETAIL="uid=$_uid memlock=$_lock status=[$_state] query-pci hostdev-nic-0=$_dev stop: [$_end]"
  [ "$_uid" = "65534:65534:65534:65534" ] && [ "$_state" = "running nobody $NIC2" ] &&
    [ "$_dev" = "$(ids "$NIC2")" ] && [ $VRC = 0 ] && [ "$_end" = "stopped host-qmp-quit" ]
}

case_run_restart() {
  need NIC2 && need_iommu || return 1
  ensure_vfio "$NIC2" || { DETAIL="bind failed"; return 1; }
  chown 65534:65534 "/dev/vfio/$(grp "$NIC2")"
  run_conf "$RUNVM" "$NIC2"
  vr start "$W/$RUNVM.conf" --detach; _r1=$VRC
  # a second VM asking for the same device is refused before launch
  run_conf run-nic-b "$NIC2"
  vr start "$W/run-nic-b.conf" --detach; _r2=$VRC
  vr_has "device $NIC2 is in use by the running VM '$RUNVM'"; _c=$?
  vr stop "$RUNVM" --force; _r3=$VRC
  _end=$(vr_json "$RUNVM" '.state + " " + .exit_reason')
  vr start "$W/$RUNVM.conf" --detach; _r4=$VRC
  _st=$(vr_json "$RUNVM" .state)
  vr stop "$RUNVM" --force
  DETAIL="start=$_r1 second-vm=$_r2(conflict named:$([ $_c = 0 ] && echo yes || echo no)) stop --force=$_r3 [$_end] restart=$_r4 [$_st]"
  [ $_r1 = 0 ] && [ $_r2 = 69 ] && [ $_c = 0 ] && [ $_r3 = 0 ] && [ "$_end" = "stopped killed by vfioctl stop --force" ] &&
    [ $_r4 = 0 ] && [ "$_st" = running ]
}

# vn MEMLOCK_KIB ARGS...: vfioctl itself as nobody (no root anywhere), state in $W/xdg; status in VRC
vn() {
  _lk=$1; shift
  # shellcheck disable=SC3045  # busybox sh has ulimit -l
  ( ulimit -l "$_lk" && exec timeout 120 chroot "$R" /usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups -- \
      /usr/bin/env -i PATH=/usr/bin:/bin XDG_RUNTIME_DIR="$W/xdg" HOME="$W/xdg" "$VFIOCTL" "$@" ) \
    > "$W/vr.out" 2>&1 < /dev/null
  VRC=$?
  sed 's/^/  [vfioctl as nobody] /' "$W/vr.out" | head -30
  echo "  vfioctl $* (as nobody, memlock ${_lk} KiB) -> rc=$VRC"
}

case_run_nonroot_vfioctl() {
  need NIC2 && need_iommu || return 1
  ensure_vfio "$NIC2" || { DETAIL="bind failed"; return 1; }
  chown 65534:65534 "/dev/vfio/$(grp "$NIC2")"
  mkdir -p "$W/xdg"; chown 65534:65534 "$W/xdg"; chmod 700 "$W/xdg"
  run_conf run-self "$NIC2"
  sed -i '/^user = /d' "$W/run-self.conf"
  # memlock below guest RAM + 128 MiB: refused before QEMU, with the limits.d fix
  vn 1024 start "$W/run-self.conf" --detach; _r1=$VRC
  vr_has "RLIMIT_MEMLOCK of nobody is 1024 KiB" && vr_has "/etc/security/limits.d/vfioctl.conf"; _m=$?
  vn 262144 start "$W/run-self.conf" --detach; _r2=$VRC
  _pid=$(sed -n 's/^pid=//p' "$W/xdg/vfioctl/run-self/status" 2>/dev/null)
  _uid=$(awk '/^Uid:/{print $2}' "/proc/$_pid/status" 2>/dev/null)
  _i=0; _dev=""
  while [ $_i -lt 30 ] && [ -z "$_dev" ]; do
    vn 262144 qmp run-self '{"execute":"query-pci"}' > /dev/null; cp "$W/vr.out" "$W/run-self-pci.json"
    _dev=$(hostdev_ids "$W/run-self-pci.json")
    [ -n "$_dev" ] || sleep 0.5; _i=$((_i + 1))
  done
  vn 262144 stop run-self --timeout 2; _r3=$VRC
  _end=$(sed -n 's/^state=//p' "$W/xdg/vfioctl/run-self/status" 2>/dev/null)
  DETAIL="low memlock rc=$_r1 (fix named:$([ $_m = 0 ] && echo yes || echo no)) start rc=$_r2 qemu uid=$_uid hostdev-nic-0=$_dev stop rc=$_r3 state=$_end"
  [ $_r1 = 69 ] && [ $_m = 0 ] && [ $_r2 = 0 ] && [ "$_uid" = 65534 ] && [ "$_dev" = "$(ids "$NIC2")" ] && [ $_r3 = 0 ] &&
    [ "$_end" = stopped ]
}

# [vm] bind_devices = yes, started by root: start moves the NIC from e1000e to vfio-pci itself. Without
# udev in this guest the new /dev/vfio/N is root:root 0600, so the non-root QEMU could not open it:
# preflight refuses, and the NIC must be back on e1000e afterwards (the host is never left half-changed).
case_run_bind_devices_rollback() {
  need NIC2 && need_iommu || return 1
  run_stop_all
  ensure_host "$NIC2" > /dev/null
  _before=$(drv "$NIC2")
  run_conf run-bind "$NIC2"
  sed -i 's/^\[vm\]$/[vm]\nbind_devices = yes/' "$W/run-bind.conf"
  vr start "$W/run-bind.conf" --detach; _r=$VRC
  _after=$(drv "$NIC2")
  _g=$(grp "$NIC2")
  vr_has "/dev/vfio/$_g"; _named=$?
  DETAIL="before=$_before start rc=$_r (names /dev/vfio/$_g: $([ $_named = 0 ] && echo yes || echo no)) after=$_after override=$(rd "$(dev "$NIC2")/driver_override")"
  [ "$_before" = e1000e ] && [ $_r = 69 ] && [ $_named = 0 ] && [ "$_after" = e1000e ]
}

# The bridge group's e1000 on vfio-pci but its peer virtio-rng still on virtio-pci: vfioctl's own preflight
# names the group and the peer before QEMU starts (QEMU itself would say "group 14 is not viable").
case_run_preflight_not_viable() {
  need BRNIC BRRNG && need_iommu || return 1
  run_stop_all
  ensure_host "$BRRNG" > /dev/null
  ensure_vfio "$BRNIC" || { DETAIL="bind failed"; return 1; }
  _g=$(grp "$BRNIC")
  run_conf run-nv "$BRNIC"
  vr start "$W/run-nv.conf" --detach; _r=$VRC
  DETAIL="rc=$_r with $BRNIC on $(drv "$BRNIC"), $BRRNG on $(drv "$BRRNG")"
  ensure_host "$BRNIC" > /dev/null
  [ $_r = 69 ] && vr_has "IOMMU group $_g of $BRNIC is not viable: $BRRNG is on driver virtio-pci"
}
