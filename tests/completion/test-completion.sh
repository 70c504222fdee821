#!/bin/bash
# test-completion.sh VFIOCTL MAN FIXTURE: the bash completion that `vfioctl completion bash` prints, loaded
# into this bash and driven the way readline drives it (COMP_LINE, COMP_POINT, COMP_WORDS, COMP_CWORD),
# against a --root sysfs fixture and a config directory of our own. Also: the zsh script parses, and every
# option the completion offers is one vfioctl(1) documents and the verb accepts.
set -uo pipefail
VFIOCTL=$1; MAN=$2; FIXTURE=$3
n=0; fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }

T=$(mktemp -d /tmp/vfioctl-completion-$$-XXXXXX); trap 'rm -rf "$T"' EXIT
# As a user has it: vfioctl in PATH (the script runs the word the line starts with), configs in
# $XDG_CONFIG_HOME/vfioctl/vms, no runtime records of the real host.
mkdir -p "$T/bin" "$T/config/vfioctl/vms" "$T/runtime" "$T/cwd"
ln -s "$(cd "$(dirname "$VFIOCTL")" && pwd)/$(basename "$VFIOCTL")" "$T/bin/vfioctl"
printf '[vm]\nname = alpha\n' > "$T/config/vfioctl/vms/alpha.conf"
printf '[vm]\nname = beta\n' > "$T/config/vfioctl/vms/beta.conf"
: > "$T/config/vfioctl/vms/not-a-config.txt"
export PATH="$T/bin:$PATH" XDG_CONFIG_HOME="$T/config" XDG_RUNTIME_DIR="$T/runtime" HOME="$T"
unset VFIOCTL_ROOT
cd "$T/cwd" || exit 1
: > "$T/cwd/stray-file"

# shellcheck disable=SC1090
source <(vfioctl completion bash)
check "complete -p: bash completes vfioctl with the generated function" \
  [ "$(complete -p vfioctl 2>&1)" = "complete -F _vfioctl vfioctl" ]

# comp LINE: what TAB offers at the end of LINE, one candidate per line, sorted.
comp() {
  COMP_LINE=$1; COMP_POINT=${#COMP_LINE}
  # readline's own split: at blanks and at the characters of COMP_WORDBREAKS (a colon among them)
  local IFS=$' \t\n'
  read -r -a COMP_WORDS <<< "$(sed 's/:/ : /g' <<< "$COMP_LINE")"
  [[ $COMP_LINE == *' ' ]] && COMP_WORDS+=('')
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _vfioctl vfioctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]:-}"
  printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort
}
expect() { # what, line, expected candidates (one string, newline-separated)
  local got; got=$(comp "$2")
  if [ "$got" = "$3" ]; then ok "$1"; else
    not_ok "$1"; echo "# '$2<TAB>' offered:"; sed 's/^/#   /' <<< "$got"; echo "# wanted:"; sed 's/^/#   /' <<< "$3"
  fi
}

expect "vfioctl st<TAB>: start status stop" "vfioctl st" $'start\nstatus\nstop'
expect "vfioctl <TAB>: every verb of the table, completion included" "vfioctl " \
  "$(vfioctl --help | sed -n 's/^  \([a-z][a-z-]*\)\b.*/\1/p' | sort -u)"
# VM names: the configs, and VMs with a runtime record (one started from a file has no config by that
# name). A scratch root holds the records, so the host's running VMs stay out of the answer.
mkdir -p "$T/root/run/vfioctl/gamma" "$T/root/run/vfioctl/bind" "$T/root/run/vfioctl/no-record"
: > "$T/root/run/vfioctl/gamma/status"   # a record; bind/ (bind's notes) and an empty directory are none
expect "vfioctl --root R start <TAB>: configs and runtime records, no stray files" \
  "vfioctl --root $T/root start " $'alpha\nbeta\ngamma'
got=$(comp "vfioctl start ")
check "vfioctl start <TAB>: the config directory's VM names, and only VM names" \
  bash -c '[[ $1 == *alpha*beta* && $1 != *stray* && $1 != *not-a-config* ]]' _ "$got"
expect "vfioctl stop a<TAB>" "vfioctl --root $T/root stop a" "alpha"
expect "vfioctl start ./<TAB>: a path once the word is one" "vfioctl start ./" "./stray-file"
expect "vfioctl check --vm <TAB>: VM names as an option's value" "vfioctl --root $T/root check --vm " $'alpha\nbeta\ngamma'
expect "vfioctl create <TAB>: nothing (a new name)" "vfioctl create " ""
expect "vfioctl --color <TAB>" "vfioctl --color " $'always\nauto\nnever'
expect "vfioctl input <TAB>: its subcommands" "vfioctl input " $'list\nrelay'
expect "vfioctl snapshot <TAB>: a VM name or, the VM being optional, a subcommand" \
  "vfioctl --root $T/root snapshot " $'alpha\nbeta\ncreate\ndelete\ngamma\nlist\nrollback'
expect "vfioctl snapshot alpha <TAB>: the subcommands" "vfioctl --root $T/root snapshot alpha " $'create\ndelete\nlist\nrollback'
expect "vfioctl disk create --format <TAB>" "vfioctl disk create --format " $'qcow2\nraw\nzvol'

