#!/usr/bin/env bash
# Issue 6's measurements (not part of make test; timed, machine-dependent):
#   1. disk use of each node after WRITES unique writes, with and without
#      compaction;
#   2. restart time of a follower with that history (compaction on: the
#      tail only; off: the whole log);
#   3. time for a new server (empty, joining with POST /raft/join) to
#      receive the data by InstallSnapshot and apply up to the leader's
#      commit. (Not an existing member with its disk wiped: Raft forbids
#      that -- it would have lost its vote and its acknowledged entries.)
#
#   tests/perf/snapshot_measure.sh [WRITES] [MODES]
#       WRITES default 1000000; MODES "compaction nocompaction" (default)
#
# Needs wrk (Debian package wrk). Uses ports 38001-38003 / 39001-39003.
set -uo pipefail
# nsxd as it ships: deploy/local-cluster.sh turns --enable-faults on for
# people (a teaching cluster) unless NSXD_FAULTS=0 (tests/lib/lib.sh does
# the same for the scripts that source it)
export NSXD_FAULTS=${NSXD_FAULTS:-0}
here=$(cd "$(dirname "$0")/../.." && pwd)
writes=${1:-1000000}
export NSXD_BIN=${NSXD_BIN:-$here/build/nsxd}
export NSXD_HTTP_BASE=30000 NSXD_PEER_BASE=31000 NSXD_MON_BASE=31100
lc="$here/deploy/local-cluster.sh"
url() { echo "http://127.0.0.1:$((NSXD_HTTP_BASE + $1))"; }
metric() { curl -sS -m 5 "$(url "$1")/metrics" | awk -v s="$2" '$1 == s { print $2 }'; }
leader() {
    local i n
    for ((i = 0; i < 100; i++)); do
        for n in 1 2 3; do
            [ "$(metric "$n" nsxd_raft_is_leader 2>/dev/null)" = 1 ] && { echo "$n"; return; }
        done
        sleep 0.1
    done
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# wait until node n applied at least target; prints the ms it took from t0
wait_applied() {
    local n=$1 target=$2 t0=$3 a i
    for ((i = 0; i < 6000; i++)); do
        a=$(metric "$n" nsxd_raft_applied_index 2>/dev/null)
        [ -n "$a" ] && [ "$a" -ge "$target" ] && break
        sleep 0.05
    done
    echo $(( $(now_ms) - t0 ))
}

run() {   # label, extra args
    local label=$1; shift
    export NSXD_EXTRA_ARGS="$*"
    export NSXD_DATA=$(mktemp -d /tmp/nsxd-measure.XXXXXX)
    "$lc" start 3 >/dev/null || { echo "cannot start"; return 1; }
    local L F t0 ms target
    L=$(leader); F=$(( L % 3 + 1 ))
    echo "== $label: $writes unique writes (100-byte values) through n$L"
    t0=$(now_ms)
    # wrk's threads stop after their share, but wrk itself waits out -d:
    # stop it (our own process) once the writes are committed.
    wrk -t 4 -c 64 -d 3600s -s "$here/tests/perf/put_unique.lua" "$(url "$L")" \
        -- $((writes / 4)) >"$NSXD_DATA/wrk.out" 2>&1 &
    local wrk_pid=$! c
    while kill -0 "$wrk_pid" 2>/dev/null; do
        c=$(curl -sS -m 5 "$(url "$L")/health" 2>/dev/null | jq -r '.commit // 0')
        [ "${c:-0}" -ge "$writes" ] && break
        sleep 1
    done
    ms=$(( $(now_ms) - t0 ))
    kill "$wrk_pid" 2>/dev/null; wait "$wrk_pid" 2>/dev/null
    echo "   wrote in $((ms / 1000)) s ($(( writes * 1000 / (ms + 1) )) writes/s)"
    sleep 2
    for n in 1 2 3; do
        echo "   n$n: LevelDB $(du -sm "$NSXD_DATA/n$n" | cut -f1) MiB, log base $(metric "$n" nsxd_raft_log_base_index), last $(metric "$n" nsxd_raft_last_log_index)"
    done
    target=$(metric "$L" nsxd_raft_commit_index)
    "$lc" stop "$F" >/dev/null
    t0=$(now_ms)
    "$lc" restart "$F" >/dev/null
    ms=$(wait_applied "$F" "$target" "$t0")
    echo "   restart of n$F: serving and applied up to $target in $ms ms ($(grep 'raft: booted' "$NSXD_DATA/n$F.log" | tail -1 | sed 's/.*booted with/booted with/'))"
    if [ "$label" = compaction ]; then
        t0=$(now_ms)
        "$lc" join 4 >/dev/null
        ms=$(wait_applied 4 "$target" "$t0")
        echo "   new server n4 (joined empty): InstallSnapshot of $writes+ keys, applied up to $target in $ms ms; $(metric "$L" nsxd_raft_snapshot_chunks_sent_total) chunks sent"
        echo "   n4 after the install: LevelDB $(du -sm "$NSXD_DATA/n4" | cut -f1) MiB"
    fi
    "$lc" stop >/dev/null
    rm -rf "$NSXD_DATA"
}

for mode in ${2:-compaction nocompaction}; do
    case $mode in
    compaction) run compaction ;;
    nocompaction) run "no compaction" --compact-entries 0 ;;
    esac
done
