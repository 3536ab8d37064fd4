#!/usr/bin/env bash
# Multi-instance benchmark (issue 14): in one run, on one machine,
#   - per-request cost of the Redis path (rate limit + concurrency cap in Redis)
#     against the in-memory path, same key policy, c1 and CONNS;
#   - throughput of 1 vs 2 Redis-backed instances on one shared database
#     (two wrk processes of CONNS/2 connections each, one per instance).
# Prints wrk's req/s and p50/p99 per case, then the ratios. Not run by CI.
#
# Knobs: BIN (default target/release/tollgate, built if missing), DURATION (10s),
# WARMUP (2s), CONNS (32). Needs wrk, redis-server, python3, curl.
set -euo pipefail

BENCH_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd -- "$BENCH_DIR/.." && pwd)
BIN=${BIN:-$REPO/target/release/tollgate}
LUA="$BENCH_DIR/chat.lua"
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-32}

log() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

command -v wrk >/dev/null || die "wrk is missing: apt-get install -y wrk"
command -v redis-server >/dev/null || die "redis-server is missing: apt-get install -y redis-server"
if [[ ! -x $BIN ]]; then
    log "building the release binary"
    (cd -- "$REPO" && cargo build --release --bin tollgate)
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tollgate-instances.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf -- "$TMP"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
start_bg() { local log=$1; shift; "$@" >"$log" 2>&1 & PIDS+=("$!"); }
wait_http() {
    local url=$1 i
    for ((i = 0; i < 300; i++)); do
        curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    die "$url did not answer within 30s"
}

MOCK_PORT=$(free_port); REDIS_PORT=$(free_port)
LOCAL_PORT=$(free_port); A_PORT=$(free_port); B_PORT=$(free_port)
MOCK="http://127.0.0.1:$MOCK_PORT"

start_bg "$TMP/mock.log" env TOLLGATE_LOG=warn "$BIN" mock-upstream --listen "127.0.0.1:$MOCK_PORT"
start_bg "$TMP/redis.log" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no

config() { # config FILE PORT DB [EXTRA]
    cat >"$1" <<CONF
[server]
listen = "127.0.0.1:$2"

[storage]
url = "sqlite://$3"

[keys]
pepper = "bench-pepper-0123456789abcdef"

[providers.openai]
base_url = "$MOCK/v1"
api_key = "bench-upstream-key"
${4:-}
CONF
}
REDIS_TOML=$'[redis]\nurl = "redis://127.0.0.1:'"$REDIS_PORT"$'"'
config "$TMP/local.toml" "$LOCAL_PORT" "$TMP/local.db"
config "$TMP/a.toml" "$A_PORT" "$TMP/shared.db" "$REDIS_TOML"
config "$TMP/b.toml" "$B_PORT" "$TMP/shared.db" "$REDIS_TOML"

# The same policy on both paths: a rate limit that never binds and a concurrency cap.
key() { # key CONFIG
    TOLLGATE_LOG=warn "$BIN" --config "$1" keys create --name bench --json \
        --rate-limit 1000000000/second --max-concurrency 100000 |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])'
}
LOCAL_KEY=$(key "$TMP/local.toml")
SHARED_KEY=$(key "$TMP/a.toml")

start_bg "$TMP/local.log" env TOLLGATE_LOG=warn "$BIN" --config "$TMP/local.toml" serve
start_bg "$TMP/a.log" env TOLLGATE_LOG=warn "$BIN" --config "$TMP/a.toml" serve
start_bg "$TMP/b.log" env TOLLGATE_LOG=warn "$BIN" --config "$TMP/b.toml" serve
for p in "$MOCK_PORT/_mock/stats" "$LOCAL_PORT/health" "$A_PORT/health" "$B_PORT/health"; do
    wait_http "http://127.0.0.1:$p"
done

BODY="$TMP/chat.json"
printf '%s' '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}' >"$BODY"

# wrk_json PORT KEY CONNS DURATION → the BENCH_RESULT JSON of chat.lua
wrk_json() {
    local threads=$(( $3 < 2 ? $3 : 2 ))
    wrk -t"$threads" -c"$3" -d"$4" --latency -s "$LUA" -H "Authorization: Bearer $2" \
        "http://127.0.0.1:$1/v1/chat/completions" -- "$BODY" | sed -n 's/^BENCH_RESULT //p'
}

RESULTS="$TMP/results.jsonl"
case_one() { # case_one NAME PORT KEY CONNS
    wrk_json "$2" "$3" "$4" "$WARMUP" >/dev/null
    log "$1: $DURATION at -c$4"
    printf '{"name":"%s","r":%s}\n' "$1" "$(wrk_json "$2" "$3" "$4" "$DURATION")" >>"$RESULTS"
}
case_two() { # case_two NAME CONNS: both Redis instances at once, CONNS/2 each
    local half=$(( $2 / 2 ))
    local other
    # `wait` on that one pid: a bare `wait` would wait for the servers too.
    wrk_json "$A_PORT" "$SHARED_KEY" "$half" "$WARMUP" >/dev/null &
    other=$!
    wrk_json "$B_PORT" "$SHARED_KEY" "$half" "$WARMUP" >/dev/null
    wait "$other"
    log "$1: $DURATION at -c$half on each of two instances"
    wrk_json "$A_PORT" "$SHARED_KEY" "$half" "$DURATION" >"$TMP/two-a.json" &
    other=$!
    wrk_json "$B_PORT" "$SHARED_KEY" "$half" "$DURATION" >"$TMP/two-b.json"
    wait "$other"
    printf '{"name":"%s","parts":[%s,%s]}\n' "$1" "$(cat "$TMP/two-a.json")" "$(cat "$TMP/two-b.json")" >>"$RESULTS"
}

case_one memory-c1 "$LOCAL_PORT" "$LOCAL_KEY" 1
case_one redis-c1 "$A_PORT" "$SHARED_KEY" 1
case_one "memory-c$CONNS" "$LOCAL_PORT" "$LOCAL_KEY" "$CONNS"
case_one "redis-1inst-c$CONNS" "$A_PORT" "$SHARED_KEY" "$CONNS"
case_two "redis-2inst-c$CONNS" "$CONNS"

python3 - "$RESULTS" "$CONNS" <<'PY'
import json, sys
rows = {}
for line in open(sys.argv[1]):
    row = json.loads(line)
    rows[row["name"]] = row
conns = sys.argv[2]
def rps(name):
    row = rows[name]
    parts = row.get("parts") or [row["r"]]
    return sum(p["rps"] for p in parts)
def lat(name, q):
    row = rows[name]
    parts = row.get("parts") or [row["r"]]
    return max(p['latency_us'][q] for p in parts)
print(f"{'case':<24}{'req/s':>10}{'p50 us':>10}{'p99 us':>10}{'non-2xx':>9}")
for name, row in rows.items():
    parts = row.get("parts") or [row["r"]]
    print(f"{name:<24}{rps(name):>10.0f}{lat(name, 'p50'):>10}{lat(name, 'p99'):>10}{sum(p['non2xx'] for p in parts):>9}")
print()
print(f"per-request cost of the Redis path, c1: +{lat('redis-c1','p50') - lat('memory-c1','p50')} us at p50 "
      f"({rps('redis-c1') / rps('memory-c1'):.2f}x the in-memory throughput)")
print(f"Redis/in-memory throughput, c{conns}: {rps(f'redis-1inst-c{conns}') / rps(f'memory-c{conns}'):.2f}x")
print(f"2 instances / 1 instance throughput, c{conns}: {rps(f'redis-2inst-c{conns}') / rps(f'redis-1inst-c{conns}'):.2f}x")
PY
