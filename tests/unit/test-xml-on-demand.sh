#!/bin/bash
# libxml2 (and the ICU and libstdc++ it brings) is opened only by the verbs that read or write libvirt XML:
# `devices` and the other verbs start without it, and import-libvirt / export-libvirt still work. Checked
# with the dynamic loader's own account of the files it opened (LD_DEBUG=files).
set -u
BIN=${VFIOCTL_BIN:?VFIOCTL_BIN not set (run through meson test)}
DATA=${VFIOCTL_TEST_DATA:?}
EX=${VFIOCTL_EXAMPLES:?}
ROOT=$DATA/sysfs/q35-viommu
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }
T=$(mktemp -d /tmp/vfioctl-xml-on-demand.XXXXXX)
trap 'rm -rf "$T"' EXIT

# 1. devices lists the fixture and never opens libxml2, ICU or libstdc++. A sanitizer build's runtime
# brings libstdc++ itself (then --version, which no verb's code runs in, loads it too): only libxml2 and
# ICU are counted there.
libs='xml2\|icu[a-z]*\|stdc++'
if LD_DEBUG=files "$BIN" --version 2>&1 >/dev/null | grep -q 'file=libstdc++\.so'; then
  libs='xml2\|icu[a-z]*'
fi
LD_DEBUG=files "$BIN" --root "$ROOT" devices --json > "$T/devices.json" 2> "$T/ld.log"
loaded=$(grep -o "file=lib\\($libs\\)\\.so[.0-9]*" "$T/ld.log" | sort -u | tr '\n' ' ')
if [ -n "$loaded" ]; then
  not_ok "devices loads ${loaded}at start"
elif [ "$(jq '[.groups[].devices[]] | length' "$T/devices.json")" -gt 0 ]; then
  ok "devices lists the fixture without loading libxml2"
else
  not_ok "devices listed nothing"
fi

# 2. export-libvirt opens libxml2 when it builds the domain, and writes it.
LD_DEBUG=files "$BIN" --root "$ROOT" export-libvirt "$EX/001-overwatch.conf" -o "$T/ow.xml" \
  > "$T/export.out" 2> "$T/export.err"
rc=$?
if [ $rc = 0 ] && grep -q 'file=libxml2\.so' "$T/export.err" && grep -q '<name>001-overwatch</name>' "$T/ow.xml"; then
  ok "export-libvirt loads libxml2 and writes the domain"
else
  grep -v 'file=\|^ *[0-9]*:' "$T/export.err" | sed 's/^/# /' | head -5; not_ok "export-libvirt: exit $rc"
fi

# 3. import-libvirt reads that domain back (libxml2 opened by the parser).
"$BIN" --root "$ROOT" import-libvirt "$T/ow.xml" --dry-run > "$T/import.out" 2> "$T/import.err"
rc=$?
if [ $rc = 0 ] && grep -q '^machine = i440fx' "$T/import.out"; then
  ok "import-libvirt parses the exported domain"
else
  sed 's/^/# /' "$T/import.err" | head -5; not_ok "import-libvirt: exit $rc"
fi

echo "1..$n"
[ "$fail" = 0 ]
