#!/usr/bin/env bash
# kill -9 the daemon at random moments under a write workload, remount,
# and check: what was fsynced is there, the change in flight is all or
# nothing, no temporary shows or stays, every delete token hides its name.
# ROUNDS=N for more rounds (default 12).
. "$(dirname "$0")/lib.sh"
: "${LAYERFS:?LAYERFS not set}"
[ -e /dev/fuse ] || skip_all "no /dev/fuse"

D="$TESTS_DIR/durability.py"
mkdir -p "$WORK/L0" "$WORK/L1" "$WORK/up" "$WORK/m"
python3 "$D" make "$WORK/L0"
cp -a "$WORK/L0/d1" "$WORK/L1/D1"   # a second layer, spelt otherwise
M="$WORK/m"

start() {
  "$LAYERFS" -f --layer "$WORK/L0,type=os" --layer "$WORK/L1" --upper "$WORK/up" "$M" 2>>"$WORK/daemon.log" &
  PID=$!
  for _ in $(seq 100); do mountpoint -q "$M" && return 0; sleep 0.05; done
  return 1
}

rounds=${ROUNDS:-12}
bad=0
for r in $(seq "$rounds"); do
  start || { not_ok "round $r: mount"; bad=1; break; }
  if ! python3 "$D" snapshot "$M" "$WORK/up" "$WORK/snap.json" >"$WORK/.inv"; then
    not_ok "round $r: invariants after the last kill"; sed 's/^/    /' "$WORK/.inv"; bad=1
  fi
  : >"$WORK/journal"
  python3 "$D" work "$M" "$WORK/snap.json" "$WORK/journal" "$r" &
  WPID=$!
  # kill once the work is under way, at a random moment
  for _ in $(seq 200); do [ -s "$WORK/journal" ] && break; sleep 0.01; done
  sleep "0.$(( RANDOM % 40 ))$(( RANDOM % 10 ))"
  kill -9 "$PID"
  wait "$WPID" 2>/dev/null
  wait "$PID" 2>/dev/null
  umount -l "$M" 2>/dev/null || fusermount3 -uz "$M" 2>/dev/null
  start || { not_ok "round $r: remount"; bad=1; break; }
  ops=$(grep -c '^done' "$WORK/journal")
  if python3 "$D" verify "$M" "$WORK/up" "$WORK/snap.json" "$WORK/journal" >"$WORK/.ver"; then
    ok "round $r: killed after $ops fsynced changes; all there, nothing half done"
  else
    not_ok "round $r: after $ops changes"; sed 's/^/    /' "$WORK/.ver"; bad=1
  fi
  fusermount3 -u "$M"
  wait "$PID" 2>/dev/null
done
finish
