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


def build_distribution(root: Path, dist: str, module: str) -> Path:
    root.mkdir(parents=True)
    (root / f"{module}.py").write_text(MODULE)
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{dist}"
            version = "0.0.1"
            dependencies = ["pytest-gait"]

            [project.entry-points."gait.graders"]
            no_shell = "{module}"

            [tool.setuptools]
            py-modules = ["{module}"]
            """
        )
    )
    return root


def pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args, "--quiet", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=300,
    )


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
    source = build_distribution(tmp_path / "dist", dist, module)
    installed = pip("install", "--no-deps", "--no-build-isolation", str(source))
    assert installed.returncode == 0, installed.stderr
    try:
        listed = run_gait("regress", "graders", "--json", env=FAST)
        graders = {g["name"]: g for g in json.loads(listed.stdout)["graders"]}
        assert graders["no_shell"]["source"] == "no_shell"
        assert graders["no_shell"]["error_code"] == "E_REGRESS_GRADER_FAIL_NO_SHELL"

        proc = run_gait("regress", "run", "--json", cwd=root, env=FAST)
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
            env={**os.environ, **FAST},
        )
        assert "no_shell" not in proc.stdout and "4 tests collected" in proc.stdout
    finally:
        removed = pip("uninstall", "--yes", dist)
        assert removed.returncode == 0, removed.stderr
    listed = run_gait("regress", "graders", "--json", env=FAST)
    assert "no_shell" not in listed.stdout
