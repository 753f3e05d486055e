# mk/https.mk - build and test the HTTPS transport (LE_HTTPS), the examples
# and their tests. Included by the main Makefile; also usable alone:
#
#   make -f mk/https.mk https-build          examples + tests, mbedTLS 2.28
#   make -f mk/https.mk https-test           run tests/https (2.28 build)
#   make -f mk/https.mk https-test-mbedtls3  build mbedTLS 3.6 from Debian's
#                                            source package, run the same tests
#                                            plus the malloc-free run
#
# Every program is compiled with -Wall -Wextra -Werror as C99 and as C++.
# Outputs: build/https (mbedTLS 2.28), build/https3 (mbedTLS 3.6).

HTTPS_CC      ?= cc
HTTPS_CXX     ?= g++
HTTPS_OUT     := build/https
HTTPS_OUT3    := build/https3
HTTPS_MBED3   := build/mbedtls3
HTTPS_LLHTTP  := /usr/share/llhttp
HTTPS_WARN    := -Wall -Wextra -Werror
HTTPS_CFLAGS  ?= -O2 -g
HTTPS_CPPFLAGS := -D_POSIX_C_SOURCE=200809L -I. -I/usr/share/include/llhttp
HTTPS_C       := -std=c99 $(HTTPS_WARN) $(HTTPS_CFLAGS) $(HTTPS_CPPFLAGS)
HTTPS_CXXF    := -x c++ -std=c++11 $(HTTPS_WARN) $(HTTPS_CFLAGS) $(HTTPS_CPPFLAGS)
HTTPS_LIBS    := -lmbedtls -lmbedx509 -lmbedcrypto
HTTPS_CPP3    := -I$(HTTPS_MBED3)/include -DMBEDTLS_CONFIG_FILE='"le_mbedtls_config.h"'
HTTPS_LIBS3   := $(HTTPS_MBED3)/lib/libmbedtls.a $(HTTPS_MBED3)/lib/libmbedx509.a \
                 $(HTTPS_MBED3)/lib/libmbedcrypto.a
HTTPS_HDRS    := le.h

HTTPS_EXAMPLES := periodic ordinal eventloop
HTTPS_TESTS    := test_https
HTTPS_PROGS    := $(HTTPS_EXAMPLES) $(HTTPS_TESTS)

# llhttp from Debian's node-llhttp (C sources, not in this repository)
HTTPS_LLOBJ  = $(1)/llhttp/llhttp.o $(1)/llhttp/api.o $(1)/llhttp/http.o

.PHONY: https-build https-options https-options-mbedtls3 https-build-mbedtls3 https-test https-test-mbedtls3 \
        https-mbedtls3 https-clean

https-build: $(addprefix $(HTTPS_OUT)/,$(HTTPS_PROGS)) \
             $(addprefix $(HTTPS_OUT)/cxx/,$(HTTPS_PROGS)) https-options

# The transport under each option, as C99 -pedantic, C++11 and C++17: a
# declarations-only translation unit linked with the implementation one,
# LE_STATIC (no unused-function warnings), small buffers, no DNS.
# $(call HTTPS_OPTIONS,outdir,extra cppflags,libs)
define HTTPS_OPTIONS
	@mkdir -p $(1)/opt
	@printf '#define LE_HTTPS\n#include "le.h"\nint f(le_https *t);\nint f(le_https *t) { return le_https_errmsg(t)[0]; }\n' >$(1)/opt/user.c
	@printf '#define LE_HTTPS\n#define LE_IMPLEMENTATION\n#include "le.h"\nint f(le_https *t);\nint main(void) { static le_https t; return f(&t); }\n' >$(1)/opt/impl.c
	@printf '#define LE_STATIC\n#define LE_HTTPS\n#define LE_IMPLEMENTATION\n#include "le.h"\nint main(void) { return 0; }\n' >$(1)/opt/static.c
	@printf '#define LE_HTTPS_TOKEN_MAX 1024\n#define LE_HTTPS_PATH_MAX 128\n#define LE_BODY_MAX 4096\n#define LE_HTTPS\n#define LE_IMPLEMENTATION\n#include "le.h"\nint main(void) { return 0; }\n' >$(1)/opt/small.c
	@printf '#define LE_HTTPS_NO_DNS\n#define LE_HTTPS\n#define LE_IMPLEMENTATION\n#include "le.h"\nint main(void) { return 0; }\n' >$(1)/opt/nodns.c
	@for std in "$(HTTPS_CC) -std=c99 -pedantic" "$(HTTPS_CXX) -x c++ -std=c++11" "$(HTTPS_CXX) -x c++ -std=c++17"; do \
	  for f in user impl static small nodns; do \
	    $$std $(HTTPS_WARN) $(HTTPS_CPPFLAGS) $(2) -c $(1)/opt/$$f.c -o $(1)/opt/$$f.o || exit 1; \
	  done; \
	  $(HTTPS_CC) $(1)/opt/user.o $(1)/opt/impl.o $(call HTTPS_LLOBJ,$(1)) $(3) -o $(1)/opt/linked || exit 1; \
	done
	@echo "https-options: LE_HTTPS builds as C99 -pedantic, C++11, C++17, static, split, small, no DNS ($(1))"
