#!/usr/bin/env bash
# Watches on real processes (README, "Watches"):
#
#   (a) 3 nodes, --watch-history 200. Two watchers (nsxctl watch --prefix
#       w/ --json, long polls): one on a follower, one on the leader. A
#       writer puts w/1, w/2, ... through any live node (?forward=true),
#       some in transactions of three keys, recording each acknowledged
#       write's index; midway the leader is killed with kill -9: the
#       leader's watcher resumes on another node from its last index.
#       Every acknowledged write must be in each watcher's output exactly
#       once, with its index, and the events in index order (within an
#       entry, in the txn's order). More than 200 events pass, so each
#       node's ring wraps round.
#   (b) a watch from index 1 is answered 410 (nsxctl exits 5, saying to
#       re-read); the client re-reads with /kv/range, which reports its
#       index, watches from there and sees the next write, once.
#   (c) server-sent events through curl -N on a follower: a write shows
#       as "event: put", its data and "id: <index>".
#   (d) a browser's EventSource (headless chromium, when installed; said
#       SKIPPED otherwise), from a page of another origin (--watch-cors).
#
#   tests/cluster/watch_test.sh [NSXD_BINARY]
#   WATCH_BUG=1: expect the run to FAIL (used with the planted
#   watch_drop_on_wrap build: make watch-teeth)
#
# Ports: NSXD_HTTP_BASE (5100), NSXD_PEER_BASE (5200), NSXD_MON_BASE
# (5300). Stops only the processes it started (by PID). Every wait is
# bounded.
set -uo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
export NSXD_BIN=${1:-$here/build/nsxd}
export NSXD_HTTP_BASE=${NSXD_HTTP_BASE:-5100}
export NSXD_PEER_BASE=${NSXD_PEER_BASE:-5200}
export NSXD_MON_BASE=${NSXD_MON_BASE:-5300}
# (--watch-cors null: a page opened from a file has the origin "null")
export NSXD_EXTRA_ARGS="--watch-history 200 --watch-cors null ${NSXD_EXTRA_ARGS:-}"
nsxctl=$here/build/nsxctl
lc="$here/deploy/local-cluster.sh"
root=$(mktemp -d /tmp/nsxd-watch.XXXXXX)
export NSXD_DATA=$root/data
. "$here/tests/lib/lib.sh"
writes=${WATCH_WRITES:-150}
watchers=()

cleanup() {
    local p
    for p in ${watchers[@]+"${watchers[@]}"}; do kill "$p" 2>/dev/null; done
    "$lc" stop >/dev/null 2>&1
    if [ $fails -eq 0 ]; then rm -rf "$root"; else echo "logs kept in $root"; fi
}
trap cleanup EXIT

"$lc" start 3 >"$root/start.log" 2>&1 || { fail "cluster start"; exit 1; }
L=$(leader_of) || { fail "a leader"; exit 1; }
F=$((L % 3 + 1))
O=$((F % 3 + 1))
pass "leader n$L, follower n$F"

# (a) ------------------------------------------------------------------
req GET "$F" "/kv/range?prefix=w/&stale=true"
from=$(field .index)
"$nsxctl" --endpoints "$(eps "$F" "$O" "$L")" --json watch --prefix w/ --from "$from" \
    >"$root/w_follower.out" 2>"$root/w_follower.err" &
watchers+=($!)
"$nsxctl" --endpoints "$(eps "$L" "$F" "$O")" --json watch --prefix w/ --from "$from" \
    >"$root/w_leader.out" 2>"$root/w_leader.err" &
watchers+=($!)
sleep 0.3

