#!/bin/bash
# test-looking-glass.sh VFIOCTL -- Looking Glass memory shared by the VM user's QEMU and the desktop user.
#
# Two users made here: D (the desktop user, who would run looking-glass-client) and V (QEMU's user). check
# --vm names a missing file and a file of the wrong size; start (as root) makes it V's, of D's group, 0660,
# of the region's size, and prints the client command; the guest writes a marker into the IVSHMEM BAR with
# devmem, which D reads by mapping the file, and D's answer written into the file is seen by the guest and
# by QMP's pmemsave of the BAR: the two users share the memory, and nobody else can open it. Needs root.
set -uo pipefail

VFIOCTL=${1:?usage: test-looking-glass.sh VFIOCTL}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/media-guest.sh"
N=0; FAILED=0
ok() { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $*"; }
check() {
  local d=$1 r=0; shift
  "$@" > "$T/check.out" 2>&1 || r=1
  sed 's/^/# /' "$T/check.out" | head -40
  if [ $r = 0 ]; then ok "$d"; else not_ok "$d"; fi
}
skip_all() { echo "1..0 # SKIP $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip_all "needs root (two users, a VM dropped to one of them)"
for p in qemu-system-x86_64 jq setpriv useradd python3 cpio; do
  command -v "$p" > /dev/null || skip_all "$p missing (scripts/install-deps.sh installs it)"
done
media_guest_find || skip_all "no guest kernel (run vfioctl demo once, or tests/vfio-e2e/setup.sh)"

T=$(mktemp -d /tmp/vfioctl-lg.XXXXXX)
chmod 755 "$T"
D=vflg-d$$
V=vflg-v$$
SHM=/dev/shm/vfioctl-lgtest-$$
MARK=$(printf '%08x' $(( (RANDOM << 16) ^ RANDOM ^ $$ )))
V_() { "$VFIOCTL" --root "$T" "$@"; }
cleanup() {
  if [ -f "$T/run/vfioctl/lg/status" ]; then
    p=$(sed -n 's/^pid=//p' "$T/run/vfioctl/lg/status"); [ "${p:-0}" -gt 0 ] && kill -9 "$p" 2>/dev/null
    s=$(sed -n 's/^supervisor=//p' "$T/run/vfioctl/lg/status"); [ "${s:-0}" -gt 0 ] && kill -9 "$s" 2>/dev/null
  fi
  sleep 0.5
  rm -f "$SHM"
  userdel "$V" 2>/dev/null; userdel "$D" 2>/dev/null
  groupdel "$V" 2>/dev/null; groupdel "$D" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

useradd --user-group --no-create-home --shell /bin/sh "$D" || skip_all "useradd $D failed"
useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$V" || skip_all "useradd $V failed"

# The guest: find the ivshmem-plain device (1af4:1110), write a marker into its BAR 2 (the shared memory,
# QEMU's docs/specs/ivshmem-spec.rst), then wait for the word the desktop user writes after it.
INIT="#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
for d in /sys/bus/pci/devices/*; do
  [ \"\$(cat \$d/vendor)\" = 0x1af4 ] && [ \"\$(cat \$d/device)\" = 0x1110 ] && dev=\$d
done
bar=\$(sed -n 3p \$dev/resource | cut -d' ' -f1)
echo \"LG-BAR2 \$((bar))\"
devmem \$((bar)) 32 0x474c4656
devmem \$((bar + 4)) 32 0x$MARK
echo LG-WRITTEN
i=0; while [ \$i -lt 1200 ]; do v=\$(devmem \$((bar + 8)) 32); [ \"\$v\" != 0x00000000 ] && break; sleep 0.1; i=\$((i + 1)); done
echo \"LG-SEEN \$v\"
while :; do sleep 60; done"
media_guest_build "$T/guest.cpio" "$INIT" "$HERE/guest-tone.c" || skip_all "cannot build the guest (a C compiler with static libc)"
mkdir -p "$T/vms" && chmod 755 "$T/vms"
CONF=$T/vms/lg.conf
cat > "$CONF" <<EOF
[vm]
accel = tcg
user = $V
desktop_user = $D
kernel = $GUEST_KERNEL
initrd = $T/guest.cpio
append = console=ttyS0 quiet panic=-1
[firmware]
type = seabios
[cpu]
model = qemu64
cores = 1
[memory]
size = 256M
# 320x200: 320*200*4*2 + 10 MiB, rounded up to a power of two: 16 MiB
[looking-glass]
width = 320
height = 200
path = $SHM
EOF
SIZE=$((16 << 20))
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --init-groups env -i PATH=/usr/bin:/bin "$@"; }
lg_check() { "$VFIOCTL" check --vm "$CONF" --no-probe --json 2> /dev/null |
  jq -r '.checks[] | select(.id == "looking-glass.memory") | "\(.status)\t\(.evidence)\t\(.fix)"'; }
wait_for() { local n=$(( $1 * 10 )); shift; for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }

# --- 1. check --vm names a missing file and one of the wrong size -------------------------------------
rm -f "$SHM"
R=$(lg_check); echo "# $R"
check "check --vm: a missing file fails, named, with setup --vm and tmpfiles as the fix" \
  bash -c "[[ \"\$1\" == fail*'dev/shm/vfioctl-lgtest-$$: does not exist'*'vfioctl setup --vm'*'systemd-tmpfiles --create'* ]]" _ "$R"
install -o "$V" -g "$D" -m 0660 /dev/null "$SHM" && truncate -s 1M "$SHM"
R=$(lg_check); echo "# $R"
check "check --vm: a 1 MiB file for a 16 MiB region fails, with its size named" \
  bash -c "[[ \"\$1\" == fail*'1048576 bytes; the VM'\\''s region is 16777216 bytes'* ]]" _ "$R"

# --- 2. start prepares it and prints the client command -----------------------------------------------
V_ start "$CONF" --detach > "$T/start.out" 2>&1; rc=$?
sed 's/^/# /' "$T/start.out"
check "start --detach exits 0" [ $rc = 0 ]
check "start prints the client command for $D" grep -q "Looking Glass: as $D, run: looking-glass-client -f $SHM\$" "$T/start.out"
check "the file is $V's, of $D's group, mode 0660, 16 MiB (stat)" \
  [ "$(stat -c '%U:%G %a %s %F' "$SHM")" = "$V:$D 660 $SIZE regular file" ]
R=$(lg_check); echo "# $R"
check "check --vm: the memory passes now" bash -c "[[ \"\$1\" == pass* ]]" _ "$R"
check "nobody (not in $D's group) cannot open it" \
  bash -c "! setpriv --reuid=65534 --regid=65534 --clear-groups python3 -c 'open(\"$SHM\", \"rb\")' 2>/dev/null"

# --- 3. the two users share it --------------------------------------------------------------------------
CON=$T/run/vfioctl/lg/qemu/console.log
if wait_for 180 grep -q LG-WRITTEN "$CON"; then
  ok "the guest wrote its marker into the IVSHMEM BAR (devmem)"
else
  not_ok "the guest wrote its marker into the IVSHMEM BAR"; sed 's/^/# /' "$CON" | tail -20
fi
BAR=$(sed -n 's/^LG-BAR2 \([0-9]*\).*/\1/p' "$CON" | head -1)
echo "# BAR 2 at ${BAR:-?}, marker 0x$MARK"
# As the desktop user, as looking-glass-client does: map the file and read; then write an answer.
as "$D" python3 - "$SHM" "$MARK" > "$T/desk.out" 2>&1 <<'EOF'
import mmap, struct, sys
with open(sys.argv[1], "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
    magic, mark = struct.unpack_from("<4sI", m, 0)
    print("read", magic, hex(mark))
    ok = magic == b"VFLG" and mark == int(sys.argv[2], 16)
    struct.pack_into("<I", m, 8, 0xd0e5c0de)
    m.flush()
    sys.exit(0 if ok else 1)
EOF
rc=$?
sed 's/^/# /' "$T/desk.out"
check "$D maps the file and reads the guest's marker (VFLG, 0x$MARK)" [ $rc = 0 ]
check "the guest sees the word $D wrote into the file (LG-SEEN 0xD0E5C0DE)" wait_for 60 grep -q "LG-SEEN 0xD0E5C0DE" "$CON"
if [ -n "$BAR" ]; then
  V_ qmp lg "{\"execute\":\"pmemsave\",\"arguments\":{\"val\":$BAR,\"size\":4096,\"filename\":\"$T/run/vfioctl/lg/qemu/bar.bin\"}}" > "$T/qmp.out" 2>&1
  sed 's/^/# /' "$T/qmp.out"
  check "QMP pmemsave of the BAR equals the file's first 4 KiB" cmp -n 4096 "$T/run/vfioctl/lg/qemu/bar.bin" "$SHM"
else
  not_ok "QMP pmemsave of the BAR (no BAR address from the guest)"
fi
V_ stop lg --force > /dev/null 2>&1
echo "1..$N"
[ $FAILED = 0 ]
