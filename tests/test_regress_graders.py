"""Each starter grader catches its kind of drift in a candidate runpack (exit 5), with its
reason code and its E_REGRESS_GRADER_FAIL_* code; on the fixture itself every grader passes."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from gait.regress.testing import DEFAULT_CALLS, make_fixture_set, receipt, write_run

FAST = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
ALL_OPT_IN = {
    "args_match": {
        "rules": [
            {"tool": "tool.search", "path": "$.query"},
            {"tool": "tool.fetch", "path": "timeout_ms", "tolerance": 10},
            {"tool": "tool.fetch", "path": "$.url", "regex": "^https://example\\.local/"},
        ]
    },
    "max_steps": True,
    "no_new_tools": True,
    "refs_match": True,
    "result_digest": True,
    "verdict_sequence": True,
}


def calls_with(index: int, tool=None, args=None, result="same"):
    calls = [list(c) for c in DEFAULT_CALLS]
    if tool is not None:
        calls[index][0] = tool
    if args is not None:
        calls[index][1] = {**calls[index][1], **args}
    if result != "same":
        calls[index][2] = result
    return [tuple(c) for c in calls]


# fixture name -> (candidate calls, candidate receipts, grader expected to fail, reason code)
DRIFTS = {
    "exit-code": (calls_with(2, result=None), None, "expected_exit_code", "unexpected_exit_code"),
    "trajectory": (
        calls_with(1, tool="tool.fetch_v2"),
        None,
        "trajectory",
        "unexpected_tool_sequence",
    ),
    "diff": (calls_with(0, result={"hits": 3}), None, "diff", "unexpected_diff"),
    "args-exact": (
        calls_with(0, args={"query": "refund policy v2"}),
        None,
        "args_match",
        "unexpected_args",
    ),
    "args-tolerance": (
        calls_with(1, args={"timeout_ms": 1600}),
        None,
        "args_match",
        "unexpected_args",
    ),
    "args-regex": (
        calls_with(1, args={"url": "http://evil.example/x"}),
        None,
        "args_match",
        "unexpected_args",
    ),
    "result-digest": (
        calls_with(1, result={"status": 500}),
        None,
        "result_digest",
        "unexpected_result_digest",
    ),
    "verdicts": (
        calls_with(2, result={"ok": True}),
        None,
        "verdict_sequence",
        "unexpected_verdict_sequence",
    ),
    "refs": (
        list(DEFAULT_CALLS),
        [receipt("ref_doc", "changed content")],
        "refs_match",
        "unexpected_refs",
    ),
    "new-tool": (
        [*DEFAULT_CALLS, ("tool.delete", {"path": "/"}, {"ok": True})],
        None,
        "no_new_tools",
        "unexpected_new_tools",
    ),
    "too-many-steps": (
        [*DEFAULT_CALLS, ("tool.search", {"query": "again"}, {"hits": 0})],
        None,
        "max_steps",
        "max_steps_exceeded",
    ),
}
CODES = {
    "expected_exit_code": "E_REGRESS_GRADER_FAIL_EXIT_CODE",
    "trajectory": "E_REGRESS_GRADER_FAIL_TRAJECTORY",
    "diff": "E_REGRESS_GRADER_FAIL_DIFF",
    "args_match": "E_REGRESS_GRADER_FAIL_ARGS_MATCH",
    "result_digest": "E_REGRESS_GRADER_FAIL_RESULT_DIGEST",
    "verdict_sequence": "E_REGRESS_GRADER_FAIL_VERDICT_SEQUENCE",
    "refs_match": "E_REGRESS_GRADER_FAIL_REFS_MATCH",
    "no_new_tools": "E_REGRESS_GRADER_FAIL_NO_NEW_TOOLS",
    "max_steps": "E_REGRESS_GRADER_FAIL_MAX_STEPS",
    "schema_validation": "E_REGRESS_GRADER_FAIL_SCHEMA",
}


def tamper(path: Path) -> None:
    """Edit results.jsonl in the zip, manifest untouched (as the reference tampered run_ref)."""
    with zipfile.ZipFile(path) as archive:
        members = [(i.filename, archive.read(i.filename)) for i in archive.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            if name == "results.jsonl":
                data = data.replace(b'"hits":2', b'"hits":9')
            archive.writestr(name, data)


@pytest.fixture(scope="module")
def drift_set(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("drift")
    refs = [receipt("ref_doc")]
    runs = {name: DEFAULT_CALLS for name in [*DRIFTS, "sound"]}
    make_fixture_set(root, runs={f"run_{n.replace('-', '_')}": c for n, c in runs.items()})
    for name, (calls, receipts, _, _) in DRIFTS.items():
        fixture = root / "fixtures" / f"run_{name.replace('-', '_')}"
        run_id = f"run_{name.replace('-', '_')}"
        # The fixture itself carries a receipt, so refs_match has something to compare.
        write_run(fixture / "runpack.zip", run_id, DEFAULT_CALLS, receipts=refs)
        write_run(fixture / "candidate.zip", run_id, calls, receipts=receipts or refs)
        meta = json.loads((fixture / "fixture.json").read_text())
        meta["candidate_runpack"] = "candidate.zip"
        meta["graders"] = {**meta["graders"], **ALL_OPT_IN}
        (fixture / "fixture.json").write_text(json.dumps(meta, indent=2))
    sound = root / "fixtures" / "run_sound"
    meta = json.loads((sound / "fixture.json").read_text())
    meta["graders"] = {**meta["graders"], **ALL_OPT_IN}
    (sound / "fixture.json").write_text(json.dumps(meta, indent=2))
    return root


@pytest.fixture(scope="module")
def drift_result(drift_set: Path, gait_home_module) -> dict:
    import os
    import shutil
    import subprocess
    import sys

    gait = Path(sys.executable).with_name("gait")
    proc = subprocess.run(
        [str(gait) if gait.exists() else shutil.which("gait"), "regress", "run", "--json"],
        cwd=drift_set,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **FAST, "GAIT_HOME": str(gait_home_module)},
    )
    assert proc.returncode == 5, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout)
    doc = json.loads((drift_set / "regress_result.json").read_text())
    return {"summary": summary, "doc": doc, "by_name": {g["name"]: g for g in doc["graders"]}}


@pytest.fixture(scope="module")
def gait_home_module(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("gait_home_module")


@pytest.mark.parametrize("name", sorted(DRIFTS))
def test_each_grader_catches_its_drift(drift_result, name):
    _, _, grader, reason = DRIFTS[name]
    fixture = name.replace("-", "_")
    entry = drift_result["by_name"][f"run_{fixture}/{grader}"]
    assert entry["status"] == "fail", entry
    assert reason in entry["reason_codes"]
    assert entry["error_code"] == CODES[grader]
    assert entry["details"]["fixture"] == f"run_{fixture}"
    assert entry["details"]["candidate_runpack"] == f"fixtures/run_{fixture}/candidate.zip"
    assert entry["diff_ref"] == f"gait-out/regress/run_{fixture}/diff.json"


def test_sound_fixture_passes_every_grader(drift_result):
    sound = {n: g for n, g in drift_result["by_name"].items() if n.startswith("run_sound/")}
    assert sorted(n.split("/")[1] for n in sound) == sorted([*CODES][:-1] + ["schema_validation"])
    assert all(g["status"] == "pass" for g in sound.values()), sound


def test_tampered_fixture_refuses_the_set_before_grading(tmp_path, run_gait):
    """As the reference: a fixture whose own runpack fails verification stops the run before
    any grader (exit 6, nothing written), naming the fixture and the failing check."""
    make_fixture_set(tmp_path, runs={"run_ok": DEFAULT_CALLS, "run_tampered": DEFAULT_CALLS})
    tamper(tmp_path / "fixtures" / "run_tampered" / "runpack.zip")
    (tmp_path / "regress_result.json").write_text("earlier result")
    proc = run_gait("regress", "run", cwd=tmp_path, env=FAST)
    assert proc.returncode == 6, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    head, hint = proc.stderr.splitlines()
    assert head == (
        "gait: E_REGRESS_FIXTURE_INVALID: fixture 'run_tampered': runpack "
        "fixtures/run_tampered/runpack.zip fails verification: check member_hashes failed "
        "(results.jsonl)"
    )
    assert hint.startswith("next: gait verify fixtures/run_tampered/runpack.zip;")
    assert (tmp_path / "regress_result.json").read_text() == "earlier result"
    assert not (tmp_path / "gait-out").exists()


def test_only_drifted_graders_fail(drift_result):
    failing = {n for n, g in drift_result["by_name"].items() if g["status"] != "pass"}
    assert "run_exit_code/no_new_tools" not in failing  # same tools, one result missing
    assert "run_args_exact/max_steps" not in failing
    assert drift_result["summary"]["failed"] == len(failing)
    names = [g["name"] for g in drift_result["doc"]["graders"]]
    assert names == sorted(names)


def test_plain_python_grading_and_a_registered_plugin(tmp_path: Path, monkeypatch) -> None:
    """Graders run without pytest; a plugin object registered by hand joins the starter ones.
    The engine's working directory is cleaned by the next run once its process is gone."""
    import subprocess
    import sys
    import tempfile

    from gait.regress import Grader, GradeResult, GraderRegistry, grade_fixture_set, hookimpl
    from gait.regress.config import load_config
    from gait.regress.engine import RegressEngine

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], stdout=-1)
    left = tmp_path / f".gait-regress.{int(dead.stdout)}.k1ll3d.tmp"  # what a kill left
    (left / "fixture").mkdir(parents=True)
    examples = Path(__file__).resolve().parents[1] / "example_fixtures" / "gait.yaml"
    entries = grade_fixture_set(str(examples))
    assert not left.exists()
    assert [p.name.split(".")[2] for p in tmp_path.glob(".gait-regress.*")] == [str(os.getpid())]
    assert [e.name for e in entries][:4] == [
        "run_demo/diff",
        "run_demo/expected_exit_code",
        "run_demo/schema_validation",
        "run_demo/trajectory",
    ]
    assert {e.status for e in entries} == {"pass"}

    class Strict:
        @hookimpl
        def gait_grader_register(self):
            return [Grader("three_steps", self.grade, default=True)]

        def grade(self, ctx):
            steps = len(ctx.candidate_runpack().intents)
            if steps == 3:
                return GradeResult.passed(details={"steps": steps})
            return GradeResult.failed("not_three_steps", details={"steps": steps})

    registry = GraderRegistry()
    registry.register(Strict())
    engine = RegressEngine(load_config(examples), registry)
    results = {e.name: e for e in engine.run_all()}
    assert results["run_demo/three_steps"].status == "pass"
    failed = results["run_refund_support/three_steps"]
    assert failed.status == "fail" and failed.reason_codes == ["not_three_steps"]
    assert failed.error_code == "E_REGRESS_GRADER_FAIL_THREE_STEPS"


def test_plugin_returning_a_bare_grader_is_named_not_a_traceback():
    """gait_grader_register must return a list; a lone Grader was a TypeError (not iterable)."""
    from gait.errors import InvalidInput
    from gait.regress import Grader, GradeResult, hookimpl
    from gait.regress.manager import GraderRegistry

    class Bare:
        @hookimpl
        def gait_grader_register(self):
            return Grader("lonely", lambda ctx: GradeResult.passed())

    registry = GraderRegistry(load_entry_points=False)
    registry.register(Bare(), "bare-plugin")
    with pytest.raises(InvalidInput) as info:
        registry.graders()
    assert info.value.code == "E_REGRESS_GRADER_PLUGIN"
    assert "'bare-plugin' returned Grader" in info.value.message
