"""The parsed-policy cache: used only when it provably holds this policy's parse."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gait.gate import policy as policy_mod
from gait.gate.policy import load_policy
from gait.gate.policy_cache import cache_dir

POLICY = """\
default_verdict: block
rules:
  - name: reads
    effect: allow
    match:
      tool_names: [tool.read]
"""


def _entry() -> Path:
    entries = list(cache_dir().glob("*.json"))
    assert len(entries) == 1, entries
    return entries[0]


def _no_yaml(*_a, **_k):
    raise AssertionError("the YAML parser ran although a valid cache entry exists")


def test_second_load_skips_yaml_and_gives_the_same_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    first = load_policy(path)
    entry = _entry()
    assert oct(entry.stat().st_mode & 0o777) == "0o600"
    assert oct(entry.parent.stat().st_mode & 0o777) == "0o700"
    monkeypatch.setattr(policy_mod, "parse_policy_text", _no_yaml)
    second = load_policy(path)
    assert second.digest == first.digest and second.normalized == first.normalized


def test_tampered_foreign_or_stale_entries_are_misses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    real = load_policy(path).digest
    entry = _entry()
    doc = json.loads(entry.read_text())
    # An agent rewrites the cached parse to allow everything: the digest check refuses it.
    doc["parsed"]["default_verdict"] = "allow"
    entry.write_text(json.dumps(doc))
    entry.chmod(0o600)
    assert load_policy(path).digest == real
    # A group-writable entry is not trusted either (it is rewritten by the next miss).
    entry.chmod(0o660)
    calls = []
    original = policy_mod.parse_policy_text

    def counting(data):
        calls.append(1)
        return original(data)

    monkeypatch.setattr(policy_mod, "parse_policy_text", counting)
    assert load_policy(path).digest == real and calls == [1]
    # An edited policy is another key: never served the old parse.
    path.write_text(POLICY.replace("block", "allow", 1))
    assert load_policy(path).digest != real


def test_cache_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAIT_POLICY_CACHE", "0")
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    load_policy(path)
    assert not cache_dir().exists() or not any(cache_dir().iterdir())
    assert os.environ["GAIT_POLICY_CACHE"] == "0"


@pytest.mark.parametrize(
    "content",
    [b"[" * 200_000 + b"]" * 200_000, b"\xff\xfe not utf-8", b""],
    ids=["nested-past-recursion-limit", "not-utf8", "empty"],
)
def test_a_hostile_or_broken_entry_is_a_miss_not_a_crash(
    tmp_path: Path, content: bytes, run_gait
) -> None:  # noqa: ANN001
    """GAIT_HOME is writable by the agent: whatever it leaves in the cache, gate eval still
    decides from the policy file (exit 0 here), never an internal error."""
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    load_policy(path)
    entry = _entry()
    entry.write_bytes(content)
    entry.chmod(0o600)
    intent = tmp_path / "intent.json"
    intent.write_text(
        json.dumps(
            {
                "schema_id": "gait.gate.intent_request",
                "schema_version": "1.0.0",
                "created_at": "2026-01-01T00:00:00Z",
                "producer_version": "0.0.0",
                "tool_name": "tool.read",
                "args": {},
                "targets": [],
                "context": {"identity": "alice", "workspace": "/w", "risk_class": "low"},
            }
        )
    )
    proc = run_gait(
        "gate", "eval", "--policy", str(path), "--intent", str(intent), "--json", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["verdict"] == "allow"
