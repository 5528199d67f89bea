"""Every fast path of the gate equals the general path it shortcuts (results and errors alike)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gait import timefmt
from gait.errors import InvalidInput
from gait.gate import intent as intent_mod
from gait.gate.evaluate import (
    _combined_decision,
    _fixed_rule_decision,
    matching_rules,
    rule_matches,
)
from gait.gate.intent import IntentInvalid, normalize_intent
from gait.gate.policy import load_policy_text
from gait.gate.trace import _canonical_time, signable_trace

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

word = st.sampled_from(
    ["", " ", "path", " Host ", "URL", "write", "Read", "delete", "dns", "exec", "mcp", "x-y"]
)
odd = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), word, st.lists(word, max_size=1))
flag = st.one_of(st.none(), st.booleans(), st.sampled_from([0, 1, "yes"]))
target = st.dictionaries(
    st.sampled_from(
        [
            "kind",
            "value",
            "operation",
            "sensitivity",
            "endpoint_class",
            "endpoint_domain",
            "discovery_method",
            "destructive",
            "read_only_hint",
            "destructive_hint",
            "idempotent_hint",
            "open_world_hint",
            "extra",
        ]
    ),
    st.one_of(word, odd, flag, st.sampled_from(["fs.read", "net.http", "https://a.b:8/x"])),
    max_size=8,
)


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return ("ok", fn(*args))
    except InvalidInput as exc:
        return ("error", type(exc), str(exc))


@SETTINGS
@given(raw=st.one_of(target, odd), tool=word, index=st.integers(0, 3))
def test_target_fast_path_equals_general(raw: Any, tool: str, index: int) -> None:
    fast = _outcome(intent_mod._normalize_target, raw, tool, "targets", index)
    general = _outcome(intent_mod._normalize_target_general, raw, tool, f"targets[{index}]")
    assert fast == general


provenance = st.dictionaries(
    st.sampled_from(["arg_path", "source", "source_ref", "integrity_digest", "extra"]),
    st.one_of(
        odd, st.sampled_from(["$.path", " user ", "External", "tool_output", "A" * 64, "zz"])
    ),
    max_size=5,
)


@SETTINGS
@given(raw=st.one_of(provenance, odd), index=st.integers(0, 3))
def test_provenance_fast_path_equals_general(raw: Any, index: int) -> None:
    fast = _outcome(intent_mod._normalize_provenance_entry, raw, "arg_provenance", index)
    general = _outcome(intent_mod._normalize_provenance_general, raw, f"arg_provenance[{index}]")
    assert fast == general


@SETTINGS
@given(
    text=st.one_of(
        st.from_regex(
            r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?[Zz]\Z"
        ),
        st.from_regex(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)\Z"),
        st.text(max_size=30),
    )
)
def test_trace_time_fast_path_equals_timefmt(text: str) -> None:
    assert _outcome(_canonical_time, text) == _outcome(timefmt.canonical, text)


# The definition signable_trace replaced (field lists walked in order), kept as the oracle.
def _signable_by_field_lists(raw: dict[str, Any]) -> dict[str, Any]:
    from gait.gate import trace

    out: dict[str, Any] = {}
    for name in trace._TRACE_STRINGS:
        value = raw.get(name)
        if isinstance(value, str) and (value or name in trace._TRACE_ALWAYS):
            out[name] = value
        elif name in trace._TRACE_ALWAYS:
            out[name] = ""
    for name in ("created_at", "observed_at"):
        value = raw.get(name)
        out[name] = timefmt.canonical(value) if isinstance(value, str) else timefmt.ZERO_TIME
    for name in trace._TRACE_INTS:
        value = raw.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value:
            out[name] = value
    for name in trace._TRACE_BOOLS:
        if raw.get(name) is True:
            out[name] = True
    for name in trace._TRACE_LISTS:
        value = raw.get(name)
        if isinstance(value, list) and value:
            out[name] = value
    latency = raw.get("latency_ms")
    if isinstance(latency, (int, float)) and not isinstance(latency, bool) and latency:
        out["latency_ms"] = latency
    for name in trace._TRACE_OBJECTS:
        value = raw.get(name)
        if value:
            out[name] = value
    return out


trace_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.floats(allow_nan=False),
    st.sampled_from(["", "x", "2026-02-18T00:00:00Z", "2026-02-18T01:00:00.50+01:00", "bad"]),
    st.lists(st.sampled_from(["a", "b"]), max_size=2),
    st.dictionaries(st.sampled_from(["k"]), st.sampled_from(["v"]), max_size=1),
)
trace_record = st.dictionaries(
    st.sampled_from(
        [
            "schema_id",
            "trace_id",
            "verdict",
            "tool_name",
            "agent_id",
            "created_at",
            "observed_at",
            "step_count",
            "script",
            "violations",
            "latency_ms",
            "relationship",
            "signature",
            "unknown_key",
        ]
    ),
    trace_value,
    max_size=10,
)


@SETTINGS
@given(raw=trace_record)
def test_signable_trace_equals_field_list_definition(raw: dict[str, Any]) -> None:
    assert _outcome(signable_trace, raw) == _outcome(_signable_by_field_lists, raw)


POLICY = """\
default_verdict: require_approval
rules:
  - {name: a, priority: 1, effect: allow, match: {tool_names: [tool.write], target_kinds: [path]}}
  - {name: b, priority: 1, effect: dry_run, match: {risk_classes: [low]}, violations: [v2, v1]}
  - {name: c, priority: 2, effect: block, match: {tool_names: [tool.read, tool.write]},
     reason_codes: [rc_z, rc_y], min_approvals: 2, rate_limit: {requests: 3}}
  - {name: d, priority: 2, effect: require_approval, match: {}}
  - {name: e, priority: 3, effect: allow, match: {tool_names: [tool.read]},
     destructive_budget: {requests: 1}}
  - {name: f, priority: 0, effect: require_approval,
     match: {tool_names: [tool.delete], provenance_sources: [external]}}
