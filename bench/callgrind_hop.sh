#!/usr/bin/env bash
# Instructions per request through the gateway, under callgrind: the upstream hop
# and metering (issue 16 items 3 and 5). Instrumentation is off while the
# gateway starts and warms up, on for exactly N requests from a keep-alive client,
# then dumped; Ir / N is the cost of one request (all threads: runtime workers,
# the usage writer, sqlx). Then the inclusive cost of the named functions.
#
#   bench/callgrind_hop.sh [BIN]          BIN defaults to target/release/tollgate
#   N=2000 WARM=300 OUT=/tmp/cg bench/callgrind_hop.sh
#   HTTP2=true bench/callgrind_hop.sh     upstream over h2c (prior knowledge)
#   THROUGHPUT=1 bench/callgrind_hop.sh   also wrk c=32/c=256, HTTP/1.1 vs HTTP/2 upstream
set -euo pipefail

BENCH_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd -- "$BENCH_DIR/.." && pwd)
BIN=${1:-$REPO/target/release/tollgate}
N=${N:-2000}
WARM=${WARM:-300}
OUT=${OUT:-$(mktemp -d)}
HTTP2=${HTTP2:-false}
THROUGHPUT=${THROUGHPUT:-0}
mkdir -p "$OUT"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_health() {
    for _ in $(seq 1 600); do
        curl -fs "$1/health" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "no /health at $1" >&2
    exit 1
}

MOCK_PORT=$(free_port)
GW_PORT=$(free_port)
TOLLGATE_LOG=warn "$BIN" mock-upstream --listen "127.0.0.1:$MOCK_PORT" >"$OUT/mock.log" 2>&1 &
PIDS+=($!)
cat >"$OUT/tollgate.toml" <<EOF
[server]
listen = "127.0.0.1:$GW_PORT"
[storage]
url = "sqlite://$OUT/cg.db"
[keys]
pepper = "bench-pepper-0123456789abcdef"
[upstream]
http2 = $HTTP2
[providers.openai]
base_url = "http://127.0.0.1:$MOCK_PORT/v1"
api_key = "bench-upstream-key"
[providers.anthropic]
base_url = "http://127.0.0.1:$MOCK_PORT"
api_key = "bench-upstream-key"
EOF
# An older binary may not know `http2`: drop it when it is the default.
if [[ $HTTP2 == false ]]; then sed -i '/^\[upstream\]$/d; /^http2 = /d' "$OUT/tollgate.toml"; fi
KEY=$(TOLLGATE_LOG=warn "$BIN" --config "$OUT/tollgate.toml" keys create --name cg --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')

client() { # client URL COUNT STREAM
    python3 - "$1" "$2" "$3" "$KEY" <<'PY'
import http.client, json, sys, urllib.parse
url, n, stream, key = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
u = urllib.parse.urlparse(url)
body = json.dumps({"model": "gpt-4o-mini", "stream": stream,
                   "messages": [{"role": "user", "content": "Say hello"}]})
c = http.client.HTTPConnection(u.hostname, u.port)
for _ in range(n):
    c.request("POST", "/v1/chat/completions", body,
              {"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit(f"status {r.status}: {data[:200]!r}")
PY
}

measure() { # measure NAME STREAM
    local name=$1 stream=$2
    local cg="$OUT/callgrind.$name.out"
    TOLLGATE_LOG=warn valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$cg" \
        "$BIN" --config "$OUT/tollgate.toml" serve >"$OUT/gw.$name.log" 2>&1 &
    local pid=$!
    PIDS+=($pid)
    wait_health "http://127.0.0.1:$GW_PORT"
    client "http://127.0.0.1:$GW_PORT" "$WARM" "$stream"
    sleep 1 # the usage writer flushes the warm-up
    callgrind_control -i on "$pid" >/dev/null
    client "http://127.0.0.1:$GW_PORT" "$N" "$stream"
    sleep 0.5 # the last batch is written inside the window
    callgrind_control -i off "$pid" >/dev/null
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    report "$cg" "$name"
}

report() { # report CALLGRIND_FILE NAME: Ir per request, and inclusive Ir of the hot spots
    local cg=$1 name=$2 total
    total=$(awk '/^totals:/ {print $2; exit}' "$cg")
    echo "== $name: $total Ir over $N requests = $((total / N)) Ir/request"
    { callgrind_annotate --inclusive=yes --threshold=100 "$cg" 2>/dev/null || true; } |
        grep -E "$HOT" | grep -F "[/" | awk -v n="$N" '{ir=$1; gsub(",","",ir); $1=""; $2=""; printf "   %9d Ir/req %s\n", ir/n, substr($0,1,150)}' |
        head -25 || true
}

HOT='providers::send::send[^_]|hyper_util::client::legacy::client::Client<C,B>::request|reqwest::async_impl::client::Client::execute_request|Observer::chunk|Observer::reported|Metering::finish|Metering::complete|ChatPeek::parse_as|with_stream_usage|wants_stream_usage|UsageSink::record|trace_request|http::metering::meter'

if [[ ${REPORT_ONLY:-} != "" ]]; then
    report "$REPORT_ONLY" "${REPORT_NAME:-run}"
    exit 0
fi

if [[ ${SKIP_CALLGRIND:-0} != 1 ]]; then
    measure plain 0
    measure stream 1
fi

if [[ $THROUGHPUT == 1 ]]; then
    for conns in 32 256; do
        TOLLGATE_LOG=warn "$BIN" --config "$OUT/tollgate.toml" serve >"$OUT/gw.wrk.log" 2>&1 &
        pid=$!
        PIDS+=($pid)
        wait_health "http://127.0.0.1:$GW_PORT"
        printf '%s' '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}' >"$OUT/body.json"
        wrk -t2 -c"$conns" -d3s -s "$BENCH_DIR/chat.lua" -H "Authorization: Bearer $KEY" \
            "http://127.0.0.1:$GW_PORT/v1/chat/completions" -- "$OUT/body.json" >/dev/null 2>&1 || true
        wrk -t2 -c"$conns" -d8s -s "$BENCH_DIR/chat.lua" -H "Authorization: Bearer $KEY" \
            "http://127.0.0.1:$GW_PORT/v1/chat/completions" -- "$OUT/body.json" |
            grep BENCH_RESULT | sed "s/^/http2=$HTTP2 c=$conns /"
        kill "$pid"
        wait "$pid" 2>/dev/null || true
    done
fi
echo "callgrind files in $OUT"
