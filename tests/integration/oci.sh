#!/usr/bin/env bash
# Layers in an OCI registry (issue 34), against CNCF distribution from
# Debian's docker-registry, started here on loopback with its storage in
# WORK: push and pull keep every byte; skopeo copies a pushed layer to an
# oci: folder and back, and what it pushed mounts; a fresh host (an empty
# cache, a new layerd --registry) logs a user in and her drive and
# registry equal a login from the folder repository; a tampered blob is
# refused naming the layer; with the registry stopped, what is cached
# keeps working and the next login of the same stack too; a cache bound
# smaller than the layer still gives right data; a new full revision
# pushes only the chunks that changed.
. "$(dirname "$0")/lib.sh"
: "${LAYERFS:?}" "${LAYERD:?}"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (mounts, layerd)"
[ -e /dev/fuse ] || skip_all "no /dev/fuse"
command -v docker-registry >/dev/null || skip_all "no docker-registry (Debian docker-registry)"
command -v skopeo >/dev/null || skip_all "no skopeo"
id lfalice >/dev/null 2>&1 || useradd -M -s /bin/sh lfalice || skip_all "cannot add lfalice"
chmod 755 "$WORK"
L() { wd "$LAYERCTL" "$@"; }
# layerctl's own oci:// reads (diff) cache here, not in /var/cache/layerfs
export LAYERFS_CACHE="$WORK/cache-ctl"

# --- the registry ---
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
mkdir -p "$WORK/registry"
cat >"$WORK/registry.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $WORK/registry
  delete:
    enabled: true
http:
  addr: $REG
EOF
start_registry() {
  docker-registry serve "$WORK/registry.yml" >>"$WORK/registry.log" 2>&1 &
  RPID=$!
  for _ in $(seq 100); do curl -sf "http://$REG/v2/" >/dev/null && return 0; sleep 0.1; done
  echo "registry did not start:"; cat "$WORK/registry.log"; return 1
}
stop_registry() { kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null; }
check "docker-registry serves on $REG" start_registry
LPIDS=()
trap 'for p in "${LPIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; stop_registry; cleanup' EXIT

R="$WORK/repo"
sample_repo "$R"
"$LAYERCTL" repo add "$R" "$S/App/AdminTools.102.1.vhd" --type app --name AdminTools --priority 20 >/dev/null
"$LAYERCTL" repo assign "$R" --group finance 1 100 101 >/dev/null
OS="$R/Layers/OS/Windows10.1.1.vhd" OF="$R/Layers/App/Office.100.1.vhd" AT="$R/Layers/App/AdminTools.101.1.vhd"
check "the sample repository's layers are where this test looks" test -f "$OS" -a -f "$OF" -a -f "$AT"

# --- push and pull ---
check "push all: every revision, then the control files" \
  bash -c "'$LAYERCTL' push -q --json '$R' all $REG/desktop >'$WORK/push.json'"
check "the push says each layer's manifest and the chunks it sent" python3 - "$WORK/push.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["layers"]) == 3 and r["control"]["manifest"].startswith("sha256:"), r
# the empty disk's chunks are one blob, sent once; the layers share them,
# so later ones send less
first = r["layers"][0]
assert 0 < first["chunks_sent"] < first["chunks"], r
assert all(l["chunks_sent"] + l["chunks_there"] == l["chunks"] for l in r["layers"]), r
assert all(l["chunks_sent"] < first["chunks_sent"] for l in r["layers"][1:]), r
PY
check "a second push sends nothing (resumable: chunks there are skipped)" \
  bash -c "'$LAYERCTL' push -q --json '$R' all $REG/desktop | python3 -c 'import json,sys; r=json.load(sys.stdin); sys.exit(r[\"chunks_sent\"] != 0)'"
