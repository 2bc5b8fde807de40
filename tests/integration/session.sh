#!/usr/bin/env bash
# layerd end to end, with real mounts and real accounts: two users with
# different groups on one host, each sees its own apps, neither can read
# the other's desktop (checked as the other uid), the registry is theirs,
# logoff keeps the personalization layer; bad logins and bad requests
# leave other sessions alone.
. "$(dirname "$0")/lib.sh"
: "${LAYERD:?LAYERD not set}"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (accounts, mounts for users)"
[ -e /dev/fuse ] || skip_all "no /dev/fuse"
command -v useradd >/dev/null || skip_all "no useradd"
for u in lfalice lfbob lfcarol; do id "$u" >/dev/null 2>&1 || useradd -M -s /bin/sh "$u" || skip_all "cannot add $u"; done
getent group lftools >/dev/null || groupadd lftools || skip_all "cannot add group lftools"
id lfdave >/dev/null 2>&1 || useradd -M -s /bin/sh -G lftools lfdave || skip_all "cannot add lfdave"
chmod 755 "$WORK"
# the build may sit where other users cannot reach it (a clone in a 0700
# folder): they run a copy
UCTL="$WORK/layerctl"
cp "$LAYERCTL" "$UCTL" && chmod 755 "$UCTL"
L() { wd "$LAYERCTL" "$@"; }
R="$WORK/repo"
sample_repo "$R"
L repo add "$R" "$S/App/AdminTools.102.1.vhd" --type app --name AdminTools --priority 20 >/dev/null
cp "$S/App/AdminTools.102.1.vhd" "$WORK/gone.vhd"
L repo add "$R" "$WORK/gone.vhd" --type app --name Gone --priority 30 >/dev/null
L repo assign "$R" --machine 'WKS-*' 1 >/dev/null
L repo assign "$R" --group finance 100 >/dev/null
L repo assign "$R" --group tools 101 >/dev/null
L repo assign "$R" --group broken 102 >/dev/null
L repo assign "$R" --group lftools 101 >/dev/null
rm "$R/Layers/App/Gone.102.1.vhd"    # assigned, but its file is gone
cp "$S/App/AdminTools.102.1.vhd" "$WORK/bad.vhd"
L repo add "$R" "$WORK/bad.vhd" --type app --name Corrupt --priority 40 >/dev/null
L repo assign "$R" --group broken 103 >/dev/null
head -c 65536 /dev/zero | dd of="$R/Layers/App/Corrupt.103.1.vhd" bs=1 seek=0 conv=notrunc 2>/dev/null
dd if=/dev/zero of="$R/Layers/App/Corrupt.103.1.vhd" bs=512 count=1 seek=$(( $(stat -c %s "$R/Layers/App/Corrupt.103.1.vhd") / 512 - 1 )) conv=notrunc 2>/dev/null

export LAYERD_SOCKET="$WORK/layerd.sock"
RUN="$WORK/run"
# lfadmins' members are administrators (their tokens hold BUILTIN\Administrators)
"$LAYERD" --repo "$R" --socket "$LAYERD_SOCKET" --run "$RUN" --machine WKS-1 --admin-group lfadmins \
  2>"$WORK/layerd.log" &
LPID=$!
for _ in $(seq 50); do [ -S "$LAYERD_SOCKET" ] && break; sleep 0.1; done
cleanup_layerd() { kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null; }
trap 'cleanup_layerd; cleanup' EXIT

check "login lfalice (groups finance, lfadmins: an administrator)" L login lfalice --groups finance,lfadmins
check "login lfbob (groups tools, broken): starts without the app layers whose file is gone or corrupt" \
  bash -c "'$LAYERCTL' login --json lfbob --groups tools,broken | python3 -c '
