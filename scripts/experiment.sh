#!/usr/bin/env bash
# Fault-tolerance experiments, one command each, on either cluster kind:
#
#   scripts/experiment.sh local|compose leader-stop    stop the leader
#   scripts/experiment.sh local|compose leader-kill    kill -9 the leader
#   scripts/experiment.sh local|compose leader-pause   freeze the leader
#   scripts/experiment.sh local|compose limits         2 of 3 up, then 1 of 3
#   scripts/experiment.sh local|compose partition      cut the leader off,
#                                                      a one-way link loss, heal
#   scripts/experiment.sh local|compose all
#   scripts/experiment.sh faults partition|limits|...|all
#                                         the local cluster, partitions and
#                                         stops through nsxd's own fault
#                                         injection: no root, no Docker
#                                         (--faults is the same as faults)
#
# Each starts a fresh 3-node cluster, runs a small workload (a write every
# 50 ms through nsxctl, which follows leader hints; acknowledged writes are
# recorded), says what it does and what it expects, checks it, and at the
# end reads back every acknowledged write. Exit status non-zero if the
# cluster misbehaved. It stops what it started.
#
# local: deploy/local-cluster.sh (each node's Raft traffic on its own
# 127.0.0.x; partitions are iptables rules between those addresses only, in
# a chain of our own, NSXD-EXP, removed at the end; needs root).
# compose: docker compose (partitions: docker network disconnect/connect and
# iptables rules on the containers' addresses in DOCKER-USER).
# faults: the local cluster (which runs with --enable-faults), partitions
# made by POST /debug/fault on the nodes themselves (isolate; a one-way
# cut is a drop "out" on the sender), stops by POST /debug/stop and
# `local-cluster.sh restart`; dropped packets are the nodes'
# nsxd_fault_messages_dropped_total.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/tests/lib/lib.sh"
kind=${1:-}; shift || true
[ "$kind" = --faults ] && kind=faults
faults=0
[ "$kind" = faults ] && { faults=1; kind=local; export NSXD_FAULTS=1; }
[ "$kind" = local ] || [ "$kind" = compose ] || { sed -n '2,26p' "$0"; exit 2; }
[ $# -gt 0 ] || set -- all
[ "$1" = all ] && set -- leader-stop leader-kill leader-pause limits partition
ctl="$here/build/nsxctl"
[ -x "$ctl" ] || { echo "no $ctl: run 'make' first"; exit 2; }
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo -n"

# -------------------------------------------------------------------------
# The two cluster kinds, behind one set of functions

export NSXD_HTTP_BASE=${NSXD_HTTP_BASE:-8000}
export NSXD_PEER_BASE=${NSXD_PEER_BASE:-9000}
project=nsxdexp
if docker compose version >/dev/null 2>&1; then dc=(docker compose -p $project); else dc=(docker-compose -p $project); fi

http_port() { echo $((NSXD_HTTP_BASE + $1)); }

c_up() {
    if [ "$kind" = local ]; then
        export NSXD_DATA=$(mktemp -d /tmp/nsxd-exp.XXXXXX)
        "$here/deploy/local-cluster.sh" start 3 >/dev/null
    else
        (cd "$here" && "${dc[@]}" up -d --build >/tmp/nsxd-exp-compose.log 2>&1)
    fi
}
c_down() {
    c_heal
    if [ "$kind" = local ]; then
        "$here/deploy/local-cluster.sh" stop >/dev/null 2>&1
        if [ "$fails" -eq "${fails_before:-0}" ]; then rm -rf "$NSXD_DATA"
        else echo "  (logs kept in $NSXD_DATA)"; fi
    else
        (cd "$here" && "${dc[@]}" down -v >/dev/null 2>&1)
    fi
}
c_do() {   # stop|kill|pause|resume|start N
    if [ "$faults" = 1 ] && [ "$1" = stop ]; then
        # the node stops itself (as on SIGTERM); wait until it is gone
        local pid i; pid=$(cat "$NSXD_DATA/n$2.pid" 2>/dev/null)
        f_post "$2" /debug/stop '' >/dev/null
        for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        return
    fi
    if [ "$kind" = local ]; then
        case $1 in start) "$here/deploy/local-cluster.sh" restart "$2" ;;
        *) "$here/deploy/local-cluster.sh" "$1" "$2" ;; esac >/dev/null
    else
        # the docker CLI directly: Compose v1 takes about a second to start
        local c="${project}_node${2}_1"
        case $1 in
        stop) docker stop -t 10 "$c" ;;
        kill) docker kill -s KILL "$c" ;;
        pause) docker pause "$c" ;;
        resume) docker unpause "$c" ;;
        start) docker start "$c" ;;
        esac >/dev/null 2>&1
    fi
}
addr_of() {   # the address node N's Raft traffic uses
    if [ "$kind" = local ]; then echo "127.0.0.$((10 + $1))"
    else docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "${project}_node${1}_1"; fi
}
chain() { [ "$kind" = local ] && echo NSXD-EXP || echo DOCKER-USER; }
f_post() {   # N path body: POST to node N -> HTTP status
    curl -sS -m 5 -o /dev/null -w '%{http_code}' -X POST "127.0.0.1:$(http_port "$1")$2" \
        -H 'Content-Type: application/json' -d "$3" 2>/dev/null
}
f_dropped() {   # every node's nsxd_fault_messages_dropped_total, summed
    local n; for n in 1 2 3; do
        curl -sS -m 2 "127.0.0.1:$(http_port "$n")/metrics" 2>/dev/null
    done | awk '/^nsxd_fault_messages_dropped_total/ {n += $2} END {print n + 0}'
}
c_cut() {   # A B: drop every packet from A's address to B's
    if [ "$faults" = 1 ]; then
        drop_base=$(f_dropped)   # counters are totals: count from here
        f_post "$1" /debug/fault "{\"action\":\"drop\",\"peer\":$2,\"direction\":\"out\"}" >/dev/null
        return
    fi
    local a b; a=$(addr_of "$1"); b=$(addr_of "$2")
    if [ "$kind" = local ]; then
        $sudo iptables -N NSXD-EXP 2>/dev/null
        $sudo iptables -C INPUT -j NSXD-EXP 2>/dev/null || $sudo iptables -I INPUT -j NSXD-EXP
    fi
    $sudo iptables -I "$(chain)" -s "$a" -d "$b" -j DROP -m comment --comment nsxd-exp
}
c_isolate() {   # N: cut both ways from everyone
    if [ "$faults" = 1 ]; then f_post "$1" /debug/fault '{"action":"isolate"}' >/dev/null; return; fi
    if [ "$kind" = compose ]; then
        docker network disconnect "${project}_default" "${project}_node${1}_1"
        return
    fi
    local o; for o in 1 2 3; do [ "$o" = "$1" ] && continue; c_cut "$1" "$o"; c_cut "$o" "$1"; done
}
c_heal() {
    if [ "$faults" = 1 ]; then
        local n; for n in 1 2 3; do f_post "$n" /debug/fault '{"action":"clear"}' >/dev/null; done
        return
    fi
    if [ "$kind" = local ]; then
        if $sudo iptables -L NSXD-EXP >/dev/null 2>&1; then
            $sudo iptables -D INPUT -j NSXD-EXP 2>/dev/null
            $sudo iptables -F NSXD-EXP; $sudo iptables -X NSXD-EXP
        fi
    else
        # remove exactly our rules from DOCKER-USER, and reconnect nodes
        while read -r n; do $sudo iptables -D DOCKER-USER "$n"; done < <(
            $sudo iptables -L DOCKER-USER --line-numbers 2>/dev/null | awk '/nsxd-exp/ {print $1}' | sort -rn)
        local n; for n in 1 2 3; do
            docker network connect --alias "node$n" "${project}_default" "${project}_node${n}_1" 2>/dev/null || true
        done
    fi
}

