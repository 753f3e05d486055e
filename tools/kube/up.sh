#!/usr/bin/env bash
# Start kube-apiserver-local (embedded etcd + kube-apiserver) in the
# background on STATE_DIR and wait until it is ready. Prints the path of the
# env file on stdout.
#
#   [LE_KUBE_VERSION=1.35] tools/kube/up.sh [STATE_DIR]
#
# LE_KUBE_VERSION (versions.sh) picks the release: 1.37 (default; state dir
# tools/kube/state, port 16443) or 1.35 (tools/kube/v1.35/state, port 16435).
# Environment: LE_KUBE_PORT (secure port, default by release), LE_KUBE_ARGS
# (extra kube-apiserver-local flags, word-split), LE_KUBE_TIMEOUT (seconds,
# default 120). Idempotent: when the server of STATE_DIR is already up and
# healthy it only reports it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/versions.sh"
state="${1:-$kube_state}"
mkdir -p "$state"
state="$(cd "$state" && pwd)"
timeout="${LE_KUBE_TIMEOUT:-120}"
bin="$kube_bin"
log="$state/apiserver.log"

"$here/build.sh" >&2

ours() { # is $1 a live kube-apiserver-local?
    [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q kube-apiserver-local
}

env_pid() {
    sed -n 's/^LE_APISERVER_PID=//p' "$state/env" 2>/dev/null || true
}

pid="$(cat "$state/pid" 2>/dev/null || true)"
if ours "$pid"; then
    exe=; IFS= read -r -d '' exe <"/proc/$pid/cmdline" || true
    if [[ "$exe" != "$bin/kube-apiserver-local" ]]; then
        echo "up.sh: $state is served by $exe (pid $pid), not by $bin/kube-apiserver-local" \
            "(Kubernetes $kube_version): stop it with down.sh, or give this release its own state dir" >&2
        exit 1
    fi
    if [[ "$(env_pid)" == "$pid" ]] &&
       "$bin/le-peer" readyz --kubeconfig "$state/kubeconfig" >/dev/null 2>&1; then
        echo "up.sh: already running (pid $pid)" >&2
        echo "$state/env"
        exit 0
    fi
    echo "up.sh: pid $pid is running but not ready yet; waiting for it" >&2
else
    [[ -f "$log" ]] && mv -f "$log" "$log.1"
    rm -f "$state/env" "$state/pid"
    # The server outlives this script, so it keeps none of the caller's
    # descriptors: one may hold flock(1)'s lock on the API-server tests,
    # which would stay taken for as long as the server runs.
    # shellcheck disable=SC2086
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd="${fd##*/}"
            if (( fd > 2 )); then eval "exec $fd>&-"; fi
        done
        exec setsid "$bin/kube-apiserver-local" --state "$state" \
            --secure-port "${LE_KUBE_PORT:-$kube_port}" ${LE_KUBE_ARGS:-}
    ) </dev/null >"$log" 2>&1 &
    pid=$!
    echo "up.sh: started kube-apiserver-local $kube_version (pid $pid), log $log" >&2
fi

t0=$(date +%s%N)
while :; do
    if [[ -f "$state/env" && "$(env_pid)" == "$pid" ]]; then
        ms=$(( ($(date +%s%N) - t0) / 1000000 ))
        echo "up.sh: ready after ${ms} ms: $(sed -n 's/^LE_SERVER=//p' "$state/env")" >&2
        echo "$state/env"
        exit 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "up.sh: kube-apiserver-local exited before it was ready; last lines of $log:" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
    if (( ($(date +%s%N) - t0) / 1000000000 >= timeout )); then
        echo "up.sh: not ready after ${timeout}s; last lines of $log:" >&2
        tail -n 40 "$log" >&2
        "$here/down.sh" "$state" >&2 || true
        exit 1
    fi
    sleep 0.2
done
