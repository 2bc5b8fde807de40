#!/usr/bin/env bash
# The layer repository through layerctl: repo init/add/assign/resolve, and
# fsck on one broken repository per defect class: each is found, named,
# and exits as fsck(8) says; --repair fixes the safe ones only.
. "$(dirname "$0")/lib.sh"

L() { "$LAYERCTL" "$@"; }
check "the sample layers" bash "$SOURCE_DIR/scripts/sample/make-repo" "$WORK/sample" "$LAYERCTL"
S="$WORK/sample/Layers"
B="$WORK/base"
check "repo init" L repo init "$B"
refuses "repo init twice" "a repository is there already" L repo init "$B"
check "repo add: the OS layer" L repo add "$B" "$S/OS/Windows10.1.1.vhd" --type os --name Windows10
check "repo add: Office" L repo add "$B" "$S/App/Office.101.3.vhd" --type app --name Office --priority 10
refuses "repo add: the same bytes again are no new revision" "the same bytes as layer 100 revision 1" \
  L repo add "$B" "$S/App/Office.101.3.vhd" --type app --name Office
check "repo add --allow-same: Office again is its revision 2" \
  L repo add "$B" "$S/App/Office.101.3.vhd" --type app --name Office --allow-same
check "repo add: AdminTools" L repo add "$B" "$S/App/AdminTools.102.1.vhd" --type app --name AdminTools --priority 20
refuses "repo add: a file that is no layer" "$WORK/sample" L repo add "$B" "$WORK/sample" --type app --name Dir2
printf 'not a disk' >"$WORK/junk.vhd"
refuses "repo add: a file that is no layer" "junk.vhd" L repo add "$B" "$WORK/junk.vhd" --type app --name Junk
check "repo assign" bash -c "
  '$LAYERCTL' repo assign '$B' --machine 'WKS-*' 1 &&
  '$LAYERCTL' repo assign '$B' --group finance 100:1 &&
  '$LAYERCTL' repo assign '$B' --group staff 100 101 &&
  '$LAYERCTL' repo assign '$B' --user alice 101"
refuses "repo assign: a layer not there" "layer 555" L repo assign "$B" --user alice 555
same_out() { local what=$1 want=$2; shift 2; local got; got=$("$@" 2>&1)
  [ "$got" = "$want" ] && ok "$what" || not_ok "$what: got '$got', want '$want'"; }
cat >"$WORK/ids.py" <<'PY'
import json, sys
print(*["%d:%d" % (l["id"], l["revision"]) for l in json.load(sys.stdin)["stack"]])
PY
same_out "resolve: group finance pins Office 1" "1:1 100:1" bash -c "
  '$LAYERCTL' repo resolve --json '$B' --user bob --groups finance --machine WKS-7 | python3 '$WORK/ids.py'"
same_out "resolve: staff's newest beats finance's pin; alice's own AdminTools" "1:1 100:2 101:1" bash -c "
  '$LAYERCTL' repo resolve --json '$B' --user alice --groups finance,staff --machine wks-1 | python3 '$WORK/ids.py'"
refuses "resolve: no OS layer off the WKS machines" "no OS layer" L repo resolve "$B" --user bob --machine srv1
check "repo unassign, priority" bash -c "
  '$LAYERCTL' repo unassign '$B' --user alice 101 && '$LAYERCTL' repo priority '$B' 101 30 &&
  ! grep -q alice '$B/LayerAssignment.txt' && grep -q '\"priority\": 30' '$B/GuestLayerFile.txt'"
check "repo list --json parses" bash -c "'$LAYERCTL' repo list --json '$B' | python3 -m json.tool >/dev/null"
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
  # a user who may read the repository but not change it is told so
  cp "$LAYERCTL" "$WORK/layerctl" && chmod 755 "$WORK" "$WORK/layerctl"
  refuses "repo assign without write access says so" "needs write access" \
    runuser -u nobody -- "$WORK/layerctl" repo assign "$B" --user bob 101
fi
check "the base repository is clean (exit 0)" L fsck "$B"

