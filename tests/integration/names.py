#!/usr/bin/env python3
"""Every FUSE operation that makes a name, tried with every name the union
keeps for itself and every name Windows programs cannot use (issue 29).

  names.py SOURCE_DIR MOUNT windows|posix

The table of operations is checked against the operations fs/fuse
registers, so a new one that makes a name cannot be missed. On a Windows
mount each forbidden name is EINVAL; on a posix mount the union's names
are EINVAL and Windows' are made. Prints one line per case that went
wrong and the count; exit 0 when none did."""
import errno
import os
import re
import sys

SRC, MNT, KIND = sys.argv[1], sys.argv[2], sys.argv[3]

# op name (as libfuse's lowlevel ops) -> how to make NAME in folder D
def mk_create(d, n):
    os.close(os.open(os.path.join(d, n), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))

def mk_mknod(d, n):
    os.mkfifo(os.path.join(d, n), 0o644)

def mk_mkdir(d, n):
    os.mkdir(os.path.join(d, n))

def mk_symlink(d, n):
    os.symlink("target", os.path.join(d, n))

def mk_link(d, n):
    os.link(os.path.join(d, "src"), os.path.join(d, n))

def mk_rename(d, n):
    with open(os.path.join(d, "mover"), "w"):
        pass
    os.rename(os.path.join(d, "mover"), os.path.join(d, n))

OPS = {"create": mk_create, "mknod": mk_mknod, "mkdir": mk_mkdir, "symlink": mk_symlink,
       "link": mk_link, "rename": mk_rename}
# libfuse's lowlevel operations that make a name in a folder
MAKING = {"create", "mknod", "mkdir", "symlink", "link", "rename", "tmpfile"}

RESERVED = [".wh.x", ".wh..wh..opq", ".wh..wh..work", ".wh..wh..session", ".wh.Vendor"]
FORBIDDEN = ["a:b", "a*b", "a?b", 'a"b', "a<b", "a>b", "a|b", "a\\b", "trail.", "trail ",
             "CON", "con.txt", "Aux", "nul.tar.gz", "PRN", "COM1", "lpt9.log", "ctl\x01x"]
FINE = ["plain.txt", "with space", "CONSOLE", "COM10", "a.b.c", "über"]


def registered():
    ops = set()
    for root, _, files in os.walk(os.path.join(SRC, "fs", "fuse")):
        for f in files:
            if f.endswith(".c"):
                ops |= set(re.findall(r"ops->(\w+)\s*=", open(os.path.join(root, f)).read()))
    return ops


def main():
    bad = []
    missing = (registered() & MAKING) - set(OPS)
    for m in sorted(missing):
        bad.append(f"fs/fuse registers '{m}', which makes a name, and this table has it not")
    d = os.path.join(MNT, "names-test")
    os.makedirs(d, exist_ok=True)
    cases = 0
    for op, make in OPS.items():
        for n in RESERVED + FORBIDDEN + FINE:
            want_fail = n in RESERVED or (KIND == "windows" and n in FORBIDDEN)
            name = n
            sub = os.path.join(d, op)          # a folder per operation
            os.makedirs(sub, exist_ok=True)
            if op == "link" and not os.path.exists(os.path.join(sub, "src")):
                with open(os.path.join(sub, "src"), "w"):
                    pass
            cases += 1
            try:
                make(sub, name)
                got = 0
            except OSError as e:
                got = e.errno
            if want_fail and got != errno.EINVAL:
                bad.append(f"{op} {name!r}: {os.strerror(got) if got else 'made'}, want EINVAL")
            elif not want_fail and got:
                bad.append(f"{op} {name!r}: {os.strerror(got)}, want it made")
    for b in bad:
        print("FAIL:", b)
    print(f"{cases} cases, {len(bad)} wrong")
    sys.exit(1 if bad or cases < 100 else 0)


main()
