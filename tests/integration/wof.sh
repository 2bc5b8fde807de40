#!/usr/bin/env bash
# Compact OS files (issue 30): each algorithm, each shape (empty, one
# byte, one chunk exactly, many chunks with a short last one and raw
# chunks, a 5 GiB sparse file with its 8-byte chunk table, a corrupt
# stream), written as Windows writes them (tests/tools/lf-woftool.c),
# read as their data through a mount, layerctl cat and compare; a
# corrupt one is EIO with one log line; a copy-up is a plain file; a file
# rewritten with its own bytes is no change; publish keeps them
# compressed. Files whose data Windows keeps elsewhere are EIO, listed by
# fsck; a cloud file kept on the device reads; an alias is empty.
. "$(dirname "$0")/lib.sh"
[ -e /dev/fuse ] || skip_all "no /dev/fuse"
: "${LAYERFS:?LAYERFS not set}" "${WOFTOOL:?WOFTOOL not set}"
SEED=${WOF_SEED:-$(( (RANDOM << 15) | RANDOM ))}
echo "# wof: seed $SEED (WOF_SEED=$SEED reproduces it)"
S="$WORK/s"          # the sources
mkdir -p "$S" "$WORK/tree/Windows/System32/config" "$WORK/tree/Users"
echo "[fonts]" >"$WORK/tree/Windows/win.ini"
python3 - "$S" "$SEED" <<'PY'
import random, sys
d, rnd = sys.argv[1], random.Random(int(sys.argv[2]))
open(f"{d}/empty", "wb").close()
open(f"{d}/one", "wb").write(b"M")
for alg, chunk in (("xpress4k", 4096), ("lzx", 32768), ("xpress8k", 8192), ("xpress16k", 16384)):
    # exactly one chunk, compressible
    open(f"{d}/chunk.{alg}", "wb").write((b"MZ\x90\x00 a chunk of a PE file " * 2000)[:chunk])
# many chunks: text that shrinks, random bytes that do not (stored raw),
# a short last chunk
text = b"".join(b"%d: the quick brown fox jumps over the lazy dog\n" % i for i in range(9000))
open(f"{d}/many", "wb").write(text + rnd.randbytes(70001) + text[:777])
PY
# 5 GiB, sparse: data at the start, past 4 GiB and at the end
truncate -s 5G "$S/big"
head -c 100000 /dev/urandom | dd of="$S/big" conv=notrunc status=none
head -c 50000 /dev/urandom | dd of="$S/big" bs=4096 seek=$(( (1 << 32) / 4096 - 3 )) conv=notrunc status=none
printf 'the end' | dd of="$S/big" bs=1 seek=$(( (5 << 30) - 7 )) conv=notrunc status=none
"$LAYERCTL" pack -q --format raw --size 1200M "$WORK/tree" "$WORK/os.img" || { not_ok "pack"; finish; exit 1; }
W=/Windows/System32
put() { "$WOFTOOL" put "$WORK/os.img" "$@" >>"$WORK/put.log" 2>&1 || { not_ok "lf-woftool put $*"; tail -3 "$WORK/put.log"; }; }
ALGS="xpress4k lzx xpress8k xpress16k"
pairs=()
for a in $ALGS; do
  for f in empty one many big; do put "$W/$f.$a" "$a" "$S/$f"; done
  put "$W/chunk.$a" "$a" "$S/chunk.$a"
  put "$W/bad.$a" "$a" "$S/many" --corrupt chunk
done
put "$W/badtable.lzx" lzx "$S/many" --corrupt table
grep -q "many.lzx: $(stat -c %s "$S/many") bytes in [0-9]* chunks of 32768, [1-9][0-9]* stored raw" "$WORK/put.log" \
  && grep -q "big.xpress4k: 5368709120 bytes in 1310720 chunks of 4096" "$WORK/put.log" \
  && ok "Compact OS files written, four algorithms, raw chunks among them" \
  || { not_ok "lf-woftool's report"; cat "$WORK/put.log"; }
# data elsewhere
head -c 200000 /dev/urandom >"$S/blob"
for k in dedup hsm wimboot efs cloud cloud-kept alias; do
  "$WOFTOOL" tag "$WORK/os.img" "$W/$k.dat" "$k" "$S/blob" >>"$WORK/put.log" 2>&1 || not_ok "lf-woftool tag $k"
