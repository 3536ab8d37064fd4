#!/usr/bin/env bash
# Gateway overhead benchmark: the same chat request straight to the mock
# upstream and through `tollgate serve`, at concurrency 1 and CONNS.
# See bench/README.md. Environment knobs:
#   DURATION  measured run per case (default 10s)
#   WARMUP    warm-up run per case, discarded (default 2s)
#   CONNS     connections for the high-concurrency cases (default 32)
#   THREADS   wrk threads for the high-concurrency cases (default 2)
#   RESULTS   JSON output (default bench/results/latest.json)
#   KEEP_TMP  1: keep the temp dir (logs, wrk output) for inspection
#   HIGH_CONNS  also run nginx-proxy, gateway and nometer at this concurrency (e.g. 256)
#   BIN       the gateway binary (default target/release/tollgate, built first);
#             set it to measure another build without building
set -euo pipefail

BENCH_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd -- "$BENCH_DIR/.." && pwd)
BIN=${BIN:-}
LUA="$BENCH_DIR/chat.lua"
REPORT="$BENCH_DIR/report.py"

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
RESULTS=${RESULTS:-$BENCH_DIR/results/latest.json}
KEEP_TMP=${KEEP_TMP:-0}
HIGH_CONNS=${HIGH_CONNS:-}

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
    printf '[bench] ERROR: %s\n' "$*" >&2
    exit 1
}

# ---------------------------------------------------------------- cleanup

TMP=""
PIDS=()

cleanup() {
    local pid i
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        # Bounded: the gateway drains in-flight requests, then exits.
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n $TMP ]]; then
        if [[ $KEEP_TMP == 1 ]]; then
            log "kept $TMP"
        else
            rm -rf -- "$TMP"
        fi
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helpers

