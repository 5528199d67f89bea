"""The reference's fixture set runs here unchanged, through ``gait regress run`` and through
``pytest --gait``, and grades exactly as the reference graded it (FORMATS.md 6.4)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

OURS_ONLY = ("error_code", "diff_ref", "nondeterministic")
# Other installed pytest plugins (hypothesis, benchmark...) cost seconds per subprocess and play
# no part in grading; `-p gait` still loads ours by its entry-point name.
FAST = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def comparable(doc: dict) -> dict:
    """Our result minus this project's additions, with the reference's producer version."""
    out = dict(doc)
    out["producer_version"] = "0.0.0-dev"
    out.pop("next_commands", None)
    out["graders"] = [{k: v for k, v in g.items() if k not in OURS_ONLY} for g in doc["graders"]]
    return out


def run_pytest(*args: str, cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_reference_set_passes_via_cli_byte_for_byte(
    reference_set, conformance_dir, tmp_path, run_gait
):
    root = reference_set(tmp_path / "set")
    proc = run_gait("regress", "run", "--json", "--junit", "junit.xml", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    expected_run = json.loads((conformance_dir / "reference/regress/regress_run.json").read_text())
    for key in ("artifact_paths", "fixture_set", "graders", "junit", "ok", "output", "status"):
        assert out[key] == expected_run[key], key
    reference = (conformance_dir / "reference/regress/regress_result.json").read_bytes()
    ours = (root / "regress_result.json").read_bytes()
    # Same bytes as the reference's file but for the producer version.
    assert ours.replace(b'"0.1.0"', b'"0.0.0-dev"') == reference
    # Unchanged fixture set: the run wrote only its outputs.
    assert json.loads((root / "gait.yaml").read_text()) == json.loads(
        (conformance_dir / "reference/regress/gait.yaml").read_text()
    )


def test_reference_set_passes_via_pytest_gait(reference_set, conformance_dir, tmp_path):
    root = reference_set(tmp_path / "set")
    proc = run_pytest("--gait", "--junitxml=junit.xml", cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 passed" in proc.stdout
    reference = json.loads((conformance_dir / "reference/regress/regress_result.json").read_text())
    assert comparable(json.loads((root / "regress_result.json").read_text())) == reference
    cases = ET.parse(root / "junit.xml").getroot().iter("testcase")
    names = [(c.get("classname"), c.get("name")) for c in cases]
    assert names == [
        ("fixtures.run_raw", g)
        for g in ("diff", "expected_exit_code", "schema_validation", "trajectory")
    ]


def test_reference_drift_fails_with_reference_reasons(
    reference_set, conformance_dir, tmp_path, run_gait
):
    root = reference_set(tmp_path / "set", drift=True)
    proc = run_gait("regress", "run", "--json", "--junit", "junit.xml", cwd=root, env=FAST)
    assert proc.returncode == 5, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    expected = json.loads(
        (conformance_dir / "reference/regress-drift/regress_run.json").read_text()
    )
    for key in ("failed", "fixture_set", "graders", "ok", "status", "top_failure_reason"):
        assert out[key] == expected[key], key
    assert out["error_code"] == "E_REGRESS_GRADER_FAIL_TRAJECTORY"
    doc = json.loads((root / "regress_result.json").read_text())
    reference = json.loads(
        (conformance_dir / "reference/regress-drift/regress_result.json").read_text()
    )
    assert comparable(doc) == reference
    from gait import schema

    schema.validate("gait.regress.result", doc)
    failing = [g for g in doc["graders"] if g["status"] == "fail"]
    assert [g["error_code"] for g in failing] == ["E_REGRESS_GRADER_FAIL_TRAJECTORY"]
    assert failing[0]["diff_ref"] == "gait-out/regress/run_raw/diff.json"
    assert doc["next_commands"]
    diff = json.loads((root / "gait-out/regress/run_raw/diff.json").read_text())
    assert diff["failures"][0]["divergence"][0].startswith("tool step 1: expected")
    # JUnit: pytest's own writer, with grader, fixture and failure code as properties.
    suite = ET.parse(root / "junit.xml").getroot().find("testsuite")
    assert suite.get("name") == "gait.regress.default"
    assert suite.get("failures") == "1"
    case = next(c for c in suite.iter("testcase") if c.get("name") == "trajectory")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["gait.grader"] == "trajectory"
    assert props["gait.fixture"] == "run_raw"
    assert props["gait.failure_code"] == "E_REGRESS_GRADER_FAIL_TRAJECTORY"
    assert props["gait.reason_codes"] == "unexpected_tool_sequence,unexpected_verdict_sequence"
    failure = case.find("failure")
    assert failure is not None and "tool step 1" in failure.text
    assert "Traceback" not in failure.text


def test_drift_report_is_bounded_and_points_at_the_diff(reference_set, tmp_path):
    root = reference_set(tmp_path / "set", drift=True)
    proc = run_pytest("-p", "gait", "--gait", cwd=root, env=FAST)
    assert proc.returncode == 1
    section = proc.stdout.split("run_raw::trajectory", 1)[1].split("=====")[0]
    lines = [line for line in section.splitlines() if line.strip() and "____" not in line]
    assert len(lines) <= 8
    assert 'first divergence: tool step 1: expected "tool.fetch_v2", actual "tool.fetch"' in section
    assert "gait-out/regress/run_raw/diff.json" in section
    assert "Traceback" not in proc.stdout


def test_init_from_the_reference_raw_runpack_writes_what_the_reference_wrote(
    conformance_dir, tmp_path, run_gait
):
    shutil.copy(conformance_dir / "reference/runpacks/runpack_run_raw.zip", tmp_path)
    proc = run_gait(
        "regress", "init", "--from", "./runpack_run_raw.zip", "--json", cwd=tmp_path, env=FAST
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    expected = json.loads((conformance_dir / "reference/regress/regress_init.json").read_text())
    for key in ("config_path", "fixture_dir", "fixture_name", "ok", "run_id", "runpack_path"):
        assert out[key] == expected[key], key
    ref = conformance_dir / "reference/regress"
    assert (tmp_path / "gait.yaml").read_bytes() == (ref / "gait.yaml").read_bytes()
    meta = json.loads((tmp_path / "fixtures/run_raw/fixture.json").read_text())
    assert sorted(meta.pop("graders")) == [
        "diff",
        "expected_exit_code",
        "schema_validation",
        "trajectory",
    ]
    assert meta == json.loads((ref / "fixture.json").read_text())
    assert (tmp_path / "fixtures/run_raw/runpack.zip").read_bytes() == (
        tmp_path / "runpack_run_raw.zip"
    ).read_bytes()


def test_result_bytes_do_not_depend_on_hash_seed(reference_set, tmp_path, run_gait):
    root = reference_set(tmp_path / "set", drift=True)
    seen = set()
    for seed in ("1", "987654"):
        proc = run_gait("regress", "run", cwd=root, env={"PYTHONHASHSEED": seed, **FAST})
        assert proc.returncode == 5
        seen.add((root / "regress_result.json").read_bytes())
    assert len(seen) == 1
