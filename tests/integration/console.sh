#!/usr/bin/env bash
# layerd's web console (issue 35, part a): the sample repository with two
# sessions, its pages read through layerd's unix socket by root, by a
# viewer and by someone who is neither; over TCP only /metrics; promtool
# checks /metrics, a Prometheus started here scrapes it and a query gives
# the session count; headless Chromium loads each page (through socat run
# as the viewer, as a local reverse proxy would) and its DOM holds the
# layers, assignments and sessions; a screenshot of each is kept.
. "$(dirname "$0")/lib.sh"
CHECKS=39
: "${LAYERD:?}"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (layerd)"
[ -e /dev/fuse ] || skip_all "no /dev/fuse"
for t in curl promtool prometheus socat chromium; do
  command -v $t >/dev/null || skip_all "no $t (scripts/setup installs it)"
done
chmod 755 "$WORK"
for u in lfcon1 lfcon2 lfview; do id $u >/dev/null 2>&1 || useradd -M -s /bin/sh $u; done
getent group lfviewers >/dev/null || groupadd lfviewers
usermod -a -G lfviewers lfview
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; cleanup' EXIT

R="$WORK/repo"
sample_repo "$R"
"$LAYERCTL" repo assign "$R" --group finance 1 100 >/dev/null
# AdminTools, for another group, fights Office over mso.dll
"$LAYERCTL" repo add "$R" "$S/App/AdminTools.102.1.vhd" --type app --name AdminTools --priority 20 >/dev/null
"$LAYERCTL" repo assign "$R" --group tools 101 >/dev/null
chmod o+r "$R/Layers/App/Office.100.1.vhd"   # a warning for /health's fsck to find
HS="$WORK/http.sock" PORT=$(free_port)
export LAYERD_SOCKET="$WORK/layerd.sock"
refuses "a --metrics-allow that is not an address is refused, naming it" "not-an-address" \
  "$LAYERD" --repo "$R" --socket "$WORK/x.sock" --run "$WORK/xrun" --http "unix:$WORK/x-http.sock" \
  --metrics-allow 127.0.0.1,not-an-address
refuses "a TCP listener off loopback without TLS is refused" "needs TLS" \
  "$LAYERD" --repo "$R" --socket "$WORK/x.sock" --run "$WORK/xrun" --http 192.0.2.1:8080
"$LAYERD" --repo "$R" --socket "$LAYERD_SOCKET" --run "$WORK/run" --http "unix:$HS" \
  --http "127.0.0.1:$PORT" --http-viewers lfviewers --cache "$WORK/cache" 2>"$WORK/layerd.log" &
LPID=$!; PIDS+=("$LPID")
for _ in $(seq 100); do [ -S "$HS" ] && [ -S "$LAYERD_SOCKET" ] && break; sleep 0.1; done
check "two users log in" bash -c "'$LAYERCTL' login lfcon1 --groups finance && '$LAYERCTL' login lfcon2 --groups finance"
wd ls -R "$WORK/run/lfcon1/C/Windows" >/dev/null

get() { curl -s --max-time 10 --unix-socket "$HS" -o "$WORK/page" -w '%{http_code}' "http://layerd$1"; }
[ "$(get /layers)" = 200 ] && grep -q '<tr class="layer" data-id="1" data-revision="1">' "$WORK/page" \
  && grep -q '<td>Office</td>' "$WORK/page" && grep -q 'group finance' "$WORK/page" \
  && grep -q 'lfcon1, lfcon2\|lfcon2, lfcon1' "$WORK/page" \
  && ok "/layers: every layer and revision, who gets it by which assignment, who uses it now" \
  || not_ok "/layers: $(head -c 600 "$WORK/page")"
[ "$(get /assignments)" = 200 ] && grep -q '<tr class="assignment"><td>group</td><td>finance</td><td>Windows10 (1), Office (100)' "$WORK/page" \
  && ok "/assignments: the group and its layers" || not_ok "/assignments: $(head -c 600 "$WORK/page")"
