#!/bin/bash
# Benchmark: `vfioctl devices` against the listings people use today, on large sysfs trees.
#   1. 512 functions: the Arch wiki IOMMU-group loop calling `lspci -nns` once per device, `lspci -nnk` (one
#      call, no groups), `vfioctl devices --json` and the default table;
#   2. 4096 functions: lspci -nnk against vfioctl --json and the table (the loop would take minutes);
#   3. scale: 64 -> 4096 functions, time per function of lspci -nnk and vfioctl --json.
# The trees replicate a root port and an endpoint captured from a real q35 + intel-iommu guest.
# usage: bench/devices.sh BUILD_DIR OUT_MD [RUNS] [MAX_FUNCTIONS]   (MAX_FUNCTIONS 4096; --smoke uses 512)
set -euo pipefail
BUILD=${1:?build dir}; OUT=${2:?output markdown}; RUNS=${3:-10}; MAX=${4:-4096}
SRC=$(cd "$(dirname "$0")/.." && pwd)
TEMPLATE=$SRC/tests/data/sysfs/q35-viommu
PORT=$(jq -r '.port' "$SRC/bench/devices-template.json")
EP=$(jq -r '.endpoint' "$SRC/bench/devices-template.json")
GEN=${VFIOCTL_GEN_SYSFS_TREE:-$BUILD/tests/gen-sysfs-tree}
VFIOCTL=$BUILD/tool/vfioctl
WORK=$(mktemp -d /tmp/vfioctl-bench-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# Trees by function count: DOMAINS x PORTS root ports, one endpoint each, every function in its own group.
declare -A SHAPE=([64]="1 32" [256]="1 128" [512]="2 128" [1024]="4 128" [4096]="16 128")
SIZES=()
for n in 64 256 512 1024 4096; do [ "$n" -le "$MAX" ] && SIZES+=("$n"); done
for n in "${SIZES[@]}"; do
  # shellcheck disable=SC2086
  "$GEN" "$TEMPLATE" "$PORT" "$EP" "$WORK/t$n" ${SHAPE[$n]} >/dev/null
  got=$(ls "$WORK/t$n/sys/bus/pci/devices" | wc -l)
  [ "$got" = "$n" ] || { echo "gen-sysfs-tree made $got functions, not $n"; exit 1; }
  # Smoke: each listing names every function before it is timed.
  [ "$($VFIOCTL --root "$WORK/t$n" devices --json | jq '[.groups[].devices[]] | length')" = "$n" ] || {
    echo "vfioctl listed the wrong count on $n functions"; exit 1; }
  [ "$(lspci -A linux-sysfs -O "sysfs.path=$WORK/t$n/sys/bus/pci" -nnk 2>/dev/null | grep -c '^[0-9a-f]')" = "$n" ] || {
    echo "lspci listed the wrong count on $n functions"; exit 1; }
done
lspci_of() { echo "lspci -A linux-sysfs -O sysfs.path=$WORK/t$1/sys/bus/pci -nnk"; }

# hyperfine JSON_OUT RUNS name command name command ...: -N (no shell) when it works here
hf() {
  local json=$1 runs=$2; shift 2
  local args=() n
  while [ $# -gt 0 ]; do args+=(-n "$1" "$2"); shift 2; done
  hyperfine -N --warmup 1 --runs "$runs" --export-json "$json" "${args[@]}" >/dev/null 2>&1 ||
    hyperfine --warmup 1 --runs "$runs" --export-json "$json" "${args[@]}" >/dev/null
}
# table JSON BASE: one row per command, ratio against BASE
table() {
  echo "| command | median | min | max | vs $2 | noisy |"
  echo "|---|---|---|---|---|---|"
  jq -r --arg base "$2" '
    (.results[] | select(.command == $base) | .median) as $b
    | .results[] | [ .command, (.median * 1000 | . * 10 | round / 10 | tostring) + " ms",
        (.min * 1000 | . * 10 | round / 10 | tostring) + " ms", (.max * 1000 | . * 10 | round / 10 | tostring) + " ms",
        ((.median / $b) | . * 100 | round / 100 | tostring) + "x",
        (if (.max - .min) > 0.5 * .median then "yes (max-min > 50% of median)" else "" end) ]
    | "| " + join(" | ") + " |"' "$1"
}

# 1. 512 functions, with the Arch wiki loop (pointed at the tree instead of /sys)
T=$WORK/t512
cat > "$WORK/archwiki.sh" <<LOOP
#!/bin/bash
shopt -s nullglob
for g in \$(find $T/sys/kernel/iommu_groups/* -maxdepth 0 -type d | sort -V); do
    echo "IOMMU Group \${g##*/}:"
    for d in \$g/devices/*; do
        echo -e "\t\$($(lspci_of 512 | sed 's/ -nnk$//') -nns \${d##*/})"
    done
