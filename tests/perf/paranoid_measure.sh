#!/usr/bin/env bash
# What LevelDB's paranoid_checks and nsxd's checksum scan at start cost:
# two nsxd binaries, one with them (the default) and one built without,
# measured in interleaved rounds (A B A B ...) on the same machine:
#   - PUT (overwrite a random key of KEYS) and linearizable GET at 64
#     connections, DURATION s each, through wrk against the leader;
#   - a follower's restart: ms from exec to /health answering with
#     applied >= commit, with KEYS keys of 100 bytes in its database.
#
#   tests/perf/paranoid_measure.sh BIN_WITH BIN_WITHOUT [ROUNDS]
#
# Environment: KEYS (50000), DURATION (10), REVERSE (0). Ports: NSXD_HTTP_BASE (10700),
# NSXD_PEER_BASE (10800), NSXD_MON_BASE (10900). Prints one line per run:
#   label round put_rps get_rps restart_ms
# Stops only the processes it started (deploy/local-cluster.sh's PID files).
set -uo pipefail
# nsxd as it ships: deploy/local-cluster.sh turns --enable-faults on for
# people (a teaching cluster) unless NSXD_FAULTS=0 (tests/lib/lib.sh does
# the same for the scripts that source it)
export NSXD_FAULTS=${NSXD_FAULTS:-0}
here=$(cd "$(dirname "$0")/../.." && pwd)
with=${1:?binary with the checks}
without=${2:?binary without}
rounds=${3:-2}
keys=${KEYS:-50000}
dur=${DURATION:-10}
export NSXD_HTTP_BASE=${NSXD_HTTP_BASE:-10700}
export NSXD_PEER_BASE=${NSXD_PEER_BASE:-10800}
export NSXD_MON_BASE=${NSXD_MON_BASE:-10900}
lc=$here/deploy/local-cluster.sh
lua=$here/tests/perf/bench/nsxd.lua

url() { echo "http://127.0.0.1:$((NSXD_HTTP_BASE + $1))"; }
hf() { curl -sS -m 2 "$(url "$1")/health" 2>/dev/null | jq -r "$2" 2>/dev/null; }
leader() {
    local i n
    for ((i = 0; i < 50; i++)); do
        for n in 1 2 3; do [ "$(hf "$n" .role)" = leader ] && { echo "$n"; return; }; done
        sleep 0.2
    done
}
rps() { awk '/Requests\/sec/ { print int($2) }'; }

one() { # label binary round
    local label=$1 bin=$2 round=$3
    export NSXD_BIN=$bin NSXD_DATA
    NSXD_DATA=$(mktemp -d /tmp/nsxd-paranoid.XXXXXX)
    "$lc" start 3 >/dev/null
    local l; l=$(leader)
    # preload: every key once (bounded: 300 s)
    local target=$(( $(hf "$l" .commit) + keys ))
    wrk -t2 -c32 -d300s -s "$lua" "$(url "$l")" -- preload "$keys" 100 2 >/dev/null 2>&1 &
    local w=$! i
    for ((i = 0; i < 600; i++)); do
        [ "$(hf "$l" .commit)" -ge "$target" ] 2>/dev/null && break
        sleep 0.5
    done
    kill "$w" 2>/dev/null; wait "$w" 2>/dev/null
    local put get
    put=$(wrk -t2 -c64 -d"${dur}s" -s "$lua" "$(url "$l")" -- put "$keys" 100 | rps)
    get=$(wrk -t2 -c64 -d"${dur}s" -s "$lua" "$(url "$l")" -- get "$keys" 100 | rps)
    # a follower's restart with the whole database
    local f=$(( l % 3 + 1 ))
    "$lc" stop "$f" >/dev/null
    local t0; t0=$(date +%s%N)
    "$lc" restart "$f" >/dev/null 2>&1
    local c; c=$(hf "$l" .commit)
    for ((i = 0; i < 300; i++)); do
        [ "$(hf "$f" .applied)" -ge "$c" ] 2>/dev/null && break
        sleep 0.02
    done
    local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    local mib; mib=$(du -sm "$NSXD_DATA/n$f" | cut -f1)
    "$lc" stop >/dev/null
    rm -rf "$NSXD_DATA"
    echo "$label $round put=$put get=$get restart_ms=$ms db_mib=$mib"
}

# REVERSE=1 runs "without" first in each round: a machine whose load
# drifts favours whichever arm runs second.
for ((r = 1; r <= rounds; r++)); do
    if [ "${REVERSE:-0}" = 1 ]; then
        one without "$without" "$r"
        one with "$with" "$r"
    else
        one with "$with" "$r"
        one without "$without" "$r"
    fi
done
