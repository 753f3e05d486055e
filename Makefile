# le.h — one entry point: make, make test, make demo, make bench, make static
CC      ?= cc
CXX     ?= c++
CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Werror
LLHTTP_SRC ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp
CPPFLAGS += -I. -I$(LLHTTP_INC)
B        = build
SAN      = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

LLHTTP_OBJ = $(B)/llhttp/llhttp.o $(B)/llhttp/api.o $(B)/llhttp/http.o
LLHTTP_SAN = $(B)/llhttp-san/llhttp.o $(B)/llhttp-san/api.o $(B)/llhttp-san/http.o

.PHONY: all test unit sim fuzz fuzz-quick options core-check kube integration https server-tests static bench demo clean
all: $(B)/unit $(B)/unit-cc $(B)/bench-core $(B)/le-elector https-build

# mk/https.mk (the transport) and the other suites' rules
-include $(sort $(wildcard mk/*.mk))

$(B)/llhttp/%.o: $(LLHTTP_SRC)/%.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -I$(LLHTTP_INC) -c $< -o $@
$(B)/llhttp-san/%.o: $(LLHTTP_SRC)/%.c
	@mkdir -p $(dir $@)
	$(CC) -O1 -g $(SAN) -I$(LLHTTP_INC) -c $< -o $@

# The core's unit tests: C99, C++, and C99 under ASan + UBSan.
$(B)/unit: tests/unit.c le.h $(LLHTTP_OBJ)
	@mkdir -p $(B)
	$(CC) -std=c99 -pedantic $(WARN) $(CFLAGS) $(CPPFLAGS) tests/unit.c $(LLHTTP_OBJ) -o $@
$(B)/unit-cc: tests/unit.c le.h $(LLHTTP_OBJ)
	@mkdir -p $(B)
	$(CXX) -x c++ -std=c++11 $(WARN) $(CFLAGS) $(CPPFLAGS) tests/unit.c -x none $(LLHTTP_OBJ) -o $@
$(B)/unit-san: tests/unit.c le.h $(LLHTTP_SAN)
	@mkdir -p $(B)
	$(CC) -std=c99 $(WARN) -O1 -g $(SAN) $(CPPFLAGS) tests/unit.c $(LLHTTP_SAN) -o $@

# The simulation (sim, sim-quick, sim-mutants): mk/sim.mk.

# Mutated replies under ASan + UBSan (also a libFuzzer target: -DLE_LIBFUZZER).
$(B)/fuzz: tests/fuzz.c le.h $(LLHTTP_SAN)
	@mkdir -p $(B)
	$(CC) -std=c99 $(WARN) -O1 -g $(SAN) $(CPPFLAGS) tests/fuzz.c $(LLHTTP_SAN) -o $@

fuzz-quick: $(B)/fuzz
	$(B)/fuzz 200000

# Coverage-guided (libFuzzer, clang): make fuzz [SECONDS=600]; make test runs
# fuzz-ci (mk/fuzz.mk, tests/fuzz/)

unit: $(B)/unit $(B)/unit-cc $(B)/unit-san
	$(B)/unit
	$(B)/unit-cc
	$(B)/unit-san

# The header under each option, as C99 and C++: declarations only, the
# implementation, LE_STATIC, small buffers; and two translation units linked.
options: $(LLHTTP_OBJ)
	@mkdir -p $(B)/opt
	@printf '#include "le.h"\nint f(le_elector *e);\nint f(le_elector *e) { return le_is_leader(e, 0); }\n' > $(B)/opt/user.c
	@printf '#define LE_IMPLEMENTATION\n#include "le.h"\nint f(le_elector *e);\nint main(void) { static le_elector e; return f(&e); }\n' > $(B)/opt/impl.c
	@printf '#define LE_STATIC\n#define LE_IMPLEMENTATION\n#include "le.h"\nint main(void) { return 0; }\n' > $(B)/opt/static.c
	@printf '#define LE_BODY_MAX 2048\n#define LE_JSON_TOKENS 64\n#define LE_IDENTITY_MAX 63\n#define LE_IMPLEMENTATION\n#include "le.h"\nint main(void) { return 0; }\n' > $(B)/opt/small.c
	@for std in "$(CC) -std=c99 -pedantic" "$(CXX) -x c++ -std=c++11" "$(CXX) -x c++ -std=c++17"; do \
	  for f in user impl static small; do \
	    $$std $(WARN) $(CPPFLAGS) -c $(B)/opt/$$f.c -o $(B)/opt/$$f.o || exit 1; \
	  done; \
	  $(CC) $(B)/opt/user.o $(B)/opt/impl.o $(LLHTTP_OBJ) -o $(B)/opt/linked || exit 1; \
	done
	@echo "options: 1 passed, 0 failed"

# ---- against a real kube-apiserver (tools/kube) ----------------------------
TLS_LIBS = -lmbedtls -lmbedx509 -lmbedcrypto

$(B)/le-elector: tests/integration/elector.c le.h $(LLHTTP_OBJ)
	@mkdir -p $(B)
	$(CC) -std=c99 $(WARN) $(CFLAGS) $(CPPFLAGS) tests/integration/elector.c $(LLHTTP_OBJ) $(TLS_LIBS) -o $@

kube:
	tools/kube/build.sh

# Everything against the local API server: started unless one is up already
# (and then left running), stopped at the end otherwise.
KUBE_UP = was_up=0; [ -f tools/kube/state/env ] && kill -0 $$(cat tools/kube/state/pid 2>/dev/null) 2>/dev/null && was_up=1; \
	tools/kube/up.sh >/dev/null || exit 1; rc=0
KUBE_DOWN = [ $$was_up = 1 ] || tools/kube/down.sh >/dev/null; exit $$rc

integration: $(B)/le-elector kube
	@$(KUBE_UP); python3 tests/integration/run.py || rc=1; $(KUBE_DOWN)

# The HTTPS transport against mbedTLS 2.28 (Debian) and 3.6 (built from
# Debian trixie's source package), the examples, valgrind, malloc-free runs.
https: kube https-build https-build-mbedtls3
	@$(KUBE_UP); tests/https/run.sh build/https || rc=1; tests/https/run.sh build/https3 || rc=1; $(KUBE_DOWN)

# Suites in mk/*.mk add their own: SERVER_DEPS += target, SERVER_RUN += cmd || rc=1;
server-tests: $(B)/le-elector kube https-build https-build-mbedtls3 $(SERVER_DEPS)
	@$(KUBE_UP); python3 tests/integration/run.py || rc=1; \
	tests/https/run.sh build/https || rc=1; tests/https/run.sh build/https3 || rc=1; \
	tests/static.sh || rc=1; $(SERVER_RUN) $(KUBE_DOWN)

# A static musl binary of the periodic example, for an empty image.
static:
	tools/static.sh

# The core object (LE_IMPLEMENTATION without LE_HTTPS) must not allocate,
# read clocks or the environment, sleep, or print.
core-check:
	@mkdir -p $(B)
	@printf '#define LE_IMPLEMENTATION\n#include "le.h"\n' > $(B)/core.c
	$(CC) -std=c99 $(WARN) $(CPPFLAGS) -O2 -c $(B)/core.c -o $(B)/core.o
	@bad=$$(nm -u $(B)/core.o | awk '{print $$2}' | grep -E '^(malloc|calloc|realloc|free|time|clock_gettime|gettimeofday|sleep|usleep|nanosleep|rand|srand|random|getenv|secure_getenv|printf|fprintf|sprintf|snprintf|puts|fputs|fwrite|write|read|socket|open|fopen)$$' || true); \
	if [ -n "$$bad" ]; then echo "core-check: the core references: $$bad"; exit 1; fi; \
	echo "core-check: 1 passed, 0 failed (core references none of malloc/free/clocks/getenv/stdio)"

# mk/*.mk add suites that need no API server to TEST_EXTRA.
test: unit fuzz-quick options core-check $(TEST_EXTRA) server-tests

$(B)/bench-core: bench/core.c le.h $(LLHTTP_OBJ)
	@mkdir -p $(B)
	$(CC) -std=c99 $(WARN) -O2 $(CPPFLAGS) bench/core.c $(LLHTTP_OBJ) -o $@

# The core's cost per renew cycle, then le.h and client-go side by side on
# one kube-apiserver: bench/results.md and bench/timeline.svg (about 25
# minutes; BENCH_ARGS=--quick: about 4, into build/bench/; bench/README.md).
bench: $(B)/bench-core $(B)/le-elector kube
	$(B)/bench-core
	python3 bench/side_by_side.py $(BENCH_ARGS)

# The README's first command: installs what is missing, builds, and shows
# an election, a crash and a graceful handover on a local kube-apiserver.
demo:
	bash tools/deps.sh
	$(MAKE) --no-print-directory build/https/periodic kube
	python3 tools/demo.py

clean:
	rm -rf $(B)

