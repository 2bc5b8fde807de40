#!/usr/bin/env python3
"""A day in the life of layerd (issue 27), driven from day.sh.

The parent (root) starts layerd, logs every user in and forks one worker a
user. A worker takes the user's ids (the saved uid stays root's, to log
itself off and on through layerctl) and, seeded, does what a Windows
session does all day, keeping a model of what it made: Explorer-like
listings with every system.ntfs_* xattr, values written through REG and
read back through REG and through C:'s NTUSER.DAT (hivexget) at once,
files made, rewritten, renamed, deleted and read back, app files read,
logoff and login. Meanwhile the parent's admin thread captures new
revisions of an app (one a differencing disk), refreshes, retires the
oldest, and at half time kills layerd with SIGKILL and starts it again
(the workers wait between two operations for that).

The watchdog: each worker says in shared memory when its operation began;
a file operation older than 10 s (a logoff and login, a refresh: 60 s; an
admin's capture or fsck: 600 s) dumps layerd's threads (gdb), aborts every FUSE
connection below the run folder (never touching the mounts) and fails the
day. At the end: every user logged off, fsck finds nothing the start did
not have, each user logged in once more and her files and values are as
her model says. The seed, the counts and the slowest operation of each
kind are printed. Exit 0 when all held.
"""
import argparse
import ctypes
import errno
import json
import multiprocessing as mp
import os
import pwd
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

OPS = {  # kind: weight
    "list": 14, "xattrs": 8, "reg_set": 12, "reg_get": 6, "reg_del": 3,
    "file_new": 10, "file_write": 6, "file_read": 10, "file_rename": 4,
    "file_delete": 4, "app_read": 6, "relog": 1,
}
KINDS = list(OPS) + ["admin"]
WATCHDOG = 10.0          # a file operation
DAEMON_LIMIT = 60.0      # a login, logoff, refresh: layerd's work, not a file's
BATCH_LIMIT = 600.0      # capture, repo, fsck: an admin's batch job
LIST_DIRS = ["Users/{u}", "Users/{u}/Desktop", "Users/{u}/Documents", "Users/{u}/AppData",
             "Users/{u}/AppData/Roaming", "Windows/System32/config", "Program Files",
             "Program Files/7-Zip", "Program Files/Notepad++", "Windows", "ProgramData"]
# what Windows says to her for these, not a failure
ALLOWED = {errno.EACCES, errno.EPERM}


def log(msg):
    print(msg, flush=True)


class Shared:
    """What the watchdog sees: per slot (a worker, then the admin) when
    its operation began (0: idle), which kind, and its words."""

    def __init__(self, n):
        self.start = mp.Array(ctypes.c_double, n, lock=False)
        self.limit = mp.Array(ctypes.c_double, n, lock=False)
        self.kind = mp.Array(ctypes.c_int, n, lock=False)
        self.desc = mp.Array(ctypes.c_char, 200 * n, lock=False)
        self.go = mp.Event()
        self.paused = mp.Array(ctypes.c_int, n, lock=False)
        self.stop = mp.Value(ctypes.c_int, 0, lock=False)
        # the admin's changes of the layer set: raised before and after each
        self.gen = mp.Value(ctypes.c_int, 0, lock=False)
        self.t0 = mp.Value(ctypes.c_double, time.time(), lock=False)   # the run's start
        self.go.set()

    def begin(self, slot, kind, desc, limit=None):
        self.limit[slot] = limit or WATCHDOG
        b = desc.encode(errors="replace")[:199]
        self.desc[200 * slot:200 * slot + len(b)] = b
        self.desc[200 * slot + len(b)] = b"\0"
        self.kind[slot] = KINDS.index(kind)
        self.start[slot] = time.time()

    def end(self, slot):
        self.start[slot] = 0.0

    def what(self, slot):
        raw = bytes(self.desc[200 * slot:200 * slot + 200])
        return KINDS[self.kind[slot]], raw.split(b"\0")[0].decode(errors="replace")


def run(cmd, timeout=60, root=False, **kw):
    """A command; as root from a worker (its saved uid is 0)."""
    pre = (lambda: (os.setresgid(0, 0, 0), os.setresuid(0, 0, 0))) if root else None
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=pre, **kw)


# ---------------------------------------------------------------- a user

