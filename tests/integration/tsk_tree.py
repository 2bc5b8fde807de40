#!/usr/bin/env python3
"""An NTFS volume's tree as The Sleuth Kit reads it: one line per
allocated entry below the root (metafiles left out), sorted:
"TYPE PATH SIZE SHA256" for files, "TYPE PATH" for the rest. Two volumes
that hold the same tree print the same lines (publish's round trip is
checked so against an independent reader).

    tsk_tree.py IMAGE [SECTOR_OFFSET]
"""
import hashlib
import re
import subprocess
import sys

LINE = re.compile(r"^(\S)/(\S) (?:\* )?([0-9]+)(?:-[0-9]+-[0-9]+)?(?:\(realloc\))?:\t(.*)$")


def main():
    img = sys.argv[1]
    off = sys.argv[2] if len(sys.argv) > 2 else "0"
    r = subprocess.run(["fls", "-r", "-p", "-u", "-o", off, img], capture_output=True)
    if r.returncode:
        print(f"{img}: fls: {r.stderr.decode(errors='replace').strip()}", file=sys.stderr)
        return 2
    out = []
    for raw in r.stdout.decode("utf-8", "replace").splitlines():
        m = LINE.match(raw)
        if not m:
            continue
        name_type, meta_type, ino, path = m.groups()
        if path.split("/")[0].startswith("$"):
            continue               # metafiles, $Extend's, $OrphanFiles
        if name_type == "r":
            data = subprocess.run(["icat", "-o", off, img, ino], capture_output=True).stdout
            out.append(f"r {path} {len(data)} {hashlib.sha256(data).hexdigest()}")
        else:
            out.append(f"{name_type} {path}")
    print("\n".join(sorted(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
