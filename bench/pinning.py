# Case 4: pinning effect: in-guest CPU-bound and memory-latency micro-benchmarks, unpinned vs pinned by vfioctl.
# usage: pinning.py VFIOCTL GUESTBENCH KERNEL BUSYBOX OUT_MD RUNS tcg|kvm
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

VFIOCTL, GB, KERNEL, BUSYBOX, OUT, RUNS, ACCEL = sys.argv[1:8]
RUNS = int(RUNS)
WARMUP = 1 if RUNS > 1 else 0
NCPU = os.cpu_count()
VCPUS = 2

work = tempfile.mkdtemp(prefix="vb-pin-", dir="/var/tmp")
os.chmod(work, 0o755)
notes = []

INIT = """#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bench %d
/bin/busybox poweroff -f
""" % (WARMUP + RUNS)


def parse(text):
    text = text[text.rfind("guestbench start"):]  # the console log is appended to across boots: this boot only
    runs = [dict((k, float(v)) for k, v in re.findall(r"(\w+)=([\d.]+)", m))
            for m in re.findall(r"guestbench (run=.*)", text)]
    if len(runs) != WARMUP + RUNS:
        raise RuntimeError("the guest printed %d of %d runs:\n%s" % (len(runs), WARMUP + RUNS, text[-2000:]))
    return runs[WARMUP:]


def conf_text(pin):
    return """[vm]
accel = {accel}
{user}kernel = {k}
initrd = {i}
append = console=ttyS0 quiet panic=-1
[firmware]
type = seabios
[cpu]
model = {model}
sockets = 1
cores = {v}
threads = 1
{pin}[memory]
size = 256M
""".format(accel=ACCEL, user="user = nobody\n" if B.as_root() else "", k=KERNEL, i=initrd,
           model="host" if ACCEL == "kvm" else "qemu64", v=VCPUS, pin=pin)


def run_raw(conf):
    argv = B.cmdline_argv(VFIOCTL, conf)
    argv[0] = shutil.which(argv[0]) or argv[0]
    argv = B.replace_qmp(argv, os.path.join(rawdir, "qmp.sock"))
    log = os.path.join(rawdir, "console.log")
    if os.path.exists(log):
        os.unlink(log)
    t0 = B.now()
    subprocess.run(argv + ["-serial", "file:" + log], check=True, timeout=900, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, **B.user_kwargs())
    with open(log, errors="replace") as f:
        return parse(f.read()), B.now() - t0


def run_vfioctl(conf, name):
    import json
    subprocess.run([VFIOCTL, "stop", name, "--force"], capture_output=True)
    t0 = B.now()
    # --detach returns once the vCPUs are pinned and running; the guest powers off by itself when done
    subprocess.run([VFIOCTL, "start", conf, "--detach"], check=True, timeout=120, capture_output=True)
    st = json.loads(subprocess.run([VFIOCTL, "--json", "status", name], capture_output=True, text=True).stdout)
    pins = ", ".join("vCPU %d on host CPUs %s" % (v["vcpu"], v["cpus"]) for v in st.get("vcpus") or [])
    while st["state"] in ("running", "paused", "starting"):
        if B.now() - t0 > 900:
            raise RuntimeError("the guest of %s did not power off in 900 s" % name)
        time.sleep(0.2)
        st = json.loads(subprocess.run([VFIOCTL, "--json", "status", name], capture_output=True, text=True).stdout)
    t = B.now() - t0
    text = subprocess.run([VFIOCTL, "log", name, "--console"], check=True, capture_output=True, text=True).stdout
    return parse(text), t, pins or "none read back"


