#!/usr/bin/env bash
# A registry as a site runs one (issue 34, part b), against CNCF
# distribution from Debian's docker-registry started here: TLS with a CA
# this test makes, and token auth (the registry checks every token; the
# issuer is token_service.py, since Debian packages none). Shown: a host
# that does not know the CA is refused, naming the host; credentials from
# auth.json get tokens for what their user may do (a reader pulls and
# mounts, cannot push); a token that expires under a mount is renewed; a
# branch reflector reaches the origin over TLS with the CA and its own
# credentials; fsck --registry finds a tampered and a missing chunk and a
# revision whose parent is gone; removing a revision leaves the others
# whole through the registry's garbage collection; repo list says where
# each layer lives and how much of it the host has cached.
. "$(dirname "$0")/lib.sh"
: "${LAYERFS:?}" "${LAYERD:?}"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (mounts)"
[ -e /dev/fuse ] || skip_all "no /dev/fuse"
command -v docker-registry >/dev/null || skip_all "no docker-registry (Debian docker-registry)"
command -v openssl >/dev/null || skip_all "no openssl"
L() { wd "$LAYERCTL" "$@"; }
export LAYERFS_CACHE="$WORK/cache-ctl"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; cleanup' EXIT

# --- a CA, the registries' certificate (127.0.0.1, localhost), the key
# the token issuer signs with ---
T="$WORK/tls"
make_test_ca "$T" &&
  (cd "$T" && openssl req -x509 -newkey rsa:2048 -nodes -keyout tok.key -out tok.pem -days 2 \
     -subj /CN=layerfs-test-tokens) >>"$T/openssl.log" 2>&1
check "openssl made a CA, a certificate for 127.0.0.1 signed by it, a token key" \
  openssl verify -CAfile "$T/ca.pem" "$T/srv.pem"

# --- the token service, then the origin: TLS, token auth ---
TPORT=$(free_port); ORIGIN=127.0.0.1:$(free_port)
printf '%s\n' 'lfpusher:pa55word:pull,push,delete' 'lfreader:r3ader:pull' >"$WORK/token-users"
TOKEN_LIFE=6
python3 "$TESTS_DIR/token_service.py" "127.0.0.1:$TPORT" "$T/srv.pem" "$T/srv.key" "$T/tok.key" \
  "$WORK/token-users" layerfs-test-issuer "$TOKEN_LIFE" "$WORK/tokens.log" 2>"$WORK/token-service.log" &
PIDS+=($!)
mkdir -p "$WORK/origin-store"
cat >"$WORK/origin.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $WORK/origin-store
  delete:
    enabled: true
http:
  addr: $ORIGIN
  tls:
    certificate: $T/srv.pem
    key: $T/srv.key
auth:
  token:
    realm: https://127.0.0.1:$TPORT/token
    service: layerfs-origin
    issuer: layerfs-test-issuer
    rootcertbundle: $T/tok.pem
EOF
start_origin() { docker-registry serve "$WORK/origin.yml" >>"$WORK/origin.log" 2>&1 & OPID=$!; PIDS+=("$OPID"); }
start_origin
up() {   # URL CODE: the server answers URL with CODE
  for _ in $(seq 100); do
    [ "$(curl -s --cacert "$T/ca.pem" -o /dev/null -w '%{http_code}' "$1")" = "$2" ] && return 0; sleep 0.1
  done
  return 1
}
check "the origin answers over TLS, asking for a token" up "https://$ORIGIN/v2/" 401
check "the token service answers over TLS" up "https://127.0.0.1:$TPORT/token" 401

R="$WORK/repo"
sample_repo "$R"
OS="$R/Layers/OS/Windows10.1.1.vhd" OF="$R/Layers/App/Office.100.1.vhd"
# an app layer of 24 MiB: more than a read and its read-ahead fetch
mkdir -p "$WORK/big/Program Files/Big"
for i in 1 2 3; do head -c 8M /dev/urandom >"$WORK/big/Program Files/Big/part$i.bin"; done
"$LAYERCTL" pack -q "$WORK/big" "$WORK/big.vhd" &&
  "$LAYERCTL" repo add "$R" "$WORK/big.vhd" --type app --name Big --id 300 >/dev/null
