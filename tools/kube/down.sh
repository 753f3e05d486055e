#!/usr/bin/env bash
# Stop the kube-apiserver-local of STATE_DIR (default: the state dir of the
# release LE_KUBE_VERSION selects, versions.sh): SIGTERM, wait up to 20 s,
# then SIGKILL. Keeps the state (etcd data, certificates, tokens) for the
# next up.sh.
#
#   [LE_KUBE_VERSION=1.35] tools/kube/down.sh [STATE_DIR]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/versions.sh"
state="${1:-$kube_state}"
[[ -d "$state" ]] || { echo "down.sh: no state dir $state" >&2; exit 0; }
state="$(cd "$state" && pwd)"

pid="$(cat "$state/pid" 2>/dev/null || true)"
if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null ||
   ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q kube-apiserver-local; then
    echo "down.sh: not running" >&2
    rm -f "$state/pid" "$state/env"
    exit 0
fi

kill -TERM "$pid"
for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
    echo "down.sh: pid $pid still running after 20 s, sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
    rm -f "$state/pid" "$state/env"
else
    echo "down.sh: stopped pid $pid" >&2
fi
