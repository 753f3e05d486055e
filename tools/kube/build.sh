#!/usr/bin/env bash
# Build kube-apiserver-local and le-peer into tools/kube/bin/.
# Skips the build when both binaries are newer than every Go source file,
# go.mod and go.sum. Set LE_KUBE_FORCE_BUILD=1 to build anyway.
# Uses the normal Go module cache (~/go/pkg/mod) and build cache
# (~/.cache/go-build), so only the first build on a machine is slow.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$here/bin"
targets=("kube-apiserver-local:./apiserver" "le-peer:./peer")

up_to_date() {
    local t out
    for t in "${targets[@]}"; do
        out="$bin/${t%%:*}"
        [[ -x "$out" ]] || return 1
        if [[ -n "$(find "$here" -path "$bin" -prune -o -path "$here/state" -prune -o \
                    \( -name '*.go' -o -name go.mod -o -name go.sum \) -newer "$out" -print -quit)" ]]; then
            return 1
        fi
    done
    return 0
}

if [[ "${LE_KUBE_FORCE_BUILD:-0}" != 1 ]] && up_to_date; then
    echo "build.sh: binaries in $bin are up to date"
    exit 0
fi

command -v go >/dev/null || { echo "build.sh: go not found in PATH" >&2; exit 1; }
mkdir -p "$bin"
cd "$here"
start=$(date +%s.%N)
for t in "${targets[@]}"; do
    name="${t%%:*}" pkg="${t#*:}"
    echo "build.sh: go build $pkg -> bin/$name"
    go build -buildvcs=false -trimpath -ldflags='-s -w' -o "$bin/$name.tmp" "$pkg"
    mv -f "$bin/$name.tmp" "$bin/$name"
done
end=$(date +%s.%N)
printf 'build.sh: built in %.1f s (%s)\n' "$(echo "$end - $start" | bc 2>/dev/null || awk "BEGIN{print $end-$start}")" "$(go version)"
