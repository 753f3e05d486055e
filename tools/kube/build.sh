#!/usr/bin/env bash
# Build kube-apiserver-local, le-peer and kubectl (from the same Kubernetes
# release, for the tests of examples/deploy) into tools/kube/bin/.
# Skips the build when the binaries were built from the same sources, go.mod,
# go.sum and Go version (a content fingerprint kept in bin/.fingerprint).
# Set LE_KUBE_FORCE_BUILD=1 to build anyway.
# Uses the normal Go module cache (~/go/pkg/mod) and build cache
# (~/.cache/go-build), so only the first build on a machine is slow.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$here/bin"
targets=("kube-apiserver-local:./apiserver" "le-peer:./peer" "kubectl:k8s.io/kubernetes/cmd/kubectl")

# Fingerprint of everything the binaries depend on: the Go sources, go.mod,
# go.sum, this script and the Go version. Taken before building, so an edit
# made while a build runs still triggers the next one.
fingerprint() {
    {
        go version 2>/dev/null || echo no-go
        cat "${BASH_SOURCE[0]}"
        find "$here" \( -path "$bin" -o -path "$here/state" \) -prune -o \
            \( -name '*.go' -o -name go.mod -o -name go.sum \) -type f -print |
            LC_ALL=C sort | while read -r f; do echo "$f"; cat "$f"; done
    } | sha256sum | cut -d' ' -f1
}

up_to_date() {
    local t
    for t in "${targets[@]}"; do
        [[ -x "$bin/${t%%:*}" ]] || return 1
    done
    [[ "$(cat "$bin/.fingerprint" 2>/dev/null)" == "$1" ]]
}

fp="$(fingerprint)"
if [[ "${LE_KUBE_FORCE_BUILD:-0}" != 1 ]] && up_to_date "$fp"; then
    echo "build.sh: binaries in $bin are up to date"
    exit 0
fi

command -v go >/dev/null || { echo "build.sh: go not found in PATH" >&2; exit 1; }
mkdir -p "$bin"
rm -f "$bin/.fingerprint"
cd "$here"
start=$(date +%s.%N)
for t in "${targets[@]}"; do
    name="${t%%:*}" pkg="${t#*:}"
    echo "build.sh: go build $pkg -> bin/$name"
    go build -buildvcs=false -trimpath -ldflags='-s -w' -o "$bin/$name.tmp" "$pkg"
    mv -f "$bin/$name.tmp" "$bin/$name"
done
echo "$fp" >"$bin/.fingerprint"
end=$(date +%s.%N)
printf 'build.sh: built in %s s (%s)\n' "$(awk "BEGIN{printf \"%.1f\", $end-$start}")" "$(go version)"