BIG=$(ls "$R"/Layers/App/Big.300.1.vhd)
"$LAYERCTL" repo assign "$R" --group finance 1 100 >/dev/null
auth_json() {   # FILE USER PASSWORD
  printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$ORIGIN" "$(printf '%s:%s' "$2" "$3" | base64 -w0)" >"$1"
  chmod 600 "$1"
}
CA=(--registry-ca "$T/ca.pem")
auth_json "$WORK/pusher.json" lfpusher pa55word
auth_json "$WORK/reader.json" lfreader r3ader

refuses "a registry whose CA the host does not know is refused, naming it" "$ORIGIN" \
  "$LAYERCTL" push -q --registry-auth "$WORK/pusher.json" "$R" all "$ORIGIN/desktop"
grep -q "certificate" "$WORK/.err" && ok "and saying it is the certificate" || not_ok "certificate: $(cat "$WORK/.err")"
refuses "with the CA but no credentials, refused, saying so" "no credentials" \
  env REGISTRY_AUTH_FILE=/nonexistent "$LAYERCTL" push -q --registry-ca "$T/ca.pem" "$R" all "$ORIGIN/desktop"
check "with the CA and auth.json, push all gets a token and goes" \
  L push -q --registry-ca "$T/ca.pem" --registry-auth "$WORK/pusher.json" "$R" all "$ORIGIN/desktop"
grep -q '^lfpusher .*"desktop", "actions": .*"push"' "$WORK/tokens.log" \
  && ok "the token service granted lfpusher pull and push on desktop" || not_ok "grants: $(sort "$WORK/tokens.log" | uniq -c)"
refuses "a user who may only pull cannot push, saying whom it was denied to" "denied to lfreader" \
  "$LAYERCTL" push -q --registry-ca "$T/ca.pem" --registry-auth "$WORK/reader.json" "$R" 100 "$ORIGIN/desktop"
check "but pulls, byte for byte" bash -c "
  '$LAYERCTL' pull -q --registry-ca '$T/ca.pem' --registry-auth '$WORK/reader.json' '$ORIGIN/desktop:100.1' '$WORK/pulled' &&
  cmp '$OF' '$WORK/pulled/Layers/App/Office.100.1.vhd'"

# a mount that outlives its token: the registry says 401 again, a new
# token is had, the reads go on
M="$WORK/m"; mkdir -p "$M" "$M.local"
"$LAYERFS" --cache "$WORK/cache-m" --registry-ca "$T/ca.pem" --registry-auth "$WORK/reader.json" \
  --layer "oci://$ORIGIN/desktop:1.1,type=os" --layer "oci://$ORIGIN/desktop:100.1" \
  --layer "oci://$ORIGIN/desktop:300.1" "$M" 2>"$WORK/m.log" &&
  "$LAYERFS" --layer "$OS,type=os" --layer "$OF" --layer "$BIG" "$M.local"
check "a mount over TLS with a reader's token reads a file" wd cat "$M/Windows/win.ini"
n0=$(grep -c '^lfreader' "$WORK/tokens.log")
sleep $((TOKEN_LIFE + 1))
check "after its token expired, every file reads as the local layers' do" wd diff -r "$M" "$M.local"
n1=$(grep -c '^lfreader' "$WORK/tokens.log")
[ "$n1" -gt "$n0" ] && ok "a new token was had for it ($n0, then $n1 grants)" || not_ok "token renewal: $n0 then $n1"
# where each layer lives: the registry, and how much this host has
where() {   # CACHE: "ID where percent" a line
  "$LAYERCTL" repo list --json --cache "$1" --registry-ca "$T/ca.pem" --registry-auth "$WORK/reader.json" \
    "oci://$ORIGIN/desktop" | python3 -c '
import json, sys
for l in json.load(sys.stdin)["layers"]:
    print(l["id"], l["where"], int(l.get("cached_percent", -1)))'
}
w=$(where "$WORK/cache-m")
[ "$(awk '$2 != "registry"' <<<"$w")" = "" ] && [ "$(awk '$1 == 300 {print ($3 >= 90)}' <<<"$w")" = 1 ] \
  && [ "$(awk '$3 < 0 || $3 > 100' <<<"$w")" = "" ] \
  && ok "repo list oci://: every layer in the registry; of Big, read whole, $(awk '$1 == 300 {print $3}' <<<"$w")% cached" \
  || not_ok "where, cache-m: $w"
