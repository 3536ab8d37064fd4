#!/usr/bin/env python3
"""The gateway's footprint: memory, CPU time and context switches per request.

Starts the release binary's mock upstream, then fresh gateways in front of it
(metering on, SQLite, TOLLGATE_LOG=warn), and measures from /proc/PID:

- rss idle: VmRSS once the process has started and gone quiet, no request yet,
  split into RssFile (file-backed: mostly the binary's own code, clean pages of the
  page cache shared with every process running the binary; how much of the text is
  mapped depends on the page cache, e.g. the kernel maps whole large folios) and
  RssAnon (the process's own memory: heap, stacks);
- rss after N requests: VmRSS after N (100k) chat requests from wrk -c32, once quiet
  again (what the allocator and the pools kept), plus VmHWM, the peak;
- rss with S open streams: a fresh gateway, S (10,000) streamed requests held open
  (the mock sends the first event, then waits `chunk_delay_ms`), each client having
  received its first event; per stream = (VmRSS then - VmRSS idle) / S;
- cpu and context switches per request at c1 and c32 (wrk, 5 s): utime+stime and
  voluntary+nonvoluntary switches of every thread of the gateway, delta / requests;
  at c1 and c32 also with TOKIO_WORKER_THREADS=1 (a single worker thread).

Not run by CI. Usage: bench/footprint.py [--bin PATH] [--requests 100000]
[--streams 10000] [--only rss,streams,cpu]. Prints a table; raw figures go to
bench/results/footprint.json (git-ignored).
"""

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
LUA = os.path.join(BENCH, "chat.lua")
CHAT = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}'
TCK = os.sysconf("SC_CLK_TCK")


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, proc, deadline=60.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            sys.exit(f"process for {url} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{url} did not answer within {deadline} s")


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / TCK


def switches(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except OSError:
            pass  # a thread that ended
    return total


def settle(pid, quiet=0.02, deadline=60.0):
    """Waits until the process uses < `quiet` cores over a second."""
    end = time.monotonic() + deadline
    last = cpu_seconds(pid)
    while time.monotonic() < end:
        time.sleep(1)
        now = cpu_seconds(pid)
        if now - last < quiet:
            return
        last = now


def mock_requests(mock_url):
    with urllib.request.urlopen(f"{mock_url}/_mock/stats", timeout=5) as r:
        return json.load(r)


class Gateway:
    def __init__(self, binary, tmp, mock_url, name, env=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = os.path.join(tmp, f"{name}.toml")
        with open(config, "w") as f:
            f.write(f"""[server]
listen = "127.0.0.1:{self.port}"
max_connections = 20000
[storage]
url = "sqlite://{tmp}/{name}.db"
[keys]
pepper = "bench-pepper-0123456789abcdef"
[providers.openai]
base_url = "{mock_url}/v1"
api_key = "bench-upstream-key"
""")
        base_env = {**os.environ, "TOLLGATE_LOG": "warn", **(env or {})}
        out = subprocess.run([binary, "--config", config, "keys", "create", "--name", "bench",
                              "--json"], env=base_env, capture_output=True, check=True)
        self.key = json.loads(out.stdout)["key"]
        self.log = open(os.path.join(tmp, f"{name}.log"), "w")
        self.proc = subprocess.Popen([binary, "--config", config, "serve"], env=base_env,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=raise_nofile)
        wait_http(f"{self.url}/health", self.proc)
        settle(self.proc.pid)

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def wrk(url, key, body_file, conns, duration):
    threads = min(conns, 2)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}", "--latency", "-s", LUA,
         "-H", f"Authorization: Bearer {key}", f"{url}/v1/chat/completions", "--", body_file],
        capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        if line.startswith("BENCH_RESULT "):
            result = json.loads(line[len("BENCH_RESULT "):])
            if result["non2xx"] or any(result["socket_errors"].values()):
                sys.exit(f"wrk saw errors: {line}")
            return result
    sys.exit(f"no BENCH_RESULT from wrk:\n{out}")


def measure_rss(binary, tmp, mock_url, body_file, requests):
    gw = Gateway(binary, tmp, mock_url, "rss")
    try:
        idle = status_kb(gw.pid, "VmRSS")
        idle_anon, idle_file = status_kb(gw.pid, "RssAnon"), status_kb(gw.pid, "RssFile")
        sent = 0
        while sent < requests:
            sent += wrk(gw.url, gw.key, body_file, 32, "5s")["requests"]
        settle(gw.pid)
        time.sleep(2)
        return {"idle_kb": idle, "idle_anon_kb": idle_anon, "idle_file_kb": idle_file,
                "requests": sent, "after_kb": status_kb(gw.pid, "VmRSS"),
                "after_anon_kb": status_kb(gw.pid, "RssAnon"),
                "peak_kb": status_kb(gw.pid, "VmHWM")}
    finally:
        gw.stop()


async def hold_streams(port, key, n, opened):
    body = (b'{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user",'
            b'"content":"[[mock:chunk_delay_ms=600000]] Say hello"}]}')
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    gate = asyncio.Semaphore(200)
    writers = []

    async def one():
        async with gate:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writers.append(writer)
            writer.write(head + body)
            await writer.drain()
            seen = b""
            while b"data:" not in seen:
                chunk = await reader.read(4096)
                if not chunk:
                    raise RuntimeError(f"stream closed before its first event: {seen[:300]!r}")
                seen += chunk
            if b" 200 " not in seen.split(b"\r\n", 1)[0]:
                raise RuntimeError(f"not a 200: {seen[:300]!r}")
            opened.append(1)

    await asyncio.wait_for(asyncio.gather(*(one() for _ in range(n))), timeout=600)
    return writers


