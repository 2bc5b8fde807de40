#!/usr/bin/env bash
# Real disks written by Windows (../shared/realdata): our block sources read
# the same bytes as qemu-img, and our NTFS layer shows the same tree and
# bytes as ntfs-3g's own driver mounted on the same volume.
. "$(dirname "$0")/lib.sh"

REAL=${REALDATA:-}
[ -n "$REAL" ] && [ -d "$REAL" ] || skip_all "no real Windows images (../shared/realdata is absent)"
command -v ntfs-3g >/dev/null || skip_all "ntfs-3g is not installed"

gunzip -c "$REAL/vhd/velociraptor_test.vhdx.gz" > "$WORK/test.vhdx"
gunzip -c "$REAL/vhd/dissect-hypervisor_dynamic.vhd.gz" > "$WORK/dynamic.vhd"
gunzip -c "$REAL/ntfs/velociraptor_partition_image.raw.gz" > "$WORK/partition.raw"
gunzip -c "$REAL/ntfs/dfir_ntfs_ntfs_index.raw.gz" > "$WORK/index.raw"

# Same bytes as qemu-img reads (for the VHDX, libvhdi is our reader).
for img in test.vhdx:vhdx dynamic.vhd:vpc; do
  f=${img%%:*} fmt=${img##*:}
  qemu-img convert -f "$fmt" -O raw "$WORK/$f" "$WORK/$f.qemu.raw"
  "$DISKTOOL" dump "$WORK/$f" > "$WORK/$f.ours.raw"
  check "$f: our reader gives qemu-img's bytes" cmp "$WORK/$f.qemu.raw" "$WORK/$f.ours.raw"
  # a registry's layer is read through an lf_file: for a VHDX, our own
  # reader (fs/disk/source_vhdx_file.c), not libvhdi
  "$DISKTOOL" dump-file "$WORK/$f" > "$WORK/$f.file.raw"
  check "$f: read as a registry's layer is, the same bytes" cmp "$WORK/$f.qemu.raw" "$WORK/$f.file.raw"
done

info() { "$DISKTOOL" info "$1" | awk '/^volume/ {print $2, $4, $5}'; }
[ "$(info "$WORK/test.vhdx")" = "gpt 65536 3145728" ] && ok "test.vhdx: NTFS found in the GPT at LBA 128" \
  || not_ok "test.vhdx volume: $(info "$WORK/test.vhdx")"
[ "$(info "$WORK/dynamic.vhd" | cut -d' ' -f1-2)" = "mbr 65536" ] && ok "dynamic.vhd: NTFS found in the MBR at LBA 128" \
  || not_ok "dynamic.vhd volume: $(info "$WORK/dynamic.vhd")"
[ "$(info "$WORK/index.raw" | cut -d' ' -f1-2)" = "mbr 65536" ] && ok "index.raw: NTFS found in the MBR" \
  || not_ok "index.raw volume: $(info "$WORK/index.raw")"
[ "$(info "$WORK/partition.raw" | cut -d' ' -f1-2)" = "bare 0" ] && ok "partition.raw: a bare volume" \
  || not_ok "partition.raw volume: $(info "$WORK/partition.raw")"

# Each volume beside ntfs-3g's view of it.
compare_with_ntfs3g() {
  local name=$1 layer=$2 raw=$3
  local off len
  read -r _ off len < <(info "$layer")
  dd if="$raw" of="$WORK/$name.vol" bs=512 skip=$((off / 512)) count=$((len / 512)) status=none
  mkdir -p "$WORK/mnt-$name"
  if ! ntfs-3g -o ro "$WORK/$name.vol" "$WORK/mnt-$name" 2>"$WORK/.err"; then
    not_ok "$name: ntfs-3g cannot mount it: $(cat "$WORK/.err")"
    return
  fi
  MOUNTS+=("$WORK/mnt-$name")
  check "$name: same names, types, sizes, times and bytes as ntfs-3g shows" \
    python3 "$TESTS_DIR/compare_tree.py" "$LAYERCTL" "$layer" "$WORK/mnt-$name" --mount-prefix "$WORK/mnt-$name"
}
compare_with_ntfs3g vhdx "$WORK/test.vhdx" "$WORK/test.vhdx.qemu.raw"
compare_with_ntfs3g vhd "$WORK/dynamic.vhd" "$WORK/dynamic.vhd.qemu.raw"
compare_with_ntfs3g partition "$WORK/partition.raw" "$WORK/partition.raw"
compare_with_ntfs3g index "$WORK/index.raw" "$WORK/index.raw"

# What Windows put there, looked up in other cases.
names() { "$LAYERCTL" ls --json "$1" | python3 -c 'import json,sys; print(" ".join(e["name"] for e in json.load(sys.stdin)))'; }
out=$(names "$WORK/test.vhdx")
[ "$out" = "\$RECYCLE.BIN Hello.txt.txt System Volume Information Users Windows" ] \
  && ok "test.vhdx root: $out" || not_ok "test.vhdx root: $out"
check "test.vhdx: users/ADMINISTRATOR/secret.TXT.txt reads" "$LAYERCTL" cat "$WORK/test.vhdx" users/ADMINISTRATOR/secret.TXT.txt
label=$("$LAYERCTL" stat --json "$WORK/test.vhdx" / | python3 -c 'import json,sys; print(json.load(sys.stdin)["layer"]["label"])')
[ "$label" = "Test Volume" ] && ok "test.vhdx label" || not_ok "test.vhdx label: $label"
for p in windows/system32/config/SYSTEM WINDOWS/System32/CONFIG/sam users/administrator/ntuser.DAT; do
  check "partition.raw: $p" "$LAYERCTL" cat "$WORK/partition.raw" "$p"
done
ours=$(names "$WORK/index.raw" | grep -o 'AAAA[^ ]*' | wc -l)
theirs=$(ls "$WORK/mnt-index" | grep -c AAAA)
[ "$ours" -eq "$theirs" ] && [ "$ours" -gt 10 ] && ok "index.raw: all $ours long names over several index blocks" \
  || not_ok "index.raw: $ours long names, ntfs-3g shows $theirs"
empty=$("$LAYERCTL" ls "$WORK/dynamic.vhd" | wc -l)
[ "$empty" = 0 ] && ok "dynamic.vhd: a volume with only metafiles lists empty" || not_ok "dynamic.vhd lists $empty"

finish
