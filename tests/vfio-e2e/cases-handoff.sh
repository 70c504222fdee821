# shellcheck shell=sh
# cases-handoff.sh -- VFIO test bed cases for `[gpu] handoff` (single-GPU passthrough of the boot display)
# and `[cpu] isolate` (the host gives way on the vCPUs' CPUs), sourced by guest.sh after cases-run.sh (it
# uses run.sh's vr, vr_has, vr_json helpers). The boot display is the VGA device 00:01.0 on bochs-drm with
# the framebuffer console (fbcon) bound to it; isolation runs on the guest's real cgroup v2 hierarchy
# (mounted in the chroot by these cases), /proc/irq and its 2 CPUs (the VM on CPU 1, the host keeps 0).
# No systemd runs in the test bed: the display-manager step says so and does nothing here.
#
# Output per case: "@@@ CASE <name> PASS|FAIL [<s>s] <detail>" (printed by guest.sh's run_case).

ALL_CASES="$ALL_CASES handoff-refused handoff-stop handoff-kill-qemu handoff-kill-supervisor handoff-fault isolate-stop isolate-kill-supervisor isolate-fault isolate-two"

HOVM=handoff-vga
ISOVM=isolate-nic

# ho_conf: a VM given the host's boot display, run as nobody
ho_conf() {
  cat > "$W/$HOVM.conf" <<EOF
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
[gpu]
device = $VGA
handoff = yes
EOF
  chmod 644 "$W/$HOVM.conf"
}

# fbcon_state: "vtconN=BIND" of the virtual consoles that are the framebuffer console
fbcon_state() {
  for v in /sys/class/vtconsole/vtcon*; do
    grep -q "frame buffer" "$v/name" 2>/dev/null && printf '%s=%s ' "${v##*/}" "$(rd "$v/bind")"
  done
}
# display_state: what the host shows on the boot display: its driver and its consoles
display_state() { echo "$(drv "$VGA") $(fbcon_state)"; }

# ho_reset: the boot display back on bochs-drm with fbcon bound, as the machine booted
ho_reset() {
  timeout 60 chroot "$R" "$VFIOCTL" stop "$HOVM" --force > /dev/null 2>&1
  ensure_host "$VGA" > /dev/null
  for v in /sys/class/vtconsole/vtcon*; do
    grep -q "frame buffer" "$v/name" 2>/dev/null && [ "$(rd "$v/bind")" = 0 ] && echo 1 > "$v/bind"
  done
}

