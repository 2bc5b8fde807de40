#!/usr/bin/env bash
# layerfs through real FUSE mounts: the golden tree (as directory layers and
# as NTFS-in-VHD layers), parallel readers, the program's three forms,
# priorities, read-only, inode numbers, xattrs, SIGTERM, bad layers,
# layerctl which, and a real Windows volume under a directory layer.
. "$(dirname "$0")/lib.sh"
: "${LAYERFS:?LAYERFS not set}"
[ -e /dev/fuse ] || skip_all "no /dev/fuse"

MODEL="$TESTS_DIR/union_model.py"
python3 "$MODEL" make "$WORK" >/dev/null
L="$WORK/L0 $WORK/L1 $WORK/L2 $WORK/L3"
for i in 0 1 2 3; do "$LAYERCTL" pack -q "$WORK/L$i" "$WORK/L$i.vhd"; done

# mount NAME ARGS...: layerfs ARGS... on $WORK/NAME, remembered for cleanup
mnt() {
  local m="$WORK/$1"; shift
  mkdir -p "$m"
  if "$LAYERFS" "$@" "$m" 2>"$WORK/.mnterr"; then MOUNTS+=("$m"); return 0; fi
  cat "$WORK/.mnterr"; return 1
}
unmnt() { fusermount3 -u "$WORK/$1"; }

for kind in dir vhd; do
  if [ $kind = dir ]; then s=""; else s=".vhd"; fi
  if mnt "m-$kind" --layer "$WORK/L0$s,type=os" --layer "$WORK/L1$s" --layer "$WORK/L2$s" --layer "$WORK/L3$s"; then
    check "$kind layers: the mounted tree is the expected one" python3 "$MODEL" compare "$WORK/m-$kind" $L
    check "$kind layers: 8 parallel readers get right answers" python3 "$MODEL" readers "$WORK/m-$kind" $L
    unmnt "m-$kind"
  else
    not_ok "$kind layers: mount"
  fi
done

# The OS layer is lowest whatever the order given; prio orders the rest.
mnt order --layer "$WORK/L3.vhd,prio=1" --layer "$WORK/L0.vhd,type=os" --layer "$WORK/L1.vhd,prio=5" \
  && [ "$(cat "$WORK/order/windows/win.ini")" = "[app1]" ] && ok "type=os stays lowest; prio=5 beats prio=1" \
  || not_ok "stack order: $(cat "$WORK/order/windows/win.ini" 2>&1)"
unmnt order
mnt prio --layer "$WORK/L0.vhd,type=os" --layer "$WORK/L1.vhd" --layer "$WORK/L2.vhd" --priority L1=10 \
  && [ "$(cat "$WORK/prio/program files/common files/shared.dll")" = "app1 shared" ] \
  && ok "--priority L1=10 lifts L1 over L2" || not_ok "--priority: $(cat "$WORK/prio/program files/common files/shared.dll" 2>&1)"
unmnt prio

# overlayfs' lowerdir (leftmost highest) and the mount-helper form.
mnt lower -o "lowerdir=$WORK/L3.vhd:$WORK/L2.vhd:$WORK/L1.vhd:$WORK/L0.vhd" \
  && check "-o lowerdir=A:B:C (leftmost highest)" python3 "$MODEL" compare "$WORK/lower" $L
unmnt lower
mkdir -p "$WORK/helper"
if "$LAYERFS" none "$WORK/helper" -o "rw,dev,suid,nofail,lowerdir=$WORK/L3:$WORK/L2:$WORK/L1:$WORK/L0" 2>"$WORK/.err"; then
  MOUNTS+=("$WORK/helper")
  check "mount-helper form: SOURCE MOUNTPOINT -o ...,dev,suid" python3 "$MODEL" compare "$WORK/helper" $L
  unmnt helper
else
  not_ok "mount-helper form: $(cat "$WORK/.err")"
fi
# mount -t fuse.layerfs runs mount.fuse3, which runs "layerfs SOURCE MNT -o
# OPTS" found on mount's own PATH; with the built binary named by path:
mkdir -p "$WORK/mt"
if mount.fuse3 "$LAYERFS#layers" "$WORK/mt" -o "lowerdir=$WORK/L1.vhd:$WORK/L0.vhd,nofail" 2>"$WORK/.err"; then
  MOUNTS+=("$WORK/mt")
  [ -f "$WORK/mt/PROGRAM FILES/App1/app1.exe" ] && ok "mount.fuse3 (what mount -t fuse.layerfs runs)" || not_ok "mount.fuse3: content"
  umount "$WORK/mt" && ok "umount" || not_ok "umount"
