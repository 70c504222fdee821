#!/bin/sh
# capture-input.sh SRC_ROOT DEST_DIR
#
# Copies the input part of a live /sys under SRC_ROOT into DEST_DIR with the kernel's
# layout: sys/class/input/* symlinks verbatim, and for every input device they point
# into, its own attribute files (name, phys, uniq, properties, id/*, capabilities/*,
# uevent) and its eventN / mouseN children's dev + uevent files, plus their `device`
# and `subsystem` links. dev/input is recreated as empty files (a listing; udev's
# by-id/by-path links are symlinks copied verbatim where they exist).
# Used for tests/data/input/ (from the emulated-IOMMU test bed guest, see its README).
# POSIX sh, busybox-compatible.
set -eu
[ $# -eq 2 ] || { echo "usage: $0 SRC_ROOT DEST_DIR" >&2; exit 1; }
SRC=${1%/}; DEST=$2
[ -d "$SRC/sys/class/input" ] || { echo "capture-input: no $SRC/sys/class/input" >&2; exit 1; }
mkdir -p "$DEST/sys/class/input"

copy_files() { # DIR: regular files of DIR (not recursive) into DEST
  mkdir -p "$DEST/$1"
  for f in "$SRC/$1"/*; do
    [ -f "$f" ] && [ ! -L "$f" ] && [ -r "$f" ] && cat "$f" > "$DEST/$1/${f##*/}" 2>/dev/null || true
  done
}
copy_link() { # PATH: a symlink, verbatim
  mkdir -p "$DEST/$(dirname "$1")"
  ln -sfn "$(readlink "$SRC/$1")" "$DEST/$1"
}

n=0
for l in "$SRC"/sys/class/input/*; do
  name=${l##*/}
  copy_link "sys/class/input/$name"
  # sys/class/input/event3 -> ../../devices/virtual/input/input5/event3
  t=$(cd "$SRC/sys/class/input" && cd "$(readlink "$name")" && pwd -P)
  rel=${t#"$(cd "$SRC" && pwd -P)"/}
  copy_files "$rel"
  for k in device subsystem; do [ -L "$SRC/$rel/$k" ] && copy_link "$rel/$k"; done
  case "$name" in
    input*)
      for d in id capabilities; do [ -d "$SRC/$rel/$d" ] && copy_files "$rel/$d"; done
      n=$((n + 1));;
  esac
done
mkdir -p "$DEST/dev/input"
for f in "$SRC"/dev/input/*; do
  [ -c "$f" ] && : > "$DEST/dev/input/${f##*/}"
done
for sub in by-id by-path; do
  [ -d "$SRC/dev/input/$sub" ] || continue
  for f in "$SRC/dev/input/$sub"/*; do [ -L "$f" ] && copy_link "dev/input/$sub/${f##*/}"; done
done
echo "capture-input: $n input devices from ${SRC:-/} into $DEST"
