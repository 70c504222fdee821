# shellcheck shell=sh
# zero-to-vm-guest.sh -- one boot of the zero-to-vm case, inside the persistent system the harness
# (zero-to-vm.sh) boots: the host root below an overlay whose upper layer is the system's own disk,
# systemd as init, booted with the kernel command line and initramfs that the system's own boot loader
# configuration names. Run by vfioctl-e2e.service (as root, output on the serial console); the system
# powers off when it ends. Kernel command line (added by the harness):
#   vfioctl.phase=1|2   1: the pristine system, before the reboot; 2: after it
#   vfioctl.kill=0|1    1: kill -9 guide in each step, then run it again (it must resume and complete)
#   vfioctl.bin=PATH    the vfioctl under test; vfioctl.testdir=DIR this directory
# Output: "@@@ CASE <name> PASS|FAIL <detail>" lines and "@@@ TEST-END pass=N fail=N".

arg() { sed -n "s/^\(.*[[:space:]]\)\{0,1\}$1=\([^[:space:]]*\).*/\2/p" /proc/cmdline; }
up() { cut -d' ' -f1 /proc/uptime; }
mark() { echo "@@@ [$(up)] $*"; }
PHASE=$(arg vfioctl.phase); KILL=$(arg vfioctl.kill); VFIOCTL=$(arg vfioctl.bin)
NAME=e2e; VMUSER=vm-e2e; GPU=0000:03:00.0; GPUAUDIO=0000:03:00.1; MEM=256M
STATE=/var/lib/vfioctl-e2e   # on the persistent disk: what phase 1 saw, for phase 2 to compare
W=/run/e2e; mkdir -p "$W" "$STATE"
PASS=0; FAIL=0
TAG=zero-to-vm$([ "$KILL" = 1 ] && echo -kill)
ok() { PASS=$((PASS + 1)); echo "@@@ CASE $TAG-$PHASE:$1 PASS $2"; }
bad() { FAIL=$((FAIL + 1)); echo "@@@ CASE $TAG-$PHASE:$1 FAIL $2"; }
expect() { # expect NAME DETAIL COMMAND...: PASS when COMMAND succeeds
  _n=$1 _d=$2; shift 2
  if "$@"; then ok "$_n" "$_d"; else bad "$_n" "$_d"; fi
}
drv() { [ -e "/sys/bus/pci/devices/$1/driver" ] && basename "$(readlink "/sys/bus/pci/devices/$1/driver")" || echo -; }
grp() { basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group" 2>/dev/null)" 2>/dev/null; }
KV=$(uname -r)
# guide LOG ARGS...: runs vfioctl guide NAME ARGS, output to LOG and the console; sets RC
guide() {
  _log=$1; shift
  mark "RUN vfioctl guide $NAME $*"
  "$VFIOCTL" guide "$NAME" "$@" > "$W/$_log" 2>&1; RC=$?
  sed "s/^/  [$_log] /" "$W/$_log"
  mark "guide exit $RC"
}
finish() {
  mark "journal of vfioctl-bind.service:"; journalctl -b -u vfioctl-bind.service --no-pager 2>&1 | tail -15 | sed 's/^/  /'
  [ -d /run/e2e-out ] && cp -r "$W" /run/e2e-out/phase-$PHASE 2>/dev/null
  echo "@@@ TEST-END pass=$PASS fail=$FAIL"
  sync
  exit 0
}
mark "ZERO-TO-VM phase=$PHASE kill=$KILL kernel=$KV cmdline=$(cat /proc/cmdline)"
[ -x "$VFIOCTL" ] || { bad setup "vfioctl not built ($VFIOCTL)"; finish; }

