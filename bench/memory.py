# Case 3: memory setup of a large hugepage guest: vfioctl start (which fills the guest RAM file with one thread per
# CPU before QEMU maps it, lib/run/prealloc.c) vs QEMU's own prealloc, single-threaded (its default) and with
# prealloc-threads, against this machine's floor (bench/membw: time to touch N GiB of fresh pages, 1 and N threads).
# usage: memory.py VFIOCTL MEMBW OUT_MD RUNS SIZE_GIB FACTORS   (FACTORS: the built bench/prealloc-factors.c)
import json
import re
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

VFIOCTL, MEMBW, OUT, RUNS, GIB = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
FACTORS = sys.argv[6]
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


alloc_lines = []
BARE = "QEMU, no prealloc (start without memory setup)"


def vfioctl_start(conf):
    t0 = B.now()
    vrun("start", conf, "--detach")
    t = B.now() - t0
    st = json.loads(vrun("--json", "status", NAME).stdout)
    if st["state"] != "running":
        raise RuntimeError("vfioctl status: %s" % st["state"])
    # What the row measured: who allocated the guest RAM (the VM log says), and QEMU's view of it.
    log = vrun("log", NAME, check=False).stdout
    alloc_lines.append(next((line.split("vfioctl: ", 1)[-1] for line in log.splitlines() if "guest RAM:" in line),
                            "no guest RAM line in the log"))
    md = json.loads(vrun("qmp", NAME, '{"execute":"query-memdev"}').stdout)
    mem = next(m for m in md if m["id"] == "mem")
    if not (mem["prealloc"] and mem["size"] == GIB << 30):
        raise RuntimeError("query-memdev: %s" % mem)
    vrun("stop", NAME, "--force")
    B.wait_gone(st["pid"], 60)
    return t


def qemu_trace_once(argv, data):
    """One QEMU run with prealloc threads under the mmap_lock and madvise tracepoints (perf): per populating
    thread (start, end, longest wait for the mmap_lock as a writer before its populate, when it began)."""
    sock = os.path.join(qmpdir, "qmp.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    events = ["mmap_lock:mmap_lock_start_locking", "mmap_lock:mmap_lock_acquire_returned",
              "syscalls:sys_enter_madvise", "syscalls:sys_exit_madvise"]
    cmd = ["perf", "record", "-q", "-o", data] + [x for e in events for x in ("-e", e)] + [
        "--", "setpriv", "--reuid=%d" % B.NOBODY, "--regid=%d" % B.NOBODY, "--clear-groups"] + argv
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(os.path.join(qmpdir, "log"), "a"))
    try:
        q = B.QMP(sock, timeout=600, proc=p)
        try:
            q.cmd("quit")
        except RuntimeError:
            pass
        q.close()
    finally:
        p.wait()
    out = subprocess.run(["perf", "script", "-i", data, "-F", "tid,time,event,trace"], capture_output=True,
                         text=True).stdout
    pop, waits, pending = {}, {}, {}
    for line in out.splitlines():
        f = line.split()
        if len(f) < 3:
            continue
        tid, t, ev = int(f[0]), float(f[1].rstrip(":")), f[2]
        # MADV_POPULATE_WRITE is 23 (0x17); QEMU's 2 MiB probe of the first page is not a thread's range
        if ev.startswith("syscalls:sys_enter_madvise") and "0x00000017" in line and "len_in: 0x00200000" not in line:
            pop[tid] = [t, None]
        elif ev.startswith("syscalls:sys_exit_madvise") and tid in pop and pop[tid][1] is None:
            pop[tid][1] = t
        elif ev.startswith("mmap_lock:mmap_lock_start_locking") and "write=true" in line and tid not in pop:
            pending[tid] = t
        elif ev.startswith("mmap_lock:mmap_lock_acquire_returned") and "write=true" in line and tid in pending:
            t1 = pending.pop(tid)
            if t - t1 > waits.get(tid, (0.0, 0.0))[0]:
                waits[tid] = (t - t1, t1)
    return sorted((v[0], v[1], waits.get(tid, (0.0, 0.0))) for tid, v in pop.items() if v[1] is not None)