ensure_wrk() {
    command -v wrk >/dev/null && return 0
    local -a sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || die "wrk is missing and we are not root; run: apt-get install -y wrk"
        sudo=(sudo)
    fi
    log "installing wrk from Debian"
    export DEBIAN_FRONTEND=noninteractive
    if ! "${sudo[@]}" apt-get install -y wrk; then
        "${sudo[@]}" apt-get update
        "${sudo[@]}" apt-get install -y wrk
    fi
    command -v wrk >/dev/null || die "wrk still missing after apt-get install"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# fresh_port: a free port not handed out before in this run.
USED_PORTS=" "
fresh_port() {
    local port
    port=$(free_port)
    while [[ $USED_PORTS == *" $port "* ]]; do port=$(free_port); done
    USED_PORTS+="$port "
    printf '%s' "$port"
}

# start_bg LOGFILE COMMAND...: runs COMMAND in the background, remembered for cleanup.
LAST_PID=""
start_bg() {
    local logfile=$1
    shift
    "$@" >"$logfile" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

# wait_http NAME URL PID LOGFILE: bounded wait until URL answers 2xx.
wait_http() {
    local name=$1 url=$2 pid=$3 logfile=$4 i
    for ((i = 0; i < 300; i++)); do
        if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$name exited before answering; its log:"
            cat -- "$logfile" >&2
            die "$name did not start"
        fi
        sleep 0.1
    done
    log "$name log:"
    cat -- "$logfile" >&2
    die "$name did not answer $url within 30s"
}

mock_requests() {
    curl -fsS --max-time 5 "$MOCK_URL/_mock/stats" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["requests"])'
}

# preflight NAME URL AUTH_HEADER BODY_FILE: one request with curl; must be 200.
preflight() {
    local name=$1 url=$2 auth=$3 body=$4 code
    code=$(curl -sS -o "$TMP/preflight.out" -w '%{http_code}' --max-time 10 \
        -H "$auth" -H 'Content-Type: application/json' \
        --data-binary "@$body" "$url") || die "$name: curl to $url failed"
    if [[ $code != 200 ]]; then
        log "$name: response body:"
        cat -- "$TMP/preflight.out" >&2
        printf '\n' >&2
        die "$name: $url answered HTTP $code, expected 200"
    fi
}

# wrk_run OUTFILE DURATION URL AUTH_HEADER BODY_FILE CONNS
wrk_run() {
    local out=$1 duration=$2 url=$3 auth=$4 body=$5 conns=$6
    local threads=$((conns < THREADS ? conns : THREADS))
    if ! python3 "$REPORT" measure "$out" "$SERVER_PIDS" -- \
        wrk -t"$threads" -c"$conns" -d"$duration" --latency -s "$LUA" \
        -H "$auth" "$url" -- "$body"; then
        cat -- "$out" >&2
        die "wrk failed against $url"
    fi
}

# run_case NAME URL AUTH_HEADER BODY_FILE CONNS [UPSTREAM]
# Checks the target with curl, warms up, then measures; appends to the results.
# NAME must be unique and filename-safe; comparisons refer to it. UPSTREAM "none"
# (nginx's fixed response) skips the check that the mock saw every request.
run_case() {
    local name=$1 url=$2 auth=$3 body=$4 conns=$5 upstream=${6:-mock}
    local threads=$((conns < THREADS ? conns : THREADS))
    local out="$TMP/wrk-$name" before after
    preflight "$name" "$url" "$auth" "$body"
    log "$name: warm-up $WARMUP, then $DURATION at -t$threads -c$conns"
    wrk_run "$out.warmup" "$WARMUP" "$url" "$auth" "$body" "$conns"
    python3 "$REPORT" check-warmup "$out.warmup" || die "$name: warm-up failed"
    before=$(mock_requests) || die "cannot read the mock's request count"
    wrk_run "$out" "$DURATION" "$url" "$auth" "$body" "$conns"
    after=$(mock_requests) || die "cannot read the mock's request count"
    local seen=$((after - before))
    [[ $upstream != none ]] || seen=-1
    python3 "$REPORT" add-case "$CASES" "$name" "$url" "$threads" "$conns" "$seen" "$out"
}

# compare_latency LABEL BASE CANDIDATE MAX_ADDED_P99_US|-
compare_latency() { printf 'latency\t%s\t%s\t%s\t%s\n' "$@" >>"$COMPARISONS"; }
# compare_throughput LABEL BASE CANDIDATE MIN_RATIO_PERCENT|-
compare_throughput() { printf 'throughput\t%s\t%s\t%s\t%s\n' "$@" >>"$COMPARISONS"; }

# ---------------------------------------------------------------- setup

command -v python3 >/dev/null || die "python3 is required"
command -v curl >/dev/null || die "curl is required"
[[ $CONNS =~ ^[0-9]+$ && $CONNS -ge 1 ]] || die "CONNS must be a positive integer"
[[ $THREADS =~ ^[0-9]+$ && $THREADS -ge 1 ]] || die "THREADS must be a positive integer"

ensure_wrk

if [[ -z $BIN ]]; then
    BIN="$REPO/target/release/tollgate"
    log "building the release binary"
    (cd -- "$REPO" && cargo build --release --bin tollgate)
fi
[[ -x $BIN ]] || die "no binary at $BIN"
command -v nginx >/dev/null || die "nginx is required (apt-get install -y nginx)"

LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
BUSY_START=$(python3 "$REPORT" busy)
if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > 0.25 else 1)" "$BUSY_START"; then
    log "WARNING: $BUSY_START cores busy before starting; something else is running, numbers will be noisy"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-bench.XXXXXX")
CASES="$TMP/cases.jsonl"
COMPARISONS="$TMP/comparisons.tsv"

MOCK_PORT=$(fresh_port)
GATEWAY_PORT=$(fresh_port)
MOCK_URL="http://127.0.0.1:$MOCK_PORT"
GATEWAY_URL="http://127.0.0.1:$GATEWAY_PORT"

log "starting mock upstream on $MOCK_URL"
start_bg "$TMP/mock.log" env TOLLGATE_LOG=warn "$BIN" mock-upstream --listen "127.0.0.1:$MOCK_PORT"
MOCK_PID=$LAST_PID

CONFIG="$TMP/tollgate.toml"
cat >"$CONFIG" <<EOF
[server]
listen = "127.0.0.1:$GATEWAY_PORT"

[storage]
url = "sqlite://$TMP/bench.db"

[keys]
pepper = "bench-pepper-0123456789abcdef"

[providers.openai]
base_url = "$MOCK_URL/v1"
api_key = "bench-upstream-key"

