"""``gait regress init``: one command from an incident runpack to a fixture, never half-written,
never silently replacing a fixture."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gait.errors import InvalidInput, VerificationFailed
from gait.regress.init import init_fixture, sanitize_name
from gait.regress.testing import DEFAULT_CALLS, write_run

FAST = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def test_demo_run_becomes_a_passing_fixture_by_run_id(tmp_path, run_gait):
    assert run_gait("demo", cwd=tmp_path, env=FAST).returncode == 0
    proc = run_gait("regress", "init", "--from", "run_demo", cwd=tmp_path, env=FAST)
    assert proc.returncode == 0, proc.stderr
    assert "fixture=fixtures/run_demo run_id=run_demo" in proc.stdout
    meta = json.loads((tmp_path / "fixtures/run_demo/fixture.json").read_text())
    assert meta["expected_tool_sequence"] == ["tool.search", "tool.fetch", "tool.summarize"]
    assert meta["expected_verdict_sequence"] == ["allow", "allow", "allow"]
    assert meta["expected_replay_exit_code"] == 0
    again = run_gait("regress", "init", "--from", "run_demo", cwd=tmp_path, env=FAST)
    assert again.returncode == 6
    assert "gait: E_REGRESS_FIXTURE_EXISTS: fixture 'run_demo' already exists" in again.stderr
    forced = run_gait(
        "regress", "init", "--from", "run_demo", "--force", "--json", cwd=tmp_path, env=FAST
    )
    assert forced.returncode == 0 and json.loads(forced.stdout)["replaced"] is True
    run = run_gait("regress", "run", cwd=tmp_path, env=FAST)
    assert run.returncode == 0, run.stdout + run.stderr


def test_init_extends_gait_yaml_and_keeps_our_keys(tmp_path):
    first = write_run(tmp_path / "src" / "a.zip", "run_Alpha-Incident", DEFAULT_CALLS)
    second = write_run(tmp_path / "src" / "b.zip", "run_beta", DEFAULT_CALLS[:1])
    root = tmp_path / "set"
    result = init_fixture(str(first), directory=root)
    assert result.fixture_name == "run_alpha-incident"
    config = json.loads((root / "gait.yaml").read_text())
    config["graders"] = {"max_steps": {"max": 5}}
    config["timeout_seconds"] = 30
    (root / "gait.yaml").write_text(json.dumps(config))
    init_fixture(str(second), name="beta", directory=root)
    config = json.loads((root / "gait.yaml").read_text())
    assert [f["name"] for f in config["fixtures"]] == ["beta", "run_alpha-incident"]
    assert config["graders"] == {"max_steps": {"max": 5}} and config["timeout_seconds"] == 30
    assert list(config)[:4] == ["schema_id", "schema_version", "fixture_set", "fixtures"]


@pytest.mark.parametrize(
    ("run_id", "name"),
    [("run_demo", "run_demo"), ("run_ABC/def", "run_abc-def"), ("run__x..", "run__x")],
)
def test_sanitize_name(run_id, name):
    assert sanitize_name(run_id) == name


def test_bad_name_and_bad_runpack_write_nothing(tmp_path, conformance_dir):
    source = write_run(tmp_path / "a.zip", "run_a", DEFAULT_CALLS)
    root = tmp_path / "set"
    with pytest.raises(InvalidInput) as bad:
        init_fixture(str(source), name="Bad Name", directory=root)
    assert bad.value.code == "E_REGRESS_FIXTURE_NAME"
    tampered = tmp_path / "tampered.zip"
    shutil.copy(conformance_dir / "reference/runpacks/runpack_run_ref.tampered.zip", tampered)
    with pytest.raises(VerificationFailed) as failed:
        init_fixture(str(tampered), directory=root)
    assert failed.value.code == "E_VERIFY_HASH_MISMATCH"
    assert not root.exists() or not any(Path(root).rglob("*"))


def test_invalid_existing_config_is_not_overwritten(tmp_path):
    source = write_run(tmp_path / "a.zip", "run_a", DEFAULT_CALLS)
    root = tmp_path / "set"
    root.mkdir()
    (root / "gait.yaml").write_text("fixtures: [unclosed")
    with pytest.raises(InvalidInput):
        init_fixture(str(source), directory=root)
    assert (root / "gait.yaml").read_text() == "fixtures: [unclosed"
    assert not (root / "fixtures").exists()
