#!/usr/bin/env bash
# A Windows-shaped layer at a real image's proportions (scripts/gen-wintree):
# one folder of 20,000 component folders, 5,000 files hard-linked into
# System32, long names. Walked cold (list, stat, read every file) through
# layerfs as a folder layer and as a VHD, and through a layerd session; the
# union must equal the source tree, hard links sharing one inode number;
# published into one image, it must compare equal.
# SCALE_SXS / SCALE_FILES / SCALE_LINKS make it larger (scripts/bench-scale
# uses its own run).
. "$(dirname "$0")/lib.sh"
: "${LAYERFS:?LAYERFS not set}"
[ -e /dev/fuse ] || skip_all "no /dev/fuse"
SXS=${SCALE_SXS:-20000}; FILES=${SCALE_FILES:-30000}; LINKS=${SCALE_LINKS:-5000}

T="$WORK/tree"; MAN="$WORK/manifest"
check "generate: $FILES files, $SXS folders in WinSxS, $LINKS hard links" \
  python3 "$SOURCE_DIR/scripts/gen-wintree" "$T" --seed 11 --files "$FILES" --sxs "$SXS" \
    --sxs-files 1 --links "$LINKS" --vendors 20 --subs 20 --name-len 200 --manifest "$MAN" \
    --layerctl "$LAYERCTL" --reg-keys 2000
check "pack it into a VHD" "$LAYERCTL" pack -q "$T" "$WORK/os.vhd"

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
rss() { ps -o rss= -p "$1" | tr -d ' '; }

for kind in dir vhd; do
  src="$T"; [ $kind = vhd ] && src="$WORK/os.vhd"
  m="$WORK/m-$kind"; mkdir -p "$m"
  if "$LAYERFS" -f --layer "$src,type=os" "$m" 2>"$WORK/$kind.err" & then
    pid=$!
    MOUNTS+=("$m")
    for _ in $(seq 100); do mountpoint -q "$m" && break; sleep 0.1; done
    drop_caches
    check "$kind layer: a cold walk equals the source (names, sizes, bytes, hard links)" \
      python3 "$TESTS_DIR/check_manifest.py" "$MAN" "$m"
    tail -1 "$WORK/.out"
    # warm: the kernel holds the first walk; a find runs beside it
    check "$kind layer: a second, warm walk with a find in parallel" bash -c "
      find '$m' >/dev/null & python3 '$TESTS_DIR/check_manifest.py' '$MAN' '$m' && wait \$!"
    echo "# $kind layer: layerfs RSS $(rss $pid) kB after the walks"
    # the kernel forgets the walk: a folder layer's names go with it (a
    # sweep once the forgets stop), and a walk after that is the same
    sync; echo 2 > /proc/sys/vm/drop_caches 2>/dev/null || true; sleep 2
    echo "# $kind layer: layerfs RSS $(rss $pid) kB after drop_caches"
    check "$kind layer: a walk after the kernel forgot the last one" \
      python3 "$TESTS_DIR/check_manifest.py" "$MAN" "$m"
    kill -0 "$pid" 2>/dev/null && ok "$kind layer: layerfs still runs" || not_ok "$kind layer: layerfs died"
    fusermount3 -u "$m"; wait "$pid"
    [ -s "$WORK/$kind.err" ] && { not_ok "$kind layer: layerfs wrote to stderr"; head -5 "$WORK/$kind.err"; }
  fi
done

# Through layerd: the same VHD as a repository's OS layer.
if [ "$(id -u)" -eq 0 ] && command -v useradd >/dev/null; then
  id lfscale >/dev/null 2>&1 || useradd -M -s /bin/sh lfscale
  R="$WORK/repo"
  "$LAYERCTL" repo init "$R" >/dev/null
  "$LAYERCTL" repo add "$R" "$WORK/os.vhd" --type os --name Win >/dev/null
  "$LAYERCTL" repo assign "$R" --machine "*" 1 >/dev/null
  export LAYERD_SOCKET="$WORK/layerd.sock"
  "$LAYERD" --repo "$R" --socket "$LAYERD_SOCKET" --run "$WORK/run" 2>"$WORK/layerd.log" &
  LPID=$!
  trap 'kill $LPID 2>/dev/null; wait $LPID 2>/dev/null; cleanup' EXIT
  for _ in $(seq 100); do [ -S "$LAYERD_SOCKET" ] && break; sleep 0.1; done
  check "layerd: log lfscale in on the Windows-sized OS layer" "$LAYERCTL" login lfscale
  drop_caches
  check "layerd: a cold walk of the session's drive equals the source" \
    python3 "$TESTS_DIR/check_manifest.py" "$MAN" "$WORK/run/lfscale/C" --ignore Users/lfscale
  tail -1 "$WORK/.out"
  echo "# layerd RSS $(rss $LPID) kB with one session walked"
  check "layerd: log off" "$LAYERCTL" logoff lfscale
  kill -0 "$LPID" 2>/dev/null && ok "layerd still runs" || not_ok "layerd died"
fi

# Published (issue 18): the folder layer into one image, hard links as one
# record each, and the image the same as the layer to compare.
if "$LAYERCTL" publish -q --json --format raw --layer "$T,type=os" "$WORK/pub.img" >"$WORK/pub.json" 2>"$WORK/.err"; then
  h=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["hardlinks"], d["files"])' "$WORK/pub.json")
  [ "${h% *}" = "$LINKS" ] && ok "publish the Windows-sized layer: $LINKS hard links kept as names of one record ($h)" \
    || not_ok "publish: hard links and files $h (want $LINKS links)"
  check "compare: the published image equals the layer" "$LAYERCTL" compare "$WORK/pub.img" --layer "$T,type=os"
  rm -f "$WORK/pub.img"
else
  not_ok "publish the Windows-sized layer: $(cat "$WORK/.err")"
fi
finish
