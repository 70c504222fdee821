#!/bin/bash
# shellcheck disable=SC2054  # commas inside QEMU option strings, not array separators
# run.sh -- boot the outer guest of the VFIO test bed (TCG, q35, emulated Intel
# IOMMU) with the project's device layout, run guest.sh in it, print its serial
# console on stdout.
#
# usage: run.sh [--capture DEST] [--case NAME]... [--vfioctl PATH] [--no-iommu]
#               [--timeout SEC] [--artifacts DIR] [--cache DIR] [--append "KERNEL ARGS"]
#   --capture DEST  run tests/tools/capture-sysfs.sh in the guest right after all
#                   drivers are loaded (before any binding) and unpack the tree
#                   into DEST (must not exist or be empty). Without --case, only
#                   the capture runs.
#   --case NAME     run only this case (repeatable, or comma-separated); "all"
#                   runs every case. Default: all. Names: see guest.sh.
#   --vfioctl PATH  the vfioctl binary (absolute host path; the guest runs it
#                   through a chroot into the host root). Default:
#                   <repo>/build/tool/vfioctl
#   --no-iommu      no intel-iommu device and no intel_iommu=on (for the
#                   q35-noiommu fixture; passthrough cases fail by design)
#   --timeout SEC   kill QEMU (by PID) after SEC seconds (default 600)
#   --artifacts DIR copy the guest's work files (vfioctl JSON, QEMU stderr, QMP
#                   replies) into DIR
#   --cache DIR     setup.sh's cache (default ${VFIOCTL_TESTBED_CACHE:-/var/cache/vfioctl-testbed})
#   --disk IMG      attach IMG (raw) to q35's own AHCI controller (00:1f.2; no new PCI device, so
#                   the groups stay): the zero-to-vm system's persistent disk
#   --initrd FILE   boot this initramfs instead of the test bed's own
#   --cmdline ARGS  the kernel command line (the boot loader's, e.g. from grub.cfg) instead of the test
#                   bed's; run.sh adds only vfioctl.out=1 and --append
#   --cpu MODEL     the outer guest's CPU model (default qemu64); e.g. qemu64,-svm: no nested
#                   virtualization at all
#   --topology 2node-smt  the outer guest gets 2 sockets x 2 cores x 2 threads on two NUMA nodes (CPUs
#                   0-3 node 0, 4-7 node 1, memory split): the real kernel topology the multi-VM case needs
#   --layout renumbered  add a card upstream of the others (a root port at 00:0f.0 with a
#                   pvpanic-pci behind it): every bus number below shifts by one while the
#                   topology paths stay (the q35-renumbered fixture)
# Exit status: QEMU's (137 when killed on timeout, 2 on usage errors).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CACHE=${VFIOCTL_TESTBED_CACHE:-/var/cache/vfioctl-testbed}
CAPTURE=""
CASES=""
VFIOCTL="$REPO/build/tool/vfioctl"
IOMMU=1
TIMEOUT=600
APPEND=""
ARTIFACTS=""
LAYOUT=""
DISK=""
INITRD=""
CMDLINE=""
CPU=qemu64
SMP=(-smp 2 -m 1G)
usage() { awk 'NR > 2 && /^#/ { sub(/^# ?/, ""); print; next } NR > 2 { exit }' "$0"; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --capture) CAPTURE=${2:?}; shift 2;;
    --case) CASES="${CASES:+$CASES,}${2:?}"; shift 2;;
    --vfioctl) VFIOCTL=${2:?}; shift 2;;
    --no-iommu) IOMMU=0; shift;;
    --timeout) TIMEOUT=${2:?}; shift 2;;
    --cache) CACHE=${2:?}; shift 2;;
    --artifacts) ARTIFACTS=${2:?}; shift 2;;
    --append) APPEND=${2:?}; shift 2;;
    --disk) DISK=${2:?}; shift 2;;
    --initrd) INITRD=${2:?}; shift 2;;
    --cmdline) CMDLINE=${2:?}; shift 2;;
    --cpu) CPU=${2:?}; shift 2;;
    --topology) case "${2:?}" in
        # Intel's vendor: the guest kernel reads SMT from CPUID leaf 0xB (qemu64's AMD vendor would need
        # topoext, which TCG lacks: QEMU warns and the guest sees no siblings)
        2node-smt) CPU=qemu64,vendor=GenuineIntel SMP=(-smp 8,sockets=2,cores=2,threads=2 -m 1G
                        -object memory-backend-ram,id=mem0,size=512M -object memory-backend-ram,id=mem1,size=512M
                        -numa node,nodeid=0,cpus=0-3,memdev=mem0 -numa node,nodeid=1,cpus=4-7,memdev=mem1);;
        *) echo "run.sh: unknown topology '$2'" >&2; usage;;
      esac; shift 2;;
    --layout) LAYOUT=${2:?}; shift 2
      case "$LAYOUT" in renumbered) ;; *) echo "run.sh: unknown layout '$LAYOUT'" >&2; usage;; esac;;
    -h|--help) usage 0;;
    *) echo "run.sh: unknown argument '$1'" >&2; usage;;
  esac
