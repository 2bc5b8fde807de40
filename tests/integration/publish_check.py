#!/usr/bin/env python3
"""publish's independent check: the published volume mounted by ntfs-3g's
own driver (IMAGE_MOUNT, -o ro,streams_interface=xattr) against the stack
mounted by layerfs (UNION_MOUNT): the same names, and for each file the
same bytes, system.ntfs_acl, system.ntfs_attrib, system.ntfs_times,
system.ntfs_reparse_data, system.ntfs_ea, system.ntfs_object_id and
streams (user.*). Prints each difference; exit 1 if any. The two may
be any two trees (two ntfs-3g mounts: a volume Windows wrote and its
published copy); --except NAME leaves out the top-level entry NAME and
what is below it (what an app layer added).

    publish_check.py [--except NAME] IMAGE_MOUNT UNION_MOUNT"""
import os
import sys


def xattrs(path):
    out = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for n in names:
        if n.startswith("user.") and not n.startswith("user.layerfs."):
            out[n] = os.getxattr(path, n, follow_symlinks=False)
    for n in ("system.ntfs_acl", "system.ntfs_attrib", "system.ntfs_times",
              "system.ntfs_reparse_data", "system.ntfs_ea", "system.ntfs_object_id"):
        try:
            out[n] = os.getxattr(path, n, follow_symlinks=False)
        except OSError:
            pass
    return out


def target(root, rel, path):
    """A link's target as a path from the volume's root: ntfs-3g shows
    rooted ones under its mount (and C: under .NTFS-3G), layerfs relative
    to the link's folder."""
    t = os.readlink(path)
    if t.startswith(root + "/"):
        t = t[len(root):]
    if t.startswith("/.NTFS-3G/C:"):
        t = t[len("/.NTFS-3G/C:"):]
    if not t.startswith("/"):
        t = os.path.normpath(os.path.join("/", os.path.dirname(rel), t))
    return t


def walk(root, skip):
    seen = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            rel = os.path.relpath(p, root)
            if skip is None or rel.split("/")[0] != skip:
                seen[rel] = p
    return seen


def main():
    args = sys.argv[1:]
    skip = None
    if args[:1] == ["--except"]:
        skip, args = args[1], args[2:]
    image, union = os.path.abspath(args[0]), os.path.abspath(args[1])
    a, b = walk(image, skip), walk(union, skip)
    bad = 0
    for rel in sorted(set(a) | set(b)):
        if rel not in a or rel not in b:
            print(f"{rel}: only in {'the union' if rel in b else 'the image'}")
            bad += 1
            continue
        pa, pb = a[rel], b[rel]
        sa, sb = os.lstat(pa), os.lstat(pb)
        why = []
        if (sa.st_mode & 0o170000) != (sb.st_mode & 0o170000):
            why.append("type")
        elif os.path.isfile(pa) and not os.path.islink(pa):
            with open(pa, "rb") as fa, open(pb, "rb") as fb:
                if fa.read() != fb.read():
                    why.append("bytes")
        elif os.path.islink(pa) and target(image, rel, pa) != target(union, rel, pb):
            why.append("link target")
        xa, xb = xattrs(pa), xattrs(pb)
        for n in sorted(set(xa) | set(xb)):
            # ntfs-3g answers no xattr on a link: layerctl compare checks those
            if os.path.islink(pa) and (n not in xa or n not in xb):
                continue
            if xa.get(n) != xb.get(n):
                why.append(n)
        if why:
            print(f"{rel}: {', '.join(why)}")
            bad += 1
    print(f"{len(a)} entries compared, {bad} differ")
    return 1 if bad else 0


sys.exit(main())
