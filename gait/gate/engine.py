"""Enforcement around evaluation: rate limits, approvals, simulate, fail-closed, signed traces.

``Gate`` is the one object the CLI and the SDK both use: it holds a compiled policy, a signing
key and (lazily) the state store, and turns an intent into a ``GateOutcome`` whose trace it
signs itself. Callers cannot change a verdict: they only read the outcome.
"""

from __future__ import annotations

import time

# ``collections.abc`` is this module re-exported by the ``collections`` package, whose import a
# decision process does not otherwise need (issue 16 item 6); ``os`` has already loaded it.
from _collections_abc import Mapping
from pathlib import Path

from gait import __version__, timefmt
from gait.canon import digest, sha256_hex
from gait.errors import (
    GaitError,
    InvalidInput,
    ProfileRefused,
    SigningKeyRequired,
    TraceUnwritable,
)
from gait.gate.evaluate import Decision, evaluate_normalized
from gait.gate.intent import IntentInvalid, NormalizedIntent, normalize_intent
from gait.gate.policy import Policy
from gait.gate.trace import (
    TraceInput,
    approval_audit,
    build_trace,
    now_observed,
    record_decision,
    write_json,
)
from gait.plain import Frozen, Plain
from gait.sign.keys import SigningKey, VerifyKey
from gait.timefmt import UTC, datetime  # the C types (see gait.timefmt)

TYPE_CHECKING = False
if TYPE_CHECKING:  # loaded by the decisions that use them: approvals, rate limits and budgets
    from collections.abc import Callable, Sequence
    from typing import Any

    from gait.gate import approval as tokens
    from gait.gate.state import GateState, RateDecision

EXIT_FOR_VERDICT = {"allow": 0, "dry_run": 0, "block": 3, "require_approval": 4}
DEFAULT_FAIL_CLOSED = frozenset({"critical", "high"})
HIGH_RISK = frozenset({"critical", "high"})


