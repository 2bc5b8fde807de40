#!/usr/bin/env python3
"""Compare what `layerctl ls -R --json` and `layerctl cat` say of a layer
with a reference tree on the host (the packed source, or the same volume
mounted by ntfs-3g): every name, type, size, mtime (to NTFS's 100 ns),
symlink target and byte; with --owners also owner, group, mode, the special
file types (FIFO, socket, devices) and device numbers. Prints the
differences; exit 1 if any."""
import hashlib
import json
import os
import subprocess
import sys


SPECIAL = {0o010000: "fifo", 0o140000: "socket", 0o020000: "chardev", 0o060000: "blockdev"}


def host_tree(root, mount_prefix=None, owners=False):
    """path -> (type, size, mtime_ns, target[, owner]) for everything under root."""
    out = {}
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)

    def walk(dir_fd, rel):
        for name in sorted(os.listdir(dir_fd)):
            st = os.lstat(name, dir_fd=dir_fd)
            path = rel + name
            target = None
            if os.path.stat.S_ISLNK(st.st_mode):
                kind = "symlink"
                target = os.readlink(name, dir_fd=dir_fd)
                if mount_prefix and target.startswith(mount_prefix):
                    target = target[len(mount_prefix):] or "/"
            elif os.path.stat.S_ISDIR(st.st_mode):
                kind = "dir"
            else:
                kind = SPECIAL.get(os.path.stat.S_IFMT(st.st_mode), "file")
            size = st.st_size if kind == "file" else None
            out[path] = (kind, size, st.st_mtime_ns // 100 * 100, target)
            if owners:
                dev = (f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
                       if kind in ("chardev", "blockdev") else None)
                out[path] += ((st.st_uid, st.st_gid,
                               None if kind == "symlink" else st.st_mode & 0o7777, dev),)
            if kind == "dir":
                fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=dir_fd)
                walk(fd, path + "/")
                os.close(fd)

    walk(root_fd, "")
    os.close(root_fd)
    return out


def ns(iso):
    """2024-06-03T10:00:00.123456700Z -> ns since the epoch."""
    import calendar
    import time
    base, frac = iso.rstrip("Z").split(".")
    secs = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    return secs * 10**9 + int(frac)


def layer_tree(layerctl, layer, owners=False):
    r = subprocess.run([layerctl, "ls", "-R", "--json", layer], capture_output=True)
    if r.returncode:
        sys.exit(f"layerctl ls failed: {r.stderr.decode()}")
    out = {}
    for e in json.loads(r.stdout):
        size = e["size"] if e["type"] == "file" else None
        out[e["path"]] = (e["type"], size, ns(e["mtime"]) // 100 * 100, e.get("target"))
        if owners:
            out[e["path"]] += ((e["uid"], e["gid"],
                                None if e["type"] == "symlink" else e["mode"], e.get("rdev")),)
    return out


def file_digest_host(root, paths):
    h = hashlib.sha256()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for p in paths:
        # open relative, one component at a time: paths may pass PATH_MAX
        parts = p.split("/")
        cur = os.dup(fd)
        for comp in parts[:-1]:
            nxt = os.open(comp, os.O_RDONLY | os.O_DIRECTORY, dir_fd=cur)
            os.close(cur)
            cur = nxt
        f = os.open(parts[-1], os.O_RDONLY, dir_fd=cur)
        os.close(cur)
        while True:
            b = os.read(f, 1 << 20)
            if not b:
                break
            h.update(b)
        os.close(f)
    os.close(fd)
    return h.hexdigest()


def file_digest_layer(layerctl, layer, paths):
    h = hashlib.sha256()
    # in batches: each batch one layerctl cat
    for i in range(0, len(paths), 2000):
        r = subprocess.run([layerctl, "cat", layer] + paths[i:i + 2000], capture_output=True)
        if r.returncode:
            sys.exit(f"layerctl cat failed: {r.stderr.decode()[:2000]}")
        h.update(r.stdout)
    return h.hexdigest()


def main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("layerctl")
    ap.add_argument("layer")
    ap.add_argument("reference")
    ap.add_argument("--mount-prefix", help="strip from absolute symlink targets of the reference")
    ap.add_argument("--no-mtime", action="store_true")
    ap.add_argument("--owners", action="store_true", help="compare owner, group, mode, devices")
    a = ap.parse_args()

    host = host_tree(a.reference, a.mount_prefix, a.owners)
    layer = layer_tree(a.layerctl, a.layer, a.owners)
    bad = 0
    for p in sorted(set(host) | set(layer)):
        h, l = host.get(p), layer.get(p)
        if h is None or l is None:
            print(f"only in {'layer' if h is None else 'reference'}: {p!r}")
            bad += 1
            continue
        if a.no_mtime:
            h, l = h[:2] + h[3:], l[:2] + l[3:]
        if h != l:
            print(f"differs: {p!r}: reference {h} layer {l}")
            bad += 1
        if bad > 20:
            print("... (stopping)")
            break
    files = sorted(p for p, v in host.items() if v[0] == "file" and layer.get(p, ("",))[0] == "file")
    if not bad:
        dh = file_digest_host(a.reference, files)
        dl = file_digest_layer(a.layerctl, a.layer, files)
        if dh != dl:
            print(f"contents differ over {len(files)} files")
            bad += 1
    print(f"{len(host)} entries, {len(files)} files compared; {bad} differences")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
