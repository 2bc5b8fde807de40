#!/usr/bin/env python3
"""POSIX semantics through a writable union mount.

  posix.py make DIR              lower layers DIR/L0 (os) and DIR/L1
  posix.py run MNT UPPER KIND    every case; prints one line per result
                                 (KIND: layerfs or overlay)

Each case does real calls on MNT and records what came back (a value or an
errno name) in a trace; `run` prints the trace, so the same run on kernel
overlayfs and on layerfs can be compared line by line (the errno values
must match). Cases also assert what must hold whatever overlayfs does;
a failed assertion prints "FAIL case: why" and the exit status is 1.
Cases marked layerfs-only check what overlayfs does not have (names that
ignore case, .wh. tokens in a folder upper layer).
"""
import ctypes
import errno
import fcntl
import mmap
import os
import stat
import sys

LIBC = ctypes.CDLL(None, use_errno=True)
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
AT_FDCWD = -100


def make(d):
    files = {
        "L0/Windows/System32/kernel32.dll": b"MZ kernel32",
        "L0/Docs/readme.txt": b"read me\n",
        "L0/Docs/sub/deep.txt": b"deep\n",
        "L0/Docs/keep.txt": b"keep\n",
        "L0/Program Files/App/app.exe": b"app v1",
        "L0/Program Files/App/app.ini": b"[app]\n",
        "L0/Trunc/t.txt": b"0123456789",
        "L0/Append/a.txt": b"head\n",
        "L0/Meta/m.txt": b"meta",
        "L0/Gone/g1.txt": b"g1",
        "L0/Gone/g2.txt": b"g2",
        "L0/Swap/one": b"one",
        "L0/Swap/two": b"two",
        "L0/Ren/lower.txt": b"lower",
        "L0/RenDir/inside.txt": b"in",
        "L0/Lock/l.txt": b"lock",
        "L0/Map/map.bin": b"\0" * 8192,
        "L1/Program Files/App2/x.exe": b"app2",
        "L1/Docs/extra.txt": b"extra",
        "L1/Case/Mixed.TXT": b"mixed",
    }
    for rel, data in files.items():
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
    os.setxattr(os.path.join(d, "L0/Meta/m.txt"), "user.stream", b"alternate")
    os.utime(os.path.join(d, "L0/Meta/m.txt"), ns=(1_500_000_000_123_456_789,) * 2)
    os.chmod(os.path.join(d, "L0/Meta/m.txt"), 0o640)
    os.symlink("readme.txt", os.path.join(d, "L0/Docs/link"))


class Run:
    def __init__(self, mnt, upper, kind):
        self.m, self.upper, self.kind = mnt, upper, kind
        self.trace, self.fails = [], []

    def p(self, rel):
        return os.path.join(self.m, rel)

    def r(self, what, fn, *a, **kw):
        """Call fn; record and return its value, or the errno's name."""
        try:
            v = fn(*a, **kw)
        except OSError as e:
            v = "E" + errno.errorcode.get(e.errno, str(e.errno))
        shown = v if isinstance(v, (int, str, bytes, bool, type(None), tuple, list)) \
            else type(v).__name__
        self.trace.append(f"{what}: {shown!r}")
        return v

    def want(self, cond, why):
        if not cond:
            self.fails.append(why)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    fd = os.open(path, flags, 0o644)
    try:
        return os.write(fd, data)
    finally:
        os.close(fd)


def renameat2(a, b, flags):
    if LIBC.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return 0


