#!/usr/bin/env bash
# The space quota and full disks, on real processes (README, "Space quota"):
#
#   (a) 3 nodes with a small --quota-bytes: PUTs until 507 no_space (and a
#       refused PUT is never proposed: the commit index stays), GET and
#       DELETE still work, /health and /metrics show the alarm on every
#       node; delete most keys: compaction brings the data back under 90%
#       of the quota, the alarm clears by itself and PUTs work again; every
#       acknowledged key still reads back with its value.
#   (b) (root only) every node's data directory on its own small tmpfs,
#       the quota left far above it: write until the disks are full. Each
#       node must refuse or stop cleanly (a "storage: ... stopping" line in
#       its log), not one acknowledged write may be lost; after the
#       tmpfs grow (mount -o remount,size=) and the nodes restart, every
#       acknowledged key reads back and writes work again.
#
#   tests/cluster/quota_test.sh [NSXD_BINARY]     QUOTA_PARTS="a b" (default)
#
# Ports: NSXD_HTTP_BASE (17300), NSXD_PEER_BASE (17400), NSXD_MON_BASE
# (17500). Each check prints PASS or FAIL; exits non-zero on any FAIL;
# stops only the processes it started and unmounts what it mounted (trap).
# Every loop is bounded in time.
set -uo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
export NSXD_BIN=${1:-$here/build/nsxd}
export NSXD_HTTP_BASE=${NSXD_HTTP_BASE:-17300}
export NSXD_PEER_BASE=${NSXD_PEER_BASE:-17400}
export NSXD_MON_BASE=${NSXD_MON_BASE:-17500}
parts=${QUOTA_PARTS:-a b}
quota=${QUOTA_BYTES:-4194304}
lc="$here/deploy/local-cluster.sh"
root=$(mktemp -d /tmp/nsxd-quota.XXXXXX)
. "$here/tests/lib/lib.sh"
mounted=()

cleanup() {
    [ -n "${NSXD_DATA:-}" ] && "$lc" stop >/dev/null 2>&1
    local m
    for m in ${mounted[@]+"${mounted[@]}"}; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; done
    if [ $fails -eq 0 ]; then rm -rf "$root"; else echo "logs kept in $root"; fi
}
trap cleanup EXIT
# put NODE KEY VALUE: prints the HTTP status, the body in $root/body
put() {
    curl -sS -m 5 -o "$root/body" -w '%{http_code}' -X POST "$(url "$1")/kv/put" \
        -H 'Content-Type: application/json' -d "{\"key\":\"$2\",\"value\":\"$3\"}" 2>/dev/null
}
del() {
    curl -sS -m 5 -o "$root/body" -w '%{http_code}' -X DELETE "$(url "$1")/kv/delete" \
        -H 'Content-Type: application/json' -d "{\"key\":\"$2\"}" 2>/dev/null
}
get() { curl -sS -m 5 "$(url "$1")/kv/get?key=$2" 2>/dev/null | jq -r '.value // "MISSING"'; }
# Values: LevelDB compresses its tables (Snappy), so they must not be
# compressible, or the quota would take far more data than the test
# means: 16 random base64 strings of VSIZE bytes; key kI's value is "I-"
# and string I mod 16.
vsize=${VSIZE:-16384}
pool=()
for ((i = 0; i < 16; i++)); do
    pool+=("$(head -c "$vsize" /dev/urandom | base64 -w0 | head -c "$vsize")")
