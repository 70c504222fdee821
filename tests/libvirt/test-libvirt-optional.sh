#!/bin/bash
# libvirt's client library is opened only by the verbs that talk to a daemon (export-libvirt --define,
# import-libvirt --connect): every other verb starts without its fifty dependencies, and where the library
# is missing those two verbs say what to install. The missing library is made real, not simulated: in a
# private mount namespace an empty file is mounted over libvirt.so.0, so the dynamic loader itself fails.
set -u
BIN=${VFIOCTL_BIN:?VFIOCTL_BIN not set (run through meson test)}
DATA=${VFIOCTL_TEST_DATA:?}
EX=${VFIOCTL_EXAMPLES:?}
ROOT=$DATA/sysfs/q35-viommu
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }
T=$(mktemp -d /tmp/vfioctl-libvirt-optional.XXXXXX)
trap 'rm -rf "$T"' EXIT

# 1. A verb that needs no daemon never loads the library (the loader's own account of what it opened).
LD_DEBUG=files "$BIN" --root "$ROOT" devices --json > "$T/devices.json" 2> "$T/ld.log"
if grep -q 'file=libvirt\.so' "$T/ld.log"; then
  not_ok "devices loads libvirt's client library: $(grep -m1 'file=libvirt' "$T/ld.log")"
elif [ "$(jq '[.groups[].devices[]] | length' "$T/devices.json")" -gt 0 ]; then
  ok "devices lists the fixture without loading libvirt.so"
else
  not_ok "devices listed nothing"
fi

# 2. With the library: export-libvirt --define reaches libvirt's in-process test driver (no daemon) and is
# answered by it (the example's devices are not among the test driver's node devices).
LD_DEBUG=files "$BIN" --root "$ROOT" export-libvirt "$EX/000-edi.conf" --define --connect test:///default \
  > "$T/with.out" 2> "$T/with.err"
if grep -q 'file=libvirt\.so' "$T/with.err" && grep -q "is not on test:///default" "$T/with.err"; then
  ok "export-libvirt --define loads libvirt.so when it connects and asks the test driver"
else
  sed 's/^/# /' "$T/with.err" | grep -v 'file=\|^# *[0-9]*:' | head -5; not_ok "export-libvirt --define did not reach libvirt's test driver"
fi

# A domain the connection does not have: libvirt's own words, not errno's "Input/output error".
"$BIN" import-libvirt --connect test:///default no-such-domain -o "$T/nosuch.conf" > /dev/null 2> "$T/nosuch.err"
rc=$?
if [ $rc = 1 ] && grep -q "no-such-domain: Domain not found" "$T/nosuch.err" && ! [ -e "$T/nosuch.conf" ]; then
  ok "import-libvirt --connect of a missing domain says libvirt's reason"
else
  sed 's/^/# /' "$T/nosuch.err"; not_ok "import-libvirt --connect of a missing domain: exit $rc"
fi

# 3. Without the library: a clear error naming the package, nothing written, no crash.
LIB=$(ldconfig -p | awk '/libvirt\.so\.0 /{print $NF; exit}')
if [ "$(id -u)" != 0 ] || [ -z "$LIB" ] || ! unshare -m true 2> /dev/null; then
  echo "ok $((n + 1)) # SKIP needs root and unshare -m to hide libvirt.so.0"; n=$((n + 1))
else
  REAL=$(readlink -f "$LIB")
  for verb in "export-libvirt $EX/000-edi.conf --define --connect test:///default" \
              "import-libvirt --connect test:///default test -o $T/imported.conf"; do
    # shellcheck disable=SC2086
    unshare -m bash -c 'mount --make-rprivate / && mount --bind /dev/null "$1" && shift && exec "$@"' \
      _ "$REAL" "$BIN" --root "$ROOT" $verb > "$T/without.out" 2> "$T/without.err"
    rc=$?
    if [ $rc -ne 0 ] && [ $rc -lt 128 ] &&
       grep -q "libvirt's client library (libvirt.so.0) cannot be loaded: .*install it (Debian: libvirt0" "$T/without.err" &&
       ! [ -e "$T/imported.conf" ]; then
      ok "${verb%% *} without libvirt.so.0: exit $rc, says to install libvirt0"
    else
      sed 's/^/# /' "$T/without.err"; not_ok "${verb%% *} without libvirt.so.0: exit $rc"
    fi
  done
fi
echo "1..$n"
[ "$fail" = 0 ]