class Worker:
    def __init__(self, a, slot, user, shared, seed):
        self.a, self.slot, self.user, self.sh = a, slot, user, shared
        self.rnd = random.Random(seed * 7919 + slot)
        self.C = os.path.join(a.run, user, "C")
        self.REG = os.path.join(a.run, user, "REG", "HKU", user)
        self.files = {}      # path below her profile -> text
        self.values = {}     # (key, name) -> text
        self.counts = {k: 0 for k in OPS}
        self.slowest = {}    # kind -> (seconds, desc)
        self.failures = []
        self.n = 0
        self.last_relog = time.time()
        self.dead = False
        self.eacces_seen = False

    def eacces_context(self, t0):
        """The first EACCES of a user who should have none: when, who the
        kernel says she is, what the folders above her mounts, her mounts
        and her root folders say then, and her session as layerd holds it
        (an emptied token refuses them all; a mount gone gives another
        errno; a folder above the mount closed to her, EACCES before FUSE)."""
        words = [f"at {t0 - self.sh.t0.value:.0f} s into the run", f"groups {os.getgroups()}"]
        for line in open("/proc/self/status"):
            if line.startswith(("Uid:", "Gid:")):
                words.append(" ".join(line.split()))
        for path in (self.a.work, self.a.run, os.path.join(self.a.run, self.user)):
            try:
                st = os.stat(path)
                words.append(f"{path}: {oct(st.st_mode)} {st.st_uid}:{st.st_gid}")
            except OSError as e:
                words.append(f"{path}: {e.strerror}")
        mine = os.path.join(self.a.run, self.user) + "/"
        for line in open("/proc/self/mountinfo"):
            f = line.split()
            if f[4].startswith(mine):
                words.append("mount " + " ".join(f[4:]))
        for name, path in (("C", self.C), ("profile", self.prof()), ("REG", self.REG)):
            try:
                st = os.stat(path)
                n = len(os.listdir(path))
                words.append(f"{name}: {oct(st.st_mode)} uid {st.st_uid}, {n} names")
            except OSError as e:
                words.append(f"{name}: {e.strerror}")
        r = run([self.a.layerctl, "status", "--json"], root=True)
        try:
            for s in json.loads(r.stdout).get("sessions", []):
                if s.get("user") == self.user:
                    words.append("session " + json.dumps(s, sort_keys=True)[:600])
        except ValueError:
            words.append(f"status: {r.stderr.strip()[:200]}")
        text = "; ".join(words)
        log(f"# day: {self.user}'s first EACCES: {text}")
        return text

    def prof(self, rel=""):
        return os.path.join(self.C, "Users", self.user, rel)

    def fail(self, kind, desc, why):
        self.failures.append(f"{self.user} {kind} {desc}: {why}"[:400])

    # each op returns its words; raises OSError on what Windows would not say
    def listing(self):
        """A folder Explorer opens: (its path in C:, its full path, its names
        or None with why Windows would refuse her)."""
        d = self.rnd.choice(LIST_DIRS).format(u=self.user)
        path = os.path.join(self.C, d)
        try:
            return d, path, os.listdir(path), None
        except OSError as e:
            if e.errno in ALLOWED or (e.errno == errno.ENOENT and "Program Files/" in d):
                return d, path, None, os.strerror(e.errno)
            raise

    def op_list(self):
        d, path, names, why = self.listing()
        if names is None:
            return f"ls -l {d}: {why}"
        for n in names:
            os.lstat(os.path.join(path, n))
        return f"ls -l {d} ({len(names)})"

    def op_xattrs(self):
        d, path, names, why = self.listing()
        if names is None:
            return f"xattrs {d}: {why}"
        got = 0
        for n in [""] + names:
            p = os.path.join(path, n)
            try:
                listed = os.listxattr(p, follow_symlinks=False)
            except OSError as e:
                if e.errno not in ALLOWED:
                    raise
                continue
            for x in listed:
                if not x.startswith("system.ntfs"):
                    continue
                try:
                    os.getxattr(p, x, follow_symlinks=False)
                    got += 1
                except OSError as e:
                    if e.errno not in ALLOWED | {errno.ENODATA, errno.EOPNOTSUPP}:
                        raise
        return f"xattrs {d} ({got})"

    def key_path(self, key):
        return os.path.join(self.REG, "Software", "DayTest", key)

    def hive_value(self, key, name):
        r = run(["hivexget", self.prof("NTUSER.DAT"), f"Software\\DayTest\\{key}", name])
        return r.stdout.rstrip("\n") if r.returncode == 0 else None

    def op_reg_set(self):
        key = f"K{self.rnd.randrange(6)}"
        name = f"V{self.rnd.randrange(8)}"
        text = f"{self.user}-{self.rnd.randrange(10**9)}"
        os.makedirs(self.key_path(key), exist_ok=True)
        with open(os.path.join(self.key_path(key), name), "w") as f:
            f.write(text)
        self.values[(key, name)] = text
        back = open(os.path.join(self.key_path(key), name)).read().rstrip("\n")
        if back != text:
            self.fail("reg_set", f"{key}\\{name}", f"REG says {back!r}, want {text!r}")
        hv = self.hive_value(key, name)
        if hv != text:
            self.fail("reg_set", f"{key}\\{name}",
                      f"C:'s NTUSER.DAT says {hv!r} at once, REG {text!r}")
        return f"reg set {key}\\{name}"

    def op_reg_get(self):
        if not self.values:
            return "reg get (none yet)"
        (key, name), text = self.rnd.choice(sorted(self.values.items()))
        back = open(os.path.join(self.key_path(key), name)).read().rstrip("\n")
        if back != text:
            self.fail("reg_get", f"{key}\\{name}", f"REG says {back!r}, want {text!r}")
        return f"reg get {key}\\{name}"

    def op_reg_del(self):
        if not self.values:
            return "reg del (none yet)"
        (key, name), _ = self.rnd.choice(sorted(self.values.items()))
        os.unlink(os.path.join(self.key_path(key), name))
        del self.values[(key, name)]
        if os.path.exists(os.path.join(self.key_path(key), name)):
            self.fail("reg_del", f"{key}\\{name}", "still there")
        if self.hive_value(key, name) is not None:
            self.fail("reg_del", f"{key}\\{name}", "still in C:'s NTUSER.DAT")
        return f"reg del {key}\\{name}"

    def new_name(self):
        folder = self.rnd.choice(["Desktop", "Documents", "AppData/Roaming/DayApp"])
        return f"{folder}/f{self.rnd.randrange(10**6)}.txt"

    def op_file_new(self):
        rel = self.new_name()
        os.makedirs(os.path.dirname(self.prof(rel)), exist_ok=True)
        text = f"{self.user} {rel} " + "x" * self.rnd.randrange(0, 20000)
        self.write_file(rel, text)
        return f"new {rel}"

    def write_file(self, rel, text):
        try:
            with open(self.prof(rel), "w") as f:
                f.write(text)
        except OSError:
            # opened (made or cut to nothing), then the write refused
            # (ENOSPC): what it holds is not known, so it is not judged
            self.files.pop(rel, None)
            raise
        self.files[rel] = text

    def pick(self):
        return self.rnd.choice(sorted(self.files)) if self.files else None

    def op_file_write(self):
        rel = self.pick()
        if not rel:
            return self.op_file_new()
        text = f"{self.user} again {self.rnd.randrange(10**9)}"
        self.write_file(rel, text)
        return f"write {rel}"

    def op_file_read(self):
        rel = self.pick()
        if not rel:
            return "read (none yet)"
        got = open(self.prof(rel), "rb").read()
        if got != self.files[rel].encode():
            self.fail("file_read", rel, f"{len(got)} bytes ({got[:16]!r}...), want "
                      f"{len(self.files[rel])} ({self.files[rel][:16]!r}...)")
        return f"read {rel}"

    def op_file_rename(self):
        rel = self.pick()
        if not rel:
            return "rename (none yet)"
        to = self.new_name()
        os.makedirs(os.path.dirname(self.prof(to)), exist_ok=True)
        os.rename(self.prof(rel), self.prof(to))
        self.files[to] = self.files.pop(rel)
        return f"rename {rel} -> {to}"

    def op_file_delete(self):
        rel = self.pick()
        if not rel:
            return "delete (none yet)"
        os.unlink(self.prof(rel))
        del self.files[rel]
        return f"delete {rel}"

    def op_app_read(self):
        base = os.path.join(self.C, "Program Files")
        apps = [x for x in ("7-Zip", "Notepad++") if os.path.isdir(os.path.join(base, x))]
        if not apps:
            return "app read (no app)"
        app = self.rnd.choice(apps)
        d = os.path.join(base, app)
        read = 0
        gen = self.sh.gen.value
        with os.scandir(d) as it:
            for e in it:
                if not e.is_file():
                    continue
                try:
                    with open(e.path, "rb") as f:   # held while the next is listed
                        read += len(f.read())
                except FileNotFoundError:
                    # listed before a new revision came in that has it not:
                    # as Windows says after an update; any other time a bug
                    if self.sh.gen.value == gen:
                        raise
        return f"app read {app} ({read} bytes)"

    def op_relog(self):
        if time.time() - self.last_relog < 20:
            return "relog (too soon)"
        self.last_relog = time.time()
        for op in (["logoff", self.user], ["login", self.user]):
            r = run([self.a.layerctl] + op, root=True)
            if r.returncode:
                self.dead = True    # no session: said once, not a million times
                raise OSError(errno.EIO, f"layerctl {op[0]}: {r.stderr.strip()}")
        self.verify_some()
        return "logoff and login"

    def verify_some(self):
        for rel in self.rnd.sample(sorted(self.files), min(5, len(self.files))):
            got = open(self.prof(rel)).read()
            if got != self.files[rel]:
                self.fail("relog", rel, "not as written before the logoff")

    def main(self, deadline):
        kinds, weights = list(OPS), list(OPS.values())
        while time.time() < deadline and not self.sh.stop.value and not self.dead:
            if not self.sh.go.is_set():
                self.sh.paused[self.slot] = 1
                self.sh.go.wait()
                self.sh.paused[self.slot] = 0
                continue
            kind = self.rnd.choices(kinds, weights)[0]
            self.sh.begin(self.slot, kind, kind, DAEMON_LIMIT if kind == "relog" else WATCHDOG)
            t0 = time.time()
            try:
                desc = getattr(self, "op_" + kind)()
            except OSError as e:
                desc = f"{kind}: {e}"
                if not self.sh.stop.value:
                    self.fail(kind, "", str(e))
                    if e.errno == errno.EACCES and not self.eacces_seen:
                        self.eacces_seen = True
                        self.fail("first-eacces", "", self.eacces_context(t0))
            dt = time.time() - t0
            self.sh.end(self.slot)
            self.n += 1
            self.counts[kind] += 1
            if dt > self.slowest.get(kind, (0, ""))[0]:
                self.slowest[kind] = (dt, desc)
        self.sh.paused[self.slot] = 1
        return {"user": self.user, "files": self.files,
                "values": {f"{k}\\{n}": v for (k, n), v in self.values.items()},
                "counts": self.counts, "slowest": self.slowest, "failures": self.failures,
                "n": self.n}


