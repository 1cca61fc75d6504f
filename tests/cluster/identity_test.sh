#!/usr/bin/env bash
# Identity, permissions and corruption on real processes (issue 13, parts
# 3 and 6; README "Identity, permissions, corruption"):
#   - every data directory is 0700 and every file in it 0600; /health and
#     IDENTITY agree on the cluster, node and directory ids;
#   - a directory is refused under another --id, and under a --cluster of
#     another cluster;
#   - the issue's scenario: an entry committed on nodes 1 and 3 only (2
#     paused); 1 crashes; 3 is wiped and restarted empty with the same
#     --id; 2 comes back. The wiped 3 must not vote for 2 (which lacks the
#     entry): no leader until 1 returns, then the entry is there;
#   - the wiped 3 asking to join, at its old address or a new one, is
#     refused (409 reused_id) while the old 3 is a member; after
#     nsxctl remove 3 it joins as a learner and is promoted: 3 voters;
#   - a flipped byte in a table file, then in the write-ahead log, of a
#     stopped node: it refuses to start, naming the file; README's
#     procedure (remove, wipe, start empty, join) brings back 3 healthy
#     members holding every acknowledged write;
#   - a founder wiped and restarted with its original --cluster does not
#     bootstrap (the cluster is running): it does not vote until removed
#     and joined again.
#
#   tests/cluster/identity_test.sh [NSXD_BINARY]
#
# Each check prints PASS or FAIL; exits non-zero on any FAIL; every wait
# is bounded; stops only the processes it started (their PID files).
set -uo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
export NSXD_BIN=${1:-$here/build/nsxd}
export NSXD_DATA=$(mktemp -d /tmp/nsxd-identity.XXXXXX)
export NSXD_HTTP_BASE=${NSXD_HTTP_BASE:-10700}
export NSXD_PEER_BASE=${NSXD_PEER_BASE:-10800}
export NSXD_MON_BASE=${NSXD_MON_BASE:-10900}
lc="$here/deploy/local-cluster.sh"
nsxctl="$here/build/nsxctl"
. "$here/tests/lib/lib.sh"
trap 'lib_cleanup_cluster "$NSXD_DATA"' EXIT
http_of() { echo "127.0.0.1:$((NSXD_HTTP_BASE + $1))"; }
peer_of() { echo "tcp://127.0.0.$((10 + $1)):$((NSXD_PEER_BASE + $1))"; }
spec() { local s="" i; for i in 1 2 3; do s+="${s:+,}$i=$(peer_of $i)@$(http_of $i)"; done; echo "$s"; }
ctl() { "$nsxctl" --endpoints "$(http_of 1),$(http_of 2),$(http_of 3)" --timeout 3000 "$@"; }
# start_raw ID ARGS...: nsxd by hand, its PID in the script's
# PID file (so "local-cluster.sh stop" stops it too)
start_raw() {
    local id=$1; shift
    "$NSXD_BIN" --id "$id" --data-dir "$NSXD_DATA/n$id" \
        --peer-secret-file "$NSXD_DATA/cluster.key" \
        --monitor-listen "tcp://127.0.0.1:$((NSXD_MON_BASE + id))" "$@" \
        >>"$NSXD_DATA/n$id.log" 2>&1 &
    echo $! >"$NSXD_DATA/n$id.pid"
}
wait_health() { # id [port]: /health answers within 10 s
    local i
    for ((i = 0; i < 50; i++)); do
        curl -fsS -m 1 "http://127.0.0.1:${2:-$((NSXD_HTTP_BASE + $1))}/health" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}
