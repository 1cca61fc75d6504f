#!/usr/bin/env bash
# Power cuts on real processes (issue 13): every node runs under the
# power-cut shim (tests/powercut/pcshim.c: at a cut, each file keeps only
# what was synced), under a write load of unique keys (pc_load).
#   (a) one node at a time is cut CUTS times: each round runs one writer
#       or eight, cuts a node (the leader with one writer, where applies
#       come alone) at a random moment, rolls its files back and restarts
#       it, then arms a node (pc.sh arm) to cut itself a few ms after its
#       next LevelDB memtable switch (the moment an unsynced apply is at
#       risk), rolls back and restarts it. At the end every
#       replica shows the same digest (GET /debug/digest) at the same
#       applied index, and a replica that refuses to start fails the test;
#       every second random cut keeps a random part of each file's
#       unsynced tail instead of none (PC_KEEP_SEED, pc_rollback.c);
#   (b) the whole cluster is cut at once, ALL_CUTS times, during the
#       load: after rollback and restart, every acknowledged write (of
#       the whole run) reads back with its value, and the digests agree.
# Built with -DNSXD_PLANTED_BUG=1 (apply_nosync) nsxd must fail this
# (make powercut-teeth).
#
#   tests/cluster/powercut_test.sh [NSXD_BINARY]
#   CUTS (4), ALL_CUTS (2), SEED (random; printed), CHECK_EACH (0; 1:
#   compare the digests after every round of (a)), PC_SLOW_TABLE_US
#   (50000: each table sync waits that long), NSXD_HTTP_BASE (10000),
#   NSXD_PEER_BASE (10100), NSXD_MON_BASE (10200), PC_BUILD (build/)
# Exit 0 all PASS, 1 some FAIL. Stops only the processes it started.
set -uo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
export PC_BUILD=${PC_BUILD:-$here/build}
export PC_NSXD=${1:-$here/build/nsxd}
export NSXD_BIN=$here/tests/powercut/nsxd-pc
mkdir -p "$here/build"
export NSXD_DATA=$(mktemp -d "$here/build/powercut.XXXXXX")
export NSXD_HTTP_BASE=${NSXD_HTTP_BASE:-10000}
export NSXD_PEER_BASE=${NSXD_PEER_BASE:-10100}
export NSXD_MON_BASE=${NSXD_MON_BASE:-10200}
# compaction often, so that cuts also land around compactions and a cut
# follower may need a snapshot
export NSXD_EXTRA_ARGS=${NSXD_EXTRA_ARGS:---compact-entries 3000 --compact-trailing 500}
# a slow disk for LevelDB's tables (pcshim.c): the window after a
# memtable switch, while the old log's content is durable nowhere yet,
# lasts at least this long
export PC_SLOW_TABLE_US=${PC_SLOW_TABLE_US:-50000}
cuts=${CUTS:-4}
all_cuts=${ALL_CUTS:-2}
seed=${SEED:-$RANDOM}
RANDOM=$seed
lc=$here/deploy/local-cluster.sh
pc=$here/tests/powercut/pc.sh
load=$PC_BUILD/pc_load
vbytes=1000
. "$here/tests/lib/lib.sh"
load_pid=""
echo "powercut: seed $seed, $cuts single cuts (x2), $all_cuts whole-cluster cuts, data in $NSXD_DATA"

for t in "$load" "$PC_BUILD/pcshim.so" "$PC_BUILD/pc_rollback" "$PC_NSXD"; do
    [ -e "$t" ] || { echo "powercut: missing $t"; exit 1; }
done
command -v jq >/dev/null || { echo "powercut: jq missing"; exit 1; }

