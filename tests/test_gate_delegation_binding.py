"""Approval tokens bound to a delegation chain (issue 15 item 2), the oss-prod profile's
explicit verify keys, and delegation tokens in the in-process SDK (issue 18)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gate_cli import (
    DELEGATION,
    WRITE_INTENT,
    approve_token,
    mint_delegation,
    prod_keys,
    run_json,
    work_fixture,  # noqa: F401 (the work fixture)
    write_input,
)

INTENT = {**WRITE_INTENT, "delegation": DELEGATION}
APPROVAL_POLICY = """\
default_verdict: block
rules:
  - name: approve-write
    effect: require_approval
    match:
      tool_names: [tool.write]
"""
DELEGATION_POLICY = """\
default_verdict: block
rules:
  - name: delegated-write
    effect: allow
    require_broker_credential: true
    match:
      tool_names: [tool.write]
      require_delegation: true
      delegation_scopes: [write]
"""


def test_approval_tokens_are_bound_to_the_delegation_chain(work: Path, capsys) -> None:
    private, public = prod_keys(capsys, str(work / "k"))
    policy = write_input(work / "p.yaml", APPROVAL_POLICY)
    intent = write_input(work / "i.json", INTENT)
    base = ["gate", "eval", "--policy", policy, "--intent", intent]
    base += ["--approval-public-key", public]
    code, out = run_json(capsys, *base)
    assert code == 4, out
    # the suggested approve command carries the binding, so following it gets the call through
    approve = out["next_commands"][0]
    assert "--delegation-binding-digest " in approve
    binding = approve.split("--delegation-binding-digest ")[1].split()[0]
    digests = ["--intent-digest", out["intent_digest"], "--policy-digest", out["policy_digest"]]
    scope = ["--scope", "tool:tool.write"]

    approve_token(
        capsys, private, "bound.json", *digests, *scope, "--delegation-binding-digest", binding
    )
    code, out = run_json(capsys, *base, "--approval-token", "bound.json")
    assert code == 0 and "approval_granted" in out["reason_codes"], out

    approve_token(capsys, private, "unbound.json", *digests, *scope)  # minted without the binding
    code, out = run_json(capsys, *base, "--approval-token", "unbound.json")
    assert code == 4 and "approval_token_delegation_binding_mismatch" in out["reason_codes"]
    audit = json.loads(Path(out["approval_audit_path"]).read_text())
    assert audit["entries"][0]["error_code"] == "approval_token_delegation_binding_mismatch"

    # a token bound to another delegator's chain does not approve this one
    other = json.loads(json.dumps(INTENT))
    other["delegation"]["chain"][0]["delegator_identity"] = "agent.rogue"
    other_path = write_input(work / "other.json", other)
    code, out = run_json(capsys, "gate", "eval", "--policy", policy, "--intent", other_path)
    rogue = out["next_commands"][0].split("--delegation-binding-digest ")[1].split()[0]
    assert rogue != binding
    approve_token(
        capsys, private, "rogue.json", *digests, *scope, "--delegation-binding-digest", rogue
    )
    code, out = run_json(capsys, *base, "--approval-token", "rogue.json")
    assert code == 4 and "approval_token_delegation_binding_mismatch" in out["reason_codes"]
    # gait approve --intent derives the binding, and refuses one that contradicts it
    approve_token(capsys, private, "derived.json", "--intent", intent, "--policy", policy)
    code, out = run_json(capsys, *base, "--approval-token", "derived.json")
    assert code == 0, out
    code, out = run_json(
        capsys,
        "approve",
        "--intent",
        other_path,
        "--policy",
        policy,
        "--delegation-binding-digest",
        binding,
        "--approver",
        "a",
        "--reason-code",
        "r",
        "--ttl",
        "1h",
    )
    assert code == 6 and out["error_code"] == "E_USAGE"


def test_oss_prod_requires_explicit_verify_keys(work: Path, capsys) -> None:
    private, public = prod_keys(capsys, str(work / "k"))
    intent = write_input(work / "i.json", INTENT)
    prod = ["--profile", "oss-prod", "--key-mode", "prod", "--private-key", private]
    approval = write_input(
        work / "a.yaml",
        APPROVAL_POLICY.replace("match:", "require_broker_credential: true\n    match:"),
    )
    code, out = run_json(capsys, "gate", "eval", "--policy", approval, "--intent", intent, *prod)
    assert code == 6 and out["error_code"] == "E_PROFILE_OSS_PROD", out
    assert "explicit approval verify key" in out["error"]
    code, out = run_json(
        capsys,
        "gate",
        "eval",
        "--policy",
        approval,
        "--intent",
        intent,
        *prod,
        "--approval-private-key",
        private,  # the reference's derive-the-public-key source counts
    )
    assert code == 4 and out["verdict"] == "require_approval", out

    delegated = write_input(work / "d.yaml", DELEGATION_POLICY)
    argv = ["gate", "eval", "--policy", delegated, "--intent", intent, *prod]
    argv += ["--credential-broker", "stub"]
    code, out = run_json(capsys, *argv)
    assert code == 6 and "explicit delegation verify key" in out["error"], out
    code, out = run_json(capsys, *argv, "--delegation-public-key", public)
    assert code == 3 and "delegation_token_missing" in out["reason_codes"], out
    code, out = run_json(capsys, "gate", "eval", "--policy", delegated, "--intent", intent)
    assert code == 3 and "delegation_token_missing" in out["reason_codes"]  # standard: no key


def test_sdk_evaluate_gate_verifies_delegation_in_process(work: Path, capsys) -> None:
    from gait import GaitCommandError, IntentRequest, evaluate_gate

    private, public = prod_keys(capsys, str(work / "k"))
    policy = write_input(
        work / "p.yaml", DELEGATION_POLICY.replace("    require_broker_credential: true\n", "")
    )
    mint_delegation(capsys, private, "d.json")
    intent = IntentRequest.from_dict(json.loads(json.dumps(INTENT)))
    granted = evaluate_gate(
        policy_path=policy,
        intent=intent,
        delegation_token="d.json",
        delegation_public_key=public,
    )
    assert granted.verdict == "allow" and "delegation_granted" in granted.reason_codes
    missing = evaluate_gate(policy_path=policy, intent=intent, delegation_public_key=public)
    assert missing.verdict == "block" and "delegation_token_missing" in missing.reason_codes
    # the wrong verify key (another key pair) fails the chain, fail closed
    _, other_public = prod_keys(capsys, str(work / "k2"))
    refused = evaluate_gate(
        policy_path=policy,
        intent=intent,
        delegation_token_chain=["d.json"],
        delegation_private_key=None,
        delegation_public_key=other_public,
    )
    assert refused.verdict == "block" and "delegation_chain_insufficient" in refused.reason_codes
    derived = evaluate_gate(
        policy_path=policy, intent=intent, delegation_token="d.json", delegation_private_key=private
    )
    assert derived.verdict == "allow", derived
    with pytest.raises(GaitCommandError) as caught:  # a named token that is not there
        evaluate_gate(
            policy_path=policy,
            intent=intent,
            delegation_token="nope.json",
            delegation_public_key=public,
        )
    assert caught.value.code == "E_DELEGATION_TOKEN_READ" and caught.value.exit_code == 6


def test_gate_sdk_check_and_tool_verify_delegation(work: Path, capsys) -> None:
    import gait.gate

    private, public = prod_keys(capsys, str(work / "k"))
    policy = write_input(
        work / "p.yaml", DELEGATION_POLICY.replace("    require_broker_credential: true\n", "")
    )
    mint_delegation(capsys, private, "d.json")
    gate = gait.gate.load(policy, trace_dir=str(work / "traces"))
    intent = json.loads(json.dumps(INTENT))
    outcome = gait.gate.check(
        gate, intent, delegation_tokens=["d.json"], delegation_public_key=public
    )
    assert "delegation_granted" in outcome.reason_codes
    parsed = json.loads(Path("d.json").read_text())
    assert gait.gate.check(gate, intent, delegation_tokens=[parsed], delegation_public_key=public)
    with pytest.raises(gait.gate.GateBlocked) as blocked:
        gait.gate.check(gate, intent)
    assert "delegation_token_missing" in blocked.value.result.reason_codes
    _, other = prod_keys(capsys, str(work / "k2"))
    with pytest.raises(gait.gate.GateBlocked) as blocked:
        gait.gate.check(gate, intent, delegation_tokens=["d.json"], delegation_public_key=other)
    assert "delegation_chain_insufficient" in blocked.value.result.reason_codes

    ran: list[str] = []

    @gait.gate.tool(
        gate,
        name="tool.write",
        context={**INTENT["context"]},
        targets=lambda a: [{"kind": "path", "value": a["path"], "operation": "write"}],
        delegation_tokens=lambda: ["d.json"],
        delegation_public_key=public,
    )
    def write(path: str) -> None:
        ran.append(path)

    with pytest.raises(gait.gate.GateBlocked):  # the SDK intent carries no delegation
        write("/tmp/x.txt")
    assert ran == []


def test_sdk_evaluate_gate_derives_the_approval_key(work: Path, capsys) -> None:
    from gait import IntentRequest, evaluate_gate

    private, _ = prod_keys(capsys, str(work / "k"))
    policy = write_input(work / "p.yaml", APPROVAL_POLICY)
    intent = IntentRequest.from_dict(json.loads(json.dumps(INTENT)))
    first = evaluate_gate(policy_path=policy, intent=intent)
    assert first.verdict == "require_approval"
    approve_token(
        capsys,
        private,
        "t.json",
        "--intent",
        write_input(work / "i.json", INTENT),
        "--policy",
        policy,
    )
    # the given key is the only one trusted: another key's pair refuses the token
    other, _ = prod_keys(capsys, str(work / "k2"))
    refused = evaluate_gate(
        policy_path=policy, intent=intent, approval_token="t.json", approval_private_key=other
    )
    assert refused.verdict == "require_approval"
    assert "approval_token_signature_invalid" in refused.reason_codes
    granted = evaluate_gate(
        policy_path=policy, intent=intent, approval_token="t.json", approval_private_key=private
    )
    assert granted.verdict == "allow" and "approval_granted" in granted.reason_codes
