#!/bin/bash
# Benchmark: `vfioctl devices` against the listings people use today, on one large sysfs tree.
#   1. the Arch wiki IOMMU-group loop calling `lspci -nns` once per device;
#   2. `lspci -nnk` (one call, no groups);
#   3. `vfioctl devices --json` and the default table.
# The tree replicates a root port and an endpoint captured from a real q35 + intel-iommu guest.
# usage: bench/devices.sh BUILD_DIR OUT_MD [RUNS] [DOMAINS PORTS]
set -euo pipefail
BUILD=${1:?build dir}; OUT=${2:?output markdown}; RUNS=${3:-10}; DOMAINS=${4:-2}; PORTS=${5:-128}
SRC=$(cd "$(dirname "$0")/.." && pwd)
TEMPLATE=$SRC/tests/data/sysfs/q35-viommu
PORT=$(jq -r '.port' "$SRC/bench/devices-template.json")
EP=$(jq -r '.endpoint' "$SRC/bench/devices-template.json")
TREE=$(mktemp -d /tmp/vfioctl-bench-XXXXXX)
trap 'rm -rf "$TREE"' EXIT
"${VFIOCTL_GEN_SYSFS_TREE:-$BUILD/tests/gen-sysfs-tree}" "$TEMPLATE" "$PORT" "$EP" "$TREE" "$DOMAINS" "$PORTS" >/dev/null
NDEV=$(ls "$TREE/sys/bus/pci/devices" | wc -l)
VFIOCTL=$BUILD/tool/vfioctl
LSPCI="lspci -A linux-sysfs -O sysfs.path=$TREE/sys/bus/pci"
# The Arch wiki loop ("Ensuring that the groups are valid"), pointed at the tree instead of /sys.
cat > "$TREE/archwiki.sh" <<LOOP
#!/bin/bash
shopt -s nullglob
for g in \$(find $TREE/sys/kernel/iommu_groups/* -maxdepth 0 -type d | sort -V); do
    echo "IOMMU Group \${g##*/}:"
    for d in \$g/devices/*; do
        echo -e "\t\$($LSPCI -nns \${d##*/})"
    done
done
LOOP
chmod +x "$TREE/archwiki.sh"
# Smoke: each command must produce a listing of every device before it is timed.
[ "$("$TREE/archwiki.sh" | grep -c '^	')" = "$NDEV" ] || { echo "archwiki loop listed the wrong count"; exit 1; }
[ "$($VFIOCTL --root "$TREE" devices --json | jq '[.groups[].devices[]] | length')" = "$NDEV" ] || { echo "vfioctl listed the wrong count"; exit 1; }
hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$TREE/h.json" \
  -n "archwiki-loop" "$TREE/archwiki.sh" \
  -n "lspci-nnk" "$LSPCI -nnk" \
  -n "vfioctl-json" "$VFIOCTL --root $TREE devices --json" \
  -n "vfioctl-table" "$VFIOCTL --root $TREE devices" >/dev/null 2>&1 || \
hyperfine --warmup 1 --runs "$RUNS" --export-json "$TREE/h.json" \
  -n "archwiki-loop" "$TREE/archwiki.sh" \
  -n "lspci-nnk" "$LSPCI -nnk" \
  -n "vfioctl-json" "$VFIOCTL --root $TREE devices --json" \
  -n "vfioctl-table" "$VFIOCTL --root $TREE devices" >/dev/null
{
  echo "### Host model: listing $NDEV PCI functions in $((NDEV)) IOMMU groups"
  echo
  echo "Tree: \`tests/harness/gen-sysfs-tree\` replicating root port $PORT and endpoint $EP of"
  echo "\`tests/data/sysfs/q35-viommu\` ($DOMAINS domains x $PORTS ports). Median of $RUNS runs after 1 warm-up (hyperfine)."
  echo
  echo "| command | median | min | max | vs vfioctl --json | noisy |"
  echo "|---|---|---|---|---|---|"
  jq -r '
    (.results[] | select(.command == "vfioctl-json") | .median) as $base
    | .results[] | [ .command, (.median * 1000 | . * 10 | round / 10 | tostring) + " ms",
        (.min * 1000 | . * 10 | round / 10 | tostring) + " ms", (.max * 1000 | . * 10 | round / 10 | tostring) + " ms",
        ((.median / $base) | . * 10 | round / 10 | tostring) + "x",
        (if (.max - .min) > 0.5 * .median then "yes (max-min > 50% of median)" else "" end) ]
    | "| " + join(" | ") + " |"' "$TREE/h.json"
  echo
  echo "Commands: archwiki-loop = the Arch wiki loop with \`lspci -nns\` per device; lspci-nnk = \`$LSPCI -nnk\` (no groups);"
  echo "vfioctl-json = \`vfioctl --root TREE devices --json\`; vfioctl-table = the default table."
} > "$OUT"
cat "$OUT"
