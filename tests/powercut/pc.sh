#!/usr/bin/env bash
# pc.sh -- power cuts for one process: run it under the shim, cut it,
# roll its files back to what a power cut could leave (the model:
# tests/powercut/pcshim.c). For tests and nemeses (README.md here).
#
#   pc.sh run DIR [CUT OPTIONS] -- CMD [ARG...]
#         exec CMD (same PID: background it and $! is the process) with
#         pcshim.so watching DIR; the journal is DIR.pc/journal.
#         CUT OPTIONS (optional; the process then cuts itself):
#           --cut-newlog K --cut-delay-us D   D us after the K-th new
#                                             LevelDB log file (*.log)
#           --cut-sync N                      right after the N-th sync
#   pc.sh arm DIR D        arm the process running on DIR: it cuts itself
#                          D us after its next new LevelDB log file (the
#                          next memtable switch)
#   pc.sh cut PID          the cut: SIGKILL, and wait (30 s at most) until
#                          the process is gone (then roll back)
#   pc.sh rollback DIR     leave in DIR only what was durable (pc_rollback);
#                          exit 2 if the run broke the shim's model
#   pc.sh nsxd ARG...      for NSXD_BIN (deploy/local-cluster.sh): run
#                          $PC_NSXD (default build/nsxd) under the shim
#                          watching its --data-dir; cut options from
#                          PC_CUT_NEWLOG / PC_CUT_DELAY_US / PC_CUT_SYNC
#
# PC_BUILD: where pcshim.so and pc_rollback are (default: build/ of this
# repository).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${PC_BUILD:-$here/build}
case $build in /*) ;; *) build=$(pwd)/$build ;; esac

usage() { sed -n "2,28p" "$0" >&2; exit 2; }
[ $# -ge 1 ] || usage
cmd=$1; shift
case $cmd in
run)
    [ $# -ge 3 ] || usage
    dir=${1%/}; shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        case $1 in
        --cut-newlog) export PC_CUT_NEWLOG=$2; shift 2 ;;
        --cut-delay-us) export PC_CUT_DELAY_US=$2; shift 2 ;;
        --cut-sync) export PC_CUT_SYNC=$2; shift 2 ;;
        *) usage ;;
        esac
    done
    [ "${1:-}" = -- ] || usage
    shift
    [ $# -ge 1 ] || usage
    mkdir -p "$dir" "$dir.pc"
    rm -f "$dir.pc/arm"
    export PC_ROOT=$dir PC_JOURNAL=$dir.pc/journal PC_ARM=$dir.pc/arm
    LD_PRELOAD=$build/pcshim.so exec "$@"
    ;;
arm)
    [ $# = 2 ] || usage
    dir=${1%/}
    [ -d "$dir.pc" ] || { echo "pc.sh: $dir is not run under the shim" >&2; exit 1; }
    echo "$2" >"$dir.pc/arm.tmp" && mv "$dir.pc/arm.tmp" "$dir.pc/arm"
    ;;
cut)
    [ $# = 1 ] || usage
    kill -KILL "$1" 2>/dev/null || true
    # Gone: no such process, or a zombie nobody reaped yet. Not while
    # its other threads still run (the leader shows Z first): one of them
    # could still complete a write after the rollback.
    # (30 s: a process in the middle of an fsync dies when it returns)
    for _ in $(seq 600); do
        kill -0 "$1" 2>/dev/null || exit 0
        st=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
        tasks=$(ls "/proc/$1/task" 2>/dev/null | wc -l)
        [ "$st" = Z ] && [ "$tasks" -le 1 ] && exit 0
        sleep 0.05
    done
    echo "pc.sh: $1 still alive after SIGKILL" >&2
    exit 1
    ;;
rollback)
    [ $# = 1 ] || usage
    dir=${1%/}
    if [ ! -f "$dir.pc/journal" ]; then
        echo "pc.sh: no journal $dir.pc/journal (not run under the shim, or rolled back already)" >&2
        exit 1
    fi
    exec "$build/pc_rollback" "$dir" "$dir.pc/journal"
    ;;
nsxd)
    dir=""
    args=("$@")
    for ((i = 0; i < ${#args[@]}; i++)); do
        [ "${args[$i]}" = --data-dir ] && dir=${args[$((i + 1))]:-}
    done
    [ -n "$dir" ] || { echo "pc.sh nsxd: no --data-dir" >&2; exit 2; }
    exec "$0" run "$dir" -- "${PC_NSXD:-$here/build/nsxd}" "$@"
    ;;
*) usage ;;
esac
