#!/usr/bin/env bash
# An admin's first week (issue 28), as it was lived: an OS layer with real
# Windows 10 hives (SYSTEM and DEFAULT dirty with their logs, SECURITY
# dirty without any), app layers captured by hand and from a packaging
# session, real accounts in Unix groups, layerd with an admin group.
# Each check does what the admin did:
#  1. capture over an OS layer whose hives are dirty takes only the
#     session's own change (the logs are read alike on both sides);
#  2. a packaging session's capture leaves the packager's profile out;
#  3. the repository's layers are not readable by every account; fsck
#     warns about an open one, --repair closes it;
#  4. a dirty hive without logs is served read-only (REG, the drive,
#     layerctl status), not a refusal to mount; repo add and fsck warn;
#  5. the previews (repo resolve, conflicts, fsck, which) take the user's
#     Unix groups, as login does;
#  6. fsck judges a personalization layer against the revisions that
#     user gets (her pin), and names a layer it could not open.
. "$(dirname "$0")/lib.sh"
: "${LAYERD:?LAYERD not set}"
: "${LAYERFS:?LAYERFS not set}"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (accounts, mounts for users)"
[ -e /dev/fuse ] || skip_all "no /dev/fuse"
command -v useradd >/dev/null || skip_all "no useradd"
[ -f "$REALDATA/hives/win10-rathbun/SAM.gz" ] || skip_all "no ../shared/realdata: the week needs Windows' own hives"
. "$TESTS_DIR/realos.sh"
L() { wd "$LAYERCTL" "$@"; }
for g in lfwkadm lfwk7z lfwknpp; do getent group "$g" >/dev/null || groupadd "$g" || skip_all "cannot add group $g"; done
acct() { id "$1" >/dev/null 2>&1 && usermod -G "$2" "$1" || useradd -M -s /bin/sh -G "$2" "$1" || skip_all "cannot add $1"; }
acct lfwkpkg lfwkadm                  # the packager, an administrator
acct lfwkalice lfwk7z,lfwknpp         # 7-Zip and Notepad++ through her groups
acct lfwkbob lfwk7z                   # pinned to 7-Zip's first revision
chmod 755 "$WORK"
UCTL="$WORK/layerctl"                 # a copy other accounts can run
cp "$LAYERCTL" "$UCTL" && chmod 755 "$UCTL"

real_os "$WORK/os" dirty-security
check "the OS layer: real hives (SYSTEM, DEFAULT dirty with logs; SECURITY dirty without)" \
  "$LAYERCTL" pack -q "$WORK/os" "$WORK/os.vhd"
app_layer 7-Zip 7z.exe 7-Zip 1.0 "$WORK/7z-1.vhd" && echo "7-Zip 1.0 history" \
  >"$WORK/app-7-Zip-1.0/Program Files/7-Zip/history1.txt" && "$LAYERCTL" pack -q "$WORK/app-7-Zip-1.0" "$WORK/7z-1.vhd" &&
app_layer 7-Zip 7z.exe 7-Zip 2.0 "$WORK/7z-2.vhd" &&
app_layer Notepad++ notepad++.exe Notepad++ 1.0 "$WORK/npp.vhd" \
  && ok "app layers: 7-Zip 1.0 and 2.0, Notepad++" || not_ok "app layers"

# --- 3, 4: the repository
R="$WORK/repo"
L repo init "$R" >/dev/null
L repo add "$R" "$WORK/os.vhd" --type os --name Windows10 --id 1 >/dev/null 2>"$WORK/add.err"
[ "$(stat -c %a "$R/Layers")" = 750 ] && [ "$(stat -c %a "$R/Layers/OS")" = 750 ] \
  && [ "$(stat -c %a "$R/Layers/OS/Windows10.1.1.vhd")" = 640 ] && [ "$(stat -c %a "$R/Users")" = 700 ] \
  && ok "3: repo init makes Layers/ 0750, repo add writes 0640 (Users/ 0700)" \
  || not_ok "3: modes: $(stat -c '%n %a' "$R/Layers" "$R/Layers/OS" "$R/Layers/OS/Windows10.1.1.vhd" "$R/Users")"
