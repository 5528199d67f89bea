"""Case reduction and receipts through the CLI on the reference's own runpacks."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest


def _json(proc) -> dict:  # noqa: ANN001
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def runs(tmp_path: Path, conformance_dir: Path) -> Path:
    for name in ("runpack_run_ref.zip", "runpack_run_changed.zip", "runpack_run_raw.zip"):
        shutil.copy(conformance_dir / "reference" / "runpacks" / name, tmp_path / name)
    return tmp_path


def _lines(path: Path, member: str) -> list[dict]:
    with zipfile.ZipFile(path) as archive:
        return [json.loads(line) for line in archive.read(member).splitlines() if line]


def test_non_ok_status_keeps_only_the_failing_call(runs: Path, run_gait) -> None:  # noqa: ANN001
    proc = run_gait(
        "run",
        "reduce",
        "--from",
        "runpack_run_ref.zip",
        "--predicate",
        "non_ok_status",
        "--json",
        cwd=runs,
    )
    assert proc.returncode == 0, proc.stderr
    doc = _json(proc)
    out = runs / doc["output"]
    report = json.loads((runs / doc["report_path"]).read_text())
    assert report == doc["report"] and report["still_failing"] is True
    assert report["selected_intent_id"] == "intent_3" and report["reduced_intent_count"] == 1
    assert report["reduced_run_id"] == "run_ref_reduced_nonokstatus"
    intents, results = _lines(out, "intents.jsonl"), _lines(out, "results.jsonl")
    assert [i["intent_id"] for i in intents] == ["intent_3"]
    assert [r["status"] for r in results] == ["error"]
    assert run_gait("verify", str(out), cwd=runs).returncode == 0
    again = run_gait(
        "run",
        "reduce",
        "--from",
        str(out),
        "--predicate",
        "non_ok_status",
        "--out",
        "twice.zip",
        "--json",
        cwd=runs,
    )
    assert _json(again)["report"]["selected_intent_id"] == "intent_3"


def test_our_predicates_verdict_and_replay_miss(runs: Path, run_gait) -> None:  # noqa: ANN001
    proc = run_gait(
        "run",
        "reduce",
        "--from",
        "runpack_run_raw.zip",
        "--predicate",
        "verdict",
        "--tool",
        "tool.write",
        "--verdict",
        "error",
        "--json",
        cwd=runs,
    )
    assert _json(proc)["report"]["predicate_detail"] == {
        "name": "verdict",
        "tool": "tool.write",
        "verdict": "error",
    }
    proc = run_gait(
        "run",
        "reduce",
        "--from",
        "runpack_run_changed.zip",
        "--predicate",
        "replay_miss",
        "--against",
        "runpack_run_ref.zip",
        "--json",
        cwd=runs,
    )
    doc = _json(proc)
    reduced = _lines(runs / doc["output"], "intents.jsonl")
    recorded = {
        (i["tool_name"], i["args_digest"])
        for i in _lines(runs / "runpack_run_ref.zip", "intents.jsonl")
    }
    assert (reduced[0]["tool_name"], reduced[0]["args_digest"]) not in recorded
    replay = run_gait("run", "replay", "runpack_run_ref.zip", cwd=runs)
    assert replay.returncode == 0


def test_predicate_not_triggered_and_unknown(runs: Path, run_gait) -> None:  # noqa: ANN001
    proc = run_gait("run", "reduce", "--from", "runpack_run_ref.zip", "--json", cwd=runs)
    assert proc.returncode == 6 and _json(proc)["error_code"] == "E_REDUCE_PREDICATE_NOT_TRIGGERED"
    proc = run_gait("run", "reduce", "runpack_run_ref.zip", "--predicate", "nope", cwd=runs)
    assert proc.returncode == 6 and "E_REDUCE_PREDICATE_INVALID" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_receipt_reprints_the_footer(runs: Path, run_gait) -> None:  # noqa: ANN001
    proc = run_gait("run", "receipt", "--from", "runpack_run_ref.zip", cwd=runs)
    assert proc.stdout.strip() == (
        "GAIT run_id=run_ref manifest=sha256:"
        "aa6c8f2bb429c1e54d8a552e4952ce96d6ad4571945a41fb34fa5c59ac5dd4fc "
        'verify="gait verify run_ref"'
    )
    tampered = runs / "t.zip"
    shutil.copy(runs.parent / runs.name / "runpack_run_ref.zip", tampered)
    with (
        zipfile.ZipFile(runs / "runpack_run_ref.zip") as src,
        zipfile.ZipFile(tampered, "w") as dst,
    ):
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info.filename, data.replace(b"tool.search", b"tool.serch"))
    proc = run_gait("run", "receipt", str(tampered), "--json", cwd=runs)
    assert proc.returncode == 2 and _json(proc)["ok"] is False


# --- --predicate grader: a regress fixture's real grader as the predicate ---------------------

FAST = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def _record(path: Path, run_id: str, tools: list[str]) -> Path:
    import gait

    with gait.record(run_id=run_id, out=str(path)) as run:
        for n, tool in enumerate(tools):
            iid = run.intent(tool, {"step": n})
            run.result(iid, {"step": n})
    return path


@pytest.fixture
def suite(tmp_path: Path, run_gait) -> Path:  # noqa: ANN001
    """gait.yaml with one fixture recorded from a good run of three known tools."""
    _record(tmp_path / "good.zip", "run_good", ["tool.search", "tool.fetch", "tool.write"])
    proc = run_gait(
        "regress", "init", "--from", "good.zip", "--name", "good", cwd=tmp_path, env=FAST
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tmp_path


def _reduce(run_gait, where: Path, *extra: str):  # noqa: ANN001, ANN202
    return run_gait(
        "run", "reduce", "--from", "long.zip", "--predicate", "grader", *extra, "--json",
        cwd=where, env=FAST,
    )  # fmt: skip


def test_grader_predicate_keeps_the_one_call_the_grader_fails_on(suite: Path, run_gait) -> None:  # noqa: ANN001
    tools = ["tool.search", "tool.fetch", "tool.search", "tool.delete", "tool.fetch"]
    tools += ["tool.write", "tool.search", "tool.delete", "tool.fetch", "tool.write"]
    _record(suite / "long.zip", "run_long", tools)
    proc = _reduce(run_gait, suite, "--grader", "no_new_tools", "--out", "small.zip")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = _json(proc)
    report = json.loads((suite / doc["report_path"]).read_text())
    assert report == doc["report"] and report["still_failing"] is True
    assert report["reason_codes"] == ["unexpected_new_tools"]
    assert report["predicate_detail"] == {
        "name": "grader", "grader": "no_new_tools", "fixture": "good",
    }  # fmt: skip
    intents = _lines(suite / "small.zip", "intents.jsonl")
    assert [i["tool_name"] for i in intents] == ["tool.delete"], "1-minimal: one new-tool call"
    assert report["selected_intent_ids"] == [intents[0]["intent_id"]]
    assert report["original_intent_count"] == 10 and report["reduced_intent_count"] == 1
    assert len(_lines(suite / "small.zip", "results.jsonl")) == 1
    assert run_gait("verify", "small.zip", cwd=suite).returncode == 0
    _reduce(run_gait, suite, "--grader", "no_new_tools", "--out", "again.zip")
    assert (suite / "again.zip").read_bytes() == (suite / "small.zip").read_bytes()
    # The reduced run, given to regress as the candidate, fails that grader there too.
    config = json.loads((suite / "gait.yaml").read_text())
    config.update(candidate="small.zip", graders={"no_new_tools": True})
    (suite / "gait.yaml").write_text(json.dumps(config))
    graded = run_gait("regress", "run", "--json", cwd=suite, env=FAST)
    assert graded.returncode == 5, graded.stdout
    failing = {f["name"]: f for f in _json(graded)["failures"]}
    assert failing["good/no_new_tools"]["reason_codes"] == ["unexpected_new_tools"]


def test_grader_predicate_with_options_and_refusals(suite: Path, run_gait) -> None:  # noqa: ANN001
    _record(suite / "long.zip", "run_long", ["tool.search", "tool.fetch"] * 3)
    passes = _reduce(run_gait, suite, "--grader", "no_new_tools")
    doc = _json(passes)
    assert passes.returncode == 6 and doc["error_code"] == "E_REDUCE_PREDICATE_NOT_TRIGGERED"
    assert "does not fail" in doc["error"]
    # max_steps with the fixture's own count (3): any four calls still exceed it.
    steps = _reduce(run_gait, suite, "--grader", "max_steps", "--fixture", "good")
    report = _json(steps)["report"]
    assert steps.returncode == 0 and report["reduced_intent_count"] == 4
    assert report["reason_codes"] == ["max_steps_exceeded"]
    unknown = _reduce(run_gait, suite, "--grader", "no_such_grader")
    assert unknown.returncode == 6
    assert _json(unknown)["error_code"] == "E_REDUCE_PREDICATE_INVALID"
    missing = _reduce(run_gait, suite, "--grader", "max_steps", "--fixture", "nope")
    assert _json(missing)["error_code"] == "E_REDUCE_PREDICATE_INVALID"
    assert "fixtures: good" in _json(missing)["error"]
    bare = _reduce(run_gait, suite)
    assert _json(bare)["error_code"] == "E_REDUCE_PREDICATE_INVALID"
