#!/usr/bin/env bash
# Windows rights in a layerd session (issue 15): an OS layer packed from a
# tree carrying Windows 10's default descriptors (set with `layerctl acl`,
# kept by `pack`) and the real SAM hive of ../shared/realdata. Checked as
# real users through their mounts: an ordinary user, an administrator
# (a member of layerd's --admin-group) and root.
#
# The ACEs the checks rely on (Windows 10's defaults, as icacls shows them):
#   C:\                 BUILTIN\Users (OI)(CI)(RX); Authenticated Users (AD)
#                       this folder only: folders may be made, files not
#   C:\Windows, System32, Program Files
#                       SYSTEM and Administrators 0x1301bf (modify), Users RX,
#                       TrustedInstaller full; Users (OI)(CI)(IO) GR GX below
#   System32\config     SYSTEM and Administrators only; SAM inherits that
#   C:\ProgramData      Users (CI) 0x116: may add files and folders
#   C:\Users\USER       made at first login: SYSTEM, Administrators and she
#                       have full control, (OI)(CI), protected
. "$(dirname "$0")/lib.sh"
: "${LAYERD:?LAYERD not set}"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (accounts, mounts for users)"
[ -e /dev/fuse ] || skip_all "no /dev/fuse"
command -v useradd >/dev/null || skip_all "no useradd"
getent group lfadmins >/dev/null || groupadd lfadmins || skip_all "cannot add group lfadmins"
id lfalice >/dev/null 2>&1 || useradd -M -s /bin/sh lfalice || skip_all "cannot add lfalice"
id lferin >/dev/null 2>&1 || useradd -M -s /bin/sh -G lfadmins lferin || skip_all "cannot add lferin"
chmod 755 "$WORK"
L() { "$LAYERCTL" "$@"; }
TI="S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
SYSDIR="O:${TI}G:${TI}D:PAI(A;OICIIO;GA;;;CO)(A;OICIIO;GA;;;SY)(A;;0x1301bf;;;SY)(A;OICIIO;GA;;;BA)(A;;0x1301bf;;;BA)(A;OICIIO;GXGR;;;BU)(A;;0x1200a9;;;BU)(A;CIIO;GA;;;${TI})(A;;FA;;;${TI})"

O="$WORK/os"
mkdir -p "$O/Windows/System32/config" "$O/Program Files" "$O/ProgramData" "$O/Users/Default"
echo "[fonts]" >"$O/Windows/win.ini"
echo "MZ notepad" >"$O/Windows/System32/notepad.exe"
H="$REALDATA/hives"
[ -f "$H/win10-rathbun/SAM.gz" ] || skip_all "no ../shared/realdata: the test needs Windows' own hives"
zcat "$H/win10-rathbun/SAM.gz" >"$O/Windows/System32/config/SAM"
# SECURITY was taken dirty, without its logs: compact it as its base image
zcat "$H/win10-rathbun/SECURITY.gz" >"$WORK/SECURITY.dirty"
L reg compact "$WORK/SECURITY.dirty" "$O/Windows/System32/config/SECURITY" >/dev/null 2>&1
zcat "$H/regipy_SYSTEM_Win7x86_WKS-WIN732BITA.gz" >"$O/Windows/System32/config/SYSTEM"
# NTUSER.DAT too, with its logs: compact replays them
zcat "$H/win10-rathbun/NTUSER.DAT.gz" >"$WORK/NTUSER.DAT"
for n in 1 2; do zcat "$H/win10-rathbun/ntuser.dat.LOG$n.gz" >"$WORK/NTUSER.DAT.LOG$n"; done
L reg compact "$WORK/NTUSER.DAT" "$O/Users/Default/NTUSER.DAT" >/dev/null 2>&1
acl() { L acl "$O" "$1" "$2" >/dev/null; }
acl / "O:SYG:SYD:(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;OICI;0x1200a9;;;BU)(A;OICIIO;SDGXGWGR;;;AU)(A;;LC;;;AU)"
acl Windows "$SYSDIR"
acl Windows/System32 "$SYSDIR"
acl "Program Files" "$SYSDIR"
acl Windows/win.ini "O:BAG:SYD:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;0x1200a9;;;BU)"
acl Windows/System32/notepad.exe "O:${TI}G:${TI}D:PAI(A;;FA;;;${TI})(A;;0x1200a9;;;BA)(A;;0x1200a9;;;SY)(A;;0x1200a9;;;BU)"
acl Windows/System32/config "O:SYG:SYD:PAI(A;OICIIO;GA;;;CO)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"
acl Windows/System32/config/SAM "O:BAG:SYD:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)"
acl Windows/System32/config/SECURITY "O:BAG:SYD:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)"
acl Windows/System32/config/SYSTEM "O:BAG:SYD:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)"
acl ProgramData "O:SYG:SYD:P(A;OICIIO;GA;;;CO)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)(A;CI;0x116;;;BU)"
acl Users "O:SYG:SYD:PAI(A;OICIIO;GA;;;CO)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)(A;OICI;0x1200a9;;;WD)"
check "pack keeps the descriptors layerctl acl set" bash -c "
  '$LAYERCTL' pack -q '$O' '$WORK/os.vhd' &&
  '$LAYERCTL' stat --json '$WORK/os.vhd' Windows/System32/config | grep -qF 'O:SYG:SYD:PAI(A;OICIIO;GA;;;CO)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)'"

