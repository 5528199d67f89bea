"""What the policy-language tests share (issue 15's files): the high-risk write they gate, a
work directory made the cwd, the CLI run in-process with ``--json``, prod keys, and the signed
approval and delegation tokens ``gait approve`` / ``gait delegate mint`` give for that write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gait.cli.main import main

WRITE_INTENT: dict[str, Any] = {
    "schema_id": "gait.gate.intent_request",
    "schema_version": "1.0.0",
    "created_at": "2026-02-18T00:00:00Z",
    "producer_version": "test",
    "tool_name": "tool.write",
    "args": {"path": "/tmp/x.txt"},
    "targets": [{"kind": "path", "value": "/tmp/x.txt", "operation": "write"}],
    "context": {"identity": "agent.worker", "workspace": "/repo", "risk_class": "high"},
}
# agent.lead delegates the write to agent.worker (what ``mint_delegation`` signs)
DELEGATION: dict[str, Any] = {
    "requester_identity": "agent.worker",
    "scope_class": "write",
    "chain": [{"delegator_identity": "agent.lead", "delegate_identity": "agent.worker"}],
}


@pytest.fixture(name="work")
def work_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A test module imports this (``from gate_cli import work_fixture``) to use ``work``: the
    test's directory, made the cwd (GAIT_HOME is isolated by conftest)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    """``gait ARGV --json`` in-process: the exit code and the parsed document."""
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def write_input(path: Path, data: object) -> str:
    """``data`` (text as it is, anything else as JSON) written to ``path``; the path."""
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def prod_keys(capsys: pytest.CaptureFixture[str], where: str) -> tuple[str, str]:
    """A prod key pair from ``gait keys init`` in ``where``: (private, public) paths."""
    code, out = run_json(capsys, "keys", "init", "--key-mode", "prod", "--out", where)
    assert code == 0, out
    return out["private_key_path"], out["public_key_path"]


def mint_delegation(capsys: pytest.CaptureFixture[str], private: str, out: str) -> Any:
    """A delegation token (``DELEGATION``'s link, scope tool.write, 1 h) signed by ``private``."""
    return _signed(
        capsys,
        private,
        out,
        "delegate",
        "mint",
        "--delegator",
        "agent.lead",
        "--delegate",
        "agent.worker",
        "--scope",
        "tool:tool.write",
        "--scope-class",
        "write",
    )


def approve_token(capsys: pytest.CaptureFixture[str], private: str, out: str, *extra: str) -> Any:
    """An approval token by alice (CHG-1, 1 h) signed by ``private``; ``extra`` binds it."""
    return _signed(
        capsys,
        private,
        out,
        "approve",
        *extra,
        "--approver",
        "alice",
        "--reason-code",
        "CHG-1",
    )


def _signed(capsys: pytest.CaptureFixture[str], private: str, out: str, *argv: str) -> Any:
    """``gait ARGV`` minting a 1 h token signed by the prod key ``private`` into ``out``."""
    signing = ("--ttl", "1h", "--key-mode", "prod", "--private-key", private, "--out", out)
    code, minted = run_json(capsys, *argv, *signing)
    assert code == 0, minted
    return minted
