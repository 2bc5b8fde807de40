# Shared by the integration tests: a work folder, checks that count, and
# the closing "N passed, N failed" line.
set -uo pipefail

: "${LAYERCTL:?LAYERCTL not set (run through meson test)}"
: "${DISKTOOL:?DISKTOOL not set}"
: "${TESTS_DIR:?TESTS_DIR not set}"

WORK=$(mktemp -d /tmp/lf-it.XXXXXX)
# a lock-order abort in any daemon (a -Dlockcheck=true build) is written
# here too; finish() fails the test when it is not empty
export LF_LOCKCHECK_LOG="$WORK/lockcheck.log"
MOUNTS=()
passed=0
failed=0

cleanup() {
  [ -n "${FUSE_WATCH:-}" ] && kill "$FUSE_WATCH" 2>/dev/null
  for m in "${MOUNTS[@]}"; do fusermount3 -u "$m" 2>/dev/null || umount "$m" 2>/dev/null; done
  # a daemon's mounts below WORK (layerd's sessions, a test killed midway)
  # are detached, deepest first: rm must never walk into a live mount
  awk -v w="$WORK/" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf --one-file-system "$WORK"
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
# a TCP port free on 127.0.0.1 now
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# make_test_ca DIR: a CA (DIR/ca.pem, ca.key) made for this run and a
# server certificate it signs for 127.0.0.1 and localhost (srv.pem,
# srv.key); openssl's chatter into DIR/openssl.log
make_test_ca() {
  mkdir -p "$1" && (
    cd "$1" &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=layerfs-test-CA &&
    openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 &&
    printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' 'basicConstraints=CA:FALSE' \
      'extendedKeyUsage=serverAuth' >srv.ext &&
    openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile srv.ext
  ) >"$1/openssl.log" 2>&1
}

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

# The watchdog (issue 27): wd COMMAND... runs it; a command still running
# after WD_SECONDS (10) is a hang: every daemon in WD_PIDS (default: the
# layerfs, regfs and layerd processes) has its threads dumped (gdb), then
# every FUSE connection mounted below $WORK is aborted through fusectl
# (found in /proc/self/mountinfo, never by touching the mount), so the
# command ends and the test fails with the cause, never stuck. Exit 124.
WD_SECONDS=${WD_SECONDS:-10}
exec 9>&2          # the test's own stderr: a dump is never cut by check's tail
# ...and beside wd, one for every command the test runs: fuse_watch.py
# fails the test (through finish) when any of them waits WD_SECONDS in one
# FUSE request, with the daemons' threads, and aborts the connection
if [ "$(id -u)" -eq 0 ] && [ -e /dev/fuse ]; then
  # not a job of this shell (a bare wait in a test must not wait for it)
  FUSE_WATCH=$( (python3 "$TESTS_DIR/fuse_watch.py" $$ "$WORK" "$WD_SECONDS" "$WORK/watchdog.log" \
                 </dev/null >/dev/null 2>&1 & echo $!) )
fi
WD_TRIPS=0
wd_dump() {
  local pids=${WD_PIDS:-$(pgrep -d ' ' -x 'layerfs|regfs|layerd' || true)}
  for p in $pids; do
    echo "== threads of $p ($(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | cut -c1-120))"
    if command -v gdb >/dev/null; then
      timeout 60 gdb -p "$p" -batch -nx -ex 'set pagination off' -ex 'thread apply all bt' 2>/dev/null \
        | grep -E '^(Thread|#)' | head -400
    else
      for t in /proc/"$p"/task/*; do echo "thread ${t##*/}: $(cat "$t/wchan" 2>/dev/null)"; cat "$t/stack" 2>/dev/null; done
    fi
  done
}
wd_abort() {
  grep -q fusectl /proc/mounts || mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null
  local dev mnt
  while read -r _ _ dev _ mnt _; do
    case "$mnt" in
      "$WORK"/*) [ "${dev%%:*}" = 0 ] && [ -e "/sys/fs/fuse/connections/${dev#*:}/abort" ] &&
        echo 1 > "/sys/fs/fuse/connections/${dev#*:}/abort" && echo "watchdog: aborted the FUSE connection of $mnt" ;;
    esac
  done < /proc/self/mountinfo
}
wd() {
  local t0=$SECONDS pid
  "$@" & pid=$!
  local n=0 limit=$((WD_SECONDS * 20))
  while kill -0 "$pid" 2>/dev/null; do
    sleep 0.05
    n=$((n + 1))
    if [ "$n" -ge "$limit" ]; then
      WD_TRIPS=$((WD_TRIPS + 1))
      # to both (tee /dev/fd/9 would reopen, and truncate, a log file)
      echo "WATCHDOG: '$*' took more than ${WD_SECONDS} s" >&9
      echo "WATCHDOG: '$*' took more than ${WD_SECONDS} s" >&2
      wd_dump >&9
      wd_abort >&9
      wait "$pid" 2>/dev/null
      return 124
    fi
  done
  wait "$pid"
}

finish() {
  if [ -s "$LF_LOCKCHECK_LOG" ]; then
    not_ok "a lock was taken against the lock map (fs/union/union_int.h):"
    sed 's/^/    /' "$LF_LOCKCHECK_LOG" | head -40
  fi
  if [ -s "$WORK/watchdog.log" ]; then
    not_ok "a file operation hung (the test-wide watchdog, fuse_watch.py):"
    sed 's/^/    /' "$WORK/watchdog.log" | head -300
  fi
  # a test whose checks stop early (a loop that ran no times, a section
  # that quietly did nothing) must not pass: CHECKS is how many it has
  if [ -n "${CHECKS:-}" ] && [ $((passed + failed)) -lt "$CHECKS" ]; then
    not_ok "only $((passed + failed)) checks ran; this test has $CHECKS"
  fi
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

skip_all() {
  # in CI nothing may quietly not run: a skip there is a failure
  if [ "${CI:-}" = true ]; then
    echo "not ok - skipped under CI=true: $*"
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}