# -------------------------------------------------------------------------
# Observing

role() { hfield "$1" .role; }
term() { hfield "$1" .term; }
others() { echo 1 2 3 | tr ' ' '\n' | grep -v "^$1$" | tr '\n' ' '; }
put() {   # N key value -> HTTP status
    curl -sS -m 5 -o /dev/null -w '%{http_code}' -X POST "127.0.0.1:$(http_port "$1")/kv/put" \
        -H 'Content-Type: application/json' -d "{\"key\":\"$2\",\"value\":\"$3\"}" 2>/dev/null
}
put_local() {   # N key value: write through node N's own API, even when N
                #  is cut off from the host (compose) -> HTTP status or "exit N"
    if [ "$kind" = local ]; then put "$@"; return; fi
    if docker exec "${project}_node${1}_1" nsxctl --endpoints 127.0.0.1:8000 \
        --timeout 4000 put "$2" "$3" >/dev/null 2>&1; then echo 200; else echo "exit $?"; fi
}
dropped() {   # packets our cut rules have dropped so far
    if [ "$faults" = 1 ]; then echo $(( $(f_dropped) - ${drop_base:-0} )); return; fi
    $sudo iptables -L "$(chain)" -v -n -x 2>/dev/null | awk '/nsxd-exp/ {n += $1} END {print n + 0}'
}
get() {   # N query -> body
    curl -sS -m 5 "127.0.0.1:$(http_port "$1")/kv/get?$2" 2>/dev/null
}

