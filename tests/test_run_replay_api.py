"""The stub replay API the regress engine builds on: pure, deterministic, never runs a tool."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gait.errors import UnsafeOperation
from gait.runpack.reader import load_runpack
from gait.runpack.replay import (
    ReplayMiss,
    check_real_tool_interlock,
    real_replay,
    replay,
    stub_replay,
)


def _pack(conformance_dir: Path, name: str) -> Path:
    return conformance_dir / "reference" / "runpacks" / f"runpack_{name}.zip"


def test_stub_replay_reference_capture_gives_digests(conformance_dir: Path) -> None:
    report = stub_replay(load_runpack(_pack(conformance_dir, "run_ref")))
    assert report.exit_code == 0 and report.mode == "stub" and report.missing_results == []
    assert [s.source for s in report.steps] == ["recorded_digest"] * 3
    assert [s.status for s in report.steps] == ["ok", "ok", "error"]
    assert all(s.result is None for s in report.steps)
    doc = report.to_json()
    assert json.dumps(doc, sort_keys=True) == json.dumps(
        stub_replay(load_runpack(_pack(conformance_dir, "run_ref"))).to_json(), sort_keys=True
    )


def test_stub_replay_raw_capture_gives_results(conformance_dir: Path) -> None:
    report = stub_replay(load_runpack(_pack(conformance_dir, "run_raw")))
    assert [s.source for s in report.steps] == ["recorded_result"] * 3
    assert report.steps[2].result == {"code": 13, "error": "permission denied"}


def test_missing_result_exits_2(conformance_dir: Path) -> None:
    pack = load_runpack(_pack(conformance_dir, "run_raw"))
    pack.results = pack.results[:2]
    report = stub_replay(pack)
    assert report.exit_code == 2 and report.missing_results == ["intent_3"]
    assert report.steps[2].source == "missing"


def test_sdk_stubs_hit_and_miss(conformance_dir: Path) -> None:
    args = {
        "query": 'café ☕ "quoted" \\ back',
        "top_k": 5,
        "filters": {"lang": "en", "min_score": 0.5},
    }
    with replay(_pack(conformance_dir, "run_raw")) as stubs:
        assert stubs.call("tool.search", args)["count"] == 2
        with pytest.raises(ReplayMiss) as miss:
            stubs.call("tool.search", args)  # recorded once, asked twice
        assert miss.value.exit_code == 2
        with pytest.raises(ReplayMiss) as miss:
            stubs.call("tool.search", {**args, "top_k": 6})
        assert miss.value.code == "E_REPLAY_MISS"
        assert "$.top_k" in miss.value.message and "intent_1" in miss.value.message


def test_sdk_stubs_reference_capture_return_digest_marker(conformance_dir: Path) -> None:
    args = {"path": "/tmp/gait-ref/out.txt", "content": "line1\nline2\n"}
    with replay(_pack(conformance_dir, "run_ref")) as stubs:
        marker = stubs.call("tool.write", args)
    assert marker["gait_stub"] == "recorded_digest" and marker["status"] == "error"


def test_replay_from_env(conformance_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAIT_REPLAY_FROM", str(_pack(conformance_dir, "run_raw")))
    assert replay().run_id == "run_raw"


@pytest.mark.parametrize(
    ("real", "unsafe", "allow", "env", "missing"),
    [
        (False, False, "", "", 4),
        (True, False, "a", "1", 1),
        (True, True, "", "1", 1),
        (True, True, "a", "", 1),
        (False, True, "a", "1", 1),
    ],
)
def test_interlock_matrix(real: bool, unsafe: bool, allow: str, env: str, missing: int) -> None:
    with pytest.raises(UnsafeOperation) as err:
        check_real_tool_interlock(
            real_tools=real,
            unsafe_real_tools=unsafe,
            allow_tools=allow,
            environ={"GAIT_ALLOW_REAL_REPLAY": env} if env else {},
        )
    assert err.value.exit_code == 8 and err.value.code == "E_REPLAY_REAL_TOOL_DISABLED"
    assert len(err.value.details["missing_interlocks"]) == missing


def test_real_replay_runs_only_allowed_registered_tools(conformance_dir: Path) -> None:
    calls = []
    registry = {"tool.write": lambda args: calls.append(args) or {"written_bytes": 12}}
    report = real_replay(
        load_runpack(_pack(conformance_dir, "run_raw")),
        registry,
        real_tools=True,
        unsafe_real_tools=True,
        allow_tools="tool.write",
        environ={"GAIT_ALLOW_REAL_REPLAY": "1"},
    )
    assert [s.source for s in report.steps] == ["recorded_result", "recorded_result", "executed"]
    assert calls == [{"path": "/tmp/gait-ref/out.txt", "content": "line1\nline2\n"}]
