#!/usr/bin/env bash
# Build kube-apiserver-local, le-peer and kubectl (from the same Kubernetes
# release, for the tests of examples/deploy) into the bin dir of the release
# LE_KUBE_VERSION selects (versions.sh: 1.37, the default, into bin/; 1.35
# into v1.35/bin/). Both releases build from the same Go sources, each with
# its own module file, so both sets of binaries can coexist.
# Skips the build when the binaries were built from the same sources, module
# file, go.sum and Go version (a content fingerprint kept in BIN/.fingerprint).
# Set LE_KUBE_FORCE_BUILD=1 to build anyway.
# Uses the normal Go module cache (~/go/pkg/mod) and build cache
# (~/.cache/go-build), so only the first build on a machine is slow.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/versions.sh"
bin="$kube_bin"
modsum="${kube_modfile%.mod}.sum"
targets=("kube-apiserver-local:./apiserver" "le-peer:./peer" "kubectl:k8s.io/kubernetes/cmd/kubectl")

# Fingerprint of everything the binaries depend on: the Go sources, this
# release's module file and go.sum, this script, versions.sh and the Go
# version. Taken before building, so an edit made while a build runs still
# triggers the next one. The other release's module file is not part of it:
# editing one release rebuilds only that one.
fingerprint() {
    {
        go version 2>/dev/null || echo no-go
        echo "$kube_version"
        cat "${BASH_SOURCE[0]}" "$here/versions.sh" "$kube_modfile" "$modsum"
        find "$here" -type d \( -name bin -o -name state \) -prune -o \
            -name '*.go' -type f -print |
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
    echo "build.sh: Kubernetes $kube_version binaries in $bin are up to date"
    exit 0
fi

command -v go >/dev/null || { echo "build.sh: go not found in PATH" >&2; exit 1; }
mkdir -p "$bin"
rm -f "$bin/.fingerprint"
cd "$here"
modflag=()
[[ "$kube_modfile" == "$here/go.mod" ]] || modflag=("-modfile=$kube_modfile")
start=$(date +%s.%N)
# The release the module file names, stamped into the binaries as official
# builds do: /version reports it, and kube-apiserver-local names it in STATE/env.
release="$(go list "${modflag[@]}" -m -f '{{.Version}}' k8s.io/kubernetes)"
minor="${release#v1.}" minor="${minor%%.*}"
ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $p.gitVersion=$release -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done
for t in "${targets[@]}"; do
    name="${t%%:*}" pkg="${t#*:}"
    echo "build.sh: go build $pkg ($release) -> $bin/$name"
    go build "${modflag[@]}" -buildvcs=false -trimpath -ldflags="$ldflags" -o "$bin/$name.tmp" "$pkg"
    mv -f "$bin/$name.tmp" "$bin/$name"
done
echo "$fp" >"$bin/.fingerprint"
end=$(date +%s.%N)
printf 'build.sh: built Kubernetes %s in %s s (%s)\n' "$release" \
    "$(awk "BEGIN{printf \"%.1f\", $end-$start}")" "$(go version)"
