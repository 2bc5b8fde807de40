#!/usr/bin/env python3
"""POSIX edges through a mount (issue 32, item 7), printed one line each
as "operation: result" so that two mounts (layerfs and kernel overlayfs
over the same folders) can be compared line by line.

edges.py MOUNT UPPER"""
import errno
import os
import socket
import sys

m, upper = sys.argv[1], sys.argv[2]


def run(what, fn):
    try:
        r = fn()
        print(f"{what}: ok{'' if r is None else ' ' + str(r)}")
    except OSError as e:
        print(f"{what}: {errno.errorcode.get(e.errno, e.errno)}")


p = lambda *a: os.path.join(m, *a)
# a socket and a FIFO of the lower layer: each change copies it up
run("rename socket", lambda: os.rename(p("sock"), p("sock.moved")))
run("chmod socket", lambda: os.chmod(p("sock2"), 0o600))
run("chown socket", lambda: os.chown(p("sock2"), 1, 1))
run("utime socket", lambda: os.utime(p("sock2"), (1, 2)))
run("link socket", lambda: os.link(p("sock2"), p("sock2.link")))
run("stat linked socket", lambda: oct(os.lstat(p("sock2.link")).st_mode))
run("chmod fifo", lambda: os.chmod(p("fifo"), 0o600))
run("rename fifo", lambda: os.rename(p("fifo"), p("fifo.moved")))
# a kernel union's own xattrs set through the mount: kept escaped below
run("set trusted.overlay.opaque", lambda: os.setxattr(p("dir"), "trusted.overlay.opaque", b"y"))
run("get trusted.overlay.opaque", lambda: os.getxattr(p("dir"), "trusted.overlay.opaque"))
run("list has trusted.overlay.opaque",
    lambda: "trusted.overlay.opaque" in os.listxattr(p("dir")))
run("upper holds it escaped",
    lambda: os.getxattr(os.path.join(upper, "dir"), "trusted.overlay.overlay.opaque"))
run("upper holds no trusted.overlay.opaque",
    lambda: "trusted.overlay.opaque" in os.listxattr(os.path.join(upper, "dir")))
run("remove trusted.overlay.opaque", lambda: os.removexattr(p("dir"), "trusted.overlay.opaque"))
run("listed after remove", lambda: "trusted.overlay.opaque" in os.listxattr(p("dir")))