w=$(where "$WORK/cache-none")
[ "$(awk '$3 != 0' <<<"$w")" = "" ] && [ -n "$w" ] && ok "and with another cache, 0% of each" || not_ok "where, empty: $w"
check "the table says it too, beside a folder's 'local'" bash -c "
  '$LAYERCTL' repo list --cache '$WORK/cache-m' --registry-ca '$T/ca.pem' --registry-auth '$WORK/reader.json' \
    'oci://$ORIGIN/desktop' | grep -q '^300 .* registry  *[0-9]*%  *Big' &&
  '$LAYERCTL' repo list '$R' | grep -q '^300 .* local  *Big'"
fusermount3 -u "$M"; fusermount3 -u "$M.local"


# --- a branch reflector over TLS: the origin's CA given to it (Go reads
# SSL_CERT_FILE), its own credentials for the origin's token service;
# hosts of the branch trust the same CA and need none ---
PROXY=127.0.0.1:$(free_port)
mkdir -p "$WORK/proxy-store"
printf '%s\n' 'version: 0.1' 'log:' '  level: error' 'storage:' '  filesystem:' \
  "    rootdirectory: $WORK/proxy-store" 'http:' "  addr: $PROXY" '  tls:' \
  "    certificate: $T/srv.pem" "    key: $T/srv.key" 'proxy:' "  remoteurl: https://$ORIGIN" \
  '  username: lfreader' '  password: r3ader' >"$WORK/proxy.yml"
SSL_CERT_FILE="$T/ca.pem" docker-registry serve "$WORK/proxy.yml" >"$WORK/proxy.log" 2>&1 &
PIDS+=($!)
check "the reflector answers over TLS" up "https://$PROXY/v2/" 200
check "a branch host mounts through it, with no credentials, the same files as the local layers" wd bash -c "
  mkdir -p '$WORK/m-px' && '$LAYERFS' --cache '$WORK/cache-px' --registry-ca '$T/ca.pem' \
    --layer 'oci://$PROXY/desktop:1.1,type=os' --layer 'oci://$PROXY/desktop:100.1' '$WORK/m-px' &&
  mkdir -p '$WORK/m-pl' && '$LAYERFS' --layer '$OS,type=os' --layer '$OF' '$WORK/m-pl' &&
  diff -r '$WORK/m-px' '$WORK/m-pl'; rc=\$?; fusermount3 -u '$WORK/m-px'; fusermount3 -u '$WORK/m-pl'; exit \$rc"


# --- roaming: her personalization layer on a share two registry-backed
# hosts use (--repo SHARE holds Users/ alone); the session lock is a
# flock on the share, which NFS, SMB and CephFS keep on the server ---
id lfalice >/dev/null 2>&1 || useradd -M -s /bin/sh lfalice
chmod 755 "$WORK"   # she reaches her mounts below it
SHARE="$WORK/share"; mkdir -p "$SHARE"
host() {   # N: host N's layerd, from the registry, Users/ on the share
  "$LAYERD" --registry "$ORIGIN/desktop" --registry-ca "$T/ca.pem" --registry-auth "$WORK/reader.json" \
    --repo "$SHARE" --cache "$WORK/cache-host$1" --socket "$WORK/host$1.sock" --run "$WORK/run$1" \
    --machine "WKS-$1" 2>>"$WORK/host$1.log" &
  HPID[$1]=$!; PIDS+=("${HPID[$1]}")
  for _ in $(seq 100); do [ -S "$WORK/host$1.sock" ] && break; sleep 0.1; done
}
on() { local n=$1; shift; LAYERD_SOCKET="$WORK/host$n.sock" wd "$LAYERCTL" "$@"; }
declare -a HPID
host 1; host 2
check "host 1 logs lfalice in from the registry" on 1 login lfalice --groups finance
check "she saves a document, and a setting in HKCU through REG" bash -c "
  runuser -u lfalice -- sh -c 'mkdir -p \"$WORK/run1/lfalice/C/Users/lfalice/Documents\" &&
    echo roams > \"$WORK/run1/lfalice/C/Users/lfalice/Documents/roam.txt\" &&
    echo teal > \"$WORK/run1/lfalice/REG/HKU/lfalice/Control Panel/Desktop/Color\"'"