# default options: priorities in creation order, so a repository made
# with default commands is clean
D="$WORK/defaults"
check "repo init, add of three layers with default options, assign: fsck exit 0" bash -c "
  '$LAYERCTL' repo init '$D' >/dev/null &&
  '$LAYERCTL' repo add '$D' '$S/OS/Windows10.1.1.vhd' --type os --name Win >/dev/null &&
  '$LAYERCTL' repo add '$D' '$S/App/Office.101.3.vhd' --type app --name Office >/dev/null &&
  '$LAYERCTL' repo add '$D' '$S/App/AdminTools.102.1.vhd' --type app --name Tools >/dev/null &&
  '$LAYERCTL' repo assign '$D' --group staff 1 100 101 >/dev/null && '$LAYERCTL' fsck '$D'"
same_out "default priorities are creation order (0, then 1)" "0 1" bash -c "
  '$LAYERCTL' repo list --json '$D' | python3 -c 'import json,sys; print(*[l[\"priority\"] for l in json.load(sys.stdin)[\"layers\"] if l[\"type\"]==\"app\"])'"
# severities: an old revision no one gets is a warning; --user checks her stack alone
W="$WORK/sev"
"$LAYERCTL" repo init "$W" >/dev/null
"$LAYERCTL" repo add "$W" "$S/OS/Windows10.1.1.vhd" --type os --name Win >/dev/null
"$LAYERCTL" repo add "$W" "$S/App/Office.101.3.vhd" --type app --name Office >/dev/null
"$LAYERCTL" repo add "$W" "$S/App/AdminTools.102.1.vhd" --type app --name Office >/dev/null   # revision 2
"$LAYERCTL" repo add "$W" "$S/App/AdminTools.102.1.vhd" --type app --name Tools >/dev/null
"$LAYERCTL" repo assign "$W" --machine '*' 1 >/dev/null
"$LAYERCTL" repo assign "$W" --group finance 100 >/dev/null
printf 'X' | dd of="$W/Layers/App/Office.100.1.vhd" bs=1 seek=1000 conv=notrunc 2>/dev/null
check "fsck: a damaged old revision no one gets is a warning (exit 0)" bash -c "
  '$LAYERCTL' fsck '$W' >'$WORK/sev.out'; rc=\$?; cat '$WORK/sev.out'; [ \$rc = 0 ] &&
  grep -q '^warning *wrong-sha256' '$WORK/sev.out' && grep -q '0 errors, 2 warnings' '$WORK/sev.out'"
check "fsck: pinned by someone, the same damage is an error (exit 4)" bash -c "
  '$LAYERCTL' repo assign '$W' --user bob 100:1 >/dev/null; '$LAYERCTL' fsck '$W' >/dev/null; [ \$? = 4 ]"
printf 'X' | dd of="$W/Layers/App/Tools.101.1.vhd" bs=1 seek=1000 conv=notrunc 2>/dev/null
check "fsck --user: only her stack: Tools (not hers) damaged, her stack clean (exit 0)" bash -c "
  '$LAYERCTL' fsck '$W' --user alice --groups finance --machine WKS-1 --json >'$WORK/u.json'; rc=\$?
  [ \$rc = 0 ] && ! grep -q Tools '$WORK/u.json'"
check "fsck without --user sees Tools (exit 4)" bash -c "'$LAYERCTL' fsck '$W' >/dev/null; [ \$? = 4 ]"

# retiring: refused while needed, then to Retired/ or gone
refuses "repo remove: refused while assigned, naming who" "assigned to group 'staff'" L repo remove "$D" 101
refuses "repo remove: an OS layer others are built on is refused" "is built on it" L repo remove "$D" 1
refuses "repo remove: a revision that is not there" "has no revision 7" L repo remove "$D" 100:7
check "repo remove after unassign: the file moves to Retired/, the control file forgets it" bash -c "
  '$LAYERCTL' repo unassign '$D' --group staff 101 >/dev/null && '$LAYERCTL' repo remove '$D' 101 >/dev/null &&
  [ -f '$D/Retired/Tools.101.1.vhd' ] && [ ! -e '$D/Layers/App/Tools.101.1.vhd' ] &&
  ! '$LAYERCTL' repo list '$D' | grep -q Tools && '$LAYERCTL' fsck '$D' >/dev/null"
check "repo remove --force --purge: an assigned revision goes, its file deleted; fsck then names the assignment" bash -c "
  '$LAYERCTL' repo remove --json '$D' 100:1 --force --purge | grep -q '\"ok\": true' &&
  [ ! -e '$D/Layers/App/Office.100.1.vhd' ] && [ ! -e '$D/Retired/Office.100.1.vhd' ];
  '$LAYERCTL' fsck '$D' >/dev/null; [ \$? -ne 0 ]"

