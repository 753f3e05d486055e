#!/usr/bin/env bash
# Builds examples/periodic.c as a static musl binary with a minimal mbedTLS
# 3.6 (TLS 1.2 + 1.3, built from Debian trixie's source package) and no DNS
# (in a pod the API server is an IP literal): what goes into an empty image.
#   tools/static.sh [OUT]        OUT defaults to build/static
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/build/static}"
command -v musl-gcc >/dev/null || { echo "static.sh: musl-gcc missing (apt-get install musl-tools)" >&2; exit 1; }
mkdir -p "$out"
CC=musl-gcc "$root/tools/mbedtls/build.sh" "$out/mbedtls" >"$out/mbedtls.log" 2>&1 ||
    { tail -20 "$out/mbedtls.log" >&2; exit 1; }
# musl-gcc searches only musl's headers: give it jsmn.h alone
mkdir -p "$out/inc"
ln -sf /usr/include/jsmn.h "$out/inc/jsmn.h"
musl-gcc -static -Os -ffunction-sections -fdata-sections -Wl,--gc-sections -s \
    -DLE_HTTPS_NO_DNS -D_POSIX_C_SOURCE=200809L -I"$root" -I"$out/inc" \
    -I/usr/share/include/llhttp -I"$out/mbedtls/include" \
    -DMBEDTLS_CONFIG_FILE='"le_mbedtls_config.h"' \
    "$root/examples/periodic.c" /usr/share/llhttp/{llhttp,api,http}.c \
    "$out"/mbedtls/lib/lib{mbedtls,mbedx509,mbedcrypto}.a -o "$out/periodic"
echo "static.sh: $out/periodic: $(stat -c %s "$out/periodic") bytes, static, stripped (musl, mbedTLS 3.6)"
