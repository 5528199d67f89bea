"""The pytest plugin through pytester, in process: collection through ``pytest_collect_file``
(path arguments narrow gait items), grader exceptions with their traceback, partial runs that
leave regress_result.json alone, and ``gait_recorder`` run ids that keep the module path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gait.regress.testing import DEFAULT_CALLS, make_fixture_set

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def only_named_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process pytest runs load only -p gait (and pytester's own), not every installed
    plugin: autoloading them is most of a small run's time and plays no part here."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture
def fixture_set(pytester: pytest.Pytester) -> Path:
    root = pytester.path
    make_fixture_set(root, runs={"run_a": DEFAULT_CALLS, "run_b": DEFAULT_CALLS[:2]})
    pytester.makepyfile(test_x="def test_plain():\n    assert True\n")
    return root


def collected(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if "::" in line and not line.startswith(" ")]


def test_path_arguments_narrow_gait_items(pytester: pytest.Pytester, fixture_set: Path) -> None:
    only_test = pytester.runpytest("-p", "gait", "--gait", "--co", "-q", "test_x.py")
    assert collected(only_test) == ["test_x.py::test_plain"]
    everything = pytester.runpytest("-p", "gait", "--gait", "--co", "-q")
    names = collected(everything)
    assert "test_x.py::test_plain" in names
    assert "fixtures/run_a::trajectory" in names and "fixtures/run_b::diff" in names
    just_set = pytester.runpytest("-p", "gait", "--gait", "--co", "-q", "gait.yaml")
    assert "test_x.py::test_plain" not in collected(just_set)
    assert len(collected(just_set)) == 8


def test_k_lf_and_x_work(pytester: pytest.Pytester, reference_set) -> None:  # noqa: ANN001
    reference_set(pytester.path, drift=True)
    proc = pytester.runpytest("-p", "gait", "--gait", "-q", "--co")
    assert collected(proc) == [
        f"fixtures/run_raw::{g}"
        for g in ("diff", "expected_exit_code", "schema_validation", "trajectory")
    ]
    proc = pytester.runpytest("-p", "gait", "--gait", "-k", "trajectory or diff")
    proc.assert_outcomes(failed=1, passed=1, deselected=2)
    proc = pytester.runpytest("-p", "gait", "--gait", "--lf")
    proc.assert_outcomes(failed=1, deselected=3)
    proc = pytester.runpytest("-p", "gait", "--gait", "-x")
    assert proc.ret == 1


def test_grader_exception_keeps_its_traceback(pytester: pytest.Pytester, fixture_set: Path) -> None:
    pytester.makeconftest(
        """
        from gait.regress import Grader, hookimpl

        def helper_that_breaks(ctx):
            return {}["missing"]

        def explode(ctx):
            return helper_that_breaks(ctx)

        @hookimpl
        def gait_grader_register():
            return [Grader("exploding", explode)]
        """
    )
    result = pytester.runpytest("-p", "gait", "--gait", "--tb=long", "-k", "run_a")
    result.assert_outcomes(passed=4, errors=1, deselected=6)
    text = result.stdout.str()
    assert "def helper_that_breaks(ctx):" in text and "KeyError: 'missing'" in text
    partial = json.loads((fixture_set / "regress_partial.json").read_text())
    entry = next(g for g in partial["graders"] if g["name"] == "run_a/exploding")
    assert entry["reason_codes"] == ["grader_error"]
    assert not (fixture_set / "regress_result.json").exists()


def test_subset_runs_write_partial_only(pytester: pytest.Pytester, fixture_set: Path) -> None:
    pytester.runpytest("-p", "gait", "--gait").assert_outcomes(passed=9)
    full = (fixture_set / "regress_result.json").read_bytes()
    for name in ("run_a", "run_b"):
        meta = fixture_set / f"fixtures/{name}/fixture.json"
        doc = json.loads(meta.read_text())
        doc["expected_tool_sequence"] = ["tool.other"]
        meta.write_text(json.dumps(doc))
    # -x stops at run_a/trajectory: run_b is never graded.
    for args in (["-k", "run_b and trajectory"], ["-x"]):
        result = pytester.runpytest("-p", "gait", "--gait", *args)
        assert result.ret == 1
        assert (fixture_set / "regress_result.json").read_bytes() == full
        partial = json.loads((fixture_set / "regress_partial.json").read_text())
        assert partial["complete"] is False and partial["status"] == "fail"
        assert "regress_partial.json" in result.stdout.str()
    result = pytester.runpytest("-p", "gait", "--gait")
    assert json.loads((fixture_set / "regress_result.json").read_text())["status"] == "fail"


def test_tampered_fixture_is_bad_input_not_a_failure(
    pytester: pytest.Pytester, fixture_set: Path
) -> None:
    """pytest --gait exits as gait regress run does: 6, one line naming fixture and check."""
    import zipfile

    runpack = fixture_set / "fixtures/run_b/runpack.zip"
    with zipfile.ZipFile(runpack) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["intents.jsonl"] = members["intents.jsonl"].replace(b"tool.fetch", b"tool.fetcX")
    with zipfile.ZipFile(runpack, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    result = pytester.runpytest("-p", "gait", "--gait")
    assert result.ret == 6
    result.stderr.fnmatch_lines(
        [
            "*gait: E_REGRESS_FIXTURE_INVALID: fixture 'run_b': runpack "
            "fixtures/run_b/runpack.zip fails verification: check member_hashes failed "
            "(intents.jsonl)",
            "next: gait verify fixtures/run_b/runpack.zip; restore it, or re-create the fixture: *",
        ]
    )
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert not (fixture_set / "regress_result.json").exists()


def test_gait_recorder_run_ids_keep_the_module_path(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (
        "def test_agent(gait_recorder):\n"
        "    gait_recorder.intent('tool.note', {'module': __name__})\n"
    )
    pytester.makepyfile(test_a=body, test_b=body)
    out = pytester.path / "out"
    monkeypatch.setenv("GAIT_RECORD_DIR", str(out))
    pytester.runpytest("-p", "gait").assert_outcomes(passed=2)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["runpack_run_test_a_py_test_agent.zip", "runpack_run_test_b_py_test_agent.zip"]


def test_failure_text_is_bounded_unless_very_verbose() -> None:
    from gait.regress.engine import Entry
    from pytest_gait.report import failure_text

    divergence = ["tool calls: 60 inserted, 0 removed, 0 changed (fixture 0 calls, candidate 60)"]
    divergence += [f"  + #{n} tool.step_{n}  inserted: not in the fixture" for n in range(1, 61)]
    entry = Entry(
        "run_x",
        "trajectory",
        "fail",
        ["unexpected_tool_sequence"],
        {},
        live=True,
        error_code="E_REGRESS_GRADER_FAIL_TRAJECTORY",
        divergence=divergence,
    )
    short = failure_text(entry).splitlines()
    assert len(short) == 40
    assert short[-1] == "accept: pytest --gait --gait-update -k run_x"
    assert "more lines (-vv shows all)" in short[-2]
    full = failure_text(entry, verbosity=2).splitlines()
    assert "  + #60 tool.step_60  inserted: not in the fixture" in full
    refused = Entry(
        "run_x",
        "trajectory",
        "fail",
        ["replay_miss"],
        {},
        live=True,
        refused="1 replay miss(es): no recorded call to tool.x",
    )
    text = failure_text(refused, cli=True)
    assert "accept:" not in text and "--update would refuse this candidate" in text
