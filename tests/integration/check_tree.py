#!/usr/bin/env python3
"""The source tree keeps its shape (issue 14):
1. no meson.build names another folder as an include path: the only
   include_directories() is the top one, include/;
2. every quoted #include resolves in the including file's own folder or in
   include/ (tests may reach an engine header by a relative path, as a
   white-box test says it does);
3. docs/ARCHITECTURE.md's map names exactly the .c files under fs/, regfs/
   and layerd/ (each as `path` in a map line), so it cannot go stale.
Prints each problem; exit 1 if any."""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
root = os.path.abspath(root)
bad = []
parts = ("fs", "regfs", "layerd", "tests", "include")

for dirpath, dirs, files in os.walk(root):
    rel = os.path.relpath(dirpath, root)
    top = rel.split(os.sep)[0]
    if top not in parts and rel != ".":
        dirs[:] = []
        continue
    for f in files:
        p = os.path.join(dirpath, f)
        rp = os.path.relpath(p, root)
        if f == "meson.build":
            for m in re.finditer(r"include_directories\(([^)]*)\)", open(p).read()):
                if rp != "meson.build" or m.group(1).strip() != "'include'":
                    bad.append(f"{rp}: include_directories({m.group(1)}): only the top meson.build names include/")
        elif f.endswith((".c", ".h")):
            for n, line in enumerate(open(p, errors="replace"), 1):
                m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                if not m:
                    continue
                inc = m.group(1)
                here = os.path.normpath(os.path.join(dirpath, inc))
                if inc.startswith("../") and top != "tests":
                    bad.append(f"{rp}:{n}: \"{inc}\" reaches into another folder")
                elif not (os.path.isfile(here) or os.path.isfile(os.path.join(root, "include", inc))):
                    bad.append(f"{rp}:{n}: \"{inc}\" is neither beside it nor in include/")

sources = set()
for part in ("fs", "regfs", "layerd"):
    for dirpath, _, files in os.walk(os.path.join(root, part)):
        sources |= {os.path.relpath(os.path.join(dirpath, f), root) for f in files if f.endswith(".c")}
doc = open(os.path.join(root, "docs", "ARCHITECTURE.md")).read()
mapped = set(re.findall(r"`((?:fs|regfs|layerd)/[\w/]+\.c)`", doc))
for s in sorted(sources - mapped):
    bad.append(f"docs/ARCHITECTURE.md: the map does not name {s}")
for s in sorted(mapped - sources):
    bad.append(f"docs/ARCHITECTURE.md: the map names {s}, which does not exist")

for b in bad:
    print(b)
print(f"{len(sources)} sources, {len(bad)} problems")
sys.exit(1 if bad else 0)
