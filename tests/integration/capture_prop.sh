#!/usr/bin/env bash
# Capture's round trip as a property (issue 17): the sample OS layer's
# volume is changed at random through ntfs-3g, as a VM's disk is by an
# installer (files created, changed, emptied, deleted; a folder deleted
# whole; streams; descriptors; registry keys and values added, changed,
# deleted), then `capture --before A --after B` makes a layer, and A with
# that layer over it must be B: `layerctl diff` finds nothing. Each seed
# is reproducible: CAPTURE_SEEDS="7 8" runs those (default 1 2 3).
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] && [ -e /dev/fuse ] || skip_all "needs root and /dev/fuse (ntfs-3g mounts)"
command -v ntfs-3g >/dev/null && command -v qemu-img >/dev/null || skip_all "needs ntfs-3g and qemu-img"
S="$WORK/sample"
bash "$SOURCE_DIR/scripts/sample/make-repo" "$S" "$LAYERCTL" >/dev/null
A="$S/Layers/OS/Windows10.1.1.vhd"
# the volume alone (pack puts it at 1 MiB in the VHD's disk), as ntfs-3g opens it
qemu-img convert -O raw "$A" "$WORK/disk.raw"
dd if="$WORK/disk.raw" of="$WORK/a.img" bs=1M skip=1 status=none
rm "$WORK/disk.raw"
M="$WORK/m"; mkdir -p "$M"
for seed in ${CAPTURE_SEEDS:-1 2 3}; do
  B="$WORK/b$seed.img"
  cp "$WORK/a.img" "$B"
  ntfs-3g -o streams_interface=xattr "$B" "$M" || { not_ok "seed $seed: ntfs-3g cannot mount the volume"; continue; }
  MOUNTS+=("$M")
  python3 "$TESTS_DIR/capture_changes.py" --seed "$seed" "$M" "$LAYERCTL" "$WORK" >"$WORK/changes$seed" 2>&1
  rc=$?
  umount "$M"
  [ $rc -eq 0 ] || { not_ok "seed $seed: the changes failed"; sed 's/^/    /' "$WORK/changes$seed" | tail -5; continue; }
  echo "# seed $seed: $(wc -l <"$WORK/changes$seed") changes ($(cut -d' ' -f3 "$WORK/changes$seed" | sort | uniq -c | tr -s ' ' | tr '\n' ','))"
  out="$WORK/cap$seed.vhd"
  if ! "$LAYERCTL" capture --force --json --before "$A" --after "$B" "$out" >"$WORK/cap$seed.json" 2>"$WORK/cap$seed.err"; then
    not_ok "seed $seed: capture failed: $(head -3 "$WORK/cap$seed.err")"; continue
  fi
  "$LAYERCTL" diff "$B" "$out:$A" >"$WORK/diff$seed" 2>&1; rc=$?
  if [ $rc -eq 0 ]; then
    ok "seed $seed: A with the captured layer over it is B (files, streams, descriptors, registry)"
  else
    not_ok "seed $seed: layerctl diff B CAPTURE:A exits $rc"
    sed 's/^/    /' "$WORK/diff$seed" | head -10
    sed 's/^/    changes: /' "$WORK/changes$seed" | head -40
  fi
  # and the layer is not B whole: only what changed went in
  python3 - "$WORK/cap$seed.json" "$WORK/changes$seed" <<'PY' && ok "seed $seed: the layer holds what changed, not the volume" || not_ok "seed $seed: summary $(cat "$WORK/cap$seed.json")"
import json, sys
d = json.load(open(sys.argv[1]))
changes = open(sys.argv[2]).read().split("\n")
made = sum(1 for c in changes if " create " in c or " change " in c)
# files: the new and changed ones, plus those whose stream or descriptor changed
# (a folder deleted whole may take some of them with it)
sys.exit(0 if 1 <= d["files"] <= made + 4 and d["tokens"] >= 1 else 1)
PY
done
finish
