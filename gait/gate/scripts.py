"""Script intents (issue 15, item 1): the policy's ``scripts`` block and step aggregation.

A script intent is evaluated step by step as single intents sharing its context; the script's
verdict is the most restrictive step verdict, then the ``scripts`` block applies: more steps
than ``max_steps`` (default 64) blocks, more than ``require_approval_above`` asks for approval,
and ``block_mixed_risk`` blocks a script whose steps fall in more than one risk class.
"""

from __future__ import annotations

from gait.plain import Frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_STEPS_DEFAULT = 64


class ScriptPolicy(Frozen):
    """The policy's ``scripts`` limits; all zero/False means script intents are not limited."""

    __slots__ = _fields = ("max_steps", "require_approval_above", "block_mixed_risk")
    max_steps: int
    require_approval_above: int
    block_mixed_risk: bool

    def __init__(
        self, max_steps: int = 0, require_approval_above: int = 0, block_mixed_risk: bool = False
    ) -> None:
        _set = object.__setattr__
        _set(self, "max_steps", max_steps)
        _set(self, "require_approval_above", require_approval_above)
        _set(self, "block_mixed_risk", block_mixed_risk)


def compile_scripts(raw: dict[str, Any] | None) -> tuple[ScriptPolicy, dict[str, Any] | None]:
    from gait.gate.policy_keys import err

    raw = raw or {}
    max_steps = raw.get("max_steps") or 0
    above = raw.get("require_approval_above") or 0
    mixed = bool(raw.get("block_mixed_risk"))
    if max_steps < 0:
        raise err("scripts.max_steps must be >= 0")
    if above < 0:
        raise err("scripts.require_approval_above must be >= 0")
    policy = ScriptPolicy(max_steps, above, mixed)
    if not (max_steps > 0 or above > 0 or mixed):
        return policy, None
    return policy, {"MaxSteps": max_steps, "RequireApprovalAbove": above, "BlockMixedRisk": mixed}


def step_risk(targets: list[dict[str, Any]]) -> str:
    """The reference's per-step risk class from its targets' endpoint classes."""
    risk = "low"
    for target in targets:
        cls = target["endpoint_class"]
        if cls in ("fs.delete", "proc.exec"):
            return "high"
        if cls in ("fs.write", "net.http", "net.dns"):
            risk = "medium"
        if "destructive" in target:
            return "high"
    return risk


def composite_risk(classes: set[str]) -> str:
    if "high" in classes:
        return "high"
    if "medium" in classes:
        return "medium"
    return "low"


def apply_script_policy(
    policy: ScriptPolicy,
    steps: int,
    risk_classes: set[str],
    verdict: str,
    reasons: set[str],
    violations: set[str],
    min_approvals: int,
    most_restrictive: Any,
) -> tuple[str, int]:
    """The ``scripts`` block over the aggregated step outcome; (verdict, min_approvals)."""
    max_steps = policy.max_steps if policy.max_steps > 0 else MAX_STEPS_DEFAULT
    if steps > max_steps:
        verdict = "block"
        reasons.add("script_max_steps_exceeded")
        violations.add("script_max_steps_exceeded")
    if policy.require_approval_above > 0 and steps > policy.require_approval_above:
        verdict = most_restrictive(verdict, "require_approval")
        reasons.add("script_step_threshold_approval")
        min_approvals = min_approvals or 1
    if policy.block_mixed_risk and len(risk_classes) > 1:
        verdict = "block"
        reasons.add("script_mixed_risk_blocked")
        violations.add("script_mixed_risk")
    return verdict, min_approvals
