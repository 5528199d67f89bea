"""The starter policies do what their comments say, decided by the real gate through the CLI."""

from __future__ import annotations

import json

import pytest

CASES = {
    "delete in workspace": (
        "tool.delete",
        "/workspace/app/a.db",
        "path",
        "delete",
        "user",
        4,
        "destructive_apply_requires_approval",
    ),
    "write to /etc": (
        "tool.write",
        "/etc/passwd",
        "path",
        "write",
        "user",
        3,
        "endpoint_path_denied",
    ),
    "write a workspace secret": (
        "tool.write",
        "/workspace/app/.env",
        "path",
        "write",
        "user",
        3,
        "endpoint_path_denied",
    ),
    "write outside the workspace": (
        "tool.write",
        "/srv/x",
        "path",
        "write",
        "user",
        3,
        "endpoint_path_not_allowlisted",
    ),
    "read in the workspace": (
        "tool.read",
        "/workspace/app/a.txt",
        "path",
        "read",
        "user",
        0,
        "matched_rule_files",
    ),
    "call an allowlisted api": (
        "tool.http",
        "https://api.example.com/v1",
        "url",
        "",
        "user",
        0,
        "matched_rule_egress",
    ),
    "call another domain": (
        "tool.http",
        "https://evil.example.net/x",
        "url",
        "",
        "user",
        4,
        "endpoint_domain_not_allowlisted",
    ),
    "send external data out": (
        "tool.http",
        "https://api.example.com/v1",
        "url",
        "",
        "external",
        3,
        "dataflow_tainted_destination",
    ),
    "run a shell": ("tool.shell", "rm -rf /", "other", "exec", "user", 3, "shell_blocked"),
}


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("policy")
    from gait.gate.templates import TEMPLATES

    path = folder / "policy.yaml"
    path.write_text(TEMPLATES["baseline-highrisk"])
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_baseline_highrisk(run_gait, policy, tmp_path, case):
    tool, value, kind, operation, source, exit_code, reason = CASES[case]
    target = {"kind": kind, "value": value}
    if operation:
        target["operation"] = operation
    intent = {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": "2026-11-25T00:00:00Z",
        "producer_version": "test",
        "tool_name": tool,
        "args": {"target": value},
        "targets": [target],
        "arg_provenance": [{"arg_path": "$.target", "source": source}],
        "context": {"identity": "alice", "workspace": "/workspace/app", "risk_class": "high"},
    }
    path = tmp_path / "intent.json"
    path.write_text(json.dumps(intent))
    proc = run_gait("policy", "test", str(policy), str(path), "--json")
    assert proc.returncode == exit_code, proc.stdout + proc.stderr
    assert reason in json.loads(proc.stdout)["reason_codes"]


def test_every_template_validates(run_gait, tmp_path):
    from gait.gate.templates import TEMPLATES

    for name in TEMPLATES:
        out = tmp_path / f"{name}.yaml"
        assert run_gait("policy", "init", name, "--out", str(out)).returncode == 0
        assert run_gait("policy", "validate", str(out)).returncode == 0
