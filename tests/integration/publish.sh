#!/usr/bin/env bash
# Publish (issue 18): a stack composed into one disk image. The sample
# repository's stack for a user comes out the same as the stack (layerctl
# compare, and independently ntfs-3g's own driver against a layerfs
# mount); hard links stay one record; an OS layer made as a GPT disk with
# EFI, MSR and recovery partitions keeps its partition table, ids, other
# partitions, serial number and boot code, and so do disks Windows wrote
# (an MBR disk, a GPT VHDX); hives read with hivex equal the stack's merged
# ones; a publish killed half way leaves no OUT.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] && [ -e /dev/fuse ] || skip_all "needs root and /dev/fuse (ntfs-3g and layerfs mounts)"
for t in ntfs-3g qemu-img sgdisk sfdisk mkfs.fat mcopy hivexregedit setfattr; do
  command -v $t >/dev/null || skip_all "needs $t (scripts/setup installs it)"
done

S="$WORK/sample"
bash "$SOURCE_DIR/scripts/sample/make-repo" "$S" "$LAYERCTL" >/dev/null
R="$S"
who=(--repo "$R" --user demo --groups staff --machine any)
L=$S/Layers
stack=(--layer "$L/OS/Windows10.1.1.vhd,type=os" --layer "$L/App/Office.101.3.vhd,prio=10"
       --layer "$L/App/AdminTools.102.1.vhd,prio=20")
# the repository gives demo the same three layers
names=$("$LAYERCTL" repo resolve --json "$R" --user demo --groups staff --machine any |
  python3 -c 'import json,sys; print(*[l["name"] for l in json.load(sys.stdin)["stack"]])')
[ "$names" = "Windows10 Office AdminTools" ] || not_ok "the sample gives demo: $names"

# --- the sample, for a user ---
"$LAYERCTL" publish --json "${who[@]}" "$WORK/demo.vhd" >"$WORK/demo.json" 2>"$WORK/.err" \
  && ok "publish the sample repository's stack for demo" || { not_ok "publish: $(cat "$WORK/.err")"; }
python3 - "$WORK/demo.json" <<'PY' && ok "--json says what was published" || not_ok "--json: $(cat "$WORK/demo.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["files"] > 10 and d["dirs"] > 10 and d["hives"] == 3 and d["symlinks"] == 3, d
assert d["layout"] == "mbr" and d["disk_size"] > d["volume_size"] > 0 and len(d["serial"]) == 16, d
PY
"$LAYERCTL" compare "$WORK/demo.vhd" "${who[@]}" >"$WORK/cmp" 2>&1 \
  && ok "compare: the image is the stack (names, bytes, descriptors, attributes, times, streams, links, hives)" \
  || { not_ok "compare exits $?"; sed 's/^/    /' "$WORK/cmp" | head; }
"$LAYERCTL" compare "$WORK/demo.vhd" --layer "$L/OS/Windows10.1.1.vhd,type=os" \
  --layer "$L/App/Office.101.3.vhd,prio=10" >"$WORK/cmp" 2>&1; rc=$?
[ $rc -eq 1 ] && grep -q '^+ Windows/notepad.exe' "$WORK/cmp" && grep -q '^- Windows/editor.exe' "$WORK/cmp" \
  && ok "compare against another stack: exit 1, each difference named" || not_ok "compare without AdminTools: exit $rc"
refuses "--with-user when she has no personalization layer" "no personalization layer" \
  "$LAYERCTL" publish -q "${who[@]}" --with-user "$WORK/demo-user.vhd"
up=$(ls -d "$R"/Users/demo 2>/dev/null || echo "$R/Users/demo")
mkdir -p "$up/00000001_Windows10/Users/demo/Documents"
echo "her notes" >"$up/00000001_Windows10/Users/demo/Documents/notes.txt"
"$LAYERCTL" publish -q --verify "${who[@]}" --with-user "$WORK/demo-user.vhd" >/dev/null 2>"$WORK/.err" \
  && ok "publish --with-user --verify" || not_ok "publish --with-user --verify: $(head -3 "$WORK/.err")"

# independently: ntfs-3g's driver on the image's volume, layerfs on the stack
"$LAYERCTL" publish -q --format raw "${stack[@]}" "$WORK/demo.img"
read -r _ _ _ off len < <("$DISKTOOL" info "$WORK/demo.img" | grep '^volume')
dd if="$WORK/demo.img" of="$WORK/demo.vol" bs=512 skip=$((off / 512)) count=$((len / 512)) status=none
mkdir -p "$WORK/mi" "$WORK/mu"
if ntfs-3g -o ro,streams_interface=xattr "$WORK/demo.vol" "$WORK/mi" && MOUNTS+=("$WORK/mi") &&
   "$LAYERFS" "${stack[@]}" "$WORK/mu" && MOUNTS+=("$WORK/mu"); then
  check "ntfs-3g's view of the image is layerfs' view of the stack (bytes, ntfs_acl, ntfs_attrib, ntfs_times, streams)" \
    python3 "$TESTS_DIR/publish_check.py" "$WORK/mi" "$WORK/mu"
  # the merged hives, read with hivex, are the stack's
  for h in SOFTWARE SYSTEM; do
    PERL_UNICODE=SD hivexregedit --export "$WORK/mi/Windows/System32/config/$h" '\' >"$WORK/$h.hivex.reg"
    "$LAYERCTL" reg export "${stack[@]}" "Windows/System32/config/$h" >"$WORK/$h.stack.reg"
    check "HKLM\\$h in the image, read with hivex, equals reg export of the stack" \
      python3 "$TESTS_DIR/reg_equal.py" "$WORK/$h.hivex.reg" '\' "$WORK/$h.stack.reg" "HKEY_LOCAL_MACHINE\\$h"
  done
  umount "$WORK/mi"; fusermount3 -u "$WORK/mu"
