# shellcheck shell=sh
# cases-input.sh -- the input relay's cases for the VFIO test bed, sourced by guest.sh
# (busybox sh, as root, in the outer guest) like every tests/vfio-e2e/cases-*.sh.
#
# case input-relay: a fake USB keyboard made with uinput (tests/harness/fake-input.c, run
# through the chroot like every host binary) is grabbed by `vfioctl input relay`, whose
# output is a second uinput device. Proves, with the guest kernel's real evdev + uinput:
#  1. an inner QEMU (-object input-linux,evdev=<relay output>) keeps its object and its
#     open fd on the same /dev/input/eventN while the keyboard is destroyed and re-created;
#  2. events typed after a replug reach the relay output (read with fake-input read);
#  3. a key held when the keyboard is unplugged is released on the output;
#  4. both Ctrl toggles to the host: the output shows key-ups for every key held, then
#     nothing while toggled (keyboard and mouse); both Ctrl again gives them back;
#  5. a fake mouse beside the keyboard gets its own output (relative motion forwarded),
#     and --link makes DIR/NAME-keyboard and DIR/NAME-mouse point at the outputs.
# It also measures the latency the relay adds (bench/resources.py reports it beside direct reading):
# the same reader times 100 taps from the keyboard's write to its read, first on the keyboard's own
# node (what input-linux reads without the relay), then on the relay's output.
# No udev/mdev runs in the busybox guest, so there is no /dev/input/by-id: the source is
# found by name in /sys/class/input/event*/device/name and given as /dev/input/eventN; the
# relay recognises it after the replug by its identity (name, bus, vendor, product), since
# the kernel may hand out another eventN.

ALL_CASES="$ALL_CASES input-relay"