if as lfwkbob "$UCTL" cat "$R/Layers/OS/Windows10.1.1.vhd" Windows/System32/config/SAM >"$WORK/sam.out" 2>&1; then
  not_ok "3: another account reads SAM out of the repository ($(wc -c <"$WORK/sam.out") bytes)"
else
  grep -q "Permission denied" "$WORK/sam.out" && ok "3: another account cannot read SAM out of the repository: $(head -1 "$WORK/sam.out")" \
    || not_ok "3: refused, but not for its rights: $(cat "$WORK/sam.out")"
fi
grep -q "warning: .*SECURITY (HKLM/SECURITY): a dirty hive without usable logs" "$WORK/add.err" \
  && [ "$(wc -l <"$WORK/add.err")" -eq 1 ] \
  && ok "4: repo add warns, in one line, of the dirty hive without logs" || not_ok "4: repo add said: $(cat "$WORK/add.err")"
L repo add "$R" "$WORK/7z-1.vhd" --type app --name 7-Zip --id 100 >/dev/null &&
L repo add "$R" "$WORK/7z-2.vhd" --type app --name 7-Zip --id 100 >/dev/null &&
L repo add "$R" "$WORK/npp.vhd" --type app --name Notepad++ --id 101 >/dev/null &&
L repo assign "$R" --machine '*' 1 >/dev/null &&
L repo assign "$R" --group lfwk7z 100 >/dev/null &&
L repo assign "$R" --group lfwknpp 101 >/dev/null &&
L repo assign "$R" --user lfwkbob 100:1 >/dev/null \
  && ok "the repository: OS, 7-Zip (2 revisions), Notepad++; by group, bob pinned to 7-Zip 1" \
  || not_ok "the repository"
# an older repository's modes: fsck warns, --repair closes them
chmod 755 "$R/Layers" "$R/Layers/App"; chmod 644 "$R/Layers/App/7-Zip.100.2.vhd"
L fsck --json "$R" >"$WORK/fsck.json"; rc=$?
python3 - "$WORK/fsck.json" <<'PY' && [ $rc -eq 0 ] && ok "3: fsck warns of Layers/, Layers/App and a layer file open to others (exit 0)" || not_ok "3: fsck open layers: exit $rc: $(head -c 800 "$WORK/fsck.json")"
import json, sys
p = [x for x in json.load(open(sys.argv[1]))["problems"] if x["class"] == "readable-layer"]
sys.exit(0 if sorted(x["path"] for x in p) == ["Layers", "Layers/App", "Layers/App/7-Zip.100.2.vhd"]
         and all(x["severity"] == "warning" for x in p) else 1)
PY
L fsck --repair "$R" >"$WORK/repair.out"; rc=$?
[ $rc -eq 1 ] && [ "$(stat -c %a "$R/Layers" "$R/Layers/App" "$R/Layers/App/7-Zip.100.2.vhd" | tr '\n' ' ')" = "750 750 640 " ] \
  && ok "3: fsck --repair closes them (exit 1: fixed)" || not_ok "3: repair: exit $rc $(stat -c '%n %a' "$R/Layers" "$R/Layers/App") $(cat "$WORK/repair.out")"
L fsck --json "$R" >"$WORK/fsck.json"
python3 - "$WORK/fsck.json" <<'PY' && ok "4: fsck: the dirty hive without logs is a warning (read-only base image); the ones with logs too" || not_ok "4: fsck hives: $(head -c 900 "$WORK/fsck.json")"
import json, sys
p = [x for x in json.load(open(sys.argv[1]))["problems"] if x["class"] == "bad-hive"]
sec = [x for x in p if "SECURITY" in x["what"]]
sys.exit(0 if len(sec) == 1 and sec[0]["severity"] == "warning" and "base image, read-only" in sec[0]["what"]
         and all(x["severity"] == "warning" for x in p) else 1)
PY

