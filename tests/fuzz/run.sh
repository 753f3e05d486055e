#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS JOBS TARGET... - runs each libFuzzer target of
# build/libfuzzer for SECONDS, JOBS at a time, from its seeds
# (tests/fuzz/corpus/<t>) and what earlier runs found (build/libfuzzer/corpus/<t>,
# where new inputs go). One line per target with the executions and the
# coverage (cov, ft) of libFuzzer's final stats; a broken invariant or a
# sanitizer report fails the target, its input is kept in
# build/libfuzzer/artifacts/ with the command to reproduce it (FZ_TRACE=1 prints
# every step). Ends with "fuzz: N passed, M failed"; exits 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}; jobs=${2:-2}; shift 2
out=build/libfuzzer
mkdir -p "$out/logs" "$out/artifacts"

# the transport targets need a CA certificate next to their configuration
if [[ ! -s $out/ca.crt ]]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
        -out "$out/ca.crt" -subj /CN=le-fuzz-ca -days 3650 >/dev/null 2>&1 ||
        { echo "fuzz: openssl could not make $out/ca.crt"; exit 1; }
fi
export LE_FUZZ_CA="$PWD/$out/ca.crt"

max_len() {
    case $1 in
        token) echo 512 ;; env) echo 1024 ;; kubeconfig) echo 8192 ;; *) echo 4096 ;;
    esac
}

one() { # one TARGET: runs it, leaves build/libfuzzer/logs/TARGET.{log,rc}
    local t=$1 c=$out/corpus/$1 seeds=tests/fuzz/corpus/$1 dict=()
    mkdir -p "$c"
    [[ -f tests/fuzz/$t.dict ]] && dict=(-dict="tests/fuzz/$t.dict")
    "$out/$t" -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" \
        "${dict[@]}" "$c" "$seeds" >"$out/logs/$t.log" 2>&1
    echo $? >"$out/logs/$t.rc"
}

report() { # report TARGET: one summary line (and the failure), 0 if it passed
    local t=$1 log=$out/logs/$1.log rc last execs cov ft corp art
    rc=$(cat "$out/logs/$t.rc" 2>/dev/null || echo 1)
    last=$(grep -aE '^#[0-9]+' "$log" | tail -1)
    execs=$(grep -aoE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
    [[ -n $execs ]] || execs=$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")
    cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
    ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
    corp=$(grep -oE 'corp: [0-9]+' <<<"$last" | grep -oE '[0-9]+')
    if [[ $rc == 0 ]] && grep -aq '^Done [0-9]* runs' "$log"; then
        printf 'fuzz: %-10s PASS %9s execs  cov %5s  ft %6s  corpus %5s  (%s s)\n' \
            "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$secs"
        return 0
    fi
    art=$(grep -aoE "Test unit written to [^ ]+" "$log" | tail -1 | sed 's/Test unit written to //')
    printf 'fuzz: %-10s FAIL after %s execs  cov %s  ft %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}"
    grep -aE 'invariant broken|ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error|^SUMMARY|^LF:|^CRLF:' \
        "$log" | head -6 | sed 's/^/    /'
    [[ -n $art ]] && echo "    reproduce: FZ_TRACE=1 LE_FUZZ_CA=$LE_FUZZ_CA $out/$t $art"
    echo "    log: $log"
    return 1
}

start=$(date +%s)
running=0
for t in "$@"; do
    [[ -x $out/$t ]] || { echo "fuzz: $out/$t is not built (make fuzz-build)"; echo 1 >"$out/logs/$t.rc"; continue; }
    one "$t" &
    running=$((running + 1))
    if (( running >= jobs )); then wait -n; running=$((running - 1)); fi
done
wait
pass=0; fail=0
for t in "$@"; do
    if report "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
echo "fuzz: $# targets in $(( $(date +%s) - start )) s"
echo "fuzz: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