# refused CMD...: runs a node that must refuse to start: exit
# status non-zero within 15 s; its output in $NSXD_DATA/refused.out
refused() {
    timeout 15 "$@" >"$NSXD_DATA/refused.out" 2>&1
    local rc=$?
    [ $rc -ne 0 ] && [ $rc -ne 124 ]
}
voters_healthy() { # 3 voters, every one voting, within 20 s
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(hfield 1 '[.members[] | select(.voter)] | length')" = 3 ] &&
            [ "$(hfield 1 .identity.voting)$(hfield 2 .identity.voting)$(hfield 3 .identity.voting)" = truetruetrue ] &&
            return 0
        sleep 0.2
    done
    return 1
}
all_keys_on() { # node prefix count: stale reads of every key on node
    local n=$1 p=$2 c=$3 k v
    for ((k = 1; k <= c; k++)); do
        v=$(curl -sS -m 2 "http://$(http_of "$n")/kv/get?key=$p$k&stale=true" | jq -r .value)
        [ "$v" = "v$p$k" ] || { echo "  node $n: $p$k = '$v'"; return 1; }
    done
}
caught_up() { # node: applied >= the leader's commit, within 20 s
    local i c
    for ((i = 0; i < 100; i++)); do
        c=$(hfield "$(leader_of 1 2 3)" .commit)
        [ -n "$c" ] && [ "$(hfield "$1" .applied)" -ge "$c" ] 2>/dev/null && return 0
        sleep 0.2
    done
    return 1
}
put_keys() { local p=$1 c=$2 k; for ((k = 1; k <= c; k++)); do ctl put "$p$k" "v$p$k" >/dev/null || return 1; done; }

"$lc" start 3 >/dev/null || { fail "cluster start"; exit 1; }
l=$(leader_of 1 2 3)
check "a leader is elected" test -n "$l"

# --- identity and permissions ---------------------------------------------
cl1=$(hfield 1 .identity.cluster_id)
check "/health reports one cluster id on every node" \
    test -n "$cl1" -a "$cl1" = "$(hfield 2 .identity.cluster_id)" -a "$cl1" = "$(hfield 3 .identity.cluster_id)"
check "directory ids differ" test "$(hfield 1 .identity.dir_id)" != "$(hfield 2 .identity.dir_id)"
check "IDENTITY matches /health" test "$(jq -r '.node_id,.dir_id,.cluster_id' "$NSXD_DATA/n3/IDENTITY" | tr '\n' ' ')" = \
    "3 $(hfield 3 .identity.dir_id) $cl1 "
put_keys a 20 || fail "writes a1..a20"
perms_private() {
    local bad
    bad=$(find "$NSXD_DATA"/n1 "$NSXD_DATA"/n2 "$NSXD_DATA"/n3 \( -type d -perm /077 \) -o \( -type f -perm /077 \) | head -3)
    [ -z "$bad" ] || { echo "  not private: $bad"; return 1; }
    [ "$(stat -c %a "$NSXD_DATA/n1")" = 700 ]
}
check "data directories 0700, every file in them 0600" perms_private

# --- refused directories ---------------------------------------------------
check "node 3's directory is refused under --id 2" \
    refused "$NSXD_BIN" --id 2 --data-dir "$NSXD_DATA/n3" --insecure-peers \
    --http-listen 127.0.0.1:$((NSXD_HTTP_BASE + 20)) --peer-listen tcp://127.0.0.1:$((NSXD_PEER_BASE + 20))
check "  ... saying whose it is" grep -q "belongs to node 3" "$NSXD_DATA/refused.out"
other="1=tcp://127.0.0.1:$((NSXD_PEER_BASE + 21))@127.0.0.1:$((NSXD_HTTP_BASE + 21))"
check "node 3's directory is refused under another cluster's --cluster" \
    refused "$NSXD_BIN" --id 3 --data-dir "$NSXD_DATA/n3" --insecure-peers --cluster "3=tcp://127.0.0.1:1@127.0.0.1:2" \
    --http-listen 127.0.0.1:$((NSXD_HTTP_BASE + 21)) --peer-listen tcp://127.0.0.1:$((NSXD_PEER_BASE + 21))
check "  ... naming both clusters" grep -q "belongs to cluster $cl1" "$NSXD_DATA/refused.out"

