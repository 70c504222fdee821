# Case 5: resource use: peak RSS and CPU time of each vfioctl verb (wait4 rusage), the supervisor's RSS while a VM
# runs, and the input relay's latency as the VFIO test bed measured it.
# usage: resources.py RUSAGE VFIOCTL OUT_MD RUNS [ALT_VFIOCTL] [INPUT_LOG...]
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

RUSAGE, VFIOCTL, OUT, RUNS = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ALT = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else None
LOGS = sys.argv[6:]
WARMUP = 1 if RUNS > 1 else 0
NAME = "vbench-res"
work = tempfile.mkdtemp(prefix="vb-res-", dir="/var/tmp")
os.chmod(work, 0o755)
notes = []


def verbs_of(binary):
    out = subprocess.run([binary, "--help"], capture_output=True, text=True).stdout
    return set(re.findall(r"^  ([a-z][a-z-]*)", out, re.M))


BINS = [(VFIOCTL, verbs_of(VFIOCTL))] + ([(ALT, verbs_of(ALT))] if ALT else [])


def binary_for(verb):
    return next((b for b, v in BINS if verb in v), None)


def rusage(argv):
    """Runs argv under bench/rusage.c; returns (peak RSS KiB, user+sys CPU s, wall s, exit status, stderr)."""
    p = subprocess.run([RUSAGE, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    last = p.stderr.rstrip().splitlines()[-1]
    kv = dict(x.split("=") for x in last.split())
    return int(kv["maxrss_kb"]), float(kv["cpu_s"]), float(kv["wall_s"]), int(kv["status"]), p.stderr


def vrun(*args, check=True):
    return subprocess.run([VFIOCTL, *args], check=check, capture_output=True, text=True)


rows = []  # (verb label, rss list, cpu list, wall list)
missing = []
sup = {}
try:
    conf = os.path.join(work, NAME + ".conf")
    base = os.path.join(work, "base.conf")
    body = ("[vm]\naccel = tcg\n{u}[firmware]\ntype = seabios\n[cpu]\nmodel = qemu64\nsockets = 1\ncores = 2\n"
            "threads = 1\n[memory]\nsize = 256M\n")
    with open(conf, "w") as f:
        f.write(body.format(u="user = nobody\n" if B.as_root() else ""))
    with open(base, "w") as f:
        f.write(body.format(u=""))
    for c in (conf, base):
        os.chmod(c, 0o644)
    xml = os.path.join(work, "base.xml")
    imported = os.path.join(work, "imported.conf")
    exp = binary_for("export-libvirt")
    if exp:
        subprocess.run([exp, "export-libvirt", base, "-o", xml], check=True, capture_output=True)

    def one(label, verb, args, prep=None):
        b = binary_for(verb)
        if not b or (verb == "import-libvirt" and not os.path.exists(xml)):
            missing.append(label)
            return
        rss, cpu, wall = [], [], []
        for i in range(WARMUP + RUNS):
            if prep:
                prep()
            r, c, w, code, err = rusage([b, *args])
            if code not in (0, 1, 2, 3):  # check exits 2 ("not ready") on a host without an IOMMU: a complete run
                raise RuntimeError("%s exited %d: %s" % (label, code, err))
            if i >= WARMUP:
                rss.append(r)
                cpu.append(c)
                wall.append(w)
        rows.append((label, rss, cpu, wall))

    def rm_imported():
        if os.path.exists(imported):
            os.unlink(imported)

    one("devices", "devices", ["devices"])
    one("devices --json", "devices", ["--json", "devices"])
    one("check --no-probe", "check", ["check", "--no-probe"])
    one("validate", "validate", ["validate", base])
    one("cmdline", "cmdline", ["cmdline", base])
    one("export-libvirt", "export-libvirt", ["export-libvirt", base, "-o", os.path.join(work, "e.xml")])
    one("import-libvirt", "import-libvirt", ["import-libvirt", xml, "-o", imported], rm_imported)

    if binary_for("start"):
        vrun("stop", NAME, "--force", check=False)
        rss = {"start --detach": [], "status": [], "stop --force": []}
        cpu = {k: [] for k in rss}
        wall = {k: [] for k in rss}
        for i in range(WARMUP + RUNS):
            for label, args in (("start --detach", ["start", conf, "--detach"]), ("status", ["status", NAME]),
                                ("stop --force", ["stop", NAME, "--force"])):
                if label == "stop --force":
                    # the supervisor while the VM runs: its RSS now, after start has returned
                    st = json.loads(vrun("--json", "status", NAME).stdout)
                    if i >= WARMUP:
                        for who, pid in (("supervisor", st.get("supervisor")), ("QEMU (TCG, 256 MiB)", st.get("pid"))):
                            try:
                                with open("/proc/%d/status" % pid) as f:
                                    kb = int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M).group(1))
                                sup.setdefault(who, []).append(kb)
                            except (OSError, TypeError, AttributeError):
                                pass
                r, c, w, code, err = rusage([VFIOCTL, *args])
                if code not in (0, 3):
                    raise RuntimeError("%s exited %d: %s" % (label, code, err))
                if i >= WARMUP:
                    rss[label].append(r)
                    cpu[label].append(c)
                    wall[label].append(w)
        for k in rss:
            rows.append((k, rss[k], cpu[k], wall[k]))
    else:
        missing.append("start/status/stop (no start verb in %s)" % VFIOCTL)