[ "$(get /sessions)" = 200 ] && [ "$(grep -c '<tr class="session">' "$WORK/page")" = 2 ] \
  && grep -q 'Windows10, Office' "$WORK/page" && ok "/sessions: both sessions, their layers" \
  || not_ok "/sessions: $(head -c 600 "$WORK/page")"
[ "$(get /)" = 200 ] && grep -q 'id="n-sessions">2<' "$WORK/page" && grep -q 'id="n-layers">3<' "$WORK/page" \
  && ok "/: the counts" || not_ok "/: $(head -c 600 "$WORK/page")"
[ "$(get /health)" = 200 ] && grep -q '3 there, each of its recorded size' "$WORK/page" \
  && ok "/health: control files read, layer files there" || not_ok "/health: $(head -c 600 "$WORK/page")"
for _ in $(seq 100); do get /health >/dev/null; grep -q 'id="fsck" data-status="[0-9]' "$WORK/page" && break; sleep 0.1; done
"$LAYERCTL" fsck --json "$R" >"$WORK/fsck.json"; fs=$?
want=$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(d["errors"], d["warnings"])' "$WORK/fsck.json")
got=$(grep -o 'id="fsck" data-status="[0-9]*" data-errors="[0-9]*" data-warnings="[0-9]*"' "$WORK/page" |
  sed 's/.*data-status="\([0-9]*\)" data-errors="\([0-9]*\)" data-warnings="\([0-9]*\)"/\1 \2 \3/')
[ "$got" = "$fs $want" ] && [ "${want#* }" -ge 1 ] && grep -q 'readable-layer' "$WORK/page" && ok "/health: the last fsck layerd ran in the background, as layerctl fsck finds it (status, errors, warnings: $got)" \
  || not_ok "/health fsck: page '$got', layerctl fsck '$fs $want'"
[ "$(get /nowhere)" = 404 ] && ok "an unknown page is 404" || not_ok "404"