# --- 4: regfs over that OS layer mounts; SECURITY read-only, the rest not
M="$WORK/reg"; UP="$WORK/regup"; mkdir -p "$M" "$UP"
if wd "$REGFS" --layer "$WORK/os.vhd,type=os" --upper "$UP" "$M" 2>"$WORK/regfs.err"; then
  MOUNTS+=("$M")
  ls "$M/HKLM/SECURITY" | grep -qx Policy && ! mkdir "$M/HKLM/SECURITY/X" 2>"$WORK/mk.err" \
    && grep -q "Read-only file system" "$WORK/mk.err" && mkdir "$M/HKLM/SOFTWARE/Week" \
    && grep -q "HKLM/SECURITY: read-only: .*SECURITY: a dirty hive without usable logs" "$WORK/regfs.err" \
    && ok "4: regfs mounts; HKLM/SECURITY shows its base image read-only (EROFS), said once; SOFTWARE takes writes" \
    || not_ok "4: regfs: $(cat "$WORK/regfs.err" "$WORK/mk.err" 2>/dev/null)"
  fusermount3 -u "$M"
else
  not_ok "4: regfs refuses the OS layer: $(cat "$WORK/regfs.err")"
fi

# --- 5: the previews take her Unix groups, as login does
out=$(L repo resolve --json "$R" --user lfwkalice)
echo "$out" | python3 -c '
import json, sys
r = json.load(sys.stdin)
names = [l["name"] for l in r["stack"]]
sys.exit(0 if names == ["Windows10", "7-Zip", "Notepad++"] and {"lfwk7z", "lfwknpp"} <= set(r["groups"]) else 1)' \
  && ok "5: repo resolve --user lfwkalice: her Unix groups give her 7-Zip and Notepad++" || not_ok "5: resolve: $out"
L conflicts --json "$R" --user lfwkalice >"$WORK/conf.json"; rc=$?
grep -q "vcruntime140.dll" "$WORK/conf.json" && [ $rc -eq 1 ] \
  && ok "5: conflicts --user lfwkalice: the C runtime both her apps ship" || not_ok "5: conflicts: exit $rc $(head -c 400 "$WORK/conf.json")"
L which --repo "$R" --user lfwkalice "Program Files/7-Zip/7z.exe" "Program Files/Notepad++/notepad++.exe" >"$WORK/which.out"; rc=$?
[ $rc -eq 0 ] && grep -q "^Program Files/7-Zip/7z.exe: file from 7-Zip" "$WORK/which.out" \
  && grep -q "^Program Files/Notepad++/notepad++.exe: file from Notepad++" "$WORK/which.out" \
  && ok "5: which --repo --user lfwkalice, two paths: each from her group's app" || not_ok "5: which: exit $rc $(cat "$WORK/which.out")"