check "pull of the control artifact makes a copy of the repository" L pull -q "$REG/desktop" "$WORK/copy"
check "every pulled layer file is the pushed one, byte for byte" bash -c "
  for f in '$R'/Layers/*/*; do cmp \"\$f\" '$WORK/copy'/Layers/\${f#$R/Layers/} || exit 1; done"
check "the pulled control files are the pushed ones" bash -c "
  cmp '$R/GuestLayerFile.txt' '$WORK/copy/GuestLayerFile.txt' && cmp '$R/LayerAssignment.txt' '$WORK/copy/LayerAssignment.txt'"
check "fsck finds the pulled repository sound" L fsck "$WORK/copy"
refuses "push to a pull-through name that is not a repository name" "not a repository name" \
  "$LAYERCTL" push -q "$R" 100 "$REG/Bad_Name"
refuses "pull of what is not there" "HTTP 404" "$LAYERCTL" pull -q "$REG/desktop:nosuchtag" "$WORK/copy2"

# --- a new full revision (re-packed, not differencing): only what changed goes ---
python3 - "$WORK/tree" <<'PY'
import os, random, sys
r = random.Random(34)
for i in range(300):
    p = os.path.join(sys.argv[1], "Program Files", "Tree", f"f{i}.bin")
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "wb").write(r.randbytes(r.choice([1000, 30000, 100000])))
PY
"$LAYERCTL" pack -q "$WORK/tree" "$WORK/tree1.vhd"
printf 'revision 2' | dd of="$WORK/tree/Program Files/Tree/f7.bin" bs=1 seek=10 conv=notrunc 2>/dev/null
"$LAYERCTL" pack -q "$WORK/tree" "$WORK/tree2.vhd"
"$LAYERCTL" repo add "$R" "$WORK/tree1.vhd" --type app --name Tree >/dev/null
"$LAYERCTL" repo add "$R" "$WORK/tree2.vhd" --type app --name Tree >/dev/null
check "push revision 1 of a re-packed app layer" L push -q "$R" 102:1 "$REG/desktop"
"$LAYERCTL" push -q --json "$R" 102:2 "$REG/desktop" >"$WORK/rev2.json"
if python3 - "$WORK/rev2.json" <<'PY'
import json, sys
l = json.load(open(sys.argv[1]))["layers"][0]
print(f"revision 2 (one file changed, the volume packed anew): {l['chunks_sent']} of {l['chunks']} "
      f"chunks sent ({l['bytes_sent'] >> 10} KiB)")
sys.exit(0 if 0 < l["chunks_sent"] < l["chunks"] // 3 else 1)
PY
then ok "a new full revision pushes only the chunks that changed"; else not_ok "a new full revision pushes only the chunks that changed: $(cat "$WORK/rev2.json")"; fi

# --- skopeo, an independent client ---
SK=(--src-tls-verify=false --dest-tls-verify=false)
check "skopeo copies a pushed layer to an oci: folder" \
  skopeo copy -q "${SK[@]}" "docker://$REG/desktop:100.1" "oci:$WORK/ocidir:office"
check "skopeo copies it back under another name" \
  skopeo copy -q "${SK[@]}" "oci:$WORK/ocidir:office" "docker://$REG/viaskopeo:office"
check "skopeo inspect --raw reads the manifest: our config and chunk types" bash -c "
  skopeo inspect --raw --tls-verify=false docker://$REG/viaskopeo:office | grep -q 'application/vnd.layerfs.layer.config.v1+json' &&
  skopeo inspect --raw --tls-verify=false docker://$REG/viaskopeo:office | grep -q 'application/vnd.layerfs.layer.chunk.v1'"

# --- mounts straight from the registry ---
M1="$WORK/m-oci"; M2="$WORK/m-local"; M3="$WORK/m-skopeo"; M4="$WORK/m-small"
mkdir -p "$M1" "$M2" "$M3" "$M4" "$WORK/m-l2" "$WORK/m-t"
CACHE1="$WORK/cache1"
check "mount oci:// layers (an empty cache)" "$LAYERFS" --cache "$CACHE1" \
  --layer "oci://$REG/desktop:1.1,type=os" --layer "oci://$REG/desktop:100.1" "$M1"
MOUNTS+=("$M1")
check "mount the same layers from their files" "$LAYERFS" \
  --layer "$OS,type=os" --layer "$OF" "$M2"
MOUNTS+=("$M2")
check "the drive from the registry shows the OS and the app" test -f "$M1/Windows/win.ini" -a -d "$M1/Program Files/Office"
check "the two drives hold the same names and bytes" wd diff -r "$M1" "$M2"
check "and the same NTFS metadata (every system.ntfs_* xattr)" wd bash -c "
  cd '$M1' && getfattr -R -d -m - --absolute-names . 2>/dev/null | grep -v '^# file' | sort >'$WORK/x1'
  cd '$M2' && getfattr -R -d -m - --absolute-names . 2>/dev/null | grep -v '^# file' | sort >'$WORK/x2'
  [ -s '$WORK/x1' ] && cmp '$WORK/x1' '$WORK/x2'"
check "the cache is root's and closed: 0700, its chunks 0600" bash -c "
  [ \"\$(stat -c %a '$CACHE1')\" = 700 ] && [ -z \"\$(find '$CACHE1' -type f ! -perm 600)\" ] &&
  [ -n \"\$(find '$CACHE1/blobs' -type f)\" ]"
chmod 755 "$CACHE1"
check "fsck warns of a chunk cache others may reach" bash -c "
  LAYERFS_CACHE='$CACHE1' '$LAYERCTL' fsck '$R' 2>&1 | grep -q 'chunk cache 0755'"
check "fsck --repair closes it" bash -c "
  LAYERFS_CACHE='$CACHE1' '$LAYERCTL' fsck --repair '$R' >/dev/null 2>&1; [ \$(stat -c %a '$CACHE1') = 700 ]"
check "what skopeo pushed mounts, and is the same layer" wd bash -c "
  '$LAYERFS' --cache '$CACHE1' --layer 'oci://$REG/desktop:1.1,type=os' --layer 'oci://$REG/viaskopeo:office' '$M3' &&
  diff -r '$M3' '$M2'"
MOUNTS+=("$M3")
fusermount3 -u "$M3"

# layerfs opened its layers, then went to the background: a child with
# none of the parent's threads (a broadcast on the fetchers' condition
# variable waited for ever at unmount, and the daemon never exited)
P1=$(pgrep -f -- "layerfs --cache $CACHE1 .*$M1" | head -1)
check "unmounted, the daemon of a registry's layers exits" bash -c "
  fusermount3 -u '$M1' && for _ in \$(seq 100); do kill -0 $P1 2>/dev/null || exit 0; sleep 0.1; done; exit 1"

# --prefetch: after the first read, the rest of the layer comes in the
# background (the OS layer in 16 KiB chunks, so one read fetches few)
"$LAYERCTL" push -q --chunk-size 16K "$R" 1 "$REG/fine:os" >/dev/null
WANT=$(skopeo inspect --raw --tls-verify=false "docker://$REG/fine:os" |
  python3 -c 'import json,sys; print(len({l["digest"] for l in json.load(sys.stdin)["layers"]}))')
blobs() { find "$1/blobs" -type f | wc -l; }
mkdir -p "$WORK/m-pf"
"$LAYERFS" --cache "$WORK/cache-nopf" --layer "oci://$REG/fine:os,type=os" "$WORK/m-pf" &&
  cat "$WORK/m-pf/Windows/win.ini" >/dev/null; sleep 1; fusermount3 -u "$WORK/m-pf"
NOPF=$(blobs "$WORK/cache-nopf")
check "without --prefetch, a first read fetches a part of the layer ($NOPF of $WANT chunks)" test "$NOPF" -lt "$WANT"
check "with --prefetch, every chunk of it is cached soon after the first read" wd bash -c "
  '$LAYERFS' --cache '$WORK/cache-pf' --prefetch --layer 'oci://$REG/fine:os,type=os' '$WORK/m-pf' &&
  cat '$WORK/m-pf/Windows/win.ini' >/dev/null &&
  for _ in \$(seq 80); do
    [ \$(find '$WORK/cache-pf/blobs' -type f | wc -l) -ge $WANT ] && { fusermount3 -u '$WORK/m-pf'; exit 0; }
    sleep 0.1
  done; fusermount3 -u '$WORK/m-pf'; exit 1"

# a cache bound far smaller than the layers: chunks evicted under reads
check "a 1 MiB cache bound still gives right data (eviction under reads)" wd bash -c "
  '$LAYERFS' --cache '$WORK/cache-small' --cache-size 1M --layer 'oci://$REG/desktop:1.1,type=os' \
    --layer 'oci://$REG/desktop:101.1' '$M4' &&
  '$LAYERFS' --layer '$OS,type=os' --layer '$AT' '$WORK/m-l2' &&
  diff -r '$M4' '$WORK/m-l2'; rc=\$?; fusermount3 -u '$WORK/m-l2'; exit \$rc"
MOUNTS+=("$M4")
check "and the small cache stayed near its bound" bash -c "
  [ \$(du -sk '$WORK/cache-small/blobs' | cut -f1) -le 3072 ]"

# --- a tampered blob in the registry's storage ---
CH=$(python3 -c "
import json, subprocess, sys
m = json.loads(subprocess.check_output(['skopeo', 'inspect', '--raw', '--tls-verify=false', 'docker://$REG/desktop:101.1']))
print(m['layers'][0]['digest'].split(':')[1])")
BLOB=$(find "$WORK/registry" -path "*/blobs/sha256/${CH:0:2}/$CH/data")
check "the first chunk of AdminTools is a blob in the registry's storage" test -f "$BLOB"
cp "$BLOB" "$WORK/blob.saved"
printf 'X' | dd of="$BLOB" bs=1 seek=1000 conv=notrunc 2>/dev/null
refuses "a tampered chunk is refused with a digest error naming the layer" "AdminTools" \
  "$LAYERFS" --cache "$WORK/cache-t" --layer "oci://$REG/desktop:1.1,type=os" --layer "oci://$REG/desktop:101.1" "$WORK/m-t"
