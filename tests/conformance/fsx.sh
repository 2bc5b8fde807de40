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
for i in 0 1 2 3 4 5; do head -c $((i * 7000 + 1)) /dev/urandom >"$WORK/low/f$i"; done
[ -n "$LOWERLINK" ] && ln -f "$WORK/low/f0" "$WORK/low/f1"
cp -a "$WORK/low" "$WORK/ref"
low="$WORK/low"
if [ "$KIND" = vhd ]; then "$LAYERCTL" pack -q "$WORK/low" "$WORK/low.vhd"; low="$WORK/low.vhd"; fi
"$LAYERFS" --layer "$low,type=os" --upper "$WORK/up" "$WORK/m" || { not_ok "mount"; finish; exit 1; }
MOUNTS+=("$WORK/m")
check "fsx ($KIND): $OPS operations, seed $SEED, the drive and a folder agree" \
  python3 "$(dirname "$0")/fsx.py" "$WORK/m" "$WORK/ref" --ops "$OPS" --seed "$SEED"
finish
