# nsxd -- a Raft key-value store.
#
#   make            build everything that exists so far
#   make run        build and run a 3-node cluster on 127.0.0.1:8001-8003
#   make check      everyday work, under 2 minutes from a warm build: unit,
#                   unit-asan, msg, purity, node, a short simulator run and
#                   the planted core bugs on a small budget (no cluster)
#   make test       everything, as CI runs it, fast suites first (TEST_ORDER)
#   make sim        SEEDS seeds of the cluster simulator (default 2000), on
#                   every core; `make sim SEED=s` replays one with a trace
#   make teeth      each planted-bug build must be caught by the simulator
#   make fuzz       each libFuzzer harness (tests/fuzz/) for FUZZ_S seconds
#   make fuzz-teeth the cluster harness must catch the planted term wedge
#   make jepsen     DURATION seconds (default 60) of concurrent clients and
#                   faults on a local cluster, the history checked for
#                   linearizability (tests/jepsen/); make jepsen-ci is make
#                   test's minute of it, make jepsen-teeth must catch the
#                   planted stale read, follower read and CAS pre-check
#   make bench      nsxd next to etcd 3.4 on this machine (tests/perf/bench.sh;
#                   timed, so never part of make test)
#   make format     clang-format every C file
#
# Missing Debian packages are installed first (deploy/deps.sh).

# Objects are kept (not removed as intermediates), and prerequisites may use
# $$ (planted-bug numbers looked up from the stem).
.SECONDARY:
.SECONDEXPANSION:

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -D_GNU_SOURCE
SAN     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=all
B       := build

