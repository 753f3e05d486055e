#!/usr/bin/env bash
# The Kubernetes releases the test bed builds, and where each one keeps its
# module file, binaries, state and port. LE_KUBE_VERSION selects one:
#
#   1.37  (default) the newest release: go.mod, bin/, state/, port 16443
#   1.35  the oldest one upstream still supports: v1.35/go.mod (same Go
#         sources, built with -modfile), v1.35/bin/, v1.35/state/, port 16435
#
# Sourced by build.sh, up.sh and down.sh (sets kube_version, kube_modfile,
# kube_bin, kube_state, kube_port). Run, it prints those assignments, for
# make and other scripts:  eval "$(LE_KUBE_VERSION=1.35 tools/kube/versions.sh)"
kube_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
kube_version="${LE_KUBE_VERSION:-1.37}"
case "$kube_version" in
1.37)
    kube_modfile="$kube_dir/go.mod" kube_bin="$kube_dir/bin"
    kube_state="$kube_dir/state" kube_port=16443 ;;
1.35)
    kube_modfile="$kube_dir/v1.35/go.mod" kube_bin="$kube_dir/v1.35/bin"
    kube_state="$kube_dir/v1.35/state" kube_port=16435 ;;
*)
    echo "tools/kube: LE_KUBE_VERSION=$kube_version is not built here;" \
        "set it to 1.37 (the newest, the default) or 1.35 (the oldest supported)" >&2
    # shellcheck disable=SC2317
    return 2 2>/dev/null || exit 2 ;;
esac

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    printf 'kube_version=%q kube_modfile=%q kube_bin=%q kube_state=%q kube_port=%q\n' \
        "$kube_version" "$kube_modfile" "$kube_bin" "$kube_state" "$kube_port"
fi
