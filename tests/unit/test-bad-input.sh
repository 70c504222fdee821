#!/bin/bash
# Bad input gets a clear error naming the file, line and fix; never a hang, a silent truncation, a wrong
# exit code, a terminal taken over, or a flood (issue 15 item 6). No root needed.
set -u
BIN=${VFIOCTL_BIN:?VFIOCTL_BIN not set (run through meson test)}
DATA=${VFIOCTL_TEST_DATA:?VFIOCTL_TEST_DATA not set}
T=$(mktemp -d /tmp/vfioctl-bad-input.XXXXXX)
trap 'rm -rf "$T"' EXIT
FAILS=0 CHECKS=0
ok() { CHECKS=$((CHECKS + 1)); echo "ok $CHECKS - $1"; }
bad() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "not ok $CHECKS - $1"; }
V() { timeout -s KILL 20 env NO_COLOR=1 XDG_RUNTIME_DIR="$T/run" XDG_CONFIG_HOME="$T/cfg" "$BIN" "$@"; }
base='[vm]\naccel = tcg\n[cpu]\nmodel = qemu64\n'

# A NUL byte ends the text for C strings: what follows must not be silently dropped.
printf "${base}[memory]\nsize = 2G\0\n[bogus]\nx = 1\n" > "$T/nul.conf"
V validate "$T/nul.conf" > "$T/out" 2>&1; rc=$?
if [ $rc = 65 ] && grep -q "nul.conf:6: a NUL byte" "$T/out"; then ok "a NUL byte is an error with its line (rc=65)"
else bad "a NUL byte: rc=$rc: $(head -2 "$T/out" | tr '\n' ' ')"; fi

# A FIFO (or anything not a regular file) is refused at once, not waited on.
mkfifo "$T/fifo.conf"
V validate "$T/fifo.conf" > "$T/out" 2>&1; rc=$?
if [ $rc != 137 ] && [ $rc != 0 ] && grep -q "not a regular file" "$T/out"; then ok "validate of a FIFO is refused at once (rc=$rc)"
else bad "validate of a FIFO: rc=$rc (137: hung): $(head -2 "$T/out" | tr '\n' ' ')"; fi

# Limits are checked, and stated in the error.
printf "${base}sockets = 16\ncores = 256\nthreads = 2\n" > "$T/cpus.conf"
V validate "$T/cpus.conf" > "$T/out" 2>&1; rc=$?
if [ $rc = 65 ] && grep -q "cpus.conf:.*8192 vCPUs; QEMU's q35 machine takes at most 288" "$T/out"; then ok "sockets x cores x threads over QEMU's limit is refused, with the limit"
else bad "16x256x2 vCPUs: rc=$rc: $(head -2 "$T/out" | tr '\n' ' ')"; fi
printf "${base}[memory]\nsize = 5T\n" > "$T/mem.conf"
V validate "$T/mem.conf" > "$T/out" 2>&1; rc=$?
if [ $rc = 65 ] && grep -q "mem.conf:6: .*to 4T" "$T/out"; then ok "a memory size over 4T names the limit"
else bad "size = 5T: rc=$rc: $(head -2 "$T/out" | tr '\n' ' ')"; fi

# A VM NAME argument that is not a name is a usage error (64), for every verb that takes one.
for v in stop status log console reboot pause resume; do
  V "$v" ../x > "$T/out" 2>&1; rc=$?
  if [ $rc = 64 ] && grep -q "'../x' is not a VM name" "$T/out"; then ok "$v ../x: usage error (64)"
  else bad "$v ../x: rc=$rc: $(head -2 "$T/out" | tr '\n' ' ')"; fi
done
V qmp ../x '{"execute":"query-status"}' > "$T/out" 2>&1; rc=$?
[ $rc = 64 ] && ok "qmp ../x: usage error (64)" || bad "qmp ../x: rc=$rc"

# Names start refuses are refused by validate and cmdline too.
mkdir -p "$T/names"
for n in '..' 'a,b' '-lead' $'new\nline'; do
  printf "$base" > "$T/names/$n.conf"
  for v in validate cmdline; do
    V "$v" "$T/names/$n.conf" > "$T/out" 2>&1; rc=$?
    if [ $rc = 65 ] && grep -q "is not a VM name" "$T/out"; then ok "$v refuses the name '${n//$'\n'/\\n}' (rc=65)"
    else bad "$v of a config named '${n//$'\n'/\\n}': rc=$rc"; fi
  done
done

# Input in messages cannot drive the terminal, and is bounded.
printf "${base}\033]0;pwned\007\033[31mkey = 1\n" > "$T/esc.conf"
V validate "$T/esc.conf" > "$T/out" 2>&1
if ! grep -q $'\033' "$T/out" && ! grep -q $'\007' "$T/out" && grep -qF '\x1b]0;pwned\x07' "$T/out"; then ok "escape bytes in a key are shown escaped, never sent"
else bad "escape bytes reached the terminal: $(head -1 "$T/out" | cat -v)"; fi
{ printf "$base"; head -c 500000 /dev/zero | tr '\0' A; printf ' = 1\n'; } > "$T/long.conf"
V validate "$T/long.conf" > "$T/out" 2>&1; rc=$?; n=$(wc -c < "$T/out")
if [ $rc = 65 ] && [ "$n" -lt 8192 ]; then ok "a 500 KB key gives a bounded error ($n bytes)"; else bad "a 500 KB key: rc=$rc, $n bytes of errors"; fi
{ printf "$base"; for i in $(seq 20000); do printf '[bogus%d]\nx = 1\n' "$i"; done; } > "$T/many.conf"
V validate "$T/many.conf" > "$T/out" 2>&1; rc=$?; n=$(wc -l < "$T/out")
if [ $rc = 65 ] && [ "$n" -le 102 ] && grep -q "more errors not shown" "$T/out"; then ok "20,000 bad sections: $n lines, the rest counted"
else bad "20,000 bad sections: rc=$rc, $n lines"; fi

