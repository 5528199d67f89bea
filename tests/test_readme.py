"""The README's shell blocks marked runnable run, in order, in a temp dir with an isolated
GAIT_HOME, so the README cannot rot.

Convention (on the line right before a ```bash fence):

- ``<!-- runnable -->``: run the block as written;
- ``<!-- runnable: COMMAND -->``: run COMMAND instead (for a block that also installs
  something, such as Start here's ``pip install . && gait demo``).

Blocks share one working directory, as a reader following the README would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
MARKER = re.compile(r"^<!--\s*runnable(?::\s*(?P<command>.+?))?\s*-->\s*$")


def runnable_blocks(text: str) -> list[tuple[int, str]]:
    """(line number, script) of every marked block; a marker not before a bash fence fails."""
    lines = text.splitlines()
    blocks = []
    for index, line in enumerate(lines):
        match = MARKER.match(line.strip())
        if not match:
            continue
        fence = lines[index + 1].strip() if index + 1 < len(lines) else ""
        if fence not in ("```bash", "```sh", "```shell"):
            raise AssertionError(f"README.md:{index + 1}: runnable marker not before a ```bash")
        end = next((j for j in range(index + 2, len(lines)) if lines[j].strip() == "```"), None)
        if end is None:
            raise AssertionError(f"README.md:{index + 2}: unclosed code block")
        body = "\n".join(lines[index + 2 : end])
        blocks.append((index + 1, match.group("command") or body))
    return blocks


def test_marker_parsing() -> None:
    text = "<!-- runnable -->\n```bash\necho a\n```\n<!-- runnable: gait demo -->\n```bash\nx\n```"
    assert runnable_blocks(text) == [(1, "echo a"), (5, "gait demo")]
    with pytest.raises(AssertionError):
        runnable_blocks("<!-- runnable -->\n```text\nx\n```")


def test_readme_runnable_blocks(tmp_path: Path, gait_home: Path) -> None:
    blocks = runnable_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) >= 2, "README.md lost its runnable blocks"
    bindir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "GAIT_HOME": str(gait_home),
        "PATH": bindir + os.pathsep + os.environ["PATH"],
    }
    work = tmp_path / "reader"
    work.mkdir()
    for line, script in blocks:
        proc = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        where = f"README.md:{line}: {script!r}"
        assert proc.returncode == 0, f"{where} exited {proc.returncode}\n{proc.stdout}{proc.stderr}"
        assert "Traceback" not in proc.stderr, where
