#!/usr/bin/env bash
# layerctl capture (issue 17, first part): a change made over the sample
# OS layer (files added, changed in another letter case, deleted; registry
# keys and values added and deleted; Windows' noise) is captured as an app
# layer; mounted over the OS layer it shows the change, file by file and
# value by value (layerctl diff says nothing but the noise left out).
. "$(dirname "$0")/lib.sh"
S="$WORK/sample"
bash "$SOURCE_DIR/scripts/sample/make-repo" "$S" "$LAYERCTL" >/dev/null
OS="$S/Layers/OS/Windows10.1.1.vhd"
C="$WORK/chg"
mkdir -p "$C/Program Files/App/bin" "$C/WINDOWS/Temp" "$C/Windows/System32/config"
echo app >"$C/Program Files/App/bin/app.exe"
# an alternate data stream (a download's Zone.Identifier) on it
python3 -c "import os; os.setxattr('$C/Program Files/App/bin/app.exe', 'user.Zone.Identifier', b'[ZoneTransfer]\\r\\nZoneId=3')"
ln "$C/Program Files/App/bin/app.exe" "$C/Program Files/App/app.exe"   # a second name
echo "[fonts] changed" >"$C/WINDOWS/WIN.INI"            # the OS's win.ini, other case
touch "$C/WINDOWS/.wh.notepad.exe"                      # the OS's notepad.exe deleted
echo noise >"$C/pagefile.sys"; echo noise >"$C/WINDOWS/Temp/setup.tmp"
cat >"$WORK/app.reg" <<'REG'
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SOFTWARE\App\Settings]
"Version"="1.0"

[HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion]
"RegisteredOwner"="App Inc."
".wh.ProductName"=hex(0):
REG
"$LAYERCTL" reg new --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$C/Windows/System32/config/SOFTWARE" "$WORK/app.reg"
# noise in SYSTEM: the Background Activity Moderator's record of what ran
cat >"$WORK/bam.reg" <<'REG'
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SYSTEM\ControlSet001\Services\bam\State\UserSettings\S-1-5-21-1-2-3-1001]
"\\Device\\HarddiskVolume2\\Program Files\\App\\bin\\app.exe"=hex:01,02,03,04
REG
"$LAYERCTL" reg new --prefix 'HKEY_LOCAL_MACHINE\SYSTEM' "$C/Windows/System32/config/SYSTEM" "$WORK/bam.reg"
# finalize checks: the change deletes an OS file: refused, listed, nothing made
"$LAYERCTL" capture --before "$OS" --after "$C:$OS" "$WORK/refused.vhd" >"$WORK/ref.out" 2>"$WORK/ref.err"; rc=$?
[ $rc -eq 1 ] && grep -qx 'refused: deletes-os-file: Windows/notepad.exe' "$WORK/ref.out" \
  && [ "$(wc -l <"$WORK/ref.err")" -eq 1 ] && grep -q 'finalize check failed' "$WORK/ref.err" \
  && [ ! -e "$WORK/refused.vhd" ] && ! ls "$WORK"/refused.vhd.* >/dev/null 2>&1 \
  && ok "finalize: a token that deletes an OS file is refused, listed; nothing made" \
  || not_ok "finalize deletes: $rc $(cat "$WORK/ref.out" "$WORK/ref.err")"
check "capture --force --before OS --after CHANGE:OS" "$LAYERCTL" capture --force --json --before "$OS" --after "$C:$OS" "$WORK/app.vhd"
check "the summary: 2 files (one of them with 2 names), 1 token, per top folder; the registry's 2 keys (App, App\\Settings), 2 values and marker; what each rule kept out (pagefile, Windows/Temp, bam)" bash -c "
  '$LAYERCTL' capture --force --json --before '$OS' --after '$C:$OS' '$WORK/app2.vhd' | python3 -c '
