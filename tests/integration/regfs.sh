#!/usr/bin/env bash
# regfs through real mounts, and the merged hives layerfs serves. Hives are
# real (Windows 7 SYSTEM, Windows 10 NTUSER.DAT) or made by `layerctl reg
# new` from .reg files; everything written is read back with hivex.
. "$(dirname "$0")/lib.sh"
: "${LAYERFS:?LAYERFS not set}"
: "${REGFS:?REGFS not set}"
command -v hivexregedit >/dev/null || skip_all "no hivexregedit (libwin-hivex-perl)"
command -v hivexget >/dev/null || skip_all "no hivexget (libhivex-bin)"
[ -e /dev/fuse ] || skip_all "no /dev/fuse"

H="$REALDATA/hives"
mnt() {  # mnt PROGRAM DIR ARGS...
  local prog=$1 m="$WORK/$2"; shift 2
  mkdir -p "$m"
  if "$prog" "$@" "$m" 2>"$WORK/.mnterr"; then MOUNTS+=("$m"); return 0; fi
  cat "$WORK/.mnterr"; return 1
}
umnt() { fusermount3 -u "$WORK/$1"; }
# same WHAT EXPECTED COMMAND...: the command's output is EXPECTED
same() {
  local what=$1 want=$2; shift 2
  local got
  got=$("$@" 2>&1)
  if [ "$got" = "$want" ]; then ok "$what"; else not_ok "$what: got '$got', want '$want'"; fi
}
reg() {  # reg OUT PREFIX: a hive made from the .reg text on stdin
  cat >"$WORK/in.reg"
  "$LAYERCTL" reg new --prefix "$2" "$1" "$WORK/in.reg"
}

# --- a made hive: names a file name cannot hold, every type ---
cat <<'EOF' | reg "$WORK/SOFTWARE" 'HKEY_LOCAL_MACHINE\SOFTWARE'
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SOFTWARE\Vendor]
@="the default"
"@"="a value named @"
"a/b"="slash"
"100%"="percent"
"."="dot"
".."="dotdot"
"Both"="a value"
"Line"=hex(1):6c,00,0a,00,00,00
"Dw"=dword:0000002a
"Qw"=hex(b):00,00,00,00,01,00,00,00
"Multi"=hex(7):61,00,00,00,62,00,00,00,00,00
"Bin"=hex:00,01,fe,ff
"Exp"=hex(2):25,00,50,00,25,00,00,00
"Odd"=hex(1):41,00,42

[HKEY_LOCAL_MACHINE\SOFTWARE\Vendor\Both]

[HKEY_LOCAL_MACHINE\SOFTWARE\Vendor\key/with/slashes]
"x"=dword:00000001

[HKEY_LOCAL_MACHINE\SOFTWARE\Old]
"Gone"="soon"
EOF
mnt "$REGFS" r1 --hive "HKLM/SOFTWARE=$WORK/SOFTWARE" || { finish; exit 1; }
V="$WORK/r1/HKLM/SOFTWARE/Vendor"
same "listing: keys, values, escapes, NAME%v for a value a key shares" \
  "$(printf '%s\n' %2E %2E%2E %40 100%25 @ Bin Both Both%v Dw Exp Line Multi Odd Qw a%2Fb key%2Fwith%2Fslashes | sort)" \
  bash -c "ls -A '$V' | sort"
same "REG_SZ as UTF-8 and a newline; the default value is @" "the default" cat "$V/@"
same "a value named @ is %40" "a value named @" cat "$V/%40"
same "'/' and '%' escaped" "slash percent" bash -c "echo \$(cat '$V/a%2Fb') \$(cat '$V/100%25')"
same "'.' and '..' escaped whole" "dot dotdot" bash -c "echo \$(cat '$V/%2E') \$(cat '$V/%2E%2E')"
same "a value and a subkey of one name are both reached" "a value|dir" \
  bash -c "echo \"\$(cat '$V/Both%v')|\$(test -d '$V/Both' && echo dir)\""