# --- 6 (and 5's fsck): personalization layers judged against what each gets.
# Copies made through a mount of each one's stack (so mode and owner match).
personal() {  # personal USER LAYER-SPEC... ; then the commands on stdin run in her layer
  local u=$1; shift
  local P="$R/Users/$u/00000001_Windows10" m="$WORK/pm-$u" a=()
  mkdir -p -m 700 "$R/Users/$u" "$P"; mkdir -p "$m"
  for s in "$@"; do a+=(--layer "$s"); done
  "$LAYERFS" "${a[@]}" "$m" || return 1
  (cd "$P" && M="$m" bash -e) ; local rc=$?
  fusermount3 -u "$m"
  return $rc
}
RL="$R/Layers"
personal lfwkalice "$RL/OS/Windows10.1.1.vhd,type=os" "$RL/App/7-Zip.100.2.vhd,prio=1" <<'SH' || not_ok "alice's layer"
mkdir -p "Program Files/7-Zip"
cp -a "$M/Program Files/7-Zip/readme.txt" "Program Files/7-Zip/readme.txt"
SH
L fsck --json --user lfwkalice "$R" >"$WORK/alice.json"
python3 - "$WORK/alice.json" <<'PY' && ok "5: fsck --user lfwkalice judges her layer against her groups' apps (readme.txt: reclaimable)" || not_ok "5: fsck --user: $(head -c 900 "$WORK/alice.json")"
import json, sys
p = json.load(open(sys.argv[1]))["problems"]
same = [x for x in p if x["class"] == "same-as-below"]
sys.exit(0 if len(same) == 1 and same[0]["path"].endswith("7-Zip/readme.txt") and "lfwkalice gets" in same[0]["what"] else 1)
PY
personal lfwkbob "$RL/OS/Windows10.1.1.vhd,type=os" "$RL/App/7-Zip.100.2.vhd,prio=1" <<'SH' || not_ok "bob's layer"
mkdir -p "Program Files/7-Zip"
cp -a "$M/Program Files/7-Zip/7z.exe" "Program Files/7-Zip/7z.exe"      # 2.0's, his own over his 1.0
cp -a "$M/Program Files/7-Zip/readme.txt" "Program Files/7-Zip/readme.txt" # the same in 1.0
: > "Program Files/7-Zip/.wh.history1.txt"                               # hides 1.0's history
: > "Program Files/7-Zip/.wh.nothing.txt"                                # hides nothing anywhere
SH
for how in "--user lfwkbob" ""; do
  L fsck --json $how "$R" >"$WORK/bob.json"
  python3 - "$WORK/bob.json" <<'PY' && ok "6: fsck ${how:-(whole repository)}: bob's 7z.exe (2.0's, over his pinned 1.0) and his token for 1.0's history1.txt are his, not reclaimable; readme.txt and a token for nothing are" || not_ok "6: fsck $how: $(python3 -c "import json,sys; print([(x['class'], x['path']) for x in json.load(open(sys.argv[1]))['problems'] if 'lfwkbob' in x['path']])" "$WORK/bob.json")"
import json, sys
p = [(x["class"], x["path"].split("/")[-1]) for x in json.load(open(sys.argv[1]))["problems"]
     if "lfwkbob" in x["path"] and x["class"] != "foreign-token"]   # a layer made by hand: older
sys.exit(0 if sorted(p) == [("same-as-below", "readme.txt"), ("token-hides-nothing", ".wh.nothing.txt")] else 1)
PY
done
# a layer that may lie below does not open: --repair says which, and leaves the layer alone
cp "$RL/App/Notepad++.101.1.vhd" "$WORK/npp.keep"
truncate -s 4096 "$RL/App/Notepad++.101.1.vhd"
L fsck --repair "$R" >"$WORK/rep.out" 2>&1
grep -q "Users/lfwkalice/00000001_Windows10: not repaired: a layer that may lie below does not open: Notepad++ (101 rev 1)" "$WORK/rep.out" \
  && [ -e "$R/Users/lfwkalice/00000001_Windows10/Program Files/7-Zip/readme.txt" ] \
  && ok "6: fsck --repair names the layer that does not open and repairs nothing of hers" \
  || not_ok "6: repair with a broken layer: $(grep -i "lfwkalice\|Notepad" "$WORK/rep.out")"
cp "$WORK/npp.keep" "$RL/App/Notepad++.101.1.vhd"
rm -rf "$R/Users/lfwkalice" "$R/Users/lfwkbob"

# --- layerd: sessions (4: status says what is read-only; 2: a packaging session)
export LAYERD_SOCKET="$WORK/layerd.sock"
RUN="$WORK/run"
"$LAYERD" --repo "$R" --socket "$LAYERD_SOCKET" --run "$RUN" --machine WKS-WEEK --admin-group lfwkadm \
  2>"$WORK/layerd.log" &
LPID=$!
for _ in $(seq 100); do [ -S "$LAYERD_SOCKET" ] && break; sleep 0.1; done
cleanup_layerd() { kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null; }
trap 'cleanup_layerd; cleanup' EXIT
check "login lfwkpkg (the packager, an administrator)" L login lfwkpkg
L status --json >"$WORK/status.json"
python3 - "$WORK/status.json" <<'PY' && ok "4: layerctl status --json: HKLM/SECURITY read-only, and why" || not_ok "4: status: $(head -c 900 "$WORK/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))["sessions"][0]
ro = s["read_only_hives"]
sys.exit(0 if [x["hive"] for x in ro] == ["HKLM/SECURITY"] and "without usable logs" in ro[0]["why"] else 1)
PY
L status >"$WORK/status.out"
grep -q "^  read-only: HKLM/SECURITY: " "$WORK/status.out" && grep -q "^1 session, " "$WORK/status.out" \
  && grep -q "lfwkpkg (as machine WKS-WEEK): drive at " "$WORK/status.out" \
  && ok "4: layerctl status says it in words (1 session, as machine WKS-WEEK)" || not_ok "4: status words: $(cat "$WORK/status.out")"
