# capture-input-guest.sh: guest script for the test bed (VFIOCTL_E2E_GUEST_SCRIPT=... run.sh --capture DEST):
# a fake USB keyboard + mouse, the relay output, then capture-input.sh of the guest root into /out/capture.tar
export PATH=/bin
R=/hostroot; W=/run/e2e
arg() { sed -n "s/^\(.*[[:space:]]\)\{0,1\}$1=\([^[:space:]]*\).*/\2/p" /proc/cmdline; }
TESTDIR=$(arg vfioctl.testdir); VFIOCTL=$(arg vfioctl.bin)
FAKE=$(dirname "$VFIOCTL")/../tests/fake-input
modprobe evdev; modprobe uinput
mount -t proc proc "$R/proc"; mount -t sysfs sysfs "$R/sys"; mount -t devtmpfs devtmpfs "$R/dev"; mount -t tmpfs tmpfs "$R/run"
mkdir -p "$R$W"; mount --bind "$R$W" "$W" 2>/dev/null || mkdir -p "$W"
mkfifo $W/ctl
chroot $R $FAKE keyboard "Fake USB Keyboard" < $W/ctl > $W/kbd.log 2>&1 &
exec 7> $W/ctl
echo create >&7; echo create-mouse >&7; sleep 1; cat $W/kbd.log
KBD=$(sed -n 's/^created //p' $W/kbd.log)
chroot $R $VFIOCTL input relay --grab "$KBD" --out win10 > $W/relay.out 2>&1 &
RP=$!
sleep 2; cat $W/relay.out
rm -rf /tmp/cap; sh "$R$TESTDIR/../tools/capture-input.sh" / /tmp/cap
tar -C /tmp/cap -cf /out/capture.tar .
kill $RP; echo quit >&7; sleep 0.5
echo "@@@ CASE capture-input PASS"
echo "@@@ TEST-END pass=1 fail=0"
