#!/usr/bin/env bash
# Names through a mount (issue 29): every operation that makes a name,
# with each name the union keeps for itself (.wh.*: a user's would be a
# delete token at her next login) and each name Windows programs cannot
# use; a Windows mount and a layerd session refuse both (EINVAL), a posix
# mount keeps Linux's names but still refuses the union's.
. "$(dirname "$0")/lib.sh"
[ -e /dev/fuse ] || skip_all "no /dev/fuse"
: "${LAYERFS:?LAYERFS not set}"
mkdir -p "$WORK/low/Windows" "$WORK/up" "$WORK/m"
echo x >"$WORK/low/Windows/win.ini"
for kind in windows posix; do
  rm -rf "$WORK/up" && mkdir "$WORK/up"
  if "$LAYERFS" --layer "$WORK/low,type=os" --upper "$WORK/up" --access "$kind" "$WORK/m"; then
    MOUNTS+=("$WORK/m")
    out=$(python3 "$TESTS_DIR/names.py" "$SOURCE_DIR" "$WORK/m" "$kind" 2>&1); rc=$?
    [ $rc -eq 0 ] && ok "--access $kind: $(echo "$out" | tail -1), each name-making operation" \
      || { not_ok "--access $kind names"; echo "$out" | head -30 | sed 's/^/    /'; }
    ! ls -A "$WORK/up/names-test/create" | grep -q '^\.wh\.' && ok "--access $kind: no .wh. name reached the writable layer" \
      || not_ok "--access $kind: a .wh. name reached the writable layer"
    fusermount3 -u "$WORK/m"
  else
    not_ok "mount --access $kind"
  fi
done
# depth: a Windows mount makes no folder deeper than publish goes (256)
rm -rf "$WORK/up" && mkdir "$WORK/up"
"$LAYERFS" --layer "$WORK/low,type=os" --upper "$WORK/up" "$WORK/m" && MOUNTS+=("$WORK/m")
n=$(cd "$WORK/m" && d=.; for i in $(seq 300); do mkdir "$d/d" 2>/dev/null || { echo "$i"; break; }; d=$d/d; done)
e=$(cd "$WORK/m" && d=.; for i in $(seq 256); do d=$d/d; done; mkdir "$d/d" 2>&1)
[ "$n" = 257 ] && echo "$e" | grep -q "Invalid argument" && ok "a Windows mount makes folders 256 deep, the 257th is EINVAL" \
  || not_ok "depth: stopped at ${n:-never}: $e"
fusermount3 -u "$WORK/m"
# -o windows_names asks Windows' rules of a posix mount
rm -rf "$WORK/up" && mkdir "$WORK/up"
"$LAYERFS" --layer "$WORK/low,type=os" --upper "$WORK/up" --access posix -o windows_names "$WORK/m" && MOUNTS+=("$WORK/m")
touch "$WORK/m/a:b" 2>"$WORK/e"; grep -q "Invalid argument" "$WORK/e" && ok "-o windows_names: a:b is EINVAL on a posix mount" \
  || not_ok "-o windows_names: $(cat "$WORK/e")"
fusermount3 -u "$WORK/m"

# A personalization layer made before the union marked its tokens (as
# today's main made them: plain .wh. files): its first writable mount
# marks them, so what they hide stays hidden; a .wh. name planted later
# (not the union's) hides nothing and does not show.
mkdir -p "$WORK/low/ProgramData/Vendor" "$WORK/low/Apps/Old"
echo lic >"$WORK/low/ProgramData/Vendor/license.txt"; echo old >"$WORK/low/Apps/Old/a.txt"
rm -rf "$WORK/up" && mkdir -p "$WORK/up/Windows" "$WORK/up/Apps/Old"
: >"$WORK/up/Windows/.wh.win.ini"; : >"$WORK/up/Apps/Old/.wh..wh..opq"; echo new >"$WORK/up/Apps/Old/b.txt"
"$LAYERFS" --layer "$WORK/low,type=os" --upper "$WORK/up" "$WORK/m" && MOUNTS+=("$WORK/m")
[ ! -e "$WORK/m/Windows/win.ini" ] && [ "$(ls "$WORK/m/Apps/Old")" = b.txt ] \
  && getfattr -n trusted.layerfs.tokens "$WORK/up" >/dev/null 2>&1 \
  && ok "an older layer's token and opaque marker still hide what they hid (marked at its first mount)" \
  || not_ok "older layer: $(ls "$WORK/m/Windows" "$WORK/m/Apps/Old")"
fusermount3 -u "$WORK/m"
mkdir -p "$WORK/up/ProgramData" && : >"$WORK/up/ProgramData/.wh.Vendor"
"$LAYERFS" --layer "$WORK/low,type=os" --upper "$WORK/up" "$WORK/m" && MOUNTS+=("$WORK/m")
[ -e "$WORK/m/ProgramData/Vendor/license.txt" ] && ! ls -a "$WORK/m/ProgramData" | grep -q '^\.wh\.' \
  && [ ! -e "$WORK/m/Windows/win.ini" ] \
  && ok "a .wh. name the union did not make hides nothing and does not show; the union's still do" \
  || not_ok "planted token: $(ls -a "$WORK/m/ProgramData")"
fusermount3 -u "$WORK/m"
finish
