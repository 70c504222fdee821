#!/bin/sh
# capture-sysfs.sh SRC_ROOT DEST_DIR
#
# Copy the PCI/IOMMU-relevant part of a live /sys, /proc, /etc and /dev under
# SRC_ROOT (normally /) into DEST_DIR, keeping the kernel's layout exactly:
# directories are recreated, symlinks are copied verbatim (relative, as the
# kernel makes them: DEST/sys/bus/pci/devices/X -> ../../../devices/pci0000:00/X),
# readable regular files are copied with their content. The result is a fixture
# for code that reads sysfs relative to a root, and pciutils reads it too:
#   lspci -A linux-sysfs -O sysfs.path=DEST/sys/bus/pci -nnk
#
# - Files that cannot be read (write-only remove/rescan/reset/bind/new_id/...,
#   attributes whose read fails) are created empty. Files that must not be
#   read (resource0..N: reading an I/O BAR does port I/O on the device; rom; vpd
#   and eeprom: slow, device-dependent) are created empty without opening them.
# - Files larger than 64 KiB are cut at 64 KiB (config is at most 4 KiB and is
#   always copied whole).
# - dev/vfio is recreated as empty regular files: it is only a listing.
# - Empty directories (sys/kernel/iommu_groups without an IOMMU, link/, ...)
#   are listed in DEST/.empty-dirs, since git drops them; recreate them with
#   (cd DEST && xargs -r mkdir -p < .empty-dirs)
# - Symlinks whose target is outside the captured part (firmware_node, module,
#   bdi, ...) are kept anyway, dangling, like the kernel tree has them; their
#   number is printed.
#
# POSIX sh; runs under dash/bash with GNU coreutils and under busybox sh. One
# cp per directory (not per file) keeps it fast inside a TCG guest.
# Exit status: 0 on success, 1 on bad usage or when SRC_ROOT has no sys/.
set -eu

CAP=65536
usage() { echo "usage: $0 SRC_ROOT DEST_DIR" >&2; exit 1; }
[ $# -eq 2 ] || usage
SRC=$1
DEST=$2
[ -d "$SRC/sys/devices" ] || { echo "capture-sysfs: $SRC/sys/devices does not exist" >&2; exit 1; }
if [ -e "$DEST" ] && [ -n "$(ls -A "$DEST" 2>/dev/null)" ]; then
  echo "capture-sysfs: $DEST exists and is not empty" >&2; exit 1
fi
mkdir -p "$DEST"
SRC=$(cd "$SRC" && pwd -P)
DEST=$(cd "$DEST" && pwd -P)
case "$DEST/" in "$SRC"/sys/*|"$SRC"/proc/*) echo "capture-sysfs: DEST inside SRC/sys or SRC/proc" >&2; exit 1;; esac
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/capture-sysfs.XXXXXX")
trap 'rm -rf "$TMPD"' EXIT

now() { if [ -r /proc/uptime ]; then cut -d' ' -f1 /proc/uptime; else date +%s; fi; }
T0=$(now)
NDIRS=0 NFILES=0 NEMPTY=0 NLINKS=0 NCUT=0
NL='
'
cd "$SRC"

# Never opened: reading them has side effects or can take long.
skip_name() {
  case "$1" in
    resource[0-9]*|rom|vpd|eeprom|remove|rescan|reset|bind|unbind|new_id|remove_id) return 0;;
  esac
  return 1
}

# copy_entries DIR: copy the non-directory entries of DIR (relative to SRC)
# into DEST/DIR, which must exist. One cp for all symlinks + readable files.
copy_entries() {
  _d=$1
  set --
  for _e in "$_d"/* "$_d"/.[!.]*; do
    if [ -L "$_e" ]; then
      set -- "$@" "$_e"; NLINKS=$((NLINKS + 1))
    elif [ -d "$_e" ]; then
      :
    elif [ -f "$_e" ]; then
      NFILES=$((NFILES + 1))
      if skip_name "${_e##*/}"; then
        : > "$DEST/$_e"; NEMPTY=$((NEMPTY + 1))
      else
        case "$BIG" in
          *"$NL$_e$NL"*)
            head -c "$CAP" < "$_e" > "$DEST/$_e" 2>/dev/null || :
            NCUT=$((NCUT + 1));;
          *) set -- "$@" "$_e";;
        esac
      fi
    elif [ -e "$_e" ]; then   # device node, socket, fifo: a name only
      : > "$DEST/$_e"; NFILES=$((NFILES + 1)); NEMPTY=$((NEMPTY + 1))
    fi
  done
  [ $# -gt 0 ] || return 0
  cp -P "$@" "$DEST/$_d/" 2>/dev/null || :
  for _e in "$@"; do
    if [ ! -e "$DEST/$_e" ] && [ ! -L "$DEST/$_e" ]; then
      : > "$DEST/$_e"; NEMPTY=$((NEMPTY + 1))
    fi
  done
}

