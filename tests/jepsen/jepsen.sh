#!/usr/bin/env bash
# End-to-end linearizability: a local 3-node cluster, concurrent clients
# (build/jepsen-workload) recording a history, a nemesis injecting faults
# one at a time, then the checker (build/jepsen-check) on the history.
#
#   tests/jepsen/jepsen.sh [--duration S] [--bin NSXD] [--nemesis LIST]
#                          [--clients N] [--readers N] [--timeout-ms MS]
#                          [--out DIR] [--seed N]
#                          [--expect linearizable|violation]
#
# --nemesis: comma-separated kinds, taken in turn (default
# member,kill,partition,pause,powercut,member: a join early in each cycle
# and its removal later):
#   kill              kill -9 a random node, restart it after the hold
#   pause             SIGSTOP a random node, SIGCONT after the hold
#   partition         cut a random node's peer links both ways (iptables)
#   partition-leader  the same, always the leader (make jepsen-teeth)
#   member            join a new node (ids 4, 5, ...); the next time,
#                     remove it (POST /raft/remove) and stop it
#   powercut          tests/powercut/nemesis.sh cut ID: SIGKILL and roll
#                     node ID's files back to what was durable (every node
#                     then runs under the power-cut shim, tests/powercut/);
#                     restart it after the hold. Without the shim built:
#                     SKIPPED, said once.
# The workload: --clients (8) clients doing GET/PUT/compare-and-swap/DELETE
# and following leader hints, half their GETs sent to a random node
# (follower reads), --readers (3) read-only clients pinned one per node, a
# client timeout of --timeout-ms (1000; the node's own deadline is 2 s, so
# a client gives up first and moves on, and the write is indeterminate).
# Each fault is held 2-5 s, followed by 2-4 s of quiet; the last 5 s of the
# run are quiet, so the history ends on a healthy cluster.
#
# Partitions are iptables rules in a chain of our own, NSXD-JEPSEN, that
# match only TCP to or from this cluster's peer ports (other clusters on
# 127.0.0.1x are untouched); the chain is removed on exit and on
# INT/TERM. They need root or passwordless sudo; without, they are skipped
# and said so.
#
# Ports: NSXD_HTTP_BASE (17000), NSXD_PEER_BASE (17100), NSXD_MON_BASE
# (peer base + 100). Output: DIR (default build/jepsen/run-<time>) holds
# history.jsonl, nemesis.log, check.txt, the nodes' logs, and their data
# when the verdict was not the expected one.
# Exit: 0 when the verdict is the one --expect names (default
# linearizable), 1 otherwise.
set -uo pipefail
# nsxd as it ships: deploy/local-cluster.sh turns --enable-faults on for
# people (a teaching cluster) unless NSXD_FAULTS=0 (tests/lib/lib.sh does
# the same for the scripts that source it)
export NSXD_FAULTS=${NSXD_FAULTS:-0}

here=$(cd "$(dirname "$0")/../.." && pwd)
duration=60
bin=$here/build/nsxd
nemesis=member,kill,partition,pause,powercut,member
clients=8
readers=3
timeout_ms=1000
out=
seed=$(date +%s)
expect=linearizable
while [ $# -gt 0 ]; do
    case $1 in
    --duration) duration=$2 ;;
    --bin) bin=$2 ;;
    --nemesis) nemesis=$2 ;;
    --clients) clients=$2 ;;
    --readers) readers=$2 ;;
    --timeout-ms) timeout_ms=$2 ;;
    --out) out=$2 ;;
    --seed) seed=$2 ;;
    --expect) expect=$2 ;;
    *) sed -n '2,45p' "$0"; exit 2 ;;
    esac
    shift 2
done
case $expect in linearizable | violation) ;; *) echo "--expect linearizable|violation" >&2; exit 2 ;; esac
[ "$duration" -ge 10 ] 2>/dev/null || { echo "--duration: at least 10 s" >&2; exit 2; }
for b in "$bin" "$here/build/nsxctl" "$here/build/jepsen-workload" "$here/build/jepsen-check"; do
    [ -x "$b" ] || { echo "jepsen: no $b (make $b)" >&2; exit 2; }
done

export NSXD_HTTP_BASE=${NSXD_HTTP_BASE:-17000}
export NSXD_PEER_BASE=${NSXD_PEER_BASE:-17100}
export NSXD_MON_BASE=${NSXD_MON_BASE:-$((NSXD_PEER_BASE + 100))}
out=${out:-$here/build/jepsen/run-$(date +%Y%m%d-%H%M%S)}
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)
export NSXD_DATA=$out/data NSXD_BIN=$bin
# the powercut nemesis needs every node under the power-cut shim
# (tests/powercut/: nsxd-pc runs $PC_NSXD with pcshim.so preloaded)
case ,$nemesis, in
*,powercut,*)
    if [ -x "$here/tests/powercut/nemesis.sh" ] && [ -e "$here/build/pcshim.so" ] &&
        [ -x "$here/build/pc_rollback" ]; then
        export NSXD_BIN=$here/tests/powercut/nsxd-pc PC_NSXD=$bin PC_BUILD=$here/build
    fi ;;