grep -q "lfwkpkg: HKLM/SECURITY is read-only: " "$WORK/layerd.log" && ok "4: layerd's log says it" || not_ok "4: layerd log: $(tail -5 "$WORK/layerd.log")"
C="$RUN/lfwkpkg/C"; REG="$RUN/lfwkpkg/REG"
PKG="$R/Users/lfwkpkg/00000001_Windows10"
# 7: a key she made, reset by the admin: gone from REG within a second (REG's
# kernel cache lives 0.5 s), not at her next write
as lfwkpkg mkdir "$REG/HKLM/SOFTWARE/Scratch" && as lfwkpkg ls "$REG/HKLM/SOFTWARE" | grep -qx Scratch &&
L reset "$PKG" Windows/System32/config/SOFTWARE >"$WORK/reset.out" 2>&1 && sleep 1 \
  && ! as lfwkpkg ls "$REG/HKLM/SOFTWARE" | grep -qx Scratch && ! as lfwkpkg test -e "$REG/HKLM/SOFTWARE/Scratch" \
  && ok "7: layerctl reset of her SOFTWARE changes: the key is gone from REG (listing and lookup) within a second" \
  || not_ok "7: reset key: $(cat "$WORK/reset.out"); REG lists: $(as lfwkpkg ls "$REG/HKLM/SOFTWARE" | tr '\n' ' ')"
# the install, as the packager: files, a service key, her own settings
as lfwkpkg mkdir -p "$C/Program Files/Tool" && as lfwkpkg sh -c "echo tool > '$C/Program Files/Tool/tool.exe'" &&
as lfwkpkg mkdir -p "$REG/HKLM/SOFTWARE/Tool" && as lfwkpkg sh -c "echo 2.0 > '$REG/HKLM/SOFTWARE/Tool/Version'" &&
as lfwkpkg mkdir -p "$REG/HKU/lfwkpkg/Software/Tool" && as lfwkpkg sh -c "echo 1 > '$REG/HKU/lfwkpkg/Software/Tool/FirstRun'" &&
as lfwkpkg sh -c "echo notes > '$C/Users/lfwkpkg/Desktop/install-notes.txt'" \
  && ok "the packager installs: Program Files/Tool, HKLM\\SOFTWARE\\Tool, her own desktop and HKCU" \
  || not_ok "the install as lfwkpkg"
as lfwkpkg true && L reset --all "$PKG" >"$WORK/rall.out" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q "in use by a running session" "$WORK/rall.out" \
  && ok "7: reset --all of a running session's layer is refused" || not_ok "7: reset --all while in use: exit $rc $(cat "$WORK/rall.out")"
check "logoff lfwkpkg" L logoff lfwkpkg
L capture --json --session "$PKG" --layer "$RL/OS/Windows10.1.1.vhd,type=os" "$WORK/tool.vhd" >"$WORK/cap.json" 2>"$WORK/cap.err"; rc=$?
python3 - "$WORK/cap.json" <<'PY' && [ $rc -eq 0 ] && ! "$LAYERCTL" ls "$WORK/tool.vhd" Users/lfwkpkg >/dev/null 2>&1 \
  && "$LAYERCTL" ls "$WORK/tool.vhd" "Program Files/Tool" | grep -q tool.exe \
  && ok "2: capture --session of the packager's layer: Program Files/Tool and its key; her profile (NTUSER.DAT, desktop) left out" \
  || not_ok "2: capture --session: exit $rc $(head -c 900 "$WORK/cap.json") $(cat "$WORK/cap.err"); $("$LAYERCTL" ls "$WORK/tool.vhd" Users 2>&1)"
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["profile_left_out"] == "Users/lfwkpkg" and d["files"] == 1 and d["keys"] == 1
         and d["values"] == 1 and not d["forced"] else 1)
