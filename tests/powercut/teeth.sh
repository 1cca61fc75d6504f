#!/usr/bin/env bash
# make powercut-teeth: tests/cluster/powercut_test.sh must catch nsxd built
# with -DNSXD_PLANTED_BUG=1 (apply_nosync: applies written without sync,
# as before issue 13). Digests are compared after every round of cuts
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
if [ "$rc" != 0 ] && grep -q '^FAIL' "$out"; then
    echo "PASS powercut-teeth: apply_nosync caught: $(grep -m1 '^FAIL' "$out")"
    rm -f "$out"
    exit 0
fi
echo "FAIL powercut-teeth: apply_nosync NOT caught (output in $out)"
exit 1
