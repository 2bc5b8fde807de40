#!/usr/bin/env bash
# pack then ls -R / cat: a generated tree of 5,000 files (Unicode names,
# paths deeper than PATH_MAX, empty files, symlinks, hard links, a 100 MB
# file) comes back with every name, type, size, mtime and byte equal; owners,
# modes, FIFOs, sockets and devices as WSL keeps them ($LX* EAs), through
# layerctl and through a mount.
. "$(dirname "$0")/lib.sh"

python3 "$TESTS_DIR/gen_tree.py" "$WORK/src" 5000 100 >/dev/null || { not_ok "generate"; finish; exit 1; }

# Linux metadata: owners, modes (setuid, sticky, none), special files
s=$WORK/src
chown 1234:5678 "$s/hard 0.txt"; chmod 4750 "$s/hard 0.txt"
mkdir -p "$s/lx/private" "$s/lx/tmp"; chown 42:43 "$s/lx/private"; chmod 0700 "$s/lx/private"
chmod 1777 "$s/lx/tmp"; echo none >"$s/lx/none"; chmod 0 "$s/lx/none"
mkfifo -m 0620 "$s/lx/fifo"; chown 7:8 "$s/lx/fifo"
mknod -m 0660 "$s/lx/null" c 1 3; mknod -m 0600 "$s/lx/loop" b 7 200
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$s/lx/sock"
touch -h -d @1700000000 "$s/lx"/* "$s/lx"

check "pack the tree into a dynamic VHD" "$LAYERCTL" pack -q "$WORK/src" "$WORK/layer.vhd"
check "owners, modes, FIFOs, sockets and devices round-trip (layerctl)" \
  python3 "$TESTS_DIR/compare_tree.py" --owners "$LAYERCTL" "$WORK/layer.vhd" "$WORK/src"
from=$("$LAYERCTL" stat --json "$WORK/layer.vhd" lx/null | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["owner_from"], j["type"], j["rdev"])')
[ "$from" = "lx chardev 1:3" ] && ok "stat --json says where the owner comes from, and the device" \
  || not_ok "stat --json of a device: $from"
mkdir -p "$WORK/m" "$WORK/up"
if "$LAYERFS" -o "lowerdir=$WORK/layer.vhd,upperdir=$WORK/up" "$WORK/m"; then
  m_list=$(cd "$WORK/m" && find . -printf '%P %y %U %G %m\n' | sort)
  s_list=$(cd "$s" && find . -printf '%P %y %U %G %m\n' | sort)
  [ "$m_list" = "$s_list" ] && ok "the mount shows every owner, mode and type of the source" \
    || not_ok "the mount's owners and modes: $(diff <(echo "$s_list") <(echo "$m_list") | head -5)"
  [ "$(stat -c '%t:%T' "$WORK/m/lx/null")" = "1:3" ] && ok "a device keeps its numbers through the mount" \
    || not_ok "device numbers through the mount: $(stat -c '%t:%T' "$WORK/m/lx/null")"
  (cat "$WORK/m/lx/fifo" >"$WORK/fifo.out" &) ; sleep 0.2
  echo through >"$WORK/m/lx/fifo"; sleep 0.2
  [ "$(cat "$WORK/fifo.out")" = through ] && ok "a FIFO of an NTFS layer works as a FIFO" || not_ok "FIFO through the mount"
  chmod 0640 "$WORK/m/lx/fifo"
  [ "$(stat -c '%F %a %u' "$WORK/up/lx/fifo" 2>&1)" = "fifo 640 7" ] && ok "chmod copies a FIFO up as a FIFO, owner kept" \
    || not_ok "copy-up of a FIFO: $(stat -c '%F %a %u' "$WORK/up/lx/fifo" 2>&1)"
  umount "$WORK/m"
else
  not_ok "mount the packed tree"
fi
check "pack --no-lx makes a pure Windows layer" "$LAYERCTL" pack -q --no-lx "$WORK/src/lx/private" "$WORK/plain.vhd"
plain=$("$LAYERCTL" stat --json "$WORK/layer.vhd" "hard 0.txt" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["uid"], j["mode"])')
[ "$plain" = "1234 $((04750))" ] || not_ok "stat of a kept owner: $plain"
plain=$("$LAYERCTL" stat --json "$WORK/plain.vhd" / | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["owner_from"], j["uid"], j["mode"])')
[ "$plain" = "default 0 $((0755))" ] && ok "--no-lx: defaults, and stat says so" || not_ok "--no-lx root: $plain"
refuses "pack --no-lx refuses a FIFO, and says why" "--no-lx" "$LAYERCTL" pack -q --no-lx "$WORK/src/lx" "$WORK/plain2.vhd"
check "every name, type, size, mtime, target and byte round-trips" \
  python3 "$TESTS_DIR/compare_tree.py" "$LAYERCTL" "$WORK/layer.vhd" "$WORK/src"
check "the same tree as a directory layer reads the same" \
  python3 "$TESTS_DIR/compare_tree.py" "$LAYERCTL" "$WORK/src" "$WORK/src"

deep=$(cd "$WORK/src" && find . -name bottom.txt | sed 's|^\./||')
[ "${#deep}" -gt 4096 ] && ok "deep path is ${#deep} bytes" || not_ok "deep path only ${#deep} bytes"
out=$("$LAYERCTL" cat "$WORK/layer.vhd" "$(echo "$deep" | tr 'a-z' 'A-Z')" 2>&1)
[ "$out" = "the bottom of a path longer than PATH_MAX" ] && ok "cat of a deep path in another case" \
  || not_ok "cat of a deep path: $out"

links=$("$LAYERCTL" stat --json "$WORK/layer.vhd" "hard 0.txt" | python3 -c 'import json,sys; print(json.load(sys.stdin)["nlink"])')
[ "$links" = 2 ] && ok "hard links keep one file with two names" || not_ok "hard link nlink=$links"

finish
