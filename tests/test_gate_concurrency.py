"""16 real processes against one rate limit and one approval token."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import NamedTuple

PROCS = 16
POLICY = """\
default_verdict: allow
rules:
  - name: limited
    priority: 1
    effect: allow
    match:
      tool_names: [tool.read]
    rate_limit:
      requests: 5
      window: hour
  - name: writes
    priority: 1
    effect: require_approval
    match:
      tool_names: [tool.write]
"""


def _intent(tool: str) -> dict:
    return {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": "2026-06-01T00:00:00Z",
        "producer_version": "t",
        "tool_name": tool,
        "args": {"path": "/tmp/x"},
        "targets": [{"kind": "path", "value": "/tmp/x"}],
        "context": {"identity": "agent", "workspace": "/w", "risk_class": "low"},
    }


class Result(NamedTuple):
    code: int
    out: dict
    stderr: str


def _run_all(gait: list[str], argv: list[str], cwd: Path, home: Path) -> list[Result]:
    env = {**os.environ, "GAIT_HOME": str(home)}
    procs = [
        subprocess.Popen(
            [*gait, *argv],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(PROCS)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        try:
            doc = json.loads(out)
        except ValueError:
            doc = {"unparsed_stdout": out.decode("utf-8", "replace")}
        results.append(Result(proc.returncode, doc, err.decode("utf-8", "replace")))
    return results


def _failures(results: list[Result], expected: set[int]) -> str:
    """Every process whose exit code is not one of ``expected``, with its whole stdout and
    stderr (a rare failure must be diagnosable from the one run that showed it)."""
    lines = [f"exit codes: {sorted(r.code for r in results)}"]
    for index, result in enumerate(results):
        if result.code not in expected:
            lines.append(f"--- process {index}: exit {result.code}")
            lines.append(f"stdout: {json.dumps(result.out, sort_keys=True)}")
            lines.append(f"stderr:\n{result.stderr}")
    return "\n".join(lines)


def test_rate_limit_allows_exactly_n(tmp_path: Path, gait_home: Path, gait_argv: list[str]) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "intent.json").write_text(json.dumps(_intent("tool.read")))
    results = _run_all(
        gait_argv,
        [
            "gate",
            "eval",
            "--policy",
            "policy.yaml",
            "--intent",
            "intent.json",
            "--evaluation-time",
            "2026-06-01T10:00:00Z",
            "--json",
        ],
        tmp_path,
        gait_home,
    )
    codes = sorted(r.code for r in results)
    assert codes == [0] * 5 + [3] * (PROCS - 5), _failures(results, {0, 3})
    blocked = [r.out for r in results if r.code == 3]
    assert all("rate_limit_exceeded" in out["reason_codes"] for out in blocked)
    # sixteen traces, one unbroken log
    traces = list((tmp_path / "gait-out" / "traces").glob("trace_*.json"))
    assert len(traces) == PROCS


def test_token_is_used_exactly_once(tmp_path: Path, gait_home: Path, gait_argv: list[str]) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "intent.json").write_text(json.dumps(_intent("tool.write")))
    env = {**os.environ, "GAIT_HOME": str(gait_home)}
    minted = subprocess.run(
        [
            *gait_argv,
            "approve",
            "--intent",
            "intent.json",
            "--policy",
            "policy.yaml",
            "--approver",
            "alice",
            "--reason-code",
            "CHG",
            "--ttl",
            "1h",
            "--now",
            "2026-06-01T10:00:00Z",
            "--out",
            "token.json",
            "--json",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert minted.returncode == 0, minted.stderr
    results = _run_all(
        gait_argv,
        [
            "gate",
            "eval",
            "--policy",
            "policy.yaml",
            "--intent",
            "intent.json",
            "--approval-token",
            "token.json",
            "--evaluation-time",
            "2026-06-01T10:10:00Z",
            "--json",
        ],
        tmp_path,
        gait_home,
    )
    assert sorted(r.code for r in results) == [0] + [4] * (PROCS - 1), _failures(results, {0, 4})
    refused = [r.out for r in results if r.code == 4]
    assert all("approval_token_replayed" in out["reason_codes"] for out in refused)
