"""``.gait/config.yaml`` (issue 15, item 7): gate eval defaults with flag > config > default,
``--config`` / ``--no-config``, ``gait init`` writing the file, and
``gait doctor --production-readiness``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gate_cli import WRITE_INTENT, run_json

POLICY = """\
default_verdict: block
rules:
  - name: brokered-write
    effect: allow
    require_broker_credential: true
    match:
      tool_names: [tool.write]
"""


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GAIT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GAIT_MODE", raising=False)
    (tmp_path / "p.yaml").write_text(POLICY)
    (tmp_path / "i.json").write_text(json.dumps(WRITE_INTENT))
    return tmp_path


def _config(work: Path, text: str, name: str = ".gait/config.yaml") -> Path:
    path = work / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_gate_eval_takes_defaults_from_the_project_config(work: Path, capsys) -> None:
    code, out = run_json(capsys, "gate", "eval", "--intent", "i.json")
    assert code == 6 and out["error_code"] == "E_USAGE"  # no --policy, no config
    assert "--policy and --intent are required" in out["error"]

    _config(work, "gate:\n  policy: p.yaml\n  credential_broker: stub\n  trace_path: t.json\n")
    code, out = run_json(capsys, "gate", "eval", "--intent", "i.json")
    assert code == 0 and "broker_credential_present" in out["reason_codes"], out
    assert out["trace_path"] == "t.json" and Path("t.json").is_file()
    # the flag wins over the file
    code, out = run_json(capsys, "gate", "eval", "--intent", "i.json", "--credential-broker", "off")
    assert code == 3 and "broker_credential_required" in out["reason_codes"]
    # --no-config: the built-in defaults
    code, out = run_json(capsys, "gate", "eval", "--intent", "i.json", "--no-config")
    assert code == 6 and out["error_code"] == "E_USAGE"
    code, out = run_json(
        capsys, "gate", "eval", "--intent", "i.json", "--policy", "p.yaml", "--no-config"
    )
    assert code == 3 and "broker_credential_required" in out["reason_codes"]

    other = _config(work, "gate:\n  policy: p.yaml\n  credential_broker: env\n", "other.yaml")
    code, out = run_json(capsys, "gate", "eval", "--intent", "i.json", "--config", str(other))
    assert code == 3 and "broker_credential_missing" in out["reason_codes"], out
    code, out = run_json(capsys, "gate", "eval", "--intent", "i.json", "--config", "nope.yaml")
    assert code == 6 and out["error_code"] == "E_PROJECT_CONFIG_READ"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("gate:\n  keymode: prod\n", "unknown key 'gate.keymode'"),
        ("gates:\n  policy: p.yaml\n", "unknown key 'gates'"),
        ("retention:\n  trace_tll: 1h\n", "unknown key 'retention.trace_tll'"),
        ("mcp_serve:\n  max_request_bytes: big\n", "mcp_serve.max_request_bytes must be"),
        ("gate:\n  policy: [a, b]\n", "gate.policy must be a string"),
        ("gate: [policy]\n", "gate must be a mapping"),
        ("gate:\n  policy: a\n  policy: b\n", "duplicate"),
    ],
)
def test_unknown_or_mistyped_keys_are_refused_by_name(
    work: Path, capsys, text: str, needle: str
) -> None:
    _config(work, text)
    code, out = run_json(capsys, "gate", "eval", "--intent", "i.json", "--policy", "p.yaml")
    assert code == 6 and out["error_code"] == "E_PROJECT_CONFIG_INVALID", out
    assert needle in out["error"]


def test_config_profile_and_keys_reach_the_gate(work: Path, capsys) -> None:
    code, keys = run_json(capsys, "keys", "init", "--key-mode", "prod", "--out", "keys")
    assert code == 0
    limited = POLICY.replace(
        "    match:", "    rate_limit:\n      requests: 5\n      window: hour\n    match:"
    )
    (work / "p.yaml").write_text(limited)
    _config(
        work,
        "gate:\n  policy: p.yaml\n  profile: oss-prod\n  key_mode: prod\n"
        f"  private_key: {keys['private_key_path']}\n  credential_broker: stub\n"
        "  rate_limit_state: gait-out/state.sqlite3\n",
    )
    code, out = run_json(capsys, "gate", "eval", "--intent", "i.json")
    assert code == 0 and out["profile"] == "oss-prod", out
    assert Path("gait-out/state.sqlite3").is_file()  # rate_limit_state is this gate's --state
    code, out = run_json(capsys, "gate", "eval", "--intent", "i.json", "--simulate")
    assert code == 6 and out["error_code"] == "E_PROFILE_OSS_PROD"


PRODUCTION = """\
gate:
  policy: .gait.yaml
  profile: oss-prod
  key_mode: prod
  private_key_env: GAIT_PRIVATE_KEY
