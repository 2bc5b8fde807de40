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
  if cmp -s "$WORK/a.reg" "$WORK/b.reg" && [ "$out" -le "$in" ] && [ "$keys" -gt 10 ]; then
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
finish
