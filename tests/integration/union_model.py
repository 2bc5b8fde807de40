#!/usr/bin/env python3
"""Golden-tree tests of the union, through a real mount.

make LAYERS_DIR           write four layer trees L0 (OS, lowest) .. L3 with
                          overlaps, case variants, tokens, opaque folders,
                          type conflicts, streams and symlinks
compare MOUNT LAYER...    compare the mount with the expected tree
                          (LAYER... lowest first, host folders)
readers MOUNT LAYER...    8 threads of lookups and reads for a few seconds

The expected tree is computed here independently of the engine, the way a
layer is unpacked: start empty and apply each layer from the lowest up (an
opaque marker empties its folder, a token deletes a name, a folder merges
into a folder and replaces anything else, anything else replaces
whatever is there; a folder merged into and a file written over keep the
spelling they had). Names compare as Windows does (upper case)."""
import hashlib
import os
import random
import sys
import threading
import time

OPQ = ".wh..wh..opq"
WH = ".wh."


def fold(name):
    return name.upper()


class Node:
    def __init__(self, name, src=None, isdir=False):
        self.name, self.src, self.isdir = name, src, isdir
        self.children = {}


def apply(node, hostdir):
    entries = sorted(os.listdir(hostdir))
    if OPQ in entries:
        node.children.clear()
    for e in entries:
        if e.startswith(WH) and e != OPQ:
            node.children.pop(fold(e[len(WH):]), None)
    for e in entries:
        if e.startswith(WH):
            continue
        p = os.path.join(hostdir, e)
        if os.path.isdir(p) and not os.path.islink(p):
            cur = node.children.get(fold(e))
            if cur is None or not cur.isdir:
                cur = Node(e, isdir=True)
                node.children[fold(e)] = cur
            # merging into a folder keeps its spelling: Windows keeps the
            # spelling of whoever made it first
            cur.src = p
            apply(cur, p)
        else:
            cur = node.children.get(fold(e))
            # a file written over a file keeps the old name's spelling
            name = cur.name if cur is not None and not cur.isdir else e
            node.children[fold(e)] = Node(name, src=p)


def expected(layers):
    root = Node("", isdir=True)
    for l in layers:
        apply(root, l)
    out = {}

    def walk(node, prefix):
        for ch in node.children.values():
            path = prefix + ch.name
            if ch.isdir:
                out[path] = ("dir", None, None, xattrs(ch.src))
                walk(ch, path + "/")
            elif os.path.islink(ch.src):
                t = os.readlink(ch.src)
                if t.startswith("/"):     # rooted at the layer: inside the view
                    t = os.path.relpath(t.lstrip("/") or ".", os.path.dirname(path) or ".")
                out[path] = ("symlink", None, t, {})
            else:
                with open(ch.src, "rb") as f:
                    data = f.read()
                out[path] = ("file", len(data), hashlib.sha256(data).hexdigest(), xattrs(ch.src))
    walk(root, "")
    return out


def xattrs(path, prefix="user."):
    try:
        return {n: os.getxattr(path, n, follow_symlinks=False)
                for n in os.listxattr(path, follow_symlinks=False) if n.startswith(prefix)}
    except OSError:
        return {}


def actual(mount):
    out = {}
    for dirpath, dirs, files in os.walk(mount):
        rel = os.path.relpath(dirpath, mount)
        rel = "" if rel == "." else rel + "/"
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            if os.path.islink(p):
                out[rel + n] = ("symlink", None, os.readlink(p), {})
            elif os.path.isdir(p):
                out[rel + n] = ("dir", None, None, xattrs(p))
            else:
                with open(p, "rb") as f:
                    data = f.read()
                assert len(data) == st.st_size, p
                out[rel + n] = ("file", st.st_size, hashlib.sha256(data).hexdigest(), xattrs(p))
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(dirpath, d))]
    return out