def measure_streams(binary, tmp, mock_url, n):
    gw = Gateway(binary, tmp, mock_url, "streams")
    try:
        idle = status_kb(gw.pid, "VmRSS")
        idle_anon = status_kb(gw.pid, "RssAnon")
        before = mock_requests(mock_url)
        loop = asyncio.new_event_loop()
        opened = []
        writers = loop.run_until_complete(hold_streams(gw.port, gw.key, n, opened))
        time.sleep(1)
        held = status_kb(gw.pid, "VmRSS")
        held_anon = status_kb(gw.pid, "RssAnon")
        after = mock_requests(mock_url)
        for w in writers:
            w.close()
        loop.close()
        return {"streams": len(opened), "idle_kb": idle, "held_kb": held,
                "mock_streams_started": after["streams_started"] - before["streams_started"],
                "per_stream_kb": round((held - idle) / max(1, len(opened)), 1),
                "per_stream_anon_kb": round((held_anon - idle_anon) / max(1, len(opened)), 1)}
    finally:
        gw.stop()


def measure_cpu(binary, tmp, mock_url, body_file):
    rows = []
    for name, env, conns in (("default, c1", None, 1), ("default, c32", None, 32),
                             ("TOKIO_WORKER_THREADS=1, c1", {"TOKIO_WORKER_THREADS": "1"}, 1),
                             ("TOKIO_WORKER_THREADS=1, c32", {"TOKIO_WORKER_THREADS": "1"}, 32)):
        gw = Gateway(binary, tmp, mock_url, f"cpu{len(rows)}", env)
        try:
            wrk(gw.url, gw.key, body_file, conns, "2s")  # warm-up
            settle(gw.pid)
            cpu0, sw0 = cpu_seconds(gw.pid), switches(gw.pid)
            result = wrk(gw.url, gw.key, body_file, conns, "5s")
            time.sleep(0.3)  # the usage writer's last batch
            cpu1, sw1 = cpu_seconds(gw.pid), switches(gw.pid)
            n = result["requests"]
            rows.append({"case": name, "requests": n, "rps": round(result["rps"]),
                         "p50_us": result["latency_us"]["p50"],
                         "p90_us": result["latency_us"]["p90"],
                         "cpu_us_per_request": round((cpu1 - cpu0) * 1e6 / n, 1),
                         "switches_per_request": round((sw1 - sw0) / n, 2)})
        finally:
            gw.stop()
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "target", "release", "tollgate"))
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--streams", type=int, default=9_900)
    ap.add_argument("--only", default="rss,streams,cpu")
    args = ap.parse_args()
    only = set(args.only.split(","))
    raise_nofile()
    report = {"bin": args.bin}
    with tempfile.TemporaryDirectory(prefix="tollgate-footprint.") as tmp:
        body_file = os.path.join(tmp, "chat.json")
        with open(body_file, "wb") as f:
            f.write(CHAT)
        mock_port = free_port()
        mock_url = f"http://127.0.0.1:{mock_port}"
        mock_log = open(os.path.join(tmp, "mock.log"), "w")
        mock = subprocess.Popen([args.bin, "mock-upstream", "--listen", f"127.0.0.1:{mock_port}"],
                                env={**os.environ, "TOLLGATE_LOG": "warn"}, stdout=mock_log,
                                stderr=subprocess.STDOUT, preexec_fn=raise_nofile)
        try:
            wait_http(f"{mock_url}/_mock/stats", mock)
            if "rss" in only:
                r = report["rss"] = measure_rss(args.bin, tmp, mock_url, body_file, args.requests)
                print(f"rss idle {r['idle_kb'] / 1024:.1f} MB (anon {r['idle_anon_kb'] / 1024:.1f}, "
                      f"file {r['idle_file_kb'] / 1024:.1f}); after {r['requests']} requests "
                      f"{r['after_kb'] / 1024:.1f} MB (anon {r['after_anon_kb'] / 1024:.1f}; "
                      f"peak {r['peak_kb'] / 1024:.1f} MB)")
            if "streams" in only:
                s = report["streams"] = measure_streams(args.bin, tmp, mock_url, args.streams)
                print(f"rss with {s['streams']} open streams {s['held_kb'] / 1024:.1f} MB "
                      f"(idle {s['idle_kb'] / 1024:.1f} MB): {s['per_stream_kb']} KB per stream "
                      f"(anon {s['per_stream_anon_kb']} KB); "
                      f"mock saw {s['mock_streams_started']} streams start")
            if "cpu" in only:
                rows = report["cpu"] = measure_cpu(args.bin, tmp, mock_url, body_file)
                for r in rows:
                    print(f"{r['case']:<28} {r['rps']:>7} req/s  p50 {r['p50_us']:>5} µs  "
                          f"p90 {r['p90_us']:>5} µs  cpu {r['cpu_us_per_request']:>6} µs/req  "
                          f"switches {r['switches_per_request']:>5}/req")
        finally:
            mock.terminate()
            mock.wait(timeout=15)
            mock_log.close()
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    report["commit"] = commit
    os.makedirs(os.path.join(BENCH, "results"), exist_ok=True)
    with open(os.path.join(BENCH, "results", "footprint.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
