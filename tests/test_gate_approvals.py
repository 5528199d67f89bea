"""Approval tokens through the CLI: minting, every check in order, single use, quorum."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gait.cli.main import main

NOW = "2026-06-01T12:00:00Z"
POLICY = """\
default_verdict: allow
rules:
  - name: writes-need-approval
    priority: 10
    effect: require_approval
    match:
      tool_names: [tool.write]
  - name: deletes-need-two
    priority: 10
    effect: require_approval
    min_approvals: 2
    match:
      tool_names: [tool.delete]
"""


def _intent(tool: str = "tool.write", path: str = "/tmp/a.txt", op: str = "write") -> dict:
    return {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": "2026-06-01T00:00:00Z",
        "producer_version": "test",
        "tool_name": tool,
        "args": {"path": path},
        "targets": [{"kind": "path", "value": path, "operation": op}],
        "arg_provenance": [{"arg_path": "$.path", "source": "user"}],
        "context": {"identity": "agent.x", "workspace": "/repo", "risk_class": "high"},
    }


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "intent.json").write_text(json.dumps(_intent()))
    (tmp_path / "delete.json").write_text(json.dumps(_intent("tool.delete", op="delete")))
    (tmp_path / "other.json").write_text(json.dumps(_intent(path="/tmp/b.txt")))
    return tmp_path


def _run(capsys, *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def _approve(
    capsys,
    out: str,
    *extra: str,
    intent: str = "intent.json",
    approver: str = "alice",
    now: str = NOW,
) -> dict:
    code, doc = _run(
        capsys,
        "approve",
        "--intent",
        intent,
        "--policy",
        "policy.yaml",
        "--approver",
        approver,
        "--reason-code",
        "CHG-1",
        "--ttl",
        "1h",
        "--now",
        now,
        "--out",
        out,
        *extra,
    )
    assert code == 0, doc
    return doc


def _eval(
    capsys, *tokens: str, intent: str = "intent.json", now: str = NOW, extra: tuple[str, ...] = ()
) -> tuple[int, dict]:
    argv = [
        "gate",
        "eval",
        "--policy",
        "policy.yaml",
        "--intent",
        intent,
        "--evaluation-time",
        now,
        *extra,
    ]
    for token in tokens:
        argv += ["--approval-token", token]
    return _run(capsys, *argv)


def test_token_fields_and_happy_path(env: Path, capsys) -> None:
    doc = _approve(capsys, "t.json")
    token = json.loads((env / "t.json").read_text())
    assert sorted(token) == sorted(
        [
            "schema_id",
            "schema_version",
            "created_at",
            "producer_version",
            "token_id",
            "approver_identity",
            "reason_code",
            "intent_digest",
            "policy_digest",
            "scope",
            "expires_at",
            "signature",
        ]
    )
    assert token["scope"] == ["tool:tool.write"]
    assert token["expires_at"] == "2026-06-01T13:00:00Z"
    assert (env / "t.json").read_bytes().endswith(b"}\n")
    assert doc["token_id"] == token["token_id"]
    code, out = _eval(capsys, "t.json")
    assert (code, out["verdict"]) == (0, "allow")
    assert "approval_granted" in out["reason_codes"]
    assert out["approval_ref"] == token["token_id"]


def test_missing_token(env: Path, capsys) -> None:
    code, out = _eval(capsys)
    assert code == 4
    assert "approval_token_missing" in out["reason_codes"]
    assert out["violations"] == ["approval_not_granted"]
    assert Path(out["approval_audit_path"]).exists()


def _expect_code(capsys, token: str, reason: str, error_code: str, **kw) -> None:
    code, out = _eval(capsys, token, **kw)
    assert code == 4, out
    assert out["verdict"] == "require_approval"
    assert reason in out["reason_codes"], out["reason_codes"]
    assert out["error_code"] == error_code


def test_expired_and_not_yet_valid(env: Path, capsys) -> None:
    _approve(capsys, "t.json")
    _expect_code(
        capsys, "t.json", "approval_token_expired", "E_APPROVAL_EXPIRED", now="2026-06-01T13:00:00Z"
    )  # now == expires_at: no leeway
    _expect_code(
        capsys,
        "t.json",
        "approval_token_not_yet_valid",
        "E_APPROVAL_NOT_YET_VALID",
        now="2026-06-01T11:58:59Z",
    )
    code, _ = _eval(capsys, "t.json", now="2026-06-01T11:59:00Z")  # 60 s skew allowed
    assert code == 0


def test_tampered_unknown_key_and_missing_signature(env: Path, capsys) -> None:
    _approve(capsys, "t.json")
    token = json.loads((env / "t.json").read_text())
    token["approver_identity"] = "mallory"
    (env / "tampered.json").write_text(json.dumps(token))
    _expect_code(
        capsys, "tampered.json", "approval_token_signature_invalid", "E_APPROVAL_SIGNATURE_INVALID"
    )
    del token["signature"]
    (env / "unsigned.json").write_text(json.dumps(token))
    _expect_code(
        capsys, "unsigned.json", "approval_token_signature_missing", "E_APPROVAL_SIGNATURE_MISSING"
    )
    # signed by a key the gate does not trust
    from gait.sign.keys import SigningKey

    (env / "eve.key").write_text(SigningKey.generate().to_text())
    code, _ = _run(
        capsys,
        "approve",
        "--intent",
        "intent.json",
        "--policy",
        "policy.yaml",
        "--approver",
        "eve",
        "--reason-code",
        "x",
        "--now",
        NOW,
        "--out",
        "eve.json",
        "--key-mode",
        "prod",
        "--private-key",
        "eve.key",
    )
    assert code == 0
    _expect_code(
        capsys, "eve.json", "approval_token_signature_invalid", "E_APPROVAL_SIGNATURE_INVALID"
    )
    (env / "garbage.json").write_text("{not json")
    _expect_code(capsys, "garbage.json", "approval_token_invalid", "E_APPROVAL_INVALID")


def test_bound_to_intent_policy_and_tool(env: Path, capsys) -> None:
    _approve(capsys, "other.json", intent="other.json")
    _expect_code(
        capsys, "other.json", "approval_token_intent_mismatch", "E_APPROVAL_INTENT_MISMATCH"
    )
    code, doc = _run(
        capsys,
        "approve",
        "--intent",
        "intent.json",
        "--policy-digest",
        "0" * 64,
        "--approver",
        "a",
        "--reason-code",
        "r",
        "--now",
        NOW,
        "--out",
        "p.json",
    )
    assert code == 0
    _expect_code(capsys, "p.json", "approval_token_policy_mismatch", "E_APPROVAL_POLICY_MISMATCH")
    _approve(capsys, "s.json", "--scope", "tool:tool.read")
    _expect_code(capsys, "s.json", "approval_token_scope_mismatch", "E_APPROVAL_SCOPE_MISMATCH")
    _approve(capsys, "star.json", "--scope", "*")
    assert _eval(capsys, "star.json")[0] == 0


def test_max_targets(env: Path, capsys) -> None:
    intent = _intent()
    intent["targets"].append({"kind": "path", "value": "/tmp/c.txt", "operation": "write"})
    (env / "two.json").write_text(json.dumps(intent))
    _approve(capsys, "t.json", "--max-targets", "1", intent="two.json")
    _expect_code(
        capsys,
        "t.json",
        "approval_token_max_targets_exceeded",
        "E_APPROVAL_MAX_TARGETS_EXCEEDED",
        intent="two.json",
    )


def test_single_use(env: Path, capsys) -> None:
    _approve(capsys, "t.json")
    assert _eval(capsys, "t.json")[0] == 0
    _expect_code(capsys, "t.json", "approval_token_replayed", "E_APPROVAL_REPLAYED")


def test_min_approvals_needs_distinct_approvers(env: Path, capsys) -> None:
    _approve(capsys, "a1.json", intent="delete.json", approver="alice")
    _approve(capsys, "a2.json", "--reason-code", "CHG-2", intent="delete.json", approver="alice")
    code, out = _eval(capsys, "a1.json", "a2.json", intent="delete.json")
    assert code == 4
    assert "approval_distinct_approvers_required" in out["reason_codes"]
    assert out["required_approvals"] == 2
    _approve(capsys, "b1.json", intent="delete.json", approver="bob")
    code, out = _eval(capsys, "a1.json", "b1.json", intent="delete.json")
    assert (code, out["verdict"]) == (0, "allow")
    assert out["valid_approvals"] == 2


def test_reference_token_accepted_with_reference_key(
    conformance_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    ref = conformance_dir / "reference" / "approval"
    code, out = _run(
        capsys,
        "gate",
        "eval",
        "--policy",
        str(ref / "policy.yaml"),
        "--intent",
        str(ref / "intent.json"),
        "--approval-token",
        str(ref / "approval_token.json"),
        "--approval-public-key",
        str(conformance_dir / "reference/keys/gait_public.key"),
        "--evaluation-time",
        "2027-01-01T00:00:00Z",
    )
    assert (code, out["verdict"]) == (0, "allow")
    assert out["approval_ref"] == "921ca142e6e27a362ad42f6a"


def test_approve_reproduces_reference_token_id(
    conformance_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    keys = conformance_dir / "reference" / "keys"
    code, out = _run(
        capsys,
        "approve",
        "--intent-digest",
        "f186aa3debf718cd72d9e3f618a13b981972fe426d9a78b7ded34515dd586867",
        "--policy-digest",
        "1d66496ff40c9a2e7ff9684537357a9861b205b87b4013cf7313879d803e0cd2",
        "--ttl",
        "8760h",
        "--scope",
        "tool:tool.write,phase:apply,destructive:apply",
        "--approver",
        "alice@example.com",
        "--reason-code",
        "change_ticket_123",
        "--key-mode",
        "prod",
        "--private-key",
        str(keys / "gait_private.key"),
        "--now",
        "2026-11-25T14:45:47.496199463Z",
        "--out",
        "approval_token.json",
    )
    want = json.loads((conformance_dir / "reference/approval/approve.json").read_text())
    assert code == 0
    for key in ("expires_at", "key_id", "reason_code", "scope", "token_id", "token_path"):
        assert out[key] == want[key]
    ours = json.loads((tmp_path / "approval_token.json").read_text())
    theirs = json.loads((conformance_dir / "reference/approval/approval_token.json").read_text())
    ours.pop("producer_version"), theirs.pop("producer_version")
    ours.pop("signature"), theirs.pop("signature")
    assert ours == theirs


def test_two_approver_next_commands_followed_by_two_people_approve(
    tmp_path: Path, run_gait, gait_argv: list[str]
) -> None:
    """A rule with ``min_approvals: 2`` names one ``gait approve`` per approver, each writing its
    own file, and an eval presenting both. Before, both approvers were given the same
    ``--out approval_token.json``: the second token replaced the first and the call stayed at
    ``require_approval``."""
    import os
    import shlex
    import subprocess

    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "intent.json").write_text(json.dumps(_intent("tool.delete", op="delete")))
    asked = run_gait(
        "gate", "eval", "--policy", "policy.yaml", "--intent", "intent.json", "--json", cwd=tmp_path
    )
    assert asked.returncode == 4, asked.stderr
    *approves, again = json.loads(asked.stdout)["next_commands"]
    assert len(approves) == 2
    gait = shlex.join(gait_argv)
    for approver, command in zip(("alice", "bob"), approves, strict=True):
        shell = command.replace("gait ", gait + " ", 1).replace("CHANGE_ID", "CHG-7")
        minted = subprocess.run(
            shell,
            shell=True,
            cwd=tmp_path,
            env={**os.environ, "USER": approver},
            capture_output=True,
            text=True,
        )
        assert minted.returncode == 0, minted.stderr
    done = run_gait(*shlex.split(again)[1:], "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["verdict"] == "allow"