# copy_tree PATH: PATH (relative to SRC) with everything below it. Symlinks
# are not followed; a symlink PATH is copied as a link.
copy_tree() {
  _p=$1
  if [ -L "$_p" ]; then
    mkdir -p "$DEST/${_p%/*}"
    cp -P "$_p" "$DEST/$_p"; NLINKS=$((NLINKS + 1))
    return 0
  fi
  [ -d "$_p" ] || return 0
  find "$_p" -type d > "$TMPD/dirs" 2>/dev/null || :
  BIG=$NL$(find "$_p" -type f -size +64k 2>/dev/null || :)$NL
  (cd "$DEST" && tr '\n' '\0' < "$TMPD/dirs" | xargs -0 -r mkdir -p)
  while IFS= read -r _dir; do
    NDIRS=$((NDIRS + 1))
    copy_entries "$_dir"
  done < "$TMPD/dirs"
}

# copy_dir_only DIR: DIR's own files and links, no subdirectories.
copy_dir_only() {
  [ -d "$1" ] && [ ! -L "$1" ] || return 0
  mkdir -p "$DEST/$1"
  BIG=$NL
  NDIRS=$((NDIRS + 1))
  copy_entries "$1"
}

# copy_file PATH: one file, content through cat (follows symlinks: etc/os-release).
copy_file() {
  [ -e "$1" ] || return 0
  mkdir -p "$DEST/${1%/*}"
  head -c "$CAP" < "$1" > "$DEST/$1" 2>/dev/null || :
  NFILES=$((NFILES + 1))
}
# copy_proc PATH: like copy_file, without the cap (cpuinfo of a big machine).
copy_proc() {
  [ -e "$1" ] || return 0
  mkdir -p "$DEST/${1%/*}"
  cat "$1" > "$DEST/$1" 2>/dev/null || :
  NFILES=$((NFILES + 1))
}

# target_of LINK: the link's target as a path relative to SRC (empty if outside).
target_of() {
  _l=$(readlink "$1") || return 0
  case "$_l" in /*) _t=$_l;; *) _t=${1%/*}/$_l;; esac
  _t=$(cd "$_t" 2>/dev/null && pwd -P) || return 0
  if [ "$SRC" = / ]; then echo "${_t#/}"; else case "$_t" in "$SRC"/*) echo "${_t#"$SRC"/}";; esac; fi
}

# --- PCI devices and drivers ----------------------------------------------------
for p in sys/devices/pci*; do copy_tree "$p"; done
copy_tree sys/bus/pci/devices
copy_tree sys/bus/pci/drivers
copy_tree sys/bus/pci/slots
copy_dir_only sys/bus/pci   # drivers_probe, drivers_autoprobe, rescan, ...
# --- IOMMU -------------------------------------------------------------------------
copy_tree sys/kernel/iommu_groups
copy_tree sys/class/iommu
for l in sys/class/iommu/*; do
  [ -L "$l" ] || continue
  t=$(target_of "$l")
  [ -n "$t" ] && copy_tree "$t"
done
# --- classes that lead to PCI devices -------------------------------------------
for c in sys/class/net sys/class/block sys/dev/block sys/class/drm; do copy_tree "$c"; done
copy_tree sys/devices/virtual/net
copy_tree sys/devices/virtual/block
# --- CPUs, NUMA, huge pages ----------------------------------------------------------
copy_dir_only sys/devices/system/cpu
copy_tree sys/devices/system/cpu/smt
for c in sys/devices/system/cpu/cpu[0-9]*; do
  [ -d "$c" ] || continue
  copy_dir_only "$c"
  copy_tree "$c/topology"
  copy_tree "$c/cache"
done
copy_tree sys/devices/system/node
copy_tree sys/kernel/mm/hugepages
# --- firmware identity, module parameters -----------------------------------------
copy_tree sys/class/dmi
if [ -L sys/class/dmi/id ]; then
  t=$(target_of sys/class/dmi/id)
  [ -n "$t" ] && copy_tree "$t"
fi
for m in vfio vfio_pci vfio_iommu_type1 kvm kvm_intel kvm_amd; do
  copy_tree "sys/module/$m/parameters"
done
# --- /proc, /etc, /dev ---------------------------------------------------------------
for f in cmdline self/mountinfo swaps net/route net/ipv6_route cpuinfo meminfo \
         buddyinfo version modules; do
  copy_proc "proc/$f"
done
copy_file etc/os-release
if [ -d dev/vfio ]; then
  mkdir -p "$DEST/dev/vfio"
  for n in dev/vfio/*; do
    [ -e "$n" ] || [ -L "$n" ] || continue
    : > "$DEST/$n"
  done
fi

# --- empty directories: git does not keep them; list them so a checkout can
# recreate them:  (cd DEST && xargs -r mkdir -p < .empty-dirs)
(cd "$DEST" && find sys proc etc dev -type d -empty 2>/dev/null | sort) > "$DEST/.empty-dirs"
[ -s "$DEST/.empty-dirs" ] || rm -f "$DEST/.empty-dirs"

# --- dangling symlinks --------------------------------------------------------------
NDANGLE=0
(cd "$DEST" && find . -type l) > "$TMPD/links"
while IFS= read -r l; do
  [ -e "$DEST/$l" ] || NDANGLE=$((NDANGLE + 1))
done < "$TMPD/links"

T1=$(now)
echo "capture-sysfs: $SRC -> $DEST: $NDIRS dirs, $NFILES files ($NEMPTY created empty, $NCUT over 64 KiB by stat read up to 64 KiB), $NLINKS symlinks ($NDANGLE dangling: target outside the capture), $(awk -v a="$T0" -v b="$T1" 'BEGIN{printf "%.1f", b - a}')s"
