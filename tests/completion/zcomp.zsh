#!/bin/zsh -f
# zcomp.zsh SCRIPT LINE: what the zsh completion SCRIPT (vfioctl completion zsh) offers at the end of LINE,
# one candidate per line. zsh's completion widgets run only inside the line editor, so the few it calls
# are stood in for by functions that print what they were given, filtered by the word being completed as
# zsh does: compadd (its words), _describe (the names of its list), _files, _users, _groups (a marker).
compadd() {
  local -a out
  while (( $# )); do
    case $1 in
      -a) out+=(${(P)2}); shift 2 ;;
      -d) shift 2 ;;
      --) shift; out+=("$@"); break ;;
      -*) shift ;;
      *) out+=("$1"); shift ;;
    esac
  done
  print -rl -- ${(M)out:#${words[CURRENT]}*}
}
_describe() { local -a l=(${(P)${@[-1]}}); l=(${l%%:*}); print -rl -- ${(M)l:#${words[CURRENT]}*} }
_files() { [[ $1 == -/ ]] && print '<dirs>' || print '<files>' }
_users() { print '<users>' }
_groups() { print '<groups>' }
source <(sed '$d' $1)   # all but its last line, which would run the completion at once
words=(${(z)2})
[[ $2 == *' ' ]] && words+=('')
CURRENT=${#words}
_vfioctl
