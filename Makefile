# nsxd -- a Raft key-value store.
#
#   make            build everything that exists so far
#   make run        build and run a 3-node cluster on 127.0.0.1:8001-8003
#   make test       unit tests (also under ASan+UBSan), the simulator at the
#                   CI budget, the planted-bug checks, the core purity check
#   make sim        SEEDS seeds of the cluster simulator (default 2000), on
#                   every core; `make sim SEED=s` replays one with a trace
#   make teeth      each planted-bug build must be caught by the simulator
#   make fuzz       each libFuzzer harness (tests/fuzz/) for FUZZ_S seconds
#   make fuzz-teeth the cluster harness must catch the planted term wedge
#   make jepsen     DURATION seconds (default 60) of concurrent clients and
#                   faults on a local cluster, the history checked for
#                   linearizability (tests/jepsen/); make jepsen-ci is make
#                   test's minute of it, make jepsen-teeth must catch the
#                   planted stale read
#   make bench      nsxd next to etcd 3.4 on this machine (tests/perf/bench.sh;
#                   timed, so never part of make test)
#   make format     clang-format every C file
#
# Missing Debian packages are installed first (deploy/deps.sh).

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -D_GNU_SOURCE
SAN     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=all
B       := build

CORE_SRC := $(wildcard actors/raft/*.c)
CORE_HDR := $(wildcard actors/raft/*.h)
CORE_OBJ := $(CORE_SRC:actors/raft/%.c=$(B)/core/%.o)
SIM_SRC  := $(wildcard tests/sim/*.c)
SIM_HDR  := $(wildcard tests/sim/*.h)
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_HDR := $(wildcard tests/unit/*.h)
MSG_SRC  := $(wildcard msg/*.c)
MSG_HDR  := $(wildcard msg/*.h)
MSGPACK  := $(shell pkg-config --libs msgpack 2>/dev/null || echo -lmsgpackc)
# The node: actors, messages, storage, HTTP (civetweb and LevelDB have no
# pkg-config file).
NODE_SRC := $(filter-out actors/nsxd.c actors/nsxd_config.c,$(wildcard actors/*.c)) $(MSG_SRC) \
            $(wildcard store/*.c) $(filter-out http/nsxctl.c http/tls_compat.c http/trace_client.c,$(wildcard http/*.c))
NODE_HDR := $(wildcard actors/*.h) $(MSG_HDR) $(wildcard store/*.h) \
            $(wildcard http/*.h)
NODE_INC := -Iactors -Iactors/raft -Imsg -Istore -Ihttp
NODE_LIB := -lczmq -lzmq $(MSGPACK) -lleveldb -lcivetweb -ljansson -lssl -lcrypto -lsodium -lpthread

SEEDS    ?= 2000
CI_SEEDS ?= 2400
BUG_SEEDS ?= 2000
# name:number of each planted bug (actors/raft/raft_int.h)
BUGS := commit_old_term:1 vote_no_log_check:2 ack_unpersisted:3 \
        read_no_round:4 conf_two_pending:5 no_noop_before_conf:6 \
        no_behind_probe:7 snap_stale:8 async_early:10

.PHONY: powercut powercut-shim powercut-teeth
.PHONY: all deps promtool bench test unit unit-asan msg node cluster experiments containers run sim sim-ci teeth purity format clean \
        fuzz fuzz-ci fuzz-corpus fuzz-teeth fuzz-build jepsen jepsen-ci jepsen-teeth jepsen-unit

all: deps $(B)/nsxd $(B)/nsxctl $(B)/libraftcore.a $(B)/sim $(B)/test_raft $(B)/test_msg

deps:
	@deploy/deps.sh build

$(B)/core/%.o: actors/raft/%.c $(CORE_HDR) | $(B)/core
	$(CC) $(WARN) $(CFLAGS) -c $< -o $@

$(B)/libraftcore.a: $(CORE_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/sim: $(SIM_SRC) $(SIM_HDR) $(CORE_SRC) $(CORE_HDR) | $(B)
	$(CC) $(WARN) $(CFLAGS) -Iactors/raft -Itests/sim $(SIM_SRC) $(CORE_SRC) -o $@

$(B)/sim-asan: $(SIM_SRC) $(SIM_HDR) $(CORE_SRC) $(CORE_HDR) | $(B)
	$(CC) $(WARN) $(SAN) -Iactors/raft -Itests/sim $(SIM_SRC) $(CORE_SRC) -o $@

$(B)/sim-bug-%: $(SIM_SRC) $(SIM_HDR) $(CORE_SRC) $(CORE_HDR) | $(B)
	$(CC) $(WARN) $(CFLAGS) -DRAFT_PLANTED_BUG=$(lastword $(subst :, ,$(filter $*:%,$(BUGS)))) \
	    -Iactors/raft -Itests/sim $(SIM_SRC) $(CORE_SRC) -o $@

$(B)/test_raft: $(UNIT_SRC) $(UNIT_HDR) $(CORE_SRC) $(CORE_HDR) | $(B)
	$(CC) $(WARN) $(CFLAGS) -Iactors/raft -Itests/unit $(UNIT_SRC) $(CORE_SRC) -o $@

$(B)/test_raft-asan: $(UNIT_SRC) $(UNIT_HDR) $(CORE_SRC) $(CORE_HDR) | $(B)
	$(CC) $(WARN) $(SAN) -Iactors/raft -Itests/unit $(UNIT_SRC) $(CORE_SRC) -o $@

$(B)/test_msg: tests/msg/test_msg.c msg/msg_raft.c msg/msg_raft.h $(CORE_SRC) $(CORE_HDR) | $(B)
	$(CC) $(WARN) $(CFLAGS) -Iactors/raft -Imsg tests/msg/test_msg.c msg/msg_raft.c msg/msg_util.c $(CORE_SRC) $(MSGPACK) -o $@

$(B)/test_msg-asan: tests/msg/test_msg.c msg/msg_raft.c msg/msg_raft.h $(CORE_SRC) $(CORE_HDR) | $(B)
	$(CC) $(WARN) $(SAN) -Iactors/raft -Imsg tests/msg/test_msg.c msg/msg_raft.c msg/msg_util.c $(CORE_SRC) $(MSGPACK) -o $@

# What lets Debian 12's civetweb serve HTTPS with OpenSSL 3 (see
# http/tls_compat.c); nsxd loads them from nsxd-tls/ next to itself.
TLS_COMPAT := $(B)/nsxd-tls/libssl.so $(B)/nsxd-tls/libcrypto.so
$(B)/nsxd-tls/libssl.so: http/tls_compat.c | $(B)
	mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -shared -fPIC -Wl,-soname,libssl.so $< -o $@ -Wl,--no-as-needed -lssl
$(B)/nsxd-tls/libcrypto.so: http/tls_compat.c | $(B)
	mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) -shared -fPIC -DNSXD_TLS_COMPAT_CRYPTO -Wl,-soname,libcrypto.so $< -o $@ \
	    -Wl,--no-as-needed -lcrypto

$(B)/nsxd: actors/nsxd.c actors/nsxd_config.c $(NODE_SRC) $(NODE_HDR) $(CORE_SRC) $(CORE_HDR) $(TLS_COMPAT) | $(B)
	$(CC) $(WARN) $(CFLAGS) $(NODE_INC) actors/nsxd.c actors/nsxd_config.c $(NODE_SRC) $(CORE_SRC) $(NODE_LIB) -o $@

NSXCTL_SRC := http/nsxctl.c http/client.c http/resolve.c http/tls.c http/trace_client.c \
              actors/peer_keys.c msg/msg_trace.c msg/msg_util.c
$(B)/nsxctl: $(NSXCTL_SRC) http/client.h http/resolve.h http/tls.h http/trace_client.h actors/peer_keys.h msg/msg_trace.h msg/msg_util.h | $(B)
	$(CC) $(WARN) $(CFLAGS) -Iactors -Iactors/raft -Imsg -Ihttp $(NSXCTL_SRC) -ljansson \
	    -lssl -lcrypto -lczmq -lzmq $(MSGPACK) -lsodium -lpthread -o $@

$(B)/peer_garbage: tests/cluster/peer_garbage.c msg/msg_raft.c actors/peer_keys.c $(CORE_SRC) $(CORE_HDR) | $(B)
	$(CC) $(WARN) $(CFLAGS) -Iactors -Iactors/raft -Imsg $< msg/msg_raft.c msg/msg_util.c actors/peer_keys.c $(CORE_SRC) -lczmq -lzmq $(MSGPACK) -lsodium -lpthread -o $@

$(B)/peer_forge: tests/cluster/peer_forge.c msg/msg_raft.c actors/peer_keys.c actors/peer_keys.h $(CORE_SRC) $(CORE_HDR) | $(B)
	$(CC) $(WARN) $(CFLAGS) -Iactors -Iactors/raft -Imsg $< msg/msg_raft.c msg/msg_util.c actors/peer_keys.c $(CORE_SRC) -lczmq -lzmq $(MSGPACK) -lsodium -lpthread -o $@

$(B)/trickle: tests/cluster/trickle.c | $(B)
	$(CC) $(WARN) $(CFLAGS) $< -lpthread -o $@

# A name server that never answers, for *.slow.invalid (test only).
$(B)/slow_resolver.so: tests/cluster/slow_resolver.c | $(B)
	$(CC) -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE $(CFLAGS) -shared -fPIC $< -o $@

$(B)/nsxd-asan: actors/nsxd.c actors/nsxd_config.c $(NODE_SRC) $(NODE_HDR) $(CORE_SRC) $(CORE_HDR) $(TLS_COMPAT) | $(B)
	$(CC) $(WARN) $(SAN) $(NODE_INC) actors/nsxd.c actors/nsxd_config.c $(NODE_SRC) $(CORE_SRC) $(NODE_LIB) -o $@

# End-to-end linearizability (tests/jepsen/): the checker, its test, the
# workload, and the node with a planted stale-read bug (actors/raft_actor.c,
# NSXD_PLANTED_BUG).
JEPSEN_LIN := tests/jepsen/linearize.c tests/jepsen/history.c
$(B)/jepsen-check: tests/jepsen/check_main.c $(JEPSEN_LIN) tests/jepsen/linearize.h | $(B)
	$(CC) $(WARN) $(CFLAGS) -Itests/jepsen $< $(JEPSEN_LIN) -ljansson -lsodium -o $@

$(B)/test_linearize: tests/jepsen/test_linearize.c $(JEPSEN_LIN) tests/jepsen/linearize.h | $(B)
	$(CC) $(WARN) $(SAN) -Itests/jepsen $< $(JEPSEN_LIN) -ljansson -lsodium -o $@

JEPSEN_CLIENT := http/client.c http/resolve.c http/tls.c
$(B)/jepsen-workload: tests/jepsen/workload.c $(JEPSEN_CLIENT) http/client.h | $(B)
	$(CC) $(WARN) $(CFLAGS) -Ihttp $< $(JEPSEN_CLIENT) -ljansson -lssl -lcrypto -lpthread -o $@

# The metrics registry alone, and the strict exposition checker.
PROMCHECK := tests/node/promcheck.c tests/node/promcheck.h
$(B)/test_metrics: tests/node/test_metrics.c $(PROMCHECK) actors/metrics.c actors/metrics.h $(CORE_SRC) $(CORE_HDR) | $(B)
	$(CC) $(WARN) $(SAN) -Iactors -Iactors/raft -Itests/node $< tests/node/promcheck.c actors/metrics.c $(CORE_SRC) -lpthread -lm -o $@

$(B)/promcheck: tests/node/promcheck_main.c $(PROMCHECK) | $(B)
	$(CC) $(WARN) $(CFLAGS) -Itests/node $< tests/node/promcheck.c -lm -o $@

# Three nodes in one process: the node is started from flags, as nsxd's
# main does (nsxd_config.c).
$(B)/test_inproc_cluster: tests/node/test_inproc_cluster.c actors/nsxd_config.c $(NODE_SRC) $(NODE_HDR) $(CORE_SRC) $(CORE_HDR) | $(B)
	$(CC) $(WARN) $(SAN) $(NODE_INC) $< actors/nsxd_config.c $(NODE_SRC) $(CORE_SRC) $(NODE_LIB) -o $@

$(B)/test_%: tests/node/test_%.c $(NODE_SRC) $(NODE_HDR) $(CORE_SRC) $(CORE_HDR) | $(B)
	$(CC) $(WARN) $(SAN) $(NODE_INC) $< $(NODE_SRC) http/trace_client.c $(CORE_SRC) $(NODE_LIB) -o $@

$(B) $(B)/core:
	mkdir -p $@

unit: deps $(B)/test_raft
	$(B)/test_raft

unit-asan: deps $(B)/test_raft-asan
	$(B)/test_raft-asan

run: deps $(B)/nsxd $(B)/nsxctl
	deploy/local-cluster.sh run 3

node: deps promtool $(B)/test_store $(B)/test_store_snap $(B)/test_storage $(B)/test_transport $(B)/test_peer_auth $(B)/test_http $(B)/test_monitor \
      $(B)/test_metrics $(B)/test_security $(B)/test_inproc_cluster
	$(B)/test_security
	$(B)/test_store
	$(B)/test_store_snap
	$(B)/test_storage
	$(B)/test_transport
	$(B)/test_peer_auth
	$(B)/test_http
	$(B)/test_monitor
	$(B)/test_metrics
	$(B)/test_inproc_cluster

# promtool (for `promtool check metrics`), taken from Debian's prometheus
# package without installing it (no daemon); a test says SKIPPED without.
promtool:
	@deploy/deps.sh promtool

# Real processes on loopback, then the same under ASan+UBSan.
# (defined before its first use: make expands a rule's prerequisites as it
# reads the rule)
PC_TOOLS := $(B)/pcshim.so $(B)/pc_rollback $(B)/pc_load $(B)/shim_test
cluster: deps promtool $(B)/nsxd $(B)/nsxd-asan $(B)/nsxctl $(B)/peer_garbage $(B)/peer_forge $(B)/promcheck \
         $(B)/trickle $(B)/slow_resolver.so $(PC_TOOLS)
	tests/cluster/cluster_test.sh $(B)/nsxd
	NSXD_HTTP_BASE=28000 NSXD_PEER_BASE=29000 tests/cluster/cluster_test.sh $(B)/nsxd-asan
	tests/cluster/peer_forge_test.sh $(B)/nsxd
	tests/cluster/compact_test.sh $(B)/nsxd
	tests/cluster/quota_test.sh $(B)/nsxd
	tests/cluster/http_security_test.sh $(B)/nsxd
	NSXD_HTTP_BASE=13000 NSXD_PEER_BASE=14000 NSXD_MON_BASE=14100 \
	    tests/cluster/http_security_test.sh $(B)/nsxd-asan
	tests/powercut/shim_test.sh $(B)
	tests/cluster/powercut_test.sh $(B)/nsxd
	tests/cluster/identity_test.sh $(B)/nsxd
	NSXD_HTTP_BASE=10750 NSXD_PEER_BASE=10850 NSXD_MON_BASE=10950 \
	    tests/cluster/identity_test.sh $(B)/nsxd-asan

# Power cuts (issue 13, tests/powercut/): the shim, its rollback, its own
# test, the load; `make powercut CUTS=200` is the long run (make test runs
# CUTS=4); `make powercut-teeth`: the apply_nosync build must be caught.
CUTS ?= 200
$(B)/pcshim.so: tests/powercut/pcshim.c | $(B)
	$(CC) $(WARN) $(CFLAGS) -shared -fPIC $< -o $@ -ldl -lpthread
$(B)/pc_rollback: tests/powercut/pc_rollback.c | $(B)
	$(CC) $(WARN) $(CFLAGS) $< -o $@
$(B)/shim_test: tests/powercut/shim_test.c | $(B)
	$(CC) $(WARN) $(CFLAGS) $< -o $@
$(B)/pc_load: tests/powercut/pc_load.c http/client.c http/resolve.c http/tls.c http/client.h | $(B)
	$(CC) $(WARN) $(CFLAGS) -Ihttp $< http/client.c http/resolve.c http/tls.c -ljansson -lssl -lcrypto -lpthread -o $@
# name:number of the planted node bugs, one numbering for the whole node:
# the storage ones (actors/storage.c, caught by powercut-teeth) and the read
# path's (actors/raft_actor.c, caught by jepsen-teeth), the identity and
# corruption ones (raft_actor.c, store/store_int.h: identity-teeth).
# build/nsxd-bug-NAME.
NODE_BUGS := apply_nosync:1 apply_no_copy:2 stale-read:3 no_self_check:4 no_paranoid:5
$(B)/nsxd-bug-%: actors/nsxd.c actors/nsxd_config.c $(NODE_SRC) $(NODE_HDR) $(CORE_SRC) $(CORE_HDR) $(TLS_COMPAT) | $(B)
	$(CC) $(WARN) $(CFLAGS) -DNSXD_PLANTED_BUG=$(lastword $(subst :, ,$(filter $*:%,$(NODE_BUGS)))) \
	    $(NODE_INC) actors/nsxd.c actors/nsxd_config.c $(NODE_SRC) $(CORE_SRC) $(NODE_LIB) -o $@

# identity_test.sh must fail the check each planted bug breaks: the wiped
# server votes as its old self (E lost), the damaged log is accepted.
identity-teeth: deps $(B)/nsxd-bug-no_self_check $(B)/nsxd-bug-no_paranoid $(B)/nsxctl
	tests/cluster/identity_teeth.sh $(B)

powercut-shim: $(PC_TOOLS)
	tests/powercut/shim_test.sh $(B)

powercut: deps $(B)/nsxd $(PC_TOOLS)
	CUTS=$(CUTS) tests/cluster/powercut_test.sh $(B)/nsxd

powercut-teeth: deps $(B)/nsxd-bug-apply_nosync $(B)/nsxd-bug-apply_no_copy $(PC_TOOLS)
	tests/powercut/teeth.sh $(B)/nsxd-bug-apply_nosync
	tests/powercut/teeth.sh $(B)/nsxd-bug-apply_no_copy

msg: deps $(B)/test_msg $(B)/test_msg-asan
	$(B)/test_msg
	$(B)/test_msg-asan

# The fault experiments on the local cluster (partitions need root or
# passwordless sudo for iptables; without, they are skipped and said so).
experiments: deps $(B)/nsxd $(B)/nsxctl
	@if [ "$$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; then \
	    NSXD_HTTP_BASE=26000 NSXD_PEER_BASE=27000 scripts/experiment.sh local all; \
	else \
	    echo "experiments: no root or passwordless sudo, partitions SKIPPED"; \
	    NSXD_HTTP_BASE=26000 NSXD_PEER_BASE=27000 scripts/experiment.sh local \
	        leader-stop leader-kill leader-pause limits; \
	fi

# The compose cluster: the prototype's test script and every experiment,
# when a Docker engine answers (.ci/run starts one with docker-env.sh).
containers: deps $(B)/nsxctl
	@if docker info >/dev/null 2>&1; then \
	    start=$$(date +%s); \
	    scripts/test_cluster.sh && scripts/experiment.sh compose all || exit 1; \
	    echo "container tests took $$(( $$(date +%s) - start )) s"; \
	else \
	    echo "containers: SKIPPED -- no Docker engine answers" \
	         "(../shared/tools/docker-env.sh starts one)"; \
	fi

ifdef SEED
sim: deps $(B)/sim
	$(B)/sim --seed $(SEED) --trace $(if $(NODES),--nodes $(NODES))
else
sim: deps $(B)/sim
	tests/sim/run-seeds.sh $(B)/sim $(SEEDS)
endif

sim-ci: deps $(B)/sim $(B)/sim-asan
	tests/sim/run-seeds.sh $(B)/sim $(CI_SEEDS)
	@echo "simulator under ASan+UBSan:"
	tests/sim/run-seeds.sh $(B)/sim-asan 100 100001
	@echo "replaying a seed twice gives the same trace hash:"
	tests/sim/replay-twice.sh $(B)/sim 7

teeth: deps $(addprefix $(B)/sim-bug-,$(foreach b,$(BUGS),$(firstword $(subst :, ,$(b)))))
	tests/sim/teeth.sh $(B) $(BUG_SEEDS) $(foreach b,$(BUGS),$(firstword $(subst :, ,$(b))))

purity: deps $(CORE_OBJ)
	tests/core/purity.sh $(CORE_OBJ)

# libFuzzer harnesses (tests/fuzz/fuzz_NAME.c, see tests/fuzz/fuzz.h): each
# is one file plus one line here naming what it links besides the file.
FUZZ_CC   := clang
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined \
           -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_INC  := -Iactors/raft -Imsg -Ihttp -Itests/sim -Itests/fuzz
FUZZ_LIB  := -lczmq -lzmq $(MSGPACK) -ljansson -lm
FUZZ_S    ?= 60
FUZZ_CI_S ?= 15
FUZZ_TEETH_S ?= 120
MSG_CORE  := msg/msg_raft.c msg/msg_store.c msg/msg_util.c $(CORE_SRC)
FUZZ_raft_msg  := $(MSG_CORE)
FUZZ_store     := $(MSG_CORE)
FUZZ_transport := msg/msg_transport.c $(MSG_CORE)
FUZZ_api       := msg/msg_api.c msg/msg_api_health.c http/http_render.c http/json.c $(MSG_CORE)
FUZZ_trace     := msg/msg_trace.c msg/msg_util.c
FUZZ_json      := http/json.c http/http_render.c $(MSG_CORE)
FUZZ_cluster   := tests/fuzz/forge.c tests/sim/world.c tests/sim/check.c msg/msg_raft.c msg/msg_util.c $(CORE_SRC)
FUZZ_http      := http/parse.c http/json.c $(MSG_CORE)
FUZZERS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
# name:number of the planted bugs only the cluster harness can catch (it
# forges messages; the simulator cannot). FUZZ_BUGS="$(BUGS) term_wedge:9"
# tries the simulator's too.
FUZZ_BUGS ?= term_wedge:9

.SECONDEXPANSION:
$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $$(FUZZ_$$*) $(MSG_HDR) $(CORE_HDR) $(SIM_HDR) http/json.h
	@mkdir -p $(B)/fuzz
	$(FUZZ_CC) $(WARN) $(FUZZ_CFLAGS) $(FUZZ_INC) $< $(FUZZ_$*) $(FUZZ_LIB) -o $@

$(B)/fuzz/bug-%: tests/fuzz/fuzz_cluster.c $(wildcard tests/fuzz/*.h) $(FUZZ_cluster) $(CORE_HDR) $(SIM_HDR)
	@mkdir -p $(B)/fuzz
	$(FUZZ_CC) $(WARN) $(FUZZ_CFLAGS) $(FUZZ_INC) \
	    -DRAFT_PLANTED_BUG=$(lastword $(subst :, ,$(filter $*:%,$(FUZZ_BUGS)))) \
	    $< $(FUZZ_cluster) $(FUZZ_LIB) -o $@

fuzz-build: deps $(addprefix $(B)/fuzz/fuzz_,$(FUZZERS))

# FUZZ_S seconds each (default 60), from the working corpus in build/fuzz.
fuzz: fuzz-build
	tests/fuzz/fuzz.sh run $(B) $(FUZZ_S) $(FUZZERS)

# For make test: every checked-in corpus input, then FUZZ_CI_S seconds each.
fuzz-ci: fuzz-build
	tests/fuzz/fuzz.sh ci $(B) $(FUZZ_CI_S) $(FUZZERS)

# Rebuild tests/fuzz/corpus: seeds + what make fuzz found, minimized.
fuzz-corpus: fuzz-build
	tests/fuzz/fuzz.sh corpus $(B) $(FUZZERS)

# The cluster harness built with each of FUZZ_BUGS must fail within
# FUZZ_TEETH_S seconds, starting from nothing.
fuzz-teeth: deps $(addprefix $(B)/fuzz/bug-,$(foreach b,$(FUZZ_BUGS),$(firstword $(subst :, ,$(b)))))
	@rc=0; for b in $(foreach b,$(FUZZ_BUGS),$(firstword $(subst :, ,$(b)))); do \
	    tests/fuzz/fuzz.sh teeth $(B)/fuzz/bug-$$b $(FUZZ_TEETH_S) $$b || rc=1; \
	done; exit $$rc

# The checker on histories of known verdict (under ASan+UBSan).
jepsen-unit: deps $(B)/test_linearize
	$(B)/test_linearize

# A 3-node cluster under concurrent clients and a nemesis (kill -9,
# SIGSTOP, partitions, membership changes, power cut when its harness is
# there), the history checked (tests/jepsen/jepsen.sh). Partitions need
# root or passwordless sudo (iptables); without, they are skipped and said
# so. Ports: NSXD_HTTP_BASE/NSXD_PEER_BASE (default 17000/17100).
DURATION ?= 60
JEPSEN_CI_S ?= 60
JEPSEN_TEETH_S ?= 60
JEPSEN_BINS := $(B)/nsxd $(B)/nsxctl $(B)/jepsen-workload $(B)/jepsen-check
jepsen: deps $(JEPSEN_BINS) $(PC_TOOLS)
	tests/jepsen/jepsen.sh --duration $(DURATION)

jepsen-ci: deps jepsen-unit $(JEPSEN_BINS) $(PC_TOOLS)
	tests/jepsen/jepsen.sh --duration $(JEPSEN_CI_S)

# The node built with the planted stale read, the leader isolated again
# and again: the checker must report the violation.
jepsen-teeth: deps $(JEPSEN_BINS) $(B)/nsxd-bug-stale-read
	tests/jepsen/jepsen.sh --bin $(B)/nsxd-bug-stale-read --nemesis partition-leader \
	    --duration $(JEPSEN_TEETH_S) --expect violation

test: unit unit-asan msg node cluster experiments containers purity sim-ci teeth jepsen-ci fuzz-ci
	@echo "make test: all passed"

bench: deps $(B)/nsxd
	@deploy/deps.sh etcd
	PATH="$(CURDIR)/$(B)/tools:$$PATH" tests/perf/bench.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(B)