endef

https-options: $(call HTTPS_LLOBJ,$(HTTPS_OUT))
	$(call HTTPS_OPTIONS,$(HTTPS_OUT),,$(HTTPS_LIBS))

https-options-mbedtls3: $(call HTTPS_LLOBJ,$(HTTPS_OUT3)) $(HTTPS_LIBS3)
	$(call HTTPS_OPTIONS,$(HTTPS_OUT3),$(HTTPS_CPP3),$(HTTPS_LIBS3))

https-mbedtls3:
	tools/mbedtls/build.sh $(HTTPS_MBED3)

https-build-mbedtls3: https-mbedtls3
	$(MAKE) -f mk/https.mk $(addprefix $(HTTPS_OUT3)/,$(HTTPS_PROGS) noalloc) \
	    $(addprefix $(HTTPS_OUT3)/cxx/,$(HTTPS_PROGS)) https-options-mbedtls3

https-test: https-build
	tests/https/run.sh $(HTTPS_OUT)

https-test-mbedtls3: https-build-mbedtls3
	tests/https/run.sh $(HTTPS_OUT3)

https-clean:
	rm -rf $(HTTPS_OUT) $(HTTPS_OUT3)

# ---- llhttp objects --------------------------------------------------------
$(HTTPS_OUT)/llhttp/%.o $(HTTPS_OUT3)/llhttp/%.o: $(HTTPS_LLHTTP)/%.c
	@mkdir -p $(@D)
	$(HTTPS_CC) -O2 -I/usr/share/include/llhttp -c $< -o $@

# ---- mbedTLS 2.28 (Debian) -----------------------------------------------------
$(HTTPS_OUT)/%: examples/%.c $(HTTPS_HDRS) $(call HTTPS_LLOBJ,$(HTTPS_OUT))
	@mkdir -p $(@D)
	$(HTTPS_CC) $(HTTPS_C) $< $(call HTTPS_LLOBJ,$(HTTPS_OUT)) $(HTTPS_LIBS) -o $@

$(HTTPS_OUT)/cxx/%: examples/%.c $(HTTPS_HDRS) $(call HTTPS_LLOBJ,$(HTTPS_OUT))
	@mkdir -p $(@D)
	$(HTTPS_CXX) $(HTTPS_CXXF) $< -x none $(call HTTPS_LLOBJ,$(HTTPS_OUT)) $(HTTPS_LIBS) -o $@

$(HTTPS_OUT)/malloc_count.o: tests/https/malloc_count.c
	@mkdir -p $(@D)
	$(HTTPS_CC) $(HTTPS_C) -c $< -o $@

$(HTTPS_OUT)/test_https: tests/https/test_https.c $(HTTPS_HDRS) \
        $(HTTPS_OUT)/malloc_count.o $(call HTTPS_LLOBJ,$(HTTPS_OUT))
	@mkdir -p $(@D)
	$(HTTPS_CC) $(HTTPS_C) $< $(HTTPS_OUT)/malloc_count.o \
	    $(call HTTPS_LLOBJ,$(HTTPS_OUT)) $(HTTPS_LIBS) -o $@

