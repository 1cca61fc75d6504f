#!/usr/bin/env bash
# make powercut-teeth: tests/cluster/powercut_test.sh must catch nsxd built
# with a planted storage bug (actors/storage.c): -DNSXD_PLANTED_BUG=1
# (apply_nosync: applies written without sync, as before issue 13) or 2
# (apply_no_copy: a lone apply's copy is not written with the next synced
# write). Only a durability failure counts (replicas differ, an
# acknowledged write lost, a replica refusing to start). Digests are compared after every round of cuts
# (CHECK_EACH=1), so the output says how many cuts it took. Bounded: at
# most TEETH_CUTS (12) rounds (2 cuts each), then "NOT caught" and exit 1.
#   tests/powercut/teeth.sh BUGGY_NSXD
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:?usage: teeth.sh BUGGY_NSXD}
out=$(mktemp /tmp/powercut-teeth.XXXXXX)
CHECK_EACH=1 CUTS=${TEETH_CUTS:-12} ALL_CUTS=${TEETH_ALL_CUTS:-2} \
    "$here/tests/cluster/powercut_test.sh" "$bin" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
# only a durability failure counts, not a harness one (e.g. "cut")
caught='^FAIL \((a|b)\)|^FAIL n[0-9] restarts'
if [ "$rc" != 0 ] && grep -Eq "$caught" "$out"; then
    echo "PASS powercut-teeth: $(basename "$bin") caught: $(grep -Em1 "$caught" "$out")"
    rm -f "$out"
    exit 0
fi
echo "FAIL powercut-teeth: $(basename "$bin") NOT caught (output in $out)"
exit 1