grep -h "AdminTools" "$WORK/.err" | grep -q "hashing to" && ok "the refusal says the chunk hashed to something else" || not_ok "no digest error: $(cat "$WORK/.err")"
cp "$WORK/blob.saved" "$BLOB"

# --- a fresh host: layerd --registry, an empty cache ---
export LAYERD_SOCKET="$WORK/layerd-reg.sock"
"$LAYERD" --registry "$REG/desktop" --repo "$WORK/host2" --cache "$WORK/cache-host2" \
  --socket "$LAYERD_SOCKET" --run "$WORK/run2" --machine WKS-2 2>"$WORK/layerd-reg.log" &
LPIDS+=($!)
for _ in $(seq 50); do [ -S "$LAYERD_SOCKET" ] && break; sleep 0.1; done
check "a fresh host logs lfalice in from the registry" L login lfalice --groups finance
D2="$WORK/run2/lfalice/C"
LAYERD_SOCKET="$WORK/layerd-dir.sock" "$LAYERD" --repo "$R" --socket "$WORK/layerd-dir.sock" \
  --run "$WORK/run1" --machine WKS-1 2>"$WORK/layerd-dir.log" &
LPIDS+=($!)
for _ in $(seq 50); do [ -S "$WORK/layerd-dir.sock" ] && break; sleep 0.1; done
check "the same user logs in from the folder repository on another host" \
  env LAYERD_SOCKET="$WORK/layerd-dir.sock" "$LAYERCTL" login lfalice --groups finance
