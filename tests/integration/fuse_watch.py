#!/usr/bin/env python3
"""The test-wide watchdog: fuse_watch.py TEST_PID WORK SECONDS LOG

wd wraps one command; this watches every command a test runs, so a file
operation that hangs fails the test with its cause wherever it is, not at
meson's timeout. Every half second it looks at each thread of each process
descended from TEST_PID: one asleep waiting for a FUSE daemon's answer (a frame
of that in /proc/TID/stack) whose context-switch count has not moved for SECONDS is
stuck in one operation (a thread doing many quick requests switches every
time). Then it writes to LOG what the thread waits in, the daemons' threads
(gdb), and aborts every FUSE connection mounted below WORK (through fusectl,
never touching the mount), so the operation ends with an error and the test
goes on to fail; lib.sh's finish() fails any test whose LOG is not empty.
It ends when TEST_PID does.
"""
import os
import subprocess
import sys
import time


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def descendants(root):
    kids = children_map()
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def switches(tid_dir):
    n = 0
    for line in read(f"{tid_dir}/status").splitlines():
        if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
            n += int(line.split()[1])
    return n


# where a thread waits for a FUSE daemon: any frame of the kernel's fuse
# (an answer in request_wait_answer, a first INIT or a congested
# connection in fuse_get_req, writeback in fuse_wait_on_*), except a
# daemon's own threads waiting for requests (fuse_dev_*)
DAEMON_SIDE = ("fuse_dev_do_read", "fuse_dev_read", "fuse_dev_splice_read", "fuse_dev_poll")


def in_fuse(stack):
    frames = [l.split("]", 1)[-1].strip() for l in stack.splitlines()]
    if any(f.startswith(DAEMON_SIDE) for f in frames):
        return False
    return any(f.startswith("fuse_") or f.startswith("request_wait_answer") for f in frames)


def cmdline(pid):
    return read(f"/proc/{pid}/cmdline").replace("\0", " ").strip()[:160]


def daemons(work):
    """The layerfs, regfs and layerd processes of this test (WORK in their
    arguments), or all of them when none names it."""
    mine, every = [], []
    for d in os.listdir("/proc"):
        if d.isdigit() and read(f"/proc/{d}/comm").strip() in ("layerfs", "regfs", "layerd"):
            every.append(int(d))
            if work in cmdline(int(d)):
                mine.append(int(d))
    return mine or every


def dump(log, work):
    for p in daemons(work):
        log.write(f"== threads of {p} ({cmdline(p)})\n")
        try:
            bt = subprocess.run(["gdb", "-p", str(p), "-batch", "-nx", "-ex", "set pagination off",
                                 "-ex", "thread apply all bt"], capture_output=True, text=True,
                                timeout=60).stdout
            lines = [l for l in bt.splitlines() if l.startswith(("Thread", "#"))]
            log.write("\n".join(lines[:400]) + "\n")
        except (OSError, subprocess.TimeoutExpired) as e:
            log.write(f"(gdb: {e})\n")
        log.flush()


def abort(log, work):
    if not os.path.isdir("/sys/fs/fuse/connections") or not os.listdir("/sys/fs/fuse/connections"):
        subprocess.run(["mount", "-t", "fusectl", "none", "/sys/fs/fuse/connections"],
                       capture_output=True)
    for line in read("/proc/self/mountinfo").splitlines():
        f = line.split()
        dev, mnt = f[2], f[4].replace("\\040", " ")
        major, minor = dev.split(":")
        if mnt.startswith(work + "/") and major == "0":
            ctl = f"/sys/fs/fuse/connections/{minor}/abort"
            if os.path.exists(ctl):
                try:
                    with open(ctl, "w") as c:
                        c.write("1")
                    log.write(f"watchdog: aborted the FUSE connection of {mnt}\n")
                except OSError:
                    pass


def main():
    test_pid, work, seconds, log_path = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
    me = os.getpid()
    seen = {}          # tid -> (switch count, first seen asleep in FUSE with it)
    while os.path.exists(f"/proc/{test_pid}"):
        now = time.monotonic()
        stuck = []
        alive = set()
        for pid in descendants(test_pid):
            if pid == me:
                continue
            for tid in os.listdir(f"/proc/{pid}/task") if os.path.isdir(f"/proc/{pid}/task") else []:
                tdir = f"/proc/{pid}/task/{tid}"
                stack = read(f"{tdir}/stack")
                if not in_fuse(stack):
                    continue
                key = int(tid)
                alive.add(key)
                n = switches(tdir)
                if key not in seen or seen[key][0] != n:
                    seen[key] = (n, now)
                elif now - seen[key][1] >= seconds:
                    stuck.append((pid, key, stack))
        seen = {k: v for k, v in seen.items() if k in alive}
        if stuck:
            with open(log_path, "a") as log:
                for pid, tid, stack in stuck:
                    log.write(f"WATCHDOG: '{cmdline(pid)}' (pid {pid}, thread {tid}) waited more than "
                              f"{seconds:g} s in one FUSE request:\n")
                    log.write("".join(f"    {l}\n" for l in stack.splitlines()))
                log.flush()
                dump(log, work)
                abort(log, work)
            for _, tid, _ in stuck:
                seen.pop(tid, None)
        time.sleep(0.5)


if __name__ == "__main__":
    main()