same "DWORD and QWORD in decimal" "42 4294967296" bash -c "echo \$(cat '$V/Dw') \$(cat '$V/Qw')"
same "MULTI_SZ one string a line" "$(printf 'a\nb')" cat "$V/Multi"
same "binary raw" "00 01 fe ff" bash -c "od -An -tx1 '$V/Bin' | xargs"
same "a REG_SZ that is no clean string shows its raw bytes" "41 00 42" bash -c "od -An -tx1 '$V/Odd' | xargs"
same "user.reg.type" "REG_EXPAND_SZ" getfattr --absolute-names --only-values -n user.reg.type "$V/Exp"
same "user.reg.raw: the exact bytes" "6c 00 0a 00 00 00" \
  bash -c "getfattr --absolute-names --only-values -n user.reg.raw '$V/Line' | od -An -tx1 | xargs"
same "stat size is the text's" "3" stat -c %s "$V/Dw"
same "lookups ignore case" "42" cat "$WORK/r1/hklm/software/VENDOR/dw"
refuses_write() { ! bash -c "echo 1 > '$1'" 2>/dev/null; }
check "read-only without --upper" refuses_write "$V/Dw"
umnt r1

# --- writes into a fragment ---
mkdir -p "$WORK/up1"
mnt "$REGFS" r2 --hive "HKLM/SOFTWARE=$WORK/SOFTWARE" --upper "$WORK/up1" || { finish; exit 1; }
V="$WORK/r2/HKLM/SOFTWARE/Vendor"
check "write a value" bash -c "echo 'new text' > '$V/Fresh'"
check "set its type: the text is read as a DWORD" bash -c "echo 7 > '$V/Count' && setfattr -n user.reg.type -v REG_DWORD '$V/Count'"
check "write a DWORD in hex" bash -c "echo 0x10 > '$V/Dw'"
check "a DWORD that is no number is refused at close (EINVAL), the value kept" python3 -c "
import errno, sys
try:
    f = open(sys.argv[1], 'w'); f.write('many\\n'); f.close()
except OSError as e:
    sys.exit(0 if e.errno == errno.EINVAL and open(sys.argv[1]).read() == '16\\n' else 1)
sys.exit(1)" "$V/Dw"
check "set raw bytes" setfattr -n user.reg.raw -v 0x0102 "$V/Bin"
check "escaped names round-trip: create a%2Fc, %2E%2E%2E, %40x" bash -c "touch '$V/a%2Fc' '$V/%2E%2E%2E' '$V/%40x'"
check "mkdir, and a value in it" bash -c "mkdir -p '$V/New/Deep' && echo v > '$V/New/Deep/val'"
check "delete a value and a key" bash -c "rm '$V/Both%v' && rm -r '$WORK/r2/HKLM/SOFTWARE/Old'"
check "rmdir of a key with values is ENOTEMPTY" bash -c "! rmdir '$V/key%2Fwith%2Fslashes' 2>/dev/null"
check "rename a value and a key" bash -c "mv '$V/Fresh' '$V/Renamed' && mv '$V/New' '$V/Moved'"
check "a mount root cannot be removed" bash -c "! rmdir '$WORK/r2/HKLM/SOFTWARE' 2>/dev/null"
same "what shows after the changes" "new text|7|16|Moved|no Old|no Both%v" bash -c "
  echo \"\$(cat '$V/Renamed')|\$(cat '$V/Count')|\$(cat '$V/Dw')|\$(ls '$V' | grep -x Moved)|\$(test -e '$WORK/r2/HKLM/SOFTWARE/Old' || echo no Old)|\$(test -e '$V/Both%v' || echo no Both%v)\""
