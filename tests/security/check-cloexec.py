#!/usr/bin/env python3
"""Lists fd-creating calls in C sources that do not ask for close-on-exec (house rule 12).

A call counts as CLOEXEC when its statement (joined across lines up to ';') names O_CLOEXEC,
SOCK_CLOEXEC, MFD_CLOEXEC, EFD_CLOEXEC, ..., or a macro of the same file whose #define names one, or, for
fopen/fdopen, a mode string containing 'e'.
dup2()/dup3() onto 0/1/2 in a forked child are the point (the exec'd program's stdio) and are allowed.
opendir/fdopendir use O_CLOEXEC inside glibc.
"""
import os
import re
import sys

CALLS = r"open|openat|openat2|creat|socket|socketpair|accept|accept4|pipe|pipe2|dup|dup3|fopen|fdopen|" \
        r"mkstemp|mkostemp|memfd_create|eventfd|signalfd|timerfd_create|epoll_create1?|inotify_init1?"
CALL_RE = re.compile(r"(?<![\w.>])(" + CALLS + r")\s*\(")
STDIO_DUP = re.compile(r"\bdup[23]?\s*\([^;]*\b(STDIN_FILENO|STDOUT_FILENO|STDERR_FILENO|[012])\s*[,)]")


def statement(text, start):
    end = text.find(";", start)
    return text[start:end if end >= 0 else len(text)]


def main(dirs):
    bad, seen = [], 0
    for d in dirs:
        for root, _, files in os.walk(d):
            for f in sorted(files):
                if not f.endswith(".c"):
                    continue
                path = os.path.join(root, f)
                text = open(path, encoding="utf-8").read()
                # Comments and strings would give false hits ("open(2)").
                code = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)
                code = re.sub(r"//[^\n]*", lambda m: " " * len(m.group(0)), code)
                # String contents blanked (same length) for finding calls; statements keep them (fopen modes).
                bare = re.sub(r'"(\\.|[^"\\\n])*"', lambda m: '"' + " " * (len(m.group(0)) - 2) + '"', code)
                # Flags kept in one place ("#define ATTR_OPEN_FLAGS (O_RDONLY | O_CLOEXEC ...)") count as said.
                flag_macros = re.findall(r"^\s*#\s*define\s+(\w+)\b[^\n]*CLOEXEC", code, flags=re.M)
                for m in CALL_RE.finditer(bare):
                    line = code.count("\n", 0, m.start()) + 1
                    prev = code[max(0, m.start() - 40):m.start()]
                    if re.search(r"(static|int|void|char|\bFILE\s*\*)\s*$", prev):
                        continue  # a declaration or definition, not a call
                    stmt = statement(code, m.start())
                    seen += 1
                    name = m.group(1)
                    if "CLOEXEC" in stmt or any(re.search(r"\b" + f + r"\b", stmt) for f in flag_macros):
                        continue
                    if name in ("fopen", "fdopen") and re.search(r'"[rwa+]*e[rwa+]*"', stmt):
                        continue
                    if name in ("dup", "dup2", "dup3") and STDIO_DUP.search(stmt):
                        continue
                    if name == "fdopen":
                        continue  # the FILE shares an fd that was opened CLOEXEC (checked at its open)
                    bad.append(f"{path}:{line}: {name}(...) without CLOEXEC")
    for b in bad:
        print(b)
    print(f"{seen} calls checked, {len(bad)} without CLOEXEC")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