done
"$WOFTOOL" tag "$WORK/os.img" "$W/OneDriveFolder" cloud-dir >>"$WORK/put.log" 2>&1 || not_ok "tag cloud-dir"
OS="$WORK/os.img"
# a registry hive stored compressed: the hive code reads it as its data
printf 'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Compact]\r\n"Os"="yes"\r\n' >"$WORK/sw.reg"
"$LAYERCTL" reg new --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$S/SOFTWARE" "$WORK/sw.reg"
put "$W/config/SOFTWARE" lzx "$S/SOFTWARE" 2>/dev/null || true

# --- through a mount ---
mkdir -p "$WORK/up" "$WORK/m"
"$LAYERFS" -f --layer "$OS,type=os" --upper "$WORK/up" "$WORK/m" 2>"$WORK/lfs.log" &
for _ in $(seq 100); do mountpoint -q "$WORK/m" && break; sleep 0.1; done
mountpoint -q "$WORK/m" || { not_ok "mount"; cat "$WORK/lfs.log"; finish; exit 1; }
MOUNTS+=("$WORK/m")
M="$WORK/m$W"
bad=""
for a in $ALGS; do
  for f in empty one many chunk.$a; do
    src=$S/$f; [ "$f" = "chunk.$a" ] && name=$f || name=$f.$a
    wd cmp -s "$M/$name" "$src" || bad="$bad $name"
    pairs+=("$M/$name:$src")
  done
  pairs+=("$M/big.$a:$S/big")
done
[ -z "$bad" ] && ok "through the mount: empty, one byte, one chunk, many chunks, each algorithm, equal to their sources" \
  || not_ok "through the mount, differ:$bad"
check "through the mount: 200 random reads of each, the 5 GiB ones across 4 GiB (seed $SEED)" \
  wd python3 "$TESTS_DIR/wof.py" "$SEED" 200 "${pairs[@]}"
check "through the mount: mmap of a Compact OS file reads its data" python3 -c "
import mmap, sys
with open(sys.argv[1], 'rb') as f, open(sys.argv[2], 'rb') as g:
    sys.exit(0 if mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)[:] == g.read() else 1)" "$M/many.lzx" "$S/many"
# 5 GiB read whole: many reads, not one slow one (the watchdog's bound
# is for the whole cmp here)
WD_SECONDS=300
for a in lzx xpress16k; do
  check "through the mount: the 5 GiB $a file equals its source, read whole (8-byte table)" \
    wd cmp "$M/big.$a" "$S/big"
done
WD_SECONDS=10
[ "$(stat -c %s "$M/big.lzx")" = 5368709120 ] && [ "$(stat -c %b "$M/big.lzx")" -lt 100000 ] \
  && ok "its size is its data's; its blocks are its stream's" || not_ok "big.lzx: $(stat -c '%s %b' "$M/big.lzx")"
# what shows: no stream, no reparse point, neither sparse nor reparse attributes
x=$(getfattr -d -m - -e hex "$M/many.lzx" 2>&1)
attrib=$(echo "$x" | sed -n 's/^system.ntfs_attrib=//p')
! echo "$x" | grep -qi 'WofCompressedData\|ntfs_reparse_data' && [ "$attrib" = 0x20000000 ] \
  && ok "the mount lists no WofCompressedData stream, no reparse data; attributes 0x20" \
  || { not_ok "what the mount shows of a Compact OS file (attrib $attrib)"; echo "$x" | sed 's/^/    /'; }
getfattr -n user.WofCompressedData "$M/many.lzx" >/dev/null 2>&1 \
  && not_ok "user.WofCompressedData can be read" || ok "user.WofCompressedData cannot be read as a stream"
# corrupt: EIO, one line each, however often read
for n in bad.xpress4k bad.lzx bad.xpress8k bad.xpress16k badtable.lzx; do
  out=$(wd cat "$M/$n" 2>&1 >/dev/null); echo "$out" | grep -q "Input/output error" || not_ok "$n: $out"
  wd cat "$M/$n" >/dev/null 2>&1
done
sleep 0.3
lines=$(grep -c "System32/bad" "$WORK/lfs.log")
[ "$lines" = 5 ] && grep -q "badtable.lzx: its Compact OS data (wof-lzx) does not decode: chunk 0 is out of its stream" "$WORK/lfs.log" \
  && grep -q "bad.xpress8k: its Compact OS data (wof-xpress8k) does not decode: chunk 1" "$WORK/lfs.log" \
  && ok "a corrupt stream is EIO, read twice, one log line per file naming it (5 files)" \
  || { not_ok "corrupt streams: $lines log lines"; grep System32 "$WORK/lfs.log" | head; }
