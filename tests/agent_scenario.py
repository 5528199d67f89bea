"""What the framework integration tests share: a policy that allows ``read_file`` and blocks
``delete_file``, a work directory holding it, the two tools' bodies (each test wraps them in
its framework's tool type), and the round trip from a recorded run to a passing
``pytest --gait``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

POLICY = """\
default_verdict: block
rules:
  - name: allow-read
    priority: 10
    effect: allow
    match:
      tool_names: [read_file]
    reason_codes: [read_ok]
  - name: block-delete
    priority: 20
    effect: block
    match:
      tool_names: [delete_file]
    reason_codes: [destructive_delete]
    violations: [destructive]
"""


@pytest.fixture(name="workdir")
def workdir_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A test module imports this (``from agent_scenario import workdir_fixture``) to use
    ``workdir``: the work directory holding ``POLICY`` as policy.yaml, made the cwd."""
    (tmp_path / "policy.yaml").write_text(POLICY, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tool_functions(ran: list[str]) -> list[Callable[[str], str]]:
    """``read_file`` and ``delete_file``; each notes in ``ran`` that it really ran."""

    def read_file(path: str) -> str:
        """Read a file."""
        ran.append("read")
        return f"contents of {path}"

    def delete_file(path: str) -> str:
        """Delete a file."""
        ran.append("delete")
        return "deleted"

    return [read_file, delete_file]


def fixture_round_trip(run_gait: Any, workdir: Path, run_id: str, runpack: str = "") -> str:
    """The recorded run verifies, becomes a regress fixture and passes ``pytest --gait``;
    the pytest output, for callers that check more."""
    assert run_gait("verify", runpack or run_id).returncode == 0
    assert run_gait("regress", "init", "--from", run_id).returncode == 0
    replay = subprocess.run(
        [sys.executable, "-m", "pytest", "--gait", "-q", "-p", "no:cacheprovider"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    assert replay.returncode == 0, replay.stdout[-2000:]
    return replay.stdout
