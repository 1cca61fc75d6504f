# tests/lib/lib.sh -- the helpers the test scripts share. Source it:
#
#     here=$(cd "$(dirname "$0")/../.." && pwd)
#     . "$here/tests/lib/lib.sh"
#
# Results
#   pass TEXT / fail TEXT       print "PASS TEXT" / "FAIL TEXT"; fail counts
#   check TEXT CMD...           pass or fail by CMD's status
#   fails                       the number of FAILs so far
#   lib_summary NAME            "NAME: all passed" or "NAME: N FAILED"; its
#                               status is 1 on any FAIL (exit with it)
# The nodes of deploy/local-cluster.sh (node N: HTTP on 127.0.0.1:BASE+N,
# BASE = $NSXD_HTTP_BASE)
#   url N                       http://127.0.0.1:PORT
#   ep N                        127.0.0.1:PORT (nsxctl --endpoints takes a
#   eps [N...]                  comma-separated list: eps, default 1 2 3)
#   health N                    its /health body (empty if it does not answer)
#   hfield N JQ                 one field of it
#   metric N SERIES             a series' value in its /metrics
#   req METHOD N PATH [BODY]    one JSON request: sets $status and $body
#   field JQ                    a field of $body
#   leader_of [N...]            the node (of N..., default 1 2 3) whose
#                               /health says it leads, waiting up to
#                               LIB_WAIT_S (10) s; empty if none
# Time
#   wait_for SECONDS CMD...     run CMD every 0.1 s until it succeeds;
#                               status 1 after SECONDS (every wait bounded)
# Clean-up
#   lib_cleanup_cluster DIR     the EXIT trap's work: stop the nodes the
#                               cluster script started (by their PIDs),
#                               remove DIR if nothing failed, else say where
#                               the logs are
#
# Needs curl and jq. Nothing here starts a process but curl.

fails=0
LIB_WAIT_S=${LIB_WAIT_S:-10}
# deploy/local-cluster.sh starts its nodes with --enable-faults (a teaching
# cluster); the tests run nsxd as it ships, without, unless they ask
# (NSXD_FAULTS=1, or --enable-faults in NSXD_EXTRA_ARGS).
export NSXD_FAULTS=${NSXD_FAULTS:-0}
lib_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
check() {   # description, command...
    local what=$1; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
lib_summary() {   # name
    echo
    if [ "$fails" -eq 0 ]; then echo "$1: all passed"; else echo "$1: $fails FAILED"; fi
    [ "$fails" -eq 0 ]
}

url() { echo "http://127.0.0.1:$((NSXD_HTTP_BASE + $1))"; }
ep() { echo "127.0.0.1:$((NSXD_HTTP_BASE + $1))"; }
eps() {
    local n s=""
    for n in "${@:-1 2 3}"; do
        for n in $n; do s+="${s:+,}$(ep "$n")"; done
    done
    echo "$s"
}
# (2 s: a paused node must not stretch a bounded wait much)
health() { curl -sS -m 2 "$(url "$1")/health" 2>/dev/null; }
hfield() { health "$1" | jq -r "$2" 2>/dev/null; }
metric() { curl -sS -m 5 "$(url "$1")/metrics" 2>/dev/null | awk -v s="$2" '$1 == s { print $2 }'; }

# req METHOD NODE PATH [BODY] -> sets $status and $body
req() {
    local out
    out=$(curl -sS -m 10 -o /dev/stdout -w '\n%{http_code}' -X "$1" \
        -H 'Content-Type: application/json' ${4:+-d "$4"} "$(url "$2")$3" 2>/dev/null)
    status=${out##*$'\n'}
    body=${out%$'\n'*}
}
field() { jq -r "$1" <<<"$body" 2>/dev/null; }

leader_of() {   # [node...] -> the node that says it leads (waits LIB_WAIT_S)
    local n end=$((SECONDS + LIB_WAIT_S))
    [ $# -eq 0 ] && set -- 1 2 3
    while :; do
        for n in "$@"; do
            if [ "$(hfield "$n" .role)" = leader ]; then echo "$n"; return 0; fi
        done
        [ $SECONDS -lt $end ] || return 1
        sleep 0.1
    done
}

wait_for() {   # seconds command...: until it succeeds, at most that long
    local end=$((SECONDS + $1)); shift
    while :; do
        "$@" && return 0
        [ $SECONDS -lt $end ] || return 1
        sleep 0.1
    done
}

lib_cleanup_cluster() {   # data dir
    "$lib_root/deploy/local-cluster.sh" stop >/dev/null 2>&1
    if [ "$fails" -eq 0 ]; then rm -rf "$1"; else echo "logs kept in $1"; fi
}
