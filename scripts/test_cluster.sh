#!/usr/bin/env bash
# The prototype's cluster test, against the docker compose cluster:
#   1. bring the cluster up; 2. find the leader; 3. write a value;
#   4. stop the leader and check that a new one is elected;
#   5. check the value can be read after recovery;
#   6. restart the stopped node and check that it caught up.
# Each step prints PASS or FAIL; exits non-zero on any FAIL; tears down
# what it started (containers and volumes of its compose project).
#
#   scripts/test_cluster.sh            (from the repository root)
#   COMPOSE_PROJECT_NAME=x scripts/test_cluster.sh
set -uo pipefail
cd "$(dirname "$0")/.."
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-nsxd}
if docker compose version >/dev/null 2>&1; then dc=(docker compose); else dc=(docker-compose); fi
fails=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
teardown() { "${dc[@]}" --profile join down -v --remove-orphans >/dev/null 2>&1; }
trap teardown EXIT

health() { curl -fsS -m 2 "localhost:800$1/health" 2>/dev/null; }
leader() {   # prints the leader's node number as the nodes report it
    local n h
    for n in "$@"; do
        h=$(health "$n") || continue
        if [ "$(jq -r .role <<<"$h")" = leader ]; then echo "$n"; return; fi
    done
}
wait_leader() {   # nodes... -> leader within 15 s
    local i l
    for ((i = 0; i < 150; i++)); do
        l=$(leader "$@"); [ -n "$l" ] && { echo "$l"; return; }
        sleep 0.1
    done
}

echo "1. bring the cluster up"
if "${dc[@]}" up -d --build >/tmp/test_cluster_up.log 2>&1; then
    ok=0
    for i in $(seq 1 60); do health 1 >/dev/null && health 2 >/dev/null && health 3 >/dev/null && { ok=1; break; }; sleep 1; done
    [ $ok = 1 ] && pass "3 nodes answer on localhost:8001-8003" || fail "nodes did not answer"
else
    fail "docker compose up --build (see /tmp/test_cluster_up.log)"
    exit 1
fi

echo "2. find the leader"
L=$(wait_leader 1 2 3)
[ -n "$L" ] && pass "node$L is the leader" || { fail "no leader"; exit 1; }

echo "3. write a value"
out=$(curl -sS -m 5 -X POST "localhost:800$L/kv/put" -H 'Content-Type: application/json' \
    -d '{"key": "foo", "value": "bar"}')
[ "$(jq -r .ok <<<"$out")" = true ] && pass "PUT foo=bar: $out" || fail "PUT: $out"
F=$(( L % 3 + 1 ))
out=$(curl -sS -m 5 -X POST "localhost:800$F/kv/put" -H 'Content-Type: application/json' \
    -d '{"key": "foo", "value": "other"}')
[ "$(jq -r .leader <<<"$out")" = "node$L:8000" ] && pass "a follower answers a write with 409 naming the leader: $out" \
    || fail "follower answer: $out"
out=$(curl -sS -m 5 "localhost:800$F/kv/get?key=foo")
[ "$(jq -r .value <<<"$out")" = bar ] && pass "a follower serves a linearizable GET (read index from the leader): $out" \
    || fail "follower GET: $out"

echo "4. stop the leader, a new one is elected"
"${dc[@]}" stop "node$L" >/dev/null 2>&1
rest=$(echo 1 2 3 | tr ' ' '\n' | grep -v "^$L$" | tr '\n' ' ')
L2=$(wait_leader $rest)
[ -n "$L2" ] && pass "node$L stopped; node$L2 is the new leader" || fail "no new leader"

echo "5. read the value after recovery"
out=$(curl -sS -m 5 "localhost:800${L2:-$F}/kv/get?key=foo")
[ "$(jq -r .value <<<"$out")" = bar ] && pass "GET foo on node$L2: $out" || fail "GET: $out"

echo "6. restart the stopped node, it catches up"
"${dc[@]}" start "node$L" >/dev/null 2>&1
ok=0
for i in $(seq 1 100); do
    out=$(curl -sS -m 2 "localhost:800$L/kv/get?key=foo&stale=true" 2>/dev/null)
    [ "$(jq -r .value <<<"$out" 2>/dev/null)" = bar ] && { ok=1; break; }
    sleep 0.2
done
[ $ok = 1 ] && pass "node$L is back and has foo: $out" || fail "node$L did not catch up: $out"

echo
[ $fails -eq 0 ] && echo "test_cluster: all passed" || echo "test_cluster: $fails FAILED"
exit $(( fails > 0 ))
