#!/usr/bin/env bash
# make bench: nsxd next to etcd 3.4 (Debian's etcd-server), on this machine,
# in one run. Not part of make test: everything here is timed.
#
# Part 1: a 3-node nsxd cluster and a 3-node etcd cluster (its default
#   durability: fsync on), both on loopback, both preloaded with KEYS keys
#   of 100-byte values. The same workloads go to each leader through wrk
#   Lua scripts (tests/perf/bench/*.lua): put (overwrite a random key),
#   get (linearizable), get_all (linearizable, spread over all three
#   nodes: one wrk per node with a third of the connections; followers ask
#   the leader for a read index, as etcd's do), get_stale (nsxd
#   ?stale=true, etcd serializable), at each concurrency, DURATION seconds each, nsxd and etcd interleaved.
#   Prints one table (req/s, p50, p99, ratio, server CPU per request, peak
#   RSS per node) and writes build/bench/latest.tsv:
#     system op conc rps p50_ms p99_ms rss_mib
#   (rss_mib: the largest peak RSS (VmHWM) among the system's nodes so far)
#   and build/bench/cpu.tsv (system op conc requests cpu_us_per_req errors).
# Part 2: nsxd alone, 5 nodes, BIG_KEYS keys preloaded, then puts of 4 KiB
#   and 64 KiB values and linearizable gets: build/bench/nsxd5.tsv.
#
# Environment: BENCH_DURATION (10), BENCH_CONCS ("1 16 64"),
#   BENCH_OPS ("put get get_all get_stale"), BENCH_KEYS (10000),
#   BENCH_PART1 and BENCH_PART2 (1; 0 skips that part), BENCH_BIG_KEYS
#   (1000000),
#   NSXD_EXTRA_ARGS (passed to every nsxd).
# Ports: nsxd 24001-24005 / 25001-25005 / 25101-25105, etcd 26371-26373 /
# 26381-26383: below Linux's ephemeral range (32768-60999), where a probe of
# a port nobody listens on yet can connect to itself and leave the port
# in TIME_WAIT (seen here: "127.0.0.1:38004 -> 127.0.0.1:38004").
# Data under build/bench/ (deleted at the start of a run).
# Only processes this script started are stopped (by PID).
set -uo pipefail
# nsxd as it ships: deploy/local-cluster.sh turns --enable-faults on for
# people (a teaching cluster) unless NSXD_FAULTS=0 (tests/lib/lib.sh does
# the same for the scripts that source it)
export NSXD_FAULTS=${NSXD_FAULTS:-0}
here=$(cd "$(dirname "$0")/../.." && pwd)
out=$here/build/bench
dur=${BENCH_DURATION:-10}
concs=${BENCH_CONCS:-"1 16 64"}
ops=${BENCH_OPS:-"put get get_all get_stale"}
keys=${BENCH_KEYS:-10000}
part1=${BENCH_PART1:-1}
part2=${BENCH_PART2:-1}
big_keys=${BENCH_BIG_KEYS:-1000000}
lua=$here/tests/perf/bench
lc=$here/deploy/local-cluster.sh
export NSXD_BIN=$here/build/nsxd NSXD_HTTP_BASE=24000 NSXD_PEER_BASE=25000 \
    NSXD_MON_BASE=25100 NSXD_DATA=$out/nsxd-data

for t in wrk etcd jq curl; do
    command -v $t >/dev/null || { echo "bench: $t missing (make bench installs it)"; exit 1; }
done
rm -rf "$out/nsxd-data" "$out/etcd-data"
mkdir -p "$out/etcd-data"

