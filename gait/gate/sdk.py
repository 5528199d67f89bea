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
    """The call needs approval tokens first (exit code 4 semantics).

    What an approver needs is on the exception itself: ``intent_digest`` and ``policy_digest``
    (what a token must be bound to, with ``delegation_binding_digest`` when the intent carries
    a delegation), ``required_scope`` (what it must cover),
    ``required_approvals`` (how many distinct tokens) and ``approve_command`` (the exact
    ``gait approve`` command line, also given as ``hint``). Pass the token file it writes back
    with ``approval_tokens=["approval_token.json"]``.
    """

    def __init__(self, result: GateOutcome) -> None:
        code = result.approval_error_code or "E_APPROVAL_REQUIRED"
        self.intent_digest: str = result.intent_digest
        self.policy_digest: str = result.policy_digest
        self.required_scope: list[str] = approval_scope(result)
        self.required_approvals: int = max(result.required_approvals, 1)
        self.delegation_binding_digest: str = delegation_binding_digest(result)
        self.approve_command: str = approve_command(result)
        super().__init__(
            f"approval required: {','.join(result.reason_codes)}",
            code=code,
            hint=self.approve_command,
        )
        self.result = result


APPROVAL_TOKEN_OUT = "approval_token.json"


def approval_scope(outcome: GateOutcome) -> list[str]:
    """The scope a token must hold for this decision (docs/formats.md section 6.1)."""
    from gait.gate.approval import required_scope

    intent = outcome.decision.intent if outcome.decision is not None else None
    if intent is None:
        return []
    return required_scope(intent.tool_name, intent.phase, intent.destructive)


def approve_command(outcome: GateOutcome, *, out: str = APPROVAL_TOKEN_OUT) -> str:
    """The ``gait approve`` command line that mints a token this decision accepts; the approver
    fills in who they are (``$USER``) and why (a ticket or change id)."""
    scope = ",".join(approval_scope(outcome)) or "*"
    binding = delegation_binding_digest(outcome)
    bound = f"--delegation-binding-digest {binding} " if binding else ""
    return (
        f"gait approve --intent-digest {outcome.intent_digest} "
        f"--policy-digest {outcome.policy_digest} {bound}--scope {scope} --ttl 1h "
        f'--approver "$USER" --reason-code CHANGE_ID --out {out}'
    )


def delegation_binding_digest(outcome: GateOutcome) -> str:
    """The delegation binding a token must carry for this decision ("" when the intent has no
    delegation): a call made under a delegation chain is approved only by a token bound to it."""
    from gait.gate.engine import delegation_binding

    intent = outcome.decision.intent if outcome.decision is not None else None
    return delegation_binding(intent) if intent is not None else ""


def read_approval_token(path: str | Path) -> Any:
    """A token file's JSON; a file that is not there is an input error (``not found``), and one
    that is not JSON comes back as ``None`` so the gate counts it as an invalid token."""
    from gait.canon import loads_strict
    from gait.errors import GaitError, InvalidInput

    source = Path(path)
    try:
        data = source.read_bytes()
    except FileNotFoundError as exc:
        raise InvalidInput(
            f"approval token not found: {source}",
            code="E_APPROVAL_TOKEN_NOT_FOUND",
            hint=f"mint it with gait approve ... --out {source}",
        ) from exc
    except OSError:
        return None
    try:
        return loads_strict(data, what=f"approval token {source}", code="E_APPROVAL_TOKEN_READ")
    except GaitError:
        return None


def _tokens(approval_tokens: Sequence[Any]) -> list[Any]:
    """Parsed tokens as given; paths (str or PathLike) are read."""
    import os

    return [
        read_approval_token(os.fspath(t)) if isinstance(t, (str, os.PathLike)) else t
        for t in approval_tokens
    ]


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
    from gait.sign.keyring import key_mode, resolve_signing_key
    from gait.sign.keys import VerifyKey, read_key_text

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
    delegation_tokens: Sequence[Any] = (),
    delegation_public_key: str | Path | None = None,
) -> GateOutcome:
    """Decide ``intent``; return the outcome on allow, raise a ``GateDenied`` otherwise.

    ``approval_tokens`` holds parsed tokens or token file paths (a missing file raises
    ``E_APPROVAL_TOKEN_NOT_FOUND``). ``delegation_tokens`` (parsed or paths) prove the intent's
    delegation chain when a matched rule sets ``require_delegation``; they are verified with
    ``delegation_public_key`` (default: the gate's approval keys), as ``gait gate eval
    --delegation-token`` does."""
    if not isinstance(intent, Mapping):
        from gait.gate.intent_fields import IntentInvalid

        raise IntentInvalid(
            f"intent must be a mapping (an IntentRequest), not {type(intent).__name__}",
            hint="build one with gait.gate.build_intent(tool_name, args, context=...)",
        )
    inputs = None
    if delegation_tokens or delegation_public_key:
        inputs = _delegation_inputs(delegation_tokens, delegation_public_key)
    outcome = gate.decide(
        dict(intent), approval_tokens=_tokens(approval_tokens), now=now, inputs=inputs
    )
    if outcome.verdict == "allow":
        return outcome
    if outcome.verdict == "block":
        raise GateBlocked(outcome)
    if outcome.verdict == "require_approval":
        raise GateApprovalRequired(outcome)
    raise GateDryRun(outcome)


