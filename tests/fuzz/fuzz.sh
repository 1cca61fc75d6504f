#!/usr/bin/env bash
# The libFuzzer harnesses (tests/fuzz/fuzz_NAME.c), built as
# BUILD/fuzz/fuzz_NAME by the Makefile.
#
#   fuzz.sh run BUILD SECONDS NAME...   fuzz each for SECONDS, from a working
#       copy of its corpus (BUILD/fuzz/corpus/NAME, started from the
#       checked-in tests/fuzz/corpus/NAME); prints executions, exec/s,
#       corpus size and coverage per harness
#   fuzz.sh ci BUILD SECONDS NAME...    each runs every checked-in corpus
#       input, then fuzzes for SECONDS (new inputs go to a scratch
#       directory, not into the tree)
#   fuzz.sh corpus BUILD NAME...        the checked-in corpus again: the
#       harness's seeds (-write_seeds), the working copy and the old corpus,
#       minimized with -merge=1 to the inputs that reach new edges (hit
#       counts left out: the fuzzer finds those again in seconds, and the
#       corpus stays a few hundred small files); inputs named regress-*
#       (what a fuzzer found once) are always kept
#   fuzz.sh teeth BIN SECONDS NAME      BIN (a planted-bug build) must fail
#       within SECONDS, fuzzing from an empty corpus; prints the time
# A crash or broken property leaves its input in BUILD/fuzz/artifacts/.
set -uo pipefail
mode=$1; shift
corpus_dir=tests/fuzz/corpus
# One process each (the machine is shared); a slow input is a failure.
common=(-timeout=25 -rss_limit_mb=2048 -print_final_stats=1)

# summary NAME LOG: one line from libFuzzer's final statistics.
summary() {
    local name=$1 log=$2
    awk -v name="$name" '
      /^stat::number_of_executed_units:/ { runs = $2 }
      /^stat::average_exec_per_sec:/     { eps = $2 }
      /^stat::new_units_added:/          { added = $2 }
      /^stat::peak_rss_mb:/              { rss = $2 }
      /[[:space:]]DONE[[:space:]]/         { for (i = 1; i <= NF; i++) {
                                             if ($i == "cov:") cov = $(i + 1)
                                             if ($i == "ft:") ft = $(i + 1)
                                             if ($i == "corp:") corp = $(i + 1) } }
      END { printf "%-10s %9s execs %7s exec/s  corpus %-12s cov %-5s ft %-6s new %-4s rss %s MB\n",
                   name, runs, eps, corp, cov, ft, added, rss }' "$log"
}

case $mode in
run|ci)
    b=$1; secs=$2; shift 2
    rc=0
    for name in "$@"; do
        bin=$b/fuzz/fuzz_$name
        mkdir -p "$b/fuzz/artifacts" "$corpus_dir/$name"
        if [ "$mode" = run ]; then
            work=$b/fuzz/corpus/$name
            mkdir -p "$work"
            dirs=("$work" "$corpus_dir/$name")
        else
            work=$(mktemp -d)
            dirs=("$work" "$corpus_dir/$name")
        fi
        log=$b/fuzz/$name.log
        "$bin" "${common[@]}" -max_total_time="$secs" \
            -artifact_prefix="$b/fuzz/artifacts/$name-" "${dirs[@]}" >"$log" 2>&1
        st=$?
        [ "$mode" = ci ] && rm -rf "$work"
        if [ $st -ne 0 ]; then
            echo "FAIL $name (exit $st); the end of $log:"
            grep -E "PROPERTY BROKEN|ERROR:|SUMMARY:|Test unit written|panic|WEDGE" "$log" | head -8 | sed 's/^/    /'
            rc=1
        else
            echo "PASS $(summary "$name" "$log")"
        fi
    done
    exit $rc ;;
corpus)
    b=$1; shift
    for name in "$@"; do
        bin=$b/fuzz/fuzz_$name
        seeds=$b/fuzz/seeds/$name
        rm -rf "$seeds" "$corpus_dir/$name.new"
        mkdir -p "$seeds" "$b/fuzz/corpus/$name" "$corpus_dir/$name" "$corpus_dir/$name.new"
        "$bin" -write_seeds="$seeds" || exit 1
        "$bin" -merge=1 -use_counters=0 "${common[@]}" "$corpus_dir/$name.new" "$seeds" \
            "$corpus_dir/$name" "$b/fuzz/corpus/$name" >"$b/fuzz/$name-merge.log" 2>&1 || {
            echo "corpus $name: merge failed, see $b/fuzz/$name-merge.log"; exit 1; }
        # regression inputs (regress-*) stay, whatever the merge thinks
        cp "$corpus_dir/$name"/regress-* "$corpus_dir/$name.new"/ 2>/dev/null
        rm -rf "$corpus_dir/$name"
        mv "$corpus_dir/$name.new" "$corpus_dir/$name"
        echo "corpus $name: $(ls "$corpus_dir/$name" | wc -l) inputs, $(du -sk --apparent-size "$corpus_dir/$name" | cut -f1) KB"
    done ;;
teeth)
    bin=$1; secs=$2; name=$3
    b=$(dirname "$(dirname "$bin")")
    work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
    log=$b/fuzz/teeth-$name.log
    mkdir -p "$b/fuzz/artifacts"
    start=$(date +%s.%N)
    "$bin" "${common[@]}" -seed=1 -max_total_time="$secs" \
        -artifact_prefix="$b/fuzz/artifacts/teeth-$name-" "$work" >"$log" 2>&1
    st=$?
    t=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    if [ $st -ne 0 ] && grep -q "PROPERTY BROKEN" "$log"; then
        runs=$(awk '/^stat::number_of_executed_units:/ { print $2 }' "$log")
        echo "PASS $name: caught in $t s, after $runs inputs ($log)"
        grep -m1 -A3 "PROPERTY BROKEN" "$log" | sed 's/^/    /'
        grep -m1 "Test unit written" "$log" | sed 's/^/    /'
    else
        echo "FAIL $name: not caught in $secs s (exit $st; $log)"
        exit 1
    fi ;;
*)
    echo "usage: fuzz.sh run|ci|corpus|teeth ..." >&2; exit 2 ;;
esac