stop_load() {
    if [ -n "$load_pid" ]; then
        kill "$load_pid" 2>/dev/null
        wait "$load_pid" 2>/dev/null
        load_pid=""
    fi
}
cleanup() {
    [ "$BASHPID" = "$$" ] || return 0 # only the test's own shell
    stop_load
    "$lc" stop >/dev/null 2>&1
    if [ $fails -eq 0 ]; then rm -rf "$NSXD_DATA"; else echo "logs kept in $NSXD_DATA"; fi
}
trap cleanup EXIT
endpoints=$(eps 1 2 3)
pid_of() { cat "$NSXD_DATA/n$1.pid" 2>/dev/null; }
alive() { local p; p=$(pid_of "$1") && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
leader() {   # the node that says it leads, or a random one
    local n
    for n in 1 2 3; do
        [ "$(hfield "$n" .role)" = leader ] &&
            { echo "$n"; return; }
    done
    echo $((RANDOM % 3 + 1))
}
digest() { curl -sS -m 20 "$(url "$1")/debug/digest" 2>/dev/null | jq -r '"\(.applied) \(.keys) \(.digest)"' 2>/dev/null; }

start_load() {   # prefix [writers (8)]
    # exec: a subshell that stayed would run the EXIT trap when killed
    (trap - EXIT; exec "$load" put "$endpoints" 3600 "${2:-8}" "$vbytes" "$1" \
        "$NSXD_DATA/acked") >>"$NSXD_DATA/load.out" 2>&1 &
    load_pid=$!
}

# restart ID [cut env...]: start node ID again (after a rollback); fails
# the test if it does not come up (e.g. it refuses its database)
restart() {
    local id=$1; shift
    local out
    if ! out=$(env "$@" "$lc" restart "$id" 2>&1); then
        fail "n$id restarts after a cut (see $NSXD_DATA/n$id.log)"
        echo "$out" | tail -3
        tail -3 "$NSXD_DATA/n$id.log"
        return 1
    fi
}
cut_and_rollback() {   # id [keep seed: keep part of the unsynced tails]
    local p i
    p=$(pid_of "$1")
    "$pc" cut "$p" || { fail "cut n$1"; return 1; }
    # local-cluster.sh counts a zombie as running: wait for its reaping
    for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    local out rc
    out=$(PC_KEEP_SEED=${2:-} "$pc" rollback "$NSXD_DATA/n$1" 2>&1); rc=$?
    echo "  n$1: $out"
    [ $rc = 0 ] || { fail "rollback n$1 (exit $rc)"; return 1; }
}

# all_equal: every node reports the same applied index and digest (each
# is read from one LevelDB snapshot), within 90 s of the load stopping
all_equal() {
    local i a b c
    for ((i = 0; i < 90; i++)); do
        a=$(digest 1); b=$(digest 2); c=$(digest 3)
        if [ -n "$a" ] && [ "$a" = "$b" ] && [ "$b" = "$c" ] && [ "${a%% *}" != null ]; then
            echo "  digests: applied/keys/digest $a"
            return 0
        fi
        sleep 1
    done
    echo "  n1: $a"; echo "  n2: $b"; echo "  n3: $c"
    return 1
}

"$lc" start 3 >/dev/null || { fail "cluster starts"; exit 1; }
start_load a

# (a) one node at a time
for ((c = 1; c <= cuts; c++)); do
    # one writer or eight, at random: with one, each apply on the leader
    # comes without a write (the path that copies it into the next
    # synced write), so the leader is cut; with eight, applies and
    # writes share batches, and any node is
    writers=$((RANDOM % 2 ? 8 : 1))
    if [ "$writers" = 1 ]; then v=$(leader); else v=$((RANDOM % 3 + 1)); fi
    stop_load
    start_load "a$c" "$writers"
    sleep "$((RANDOM % 3 + 1)).$((RANDOM % 10))"
    # every other one keeps a random part of the unsynced data
    keep=""
    [ $((c % 2)) = 0 ] && keep=$RANDOM
    echo "cut $c: n$v at a random moment ($writers writers)${keep:+, keeping part of the unsynced data (seed $keep)}"
    cut_and_rollback "$v" "$keep" || break
    restart "$v" || break
    # the chosen moment: arm a node (the leader with one writer) to cut
    # itself $delay us after its next memtable switch; if the load does
    # not fill a memtable in 30 s, we cut it ourselves
    if [ "$writers" = 1 ]; then v=$(leader); else v=$((RANDOM % 3 + 1)); fi
    delay=$((1000 + RANDOM % 15000))
    "$pc" arm "$NSXD_DATA/n$v" "$delay" || { fail "arm n$v"; break; }
    for ((i = 0; i < 300; i++)); do alive "$v" || break; sleep 0.1; done
    if alive "$v"; then echo "cut $c: n$v, no memtable switch in 30 s: cut now"
    else echo "cut $c: n$v cut itself ${delay} us after a memtable switch"; fi
    cut_and_rollback "$v" || break
    restart "$v" || break
    if [ "${CHECK_EACH:-0}" = 1 ]; then
        # (teeth) compare after every round: how many cuts it takes
        stop_load
        if ! all_equal; then
            fail "(a) replicas differ after $((2 * c)) single-node cuts (seed $seed)"
            break
        fi
    fi
done
sleep 2
stop_load
if [ $fails -eq 0 ]; then
    if all_equal; then pass "(a) after $((2 * cuts)) single-node cuts every replica has the same digest at the same applied index"
    else fail "(a) replicas differ after single-node cuts (seed $seed)"; fi
fi

# (b) the whole cluster at once
for ((c = 1; c <= all_cuts && fails == 0; c++)); do
    start_load "b$c"
    sleep "$((RANDOM % 4 + 2)).$((RANDOM % 10))"
    echo "whole-cluster cut $c"
    for v in 1 2 3; do kill -KILL "$(pid_of "$v")" 2>/dev/null; done
    keep=""
    [ $((c % 2)) = 0 ] && keep=$RANDOM
    for v in 1 2 3; do cut_and_rollback "$v" "$keep" || break; done
    # nothing can be acknowledged once every node is down
    stop_load
    for v in 1 2 3; do restart "$v" || break; done
done
if [ $fails -eq 0 ]; then
    echo "  $(wc -l <"$NSXD_DATA/acked") acknowledged writes to read back"
    if out=$("$load" verify "$endpoints" 8 "$vbytes" "$NSXD_DATA/acked"); then
        pass "(b) every acknowledged write survived $all_cuts whole-cluster cuts: $out"
    else
        echo "$out" | head -5
        fail "(b) acknowledged writes lost (seed $seed): $(echo "$out" | tail -1)"
    fi
    if all_equal; then pass "(b) every replica has the same digest at the same applied index"
    else fail "(b) replicas differ after whole-cluster cuts (seed $seed)"; fi
fi
echo "powercut: $fails failed (seed $seed)"
[ $fails -eq 0 ]
