#!/bin/bash
# vfioctl guide on a terminal: driven under tmux (send-keys, capture-pane) on a copy of the q35 capture
# dressed as Debian, below --root (nothing on this host changes). It shows each step's changes and asks;
# "n" stops with nothing of that step changed, "y" applies it (verified: the files are there).
set -uo pipefail
BIN=${VFIOCTL_BIN:?}; DATA=${VFIOCTL_TEST_DATA:?}
command -v tmux >/dev/null || { echo "1..0 # SKIP tmux is not installed (scripts/install-deps.sh installs it)"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/vfioctl-guide-tmux.XXXXXX")
SOCK=vfioctl-guide-tmux-$$
N=0; FAILS=0
cleanup() { tmux -L "$SOCK" kill-server 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
ok() { N=$((N + 1)); echo "ok $N - $1"; }
not_ok() { N=$((N + 1)); FAILS=$((FAILS + 1)); echo "not ok $N - $1"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

# root DIR: the capture as a Debian host with QEMU, OVMF and the VM user already there.
mkroot() {
  local R=$1
  cp -a "$DATA/sysfs/q35-viommu/." "$R/"
  (cd "$R" && xargs -r mkdir -p < .empty-dirs 2>/dev/null)
  mkdir -p "$R/etc/default" "$R/usr/sbin" "$R/usr/bin" "$R/usr/share/OVMF" "$R/etc/initramfs-tools"
  printf 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\n' > "$R/etc/default/grub"
  sed -i 's/intel_iommu=on iommu=pt/quiet/' "$R/proc/cmdline"   # a host not set up yet
  printf 'root:x:0:0:root:/root:/bin/bash\nvm-win:x:990:990::/nonexistent:/usr/sbin/nologin\n' > "$R/etc/passwd"
  printf 'root:x:0:\nkvm:x:994:vm-win\nvm-win:x:990:\n' > "$R/etc/group"
  for f in usr/sbin/update-initramfs usr/sbin/update-grub usr/bin/apt-get usr/bin/qemu-system-x86_64 \
           usr/share/OVMF/OVMF_CODE_4M.fd usr/share/OVMF/OVMF_VARS_4M.fd; do : > "$R/$f"; done
}
digest() { (cd "$1" && find . -printf '%p %y %m %l\n' | LC_ALL=C sort && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum); }

# run NAME ROOT: guide in a tmux window of its own; its exit status lands in $T/NAME.rc
run() {
  tmux -L "$SOCK" new-session -d -s "$1" -x 220 -y 60 \
    "env NO_COLOR=1 TERM=xterm '$BIN' --root '$2' guide win --gpu 0000:03:00.0 --memory 2G; echo \$? > '$T/$1.rc'; sleep 600"
}
# wait_for NAME TEXT: until the pane shows TEXT (bounded: 60 s)
wait_for() {
  local i
  for i in $(seq 1 600); do
    tmux -L "$SOCK" capture-pane -p -t "$1" -S -200 > "$T/$1.pane" 2>/dev/null
    grep -qF -- "$2" "$T/$1.pane" && return 0
    sleep 0.1
  done
  echo "# $1: no '$2' on the screen after 60 s:"; sed 's/^/#   /' "$T/$1.pane"
  return 1
}
wait_rc() { local i; for i in $(seq 1 600); do [ -s "$T/$1.rc" ] && return 0; sleep 0.1; done; return 1; }

# 1. "n" at the first change: the plan was shown, nothing changed.
mkdir "$T/r1"; mkroot "$T/r1"; digest "$T/r1" > "$T/r1.before"
run no "$T/r1"
check "the terminal shows the setup step with its files before asking" wait_for no "Do step 5 of 10 (setup)? [Y/n]"
check "the diff of the udev rule is on the screen" grep -qF '+SUBSYSTEM=="vfio", KERNEL!="vfio", GROUP="kvm", MODE="0660"' "$T/no.pane"
check "steps already done are shown done (the VM user exists)" grep -qF '[4/10] The VM user: done' "$T/no.pane"
tmux -L "$SOCK" send-keys -t no n Enter
check "answering n ends the guide" wait_rc no
check "... with exit status 1" [ "$(cat "$T/no.rc" 2>/dev/null)" = 1 ]
wait_for no "Stopped before step 5" >/dev/null
check "... saying nothing of the step was changed" grep -qF "Stopped before step 5; nothing of it was changed. Run vfioctl guide win again to go on." "$T/no.pane"
digest "$T/r1" > "$T/r1.after"
check "the root is byte-identical after 'n'" cmp -s "$T/r1.before" "$T/r1.after"

# 2. "y" (Enter takes the default): setup's files are written, then the next step asks again.
mkdir "$T/r2"; mkroot "$T/r2"
run yes "$T/r2"
wait_for yes "Do step 5 of 10 (setup)? [Y/n]" >/dev/null
tmux -L "$SOCK" send-keys -t yes Enter
check "after the answer, step 5 is done (verified on the root)" wait_for yes "[5/10] Write the host setup (vfioctl setup; setup --undo reverses it): done"
check "the next step asks in turn" wait_for yes "Do step 6 of 10 (boot)? [Y/n]"
check "the udev rule is written below the root" grep -qF 'GROUP="kvm", MODE="0660"' "$T/r2/etc/udev/rules.d/90-vfioctl.rules"
check "the boot-time unit is enabled by its link" [ "$(readlink "$T/r2/etc/systemd/system/sysinit.target.wants/vfioctl-bind.service")" = ../vfioctl-bind.service ]
check "the initramfs module list is written" grep -qx vfio_pci "$T/r2/etc/initramfs-tools/modules"
check "the kernel command line is in /etc/default/grub" grep -qxF 'GRUB_CMDLINE_LINUX_DEFAULT="quiet intel_iommu=on iommu=pt"' "$T/r2/etc/default/grub"
tmux -L "$SOCK" send-keys -t yes y Enter
# Below --root the host's tools are not run: the guide stops and says where to run them.
check "the boot step stops below --root, naming the command" wait_for yes "commands are not run below --root"
wait_rc yes; check "... with exit status 1" [ "$(cat "$T/yes.rc" 2>/dev/null)" = 1 ]

# 3. A second run resumes: what is done shows done, it asks for the step after.
run again "$T/r2"
check "a second run shows setup done and asks for the boot step" wait_for again "Do step 6 of 10 (boot)? [Y/n]"
check "... with step 5 shown done" grep -qF "[5/10] Write the host setup (vfioctl setup; setup --undo reverses it): done" "$T/again.pane"
tmux -L "$SOCK" send-keys -t again n Enter; wait_rc again

# 4. Without --gpu a terminal is asked which GPU: the boot display is listed as not possible, with why.
mkdir "$T/r3"; mkroot "$T/r3"
tmux -L "$SOCK" new-session -d -s pick -x 220 -y 60 \
  "env NO_COLOR=1 TERM=xterm '$BIN' --root '$T/r3' guide win --memory 2G; echo \$? > '$T/pick.rc'; sleep 600"
check "without --gpu it asks which GPU, auto's choice the default" wait_for pick "GPU [1]:"
check "... listing the GPU that can be passed" grep -qF "1) 0000:03:00.0" "$T/pick.pane"
check "... and the boot display as not possible, with the reason" grep -qF "2) 0000:00:01.0 Device 1234:1111 [1234:1111], IOMMU group 1: not possible, the boot display: the host would lose its screen" "$T/pick.pane"
tmux -L "$SOCK" send-keys -t pick Enter
check "the answer is the GPU of the plan" wait_for pick "vfioctl guide win: 10 steps, VM user vm-win, GPU 0000:03:00.0"
wait_for pick "Do step 5 of 10 (setup)? [Y/n]" >/dev/null
tmux -L "$SOCK" send-keys -t pick n Enter; wait_rc pick

echo "1..$N"
[ "$FAILS" = 0 ]