# fsck CASE STATUS CLASS [ARGS...]: a copy of the base (layer files hard
# linked), broken by the commands on stdin, checked.
broken() {
  local name=$1; rm -rf "$WORK/$name"; cp -al "$B" "$WORK/$name"
  # the control files are changed in place by some cases: real copies
  for f in GuestLayerFile.txt LayerAssignment.txt; do cp --remove-destination "$B/$f" "$WORK/$name/$f"; done
  (cd "$WORK/$name" && bash -e) || not_ok "$name: could not break it"
}
fsck_says() {
  local name=$1 want=$2 cls=$3; shift 3
  "$LAYERCTL" fsck --json "$@" "$WORK/$name" >"$WORK/$name.json" 2>"$WORK/$name.err"
  local rc=$?
  if [ "$rc" -eq "$want" ] && python3 - "$WORK/$name.json" "$cls" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if any(p["class"] == sys.argv[2] for p in r["problems"]) else 1)
PY
  then ok "fsck $name: exit $rc, $cls: $(python3 -c "import json,sys; print([p['what'] for p in json.load(open(sys.argv[1]))['problems'] if p['class']==sys.argv[2]][0][:110])" "$WORK/$name.json" "$cls")"
  else not_ok "fsck $name: exit $rc (want $want), class $cls wanted"; head -c 600 "$WORK/$name.json"; cat "$WORK/$name.err"; fi
}
jq_py() { python3 -c "import json,sys; f=sys.argv[1]; d=json.load(open(f)); $1; json.dump(d, open(f,'w'), indent=2)" "$2"; }

broken control <<<"printf '{\"format\": \"layerfs-guest-layers/1\", \"layers\": [' > GuestLayerFile.txt"
fsck_says control 4 control-file
broken outside <<<"rm Layers/App/Office.100.1.vhd && cp '$S/App/Office.101.3.vhd' '$WORK/outside.vhd' && ln -s '$WORK/outside.vhd' Layers/App/Office.100.1.vhd"
fsck_says outside 4 path-outside
broken missing <<<"rm Layers/App/AdminTools.101.1.vhd"
fsck_says missing 4 missing-file
broken size <<<"cp --remove-destination '$S/App/Office.101.3.vhd' Layers/App/Office.100.2.vhd && printf x >> Layers/App/Office.100.2.vhd"
fsck_says size 4 wrong-size
broken sha <<<"cp --remove-destination '$S/App/Office.101.3.vhd' Layers/App/Office.100.2.vhd && printf x | dd of=Layers/App/Office.100.2.vhd bs=1 seek=6000000 conv=notrunc 2>/dev/null"
fsck_says sha 4 wrong-sha256
broken disk <<EOF
head -c 1048576 '$S/App/Office.101.3.vhd' > cut.vhd && rm Layers/App/Office.100.2.vhd && mv cut.vhd Layers/App/Office.100.2.vhd
python3 -c "
import hashlib, json
d = json.load(open('GuestLayerFile.txt'))
b = open('Layers/App/Office.100.2.vhd', 'rb').read()
for l in d['layers']:
    if l['file'] == 'Layers/App/Office.100.2.vhd':
        l['size'] = len(b); l['sha256'] = hashlib.sha256(b).hexdigest()
