#!/usr/bin/env python3
"""Helper for bench/run.sh: collects wrk results and prints the report.

  report.py add-case CASES NAME URL THREADS CONNS UPSTREAM_REQUESTS WRK_OUTPUT
      Parses the BENCH_RESULT line that bench/chat.lua printed into WRK_OUTPUT,
      adds the case's parameters and appends it to CASES (JSON lines).
      UPSTREAM_REQUESTS -1: the case has no upstream to cross-check.
  report.py measure WRK_OUTPUT PIDS -- WRK_COMMAND...
      Runs wrk with its output in WRK_OUTPUT, then appends a BENCH_CPU line:
      where the machine's CPU time went during the run (in cores: wrk, the
      server processes PIDS (comma-separated), anything else, and steal).
  report.py busy
      Prints how many cores were busy (user+system) over the next second.
  report.py check-warmup WRK_OUTPUT
      Exits 1 (with a message) if the warm-up saw non-2xx or socket errors.
  report.py report CASES COMPARISONS OUT_JSON
      Prints the table and the derived lines, writes everything to OUT_JSON.
      Exits 1 if any measured case saw errors.

COMPARISONS holds one tab-separated line per derived figure:
  latency     LABEL  BASE_CASE  CANDIDATE_CASE  MAX_ADDED_P99_US|-
  throughput  LABEL  BASE_CASE  CANDIDATE_CASE  MIN_RATIO_PERCENT|-
"""

import json
import os
import platform
import resource
import subprocess
import time
import sys
from datetime import datetime, timezone


def fail(message):
    print(f"[bench] ERROR: {message}", file=sys.stderr)
    sys.exit(1)