def _delegation_inputs(tokens: Sequence[Any], public_key: str | Path | None) -> Any:
    import os

    from gait.gate.delegation_tokens import DelegationEvidence
    from gait.gate.gate_inputs import GateInputs
    from gait.sign.keys import VerifyKey, read_key_text

    paths = [os.fspath(t) for t in tokens if isinstance(t, (str, os.PathLike))]
    parsed = [t for t in tokens if not isinstance(t, (str, os.PathLike))]
    keys = None
    if public_key:
        keys = [VerifyKey.from_text(read_key_text(public_key, "delegation public key"))]
    return GateInputs(delegation=DelegationEvidence(tokens=parsed, keys=keys, paths=paths))


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


def _json_args(args: dict[str, Any]) -> dict[str, Any]:
    """A tool's arguments as the JSON the intent holds: a ``Path``, a pydantic model (an SDK
    object), a dataclass, an enum, a datetime... by ``gait.values``' rule, the one the recorder
    and the compat ``gate_tool`` follow, so the same call is decided the same way whichever
    wrapper gates it. What that rule cannot read stays as given, for the core to refuse (a
    high-risk call then blocks with ``fail_closed_intent_invalid``)."""
    from gait.errors import InvalidInput
    from gait.values import to_json_value

    try:
        converted = to_json_value(args, strict=True, code="E_INTENT_INVALID", where="args")
    except InvalidInput:
        return args
    return converted if isinstance(converted, dict) else args


def tool(
    gate: Gate,
    *,
    name: str | None = None,
    context: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
    targets: Callable[[dict[str, Any]], Sequence[Mapping[str, Any]]] | None = None,
    provenance: Mapping[str, str]
    | Callable[[dict[str, Any]], Sequence[Mapping[str, Any]]]
    | None = None,
    approval_tokens: Callable[[], Sequence[Any]] | Sequence[Any] | None = None,
    delegation_tokens: Callable[[], Sequence[Any]] | Sequence[Any] | None = None,
    delegation_public_key: str | Path | None = None,
) -> Callable[[F], F]:
    """Gate every call of the decorated function.

    ``targets(args)`` declares what the call touches; ``provenance`` maps argument names to
    their source (``{"path": "user"}``) or is a function of the arguments; ``context`` gives
    identity, workspace and risk class. The function runs only when the verdict is ``allow``.
    ``approval_tokens`` is a list of tokens or token file paths, or a function returning one
    (read at each call, so a token minted after decoration counts); ``delegation_tokens``
    likewise, verified with ``delegation_public_key`` (see ``check``).
    """

    def decorate(func: F) -> F:
        signature = inspect.signature(func)
        tool_name = name or func.__name__
        # A method's receiver is not a tool argument (the compat ``gate_tool`` leaves it out
        # too): in the intent it made every call of a decorated method not JSON, so a high-risk
        # one was blocked as ``fail_closed_intent_invalid``.
        from gait.values import receiver as receiver_of

        receiver = receiver_of(func, signature) or None

        @functools.wraps(func)
        def wrapper(*call_args: Any, **call_kwargs: Any) -> Any:
            bound = signature.bind(*call_args, **call_kwargs)
            bound.apply_defaults()
            args = dict(bound.arguments)
            if receiver is not None:
                args.pop(receiver, None)
            declared = list(targets(args)) if targets else []
            if callable(provenance):
                prov = list(provenance(args))
            elif provenance:
                prov = [{"arg_path": f"$.{key}", "source": src} for key, src in provenance.items()]
            else:
                prov = []
            ctx = context() if callable(context) else context
            intent = build_intent(
                tool_name, _json_args(args), context=ctx, targets=declared, provenance=prov
            )
            if callable(approval_tokens):
                tokens = list(approval_tokens())
            else:
                tokens = list(approval_tokens or [])
            if callable(delegation_tokens):
                delegated = list(delegation_tokens())
            else:
                delegated = list(delegation_tokens or [])
            check(
                gate,
                intent,
                approval_tokens=tokens,
                delegation_tokens=delegated,
                delegation_public_key=delegation_public_key,
            )
            return func(*call_args, **call_kwargs)

        wrapper.gate = gate  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
