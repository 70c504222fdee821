# Case 3: memory setup of a large guest: QEMU's prealloc with vfioctl's prealloc-threads vs QEMU's default single
# thread, against this machine's floor (bench/membw: memset bandwidth, time to touch N GiB of fresh pages).
# usage: memory.py VFIOCTL MEMBW OUT_MD RUNS SIZE_GIB
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

VFIOCTL, MEMBW, OUT, RUNS, GIB = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
WARMUP = 1 if RUNS > 1 else 0
NAME = "vbench-mem"
NCPU = os.cpu_count()
NR = "/proc/sys/vm/nr_hugepages"

work = tempfile.mkdtemp(prefix="vb-mem-", dir="/var/tmp")
os.chmod(work, 0o755)
huge = os.path.join(work, "huge")
reserved = 0
mounted = False
notes = []
res = {}


def read_int(path):
    with open(path) as f:
        return int(f.read().split()[0])


def hugepages_free():
    return read_int("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages")


def reserve(pages):
    """Adds PAGES 2 MiB hugepages to the pool (root only); returns how many were really added."""
    before = read_int(NR)
    with open(NR, "w") as f:
        f.write(str(before + pages))
    return read_int(NR) - before


def release():
    global reserved, mounted
    if mounted:
        subprocess.run(["umount", huge], check=False)
        mounted = False
    if reserved:
        cur = read_int(NR)
        with open(NR, "w") as f:
            f.write(str(max(cur - reserved, 0)))
        reserved = 0


def raw_start(argv, qmpdir):
    sock = os.path.join(qmpdir, "qmp.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    t0 = B.now()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(os.path.join(qmpdir, "log"), "a"),
                         **B.user_kwargs())
    q = B.QMP(sock, timeout=600, proc=p)
    q.cmd("cont")
    while q.cmd("query-status")["status"] != "running":
        time.sleep(0.001)
    t = B.now() - t0
    try:
        q.cmd("quit")
    except RuntimeError:
        pass
    p.wait()
    q.close()
    return t


def vrun(*args, check=True):
    return subprocess.run([VFIOCTL, *args], check=check, capture_output=True, text=True)


def timed(fn, *a):
    out = []
    for i in range(WARMUP + RUNS):
        t = fn(*a)
        if i >= WARMUP:
            out.append(t)
    return out


def vfioctl_start(conf):
    t0 = B.now()
    vrun("start", conf, "--detach")
    t = B.now() - t0
    st = json.loads(vrun("--json", "status", NAME).stdout)
    if st["state"] != "running":
        raise RuntimeError("vfioctl status: %s" % st["state"])
    vrun("stop", NAME, "--force")
    B.wait_gone(st["pid"], 60)
    return t