# put through the live nodes in turn; "I KEY INDEX" per acknowledged key
acked=$root/acked
: >"$acked"
alive_nodes="1 2 3"
put_any() {   # key... (1: a put; 3: a txn of three puts)
    local n st body i
    for n in $alive_nodes $alive_nodes; do
        if [ $# -eq 1 ]; then
            body=$(curl -sS -m 3 -w '\n%{http_code}' -X POST "$(url "$n")/kv/put?forward=true" \
                -d "{\"key\":\"$1\",\"value\":\"v-$1\"}" 2>/dev/null)
        else
            body=$(curl -sS -m 3 -w '\n%{http_code}' -X POST "$(url "$n")/kv/txn?forward=true" \
                -d "{\"success\":[{\"put\":{\"key\":\"$1\",\"value\":\"v-$1\"}},{\"put\":{\"key\":\"$2\",\"value\":\"v-$2\"}},{\"put\":{\"key\":\"$3\",\"value\":\"v-$3\"}}]}" 2>/dev/null)
        fi
        st=${body##*$'\n'}
        body=${body%$'\n'*}
        if [ "$st" = 200 ]; then
            i=$(jq -r .index <<<"$body")
            for k in "$@"; do echo "$k $i" >>"$acked"; done
            return 0
        fi
        # 503 timeout / leadership_lost: the outcome is unknown; not
        # counted as acknowledged (it may still show up, once)
        [ "$st" = 503 ] && return 1
        sleep 0.1
    done
    return 1
}
killed=0
for ((i = 1; i <= writes; i++)); do
    if [ $((i % 5)) -eq 0 ]; then put_any "w/$i.a" "w/$i.b" "w/$i.c"; else put_any "w/$i"; fi
    if [ $i -eq $((writes / 2)) ]; then
        "$lc" kill "$L" >/dev/null 2>&1 && killed=1
        alive_nodes="$F $O"
    fi
done
check "the leader n$L was killed mid-stream" [ $killed -eq 1 ]
n_acked=$(wc -l <"$acked")
check "acknowledged writes: $n_acked (more than the history holds)" [ "$n_acked" -gt 200 ]
last=$(awk '{print $2}' "$acked" | sort -n | tail -1)

# both watchers catch up to the last acknowledged index (bounded)
caught_up() { [ "$(jq -r .index "$1" 2>/dev/null | sort -n | tail -1)" -ge "$last" ] 2>/dev/null; }
check "the follower's watcher reached index $last" wait_for 20 caught_up "$root/w_follower.out"
check "the leader's watcher resumed elsewhere and reached $last" wait_for 20 caught_up "$root/w_leader.out"
for p in "${watchers[@]}"; do kill "$p" 2>/dev/null; done
watchers=()
grep -q "resuming on" "$root/w_leader.err" && pass "the leader's watcher said where it resumed: $(grep -m1 'resuming on' "$root/w_leader.err")" \
    || fail "the leader's watcher never resumed"

verify() {   # name output
    local name=$1 out=$2
    jq -r '"\(.key) \(.index)"' "$out" >"$out.ki" 2>/dev/null
    local dup missing order
    dup=$(sort "$out.ki" | uniq -d | wc -l)
    missing=$(sort "$acked" | comm -23 - <(sort "$out.ki") | wc -l)
    order=$(awk '{print $2}' "$out.ki" | awk 'NR > 1 && $1 < p {bad++} {p = $1} END {print bad + 0}')
    check "$name: no event twice ($dup duplicated)" [ "$dup" -eq 0 ]
    check "$name: every acknowledged write seen ($missing of $n_acked missing)" [ "$missing" -eq 0 ]
    check "$name: events in index order ($order out of order)" [ "$order" -eq 0 ]
    # a txn's three events: one index, in the txn's order
    local txn_bad
    txn_bad=$(grep -E '^w/[0-9]+\.[abc] ' "$out.ki" | awk '{split($1, k, "."); print k[1], $2, k[2]}' |
        awk '{ if ($1 == p) { if ($2 != pi || $3 <= pk) bad++ } p = $1; pi = $2; pk = $3 } END {print bad + 0}')
    check "$name: each txn's events share its index, in its order" [ "$txn_bad" -eq 0 ]
    [ "$missing" -eq 0 ] || sort "$acked" | comm -23 - <(sort "$out.ki") | head -5 | sed 's/^/    missing: /'
}
verify "follower's watcher" "$root/w_follower.out"
verify "leader's watcher" "$root/w_leader.out"

# (b) ------------------------------------------------------------------
"$nsxctl" --endpoints "$(ep "$F")" watch --prefix w/ --from 1 >/dev/null 2>"$root/w410.err"
rc=$?
check "a watch from index 1: 410, nsxctl exits 5 ($rc)" [ $rc -eq 5 ]
grep -q "re-read" "$root/w410.err" && pass "it says to re-read: $(head -c 160 "$root/w410.err")" || fail "no advice on 410"
req GET "$F" "/kv/watch?prefix=w/&from_index=1"
check "410 {compacted, oldest_index, index}" \
    [ "$status" = 410 -a "$(field .error)" = compacted -a "$(field .oldest_index)" -gt 1 ]
# recover: re-read (the range's index), watch from there
req GET "$F" "/kv/range?prefix=w/&limit=1000"
r_index=$(field .index)
check "the re-read holds the acknowledged keys" [ "$(field .count)" -ge 200 ]
"$nsxctl" --endpoints "$(eps "$F" "$O")" --json watch --prefix w/ --from "$r_index" --count 1 \
    >"$root/w_after.out" 2>&1 &
wp=$!
watchers+=($wp)
sleep 0.3
put_any "w/after"
wait_for 10 grep -q '"w/after"' "$root/w_after.out"
check "after re-reading, the watch from its index sees the next write" grep -q '"key":"w/after"' "$root/w_after.out"
check "... and nothing older" [ "$(jq -r .index "$root/w_after.out" | sort -n | head -1)" -gt "$r_index" ]

# (c) ------------------------------------------------------------------
req GET "$F" "/kv/watch?key=sse/k&timeout_ms=0"
sfrom=$(field .index)
curl -sN -m 4 "$(url "$F")/kv/watch?key=sse/k&from_index=$sfrom" -H 'Accept: text/event-stream' \
    >"$root/sse.out" 2>/dev/null &
sp=$!
sleep 0.3
put_any "sse/k"
si=$(tail -1 "$acked" | awk '{print $2}')
wait $sp 2>/dev/null
check "curl -N: event: put, its data, id: $si" \
    grep -qzP "event: put\ndata: \\{\"type\": \"put\", \"key\": \"sse/k\"[^\n]*\"index\": $si[^\n]*\nid: $si\n\n" "$root/sse.out"

# (d) ------------------------------------------------------------------
if command -v chromium >/dev/null 2>&1; then
    req GET "$F" "/kv/watch?key=browser/k&timeout_ms=0"
    bfrom=$(field .index)
    put_any "browser/k"
    b1=$(tail -1 "$acked" | awk '{print $2}')
    put_any "browser/k"
    b2=$(tail -1 "$acked" | awk '{print $2}')
    cat >"$root/page.html" <<PAGE
<html><body><pre id="out"></pre><script>
var es = new EventSource("$(url "$F")/kv/watch?key=browser/k&from_index=$bfrom");
var out = document.getElementById("out"), n = 0;
es.addEventListener("put", function (e) {
  out.textContent += "put " + e.lastEventId + " " + JSON.parse(e.data).key + "\\n";
  if (++n == 2) es.close();
});
es.onerror = function () { out.textContent += "error\\n"; es.close(); };
</script></body></html>
PAGE
    timeout 60 chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=5000 \
        --dump-dom "file://$root/page.html" >"$root/dom.html" 2>/dev/null
    check "a browser's EventSource got both events with their ids ($b1, $b2)" \
        grep -qzP "put $b1 browser/k\nput $b2 browser/k\n" "$root/dom.html"
else
    echo "SKIPPED the browser's EventSource: no chromium (apt-get install chromium)"
fi

if [ "${WATCH_BUG:-0}" = 1 ]; then
    echo
    if [ $fails -gt 0 ]; then echo "watch_test (planted bug): caught ($fails FAILED)"; fails=0; exit 0; fi
    echo "watch_test (planted bug): NOT caught"; fails=1; exit 1
fi
lib_summary watch_test
