# mk/chaos.mk - chaos against the real API server: le.h and client-go
# electors on one Lease, through a fault proxy (tools/faultproxy), with
# kill -9, SIGTERM, SIGSTOP/SIGCONT and API server restarts; checked for
# overlapping leadership and for the longest leaderless gap against its
# bound. Included by the main Makefile.
#
#   make                  also builds build/faultproxy and build/chaos-elector
#   make chaos-selftest   each fault of the proxy against a local echo
#                         upstream, and the checker on made-up histories
#                         (no API server); part of make test
#   make chaos            the full run (CHAOS_SECONDS, 1920 s), on its own
#                         API server unless one is up; wrap it in
#                         flock -o /tmp/le-kube.lock
#   make test             also runs a bounded slice (CHAOS_SLICE_SECONDS, 240 s)
#                         while the server of server-tests is up
#
# tests/chaos/run.py --help lists the runner's options (seed, phases).

CHAOS_FLAGS := -std=c99 -pedantic -Wall -Wextra -Werror -O2 -g -D_POSIX_C_SOURCE=200809L
CHAOS_SECONDS ?= 1920
CHAOS_SLICE_SECONDS ?= 240
CHAOS_SEED ?=

.PHONY: chaos chaos-selftest
all: build/faultproxy build/chaos-elector

build/faultproxy: tools/faultproxy/faultproxy.c
	@mkdir -p build
	$(CC) $(CHAOS_FLAGS) $< -o $@

build/chaos-elector: tests/chaos/elector.c le.h $(LLHTTP_OBJ)
	@mkdir -p build
	$(CC) $(CHAOS_FLAGS) -I. -I$(LLHTTP_INC) $< $(LLHTTP_OBJ) -lmbedtls -lmbedx509 -lmbedcrypto -o $@

chaos-selftest: build/faultproxy
	@python3 tests/chaos/proxy_test.py build/faultproxy
	@python3 tests/chaos/check_test.py

chaos: build/faultproxy build/chaos-elector kube
	@$(KUBE_UP); python3 tests/chaos/run.py --seconds $(CHAOS_SECONDS) $(if $(CHAOS_SEED),--seed $(CHAOS_SEED)) || rc=1; $(KUBE_DOWN)

TEST_EXTRA  += chaos-selftest
SERVER_DEPS += build/faultproxy build/chaos-elector
SERVER_RUN  += python3 tests/chaos/run.py --seconds $(CHAOS_SLICE_SECONDS) || rc=1;
