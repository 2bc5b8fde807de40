#!/usr/bin/env python3
"""Hostile disks: copies of good layers with bytes flipped in the places
that matter (VHD footer and header, block table, MBR, boot sector, MFT,
folder indexes), each then listed and read whole with layerctl. Every run
must end with exit status 0 or 1 and one line per error: never a signal, a
sanitizer report, or a hang.
    corrupt.py LAYERCTL WORKDIR GOOD_LAYER... [--rounds N]"""
import os
import random
import shutil
import struct
import subprocess
import sys


def regions(path):
    """(offset, length) spans worth spoiling in this file."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(1 << 20)
        f.seek(max(0, size - 512))
        tail = f.read(512)
    spans = [(0, 4096)]
    if tail[:8] == b"conectix":                 # VHD: footer, header, BAT
        spans += [(size - 512, 512), (512, 1024), (1536, 4096)]
        data = struct.unpack(">Q", tail[16:24])[0]
        if data != 0xFFFFFFFFFFFFFFFF and data + 1024 <= size:
            with open(path, "rb") as f:
                f.seek(data + 16)
                bat = struct.unpack(">Q", f.read(8))[0]
                f.seek(bat)
                first = struct.unpack(">I", f.read(4))[0]
            if first != 0xFFFFFFFF:              # the first block: MBR, boot, MFT
                base = first * 512 + 512
                spans += [(base, 4096), (base + (1 << 20), 8192)]
    boot = head[(1 << 20):(1 << 20) + 512] if len(head) > (1 << 20) else head[:512]
    for b in (head[:512],):
        if b[3:11] == b"NTFS    ":               # a bare volume: MFT
            cluster = struct.unpack("<H", b[11:13])[0] * b[13]
            mft = struct.unpack("<q", b[0x30:0x38])[0] * cluster
            spans += [(mft, 64 * 1024), (mft + 5 * 1024, 1024)]
    return [(o, l) for o, l in spans if o < size]


def spoil(src, dst, rnd):
    shutil.copyfile(src, dst)
    spans = regions(dst)
    with open(dst, "r+b") as f:
        for _ in range(rnd.choice([1, 2, 4, 16, 64])):
            off, length = rnd.choice(spans)
            f.seek(off + rnd.randrange(length))
            f.write(bytes([rnd.randrange(256)]) * rnd.choice([1, 1, 2, 8, 512]))


refused = 0


def run(cmd):
    global refused
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "hang", b""
    if r.returncode not in (0, 1) or b"Sanitizer" in r.stderr or b"runtime error" in r.stderr:
        return f"exit {r.returncode}", r.stderr[-2000:]
    if r.returncode == 1:
        refused += 1
    return None, r.stdout


def main():
    args = sys.argv[1:]
    rounds = 60
    if "--rounds" in args:
        i = args.index("--rounds")
        rounds = int(args[i + 1])
        del args[i:i + 2]
    layerctl, work, goods = args[0], args[1], args[2:]
    rnd = random.Random(2026)
    bad = 0
    for n in range(rounds):
        good = goods[n % len(goods)]
        dst = os.path.join(work, f"spoilt{n}" + os.path.splitext(good)[1])
        spoil(good, dst, rnd)
        why, out = run([layerctl, "ls", "-R", "--json", dst])
        if not why and out:
            import json
            try:
                files = [e["path"] for e in json.loads(out) if e["type"] == "file"][:50]
            except ValueError:
                files = []
            if files:
                why, out = run([layerctl, "cat", dst] + files)
        if why:
            bad += 1
            print(f"round {n} ({good}): {why}\n{out.decode(errors='replace')}")
            shutil.copyfile(dst, os.path.join(work, f"crash{n}"))
        os.unlink(dst)
    print(f"{rounds} spoilt layers: {refused} runs refused with an error, {bad} crashed or hung")
    # the spoiling must bite, or this test shows nothing
    sys.exit(1 if bad or refused < rounds // 4 else 0)


if __name__ == "__main__":
    main()
