#!/usr/bin/env bash
# The HTTP API on a hostile network, against real nsxd processes on
# loopback: the default access policy (KV open, admin routes on loopback
# only, --open-admin), bearer tokens and their roles, /health and /metrics
# open or closed, TLS with curl and nsxctl (a CA and a server certificate
# made here with openssl, by deploy/gen-secrets.sh), a 4th node joining
# over TLS with an admin token, /raft/join refusing a follower without
# fetching anything, refusing a peer that is not host:port, and giving up
# on a name that does not resolve within its deadline, 200 clients sending
# their bodies one byte a second while /health must keep answering within
# 100 ms, and the token file's checks at start.
#
#   tests/cluster/http_security_test.sh [NSXD_BINARY]
#
# Ports: NSXD_HTTP_BASE (11000), NSXD_PEER_BASE (12000), NSXD_MON_BASE
# (12100). Each check prints PASS or FAIL; the script exits non-zero on any
# FAIL and stops every node it started (only those: by the PIDs it
# recorded). Every wait is bounded.
set -uo pipefail
# nsxd as it ships: deploy/local-cluster.sh turns --enable-faults on for
# people (a teaching cluster) unless NSXD_FAULTS=0 (tests/lib/lib.sh does
# the same for the scripts that source it)
export NSXD_FAULTS=${NSXD_FAULTS:-0}

here=$(cd "$(dirname "$0")/../.." && pwd)
export NSXD_BIN=${1:-$here/build/nsxd}
root=$(mktemp -d /tmp/nsxd-sec-test.XXXXXX)
export NSXD_DATA=$root/open
export NSXD_HTTP_BASE=${NSXD_HTTP_BASE:-11000}
export NSXD_PEER_BASE=${NSXD_PEER_BASE:-12000}
export NSXD_MON_BASE=${NSXD_MON_BASE:-$((NSXD_PEER_BASE + 100))}
lc="$here/deploy/local-cluster.sh"
ctl="$here/build/nsxctl"
trickle="$here/build/trickle"
slowdns="$here/build/slow_resolver.so"
fails=0
extra_pids=()   # nodes started here directly, outside local-cluster.sh

cleanup() {
    NSXD_DATA=$root/open "$lc" stop >/dev/null 2>&1
    NSXD_DATA=$root/secure "$lc" stop >/dev/null 2>&1
    local p
    for p in ${extra_pids[@]+"${extra_pids[@]}"}; do
        kill -TERM "$p" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    if [ $fails -eq 0 ]; then rm -rf "$root"; else echo "logs kept in $root"; fi
}
trap cleanup EXIT

pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
check() {   # description, command...
    local what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

# req METHOD URL [BODY] -> $status, $body, $headers; curl options from the
# array $copts (TLS) and $auth (an Authorization header), if set
copts=()
auth=()
req() {
    local out
    out=$(curl -sS -m 10 -D "$root/headers" -o /dev/stdout -w '\n%{http_code}' \
        ${copts[@]+"${copts[@]}"} ${auth[@]+"${auth[@]}"} -X "$1" \
        -H 'Content-Type: application/json' ${3:+-d "$3"} "$2" 2>/dev/null)
    status=${out##*$'\n'}
    body=${out%$'\n'*}
    headers=$(tr -d '\r' <"$root/headers" 2>/dev/null)
}
field() { jq -r "$1" <<<"$body" 2>/dev/null; }
is_json() { jq -e . <<<"$body" >/dev/null 2>&1 && grep -qi '^content-type: application/json' <<<"$headers"; }
http() { echo "http://127.0.0.1:$((NSXD_HTTP_BASE + $1))"; }
https() { echo "https://127.0.0.1:$((NSXD_HTTP_BASE + $1))"; }
ep() { echo "127.0.0.1:$((NSXD_HTTP_BASE + $1))"; }

leader_of() {   # base-url-function node... -> the leader's id (waits 10 s)
    local f=$1 i n id; shift
    for ((i = 0; i < 100; i++)); do
        for n in "$@"; do
            req GET "$($f "$n")/health"
            id=$(field '.leader_id // empty')
            if [ -n "$id" ] && [ "$(field .role)" = leader ]; then echo "$id"; return; fi
        done
        sleep 0.1
    done
}

# A node started directly (not through local-cluster.sh): id, then flags.
start_extra() {
    local id=$1; shift
    "$NSXD_BIN" --id "$id" --data-dir "$root/x$id" \
        --peer-secret-file "$NSXD_DATA/cluster.key" --peer-listen "tcp://127.0.0.$((10 + id)):$((NSXD_PEER_BASE + id))" "$@" \
        >>"$root/x$id.log" 2>&1 &
    extra_pids+=($!)
    echo $!
}
wait_url() {   # url: until it answers at all (10 s)
    local i
    for ((i = 0; i < 100; i++)); do
        curl -s -m 1 ${copts[@]+"${copts[@]}"} -o /dev/null "$1" && return 0
        sleep 0.1
    done
    return 1
}
health_count() {   # url of a node's /metrics -> how many GET /health it served
    curl -s -m 5 ${copts[@]+"${copts[@]}"} "$1/metrics" |
        awk '$1 ~ /^nsxd_http_requests_total\{route="\/health"/ { n += $2 } END { print n + 0 }'
}

stop_pid() {   # pid: SIGTERM, wait (5 s), then KILL
    kill -TERM "$1" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null
    return 0
}
mkdir -p "$NSXD_DATA"
S=$root/secrets
"$here/deploy/gen-secrets.sh" "$S" >/dev/null || { fail "gen-secrets.sh makes a CA, a certificate, tokens"; exit 1; }
ADMIN=$(cat "$S/admin.token"); WRITE=$(cat "$S/write.token"); READ=$(cat "$S/read.token")

echo "== defaults: no tokens, plain HTTP (started with a name server that never answers for *.slow.invalid)"
asan_opts=${ASAN_OPTIONS:-}
ASAN_OPTIONS="${asan_opts:+$asan_opts:}verify_asan_link_order=0" LD_PRELOAD="$slowdns" \
    "$lc" start 3 >/dev/null || { fail "cluster starts"; exit 1; }
L=$(leader_of http 1 2 3)
check "a leader is elected (n$L)" test -n "$L"
F=$((L % 3 + 1))
req POST "$(http "$L")/kv/put" '{"key": "open", "value": "yes"}'
check "PUT without a token -> 200 (the prototype's curl lines work)" test "$status" = 200
req GET "$(http "$L")/kv/get?key=open"
check "GET without a token -> 200" test "$status:$(field .value)" = "200:yes"
req GET "$(http "$F")/health"
check "/health says: no tokens, no TLS, admin on loopback" \
    test "$(field '.security | "\(.http_auth) \(.tls) \(.admin) \(.health) \(.peer_auth)"')" = "none false loopback open curve"
check "/health's warnings name the open API and plaintext HTTP" \
    test "$(field '[.security.warnings[] | select(test("auth-file|tls-cert"))] | length')" = 2
check "the node logged them at start" grep -q "security: no --auth-file" "$NSXD_DATA/n$F.log"

echo "== /raft/join: leadership before anything is fetched"
# n4 starts empty and waits to be added; its /metrics counts the /health
# requests it serves, so a fetch shows there.
n4=$(start_extra 4 --http-listen "$(ep 4)")
wait_url "$(http 4)/health"
h0=$(health_count "$(http 4)")
req POST "$(http "$F")/raft/join" "{\"peer\": \"$(ep 4)\"}"
check "join on a follower -> 409 not_leader naming the leader" \
    test "$status:$(field .error):$(field .leader)" = "409:not_leader:$(ep "$L")"
h1=$(health_count "$(http 4)")
check "... and the follower did not fetch n4's /health ($h0 -> $h1)" test "$h0" = "$h1"
req POST "$(http "$L")/raft/join" "{\"peer\": \"$(ep 4)\"}"
h2=$(health_count "$(http 4)")
check "join on the leader -> 200, after fetching n4's /health ($h1 -> $h2)" \
    test "$status" = 200 -a "$h2" -gt "$h1"
req POST "$(http "$L")/raft/remove" '{"id": 4}'
check "remove n4 again -> 200" test "$status" = 200
stop_pid "$n4"
for peer in 'http://127.0.0.1:1' '127.0.0.1:1/health' 'user@127.0.0.1:1' 'node4' 'node4:0' \
    'node4:99999' '[::1]:80' 'no de:80' '127.0.0.1:1?x=1' ''; do
    req POST "$(http "$L")/raft/join" "{\"peer\": \"$peer\"}"
    check "join peer '$peer' -> 400 bad_request (JSON)" \
        bash -c '[ "$1:$2" = "400:bad_request" ]' _ "$status" "$(field .error)"
done
req POST "$(http "$L")/raft/join" '{"peer": "nosuch.invalid:8000"}'
check "join of a name that does not exist -> 502 peer_unreachable ($(field .detail))" \
    test "$status:$(field .error)" = "502:peer_unreachable"
t0=$(date +%s%N)
req POST "$(http "$L")/raft/join" '{"peer": "n5.slow.invalid:8000"}'
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "join of a name whose lookup hangs -> 502 within the 2 s deadline (took $ms ms: $(field .detail))" \
    test "$status:$(field .error)" = "502:peer_unreachable" -a "$ms" -lt 2600
req GET "$(http "$L")/health"
check "the leader still answers" test "$status" = 200

echo "== admin routes from off loopback"
ip=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' | grep -v '^127\.' | head -1)
if [ -z "$ip" ]; then
    echo "SKIPPED: no non-loopback IPv4 address on this machine"
else
    start_extra 7 --http-listen "$ip:$((NSXD_HTTP_BASE + 7))" \
        --cluster "7=tcp://127.0.0.17:$((NSXD_PEER_BASE + 7))@$ip:$((NSXD_HTTP_BASE + 7))" >/dev/null
    wait_url "http://$ip:$((NSXD_HTTP_BASE + 7))/health"
    req POST "http://$ip:$((NSXD_HTTP_BASE + 7))/raft/join" '{"peer": "x:1"}'
    check "join from $ip (not loopback) without --open-admin -> 403 forbidden" \
        test "$status:$(field .error)" = "403:forbidden"
    check "... as JSON" is_json
    req POST "http://$ip:$((NSXD_HTTP_BASE + 7))/raft/remove" '{"id": 9}'
    check "remove from $ip -> 403 forbidden" test "$status:$(field .error)" = "403:forbidden"
    req POST "http://$ip:$((NSXD_HTTP_BASE + 7))/kv/put" '{"key": "k", "value": "v"}'
    check "PUT from $ip -> not refused (KV open without --auth-file): $status" test "$status" != 403
    stop_pid "${extra_pids[-1]}"
    start_extra 7 --http-listen "$ip:$((NSXD_HTTP_BASE + 7))" --open-admin \
        --cluster "7=tcp://127.0.0.17:$((NSXD_PEER_BASE + 7))@$ip:$((NSXD_HTTP_BASE + 7))" >/dev/null
    wait_url "http://$ip:$((NSXD_HTTP_BASE + 7))/health"
    req POST "http://$ip:$((NSXD_HTTP_BASE + 7))/raft/join" '{"peer": "bad peer"}'
    check "with --open-admin: join from $ip passes the access check (400 for the peer, not 403)" \
        test "$status" = 400
    req GET "http://$ip:$((NSXD_HTTP_BASE + 7))/health"
    check "with --open-admin: /health says admin open, and warns" \
        test "$(field .security.admin):$(field '[.security.warnings[] | select(startswith("--open-admin"))] | length')" = "open:1"
    check "with --open-admin: logged as a warning at start" grep -q "WARN.*security: --open-admin" "$root/x7.log"
fi

echo "== 200 clients sending their bodies one byte a second"
out=$("$trickle" 127.0.0.1 $((NSXD_HTTP_BASE + L)) --clients 200 --mode body --seconds 8 \
    --probe-every-ms 50 --probe-timeout-ms 2000 --max-probe-ms 100); rc=$?
echo "$out" | sed 's/^/  /'
check "/health answered every probe within 100 ms while 200 clients trickled bodies" test $rc = 0
check "the slow bodies were refused at once (503 busy) or cut off at the 5 s deadline (408)" \
    bash -c 'grep -q " 0 closed without an answer; 0 still open" <<<"$1"' _ "$out"
out=$("$trickle" 127.0.0.1 $((NSXD_HTTP_BASE + L)) --clients 200 --mode headers --seconds 5 \
    --probe-every-ms 50 --probe-timeout-ms 3000 --max-probe-ms 2500); rc=$?
echo "$out" | sed 's/^/  /'
check "slow header blocks: every probe answered, none later than 2 read slices (2 s)" test $rc = 0
req POST "$(http "$L")/kv/put" '{"key": "after-trickle", "value": "ok"}'
check "writes still work after the slow clients" test "$status" = 200
"$lc" stop >/dev/null

echo "== tokens and TLS"
export NSXD_EXTRA_ARGS="--auth-file $S/tokens --tls-cert $S/node.pem --tls-key $S/node.key --tls-ca $S/ca.pem --join-token-file $S/admin.token"
export NSXD_SCHEME=https NSXD_CURL_OPTS="--cacert $S/ca.pem"
export NSXD_DATA=$root/secure
"$lc" start 3 >/dev/null || { fail "secure cluster starts"; exit 1; }
copts=(--cacert "$S/ca.pem")
L=$(leader_of https 1 2 3)
check "a leader is elected over TLS (n$L)" test -n "$L"
F=$((L % 3 + 1))
req GET "$(https "$L")/health"
check "/health open without a token; says tokens, TLS, admin by token, no warnings" \
    test "$status:$(field '.security | "\(.http_auth) \(.tls) \(.admin) \(.warnings | length)"')" = "200:tokens true tokens 0"
# (read whole, then searched: grep -q would stop reading early, and under
# pipefail curl's failed write would fail the check)
metrics=$(curl -sS -m 5 "${copts[@]}" "$(https "$L")/metrics")
check "/metrics open without a token" grep -q '^nsxd_raft_term ' <<<"$metrics"
# role: expected status per call (put, get, delete, join, remove)
declare -A want=(
    [none]="401 401 401 401 401" [wrong]="401 401 401 401 401"
    [read]="403 200 403 403 403" [write]="200 200 200 403 403"
    [admin]="200 200 200 400 404")
auth=(-H "Authorization: Bearer $WRITE")
req POST "$(https "$L")/kv/put" '{"key": "readable", "value": "v"}'
for who in none wrong read write admin; do
    case $who in
    none) auth=() ;;
    wrong) auth=(-H "Authorization: Bearer 0123456789abcdef0123456789abcdef") ;;
    read) auth=(-H "Authorization: Bearer $READ") ;;
    write) auth=(-H "Authorization: Bearer $WRITE") ;;
    admin) auth=(-H "Authorization: Bearer $ADMIN") ;;
    esac
    got=()
    req POST "$(https "$L")/kv/put" "{\"key\": \"$who\", \"value\": \"v\"}"; got+=("$status")
    j1=$(is_json && echo y); w1=$(grep -ci '^www-authenticate: bearer' <<<"$headers")
    req GET "$(https "$L")/kv/get?key=readable"; got+=("$status")
    req DELETE "$(https "$L")/kv/delete" '{"key": "nothing"}'; got+=("$status")
    # a bad peer: 400 once past the access check
    req POST "$(https "$L")/raft/join" '{"peer": "bad peer"}'; got+=("$status")
    req POST "$(https "$L")/raft/remove" '{"id": 77}'; got+=("$status")
    check "token $who: put get delete join remove -> ${got[*]} (want ${want[$who]})" \
        test "${got[*]}" = "${want[$who]}"
    if [ "$who" = none ] || [ "$who" = wrong ]; then
        check "token $who: 401 is JSON {\"error\": \"unauthorized\"} with WWW-Authenticate: Bearer" \
            test "$j1:$w1" = "y:1"
    fi