PY

# --- 1: a capture over the OS layer whose SYSTEM is dirty (its logs beside
# it): one service key added is one key captured, and no reboot blamed
S="$WORK/svc"; mkdir -p "$S/Windows/System32/config"
printf 'Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Services\\WeekSvc]\n"Start"=dword:00000002\n"ImagePath"="C:\\\\Program Files\\\\Tool\\\\svc.exe"\n' >"$WORK/svc.reg"
"$LAYERCTL" reg new --prefix 'HKEY_LOCAL_MACHINE\SYSTEM' "$S/Windows/System32/config/SYSTEM" "$WORK/svc.reg" >/dev/null
L capture --json --before "$RL/OS/Windows10.1.1.vhd" --after "$S:$RL/OS/Windows10.1.1.vhd" "$WORK/svc.vhd" >"$WORK/svc.json" 2>"$WORK/svc.err"; rc=$?
python3 - "$WORK/svc.json" <<'PY' && [ $rc -eq 0 ] && ok "1: capture over a dirty SYSTEM: 1 key, 2 values, nothing refused; the dirty hive said (logs replayed on both sides)" || not_ok "1: capture: exit $rc $(head -c 1200 "$WORK/svc.json") $(cat "$WORK/svc.err")"
import json, sys
d = json.load(open(sys.argv[1]))
dirty = {x["hive"]: x["logs_replayed"] for x in d["dirty_hives"]}
sys.exit(0 if d["keys"] == 1 and d["values"] == 2 and d["markers"] == 0 and not d["forced"]
         and dirty.get("HKLM/SYSTEM") is True else 1)
PY
"$LAYERCTL" capture --before "$RL/OS/Windows10.1.1.vhd" --after "$S:$RL/OS/Windows10.1.1.vhd" "$WORK/svc2.vhd" >"$WORK/svc2.out" 2>"$WORK/svc2.err"
grep -q "registry: 1 keys, 2 values, 0 markers" "$WORK/svc2.out" \
  && grep -q "note: HKLM/SYSTEM of the layers below is dirty .*logs replayed, before and after alike" "$WORK/svc2.err" \
  && ok "1: the summary says 1 key and 2 values (not 0), and notes the dirty hive on stderr" || not_ok "1: summary: $(cat "$WORK/svc2.out" "$WORK/svc2.err")"
out=$(L diff "$S:$RL/OS/Windows10.1.1.vhd" "$RL/OS/Windows10.1.1.vhd")
[ "$(echo "$out" | grep -c '^[-+~] HKLM/SYSTEM')" -eq 1 ] && echo "$out" | grep -q 'WeekSvc' && ! echo "$out" | grep -q "W32Time\|Tcpip\|PendingFileRename" \
  && ok "1: diff of the two stacks: the service key alone, nothing of the OS's logged changes" \
  || not_ok "1: diff: $(echo "$out" | head -20)"

# --- 7: the rest of the week's small things
L reset --all --json "$PKG" >"$WORK/rall.json" && aside=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kept_as"])' "$WORK/rall.json") \
  && [ -z "$(ls -A "$PKG")" ] && [ "$(stat -c '%a %U' "$PKG")" = "$(stat -c '%a %U' "$R/Users/lfwkpkg/$aside")" ] && [ -e "$R/Users/lfwkpkg/$aside/Program Files/Tool/tool.exe" ] \
  && ok "7: reset --all: an empty personalization layer (its owner and mode as before), the old one kept beside it" \
  || not_ok "7: reset --all: $(cat "$WORK/rall.json"); $(ls -la "$R/Users/lfwkpkg")"
L ls -l "$WORK/tool.vhd" "Program Files/Tool" | grep -q "^-.* tool.exe$" && ok "7: ls -l (the long form, as ls)" || not_ok "7: ls -l"
L stat "$WORK/tool.vhd" "Program Files/Tool" | grep -q "^mode  *0[0-7]\{3\} (d[-rwx]\{9\})$" && ok "7: stat says the mode in octal and as ls does" \
  || not_ok "7: stat mode: $(L stat "$WORK/tool.vhd" "Program Files/Tool" | grep mode)"
