#!/usr/bin/env bash
# Real nsxd processes on loopback: the HTTP API and its errors, leader
# hints, kill -9 of the leader, restart and catch-up, losing quorum and
# getting it back, membership changes, hostile peer and HTTP traffic.
#
#   tests/cluster/cluster_test.sh [NSXD_BINARY]
#
# Each check prints PASS or FAIL; the script exits non-zero on any FAIL and
# stops every node it started (only those: by the PIDs it recorded).
set -uo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
export NSXD_BIN=${1:-$here/build/nsxd}
export NSXD_DATA=$(mktemp -d /tmp/nsxd-test.XXXXXX)
export NSXD_HTTP_BASE=${NSXD_HTTP_BASE:-18000}
export NSXD_PEER_BASE=${NSXD_PEER_BASE:-19000}
export NSXD_EXTRA_ARGS=${NSXD_EXTRA_ARGS:-"--request-timeout-ms 2000"}
# the cluster secret local-cluster.sh makes: nsxctl trace needs it
export NSXCTL_SECRET_FILE=$NSXD_DATA/cluster.key
lc="$here/deploy/local-cluster.sh"
garbage=${PEER_GARBAGE:-$here/build/peer_garbage}
. "$here/tests/lib/lib.sh"
trap 'lib_cleanup_cluster "$NSXD_DATA"' EXIT

