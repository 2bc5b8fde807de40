#!/usr/bin/env python3
"""Do two regedit 5.00 exports hold the same keys and values? Written by
different tools (hivexregedit writes strings as hex(1), layerctl as
"text"), so both are read into {key: {name: (type, bytes)}}, names
compared ignoring case as Windows does. Usage: reg_equal.py A.reg PREFIX-A
B.reg PREFIX-B (each PREFIX stripped from that file's key paths)."""
import re
import sys


def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            i += 1
        out.append(s[i])
        i += 1
    return "".join(out)


def parse(path, prefix):
    text = open(path, encoding="utf-8-sig").read().replace("\\\n  ", "").replace("\\\n", "")
    keys, cur = {}, None
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            k = line[1:-1]
            if k.lower().startswith(prefix.lower()):
                k = k[len(prefix):]
            cur = keys.setdefault(k.strip("\\").lower(), {})
            continue
        m = re.match(r'^(@|"((?:[^"\\]|\\.)*)")=(.*)$', line)
        if not m or cur is None:
            continue
        name = "" if m.group(1) == "@" else unescape(m.group(2))
        v = m.group(3)
        if v.startswith('"'):
            val = (1, (unescape(v[1:-1]) + "\0").encode("utf-16-le"))
        elif v.startswith("dword:"):
            val = (4, int(v[6:], 16).to_bytes(4, "little"))
        else:
            h = re.match(r"^hex(?:\(([0-9a-fA-F]+)\))?:(.*)$", v)
            if not h:
                print(f"{path}: cannot read value line: {line[:80]}")
                sys.exit(2)
            t = int(h.group(1), 16) if h.group(1) else 3
            data = bytes(int(x, 16) for x in h.group(2).replace(" ", "").split(",") if x)
            val = (t, data)
        cur[name.lower()] = val
    return keys


def main():
    a = parse(sys.argv[1], sys.argv[2])
    b = parse(sys.argv[3], sys.argv[4])
    bad = 0
    for k in sorted(set(a) | set(b)):
        if k not in a or k not in b:
            print(f"[{k}] only in {'the first' if k in a else 'the second'}")
            bad += 1
            continue
        for n in sorted(set(a[k]) | set(b[k])):
            if a[k].get(n) != b[k].get(n):
                print(f"[{k}] \"{n}\": {a[k].get(n)} != {b[k].get(n)}")
                bad += 1
    print(f"{len(a)} keys compared, {bad} differences")
    return 1 if bad else 0


sys.exit(main())
