#!/usr/bin/env bash
# tests/fuzz/mutants.sh [SECONDS] - proof that the fuzz targets' invariants
# catch what they are for: each mutant of le.h (a defect put back on
# purpose, by sed) is built into the target that should notice it, which
# must then fail within SECONDS (default 120). Prints one line per mutant
# and "fuzz-mutants: N passed, M failed" (passed = caught). Not part of make
# test (a few minutes); run it after changing an invariant or le.h's parsers.
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-120}
out=build/libfuzzer/mutants
mkdir -p "$out"
make -s -f mk/fuzz.mk build/libfuzzer/llhttp/llhttp.o build/libfuzzer/llhttp/api.o \
    build/libfuzzer/llhttp/http.o || exit 1
[[ -s build/libfuzzer/ca.crt ]] || tests/fuzz/run.sh 0 1 >/dev/null
export LE_FUZZ_CA="$PWD/build/libfuzzer/ca.crt"
pass=0; fail=0

# mutant NAME TARGET SED-SCRIPT: le.h with the sed applied must change, and
# TARGET built from it must report a broken invariant
mutant() {
    local name=$1 t=$2 d=$out/$1
    mkdir -p "$d/inc" "$d/corpus"
    sed "$3" le.h >"$d/inc/le.h"
    if cmp -s le.h "$d/inc/le.h"; then
        echo "fuzz-mutants: $name: the sed no longer changes le.h (update the mutant)"; fail=$((fail + 1)); return
    fi
    local libs=()
    [[ $t == token || $t == env || $t == kubeconfig ]] && libs=(-lmbedtls -lmbedx509 -lmbedcrypto)
    clang -g -O1 -fsanitize=address,undefined,fuzzer -fno-sanitize-recover=all -D_POSIX_C_SOURCE=200809L \
        -I"$d/inc" -I. -I/usr/share/include/llhttp "tests/fuzz/$t.c" build/libfuzzer/llhttp/*.o \
        "${libs[@]}" -o "$d/$t" 2>"$d/build.log" || { echo "fuzz-mutants: $name: does not build"; fail=$((fail + 1)); return; }
    "$d/$t" -max_total_time="$secs" -max_len=4096 -artifact_prefix="$d/" \
        -dict="tests/fuzz/$t.dict" "$d/corpus" "tests/fuzz/corpus/$t" >"$d/log" 2>&1
    local why
    why=$(grep -m1 -aE 'invariant broken|runtime error|ERROR: AddressSanitizer' "$d/log")
    if [[ -n $why ]]; then
        echo "fuzz-mutants: $name ($t): caught after $(grep -ac '^#' "$d/log") status lines: ${why#fuzz: }"
        pass=$((pass + 1))
    else
        echo "fuzz-mutants: $name ($t): NOT caught in $secs s"; fail=$((fail + 1))
    fi
}

# a write whose reply has the resourceVersion sent counts (a no-op update)
mutant noop-write lease 's/(size_t)(oi->rv_e - oi->rv_s)) ==$/(size_t)(oi->rv_e - oi->rv_s)) == 1 + 0 *(/; s/^            e->sent_rv_hash)$/            e->sent_rv_hash))/'
# Retry-After honoured on every status
mutant retry-after-any status 's/e->retry_after_ms = st == 429 || (st >= 500 \&\& st < 600)/e->retry_after_ms = 1/'
# a holder reported with its control bytes (a NUL-truncated holder looks like ours)
mutant nul-holder lease 's/e->reported\[i\] = (char)(c < 0x20 || c == 0x7f ? .?. : c);/e->reported[i] = (char)c;/'
# a write's reply naming another holder counts
mutant other-holder reply 's/if (r->holder_len != hl || memcmp(r->holder, e->id, hl))/if (0 \&\& r->holder_len != hl)/'
# bytes that arrive while a request is still being sent are its reply
mutant early-reply reply 's|    if (e->close_conn) return 0; /\* the connection is being dropped \*/|    if (e->close_conn) return 0; if (e->state == LE__SENDING \&\& n) { e->out_sent = e->out_len; e->state = LE__WAITING; le__rx_start(e, \&e->rx, e->buf[e->rbuf], LE_BODY_MAX); }|'
# the watch takes any resourceVersion into its URL
mutant watch-rv watch 's/^        if (!((c >= .0. \&\& c <= .9.) || (c >= .a. \&\& c <= .z.) ||$/        if (0 \&\& !((c >= 0 \&\& c <= 9) || (c >= 97 \&\& c <= 122) ||/'

echo "fuzz-mutants: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
