# shellcheck shell=sh
# cases-bind.sh -- VFIO test bed cases for `vfioctl bind/unbind/rebind/setup`,
# sourced by guest.sh (busybox sh, inside the outer guest, as root) after its own
# cases and helpers are defined. Uses guest.sh's helpers: dev drv grp rd ids
# ensure_host ensure_vfio run_inner expect_ok need need_iommu, and its layout
# variables (VGA NIC1 NIC2 GPU GPUAUDIO BRIDGE BRNIC BRRNG XHCI HDA).
# vfioctl runs through `chroot /hostroot` against the guest's /sys (a live root:
# it verifies the driver link and waits for /dev/vfio/N); its state goes to the
# chroot's /run (tmpfs), as on a real host.

ALL_CASES="$ALL_CASES bind-address bind-ids bind-name unbind-restores
 bind-identical-second bind-group-refused bind-with-group bind-boot-vga-refused
 bind-fault-rollback bind-kill-converges rebind-reprobes setup-modprobe setup-udev"

# vf ARGS...: run vfioctl in the chroot; output in $W/vf.out, status in VRC
vf() {
  timeout 60 chroot "$R" "$VFIOCTL" "$@" > "$W/vf.out" 2>&1
  VRC=$?
  sed 's/^/  [vfioctl] /' "$W/vf.out" | head -30
  echo "  vfioctl $* -> rc=$VRC"
}
vf_has() { grep -qF -- "$1" "$W/vf.out"; }
state_file() { echo "$R/run/vfioctl/bind/$1"; }
override() { rd "$(dev "$1")/driver_override"; }
# all_host ADDR...: put devices back on their host drivers without vfioctl
all_host() { for _a in "$@"; do ensure_host "$_a" > /dev/null; done; rm -f "$R"/run/vfioctl/bind/*; }

case_bind_address() {
  need NIC1 NIC2 && need_iommu || return 1
  all_host "$NIC1" "$NIC2"
  vf bind "${NIC2#0000:}"
  DETAIL="rc=$VRC $NIC2=$(drv "$NIC2") /dev/vfio/$(grp "$NIC2"):$([ -c "/dev/vfio/$(grp "$NIC2")" ] && echo yes || echo no) $NIC1=$(drv "$NIC1")"
  [ $VRC = 0 ] && [ "$(drv "$NIC2")" = vfio-pci ] && [ -c "/dev/vfio/$(grp "$NIC2")" ] && [ "$(drv "$NIC1")" = e1000e ] &&
    grep -q '^driver=e1000e$' "$(state_file "$NIC2")"
}

case_bind_ids() {
  need XHCI && need_iommu || return 1
  all_host "$XHCI"
  vf bind 1b36:000d
  DETAIL="rc=$VRC $XHCI=$(drv "$XHCI") override=$(override "$XHCI")"
  [ $VRC = 0 ] && [ "$(drv "$XHCI")" = vfio-pci ]
}

case_bind_name() {
  need GPU GPUAUDIO && need_iommu || return 1
  all_host "$GPU" "$GPUAUDIO"
  # pci.ids has no name for QEMU's VGA (1234:1111), but its HDA function is "82801I (ICH9 Family) HD Audio";
  # that name matches on-board audio too (00:1b.0), so #2 picks the GPU's, and the slot brings fn 0 along.
  vf bind --dry-run "ICH9 Family) HD Audio"
  _amb=$VRC
  vf_has "matches 2 devices in 2 slots" || { DETAIL="ambiguous name not refused (rc=$_amb)"; return 1; }
  vf bind "ICH9 Family) HD Audio#2"
  DETAIL="ambiguous rc=$_amb; #2 rc=$VRC: $GPU=$(drv "$GPU") $GPUAUDIO=$(drv "$GPUAUDIO") $HDA=$(drv "$HDA")"
  [ $_amb != 0 ] && [ $VRC = 0 ] && [ "$(drv "$GPU")" = vfio-pci ] && [ "$(drv "$GPUAUDIO")" = vfio-pci ] &&
    [ "$(drv "$HDA")" = snd_hda_intel ]
}

case_unbind_restores() {
  need NIC2 && need_iommu || return 1
  all_host "$NIC2"
  vf bind "$NIC2"
  [ "$(drv "$NIC2")" = vfio-pci ] || { DETAIL="bind failed: $(tail -1 "$W/vf.out")"; return 1; }
  vf unbind "$NIC2"
  _r1=$VRC
  vf unbind "$NIC2"   # twice: a no-op
  DETAIL="unbind rc=$_r1, again rc=$VRC; $NIC2=$(drv "$NIC2") override=$(override "$NIC2") state=$([ -e "$(state_file "$NIC2")" ] && echo kept || echo removed)"
  [ $_r1 = 0 ] && [ $VRC = 0 ] && vf_has "already on a host driver" && [ "$(drv "$NIC2")" = e1000e ] &&
    [ "$(override "$NIC2")" = "(null)" ] && [ ! -e "$(state_file "$NIC2")" ]
}

case_bind_identical_second() {
  need NIC1 NIC2 && need_iommu || return 1
  all_host "$NIC1" "$NIC2"
  vf bind 8086:10d3
  _amb=$VRC
  _both="$(drv "$NIC1")/$(drv "$NIC2")"
  vf bind 8086:10d3#2
  DETAIL="8086:10d3 rc=$_amb (after: $_both); 8086:10d3#2 rc=$VRC: $NIC1=$(drv "$NIC1") $NIC2=$(drv "$NIC2")"
  [ $_amb != 0 ] && [ "$_both" = e1000e/e1000e ] && [ $VRC = 0 ] && [ "$(drv "$NIC1")" = e1000e ] &&
    [ "$(drv "$NIC2")" = vfio-pci ] && [ ! -e "/dev/vfio/$(grp "$NIC1")" ]
}

case_bind_group_refused() {
  need BRNIC BRRNG && need_iommu || return 1
  all_host "$BRNIC" "$BRRNG"
  vf bind "$BRNIC"
  DETAIL="rc=$VRC $BRNIC=$(drv "$BRNIC") $BRRNG=$(drv "$BRRNG"): $(grep -m1 'IOMMU group' "$W/vf.out")"
  [ $VRC != 0 ] && vf_has "with $BRRNG (virtio-pci)" && vf_has "--with-group" && [ "$(drv "$BRNIC")" = e1000 ] &&
    [ "$(drv "$BRRNG")" = virtio-pci ]
}

case_bind_with_group() {
  need BRIDGE BRNIC BRRNG && need_iommu || return 1
  all_host "$BRNIC" "$BRRNG"
  _brdrv=$(drv "$BRIDGE")
  vf bind --with-group "$BRNIC"
  [ $VRC = 0 ] || { DETAIL="rc=$VRC: $(tail -2 "$W/vf.out" | tr '\n' ' ')"; return 1; }
  # the group is viable: the inner QEMU takes both functions
  run_inner bind-with-group 0 unlimited -device "vfio-pci,host=$BRNIC,id=hostdev0" -device "vfio-pci,host=$BRRNG,id=hostdev1"
  expect_ok "hostdev0=$(ids "$BRNIC")" "hostdev1=$(ids "$BRRNG")" || return 1
  DETAIL="$BRNIC=$(drv "$BRNIC") $BRRNG=$(drv "$BRRNG") bridge $BRIDGE=$(drv "$BRIDGE") (was $_brdrv); $DETAIL"
  [ "$(drv "$BRIDGE")" = "$_brdrv" ]
}

case_bind_boot_vga_refused() {
  need VGA && need_iommu || return 1
  vf bind "$VGA"
  DETAIL="rc=$VRC $VGA=$(drv "$VGA"): $(grep -m1 'boot' "$W/vf.out")"
  [ $VRC != 0 ] && vf_has "boot display" && vf_has "--force" && [ "$(drv "$VGA")" = bochs-drm ]
}

case_bind_fault_rollback() {
  need NIC2 XHCI && need_iommu || return 1
  all_host "$NIC2" "$XHCI"
  # Two devices; write 5 (XHCI's driver/unbind) fails: NIC2, already on vfio-pci, must go back to e1000e.
  VFIOCTL_TEST_FAIL_WRITE=5 vf bind "$NIC2" "$XHCI"
  DETAIL="rc=$VRC; after: $NIC2=$(drv "$NIC2") override=$(override "$NIC2") $XHCI=$(drv "$XHCI") override=$(override "$XHCI") state=$(ls "$R/run/vfioctl/bind" 2>/dev/null | tr '\n' ' ')"
  [ $VRC != 0 ] && vf_has "rolled back" && [ "$(drv "$NIC2")" = e1000e ] && [ "$(override "$NIC2")" = "(null)" ] &&
    [ "$(drv "$XHCI")" = xhci_hcd ] && [ "$(override "$XHCI")" = "(null)" ] && [ -z "$(ls "$R/run/vfioctl/bind" 2>/dev/null)" ]
}

case_bind_kill_converges() {
  need NIC2 && need_iommu || return 1
  all_host "$NIC2"
  # kill -9 of vfioctl between unbind (write 2) and drivers_probe (write 3): no rollback runs.
  VFIOCTL_TEST_KILL_AT_WRITE=3 vf bind "$NIC2"
  _mid="rc=$VRC driver=$(drv "$NIC2") override=$(override "$NIC2")"
  [ "$(drv "$NIC2")" = - ] || { DETAIL="not interrupted as planned: $_mid"; return 1; }
  vf bind "$NIC2"
  _r2=$VRC _d2=$(drv "$NIC2")
  vf unbind "$NIC2"
  DETAIL="killed: $_mid; rerun rc=$_r2 -> $_d2; unbind rc=$VRC -> $(drv "$NIC2") (recorded driver survived the kill)"
  [ "$VRC" = 0 ] && [ "$_r2" = 0 ] && [ "$_d2" = vfio-pci ] && [ "$(drv "$NIC2")" = e1000e ]
}

case_rebind_reprobes() {
  need XHCI && need_iommu || return 1
  all_host "$XHCI"
  ensure_vfio "$XHCI" > /dev/null   # bound behind vfioctl's back: no record
  vf rebind "$XHCI"
  DETAIL="rc=$VRC $XHCI=$(drv "$XHCI") override=$(override "$XHCI")"
  [ $VRC = 0 ] && [ "$(drv "$XHCI")" = xhci_hcd ] && [ "$(override "$XHCI")" = "(null)" ]
}

# setup against a scratch root whose sys/proc are the guest's (the host root is read-only):
# the generated modprobe.d is loaded by the guest's modprobe, the unit's ExecStart is run.
setup_scratch() {
  _s=$W/sroot
  umount "$R$_s/sys" "$R$_s/proc" 2>/dev/null
  rm -rf "$R$_s"; mkdir -p "$R$_s/sys" "$R$_s/proc" "$R$_s/etc"
  mount --bind /sys "$R$_s/sys" && mount --bind /proc "$R$_s/proc" || return 1
  cp /etc/os-release "$R$_s/etc/os-release"
}
case_setup_modprobe() {
  need NIC1 NIC2 XHCI && need_iommu || return 1
  for d in /sys/bus/pci/drivers/vfio-pci/0000:*; do [ -e "$d" ] && ensure_host "${d##*/}" > /dev/null; done
  rm -f "$R"/run/vfioctl/bind/*
  setup_scratch || { DETAIL="cannot prepare the scratch root"; return 1; }
  vf --root "$W/sroot" setup "$XHCI" "8086:10d3#2" --user vmuser --memory 64M --vfioctl-path "$VFIOCTL"
  [ $VRC = 0 ] || { DETAIL="setup rc=$VRC: $(tail -2 "$W/vf.out" | tr '\n' ' ')"; return 1; }
  _conf=$R$W/sroot/etc/modprobe.d/vfioctl.conf _unit=$R$W/sroot/etc/systemd/system/vfioctl-bind.service
  sed 's/^/  [vfioctl.conf] /' "$_conf"; grep ExecStart= "$_unit" | sed 's/^/  [unit] /'
  grep -q '^options vfio-pci ids=1b36:000d$' "$_conf" || { DETAIL="no ids= line for the xhci"; return 1; }
  grep -q 'ExecStart=.* bind --boot 8086:10d3:8086:0000@pci0000:00/11.0/00.0,dsn=52-54-00-ff-ff-e2-e0-02$' "$_unit" ||
    { DETAIL="unit does not bind NIC2 by identity"; return 1; }
  # 1. modprobe.d: the guest's modprobe reads /etc/modprobe.d; vfio-pci claims the ids when it loads.
  mkdir -p /etc/modprobe.d && cp "$_conf" /etc/modprobe.d/vfioctl.conf
  echo "$XHCI" > "$(dev "$XHCI")/driver/unbind"
  rmmod vfio_pci 2>/dev/null || rmmod vfio-pci
  modprobe vfio-pci
  _x=$(drv "$XHCI")
  rm -f /etc/modprobe.d/vfioctl.conf
  # 2. the boot-time unit's ExecStart, verbatim: takes NIC2 (by serial), never its twin NIC1.
  _exec=$(sed -n 's/^ExecStart=//p' "$_unit")
  # shellcheck disable=SC2086  # ExecStart= is split on blanks like systemd does (no quoting in it)
  timeout 60 chroot "$R" $_exec > "$W/vf.out" 2>&1; _rc=$?
  sed 's/^/  [ExecStart] /' "$W/vf.out"
  DETAIL="modprobe vfio-pci with vfioctl.conf: $XHCI=$_x; ExecStart rc=$_rc: $NIC1=$(drv "$NIC1") $NIC2=$(drv "$NIC2")"
  [ "$_x" = vfio-pci ] && [ $_rc = 0 ] && [ "$(drv "$NIC2")" = vfio-pci ] && [ "$(drv "$NIC1")" = e1000e ]
}

# udev: the host's own systemd-udevd (package udev), run in the chroot on the guest's /sys and /dev with
# the generated rule in /run/udev/rules.d, gives /dev/vfio/N the group and mode the rule says.
case_setup_udev() {
  need NIC2 && need_iommu || return 1
  [ -x "$R/usr/bin/udevadm" ] || { DETAIL="no systemd-udevd on the host (apt-get install udev)"; return 1; }
  _rules=$R$W/sroot/etc/udev/rules.d/90-vfioctl.rules
  [ -f "$_rules" ] || { setup_scratch && vf --root "$W/sroot" setup "$NIC2" --user vmuser; }
  [ -f "$_rules" ] || { DETAIL="setup wrote no udev rules"; return 1; }
  ensure_vfio "$NIC2" > /dev/null || { DETAIL="bind failed"; return 1; }
  _n=/dev/vfio/$(grp "$NIC2")
  chown 0:0 "$_n"; chmod 0600 "$_n"
  _before=$(ls -l "$_n" | awk '{print $1, $3":"$4}')
  mkdir -p "$R/run/udev/rules.d" && cp "$_rules" "$R/run/udev/rules.d/"
  SYSTEMD_IGNORE_CHROOT=1 chroot "$R" /lib/systemd/systemd-udevd --daemon --resolve-names=early --debug > "$W/udevd.out" 2>&1
  # uevents sent before udevd listens are lost: wait until it answers on its control socket
  SYSTEMD_IGNORE_CHROOT=1 timeout 40 chroot "$R" /usr/bin/udevadm control --ping --timeout=30 2>&1 | sed 's/^/  [ping] /'
  SYSTEMD_IGNORE_CHROOT=1 timeout 30 chroot "$R" /usr/bin/udevadm trigger --verbose --subsystem-match=vfio --action=add 2>&1 | sed 's/^/  [trigger] /'
  SYSTEMD_IGNORE_CHROOT=1 timeout 30 chroot "$R" /usr/bin/udevadm settle -t 20 2>&1 | sed 's/^/  [settle] /'
  grep -iE 'vfio|90-vfioctl|error|fail|GROUP' "$W/udevd.out" | head -25 | sed 's/^/  [udevd] /'
  ls -l /dev/vfio | sed 's/^/  [ls] /' 
  _after=$(ls -l "$_n" | awk '{print $1, $3":"$4}')
  _kvm=$(chroot "$R" /usr/bin/getent group kvm | cut -d: -f3)
  _gid=$(stat -c %g "$_n")
  SYSTEMD_IGNORE_CHROOT=1 timeout 10 chroot "$R" /usr/bin/udevadm control --exit > /dev/null 2>&1
  rm -f "$R/run/udev/rules.d/90-vfioctl.rules"
  DETAIL="$_n before: $_before; after udevd: $_after (gid $_gid, kvm=$_kvm)"
  [ -n "$_kvm" ] && [ "$_gid" = "$_kvm" ] && [ "$(stat -c %a "$_n")" = 660 ]
}
