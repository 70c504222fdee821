#!/usr/bin/env python3
"""Writes a CPU topology below ROOT in the kernel's sysfs layout from a machine's table (MACHINE.cpus).

usage: make-cpu-topology.py MACHINE.cpus ROOT

The table holds one line per logical CPU, as `lscpu -e` and /proc/cpuinfo report a real machine:
    cpu node package core_id l3 max_khz kind
(l3: first CPU of its L3 domain; kind: P, E or - ). Lines starting with # are the source notes.
The layout copies Linux 6.1's (tests/data/sysfs/q35-viommu/sys/devices/system/{cpu,node}): per CPU
topology/ (core_id, physical_package_id, die_id, *_cpus, *_cpus_list, *_siblings, *_siblings_list),
cache/index3 (id, level, type, size, shared_cpu_list, shared_cpu_map), the cpufreq link to
cpufreq/policyN, online (not for cpu0), the nodeN link; node/nodeN with cpulist, cpumap, distance and its
cpuN links; cpu_core/cpu_atom with their cpus on hybrid Intel parts (Documentation/ABI/testing/
sysfs-bus-event_source-devices, "cpus"). Not written: cluster_*, cache index0-2, crash notes, uevents.
"""
import os
import sys


def cpulist(cpus):
    cpus = sorted(cpus)
    out, i = [], 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        out.append(str(cpus[i]) if i == j else f"{cpus[i]}-{cpus[j]}")
        i = j + 1
    return ",".join(out)


def cpumask(cpus, nbits):
    """The kernel's bitmap print: 32-bit hex words, highest first, the top word as wide as nbits needs."""
    value = 0
    for c in cpus:
        value |= 1 << c
    words = []
    for w in range((nbits + 31) // 32):
        bits = min(32, nbits - 32 * w)
        words.append(f"{(value >> (32 * w)) & ((1 << bits) - 1):0{(bits + 3) // 4}x}")
    return ",".join(reversed(words))


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text + "\n")


def link(root, rel, target):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.symlink(target, path)


def main():
    table, root = sys.argv[1], sys.argv[2]
    rows = []
    l3_size = "32768K"
    for line in open(table):
        if line.startswith("#l3_size"):
            l3_size = line.split()[1]
        if not line.strip() or line.startswith("#"):
            continue
        cpu, node, pkg, core, l3, khz, kind = line.split()
        rows.append(dict(cpu=int(cpu), node=int(node), pkg=int(pkg), core=int(core), l3=int(l3),
                         khz=int(khz), kind=kind))
    n = len(rows)
    base = "sys/devices/system/cpu"
    every = [r["cpu"] for r in rows]
    for r in rows:
        d = f"{base}/cpu{r['cpu']}"
        thread = [x["cpu"] for x in rows if x["pkg"] == r["pkg"] and x["core"] == r["core"]]
        package = [x["cpu"] for x in rows if x["pkg"] == r["pkg"]]
        l3 = [x["cpu"] for x in rows if x["l3"] == r["l3"]]
        for name, cpus in (("thread_siblings", thread), ("core_cpus", thread), ("core_siblings", package),
                           ("die_cpus", package), ("package_cpus", package)):
            write(root, f"{d}/topology/{name}", cpumask(cpus, n))
            write(root, f"{d}/topology/{name}_list", cpulist(cpus))
        write(root, f"{d}/topology/core_id", str(r["core"]))
        write(root, f"{d}/topology/physical_package_id", str(r["pkg"]))
        write(root, f"{d}/topology/die_id", "0")
        write(root, f"{d}/cache/index3/level", "3")
        write(root, f"{d}/cache/index3/type", "Unified")
        write(root, f"{d}/cache/index3/size", l3_size)
        write(root, f"{d}/cache/index3/id", str(sorted({x["l3"] for x in rows}).index(r["l3"])))
        write(root, f"{d}/cache/index3/shared_cpu_list", cpulist(l3))
        write(root, f"{d}/cache/index3/shared_cpu_map", cpumask(l3, n))
        if r["cpu"] != 0:
            write(root, f"{d}/online", "1")
        p = f"{base}/cpufreq/policy{r['cpu']}"
        write(root, f"{p}/cpuinfo_max_freq", str(r["khz"]))
        write(root, f"{p}/affected_cpus", str(r["cpu"]))
        write(root, f"{p}/related_cpus", str(r["cpu"]))
        link(root, f"{d}/cpufreq", f"../cpufreq/policy{r['cpu']}")
        link(root, f"{d}/node{r['node']}", f"../../node/node{r['node']}")
    for name in ("online", "possible", "present"):
        write(root, f"{base}/{name}", cpulist(every))
    write(root, f"{base}/offline", "")
    write(root, f"{base}/kernel_max", "8191")
    smt = any(len([x for x in rows if x["pkg"] == r["pkg"] and x["core"] == r["core"]]) > 1 for r in rows)
    write(root, f"{base}/smt/active", "1" if smt else "0")
    write(root, f"{base}/smt/control", "on" if smt else "notsupported")
    nodes = sorted({r["node"] for r in rows})
    for name in ("online", "possible", "has_cpu", "has_memory", "has_normal_memory"):
        write(root, f"sys/devices/system/node/{name}", cpulist(nodes))
    for node in nodes:
        cpus = [r["cpu"] for r in rows if r["node"] == node]
        d = f"sys/devices/system/node/node{node}"
        write(root, f"{d}/cpulist", cpulist(cpus))
        write(root, f"{d}/cpumap", cpumask(cpus, n))
        # ACPI SLIT as Linux reports a two-socket board: 10 local, 21 remote (a common BIOS value).
        write(root, f"{d}/distance", " ".join("10" if o == node else "21" for o in nodes))
        for c in cpus:
            link(root, f"{d}/cpu{c}", f"../../cpu/cpu{c}")
    for kind, pmu in (("P", "cpu_core"), ("E", "cpu_atom")):
        cpus = [r["cpu"] for r in rows if r["kind"] == kind]
        if cpus and any(r["kind"] == "E" for r in rows):
            write(root, f"sys/devices/{pmu}/cpus", cpulist(cpus))
            link(root, f"sys/bus/event_source/devices/{pmu}", f"../../../devices/{pmu}")


if __name__ == "__main__":
    main()