[providers.anthropic]
base_url = "$MOCK_URL"
api_key = "bench-upstream-key"
EOF
# The same gateway with metering off, on its own database: the metering baseline.
NOMETER_PORT=$(fresh_port)
NOMETER_URL="http://127.0.0.1:$NOMETER_PORT"
NOMETER_CONFIG="$TMP/nometer.toml"
sed -e "s|127.0.0.1:$GATEWAY_PORT|127.0.0.1:$NOMETER_PORT|" -e "s|$TMP/bench.db|$TMP/nometer.db|" \
    "$CONFIG" >"$NOMETER_CONFIG"
printf '\n[usage]\nenabled = false\n' >>"$NOMETER_CONFIG"
# The same gateway with a second OpenAI deployment (same mock, its own key): the
# routing layer's weighted choice over two deployments against one.
TWODEP_PORT=$(fresh_port)
TWODEP_URL="http://127.0.0.1:$TWODEP_PORT"
TWODEP_CONFIG="$TMP/twodep.toml"
sed -e "s|127.0.0.1:$GATEWAY_PORT|127.0.0.1:$TWODEP_PORT|" -e "s|$TMP/bench.db|$TMP/twodep.db|" \
    "$CONFIG" >"$TWODEP_CONFIG"
printf '\n[[providers.openai.deployments]]\nname = "second"\nbase_url = "%s/v1"\napi_key = "bench-upstream-key-2"\n' \
    "$MOCK_URL" >>"$TWODEP_CONFIG"
# The same gateway with the default log filter (TOLLGATE_LOG unset) and stderr to a
# file, as under a service manager: what the default logging costs against `warn`.
LOGDEF_PORT=$(fresh_port)
LOGDEF_URL="http://127.0.0.1:$LOGDEF_PORT"
LOGDEF_CONFIG="$TMP/logdefault.toml"
sed -e "s|127.0.0.1:$GATEWAY_PORT|127.0.0.1:$LOGDEF_PORT|" -e "s|$TMP/bench.db|$TMP/logdefault.db|" \
    "$CONFIG" >"$LOGDEF_CONFIG"

log "creating a key"
KEY_JSON=$(TOLLGATE_LOG=warn "$BIN" --config "$CONFIG" keys create --name bench --json) ||
    die "keys create failed"
KEY=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])' <<<"$KEY_JSON") ||
    die "cannot read \"key\" from keys create output: $KEY_JSON"

# A key whose policy never binds but is checked on every request.
POLICY_JSON=$(TOLLGATE_LOG=warn "$BIN" --config "$CONFIG" keys create --name bench-policy \
    --rate-limit 1000000000/second --ip-allow 127.0.0.1/32,10.0.0.0/8 --json) ||
    die "keys create (policy) failed"
POLICY_KEY=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])' <<<"$POLICY_JSON")
NOMETER_JSON=$(TOLLGATE_LOG=warn "$BIN" --config "$NOMETER_CONFIG" keys create --name bench --json) ||
    die "keys create (no metering) failed"
NOMETER_KEY=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])' <<<"$NOMETER_JSON")
TWODEP_JSON=$(TOLLGATE_LOG=warn "$BIN" --config "$TWODEP_CONFIG" keys create --name bench --json) ||
    die "keys create (two deployments) failed"
TWODEP_KEY=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])' <<<"$TWODEP_JSON")
LOGDEF_JSON=$(TOLLGATE_LOG=warn "$BIN" --config "$LOGDEF_CONFIG" keys create --name bench --json) ||
    die "keys create (default logging) failed"
LOGDEF_KEY=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])' <<<"$LOGDEF_JSON")

log "starting the gateway on $GATEWAY_URL, and one without metering on $NOMETER_URL"
start_bg "$TMP/gateway.log" env TOLLGATE_LOG=warn "$BIN" --config "$CONFIG" serve
GATEWAY_PID=$LAST_PID
start_bg "$TMP/nometer.log" env TOLLGATE_LOG=warn "$BIN" --config "$NOMETER_CONFIG" serve
NOMETER_PID=$LAST_PID
start_bg "$TMP/twodep.log" env TOLLGATE_LOG=warn "$BIN" --config "$TWODEP_CONFIG" serve
TWODEP_PID=$LAST_PID
start_bg "$TMP/logdefault.log" env -u TOLLGATE_LOG "$BIN" --config "$LOGDEF_CONFIG" serve
LOGDEF_PID=$LAST_PID