else
  not_ok "mount.fuse3: $(cat "$WORK/.err")"
fi

# Read-only, inode numbers, xattrs, links, missing names.
mnt ro --layer "$WORK/L0.vhd,type=os" --layer "$WORK/L1.vhd" --layer "$WORK/L2.vhd"
m="$WORK/ro"
for op in "touch $m/new" "mkdir $m/dir" "rm $m/keep.txt" "cp /etc/hostname $m/Windows/win.ini"; do
  err=$($op 2>&1)
  case "$err" in *"Read-only file system"*) ok "EROFS: $op" ;; *) not_ok "EROFS: $op: $err" ;; esac
done
i1=$(stat -c %i "$m/Windows/System32/kernel32.dll"); i2=$(stat -c %i "$m/WINDOWS/SYSTEM32/KERNEL32.DLL")
[ "$i1" = "$i2" ] && ok "one inode number in any case" || not_ok "inode $i1 vs $i2"
if echo 2 > /proc/sys/vm/drop_caches 2>/dev/null; then
  i3=$(stat -c %i "$m/Windows/System32/kernel32.dll")
  [ "$i1" = "$i3" ] && ok "the same inode number after the kernel forgot it" || not_ok "inode $i1 then $i3"
fi
attrib=$(getfattr --only-values -n system.ntfs_attrib "$m/Windows/win.ini" 2>/dev/null | od -An -tu4 | tr -d ' ')
[ "$attrib" = 32 ] && ok "system.ntfs_attrib (FILE_ATTRIBUTE_ARCHIVE)" || not_ok "system.ntfs_attrib: '$attrib'"
stream=$(getfattr --only-values -n user.Stream "$m/PROGRAM FILES/app2/APP2.EXE" 2>/dev/null)
[ "$stream" = "stream of app2" ] && ok "an alternate data stream as user.Stream" || not_ok "stream: '$stream'"
getfattr -n system.ntfs_acl "$m/Windows" >/dev/null 2>&1 && ok "system.ntfs_acl on a folder" || not_ok "system.ntfs_acl"
[ "$(readlink "$m/program files/App2/sys")" = "../../Windows/System32" ] && [ -f "$m/program files/App2/sys/kernel32.dll" ] \
  && ok "a rooted NTFS symlink points inside the mount" || not_ok "rooted symlink: $(readlink "$m/program files/App2/sys")"
stat "$m/no such file" >/dev/null 2>&1; [ $? -ne 0 ] && ok "missing name: ENOENT" || not_ok "missing name"
stat "$m/Windows/.wh.notepad.exe" >/dev/null 2>&1 && not_ok "a token is reachable" || ok "tokens cannot be looked up"
df "$m" >/dev/null && ok "statfs" || not_ok "statfs"
unmnt ro

# Hard links in one NTFS layer share one inode number.
mkdir -p "$WORK/hl"; echo linked > "$WORK/hl/a.txt"; ln "$WORK/hl/a.txt" "$WORK/hl/b.txt"
"$LAYERCTL" pack -q "$WORK/hl" "$WORK/hl.vhd"
mnt hlm --layer "$WORK/hl.vhd"
[ "$(stat -c %i "$WORK/hlm/a.txt")" = "$(stat -c %i "$WORK/hlm/b.txt")" ] && [ "$(stat -c %h "$WORK/hlm/a.txt")" = 2 ] \
  && ok "hard links share an inode number" || not_ok "hard links"
unmnt hlm

# SIGTERM unmounts cleanly, in the foreground and in the background.
mkdir -p "$WORK/term"
"$LAYERFS" -f --layer "$WORK/L0.vhd" "$WORK/term" & pid=$!
for _ in $(seq 50); do mountpoint -q "$WORK/term" && break; sleep 0.1; done
kill -TERM $pid; wait $pid; rc=$?
! mountpoint -q "$WORK/term" && [ $rc -eq 0 ] && ok "SIGTERM: unmounted, exit 0" || not_ok "SIGTERM: rc=$rc"
mnt bg --layer "$WORK/L0.vhd"
mountpoint -q "$WORK/bg" && ok "in the background only once the mount is live" || not_ok "background mount not live"
pkill -TERM -f "layerfs --layer $WORK/L0.vhd $WORK/bg"
for _ in $(seq 50); do mountpoint -q "$WORK/bg" || break; sleep 0.1; done
! mountpoint -q "$WORK/bg" && ok "SIGTERM to the daemon unmounts" || not_ok "daemon still mounted"

