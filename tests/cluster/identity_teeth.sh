#!/usr/bin/env bash
# identity_teeth.sh BUILD -- identity_test.sh must catch each planted bug
# (Makefile NODE_BUGS) by failing the very check the bug breaks:
#   nsxd-bug-no_self_check  the wiped server votes as its old self:
#                           "2 (without E) is not elected" or "E is not
#                           lost" fails
#   nsxd-bug-no_paranoid    no paranoid_checks, no start-up scan: "a
#                           flipped byte in <the log>: node 3 refuses to
#                           start" fails
# Ports: identity_test.sh's (10700/10800/10900).
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$here/build}
rc=0
one() {   # bug pattern
    local out
    out=$(mktemp)
    "$here/tests/cluster/identity_test.sh" "$build/nsxd-bug-$1" >"$out" 2>&1
    if grep -Eq "^FAIL ($2)" "$out"; then
        echo "identity-teeth: $1 caught: $(grep -E "^FAIL ($2)" "$out" | head -1)"
    else
        echo "identity-teeth: $1 NOT caught (identity_test.sh output follows)"
        tail -40 "$out"
        rc=1
    fi
    rm -f "$out"
}
one no_self_check "2 \(without E\) is not elected|E is not lost"
one no_paranoid "a flipped byte in [0-9]+\.log: node 3 refuses to start"
exit $rc