etcd_pids=()
cleanup() {
    "$lc" stop >/dev/null 2>&1
    local p
    for p in "${etcd_pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${etcd_pids[@]}"; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    etcd_pids=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the two clusters -------------------------------------------------
nsxd_url() { echo "http://127.0.0.1:$((24000 + $1))"; }
etcd_url() { echo "http://127.0.0.1:$((26370 + $1))"; }
nsxd_pids() { local i; for ((i = 1; i <= $1; i++)); do cat "$NSXD_DATA/n$i.pid"; done; }

nsxd_leader() {   # N nodes; prints the leader's number
    local i n
    for ((i = 0; i < 200; i++)); do
        for ((n = 1; n <= $1; n++)); do
            curl -s -m 2 "$(nsxd_url "$n")/health" | grep -q '"role": "leader"' &&
                { echo "$n"; return 0; }
        done
        sleep 0.1
    done
    return 1
}
nsxd_commit() { curl -s -m 5 "$(nsxd_url "$1")/health" | jq -r .commit; }

start_etcd() {
    local i cluster=""
    for i in 1 2 3; do cluster+="${cluster:+,}e$i=http://127.0.0.1:$((26380 + i))"; done
    for i in 1 2 3; do
        etcd --name "e$i" --data-dir "$out/etcd-data/e$i" \
            --listen-client-urls "$(etcd_url $i)" --advertise-client-urls "$(etcd_url $i)" \
            --listen-peer-urls "http://127.0.0.1:$((26380 + i))" \
            --initial-advertise-peer-urls "http://127.0.0.1:$((26380 + i))" \
            --initial-cluster "$cluster" --initial-cluster-state new \
            --initial-cluster-token "nsxd-bench-$$" --logger zap --log-level error \
            >"$out/etcd-data/e$i.log" 2>&1 &
        etcd_pids+=($!)
        disown $!  # no "Killed" notice if one has to be killed
    done
}
etcd_status() { curl -s -m 2 -X POST "$(etcd_url "$1")/v3/maintenance/status" -d '{}'; }
etcd_leader() {
    local i n s
    for ((i = 0; i < 200; i++)); do
        for n in 1 2 3; do
            s=$(etcd_status "$n")
            [ -n "$s" ] && [ "$(jq -r '.header.member_id == .leader' <<<"$s")" = true ] &&
                { echo "$n"; return 0; }
        done
        sleep 0.1
    done
    return 1
}
etcd_commit() { etcd_status "$1" | jq -r .header.revision; }

# --- measuring --------------------------------------------------------
# ms from a wrk latency ("812.00us", "1.23ms", "1.02s")
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0;
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) ; else if (v ~ /m$/) n *= 60000;
    else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }
cpu_ticks() { local p s=0; for p in "$@"; do s=$((s + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done; echo $s; }
peak_rss_mib() { local p m=0 k; for p in "$@"; do
        k=$(awk '/^VmHWM/ { print $2 }' "/proc/$p/status"); [ "$k" -gt "$m" ] && m=$k; done
    awk -v k="$m" 'BEGIN { printf "%.1f", k / 1024 }'; }
hz=$(getconf CLK_TCK)

# preload SYSTEM URL LEADER_NUMBER KEYS VALUE_BYTES: writes key0..KEYS-1
# once; done when the commit index (etcd: revision) stops moving.
preload() {
    local sys=$1 url=$2 ln=$3 n=$4 vb=$5 c0 c prev="" still=0 t0=$SECONDS
    c0=$(${sys}_commit "$ln")
    wrk -t2 -c32 -d3600s -s "$lua/$sys.lua" "$url" -- preload "$n" "$vb" 2 >/dev/null 2>&1 &
    local w=$!
    while kill -0 $w 2>/dev/null; do
        sleep 1
        c=$(${sys}_commit "$ln")
        if [ -n "$c" ] && [ "$c" != null ] && [ $((c - c0)) -ge "$n" ] && [ "$c" = "$prev" ]; then
            still=$((still + 1)); [ $still -ge 2 ] && break
        else
            still=0
        fi
        prev=$c
    done
    kill $w 2>/dev/null; wait $w 2>/dev/null
    echo "  $sys: $n keys preloaded in $((SECONDS - t0)) s ($((c - c0)) writes)"
}

# run SYSTEM OP CONC URL VALUE_BYTES KEYS PIDS...: one wrk run; sets
# R_RPS R_P50 R_P99 R_REQ R_ERR R_CPU (us per request) R_RSS
run() {
    local sys=$1 op=$2 conc=$3 url=$4 vb=$5 n=$6; shift 6
    local t=2; [ "$conc" -lt 2 ] && t=1
    local c0 c1 o
    c0=$(cpu_ticks "$@")
    o=$(wrk -t$t -c"$conc" -d"${dur}s" --latency -s "$lua/$sys.lua" "$url" -- "$op" "$n" "$vb" 2>&1)
    c1=$(cpu_ticks "$@")
    R_RPS=$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' <<<"$o")
    R_P50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$o")")
    R_P99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$o")")
    R_REQ=$(awk '/requests in/ { print $1 }' <<<"$o")
    R_ERR=$(awk '/Non-2xx/ { e += $NF } /Socket errors/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 } END { print e + 0 }' <<<"$o")
    R_CPU=$(awk -v d=$((c1 - c0)) -v r="${R_REQ:-0}" -v hz="$hz" 'BEGIN { printf "%.1f", (r > 0) ? d * 1e6 / hz / r : 0 }')
    R_RSS=$(peak_rss_mib "$@")
    [ -n "$R_RPS" ] || { echo "bench: wrk failed: $o" >&2; R_RPS=0 R_P50=0 R_P99=0; }
}

