"""The code blocks of the README, the recipes and the example READMEs run, in order, in a temp
dir with an isolated GAIT_HOME, so the documentation cannot rot.

Convention (on the line right before a ```bash or ```python fence):

- ``<!-- runnable -->``: run the block as written (bash with ``-euo pipefail``, or Python);
- ``<!-- runnable: COMMAND -->``: run COMMAND instead (for a block that also installs
  something, such as Start here's ``pip install . && gait demo``);
- ``<!-- not-run: REASON -->``: leave it out, saying why (the test suite itself, say).

Every bash and Python block carries one of them, so no block goes untested by accident. Blocks
of one file share one working directory, as a reader following it would; that directory starts
with a copy of ``examples/`` and ``example_fixtures/``, as in a checkout.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
RECIPES = [
    *sorted((REPO / "recipes").glob("*.md")),
    REPO / "examples" / "README.md",
    REPO / "example_fixtures" / "README.md",
]
MARKER = re.compile(r"^<!--\s*(?P<kind>runnable|not-run)(?::\s*(?P<text>.+?))?\s*-->\s*$")
FENCES = {"```bash": "bash", "```sh": "bash", "```shell": "bash", "```python": "python"}


def runnable_blocks(text: str, name: str = "README.md") -> list[tuple[int, str, str]]:
    """(line number, language, script) of every block to run; a bash or Python block without a
    marker, or a marker not before one, fails."""
    lines = text.splitlines()
    blocks = []
    marked: set[int] = set()
    for index, line in enumerate(lines):
        match = MARKER.match(line.strip())
        if not match:
            continue
        fence = lines[index + 1].strip() if index + 1 < len(lines) else ""
        if fence not in FENCES:
            raise AssertionError(f"{name}:{index + 1}: marker not before a ```bash or ```python")
        marked.add(index + 1)
        end = next((j for j in range(index + 2, len(lines)) if lines[j].strip() == "```"), None)
        if end is None:
            raise AssertionError(f"{name}:{index + 2}: unclosed code block")
        if match.group("kind") == "not-run":
            if not match.group("text"):
                raise AssertionError(f"{name}:{index + 1}: not-run needs a reason")
            continue
        body = textwrap.dedent("\n".join(lines[index + 2 : end]))  # blocks inside lists
        language = FENCES[fence]
        command = match.group("text")
        blocks.append((index + 1, "bash" if command else language, command or body))
    inside = False
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith("```"):
            continue
        if inside:
            inside = stripped != "```"
            continue
        inside = True
        if stripped in FENCES and index not in marked:
            raise AssertionError(
                f"{name}:{index + 1}: code block without <!-- runnable --> or "
                "<!-- not-run: reason -->"
            )
    return blocks


def test_marker_parsing() -> None:
    text = (
        "<!-- runnable -->\n```bash\necho a\n```\n<!-- runnable: gait demo -->\n```bash\nx\n```\n"
        "<!-- not-run: slow -->\n```bash\ny\n```\n<!-- runnable -->\n```python\nprint(1)\n```"
    )
    assert runnable_blocks(text) == [
        (1, "bash", "echo a"),
        (5, "bash", "gait demo"),
        (13, "python", "print(1)"),
    ]
    with pytest.raises(AssertionError):
        runnable_blocks("<!-- runnable -->\n```text\nx\n```")
    with pytest.raises(AssertionError, match="without"):
        runnable_blocks("```bash\necho unmarked\n```")
    with pytest.raises(AssertionError, match="reason"):
        runnable_blocks("<!-- not-run -->\n```bash\nx\n```")
    assert runnable_blocks("```text\nnot code\n```\n```yaml\na: 1\n```") == []


def _run_file(path: Path, tmp_path: Path, gait_home: Path, minimum: int) -> None:
    blocks = runnable_blocks(path.read_text(encoding="utf-8"), path.name)
    assert len(blocks) >= minimum, f"{path.name} lost its runnable blocks"
    bindir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "GAIT_HOME": str(gait_home),
        "PATH": bindir + os.pathsep + os.environ["PATH"],
        "USER": "reader",
    }
    env.pop("GAIT_MODE", None)
    work = tmp_path / "reader"
    work.mkdir()
    shutil.copytree(REPO / "examples", work / "examples")
    shutil.copytree(REPO / "example_fixtures", work / "example_fixtures")
    for line, language, script in blocks:
        argv = (
            ["bash", "-euo", "pipefail", "-c", script]
            if language == "bash"
            else [
                sys.executable,
                "-c",
                script,
            ]
        )
        proc = subprocess.run(
            argv,
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        where = f"{path.name}:{line}: {script!r}"
        assert proc.returncode == 0, f"{where} exited {proc.returncode}\n{proc.stdout}{proc.stderr}"
        assert "Traceback" not in proc.stderr, where


def test_readme_runnable_blocks(tmp_path: Path, gait_home: Path) -> None:
    _run_file(README, tmp_path, gait_home, minimum=8)


@pytest.mark.parametrize(
    "recipe", RECIPES, ids=[str(r.relative_to(REPO).with_suffix("")) for r in RECIPES]
)
def test_recipe_blocks(recipe: Path, tmp_path: Path, gait_home: Path) -> None:
    """Recipes, examples/README.md and example_fixtures/README.md, as a reader runs them."""
    index = recipe == REPO / "recipes" / "README.md"
    _run_file(recipe, tmp_path, gait_home, minimum=0 if index else 1)