CI_NAME="vfioctl-e2e keyboard"
ci_count() { _c=$(grep -cE "$2" "$1" 2>/dev/null); echo "${_c:-0}"; } # FILE ERE
# ci_wait FILE ERE TENTHS: bounded wait for a line matching ERE
ci_wait() {
  _ci=0
  while [ "$_ci" -lt "$3" ]; do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    sleep 0.1; _ci=$((_ci + 1))
  done
  return 1
}
# ci_kbd CMD...: one command to the fake keyboard, wait (5 s) for its answer
ci_kbd() {
  _before=$(ci_count "$W/kbd.log" '^(ok|error) ')
  echo "$*" >&7
  _ci=0
  while [ "$_ci" -lt 50 ]; do
    [ "$(ci_count "$W/kbd.log" '^(ok|error) ')" -gt "$_before" ] && break
    sleep 0.1; _ci=$((_ci + 1))
  done
  tail -1 "$W/kbd.log" | grep -q "^ok $*" && return 0
  echo "  fake keyboard: '$*' -> $(tail -1 "$W/kbd.log")"
  return 1
}
ci_src_by_name() { # [NAME]: the eventN of the fake keyboard, from sysfs (no udev here)
  for _d in /sys/class/input/event*; do
    [ "$(cat "$_d/device/name" 2>/dev/null)" = "${1:-$CI_NAME}" ] && echo "/dev/input/${_d##*/}"
  done
}
ci_replug() { # destroy + re-create the fake keyboard; wait for the relay to see both
  _g=$(ci_count "$W/relay.err" 'went away'); _b=$(ci_count "$W/relay.err" 'source back')
  ci_kbd destroy || return 1
  _ci=0; while [ "$_ci" -lt 50 ] && [ "$(ci_count "$W/relay.err" 'went away')" -le "$_g" ]; do sleep 0.1; _ci=$((_ci + 1)); done
  [ "$(ci_count "$W/relay.err" 'went away')" -gt "$_g" ] || { echo "  relay did not notice the unplug"; return 1; }
  ci_kbd create || return 1
  _ci=0; while [ "$_ci" -lt 50 ] && [ "$(ci_count "$W/relay.err" 'source back')" -le "$_b" ]; do sleep 0.1; _ci=$((_ci + 1)); done
  [ "$(ci_count "$W/relay.err" 'source back')" -gt "$_b" ] || { echo "  relay did not reopen the keyboard"; return 1; }
  echo "  replug: keyboard back as $(sed -n 's/^created //p' "$W/kbd.log" | tail -1); relay: $(grep 'source back' "$W/relay.err" | tail -1)"
}
ci_mark() { CI_MARK=$(wc -l < "$W/out.log"); CI_MMARK=$(wc -l < "$W/mout.log"); }
# the output's events since ci_mark as "E type code value;" -- autorepeats (value 2, from the
# fake keyboard's EV_REP after 250 ms) and their SYN_REPORT dropped: timing-dependent, not checked here
ci_since() { # [FILE MARK]
  tail -n +"$((${2:-$CI_MARK} + 1))" "${1:-$W/out.log}" | awk '/^E / {
    if ($2 == 1 && $4 == 2) { rep = 1; next }
    if (rep && $2 == 0) { rep = 0; next }
    rep = 0; printf "%s;", $0 }'
}
ci_await() { # EXPECTED [FILE MARK]: _s = ci_since once it equals EXPECTED, or after 10 s (a slow guest is not a failure)
  _ci=0
  while :; do
    _s=$(ci_since "${2:-$W/out.log}" "${3:-$CI_MARK}")
    [ "$_s" = "$1" ] || [ "$_ci" -ge 100 ] && return 0
    sleep 0.1; _ci=$((_ci + 1))
  done
}
ci_qmp() { # ci_qmp NAME COMMAND-JSON...: one QMP session, replies in $W/NAME.reply
  _n=$1; shift
  { echo '{"execute":"qmp_capabilities"}'; for _c in "$@"; do echo "$_c"; done; } |
    timeout 30 chroot "$R" /usr/bin/socat -t 5 - "UNIX-CONNECT:$W/input.qmp,shut-none" > "$W/$_n.reply" 2>&1
}
ci_cleanup() {
  [ -n "${CI_QPID:-}" ] && kill -9 "$CI_QPID" 2>/dev/null
  [ -n "${CI_RDPID:-}" ] && kill "$CI_RDPID" 2>/dev/null
  [ -n "${CI_MRDPID:-}" ] && kill "$CI_MRDPID" 2>/dev/null
  [ -n "${CI_RPID:-}" ] && kill "$CI_RPID" 2>/dev/null && { _ci=0; while [ $_ci -lt 30 ] && kill -0 "$CI_RPID" 2>/dev/null; do sleep 0.1; _ci=$((_ci + 1)); done; }
  echo quit >&7 2>/dev/null
  exec 7>&-
  [ -n "${CI_KPID:-}" ] && { sleep 0.2; kill "$CI_KPID" 2>/dev/null; }
  wait 2>/dev/null
  for _f in kbd.log relay.out relay.err out.log mout.log input-qemu.err; do
    [ -s "$W/$_f" ] && sed "s/^/  [$_f] /" "$W/$_f" | tail -40
  done
  CI_QPID="" CI_RDPID="" CI_MRDPID="" CI_RPID="" CI_KPID=""
}