def write(path, data, xattr=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    if xattr:
        os.setxattr(path, xattr[0], xattr[1])


def make(root):
    r = random.Random(99)
    L = [os.path.join(root, f"L{i}") for i in range(4)]
    for l in L:
        os.makedirs(l)
    # The OS layer: a Windows-like tree and some bulk.
    write(f"{L[0]}/Windows/System32/kernel32.dll", b"MZ os kernel32")
    write(f"{L[0]}/Windows/System32/drivers/etc/hosts", b"127.0.0.1 localhost\n")
    write(f"{L[0]}/Windows/win.ini", b"[os]\n", ("user.Zone.Identifier", b"[ZoneTransfer]\nZoneId=3"))
    write(f"{L[0]}/Windows/notepad.exe", b"MZ notepad")
    write(f"{L[0]}/Windows/Temp/os-temp.log", b"os temp")
    write(f"{L[0]}/Program Files/Common Files/readme.txt", b"os readme")
    write(f"{L[0]}/conflict/inside.txt", b"a folder the file above hides")
    write(f"{L[0]}/other", b"a file the folder above hides")
    write(f"{L[0]}/cut/os.txt", b"below a file: never merged")
    write(f"{L[0]}/keep.txt", b"os keep")
    os.makedirs(f"{L[0]}/Users/Public")
    os.symlink("/Users", f"{L[0]}/Documents and Settings")
    for i in range(300):
        write(f"{L[0]}/Windows/WinSxS/pkg{i % 17}/file{i}.dll", r.randbytes(r.choice([0, 1, 100, 5000, 70000])))
    # L1: an app in another spelling, a file over a folder, overrides.
    write(f"{L[1]}/PROGRAM FILES/App1/app1.exe", b"MZ app1")
    write(f"{L[1]}/PROGRAM FILES/COMMON FILES/shared.dll", b"app1 shared")
    write(f"{L[1]}/WINDOWS/WIN.INI", b"[app1]\n")
    write(f"{L[1]}/conflict", b"a file over the OS folder")
    write(f"{L[1]}/cut", b"a file between two folders")
    write(f"{L[1]}/WINDOWS/system32/app1.dll", r.randbytes(123457))
    # L2: tokens (other case than the name they hide), a folder over a file.
    write(f"{L[2]}/windows/.wh.NOTEPAD.EXE", b"")
    write(f"{L[2]}/program files/Common Files/.wh.README.TXT", b"")
    write(f"{L[2]}/.wh.keep.txt", b"")
    write(f"{L[2]}/keep.txt", b"app2 keep: a token never hides its own layer")
    write(f"{L[2]}/other/now-a-folder.txt", b"app2 folder over a file")
    write(f"{L[2]}/cut/app2.txt", b"app2 folder above the file")
    write(f"{L[2]}/program files/App2/app2.exe", b"MZ app2", ("user.Stream", b"stream of app2"))
    write(f"{L[2]}/program files/Common Files/shared.dll", b"app2 shared wins")
    os.symlink("../App1/app1.exe", f"{L[2]}/program files/App2/app1-link.exe")
    os.symlink("/Windows/System32", f"{L[2]}/program files/App2/sys")
    # L3: an opaque folder, and the highest spelling of Program Files.
    write(f"{L[3]}/Windows/Temp/{OPQ}", b"")
    write(f"{L[3]}/Windows/Temp/app3.tmp", b"app3 temp")
    write(f"{L[3]}/Program Files/App3/app3.exe", b"MZ app3")
    for i in range(100):
        write(f"{L[3]}/Windows/WinSxS/pkg{i % 7}/file{i * 3}.dll", r.randbytes(r.choice([1, 4096, 9000])))
    print("\n".join(L))


def compare(mount, layers):
    exp, act = expected(layers), actual(mount)
    bad = 0
    for p in sorted(set(exp) | set(act)):
        if exp.get(p) != act.get(p):
            print(f"{p!r}: expected {exp.get(p)!r:.160}, mounted {act.get(p)!r:.160}")
            bad += 1
    # Lookups in other cases find the same thing; tokens never show.
    for p in list(exp)[:200]:
        if not os.path.lexists(os.path.join(mount, p.swapcase())):
            print(f"{p.swapcase()!r}: not found in another case")
            bad += 1
    for p in act:
        if os.path.basename(p).startswith(WH):
            print(f"{p!r}: a token shows")
            bad += 1
    print(f"{len(exp)} entries expected, {len(act)} mounted, {bad} differences")
    return bad == 0


def readers(mount, layers, seconds=4.0):
    exp = expected(layers)
    files = [(p, v) for p, v in exp.items() if v[0] == "file"]
    errors = []
    counts = [0] * 8

    def run(k):
        rnd = random.Random(k)
        end = time.time() + seconds
        while time.time() < end and not errors:
            p, v = rnd.choice(files)
            q = p if rnd.random() < 0.5 else p.swapcase()
            try:
                with open(os.path.join(mount, q), "rb") as f:
                    data = f.read()
                if hashlib.sha256(data).hexdigest() != v[2]:
                    errors.append(f"{q}: wrong bytes")
                if os.path.exists(os.path.join(mount, q + ".missing")):
                    errors.append(f"{q}.missing exists")
            except OSError as e:
                errors.append(f"{q}: {e}")
            counts[k] += 1

    threads = [threading.Thread(target=run, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"{sum(counts)} lookups+reads by 8 threads, {len(errors)} wrong")
    for e in errors[:10]:
        print(e)
    return not errors


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2])
    elif cmd == "compare":
        sys.exit(0 if compare(sys.argv[2], sys.argv[3:]) else 1)
    elif cmd == "readers":
        sys.exit(0 if readers(sys.argv[2], sys.argv[3:]) else 1)
