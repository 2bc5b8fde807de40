#!/usr/bin/env bash
# WIM in and out (issue 31): real Windows volumes and the sample OS layer
# captured by wimlib-imagex (NTFS mode), then `layerctl pack --wim`: diff
# of the source volume and the new layer is empty (descriptors, 8.3
# names, streams, hard links, times). `publish --format wim` of a stack,
# applied by wimlib-imagex onto a new volume, compares equal to the stack,
# and so does the WIM itself. A Compact OS file goes through compressed
# and reads as its data; split and solid (ESD) forms open; a file of two
# images wants one named; a file that is no WIM is one clear line.
. "$(dirname "$0")/lib.sh"
: "${WOFTOOL:?WOFTOOL not set}"
command -v wimlib-imagex >/dev/null || skip_all "wimlib-imagex missing (wimtools)"
command -v qemu-img >/dev/null || skip_all "qemu-img missing"
R=${REALDATA:-}
[ -d "$R" ] || skip_all "no realdata at '$R'"
# wimlib leaves out $RECYCLE.BIN, System Volume Information, pagefile.sys
# and the like by default, as DISM does; an empty configuration keeps all
: >"$WORK/all.cfg"
cap() { wimlib-imagex capture "$@" --config="$WORK/all.cfg" >"$WORK/cap.log" 2>&1 || { not_ok "wimlib-imagex capture $*"; tail -3 "$WORK/cap.log"; }; }
# the NTFS volume of a disk image (raw, VHD, VHDX) as a file of its own
volume_of() {
  local disk=$1 out=$2 off
  off=$("$LAYERCTL" stat --json "$disk" / | python3 -c 'import json,sys; print(json.load(sys.stdin)["layer"]["volume_offset"])')
  qemu-img convert -O raw "$disk" "$out.disk"
  dd if="$out.disk" of="$out" bs=1M iflag=skip_bytes skip="$off" status=none conv=sparse
  rm -f "$out.disk"
}
same() {   # WHAT SOURCE_VOLUME NEW_LAYER
  "$LAYERCTL" diff --times "$2" "$3" >"$WORK/diff.out" 2>"$WORK/diff.err"
  local rc=$?
  [ $rc = 0 ] && [ ! -s "$WORK/diff.out" ] && ok "$1" \
    || { not_ok "$1 (diff exit $rc)"; cat "$WORK/diff.out" "$WORK/diff.err" | head -10 | sed 's/^/    /'; }
}

# --- real Windows volumes ---
zcat "$R/ntfs/velociraptor_partition_image.raw.gz" >"$WORK/velo.raw"
cap "$WORK/velo.raw" "$WORK/velo.wim" "Velociraptor" --compress=lzx
check "pack --wim: a real Windows volume's image, raw" "$LAYERCTL" pack -q --wim "$WORK/velo.wim" -f raw "$WORK/velo-layer.img"
same "diff of the real volume and the layer packed from its WIM: nothing" "$WORK/velo.raw" "$WORK/velo-layer.img"
# its Config/SYSTEM, SAM... and NTUser.dat are 8-byte stubs, not hives
grep -q "Config/SYSTEM is not a registry hive: compared as bytes" "$WORK/diff.err" \
  && ok "a file named like a hive that is none is compared as bytes, with a note" || not_ok "stub hives: $(cat "$WORK/diff.err")"
"$LAYERCTL" publish -q --layer "$WORK/velo.raw,type=os" "$WORK/velo-pub.vhd" \
  && "$LAYERCTL" compare "$WORK/velo-pub.vhd" --layer "$WORK/velo.raw,type=os" >"$WORK/c0" 2>/dev/null \
  && grep -q "^identical.*as bytes" "$WORK/c0" && ok "compare of the published volume with its stub hives: identical" \
  || { not_ok "compare with stub hives"; cat "$WORK/c0"; }
zcat "$R/vhd/velociraptor_test.vhdx.gz" >"$WORK/ws2022.vhdx"
volume_of "$WORK/ws2022.vhdx" "$WORK/ws2022.vol"
cap "$WORK/ws2022.vol" "$WORK/ws2022.wim" "Server 2022" --compress=xpress
"$LAYERCTL" pack --json --wim "$WORK/ws2022.wim" "$WORK/ws2022-layer.vhd" >"$WORK/pack.json" 2>"$WORK/pack.err" \
  && python3 -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if j['files'] > 0 and j['layer'].endswith('.vhd') else 1)" "$WORK/pack.json" \
  && ok "pack --wim --json: a Windows Server 2022 volume's image as a VHD" || { not_ok "pack ws2022"; cat "$WORK/pack.err"; }
same "diff of the Server 2022 volume and its layer (a VHD) from the WIM: nothing" "$WORK/ws2022.vol" "$WORK/ws2022-layer.vhd"

# --- the sample OS layer: hives, hard links, streams, descriptors ---
bash "$SOURCE_DIR/scripts/sample/make-repo" "$WORK/sample" "$LAYERCTL" >/dev/null
OSL="$WORK/sample/Layers/OS/Windows10.1.1.vhd" APP="$WORK/sample/Layers/App/Office.101.3.vhd"
volume_of "$OSL" "$WORK/os.vol"
cap "$WORK/os.vol" "$WORK/os.wim" "Windows 10 sample"
check "pack --wim of the sample OS layer's image, as a VHDX" "$LAYERCTL" pack -q --wim "$WORK/os.wim:Windows 10 sample" -f vhdx "$WORK/os-layer.vhdx"
same "diff of the sample OS volume and its layer (VHDX) from the WIM (by image name), hives key by key: nothing" "$WORK/os.vol" "$WORK/os-layer.vhdx"