# --- the wiped voter (issue 13) -------------------------------------------
# Leader 1 or 3 (2 paused), the entry committed on 1 and 3 only.
"$lc" pause 2 >/dev/null
ctl put E committed-on-1-and-3 >/dev/null || sleep 3
ctl put E committed-on-1-and-3 >/dev/null
check "E committed with 2 paused" test "$(ctl get E)" = committed-on-1-and-3
e_index=$(hfield 1 .commit)
"$lc" kill 1 >/dev/null
"$lc" kill 3 >/dev/null
rm -rf "$NSXD_DATA/n3"
# wiped 3, same --id, same addresses, no --cluster: waits to be added
start_raw 3 --http-listen "$(http_of 3)" --peer-listen "$(peer_of 3)"
wait_health 3 || fail "wiped 3 starts"
"$lc" resume 2 >/dev/null
sleep 5 # 5 election timeouts: 2 campaigns, asking the wiped 3
check "the wiped 3 is not voting" test "$(hfield 3 .identity.voting)" = false
check "2 (without E) is not elected with the wiped 3's vote" test "$(hfield 2 .role)" != leader
"$lc" restart 1 >/dev/null
l=$(leader_of 1 2)
check "1 returns: a leader" test -n "$l"
check "E is not lost" test "$(ctl get E)" = committed-on-1-and-3
check "2's log has E's index now" test "$(hfield 2 .commit)" -ge "$e_index"

# --- the wiped 3 cannot take the old 3's place by joining ----------------
code=$(curl -sS -m 5 -o "$NSXD_DATA/join.out" -w '%{http_code}' -X POST "http://$(http_of "$l")/raft/join" \
    -d "{\"peer\":\"$(http_of 3)\"}")
check "join of the wiped 3 at its old address: 409 reused_id" \
    test "$code" = 409 -a "$(jq -r .error "$NSXD_DATA/join.out")" = reused_id
# the same server at a new address
"$lc" stop 3 >/dev/null 2>&1
start_raw 3 --http-listen "127.0.0.1:$((NSXD_HTTP_BASE + 13))" --peer-listen "tcp://127.0.0.13:$((NSXD_PEER_BASE + 13))"
wait_health 3 $((NSXD_HTTP_BASE + 13)) || fail "wiped 3 at a new address starts"
code=$(curl -sS -m 5 -o "$NSXD_DATA/join.out" -w '%{http_code}' -X POST "http://$(http_of "$l")/raft/join" \
    -d "{\"peer\":\"127.0.0.1:$((NSXD_HTTP_BASE + 13))\"}")
check "join of the wiped 3 at a new address: 409 reused_id" \
    test "$code" = 409 -a "$(jq -r .error "$NSXD_DATA/join.out")" = reused_id
check "  ... with the way out" grep -q "remove it" "$NSXD_DATA/join.out"
check "3 is still at its old address in the configuration" \
    test "$(hfield "$l" '.members[] | select(.id == 3) | .http_addr')" = "$(http_of 3)"
"$lc" stop 3 >/dev/null 2>&1
ctl remove --id 3 >/dev/null
check "nsxctl remove 3" test "$(hfield "$l" '[.members[] | select(.id == 3)] | length')" = 0
start_raw 3 --http-listen "$(http_of 3)" --peer-listen "$(peer_of 3)" --join "$(http_of "$l")"
check "the wiped 3 joins: 3 voters, each voting" voters_healthy
check "  ... recorded with its directory id" \
    test "$(hfield "$l" '.members[] | select(.id == 3) | .dir_id')" = "$(hfield 3 .identity.dir_id)"
check "  ... and learnt the cluster id" test "$(jq -r .cluster_id "$NSXD_DATA/n3/IDENTITY")" = "$cl1"
holds_a() { caught_up 3 && all_keys_on 3 a 20; }
check "  ... and holds every write" holds_a

