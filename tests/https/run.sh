#!/usr/bin/env bash
# tests/https/run.sh BUILD_DIR - the HTTPS transport's tests against a real
# kube-apiserver (tools/kube), with the programs built in BUILD_DIR
# (build/https: mbedTLS 2.28, build/https3: mbedTLS 3.6).
#
#   1. test_https: TLS (wrong CA, name and IP mismatch, RSA chain), in-cluster
#      and kubeconfig configuration, token rotation, 403, connection errors,
#      a silent server, a reset mid-reply, allocations per renew.
#   2. the examples: periodic.c hands over on SIGTERM without overlapping
#      work; eventloop.c releases on SIGTERM; ordinal.c decides by ordinal.
#   3. valgrind on an example run: no errors, no leaks.
#   4. with mbedTLS 3.6: a whole run without malloc after start (noalloc).
#
# Prints PASS/FAIL lines and ends with "N passed, M failed"; exits 1 if any
# failed. Starts the API server with tools/kube/up.sh (reused if up).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
out="${1:-build/https}"
shift || true
work="$root/build/https-test/$(basename "$out")"
rm -rf "$work"
mkdir -p "$work"
log="$work/log"
: >"$log"

pass() { echo "PASS $*" | tee -a "$log"; }
fail() { echo "FAIL $*" | tee -a "$log"; }
finish() {
    local p f
    p=$(grep -c '^PASS ' "$log")
    f=$(grep -c '^FAIL ' "$log")
    echo "$p passed, $f failed"
    [[ $f -eq 0 ]]
    exit $?
}

envfile="$(tools/kube/up.sh)" || { fail "tools/kube/up.sh: API server did not start"; finish; }
set -a
# shellcheck disable=SC1090
. "$envfile"
set +a
export LE_PEER="$root/tools/kube/bin/le-peer"
# kubectl of the same Kubernetes release, built by tools/kube/build.sh
export PATH="$root/tools/kube/bin:$PATH"
command -v kubectl >/dev/null || fail "kubectl: tools/kube/bin/kubectl missing (run tools/kube/build.sh)"
export LE_TEST_TMP="$work/tmp"
mkdir -p "$LE_TEST_TMP"

# ---- certificates for the TLS scenarios ------------------------------------------
certs="$work/certs"
mkdir -p "$certs"
(
    cd "$certs"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout wrong-ca.key -out wrong-ca.crt -subj /CN=le-wrong-ca -days 2
    # an RSA chain: root -> intermediate -> leaf (IP SAN 127.0.0.1)
    openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa-root.key \
        -out rsa-root.crt -subj /CN=le-rsa-root -days 2 \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -newkey rsa:2048 -nodes -keyout rsa-int.key -out rsa-int.csr \
        -subj /CN=le-rsa-intermediate
    printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' >int.ext
    openssl x509 -req -in rsa-int.csr -CA rsa-root.crt -CAkey rsa-root.key \
        -CAcreateserial -out rsa-int.crt -days 2 -extfile int.ext
    openssl req -newkey rsa:2048 -nodes -keyout rsa-leaf.key -out rsa-leaf.csr \
        -subj /CN=le-rsa-server
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >leaf.ext
    openssl x509 -req -in rsa-leaf.csr -CA rsa-int.crt -CAkey rsa-int.key \
        -CAcreateserial -out rsa-leaf.crt -days 2 -extfile leaf.ext
) >"$work/openssl.log" 2>&1 || { fail "openssl: test certificates (see $work/openssl.log)"; finish; }
export LE_TEST_WRONG_CA="$certs/wrong-ca.crt"
export LE_TEST_RSA_CA="$certs/rsa-root.crt"

# a plain TLS server with the RSA chain (not an API server: it answers
# every request with an HTML page)
rsa_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
openssl s_server -quiet -accept "127.0.0.1:$rsa_port" -cert "$certs/rsa-leaf.crt" \
    -key "$certs/rsa-leaf.key" -cert_chain "$certs/rsa-int.crt" -www \
    >"$work/s_server.log" 2>&1 &
rsa_pid=$!
export LE_TEST_RSA_PORT="$rsa_port"
pids=("$rsa_pid")

