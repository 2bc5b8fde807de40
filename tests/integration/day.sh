#!/usr/bin/env bash
# A day in the life of layerd (issue 27): real Windows hives (Windows 10's
# SAM, SECURITY, DEFAULT and NTUSER.DAT, a dirty SYSTEM with its logs),
# two app layers, real accounts in Unix groups, layerd with an admin
# group, and per user a seeded random mix of what a Windows session does
# all day (Explorer listings with every system.ntfs_* xattr, registry
# writes through REG read back through C:'s hive file at once, files made,
# written, renamed, deleted, logoff and login), while an admin captures
# new revisions (one a differencing disk), refreshes and retires them,
# and layerd is killed with SIGKILL and started again. Every operation
# runs under the watchdog (day.py); at the end fsck finds nothing new and
# every user's files and values are as the model says.
#
# DAY_SECONDS (default 180), DAY_USERS (4), DAY_SEED (random, printed),
# DAY_FLOOR (operations that must have run; default 40 a user a minute).
# scripts/day runs it for hours with 20 users.
. "$(dirname "$0")/lib.sh"
: "${LAYERD:?LAYERD not set}"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (accounts, mounts for users)"
[ -e /dev/fuse ] || skip_all "no /dev/fuse"
command -v useradd >/dev/null || skip_all "no useradd"
H="$REALDATA/hives"
[ -f "$H/win10-rathbun/SAM.gz" ] || skip_all "no ../shared/realdata: the day needs Windows' own hives"
SECS=${DAY_SECONDS:-180}
NUSERS=${DAY_USERS:-4}
SEED=${DAY_SEED:-$(( (RANDOM << 15) | RANDOM ))}
FLOOR=${DAY_FLOOR:-$(( NUSERS * SECS * 40 / 60 ))}
echo "# day: seed $SEED, $NUSERS users, $SECS s (DAY_SEED=$SEED reproduces it)"
L() { wd "$LAYERCTL" "$@"; }

for g in lfdayadm lfday7z lfdaynpp; do getent group "$g" >/dev/null || groupadd "$g" || skip_all "cannot add group $g"; done
USERS=()
for i in $(seq 1 "$NUSERS"); do
  u=$(printf 'lfday%02d' "$i")
  groups=""
  [ $((i % 4)) -eq 1 ] && groups="lfdayadm"               # an administrator in four
  [ $((i % 2)) -eq 1 ] && groups="${groups:+$groups,}lfday7z"
  [ $((i % 3)) -ne 0 ] && groups="${groups:+$groups,}lfdaynpp"
  if id "$u" >/dev/null 2>&1; then
    usermod -G "$groups" "$u" 2>/dev/null
  else
    useradd -M -s /bin/sh ${groups:+-G "$groups"} "$u" || skip_all "cannot add $u"
  fi
  USERS+=("$u")
done
chmod 755 "$WORK"

# --- the OS layer: a small Windows tree with Windows 10's descriptors and
# real hives; two app layers, as captured by hand
. "$TESTS_DIR/realos.sh"
real_os "$WORK/os"
check "the OS layer: real hives, Windows 10's descriptors" "$LAYERCTL" pack -q "$WORK/os" "$WORK/os.vhd"
app_layer 7-Zip 7z.exe 7-Zip 1.0 "$WORK/7-Zip.vhd" && app_layer Notepad++ notepad++.exe Notepad++ 1.0 "$WORK/Notepad++.vhd" \
  && ok "app layers 7-Zip and Notepad++" || not_ok "app layers 7-Zip and Notepad++"
R="$WORK/repo"
check "the repository: OS, 7-Zip, Notepad++; assigned by group" bash -c "
  '$LAYERCTL' repo init '$R' >/dev/null &&
  '$LAYERCTL' repo add '$R' '$WORK/os.vhd' --type os --name Windows10 --id 1 >/dev/null &&
  '$LAYERCTL' repo add '$R' '$WORK/7-Zip.vhd' --type app --name 7-Zip --id 100 >/dev/null &&
  '$LAYERCTL' repo add '$R' '$WORK/Notepad++.vhd' --type app --name Notepad++ --id 101 >/dev/null &&
  '$LAYERCTL' repo assign '$R' --machine '*' 1 >/dev/null &&
  '$LAYERCTL' repo assign '$R' --group lfday7z 100 >/dev/null &&
  '$LAYERCTL' repo assign '$R' --group lfdaynpp 101 >/dev/null"

export LAYERD_SOCKET="$WORK/layerd.sock"
python3 "$TESTS_DIR/day.py" --layerctl "$LAYERCTL" --layerd "$LAYERD" --repo "$R" \
  --run "$WORK/run" --work "$WORK" --socket "$LAYERD_SOCKET" --admin-group lfdayadm \
  --os "$R/Layers/OS/Windows10.1.1.vhd" --seconds "$SECS" --seed "$SEED" --floor "$FLOOR" \
  --users "$(IFS=,; echo "${USERS[*]}")"
rc=$?
[ "$rc" -eq 0 ] && ok "the day: no hang, no lock-order abort, fsck clean, every model held" \
  || not_ok "the day (seed $SEED): see above"
finish
