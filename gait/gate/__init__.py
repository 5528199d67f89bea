"""The gate: policy load and compile, evaluation, approvals, rate limits, signed traces.

SDK entry points (imported lazily so ``import gait.gate`` stays cheap)::

    import gait.gate
    gate = gait.gate.load("policy.yaml")
    gait.gate.check(gate, intent)              # raises GateBlocked / GateApprovalRequired

    @gait.gate.tool(gate, context={...}, targets=lambda a: [...])
    def write_file(path: str, content: str) -> None: ...
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_EXPORTS = {
    "load": "gait.gate.sdk",
    "check": "gait.gate.sdk",
    "tool": "gait.gate.sdk",
    "build_intent": "gait.gate.sdk",
    "GateDenied": "gait.gate.sdk",
    "GateBlocked": "gait.gate.sdk",
    "GateApprovalRequired": "gait.gate.sdk",
    "GateDryRun": "gait.gate.sdk",
    "Gate": "gait.gate.engine",
    "GateOutcome": "gait.gate.engine",
    "evaluate": "gait.gate.evaluate",
    "load_policy": "gait.gate.policy",
    "normalize_intent": "gait.gate.intent",
    "run_policy_tests": "gait.gate.policytest",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gait.gate' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
