# Case 6: timer-loop jitter, pinned only vs pinned + isolated, from the test bed's serial log (bench/jitter.sh).
# usage: jitter.py SERIAL_LOG OUT_MD ROUNDS SECONDS RUN_RC KERNEL_VERSION
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

LOG, OUT, ROUNDS, SECS, RC, KV = sys.argv[1:7]
ROUNDS = int(ROUNDS)
SETUPS = [("pinned", "pinned only (`isolate = no`)"), ("isolated", "pinned + isolated (`isolate = yes`)")]

with open(LOG, errors="replace") as f:
    text = f.read()
case = re.search(r"@@@ CASE bench-jitter (PASS|FAIL) \[[\d.]+s\] (.*)", text)
if not case or case.group(1) != "PASS":
    sys.exit("jitter: the test bed's bench-jitter case %s (run.sh rc %s); its lines:\n%s" % (
        case.group(1) + ": " + case.group(2) if case else "did not finish", RC,
        "\n".join(re.findall(r".*@@@ (?:JITTER|CASE|TEST-END).*", text)) or text[-3000:]))

runs = {s: [] for s, _ in SETUPS}
evidence = {s: None for s, _ in SETUPS}
for m in re.finditer(r"@@@ JITTER (.*)", text):
    if not re.search(r"tsc_per_50ms=\d+ n=\d+ p50=\d+ p99=\d+ max=\d+ ", m.group(1)):
        sys.exit("jitter: a VM without its figures: %s" % m.group(0))
    f = dict(re.findall(r"(\w+)=(\[[^\]]*\]|\S+)", m.group(1)))
    us = 50000.0 / int(f["tsc_per_50ms"])  # microseconds per TSC tick: the guest counts ticks in 50 ms of the PIT
    runs[f["setup"]].append({"p50": int(f["p50"]) * us, "p99": int(f["p99"]) * us, "max": int(f["max"]) * us,
                             "n": int(f["n"]), "mhz": int(f["tsc_per_50ms"]) / 50000.0})
    evidence[f["setup"]] = "load before %s, while the VM ran %s, after %s" % (f["load_before"], f["load_running"],
                                                                              f["load_after"])
# the same figures twice would be one VM's console read for two (the bug a VM name per round prevents)
seen = {}
for m in re.finditer(r"@@@ JITTER round=(\d+) setup=(\w+) tsc_per_50ms=(\d+ n=\d+ p50=\d+ p99=\d+ max=\d+)", text):
    if m.group(3) in seen:
        sys.exit("jitter: round %s %s repeats the figures of %s" % (m.group(1), m.group(2), seen[m.group(3)]))
    seen[m.group(3)] = "round %s %s" % (m.group(1), m.group(2))
for s, _ in SETUPS:
    if len(runs[s]) != ROUNDS:
        sys.exit("jitter: %d of %d %s rounds in the log" % (len(runs[s]), ROUNDS, s))


def cell(vals):
    m = B.summarize(vals)
    c = "%s (%s-%s)" % (us_str(m["median"]), us_str(m["min"]), us_str(m["max"]))
    return c, m


def us_str(v):
    if v >= 10000:
        return "%.1f ms" % (v / 1000)
    return "%.0f µs" % v if v >= 100 else "%.2f µs" % v if v < 10 else "%.1f µs" % v


lines = ["| setup | p50 | p99 | max | iterations in 8 s | runs | vs pinned-only (p99, max) |",
         "|---|---|---|---|---|---|---|"]
base = None
noisy = []
for s, label in SETUPS:
    cells = {}
    for k in ("p50", "p99", "max"):
        cells[k] = cell([r[k] for r in runs[s]])
        if cells[k][1]["noisy"] and ROUNDS > 1:
            noisy.append("%s %s" % (s, k))
    if base is None:
        base = (cells["p99"][1]["median"], cells["max"][1]["median"])
    it = B.summarize([r["n"] for r in runs[s]])
    lines.append("| %s | %s | %s | %s | %d (%d-%d) | %d | %.2fx, %.2fx |" % (
        label, cells["p50"][0], cells["p99"][0], cells["max"][0], it["median"], it["min"], it["max"], ROUNDS,
        cells["p99"][1]["median"] / base[0],
        cells["max"][1]["median"] / base[1]))
mhz = sorted(r["mhz"] for s, _ in SETUPS for r in runs[s])

with open(OUT, "w") as f:
    f.write("""### Timer-loop jitter under host load: pinned vs pinned + isolated

In the VFIO test bed: nested TCG (the outer guest is QEMU TCG with 2 vCPUs on this machine, {machine}; its
kernel {kv} with cgroup v2; the VM inside it runs QEMU TCG too). {rounds} rounds in one run, each round one
VM of each setup, the order alternating. Before the first VM, one busy ordinary process per outer CPU
(`while :; do :; done`) starts and spins through every round. The VM: 1 vCPU pinned by `vfioctl start` as
its plan pins it on 2 CPUs (`vfioctl create --cpus 1` here: `pin = 1`, `emulator_pin = 0`; the outer guest
keeps CPU 0). Its guest, `bench/jitterguest.c`, is a bare Multiboot kernel (no guest OS) that for 8 s times
iterations of a fixed piece of work, 400 TSC reads each, and histograms their durations (p50 and p99 to
within 1/16, max exact). The TSC's rate comes from the emulated PIT (the shortest of 9 windows of 20 ms: a
window the host interrupts only reads long): {mhz}. Iterations in 8 s count how much of the time the loop
ran at all. Median (min-max) over the rounds; ratios are medians over the pinned-only medians. {secs} s for
the whole run.

{table}

Isolation checked in the same run, per VM, from the load processes' `Cpus_allowed_list`: pinned only: {ev_p};
isolated: {ev_i}. The case fails when the isolated VM's load may still use CPU 1, when the pinned-only VM's
load may not, or when the load has not got every CPU back after the VM ended.
{noisy}
What this shows and what it does not: under TCG the vCPU is an ordinary thread of the outer guest, so the
outer kernel's scheduler decides whether it shares CPU 1 with the load. Pinned only, the load's process on
CPU 1 takes its turns, and each turn the guest loses is one long iteration (p99, max) and fewer iterations;
isolated, the same already running processes were moved to CPU 0 while the VM ran. What the isolated row
still loses comes from below and beside the load: the outer guest's 2 vCPUs are threads on a 2-core machine
that other work shared during the run (and on which the outer CPU 0 spins with the load), and the outer
kernel's own work on CPU 1. Nested TCG makes each iteration far slower than native (p50), so absolute
figures say nothing about a KVM guest; the two rows side by side are what this run shows. Not covered: IRQ
steering (the VM passes no device through; isolation set only the default IRQ affinity here) and the
cpufreq governor (the test bed has no cpufreq).
""".format(machine=B.machine_line(), kv=KV, rounds=ROUNDS, mhz="%.0f-%.0f MHz" % (mhz[0], mhz[-1]),
           secs=SECS, table="\n".join(lines), ev_p=evidence["pinned"],
           ev_i=evidence["isolated"],
           noisy=("\nNoisy (max - min above half the median): %s.\n" % ", ".join(noisy)) if noisy else ""))
