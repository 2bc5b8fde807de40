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
check "the sample repository is clean to fsck" "$LAYERCTL" fsck "$WORK/repo"
same_stack=$("$LAYERCTL" repo resolve --json "$WORK/repo" --user demo --groups staff --machine any |
  python3 -c 'import json,sys; print(*[l["name"] for l in json.load(sys.stdin)["stack"]])')
[ "$same_stack" = "Windows10 Office AdminTools" ] && ok "a staff user gets the OS, Office, AdminTools" \
  || not_ok "resolve: $same_stack"
check "make-repo again replaces the sample" bash "$SOURCE_DIR/scripts/sample/make-repo" "$WORK/repo" "$LAYERCTL"
mkdir -p "$WORK/notsample" && : >"$WORK/notsample/precious"
refuses "make-repo will not wipe a folder that is no sample" "not a sample" \
  bash "$SOURCE_DIR/scripts/sample/make-repo" "$WORK/notsample" "$LAYERCTL"
check "AdminTools carries the delete token for notepad.exe" "$LAYERCTL" stat "$repo/App/AdminTools.102.1.vhd" "Windows/.wh.notepad.exe"
check "AdminTools makes Windows/Temp opaque" "$LAYERCTL" stat "$repo/App/AdminTools.102.1.vhd" "Windows/Temp/.wh..wh..opq"
t=$("$LAYERCTL" stat --json "$repo/OS/Windows10.1.1.vhd" "Documents and Settings" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["type"], d["target"], d["link"])')
[ "$t" = "symlink /Users rooted" ] && ok "OS layer: Documents and Settings -> /Users" || not_ok "Documents and Settings: $t"

# The desktop the README's demo composes.
if [ -n "${LAYERFS:-}" ] && [ -e /dev/fuse ]; then
  m="$WORK/desktop"; mkdir -p "$m"
  if "$LAYERFS" --layer "$repo/OS/Windows10.1.1.vhd,type=os" --layer "$repo/App/Office.101.3.vhd" \
       --layer "$repo/App/AdminTools.102.1.vhd" "$m"; then
    MOUNTS+=("$m")
    grep -q "CMC=1" "$m/windows/WIN.INI" && ok "desktop: Office's win.ini wins" || not_ok "desktop: win.ini"
    [ ! -e "$m/Windows/notepad.exe" ] && ok "desktop: notepad.exe deleted by AdminTools" || not_ok "desktop: notepad.exe shows"
    [ -z "$(ls -A "$m/Windows/Temp")" ] && ok "desktop: Windows/Temp opaque" || not_ok "desktop: Temp: $(ls "$m/Windows/Temp")"
    [ "$(cat "$m/Program Files/Common Files/Shared/mso.dll")" = "MZ mso from AdminTools" ] \
      && ok "desktop: AdminTools' mso.dll over Office's" || not_ok "desktop: mso.dll"
    [ "$(ls "$m/PROGRAM FILES" | tr '\n' ' ')" = "Common Files Office Tools " ] \
      && ok "desktop: three spellings of Program Files are one folder, spelt as the OS layer does" \
      || not_ok "desktop: $(ls "$m/PROGRAM FILES")"
    [ -f "$m/Documents and Settings/Public/Desktop/desktop.ini" ] \
      && ok "desktop: the Documents and Settings junction leads inside" || not_ok "desktop: Documents and Settings"
    sw="$m/Windows/System32/config/SOFTWARE"
    cv='Microsoft\Windows NT\CurrentVersion'
    [ "$(hivexget "$sw" "$cv" ProductName)|$(hivexget "$sw" AdminTools Version)" = "Windows 10 Enterprise|1.0" ] \
      && ok "desktop: SOFTWARE served merged (the OS's keys and AdminTools')" || not_ok "desktop: SOFTWARE"
    ! hivexget "$sw" "$cv" CurrentBuild >/dev/null 2>&1 \
      && ok "desktop: AdminTools' marker deletes CurrentBuild" || not_ok "desktop: CurrentBuild shows"
    fusermount3 -u "$m"
    r="$WORK/reg"; mkdir -p "$r"
    if [ -n "${REGFS:-}" ] && "$REGFS" --layer "$repo/OS/Windows10.1.1.vhd,type=os" \
         --layer "$repo/App/Office.101.3.vhd" --layer "$repo/App/AdminTools.102.1.vhd" "$r"; then
      MOUNTS+=("$r")
      [ "$(cat "$r/HKLM/SYSTEM/CurrentControlSet/Control/Session Manager/Environment/Path")" = \
        'C:\Windows\system32;C:\Windows;C:\Program Files\Office' ] \
        && ok "registry: Path is the OS's and Office's" || not_ok "registry: Path"
      fusermount3 -u "$r"
    else
      not_ok "registry: regfs mount"
    fi
  else
    not_ok "desktop: mount"
  fi
fi

finish
