#!/usr/bin/env python3
"""Each reader's view of a hive (issue 32, item 4): hive_readers.py A B
reads hive A (written by Windows) and hive B (the same written by this
project) with python-registry, regipy, libregf's regfexport, reglookup and
hivex's hivexml, and fails
when any reader sees B other than it sees A (keys by path, each key's
value names, types and data). The readers disagree with each other on
Windows' own hives, so each is compared with itself."""
import os
import subprocess
import sys

SUITES = os.environ.get("SUITES", "")
sys.path[:0] = [os.path.join(SUITES, "regipy"), os.path.join(SUITES, "python-registry")]
import logging
logging.disable(logging.CRITICAL)       # regipy's own chatter on odd data
from regipy.registry import RegistryHive  # noqa: E402
from Registry import Registry  # noqa: E402


def by_python_registry(path):
    out = {}

    def walk(k, p):
        out[p.lower()] = sorted((v.name(), v.value_type(), bytes(v.raw_data())) for v in k.values())
        for s in k.subkeys():
            walk(s, p + "\\" + s.name())
    walk(Registry.Registry(path).root(), "")
    return out


def by_regipy(path):
    # names and types: regipy reads a value of no bytes as the 256 bytes
    # its data offset points at (a cell Windows left there, none in ours),
    # so its data is held to python-registry's and regfexport's reading
    out = {}
    for k in RegistryHive(path).recurse_subkeys(as_json=False, fetch_values=True):
        vals = sorted((v.name, str(v.value_type)) for v in (k.values or []))
        out[k.path.lower()] = vals
    return out


def by_regfexport(path):
    # keys, value names and types: its "Data size" and data read on into
    # a cell's slack (the bytes after a string Windows left in its cell),
    # so data is held to python-registry's reading
    r = subprocess.run(["regfexport", path], capture_output=True, text=True, errors="replace")
    # paths below the root: a .reg file does not say the root key's own
    # name ("$$$PROTO.HIV", "ROOT"), so reg new cannot keep it
    keep = [l.split("\\", 1)[1] if l.startswith("Key path") and "\\" in l
            else "" if l.startswith("Key path") else l
            for l in r.stdout.splitlines()
            if l.startswith(("Key path", "Value:", "Type:", "Number of"))]
    return {"lines": keep, "rc": r.returncode}


def by_reglookup(path):
    # every key and value: path, type, data (reglookup's escaping); key
    # times left out (the last field), which the writer's keys keep but
    # a merge or a new hive does not
    r = subprocess.run(["reglookup", "-H", path], capture_output=True, text=True, errors="replace")
    if r.returncode:
        raise OSError(r.stderr.strip()[:200])
    out = {}
    for line in r.stdout.splitlines():
        f = line.split(",")
        if len(f) >= 3:
            out[(f[0].lower(), f[1])] = ",".join(f[2:-1]) if f[1] != "KEY" else ""
    return out


def by_hivexml(path):
    # hivex's own dump: keys by path below the root, each value's name,
    # type and data as hivexml gives them (text or base64)
    import xml.etree.ElementTree as ET
    r = subprocess.run(["hivexml", path], capture_output=True)
    if r.returncode:
        raise OSError(r.stderr.decode(errors="replace").strip()[:200])
    out = {}

    def walk(node, p):
        out[p.lower()] = sorted((v.get("key", ""), v.get("type", ""), v.get("encoding", ""),
                                 (v.get("value") or "").replace("\n", ""))
                                for v in node.findall("value"))
        for c in node.findall("node"):
            walk(c, p + "\\" + c.get("name", ""))
    walk(ET.fromstring(r.stdout).find("node"), "")
    return out


readers = {"python-registry": by_python_registry, "regipy": by_regipy, "regfexport": by_regfexport,
           "reglookup": by_reglookup, "hivex": by_hivexml}
a, b = sys.argv[1], sys.argv[2]
bad = 0
for name, fn in readers.items():
    try:
        ra = fn(a)
    except Exception as e:  # the reader cannot read Windows' own: nothing to hold B to
        print(f"{name}: cannot read {os.path.basename(a)} ({type(e).__name__}); not compared")
        continue
    try:
        rb = fn(b)
    except Exception as e:
        print(f"{name}: reads {os.path.basename(a)} but not ours: {type(e).__name__}: {e}")
        bad += 1
        continue
    if ra != rb:
        diff = [k for k in set(ra) | set(rb) if ra.get(k) != rb.get(k)][:3]
        print(f"{name}: sees ours differently: {diff}")
        bad += 1
    else:
        what = {"regfexport": "", "reglookup": f" ({len(ra)} keys and values)"}.get(name, f" ({len(ra)} keys)")
        print(f"{name}: the same{what}")
sys.exit(1 if bad else 0)