$(HTTPS_OUT)/cxx/test_https: tests/https/test_https.c $(HTTPS_HDRS) \
        $(HTTPS_OUT)/malloc_count.o $(call HTTPS_LLOBJ,$(HTTPS_OUT))
	@mkdir -p $(@D)
	$(HTTPS_CXX) $(HTTPS_CXXF) $< -x none $(HTTPS_OUT)/malloc_count.o \
	    $(call HTTPS_LLOBJ,$(HTTPS_OUT)) $(HTTPS_LIBS) -o $@

# ---- mbedTLS 3.6 (tools/mbedtls/build.sh) ---------------------------------------
$(HTTPS_OUT3)/%: examples/%.c $(HTTPS_HDRS) $(call HTTPS_LLOBJ,$(HTTPS_OUT3)) $(HTTPS_LIBS3)
	@mkdir -p $(@D)
	$(HTTPS_CC) $(HTTPS_C) $(HTTPS_CPP3) $< $(call HTTPS_LLOBJ,$(HTTPS_OUT3)) $(HTTPS_LIBS3) -o $@

$(HTTPS_OUT3)/cxx/%: examples/%.c $(HTTPS_HDRS) $(call HTTPS_LLOBJ,$(HTTPS_OUT3)) $(HTTPS_LIBS3)
	@mkdir -p $(@D)
	$(HTTPS_CXX) $(HTTPS_CXXF) $(HTTPS_CPP3) $< -x none $(call HTTPS_LLOBJ,$(HTTPS_OUT3)) $(HTTPS_LIBS3) -o $@

$(HTTPS_OUT3)/malloc_count.o: tests/https/malloc_count.c
	@mkdir -p $(@D)
	$(HTTPS_CC) $(HTTPS_C) -c $< -o $@

$(HTTPS_OUT3)/test_https: tests/https/test_https.c $(HTTPS_HDRS) \
        $(HTTPS_OUT3)/malloc_count.o $(call HTTPS_LLOBJ,$(HTTPS_OUT3)) $(HTTPS_LIBS3)
	@mkdir -p $(@D)
	$(HTTPS_CC) $(HTTPS_C) $(HTTPS_CPP3) $< $(HTTPS_OUT3)/malloc_count.o \
	    $(call HTTPS_LLOBJ,$(HTTPS_OUT3)) $(HTTPS_LIBS3) -o $@

$(HTTPS_OUT3)/cxx/test_https: tests/https/test_https.c $(HTTPS_HDRS) \
        $(HTTPS_OUT3)/malloc_count.o $(call HTTPS_LLOBJ,$(HTTPS_OUT3)) $(HTTPS_LIBS3)
	@mkdir -p $(@D)
	$(HTTPS_CXX) $(HTTPS_CXXF) $(HTTPS_CPP3) $< -x none $(HTTPS_OUT3)/malloc_count.o \
	    $(call HTTPS_LLOBJ,$(HTTPS_OUT3)) $(HTTPS_LIBS3) -o $@

$(HTTPS_OUT3)/noalloc: tests/https/noalloc.c $(HTTPS_HDRS) \
        $(HTTPS_OUT3)/malloc_count.o $(call HTTPS_LLOBJ,$(HTTPS_OUT3)) $(HTTPS_LIBS3)
	@mkdir -p $(@D)
	$(HTTPS_CC) $(HTTPS_C) $(HTTPS_CPP3) $< $(HTTPS_OUT3)/malloc_count.o \
	    $(call HTTPS_LLOBJ,$(HTTPS_OUT3)) $(HTTPS_LIBS3) -o $@

# A static build's printf-free text (le_mbedtls_snprintf, le.h's address
# text) against glibc's, byte for byte; no server.
$(HTTPS_OUT3)/text: tests/https/text.c $(HTTPS_HDRS) $(call HTTPS_LLOBJ,$(HTTPS_OUT3)) $(HTTPS_LIBS3)
	@mkdir -p $(@D)
	$(HTTPS_CC) $(HTTPS_C) $(HTTPS_CPP3) $< $(call HTTPS_LLOBJ,$(HTTPS_OUT3)) $(HTTPS_LIBS3) -o $@

.PHONY: https-text
https-text: https-mbedtls3
	$(MAKE) -f mk/https.mk $(HTTPS_OUT3)/text
	$(HTTPS_OUT3)/text
TEST_EXTRA += https-text
