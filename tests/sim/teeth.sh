#!/usr/bin/env bash
# Each planted bug (actors/raft/raft_int.h) must be caught by the simulator
# within the seed budget: teeth.sh BUILD_DIR BUDGET NAME...
set -uo pipefail
b=$1; budget=$2; shift 2
rc=0
for name in "$@"; do
    start=$(date +%s.%N)
    out=$("$b/sim-bug-$name" --seeds "$budget" --expect-violation --name "sim-bug-$name" 2>&1)
    st=$?
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    if [ $st -eq 0 ]; then
        echo "PASS $name: $(grep -m1 'caught after' <<<"$out") in ${secs} s"
        grep -m1 VIOLATION <<<"$out" | sed 's/^/      /'
    else
        echo "FAIL $name: not caught in $budget seeds"
        rc=1
    fi
done
exit $rc