acked=()   # keys whose writes were acknowledged
write() {   # node key value -> 0 if acknowledged
    req POST "$1" /kv/put "{\"key\":\"$2\",\"value\":\"$3\"}"
    if [ "$status" = 200 ]; then acked+=("$2=$3"); return 0; fi
    return 1
}
all_acked_readable() {   # (any node): every acknowledged write, read back
    # linearizably through nsxctl, which follows leader hints. Leadership may
    # still settle after a fault: retry while the cluster is unavailable
    # (exit 3); only "not found" or a wrong value means the write is lost.
    local kv k v i got rc eps
    eps=$(eps 1 2 3 4)
    for kv in "${acked[@]}"; do
        k=${kv%%=*}; v=${kv#*=}
        for ((i = 0; i < 50; i++)); do
            got=$("$here/build/nsxctl" --endpoints "$eps" --timeout 2000 get "$k" 2>/dev/null); rc=$?
            [ $rc -ne 3 ] && break
            sleep 0.2
        done
        if [ "$got" != "$v" ]; then
            echo "  key $k: got '$got' (nsxctl exit $rc), want '$v'"
            return 1
        fi
    done
}

echo "== starting 3 nodes ($NSXD_BIN)"
"$lc" start 3 || { fail "cluster starts"; exit 1; }
L=$(leader_of 1 2 3)
check "a leader is elected (n$L)" test -n "$L"
F=$(( L % 3 + 1 ))

echo "== the API"
req POST "$L" /kv/put '{"key": "foo", "value": "bar"}'
check "PUT on the leader -> 200" test "$status" = 200
acked+=("foo=bar")
req GET "$L" '/kv/get?key=foo'
check "GET -> 200 {key, value}" test "$status:$(field .key):$(field .value)" = "200:foo:bar"
req GET "$L" '/kv/get?key=nope'
check "GET of a missing key -> 404 not_found" test "$status:$(field .error)" = "404:not_found"
req POST "$F" /kv/put '{"key": "x", "value": "y"}'
check "PUT on a follower -> 409 naming the leader" \
    test "$status:$(field .error):$(field .leader)" = "409:not_leader:127.0.0.1:$((NSXD_HTTP_BASE + L))"
req POST "$F" '/kv/put?forward=true' '{"key": "fw", "value": "via-follower"}'
check "PUT on a follower with ?forward=true -> 200, the leader's reply" \
    test "$status:$(field .ok):$(field .key)" = "200:true:fw"
req GET "$L" '/kv/get?key=fw'
check "the forwarded PUT is on the leader" test "$status:$(field .value)" = "200:via-follower"
req DELETE "$F" '/kv/delete?forward=yes-please' '{"key": "fw"}'
check "?forward=yes-please -> 400 bad_request" test "$status:$(field .error)" = "400:bad_request"
req GET "$F" '/kv/get?key=foo'
check "GET on a follower -> 200, linearizable (read index from the leader)" \
    test "$status:$(field .value):$(field .stale)" = "200:bar:null"
sleep 0.3
req GET "$F" '/kv/get?key=foo&stale=true'
check "stale GET on a follower -> 200, says stale" test "$status:$(field .value):$(field .stale)" = "200:bar:true"
req DELETE "$L" /kv/delete '{"key": "foo"}'
check "DELETE an existing key -> 200 deleted:true" test "$status:$(field .deleted)" = "200:true"
req DELETE "$L" /kv/delete '{"key": "foo"}'
check "DELETE again -> 200 deleted:false" test "$status:$(field .deleted)" = "200:false"
acked=()
req GET "$L" /health
check "health shows role, term, commit, members" \
    test "$(field .role):$(field '.members | length'):$(field '.commit > 0')" = "leader:3:true"
req POST "$L" /kv/put '{"key": "a"'
check "malformed JSON -> 400" test "$status:$(field .error)" = "400:bad_request"
req POST "$L" /kv/put '{"key": 5, "value": "v"}'
check "non-string key -> 400" test "$status" = 400
req POST "$L" /kv/put '{"key": "", "value": "v"}'
check "empty key -> 400" test "$status" = 400
req POST "$L" /kv/put '{"value": "v"}'
check "missing key -> 400" test "$status" = 400
req GET "$L" /kv/get
check "GET without ?key= -> 400" test "$status" = 400
req GET "$L" /nope
check "unknown path -> 404" test "$status" = 404
req GET "$L" /kv/put
check "wrong method -> 405" test "$status" = 405
{ printf '{"key":"k","value":"'; head -c 1100000 /dev/zero | tr '\0' 'a'; printf '"}'; } >"$NSXD_DATA/big.json"
status=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary "@$NSXD_DATA/big.json" "$(url "$L")/kv/put")
check "body over 1 MiB -> 413" test "$status" = 413
echo "== nsxctl"
ctl="$here/build/nsxctl --endpoints 127.0.0.1:$((NSXD_HTTP_BASE + F)),127.0.0.1:$((NSXD_HTTP_BASE + L))"
out=$($ctl put ctl-key "ctl value"); rc=$?
check "nsxctl put through a follower follows the hint (exit $rc, '$out')" test "$rc:$out" = "0:OK"
[ $rc = 0 ] && acked+=("ctl-key=ctl value")
out=$($ctl get ctl-key); rc=$?
check "nsxctl get prints the value" test "$rc:$out" = "0:ctl value"
$ctl get no-such-key 2>/dev/null; rc=$?
check "nsxctl get of a missing key exits 1" test $rc = 1
out=$($ctl --json get ctl-key)
check "nsxctl --json prints the server's JSON" test "$(jq -r .value <<<"$out")" = "ctl value"
$ctl put "" x 2>/dev/null; rc=$?
check "nsxctl refused request exits 4" test $rc = 4
"$here/build/nsxctl" --endpoints 127.0.0.1:1 get x 2>/dev/null; rc=$?
check "nsxctl with no reachable endpoint exits 3" test $rc = 3
check "nsxctl status lists every node" test "$($ctl status | wc -l)" = 2
for i in $(seq 1 20); do write "$L" "k$i" "v$i" || true; done
check "20 more writes acknowledged" test ${#acked[@]} -eq 21

echo "== GET /metrics"
promcheck="$here/build/promcheck"
promtool="$here/build/tools/promtool"
scrape() { curl -sS -m 5 "$(url "$1")/metrics" 2>/dev/null; }
# mval TEXT SERIES -> the sample's value (exact series match), or empty
mval() { awk -v s="$2" '$1 == s { print $2 }' <<<"$1"; }
for n in 1 2 3; do
    out=$(scrape "$n" | "$promcheck")
    check "n$n's /metrics passes the strict check ($out)" test "${out%%,*}" = "promcheck: ok"
    if [ -x "$promtool" ]; then
        scrape "$n" | "$promtool" check metrics
        check "n$n's /metrics passes promtool check metrics" test $? = 0
    fi
done
[ -x "$promtool" ] || echo "SKIPPED promtool check metrics (no build/tools/promtool)"
put200='nsxd_http_requests_total{route="/kv/put",code="200"}'
m0=$(scrape "$L")
for i in $(seq 1 10); do write "$L" "m$i" "v$i" || true; done
req POST "$F" /kv/put '{"key": "x", "value": "y"}'
m1=$(scrape "$L")
mf=$(scrape "$F")
p0=$(mval "$m0" "$put200"); p1=$(mval "$m1" "$put200")
check "the leader counted the 10 PUTs ($p0 -> $p1)" test $((p1 - p0)) = 10
c0=$(mval "$m0" nsxd_raft_proposals_committed_total); c1=$(mval "$m1" nsxd_raft_proposals_committed_total)
check "proposals committed moved by 10 ($c0 -> $c1)" test $((c1 - c0)) = 10
f0=$(mval "$m0" nsxd_storage_fsync_duration_seconds_count); f1=$(mval "$m1" nsxd_storage_fsync_duration_seconds_count)
check "the fsync histogram moved ($f0 -> $f1 fsyncs)" test "$f1" -gt "$f0"
i0=$(mval "$m0" nsxd_raft_commit_index); i1=$(mval "$m1" nsxd_raft_commit_index)
check "the commit index moved by at least 10 ($i0 -> $i1)" test $((i1 - i0)) -ge 10
check "role: n$L is_leader 1, n$F is_leader 0 and knows n$L" \
    test "$(mval "$m1" nsxd_raft_is_leader):$(mval "$mf" nsxd_raft_is_leader):$(mval "$mf" nsxd_raft_leader_id)" = "1:0:$L"
check "the follower counted its 409" \
    test -n "$(mval "$mf" 'nsxd_http_requests_total{route="/kv/put",code="409"}')"
check "the leader shows 2 peers' match index and lag" \
    test "$(grep -c '^nsxd_raft_peer_lag_entries{' <<<"$m1"):$(grep -c '^nsxd_raft_peer_match_index{' <<<"$m1")" = "2:2"
check "LevelDB size is reported" test "$(mval "$m1" nsxd_storage_leveldb_bytes)" -gt 0

echo "== kill -9 the leader (watched through the monitoring sockets)"
mons=""
for n in 1 2 3; do mons+="${mons:+,}tcp://127.0.0.1:$((NSXD_PEER_BASE + 100 + n))"; done
"$here/build/nsxctl" --endpoints "$mons" trace --json --duration-ms 5000 >"$NSXD_DATA/trace.jsonl" 2>&1 &
tracer=$!
sleep 0.5
pid=$(cat "$NSXD_DATA/n$L.pid")
t0=$(date +%s%N)
kill -9 "$pid"
rest=$(echo 1 2 3 | tr ' ' '\n' | grep -v "^$L$" | tr '\n' ' ')
L2=$(leader_of $rest)
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
check "a new leader (n$L2) within 2 s (took $ms ms)" test -n "$L2" -a "$ms" -lt 2000
wait $tracer
# role: a = 3 is leader; election_start/won: a = 0 is the real election
seqs=$(jq -r --argjson n "$L2" 'select(.node == $n and
    ((.kind == "election_start" and .a == 0) or (.kind == "election_won" and .a == 0)
     or (.kind == "role" and .a == 3))) | "\(.kind) \(.seq)"' "$NSXD_DATA/trace.jsonl" | tail -3 | tr '\n' ' ')
check "the trace shows n$L2's election, won, then leader, in order ($seqs)" \
    bash -c 'set -- $0; [ "$1 $3 $5" = "election_start election_won role" ] && [ $2 -lt $4 ] && [ $4 -lt $6 ]' "$seqs"
check "the trace has HTTP requests and applies too ($(jq -r 'select(.kind == "http" or .kind == "apply") | .kind' "$NSXD_DATA/trace.jsonl" | sort | uniq -c | tr -s ' \n' ' '))" \
    test "$(jq -s '[.[] | select(.kind == "http")] | length > 0' "$NSXD_DATA/trace.jsonl"):$(jq -s '[.[] | select(.kind == "apply")] | length > 0' "$NSXD_DATA/trace.jsonl")" = true:true
check "every node's events arrive in seq order" \
    test "$(jq -s 'group_by(.node) | map(map(.seq) | . == sort) | all' "$NSXD_DATA/trace.jsonl")" = true
m2=$(scrape "$L2")
check "n$L2's /metrics: leader, with a real election won and a leader change" \
    test "$(mval "$m2" nsxd_raft_is_leader):$(( $(mval "$m2" 'nsxd_raft_elections_won_total{kind="vote"}') >= 1 )):$(( $(mval "$m2" nsxd_raft_leader_changes_total) >= 2 ))" = "1:1:1"
check "every acknowledged write is readable on the new leader" all_acked_readable "$L2"
for i in $(seq 21 30); do write "$L2" "k$i" "v$i" || true; done
check "writes go on with 2 of 3" test ${#acked[@]} -eq 41

echo "== restart the old leader: it catches up"
"$lc" restart "$L" >/dev/null
has_k30() { req GET "$L" "/kv/get?key=k30&stale=true"; [ "$status" = 200 ]; }
check "restarted n$L has the writes made while it was down" wait_for 5 has_k30

echo "== 2 of 3 down: no quorum"
others=$(echo 1 2 3 | tr ' ' '\n' | grep -v "^$L2$" | tr '\n' ' ')
for n in $others; do "$lc" kill "$n" >/dev/null; done
sleep 2.5
t0=$(date +%s%N)
req POST "$L2" /kv/put '{"key": "lost", "value": "x"}'
t1=$(date +%s%N)
check "a write with 1 of 3 up -> 503 (got $status $(field .error), $(( (t1 - t0) / 1000000 )) ms)" \
    test "$status" = 503
req GET "$L2" '/kv/get?key=k1'
check "a linearizable read with 1 of 3 up -> 503" test "$status" = 503
req GET "$L2" '/kv/get?key=k1&stale=true'
check "a stale read still answers" test "$status:$(field .stale)" = "200:true"
for n in $others; do "$lc" restart "$n" >/dev/null; done
L3=$(leader_of 1 2 3)
check "after recovery there is a leader (n$L3)" test -n "$L3"
check "no acknowledged write was lost" all_acked_readable "$L3"

echo "== membership: join a 4th node, remove another"
"$lc" join 4 >/dev/null
n4_voter() { [ "$(hfield "$L3" '[.members[] | select(.id == 4 and .voter)] | length')" = 1 ]; }
check "n4 joined and became a voter" wait_for 10 n4_voter
req POST "$L3" /raft/join "{\"peer\": \"127.0.0.1:$((NSXD_HTTP_BASE + 4))\"}"
check "joining again is a no-op -> 200" test "$status" = 200
victim=$(echo 1 2 3 | tr ' ' '\n' | grep -v "^$L3$" | head -1)
req POST "$L3" /raft/remove "{\"peer\": \"127.0.0.1:$((NSXD_HTTP_BASE + victim))\"}"
check "remove n$victim -> 200" test "$status" = 200
req GET "$L3" /health
check "the configuration has 3 members without n$victim" \
    test "$(field '[.members[].id] | sort | map(tostring) | join(",")')" = "$(echo 1 2 3 4 | tr ' ' '\n' | grep -v "^$victim$" | paste -sd,)"
write "$L3" after-join yes
check "writes work in the new configuration" test "$status" = 200

echo "== hostile traffic"
members=$(echo 1 2 3 4 | tr ' ' '\n' | grep -v "^$victim$" | tr '\n' ' ')
if [ -x "$garbage" ]; then
    for n in $members; do
        # past the CURVE handshake with a valid key, to the decoders
        "$garbage" "tcp://127.0.0.$((10 + n)):$((NSXD_PEER_BASE + n))" 1 "$NSXD_DATA/cluster.key" "$n" >/dev/null
    done
fi
for n in $members; do
    head -c 100000 /dev/urandom >"/dev/tcp/127.0.0.$((10 + n))/$((NSXD_PEER_BASE + n))" 2>/dev/null || true
done
huge=$(head -c 100000 /dev/zero | tr '\0' 'h')
curl -sS -m 5 -o /dev/null -H "X-Huge: $huge" "$(url "$L3")/health" 2>/dev/null
printf 'POST /kv/put HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"key":' |
    timeout 5 bash -c "cat >/dev/tcp/127.0.0.1/$((NSXD_HTTP_BASE + L3))" 2>/dev/null || true
req POST "$L3" /kv/put $'{"key": "\xff\xfe", "value": "v"}'
check "invalid UTF-8 in JSON -> 400" test "$status" = 400
head -c 5000 /dev/urandom >"/dev/tcp/127.0.0.1/$((NSXD_HTTP_BASE + L3))" 2>/dev/null || true
up=0
for n in $members; do
    kill -0 "$(cat "$NSXD_DATA/n$n.pid")" 2>/dev/null && up=$((up + 1))
done
check "every node is still up after hostile traffic ($up of 3)" test $up -eq 3
[ $up -eq 3 ] || "$lc" status
L4=$(leader_of $members)
check "the cluster still has a leader" test -n "$L4"
write "$L4" after-garbage yes
check "and still acknowledges writes" test "$status" = 200
check "every acknowledged write is still there" all_acked_readable "$L4"

echo "== graceful stop"
pid=$(cat "$NSXD_DATA/n$L4.pid")
kill -TERM "$pid"
gone() { ! kill -0 "$pid" 2>/dev/null; }
wait_for 5 gone
wait "$pid" 2>/dev/null
check "SIGTERM: the leader exits" bash -c "! kill -0 $pid 2>/dev/null"
grep -q "transferring leadership" "$NSXD_DATA/n$L4.log"
check "SIGTERM: the leader handed over first" test $? = 0

echo "== every node stops cleanly; no sanitizer report in any log"
"$lc" stop >/dev/null 2>&1
reports=$(grep -l -E "AddressSanitizer|LeakSanitizer|runtime error:" "$NSXD_DATA"/n*.log 2>/dev/null)
check "no ASan/UBSan/LSan report${reports:+ (see $reports)}" test -z "$reports"

lib_summary cluster_test