done
auth=(-H "Authorization: Bearer $READ")
req POST "$(https "$L")/kv/put" '{"key": "k", "value": "v"}'
check "a role too low -> 403 {\"error\": \"forbidden\"} naming the roles" \
    test "$(field .error):$(field '.detail | test("read.*write")')" = "forbidden:true"
auth=(-H "Authorization: Basic YWRtaW46YWRtaW4=")
req GET "$(https "$L")/kv/get?key=k"
check "an Authorization header that is not Bearer -> 401" test "$status:$(field .error)" = "401:unauthorized"
auth=(-H "Authorization: Bearer ${ADMIN:0:20}")
req GET "$(https "$L")/kv/get?key=k"
check "a prefix of a real token -> 401" test "$status" = 401
auth=()
for n in 1 2 3; do
    if grep -q -e "$ADMIN" -e "$WRITE" -e "$READ" "$NSXD_DATA/n$n.log"; then
        fail "n$n's log holds a token"
    fi
done
pass "no token appears in any node's log"

echo "== TLS with curl and nsxctl"
curl -sS -m 5 "$(https "$L")/health" >/dev/null 2>&1; rc=$?
check "curl without the CA refuses the server's certificate (exit $rc)" test $rc = 60
curl -sS -m 5 --cacert "$S/ca.pem" --resolve "evil.example:$((NSXD_HTTP_BASE + L)):127.0.0.1" \
    "https://evil.example:$((NSXD_HTTP_BASE + L))/health" >/dev/null 2>&1; rc=$?