def worker_main(a, slot, user, shared, seed, deadline, out):
    pw = pwd.getpwnam(user)
    os.setgroups(os.getgrouplist(user, pw.pw_gid))
    os.setresgid(pw.pw_gid, pw.pw_gid, 0)
    os.setresuid(pw.pw_uid, pw.pw_uid, 0)
    w = Worker(a, slot, user, shared, seed)
    try:
        res = w.main(deadline)
    except Exception as e:   # a bug of the test itself: said, and failed
        res = {"user": user, "files": w.files, "values": {}, "counts": w.counts,
               "slowest": w.slowest, "failures": w.failures + [f"{user}: crashed: {e!r}"[:400]],
               "n": w.n}
    with open(out, "w") as f:
        json.dump(res, f)


# ---------------------------------------------------------------- the admin

class Day:
    def __init__(self, a):
        self.a = a
        self.users = a.users.split(",")
        self.sh = Shared(len(self.users) + 1)
        self.admin = len(self.users)
        self.failures = []
        self.layerd = None
        self.tripped = threading.Event()
        self.admin_counts = {}
        self.admin_slowest = (0, "")

    def start_layerd(self):
        self.layerd_log = open(os.path.join(self.a.work, "layerd.log"), "a")
        self.layerd = subprocess.Popen(
            [self.a.layerd, "--repo", self.a.repo, "--socket", self.a.socket, "--run", self.a.run,
             "--machine", "WKS-DAY", "--admin-group", self.a.admin_group],
            stderr=self.layerd_log)
        for _ in range(200):   # answering, not only there
            if os.path.exists(self.a.socket) and run([self.a.layerctl, "status"]).returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("layerd does not answer on its socket")

    def ctl(self, what, *args):
        """A layerctl command as the admin, under the watchdog (a batch job
        and a request to layerd have bounds of their own)."""
        batch = args and args[0] in ("capture", "repo", "fsck")
        limit = BATCH_LIMIT if batch else DAEMON_LIMIT
        self.sh.begin(self.admin, "admin", what, limit)
        t0 = time.time()
        try:
            r = run([self.a.layerctl] + list(args), timeout=limit + 60)
        except subprocess.TimeoutExpired:
            r = subprocess.CompletedProcess(args, 124, "", "timed out")
        dt = time.time() - t0
        self.sh.end(self.admin)
        self.admin_counts[what] = self.admin_counts.get(what, 0) + 1
        if dt > self.admin_slowest[0]:
            self.admin_slowest = (dt, what)
        return r

    def must(self, what, *args):
        if args[0] == "refresh":
            self.sh.gen.value += 1
        r = self.ctl(what, *args)
        if args[0] == "refresh":
            self.sh.gen.value += 1
        if r.returncode:
            self.failures.append(f"admin {what}: {r.stderr.strip() or r.stdout.strip()}")
        return r

    def login_all(self):
        for u in self.users:
            self.must(f"login {u}", "login", u)

    # the watchdog
    def watch(self, until):
        while time.time() < until + 120 and not self.done.is_set():
            now = time.time()
            for slot in range(len(self.users) + 1):
                t = self.sh.start[slot]
                if t and now - t > self.sh.limit[slot] and not self.tripped.is_set():
                    self.trip(slot, now - t)
            time.sleep(0.2)

    def trip(self, slot, secs):
        self.tripped.set()
        self.sh.stop.value = 1
        kind, desc = self.sh.what(slot)
        who = "admin" if slot == self.admin else self.users[slot]
        msg = (f"WATCHDOG: {who}'s {kind} ({desc}) took more than {self.sh.limit[slot]:.0f} s "
               f"({secs:.1f} s)")
        self.failures.append(msg)
        log(msg)
        if self.layerd and self.layerd.poll() is None:
            r = subprocess.run(["gdb", "-p", str(self.layerd.pid), "-batch", "-nx",
                                "-ex", "set pagination off", "-ex", "thread apply all bt"],
                               capture_output=True, text=True, timeout=120)
            for line in r.stdout.splitlines():
                if line.startswith(("Thread", "#")):
                    log("    " + line)
        for line in open("/proc/self/mountinfo"):
            f = line.split()
            dev, mnt = f[2], f[4]
            if mnt.startswith(self.a.run + "/") and dev.startswith("0:"):
                p = f"/sys/fs/fuse/connections/{dev[2:]}/abort"
                try:
                    with open(p, "w") as fd:
                        fd.write("1")
                    log(f"watchdog: aborted the FUSE connection of {mnt}")
                except OSError:
                    pass

    def pause_workers(self):
        self.sh.go.clear()
        t0 = time.time()
        while time.time() - t0 < 60:
            if all(self.sh.paused[i] for i in range(len(self.users))):
                return True
            time.sleep(0.05)
        self.failures.append("the workers did not come to a stop within 60 s")
        return False

    def capture(self, n, parent=None):
        """A new revision of 7-Zip, captured from a packaging folder."""
        pkg = os.path.join(self.a.work, f"pkg{n}")
        os.makedirs(os.path.join(pkg, "Program Files", "7-Zip"), exist_ok=True)
        for name, text in (("7z.exe", f"MZ 7z.exe {n}.0"), ("readme.txt", "7-Zip readme"),
                           (f"history{n}.txt", f"version {n}")):
            with open(os.path.join(pkg, "Program Files", "7-Zip", name), "w") as f:
                f.write(text + "\n")
        args = ["capture", "-q", "--force", "--session", pkg, "--layer", f"{self.a.os},type=os"]
        if parent:
            args += ["--layer", f"{parent},prio=5", "--parent", parent]
        args += ["--repo", self.a.repo, "--name", "7-Zip", os.path.join(self.a.work, f"7z-{n}.vhd")]
        self.must(f"capture 7-Zip {n}" + (" (differencing)" if parent else ""), *args)

    def newest_7z(self):
        r = self.ctl("repo list", "repo", "list", "--json", self.a.repo)
        try:
            layers = json.loads(r.stdout)["layers"]
        except (ValueError, KeyError):
            return None, None
        revs = [l for l in layers if l.get("id") == 100]
        if not revs:
            return None, None
        top = max(revs, key=lambda l: l["revision"])
        return top["revision"], os.path.join(self.a.repo, top["file"])

    def remove_oldest(self):
        """Retire 7-Zip's oldest revision but the newest: refused only
        while a differencing revision is on its file."""
        r = self.ctl("repo list", "repo", "list", "--json", self.a.repo)
        try:
            revs = sorted(l["revision"] for l in json.loads(r.stdout)["layers"] if l["id"] == 100)
        except (ValueError, KeyError):
            revs = []
        if len(revs) < 2:
            return
        r = self.ctl(f"repo remove 100:{revs[0]}", "repo", "remove", self.a.repo, f"100:{revs[0]}")
        if r.returncode and "differencing" not in r.stderr:
            self.failures.append(f"admin repo remove 100:{revs[0]}: {r.stderr.strip()}")

    def admin_day(self, t0, secs):
        """The admin's plan, again every CYCLE seconds (once in a short day)."""
        cycle = min(secs, 600)
        plan = [(0.15, "capture"), (0.35, "capture-diff"), (0.5, "kill"), (0.7, "capture"),
                (0.8, "remove")]
        done = set()
        last_status = 0
        n = 0
        while time.time() < t0 + secs and not self.sh.stop.value:
            now = time.time()
            k, into = int((now - t0) // cycle), (now - t0) % cycle / cycle
            due = [(k, i) for i, (at, _) in enumerate(plan) if at <= into and (k, i) not in done]
            if due:
                done.add(due[0])
                what = plan[due[0][1]][1]
                n += 1
                if what.startswith("capture"):
                    rev, path = self.newest_7z()
                    self.capture(n, parent=path if what == "capture-diff" else None)
                    self.must("refresh", "refresh")
                elif what == "kill":
                    if self.pause_workers():
                        log(f"# day: kill -9 layerd at {now - t0:.0f} s, then started again")
                        self.layerd.send_signal(signal.SIGKILL)
                        self.layerd.wait()
                        self.start_layerd()
                        self.login_all()
                    self.sh.go.set()
                elif what == "remove":
                    self.remove_oldest()
                    self.must("refresh", "refresh")
            elif now - last_status > 5:
                last_status = now
                self.must("status", "status", "--json")
            time.sleep(0.1)

    def verify(self, results):
        """Every user once more: her files and values as her model says."""
        for res in results:
            u = res["user"]
            r = self.ctl(f"login {u}", "login", u)
            if r.returncode:
                self.failures.append(f"final login {u}: {r.stderr.strip()}")
                continue
            prof = os.path.join(self.a.run, u, "C", "Users", u)
            for rel, text in res["files"].items():
                try:
                    got = open(os.path.join(prof, rel)).read()
                except OSError as e:
                    got = f"<{e}>"
                if got != text:
                    self.failures.append(f"final {u} {rel}: {got[:60]!r}, want {text[:60]!r}")
            reg = os.path.join(self.a.run, u, "REG", "HKU", u, "Software", "DayTest")
            for kv, text in res["values"].items():
                key, name = kv.split("\\")
                try:
                    got = open(os.path.join(reg, key, name)).read().rstrip("\n")
                except OSError as e:
                    got = f"<{e}>"
                hv = run(["hivexget", os.path.join(prof, "NTUSER.DAT"), f"Software\\DayTest\\{key}", name])
                if got != text or hv.stdout.rstrip("\n") != text:
                    self.failures.append(f"final {u} {kv}: REG {got!r}, NTUSER.DAT "
                                         f"{hv.stdout.strip()!r}, want {text!r}")
            self.must(f"logoff {u}", "logoff", u)

    def fsck(self):
        r = self.ctl("fsck", "fsck", "--json", self.a.repo)
        try:
            j = json.loads(r.stdout)
        except ValueError:
            return {"<no JSON>": r.stderr.strip()}
        probs = j.get("problems", [])
        return {json.dumps(p, sort_keys=True) for p in probs}

    def run(self):
        a = self.a
        log(f"# day: seed {a.seed}, users {', '.join(self.users)}, {a.seconds} s")
        before = self.fsck()
        self.start_layerd()
        self.login_all()
        t0 = time.time()
        deadline = t0 + a.seconds
        self.done = threading.Event()
        wd = threading.Thread(target=self.watch, args=(deadline,), daemon=True)
        wd.start()
        outs, procs = [], []
        for i, u in enumerate(self.users):
            out = os.path.join(a.work, f"day-{u}.json")
            open(out, "w").close()      # hers to write: the worker is she
            pw = pwd.getpwnam(u)
            os.chown(out, pw.pw_uid, pw.pw_gid)
            p = mp.Process(target=worker_main, args=(a, i, u, self.sh, a.seed, deadline, out))
            p.start()
            procs.append(p)
            outs.append(out)
        self.admin_day(t0, a.seconds)
        for p in procs:
            p.join(timeout=WATCHDOG * 3 + 120)
            if p.is_alive():
                self.failures.append(f"a worker (pid {p.pid}) did not end")
                p.kill()
        results = []
        for out in outs:
            try:
                results.append(json.load(open(out)))
            except (OSError, ValueError) as e:
                self.failures.append(f"{out}: no result ({e})")
        if not self.tripped.is_set():
            for u in self.users:
                self.must(f"logoff {u}", "logoff", u)
            after = self.fsck()
            for p in sorted(set(after) - set(before)):
                self.failures.append(f"fsck, new since the morning: {p}")
            self.verify(results)
        self.done.set()
        if self.layerd.poll() is None:
            self.layerd.terminate()
            try:
                self.layerd.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.failures.append("layerd did not end on SIGTERM")
                self.layerd.kill()
        return self.report(results, t0)

    def report(self, results, t0):
        counts = {k: 0 for k in OPS}
        slowest = {}
        total = 0
        for res in results:
            total += res["n"]
            for k, v in res["counts"].items():
                counts[k] += v
            for k, (dt, desc) in res["slowest"].items():
                if dt > slowest.get(k, (0, ""))[0]:
                    slowest[k] = (dt, f"{res['user']}: {desc}")
            self.failures += res["failures"]
        log(f"# day: seed {self.a.seed}: {total} operations in {time.time() - t0:.0f} s")
        for k in OPS:
            dt, desc = slowest.get(k, (0, ""))
            log(f"#   {k:12} {counts[k]:6}   slowest {dt * 1000:7.0f} ms  {desc[:90]}")
        log(f"#   admin        {sum(self.admin_counts.values()):6}   slowest "
            f"{self.admin_slowest[0] * 1000:7.0f} ms  {self.admin_slowest[1]}")
        if total < self.a.floor:
            self.failures.append(f"only {total} operations ran; the floor is {self.a.floor}")
        # a few of each source, so one user's flood hides no other's
        shown, per = 0, {}
        for f in self.failures:
            who = f.split(" ", 2)[1] if f.startswith("final ") else f.split(" ", 1)[0]
            per[who] = per.get(who, 0) + 1
            if per[who] <= 8 and shown < 200:
                log(f"FAIL: {f}")
                shown += 1
        if len(self.failures) > shown:
            log(f"FAIL: ... and {len(self.failures) - shown} more")
        keep = os.environ.get("DAY_KEEP_LOG")
        if self.failures and keep:   # the daemon's own words, for the long run's reader
            try:
                shutil.copyfile(os.path.join(self.a.work, "layerd.log"), keep)
                log(f"# day: layerd's log kept in {keep}")
            except OSError as e:
                log(f"# day: layerd's log not kept: {e}")
        return 0 if not self.failures else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for opt in ("layerctl", "layerd", "repo", "run", "work", "socket", "admin-group", "os", "users"):
        p.add_argument("--" + opt, required=True)
    p.add_argument("--seconds", type=int, default=180)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--floor", type=int, default=0)
    a = p.parse_args()
    os.environ["LAYERD_SOCKET"] = a.socket
    mp.set_start_method("fork")
    sys.exit(Day(a).run())


if __name__ == "__main__":
    main()
