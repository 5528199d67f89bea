"""Endpoint path rules see where a path leads, not only how it is written: ``..`` cannot climb
out of an allowlist or around a denylist, and a NUL cannot hide where C code stops reading. A path
without such segments is decided exactly as the reference decides it (it matches the path as
written), and no path is decided more leniently than that."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from gait.gate.evaluate import evaluate
from gait.gate.policy import load_policy_text

POLICY = """\
schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: allow
rules:
  - name: files
    priority: 10
    effect: allow
    match:
      target_kinds: [path]
    endpoint:
      enabled: true
      path_allowlist: ["/workspace/**", "/tmp/*.txt"]
      path_denylist: ["/workspace/secrets/**"]
      action: block
"""


def _intent(path: str) -> dict:
    return {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": "2026-01-01T00:00:00Z",
        "producer_version": "test",
        "tool_name": "files.read",
        "args": {"path": path},
        "targets": [{"kind": "path", "value": path, "operation": "read"}],
        "context": {"identity": "agent", "workspace": "/workspace", "risk_class": "low"},
    }


CASES = [
    ("/workspace/app/notes.md", "allow", []),
    ("/workspace/app/../../etc/passwd", "block", ["endpoint_path_not_allowlisted"]),
    ("/workspace/app/../secrets/key", "block", ["endpoint_path_denied"]),
    ("/workspace/./secrets//key", "block", ["endpoint_path_denied"]),
    ("/workspace/a/\x00/../../../etc", "block", ["endpoint_path_not_allowlisted"]),
    ("/workspace/app/../docs/a.md", "allow", []),
]


def test_policy_test_blocks_paths_that_climb_out(tmp_path: Path, run_gait) -> None:  # noqa: ANN001
    (tmp_path / "policy.yaml").write_text(POLICY)
    for index, (path, verdict, reasons) in enumerate(CASES):
        intent = tmp_path / f"intent_{index}.json"
        intent.write_text(json.dumps(_intent(path)))
        proc = run_gait("policy", "test", "policy.yaml", intent.name, "--json", cwd=tmp_path)
        doc = json.loads(proc.stdout)
        assert doc["verdict"] == verdict, (path, doc)
        for reason in reasons:
            assert reason in doc["reason_codes"], (path, doc["reason_codes"])
        assert proc.returncode == (0 if verdict == "allow" else 3), proc.stderr


segment = st.sampled_from(["workspace", "secrets", "tmp", "a.txt", "etc", "..", ".", "", "x\x00"])
RANK = {"allow": 0, "dry_run": 1, "require_approval": 1, "block": 2}


@settings(max_examples=300, deadline=None)
@given(st.lists(segment, min_size=1, max_size=6))
def test_never_more_lenient_than_matching_the_path_as_written(parts: list[str]) -> None:
    """The oracle is the reference's rule (the path as written is the only form matched)."""
    from unittest import mock

    path = "/" + "/".join(parts)
    policy = load_policy_text(POLICY)
    ours = evaluate(policy, _intent(path))
    with mock.patch("gait.gate.evaluate._path_forms", lambda value: (value,)):
        as_written = evaluate(policy, _intent(path))
    assert RANK[ours.verdict] >= RANK[as_written.verdict], (path, ours.reason_codes)
    if "." not in path and "//" not in path and "\x00" not in path:
        assert (ours.verdict, ours.reason_codes) == (as_written.verdict, as_written.reason_codes)
