# Shared helpers of the bench/*.py cases: statistics, markdown tables, a minimal QMP client, running as nobody.
import gzip
import json
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import time

NOBODY = 65534


def as_root():
    return os.geteuid() == 0


def user_kwargs():
    """subprocess arguments that run a child as nobody when we are root (QEMU and libvirt never run as root)."""
    if as_root():
        return {"user": NOBODY, "group": NOBODY, "extra_groups": []}
    return {}


def now():
    return time.monotonic()


def summarize(samples):
    """median, min, max and whether the run was noisy (max - min > 50% of the median, as bench/devices.sh)."""
    med = statistics.median(samples)
    lo, hi = min(samples), max(samples)
    return {"median": med, "min": lo, "max": hi, "n": len(samples), "noisy": (hi - lo) > 0.5 * med}


def fmt_s(v, unit="ms"):
    if unit == "ms":
        return "%.1f ms" % (v * 1000)
    return "%.2f s" % v


def table(rows, base=None, unit="ms", head="what", base2=None):
    """rows: [(name, samples)], samples in seconds. base (and base2, a second column): the row name ratios
    are taken against."""
    sums = {n: summarize(s) for n, s in rows if s}

    def ratio(name, b):
        if b in sums and sums[b]["median"]:
            return "%.2fx" % (sums[name]["median"] / sums[b]["median"])
        return ""

    extra = " vs %s |" % base2 if base2 else ""
    out = ["| %s | median | min | max | runs | vs %s |%s noisy |" % (head, base or "-", extra),
           "|---|---|---|---|---|---|%s---|" % ("---|" if base2 else "")]
    for name, s in rows:
        if not s:
            continue
        m = sums[name]
        out.append("| %s | %s | %s | %s | %d | %s |%s %s |" % (
            name, fmt_s(m["median"], unit), fmt_s(m["min"], unit), fmt_s(m["max"], unit), m["n"],
            ratio(name, base), (" %s |" % ratio(name, base2)) if base2 else "",
            "yes (max-min > 50% of median)" if m["noisy"] and m["n"] > 1 else ""))
    return "\n".join(out)


def cmdline_argv(vfioctl, conf):
    """The argv `vfioctl cmdline` prints (shell-quoted, one option per continuation line)."""
    text = subprocess.run([vfioctl, "cmdline", conf], check=True, capture_output=True, text=True).stdout
    return shlex.split(text.replace("\\\n", " "))


def replace_qmp(argv, path):
    """Points the argv's QMP monitor chardev at PATH (vfioctl cmdline names its own runtime directory)."""
    out = []
    for a in argv:
        if a.startswith("socket,id=qmp,path="):
            a = "socket,id=qmp,path=%s,server=on,wait=off" % path.replace(",", ",,")
        out.append(a)
    return out


class QMP:
    """Blocking QMP client (docs/interop/qmp-spec.txt): greeting, qmp_capabilities, then commands; events are skipped."""

    def __init__(self, path, timeout=30.0, proc=None):
        t0 = now()
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                break
            except OSError:
                s.close()
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError("QEMU exited with %s before its QMP socket came up" % proc.returncode)
                if now() - t0 > timeout:
                    raise RuntimeError("no QMP socket at %s after %.0f s" % (path, timeout))
                time.sleep(0.002)
        self.s = s
        self.f = s.makefile("rb")
        self._read()  # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        line = self.f.readline()
        if not line:
            raise RuntimeError("QMP connection closed")
        return json.loads(line)

    def cmd(self, name, args=None):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.s.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self._read()
            if "return" in r:
                return r["return"]
            if "error" in r:
                raise RuntimeError("QMP %s: %s" % (name, r["error"]))

    def close(self):
        try:
            self.f.close()
            self.s.close()
        except OSError:
            pass


def machine_line():
    return "%d cores, %.0f GiB" % (os.cpu_count(), os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)


def qemu_version():
    out = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else "unknown"


def wait_gone(pid, timeout=30.0):
    t0 = now()
    while os.path.exists("/proc/%d" % pid):
        if now() - t0 > timeout:
            return False
        time.sleep(0.002)
    return True


def cpio(path, files):
    """A gzipped newc initramfs (Documentation/driver-api/early-userspace/buffer-format.rst).
    files: [(name, mode, data)] or [(name, mode, data, (rdev major, minor))] for device nodes."""
    out = bytearray()

    def entry(name, mode, data, ino, rdev=(0, 0)):
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join("%08X" % v for v in (ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1],
                                                       len(nb), 0))
        out.extend(hdr.encode() + nb)
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))

    for i, f in enumerate(files, 1):
        entry(f[0], f[1], f[2], i, *(f[3:] or ()))
    entry("TRAILER!!!", 0, b"", 0)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(out)


def forget(vfioctl, name):
    """Removes a stopped bench VM's runtime directory (lifecycle.md "Where state lives"), so `vfioctl list` stays clean."""
    if subprocess.run([vfioctl, "status", name], capture_output=True).returncode != 3:
        return  # running, or no such verb: leave it
    if as_root():
        d = "/run/vfioctl"
    else:
        d = os.path.join(os.environ.get("XDG_RUNTIME_DIR") or "/run/user/%d" % os.getuid(), "vfioctl")
    shutil.rmtree(os.path.join(d, name), ignore_errors=True)
