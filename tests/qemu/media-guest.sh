# media-guest.sh -- sourced by test-audio.sh and test-looking-glass.sh: the demo guest (Debian's kernel and
# busybox, from the cache `vfioctl demo` and the VFIO test bed fill) with an /init of the test's own, the
# sound modules and guest-tone (a static program that plays a tone through the kernel's ALSA ioctls).
#
# media_guest_find: sets GUEST_KERNEL, GUEST_BUSYBOX, GUEST_MODDIR or returns 1.
# media_guest_build OUT INIT_TEXT TONE_SRC: writes an initramfs (newc cpio) to OUT.

media_guest_find() {
  local c kv
  for c in "${VFIOCTL_TESTBED_CACHE:-/var/cache/vfioctl-testbed}" /var/cache/vfioctl/demo \
           "${XDG_CACHE_HOME:-$HOME/.cache}/vfioctl/demo"; do
    [ -x "$c/bb/bin/busybox" ] || continue
    kv=$(ls "$c/kpkg/lib/modules" 2>/dev/null | head -1)
    [ -n "$kv" ] || continue
    # the test bed's raw vmlinux boots without decompression (PVH); the package's vmlinuz works too
    if [ -r "$c/vmlinux" ]; then GUEST_KERNEL=$c/vmlinux; else GUEST_KERNEL=$c/kpkg/boot/vmlinuz-$kv; fi
    [ -r "$GUEST_KERNEL" ] || continue
    GUEST_BUSYBOX=$c/bb/bin/busybox
    GUEST_MODDIR=$c/kpkg/lib/modules/$kv
    return 0
  done
  return 1
}

# Copies a module and what modules.dep says it needs, keeping the kernel's layout so busybox modprobe
# resolves them from the copied modules.dep.
media_guest_modules() { # ROOT MODULE...
  local root=$1 m line f kv
  shift
  kv=$(basename "$GUEST_MODDIR")
  for m in "$@"; do
    line=$(grep -E "/$m\.ko(\.xz|\.zst)?:" "$GUEST_MODDIR/modules.dep") || return 1
    for f in ${line%%:*} ${line#*:}; do
      mkdir -p "$root/lib/modules/$kv/$(dirname "$f")"
      cp "$GUEST_MODDIR/$f" "$root/lib/modules/$kv/$f" || return 1
    done
  done
  grep -E '^kernel/(sound|drivers/leds)/' "$GUEST_MODDIR/modules.dep" > "$root/lib/modules/$kv/modules.dep"
}

media_guest_build() { # OUT INIT_TEXT TONE_SRC
  local out=$1 init=$2 tone=$3 root
  root=$(mktemp -d "${out}.root.XXXXXX") || return 1
  mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp"
  cp "$GUEST_BUSYBOX" "$root/bin/busybox" || return 1
  "${CC:-cc}" -static -O2 -o "$root/bin/guest-tone" "$tone" || return 1
  # snd-hda-codec-generic drives QEMU's codecs; it must be loaded before the controller probes them
  # (the guest has no /sbin/modprobe for the kernel to load it on demand)
  media_guest_modules "$root" snd-hda-codec-generic snd-hda-intel || return 1
  printf '%s\n' "$init" > "$root/init"
  chmod 755 "$root/init"
  (cd "$root" && find . | cpio -o -H newc --quiet) > "$out" || return 1
  chmod 644 "$out"
  rm -rf "$root"
}
