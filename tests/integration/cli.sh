#!/usr/bin/env bash
# layerctl from the shell: help and usage errors, and each kind of bad input
# refused with one line naming the file, exit status 1, nothing written.
. "$(dirname "$0")/lib.sh"

# --- help and usage ---
check "layerctl --help" "$LAYERCTL" --help
for c in pack ls stat cat; do
  check "layerctl $c --help" "$LAYERCTL" $c --help
done
"$LAYERCTL" >/dev/null 2>&1; [ $? -eq 2 ] && ok "no command: exit 2" || not_ok "no command: exit 2"
"$LAYERCTL" frobnicate >/dev/null 2>&1; [ $? -eq 2 ] && ok "unknown command: exit 2" || not_ok "unknown command: exit 2"
"$LAYERCTL" pack --format zip a b >/dev/null 2>&1; [ $? -eq 2 ] && ok "bad --format: exit 2" || not_ok "bad --format: exit 2"
"$LAYERCTL" ls >/dev/null 2>&1; [ $? -eq 2 ] && ok "ls without LAYER: exit 2" || not_ok "ls without LAYER: exit 2"

# --- a good layer to spoil ---
mkdir -p "$WORK/src/Windows"
echo hello > "$WORK/src/Windows/win.ini"
"$LAYERCTL" pack -q "$WORK/src" "$WORK/good.vhd" || { not_ok "pack"; finish; exit 1; }
"$LAYERCTL" pack -q --format vhd-fixed "$WORK/src" "$WORK/fixed.vhd"
size=$(stat -c %s "$WORK/good.vhd")

cp "$WORK/good.vhd" "$WORK/truncated.vhd"
truncate -s $((size / 2)) "$WORK/truncated.vhd"
refuses "truncated VHD" "$WORK/truncated.vhd" "$LAYERCTL" ls "$WORK/truncated.vhd"

cp "$WORK/fixed.vhd" "$WORK/checksum.vhd"
fsize=$(stat -c %s "$WORK/fixed.vhd")
printf '\x7f' | dd of="$WORK/checksum.vhd" bs=1 seek=$((fsize - 512 + 40)) conv=notrunc status=none
refuses "bad footer checksum" "checksum" "$LAYERCTL" ls "$WORK/checksum.vhd"

cp "$WORK/good.vhd" "$WORK/bat.vhd"
printf '\x00\xff\xff\x00' | dd of="$WORK/bat.vhd" bs=1 seek=1536 conv=notrunc status=none
refuses "BAT entry past the end" "block table entry 0" "$LAYERCTL" ls "$WORK/bat.vhd"

echo "just some text" > "$WORK/notes.txt"
refuses "a file that is no image" "$WORK/notes.txt" "$LAYERCTL" ls "$WORK/notes.txt"
# cut short: one line in this project's words, not libntfs-3g's RAID hints
# nor libvhdi's call chain
"$LAYERCTL" pack -q -f raw "$WORK/perso" "$WORK/whole.img" 2>/dev/null || { mkdir -p "$WORK/perso"; echo x >"$WORK/perso/f"; "$LAYERCTL" pack -q -f raw "$WORK/perso" "$WORK/whole.img"; }
head -c 3000000 "$WORK/whole.img" >"$WORK/cut.img"
refuses "a truncated raw NTFS image: one line, 'truncated'" "truncated: the NTFS volume is" "$LAYERCTL" ls "$WORK/cut.img"
qemu-img convert -O vhdx "$WORK/whole.img" "$WORK/whole.vhdx" 2>/dev/null && {
  head -c 300000 "$WORK/whole.vhdx" >"$WORK/cut.vhdx"
  refuses "a truncated VHDX: said in our words" "truncated: a VHDX begins with a 1 MiB header area" \
    "$LAYERCTL" ls "$WORK/cut.vhdx"
  head -c 3000000 "$WORK/whole.vhdx" >"$WORK/cut2.vhdx"
  refuses "a VHDX cut after its headers" "cut short at 3000000 bytes" "$LAYERCTL" ls "$WORK/cut2.vhdx"
}
# other hypervisors' formats: said what they are, and how to convert
for f in qcow2 vmdk vdi; do
  qemu-img create -f $f "$WORK/disk.$f" 10M >/dev/null 2>&1 &&
    refuses "a $f disk is named, not taken for a bad disk" "qemu-img convert" "$LAYERCTL" ls "$WORK/disk.$f"
