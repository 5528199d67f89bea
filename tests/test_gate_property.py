"""Property: evaluation never raises on a schema-valid intent (it returns a verdict or refuses
with IntentInvalid), for every policy of the differential corpus."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gait import schema
from gait.gate.evaluate import evaluate
from gait.gate.intent import IntentInvalid
from gait.gate.policy import load_policy

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
word = st.sampled_from(["", " ", "Read", "write", "DELETE", "exec", "resolve", "x-y", "mcp"])
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**60), 2**60),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
)
json_value = st.recursive(
    scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)),
    max_leaves=8,
)
target = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(
            ["path", "url", "host", "repo", "bucket", "table", "queue", "topic", "other"]
        ),
        "value": st.one_of(
            text,
            st.sampled_from(["/srv/app/x", "https://api.example.com/a", "evil.example.com:443"]),
        ),
    },
    optional={
        "operation": word,
        "sensitivity": word,
        "endpoint_class": st.sampled_from(
            ["fs.read", "fs.write", "fs.delete", "proc.exec", "net.http", "net.dns", "other"]
        ),
        "destructive": st.booleans(),
        "discovery_method": st.sampled_from(["mcp", "manual"]),
        "read_only_hint": st.booleans(),
        "destructive_hint": st.booleans(),
    },
)
intent = st.fixed_dictionaries(
    {
        "schema_id": st.just("gait.gate.intent_request"),
        "schema_version": st.just("1.0.0"),
        "created_at": st.just("2026-02-18T00:00:00Z"),
        "producer_version": st.just("p"),
        "tool_name": st.one_of(text, word),
        "args": st.dictionaries(text, json_value, max_size=4),
        "targets": st.lists(target, max_size=3),
        "context": st.fixed_dictionaries(
            {"identity": text, "workspace": text, "risk_class": st.one_of(word, text)},
            optional={
                "phase": st.sampled_from(["plan", "apply", " Apply "]),
                "session_id": text,
                "environment": text,
            },
        ),
    },
    optional={
        "arg_provenance": st.lists(
            st.fixed_dictionaries(
                {
                    "arg_path": text,
                    "source": st.sampled_from(["user", "tool_output", "external", "system"]),
                }
            ),
            max_size=2,
        )
    },
)


@pytest.fixture(scope="module")
def policies(conformance_dir: Path) -> list:
    return [
        load_policy(p)
        for p in sorted((conformance_dir / "gate-differential/policies").glob("*.yaml"))
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(candidate=intent)
def test_evaluation_never_raises(policies: list, candidate: dict) -> None:
    if schema.errors("gait.gate.intent_request", candidate):
        return
    for policy in policies:
        try:
            decision = evaluate(policy, candidate)
        except IntentInvalid:
            continue
        assert decision.verdict in ("allow", "dry_run", "require_approval", "block")
        assert decision.reason_codes == sorted(set(decision.reason_codes))
