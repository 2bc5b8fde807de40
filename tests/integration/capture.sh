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
check "capture --before OS --after CHANGE:OS" "$LAYERCTL" capture --json --before "$OS" --after "$C:$OS" "$WORK/app.vhd"
check "the summary: 2 files, 1 token; the registry's key, values and marker; what each rule kept out" bash -c "
  '$LAYERCTL' capture --json --before '$OS' --after '$C:$OS' '$WORK/app2.vhd' | python3 -c '
import json, sys
d = json.load(sys.stdin)
ok = d[\"files\"] == 2 and d[\"tokens\"] == 1 and d[\"keys\"] == 1 and d[\"markers\"] == 1 and \
     d[\"values\"] >= 1 and d[\"excluded\"][\"files\"] == {\"pagefile.sys\": 1, \"Windows/Temp\": 1}
sys.exit(0 if ok else 1)'"
out=$("$LAYERCTL" diff "$C:$OS" "$WORK/app.vhd:$OS"); rc=$?
[ $rc -eq 1 ] && [ "$out" = "- pagefile.sys (file)
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
check "its files keep B's descriptors (pack over the copies)" bash -c "
  '$LAYERCTL' stat --json '$WORK/app.vhd' 'Program Files/App/bin/app.exe' | grep -q '\"sddl\"'"
check "the token is in the layer, the noise is not" bash -c "
  '$LAYERCTL' ls '$WORK/app.vhd' Windows | grep -q '.wh.notepad.exe' &&
  ! '$LAYERCTL' ls '$WORK/app.vhd' / | grep -q pagefile"
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
  "$LAYERCTL" capture --session "$UP" --layer "$OS,type=os" "$WORK/tool.vhd"
out=$("$LAYERCTL" diff "$UP:$OS" "$WORK/tool.vhd:$OS"); rc=$?
[ $rc -eq 0 ] && ok "the captured layer over the OS layer is the session's drive and registry" \
  || not_ok "session capture: $rc: $out"
RP="$WORK/repo"
"$LAYERCTL" repo init "$RP" >/dev/null && "$LAYERCTL" repo add "$RP" "$OS" --type os --name Win >/dev/null
check "capture --repo --name: the capture is the new layer's revision 1, then revision 2" bash -c "
  '$LAYERCTL' capture --session '$UP' --layer '$OS,type=os' --repo '$RP' --name Tool '$WORK/t1.vhd' >/dev/null &&
  echo more >>'$UP/Program Files/Tool/tool.exe' &&
  '$LAYERCTL' capture --session '$UP' --layer '$OS,type=os' --repo '$RP' --name Tool '$WORK/t2.vhd' >/dev/null &&
  '$LAYERCTL' repo list --json '$RP' | python3 -c '
import json, sys
revs = sorted(l[\"revision\"] for l in json.load(sys.stdin)[\"layers\"] if l[\"name\"] == \"Tool\")
sys.exit(0 if revs == [1, 2] else 1)'"
check "no session artefacts in it (its listing has the tool, and no .wh..wh. name)" bash -c "
  '$LAYERCTL' ls -R '$WORK/tool.vhd' / >'$WORK/tool.ls' && grep -q tool.exe '$WORK/tool.ls' &&
  ! grep -q 'wh[.][.]wh[.][.]' '$WORK/tool.ls'"
}
finish
