#!/usr/bin/env bash
# Twenty users log in at once, as at nine in the morning or after layerd
# was restarted (issue 27's two-hour day): each session must be hers, her
# uid, her SID, her groups' layers, her drive open to her. layerd logs users
# in on several threads; an account looked up through getpwnam's one
# static buffer gave one login another's uid, and that user was refused
# every file of her day.
# LOGINS_USERS (default 20), LOGINS_ROUNDS (default 12).
. "$(dirname "$0")/lib.sh"
: "${LAYERD:?LAYERD not set}"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (accounts, mounts for users)"
[ -e /dev/fuse ] || skip_all "no /dev/fuse"
command -v useradd >/dev/null || skip_all "no useradd"
N=${LOGINS_USERS:-20}
ROUNDS=${LOGINS_ROUNDS:-12}

getent group lflogodd >/dev/null || groupadd lflogodd || skip_all "cannot add group lflogodd"
USERS=()
for i in $(seq 1 "$N"); do
  u=$(printf 'lflog%02d' "$i")
  g=""; [ $((i % 2)) -eq 1 ] && g=lflogodd    # Office for the odd ones: groups must be hers too
  if id "$u" >/dev/null 2>&1; then usermod -G "$g" "$u"
  else useradd -M -s /bin/sh ${g:+-G "$g"} "$u" || skip_all "cannot add $u"; fi
  USERS+=("$u")
done
chmod 755 "$WORK"

R="$WORK/repo"
sample_repo "$R"
"$LAYERCTL" repo assign "$R" --machine '*' 1 >/dev/null
"$LAYERCTL" repo assign "$R" --group lflogodd 100 >/dev/null
export LAYERD_SOCKET="$WORK/layerd.sock"
RUN="$WORK/run"
"$LAYERD" --repo "$R" --socket "$LAYERD_SOCKET" --run "$RUN" 2>"$WORK/layerd.log" &
LPID=$!
for _ in $(seq 100); do [ -S "$LAYERD_SOCKET" ] && "$LAYERCTL" status >/dev/null 2>&1 && break; sleep 0.1; done
trap 'kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null; cleanup' EXIT

# every session as layerd says it, against the account database; then
# each user lists her own profile as herself
cat >"$WORK/sessions.py" <<'PY'
import json, pwd, grp, sys
want = set(sys.argv[1:])
odd = set(grp.getgrnam("lflogodd").gr_mem)
bad, seen = [], {}
for s in json.load(sys.stdin)["sessions"]:
    u, sid = s["user"], s["sid"]
    want.discard(u)
    uid = pwd.getpwnam(u).pw_uid
    office = any(l["name"] == "Office" for l in s["layers"])
    if s["uid"] != uid:
        bad.append(f"{u}: the session has uid {s['uid']}, she is {uid}")
    if office != (u in odd):
        bad.append(f"{u}: Office {'given' if office else 'missing'} (in lflogodd: {u in odd})")
    if sid in seen:
        bad.append(f"{u}: SID {sid} is {seen[sid]}'s too")
    seen[sid] = u
bad += [f"{u}: no session" for u in sorted(want)]
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
check_sessions() {
  "$LAYERCTL" status --json | python3 "$WORK/sessions.py" "${USERS[@]}" || return 1
  for u in "${USERS[@]}"; do
    runuser -u "$u" -- ls "$RUN/$u/C/Users/$u" >/dev/null || { echo "$u cannot list her profile"; return 1; }
  done
}

bad=0
for r in $(seq 1 "$ROUNDS"); do
  printf '%s\n' "${USERS[@]}" | xargs -P "$N" -I{} "$LAYERCTL" login {} >"$WORK/login.out" 2>&1 \
    || { bad=1; echo "    round $r: a login failed:"; sed 's/^/    /' "$WORK/login.out" | head -5; }
  check_sessions >"$WORK/sessions.out" 2>&1 \
    || { bad=1; echo "    round $r:"; sed 's/^/    /' "$WORK/sessions.out" | head -10; }
  printf '%s\n' "${USERS[@]}" | xargs -P "$N" -I{} "$LAYERCTL" logoff {} >"$WORK/logoff.out" 2>&1 \
    || { bad=1; echo "    round $r: a logoff failed:"; sed 's/^/    /' "$WORK/logoff.out" | head -5; }
  [ "$bad" -eq 0 ] || break
done
[ "$bad" -eq 0 ] && ok "$N users log in at once, $ROUNDS times: each session hers (uid, SID, groups' layers, drive)" \
  || not_ok "$N users log in at once: a session that is not hers"
kill -0 "$LPID" 2>/dev/null && ok "layerd still runs" || not_ok "layerd died"
finish
