#!/usr/bin/env bash
# Installs the Debian packages le.h builds and tests with, if any is missing.
# Used by .ci/run and `make demo`; safe to run again.
set -euo pipefail
# dpkg-dev: apt-get source (mbedTLS 3.6); openssl: test certificates; musl-tools: make static; iproute2: ss for make bench;
# postgresql: the le-run --once tests (tests/le-run); clang, libclang-rt-14-dev: libFuzzer (tests/fuzz)
pkgs=(build-essential libmbedtls-dev node-llhttp libjsmn-dev valgrind dpkg-dev openssl musl-tools iproute2 postgresql
      clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v go >/dev/null || { echo "deps: Go is needed for the local API server (tools/kube); install Go >= 1.26 (Kubernetes 1.37's go.mod needs it)" >&2; exit 1; }