# ho_gpu_ids: vendor:device of hostdev-gpu-0 in the running VM's query-pci, empty when not listed
ho_gpu_ids() {
  _i=0; _ids=""
  while [ $_i -lt 30 ] && [ -z "$_ids" ]; do
    timeout 30 chroot "$R" "$VFIOCTL" qmp "$HOVM" '{"execute":"query-pci"}' > "$W/ho-pci.json" 2>&1
    _ids=$(in_chroot /usr/bin/jq -r '.[].devices[] | recurse(.pci_bridge.devices[]?) | select(.qdev_id == "hostdev-gpu-0")
      | "\(.id.vendor) \(.id.device)"' "$W/ho-pci.json" 2>/dev/null | while read -r v d; do printf '%04x:%04x' "$v" "$d"; done)
    [ -n "$_ids" ] || sleep 0.5; _i=$((_i + 1))
  done
  echo "$_ids"
}

# wait_display STATE SECONDS: until the boot display is back to STATE (bounded)
wait_display() {
  _i=0
  while [ $_i -lt $(($2 * 10)) ] && [ "$(display_state)" != "$1" ]; do sleep 0.1; _i=$((_i + 1)); done
  [ "$(display_state)" = "$1" ]
}

# ho_start: start the handoff VM; sets HO_DURING (driver, consoles while it runs), HO_PCI, HO_OWNER
ho_start() {
  vr start "$W/$HOVM.conf" --detach
  HO_DURING=$(display_state)
  HO_OWNER=$(ls -ln "/dev/vfio/$(grp "$VGA")" 2>/dev/null | awk '{print $3 ":" $4}')
  HO_PCI=$(ho_gpu_ids)
}

# handoff on a card the host shows nothing on (the NIC): refused before anything changes
case_handoff_refused() {
  need VGA && need NIC2 && need_iommu || return 1
  ho_reset
  _before=$(display_state)
  ensure_host "$NIC2" > /dev/null
  ho_conf
  sed "s/^device = .*/device = $NIC2/" "$W/$HOVM.conf" > "$W/ho-nic.conf"; chmod 644 "$W/ho-nic.conf"
  vr start "$W/ho-nic.conf" --detach
  _after=$(display_state)
  DETAIL="rc=$VRC $NIC2 on $(drv "$NIC2"); display before [$_before] after [$_after]"
  [ $VRC != 0 ] && vr_has "is neither the boot display nor bound to a display driver" && [ "$(drv "$NIC2")" = e1000e ] &&
    [ "$_after" = "$_before" ]
}

# A systemd host as far as vfioctl can tell (sd_booted: /run/systemd/system) with a recording systemctl
# (VFIOCTL_SYSTEMCTL): each call notes the card's driver and the consoles at that moment, so the log shows
# the display manager stopped first and started last. No real systemd runs in the test bed.
ho_fake_systemd() {
  mkdir -p "$R/run/systemd/system"
  cat > "$W/systemctl" <<'EOF2'
#!/bin/sh
d=$(readlink /sys/bus/pci/devices/0000:00:01.0/driver); c=""
for v in /sys/class/vtconsole/vtcon*; do grep -q "frame buffer" "$v/name" && c="$c${v##*/}=$(cat "$v/bind")"; done
echo "$* [${d##*/} $c]" >> /run/e2e/systemctl.log
EOF2
  chmod 755 "$W/systemctl"; rm -f "$W/systemctl.log"
  export VFIOCTL_SYSTEMCTL=$W/systemctl
}
ho_no_systemd() { unset VFIOCTL_SYSTEMCTL; rmdir "$R/run/systemd/system" "$R/run/systemd" 2>/dev/null; }

case_handoff_stop() {
  need VGA && need_iommu || return 1
  [ -x "$R$VFIOCTL" ] || { DETAIL="vfioctl not built ($VFIOCTL)"; return 1; }
  ho_reset
  _before=$(display_state)
  case "$_before" in bochs-drm*vtcon*=1*) ;; *) DETAIL="the boot display is not on bochs-drm with fbcon bound: [$_before]"; return 1;; esac
  ho_conf
  echo "display_manager = gdm.service" >> "$W/$HOVM.conf"
  ho_fake_systemd
  ho_start; _rc=$VRC
  _user=$(vr_json "$HOVM" '.state + " " + .user')
  vr stop "$HOVM" --timeout 3; _rs=$VRC
  wait_display "$_before" 30
  _after=$(display_state)
  ho_no_systemd
  _calls=$(tr '\n' ';' < "$W/systemctl.log" 2>/dev/null)
  _want="is-active --quiet gdm.service [bochs-drm $(fbcon_state | tr -d ' ')];stop gdm.service [bochs-drm $(fbcon_state | tr -d ' ')];start gdm.service [bochs-drm $(fbcon_state | tr -d ' ')];"
  DETAIL="before [$_before] running [$_user] [$HO_DURING] node=$HO_OWNER query-pci=$HO_PCI stop=$_rs after [$_after] systemctl: $_calls"
  [ $_rc = 0 ] && [ "$_user" = "running nobody" ] && [ "${HO_DURING%% *}" = vfio-pci ] &&
    ! echo "$HO_DURING" | grep -q '=1' && [ "$HO_OWNER" = "65534:65534" ] && [ "$HO_PCI" = "$(ids "$VGA")" ] &&
    [ $_rs = 0 ] && [ "$_after" = "$_before" ] && [ "$_calls" = "$_want" ]
}