wait_http "mock upstream" "$MOCK_URL/_mock/stats" "$MOCK_PID" "$TMP/mock.log"
wait_http "gateway" "$GATEWAY_URL/health" "$GATEWAY_PID" "$TMP/gateway.log"
wait_http "gateway without metering" "$NOMETER_URL/health" "$NOMETER_PID" "$TMP/nometer.log"
wait_http "gateway with two deployments" "$TWODEP_URL/health" "$TWODEP_PID" "$TMP/twodep.log"
wait_http "gateway with default logging" "$LOGDEF_URL/health" "$LOGDEF_PID" "$TMP/logdefault.log"

# nginx, the physical limit: a fixed response (the mock's own answer to the bench
# request) and a kept-alive proxy to the mock. See bench/nginx.conf.in.
CHAT_BODY="$TMP/chat.json"
printf '%s' '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}' >"$CHAT_BODY"
CHAT_RESPONSE=$(curl -fsS --max-time 5 -H 'Content-Type: application/json' \
    -H 'Authorization: Bearer bench-direct-token' --data-binary "@$CHAT_BODY" \
    "$MOCK_URL/v1/chat/completions") || die "the mock did not answer the bench request"
[[ $CHAT_RESPONSE != *[\'\$\\]* ]] || die "the mock's response has characters nginx's return would mangle"
NGINX_DIRECT_PORT=$(fresh_port)
NGINX_PROXY_PORT=$(fresh_port)
mkdir -p -- "$TMP/logs"
python3 - "$BENCH_DIR/nginx.conf.in" "$TMP/nginx.conf" "$TMP" "$MOCK_PORT" \
    "$NGINX_DIRECT_PORT" "$NGINX_PROXY_PORT" "$CHAT_RESPONSE" <<'PYEOF'
import sys
src, dst, tmp, mock, direct, proxy, response = sys.argv[1:]
text = open(src, encoding="utf-8").read()
for key, value in (("TMP", tmp), ("MOCK_PORT", mock), ("DIRECT_PORT", direct),
                   ("PROXY_PORT", proxy), ("CHAT_RESPONSE", response)):
    text = text.replace(f"@{key}@", value)
open(dst, "w", encoding="utf-8").write(text)
PYEOF
log "starting nginx: direct on :$NGINX_DIRECT_PORT, proxy to the mock on :$NGINX_PROXY_PORT"
start_bg "$TMP/nginx.log" nginx -p "$TMP" -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf"
NGINX_PID=$LAST_PID
NGINX_DIRECT_URL="http://127.0.0.1:$NGINX_DIRECT_PORT/v1/chat/completions"
NGINX_PROXY_URL="http://127.0.0.1:$NGINX_PROXY_PORT/v1/chat/completions"
wait_http "nginx" "http://127.0.0.1:$NGINX_DIRECT_PORT/" "$NGINX_PID" "$TMP/nginx-error.log"
NGINX_PIDS=$(pgrep -d, -P "$NGINX_PID" || true)

SERVER_PIDS="$MOCK_PID,$GATEWAY_PID,$NOMETER_PID,$TWODEP_PID,$LOGDEF_PID,$NGINX_PID${NGINX_PIDS:+,$NGINX_PIDS}"

# ---------------------------------------------------------------- scenarios

DIRECT_CHAT="$MOCK_URL/v1/chat/completions"
GATEWAY_CHAT="$GATEWAY_URL/v1/chat/completions"
DIRECT_AUTH="Authorization: Bearer bench-direct-token"
GATEWAY_AUTH="Authorization: Bearer $KEY"

# The physical limit first: nginx with a fixed response, then nginx as a kept-alive
# proxy to the mock; every Tollgate case below is read against these, same run.
run_case nginx-direct-c1 "$NGINX_DIRECT_URL" "$DIRECT_AUTH" "$CHAT_BODY" 1 none
run_case nginx-proxy-c1 "$NGINX_PROXY_URL" "$DIRECT_AUTH" "$CHAT_BODY" 1
run_case "nginx-direct-c$CONNS" "$NGINX_DIRECT_URL" "$DIRECT_AUTH" "$CHAT_BODY" "$CONNS" none
run_case "nginx-proxy-c$CONNS" "$NGINX_PROXY_URL" "$DIRECT_AUTH" "$CHAT_BODY" "$CONNS"

# Direct and gateway back to back at each concurrency, so background noise
# hits both sides of a comparison alike.
run_case direct-c1 "$DIRECT_CHAT" "$DIRECT_AUTH" "$CHAT_BODY" 1
run_case gateway-c1 "$GATEWAY_CHAT" "$GATEWAY_AUTH" "$CHAT_BODY" 1
run_case "direct-c$CONNS" "$DIRECT_CHAT" "$DIRECT_AUTH" "$CHAT_BODY" "$CONNS"
run_case "gateway-c$CONNS" "$GATEWAY_CHAT" "$GATEWAY_AUTH" "$CHAT_BODY" "$CONNS"

compare_latency "added latency, c1" direct-c1 gateway-c1 100
compare_throughput "throughput gateway/direct, c$CONNS" "direct-c$CONNS" "gateway-c$CONNS" 40
compare_latency "nginx proxy added latency, c1" direct-c1 nginx-proxy-c1 -
compare_throughput "mock direct/nginx direct, c$CONNS" "nginx-direct-c$CONNS" "direct-c$CONNS" -
compare_throughput "nginx proxy/nginx direct, c$CONNS" "nginx-direct-c$CONNS" "nginx-proxy-c$CONNS" -
compare_throughput "gateway/nginx direct, c$CONNS" "nginx-direct-c$CONNS" "gateway-c$CONNS" -
compare_throughput "gateway/nginx proxy, c$CONNS" "nginx-proxy-c$CONNS" "gateway-c$CONNS" 60

# Key policy (rate limit + IP allowlist) against a plain key, same path.
run_case policy-c1 "$GATEWAY_CHAT" "Authorization: Bearer $POLICY_KEY" "$CHAT_BODY" 1
run_case "policy-c$CONNS" "$GATEWAY_CHAT" "Authorization: Bearer $POLICY_KEY" "$CHAT_BODY" "$CONNS"
compare_latency "policy key vs plain key, c1" gateway-c1 policy-c1 -
compare_throughput "policy key/plain key, c$CONNS" "gateway-c$CONNS" "policy-c$CONNS" -

# Translation: the same OpenAI request served by an Anthropic model vs an OpenAI one.
CLAUDE_BODY="$TMP/claude.json"
printf '%s' '{"model":"claude-haiku-4-5","messages":[{"role":"user","content":"Say hello"}]}' >"$CLAUDE_BODY"
run_case translated-c1 "$GATEWAY_CHAT" "$GATEWAY_AUTH" "$CLAUDE_BODY" 1
run_case "translated-c$CONNS" "$GATEWAY_CHAT" "$GATEWAY_AUTH" "$CLAUDE_BODY" "$CONNS"
compare_latency "translated vs pass-through, c1" gateway-c1 translated-c1 -
compare_throughput "translated/pass-through, c$CONNS" "gateway-c$CONNS" "translated-c$CONNS" -

# Streaming: the same request with "stream": true (SSE relayed and metered per event),
# straight to the mock and through the gateway.
STREAM_BODY="$TMP/stream.json"
printf '%s' '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Say hello"}]}' >"$STREAM_BODY"
run_case stream-direct-c1 "$DIRECT_CHAT" "$DIRECT_AUTH" "$STREAM_BODY" 1
run_case streamed-c1 "$GATEWAY_CHAT" "$GATEWAY_AUTH" "$STREAM_BODY" 1
run_case "stream-direct-c$CONNS" "$DIRECT_CHAT" "$DIRECT_AUTH" "$STREAM_BODY" "$CONNS"
run_case "streamed-c$CONNS" "$GATEWAY_CHAT" "$GATEWAY_AUTH" "$STREAM_BODY" "$CONNS"
compare_latency "streamed added latency, c1" stream-direct-c1 streamed-c1 -
compare_throughput "streamed gateway/direct, c$CONNS" "stream-direct-c$CONNS" "streamed-c$CONNS" -

# Metering on (the gateway above) vs off.
run_case nometer-c1 "$NOMETER_URL/v1/chat/completions" "Authorization: Bearer $NOMETER_KEY" "$CHAT_BODY" 1
run_case "nometer-c$CONNS" "$NOMETER_URL/v1/chat/completions" "Authorization: Bearer $NOMETER_KEY" "$CHAT_BODY" "$CONNS"
compare_latency "metering on vs off, c1" nometer-c1 gateway-c1 -
compare_throughput "metering on/off, c$CONNS" "nometer-c$CONNS" "gateway-c$CONNS" 90

# Logging: the default filter (stderr to a file) against TOLLGATE_LOG=warn.
run_case logdefault-c1 "$LOGDEF_URL/v1/chat/completions" "Authorization: Bearer $LOGDEF_KEY" "$CHAT_BODY" 1
run_case "logdefault-c$CONNS" "$LOGDEF_URL/v1/chat/completions" "Authorization: Bearer $LOGDEF_KEY" "$CHAT_BODY" "$CONNS"
compare_latency "default logging vs warn, c1" gateway-c1 logdefault-c1 -
compare_throughput "default logging/warn, c$CONNS" "gateway-c$CONNS" "logdefault-c$CONNS" 98

# Routing: one deployment (the gateway above) vs two, weighted choice and cooldown
# bookkeeping on every request. Target: within noise.
run_case twodep-c1 "$TWODEP_URL/v1/chat/completions" "Authorization: Bearer $TWODEP_KEY" "$CHAT_BODY" 1
run_case "twodep-c$CONNS" "$TWODEP_URL/v1/chat/completions" "Authorization: Bearer $TWODEP_KEY" "$CHAT_BODY" "$CONNS"
compare_latency "two deployments vs one, c1" gateway-c1 twodep-c1 -
compare_throughput "two deployments/one, c$CONNS" "gateway-c$CONNS" "twodep-c$CONNS" -

# Optional: many connections.
if [[ -n $HIGH_CONNS ]]; then
    run_case "nginx-proxy-c$HIGH_CONNS" "$NGINX_PROXY_URL" "$DIRECT_AUTH" "$CHAT_BODY" "$HIGH_CONNS"
    run_case "gateway-c$HIGH_CONNS" "$GATEWAY_CHAT" "$GATEWAY_AUTH" "$CHAT_BODY" "$HIGH_CONNS"
    run_case "nometer-c$HIGH_CONNS" "$NOMETER_URL/v1/chat/completions" "Authorization: Bearer $NOMETER_KEY" "$CHAT_BODY" "$HIGH_CONNS"
    compare_throughput "gateway/nginx proxy, c$HIGH_CONNS" "nginx-proxy-c$HIGH_CONNS" "gateway-c$HIGH_CONNS" -
    compare_throughput "metering on/off, c$HIGH_CONNS" "nometer-c$HIGH_CONNS" "gateway-c$HIGH_CONNS" -
fi

# Both servers must have survived the whole run.
kill -0 "$MOCK_PID" 2>/dev/null || die "mock upstream died during the run: $(cat -- "$TMP/mock.log")"
kill -0 "$GATEWAY_PID" 2>/dev/null || die "gateway died during the run: $(cat -- "$TMP/gateway.log")"
kill -0 "$NGINX_PID" 2>/dev/null || die "nginx died during the run: $(cat -- "$TMP/nginx-error.log")"
GATEWAY_WARNINGS=$(grep -v '^tollgate listening on ' -- "$TMP/gateway.log" || true)
if [[ -n $GATEWAY_WARNINGS ]]; then
    log "gateway stderr (besides its listening line):"
    printf '%s\n' "$GATEWAY_WARNINGS" >&2
fi

# ---------------------------------------------------------------- report

WRK_VERSION=$({ wrk -v 2>&1 || true; } | head -n1 | cut -d' ' -f1-2)
printf '\n'
BENCH_LOADAVG_START=$LOADAVG_START BENCH_BUSY_START=$BUSY_START BENCH_DURATION=$DURATION BENCH_WARMUP=$WARMUP \
    BENCH_THREADS=$THREADS BENCH_CONNS=$CONNS BENCH_WRK_VERSION=$WRK_VERSION \
    python3 "$REPORT" report "$CASES" "$COMPARISONS" "$RESULTS"