def qemu_trace(argv, runs):
    """Markdown: how QEMU's prealloc threads ran in `runs` traced runs (not timed)."""
    if not shutil.which("perf") or not B.as_root():
        return "(QEMU's prealloc threads not traced: needs root and perf, apt-get install linux-perf)"
    serial, worst = 0, None
    for i in range(runs):
        th = qemu_trace_once(argv, os.path.join(work, "trace%d.data" % i))
        if len(th) < 2:
            return "(QEMU's prealloc threads traced: fewer than 2 populating threads seen)"
        overlap = min(e for _, e, _ in th) - max(s0 for s0, _, _ in th)
        if overlap <= 0:
            serial += 1
        wait = max(w[0] for _, _, w in th)
        if worst is None or wait > worst[0]:
            worst = (wait, th)
    t0 = worst[1][0][0]
    detail = "; ".join("thread %d populated from +%.3f s to +%.3f s%s" % (
        k, st - t0, en - t0, (" after waiting %.3f s for the mmap_lock as a writer (from +%.3f s)" % (w[0], w[1] - t0))
        if w[0] > 0.001 else "") for k, (st, en, w) in enumerate(worst[1], 1))
    return ("QEMU's prealloc threads under `perf record -e mmap_lock:* -e syscalls:sys_*_madvise` ({runs} runs of the "
            "raw QEMU `prealloc-threads={n}` row, not timed): in {serial} of {runs} the threads populated their ranges one "
            "after the other. The run with the longest wait: {detail}. `MADV_POPULATE_WRITE` holds the process's "
            "mmap_lock for reading over its whole range; each touch thread, before its own populate, maps memory "
            "(mmap, munmap, mprotect from the thread itself, as a malloc arena is made: traced with call stacks) and "
            "takes the lock for writing to do so, so it waits for the other thread's whole range. Whether it maps before or after the other starts populating is a race. vfioctl's allocator "
            "creates all its threads before any of them populates (`lib/run/prealloc.c`)."
            ).format(runs=runs, n=NCPU, serial=serial, detail=detail)


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

    # First touch of the pages just reserved: this machine is a VM whose hypervisor backs guest memory on first
    # use, so whichever row ran first would pay that too; after it every row finds backed pages.
    first = subprocess.run([MEMBW, str(GIB), str(NCPU)] + (["hugetlb"] if mode == "hugepages" else []),
                           check=True, capture_output=True, text=True).stdout
    first_touch = float(dict(line.split("=") for line in first.split())["touch_s"])

    rows_order = []
    floor = {n: [] for n in sorted({1, NCPU})}

    def floor_run(n):
        out = subprocess.run([MEMBW, str(GIB), str(n)] + (["hugetlb"] if mode == "hugepages" else []),
                             check=True, capture_output=True, text=True).stdout
        kv = dict(line.split("=") for line in out.split())
        floor[n].append(float(kv["memset_gbps"]))
        return float(kv["touch_s"])

    def factor_run(fmode, n):
        out = subprocess.run([FACTORS, fmode, str(GIB), str(n), huge], check=True, capture_output=True,
                             text=True).stdout
        kv = dict(line.split("=") for line in out.split())
        per_thread[(fmode, n)] = kv["threads_s"]
        return float(kv["seconds"])

    per_thread = {}
    variants = []
    for n in sorted({1, NCPU}):
        variants.append(("floor: touch %d GiB fresh %s pages, %d thread%s" % (
            GIB, "2M" if mode == "hugepages" else "4K", n, "s" if n > 1 else ""), floor_run, (n,)))
    # The same VM with no memory setup at all: what every start costs besides filling guest RAM. The second
    # table subtracts it, round by round, to compare the memory setup itself with the floor.
    bare = [a.replace(",prealloc=on", "").replace(",prealloc-threads=%d" % NCPU, "") for a in argv]
    if next(a for a in bare if a.startswith("memory-backend-")) == obj:
        notes.append("The backend had no prealloc=on to remove: the no-prealloc row is the same QEMU.")
    variants.append((BARE, raw_start, (bare, qmpdir)))
    variants.append(("QEMU default prealloc (1 thread)", raw_start, (default, qmpdir)))
    variants.append(("QEMU prealloc-threads=%d (raw QEMU)" % NCPU, raw_start, (argv, qmpdir)))
    if "start" in vrun("--help").stdout:
        vrun("stop", NAME, "--force", check=False)
        variants.append(("vfioctl start --detach (fills with %d threads, then QEMU)" % NCPU, vfioctl_start, (conf,)))
    else:
        notes.append("This vfioctl has no start verb: the vfioctl start row is missing.")
    factors = []
    if mode == "hugepages":
        for fmode, n in (("private-populate", 1), ("private-populate", NCPU), ("shared-populate", NCPU),
                         ("fallocate", 1), ("fallocate", NCPU)):
            factors.append(("%s, %d thread%s" % (fmode, n, "s" if n > 1 else ""), factor_run, (fmode, n)))
    fres = {}
    # Round robin: one run of every variant per round, so a drift of the machine over the minutes this takes
    # falls on every row alike.
    for i in range(WARMUP + RUNS):
        for name, fn, args in variants + factors:
            t = fn(*args)
            if i >= WARMUP:
                (fres if (name, fn, args) in factors else res).setdefault(name, []).append(t)
    trace = qemu_trace(argv, 5 if RUNS > 1 else 1) if mode == "hugepages" else None
