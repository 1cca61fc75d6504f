#!/usr/bin/env bash
# store_compat_test.sh OLD_NSXD NEW_NSXD -- data directories written by one
# build open in another (store/store_format.h unchanged), both ways.
#
#   1. OLD runs 3 nodes with a small compaction threshold: 60 PUTs, node 3
#      stopped, 100 more PUTs and 10 DELETEs (the log compacts), node 3
#      back: it gets InstallSnapshot, so its data is in generation 1 ('K'
#      keys, 'g', 'b', 'c'), the others' in generation 0. Each node's
#      /debug/digest is kept; the nodes stop.
#   2. NEW starts on those directories: each node's key count and digest
#      must be OLD's, every key must read back (stale reads: the node's
#      own data), the deleted ones absent; then 40 more PUTs.
#   3. OLD starts again on what NEW wrote and reads the new keys.
#
# Not part of make test (it needs an older build): run it when the store's
# code changes, e.g. with main's build as OLD. Ports: NSXD_HTTP_BASE
# (default 10300), NSXD_PEER_BASE (10400), NSXD_MON_BASE (10500). About
# 2-3 minutes. Every wait is bounded.
set -euo pipefail
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
for n in 1 2 3; do
    d=
    for ((t = 0; t < 50; t++)); do d=$(digest $n) && [ -n "$d" ] && break; sleep 0.1; done
    [ "$(echo "$d" | pairs_of)" = "$(cat "$work/digest.$n")" ] ||
        fail "n$n: $d, was $(cat "$work/digest.$n")"
    for i in $(seq 0 9); do
        sget $n "k$i" | grep -q '"found": *false\|not_found' || fail "n$n: k$i should be gone: $(sget $n "k$i")"
    done
    for i in $(seq 10 158); do
        sget $n "k$i" | grep -q "\"v$i\"" || fail "n$n: k$i: $(sget $n "k$i")"
    done
    sget $n k159 | grep -q '"last"' || fail "n$n: k159"
    echo "n$n: digest and all 160 keys as written"
done
for i in $(seq 200 239); do put "k$i" "w$i"; done
for n in 1 2 3; do wait_value $n k239 w239; done
NSXD_BIN=$bin "$lc" stop

echo "== 3. $old reads what $new wrote"
bin=$old
NSXD_BIN=$bin "$lc" start 3
for n in 1 2 3; do
    wait_value $n k239 w239
    for i in 10 100 158 200 239; do
        sget $n "k$i" | grep -q "\"[vw]$i\"" || fail "n$n: k$i"
    done
done
NSXD_BIN=$bin "$lc" stop
echo "store_compat_test: OK"
