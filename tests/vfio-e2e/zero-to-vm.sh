#!/bin/bash
# zero-to-vm.sh -- the test bed's zero-to-vm case: vfioctl guide takes a pristine system to a running
# passthrough VM across a real reboot of the outer guest.
#
# The system: the host root (read-only, 9p) below an overlay whose upper layer is an ext4 disk on q35's
# own AHCI controller (no new PCI device: the layout and its groups stay), holding what the system writes
# (/etc, /boot, /var) across reboots. Its pristine state (system/ here): Debian's /etc/default/grub, an
# initramfs-tools configuration (MODULES=list: only the modules /etc/initramfs-tools/modules names, plus
# its root's), a boot loader (update-grub writing /boot/grub/grub.cfg) and, as the installed initramfs,
# the test bed's own. systemd is its init (vfioctl-e2e.target: sysinit.target and this case's phase).
#
# This script is the machine's firmware and GRUB: before each boot it reads /boot/grub/grub.cfg from the
# disk (debugfs, no mount), and boots the kernel with that entry's command line and initrd, adding only
# the test bed's own vfioctl.* parameters. It binds nothing and loads nothing: boot 2 has what the system's
# own configuration made of guide's files (grub.cfg by update-grub, the initramfs by update-initramfs).
#   boot 1 (pristine): vfioctl guide e2e --yes --gpu 0000:03:00.0 plans the setup and asks for a reboot
#   boot 2: vfioctl guide e2e --yes creates and starts the VM as vm-e2e; query-pci shows the GPU and its
#           audio; vfioctl stop; vfioctl setup --undo reverses every file
# With --kill, guide is killed (-9) in each step of each boot before the run that must complete.
#
# usage: zero-to-vm.sh [--kill] [--vfioctl PATH] [--timeout SEC] [--log FILE]
# Exit: 0 when every check of both boots passed; prints "N passed, N failed".
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${VFIOCTL_TESTBED_CACHE:-/var/cache/vfioctl-testbed}
VFIOCTL="$REPO/build/tool/vfioctl"
KILL=0
TIMEOUT=1500
LOG=""
while [ $# -gt 0 ]; do
  case "$1" in
    --kill) KILL=1; shift;;
    --vfioctl) VFIOCTL=${2:?}; shift 2;;
    --timeout) TIMEOUT=${2:?}; shift 2;;
    --log) LOG=${2:?}; shift 2;;
    *) echo "zero-to-vm.sh: unknown argument '$1'" >&2; exit 2;;
  esac