say() { echo "  $*"; }
expect() { echo "  expect: $*"; }
verdict() {   # description, test...
    local what=$1; shift
    if "$@"; then echo "  PASS $what"; else echo "  FAIL $what"; fails=$((fails + 1)); fi
}

# Read a key back, linearizably. Right after a fault heals, leadership may
# still move once (503/409: "unavailable", nsxctl exits 3): retry for up to
# 10 s. Only a missing key or a wrong value counts as lost.
read_back() {   # key -> value on stdout, or nothing
    local i out rc
    for ((i = 0; i < 50; i++)); do
        out=$("$ctl" --endpoints "$(eps)" --timeout 2000 get "$1" 2>/dev/null); rc=$?
        [ $rc -ne 3 ] && { echo "$out"; return; }
        sleep 0.2
    done
}

# The workload: a write every 50 ms, acknowledged keys recorded.
wl_start() {
    acked=$(mktemp); (
        i=0 parent=$$
        while kill -0 "$parent" 2>/dev/null; do   # ends with the experiment
            i=$((i + 1))
            "$ctl" --endpoints "$(eps)" --timeout 3000 put "wl-$i" "v$i" >/dev/null 2>&1 && echo "wl-$i v$i" >>"$acked"
            sleep 0.05
        done
    ) &
    wl_pid=$!
}
wl_stop_and_check() {
    kill "$wl_pid" 2>/dev/null; wait "$wl_pid" 2>/dev/null
    local n missing=0 k v got
    n=$(wc -l <"$acked")
    while read -r k v; do
        got=$(read_back "$k")
        [ "$got" = "$v" ] || { missing=$((missing + 1)); say "lost: $k ($got)"; }
    done <"$acked"
    verdict "workload: all $n acknowledged writes are present" test "$missing" = 0 -a "$n" -gt 0
    rm -f "$acked"
}

# -------------------------------------------------------------------------
# The experiments

exp_leader_loss() {   # how: stop|kill|pause
    local how=$1 L L2 t0 t1
    L=$(leader_of 1 2 3)
    say "leader is node$L; now: $how it"
    expect "the other two elect a new leader within 2 s; writes go on; nothing acknowledged is lost"
    # kill and pause: the clock starts when the leader is gone. stop: from
    # the command, while it runs (a stopping node hands over at once but
    # takes a moment to exit).
    local doer=""
    if [ "$how" = stop ]; then
        t0=$(date +%s%N); c_do stop "$L" & doer=$!
    else
        c_do "$how" "$L"; t0=$(date +%s%N)
    fi
    L2=$(leader_of $(others "$L")); t1=$(date +%s%N)
    [ -n "$doer" ] && wait $doer
    verdict "node$L2 leads after $(( (t1 - t0) / 1000000 )) ms" test -n "$L2" -a $(( (t1 - t0) / 1000000 )) -lt 2000
    sleep 1
    verdict "writes are acknowledged by the new leader" test "$(put "$L2" "after-$how" yes)" = 200
    say "bring node$L back"
    [ "$how" = pause ] && c_do resume "$L" || c_do start "$L"
    local i ok=0
    for ((i = 0; i < 100; i++)); do
        [ "$(get "$L" "key=after-$how&stale=true" | jq -r .value 2>/dev/null)" = yes ] && { ok=1; break; }
        sleep 0.1
    done
    verdict "node$L caught up" test $ok = 1
    verdict "node$L is a follower and node$L2 still leads" test "$(role "$L"):$(role "$L2")" = follower:leader
}

