#!/usr/bin/env python3
"""Random reads of files against their sources (issue 30).

wof.py SEED COUNT MOUNTED:SOURCE...  reads COUNT random ranges of each
MOUNTED file (and its first, last and 4 GiB-boundary bytes), compares
each with SOURCE's same range; prints one line per mismatch, exits 1 on
any. The seed is printed by the caller (wof.sh)."""
import os
import random
import sys


def ranges(rnd, size, count):
    yield 0, min(size, 1)
    yield max(0, size - 1), 1
    yield max(0, size - 70000), 70000
    if size > (1 << 32):
        yield (1 << 32) - 5000, 10000       # across the 8-byte table's 4 GiB line
    for _ in range(count):
        off = rnd.randrange(size) if size else 0
        yield off, rnd.choice([1, 17, 4096, 5000, 32768, 40000, 131072, 300000])


def main():
    rnd = random.Random(int(sys.argv[1]))
    count = int(sys.argv[2])
    bad = 0
    for pair in sys.argv[3:]:
        mounted, source = pair.split(":", 1)
        size = os.path.getsize(source)
        if os.path.getsize(mounted) != size:
            print(f"{mounted}: size {os.path.getsize(mounted)}, source {size}")
            bad += 1
            continue
        with open(mounted, "rb") as m, open(source, "rb") as s:
            for off, n in ranges(rnd, size, count):
                got = os.pread(m.fileno(), n, off)
                want = os.pread(s.fileno(), n, off)
                if got != want:
                    print(f"{mounted}: {n} bytes at {off} differ from the source")
                    bad += 1
                    break
    print(f"{len(sys.argv) - 3} files, {count} random reads each")
    sys.exit(1 if bad else 0)


main()
