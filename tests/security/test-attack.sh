#!/bin/bash
# The VM user attacks root (issue 15). A real unprivileged user, made for this test, owns the VM's state
# directory, its QEMU directory and its disk directory, as on a real host. For every path root touches in
# those directories during start (OVMF vars and TPM preparation included), stop, snapshot
# create|rollback|delete and disk create, the user replaces it (and each parent directory it can replace)
# with a symlink, a hard link, a FIFO and a directory in turn; root then runs the verb. Afterwards nothing
# outside the user's directories may have changed owner, mode or content, no byte only root could read may
# have become readable by the user, and no verb may hang. Then races: the user swaps the paths in a loop
# while root runs the verbs again and again (bounded by ATTACK_RACE_SECONDS each).
#
# The hard links are made by root on the user's behalf: this host has fs.protected_hardlinks = 1, which
# stops users linking files they cannot write; hosts with it off let the user make exactly these links.
set -u
BIN=${VFIOCTL_BIN:?VFIOCTL_BIN not set (run through meson test)}
RACE_S=${ATTACK_RACE_SECONDS:-15}
FAILS=0 CHECKS=0
ok() { CHECKS=$((CHECKS + 1)); echo "ok $CHECKS - $1"; }
bad() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "not ok $CHECKS - $1"; }

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root (it creates a user and runs verbs as root)"; exit 77; }
for p in useradd userdel setpriv timeout /usr/bin/qemu-img qemu-system-x86_64; do
  command -v "$p" > /dev/null || { echo "1..0 # SKIP $p missing"; exit 77; }
done
CODE=/usr/share/OVMF/OVMF_CODE_4M.fd TEMPLATE=/usr/share/OVMF/OVMF_VARS_4M.fd
[ -f "$CODE" ] && [ -f "$TEMPLATE" ] || { echo "1..0 # SKIP no OVMF (apt-get install ovmf)"; exit 77; }
HAVE_TPM=0; [ -x /usr/bin/swtpm ] && HAVE_TPM=1