if [ "$PHASE" = 1 ]; then
  # The pristine system: what setup --undo must bring back later.
  for f in /etc/default/grub /etc/initramfs-tools/modules; do sha256sum "$f"; done > "$STATE/pristine.sha"
  # IOMMU groups exist already on this kernel without intel_iommu=on (seen in the test bed; its config has
  # CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF=y): what guide adds is the parameters and the binding at boot.
  expect pristine "pristine: no intel_iommu=on on the command line, the GPU on its host driver" \
    sh -c "! grep -q intel_iommu=on /proc/cmdline && [ \"\$(basename \"\$(readlink /sys/bus/pci/devices/$GPU/driver)\")\" != vfio-pci ]"
  if [ "$KILL" = 1 ]; then
    # kill -9 in each step that changes something, then again: each run must resume from the host.
    for s in user:0 setup:0 boot:1500; do
      mark "KILL guide in step ${s%%:*} after ${s#*:} ms"
      VFIOCTL_TEST_GUIDE_KILL=$s "$VFIOCTL" guide "$NAME" --yes --gpu "$GPU" --memory "$MEM" > "$W/kill-${s%%:*}" 2>&1
      mark "killed run exit $? ($(grep -c '' "$W/kill-${s%%:*}") lines)"
    done
    # And half-way through setup's file writes (its own fault point).
    VFIOCTL_TEST_KILL_AT_STEP=3 "$VFIOCTL" guide "$NAME" --yes --gpu "$GPU" --memory "$MEM" > "$W/kill-files" 2>&1
    mark "killed at a file write, exit $?"
  fi
  guide guide-1 --yes --gpu "$GPU" --memory "$MEM"
  expect guide-asks-reboot "exit 75 (reboot, then run it again)" [ "$RC" = 75 ]
  expect guide-says-why "it names the kernel parameter that needs the reboot" \
    grep -q "the kernel command line lacks intel_iommu=on" "$W/guide-1"
  expect grub "/etc/default/grub carries intel_iommu=on iommu=pt" grep -q 'GRUB_CMDLINE_LINUX_DEFAULT=".*intel_iommu=on iommu=pt' /etc/default/grub
  expect grub-cfg "update-grub ran: grub.cfg carries them" grep -q "linux.*intel_iommu=on iommu=pt" /boot/grub/grub.cfg
  expect initramfs-list "/etc/initramfs-tools/modules lists vfio_pci" grep -qx vfio_pci /etc/initramfs-tools/modules
  expect initramfs "update-initramfs ran: /boot/initrd.img-$KV holds vfio-pci and vfioctl's modprobe.d" \
    sh -c "lsinitramfs /boot/initrd.img-$KV | grep -q 'vfio/pci/vfio-pci.ko' && lsinitramfs /boot/initrd.img-$KV | grep -q 'etc/modprobe.d/vfioctl.conf'"
  expect bind-unit "vfioctl-bind.service written and enabled" \
    sh -c '[ -f /etc/systemd/system/vfioctl-bind.service ] && [ -L /etc/systemd/system/sysinit.target.wants/vfioctl-bind.service ]'
  expect vm-user "$VMUSER exists, in group kvm" sh -c "id -nG $VMUSER | grep -qw kvm"
  expect nothing-bound "the GPU is still on its host driver ($(drv $GPU)): binding waits for the boot" [ "$(drv $GPU)" != vfio-pci ]
  finish
fi

# Phase 2: booted with what the system's boot configuration says.
expect cmdline "the kernel booted with guide's parameters (from grub.cfg)" grep -q "intel_iommu=on iommu=pt" /proc/cmdline
expect groups "IOMMU groups exist" [ -n "$(ls /sys/kernel/iommu_groups)" ]
# vfio-pci came from the initramfs (its module list), before systemd: the kernel log says so, in order.
expect vfio-early "vfio_pci loaded in the initramfs, before systemd started" \
  sh -c "dmesg | awk '/VFIO - User Level meta-driver/ && !s { v = NR } /systemd\[1\]/ && !s { s = NR } END { exit !(v && s && v < s) }'"
expect gpu-bound "$GPU and $GPUAUDIO on vfio-pci since boot (by vfioctl-bind.service; the harness binds nothing)" \
  sh -c "[ \"$(drv $GPU)\" = vfio-pci ] && [ \"$(drv $GPUAUDIO)\" = vfio-pci ] && systemctl is-active -q vfioctl-bind.service"
expect twin-kept "the twin boot display 0000:00:01.0 and on-board audio 0000:00:1b.0 stay on their drivers" \
  sh -c "[ \"$(drv 0000:00:01.0)\" != vfio-pci ] && [ \"$(drv 0000:00:1b.0)\" != vfio-pci ]"
G=$(grp $GPU)
expect vfio-node "/dev/vfio/$G is group kvm, 0660 (udev rule)" \
  sh -c "[ \"$(stat -c '%G %a' /dev/vfio/$G 2>/dev/null)\" = 'kvm 660' ]"
if [ "$KILL" = 1 ]; then
  VFIOCTL_TEST_KILL_AT_STEP=2 "$VFIOCTL" guide "$NAME" --yes --memory "$MEM" > "$W/kill-create" 2>&1
  mark "killed in create, exit $?"
  VFIOCTL_TEST_GUIDE_KILL=start:500 "$VFIOCTL" guide "$NAME" --yes --memory "$MEM" > "$W/kill-start" 2>&1
  mark "killed in start, exit $?"
