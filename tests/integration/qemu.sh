#!/usr/bin/env bash
# Disks made by qemu-img read back byte for byte: VHD fixed and dynamic
# (our reader) and VHDX fixed and dynamic (libvhdi).
. "$(dirname "$0")/lib.sh"
command -v qemu-img >/dev/null || skip_all "qemu-img is not installed"

# 24 MiB + 5 sectors of mixed content: zeros, random, a repeating pattern.
python3 - "$WORK/disk.raw" <<'PY'
import random, sys
r = random.Random(7)
with open(sys.argv[1], "wb") as f:
    for i in range(24):
        f.write(bytes(1 << 20) if i % 3 == 0 else r.randbytes(1 << 20) if i % 3 == 1 else bytes([i]) * (1 << 20))
    f.write(r.randbytes(5 * 512))
PY
for spec in vpc:subformat=fixed,force_size=on vpc:subformat=dynamic,force_size=on vhdx:subformat=fixed vhdx:subformat=dynamic \
    vhdx:subformat=dynamic,block_size=1M vhdx:subformat=dynamic,block_size=64M,log_size=8M; do
  fmt=${spec%%:*} opts=${spec#*:}
  out="$WORK/q.$fmt.${opts//[=,]/_}"
  qemu-img convert -f raw -O "$fmt" -o "$opts" "$WORK/disk.raw" "$out"
  "$DISKTOOL" dump "$out" | head -c "$(stat -c %s "$WORK/disk.raw")" > "$WORK/dump"
  check "qemu-img $fmt $opts: same bytes" cmp "$WORK/disk.raw" "$WORK/dump"
  # as a registry's layer is read: through an lf_file (our own VHDX reader)
  "$DISKTOOL" dump-file "$out" | head -c "$(stat -c %s "$WORK/disk.raw")" > "$WORK/dump"
  check "qemu-img $fmt $opts, read as a registry's layer: same bytes" cmp "$WORK/disk.raw" "$WORK/dump"
done

# And the other way: qemu-img reads our VHDs.
for t in fixed dynamic; do
  "$DISKTOOL" vhd $t "$WORK/disk.raw" "$WORK/ours.$t.vhd"
  qemu-img convert -f vpc -O raw "$WORK/ours.$t.vhd" "$WORK/back.$t.raw"
  head -c "$(stat -c %s "$WORK/disk.raw")" "$WORK/back.$t.raw" > "$WORK/back.cut"
  check "our $t VHD: qemu-img reads the same bytes" cmp "$WORK/disk.raw" "$WORK/back.cut"
done
# (output captured first: under pipefail, grep -q quitting early can kill
# vhdiinfo with SIGPIPE)
info=$(vhdiinfo "$WORK/ours.dynamic.vhd" 2>&1)
case "$info" in *"Disk type"*Dynamic*) ok "libvhdi sees our dynamic VHD as dynamic" ;;
  *) not_ok "libvhdi sees our dynamic VHD as dynamic: $info" ;; esac

finish
