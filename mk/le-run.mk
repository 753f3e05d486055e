# mk/le-run.mk - le-run (tools/le-run): a command runner that runs CMD only
# while this replica holds the Lease, and --once migrations.
#
#   make                 also builds build/le-run (Debian's mbedTLS 2.28) and
#                        build/le-run-cc (the same source as C++)
#   make static          also builds build/static/le-run (tools/static.sh)
#   make le-run-test     tests/le-run/run.py against the local API server,
#                        for build/le-run and build/static/le-run
#   make bench           also prints le-run's size and peak RSS (tests/le-run/bench.sh)
#
# make test runs the le-run suite while the API server of server-tests is up.

LERUN_SRC   := tools/le-run/le-run.c
LERUN_FLAGS := -Wall -Wextra -Werror -O2 -g -D_POSIX_C_SOURCE=200809L -I. -I/usr/share/include/llhttp
LERUN_LL    := build/llhttp/llhttp.o build/llhttp/api.o build/llhttp/http.o

.PHONY: le-run-test le-run-bench le-run-static
all: build/le-run build/le-run-cc build/le-run-witness

build/le-run: $(LERUN_SRC) le.h $(LERUN_LL)
	@mkdir -p build
	$(CC) -std=c99 -pedantic $(LERUN_FLAGS) $(LERUN_SRC) $(LERUN_LL) -lmbedtls -lmbedx509 -lmbedcrypto -o $@

build/le-run-cc: $(LERUN_SRC) le.h $(LERUN_LL)
	@mkdir -p build
	$(CXX) -x c++ -std=c++11 $(LERUN_FLAGS) $(LERUN_SRC) -x none $(LERUN_LL) -lmbedtls -lmbedx509 -lmbedcrypto -o $@

# the test's CMD: records its own lifetime (and a grandchild's) in a log
build/le-run-witness: tests/le-run/witness.c
	@mkdir -p build
	$(CC) -std=c99 -pedantic -Wall -Wextra -Werror -O2 -D_POSIX_C_SOURCE=200809L $< -o $@

le-run-static:
	tools/static.sh

le-run-test: build/le-run build/le-run-witness kube
	@$(KUBE_UP); python3 tests/le-run/run.py build/le-run || rc=1; \
	python3 tests/le-run/run.py build/static/le-run || rc=1; $(KUBE_DOWN)

le-run-bench: build/le-run
	tests/le-run/bench.sh

bench: le-run-bench

SERVER_DEPS += build/le-run build/le-run-cc build/le-run-witness
SERVER_RUN  += python3 tests/le-run/run.py build/le-run || rc=1; python3 tests/le-run/run.py build/static/le-run || rc=1;
