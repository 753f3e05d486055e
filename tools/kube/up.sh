#!/usr/bin/env bash
# Start kube-apiserver-local (embedded etcd + kube-apiserver) in the
# background on STATE_DIR (default tools/kube/state) and wait until it is
# ready. Prints the path of the env file on stdout.
#
#   tools/kube/up.sh [STATE_DIR]
#
# Environment: LE_KUBE_PORT (secure port, default 16443), LE_KUBE_ARGS
# (extra kube-apiserver-local flags, word-split), LE_KUBE_TIMEOUT (seconds,
# default 120). Idempotent: when the server of STATE_DIR is already up and
# healthy it only reports it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
state="${1:-$here/state}"
mkdir -p "$state"
state="$(cd "$state" && pwd)"
timeout="${LE_KUBE_TIMEOUT:-120}"
bin="$here/bin"
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
    # shellcheck disable=SC2086
    setsid "$bin/kube-apiserver-local" --state "$state" \
        --secure-port "${LE_KUBE_PORT:-16443}" ${LE_KUBE_ARGS:-} \
        </dev/null >"$log" 2>&1 &
    pid=$!
    echo "up.sh: started kube-apiserver-local (pid $pid), log $log" >&2
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
