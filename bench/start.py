# Case 1: start and stop latency of one small TCG VM: vfioctl vs raw QEMU (the floor) vs libvirt (warm and cold).
# usage: start.py VFIOCTL OUT_MD RUNS [EXPORT_VFIOCTL] [KERNEL BUSYBOX MODDIR]   (the last three: graceful stop)
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

VFIOCTL, OUT, RUNS = sys.argv[1], sys.argv[2], int(sys.argv[3])
EXPORT = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else VFIOCTL
KERNEL, BUSYBOX, MODDIR = (sys.argv[5:8] + [None] * 3)[:3]
GNAME = "vbench-stop"
READY = "vbench guest ready"
# The graceful-stop guest's /init, as vfioctl demo's: busybox acpid turns the ACPI power button into poweroff
# (busybox util-linux/acpid.c runs CONFDIR/PWRF/00000080); "ready" only once acpid listens.
GINIT = """#!/bin/sh
export PATH=/bin
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev
insmod /lib/modules/evdev.ko; insmod /lib/modules/button.ko
acpid -f -c /etc/acpi -l /dev/null &
i=0; while [ $i -lt 100 ] && ! ls -l /proc/$!/fd 2>/dev/null | grep -q /dev/input/event; do sleep 0.1; i=$((i + 1)); done
echo "%s"
while :; do sleep 1000; done
""" % READY
WARMUP = 1 if RUNS > 1 else 0
NAME = "vbench-start"

# No kernel and no disk: SeaBIOS finds nothing to boot and idles, the same guest for the three launchers.
BASE = """[vm]
accel = tcg
{user}[firmware]
type = seabios
[cpu]
model = qemu64
sockets = 1
cores = 2
threads = 1
[memory]
size = 256M
"""

work = tempfile.mkdtemp(prefix="vb-", dir="/var/tmp")
os.chmod(work, 0o755)
notes = []
pins = ""


def vrun(*args, check=True):
    return subprocess.run([VFIOCTL, *args], check=check, capture_output=True, text=True)


def vfioctl_cycle():
    t0 = B.now()
    vrun("start", conf, "--detach")
    t_start = B.now() - t0
    st = json.loads(vrun("--json", "status", NAME).stdout)
    if st["state"] != "running":
        raise RuntimeError("vfioctl status says %s after start" % st["state"])
    pid = st["pid"]
    global pins
    pins = ", ".join("vCPU %d on host CPUs %s" % (v["vcpu"], v["cpus"]) for v in st.get("vcpus") or [])
    t0 = B.now()
    vrun("stop", NAME, "--force")
    t_stop = B.now() - t0
    if not B.wait_gone(pid, 10):
        raise RuntimeError("QEMU %d survived vfioctl stop --force" % pid)
    return t_start, t_stop


