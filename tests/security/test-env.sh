#!/bin/bash
# The caller's environment cannot steer a privileged vfioctl: XDG/HOME ignored under setuid (like
# VFIOCTL_ROOT), helpers run by absolute path whatever PATH says, and every fd the code opens is CLOEXEC.
set -u
BIN=${VFIOCTL_BIN:?VFIOCTL_BIN not set (run through meson test)}
SRC=${VFIOCTL_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d /tmp/vfioctl-sec-env.XXXXXX)
chmod 0755 "$T"
trap 'rm -rf "$T"' EXIT
FAILS=0 CHECKS=0
ok() { CHECKS=$((CHECKS + 1)); echo "ok $CHECKS - $1"; }
bad() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "not ok $CHECKS - $1"; }
# A check this build or machine cannot run is a TAP skip with its reason: the sanitizer build cannot exec
# setuid (the -Werror build of the same CI run makes that check); scripts/test.sh fails CI when the reason
# is a missing package.
skip() { CHECKS=$((CHECKS + 1)); echo "ok $CHECKS - $1 # SKIP $2"; }

# 1. setuid: a copy owned by nobody with the setuid bit; root running it gets AT_SECURE (uid != euid).
if [ "$(id -u)" = 0 ]; then
  cp "$BIN" "$T/vfioctl" && chown 65534:65534 "$T/vfioctl" && chmod 04755 "$T/vfioctl"
  if ! "$T/vfioctl" --version > /dev/null 2>&1; then
    skip "XDG_CONFIG_HOME/HOME ignored when setuid" "this build does not run setuid (sanitizer runtime)"
  else
    mkdir -p "$T/evil" "$T/evilhome" && chmod 0777 "$T/evil" "$T/evilhome"
    env XDG_CONFIG_HOME="$T/evil" HOME="$T/evilhome" XDG_STATE_HOME="$T/evil" \
      "$T/vfioctl" create --memory 2G --cpus 1 vmx > "$T/out" 2>&1; rc=$?
    if [ -z "$(find "$T/evil" "$T/evilhome" -mindepth 1 | head -1)" ]; then
      ok "XDG_CONFIG_HOME/HOME ignored when setuid (rc=$rc, nothing written where the caller pointed)"
    else
      bad "setuid vfioctl wrote where the caller's environment pointed: $(find "$T/evil" "$T/evilhome" -mindepth 1 | head -3 | tr '\n' ' ')"
    fi
  fi
else
  skip "XDG_CONFIG_HOME/HOME ignored when setuid" "needs root to chown a copy of the tool"
fi

# 2. No PATH lookup for helpers: a qemu-img first in PATH is never run.
if [ -x /usr/bin/qemu-img ]; then
  mkdir -p "$T/evilbin" "$T/xdg"
  printf '#!/bin/sh\ntouch "%s/evil-ran"\nexit 0\n' "$T" > "$T/evilbin/qemu-img"
  chmod 0755 "$T/evilbin/qemu-img"
  env PATH="$T/evilbin:$PATH" XDG_CONFIG_HOME="$T/xdg" XDG_STATE_HOME="$T/xdg" \
    "$BIN" create --memory 2G --cpus 1 --disk 1M vmp > "$T/out" 2>&1; rc=$?
  img=$T/xdg/vfioctl/vmp/system.qcow2
  if [ ! -e "$T/evil-ran" ] && [ $rc = 0 ] && /usr/bin/qemu-img info "$img" > /dev/null 2>&1; then
    ok "create --disk runs /usr/bin/qemu-img, not the one first in PATH"
  else
    bad "create --disk: rc=$rc, evil qemu-img ran: $([ -e "$T/evil-ran" ] && echo yes || echo no); $(head -2 "$T/out" | tr '\n' ' ')"
  fi
  env PATH="$T/evilbin:$PATH" "$BIN" disk create "$T/d.qcow2" --size 1M > "$T/out" 2>&1; rc=$?
  if [ ! -e "$T/evil-ran" ] && [ $rc = 0 ]; then ok "disk create runs /usr/bin/qemu-img, not PATH's"; else bad "disk create: rc=$rc, evil ran: $([ -e "$T/evil-ran" ] && echo yes || echo no)"; fi
