#!/usr/bin/env python3
"""An NTFS volume's tree as The Sleuth Kit reads it: one line per
allocated entry below the root (metafiles left out), sorted:
"TYPE PATH SIZE SHA256" for files, "TYPE PATH" for the rest. Two volumes
that hold the same tree print the same lines (publish's round trip is
checked so against an independent reader).

With --meta, each entry's record as istat reads it follows its line:
its links, $STANDARD_INFORMATION flags, owner (the SID; the number of
its $Secure entry is the volume's own) and four times, its names
($FILE_NAME: the long one and an 8.3 one), and its attributes by type,
name and size ($DATA streams, $EA, $OBJECT_ID, $REPARSE_POINT, ...);
not where they lie (entry and sequence numbers, runs, resident or not,
attribute ids, allocated sizes), which a new volume lays out anew.

--except NAME leaves out the top-level entry NAME and what is below it.

    tsk_tree.py [--meta] [--except NAME] IMAGE [SECTOR_OFFSET]
"""
import hashlib
import re
import subprocess
import sys

LINE = re.compile(r"^(\S)/(\S) (?:\* )?([0-9]+)(?:-[0-9]+-[0-9]+)?(?:\(realloc\))?:\t(.*)$")


SKIP_ATTRS = ("$STANDARD_INFORMATION", "$FILE_NAME", "$INDEX_ROOT", "$INDEX_ALLOCATION",
              "$BITMAP", "$ATTRIBUTE_LIST")


def meta(img, off, ino):
    """The parts of istat's report that say what the entry is."""
    r = subprocess.run(["istat", "-o", off, img, ino], capture_output=True)
    lines = r.stdout.decode("utf-8", "replace").splitlines()
    out, section, names = [], "", []
    for line in lines:
        if line.endswith("Attribute Values:") or line.startswith("Attributes:"):
            section = line.split()[0]
            continue
        if line.startswith("Links:"):
            out.append(line)
        elif section == "$STANDARD_INFORMATION":
            if line.startswith("Flags:"):
                out.append("SI " + line)
            elif line.startswith("Security ID:"):
                sid = re.search(r"\((S-[0-9-]+)\)", line)
                out.append("owner " + (sid.group(1) if sid else "?"))
            elif re.match(r"^(Created|File Modified|MFT Modified|Accessed):", line):
                out.append("SI " + line.replace("\t", " "))
        elif section == "$FILE_NAME" and line.startswith("Name:"):
            names.append(line[5:].strip())
        elif section == "Attributes:" and line.startswith("Type:"):
            m = re.match(r"Type: (\S+) \([0-9]+-[0-9]+\)\s+Name: (.*?)\s+(?:Non-)?[Rr]esident\s+size: ([0-9]+)", line)
            if m and m.group(1) not in SKIP_ATTRS:
                out.append(f"attr {m.group(1)} {m.group(2)} {m.group(3)}")
    out.append("names " + " | ".join(sorted(names)))
    return ["  " + x for x in out]


def main():
    args = sys.argv[1:]
    with_meta = args[:1] == ["--meta"]
    if with_meta:
        args = args[1:]
    skip = None
    if args[:1] == ["--except"]:
        skip, args = args[1], args[2:]
    img = args[0]
    off = args[1] if len(args) > 1 else "0"
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
        top = path.split("/")[0].split(":")[0]
        if top.startswith("$") or top == skip:
            continue               # metafiles, $Extend's, $OrphanFiles; what is left out
        if name_type == "r":
            data = subprocess.run(["icat", "-o", off, img, ino], capture_output=True).stdout
            line = f"r {path} {len(data)} {hashlib.sha256(data).hexdigest()}"
        else:
            line = f"{name_type} {path}"
        if with_meta and ":" not in path:    # a stream's line: its file's record says it
            line += "\n" + "\n".join(meta(img, off, ino))
        out.append(line)
    print("\n".join(sorted(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
