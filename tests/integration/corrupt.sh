#!/usr/bin/env bash
# Hostile disks: spoilt copies of good layers (dynamic, fixed and
# differencing VHD, raw NTFS) are listed and read whole; every run must end
# in exit 0 or 1, never a crash, a sanitizer report or a hang.
. "$(dirname "$0")/lib.sh"

python3 "$TESTS_DIR/union_model.py" make "$WORK" >/dev/null
"$LAYERCTL" pack -q "$WORK/L0" "$WORK/good.vhd"
"$LAYERCTL" pack -q --format vhd-fixed "$WORK/L0" "$WORK/goodf.vhd"
"$LAYERCTL" pack -q --format raw "$WORK/L0" "$WORK/good.raw"
"$DISKTOOL" dump "$WORK/good.vhd" > "$WORK/disk.raw"
"$DISKTOOL" vhd dynamic "$WORK/disk.raw" "$WORK/parent.vhd"
"$LAYERCTL" pack -q "$WORK/L3" "$WORK/other.vhd"
"$DISKTOOL" dump "$WORK/other.vhd" | head -c "$(stat -c %s "$WORK/disk.raw")" > "$WORK/other.raw"
"$DISKTOOL" vhd diff "$WORK/other.raw" "$WORK/child.vhd" "$WORK/parent.vhd"
check "the differencing child reads" "$LAYERCTL" ls -R "$WORK/child.vhd"
check "90 spoilt layers: no crash, no hang" python3 "$TESTS_DIR/corrupt.py" "$LAYERCTL" "$WORK" \
  "$WORK/good.vhd" "$WORK/goodf.vhd" "$WORK/good.raw" "$WORK/child.vhd" --rounds 90

# Inputs that once made layerfs misbehave (../shared/regress): a volume
# libntfs-3g refuses only after leaking, a file time near INT64_MIN.
REGRESS="$(dirname "$REALDATA")/regress"
if [ -d "$REGRESS" ]; then
  zcat "$REGRESS/ntfs-mount-leak.img.gz" >"$WORK/leak.img"
  zcat "$REGRESS/ntfs-time-overflow.vhdx.gz" >"$WORK/times.vhdx"
  refuses "a volume whose \$AttrDef is too big: one clear error, nothing leaked" "AttrDef" \
    "$LAYERCTL" ls "$WORK/leak.img"
  check "a file time near INT64_MIN: listed, times clamped, no sanitizer report" sh -c "
    '$LAYERCTL' ls -R --json '$WORK/times.vhdx' >'$WORK/times.json' 2>'$WORK/times.err' &&
    [ ! -s '$WORK/times.err' ] && python3 -c 'import json,sys; json.load(open(sys.argv[1]))' '$WORK/times.json'"
else
  not_ok "no ../shared/regress folder beside the clone"
fi
# a partition cut out of a fixed VHD, the disk's footer still after it
# (issue 32, item 6): the bare volume, with a note, as ntfs-3g reads it
mkdir -p "$WORK/cut/Windows" && echo "[boot]" >"$WORK/cut/Windows/win.ini"
"$LAYERCTL" pack -q -f vhd-fixed "$WORK/cut" "$WORK/fixed.vhd"
python3 -c "
import sys
d = open(sys.argv[1], 'rb').read()
open(sys.argv[2], 'wb').write(d[1 << 20:-512] + d[-512:])" "$WORK/fixed.vhd" "$WORK/cut.img"
out=$("$LAYERCTL" cat "$WORK/cut.img" Windows/win.ini 2>"$WORK/cut.err")
[ "$out" = "[boot]" ] && grep -q "an NTFS volume with a VHD footer after it.*read as the bare volume" "$WORK/cut.err" \
  && ntfscat "$WORK/cut.img" Windows/win.ini 2>/dev/null | grep -q boot \
  && ok "an NTFS partition cut from a fixed VHD, its footer after it: read as the bare volume, with a note" \
  || not_ok "cut partition: $out $(cat "$WORK/cut.err")"
finish