# Bad layers and bad options stop the mount with one clear line.
mkdir -p "$WORK/bad"
refuses "a missing layer" "$WORK/missing.vhd" "$LAYERFS" --layer "$WORK/L0.vhd" --layer "$WORK/missing.vhd" "$WORK/bad"
echo "not a disk" > "$WORK/junk.vhd"
refuses "a file that is no layer" "layer 'junk'" "$LAYERFS" --layer "$WORK/junk.vhd" "$WORK/bad"
mountpoint -q "$WORK/bad" && not_ok "nothing mounted after a bad layer" || ok "nothing mounted after a bad layer"
"$LAYERFS" -o frobnicate --layer "$WORK/L0.vhd" "$WORK/bad" 2>/dev/null; [ $? -eq 2 ] && ok "unknown option: exit 2" || not_ok "unknown option"
"$LAYERFS" --layer "$WORK/L0,type=os" --layer "$WORK/L1,type=os" "$WORK/bad" 2>/dev/null; [ $? -eq 2 ] && ok "two OS layers: exit 2" || not_ok "two OS layers"
check "layerfs --help" "$LAYERFS" --help

# A layer that turns corrupt under a running mount: EIO for that entry and a
# log line, never a crash.
mkdir -p "$WORK/cor/Folder"
for i in 1 2 3; do echo "file $i" > "$WORK/cor/Folder/ok$i.txt"; done
echo "victim" > "$WORK/cor/Folder/victim.txt"
"$LAYERCTL" pack -q --format raw "$WORK/cor" "$WORK/cor.raw"
rec=$("$LAYERCTL" stat --json "$WORK/cor.raw" Folder/victim.txt | python3 -c 'import json,sys; print(json.load(sys.stdin)["ino"])')
mkdir -p "$WORK/corm"
"$LAYERFS" -f --layer "$WORK/cor.raw" "$WORK/corm" 2>"$WORK/cor.log" & corpid=$!
for _ in $(seq 50); do mountpoint -q "$WORK/corm" && break; sleep 0.1; done
MOUNTS+=("$WORK/corm")
python3 - "$WORK/cor.raw" "$rec" <<'PY'
import struct, sys
path, rec = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    boot = f.read(512)
    cluster = struct.unpack_from("<H", boot, 11)[0] * boot[13]
    mft = struct.unpack_from("<q", boot, 0x30)[0]
    f.seek(mft * cluster + rec * 1024)
    f.write(b"\xde\xad" * 512)          # the record no longer parses
PY
err=$(cat "$WORK/corm/Folder/victim.txt" 2>&1)
case "$err" in *"Input/output error"*) ok "a corrupt record: EIO" ;; *) not_ok "a corrupt record: $err" ;; esac
[ "$(cat "$WORK/corm/Folder/ok2.txt")" = "file 2" ] && ok "its neighbours still read" || not_ok "neighbours"
kill -0 $corpid 2>/dev/null && ok "the daemon lives on" || not_ok "the daemon died"
grep -q "cor.raw" "$WORK/cor.log" && ok "a log line names the layer: $(head -1 "$WORK/cor.log")" || not_ok "no log line"
fusermount3 -u "$WORK/corm"; wait $corpid

# layerctl which
W="--layer $WORK/L0.vhd,type=os --layer $WORK/L1.vhd --layer $WORK/L2.vhd --layer $WORK/L3.vhd"
out=$("$LAYERCTL" which $W "program files/common files/shared.dll")
echo "$out" | grep -q "file from L2" && echo "$out" | grep -q "shadowed: L1 (lower priority in L2)" \
  && ok "which: provider and shadowed" || not_ok "which: $out"
out=$("$LAYERCTL" which --json $W windows/notepad.exe); rc=$?
echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert not d["found"] and d["shadowed"][0]["why"]=="deleted by a token" and d["shadowed"][0]["by"]=="L2"' \
  && [ $rc -eq 1 ] && ok "which --json: deleted by a token in L2, exit 1" || not_ok "which --json: $out"
out=$("$LAYERCTL" which --json $W Windows/Temp)
echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert [l["name"] for l in d["layers"]]==["L3"] and d["shadowed"][0]["why"].startswith("contents hidden by an opaque")' \
  && ok "which: an opaque folder" || not_ok "which opaque: $out"

# a registry hive is served merged from every layer's copy: which says so
S="$WORK/sample"; [ -d "$S" ] || bash "$SOURCE_DIR/scripts/sample/make-repo" "$S" "$LAYERCTL" >/dev/null
SL="$S/Layers"
out=$("$LAYERCTL" which --json --layer "$SL/OS/Windows10.1.1.vhd,type=os" --layer "$SL/App/Office.101.3.vhd,prio=10" \
  Windows/System32/config/SOFTWARE)
echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["merged"] and [l["name"] for l in d["layers"]]==["Office.101.3","Windows10.1.1"] and not d["shadowed"]' \
  && ok "which: a hive is merged from every layer's copy, none shadowed" || not_ok "which hive: $out"

# layerctl diff: what an app layer changes on the OS layer, files and registry
OSV="$SL/OS/Windows10.1.1.vhd"; OFV="$SL/App/Office.101.3.vhd"
out=$("$LAYERCTL" diff "$OSV" "$OSV"); rc=$?
[ $rc -eq 0 ] && [ -z "$out" ] && ok "diff: a layer and itself: nothing, exit 0" || not_ok "diff same: $rc $out"
out=$("$LAYERCTL" diff "$OSV" "$OFV:$OSV"); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -qx '+ Program Files/Office (folder)' \
  && echo "$out" | grep -qx '+ HKLM/SOFTWARE \[Microsoft\\Office\]' \
  && echo "$out" | grep -qx '~ HKLM/SYSTEM \[ControlSet001\\Control\\Session Manager\\Environment\] "Path"' \
  && echo "$out" | grep -qx '~ Windows/win.ini (size)' \
  && ok "diff OS Office:OS: its files, its key, the merged Path, win.ini; exit 1" || not_ok "diff: $rc $out"
mkdir -p "$WORK/da/Dir" "$WORK/db/Dir" "$WORK/da/Old" "$WORK/db/OLD"
echo same >"$WORK/da/Dir/a.txt"; echo same >"$WORK/db/Dir/A.TXT"
echo one >"$WORK/da/Dir/c.txt"; echo two >"$WORK/db/Dir/c.txt"; touch -d 2001-01-01 "$WORK/db/Dir/c.txt"
echo x >"$WORK/da/Old/x"; echo y >"$WORK/db/OLD/x"
echo gone >"$WORK/da/old.txt"
echo t >"$WORK/da/t.txt"; echo t >"$WORK/db/t.txt"; touch -d 2002-02-02 "$WORK/db/t.txt"
out=$("$LAYERCTL" diff --json "$WORK/da" "$WORK/db"); rc=$?
echo "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
got = sorted((f["change"], f["path"], f["what"]) for f in d["files"])
sys.exit(0 if got == [("-", "old.txt", "file"), ("~", "Dir/A.TXT", "spelling"),
                      ("~", "Dir/c.txt", "content"), ("~", "OLD", "spelling")] else 1)' && [ $rc -eq 1 ] \
  && ok "diff --json of two folders: names match in any case, a respelling is a change (a folder once); same size, other time: by content" \
  || not_ok "diff folders: $rc $out"
# a merged hive larger than the copy on top (a small fragment over a big
# hive): diff reads it whole, not cut at the fragment's size
mkdir -p "$WORK/big/Windows/System32/config" "$WORK/frag/Windows/System32/config"
python3 -c '
print("Windows Registry Editor Version 5.00\n")
for i in range(3000):
    print(f"[HKEY_LOCAL_MACHINE\\SOFTWARE\\Vendor\\Key{i:04d}]\n\"Value\"=\"{i}\"\n")' >"$WORK/big.reg"
"$LAYERCTL" reg new --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$WORK/big/Windows/System32/config/SOFTWARE" "$WORK/big.reg"
printf 'Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Small]\n"A"="1"\n' >"$WORK/small.reg"
"$LAYERCTL" reg new --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$WORK/frag/Windows/System32/config/SOFTWARE" "$WORK/small.reg"
out=$("$LAYERCTL" diff "$WORK/big" "$WORK/frag:$WORK/big" 2>&1); rc=$?
[ $rc -eq 1 ] && [ "$out" = "+ HKLM/SOFTWARE [Small]" ] \
  && ok "diff reads a merged hive larger than its top copy whole" || not_ok "merged hive over a fragment: $rc $out"
out=$("$LAYERCTL" diff --times "$WORK/da" "$WORK/db" | grep t.txt)
[ "$out" = "~ t.txt (times)" ] && ok "diff --times: same bytes at another time is a change" || not_ok "diff --times: $out"

