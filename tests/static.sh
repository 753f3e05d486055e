#!/usr/bin/env bash
# The static musl build of examples/periodic.c (tools/static.sh) leads, works
# and releases against the local kube-apiserver over TLS 1.3.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin=build/static/periodic
tools/static.sh >build/static.log 2>&1 || { cat build/static.log; echo "static: 0 passed, 1 failed"; exit 1; }
cat build/static.log
envfile="$(tools/kube/up.sh 2>/dev/null)" || { echo "static: 0 passed, 1 failed (no API server)"; exit 1; }
set -a; . "$envfile"; set +a
out=build/static/run.out
"$bin" --server "$LE_SERVER" --ca "$LE_CA" --token-file "$LE_USER_TOKEN_FILE" --ns default \
    --name "static-check-$$" --id static-check-0 >"$out" 2>&1 &
pid=$!
for _ in $(seq 50); do grep -q "work 2" "$out" && break; sleep 0.1; done
kill -TERM "$pid"; wait "$pid"; rc=$?
if [ "$rc" -eq 0 ] && grep -q "leading (term" "$out" && grep -q "work 2" "$out" &&
   grep -q "exiting after .*TLSv1.3, 1 connection" "$out"; then
    echo "static: 1 passed, 0 failed ($(stat -c %s "$bin") bytes, led, worked, released over TLS 1.3)"
else
    cat "$out"; echo "static: 0 passed, 1 failed"; exit 1
fi