exp_limits() {
    local L F1 F2
    L=$(leader_of 1 2 3); set -- $(others "$L"); F1=$1; F2=$2
    say "stop node$F1: 2 of 3 up"
    expect "writes and linearizable reads work"
    c_do stop "$F1"
    verdict "a write is acknowledged" test "$(put "$L" two-of-three yes)" = 200
    verdict "a linearizable read answers" test "$(get "$L" key=two-of-three | jq -r .value)" = yes
    say "stop node$F2 too: 1 of 3 up"
    expect "writes and linearizable reads refused with 503; stale reads answer and say so"
    c_do stop "$F2"
    sleep 2.5
    local st
    st=$(put "$L" one-of-three x)
    verdict "a write is refused: $st" test "$st" = 503
    st=$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "127.0.0.1:$(http_port "$L")/kv/get?key=two-of-three")
    verdict "a linearizable read is refused: $st" test "$st" = 503
    verdict "a stale read answers, marked stale" \
        test "$(get "$L" "key=two-of-three&stale=true" | jq -r '"\(.value) \(.stale)"')" = "yes true"
    say "heal: start both again"
    expect "a leader again; every acknowledged write present"
    c_do start "$F1"; c_do start "$F2"
    local L2; L2=$(leader_of 1 2 3)
    verdict "node$L2 leads" test -n "$L2"
    verdict "the write made with 2 of 3 is there" test "$(read_back two-of-three)" = yes
}

exp_partition() {
    local L L2 L3 T F st i ok
    L=$(leader_of 1 2 3)
    say "cut node$L (the leader) off from both followers"
    expect "node$L stops acknowledging writes; the other two elect a new leader"
    c_isolate "$L"
    L2=$(leader_of $(others "$L"))
    verdict "the majority side elects node$L2" test -n "$L2"
    st=$(put_local "$L" "to-old-leader" x)
    verdict "the old leader does not acknowledge a write sent to it (got $st)" test "$st" != 200
    verdict "the new leader does" test "$(put "$L2" majority-side yes)" = 200
    T=$(term "$L2")
    say "heal"
    expect "node$L rejoins as a follower without deposing node$L2 (pre-vote, check-quorum): same leader, same term"
    c_heal
    sleep 3
    verdict "node$L2 still leads in term $T" test "$(role "$L2"):$(term "$L2")" = "leader:$T"
    verdict "node$L is a follower" test "$(role "$L")" = follower
    ok=0
    for ((i = 0; i < 50; i++)); do
        [ "$(get "$L" "key=majority-side&stale=true" | jq -r .value 2>/dev/null)" = yes ] && { ok=1; break; }
        sleep 0.1
    done
    verdict "node$L caught up" test $ok = 1
    verdict "the write sent to the isolated old leader was never applied" \
        test "$(get "$L2" key=to-old-leader | jq -r .error)" = not_found
    F=$(others "$L2" | tr ' ' '\n' | head -1)
    say "a one-way link loss: every packet from node$F to node$L2 is dropped"
    expect "a leader remains (the third node still talks to both) and writes go on"
    c_cut "$F" "$L2"
    sleep 3
    verdict "the rule bites: $(dropped) packets dropped" test "$(dropped)" -gt 0
    L3=$(leader_of 1 2 3)
    verdict "node$L3 leads" test -n "$L3"
    verdict "a write is acknowledged" test "$(put "${L3:-$L2}" one-way yes)" = 200
    say "heal"
    c_heal
    sleep 2
    verdict "a leader after healing" test -n "$(leader_of 1 2 3)"
}

trap 'c_down; exit 1' INT TERM
for e in "$@"; do
    echo "== $kind$([ "$faults" = 1 ] && echo ' (faults)'): $e"
    fails_before=$fails
    c_up
    if ! leader_of 1 2 3 >/dev/null; then echo "  FAIL the cluster did not start"; fails=$((fails + 1)); c_down; continue; fi
    wl_start
    case $e in
    leader-stop) exp_leader_loss stop ;;
    leader-kill) exp_leader_loss kill ;;
    leader-pause) exp_leader_loss pause ;;
    limits) exp_limits ;;
    partition) exp_partition ;;
    *) echo "  unknown experiment $e"; fails=$((fails + 1)) ;;
    esac
    c_heal
    wl_stop_and_check
    c_down
done
echo
[ "$faults" = 1 ] && kind="local, faults"
[ $fails -eq 0 ] && echo "experiments ($kind): all passed" || echo "experiments ($kind): $fails FAILED"
exit $(( fails > 0 ))