mcp_serve:
  enabled: true
  listen: 127.0.0.1:8787
  auth_mode: token
  auth_token_env: GAIT_MCP_TOKEN
  max_request_bytes: 1048576
  http_verdict_status: strict
  allow_client_artifact_paths: false
retention:
  trace_ttl: 168h
  session_ttl: 336h
  export_ttl: 1h30m
"""


def _production(capsys) -> tuple[int, dict[str, dict]]:
    code, out = run_json(capsys, "doctor", "--production-readiness")
    checks = {c["id"]: c for c in out["checks"] if c["id"].startswith("production")}
    assert code == (2 if out["status"] == "fail" else 0) and out["ok"] == (code == 0), out
    return code, checks


def test_init_writes_the_config_and_doctor_checks_it(work: Path, capsys) -> None:
    code, _ = run_json(capsys, "doctor", "--production-readiness")
    assert code == 2
    code, out = run_json(capsys, "init")
    assert code == 0 and out["config_written"] is True and out["config_path"] == ".gait/config.yaml"
    code, out = run_json(capsys, "gate", "eval", "--intent", "i.json")  # policy from the config
    assert (
        out["policy_digest"]
        == run_json(capsys, "policy", "validate", ".gait.yaml")[1]["policy_digest"]
    )
    code, out = run_json(capsys, "init", "--force")
    assert code == 0 and out["config_written"] is False  # the operator's file is kept

    code, checks = _production(capsys)
    assert code == 2 and checks["production_readiness_config"]["status"] == "pass"
    assert checks["production_profile"]["status"] == "fail"
    assert "gate.profile=oss-prod" in checks["production_profile"]["message"]
    assert checks["production_service_boundary"]["status"] == "pass"  # not configured

    _config(work, PRODUCTION)
    code, checks = _production(capsys)
    assert {c["status"] for c in checks.values()} == {"pass"}, checks
    assert len(checks) == 6
    for change, failing, needle in (
        ("listen: 127.0.0.1:8787", "listen: 0.0.0.0:8787\n  auth_mode: none", "auth_mode=token"),
        ("listen: 127.0.0.1:8787", "listen: nowhere", "invalid mcp_serve.listen"),
        ("max_request_bytes: 1048576", "max_request_bytes: 0", "max_request_bytes"),
        ("http_verdict_status: strict", "http_verdict_status: lenient", "must be strict"),
        ("export_ttl: 1h30m", "export_ttl: a week", "invalid retention.export_ttl"),
        ("  auth_mode: token\n", "", ""),
    ):
        text = PRODUCTION.replace(change, failing)
        if not needle:  # no auth on loopback is allowed
            _config(work, text)
            assert _production(capsys)[1]["production_service_boundary"]["status"] == "pass"
            continue
        _config(work, text.replace("  auth_mode: token\n", "") if "none" in failing else text)
        code, checks = _production(capsys)
        failed = [c for c in checks.values() if c["status"] == "fail"]
        assert code == 2 and len(failed) == 1 and needle in failed[0]["message"], checks
    _config(work, "gate:\n  profle: oss-prod\n")
    code, checks = _production(capsys)
    assert (
        code == 2
        and "unknown key 'gate.profle'" in checks["production_readiness_config"]["message"]
    )


def test_check_reads_the_project_config(work: Path, capsys) -> None:
    assert run_json(capsys, "init")[0] == 0

    def finding() -> dict:
        code, out = run_json(capsys, "check")
        assert code == 0, out
        return next(f for f in out["findings"] if f["id"] == "project_config")

    assert finding() == {
        "id": "project_config",
        "message": ".gait/config.yaml loads (gate.policy: .gait.yaml)",
        "status": "pass",
    }
    _config(work, "gate:\n  policy: moved.yaml\n")
    got = finding()
    assert got["status"] == "fail" and got["fix"] == "gait init --out moved.yaml"
    _config(work, "gate:\n  polcy: .gait.yaml\n")
    got = finding()
    assert got["status"] == "fail" and "unknown key 'gate.polcy'" in got["message"]