# --- one image of several; split; solid ---
wimlib-imagex append "$WORK/velo.raw" "$WORK/os.wim" "Second" --config="$WORK/all.cfg" >/dev/null 2>&1 || not_ok "wimlib-imagex append"
refuses "a file of two images, none named" "holds 2 images" "$LAYERCTL" pack -q --wim "$WORK/os.wim" "$WORK/x.vhd"
check "FILE:2 names the second" "$LAYERCTL" pack -q --wim "$WORK/os.wim:2" -f raw "$WORK/second.img"
same "the second image is the second volume" "$WORK/velo.raw" "$WORK/second.img"
refuses "an image not there" "no image \"9\"" "$LAYERCTL" pack -q --wim "$WORK/os.wim:9" "$WORK/x.vhd"
mkdir -p "$WORK/big/Program Files/App"
head -c 1500000 /dev/urandom >"$WORK/big/Program Files/App/data.bin"; head -c 1500000 /dev/urandom >"$WORK/big/Program Files/App/more.bin"
"$LAYERCTL" pack -q --format raw "$WORK/big" "$WORK/big.vol"
cap "$WORK/big.vol" "$WORK/big.wim" "Big" --compress=none
wimlib-imagex split "$WORK/big.wim" "$WORK/split.swm" 1 >/dev/null 2>&1 || not_ok "wimlib-imagex split"
n=$(ls "$WORK"/split*.swm 2>/dev/null | wc -l)
[ "$n" -ge 2 ] || not_ok "split made $n parts"
check "a split WIM ($n parts) packs from its first part" "$LAYERCTL" pack -q --wim "$WORK/split.swm" -f raw "$WORK/split.img"
same "the split WIM's layer is the volume" "$WORK/big.vol" "$WORK/split.img"
wimlib-imagex export "$WORK/ws2022.wim" 1 "$WORK/solid.esd" --solid >/dev/null 2>&1 || not_ok "wimlib-imagex export --solid"
check "an ESD (solid LZMS) packs" "$LAYERCTL" pack -q --wim "$WORK/solid.esd" -f raw "$WORK/esd.img"
same "the ESD's layer is the volume" "$WORK/ws2022.vol" "$WORK/esd.img"
head -c 100000 /dev/urandom >"$WORK/junk.wim"
refuses "a file that is no WIM" "junk.wim" "$LAYERCTL" pack -q --wim "$WORK/junk.wim" "$WORK/x.vhd"
[ ! -e "$WORK/x.vhd" ] && ! ls "$WORK"/x.vhd.* >/dev/null 2>&1 && ok "nothing is left of a refused pack" || not_ok "leftovers of a refused pack"

# --- a Compact OS file through a WIM ---
mkdir -p "$WORK/t/Windows/System32"
python3 -c "open('$WORK/src.bin','wb').write(b''.join(b'%d compact os\\n' % i for i in range(50000)))"
"$LAYERCTL" pack -q --format raw --size 64M "$WORK/t" "$WORK/wof.vol"
"$WOFTOOL" put "$WORK/wof.vol" /Windows/System32/kernel.dll lzx "$WORK/src.bin" >/dev/null || not_ok "lf-woftool put"
cap "$WORK/wof.vol" "$WORK/wof.wim" "WOF"
"$LAYERCTL" pack -q --wim "$WORK/wof.wim" -f raw "$WORK/wof-layer.img" \
  && "$LAYERCTL" cat "$WORK/wof-layer.img" Windows/System32/kernel.dll | cmp -s - "$WORK/src.bin" \
  && "$LAYERCTL" stat --json "$WORK/wof-layer.img" Windows/System32/kernel.dll | grep -q '"compression": "wof-lzx"' \
  && ok "a Compact OS file packed from a WIM stays compressed and reads as its data" || not_ok "Compact OS through a WIM"

# --- publish --format wim, applied by wimlib, compared ---
"$LAYERCTL" publish -q --name "Sample desktop" --description "OS and Office" \
  --layer "$OSL,type=os" --layer "$APP,type=app,prio=10" "$WORK/desk.wim" 2>"$WORK/pub.err" \
  && wimlib-imagex info "$WORK/desk.wim" 2>/dev/null | grep -q "Sample desktop" \
  && ok "publish --format wim (from .wim): one image, named" || { not_ok "publish wim"; cat "$WORK/pub.err"; }
"$LAYERCTL" compare "$WORK/desk.wim" --layer "$OSL,type=os" --layer "$APP,type=app,prio=10" >"$WORK/c1" 2>&1 \
  && grep -q '^identical' "$WORK/c1" && ok "compare of the WIM itself with the stack: identical" || { not_ok "compare WIM"; head "$WORK/c1"; }
size=$(( $(wimlib-imagex info "$WORK/desk.wim" 1 2>/dev/null | sed -n 's/^Total Bytes: *//p') * 2 + 64 * 1048576 ))
truncate -s "$size" "$WORK/applied.vol" && mkntfs -F -Q -q "$WORK/applied.vol" >/dev/null 2>&1 \
  && wimlib-imagex apply "$WORK/desk.wim" "$WORK/applied.vol" >/dev/null 2>&1 || not_ok "wimlib-imagex apply"
"$LAYERCTL" compare --no-ctime "$WORK/applied.vol" --layer "$OSL,type=os" --layer "$APP,type=app,prio=10" >"$WORK/c2" 2>&1 \
  && grep -q '^identical' "$WORK/c2" && ok "the WIM applied by wimlib-imagex onto a new volume: identical to the stack" \
  || { not_ok "compare applied"; head "$WORK/c2"; }
check "publish --verify of a WIM" "$LAYERCTL" publish -q --verify --format wim --compress xpress \
  --layer "$OSL,type=os" "$WORK/v.wim"
finish
