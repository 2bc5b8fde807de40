#!/usr/bin/env python3
"""The kill -9 durability loop's parts.

  durability.py make LOWER                 40 lower files f00..f39, folders d0..d3
  durability.py snapshot MNT UPPER OUT     check the invariants, save the state
  durability.py work MNT SNAP JOURNAL SEED a write workload until the mount dies
  durability.py verify MNT UPPER SNAP JOURNAL
                                           what was fsynced (done) is there; the
                                           call in flight is all or nothing

State: {path: sha256 of the bytes, or None when deleted}. The workload
journals "begin OP PATH..." before each change and "done ..." once it
returned (after fsync); the journal is on the host, so the daemon's death
loses none of it. An op in flight may be seen before or after each of its
calls: a truncating write may leave an empty file (as on any file system),
an append (the first one copies the lower file up) the old bytes and a
prefix of the new ones (a pwrite the kernel stopped between pages for the
kill), never other bytes; a rename the old names or the new.
"""
import hashlib
import json
import os
import random
import sys

NAMES = [f"d{i % 4}/f{i:02d}.txt" for i in range(40)]


def sha(b):
    return hashlib.sha256(b).hexdigest()


def make(lower):
    for i, n in enumerate(NAMES):
        p = os.path.join(lower, n)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(f"lower {i}\n".encode() * (i + 1))


def state(mnt):
    s = {}
    for n in NAMES:
        try:
            with open(os.path.join(mnt, n), "rb") as f:
                s[n] = sha(f.read())
        except FileNotFoundError:
            s[n] = None
    return s


def invariants(mnt, upper):
    bad = []
    for root, dirs, files in os.walk(mnt):
        for n in dirs + files:
            if n.startswith(".wh.") or n.startswith("tmp."):
                bad.append(f"{os.path.join(root, n)}: a token or temporary shows")
    work = os.path.join(upper, ".wh..wh..work")
    if os.path.isdir(work) and os.listdir(work):
        bad.append(f"{work}: temporaries left after a remount: {os.listdir(work)}")
    # a token hides its name unless the upper layer has the name itself
    for root, dirs, files in os.walk(upper):
        if root.startswith(work):
            continue
        rel = os.path.relpath(root, upper)
        for n in files:
            if n.startswith(".wh.") and n != ".wh..wh..opq":
                hidden = n[4:]
                if hidden.lower() in (x.lower() for x in dirs + files):
                    continue
                if os.path.lexists(os.path.join(mnt, rel, hidden)):
                    bad.append(f"{rel}/{n}: token without its effect")
    return bad


def work(mnt, snap, journal, seed):
    st = json.load(open(snap))
    r = random.Random(seed)
    j = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def log(*words):
        os.write(j, (" ".join(words) + "\n").encode())

    def put(n, data, flags):
        fd = os.open(os.path.join(mnt, n), flags, 0o644)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)

    seq = 0
    try:
        while True:
            seq += 1
            n = r.choice(NAMES)
            op = r.choice(["write", "append", "unlink", "rename", "write"])
            data = f"{seed}.{seq} ".encode() * r.randint(1, 3000)
            if op == "write" or (st[n] is None and op != "rename"):
                # truncate, then write: in between the file is empty
                log("begin trunc", n, sha(data))
                put(n, data, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                log("done write", n, sha(data))
                st[n] = sha(data)
            elif op == "append":
                with open(os.path.join(mnt, n), "rb") as f:
                    whole = f.read() + data
                # the copy-up of a lower file happens here: never half a copy
                # seed, seq and count give the appended bytes back (verify)
                log("begin append", n, sha(whole), str(seq), str(len(data) // len(f"{seed}.{seq} ")),
                    str(len(whole) - len(data)), str(seed))
                put(n, data, os.O_WRONLY | os.O_APPEND)
                log("done write", n, sha(whole))
                st[n] = sha(whole)
            elif op == "unlink":
                log("begin unlink", n)
                os.unlink(os.path.join(mnt, n))
                log("done unlink", n)
                st[n] = None
            else:
                m = r.choice(NAMES)
                if st[n] is None or m == n:
                    continue
                log("begin rename", n, m, st[n])
                os.rename(os.path.join(mnt, n), os.path.join(mnt, m))
                log("done rename", n, m, st[n])
                st[m], st[n] = st[n], None
    except OSError:
        pass  # the daemon is gone: the mount says ENOTCONN


def verify(mnt, upper, snap, journal):
    st = json.load(open(snap))
    inflight = None
    for line in open(journal):
        w = line.split()
        if w[0] == "begin":
            inflight = w
            continue
        inflight = None
        if w[1] == "write":
            st[w[2]] = w[3]
        elif w[1] == "unlink":
            st[w[2]] = None
        else:
            st[w[3]], st[w[2]] = w[4], None
    # the op in flight: before or after, never between
    allowed = {n: {v} for n, v in st.items()}
    if inflight:
        if inflight[1] in ("trunc", "append"):
            allowed[inflight[2]].add(inflight[3])
        if inflight[1] == "trunc":
            allowed[inflight[2]].add(sha(b""))
        elif inflight[1] == "unlink":
            allowed[inflight[2]].add(None)
        elif inflight[1] == "rename":
            allowed[inflight[2]].add(None)
            allowed[inflight[3]].add(inflight[4])
    now = state(mnt)
    if inflight and inflight[1] == "append" and len(inflight) >= 8:
        # A daemon killed inside its pwrite may have written part of it
        # (the kernel stops a write between pages for a fatal signal): the
        # old bytes and a prefix of the appended ones is what any file
        # system gives a writer killed there. Nothing fsynced is lost.
        n, seq, count, oldlen, seed = inflight[2], inflight[4], int(inflight[5]), \
            int(inflight[6]), inflight[7]
        data = f"{seed}.{seq} ".encode() * count
        try:
            with open(os.path.join(mnt, n), "rb") as f:
                got = f.read()
        except FileNotFoundError:
            got = None
        if got is not None and len(got) >= oldlen and sha(got[:oldlen]) == st[n] and \
                data.startswith(got[oldlen:]):
            allowed[n].add(now[n])
    bad = [f"{n}: {now[n]} after the kill, expected one of {sorted(map(str, allowed[n]))}"
           for n in NAMES if now[n] not in allowed[n]]
    if inflight and inflight[1] == "rename":
        a, b = inflight[2], inflight[3]
        done = now[a] is None and now[b] == inflight[4]
        if not done and (now[a], now[b]) != (st[a], st[b]):
            bad.append(f"rename {a} -> {b} half done")
    return bad + invariants(mnt, upper)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2])
    elif cmd == "snapshot":
        bad = invariants(sys.argv[2], sys.argv[3])
        json.dump(state(sys.argv[2]), open(sys.argv[4], "w"))
        for b in bad:
            print(b)
        sys.exit(1 if bad else 0)
    elif cmd == "work":
        work(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif cmd == "verify":
        bad = verify(*sys.argv[2:6])
        for b in bad:
            print(b)
        sys.exit(1 if bad else 0)