# run_spread SYSTEM CONC VALUE_BYTES KEYS URLS... -- PIDS...: linearizable
# GETs spread over every node (a follower asks the leader for a read
# index, §6.4), one wrk per node with CONC/N connections (at least 1), at
# once; sets what run sets: r/s and requests summed, p50 and p99 the
# largest of the nodes' (a conservative merge), errors summed.
run_spread() {
    local sys=$1 conc=$2 vb=$3 n=$4; shift 4
    local urls=() u
    while [ "$1" != -- ]; do urls+=("$1"); shift; done; shift
    local per=$(( conc / ${#urls[@]} )); [ "$per" -lt 1 ] && per=1
    local t=2; [ "$per" -lt 2 ] && t=1
    local c0 c1 i tmp; tmp=$(mktemp -d)
    c0=$(cpu_ticks "$@")
    for i in "${!urls[@]}"; do
        wrk -t$t -c"$per" -d"${dur}s" --latency -s "$lua/$sys.lua" "${urls[$i]}" -- get "$n" "$vb" \
            >"$tmp/$i" 2>&1 &
    done
    wait
    c1=$(cpu_ticks "$@")
    R_RPS=0 R_P50=0 R_P99=0 R_REQ=0 R_ERR=0
    for i in "${!urls[@]}"; do
        local o; o=$(cat "$tmp/$i")
        R_RPS=$(awk -v a="$R_RPS" '/^Requests\/sec/ { printf "%.0f", a + $2 }' <<<"$o")
        R_REQ=$(( R_REQ + $(awk '/requests in/ { print $1 }' <<<"$o") ))
        R_ERR=$(( R_ERR + $(awk '/Non-2xx/ { e += $NF } /Socket errors/ { gsub(/,/, ""); e += $4 + $6 + $8 + $10 } END { print e + 0 }' <<<"$o") ))
        R_P50=$(awk -v a="$R_P50" -v b="$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$o")")" 'BEGIN { print (b > a) ? b : a }')
        R_P99=$(awk -v a="$R_P99" -v b="$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$o")")" 'BEGIN { print (b > a) ? b : a }')
    done
    rm -rf "$tmp"
    R_CPU=$(awk -v d=$((c1 - c0)) -v r="${R_REQ:-0}" -v hz="$hz" 'BEGIN { printf "%.1f", (r > 0) ? d * 1e6 / hz / r : 0 }')
    R_RSS=$(peak_rss_mib "$@")
}

# --- part 1 -----------------------------------------------------------
if [ "$part1" = 1 ]; then
echo "== part 1: nsxd (3 nodes) and etcd $(etcd --version | awk '/etcd Version/ { print $3 }') (3 nodes), loopback, $(nproc) cores"
"$lc" start 3 >/dev/null || { echo "bench: nsxd did not start"; exit 1; }
start_etcd
NL=$(nsxd_leader 3) || { echo "bench: nsxd has no leader"; exit 1; }
EL=$(etcd_leader) || { echo "bench: etcd has no leader"; exit 1; }
mapfile -t NP < <(nsxd_pids 3)
EP=("${etcd_pids[@]}")
echo "  leaders: nsxd n$NL, etcd e$EL"
preload nsxd "$(nsxd_url "$NL")" "$NL" "$keys" 100
preload etcd "$(etcd_url "$EL")" "$EL" "$keys" 100
for k in 0 $((keys - 1)); do
    curl -sf "$(nsxd_url "$NL")/kv/get?key=key$k" >/dev/null ||
        { echo "bench: nsxd preload incomplete (key$k missing)"; exit 1; }
done

tsv=$out/latest.tsv cpu=$out/cpu.tsv
printf 'system\top\tconc\trps\tp50_ms\tp99_ms\trss_mib\n' >"$tsv.tmp"
printf 'system\top\tconc\trequests\tcpu_us_per_req\terrors\n' >"$cpu.tmp"
declare -A RES
for op in $ops; do
    for c in $concs; do
        for sys in nsxd etcd; do
            if [ "$op" = get_all ] && [ $sys = nsxd ]; then
                run_spread nsxd "$c" 100 "$keys" "$(nsxd_url 1)" "$(nsxd_url 2)" "$(nsxd_url 3)" -- "${NP[@]}"
            elif [ "$op" = get_all ]; then
                run_spread etcd "$c" 100 "$keys" "$(etcd_url 1)" "$(etcd_url 2)" "$(etcd_url 3)" -- "${EP[@]}"
            elif [ $sys = nsxd ]; then run nsxd "$op" "$c" "$(nsxd_url "$NL")" 100 "$keys" "${NP[@]}"
            else run etcd "$op" "$c" "$(etcd_url "$EL")" 100 "$keys" "${EP[@]}"; fi
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' $sys "$op" "$c" "$R_RPS" "$R_P50" "$R_P99" "$R_RSS" >>"$tsv.tmp"
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' $sys "$op" "$c" "${R_REQ:-0}" "$R_CPU" "$R_ERR" >>"$cpu.tmp"
            RES[$sys,$op,$c]="$R_RPS $R_P50 $R_P99 $R_CPU $R_RSS $R_ERR"
            echo "  $sys $op c=$c: $R_RPS req/s, p50 $R_P50 ms, p99 $R_P99 ms, $R_CPU us CPU/req, errors $R_ERR" >&2
        done
    done
done
mv "$tsv.tmp" "$tsv"; mv "$cpu.tmp" "$cpu"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
ratio3() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }
echo
printf '%-9s %4s | %8s %8s %8s %6s | %8s %8s %8s %6s | %6s %6s\n' op conc \
    "nsxd r/s" "p50 ms" "p99 ms" "us/req" "etcd r/s" "p50 ms" "p99 ms" "us/req" "r/s x" "p99 x"
