#!/usr/bin/env bash
# Instructions per request, from callgrind: repeatable on a noisy machine where
# wrk's figures are not. For each case, the release gateway runs under
# `valgrind --tool=callgrind` (every thread counted: workers, blocking pool,
# usage writer, sqlx), a small keep-alive client sends WARMUP_REQUESTS, the
# counters are zeroed once the process is idle, REQUESTS more follow (over
# CONCURRENCY connections, so batches and wake-ups amortize as under load),
# and after a pause for the usage writer's last batch the counters are dumped:
# Ir / REQUESTS is the figure. The top inclusive symbols of each dump are printed
# too (callgrind_annotate). The mock upstream runs natively and is not counted.
#
#   bench/callgrind.sh                        # all cases, 2000 requests each
#   REQUESTS=500 CASES="metered nometer" bench/callgrind.sh
# Environment: BIN (default target/release/tollgate, not built here), REQUESTS,
# WARMUP_REQUESTS (200), CASES (metered nometer logdefault translated streamed),
# TOP (25 symbols), CONCURRENCY (client connections, 8), OUT (dir for the dumps and reports; default a temp dir, removed
# unless KEEP_TMP=1).
# Prints one line per case: "CASE Ir/request", then the symbol tables.
set -euo pipefail

BENCH_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd -- "$BENCH_DIR/.." && pwd)
BIN=${BIN:-$REPO/target/release/tollgate}
REQUESTS=${REQUESTS:-2000}
WARMUP_REQUESTS=${WARMUP_REQUESTS:-200}
CASES=${CASES:-metered nometer logdefault translated streamed}
TOP=${TOP:-25}
CONCURRENCY=${CONCURRENCY:-8}
KEEP_TMP=${KEEP_TMP:-0}

log() { printf '[callgrind] %s\n' "$*" >&2; }
die() {
    printf '[callgrind] ERROR: %s\n' "$*" >&2
    exit 1
}

command -v valgrind >/dev/null || die "valgrind is required (apt-get install -y valgrind)"
command -v callgrind_control >/dev/null || die "callgrind_control is required (valgrind package)"
[[ -x $BIN ]] || die "no binary at $BIN (cargo build --release --bin tollgate)"

OUT=${OUT:-}
if [[ -z $OUT ]]; then
    OUT=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-callgrind.XXXXXX")
else
    mkdir -p -- "$OUT"
    KEEP_TMP=1
fi
# The gateway's generated secret files (master key, JWT secret) go with the run,
# not into the working directory.
export TOLLGATE_DATA_DIR=$OUT
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ $KEEP_TMP == 1 ]]; then log "kept $OUT"; else rm -rf -- "$OUT"; fi
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# client PORT KEY BODY_FILE N: N POSTs over CONCURRENCY kept-alive connections;
# each must be 200.
client() {
    python3 - "$@" "$CONCURRENCY" <<'PYEOF'
import http.client, sys, threading
port, key, body_file, n, conc = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
body = open(body_file, "rb").read()
headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
failures = []
def run(count):
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=300)
    for i in range(count):
        conn.request("POST", "/v1/chat/completions", body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        if r.status != 200:
            failures.append(f"HTTP {r.status}: {data[:300]!r}")
            return
threads = [threading.Thread(target=run, args=(n // conc + (1 if i < n % conc else 0),))
           for i in range(conc)]
for t in threads:
    t.start()
for t in threads:
    t.join()
if failures:
    sys.exit(failures[0])
PYEOF
}

# settle PID: waits until the process uses < 2 % of a core over a second (the
# tokenizer loads on a background thread at start in older builds).
settle() {
    python3 - "$1" <<'PYEOF'
import os, sys, time
pid = sys.argv[1]
tck = os.sysconf("SC_CLK_TCK")
def cpu():
    rest = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / tck
end = time.monotonic() + 600
last = cpu()
while time.monotonic() < end:
    time.sleep(1)
    now = cpu()
    if now - last < 0.02:
        sys.exit(0)
    last = now
sys.exit("process never settled")
PYEOF
}

wait_health() {
    local port=$1 pid=$2 logfile=$3 i
    for ((i = 0; i < 1200; i++)); do
        curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/health" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || { cat -- "$logfile" >&2; die "process $pid exited"; }
        sleep 0.25
    done
    cat -- "$logfile" >&2
    die "no /health on :$port after 300 s"
}

MOCK_PORT=$(free_port)
TOLLGATE_LOG=warn "$BIN" mock-upstream --listen "127.0.0.1:$MOCK_PORT" >"$OUT/mock.log" 2>&1 &
PIDS+=($!)
for ((i = 0; i < 100; i++)); do
    curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$MOCK_PORT/_mock/stats" 2>/dev/null && break
    sleep 0.1
done

printf '%s' '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}' >"$OUT/chat.json"
printf '%s' '{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"Say hello"}]}' >"$OUT/claude.json"
printf '%s' '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say hello"}]}' >"$OUT/stream.json"

SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"
for case in $CASES; do
    body="$OUT/chat.json"
    metering=true
    logenv=(TOLLGATE_LOG=warn)
    case $case in
    metered) ;;
    nometer) metering=false ;;
    logdefault) logenv=() ;;
    translated) body="$OUT/claude.json" ;;
    streamed) body="$OUT/stream.json" ;;
    *) die "unknown case $case" ;;
    esac
    port=$(free_port)
    config="$OUT/$case.toml"
    cat >"$config" <<EOF
