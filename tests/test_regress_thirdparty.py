"""A third-party grader, shipped as its own tiny distribution with a ``gait.graders`` entry
point, is picked up by ``gait regress run`` (and ``pytest --gait``) with no configuration."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

FAST = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}

MODULE = textwrap.dedent(
    '''
    """No tool named like a shell command: a grader in a few lines."""
    from gait.regress import Grader, GradeResult, hookimpl


    def no_shell(ctx):
        tools = [i["tool_name"] for i in ctx.candidate_runpack().intents]
        shell = [t for t in tools if "shell" in t or "exec" in t]
        if shell:
            return GradeResult.failed("shell_tool_called", details={"tools": shell})
        return GradeResult.passed(details={"checked": len(tools)})


    @hookimpl
    def gait_grader_register():
        return [Grader("no_shell", no_shell, description="no shell or exec tools")]
    '''
)


def install_distribution(site: Path, dist: str, module: str) -> dict[str, str]:
    """An installed distribution as pip leaves one: the module and its ``.dist-info`` (metadata
    and entry points) in a directory on ``sys.path``. The environment that puts it there.

    A directory of its own instead of pip installing into the test venv: nothing to uninstall,
    nothing another test run sees, and seconds less."""
    site.mkdir(parents=True)
    (site / f"{module}.py").write_text(MODULE)
    info = site / f"{dist.replace('-', '_')}-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.1\nRequires-Dist: pytest-gait\n"
    )
    (info / "entry_points.txt").write_text(f"[gait.graders]\nno_shell = {module}\n")
    (info / "top_level.txt").write_text(f"{module}\n")
    (info / "RECORD").write_text("")
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {**FAST, "PYTHONPATH": path}


def test_installed_grader_is_picked_up_with_no_configuration(conformance_dir, tmp_path, run_gait):
    ref = conformance_dir / "reference"
    root = tmp_path / "set"
    (root / "fixtures/run_raw").mkdir(parents=True)
    shutil.copy(ref / "regress/gait.yaml", root / "gait.yaml")
    shutil.copy(ref / "regress/fixture.json", root / "fixtures/run_raw/fixture.json")
    shutil.copy(ref / "runpacks/runpack_run_raw.zip", root / "fixtures/run_raw/runpack.zip")
    config_before = (root / "gait.yaml").read_bytes()

    suffix = uuid.uuid4().hex[:8]
    dist, module = f"gait-grader-noshell-{suffix}", f"gait_grader_noshell_{suffix}"
    env = install_distribution(tmp_path / "site", dist, module)
    listed = run_gait("regress", "graders", "--json", env=env)
    graders = {g["name"]: g for g in json.loads(listed.stdout)["graders"]}
    assert graders["no_shell"]["source"] == "no_shell"
    assert graders["no_shell"]["error_code"] == "E_REGRESS_GRADER_FAIL_NO_SHELL"

    proc = run_gait("regress", "run", "--json", cwd=root, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["graders"] == 5
    doc = json.loads((root / "regress_result.json").read_text())
    entry = next(g for g in doc["graders"] if g["name"] == "run_raw/no_shell")
    assert entry == {
        "name": "run_raw/no_shell",
        "status": "pass",
        "reason_codes": [],
        "details": {"checked": 3, "fixture": "run_raw", "run_id": "run_raw"},
    }
    assert (root / "gait.yaml").read_bytes() == config_before  # no configuration touched

    # Through pytest too, and it can be turned off per set without uninstalling it.
    doc = json.loads(config_before)
    doc["graders"] = {"no_shell": False}
    (root / "gait.yaml").write_text(json.dumps(doc))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "gait", "--gait", "-q", "--co"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )
    assert "no_shell" not in proc.stdout and "4 tests collected" in proc.stdout
    # Not installed (not on the path): not there.
    listed = run_gait("regress", "graders", "--json", env=FAST)
    assert "no_shell" not in listed.stdout