finally:
    if "conf" in dir():
        vrun("stop", NAME, "--force", check=False)
    release()
    B.forget(VFIOCTL, NAME)
    shutil.rmtree(work, ignore_errors=True)

rows = list(res.items())
frows = list(fres.items()) if "fres" in dir() else []
bw = ", ".join("%d thread%s %.1f GB/s" % (n, "s" if n > 1 else "", sorted(v)[len(v) // 2]) for n, v in floor.items())
floor_n = "floor: touch %d GiB fresh %s pages, %d thread%s" % (GIB, "2M" if mode == "hugepages" else "4K", NCPU,
                                                               "s" if NCPU > 1 else "")
alloc = sorted(set(alloc_lines))
# Memory setup alone: each start minus the start without prealloc of the same round (rows run round robin,
# so the two samples of a round met the same machine), and vfioctl's fill as its own clock logs it.
setup_rows = [(n, v) for n, v in rows if n.startswith("floor:")]
for n, v in rows:
    if n.startswith("floor:") or n == BARE or BARE not in res:
        continue
    setup_rows.append((n + " minus no-prealloc start", [max(a - b, 0.0) for a, b in zip(v, res[BARE])]))
fills = []
for line in alloc_lines[-RUNS:]:
    m = re.search(r" in ([0-9.]+) s", line)
    if m:
        fills.append(float(m.group(1)))
if fills:
    setup_rows.append(("vfioctl's fill alone (its own clock, from the VM log)", fills))
with open(OUT, "w") as f:
    f.write("""### Memory setup of a {gib} GiB hugepage guest

Time from exec to QMP `query-status` running (after `cont`) of a TCG VM with {gib} GiB of {mode} memory,
`prealloc=on`. The floor is `bench/membw` touching one byte per page of {gib} GiB of fresh {pg} pages (the kernel
zeroes each page: the work prealloc makes it do) with 1 and {n} threads (one per host CPU). The raw QEMU rows are
`vfioctl cmdline`'s argv (`{obj}`), QEMU creating and filling its own file in the hugetlbfs mount, single-threaded
(its default) and with `prealloc-threads={n}`. `vfioctl start` runs the config with `[memory] hugepages = 2M`,
`prealloc_threads = {n}` (what `vfioctl create` now writes when it plans hugepages: one thread per host CPU): it fills
an unnamed hugetlbfs file with {n} threads, each populating its own range (`MADV_POPULATE_WRITE` on a shared mapping),
and QEMU maps that file (`mem-path=/proc/self/fd/3,share=on`), so its own prealloc finds every page present; the
time includes start's checks and pinning. Each vfioctl run was checked: QMP `query-memdev` says preallocated and
{gib} GiB, and the VM log says who allocated ({alloc}).
Memset bandwidth on faulted-in memory (best of 5 passes of 512 MiB): {bw}. Median of {runs} runs after {w} warm-up;
{machine}; {qemu}.

{table}

The memory setup alone, against the floor: each row above minus the no-prealloc start of the same round, and the
time vfioctl's fill logs for itself (the floor and the fill do the same work: touch every fresh page once).

{stable}

Why QEMU's threads do not help here. The first touch of the {gib} GiB just reserved took {first:.2f} s ({n}
threads): this machine is itself a VM and its hypervisor backs guest memory on first use, so the rows above only
start after that pass (membw, not timed). Then the same kernel work, one factor at a time (`bench/prealloc-factors`
on a {gib} GiB hugetlbfs file, threads started together; the per-thread times are of the last run):

{ftable}

{trace}
{notes}""".format(gib=GIB, mode=mode, n=NCPU, obj=obj, pg="2 MiB" if mode == "hugepages" else "4 KiB", bw=bw,
                  runs=RUNS, w=WARMUP, machine=B.machine_line(), qemu=B.qemu_version(),
                  alloc="; ".join("\"%s\"" % a for a in alloc) or "not run",
                  table=B.table(rows, floor_n, unit="s", head="setup", base2="QEMU default prealloc (1 thread)"),
                  stable=B.table(setup_rows, floor_n, unit="s", head="memory setup"),
                  first=first_touch if "first_touch" in dir() else 0.0,
                  ftable=(B.table(frows, frows[0][0] if frows else None, unit="s", head="factor") + "\n\n" +
                          "Per thread (last run): " + "; ".join("%s %d: %s s" % (k[0], k[1], v)
                                                               for k, v in sorted(per_thread.items())))
                  if frows else "(anonymous memory: no hugetlbfs to measure on)",
                  trace=trace or "", notes="".join("\n" + n + "\n" for n in notes)))