"$LAYERCTL" fsck --repiar "$R" >/dev/null 2>"$WORK/typo.err"; rc=$?
[ $rc -eq 16 ] && [ "$(wc -l <"$WORK/typo.err")" -eq 2 ] && grep -q "unknown option '--repiar' (did you mean '--repair'?)" "$WORK/typo.err" \
  && { "$LAYERCTL" repo lsit "$R" 2>&1; true; } | grep -q "did you mean 'list'" \
  && { "$LAYERCTL" captrue 2>&1; true; } | grep -q "did you mean 'capture'" \
  && ok "7: typos: one line, and the nearest option, subcommand or command" || not_ok "7: typos: $(cat "$WORK/typo.err")"
out=$("$LAYERCTL" publish --verify --layer "$WORK/tool.vhd,prio=1" --layer "$RL/OS/Windows10.1.1.vhd,type=os" "$WORK/pub.vhd" 2>&1)
echo "$out" | grep -q "^identical: [0-9]* files, [0-9]* folders, .* [1-9][0-9]* registry hives" \
  && ok "7: publish --verify says what it found the same: $(echo "$out" | grep identical)" || not_ok "7: publish --verify: $out"
"$LAYERCTL" ls "$WORK/pub.vhd" / -R --json | python3 -c '
import json, sys
sys.exit(0)' ; L stat --json "$WORK/pub.vhd" "Program Files" | python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if d["xattrs"].get("system.ntfs_dos_name", {}).get("value") == "PROGRA~1" else 1)' \
  && ok "7: a published image has 8.3 names as Windows makes them (Program Files: PROGRA~1)" \
  || not_ok "7: 8.3 names: $(L stat --json "$WORK/pub.vhd" "Program Files" | grep -A2 dos_name)"
printf 'Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\n"a"="b"\n' >"$WORK/x.reg"
refuses "7: a .reg key outside the hive names the --prefix it wants" "--prefix 'HKEY_LOCAL_MACHINE\SOFTWARE'" \
  "$LAYERCTL" reg new --prefix 'HKEY_LOCAL_MACHINE\SYSTEM' "$WORK/x.hive" "$WORK/x.reg"
L repo remove "$R" 101 --force >/dev/null && L repo add "$R" "$WORK/tool.vhd" --type app --name Tool >"$WORK/tool.add" \
  && grep -q "layer 102 revision 1" "$WORK/tool.add" && L repo remove "$R" 102 >/dev/null \
  && L repo add "$R" "$WORK/tool.vhd" --type app --name Tool --id 102 --allow-same >/dev/null \
  && L repo remove "$R" 102:2 >/dev/null && [ -e "$R/Retired/Tool.102.1.vhd" ] && [ -e "$R/Retired/Tool.102.2.vhd" ] \
  && L repo restore "$R" 101 >/dev/null && L repo list --json "$R" | grep -q '"Notepad++"' && [ ! -e "$R/Retired/Notepad++.101.1.vhd" ] \
  && ok "7: repo remove keeps each retired file apart, new ids and revisions skip retired ones, repo restore brings one back" \
  || not_ok "7: retire and restore: $(cat "$WORK/tool.add"; ls "$R/Retired")"
mkdir -p "$WORK/open/Windows/System32" && chmod 777 "$WORK/open/Windows" && "$LAYERCTL" pack -q "$WORK/open" "$WORK/open.vhd"
"$LAYERCTL" repo add "$R" "$WORK/open.vhd" --type os --name Open 2>"$WORK/open.err" >/dev/null
grep -q "every user may change Windows of this OS layer" "$WORK/open.err" && ! grep -q "may change" "$WORK/add.err" \
  && L fsck --json "$R" | grep -q '"writable-os-folder"' \
  && ok "7: an OS layer whose Windows folder any user may change is said (repo add, fsck); Windows 10's descriptors are not" \
  || not_ok "7: open OS layer: $(cat "$WORK/open.err")"
finish