case_input_relay() {
  CI_FAKE=$(dirname "$VFIOCTL")/../tests/fake-input
  [ -x "$R$VFIOCTL" ] || { DETAIL="vfioctl not built ($VFIOCTL)"; return 1; }
  [ -x "$R$CI_FAKE" ] || { DETAIL="fake-input not built ($CI_FAKE)"; return 1; }
  modprobe evdev; modprobe uinput
  [ -c /dev/uinput ] || { DETAIL="no /dev/uinput after modprobe uinput"; return 1; }
  rm -f "$W/kbd.ctl" "$W/kbd.log" "$W/relay.out" "$W/relay.err" "$W/out.log" "$W/mout.log" "$W/input.qmp" \
    "$W/input-qemu.pid" "$W/e2e-keyboard" "$W/e2e-mouse"
  mkfifo "$W/kbd.ctl"
  chroot "$R" "$CI_FAKE" keyboard "$CI_NAME" < "$W/kbd.ctl" > "$W/kbd.log" 2>&1 &
  CI_KPID=$!
  exec 7> "$W/kbd.ctl"
  ci_kbd create || { DETAIL="fake keyboard: $(tail -1 "$W/kbd.log")"; ci_cleanup; return 1; }
  _src=$(ci_src_by_name)
  _made=$(sed -n 's/^created //p' "$W/kbd.log" | tail -1)
  [ -n "$_src" ] && [ "$_src" = "$_made" ] || { DETAIL="source by name '$_src' != created '$_made'"; ci_cleanup; return 1; }
  ci_kbd create-mouse || { DETAIL="fake mouse: $(tail -1 "$W/kbd.log")"; ci_cleanup; return 1; }
  _msrc=$(ci_src_by_name "$CI_NAME mouse")
  ci_kbd latency "$_src" 100 || { DETAIL="direct latency run: $(tail -1 "$W/kbd.log")"; ci_cleanup; return 1; }

  chroot "$R" "$VFIOCTL" input relay --grab "$_src" --grab "$_msrc" --out e2e --link "$W" > "$W/relay.out" 2> "$W/relay.err" &
  CI_RPID=$!
  ci_wait "$W/relay.out" '^READY' 100 || { DETAIL="relay not READY: $(head -c 300 "$W/relay.err")"; ci_cleanup; return 1; }
  _out=$(sed -n 's/^keyboard //p' "$W/relay.out")
  _mout=$(sed -n 's/^mouse //p' "$W/relay.out")
  _outname=$(cat "/sys/class/input/${_out##*/}/device/name" 2>/dev/null)
  _moutname=$(cat "/sys/class/input/${_mout##*/}/device/name" 2>/dev/null)
  echo "  sources $_src + $_msrc -> relay outputs $_out ($_outname) + $_mout ($_moutname); links $(readlink "$W/e2e-keyboard") $(readlink "$W/e2e-mouse")"
  [ "$_outname" = "vfioctl e2e keyboard" ] && [ "$_moutname" = "vfioctl e2e mouse" ] ||
    { DETAIL="relay outputs $_out '$_outname', $_mout '$_moutname'"; ci_cleanup; return 1; }
  [ "$(readlink "$W/e2e-keyboard")" = "$_out" ] && [ "$(readlink "$W/e2e-mouse")" = "$_mout" ] ||
    { DETAIL="--link: $(readlink "$W/e2e-keyboard") $(readlink "$W/e2e-mouse")"; ci_cleanup; return 1; }
  ci_kbd latency "$_out" 100 || { DETAIL="relayed latency run: $(tail -1 "$W/kbd.log")"; ci_cleanup; return 1; }
  _direct=$(sed -n "s|^latency $_src ||p" "$W/kbd.log" | tail -1)
  _relayed=$(sed -n "s|^latency $_out ||p" "$W/kbd.log" | tail -1)
  echo "  input latency (write to read, 200 events each): direct $_direct; relayed $_relayed"

  # vfioctl input list sees both, as keyboards, with EVIOCGBIT capabilities
  timeout 30 chroot "$R" "$VFIOCTL" input list --json > "$W/input-list.json" 2>&1
  _kinds=$(chroot "$R" /usr/bin/jq -r --arg n "$_out" '.[] | select(.node == $n) | .kinds | join(",")' "$W/input-list.json" 2>/dev/null)
  _skeys=$(chroot "$R" /usr/bin/jq -r --arg n "$_src" '.[] | select(.node == $n) | .capabilities.keys' "$W/input-list.json" 2>/dev/null)
  echo "  input list: output kinds=$_kinds, source keys=$_skeys"
  [ "$_kinds" = keyboard ] && [ "$_skeys" = 248 ] || { DETAIL="input list: output kinds '$_kinds', source keys '$_skeys'"; ci_cleanup; return 1; }

  # 1. QEMU holds the relay output across a replug of the keyboard
  ( exec chroot "$R" /usr/bin/timeout -s KILL 120 "$QEMU" -accel tcg -machine q35 -m 64 -nodefaults -display none -S \
      -pidfile "$W/input-qemu.pid" -qmp "unix:$W/input.qmp,server=on,wait=off" \
      -object "input-linux,id=kbd0,evdev=$_out" -object "input-linux,id=mouse0,evdev=$_mout" ) < /dev/null > /dev/null 2> "$W/input-qemu.err" &
  ci_wait "$W/input-qemu.pid" . 600
  _i=0; while [ $_i -lt 600 ] && [ ! -S "$R$W/input.qmp" ]; do sleep 0.1; _i=$((_i + 1)); done
  CI_QPID=$(cat "$W/input-qemu.pid" 2>/dev/null)
  [ -S "$R$W/input.qmp" ] && [ -n "$CI_QPID" ] || { DETAIL="inner QEMU did not start: $(head -c 300 "$W/input-qemu.err")"; ci_cleanup; return 1; }
  ci_qmp input-qmp1 '{"execute":"qom-list","arguments":{"path":"/objects"}}'
  _obj1=$(chroot "$R" /usr/bin/jq -r 'select(.return|type=="array") | .return[] | select(.name=="kbd0") | .type' "$W/input-qmp1.reply" 2>/dev/null)
  _mobj1=$(chroot "$R" /usr/bin/jq -r 'select(.return|type=="array") | .return[] | select(.name=="mouse0") | .type' "$W/input-qmp1.reply" 2>/dev/null)
  _fd1=$(ls -l /proc/"$CI_QPID"/fd 2>/dev/null | grep -c -- "-> .*$_out\$")
  echo "  QEMU pid $CI_QPID: /objects/kbd0 is '$_obj1', fds on $_out: $_fd1"
  ci_replug || { DETAIL="replug with QEMU running failed"; ci_cleanup; return 1; }
  ci_qmp input-qmp2 '{"execute":"qom-list","arguments":{"path":"/objects"}}' \
    '{"execute":"qom-get","arguments":{"path":"/objects/kbd0","property":"evdev"}}'
  _obj2=$(chroot "$R" /usr/bin/jq -r 'select(.return|type=="array") | .return[] | select(.name=="kbd0") | .type' "$W/input-qmp2.reply" 2>/dev/null)
  _evdev=$(chroot "$R" /usr/bin/jq -r 'select(.return|type=="string") | .return' "$W/input-qmp2.reply" 2>/dev/null)
  _fd2=$(ls -l /proc/"$CI_QPID"/fd 2>/dev/null | grep -c -- "-> .*$_out\$")
  _outname2=$(cat "/sys/class/input/${_out##*/}/device/name" 2>/dev/null)
  echo "  after replug: /objects/kbd0 '$_obj2', evdev '$_evdev', fds on $_out: $_fd2, $_out is '$_outname2'"
  ci_qmp input-qmp3 '{"execute":"quit"}'
  _i=0; while [ $_i -lt 100 ] && kill -0 "$CI_QPID" 2>/dev/null; do sleep 0.1; _i=$((_i + 1)); done
  kill -9 "$CI_QPID" 2>/dev/null; CI_QPID=""
  if [ "$_obj1" != "child<input-linux>" ] || [ "$_mobj1" != "child<input-linux>" ] || [ "$_obj2" != "child<input-linux>" ] || [ "$_evdev" != "$_out" ] ||
     [ "$_fd1" -lt 1 ] || [ "$_fd2" -lt 1 ] || [ "$_outname2" != "vfioctl e2e keyboard" ]; then
    DETAIL="QEMU lost the device: before '$_obj1' fd=$_fd1, after '$_obj2' fd=$_fd2 evdev='$_evdev' node '$_outname2'"
    ci_cleanup; return 1
  fi

  # 2. the event stream on the relay output (QEMU grabbed it while it ran, so read it now)
  chroot "$R" "$CI_FAKE" read "$_out" 90 > "$W/out.log" 2>&1 &
  CI_RDPID=$!
  chroot "$R" "$CI_FAKE" read "$_mout" 90 > "$W/mout.log" 2>&1 &
  CI_MRDPID=$!
  ci_wait "$W/out.log" '^reading' 50 && ci_wait "$W/mout.log" '^reading' 50 ||
    { DETAIL="reader: $(head -1 "$W/out.log") $(head -1 "$W/mout.log")"; ci_cleanup; return 1; }
  _bad=""
  ci_mark; ci_kbd tap 48
  ci_await "E 1 48 1;E 0 0 0;E 1 48 0;E 0 0 0;"; echo "  tap B: $_s"
  [ "$_s" = "E 1 48 1;E 0 0 0;E 1 48 0;E 0 0 0;" ] || _bad="$_bad tap-before-replug[$_s]"
  ci_mark; ci_kbd move 5 -3
  ci_await "E 2 0 5;E 2 1 -3;E 0 0 0;" "$W/mout.log" "$CI_MMARK"; echo "  mouse move 5,-3: $_s"
  [ "$_s" = "E 2 0 5;E 2 1 -3;E 0 0 0;" ] || _bad="$_bad mouse-move[$_s]"
  ci_replug || _bad="$_bad replug2"
  ci_mark; ci_kbd tap 46
  ci_await "E 1 46 1;E 0 0 0;E 1 46 0;E 0 0 0;"; echo "  tap C after replug: $_s"
  [ "$_s" = "E 1 46 1;E 0 0 0;E 1 46 0;E 0 0 0;" ] || _bad="$_bad tap-after-replug[$_s]"
  # 3. a key held while the keyboard goes away is released on the output
  ci_mark; ci_kbd press 30; sleep 0.3; ci_replug
  ci_await "E 1 30 1;E 0 0 0;E 1 30 0;E 0 0 0;"; echo "  A held, unplugged: $_s"
  [ "$_s" = "E 1 30 1;E 0 0 0;E 1 30 0;E 0 0 0;" ] || _bad="$_bad unplug-release[$_s]"
  # 4. toggle: A held, then both Ctrl -> A up + Ctrl up, then nothing while toggled
  ci_mark; ci_kbd press 30; ci_kbd press 29; ci_kbd press 97
  ci_await "E 1 30 1;E 0 0 0;E 1 29 1;E 0 0 0;E 1 29 0;E 1 30 0;E 0 0 0;"; echo "  A, LCtrl, RCtrl: $_s"
  [ "$_s" = "E 1 30 1;E 0 0 0;E 1 29 1;E 0 0 0;E 1 29 0;E 1 30 0;E 0 0 0;" ] || _bad="$_bad toggle-release[$_s]"
  ci_wait "$W/relay.err" 'toggled to the host' 30 || _bad="$_bad no-toggle-notice"
  ci_mark; ci_kbd release 97; ci_kbd release 29; ci_kbd release 30; ci_kbd tap 48; ci_kbd move 1 1; sleep 1
  _s=$(ci_since)$(ci_since "$W/mout.log" "$CI_MMARK"); echo "  while toggled to the host: '${_s}'"
  [ -z "$_s" ] || _bad="$_bad events-while-toggled[$_s]"
  ci_mark; ci_kbd press 29; ci_kbd press 97; ci_kbd release 97; ci_kbd release 29; ci_kbd tap 46
  ci_await "E 1 46 1;E 0 0 0;E 1 46 0;E 0 0 0;"; echo "  toggled back, tap C: $_s"
  ci_wait "$W/relay.err" 'toggled to the VM' 30 || _bad="$_bad no-toggle-back"
  [ "$_s" = "E 1 46 1;E 0 0 0;E 1 46 0;E 0 0 0;" ] || _bad="$_bad after-toggle-back[$_s]"
  grep -q '^gone' "$W/out.log" "$W/mout.log" && _bad="$_bad output-vanished"
  kill -USR1 "$CI_RPID"; ci_wait "$W/relay.err" 'stats events=' 30
  _stats=$(grep 'stats events=' "$W/relay.err" | tail -1 | sed 's/^vfioctl: input: //')
  echo "  $_stats"
  ci_cleanup
  if [ -n "$_bad" ]; then DETAIL="FAILED:$_bad"; return 1; fi
  DETAIL="QEMU kept /objects/kbd0 on $_out (and mouse0 on $_mout) across a replug; events after 3 replugs, unplug and toggle releases OK; $_stats; latency direct $_direct, relayed $_relayed"
}

