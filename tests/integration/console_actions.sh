#!/usr/bin/env bash
# layerd's web console, its actions (issue 35, part b): who may act, and
# how a page's form proves it is the page's. On the unix socket root acts
# and a viewer may not; a POST without the page's CSRF token, with another
# caller's, or from another site's page is refused. On TCP a PAM sign-in
# (real accounts, real passwords) gives a cookie (HttpOnly, SameSite=
# Strict; Secure under TLS) that ends at sign-out or when idle; a script's
# bearer token (--http-token) acts without a form. A real browser (Chromium
# through chromedriver) signs in and changes an assignment through the
# page, which `layerctl repo list` then shows; another site's page that
# posts to the console changes nothing. Every action is in layerd's log
# and the repository's History.txt with who did it. TLS: a listener off
# loopback with --http-cert/--http-key, checked against the test's CA.
. "$(dirname "$0")/lib.sh"
CHECKS=41
: "${LAYERD:?}"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (layerd, accounts)"
[ -e /dev/fuse ] || skip_all "no /dev/fuse"
for t in curl chromium chromedriver openssl python3; do
  command -v $t >/dev/null || skip_all "no $t (scripts/setup installs it)"
done
chmod 755 "$WORK"
getent group lfadmins >/dev/null || groupadd lfadmins
getent group lfviewers >/dev/null || groupadd lfviewers
for u in lfact1 lfadm lfview2 lfnobody; do id $u >/dev/null 2>&1 || useradd -M -s /bin/sh $u; done
usermod -a -G lfadmins lfadm
usermod -a -G lfviewers lfview2
# passwords made here, for this run only
PW_ADM=$(openssl rand -hex 12) PW_VIEW=$(openssl rand -hex 12) PW_NOB=$(openssl rand -hex 12)
printf 'lfadm:%s\nlfview2:%s\nlfnobody:%s\n' "$PW_ADM" "$PW_VIEW" "$PW_NOB" | chpasswd
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; cleanup' EXIT

R="$WORK/repo"
sample_repo "$R"
"$LAYERCTL" repo assign "$R" --group finance 1 100 >/dev/null
"$LAYERCTL" repo add "$R" "$S/App/AdminTools.102.1.vhd" --type app --name AdminTools --priority 20 >/dev/null
TOKEN=$(openssl rand -hex 32)
printf '%s\n' "$TOKEN" >"$WORK/token"; chmod 600 "$WORK/token"
cp "$WORK/token" "$WORK/token-open"; chmod 644 "$WORK/token-open"
HS="$WORK/http.sock" PORT=$(free_port)
export LAYERD_SOCKET="$WORK/layerd.sock"
refuses "a --http-token others may read is refused, saying how to mend it" "chmod 600" \
  "$LAYERD" --repo "$R" --socket "$WORK/x.sock" --run "$WORK/xrun" --http "unix:$WORK/x-http.sock" \
  --http-token "$WORK/token-open"
refuses "--http-cert without --http-key is refused" "go together" \
  "$LAYERD" --repo "$R" --socket "$WORK/x.sock" --run "$WORK/xrun" --http 127.0.0.1:1 \
  --http-cert /etc/hostname
"$LAYERD" --repo "$R" --socket "$LAYERD_SOCKET" --run "$WORK/run" --http "unix:$HS" \
  --http "127.0.0.1:$PORT" --http-viewers lfviewers --http-admins lfadmins \
  --http-token "$WORK/token" 2>"$WORK/layerd.log" &
LPID=$!; PIDS+=("$LPID")
for _ in $(seq 100); do [ -S "$HS" ] && [ -S "$LAYERD_SOCKET" ] && break; sleep 0.1; done
check "a user logs in" "$LAYERCTL" login lfact1 --groups finance
wd ls "$WORK/run/lfact1/C/Windows" >/dev/null

# --- the unix socket: the caller's account decides ---
U() { curl -s --max-time 20 --unix-socket "$HS" "$@"; }
csrf_of() { grep -o 'name="csrf" value="[^"]*"' "$1" | head -1 | sed 's/.*value="//; s/"$//'; }
U -o "$WORK/page" http://layerd/assignments
CSRF=$(csrf_of "$WORK/page")
[ -n "$CSRF" ] && grep -q 'action="/act/assign"' "$WORK/page" && grep -q 'action="/act/unassign"' "$WORK/page" \
  && ok "root's /assignments has the assign form and a take-back button, each with a CSRF token" \
  || not_ok "no forms for root: $(head -c 600 "$WORK/page")"
