#!/usr/bin/env bash
# Replaying a seed must give the same run bit for bit: same trace hash.
set -euo pipefail
sim=$1; seed=$2
a=$("$sim" --seed "$seed" | tail -1)
b=$("$sim" --seed "$seed" | tail -1)
echo "run 1: $a"
echo "run 2: $b"
[ "$a" = "$b" ] || { echo "FAIL: seed $seed replayed differently"; exit 1; }
other=$("$sim" --seed $((seed + 1)) | tail -1)
[ "${a##* }" != "${other##* }" ] || { echo "FAIL: different seeds gave the same hash"; exit 1; }
echo "PASS: seed $seed replays identically (and seed $((seed + 1)) differs)"
