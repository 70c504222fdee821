#!/bin/bash
# test-install.sh BUILD EXPECTED KEY=DIR...: `meson install --destdir` stages exactly the files of EXPECTED
# (with each @KEY@ replaced by its DIR), nothing outside DESTDIR, and what it stages works: the unit runs
# the installed binary, the completion scripts are the binary's own, the binary runs.
set -uo pipefail
BUILD=$1; EXPECTED=$2; shift 2
n=0; fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

T=$(mktemp -d /tmp/vfioctl-install-$$-XXXXXX); trap 'rm -rf "$T"' EXIT
declare -A dir
for kv in "$@"; do dir[${kv%%=*}]=${kv#*=}; done
subst() { local l=$1 k; for k in "${!dir[@]}"; do l=${l//@$k@/${dir[$k]}}; done; printf '%s\n' "$l"; }

DESTDIR= meson install -C "$BUILD" --no-rebuild --quiet --destdir "$T/stage" > "$T/install.log" 2>&1
rc=$?
sed 's/^/# /' "$T/install.log" | tail -5
check "meson install --destdir exits 0" [ $rc = 0 ]

grep -v '^#' "$EXPECTED" | while read -r kind path; do subst "$kind $path"; done | sort > "$T/want"
( cd "$T/stage" && find . \( -type f -o -type l \) -printf 'f /%P\n' && find . -mindepth 1 -type d -empty -printf 'd /%P\n' ) |
  sed 's|/\./|/|' | sort > "$T/got"
if diff -u "$T/want" "$T/got" > "$T/diff"; then
  ok "the staged tree is exactly the expected list ($(wc -l < "$T/got") entries)"
else
  not_ok "the staged tree differs from $EXPECTED"; sed 's/^/# /' "$T/diff"
fi

BIN=$T/stage${dir[bindir]}/vfioctl
check "the staged binary runs (--version)" bash -c '"$1" --version | grep -q "^vfioctl [0-9]"' _ "$BIN"
check "vfioctl@.service runs the installed binary (${dir[bindir]}/vfioctl)" \
  grep -qx "ExecStart=${dir[bindir]}/vfioctl start %i" "$T/stage${dir[unitdir]}/vfioctl@.service"
check "the bash completion is what the binary prints (vfioctl completion bash)" \
  cmp -s <("$BIN" completion bash) "$T/stage${dir[bashcompdir]}/vfioctl"
check "the zsh completion is what the binary prints (vfioctl completion zsh)" \
  cmp -s <("$BIN" completion zsh) "$T/stage${dir[zshcompdir]}/_vfioctl"
check "the installed bash completion loads and registers vfioctl" \
  bash -c 'source "$1" && complete -p vfioctl | grep -q "_vfioctl vfioctl"' _ "$T/stage${dir[bashcompdir]}/vfioctl"
echo "1..$n"
[ "$fail" = 0 ]