D1="$WORK/run1/lfalice/C"
check "her drive from the registry shows her apps" test -d "$D2/Program Files/Office" -a -d "$D2/Program Files/Tools"
check "her two drives hold the same names and bytes" wd diff -r "$D1" "$D2"
check "and her registry reads the same through the drive and through REG" wd bash -c "
  diff -r '$WORK/run1/lfalice/REG' '$WORK/run2/lfalice/REG'"
check "layerctl diff of the two stacks (registry and files) finds nothing" L diff \
  "$AT:$OF:$OS" \
  "oci://$REG/desktop:101.1:oci://$REG/desktop:100.1:oci://$REG/desktop:1.1"
# a layer in 4 KiB chunks, its folders listed, not its files read: with
# the registry gone, a read needing a chunk never fetched is EIO, logged
check "push Office in 4 KiB chunks" L push -q --chunk-size 4K "$R" 100 "$REG/small:office"
M5="$WORK/m-fine"; mkdir -p "$M5"
"$LAYERFS" -f --cache "$WORK/cache-fine" --layer "oci://$REG/small:office" "$M5" 2>"$WORK/fine.log" &
LPIDS+=($!)
for _ in $(seq 50); do mountpoint -q "$M5" && break; sleep 0.1; done
MOUNTS+=("$M5")
check "its folders list" wd bash -c "ls -R '$M5' >/dev/null"
# what a first look reads, then the registry goes away
find "$D2" >/dev/null
find "$D2/Windows" -type f | head -50 | while read -r f; do cat "$f" >/dev/null; done
stop_registry
check "with the registry stopped, what was read reads on" wd bash -c "
  find '$D2/Windows' -type f | head -50 | while read -r f; do cat \"\$f\" >/dev/null || exit 1; done"
