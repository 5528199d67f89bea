"""The reference's further policy language through ``gait`` (issue 15): delegation tokens,
approved scripts, freeze windows, brokered credentials, sandboxes and refused keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gate_cli import (
    DELEGATION,
    WRITE_INTENT,
    mint_delegation,
    prod_keys,
    run_json,
    work_fixture,  # noqa: F401 (the work fixture)
    write_input,
)

from gait.cli.main import main

DELEGATION_POLICY = """\
default_verdict: block
rules:
  - name: allow-delegated-write
    effect: allow
    match:
      tool_names: [tool.write]
      require_delegation: true
      allowed_delegator_identities: [agent.lead]
      delegation_scopes: [write]
      max_delegation_depth: 1
"""


def test_delegation_tokens_grant_and_refuse(work: Path, capsys) -> None:
    private, public = prod_keys(capsys, str(work / "keys"))
    policy = write_input(work / "policy.yaml", DELEGATION_POLICY)
    intent = dict(WRITE_INTENT)
    intent["delegation"] = DELEGATION
    intent_path = write_input(work / "intent.json", intent)
    minted = mint_delegation(capsys, private, "d.json")
    assert minted["token_id"], minted
    code, out = run_json(capsys, "delegate", "verify", "--token", "d.json", "--public-key", public)
    assert code == 0 and out["delegator_identity"] == "agent.lead"
    code, out = run_json(
        capsys,
        "delegate",
        "verify",
        "--token",
        "d.json",
        "--public-key",
        public,
        "--delegate",
        "someone.else",
    )
    assert code == 2 and out["error_code"] == "E_DELEGATION_DELEGATE_MISMATCH"

    base = ["gate", "eval", "--policy", policy, "--intent", intent_path]
    code, out = run_json(
        capsys, *base, "--delegation-token", "d.json", "--delegation-public-key", public
    )
    assert code == 0 and out["verdict"] == "allow", out
    assert "delegation_granted" in out["reason_codes"] and out["valid_delegations"] == 1
    audit = json.loads(Path(out["delegation_audit_path"]).read_text())
    assert audit["schema_id"] == "gait.gate.delegation_audit_record" and audit["delegated"]

    code, out = run_json(capsys, *base)
    assert code == 3 and "delegation_token_missing" in out["reason_codes"]

    tampered = json.loads(Path("d.json").read_text())
    tampered["delegate_identity"] = "agent.worker2"
    write_input(work / "bad.json", tampered)
    code, out = run_json(
        capsys, *base, "--delegation-token", "bad.json", "--delegation-public-key", public
    )
    assert code == 3 and "delegation_chain_insufficient" in out["reason_codes"], out
    assert out["violations"] == ["delegation_not_granted"]


SCRIPT = {
    **{k: v for k, v in WRITE_INTENT.items() if k not in ("args", "targets", "tool_name")},
    "tool_name": "script",
    "script": {
        "steps": [
            {
                "tool_name": "tool.read",
                "args": {"path": "/tmp/a"},
                "targets": [{"kind": "path", "value": "/tmp/a", "operation": "read"}],
            },
            {
                "tool_name": "tool.write",
                "args": {"path": "/tmp/b"},
                "targets": [{"kind": "path", "value": "/tmp/b", "operation": "write"}],
            },
        ]
    },
}
APPROVAL_POLICY = """\
default_verdict: allow
scripts:
  max_steps: 5
rules:
  - name: write-needs-approval
    effect: require_approval
    match:
      tool_names: [tool.write]
