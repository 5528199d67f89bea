"""Policy authoring: strict loading errors, validate, fmt, init, and the constraint extensions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gait.cli.main import main

INTENT = {
    "schema_id": "gait.gate.intent_request",
    "schema_version": "1.0.0",
    "created_at": "2026-06-01T00:00:00Z",
    "producer_version": "t",
    "tool_name": "payments.charge",
    "args": {"amount": 250, "currency": "EUR", "to": {"iban": "DE00"}},
    "targets": [{"kind": "other", "value": "stripe", "operation": "charge"}],
    "context": {"identity": "bot", "workspace": "/w", "risk_class": "high", "environment": "prod"},
}


def _write(tmp_path: Path, text: str, name: str = "policy.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _validate(capsys, path: str) -> tuple[int, dict]:
    code = main(["policy", "validate", path, "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "policy is empty"),
        ("# only a comment\n", "policy is empty"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("default_verdict: allow\ndefault_verdict: block\n", "duplicate key 'default_verdict'"),
        ("default_verdict: allow\nfrobnicate: 1\n", "unknown key 'frobnicate' (line 2)"),
        (
            "rules:\n  - name: a\n    effect: allow\n    match:\n      tool_nmes: [x]\n",
            "unknown key 'rules[0].match.tool_nmes' (line 5)",
        ),
        ("version: 1\n", "legacy key 'version'"),
        ("scripts:\n  max_steps: -1\n", "scripts.max_steps must be >= 0"),
        (
            "rules:\n  - name: a\n    effect: allow\n    kill_switch: true\n",
            "'rules[0].kill_switch' is not evaluated",
        ),
        ("fail_closed:\n  enabled: yes\n", "ambiguous YAML 1.1 boolean 'yes'"),
        ("rules:\n  - name: no\n    effect: allow\n", "ambiguous YAML 1.1 boolean 'no'"),
        ("a: &x [1]\nb: *x\n", "unknown key 'a'"),
        ("fail_closed:\n  risk_classes: [null]\n", "fail_closed.risk_classes[0] must not be null"),
        ("rules:\n  - null\n", "rules[0] must not be null"),
        (
            "rules:\n  - name: a\n    effect: allow\n    rate_limit:\n      requests: -1\n",
            "rate_limit.requests must be >= 0",
        ),
        (
            "rules:\n  - name: a\n    effect: allow\n    match:\n      args:\n"
            "        - path: $.x\n          regex: '(['\n",
            "not a valid regular expression",
        ),
        ("default_verdict: maybe\n", "invalid default_verdict"),
        ("rules:\n  - name: a\n    effect: allow\n    priority: high\n", "must be an integer"),
        ("rules:\n  - effect: allow\n", "rule name is required"),
        ("default_verdict: [allow\n", "YAML syntax error"),
    ],
)
def test_bad_policies_name_key_and_line(tmp_path: Path, capsys, text: str, needle: str) -> None:
    code, out = _validate(capsys, _write(tmp_path, text))
    assert code == 6
    assert out["error_code"] == "E_POLICY_PARSE"
    assert needle in out["error"], out["error"]


def test_alias_bomb_is_refused_quickly(tmp_path: Path, capsys) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    code, out = _validate(capsys, _write(tmp_path, "\n".join(lines) + "\n"))
    assert code == 6 and "per alias" in out["error"]


def test_bad_policy_without_json_is_one_line(tmp_path: Path, capsys) -> None:
    code = main(["policy", "validate", _write(tmp_path, "x: [1\n")])
    err = capsys.readouterr().err
    assert code == 6
    assert err.startswith("gait: E_POLICY_PARSE:") and "Traceback" not in err


def test_validate_prints_digest(tmp_path: Path, capsys) -> None:
    code, out = _validate(capsys, _write(tmp_path, "default_verdict: require_approval\n"))
    assert code == 0
    assert out["policy_digest"] == (
        "07a528a879e4f0e0cd5a0e2ca801924746b47dac624862207ef21d4ec266f8f9"
    )


def test_fmt_is_idempotent_and_keeps_digest(tmp_path: Path, capsys, conformance_dir) -> None:
    source = (conformance_dir / "gate-differential/policies/priorities.yaml").read_text()
    messy = "rules:\n" + source.split("rules:\n", 1)[1] + "default_verdict: require_approval\n"
    path = _write(tmp_path, messy)
    _, before = _validate(capsys, path)
    assert main(["policy", "fmt", path, "--check"]) == 2
    capsys.readouterr()
    assert main(["policy", "fmt", path, "--json"]) == 0  # prints, as the reference; no write
    printed = json.loads(capsys.readouterr().out)
    assert printed["changed"] is True and printed["written"] is False
    assert Path(path).read_text() == messy
    assert main(["policy", "fmt", path, "--write", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] is True
    once = Path(path).read_text()
    assert once == printed["formatted"]
    assert once.startswith("default_verdict: require_approval\nrules:\n")
    assert main(["policy", "fmt", path, "--write", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] is False
    assert Path(path).read_text() == once
    _, after = _validate(capsys, path)
    assert after["policy_digest"] == before["policy_digest"]


def test_init_templates(tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "p.yaml")
    assert main(["policy", "init", "--out", out, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["template"] == "baseline-highrisk"
    assert main(["policy", "init", "--out", out]) == 6  # exists
    capsys.readouterr()
    for name in ("baseline-lowrisk", "read-only"):
        assert main(["policy", "init", name, "--out", out, "--force"]) == 0
        capsys.readouterr()
        assert _validate(capsys, out)[0] == 0
    assert main(["policy", "init", "nope", "--out", out, "--force"]) == 6
    capsys.readouterr()


def _decide(capsys, tmp_path: Path, policy: str, intent: dict) -> dict:
    ipath = tmp_path / "intent.json"
    ipath.write_text(json.dumps(intent))
    code = main(["policy", "test", _write(tmp_path, policy), str(ipath), "--json"])
    out = json.loads(capsys.readouterr().out)
    out["exit"] = code
    return out


CONSTRAINED = """\
default_verdict: allow
rules:
  - name: big-charges
    priority: 1
    effect: require_approval
    match:
      tool_names: [payments.charge]
      environments: [prod]
      args:
        - path: $.amount
          min: 100
        - path: $.currency
          in: [EUR, USD]
        - path: $.to.iban
          regex: "DE.*"
