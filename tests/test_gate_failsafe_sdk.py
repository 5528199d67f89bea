"""The SDK fails closed like ``gait gate eval``: in production mode a broken policy or a missing
signing key blocks high-risk calls (with a reason code) instead of crashing or allowing."""

from __future__ import annotations

from pathlib import Path

import pytest

import gait.gate
from gait.errors import InvalidInput
from gait.sign.keys import SigningKey

CONTEXT_HIGH = {"identity": "ops", "workspace": "/srv", "risk_class": "high"}
CONTEXT_LOW = {"identity": "ops", "workspace": "/srv", "risk_class": "low"}
TARGETS = [{"kind": "path", "value": "/srv/a", "operation": "read"}]


def _intent(context: dict) -> dict:
    return gait.gate.build_intent("tool.read", {"path": "/srv/a"}, context=context, targets=TARGETS)


@pytest.fixture
def broken_policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text("default_verdict: allow\nrules: [ {name: x, effect: allow, bogus: 1} ]\n")
    return path


@pytest.fixture
def prod_key(tmp_path: Path) -> Path:
    path = tmp_path / "prod.key"
    path.write_text(SigningKey.generate().to_text())
    return path


def test_broken_policy_blocks_high_risk_in_prod(broken_policy, prod_key, tmp_path):
    gate = gait.gate.load(
        broken_policy, mode="prod", private_key=prod_key, trace_dir=tmp_path / "traces"
    )
    with pytest.raises(gait.gate.GateBlocked) as info:
        gait.gate.check(gate, _intent(CONTEXT_HIGH))
    assert info.value.result.reason_codes == ["fail_closed_policy_invalid"]
    assert list((tmp_path / "traces").glob("trace_*.json"))
    with pytest.raises(InvalidInput) as low:
        gait.gate.check(gate, _intent(CONTEXT_LOW))
    assert low.value.code == "E_POLICY_PARSE"


def test_broken_policy_raises_at_load_in_dev(broken_policy):
    with pytest.raises(InvalidInput) as info:
        gait.gate.load(broken_policy, mode="dev")
    assert info.value.code == "E_POLICY_PARSE"


def test_missing_key_blocks_high_risk_in_prod_and_writes_no_trace(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("default_verdict: allow\n")
    gate = gait.gate.load(policy, mode="prod", trace_dir=tmp_path / "traces")
    with pytest.raises(gait.gate.GateBlocked) as info:
        gait.gate.check(gate, _intent(CONTEXT_HIGH))
    assert info.value.result.reason_codes == ["fail_closed_signing_key_missing"]
    assert not (tmp_path / "traces").exists() or not list((tmp_path / "traces").iterdir())
    with pytest.raises(InvalidInput) as low:
        gait.gate.check(gate, _intent(CONTEXT_LOW))
    assert low.value.code == "E_SIGN_KEY_REQUIRED"
