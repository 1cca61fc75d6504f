#!/usr/bin/env bash
# The consensus core must be pure: no zmq/czmq, LevelDB, civetweb, threads,
# clock or randomness of its own. Every undefined symbol of its object files
# must be defined by another core object or be on a short allow-list of libc
# memory and string functions. Then show the check can fail: an object that
# calls time() and rand() must be rejected.
set -euo pipefail
allowed='^(malloc|calloc|realloc|free|memcpy|memmove|memset|memcmp|memchr|strcmp|strlen|strcpy|strncpy|qsort|abort|__assert_fail|__stack_chk_fail)$'

check() {
    local defined undefined bad
    defined=$(nm --defined-only "$@" | awk 'NF==3 && $2 ~ /[TDBR]/ {print $3}' | sort -u)
    undefined=$(nm --undefined-only "$@" | awk '{print $NF}' | grep -v ':$' | sort -u)
    bad=$(comm -23 <(echo "$undefined") <(echo "$defined") | grep -Ev "$allowed" || true)
    if [ -n "$bad" ]; then
        echo "$bad"
        return 1
    fi
}

if bad=$(check "$@"); then
    echo "PASS core purity: $(nm --undefined-only "$@" | awk '{print $NF}' | grep -v ':$' | sort -u | grep -Ec "$allowed") libc symbols used, all on the allow-list:"
    nm --undefined-only "$@" | awk '{print $NF}' | grep -v ':$' | sort -u | grep -E "$allowed" | tr '\n' ' '; echo
else
    echo "FAIL core purity: the core references"; echo "$bad"; exit 1
fi

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
printf '#include <stdlib.h>\n#include <time.h>\nint impure (void) { return rand () + (int) time (NULL); }\n' >"$tmp/impure.c"
cc -c "$tmp/impure.c" -o "$tmp/impure.o"
if bad=$(check "$@" "$tmp/impure.o"); then
    echo "FAIL: the purity check accepted an object calling time() and rand()"; exit 1
fi
echo "PASS the check rejects a planted impure object ($(echo $bad | tr '\n' ' '))"