post() {   # WHERE ACTION FIELDS...: the status, the page into WORK/answer
  local where=$1 act=$2; shift 2
  local args=()
  for f in "$@"; do args+=(--data-urlencode "$f"); done
  if [ "$where" = unix ]; then U -o "$WORK/answer" -w '%{http_code}' "${args[@]}" "http://layerd/act/$act"
  else curl -s --max-time 20 -o "$WORK/answer" -w '%{http_code}' "${args[@]}" "$where/act/$act"; fi
}
code=$(post unix assign kind=group name=sales layers=100,101 "csrf=$CSRF")
list=$("$LAYERCTL" repo list "$R")
[ "$code" = 303 ] && grep -q 'group sales: 100 101' <<<"$list" \
  && ok "root assigns Office and AdminTools to group sales through the form; layerctl repo list shows it" \
  || not_ok "assign: $code $(cat "$WORK/answer") / $(grep -i sales <<<"$list")"
grep -qP '\troot\tunix socket \(peer\)\tassign group sales 100,101\tdone$' "$R/History.txt" \
  && grep -q 'console: root from unix socket (peer): assign group sales 100,101: done' "$WORK/layerd.log" \
  && ok "the action is in REPO/History.txt and layerd's log, with who and from where" \
  || not_ok "history: $(cat "$R/History.txt" 2>&1 | tail -2)"
code=$(post unix assign kind=group name=nocsrf layers=100)
[ "$code" = 403 ] && grep -q 'CSRF token is missing' "$WORK/answer" && ! "$LAYERCTL" repo list "$R" | grep -q nocsrf \
  && ok "a POST without the CSRF token is refused (403) and changes nothing" || not_ok "no csrf: $code $(cat "$WORK/answer")"
last=${CSRF: -1}; [ "$last" = 0 ] && other=1 || other=0   # its last digit, changed
code=$(U -o /dev/null -w '%{http_code}' -d x=1 'http://layerd/act/%0Aforged%20line')
[ "$code" = 403 ] && ! grep -q '^forged line' "$WORK/layerd.log" && grep -q 'a POST to /act/?forged line by root' "$WORK/layerd.log" \
  && ok "a refused POST's address goes to the log on one line (a newline in it as '?')" \
  || not_ok "log line: $code $(grep -a -A1 'POST to' "$WORK/layerd.log" | tail -3)"