ATK=vfatk$$
T=$(mktemp -d /tmp/vfioctl-attack.XXXXXX)
chmod 0755 "$T"
RACER=
kill_user_procs() { # every process of the test's own user, by pid
  local uid p
  uid=$(id -u "$ATK" 2> /dev/null) || return 0
  for p in /proc/[0-9]*; do
    [ "$(awk '/^Uid:/ { print $2 }' "$p/status" 2> /dev/null)" = "$uid" ] && kill -9 "${p#/proc/}" 2> /dev/null
  done
  return 0
}
cleanup() {
  [ -n "$RACER" ] && kill "$RACER" 2> /dev/null
  for s in "$T"/run/vfioctl/*/status; do
    [ -f "$s" ] || continue
    for k in pid supervisor swtpm; do
      p=$(sed -n "s/^$k=//p" "$s"); [ "${p:-0}" -gt 0 ] && kill -9 "$p" 2> /dev/null
    done
  done
  kill_user_procs
  sleep 0.2
  userdel "$ATK" > /dev/null 2>&1
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
useradd --system --no-create-home --user-group --shell /usr/sbin/nologin "$ATK" || { echo "1..0 # SKIP useradd failed"; exit 77; }
AUID=$(id -u "$ATK")
as_atk() { setpriv --reuid="$ATK" --regid="$ATK" --clear-groups -- "$@"; }

# What the user must never reach: a file only root can read (in a directory it may traverse, so a chown or
# chmod of the file would show), a root file it can read but not write, a root directory, a root disk image.
SECRET="ROOTSECRET-$$-$RANDOM$RANDOM"
OUT=$T/outside
mkdir -p "$OUT/dir" && chmod 0711 "$OUT" && chmod 0755 "$OUT/dir"
printf '%s\n' "$SECRET" > "$OUT/secret" && chmod 0600 "$OUT/secret"
printf 'public\n' > "$OUT/public" && chmod 0644 "$OUT/public"
printf '%s\n' "$SECRET" > "$OUT/dir/inner" && chmod 0600 "$OUT/dir/inner"
/usr/bin/qemu-img create -q -f qcow2 "$OUT/rootdisk.qcow2" 1M && chmod 0600 "$OUT/rootdisk.qcow2"
/usr/bin/qemu-img snapshot -c s1 "$OUT/rootdisk.qcow2"
outside() { (cd "$OUT" && find . -printf '%p %U %G %m %y %s\n' | LC_ALL=C sort && find . -type f -exec sha256sum {} + | LC_ALL=C sort); }
outside > "$T/outside.0"

# The VM: a root-owned config (the trust decision passes) for the attacker's account, OVMF, TPM, a disk.
NAME=atk
CFG=$T/cfg/vfioctl/vms
mkdir -p "$CFG"
S=$T/var/lib/vfioctl/$NAME Q=$T/run/vfioctl/$NAME/qemu H=$T/home D=$T/home/disks
mkdir -p "$D" && chown -R "$ATK:$ATK" "$H" && chmod 0755 "$H" "$D"
as_atk /usr/bin/qemu-img create -q -f qcow2 "$D/$NAME.qcow2" 1M
{
  echo "[vm]"; echo "accel = tcg"; echo "user = $ATK"
  echo "[firmware]"; echo "type = ovmf"; echo "code = $CODE"; echo "vars_template = $TEMPLATE"
  echo "[cpu]"; echo "model = qemu64"; echo "sockets = 1"; echo "cores = 1"; echo "threads = 1"
  echo "[memory]"; echo "size = 128M"
  echo "[disk \"system\"]"; echo "path = $D/$NAME.qcow2"; echo "format = qcow2"
  [ $HAVE_TPM = 1 ] && echo "[tpm]"
} > "$CFG/$NAME.conf"
# The same VM with a second disk still to be made, for disk create.
{ cat "$CFG/$NAME.conf"; echo "[disk \"data\"]"; echo "path = $D/new.qcow2"; echo "format = qcow2"; } > "$CFG/${NAME}d.conf"
chmod 0644 "$CFG/$NAME.conf" "$CFG/${NAME}d.conf"
export XDG_CONFIG_HOME=$T/cfg
V() { timeout -s KILL 60 "$BIN" --root "$T" "$@"; }

stop_vm() { # stops whatever a case left running, by the recorded pids
  V stop "$NAME" --force > /dev/null 2>&1
  local s=$T/run/vfioctl/$NAME/status p k
  if [ -f "$s" ]; then
    for k in pid supervisor swtpm; do
      p=$(sed -n "s/^$k=//p" "$s"); [ "${p:-0}" -gt 0 ] && kill -9 "$p" 2> /dev/null
    done
  fi
  kill_user_procs
}

# One clean start and stop makes the state every later case starts from (vars copy, TPM state), plus a
# snapshot s1 to roll back and delete; kept aside and restored before each case.
V start "$NAME" --detach --paused > "$T/first.out" 2>&1; rc=$?
if [ $rc != 0 ]; then
  bad "the reference start works (rc=$rc): $(head -3 "$T/first.out" | tr '\n' ' ')"
  echo "1..$CHECKS"; exit 1
fi
stop_vm
V snapshot "$NAME" create s1 > "$T/first.out" 2>&1 || bad "the reference snapshot works: $(head -3 "$T/first.out" | tr '\n' ' ')"
# Item 4: a rollback as root leaves the vars file the VM user's (QEMU runs as that user and writes it).
V snapshot "$NAME" rollback s1 > "$T/first.out" 2>&1; rc=$?
owner=$(stat -c %U "$S/OVMF_VARS.fd" 2> /dev/null)
if [ $rc = 0 ] && [ "$owner" = "$ATK" ]; then ok "snapshot rollback as root leaves OVMF_VARS.fd owned by the VM user"
else bad "snapshot rollback as root (rc=$rc) left OVMF_VARS.fd owned by ${owner:-nobody}: $(head -2 "$T/first.out" | tr '\n' ' ')"; fi
mkdir -p "$T/pristine"
cp -a "$S" "$T/pristine/state" && cp -a "$H" "$T/pristine/home"
reset() {
  stop_vm
  rm -rf "$S" "$H"
  cp -a "$T/pristine/state" "$S" && cp -a "$T/pristine/home" "$H"
}

# After each case: the outside untouched, nothing root-only readable by the user, no QEMU left over.
judge() { # judge LABEL RC
  local label=$1 rc=$2 leak diff
  if [ "$rc" = 137 ] || [ "$rc" = 124 ]; then bad "$label: the verb hung (killed after 60 s)"; return; fi
  diff=$(diff "$T/outside.0" <(outside) | head -4 | tr '\n' ' ')
  leak=$(as_atk grep -rlaF "$SECRET" "$T" 2> /dev/null | head -3 | tr '\n' ' ')
  if [ -n "$diff" ]; then bad "$label: changed outside the user's directories: $diff"
  elif [ -n "$leak" ]; then bad "$label: root-only bytes readable by the user in: $leak"
  else ok "$label (rc=$rc)"; fi
  # A case that broke the outside must not break the next ones.
  if [ -n "$diff" ]; then
    rm -rf "$OUT"; mkdir -p "$OUT/dir" && chmod 0711 "$OUT" && chmod 0755 "$OUT/dir"
    printf '%s\n' "$SECRET" > "$OUT/secret" && chmod 0600 "$OUT/secret"
    printf 'public\n' > "$OUT/public" && chmod 0644 "$OUT/public"
    printf '%s\n' "$SECRET" > "$OUT/dir/inner" && chmod 0600 "$OUT/dir/inner"
    /usr/bin/qemu-img create -q -f qcow2 "$OUT/rootdisk.qcow2" 1M && chmod 0600 "$OUT/rootdisk.qcow2"
    /usr/bin/qemu-img snapshot -c s1 "$OUT/rootdisk.qcow2"
    outside > "$T/outside.0"
  fi
}

# replace PATH KIND: the user puts KIND where PATH was (a directory's replacement links to a directory).
replace() {
  local p=$1 kind=$2 isdir=0
  [ -d "$p" ] && [ ! -L "$p" ] && isdir=1
  as_atk rm -rf "$p" 2> /dev/null || { echo "# $p: the user cannot remove it"; return 1; }
  [ -e "$p" ] || [ -L "$p" ] && { echo "# $p: the user cannot remove it"; return 1; }
  case $kind in
    symlink) if [ $isdir = 1 ]; then as_atk ln -s "$OUT/dir" "$p"; else as_atk ln -s "$OUT/secret" "$p"; fi ;;
    hardlink)
      case $p in */*.qcow2) ln "$OUT/rootdisk.qcow2" "$p" ;; *) ln "$OUT/secret" "$p" ;; esac ;;
    fifo) as_atk mkfifo "$p" ;;
    dir) as_atk mkdir "$p" && as_atk ln -s "$OUT/secret" "$p/$(basename "$p")" ;;
  esac
}
KINDS="symlink hardlink fifo dir"
# For disk images the symlink points at a root image: root's qemu-img must not snapshot or roll it back.
replace_disk() {
  if [ "$2" = symlink ]; then as_atk rm -f "$1" && as_atk ln -s "$OUT/rootdisk.qcow2" "$1"; else replace "$@"; fi
}

