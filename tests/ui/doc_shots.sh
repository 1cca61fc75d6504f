#!/usr/bin/env bash
# README's screenshots of the /ui page (tests/ui/doc_shots.js): a 3-node
# local cluster with --enable-faults on ports 9150.. (9250.., 9350..), the
# page loaded from a follower. Writes docs/ui-election.png,
# docs/ui-partition.png, docs/ui-quorum-lost.png. Stops only its own nodes.
#   tests/ui/doc_shots.sh [NSXD_BINARY]
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
export NSXD_BIN=${1:-$here/build/nsxd}
export NSXD_HTTP_BASE=${NSXD_HTTP_BASE:-9150} NSXD_PEER_BASE=${NSXD_PEER_BASE:-9250}
export NSXD_MON_BASE=${NSXD_MON_BASE:-9350}
export NSXD_EXTRA_ARGS="--enable-faults ${NSXD_EXTRA_ARGS:-}"
root=$(mktemp -d /tmp/nsxd-shots.XXXXXX)
export NSXD_DATA=$root/data
lc="$here/deploy/local-cluster.sh"
. "$here/tests/lib/lib.sh"
trap '"$lc" stop >/dev/null 2>&1; rm -rf "$root"' EXIT
"$lc" start 3 >/dev/null 2>&1 || exit 1
L=$(leader_of) || exit 1
F=$((L % 3 + 1))
mkdir -p "$here/docs"
UI_URL="$(url "$F")/ui" UI_SERVING=$F UI_OUT="$here/docs" UI_LC="$lc" \
    timeout 150 node "$here/tests/ui/doc_shots.js"