code=$(post unix assign kind=group name=badcsrf layers=100 "csrf=${CSRF%?}$other")
[ "$code" = 403 ] && ok "a token with a changed character is refused" || not_ok "bad csrf: $code"
code=$(U -o "$WORK/answer" -w '%{http_code}' -H 'Origin: http://evil.example' -H 'Host: layerd' \
  --data-urlencode kind=group --data-urlencode name=evil --data-urlencode layers=100 \
  --data-urlencode "csrf=$CSRF" http://layerd/act/assign)
[ "$code" = 403 ] && ! "$LAYERCTL" repo list "$R" | grep -q evil \
  && ok "a POST whose Origin is another site is refused, its token good or not" || not_ok "origin: $code"
code=$(U -o "$WORK/answer" -w '%{http_code}' -H 'Sec-Fetch-Site: cross-site' \
  --data-urlencode kind=group --data-urlencode name=evil --data-urlencode layers=100 \
  --data-urlencode "csrf=$CSRF" http://layerd/act/assign)
[ "$code" = 403 ] && ok "so is one the browser says is cross-site" || not_ok "sec-fetch-site: $code"
as lfview2 curl -s --max-time 20 --unix-socket "$HS" http://layerd/layers >"$WORK/vpage"
grep -q 'class="layer"' "$WORK/vpage" && ! grep -q 'name="csrf"' "$WORK/vpage" \
  && ok "a viewer reads /layers and gets no forms" || not_ok "viewer page: $(head -c 300 "$WORK/vpage")"
out=$(as lfview2 curl -s --max-time 20 --unix-socket "$HS" -w ' %{http_code}' --data-urlencode "csrf=$CSRF" \
  --data-urlencode kind=group --data-urlencode name=byviewer --data-urlencode layers=100 http://layerd/act/assign)
[ "${out##* }" = 403 ] && grep -q 'may read these pages but not act' <<<"$out" \
  && ! "$LAYERCTL" repo list "$R" | grep -q byviewer \
  && ok "a POST from a viewer (not an admin) is refused, saying why" || not_ok "viewer post: $out"

# --- the other actions, each as layerctl would do it ---
code=$(post unix priority id=101 priority=30 "csrf=$CSRF")
"$LAYERCTL" repo list --json "$R" >"$WORK/list.json"
p=$(python3 -c 'import json,sys; print([l["priority"] for l in json.load(open(sys.argv[1]))["layers"] if l["id"]==101][0])' "$WORK/list.json")
[ "$code" = 303 ] && [ "$p" = 30 ] && ok "priority of AdminTools set to 30" || not_ok "priority: $code $p $(cat "$WORK/answer")"
code=$(post unix retire id=100 revision=1 "csrf=$CSRF")
[ "$code" = 409 ] && grep -q 'assigned to group' "$WORK/answer" \
  && ok "retiring Office, which groups are assigned, is refused (409), saying why" || not_ok "retire assigned: $code $(cat "$WORK/answer")"
code=$(post unix unassign kind=group name=sales layers=101 "csrf=$CSRF")
[ "$code" = 303 ] && ok "take AdminTools back from sales" || not_ok "unassign: $code $(cat "$WORK/answer")"
code=$(post unix retire id=101 "csrf=$CSRF")
f=$(ls "$R/Retired/" 2>/dev/null | grep -c 'AdminTools.*\.vhd$')
[ "$code" = 303 ] && [ "$f" = 1 ] && ! "$LAYERCTL" repo list "$R" | grep -q AdminTools \
  && grep -q 'retire layer 101: Layers/App/AdminTools' "$R/History.txt" \
  && ok "AdminTools retired: its file in Retired/, gone from the list, the history says where it went" \
  || not_ok "retire: $code $f $(cat "$WORK/answer")"
check "and layerctl repo restore brings it back" "$LAYERCTL" repo restore "$R" 101
code=$(post unix logoff user=lfact1 "csrf=$CSRF")
[ "$code" = 303 ] && ! "$LAYERCTL" status 2>/dev/null | grep -q lfact1 \
  && ok "log off lfact1 from the sessions page" || not_ok "logoff: $code $(cat "$WORK/answer")"
code=$(post unix logoff user=lfact1 "csrf=$CSRF")
[ "$code" = 409 ] && grep -q 'lfact1' "$WORK/answer" && ok "logging off someone not logged in is 409, saying so" \
  || not_ok "logoff twice: $code $(cat "$WORK/answer")"
code=$(post unix frobnicate "csrf=$CSRF")
[ "$code" = 404 ] && ok "an unknown action is 404" || not_ok "unknown action: $code"
code=$(U -o /dev/null -w '%{http_code}' http://layerd/act/assign)
[ "$code" = 405 ] && ok "an action by GET is 405" || not_ok "GET action: $code"

# --- TCP: sign-in through PAM, the cookie, the bearer token ---
B="http://127.0.0.1:$PORT"
code=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$B/sessions")
[ "$code" = "303 $B/login" ] && ok "over TCP a page without a sign-in sends the browser to /login" || not_ok "tcp page: $code"
code=$(curl -s -o "$WORK/answer" -w '%{http_code}' --data-urlencode user=lfadm --data-urlencode password=NotHerPassw0rd "$B/login")
[ "$code" = 401 ] && grep -q 'password is wrong' "$WORK/answer" && grep -q 'sign-in of lfadm from 127.0.0.1 refused' "$WORK/layerd.log" \
  && ! grep -q NotHerPassw0rd "$WORK/layerd.log" \
  && ok "a wrong password is 401 and logged (without the password)" || not_ok "wrong password: $code"
code=$(curl -s -o "$WORK/answer" -w '%{http_code}' --data-urlencode user=lfnobody --data-urlencode "password=$PW_NOB" "$B/login")
[ "$code" = 403 ] && grep -q 'neither root nor in group lfviewers or lfadmins' "$WORK/answer" \
  && ok "a right password of someone in neither group is 403" || not_ok "nobody sign-in: $code $(cat "$WORK/answer")"
curl -s -D "$WORK/headers" -o /dev/null -c "$WORK/jar" --data-urlencode user=lfadm --data-urlencode "password=$PW_ADM" "$B/login"
cookie=$(grep -i '^set-cookie:' "$WORK/headers" | tr -d '\r')
grep -q ' 303' "$WORK/headers" && grep -q 'layerd_session=[0-9a-f]\{64\}; Path=/; HttpOnly; SameSite=Strict$' <<<"$cookie" \
  && ok "the admin signs in: a session cookie, HttpOnly and SameSite=Strict (no Secure on plain loopback)" \
  || not_ok "sign-in: $(cat "$WORK/headers")"
curl -s -b "$WORK/jar" -o "$WORK/page" "$B/layers"
grep -q 'id="who" data-role="admin">lfadm' "$WORK/page" && grep -q 'action="/act/retire"' "$WORK/page" \
  && ok "signed in, /layers names her and has the admin's buttons" || not_ok "signed-in page: $(head -c 500 "$WORK/page")"
TC=$(csrf_of "$WORK/page")
code=$(curl -s -b "$WORK/jar" -o "$WORK/answer" -w '%{http_code}' --data-urlencode id=101 --data-urlencode priority=25 \
  --data-urlencode "csrf=$CSRF" "$B/act/priority")
[ "$code" = 403 ] && ok "root's unix-socket token is no good for her sign-in (tokens are bound to the caller)" || not_ok "cross token: $code"
code=$(curl -s -b "$WORK/jar" -o "$WORK/answer" -w '%{http_code}' --data-urlencode id=101 --data-urlencode priority=25 \
  --data-urlencode "csrf=$TC" "$B/act/priority")
[ "$code" = 303 ] && grep -qP '\tlfadm\t127.0.0.1 \(sign-in\)\tpriority 101 25\tdone$' "$R/History.txt" \
  && ok "with her own token the priority is set; the history names her and her address" || not_ok "tcp priority: $code $(tail -1 "$R/History.txt")"
code=$(curl -s -b "$WORK/jar" -o /dev/null -w '%{http_code}' --data-urlencode "csrf=$TC" "$B/logout")
code2=$(curl -s -b "$WORK/jar" -o /dev/null -w '%{http_code}' "$B/layers")
[ "$code" = 303 ] && [ "$code2" = 303 ] && ok "after sign-out her cookie no longer opens a page" || not_ok "logout: $code $code2"
curl -s -o /dev/null -c "$WORK/jar2" --data-urlencode user=lfview2 --data-urlencode "password=$PW_VIEW" "$B/login"
curl -s -b "$WORK/jar2" -o "$WORK/page" "$B/sessions"
code=$(curl -s -b "$WORK/jar2" -o /dev/null -w '%{http_code}' --data-urlencode "csrf=x" --data-urlencode at_logoff=1 "$B/act/refresh")
grep -q 'data-role="viewer"' "$WORK/page" && [ "$code" = 403 ] \
  && ok "a viewer signed in reads and may not act" || not_ok "viewer tcp: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -d at_logoff=1 "$B/act/refresh")
[ "$code" = 303 ] && grep -qP '\ttoken\t127.0.0.1 \(token\)\trefresh at logoff\tdone$' "$R/History.txt" \
  && ok "a script's bearer token acts without a form (refresh), logged as the token" || not_ok "bearer: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${TOKEN%?}x" -d at_logoff=1 "$B/act/refresh")
[ "$code" = 401 ] && ok "a wrong bearer token is 401" || not_ok "bad bearer: $code"

# --- a real browser: Chromium signs in and changes an assignment; a page
# of another site that posts to the console changes nothing ---
DPORT=$(free_port) EPORT=$(free_port)
ART="${BUILD_DIR:-$WORK}/meson-logs/console"
mkdir -p "$ART" "$WORK/evil"
chown lfview2 "$WORK/evil"
cat >"$WORK/evil/index.html" <<EOF
<!DOCTYPE html><html><body><form id="f" method="post" action="$B/act/assign">
<input name="kind" value="group"><input name="name" value="forged"><input name="layers" value="100">
</form><script>document.getElementById('f').submit();</script></body></html>
EOF
# setpriv execs (no process between): the pid kept is the server's own
view2=(setpriv --reuid=lfview2 --regid="$(id -g lfview2)" --init-groups)
"${view2[@]}" /usr/bin/python3 -m http.server "$EPORT" --bind 127.0.0.1 --directory "$WORK/evil" >"$WORK/evil.log" 2>&1 &
PIDS+=($!)
"${view2[@]}" env HOME="$WORK/evil" chromedriver --port="$DPORT" >"$WORK/chromedriver.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$DPORT/status" && curl -s -o /dev/null "http://127.0.0.1:$EPORT/" && break; sleep 0.1; done
cat >"$WORK/steps" <<EOF
go $B/assignments
url-ends /login
type input[name=user] lfadm
type input[name=password] $PW_ADM
shot $ART/signin.png
click button[type=submit]
has data-role="admin"
go $B/assignments
select #assign-kind group
type #assign-name browsers
type #assign-layers 101
click #assign-submit
url-ends /assignments
has <td>browsers</td>
shot $ART/assignments-admin.png
go http://127.0.0.1:$EPORT/
has CSRF token is missing
go http://localhost:$EPORT/
has sign in first
go $B/assignments
hasnt forged
EOF
timeout 120 python3 "$TESTS_DIR/webdriver.py" "$DPORT" "$WORK/steps" >"$WORK/webdriver.log" 2>&1
rc=$?
list=$("$LAYERCTL" repo list "$R")
[ "$rc" = 0 ] && grep -q browsers <<<"$list" \
  && ok "Chromium: signed in through the form and assigned AdminTools to group browsers; layerctl repo list shows it (screenshots in $ART)" \
  || not_ok "chromium: rc $rc $(tail -5 "$WORK/webdriver.log") $(tail -3 "$WORK/chromedriver.log")"
! grep -q forged <<<"$list" && grep -q 'GET / ' "$WORK/evil.log" \
  && ok "another origin's page that posts a form to the console in her signed-in browser changes nothing: same site (her cookie goes along) the CSRF token stops it; another site (localhost) goes without the SameSite cookie" \
  || not_ok "forged: $(grep forged <<<"$list")"
grep -qP '\tlfadm\t127.0.0.1 \(sign-in\)\tassign group browsers 101\tdone$' "$R/History.txt" \
  && ok "the browser's action is in the history, by her" || not_ok "browser history: $(tail -2 "$R/History.txt")"
kill "$LPID"; wait "$LPID" 2>/dev/null

# --- TLS: a listener off loopback, with a certificate of the test's CA ---
T="$WORK/tls"
make_test_ca "$T" || not_ok "openssl: $(tail -3 "$T/openssl.log")"
SPORT=$(free_port)
"$LAYERD" --repo "$R" --socket "$LAYERD_SOCKET" --run "$WORK/run" --http "0.0.0.0:$SPORT" \
  --http-cert "$T/srv.pem" --http-key "$T/srv.key" --http-viewers lfviewers --http-admins lfadmins \
  --http-token "$WORK/token" --http-idle 3s 2>"$WORK/layerd2.log" &
LPID=$!; PIDS+=("$LPID")
SURL="https://127.0.0.1:$SPORT"
for _ in $(seq 100); do curl -s -o /dev/null --cacert "$T/ca.pem" "$SURL/login" && break; sleep 0.1; done
curl -s --cacert "$T/ca.pem" -D "$WORK/headers" -o /dev/null -c "$WORK/jar3" --data-urlencode user=lfadm \
  --data-urlencode "password=$PW_ADM" "$SURL/login"
grep -qi '^set-cookie: layerd_session=[0-9a-f]*; Path=/; HttpOnly; SameSite=Strict; Secure' "$WORK/headers" \
  && ok "on 0.0.0.0 with --http-cert: the sign-in over TLS (the test's CA verifies it) gives a Secure cookie" \
  || not_ok "tls sign-in: $(cat "$WORK/headers") $(tail -3 "$WORK/layerd2.log")"
code=$(curl -s --cacert "$T/ca.pem" -o "$WORK/page" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$SURL/layers")
[ "$code" = 200 ] && grep -q 'class="layer"' "$WORK/page" && ok "the bearer token reads /layers over TLS" || not_ok "tls bearer: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SPORT/login")
[ "$code" != 200 ] && ok "plain HTTP to the TLS listener gets no page ($code)" || not_ok "plain to tls: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$SURL/login")
[ "$code" = 000 ] && ok "a client without the CA refuses the certificate" || not_ok "no ca: $code"
code=$(curl -s --cacert "$T/ca.pem" -b "$WORK/jar3" -o /dev/null -w '%{http_code}' "$SURL/sessions")
sleep 4
code2=$(curl -s --cacert "$T/ca.pem" -b "$WORK/jar3" -o /dev/null -w '%{http_code}' "$SURL/sessions")
[ "$code" = 200 ] && [ "$code2" = 303 ] && ok "a sign-in unused for longer than --http-idle (3 s here) has ended" \
  || not_ok "idle: $code then $code2"
kill "$LPID"; wait "$LPID" 2>/dev/null
finish
