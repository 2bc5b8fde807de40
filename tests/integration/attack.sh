#!/usr/bin/env bash
# A session is a security boundary. Root starts layerd; an unprivileged
# session user (lfmallory) works through her mounts, another user (lfeve)
# looks at the repository on the host. For what the daemon and root tools
# make, open, change or remove in a user's tree, a symlink is planted
# where a file or folder should be, pointing at root-owned canaries
# outside the repository, the operation is triggered, and the canaries
# must be unchanged (content, mode, owner) with nothing made beside them.
# Users cannot reach their layer's folders on the host any more, so root
# plants the links (with the canaries on the repository's file system);
# the host's link protections are turned off meanwhile, so nothing here
# leans on them.
. "$(dirname "$0")/lib.sh"
: "${LAYERD:?LAYERD not set}"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (accounts, mounts for users)"
[ -e /dev/fuse ] || skip_all "no /dev/fuse"
command -v useradd >/dev/null || skip_all "no useradd"
for u in lfmallory lfeve; do id "$u" >/dev/null 2>&1 || useradd -M -s /bin/sh "$u" || skip_all "cannot add $u"; done
chmod 755 "$WORK"
ps=$(sysctl -n fs.protected_symlinks 2>/dev/null); ph=$(sysctl -n fs.protected_hardlinks 2>/dev/null)
sysctl -qw fs.protected_symlinks=0 fs.protected_hardlinks=0 2>/dev/null
L() { "$LAYERCTL" "$@"; }
R="$WORK/repo"
sample_repo "$R"
L repo assign "$R" --machine '*' 1 >/dev/null
L repo assign "$R" --machine '*' 100 >/dev/null

# the canaries: a root-only file and a root-only folder
mkdir -p "$WORK/shared" && chmod 1777 "$WORK/shared"
C="$WORK/canary"
mkdir -p "$C/dir" && echo canary >"$C/secret" && chmod 0600 "$C/secret" && chmod 0700 "$C/dir"
state() { stat -c '%a %u %g %s' "$C/secret" "$C/dir"; ls -A "$C/dir"; cat "$C/secret"; getfattr -d "$C/secret" 2>/dev/null; }
BEFORE=$(state)
canary_ok() { [ "$(state)" = "$BEFORE" ]; }

export LAYERD_SOCKET="$WORK/layerd.sock"
RUN="$WORK/run"
# lfmallory logs in as an administrator (group lfadmins): the attacks on
# HKLM's fragment need a registry change she may make
"$LAYERD" --repo "$R" --socket "$LAYERD_SOCKET" --run "$RUN" --admin-group lfadmins 2>"$WORK/layerd.log" &
LPID=$!
for _ in $(seq 50); do [ -S "$LAYERD_SOCKET" ] && break; sleep 0.1; done
restore() {
  kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null
  [ -n "$ps" ] && sysctl -qw fs.protected_symlinks="$ps" fs.protected_hardlinks="$ph" 2>/dev/null
  cleanup
}
trap restore EXIT

