#!/bin/bash
# The VM user attacks root through the Looking Glass file: /dev/shm is world-writable (sticky), and root's
# vfioctl start creates, chowns, chmods and sizes a file there. A real unprivileged user A (the VM user)
# plants a symbolic link to a root-owned file, a hard link, a FIFO, a directory link; another user B's
# file sits at the name. Each start fails its preflight naming what it found, QEMU never starts, and
# nothing outside changes (owner, mode, size and content of every target compared before and after).
# Then, with the name free, the same start succeeds: the refusals are not a start that cannot pass.
set -u
BIN=${VFIOCTL_BIN:?VFIOCTL_BIN not set (run through meson test)}
N=0; FAILED=0
ok() { N=$((N + 1)); echo "ok $N - $1"; }
bad() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $1"; }
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root (real users, root's start)"; exit 77; }
command -v qemu-system-x86_64 > /dev/null || { echo "1..0 # SKIP qemu-system-x86_64 missing"; exit 77; }

T=$(mktemp -d /tmp/vfioctl-sec-shm.XXXXXX)
chmod 755 "$T"
A=vfsa-$$
B=vfsb-$$
SHM=/dev/shm/vfioctl-shmatk-$$
cleanup() {
  if [ -f "$T/run/vfioctl/atk/status" ]; then
    p=$(sed -n 's/^pid=//p' "$T/run/vfioctl/atk/status"); [ "${p:-0}" -gt 0 ] && kill -9 "$p" 2>/dev/null
    s=$(sed -n 's/^supervisor=//p' "$T/run/vfioctl/atk/status"); [ "${s:-0}" -gt 0 ] && kill -9 "$s" 2>/dev/null
  fi
  sleep 0.3
  rm -rf "$SHM" "$SHM-dir"
  userdel "$A" 2>/dev/null; userdel "$B" 2>/dev/null
  groupdel "$A" 2>/dev/null; groupdel "$B" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$A" || { echo "1..0 # SKIP useradd failed"; exit 77; }
useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$B" || { echo "1..0 # SKIP useradd failed"; exit 77; }
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --init-groups "$@"; }

# The root-owned file the attacker wants root to hand over (chown), open up (chmod) or wipe (truncate).
SECRET=$T/secret
printf 'root only\n' > "$SECRET" && chmod 0600 "$SECRET"
# Owner, mode, size, links, type, and the content of a regular file (a FIFO is never opened: that blocks),
# on one line: it goes into a TAP result line.
fingerprint() {
  local s h=
  s=$(stat -c '%u:%g %a %s %h %F' "$1" 2>&1)
  [ -f "$1" ] && ! [ -L "$1" ] && h=$(sha256sum < "$1" 2>&1 | cut -c1-16)
  echo "$s${h:+ $h}"
}
mkdir -p "$T/vms" && chmod 755 "$T/vms"
CONF=$T/vms/atk.conf
cat > "$CONF" <<EOF
[vm]
accel = tcg
user = $A
[firmware]
type = seabios
[cpu]
model = qemu64
cores = 1
[memory]
size = 64M
[looking-glass]
width = 320
height = 200
path = $SHM
EOF

attempt() { # DESCRIPTION EXPECTED-MESSAGE FILE-THAT-MUST-NOT-CHANGE
  local before after rc
  before=$(fingerprint "$3")
  timeout 60 "$BIN" --root "$T" start "$CONF" --detach > "$T/out" 2>&1; rc=$?
  after=$(fingerprint "$3")
  sed 's/^/# /' "$T/out"
  if [ $rc = 69 ] && grep -q -- "$2" "$T/out" && [ "$before" = "$after" ] && ! [ -s "$T/run/vfioctl/atk/pid" ]; then
    ok "$1: start refused (exit 69, '$2'), $3 unchanged ($after), no QEMU"
  else
    bad "$1: rc=$rc, before '$before', after '$after'"
  fi
}

# 1. A symbolic link to root's file.
as "$A" ln -s "$SECRET" "$SHM"
attempt "a link planted by $A to a root-owned file" "is a symbolic link" "$SECRET"
[ -L "$SHM" ] && ok "the link is still a link (root neither followed nor replaced it)" || bad "the link was replaced"
rm -f "$SHM"

# 2. A hard link to root's file: fs.protected_hardlinks stops A first; if it did not, start must.
if as "$A" ln "$SECRET" "$SHM" 2>/dev/null; then
  attempt "a hard link planted by $A to a root-owned file" "links) is not the VM user's" "$SECRET"
else
  echo "# the kernel refused $A a hard link to root's file (fs.protected_hardlinks = $(cat /proc/sys/fs/protected_hardlinks))"
fi
rm -f "$SHM"
# ... and to a file of A's own: two names for one file, not the file start made
as "$A" sh -c "printf 'mine\n' > '$SHM.own' && ln '$SHM.own' '$SHM'"
attempt "a hard link planted by $A (2 links)" "2 links) is not the VM user's" "$SHM.own"
rm -f "$SHM" "$SHM.own"

# 3. Another user's file at the name: never handed to A.
as "$B" sh -c "printf 'b data\n' > '$SHM' && chmod 0600 '$SHM'"
attempt "a file of $B at the name" "is not the VM user's" "$SHM"
rm -f "$SHM"

# 4. A FIFO: looked at, never opened (an open could block root).
as "$A" mkfifo "$SHM"
attempt "a FIFO planted by $A" "is not a regular file" "$SHM"
rm -f "$SHM"

# 5. A directory on the way that is a link (to a directory root owns).
as "$A" ln -s "$T" "$SHM-dir"
sed -i "s|^path = .*|path = $SHM-dir/secret|" "$CONF"
attempt "a directory link planted by $A on the way" "is a symbolic link" "$SECRET"
sed -i "s|^path = .*|path = $SHM|" "$CONF"
rm -f "$SHM-dir"

# 6. Nothing planted: the same start passes its preflight and the file is A's, 0660, 16 MiB.
timeout 120 "$BIN" --root "$T" start "$CONF" --detach --paused > "$T/out" 2>&1; rc=$?
sed 's/^/# /' "$T/out"
got=$(stat -c '%U:%G %a %s %h' "$SHM" 2>&1)
if [ $rc = 0 ] && [ "$got" = "$A:$A 660 16777216 1" ]; then
  ok "with the name free, start runs and makes the file $got"
else
  bad "the clean start: rc=$rc, file '$got'"
fi
"$BIN" --root "$T" stop atk --force > /dev/null 2>&1
echo "1..$N"
[ $FAILED = 0 ]
