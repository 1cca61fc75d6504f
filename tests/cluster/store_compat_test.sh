#!/usr/bin/env bash
# store_compat_test.sh OLD_NSXD NEW_NSXD -- data directories written by an
# older build open in a newer one. OLD may be a build of the same format
# (store/store_format.h's version unchanged: then both ways), or of format
# 1 while NEW writes format 2 (issue 15: records with versions; the
# upgrade is one-way, store_format.h "Upgrade").
#
#   1. OLD runs 3 nodes with a small compaction threshold: 60 PUTs, node 3
#      stopped, 100 more PUTs and 10 DELETEs (the log compacts), node 3
#      back: it gets InstallSnapshot, so its data is in generation 1 ('K'
#      keys, 'g', 'b', 'c'), the others' in generation 0. Each node's
#      /debug/digest is kept; the nodes stop.
#   2. NEW starts on those directories: each node's key count must be
#      OLD's (and its digest too, unless NEW upgraded the format: then the
#      three upgraded replicas' digests must agree -- the upgrade is
#      deterministic), every key must read back (stale reads: the node's
#      own data), the deleted ones absent; then 40 more PUTs, and with
#      format 2 their versions; node 3 stopped, more PUTs (the log
#      compacts), node 3 back: a format-2 snapshot, and the three digests
#      agree again (metadata included).
#   3. Same format: OLD starts again on what NEW wrote and reads the new
#      keys. Format 1 -> 2: OLD must refuse NEW's directory with "unknown
#      storage format version", and not answer.
#
# Not part of make test (it needs an older build): run it when the store's
# code changes, e.g. with main's build as OLD. Ports: NSXD_HTTP_BASE
# (default 10300), NSXD_PEER_BASE (10400), NSXD_MON_BASE (10500). About
# 2-3 minutes. Every wait is bounded.
set -euo pipefail
# nsxd as it ships: deploy/local-cluster.sh turns --enable-faults on for
# people (a teaching cluster) unless NSXD_FAULTS=0 (tests/lib/lib.sh does
# the same for the scripts that source it)
export NSXD_FAULTS=${NSXD_FAULTS:-0}
old=${1:?usage: $0 OLD_NSXD NEW_NSXD}
new=${2:?usage: $0 OLD_NSXD NEW_NSXD}
here=$(cd "$(dirname "$0")/../.." && pwd)
export NSXD_HTTP_BASE=${NSXD_HTTP_BASE:-10300}
export NSXD_PEER_BASE=${NSXD_PEER_BASE:-10400}
export NSXD_MON_BASE=${NSXD_MON_BASE:-10500}
export NSXD_EXTRA_ARGS="--compact-entries 20 --compact-trailing 5 --election-ms 300 --heartbeat-ms 50"
export NSXCTL_BIN=${NSXCTL_BIN:-$here/build/nsxctl}
work=$(mktemp -d /tmp/store_compat.XXXXXX)
export NSXD_DATA=$work/data
lc=$here/deploy/local-cluster.sh
bin=$old