import json, sys
r = json.load(sys.stdin)
why = [s[\"why\"] for s in r[\"left_out\"]]
sys.exit(0 if r[\"ok\"] and len(why) == 2 and any(\"Gone\" in w for w in why) and any(\"Corrupt\" in w for w in why) else 1)'"
check "the log says which app layers were left out and why" bash -c "grep -q 'app layer Corrupt (103) left out' '$WORK/layerd.log'"
A="$RUN/lfalice/C"; B="$RUN/lfbob/C"
check "lfalice sees Office, not AdminTools" bash -c "[ -d '$A/Program Files/Office' ] && [ ! -e '$A/Program Files/Tools' ]"
check "lfbob sees AdminTools, not Office" bash -c "[ -d '$B/Program Files/Tools' ] && [ ! -e '$B/Program Files/Office' ]"
check "lfalice reads her desktop as herself" as lfalice cat "$A/Windows/win.ini"
check "lfbob cannot read lfalice's desktop" bash -c "! runuser -u lfbob -- ls '$A' 2>/dev/null"
check "lfalice cannot read lfbob's desktop" bash -c "! runuser -u lfalice -- cat '$B/Windows/win.ini' 2>/dev/null"
check "lfalice writes in her profile folder; the file is hers" bash -c "
  runuser -u lfalice -- sh -c 'echo mine > \"$A/Users/lfalice/notes.txt\"' &&
  [ \"\$(stat -c %U '$A/Users/lfalice/notes.txt')\" = lfalice ]"
check "lfbob (a standard user) cannot write into the OS layer's folders" bash -c "! runuser -u lfbob -- sh -c 'echo x > \"$B/Windows/x.txt\"' 2>/dev/null"
check "lfbob cannot set a value in HKLM\\SOFTWARE (Users: KEY_READ), but can in his HKU" bash -c "
  ! runuser -u lfbob -- sh -c 'echo 1 > \"$RUN/lfbob/REG/HKLM/SOFTWARE/Microsoft/x\"' 2>/dev/null &&
  ! runuser -u lfbob -- mkdir '$RUN/lfbob/REG/HKLM/SOFTWARE/Bob' 2>/dev/null &&
  runuser -u lfbob -- mkdir '$RUN/lfbob/REG/HKU/lfbob/Control Panel/Bob'"
check "the registry is lfalice's: Office's key, and she (an administrator) can set a value" bash -c "
  [ -d '$RUN/lfalice/REG/HKLM/SOFTWARE/Microsoft/Office' ] &&
  runuser -u lfalice -- sh -c 'echo 1 > \"$RUN/lfalice/REG/HKLM/SOFTWARE/Microsoft/Office/Trusted\"'"
check "lfbob cannot read lfalice's registry" bash -c "! runuser -u lfbob -- ls '$RUN/lfalice/REG' 2>/dev/null"
check "lfdave's Unix group lftools is his assignment group: AdminTools, with no --groups" bash -c "
  '$LAYERCTL' login lfdave >/dev/null && [ -d '$RUN/lfdave/C/Program Files/Tools' ] && '$LAYERCTL' logoff lfdave >/dev/null"
# A first login makes the profile from C:\Users\Default, as Windows does.
check "first login: the profile is Default's, and hers" bash -c "
  [ \"\$(cat '$A/Users/lfalice/Desktop/welcome.txt')\" = 'Welcome to your desktop' ] &&
  [ \"\$(stat -c %U '$A/Users/lfalice/NTUSER.DAT')\" = lfalice ]"
check "first login: HKU/lfalice holds Default's keys; her value lands in her NTUSER.DAT" bash -c "
  grep -q 'img0.jpg' '$RUN/lfalice/REG/HKU/lfalice/Control Panel/Desktop/Wallpaper' &&
  runuser -u lfalice -- sh -c 'echo blue > \"$RUN/lfalice/REG/HKU/lfalice/Control Panel/Desktop/Color\"' &&
  hivexget \"\$(ls -d '$R'/Users/lfalice/*/Users/lfalice)/NTUSER.DAT\" 'Control Panel\\Desktop' Color | grep -q blue"
check "her NTUSER.DAT stays hers after REG rewrote it: she reads the value through C: at once" bash -c "
  [ \"\$(stat -c %U '$A/Users/lfalice/NTUSER.DAT')\" = lfalice ] &&
  runuser -u lfalice -- hivexget '$A/Users/lfalice/NTUSER.DAT' 'Control Panel\\Desktop' Color | grep -q blue"
# Issue 27: Explorer lists the profile after a write to HKCU (and
# System32\config after one to HKLM): a readdirplus of a folder holding a
# hive the registry changed, each entry shown with her rights. It hung
# layerd for good; under the watchdog a hang fails with the threads.
check "after a write to HKU, ls -l of her profile answers (watchdog)" wd runuser -u lfalice -- ls -l "$A/Users/lfalice"
check "and ls -l of her profile again, as root" wd ls -l "$A/Users/lfalice"
check "after a write to HKLM, ls -l of System32\\config answers (watchdog)" wd bash -c "
  runuser -u lfalice -- sh -c 'echo 1 > \"$RUN/lfalice/REG/HKLM/SOFTWARE/Microsoft/Office/Listed\"' &&
  cd '$A/Windows/System32' && ls -l config >/dev/null"
# Issue 27: one registry a session. A new administrator's first login:
# what she writes through REG is what the drive's SOFTWARE holds, at once.
id lffay >/dev/null 2>&1 || useradd -M -s /bin/sh -G lfadmins lffay || true
F="$RUN/lffay"
check "a new administrator logs in; the drive lists System32\\config" bash -c "
  '$LAYERCTL' login lffay --groups finance >/dev/null && ls -l '$F/C/Windows/System32/config' >/dev/null"
check "her change through REG is in the drive's SOFTWARE at once" wd bash -c "
  runuser -u lffay -- sh -c 'echo 9.0 > \"$F/REG/HKLM/SOFTWARE/Microsoft/Office/Version\"' &&
  [ \"\$(hivexget '$F/C/Windows/System32/config/SOFTWARE' 'Microsoft\\Office' Version)\" = 9.0 ]"
check "and so is the next one" wd bash -c "
  runuser -u lffay -- sh -c 'echo 9.1 > \"$F/REG/HKLM/SOFTWARE/Microsoft/Office/Version\"' &&
  [ \"\$(hivexget '$F/C/Windows/System32/config/SOFTWARE' 'Microsoft\\Office' Version)\" = 9.1 ]"
check "logoff lffay" L logoff lffay
same() { local what=$1 want=$2; shift 2; local got; got=$("$@" 2>&1)
  [ "$got" = "$want" ] && ok "$what" || not_ok "$what: got '$got', want '$want'"; }
same "status as root: both sessions; the OS layer is opened once for both" "2 3" bash -c "
  '$LAYERCTL' status --json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(len(r[\"sessions\"]), r[\"open_layers\"])'"
same "status as lfbob: his own session only" "lfbob" bash -c "
  runuser -u lfbob -- '$UCTL' status --json | python3 -c 'import json,sys; print(*[s[\"user\"] for s in json.load(sys.stdin)[\"sessions\"]])'"
refuses "a user cannot log anyone in" "only root" runuser -u lfbob -- "$UCTL" login lfalice
refuses "a second login of a logged-in user" "logged in already" L login lfalice
refuses "a login without an OS layer fails; others go on" "no OS layer" L login lfcarol --machine SRV-1
refuses "an account that is not there" "no such account" L login nosuchuser-x
same "a request that is not JSON gets an error reply" "False" python3 -c "
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect('$LAYERD_SOCKET'); s.sendall(b'login lfalice\n')
print(json.loads(s.makefile().readline())['ok'])"
check "after all that, lfalice's desktop still answers" cat "$A/Windows/win.ini"

check "logoff lfalice" L logoff lfalice
check "her mounts and her run folder are gone" bash -c "! mountpoint -q '$A' 2>/dev/null; [ ! -e '$RUN/lfalice' ]"
check "her personalization layer stays, with her file and her registry fragment" bash -c "
  P='$R/Users/lfalice/00000001_Windows10'
  [ \"\$(cat \$P/Users/lfalice/notes.txt)\" = mine ] && hivexget \$P/Windows/System32/config/SOFTWARE 'Microsoft\\Office' Trusted"
check "lfbob's session is untouched" cat "$B/Windows/editor.exe"
check "login lfalice again: her file is back" bash -c "'$LAYERCTL' login lfalice --groups finance,lfadmins >/dev/null && [ \"\$(cat '$A/Users/lfalice/notes.txt')\" = mine ]"
same "and the drive serves her registry change in the merged SOFTWARE" "1" \
  hivexget "$A/Windows/System32/config/SOFTWARE" 'Microsoft\Office' Trusted
# hot-add: a shell sits in lfalice's Program Files; a new assignment and a
# refresh show the new app there at once, no remount; taking it away hides it
(cd "$A/Program Files" && exec sleep 60) &
SH=$!
sleep 0.2
ls "/proc/$SH/cwd/" >/dev/null
L repo assign "$R" --group finance 101 >/dev/null
check "refresh adds AdminTools to lfalice's running session" bash -c "
  '$LAYERCTL' refresh --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
s = [x for x in r[\"sessions\"] if x[\"user\"] == \"lfalice\"][0]
sys.exit(0 if s[\"changed\"] and any(\"AdminTools\" in a for a in s[\"added\"]) else 1)'"
check "the open shell sees the new app at once" bash -c "ls '/proc/$SH/cwd/' | grep -qx Tools && [ -f '/proc/$SH/cwd/Tools/tool.exe' ]"
check "the new app's registry keys show too" test -d "$RUN/lfalice/REG/HKLM/SOFTWARE/AdminTools"
check "the drive was not remounted (her file is there, same mount)" bash -c "[ \"\$(cat '$A/Users/lfalice/notes.txt')\" = mine ]"
L repo unassign "$R" --group finance 101 >/dev/null
check "refresh takes it away again" L refresh
check "the open shell no longer sees it, and still works" bash -c "! ls '/proc/$SH/cwd/' | grep -qx Tools && ls '/proc/$SH/cwd/Office' >/dev/null"
kill "$SH" 2>/dev/null; wait "$SH" 2>/dev/null
check "repo remove of a layer a running session uses is refused, naming the session" bash -c "
  '$LAYERCTL' repo unassign '$R' --group finance 100 >/dev/null &&
  ! '$LAYERCTL' repo remove '$R' 100 2>'$WORK/err' && grep -q \"in use by lfalice's running session\" '$WORK/err'"
L repo assign "$R" --group finance 100 >/dev/null
# a share's hiccup: the Office file is gone at refresh time; lfalice keeps it
OFF=$(ls "$R"/Layers/App/Office.*.vhd | head -1)
mv "$OFF" "$WORK/office-away.vhd"
check "refresh while an attached app layer's file is missing: she keeps it, the reply and the log say so" bash -c "
  '$LAYERCTL' refresh --json | python3 -c '
import json, sys
r = json.load(sys.stdin)
s = [x for x in r[\"sessions\"] if x[\"user\"] == \"lfalice\"][0]
sys.exit(0 if not s[\"changed\"] and \"Office\" in s.get(\"missing_files\", []) else 1)' &&
  [ -d '$A/Program Files/Office' ] && grep -q 'its file .* is missing' '$WORK/layerd.log'"
mv "$WORK/office-away.vhd" "$OFF"
check "fsck sees lfalice's layer in use and repairs nothing there" bash -c "
  '$LAYERCTL' fsck --repair --json '$R' >'$WORK/fsck.json'; grep -q 'in use by a session' '$WORK/fsck.json'"

# one session, one registry: a change through REG shows in C:'s merged
# hive, a reset through C: shows in REG, each within a second, and the
# next write through REG brings nothing of the reset fragment back
UPA=$(ls -d "$R"/Users/lfalice/*)
check "a value set through REG is in the drive's merged SOFTWARE within a second" bash -c "
  runuser -u lfalice -- sh -c 'echo 7 > \"$RUN/lfalice/REG/HKLM/SOFTWARE/Microsoft/Office/Live\"' &&
  for i in \$(seq 10); do hivexget '$A/Windows/System32/config/SOFTWARE' 'Microsoft\\Office' Live 2>/dev/null | grep -q 7 && exit 0; sleep 0.1; done; exit 1"
check "a reset of SOFTWARE through the drive reaches REG within a second" bash -c "
  '$LAYERCTL' reset '$UPA' Windows/System32/config/SOFTWARE >/dev/null &&
  for i in \$(seq 10); do [ ! -e '$RUN/lfalice/REG/HKLM/SOFTWARE/Microsoft/Office/Live' ] &&
    ! cat '$RUN/lfalice/REG/HKLM/SOFTWARE/Microsoft/Office/Trusted' >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1"
check "her next REG write brings nothing of the reset fragment back" bash -c "
  runuser -u lfalice -- sh -c 'echo 1 > \"$RUN/lfalice/REG/HKLM/SOFTWARE/Microsoft/Office/After\"' &&
  hivexget '$UPA/Windows/System32/config/SOFTWARE' 'Microsoft\\Office' After | grep -q 1 &&
  ! hivexget '$UPA/Windows/System32/config/SOFTWARE' 'Microsoft\\Office' Trusted 2>/dev/null &&
  ! hivexget '$UPA/Windows/System32/config/SOFTWARE' 'Microsoft\\Office' Live 2>/dev/null"
check "the log says the view was shown afresh" grep -q "its fragment changed beside the view" "$WORK/layerd.log"

# Issue 27, item 3: a new revision of AdminTools (its Tools folder gone)
# reaches lfbob's session while a program of his sits in that folder with
# a file of it open: the program reads on (the old revision stays open
# behind the drive until logoff), new lookups see the new revision, and
# nothing can be written into what left.
mkdir -p "$WORK/tools2/Program Files/Tools2" "$WORK/hold"
chmod 777 "$WORK/hold"
echo "MZ tool2" >"$WORK/tools2/Program Files/Tools2/tool2.exe"
"$LAYERCTL" pack -q "$WORK/tools2" "$WORK/tools2.vhd"
cat >"$WORK/hold.py" <<'PY'
import os, sys, time
d, ready, go, out = sys.argv[1:5]
os.chdir(d)
f = open("tool.exe", "rb")
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.05)
res = []
try:
    res.append(f.read().decode().strip())
    res.append(str(os.fstat(f.fileno()).st_size > 0))
    res.append(",".join(sorted(os.listdir("."))))
    res.append(open("README.txt").read().split("\n")[0])
except OSError as e:
    res.append("error: %s" % e)
try:
    open("new.txt", "w").write("x")
    res.append("wrote")
except OSError as e:
    res.append("refused")
open(out, "w").write("|".join(res))
PY
runuser -u lfbob -- python3 "$WORK/hold.py" "$B/Program Files/Tools" "$WORK/hold/ready" "$WORK/hold/go" "$WORK/hold/out" &
HOLD=$!
for _ in $(seq 100); do [ -e "$WORK/hold/ready" ] && break; sleep 0.05; done
check "AdminTools revision 2 (no Tools folder) goes into the repository" \
  L repo add "$R" "$WORK/tools2.vhd" --type app --name AdminTools
check "refresh gives it to lfbob's running session" bash -c "
  '$LAYERCTL' refresh --json | python3 -c '
import json, sys
s = [x for x in json.load(sys.stdin)[\"sessions\"] if x[\"user\"] == \"lfbob\"][0]
sys.exit(0 if s[\"changed\"] and any(\"rev 2\" in a for a in s[\"added\"]) else 1)'"
check "new lookups see revision 2: Tools2, no Tools" wd bash -c "
  [ -f '$B/Program Files/Tools2/tool2.exe' ] && [ ! -e '$B/Program Files/Tools' ]"
touch "$WORK/hold/go"
wait "$HOLD"
same "his program in the old Tools reads on (open file, fstat, listing, a file by name); a write there is refused" \
  "MZ tool stub|True|README.txt,tool.exe|Admin tools layer.|refused" cat "$WORK/hold/out"
check "nothing of it reached his personalization layer" bash -c "! ls -d '$R'/Users/lfbob/*/'Program Files'/Tools 2>/dev/null"
same "status: the old revision is kept open behind his drive until logoff" "AdminTools" bash -c "
  '$LAYERCTL' status --json | python3 -c 'import json,sys; print(*[\",\".join(s[\"detached\"]) for s in json.load(sys.stdin)[\"sessions\"] if s[\"user\"] == \"lfbob\"])'"
# refresh --at-logoff: Office for group tools reaches lfbob at his next
# login only; status says it waits.
L repo assign "$R" --group tools 100 >/dev/null
check "refresh --at-logoff changes nothing in lfbob's session" bash -c "
  '$LAYERCTL' refresh --at-logoff >/dev/null && [ ! -e '$B/Program Files/Office' ]"
same "status says what his next login brings" "Office (100 rev 1)" bash -c "
  '$LAYERCTL' status --json | python3 -c 'import json,sys; print(*[\",\".join(s[\"pending\"][\"added\"]) for s in json.load(sys.stdin)[\"sessions\"] if s[\"user\"] == \"lfbob\"])'"
check "status in words too" bash -c "'$LAYERCTL' status | grep -q 'at the next login, added: Office'"
check "his next login brings it, and nothing is pending" bash -c "
  '$LAYERCTL' logoff lfbob >/dev/null && '$LAYERCTL' login lfbob --groups tools >/dev/null &&
  [ -d '$B/Program Files/Office' ] && ! '$LAYERCTL' status --json | grep -q pending"

kill -TERM "$LPID"; wait "$LPID"
check "SIGTERM logs everyone off: no layerd mount is left" bash -c "! grep -q '$RUN' /proc/mounts"
check "SIGTERM: layerd removes the socket it made" test ! -e "$LAYERD_SOCKET"
if command -v systemd-socket-activate >/dev/null; then
  # the socket systemd would hand over (layerd.socket): LISTEN_FDS
  systemd-socket-activate -l "$WORK/act.sock" "$LAYERD" --repo "$R" --run "$WORK/run2" \
    --machine WKS-1 2>"$WORK/act.log" &
  APID=$!
  for _ in $(seq 50); do [ -S "$WORK/act.sock" ] && break; sleep 0.1; done
  same "socket activation: layerd serves the socket it is given" "0" bash -c "
    LAYERD_SOCKET='$WORK/act.sock' '$LAYERCTL' status --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"sessions\"]))'"
  kill "$APID" 2>/dev/null; wait "$APID" 2>/dev/null
fi
check "the log names each login and logoff" bash -c "grep -q 'login lfalice on WKS-1' '$WORK/layerd.log' && grep -q 'logoff lfbob' '$WORK/layerd.log'"
finish