for op in $ops; do
    for c in $concs; do
        read -r nr n50 n99 ncpu _ _ <<<"${RES[nsxd,$op,$c]}"
        read -r er e50 e99 ecpu _ _ <<<"${RES[etcd,$op,$c]}"
        printf '%-9s %4s | %8s %8s %8s %6s | %8s %8s %8s %6s | %6s %6s\n' "$op" "$c" \
            "$nr" "$n50" "$n99" "$ncpu" "$er" "$e50" "$e99" "$ecpu" "$(ratio "$nr" "$er")" "$(ratio "$n99" "$e99")"
    done
done
nrss=$(peak_rss_mib "${NP[@]}") erss=$(peak_rss_mib "${EP[@]}")
echo "peak RSS per node (largest of 3): nsxd $nrss MiB, etcd $erss MiB ($(ratio "$nrss" "$erss")x)"
echo "(us/req: CPU time of the 3 server processes per request; r/s x and p99 x: nsxd / etcd)"

# The issue's targets, as ratios in this run.
target() {   # label value op cmp limit
    local ok; ok=$(awk -v v="$2" -v l="$4" -v c="$3" 'BEGIN { print (v != "-" && (c == ">=" ? v >= l : v <= l)) ? "met" : "NOT met" }')
    printf '  %-40s %6s (want %s %s): %s\n' "$1" "$2" "$3" "$4" "$ok"
}
echo "targets:"
has() { [ -n "${RES[nsxd,$1,$2]:-}" ] && [ -n "${RES[etcd,$1,$2]:-}" ]; }
f() { awk -v i="$3" '{ print $i }' <<<"${RES[$1,$2]}"; }
if has put 64; then
    target "PUT req/s at 64, nsxd/etcd" "$(ratio3 "$(f nsxd put,64 1)" "$(f etcd put,64 1)")" ">=" 3
    target "PUT p99 at 64, nsxd/etcd" "$(ratio3 "$(f nsxd put,64 3)" "$(f etcd put,64 3)")" "<=" 0.5
