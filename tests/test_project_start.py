"""A newcomer's first commands: gait init, gait check, gait intent init, and the approval flow
from a require_approval verdict to an allowed call (CLI and SDK)."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

import gait.gate
from gait.errors import InvalidInput
from gait.gate.sdk import GateApprovalRequired

INTENT = Path(__file__).resolve().parents[1] / "examples" / "intent.json"


def test_init_writes_policy_and_gitignore_and_check_reads_them(run_gait, tmp_path: Path) -> None:
    missing = run_gait("check", cwd=tmp_path)
    assert missing.returncode == 6 and "E_POLICY_NOT_FOUND" in missing.stderr
    assert "gait init" in missing.stderr
    (tmp_path / ".gitignore").write_text("node_modules/\ngait-out/")  # no final newline
    proc = run_gait("init", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["policy_path"] == ".gait.yaml" and doc["template"] == "baseline-highrisk"
    assert doc["gitignore_added"] == [".gait-out/", "regress_result.json", "keys/", "*_private.key"]
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert lines[:2] == ["node_modules/", "gait-out/"] and lines[-1] == "*_private.key"
    again = run_gait("init", cwd=tmp_path)
    assert again.returncode == 6 and "E_OUTPUT_EXISTS" in again.stderr
    forced = run_gait("init", "--force", "--template", "medium", "--json", cwd=tmp_path)
    assert json.loads(forced.stdout)["gitignore_added"] == []  # nothing added twice
    assert (tmp_path / ".gitignore").read_text().count("keys/") == 1

    checked = run_gait("check", "--json", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    report = json.loads(checked.stdout)
    status = {f["id"]: f["status"] for f in report["findings"]}
    assert status == {"gitignore": "pass", "regress": "warn", "project_config": "pass"}
    assert report["rule_count"] == 3  # baseline-mediumrisk
    assert run_gait("check", "--json", cwd=tmp_path).stdout == checked.stdout  # deterministic


def test_check_names_missing_ignore_lines_with_a_pasteable_fix(run_gait, tmp_path: Path) -> None:
    assert run_gait("init", "--no-gitignore", cwd=tmp_path).returncode == 0
    assert not (tmp_path / ".gitignore").exists()
    report = json.loads(run_gait("check", "--json", cwd=tmp_path).stdout)
    finding = next(f for f in report["findings"] if f["id"] == "gitignore")
    assert finding["status"] == "warn" and "*_private.key" in finding["message"]
    subprocess.run(["bash", "-c", finding["fix"]], cwd=tmp_path, check=True)
    report = json.loads(run_gait("check", "--json", cwd=tmp_path).stdout)
    assert next(f for f in report["findings"] if f["id"] == "gitignore")["status"] == "pass"


def test_check_refuses_an_invalid_policy(run_gait, tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("default_verdict: allow\nbogus: 1\n")
    proc = run_gait("check", "p.yaml", cwd=tmp_path)
    assert proc.returncode == 6 and "E_POLICY" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_intent_init_writes_a_valid_intent(run_gait, tmp_path: Path) -> None:
    proc = run_gait(
        "intent",
        "init",
        "tool.delete",
        "--target",
        "path:/workspace/app/old.db",
        "--identity",
        "alice",
        "--workspace",
        "/workspace/app",
        "--created-at",
        "2026-03-01T12:00:00Z",
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    written = json.loads((tmp_path / "intent.json").read_text())
    assert written["targets"] == [
        {"kind": "path", "operation": "delete", "value": "/workspace/app/old.db"}
    ]
    assert written["args"] == {"path": "/workspace/app/old.db"}
    assert written["arg_provenance"] == [{"arg_path": "$.path", "source": "user"}]
    expected = json.loads(INTENT.read_text())
    assert {k: written[k] for k in ("tool_name", "args", "targets", "context")} | {
        "context": expected["context"]
    } == {k: expected[k] for k in ("tool_name", "args", "targets", "context")}
    tested = run_gait(
        "policy", "test", str(_policy(run_gait, tmp_path)), "intent.json", "--json", cwd=tmp_path
    )
    assert json.loads(tested.stdout)["intent_digest"] == json.loads(proc.stdout)["intent_digest"]

    url = run_gait(
        "intent",
        "init",
        "http.get",
        "--target",
        "url:https://a.example/x?q=1",
        "--arg",
        "retries=3",
        "--out",
        "-",
        cwd=tmp_path,
    )
    doc = json.loads(url.stdout)
    assert doc["targets"][0] == {
        "kind": "url",
        "operation": "read",
        "value": "https://a.example/x?q=1",
    }
    assert doc["args"] == {"retries": 3}
    bad = run_gait("intent", "init", "x", "--target", "spaceship:1", cwd=tmp_path)
    assert bad.returncode == 6 and "E_USAGE" in bad.stderr and "next:" in bad.stderr


def _policy(run_gait, where: Path) -> Path:
    path = where / "policy.yaml"
    if not path.exists():
        assert run_gait("policy", "init", "baseline-highrisk", "--out", str(path)).returncode == 0
    return path


def test_require_approval_prints_the_approve_command_that_works(run_gait, tmp_path: Path) -> None:
    policy = _policy(run_gait, tmp_path)
    gate = ("gate", "eval", "--policy", str(policy), "--intent", str(INTENT))
    first = run_gait(*gate, cwd=tmp_path)
    assert first.returncode == 4
    next_line = next(line for line in first.stdout.splitlines() if line.startswith("next: "))
    then_line = next(line for line in first.stdout.splitlines() if line.startswith("then: "))
    assert "--scope destructive:apply,phase:apply,tool:tool.delete" in next_line
    approve = shlex.split(next_line.removeprefix("next: "), posix=True)
    approve = [a if a != "$USER" else "bob" for a in approve]
    assert approve[0] == "gait"
    assert run_gait(*approve[1:], cwd=tmp_path).returncode == 0
    again = shlex.split(then_line.removeprefix("then: "))
    allowed = run_gait(*again[1:], "--json", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stdout
    assert "approval_granted" in json.loads(allowed.stdout)["reason_codes"]
    doc = json.loads(run_gait(*gate, "--json", cwd=tmp_path).stdout)
    assert doc["required_scope"] == ["destructive:apply", "phase:apply", "tool:tool.delete"]
    assert doc["next_commands"][0].startswith("gait approve --intent-digest ")


def test_missing_token_file_is_not_found(run_gait, tmp_path: Path) -> None:
    policy = _policy(run_gait, tmp_path)
    proc = run_gait(
        "gate",
        "eval",
        "--policy",
        str(policy),
        "--intent",
        str(INTENT),
        "--approval-token",
        "nope.json",
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 6
    doc = json.loads(proc.stdout)
    assert doc["error_code"] == "E_APPROVAL_TOKEN_NOT_FOUND" and "nope.json" in doc["error"]


def test_sdk_exception_carries_digests_scope_and_the_command(
    run_gait, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    policy = _policy(run_gait, tmp_path)
    gate = gait.gate.load(policy, trace_dir=tmp_path / "traces")
    calls = []

    def delete(path: str) -> None:
        calls.append(path)

    def wrap(tokens):
        return gait.gate.tool(
            gate,
            name="tool.delete",
            context={"identity": "alice", "workspace": "/workspace/app", "risk_class": "high"},
            targets=lambda a: [{"kind": "path", "value": a["path"], "operation": "delete"}],
            provenance={"path": "user"},
            approval_tokens=tokens,
        )(delete)

    with pytest.raises(GateApprovalRequired) as caught:
        wrap(None)("/workspace/app/old.db")
    error = caught.value
    assert error.required_scope == ["destructive:apply", "phase:apply", "tool:tool.delete"]
    assert len(error.intent_digest) == 64 and len(error.policy_digest) == 64
    assert error.hint == error.approve_command
    assert f"--intent-digest {error.intent_digest}" in error.approve_command
    assert error.required_approvals == 1

    approve = shlex.split(error.approve_command)
    approve = [a if a != "$USER" else "bob" for a in approve]
    assert run_gait(*approve[1:], cwd=tmp_path).returncode == 0
    wrap(["approval_token.json"])("/workspace/app/old.db")  # a path, read at call time
    assert calls == ["/workspace/app/old.db"]
    with pytest.raises(InvalidInput) as missing:
        wrap([tmp_path / "nope.json"])("/workspace/app/old.db")
    assert missing.value.code == "E_APPROVAL_TOKEN_NOT_FOUND"
    assert calls == ["/workspace/app/old.db"]


def test_pytest_gait_without_gait_yaml_names_the_folder_once_and_the_next_step(
    tmp_path: Path,
) -> None:
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--gait", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "E_REGRESS_CONFIG_MISSING" in out
    assert out.count(str(tmp_path)) == 1, out
    assert "next: make a fixture set from a run: gait demo && gait regress init" in out
    assert "Traceback" not in out


def test_export_a_trace_directory(run_gait, tmp_path: Path) -> None:
    policy = _policy(run_gait, tmp_path)
    for _ in range(2):
        run_gait("gate", "eval", "--policy", str(policy), "--intent", str(INTENT), cwd=tmp_path)
    proc = run_gait(
        "export", "gait-out/traces", "--to", "jsonl:spans.jsonl", "--json", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["spans"] == 2
    assert len((tmp_path / "spans.jsonl").read_text().splitlines()) == 2
    bare = run_gait("export", "gait-out/traces", "--to", "bare.jsonl", cwd=tmp_path)
    assert bare.returncode == 0 and (tmp_path / "bare.jsonl").exists()


def test_check_finds_a_committed_private_key(run_gait, tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "ci_private.key").write_text("not a real key\n")
    subprocess.run(["git", "add", "keys"], cwd=tmp_path, check=True)
    assert run_gait("init", cwd=tmp_path).returncode == 0
    proc = run_gait("check", "--json", cwd=tmp_path)
    assert proc.returncode == 0  # as the reference: the policy loads
    finding = next(f for f in json.loads(proc.stdout)["findings"] if f["id"] == "committed_outputs")
    assert finding["status"] == "fail" and "keys/ci_private.key" in finding["message"]
    assert finding["fix"] == "git rm --cached -- keys/ci_private.key"
    assert run_gait("check", "--strict", cwd=tmp_path).returncode == 2
    subprocess.run(["bash", "-c", finding["fix"]], cwd=tmp_path, check=True, capture_output=True)
    report = json.loads(run_gait("check", "--json", cwd=tmp_path).stdout)
    assert "committed_outputs" not in {f["id"] for f in report["findings"]}


def test_a_uuid_run_id_is_refused_with_the_id_to_use(run_gait, tmp_path: Path) -> None:
    uuid = "3f2b1c9e-8d7a-4e5f-9a1b-2c3d4e5f6a7b"
    log = Path(__file__).resolve().parents[1] / "examples" / "chat_log.json"
    proc = run_gait(
        "run", "record", "--from", "openai", "--input", str(log), "--run-id", uuid, cwd=tmp_path
    )
    assert proc.returncode == 6 and "Traceback" not in proc.stderr
    assert f"next: use a run id such as run_{uuid}" in proc.stderr
    fixed = run_gait(
        "run",
        "record",
        "--from",
        "openai",
        "--input",
        str(log),
        "--run-id",
        f"run_{uuid}",
        cwd=tmp_path,
    )
    assert fixed.returncode == 0, fixed.stderr
