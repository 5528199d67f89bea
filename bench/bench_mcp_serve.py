"""The decision service under load; prints one JSON summary.

1. Latency: one client keeps its connection and sends decisions one after another (each a full
   decision with a signed trace and a decision-log line); p50/p95/p99 in milliseconds.
2. Load: ``--requests`` decisions (20,000) from ``--clients`` (16) concurrent client processes
   on loopback, bounded by ``--max-seconds`` (120); then every answer, trace file and
   decision-log line is counted: nothing may be lost.

Run: ``python bench/bench_mcp_serve.py [--quick]`` (needs the ``serve`` extra).
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

POLICY = """\
default_verdict: block
rules:
  - name: allow-reads
    effect: allow
    match:
      tool_names: [tool.read]
"""
CALL = {
    "call": {
        "name": "tool.read",
        "args": {"path": "/repo/README.md"},
        "targets": [{"kind": "path", "value": "/repo/README.md", "operation": "read"}],
        "context": {"identity": "agent", "workspace": "/repo", "risk_class": "high"},
    }
}
BODY = json.dumps(CALL).encode()
HEADERS = {"content-type": "application/json"}


def _post(conn: http.client.HTTPConnection) -> tuple[int, dict]:
    conn.request("POST", "/v1/evaluate", body=BODY, headers=HEADERS)
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read())


def _client(args: tuple[str, int, int, float]) -> tuple[int, int, list[str]]:
    host, port, count, deadline = args
    conn = http.client.HTTPConnection(host, port, timeout=60)
    ok = 0
    traces: list[str] = []
    for _ in range(count):
        if time.time() > deadline:
            break
        status, doc = _post(conn)
        if status == 200 and doc.get("verdict") == "allow" and doc.get("trace_id"):
            ok += 1
            traces.append(doc["trace_path"])
    conn.close()
    return ok, count, traces


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-requests", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--max-seconds", type=float, default=120.0)
    parser.add_argument("--quick", action="store_true", help="500 + 2,000 requests")
    opts = parser.parse_args()
    if opts.quick:
        opts.latency_requests, opts.requests = 500, 2000
    work = Path(tempfile.mkdtemp(prefix="gait-serve-bench-"))
    (work / "policy.yaml").write_text(POLICY)
    env = {**os.environ, "GAIT_HOME": str(work / "home")}
    gait = Path(sys.executable).with_name("gait")
    server = subprocess.Popen(
        [str(gait), "mcp", "serve", "--policy", "policy.yaml", "--listen", "127.0.0.1:0", "--json"],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        startup = json.loads(line)
        if "listen" not in startup:
            raise SystemExit(f"service did not start: {line}")
        host, port = startup["listen"].rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        for _ in range(50):
            _post(conn)  # warm-up
        samples = []
        server_cpu = _cpu_seconds(server.pid)
        client_cpu = time.process_time()
        for _ in range(opts.latency_requests):
            start = time.perf_counter()
            status, doc = _post(conn)
            samples.append((time.perf_counter() - start) * 1000)
            assert status == 200 and doc["verdict"] == "allow", doc
        server_cpu = _cpu_seconds(server.pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
        conn.close()
        samples.sort()
        latency = {
            "requests": len(samples),
            "server_cpu_ms_per_request": round(server_cpu * 1000 / len(samples), 3),
            "client_cpu_ms_per_request": round(client_cpu * 1000 / len(samples), 3),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "p50_ms": round(statistics.median(samples), 3),
            "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 3),
            "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 3),
        }
        per = opts.requests // opts.clients
        deadline = time.time() + opts.max_seconds
        load_cpu = _cpu_seconds(server.pid)
        started = time.perf_counter()
        with multiprocessing.get_context("fork").Pool(opts.clients) as pool:
            results = pool.map(
                _client, [(host, int(port), per, deadline)] * opts.clients, chunksize=1
            )
        elapsed = time.perf_counter() - started
        load_cpu = _cpu_seconds(server.pid) - load_cpu
        answered = sum(r[0] for r in results)
        paths = {p for r in results for p in r[2]}
        trace_dir = work / "gait-out" / "mcp-serve" / "traces"
        log_lines = (trace_dir / "decisions.jsonl").read_text().splitlines()
        expected_log = 50 + len(samples) + answered
        load = {
            "requests": per * opts.clients,
            "clients": opts.clients,
            "answered_allow_with_trace": answered,
            "seconds": round(elapsed, 2),
            "requests_per_second": round(answered / elapsed, 1),
            "server_cpu_ms_per_request": round(load_cpu * 1000 / max(answered, 1), 3),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "distinct_trace_files": len(paths),
            "trace_files_on_disk": sum(1 for p in paths if (work / p).exists()),
            "decision_log_lines": len(log_lines),
            "decision_log_expected": expected_log,
            "lost": per * opts.clients - answered,
        }
        ok = (
            latency["p95_ms"] <= 2.0
            and load["lost"] == 0
            and load["seconds"] <= opts.max_seconds
            and load["trace_files_on_disk"] == answered
            and len(log_lines) == expected_log
        )
        print(json.dumps({"latency": latency, "load": load, "ok": ok}, indent=1, sort_keys=True))
        return 0 if ok else 1
    finally:
        server.terminate()
        server.wait(timeout=30)
        # A full run leaves ~20,000 trace files: never leave them in the temp directory.
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