# ---------------------------------------------------------------------
# Sources, by directory (wildcards: a new file is picked up, a moved one
# followed, with no edit here).
CORE_SRC := $(wildcard actors/raft/*.c)
SIM_SRC  := $(wildcard tests/sim/*.c)
UNIT_SRC := $(wildcard tests/unit/*.c)
TLIB_SRC := $(wildcard tests/lib/*.c)
MSG_SRC  := $(wildcard msg/*.c)
MSGPACK  := $(shell pkg-config --libs msgpack 2>/dev/null || echo -lmsgpackc)
# The node's library: every source of actors/, msg/, store/, http/ but the
# programs' mains and the TLS shim (a shared object of its own). Binaries
# link it as an archive, so each takes only the objects it needs (nsxctl
# the client's, a node test the actors') and no list of files is kept.
NODE_MAIN := actors/nsxd.c http/nsxctl.c http/tls_compat.c
NODE_SRC := $(filter-out $(NODE_MAIN),$(wildcard actors/*.c msg/*.c store/*.c http/*.c))
# The /ui page's files (http/ui/), compiled in as C arrays (xxd -i:
# http/ui/embed.sh, http/ui_assets.h say why), part of the node's library.
UI_FILES := $(wildcard http/ui/*.html http/ui/*.js http/ui/*.css)
UI_GEN   := $(B)/gen/ui_assets.c
NODE_LIB := -Wl,--as-needed -lczmq -lzmq $(MSGPACK) -lleveldb -lcivetweb -ljansson \
            -lssl -lcrypto -lsodium -lpthread -lm
# Include paths: the core sees only itself (it must stay pure, tests/core);
# everything else the node's directories, tests/lib and the simulator's.
INC      := -Iactors -Iactors/raft -Imsg -Istore -Ihttp -Itests/lib -Itests/sim
s_inc     = $(if $(filter actors/raft/%,$(1)),-Iactors/raft,$(INC))

SEEDS    ?= 2000
CI_SEEDS ?= 2400
BUG_SEEDS ?= 2000
# name:number of each planted bug (actors/raft/raft_int.h; 11, 12, 14 are
# the KV state machine's, store/kvsm.c; 15 the lessor's, store/lessor.c;
# 17 the lease table's, store/kvsm_lease.c)
BUGS := commit_old_term:1 vote_no_log_check:2 ack_unpersisted:3 \
        read_no_round:4 conf_two_pending:5 no_noop_before_conf:6 \
        no_behind_probe:7 snap_stale:8 async_early:10 \
        txn_ignores_compare:11 mod_local_counter:12 follower_read_local:13 \
        session_dup_applied:14 lease_keepalive_ignored:15 lease_revoke_keeps_keys:17
# name:number of the planted node bugs, one numbering for the whole node:
# the storage ones (caught by powercut-teeth), the read path's (caught by
# jepsen-teeth), the identity and corruption ones (identity-teeth).
# build/nsxd-bug-NAME.
NODE_BUGS := apply_nosync:1 apply_no_copy:2 stale-read:3 no_self_check:4 no_paranoid:5 \
             after_before_fsync:6 barrier_in_flight:7 watch_drop_on_wrap:8 \
             fault_drop_one_way:9 lease_keepalive_unconfirmed:10 ui_wrong_leader:11 \
             cas_precheck:12
# the number of planted bug $(1) in list $(2)
bug_num   = $(lastword $(subst :, ,$(filter $(1):%,$(2))))
bug_names = $(foreach b,$(1),$(firstword $(subst :, ,$(b))))

# libFuzzer harnesses (tests/fuzz/fuzz_NAME.c, see tests/fuzz/fuzz.h).
FUZZ_CC   := clang
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined \
           -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_S    ?= 60
FUZZ_CI_S ?= 15
FUZZ_TEETH_S ?= 120
FUZZERS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
# name:number of the planted bugs only the cluster harness can catch (it
# forges messages; the simulator cannot). FUZZ_BUGS="$(BUGS) term_wedge:9"
# tries the simulator's too.
FUZZ_BUGS ?= term_wedge:9

# ---------------------------------------------------------------------
# Objects: each source compiled once per flavour, by one pattern rule per
# flavour, into $(B)/<flavour>/<its path>.o with its header dependencies
# (-MMD -MP). Flavours:
#   obj           $(CFLAGS)                      nsxd, nsxctl, sim, tools
#   obj-asan      $(SAN)                         every test binary, nsxd-asan
#   obj-fuzz      clang, libFuzzer + ASan/UBSan  tests/fuzz
#   obj-raftbug-N $(CFLAGS) -DRAFT_PLANTED_BUG=N the core only (sim-bug-*)
#   obj-fuzzbug-N the same with clang's fuzz flags (fuzz-teeth)
#   obj-nodebug-N $(CFLAGS) -DNSXD_PLANTED_BUG=N only the node sources that
#                 mention it (all of them if a header does): nsxd-bug-*
# Each flavour also has libcore.a (the core), libnode.a (NODE_SRC),
# libsim.a (the simulator without its main, for the cluster fuzzer) and
# libtest.a (tests/lib).
objs = $(patsubst %.c,$(B)/$(1)/%.o,$(2))

# $(1) flavour directory, $(2) compiler, $(3) flags
define FLAVOUR
$(B)/$(1)/%.o: %.c
	@mkdir -p $$(@D)
	$(2) $$(WARN) $(3) $$(call s_inc,$$<) -MMD -MP -c $$< -o $$@
$(B)/$(1)/libcore.a: $(call objs,$(1),$(CORE_SRC))
	rm -f $$@ && ar rcs $$@ $$^
$(B)/$(1)/libnode.a: $(call objs,$(1),$(NODE_SRC) $(UI_GEN))
	rm -f $$@ && ar rcs $$@ $$^
$(B)/$(1)/libsim.a: $(call objs,$(1),$(filter-out tests/sim/sim.c,$(SIM_SRC)))
	rm -f $$@ && ar rcs $$@ $$^
$(B)/$(1)/libtest.a: $(call objs,$(1),$(TLIB_SRC))
	rm -f $$@ && ar rcs $$@ $$^
endef
$(eval $(call FLAVOUR,obj,$$(CC),$$(CFLAGS)))
$(eval $(call FLAVOUR,obj-asan,$$(CC),$$(SAN)))
$(eval $(call FLAVOUR,obj-fuzz,$$(FUZZ_CC),$$(FUZZ_CFLAGS)))
$(foreach b,$(BUGS),$(eval $(call FLAVOUR,obj-raftbug-$(call bug_num,$(call bug_names,$(b)),$(BUGS)),$$(CC),$$(CFLAGS) -DRAFT_PLANTED_BUG=$(call bug_num,$(call bug_names,$(b)),$(BUGS)))))
$(foreach b,$(FUZZ_BUGS),$(eval $(call FLAVOUR,obj-fuzzbug-$(call bug_num,$(call bug_names,$(b)),$(FUZZ_BUGS)),$$(FUZZ_CC),$$(FUZZ_CFLAGS) -DRAFT_PLANTED_BUG=$(call bug_num,$(call bug_names,$(b)),$(FUZZ_BUGS)))))
$(foreach b,$(NODE_BUGS),$(eval $(call FLAVOUR,obj-nodebug-$(call bug_num,$(call bug_names,$(b)),$(NODE_BUGS)),$$(CC),$$(CFLAGS) -DNSXD_PLANTED_BUG=$(call bug_num,$(call bug_names,$(b)),$(NODE_BUGS)))))

# The node sources a planted node bug changes: those that mention it, or
# every one if a header does (its users could not be told apart).
NODE_BUG_SRC := $(if $(shell grep -l 'NSXD_PLANTED_BUG\|NSXD_BUG' $(wildcard actors/*.h msg/*.h store/*.h http/*.h) /dev/null),\
                  $(NODE_SRC) actors/nsxd.c,\
                  $(shell grep -l 'NSXD_PLANTED_BUG\|NSXD_BUG' $(NODE_SRC) actors/nsxd.c))

-include $(shell find $(B) -name '*.d' 2>/dev/null)

$(UI_GEN): $(UI_FILES) http/ui/embed.sh
	@mkdir -p $(@D)
	http/ui/embed.sh $@ $(UI_FILES)

# Link lines: objects first, then the archives (tests/lib, node, core).
LINK_NODE = $(CC) $(1) $(filter %.o,$^) $(filter %/libtest.a,$^) $(filter %/libnode.a,$^) \
            $(filter %/libsim.a,$^) $(filter %/libcore.a,$^) $(NODE_LIB) -o $@

.PHONY: powercut powercut-shim powercut-teeth identity-teeth watch-teeth session-teeth lease-teeth check sim-check teeth-check ui ui-teeth
.PHONY: all deps promtool bench test unit unit-asan msg node cluster experiments experiments-faults containers run sim sim-ci teeth purity format clean \
        fuzz fuzz-ci fuzz-corpus fuzz-teeth fuzz-build jepsen jepsen-ci jepsen-teeth jepsen-unit

all: deps $(B)/nsxd $(B)/nsxctl $(B)/libraftcore.a $(B)/sim $(B)/test_raft $(B)/test_msg

# (checked once by make test and make check, not again by each suite)
deps:
	@[ -n "$(NSXD_DEPS_CHECKED)" ] || deploy/deps.sh build

# The core alone, as a library (its objects are purity's input).
CORE_OBJ := $(call objs,obj,$(CORE_SRC))
$(B)/libraftcore.a: $(B)/obj/libcore.a
	cp $< $@

# The simulator runs the node's KV state machine (store/kvsm.c, with the
# msg/ codecs of its commands) from libnode.a; a planted bug's build takes
# kvsm.o of its flavour first (the state machine's bugs are numbered with
# the core's).
$(B)/sim: $(call objs,obj,$(SIM_SRC)) $(B)/obj/libnode.a $(B)/obj/libcore.a
	$(call LINK_NODE,$(CFLAGS))

$(B)/sim-asan: $(call objs,obj-asan,$(SIM_SRC)) $(B)/obj-asan/libnode.a $(B)/obj-asan/libcore.a
	$(call LINK_NODE,$(SAN))

$(B)/sim-bug-%: $(call objs,obj,$(SIM_SRC)) \
                $$(addprefix $$(B)/obj-raftbug-$$(call bug_num,$$*,$$(BUGS))/store/,kvsm.o kvsm_lease.o lessor.o) \
                $(B)/obj/libnode.a $$(B)/obj-raftbug-$$(call bug_num,$$*,$$(BUGS))/libcore.a
	$(call LINK_NODE,$(CFLAGS))

$(B)/test_raft: $(call objs,obj,$(UNIT_SRC)) $(B)/obj/libtest.a $(B)/obj/libcore.a
	$(call LINK_NODE,$(CFLAGS))

# tests/lib's own test (each helper shown failing), under ASan+UBSan.
$(B)/test_lib: $(B)/obj-asan/tests/lib/selftest/test_lib.o $(B)/obj-asan/libtest.a
	$(call LINK_NODE,$(SAN))

$(B)/test_raft-asan: $(call objs,obj-asan,$(UNIT_SRC)) $(B)/obj-asan/libtest.a $(B)/obj-asan/libcore.a
	$(call LINK_NODE,$(SAN))

$(B)/test_msg: $(B)/obj/tests/msg/test_msg.o $(B)/obj/libtest.a $(B)/obj/libnode.a $(B)/obj/libcore.a
	$(call LINK_NODE,$(CFLAGS))

$(B)/test_msg-asan: $(B)/obj-asan/tests/msg/test_msg.o $(B)/obj-asan/libtest.a $(B)/obj-asan/libnode.a \
                    $(B)/obj-asan/libcore.a
	$(call LINK_NODE,$(SAN))

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

$(B)/nsxd: $(B)/obj/actors/nsxd.o $(B)/obj/libnode.a $(B)/obj/libcore.a $(TLS_COMPAT)
	$(call LINK_NODE,$(CFLAGS))

$(B)/nsxd-asan: $(B)/obj-asan/actors/nsxd.o $(B)/obj-asan/libnode.a $(B)/obj-asan/libcore.a $(TLS_COMPAT)
	$(call LINK_NODE,$(SAN))

# A planted node bug: the objects that mention it rebuilt with it, linked
# before the archive, whose members of the same files are then not taken.
$(B)/nsxd-bug-%: $$(call objs,obj-nodebug-$$(call bug_num,$$*,$$(NODE_BUGS)),$$(filter-out actors/nsxd.c,$$(NODE_BUG_SRC))) \
                 $$(call objs,$$(if $$(filter actors/nsxd.c,$$(NODE_BUG_SRC)),obj-nodebug-$$(call bug_num,$$*,$$(NODE_BUGS)),obj),actors/nsxd.c) \
                 $(B)/obj/libnode.a $(B)/obj/libcore.a $(TLS_COMPAT)
	$(call LINK_NODE,$(CFLAGS))

# The node with a planted core or state-machine bug (RAFT_PLANTED_BUG,
# BUGS): the core and store/kvsm.o rebuilt with it (jepsen-teeth runs
# follower_read_local's, session-teeth session_dup_applied's).
$(B)/nsxd-raftbug-%: $(B)/obj/actors/nsxd.o $$(B)/obj-raftbug-$$(call bug_num,$$*,$$(BUGS))/store/kvsm.o \
                     $(B)/obj/libnode.a $$(B)/obj-raftbug-$$(call bug_num,$$*,$$(BUGS))/libcore.a $(TLS_COMPAT)
	$(call LINK_NODE,$(CFLAGS))

# The storage "after" node test against a planted node bug
# (powercut-teeth): the bug's node objects, the test as it is.
$(B)/test_storage-bug-%: $$(call objs,obj-nodebug-$$(call bug_num,$$*,$$(NODE_BUGS)),$$(filter-out actors/nsxd.c,$$(NODE_BUG_SRC))) \
                         $(B)/obj/tests/node/test_storage_after.o $(B)/obj/tests/node/storage_fixture.o \
                         $(B)/obj/libtest.a $(B)/obj/libnode.a $(B)/obj/libcore.a
	$(call LINK_NODE,$(CFLAGS))

$(B)/nsxctl: $(B)/obj/http/nsxctl.o $(B)/obj/libnode.a $(B)/obj/libcore.a
	$(call LINK_NODE,$(CFLAGS))

$(B)/peer_garbage $(B)/peer_forge $(B)/trickle: $(B)/%: $(B)/obj/tests/cluster/%.o $(B)/obj/libnode.a $(B)/obj/libcore.a
	$(call LINK_NODE,$(CFLAGS))

# A name server that never answers, for *.slow.invalid (test only).
$(B)/slow_resolver.so: tests/cluster/slow_resolver.c | $(B)
	$(CC) -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE $(CFLAGS) -shared -fPIC $< -o $@

# End-to-end linearizability (tests/jepsen/): the checker, its test, the
# workload, and the node with a planted stale-read bug (NSXD_PLANTED_BUG).
JEPSEN_LIN := tests/jepsen/linearize.c tests/jepsen/lin_search.c tests/jepsen/history.c
$(B)/jepsen-check: $(call objs,obj,tests/jepsen/check_main.c $(JEPSEN_LIN))
	$(call LINK_NODE,$(CFLAGS))

$(B)/test_linearize: $(call objs,obj-asan,tests/jepsen/test_linearize.c $(JEPSEN_LIN)) $(B)/obj-asan/libtest.a
	$(call LINK_NODE,$(SAN))

$(B)/jepsen-workload: $(B)/obj/tests/jepsen/workload.o $(B)/obj/tests/jepsen/workload_cas.o $(B)/obj/libnode.a
	$(call LINK_NODE,$(CFLAGS))

# The metrics registry alone, and the strict exposition checker.
$(B)/test_metrics: $(call objs,obj-asan,tests/node/test_metrics.c tests/node/promcheck.c) \
                   $(B)/obj-asan/libtest.a $(B)/obj-asan/libnode.a $(B)/obj-asan/libcore.a
	$(call LINK_NODE,$(SAN))

$(B)/promcheck: $(call objs,obj,tests/node/promcheck_main.c tests/node/promcheck.c)
	$(call LINK_NODE,$(CFLAGS))

# The KV state machine alone (store/kvsm.c), under ASan+UBSan.
$(B)/test_kvsm: $(B)/obj-asan/tests/sm/test_kvsm.o $(B)/obj-asan/tests/sm/kvsm_fixture.o \
                $(B)/obj-asan/libtest.a $(B)/obj-asan/libnode.a \
                $(B)/obj-asan/libcore.a
	$(call LINK_NODE,$(SAN))

# Client sessions in the KV state machine (store/kvsm_session.c).
$(B)/test_kvsm_session: $(B)/obj-asan/tests/sm/test_kvsm_session.o \
                        $(B)/obj-asan/tests/sm/kvsm_fixture.o $(B)/obj-asan/libtest.a \
                        $(B)/obj-asan/libnode.a $(B)/obj-asan/libcore.a
	$(call LINK_NODE,$(SAN))

# Leases in the KV state machine (store/kvsm_lease.c), their commands'
# codec, and the leader's lessor (store/lessor.c).
$(B)/test_kvsm_lease $(B)/test_kvsm_lease_codec $(B)/test_lessor: $(B)/test_%: $(B)/obj-asan/tests/sm/test_%.o \
                        $(B)/obj-asan/libtest.a $(B)/obj-asan/libnode.a $(B)/obj-asan/libcore.a
	$(call LINK_NODE,$(SAN))
$(B)/test_kvsm_lease: $(B)/obj-asan/tests/sm/kvsm_fixture.o

# The shared read barrier's test linked with the planted barrier_in_flight
# (a GET joins the round in flight): make node expects it to fail.
$(B)/test_read_barrier-bug: $(B)/obj-asan/tests/node/test_read_barrier.o \
        $(B)/obj-nodebug-$(call bug_num,barrier_in_flight,$(NODE_BUGS))/http/read_barrier.o \
        $(B)/obj-asan/libtest.a $(B)/obj-asan/libnode.a $(B)/obj-asan/libcore.a
	$(call LINK_NODE,$(SAN))

# The watch history's test linked with the planted watch_drop_on_wrap (an
# event lost when the ring wraps): make node expects it to fail.
$(B)/test_watch_hub-bug: $(B)/obj-asan/tests/node/test_watch_hub.o \
        $(B)/obj-nodebug-$(call bug_num,watch_drop_on_wrap,$(NODE_BUGS))/actors/watch_hub.o \
        $(B)/obj-asan/libtest.a $(B)/obj-asan/libnode.a $(B)/obj-asan/libcore.a
	$(call LINK_NODE,$(SAN))

# The sessions' HTTP test linked with the state machine's planted
# session_dup_applied (a duplicate applied again): make node expects it to
# fail.
$(B)/test_http_session-bug: $(B)/obj-asan/tests/node/test_http_session.o \
        $(B)/obj-raftbug-$(call bug_num,session_dup_applied,$(BUGS))/store/kvsm.o \
        $(B)/obj-asan/libtest.a $(B)/obj-asan/libnode.a $(B)/obj-asan/libcore.a
	$(call LINK_NODE,$(SAN))

# The fault injection test (three nodes in one process) linked with the
# planted fault_drop_one_way (node bug 9: "both" drops only outgoing):
# make node expects it to fail.
$(B)/test_faults-bug: $(B)/obj-asan/tests/node/test_faults.o $(B)/obj-asan/tests/node/fault_cluster.o \
        $(B)/obj-nodebug-$(call bug_num,fault_drop_one_way,$(NODE_BUGS))/actors/fault.o \
        $(B)/obj-asan/libtest.a $(B)/obj-asan/libnode.a $(B)/obj-asan/libcore.a
	$(call LINK_NODE,$(SAN))

# Each node test: its file, tests/lib and the node, under ASan+UBSan.
$(B)/test_%: $(B)/obj-asan/tests/node/test_%.o $(B)/obj-asan/libtest.a $(B)/obj-asan/libnode.a \
             $(B)/obj-asan/libcore.a
	$(call LINK_NODE,$(SAN))

$(B):
	mkdir -p $@

unit: deps $(B)/test_lib $(B)/test_raft $(B)/test_kvsm $(B)/test_kvsm_session \
      $(B)/test_kvsm_lease $(B)/test_kvsm_lease_codec $(B)/test_lessor
	$(B)/test_lib
	$(B)/test_raft
	$(B)/test_kvsm
	$(B)/test_kvsm_session
	$(B)/test_kvsm_lease
	$(B)/test_kvsm_lease_codec
	$(B)/test_lessor

unit-asan: deps $(B)/test_raft-asan
	$(B)/test_raft-asan

# A teaching cluster: local-cluster.sh starts every node with
# --enable-faults (POST /debug/fault, /debug/stop; NSXD_FAULTS=0: off).
run: deps $(B)/nsxd $(B)/nsxctl
	deploy/local-cluster.sh run 3

# The node tests (tests/node/test_NAME.c), in the order make node runs them.
NODE_TESTS := actor security store store_snap \
              storage_log storage_apply storage_snapshot storage_space storage_after \
              storage_faults storage_codec storage_identity \
              transport_codec transport_links transport_hostile \
              peer_auth http_codec http_render http_routes http_errors http_hostile http_session \
              monitor_codec monitor_actor monitor_client metrics inproc_cluster \
              http_txn storage_kvsm read_barrier watch_hub http_watch storage_watch \
              ui_feed http_ui faults storage_leases http_lease
node: deps promtool $(addprefix $(B)/test_,$(NODE_TESTS)) $(B)/test_read_barrier-bug \
      $(B)/test_watch_hub-bug $(B)/test_http_session-bug $(B)/test_faults-bug
	@for t in $(NODE_TESTS); do echo $(B)/test_$$t; $(B)/test_$$t || exit 1; done
	@echo "test_read_barrier with the planted barrier_in_flight must fail:"
	@! $(B)/test_read_barrier-bug >$(B)/read_barrier_teeth.log 2>&1 || \
	    { cat $(B)/read_barrier_teeth.log; echo "  NOT caught"; exit 1; }
	@sed -n 's/^FAIL /  caught: /p' $(B)/read_barrier_teeth.log
	@echo "test_watch_hub with the planted watch_drop_on_wrap must fail:"
	@! $(B)/test_watch_hub-bug >$(B)/watch_hub_teeth.log 2>&1 || \
	    { cat $(B)/watch_hub_teeth.log; echo "  NOT caught"; exit 1; }
	@sed -n 's/^FAIL /  caught: /p' $(B)/watch_hub_teeth.log
	@echo "test_http_session with the planted session_dup_applied must fail:"
	@! $(B)/test_http_session-bug >$(B)/http_session_teeth.log 2>&1 || \
	    { cat $(B)/http_session_teeth.log; echo "  NOT caught"; exit 1; }
	@sed -n 's/^FAIL /  caught: /p' $(B)/http_session_teeth.log
	@echo "test_faults with the planted fault_drop_one_way must fail:"
	@! $(B)/test_faults-bug >$(B)/faults_teeth.log 2>&1 || \
	    { cat $(B)/faults_teeth.log; echo "  NOT caught"; exit 1; }
	@grep -m3 'test_faults.c:[0-9]*: CHECK' $(B)/faults_teeth.log | sed 's/^/  caught: /'

# The storage actor's suites share tests/node/storage_fixture.c.
$(addprefix $(B)/test_,$(filter storage_%,$(NODE_TESTS))): $(B)/obj-asan/tests/node/storage_fixture.o
# The transport actor's suites share tests/node/transport_fixture.c.
$(addprefix $(B)/test_,$(filter transport_%,$(NODE_TESTS))): $(B)/obj-asan/tests/node/transport_fixture.o
# The monitor's suites share tests/node/monitor_fixture.c.
$(addprefix $(B)/test_,$(filter monitor_%,$(NODE_TESTS))): $(B)/obj-asan/tests/node/monitor_fixture.o
# /kv/watch's suite: its node and client (tests/node/watch_client.c).
$(B)/test_http_watch: $(B)/obj-asan/tests/node/watch_client.o
# The suites that drive one real node over HTTP share tests/node/node_fixture.c.
$(B)/test_http_watch $(B)/test_http_session $(B)/test_http_txn \
    $(B)/test_http_session-bug: $(B)/obj-asan/tests/node/node_fixture.o
# Fault injection's three nodes (tests/node/fault_cluster.c).
$(B)/test_faults: $(B)/obj-asan/tests/node/fault_cluster.o
# The HTTP actor's suites share tests/node/http_fixture.c and http_raw.c.
$(addprefix $(B)/test_,$(filter http_%,$(NODE_TESTS))): $(B)/obj-asan/tests/node/http_fixture.o \
    $(B)/obj-asan/tests/node/http_raw.o

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
	tests/cluster/watch_test.sh $(B)/nsxd
	tests/cluster/session_test.sh $(B)/nsxd
	tests/cluster/lease_test.sh $(B)/nsxd

# Sessions (issue 15): the cluster test must catch the state machine's
# planted session_dup_applied (a duplicate applied again).
session-teeth: deps $(B)/nsxd-raftbug-session_dup_applied $(B)/nsxctl
	SESSION_BUG=1 tests/cluster/session_test.sh $(B)/nsxd-raftbug-session_dup_applied

# The live cluster page (issue 16) in headless chromium (tests/ui/):
# screenshots in build/ui/. make ui-teeth: the test must catch the planted
# ui_wrong_leader (the serving node always drawn leader).
ui: deps $(B)/nsxd $(B)/nsxctl
	tests/ui/ui_test.sh $(B)/nsxd

ui-teeth: deps $(B)/nsxd-bug-ui_wrong_leader $(B)/nsxctl
	UI_BUG=1 UI_OUT=$(B)/ui-teeth tests/ui/ui_test.sh $(B)/nsxd-bug-ui_wrong_leader

# Watches (issue 15): the cluster test must catch the planted
# watch_drop_on_wrap (one event lost when a node's history first wraps).
watch-teeth: deps $(B)/nsxd-bug-watch_drop_on_wrap $(B)/nsxctl
	WATCH_BUG=1 tests/cluster/watch_test.sh $(B)/nsxd-bug-watch_drop_on_wrap

# Leases (issue 15): the cluster test must catch the planted
# lease_keepalive_unconfirmed (a keep-alive renewed without the ReadIndex
# round that confirms leadership).
lease-teeth: deps $(B)/nsxd-bug-lease_keepalive_unconfirmed $(B)/nsxctl
	LEASE_BUG=1 tests/cluster/lease_test.sh $(B)/nsxd-bug-lease_keepalive_unconfirmed

# Power cuts (issue 13, tests/powercut/): the shim, its rollback, its own
# test, the load; `make powercut CUTS=200` is the long run (make test runs
# CUTS=4); `make powercut-teeth`: the apply_nosync build must be caught.
CUTS ?= 200
$(B)/pcshim.so: tests/powercut/pcshim.c | $(B)
	$(CC) $(WARN) $(CFLAGS) -shared -fPIC $< -o $@ -ldl -lpthread
$(B)/pc_rollback $(B)/shim_test $(B)/pc_load: $(B)/%: $(B)/obj/tests/powercut/%.o $(B)/obj/libnode.a
	$(call LINK_NODE,$(CFLAGS))

# identity_test.sh must fail the check each planted bug breaks: the wiped
# server votes as its old self (E lost), the damaged log is accepted.
identity-teeth: deps $(B)/nsxd-bug-no_self_check $(B)/nsxd-bug-no_paranoid $(B)/nsxctl
	tests/cluster/identity_teeth.sh $(B)

powercut-shim: $(PC_TOOLS)
	tests/powercut/shim_test.sh $(B)

powercut: deps $(B)/nsxd $(PC_TOOLS)
	CUTS=$(CUTS) tests/cluster/powercut_test.sh $(B)/nsxd

powercut-teeth: deps $(B)/nsxd-bug-apply_nosync $(B)/nsxd-bug-apply_no_copy $(PC_TOOLS) \
                $(B)/test_storage-bug-after_before_fsync
	tests/powercut/teeth.sh $(B)/nsxd-bug-apply_nosync
	tests/powercut/teeth.sh $(B)/nsxd-bug-apply_no_copy
	@# an acknowledgement sent before its fsync: test_after_durable must fail
	@if $(B)/test_storage-bug-after_before_fsync | grep '^FAIL test_after_durable '; \
	then echo "PASS after_before_fsync caught by test_storage_after's test_after_durable"; \
	else echo "FAIL after_before_fsync not caught by test_after_durable"; exit 1; fi

msg: deps $(B)/test_msg $(B)/test_msg-asan
	$(B)/test_msg
	$(B)/test_msg-asan

# The fault experiments on the local cluster (partitions need root or
# passwordless sudo for iptables; without, they are skipped and said so).
experiments: deps $(B)/nsxd $(B)/nsxctl
	@if [ "$$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; then \
	    NSXD_HTTP_BASE=26000 NSXD_PEER_BASE=27000 scripts/experiment.sh local all; \
	else \
	    echo "experiments: no root or passwordless sudo: iptables partitions SKIPPED," \
	         "the partition made by nsxd's fault injection instead"; \
	    NSXD_HTTP_BASE=26000 NSXD_PEER_BASE=27000 scripts/experiment.sh local \
	        leader-stop leader-kill leader-pause limits && \
	    NSXD_HTTP_BASE=26000 NSXD_PEER_BASE=27000 scripts/experiment.sh faults partition; \
	fi

# The 2-of-3 / 1-of-3 and partition experiments through nsxd's own fault
# injection (--enable-faults: POST /debug/fault, /debug/stop): no root, no
# Docker; about 80 s.
experiments-faults: deps $(B)/nsxd $(B)/nsxctl
	NSXD_HTTP_BASE=26100 NSXD_PEER_BASE=27100 scripts/experiment.sh faults limits partition

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

# the core, and the KV state machine (store/kvsm.c) with it
PURE_SM := $(addprefix $(B)/obj/store/,kvsm.o kvsm_session.o kvsm_lease.o lessor.o)
purity: deps $(CORE_OBJ) $(PURE_SM)
	tests/core/purity.sh $(CORE_OBJ) $(PURE_SM)

# libFuzzer harnesses: each is one file (tests/fuzz/fuzz_NAME.c, see
# tests/fuzz/fuzz.h) linked with what it uses of the node, the core and the
# simulator, all from the obj-fuzz archives.
FUZZ_LINK = $(FUZZ_CC) $(FUZZ_CFLAGS) $(filter %.o,$^) $(filter %/libsim.a,$^) $(filter %/libnode.a,$^) \
            $(filter %/libcore.a,$^) $(NODE_LIB) -o $@
$(B)/fuzz/fuzz_%: $(B)/obj-fuzz/tests/fuzz/fuzz_%.o $(B)/obj-fuzz/libnode.a $(B)/obj-fuzz/libcore.a
	@mkdir -p $(B)/fuzz
	$(FUZZ_LINK)

# The cluster harness: the simulator's world (its own event queue) and the
# message forger.
$(B)/fuzz/fuzz_cluster: $(B)/obj-fuzz/tests/fuzz/fuzz_cluster.o $(B)/obj-fuzz/tests/fuzz/forge.o \
                        $(B)/obj-fuzz/tests/fuzz/cluster_world.o \
                        $(B)/obj-fuzz/libsim.a $(B)/obj-fuzz/libnode.a $(B)/obj-fuzz/libcore.a
	@mkdir -p $(B)/fuzz
	$(FUZZ_LINK)

$(B)/fuzz/bug-%: $(B)/obj-fuzz/tests/fuzz/fuzz_cluster.o $(B)/obj-fuzz/tests/fuzz/forge.o \
                 $(B)/obj-fuzz/tests/fuzz/cluster_world.o $(B)/obj-fuzz/libsim.a \
                 $(B)/obj-fuzz/libnode.a $$(B)/obj-fuzzbug-$$(call bug_num,$$*,$$(FUZZ_BUGS))/libcore.a
	@mkdir -p $(B)/fuzz
	$(FUZZ_LINK)

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
# and again: the checker must report the violation. Then the core's
# planted follower_read_local (a follower answers a linearizable GET at its
# own commit index, not the leader's read index): the follower reads the
# workload spreads must show it within seconds, faults or not. Then
# cas_precheck (node bug 12: a CAS checked in the HTTP worker against the
# local state, then proposed as a plain put): the CASes must show it.
jepsen-teeth: deps $(JEPSEN_BINS) $(B)/nsxd-bug-stale-read $(B)/nsxd-raftbug-follower_read_local \
              $(B)/nsxd-bug-cas_precheck
	tests/jepsen/jepsen.sh --bin $(B)/nsxd-bug-stale-read --nemesis partition-leader \
	    --duration $(JEPSEN_TEETH_S) --expect violation
	tests/jepsen/jepsen.sh --bin $(B)/nsxd-raftbug-follower_read_local --nemesis kill \
	    --duration 20 --expect violation
	tests/jepsen/jepsen.sh --bin $(B)/nsxd-bug-cas_precheck --nemesis kill \
	    --duration 20 --expect violation

# make test: everything, one suite after another (several share fixed
# ports, so never two at once, even under -j: each sub-make builds in
# parallel, the suites run in this order), fastest first so that a broken
# core fails within seconds.
TEST_ORDER := all unit unit-asan msg purity node sim-ci teeth fuzz-ci \
              cluster ui ui-teeth jepsen-ci experiments containers
# make check: all of it but the cluster, container and long suites.
CHECK_ORDER := unit unit-asan msg purity node sim-check teeth-check
CHECK_SEEDS ?= 100
CHECK_BUG_SEEDS ?= 300
# The planted core bugs the simulator catches within CHECK_BUG_SEEDS seeds
# (no_noop_before_conf takes 593: left to make teeth).
CHECK_BUGS ?= $(filter-out no_noop_before_conf,$(call bug_names,$(BUGS)))

test: deps
	@start=$$(date +%s); for t in $(TEST_ORDER); do \
	    echo "== make $$t"; $(MAKE) --no-print-directory NSXD_DEPS_CHECKED=1 $$t || exit 1; \
	done; echo "make test: all passed in $$(( $$(date +%s) - start )) s"

check: deps
	@start=$$(date +%s); for t in $(CHECK_ORDER); do \
	    echo "== make $$t"; $(MAKE) --no-print-directory NSXD_DEPS_CHECKED=1 $$t || exit 1; \
	done; echo "make check: all passed in $$(( $$(date +%s) - start )) s"

# make check's simulator: CHECK_SEEDS seeds, 10 under ASan+UBSan.
sim-check: deps $(B)/sim $(B)/sim-asan
	tests/sim/run-seeds.sh $(B)/sim $(CHECK_SEEDS)
	tests/sim/run-seeds.sh $(B)/sim-asan 10 100001

# make check's teeth: CHECK_BUGS, each within CHECK_BUG_SEEDS seeds.
teeth-check: deps $(addprefix $(B)/sim-bug-,$(CHECK_BUGS))
	tests/sim/teeth.sh $(B) $(CHECK_BUG_SEEDS) $(CHECK_BUGS)

bench: deps $(B)/nsxd
	@deploy/deps.sh etcd
	PATH="$(CURDIR)/$(B)/tools:$$PATH" tests/perf/bench.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(B)