# Devices: every address below the fixture, and vendor:device IDs, exactly as `devices --json` names them.
ADDRS=$(vfioctl --root "$FIXTURE" devices --json | jq -r '[.. | .address? // empty] | unique[]')
IDS=$(vfioctl --root "$FIXTURE" devices --json | jq -r '[.. | objects | select(.address?) | "\(.vendor):\(.device)" | sub("0x"; ""; "g")] | unique[]')
check "the fixture has devices to complete ($(wc -l <<< "$ADDRS") addresses)" [ "$(wc -l <<< "$ADDRS")" -gt 5 ]
expect "vfioctl --root FIXTURE bind <TAB>: the fixture's device addresses and IDs" \
  "vfioctl --root $FIXTURE bind " "$(printf '%s\n%s\n' "$ADDRS" "$IDS" | sort -u)"
expect "vfioctl --root FIXTURE bind 0000:00:1<TAB>: bash replaces after the last colon" \
  "vfioctl --root $FIXTURE bind 0000:00:1" "$(grep '^0000:00:1' <<< "$ADDRS" | sed 's/^0000:00://')"
expect "vfioctl --root FIXTURE bind 0000:00:1b.0 <TAB>: more devices (SELECTOR...)" \
  "vfioctl --root $FIXTURE bind 0000:00:1b.0 " "$(printf '%s\n%s\n' "$ADDRS" "$IDS" | sort -u)"
expect "vfioctl --root FIXTURE create x --gpu <TAB>: devices and auto" \
  "vfioctl --root $FIXTURE create x --gpu " "$(printf '%s\n%s\nauto\n' "$ADDRS" "$IDS" | sort -u)"
expect "vfioctl bind --timeout <TAB>: a number, nothing offered" "vfioctl bind --timeout " ""

# Options: for every verb, those TAB offers after "--" are the ones vfioctl(1) lists in the verb's
# synopses (plus --help), and the verb's parser knows each of them.
for v in $(vfioctl --help | sed -n 's/^  \([a-z][a-z-]*\)\b.*/\1/p' | sort -u); do
  roff=".SS ${v//-/\\-}"
  man_opts=$(grep -F -- "$roff" "$MAN" | grep -E "^\.SS ${v//-/\\\\-}( |$)" | sed 's/\\-/-/g' |
    grep -oE '(^| |\[|\|)--?[a-z][a-z-]*' | sed 's/^[ [|]*//' | grep -v '^-o$' | sort -u)
  got=$(comp "vfioctl $v --" | grep -v '^--help$')
  if [ "$got" = "$(grep '^--' <<< "$man_opts")" ]; then ok "vfioctl $v --<TAB>: the options of vfioctl(1) .SS $v"; else
    not_ok "vfioctl $v --<TAB> differs from vfioctl(1):"; diff <(echo "$got") <(grep '^--' <<< "$man_opts") | sed 's/^/# /'
  fi
  for o in $got; do
    err=$(VFIOCTL_ROOT="$T/empty" vfioctl "$v" "$o=x" --no-such-option-zz 2>&1 < /dev/null)
    if grep -q "unrecognized option '$o" <<< "$err"; then not_ok "vfioctl $v does not accept $o, which completion offers"; fi
  done
done

# zsh: the same spec in zsh's own terms, driven by tests/completion/zcomp.zsh (zsh's completion
# builtins stood in for by functions that print what they are given).
vfioctl completion zsh > "$T/_vfioctl"
if command -v zsh > /dev/null; then
  check "the zsh completion parses (zsh -n) and starts with #compdef vfioctl" \
    bash -c 'zsh -n "$1" && [ "$(head -1 "$1")" = "#compdef vfioctl" ]' _ "$T/_vfioctl"
  zexpect() { # what, line, expected
    local got; got=$(zsh -f "$(dirname "$0")/zcomp.zsh" "$T/_vfioctl" "$2" | sort)
    if [ "$got" = "$3" ]; then ok "zsh: $1"; else
      not_ok "zsh: $1"; echo "# '$2<TAB>' offered:"; sed 's/^/#   /' <<< "$got"
    fi
  }
  zexpect "vfioctl st<TAB>: start status stop" "vfioctl st" $'start\nstatus\nstop'
  zexpect "vfioctl --root R start <TAB>: the VM names" "vfioctl --root $T/root start " $'alpha\nbeta\ngamma'
  zexpect "vfioctl --root FIXTURE bind <TAB>: the fixture's devices" \
    "vfioctl --root $FIXTURE bind " "$(printf '%s\n%s\n' "$ADDRS" "$IDS" | sort -u)"
  zexpect "vfioctl bind --<TAB>: its options" "vfioctl bind --" \
    "$(printf '%s\n' --with-group --force --dry-run --function-only --timeout --help | sort)"
  zexpect "vfioctl check --user <TAB>: user names" "vfioctl check --user " "<users>"
else
  skip "the zsh completion, run by zsh" "zsh missing (apt-get install zsh)"
fi
check "vfioctl completion fish: refused with the usage (exit 64)" \
  bash -c '"$1" completion fish 2>&1 | grep -q "usage: vfioctl completion bash|zsh"; [ "${PIPESTATUS[0]}" = 64 ]' _ "$VFIOCTL"

echo "1..$n"
[ "$fail" = 0 ]