import json, sys
d = json.load(sys.stdin)
ok = d[\"files\"] == 2 and d[\"links\"] == 1 and d[\"tokens\"] == 1 and d[\"keys\"] == 2 and d[\"markers\"] == 1 and \
     d[\"values\"] == 2 and d[\"excluded\"][\"files\"] == {\"pagefile.sys\": 1, \"Windows/Temp\": 1} and \
     d[\"excluded\"][\"registry\"] == {\"HKLM/SYSTEM/*/Services/bam\": 1} and \
     d[\"folders\"][\"Program Files\"][\"files\"] == 1 and d[\"folders\"][\"Windows\"][\"tokens\"] == 1 and \
     [f[\"what\"] for f in d[\"forced\"]] == [\"Windows/notepad.exe\"]
sys.exit(0 if ok else 1)'"
out=$("$LAYERCTL" diff "$C:$OS" "$WORK/app.vhd:$OS"); rc=$?
[ $rc -eq 1 ] && [ "$out" = "- pagefile.sys (file)
- HKLM/SYSTEM [ControlSet001\Services]
- Windows/Temp/setup.tmp (file)" ] \
  && ok "mounted over the OS layer, the captured layer shows the change, but the noise" \
  || not_ok "capture round trip: $rc: $out"
"$LAYERCTL" cat "$WORK/app.vhd" Windows/System32/config/SOFTWARE >"$WORK/frag"
"$LAYERCTL" cat "$OS" Windows/System32/config/SOFTWARE >"$WORK/os-soft"
nf=$("$LAYERCTL" reg export "$WORK/frag" | grep -c '^\[')
no=$("$LAYERCTL" reg export "$WORK/os-soft" | grep -c '^\[')
"$LAYERCTL" reg export "$WORK/frag" >"$WORK/frag.reg"
# what did not change (CurrentBuild, ProgramFilesDir) is not in it
grep -q '"RegisteredOwner"="App Inc."' "$WORK/frag.reg" && grep -q '".wh.ProductName"' "$WORK/frag.reg" \
  && ! grep -q 'CurrentBuild\|ProgramFilesDir' "$WORK/frag.reg" \
  && ok "the layer holds a fragment (what changed and a marker for the deleted value), not the whole hive" \
  || not_ok "fragment: $nf keys vs $no: $(cat "$WORK/frag.reg")"
check "its files keep B's descriptors and streams (pack over the copies)" bash -c "
  '$LAYERCTL' stat --json '$WORK/app.vhd' 'Program Files/App/bin/app.exe' >'$WORK/st.json' &&
  grep -q '\"sddl\"' '$WORK/st.json' && grep -q '\"user.Zone.Identifier\"' '$WORK/st.json'"
check "a file of two names is one file in the layer, with 2 links" bash -c "
  '$LAYERCTL' stat --json '$WORK/app.vhd' 'Program Files/App/app.exe' | grep -q '\"nlink\": 2'"
check "the token is in the layer, the noise is not" bash -c "
  '$LAYERCTL' ls '$WORK/app.vhd' Windows | grep -q '.wh.notepad.exe' &&
  ! '$LAYERCTL' ls '$WORK/app.vhd' / | grep -q pagefile"
# finalize: reboot work left pending (a RunOnce value) is refused
C2="$WORK/chg2"; mkdir -p "$C2/Windows/System32/config"
printf 'Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\RunOnce]\n"Finish"="setup.exe /finish"\n' >"$WORK/runonce.reg"
"$LAYERCTL" reg new --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$C2/Windows/System32/config/SOFTWARE" "$WORK/runonce.reg"
out=$("$LAYERCTL" capture --before "$OS" --after "$C2:$OS" "$WORK/ro.vhd" 2>/dev/null); rc=$?
[ $rc -eq 1 ] && [ "$out" = 'refused: pending-reboot: HKLM/SOFTWARE/Microsoft/Windows/CurrentVersion/RunOnce' ] \
  && ok "finalize: a RunOnce value left (reboot work pending) is refused" || not_ok "finalize RunOnce: $rc $out"
# finalize: an OS binary in System32 shadowed is refused
mkdir -p "$WORK/osf/Windows/System32" "$WORK/shadow/Windows/System32"
echo kernel >"$WORK/osf/Windows/System32/kernel32.dll"; echo patched >"$WORK/shadow/Windows/System32/KERNEL32.DLL"
out=$("$LAYERCTL" capture --before "$WORK/osf" --after "$WORK/shadow:$WORK/osf" "$WORK/sh.vhd" 2>/dev/null); rc=$?
[ $rc -eq 1 ] && [ "$out" = 'refused: shadows-os-file: Windows/System32/kernel32.dll' ] \
  && "$LAYERCTL" capture --force --before "$WORK/osf" --after "$WORK/shadow:$WORK/osf" "$WORK/sh.vhd" >/dev/null \
  && ok "finalize: an OS binary shadowed in System32 is refused; --force captures it" || not_ok "finalize shadow: $rc $out"

# finalize: a hive left dirty (a write Windows did not finish: seq1 !=
# seq2) without its .LOG1/.LOG2 cannot be captured, even with --force:
# what it holds is not known
C3="$WORK/chg3"; mkdir -p "$C3/Windows/System32/config"
cp "$C2/Windows/System32/config/SOFTWARE" "$C3/Windows/System32/config/SOFTWARE"
python3 - "$C3/Windows/System32/config/SOFTWARE" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
seq2 = struct.unpack_from("<I", b, 8)[0]
struct.pack_into("<I", b, 4, seq2 + 1)          # a write begun, not finished
x = 0
for i in range(0, 508, 4):
    x ^= struct.unpack_from("<I", b, i)[0]
struct.pack_into("<I", b, 508, x)               # the header's checksum still right
open(sys.argv[1], "wb").write(b)
PY
"$LAYERCTL" capture --force --before "$OS" --after "$C3:$OS" "$WORK/dirty.vhd" >/dev/null 2>"$WORK/dirty.err"; rc=$?
[ $rc -eq 1 ] && [ "$(wc -l <"$WORK/dirty.err")" -eq 1 ] && grep -q 'SOFTWARE: a dirty hive without usable logs' "$WORK/dirty.err" \
  && [ ! -e "$WORK/dirty.vhd" ] && ! ls "$WORK"/dirty.vhd.* >/dev/null 2>&1 \
  && ok "finalize: a dirty hive without its logs is refused, --force or not, naming it; nothing made" \
  || not_ok "finalize dirty hive: $rc $(cat "$WORK/dirty.err")"

# The session form: an "install" made through a writable mount of the OS
# layer (files, a registry value through regfs), captured from the
# personalization layer against the stack below it
[ -e /dev/fuse ] && [ "$(id -u)" -eq 0 ] && {
UP="$WORK/up"; M="$WORK/m"; RM="$WORK/rm"; mkdir -p "$UP" "$M" "$RM"
"$LAYERFS" --layer "$OS,type=os" --upper "$UP" "$M" &&
  mkdir -p "$M/Program Files/Tool" && echo tool >"$M/Program Files/Tool/tool.exe" &&
  echo changed >>"$M/Windows/win.ini" && rm "$M/Windows/notepad.exe"
fusermount3 -u "$M"
"$REGFS" --layer "$OS,type=os" --upper "$UP" "$RM" &&
  mkdir -p "$RM/HKLM/SOFTWARE/Tool" && echo 2 >"$RM/HKLM/SOFTWARE/Tool/Version"
fusermount3 -u "$RM"
check "capture --session UPPER --layer OS: the install as a layer" \
  "$LAYERCTL" capture --force --session "$UP" --layer "$OS,type=os" "$WORK/tool.vhd"
out=$("$LAYERCTL" diff "$UP:$OS" "$WORK/tool.vhd:$OS"); rc=$?
[ $rc -eq 0 ] && ok "the captured layer over the OS layer is the session's drive and registry" \
  || not_ok "session capture: $rc: $out"
RP="$WORK/repo"
"$LAYERCTL" repo init "$RP" >/dev/null && "$LAYERCTL" repo add "$RP" "$OS" --type os --name Win >/dev/null
check "capture --repo --name: the capture is the new layer's revision 1, then revision 2" bash -c "
  '$LAYERCTL' capture --force --session '$UP' --layer '$OS,type=os' --repo '$RP' --name Tool '$WORK/t1.vhd' >/dev/null &&
  echo more >>'$UP/Program Files/Tool/tool.exe' &&
  '$LAYERCTL' capture --force --session '$UP' --layer '$OS,type=os' --repo '$RP' --name Tool '$WORK/t2.vhd' >/dev/null &&
  '$LAYERCTL' repo list --json '$RP' | python3 -c '
import json, sys
revs = sorted(l[\"revision\"] for l in json.load(sys.stdin)[\"layers\"] if l[\"name\"] == \"Tool\")
sys.exit(0 if revs == [1, 2] else 1)'"
check "no session artefacts in it (its listing has the tool, and no .wh..wh. name)" bash -c "
  '$LAYERCTL' ls -R '$WORK/tool.vhd' / >'$WORK/tool.ls' && grep -q tool.exe '$WORK/tool.ls' &&
  ! grep -q 'wh[.][.]wh[.][.]' '$WORK/tool.ls'"

# A new revision as a differencing disk on the previous revision's file:
# the session goes on over revision 2 and the capture is the whole tool
# again, but only the sectors that differ from revision 2 are stored
read -r TID P2 < <("$LAYERCTL" repo list --json "$RP" | python3 -c '
import json, sys
l = [l for l in json.load(sys.stdin)["layers"] if l["name"] == "Tool" and l["revision"] == 2][0]
print(l["id"], l["file"])')
for i in $(seq 1 40); do head -c 30000 /dev/urandom >"$UP/Program Files/Tool/part$i.dll"; done
"$LAYERCTL" capture -q --force --session "$UP" --layer "$OS,type=os" --repo "$RP" --name Tool "$WORK/t3.vhd" >/dev/null
read -r P3 < <("$LAYERCTL" repo list --json "$RP" | python3 -c '
import json, sys
print([l for l in json.load(sys.stdin)["layers"] if l["name"] == "Tool" and l["revision"] == 3][0]["file"])')
echo v4 >"$UP/Program Files/Tool/tool.exe"; echo new >"$UP/Program Files/Tool/new.dll"; rm "$UP/Program Files/Tool/part7.dll"; : >"$UP/Program Files/Tool/.wh.part7.dll"   # deleted in a session over revision 3
setfattr -n trusted.layerfs.made -v 1 "$UP/Program Files/Tool/.wh.part7.dll"  # as the union marks its tokens
check "capture --parent PREV --repo: revision 4, a differencing VHD on revision 3's file" \
  "$LAYERCTL" capture -q --force --session "$UP" --layer "$OS,type=os" --layer "$RP/$P3,prio=5" \
  --parent "$RP/$P3" --repo "$RP" --name Tool "$WORK/t4.vhd"
"$LAYERCTL" capture -q --force --session "$UP" --layer "$OS,type=os" "$WORK/t4full.vhd" >/dev/null
[ "$("$DISKTOOL" info "$WORK/t4.vhd" | head -1)" = "kind vhd-differencing" ] \
  && [ "$(stat -c %s "$WORK/t4.vhd")" -lt "$(stat -c %s "$WORK/t4full.vhd")" ] \
  && ok "it is a differencing disk, smaller than the whole revision ($(stat -c %s "$WORK/t4.vhd") < $(stat -c %s "$WORK/t4full.vhd") bytes)" \
  || not_ok "differencing revision: $("$DISKTOOL" info "$WORK/t4.vhd" | head -1), $(stat -c %s "$WORK/t4.vhd") vs $(stat -c %s "$WORK/t4full.vhd")"
out=$("$LAYERCTL" diff "$UP:$OS" "$WORK/t4.vhd:$OS"); rc=$?
[ $rc -eq 0 ] && ok "over the OS layer it reads as the session's drive (its parent found by its locator)" \
  || not_ok "differencing revision reads: $rc $out"
P4=$("$LAYERCTL" repo list --json "$RP" | python3 -c '
import json, sys
print([l for l in json.load(sys.stdin)["layers"] if l["name"] == "Tool" and l["revision"] == 4][0]["file"])')
out=$("$LAYERCTL" diff "$UP:$OS" "$RP/$P4:$OS"); rc=$?
[ $rc -eq 0 ] && "$LAYERCTL" fsck "$RP" >"$WORK/fsck.out" 2>&1 \
  && ok "in the repository too, beside its parent; fsck is content" || not_ok "repo differencing: $rc $out $(cat "$WORK/fsck.out")"
out=$("$LAYERCTL" repo remove --force "$RP" "$TID:3" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "revision 4 of layer $TID (Tool) is a differencing disk on its file" \
  && [ -f "$RP/$P3" ] && ok "repo remove refuses revision 3 (revision 4's parent), even with --force" \
  || not_ok "remove a parent: $rc $out"

# A user logs in on the repository: layerd gives her the captured app (its
# newest revision, the differencing disk) with its files and its key
if id lfcap >/dev/null 2>&1 || useradd -M -s /bin/sh lfcap 2>/dev/null; then
  OSID=$("$LAYERCTL" repo list --json "$RP" | python3 -c '
import json, sys
print([l for l in json.load(sys.stdin)["layers"] if l["name"] == "Win"][0]["id"])')
  "$LAYERCTL" repo assign "$RP" --machine '*' "$OSID" "$TID" >/dev/null
  export LAYERD_SOCKET="$WORK/layerd.sock"
  RUN="$WORK/run"
  "$LAYERD" --repo "$RP" --socket "$LAYERD_SOCKET" --run "$RUN" 2>"$WORK/layerd.log" &
  LPID=$!
  for _ in $(seq 50); do [ -S "$LAYERD_SOCKET" ] && break; sleep 0.1; done
  "$LAYERCTL" login lfcap >/dev/null 2>"$WORK/login.err"
  T="$RUN/lfcap/C/Program Files/Tool"
  [ "$(cat "$T/tool.exe" 2>/dev/null)" = v4 ] && [ -f "$T/new.dll" ] && [ ! -e "$T/part7.dll" ] \
    && [ -d "$RUN/lfcap/REG/HKLM/SOFTWARE/Tool" ] \
    && ok "login: her desktop has the captured app's newest revision (a differencing disk), files and key" \
    || not_ok "login with the captured app: $(cat "$WORK/login.err") $(ls "$T" 2>&1 | head -5)"
  "$LAYERCTL" logoff lfcap >/dev/null 2>&1
  kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null
fi
# fsck opens the chain: revision 3's file replaced by another disk breaks
# revision 4, and fsck says so
cp "$WORK/t4full.vhd" "$RP/$P3"
out=$("$LAYERCTL" fsck "$RP" 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep "revision 4 (Tool)" | grep -q "unique id" \
  && ok "fsck: a differencing revision whose parent is not its parent is reported" || not_ok "fsck chain: $rc $out"
}
finish
