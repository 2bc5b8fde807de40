#!/usr/bin/env bash
# pack then ls -R / cat: a generated tree of 5,000 files (Unicode names,
# paths deeper than PATH_MAX, empty files, symlinks, hard links, a 100 MB
# file) comes back with every name, type, size, mtime and byte equal.
. "$(dirname "$0")/lib.sh"

python3 "$TESTS_DIR/gen_tree.py" "$WORK/src" 5000 100 >/dev/null || { not_ok "generate"; finish; exit 1; }

check "pack the tree into a dynamic VHD" "$LAYERCTL" pack -q "$WORK/src" "$WORK/layer.vhd"
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
