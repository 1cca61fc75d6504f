#!/usr/bin/env bash
# codec_count.sh [BIN]: how many times each encoder and decoder runs per
# PUT on the leader and on one follower, counted with uprobes (perf probe)
# on a 3-node cluster (HTTP base $NSXD_HTTP_BASE, default 26100): 5 s of
# PUTs at one connection (wrk), minus the rate of the same 5 s idle
# (heartbeats). Needs root (uprobes). README, "The way of a PUT".
set -u
# nsxd as it ships: deploy/local-cluster.sh turns --enable-faults on for
# people (a teaching cluster) unless NSXD_FAULTS=0 (tests/lib/lib.sh does
# the same for the scripts that source it)
export NSXD_FAULTS=${NSXD_FAULTS:-0}
bin=${1:-$(cd "$(dirname "$0")/../.." && pwd)/build/nsxd}
out=$(mktemp -d /tmp/codec_count.XXXXXX)
here=$(cd "$(dirname "$0")/../.." && pwd)
funcs=$(nm "$bin" | grep -E ' T (msg_[a-z_]*(encode|decode|header)|msg_body_[a-z_]*|json_from_msgpack[a-z_]*|msg_api_rep_[a-z]*|http_render[a-z_]*|store_batch_put_(entry|kv))$' | awk '{print $3}' | grep -v trace)
grp=$(basename "$bin" | tr -c 'a-zA-Z0-9\n' '_')
perf probe -q -d 'probe_nsxd:*' 2>/dev/null
for f in $funcs; do perf probe -q -x "$bin" -a "$f=$f" 2>/dev/null; done
grp=nsxd
export NSXD_BIN=$bin NSXD_DATA=$(mktemp -d /tmp/codec_count_data.XXXX) NSXD_HTTP_BASE=${NSXD_HTTP_BASE:-26100} NSXD_PEER_BASE=${NSXD_PEER_BASE:-26200}
$here/deploy/local-cluster.sh start >/dev/null 2>&1
leader=""; for i in $(seq 1 100); do for n in 1 2 3; do [ "$(curl -s -m1 127.0.0.1:$((NSXD_HTTP_BASE+n))/health | jq -r .role)" = leader ] && leader=$n; done; [ -n "$leader" ] && break; sleep 0.2; done
follower=$(( leader % 3 + 1 ))
base=$NSXD_HTTP_BASE
lp=$(cat $NSXD_DATA/n$leader.pid); fp=$(cat $NSXD_DATA/n$follower.pid)
url=http://127.0.0.1:$((NSXD_HTTP_BASE+leader))
wrk -t1 -c2 -d2s -s $here/tests/perf/bench/nsxd.lua $url -- preload 1000 100 1 >/dev/null 2>&1
evs=$(perf probe -l 2>/dev/null | awk '{print $1}' | grep "^probe_$grp:" | tr '\n' ',' | sed 's/,$//')
perf stat -x, -e "$evs" -p $lp -o $out/idle_l.csv -- sleep 5 &
perf stat -x, -e "$evs" -p $fp -o $out/idle_f.csv -- sleep 5; wait
perf stat -x, -e "$evs" -p $lp -o $out/put_l.csv -- sleep 6 &
perf stat -x, -e "$evs" -p $fp -o $out/put_f.csv -- sleep 6 &
sleep 0.5
o=$(wrk -t1 -c1 -d5s -s $here/tests/perf/bench/nsxd.lua $url -- put 1000 100 2>&1); wait
reqs=$(grep -E 'requests in' <<<"$o" | awk '{print $1}')
echo "requests: $reqs"
for role in l f; do
  echo "== $([ $role = l ] && echo leader || echo follower) (calls per PUT, idle rate subtracted)"
  join -t, -1 3 -2 3 <(grep probe_ $out/put_$role.csv | sort -t, -k3,3) <(grep probe_ $out/idle_$role.csv | sort -t, -k3,3) |
    awk -F, -v r=$reqs '{ n=substr($1, index($1,":")+1); v=($2 - $6*6/5)/r; if (!(n in m) || v > m[n]) m[n]=v }
      END { for (n in m) if (m[n] > 0.05) { printf "  %-28s %5.2f\n", n, m[n];
              if (n ~ /encode|header|body_|render|put_/) e += m[n]; else d += m[n] }
            printf "  %-28s %5.2f\n  %-28s %5.2f\n", "TOTAL encodes", e, "TOTAL decodes", d }' | sort
done
$here/deploy/local-cluster.sh stop >/dev/null 2>&1
perf probe -q -d "probe_$grp:*" 2>/dev/null
rm -rf "$NSXD_DATA" "$out"
