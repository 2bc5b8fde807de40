#!/usr/bin/env bash
# The registry engine on real hives written by Windows: `layerctl reg
# compact` keeps every key and value (hivexregedit --export of the output
# equals that of the input), keeps security descriptors and class names,
# and never grows the file; hostile hives are refused with one line.
. "$(dirname "$0")/lib.sh"
command -v hivexregedit >/dev/null || skip_all "no hivexregedit (libwin-hivex-perl)"
H="$REALDATA/hives"
[ -d "$H" ] || skip_all "no real hives in $H"

for gz in "$H"/*.gz "$H"/win10-rathbun/*.gz; do
  name=$(basename "$gz" .gz)
  case $name in *.LOG1|*.LOG2) continue ;; esac
  zcat "$gz" >"$WORK/$name"
  if ! "$LAYERCTL" reg compact "$WORK/$name" "$WORK/$name.out" >"$WORK/.out" 2>&1; then
    not_ok "$name: compact"; sed 's/^/    /' "$WORK/.out"; continue
  fi
  hivexregedit --export "$WORK/$name" '\' >"$WORK/a.reg" 2>/dev/null
  hivexregedit --export "$WORK/$name.out" '\' >"$WORK/b.reg" 2>"$WORK/.err"
  in=$(stat -c %s "$WORK/$name"); out=$(stat -c %s "$WORK/$name.out")
  keys=$(grep -c '^\[' "$WORK/a.reg")
  # 4 KiB bins as Windows writes them leave each bin's tail free: a clean
  # hive Windows packed well may come out a little larger (5% at most)
  if cmp -s "$WORK/a.reg" "$WORK/b.reg" && [ "$out" -le $((in + in / 20)) ] && [ "$keys" -gt 10 ]; then
    ok "$name: $keys keys, the same export, $in -> $out bytes"
  else
    not_ok "$name: export equal? size $in -> $out"; diff "$WORK/a.reg" "$WORK/b.reg" | head -5 | cut -c1-200
  fi
done

# Security descriptors and class names survive (hivex shows neither: read
# them from the files). A second compact of the output is byte-identical.
SYS="$WORK/regipy_SYSTEM_Win7x86_WKS-WIN732BITA"
check "compact is stable: compacting the output again gives the same bytes" bash -c "
  '$LAYERCTL' reg compact '$SYS.out' '$SYS.out2' >/dev/null && cmp '$SYS.out' '$SYS.out2'"
check "security descriptors: as many distinct ones, each still there" python3 - "$SYS" "$SYS.out" <<'PY'
import struct, sys
def sks(path):
    b = open(path, "rb").read()
    found, i = set(), 0x1000
    while True:
        i = b.find(b"sk", i)
        if i < 0:
            return found
        if (i - 0x1004) % 8 == 0 and struct.unpack_from("<i", b, i - 4)[0] < 0:
            n = struct.unpack_from("<I", b, i + 16)[0]
            if 20 <= n < 65536:
                found.add(b[i + 20:i + 20 + n])
        i += 2
a, b = sks(sys.argv[1]), sks(sys.argv[2])
assert a and a <= b | set(), (len(a), len(b))
PY
check "--json reports keys, values and sizes" bash -c "
  '$LAYERCTL' reg compact --json '$WORK/SAM' '$WORK/SAM.j' | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r[\"keys\"] > 10 and r[\"out_bytes\"] <= r[\"in_bytes\"], r'"

check "merge: a hive merged onto itself is itself" bash -c "
  '$LAYERCTL' reg merge '$WORK/m.out' '$WORK/DEFAULT' '$WORK/DEFAULT.out' >/dev/null &&
  hivexregedit --export '$WORK/m.out' '\\' >'$WORK/m.reg' && hivexregedit --export '$WORK/DEFAULT' '\\' >'$WORK/d.reg' &&
  cmp '$WORK/m.reg' '$WORK/d.reg'"

# A dirty Windows 10 SYSTEM hive (seq 1622/1621) with its .LOG1 (entries
# 2107-2110) and .LOG2 (2111-2130). Windows applies all 24 (each one's
# Marvin32 hashes check out); what they change, stated here: 2,472 keys
# appear (33,123 -> 35,595): a USB disk was plugged in, and with it came a
# fourth Disk drive class key (...\{4d36e967-...}\0003, DriverDesc "Disk
# drive"), "USB Attached SCSI (UAS) Mass Storage Device", "Volume" and
# "WPD FileSystem Volume Driver" class keys; and the display class's
# OSGamma table goes from zeros to the identity ramp.
D="$WORK/dirty"; mkdir -p "$D"
B=regipy_SYSTEM_B_DESKTOP-PM6C56D
for x in "" .LOG1 .LOG2; do zcat "$H/$B$x.gz" >"$D/SYSTEM$x"; done
"$LAYERCTL" reg compact "$D/SYSTEM" "$D/replayed" >"$WORK/.out" 2>&1
hivexregedit --export "$D/replayed" '\' >"$D/r.reg" 2>/dev/null
DISK='[\ControlSet001\Control\Class\{4d36e967-e325-11ce-bfc1-08002be10318}\0003]'
GAMMA='[\ControlSet001\Control\Class\{4d36e968-e325-11ce-bfc1-08002be10318}\0000]'
value_in() { # value_in REGFILE KEYLINE VALUE-PREFIX
  K="$2" V="$3" awk '$0 == ENVIRON["K"] {in_k = 1; next} /^\[/ {in_k = 0}
    in_k && index($0, ENVIRON["V"]) == 1 {print; exit}' "$1"
}
keys=$(grep -c '^\[' "$D/r.reg")
[ "$keys" -eq 35595 ] && grep -q "transaction logs applied" "$WORK/.out" \
  && ok "dirty SYSTEM + logs: 24 entries applied, 35,595 keys as Windows would see" \
  || not_ok "dirty SYSTEM + logs: $keys keys; $(cat "$WORK/.out")"
# "Disk drive" and "GenDisk" in UTF-16LE, as hivexregedit prints them
[ -n "$(value_in "$D/r.reg" "$DISK" '"DriverDesc"=hex(1):44,00,69,00,73,00,6b,00,20,00,64,00,72,00,69,00,76,00,65,00,00,00')" ] \
  && [ -n "$(value_in "$D/r.reg" "$DISK" '"MatchingDeviceId"=hex(1):47,00,65,00,6e,00,44,00,69,00,73,00,6b,00,00,00')" ] \
  && ok "the logs add a fourth Disk drive class key (DriverDesc 'Disk drive', GenDisk)" \
  || not_ok "the Disk drive class key after the logs"
[ -n "$(value_in "$D/r.reg" "$GAMMA" '"OSGamma4070400"=hex(3):00,00,01,01,02,02,03,03')" ] \
  && ok "the logs fill the display class's OSGamma table" || not_ok "OSGamma after the logs"
mkdir -p "$D/alone"; cp "$D/SYSTEM" "$D/alone/SYSTEM"
"$LAYERCTL" reg compact "$D/alone/SYSTEM" "$D/alone/base" >/dev/null 2>"$WORK/.err"
hivexregedit --export "$D/alone/base" '\' >"$D/b.reg" 2>/dev/null
[ "$(grep -c '^\[' "$D/b.reg")" -eq 33123 ] && grep -q "dirty and no usable" "$WORK/.err" \
  && ! grep -qxF "$DISK" "$D/b.reg" \
  && ok "without its logs: a warning, the base image (33,123 keys)" || not_ok "dirty hive alone"
"$LAYERCTL" reg diff "$D/alone/SYSTEM" "$D/SYSTEM" >"$WORK/diff.out" 2>/dev/null
rc=$?
[ $rc -eq 1 ] && grep -qxF '+ [ControlSet001\Control\Class\{4d36e967-e325-11ce-bfc1-08002be10318}\0003]' "$WORK/diff.out" \
  && grep -qF '~ [ControlSet001\Control\Class\{4d36e968-e325-11ce-bfc1-08002be10318}\0000] "OSGamma4070400"' "$WORK/diff.out" \
  && "$LAYERCTL" reg diff "$WORK/SAM" "$WORK/SAM.out" >/dev/null \
  && ok "reg diff: base image vs logs applied names the new key and the changed value; a hive and its compact copy: no difference" \
  || not_ok "reg diff (exit $rc)"
# Inside a layer too: the dirty SYSTEM with its logs in a folder layer's
# Windows/System32/config is served (and shown in REG) with the logs
# replayed, as Windows reads it; fsck calls it a warning
mkdir -p "$D/layer/Windows/System32/config"
for x in "" .LOG1 .LOG2; do cp "$D/SYSTEM$x" "$D/layer/Windows/System32/config/SYSTEM$x"; done
mkdir -p "$WORK/dirtym"
if "$REGFS" --layer "$D/layer" "$WORK/dirtym" 2>"$WORK/.err"; then
  [ -d "$WORK/dirtym/HKLM/SYSTEM/ControlSet001/Control/Class/{4d36e967-e325-11ce-bfc1-08002be10318}/0003" ] \
    && ok "a dirty hive with its logs in a layer shows in REG with them replayed (the logs' new Disk drive key)" \
    || not_ok "dirty hive in a layer: no replayed key"
  fusermount3 -u "$WORK/dirtym"
else
  not_ok "regfs of the dirty-hive layer: $(cat "$WORK/.err")"
fi
"$LAYERCTL" pack -q "$D/layer" "$D/layer.vhd"
"$LAYERCTL" repo init "$WORK/drepo" >/dev/null
"$LAYERCTL" repo add "$WORK/drepo" "$D/layer.vhd" --type os --name Dirty >/dev/null
"$LAYERCTL" fsck "$WORK/drepo" >"$WORK/.out"; rc=$?
[ $rc -eq 0 ] && grep -q "^warning *bad-hive.*its logs beside it (24 entries) are replayed" "$WORK/.out" \
  && ok "fsck: a dirty hive whose logs are beside it is a warning (exit 0)" || not_ok "fsck dirty+logs: exit $rc: $(cat "$WORK/.out")"
rm "$D/layer/Windows/System32/config/SYSTEM.LOG1" "$D/layer/Windows/System32/config/SYSTEM.LOG2"
"$LAYERCTL" pack -q "$D/layer" "$D/layer2.vhd"
"$LAYERCTL" repo add "$WORK/drepo" "$D/layer2.vhd" --type os --name Dirty >/dev/null
"$LAYERCTL" fsck "$WORK/drepo" >"$WORK/.out"; rc=$?
[ $rc -eq 0 ] && grep -q "^warning *bad-hive.*without usable logs.*base image, read-only" "$WORK/.out" \
  && ok "fsck: without its logs it is a warning: sessions read its base image, read-only (exit 0)" \
  || not_ok "fsck dirty alone: exit $rc: $(cat "$WORK/.out")"
# The old log format (Windows XP to 7: a dirty vector and 512-byte sectors),
# made here from the clean Windows 7 SYSTEM hive as that Windows would write
# it: the computer's name changed in place (WKS-WIN732BITA -> ...BITB), the
# hive left dirty (seq1 = seq2 + 1), its new sectors in SYSTEM.LOG1
W7="$WORK/w7"; mkdir -p "$W7"
zcat "$H/regipy_SYSTEM_Win7x86_WKS-WIN732BITA.gz" >"$W7/clean"
python3 - "$W7/clean" "$W7/SYSTEM" "$W7/SYSTEM.LOG1" <<'PY'
import struct, sys
base = bytearray(open(sys.argv[1], "rb").read())
def csum(b):
    x = 0
    for i in range(0, 0x1FC, 4):
        x ^= struct.unpack_from("<I", b, i)[0]
    return 0xFFFFFFFE if x == 0xFFFFFFFF else 1 if x == 0 else x
old, new = "WKS-WIN732BITA".encode("utf-16-le"), "WKS-WIN732BITB".encode("utf-16-le")
target = bytearray(base.replace(old, new))
seq = struct.unpack_from("<I", base, 4)[0]
dirty = bytearray(base)                       # the hive: the old image, seq1 ahead
struct.pack_into("<I", dirty, 4, seq + 1)
struct.pack_into("<I", dirty, 0x1FC, csum(dirty))
bins = struct.unpack_from("<I", base, 0x28)[0]
nbits = bins // 512
bitmap = bytearray((nbits + 7) // 8)
sectors = b""
for i in range(nbits):
    a = 4096 + i * 512
    if base[a:a + 512] != target[a:a + 512]:
        bitmap[i // 8] |= 1 << (i % 8)
        sectors += target[a:a + 512]
head = bytearray(target[:512])               # the log's base block: the new one
struct.pack_into("<II", head, 4, seq + 1, seq + 1)
struct.pack_into("<I", head, 0x1C, 1)         # file type: a log
struct.pack_into("<I", head, 0x1FC, csum(head))
vec = b"DIRT" + bytes(bitmap)
log = bytes(head) + vec
log += b"\0" * (-len(log) % 512) + sectors
open(sys.argv[2], "wb").write(dirty)
open(sys.argv[3], "wb").write(log)
PY
"$LAYERCTL" reg compact "$W7/SYSTEM" "$W7/replayed" >"$WORK/.out" 2>&1
[ "$(hivexget "$W7/replayed" 'ControlSet001\Control\ComputerName\ComputerName' ComputerName)" = WKS-WIN732BITB ] \
  && [ "$(hivexget "$W7/SYSTEM" 'ControlSet001\Control\ComputerName\ComputerName' ComputerName)" = WKS-WIN732BITA ] \
  && ok "an old-format log (Windows 7's dirty vector) is applied: the new computer name" \
  || not_ok "old-format log: $(cat "$WORK/.out")"
printf 'X' | dd of="$W7/SYSTEM.LOG1" bs=1 seek=100 conv=notrunc 2>/dev/null
"$LAYERCTL" reg compact "$W7/SYSTEM" "$W7/base" >/dev/null 2>"$WORK/.err"
grep -q "LOG1: its base block's checksum is wrong; .LOG2: not there" "$WORK/.err" \
  && ok "a spoilt log: the warning says what it saw of each log: $(cat "$WORK/.err")" || not_ok "spoilt log warning: $(cat "$WORK/.err")"
# A NUL inside a key name (yarp's BogusKeyNamesHive has "testnu\0l"), as
# regedit writes it in a UTF-16 .reg: kept whole by reg new, compact, diff,
# export and regfs (as %00)
python3 - "$WORK/nul.reg" "$WORK/nul2.reg" <<'PY'
import sys
head = "Windows Registry Editor Version 5.00\r\n\r\n"
for path, name in ((sys.argv[1], "testnu\0l"), (sys.argv[2], "testnul")):
    text = head + "[HKEY_LOCAL_MACHINE\\SOFTWARE\\" + name + "]\r\n\"v\"=dword:00000001\r\n\r\n"
    open(path, "wb").write(b"\xff\xfe" + text.encode("utf-16-le"))
PY
"$LAYERCTL" reg new --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$WORK/NUL" "$WORK/nul.reg"
"$LAYERCTL" reg new --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$WORK/NUL2" "$WORK/nul2.reg"
check "a NUL in a key name: reg compact keeps it, diff finds the compact copy equal and 'testnul' different" bash -c "
  '$LAYERCTL' reg compact '$WORK/NUL' '$WORK/NUL.c' >/dev/null &&
  '$LAYERCTL' reg diff '$WORK/NUL' '$WORK/NUL.c' >/dev/null &&
  ! '$LAYERCTL' reg diff '$WORK/NUL' '$WORK/NUL2' >/dev/null &&
  python3 -c \"import sys; sys.exit(0 if b'testnu\\x00l' in open('$WORK/NUL.c','rb').read() else 1)\""
check "reg export --utf16 writes the key line as regedit does (the NUL in it)" bash -c "
  '$LAYERCTL' reg export --utf16 --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' '$WORK/NUL' '$WORK/nul.out.reg' &&
  python3 -c \"import sys; sys.exit(0 if 'testnu\\x00l]' in open('$WORK/nul.out.reg','rb').read().decode('utf-16') else 1)\""
mkdir -p "$WORK/nulm"
check "regfs shows it as testnu%00l, with its value" bash -c "
  '$REGFS' --access posix --hive 'HKLM/SOFTWARE=$WORK/NUL' '$WORK/nulm' &&
  [ \"\$(cat '$WORK/nulm/HKLM/SOFTWARE/testnu%00l/v')\" = 1 ] && [ ! -e '$WORK/nulm/HKLM/SOFTWARE/testnu' ];
  rc=\$?; fusermount3 -u '$WORK/nulm'; exit \$rc"
# A spoilt byte in the page data of LOG1's third entry: its hash fails, the
# replay stops after entry 2 (no later entry may follow a gap).
cp "$D/SYSTEM" "$D/SYSTEM.LOG2" "$D/alone/"
python3 - "$D/SYSTEM.LOG1" "$D/alone/SYSTEM.LOG1" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
off = 512
for _ in range(2):
    off += struct.unpack_from("<I", b, off + 4)[0]
b[off + 0x28 + 8 * struct.unpack_from("<I", b, off + 20)[0] + 100] ^= 0xFF
open(sys.argv[2], "wb").write(b)
PY
"$LAYERCTL" reg compact --json "$D/alone/SYSTEM" "$D/alone/torn" >"$WORK/.json" 2>"$WORK/.err"
check "a torn log entry ends the replay there (2 of 24 applied)" python3 -c "
import json; r = json.load(open('$WORK/.json')); assert r['log_entries'] == 2, r"

# .reg export and import: a hive emptied with [-KEY] lines and filled
# again from its own export (UTF-16LE with BOM, as regedit writes, and
# UTF-8) gives the same hive back, every key, value, type and order.
roundtrip() { # roundtrip HIVE PREFIX [--utf16]
  local h=$1 p=$2
  "$LAYERCTL" reg export --prefix "$p" ${3:-} "$WORK/$h" "$WORK/$h.exp.reg" || return 1
  python3 - "$WORK/$h.exp.reg" "$p" "$WORK/$h.del.reg" <<'PY' || return 1
import sys
raw = open(sys.argv[1], "rb").read()
t = raw[2:].decode("utf-16-le") if raw[:2] == b"\xff\xfe" else raw.decode("utf-8")
p = sys.argv[2]
tops = []
for l in t.splitlines():
    if l.startswith("[" + p + "\\"):
        top = l[len(p) + 2:-1].split("\\")[0]
        if top not in tops:
            tops.append(top)
open(sys.argv[3], "w").write("Windows Registry Editor Version 5.00\r\n\r\n" +
                             "".join(f"[-{p}\\{k}]\r\n" for k in tops))
PY
  cp "$WORK/$h" "$WORK/$h.rt"
  "$LAYERCTL" reg import --prefix "$p" "$WORK/$h.rt" "$WORK/$h.del.reg" 2>/dev/null || return 1
  [ "$(hivexregedit --export "$WORK/$h.rt" '\\' | grep -c '^\[')" -eq 1 ] || return 1
  "$LAYERCTL" reg import --prefix "$p" "$WORK/$h.rt" "$WORK/$h.exp.reg" 2>/dev/null || return 1
  hivexregedit --export "$WORK/$h" '\\' >"$WORK/$h.a.reg" 2>/dev/null
  hivexregedit --export "$WORK/$h.rt" '\\' | cmp - "$WORK/$h.a.reg"
}
check ".reg round trip, UTF-16LE with BOM (DEFAULT)" roundtrip DEFAULT 'HKEY_USERS\.DEFAULT' --utf16
check ".reg round trip, UTF-8 (NTUSER.DAT: big and binary values, wrapped hex)" roundtrip NTUSER.DAT 'HKEY_CURRENT_USER'
cat >"$WORK/bad.reg" <<'REG'
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SAM\SAM]
"Ok"=dword:00000001
"Broken"=dword:xyz
REG
refuses "a .reg file with a bad value names its line" "line 5" "$LAYERCTL" reg import --prefix 'HKEY_LOCAL_MACHINE\SAM' "$WORK/SAM" "$WORK/bad.reg" "$WORK/bad.out"
cat >"$WORK/edit.reg" <<'REG'
Windows Registry Editor Version 5.00

; values set, deleted, a key made and one deleted
[HKEY_LOCAL_MACHINE\SAM\SAM\New Key]
@="default text"
"Multi"=hex(7):61,00,00,00,62,00,00,00,00,00
"Quote \"q\""="C:\\Path\\"
[-HKEY_LOCAL_MACHINE\SAM\SAM\Domains]
REG
check ".reg edits: strings with escapes, hex(7), @, [-KEY]" bash -c "
  '$LAYERCTL' reg import --prefix 'HKEY_LOCAL_MACHINE\\SAM' '$WORK/SAM' '$WORK/edit.reg' '$WORK/edited' &&
  hivexregedit --export '$WORK/edited' '\\' >'$WORK/e.reg' &&
  grep -q '^\[\\\\SAM\\\\New Key\]' '$WORK/e.reg' && ! grep -qi '^\[\\\\SAM\\\\Domains' '$WORK/e.reg' &&
  '$LAYERCTL' reg export --prefix X '$WORK/edited' | grep -qF '\"Quote \\\"q\\\"\"=\"C:\\\\Path\\\\\"'"

# A rules file adds ';'-lists to union; without it the higher value wins.
printf 'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SAM\\SAM\\Lists]\r\n"Dirs"="C:\\\\a;C:\\\\b"\r\n' >"$WORK/l1.reg"
printf 'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SAM\\SAM\\Lists]\r\n"Dirs"="c:\\\\B;C:\\\\c"\r\n' >"$WORK/l2.reg"
printf '# our own lists\nsam\\list? = DIRS\n' >"$WORK/rules.txt"
"$LAYERCTL" reg import "$WORK/SAM" "$WORK/l1.reg" "$WORK/h1" && "$LAYERCTL" reg import "$WORK/SAM" "$WORK/l2.reg" "$WORK/h2"
"$LAYERCTL" reg merge --rules "$WORK/rules.txt" "$WORK/mr" "$WORK/h1" "$WORK/h2" >/dev/null
"$LAYERCTL" reg merge "$WORK/mn" "$WORK/h1" "$WORK/h2" >/dev/null
[ "$("$LAYERCTL" reg export "$WORK/mr" | grep '^"Dirs"' | tr -d '\r')" = '"Dirs"="C:\\a;C:\\b;C:\\c"' ] \
  && [ "$("$LAYERCTL" reg export "$WORK/mn" | grep '^"Dirs"' | tr -d '\r')" = '"Dirs"="c:\\B;C:\\c"' ] \
  && ok "merge --rules: a listed ;-list is unioned (case-insensitive duplicates dropped), others replaced" \
  || not_ok "merge --rules"
printf 'no equals sign here\n' >"$WORK/badrules.txt"
refuses "a rules file with a bad line names it" "badrules.txt: line 1" "$LAYERCTL" reg merge --rules "$WORK/badrules.txt" "$WORK/x.out" "$WORK/h1"

# Hostile hives: one line naming the file, nothing written.
head -c 6000 "$WORK/SAM" >"$WORK/short.hive"
refuses "a truncated hive" "short.hive" "$LAYERCTL" reg compact "$WORK/short.hive" "$WORK/x.out"
printf 'not a hive at all' >"$WORK/text.hive"; truncate -s 16384 "$WORK/text.hive"
refuses "a file that is no hive" "text.hive" "$LAYERCTL" reg compact "$WORK/text.hive" "$WORK/x.out"
[ ! -e "$WORK/x.out" ] && ok "nothing written for a refused hive" || not_ok "an output was left"
head -c 40000 "$WORK/SAM" >"$WORK/cut.hive"
"$LAYERCTL" reg compact "$WORK/cut.hive" "$WORK/cut.out" >/dev/null 2>&1
rc=$?
[ $rc -le 1 ] && ok "a hive cut short in its cells: exit $rc, no crash" || not_ok "cut hive: exit $rc"

# Spoilt cells: 60 copies of SAM with bytes changed at random in its
# cells. Each is refused (exit 1) or compacted into a hive hivex reads;
# never a crash (CI runs this under ASan and UBSan).
python3 - "$WORK/SAM" "$WORK/spoilt" <<'PY'
import os, random, sys
data = open(sys.argv[1], "rb").read()
os.makedirs(sys.argv[2], exist_ok=True)
r = random.Random(7)
for n in range(60):
    b = bytearray(data)
    for _ in range(r.choice([1, 4, 16, 64])):
        b[r.randrange(0x1000, len(b))] = r.randrange(256)
    open(os.path.join(sys.argv[2], f"s{n:02d}.hive"), "wb").write(b)
PY
crashed=0; refused=0; kept=0
for f in "$WORK"/spoilt/*.hive; do
  "$LAYERCTL" reg compact "$f" "$f.out" >/dev/null 2>"$WORK/.err"
  rc=$?
  if [ $rc -gt 1 ]; then crashed=$((crashed + 1)); echo "    $f: exit $rc"; head -3 "$WORK/.err"
  elif [ $rc -eq 1 ]; then refused=$((refused + 1))
  elif hivexregedit --export "$f.out" '\' >/dev/null 2>&1; then kept=$((kept + 1))
  else crashed=$((crashed + 1)); echo "    $f: compacted into a hive hivex cannot read"
  fi
done
[ $crashed -eq 0 ] && ok "60 spoilt hives: $refused refused, $kept compacted and readable, 0 crashed" \
  || not_ok "spoilt hives: $crashed crashed or unreadable"
# reg new makes a layer's fragment: [-KEY] and "V"=- become the markers
# the merge applies to the layers below (issue 32, item 5)
printf 'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Old\\Sub]\r\n"X"="1"\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\App]\r\n"Keep"="1"\r\n"Gone"="1"\r\n' >"$WORK/base.reg"
printf 'Windows Registry Editor Version 5.00\r\n\r\n[-HKEY_LOCAL_MACHINE\\SOFTWARE\\Old\\Sub]\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\App]\r\n"Gone"=-\r\n"New"="2"\r\n' >"$WORK/del.reg"
"$LAYERCTL" reg new --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$WORK/base.hive" "$WORK/base.reg"
"$LAYERCTL" reg new --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$WORK/del.hive" "$WORK/del.reg"
"$LAYERCTL" reg merge "$WORK/merged.hive" "$WORK/base.hive" "$WORK/del.hive" >/dev/null
"$LAYERCTL" reg export --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$WORK/merged.hive" "$WORK/merged.reg"
grep -q '"Keep"="1"' "$WORK/merged.reg" && grep -q '"New"="2"' "$WORK/merged.reg" && ! grep -q 'Gone\|Sub\]' "$WORK/merged.reg" \
  && ! grep -q '\.wh\.' "$WORK/merged.reg" \
  && ok "reg new: [-KEY] and \"V\"=- are markers a merge applies to the layer below" \
  || { not_ok "reg new deletions"; cat "$WORK/merged.reg"; }
# names regedit's form cannot hold (a NUL, a CR LF): refused by name, or
# written with --escape and read back to the same hive
printf 'Windows Registry Editor Version 5.00\r\n; layerctl: names escaped (%%00 NUL, %%0D CR, %%0A LF, %%25 %%)\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\A%%00B]\r\n"line%%0D%%0Abreak"="x"\r\n"100%%25"="y"\r\n' >"$WORK/esc.reg"
"$LAYERCTL" reg new --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$WORK/esc.hive" "$WORK/esc.reg"
refuses "reg export of a key named with a NUL: refused, naming it" 'A' "$LAYERCTL" reg export --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$WORK/esc.hive"
"$LAYERCTL" reg export --escape --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$WORK/esc.hive" "$WORK/esc2.reg" \
  && "$LAYERCTL" reg new --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$WORK/esc2.hive" "$WORK/esc2.reg" \
  && "$LAYERCTL" reg diff "$WORK/esc.hive" "$WORK/esc2.hive" >/dev/null \
  && [ "$(hivexregedit --export "$WORK/esc.hive" '\\' 2>/dev/null | grep -c '^\[')" -eq 2 ] \
  && ok "reg export --escape and back: the same hive, NUL and CR LF in names kept" \
  || { not_ok "--escape round trip"; cat "$WORK/esc2.reg"; }
# every hive this project writes is read by python-registry, regipy,
# libregf's regfexport, reglookup and hivex's hivexml as each reads the
# hive Windows wrote (issue 32,
# item 4): compact, merge (one layer), and new from its own .reg export
SUITES=${SUITES:-$SOURCE_DIR/../shared/suites}
if [ -d "$SUITES/regipy" ] && command -v regfexport >/dev/null && command -v reglookup >/dev/null; then
  for src in win10-rathbun/SAM win10-rathbun/SECURITY win10-rathbun/NTUSER.DAT plaso_NTUSER_WinXP_joe.DAT; do
    h=$(basename "$src"); zcat "$REALDATA/hives/$src.gz" >"$WORK/r_$h"
    "$LAYERCTL" reg compact "$WORK/r_$h" "$WORK/r_$h.compact" >/dev/null 2>&1
    "$LAYERCTL" reg merge "$WORK/r_$h.merge" "$WORK/r_$h" >/dev/null 2>&1
    "$LAYERCTL" reg export --utf16 --prefix 'HKEY_LOCAL_MACHINE\X' "$WORK/r_$h" "$WORK/r_$h.reg" 2>/dev/null
    "$LAYERCTL" reg new --prefix 'HKEY_LOCAL_MACHINE\X' "$WORK/r_$h.new" "$WORK/r_$h.reg" 2>/dev/null
    for out in compact merge new; do
      if SUITES="$SUITES" /usr/bin/python3 "$TESTS_DIR/hive_readers.py" "$WORK/r_$h" "$WORK/r_$h.$out" >"$WORK/rd.out" 2>&1; then
        ok "$h, reg $out: read by python-registry, regipy, regfexport, reglookup and hivex as Windows' own ($(head -1 "$WORK/rd.out"))"
      else
        not_ok "$h, reg $out: a reader sees it otherwise"; sed 's/^/    /' "$WORK/rd.out" | head -5
      fi
    done
  done
else
  not_ok "the registry readers (../shared/suites/regipy, regfexport, reglookup) are not here"
fi
# a Windows XP hive is format 1.3 (lf subkey lists, no lh): written back so
python3 -c "
import struct, sys
d = open(sys.argv[1], 'rb').read()
sigs, at = set(), 0x1000
while at < len(d) and d[at:at + 4] == b'hbin':
    end, c = at + struct.unpack_from('<I', d, at + 8)[0], at + 0x20
    while c < end:
        n = struct.unpack_from('<i', d, c)[0]
        if n < 0:
            sigs.add(d[c + 4:c + 6])
        c += abs(n) or end
    at = end
sys.exit(0 if struct.unpack_from('<I', d, 0x18)[0] == 3 and b'lf' in sigs and b'lh' not in sigs else 1)" \
  "$WORK/r_plaso_NTUSER_WinXP_joe.DAT.compact" && ok "a 1.3 hive (Windows XP) is written back as 1.3" \
  || not_ok "the XP hive's version"
finish