fi
guide guide-2 --yes --memory "$MEM"
expect guide-completes "exit 0: the VM runs" [ "$RC" = 0 ]
if [ "$RC" != 0 ]; then
  # Why the VM did not come up: QEMU's and vfioctl's messages for it.
  mark "vfioctl log $NAME:"; "$VFIOCTL" log "$NAME" 2>&1 | tail -30 | sed 's/^/  [log] /'
  # What QEMU, as the VM user, met on the way to its state (owners, modes, the mounts below them).
  mark "state as $VMUSER sees it:"
  { id "$VMUSER"; ls -lnd / /var /var/lib /var/lib/vfioctl /var/lib/vfioctl/"$NAME" /var/lib/vfioctl/"$NAME"/*
    findmnt -no SOURCE,FSTYPE,OPTIONS -T /var/lib/vfioctl
    for f in /var/lib/vfioctl/"$NAME"/*; do
      setpriv --reuid="$VMUSER" --regid="$VMUSER" --init-groups sh -c 'exec 3<>"$1" && echo "$1: opens read-write"' - "$f"
    done; } 2>&1 | sed 's/^/  [state] /'
fi
expect config "/etc/vfioctl/vms/$NAME.conf has [vm] user and the GPU's identity" \
  sh -c "grep -qx 'user = $VMUSER' /etc/vfioctl/vms/$NAME.conf && grep -qx 'device = 1234:1111:1af4:1100@pci0000:00/12.0/00.0' /etc/vfioctl/vms/$NAME.conf"
"$VFIOCTL" status "$NAME" > "$W/status" 2>&1; src=$?
sed 's/^/  [status] /' "$W/status"
expect status "vfioctl status: runs (exit 0)" [ "$src" = 0 ]
QPID=$("$VFIOCTL" status "$NAME" --json 2>/dev/null | jq -r '.pid // 0')
expect vm-user "QEMU runs as $VMUSER" [ "$(ps -o user= -p "${QPID:-0}" 2>/dev/null)" = "$VMUSER" ]
# query-pci lists a device behind a root port only once the guest firmware has numbered the buses; OVMF
# under TCG inside this TCG guest takes a while to get there: ask again, bounded.
PCI=""; t0=$(up)
for _i in $(seq 1 60); do
  "$VFIOCTL" qmp "$NAME" '{"execute":"query-pci"}' > "$W/query-pci" 2>&1
  PCI=$(jq -r '.. | objects | select(.qdev_id? and (.qdev_id | startswith("hostdev"))) | "\(.qdev_id)=\(.id.vendor):\(.id.device)"' "$W/query-pci" 2>/dev/null | tr '\n' ' ')
  case "$PCI" in *hostdev-gpu-1*) break;; esac
  sleep 2
done
mark "query-pci hostdevs: $PCI (asked from $t0 s to $(up) s of uptime)"
expect query-pci "the inner QEMU has the GPU (1234:1111) and its audio function (8086:293e)" \
  sh -c "echo '$PCI' | grep -q '=4660:4369' && echo '$PCI' | grep -q '=32902:10558'"
"$VFIOCTL" stop "$NAME" --timeout 15 > "$W/stop" 2>&1; src=$?
sed 's/^/  [stop] /' "$W/stop"
expect stop "vfioctl stop: exit 0" [ "$src" = 0 ]
# setup --undo: every file setup wrote goes, every file it edited is as it was.
grep -E '^(file|link) ' /var/lib/vfioctl/setup.manifest | awk '{print "/" $2}' > "$W/manifest-paths"
mark "manifest: $(tr '\n' ' ' < "$W/manifest-paths")"
"$VFIOCTL" setup --undo > "$W/undo" 2>&1; src=$?
sed 's/^/  [undo] /' "$W/undo"
expect undo "vfioctl setup --undo: exit 0" [ "$src" = 0 ]
left=""
while read -r f; do
  if grep -q " $f\$" "$STATE/pristine.sha"; then
    grep " $f\$" "$STATE/pristine.sha" | sha256sum -c --quiet >/dev/null 2>&1 || left="$left $f(changed)"
  elif [ -e "$f" ] || [ -L "$f" ]; then
    left="$left $f"
  fi
done < "$W/manifest-paths"
expect undo-files "every file setup wrote is gone, /etc/default/grub and initramfs-tools/modules as they were${left:+ BUT:$left}" \
  sh -c "[ -z '$left' ] && [ ! -e /var/lib/vfioctl/setup.manifest ] && [ -s '$W/manifest-paths' ]"
finish