# case input-start: `vfioctl start` runs the relay beside the VM it starts, as the VM user.
# A VM (SeaBIOS, no OS, run as nobody) has [input "kbd"] type = evdev on a fake uinput keyboard.
# Proves, with real evdev + uinput in the guest kernel and the real QEMU:
#  1. start launches `vfioctl input relay` as nobody (not dumpable) before QEMU; QEMU opens the
#     relay's device "vfioctl inp kbd" through RUNTIME_DIR/inp-kbd; status --json names the relay;
#  2. keys typed on the fake keyboard reach the guest: SeaBIOS's keyboard buffer in the BIOS data
#     area (0x41e, words scancode<<8|ascii, read with HMP xp through vfioctl qmp) holds them;
#  3. the keyboard is destroyed and re-created (the test chowns the new node to nobody, as a udev
#     rule would): QEMU keeps the same device and fd, and a key typed afterwards reaches the guest;
#  4. both Ctrl toggle to the host: a key typed then never reaches the guest; both Ctrl again give
#     it back and the next key does;
#  5. stop ends the relay with the VM: its process and virtual device are gone, the link removed,
#     and the keyboard is no longer grabbed (a reader of the source sees a tap).
ALL_CASES="$ALL_CASES input-start"

CS_VM=inp
CS_NAME="vfioctl-e2e vm keyboard"
cs_log() { cat "$R/run/vfioctl/$CS_VM/log" 2>/dev/null; }
cs_count() { _c=$(cs_log | grep -cE "$1"); echo "${_c:-0}"; }
cs_bda() { # the 16 words of SeaBIOS's keyboard buffer, as "0x1e61 0x3062 ..."
  timeout 30 chroot "$R" "$VFIOCTL" qmp "$CS_VM" \
    '{"execute":"human-monitor-command","arguments":{"command-line":"xp /16xh 0x41e"}}' 2>&1 |
    grep -o '0x[0-9a-f]\{4\}\b' | tr '\n' ' '
}
cs_own() { # chown the fake keyboard's node to nobody (what a udev rule does on a real host)
  _n=$(ci_src_by_name "$CS_NAME"); [ -n "$_n" ] && chown 65534 "$_n" && echo "$_n"
}
cs_tap_until() { # KEY WORD TENTHS: tap KEY every 2 s until WORD is in the guest's buffer
  _i=0
  while [ "$_i" -lt "$3" ]; do
    [ $((_i % 20)) = 0 ] && { ci_kbd tap "$1" || return 1; }
    case " $(cs_bda) " in *" 0x$2 "*) return 0;; esac
    sleep 0.5; _i=$((_i + 5))
  done
  return 1
}
cs_cleanup() {
  timeout 60 chroot "$R" "$VFIOCTL" stop "$CS_VM" --force > /dev/null 2>&1
  [ -n "${CI_RDPID:-}" ] && kill "$CI_RDPID" 2>/dev/null
  echo quit >&7 2>/dev/null
  exec 7>&-
  [ -n "${CI_KPID:-}" ] && { sleep 0.2; kill "$CI_KPID" 2>/dev/null; }
  wait 2>/dev/null
  cs_log | sed 's/^/  [vm log] /' | tail -25
  [ -s "$W/kbd.log" ] && sed 's/^/  [kbd.log] /' "$W/kbd.log" | tail -10
  CI_RDPID="" CI_KPID=""
}

