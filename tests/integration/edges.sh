#!/usr/bin/env bash
# POSIX edges (issue 32, item 7), each against kernel overlayfs over the
# same folders: sockets and FIFOs of a lower layer copy up without being
# opened (rename, chmod, chown, utime, link); trusted.overlay.* set
# through the mount is kept escaped (trusted.overlay.overlay.*) as kernel
# overlayfs keeps it, so a kernel union later mounted there never takes a
# user's value for its own. O_TMPFILE is EOPNOTSUPP: libfuse 3.14 has no
# tmpfile operation (the kernel answers for it).
. "$(dirname "$0")/lib.sh"
[ -e /dev/fuse ] || skip_all "no /dev/fuse"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (kernel overlayfs, trusted.*)"
: "${LAYERFS:?LAYERFS not set}"
lower() {
  mkdir -p "$1/dir"
  python3 -c "
import socket, sys
for n in ('sock', 'sock2'):
    socket.socket(socket.AF_UNIX).bind(sys.argv[1] + '/' + n)" "$1"
  mkfifo "$1/fifo"
}
mkdir -p "$WORK/ovl/l" "$WORK/ovl/u" "$WORK/ovl/w" "$WORK/ovl/m" "$WORK/lf/l" "$WORK/lf/u" "$WORK/lf/m"
lower "$WORK/ovl/l"; lower "$WORK/lf/l"
if ! mount -t overlay overlay -o "lowerdir=$WORK/ovl/l,upperdir=$WORK/ovl/u,workdir=$WORK/ovl/w" "$WORK/ovl/m"; then
  skip_all "kernel overlayfs does not mount here"
fi
MOUNTS+=("$WORK/ovl/m")
"$LAYERFS" --layer "$WORK/lf/l,type=os" --upper "$WORK/lf/u" --access posix "$WORK/lf/m" || { not_ok "layerfs mount"; finish; exit 1; }
MOUNTS+=("$WORK/lf/m")
wd python3 "$TESTS_DIR/edges.py" "$WORK/ovl/m" "$WORK/ovl/u" >"$WORK/ovl.out" 2>&1
wd python3 "$TESTS_DIR/edges.py" "$WORK/lf/m" "$WORK/lf/u" >"$WORK/lf.out" 2>&1
n=0
while IFS= read -r want <&3 && IFS= read -r got <&4; do
  n=$((n + 1))
  [ "$want" = "$got" ] && ok "as kernel overlayfs: $got" || not_ok "kernel overlayfs: '$want', layerfs: '$got'"
done 3<"$WORK/ovl.out" 4<"$WORK/lf.out"
[ "$n" -ge 15 ] || not_ok "only $n results compared"
out=$(python3 -c "
import errno, os, sys
try:
    os.close(os.open(sys.argv[1], os.O_TMPFILE | os.O_WRONLY, 0o600)); print('made')
except OSError as e:
    print(errno.errorcode[e.errno])" "$WORK/lf/m/dir")
{ [ "$out" = EOPNOTSUPP ] || [ "$out" = ENOTSUP ]; } && ok "O_TMPFILE: EOPNOTSUPP (libfuse 3.14 has no tmpfile operation)" || not_ok "O_TMPFILE: $out"
fusermount3 -u "$WORK/lf/m"
umount "$WORK/ovl/m"
finish
