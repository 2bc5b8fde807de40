#!/usr/bin/env python3
"""Write a test tree: N files in nested folders with Unicode names
(including characters outside the BMP), a folder chain deeper than
PATH_MAX, empty files, relative and rooted symlinks, hard links, and one
large file. Deterministic for a given seed."""
import os
import random
import sys

NAMES = ["Program Files", "Windows", "Users", "données", "Über", "файлы", "文件夹",
         "Ωmega", "emoji 😀 dir", "caf\u00e9", "naïve", "x"]


def main():
    root, count, big_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rnd = random.Random(1234)
    os.makedirs(root, exist_ok=True)
    dirs = [""]
    for i in range(count // 25):
        parent = rnd.choice(dirs)
        name = f"{rnd.choice(NAMES)} {i}"
        path = os.path.join(parent, name) if parent else name
        os.mkdir(os.path.join(root, path))
        dirs.append(path)
    made = 0
    for i in range(count):
        d = rnd.choice(dirs)
        kind = rnd.random()
        name = f"{rnd.choice(NAMES)}-{i}.{rnd.choice(['txt', 'dll', 'exe', 'ini', 'ß'])}"
        p = os.path.join(root, d, name)
        if kind < 0.1:
            open(p, "wb").close()
        else:
            with open(p, "wb") as f:
                f.write(rnd.randbytes(rnd.choice([1, 17, 511, 512, 4095, 4096, 4097, 70000])))
        t = rnd.randrange(946684800, 1767225600) * 10**9 + rnd.randrange(10**9)
        os.utime(p, ns=(t, t))
        made += 1
    # symlinks: relative and rooted, to files and folders
    for i in range(40):
        d = rnd.choice(dirs)
        target = "/" + rnd.choice(dirs[1:]) if i % 2 else "../" + NAMES[i % len(NAMES)]
        os.symlink(target, os.path.join(root, d, f"link {i}"))
    # hard links
    for i in range(5):
        a = os.path.join(root, f"hard {i}.txt")
        with open(a, "w") as f:
            f.write(f"hard link {i}\n")
        os.link(a, os.path.join(root, f"hard {i} other.txt"))
    # a folder chain deeper than PATH_MAX, made one level at a time
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for i in range(40):
        name = f"deep {i:02d} " + "d" * 110
        os.mkdir(name, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    leaf = os.open("bottom.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(leaf, b"the bottom of a path longer than PATH_MAX\n")
    os.close(leaf)
    os.close(fd)
    # the large file
    with open(os.path.join(root, "large.bin"), "wb") as f:
        chunk = rnd.randbytes(1 << 20)
        for i in range(big_mb):
            f.write(chunk[i:] + chunk[:i])
    print(f"{made} files, {len(dirs)} folders under {root}")


if __name__ == "__main__":
    main()