check "curl to a name the certificate does not hold fails (exit $rc)" test $rc = 60
curl -sS -m 5 --cacert "$S/ca.pem" "https://localhost:$((NSXD_HTTP_BASE + L))/health" >/dev/null 2>&1
check "curl to localhost (in the certificate) works" test $? = 0
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$(http "$L")/health" 2>/dev/null)
check "plain HTTP to the TLS port gets no answer (got '$code')" test "$code" != 200
eps="$(ep "$F"),$(ep "$L")"
out=$("$ctl" --endpoints "$eps" --cacert "$S/ca.pem" --token "$WRITE" put tls-key "over tls"); rc=$?
check "nsxctl --cacert --token put through a follower follows the hint over TLS ($rc $out)" test "$rc:$out" = "0:OK"
out=$(NSXCTL_TOKEN=$READ NSXCTL_CACERT=$S/ca.pem "$ctl" --endpoints "https://$(ep "$F")" get tls-key); rc=$?
check "nsxctl with \$NSXCTL_TOKEN and https:// endpoints gets it ($rc $out)" test "$rc:$out" = "0:over tls"
out=$("$ctl" --endpoints "https://$(ep "$L")" --token "$READ" get tls-key 2>&1); rc=$?
check "nsxctl without the CA: not trusted, exit 3 ($out)" \
    bash -c '[ "$1" = 3 ] && grep -q "not trusted" <<<"$2"' _ "$rc" "$out"
