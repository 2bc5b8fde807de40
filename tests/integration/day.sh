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
# real hives (as rights.sh sets them)
TI="S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
SYSDIR="O:${TI}G:${TI}D:PAI(A;OICIIO;GA;;;CO)(A;OICIIO;GA;;;SY)(A;;0x1301bf;;;SY)(A;OICIIO;GA;;;BA)(A;;0x1301bf;;;BA)(A;OICIIO;GXGR;;;BU)(A;;0x1200a9;;;BU)(A;CIIO;GA;;;${TI})(A;;FA;;;${TI})"
O="$WORK/os"
CFG="$O/Windows/System32/config"
mkdir -p "$CFG" "$O/Program Files/Common Files" "$O/ProgramData" \
  "$O/Users/Default/Desktop" "$O/Users/Default/Documents" "$O/Users/Default/AppData/Roaming/Microsoft" \
  "$O/Users/Default/AppData/Local/Temp" "$O/Users/Public/Desktop"
echo "[fonts]" >"$O/Windows/win.ini"
for f in notepad.exe cmd.exe kernel32.dll; do echo "MZ $f" >"$O/Windows/System32/$f"; done
echo "Welcome" >"$O/Users/Default/Desktop/welcome.txt"
zcat "$H/win10-rathbun/SAM.gz" >"$CFG/SAM"
zcat "$H/win10-rathbun/SECURITY.gz" >"$WORK/SECURITY.dirty"
"$LAYERCTL" reg compact "$WORK/SECURITY.dirty" "$CFG/SECURITY" >/dev/null 2>&1
zcat "$H/regipy_SYSTEM_B_DESKTOP-PM6C56D.gz" >"$CFG/SYSTEM"           # dirty, with its logs
for n in 1 2; do zcat "$H/regipy_SYSTEM_B_DESKTOP-PM6C56D.LOG$n.gz" >"$CFG/SYSTEM.LOG$n"; done
zcat "$H/win10-rathbun/DEFAULT.gz" >"$CFG/DEFAULT"                    # dirty, with its logs
for n in 1 2; do zcat "$H/win10-rathbun/DEFAULT.LOG$n.gz" >"$CFG/DEFAULT.LOG$n"; done
printf 'Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion]\n"ProductName"="Windows 10 Enterprise"\n"CurrentBuild"="19045"\n' >"$WORK/software.reg"
"$LAYERCTL" reg new --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$CFG/SOFTWARE" "$WORK/software.reg" >/dev/null
zcat "$H/win10-rathbun/NTUSER.DAT.gz" >"$WORK/NTUSER.DAT"
for n in 1 2; do zcat "$H/win10-rathbun/ntuser.dat.LOG$n.gz" >"$WORK/NTUSER.DAT.LOG$n"; done
"$LAYERCTL" reg compact "$WORK/NTUSER.DAT" "$O/Users/Default/NTUSER.DAT" >/dev/null 2>&1
acl() { "$LAYERCTL" acl "$O" "$1" "$2" >/dev/null; }
acl / "O:SYG:SYD:(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;OICI;0x1200a9;;;BU)(A;OICIIO;SDGXGWGR;;;AU)(A;;LC;;;AU)"
acl Windows "$SYSDIR"
acl Windows/System32 "$SYSDIR"
acl "Program Files" "$SYSDIR"
acl Windows/System32/config "O:SYG:SYD:PAI(A;OICIIO;GA;;;CO)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
acl ProgramData "O:SYG:SYD:P(A;OICIIO;GA;;;CO)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)(A;CI;0x116;;;BU)"
acl Users "O:SYG:SYD:PAI(A;OICIIO;GA;;;CO)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)(A;OICI;0x1200a9;;;WD)"
check "the OS layer: real hives, Windows 10's descriptors" "$LAYERCTL" pack -q "$O" "$WORK/os.vhd"

# --- two app layers, as captured by hand
app() {  # app NAME EXE KEY
  local d="$WORK/app-$1"
  mkdir -p "$d/Program Files/$1" "$d/Windows/System32/config"
  echo "MZ $2 1.0" >"$d/Program Files/$1/$2"
  echo "$1 readme" >"$d/Program Files/$1/readme.txt"
  printf 'Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\%s]\n"Version"="1.0"\n"Path"="C:\\\\Program Files\\\\%s"\n' "$3" "$1" >"$WORK/$1.reg"
  "$LAYERCTL" reg new --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$d/Windows/System32/config/SOFTWARE" "$WORK/$1.reg" >/dev/null &&
  "$LAYERCTL" pack -q "$d" "$WORK/$1.vhd"
}
check "app layers 7-Zip and Notepad++" bash -c "$(declare -f app); WORK='$WORK' LAYERCTL='$LAYERCTL'; app 7-Zip 7z.exe 7-Zip && app Notepad++ notepad++.exe Notepad++"
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