done
case "$VFIOCTL" in /*) ;; *) VFIOCTL=$(pwd)/$VFIOCTL;; esac
[ "$(id -u)" = 0 ] || { echo "zero-to-vm.sh: needs root (QEMU with the host root, a system disk)"; exit 77; }
for t in mkfs.ext4 debugfs lsinitramfs depmod qemu-system-x86_64; do
  command -v "$t" >/dev/null || { echo "zero-to-vm.sh: $t is missing (scripts/install-deps.sh)"; exit 77; }
done
[ -x "$VFIOCTL" ] || { echo "zero-to-vm.sh: $VFIOCTL is not built"; exit 1; }
"$HERE/setup.sh" "$CACHE" > /dev/null || { echo "zero-to-vm.sh: setup.sh failed"; exit 1; }
KV=$(cat "$CACHE/kernel-version")
# The system's kmod (udev's module loading, modprobe, mkinitramfs) reads the binary indexes busybox's
# depmod does not write: make them, as the kernel package's postinst would.
if [ ! -e "$CACHE/kpkg/lib/modules/$KV/modules.dep.bin" ]; then
  depmod -b "$CACHE/kpkg" "$KV" || { echo "zero-to-vm.sh: depmod failed"; exit 1; }
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/vfioctl-zero-to-vm.XXXXXX")
trap 'rm -rf "$T"' EXIT
LOG=${LOG:-$T/serial.log}
: > "$LOG"
log() { echo "zero-to-vm: $*" | tee -a "$LOG"; }

# --- the pristine system's disk --------------------------------------------------------------------
U=$T/img/upper
mkdir -p "$U" "$T/img/work"
cp -a "$HERE/system/." "$U/"
sed -i "s|@TESTDIR@|$HERE|g" "$U/etc/systemd/system/vfioctl-e2e.service"
# The host root may be a container's: seen through the overlay, its /.dockerenv makes systemd run in
# container mode, which reads no kernel command line (systemd.unit= ignored: graphical.target instead of
# this case's target). The system is a machine: an overlay whiteout (char 0:0) hides the marker.
[ -e /.dockerenv ] && mknod "$U/.dockerenv" c 0 0
# The installed kernel: modules and image from the test bed's cache, as the package would put them.
mkdir -p "$U/usr/lib/modules" "$U/boot" "$U/var/lib/initramfs-tools"
ln -s "$CACHE/kpkg/lib/modules/$KV" "$U/usr/lib/modules/$KV"
for f in vmlinuz config System.map; do ln -s "$CACHE/kpkg/boot/$f-$KV" "$U/boot/$f-$KV"; done
# The initramfs it was installed with: the test bed's own (it mounts the same root); update-initramfs
# replaces it.
cp "$CACHE/initramfs.cpio.gz" "$U/boot/initrd.img-$KV"
"$U/usr/sbin/update-grub" "$U" 2>/dev/null
mkfs.ext4 -q -F -L vfioctl-e2e -d "$T/img" "$T/disk.img" 1G || { log "mkfs.ext4 failed"; exit 1; }

# --- boot what grub.cfg says ------------------------------------------------------------------------
PASS=0; FAIL=0
boot() { # boot PHASE
  local phase=$1 cfg linux initrd args
  cfg=$(debugfs -R "cat /upper/boot/grub/grub.cfg" "$T/disk.img" 2>/dev/null)
  linux=$(echo "$cfg" | awk '$1 == "linux" { $1 = ""; print; exit }')
  initrd=$(echo "$cfg" | awk '$1 == "initrd" { print $2; exit }')
  [ -n "$linux" ] && [ -n "$initrd" ] || { log "boot $phase: no linux/initrd entry in grub.cfg"; return 1; }
  args=$(echo "$linux" | awk '{ $1 = ""; print }' | sed 's/^ *//; s/  */ /g')
  debugfs -R "dump /upper$initrd $T/initrd.$phase" "$T/disk.img" 2>/dev/null
  [ -s "$T/initrd.$phase" ] || { log "boot $phase: cannot read $initrd from the disk"; return 1; }
  log "boot $phase: grub.cfg says: linux $(echo "$linux" | awk '{print $1}') $args; initrd $initrd ($(stat -c %s "$T/initrd.$phase") bytes)"
  echo "$args" > "$T/cmdline.$phase"
  "$HERE/run.sh" --cache "$CACHE" --disk "$T/disk.img" --initrd "$T/initrd.$phase" --cpu qemu64,-svm \
    --cmdline "$args vfioctl.phase=$phase vfioctl.kill=$KILL vfioctl.testdir=$HERE vfioctl.bin=$VFIOCTL" \
    --timeout "$TIMEOUT" < /dev/null 2>&1 | tee -a "$LOG" | grep --line-buffered '@@@ CASE\|@@@ TEST-END\|INIT-ERROR\|run.sh:'
}
check() { # check NAME DETAIL COMMAND...: a harness-side check
  local n=$1 d=$2; shift 2
  if "$@"; then PASS=$((PASS + 1)); echo "@@@ CASE zero-to-vm-host:$n PASS $d"; else FAIL=$((FAIL + 1)); echo "@@@ CASE zero-to-vm-host:$n FAIL $d"; fi
}

boot 1
grep -q '@@@ TEST-END pass=[0-9]* fail=0' "$LOG" || { log "boot 1 did not end cleanly: no second boot"; echo "0 passed, 1 failed"; exit 1; }
# Between the boots, as GRUB sees it: guide's parameters in grub.cfg, a new initramfs with vfio-pci.
check reboot-cmdline "the next boot's command line (grub.cfg) has intel_iommu=on iommu=pt" \
  sh -c "debugfs -R 'cat /upper/boot/grub/grub.cfg' '$T/disk.img' 2>/dev/null | grep -q 'linux.*intel_iommu=on iommu=pt'"
boot 2
check initramfs-regenerated "boot 2's initramfs is not boot 1's: update-initramfs made it, with vfio-pci and the VFIO module list" \
  sh -c "! cmp -s '$T/initrd.1' '$T/initrd.2' && lsinitramfs '$T/initrd.2' | grep -q vfio/pci/vfio-pci.ko && lsinitramfs '$T/initrd.2' | grep -qx 'conf/modules'"
check booted-with-grub "boot 2 ran with grub.cfg's command line" grep -q "intel_iommu=on iommu=pt" "$T/cmdline.2"

# The verdict: every CASE line of both boots.
P=$(grep -c '@@@ CASE .* PASS' "$LOG"); F=$(grep -c '@@@ CASE .* FAIL' "$LOG")
E=$(grep -c '@@@ TEST-END' "$LOG")
P=$((P + PASS)); F=$((F + FAIL))
[ "$E" = 2 ] || { echo "zero-to-vm: only $E of 2 boots ended (see $LOG)"; F=$((F + 1)); }
echo "$P passed, $F failed"
[ "$F" = 0 ]