json.dump(d, open('GuestLayerFile.txt', 'w'), indent=2)"
EOF
fsck_says disk 4 bad-disk
mkdir -p "$WORK/badhive/Windows/System32/config" "$WORK/ostok/Windows"
printf 'regf' >"$WORK/badhive/Windows/System32/config/SOFTWARE"; head -c 9000 /dev/zero >>"$WORK/badhive/Windows/System32/config/SOFTWARE"
: >"$WORK/ostok/Windows/.wh.notepad.exe"
L pack -q "$WORK/badhive" "$WORK/badhive.vhd"; L pack -q "$WORK/ostok" "$WORK/ostok.vhd"
broken hive <<<"'$LAYERCTL' repo add . '$WORK/badhive.vhd' --type app --name BadHive --priority 40 >/dev/null"
fsck_says hive 4 bad-hive
broken ostoken <<<"'$LAYERCTL' repo add . '$WORK/ostok.vhd' --type os --name OS2 >/dev/null"
fsck_says ostoken 4 token-in-os-layer
broken unknown <<<"python3 -c \"import json; d=json.load(open('LayerAssignment.txt')); d['assignments'][0]['layers'].append({'id': 999}); json.dump(d, open('LayerAssignment.txt','w'))\""
fsck_says unknown 4 unknown-layer
broken tworev <<<"python3 -c \"import json; d=json.load(open('LayerAssignment.txt')); d['assignments'][1]['layers'] += [{'id': 100, 'revision': 2}]; json.dump(d, open('LayerAssignment.txt','w'))\""
fsck_says tworev 4 two-revisions
broken prio <<<"'$LAYERCTL' repo priority . 101 10"
fsck_says prio 4 same-priority
broken noos <<<"python3 -c \"import json; d=json.load(open('GuestLayerFile.txt')); d['layers'][-1]['os_layer'] = 7; json.dump(d, open('GuestLayerFile.txt','w'))\""
fsck_says noos 4 no-os-layer
broken userstack <<<"true"
fsck_says userstack 4 user-stack --user nobody --machine srv1
broken orphan <<<"cp '$S/App/Office.101.3.vhd' Layers/App/Stray.vhd"
fsck_says orphan 0 orphan-file
broken tmp <<<"echo '{' > .GuestLayerFile.txt.tmp.4242"
fsck_says tmp 0 temporary

# Personalization layers: a token that hides nothing, a copy the layers
# below hold as they are (made through a layerfs mount, so mode and owner
# match), and a changed copy that must stay.
P="Users/alice/00000001_Windows10"
broken personal <<EOF
mkdir -p '$P/Windows'
chmod 0700 Users/alice
: > '$P/Windows/.wh.no-such-file'
: > '$P/Windows/.wh.editor.exe'
EOF
if [ -n "${LAYERFS:-}" ] && [ -e /dev/fuse ]; then
  m="$WORK/pm"; mkdir -p "$m"
  if "$LAYERFS" --layer "$WORK/personal/Layers/OS/Windows10.1.1.vhd,type=os" \
       --layer "$WORK/personal/Layers/App/Office.100.2.vhd" --layer "$WORK/personal/Layers/App/AdminTools.101.1.vhd" "$m"; then
    cp -a "$m/Windows/win.ini" "$WORK/personal/$P/Windows/win.ini"
    cp -a "$m/Windows/System32" "$WORK/personal/$P/Windows/System32"
    printf 'changed' >"$WORK/personal/$P/Windows/System32/cmd.exe"
    fusermount3 -u "$m"
  fi
fi
fsck_says personal 0 token-hides-nothing
fsck_says personal 0 same-as-below

# Folders a user could bend: a personalization layer that is a symlink (root
# would follow it), a user's folder open to others; --repair removes the
# link and closes the folder, and never touches what the link points at.
mkdir -p "$WORK/canary" && echo canary >"$WORK/canary/file"
broken unsafe <<EOF
mkdir -p Users/bob Users/carol/00000001_Windows10
chmod 0700 Users/bob
ln -s '$WORK/canary' Users/bob/00000001_Windows10
chmod 0755 Users/carol
EOF
fsck_says unsafe 4 unsafe-folder
"$LAYERCTL" fsck --repair "$WORK/unsafe" >/dev/null 2>&1
if [ ! -L "$WORK/unsafe/Users/bob/00000001_Windows10" ] &&
   [ "$(stat -c %a "$WORK/unsafe/Users/carol")" = 700 ] &&
   [ "$(cat "$WORK/canary/file")" = canary ] && [ -d "$WORK/canary" ]; then
  ok "fsck --repair removes the link, closes Users/carol, leaves the link's target be"
else
  not_ok "fsck --repair of unsafe folders"
fi
check "after that repair it is clean" L fsck "$WORK/unsafe"
same_out "fsck: the needed token, the changed copy are not reported" "0" bash -c "
  grep -c -e '.wh.editor.exe' -e 'cmd.exe' '$WORK/personal.json'"
