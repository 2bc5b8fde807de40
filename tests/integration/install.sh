#!/usr/bin/env bash
# `meson install` (issue 16): the programs, the systemd units and mount(8)'s
# helper land where they are looked for, and the README's commands run
# with the bare program names from the installed tree.
. "$(dirname "$0")/lib.sh"
: "${BUILD_DIR:?BUILD_DIR not set}"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (mounts)"
[ -e /dev/fuse ] || skip_all "no /dev/fuse"
I="$WORK/inst"
check "meson install --destdir" meson install -C "$BUILD_DIR" --no-rebuild --destdir "$I" --quiet
P=$(meson introspect "$BUILD_DIR" --buildoptions | python3 -c '
import json, sys
print([o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"][0])')
check "programs in PREFIX/bin; units in PREFIX/lib/systemd/system; the mount helper in /sbin" bash -c "
  for f in '$P/bin/layerctl' '$P/bin/layerfs' '$P/bin/regfs' '$P/bin/layerd' \
           '$P/lib/systemd/system/layerd.service' '$P/lib/systemd/system/layerd.socket' \
           /sbin/mount.fuse.layerfs; do [ -e '$I'\$f ] || { echo missing \$f; exit 1; }; done &&
  grep -q 'ExecStart=$P/bin/layerd ' '$I$P/lib/systemd/system/layerd.service' &&
  grep -q '$P/bin/layerfs' '$I/sbin/mount.fuse.layerfs' && [ -x '$I/sbin/mount.fuse.layerfs' ]"
# the man pages the systemd unit and every --help point at, rendered by
# man(1) without a warning, each naming every option its program's --help has
check "man pages layerfs(8), regfs(8), layerd(8), layerctl(8) installed, render clean, name each option" bash -c "
  for p in layerfs regfs layerd layerctl; do
    f='$I$P/share/man/man8/'\$p.8; [ -f \$f ] || { echo missing \$f; exit 1; }
    w=\$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l --warnings=w \$f 2>&1 >/dev/null); [ -z \"\$w\" ] || { echo \"\$w\"; exit 1; }
    page=\$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l \$f 2>/dev/null | sed 's/\x08.//g')
    for o in \$('$BUILD_DIR'/\$([ \$p = layerfs ] && echo layerfs || { [ \$p = regfs ] && echo regfs/regfs || echo layerd/\$p; }) --help 2>&1 |
             grep -oE '^ +(-[a-zA-Z], )?--[a-z-]+' | grep -oE -- '--[a-z-]+'); do
      grep -qF -- \"\$o\" <<<\"\$page\" || { echo \"\$p.8 lacks \$o\"; exit 1; }
    done
  done"
export PATH="$I$P/bin:$PATH"
S="$WORK/sample"
bash "$SOURCE_DIR/scripts/sample/make-repo" "$S" "$I$P/bin/layerctl" >/dev/null
L="$S/Layers"
check "README, by bare names: repo init, add three layers, assign, fsck" bash -c "
  cd '$WORK' && [ \"\$(command -v layerctl)\" = '$I$P/bin/layerctl' ] &&
  layerctl repo init layers >/dev/null &&
  layerctl repo add layers '$L/OS/Windows10.1.1.vhd' --type os --name Windows10 >/dev/null &&
  layerctl repo add layers '$L/App/Office.101.3.vhd' --type app --name Office >/dev/null &&
  layerctl repo add layers '$L/App/AdminTools.102.1.vhd' --type app --name Tools >/dev/null &&
  layerctl repo assign layers --machine 'WKS-*' 1 >/dev/null &&
  layerctl repo assign layers --group finance 100 >/dev/null &&
  layerctl repo resolve layers --user alice --groups finance --machine WKS-7 >/dev/null &&
  layerctl fsck layers >/dev/null"
M="$WORK/m"; mkdir -p "$M"
check "README, by bare names: layerfs mounts a stack" bash -c "
  layerfs -o lowerdir='$L/App/Office.101.3.vhd:$L/OS/Windows10.1.1.vhd' '$M' &&
  [ -d '$M/Program Files/Office' ]; rc=\$?; fusermount3 -u '$M'; exit \$rc"
check "mount(8)'s helper mounts an fstab-style line (-t fuse.layerfs)" bash -c "
  LAYERFS='$I$P/bin/layerfs' '$I/sbin/mount.fuse.layerfs' none '$M' \
    -o 'lowerdir=$L/App/Office.101.3.vhd:$L/OS/Windows10.1.1.vhd,nofail' &&
  [ -d '$M/Program Files/Office' ]; rc=\$?; umount '$M'; exit \$rc"
check "regfs and layerd answer --help by bare name" bash -c "regfs --help >/dev/null && layerd --help >/dev/null"
finish