# kubectl proxy: plain HTTP on loopback, for the allow_http scenario
if command -v kubectl >/dev/null; then
    kubectl --kubeconfig "$LE_KUBECONFIG" proxy --port=0 --address=127.0.0.1 \
        >"$work/proxy.log" 2>&1 &
    pids+=("$!")
    for ((i = 0; i < 50; i++)); do
        p=$(sed -n 's/^Starting to serve on 127.0.0.1:\([0-9]*\).*/\1/p' "$work/proxy.log")
        [[ -n "$p" ]] && { export LE_TEST_PROXY_PORT="$p"; break; }
        sleep 0.1
    done
fi
cleanup() { kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT

# ---- 1. test_https -----------------------------------------------------------------
echo "== $out/test_https"
"$out/test_https" "$@" 2>&1 | tee "$work/test_https.log" | grep -v '^[0-9]* passed, [0-9]* failed$'
grep -E '^(PASS|FAIL) ' "$work/test_https.log" >>"$log"
grep -q '^[0-9]* passed, [0-9]* failed$' "$work/test_https.log" ||
    fail "test_https did not finish (crashed?)"

# common options for the examples: fast timings, the test bed's user token
ex=(--server "$LE_SERVER" --ca "$LE_CA" --token-file "$LE_USER_TOKEN_FILE")
fast=(--lease-ms 3000 --renew-ms 2000 --retry-ms 500)

wait_for() { # wait_for FILE PATTERN SECONDS
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# ---- 2. examples ---------------------------------------------------------------------
echo "== examples"
lease="periodic-$$-$(basename "$out")"
"$out/periodic" "${ex[@]}" "${fast[@]}" --name "$lease" --id pod-a --every 100 \
    --out "$work/work.log" >"$work/a.out" 2>&1 &
a_pid=$!
pids+=("$a_pid")
if wait_for "$work/a.out" "leading (term" 10; then
    "$out/periodic" "${ex[@]}" "${fast[@]}" --name "$lease" --id pod-b --every 100 \
        --out "$work/work.log" >"$work/b.out" 2>&1 &
    b_pid=$!
    pids+=("$b_pid")
    wait_for "$work/b.out" "following: leader is pod-a" 10 &&
        pass "periodic: a second replica follows" || fail "periodic: b does not follow (see $work/b.out)"
    sleep 1
    t0=$(date +%s%N)
    kill -TERM "$a_pid"
    wait "$a_pid"
    rc=$?
    grep -q "stopped leading (term [0-9]*): shutting down" "$work/a.out" &&
        grep -q "exiting after" "$work/a.out" && [[ $rc -eq 0 ]] &&
        pass "periodic: SIGTERM stops the work, releases, exits 0" ||
        fail "periodic: SIGTERM (rc $rc, see $work/a.out)"
    if wait_for "$work/b.out" "leading (term" 5; then
        ms=$(( ($(date +%s%N) - t0) / 1000000 ))
        echo "  handover after SIGTERM: ${ms} ms (lease duration 3000 ms)"
        (( ms < 2500 )) && pass "periodic: the follower takes over at once after the release (${ms} ms)" ||
            fail "periodic: takeover took ${ms} ms"
    else
        fail "periodic: b never leads (see $work/b.out)"
    fi
    sleep 0.5
    kill -TERM "$b_pid"
    wait "$b_pid"
    # the work of a and b never overlaps: all of a's units come first
    if awk '$3=="pod-a"{ if ($1>alast) alast=$1 } $3=="pod-b"{ if (bfirst==0 || $1<bfirst) bfirst=$1 }
            END { exit !(alast > 0 && bfirst > 0 && alast < bfirst) }' "$work/work.log"; then
        pass "periodic: no overlapping work between the two replicas"
    else
        fail "periodic: work overlapped (see $work/work.log)"
    fi
    grep -q "term 1" "$work/b.out" && pass "periodic: the new leader's term is one higher" ||
        fail "periodic: term did not advance (see $work/b.out)"
else
    fail "periodic: a never leads (see $work/a.out)"
    kill "$a_pid" 2>/dev/null
fi

# eventloop: leads, heartbeats from its own timer, releases on SIGTERM
"$out/eventloop" "${ex[@]}" "${fast[@]}" --name "ev-$$" --id ev-a --every 300 \
    </dev/null >"$work/ev.out" 2>&1 &
e_pid=$!
pids+=("$e_pid")
if wait_for "$work/ev.out" "heartbeat: leader" 10; then
    kill -TERM "$e_pid"
    wait "$e_pid"
    rc=$?
    grep -q "leader: (none)" "$work/ev.out" && grep -q "done" "$work/ev.out" && [[ $rc -eq 0 ]] &&
        pass "eventloop: own timer next to the elector; SIGTERM releases the Lease" ||
        fail "eventloop: shutdown (rc $rc, see $work/ev.out)"
else
    fail "eventloop: never a leader heartbeat (see $work/ev.out)"
    kill "$e_pid" 2>/dev/null
fi

# ordinal: pod -0 leads, others do not, malformed names are errors
POD_NAME=web-0 "$out/ordinal" --check >/dev/null; r0=$?
POD_NAME=web-1 "$out/ordinal" --check >/dev/null; r1=$?
POD_NAME=web-1 POD_INDEX=0 "$out/ordinal" --check >/dev/null; ri=$?
POD_NAME=web "$out/ordinal" --check >/dev/null 2>&1; rb=$?
[[ $r0 -eq 0 && $r1 -eq 1 && $ri -eq 0 && $rb -eq 2 ]] &&
    pass "ordinal: web-0 leads, web-1 does not, POD_INDEX wins, 'web' is an error" ||
    fail "ordinal: exit codes $r0 $r1 $ri $rb"

# ---- deploy manifests: server-side validation, least-privilege Role -----------------
lead_once() { # lead_once OUTFILE ARGS...: leads, then SIGTERM releases
    local f=$1 pid rc
    shift
    "$out/periodic" "$@" >"$f" 2>&1 &
    pid=$!
    pids+=("$pid")
    if ! wait_for "$f" "leading (term" 10; then kill "$pid" 2>/dev/null; return 1; fi
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    [[ $rc -eq 0 ]] && grep -q "shutting down" "$f"
}
if command -v kubectl >/dev/null; then
    echo "== examples/deploy"
    k=(kubectl --kubeconfig "$LE_KUBECONFIG")
    dns=le-deploy-test
    "${k[@]}" create namespace "$dns" >/dev/null 2>&1
    "${k[@]}" -n "$dns" apply --dry-run=server -f examples/deploy/ >"$work/deploy.log" 2>&1 &&
        pass "deploy: every manifest accepted by kube-apiserver (server-side dry run)" ||
        fail "deploy: manifests rejected (see $work/deploy.log)"
    "${k[@]}" -n "$dns" delete lease periodic-example --ignore-not-found >>"$work/deploy.log" 2>&1
    "${k[@]}" -n "$dns" apply -f examples/deploy/rbac.yaml >>"$work/deploy.log" 2>&1
    "${k[@]}" -n "$dns" create token periodic >"$work/sa.token" 2>>"$work/deploy.log"
    sa=(--server "$LE_SERVER" --ca "$LE_CA" --token-file "$work/sa.token" --ns "$dns")
    lead_once "$work/rbac1.out" "${sa[@]}" "${fast[@]}" --id rbac-a &&
        pass "deploy: rbac.yaml's Role is enough to create, renew and release the Lease" ||
        fail "deploy: periodic with rbac.yaml (see $work/rbac1.out)"
    if "${k[@]}" --server "$LE_SERVER" --certificate-authority "$LE_CA" \
        --token "$(cat "$work/sa.token")" -n "$dns" get lease other-lease >"$work/rbac-other.log" 2>&1 ||
       ! grep -q Forbidden "$work/rbac-other.log"; then
        fail "deploy: the Role allows reading other Leases (see $work/rbac-other.log)"
    else
        pass "deploy: the Role forbids reading other Leases"
    fi
    # a follower with the Role watches: no 403 on its watch, and it takes
    # the released Lease at once
    "$out/periodic" "${sa[@]}" "${fast[@]}" --id rbac-l >"$work/rbac-l.out" 2>&1 &
    lpid=$!; pids+=("$lpid")
    if wait_for "$work/rbac-l.out" "leading (term" 10; then
        "$out/periodic" "${sa[@]}" "${fast[@]}" --id rbac-f >"$work/rbac-f.out" 2>&1 &
        fpid=$!; pids+=("$fpid")
        wait_for "$work/rbac-f.out" "following" 10
        sleep 2
        kill -TERM "$lpid"; wait "$lpid"
        if wait_for "$work/rbac-f.out" "leading (term" 3 && ! grep -q "on watch lease" "$work/rbac-f.out"; then
            pass "deploy: with rbac.yaml's Role a follower watches the Lease (no 403) and takes it when released"
        else
            fail "deploy: follower with rbac.yaml (see $work/rbac-f.out)"
        fi
        kill -TERM "$fpid"; wait "$fpid"
    else
        kill "$lpid" 2>/dev/null
        fail "deploy: leader with rbac.yaml (see $work/rbac-l.out)"
    fi
    if "${k[@]}" --server "$LE_SERVER" --certificate-authority "$LE_CA" \
        --token "$(cat "$work/sa.token")" -n "$dns" get lease --field-selector metadata.name=other-lease \
        --watch --request-timeout=2s >"$work/rbac-watch.log" 2>&1 || ! grep -q Forbidden "$work/rbac-watch.log"; then
        fail "deploy: the Role allows watching other Leases (see $work/rbac-watch.log)"
    else
        pass "deploy: the Role forbids watching other Leases"
    fi
    "${k[@]}" -n "$dns" delete lease periodic-example >>"$work/deploy.log" 2>&1
    "${k[@]}" -n "$dns" patch role periodic-lease --type=json \
        -p '[{"op":"remove","path":"/rules/1"}]' >>"$work/deploy.log" 2>&1
    "${k[@]}" -n "$dns" apply -f examples/deploy/lease.yaml >>"$work/deploy.log" 2>&1
    lead_once "$work/rbac2.out" "${sa[@]}" "${fast[@]}" --id rbac-b &&
        pass "deploy: without the create rule, a Lease made ahead (lease.yaml) is taken over" ||
        fail "deploy: periodic without create (see $work/rbac2.out)"
    "${k[@]}" -n "$dns" apply -f examples/deploy/rbac.yaml >>"$work/deploy.log" 2>&1
fi

# ---- 3. valgrind ------------------------------------------------------------------------
if command -v valgrind >/dev/null; then
    echo "== valgrind $out/periodic"
    valgrind --leak-check=full --show-leak-kinds=all --error-exitcode=9 \
        --log-file="$work/valgrind.log" "$out/periodic" "${ex[@]}" "${fast[@]}" \
        --name "vg-$$" --id vg-a --every 200 >"$work/vg.out" 2>&1 &
    v_pid=$!
    pids+=("$v_pid")
    if wait_for "$work/vg.out" "work 3 " 60; then
        kill -TERM "$v_pid"
        wait "$v_pid"
        rc=$?
        grep -E "ERROR SUMMARY|in use at exit|definitely lost|All heap" "$work/valgrind.log" | sed 's/^==[0-9]*== /  /'
        if [[ $rc -eq 0 ]] && grep -q "ERROR SUMMARY: 0 errors" "$work/valgrind.log" &&
           grep -q "All heap blocks were freed" "$work/valgrind.log"; then
            pass "valgrind: periodic run (lead, work, SIGTERM, release): no errors, no leaks"
        else
            fail "valgrind: rc $rc, see $work/valgrind.log"
        fi
    else
        kill "$v_pid" 2>/dev/null
        fail "valgrind: periodic did not lead (see $work/vg.out)"
    fi
fi

# ---- 4. malloc-free run (mbedTLS with the buffer allocator) ------------------------------
if [[ -x "$out/noalloc" ]]; then
    echo "== $out/noalloc"
    "$out/noalloc" 2>&1 | tee "$work/noalloc.log" | grep -v '^[0-9]* passed'
    grep -E '^(PASS|FAIL) ' "$work/noalloc.log" >>"$log"
fi

finish