try:
    initrd = os.path.join(work, "initramfs.cpio.gz")
    with open(BUSYBOX, "rb") as f:
        bb = f.read()
    with open(GB, "rb") as f:
        gb = f.read()
    B.cpio(initrd, [("bin", 0o40755, b""), ("proc", 0o40755, b""), ("sys", 0o40755, b""), ("dev", 0o40755, b""),
                  ("bin/busybox", 0o100755, bb), ("bench", 0o100755, gb), ("init", 0o100755, INIT.encode())])
    os.chmod(initrd, 0o644)
    rawdir = os.path.join(work, "raw")
    os.makedirs(rawdir)
    if B.as_root():
        os.chown(rawdir, B.NOBODY, B.NOBODY)
    variants = [("unpinned (raw QEMU, same argv)", "", None)]
    variants.append(("vfioctl start, this host's plan", "", "vb-pin-plan"))
    if NCPU >= VCPUS:
        variants.append(("vfioctl start, [cpu] pin = %s" % " ".join(str(NCPU - VCPUS + i) for i in range(VCPUS)),
                         "pin = %s\n" % " ".join(str(NCPU - VCPUS + i) for i in range(VCPUS)), "vb-pin-fixed"))
    results = []
    for label, pin, name in variants:
        conf = os.path.join(work, (name or "vb-pin-raw") + ".conf")
        with open(conf, "w") as f:
            f.write(conf_text(pin))
        os.chmod(conf, 0o644)
        if name is None:
            runs, wall = run_raw(conf)
            pins = "kernel scheduler (no affinity)"
        else:
            runs, wall, pins = run_vfioctl(conf, name)
        results.append((label, runs, wall, pins))
finally:
    for n in ("vb-pin-plan", "vb-pin-fixed"):
        subprocess.run([VFIOCTL, "stop", n, "--force"], capture_output=True)
    B.forget(VFIOCTL, "vb-pin-plan")
    B.forget(VFIOCTL, "vb-pin-fixed")
    shutil.rmtree(work, ignore_errors=True)

lines = ["| variant | CPU loop, 1 vCPU | CPU loop, all %d vCPUs at once | memory latency | boot to power-off | noisy |"
         % VCPUS, "|---|---|---|---|---|---|"]
base = None
for label, runs, wall, pins in results:
    c1 = B.summarize([r["cpu1_ms"] for r in runs])
    ca = B.summarize([r["cpuall_ms"] for r in runs])
    ml = B.summarize([r["memlat_ns"] for r in runs])
    if base is None:
        base = (c1["median"], ca["median"], ml["median"])

    def cell(m, b, unit):
        return "%.1f %s (%.1f-%.1f, %.2fx)" % (m["median"], unit, m["min"], m["max"], m["median"] / b)

    noisy = ", ".join(n for n, m in (("1 vCPU", c1), ("all", ca), ("latency", ml)) if m["noisy"] and m["n"] > 1)
    lines.append("| %s | %s | %s | %s | %.1f s | %s |" % (label, cell(c1, base[0], "ms"), cell(ca, base[1], "ms"),
                                                          cell(ml, base[2], "ns"), wall, noisy))
with open(OUT, "w") as f:
    f.write("""### Pinning effect ({accel})

Guest: Debian's kernel ({kernel}) and a busybox initramfs whose `/init` runs `bench/guestbench` (static, built
on the host with `gcc -static`) {n} times and powers off; results from the serial console. 2 vCPUs, 256 MiB,
{accel}. Per run: a CPU-bound xorshift loop on one vCPU, the same loop on every vCPU at once (one process
pinned to each inside the guest), and a pointer chase through 32 MiB of randomly linked cache lines (ns per
load). Median (min-max, ratio vs unpinned) of {runs} runs after {w} warm-up inside one boot per variant;
{machine}; {qemu}.

{table}

Host pinning: {pins}.
{honest}
{notes}""".format(accel=ACCEL.upper(), kernel=os.path.basename(KERNEL), n=WARMUP + RUNS, runs=RUNS, w=WARMUP,
                  machine=B.machine_line(), qemu=B.qemu_version(), table="\n".join(lines),
                  pins=" | ".join("%s: %s" % (lab, p) for lab, _, _, p in results),
                  honest=("""
What TCG can and cannot show: TCG's vCPU threads are ordinary host threads, so the pinning is real (the
kernel enforces the affinity vfioctl set and read back), but on {ncpu} host CPUs the plan keeps a core for the
host and so plans no pinning at all for 2 vCPUs (`vfioctl create` warns: too few CPUs): its row is unpinned
in effect, so its distance from the first row is this machine's run-to-run noise. The explicit `[cpu] pin` row is what the plan does on a larger host, one vCPU per host CPU; here
QEMU's I/O and RCU threads share those same 2 CPUs. Emulation costs tens of host instructions per guest
instruction, and guest memory accesses go through TCG's software TLB, so the latency column measures QEMU's
softmmu, not the host's caches: differences within the min-max spread are noise. The figures that matter
come from `bench/pinning.sh --kvm` on a KVM host with more cores.
""".format(ncpu=NCPU) if ACCEL == "tcg" else ""),
                  notes="".join("\n" + n + "\n" for n in notes)))
