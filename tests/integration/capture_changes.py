#!/usr/bin/env python3
"""Apply a random, reproducible set of changes to a mounted Windows volume
(ntfs-3g, streams as user.* xattrs) and its SOFTWARE hive, as an installer
would: files created (in new and in existing folders), changed,
truncated, deleted; folders deleted whole; alternate data streams added;
security descriptors changed; registry keys and values added, changed and
deleted. Used by capture_prop.sh: capture A->B must give back B exactly.

capture_changes.py --seed N MOUNT LAYERCTL WORKDIR
Prints one line per change (the test's log says what a seed did).
"""
import argparse
import fnmatch
import os
import random
import shutil
import struct
import subprocess
import sys

HIVE = "Windows/System32/config/SOFTWARE"
# the hives' folder (changed through the registry only), and what capture
# leaves out by default (Windows' noise): B must equal A + the layer
SKIP = ("Windows/System32/config", "System Volume Information", "$Recycle.Bin",
        "Windows/Temp", "Windows/Prefetch", "Windows/Logs", "Windows/SoftwareDistribution",
        "Windows/System32/winevt", "ProgramData/Microsoft", "Users/*/AppData/Local/Temp")
HIVES = ("ntuser.dat", "usrclass.dat")     # changed through the registry only


def skipped(p):
    return any(fnmatch.fnmatch(p.lower(), x.lower()) or fnmatch.fnmatch(p.lower(), x.lower() + "/*")
               for x in SKIP)


def tree(root):
    files, dirs = [], []
    for d, subdirs, names in os.walk(root):
        rel = os.path.relpath(d, root)
        rel = "" if rel == "." else rel
        subdirs[:] = sorted(s for s in subdirs
                            if not skipped(os.path.join(rel, s)) and not s.startswith("$"))
        # links (junctions, symlinks) are left as they are: changing one
        # through the mount would change what it points at
        for s in subdirs:
            if os.path.islink(os.path.join(d, s)):
                continue
            dirs.append(os.path.join(rel, s))
        for n in sorted(names):
            p = os.path.join(rel, n)
            if not skipped(p) and not n.startswith("$") \
               and n.lower() not in HIVES and not os.path.islink(os.path.join(d, n)):
                files.append(p)
    return sorted(files), sorted(dirs)


