#!/usr/bin/env bash
# Builds examples/periodic.c and tools/le-run as static musl binaries with a minimal mbedTLS
# 3.6 (TLS 1.2 + 1.3, built from Debian trixie's source package) and no DNS
# (in a pod the API server is an IP literal): what goes into an empty image.
#   tools/static.sh [OUT]        OUT defaults to build/static
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/build/static}"
command -v musl-gcc >/dev/null || { echo "static.sh: musl-gcc missing (apt-get install musl-tools)" >&2; exit 1; }
mkdir -p "$out"
# link-time optimisation across le.h, llhttp and mbedTLS, and no unwind
# tables (C only, nothing unwinds): about 80 KB less than -Os alone
lto=(-flto -fno-asynchronous-unwind-tables -fno-unwind-tables)
CC=musl-gcc AR=gcc-ar MBEDTLS_EXTRA_CFLAGS="${lto[*]}" "$root/tools/mbedtls/build.sh" "$out/mbedtls" >"$out/mbedtls.log" 2>&1 ||
    { tail -20 "$out/mbedtls.log" >&2; exit 1; }
# musl-gcc searches only musl's headers: give it jsmn.h alone
mkdir -p "$out/inc"
ln -sf /usr/include/jsmn.h "$out/inc/jsmn.h"
# LE_ASSERT traps: assert() would bring in the C library's fprintf
static_cc() { # static_cc SOURCE OUT: musl, -Os, unused sections dropped, stripped
    rm -f "$2"
    musl-gcc -static -Os "${lto[@]}" -ffunction-sections -fdata-sections \
        -Wl,--gc-sections -Wl,--build-id=none -Wl,-z,noseparate-code -s \
        -DLE_HTTPS_NO_DNS -D'LE_ASSERT(x)=((x) ? (void)0 : __builtin_trap())' \
        -D_POSIX_C_SOURCE=200809L -I"$root" -I"$out/inc" \
        -I/usr/share/include/llhttp -I"$out/mbedtls/include" \
        -DMBEDTLS_CONFIG_FILE='"le_mbedtls_config.h"' \
        "$1" /usr/share/llhttp/{llhttp,api,http}.c \
        "$out"/mbedtls/lib/lib{mbedtls,mbedx509,mbedcrypto}.a -o "$2" 2>&1 |
        grep -v '^lto-wrapper: \(warning: using serial\|note: see\)' >&2 || true
    [ -x "$2" ] || exit 1
    objcopy -R .eh_frame -R .comment "$2" # musl's own unwind tables
}
static_cc "$root/examples/periodic.c" "$out/periodic"
echo "static.sh: $out/periodic: $(stat -c %s "$out/periodic") bytes, static, stripped (musl, mbedTLS 3.6)"
# le-run (tools/le-run), and the static CMD its empty-root test runs
static_cc "$root/tools/le-run/le-run.c" "$out/le-run"
musl-gcc -static -Os -s -D_POSIX_C_SOURCE=200809L "$root/tests/le-run/witness.c" -o "$out/le-run-witness"
echo "static.sh: $out/le-run: $(stat -c %s "$out/le-run") bytes, static, stripped (musl, mbedTLS 3.6)"
