#!/usr/bin/env bash
# nemesis.sh cut ID -- a power cut of node ID of a deploy/local-cluster.sh
# cluster ($NSXD_DATA) whose nodes run under the shim (NSXD_BIN=
# tests/powercut/nsxd-pc): SIGKILL, wait until every thread is gone, then
# leave in its data directory only what was durable (pc.sh rollback; the
# model: pcshim.c). The node is left stopped; the caller restarts it
# (local-cluster.sh restart ID), as the end-to-end linearizability test's
# powercut nemesis does (tests/jepsen/jepsen.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# = 2 ] && [ "$1" = cut ] || { echo "usage: nemesis.sh cut ID" >&2; exit 2; }
id=$2
data=${NSXD_DATA:?set NSXD_DATA to the cluster data directory}
[ -d "$data/n$id.pc" ] || { echo "nemesis.sh: n$id does not run under the shim ($data/n$id.pc missing)" >&2; exit 1; }
pid=$(cat "$data/n$id.pid")
"$here/pc.sh" cut "$pid"
# local-cluster.sh counts a zombie as running: wait for its reaping (the
# cluster script's parent shell reaps it; bounded)
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
"$here/pc.sh" rollback "$data/n$id"
