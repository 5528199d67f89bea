"""``gait ... --json | head``: a reader that goes away ends gait quietly, as SIGPIPE would."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["doctor", "--json"],
        ["policy", "init", "--list", "--json"],
        ["policy", "init", "no-such-template", "--json"],  # an error document, to stdout too
    ],
)
def test_closed_stdout_ends_with_141_and_nothing_on_stderr(
    argv: list[str], tmp_path: Path, gait_home: Path, gait_argv: list[str]
) -> None:
    proc = subprocess.Popen(
        [*gait_argv, *argv],
        cwd=tmp_path,
        env={**os.environ, "GAIT_HOME": str(gait_home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before gait writes a byte
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert proc.returncode == 141, err
    assert err == b""


def test_head_in_a_shell_pipeline(tmp_path: Path, gait_home: Path, gait_argv: list[str]) -> None:
    gait = " ".join(gait_argv)
    proc = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {gait} --help | head -c 0; echo status=$?"],
        cwd=tmp_path,
        env={**os.environ, "GAIT_HOME": str(gait_home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.stdout.strip() == "status=141"
    assert proc.stderr == ""