"$here/deploy/gen-secrets.sh" "$root/other" >/dev/null
out=$("$ctl" --endpoints "$(ep "$L")" --cacert "$root/other/ca.pem" --token "$READ" get tls-key 2>&1); rc=$?
check "nsxctl with another CA: not trusted, exit 3" \
    bash -c '[ "$1" = 3 ] && grep -q "not trusted" <<<"$2"' _ "$rc" "$out"
"$ctl" --endpoints "$(ep "$L")" --cacert "$S/ca.pem" --token "$READ" put x y 2>/dev/null; rc=$?
check "nsxctl with a read token: put refused, exit 4" test $rc = 4
"$ctl" --endpoints "$(ep "$L")" --cacert "$S/ca.pem" get tls-key 2>/dev/null; rc=$?
check "nsxctl without a token: refused, exit 4" test $rc = 4

echo "== a 4th node joins over TLS with the admin token of --join-token-file"
"$lc" join 4 >/dev/null
ok=0
for i in $(seq 1 100); do
    req GET "$(https "$L")/health"
    if [ "$(field '[.members[] | select(.id == 4 and .voter)] | length')" = 1 ]; then ok=1; break; fi
    sleep 0.1
done
check "n4 joined (the leader fetched its /health over TLS) and is a voter" test $ok = 1
echo "wrong" >"$root/wrong.token"
NSXD_EXTRA_ARGS="--tls-cert $S/node.pem --tls-key $S/node.key --tls-ca $S/ca.pem --join-token-file $root/wrong.token" \
    "$lc" join 5 >/dev/null 2>&1
for i in $(seq 1 30); do grep -q "join through.*401" "$NSXD_DATA/n5.log" 2>/dev/null && break; sleep 0.1; done
check "a node with a wrong join token is refused (401) and says so" grep -q "join through.*401" "$NSXD_DATA/n5.log"
req GET "$(https "$L")/health"
check "... and is not a member" test "$(field '[.members[] | select(.id == 5)] | length')" = 0
"$lc" stop >/dev/null
unset NSXD_EXTRA_ARGS NSXD_SCHEME NSXD_CURL_OPTS
copts=()

