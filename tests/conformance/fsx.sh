#!/usr/bin/env bash
# fsx.py against the writable drive: the same seeded operations on the
# drive (a lower layer holding the starting files, as a folder or packed as
# a VHD, and an empty upper) and on a plain folder that starts the same;
# they must agree at every step.
#   fsx.sh dir|vhd OPS [SEED] [lower-link]
# lower-link: two of the starting files are one (hard-linked) in the lower
# layer: the drive must keep them one file with the right link count
# through copy-up, tokens and renames (as overlayfs with index=on).
. "$(dirname "$0")/../integration/lib.sh"
: "${LAYERFS:?LAYERFS not set}"
[ -e /dev/fuse ] || skip_all "no /dev/fuse"
KIND=${1:-dir} OPS=${2:-5000} SEED=${3:-1} LOWERLINK=${4:-}
mkdir -p "$WORK/low" "$WORK/up" "$WORK/m"
# the lower files' bytes come from the seed too: a seed replays a run whole
python3 -c '
import random, sys
r = random.Random(int(sys.argv[1]))
for i in range(6):
    open(f"{sys.argv[2]}/f{i}", "wb").write(bytes(r.getrandbits(8) for _ in range(i * 7000 + 1)))
' "$SEED" "$WORK/low"
[ -n "$LOWERLINK" ] && ln -f "$WORK/low/f0" "$WORK/low/f1"
cp -a "$WORK/low" "$WORK/ref"
low="$WORK/low"
if [ "$KIND" = vhd ]; then "$LAYERCTL" pack -q "$WORK/low" "$WORK/low.vhd"; low="$WORK/low.vhd"; fi
"$LAYERFS" --layer "$low,type=os" --upper "$WORK/up" "$WORK/m" || { not_ok "mount"; finish; exit 1; }
MOUNTS+=("$WORK/m")
check "fsx ($KIND): $OPS operations, seed $SEED, the drive and a folder agree" \
  python3 "$(dirname "$0")/fsx.py" "$WORK/m" "$WORK/ref" --ops "$OPS" --seed "$SEED"
finish