"""


def test_argument_and_environment_constraints(tmp_path: Path, capsys) -> None:
    out = _decide(capsys, tmp_path, CONSTRAINED, INTENT)
    assert (out["exit"], out["matched_rule"]) == (4, "big-charges")
    for change in ({"amount": 99}, {"currency": "GBP"}, {"to": {"iban": "FR00"}}):
        intent = json.loads(json.dumps(INTENT))
        intent["args"].update(change)
        assert _decide(capsys, tmp_path, CONSTRAINED, intent)["verdict"] == "allow"
    staging = json.loads(json.dumps(INTENT))
    staging["context"]["environment"] = "staging"
    assert _decide(capsys, tmp_path, CONSTRAINED, staging)["verdict"] == "allow"
    from gait.canon import digest

    exact = CONSTRAINED.replace('regex: "DE.*"', f'digest: "{digest("DE00")}"')
    assert _decide(capsys, tmp_path, exact, INTENT)["verdict"] == "require_approval"
    equals = CONSTRAINED.replace('regex: "DE.*"', "equals: DE01")
    assert _decide(capsys, tmp_path, equals, INTENT)["verdict"] == "allow"


def test_extensions_enter_the_digest_only_when_present(tmp_path: Path, capsys) -> None:
    plain = CONSTRAINED.split("      environments")[0]
    _, base = _validate(capsys, _write(tmp_path, plain))
    _, env = _validate(capsys, _write(tmp_path, plain + "      environments: [prod]\n"))
    _, full = _validate(capsys, _write(tmp_path, CONSTRAINED))
    assert len({base["policy_digest"], env["policy_digest"], full["policy_digest"]}) == 3
    # a policy without extensions digests as the reference's does (worked example)
    _, ref = _validate(capsys, _write(tmp_path, "default_verdict: require_approval\n"))
    assert ref["policy_digest"].startswith("07a528a8")


def test_policy_test_bytes_identical_across_hash_seeds(tmp_path: Path, conformance_dir) -> None:
    policy = conformance_dir / "gate-differential/policies/endpoint-dataflow.yaml"
    intent = tmp_path / "i.json"
    intent.write_text(
        (conformance_dir / "gate-differential/intents.jsonl").read_text().splitlines()[1]
    )
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run(
            [sys.executable, "-m", "gait", "policy", "test", str(policy), str(intent), "--json"],
            capture_output=True,
            env=env,
            check=False,
        )
        assert run.returncode == 3
        outputs.add(run.stdout)
    assert len(outputs) == 1


def test_policy_test_jsonl_and_junit(tmp_path: Path, capsys, conformance_dir) -> None:
    root = conformance_dir / "scenarios/policy-block-destructive"
    junit = tmp_path / "junit.xml"
    code = main(
        [
            "policy",
            "test",
            str(root / "policy.yaml"),
            str(root / "intents.jsonl"),
            "--junit",
            str(junit),
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 3 and out["verdict"] == "block" and len(out["results"]) == 5
    assert "<testsuite" in junit.read_text()
    expect = tmp_path / "expect.jsonl"
    expect.write_text("\n".join(json.dumps({"verdict": "allow"}) for _ in range(5)))
    code = main(
        [
            "policy",
            "test",
            str(root / "policy.yaml"),
            str(root / "intents.jsonl"),
            "--expect",
            str(expect),
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 5 and out["error_code"] == "E_POLICY_TEST_FAIL"


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda i: i.pop("tool_name"), "tool_name"),
        (lambda i: i["context"].pop("identity"), "identity"),
        (lambda i: i.__setitem__("args", "not-an-object"), "args"),
        (lambda i: i.__setitem__("targets", [{"kind": "disk", "value": "x"}]), "kind"),
        (lambda i: i["args"].__setitem__("api_token", "sk-live-abcdef1234567890"), "credential"),
    ],
)
def test_bad_intents_are_clear_errors(tmp_path: Path, capsys, mutate, needle: str) -> None:
    intent = json.loads(json.dumps(INTENT))
    mutate(intent)
    out = _decide(capsys, tmp_path, "default_verdict: allow\n", intent)
    assert out["exit"] == 6
    assert out["error_code"] in ("E_INTENT_INVALID", "E_SCHEMA_INVALID")
    assert needle in out["error"]