umnt r2
F="$WORK/up1/HKLM/SOFTWARE"
hivexregedit --export "$F" '\' >"$WORK/frag.reg" 2>&1
same "fragment: key marker for Old" "1" grep -cx '\[\\\.wh\.Old\]' "$WORK/frag.reg"
same "fragment: value marker for Both" "1" grep -cx '"\.wh\.Both"=hex(0):' "$WORK/frag.reg"
same "fragment: no marker for Fresh (no lower layer had it)" "0" grep -c 'wh.Fresh' "$WORK/frag.reg"
same "fragment: read back with hivex, the DWORD" "16" hivexget "$F" 'Vendor' Dw
same "fragment: a%2Fc is the value a/c" "" hivexget "$F" 'Vendor' 'a/c'
same "fragment: %40x is @x, %2E%2E%2E is ..." "2" bash -c "grep -cE '^\"(@x|\\.\\.\\.)\"=' '$WORK/frag.reg'"
same "fragment: the moved key in full, opaque" "v" hivexget "$F" 'Vendor\Moved\Deep' val
same "fragment: the type set by xattr" "REG_DWORD" bash -c "hivexregedit --export '$F' '\\Vendor' | grep -q '\"Count\"=dword:00000007' && echo REG_DWORD"
mnt "$REGFS" r3 --hive "HKLM/SOFTWARE=$WORK/SOFTWARE" --upper "$WORK/up1" || { finish; exit 1; }
same "after a remount the changes are there" "new text|16|no Old" bash -c "
  V='$WORK/r3/HKLM/SOFTWARE/Vendor'
  echo \"\$(cat \$V/Renamed)|\$(cat \$V/Dw)|\$(test -e '$WORK/r3/HKLM/SOFTWARE/Old' || echo no Old)\""
check "a key made again after its deletion shows nothing of the old one" bash -c "
  mkdir '$WORK/r3/HKLM/SOFTWARE/Old' && [ -z \"\$(ls -A '$WORK/r3/HKLM/SOFTWARE/Old')\" ]"
umnt r3

# --- a real SYSTEM hive: CurrentControlSet ---
if [ -f "$H/regipy_SYSTEM_Win7x86_WKS-WIN732BITA.gz" ]; then
  zcat "$H/regipy_SYSTEM_Win7x86_WKS-WIN732BITA.gz" >"$WORK/SYSTEM"
  mnt "$REGFS" r4 --hive "HKLM/SYSTEM=$WORK/SYSTEM" || { finish; exit 1; }
  S="$WORK/r4/HKLM/SYSTEM"
  same "CurrentControlSet links to the set Select\\Current names" "ControlSet001" readlink "$S/CurrentControlSet"
  same "and is walked through" "$(hivexget "$WORK/SYSTEM" 'ControlSet001\Control' SystemBootDevice)" \
    cat "$S/CurrentControlSet/Control/SystemBootDevice"
  same "a key's mtime is its last-written time (Select, 2009)" "2009" bash -c "stat -c %y '$S/Select' | cut -c1-4"
  same "key count through the mount equals the hive's" \
    "$(hivexregedit --export "$WORK/SYSTEM" '\' 2>/dev/null | grep -c '^\[')" \
    bash -c "find '$S' -path '$S/CurrentControlSet' -prune -o -type d -print | wc -l"
  umnt r4
fi

# --- layers: an OS layer with full hives, an app layer with fragments ---
OS="$WORK/os"; APP="$WORK/app"
mkdir -p "$OS/Windows/System32/config" "$OS/Users/alice" "$APP/Windows/System32/config" "$APP/Users/alice"
cp "$WORK/SOFTWARE" "$OS/Windows/System32/config/SOFTWARE"
[ -f "$WORK/SYSTEM" ] && cp "$WORK/SYSTEM" "$OS/Windows/System32/config/SYSTEM"
cat <<'EOF' | reg "$OS/Users/alice/NTUSER.DAT" 'HKEY_CURRENT_USER'
Windows Registry Editor Version 5.00

[HKEY_CURRENT_USER\Environment]
"Path"="C:\\os"
EOF
cat <<'EOF' | reg "$APP/Windows/System32/config/SOFTWARE" 'HKEY_LOCAL_MACHINE\SOFTWARE'
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SOFTWARE\AppVendor\App]
"Version"="2.5"

