#!/usr/bin/env bash
# A local nsxd cluster on loopback, no Docker needed.
#
#   deploy/local-cluster.sh run [N]       start N nodes (default 3) in the
#                                         foreground; Ctrl-C stops them all
#   deploy/local-cluster.sh start [N]     the same, in the background
#   deploy/local-cluster.sh stop          stop every node (SIGTERM, then KILL)
#   deploy/local-cluster.sh status        one line per node, from /health
#   deploy/local-cluster.sh stop ID       stop one node (SIGTERM)
#   deploy/local-cluster.sh kill ID       kill -9 one node
#   deploy/local-cluster.sh restart ID    start a stopped node again (also
#                                         one stopped by POST /debug/stop)
#   deploy/local-cluster.sh pause ID      SIGSTOP / SIGCONT one node
#   deploy/local-cluster.sh resume ID
#   deploy/local-cluster.sh join ID       start a new, empty node ID and have
#                                         it join through node 1
#   deploy/local-cluster.sh fault ID [JSON]  POST JSON to node ID's
#                                         /debug/fault (without: GET), e.g.
#                                         '{"action":"isolate"}'
#   deploy/local-cluster.sh heal          clear every running node's faults
#
# It is a teaching cluster: every node runs with --enable-faults (README,
# "Fault injection"), so a student can cut links, delay them, slow fsyncs
# (POST /debug/fault) and stop a node (POST /debug/stop; `restart ID`
# brings it back) without root or Docker. NSXD_FAULTS=0 turns that off.
#
# Node i serves HTTP on 127.0.0.1:800i and talks Raft on
# tcp://127.0.0.(10+i):900i; its trace events stream from
# tcp://127.0.0.1:910i (nsxctl trace); its data, log and PID file are under $NSXD_DATA
# (default ./data): n<i>/, n<i>.log, n<i>.pid. Only processes whose PID
# this script recorded are ever signalled.
#
# Peer links and the monitoring sockets are authenticated (ZeroMQ CURVE)
# with the cluster secret $NSXD_DATA/cluster.key, made here (nsxctl keygen)
# the first time a node starts; nsxctl trace finds it there. NSXD_INSECURE=1
# starts the nodes with --insecure-peers instead.
# NSXD_EXTRA_ARGS is added to every node's flags (e.g. --auth-file F
# --tls-cert C --tls-key K --tls-ca CA); with TLS, set NSXD_SCHEME=https and
# NSXD_CURL_OPTS="--cacert CA" so that this script's own /health checks
# speak it too (add -H "Authorization: Bearer ..." with --auth-health).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
bin=${NSXD_BIN:-$here/build/nsxd}
data=${NSXD_DATA:-./data}
http_base=${NSXD_HTTP_BASE:-8000}
peer_base=${NSXD_PEER_BASE:-9000}
mon_base=${NSXD_MON_BASE:-$((peer_base + 100))}
extra=${NSXD_EXTRA_ARGS:-}
nsxctl=${NSXCTL_BIN:-$here/build/nsxctl}
secret=$data/cluster.key
scheme=${NSXD_SCHEME:-http}
read -r -a curl_opts <<<"${NSXD_CURL_OPTS:-}"

http_of() { echo "127.0.0.1:$((http_base + $1))"; }
# Each node's Raft traffic uses its own address, 127.0.0.(10+i), so that
# iptables rules between two of them cut exactly one link (partitions).
peer_ip() { echo "127.0.0.$((10 + $1))"; }
peer_of() { echo "tcp://$(peer_ip "$1"):$((peer_base + $1))"; }
pidfile() { echo "$data/n$1.pid"; }

# A node whose process exists and is not a zombie: kill -0 succeeds on a
# zombie (exited, not yet reaped: a slow reaper as PID 1 keeps them a
# while), which would make `restart N` after /debug/stop say "already
# running". /proc's state letter Z says it has exited.
alive() {
    local f pid state
    f=$(pidfile "$1")
    [ -f "$f" ] || return 1
    pid=$(cat "$f")
    kill -0 "$pid" 2>/dev/null || return 1
    # the state follows the command name's closing parenthesis
    state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1) || return 0
    [ "$state" != Z ]
}

cluster_spec() {
    local n=$1 spec="" i
    for ((i = 1; i <= n; i++)); do
        spec+="${spec:+,}$i=$(peer_of "$i")@$(http_of "$i")"
    done
    echo "$spec"
}

start_node() {   # id, then --cluster SPEC or --join ADDR
    local id=$1; shift
    if alive "$id"; then echo "n$id already running (pid $(cat "$(pidfile "$id")"))"; return; fi
    mkdir -p "$data"
    local auth=(--peer-secret-file "$secret")
    local faults=(); [ "${NSXD_FAULTS:-1}" = 1 ] && faults=(--enable-faults)
    if [ "${NSXD_INSECURE:-0}" = 1 ]; then
        auth=(--insecure-peers)
    elif [ ! -f "$secret" ]; then
        "$nsxctl" keygen "$secret" || [ -f "$secret" ] || return 1
    fi
    # shellcheck disable=SC2086
    "$bin" --id "$id" --http-listen "$(http_of "$id")" \
        --peer-listen "$(peer_of "$id")" --data-dir "$data/n$id" \
        --monitor-listen "tcp://127.0.0.1:$((mon_base + id))" "${auth[@]}" \
        ${faults[@]+"${faults[@]}"} "$@" $extra \
        >>"$data/n$id.log" 2>&1 &
    echo $! >"$(pidfile "$id")"
    echo "n$id started: pid $!, http $(http_of "$id"), log $data/n$id.log"
}