done
LOOP
chmod +x "$WORK/archwiki.sh"
if [ -d "$T" ]; then
  [ "$("$WORK/archwiki.sh" | grep -c '^	')" = 512 ] || { echo "archwiki loop listed the wrong count"; exit 1; }
  hf "$WORK/h512.json" "$RUNS" archwiki-loop "$WORK/archwiki.sh" lspci-nnk "$(lspci_of 512)" \
    vfioctl-json "$VFIOCTL --root $T devices --json" vfioctl-table "$VFIOCTL --root $T devices"
fi
# 2. 4096 functions
if [ -d "$WORK/t4096" ]; then
  hf "$WORK/h4096.json" "$RUNS" lspci-nnk "$(lspci_of 4096)" \
    vfioctl-json "$VFIOCTL --root $WORK/t4096 devices --json" vfioctl-table "$VFIOCTL --root $WORK/t4096 devices"
fi
# 3. scale: lspci and vfioctl --json on every size, fewer runs each
SCALE_RUNS=$(( RUNS > 5 ? RUNS / 2 : RUNS ))
for n in "${SIZES[@]}"; do
  hf "$WORK/s$n.json" "$SCALE_RUNS" lspci-nnk "$(lspci_of "$n")" vfioctl-json "$VFIOCTL --root $WORK/t$n devices --json"
done

{
  echo "### Host model: listing PCI functions, each in its own IOMMU group"
  echo
  echo "Trees: \`tests/harness/gen-sysfs-tree\` replicating root port $PORT and endpoint $EP of"
  echo "\`tests/data/sysfs/q35-viommu\` (DOMAINS x 128 root ports, one endpoint each). Median of $RUNS runs after 1 warm-up"
  echo "(hyperfine); $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo). The ratio column is against \`lspci -nnk\`, which reads the same attributes but no IOMMU groups."
  if [ -f "$WORK/h512.json" ]; then
    echo
    echo "512 functions (2 domains):"
    echo
    table "$WORK/h512.json" lspci-nnk
  fi
  if [ -f "$WORK/h4096.json" ]; then
    echo
    echo "4096 functions (16 domains; the Arch wiki loop is left out: it runs \`lspci\` once per function):"
    echo
    table "$WORK/h4096.json" lspci-nnk
  fi
  echo
  echo "Scale: median time per function (median of $SCALE_RUNS runs over the function count), the same two commands on each tree:"
  echo
  echo "| functions | lspci -nnk per function | vfioctl devices --json per function | vfioctl / lspci |"
  echo "|---|---|---|---|"
  for n in "${SIZES[@]}"; do
    jq -r --argjson n "$n" '
      (.results[] | select(.command == "lspci-nnk") | .median) as $l
      | (.results[] | select(.command == "vfioctl-json") | .median) as $v
      | "| \($n) | \($l * 1e6 / $n | round) µs | \($v * 1e6 / $n | round) µs | \(($v / $l) * 100 | round / 100)x |"' "$WORK/s$n.json"
  done
  echo
  echo "Commands: archwiki-loop = the Arch wiki loop with \`lspci -nns\` per device; lspci-nnk = \`lspci -A linux-sysfs -O sysfs.path=TREE/sys/bus/pci -nnk\`;"
  echo "vfioctl-json = \`vfioctl --root TREE devices --json\`; vfioctl-table = the default table."
} > "$OUT"
cat "$OUT"
