#!/usr/bin/env bash
# le-run's size and memory, printed by make bench:
#   - size of the static binary (tools/static.sh: musl, mbedTLS 3.6 with
#     TLS 1.2 + 1.3, RSA and ECDSA chains, stripped) and of build/le-run
#   - peak RSS (VmHWM) of the leading le-run after 20 renews, static and
#     dynamic, against the local kube-apiserver (run it under flock /tmp/le-kube.lock
#     on a shared machine)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
tools/static.sh >build/le-run-bench-static.log 2>&1 || { tail build/le-run-bench-static.log; exit 1; }
s=$(stat -c %s build/static/le-run)
echo "le-run bench: build/static/le-run: $s bytes ($(( s / 1024 )) KiB), static, stripped, TLS 1.2 + 1.3, RSA + ECDSA"
strip -o build/le-run.stripped build/le-run
echo "le-run bench: build/le-run: $(stat -c %s build/le-run.stripped) bytes stripped + Debian's shared mbedTLS 2.28"
rss() { # rss BINARY: VmHWM of the leader after 20 renews (RetryPeriod 1 s)
    local bin=$1 out pid hwm
    out=$(mktemp)
    "$bin" --server "$LE_SERVER" --ca "$LE_CA" --token-file "$LE_USER_TOKEN_FILE" --namespace default \
        --lease "bench-rss-$$" --lease-duration 4s --renew-deadline 3s --retry-period 1s \
        --http 127.0.0.1:0 -- sleep 600 >"$out" 2>&1 &
    pid=$!
    for _ in $(seq 100); do grep -q "started sleep" "$out" && break; sleep 0.1; done
    sleep 20
    hwm=$(sed -n 's/^VmHWM:\s*//p' /proc/$pid/status)
    grep -q "started sleep" "$out" || hwm="(did not lead: $(tail -1 "$out"))"
    kill -TERM $pid; wait $pid
    rm -f "$out"
    echo "le-run bench: $bin leading for 20 s: peak RSS (VmHWM) $hwm"
}
envfile="$(tools/kube/up.sh 2>/dev/null)" || { echo "le-run bench: no API server"; exit 1; }
set -a; . "$envfile"; set +a
rss build/static/le-run
rss build/le-run
