"""Production trust that cannot be self-granted (issue 11 items 1-6, 10), through the CLI with
real keys, real tokens and real processes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gait.sign.keys import SigningKey

POLICY = """\
default_verdict: require_approval
fail_closed:
  enabled: true
  risk_classes: [high]
rules:
  - name: charge-needs-approval
    effect: require_approval
    match:
      tool_names: [payments.charge]
"""


def _intent(**args: object) -> dict:
    return {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": "2026-06-01T00:00:00Z",
        "producer_version": "t",
        "tool_name": "payments.charge",
        "args": args or {"amount": 250},
        "targets": [
            {
                "kind": "other",
                "value": "stripe",
                "operation": "charge",
                "endpoint_class": "net.http",
            }
        ],
        "arg_provenance": [{"arg_path": "$.amount", "source": "user"}],
        "context": {
            "identity": "bot",
            "workspace": "/w",
            "risk_class": "high",
            "environment": "prod",
        },
    }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def site(tmp_path: Path, run_gait) -> Path:  # noqa: ANN001
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "intent.json").write_text(json.dumps(_intent()))
    proc = run_gait("keys", "init", "--key-mode", "prod", "--out", "k", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return tmp_path


def _approve(run_gait, site: Path, out: str, *extra: str) -> None:  # noqa: ANN001
    proc = run_gait(
        "approve",
        "--intent",
        "intent.json",
        "--policy",
        "policy.yaml",
        "--approver",
        "alice",
        "--reason-code",
        "CHG-1",
        "--ttl",
        "1h",
        "--scope",
        "tool:payments.charge",
        "--out",
        out,
        *extra,
        cwd=site,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _eval(run_gait, site: Path, *extra: str, mode: str = "prod") -> tuple[int, dict]:  # noqa: ANN001
    argv = ["gate", "eval", "--policy", "policy.yaml", "--intent", "intent.json", "--json"]
    if mode == "prod":
        argv += ["--key-mode", "prod", "--private-key", "k/gait_private.key"]
    proc = run_gait(*argv, *extra, cwd=site)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


# -- item 1: a production gate refuses tokens signed by the local dev key -----------------------


def test_prod_gate_refuses_a_dev_key_token_and_accepts_a_prod_one(site: Path, run_gait) -> None:
    _approve(run_gait, site, "dev_token.json")  # dev mode: the local dev key signs
    code, doc = _eval(run_gait, site, "--approval-token", "dev_token.json")
    assert code == 4 and doc["verdict"] == "require_approval", doc
    assert "approval_token_signature_invalid" in doc["reason_codes"]
    # the same token still approves in a dev gate (its own key)
    code, doc = _eval(run_gait, site, "--approval-token", "dev_token.json", mode="dev")
    assert code == 0 and "approval_granted" in doc["reason_codes"], doc
    # a token from the production key approves in production
    _approve(
        run_gait,
        site,
        "prod_token.json",
        "--key-mode",
        "prod",
        "--private-key",
        "k/gait_private.key",
    )
    code, doc = _eval(run_gait, site, "--approval-token", "prod_token.json")
    assert code == 0 and "approval_granted" in doc["reason_codes"], doc


def test_untrusted_key_tokens_are_refused_in_every_mode(site: Path, run_gait) -> None:
    _approve(run_gait, site, "dev_token.json")
    listed = json.loads(run_gait("keys", "list", "--json").stdout)["keys"]
    dev_id = next(e["key_id"] for e in listed if e["mode"] == "dev")
    assert run_gait("keys", "untrust", dev_id).returncode == 0
    code, doc = _eval(run_gait, site, "--approval-token", "dev_token.json", mode="dev")
    assert code == 4 and "approval_token_signature_invalid" in doc["reason_codes"], doc


# -- item 2: trust defaults to dev; the local dev key is never prod ----------------------------


def test_trust_defaults_to_dev_and_the_dev_key_cannot_be_prod(
    site: Path, run_gait, gait_home: Path
) -> None:
    run_gait("keys", "init", "--key-mode", "dev", cwd=site)  # the local dev key
    other = SigningKey.generate()
    (site / "partner.pub").write_text(other.public().to_text())
    doc = json.loads(run_gait("keys", "trust", "partner.pub", "--json", cwd=site).stdout)
    assert doc["mode"] == "dev"
    dev_public = str(gait_home / "keys" / "dev_public.key")
    proc = run_gait("keys", "trust", dev_public, "--key-mode", "prod", "--json", cwd=site)
    assert proc.returncode == 6 and "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["error_code"] == "E_TRUST_DEV_KEY_AS_PROD"
    # a hand-edited trust store cannot promote it either
    ring_path = gait_home / "keyring.json"
    ring = json.loads(ring_path.read_text())
    for entry in ring["keys"]:
        entry["mode"] = "prod"
    ring_path.write_text(json.dumps(ring))
    listed = json.loads(run_gait("keys", "list", "--json").stdout)["keys"]
    modes = {e["label"]: e["mode"] for e in listed}
    assert modes["local dev key"] == "dev"


# -- item 4: an unknown signer says so ---------------------------------------------------------


def test_unknown_signer_is_named_in_human_output(
    site: Path, run_gait, tmp_path: Path, conformance_dir: Path
) -> None:
    src = conformance_dir / "reference/inputs/run_ref.json"
    proc = run_gait(
        "run",
        "record",
        "--input",
        str(src),
        "--key-mode",
        "prod",
        "--private-key",
        "k/gait_private.key",
        cwd=site,
    )
    assert proc.returncode == 0, proc.stderr
    runpack = next(site.rglob("*.zip"))
    # a fresh GAIT_HOME that has never heard of the signer
    env = {"GAIT_HOME": str(tmp_path / "elsewhere")}
    proc = run_gait("verify", str(runpack), cwd=site, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "UNKNOWN SIGNER" in proc.stdout and "gait keys trust" in proc.stdout, proc.stdout
    strict = run_gait("verify", str(runpack), "--require-signature", cwd=site, env=env)
    assert strict.returncode == 2


# -- item 5: GAIT_HOME hygiene -------------------------------------------------------------------


def test_gait_home_is_owner_only_under_umask_000(tmp_path: Path, gait_argv: list[str]) -> None:
    home = tmp_path / "deep" / "home"
    env = {**os.environ, "GAIT_HOME": str(home)}
    proc = subprocess.run(
        [
            "sh",
            "-c",
            'umask 000 && exec "$@"',
            "sh",
            *gait_argv,
            "keys",
            "init",
            "--key-mode",
            "dev",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for folder in (home, home / "keys"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE((home / "keys" / "dev_private.key").stat().st_mode) == 0o600
    assert not (stat.S_IMODE((home / "keyring.json").stat().st_mode) & 0o022)


def test_a_planted_dev_key_symlink_is_refused(tmp_path: Path, run_gait, gait_home: Path) -> None:
    planted = SigningKey.generate()
    (tmp_path / "evil.key").write_text(planted.to_text())
    (gait_home / "keys").mkdir(mode=0o700)
    (gait_home / "keys" / "dev_private.key").symlink_to(tmp_path / "evil.key")
    proc = run_gait("keys", "init", "--key-mode", "dev", "--json", cwd=tmp_path)
    assert proc.returncode == 6, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["error_code"] == "E_KEY_INVALID" and "symlink" in doc["error"]
    ring = gait_home / "keyring.json"
    assert not ring.exists() or planted.key_id not in ring.read_text()
    doctor = run_gait("doctor", "--json", cwd=tmp_path)
    checks = {c["id"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["gait_home"]["status"] == "fail"


def test_doctor_fails_a_world_writable_gait_home(tmp_path: Path, run_gait, gait_home) -> None:  # noqa: ANN001
    os.chmod(gait_home, 0o777)
    proc = run_gait("doctor", "--json", cwd=tmp_path)
    checks = {c["id"]: c for c in json.loads(proc.stdout)["checks"]}
    assert checks["gait_home"]["status"] == "fail", checks["gait_home"]
    assert "chmod 700" in checks["gait_home"]["fix"]
    os.chmod(gait_home, 0o700)
    proc = run_gait("doctor", "--json", cwd=tmp_path)
    checks = {c["id"]: c for c in json.loads(proc.stdout)["checks"]}
    assert checks["gait_home"]["status"] == "pass"


# -- item 6: evaluation time skew in production --------------------------------------------------


def test_prod_refuses_an_evaluation_time_far_from_the_clock(site: Path, run_gait) -> None:
    _approve(
        run_gait,
        site,
        "prod_token.json",
        "--key-mode",
        "prod",
        "--private-key",
        "k/gait_private.key",
    )
    past = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    code, doc = _eval(
        run_gait, site, "--approval-token", "prod_token.json", "--evaluation-time", past
    )
    assert code == 6 and doc["error_code"] == "E_GATE_EVALUATION_TIME_SKEW", doc
    code, doc = _eval(
        run_gait, site, "--approval-token", "prod_token.json", "--evaluation-time", _now()
    )
    assert code == 0, doc
    # dev mode may replay a past decision
    code, _ = _eval(run_gait, site, "--evaluation-time", past, mode="dev")
    assert code == 4


# -- item 10: exactly one concurrent `keys init --key-mode prod` creates -------------------------


def test_concurrent_prod_key_init_creates_exactly_once(
    tmp_path: Path, gait_argv, gait_home
) -> None:  # noqa: ANN001
    env = {**os.environ, "GAIT_HOME": str(gait_home)}
    argv = [*gait_argv, "keys", "init", "--key-mode", "prod", "--out", "k", "--json"]
    procs = [
        subprocess.Popen(
            argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(8)
    ]
    results = [(p.wait(timeout=120), p.stdout.read()) for p in procs]  # type: ignore[union-attr]
    created = [json.loads(out) for code, out in results if code == 0]
    refused = [json.loads(out) for code, out in results if code != 0]
    assert len(created) == 1, results
    assert all(doc["error_code"] == "E_KEY_EXISTS" for doc in refused), refused
    private = SigningKey.from_text((tmp_path / "k" / "gait_private.key").read_text())
    assert (tmp_path / "k" / "gait_public.key").read_text() == private.public().to_text()
    assert private.key_id == created[0]["key_id"]


# -- item 3: a publisher is bound to its keys ---------------------------------------------------


def test_a_pack_signed_by_another_publishers_key_is_refused(tmp_path: Path, run_gait) -> None:
    keys = {}
    for name in ("acme", "partner"):
        key = SigningKey.generate()
        (tmp_path / f"{name}.key").write_text(key.to_text())
        (tmp_path / f"{name}.pub").write_text(key.public().to_text())
        trust = ("keys", "trust", f"{name}.pub", "--key-mode", "prod", "--publisher", name)
        assert run_gait(*trust, cwd=tmp_path).returncode == 0
        keys[name] = key
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "graders.json").write_text('{"graders": ["schema_validation"]}\n')

    def pack(signer: str, out: str) -> None:
        proc = run_gait(
            "registry",
            "pack",
            "src",
            "--name",
            "baseline",
            "--version",
            "1.0.0",
            "--publisher",
            "acme",
            "--out",
            out,
            "--key-mode",
            "prod",
            "--private-key",
            f"{signer}.key",
            cwd=tmp_path,
        )
        assert proc.returncode == 0, proc.stderr

    pack("partner", "forged.zip")
    proc = run_gait(
        "registry", "install", "forged.zip", "--allow-publisher", "acme", "--json", cwd=tmp_path
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["error_code"] == "E_REGISTRY_UNTRUSTED_PUBLISHER"
    assert "trusted for publisher(s) partner, not 'acme'" in doc["error"]
    pack("acme", "real.zip")
    proc = run_gait(
        "registry", "install", "real.zip", "--allow-publisher", "acme", "--json", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["signer_key_id"] == keys["acme"].key_id


# -- item 7: every error on a high-risk intent in production is a recorded block -----------------


@pytest.mark.parametrize("case", ["huge-int", "null-in-policy-list"])
def test_prod_errors_on_high_risk_intents_are_signed_blocks(site: Path, run_gait, case) -> None:  # noqa: ANN001
    if case == "huge-int":
        (site / "intent.json").write_text(json.dumps(_intent(amount=10**400)))
    else:
        (site / "policy.yaml").write_text(
            POLICY + "    endpoint:\n      enabled: true\n      path_denylist: [null]\n"
        )
    code, doc = _eval(run_gait, site)
    assert code == 3 and doc["verdict"] == "block", doc
    assert doc["reason_codes"][0].startswith("fail_closed_"), doc
    trace = site / doc["trace_path"]
    assert trace.is_file()
    log = (trace.parent / "decisions.jsonl").read_text().splitlines()
    assert len(log) == 1 and doc["trace_id"] in log[0]
    verify = run_gait("trace", "verify", str(trace), "--public-key", "k/gait_public.key", cwd=site)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # in dev mode the same input is an E_* error (exit 6), never a traceback
    proc = run_gait("gate", "eval", "--policy", "policy.yaml", "--intent", "intent.json", cwd=site)
    assert proc.returncode == 6 and "Traceback" not in proc.stderr, proc.stderr
    assert "gait: E_" in proc.stderr


def test_a_token_with_a_lone_surrogate_is_one_invalid_token(site: Path, run_gait) -> None:
    """Item 15: it counts as one invalid token; the good token next to it still approves."""
    _approve(
        run_gait, site, "good.json", "--key-mode", "prod", "--private-key", "k/gait_private.key"
    )
    bad = json.loads((site / "good.json").read_text())
    text = json.dumps(bad).replace('"alice"', '"al\\ud800ice"')
    (site / "bad.json").write_text(text)
    code, doc = _eval(
        run_gait, site, "--approval-token", "bad.json", "--approval-token", "good.json"
    )
    assert code == 0 and "approval_granted" in doc["reason_codes"], doc
    assert "approval_token_invalid" in doc["reason_codes"], doc


@pytest.mark.parametrize(
    "extra",
    [("--ttl", "1" + "0" * 400 + "h"), ("--ttl", "1e400h"), ("--now", "9999-12-31T23:59:59Z")],
    ids=["ttl-400-zeros", "ttl-float-overflow", "now-year-9999"],
)
def test_approve_with_absurd_times_is_a_usage_error(site: Path, run_gait, extra) -> None:  # noqa: ANN001
    argv = [
        "approve",
        "--intent",
        "intent.json",
        "--policy",
        "policy.yaml",
        "--approver",
        "alice",
        "--reason-code",
        "CHG-1",
        "--scope",
        "tool:payments.charge",
        "--out",
        "t.json",
    ]
    if extra[0] != "--ttl":
        argv += ["--ttl", "1h"]
    proc = run_gait(*argv, *extra, "--json", cwd=site)
    assert proc.returncode == 6, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["error_code"] == "E_USAGE"
    assert not (site / "t.json").exists()
