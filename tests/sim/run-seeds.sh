#!/usr/bin/env bash
# Run N simulator seeds split over every core: run-seeds.sh SIM N [FIRST]
# Prints each part's summary and a total; exits non-zero on any violation.
set -uo pipefail
sim=$1; n=$2; first=${3:-1}
jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt "$n" ] && jobs=$n
per=$(( (n + jobs - 1) / jobs ))
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
start=$(date +%s.%N)
pids=()
for ((j = 0; j < jobs; j++)); do
    f=$(( first + j * per )); c=$per
    (( f + c > first + n )) && c=$(( first + n - f ))
    (( c <= 0 )) && continue
    "$sim" --seeds "$c" --first "$f" >"$tmp/$j.out" 2>&1 &
    pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
end=$(date +%s.%N)
grep -h -E "VIOLATION|replay:" "$tmp"/*.out | head -20
grep -h "seeds/s" "$tmp"/*.out
awk -v wall="$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" '
  /seeds \(/ { seeds += $2; viol += $5; virt += $7; ev += $(NF-6) }
  END { printf "total: %d seeds, %d violations, %.0f s virtual, %d events, %.1f s wall, %.1f seeds/s\n",
        seeds, viol, virt, ev, wall, seeds / wall }' "$tmp"/*.out
exit $rc