fi
has put 1 && target "PUT req/s at 1, nsxd/etcd" "$(ratio3 "$(f nsxd put,1 1)" "$(f etcd put,1 1)")" ">=" 1.5
has get 64 && target "linearizable GET req/s at 64, nsxd/etcd" "$(ratio3 "$(f nsxd get,64 1)" "$(f etcd get,64 1)")" ">=" 4
has get_all 64 && printf '  %-40s %6s\n' "(GET on all nodes at 64, nsxd/etcd)" "$(ratio3 "$(f nsxd get_all,64 1)" "$(f etcd get_all,64 1)")"
target "peak RSS per node, nsxd/etcd" "$(ratio3 "$nrss" "$erss")" "<=" 0.2
echo "wrote $tsv and $cpu"
cleanup
fi

# --- part 2 -----------------------------------------------------------
[ "$part2" = 1 ] || exit 0
echo
echo "== part 2: nsxd alone, 5 nodes, $big_keys keys preloaded"
rm -rf "$NSXD_DATA"
"$lc" start 5 >/dev/null || { echo "bench: nsxd (5) did not start"; exit 1; }
NL=$(nsxd_leader 5) || { echo "bench: nsxd (5) has no leader"; exit 1; }
mapfile -t NP < <(nsxd_pids 5)
preload nsxd "$(nsxd_url "$NL")" "$NL" "$big_keys" 100
t5=$out/nsxd5.tsv
printf 'nodes\tkeys\tvalue_bytes\top\tconc\trps\tp50_ms\tp99_ms\tcpu_us_per_req\trss_mib\terrors\n' >"$t5.tmp"
printf '%-5s %-9s %4s | %8s %8s %8s %7s %8s %6s\n' value op conc "r/s" "p50 ms" "p99 ms" "us/req" "RSS MiB" errors
for vb in 4096 65536; do
    for op in put get; do
        for c in 16 64; do
            run nsxd $op $c "$(nsxd_url "$NL")" $vb "$big_keys" "${NP[@]}"
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' 5 "$big_keys" $vb $op $c \
                "$R_RPS" "$R_P50" "$R_P99" "$R_CPU" "$R_RSS" "$R_ERR" >>"$t5.tmp"
            printf '%-5s %-9s %4s | %8s %8s %8s %7s %8s %6s\n' "$((vb / 1024))K" $op $c \
                "$R_RPS" "$R_P50" "$R_P99" "$R_CPU" "$R_RSS" "$R_ERR"
        done
    done
done
mv "$t5.tmp" "$t5"
du_mib=$(du -sm "$NSXD_DATA/n$NL" | cut -f1)
echo "(get reads keys written as 100-byte values or by the puts above; leader's data dir: $du_mib MiB)"
echo "wrote $t5"
