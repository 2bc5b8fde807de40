#!/usr/bin/env python3
"""An fsx-like checker: the same seeded random operations on two trees (the
drive under test and a plain folder), every result compared after each
step: data read back, sizes, link counts, names, errors. Files are few so
that hard links, renames over each other and unlinks of linked names meet
often (a hard-link torture). Exit 1 at the first difference, naming the
step and the operation.

    fsx.py TEST-DIR REFERENCE-DIR [--ops N] [--seed S] [--files K]
"""
import argparse
import errno
import os
import random
import sys


def outcome(fn):
    try:
        return ("ok", fn())
    except OSError as e:
        return ("err", errno.errorcode.get(e.errno, e.errno))


class Tree:
    def __init__(self, root):
        self.root = root

    def p(self, name):
        return os.path.join(self.root, name)

    def write(self, name, off, data):
        fd = os.open(self.p(name), os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, data, off)
        finally:
            os.close(fd)

    def truncate(self, name, size):
        os.truncate(self.p(name), size)

    def read(self, name):
        with open(self.p(name), "rb") as f:
            return f.read()

    def link(self, a, b):
        os.link(self.p(a), self.p(b))

    def rename(self, a, b):
        os.rename(self.p(a), self.p(b))

    def unlink(self, name):
        os.unlink(self.p(name))

    def fsync(self, name):
        fd = os.open(self.p(name), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def state(self):
        """Names, with size, link count, and which names share a file."""
        out, ids = [], {}
        for n in sorted(os.listdir(self.root)):
            st = os.lstat(self.p(n))
            ident = ids.setdefault((st.st_dev, st.st_ino), len(ids))
            out.append((n, st.st_size, st.st_nlink, ident))
        return out


def step(rng, names, t):
    a, b = rng.choice(names), rng.choice(names)
    op = rng.choices(["write", "truncate", "read", "link", "rename", "unlink", "fsync"],
                     [30, 10, 20, 12, 12, 10, 6])[0]
    if op == "write":
        off = rng.randrange(0, 200_000)
        n = rng.randrange(1, 70_000)
        data = bytes([rng.randrange(256)]) * n
        return op, (a, off, n), lambda tr: tr.write(a, off, data)
    if op == "truncate":
        size = rng.randrange(0, 300_000)
        return op, (a, size), lambda tr: tr.truncate(a, size)
    if op == "read":
        return op, (a,), lambda tr: tr.read(a)
    if op == "link":
        return op, (a, b), lambda tr: tr.link(a, b)
    if op == "rename":
        return op, (a, b), lambda tr: tr.rename(a, b)
    if op == "unlink":
        return op, (a,), lambda tr: tr.unlink(a)
    return op, (a,), lambda tr: tr.fsync(a)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("test")
    ap.add_argument("ref")
    ap.add_argument("--ops", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--files", type=int, default=6)
    o = ap.parse_args()
    rng = random.Random(o.seed)
    names = [f"f{i}" for i in range(o.files)]
    t, r = Tree(o.test), Tree(o.ref)
    for i in range(o.ops):
        op, args, fn = step(rng, names, t)
        got, want = outcome(lambda: fn(t)), outcome(lambda: fn(r))
        if got != want:
            print(f"fsx: step {i}: {op}{args}: drive {got[0]} {str(got[1])[:60]}, "
                  f"folder {want[0]} {str(want[1])[:60]}")
            return 1
        if i % 50 == 0 or op in ("link", "rename", "unlink"):
            if t.state() != r.state():
                print(f"fsx: step {i}: after {op}{args}: drive {t.state()} folder {r.state()}")
                return 1
            for n, *_ in r.state():
                if t.read(n) != r.read(n):
                    print(f"fsx: step {i}: after {op}{args}: {n} differs")
                    return 1
    print(f"fsx: {o.ops} operations, seed {o.seed}: the drive and the folder agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
