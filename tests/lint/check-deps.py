#!/usr/bin/env python3
"""check-deps.py SRC BUILD: everything the build and the tests use comes from a package that
scripts/install-deps.sh lists (or from Debian's required base), so a fresh Debian 12 machine has it.

A machine where someone installed a package by hand passes the tests but hides a missing entry until a new
machine meets it; this asks dpkg which package owns each thing instead:
  - every pkg-config dependency of this build (meson-info/intro-dependencies.json),
  - every program the tests, benchmarks and CI scripts name by absolute path (/usr/bin/X, /usr/sbin/X) or
    look up with `command -v X` (when this machine has it),
  - every package the tests' own hints name ("apt-get install X").
Prints TAP; exits 77 with the reason when dpkg is not there (not a Debian system)."""
import json
import os
import re
import shutil
import subprocess
import sys

SRC, BUILD = sys.argv[1], sys.argv[2]
SCANNED = ["tests", "bench", "scripts", ".ci"]
n = 0
failed = 0


def result(good, what):
    global n, failed
    n += 1
    failed += not good
    print(f"{'ok' if good else 'not ok'} {n} - {what}")


if not shutil.which("dpkg-query"):
    print("1..0 # SKIP not a Debian system (no dpkg-query): package ownership cannot be checked")
    sys.exit(77)

text = open(os.path.join(SRC, "scripts/install-deps.sh")).read()
m = re.search(r'^PACKAGES="(.*?)"', text, re.S | re.M)
listed = set(m.group(1).split()) if m else set()
result(len(listed) > 10, f"scripts/install-deps.sh lists {len(listed)} packages")


def owner(path):
    """The package that owns path (following the /bin -> /usr/bin merge), or None."""
    for p in dict.fromkeys([path, os.path.realpath(path)]):
        for q in dict.fromkeys([p, re.sub(r"^/usr/", "/", p)]):
            r = subprocess.run(["dpkg-query", "-S", q], capture_output=True, text=True)
            if r.returncode == 0:
                return r.stdout.split(":")[0].split(",")[0].strip()
    return None


_base = {}


def in_base(pkg):
    """Debian's required base (debootstrap minbase: Priority required, plus apt) is on every machine."""
    if pkg not in _base:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Priority} ${Essential}", pkg], capture_output=True, text=True)
        _base[pkg] = pkg == "apt" or r.stdout.startswith("required") or r.stdout.endswith("yes")
    return _base[pkg]


def covered(pkg):
    return pkg in listed or in_base(pkg)


# 1. Build dependencies, as meson found them.
deps_json = os.path.join(BUILD, "meson-info", "intro-dependencies.json")
try:
    deps = json.load(open(deps_json))
except OSError as e:
    deps = []
    result(False, f"cannot read {deps_json}: {e}")
for d in deps:
    name = d.get("name")
    r = subprocess.run(["pkg-config", "--path", name], capture_output=True, text=True)
    pc = r.stdout.strip()
    pkg = owner(pc) if pc else None
    if pkg is None:
        result(False, f"build dependency {name}: no Debian package owns its pkg-config file ({pc or 'not found'})")
    else:
        result(covered(pkg), f"build dependency {name}: {pkg}" + ("" if covered(pkg) else " is not in scripts/install-deps.sh"))

# 2. Programs the tests use, and 3. the packages their hints name.
programs, hinted = {}, {}
for top in SCANNED:
    for root, dirs, files in os.walk(os.path.join(SRC, top)):
        dirs[:] = [x for x in dirs if x not in ("data", "corpus")]
        for f in files:
            path = os.path.join(root, f)
            rel = os.path.relpath(path, SRC)
            if rel == "scripts/fresh-root.sh":
                continue  # it makes the clean root, and installs debootstrap for that itself

            try:
                body = open(path, encoding="utf-8").read()
            except (UnicodeDecodeError, OSError):
                continue
            for prog in re.findall(r'"(/usr/s?bin/[A-Za-z0-9_.+-]+)"', body):
                programs.setdefault(prog, rel)
            for prog in re.findall(r"\bcommand -v ([A-Za-z0-9_.+-]+)", body):
                programs.setdefault(prog, rel)
            for hint in re.findall(r"apt-get install ((?:[a-z0-9][a-z0-9.+-]+ ?)+)", body):
                for pkg in hint.split():
                    if not pkg.startswith("-"):
                        hinted.setdefault(pkg, rel)
for prog, rel in sorted(programs.items()):
    path = prog if prog.startswith("/") else shutil.which(prog)
    if not path or not os.path.exists(path):
        continue  # not on this machine: the test that needs it fails or skips, and says so
    pkg = owner(path)
    if pkg is None:
        continue  # made by a maintainer script or by hand, e.g. an alternative's link: nothing to list
    result(covered(pkg), f"{prog} ({rel}): {pkg}" + ("" if covered(pkg) else " is not in scripts/install-deps.sh"))
for pkg, rel in sorted(hinted.items()):
    if rel.startswith("scripts/") or rel.startswith(".ci"):
        continue  # install-deps.sh's own apt-get line
    result(covered(pkg), f"{rel} tells users to install {pkg}" + ("" if covered(pkg) else ", which scripts/install-deps.sh does not list"))

print(f"1..{n}")
sys.exit(1 if failed else 0)