case_input_start() {
  CI_FAKE=$(dirname "$VFIOCTL")/../tests/fake-input
  [ -x "$R$VFIOCTL" ] && [ -x "$R$CI_FAKE" ] || { DETAIL="vfioctl or fake-input not built"; return 1; }
  modprobe evdev; modprobe uinput
  [ -c /dev/uinput ] || { DETAIL="no /dev/uinput after modprobe uinput"; return 1; }
  timeout 60 chroot "$R" "$VFIOCTL" stop "$CS_VM" --force > /dev/null 2>&1
  rm -f "$W/kbd.ctl" "$W/kbd.log" "$W/src.log"
  mkfifo "$W/kbd.ctl"
  chroot "$R" "$CI_FAKE" keyboard "$CS_NAME" < "$W/kbd.ctl" > "$W/kbd.log" 2>&1 &
  CI_KPID=$!
  exec 7> "$W/kbd.ctl"
  ci_kbd create || { DETAIL="fake keyboard: $(tail -1 "$W/kbd.log")"; cs_cleanup; return 1; }
  _src=$(cs_own)
  [ -n "$_src" ] || { DETAIL="fake keyboard not found by name"; cs_cleanup; return 1; }
  cat > "$W/$CS_VM.conf" <<EOC
[vm]
accel = tcg
user = nobody
[firmware]
type = seabios
[cpu]
model = qemu64
sockets = 1
cores = 1
threads = 1
[memory]
size = 64M
[input "kbd"]
type = evdev
evdev = $_src
EOC
  chmod 644 "$W/$CS_VM.conf"
  vr start "$W/$CS_VM.conf" --detach
  [ "$VRC" = 0 ] || { DETAIL="start rc=$VRC: $(head -c 400 "$W/vr.out")"; cs_cleanup; return 1; }

  # 1. the relay: a process of nobody, not dumpable, holding the source; QEMU holds its output
  _rpid=$(vr_json "$CS_VM" '.input_relay // empty')
  _qpid=$(vr_json "$CS_VM" '.pid // empty')
  _link=$(readlink "$R/run/vfioctl/$CS_VM/qemu/$CS_VM-kbd")
  _out=${_link##*/}
  _outname=$(cat "/sys/class/input/$_out/device/name" 2>/dev/null)
  _ruid=$(awk '/^Uid:/ {print $2 "/" $3 "/" $4 "/" $5}' "/proc/$_rpid/status" 2>/dev/null)
  _rdump=$(stat -c %u "/proc/$_rpid/status" 2>/dev/null)
  _rsrc=$(ls -l "/proc/$_rpid/fd" 2>/dev/null | grep -c -- "-> .*$_src\$")
  _qout=$(ls -l "/proc/$_qpid/fd" 2>/dev/null | grep -c -- "-> .*/dev/input/$_out\$")
  echo "  relay pid $_rpid uid $_ruid (/proc owner $_rdump), fds on $_src: $_rsrc; QEMU pid $_qpid; link -> $_link ($_outname), QEMU fds on it: $_qout"
  if [ -z "$_rpid" ] || [ "$_ruid" != "65534/65534/65534/65534" ] || [ "$_rdump" != 0 ] || [ "$_rsrc" -lt 1 ] ||
     [ "$_outname" != "vfioctl $CS_VM kbd" ] || [ "$_qout" -lt 1 ]; then
    DETAIL="relay not as expected: pid '$_rpid' uid '$_ruid' proc-owner '$_rdump' src-fds $_rsrc output '$_outname' qemu-fds $_qout"
    cs_cleanup; return 1
  fi

  # 2. keys reach the guest's firmware: A (scancode 0x1e, 'a' 0x61)
  _t0=$(up)
  cs_tap_until 30 1e61 900 || { DETAIL="A never reached SeaBIOS's buffer: $(cs_bda)"; cs_cleanup; return 1; }
  echo "  A in the guest after $(secs "$_t0") s: $(cs_bda)"

  # 3. replug: destroy + create, the relay reopens it, QEMU keeps device and fd
  _g=$(cs_count 'went away'); _b=$(cs_count 'source back')
  ci_kbd destroy || { DETAIL="destroy failed"; cs_cleanup; return 1; }
  _i=0; while [ $_i -lt 50 ] && [ "$(cs_count 'went away')" -le "$_g" ]; do sleep 0.1; _i=$((_i + 1)); done
  ci_kbd create || { DETAIL="re-create failed"; cs_cleanup; return 1; }
  _src2=$(cs_own)
  _i=0; while [ $_i -lt 100 ] && [ "$(cs_count 'source back')" -le "$_b" ]; do sleep 0.1; _i=$((_i + 1)); done
  _qout2=$(ls -l "/proc/$_qpid/fd" 2>/dev/null | grep -c -- "-> .*/dev/input/$_out\$")
  _outname2=$(cat "/sys/class/input/$_out/device/name" 2>/dev/null)
  echo "  replug: keyboard back as $_src2; log: $(cs_log | grep -E 'went away|source back' | tail -2 | tr '\n' ' ')"
  if [ "$(cs_count 'source back')" -le "$_b" ] || [ "$_qout2" -lt 1 ] || [ "$_outname2" != "vfioctl $CS_VM kbd" ]; then
    DETAIL="after the replug: relay back=$(cs_count 'source back') QEMU fds $_qout2 output '$_outname2'"
    cs_cleanup; return 1
  fi
  _bad=""
  cs_tap_until 48 3062 300 || _bad="$_bad B-after-replug[$(cs_bda)]"
  echo "  B after the replug: $(cs_bda)"

  # 4. toggle to the host: C stays out of the guest; toggle back: D gets in
  ci_kbd press 29; ci_kbd press 97; ci_kbd release 97; ci_kbd release 29
  _i=0; while [ $_i -lt 50 ] && [ "$(cs_count 'toggled to the host')" -lt 1 ]; do sleep 0.1; _i=$((_i + 1)); done
  [ "$(cs_count 'toggled to the host')" -ge 1 ] || _bad="$_bad no-toggle"
  ci_kbd tap 46; sleep 3
  case " $(cs_bda) " in *" 0x2e63 "*) _bad="$_bad C-while-toggled";; esac
  ci_kbd press 29; ci_kbd press 97; ci_kbd release 97; ci_kbd release 29
  _i=0; while [ $_i -lt 50 ] && [ "$(cs_count 'toggled to the VM')" -lt 1 ]; do sleep 0.1; _i=$((_i + 1)); done
  cs_tap_until 32 2064 300 || _bad="$_bad D-after-toggle-back"
  _bda=$(cs_bda)
  case " $_bda " in *" 0x2e63 "*) _bad="$_bad C-while-toggled";; esac
  echo "  after toggle, C, toggle, D: $_bda"

  # 5. stop: relay, virtual device and link go; the keyboard is free again
  vr stop "$CS_VM" --force
  _gone=yes
  kill -0 "$_rpid" 2>/dev/null && _gone=no
  _left=$(grep -l "^vfioctl $CS_VM kbd\$" /sys/class/input/input*/name 2>/dev/null | wc -l)
  [ -e "$R/run/vfioctl/$CS_VM/qemu/$CS_VM-kbd" ] || [ -L "$R/run/vfioctl/$CS_VM/qemu/$CS_VM-kbd" ] && _left=$((_left + 1))
  _src3=$(ci_src_by_name "$CS_NAME")
  chroot "$R" "$CI_FAKE" read "$_src3" 30 > "$W/src.log" 2>&1 &
  CI_RDPID=$!
  ci_wait "$W/src.log" '^reading' 50
  ci_kbd tap 18; ci_wait "$W/src.log" '^E 1 18 0' 100
  _free=$(grep -c '^E 1 18 ' "$W/src.log")
  echo "  after stop: relay gone=$_gone, devices/links left=$_left, source events seen by a reader: $_free"
  [ "$_gone" = yes ] && [ "$_left" = 0 ] && [ "$_free" -ge 1 ] || _bad="$_bad after-stop[gone=$_gone left=$_left free=$_free]"
  cs_cleanup
  if [ -n "$_bad" ]; then DETAIL="FAILED:$_bad"; return 1; fi
  DETAIL="relay pid $_rpid as nobody; A reached SeaBIOS, B after a replug (same QEMU fd on $_out), C held back while toggled, D after; relay and its device gone at stop"
}