# pack from an ntfs-3g mount keeps what it shows: descriptor and attributes
N="$WORK/n3g"; mkdir -p "$N"
check "pack from an ntfs-3g mount keeps each file's descriptor and its hidden/system attributes" bash -c "
  '$LAYERCTL' pack -q -f raw '$O' '$WORK/os.img' && ntfs-3g '$WORK/os.img' '$N' &&
  python3 -c \"import os; os.setxattr('$N/Windows/win.ini', 'system.ntfs_attrib', (0x26).to_bytes(4, 'little'))\" &&
  '$LAYERCTL' pack -q '$N' '$WORK/from-n3g.vhd'; rc=\$?; umount '$N'; [ \$rc = 0 ] &&
  '$LAYERCTL' stat --json '$WORK/from-n3g.vhd' Windows/win.ini | python3 -c '
import json, sys
j = json.load(sys.stdin)
ok = sorted(j[\"attributes\"]) == [\"archive\", \"hidden\", \"system\"] and \\
     j[\"xattrs\"][\"system.ntfs_acl\"][\"sddl\"] == \"O:BAG:SYD:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;0x1200a9;;;BU)\"
sys.exit(0 if ok else 1)'"

R="$WORK/repo"
L repo init "$R" >/dev/null
L repo add "$R" "$WORK/os.vhd" --type os --name Win10 >/dev/null
L repo assign "$R" --machine '*' 1 >/dev/null
export LAYERD_SOCKET="$WORK/layerd.sock"
RUN="$WORK/run"
"$LAYERD" --repo "$R" --socket "$LAYERD_SOCKET" --run "$RUN" --machine WKS-1 \
  --admin-group lfadmins 2>"$WORK/layerd.log" &
LPID=$!
for _ in $(seq 50); do [ -S "$LAYERD_SOCKET" ] && break; sleep 0.1; done
cleanup_layerd() { kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null; }
trap 'cleanup_layerd; cleanup' EXIT
check "login lfalice and lferin" bash -c "'$LAYERCTL' login lfalice >/dev/null && '$LAYERCTL' login lferin >/dev/null"
A="$RUN/lfalice/C"; E="$RUN/lferin/C"
as() { local u=$1; shift; runuser -u "$u" -- "$@"; }
no() { ! "$@" 2>/dev/null; }

# her token
check "status: lfalice's SID is the image's machine SID with RID 10000+2*uid; lferin is an admin" \
  bash -c "'$LAYERCTL' status --json | python3 -c '
import json, sys, pwd
s = {x[\"user\"]: x for x in json.load(sys.stdin)[\"sessions\"]}
a, e = s[\"lfalice\"], s[\"lferin\"]
rid = 10000 + 2 * pwd.getpwnam(\"lfalice\").pw_uid
ok = a[\"sid\"].startswith(\"S-1-5-21-\") and a[\"sid\"].endswith(\"-%d\" % rid) and not a[\"admin\"] and e[\"admin\"]
sys.exit(0 if ok else 1)'"

# an ordinary user
check "lfalice reads C:\\Windows\\win.ini and notepad.exe (Users: RX)" \
  as lfalice sh -c "cat '$A/Windows/win.ini' '$A/Windows/System32/notepad.exe' >/dev/null"
check "lfalice cannot read SAM (SYSTEM and Administrators only): EACCES" \
  bash -c "as() { runuser -u \"\$1\" -- \"\${@:2}\"; }; ! as lfalice cat '$A/Windows/System32/config/SAM' 2>'$WORK/err' && grep -q 'Permission denied' '$WORK/err'"
check "lfalice cannot list System32\\config" no as lfalice ls "$A/Windows/System32/config"
check "lfalice cannot change notepad.exe, add a file to System32, or delete from it" bash -c "
  ! runuser -u lfalice -- sh -c 'echo x >> \"$A/Windows/System32/notepad.exe\"' 2>/dev/null &&
  ! runuser -u lfalice -- touch '$A/Windows/System32/new.dll' 2>/dev/null &&
  ! runuser -u lfalice -- rm -f '$A/Windows/System32/notepad.exe' 2>/dev/null &&
  [ -f '$A/Windows/System32/notepad.exe' ]"
check "lfalice may make a folder at C:\\ (AU: AD), not a file (no WD)" bash -c "
  runuser -u lfalice -- mkdir '$A/mine' && ! runuser -u lfalice -- touch '$A/file.txt' 2>/dev/null"
check "lfalice writes in the folder she made at C:\\ (CREATOR OWNER / AU modify inherited)" \
  as lfalice sh -c "echo hi > '$A/mine/a.txt'"
check "lfalice may add a file to C:\\ProgramData (Users: CI 0x116)" as lfalice touch "$A/ProgramData/app.cfg"
check "ls -l shows lfalice her rights: notepad.exe r-x, System32 r-x, her file rw-" bash -c "
  [ \"\$(runuser -u lfalice -- stat -c %A '$A/Windows/System32/notepad.exe')\" = '-r-xr-xr-x' ] &&
  [ \"\$(runuser -u lfalice -- stat -c %A '$A/Windows/System32')\" = 'dr-xr-xr-x' ] &&
  runuser -u lfalice -- stat -c %A '$A/mine/a.txt' | grep -q '^-rw'"
check "access(2) agrees: W_OK on win.ini is refused, R_OK allowed" as lfalice python3 -c "
import os, sys
p = '$A/Windows/win.ini'
sys.exit(0 if os.access(p, os.R_OK) and not os.access(p, os.W_OK) else 1)"
check "her profile C:\\Users\\lfalice is hers: she writes there" \
  as lfalice sh -c "mkdir -p '$A/Users/lfalice/Documents' && echo doc > '$A/Users/lfalice/Documents/a.txt'"
UP=$(ls -d "$R"/Users/lfalice/*)
check "a file made in Documents carries the ACEs Windows would give it (owner her; SY, BA and she inherited)" \
  bash -c "
  sid=\$('$LAYERCTL' status --json | python3 -c 'import json,sys; print([x[\"sid\"] for x in json.load(sys.stdin)[\"sessions\"] if x[\"user\"]==\"lfalice\"][0])')
  got=\$('$LAYERCTL' acl '$UP' Users/lfalice/Documents/a.txt)
  echo \"\$got\"
  [ \"\$got\" = \"O:\${sid}G:\${sid%-*}-513D:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)(A;ID;FA;;;\${sid})\" ]"
check "the mount shows the same descriptor as system.ntfs_acl (READ_CONTROL: she owns it)" \
  as lfalice python3 -c "
import os, sys
v = os.getxattr('$A/Users/lfalice/Documents/a.txt', 'system.ntfs_acl')
sys.exit(0 if v[0] == 1 and len(v) > 20 else 1)"
check "lfalice cannot set a descriptor on System32 (no WRITE_DAC)" as lfalice python3 -c "
import os, sys
v = os.getxattr('$A/Users/lfalice/Documents/a.txt', 'system.ntfs_acl')
try:
    os.setxattr('$A/Windows/System32', 'system.ntfs_acl', v)
except PermissionError:
    sys.exit(0)
sys.exit(1)"
check "chmod is refused in a session (Windows has no mode): EPERM" bash -c "
  ! runuser -u lfalice -- chmod 600 '$A/mine/a.txt' 2>'$WORK/err' && grep -q 'not permitted' '$WORK/err'"

# the registry: the keys' own descriptors, as Windows wrote them
#   SAM\SAM, SECURITY\Policy: SYSTEM KEY_ALL_ACCESS; Administrators only
#     READ_CONTROL and WRITE_DAC (CI)
#   SYSTEM\ControlSet001\Services\Tcpip: Users KEY_READ, Administrators
#     and SYSTEM KEY_ALL_ACCESS (CI)
G="$RUN/lfalice/REG"; GE="$RUN/lferin/REG"
check "HKLM\\SAM\\SAM and HKLM\\SECURITY\\Policy refuse lfalice: EACCES" bash -c "
  ! runuser -u lfalice -- ls '$G/HKLM/SAM/SAM' 2>'$WORK/err' && grep -q 'Permission denied' '$WORK/err' &&
  ! runuser -u lfalice -- ls '$G/HKLM/SECURITY/Policy' 2>/dev/null"
check "HKLM\\SYSTEM is read-only to lfalice: she lists Tcpip, cannot add a value or a key" bash -c "
  runuser -u lfalice -- ls '$G/HKLM/SYSTEM/ControlSet001/Services/Tcpip' >/dev/null &&
  ! runuser -u lfalice -- sh -c 'echo 4 > \"$G/HKLM/SYSTEM/ControlSet001/Services/Tcpip/Mine\"' 2>/dev/null &&
  ! runuser -u lfalice -- mkdir '$G/HKLM/SYSTEM/ControlSet001/Services/Mine' 2>/dev/null"
check "ls -l shows her key rights: Tcpip r-x, HKU\\lfalice rwx" bash -c "
  [ \"\$(runuser -u lfalice -- stat -c %A '$G/HKLM/SYSTEM/ControlSet001/Services/Tcpip')\" = dr-xr-xr-x ] &&
  [ \"\$(runuser -u lfalice -- stat -c %A '$G/HKU/lfalice')\" = drwxrwxrwx ]"
check "a listing (readdirplus) gives each key and value her rights, as a lookup does" bash -c "
  d='$G/HKLM/SYSTEM/ControlSet001/Control'
  runuser -u lfalice -- sh -c 'cd \"\$1\" && ls -l >/dev/null && stat -c \"%A %n\" * | head -200' sh \"\$d\" >'$WORK/listed'
  sync; echo 2 >/proc/sys/vm/drop_caches
  runuser -u lfalice -- sh -c 'cd \"\$1\" && stat -c \"%A %n\" * | head -200' sh \"\$d\" >'$WORK/looked'
  [ -s '$WORK/listed' ] && grep -q '^dr-x' '$WORK/listed' && diff '$WORK/listed' '$WORK/looked'"
check "HKCU is hers: a value set in HKU\\lfalice lands in her NTUSER.DAT (hivex reads it)" bash -c "
  runuser -u lfalice -- mkdir -p '$G/HKU/lfalice/Software/Mine' &&
  runuser -u lfalice -- sh -c 'echo blue > \"$G/HKU/lfalice/Software/Mine/Color\"' &&
  hivexget '$UP/Users/lfalice/NTUSER.DAT' 'Software\\Mine' Color | grep -q blue"
check "a key she makes in her hive inherits its parent's ACEs (read back by regfs's view: she may list it)" \
  as lfalice ls "$G/HKU/lfalice/Software/Mine"
check "lferin (an administrator) adds a value under HKLM\\SYSTEM\\...\\Tcpip, lists SECURITY not" bash -c "
  runuser -u lferin -- sh -c 'echo 4 > \"$GE/HKLM/SYSTEM/ControlSet001/Services/Tcpip/Admin\"' &&
  ! runuser -u lferin -- ls '$GE/HKLM/SECURITY/Policy' 2>/dev/null"
check "root (SYSTEM) lists HKLM\\SAM\\SAM in lfalice's view" ls "$G/HKLM/SAM/SAM"

# an administrator, and root
check "lferin (lfadmins) changes System32 and reads SAM" bash -c "
  runuser -u lferin -- touch '$E/Windows/System32/admin.dll' &&
  runuser -u lferin -- cat '$E/Windows/System32/config/SAM' >/dev/null"
check "lferin cannot change notepad.exe either (TrustedInstaller's: Administrators RX)" \
  no as lferin sh -c "echo x >> '$E/Windows/System32/notepad.exe'"
check "root (SYSTEM) reads SAM through lfalice's drive" cat "$A/Windows/System32/config/SAM"
check "lferin cannot reach lfalice's drive" no as lferin ls "$A"
check "after logoff and login, her file and its descriptor stay" bash -c "
  '$LAYERCTL' logoff lfalice >/dev/null && '$LAYERCTL' login lfalice >/dev/null &&
  [ \"\$(runuser -u lfalice -- cat '$A/Users/lfalice/Documents/a.txt')\" = doc ] &&
  ! runuser -u lfalice -- cat '$A/Windows/System32/config/SAM' 2>/dev/null"
# her SID from REPO/UserMapping (ntfs-3g's format), and a SID that is an
# account of the image's SAM refused
check "REPO/UserMapping gives lferin the SID it names (uid::SID)" bash -c "
  echo \"\$(id -u lferin)::S-1-5-21-7-8-9-4242\" > '$R/UserMapping' &&
  '$LAYERCTL' logoff lferin >/dev/null && '$LAYERCTL' login lferin >/dev/null &&
  '$LAYERCTL' status --json | grep -q '\"sid\": \"S-1-5-21-7-8-9-4242\"'"
check "a mapping onto the SAM's Administrator (RID 500) is refused, saying so" bash -c "
  machine=\$('$LAYERCTL' status --json | python3 -c 'import json,sys; print([x[\"sid\"] for x in json.load(sys.stdin)[\"sessions\"] if x[\"user\"]==\"lfalice\"][0].rsplit(\"-\", 1)[0])') &&
  echo \"\$(id -u lferin)::\$machine-500\" > '$R/UserMapping' &&
  '$LAYERCTL' logoff lferin >/dev/null; ! '$LAYERCTL' login lferin 2>'$WORK/err' && grep -q 'RID 500' '$WORK/err'"
rm -f "$R/UserMapping"

# A plain mount (no session) of a pure Windows layer (pack --no-lx): the
# descriptors give the modes, the kernel checks them.
P="$WORK/plain"; mkdir -p "$P"
check "plain mount of the layer packed without Linux metadata" bash -c "
  '$LAYERCTL' pack -q --no-lx '$O' '$WORK/os-nolx.vhd' && '$LAYERFS' --layer '$WORK/os-nolx.vhd' '$P'"
check "plain: owner bits are Administrators' rights, other bits Users': SAM rwx------, win.ini rwxr-xr-x" bash -c "
  [ \"\$(stat -c %A '$P/Windows/System32/config/SAM')\" = '-rwx------' ] &&
  [ \"\$(stat -c '%U %A' '$P/Windows/win.ini')\" = 'root -rwxr-xr-x' ]"
check "plain: a local user reads win.ini, not SAM" bash -c "
  runuser -u lfalice -- cat '$P/Windows/win.ini' >/dev/null && ! runuser -u lfalice -- cat '$P/Windows/System32/config/SAM' 2>/dev/null"
fusermount3 -u "$P" 2>/dev/null || umount "$P"
check "--access posix: descriptors are not looked at (the folder layer's own modes)" bash -c "
  '$LAYERFS' --access posix --layer '$WORK/os-nolx.vhd' '$P' &&
  [ \"\$(stat -c %A '$P/Windows/System32/config/SAM')\" != '-rwx------' ]; rc=\$?; fusermount3 -u '$P'; exit \$rc"
# regfs run by root, no session: the keys' descriptors, root SYSTEM,
# anyone else a standard user
check "plain regfs: a local user cannot list HKLM\\SAM\\SAM; Tcpip shows rwx (Administrators) r-x (Users)" bash -c "
  '$REGFS' --hive 'HKLM/SAM=$O/Windows/System32/config/SAM' \
    --hive 'HKLM/SYSTEM=$O/Windows/System32/config/SYSTEM' -o allow_other '$P' &&
  ! runuser -u lfalice -- ls '$P/HKLM/SAM/SAM' 2>/dev/null && ls '$P/HKLM/SAM/SAM' >/dev/null &&
  [ \"\$(stat -c '%U %A' '$P/HKLM/SYSTEM/ControlSet001/Services/Tcpip')\" = 'root drwxr-xr-x' ] &&
  runuser -u lfalice -- ls '$P/HKLM/SYSTEM/ControlSet001/Services/Tcpip' >/dev/null; rc=\$?
  fusermount3 -u '$P'; exit \$rc"
finish
