"""The reference's CI hand-off commands: ``gait capture``, ``gait regress add``,
``gait regress bootstrap`` and ``gait regress report`` (flags and outputs as the reference's)."""

from __future__ import annotations

import json
from pathlib import Path

FAST = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def test_capture_receipt_then_add(tmp_path: Path, run_gait) -> None:  # noqa: ANN001
    assert run_gait("demo", cwd=tmp_path).returncode == 0
    proc = run_gait(
        "capture", "--from", "run_demo", "--out", "gait-out/capture.json", "--json", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    receipt = json.loads((tmp_path / "gait-out/capture.json").read_text())
    assert list(receipt) == [
        "schema_id",
        "schema_version",
        "ok",
        "from",
        "artifact_type",
        "artifact_path",
        "run_id",
        "output_path",
    ]
    assert receipt["schema_id"] == "gait.capture.receipt" and receipt["artifact_type"] == "runpack"
    assert receipt["run_id"] == "run_demo" and out["artifact_path"] == receipt["artifact_path"]
    proc = run_gait("regress", "add", "--from", "gait-out/capture.json", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    added = json.loads(proc.stdout)
    assert added["source"] == "gait-out/capture.json" and added["fixture_name"] == "run_demo"
    assert (tmp_path / "fixtures/run_demo/runpack.zip").is_file()
    # A receipt for anything but a runpack is refused in one line.
    receipt["artifact_type"] = "trace"
    (tmp_path / "trace_receipt.json").write_text(json.dumps(receipt))
    proc = run_gait("regress", "add", "--from", "trace_receipt.json", cwd=tmp_path)
    assert proc.returncode == 6
    assert proc.stderr.startswith("gait: E_CAPTURE_RECEIPT_INVALID: ")
    proc = run_gait("capture", "--from", "run_nope", cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr


def test_bootstrap_then_report(tmp_path: Path, run_gait) -> None:  # noqa: ANN001
    assert run_gait("demo", cwd=tmp_path).returncode == 0
    proc = run_gait(
        "regress",
        "bootstrap",
        "--from",
        "run_demo",
        "--json",
        "--junit",
        "./gait-out/junit.xml",
        cwd=tmp_path,
        env=FAST,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] is True and out["status"] == "pass" and out["fixture_name"] == "run_demo"
    assert out["artifact_paths"] == ["regress_result.json", "./gait-out/junit.xml"]
    assert (tmp_path / "gait-out/junit.xml").is_file()
    report = run_gait("regress", "report", cwd=tmp_path)
    assert report.returncode == 0
    assert report.stdout.startswith("regress report: fixture_set=default status=pass fixtures=1")
    # A failing set: report exits 5 and names the failing grader and its diff.
    meta = tmp_path / "fixtures/run_demo/fixture.json"
    doc = json.loads(meta.read_text())
    doc["expected_tool_sequence"] = ["tool.other"]
    meta.write_text(json.dumps(doc))
    assert run_gait("regress", "run", cwd=tmp_path, env=FAST).returncode == 5
    report = run_gait("regress", "report", "--json", cwd=tmp_path)
    assert report.returncode == 5
    summary = json.loads(report.stdout)
    assert summary["failing_fixtures"] == ["run_demo"]
    assert summary["failures"][0]["name"] == "run_demo/trajectory"
    assert summary["failures"][0]["diff_ref"] == "gait-out/regress/run_demo/diff.json"


def test_report_bad_input(tmp_path: Path, run_gait) -> None:  # noqa: ANN001
    proc = run_gait("regress", "report", cwd=tmp_path)
    assert proc.returncode == 6
    assert proc.stderr.splitlines() == [
        "gait: E_REGRESS_RESULT_MISSING: regress_result.json not found: no regress run has "
        "written a result here",
        "next: gait regress run",
    ]
    (tmp_path / "regress_result.json").write_text('{"schema_id": "other"}')
    proc = run_gait("regress", "report", cwd=tmp_path)
    assert proc.returncode == 6 and "E_REGRESS_RESULT_INVALID" in proc.stderr