done
value() { echo "$1-${pool[$(($1 % 16))]}"; }
# batch OP NODE FILE: one curl, one keep-alive connection, for each number I
# in FILE in order: OP (put, del, get) key kI, or (small) put sI = I; prints one line per request:
# "I STATUS" for put and del, "I VALUE-or-MISSING" for get.
batch() {
    local op=$1 n=$2 i
    {
        while read -r i; do
            case $op in
            put) printf 'url = "%s/kv/put"\nrequest = "POST"\nheader = "Content-Type: application/json"\ndata = "{\\"key\\":\\"k%s\\",\\"value\\":\\"%s\\"}"\n' \
                     "$(url "$n")" "$i" "$(value "$i")" ;;
            del) printf 'url = "%s/kv/delete"\nrequest = "DELETE"\nheader = "Content-Type: application/json"\ndata = "{\\"key\\":\\"k%s\\"}"\n' \
                     "$(url "$n")" "$i" ;;
            small) printf 'url = "%s/kv/put"\nrequest = "POST"\nheader = "Content-Type: application/json"\ndata = "{\\"key\\":\\"s%s\\",\\"value\\":\\"%s\\"}"\n' \
                     "$(url "$n")" "$i" "$i" ;;
            get) printf 'url = "%s/kv/get?key=k%s"\n' "$(url "$n")" "$i" ;;
            esac
            [ "$op" = get ] || printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
            printf 'next\n'
        done <"$3"
    } >"$root/curl.cfg"
    if [ "$op" = get ]; then
        paste -d' ' "$3" <(curl -sS -m 120 -K "$root/curl.cfg" 2>/dev/null | jq -r '.value // "MISSING"')
    else
        paste -d' ' "$3" <(curl -sS -m 120 -K "$root/curl.cfg" 2>/dev/null)
    fi
}
# lost NODE FILE: how many keys listed in FILE do not read back (linearizable
# reads on NODE, the leader) with their value
lost() {
    local bad=0 i v
    while read -r i v; do
        [ "$v" = "$(value "$i")" ] || { bad=$((bad + 1)); [ $bad -le 3 ] && echo "   k$i lost (${v:0:20}...)" >&2; }
    done < <(batch get "$1" "$2")
    echo "$bad"
}

