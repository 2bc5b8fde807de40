# Sourced by tests that live a real day (day.sh, week.sh): a small
# Windows tree for an OS layer with real hives (Windows 10's SAM,
# SECURITY, DEFAULT with its logs, NTUSER.DAT as Default's, a dirty
# SYSTEM with its logs, a SOFTWARE made from a .reg) and Windows 10's
# descriptors.
#   real_os DIR [dirty-security]
# dirty-security: SECURITY as Windows left it (dirty, no logs beside it);
# else it is made whole first (layerctl reg compact).
real_os() {
  local O=$1 H="$REALDATA/hives" CFG="$1/Windows/System32/config" n
  local TI="S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"
  local SYSDIR="O:${TI}G:${TI}D:PAI(A;OICIIO;GA;;;CO)(A;OICIIO;GA;;;SY)(A;;0x1301bf;;;SY)(A;OICIIO;GA;;;BA)(A;;0x1301bf;;;BA)(A;OICIIO;GXGR;;;BU)(A;;0x1200a9;;;BU)(A;CIIO;GA;;;${TI})(A;;FA;;;${TI})"
  mkdir -p "$CFG" "$O/Program Files/Common Files" "$O/ProgramData" \
    "$O/Users/Default/Desktop" "$O/Users/Default/Documents" "$O/Users/Default/AppData/Roaming/Microsoft" \
    "$O/Users/Default/AppData/Local/Temp" "$O/Users/Public/Desktop"
  echo "[fonts]" >"$O/Windows/win.ini"
  for n in notepad.exe cmd.exe kernel32.dll; do echo "MZ $n" >"$O/Windows/System32/$n"; done
  echo "Welcome" >"$O/Users/Default/Desktop/welcome.txt"
  zcat "$H/win10-rathbun/SAM.gz" >"$CFG/SAM"
  if [ "${2:-}" = dirty-security ]; then
    zcat "$H/win10-rathbun/SECURITY.gz" >"$CFG/SECURITY"
  else
    zcat "$H/win10-rathbun/SECURITY.gz" >"$WORK/SECURITY.dirty"
    "$LAYERCTL" reg compact "$WORK/SECURITY.dirty" "$CFG/SECURITY" >/dev/null 2>&1
  fi
  zcat "$H/regipy_SYSTEM_B_DESKTOP-PM6C56D.gz" >"$CFG/SYSTEM"           # dirty, with its logs
  for n in 1 2; do zcat "$H/regipy_SYSTEM_B_DESKTOP-PM6C56D.LOG$n.gz" >"$CFG/SYSTEM.LOG$n"; done
  zcat "$H/win10-rathbun/DEFAULT.gz" >"$CFG/DEFAULT"                    # dirty, with its logs
  for n in 1 2; do zcat "$H/win10-rathbun/DEFAULT.LOG$n.gz" >"$CFG/DEFAULT.LOG$n"; done
  printf 'Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion]\n"ProductName"="Windows 10 Enterprise"\n"CurrentBuild"="19045"\n' >"$WORK/software.reg"
  "$LAYERCTL" reg new --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$CFG/SOFTWARE" "$WORK/software.reg" >/dev/null
  zcat "$H/win10-rathbun/NTUSER.DAT.gz" >"$WORK/NTUSER.DAT"
  for n in 1 2; do zcat "$H/win10-rathbun/ntuser.dat.LOG$n.gz" >"$WORK/NTUSER.DAT.LOG$n"; done
  "$LAYERCTL" reg compact "$WORK/NTUSER.DAT" "$O/Users/Default/NTUSER.DAT" >/dev/null 2>&1
  "$LAYERCTL" acl "$O" / "O:SYG:SYD:(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;OICI;0x1200a9;;;BU)(A;OICIIO;SDGXGWGR;;;AU)(A;;LC;;;AU)" >/dev/null
  for n in Windows Windows/System32 "Program Files"; do "$LAYERCTL" acl "$O" "$n" "$SYSDIR" >/dev/null; done
  "$LAYERCTL" acl "$O" Windows/System32/config "O:SYG:SYD:PAI(A;OICIIO;GA;;;CO)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)" >/dev/null
  # the hives and their logs as Windows has them: SYSTEM's and Administrators' alone
  for n in "$CFG"/*; do "$LAYERCTL" acl "$O" "Windows/System32/config/${n##*/}" "O:SYG:SYD:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)" >/dev/null; done
  "$LAYERCTL" acl "$O" ProgramData "O:SYG:SYD:P(A;OICIIO;GA;;;CO)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)(A;CI;0x116;;;BU)" >/dev/null
  "$LAYERCTL" acl "$O" Users "O:SYG:SYD:PAI(A;OICIIO;GA;;;CO)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)(A;OICI;0x1200a9;;;WD)" >/dev/null
}

# app_layer NAME EXE KEY VERSION OUT: an app layer as captured by hand:
# Program Files/NAME/EXE and readme.txt, HKLM\SOFTWARE\KEY's Version
app_layer() {
  local d="$WORK/app-$1-$4"
  mkdir -p "$d/Program Files/$1" "$d/Windows/System32/config"
  echo "MZ $2 $4" >"$d/Program Files/$1/$2"
  echo "$1 readme" >"$d/Program Files/$1/readme.txt"
  # each ships the C runtime: a conflict the admin's previews show
  mkdir -p "$d/Program Files/Common Files/Runtime"
  echo "MZ vcruntime140.dll from $1 $4" >"$d/Program Files/Common Files/Runtime/vcruntime140.dll"
  printf 'Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\%s]\n"Version"="%s"\n"Path"="C:\\\\Program Files\\\\%s"\n' "$3" "$4" "$1" >"$WORK/$1-$4.reg"
  "$LAYERCTL" reg new --prefix 'HKEY_LOCAL_MACHINE\SOFTWARE' "$d/Windows/System32/config/SOFTWARE" "$WORK/$1-$4.reg" >/dev/null &&
  "$LAYERCTL" pack -q "$d" "$5"
}
