#!/usr/bin/env bash
# The README's sample: the repository builds from the specs it ships, each
# layer packs and lists, and the layers carry what the specs say.
. "$(dirname "$0")/lib.sh"

check "make-repo builds the sample repository" bash "$SOURCE_DIR/scripts/sample/make-repo" "$WORK/repo" "$LAYERCTL"
repo="$WORK/repo/Layers"
for f in OS/Windows10.1.1.vhd App/Office.101.3.vhd App/AdminTools.102.1.vhd; do
  [ -f "$repo/$f" ] && ok "$f exists" || not_ok "$f exists"
done
out=$("$LAYERCTL" cat "$repo/OS/Windows10.1.1.vhd" "windows/system32/drivers/ETC/HOSTS")
echo "$out" | grep -q "127.0.0.1       localhost" && ok "OS layer: hosts file" || not_ok "OS layer hosts: $out"
check "AdminTools carries the delete token for notepad.exe" "$LAYERCTL" stat "$repo/App/AdminTools.102.1.vhd" "Windows/.wh.notepad.exe"
check "AdminTools makes Windows/Temp opaque" "$LAYERCTL" stat "$repo/App/AdminTools.102.1.vhd" "Windows/Temp/.wh..wh..opq"
t=$("$LAYERCTL" stat --json "$repo/OS/Windows10.1.1.vhd" "Documents and Settings" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["type"], d["target"], d["link"])')
[ "$t" = "symlink /Users rooted" ] && ok "OS layer: Documents and Settings -> /Users" || not_ok "Documents and Settings: $t"

finish
