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
own cost is the same on both sides, so the difference is the gateway's.

Where the added time goes (`--capture`, needs root and tcpdump): the gateway run is
captured on the loopback interface and each request is split, by packet times, into
- request leg: the caller's last request segment -> the gateway's request to the mock;
- upstream: that request -> the mock's first answer segment (head and first event);
- response leg: that segment -> the gateway's first answer segment to the caller.
The two legs are the gateway's own share, whatever the client costs. It also prints
the gateway's CPU time per request (every thread, /proc/PID/task/*/schedstat).

`--gap-ms N` sleeps N ms between requests (default 0: back to back). A gap lets the
caches go cold, as they are at low request rates; CPU per request grows with it.

Not run by CI. Usage: bench/first_byte.py [--bin PATH] [--requests 300]
[--delay-ms 10] [--gap-ms 0] [--capture]
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


def run(host, port, headers, payload, n, warmup, gap_s, during=None):
    """`during(start)` is called once the warm-up is done (start=True) and after the
    last timed request (start=False)."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    hdrs = {"Content-Type": "application/json", **headers}
    for _ in range(warmup):
        one(conn, "/v1/chat/completions", hdrs, payload)
    if during:
        during(True)
    heads, firsts = [], []
    for _ in range(n):
        if gap_s:
            time.sleep(gap_s)
        h, f = one(conn, "/v1/chat/completions", hdrs, payload)
        heads.append(h)
        firsts.append(f)
    if during:
        during(False)
    conn.close()
    return heads, firsts


def cpu_ns(pid):
    """CPU time of every thread of `pid` so far, in ns (schedstat's first field)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # a thread that ended
    return total


class Capture:
    """tcpdump on loopback for the caller's and the upstream's ports."""

    def __init__(self, gw_port, mock_port, path):
        self.gw, self.mock, self.path = gw_port, mock_port, path
        self.out = open(path, "w")
        self.proc = subprocess.Popen(
            ["tcpdump", "-i", "lo", "-n", "-tt", "-l", "-B", "16384",
             f"tcp port {gw_port} or tcp port {mock_port}"],
            stdout=self.out, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # tcpdump needs a moment before it sees packets

    def stop(self):
        time.sleep(0.5)
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.out.close()

    def legs(self):
        """Per request: (request leg, upstream, response leg) in µs."""
        to_gw, to_mock = f".{self.gw}:", f".{self.mock}:"
        from_gw, from_mock = f".{self.gw} >", f".{self.mock} >"
        packets = []
        with open(self.path) as f:
            for line in f:
                if "length " not in line or line.rstrip().endswith("length 0"):
                    continue  # bare ACKs
                t = float(line.split()[0])
                kind = ("to_gw" if to_gw in line else "to_mock" if to_mock in line
                        else "from_mock" if from_mock in line
                        else "from_gw" if from_gw in line else None)
                packets.append((t, kind))
        out, i = [], 0
        while i < len(packets):
            if packets[i][1] != "to_gw":
                i += 1
                continue
            while i + 1 < len(packets) and packets[i + 1][1] == "to_gw":
                i += 1  # the request's last segment
            t_req = packets[i][0]
            marks, want = [], ["to_mock", "from_mock", "from_gw"]
            j = i + 1
            while j < len(packets) and want and packets[j][1] != "to_gw":
                if packets[j][1] == want[0]:
                    marks.append(packets[j][0])
                    want.pop(0)
                j += 1
            if not want:
                t_up, t_mock, t_gw = marks
                out.append(((t_up - t_req) * 1e6, (t_mock - t_up) * 1e6, (t_gw - t_mock) * 1e6))
            i = j
        return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "target", "release", "tollgate"))
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--delay-ms", type=int, default=10)
    ap.add_argument("--gap-ms", type=float, default=0.0)
    ap.add_argument("--capture", action="store_true")
    args = ap.parse_args()
    gap_s = args.gap_ms / 1000
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
            cpu, capture = {}, None

            def during(start):
                nonlocal capture
                if start:
                    if args.capture:
                        capture = Capture(gw.port, mock_port, os.path.join(tmp, "lo.txt"))
                    cpu["start"] = cpu_ns(gw.pid)
                else:
                    cpu["end"] = cpu_ns(gw.pid)
                    if capture:
                        capture.stop()

            rows = {
                "direct": run("127.0.0.1", mock_port, {"Authorization": "Bearer bench"},
                              upstream_payload, args.requests, args.warmup, gap_s),
                "gateway": run("127.0.0.1", gw.port, {"Authorization": f"Bearer {gw.key}"},
                               payload, args.requests, args.warmup, gap_s, during),
            }
            legs = capture.legs() if capture else []
        finally:
            if gw:
                gw.stop()
            mock.terminate()
            mock.wait(timeout=15)
            mock_log.close()
    print(f"{args.requests} streamed requests each, sequential, one connection; "
          f"{args.delay_ms} ms between the mock's events; {args.gap_ms:g} ms between requests")
    print(f"{'target':<8} {'head p50':>9} {'p90':>7} {'first event p50':>16} {'p90':>7} {'p99':>7}  (µs)")
    for name, (heads, firsts) in rows.items():
        print(f"{name:<8} {pct(heads, 50):>9.0f} {pct(heads, 90):>7.0f} {pct(firsts, 50):>16.0f} "
              f"{pct(firsts, 90):>7.0f} {pct(firsts, 99):>7.0f}")
    d, g = rows["direct"][1], rows["gateway"][1]
    added50, added90 = pct(g, 50) - pct(d, 50), pct(g, 90) - pct(d, 90)
    print(f"added to the first event: p50 {added50:+.0f} µs, p90 {added90:+.0f} µs "
          f"(target <= 150 µs); mean {statistics.mean(g) - statistics.mean(d):+.0f} µs")
    print(f"gateway CPU per request (all threads): "
          f"{(cpu['end'] - cpu['start']) / args.requests / 1000:.0f} µs")
    if args.capture:
        if legs:
            print(f"packet times, {len(legs)} requests, p50 (p90) µs: "
                  f"request leg {pct([x[0] for x in legs], 50):.0f} ({pct([x[0] for x in legs], 90):.0f}), "
                  f"upstream {pct([x[1] for x in legs], 50):.0f} ({pct([x[1] for x in legs], 90):.0f}), "
                  f"response leg {pct([x[2] for x in legs], 50):.0f} ({pct([x[2] for x in legs], 90):.0f})")
        else:
            print("packet times: the capture held no complete request (tcpdump needs root)")
    gap_us = args.delay_ms * 1000
    if pct(g, 50) >= gap_us:
        print(f"BUFFERED: the gateway's first event came after the mock's {gap_us} µs gap")
    else:
        print(f"not buffered: the gateway's first event came before the mock's next "
              f"event ({gap_us} µs later)")


if __name__ == "__main__":
    main()
