#!/usr/bin/env bash
# The writable personalization layer through real FUSE mounts: the POSIX
# semantics suite (posix.py) on folder and NTFS-in-VHD lower layers, its
# trace compared line by line with kernel overlayfs' (posix.expected, and
# overlayfs itself when this kernel can mount it); parallel first writes;
# upperdir= in the mount-helper form; bad upper folders.
. "$(dirname "$0")/lib.sh"
: "${LAYERFS:?LAYERFS not set}"
[ -e /dev/fuse ] || skip_all "no /dev/fuse"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (chown, other users' files)"

chmod 755 "$WORK"   # other users walk into it (the owner cases)
POSIX="$TESTS_DIR/posix.py"
EXPECTED="$TESTS_DIR/posix.expected"

mnt() {
  local m="$WORK/$1"; shift
  mkdir -p "$m"
  if "$LAYERFS" "$@" "$m" 2>"$WORK/.mnterr"; then MOUNTS+=("$m"); return 0; fi
  cat "$WORK/.mnterr"; return 1
}

# suite NAME LOWER-SUFFIX: fresh layers, a mount, the suite, the trace
suite() {
  local name=$1 sfx=$2 d="$WORK/$1"
  mkdir -p "$d/up"
  python3 "$POSIX" make "$d"
  if [ -n "$sfx" ]; then
    for i in 0 1; do "$LAYERCTL" pack -q "$d/L$i" "$d/L$i$sfx"; done
  fi
  mnt "$name/m" --layer "$d/L0$sfx,type=os" --layer "$d/L1$sfx" --upper "$d/up" || return 1
  python3 "$POSIX" run "$d/m" "$d/up" layerfs >"$d/trace"
  local rc=$?
  fusermount3 -u "$d/m"
  return $rc
}

# the kernel's own overlayfs still gives the recorded answers
mkdir -p "$WORK/ov/up" "$WORK/ov/work" "$WORK/ov/m"
python3 "$POSIX" make "$WORK/ov"
if mount -t overlay overlay -o "lowerdir=$WORK/ov/L1:$WORK/ov/L0,upperdir=$WORK/ov/up,workdir=$WORK/ov/work,redirect_dir=off" "$WORK/ov/m" 2>/dev/null; then
  python3 "$POSIX" run "$WORK/ov/m" "$WORK/ov/up" overlay >"$WORK/ov/trace"
  umount "$WORK/ov/m"
  check "kernel overlayfs gives the recorded trace" diff "$EXPECTED" "$WORK/ov/trace"
else
  echo "# kernel overlayfs cannot mount here; comparing with the recorded trace only"
fi

layerfs_part() { grep -v '^layerfs_only: ' "$1"; }
if suite dir ""; then
  check "folder layers: every call answers as kernel overlayfs does" \
    diff "$EXPECTED" <(layerfs_part "$WORK/dir/trace")
else
  not_ok "folder layers: the suite failed"; grep FAIL "$WORK/dir/trace" | sed 's/^/    /'
fi
check "folder layers: case-insensitive writes, tokens, opaque folders" \
  bash -c "! grep -q FAIL '$WORK/dir/trace' && grep -q '^layerfs_only: ' '$WORK/dir/trace'"

# NTFS lowers: modes come from NTFS and times have 100 ns steps
if suite vhd ".vhd"; then
  check "NTFS-in-VHD layers: every call answers as kernel overlayfs does" \
    diff <(grep -v 'attrs: lower m' "$EXPECTED") <(layerfs_part "$WORK/vhd/trace" | grep -v 'attrs: lower m')
else
  not_ok "NTFS-in-VHD layers: the suite failed"; grep FAIL "$WORK/vhd/trace" | sed 's/^/    /'
fi

# Parallel first writes to one lower file make one copy.
P="$WORK/par"
mkdir -p "$P/L0" "$P/up"
head -c 4194304 /dev/urandom >"$P/L0/big.bin"
mnt par/m -o "lowerdir=$P/L0,upperdir=$P/up"
python3 - "$P/m/big.bin" <<'PY' && ok "16 parallel first writes: each lands" || not_ok "parallel first writes"
import os, sys, threading
p = sys.argv[1]
def w(i):
    fd = os.open(p, os.O_WRONLY)
    os.pwrite(fd, bytes([i]) * 4096, i * 65536)
    os.close(fd)
ts = [threading.Thread(target=w, args=(i,)) for i in range(16)]
[t.start() for t in ts]
[t.join() for t in ts]
data = open(p, "rb").read()
assert len(data) == 4194304
assert all(data[i * 65536:i * 65536 + 4096] == bytes([i]) * 4096 for i in range(16))
PY
check "parallel first writes: one copy, no temporaries, the rest is the lower file's" python3 - "$P" <<'PY'
import os, sys
d = sys.argv[1]
assert os.listdir(os.path.join(d, "up/.wh..wh..work")) == []
assert sorted(os.listdir(os.path.join(d, "up"))) == [".wh..wh..work", "big.bin"]
a, b = open(f"{d}/L0/big.bin", "rb").read(), open(f"{d}/up/big.bin", "rb").read()
assert all(a[i * 65536 + 4096:(i + 1) * 65536] == b[i * 65536 + 4096:(i + 1) * 65536] for i in range(16))
assert a[16 * 65536:] == b[16 * 65536:]
PY
fusermount3 -u "$P/m"

# A copy-up the writable layer has no room for: ENOSPC, and neither a
# temporary in the work folder nor a copy is left
if [ "$(id -u)" -eq 0 ] && mkdir -p "$P/small" && mount -t tmpfs -o size=1m tmpfs "$P/small"; then
  mkdir -p "$P/small/up"
  mnt par/m3 -o "lowerdir=$P/L0,upperdir=$P/small/up"
  check "a copy-up with no room: ENOSPC, no temporary left, no copy" python3 - "$P/m3/big.bin" "$P/small/up" <<'PY'
import errno, os, sys
try:
    os.close(os.open(sys.argv[1], os.O_WRONLY))
    sys.exit("the copy-up did not fail")
except OSError as e:
    assert e.errno == errno.ENOSPC, e
work = os.path.join(sys.argv[2], ".wh..wh..work")
assert os.listdir(work) == [], os.listdir(work)
assert not os.path.exists(os.path.join(sys.argv[2], "big.bin"))
PY
  fusermount3 -u "$P/m3"; umount "$P/small"
fi

# The mount-helper form with upperdir= and workdir=; temporaries there.
mkdir -p "$P/w2" "$P/up2"
echo left >"$P/w2/tmp.1.1"
mnt par/m2 none -o "rw,lowerdir=$P/L0,upperdir=$P/up2,workdir=$P/w2" \
  && echo x >"$P/m2/new" && [ -f "$P/up2/new" ] && [ ! -e "$P/w2/tmp.1.1" ] && [ ! -e "$P/up2/.wh..wh..work" ] \
  && ok "upperdir= and workdir=: writes land in upperdir, left-over temporaries are cleared" \
  || not_ok "upperdir=/workdir= mount"
fusermount3 -u "$P/m2" 2>/dev/null

# Bad upper folders stop the mount with one line naming them.
mkdir -p "$WORK/bad"
refuses "a missing upper folder" "$WORK/bad/none" "$LAYERFS" --layer "$P/L0" --upper "$WORK/bad/none" "$WORK/bad"
refuses "a work folder on another file system" "/dev/shm" "$LAYERFS" --layer "$P/L0" --upper "$P/up" --workdir /dev/shm "$WORK/bad"
touch "$WORK/bad/file"
refuses "an upper that is a file" "$WORK/bad/file" "$LAYERFS" --layer "$P/L0" --upper "$WORK/bad/file" "$WORK/bad"

# layerctl reset: through a running mount (its caches and the kernel's
# forget at once), and offline on the upper folder.
R="$WORK/reset"
mkdir -p "$R/up"
python3 "$POSIX" make "$R"
mnt reset/m --layer "$R/L0,type=os" --layer "$R/L1" --upper "$R/up"
echo changed >"$R/m/Docs/readme.txt"
rm "$R/m/Docs/keep.txt"
rm -r "$R/m/Program Files/App"
mkdir "$R/m/Program Files/App"; echo mine >"$R/m/Program Files/App/mine.txt"
cat "$R/m/Docs/readme.txt" "$R/m/Program Files/App/mine.txt" >/dev/null  # in the kernel's caches
check "reset through the mount: exit 0, the layers' versions show at once" bash -c "
  '$LAYERCTL' reset '$R/up' DOCS/README.TXT docs/keep.txt 'program files/app' >/dev/null &&
  [ \"\$(cat '$R/m/Docs/readme.txt')\" = 'read me' ] && [ -f '$R/m/Docs/keep.txt' ] &&
  [ -f '$R/m/Program Files/App/app.exe' ] && [ ! -e '$R/m/Program Files/App/mine.txt' ] &&
  [ ! -e '$R/up/Docs/readme.txt' ] && [ ! -e '$R/up/Docs/.wh.keep.txt' ] && [ ! -e '$R/up/Program Files/App' ]"
check "reset: the mount still writes after it" bash -c "echo again >'$R/m/Docs/readme.txt' && [ \"\$(cat '$R/up/Docs/readme.txt')\" = again ]"
"$LAYERCTL" reset "$R/up" Docs/nothing.txt >"$WORK/.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "nothing to reset" "$WORK/.out" && ok "reset of an untouched path: exit 1, says so" || not_ok "reset untouched (exit $rc)"
fusermount3 -u "$R/m"
check "offline reset: --json names what it removed" bash -c "
  '$LAYERCTL' reset --json '$R/up' docs/readme.txt | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r[0][\"via\"] == \"offline\" and r[0][\"removed\"] == [{\"name\": \"readme.txt\", \"type\": \"file\"}], r
' && [ ! -e '$R/up/Docs/readme.txt' ]"
refuses "reset of a path that leaves the layer" ".." "$LAYERCTL" reset "$R/up" Docs/../../etc/passwd

# Read-only mounts stay read-only.
mnt ro --layer "$P/L0"
refuses_write() { ! echo x >"$WORK/ro/new" 2>/dev/null && ! touch "$WORK/ro/big.bin" 2>/dev/null; }
check "without --upper the mount is read-only" refuses_write
fusermount3 -u "$WORK/ro"

# Hard links stay reachable by every name left (issue 13): after the first
# name goes (unlink, or renamed over), the others read and write, and
# nlink follows; a lower file linked through the union too. A new folder
# renamed onto a lower one: ENOTEMPTY, or made opaque when the merged one
# is empty. On a folder lower layer and on an NTFS-in-VHD one.
for kind in dir vhd; do
  H="$WORK/hl-$kind"; mkdir -p "$H/low/sub" "$H/up"
  echo lower >"$H/low/sub/lf.txt"
  echo linked >"$H/low/sub/hl0"; ln "$H/low/sub/hl0" "$H/low/sub/hl1"
  echo two >"$H/low/sub/lk0"; ln "$H/low/sub/lk0" "$H/low/sub/lk1"; ln "$H/low/sub/lk0" "$H/low/sub/lk2"
  mkdir -p "$H/low/full/x" "$H/low/empty"
  low="$H/low"
  [ $kind = vhd ] && { "$LAYERCTL" pack -q "$H/low" "$H/low.vhd"; low="$H/low.vhd"; }
  mnt "hl-$kind/m" --layer "$low,type=os" --upper "$H/up" || continue
  same() { local what=$1 want=$2; shift 2; local got; got=$("$@" 2>&1)
    [ "$got" = "$want" ] && ok "$what" || not_ok "$what: got '$got', want '$want'"; }
  same "$kind: ln a b; rm a; cat b" "data 1" sh -c "cd '$H/m' && echo data > a && ln a b && rm a && echo \$(cat b) \$(stat -c %h b)"
  same "$kind: ln p q; mv z p; cat q (renamed over)" "x 1 y" sh -c "
    cd '$H/m' && echo x > p && ln p q && echo y > z && mv z p && echo \$(cat q) \$(stat -c %h q) \$(cat p)"
  same "$kind: a lower file linked through the union, its first name removed" "lower 1" sh -c "
    cd '$H/m/sub' && ln lf.txt lf2 && rm lf.txt && echo \$(cat lf2) \$(stat -c %h lf2)"
  same "$kind: three names, two removed, write through the last" "data more 1" sh -c "
    cd '$H/m' && ln b c && ln c d && rm b c && echo more >> d && echo \$(cat d) \$(stat -c %h d)"
  same "$kind: a lower hard link written through one name, renamed by the other" "linked more|linked more" sh -c "
    cd '$H/m/sub' && echo more >> hl0 && mv hl1 hl2 && echo \"\$(cat hl2 | tr '\n' ' ' | sed 's/ \$//')|\$(cat hl0 | tr '\n' ' ' | sed 's/ \$//')\""
  same "$kind: a lower hard link's count follows its names: rm one, write, rename over another" \
    "2 3|2 2|written 1" sh -c "
    cd '$H/m/sub' && rm lk2 && a=\$(stat -c %h lk0) && echo written > lk1 && b=\$(stat -c %h lk0) &&
    echo x > other && ln lk0 lk3 && c=\$(stat -c %h lk1) && mv other lk1 && rm lk3 &&
    echo \"\$a \$c|\$b \$b|\$(cat lk0) \$(stat -c %h lk0)\""
  same "$kind: names of one file share an inode number" "1" sh -c "
    cd '$H/m' && ln d e && stat -c %i d e | sort -u | wc -l"
  same "$kind: a new folder renamed onto a lower one with entries: ENOTEMPTY" "Directory not empty" \
    python3 -c "
import os, sys
os.mkdir(sys.argv[1] + '/new1')
try:
    os.rename(sys.argv[1] + '/new1', sys.argv[1] + '/full'); print('renamed')
except OSError as e:
    print(e.strerror)" "$H/m"
  same "$kind: onto an empty lower one: renamed, and it hides the lower folder" "a|1" sh -c "
    cd '$H/m' && mkdir new2 && echo a > new2/a && mv -T new2 empty && echo \"\$(ls empty)|\$(ls -a '$H/up/empty' | grep -c '^.wh..wh..opq$')\""
  same "$kind: mkfifo, and data through the FIFO" "p through" sh -c "
    cd '$H/m' && mkfifo ff && (echo through > ff &) && echo \$(stat -c %A ff | cut -c1) \$(cat ff)"
  same "$kind: an AF_UNIX socket bound on the drive takes a connection" "b'hi' s" python3 -c "
import os, socket, stat, sys
os.chdir(sys.argv[1])
s = socket.socket(socket.AF_UNIX); s.bind('sock'); s.listen(1)
c = socket.socket(socket.AF_UNIX); c.connect('sock'); a, _ = s.accept(); c.send(b'hi')
print(a.recv(2), 's' if stat.S_ISSOCK(os.lstat('sock').st_mode) else '?')" "$H/m"
  same "$kind: root makes a device node, its numbers kept" "c 1:3" sh -c "
    cd '$H/m' && mknod cdev c 1 3 && stat -c '%A %t:%T' cdev | sed 's/^\(.\)[^ ]*/\1/'"
  same "$kind: a merged folder's link count is 2 and its subfolders" "4" sh -c "
    mkdir '$H/m/full/y' && ls '$H/m/full' >/dev/null && stat -c %h '$H/m/full'"
  fusermount3 -u "$H/m"
done

# overlayfs-style stacks: every layer folder is named "u" (container
# storage's .../ID/diff); the later ones are u#2, u#3, and --priority
# can name them.
E="$WORK/eq"; mkdir -p "$E/1/u" "$E/0/u"
echo one >"$E/1/u/f"; echo zero >"$E/0/u/f"; echo z >"$E/0/u/g"
if mnt eq/m -o "lowerdir=$E/1/u:$E/0/u"; then
  check "layers with one base name mount; the first given wins" sh -c "[ \"\$(cat '$E/m/f')\" = one ] && [ -e '$E/m/g' ]"
  fusermount3 -u "$E/m"
else
  not_ok "layers with one base name mount"
fi
if mnt eq/m2 --layer "$E/0/u" --layer "$E/1/u" --priority "u=5"; then
  check "--priority names the first u; the second is u#2" sh -c "[ \"\$(cat '$E/m2/f')\" = zero ]"
  fusermount3 -u "$E/m2"
else
  not_ok "--priority u=5 on a stack of two u"
fi

# Windows attributes survive a copy-up: a hidden, system desktop.ini
# changed in the writable layer is still hidden and system
mkdir -p "$WORK/attr/L/Users/Public" "$WORK/attr/up"
printf '[.ShellClassInfo]\r\n' >"$WORK/attr/L/Users/Public/desktop.ini"
setfattr -n trusted.layerfs.ntfs_attrib -v 0x26000000 "$WORK/attr/L/Users/Public/desktop.ini"
"$LAYERCTL" pack -q "$WORK/attr/L" "$WORK/attr/L.vhd"
if mnt attr/m --layer "$WORK/attr/L.vhd,type=os" --upper "$WORK/attr/up"; then
  F="$WORK/attr/m/Users/Public/desktop.ini"
  attrib() { python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], "system.ntfs_attrib").hex())' "$1" 2>&1; }
  before=$(attrib "$F")
  printf 'IconResource=x\r\n' >>"$F"
  after=$(attrib "$F")
  [ "$before" = 26000000 ] && [ "$after" = 26000000 ] && [ -s "$WORK/attr/up/Users/Public/desktop.ini" ] \
    && ok "Windows attributes (hidden, system) survive a copy-up" || not_ok "attributes over a copy-up: $before -> $after"
  ! setfattr -n system.ntfs_attrib -v 0x2600 "$F" 2>/dev/null && setfattr -n system.ntfs_attrib -v 0x20000000 "$F" \
    && [ "$(attrib "$F")" = 20000000 ] \
    && ok "attributes set through the drive: 4 bytes, else EINVAL" || not_ok "setting attributes"
  fusermount3 -u "$WORK/attr/m"
fi

finish