esac
cluster=$here/deploy/local-cluster.sh
nsxctl=$here/build/nsxctl
chain=NSXD-JEPSEN
RANDOM=$((seed % 32768))

log() {   # a line in nemesis.log and on stdout, with the run's time
    local t; t=$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN {printf "%.3f", n - s}')
    echo "[$t s] $*" | tee -a "$out/nemesis.log"
}

sudo=
can_cut=1
if [ "$(id -u)" -ne 0 ]; then
    if sudo -n true 2>/dev/null; then sudo="sudo -n"; else can_cut=0; fi
fi

http_of() { echo "127.0.0.1:$((NSXD_HTTP_BASE + $1))"; }
peer_ip() { echo "127.0.0.$((10 + $1))"; }
members=(1 2 3)   # the ids in the configuration, as the nemesis left it
extra=0           # a joined node's id, or 0
next_id=4

heal() {
    [ "$can_cut" = 1 ] || return 0
    if $sudo iptables -L "$chain" -n >/dev/null 2>&1; then
        while $sudo iptables -D INPUT -j "$chain" 2>/dev/null; do :; done
        $sudo iptables -F "$chain" && $sudo iptables -X "$chain"
    fi
}
cut_link() {   # A B: drop TCP from A's peer address to B's, this cluster only
    $sudo iptables -N "$chain" 2>/dev/null
    $sudo iptables -C INPUT -j "$chain" 2>/dev/null || $sudo iptables -I INPUT -j "$chain"
    $sudo iptables -A "$chain" -s "$(peer_ip "$1")" -d "$(peer_ip "$2")" -p tcp \
        -m multiport --ports "$((NSXD_PEER_BASE + 1)):$((NSXD_PEER_BASE + 99))" -j DROP
}
isolate() {
    local o
    for o in "${members[@]}"; do
        [ "$o" = "$1" ] && continue
        cut_link "$1" "$o"; cut_link "$o" "$1"
    done
}

workload_pid=
cleanup() {
    [ -n "$workload_pid" ] && kill "$workload_pid" 2>/dev/null
    heal
    local id
    for id in "${members[@]}" "$extra"; do
        [ "$id" = 0 ] && continue
        [ -f "$NSXD_DATA/n$id.pid" ] && kill -CONT "$(cat "$NSXD_DATA/n$id.pid")" 2>/dev/null
    done
    "$cluster" stop >/dev/null 2>&1
}
trap 'cleanup; exit 1' INT TERM
trap cleanup EXIT

role_of() {
    curl -fsS -m 1 "http://$(http_of "$1")/health" 2>/dev/null |
        sed -n 's/.*"role": *"\([a-z_]*\)".*/\1/p'
}
leader() {   # the id of a node that says it leads (3 s), or nothing
    local i id
    for ((i = 0; i < 30; i++)); do
        for id in "${members[@]}"; do
            [ "$(role_of "$id")" = leader ] && { echo "$id"; return; }
        done
        sleep 0.1
    done
}
pick() {   # a random one of 1 2 3 (the original members; never the extra)
    echo $((RANDOM % 3 + 1))
}

heal   # a chain left by a run killed with -9
start=$(date +%s.%N)
"$cluster" start 3 >"$out/cluster.log" 2>&1 || { echo "jepsen: the cluster did not start (see $out)"; exit 1; }
[ -n "$(leader)" ] || { echo "jepsen: no leader within 3 s"; exit 1; }
log "cluster up: $bin, ports $NSXD_HTTP_BASE/$NSXD_PEER_BASE, nemesis $nemesis, seed $seed"

# from here on, nemesis.log's times are the history's (ns since the
# workload started, there in s), give or take the workload's start-up
start=$(date +%s.%N)
log "workload started: times from here on are the history's"
"$here/build/jepsen-workload" --endpoints "$(http_of 1),$(http_of 2),$(http_of 3)" \
    --out "$out/history.jsonl" --clients "$clients" --duration "$duration" \
    --readers "$readers" --timeout-ms "$timeout_ms" \
    --seed "$seed" >"$out/workload.txt" 2>&1 &
workload_pid=$!