class GateOutcome(Plain):
    """One enforced decision. ``verdict`` is final: simulate, rate limits and approvals applied."""

    _fields = (
        "verdict",
        "reason_codes",
        "violations",
        "created_at",
        "intent_digest",
        "policy_digest",
        "matched_rule",
        "phase",
        "trace",
        "trace_path",
        "trace_error",
        "approval_ref",
        "required_approvals",
        "valid_approvals",
        "approval_audit_path",
        "approval_error_code",
        "rate",
        "budget",
        "simulate",
        "simulated_verdict",
        "simulated_reason_codes",
        "warnings",
        "decision",
        "extra_fields",
        "extra",
    )
    # Not a field (never compared or shown): the id of a trace gait.compat's background writer
    # will write for this decision, set by it.
    __slots__ = (*_fields, "deferred_trace_id")
    verdict: str
    reason_codes: list[str]
    violations: list[str]
    created_at: str
    intent_digest: str
    policy_digest: str
    matched_rule: str
    phase: str
    trace: dict[str, Any] | None
    trace_path: str
    trace_error: str
    approval_ref: str
    required_approvals: int
    valid_approvals: int
    approval_audit_path: str
    approval_error_code: str
    rate: RateDecision | None
    budget: RateDecision | None
    simulate: bool
    simulated_verdict: str
    simulated_reason_codes: list[str]
    warnings: list[str]
    decision: Decision | None
    # Further --json fields (delegation ref, count and audit path), omitted when empty.
    extra_fields: dict[str, Any]
    # Boundary findings (kill_switch, mcp_trust) by trace field name; see ``BoundaryCheck``.
    extra: dict[str, Any]

    def __init__(
        self,
        verdict: str,
        reason_codes: list[str],
        violations: list[str],
        created_at: str,
        intent_digest: str,
        policy_digest: str,
        matched_rule: str = "",
        phase: str = "",
        trace: dict[str, Any] | None = None,
        trace_path: str = "",
        trace_error: str = "",
        approval_ref: str = "",
        required_approvals: int = 0,
        valid_approvals: int = 0,
        approval_audit_path: str = "",
        approval_error_code: str = "",
        rate: RateDecision | None = None,
        budget: RateDecision | None = None,
        simulate: bool = False,
        simulated_verdict: str = "",
        simulated_reason_codes: list[str] | None = None,
        warnings: list[str] | None = None,
        decision: Decision | None = None,
        extra_fields: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.verdict = verdict
        self.reason_codes = reason_codes
        self.violations = violations
        self.created_at = created_at
        self.intent_digest = intent_digest
        self.policy_digest = policy_digest
        self.matched_rule = matched_rule
        self.phase = phase
        self.trace = trace
        self.trace_path = trace_path
        self.trace_error = trace_error
        self.approval_ref = approval_ref
        self.required_approvals = required_approvals
        self.valid_approvals = valid_approvals
        self.approval_audit_path = approval_audit_path
        self.approval_error_code = approval_error_code
        self.rate = rate
        self.budget = budget
        self.simulate = simulate
        self.simulated_verdict = simulated_verdict
        simulated_reasons = [] if simulated_reason_codes is None else simulated_reason_codes
        self.simulated_reason_codes = simulated_reasons
        self.warnings = [] if warnings is None else warnings
        self.decision = decision
        self.extra_fields = {} if extra_fields is None else extra_fields
        self.extra = {} if extra is None else extra

    @property
    def exit_code(self) -> int:
        return EXIT_FOR_VERDICT[self.verdict]

    @property
    def allowed(self) -> bool:
        return self.verdict in ("allow", "dry_run")

    def gate_result(self, producer_version: str = __version__) -> dict[str, Any]:
        return {
            "schema_id": "gait.gate.result",
            "schema_version": "1.0.0",
            "created_at": self.created_at,
            "producer_version": producer_version,
            "verdict": self.verdict,
            "reason_codes": list(self.reason_codes),
            "violations": list(self.violations),
        }

    def payload(self) -> dict[str, Any]:
        """The ``gait gate eval --json`` document (empty fields omitted, as the reference)."""
        out: dict[str, Any] = {"ok": True, "profile": "standard", "verdict": self.verdict}
        optional: dict[str, Any] = {
            "reason_codes": self.reason_codes,
            "violations": self.violations,
            "approval_ref": self.approval_ref,
            "required_approvals": self.required_approvals,
            "valid_approvals": self.valid_approvals,
            "approval_audit_path": self.approval_audit_path,
            "trace_id": self.trace["trace_id"] if self.trace else "",
            "trace_path": self.trace_path,
            "policy_digest": self.policy_digest,
            "intent_digest": self.intent_digest,
            "matched_rule": self.matched_rule,
            "phase": self.phase,
            "simulate_mode": self.simulate,
            "would_have_blocked": self.simulate
            and self.simulated_verdict in ("block", "require_approval"),
            "simulated_verdict": self.simulated_verdict,
            "simulated_reason_codes": self.simulated_reason_codes,
            "warnings": self.warnings,
            "error_code": self.approval_error_code,
        }
        decision = self.decision
        if decision is not None:
            optional["delegation_required"] = decision.require_delegation
            if decision.more:
                for name in ("freeze_window", "sandbox"):
                    optional[name] = decision.more.get(name)
            if decision.step_verdicts:
                optional["script"] = True
                optional["step_count"] = len(decision.step_verdicts)
                if decision.intent is not None:
                    optional["script_hash"] = decision.intent.doc.get("script_hash", "")
                optional["composite_risk_class"] = decision.composite_risk_class
                optional["step_verdicts"] = [
                    {k: v for k, v in step.items() if v or k in ("index", "tool_name", "verdict")}
                    for step in decision.step_verdicts
                ]
        if self.trace is None:
            optional["trace_written"] = "no"
            optional["trace_error"] = self.trace_error
        for name, rate in (("rate_limit", self.rate), ("destructive_budget", self.budget)):
            if rate is not None:
                optional[f"{name}_scope"] = rate.scope
                optional[f"{name}_key"] = rate.key
                optional[f"{name}_used"] = rate.used
                optional[f"{name}_remaining"] = rate.remaining
        optional.update(self.extra_fields)
        for name, value in optional.items():
            if value:
                out[name] = value
        for name in sorted(self.extra):
            out[name] = self.extra[name]
        return out


def _with_inputs(
    policy: Policy,
    prepared: NormalizedIntent,
    extra: tuple[str, ...],
    now: str,
    inputs: Any,
    normalized: NormalizedIntent | None = None,
) -> tuple[NormalizedIntent, Decision, dict[str, Any]]:
    """Evaluation with ``gait gate eval``'s further inputs (gait.gate.gate_inputs): a verified
    context envelope bound to the intent, the tool inventory's context, then the
    approved-script fast path, else the policy."""
    from gait.gate import gate_inputs
    from gait.gate.context import enrich

    fields: dict[str, Any] = {"warnings": list(inputs.warnings)}
    if inputs.context_envelope is not None and normalized is not None:
        bound = _bind_envelope(policy, normalized, prepared, now, inputs.context_envelope)
        if isinstance(bound, Decision):
            return prepared, bound, fields
        prepared = bound
        from gait.contextproof import CONTEXT_SOURCE
        from gait.gate.context import evidence_fields

        fields.update(evidence_fields(prepared))
        fields["context_source"] = CONTEXT_SOURCE
    inventory = inputs.inventory
    if inventory:
        tools = [s["tool_name"] for s in prepared.script["steps"]] if prepared.script else []
        source = ""
        if prepared.script is None:
            enriched = enrich(prepared, inventory)
            if enriched is not prepared:
                prepared = enriched
                source = inputs.inventory_source or "wrkr_inventory"
        elif any(tool in inventory for tool in tools):
            source = inputs.inventory_source or "wrkr_inventory"
        if source:
            from gait.gate.context import merge_source

            fields["context_source"] = merge_source(fields.get("context_source", ""), source)
    if inputs.approved_scripts and prepared.script is not None:
        if gate_inputs.policy_requires_context_evidence(policy):
            fields["warnings"].append(
                "approved script fast-path disabled because policy requires authenticated "
                "context evidence"
            )
        else:
            decision, detail = gate_inputs.pre_approved_decision(
                prepared, policy, inputs.approved_scripts, now
            )
            if decision is not None:
                fields.update(
                    pre_approved=True, pattern_id=detail, registry_reason="approved_script_match"
                )
                return prepared, decision, fields
            fields["registry_reason"] = detail
    decision = evaluate_normalized(policy, prepared, extra, now=now, inventory=inventory)
    if "context_source" in fields and _fail_closed_early(decision):
        del fields["context_source"]  # the reference names none for a block before the rules
    return prepared, decision, fields


_FAIL_CLOSED_VIOLATIONS = {"fail_closed_intent_invalid": "intent_not_evaluable"}
_FAIL_CLOSED_EARLY = ("fail_closed_", "context_evidence_missing")


def _fail_closed_early(decision: Decision) -> bool:
    """A fail-closed block decided before any rule (missing required fields): no rule matched
    and every reason is a fail-closed one."""
    return (
        decision.verdict == "block"
        and not decision.matched_rule
        and not decision.step_verdicts
        and all(r.startswith(_FAIL_CLOSED_EARLY) for r in decision.reason_codes)
    )


def delegation_binding(intent: NormalizedIntent) -> str:
    """H(the intent's normalised delegation), or "" without one: what an approval token's
    ``delegation_binding_digest`` must equal (the reference's DelegationBindingDigest). A token
    minted for one delegation chain cannot approve the same call made under another."""
    delegation = intent.doc.get("delegation")
    return digest(delegation) if delegation is not None else ""


def _oss_prod_key(what: str, flag: str, private: str) -> ProfileRefused:
    """The oss-prod profile verifies approvals and delegations only with a key it was given
    (never the gate's own or the trust store's), as the reference requires."""
    return ProfileRefused(
        f"oss-prod profile requires explicit {what} verify key "
        f"({flag}/{flag}-env or {private}private key source)",
        code="E_PROFILE_OSS_PROD",
    )


def _bind_envelope(
    policy: Policy,
    normalized: NormalizedIntent,
    prepared: NormalizedIntent,
    now: str,
    envelope: dict[str, Any],
) -> NormalizedIntent | Decision:
    """The intent with the envelope's evidence bound in; when the intent claims evidence the
    envelope does not back, a fail-closed risk class blocks (as the reference: the intent is
    not evaluable) and any other raises ``E_CONTEXT_ENVELOPE_MISMATCH`` (exit 6)."""
    from gait.contextproof import EnvelopeMismatch
    from gait.gate.context import bind_envelope

    try:
        return bind_envelope(normalized, envelope, now)
    except EnvelopeMismatch:
        if not policy.fail_closed_for(prepared.risk_class):
            raise
        return Decision(
            "block",
            ["fail_closed_intent_invalid"],
            ["intent_not_evaluable"],
            prepared.created_at,
            prepared,
        )


# Decision fields a trace records beside the boundary findings (the reference's trace fields).
_TRACE_DECISION_FIELDS = ("context_source", "pre_approved", "pattern_id", "registry_reason")


def _trace_extra(outcome: GateOutcome, doc: dict[str, Any]) -> dict[str, Any]:
    """``outcome.extra`` plus what the trace takes from the decision: context source, the
    approved-script fast path, a script's composite risk class, the freeze-window and sandbox
    decisions, and the ``delegation_ref`` of an intent that carries a delegation."""
    fields = outcome.extra_fields
    more = outcome.decision.more if outcome.decision is not None else None
    if not fields and not more and "delegation" not in doc:
        return outcome.extra
    out = dict(outcome.extra)
    for name in _TRACE_DECISION_FIELDS:
        if fields.get(name):
            out[name] = fields[name]
    if more:
        for name in ("composite_risk_class", "freeze_window", "sandbox"):
            if more.get(name):
                out[name] = more[name]
    delegation = doc.get("delegation")
    if delegation:
        from gait.gate.delegation import trace_delegation_ref

        out["delegation_ref"] = trace_delegation_ref(
            delegation, fields.get("delegation_ref", ""), outcome.reason_codes
        )
    return out


def _merge(values: list[str], *extra: str) -> list[str]:
    return sorted(set(values) | set(extra))


class BoundaryFinding(Frozen):
    """What a check at the tool boundary (kill switch, MCP trust) adds to a decision.

    ``record`` goes into the trace under ``field``; ``verdict`` (if any) can only make the
    decision more restrictive, except with ``replace``, where the finding stands instead of the
    rules' answer (a kill-switch state that cannot be read), and with ``force``, where its
    verdict stands even over a dry run (a job's emergency stop, as the reference's proxy sets
    ``block`` whatever the rules said) while the rules' reasons are kept beside it.
    """

    __slots__ = _fields = (
        "field",
        "record",
        "verdict",
        "reason_codes",
        "violations",
        "replace",
        "force",
    )
    field: str
    record: dict[str, Any]
    verdict: str
    reason_codes: tuple[str, ...]
    violations: tuple[str, ...]
    replace: bool
    force: bool

    def __init__(
        self,
        field: str,
        record: dict[str, Any],
        verdict: str = "",
        reason_codes: tuple[str, ...] = (),
        violations: tuple[str, ...] = (),
        replace: bool = False,
        force: bool = False,
    ) -> None:
        _set = object.__setattr__
        _set(self, "field", field)
        _set(self, "record", record)
        _set(self, "verdict", verdict)
        _set(self, "reason_codes", reason_codes)
        _set(self, "violations", violations)
        _set(self, "replace", replace)
        _set(self, "force", force)


if TYPE_CHECKING:
    BoundaryCheck = Callable[[NormalizedIntent, str], BoundaryFinding | None]


def more_restrictive(current: str, proposed: str) -> str:
    """The reference's order: a block or dry run stands; block beats require_approval."""
    if current in ("block", "dry_run") or not proposed:
        return current
    if proposed == "block":
        return "block"
    if current == "require_approval" or proposed == "require_approval":
        return "require_approval"
    return current


def _apply_findings(
    outcome: GateOutcome, checks: Sequence[BoundaryCheck], intent: NormalizedIntent, now: str
) -> None:
    for check in checks:
        found = check(intent, now)
        if found is None:
            continue
        outcome.extra[found.field] = found.record
        if found.replace:
            outcome.verdict = found.verdict or outcome.verdict
            outcome.reason_codes = sorted(set(found.reason_codes))
            outcome.violations = sorted(set(found.violations))
            continue
        outcome.reason_codes = _merge(outcome.reason_codes, *found.reason_codes)
        if found.verdict:
            if found.force:
                outcome.verdict = found.verdict
            else:
                outcome.verdict = more_restrictive(outcome.verdict, found.verdict)
            outcome.violations = _merge(outcome.violations, *found.violations)


def _bucket(window: str, now: str) -> str:
    moment, _ = timefmt.parse(now)
    if window == "hour":
        moment = moment.replace(minute=0, second=0)
    else:
        moment = moment.replace(second=0)
    return timefmt.format_utc(moment)


def _evidence_path(out: Any, directory: Path | None, name: str) -> Path | None:
    """Where an evidence file goes: the explicit path, else beside the trace, else nowhere."""
    if out:
        return Path(out)
    return directory / name if directory is not None else None


def _raw_field(raw: Any, *path: str) -> str:
    value = raw
    for name in path:
        if type(value) is not dict and not isinstance(value, Mapping):  # dict: no ABC check
            return ""
        value = value.get(name)
    return value.strip() if isinstance(value, str) else ""


MAX_EVALUATION_SKEW_SECONDS = 300


def _clock() -> datetime:
    """The wall clock the production skew check compares with (tests replace this)."""
    return datetime.now(UTC)


def _check_evaluation_time(now: str) -> None:
    """Production gates evaluate at the clock's time: an earlier ``--evaluation-time`` would
    revive expired tokens, a later one would pre-date rate-limit windows."""
    moment, _ = timefmt.parse(now)
    skew = abs((moment - _clock().replace(microsecond=0)).total_seconds())
    limit = MAX_EVALUATION_SKEW_SECONDS
    if skew > limit:
        raise InvalidInput(
            f"evaluation time {now} is {int(skew)} s from the clock; production mode allows "
            f"at most {limit} s",
            code="E_GATE_EVALUATION_TIME_SKEW",
            hint="drop --evaluation-time in production (or use --key-mode dev to replay a past "
            "decision)",
        )


def _pseudo_intent(raw: Any) -> tuple[dict[str, Any], str]:
    """A stand-in normalised doc (and digest) for an intent that cannot be normalised.

    Its trace still names the tool and identity the caller claimed, and the digest of what was
    submitted, so a fail-closed block is recorded like any other decision.
    """
    try:
        raw_digest = digest(raw)
    except (GaitError, ValueError, RecursionError):
        # not even canonical JSON (huge numbers, deep nesting): a digest of a bounded marker
        raw_digest = digest(f"unrepresentable intent {type(raw).__name__}")
    doc: dict[str, Any] = {
        "tool_name": _raw_field(raw, "tool_name").lower() or "unknown",
        "args": {},
        "targets": [],
        "context": {
            "identity": _raw_field(raw, "context", "identity") or "unknown",
            "workspace": _raw_field(raw, "context", "workspace") or "unknown",
            "risk_class": _raw_field(raw, "context", "risk_class").lower() or "unknown",
            "phase": "apply",
        },
    }
    session = _raw_field(raw, "context", "session_id")
    if session:
        doc["context"]["session_id"] = session
    return doc, raw_digest


class Gate:
    """A compiled policy plus everything needed to enforce and record its decisions."""

    def __init__(
        self,
        policy: Policy,
        *,
        signing_key: SigningKey | None,
        mode: str = "dev",
        state: GateState | None = None,
        state_path: str | Path | None = None,
        approval_keys: Sequence[VerifyKey] | None = None,
        trace_dir: str | Path | None = "gait-out/traces",
        producer_version: str = __version__,
        warnings: Sequence[str] = (),
        policy_error: GaitError | None = None,
        key_error: GaitError | None = None,
        checks: Sequence[BoundaryCheck] = (),
    ) -> None:
        self.policy = policy
        # Checks at the tool boundary run on every decision (the kill switch); ``decide``
        # takes per-call ones too (the MCP trust of the calling server).
        self.checks = list(checks)
        # False: traces and log lines are written but not fsynced one by one; the owner (the
        # decision service) makes them durable in batches. Atomic renames either way.
        self.trace_sync = True
        # Set by ``open_gate`` in production mode: the policy could not be read (``policy`` is
        # then a block-everything stand-in) or no key can sign traces.
        self.policy_error = policy_error
        self.key_error = key_error
        self.signing_key = signing_key
        self.mode = mode
        self._state = state
        self._state_path = state_path
        self.approval_keys = list(approval_keys) if approval_keys is not None else None
        self.trace_dir = Path(trace_dir) if trace_dir is not None else None
        self.producer_version = producer_version
        self.warnings = list(warnings)
        classes = policy.fail_closed_risk_classes if policy.fail_closed_enabled else ()
        self.fail_closed_classes = frozenset(classes) or DEFAULT_FAIL_CLOSED

    @property
    def state(self) -> GateState:
        if self._state is None:
            from gait.gate.state import open_state

            self._state = open_state(self._state_path)
        return self._state

    def _fails_closed(self, risk_class: str) -> bool:
        return self.mode == "prod" and risk_class in self.fail_closed_classes

    def decide(
        self,
        intent: Any,
        *,
        approval_tokens: Sequence[Any] = (),
        now: str | None = None,
        simulate: bool = False,
        trace_out: str | Path | None = None,
        audit_out: str | Path | None = None,
        correlation_id: str = "",
        validate_schema: bool = False,
        checks: Sequence[BoundaryCheck] = (),
        approvals: bool = True,
        inputs: Any = None,
    ) -> GateOutcome:
        """Evaluate, enforce and record one intent.

        In production mode an error on the way to a verdict for a fail-closed risk class is a
        ``block`` with a ``fail_closed_*`` reason; elsewhere it raises (exit 6).
        ``validate_schema`` checks a raw intent against the IntentRequest schema first (for
        intents read from files; the SDK builds its own). ``approvals=False`` leaves a
        ``require_approval`` verdict as the rules gave it, without the token check (the MCP
        proxy's answer, as the reference gives it: it takes no tokens).
        """
        started = time.perf_counter()
        if now is not None and self.mode == "prod":
            _check_evaluation_time(now)
        risk = (
            intent.risk_class
            if isinstance(intent, NormalizedIntent)
            else _raw_field(intent, "context", "risk_class").strip().lower()
        )
        refused = self._refuse_early(intent, risk, validate_schema, trace_out, correlation_id)
        if refused is not None:
            return refused
        try:
            return self._decide(
                intent,
                approval_tokens,
                now,
                simulate,
                trace_out,
                audit_out,
                correlation_id,
                started,
                checks,
                approvals,
                inputs,
            )
        except GaitError as exc:
            if not self._fails_closed(risk) or isinstance(
                exc, (SigningKeyRequired, ProfileRefused)
            ):
                if isinstance(exc, TraceUnwritable):
                    # dev mode: the same error, as invalid input (exit 6)
                    raise InvalidInput(exc.message, code=exc.code) from exc
                raise
            code = (
                "fail_closed_trace_unwritable"
                if isinstance(exc, TraceUnwritable)
                else ("fail_closed_evaluation_error")
            )
            return self._blocked(
                intent,
                code,
                started,
                correlation_id,
                trace_out,
                write_trace=code != "fail_closed_trace_unwritable",
                error=exc.message,
            )
        except Exception as exc:  # noqa: BLE001 - fail closed on any unexpected error
            if not self._fails_closed(risk):
                raise
            return self._blocked(
                intent,
                "fail_closed_evaluation_error",
                started,
                correlation_id,
                trace_out,
                error=f"{type(exc).__name__}: {exc}",
            )

    def _refuse_early(
        self,
        intent: Any,
        risk: str,
        validate_schema: bool,
        trace_out: str | Path | None,
        correlation_id: str,
    ) -> GateOutcome | None:
        """The fail-closed blocks decided before evaluation, or the error they replace."""
        if self.key_error is not None:
            if not self._fails_closed(risk):
                raise self.key_error
            return self.blocked(
                intent,
                "fail_closed_signing_key_missing",
                error="no signing key: no trace was written",
            )
        if self.policy_error is not None:
            if risk not in DEFAULT_FAIL_CLOSED:
                raise self.policy_error
            return self.blocked(
                intent,
                "fail_closed_policy_invalid",
                error=self.policy_error.message,
                trace_out=trace_out,
                correlation_id=correlation_id,
            )
        if validate_schema and not isinstance(intent, NormalizedIntent):
            from gait import schema

            problems = schema.errors("gait.gate.intent_request", intent)
            if problems:
                if not (self.policy.fail_closed_for(risk) or self._fails_closed(risk)):
                    raise IntentInvalid(
                        "intent does not match schema gait.gate.intent_request: "
                        + "; ".join(problems[:3]),
                        code="E_INTENT_INVALID",
                    )
                return self.blocked(
                    intent,
                    "fail_closed_intent_invalid",
                    error="; ".join(problems[:3]),
                    trace_out=trace_out,
                    correlation_id=correlation_id,
                )
        return None

    def blocked(
        self,
        intent: Any,
        reason: str,
        *,
        error: str = "",
        correlation_id: str = "",
        trace_out: str | Path | None = None,
    ) -> GateOutcome:
        """A fail-closed block decided outside evaluation (unreadable policy, missing key)."""
        return self._blocked(
            intent,
            reason,
            time.perf_counter(),
            correlation_id,
            trace_out,
            write_trace=self.signing_key is not None,
            error=error,
        )

    def _blocked(
        self,
        intent: Any,
        reason: str,
        started: float,
        correlation_id: str,
        trace_out: str | Path | None,
        *,
        write_trace: bool = True,
        error: str = "",
    ) -> GateOutcome:
        # the reference names an intent it cannot evaluate so (core/gate: EvaluatePolicy)
        violation = _FAIL_CLOSED_VIOLATIONS.get(reason) or reason.removeprefix("fail_closed_")
        if isinstance(intent, NormalizedIntent):
            doc, intent_digest, args_digest = intent.doc, intent.digest, intent.args_digest
            created = intent.created_at
        else:
            try:
                normalized = normalize_intent(intent).stripped()
                doc, intent_digest = normalized.doc, normalized.digest
                args_digest, created = normalized.args_digest, normalized.created_at
            except Exception:  # noqa: BLE001 - the fail-closed path itself must never raise
                doc, intent_digest = _pseudo_intent(intent)
                args_digest, created = digest({}), timefmt.EPOCH_1980
        outcome = GateOutcome(
            verdict="block",
            reason_codes=[reason],
            violations=[violation],
            created_at=created,
            intent_digest=intent_digest,
            policy_digest=self.policy.digest,
            phase=doc["context"].get("phase", ""),
            warnings=list(self.warnings),
        )
        if error:
            outcome.warnings.append(f"{reason}: {error}")
        if write_trace and self.signing_key is not None:
            try:
                self._write_trace(
                    outcome, doc, args_digest, correlation_id, started, trace_out, [], ""
                )
            except GaitError as exc:
                outcome.trace_error = exc.message
            except Exception as exc:  # noqa: BLE001 - the block stands even if its trace cannot
                outcome.trace_error = f"{type(exc).__name__}: {exc}"[:200]
        else:
            outcome.trace_error = error or "no signing key: no trace could be signed"
        return outcome

    def _decide(
        self,
        intent: Any,
        approval_tokens: Sequence[Any],
        now: str | None,
        simulate: bool,
        trace_out: str | Path | None,
        audit_out: str | Path | None,
        correlation_id: str,
        started: float,
        checks: Sequence[BoundaryCheck] = (),
        approvals: bool = True,
        inputs: Any = None,
    ) -> GateOutcome:
        policy = self.policy
        # The clock is read once per decision, and only by a decision that needs it (a policy
        # that reads it, further inputs, boundary checks; rate limits, approvals, delegation
        # and brokers below): most need none. Traces carry their own observed_at.
        if now:
            now = timefmt.canonical(now)
        elif policy.uses_clock or inputs is not None or self.checks or checks:
            now = timefmt.now()
        if isinstance(intent, NormalizedIntent):
            normalized = intent
        else:
            try:
                normalized = normalize_intent(intent)
            except IntentInvalid as exc:
                risk = _raw_field(intent, "context", "risk_class").lower()
                if policy.fail_closed_for(risk) or self._fails_closed(risk):
                    return self._blocked(
                        intent,
                        "fail_closed_intent_invalid",
                        started,
                        correlation_id,
                        trace_out,
                        error=exc.message,
                    )
                raise
        prepared = normalized.stripped()
        extra: tuple[str, ...] = ()
        if self.mode == "prod" and prepared.risk_class in HIGH_RISK:
            extra = ("targets",)
        decision = None
        fields: dict[str, Any] = {}
        if inputs is None:
            decision = evaluate_normalized(policy, prepared, extra, now=now)
        else:
            assert now is not None
            prepared, decision, fields = _with_inputs(
                policy, prepared, extra, now, inputs, normalized
            )
        if now is None:
            if (
                decision.rate_limits
                or (decision.destructive_budgets and prepared.destructive)
                or (
                    decision.more is not None  # the two properties' own test, without calls
                    and (decision.require_delegation or decision.require_broker_credential)
                )
                or (decision.verdict == "require_approval" and approvals)
            ):
                now = timefmt.now()
            else:
                now = ""  # read by nothing below
        more_warnings = fields.pop("warnings", [])
        if self.signing_key is None:
            raise SigningKeyRequired(
                "no signing key: the decision cannot be traced", code="E_SIGN_KEY_REQUIRED"
            )
        outcome = GateOutcome(
            verdict=decision.verdict,
            reason_codes=list(decision.reason_codes),
            violations=list(decision.violations),
            created_at=decision.created_at,
            intent_digest=prepared.digest,
            policy_digest=policy.digest,
            matched_rule=decision.matched_rule,
            phase=prepared.phase,
            warnings=[*self.warnings, *more_warnings]
            if inputs is not None
            else list(self.warnings),
            decision=decision,
            extra_fields=fields,
        )
        if self.checks or checks:
            _apply_findings(outcome, (*self.checks, *checks), prepared, now)
        if decision.rate_limits or (decision.destructive_budgets and prepared.destructive):
            self._apply_rate_limits(outcome, decision, prepared, now, simulate)
        delegated = None
        if decision.more is not None and decision.require_delegation:
            from gait.gate import delegation_tokens

            if inputs is not None and inputs.explicit_verify_keys:
                given = inputs.delegation is not None and inputs.delegation.keys is not None
                if not given and self.approval_keys is None:
                    raise _oss_prod_key("delegation", "--delegation-public-key", "")

            delegated = delegation_tokens.enforce(
                outcome,
                prepared,
                policy.digest,
                inputs and inputs.delegation,
                now,
                self._verify_keys(),
            )
            if delegated.ref:  # the trace's delegation_ref names the valid tokens
                outcome.extra_fields["delegation_ref"] = delegated.ref
        entries: list[dict[str, Any]] = []
        required = 0
        token_ids: list[str] = []
        if outcome.verdict == "require_approval" and approvals:
            if inputs is not None and inputs.explicit_verify_keys and self.approval_keys is None:
                raise _oss_prod_key("approval", "--approval-public-key", "approval ")
            required = max(decision.min_approvals, 1)
            entries, token_ids = self._apply_approvals(
                outcome, decision, prepared, approval_tokens, now, required, simulate
            )
        outcome.required_approvals = required
        brokered = None
        if (
            decision.more is not None
            and decision.require_broker_credential
            and outcome.verdict == "allow"
        ):
            from gait.gate import broker

            settings = inputs.broker if inputs is not None else None
            brokered = broker.enforce(outcome, prepared, policy, settings, now)
        if simulate:
            outcome.simulate = True
            outcome.simulated_verdict = outcome.verdict
            outcome.simulated_reason_codes = list(outcome.reason_codes)
            outcome.reason_codes = _merge(outcome.reason_codes, "simulate_mode_non_enforcing")
            if outcome.verdict in ("block", "require_approval"):
                outcome.reason_codes = _merge(outcome.reason_codes, f"simulated_{outcome.verdict}")
                outcome.verdict = "allow"
                outcome.violations = []
        trace_id = self._write_trace(
            outcome,
            prepared.doc,
            _ArgsDigest(prepared),  # hashed where the trace is built (off the SDK's path)
            correlation_id,
            started,
            trace_out,
            decision.step_verdicts,
            prepared.doc.get("script_hash", ""),
            decision.matched_rules,
        )
        if required or entries:
            audit = approval_audit(
                created_at=outcome.created_at,
                producer_version=self.producer_version,
                trace_id=trace_id,
                tool_name=prepared.tool_name,
                intent_digest=outcome.intent_digest,
                policy_digest=policy.digest,
                required=required,
                entries=entries,
            )
            path = Path(audit_out) if audit_out else self._audit_default(trace_id, trace_out)
            if path is not None:
                write_json(path, audit)
                outcome.approval_audit_path = str(path)
            outcome.valid_approvals = audit["valid_approvals"]
        if brokered is not None:
            self._credential_evidence(outcome, brokered, prepared, trace_id, trace_out, inputs)
        if delegated is not None:
            self._delegation_audit(
                outcome,
                delegated,
                prepared,
                trace_id,
                trace_out,
                inputs.delegation if inputs else None,
            )
        return outcome

    def _credential_evidence(
        self,
        outcome: GateOutcome,
        brokered: Any,
        intent: NormalizedIntent,
        trace_id: str,
        trace_out: str | Path | None,
        inputs: Any,
    ) -> None:
        from gait.gate.broker import record

        receipt, request = brokered
        doc = record(
            created_at=outcome.created_at,
            producer_version=self.producer_version,
            trace_id=trace_id,
            tool_name=intent.tool_name,
            identity=intent.identity,
            receipt=receipt,
            request=request,
        )
        out = inputs.broker.evidence_out if inputs is not None and inputs.broker else None
        directory = Path(trace_out).parent if trace_out else self.trace_dir
        path = _evidence_path(out, directory, f"credential_evidence_{trace_id}.json")
        if path is not None:
            write_json(path, doc)
            outcome.extra_fields["credential_evidence_path"] = str(path)
        outcome.extra_fields.update(
            credential_issuer=doc.get("credential_issuer", ""),
            credential_source=receipt.source,
            credential_access_type=receipt.access_type,
            credential_ref=receipt.credential_ref,
            credential_ttl_seconds=receipt.ttl_seconds,
        )

    def _delegation_audit(
        self,
        outcome: GateOutcome,
        delegated: Any,
        intent: NormalizedIntent,
        trace_id: str,
        trace_out: str | Path | None,
        evidence: Any,
    ) -> None:
        from gait.gate.delegation_tokens import audit_record

        record = audit_record(
            created_at=outcome.created_at,
            producer_version=self.producer_version,
            trace_id=trace_id,
            tool_name=intent.tool_name,
            intent_digest=outcome.intent_digest,
            policy_digest=self.policy.digest,
            required=delegated.required,
            delegation_ref=delegated.ref,
            entries=delegated.entries,
        )
        out = getattr(evidence, "audit_out", None)
        directory = Path(trace_out).parent if trace_out else self.trace_dir
        # without audit_out, trace_out or trace_dir this raised TypeError (None / str)
        path = _evidence_path(out, directory, f"delegation_audit_{trace_id}.json")
        if path is not None:
            write_json(path, record)
            outcome.extra_fields["delegation_audit_path"] = str(path)
        outcome.extra_fields["delegation_ref"] = delegated.ref
        outcome.extra_fields["valid_delegations"] = record["valid_delegations"]

    def _audit_default(self, trace_id: str, trace_out: str | Path | None) -> Path | None:
        """Beside the trace, named by trace id as the reference names it."""
        directory = Path(trace_out).parent if trace_out else self.trace_dir
        if directory is None:
            return None
        return directory / f"approval_audit_{trace_id}.json"

    def _apply_rate_limits(
        self,
        outcome: GateOutcome,
        decision: Decision,
        intent: NormalizedIntent,
        now: str,
        simulate: bool,
    ) -> None:
        for _, limit in decision.rate_limits:
            rate = self._consume(limit, intent.tool_name, intent.identity, now, simulate)
            outcome.rate = rate
            if not rate.allowed:
                outcome.verdict = "block"
                outcome.reason_codes = _merge(outcome.reason_codes, "rate_limit_exceeded")
                outcome.violations = _merge(outcome.violations, "rate_limit_exceeded")
        if intent.destructive:
            for _, limit in decision.destructive_budgets:
                rate = self._consume(
                    limit, "destructive_budget|" + intent.tool_name, intent.identity, now, simulate
                )
                outcome.budget = rate
                if not rate.allowed:
                    outcome.verdict = "block"
                    outcome.reason_codes = _merge(
                        outcome.reason_codes, "destructive_budget_exceeded"
                    )
                    outcome.violations = _merge(outcome.violations, "destructive_budget_exceeded")

    def _consume(
        self, limit: Any, tool: str, identity: str, now: str, simulate: bool
    ) -> RateDecision:
        from gait.gate.state import RateDecision

        scope_key = {"tool": tool, "identity": identity}.get(limit.scope, f"{tool}|{identity}")
        bucket = _bucket(limit.window, now)
        key = f"{limit.window}|{limit.scope}|{scope_key}"
        if simulate:
            used = self.state.peek(key, bucket)
            allowed = used < limit.requests
        else:
            allowed, used = self.state.consume(key, bucket, limit.requests)
        return RateDecision(
            allowed, limit.requests, used, max(limit.requests - used, 0), limit.scope, scope_key
        )

    def _verify_keys(self) -> list[VerifyKey]:
        """Keys that may approve here: see ``keyring.approval_verify_keys`` (FORMATS 6.1)."""
        from gait.sign.keyring import approval_verify_keys

        own = self.signing_key.public() if self.signing_key is not None else None
        try:
            return approval_verify_keys(self.mode, own, self.approval_keys)
        except GaitError:
            # dev mode with an unreadable trust store: the given keys or the gate's own only
            if self.approval_keys is not None:
                return list(self.approval_keys)
            return [own] if own is not None else []

    def _apply_approvals(
        self,
        outcome: GateOutcome,
        decision: Decision,
        intent: NormalizedIntent,
        approval_tokens: Sequence[Any],
        now: str,
        required: int,
        simulate: bool,
    ) -> tuple[list[dict[str, Any]], list[str]]:
        if not approval_tokens:
            outcome.reason_codes = _merge(outcome.reason_codes, "approval_token_missing")
            outcome.violations = _merge(outcome.violations, "approval_not_granted")
            return [], []
        from gait.gate import approval as tokens

        keys = self._verify_keys()
        expect = tokens.Expectation(
            intent_digest=intent.digest,
            policy_digest=self.policy.digest,
            scope=tokens.required_scope(intent.tool_name, intent.phase, intent.destructive),
            target_count=len(intent.targets),
            op_count=len(intent.script["steps"]) if intent.script else max(len(intent.targets), 1),
            now=now,
            binding=delegation_binding(intent),
        )
        entries: list[dict[str, Any]] = []
        valid: list[tuple[tokens.Token, dict[str, Any]]] = []
        failures: list[str] = []
        for raw in approval_tokens:
            entry: dict[str, Any] = {"valid": False}
            try:
                token = tokens.read_token(raw)
                entry = {
                    "token_id": token.token_id,
                    "approver_identity": token.approver,
                    "reason_code": token.reason_code,
                    "scope": token.scope,
                    "expires_at": token.expires_at,
                    "valid": False,
                }
                tokens.check_token(token, keys, expect)
            except tokens.TokenError as exc:
                entry["error_code"] = exc.reason_code
                failures.append(exc.reason_code)
                entries.append(entry)
                continue
            entry["valid"] = True
            entries.append(entry)
            valid.append((token, entry))
        granted = self._enough(valid, required, decision)
        if granted and not simulate:
            spent = set(
                self.state.redeem(
                    [t.token_id for t, _ in valid],
                    needed=required,
                    used_at=now,
                    decision_ref=f"{self.policy.digest}:{intent.digest}",
                )
            )
            if spent:
                for token, entry in valid:
                    if token.token_id in spent:
                        entry["valid"] = False
                        entry["error_code"] = tokens.CODE_REPLAYED
                        failures.append(tokens.CODE_REPLAYED)
                valid = [(t, e) for t, e in valid if t.token_id not in spent]
                granted = self._enough(valid, required, decision)
        outcome.reason_codes = _merge(outcome.reason_codes, *failures)
        if failures:
            outcome.approval_error_code = tokens.E_CODES.get(failures[0], "E_APPROVAL_INVALID")
        if len(valid) < required:
            outcome.reason_codes = _merge(outcome.reason_codes, "approval_chain_insufficient")
            outcome.violations = _merge(outcome.violations, "approval_not_granted")
        approvers = {t.approver for t, _ in valid}
        if decision.require_distinct_approvers and required > 1 and len(approvers) < required:
            outcome.reason_codes = _merge(
                outcome.reason_codes, "approval_distinct_approvers_required"
            )
            outcome.violations = _merge(outcome.violations, "approval_not_granted")
        if granted:
            outcome.verdict = "allow"
            outcome.reason_codes = _merge(outcome.reason_codes, "approval_granted")
            outcome.approval_ref = ",".join(sorted({t.token_id for t, _ in valid}))
            outcome.approval_error_code = ""
        return entries, [t.token_id for t, _ in valid]

    @staticmethod
    def _enough(
        valid: list[tuple[tokens.Token, dict[str, Any]]], required: int, decision: Decision
    ) -> bool:
        if len(valid) < required:
            return False
        if decision.require_distinct_approvers and required > 1:
            return len({t.approver for t, _ in valid}) >= required
        return True

    def _write_trace(
        self,
        outcome: GateOutcome,
        doc: dict[str, Any],
        args_digest: str | _ArgsDigest,
        correlation_id: str,
        started: float,
        trace_out: str | Path | None,
        step_verdicts: list[dict[str, Any]],
        script_hash: str,
        matched_rules: Sequence[str] = (),
        *,
        sync: bool | None = None,
    ) -> str:
        """Build, sign and record the trace; ``sync`` (default ``trace_sync``) False leaves its
        files unsynced for a caller that syncs them in batches (the SDK's trace writer)."""
        assert self.signing_key is not None
        data = TraceInput(
            intent_doc=doc,
            intent_digest=outcome.intent_digest,
            args_digest=args_digest if isinstance(args_digest, str) else args_digest.value(),
            policy_digest=self.policy.digest,
            policy_id=self.policy.schema_id,
            policy_version=self.policy.schema_version,
            verdict=outcome.verdict,
            violations=outcome.violations,
            created_at=outcome.created_at,
            producer_version=self.producer_version,
            correlation_id=correlation_id,
            latency_ms=(time.perf_counter() - started) * 1000,
            approval_token_ref=outcome.approval_ref,
            step_verdicts=step_verdicts,
            script_hash=script_hash,
            step_count=len(step_verdicts),
            extra=_trace_extra(outcome, doc),
        )
        trace = build_trace(data, self.signing_key, now_observed())
        outcome.trace = trace
        directory = Path(trace_out).parent if trace_out else self.trace_dir
        if directory is not None:
            path = record_decision(
                directory=directory,
                trace=trace,
                trace_path=Path(trace_out) if trace_out else None,
                reason_codes=outcome.reason_codes,
                matched_rules=matched_rules,
                key=self.signing_key,
                sync=self.trace_sync if sync is None else sync,
            )
            outcome.trace_path = str(trace_out) if trace_out else str(path)
        trace_id_text: str = trace["trace_id"]
        return trace_id_text


class _ArgsDigest:
    """An intent's ``args_digest``, computed when the trace is built: a deferred trace (the
    in-process SDK's) hashes the arguments on the writer thread, not before the verdict."""

    __slots__ = ("intent",)

    def __init__(self, intent: NormalizedIntent) -> None:
        self.intent = intent

    def value(self) -> str:
        return self.intent.args_digest


def open_gate(
    policy_path: str | Path,
    *,
    mode: str,
    resolve_key: Callable[[], tuple[SigningKey, list[str]]],
    loader: Callable[[str | Path], Policy] | None = None,
    **options: Any,
) -> Gate:
    """Load the policy and the signing key and build a ``Gate``; how the CLI and the SDK open one.

    In production mode an unreadable policy or a missing signing key does not raise here: the
    gate then blocks every intent of a fail-closed risk class (``fail_closed_policy_invalid``,
    ``fail_closed_signing_key_missing``) and raises for the others. In dev mode both raise.
    """
    from gait.gate.policy import PolicyInvalid, load_policy, load_policy_text
    from gait.plain import replace

    policy_error: GaitError | None = None
    try:
        policy = (loader or load_policy)(policy_path)
    except PolicyInvalid as exc:
        if mode != "prod":
            raise
        try:
            raw = Path(policy_path).read_bytes()
        except OSError:
            raw = b""
        stand_in = load_policy_text("default_verdict: block\n")
        policy = replace(stand_in, digest=sha256_hex(raw))
        policy_error = exc
    key_error: GaitError | None = None
    key: SigningKey | None = None
    warnings: list[str] = []
    try:
        key, warnings = resolve_key()
    except GaitError as exc:
        if not isinstance(exc, SigningKeyRequired):
            raise
        key_error = exc
    return Gate(
        policy,
        signing_key=key,
        mode=mode,
        warnings=warnings,
        policy_error=policy_error,
        key_error=key_error,
        **options,
    )
