# mk/fuzz.mk - coverage-guided fuzzing (libFuzzer, clang) of every parser of
# untrusted input, under ASan + UBSan. Included by the main Makefile.
#
#   make fuzz-ci              each target FUZZ_CI_SECONDS (60) s; part of make test
#   make fuzz [SECONDS=600]   each target SECONDS s, corpus kept in build/libfuzzer/corpus
#   make fuzz-build           the targets only (build/libfuzzer/<target>)
#   build/libfuzzer/<target> tests/fuzz/corpus/<target>   reproduce / minimise by hand
#
# Targets: tests/fuzz/*.c (one LLVMFuzzerTestOneInput each, see the file's
# head for its input format and invariants). Seeds: tests/fuzz/corpus/<t>/
# (regenerate with tests/fuzz/seeds.py). tests/fuzz/run.sh prints one line
# per target (executions, cov, ft from libFuzzer's final stats) and
# "fuzz: N passed, M failed".

FUZZ_CC      ?= clang
FUZZ_OUT     := build/libfuzzer
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -g -O1 $(FUZZ_SAN) -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L \
                -I. -I/usr/share/include/llhttp
FUZZ_LLOBJ   := $(FUZZ_OUT)/llhttp/llhttp.o $(FUZZ_OUT)/llhttp/api.o $(FUZZ_OUT)/llhttp/http.o
FUZZ_CORE    := reply lease status watch
FUZZ_TLS     := kubeconfig token env
FUZZ_TARGETS := $(FUZZ_CORE) $(FUZZ_TLS) lerun
FUZZ_CI_SECONDS ?= 60
FUZZ_JOBS    ?= 2

.PHONY: fuzz-build fuzz-ci
TEST_EXTRA += fuzz-ci

$(FUZZ_OUT)/llhttp/%.o: /usr/share/llhttp/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) -g -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link -I/usr/share/include/llhttp -c $< -o $@

$(addprefix $(FUZZ_OUT)/,$(FUZZ_CORE)): $(FUZZ_OUT)/%: tests/fuzz/%.c tests/fuzz/core.h tests/fuzz/raw.h \
        tests/fuzz/framed.h le.h $(FUZZ_LLOBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_LLOBJ) -o $@

$(addprefix $(FUZZ_OUT)/,$(FUZZ_TLS)): $(FUZZ_OUT)/%: tests/fuzz/%.c tests/fuzz/tls.h le.h $(FUZZ_LLOBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_LLOBJ) -lmbedtls -lmbedx509 -lmbedcrypto -o $@

# le-run's HTTP server, tools/le-run/le-run.c compiled in (its main renamed)
$(FUZZ_OUT)/lerun: tests/fuzz/lerun.c tools/le-run/le-run.c le.h $(FUZZ_LLOBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_LLOBJ) -lmbedtls -lmbedx509 -lmbedcrypto -o $@

fuzz-build: $(addprefix $(FUZZ_OUT)/,$(FUZZ_TARGETS))

fuzz-ci: fuzz-build
	@tests/fuzz/run.sh $(FUZZ_CI_SECONDS) $(FUZZ_JOBS) $(FUZZ_TARGETS)

fuzz: fuzz-build
	@tests/fuzz/run.sh $(or $(SECONDS),600) $(FUZZ_JOBS) $(FUZZ_TARGETS)
