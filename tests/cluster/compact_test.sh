#!/usr/bin/env bash
# Log compaction and InstallSnapshot on real processes (--compact-entries):
# the log stays bounded on every node while writes go on, a restarted node
# boots from its base and the tail only, a follower that was down while
# the leader compacted past it catches up by InstallSnapshot (and restarts
# from the installed copy), and every key reads back the same everywhere.
#
#   tests/cluster/compact_test.sh [NSXD_BINARY]
#
# Each check prints PASS or FAIL; exits non-zero on any FAIL; stops only
# the nodes it started.
set -uo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
export NSXD_BIN=${1:-$here/build/nsxd}
export NSXD_DATA=$(mktemp -d /tmp/nsxd-compact.XXXXXX)
export NSXD_HTTP_BASE=${NSXD_HTTP_BASE:-58000}
export NSXD_PEER_BASE=${NSXD_PEER_BASE:-59000}
export NSXD_MON_BASE=${NSXD_MON_BASE:-59100}
every=${COMPACT_ENTRIES:-150}
trail=${COMPACT_TRAILING:-30}
writes=${WRITES:-600}
export NSXD_EXTRA_ARGS="--compact-entries $every --compact-trailing $trail"
lc="$here/deploy/local-cluster.sh"
fails=0

cleanup() {
    "$lc" stop >/dev/null 2>&1
    if [ $fails -eq 0 ]; then rm -rf "$NSXD_DATA"; else echo "logs kept in $NSXD_DATA"; fi
}
trap cleanup EXIT
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
check() {
    local what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
url() { echo "http://127.0.0.1:$((NSXD_HTTP_BASE + $1))"; }
metric() { curl -sS -m 5 "$(url "$1")/metrics" | awk -v s="$2" '$1 == s { print $2 }'; }
leader() {
    local i n
    for ((i = 0; i < 100; i++)); do
        for n in 1 2 3; do
            [ "$(metric "$n" nsxd_raft_is_leader)" = 1 ] && { echo "$n"; return; }
        done
        sleep 0.1
    done
}

echo "== 3 nodes, compacting every $every entries, keeping $trail"
"$lc" start 3 >/dev/null || { fail "cluster starts"; exit 1; }
L=$(leader)
check "a leader (n$L)" test -n "$L"
F=$(( L % 3 + 1 ))

echo "== $writes writes, 16 at a time"
seq 1 "$writes" | xargs -P 16 -I{} curl -sS -m 10 -o /dev/null -X POST \
    "$(url "$L")/kv/put" -d '{"key":"k{}","value":"value {}"}'
sleep 1
bound=$((every + trail + 32))
for n in 1 2 3; do
    base=$(metric "$n" nsxd_raft_log_base_index)
    last=$(metric "$n" nsxd_raft_last_log_index)
    check "n$n compacted: base $base, last $last, log $((last - base)) <= $bound entries" \
        test "$base" -gt 0 -a $((last - base)) -le "$bound"
done

echo "== restart a follower: it boots from its base and the tail"
"$lc" stop "$F" >/dev/null
t0=$(date +%s%N)
"$lc" restart "$F" >/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
booted=$(grep "raft: booted" "$NSXD_DATA/n$F.log" | tail -1)
n_log=$(sed -E 's/.* ([0-9]+) log entries.*/\1/' <<<"$booted")
check "n$F booted with $n_log log entries of $writes+ (<= $bound), in $ms ms" \
    test "$n_log" -le "$bound"

echo "== a follower away while the log moves on catches up by InstallSnapshot"
"$lc" kill "$F" >/dev/null
seq 1 "$writes" | xargs -P 16 -I{} curl -sS -m 10 -o /dev/null -X POST \
    "$(url "$L")/kv/put" -d '{"key":"m{}","value":"more {}"}'
lbase=$(metric "$L" nsxd_raft_log_base_index)
"$lc" restart "$F" >/dev/null
target=$(metric "$L" nsxd_raft_commit_index)
for ((i = 0; i < 100; i++)); do
    [ "$(metric "$F" nsxd_raft_applied_index)" -ge "$target" ] 2>/dev/null && break
    sleep 0.1
done
inst=$(metric "$F" nsxd_raft_snapshots_installed_total)
check "n$F (its log ended before the leader's base $lbase) installed a snapshot ($inst) and applied up to $target" \
    test "${inst:-0}" -ge 1 -a "$(metric "$F" nsxd_raft_applied_index)" -ge "$target"
check "the leader sent chunks ($(metric "$L" nsxd_raft_snapshot_chunks_sent_total))" \
    test "$(metric "$L" nsxd_raft_snapshot_chunks_sent_total)" -ge 1
bad=0
for ((i = 1; i <= writes; i += 3)); do
    v=$(curl -sS -m 5 "$(url "$F")/kv/get?key=m$i&stale=true" | jq -r .value)
    [ "$v" = "more $i" ] || bad=$((bad + 1))
done
check "n$F serves the keys written while it was away ($bad wrong)" test $bad -eq 0
"$lc" stop "$F" >/dev/null
"$lc" restart "$F" >/dev/null
v=$(curl -sS -m 5 "$(url "$F")/kv/get?key=m5&stale=true" | jq -r .value)
check "and still after a restart from the installed copy (m5 = '$v')" test "$v" = "more 5"

echo "== every key, on every node"
sleep 1
for n in 1 2 3; do
    bad=0
    for ((i = 1; i <= writes; i += 7)); do
        v=$(curl -sS -m 5 "$(url "$n")/kv/get?key=k$i&stale=true" | jq -r .value)
        [ "$v" = "value $i" ] || bad=$((bad + 1))
        v=$(curl -sS -m 5 "$(url "$n")/kv/get?key=m$i&stale=true" | jq -r .value)
        [ "$v" = "more $i" ] || bad=$((bad + 1))
    done
    check "n$n serves every sampled key ($bad wrong)" test $bad -eq 0
done
curl -sS -m 5 -o /dev/null -w '%{http_code}' -X POST "$(url "$L")/kv/put" \
    -d '{"key":"after","value":"restart"}' | grep -q 200
check "writes go on after the restart" test $? -eq 0

echo
if [ $fails -eq 0 ]; then echo "compact_test: all passed"; else echo "compact_test: $fails FAILED"; fi
exit $(( fails > 0 ))