# --- the stack, pictured (SVG made by layerd from the union's census) ---
[ "$(get /sessions)" = 200 ] && grep -q 'href="/stack?user=lfcon1&amp;groups=[^"]*finance' "$WORK/page" \
  && ok "/sessions links each user to her stack's picture, with her groups" || not_ok "stack link: $(grep -o 'href="/stack[^"]*"' "$WORK/page")"
[ "$(get '/stack?user=lfcon1&groups=finance')" = 200 ] && grep -q '<svg id="stack"' "$WORK/page" \
  && grep -q '<g class="layer" data-layer="Windows10">' "$WORK/page" && grep -q '<g class="layer" data-layer="Office">' "$WORK/page" \
  && grep -q '<g class="folder" data-name="Program Files" data-files="3">' "$WORK/page" \
  && grep -q '<rect class="seg" data-layer="Office"' "$WORK/page" \
  && ok "/stack: her layers bottom to top, each folder's bar cut by the layers that give it" \
  || not_ok "/stack: $(head -c 800 "$WORK/page")"
# the census against the files: Program Files has 3 files in the merged view
n=$(find "$WORK/run/lfcon1/C/Program Files" -type f | wc -l)
[ "$n" = 3 ] && ok "and its count is the drive's ($n files in Program Files)" || not_ok "drive has $n files"
# what the census learnt of the OS layer's folders is kept (a memo by the
# layer file's SHA-256); the picture from it is the same picture
counts() { grep -o '<g class="folder" data-name="[^"]*" data-files="[0-9]*"' "$WORK/page"; }
get '/stack?user=lfcon1&groups=finance' >/dev/null; counts >"$WORK/counts1"
os_sha=$("$LAYERCTL" repo list --json "$R" | python3 -c 'import json, sys; print([l["sha256"] for l in json.load(sys.stdin)["layers"] if l["id"] == 1][0])')
get '/stack?user=lfcon1&groups=finance' >/dev/null; counts >"$WORK/counts2"
[ -s "$WORK/cache/census/$os_sha.memo" ] && [ -s "$WORK/counts1" ] && cmp -s "$WORK/counts1" "$WORK/counts2" \
  && ok "the OS layer's census memo is kept in CACHE/census/SHA256.memo; the picture drawn from it is the same" \
  || not_ok "memo: $(ls "$WORK/cache/census" 2>&1) / $(diff "$WORK/counts1" "$WORK/counts2")"
[ "$(get '/stack?user=lfcon1&groups=finance&path=Program%20Files')" = 200 ] \
  && grep -q 'data-name="Office" data-files="2"' "$WORK/page" && grep -q '>Program Files</a>' "$WORK/page" \
  && ok "a folder's link goes one level down, with the way back up" || not_ok "/stack down: $(head -c 600 "$WORK/page")"
[ "$(get '/stack?user=lfcon1&groups=finance&path=Nowhere')" = 404 ] && ok "a folder not there is 404" || not_ok "stack 404"
[ "$(get '/stack')" = 400 ] && ok "/stack without a user is 400, saying what it wants" || not_ok "stack 400"
[ "$(get '/stack?user=lf%0Aforged')" = 400 ] && grep -q 'control character' "$WORK/page" && ! grep -q forged "$WORK/layerd.log" \
  && ok "a user name with a newline is 400 (it would go into layerd's log)" || not_ok "stack control char: $(cat "$WORK/page")"

# --- conflicts, pictured: the grid of her app layers, then the list ---
[ "$(get '/conflicts?user=lfcon1&groups=finance,tools')" = 200 ] && grep -q 'id="n-conflicts" data-n="1"' "$WORK/page" \
  && grep -q '<g class="pair" data-a="AdminTools" data-b="Office" data-both="1" data-wins="1">' "$WORK/page" \
  && grep -q '<g class="pair" data-a="Office" data-b="AdminTools" data-both="1" data-wins="0">' "$WORK/page" \
  && grep -qi '<code>PROGRAM FILES/COMMON FILES/Shared/mso.dll</code></td><td><b>AdminTools</b></td><td>Office</td>' "$WORK/page" \
  && ok "/conflicts: AdminTools and Office both have mso.dll, AdminTools (priority 20) wins; as layerctl conflicts says" \
  || not_ok "/conflicts: $(head -c 900 "$WORK/page")"
out=$("$LAYERCTL" conflicts "$R" --user lfcon1 --groups finance,tools)   # exit 1: there are some
grep -qi 'mso.dll: AdminTools' <<<"$out" && ok "layerctl conflicts agrees" || not_ok "layerctl conflicts: $out"
code=$(curl -s --unix-socket "$HS" -X POST -o /dev/null -w '%{http_code}' http://layerd/layers)
[ "$code" = 405 ] && ok "a POST to a page is refused (405: actions are /act/..., console_actions.sh)" || not_ok "POST: $code"
code=$(runuser -u lfview -- curl -s --unix-socket "$HS" -o /dev/null -w '%{http_code}' http://layerd/sessions)
[ "$code" = 200 ] && ok "a member of the viewer group reads the pages" || not_ok "viewer: $code"
out=$(runuser -u lfcon1 -- curl -s --unix-socket "$HS" -w ' %{http_code}' http://layerd/sessions)
[ "${out##* }" = 403 ] && grep -q "neither root nor in group lfviewers" <<<"$out" \
  && ok "someone in neither group is refused (403), saying why" || not_ok "non-viewer: $out"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/sessions")
[ "$code" = 303 ] && ok "over TCP, a page without a sign-in goes to /login: a connection there carries no identity" || not_ok "tcp page: $code"

# --- /metrics ---
curl -s --max-time 10 "http://127.0.0.1:$PORT/metrics" >"$WORK/metrics.txt"
check "promtool check metrics passes on /metrics" bash -c "promtool check metrics <'$WORK/metrics.txt'"
grep -q '^layerd_sessions 2$' "$WORK/metrics.txt" && grep -q '^layerd_logins_total 2$' "$WORK/metrics.txt" \
  && awk '/^layerfs_fuse_request_duration_seconds_count\{op="lookup"\}/ {exit !($2 > 0)}' "$WORK/metrics.txt" \
  && grep -q '^layerd_login_duration_seconds_count 2$' "$WORK/metrics.txt" \
  && ! grep -q lfcon1 "$WORK/metrics.txt" \
  && ok "/metrics: 2 sessions, 2 logins timed, FUSE lookups counted; no user names" \
  || not_ok "metrics: $(grep -E '^layerd_(sessions|logins_total)' "$WORK/metrics.txt")"
cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: layerd
    static_configs:
      - targets: ['127.0.0.1:$PORT']
EOF
PPORT=$(free_port)
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$PPORT" >"$WORK/prometheus.log" 2>&1 &
PIDS+=($!)
query() {
  curl -s --max-time 5 "http://127.0.0.1:$PPORT/api/v1/query?query=layerd_sessions" |
    python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null
}
got=
for _ in $(seq 150); do got=$(query); [ -n "$got" ] && break; sleep 0.2; done
[ "$got" = 2 ] && ok "Prometheus scrapes layerd; the query layerd_sessions gives 2" \
  || not_ok "prometheus: '$got' $(tail -3 "$WORK/prometheus.log")"

# --- a real browser: Chromium through socat run as the viewer ---
BPORT=$(free_port)
setpriv --reuid=lfview --regid="$(id -g lfview)" --init-groups \
  socat "TCP-LISTEN:$BPORT,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$HS" &
PIDS+=($!)
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$BPORT/" && break; sleep 0.1; done
ART="${BUILD_DIR:-$WORK}/meson-logs/console"
mkdir -p "$ART"
browse() {   # PAGE: its DOM into WORK/dom, a screenshot into ART
  local name=${1#/}; name=${name:-overview}; name=${name//[^A-Za-z0-9]/-}
  timeout 60 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$WORK/chrome" \
    --dump-dom "http://127.0.0.1:$BPORT$1" >"$WORK/dom" 2>>"$WORK/chrome.log" &&
  timeout 60 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$WORK/chrome" \
    --window-size=1400,800 --screenshot="$ART/$name.png" "http://127.0.0.1:$BPORT$1" >>"$WORK/chrome.log" 2>&1
}
browse /layers && grep -q 'data-id="100"' "$WORK/dom" && [ -s "$ART/layers.png" ] \
  && ok "Chromium: /layers' DOM holds the layers (screenshot $ART/layers.png)" || not_ok "chromium layers: $(tail -3 "$WORK/chrome.log")"
browse /assignments && grep -q 'class="assignment"' "$WORK/dom" \
  && ok "Chromium: /assignments' DOM holds the assignment" || not_ok "chromium assignments"
browse /sessions && [ "$(grep -o 'class="session"' "$WORK/dom" | wc -l)" = 2 ] \
  && ok "Chromium: /sessions' DOM holds both sessions" || not_ok "chromium sessions"
browse / && grep -q 'id="n-sessions">2<' "$WORK/dom" && ok "Chromium: the overview" || not_ok "chromium overview"
browse '/conflicts?user=lfcon1&groups=finance,tools' && grep -q 'class="pair"' "$WORK/dom" \
  && ok "Chromium: the conflicts grid is in the DOM" || not_ok "chromium conflicts"
browse '/stack?user=lfcon1&groups=finance' && grep -q '<rect class="seg" data-layer="Office"' "$WORK/dom" \
  && [ -s "$ART/stack-user-lfcon1-groups-finance.png" ] \
  && ok "Chromium: the stack picture's SVG is in the DOM (screenshot kept)" || not_ok "chromium stack: $(tail -2 "$WORK/chrome.log")"

# --- a change, pictured: revision 2 of Office (AdminTools' file, for the
# test) against revision 1, as a tree; the same entries layerctl diff finds
"$LAYERCTL" repo add "$R" "$S/App/AdminTools.102.1.vhd" --type app --name Office >/dev/null
"$LAYERCTL" diff "$R/Layers/App/Office.100.1.vhd" "$R/Layers/App/Office.100.2.vhd" >"$WORK/diff.txt"
# layerctl diff says a hive's change as registry values; the page as the
# hive file that changed: every other path is the same
grep '^[-+~] ' "$WORK/diff.txt" | grep -v '^[-+~] HK[A-Z]*/' | sed 's/^[-+~] //; s/ ([a-z]*)$//' >"$WORK/diff.paths"
nd=$(wc -l <"$WORK/diff.paths")
code=$(get '/diff?a=100:1&b=100:2')
grep -o 'data-path="[^"]*"' "$WORK/page" | sed 's/data-path="//; s/"$//' | grep -vi '^Windows/System32/config/' |
  sort -u >"$WORK/page.paths"
missing=$(sort -u "$WORK/diff.paths" | grep -vxiF -f "$WORK/page.paths" || true)
[ "$code" = 200 ] && [ -z "$missing" ] && grep -q '<li class="folder" data-path="' "$WORK/page" \
  && ok "/diff: revision 1 to 2 of Office as a tree of folders, holding the $nd paths layerctl diff finds" \
  || not_ok "/diff: $code; missing: $missing"
[ "$(get '/diff?a=100:1&b=100:9')" = 404 ] && ok "/diff of a revision not there is 404" || not_ok "diff 404"
browse '/diff?a=100:1&b=100:2' && grep -q '<details' "$WORK/dom" && ok "Chromium: the change tree" || not_ok "chromium diff"
check "logoff of both" bash -c "'$LAYERCTL' logoff lfcon1 && '$LAYERCTL' logoff lfcon2"
kill "$LPID"; wait "$LPID" 2>/dev/null
check "layerd stops and takes its console's socket away" test ! -e "$HS"
# a new layerd reads the memo from its file, and a broken memo file is
# said in one line and made again; the picture is the same each time
stack_counts_anew() {   # LOG OUT: a new layerd's /stack picture's counts
  "$LAYERD" --repo "$R" --socket "$LAYERD_SOCKET" --run "$WORK/run" --http "unix:$HS" \
    --cache "$WORK/cache" 2>"$1" &
  LPID=$!; PIDS+=("$LPID")
  for _ in $(seq 100); do [ -S "$HS" ] && break; sleep 0.1; done
  get '/stack?user=lfcon1&groups=finance' >/dev/null; counts >"$2"
  kill "$LPID"; wait "$LPID" 2>/dev/null
}
stack_counts_anew "$WORK/layerd2.log" "$WORK/counts3"
printf 'LFCENSUS garbage' >"$WORK/cache/census/$os_sha.memo"
stack_counts_anew "$WORK/layerd3.log" "$WORK/counts4"
# (Office's newest is revision 2 now: counts3 and counts4 are of that stack)
[ -s "$WORK/counts3" ] && cmp -s "$WORK/counts3" "$WORK/counts4" \
  && [ "$(grep -c "census memo .*$os_sha.memo: not a census memo; made again" "$WORK/layerd3.log")" = 1 ] \
  && [ "$(wc -c <"$WORK/cache/census/$os_sha.memo")" -gt 80 ] \
  && ok "after a restart the memo file gives the picture a fresh count gives; a broken one is said in one line and made again" \
  || not_ok "memo restart: $(diff "$WORK/counts3" "$WORK/counts4") $(grep census "$WORK/layerd3.log")"
finish