[HKEY_LOCAL_MACHINE\SOFTWARE\VENDOR]
"Dw"=dword:00000063
".wh.Bin"=hex(0):

[HKEY_LOCAL_MACHINE\SOFTWARE\.wh.Old]
EOF
cat <<'EOF' | reg "$APP/Users/alice/NTUSER.DAT" 'HKEY_CURRENT_USER'
Windows Registry Editor Version 5.00

[HKEY_CURRENT_USER\Environment]
"Path"="C:\\app"
EOF
check "pack the app layer into a VHDX (NTFS made by mkntfs)" "$LAYERCTL" pack -q "$APP" "$WORK/app.vhdx"
mnt "$LAYERFS" u1 --layer "$OS,type=os" --layer "$WORK/app.vhdx" || { finish; exit 1; }
M="$WORK/u1/Windows/System32/config/SOFTWARE"
same "union: the app layer's new key in the served SOFTWARE (hivex)" "2.5" hivexget "$M" 'AppVendor\App' Version
same "union: the OS layer's keys are still there" "the default" hivexget "$M" 'Vendor' ''
same "union: the app's value replaces the OS's" "99" hivexget "$M" 'Vendor' Dw
same "union: the app's markers delete a value and a key" "none|none" bash -c "
  echo \"\$(hivexget '$M' Vendor Bin 2>/dev/null || echo none)|\$(hivexget '$M' Old 2>/dev/null || echo none)\""
same "union: the key spelling of the higher layer shows" "VENDOR" bash -c "hivexregedit --export '$M' '\\' | grep -o '^\[\\\\VENDOR\]' | tr -d '[]\\\\'"
same "union: stat gives the merged size, which cat reads whole" "$(stat -c %s "$M")" bash -c "cat '$M' | wc -c"
same "union: a user's Path is unioned" 'C:\os;C:\app' hivexget "$WORK/u1/Users/alice/NTUSER.DAT" Environment Path
[ -f "$WORK/SYSTEM" ] && same "union: a hive one layer has is that layer's file" "$(md5sum <"$WORK/SYSTEM")" \
  bash -c "md5sum < '$WORK/u1/Windows/System32/config/SYSTEM'"
same "layerctl reg export --layer: the stack's merged hive" '"Version"="2.5"' bash -c "
  '$LAYERCTL' reg export --layer '$OS,type=os' --layer '$WORK/app.vhdx' windows/system32/CONFIG/software | tr -d '\\r' | grep -F '\"Version'"
"$LAYERCTL" reg compact --layer "$OS,type=os" --layer "$WORK/app.vhdx" \
  Windows/System32/config/SOFTWARE "$WORK/stackmerge" >/dev/null
same "the served hive holds what layerctl reg compact --layer merges" "0" bash -c "
  '$LAYERCTL' reg diff '$M' '$WORK/stackmerge' >/dev/null; echo \$?"
check "union: a merged hive cannot be opened for writing" bash -c "! (echo x >> '$M') 2>/dev/null"
umnt u1

# regfs over the same layers, writing into a personalization layer; then
# layerfs with that layer on top serves the change in the hive file.
mkdir -p "$WORK/up2"
mnt "$REGFS" r5 --layer "$OS,type=os" --layer "$WORK/app.vhdx" --upper "$WORK/up2" || { finish; exit 1; }
same "regfs on layers: HKLM and HKU hives" "$( [ -f "$WORK/SYSTEM" ] && echo 'HKLM/SOFTWARE HKLM/SYSTEM HKU/alice' || echo 'HKLM/SOFTWARE HKU/alice')" \
  bash -c "cd '$WORK/r5' && echo \$(ls -d */* | sort)"
