#!/usr/bin/env bash
# pjdfstest (../shared/suites/pjdfstest, unchanged) against the writable
# drive: built here from its source (a config.h for Linux and glibc stands
# in for its autoconf run), run as root inside a layerfs mount of a lower
# layer (a folder, or packed as a VHD) with an empty upper, allow_other and
# default_permissions as its README asks. Every subtest passes, or is in
# tests/conformance/pjdfstest.known (test file, subtest number, the reason
# it cannot pass on this design).
#   pjdfstest.sh dir|vhd|fuse-overlayfs [TEST-FOLDER...]   (default: every folder)
. "$(dirname "$0")/../integration/lib.sh"
: "${LAYERFS:?LAYERFS not set}"
[ "$(id -u)" -eq 0 ] || skip_all "needs root"
[ -e /dev/fuse ] || skip_all "no /dev/fuse"
command -v prove >/dev/null || skip_all "no prove (perl)"
SUITE="$(dirname "$REALDATA")/suites/pjdfstest"
[ -f "$SUITE/pjdfstest.c" ] || { not_ok "no $SUITE"; finish; exit 1; }
KIND=${1:-dir}; shift || true
KNOWN="$TESTS_DIR/../conformance/pjdfstest.known"

P="$WORK/pjdfstest"
cp -r "$SUITE" "$P"
cat >"$P/config.h" <<'H'
#define HAVE_SYS_SYSMACROS_H 1
#define HAVE_FACCESSAT 1
#define HAVE_FCHMODAT 1
#define HAVE_FCHOWNAT 1
#define HAVE_FSTATAT 1
#define HAVE_LINKAT 1
#define HAVE_MKDIRAT 1
#define HAVE_MKFIFOAT 1
#define HAVE_MKNODAT 1
#define HAVE_OPENAT 1
#define HAVE_POSIX_FALLOCATE 1
#define HAVE_READLINKAT 1
#define HAVE_RENAMEAT 1
#define HAVE_SYMLINKAT 1
#define HAVE_UTIMENSAT 1
#define HAVE_STRUCT_STAT_ST_ATIM 1
#define HAVE_STRUCT_STAT_ST_CTIM 1
#define HAVE_STRUCT_STAT_ST_MTIM 1
H
gcc -O2 -w -D_GNU_SOURCE -I"$P" -o "$P/pjdfstest" "$P/pjdfstest.c" || { not_ok "pjdfstest does not build"; finish; exit 1; }
chmod -R a+rX "$P"; chmod 755 "$WORK"

mkdir -p "$WORK/low/base" "$WORK/up" "$WORK/m"
echo lower >"$WORK/low/base/file"
low="$WORK/low"
if [ "$KIND" = vhd ]; then "$LAYERCTL" pack -q "$WORK/low" "$WORK/low.vhd"; low="$WORK/low.vhd"; fi
if [ "$KIND" = fuse-overlayfs ]; then
  # the same run on fuse-overlayfs, for comparison (scripts/conformance)
  mkdir -p "$WORK/work"
  fuse-overlayfs -o "lowerdir=$low,upperdir=$WORK/up,workdir=$WORK/work,allow_other" "$WORK/m" ||
    { not_ok "mount"; finish; exit 1; }
else
  # folder layers: --access posix (descriptors ignored, issue 15); VHD
  # layers: the default, where packed entries carry Linux metadata
  access=windows; [ "$KIND" = dir ] && access=posix
  "$LAYERFS" --layer "$low,type=os" --upper "$WORK/up" --access "$access" \
    -o allow_other,default_permissions "$WORK/m" ||
    { not_ok "mount"; finish; exit 1; }
fi
MOUNTS+=("$WORK/m")

dirs=("$@")
[ ${#dirs[@]} -eq 0 ] && dirs=($(cd "$P/tests" && ls -d */ | tr -d /))
: >"$WORK/failed"
total=0 bad=0
for t in "${dirs[@]}"; do
  for f in "$P/tests/$t"/*.t; do
    rel="$t/$(basename "$f")"
    (cd "$WORK/m" && timeout 300 prove -v "$f" 2>&1) >"$WORK/out" || true
    n=$(grep -cE '^(not )?ok [0-9]+' "$WORK/out")
    total=$((total + n))
    while read -r num; do
      bad=$((bad + 1))
      echo "$rel $num" >>"$WORK/failed"
    done < <(grep -E '^not ok [0-9]+' "$WORK/out" | grep -v '# TODO' | awk '{print $3}')
    # "not ok ... # TODO" is pjdfstest's own "Linux does not do this either"
  done
done
unexpected=0
while read -r rel num; do
  if ! grep -qE "^$rel $num( |$)" "$KNOWN" 2>/dev/null; then
    unexpected=$((unexpected + 1))
    [ "$unexpected" -le 40 ] && echo "# unexpected failure: $rel $num"
  fi
done <"$WORK/failed"
echo "# pjdfstest on $KIND layers: $((total - bad)) of $total subtests pass; $bad fail, $unexpected not in pjdfstest.known"
[ "$unexpected" -eq 0 ] && ok "pjdfstest ($KIND): every failure is a known one ($((total - bad))/$total pass)" ||
  not_ok "pjdfstest ($KIND): $unexpected unexpected failures ($((total - bad))/$total pass)"
# a run that counted (almost) nothing passed nothing: the whole suite has
# 8,798 subtests; a subset of folders at least 100 each (PJD_FLOOR sets it)
floor=${PJD_FLOOR:-$([ $# -eq 0 ] && echo 8000 || echo $(( $# * 100 )))}
[ "$total" -ge "$floor" ] && ok "pjdfstest ($KIND): $total subtests ran (floor $floor)" \
  || not_ok "pjdfstest ($KIND): only $total subtests ran; the floor is $floor"
cp "$WORK/failed" "${PJD_FAILED_OUT:-/dev/null}" 2>/dev/null || true
finish
