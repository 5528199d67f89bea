"""``gait mcp verify`` on the one trust evaluator (``gait.gate.mcp_trust.evaluate_server_trust``):
each of the reference's statuses and reason codes from a real policy and snapshot file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gait.cli.main import main

SERVER = {"server_id": "github", "server_name": "GitHub MCP", "publisher": "acme"}
ENTRY = {
    "server_id": "github",
    "server_name": "GitHub MCP",
    "publisher": "Acme",
    "source": "scanner",
    "status": "trusted",
    "score": 0.95,
    "updated_at": "2099-01-01T00:00:00Z",
    "registry_verification": {"signature_verified": True, "publisher_allowed": True},
}
REGISTRY = {"signature_verified": True, "publisher_allowed": True}
UNVERIFIED = "mcp_trust_registry_unverified"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "server.json").write_text(json.dumps(SERVER))
    return tmp_path


def _policy(work: Path, **block: object) -> None:
    lines = ["default_verdict: allow", "mcp_trust:", "  snapshot: snap.json"]
    lines += [f"  {key}: {json.dumps(value)}" for key, value in block.items()]
    (work / "p.yaml").write_text("\n".join(lines) + "\n")


def _snapshot(work: Path, *entries: dict) -> None:
    doc = {"schema_id": "gait.mcp.trust_snapshot", "schema_version": "1.0.0"}
    (work / "snap.json").write_text(json.dumps({**doc, "entries": list(entries)}))


def _verify(capsys, *extra: str) -> tuple[int, dict]:
    argv = ["mcp", "verify", "--policy", "p.yaml", "--server", "server.json", "--json", *extra]
    code = main(argv)
    return code, json.loads(capsys.readouterr().out)


def test_trusted_server_and_each_reason(work: Path, capsys) -> None:
    _policy(
        work, min_score=0.8, max_age="720h", publisher_allowlist=["acme"], require_registry=True
    )
    _snapshot(work, ENTRY)
    code, out = _verify(capsys)
    assert code == 0 and out["verdict"] == "allow" and out["reason_codes"] == ["mcp_trust_verified"]
    trust = out["mcp_trust"]
    assert (
        trust["status"] == "trusted" and trust["publisher_allowed"] and trust["registry_verified"]
    )
    assert trust["max_age_seconds"] == 720 * 3600 and trust["required"] is True
    assert out["trust_model"] == "local_snapshot" and out["snapshot_path"] == "snap.json"

    for change, reason, status in (
        ({"publisher": "other"}, "mcp_trust_publisher_untrusted", "untrusted"),
        ({"status": "revoked"}, "mcp_trust_status_untrusted", "untrusted"),
        ({"registry_verification": {"signature_verified": True}}, UNVERIFIED, "invalid"),
        ({"registry_verification": {**REGISTRY, "pin_present": True}}, UNVERIFIED, "invalid"),
        ({"updated_at": "2020-01-01T00:00:00Z"}, "mcp_trust_stale", "stale"),
        ({"score": 0.5}, "mcp_trust_below_threshold", "below_threshold"),
        ({"server_id": "gitlab", "server_name": "GitLab"}, "mcp_trust_server_unknown", "unknown"),
        ({"server_id": 7}, "mcp_trust_snapshot_invalid", "invalid"),
    ):  # fmt: skip
        _snapshot(work, {**ENTRY, **change})
        code, out = _verify(capsys)
        assert code == 3 and out["verdict"] == "block", (change, out)
        assert out["reason_codes"] == [reason] and out["mcp_trust"]["status"] == status
        assert out["violations"] == ["mcp_trust_policy"]
    (work / "snap.json").unlink()
    code, out = _verify(capsys)
    assert code == 3 and out["reason_codes"] == ["mcp_trust_snapshot_unavailable"]
    assert out["mcp_trust"]["status"] == "missing"


def test_risk_class_and_action_decide_enforcement(work: Path, capsys) -> None:
    _policy(
        work, action="require_approval", required_risk_classes=["high", "critical"], min_score=0.99
    )
    _snapshot(work, ENTRY)
    code, out = _verify(capsys)  # the strictest required class (critical) is checked
    assert code == 4 and out["verdict"] == "require_approval", out
    code, out = _verify(capsys, "--risk-class", "low")  # not required: reported, not enforced
    assert code == 0 and out["verdict"] == "allow"
    assert out["reason_codes"] == ["mcp_trust_below_threshold"] and "violations" not in out
    assert "required" not in out["mcp_trust"] and "enforced" not in out["mcp_trust"]


def test_no_block_and_bad_server_descriptions(work: Path, capsys) -> None:
    (work / "p.yaml").write_text("default_verdict: allow\n")
    code, out = _verify(capsys)
    out.pop("correlation_id", None)
    assert code == 0 and out == {"ok": True, "server_id": "github", "server_name": "GitHub MCP",
                                 "verdict": "allow"}  # fmt: skip
    for bad in ({"publisher": "acme"}, {"server_id": 5}, ["github"]):
        (work / "server.json").write_text(json.dumps(bad))
        code, out = _verify(capsys)
        assert code == 6 and out["error_code"] == "E_MCP_SERVER_INVALID", bad