nodes() {   # ids that have a PID file
    local f
    for f in "$data"/n*.pid; do
        [ -e "$f" ] || continue
        f=${f##*/n}; echo "${f%.pid}"
    done | sort -n
}

wait_http() {   # id: wait until /health answers (10 s)
    local i
    for ((i = 0; i < 100; i++)); do
        curl -fsS -m 1 ${curl_opts[@]+"${curl_opts[@]}"} "$scheme://$(http_of "$1")/health" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "n$1 did not answer on $(http_of "$1") (see $data/n$1.log)" >&2
    return 1
}

cmd_start() {
    local n=${1:-3} i spec
    [ -x "$bin" ] || { echo "no $bin: run 'make' first" >&2; exit 1; }
    spec=$(cluster_spec "$n")
    for ((i = 1; i <= n; i++)); do start_node "$i" --cluster "$spec"; done
    for ((i = 1; i <= n; i++)); do wait_http "$i"; done
}

cmd_stop() {
    local id pid
    for id in $(nodes); do
        if alive "$id"; then
            pid=$(cat "$(pidfile "$id")")
            kill -CONT "$pid" 2>/dev/null || true
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    for id in $(nodes); do
        for ((i = 0; i < 100; i++)); do alive "$id" || break; sleep 0.1; done
        if alive "$id"; then kill -KILL "$(cat "$(pidfile "$id")")" 2>/dev/null || true; fi
        rm -f "$(pidfile "$id")"
        echo "n$id stopped"
    done
}

cmd_status() {
    local id h
    for id in $(nodes); do
        if ! alive "$id"; then echo "n$id  down"; continue; fi
        h=$(curl -fsS -m 1 ${curl_opts[@]+"${curl_opts[@]}"} "$scheme://$(http_of "$id")/health" 2>/dev/null || echo "(no answer)")
        echo "n$id  pid $(cat "$(pidfile "$id")")  $h"
    done
}

cmd_signal() {   # signal id
    alive "$2" || { echo "n$2 is not running" >&2; exit 1; }
    kill "-$1" "$(cat "$(pidfile "$2")")"
    if [ "$1" = KILL ]; then
        # gone before we return, so a restart right after finds the port
        # and the database free (a large LevelDB takes a moment to let go)
        local i
        for ((i = 0; i < 100; i++)); do alive "$2" || break; sleep 0.1; done
    fi
    echo "n$2: sent SIG$1"
}

cmd_run() {
    local n=${1:-3}
    trap 'echo; cmd_stop; exit 0' INT TERM
    cmd_start "$n"
    cat <<EOF

nsxd: $n nodes on $(http_of 1) .. $(http_of "$n"). Try (from the prototype's README):

  curl -X POST localhost:$((http_base + 1))/kv/put -H 'Content-Type: application/json' -d '{"key": "foo", "value": "bar"}'
  curl 'localhost:$((http_base + 1))/kv/get?key=foo'
  curl -X DELETE localhost:$((http_base + 1))/kv/delete -H 'Content-Type: application/json' -d '{"key": "foo"}'
  curl localhost:$((http_base + 1))/health

A follower answers 409 with the leader's address. Logs: $data/n*.log.

Faults are on (a teaching cluster; README, "Fault injection"): cut a node off
from the others, watch the rest elect a leader (build/nsxctl trace), then heal:

  curl -X POST localhost:$((http_base + 1))/debug/fault -d '{"action": "isolate"}'
  curl -X POST localhost:$((http_base + 1))/debug/fault -d '{"action": "clear"}'
  curl -X POST localhost:$((http_base + 2))/debug/stop     # then: $0 restart 2

Ctrl-C stops every node.
EOF
    while :; do sleep 1; done
}

case "${1:-}" in
run) cmd_run "${2:-3}" ;;
start) cmd_start "${2:-3}" ;;
stop)
    if [ -n "${2:-}" ]; then
        alive "$2" || { echo "n$2 is not running" >&2; exit 1; }
        pid=$(cat "$(pidfile "$2")")
        kill -CONT "$pid" 2>/dev/null || true
        kill -TERM "$pid"
        for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        echo "n$2 stopped"
    else
        cmd_stop
    fi ;;
status) cmd_status ;;
kill) cmd_signal KILL "${2:?node id}" ;;
pause) cmd_signal STOP "${2:?node id}" ;;
resume) cmd_signal CONT "${2:?node id}" ;;
restart)
    id=${2:?node id}
    # a node stopping (POST /debug/stop, SIGTERM) may take a moment to exit
    for ((i = 0; i < 100; i++)); do alive "$id" || break; sleep 0.1; done
    # the first three were started with --cluster; later ones joined
    if [ "$id" -le 3 ]; then start_node "$id" --cluster "$(cluster_spec 3)"
    else start_node "$id" --join "$(http_of 1)"; fi
    wait_http "$id" ;;
join)
    id=${2:?node id}
    start_node "$id" --join "$(http_of 1)"
    wait_http "$id" ;;
fault)
    id=${2:?node id}
    if [ -n "${3:-}" ]; then
        curl -sS ${curl_opts[@]+"${curl_opts[@]}"} -X POST "$scheme://$(http_of "$id")/debug/fault" \
            -H 'Content-Type: application/json' -d "$3"
    else
        curl -sS ${curl_opts[@]+"${curl_opts[@]}"} "$scheme://$(http_of "$id")/debug/fault"
    fi
    echo ;;
heal)
    for id in $(nodes); do
        alive "$id" || continue
        printf 'n%s: ' "$id"
        curl -sS ${curl_opts[@]+"${curl_opts[@]}"} -X POST "$scheme://$(http_of "$id")/debug/fault" \
            -H 'Content-Type: application/json' -d '{"action": "clear"}'
        echo
    done ;;
*) sed -n '2,40p' "$0"; exit 2 ;;
esac
