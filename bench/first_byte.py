#!/usr/bin/env python3
"""What streaming adds to the first byte: time to the first SSE event, direct and
through the gateway, in one run.

Issue 16's target: "Streaming adds <= 150 us to the first byte and never buffers".
wrk (bench/run.sh) times whole streams, so it cannot tell the first byte from the
last. This script sends the same streamed chat request N times, one after the other
on one kept-alive connection, to the mock upstream and then through a fresh
gateway (release binary, metering on, SQLite, TOLLGATE_LOG=warn: footprint.py's
Gateway), and records per request:

- head: request written -> response head read;
- first event: request written -> first `data:` line of the body;
- gap: the mock is told to wait `--delay-ms` between events
  (`[[mock:chunk_delay_ms=N]]`), so a gateway that buffered would deliver its
  first event a whole gap (or more) late. The first event's added time is
  compared against that gap.

It prints p50/p90/p99 of each, and gateway - direct at p50 and p90. The client's
own cost is the same on both sides, so the difference is the gateway's. Not run
by CI. Usage: bench/first_byte.py [--bin PATH] [--requests 300] [--delay-ms 10]
"""

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from footprint import REPO, Gateway, free_port, raise_nofile, wait_http  # noqa: E402

import subprocess  # noqa: E402


def body(delay_ms, include_usage=False):
    """The streamed request. The gateway, metering, asks the upstream for the usage
    chunk (`stream_options.include_usage`), so the direct request carries it too:
    the mock then sends the same events to both."""
    options = '"stream_options":{"include_usage":true},' if include_usage else ""
    return ('{' + options + '"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user",'
            f'"content":"[[mock:chunk_delay_ms={delay_ms}]] [[mock:words=3]] Say hello"}}]}}'
            ).encode()


def one(conn, path, headers, payload):
    """Times one streamed request; reads the whole stream so the connection is reused."""
    t0 = time.perf_counter_ns()
    conn.request("POST", path, body=payload, headers=headers)
    resp = conn.getresponse()
    t_head = time.perf_counter_ns()
    if resp.status != 200:
        sys.exit(f"{path}: status {resp.status}: {resp.read()[:300]!r}")
    seen = b""
    t_first = None
    while True:
        chunk = resp.read1(65536)
        if not chunk:
            break
        if t_first is None:
            seen += chunk
            if b"data:" in seen:
                t_first = time.perf_counter_ns()
    if t_first is None:
        sys.exit(f"{path}: the stream had no data: event")
    return (t_head - t0) / 1000, (t_first - t0) / 1000


def run(host, port, headers, payload, n, warmup):
    conn = http.client.HTTPConnection(host, port, timeout=30)
    hdrs = {"Content-Type": "application/json", **headers}
    for _ in range(warmup):
        one(conn, "/v1/chat/completions", hdrs, payload)
    heads, firsts = [], []
    for _ in range(n):
        h, f = one(conn, "/v1/chat/completions", hdrs, payload)
        heads.append(h)
        firsts.append(f)
    conn.close()
    return heads, firsts


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "target", "release", "tollgate"))
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--delay-ms", type=int, default=10)
    args = ap.parse_args()
    raise_nofile()
    payload = body(args.delay_ms)
    upstream_payload = body(args.delay_ms, include_usage=True)
    with tempfile.TemporaryDirectory(prefix="tollgate-first-byte.") as tmp:
        mock_port = free_port()
        mock_url = f"http://127.0.0.1:{mock_port}"
        mock_log = open(os.path.join(tmp, "mock.log"), "w")
        mock = subprocess.Popen([args.bin, "mock-upstream", "--listen", f"127.0.0.1:{mock_port}"],
                                env={**os.environ, "TOLLGATE_LOG": "warn"}, stdout=mock_log,
                                stderr=subprocess.STDOUT)
        gw = None
        try:
            wait_http(f"{mock_url}/_mock/stats", mock)
            gw = Gateway(args.bin, tmp, mock_url, "first_byte")
            rows = {
                "direct": run("127.0.0.1", mock_port, {"Authorization": "Bearer bench"},
                              upstream_payload, args.requests, args.warmup),
                "gateway": run("127.0.0.1", gw.port, {"Authorization": f"Bearer {gw.key}"},
                               payload, args.requests, args.warmup),
            }
        finally:
            if gw:
                gw.stop()
            mock.terminate()
            mock.wait(timeout=15)
            mock_log.close()
    print(f"{args.requests} streamed requests each, sequential, one connection; "
          f"{args.delay_ms} ms between the mock's events")
    print(f"{'target':<8} {'head p50':>9} {'p90':>7} {'first event p50':>16} {'p90':>7} {'p99':>7}  (µs)")
    for name, (heads, firsts) in rows.items():
        print(f"{name:<8} {pct(heads, 50):>9.0f} {pct(heads, 90):>7.0f} {pct(firsts, 50):>16.0f} "
              f"{pct(firsts, 90):>7.0f} {pct(firsts, 99):>7.0f}")
    d, g = rows["direct"][1], rows["gateway"][1]
    added50, added90 = pct(g, 50) - pct(d, 50), pct(g, 90) - pct(d, 90)
    print(f"added to the first event: p50 {added50:+.0f} µs, p90 {added90:+.0f} µs "
          f"(target <= 150 µs); mean {statistics.mean(g) - statistics.mean(d):+.0f} µs")
    gap_us = args.delay_ms * 1000
    if pct(g, 50) >= gap_us:
        print(f"BUFFERED: the gateway's first event came after the mock's {gap_us} µs gap")
    else:
        print(f"not buffered: the gateway's first event came before the mock's next "
              f"event ({gap_us} µs later)")


if __name__ == "__main__":
    main()