check "a listing of the whole drive still works (its metadata is cached)" wd find "$D2"
check "logoff and a new login of the same stack work from the cache" wd bash -c "
  '$LAYERCTL' logoff lfalice && '$LAYERCTL' login lfalice --groups finance && ls '$D2/Windows' >/dev/null"
check "the log says the control artifact came from the cache" grep -q "using the cached" "$WORK/layerd-reg.log"
OFILE=$(find "$M5" -type f -size +1k | head -1)
check "a file whose chunks were never fetched reads as EIO, not zeros" wd bash -c "
  ! cat '$OFILE' >/dev/null 2>'$WORK/eio' && grep -q 'Input/output error' '$WORK/eio'"
check "said in one log line naming the layer" bash -c "
  [ \$(grep -c 'app layer Office 100.1 .*is not cached and cannot be fetched' '$WORK/fine.log') -ge 1 ] &&
  [ \$(grep -c 'cannot be fetched' '$WORK/fine.log') -eq 1 ]"
check "the registry starts again" start_registry

# --- a differencing revision: its parent pushed first, named by digest ---
"$DISKTOOL" dump "$OF" >"$WORK/office2.raw"
printf 'a sector of revision 2' | dd of="$WORK/office2.raw" bs=1 seek=$((9 * 1048576 + 512)) conv=notrunc 2>/dev/null
"$DISKTOOL" vhd diff "$WORK/office2.raw" "$WORK/office2.vhd" "$OF"
"$LAYERCTL" repo add "$R" "$WORK/office2.vhd" --type app --name Office >/dev/null
OF2="$R/Layers/App/Office.100.2.vhd"
check "revision 2 of Office is a differencing disk on revision 1's file" bash -c "
  '$DISKTOOL' info '$OF2' | grep -q 'kind vhd-differencing'"
check "push of revision 2 (its parent, revision 1, first)" L push -q "$R" 100:2 "$REG/desktop"
check "mounted from the registry, revision 2 reads as from its files (its parent by digest)" wd bash -c "
  mkdir -p '$WORK/m-d1' '$WORK/m-d2' &&
  '$LAYERFS' --cache '$WORK/cache-diff' --layer 'oci://$REG/desktop:1.1,type=os' --layer 'oci://$REG/desktop:100.2' '$WORK/m-d1' &&
  '$LAYERFS' --layer '$OS,type=os' --layer '$OF2' '$WORK/m-d2' &&
  diff -r '$WORK/m-d1' '$WORK/m-d2' && [ -d '$WORK/m-d1/Program Files/Office' ]; rc=\$?
  fusermount3 -u '$WORK/m-d1'; fusermount3 -u '$WORK/m-d2'; exit \$rc"

# --- a branch reflector: CNCF distribution as a pull-through cache in front
# of the origin (its proxy: remoteurl), as a branch office would run it ---
PPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PROXY=127.0.0.1:$PPORT
mkdir -p "$WORK/proxy-store"
printf '%s\n' 'version: 0.1' 'log:' '  level: error' 'storage:' '  filesystem:' \
  "    rootdirectory: $WORK/proxy-store" 'http:' "  addr: $PROXY" 'proxy:' \
  "  remoteurl: http://$REG" >"$WORK/proxy.yml"