run_start() { V start "$NAME" --detach --paused > "$T/case.out" 2>&1; local rc=$?; stop_vm; return $rc; }
ONLY=${ATTACK_ONLY:-.} # a regular expression: only the cases whose label matches (for working on one verb)
case_for() { # case_for VERB-LABEL PATH KIND PREP RUN...: one attack
  local label=$1 path=$2 kind=$3 prep=$4; shift 4
  [[ "$label" =~ $ONLY ]] || return 0
  reset
  [ "$prep" = started ] && { V start "$NAME" --detach --paused > /dev/null 2>&1 || echo "# $label: the start before the attack failed"; }
  if [ "$prep" = no-vars ]; then rm -f "$S/OVMF_VARS.fd"; fi
  if [ "$prep" = no-tpm ]; then rm -rf "$S/tpm"; fi
  case $path in *.qcow2) replace_disk "$path" "$kind" ;; *) replace "$path" "$kind" ;; esac || { ok "$label: $path cannot be replaced by the user"; return; }
  "$@" > "$T/case.out" 2>&1
  local rc=$?
  sed 's/^/#   /' "$T/case.out" | head -3
  judge "$label: ${path#"$T"/} replaced by a $kind" "$rc"
}

# --- start: OVMF vars and TPM preparation, the QEMU directory, the disks ------------------------------
for kind in $KINDS; do
  case_for "start" "$S/OVMF_VARS.fd" "$kind" - run_start
  case_for "start (vars still to be made)" "$S/OVMF_VARS.fd" "$kind" no-vars run_start
  [ $HAVE_TPM = 1 ] && case_for "start" "$S/tpm" "$kind" - run_start
  [ $HAVE_TPM = 1 ] && case_for "start (TPM directory still to be made)" "$S/tpm" "$kind" no-tpm run_start
  for f in qmp.sock ctl.sock console.sock console.log; do case_for "start" "$Q/$f" "$kind" - run_start; done
  case_for "start" "$D/$NAME.qcow2" "$kind" - run_start
  case_for "start" "$D" "$kind" - run_start
done
# The directories root keeps for itself cannot be replaced at all.
for p in "$S" "$Q" "$T/run/vfioctl/$NAME"; do
  if as_atk mv "$p" "$p.moved" 2> /dev/null; then bad "the user could move $p"; mv "$p.moved" "$p"; else ok "the user cannot move ${p#"$T"/}"; fi
done

# --- stop: the running VM's QEMU directory and state -------------------------------------------------
run_stop() { V stop "$NAME" --force; }
for kind in $KINDS; do
  for f in ctl.sock qmp.sock console.sock swtpm.sock console.log; do case_for "stop" "$Q/$f" "$kind" started run_stop; done
  [ $HAVE_TPM = 1 ] && case_for "stop" "$S/tpm" "$kind" started run_stop