IFS=, read -r -a kinds <<<"$nemesis"
said_skip=" "
skip_once() {   # kind why
    case $said_skip in *" $1 "*) return ;; esac
    said_skip+="$1 "
    log "nemesis $1: SKIPPED -- $2"
}
deadline=$(($(date +%s) + duration - 5))
k=0 faults=0
while [ "$(date +%s)" -lt "$deadline" ] && kill -0 "$workload_pid" 2>/dev/null; do
    sleep "$((2 + RANDOM % 3))"
    [ "$(date +%s)" -lt "$((deadline - 2))" ] || break
    kind=${kinds[$((k++ % ${#kinds[@]}))]}
    hold=$((2 + RANDOM % 4))
    case $kind in
    kill)
        id=$(pick); log "kill -9 n$id"
        "$cluster" kill "$id" >/dev/null 2>&1; sleep "$hold"
        "$cluster" restart "$id" >/dev/null 2>&1; log "restarted n$id"; faults=$((faults + 1)) ;;
    pause)
        id=$(pick); log "SIGSTOP n$id"
        "$cluster" pause "$id" >/dev/null 2>&1; sleep "$hold"
        "$cluster" resume "$id" >/dev/null 2>&1; log "SIGCONT n$id"; faults=$((faults + 1)) ;;
    partition | partition-leader)
        if [ "$can_cut" = 0 ]; then skip_once "$kind" "no root or passwordless sudo for iptables"; continue; fi
        if [ "$kind" = partition ]; then id=$(pick); else id=$(leader); fi
        [ -n "$id" ] || { log "no leader to isolate"; continue; }
        isolate "$id"; log "isolated n$id (peer links cut both ways)"; sleep "$hold"
        heal; log "healed"; faults=$((faults + 1)) ;;
    member)
        if [ "$extra" = 0 ]; then
            id=$next_id; next_id=$((next_id + 1))
            if "$cluster" join "$id" >/dev/null 2>&1; then
                extra=$id; members+=("$id"); log "joined n$id"; faults=$((faults + 1))
            else
                log "join n$id failed (see $NSXD_DATA/n$id.log)"
                [ -f "$NSXD_DATA/n$id.pid" ] && "$cluster" stop "$id" >/dev/null 2>&1
            fi
        else
            id=$extra
            if "$nsxctl" --endpoints "$(http_of 1),$(http_of 2),$(http_of 3)" \
                remove "$(http_of "$id")" >/dev/null 2>&1; then
                "$cluster" stop "$id" >/dev/null 2>&1
                rm -f "$NSXD_DATA/n$id.pid"
                members=(1 2 3); extra=0; log "removed and stopped n$id"; faults=$((faults + 1))
            else
                log "remove n$id refused or failed; will retry"
            fi
        fi ;;
    powercut)
        if [ "$NSXD_BIN" = "$bin" ]; then
            skip_once powercut "no power-cut shim (make build/pcshim.so build/pc_rollback)"; continue
        fi
        id=$(pick); log "power cut n$id"
        if ! "$here/tests/powercut/nemesis.sh" cut "$id" >>"$out/nemesis.log" 2>&1; then
            log "power cut n$id: the cut or the rollback failed (above)"; exit 1
        fi
        sleep "$hold"
        "$cluster" restart "$id" >/dev/null 2>&1; log "restarted n$id"; faults=$((faults + 1)) ;;
    *) log "unknown nemesis $kind"; exit 2 ;;
    esac
done
log "quiet until the end ($faults faults injected)"
wait "$workload_pid"
workload_pid=
cat "$out/workload.txt"
heal
"$cluster" stop >/dev/null 2>&1
for f in "$NSXD_DATA"/n*.log; do cp "$f" "$out/"; done

"$here/build/jepsen-check" "$out/history.jsonl" >"$out/check.txt"
rc=$?
cat "$out/check.txt"
case $rc in 0) got=linearizable ;; 1) got=violation ;; *) got=unknown ;; esac
if [ "$expect" = violation ] && [ "$got" = violation ]; then
    first=$(sed -n 's/.*first stuck operation invoked at \([0-9.]*\) s.*/\1/p' "$out/check.txt")
    fault=$(awk -v f="$first" '/isolated|kill -9|SIGSTOP|power cut|joined|removed/ {
                t = substr($1, 2) + 0; if (t <= f) last = t } END { if (last != "") print last }' "$out/nemesis.log")
    echo "jepsen: the planted bug was caught: the first operation that cannot be linearized was invoked at $first s${fault:+, $(awk -v f="$first" -v t="$fault" 'BEGIN {printf "%.2f", f - t}') s after the fault that began at $fault s} (see $out/nemesis.log, $out/check.txt)"
fi
echo "jepsen: verdict $got, expected $expect ($faults faults; $out)"
# the nodes' data only matters to a run that went wrong; the history, the
# reports and the logs stay
[ "$got" = "$expect" ] && rm -rf "$NSXD_DATA"
[ "$got" = "$expect" ]