# data elsewhere
bad=""
for k in dedup hsm wimboot efs cloud; do
  out=$(wd cat "$M/$k.dat" 2>&1 >/dev/null); echo "$out" | grep -q "Input/output error" || bad="$bad $k"
done
[ -z "$bad" ] && ok "deduplicated, offline, WIMBoot, EFS and cloud-only files: EIO" || not_ok "not EIO:$bad"
sleep 0.3
for k in dedup:"Data Deduplication" hsm:"hierarchical storage" wimboot:WIMBoot efs:EFS cloud:cloud-files; do
  grep -q "${k%%:*}.dat: not read: .*${k#*:}" "$WORK/lfs.log" || bad="$bad ${k%%:*}"
done
[ -z "$bad" ] && ok "each is one log line naming the file and why" || { not_ok "log lines:$bad"; cat "$WORK/lfs.log"; }
check "a cloud file kept on the device reads its data" wd cmp "$M/cloud-kept.dat" "$S/blob"
check "a cloud folder lists" wd ls "$M/OneDriveFolder"
[ "$(stat -c %s "$M/alias.dat")" = 0 ] && [ -z "$(cat "$M/alias.dat")" ] \
  && ok "an App execution alias is a file of no bytes, as Windows shows it" || not_ok "alias"
# copy-up: a plain file with the data, no reparse point, no stream
wd bash -c "echo tail >>'$M/many.xpress4k'"
U="$WORK/up$W/many.xpress4k"
(cat "$S/many"; echo tail) | cmp -s - "$U" && ! getfattr -d -m - "$U" 2>/dev/null | grep -qi 'wof\|reparse' \
  && (cat "$S/many"; echo tail) | cmp -s - "$M/many.xpress4k" \
  && ok "a copy-up is a plain file of its data: no reparse point, no WofCompressedData" \
  || { not_ok "copy-up"; getfattr -d -m - "$U"; }
out=$(echo x 2>&1 >>"$M/dedup.dat"); [ -n "$out" ] && [ ! -e "$WORK/up$W/dedup.dat" ] \
  && ok "a file whose data is elsewhere is not copied up (EIO), never as zeros" || not_ok "dedup copy-up: $out"
# read, and rewritten with its own bytes: no change to capture
wd cat "$M/many.lzx" >/dev/null
wd cp "$S/chunk.lzx" "$M/chunk.lzx"
"$LAYERCTL" diff "$OS" "$WORK/up:$OS" >"$WORK/diff.out" 2>&1
grep -q "many.xpress4k" "$WORK/diff.out" && ! grep -q "many.lzx\|chunk.lzx" "$WORK/diff.out" \
  && ok "diff: a file read or rewritten with its own bytes is no change; one appended to is" \
  || { not_ok "diff after reads and a rewrite"; sed 's/^/    /' "$WORK/diff.out" | head; }
fusermount3 -u "$WORK/m"
wait

# --- layerctl cat, stat ---
bad=""
for a in $ALGS; do
  for f in empty one many; do "$LAYERCTL" cat "$OS" "$W/$f.$a" | cmp -s - "$S/$f" || bad="$bad $f.$a"; done
  "$LAYERCTL" cat "$OS" "$W/chunk.$a" | cmp -s - "$S/chunk.$a" || bad="$bad chunk.$a"
done
[ -z "$bad" ] && ok "layerctl cat: every small file equals its source" || not_ok "layerctl cat:$bad"
check "layerctl cat: the 5 GiB LZX file equals its source" bash -c "'$LAYERCTL' cat '$OS' '$W/big.lzx' | cmp - '$S/big'"
"$LAYERCTL" cat "$OS" "$W/bad.lzx" >/dev/null 2>"$WORK/cat.err"
[ $? = 1 ] && grep -q "bad.lzx: its Compact OS data (wof-lzx) does not decode" "$WORK/cat.err" \
  && ok "layerctl cat of a corrupt one: exit 1, the file named" || { not_ok "cat bad.lzx"; cat "$WORK/cat.err"; }
"$LAYERCTL" stat --json "$OS" "$W/many.lzx" >"$WORK/st.json"
"$LAYERCTL" stat --json "$OS" "$W/dedup.dat" >"$WORK/st2.json"
python3 - "$WORK/st.json" "$WORK/st2.json" "$(stat -c %s "$S/many")" <<'PY' && ok "layerctl stat: compression wof-lzx, no stream listed; a dedup file's data 'not readable'" || not_ok "stat"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["compression"] == "wof-lzx" and a["size"] == int(sys.argv[3]), a
assert not any("Wof" in k or "reparse" in k for k in a["xattrs"]), a["xattrs"]
assert "Data Deduplication" in b["data"] and b["data"].endswith("(dedup)"), b
PY