same "regfs on layers: merged values" "2.5|99" bash -c "echo \"\$(cat '$WORK/r5/HKLM/SOFTWARE/AppVendor/App/Version')|\$(cat '$WORK/r5/HKLM/SOFTWARE/Vendor/Dw')\""
check "regfs on layers: a user's change" bash -c "echo 'C:\\mine' > '$WORK/r5/HKU/alice/Environment/Editor'"
umnt r5
check "the change went to the user's fragment at the hive's path" test -f "$WORK/up2/Users/alice/NTUSER.DAT"
mnt "$LAYERFS" u2 --layer "$OS,type=os" --layer "$WORK/app.vhdx" --upper "$WORK/up2" || { finish; exit 1; }
same "layerfs with the personalization layer serves the change" 'C:\mine' \
  hivexget "$WORK/u2/Users/alice/NTUSER.DAT" Environment Editor
# both mounted: a change through regfs rewrites the fragment; the next open
# through layerfs finds the copy changed and builds the hive again
mnt "$REGFS" r6 --layer "$OS,type=os" --layer "$WORK/app.vhdx" --upper "$WORK/up2" || { finish; exit 1; }
check "regfs changes the value while layerfs serves the hive" bash -c "echo 'C:\\other' > '$WORK/r6/HKU/alice/Environment/Editor'"
same "the served hive is built again with the change" 'C:\other' \
  hivexget "$WORK/u2/Users/alice/NTUSER.DAT" Environment Editor
# HKLM (issue 27): the layer has no Windows/System32/config yet; layerfs
# has listed it; regfs makes it to save the fragment. The drive's hive
# shows the change at once, and its time moves with each change.
check "the personalization layer has no System32/config yet; layerfs lists it" bash -c "
  [ ! -e '$WORK/up2/Windows' ] && ls -l '$WORK/u2/Windows/System32/config' >/dev/null &&
  hivexget '$WORK/u2/Windows/System32/config/SOFTWARE' 'AppVendor\\App' Version >/dev/null"