# --- corruption ------------------------------------------------------------
# Node 3 stopped with a table (written at its next open from the log) and
# a write-ahead log holding later writes.
"$lc" stop 3 >/dev/null
start_raw 3 --http-listen "$(http_of 3)" --peer-listen "$(peer_of 3)"
wait_health 3 || fail "3 restarts"
put_keys b 30 || fail "writes b1..b30"
caught_up 3 || fail "3 caught up"
"$lc" stop 3 >/dev/null
cp -a "$NSXD_DATA/n3" "$NSXD_DATA/n3.good"
flip() { python3 -c "import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=0x5a; open(p,'wb').write(b)" "$1"; }
table=$(ls -S "$NSXD_DATA"/n3/*.ldb 2>/dev/null | head -1)
check "node 3 has a table file" test -n "$table"
flip "$table"
check "a flipped byte in ${table##*/}: node 3 refuses to start" \
    refused "$NSXD_BIN" --id 3 --data-dir "$NSXD_DATA/n3" --peer-secret-file "$NSXD_DATA/cluster.key" \
    --http-listen "$(http_of 3)" --peer-listen "$(peer_of 3)" --monitor-listen "tcp://127.0.0.1:$((NSXD_MON_BASE + 3))"
check "  ... naming the file" grep -q "corrupted ($table" "$NSXD_DATA/refused.out"
rm -rf "$NSXD_DATA/n3"
cp -a "$NSXD_DATA/n3.good" "$NSXD_DATA/n3"
wal=$(ls -S "$NSXD_DATA"/n3/*.log 2>/dev/null | head -1)
check "node 3 has a write-ahead log with records" test -n "$wal" -a "$(stat -c %s "$wal" 2>/dev/null || echo 0)" -gt 100
flip "$wal"
check "a flipped byte in ${wal##*/}: node 3 refuses to start" \
    refused "$NSXD_BIN" --id 3 --data-dir "$NSXD_DATA/n3" --peer-secret-file "$NSXD_DATA/cluster.key" \
    --http-listen "$(http_of 3)" --peer-listen "$(peer_of 3)" --monitor-listen "tcp://127.0.0.1:$((NSXD_MON_BASE + 3))"
check "  ... naming the file" grep -q "corrupted ($wal" "$NSXD_DATA/refused.out"
head -c 600 "$NSXD_DATA/refused.out" | grep -a ERROR | head -1

# README's procedure: remove the member, wipe, start empty, join.
put_keys c 10 || fail "writes c1..c10 with 3 down"
ctl remove --id 3 >/dev/null
rm -rf "$NSXD_DATA/n3" "$NSXD_DATA/n3.good"
"$lc" join 3 >/dev/null
check "recovered: 3 voters, each voting" voters_healthy
holds_abc() { caught_up 3 && all_keys_on 3 a 20 && all_keys_on 3 b 30 && all_keys_on 3 c 10; }
check "recovered: node 3 holds every acknowledged write" holds_abc
check "recovered: E is there" test "$(curl -sS -m 2 "http://$(http_of 3)/kv/get?key=E&stale=true" | jq -r .value)" = committed-on-1-and-3
# --- a wiped founder restarted with its original --cluster ---------------
"$lc" stop 3 >/dev/null
rm -rf "$NSXD_DATA/n3"
"$lc" restart 3 >/dev/null # --cluster, as local-cluster.sh restarts founders
check "a wiped founder restarted with --cluster does not bootstrap" \
    grep -q "not bootstrapping" "$NSXD_DATA/n3.log"
check "  ... and does not vote as node 3" \
    test "$(hfield 3 .identity.origin)/$(hfield 3 .identity.voting)" = join/false
ctl remove --id 3 >/dev/null
code=$(curl -sS -m 10 -o "$NSXD_DATA/join.out" -w '%{http_code}' -X POST "http://$(http_of "$(leader_of 1 2)")/raft/join" \
    -d "{\"peer\":\"$(http_of 3)\"}")
check "  ... until removed and joined: 3 voters, each voting" voters_healthy
check "still private after all that: 0700 and 0600" perms_private

echo "identity_test: $fails failure(s)"
exit $((fails > 0))
