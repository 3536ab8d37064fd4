#!/usr/bin/env python3
"""Peak memory per MB of request body (hardening item 7).

Starts the release binary's mock upstream and a gateway in front of it, then sends
large chat bodies, one at a time, to a Gemini model (translated) and to an OpenAI
model (bytes forwarded), and reports how far the gateway's peak RSS rose for each:

    growth = VmHWM after the answer - VmRSS before the request   (/proc/PID/status)

Each request goes to a fresh gateway process (after one small warm-up request),
whose peak is reset just before it (`echo 5 > /proc/PID/clear_refs`): a process that
served a large body keeps the memory its allocator got, which would hide the next
request's need. The mock upstream is a separate process and is not counted.

Cases:
- "fill": bodies at the request limits, accepted (200): 512 tools whose schemas
  carry long descriptions, plus up to 10,000 messages, to reach the size.
- "tools": the hardening issue's shape, as many small tools as fit (190k in
  24.6 MB), refused (400) by the tool cap: what a refusal costs.

Not run by CI. Usage: bench/rss_per_mb.py [--sizes 1,5,20] [--no-build] [--bin PATH]
Prints a table and writes bench/results/rss_per_mb.json (git-ignored).
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
BIN = os.path.join(REPO, "target", "release", "tollgate")
MB = 1_000_000

GEMINI = "gemini-2.5-flash"
OPENAI = "gpt-4o-mini"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, proc, deadline=30.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc.poll() is not None:
            sys.exit(f"process for {url} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    sys.exit(f"{url} did not answer within {deadline} s")


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def settle(pid, deadline=15.0):
    """Waits until RSS stops moving: the tokenizer loads on a background thread at
    start (tens of MB), which must not be counted as the request's."""
    end = time.monotonic() + deadline
    last = status_kb(pid, "VmRSS")
    while time.monotonic() < end:
        time.sleep(0.5)
        now = status_kb(pid, "VmRSS")
        if abs(now - last) < 512:
            return
        last = now