finally:
    if binary_for("start"):
        vrun("stop", NAME, "--force", check=False)
    B.forget(VFIOCTL, NAME)
    shutil.rmtree(work, ignore_errors=True)


def med(v):
    return statistics.median(v)


lines = ["| verb | peak RSS | CPU time (user+sys) | wall | noisy |", "|---|---|---|---|---|"]
for label, rss, cpu, wall in rows:
    w = B.summarize(wall)
    lines.append("| `vfioctl %s` | %.1f MiB | %.1f ms | %.1f ms (%.1f-%.1f) | %s |" % (
        label, med(rss) / 1024, med(cpu) * 1000, w["median"] * 1000, w["min"] * 1000, w["max"] * 1000,
        "yes" if w["noisy"] and w["n"] > 1 else ""))
suprows = "\n".join("| %s | %.1f MiB (%.1f-%.1f) |" % (who, med(v) / 1024, min(v) / 1024, max(v) / 1024)
                    for who, v in sup.items())

# The input relay: this host has no uinput, so the figures are the VFIO test bed's (tests/vfio-e2e/cases-input.sh):
# the relay's own stats line, and the same reader timing taps on the keyboard's node (direct, as input-linux
# reads it without the relay) and on the relay's output, one pair per run.
stats, pairs = [], []
pair_re = re.compile(r"direct n=(\d+) median_us=(\d+) p90_us=(\d+) max_us=(\d+); "
                     r"relayed n=(\d+) median_us=(\d+) p90_us=(\d+) max_us=(\d+)")
for pattern in LOGS:
    for path in sorted(glob.glob(pattern)):
        try:
            with open(path, errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        for m in re.finditer(r"stats events=(\d+) latency_avg_us=([\d.]+) latency_max_us=([\d.]+)", text):
            stats.append((path, int(m.group(1)), float(m.group(2)), float(m.group(3))))
        for m in pair_re.finditer(text):
            pairs.append((path,) + tuple(int(g) for g in m.groups()))
stats, pairs = sorted(set(stats)), sorted(set(pairs))
uinput = os.path.exists("/dev/uinput")
relay = []
if pairs:
    direct, relayed = [p[2] for p in pairs], [p[6] for p in pairs]
    relay.append(
        "Side by side with direct input-linux (the same reader times {n} runs x {ev} events from the keyboard's "
        "write to its read: on the keyboard's own evdev node, as QEMU's input-linux reads it without the relay, "
        "then on the relay's output): direct median {d:.0f} µs (runs {dlo}-{dhi}), relayed median {r:.0f} µs "
        "(runs {rlo}-{rhi}), p90 up to {rp90} µs; **added by the relay {a:.0f} µs per event, ratio {x:.2f}x**."
        .format(n=len(pairs), ev=pairs[0][1], d=med(direct), dlo=min(direct), dhi=max(direct), r=med(relayed),
                rlo=min(relayed), rhi=max(relayed), rp90=max(p[7] for p in pairs),
                a=med(relayed) - med(direct), x=med(relayed) / max(med(direct), 1)))
if stats:
    avg = [s[2] for s in stats]
    relay.append(
        "The relay's own count (kernel timestamp of the source event to its write on uinput), {n} runs: "
        "latency_avg_us median {m:.0f} µs (range {lo:.0f}-{hi:.0f} µs), latency_max_us up to {mx:.0f} µs."
        .format(n=len(stats), m=med(avg), lo=min(avg), hi=max(avg), mx=max(s[3] for s in stats)))
if relay:
    srcs = sorted({"`%s`" % os.path.basename(x[0]) for x in stats + pairs})
    relay = ("Measured in the VFIO test bed by `tests/vfio-e2e/cases-input.sh` (nested TCG guest: the keyboard, "
             "the relay and the reader all run emulated, so absolute figures measure emulation; on real hardware "
             "expect far less). " + " ".join(relay) + " Sources: " + ", ".join(srcs) + ".")
else:
    relay = ("Not measured: no test bed log with the relay's figures was given (bench/resources.sh takes "
             "them from BUILD_DIR/meson-logs or VFIOCTL_BENCH_INPUT_LOGS; run `meson test -C build --suite "
             "vfio`).")

with open(OUT, "w") as f:
    f.write("""### Resource use

Peak RSS and CPU time of each verb from `wait4()`'s rusage of the child (`bench/rusage.c`: ru_maxrss, ru_utime + ru_stime),
median of {runs} runs after {w} warm-up; `devices` and `check` read this host (no GPU, {ndev} PCI functions);
the others use a 2-vCPU 256 MiB TCG config. `start --detach` is the launching process only: its
supervisor and QEMU are not its waited-for children. {machine}.

{table}

While the VM runs (`/proc/PID/status` VmRSS, PIDs from `vfioctl status --json`: `supervisor` and `pid`):

| process | VmRSS median (min-max) |
|---|---|
{sup}

Input relay (`vfioctl input relay`, latency added per event): this host has {uinput}. {relay}
{missing}""".format(runs=RUNS, w=WARMUP, ndev=len(os.listdir("/sys/bus/pci/devices")), machine=B.machine_line(),
                    table="\n".join(lines), sup=suprows or "| (not measured: no start verb) | |",
                    uinput="/dev/uinput" if uinput else "no `/dev/uinput` (no uinput module), so the relay cannot run here",
                    relay=relay,
                    missing=("\nNot measured (verb missing from the vfioctl builds given): %s.\n" % ", ".join(missing))
                    if missing else ""))
