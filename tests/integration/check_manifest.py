#!/usr/bin/env python3
"""Compare a mounted tree with the manifest gen-wintree wrote: every name
there and nothing else (bar --ignore prefixes), each type, size and
SHA-1 of the bytes read through the mount, and each hard link sharing its
source's inode number. Prints the first differences; exit 1 if any.
  check_manifest.py MANIFEST ROOT [--ignore PREFIX]..."""
import hashlib
import os
import stat
import sys


def main():
    args = sys.argv[1:]
    ignore = []
    while "--ignore" in args:
        i = args.index("--ignore")
        ignore.append(args[i + 1])
        del args[i:i + 2]
    manifest, root = args
    want = {}
    links = []
    for line in open(manifest, encoding="utf-8"):
        kind, size, sha, rest = line.rstrip("\n").split(" ", 3)
        path, _, src = rest.partition("\t")
        want[path] = (kind if kind != "h" else "f", size, sha)
        if kind == "h":
            links.append((path, src))
    got = {}
    inos = {}
    errors = []
    # the walk find does: list, stat each name, go down
    stack = [""]
    while stack:
        rel = stack.pop()
        for name in os.listdir(os.path.join(root, rel)):
            p = f"{rel}/{name}" if rel else name
            if any(p == x or p.startswith(x + "/") for x in ignore):
                continue
            st = os.lstat(os.path.join(root, p))
            inos[p] = st.st_ino
            if stat.S_ISDIR(st.st_mode):
                got[p] = ("d", "-", "-")
                stack.append(p)
            elif stat.S_ISREG(st.st_mode):
                with open(os.path.join(root, p), "rb") as f:
                    data = f.read()
                if len(data) != st.st_size:
                    errors.append(f"{p}: stat says {st.st_size} bytes, read {len(data)}")
                got[p] = ("f", str(len(data)), hashlib.sha1(data).hexdigest())
            else:
                got[p] = ("?", "-", "-")
    for p in sorted(set(want) | set(got)):
        if p not in got:
            errors.append(f"{p}: missing")
        elif p not in want:
            errors.append(f"{p}: not in the source")
        elif got[p] != want[p] and not (p in want and want[p][0] == "d" and got[p][0] == "d"):
            errors.append(f"{p}: {got[p]} where the source has {want[p]}")
    for path, src in links:
        if path in inos and src in inos and inos[path] != inos[src]:
            errors.append(f"{path}: inode {inos[path]}, its other name {src} has {inos[src]}")
    for e in errors[:20]:
        print(e)
    print(f"{len(got)} names compared, {len(links)} hard links, {len(errors)} differences")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