part_a() {
    export NSXD_DATA="$root/a"
    export NSXD_EXTRA_ARGS="--quota-bytes $quota --compact-entries 100 --compact-trailing 20"
    echo "== (a) 3 nodes, --quota-bytes $quota, $vsize-byte values"
    "$lc" start 3 >/dev/null || { fail "cluster starts"; return; }
    local i L; L=$(leader_of)
    check "a leader (n$L)" test -n "$L"
    [ -n "$L" ] || return
    check "/metrics: nsxd_quota_bytes $quota" test "$(metric "$L" nsxd_quota_bytes)" = "$quota"
    # item 5 first: a follower away while the leader compacts past it gets
    # a snapshot, and its /health says which, from whom, when
    local F=$(( L % 3 + 1 )) h
    check "n$F: no snapshot installed yet" test "$(health "$F" | jq -r .last_snapshot_installed)" = null
    "$lc" stop "$F" >/dev/null
    seq 1 300 >"$root/ids"
    batch small "$L" "$root/ids" >"$root/st"
    check "300 small PUTs while n$F is away" test "$(awk '$2 == 200' "$root/st" | wc -l)" = 300
    local lbase; lbase=$(health "$L" | jq -r .log.base_index)
    "$lc" restart "$F" >/dev/null
    for ((i = 0; i < 100; i++)); do
        h=$(health "$F")
        [ "$(jq -r '.last_snapshot_installed.index // 0' <<<"$h")" -ge "$lbase" ] 2>/dev/null && break
        sleep 0.1
    done
    check "n$F /health last_snapshot_installed: $(jq -c .last_snapshot_installed <<<"$h") (leader's base $lbase)" \
        test "$(jq -r --argjson b "$lbase" --argjson l "$L" --argjson now "$(date +%s%3N)" \
            '.last_snapshot_installed | .index >= $b and .term >= 1 and .from == $l and ($now - .at_unix_ms) < 60000' <<<"$h")" = true
    check "n$F /health log after it: $(jq -c .log <<<"$h")" \
        test "$(jq -r '.log.base_index == .last_snapshot_installed.index or .log.base_index > .last_snapshot_installed.index' <<<"$h")" = true
    : >"$root/acked-a"
    local st=000 t0=$SECONDS from=1 first507=
    # 20 at a time until one is refused and, 2.5 s later (a compaction in
    # between may give back what was garbage, and clear the alarm: then
    # go on), refused still: live data over the quota. At most 4 times
    # the quota's worth.
    while [ $from -le $((4 * quota / vsize)) ] && [ $((SECONDS - t0)) -lt 180 ]; do
        seq "$from" $((from + 19)) >"$root/ids"
        batch put "$L" "$root/ids" >"$root/st"
        awk '$2 == 200 { print $1 }' "$root/st" >>"$root/acked-a"
        from=$((from + 20))
        grep -q ' 507$' "$root/st" || continue
        first507=${first507:-$(wc -l <"$root/acked-a")}
        sleep 2.5
        echo "$from" >"$root/ids"
        batch put "$L" "$root/ids" >"$root/st"
        awk '$2 == 200 { print $1 }' "$root/st" >>"$root/acked-a"
        from=$((from + 1))
        grep -q ' 507$' "$root/st" && { st=507; break; }
    done
    echo "   first 507 after $first507 PUTs; refused for good after $(wc -l <"$root/acked-a")"
    local n_acked; n_acked=$(wc -l <"$root/acked-a")
    check "PUTs refused with 507 after $n_acked acknowledged (db $(metric "$L" nsxd_db_size_bytes) bytes)" test "$st" = 507
    st=$(put "$L" "refused0" "$(value 0)")
    check "the body is {\"error\":\"no_space\"} ($(cat "$root/body"))" \
        test "$(jq -r .error "$root/body" 2>/dev/null)" = no_space
    local c0; c0=$(health "$L" | jq -r .commit)
    for i in 1 2 3 4 5; do st=$(put "$L" "refused$i" "$(value 0)"); done
    sleep 0.3
    check "5 more PUTs refused (507, last $st), nothing proposed: commit stays $c0" \
        test "$st" = 507 -a "$(health "$L" | jq -r .commit)" = "$c0"
    check "a refused key is not there" test "$(get "$L" refused1)" = MISSING
    local first; first=$(head -1 "$root/acked-a")
    check "GET still works" test "$(get "$L" "k$first")" = "$(value "$first")"
    local n h a
    # the leader's alarm refuses; each follower holds its own against its
    # own disk (its size differs: memtable flushes, compactions, and the
    # copy the leader keeps for an InstallSnapshot), and shows it
    for n in 1 2 3; do
        h=$(health "$n")
        a=$(jq -r .quota.alarm <<<"$h")
        [ "$n" = "$L" ] && a_want=true || a_want=$a
        check "n$n /health quota: $(jq -c .quota <<<"$h")" \
            test "$a" = "$a_want" -a "$(jq -r '.quota.bytes == '"$quota"' and (.quota.used | type) == "number" and (.quota.fs_free | type) == "number"' <<<"$h")" = true
        check "n$n /metrics: nsxd_alarm_nospace $(metric "$n" nsxd_alarm_nospace), nsxd_db_size_bytes $(metric "$n" nsxd_db_size_bytes)" \
            test "$(metric "$n" nsxd_alarm_nospace)" = "$([ "$a" = true ] && echo 1 || echo 0)"
    done
    check "/health log: $(health "$L" | jq -c .log)" \
        test "$(health "$L" | jq -r '.log.base_index > 0 and .log.entries >= 0 and .log.base_term >= 1')" = true
    check "nsxd_writes_refused_nospace_total $(metric "$L" nsxd_writes_refused_nospace_total) >= 6" \
        test "$(metric "$L" nsxd_writes_refused_nospace_total)" -ge 6
    # delete all but the last 20 acknowledged keys: space comes back
    head -n -20 "$root/acked-a" >"$root/deleted-a"
    tail -n 20 "$root/acked-a" >"$root/kept-a"
    local bad
    bad=$(batch del "$L" "$root/deleted-a" | awk '$2 != 200' | wc -l)
    check "DELETE works under the alarm: $(wc -l <"$root/deleted-a") deleted, $bad refused" test "$bad" = 0
    # within 90 s: a copy the leader took for an InstallSnapshot pins what
    # was deleted after it until it is released, 60 s after its last use
    local ms=0 t1; t1=$(date +%s%N)
    for ((i = 0; i < 900 && $(date +%s%N) - t1 < 90000000000; i++)); do
        [ "$(health "$L" | jq -r .quota.alarm)" = false ] && break
        sleep 0.1
    done
    ms=$(( ($(date +%s%N) - t1) / 1000000 ))
    check "the alarm clears by itself $ms ms after the deletes: $(health "$L" | jq -c .quota)" \
        test "$(health "$L" | jq -r .quota.alarm)" = false
    check "nsxd_alarm_nospace 0" test "$(metric "$L" nsxd_alarm_nospace)" = 0
    st=$(put "$L" "after" "$(value 0)")
    check "PUT works again ($st)" test "$st" = 200
    check "the 20 kept keys read back" test "$(lost "$L" "$root/kept-a")" = 0
    check "a deleted key is gone" test "$(get "$L" "k$first")" = MISSING
    "$lc" stop >/dev/null
    check "no sanitizer report or assertion in any node's log" \
        test -z "$(grep -lE 'AddressSanitizer|runtime error|Assertion' "$NSXD_DATA"/n*.log)"
}

