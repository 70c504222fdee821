#!/usr/bin/env python3
"""Fails when tool/ does the library's work: tool/*.c may parse arguments, call the library and print.

Forbidden in tool/*.c (lib/README.md says where each belongs):
  - starting or controlling processes: fork, vfork, clone, exec*, posix_spawn*, system, popen, wait*, kill
  - talking QMP: any qmp_* call (lib/run: control, supervise, vmrun)
  - changing the host: vfio_host_write_attr, write_attr_at, sched_setaffinity, setrlimit, and the calls
    that create, remove, rename, link or re-own files (unlink, rename, symlink, mkdir, rmdir, chown,
    chmod, truncate, mknod and their *at variants)
Comments and string literals are ignored. Prints one line per violation (file:line: call) and TAP: test 1
is the tree; test 2 proves the check can fail, on calls planted in a scratch file (and the same words in
comments and strings, which must pass).
"""
import os
import re
import sys
import tempfile

PROCESS = ["fork", "vfork", "clone", "clone3", "execl", "execle", "execlp", "execv", "execve", "execvp",
           "execvpe", "execveat", "fexecve", "posix_spawn", "posix_spawnp", "system", "popen", "wait",
           "waitpid", "waitid", "wait3", "wait4", "kill", "tgkill", "pidfd_send_signal"]
HOST = ["vfio_host_write_attr", "write_attr_at", "sched_setaffinity", "setrlimit", "prlimit", "unlink",
        "unlinkat", "rename", "renameat", "renameat2", "symlink", "symlinkat", "link", "linkat", "mkdir",
        "mkdirat", "rmdir", "chown", "fchown", "lchown", "fchownat", "chmod", "fchmod", "fchmodat",
        "truncate", "ftruncate", "mknod", "mknodat"]
CALL_RE = re.compile(r"(?<![\w.>])(" + "|".join(PROCESS + HOST) + r"|qmp_\w+)\s*\(")
WHY = {**{n: "starts or controls a process" for n in PROCESS}, **{n: "changes the host" for n in HOST}}


def blank(text):
    """Comments and string/char literals replaced by spaces (lines kept), so only code is searched."""
    text = re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)
    text = re.sub(r"//[^\n]*", lambda m: " " * len(m.group(0)), text)
    return re.sub(r'"(\\.|[^"\\\n])*"|\'(\\.|[^\'\\\n])*\'', lambda m: " " * len(m.group(0)), text)


def violations(path, shown):
    code = blank(open(path, encoding="utf-8").read())
    out = []
    for m in CALL_RE.finditer(code):
        prev = code[max(0, m.start() - 40):m.start()]
        if re.search(r"(static|int|void|char|bool)\s*\*?\s*$", prev):
            continue  # a declaration or definition of our own function, not a call
        name = m.group(1)
        line = code.count("\n", 0, m.start()) + 1
        why = "talks QMP" if name.startswith("qmp_") else WHY[name]
        out.append(f"{shown}:{line}: {name}() {why}: that work belongs in lib/ (tool/ parses, calls the library, prints)")
    return out


def check_dir(d, prefix):
    bad = []
    for f in sorted(os.listdir(d)):
        if f.endswith(".c"):
            bad += violations(os.path.join(d, f), os.path.join(prefix, f))
    return bad


PLANTED = """/* fork() and kill() in a comment, and "qmp_execute(q)" in a string, are fine. */
static int planted(void)
{
        const char *s = "unlink(x) mkdir(y)";
        pid_t pid = fork();
        qmp_execute(q, "quit", NULL, 1000, NULL, NULL);
        (void)vfio_host_write_attr(h, "sys/bus/pci/drivers_probe", "0000:01:00.0");
        (void)unlink(path);
        kill(pid, SIGKILL);
        return s[0];
}
"""


def main(root):
    bad = check_dir(os.path.join(root, "tool"), "tool")
    with tempfile.TemporaryDirectory(prefix="vfioctl-check-tool-") as d:
        open(os.path.join(d, "verb-planted.c"), "w").write(PLANTED)
        planted = check_dir(d, "planted")
    caught = sorted({v.split(": ")[1].split("(")[0] for v in planted})
    print("1..2")
    for b in bad:
        print(f"# {b}")
    print(("ok" if not bad else "not ok") + " 1 - tool/*.c starts no process, speaks no QMP, changes nothing on the host")
    want = ["fork", "kill", "qmp_execute", "unlink", "vfio_host_write_attr"]
    for p in planted:
        print(f"# planted: {p}")
    print(("ok" if caught == want else "not ok") +
          f" 2 - the check catches calls planted in a scratch file and ignores comments and strings ({', '.join(caught)})")
    return 0 if not bad and caught == want else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")))