def parse_wrk_output(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    for line in text.splitlines():
        if line.startswith("BENCH_RESULT "):
            return json.loads(line[len("BENCH_RESULT "):])
    fail(f"no BENCH_RESULT line in wrk output {path}:\n{text}")


def error_count(result):
    return result["non2xx"] + sum(result["socket_errors"].values())


def describe_errors(result):
    s = result["socket_errors"]
    text = (f"{result['non2xx']} non-2xx, socket errors connect={s['connect']} "
            f"read={s['read']} write={s['write']} timeout={s['timeout']}")
    if result["first_bad_status"]:
        text += (f"; first bad status {result['first_bad_status']}: "
                 f"{result['first_bad_body']!r}")
    return text


CLK_TCK = os.sysconf("SC_CLK_TCK")


def machine_jiffies():
    """(user+nice+system, steal) jiffies from the aggregate line of /proc/stat."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return fields[0] + fields[1] + fields[2], fields[7]


def process_jiffies(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                # Fields after the parenthesised command name; utime, stime are 14, 15.
                rest = f.read().rsplit(")", 1)[1].split()
            total += int(rest[11]) + int(rest[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


def measure(wrk_output, pids, command):
    pids = [p for p in pids.split(",") if p]
    if command[:1] == ["--"]:
        command = command[1:]
    before_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0, steal0 = machine_jiffies()
    servers0 = process_jiffies(pids)
    t0 = time.monotonic()
    with open(wrk_output, "w", encoding="utf-8") as out:
        rc = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    wall = time.monotonic() - t0
    busy1, steal1 = machine_jiffies()
    servers1 = process_jiffies(pids)
    after_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_s = (after_usage.ru_utime - before_usage.ru_utime
             + after_usage.ru_stime - before_usage.ru_stime)
    servers_s = (servers1 - servers0) / CLK_TCK
    busy_s = (busy1 - busy0) / CLK_TCK
    cpu = {
        "wall_s": round(wall, 2),
        "wrk_cores": round(wrk_s / wall, 2),
        "servers_cores": round(servers_s / wall, 2),
        # Approximate: user+system time not charged to wrk or the servers.
        "other_cores": round(max(0.0, busy_s - wrk_s - servers_s) / wall, 2),
        "steal_cores": round((steal1 - steal0) / CLK_TCK / wall, 2),
    }
    with open(wrk_output, "a", encoding="utf-8") as out:
        out.write("BENCH_CPU " + json.dumps(cpu) + "\n")
    sys.exit(rc)


def busy():
    busy0, _ = machine_jiffies()
    t0 = time.monotonic()
    time.sleep(1)
    busy1, _ = machine_jiffies()
    print(f"{(busy1 - busy0) / CLK_TCK / (time.monotonic() - t0):.2f}")


def parse_cpu(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("BENCH_CPU "):
                return json.loads(line[len("BENCH_CPU "):])
    return None


def add_case(cases, name, url, threads, conns, upstream, wrk_output):
    result = parse_wrk_output(wrk_output)
    case = {
        "name": name,
        "url": url,
        "threads": int(threads),
        "conns": int(conns),
        **result,
        "upstream_requests": int(upstream),
        "cpu": parse_cpu(wrk_output),
    }
    with open(cases, "a", encoding="utf-8") as f:
        f.write(json.dumps(case) + "\n")
    if error_count(result):
        print(f"[bench] WARNING: {name}: {describe_errors(result)}", file=sys.stderr)


def check_warmup(wrk_output):
    result = parse_wrk_output(wrk_output)
    if error_count(result):
        fail(f"warm-up saw errors: {describe_errors(result)}")
    if result["requests"] == 0:
        fail("warm-up completed no requests")


def machine_facts():
    facts = {
        "nproc": os.cpu_count(),
        "kernel": platform.release(),
        "busy_cores_before": os.environ.get("BENCH_BUSY_START", ""),
        "loadavg_start": os.environ.get("BENCH_LOADAVG_START", ""),
        "loadavg_end": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    facts["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return facts


def git_facts(repo):
    def git(*args):
        try:
            return subprocess.run(["git", "-C", repo, *args], capture_output=True,
                                  text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD"),
            "dirty": None if status is None else bool(status)}


def report(cases_path, comparisons_path, out_json):
    with open(cases_path, encoding="utf-8") as f:
        cases = [json.loads(line) for line in f if line.strip()]
    by_name = {c["name"]: c for c in cases}

    header = (f"{'case':<20} {'-t/-c':>7} {'req/s':>10} {'p50 µs':>8} {'p90 µs':>8} {'p99 µs':>8} "
              f"{'errors':>7} {'other cpu':>9}")
    print(header)
    print("-" * len(header))
    for c in cases:
        tc = f"{c['threads']}/{c['conns']}"
        lat = c["latency_us"]
        other = "?" if not c["cpu"] else f"{c['cpu']['other_cores']:.2f}"
        print(f"{c['name']:<20} {tc:>7} {c['rps']:>10.1f} {lat['p50']:>8} "
              f"{lat['p90']:>8} {lat['p99']:>8} {error_count(c):>7} {other:>9}")

    derived = []
    if os.path.exists(comparisons_path):
        with open(comparisons_path, encoding="utf-8") as f:
            lines = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    else:
        lines = []
    if lines:
        print()
    for kind, label, base_name, cand_name, target in lines:
        base, cand = by_name[base_name], by_name[cand_name]
        entry = {"kind": kind, "label": label, "base": base_name, "candidate": cand_name}
        if kind == "latency":
            add50 = cand["latency_us"]["p50"] - base["latency_us"]["p50"]
            add99 = cand["latency_us"]["p99"] - base["latency_us"]["p99"]
            entry.update(added_p50_us=add50, added_p99_us=add99)
            text = (f"{label}: added p50 {add50:+d} µs, added p99 {add99:+d} µs "
                    f"({cand_name} − {base_name})")
            if target != "-":
                entry["target_max_added_p99_us"] = int(target)
                entry["meets_target"] = add99 < int(target)
                text += f"  [target p99 < {target} µs: {'met' if entry['meets_target'] else 'MISSED'}]"
        elif kind == "throughput":
            ratio = 100.0 * cand["rps"] / base["rps"] if base["rps"] else 0.0
            entry["ratio_percent"] = round(ratio, 1)
            text = f"{label}: {ratio:.1f} % ({cand_name} / {base_name} req/s)"
            if target != "-":
                entry["target_min_ratio_percent"] = float(target)
                entry["meets_target"] = ratio >= float(target)
                text += f"  [target ≥ {target} %: {'met' if entry['meets_target'] else 'MISSED'}]"
        else:
            fail(f"unknown comparison kind {kind!r}")
        derived.append(entry)
        print(text)

    problems = []
    for c in cases:
        if error_count(c):
            problems.append(f"{c['name']}: {describe_errors(c)}")
        if c["requests"] == 0:
            problems.append(f"{c['name']}: no requests completed")
        # -1: a case with no upstream (nginx's fixed response).
        if 0 <= c["upstream_requests"] < c["requests"]:
            problems.append(f"{c['name']}: upstream saw {c['upstream_requests']} requests "
                            f"but wrk completed {c['requests']}")

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    document = {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git": git_facts(repo),
        "machine": machine_facts(),
        "settings": {k: os.environ.get(f"BENCH_{k.upper()}") for k in
                     ("duration", "warmup", "threads", "conns", "wrk_version")},
        "cases": cases,
        "derived": derived,
        "problems": problems,
    }
    os.makedirs(os.path.dirname(os.path.abspath(out_json)), exist_ok=True)
    with open(out_json, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=2, ensure_ascii=False)
        f.write("\n")

    m = document["machine"]
    print(f"\nnproc {m['nproc']}; busy cores before start {m['busy_cores_before']}; "
          f"loadavg start {m['loadavg_start']} / end {m['loadavg_end']}")
    print("other cpu: cores used by anything but wrk and the servers during a run "
          "(approx.; near 0 means an undisturbed run)")
    print(f"raw results: {out_json}")
    if problems:
        print()
        for p in problems:
            print(f"[bench] PROBLEM: {p}", file=sys.stderr)
        print("[bench] these numbers are not valid", file=sys.stderr)
        sys.exit(1)


def main(argv):
    if len(argv) >= 5 and argv[1] == "measure":
        measure(argv[2], argv[3], argv[4:])
    elif len(argv) >= 2 and argv[1] == "add-case" and len(argv) == 9:
        add_case(*argv[2:])
    elif len(argv) == 2 and argv[1] == "busy":
        busy()
    elif len(argv) == 3 and argv[1] == "check-warmup":
        check_warmup(argv[2])
    elif len(argv) == 5 and argv[1] == "report":
        report(*argv[2:])
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv)