docker-registry serve "$WORK/proxy.yml" >"$WORK/proxy.log" 2>&1 &
PXPID=$!
LPIDS+=("$PXPID")
for _ in $(seq 100); do curl -sf "http://$PROXY/v2/" >/dev/null && break; sleep 0.1; done
# mount through the reflector (the OS layer and Office 1), compare with the files
through() {   # CACHE MOUNTPOINT
  mkdir -p "$2" "$2.local" &&
  "$LAYERFS" --cache "$1" --layer "oci://$PROXY/desktop:1.1,type=os" --layer "oci://$PROXY/desktop:100.1" "$2" &&
  "$LAYERFS" --layer "$OS,type=os" --layer "$OF" "$2.local" &&
  diff -r "$2" "$2.local" && [ -f "$2/Windows/win.ini" ]
  local rc=$?
  fusermount3 -u "$2"; fusermount3 -u "$2.local"
  return $rc
}
check "a host behind the reflector gets the origin's layers, the same as the files" wd through "$WORK/cache-px1" "$WORK/m-px1"
origin_blobs() { grep -c 'GET /v2/desktop/blobs/' "$WORK/registry.log" || true; }
# the reflector stores what it passed on after answering: warmed up when
# its store stops growing (a blob asked for meanwhile goes to the origin)
last=-1
for _ in $(seq 50); do
  now=$(find "$WORK/proxy-store" -type f -name data | wc -l)
  [ "$now" -eq "$last" ] && break
  last=$now; sleep 0.2
done
before=$(origin_blobs)
check "a second host behind it reads the same" wd through "$WORK/cache-px2" "$WORK/m-px2"
after=$(origin_blobs)
check "and fetches no chunk from the origin ($((after - before)) blob requests reached it, of $before before)" \
  test "$before" -gt 0 -a "$after" -eq "$before"
refuses "a push to the reflector is refused, saying why" "pull-through" \
  "$LAYERCTL" push -q "$R" 100 "$PROXY/desktop"
stop_registry
check "with the origin stopped, a new host still gets its layers through the reflector" \
  wd through "$WORK/cache-px3" "$WORK/m-px3"
# --- credentials: a registry with htpasswd (basic) auth, as container
# tools keep them (auth.json, root's and 0600) ---
command -v htpasswd >/dev/null || { not_ok "no htpasswd (apache2-utils)"; finish; exit; }
APORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
AREG=127.0.0.1:$APORT
mkdir -p "$WORK/auth-store"
htpasswd -Bbn lfpusher 'pa55:word' >"$WORK/htpasswd"
printf '%s\n' 'version: 0.1' 'log:' '  level: error' 'storage:' '  filesystem:' \
  "    rootdirectory: $WORK/auth-store" 'http:' "  addr: $AREG" 'auth:' '  htpasswd:' \
  '    realm: layerfs-test' "    path: $WORK/htpasswd" >"$WORK/auth-registry.yml"
docker-registry serve "$WORK/auth-registry.yml" >"$WORK/auth-registry.log" 2>&1 &
LPIDS+=($!)
for _ in $(seq 100); do [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$AREG/v2/")" = 401 ] && break; sleep 0.1; done
refuses "a push without credentials is refused, saying so" "no credentials" \
  "$LAYERCTL" push -q "$R" 1 "$AREG/desktop"
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$AREG" "$(printf 'lfpusher:pa55:word' | base64)" >"$WORK/auth.json"
chmod 644 "$WORK/auth.json"
refuses "a credentials file others may read is refused" "others may read it" \
  "$LAYERCTL" push -q --registry-auth "$WORK/auth.json" "$R" 1 "$AREG/desktop"
chmod 600 "$WORK/auth.json"
check "with auth.json (0600), the push goes" L push -q --registry-auth "$WORK/auth.json" "$R" 1 "$AREG/desktop"
check "and REGISTRY_AUTH_FILE names it as well, for a pull" \
  env REGISTRY_AUTH_FILE="$WORK/auth.json" "$LAYERCTL" pull -q "$AREG/desktop:1.1" "$WORK/auth-pulled"
check "the pulled layer is the pushed one" cmp "$OS" "$WORK/auth-pulled/Layers/OS/Windows10.1.1.vhd"
check "a mount with --registry-auth reads the layer" wd bash -c "
  mkdir -p '$WORK/m-auth' && '$LAYERFS' --cache '$WORK/cache-auth' --registry-auth '$WORK/auth.json' \
    --layer 'oci://$AREG/desktop:1.1,type=os' '$WORK/m-auth' &&
  cat '$WORK/m-auth/Windows/win.ini' >/dev/null; rc=\$?; fusermount3 -u '$WORK/m-auth'; exit \$rc"
finish