done
# pack: a personalization layer's working files are refused; raw output is 0644
mkdir -p "$WORK/perso/.wh..wh..work"
refuses "pack refuses a personalization layer (its working folder), pointing to capture --session" "capture --session" "$LAYERCTL" pack -q "$WORK/perso" "$WORK/perso.vhd"
rmdir "$WORK/perso/.wh..wh..work"; touch "$WORK/perso/.wh..wh..session"
refuses "pack refuses a session's lock file" ".wh..wh..session" "$LAYERCTL" pack -q "$WORK/perso" "$WORK/perso.vhd"
rm "$WORK/perso/.wh..wh..session"; echo x >"$WORK/perso/f"
check "pack --format raw makes a 0644 file, as a VHD, whatever the umask" bash -c "
  umask 077 && '$LAYERCTL' pack -q -f raw '$WORK/perso' '$WORK/perso.img' && [ \"\$(stat -c %a '$WORK/perso.img')\" = 644 ]"

head -c 8388608 /dev/zero > "$WORK/zero.img"
refuses "a zeroed boot sector" "zeroed" "$LAYERCTL" ls "$WORK/zero.img"

"$DISKTOOL" dump "$WORK/good.vhd" > "$WORK/good.raw"
"$DISKTOOL" vhd dynamic "$WORK/good.raw" "$WORK/parent.vhd"
"$DISKTOOL" vhd diff "$WORK/good.raw" "$WORK/child.vhd" "$WORK/parent.vhd"
check "a differencing layer reads through its parent" "$LAYERCTL" cat "$WORK/child.vhd" windows/win.ini
mv "$WORK/parent.vhd" "$WORK/moved-parent.vhd"
refuses "a missing parent" "not found" "$LAYERCTL" ls "$WORK/child.vhd"
check "--parent names a moved parent" "$LAYERCTL" ls --parent "$WORK/moved-parent.vhd" "$WORK/child.vhd"

refuses "a missing layer" "$WORK/nope.vhd" "$LAYERCTL" ls "$WORK/nope.vhd"
refuses "a missing path" "no/such" "$LAYERCTL" cat "$WORK/good.vhd" no/such
refuses "cat of a folder" "is a folder" "$LAYERCTL" cat "$WORK/good.vhd" Windows

# A FIFO in a folder layer is refused, not waited on.
mkdir -p "$WORK/fifolayer"; mkfifo "$WORK/fifolayer/pipe"
timeout 10 "$LAYERCTL" cat "$WORK/fifolayer" pipe >/dev/null 2>"$WORK/.err"; rc=$?
[ $rc -eq 1 ] && ok "cat of a FIFO in a folder layer: refused at once" || not_ok "cat of a FIFO: exit $rc"

# --- pack refuses, and writes nothing ---
nothing_written() {
  local what=$1
  local left
  left=$(ls -A "$WORK/out")
  if [ -n "$left" ]; then not_ok "$what: left $left"; else ok "$what: nothing written"; fi
}
mkdir -p "$WORK/out"
refuses "pack of a missing folder" "$WORK/missing" "$LAYERCTL" pack -q "$WORK/missing" "$WORK/out/x.vhd"
nothing_written "pack of a missing folder"
mkdir -p "$WORK/fifo"; mkfifo "$WORK/fifo/pipe"
refuses "pack --no-lx of a FIFO" "pipe" "$LAYERCTL" pack -q --no-lx "$WORK/fifo" "$WORK/out/x.vhd"
nothing_written "pack --no-lx of a FIFO"
mkdir -p "$WORK/clash/Program Files" "$WORK/clash/PROGRAM FILES"
refuses "pack of names that differ only in case" "differ only in case" "$LAYERCTL" pack -q "$WORK/clash" "$WORK/out/x.vhd"
nothing_written "pack of a case clash"
mkdir -p "$WORK/colon"; touch "$WORK/colon/a:b"
refuses "pack of a name Windows forbids" "a:b" "$LAYERCTL" pack -q "$WORK/colon" "$WORK/out/x.vhd"
mkdir -p "$WORK/full"; head -c 12000000 /dev/urandom > "$WORK/full/big.bin"
refuses "pack into too small a volume" "larger --size" "$LAYERCTL" pack -q --size 8M "$WORK/full" "$WORK/out/x.vhd"
nothing_written "pack into too small a volume"

# --- formats ---
for f in vhd-dynamic vhd-fixed raw; do
  "$LAYERCTL" pack -q --format $f "$WORK/src" "$WORK/fmt.$f" && \
    [ "$("$LAYERCTL" cat "$WORK/fmt.$f" WINDOWS/WIN.INI)" = hello ] && ok "pack --format $f reads back" \
    || not_ok "pack --format $f"
done
kind=$("$DISKTOOL" info "$WORK/fmt.vhd-fixed" | awk '/^kind/ {print $2}')
[ "$kind" = vhd-fixed ] && ok "vhd-fixed is a fixed VHD" || not_ok "vhd-fixed is $kind"
qemu-img convert -f vpc -O raw "$WORK/fmt.vhd-dynamic" "$WORK/q.raw" && \
  "$DISKTOOL" dump "$WORK/fmt.vhd-dynamic" | cmp - "$WORK/q.raw" >/dev/null && \
  ok "qemu-img reads our dynamic VHD as we do" || not_ok "qemu-img reads our dynamic VHD as we do"
json=$("$LAYERCTL" pack -q --json --size 64M "$WORK/src" "$WORK/sized.vhd")
echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["files"]==1 and d["dirs"]==1 and d["volume_size"]==64<<20' \
  && ok "pack --json and --size" || not_ok "pack --json: $json"

# Every subcommand answers --help (usage on stdout, exit 0) and refuses an
# unknown option (exit 2; fsck 16, as fsck(8)), and neither makes a file.
mkdir -p "$WORK/empty"
for c in pack ls stat cat which fsck conflicts login logoff refresh status reset \
    "reg compact" "reg merge" "reg new" "reg export" "reg import" "reg diff" \
    "repo init" "repo add" "repo assign" "repo unassign" "repo priority" "repo remove" "repo list" "repo resolve" acl diff capture; do
  want=2; [ "$c" = fsck ] && want=16
  (cd "$WORK/empty" && $LAYERCTL $c --help >"$WORK/h.out" 2>/dev/null); h=$?
  (cd "$WORK/empty" && $LAYERCTL $c --bogus-option >/dev/null 2>&1); b=$?
  if [ $h -eq 0 ] && grep -q "Usage" "$WORK/h.out" && [ $b -eq $want ] && [ -z "$(ls -A "$WORK/empty")" ]; then
    ok "layerctl $c: --help exit 0, an unknown option exit $want, no file made"
  else
    not_ok "layerctl $c: --help exit $h, unknown option exit $b (want 0 and $want), files: $(ls -A "$WORK/empty" | tr '\n' ' ')"
    rm -rf "$WORK/empty"/* "$WORK/empty"/.[!.]* 2>/dev/null
  fi
done

finish
