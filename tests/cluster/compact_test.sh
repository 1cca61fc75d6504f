#!/usr/bin/env bash
# Log compaction and InstallSnapshot on real processes (--compact-entries):
#   - while 20,000 writes go on, every node's log stays bounded and its
#     LevelDB directory stays small;
#   - a restarted follower boots from its base and the tail only;
#   - a follower killed while 20,000 more writes happen (the leader
#     compacts far past it) comes back, receives a snapshot, and serves
#     exactly the same data: every key of both runs is compared;
#   - it restarts again from the installed copy;
#   - with large values, compaction by memory (--compact-mib) keeps the
#     in-memory log small although the count threshold is never reached.
#
#   tests/cluster/compact_test.sh [NSXD_BINARY]
#
# Writes go through wrk (Debian's wrk, tests/perf/put_unique.lua); reads
# through one curl with a URL range (one keep-alive connection). Each
# check prints PASS or FAIL; exits non-zero on any FAIL; stops only the
# processes it started.
set -uo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
export NSXD_BIN=${1:-$here/build/nsxd}
export NSXD_DATA=$(mktemp -d /tmp/nsxd-compact.XXXXXX)
export NSXD_HTTP_BASE=${NSXD_HTTP_BASE:-22000}
export NSXD_PEER_BASE=${NSXD_PEER_BASE:-23000}
export NSXD_MON_BASE=${NSXD_MON_BASE:-23100}
every=${COMPACT_ENTRIES:-2000}
trail=${COMPACT_TRAILING:-200}
share=${SHARE:-5000} # writes per wrk thread (4 threads) per run
export NSXD_EXTRA_ARGS="--compact-entries $every --compact-trailing $trail"
lc="$here/deploy/local-cluster.sh"
. "$here/tests/lib/lib.sh"
trap 'lib_cleanup_cluster "$NSXD_DATA"' EXIT
commit_of() { hfield "$1" '.commit // 0'; }

# bulk_put NODE PREFIX: 4 x $share unique writes through wrk; returns once
# they are all committed and the commit index is still (wrk's threads
# stopped), at most 180 s. wrk waits out -d: we stop it, our own process.
bulk_put() {
    local n=$1 prefix=$2 c prev=-1 still=0 i
    local target=$(( $(commit_of "$n") + 4 * share ))
    wrk -t 4 -c 16 -d 600s -s "$here/tests/perf/put_unique.lua" "$(url "$n")" \
        -- "$share" "$prefix" >"$NSXD_DATA/wrk-$prefix.out" 2>&1 &
    local pid=$!
    for ((i = 0; i < 360; i++)); do
        sleep 0.5
        c=$(commit_of "$n")
        if [ "${c:-0}" -ge "$target" ] && [ "$c" = "$prev" ]; then
            still=$((still + 1))
            [ $still -ge 3 ] && break
        else
            still=0
        fi
        prev=$c
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

# wrong NODE PREFIX: how many of the 4 x ($share - 1) keys of a run are missing
# or hold another value on NODE (stale reads: its own state).
wrong() {
    local n=$1 prefix=$2 t bad=0 got exp
    for t in 0 1 2 3; do
        # from 2: wrk calls request () once before it sends anything (to
        # see whether the script makes its own requests), which uses up
        # key 1 of one thread
        got=$(curl -sS -m 300 "$(url "$n")/kv/get?key=${prefix}t${t}_[2-$share]&stale=true" |
              jq -r '.value // "MISSING"' | sed 's/x*$//')
        exp=$(seq 2 "$share" | sed "s/^/v${t}_/")
        local d
        d=$(diff <(echo "$got") <(echo "$exp") | grep -v '^[>-]')
        [ -n "$d" ] && echo "   n$n ${prefix}t$t: $(head -c 300 <<<"$d" | tr '\n' ' ')" >&2
        bad=$((bad + $(grep -c . <<<"$d")))
    done
    echo "$bad"
}

echo "== 3 nodes, compacting every $every entries, keeping $trail"
"$lc" start 3 >/dev/null || { fail "cluster starts"; exit 1; }
L=$(leader_of)
check "a leader (n$L)" test -n "$L"
F=$(( L % 3 + 1 ))

echo "== $((4 * share)) writes"
t0=$(date +%s)
bulk_put "$L" a
echo "   (in $(( $(date +%s) - t0 )) s)"
sleep 1
bound=$((every + trail + 64))
for n in 1 2 3; do
    base=$(metric "$n" nsxd_raft_log_base_index)
    last=$(metric "$n" nsxd_raft_last_log_index)
    mib=$(du -sm "$NSXD_DATA/n$n" | cut -f1)
    check "n$n compacted: base $base, last $last, log $((last - base)) <= $bound entries, LevelDB $mib MiB" \
        test "$base" -gt 0 -a $((last - base)) -le "$bound"
done

echo "== restart a follower: it boots from its base and the tail"
"$lc" stop "$F" >/dev/null
t0=$(date +%s%N)
"$lc" restart "$F" >/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
booted=$(grep "raft: booted" "$NSXD_DATA/n$F.log" | tail -1)
n_log=$(sed -E 's/.* ([0-9]+) log entries.*/\1/' <<<"$booted")
check "n$F booted with $n_log log entries of $((4 * share))+ (<= $bound), serving in $ms ms" \
    test "$n_log" -le "$bound"

echo "== a follower away while $((4 * share)) more writes happen catches up by InstallSnapshot"
"$lc" kill "$F" >/dev/null
bulk_put "$L" b
lbase=$(metric "$L" nsxd_raft_log_base_index)
target=$(commit_of "$L")
t0=$(date +%s%N)
"$lc" restart "$F" >/dev/null
for ((i = 0; i < 600; i++)); do
    [ "$(metric "$F" nsxd_raft_applied_index)" -ge "$target" ] 2>/dev/null && break
    sleep 0.1
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
inst=$(metric "$F" nsxd_raft_snapshots_installed_total)
check "n$F (behind the leader's base $lbase) installed a snapshot ($inst) and applied up to $target in $ms ms" \
    test "${inst:-0}" -ge 1 -a "$(metric "$F" nsxd_raft_applied_index)" -ge "$target"
check "the leader sent $(metric "$L" nsxd_raft_snapshot_chunks_sent_total) chunk(s)" \
    test "$(metric "$L" nsxd_raft_snapshot_chunks_sent_total)" -ge 1
for p in a b; do
    w=$(wrong "$F" "$p")
    check "n$F holds all $((4 * (share - 1))) checked keys of run $p, each with its value ($w wrong)" test "$w" -eq 0
done
"$lc" stop "$F" >/dev/null
"$lc" restart "$F" >/dev/null
w=$(wrong "$F" b)
check "and after a restart from the installed copy ($w wrong)" test "$w" -eq 0

echo "== the other nodes hold the same"
for n in 1 2 3; do
    [ "$n" = "$F" ] && continue
    w=$(wrong "$n" b)
    check "n$n: every key of run b ($w wrong)" test "$w" -eq 0
done
code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -X POST "$(url "$L")/kv/put" \
    -d '{"key":"after","value":"restart"}')