U="$R/Users/lfmallory/00000001_Windows10"
A="$RUN/lfmallory/C"
check "first login of lfmallory" L login lfmallory --groups lfadmins
check "she writes through her drive" as lfmallory sh -c "echo mine > '$A/Users/lfmallory/notes.txt'"
check "Users/ and Users/lfmallory are root's and closed" bash -c "
  [ \"\$(stat -c '%a %u' '$R/Users')\" = '700 0' ] && [ \"\$(stat -c '%a %u' '$R/Users/lfmallory')\" = '700 0' ]"
check "another user cannot read her layer on the host" bash -c "! runuser -u lfeve -- cat '$U/Users/lfmallory/notes.txt' 2>/dev/null && ! runuser -u lfeve -- ls '$R/Users' 2>/dev/null"

# Changes through C: of a name root swapped for a symlink on the host:
# chmod, truncate, times and xattrs go to the link, never through it.
check "a file made through C:" as lfmallory sh -c "echo x > '$A/Users/lfmallory/f.txt'"
rm "$U/Users/lfmallory/f.txt" && ln -s "$C/secret" "$U/Users/lfmallory/f.txt"
as lfmallory chmod 666 "$A/Users/lfmallory/f.txt" 2>/dev/null
as lfmallory touch -d 2001-01-01 "$A/Users/lfmallory/f.txt" 2>/dev/null
as lfmallory truncate -s 0 "$A/Users/lfmallory/f.txt" 2>/dev/null
as lfmallory setfattr -n user.x -v 1 "$A/Users/lfmallory/f.txt" 2>/dev/null
check "chmod, touch, truncate, setfattr through C: leave the link's target be" canary_ok

# The registry fragment's folder swapped for a link while she works:
# the save is refused, nothing is written beside the canary.
mkdir -p "$U/Windows/System32"
# (layerd made the folder at login; she can move hers aside: the layer's
# root is hers)
rm -rf "$U/Windows/System32/config"
ln -s "$C/dir" "$U/Windows/System32/config"
as lfmallory sh -c "echo 1 > '$RUN/lfmallory/REG/HKLM/SOFTWARE/Microsoft/Office/Trusted'" 2>/dev/null
check "a registry change is not written through a symlinked folder" canary_ok
check "the refused save is in the log, naming the folder" grep -q "the change is not saved" "$WORK/layerd.log"
check "logoff" L logoff lfmallory
rm "$U/Windows/System32/config"
check "she cannot put a link where her mount points go (RUN/USER and C are root's)" bash -c "
  ! runuser -u lfmallory -- ln -s /etc '$RUN/lfmallory' 2>/dev/null &&
  ! runuser -u lfmallory -- ln -s /etc '$RUN/lfmallory/C' 2>/dev/null &&
  ! runuser -u lfmallory -- ln -s /etc '$RUN/lfmallory/REG' 2>/dev/null &&
  [ ! -L '$RUN/lfmallory' ] && [ ! -L '$RUN/lfmallory/C' ]"

# Logins over planted links: each is refused with the reason, and the
# canaries stay as they are.
plant_login() {
  local what=$1 words=$2 link=$3 target=$4
  local saved="$WORK/saved.$RANDOM"
  [ -e "$link" ] || [ -L "$link" ] && mv "$link" "$saved"
  ln -s "$target" "$link"
  refuses "login over $what" "$words" L login lfmallory --groups lfadmins
  L logoff lfmallory >/dev/null 2>&1
  check "login over $what: the canaries are untouched" canary_ok
  rm -f "$link"
  [ -e "$saved" ] && mv "$saved" "$link"
  return 0
}
plant_login "a symlinked session lock" "symlink" "$U/.wh..wh..session" "$C/made-by-root"
plant_login "a symlinked profile folder" "symlink" "$U/Users/lfmallory" "$C/dir"
plant_login "a symlinked work folder" "symlink" "$U/.wh..wh..work" "$C/dir"
mkdir -p "$U/Windows/System32/config"
plant_login "a symlinked SOFTWARE fragment" "symlink" "$U/Windows/System32/config/SOFTWARE" "$C/secret"
plant_login "a symlinked personalization layer" "symlink" "$U" "$C/dir"
check "nothing was made beside the canaries" bash -c "[ ! -e '$C/made-by-root' ] && [ -z \"\$(ls -A '$C/dir')\" ]"

# A repository from before: the user's folders hers and open. The login
# takes them back.
chown lfmallory "$R/Users/lfmallory" && chmod 0755 "$R/Users/lfmallory"
check "a login takes back Users/lfmallory (root's, 0700)" bash -c "
  '$LAYERCTL' login lfmallory >/dev/null && [ \"\$(stat -c '%a %u' '$R/Users/lfmallory')\" = '700 0' ]"
check "and logs it" grep -q "now root's and 0700" "$WORK/layerd.log"
check "her file is still there" as lfmallory grep -q mine "$A/Users/lfmallory/notes.txt"
L logoff lfmallory >/dev/null

# fsck --repair walks the layer through folder fds: a folder of it that
# is a link to a folder holding a token that hides nothing is not walked.
mkdir -p "$C/dir2" && : >"$C/dir2/.wh.no-such-file"
ln -s "$C/dir2" "$U/Windows/Tokens"
L fsck --repair "$R" >/dev/null 2>&1
check "fsck --repair does not follow a link inside a layer" test -e "$C/dir2/.wh.no-such-file"
rm "$U/Windows/Tokens"

# reset of a name that is a link in the layer: the link goes, its target
# stays.
ln -s "$C/secret" "$U/Windows/win.ini"
L reset "$U" Windows/win.ini >/dev/null 2>&1
check "reset removes a link in the layer, never its target" bash -c "[ ! -L '$U/Windows/win.ini' ]" 
check "reset: the canaries are untouched" canary_ok

# A race: a root loop swaps the profile folder with a link to the canary
# folder (rename-exchange) while logins run; after each, the canaries hold.
mkdir -p "$WORK/swap" && ln -sfn "$C/dir" "$WORK/swap/link"
python3 - "$U/Users/lfmallory" "$WORK/swap/link" "$WORK/stop" <<'PY' &
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b, stop = (p.encode() for p in sys.argv[1:])
AT_FDCWD, RENAME_EXCHANGE = -100, 2
while not os.path.exists(stop):
    libc.syscall(316, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)
PY
SPID=$!
bad=0
for i in $(seq 100); do
  L login lfmallory >/dev/null 2>&1
  L logoff lfmallory >/dev/null 2>&1
  canary_ok || { bad=$i; break; }
done
touch "$WORK/stop"; wait "$SPID"
[ -L "$U/Users/lfmallory" ] && python3 -c "
import ctypes, sys; ctypes.CDLL(None).syscall(316, -100, sys.argv[1].encode(), -100, sys.argv[2].encode(), 2)" \
  "$U/Users/lfmallory" "$WORK/swap/link"
[ "$bad" = 0 ] && ok "100 logins against a rename-exchange loop: the canaries hold" \
  || not_ok "the canaries changed at login $bad of the race: $(state)"
check "the layer is still the folder it was" test -d "$U/Users/lfmallory" -a ! -L "$U/Users/lfmallory"

# A race at login: lfmallory swaps her mount point for a link to the canary
# folder while she is logged in and off; the mount never lands there.
cat >"$WORK/swapc.sh" <<'SH'
while [ ! -e "$2" ]; do
  mv "$1/C" "$1/C.old" 2>/dev/null && ln -s "$3" "$1/C" 2>/dev/null
done
SH
chmod 644 "$WORK/swapc.sh"
rm -f "$WORK/shared/stopc"
as lfmallory sh "$WORK/swapc.sh" "$RUN/lfmallory" "$WORK/shared/stopc" "$C/dir" &
WPID=$!
bad=0
for i in $(seq 50); do
  L login lfmallory >/dev/null 2>&1
  if mountpoint -q "$C/dir" || ! canary_ok; then bad=$i; umount -l "$C/dir" 2>/dev/null; break; fi
  L logoff lfmallory >/dev/null 2>&1
done
touch "$WORK/shared/stopc"; wait "$WPID" 2>/dev/null
L logoff lfmallory >/dev/null 2>&1
[ "$bad" = 0 ] && ok "50 logins while she swaps her mount point for a link: never mounted there" \
  || not_ok "a login mounted her desktop on the canary folder (try $i)"

# Idle clients: lfeve opens 50 connections and says nothing for 4 s; root's
# status is answered all the same, not after them.
cat >"$WORK/idle.py" <<'PY'
import socket, sys, time
held = []
for _ in range(50):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(sys.argv[1])
        held.append(s)
    except OSError:
        pass
open(sys.argv[2], "w").close()
time.sleep(4)
PY
chmod 644 "$WORK/idle.py"
as lfeve python3 "$WORK/idle.py" "$LAYERD_SOCKET" "$WORK/shared/idle.ready" &
IPID=$!
for _ in $(seq 100); do [ -e "$WORK/shared/idle.ready" ] && break; sleep 0.05; done
[ -e "$WORK/shared/idle.ready" ] || not_ok "the idle client did not get going"
ms=$(python3 -c "
import subprocess, sys, time
t = time.monotonic()
subprocess.run([sys.argv[1], 'status'], stdout=subprocess.DEVNULL, check=True)
print(int((time.monotonic() - t) * 1000))" "$LAYERCTL")
wait "$IPID"
# a daemon served in turn by the idle ones would answer after they give up
# (4 s): the bound tells the two apart on a loaded machine too
[ -n "$ms" ] && [ "$ms" -lt 1500 ] && ok "root's status with 50 idle connections of a user open: ${ms} ms" \
  || not_ok "root's status with 50 idle connections of a user open: ${ms:-no answer} ms (want well under their 4 s)"

# kill -9 of layerd with two sessions: a new layerd detaches the dead
# mounts, both log in again, their files are there, fsck is clean.
check "two sessions" bash -c "'$LAYERCTL' login lfmallory && '$LAYERCTL' login lfeve"
check "lfeve writes a file" as lfeve sh -c "echo eve > '$RUN/lfeve/C/Users/lfeve/eve.txt'"
kill -9 "$LPID"; wait "$LPID" 2>/dev/null
"$LAYERD" --repo "$R" --socket "$LAYERD_SOCKET" --run "$RUN" 2>>"$WORK/layerd.log" &
LPID=$!
for _ in $(seq 50); do "$LAYERCTL" status >/dev/null 2>&1 && break; sleep 0.1; done
check "after kill -9, both log in again" bash -c "'$LAYERCTL' login lfmallory && '$LAYERCTL' login lfeve"
check "the dead mounts were detached (logged)" grep -q "a mount an earlier layerd left, detached" "$WORK/layerd.log"
check "their files are there" bash -c "
  runuser -u lfeve -- grep -q eve '$RUN/lfeve/C/Users/lfeve/eve.txt' &&
  runuser -u lfmallory -- grep -q mine '$RUN/lfmallory/C/Users/lfmallory/notes.txt'"
check "logoff both" bash -c "'$LAYERCTL' logoff lfmallory && '$LAYERCTL' logoff lfeve"
check "the repository is clean to fsck" L fsck "$R"

# ---- Part two (issue 29): an OS layer with Windows 10's descriptors and
# the real SAM; lfmallory a standard user. Nothing of SAM may reach her,
# through C: or REG, before or after a logoff and login.
kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null
. "$TESTS_DIR/realos.sh"
real_os "$WORK/os2"
echo "a secret" >"$WORK/os2/Windows/secret.txt"
python3 -c "import os; os.setxattr('$WORK/os2/Windows/secret.txt', 'user.secretstream', b'the stream is secret too')"
"$LAYERCTL" acl "$WORK/os2" Windows/secret.txt "O:SYG:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)" >/dev/null
"$LAYERCTL" pack -q "$WORK/os2" "$WORK/os2.vhd"
R2="$WORK/repo2"
L repo init "$R2" >/dev/null && L repo add "$R2" "$WORK/os2.vhd" --type os --name Windows10 >/dev/null 2>&1 &&
  L repo assign "$R2" --machine '*' 1 >/dev/null
"$LAYERD" --repo "$R2" --socket "$LAYERD_SOCKET" --run "$RUN" 2>>"$WORK/layerd.log" &
LPID=$!
for _ in $(seq 50); do "$LAYERCTL" status >/dev/null 2>&1 && break; sleep 0.1; done
A="$RUN/lfmallory/C"; REG="$RUN/lfmallory/REG"; U2="$R2/Users/lfmallory/00000001_Windows10"
check "part two: lfmallory logs in (a standard user) on Windows 10's descriptors and real hives" L login lfmallory
check "her HKU is hers: she writes HKCU" as lfmallory sh -c "mkdir -p '$REG/HKU/lfmallory/Software/Mine' && echo 1 > '$REG/HKU/lfmallory/Software/Mine/V'"
# 1: a hard link of SAM: Windows asks FILE_WRITE_ATTRIBUTES on the file
as lfmallory rm "$A/Users/lfmallory/NTUSER.DAT"
out=$(as lfmallory ln "$A/Windows/System32/config/SAM" "$A/Users/lfmallory/NTUSER.DAT" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "Permission denied" \
  && ok "1: ln SAM into her profile: EACCES (no FILE_WRITE_ATTRIBUTES on SAM)" || not_ok "1: ln SAM: exit $rc $out"
as lfmallory ln "$A/Users/lfmallory/notes2.txt" "$A/Users/lfmallory/x" 2>/dev/null
check "a hard link of her own file still works" as lfmallory sh -c "echo n > '$A/Users/lfmallory/n.txt' && ln '$A/Users/lfmallory/n.txt' '$A/Users/lfmallory/n2.txt'"
check "logoff and login (her NTUSER.DAT gone: made anew from Default)" bash -c "'$LAYERCTL' logoff lfmallory && '$LAYERCTL' login lfmallory"
no_sam() {   # nothing of SAM where she can read: C:, REG\HKU, REG\HKLM
  ! as lfmallory ls "$REG/HKU/lfmallory/SAM" >/dev/null 2>&1 && ! as lfmallory ls "$REG/HKLM/SAM/SAM" >/dev/null 2>&1 &&
  ! as lfmallory cat "$A/Windows/System32/config/SAM" >/dev/null 2>&1 &&
  ! cmp -s "$WORK/os2/Windows/System32/config/SAM" "$U2/Users/lfmallory/NTUSER.DAT"
}
check "1: after a logoff and login nothing of SAM shows to her (C:, REG\HKU, REG\HKLM)" no_sam
check "1: her new profile's HKCU is hers" as lfmallory sh -c "mkdir -p '$REG/HKU/lfmallory/Software/Again'"
# 1: a hive planted as her NTUSER.DAT (a link made by an older version):
# its keys decide, and SAM's give her nothing
check "logoff" L logoff lfmallory
cp "$WORK/os2/Windows/System32/config/SAM" "$U2/Users/lfmallory/NTUSER.DAT"
check "login with SAM planted as her NTUSER.DAT" L login lfmallory
out=$(as lfmallory ls "$REG/HKU/lfmallory/SAM" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "Permission denied" \
  && ok "1: REG\\HKU\\lfmallory is SAM: its keys' descriptors say EACCES to her" || not_ok "1: planted SAM through REG: exit $rc $out"
L status --json lfmallory | grep -q "its keys do not give lfmallory rights" \
  && ok "1: status says her NTUSER.DAT's keys do not give her rights" || not_ok "1: status: $(L status --json lfmallory)"
# 2: streams of a file she may not read
out=$(as lfmallory getfattr -n user.secretstream "$A/Windows/secret.txt" 2>&1); rc=$?
out2=$(as lfmallory getfattr -d "$A/Windows/secret.txt" 2>&1)
[ $rc -ne 0 ] && echo "$out" | grep -q "Permission denied" && ! echo "$out2" | grep -q "secret too" \
  && ! as lfmallory cat "$A/Windows/secret.txt" >/dev/null 2>&1 \
  && ok "2: a stream of a file she may not read: EACCES (getfattr -n and -d)" || not_ok "2: streams: $out / $out2"
# 5: a symlink she makes at her NTUSER.DAT does not lock her out
check "logoff" L logoff lfmallory
rm -f "$U2/Users/lfmallory/NTUSER.DAT"
check "login" L login lfmallory
as lfmallory rm "$A/Users/lfmallory/NTUSER.DAT" && as lfmallory ln -s /etc/passwd "$A/Users/lfmallory/NTUSER.DAT"
check "logoff" L logoff lfmallory
check "5: with a symlink as her NTUSER.DAT, her login goes on" L login lfmallory
L status --json lfmallory | grep -q "NTUSER.DAT was a symlink: set aside as NTUSER.DAT.bad-" \
  && grep -q "login lfmallory: .*NTUSER.DAT was a symlink: set aside" "$WORK/layerd.log" \
  && as lfmallory mkdir -p "$REG/HKU/lfmallory/Software/Back" \
  && ok "5: the symlink set aside (logged, in status), a new NTUSER.DAT from Default, HKCU hers" \
  || not_ok "5: $(L status --json lfmallory | grep profile) $(tail -3 "$WORK/layerd.log")"
check "logoff" L logoff lfmallory
# 3: a .wh. name the union did not make (planted on the host, as her own
# were before names were refused): no token at her login, fsck says it
mkdir -p "$U2/Windows" && : >"$U2/Windows/.wh.win.ini"
L fsck --json "$R2" >"$WORK/ft.json"
python3 - "$WORK/ft.json" <<'PY' && ok "3: fsck warns of a .wh. name the union did not make, naming her layer and the path" || not_ok "3: fsck: $(head -c 600 "$WORK/ft.json")"
import json, sys
p = [x for x in json.load(open(sys.argv[1]))["problems"] if x["class"] == "foreign-token"]
sys.exit(0 if len(p) == 1 and p[0]["path"].endswith("lfmallory/00000001_Windows10/Windows/.wh.win.ini")
         and p[0]["severity"] == "warning" else 1)
PY
check "3: at her login what the planted name would hide still shows (C:\\Windows\\win.ini)" bash -c "
  '$LAYERCTL' login lfmallory && runuser -u lfmallory -- cat '$A/Windows/win.ini' >/dev/null"
for n in .wh.x .wh..wh..opq 'a:b' 'CON' 'trail.'; do
  out=$(as lfmallory touch "$A/Users/lfmallory/$n" 2>&1); rc=$?
  [ $rc -ne 0 ] && echo "$out" | grep -q "Invalid argument" && ok "3: in a session, '$n' cannot be made: EINVAL" \
    || not_ok "3: session name '$n': exit $rc $out"
done
check "logoff" L logoff lfmallory
# 4: a sparse file of 8 TiB she made: capture and publish of her layer
# take its data alone (holes stay holes) and finish within seconds
check "login" L login lfmallory
as lfmallory mkdir -p "$A/ProgramData/Big" && as lfmallory truncate -s 8T "$A/ProgramData/Big/huge.bin" &&
  as lfmallory sh -c "printf a | dd of='$A/ProgramData/Big/huge.bin' bs=1 seek=4000000 conv=notrunc 2>/dev/null"
check "logoff" L logoff lfmallory
rm -f "$U2/Users/lfmallory/NTUSER.DAT.bad-"*     # the link set aside above: compared apart
t0=$SECONDS
wd "$LAYERCTL" capture -q --session "$U2" --layer "$R2/Layers/OS/Windows10.1.1.vhd,type=os" "$WORK/huge-cap.vhd" >/dev/null 2>"$WORK/huge.err"; rc=$?
t1=$SECONDS
wd "$LAYERCTL" publish -q --verify --repo "$R2" --user lfmallory --with-user "$WORK/huge-pub.vhd" >"$WORK/huge2.out" 2>"$WORK/huge2.err"; rc2=$?
t2=$SECONDS
[ $rc -eq 0 ] && [ $((t1 - t0)) -lt 10 ] && [ "$(stat -c %s "$WORK/huge-cap.vhd")" -lt 100000000 ] \
  && [ "$("$LAYERCTL" stat --json "$WORK/huge-cap.vhd" ProgramData/Big/huge.bin | python3 -c 'import json,sys; print(json.load(sys.stdin)["size"])')" = 8796093022208 ] \
  && ok "4: capture --session with an 8 TiB sparse file: $((t1 - t0)) s, its holes kept holes ($(stat -c %s "$WORK/huge-cap.vhd") bytes)" \
  || not_ok "4: capture: exit $rc in $((t1 - t0)) s: $(cat "$WORK/huge.err")"
[ $rc2 -eq 0 ] && [ $((t2 - t1)) -lt 10 ] && grep -q "^identical" "$WORK/huge2.out" \
  && ok "4: publish --with-user --verify: $((t2 - t1)) s, the image identical" || not_ok "4: publish: exit $rc2 in $((t2 - t1)) s: $(cat "$WORK/huge2.out" "$WORK/huge2.err" | head -8)"
rm -f "$WORK/huge-cap.vhd" "$WORK/huge-pub.vhd"
rm -rf "$U2/ProgramData/Big"
# 6: two uids 2^30 apart (an AD or sssd range) are two SIDs
big=$(( (1 << 30) + 4242 ))
{ id lfsidlo >/dev/null 2>&1 || useradd -M -u 4242 -s /bin/sh lfsidlo 2>/dev/null; } &&
{ id lfsidhi >/dev/null 2>&1 || useradd -M -u "$big" -s /bin/sh lfsidhi 2>/dev/null; }
if [ "$(id -u lfsidlo 2>/dev/null)" = 4242 ] && [ "$(id -u lfsidhi 2>/dev/null)" = "$big" ]; then
  L login lfsidlo >/dev/null && L login lfsidhi >/dev/null
  sids=$(L status --json | python3 -c '
import json, sys
print(" ".join(s["user"] + "=" + s["sid"] for s in json.load(sys.stdin)["sessions"]))')
  lo=$(echo "$sids" | tr ' ' '\n' | sed -n 's/^lfsidlo=//p'); hi=$(echo "$sids" | tr ' ' '\n' | sed -n 's/^lfsidhi=//p')
  [ -n "$lo" ] && [ -n "$hi" ] && [ "$lo" != "$hi" ] && [ "$hi" = "S-1-22-1-$big" ] && [ "${lo##*-}" = $((10000 + 2 * 4242)) ] \
    && ok "6: uids 4242 and 2^30+4242 are two SIDs ($lo, $hi)" || not_ok "6: SIDs: $sids"
  L logoff lfsidlo >/dev/null; L logoff lfsidhi >/dev/null
else
  not_ok "6: cannot make accounts with uids 4242 and $big"
fi

finish