"""

COMPILED = load_policy_text(POLICY)

small_intent = st.fixed_dictionaries(
    {
        "tool_name": st.sampled_from(["tool.write", "tool.read", "tool.delete", "other"]),
        "args": st.just({}),
        "targets": st.lists(
            st.fixed_dictionaries(
                {
                    "kind": st.sampled_from(["path", "host"]),
                    "value": st.sampled_from(["/a", "h.example"]),
                    "operation": st.sampled_from(["read", "write", "delete"]),
                }
            ),
            max_size=2,
        ),
        "arg_provenance": st.lists(
            st.fixed_dictionaries(
                {"arg_path": st.just("$.a"), "source": st.sampled_from(["user", "external"])}
            ),
            max_size=1,
        ),
        "context": st.fixed_dictionaries(
            {
                "identity": st.just("u"),
                "workspace": st.just("/w"),
                "risk_class": st.sampled_from(["low", "high"]),
                "phase": st.sampled_from(["plan", "apply"]),
            }
        ),
    }
)


@SETTINGS
@given(raw=small_intent)
def test_rule_index_and_fixed_outcome_equal_the_full_scan(raw: dict[str, Any]) -> None:
    policy = COMPILED
    try:
        intent = normalize_intent(raw)
    except IntentInvalid:
        return
    scanned: list[Any] = []
    for rule in policy.rules:
        if scanned and rule.priority != scanned[0].priority:
            break
        if rule_matches(rule, intent):
            scanned.append(rule)
    assert matching_rules(policy, intent) == scanned
    for rule in policy.rules:
        if rule.fixed_outcome and not intent.destructive:
            assert _fixed_rule_decision(rule, intent) == _combined_decision([rule], intent)


json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**60), 2**60),
    st.floats(),
    st.text(max_size=6),
    st.sampled_from([" x ", "\ue000", "\U0001f600", "sk-0123456789abcdefXYZ"]),
)
json_args = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["path", " p ", "\ue000", "\U0001f600", "n", "api_key"]),
            children,
            max_size=3,
        )
    ),
    max_leaves=10,
)


@SETTINGS
@given(
    args=st.dictionaries(st.sampled_from(["path", "\ue000", "\U0001f600", "x"]), json_args),
    auth=st.one_of(st.none(), st.dictionaries(st.sampled_from(["scope", "n"]), json_args)),
)
def test_intent_digests_equal_the_general_canonicaliser(args: Any, auth: Any) -> None:
    """A normalised intent's digests (orjson's path when its normaliser saw no float) are
    H(doc) and H(args) by the general canonicaliser, or the same refusal."""
    from gait.canon import digest

    raw: dict[str, Any] = {
        "tool_name": "tool.write",
        "args": args,
        "targets": [{"kind": "path", "value": "/tmp/x", "operation": "write"}],
        "context": {"identity": "u", "workspace": "/tmp", "risk_class": "high"},
    }
    if auth is not None:
        raw["context"]["auth_context"] = auth
    try:
        intent = normalize_intent(raw)
    except IntentInvalid:
        return
    assert intent.floatless == ("auth_context" not in intent.context and _no_floats(intent.args))
    assert _outcome(lambda: intent.digest) == _outcome(digest, intent.doc)
    assert _outcome(lambda: intent.args_digest) == _outcome(digest, intent.args)


def _no_floats(value: Any) -> bool:
    if isinstance(value, float):
        return False
    if isinstance(value, dict):
        return all(_no_floats(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_floats(v) for v in value)
    return True


def _fail_closed_by_definition(
    intent: Any, fields: tuple[str, ...], check_classes: bool
) -> tuple[list[str], list[str]]:
    """The field-by-field definition ``evaluate._fail_closed`` shortcuts, kept as the oracle."""
    reasons: set[str] = set()
    violations: set[str] = set()
    unknown = any(t["endpoint_class"] in ("", "other") for t in intent.targets)
    present = {
        "targets": bool(intent.targets),
        "arg_provenance": bool(intent.provenance),
        "endpoint_class": not unknown,
        "delegation": "delegation" in intent.doc,
    }
    for name in fields:
        if name == "context_evidence":
            if not intent.context.get("context_set_digest"):
                reasons.add("context_evidence_missing")
                violations.add("missing_context_evidence")
        elif not present[name]:
            reasons.add(f"fail_closed_missing_{name}")
            violations.add(f"missing_{name}")
    if check_classes and unknown:
        reasons.add("fail_closed_endpoint_class_unknown")
        violations.add("endpoint_class_unknown")
    return sorted(reasons), sorted(violations)


@SETTINGS
@given(
    targets=st.lists(
        st.fixed_dictionaries(
            {
                "kind": st.sampled_from(["path", "other", "host"]),
                "value": st.just("v"),
                "operation": st.sampled_from(["write", "", "exec"]),
            }
        ),
        max_size=2,
    ),
    with_provenance=st.booleans(),
    fields=st.lists(
        st.sampled_from(
            ["targets", "arg_provenance", "endpoint_class", "delegation", "context_evidence"]
        ),
        unique=True,
    ),
    check_classes=st.booleans(),
)
def test_fail_closed_fast_path_equals_definition(
    targets: Any, with_provenance: bool, fields: list[str], check_classes: bool
) -> None:
    from gait.gate.evaluate import _fail_closed

    raw: dict[str, Any] = {
        "tool_name": "tool.x",
        "targets": targets,
        "context": {"identity": "u", "workspace": "/w", "risk_class": "high"},
    }
    if with_provenance:
        raw["arg_provenance"] = [{"arg_path": "$.a", "source": "user"}]
    intent = normalize_intent(raw)
    got = _fail_closed(intent, tuple(fields), check_classes)
    assert got == _fail_closed_by_definition(intent, tuple(fields), check_classes)
