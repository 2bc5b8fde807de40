# Shared by the integration tests: a work folder, checks that count, and
# the closing "N passed, N failed" line.
set -uo pipefail

: "${LAYERCTL:?LAYERCTL not set (run through meson test)}"
: "${DISKTOOL:?DISKTOOL not set}"
: "${TESTS_DIR:?TESTS_DIR not set}"

WORK=$(mktemp -d /tmp/lf-it.XXXXXX)
MOUNTS=()
passed=0
failed=0

cleanup() {
  for m in "${MOUNTS[@]}"; do fusermount3 -u "$m" 2>/dev/null || umount "$m" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok - $*"; }
# as USER COMMAND...: run it as that (unprivileged) user
as() { local u=$1; shift; runuser -u "$u" -- "$@"; }
# sample_repo REPO: the sample's layers built (S: their folder) and a
# repository at REPO with its OS layer (id 1) and Office (id 100)
sample_repo() {
  S="$WORK/sample/Layers"
  bash "$SOURCE_DIR/scripts/sample/make-repo" "$WORK/sample" "$LAYERCTL" >/dev/null
  "$LAYERCTL" repo init "$1" >/dev/null
  "$LAYERCTL" repo add "$1" "$S/OS/Windows10.1.1.vhd" --type os --name Windows10 >/dev/null
  "$LAYERCTL" repo add "$1" "$S/App/Office.101.3.vhd" --type app --name Office --priority 10 >/dev/null
}
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }

# check DESCRIPTION COMMAND...: the command must succeed
check() {
  local what=$1; shift
  if "$@" >"$WORK/.out" 2>&1; then ok "$what"; else not_ok "$what"; sed 's/^/    /' "$WORK/.out" | tail -20; fi
}

# refuses DESCRIPTION WORDS COMMAND...: exit 1, one line on stderr that
# names WORDS (e.g. the file), nothing on stdout, no crash
refuses() {
  local what=$1 words=$2; shift 2
  "$@" >"$WORK/.out" 2>"$WORK/.err"
  local rc=$?
  local lines
  lines=$(wc -l < "$WORK/.err")
  if [ "$rc" -eq 1 ] && [ "$lines" -eq 1 ] && grep -qF -- "$words" "$WORK/.err" && [ ! -s "$WORK/.out" ]; then
    ok "$what: $(cat "$WORK/.err")"
  else
    not_ok "$what (exit $rc, $lines stderr lines, want 1 and one line naming '$words')"
    sed 's/^/    /' "$WORK/.err" | head -5
  fi
}

finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

skip_all() {
  echo "SKIP: $*"
  exit 77
}