part_b() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "SKIPPED (b): mounting a tmpfs needs root"
        return
    fi
    export NSXD_DATA="$root/b"
    local size=${TMPFS_MB:-8} n
    # default quota (2 GiB): far above the disk, so the disk fills first
    export NSXD_EXTRA_ARGS="--compact-entries 200 --compact-trailing 50"
    echo "== (b) 3 nodes, each on its own ${size} MiB tmpfs, writing until the disks are full"
    for n in 1 2 3; do
        mkdir -p "$NSXD_DATA/n$n"
        if ! mount -t tmpfs -o "size=${size}m" tmpfs "$NSXD_DATA/n$n"; then
            fail "mount a tmpfs on n$n"
            return
        fi
        mounted+=("$NSXD_DATA/n$n")
    done
    "$lc" start 3 >/dev/null || { fail "cluster starts"; return; }
    local L; L=$(leader_of)
    check "a leader (n$L)" test -n "$L"
    [ -n "$L" ] || return
    : >"$root/acked-b"
    local i st miss=0 t0=$SECONDS from=1 ok
    # 20 at a time to whichever node leads, until 3 rounds in a row
    # acknowledge nothing (then every node was asked): the disks are full
    while [ $from -le 100000 ] && [ $miss -lt 3 ] && [ $((SECONDS - t0)) -lt 240 ]; do
        seq "$from" $((from + 19)) >"$root/ids"
        batch put "$L" "$root/ids" >"$root/st"
        awk '$2 == 200 { print $1 }' "$root/st" >>"$root/acked-b"
        ok=$(awk '$2 == 200' "$root/st" | wc -l)
        st=$(awk '$2 != 200 { s = $2 } END { print s }' "$root/st")
        from=$((from + 20))
        if [ "$ok" -eq 0 ]; then
            miss=$((miss + 1))
            L=$(( L % 3 + 1 ))
            sleep 1
        else
            miss=0
        fi
    done
    local n_acked; n_acked=$(wc -l <"$root/acked-b")
    echo "   $n_acked writes acknowledged, then $miss rounds without one (last failure: ${st:-none})"
    check "the cluster stopped acknowledging once the disks were full" test "$miss" -ge 3
    local stopped=0 down n_alive=0 silent=0
    for n in 1 2 3; do
        df -k "$NSXD_DATA/n$n" | awk 'NR == 2 { printf "   n%s: tmpfs %s of %s KiB used\n", "'"$n"'", $3, $2 }'
        down=$(grep -m1 -E "storage: .*No space left on device.*stopping" "$NSXD_DATA/n$n.log")
        # a node whose storage failed exits by itself, within seconds
        for ((i = 0; i < 50; i++)); do
            [ -n "$down" ] && kill -0 "$(cat "$NSXD_DATA/n$n.pid")" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$(cat "$NSXD_DATA/n$n.pid")" 2>/dev/null; then
            n_alive=$((n_alive + 1))
            [ -n "$down" ] && silent=$((silent + 1))
            echo "   n$n: running${down:+ after: $down}"
        elif [ -n "$down" ]; then
            stopped=$((stopped + 1)); echo "   n$n: exited: $down"
        else
            silent=$((silent + 1)); echo "   n$n: exited without saying why"
        fi
        grep -E "AddressSanitizer|runtime error|Assertion|Segmentation" "$NSXD_DATA/n$n.log" >&2 && silent=$((silent + 1))
    done
    check "the nodes that ran out of disk stopped with ENOSPC in their log ($stopped of 3; running $n_alive, without quorum)" \
        test "$stopped" -ge 2 -a "$silent" -eq 0
    "$lc" stop >/dev/null
    echo "== free space: grow every tmpfs to 64 MiB, restart"
    for n in 1 2 3; do mount -o remount,size=64m "$NSXD_DATA/n$n" || fail "grow n$n's tmpfs"; done
    "$lc" start 3 >/dev/null || { fail "cluster restarts"; return; }
    L=$(leader_of)
    check "a leader again (n$L)" test -n "$L"
    [ -n "$L" ] || return
    check "every one of the $n_acked acknowledged writes reads back" test "$(lost "$L" "$root/acked-b")" = 0
    st=$(put "$L" "after" "$(value 0)")
    check "PUT works again ($st)" test "$st" = 200
    "$lc" stop >/dev/null
}

for p in $parts; do "part_$p"; done
lib_summary quota_test
