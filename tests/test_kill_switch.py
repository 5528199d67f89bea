"""The kill switch: the reference's state shape, honoured before any rule, journal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import gait.gate.sdk as gate_sdk
from gait.cli.main import main
from gait.gate.killswitch import journal_path, load_state, verify_journal
from gait.sign.keyring import ensure_dev_key

ALLOW_ALL = "default_verdict: allow\n"


def _json(capsys, *argv: str) -> tuple[int, dict]:
    code = main(list(argv))
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    Path("policy.yaml").write_text(ALLOW_ALL)
    return tmp_path


def _intent(tool: str = "tool.delete", path: str = "/data/x", **ctx: str) -> dict:
    return {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": "2026-01-01T00:00:00Z",
        "producer_version": "test",
        "tool_name": tool,
        "args": {"path": path},
        "targets": [{"kind": "path", "value": path, "operation": "delete"}],
        "context": {"identity": "alice", "workspace": "/repo", "risk_class": "high", **ctx},
    }


def test_entry_blocks_before_rules_then_expires_and_disables(work: Path, capsys) -> None:
    code, added = _json(
        capsys,
        "kill-switch",
        "add",
        "--state",
        "ks/state.json",
        "--path-prefixes",
        "/data",
        "--reason",
        "incident 7",
        "--actor",
        "oncall",
        "--json",
    )
    assert code == 0 and added["entry"]["path_prefixes"] == ["/data"]
    entry_id = added["entry"]["entry_id"]
    state = json.loads(Path("ks/state.json").read_text())
    assert state["schema_id"] == "gait.gate.kill_switch_state"
    assert state["entries"][0]["expires_at"] == "0001-01-01T00:00:00Z"
    Path("intent.json").write_text(json.dumps(_intent()))
    argv = [
        "gate",
        "eval",
        "--policy",
        "policy.yaml",
        "--intent",
        "intent.json",
        "--kill-switch-state",
        "ks/state.json",
        "--json",
    ]
    code, got = _json(capsys, *argv)
    assert code == 3
    assert got["reason_codes"] == ["default_allow", "kill_switch_active", "kill_switch_path_active"]
    assert got["violations"] == ["kill_switch_active"]
    assert got["kill_switch"]["matched_entry_ids"] == [entry_id]
    trace = json.loads(Path(got["trace_path"]).read_text())
    assert trace["kill_switch"]["status"] == "active"
    # A path outside the prefix is not stopped (prefix matches whole segments only).
    Path("other.json").write_text(json.dumps(_intent(path="/database/x")))
    code, got = _json(capsys, *argv[:5], "other.json", *argv[6:])
    assert code == 0 and got["kill_switch"]["status"] == "inactive"
    code, _ = _json(
        capsys,
        "kill-switch",
        "expire",
        "--state",
        "ks/state.json",
        "--entry-id",
        entry_id,
        "--expires-at",
        "2026-01-01T00:00:00Z",
        "--json",
    )
    assert code == 0
    code, got = _json(capsys, *argv)
    assert code == 0 and got["verdict"] == "allow"
    code, _ = _json(
        capsys,
        "kill-switch",
        "add",
        "--state",
        "ks/state.json",
        "--tool-name",
        "TOOL.DELETE",
        "--entry-id",
        "e2",
        "--json",
    )
    code, got = _json(capsys, *argv)
    assert code == 3 and "kill_switch_tool_name_active" in got["reason_codes"]
    code, _ = _json(
        capsys,
        "kill-switch",
        "disable",
        "--state",
        "ks/state.json",
        "--entry-id",
        "e2",
        "--actor",
        "oncall",
        "--reason",
        "resolved",
        "--json",
    )
    code, got = _json(capsys, *argv)
    assert code == 0
    key, _ = ensure_dev_key()
    count, problems = verify_journal(journal_path("ks/state.json"), [key.public()])
    assert problems == [] and count >= 5  # 4 changes + 2 enforcements
    lines = journal_path("ks/state.json").read_text().splitlines()
    Path(journal_path("ks/state.json")).write_text("\n".join(lines[1:]) + "\n")
    _, problems = verify_journal(journal_path("ks/state.json"), [key.public()])
    assert problems and "chain broken" in problems[0]


def test_unreadable_state_fails_closed_for_high_risk(work: Path, capsys) -> None:
    Path("state.json").write_text("{not json")
    Path("intent.json").write_text(json.dumps(_intent()))
    argv = [
        "gate",
        "eval",
        "--policy",
        "policy.yaml",
        "--intent",
        "intent.json",
        "--kill-switch-state",
        "state.json",
        "--json",
    ]
    code, got = _json(capsys, *argv)
    assert code == 3 and got["reason_codes"] == ["kill_switch_state_unavailable"]
    low = _intent()
    low["context"]["risk_class"] = "low"
    Path("intent.json").write_text(json.dumps(low))
    code, got = _json(capsys, *argv)
    assert code == 6 and got["error_code"] == "E_KILL_SWITCH_INVALID"
    code, got = _json(capsys, "kill-switch", "list", "--state", "state.json", "--json")
    assert code == 6 and got["error_code"] == "E_KILL_SWITCH_INVALID"
    code, got = _json(capsys, "kill-switch", "add", "--state", "new.json", "--json")
    assert code == 6 and "scope selector" in got["error"]


def test_reference_state_file_reads_and_sdk_honours_it(work: Path) -> None:
    reference_state = {
        "schema_id": "gait.gate.kill_switch_state",
        "schema_version": "1.0.0",
        "created_at": "2026-02-01T00:00:00Z",
        "updated_at": "2026-02-01T00:00:00Z",
        "producer_version": "0.0.0-dev",
        "entries": [
            {
                "entry_id": "abc",
                "enabled": True,
                "identity": "alice",
                "workspace_prefixes": ["/repo"],
                "created_at": "2026-02-01T00:00:00Z",
                "expires_at": "0001-01-01T00:00:00Z",
            }
        ],
    }
    Path("state.json").write_text(json.dumps(reference_state))
    assert load_state("state.json").entries[0].workspace_prefixes == ["/repo"]
    gate = gate_sdk.load("policy.yaml", kill_switch_state="state.json", trace_dir="traces")
    with pytest.raises(gate_sdk.GateBlocked) as info:
        gate_sdk.check(gate, _intent(tool="tool.read"))
    assert "kill_switch_identity_active" in info.value.result.reason_codes
    assert "kill_switch_workspace_active" in info.value.result.reason_codes