done
if [ -z "$CASES" ]; then
  if [ -n "$CAPTURE" ]; then CASES=none; else CASES=all; fi
fi

[ -f "$CACHE/ready" ] || { echo "run.sh: $CACHE is not set up; run $HERE/setup.sh first" >&2; exit 2; }
KV=$(cat "$CACHE/kernel-version")
KERNEL=$CACHE/vmlinux
[ -f "$KERNEL" ] || KERNEL=$CACHE/kpkg/boot/vmlinuz-$KV
case "$VFIOCTL" in /*) ;; *) VFIOCTL=$(pwd)/$VFIOCTL;; esac
for p in "$HERE" "$VFIOCTL" "${VFIOCTL_E2E_GUEST_SCRIPT:-}"; do
  case "$p" in *[[:space:]]*) echo "run.sh: path '$p' has whitespace (kernel command line)" >&2; exit 2;; esac
done

if [ -n "$CAPTURE" ] && [ -e "$CAPTURE" ] && [ -n "$(ls -A "$CAPTURE" 2>/dev/null)" ]; then
  echo "run.sh: capture destination $CAPTURE exists and is not empty" >&2; exit 2
fi
# The writable "out" share is always attached (also without --capture) so that
# every boot has the same PCI layout, and so the same IOMMU group numbers, as
# the fixtures captured from it.
OUTDIR=$(mktemp -d "${TMPDIR:-/tmp}/vfioctl-e2e-out.XXXXXX")

if [ -n "$CMDLINE" ]; then
  KARGS="$CMDLINE vfioctl.out=1 $APPEND"
else
  KARGS="console=ttyS0 panic=-1 loglevel=4"
  [ "$IOMMU" = 1 ] && KARGS="$KARGS intel_iommu=on iommu=pt"
  GUEST_SCRIPT=${VFIOCTL_E2E_GUEST_SCRIPT:-$HERE/guest.sh}   # override: debugging only
  KARGS="$KARGS vfioctl.script=$GUEST_SCRIPT vfioctl.testdir=$HERE vfioctl.bin=$VFIOCTL"
  KARGS="$KARGS vfioctl.cases=$CASES vfioctl.capture=$([ -n "$CAPTURE" ] && echo 1 || echo 0)"
  KARGS="$KARGS vfioctl.out=1 $APPEND"
fi

RP="x-speed=2_5,x-width=1"   # 2.5 GT/s x1: see README (avoids 2 s link-up waits on bus reset)
ARGS=(
  -accel tcg,thread=multi -machine q35,kernel-irqchip=split -cpu "$CPU" "${SMP[@]}"
  -nodefaults -display none -no-reboot -serial stdio
  -kernel "$KERNEL" -initrd "${INITRD:-$CACHE/initramfs.cpio.gz}" -append "$KARGS"
  -audiodev none,id=snd0
  # 1. boot VGA on the root complex
  -device VGA,bus=pcie.0,addr=0x1
)
# A card added in a slot scanned first renumbers every bus below it (02:00.0 becomes 03:00.0, ...),
# as on a real board when a card goes into a slot ahead of the GPU's.
[ "$LAYOUT" = renumbered ] && ARGS+=(
  -device "pcie-root-port,id=rp0,bus=pcie.0,chassis=6,slot=6,addr=0xf,$RP"
  -device pvpanic-pci,bus=rp0
)
ARGS+=(
  # 2. two identical NICs, each alone behind its own root port
  -device "pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1,addr=0x10,$RP"
  -device e1000e,bus=rp1,mac=52:54:00:e2:e0:01
  -device "pcie-root-port,id=rp2,bus=pcie.0,chassis=2,slot=2,addr=0x11,$RP"
  -device e1000e,bus=rp2,mac=52:54:00:e2:e0:02
  # 3. multi-function "GPU": display at fn 0, HDMI-style audio at fn 1
  -device "pcie-root-port,id=rp3,bus=pcie.0,chassis=3,slot=3,addr=0x12,$RP"
  -device VGA,bus=rp3,addr=0x0.0x0,multifunction=on,id=gpu
  -device ich9-intel-hda,bus=rp3,addr=0x0.0x1,id=gpuaudio
  -device hda-duplex,bus=gpuaudio.0,audiodev=snd0
  # 4. PCIe-to-PCI bridge with two endpoints: one group, neither viable alone
  -device "pcie-root-port,id=rp4,bus=pcie.0,chassis=4,slot=4,addr=0x13,$RP"
  -device pcie-pci-bridge,id=br1,bus=rp4
  -device e1000,bus=br1,addr=0x1,mac=52:54:00:e2:e0:03
  -device virtio-rng-pci,bus=br1,addr=0x2
  # 5. USB controller alone behind a root port
  -device "pcie-root-port,id=rp5,bus=pcie.0,chassis=5,slot=5,addr=0x14,$RP"
  -device qemu-xhci,bus=rp5
  # on-board audio, left on its host driver
  -device ich9-intel-hda,bus=pcie.0,addr=0x1b,id=hda
  -device hda-duplex,bus=hda.0,audiodev=snd0
  # the guest's "disk": the host root, read-only
  -fsdev local,id=fsroot,path=/,security_model=none,readonly=on,multidevs=remap
  -device virtio-9p-pci,fsdev=fsroot,mount_tag=hostroot,bus=pcie.0,addr=0x5
)
[ "$IOMMU" = 1 ] && ARGS+=(-device intel-iommu,intremap=on,caching-mode=on)
[ -n "$DISK" ] && ARGS+=(-drive "file=$DISK,if=none,id=sysdisk,format=raw,cache=unsafe" -device ide-hd,drive=sysdisk,bus=ide.0)
ARGS+=(
  -fsdev "local,id=fsout,path=$OUTDIR,security_model=none"
  -device virtio-9p-pci,fsdev=fsout,mount_tag=out,bus=pcie.0,addr=0x6
)

QPID=""; WPID=""
cleanup() {
  [ -n "$WPID" ] && kill "$WPID" 2>/dev/null || true
  if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
    echo "run.sh: killing QEMU pid $QPID" >&2
    kill -KILL "$QPID" 2>/dev/null || true
  fi
  [ -n "$OUTDIR" ] && rm -rf "$OUTDIR"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

echo "run.sh: qemu-system-x86_64 ${ARGS[*]}"
qemu-system-x86_64 "${ARGS[@]}" </dev/null 2>&1 &
QPID=$!
( s=""; trap '[ -n "$s" ] && kill "$s" 2>/dev/null; exit 0' TERM
  sleep "$TIMEOUT" >/dev/null 2>&1 & s=$!
  wait "$s"
  echo "run.sh: TIMEOUT after ${TIMEOUT}s, killing QEMU pid $QPID" >&2
  kill -KILL "$QPID" 2>/dev/null ) &
WPID=$!
rc=0; wait "$QPID" || rc=$?
QPID=""
kill "$WPID" 2>/dev/null || true; wait "$WPID" 2>/dev/null || true; WPID=""
echo "run.sh: QEMU exited rc=$rc"

if [ -n "$ARTIFACTS" ] && [ -d "$OUTDIR/artifacts" ]; then
  mkdir -p "$ARTIFACTS" && cp -r "$OUTDIR/artifacts/." "$ARTIFACTS/"
fi
if [ -n "$CAPTURE" ]; then
  if [ -s "$OUTDIR/capture.tar" ]; then
    mkdir -p "$CAPTURE"
    tar -xf "$OUTDIR/capture.tar" -C "$CAPTURE" --no-same-owner
    echo "run.sh: capture unpacked into $CAPTURE ($(du -sh "$CAPTURE" | cut -f1))"
  else
    echo "run.sh: no capture.tar came back from the guest" >&2
    [ "$rc" = 0 ] && rc=1
  fi
fi
exit "$rc"
