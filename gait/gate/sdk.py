"""The SDK wrapper: build an IntentRequest, ask the core, obey the answer.

Nothing here decides. ``check`` hands the intent to ``Gate.decide`` (which evaluates, enforces
and signs the trace) and turns a non-allow verdict into a typed exception carrying the outcome;
``tool`` does the same around a Python callable and only calls it on ``allow``. A wrapper cannot
turn a block into an allow: it never sees anything it could change.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from gait import timefmt
from gait.errors import ApprovalRequired, PolicyBlocked
from gait.gate.engine import Gate, GateOutcome

F = TypeVar("F", bound=Callable[..., Any])


class GateDenied(Exception):  # noqa: N818 - the base of the three denial exceptions
    """Base of the exceptions a gated call raises instead of running."""

    result: GateOutcome


class GateBlocked(PolicyBlocked, GateDenied):
    """The gate blocked the call (exit code 3 semantics)."""

    def __init__(self, result: GateOutcome) -> None:
        super().__init__(
            f"blocked by policy: {','.join(result.reason_codes)}", code="E_POLICY_BLOCKED"
        )
        self.result = result


class GateApprovalRequired(ApprovalRequired, GateDenied):
    """The call needs approval tokens first (exit code 4 semantics)."""

    def __init__(self, result: GateOutcome) -> None:
        code = result.approval_error_code or "E_APPROVAL_REQUIRED"
        super().__init__(f"approval required: {','.join(result.reason_codes)}", code=code)
        self.result = result


class GateDryRun(GateDenied):
    """The policy allows only a dry run: the tool is not executed."""

    def __init__(self, result: GateOutcome) -> None:
        super().__init__(f"dry run only: {','.join(result.reason_codes)}")
        self.result = result


def load(
    policy: str | Path,
    *,
    mode: str | None = None,
    private_key: str | Path | None = None,
    trace_dir: str | Path | None = "gait-out/traces",
    state_path: str | Path | None = None,
    approval_public_key: str | Path | None = None,
    kill_switch_state: str | Path | None = None,
) -> Gate:
    """Read and compile a policy once and return a ``Gate`` for in-process decisions.

    Keys follow the CLI: ``mode`` (default ``GAIT_MODE`` or dev) and ``private_key``; dev mode
    signs with the local dev key from ``GAIT_HOME``. In production mode an unreadable policy or
    a missing key makes every high-risk call block, as in ``gait gate eval``.
    ``kill_switch_state`` names a kill-switch state file honoured before any rule.
    """
    import argparse

    from gait.gate.engine import open_gate
    from gait.sign.keyring import key_mode, read_key_text, resolve_signing_key
    from gait.sign.keys import VerifyKey

    args = argparse.Namespace(
        key_mode=mode,
        private_key=str(private_key) if private_key else None,
        private_key_env=None,
    )

    def resolve_key() -> tuple[Any, list[str]]:
        key, _, warnings = resolve_signing_key(args)
        return key, warnings

    approval_keys = None
    if approval_public_key:
        approval_keys = [VerifyKey.from_text(read_key_text(approval_public_key, "public key"))]
    gate = open_gate(
        policy,
        mode=key_mode(args),
        resolve_key=resolve_key,
        state_path=state_path,
        approval_keys=approval_keys,
        trace_dir=trace_dir,
    )
    if kill_switch_state:
        from gait.gate.killswitch import state_check

        # Honoured before any rule, re-read when the file changes (no restart needed).
        gate.checks.append(
            state_check(kill_switch_state, journal_key=gate.signing_key, source="sdk")
        )
    return gate


def check(
    gate: Gate,
    intent: Mapping[str, Any],
    *,
    approval_tokens: Sequence[Any] = (),
    now: str | None = None,
) -> GateOutcome:
    """Decide ``intent``; return the outcome on allow, raise a ``GateDenied`` otherwise."""
    outcome = gate.decide(dict(intent), approval_tokens=approval_tokens, now=now)
    if outcome.verdict == "allow":
        return outcome
    if outcome.verdict == "block":
        raise GateBlocked(outcome)
    if outcome.verdict == "require_approval":
        raise GateApprovalRequired(outcome)
    raise GateDryRun(outcome)


def build_intent(
    tool_name: str,
    args: Mapping[str, Any],
    *,
    context: Mapping[str, Any],
    targets: Sequence[Mapping[str, Any]] = (),
    provenance: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """An IntentRequest (FORMATS 5.1) from its parts; normalisation happens in the core."""
    intent: dict[str, Any] = {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": timefmt.now(),
        "producer_version": "gait-sdk",
        "tool_name": tool_name,
        "args": dict(args),
        "targets": [dict(t) for t in targets],
        "context": dict(context),
    }
    if provenance:
        intent["arg_provenance"] = [dict(p) for p in provenance]
    return intent


def tool(
    gate: Gate,
    *,
    name: str | None = None,
    context: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
    targets: Callable[[dict[str, Any]], Sequence[Mapping[str, Any]]] | None = None,
    provenance: Mapping[str, str]
    | Callable[[dict[str, Any]], Sequence[Mapping[str, Any]]]
    | None = None,
    approval_tokens: Callable[[], Sequence[Any]] | None = None,
) -> Callable[[F], F]:
    """Gate every call of the decorated function.

    ``targets(args)`` declares what the call touches; ``provenance`` maps argument names to
    their source (``{"path": "user"}``) or is a function of the arguments; ``context`` gives
    identity, workspace and risk class. The function runs only when the verdict is ``allow``.
    """

    def decorate(func: F) -> F:
        signature = inspect.signature(func)
        tool_name = name or func.__name__

        @functools.wraps(func)
        def wrapper(*call_args: Any, **call_kwargs: Any) -> Any:
            bound = signature.bind(*call_args, **call_kwargs)
            bound.apply_defaults()
            args = dict(bound.arguments)
            declared = list(targets(args)) if targets else []
            if callable(provenance):
                prov = list(provenance(args))
            elif provenance:
                prov = [{"arg_path": f"$.{key}", "source": src} for key, src in provenance.items()]
            else:
                prov = []
            ctx = context() if callable(context) else context
            intent = build_intent(tool_name, args, context=ctx, targets=declared, provenance=prov)
            tokens = list(approval_tokens()) if approval_tokens else []
            check(gate, intent, approval_tokens=tokens)
            return func(*call_args, **call_kwargs)

        wrapper.gate = gate  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