mode = "anonymous"
try:
    need = GIB * 512
    if B.as_root():
        if hugepages_free() < need:
            reserved = reserve(need - hugepages_free())
        if hugepages_free() >= need:
            os.makedirs(huge)
            subprocess.run(["mount", "-t", "hugetlbfs", "-o", "pagesize=2M,mode=1777", "none", huge], check=True)
            mounted = True
            mode = "hugepages"
        else:
            notes.append("Only %d of %d 2 MiB hugepages could be reserved (fragmented memory): anonymous memory."
                         % (hugepages_free(), need))
    elif hugepages_free() >= need and os.access("/dev/hugepages", os.W_OK):
        huge, mode = "/dev/hugepages", "hugepages"
    else:
        notes.append("Not root and fewer than %d free hugepages: anonymous memory." % need)

    mem = "[memory]\nsize = %dG\nprealloc = yes\nprealloc_threads = %d\n" % (GIB, NCPU)
    if mode == "hugepages":
        mem += "hugepages = 2M\nhugepage_path = %s\n" % huge
    conf = os.path.join(work, NAME + ".conf")
    base = os.path.join(work, "base.conf")  # without [vm] user: the argv of any vfioctl version
    for path, user in ((conf, "user = nobody\n" if B.as_root() else ""), (base, "")):
        with open(path, "w") as f:
            f.write("[vm]\naccel = tcg\n%s[firmware]\ntype = seabios\n[cpu]\nmodel = qemu64\nsockets = 1\n"
                    "cores = 2\nthreads = 1\n%s" % (user, mem))
        os.chmod(path, 0o644)
    qmpdir = os.path.join(work, "raw")
    os.makedirs(qmpdir)
    if B.as_root():
        os.chown(qmpdir, B.NOBODY, B.NOBODY)
    argv = B.replace_qmp(B.cmdline_argv(VFIOCTL, base), os.path.join(qmpdir, "qmp.sock")) + ["-S"]
    argv[0] = shutil.which(argv[0]) or argv[0]
    obj = next(a for a in argv if a.startswith("memory-backend-"))
    default = [a.replace(",prealloc-threads=%d" % NCPU, "") for a in argv]
    if obj == next(a for a in default if a.startswith("memory-backend-")):
        notes.append("`vfioctl cmdline` did not generate prealloc-threads=%d: both rows use QEMU's default." % NCPU)

    # the floor first, with the same pages QEMU gets
    floor = {}
    for n in sorted({1, NCPU}):
        samples, bw = [], []
        for i in range(WARMUP + RUNS):
            out = subprocess.run([MEMBW, str(GIB), str(n)] + (["hugetlb"] if mode == "hugepages" else []),
                                 check=True, capture_output=True, text=True).stdout
            kv = dict(line.split("=") for line in out.split())
            if i >= WARMUP:
                samples.append(float(kv["touch_s"]))
                bw.append(float(kv["memset_gbps"]))
        floor[n] = bw
        res["floor: touch %d GiB fresh %s pages, %d thread%s" % (GIB, "2M" if mode == "hugepages" else "4K", n,
                                                                   "s" if n > 1 else "")] = samples
    res["QEMU default prealloc (1 thread)"] = timed(raw_start, default, qmpdir)
    res["vfioctl's argv, prealloc-threads=%d (raw QEMU)" % NCPU] = timed(raw_start, argv, qmpdir)
    if "start" in vrun("--help").stdout:
        vrun("stop", NAME, "--force", check=False)
        res["vfioctl start --detach (prealloc-threads=%d, pinned)" % NCPU] = timed(vfioctl_start, conf)
    else:
        notes.append("This vfioctl has no start verb: the vfioctl start row is missing.")
finally:
    if "conf" in dir():
        vrun("stop", NAME, "--force", check=False)
    release()
    B.forget(VFIOCTL, NAME)
    shutil.rmtree(work, ignore_errors=True)

rows = list(res.items())
bw = ", ".join("%d thread%s %.1f GB/s" % (n, "s" if n > 1 else "", sorted(v)[len(v) // 2]) for n, v in floor.items())
with open(OUT, "w") as f:
    f.write("""### Memory setup of a {gib} GiB guest

Time from exec to QMP `query-status` running (after `cont`) of a TCG VM with {gib} GiB of {mode} memory,
`prealloc=on`: QEMU's default single-threaded prealloc vs the `prealloc-threads={n}` (one per host CPU) of a
vfioctl config with `[memory] prealloc = yes`, `prealloc_threads = {n}`{hp} (`vfioctl cmdline`: `{obj}`).
`vfioctl create` does not set `prealloc_threads` itself: vfioctl emits `prealloc-threads` only when the config
has the key. Floor: `bench/membw` touching one byte per page of {gib} GiB of fresh {pg} pages (the kernel
zeroes each page: the work prealloc makes it do), with 1 and {n} threads; memset bandwidth on faulted-in
memory (best of 5 passes of 512 MiB): {bw}. Median of {runs} runs after {w} warm-up; {machine}; {qemu}.
This machine is itself a VM (a Firecracker kernel): the first touch of guest-physical memory it has not used yet also faults in
the outer hypervisor, which makes the first runs slow and the spread wide.

{table}
{notes}""".format(gib=GIB, mode=mode, n=NCPU, hp=", `hugepages = 2M`" if mode == "hugepages" else "", obj=obj,
                  pg="2 MiB" if mode == "hugepages" else "4 KiB", bw=bw, runs=RUNS, w=WARMUP,
                  machine=B.machine_line(), qemu=B.qemu_version(),
                  table=B.table(rows, "QEMU default prealloc (1 thread)", unit="s", head="setup"),
                  notes="".join("\n" + n + "\n" for n in notes)))
