"""The ``command`` credential broker through ``gait gate eval`` (issue 15, item 4): a real
program mints the credential; every way it can fail blocks the call."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from gate_cli import WRITE_INTENT

from gait.cli.main import main

POLICY = """\
default_verdict: block
rules:
  - name: brokered-write
    effect: allow
    require_broker_credential: true
    broker_reference: egress
    broker_scopes: [write]
    match:
      tool_names: [tool.write]
"""


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GAIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GAIT_CREDENTIAL_COMMAND_ALLOWLIST", raising=False)
    (tmp_path / "p.yaml").write_text(POLICY)
    (tmp_path / "i.json").write_text(json.dumps(WRITE_INTENT))
    return tmp_path


def _script(work: Path, name: str, body: str) -> str:
    path = work / name
    path.write_text(f"#!{sys.executable}\nimport json, sys\n{body}\n")
    path.chmod(0o755)
    return str(path)


def _eval(capsys, command: str, *extra: str) -> tuple[int, dict]:
    argv = ["gate", "eval", "--policy", "p.yaml", "--intent", "i.json", "--json"]
    argv += ["--credential-broker", "command", "--credential-command", command, *extra]
    code = main(argv)
    return code, json.loads(capsys.readouterr().out)


def test_command_broker_mints_and_records(work: Path, capsys) -> None:
    mint = _script(
        work,
        "mint.py",
        "req = json.load(sys.stdin)\n"
        "open('request.json', 'w').write(json.dumps(req))\n"
        "print(json.dumps({'credential_ref': 'cmd:' + req['Reference'] + ':' + sys.argv[1],"
        " 'access_type': 'jit', 'issuer': 'vault', 'ttl_seconds': 120}))",
    )
    code, out = _eval(capsys, mint, "--credential-command-args", "tenant-a, ,x")
    assert code == 0 and out["verdict"] == "allow", (out["reason_codes"], out["warnings"])
    assert "broker_credential_present" in out["reason_codes"]
    assert out["credential_ref"] == "cmd:egress:tenant-a" and out["credential_source"] == "command"
    assert out["credential_issuer"] == "vault" and out["credential_ttl_seconds"] == 120
    record = json.loads(Path(out["credential_evidence_path"]).read_text())
    assert record["broker"] == "command" and record["scope"] == ["write"]
    # the request went in as the reference encodes it (its Go field names, in its order)
    request = json.loads((work / "request.json").read_text())
    assert list(request) == [
        "ToolName",
        "Identity",
        "Workspace",
        "SessionID",
        "RequestID",
        "RunID",
        "JobID",
        "Reference",
        "Scope",
        "TargetBinding",
    ]
    assert request["Scope"] == ["write"] and request["Identity"] == "agent.worker"
    assert record["request_digest"] and record["target_binding"] == request["TargetBinding"]


def test_provider_receipts_are_normalised(work: Path, capsys) -> None:
    aws = _script(
        work,
        "aws.py",
        "print(json.dumps({'provider': 'aws', 'assumed_role_arn': "
        "'arn:aws:iam::1:role/agent', 'issued_at': '2026-02-18T00:00:00Z',"
        " 'expires_at': '2026-02-18T00:05:00Z'}))",
    )
    code, out = _eval(capsys, aws)
    assert code == 0, out
    assert out["credential_ref"] == "aws_sts:arn:aws:iam::1:role/agent"
    assert out["credential_issuer"] == "sts.amazonaws.com" and out["credential_ttl_seconds"] == 300
    assert out["credential_access_type"] == "jit" and out["credential_source"] == "aws_sts"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("sys.exit(3)", "command broker failed"),
        ("print('token=abc')", "must return JSON response"),
        ("print('')", "returned empty output"),
        ("print(json.dumps({'access_type': 'jit'}))", "empty credential_ref"),
        ("print(json.dumps({'credential_ref': 'x' * 300}))", "credential_ref too long"),
        ("print(json.dumps({'credential_ref': 'a', 'ttl_seconds': '9'}))", "JSON response"),
        ("print('{not json')", "parse provider receipt"),
        ("sys.stdout.write('x' * 20000)", "output exceeded 16384 bytes"),
        (
            "print(json.dumps({'provider': 'github', 'credential_ref': 'ghp_0123456789'}))",
            "must not contain raw credential material",
        ),
        ("print(json.dumps({'provider': 'vault'}))", "requires lease_id"),
    ],
)
def test_a_failing_command_blocks(work: Path, capsys, body: str, why: str) -> None:
    code, out = _eval(capsys, _script(work, "bad.py", body))
    assert code == 3 and out["verdict"] == "block", out
    assert "broker_credential_missing" in out["reason_codes"]
    assert out["violations"] == ["broker_credential_missing"]
    assert any(why in w for w in out["warnings"]), out["warnings"]
    assert "credential_ref" not in out


def test_a_receipt_the_rule_refuses_blocks(work: Path, capsys) -> None:
    bound = {
        **WRITE_INTENT,
        "context": {**WRITE_INTENT["context"], "credential_ref": "cmd:expected"},
    }
    (work / "i.json").write_text(json.dumps(bound))
    other = _script(work, "other.py", "print(json.dumps({'credential_ref': 'cmd:other'}))")
    code, out = _eval(capsys, other)
    assert code == 3 and "broker_credential_ref_mismatch" in out["reason_codes"], out
    same = _script(work, "same.py", "print(json.dumps({'credential_ref': 'cmd:expected'}))")
    code, out = _eval(capsys, same)
    assert code == 0 and out["credential_ref"] == "cmd:expected", out


def test_command_setup_errors_are_usage_errors(work: Path, capsys, monkeypatch) -> None:
    code = main(["gate", "eval", "--policy", "p.yaml", "--intent", "i.json", "--json",
                 "--credential-broker", "command"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 6 and out["error_code"] == "E_CREDENTIAL_COMMAND", out
    ok = _script(work, "ok.py", "print(json.dumps({'credential_ref': 'cmd:a'}))")
    monkeypatch.setenv("GAIT_CREDENTIAL_COMMAND_ALLOWLIST", "/usr/bin/other, mint")
    code, out = _eval(capsys, ok)
    assert code == 6 and out["error_code"] == "E_CREDENTIAL_COMMAND"
    assert "GAIT_CREDENTIAL_COMMAND_ALLOWLIST" in out["error"]
    monkeypatch.setenv("GAIT_CREDENTIAL_COMMAND_ALLOWLIST", "/usr/bin/other,ok.py")
    code, out = _eval(capsys, ok)  # a base name in the list admits the command
    assert code == 0, out
    code, out = _eval(capsys, "no such command")
    assert code == 6 and out["error_code"] == "E_CREDENTIAL_COMMAND"  # not allowlisted either
    monkeypatch.delenv("GAIT_CREDENTIAL_COMMAND_ALLOWLIST")
    code, out = _eval(capsys, str(work / "missing-broker"))
    assert code == 3 and any("command broker failed" in w for w in out["warnings"])


def test_a_slow_command_times_out(work: Path) -> None:
    from gait.gate.broker import CredentialUnavailable, Request
    from gait.gate.broker_command import CommandBroker

    slow = _script(work, "slow.py", "import time\ntime.sleep(30)")
    broker = CommandBroker(slow, timeout=0.5)
    with pytest.raises(CredentialUnavailable, match="timed out"):
        broker.issue(Request(tool_name="tool.write", identity="a"), "2026-02-18T00:00:00Z")
