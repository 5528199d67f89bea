"""``gait mcp serve``: a real service process, a keep-alive client, the reference's contract."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="gait mcp serve needs the 'serve' extra")
pytest.importorskip("uvicorn", reason="gait mcp serve needs the 'serve' extra")

POLICY = """\
default_verdict: block
rules:
  - name: allow-reads
    effect: allow
    match:
      tool_names: [tool.read]
  - name: writes-need-approval
    effect: require_approval
    match:
      tool_names: [tool.write]
"""
READ = {
    "name": "tool.read",
    "args": {"path": "/repo/a"},
    "context": {"identity": "agent", "workspace": "/repo", "session_id": "s-1"},
}


class Service:
    def __init__(self, proc: subprocess.Popen[str], listen: str, workdir: Path) -> None:
        self.proc = proc
        self.host, port = listen.rsplit(":", 1)
        self.port = int(port)
        self.workdir = workdir

    def conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=30)

    def post(
        self, conn: http.client.HTTPConnection, path: str, body: object, **headers: str
    ) -> tuple[int, dict, str]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        conn.request(
            "POST", path, body=data, headers={"content-type": "application/json", **headers}
        )
        resp = conn.getresponse()
        text = resp.read().decode()
        ctype = resp.getheader("content-type", "")
        if "event-stream" in ctype:
            doc = json.loads(text.split("data: ", 1)[1])
        else:
            doc = json.loads(text)
        return resp.status, doc, ctype


def _start(
    workdir: Path,
    gait_argv: list[str],
    gait_home: Path,
    *extra: str,
    env: dict[str, str] | None = None,
) -> Service:
    proc = subprocess.Popen(
        [
            *gait_argv,
            "mcp",
            "serve",
            "--policy",
            "policy.yaml",
            "--listen",
            "127.0.0.1:0",
            "--json",
            *extra,
        ],
        cwd=workdir,
        env={**os.environ, "GAIT_HOME": str(gait_home), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise AssertionError(proc.stderr.read() if proc.stderr else "no output")
    return Service(proc, json.loads(line)["listen"], workdir)


@pytest.fixture
def service(tmp_path: Path, gait_argv: list[str], gait_home: Path) -> Iterator[Service]:
    (tmp_path / "policy.yaml").write_text(POLICY)
    svc = _start(
        tmp_path,
        gait_argv,
        gait_home,
        "--http-verdict-status",
        "strict",
        "--max-request-bytes",
        "4096",
        "--trace-max-count",
        "50",
    )
    try:
        yield svc
    finally:
        svc.proc.terminate()
        svc.proc.wait(timeout=20)


def test_evaluate_endpoints_statuses_and_limits(service: Service) -> None:
    conn = service.conn()
    conn.request("GET", "/healthz")
    assert json.loads(conn.getresponse().read()) == {"ok": True, "service": "gait.mcp.serve"}
    conn.request("GET", "/openapi.json")
    spec = json.loads(conn.getresponse().read())
    assert "/v1/evaluate" in spec["paths"] and spec["openapi"].startswith("3.")
    status, doc, ctype = service.post(conn, "/v1/evaluate", {"call": READ})
    assert (status, doc["verdict"], doc["exit_code"]) == (200, "allow", 0)
    assert ctype.startswith("application/json")
    trace = json.loads((service.workdir / doc["trace_path"]).read_text())
    assert trace["trace_id"] == doc["trace_id"] and trace["signature"]["alg"] == "ed25519"
    assert any(w.startswith("session_journal=") for w in doc["warnings"])
    status, doc, ctype = service.post(
        conn, "/v1/evaluate/sse", {"call": {"name": "tool.delete"}, "run_id": "r1"}
    )
    assert (status, doc["verdict"], doc["exit_code"]) == (403, "block", 3)
    assert ctype.startswith("text/event-stream") and doc["run_id"] == "run_r1"
    status, doc, ctype = service.post(
        conn,
        "/v1/evaluate/stream",
        {"adapter": "openai", "call": {"function": {"name": "tool.write", "arguments": "{}"}}},
    )
    assert (status, doc["verdict"], doc["exit_code"]) == (409, "require_approval", 4)
    assert ctype.startswith("application/x-ndjson")
    # Bad input: each its own status and code, one JSON line, the service keeps serving.
    assert service.post(conn, "/v1/evaluate", b"{nope")[0] == 400
    # Read strictly, as the proxy reads a call: which "path" would the tool see?
    dup = b'{"call":{"name":"tool.read","args":{"path":"/a","path":"/etc/shadow"}}}'
    status, doc, _ = service.post(conn, "/v1/evaluate", dup)
    assert status == 400 and "duplicate key 'path'" in doc["error"], doc
    status, doc, _ = service.post(conn, "/v1/evaluate", b'{"call":{"name":"t","args":{"n":NaN}}}')
    assert status == 400 and "NaN" in doc["error"], doc
    status, doc, _ = service.post(conn, "/v1/evaluate", {"call": READ, "extra": 1})
    assert status == 400 and "unknown field" in doc["error"]
    status, doc, _ = service.post(conn, "/v1/evaluate", {"call": {"x": "y" * 5000}})
    assert status == 413 and doc["error_code"] == "E_REQUEST_TOO_LARGE"
    status, doc, _ = service.post(conn, "/v1/evaluate", {"call": READ, "trace_path": "/tmp/x"})
    assert status == 400 and "not allowed" in doc["error"]
    conn.request("POST", "/v1/evaluate", body=b"{}", headers={"content-type": "text/plain"})
    resp = conn.getresponse()
    assert resp.status == 415 and json.loads(resp.read())["ok"] is False
    status, doc, _ = service.post(conn, "/v1/evaluate", {"call": {}})
    assert status == 400 and doc["error"] == "request.call is required"
    status, doc, _ = service.post(conn, "/v1/evaluate", {"call": READ})
    assert status == 200  # still serving on the same keep-alive connection
    # --job-root (default ./gait-out/jobs): a call of a job with no readable state is blocked.
    job_call = {**READ, "context": {**READ["context"], "job_id": "job-1"}}
    status, doc, _ = service.post(conn, "/v1/evaluate", {"call": job_call})
    assert (status, doc["reason_codes"][0]) == (403, "emergency_stop_state_unavailable"), doc
    # The decision endpoints are answered ahead of Starlette's routing; the rest is still its.
    conn.request("GET", "/v1/evaluate")
    resp = conn.getresponse()
    assert (resp.status, resp.getheader("allow"), resp.read()) == (
        405,
        "POST",
        b"Method Not Allowed",
    )
    body = json.dumps({"call": READ}).encode()
    conn.request("POST", "/v1/evaluate/sse", body=iter([body[:9], body[9:]]), headers={})
    resp = conn.getresponse()  # a chunked body, no content type: read whole, taken as JSON
    assert resp.getheader("content-type") == "text/event-stream; charset=utf-8"
    assert resp.getheader("cache-control") == "no-cache"
    text = resp.read()
    assert resp.status == 200 and text.startswith(b"event: evaluate\ndata: {")
    assert text.endswith(b"}\n\n") and int(resp.getheader("content-length")) == len(text)


def test_concurrent_clients_lose_no_trace_or_log_line(service: Service) -> None:
    per_client, clients = 25, 8
    failures: list[str] = []

    def client() -> None:
        conn = service.conn()
        for _ in range(per_client):
            status, doc, _ = service.post(conn, "/v1/evaluate", {"call": READ})
            if status != 200 or doc["verdict"] != "allow":
                failures.append(f"{status} {doc}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures
    log = service.workdir / "gait-out" / "mcp-serve" / "traces" / "decisions.jsonl"
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(lines) == per_client * clients
    assert [x["seq"] for x in lines] == list(range(1, len(lines) + 1))
    time.sleep(1.1)
    # Retention (--trace-max-count 50) prunes trace files on the next request, not the log.
    status, doc, _ = service.post(service.conn(), "/v1/evaluate", {"call": READ})
    assert any(w.startswith("retention_trace_removed") for w in doc["warnings"]), doc


def test_token_auth_and_non_loopback_refusal(
    tmp_path: Path, gait_argv: list[str], gait_home: Path, run_gait
) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY)
    refused = run_gait(
        "mcp", "serve", "--policy", "policy.yaml", "--listen", "0.0.0.0:0", "--json", cwd=tmp_path
    )
    assert refused.returncode == 6
    assert "requires --auth-mode token" in json.loads(refused.stdout)["error"]
    svc = _start(
        tmp_path,
        gait_argv,
        gait_home,
        "--auth-mode",
        "token",
        "--auth-token-env",
        "SVC_TOKEN",
        env={"SVC_TOKEN": "s3cret"},
    )
    try:
        conn = svc.conn()
        status, doc, _ = svc.post(conn, "/v1/evaluate", {"call": READ})
        assert status == 401 and doc["error"] == "missing bearer authorization"
        status, doc, _ = svc.post(
            conn, "/v1/evaluate", {"call": READ}, authorization="Bearer wrong"
        )
        assert status == 401
        status, doc, _ = svc.post(
            conn, "/v1/evaluate", {"call": READ}, authorization="Bearer s3cret"
        )
        assert status == 200 and doc["verdict"] == "allow"
    finally:
        svc.proc.terminate()
        svc.proc.wait(timeout=20)


def test_head_record_is_swapped_between_two_files_and_the_directory_verifies(
    tmp_path: Path, gait_argv: list[str], gait_home: Path, run_gait
) -> None:
    """Per decision the service frees no inode (ext4 without a journal makes every later file
    creation skip each recently freed one): the head record and its spare trade places."""
    (tmp_path / "policy.yaml").write_text(POLICY)
    svc = _start(tmp_path, gait_argv, gait_home)
    traces = tmp_path / "gait-out" / "mcp-serve" / "traces"
    try:
        conn = svc.conn()
        inodes = []
        for _ in range(6):
            assert svc.post(conn, "/v1/evaluate", {"call": READ})[0] == 200
            head = traces / "decisions.head.json"
            spare = traces / ".decisions.head.spare"
            inodes.append((head.stat().st_ino, spare.stat().st_ino if spare.exists() else None))
    finally:
        svc.proc.terminate()
        svc.proc.wait(timeout=20)
    # From the second decision on, the same two files alternate.
    pairs = inodes[1:]
    assert all(set(pair) == set(pairs[0]) for pair in pairs) and None not in pairs[0], inodes
    assert [pair[0] for pair in pairs[:2]] == [pairs[0][0], pairs[0][1]]
    assert (traces / ".decisions.head.spare").stat().st_mode & 0o777 == 0o600
    done = run_gait("trace", "verify", str(traces), "--json", cwd=tmp_path)
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["ok"] and report["log_entries"] == 6, report
    assert "warnings" not in report and "problems" not in report
