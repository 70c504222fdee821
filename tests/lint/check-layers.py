#!/usr/bin/env python3
"""Fails when the library's parts depend on each other against the order in lib/README.md.

The parts, from the top: basic, host, input, setup, vm, run, guide. A part may include the headers of its own
part and of the parts above it, never below: host code cannot reach into run/, vm code cannot reach into
run/, and so on. A public header include/vfioctl/X.h belongs to the part whose folder holds X.c (a
header with no X.c must be listed in HEADER_PART). No file under lib/ or include/ may include a header of
tool/, and a public header includes no private header. Prints one line per violation (file:line: what and why) and a TAP result.
"""
import os
import re
import sys

PARTS = ["basic", "host", "input", "setup", "vm", "run", "guide"]
# Public headers with no .c of the same name.
HEADER_PART = {"common": "basic"}
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def part_of_source(root, rel):
    parts = rel.split(os.sep)
    if parts[0] == "lib" and len(parts) > 2 and parts[1] in PARTS:
        return parts[1]
    return None


def main(root):
    sources = {}  # basename without extension -> part
    for part in PARTS:
        d = os.path.join(root, "lib", part)
        for f in os.listdir(d):
            if f.endswith((".c", ".h")):
                sources.setdefault(os.path.splitext(f)[0], part)
    header_part = dict(HEADER_PART)
    bad = []
    for f in sorted(os.listdir(os.path.join(root, "include", "vfioctl"))):
        name = os.path.splitext(f)[0]
        if name in sources:
            header_part.setdefault(name, sources[name])
        elif name not in header_part:
            bad.append(f"include/vfioctl/{f}: no lib/PART/{name}.c; say which part owns it in HEADER_PART")
    basic_headers = {f for f in os.listdir(os.path.join(root, "lib", "basic")) if f.endswith(".h")}
    tool_headers = {f for f in os.listdir(os.path.join(root, "tool")) if f.endswith(".h")}

    files = []
    for part in PARTS:
        for f in sorted(os.listdir(os.path.join(root, "lib", part))):
            if f.endswith((".c", ".h")):
                files.append((os.path.join("lib", part, f), part))
    for f in sorted(os.listdir(os.path.join(root, "include", "vfioctl"))):
        files.append((os.path.join("include", "vfioctl", f), header_part.get(os.path.splitext(f)[0])))

    for rel, part in files:
        text = open(os.path.join(root, rel), encoding="utf-8").read()
        for m in INCLUDE_RE.finditer(text):
            inc = m.group(1)
            line = text.count("\n", 0, m.start()) + 1
            base = os.path.basename(inc)
            if rel.startswith("include") and not inc.startswith("vfioctl/"):
                bad.append(f"{rel}:{line}: public header includes {inc}: a public header may include only "
                           f"vfioctl/ headers and system headers")
                continue
            if inc.startswith("vfioctl/"):
                want = header_part.get(os.path.splitext(base)[0])
            elif base in basic_headers and "/" not in inc.replace("basic/", ""):
                want = "basic"
            elif base in tool_headers or inc.startswith("tool/"):
                bad.append(f"{rel}:{line}: includes {inc} from tool/: the library never depends on the tool")
                continue
            else:
                # Private headers of a part, included by bare name from the same folder.
                sibling = os.path.join(os.path.dirname(rel), base)
                want = part if os.path.exists(os.path.join(root, sibling)) else None
                if want is None and inc != "config.h":
                    bad.append(f"{rel}:{line}: includes {inc}, which is no header of a library part")
                    continue
            if want is None or part is None:
                continue
            if PARTS.index(want) > PARTS.index(part):
                bad.append(f"{rel}:{line}: part '{part}' includes {inc} of part '{want}', which is below it "
                           f"(order: {', '.join(PARTS)}); move the code or pass what it needs in")
    print("1..1")
    for b in bad:
        print(f"# {b}")
    print(("ok" if not bad else "not ok") + f" 1 - library parts depend only on the parts above them "
          f"({len(files)} files)")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")))
