#!/usr/bin/env python3
"""Lists path-based file calls in the sources that work in directories another user can write.

The rule (lib/basic/safedir.h, docs/SECURITY.md "Directories another user can write"): where root creates,
reads, replaces, removes or changes the owner or mode of anything in a VM's state, runtime, snapshot,
vars or TPM directory, it goes through basic/safedir (directory descriptors, no symlink following,
fchown/fchmod on descriptors). In the files listed below, a call that takes a path and follows it
(chown, chmod, open, fopen, mkdir, rename, unlink, link, symlink, truncate, mkstemp, ...) is an error,
and so is a call relative to a directory descriptor that may follow a link (openat, mkdirat, fchownat,
fchmodat, ...), unless its statement is marked with a comment on that line or the line above:

    /* not another user's directory: WHY */

naming why the path is root's alone (a host path under the root handle, /proc, /dev/null, a directory
root owns), or, where a call cannot follow a link whatever the directory (O_EXCL creation, an O_NOFOLLOW
open of a name in a descriptor walked without links), with
    /* no link followed: HOW */
naming how. A marker without a reason does not count. (The Looking Glass file in /dev/shm and the
hugepage directory go through safedir's _nolinks walks; no file here needs a marker of the second kind.)
"""
import os
import re
import sys

# The files that act in directories the VM user (or another user) can write. Paths relative to the
# source root; a directory means every .c file below it.
FILES = [
    "lib/run",
    "lib/vm/storage.c",
    "tool/verb-start.c",
    "tool/verb-stop.c",
    "tool/verb-status.c",
    "tool/verb-log.c",
    "tool/verb-console.c",
    "tool/verb-qmp.c",
    "tool/verb-snapshot.c",
    "tool/verb-disk.c",
]

PATH_CALLS = r"chown|lchown|chmod|open|open64|fopen|creat|mkdir|mknod|mkfifo|rename|renameat2?|link|symlink|" \
             r"unlink|rmdir|remove|truncate|mkstemp|mkostemp|mkdtemp|openat|openat2|mkdirat|mknodat|" \
             r"fchownat|fchmodat|linkat|symlinkat|unlinkat|utimensat|realpath|opendir"
CALL_RE = re.compile(r"(?<![\w.>])(" + PATH_CALLS + r")\s*\(")
MARK_RE = re.compile(r"(not another user's directory|no link followed):\s*\S")


def statement(text, start):
    end = text.find(";", start)
    return text[start:end if end >= 0 else len(text)]


def sources(root):
    for f in FILES:
        p = os.path.join(root, f)
        if os.path.isdir(p):
            for d, _, names in os.walk(p):
                for n in sorted(names):
                    if n.endswith(".c"):
                        yield os.path.join(d, n)
        elif os.path.exists(p):
            yield p


def main(root):
    bad, seen = [], 0
    for path in sources(root):
        text = open(path, encoding="utf-8").read()
        lines = text.split("\n")
        code = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)
        code = re.sub(r"//[^\n]*", lambda m: " " * len(m.group(0)), code)
        bare = re.sub(r'"(\\.|[^"\\\n])*"', lambda m: '"' + " " * (len(m.group(0)) - 2) + '"', code)
        for m in CALL_RE.finditer(bare):
            prev = code[max(0, m.start() - 40):m.start()]
            if re.search(r"(static|int|void|char|\bFILE\s*\*)\s*$", prev):
                continue  # a declaration or definition, not a call
            line = code.count("\n", 0, m.start()) + 1
            seen += 1
            # The marker may sit in the comment block right above the call, on its line, or on any line of
            # the statement.
            stmt_lines = statement(text, m.start()).count("\n")
            top = line - 1
            while top > 0 and re.match(r"\s*(/\*|\*|//)", lines[top - 1]):
                top -= 1
            window = "\n".join(lines[top:line + stmt_lines])
            if MARK_RE.search(window):
                continue
            bad.append(f"{os.path.relpath(path, root)}:{line}: {m.group(1)}(...) by path in a file that works in "
                       "another user's directory: use basic/safedir, or mark why the path is root's alone")
    for b in bad:
        print(b)
    print(f"{seen} path calls checked, {len(bad)} outside basic/safedir")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