[server]
listen = "127.0.0.1:$port"
[storage]
url = "sqlite://$OUT/$case.db"
[keys]
pepper = "bench-pepper-0123456789abcdef"
[usage]
enabled = $metering
[providers.openai]
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
api_key = "bench-upstream-key"
[providers.anthropic]
base_url = "http://127.0.0.1:$MOCK_PORT"
api_key = "bench-upstream-key"
EOF
    key=$(TOLLGATE_LOG=warn "$BIN" --config "$config" keys create --name bench --json |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])') || die "keys create failed"
    log "$case: starting the gateway under callgrind"
    env -u TOLLGATE_LOG "${logenv[@]}" valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.$case" \
        "$BIN" --config "$config" serve >"$OUT/$case.log" 2>"$OUT/$case.err" &
    pid=$!
    PIDS+=("$pid")
    wait_health "$port" "$pid" "$OUT/$case.err"
    client "$port" "$key" "$body" "$WARMUP_REQUESTS" || die "$case: warm-up failed"
    settle "$pid" || die "$case: the gateway did not settle"
    callgrind_control -z "$pid" >/dev/null || die "callgrind_control -z failed"
    log "$case: $REQUESTS requests"
    client "$port" "$key" "$body" "$REQUESTS" || die "$case: requests failed"
    # The usage writer flushes every ~100 ms: let its last batch land in the count.
    sleep 2
    rm -f -- "$OUT/cg.$case".*
    callgrind_control -d "$pid" >/dev/null || die "callgrind_control -d failed"
    dump=""
    for ((i = 0; i < 120; i++)); do
        dump=$(ls -- "$OUT/cg.$case".* 2>/dev/null | head -n1 || true)
        [[ -n $dump ]] && grep -q '^totals:' -- "$dump" 2>/dev/null && break
        sleep 0.5
    done
    [[ -n $dump ]] || die "$case: no dump written"
    total=$(awk '/^totals:/ {print $2}' "$dump")
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    per=$((total / REQUESTS))
    printf '%-12s %10d Ir/request  (%d Ir over %d requests)\n' "$case" "$per" "$total" "$REQUESTS" | tee -a "$SUMMARY"
    {
        printf '\n## %s: top %d inclusive\n' "$case" "$TOP"
        # Recursive frames ('2 suffix) count their cycle more than once: skipped.
        callgrind_annotate --inclusive=yes --threshold=100 "$dump" 2>/dev/null |
            awk -v top="$TOP" '/^-+$/ {sep++; next} sep >= 4 && NF && !/\x272 \[/ && n < top {print; n++}' || true
    } >>"$OUT/symbols.txt"
done

printf '\n'
cat -- "$SUMMARY"
cat -- "$OUT/symbols.txt"
