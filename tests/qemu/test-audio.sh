#!/bin/bash
# test-audio.sh VFIOCTL -- a VM run as its own user plays through the desktop user's real sound server.
#
# Two users made here: a desktop user D, who runs a real PulseAudio (then PipeWire with pipewire-pulse
# and WirePlumber) with a null sink, and a VM user V, whom QEMU runs as. Without the grant, check --vm and
# start fail and name the fix; `vfioctl setup --vm` (under a root this test owns) writes the grant, and
# systemd-tmpfiles and the sound server apply it; then the guest (the demo kernel, snd-hda-intel, and
# guest-tone playing 440 Hz through ALSA's ioctls) is heard: the desktop server lists QEMU's stream as V's,
# and its null sink's monitor records samples that are not silence. Needs root; TAP output.
set -uo pipefail

VFIOCTL=${1:?usage: test-audio.sh VFIOCTL}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/media-guest.sh"
N=0; FAILED=0
ok() { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $*"; }
skip_case() { N=$((N + 1)); echo "ok $N - $* # SKIP"; }
check() { # check "description" command...; the command's output becomes TAP comments
  local d=$1 r=0; shift
  "$@" > "$T/check.out" 2>&1 || r=1
  sed 's/^/# /' "$T/check.out" | head -40
  if [ $r = 0 ]; then ok "$d"; else not_ok "$d"; fi
}
skip_all() { echo "1..0 # SKIP $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip_all "needs root (two users, a VM dropped to one of them)"
for p in qemu-system-x86_64 pulseaudio pactl parec sox jq setpriv useradd systemd-tmpfiles cpio; do
  command -v "$p" > /dev/null || skip_all "$p missing (scripts/install-deps.sh installs it)"
done
media_guest_find || skip_all "no guest kernel (run vfioctl demo once, or tests/vfio-e2e/setup.sh)"

T=$(mktemp -d /tmp/vfioctl-audio.XXXXXX)
chmod 755 "$T"
D=vfta-d$$
V=vfta-v$$
DAEMON=
V_() { "$VFIOCTL" --root "$T" "$@"; }
cleanup() {
  [ -n "$DAEMON" ] && kill -- -"$DAEMON" 2>/dev/null
  # anything else still running as the test's own users (they exist only for this test), by pid
  for p in $(pgrep -u "$D" 2>/dev/null) $(pgrep -u "$V" 2>/dev/null); do kill "$p" 2>/dev/null; done
  if [ -f "$T/run/vfioctl/snd/status" ]; then
    p=$(sed -n 's/^pid=//p' "$T/run/vfioctl/snd/status"); [ "${p:-0}" -gt 0 ] && kill -9 "$p" 2>/dev/null
    s=$(sed -n 's/^supervisor=//p' "$T/run/vfioctl/snd/status"); [ "${s:-0}" -gt 0 ] && kill -9 "$s" 2>/dev/null
  fi
  sleep 0.5
  userdel "$V" 2>/dev/null
  userdel "$D" 2>/dev/null
  groupdel "$V" 2>/dev/null
  groupdel "$D" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

useradd --user-group --no-create-home --home-dir "$T/home-d" --shell /bin/sh "$D" || skip_all "useradd $D failed"
useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$V" || skip_all "useradd $V failed"
mkdir -p "$T/home-d" "$T/rt-d" && chown "$D:$D" "$T/home-d" "$T/rt-d" && chmod 700 "$T/rt-d"
# The root setup --vm and start work under: its own users' database, as on the machine.
mkdir -p "$T/etc" && cp /etc/passwd /etc/group /etc/os-release "$T/etc/"

INIT='#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
modprobe snd-hda-codec-generic; modprobe snd-hda-intel
i=0; while [ ! -e /dev/snd/pcmC0D0p ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
guest-tone 8
echo GUEST-DONE
poweroff -f'
media_guest_build "$T/guest.cpio" "$INIT" "$HERE/guest-tone.c" || skip_all "cannot build the guest (a C compiler with static libc)"
mkdir -p "$T/vms" && chmod 755 "$T/vms"
CONF=$T/vms/snd.conf
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
# server = desktop is the default with a desktop user
[audio]
EOF
SOCK=$T/run/vfioctl-audio/$V/native

as_desk() { setpriv --reuid="$D" --regid="$D" --init-groups env -i HOME="$T/home-d" XDG_RUNTIME_DIR="$T/rt-d" \
  XDG_CONFIG_HOME="$T/home-d/.config" PATH=/usr/bin:/bin "$@"; }
wait_for() { # SECONDS command...
  local n=$(( $1 * 10 )); shift
  for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
  return 1
}
# The sound server runs in a session of its own (setsid execs it in place: $! is the group's id), so the
# whole group, and nothing else, is stopped by that id.
stop_daemon() {
  [ -n "$DAEMON" ] || return 0
  kill -- -"$DAEMON" 2>/dev/null
  wait_for 20 bash -c "! kill -0 -- -$DAEMON 2>/dev/null"
  DAEMON=
}
as_desk_bg() { # command...: in its own session, $! its process group
  setsid setpriv --reuid="$D" --regid="$D" --init-groups env -i HOME="$T/home-d" XDG_RUNTIME_DIR="$T/rt-d" \
    XDG_CONFIG_HOME="$T/home-d/.config" PATH=/usr/bin:/bin "$@" &
}
server_up() { as_desk pactl info > /dev/null 2>&1; }
start_pulseaudio() {
  cat > "$T/desk.pa" <<EOF
load-module module-native-protocol-unix
load-module module-null-sink sink_name=vfioctltest
set-default-sink vfioctltest
.nofail
.include $T/etc/pulse/default.pa.d
EOF
  chmod 644 "$T/desk.pa"
  as_desk_bg pulseaudio -n -F "$T/desk.pa" --daemonize=no --exit-idle-time=-1 --log-target=stderr \
    > "$T/pulse.log" 2>&1
  DAEMON=$!
  wait_for 30 server_up
}
start_pipewire() {
  mkdir -p "$T/home-d/.config/pipewire"
  # what /etc/pipewire/pipewire-pulse.conf.d is on a machine: the fragment setup --vm wrote
  ln -sfn "$T/etc/pipewire/pipewire-pulse.conf.d" "$T/home-d/.config/pipewire/pipewire-pulse.conf.d"
  chown -R "$D:$D" "$T/home-d/.config"
  cat > "$T/pw.sh" <<'EOF'
pipewire & sleep 0.5
wireplumber &
pipewire-pulse &
wait
EOF
  as_desk_bg dbus-run-session -- sh "$T/pw.sh" > "$T/pipewire.log" 2>&1
  DAEMON=$!
  wait_for 30 server_up && sleep 1 &&
    as_desk pactl load-module module-null-sink sink_name=vfioctltest > /dev/null &&
    as_desk pactl set-default-sink vfioctltest
}
check_json() { V_ check --vm "$CONF" --no-probe --json 2> /dev/null; }
check_status() { check_json | jq -r --arg id "$1" '.checks[] | select(.id == $id) | .status'; }
# Plays the guest's tone and records the null sink's monitor from the desktop side.
hear_the_guest() { # LABEL
  local label=$1 rms
  rm -f "$T/run/vfioctl/snd/qemu/console.log"
  V_ start "$CONF" --detach > "$T/start.out" 2>&1 || { not_ok "$label: start"; cat "$T/start.out" | sed 's/^/# /'; return; }
  ok "$label: start --detach as root, QEMU dropped to $V"
  if ! wait_for 180 grep -q "guest-tone: playing" "$T/run/vfioctl/snd/qemu/console.log"; then
    not_ok "$label: the guest plays (console)"; sed 's/^/# /' "$T/run/vfioctl/snd/qemu/console.log"; return
  fi
  sleep 1
  as_desk pactl list sink-inputs > "$T/inputs.out" 2>&1
  check "$label: the desktop server lists QEMU's stream, from user $V (pactl list sink-inputs)" \
    grep -q "application.process.user = \"$V\"" "$T/inputs.out"
  check "$label: the stream is QEMU's (application.process.binary)" \
    grep -q 'application.process.binary = "qemu-system-x86_64"' "$T/inputs.out"
  as_desk timeout 3 parec -d vfioctltest.monitor --raw --format=s16le --rate=48000 --channels=2 > "$T/rec.raw" 2>/dev/null
  rms=$(sox -t raw -r 48000 -e signed -b 16 -c 2 "$T/rec.raw" -n stat 2>&1 | awk '/RMS +amplitude/ {print $3}')
  echo "# $label: recorded $(stat -c %s "$T/rec.raw") bytes from vfioctltest.monitor, RMS amplitude ${rms:-?}"
  check "$label: the null sink's monitor records the tone (RMS ${rms:-?} > 0.01, silence is 0)" \
    awk -v r="${rms:-0}" 'BEGIN { exit !(r > 0.01) }'
  wait_for 120 bash -c "[ \"\$('$VFIOCTL' --root '$T' status snd --json 2>/dev/null | jq -r .state)\" = stopped ]"
}

# --- 1. no grant: check --vm and start both fail and name the fix -------------------------------------
start_pulseaudio || { not_ok "PulseAudio starts as $D"; sed 's/^/# /' "$T/pulse.log"; echo "1..$N"; exit 1; }
ok "a real PulseAudio runs as $D with a null sink"
check_json > "$T/nogrant.json"
check "without the grant, check --vm fails audio.server" \
  [ "$(jq -r '.checks[] | select(.id == "audio.server") | .status' "$T/nogrant.json")" = fail ]
jq -r '.checks[] | select(.id == "audio.server") | "evidence: \(.evidence)\nfix: \(.fix)"' "$T/nogrant.json" | sed 's/^/# /'
check "... and its fix names setup --vm and systemd-tmpfiles" \
  jq -e '.checks[] | select(.id == "audio.server") | .fix | test("sudo vfioctl setup --vm .*snd.conf, then: sudo systemd-tmpfiles --create /etc/tmpfiles.d/vfioctl-audio-")' "$T/nogrant.json"
V_ start "$CONF" --detach > "$T/start0.out" 2>&1; rc=$?
sed 's/^/# /' "$T/start0.out"
check "without the grant, start fails its preflight (exit 69) naming the same fix" \
  bash -c "[ $rc = 69 ] && grep -q 'The VM user reaches the sound server' '$T/start0.out' && grep -q 'sudo vfioctl setup --vm' '$T/start0.out'"
check "no QEMU was started" bash -c "! [ -s '$T/run/vfioctl/snd/pid' ]"

# --- 2. the grant: setup --vm, tmpfiles, the server reads its snippet ---------------------------------
V_ setup --vm "$CONF" > "$T/setup.out" 2>&1; rc=$?
sed 's/^/# /' "$T/setup.out"
check "setup --vm writes the grant (exit 0)" [ $rc = 0 ]
check "tmpfiles.d: the directory is $D's, group $V, 0710" \
  grep -qx "d /run/vfioctl-audio/$V 0710 $D $V -" "$T/etc/tmpfiles.d/vfioctl-audio-$V.conf"
check "default.pa.d: a second socket, auth-group $V, no anonymous access" \
  bash -c "grep -q 'load-module module-native-protocol-unix socket=$SOCK auth-group=$V auth-cookie-enabled=0' '$T/etc/pulse/default.pa.d/vfioctl-audio-$V.pa' && ! grep -q anonymous '$T/etc/pulse/default.pa.d/vfioctl-audio-$V.pa'"
check "systemd-tmpfiles --root makes the directory" \
  systemd-tmpfiles --root="$T" --create "$T/etc/tmpfiles.d/vfioctl-audio-$V.conf"
check "its owner, group and mode: $D:$V 0710" \
  [ "$(stat -c '%U:%G %a' "$T/run/vfioctl-audio/$V")" = "$D:$V 710" ]
stop_daemon
start_pulseaudio && wait_for 10 test -S "$SOCK"
check "PulseAudio, restarted, listens on the grant socket" test -S "$SOCK"
grep -E 'vfioctl-audio|native-protocol-unix' "$T/pulse.log" | sed 's/^/# pulse: /' | head -5
check "check --vm: audio.server passes (a real AUTH as $V)" [ "$(check_status audio.server)" = pass ]
check_json | jq -r '.checks[] | select(.id == "audio.server" or .id == "audio.driver") | "\(.id): \(.evidence)"' | sed 's/^/# /'
check "no one else gets in: nobody cannot connect to the socket" \
  bash -c "! setpriv --reuid=65534 --regid=65534 --clear-groups python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' '$SOCK' 2>/dev/null"

# --- 3. the guest is heard through PulseAudio ---------------------------------------------------------
hear_the_guest PulseAudio

# --- 4. the same through PipeWire (pipewire-pulse, WirePlumber) ---------------------------------------
stop_daemon
if command -v pipewire > /dev/null && command -v pipewire-pulse > /dev/null && command -v wireplumber > /dev/null &&
   command -v dbus-run-session > /dev/null; then
  if start_pipewire && wait_for 10 test -S "$SOCK"; then
    ok "PipeWire, pipewire-pulse and WirePlumber run as $D; pipewire-pulse listens on the grant socket"
    as_desk pactl info > "$T/info.out" 2>&1
    check "the server is PipeWire's (pactl info)" grep -q 'Server Name: PulseAudio (on PipeWire' "$T/info.out"
    check "check --vm: audio.server passes against pipewire-pulse" [ "$(check_status audio.server)" = pass ]
    hear_the_guest PipeWire
  else
    not_ok "PipeWire starts as $D"; sed 's/^/# /' "$T/pipewire.log" | tail -20
  fi
else
  skip_case "PipeWire: pipewire, pipewire-pulse, wireplumber or dbus-run-session missing"
fi

# --- 5. setup --undo takes the grant away again ---------------------------------------------------------
stop_daemon
V_ setup --undo > "$T/undo.out" 2>&1; rc=$?
sed 's/^/# /' "$T/undo.out"
check "setup --undo removes the tmpfiles.d, default.pa.d and pipewire-pulse.conf.d files" \
  bash -c "[ $rc = 0 ] && ! [ -e '$T/etc/tmpfiles.d/vfioctl-audio-$V.conf' ] && ! [ -e '$T/etc/pulse/default.pa.d/vfioctl-audio-$V.pa' ] && ! [ -e '$T/etc/pipewire/pipewire-pulse.conf.d/90-vfioctl-audio.conf' ]"

echo "1..$N"
[ $FAILED = 0 ]