sums() { (cd "$1" && find . -name '*.vhd' -o -name '*.txt' | sort | xargs md5sum); }
sums "$WORK/personal" >"$WORK/before.sums"
fsck_says personal 1 token-hides-nothing --repair
check "--repair removed the unused token and the needless copies" bash -c "
  cd '$WORK/personal/$P/Windows' && [ ! -e .wh.no-such-file ] && [ -e .wh.editor.exe ] &&
  [ ! -e win.ini ] && [ ! -e System32/kernel32.dll ] && [ \"\$(cat System32/cmd.exe)\" = changed ]"
sums "$WORK/personal" | diff -q - "$WORK/before.sums" >/dev/null && ok "layer and control files unchanged" || not_ok "layer or control files changed"
check "after the repair it is clean" L fsck "$WORK/personal"
fsck_says tmp 1 temporary --repair
check "--repair removed the temporary" test ! -e "$WORK/tmp/.GuestLayerFile.txt.tmp.4242"
fsck_says missing 4 missing-file --repair
check "--repair does not 'fix' a missing layer" test ! -e "$WORK/missing/Layers/App/AdminTools.101.1.vhd"
# conflicts: two app layers with the same file, the same registry value,
# a token, and a Path both extend (merged, no contest)
for a in A B; do
  mkdir -p "$WORK/c$a/Program Files/Shared" "$WORK/c$a/Windows/System32/config"
  echo "from $a" >"$WORK/c$a/Program Files/Shared/common.dll"
  printf 'Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\Shared]\n"Owner"="%s"\n' $a >"$WORK/c$a.reg"
  L reg new "$WORK/c$a/Windows/System32/config/SOFTWARE" "$WORK/c$a.reg"
  printf 'Windows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\Session Manager\\Environment]\n"Path"="C:\\\\%s"\n' $a >"$WORK/s$a.reg"
  L reg new "$WORK/c$a/Windows/System32/config/SYSTEM" "$WORK/s$a.reg"
done
: >"$WORK/cB/Windows/.wh.notepad.exe"; echo "A's" >"$WORK/cA/Windows/notepad.exe"
L pack -q "$WORK/cA" "$WORK/cA.vhd"; L pack -q "$WORK/cB" "$WORK/cB.vhd"
"$LAYERCTL" conflicts --json --layer "$S/OS/Windows10.1.1.vhd,type=os" --layer "$WORK/cA.vhd,name=AppA,prio=10" \
  --layer "$WORK/cB.vhd,name=AppB,prio=20" --priority AppA=30 >"$WORK/conflicts.json"
same_out "conflicts: exit 1 when there are some" "1" bash -c "'$LAYERCTL' conflicts --layer '$WORK/cA.vhd,prio=1' --layer '$WORK/cB.vhd,prio=2' >/dev/null; echo \$?"
cat >"$WORK/conflicts.py" <<'PY'
import json, sys
d = {c["path"].lower(): c for c in json.load(open(sys.argv[1]))["list"]}
def show(p):
    c = d.get(p.lower())
    if not c:
        return "none"
    return "%s %s%s%s -> %s" % (c["kind"], c["winner"], " deleted" if c["deleted"] else "",
                                " merged" if c["merged"] else "", c.get("winner_with_override"))
print(show(sys.argv[2]))
PY
same_out "conflicts: a file both provide; AppB wins, AppA with the override" "file AppB -> AppA" python3 "$WORK/conflicts.py" "$WORK/conflicts.json" "Program Files/Shared/common.dll"
same_out "conflicts: a registry value both set" "registry AppB -> AppA" python3 "$WORK/conflicts.py" "$WORK/conflicts.json" 'HKLM\SOFTWARE\Shared\Owner'
same_out "conflicts: one provides, the other deletes" "file AppB deleted -> AppA" python3 "$WORK/conflicts.py" "$WORK/conflicts.json" "Windows/notepad.exe"
same_out "conflicts: a Path both extend is merged" "registry AppB merged -> AppA" python3 "$WORK/conflicts.py" "$WORK/conflicts.json" 'HKLM\SYSTEM\ControlSet001\Control\Session Manager\Environment\Path'
same_out "conflicts: the hive files themselves are no conflict" "none" python3 "$WORK/conflicts.py" "$WORK/conflicts.json" "Windows/System32/config/SOFTWARE"
same_out "conflicts --user: the repository's stack" "1" bash -c "'$LAYERCTL' conflicts '$B' --user bob --groups staff --machine WKS-1 | grep -c 'mso.dll: AdminTools'"
same_out "fsck of no repository: exit 8" "8" bash -c "'$LAYERCTL' fsck '$WORK/none' 2>/dev/null; echo \$?"
finish