cleanup() { NSXD_BIN=$bin "$lc" stop >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

url() { echo "127.0.0.1:$((NSXD_HTTP_BASE + $1))"; }
# a write to whichever node leads (each node tried, for up to 10 s)
send() { # method path json ok-codes...
    local method=$1 path=$2 body=$3 t n code
    shift 3
    for ((t = 0; t < 100; t++)); do
        for n in 1 2 3; do
            code=$(curl -s -o /dev/null -w '%{http_code}' -m 2 -X "$method" \
                "$(url $n)$path" -H 'Content-Type: application/json' -d "$body" || true)
            for ok in "$@"; do [ "$code" = "$ok" ] && return 0; done
        done
        sleep 0.1
    done
    fail "$method $path $body"
}
put() { send POST /kv/put "{\"key\": \"$1\", \"value\": \"$2\"}" 200 201; }
del() { send DELETE /kv/delete "{\"key\": \"$1\"}" 200 404; }
sget() { curl -s -m 2 "$(url "$1")/kv/get?key=$2&stale=true"; }
digest() { curl -s -m 5 "$(url "$1")/debug/digest"; }
# the key count and digest, not the applied index (a new leader's no-op
# moves it)
pairs_of() { sed 's/.*"keys"/"keys"/'; }
wait_value() { # node key value: the node's own data shows it (20 s)
    local t
    for ((t = 0; t < 200; t++)); do
        sget "$1" "$2" | grep -q "\"$3\"" && return 0
        sleep 0.1
    done
    fail "n$1 never showed $2=$3"
}

echo "== 1. $old writes"
bin=$old
NSXD_BIN=$bin "$lc" start 3
for i in $(seq 0 59); do put "k$i" "v$i"; done
NSXD_BIN=$bin "$lc" stop 3
for i in $(seq 60 159); do put "k$i" "v$i"; done
for i in $(seq 0 9); do del "k$i"; done
put k159 last
NSXD_BIN=$bin "$lc" restart 3
for n in 1 2 3; do wait_value $n k159 last; done
sleep 1
for n in 1 2 3; do digest $n | pairs_of >"$work/digest.$n"; done
grep -q '"keys": 150' "$work/digest.3" || fail "n3: $(cat "$work/digest.3")"
NSXD_BIN=$bin "$lc" stop
grep -q "installed the snapshot" "$NSXD_DATA/n3.log" ||
    fail "n3 installed no snapshot: the test would not cover generation 1"

echo "== 2. $new reads"
bin=$new
NSXD_BIN=$bin "$lc" start 3
upgraded=0
grep -q "upgraded the database from format 1" "$NSXD_DATA/n1.log" && upgraded=1
for n in 1 2 3; do
    d=
    for ((t = 0; t < 50; t++)); do d=$(digest $n) && [ -n "$d" ] && break; sleep 0.1; done
    if [ $upgraded = 1 ]; then
        # the same keys; every upgraded replica the same records
        echo "$d" | grep -q '"keys": 150' || fail "n$n: $d"
        echo "$d" | pairs_of >"$work/new.$n"
        cmp -s "$work/new.1" "$work/new.$n" ||
            fail "n$n upgraded differently: $d, n1 $(cat "$work/new.1")"
    else
        [ "$(echo "$d" | pairs_of)" = "$(cat "$work/digest.$n")" ] ||
            fail "n$n: $d, was $(cat "$work/digest.$n")"
    fi
    for i in $(seq 0 9); do
        sget $n "k$i" | grep -q '"found": *false\|not_found' || fail "n$n: k$i should be gone: $(sget $n "k$i")"
    done
    for i in $(seq 10 158); do
        sget $n "k$i" | grep -q "\"v$i\"" || fail "n$n: k$i: $(sget $n "k$i")"
    done
    sget $n k159 | grep -q '"last"' || fail "n$n: k159"
    if [ $upgraded = 1 ]; then
        sget $n k10 | grep -q '"create_index": 0, "mod_index": 0, "version": 0' ||
            fail "n$n: k10 should have an unknown history: $(sget $n k10)"
    fi
    echo "n$n: $([ $upgraded = 1 ] && echo "upgraded: ")digest and all 160 keys as written"
done
for i in $(seq 200 239); do put "k$i" "w$i"; done
put k10 again
for n in 1 2 3; do wait_value $n k10 again; done
if [ $upgraded = 1 ]; then
    sget 1 k239 | grep -q '"version": 1' || fail "k239: $(sget 1 k239)"
    sget 1 k10 | grep -q '"create_index": 0, "mod_index": [1-9][0-9]*, "version": 1' ||
        fail "k10 after an upgrade and a put: $(sget 1 k10)"
    # a format-2 snapshot: node 3 away while the log compacts
    NSXD_BIN=$bin "$lc" stop 3
    for i in $(seq 300 359); do put "k$i" "x$i"; done
    put k300 twice
    NSXD_BIN=$bin "$lc" restart 3
    for n in 1 2 3; do wait_value $n k300 twice; done
    sleep 1
    for n in 1 2 3; do digest $n | pairs_of >"$work/snap.$n"; done
    for n in 2 3; do
        cmp -s "$work/snap.1" "$work/snap.$n" ||
            fail "n$n differs after the snapshot: $(cat "$work/snap.$n"), n1 $(cat "$work/snap.1")"
    done
    [ "$(grep -c "installed the snapshot" "$NSXD_DATA/n3.log")" -ge 2 ] ||
        fail "n3 installed no format-2 snapshot"
    sget 3 k300 | grep -q '"version": 2' || fail "n3: k300: $(sget 3 k300)"
    echo "a format-2 snapshot: n3 agrees, metadata included"
fi
NSXD_BIN=$bin "$lc" stop

if [ $upgraded = 1 ]; then
    echo "== 3. $old refuses what $new upgraded"
    bin=$old
    if NSXD_BIN=$bin "$lc" restart 1 2>/dev/null; then
        fail "OLD answered on a format-2 directory"
    fi
    grep -q "unknown storage format version" "$NSXD_DATA/n1.log" ||
        fail "OLD's refusal does not say why: $(tail -3 "$NSXD_DATA/n1.log")"
    echo "OLD refused: $(grep -m1 "unknown storage format version" "$NSXD_DATA/n1.log")"
    NSXD_BIN=$bin "$lc" stop >/dev/null 2>&1 || true
    echo "store_compat_test: OK (format 1 -> 2, one way)"
    exit 0
fi

echo "== 3. $old reads what $new wrote"
bin=$old
NSXD_BIN=$bin "$lc" start 3
for n in 1 2 3; do
    wait_value $n k239 w239
    for i in 10 100 158 200 239; do
        sget $n "k$i" | grep -q "\"[vw]$i\"\|again" || fail "n$n: k$i"
    done
done
NSXD_BIN=$bin "$lc" stop
echo "store_compat_test: OK"
