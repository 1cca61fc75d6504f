#!/usr/bin/env bash
# The power-cut shim against a known program (tests/powercut/shim_test.c):
# after the cut and pc_rollback, each file holds exactly its synced part.
# Teeth: the same check run on the files WITHOUT the rollback must fail
# (they hold unsynced bytes), and a run that overwrites synced bytes must
# be refused by pc_rollback (exit 2).
#   tests/powercut/shim_test.sh BUILD_DIR
set -uo pipefail
b=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
pc=$here/pc.sh
t=$(mktemp -d "${TMPDIR:-/tmp}/pcshim.XXXXXX")
trap 'rm -rf "$t"' EXIT
fail=0
export PC_BUILD=$b
for f in pcshim.so pc_rollback shim_test; do
    [ -x "$b/$f" ] || [ -e "$b/$f" ] || { echo "FAIL shim: $b/$f is missing (make $b/$f)"; exit 1; }
done

setup() {   # dir
    rm -rf "$1" "$1.pc"; mkdir -p "$1"
    printf ZZ >"$1/e"
}
check() {   # dir -> 0 if every file holds exactly its synced part
    local d=$1 ok=0
    [ "$(cat "$d/a")" = AAAA ] || { echo "  a: '$(cat "$d/a")', want AAAA"; ok=1; }
    [ ! -s "$d/b" ] || { echo "  b: '$(cat "$d/b")', want empty"; ok=1; }
    [ "$(cat "$d/d" 2>/dev/null)" = DD ] || { echo "  d: '$(cat "$d/d" 2>/dev/null)', want DD"; ok=1; }
    [ "$(cat "$d/e")" = ZZ ] || { echo "  e: '$(cat "$d/e")', want ZZ"; ok=1; }
    [ "$(cat "$d/f")" = FF ] || { echo "  f: '$(cat "$d/f")', want FF"; ok=1; }
    [ "$(cat "$d/g")" = HH ] || { echo "  g: '$(cat "$d/g")', want HH"; ok=1; }
    [ ! -e "$d/h" ] || { echo "  h: exists, want absent"; ok=1; }
    return $ok
}

# 1. cut, roll back, check
setup "$t/d1"
( "$pc" run "$t/d1" -- "$b/shim_test" "$t/d1"; true ) 2>/dev/null
"$pc" rollback "$t/d1" >/dev/null || { echo "FAIL: rollback"; fail=1; }
if check "$t/d1"; then echo "ok   shim: each file holds exactly its synced part"
else echo "FAIL shim: files after the rollback"; fail=1; fi

# 2. teeth: without the rollback the same check must fail
setup "$t/d2"
( "$pc" run "$t/d2" -- "$b/shim_test" "$t/d2"; true ) 2>/dev/null
if check "$t/d2" >/dev/null; then echo "FAIL shim teeth: the check passes without a rollback"; fail=1
else echo "ok   shim teeth: without the rollback the check fails"; fi

# 3. a write below a durable length breaks the model: refused
setup "$t/d3"
( "$pc" run "$t/d3" -- "$b/shim_test" "$t/d3" break; true ) 2>/dev/null
"$pc" rollback "$t/d3" >/dev/null 2>&1; rc=$?
if [ $rc = 2 ]; then echo "ok   shim: an overwrite of synced bytes is refused"
else echo "FAIL shim: an overwrite of synced bytes gave exit $rc, want 2"; fail=1; fi

exit $fail