else
  not_ok "mount the image with ntfs-3g and the stack with layerfs"
fi

# --- the hives publish composes, read by five readers (issue 32): an OS
# layer holding Windows' own SAM, DEFAULT and NTUSER.DAT (the last two
# dirty, with their logs beside them), an app layer with a fragment of
# each (SAM's empty, so its composed hive must read exactly as Windows'
# own; the others add keys, so theirs must read as `reg merge` of the
# same two). Each of python-registry, regipy,
# regfexport, reglookup and hivex is held to itself. ---
SUITES=${SUITES:-$SOURCE_DIR/../shared/suites}
if [ -d "$SUITES/regipy" ] && command -v regfexport >/dev/null && command -v reglookup >/dev/null; then
  H5="$WORK/h5"; mkdir -p "$H5/os/Windows/System32/config" "$H5/os/Users/jo" \
    "$H5/app/Windows/System32/config" "$H5/app/Users/jo" "$H5/m"
  for h in SAM DEFAULT DEFAULT.LOG1 DEFAULT.LOG2; do
    zcat "$REALDATA/hives/win10-rathbun/$h.gz" >"$H5/os/Windows/System32/config/$h"
  done
  for h in NTUSER.DAT ntuser.dat.LOG1 ntuser.dat.LOG2; do
    zcat "$REALDATA/hives/win10-rathbun/$h.gz" >"$H5/os/Users/jo/$h"
  done
  printf 'Windows Registry Editor Version 5.00\r\n\r\n' >"$H5/sam.reg"
  printf 'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_USERS\\.DEFAULT\\LayerfsTest]\r\n"Name"="value"\r\n"Num"=dword:00000007\r\n\r\n[HKEY_USERS\\.DEFAULT\\Control Panel\\LayerfsSub]\r\n"X"=hex:01,02\r\n' >"$H5/default.reg"
  printf 'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_CURRENT_USER\\Software\\Vendor]\r\n"Color"="blue"\r\n\r\n[HKEY_CURRENT_USER\\Software\\Vendor\\Deep\\Deeper]\r\n"Size"=hex(b):00,00,00,00,01,00,00,00\r\n' >"$H5/ntuser.reg"
  "$LAYERCTL" reg new --prefix 'HKEY_LOCAL_MACHINE\SAM' "$H5/app/Windows/System32/config/SAM" "$H5/sam.reg"
  "$LAYERCTL" reg new --prefix 'HKEY_USERS\.DEFAULT' "$H5/app/Windows/System32/config/DEFAULT" "$H5/default.reg"
  "$LAYERCTL" reg new --prefix 'HKEY_CURRENT_USER' "$H5/app/Users/jo/NTUSER.DAT" "$H5/ntuser.reg"
  "$LAYERCTL" reg merge "$H5/DEFAULT.ref" "$H5/os/Windows/System32/config/DEFAULT" \
    "$H5/app/Windows/System32/config/DEFAULT" >/dev/null
  "$LAYERCTL" reg merge "$H5/NTUSER.ref" "$H5/os/Users/jo/NTUSER.DAT" "$H5/app/Users/jo/NTUSER.DAT" >/dev/null
  for f in app/Windows/System32/config/SAM app/Windows/System32/config/DEFAULT app/Users/jo/NTUSER.DAT \
           DEFAULT.ref NTUSER.ref; do
    [ -s "$H5/$f" ] || not_ok "the hive stack's $f was not made (reg new, reg merge)"
  done
  if "$LAYERCTL" publish -q --format raw --layer "$H5/os,type=os" --layer "$H5/app,prio=10" "$H5/img" &&
     read -r _ _ _ off len < <("$DISKTOOL" info "$H5/img" | grep '^volume') &&
     dd if="$H5/img" of="$H5/vol" bs=512 skip=$((off / 512)) count=$((len / 512)) status=none &&
     ntfs-3g -o ro "$H5/vol" "$H5/m" && MOUNTS+=("$H5/m"); then
    for pair in "SAM|Windows/System32/config/SAM|os/Windows/System32/config/SAM" \
                "DEFAULT|Windows/System32/config/DEFAULT|DEFAULT.ref" \
                "NTUSER.DAT|Users/jo/NTUSER.DAT|NTUSER.ref"; do
      IFS='|' read -r name inimg ref <<<"$pair"
      cp "$H5/m/$inimg" "$H5/$name.published"
      if ! cmp -s "$H5/$name.published" "$H5/os/$inimg" &&
         SUITES="$SUITES" /usr/bin/python3 "$TESTS_DIR/hive_readers.py" "$H5/$ref" "$H5/$name.published" >"$WORK/rd.out" 2>&1; then
        ok "published $name (composed by publish's writer): five readers see it as $(basename "$ref") ($(tr '\n' ';' <"$WORK/rd.out" | cut -c1-120))"
      else
        not_ok "published $name: a reader sees it otherwise, or publish did not compose it"; sed 's/^/    /' "$WORK/rd.out" | head -6
      fi
    done
    umount "$H5/m"
  else
    not_ok "publish the hive stack and mount its image with ntfs-3g"
  fi