"$LAYERCTL" reg export --layer "$OS,type=os" Windows/System32/config/SOFTWARE "$WORK/got.reg" 2>"$WORK/reg.err"
"$LAYERCTL" reg export "$S/SOFTWARE" "$WORK/want.reg"
grep -q '"Os"="yes"' "$WORK/got.reg" && cmp -s "$WORK/got.reg" "$WORK/want.reg" \
  && ok "a hive stored as Compact OS (LZX) is read by the hive code as its data" \
  || { not_ok "the compressed hive"; cat "$WORK/reg.err"; }

# --- fsck lists the files whose data is elsewhere ---
"$LAYERCTL" repo init "$WORK/repo" >/dev/null
"$LAYERCTL" repo add "$WORK/repo" "$OS" --type os --name Win >/dev/null 2>&1
"$LAYERCTL" fsck --json "$WORK/repo" >"$WORK/fsck.json" 2>/dev/null
python3 - "$WORK/fsck.json" <<'PY' && ok "fsck: the five files whose data is elsewhere, per layer, warnings; nothing else" || { not_ok "fsck"; head -c 2000 "$WORK/fsck.json"; }
import json, sys
j = json.load(open(sys.argv[1]))
probs = j.get("problems", j.get("findings", []))
ds = [p for p in probs if p.get("class") == "data-elsewhere"]
kinds = sorted(p["what"].rsplit("(", 1)[1].rstrip(")") for p in ds)
assert kinds == ["cloud", "dedup", "efs", "hsm", "wimboot"], kinds
assert all(not p.get("error") for p in ds), ds
PY

# --- publish keeps them compressed; compare reads their data ---
"$LAYERCTL" publish -q --layer "$OS,type=os" "$WORK/pub.vhdx" >"$WORK/pub.out" 2>&1
grep -q "EFS-encrypted" "$WORK/pub.out" && [ ! -e "$WORK/pub.vhdx" ] \
  && ok "publish refuses an EFS file by name (its key cannot be carried)" || { not_ok "publish with EFS"; cat "$WORK/pub.out"; }
cp --sparse=always "$OS" "$WORK/os2.img"
# the EFS and corrupt files gone (through ntfs-3g), and three of the 5 GiB
# ones (compare reads every byte), the rest published
mkdir -p "$WORK/n3g"
ntfs-3g "$WORK/os2.img" "$WORK/n3g" && rm "$WORK/n3g$W/efs.dat" "$WORK/n3g$W"/bad* \
  "$WORK/n3g$W"/big.xpress* && umount "$WORK/n3g" || not_ok "ntfs-3g rm efs.dat bad* big.xpress*"
if "$LAYERCTL" publish -q --layer "$WORK/os2.img,type=os" "$WORK/pub.vhdx" >"$WORK/pub.out" 2>&1; then
  "$LAYERCTL" stat --json "$WORK/pub.vhdx" "$W/big.lzx" >"$WORK/pst.json" 2>&1
  grep -q '"compression": "wof-lzx"' "$WORK/pst.json" && [ "$(stat -c %b "$WORK/pub.vhdx")" -lt 400000 ] \
    && ok "publish keeps a Compact OS file compressed (the 5 GiB one takes its stream)" \
    || { not_ok "publish: the file is not kept compressed"; head -20 "$WORK/pst.json"; }
  "$LAYERCTL" cat "$WORK/pub.vhdx" "$W/many.lzx" | cmp -s - "$S/many" && ok "the image's copy reads as its data" \
    || not_ok "the image's many.lzx"
  "$LAYERCTL" stat --json "$WORK/pub.vhdx" "$W/dedup.dat" 2>&1 | grep -q '"data": "not readable' \
    && ok "publish keeps a deduplicated file as the placeholder it is" || not_ok "publish: dedup.dat"
  "$LAYERCTL" compare "$WORK/pub.vhdx" --layer "$WORK/os2.img,type=os" >"$WORK/cmp.out" 2>&1
  grep -q "^identical" "$WORK/cmp.out" && ok "compare: the image and the stack are the same, data read whole" \
    || { not_ok "compare"; head -20 "$WORK/cmp.out"; }
else
  not_ok "publish: $(cat "$WORK/pub.out")"
fi
finish