# bind: a failed rollback is not reported as "put back" (the captured q35 host, drivers_probe unwritable).
cp -a "$DATA/sysfs/q35-viommu" "$T/host" && rm -f "$T/host/sys/bus/pci/drivers_probe" && mkdir "$T/host/sys/bus/pci/drivers_probe"
V --root "$T/host" bind 02:00.0 > "$T/out" 2>&1; rc=$?
if [ $rc != 0 ] && grep -q "putting back 0000:02:00.0 failed too.*run: vfioctl unbind 0000:02:00.0" "$T/out" && ! grep -q "were put back" "$T/out"; then
  ok "bind whose rollback failed says which device was not put back, and the command"
else bad "bind with a failed rollback: rc=$rc: $(tail -1 "$T/out")"; fi

# start: a runtime directory so deep that QEMU's socket paths pass the 107 bytes of sun_path is refused
# before QEMU runs, saying so, not "no QMP socket after 30 s".
deep=$T/run/$(printf 'd%.0s' $(seq 90))
mkdir -p "$deep" && chmod 0755 "$T" "$T/run" "$deep"
if [ "$(id -u)" = 0 ]; then
  # Root: the runtime directory is below --root, and QEMU would run as nobody.
  printf '[vm]\naccel = tcg\nuser = nobody\n[cpu]\nmodel = qemu64\n[firmware]\ntype = seabios\n[memory]\nsize = 64M\n' > "$T/deep.conf"
  deepv=(--root "$deep")
else
  printf "${base}[firmware]\ntype = seabios\n[memory]\nsize = 64M\n" > "$T/deep.conf"
  deepv=()
fi
timeout -s KILL 60 env NO_COLOR=1 XDG_RUNTIME_DIR="$deep" XDG_CONFIG_HOME="$T/cfg" "$BIN" "${deepv[@]}" start "$T/deep.conf" --detach --paused > "$T/out" 2>&1; rc=$?
if [ $rc = 69 ] && grep -q "longer than the 107 bytes" "$T/out"; then ok "start refuses a runtime path too long for its sockets, before QEMU runs (rc=69)"
else bad "start with socket paths over 107 bytes: rc=$rc: $(head -3 "$T/out" | tr '\n' ' ')"; fi
XDG_RUNTIME_DIR="$deep" "$BIN" "${deepv[@]}" stop deep --force > /dev/null 2>&1

# start: a QEMU that exits at once is quoted with its own reason. Here it runs as nobody below a directory
# nobody cannot pass, so it cannot make its sockets; QEMU's stderr shared the log with our command line at
# offset 0 and overwrote it, and the error quoted the rest of our line instead.
if [ "$(id -u)" = 0 ] && command -v qemu-system-x86_64 > /dev/null; then
  shut=$T/shut sn=shut$$
  mkdir -p "$shut/root/vms" && chmod 0700 "$shut" && chmod 0755 "$shut/root" "$shut/root/vms"
  printf '[vm]\naccel = tcg\nuser = nobody\n[cpu]\nmodel = qemu64\n[firmware]\ntype = seabios\n[memory]\nsize = 64M\n' > "$shut/root/vms/$sn.conf"
  timeout -s KILL 60 env NO_COLOR=1 "$BIN" --root "$shut/root" start "$shut/root/vms/$sn.conf" --detach --paused > "$T/out" 2>&1; rc=$?
  if [ $rc != 0 ] && grep -q "did not come up: qemu-system-x86_64: -chardev socket" "$T/out" &&
    grep -q "^qemu-system-x86_64: .*Permission denied" "$shut/root/run/vfioctl/$sn/log" &&
    grep -q "vfioctl: starting VM $sn as nobody (uid [0-9]*): .*-serial" "$shut/root/run/vfioctl/$sn/log"; then
    ok "a QEMU that exits at once: start quotes QEMU's reason (rc=$rc), the log keeps our command line whole"
  else bad "a QEMU that exits at once: rc=$rc: $(head -3 "$T/out" | tr '\n' ' ') log: $(tr '\n' ' ' < "$shut/root/run/vfioctl/$sn/log" 2> /dev/null | cut -c1-600)"; fi
  timeout -s KILL 60 "$BIN" --root "$shut/root" stop "$sn" --force > /dev/null 2>&1
fi

# A FIFO in place of a sysfs attribute (a --root tree another user wrote) is named, not waited on: the
# open and the read must not block (boot_vga of the VGA function, vendor and config of another).
cp -a "$DATA/sysfs/q35-viommu" "$T/fifo-host"
for f in sys/devices/pci0000:00/0000:00:01.0/boot_vga sys/devices/pci0000:00/0000:00:05.0/vendor \
  sys/devices/pci0000:00/0000:00:05.0/config; do
  rm -f "$T/fifo-host/$f" && mkfifo "$T/fifo-host/$f"
done
V --root "$T/fifo-host" devices > "$T/out" 2>&1; rc=$?
if [ $rc != 137 ] && grep -q "0000:00:01.0.*boot_vga: not a regular file" "$T/out" &&
   grep -q "0000:00:05.0.*vendor: not a regular file" "$T/out"; then
  ok "FIFOs for sysfs attributes are named as not regular files, not waited on (rc=$rc)"
else bad "FIFOs for sysfs attributes: rc=$rc (137: hung): $(grep -i 'fifo\|regular\|boot_vga\|vendor' "$T/out" | head -3 | tr '\n' ' ')"; fi

echo "1..$CHECKS"
[ "$FAILS" = 0 ]