case_handoff_kill_qemu() {
  need VGA && need_iommu || return 1
  ho_reset
  _before=$(display_state)
  ho_conf
  ho_start; _rc=$VRC
  _pid=$(vr_json "$HOVM" .pid)
  kill -9 "$_pid" 2>/dev/null
  # the supervisor sees QEMU die and gives the display back
  wait_display "$_before" 60
  _after=$(display_state)
  _end=$(vr_json "$HOVM" '.state')
  DETAIL="running [$HO_DURING] query-pci=$HO_PCI; QEMU pid $_pid killed -9: [$_end] after [$_after] (before [$_before])"
  [ $_rc = 0 ] && [ "${HO_DURING%% *}" = vfio-pci ] && [ "$HO_PCI" = "$(ids "$VGA")" ] && [ "$_end" = crashed ] &&
    [ "$_after" = "$_before" ]
}

case_handoff_kill_supervisor() {
  need VGA && need_iommu || return 1
  ho_reset
  _before=$(display_state)
  ho_conf
  ho_start; _rc=$VRC
  _sup=$(vr_json "$HOVM" .supervisor)
  kill -9 "$_sup" 2>/dev/null
  sleep 1
  # the guardian adopted QEMU: the VM still runs, the card stays with it
  _mid=$(display_state)
  _st=$(vr_json "$HOVM" '.state')
  vr stop "$HOVM" --timeout 3; _rs=$VRC
  wait_display "$_before" 60
  _after=$(display_state)
  DETAIL="running [$HO_DURING] supervisor $_sup killed -9: [$_st] [$_mid]; stop=$_rs after [$_after] (before [$_before])"
  [ $_rc = 0 ] && [ -n "$_sup" ] && [ "$_sup" != null ] && [ "$_st" = running ] && [ "${_mid%% *}" = vfio-pci ] &&
    [ $_rs = 0 ] && [ "$_after" = "$_before" ]
}

case_handoff_fault() {
  need VGA && need_iommu || return 1
  ho_reset
  _before=$(display_state)
  ho_conf
  # the card's step fails between unbinding bochs-drm and vfio-pci's probe
  export VFIOCTL_TEST_FAIL_STEP=handoff
  vr start "$W/$HOVM.conf" --detach; _r1=$VRC
  _a1=$(display_state)
  vr_has "handoff:"; _said=$?
  # the vfio-node step fails after the card moved: the console and the driver come back too
  export VFIOCTL_TEST_FAIL_STEP=vfio-node
  vr start "$W/$HOVM.conf" --detach; _r2=$VRC
  unset VFIOCTL_TEST_FAIL_STEP
  _a2=$(display_state)
  DETAIL="before [$_before]; fail handoff: rc=$_r1 said=$([ $_said = 0 ] && echo yes || echo no) after [$_a1]; fail vfio-node: rc=$_r2 after [$_a2]"
  [ $_r1 != 0 ] && [ $_said = 0 ] && [ "$_a1" = "$_before" ] && [ $_r2 != 0 ] && [ "$_a2" = "$_before" ]
}

# --- isolation -----------------------------------------------------------------------------------------

