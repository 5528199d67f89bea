"""Decision records in traces and explanations (issue 15): the freeze-window and sandbox
decisions, the delegation reference and the approved-script fields, written as the reference
writes them (its verifier re-reads a trace into fixed records, so a missing zero time or an
extra empty field would break the signature there), and ``gate eval --explain --json``
validated against schemas/policy_explain.schema.json."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from gait.canon import canonical_bytes

ROOT = Path(__file__).resolve().parent.parent
ZERO = "0001-01-01T00:00:00Z"
FREEZE = """\
default_verdict: block
rules:
  - name: allow-deploy
    effect: allow
    match:
      tool_names: [tool.deploy]
    freeze_window:
      timezone: America/Toronto
      reason: quarter-end
      windows:
        - name: quarter-end
          start: "2026-03-10T09:00:00"
          end: "2026-03-10T12:00:00"
  - name: exec
    effect: allow
    match:
      tool_names: [tool.exec]
    sandbox:
      allowed_network_modes: [disabled]
      max_timeout_seconds: 60
"""
SANDBOX = {
    "network_mode": "disabled",
    "env_exposure_mode": "none",
    "timeout_seconds": 30,
    "filesystem_isolation": "container",
    "user_mode": "unprivileged",
    "evidence_ref": "sandbox:run-1",
    "evidence_digest": "a" * 64,
}


def intent(tool: str, **context: Any) -> dict[str, Any]:
    return {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": "2026-02-18T00:00:00Z",
        "producer_version": "test",
        "tool_name": tool,
        "args": {},
        "targets": [],
        "context": {"identity": "agent.worker", "workspace": "/repo", "risk_class": "low"}
        | context,
    }


@pytest.fixture
def evaluate(tmp_path: Path, run_gait):
    policy = tmp_path / "policy.yaml"
    policy.write_text(FREEZE)
    count = [0]

    def run(
        doc: dict[str, Any], *flags: str, verify: bool = True
    ) -> tuple[int, dict[str, Any], dict[str, Any]]:
        count[0] += 1
        path = tmp_path / f"intent_{count[0]}.json"
        path.write_text(json.dumps(doc))
        trace = tmp_path / f"trace_{count[0]}.json"
        proc = run_gait(
            "gate", "eval", "--policy", str(policy), "--intent", str(path),
            "--trace-out", str(trace), "--json", *flags,
        )  # fmt: skip
        out = json.loads(proc.stdout)
        if verify:
            verified = run_gait("trace", "verify", str(trace), "--json")
            assert verified.returncode == 0, verified.stdout
        return proc.returncode, out, json.loads(trace.read_text())

    return run


def test_freeze_window_decision_is_recorded_active_or_not(evaluate) -> None:
    code, out, trace = evaluate(intent("tool.deploy"), "--evaluation-time", "2026-03-10T14:00:00Z")
    assert code == 3
    assert out["reason_codes"] == ["freeze_window_active_block", "matched_rule_allow_deploy"]
    active = {
        "status": "active",
        "effect": "block",
        "timezone": "America/Toronto",
        "evaluated_at": "2026-03-10T14:00:00Z",
        "window_name": "quarter-end",
        "window_start": "2026-03-10T13:00:00Z",  # 09:00 EDT
        "window_end": "2026-03-10T16:00:00Z",
        "reason": "quarter-end",
        "reason_code": "freeze_window_active_block",
    }
    assert trace["freeze_window"] == active and out["freeze_window"] == active
    code, out, trace = evaluate(intent("tool.deploy"), "--evaluation-time", "2026-03-10T17:00:00Z")
    assert code == 0
    # Inactive: the reference still records it, its unset times as the zero time.
    assert trace["freeze_window"] == {
        "status": "inactive",
        "effect": "block",
        "timezone": "America/Toronto",
        "evaluated_at": "2026-03-10T17:00:00Z",
        "window_start": ZERO,
        "window_end": ZERO,
    }


def test_sandbox_decision_is_recorded(evaluate) -> None:
    code, out, trace = evaluate(intent("tool.exec", sandbox=SANDBOX), verify=False)
    assert code == 0 and trace["sandbox"] == {"status": "valid", **SANDBOX}
    code, out, trace = evaluate(intent("tool.exec", sandbox={**SANDBOX, "timeout_seconds": 90}))
    assert code == 3
    assert trace["sandbox"] == {
        "status": "disallowed",
        **SANDBOX,
        "timeout_seconds": 90,
        "reason_codes": ["sandbox_timeout_exceeded"],
    }
    code, out, trace = evaluate(intent("tool.exec"), verify=False)
    assert trace["sandbox"] == {"status": "missing", "reason_codes": ["sandbox_metadata_missing"]}
    assert "freeze_window" not in trace and "pre_approved" not in trace  # omitted when empty


def test_delegation_ref_names_the_chain(evaluate) -> None:
    doc = intent("tool.exec", sandbox=SANDBOX)
    doc["delegation"] = {
        "requester_identity": "agent.worker",
        "scope_class": "Write",
        "token_refs": ["tok-2", "tok-1"],
        "chain": [{"delegator_identity": "agent.lead", "delegate_identity": "agent.worker"}],
    }
    code, out, trace = evaluate(doc)
    # The chain digest covers the delegation as the reference marshals it: sorted token refs,
    # lower-cased scope, and its time fields always present.
    marshalled = {
        "requester_identity": "agent.worker",
        "scope_class": "write",
        "token_refs": ["tok-1", "tok-2"],
        "chain": [
            {
                "delegator_identity": "agent.lead",
                "delegate_identity": "agent.worker",
                "issued_at": ZERO,
                "expires_at": ZERO,
            }
        ],
        "issued_at": ZERO,
        "expires_at": ZERO,
    }
    assert code == 0
    assert trace["delegation_ref"] == {
        "delegation_token_ref": "tok-1",
        "requester_identity": "agent.worker",
        "delegation_depth": 1,
        "scope_class": "write",
        "chain_digest": hashlib.sha256(canonical_bytes(marshalled)).hexdigest(),
    }


def test_explain_json_matches_its_schema(evaluate, tmp_path: Path) -> None:
    schema = json.loads((ROOT / "schemas" / "policy_explain.schema.json").read_text())
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    cases = [
        (intent("tool.deploy"), ("--evaluation-time", "2026-03-10T14:00:00Z"), "freeze_window"),
        (intent("tool.exec", sandbox={**SANDBOX, "network_mode": "full"}), (), "sandbox"),
        (intent("tool.other"), (), None),
    ]
    for doc, flags, record in cases:
        code, out, _ = evaluate(doc, "--explain", *flags, verify=False)
        problems = [e.message for e in validator.iter_errors(out)]
        assert not problems, (problems, out)
        assert out["schema_id"] == "gait.gate.policy_explain" and code == 3
        if record:
            assert out[record]["status"] in ("active", "disallowed")
    # The schema is not vacuous: an unknown key or a bad status is refused.
    assert not validator.is_valid({**out, "surprise": 1})
    assert not validator.is_valid({**out, "freeze_window": {"status": "paused"}})


SCRIPT_POLICY = """\
default_verdict: allow
rules:
  - name: write-needs-approval
    effect: require_approval
    match:
      tool_names: [tool.write]