def case_create(t):
    p = t.p("new.txt")
    t.r("create", write, p, b"hello")
    t.want(read(p) == b"hello", "new file reads back")
    t.r("O_EXCL on existing", os.open, p, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    t.r("open missing", os.open, t.p("missing.txt"), os.O_RDONLY)
    t.r("create in missing folder", write, t.p("nodir/x"), b"x")
    t.r("create over lower O_EXCL", os.open, t.p("Docs/keep.txt"), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    st = os.stat(p)
    t.want(stat.S_ISREG(st.st_mode) and st.st_size == 5, "stat of new file")


def case_trunc_append(t):
    p = t.p("Trunc/t.txt")
    ino = os.stat(p).st_ino
    t.r("O_TRUNC lower", write, p, b"ab")
    t.want(read(p) == b"ab", "O_TRUNC then write")
    t.want(os.stat(p).st_ino == ino, "copy-up keeps the inode number")
    a = t.p("Append/a.txt")
    fd = os.open(a, os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"tail\n")
    os.close(fd)
    t.want(read(a) == b"head\ntail\n", "O_APPEND copies up and appends")
    t.r("truncate grow", os.truncate, p, 100)
    t.want(os.stat(p).st_size == 100, "truncate to 100")
    fd = os.open(p, os.O_RDWR)
    t.r("ftruncate shrink", os.ftruncate, fd, 1)
    t.r("fallocate", os.posix_fallocate, fd, 0, 65536)
    t.want(os.fstat(fd).st_size == 65536, "fallocate grows")
    t.r("fsync", os.fsync, fd)
    t.r("fdatasync", os.fdatasync, fd)
    os.close(fd)
    t.r("truncate dir", os.truncate, t.p("Trunc"), 0)


def case_dirs(t):
    t.r("mkdir", os.mkdir, t.p("NewDir"), 0o755)
    t.r("mkdir existing", os.mkdir, t.p("NewDir"))
    t.r("mkdir existing lower", os.mkdir, t.p("Docs"))
    t.r("mkdir in missing", os.mkdir, t.p("nodir/x"))
    t.r("rmdir non-empty lower", os.rmdir, t.p("Docs"))
    t.r("rmdir a file", os.rmdir, t.p("Docs/keep.txt"))
    t.r("unlink a folder", os.unlink, t.p("NewDir"))
    t.r("rmdir new", os.rmdir, t.p("NewDir"))
    t.r("rmdir gone", os.rmdir, t.p("NewDir"))
    for n in ("g1.txt", "g2.txt"):
        t.r("unlink lower " + n, os.unlink, t.p("Gone/" + n))
    t.r("listdir emptied", sorted, os.listdir(t.p("Gone")))
    t.r("rmdir emptied lower", os.rmdir, t.p("Gone"))
    t.r("stat removed folder", os.stat, t.p("Gone"))
    t.r("mkdir where deleted", os.mkdir, t.p("Gone"))
    t.r("listdir remade", sorted, os.listdir(t.p("Gone")))
    t.r("unlink missing", os.unlink, t.p("Docs/nothing"))


def case_links(t):
    t.r("symlink", os.symlink, "keep.txt", t.p("Docs/sl"))
    t.r("readlink", os.readlink, t.p("Docs/sl"))
    t.r("read through symlink", read, t.p("Docs/sl"))
    t.r("readlink lower", os.readlink, t.p("Docs/link"))
    t.r("symlink existing", os.symlink, "x", t.p("Docs/sl"))
    t.r("link lower", os.link, t.p("Docs/keep.txt"), t.p("Docs/hard.txt"))
    a, b = os.stat(t.p("Docs/keep.txt")), os.stat(t.p("Docs/hard.txt"))
    t.want(a.st_ino == b.st_ino, "hard link shares the inode number")
    t.r("nlink after link", lambda: (a.st_nlink, b.st_nlink))
    t.r("link existing", os.link, t.p("Docs/keep.txt"), t.p("Docs/hard.txt"))
    t.r("link a folder", os.link, t.p("Docs"), t.p("Docs2"))
    t.r("unlink one link", os.unlink, t.p("Docs/hard.txt"))
    t.r("nlink after unlink", lambda: os.stat(t.p("Docs/keep.txt")).st_nlink)


def case_rename(t):
    write(t.p("r1"), b"r1")
    write(t.p("r2"), b"r2")
    t.r("rename over file", os.rename, t.p("r1"), t.p("r2"))
    t.r("read renamed", read, t.p("r2"))
    t.r("old name gone", os.stat, t.p("r1"))
    os.mkdir(t.p("rd1"))
    os.mkdir(t.p("rd2"))
    write(t.p("rd2/f"), b"f")
    t.r("rename dir over non-empty", os.rename, t.p("rd1"), t.p("rd2"))
    t.r("rename file over dir", os.rename, t.p("r2"), t.p("rd1"))
    t.r("rename dir over file", os.rename, t.p("rd1"), t.p("r2"))
    t.r("rename new dir", os.rename, t.p("rd2"), t.p("rd3"))
    t.r("read in renamed dir", read, t.p("rd3/f"))
    t.r("rename lower file", os.rename, t.p("Ren/lower.txt"), t.p("Ren/moved.txt"))
    t.r("lower name gone", os.stat, t.p("Ren/lower.txt"))
    t.r("moved reads", read, t.p("Ren/moved.txt"))
    t.r("NOREPLACE existing", renameat2, t.p("rd3/f"), t.p("r2"), RENAME_NOREPLACE)
    t.r("NOREPLACE new", renameat2, t.p("rd3/f"), t.p("rd3/g"), RENAME_NOREPLACE)
    t.r("EXCHANGE lower files", renameat2, t.p("Swap/one"), t.p("Swap/two"), RENAME_EXCHANGE)
    t.r("after exchange", lambda: (read(t.p("Swap/one")), read(t.p("Swap/two"))))
    t.r("EXCHANGE missing", renameat2, t.p("Swap/one"), t.p("Swap/none"), RENAME_EXCHANGE)
    t.r("rename missing", os.rename, t.p("nothing"), t.p("x"))
    # overlayfs without redirect_dir and layerfs both refuse this
    t.r("rename lower dir", os.rename, t.p("RenDir"), t.p("RenDir2"))


def case_attrs(t):
    p = t.p("Meta/m.txt")
    st0 = os.stat(p)
    t.r("lower mode", lambda: oct(st0.st_mode & 0o7777))
    t.r("lower mtime", lambda: st0.st_mtime_ns)
    t.r("lower xattr", os.getxattr, p, "user.stream")
    fd = os.open(p, os.O_RDWR)
    st1 = os.fstat(fd)
    t.want(st1.st_ino == st0.st_ino, "copy-up keeps the number")
    t.want(st1.st_mtime_ns == st0.st_mtime_ns, "copy-up keeps mtime")
    t.want(st1.st_mode == st0.st_mode, "copy-up keeps mode")
    t.r("xattr after copy-up", os.getxattr, p, "user.stream")
    t.r("chmod", os.chmod, p, 0o600)
    t.r("mode seen through open fd", lambda: oct(os.fstat(fd).st_mode & 0o7777))
    t.want(os.stat(p).st_ctime_ns >= st0.st_ctime_ns, "ctime moves on")
    os.close(fd)
    t.r("chown", os.chown, p, 1234, 5678)
    t.r("owner", lambda: (os.stat(p).st_uid, os.stat(p).st_gid))
    t.r("utime", os.utime, p, ns=(1_000_000_000, 2_000_000_000))
    t.r("mtime after utime", lambda: os.stat(p).st_mtime_ns)
    t.r("setxattr", os.setxattr, p, "user.new", b"v")
    t.r("getxattr", os.getxattr, p, "user.new")
    t.r("listxattr", lambda: sorted(x for x in os.listxattr(p) if x.startswith("user.")))
    t.r("removexattr", os.removexattr, p, "user.new")
    t.r("removexattr again", os.removexattr, p, "user.new")
    t.r("getxattr missing", os.getxattr, p, "user.none")
    t.r("XATTR_CREATE existing", os.setxattr, p, "user.stream", b"x", os.XATTR_CREATE)
    t.r("chmod lower dir", os.chmod, t.p("Program Files"), 0o700)
    t.r("dir mode", lambda: oct(os.stat(t.p("Program Files")).st_mode & 0o7777))
    t.r("dir still merged", sorted, os.listdir(t.p("Program Files")))
    sv = os.statvfs(t.m)
    t.want(sv.f_namemax == 255 and sv.f_blocks > 0, "statfs")


def case_names(t):
    long = "n" * 256
    t.r("stat long name", os.stat, t.p(long))
    t.r("create long name", write, t.p(long), b"x")
    t.r("mkdir long name", os.mkdir, t.p(long))
    ok = "m" * 255
    t.r("create 255", write, t.p(ok), b"x")
    t.r("unlink 255", os.unlink, t.p(ok))


def case_deep(t):
    """A path past PATH_MAX, walked with folder fds."""
    fd = os.open(t.m, os.O_RDONLY | os.O_DIRECTORY)
    depth, name = 0, "d" * 200
    while depth * 201 < 5000:
        os.mkdir(name, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
        depth += 1
    f = os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(f, b"deep")
    os.close(f)
    f = os.open("leaf", os.O_RDONLY, dir_fd=fd)
    t.r("deep file reads", os.read, f, 10)
    os.close(f)
    t.r("deep rename", os.rename, "leaf", "leaf2", src_dir_fd=fd, dst_dir_fd=fd)
    t.r("deep unlink", os.unlink, "leaf2", dir_fd=fd)
    os.close(fd)


def case_unlinked(t):
    p = t.p("Docs/keep.txt")
    fd = os.open(p, os.O_RDWR)
    os.unlink(p)
    st = os.fstat(fd)
    t.r("fstat unlinked nlink", lambda: st.st_nlink)
    t.r("write unlinked", os.write, fd, b"still")
    t.r("fstat unlinked size", lambda: os.fstat(fd).st_size)
    os.close(fd)
    t.r("unlinked gone", os.stat, p)


def case_owner(t):
    os.mkdir(t.p("Shared"), 0o777)
    os.chmod(t.p("Shared"), 0o777)
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setresgid(4321, 4321, 4321)
            os.setresuid(4321, 4321, 4321)
            write(t.p("Shared/mine"), b"x")
            os.mkdir(t.p("Shared/mydir"))
            os._exit(0)
        except OSError:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    t.r("create as user", lambda: os.waitstatus_to_exitcode(status))
    t.r("file owner", lambda: (os.stat(t.p("Shared/mine")).st_uid, os.stat(t.p("Shared/mine")).st_gid))
    t.r("dir owner", lambda: (os.stat(t.p("Shared/mydir")).st_uid, os.stat(t.p("Shared/mydir")).st_gid))
    pid = os.fork()
    if pid == 0:
        os.setresuid(4321, 4321, 4321)
        try:
            write(t.p("Docs/readme.txt"), b"no")
            os._exit(0)
        except PermissionError:
            os._exit(13)
    _, status = os.waitpid(pid, 0)
    t.r("user writes root's file", lambda: os.waitstatus_to_exitcode(status))


def case_io(t):
    p = t.p("io.bin")
    write(p, b"")
    fd = os.open(p, os.O_RDWR)
    t.r("unknown ioctl", fcntl.ioctl, fd, 0x5401FFFF & 0xFFFFFFFF, b"\0" * 8)
    os.close(fd)
    buf = mmap.mmap(-1, 4096)
    buf.write(b"D" * 4096)
    fd = os.open(p, os.O_RDWR | os.O_DIRECT)
    t.r("O_DIRECT write", os.pwritev, fd, [buf], 0)
    rb = mmap.mmap(-1, 4096)
    t.r("O_DIRECT read", os.preadv, fd, [rb], 0)
    t.want(rb[:4] == b"DDDD", "O_DIRECT reads what it wrote")
    os.close(fd)
    m = t.p("Map/map.bin")
    fd = os.open(m, os.O_RDWR)
    mm = mmap.mmap(fd, 8192, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    mm[100:105] = b"MMAP!"
    mm.flush()
    mm.close()
    os.close(fd)
    t.r("shared mmap write reads back", lambda: read(m)[100:105])
    fd = os.open(t.p("Lock/l.txt"), os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    pid = os.fork()
    if pid == 0:
        fd2 = os.open(t.p("Lock/l.txt"), os.O_RDWR)
        code = 0
        try:
            fcntl.lockf(fd2, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            code |= 1 if e.errno in (errno.EAGAIN, errno.EACCES) else 4
        try:
            fcntl.flock(fd2, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            code |= 2 if e.errno == errno.EWOULDBLOCK else 8
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    t.r("locks held against another process", lambda: os.waitstatus_to_exitcode(status))
    os.close(fd)


def case_layerfs_only(t):
    """Names that ignore case, and what lands in the folder upper layer."""
    up = t.upper
    t.r("write other case", write, t.p("docs/README.TXT"), b"new text\n")
    t.want(read(t.p("Docs/readme.txt")) == b"new text\n", "one file, whatever the case")
    t.want("readme.txt" in os.listdir(t.p("Docs")), "shown name kept")
    t.want(os.path.exists(os.path.join(up, "Docs/readme.txt")), "copy keeps the lower spelling")
    t.want(os.path.exists(os.path.join(up, "Docs/.wh.keep.txt")), "delete token for a lower file")
    t.want(os.path.exists(os.path.join(up, "Gone/.wh..wh..opq")), "folder made over a deleted one is opaque")
    t.want(not os.path.exists(os.path.join(up, "Gone/g1.txt")), "no data for deleted files")
    t.r("delete other case", os.unlink, t.p("CASE/mixed.txt"))
    t.want(not os.path.exists(t.p("Case/Mixed.TXT")), "deleted in any case")
    t.want(os.path.exists(os.path.join(up, "Case/.wh.Mixed.TXT")), "token names the lower spelling")
    t.want(".wh..wh..work" not in os.listdir(t.m), "work folder never shows")
    t.want(not any(n.startswith(".wh.") for _, ds, fs in os.walk(t.m) for n in ds + fs),
           "no token shows in the view")
    t.r("create other case of existing", os.open, t.p("DOCS/EXTRA.TXT"),
        os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    # The kernel sees one file under both spellings and makes a rename
    # between them a no-op; a new spelling goes through another name.
    t.r("case-only rename", os.rename, t.p("Docs/extra.txt"), t.p("Docs/EXTRA.txt"))
    t.want(read(t.p("Docs/extra.txt")) == b"extra", "case-only rename loses nothing")
    os.rename(t.p("Docs/extra.txt"), t.p("Docs/tmp.txt"))
    os.rename(t.p("Docs/tmp.txt"), t.p("Docs/EXTRA.txt"))
    t.want("EXTRA.txt" in os.listdir(t.p("Docs")) and "extra.txt" not in os.listdir(t.p("Docs")),
           "a rename through another name gives the new spelling")
    t.want(not os.listdir(os.path.join(up, ".wh..wh..work")), "no temporaries left")


CASES = [case_create, case_trunc_append, case_dirs, case_links, case_rename, case_attrs,
         case_names, case_deep, case_unlinked, case_owner, case_io]


def run(mnt, upper, kind):
    t = Run(mnt, upper, kind)
    cases = CASES + ([case_layerfs_only] if kind == "layerfs" else [])
    for c in cases:
        name = c.__name__[5:]
        before = len(t.fails)
        try:
            c(t)
        except Exception as e:  # a case that blows up is a failure, not a crash
            t.fails.append(f"raised {type(e).__name__}: {e}")
        for line in t.trace:
            print(f"{name}: {line}")
        t.trace = []
        for why in t.fails[before:]:
            print(f"FAIL {name}: {why}")
    return 1 if t.fails else 0


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
        sys.exit(0)
    sys.exit(run(sys.argv[2], sys.argv[3], sys.argv[4]))