else
  not_ok "the registry readers (../shared/suites/regipy, regfexport, reglookup) are not here"
fi

# --- an OS layer made as a Windows disk: GPT with EFI, MSR, Windows, recovery ---
G="$WORK/gpt"; os="$G/os"
mkdir -p "$os/Windows/System32" "$os/Windows/WinSxS/x86_a" "$os/Windows/WinSxS/amd64_b" \
  "$os/Program Files/Long Named Application" "$G/m"
echo "MZ kernel32" >"$os/Windows/System32/kernel32.dll"
ln "$os/Windows/System32/kernel32.dll" "$os/Windows/WinSxS/x86_a/kernel32.dll"
ln "$os/Windows/System32/kernel32.dll" "$os/Windows/WinSxS/amd64_b/kernel32.dll"
echo "<settings/>" >"$os/Program Files/Long Named Application/Application Settings.config"
setfattr -n user.Zone.Identifier -v "[ZoneTransfer] ZoneId=3" \
  "$os/Program Files/Long Named Application/Application Settings.config"
"$LAYERCTL" pack -q --format raw --size 24M "$os" "$G/win.vol"
# 8.3 names, a compressed folder and file, a sparse file, as Windows
# makes them, through ntfs-3g
ntfs-3g -o compression,streams_interface=windows "$G/win.vol" "$G/m" && {
  # a CompactOS file's data lives in a stream of megabytes
  echo "MZ ntdll" >"$G/m/Windows/System32/ntdll.dll"
  head -c 300000 /dev/urandom >"$G/wof.bin"
  cat "$G/wof.bin" >"$G/m/Windows/System32/ntdll.dll:WofCompressedData"
  setfattr -h -n system.ntfs_dos_name -v "LONGNA~1" "$G/m/Program Files/Long Named Application"
  setfattr -h -n system.ntfs_dos_name -v "APPLIC~1.CON" \
    "$G/m/Program Files/Long Named Application/Application Settings.config"
  mkdir "$G/m/Windows/Logs" && setfattr -h -v 0x00000810 -n system.ntfs_attrib_be "$G/m/Windows/Logs"
  yes "a compressible log line" | head -c 300000 >"$G/m/Windows/Logs/setup.log"
  truncate -s 8M "$G/m/Windows/pagefile.sys" && echo "end" >>"$G/m/Windows/pagefile.sys"
  umount "$G/m"; }