echo "== --auth-health closes /health and /metrics; the token file is checked"
start_extra 8 --http-listen "$(ep 8)" --auth-file "$S/tokens" --auth-health \
    --cluster "8=tcp://127.0.0.18:$((NSXD_PEER_BASE + 8))@$(ep 8)" >/dev/null
wait_url "$(http 8)/health"
auth=()
req GET "$(http 8)/health"
check "--auth-health: /health without a token -> 401" test "$status:$(field .error)" = "401:unauthorized"
req GET "$(http 8)/metrics"
check "--auth-health: /metrics without a token -> 401" test "$status" = 401
auth=(-H "Authorization: Bearer $READ")
req GET "$(http 8)/health"
check "--auth-health: a read token opens /health, which says so" \
    test "$status:$(field .security.health)" = "200:tokens"
auth=()
bad=$root/bad-tokens
printf 'admin %s\nsuperuser %s\n' "$ADMIN" "$WRITE" >"$bad"; chmod 600 "$bad"
out=$(timeout 10 "$NSXD_BIN" --id 9 --insecure-peers --auth-file "$bad" --data-dir "$root/x9" 2>&1); rc=$?
check "a malformed token file: nsxd refuses to start, naming the line ($out)" \
    bash -c '[ "$1" = 2 ] && grep -q "line 2" <<<"$2"' _ "$rc" "$out"
check "... without quoting the token" bash -c '! grep -q -e "$1" -e "$2" <<<"$3"' _ "$ADMIN" "$WRITE" "$out"
printf 'read short\n' >"$bad"
out=$(timeout 10 "$NSXD_BIN" --id 9 --insecure-peers --auth-file "$bad" --data-dir "$root/x9" 2>&1); rc=$?
check "a token under 16 characters is refused ($out)" test $rc = 2
printf 'read %s\nwrite %s\n' "$READ" "$READ" >"$bad"
out=$(timeout 10 "$NSXD_BIN" --id 9 --insecure-peers --auth-file "$bad" --data-dir "$root/x9" 2>&1); rc=$?
check "a token listed twice is refused ($out)" test $rc = 2
out=$(timeout 10 "$NSXD_BIN" --id 9 --insecure-peers --auth-file "$S/tokens" --open-admin --data-dir "$root/x9" 2>&1); rc=$?
check "--open-admin with --auth-file is refused ($out)" test $rc = 2
out=$(timeout 10 "$NSXD_BIN" --id 9 --insecure-peers --auth-health --data-dir "$root/x9" 2>&1); rc=$?
check "--auth-health without --auth-file is refused" test $rc = 2
out=$(timeout 10 "$NSXD_BIN" --id 9 --insecure-peers --tls-cert "$S/node.pem" --tls-key "$root/other/node.key" --data-dir "$root/x9" 2>&1); rc=$?
check "a key that does not match the certificate is refused ($out)" test $rc = 2
loose=$root/loose-tokens
cp "$S/tokens" "$loose"; chmod 644 "$loose"
start_extra 6 --http-listen "$(ep 6)" --auth-file "$loose" \
    --cluster "6=tcp://127.0.0.16:$((NSXD_PEER_BASE + 6))@$(ep 6)" >/dev/null
wait_url "$(http 6)/health"
req GET "$(http 6)/health"
check "a token file readable by others: warned in the log and in /health" \
    bash -c 'grep -q "auth-file.*readable by group or others" "$1" && [ "$2" = 1 ]' _ \
    "$root/x6.log" "$(field '[.security.warnings[] | select(test("readable"))] | length')"

echo "== every node stops cleanly; no sanitizer report in any log"
NSXD_DATA=$root/open "$lc" stop >/dev/null 2>&1
NSXD_DATA=$root/secure "$lc" stop >/dev/null 2>&1
for p in ${extra_pids[@]+"${extra_pids[@]}"}; do kill -TERM "$p" 2>/dev/null; done
for p in ${extra_pids[@]+"${extra_pids[@]}"}; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done
reports=$(grep -l -E "AddressSanitizer|LeakSanitizer|runtime error:" "$root"/*.log "$root"/*/*.log 2>/dev/null)
check "no ASan/UBSan/LSan report${reports:+ (see $reports)}" test -z "$reports"

echo
if [ $fails -eq 0 ]; then echo "http_security_test: all passed"; else echo "http_security_test: $fails FAILED"; fi
exit $(( fails > 0 ))