def raw_cycle(argv):
    sock = os.path.join(rawdir, "qmp.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    t0 = B.now()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(rawdir, "log"), "w"), **B.user_kwargs())
    q = B.QMP(sock, proc=p)
    q.cmd("cont")
    while q.cmd("query-status")["status"] != "running":
        time.sleep(0.001)
    t_start = B.now() - t0
    t0 = B.now()
    try:
        q.cmd("quit")
    except RuntimeError:
        pass  # QEMU may close the socket before its reply
    p.wait()
    t_stop = B.now() - t0
    q.close()
    return t_start, t_stop


def wait_text(read, timeout=60, proc=None, before=0):
    """Waits until READY is on the console once more than BEFORE times (vfioctl's console log is appended to)."""
    t0 = B.now()
    while read().count(READY) <= before:
        if B.now() - t0 > timeout or (proc is not None and proc.poll() is not None):
            raise RuntimeError("the guest did not say '%s' in %d s" % (READY, timeout))
        time.sleep(0.05)


def file_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def vfioctl_graceful(gconf):
    def console():
        return vrun("log", GNAME, "--console", check=False).stdout

    before = console().count(READY)
    vrun("start", gconf, "--detach")
    wait_text(console, before=before)
    pid = json.loads(vrun("--json", "status", GNAME).stdout)["pid"]
    t0 = B.now()
    vrun("stop", GNAME)
    t = B.now() - t0
    st = json.loads(vrun("--json", "status", GNAME, check=False).stdout)
    if st["state"] != "stopped" or not B.wait_gone(pid, 10):
        raise RuntimeError("vfioctl stop: %s (%s)" % (st["state"], st.get("exit_reason")))
    return t, st.get("exit_reason")


def raw_graceful(argv, log):
    if os.path.exists(log):
        os.unlink(log)
    sock = os.path.join(rawdir, "qmp.sock")
    p = subprocess.Popen(argv + ["-serial", "file:" + log], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         **B.user_kwargs())
    q = B.QMP(sock, proc=p)
    wait_text(lambda: file_text(log), proc=p)
    t0 = B.now()
    q.cmd("system_powerdown")
    p.wait(60)
    t = B.now() - t0
    q.close()
    return t


# ---- libvirt: a private session libvirtd as nobody (as tests/libvirt/test-libvirt-daemon.c), started by PID ----
class Libvirt:
    def __init__(self):
        self.dir = os.path.join(work, "lv")
        self.proc = None
        for d, mode in (("", 0o755), ("home", 0o755), ("run", 0o700)):
            p = os.path.join(self.dir, d)
            os.makedirs(p, exist_ok=True)
            os.chmod(p, mode)
            if B.as_root():
                os.chown(p, B.NOBODY, B.NOBODY)
        home = os.path.join(self.dir, "home")
        self.cache = os.path.join(home, ".cache")
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home,
                    "XDG_RUNTIME_DIR": os.path.join(self.dir, "run"),
                    "XDG_CONFIG_HOME": os.path.join(home, ".config"), "XDG_CACHE_HOME": self.cache}
        self.sock = os.path.join(self.dir, "run", "libvirt", "libvirt-sock")

    def start_daemon(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        t0 = B.now()
        self.proc = subprocess.Popen(["/usr/sbin/libvirtd", "--timeout", "600"], env=self.env,
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "libvirtd.log"), "a"), **B.user_kwargs())
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or B.now() - t0 > 60:
                raise RuntimeError("libvirtd did not come up; see %s/libvirtd.log" % self.dir)
            time.sleep(0.005)
        return B.now() - t0

    def stop_daemon(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # by PID: only the daemon this bench started
            self.proc.wait()
        self.proc = None

    def virsh(self, *args, check=True):
        r = subprocess.run(["/usr/bin/virsh", "-c", "qemu:///session", *args], env=self.env, capture_output=True,
                           text=True, **B.user_kwargs())
        if check and r.returncode != 0:
            raise RuntimeError("virsh %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
        return r.stdout

    def graceful(self, log):
        if os.path.exists(log):
            os.unlink(log)
        self.virsh("start", GNAME)
        wait_text(lambda: file_text(log))
        with open(os.path.join(self.dir, "run", "libvirt", "qemu", "run", GNAME + ".pid")) as f:
            pid = int(f.read())
        t0 = B.now()
        self.virsh("shutdown", GNAME)  # returns at once: time until QEMU is gone
        if not B.wait_gone(pid, 60):
            raise RuntimeError("virsh shutdown: QEMU %d still runs after 60 s" % pid)
        t = B.now() - t0
        while self.virsh("domstate", GNAME).strip() != "shut off":  # libvirt notices a moment later (untimed)
            if B.now() - t0 > 60:
                raise RuntimeError("virsh domstate: %s still not shut off" % GNAME)
            time.sleep(0.05)
        return t

    def start_stop(self):
        t0 = B.now()
        self.virsh("start", NAME)
        t_start = B.now() - t0
        state = self.virsh("domstate", NAME).strip()
        if state != "running":
            raise RuntimeError("virsh domstate says %s after virsh start" % state)
        t0 = B.now()
        self.virsh("destroy", NAME)
        return t_start, B.now() - t0


def have_libvirt():
    if not (os.access("/usr/sbin/libvirtd", os.X_OK) and os.access("/usr/bin/virsh", os.X_OK)):
        return "libvirtd or virsh is not installed (apt-get install libvirt-daemon libvirt-clients)"
    if "export-libvirt" not in subprocess.run([EXPORT, "--help"], capture_output=True, text=True).stdout:
        return "%s has no export-libvirt (set VFIOCTL_BENCH_EXPORT to a vfioctl that has it)" % EXPORT
    return None


res = {}
lv = None
try:
    user = "user = nobody\n" if B.as_root() else ""
    conf = os.path.join(work, NAME + ".conf")
    with open(conf, "w") as f:
        f.write(BASE.format(user=user))
    base = os.path.join(work, "base.conf")  # the same VM without [vm] user, for export-libvirt of any version
    with open(base, "w") as f:
        f.write(BASE.format(user=""))
    for c in (conf, base):
        os.chmod(c, 0o644)

    # vfioctl start --detach: preflight, QEMU -S as nobody, pin over QMP, cont; returns once the VM runs.
    vrun("stop", NAME, "--force", check=False)
    s, t = [], []
    for i in range(WARMUP + RUNS):
        a, b = vfioctl_cycle()
        if i >= WARMUP:
            s.append(a)
            t.append(b)
    res["vfioctl start --detach"], res["vfioctl stop --force"] = s, t

    # raw QEMU with vfioctl cmdline's argv, -S then cont over QMP (what vfioctl does, minus checks and pinning).
    rawdir = os.path.join(work, "raw")
    os.makedirs(rawdir)
    if B.as_root():
        os.chown(rawdir, B.NOBODY, B.NOBODY)
    argv = B.replace_qmp(B.cmdline_argv(VFIOCTL, base), os.path.join(rawdir, "qmp.sock")) + ["-S"]
    argv[0] = shutil.which(argv[0]) or argv[0]
    s, t = [], []
    for i in range(WARMUP + RUNS):
        a, b = raw_cycle(argv)
        if i >= WARMUP:
            s.append(a)
            t.append(b)
    res["raw qemu + QMP cont"], res["raw qemu, QMP quit"] = s, t

    graceful = KERNEL and os.access(KERNEL, os.R_OK)
    if graceful:
        gdir = os.path.join(work, "g")
        os.makedirs(gdir)
        initrd = os.path.join(gdir, "initramfs.cpio.gz")
        with open(BUSYBOX, "rb") as f:
            bb = f.read()
        mods = []
        for m in ("kernel/drivers/acpi/button.ko", "kernel/drivers/input/evdev.ko"):
            with open(os.path.join(MODDIR, m), "rb") as f:
                mods.append(("lib/modules/" + os.path.basename(m), 0o100644, f.read()))
        power = b"#!/bin/sh\nexec /bin/busybox poweroff -f\n"
        B.cpio(initrd, [(d, 0o40755, b"") for d in ("bin", "dev", "proc", "sys", "etc", "etc/acpi", "etc/acpi/PWRF",
                                                     "lib", "lib/modules")] +
               [("dev/console", 0o20600, b"", (5, 1)), ("bin/busybox", 0o100755, bb), ("bin/sh", 0o120777, b"busybox"), ("init", 0o100755, GINIT.encode()),
                ("etc/acpi/PWRF/00000080", 0o100755, power)] + mods)
        os.chmod(gdir, 0o755)
        os.chmod(initrd, 0o644)
        kern = "kernel = %s\ninitrd = %s\nappend = console=ttyS0 quiet panic=-1\n" % (KERNEL, initrd)
        gconf = os.path.join(gdir, GNAME + ".conf")
        gbase = os.path.join(gdir, "gbase.conf")
        with open(gconf, "w") as f:
            f.write(BASE.format(user=user + kern))
        with open(gbase, "w") as f:
            f.write(BASE.format(user=kern))
        for c in (gconf, gbase):
            os.chmod(c, 0o644)
        vrun("stop", GNAME, "--force", check=False)
        s, reasons = [], set()
        for i in range(WARMUP + RUNS):
            a, why = vfioctl_graceful(gconf)
            reasons.add(why)
            if i >= WARMUP:
                s.append(a)
        res["vfioctl stop (ACPI power button)"] = s
        notes.append("vfioctl stop's recorded end: %s." % ", ".join(sorted(str(r) for r in reasons)))
        gargv = B.replace_qmp(B.cmdline_argv(VFIOCTL, gbase), os.path.join(rawdir, "qmp.sock"))
        gargv[0] = shutil.which(gargv[0]) or gargv[0]
        glog = os.path.join(rawdir, "console.log")
        res["raw qemu, QMP system_powerdown"] = [t for i, t in enumerate(raw_graceful(gargv, glog)
                                                                        for _ in range(WARMUP + RUNS)) if i >= WARMUP]
    else:
        notes.append("Graceful stop not measured: no guest kernel in the VFIO test bed cache "
                     "(tests/vfio-e2e/setup.sh fills it).")

    why = have_libvirt()
    if why:
        notes.append("libvirt not measured: " + why)
    else:
        lv = Libvirt()
        xml = os.path.join(work, NAME + ".xml")
        r = subprocess.run([EXPORT, "export-libvirt", base], check=True, capture_output=True, text=True).stdout
        r = r.replace("<name>base</name>", "<name>%s</name>" % NAME)
        with open(xml, "w") as f:
            f.write(r)
        os.chmod(xml, 0o644)
        # cold: a fresh daemon with an empty cache (its QEMU capabilities probe runs again), then virsh start.
        s, t, d = [], [], []
        for i in range(WARMUP + RUNS):
            shutil.rmtree(lv.cache, ignore_errors=True)
            t0 = B.now()
            boot = lv.start_daemon()
            if i == 0:
                lv.virsh("define", xml)
            a, b = lv.start_stop()
            if i >= WARMUP:
                s.append(B.now() - t0 - b)
                d.append(boot)
                t.append(b)
            lv.stop_daemon()
        res["libvirt cold: libvirtd spawn + virsh start"] = s
        res["libvirt cold: of which libvirtd up (socket)"] = d
        # warm: the same daemon again, capabilities cached, domain defined.
        lv.start_daemon()
        s, t = [], []
        for i in range(WARMUP + RUNS):
            a, b = lv.start_stop()
            if i >= WARMUP:
                s.append(a)
                t.append(b)
        res["libvirt warm: virsh start"], res["virsh destroy"] = s, t
        if graceful:
            import xml.etree.ElementTree as ET
            lvlog = os.path.join(lv.dir, "console.log")
            dom = ET.fromstring(r)
            dom.find("name").text = GNAME
            for tag in ("uuid",):
                if dom.find(tag) is not None:
                    dom.remove(dom.find(tag))
            os_el = dom.find("os")
            for tag, text in (("kernel", KERNEL), ("initrd", initrd), ("cmdline", "console=ttyS0 quiet panic=-1")):
                ET.SubElement(os_el, tag).text = text
            ser = ET.SubElement(dom.find("devices"), "serial", type="file")
            ET.SubElement(ser, "source", path=lvlog)
            ET.SubElement(ser, "target", port="0")
            gxml = os.path.join(work, GNAME + ".xml")
            ET.ElementTree(dom).write(gxml)
            os.chmod(gxml, 0o644)
            lv.virsh("define", gxml)
            res["virsh shutdown (until QEMU is gone)"] = [t for i, t in enumerate(lv.graceful(lvlog)
                                                                                 for _ in range(WARMUP + RUNS))
                                                          if i >= WARMUP]
            lv.virsh("undefine", GNAME, check=False)
        lv.virsh("undefine", NAME, check=False)
        lv.stop_daemon()
finally:
    if lv:
        lv.stop_daemon()
    vrun("stop", NAME, "--force", check=False)
    vrun("stop", GNAME, "--force", check=False)
    B.forget(VFIOCTL, NAME)
    B.forget(VFIOCTL, GNAME)
    shutil.rmtree(work, ignore_errors=True)

start_rows = [(k, res.get(k)) for k in ("raw qemu + QMP cont", "vfioctl start --detach", "libvirt warm: virsh start",
                                        "libvirt cold: libvirtd spawn + virsh start",
                                        "libvirt cold: of which libvirtd up (socket)")]
stop_rows = [(k, res.get(k)) for k in ("raw qemu, QMP quit", "vfioctl stop --force", "virsh destroy")]
gstop_rows = [(k, res.get(k)) for k in ("raw qemu, QMP system_powerdown", "vfioctl stop (ACPI power button)",
                                        "virsh shutdown (until QEMU is gone)")]
lv_ver = subprocess.run(["libvirtd", "--version"], capture_output=True, text=True).stdout.strip() if not notes else ""
with open(OUT, "w") as f:
    f.write("""### Start and stop latency of a small TCG VM

VM: TCG, q35, 2 vCPUs (qemu64), 256 MiB, SeaBIOS, no disk and no kernel (the BIOS finds nothing to boot and
idles: the same guest for every launcher). QEMU runs as nobody in every row. Median of {runs} runs after {w}
warm-up; {machine}; {qemu}; {lv}.

"Running" means QMP `query-status` says `running`: `vfioctl start --detach` returns only then (QEMU started
with `-S`, vCPUs pinned, `cont`; {pins}); raw QEMU is `vfioctl cmdline`'s argv plus `-S`, timed from exec to
`cont` + `query-status` running over its QMP socket (the floor: no checks, no pinning); libvirt is
`virsh start` of `vfioctl export-libvirt`'s XML on a session libvirtd the bench starts as nobody (private HOME
and XDG dirs). Warm: the daemon already ran and cached QEMU's capabilities. Cold: a fresh daemon with an
empty cache dir, timed from spawning libvirtd to `virsh start` returning (libvirt's session mode spawns its
daemon on first use the same way).

{start}

Stop, all hard stops (no guest OS to power down): `vfioctl stop --force` (SIGKILL, then the supervisor's
release steps and final status), QMP `quit` on raw QEMU (until the process is reaped), `virsh destroy`.

{stop}

Graceful stop: a second VM, the same but booting Debian's kernel ({kernel}) and a busybox initramfs whose `acpid`
powers off on the ACPI power button (as `vfioctl demo`'s guest). Each run boots it, waits for its "ready" line on
the serial console, then times: QMP `system_powerdown` on raw QEMU until QEMU exits; `vfioctl stop NAME` (power
button, waits for QEMU, release steps, final status) until it returns; `virsh shutdown` (returns at once) until
QEMU's pid is gone (the libvirt XML is the export plus `<kernel>`, `<initrd>`, `<cmdline>` and a file serial).

{gstop}
{notes}""".format(kernel=os.path.basename(KERNEL or "none"),
                  gstop=B.table(gstop_rows, "raw qemu, QMP system_powerdown", head="graceful stop")
                  if any(v for _, v in gstop_rows) else "(not measured)",
                  runs=RUNS, w=WARMUP, machine=B.machine_line(), qemu=B.qemu_version(),
                  lv=lv_ver or "libvirt not measured", pins=pins or "pins read back by vfioctl status",
                  start=B.table(start_rows, "raw qemu + QMP cont", head="start to running"),
                  stop=B.table(stop_rows, "raw qemu, QMP quit", head="stop"),
                  notes="".join("\n" + n + "\n" for n in notes)))