else
  skip "helpers by absolute path" "no /usr/bin/qemu-img (apt-get install qemu-utils)"
fi
# Comment lines left out ("like execvp(3)").
if grep -rnE '\b(execvp|execlp|execvpe|posix_spawnp|system|popen)\s*\(' "$SRC/lib" "$SRC/tool" |
   grep -vE '^[^:]*:[0-9]+:\s*(\*|/\*|//)' > "$T/grep"; then
  bad "PATH-searching exec or shell in lib/ or tool/: $(head -3 "$T/grep" | tr '\n' ' ')"
else
  ok "no execvp/execlp/posix_spawnp/system/popen in lib/ or tool/"
fi

# Plain getenv only for what cannot steer a privileged run: colour, the terminal, and the unprivileged
# user's own PATH in lib/launch.c's exec_search. Everything else goes through secure_getenv.
if grep -rnE '(^|[^_a-z])getenv\s*\(' "$SRC/lib" "$SRC/tool" | grep -vE '^[^:]*:[0-9]+:\s*(\*|/\*|//)' |
   grep -vE 'getenv\("(NO_COLOR|TERM)"\)|launch\.c:.*privileged \? system_path : getenv\("PATH"\)' > "$T/grep"; then
  bad "getenv outside the allowed list (use secure_getenv): $(head -3 "$T/grep" | tr '\n' ' ')"
else
  ok "every other environment read is secure_getenv"
fi

# 3. CLOEXEC: every call that makes an fd says O_CLOEXEC/SOCK_CLOEXEC/"e" (statements joined across lines).
if python3 "$SRC/tests/security/check-cloexec.py" "$SRC/lib" "$SRC/tool" > "$T/cloexec" 2>&1; then
  ok "every fd-creating call in lib/ and tool/ is CLOEXEC ($(tail -1 "$T/cloexec"))"
else
  bad "fds without CLOEXEC: $(head -5 "$T/cloexec" | tr '\n' ' ')"
fi

# 4. Where another user can write (a VM's state, runtime, snapshot, vars, TPM directories), root works only
# through basic/safedir: no path-based chown/chmod/open/... in the files that act there (issue 15).
if python3 "$SRC/tests/security/check-safedir.py" "$SRC" > "$T/safedir" 2>&1; then
  ok "no path-based file call where another user can write ($(tail -1 "$T/safedir"))"
else
  bad "path-based file calls where another user can write: $(head -5 "$T/safedir" | tr '\n' ' ')"
fi

# 5. The program the boot-time bind unit runs as root (setup --vfioctl-path; guide writes its own path) must
# be one only root can change: a copy a user owns is refused before anything is planned. The selector
# matches no device, so even a setup that failed to refuse would stop at it and write nothing.
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$T/userbin" && cp "$BIN" "$T/userbin/vfioctl" && chown -R 65534:65534 "$T/userbin"
  "$BIN" setup --vfioctl-path "$T/userbin/vfioctl" 0000:ff:1f.7 > "$T/out" 2>&1; rc=$?
  if [ $rc = 77 ] && grep -q "userbin.*root would run this program at every boot" "$T/out"; then
    ok "setup --vfioctl-path of a program a user owns: refused (rc=77)"
  else
    bad "setup --vfioctl-path of a user's program: rc=$rc: $(head -2 "$T/out" | tr '\n' ' ')"
  fi
  "$BIN" setup --vfioctl-path "$BIN" 0000:ff:1f.7 > "$T/out" 2>&1; rc=$?
  if [ $rc != 77 ] && ! grep -q "every boot" "$T/out"; then
    ok "setup --vfioctl-path of root's own build passes that check (then stops at the selector, rc=$rc)"
  else
    bad "setup --vfioctl-path of root's build refused: rc=$rc: $(head -2 "$T/out" | tr '\n' ' ')"
  fi
else
  skip "a boot program a user owns is refused" "needs root (setup refuses non-root first)"
fi

echo "1..$CHECKS"
[ "$FAILS" = 0 ]