def reset_peak(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def tool(i, description_bytes):
    # About 40 schema nodes, so 512 tools stay under the 100,000-node limit.
    props = {
        f"p{j}": {"type": "string", "description": "d" * description_bytes}
        for j in range(12)
    }
    return {
        "type": "function",
        "function": {
            "name": f"tool_{i}",
            "description": f"tool {i}",
            "parameters": {"type": "object", "properties": props, "required": ["p0"]},
        },
    }


def fill_body(model, size):
    """About `size` bytes at the limits: 512 tools (half the size) + messages."""
    per_tool = size // 2 // 512
    tools = [tool(i, max(1, per_tool // 12 - 40)) for i in range(512)]
    rest = size - len(json.dumps(tools))
    n = min(10_000, max(1, rest // 1_000))
    text = "w " * max(1, (rest // n - 40) // 2)
    messages = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": text} for i in range(n)
    ]
    if messages[-1]["role"] != "user":
        messages.append({"role": "user", "content": "and?"})
    return {"model": model, "max_tokens": 16, "messages": messages, "tools": tools}


def tools_body(model, size):
    """The hardening issue's body: as many small tools as fit in `size` bytes."""
    one = json.dumps(
        {
            "type": "function",
            "function": {
                "name": "tool_000000",
                "parameters": {"type": "object", "properties": {"x": {"type": "string"}}},
            },
        }
    )
    n = size // (len(one) + 1)
    tools = [
        {
            "type": "function",
            "function": {
                "name": f"tool_{i:06}",
                "parameters": {"type": "object", "properties": {"x": {"type": "string"}}},
            },
        }
        for i in range(n)
    ]
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], "tools": tools}


def send(url, key, body):
    req = urllib.request.Request(
        url,
        data=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=300) as res:
            res.read()
            return res.status
    except urllib.error.HTTPError as e:
        e.read()
        return e.code


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1,5,20", help="body sizes in MB (default 1,5,20)")
    ap.add_argument("--no-build", action="store_true", help="use target/release as it is")
    ap.add_argument("--repeat", type=int, default=2, help="requests per case; the max is kept")
    ap.add_argument("--bin", help="another tollgate binary (e.g. an older build, to compare)")
    args = ap.parse_args()
    global BIN
    if args.bin:
        BIN, args.no_build = os.path.abspath(args.bin), True
    sizes = [float(s) for s in args.sizes.split(",")]

    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "tollgate"], cwd=REPO, check=True)
    if not os.access(BIN, os.X_OK):
        sys.exit(f"no binary at {BIN}")

    tmp = tempfile.mkdtemp(prefix="tollgate-rss.")
    mock_port, gw_port = free_port(), free_port()
    env = dict(os.environ, TOLLGATE_LOG="warn")
    procs = []
    try:
        mock = subprocess.Popen(
            [BIN, "mock-upstream", "--listen", f"127.0.0.1:{mock_port}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(tmp, "mock.log"), "w"),
        )
        procs.append(mock)
        mock_url = f"http://127.0.0.1:{mock_port}"
        config = os.path.join(tmp, "tollgate.toml")
        with open(config, "w") as f:
            f.write(
                f"""[server]
listen = "127.0.0.1:{gw_port}"
[storage]
url = "sqlite://{tmp}/rss.db"
[keys]
pepper = "bench-pepper-0123456789abcdef"
[providers.openai]
base_url = "{mock_url}/v1"
api_key = "bench-upstream-key"
[providers.gemini]
base_url = "{mock_url}"
api_key = "bench-upstream-key"
"""
            )
        out = subprocess.run(
            [BIN, "--config", config, "keys", "create", "--name", "rss", "--json"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        key = json.loads(out.stdout)["key"]
        wait_http(f"{mock_url}/_mock/stats", mock)
        url = f"http://127.0.0.1:{gw_port}/v1/chat/completions"
        warm = json.dumps(
            {"model": GEMINI, "messages": [{"role": "user", "content": "hi"}]}
        ).encode()

        def one_request(body):
            """(status, RSS before, peak growth) in KB, from a fresh gateway: a process
            that served a large body before keeps the memory its allocator got, which
            would hide the next request's need."""
            gw = subprocess.Popen(
                [BIN, "--config", config, "serve"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(os.path.join(tmp, "gateway.log"), "a"),
            )
            try:
                wait_http(f"http://127.0.0.1:{gw_port}/health", gw)
                send(url, key, warm)  # lazily built state, the pool, the key cache
                settle(gw.pid)
                reset_peak(gw.pid)
                base = status_kb(gw.pid, "VmRSS")
                status = send(url, key, body)
                peak = status_kb(gw.pid, "VmHWM")
                return status, base, max(0, peak - base)
            finally:
                gw.terminate()
                try:
                    gw.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    gw.kill()
                    gw.wait()

        rows = []
        for shape, make in (("fill", fill_body), ("tools", tools_body)):
            for model in (GEMINI, OPENAI):
                for size_mb in sizes:
                    body = json.dumps(make(model, int(size_mb * MB))).encode()
                    runs = [one_request(body) for _ in range(args.repeat)]
                    status, base_kb, growth_kb = max(runs, key=lambda r: r[2])
                    body_mb = len(body) / MB
                    row = {
                        "shape": shape,
                        "model": model,
                        "body_mb": round(body_mb, 2),
                        "status": status,
                        "rss_before_mb": round(base_kb / 1000, 1),
                        "peak_growth_mb": round(growth_kb / 1000, 1),
                        "growth_per_body_mb": round(growth_kb / 1000 / body_mb, 2),
                    }
                    rows.append(row)
                    print(
                        f"{shape:5} {model:17} body {body_mb:6.2f} MB  status {status}  "
                        f"rss before {base_kb / 1000:6.1f} MB  peak +{growth_kb / 1000:7.1f} MB  "
                        f"= {growth_kb / 1000 / body_mb:5.2f} MB per body MB",
                        flush=True,
                    )
        os.makedirs(os.path.join(BENCH, "results"), exist_ok=True)
        with open(os.path.join(BENCH, "results", "rss_per_mb.json"), "w") as f:
            json.dump({"rows": rows, "commit": git_commit()}, f, indent=2)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def git_commit():
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return None


if __name__ == "__main__":
    main()
