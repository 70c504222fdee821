#!/bin/bash
# Issue 15 item 3: vfioctl installed setuid root, run by an ordinary user (made by this test). It must act
# with that user's rights only: every path the user names is opened as the user, so root-only files are
# neither written (import-libvirt -o, create --output, export-libvirt -o) nor read (cmdline, validate),
# and the verbs that need root refuse as for any user. docs/SECURITY.md, "Installed setuid".
set -u
BIN=${VFIOCTL_BIN:?VFIOCTL_BIN not set (run through meson test)}
DATA=${VFIOCTL_TEST_DATA:?VFIOCTL_TEST_DATA not set}
FAILS=0 CHECKS=0
ok() { CHECKS=$((CHECKS + 1)); echo "ok $CHECKS - $1"; }
bad() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "not ok $CHECKS - $1"; }

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root (it installs a setuid copy and creates a user)"; exit 77; }
command -v useradd > /dev/null && command -v setpriv > /dev/null || { echo "1..0 # SKIP useradd/setpriv missing"; exit 77; }
U=vfsuid$$
T=$(mktemp -d /tmp/vfioctl-setuid.XXXXXX)
chmod 0755 "$T"
trap 'userdel "$U" > /dev/null 2>&1; rm -rf "$T"' EXIT
useradd --system --no-create-home --user-group --shell /usr/sbin/nologin "$U" || { echo "1..0 # SKIP useradd failed"; exit 77; }
cp "$BIN" "$T/vfioctl" && chown root:root "$T/vfioctl" && chmod 04755 "$T/vfioctl"
as_user() { (cd "$T/home" && setpriv --reuid="$U" --regid="$U" --clear-groups -- env -i PATH=/usr/bin:/bin HOME="$T/home" "$T/vfioctl" "$@"); }
mkdir -p "$T/home" && chown "$U:$U" "$T/home"
# The sanitizer runtime refuses to start setuid (its options come from the environment); the -Werror build
# of the same CI run makes these checks.
if ! as_user --version > /dev/null 2>&1; then
  echo "1..0 # SKIP this build does not run setuid (sanitizer runtime)"; exit 77
fi

# Root's: a directory only root can write (with a file the user can read but not write) and one only root
# can read (a config holding a value the user must not learn).
mkdir -p "$T/rootonly" "$T/private" && chmod 0755 "$T/rootonly" && chmod 0700 "$T/private"
printf 'root file\n' > "$T/rootonly/file" && chmod 0644 "$T/rootonly/file"
SECRET="secretvalue$$"
printf '[vm]\naccel = tcg\nkernel = /boot/vmlinuz\nappend = console=ttyS0 %s\n[firmware]\ntype = seabios\n[cpu]\nmodel = qemu64\n[memory]\nsize = 128M\n' "$SECRET" > "$T/private/vm.conf"
chmod 0600 "$T/private/vm.conf"
cp "$T/private/vm.conf" "$T/home/mine.conf" && chown "$U:$U" "$T/home/mine.conf"
XML=$DATA/libvirt/seed000-edi.xml
cp "$XML" "$T/home/in.xml" && chown "$U:$U" "$T/home/in.xml"
sum0=$(sha256sum < "$T/rootonly/file")

as_user import-libvirt "$T/home/in.xml" -o "$T/rootonly/file" --force > "$T/out" 2>&1; rc=$?
if [ $rc != 0 ] && [ "$(sha256sum < "$T/rootonly/file")" = "$sum0" ]; then ok "import-libvirt -o a root-only file --force is refused (rc=$rc), the file unchanged"
else bad "import-libvirt -o replaced a root-only file (rc=$rc): $(head -2 "$T/out" | tr '\n' ' ')"; fi
as_user import-libvirt "$T/home/in.xml" -o "$T/rootonly/new.conf" > "$T/out" 2>&1; rc=$?
if [ $rc != 0 ] && [ ! -e "$T/rootonly/new.conf" ]; then ok "import-libvirt -o into a root-only directory is refused (rc=$rc)"
else bad "import-libvirt -o wrote into a root-only directory (rc=$rc)"; fi
as_user create vmx --memory 2G --cpus 1 --output "$T/rootonly/vmx.conf" > "$T/out" 2>&1; rc=$?
if [ $rc != 0 ] && [ ! -e "$T/rootonly/vmx.conf" ]; then ok "create --output into a root-only directory is refused (rc=$rc)"
else bad "create --output wrote into a root-only directory (rc=$rc)"; fi
as_user export-libvirt "$T/home/mine.conf" -o "$T/rootonly/vm.xml" > "$T/out" 2>&1; rc=$?
if [ $rc != 0 ] && [ ! -e "$T/rootonly/vm.xml" ]; then ok "export-libvirt -o into a root-only directory is refused (rc=$rc)"
else bad "export-libvirt -o wrote into a root-only directory (rc=$rc)"; fi
for verb in cmdline validate export-libvirt; do
  as_user "$verb" "$T/private/vm.conf" > "$T/out" 2>&1; rc=$?
  if [ $rc != 0 ] && ! grep -q "$SECRET" "$T/out"; then ok "$verb of a config only root can read is refused (rc=$rc), nothing of it printed"
  else bad "$verb printed a root-only config (rc=$rc): $(head -2 "$T/out" | tr '\n' ' ')"; fi
done
# What the caller may do still works: their own files, as themselves.
as_user cmdline "$T/home/mine.conf" > "$T/out" 2>&1; rc=$?
if [ $rc = 0 ] && grep -q "$SECRET" "$T/out"; then ok "cmdline of the caller's own config works"; else bad "cmdline of the caller's own config failed (rc=$rc): $(head -2 "$T/out" | tr '\n' ' ')"; fi
as_user import-libvirt "$T/home/in.xml" -o "$T/home/out.conf" > "$T/out" 2>&1; rc=$?
if [ $rc = 0 ] && [ "$(stat -c %U "$T/home/out.conf" 2> /dev/null)" = "$U" ]; then ok "import-libvirt -o the caller's own directory works, the file is the caller's"
else bad "import-libvirt -o into the caller's directory (rc=$rc, owner $(stat -c %U "$T/home/out.conf" 2> /dev/null)): $(head -2 "$T/out" | tr '\n' ' ')"; fi
as_user create vmown --memory 2G --cpus 1 --output "$T/home/vmown.conf" > "$T/out" 2>&1; rc=$?
if [ $rc = 0 ] && [ "$(stat -c %U "$T/home/vmown.conf" 2> /dev/null)" = "$U" ]; then ok "create --output writes as the caller (the file is the caller's, not root's)"
else bad "create --output under setuid (rc=$rc, owner $(stat -c %U "$T/home/vmown.conf" 2> /dev/null)): $(head -2 "$T/out" | tr '\n' ' ')"; fi
# Root's verbs (bind, setup) are not run here: on code that keeps root they would change this host. Their
# euid checks see the caller's uid once the drop above is proven by the files' owners.

echo "1..$CHECKS"
[ "$FAILS" = 0 ]