# Windows' boot code and serial number (mkntfs writes its own)
python3 - "$G/win.vol" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(0x48); f.write(bytes.fromhex("1122334455667788"))
    f.seek(0x54); f.write(bytes((i * 7 + 1) & 0xFF for i in range(0x1FE - 0x54)))
    f.seek(512); f.write(b"BOOTMGR loader " * (15 * 512 // 15))
PY
make_disk() {  # make_disk DISK WITH_RECOVERY
  truncate -s 64M "$1"
  local rec=(); [ "$2" = 1 ] && rec=(-n4:0:0 -t4:2700 -c4:"Recovery")
  sgdisk -o -n1:2048:+8M -t1:ef00 -c1:"EFI system partition" -n2:0:+16M -t2:0c01 \
    -c2:"Microsoft reserved partition" -n3:0:+24M -t3:0700 -c3:"Basic data partition" "${rec[@]}" "$1" >/dev/null
  mkfs.fat -C "$G/esp.img" 8192 >/dev/null
  mmd -i "$G/esp.img" ::/EFI ::/EFI/Boot && echo "efi loader" | mcopy -i "$G/esp.img" - ::/EFI/Boot/bootx64.efi
  dd if="$G/esp.img" of="$1" bs=512 seek=2048 conv=notrunc status=none
  head -c 16M /dev/urandom | dd of="$1" bs=512 seek=18432 conv=notrunc status=none
  dd if="$G/win.vol" of="$1" bs=512 seek=51200 conv=notrunc status=none
  [ "$2" = 1 ] && head -c 12M /dev/urandom | dd of="$1" bs=512 seek=100352 conv=notrunc status=none
  rm -f "$G/esp.img"
}
make_disk "$G/disk.img" 1
mkdir -p "$G/app/Program Files/App"; echo "MZ app" >"$G/app/Program Files/App/app.exe"
"$LAYERCTL" pack -q "$G/app" "$G/app.vhd"
gstack=(--layer "$G/disk.img,type=os" --layer "$G/app.vhd")
check "publish a GPT OS layer as a raw disk, --verify" "$LAYERCTL" publish -q --verify "${gstack[@]}" "$G/out.img"
alloc() { "$LAYERCTL" stat --json "$1" "$2" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["size"], d["alloc"], " ".join(d["attributes"]))'; }
read -r sz al at < <(alloc "$G/out.img" Windows/Logs/setup.log)
[ "$al" -lt $((sz / 2)) ] && [[ "$at" == *compressed* ]] && ok "a compressed file stays compressed ($sz bytes in $al)" \
  || not_ok "compressed: $sz $al $at"
read -r sz al at < <(alloc "$G/out.img" Windows/pagefile.sys)
[ "$al" -le 65536 ] && [[ "$at" == *sparse* ]] && ok "a sparse file stays sparse ($sz bytes in $al)" \
  || not_ok "sparse: $sz $al $at"
sgdisk -v "$G/out.img" | grep -q "No problems found" && ok "sgdisk -v: the published GPT is sound" \
  || not_ok "sgdisk -v: $(sgdisk -v "$G/out.img" | head -3)"
sfdisk --verify "$G/out.img" >/dev/null 2>&1 && ok "sfdisk --verify" || not_ok "sfdisk --verify"
sgdisk -b "$G/gpt.before" "$G/disk.img" >/dev/null && sgdisk -b "$G/gpt.after" "$G/out.img" >/dev/null
check "the same GPT: disk GUID, partition GUIDs, types, names, offsets" cmp "$G/gpt.before" "$G/gpt.after"
cmp -n $((34 * 512)) "$G/disk.img" "$G/out.img" && ok "the same MBR and primary GPT, byte for byte" \
  || not_ok "MBR and primary GPT changed"
for p in "EFI:2048:16384" "MSR:18432:32768" "recovery:100352:$(( (64 * 2048 - 34) - 100352 ))"; do
  IFS=: read -r n s c <<<"$p"
  cmp -n $((c * 512)) -i $((s * 512)):$((s * 512)) "$G/disk.img" "$G/out.img" \
    && ok "the $n partition is copied byte for byte" || not_ok "the $n partition differs"
done
w=$((51200 * 512))
cmp -n 11 -i $w:$w "$G/disk.img" "$G/out.img" && cmp -n 8 -i $((w + 72)):$((w + 72)) "$G/disk.img" "$G/out.img" \
  && cmp -n $((8192 - 84)) -i $((w + 84)):$((w + 84)) "$G/disk.img" "$G/out.img" \
  && ok "the Windows volume keeps its serial number, boot code and \$Boot loader" \
  || not_ok "boot sector or \$Boot changed"
[ "$(mdir -b -i "$G/out.img@@$((2048 * 512))" ::/EFI/Boot)" = "::/EFI/Boot/bootx64.efi" ] \
  && ok "the EFI partition still reads (mtools)" || not_ok "EFI partition"
# hard links, 8.3 names and streams, as ntfs-3g sees the published volume
dd if="$G/out.img" of="$G/out.vol" bs=512 skip=51200 count=49152 status=none
if ntfs-3g -o ro,streams_interface=xattr "$G/out.vol" "$G/m"; then
  MOUNTS+=("$G/m")
  links=$(stat -c '%i %h' "$G/m/Windows/System32/kernel32.dll" "$G/m/Windows/WinSxS/x86_a/kernel32.dll" \
    "$G/m/Windows/WinSxS/amd64_b/kernel32.dll" | sort -u)
  [ "$(echo "$links" | wc -l)" = 1 ] && [ "${links#* }" = 3 ] \
    && ok "a file with three names is one MFT record with link count 3 ($links)" || not_ok "hard links: $links"
  d=$(getfattr -h --only-values -n system.ntfs_dos_name "$G/m/Program Files/Long Named Application" 2>/dev/null)
  [ "$d" = "LONGNA~1" ] && ok "8.3 names kept ($d)" || not_ok "8.3 name: '$d'"
  z=$(getfattr --only-values -n user.Zone.Identifier "$G/m/Program Files/Long Named Application/Application Settings.config" 2>/dev/null)
  [ "$z" = "[ZoneTransfer] ZoneId=3" ] && ok "alternate data streams kept" || not_ok "stream: '$z'"
  [ -f "$G/m/Program Files/App/app.exe" ] && ok "the app layer's file is in the image" || not_ok "app.exe missing"
  umount "$G/m"
else
  not_ok "ntfs-3g cannot mount the published Windows volume"
fi
if ntfs-3g -o ro,streams_interface=windows "$G/out.vol" "$G/m"; then
  cmp -s "$G/wof.bin" "$G/m/Windows/System32/ntdll.dll:WofCompressedData" \
    && ok "a 300 KB stream (as CompactOS keeps WofCompressedData) is kept whole" || not_ok "big stream"
  umount "$G/m"
else
  not_ok "ntfs-3g (streams as names) cannot mount the published volume"
fi
# VHDX (through qemu-img) and VHD
check "publish to .vhdx" "$LAYERCTL" publish -q "${gstack[@]}" "$G/out.vhdx"
check "qemu-img check is happy with the VHDX" qemu-img check -q "$G/out.vhdx"
check "compare the VHDX with the stack" "$LAYERCTL" compare "$G/out.vhdx" "${gstack[@]}"
qemu-img convert -f vhdx -O raw "$G/out.vhdx" "$G/vhdx.raw"
cmp -n $((51200 * 512)) "$G/out.img" "$G/vhdx.raw" && ok "the VHDX's disk has the same tables and partitions before C:" \
  || not_ok "the VHDX's disk differs before C:"
check "publish to .vhd and compare" bash -c '"$0" publish -q "${@:2}" "$1" && "$0" compare "$1" "${@:2}"' \
  "$LAYERCTL" "$G/out.vhd" "${gstack[@]}"
qemu-img convert -f vpc -O raw "$G/out.vhd" "$G/vhd.raw"
sgdisk -v "$G/vhd.raw" | grep -q "No problems found" && ok "the VHD's disk (its size rounded to whole geometry): GPT sound" \
  || not_ok "VHD GPT: $(sgdisk -v "$G/vhd.raw" | head -3)"
# growing C: refused when the recovery partition follows it, done when C: is last
refuses "--size past the partition with recovery after it" "recovery partition" \
  "$LAYERCTL" publish -q --size 40M "${gstack[@]}" "$G/big.img"
[ ! -e "$G/big.img" ] && [ -z "$(ls "$G" | grep publish-)" ] && ok "a refused publish leaves nothing" \
  || not_ok "a refused publish left: $(ls "$G")"
make_disk "$G/last.img" 0
check "publish grows C: when it is the last partition" "$LAYERCTL" publish -q --verify --size 40M \
  --layer "$G/last.img,type=os" "$G/grown.img"
sgdisk -v "$G/grown.img" | grep -q "No problems found" && [ "$(sgdisk -i3 "$G/grown.img" | grep '^Last sector' | cut -d' ' -f3)" = \
  $((51200 + 40 * 2048 - 1)) ] && ok "the grown partition ends 40 MiB on; sgdisk -v is happy" \
  || not_ok "grown: $(sgdisk -i3 "$G/grown.img" | grep -i sector)"

# --- disks Windows wrote (../shared/realdata): an MBR disk and a GPT VHDX ---
if [ -n "${REALDATA:-}" ] && [ -d "$REALDATA" ]; then
  X="$WORK/real"; mkdir -p "$X"
  gunzip -c "$REALDATA/ntfs/dfir_ntfs_ntfs_index.raw.gz" >"$X/index.raw"
  gunzip -c "$REALDATA/vhd/velociraptor_test.vhdx.gz" >"$X/test.vhdx"
  check "publish Windows 10's MBR disk, --verify" "$LAYERCTL" publish -q --verify --format raw \
    --layer "$X/index.raw,type=os" "$X/index.out"
  cmp -n 446 "$X/index.raw" "$X/index.out" && cmp -n 66 -i 446:446 "$X/index.raw" "$X/index.out" \
    && ok "its MBR: boot code, disk signature 0x5b8a2f18 and partition table unchanged" || not_ok "MBR changed"
  w=$((128 * 512))
  cmp -n 11 -i $w:$w "$X/index.raw" "$X/index.out" && cmp -n 8 -i $((w + 72)):$((w + 72)) "$X/index.raw" "$X/index.out" \
    && cmp -n $((8192 - 84)) -i $((w + 84)):$((w + 84)) "$X/index.raw" "$X/index.out" \
    && ok "its volume keeps Windows' serial number, boot code and \$Boot" || not_ok "Windows' boot sector changed"
  check "publish Windows Server's GPT VHDX (C: grows: it is the last partition), --verify" \
    "$LAYERCTL" publish -q --verify --layer "$X/test.vhdx,type=os" "$X/out.vhdx"
  qemu-img convert -f vhdx -O raw "$X/test.vhdx" "$X/in.raw"; qemu-img convert -f vhdx -O raw "$X/out.vhdx" "$X/out.raw"
  sgdisk -v "$X/out.raw" | grep -q "No problems found" && [ "$(sgdisk -p "$X/in.raw" | grep '^Disk identifier')" = \
    "$(sgdisk -p "$X/out.raw" | grep '^Disk identifier')" ] && [ "$(sgdisk -i1 "$X/in.raw" | grep 'unique GUID')" = \
    "$(sgdisk -i1 "$X/out.raw" | grep 'unique GUID')" ] \
    && ok "its GPT is sound and keeps the disk's and the partition's GUIDs" || not_ok "GPT of the published VHDX"
  # what dir shows (a folder's entry in its parent's index) is what its
  # record says, read by The Sleuth Kit (issue 32, item 2)
  check "Windows 10's published volume: every folder's index entry as its record (TSK)" \
    python3 "$TESTS_DIR/ntfs_index.py" "$X/index.out" 128
  check "Windows Server's published volume: every folder's index entry as its record (TSK)" \
    python3 "$TESTS_DIR/ntfs_index.py" "$X/out.raw" 128
  # the round trip of every NTFS image in ../shared/realdata (issue 32):
  # each published alone and under an app layer, then read by two
  # readers that are not this project's. The Sleuth Kit (fls, icat,
  # istat): names, sizes, bytes, links, 8.3 names, SI flags and times,
  # owner, attributes ($DATA streams, $EA, $OBJECT_ID, $REPARSE_POINT)
  # by type and size. ntfs-3g: bytes, system.ntfs_acl (descriptors),
  # ntfs_attrib, ntfs_times, streams. No difference but what the app
  # layer adds; `layerctl compare` of each output with its stack exits 0.
  gunzip -c "$REALDATA/vhd/dissect-hypervisor_dynamic.vhd.gz" >"$X/dyn.vhd"
  gunzip -c "$REALDATA/ntfs/velociraptor_partition_image.raw.gz" >"$X/part.raw"
  qemu-img convert -f vpc -O raw "$X/dyn.vhd" "$X/dyn.raw"
  mkdir -p "$X/app/LayerfsApp" "$X/ma" "$X/mb"
  echo "an app's file" >"$X/app/LayerfsApp/app.txt"
  sector_of() { "$DISKTOOL" info "$1" | awk '$1 == "volume" { print $4 / 512; exit }'; }
  for img in "index.raw index.raw" "test.vhdx in.raw" "dyn.vhd dyn.raw" "part.raw part.raw"; do
    set -- $img
    layer=$1 rawin=$2 sin=$(sector_of "$X/$2")
    for with in alone app; do
      app=(); skip=(); [ $with = app ] && app=(--layer "$X/app,prio=10") && skip=(--except LayerfsApp)
      out="$X/$layer.$with.out"
      if ! "$LAYERCTL" publish -q --format raw --layer "$X/$layer,type=os" "${app[@]}" "$out" 2>"$X/.err"; then
        not_ok "$layer published $with: $(head -2 "$X/.err")"; continue
      fi
      check "$layer published $with: layerctl compare with its stack exits 0" \
        "$LAYERCTL" compare "$out" --layer "$X/$layer,type=os" "${app[@]}"
      sout=$(sector_of "$out")
      python3 "$TESTS_DIR/tsk_tree.py" --meta "${skip[@]}" "$X/$rawin" "$sin" >"$X/tsk.a" &&
        python3 "$TESTS_DIR/tsk_tree.py" --meta "${skip[@]}" "$out" "$sout" >"$X/tsk.b"
      owner=owner
      if grep -qx '  owner ?' "$X/tsk.a"; then
        # TSK cannot read this volume's $Secure (velociraptor's: "Security
        # ID: 263 ()"); ntfs-3g compares the descriptors' bytes below
        sed -i 's/^  owner .*/  owner -/' "$X/tsk.a" "$X/tsk.b"; owner="owner (not by TSK here)"
      fi
      [ -s "$X/tsk.a" ] && cmp -s "$X/tsk.a" "$X/tsk.b" \
        && ok "$layer published $with: The Sleuth Kit reads the same $(grep -c '^[a-z] ' "$X/tsk.a") entries (names, 8.3 names, links, bytes, SI flags, times, $owner, streams, EA, object ID, reparse)" \
        || { not_ok "$layer published $with: The Sleuth Kit reads another tree"; diff "$X/tsk.a" "$X/tsk.b" | head -10; }
      check "$layer published $with: every folder's index entry as its record (TSK)" \
        python3 "$TESTS_DIR/ntfs_index.py" "$out" "$sout"
      dd if="$X/$rawin" of="$X/vol.a" bs=512 skip="$sin" status=none
      dd if="$out" of="$X/vol.b" bs=512 skip="$sout" status=none
      if ntfs-3g -o ro,streams_interface=xattr "$X/vol.a" "$X/ma" 2>/dev/null &&
         ntfs-3g -o ro,streams_interface=xattr "$X/vol.b" "$X/mb" 2>/dev/null; then
        check "$layer published $with: ntfs-3g reads the same names, bytes, descriptors, attributes, times, streams, reparse data, EAs and object IDs" \
          python3 "$TESTS_DIR/publish_check.py" "${skip[@]}" "$X/ma" "$X/mb"
        [ $with = alone ] || check "$layer under the app layer: its file is there (ntfs-3g)" \
          grep -qx "an app's file" "$X/mb/LayerfsApp/app.txt"
      else
        not_ok "$layer published $with: ntfs-3g does not mount the volume or its published copy"
      fi
      umount "$X/ma" 2>/dev/null; umount "$X/mb" 2>/dev/null; rm -f "$X/vol.a" "$X/vol.b" "$out"
    done
  done
  rm -rf "$X"
fi

# --- interrupted: kill -9 half way ---
mkdir -p "$WORK/big/Windows"
yes "layered" | head -c 400M >"$WORK/big/Windows/big.bin"
"$LAYERCTL" publish -q --layer "$WORK/big,type=os" "$WORK/int.vhd" 2>/dev/null & pid=$!
for _ in $(seq 200); do ls "$WORK" | grep -q 'int.vhd.publish-' && break; sleep 0.05; done
sleep 0.3; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
left=$(ls "$WORK" | grep -c 'int.vhd.publish-')
[ ! -e "$WORK/int.vhd" ] && ok "killed half way: no OUT ($left work files left)" || not_ok "killed: OUT exists"
check "the next publish to the same OUT succeeds" "$LAYERCTL" publish -q --layer "$WORK/big,type=os" "$WORK/int.vhd"
[ -z "$(ls "$WORK" | grep 'int.vhd.publish-')" ] && ok "and the work files of the killed one are gone" \
  || not_ok "work files left: $(ls "$WORK" | grep publish-)"
rm -rf "$WORK/big" "$WORK/int.vhd"

# --- what an admin gets wrong ---
"$LAYERCTL" publish "$WORK/x.vhd" 2>"$WORK/.err"; rc=$?
[ $rc -eq 2 ] && grep -q "name the stack" "$WORK/.err" && ok "no stack named: a usage error (exit 2)" \
  || not_ok "no stack named: exit $rc"
refuses "OUT in a folder that is not there" "$WORK/nowhere/x.vhd" "$LAYERCTL" publish -q "${stack[@]}" "$WORK/nowhere/x.vhd"
mkdir -p "$WORK/badapp/Program Files"; echo x >"$WORK/badapp/Program Files/a:b.txt"
refuses "--strict: a folder layer's name Windows cannot hold is refused" "a:b.txt" \
  "$LAYERCTL" publish -q --strict "${stack[@]}" --layer "$WORK/badapp" "$WORK/x.vhd"
[ -z "$(ls "$WORK" | grep 'x.vhd')" ] && ok "and it leaves nothing" || not_ok "left: $(ls "$WORK" | grep x.vhd)"
"$LAYERCTL" publish -q --verify "${stack[@]}" --layer "$WORK/badapp" "$WORK/x.vhd" >"$WORK/.out" 2>"$WORK/.err"; rc=$?
[ $rc -eq 0 ] && [ "$(wc -l <"$WORK/.err")" -eq 1 ] && grep -q "Program Files/a:b.txt: left out: the name has a character Windows forbids" "$WORK/.err" \
  && grep -q "^identical" "$WORK/.out" && ok "without --strict it is left out, said in one line, and --verify agrees" \
  || not_ok "name left out: exit $rc $(cat "$WORK/.err" "$WORK/.out")"
rm -f "$WORK/x.vhd"
refuses "--size too small" "too small" "$LAYERCTL" publish -q --size 4M "${stack[@]}" "$WORK/x.vhd"
check "publish --help" "$LAYERCTL" publish --help
check "compare --help" "$LAYERCTL" compare --help
# extended attributes and object IDs (issue 32, item 1): shown as
# ntfs-3g shows them, kept by copy-up and publish, compared; an object ID
# two layers hold goes to the file that wins, the other is said
mkdir -p "$WORK/ea/Windows" "$WORK/ea2/Program Files"
echo "a file with an EA" >"$WORK/ea/Windows/carrier.dll"; echo app >"$WORK/ea2/Program Files/app.exe"
"$LAYERCTL" pack -q --format raw --size 16M "$WORK/ea" "$WORK/ea.img"
"$LAYERCTL" pack -q --format raw --size 16M "$WORK/ea2" "$WORK/ea2.img"
OID=0x00112233445566778899aabbccddeeff
# one EA record: next 0, flags 0, name "PAYLOAD" (7), value "MZ..." (4)
EA=0x14000000000704005041594c4f4144004d5a9000
mkdir -p "$WORK/n3"
if ntfs-3g "$WORK/ea.img" "$WORK/n3" 2>/dev/null; then
  setfattr -n system.ntfs_ea -v "$EA" "$WORK/n3/Windows/carrier.dll" \
    && setfattr -n system.ntfs_object_id -v "$OID" "$WORK/n3/Windows/carrier.dll" || not_ok "ntfs-3g setfattr"
  umount "$WORK/n3"
  ntfs-3g "$WORK/ea2.img" "$WORK/n3" && setfattr -n system.ntfs_object_id -v "$OID" "$WORK/n3/Program Files/app.exe"
  umount "$WORK/n3"
  "$LAYERCTL" stat --json "$WORK/ea.img" Windows/carrier.dll | grep -q '"system.ntfs_ea"' \
    && ok "an NTFS layer shows a file's EAs and object ID (system.ntfs_ea, system.ntfs_object_id)" || not_ok "EA not shown"
  "$LAYERCTL" publish -q --layer "$WORK/ea.img,type=os" --layer "$WORK/ea2.img,type=app,prio=5" "$WORK/ea.vhd" 2>"$WORK/ea.err"
  "$LAYERCTL" stat --json "$WORK/ea.vhd" Windows/carrier.dll >"$WORK/ea.json" 2>&1
  grep -q '"system.ntfs_ea"' "$WORK/ea.json" \
    && ok "publish keeps a file's EA" || { not_ok "publish EA"; head -30 "$WORK/ea.json"; }
  # Program Files comes before Windows: app.exe is published first
  grep -q "carrier.dll: its object ID is not kept: a file made before it has the same" "$WORK/ea.err" \
    && "$LAYERCTL" stat --json "$WORK/ea.vhd" "Program Files/app.exe" | grep -q ntfs_object_id \
    && ok "an object ID two layers hold: the file published first keeps it, the other is said" \
    || { not_ok "duplicate object ID"; cat "$WORK/ea.err"; }
  "$LAYERCTL" compare "$WORK/ea.vhd" --layer "$WORK/ea.img,type=os" --layer "$WORK/ea2.img,type=app,prio=5" \
    >"$WORK/ea.cmp" 2>&1
  [ "$(cat "$WORK/ea.cmp")" = "$(printf '~ Windows/carrier.dll (object ID)\n1 difference (of 2 files, 2 folders, 0 hives compared)')" ] \
    && ok "compare: the EA the same; the object ID publish left out is the one difference" || { not_ok "compare EA"; cat "$WORK/ea.cmp"; }
  ntfs-3g -o ro "$WORK/ea.img" "$WORK/n3" && getfattr -n system.ntfs_ea -e hex "$WORK/n3/Windows/carrier.dll" 2>/dev/null \
    | grep -q 5041594c4f4144 && umount "$WORK/n3" && ok "ntfs-3g reads the EA written (PAYLOAD, an MZ value)" || not_ok "EA via ntfs-3g"
  # pack keeps them from a host folder too, as a copy-up leaves them
  # (trusted.layerfs.ntfs_*); an object ID two files hold goes to the first
  mkdir -p "$WORK/eah/Windows"; echo a >"$WORK/eah/Windows/carrier.dll"; echo b >"$WORK/eah/Windows/twin.dll"
  for f in carrier twin; do
    setfattr -n trusted.layerfs.ntfs_ea -v "$EA" "$WORK/eah/Windows/$f.dll"
    setfattr -n trusted.layerfs.ntfs_object_id -v "$OID" "$WORK/eah/Windows/$f.dll"
  done
  "$LAYERCTL" pack -q --format raw --size 16M "$WORK/eah" "$WORK/eah.img" 2>"$WORK/eah.err"
  ntfs-3g -o ro "$WORK/eah.img" "$WORK/n3" && {
    getfattr -n system.ntfs_ea -e hex "$WORK/n3/Windows/carrier.dll" 2>/dev/null | grep -q 5041594c4f4144 &&
    getfattr -n system.ntfs_object_id -e hex "$WORK/n3/Windows/carrier.dll" 2>/dev/null | grep -q "${OID#0x}" &&
    ! getfattr -n system.ntfs_object_id "$WORK/n3/Windows/twin.dll" >/dev/null 2>&1; r=$?; umount "$WORK/n3"; [ $r -eq 0 ]; } &&
    grep -q "/Windows/twin.dll: its object ID is not kept: a file made before it has the same" "$WORK/eah.err" \
    && ok "pack keeps a host file's EA and object ID (ntfs-3g reads them); a second file's same ID is said" \
    || { not_ok "pack EA and object ID"; cat "$WORK/eah.err"; }
  # folders a Windows volume has compressed, and archived ones: publish
  # writes each one's entry in its parent's index as its record
  mkdir -p "$WORK/cf"
  for i in $(seq 1 40); do mkdir -p "$WORK/cf/Windows/WinSxS/component folder $i/inner folder"; echo x >"$WORK/cf/Windows/WinSxS/component folder $i/f.txt"; done
  "$LAYERCTL" pack -q --format raw --size 32M "$WORK/cf" "$WORK/cf.img"
  if ntfs-3g "$WORK/cf.img" "$WORK/n3"; then
    for i in $(seq 1 40); do
      d="$WORK/n3/Windows/WinSxS/component folder $i"
      a=$(( i % 2 ? 0x810 : 0x30 ))
      setfattr -n system.ntfs_attrib_be -v "$(printf '0x%08x' $a)" "$d"
      setfattr -n system.ntfs_attrib_be -v 0x00000830 "$d/inner folder"
    done
    umount "$WORK/n3"
  fi
  "$LAYERCTL" publish -q --format raw --layer "$WORK/cf.img,type=os" "$WORK/cf.out" 2>"$WORK/cf.err" \
    && python3 "$TESTS_DIR/ntfs_index.py" "$WORK/cf.img" >"$WORK/cf.in" \
    && python3 "$TESTS_DIR/ntfs_index.py" "$WORK/cf.out" >"$WORK/.out" \
    && [ "$(cut -d' ' -f1 "$WORK/.out")" -ge 82 ] \
    && ok "compressed and archived folders: each index entry as its record after publish (TSK: $(cat "$WORK/.out"))" \
    || { not_ok "folders' index entries"; cat "$WORK/cf.err" "$WORK/cf.in" "$WORK/.out"; }
  rm -f "$WORK/cf.img" "$WORK/cf.out" "$WORK/eah.img"
else
  not_ok "ntfs-3g does not mount a packed volume"
fi
finish
