"""The decisions the CLI used to make itself now live in the cores (issue 14 item 3): an SDK
caller asking the core gets the same answer ``gait`` prints, on the same inputs."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from gait.errors import RegressFailed
from gait.gate.policy import load_policy
from gait.gate.policytest import run_policy_tests
from gait.runpack.redact import Redactor
from gait.runpack.verify import verification_options, verify_runpack
from gait.runpack.writer import write_record_input
from gait.sign.keys import SigningKey

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _doc(proc) -> dict:  # noqa: ANN001 - CompletedProcess
    doc = json.loads(proc.stdout)
    doc.pop("correlation_id")
    return doc


def _jsonl(path: Path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_policy_test_verdicts_and_expectations_agree(run_gait, tmp_path: Path) -> None:
    policy, intents = EXAMPLES / "policy.yaml", EXAMPLES / "intents.jsonl"
    expected = _jsonl(EXAMPLES / "expected.jsonl")
    sdk = run_policy_tests(load_policy(policy), _jsonl(intents), many=True)
    cli = run_gait("policy", "test", str(policy), str(intents), "--json")
    assert cli.returncode == sdk.exit_code == 3  # the combined (most restrictive) verdict
    assert _doc(cli) == json.loads(json.dumps(sdk.to_json()))

    sdk.match(expected)
    cli = run_gait(
        "policy",
        "test",
        str(policy),
        str(intents),
        "--expect",
        str(EXAMPLES / "expected.jsonl"),
        "--json",
    )
    assert cli.returncode == sdk.exit_code == 0
    assert _doc(cli) == json.loads(json.dumps(sdk.to_json()))
    assert sdk.to_json()["expectations_met"] is True

    # one wrong expectation: the same failure, the same message, exit 5 either way
    expected[1] = {"verdict": "allow"}
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text("".join(json.dumps(item) + "\n" for item in expected))
    sdk = run_policy_tests(load_policy(policy), _jsonl(intents), expectations=expected)
    assert sdk.failures == ["intent 1: verdict block != expected allow"]
    with pytest.raises(RegressFailed) as raised:
        sdk.raise_for_expectations()
    cli = run_gait("policy", "test", str(policy), str(intents), "--expect", str(wrong), "--json")
    assert cli.returncode == raised.value.exit_code == sdk.exit_code == 5
    assert _doc(cli)["error_code"] == raised.value.code == "E_POLICY_TEST_FAIL"
    assert _doc(cli)["error"] == raised.value.message


def test_record_redaction_drops_stale_digests_in_sdk_and_cli(run_gait, tmp_path: Path) -> None:
    doc = json.loads((EXAMPLES / "run.json").read_text())
    doc["capture_mode"] = "raw"
    # a digest the input gives for a payload the rules change would confirm the secret value
    doc["intents"][1]["args_digest"] = "ab" * 32
    source = tmp_path / "run.json"
    source.write_text(json.dumps(doc))
    key = SigningKey.generate()
    (tmp_path / "k.key").write_text(key.to_text())
    rule = "mask:$.args.reason"

    cli = run_gait(
        "run", "record", "--input", str(source), "--redact", rule, "--private-key", "k.key",
        "--key-mode", "prod", "--out", "cli.zip", "--json", cwd=tmp_path,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    redactor = Redactor([rule])
    written = write_record_input(
        json.loads(source.read_text()),
        tmp_path / "sdk.zip",
        signing_keys=[key],
        redactor=redactor,
    )
    assert (tmp_path / "sdk.zip").read_bytes() == (tmp_path / "cli.zip").read_bytes()
    assert _doc(cli)["redaction"] == redactor.report.to_json()
    assert _doc(cli)["manifest_digest"] == written.manifest_digest
    with zipfile.ZipFile(tmp_path / "sdk.zip") as archive:
        intents = [json.loads(line) for line in archive.read("intents.jsonl").splitlines()]
    assert intents[1]["args"] == {"order_id": "A-1042", "reason": "[REDACTED]"}
    assert intents[1]["args_digest"] != "ab" * 32  # recomputed over the redacted args
    assert redactor.report.to_json()["redactions_total"] == 1


@pytest.mark.parametrize(
    ("signer", "flags", "options", "ok"),
    [
        ("dev", (), {}, True),
        ("dev", ("--profile", "strict"), {"profile": "strict"}, True),  # the dev key is trusted
        ("dev", ("--key-mode", "prod"), {"mode": "prod"}, False),  # but not for production
        ("stranger", (), {}, True),  # integrity only: signature skipped
        ("stranger", ("--require-trusted",), {"require_trusted": True}, False),
        ("stranger", ("--profile", "strict"), {"profile": "strict"}, False),
    ],
)
def test_verify_requirements_agree(run_gait, tmp_path: Path, signer, flags, options, ok) -> None:
    keys: tuple[str, ...] = ()
    if signer == "stranger":
        (tmp_path / "k.key").write_text(SigningKey.generate().to_text())
        keys = ("--key-mode", "prod", "--private-key", "k.key")
    made = run_gait(
        "run", "record", "--input", str(EXAMPLES / "run.json"), "--out", "r.zip", *keys,
        cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    path = tmp_path / "r.zip"
    report = verify_runpack(path, verification_options(**options))
    cli = run_gait("verify", str(path), *flags, "--json")
    sdk = report.to_json()
    sdk["path"] = str(path)
    assert _doc(cli) == json.loads(json.dumps(sdk))
    assert cli.returncode == report.exit_code
    assert report.ok is ok