"""


def test_approved_script_registry_fast_path(work: Path, capsys) -> None:
    private, public = prod_keys(capsys, str(work / "keys"))
    policy = write_input(work / "policy.yaml", APPROVAL_POLICY)
    intent = write_input(work / "script.json", SCRIPT)
    base = ["gate", "eval", "--policy", policy, "--intent", intent]
    code, out = run_json(capsys, *base)
    assert code == 4 and out["matched_rule"] == "write-needs-approval"
    assert out["script"] is True and out["step_count"] == 2

    code, out = run_json(
        capsys,
        "approve-script",
        "--policy",
        policy,
        "--intent",
        intent,
        "--registry",
        "reg.json",
        "--approver",
        "secops",
        "--key-mode",
        "prod",
        "--private-key",
        private,
    )
    assert code == 0 and out["tool_sequence"] == ["tool.read", "tool.write"], out
    code, listed = run_json(capsys, "list-scripts", "--registry", "reg.json")
    assert listed["count"] == 1 and listed["entries"][0]["expired"] is False

    registry = ["--approved-script-registry", "reg.json", "--approved-script-public-key", public]
    code, out = run_json(capsys, *base, *registry)
    assert code == 0 and out["pre_approved"] is True, out
    assert out["reason_codes"] == ["approved_script_match"]

    doc = json.loads(Path("reg.json").read_text())
    doc["entries"][0]["approver_identity"] = "mallory"
    write_input(work / "reg.json", doc)
    code, out = run_json(capsys, *base, *registry)
    assert code == 3 and out["ok"] is False
    assert "approved script registry verification failed at entry 0" in out["error"]


FREEZE_POLICY = """\
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
"""


@pytest.mark.parametrize(
    ("when", "code", "reason"),
    [
        ("2026-03-10T14:00:00Z", 3, "freeze_window_active_block"),  # 10:00 in Toronto
        ("2026-03-10T17:00:00Z", 0, "matched_rule_allow_deploy"),  # 13:00: after the window
    ],
)
def test_freeze_window_uses_evaluation_time(work: Path, capsys, when, code, reason) -> None:
    policy = write_input(work / "policy.yaml", FREEZE_POLICY)
    intent = write_input(
        work / "i.json", {**WRITE_INTENT, "tool_name": "tool.deploy", "targets": []}
    )
    got, out = run_json(
        capsys, "gate", "eval", "--policy", policy, "--intent", intent, "--evaluation-time", when
    )
    assert got == code and reason in out["reason_codes"], out


def test_broker_credential_requirement(work: Path, capsys, monkeypatch) -> None:
    policy = write_input(
        work / "policy.yaml",
        "default_verdict: block\nrules:\n  - name: w\n    effect: allow\n"
        "    require_broker_credential: true\n    broker_reference: egress\n"
        "    broker_scopes: [write]\n    match:\n      tool_names: [tool.write]\n",
    )
    intent = write_input(work / "i.json", WRITE_INTENT)
    code, out = run_json(capsys, "policy", "test", policy, intent)
    assert code == 0 and out["verdict"] == "allow"  # policy test: the rule alone
    base = ["gate", "eval", "--policy", policy, "--intent", intent]
    code, out = run_json(capsys, *base)  # broker off (the default): such an allow blocks
    assert code == 3 and "broker_credential_required" in out["reason_codes"]

    code, out = run_json(capsys, *base, "--credential-broker", "stub")
    assert code == 0 and "broker_credential_present" in out["reason_codes"], out
    assert out["credential_ref"].startswith("stub:") and out["credential_access_type"] == "jit"
    record = json.loads(Path(out["credential_evidence_path"]).read_text())
    assert record["schema_id"] == "gait.gate.broker_credential_record"
    assert record["scope"] == ["write"] and record["reference"] == "egress"

    code, out = run_json(capsys, *base, "--credential-broker", "env")
    assert code == 3 and "broker_credential_missing" in out["reason_codes"]
    monkeypatch.setenv("GAIT_BROKER_TOKEN_EGRESS", "not-recorded")
    code, out = run_json(capsys, *base, "--credential-broker", "env")
    assert code == 0 and out["credential_ref"].startswith("env:")
    assert "not-recorded" not in json.dumps(out)


def test_sandbox_rule_checks_the_declared_sandbox(work: Path, capsys) -> None:
    policy = write_input(
        work / "policy.yaml",
        "default_verdict: block\nrules:\n  - name: exec\n    effect: allow\n"
        "    match:\n      tool_names: [tool.exec]\n    sandbox:\n"
        "      allowed_network_modes: [disabled]\n      max_timeout_seconds: 60\n",
    )
    target = {"kind": "other", "value": "ls", "operation": "exec", "endpoint_class": "proc.exec"}
    sandbox = {
        "network_mode": "disabled",
        "env_exposure_mode": "none",
        "timeout_seconds": 30,
        "filesystem_isolation": "container",
        "user_mode": "unprivileged",
        "evidence_ref": "sandbox:run-1",
        "evidence_digest": "a" * 64,
    }
    intent = {**WRITE_INTENT, "tool_name": "tool.exec", "targets": [target]}
    intent["context"] = {**WRITE_INTENT["context"], "sandbox": sandbox}
    code, out = run_json(capsys, "policy", "test", policy, write_input(work / "ok.json", intent))
    assert code == 0 and out["verdict"] == "allow", out
    intent["context"] = {**WRITE_INTENT["context"], "sandbox": {**sandbox, "network_mode": "full"}}
    code, out = run_json(capsys, "policy", "test", policy, write_input(work / "bad.json", intent))
    # a sandbox that fails the rule no longer exempts the exec from the destructive escalation
    assert code == 3 and out["reason_codes"] == [
        "destructive_apply_requires_approval",
        "matched_rule_exec",
        "sandbox_network_mode_disallowed",
    ]


def test_keys_without_a_feature_are_still_refused_by_name(work: Path, capsys) -> None:
    policy = write_input(
        work / "p.yaml", "rules:\n  - name: a\n    effect: allow\n    require_sandbox: true\n"
    )
    code, out = run_json(capsys, "policy", "validate", policy)
    assert code == 6 and "'rules[0].require_sandbox' is not evaluated" in out["error"]


def test_gate_eval_explain_json_decides_and_explains(work: Path, capsys) -> None:
    policy = write_input(work / "policy.yaml", APPROVAL_POLICY)
    intent = write_input(
        work / "w.json",
        {**WRITE_INTENT, "context": {**WRITE_INTENT["context"], "risk_class": "low"}},
    )
    code, out = run_json(
        capsys, "gate", "eval", "--policy", policy, "--intent", intent, "--explain"
    )
    assert code == 4, out  # the decision's exit code, as the reference
    assert out["schema_id"] == "gait.gate.policy_explain" and out["approval_required"] is True
    assert out["matched_rules"] == [
        {"name": "write-needs-approval", "priority": 0, "effect": "require_approval"}
    ]
    assert out["credential_posture"] == {"present": False}
    assert Path(out["proof_refs"]["trace_path"]).is_file()
    # plain --explain stays help text and decides nothing
    assert main(["gate", "eval", "--policy", policy, "--intent", intent, "--explain"]) == 0
    assert "gait gate eval evaluates" in capsys.readouterr().out


def test_policy_simulate_recommends_a_rollout_stage(work: Path, capsys) -> None:
    fixtures = work / "fixtures"
    fixtures.mkdir()
    write_input(fixtures / "write.json", WRITE_INTENT)
    write_input(fixtures / "read.json", {**WRITE_INTENT, "tool_name": "tool.read"})
    current = write_input(work / "current.yaml", "default_verdict: allow\n")
    stricter = write_input(
        work / "candidate.yaml", APPROVAL_POLICY.replace("require_approval", "block")
    )
    argv = ["policy", "simulate", "--fixtures", str(fixtures)]
    code, out = run_json(capsys, *argv, "--policy", stricter, "--baseline", current)
    assert code == 0 and out["recommendation"] == "require_approval", out
    assert out["fixtures_total"] == 2 and out["changed_fixtures"] == 1
    assert out["changed"][0]["candidate_verdict"] == "block"
    code, out = run_json(capsys, *argv, "--policy", current, "--baseline", stricter)
    assert out["recommendation"] == "observe"
    code, out = run_json(capsys, *argv, "--policy", current, "--baseline", current)
    assert out["recommendation"] == "enforce" and "changed" not in out


def test_oss_prod_profile_refuses_lax_setups(work: Path, capsys) -> None:
    private, _ = prod_keys(capsys, str(work / "keys"))
    intent = write_input(work / "i.json", WRITE_INTENT)
    lax = write_input(work / "lax.yaml", "default_verdict: allow\n")
    unbrokered = write_input(
        work / "unbrokered.yaml",
        "default_verdict: block\nrules:\n  - name: w\n    effect: allow\n"
        "    match:\n      risk_classes: [high]\n",
    )
    brokered = write_input(
        work / "brokered.yaml",
        "default_verdict: block\nrules:\n  - name: w\n    effect: allow\n"
        "    require_broker_credential: true\n    match:\n      risk_classes: [high]\n",
    )
    prod = ["--profile", "oss-prod", "--key-mode", "prod", "--private-key", private]

    def run(policy: str, *extra: str) -> tuple[int, dict]:
        return run_json(capsys, "gate", "eval", "--policy", policy, "--intent", intent, *extra)

    for policy, extra, needle in (
        (brokered, ["--profile", "oss-prod"], "requires --key-mode prod"),
        (lax, prod, "rejects policy default_verdict=allow"),
        (unbrokered, prod, "require_broker_credential: true"),
        (brokered, prod, "requires --credential-broker"),
    ):
        code, out = run(policy, *extra)
        assert code == 6 and out["error_code"] == "E_PROFILE_OSS_PROD", out
        assert needle in out["error"]
    code, out = run(brokered, *prod, "--credential-broker", "stub")
    assert code == 0 and out["profile"] == "oss-prod" and out["verdict"] == "allow", out
    code, out = run(brokered, "--profile", "prod-ish")
    assert code == 6 and out["error_code"] == "E_USAGE"
