#!/usr/bin/env python3
"""What `dir` shows against what a folder's record says (issue 32, item 2).

Windows' `dir` takes a folder's attributes from its entry in its parent's
index (the FILE_NAME key's duplicated information), not from the folder's
own record. For every folder of an NTFS volume, each of its index entries
(root and allocation, every name space) must carry the attributes its
record's $STANDARD_INFORMATION has. The Sleuth Kit reads the volume
(icat, istat), an independent reader of NTFS; this script only parses the
index records TSK hands it.

    ntfs_index.py IMAGE [SECTOR_OFFSET]

Prints the folders compared and each that differs (the first 20); exit 1
when one does, 2 when TSK cannot read the volume.
"""
import re
import struct
import subprocess
import sys

DUP_INDEX_PRESENT = 0x10000000     # the index bit a folder's entry carries
LAST = 2                           # an index entry's flag: the last one


def tsk(*args):
    r = subprocess.run(list(args), capture_output=True)
    return r.stdout if r.returncode == 0 else None


class Volume:
    def __init__(self, img, off):
        self.img, self.off = img, off

    def cat(self, spec):
        return tsk("icat", "-o", self.off, self.img, spec)

    def attrs(self, ino):
        out = tsk("istat", "-o", self.off, self.img, str(ino))
        if out is None:
            return []
        return re.findall(r"Type: \$\w+ \((\d+)-(\d+)\)", out.decode(errors="replace"))

    def si_attributes(self, ino):
        v = self.cat(f"{ino}-16")
        return struct.unpack_from("<I", v, 32)[0] if v and len(v) >= 36 else None


def entries(buf, p):
    """(record, name, name space, attributes) of each entry from offset p."""
    while p + 16 <= len(buf):
        ref, length, klen, flags = struct.unpack_from("<QHHI", buf, p)
        if length < 16 or p + length > len(buf):
            return
        if klen >= 66:
            k = p + 16
            attributes = struct.unpack_from("<I", buf, k + 56)[0]
            nlen, ns = buf[k + 64], buf[k + 65]
            name = buf[k + 66:k + 66 + 2 * nlen].decode("utf-16-le", "replace")
            yield ref & 0xFFFFFFFFFFFF, name, ns, attributes
        if flags & LAST:
            return
        p += length


def fixed_up(block):
    """An INDX block with its update sequence put back (sector ends)."""
    b = bytearray(block)
    usa, count = struct.unpack_from("<HH", b, 4)
    for i in range(1, count):
        if i * 512 <= len(b):
            b[i * 512 - 2:i * 512] = b[usa + 2 * i:usa + 2 * i + 2]
    return bytes(b)


def folder_entries(vol, ino):
    ids = vol.attrs(ino)
    size = 4096                    # the index block size, as its root says
    for typ, aid in ids:
        if typ == "144":           # $INDEX_ROOT: its header at 16
            v = vol.cat(f"{ino}-144-{aid}") or b""
            if len(v) >= 32:
                size = struct.unpack_from("<I", v, 8)[0] or size
                yield from entries(v, 16 + struct.unpack_from("<I", v, 16)[0])
    for typ, aid in ids:
        if typ == "160":           # $INDEX_ALLOCATION: INDX blocks
            v = vol.cat(f"{ino}-160-{aid}") or b""
            for s in range(0, len(v), size):
                blk = v[s:s + size]
                if blk[:4] != b"INDX":
                    continue
                blk = fixed_up(blk)
                yield from entries(blk, 0x18 + struct.unpack_from("<I", blk, 0x18)[0])


def main():
    img = sys.argv[1]
    off = sys.argv[2] if len(sys.argv) > 2 else "0"
    vol = Volume(img, off)
    if not vol.attrs(5):
        print(f"{img}: The Sleuth Kit cannot read an NTFS volume at sector {off}")
        return 2
    seen, todo, folders, bad = {5}, [(5, "")], 0, 0
    while todo:
        ino, path = todo.pop()
        for ref, name, ns, attributes in folder_entries(vol, ino):
            if ref < 24 or name == "." or not attributes & DUP_INDEX_PRESENT:
                continue           # metafiles, the root's own, files
            record = vol.si_attributes(ref)
            folders += 1
            if record is None or (record & 0xFFFF) != (attributes & 0xFFFF):
                bad += 1
                if bad <= 20:
                    shown = "unreadable" if record is None else f"{record:#x}"
                    print(f"{path}/{name}: its index entry says {attributes & 0xFFFF:#x}, "
                          f"its record {shown}")
            if ref not in seen:
                seen.add(ref)
                todo.append((ref, f"{path}/{name}"))
    print(f"{folders} folder entries, {bad} not as their record")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
