"""The gate's classes are plain classes (gait.plain) rather than dataclasses, so that a
``gait gate eval`` process does not build them at import (issue 16 item 6); what their
dataclasses gave them must hold: equality, repr, immutability, hashing, pickling, replace."""

from __future__ import annotations

import copy
import pickle

import pytest

import gait.gate
from gait.gate.engine import BoundaryFinding, GateOutcome
from gait.gate.evaluate import evaluate
from gait.plain import FrozenInstanceError, replace

POLICY = """\
default_verdict: block
scripts:
  max_steps: 3
rules:
  - name: allow-read
    priority: 10
    effect: allow
    match:
      tool_names: [tool.read]
    rate_limit:
      requests: 5
      window: minute
    reason_codes: [read_ok]
  - name: egress
    priority: 20
    effect: block
    match:
      tool_names: [tool.fetch]
"""

INTENT = {
    "schema_id": "gait.gate.intent_request",
    "schema_version": "1.0.0",
    "created_at": "2026-02-18T00:00:00Z",
    "producer_version": "test",
    "tool_name": "tool.read",
    "args": {"path": "/tmp/a"},
    "targets": [{"kind": "path", "value": "/tmp/a", "operation": "read"}],
    "context": {"identity": "u", "workspace": "/tmp", "risk_class": "low"},
}


def _load(tmp_path, text: str = POLICY):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return gait.gate.load_policy(str(path))


def test_policy_and_rules_compare_by_value_and_stay_frozen(tmp_path) -> None:
    one, two = _load(tmp_path), _load(tmp_path)
    assert one is not two
    assert one.rules[0] == two.rules[0] and one.rules[0] is not two.rules[0]
    assert one.rules[0] != one.rules[1]
    assert one == two  # what a policy compares does not hold its compiled predicates
    assert one.rules[0].rate_limit == two.rules[0].rate_limit
    assert hash(one.rules[0].rate_limit) == hash(two.rules[0].rate_limit)
    assert one.scripts == two.scripts and hash(one.scripts) == hash(two.scripts)
    assert one.rules[0].rate_limit != "not a rate limit"
    assert repr(one.rules[0].rate_limit) == (
        "RateLimit(requests=5, window='minute', scope='tool_identity')"
    )
    assert repr(one.scripts).startswith("ScriptPolicy(max_steps=3, ")
    with pytest.raises(FrozenInstanceError):
        one.default_verdict = "allow"
    with pytest.raises(AttributeError):
        del one.rules[0].name
    with pytest.raises(TypeError):
        hash(one)  # it holds the normalised policy, a dict, as its dataclass did


def test_policy_pickles_copies_and_replaces(tmp_path) -> None:
    policy = _load(tmp_path)
    again = pickle.loads(pickle.dumps(policy))
    assert again == policy
    # derived attributes are rebuilt, not carried: the rebuilt policy decides alike
    assert again.rules_by_tool.keys() == policy.rules_by_tool.keys()
    assert evaluate(again, INTENT).verdict == evaluate(policy, INTENT).verdict == "allow"
    assert copy.deepcopy(policy) == policy
    changed = replace(policy, digest="0" * 64)
    assert changed.digest == "0" * 64 and changed.rules == policy.rules and changed != policy
    with pytest.raises(TypeError):
        replace(policy, no_such_field=1)


def test_outcomes_compare_and_are_not_hashable(tmp_path) -> None:
    policy = _load(tmp_path)
    decision = evaluate(policy, INTENT)
    assert decision == copy.copy(decision)  # its NormalizedIntent compares by identity
    assert decision != evaluate(policy, INTENT)
    first = GateOutcome("allow", ["read_ok"], [], INTENT["created_at"], "a" * 64, policy.digest)
    assert repr(decision).startswith("Decision(verdict='allow', reason_codes=['read_ok'], ")
    with pytest.raises(TypeError):
        hash(decision)
    assert first.verdict == "allow" and first.simulated_reason_codes == [] and first.extra == {}
    assert first == copy.copy(first) == pickle.loads(pickle.dumps(first))
    assert first != replace(first, verdict="block")
    with pytest.raises(TypeError):
        hash(first)
    finding = BoundaryFinding("kill_switch", {"a": 1}, verdict="block")
    assert finding == BoundaryFinding("kill_switch", {"a": 1}, "block")
    assert finding.replace is False and finding.field == "kill_switch"
    with pytest.raises(FrozenInstanceError):
        finding.verdict = ""


def test_no_dataclass_is_built_on_the_decision_path() -> None:
    """Each of these modules is imported by a ``gait gate eval`` decision: a dataclass defined in
    one is built at import by every such process (issue 16 item 6)."""
    import importlib

    for name in (
        "gait.gate.engine",
        "gait.gate.evaluate",
        "gait.gate.intent",
        "gait.gate.normalized_intent",
        "gait.gate.policy",
        "gait.gate.policy_model",
        "gait.gate.policy_keys",
        "gait.gate.policy_cache",
        "gait.gate.arg_constraints",
        "gait.gate.scripts",
        "gait.gate.trace",
        "gait.gate.profiles",
        "gait.schema",
    ):
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == name:
                assert "__dataclass_fields__" not in vars(value), (name, value)


def test_keys_and_signature_checks_keep_what_their_dataclasses_gave() -> None:
    """A decision signs its trace: the key and signature-check classes are gait.plain classes
    so that the process imports no dataclasses; equality, hash, repr, immutability and
    pickling (without the derived secret) are what they were."""
    from gait.sign.keys import SigningKey
    from gait.sign.signature import SignatureCheck, check_signature, sign_digest

    key = SigningKey.from_raw(bytes(range(32)))
    again = SigningKey.from_text(key.to_text())
    assert key == again and hash(key) == hash(again) and key != key.public()
    assert repr(key.public()) == f"VerifyKey(raw={key.public_raw!r}, key_id={key.key_id!r})"
    assert repr(key).startswith("SigningKey(seed=b'\\x00\\x01") and "_secret" not in repr(key)
    digest = "ab" * 32
    signature = sign_digest(key, digest)
    copied = pickle.loads(pickle.dumps(key))
    assert copied == key and copied._secret is None and b"_secret" not in pickle.dumps(key)
    assert sign_digest(copied, digest) == signature == sign_digest(copy.deepcopy(key), digest)
    with pytest.raises(FrozenInstanceError):
        key.seed = b""
    with pytest.raises(AttributeError):
        del key.public().raw
    check = check_signature(signature, digest, [key.public()])
    assert check == SignatureCheck(True, key.key_id) and check.ok and not check.skipped
    assert repr(check) == f"SignatureCheck(ok=True, key_id={key.key_id!r}, error='', skipped=False)"
    assert hash(check) == hash(SignatureCheck(True, key.key_id, "", False))
    assert pickle.loads(pickle.dumps(check)) == check
    assert replace(check, ok=False) != check
    with pytest.raises(FrozenInstanceError):
        check.ok = False
