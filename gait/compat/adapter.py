"""``ToolAdapter``: run a tool only when the gate allows it, as the reference SDK does.

``gait_bin`` defaults to ``None`` here: decisions are made in this process. Pass a binary (or
an argv list) to have every decision made by ``<gait_bin> gate eval`` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gait.compat.client import (
    capture_demo_runpack,
    create_regress_fixture,
    decide_here,
    evaluate_gate,
)
from gait.compat.models import DemoCapture, GateEvalResult, IntentRequest, RegressInitResult
from gait.compat.session import get_active_run_session


class GateEnforcementError(RuntimeError):
    """A gate decision stopped the call: the tool did not run."""

    def __init__(self, decision: GateEvalResult) -> None:
        self.decision = decision
        verdict = decision.verdict or "unknown"
        reasons = ",".join(decision.reason_codes) if decision.reason_codes else "none"
        super().__init__(f"execution blocked by gate verdict={verdict} reasons={reasons}")


@dataclass(slots=True)
class AdapterOutcome:
    decision: GateEvalResult
    executed: bool
    result: Any | None = None


Executor = Callable[[IntentRequest], Any]


@dataclass(slots=True)
class ToolAdapter:
    policy_path: str | Path
    gait_bin: str | Sequence[str] | None = None
    key_mode: str = "dev"
    private_key: str | Path | None = None
    private_key_env: str | None = None
    approval_token: str | Path | None = None
    approval_public_key: str | Path | None = None
    approval_public_key_env: str | None = None
    approval_private_key: str | Path | None = None
    approval_private_key_env: str | None = None
    delegation_token: str | Path | None = None
    delegation_token_chain: Sequence[str | Path] | None = None
    delegation_public_key: str | Path | None = None
    delegation_public_key_env: str | None = None
    delegation_private_key: str | Path | None = None
    delegation_private_key_env: str | None = None

    def _key_options(self) -> dict[str, Any]:
        """The approval, key and delegation-key settings both decision paths take."""
        return {
            "approval_token": self.approval_token,
            "key_mode": self.key_mode,
            "private_key": self.private_key,
            "private_key_env": self.private_key_env,
            "approval_public_key": self.approval_public_key,
            "approval_public_key_env": self.approval_public_key_env,
            "approval_private_key": self.approval_private_key,
            "approval_private_key_env": self.approval_private_key_env,
            "delegation_public_key": self.delegation_public_key,
            "delegation_public_key_env": self.delegation_public_key_env,
            "delegation_private_key": self.delegation_private_key,
            "delegation_private_key_env": self.delegation_private_key_env,
        }

    def gate_intent(
        self,
        *,
        intent: IntentRequest,
        cwd: str | Path | None = None,
        trace_out: str | Path | None = None,
    ) -> GateEvalResult:
        if self.gait_bin is None and self.delegation_token is None:
            if not self.delegation_token_chain:
                # In-process with no delegation tokens: ``evaluate_gate`` would only relay
                # these same arguments to ``gate_decision``, which relays them to
                # ``decide_here``: called directly, by position (gate_decision's order).
                return decide_here(
                    intent,
                    self.policy_path,
                    cwd,
                    trace_out,
                    self.approval_token,
                    self.key_mode,
                    self.private_key,
                    self.private_key_env,
                    self.approval_public_key,
                    self.approval_public_key_env,
                    "gait-out/traces",  # gate_decision's trace_dir
                    self.approval_private_key,
                    self.approval_private_key_env,
                    None,  # delegation_token
                    self.delegation_public_key,
                    self.delegation_public_key_env,
                    self.delegation_private_key,
                    self.delegation_private_key_env,
                )
        return evaluate_gate(
            policy_path=self.policy_path,
            intent=intent,
            gait_bin=self.gait_bin,
            cwd=cwd,
            trace_out=trace_out,
            delegation_token=self.delegation_token,
            delegation_token_chain=self.delegation_token_chain,
            **self._key_options(),
        )

    def execute(
        self,
        *,
        intent: IntentRequest,
        executor: Executor,
        cwd: str | Path | None = None,
        trace_out: str | Path | None = None,
    ) -> AdapterOutcome:
        """Decide, then run ``executor`` on ``allow`` only; fails closed on anything else.

        ``dry_run`` returns an outcome with ``executed=False``; ``block``, ``require_approval``,
        a result that is not ``ok`` and an unknown verdict raise ``GateEnforcementError``. The
        attempt is recorded into the active ``run_session``, if any, either way.
        """
        session = get_active_run_session()
        decision = self.gate_intent(intent=intent, cwd=cwd, trace_out=trace_out)
        if decision.ok and decision.verdict == "allow":
            try:
                result = executor(intent)
            except Exception as error:
                if session is not None:
                    session.record_attempt(
                        intent=intent, decision=decision, executed=True, error=error
                    )
                raise
            if session is not None:
                session.record_attempt(
                    intent=intent, decision=decision, executed=True, result=result
                )
            return AdapterOutcome(decision=decision, executed=True, result=result)
        if session is not None:
            session.record_attempt(intent=intent, decision=decision, executed=False)
        if decision.ok and decision.verdict == "dry_run":
            return AdapterOutcome(decision=decision, executed=False, result=None)
        raise GateEnforcementError(decision)

    def capture_runpack(self, *, cwd: str | Path | None = None) -> DemoCapture:
        return capture_demo_runpack(gait_bin=self.gait_bin, cwd=cwd)

    def create_regression_fixture(
        self, *, from_run: str, cwd: str | Path | None = None
    ) -> RegressInitResult:
        return create_regress_fixture(gait_bin=self.gait_bin, from_run=from_run, cwd=cwd)