refuses "host 2 refuses her second login, saying where" "in use by another session" \
  env LAYERD_SOCKET="$WORK/host2.sock" "$LAYERCTL" login lfalice --groups finance
check "she logs off host 1" on 1 logoff lfalice
check "and in on host 2: her document and her setting are there" bash -c "
  LAYERD_SOCKET='$WORK/host2.sock' '$LAYERCTL' login lfalice --groups finance &&
  [ \"\$(cat '$WORK/run2/lfalice/C/Users/lfalice/Documents/roam.txt')\" = roams ] &&
  [ \"\$(cat '$WORK/run2/lfalice/REG/HKU/lfalice/Control Panel/Desktop/Color')\" = teal ]"
# the admin changes the repository while she works: Big assigned to her
# group, the control files pushed; host 2 refreshes her session
"$LAYERCTL" repo assign "$R" --group finance 300 >/dev/null
check "the admin assigns Big and pushes the control files while she is logged in" \
  L push -q "${CA[@]}" --registry-auth "$WORK/pusher.json" "$R" all "$ORIGIN/desktop"
check "host 2's refresh brings Big into her running session, her document still there" bash -c "
  LAYERD_SOCKET='$WORK/host2.sock' '$LAYERCTL' refresh >/dev/null &&
  [ -f '$WORK/run2/lfalice/C/Program Files/Big/part1.bin' ] &&
  cmp '$WORK/run2/lfalice/C/Program Files/Big/part3.bin' '$WORK/big/Program Files/Big/part3.bin' &&
  [ \"\$(cat '$WORK/run2/lfalice/C/Users/lfalice/Documents/roam.txt')\" = roams ]"
kill -9 "${HPID[2]}"; wait "${HPID[2]}" 2>/dev/null
for m in "$WORK/run2/lfalice/C" "$WORK/run2/lfalice/REG"; do umount -l "$m" 2>/dev/null; done
check "host 2 dies with her logged in: the lock dies with it, and host 1 logs her in" \
  on 1 login lfalice --groups finance
check "with what she had" bash -c "[ \"\$(cat '$WORK/run1/lfalice/C/Users/lfalice/Documents/roam.txt')\" = roams ]"
on 1 logoff lfalice >/dev/null

# --- fsck --registry: the repository as the registry serves it ---
F() { wd "$LAYERCTL" fsck "${CA[@]}" --registry-auth "$WORK/reader.json" "$@"; }
check "fsck --registry: every tag, every chunk fetched and hashed: clean" F --registry "$ORIGIN/desktop"
# Big, revision 2: a differencing disk on revision 1, pushed
"$DISKTOOL" dump "$BIG" >"$WORK/big2.raw"
printf 'revision 2' | dd of="$WORK/big2.raw" bs=1 seek=$((3 * 1048576)) conv=notrunc 2>/dev/null
"$DISKTOOL" vhd diff "$WORK/big2.raw" "$WORK/big2.vhd" "$BIG" &&
  "$LAYERCTL" repo add "$R" "$WORK/big2.vhd" --type app --name Big >/dev/null
check "Big revision 2, a differencing disk on revision 1, pushed with the control files" \
  L push -q "${CA[@]}" --registry-auth "$WORK/pusher.json" "$R" all "$ORIGIN/desktop"
# two chunks of revision 1 (its files' data: in it alone), one changed in
# the registry's storage, one gone
token() {
  curl -s --cacert "$T/ca.pem" -u "$1" "https://127.0.0.1:$TPORT/token?service=layerfs-origin&scope=repository:desktop:pull" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}
curl -s --cacert "$T/ca.pem" -H "Authorization: Bearer $(token lfreader:r3ader)" \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json' "https://$ORIGIN/v2/desktop/manifests/300.1" >"$WORK/big1.manifest"
read -r I1 C1 I2 C2 < <(python3 -c '
import json, sys
d = [l["digest"] for l in json.load(open(sys.argv[1]))["layers"]]
once = [i for i in range(len(d)) if d.count(d[i]) == 1]
a, b = once[len(once) // 2], once[len(once) // 2 + 1]
print(a, d[a], b, d[b])' "$WORK/big1.manifest")
blob() { echo "$WORK/origin-store/docker/registry/v2/blobs/sha256/${1:7:2}/${1:7}/data"; }
python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[100] ^= 0xff; open(p, "wb").write(b)' "$(blob "$C1")"
rm -f "$(blob "$C2")"
out=$(F --registry "$ORIGIN/desktop:300.2" 2>&1); rc=$?
[ $rc = 4 ] && grep -q "^error *wrong-sha256: .*Big 300.1: chunk $I1 ($C1): the registry's bytes do not hash to it" <<<"$out" \
  && grep -q "^error *missing-file: .*Big 300.1: chunk $I2 ($C2)" <<<"$out" && [ "$(grep -c '^error' <<<"$out")" = 2 ] \
  && ok "fsck --registry of revision 2 follows its parent: a changed and a missing chunk of revision 1, named (exit 4)" \
  || not_ok "fsck tampered: rc $rc: $out"
out=$(F --quick --json --registry "$ORIGIN/desktop:300.2" 2>&1); rc=$?
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
p = [(x["class"], x["path"]) for x in d["problems"]]
sys.exit(0 if d["status"] == 4 and d["errors"] == 1 and p[0][0] == "missing-file" else 1)' "$out" \
  && ok "--quick (chunks asked for, not fetched) finds the missing one; --json says so" || not_ok "quick: $rc $out"

# --- removal: refused while hosts need it; then gone, and collected ---
refuses "delete of a revision hosts need is refused, saying why" "not deleted: " \
  "$LAYERCTL" delete "${CA[@]}" --registry-auth "$WORK/pusher.json" "$ORIGIN/desktop:300.1"
check "delete --force takes it out all the same" \
  L delete --force "${CA[@]}" --registry-auth "$WORK/pusher.json" "$ORIGIN/desktop:300.1"
out=$(F --registry "$ORIGIN/desktop" 2>&1); rc=$?
[ $rc = 4 ] && grep -q "^error *no-parent: .*Big 300.2: its parent revision sha256:[0-9a-f]* is not in the registry" <<<"$out" \
  && grep -q "^error *unknown-layer: .*:control (layer 300 revision 1): names revision" <<<"$out" \
  && ok "fsck --registry: revision 2's parent is gone, and the control artifact names what is not there" \
  || not_ok "fsck after delete: rc $rc: $out"
refuses "delete of a revision the control artifact names is refused, saying what to do" \
  "remove it from the repository and push the control files again first" \
  "$LAYERCTL" delete "${CA[@]}" --registry-auth "$WORK/pusher.json" "$ORIGIN/desktop:300.2"
"$LAYERCTL" repo remove "$R" 300 --force --purge >/dev/null
check "Big removed from the repository, the control files pushed again" \
  L push -q "${CA[@]}" --registry-auth "$WORK/pusher.json" "$R" all "$ORIGIN/desktop"
check "revision 2 deleted (nothing needs it now)" \
  L delete "${CA[@]}" --registry-auth "$WORK/pusher.json" "$ORIGIN/desktop:300.2"
refuses "a pull of it says it is not there" "HTTP 404" \
  "$LAYERCTL" pull -q "${CA[@]}" --registry-auth "$WORK/reader.json" "$ORIGIN/desktop:300.2" "$WORK/gone"
nblobs() { find "$WORK/origin-store/docker/registry/v2/blobs" -name data | wc -l; }
before=$(nblobs)
kill "$OPID"; wait "$OPID" 2>/dev/null
docker-registry garbage-collect "$WORK/origin.yml" >"$WORK/gc.log" 2>&1
start_origin
after=$(nblobs)
check "docker-registry garbage-collect takes Big's chunks out ($before blobs, then $after)" test "$after" -lt "$before"
check "the origin is back" up "https://$ORIGIN/v2/" 401
check "and fsck --registry finds the rest whole" F --registry "$ORIGIN/desktop"

finish
