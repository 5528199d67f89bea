"""The ``run_gait`` fixture never lets a command write into the checkout.

A test that forgets ``cwd=`` used to run gait in the repository's root (pytest's working
directory), so a command's default outputs (``gait-out/``) landed in the checkout. Without
``cwd`` the fixture now runs there in a temp directory of its own; a test that chdir'd into its
own directory keeps running there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO_ROOT

POLICY = "default_verdict: allow\n"
INTENT = {
    "schema_id": "gait.gate.intent_request",
    "schema_version": "1.0.0",
    "created_at": "2026-06-01T00:00:00Z",
    "producer_version": "t",
    "tool_name": "tool.read",
    "args": {"path": "/tmp/x"},
    "targets": [{"kind": "path", "value": "/tmp/x"}],
    "context": {"identity": "agent", "workspace": "/w", "risk_class": "low"},
}


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


def _eval(run_gait, tmp_path: Path):
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "intent.json").write_text(json.dumps(INTENT))
    return run_gait(
        "gate", "eval", "--policy", str(tmp_path / "policy.yaml"),
        "--intent", str(tmp_path / "intent.json"), "--json",
    )  # fmt: skip


def test_no_cwd_in_the_checkout_writes_elsewhere(
    run_gait, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO_ROOT)
    before = _files(REPO_ROOT / "gait-out")
    proc = _eval(run_gait, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _files(REPO_ROOT / "gait-out") == before  # the trace went to the fixture's own dir


def test_no_cwd_after_chdir_runs_there(
    run_gait, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    proc = _eval(run_gait, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list((work / "gait-out" / "traces").glob("trace_*.json"))