# A real Windows volume under a directory layer that spells it otherwise.
if [ -n "${REALDATA:-}" ] && [ -f "$REALDATA/ntfs/velociraptor_partition_image.raw.gz" ]; then
  gunzip -c "$REALDATA/ntfs/velociraptor_partition_image.raw.gz" > "$WORK/real.raw"
  mkdir -p "$WORK/over/WINDOWS/system32/CONFIG"; echo extra > "$WORK/over/WINDOWS/system32/CONFIG/extra.txt"
  mnt real --layer "$WORK/real.raw,type=os" --layer "$WORK/over"
  n=$(ls "$WORK/real" | grep -ci '^windows$')
  got=$(ls "$WORK/real/WINDOWS/system32/CONFIG" | tr '\n' ' ')
  [ "$n" = 1 ] && [ "$got" = "SYSTEM Security extra.txt sam software " ] \
    && ok "one merged Windows/System32/Config: $got" || not_ok "real merge: $n windows, config: $got"
  [ "$(cat "$WORK/real/windows/System32/config/sam")" = "$("$LAYERCTL" cat "$WORK/real.raw" Windows/System32/Config/sam)" ] \
    && ok "the Windows volume's files read through the union" || not_ok "real read"
  # Windows keeps the spelling of whoever made a folder: the OS layer's,
  # not the higher layer's WINDOWS/system32/CONFIG
  os_spelt=$("$LAYERCTL" ls --json "$WORK/real.raw" Windows/System32 | python3 -c '
import json, sys; print([e["name"] for e in json.load(sys.stdin) if e["name"].lower() == "config"][0])')
  [ "$(ls "$WORK/real" | grep -i '^windows$')" = Windows ] && [ "$(ls "$WORK/real/windows/system32" | grep -i '^config$')" = "$os_spelt" ] \
    && ok "merged folders keep the OS layer's spelling (Windows, $os_spelt)" \
    || not_ok "spelling: $(ls "$WORK/real" | grep -i '^windows$') / $(ls "$WORK/real/windows/system32" | grep -i '^config$')"
  unmnt real
  out=$("$LAYERCTL" which --json --layer "$WORK/real.raw,type=os,name=os" --layer "$WORK/over,name=over" WINDOWS/SYSTEM32/config)
  echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); s=d["spelling"]; assert s["name"]=="os" and s["name_shown"]==sys.argv[1], s' "$os_spelt" \
    && ok "which says whose spelling shows" || not_ok "which spelling: $out"
else
  echo "# real Windows volume check skipped: no ../shared/realdata"
fi


# The watchdogs fail a hang with its cause: with the daemon stopped, wd
# ends a wrapped stat in WD_SECONDS (exit 124) and the test-wide one
# (fuse_watch.py) ends an unwrapped one, each with the daemon's threads
if [ "$(id -u)" -eq 0 ] && mnt hang --layer "$WORK/L0.vhd,type=os"; then
  HP=$(pgrep -n -f -- "layerfs.*$WORK/hang\$")
  kill -STOP "$HP"
  out=$(WD_SECONDS=2 wd stat "$WORK/hang/a" 2>&1 9>&1); rc=$?
  [ "$rc" = 124 ] && grep -q "WATCHDOG: 'stat" <<<"$out" && grep -q "== threads of $HP" <<<"$out" \
    && grep -q "aborted the FUSE connection of $WORK/hang" <<<"$out" \
    && ok "wd: a stat the daemon never answers ends at the bound, with the threads, exit 124" \
    || not_ok "wd: rc $rc: $(head -3 <<<"$out")"
  kill -CONT "$HP"; unmnt hang 2>/dev/null
  mnt hang --layer "$WORK/L0.vhd,type=os" && HP=$(pgrep -n -f -- "layerfs.*$WORK/hang\$") && kill -STOP "$HP"
  t0=$SECONDS
  stat "$WORK/hang/a" >/dev/null 2>&1; rc=$?
  sleep 1
  [ "$rc" != 0 ] && [ $((SECONDS - t0)) -lt $((WD_SECONDS + 60)) ] && grep -q "WATCHDOG: 'stat" "$WORK/watchdog.log" \
    && grep -q "request_wait_answer" "$WORK/watchdog.log" && grep -q "== threads of $HP" "$WORK/watchdog.log" \
    && ok "fuse_watch: an unwrapped stat that hangs fails the test, with its wait and the threads ($((SECONDS - t0)) s)" \
    || not_ok "fuse_watch: rc $rc after $((SECONDS - t0)) s: $(head -3 "$WORK/watchdog.log" 2>/dev/null)"
  mv "$WORK/watchdog.log" "$WORK/watchdog.expected" 2>/dev/null   # this hang was the test's own
  kill -CONT "$HP"; kill "$HP"; unmnt hang 2>/dev/null
fi

finish