"""


def test_approved_script_fields_in_the_trace(tmp_path: Path, run_gait) -> None:
    keys = run_gait(
        "keys", "init", "--key-mode", "prod", "--out", str(tmp_path / "keys"), "--json"
    )  # fmt: skip
    private, public = (json.loads(keys.stdout)[k] for k in ("private_key_path", "public_key_path"))
    policy = tmp_path / "policy.yaml"
    policy.write_text(SCRIPT_POLICY)
    steps = [
        {"tool_name": t, "args": {"path": p}, "targets": [{"kind": "path", "value": p}]}
        for t, p in (("tool.read", "/tmp/a"), ("tool.write", "/tmp/b"))
    ]
    script = intent("script") | {"script": {"steps": steps}}
    script_path = tmp_path / "script.json"
    script_path.write_text(json.dumps(script))
    other = intent("script") | {"script": {"steps": steps[:1]}}
    other_path = tmp_path / "other.json"
    other_path.write_text(json.dumps(other))
    registry = tmp_path / "reg.json"
    approved = run_gait(
        "approve-script", "--policy", str(policy), "--intent", str(script_path),
        "--registry", str(registry), "--approver", "secops", "--key-mode", "prod",
        "--private-key", private, "--json",
    )  # fmt: skip
    assert approved.returncode == 0, approved.stdout
    pattern = json.loads(registry.read_text())["entries"][0]["pattern_id"]

    def gate(path: Path, name: str) -> dict[str, Any]:
        trace = tmp_path / f"{name}.json"
        proc = run_gait(
            "gate", "eval", "--policy", str(policy), "--intent", str(path),
            "--approved-script-registry", str(registry),
            "--approved-script-public-key", public, "--trace-out", str(trace), "--json",
        )  # fmt: skip
        assert proc.returncode in (0, 4), proc.stdout
        assert run_gait("trace", "verify", str(trace)).returncode == 0
        return dict(json.loads(trace.read_text()))

    fast = gate(script_path, "fast")
    assert fast["pre_approved"] is True and fast["pattern_id"] == pattern
    assert fast["registry_reason"] == "approved_script_match"
    assert fast["script"] is True and fast["composite_risk_class"] in ("low", "medium", "high")
    missed = gate(other_path, "missed")
    assert "pre_approved" not in missed and "pattern_id" not in missed
    assert missed["registry_reason"] == "approved_script_not_found"