def data(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("mount")
    ap.add_argument("layerctl")
    ap.add_argument("work")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    m = a.mount
    files, dirs = tree(m)
    say = lambda *x: print(f"seed {a.seed}:", *x)

    # changed: rewritten, appended to, emptied
    for p in rng.sample(files, min(6, len(files))):
        how = rng.choice(["rewrite", "append", "truncate"])
        with open(os.path.join(m, p), "r+b" if how != "rewrite" else "wb") as f:
            if how == "append":
                f.seek(0, 2)
                f.write(data(rng, rng.randint(1, 5000)))
            elif how == "truncate":
                f.truncate(0)
            else:
                f.write(data(rng, rng.randint(0, 70000)))
        say("change", how, p)
        files.remove(p)

    # new files in existing folders and in new ones
    made = []
    for i in range(rng.randint(5, 10)):
        d = rng.choice(dirs + [""])
        if rng.random() < 0.4:
            d = os.path.join(d, f"NewDir{a.seed}_{i}")
            os.makedirs(os.path.join(m, d), exist_ok=True)
            say("mkdir", d)
        p = os.path.join(d, f"new{a.seed}_{i}.{rng.choice(['dll', 'exe', 'txt', 'dat'])}")
        with open(os.path.join(m, p), "wb") as f:
            f.write(data(rng, rng.choice([0, 17, 4096, rng.randint(1, 200000)])))
        say("create", p)
        made.append(p)
        if rng.random() < 0.5:
            os.setxattr(os.path.join(m, p), "user.Zone.Identifier",
                        b"[ZoneTransfer]\r\nZoneId=%d\r\n" % rng.randint(0, 4))
            say("stream", p)

    # a new file with a second name (an installer's hard link, as WinSxS
    # and System32 share files)
    if made:
        p = rng.choice(made)
        d = rng.choice(dirs + [""])
        if os.path.isdir(os.path.join(m, d)) and not os.path.islink(os.path.join(m, d)):
            q = os.path.join(d, f"link{a.seed}.dll")
            os.link(os.path.join(m, p), os.path.join(m, q))
            say("link", q, p)

    # streams and descriptors on files that were there
    sds = [os.getxattr(os.path.join(m, x), "system.ntfs_acl") for x in [""] + dirs[:5]]
    for p in rng.sample(files, min(4, len(files))):
        full = os.path.join(m, p)
        if rng.random() < 0.5:
            os.setxattr(full, "user.stream%d" % rng.randint(0, 9), data(rng, rng.randint(1, 300)))
            say("stream", p)
        else:
            mine = os.getxattr(full, "system.ntfs_acl")
            other = [s for s in sds if s != mine]
            if other:
                os.setxattr(full, "system.ntfs_acl", rng.choice(other))
                say("acl", p)

    # deleted: files, and a folder with all below it
    for p in rng.sample(files, min(3, len(files))):
        if os.path.exists(os.path.join(m, p)):
            os.unlink(os.path.join(m, p))
            say("delete", p)
    leafy = [d for d in dirs if os.path.isdir(os.path.join(m, d))
             and not os.path.islink(os.path.join(m, d)) and d.count("/") >= 1]
    if leafy:
        d = rng.choice(leafy)
        shutil.rmtree(os.path.join(m, d))
        say("rmtree", d)

    # a junction, as installers make them (a folder that is a reparse
    # point to another folder on C:)
    if rng.random() < 0.7:
        d = rng.choice([x for x in dirs if os.path.isdir(os.path.join(m, x))
                        and not os.path.islink(os.path.join(m, x))] + [""])
        j = os.path.join(d, f"Junction{a.seed}")
        target = "C:\\" + rng.choice(["Users", "ProgramData", "Windows"])
        sub = ("\\??\\" + target).encode("utf-16-le")
        pr = target.encode("utf-16-le")
        body = struct.pack("<HHHH", 0, len(sub), len(sub) + 2, len(pr)) + sub + b"\0\0" + pr + b"\0\0"
        os.mkdir(os.path.join(m, j))
        os.setxattr(os.path.join(m, j), "system.ntfs_reparse_data",
                    struct.pack("<IHH", 0xA0000003, len(body), 0) + body)
        say("junction", j, target)

    # names respelled in another letter case, as Windows' rename does: a
    # file, and a folder with what is in it
    alive = tree(m)[0]
    for p in rng.sample(alive, min(2, len(alive))):
        d, n = os.path.split(p)
        if n.swapcase() != n:
            os.rename(os.path.join(m, p), os.path.join(m, d, n.swapcase()))
            say("recase", p)
    alive = [d for d in dirs if os.path.isdir(os.path.join(m, d))
             and not os.path.islink(os.path.join(m, d)) and d.count("/") >= 1]
    if alive:
        d = rng.choice(alive)
        up, n = os.path.split(d)
        if n.swapcase() != n:
            os.rename(os.path.join(m, d), os.path.join(m, up, n.swapcase()))
            say("recase", d)

    # the registry: keys and values added, changed, deleted
    hive = os.path.join(m, HIVE)
    if os.path.exists(hive):
        export = subprocess.run([a.layerctl, "reg", "export", hive], check=True,
                                capture_output=True, text=True).stdout
        keys, values = [], []
        key = None
        for line in export.splitlines():
            if line.startswith("[") and line.endswith("]"):
                key = line[1:-1]
                keys.append(key)
            elif key and line.startswith('"') and '"=' in line:
                values.append((key, line[1:line.index('"=')]))
        reg = ["Windows Registry Editor Version 5.00", ""]
        for i in range(rng.randint(2, 5)):
            k = rng.choice(keys) + f"\\App{a.seed}_{i}"
            reg += [f"[{k}]", f'"Version"="{rng.randint(1, 99)}.0"',
                    f'"Flags"=dword:{rng.getrandbits(32):08x}', ""]
            say("reg add", k)
        for k, v in rng.sample(values, min(3, len(values))):
            reg += [f"[{k}]", f'"{v}"="changed {rng.randint(0, 999)}"', ""]
            say("reg change", k, v)
        for k, v in rng.sample(values, min(2, len(values))):
            reg += [f"[{k}]", f'"{v}"=-', ""]
            say("reg delete value", k, v)
        deep = [k for k in keys if k.count("\\") >= 3]
        if deep:
            k = rng.choice(deep)
            reg += [f"[-{k}]", ""]
            say("reg delete key", k)
        rf = os.path.join(a.work, f"changes{a.seed}.reg")
        with open(rf, "w") as f:
            f.write("\n".join(reg) + "\n")
        out = os.path.join(a.work, f"SOFTWARE.{a.seed}")
        subprocess.run([a.layerctl, "reg", "import", hive, rf, out], check=True)
        shutil.copyfile(out, hive)
    return 0


if __name__ == "__main__":
    sys.exit(main())