done

# --- snapshot create, rollback, delete: the vars file, its copies, the disks and their directory -------
for kind in $KINDS; do
  for p in "$S/OVMF_VARS.fd" "$S/OVMF_VARS.fd.snap-s2" "$D/$NAME.qcow2" "$D"; do
    case_for "snapshot create" "$p" "$kind" - V snapshot "$NAME" create s2
  done
  for sub in rollback delete; do
    for p in "$S/OVMF_VARS.fd" "$S/OVMF_VARS.fd.snap-s1" "$D/$NAME.qcow2" "$D"; do
      case_for "snapshot $sub" "$p" "$kind" - V snapshot "$NAME" "$sub" s1
    done
  done
done

# --- disk create: the VM's missing disk and its directory ----------------------------------------------
for kind in $KINDS; do
  case_for "disk create" "$D/new.qcow2" "$kind" - V disk create "${NAME}d" --size 1M
  case_for "disk create" "$D" "$kind" - V disk create "${NAME}d" --size 1M
done

# --- log --console: root reads QEMU's console log --------------------------------------------------------
for kind in $KINDS; do
  case_for "log --console" "$Q/console.log" "$kind" - V log "$NAME" --console
done

# --- races: the user swaps paths in a loop while root runs the verb, bounded in time -------------------
# racer PATH...: each path in turn becomes a symlink to the secret (or, for directories, to $OUT/dir), a
# FIFO, the real thing again; also every temp name root makes next to them.
racer() {
  as_atk bash -c '
    out=$1; shift
    while :; do
      for p in "$@"; do
        d=$(dirname "$p")
        for t in "$p" "$d"/.#*; do
          [ -e "$t" ] || [ -L "$t" ] || [ "$t" = "$p" ] || continue
          if [ -d "$t" ] && [ ! -L "$t" ]; then mv -T "$t" "$t.real" 2> /dev/null && ln -sfn "$out/dir" "$t" && sleep 0.001 && rm -f "$t" && mv -T "$t.real" "$t" 2> /dev/null
          else mv -T "$t" "$t.real" 2> /dev/null; ln -sfn "$out/secret" "$t" 2> /dev/null; sleep 0.001; rm -f "$t"; mkfifo "$t" 2> /dev/null; rm -f "$t"; mv -T "$t.real" "$t" 2> /dev/null; fi
        done
      done
    done' _ "$OUT" "$@" &
  RACER=$!
}
race() { # race LABEL 'PATHS' RUN...: root repeats RUN for RACE_S seconds while the user swaps PATHS
  local label=$1 paths=$2 n=0 hung=0 end; shift 2
  [[ "race: $label" =~ $ONLY ]] || return 0
  reset
  # shellcheck disable=SC2086
  racer $paths
  end=$(($(date +%s) + RACE_S))
  while [ "$(date +%s)" -lt $end ]; do
    "$@" > /dev/null 2>&1; [ $? = 137 ] && hung=1
    n=$((n + 1))
  done
  kill "$RACER" 2> /dev/null; wait "$RACER" 2> /dev/null; RACER=
  kill_user_procs
  judge "race: $label, $n runs while the user swapped ${paths//$T\//}" "$([ $hung = 1 ] && echo 137 || echo 0)"
}
race "start" "$S/OVMF_VARS.fd $S/tpm $Q/qmp.sock" run_start
race "start (vars and TPM directory made while racing)" "$S/OVMF_VARS.fd $S/tpm" bash -c "rm -rf '$S/OVMF_VARS.fd' '$S/tpm'; timeout -s KILL 60 '$BIN' --root '$T' start $NAME --detach --paused; timeout -s KILL 60 '$BIN' --root '$T' stop $NAME --force"
race "snapshot create and delete" "$S/OVMF_VARS.fd $S/OVMF_VARS.fd.snap-r $D/$NAME.qcow2 $D" bash -c "timeout -s KILL 60 '$BIN' --root '$T' snapshot $NAME create r; timeout -s KILL 60 '$BIN' --root '$T' snapshot $NAME delete r"
race "snapshot rollback" "$S/OVMF_VARS.fd $S/OVMF_VARS.fd.snap-s1 $D/$NAME.qcow2 $D" V snapshot "$NAME" rollback s1
race "disk create" "$D/new.qcow2 $D" bash -c "rm -f '$D/new.qcow2'; timeout -s KILL 60 '$BIN' --root '$T' disk create ${NAME}d --size 1M"

echo "1..$CHECKS"
[ "$FAILS" = 0 ]