# iso_conf [NAME PIN]: an isolated VM; without arguments ISOVM on CPU 1 with the NIC, else NAME on PIN with
# no device
iso_conf() {
  _ic=${1:-$ISOVM}
  {
    cat <<EOF
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
pin = ${2:-1}
isolate = yes
[memory]
size = 64M
EOF
    if [ $# = 0 ]; then printf '[pci "nic"]\ndevice = %s\n' "$NIC2"; fi
  } > "$W/$_ic.conf"
  chmod 644 "$W/$_ic.conf"
}

# cgroup v2 in the chroot, where vfioctl looks (sys/fs/cgroup under its root)
iso_cgroup() {
  grep -q " $R/sys/fs/cgroup cgroup2 " /proc/mounts || mount -t cgroup2 none "$R/sys/fs/cgroup"
}

# iso_state PID: what the host's CPUs look like: an ordinary process's allowed CPUs, the root's children's
# effective cpusets, the default IRQ affinity, the passed NIC's IRQs' affinity, the cgroups at the top
iso_state() {
  _cg=$R/sys/fs/cgroup
  printf 'proc=%s ' "$(awk '/^Cpus_allowed_list/{print $2}' "/proc/$1/status")"
  for c in "$_cg"/*/; do
    [ -f "$c/cpuset.cpus.effective" ] && printf '%s=%s ' "$(basename "$c")" "$(rd "$c/cpuset.cpus.effective")"
  done
  printf 'subtree=[%s] default=%s ' "$(rd "$_cg/cgroup.subtree_control")" "$(rd /proc/irq/default_smp_affinity)"
  for i in $(rd "$(dev "$NIC2")/irq") $(ls "$(dev "$NIC2")/msi_irqs" 2>/dev/null); do
    [ -f "/proc/irq/$i/smp_affinity_list" ] && printf 'irq%s=%s ' "$i" "$(rd "/proc/irq/$i/smp_affinity_list")"
  done
  echo
}

# iso_start: a host process, the VM started; sets ISO_BEFORE ISO_DURING ISO_PID(the host process)
iso_start() {
  iso_cgroup
  timeout 60 chroot "$R" "$VFIOCTL" stop "$ISOVM" --force > /dev/null 2>&1
  ensure_vfio "$NIC2" > /dev/null || return 1
  chown 65534:65534 "/dev/vfio/$(grp "$NIC2")"
  sleep 600 &
  ISO_PID=$!
  ISO_BEFORE=$(iso_state "$ISO_PID")
  iso_conf
  vr start "$W/$ISOVM.conf" --detach
  ISO_RC=$VRC
  ISO_DURING=$(iso_state "$ISO_PID")
}

# iso_confined: while the VM runs, nothing of the host may use CPU 1 (the vCPU's)
iso_confined() {
  echo "$ISO_DURING" | grep -q 'proc=0 ' && echo "$ISO_DURING" | grep -q 'vfioctl.host=0 ' &&
    echo "$ISO_DURING" | grep -q 'default=1 ' && ! echo "$ISO_DURING" | grep -qE 'irq[0-9]+=[^0 ]'
}

# iso_cmp BEFORE: the host's readings now, for comparing with BEFORE. The kernel maps the NIC's INTx line
# the first time vfio-pci enables it (QEMU opening the device) and keeps it mapped after: an IRQ that was
# not there before counts as "as before" only with the kernel's default affinity, every CPU (0-1).
iso_cmp() {
  for _t in $(iso_state "$ISO_PID"); do
    case "$_t" in irq*=*) case " $1 " in *" ${_t%%=*}="*) ;; *) [ "$_t" = "${_t%%=*}=0-1" ] && continue;; esac;; esac
    printf '%s ' "$_t"
  done
  echo
}

# wait_iso STATE SECONDS: until the host looks as before (bounded, 1 s steps: a reading takes a while)
wait_iso() {
  _i=0
  while [ $_i -lt "$2" ] && [ "$(iso_cmp "$1")" != "$1" ]; do sleep 1; _i=$((_i + 1)); done
}

case_isolate_stop() {
  need NIC2 && need_iommu || return 1
  [ -x "$R$VFIOCTL" ] || { DETAIL="vfioctl not built ($VFIOCTL)"; return 1; }
  iso_start || { DETAIL="bind failed"; return 1; }
  _pins=$(vr_json "$ISOVM" '[.vcpus[].cpus] | join(",")')
  vr stop "$ISOVM" --timeout 3; _rs=$VRC
  wait_iso "$ISO_BEFORE" 30
  _after=$(iso_cmp "$ISO_BEFORE")
  kill "$ISO_PID" 2>/dev/null
  DETAIL="start=$ISO_RC vcpus on [$_pins]; before [$ISO_BEFORE] running [$ISO_DURING] stop=$_rs after [$_after]"
  [ $ISO_RC = 0 ] && [ "$_pins" = 1 ] && iso_confined && [ $_rs = 0 ] && [ "$_after" = "$ISO_BEFORE" ]
}

case_isolate_kill_supervisor() {
  need NIC2 && need_iommu || return 1
  iso_start || { DETAIL="bind failed"; return 1; }
  _sup=$(vr_json "$ISOVM" .supervisor)
  kill -9 "$_sup" 2>/dev/null
  sleep 1
  _mid=$(iso_state "$ISO_PID")
  _st=$(vr_json "$ISOVM" .state)
  vr stop "$ISOVM" --timeout 3; _rs=$VRC
  wait_iso "$ISO_BEFORE" 30
  _after=$(iso_cmp "$ISO_BEFORE")
  kill "$ISO_PID" 2>/dev/null
  DETAIL="start=$ISO_RC running [$ISO_DURING]; supervisor $_sup killed -9: [$_st] [$_mid]; stop=$_rs after [$_after] (before [$ISO_BEFORE])"
  [ $ISO_RC = 0 ] && iso_confined && [ -n "$_sup" ] && [ "$_sup" != null ] && [ "$_st" = running ] &&
    [ "$_mid" = "$ISO_DURING" ] && [ $_rs = 0 ] && [ "$_after" = "$ISO_BEFORE" ]
}

# a step of isolation fails (injected): QEMU is stopped before the guest ran, the host is as before
case_isolate_fault() {
  need NIC2 && need_iommu || return 1
  export VFIOCTL_TEST_FAIL_STEP=irq-affinity
  iso_start || { unset VFIOCTL_TEST_FAIL_STEP; DETAIL="bind failed"; return 1; }
  unset VFIOCTL_TEST_FAIL_STEP
  _said=$(grep -c "isolating the host failed" "$W/vr.out")
  _st=$(vr_json "$ISOVM" .state)
  wait_iso "$ISO_BEFORE" 30
  _after=$(iso_cmp "$ISO_BEFORE")
  kill "$ISO_PID" 2>/dev/null
  DETAIL="start=$ISO_RC said=$_said state=$_st before [$ISO_BEFORE] after [$_after]"
  [ $ISO_RC != 0 ] && [ "$_said" -ge 1 ] && [ "$_st" != running ] && [ "$_after" = "$ISO_BEFORE" ]
}

# A second isolated VM while the first runs: each would confine the host to "every CPU but mine" (the second
# handing the host the first's vCPU CPU) and the first's give-back would lift confinement under the second.
# Refused at preflight, naming the first; the first's confinement stays as it was, and goes back at its stop.
case_isolate_two() {
  need NIC2 && need_iommu || return 1
  iso_start || { DETAIL="bind failed"; return 1; }
  iso_conf iso-two 0
  vr start "$W/iso-two.conf" --detach; _r2=$VRC
  _said=$(grep -c "VM '$ISOVM'.* isolates the host" "$W/vr.out")
  _mid=$(iso_state "$ISO_PID")
  [ $_r2 = 0 ] && timeout 60 chroot "$R" "$VFIOCTL" stop iso-two --force > /dev/null 2>&1
  vr stop "$ISOVM" --timeout 3; _rs=$VRC
  wait_iso "$ISO_BEFORE" 30
  _after=$(iso_cmp "$ISO_BEFORE")
  kill "$ISO_PID" 2>/dev/null
  DETAIL="first=$ISO_RC second=$_r2 (names the first: $_said) running [$ISO_DURING] after the refusal [$_mid] stop=$_rs after [$_after] (before [$ISO_BEFORE])"
  [ $ISO_RC = 0 ] && iso_confined && [ $_r2 = 69 ] && [ "$_said" -ge 1 ] && [ "$_mid" = "$ISO_DURING" ] &&
    [ $_rs = 0 ] && [ "$_after" = "$ISO_BEFORE" ]
}