check "a change of HKLM through regfs is in layerfs' SOFTWARE at once" bash -c "
  echo 9.0 > '$WORK/r6/HKLM/SOFTWARE/AppVendor/App/Version' &&
  [ \"\$(hivexget '$WORK/u2/Windows/System32/config/SOFTWARE' 'AppVendor\\App' Version)\" = 9.0 ]"
check "the next change too, and the hive file's time moves with it" bash -c "
  t1=\$(stat -c %Y.%y '$WORK/u2/Windows/System32/config/SOFTWARE') && sleep 0.05 &&
  echo 9.1 > '$WORK/r6/HKLM/SOFTWARE/AppVendor/App/Version' &&
  [ \"\$(hivexget '$WORK/u2/Windows/System32/config/SOFTWARE' 'AppVendor\\App' Version)\" = 9.1 ] &&
  [ \"\$(stat -c %Y.%y '$WORK/u2/Windows/System32/config/SOFTWARE')\" != \"\$t1\" ]"
umnt r6
umnt u2

# --- bad input ---
head -c 5000 "$WORK/SOFTWARE" >"$WORK/trunc"
refuses "regfs: a hive cut inside its base block" "$WORK/trunc" "$REGFS" --hive "HKLM/SOFTWARE=$WORK/trunc" "$WORK/r1"
if [ -f "$WORK/SYSTEM" ]; then
  head -c 1000000 "$WORK/SYSTEM" >"$WORK/trunc2"
  refuses "regfs: a hive cut short" "$WORK/trunc2: cut short" "$REGFS" --hive "HKLM/SYSTEM=$WORK/trunc2" "$WORK/r1"
fi
cp "$WORK/SOFTWARE" "$WORK/badsum"; printf 'X' | dd of="$WORK/badsum" bs=1 seek=48 conv=notrunc 2>/dev/null
refuses "regfs: a bad base block checksum" "$WORK/badsum: bad base block checksum" "$REGFS" --hive "HKLM/SYSTEM=$WORK/badsum" "$WORK/r1"
refuses "regfs: a missing hive" "$WORK/none" "$REGFS" --hive "HKLM/SOFTWARE=$WORK/none" "$WORK/r1"
refuses "regfs: a bad mount name" "HKLM" "$REGFS" --hive "HKLM=$WORK/SOFTWARE" "$WORK/r1"
refuses "regfs: layers without hives" "no layer has a registry hive" "$REGFS" --layer "$APP/Users" "$WORK/r1"
mkdir -p "$WORK/bad/Windows/System32/config"
printf 'regf' >"$WORK/bad/Windows/System32/config/SOFTWARE"
head -c 8192 /dev/urandom >>"$WORK/bad/Windows/System32/config/SOFTWARE"
mkdir -p "$WORK/u3"
"$LAYERFS" -f --layer "$OS,type=os" --layer "$WORK/bad,name=broken" "$WORK/u3" 2>"$WORK/u3.log" &
for _ in $(seq 50); do mountpoint -q "$WORK/u3" && break; sleep 0.1; done
if mountpoint -q "$WORK/u3"; then
  MOUNTS+=("$WORK/u3")
  check "union: a corrupt fragment gives EIO, not a crash" bash -c "! cat '$WORK/u3/Windows/System32/config/SOFTWARE' >/dev/null 2>&1"
  umnt u3
  wait
  check "union: the log names the hive and the layer" grep -q "SOFTWARE.*layer 'broken'" "$WORK/u3.log"
else
  not_ok "union with a corrupt fragment did not mount"; cat "$WORK/u3.log"
fi
# --- a full disk: the change is refused with ENOSPC and does not show ---
if [ "$(id -u)" -eq 0 ] && mkdir -p "$WORK/full" && mount -t tmpfs -o size=256k tmpfs "$WORK/full"; then
  mnt "$REGFS" r8 --hive "HKLM/SOFTWARE=$WORK/SOFTWARE" --upper "$WORK/full" || { finish; exit 1; }
  V="$WORK/r8/HKLM/SOFTWARE/Vendor"
  check "a first change is saved" bash -c "echo 5 > '$V/Dw'"
  dd if=/dev/zero of="$WORK/full/fill" bs=4k 2>/dev/null
  check "a change on a full disk fails with ENOSPC, and the old value shows" python3 -c "
import errno, sys
try:
    f = open(sys.argv[1], 'w'); f.write('9\\n'); f.close()
except OSError as e:
    sys.exit(0 if e.errno == errno.ENOSPC and open(sys.argv[1]).read() == '5\\n' else 2)
sys.exit(1)" "$V/Dw"
  check "a new value on a full disk fails with ENOSPC, and does not show" python3 -c "
import errno, os, sys
try:
    open(sys.argv[1], 'w').close()
except OSError as e:
    sys.exit(0 if e.errno == errno.ENOSPC and not os.path.exists(sys.argv[1]) else 2)
sys.exit(1)" "$V/NotSaved"
  check "a refused change is not saved later, when room comes (another fd, its release)" python3 -c "
import errno, os, sys
f = open(sys.argv[1], 'w'); other = os.dup(f.fileno()); f.write('7\\n')
try:
    f.close()
    sys.exit(1)
except OSError as e:
    if e.errno != errno.ENOSPC:
        sys.exit(2)
os.unlink(sys.argv[2])
os.close(other)
sys.exit(0 if open(sys.argv[1]).read() == '5\\n' else 3)" "$V/Dw" "$WORK/full/fill"
  rm -f "$WORK/full/fill"
  check "with room again, changes are saved" bash -c "echo 6 > '$V/Dw' && [ \"\$(cat '$V/Dw')\" = 6 ]"
  umnt r8
  umount "$WORK/full"
fi
# --- a slow disk: a change's save (a temporary, fsynced, renamed) is
# written with the view's lock let go, so readers are answered while it
# waits; the next change waits for it. (Before, the view's lock was held
# across the fsync: the reader below waited ~2.5 s.) ---
if [ -f "${SLOW_FSYNC:-}" ]; then
  mkdir -p "$WORK/slowup"
  LD_PRELOAD="$SLOW_FSYNC" LF_SLOW_FSYNC_MATCH=".tmp." LF_SLOW_FSYNC_MS=3000 \
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
    mnt "$REGFS" r9 --hive "HKLM/SOFTWARE=$WORK/SOFTWARE" --upper "$WORK/slowup" ||
    { finish; exit 1; }
  V="$WORK/r9/HKLM/SOFTWARE/Vendor"
  rm -f "$WORK/slow.done"
  python3 -c "
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY); os.write(fd, b'41\\n'); os.close(fd)
open(sys.argv[2], 'w').close()" "$V/Dw" "$WORK/slow.done" &
  writer=$!
  sleep 0.7
  check "a save waits on a slow fsync: a reader of the same hive is answered in < 1 s" python3 -c "
import os, sys, time
t = time.monotonic()
names = os.listdir(sys.argv[1]); text = open(sys.argv[2]).read()
d = time.monotonic() - t
print('listing and read took %.2f s; %r' % (d, text))
sys.exit(0 if d < 1.0 and text == 'the default\\n' and 'Dw' in names else 1)" "$V" "$V/@"
  check "... and the save was still under way then" test ! -e "$WORK/slow.done"
  check "a second change waits for the first one's save, then is saved too" python3 -c "
import sys, time
t = time.monotonic()
open(sys.argv[1], 'w').write('b value\\n')
d = time.monotonic() - t
print('second change took %.2f s' % d)
sys.exit(0 if d >= 1.0 else 1)" "$V/@"
  wait "$writer"
  check "both changes show, and are in the fragment on disk" bash -c "
    [ \"\$(cat '$V/Dw')\" = 41 ] && [ \"\$(cat '$V/@')\" = 'b value' ] &&
    hivexget '$WORK/slowup/HKLM/SOFTWARE' 'Vendor' @ | grep -qx 'b value' &&
    hivexget '$WORK/slowup/HKLM/SOFTWARE' 'Vendor' Dw | grep -qx 41"
  umnt r9
fi
# a value over 64 KiB: its file has every byte; user.reg.raw cannot (E2BIG),
# and the log names the value
python3 -c "
data = bytes(range(256)) * 300   # 76,800 bytes
print('Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Big]')
print('\"Blob\"=hex:' + ','.join('%02x' % b for b in data))" >"$WORK/big.reg"
"$LAYERCTL" reg new --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$WORK/BIG" "$WORK/big.reg"
mkdir -p "$WORK/rbig"
"$REGFS" -f --hive "HKLM/SOFTWARE=$WORK/BIG" "$WORK/rbig" 2>"$WORK/rbig.log" &
for _ in $(seq 50); do [ -d "$WORK/rbig/HKLM/SOFTWARE/Big" ] && break; sleep 0.1; done
check "a value of 76,800 bytes: its file holds them all" bash -c "[ \$(stat -c %s '$WORK/rbig/HKLM/SOFTWARE/Big/Blob') = 76800 ] && [ \$(wc -c < '$WORK/rbig/HKLM/SOFTWARE/Big/Blob') = 76800 ]"
check "user.reg.raw of it: E2BIG, and the log names the value" bash -c "
  ! python3 -c \"import os; os.getxattr('$WORK/rbig/HKLM/SOFTWARE/Big/Blob', 'user.reg.raw')\" 2>'$WORK/e2big' &&
  grep -q 'Argument list too long' '$WORK/e2big' && grep -q 'Big/Blob: user.reg.raw' '$WORK/rbig.log'"
fusermount3 -u "$WORK/rbig"; wait
finish
