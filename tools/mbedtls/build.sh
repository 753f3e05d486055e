#!/usr/bin/env bash
# Build a static mbedTLS 3.6 LTS with a minimal configuration for le.h, from
# Debian trixie's source package (never copied into this repository).
#
#   tools/mbedtls/build.sh [OUT]          OUT defaults to build/mbedtls3
#
# Result: OUT/include (headers, with le_mbedtls_config.h), OUT/lib/libmbed{tls,
# x509,crypto}.a. Compile users with
#   -IOUT/include -DMBEDTLS_CONFIG_FILE='"le_mbedtls_config.h"'
# The configuration (tools/mbedtls/le_mbedtls_config.h) is a TLS 1.2 + 1.3
# client with RSA and ECDSA chains, X.509 and PEM, and the static-buffer
# allocator (MBEDTLS_MEMORY_BUFFER_ALLOC_C) that Debian's 2.28 build lacks, and
# getrandom(2) as its entropy source and an snprintf without floating point on
# any libc (le_platform.c).
#
# Needs: a deb-src entry for trixie (added as
# /etc/apt/sources.list.d/le-trixie-src.sources when missing and we are root),
# dpkg-dev, python3 with jinja2 (to generate PSA driver wrappers if the
# source lacks them), make, cc. Idempotent: does nothing when OUT is built
# from the same configuration.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/build/mbedtls3}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
src_parent="$out/src"
cfg="$here/le_mbedtls_config.h"
stamp="$out/.stamp"
# MBEDTLS_EXTRA_CFLAGS (e.g. -flto) and AR (gcc-ar for LTO objects) are
# added to the build and to the stamp
extra="${MBEDTLS_EXTRA_CFLAGS:-}"
want_stamp="$( (sha256sum "$cfg" "$0" "$here/le_platform.c"; echo "$extra ${CC:-cc} ${AR:-ar}") | sha256sum | cut -c1-16)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want_stamp" &&
      -f "$out/lib/libmbedtls.a" ]]; then
    echo "build.sh: mbedTLS 3 already built in $out" >&2
    exit 0
fi

# 1. the source package ------------------------------------------------------
srcdir="$(ls -d "$src_parent"/mbedtls-3.6* 2>/dev/null | head -n1 || true)"
if [[ -z "$srcdir" ]]; then
    list=/etc/apt/sources.list.d/le-trixie-src.sources
    if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ ||
       ! grep -rqs 'trixie' /etc/apt/sources.list.d/; then
        if [[ $(id -u) -ne 0 ]]; then
            echo "build.sh: add a deb-src entry for Debian trixie (see $list" \
                 "in this script) and run apt-get update, or run as root" >&2
            exit 1
        fi
        cat >"$list" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
        apt-get update -qq >&2
    fi
    mkdir -p "$src_parent"
    (cd "$src_parent" && apt-get source -qq 'mbedtls/trixie' >&2)
    srcdir="$(ls -d "$src_parent"/mbedtls-3.6* 2>/dev/null | head -n1 || true)"
    if [[ -z "$srcdir" ]]; then
        echo "build.sh: apt-get source did not give mbedtls 3.6 in $src_parent" >&2
        exit 1
    fi
fi
echo "build.sh: source $srcdir" >&2

# 2. generated files (absent from git-archive style tarballs) ----------------
if [[ ! -f "$srcdir/library/psa_crypto_driver_wrappers.h" ]] ||
   [[ ! -f "$srcdir/library/error.c" ]]; then
    (cd "$srcdir" && make -s generated_files >&2)
fi

# 3. the library ---------------------------------------------------------------
rm -rf "$out/include" "$out/lib"
mkdir -p "$out/include" "$out/lib"
cp -r "$srcdir/include/mbedtls" "$srcdir/include/psa" "$out/include/"
cp "$cfg" "$out/include/le_mbedtls_config.h"
make -s -C "$srcdir/library" clean >/dev/null
make -s -C "$srcdir/library" -j"$(nproc)" static \
    CC="${CC:-cc}" AR="${AR:-ar}" \
    CFLAGS="-Os $extra -ffunction-sections -fdata-sections -I$out/include \
-DMBEDTLS_CONFIG_FILE='\"le_mbedtls_config.h\"'" >&2
cp "$srcdir"/library/libmbed{tls,x509,crypto}.a "$out/lib/"
# the entropy source and snprintf the configuration names
# (MBEDTLS_ENTROPY_HARDWARE_ALT, MBEDTLS_PLATFORM_SNPRINTF_MACRO)
# shellcheck disable=SC2086
${CC:-cc} -Os $extra -ffunction-sections -fdata-sections -c "$here/le_platform.c" -o "$out/lib/le_platform.o"
${AR:-ar} rcs "$out/lib/libmbedcrypto.a" "$out/lib/le_platform.o"
echo "$want_stamp" >"$stamp"
ls -l "$out/lib" >&2
echo "build.sh: mbedTLS 3 in $out" >&2
