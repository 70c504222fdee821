#!/bin/sh
# The package as a user gets it: builds the Debian package from the tracked files (dpkg-buildpackage, tests
# off: test.sh ran them), lints it (lintian: an error fails), parses the RPM spec (rpmspec -P), installs the
# .deb on this machine, runs `vfioctl demo` and `vfioctl check` from /usr/bin, purges it and compares the
# file lists before and after: nothing may be left behind. Run as root; part of scripts/test.sh. Prints
# TAP lines and ends with "package: N passed, N failed".
set -u
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
n=0; fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }
finish() { echo "1..$n"; echo "package: $((n - fail)) passed, $fail failed"; [ "$fail" = 0 ]; exit $?; }
[ "$(id -u)" = 0 ] || { not_ok "package check: needs root (it installs and purges the .deb)"; finish; }
for t in dpkg-buildpackage dh lintian rpmspec; do
  command -v "$t" >/dev/null || { not_ok "package check: $t missing (scripts/install-deps.sh installs it)"; finish; }
done
if dpkg-query -W -f='${Status}' vfioctl 2>/dev/null | grep -q "install ok"; then
  not_ok "package check: vfioctl is installed already (dpkg --purge vfioctl first)"; finish
fi
T=$(mktemp -d /tmp/vfioctl-package-XXXXXX)
trap 'dpkg-query -W vfioctl >/dev/null 2>&1 && dpkg --purge vfioctl >/dev/null 2>&1; rm -rf "$T"' EXIT INT TERM

# 1. Build: the tracked files as they are in this tree (all files but build directories when this is no git
# checkout), in a directory of their own: the .deb lands beside it.
mkdir -p "$T/src/vfioctl"
if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
  git ls-files -z | tar --null -T - -cf - | tar -C "$T/src/vfioctl" -xf -
else
  tar --exclude='./build*' --exclude='./obj-*' --exclude='./tests/fuzz/crashes' -cf - . | tar -C "$T/src/vfioctl" -xf -
fi
t0=$(date +%s)
if (cd "$T/src/vfioctl" && DEB_BUILD_OPTIONS="nocheck parallel=$JOBS" dpkg-buildpackage -us -uc --build=full) \
    > "$T/build.log" 2>&1; then
  ok "dpkg-buildpackage builds vfioctl (source and binary) in $(( $(date +%s) - t0 )) s"
else
  tail -30 "$T/build.log" | sed 's/^/# /'; not_ok "dpkg-buildpackage failed"; finish
fi
DEB=$(ls "$T"/src/vfioctl_*.deb)
dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's/^/# deb: /'

# 2. lintian: errors fail; warnings are shown (README's Packaging section says which remain and why).
lintian --fail-on error --display-info --suppress-tags-from-file /dev/null "$T"/src/vfioctl_*.changes > "$T/lintian.log" 2>&1
rc=$?
sed 's/^/# lintian: /' "$T/lintian.log"
if [ $rc = 0 ]; then
  ok "lintian: no error ($(grep -c '^W:' "$T/lintian.log") warnings, $(grep -c '^I:' "$T/lintian.log") infos)"
else
  not_ok "lintian found errors (exit $rc)"
fi

# 3. The RPM spec parses.
if rpmspec -P contrib/rpm/vfioctl.spec > "$T/spec.out" 2> "$T/spec.err"; then
  ok "rpmspec -P contrib/rpm/vfioctl.spec parses"
else
  sed 's/^/# rpmspec: /' "$T/spec.err"; not_ok "rpmspec -P contrib/rpm/vfioctl.spec fails"
fi

# 4. Install, use, purge; the file lists of everything a package or vfioctl may write, before and after.
# apt's and dpkg's own bookkeeping, logs and temporary files are not the package's leftovers.
snapshot() {
  find /etc /usr /opt /srv /var /root /run/vfioctl /lib -xdev \
    \( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/cache/apt -o -path /var/cache/debconf \
       -o -path /var/cache/man -o -path /var/log -o -path /var/tmp -o -path /root/.cache/zsh \
       -o -path /var/cache/ldconfig -o -path /var/lib/systemd/timers -o -path /var/cache/vfioctl-testbed\* \
       -o -path /var/lib/vfioctl-test\* -o -path /root/.lesshst -o -path /root/.bash_history \) -prune \
    -o -print 2>/dev/null | grep -v '^/run/vfioctl/\(vbench\|test\)' | sort
}
# /run is a tmpfs: a fresh boot has no /run/vfioctl. Earlier suites run as root (benchmarks start VMs
# under the real /run/vfioctl) may leave it empty; purge removes an empty one, which would read as a
# change this check did not cause. Start from what a fresh boot has.
[ ! -d /run/vfioctl ] || rmdir /run/vfioctl 2>/dev/null || true
snapshot > "$T/before"
if dpkg -i "$DEB" > "$T/install.log" 2>&1; then
  ok "dpkg -i $(basename "$DEB")"
else
  sed 's/^/# /' "$T/install.log"; not_ok "dpkg -i $(basename "$DEB") failed (its Depends are in install-deps.sh)"; finish
fi
[ "$(command -v vfioctl)" = /usr/bin/vfioctl ] && ok "vfioctl is /usr/bin/vfioctl" || not_ok "vfioctl is not /usr/bin/vfioctl"
if /usr/bin/vfioctl demo > "$T/demo.log" 2>&1; then
  ok "/usr/bin/vfioctl demo: $(grep -c . "$T/demo.log") lines, ends: $(tail -1 "$T/demo.log")"
else
  sed 's/^/# demo: /' "$T/demo.log"; not_ok "/usr/bin/vfioctl demo failed"
fi
/usr/bin/vfioctl check --no-probe > "$T/check.log" 2>&1; rc=$?
# check exits 1 (warnings) or 2 (not ready: no IOMMU here) with a verdict: an answer, not a failure.
if [ $rc -le 2 ] && grep -q '^Verdict: ' "$T/check.log"; then
  ok "/usr/bin/vfioctl check --no-probe answers (exit $rc, $(grep -c . "$T/check.log") lines)"
else
  sed 's/^/# check: /' "$T/check.log"; not_ok "/usr/bin/vfioctl check --no-probe: exit $rc"
fi
if bash -c '. /usr/share/bash-completion/completions/vfioctl && complete -p vfioctl' > /dev/null 2>&1 &&
   [ -f /lib/systemd/system/vfioctl@.service ] && [ -f /usr/share/man/man1/vfioctl.1.gz ]; then
  ok "installed: bash completion loads, vfioctl@.service in /lib/systemd/system, vfioctl(1)"
else
  not_ok "installed files missing (completion, unit or man page)"
fi
dpkg --purge vfioctl > "$T/purge.log" 2>&1 && ok "dpkg --purge vfioctl" || { sed 's/^/# /' "$T/purge.log"; not_ok "dpkg --purge vfioctl failed"; }
snapshot > "$T/after"
if diff "$T/before" "$T/after" > "$T/left"; then
  ok "nothing left behind: $(wc -l < "$T/before") paths before install, the same after purge"
else
  sed 's/^/# /' "$T/left"; not_ok "the purge left the file lists different (> added, < removed)"
fi
finish