check "writes go on ($code)" test "$code" = 200

echo "== compaction by memory: 16 KiB values, --compact-mib 1, count rule off"
"$lc" stop >/dev/null
export NSXD_DATA=$NSXD_DATA/mib
export NSXD_EXTRA_ARGS="--compact-entries 0 --compact-mib 1"
"$lc" start 3 >/dev/null
L=$(leader_of)
# Written until 200 entries (3 MiB of values) are in, 4 s of wrk at a
# time: a count, not a rate, so a loaded machine only takes longer
# (bounded: 90 s).
t_end=$((SECONDS + 90))
c=0
while [ "${c:-0}" -lt 200 ] && [ $SECONDS -lt $t_end ]; do
    wrk -t2 -c8 -d4s -s "$here/tests/perf/bench/nsxd.lua" "$(url "$L")" -- put 500 16384 \
        >>"$NSXD_DATA/wrk-mib.out" 2>&1
    sleep 1
    c=$(commit_of "$L")
done
check "wrote well over 1 MiB of values (commit $c >= 200)" test "${c:-0}" -ge 200
for n in 1 2 3; do
    lb=$(metric "$n" nsxd_raft_log_bytes) base=$(metric "$n" nsxd_raft_log_base_index)
    check "n$n: log holds ${lb:-?} bytes (< 2 MiB), base ${base:-?} > 0" \
        test "${lb:-99999999}" -lt $((2 << 20)) -a "${base:-0}" -gt 0
done
big=$(head -c 16384 /dev/zero | tr '\0' y)
curl -sS -m 10 -o /dev/null -X POST "$(url "$L")/kv/put" -d "{\"key\":\"big\",\"value\":\"$big\"}"
code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' "$(url "$L")/kv/get?key=big")
v=$(curl -sS -m 10 "$(url "$L")/kv/get?key=big" | jq -r '.value | length')
check "values read back ($code, ${v:-?} bytes)" test "$code" = 200 -a "${v:-0}" = 16384

lib_summary compact_test
