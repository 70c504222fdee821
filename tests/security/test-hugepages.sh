#!/bin/bash
# The VM user attacks root through the hugepage directory: root's vfioctl start opens [memory]
# hugepage_path and fills the guest RAM there before QEMU runs (lib/run/prealloc.c). A real unprivileged
# user A (the VM user) owns a directory on that path and plants a symbolic link in it to a directory only
# root can enter, holding a hugetlbfs mount of root's. Root must not follow it: no page of root's mount is
# taken for A's guest, and the VM's log says why vfioctl left the allocation to QEMU (which, as A, cannot
# enter root's directory). Then, with a real directory on the path, the same start fills the guest RAM:
# the refusal is not a prealloc that cannot pass.
set -u
BIN=${VFIOCTL_BIN:?VFIOCTL_BIN not set (run through meson test)}
N=0; FAILED=0
ok() { N=$((N + 1)); echo "ok $N - $1"; }
bad() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $1"; }
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root (real users, hugetlbfs mounts, root's start)"; exit 77; }
command -v qemu-system-x86_64 > /dev/null || { echo "1..0 # SKIP qemu-system-x86_64 missing"; exit 77; }
HFREE=/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages
[ -r "$HFREE" ] || { echo "1..0 # SKIP no 2 MiB hugepages in this kernel"; exit 77; }

T=$(mktemp -d /tmp/vfioctl-sec-huge.XXXXXX)
chmod 755 "$T"
A=vfsh-$$
HUGE_ADDED=0
cleanup() {
  if [ -f "$T/run/vfioctl/hp/status" ]; then
    p=$(sed -n 's/^pid=//p' "$T/run/vfioctl/hp/status"); [ "${p:-0}" -gt 0 ] && kill -9 "$p" 2>/dev/null
    s=$(sed -n 's/^supervisor=//p' "$T/run/vfioctl/hp/status"); [ "${s:-0}" -gt 0 ] && kill -9 "$s" 2>/dev/null
  fi
  sleep 0.3
  mountpoint -q "$T/root/huge" 2>/dev/null && umount "$T/root/huge"
  [ "$HUGE_ADDED" -gt 0 ] && echo $(( $(cat /proc/sys/vm/nr_hugepages) - HUGE_ADDED )) > /proc/sys/vm/nr_hugepages
  userdel "$A" 2>/dev/null; groupdel "$A" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$A" || { echo "1..0 # SKIP useradd failed"; exit 77; }
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --init-groups "$@"; }

# Root's hugetlbfs (32 pages of 2 MiB, counted on the mount: other tests change the host's pool meanwhile)
# in a directory only root can enter.
if [ "$(cat $HFREE)" -lt 32 ]; then
  HUGE_ADDED=$(( 32 - $(cat $HFREE) ))
  echo $(( $(cat /proc/sys/vm/nr_hugepages) + HUGE_ADDED )) > /proc/sys/vm/nr_hugepages
fi
mkdir -p "$T/root/huge" && chmod 700 "$T/root"
if [ "$(cat $HFREE)" -lt 32 ] || ! mount -t hugetlbfs -o pagesize=2M,mode=1777,size=64M none "$T/root/huge"; then
  echo "1..0 # SKIP could not reserve 32 free 2 MiB hugepages or mount hugetlbfs"; exit 77
fi
# The fixture's pool under --root: preflight finds the pages it needs.
HP=$T/sys/kernel/mm/hugepages/hugepages-2048kB
mkdir -p "$HP" && echo 32 > "$HP/nr_hugepages" && echo 32 > "$HP/free_hugepages"

# A's own directory on the path, and A's link in it to root's directory.
mkdir "$T/u" && chown "$A:$A" "$T/u" && chmod 755 "$T/u"
as "$A" ln -s "$T/root" "$T/u/hp"

mkdir -p "$T/vms" && chmod 755 "$T/vms"
CONF=$T/vms/hp.conf
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
hugepages = 2M
hugepage_path = $T/u/hp/huge
prealloc_threads = 1
EOF
free_blocks() { stat -f -c %f "$T/root/huge"; }

# 1. The planted link: root follows none of it.
before=$(free_blocks)
timeout 120 "$BIN" --root "$T" start "$CONF" --detach --paused > "$T/out" 2>&1; rc=$?
during=$(free_blocks)
sed 's/^/# /' "$T/out"
sed 's/^/# log: /' "$T/run/vfioctl/hp/log" 2>/dev/null
if [ "$during" = "$before" ] && ! grep -q "hugepages allocated by" "$T/run/vfioctl/hp/log" 2>/dev/null; then
  ok "a link planted by $A on the hugepage path: no page of root's mount taken (free $before -> $during, start rc=$rc)"
else
  bad "root followed $A's link: free pages of root's mount $before -> $during, start rc=$rc"
fi
if grep -q "guest RAM: allocated by QEMU (the hugepage directory's path has a symbolic link)" "$T/run/vfioctl/hp/log" 2>/dev/null ||
   grep -q "symbolic link" "$T/out"; then
  ok "the refusal names the symbolic link"
else
  bad "no word of the symbolic link in the output or the VM's log"
fi
[ -L "$T/u/hp" ] && ok "the link is still a link (root neither followed nor replaced it)" || bad "the link was replaced"
"$BIN" --root "$T" stop hp --force > /dev/null 2>&1
rm -rf "$T/run/vfioctl/hp"

# 2. A real directory on the path (root's, open to A): the same start fills the guest RAM itself.
chmod 755 "$T/root"
sed -i "s|^hugepage_path = .*|hugepage_path = $T/root/huge|" "$CONF"
before=$(free_blocks)
timeout 120 "$BIN" --root "$T" start "$CONF" --detach --paused > "$T/out" 2>&1; rc=$?
during=$(free_blocks)
sed 's/^/# /' "$T/out"
if [ $rc = 0 ] && [ "$during" -eq $(( before - 32 )) ] &&
   grep -q "guest RAM: 64 MiB of 2048 KiB hugepages allocated by 1 thread" "$T/run/vfioctl/hp/log"; then
  ok "with no link on the path, start allocates the 32 pages itself (free $before -> $during)"
else
  bad "the clean start: rc=$rc, free $before -> $during"
fi
"$BIN" --root "$T" stop hp --force > /dev/null 2>&1
echo "1..$N"
[ $FAILED = 0 ]
