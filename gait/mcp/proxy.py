"""One tool call through the gate, as ``gait mcp proxy`` and the decision service answer it.

The decision is the gate's (``Gate.decide``: rules, rate limits, fail-closed, the signed trace
and the decision log); this module adds what the boundary knows and the rules do not: the
caller's adapter shape, the MCP server's trust, the kill switch, and the reference's answer
document (run id, relationship, optional runpack and log/OTEL lines).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gait.errors import InvalidInput
from gait.gate.mcp_trust import MCPTrustPolicy, evaluate_server_trust
from gait.mcp.calls import ToolCall, decode, to_intent

PROFILES = ("standard", "oss-prod")
FALLBACK_WARNING = (
    "standard profile applied fallback intent context; use --profile oss-prod for strict "
    "context enforcement"
)
_RUN_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def normalize_run_id(raw: str) -> str:
    """The reference's run id clean-up: unsafe runs to ``_``, a ``run_`` prefix."""
    text = _RUN_ID_UNSAFE.sub("_", raw.strip()).strip("_")
    if not text:
        return ""
    return text if text.startswith("run_") else "run_" + text


@dataclass
class ProxyOptions:
    adapter: str = "mcp"
    profile: str = "standard"
    run_id: str = ""
    trace_out: str | None = None
    runpack_out: str | None = None
    pack_out: str | None = None
    log_out: str | None = None
    otel_out: str | None = None
    correlation_id: str = ""
    now: str | None = None
    approval_tokens: list[Any] = field(default_factory=list)
    # A verified context envelope (--context-envelope at the boundary); a call's own
    # context.context_envelope_path is read only when the server allows client artifact paths.
    context_envelope: dict[str, Any] | None = None
    allow_payload_envelope: bool = False
    # --job-root: a call naming context.job_id is blocked while that job is emergency-stopped
    # (or its state cannot be read); see gait/mcp/jobstop.py.
    job_root: str = "./gait-out/jobs"


@dataclass
class ProxyAnswer:
    """The reference's proxy output document and the exit code that goes with it."""

    payload: dict[str, Any]
    exit_code: int
    outcome: Any
    call: ToolCall


def trust_check(trust: MCPTrustPolicy | None, call: ToolCall) -> Callable[..., Any] | None:
    """The per-call boundary check for the calling server's trust, if the policy asks."""
    if trust is None:
        return None
    from gait.gate.engine import BoundaryFinding

    # The reference judges trust by the risk class the call declared, not the defaulted one.
    risk = call.context_str("risk_class").lower()

    def check(_intent: Any, now: str) -> BoundaryFinding:
        decision = evaluate_server_trust(trust, call.server, risk, now)
        assert decision is not None  # only built for a policy with an mcp_trust block
        return BoundaryFinding(
            field="mcp_trust",
            record=decision.record(),
            verdict=trust.action if decision.enforced else "",
            reason_codes=tuple(decision.reason_codes),
            violations=("mcp_trust_policy",) if decision.enforced else (),
        )

    return check


def job_stop_check(
    call: ToolCall, options: ProxyOptions
) -> tuple[Callable[..., Any] | None, list[str]]:
    """The boundary check for the call's job (if it names one) and the warnings it gave."""
    job_id = call.context_str("job_id")
    if not job_id:
        return None, []
    from gait.gate.engine import BoundaryFinding
    from gait.mcp import jobstop

    warnings: list[str] = []

    def check(_intent: Any, _now: str) -> BoundaryFinding | None:
        reason, notes = jobstop.check(
            options.job_root, job_id, actor="mcp-proxy", dispatch_path="mcp.proxy"
        )
        warnings.extend(notes)
        if not reason:
            return None
        return BoundaryFinding(
            field="emergency_stop",
            record={"job_id": job_id, "reason_code": reason},
            verdict="block",
            reason_codes=(reason,),
            violations=(jobstop.VIOLATION,),
            force=True,  # a dry-run rule does not dispatch a stopped job's call either
        )

    return check, warnings


def _call_envelope(call: ToolCall, options: ProxyOptions) -> dict[str, Any] | None:
    """The context envelope for ``call``: the boundary's, or (only where the server allows
    client artifact paths) the one the call names in ``context.context_envelope_path``."""
    named = call.context_str("context_envelope_path")
    if not named:
        return options.context_envelope
    if not options.allow_payload_envelope:
        raise InvalidInput(
            "call.context.context_envelope_path is not supported; use --context-envelope at "
            "the boundary",
            code="E_CONTEXT_ENVELOPE_INVALID",
            hint="gait mcp proxy --context-envelope envelope.json ...",
        )
    if options.context_envelope is not None:
        raise InvalidInput(
            "context envelope is already configured at the boundary; remove "
            "call.context.context_envelope_path",
            code="E_CONTEXT_ENVELOPE_INVALID",
        )
    from gait.contextproof import read_envelope

    return read_envelope(named)


def decide_call(
    gate: Any,
    call: ToolCall,
    trust: MCPTrustPolicy | None,
    options: ProxyOptions,
) -> ProxyAnswer:
    """Gate ``call`` and build the reference's answer for it."""
    started = time.perf_counter()
    if options.profile not in PROFILES:
        raise InvalidInput(
            f"unsupported profile {options.profile!r}",
            code="E_USAGE",
            hint="--profile standard|oss-prod",
        )
    strict = options.profile == "oss-prod"
    if strict and gate.mode != "prod":
        raise InvalidInput(
            "oss-prod profile requires --key-mode prod", code="E_USAGE", hint="add --key-mode prod"
        )
    envelope = _call_envelope(call, options)
    intent = to_intent(call, strict=strict)
    checks = [c for c in (trust_check(trust, call),) if c]
    stop, stop_warnings = job_stop_check(call, options)
    if stop is not None:
        checks.append(stop)
    inputs = None
    if envelope is not None:
        from gait.gate.gate_inputs import GateInputs

        inputs = GateInputs(context_envelope=envelope)
    outcome = gate.decide(
        intent,
        approval_tokens=options.approval_tokens,
        now=options.now,
        trace_out=options.trace_out,
        correlation_id=options.correlation_id,
        validate_schema=True,
        checks=checks,
        approvals=bool(options.approval_tokens),
        inputs=inputs,
    )
    warnings = list(outcome.warnings)
    if stop_warnings:  # the reference merges them with the key warnings, sorted
        warnings = sorted(set(warnings) | set(stop_warnings))
    if not strict and not all(call.context_str(k) for k in ("identity", "workspace", "session_id")):
        warnings.append(FALLBACK_WARNING)
    run_id = normalize_run_id(options.run_id) or normalize_run_id(call.context_str("run_id"))
    run_id = run_id or "run_mcp_" + outcome.intent_digest[:12]
    trace = outcome.trace or {}
    payload: dict[str, Any] = {
        "ok": True,
        "executed": False,
        "adapter": (options.adapter or "mcp").strip().lower(),
        "run_id": run_id,
        "phase": outcome.phase,
        "tool_name": trace.get("tool_name") or intent["tool_name"].strip().lower(),
        "verdict": outcome.verdict,
        "reason_codes": list(outcome.reason_codes),
        "violations": list(outcome.violations),
        "policy_digest": outcome.policy_digest,
        "policy_id": trace.get("policy_id", ""),
        "policy_version": trace.get("policy_version", ""),
        "matched_rule_ids": list(trace.get("matched_rule_ids") or []),
        "intent_digest": outcome.intent_digest,
        "trace_id": trace.get("trace_id", ""),
        "trace_path": outcome.trace_path,
        "job_id": call.context_str("job_id"),
        "session_id": call.context_str("session_id"),
        "warnings": warnings,
        "relationship": trace.get("relationship"),
    }
    if outcome.trace is None:
        payload["trace_error"] = outcome.trace_error
    for name in ("kill_switch", "mcp_trust"):
        if name in outcome.extra:
            payload[name] = outcome.extra[name]
    if options.runpack_out:
        payload["runpack_path"] = write_runpack(
            options.runpack_out, run_id, outcome, intent, gate.signing_key
        )
    if options.pack_out:
        payload["pack_path"], payload["pack_id"] = write_pack(
            options.pack_out, payload.get("runpack_path", ""), run_id, outcome, intent, gate
        )
    latency_ms = int((time.perf_counter() - started) * 1000)
    event = _export_event(run_id, outcome, payload, latency_ms)
    if options.log_out:
        _append_line(options.log_out, event)
        payload["log_export"] = options.log_out
    if options.otel_out:
        _append_line(options.otel_out, _otel_event(event))
        payload["otel_export"] = options.otel_out
    payload["decision_latency_ms"] = latency_ms
    clean = {k: v for k, v in payload.items() if v or k in ("ok", "executed")}
    return ProxyAnswer(clean, outcome.exit_code, outcome, call)


def decide_payload(
    gate: Any, trust: MCPTrustPolicy | None, payload: bytes | str, options: ProxyOptions
) -> ProxyAnswer:
    return decide_call(gate, decode(options.adapter, payload), trust, options)


def write_runpack(path: str, run_id: str, outcome: Any, intent: Mapping[str, Any], key: Any) -> str:
    """A one-call runpack of the decision: the call's args and the gate's answer as result."""
    from gait.runpack.recorder import Recorder

    created = outcome.created_at
    result = {
        "verdict": outcome.verdict,
        "reason_codes": list(outcome.reason_codes),
        "violations": list(outcome.violations),
        "trace_id": (outcome.trace or {}).get("trace_id", ""),
    }
    status = "error" if outcome.verdict in ("block", "require_approval") else "ok"
    target = Path(path)
    if not target.is_absolute() and ".." in target.parts:
        raise InvalidInput(
            "relative runpack output path must not traverse parent directories",
            code="E_USAGE",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    recorder = Recorder(
        run_id,
        out=target,
        created_at=created,
        clock=lambda: created,
        signing_key=key,
        sign=key is not None,
        env={},
    )
    intent_id = recorder.intent(intent["tool_name"], intent.get("args") or {})
    recorder.result(intent_id, result, status=status)
    recorder.close()
    return str(target)


def write_pack(
    out: str, runpack_path: str, run_id: str, outcome: Any, intent: Mapping[str, Any], gate: Any
) -> tuple[str, str]:
    """A PackSpec run pack of the decision (built from its runpack, as the reference builds it)."""
    from gait.fsutil import scratch
    from gait.pack.spec import build_run_pack

    with scratch("gait-mcp-pack") as tmp:
        source = runpack_path or write_runpack(
            str(Path(tmp) / "runpack.zip"), run_id, outcome, intent, gate.signing_key
        )
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        built = build_run_pack(Path(source), out=out, key=gate.signing_key)
    return str(built.path), str(built.manifest.get("pack_id", ""))


def _export_event(
    run_id: str, outcome: Any, payload: Mapping[str, Any], latency_ms: int
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "created_at": outcome.created_at,
        "producer_version": (outcome.trace or {}).get("producer_version", ""),
        "run_id": run_id,
        "session_id": payload.get("session_id", ""),
        "trace_id": payload.get("trace_id", ""),
        "trace_path": payload.get("trace_path", ""),
        "tool_name": payload.get("tool_name", ""),
        "verdict": outcome.verdict,
        "reason_codes": list(outcome.reason_codes),
        "policy_digest": outcome.policy_digest,
        "intent_digest": outcome.intent_digest,
        "decision_latency_ms": latency_ms,
    }
    keep = ("run_id", "trace_id", "tool_name", "verdict", "policy_digest", "intent_digest")
    return {k: v for k, v in event.items() if v or k in keep or k == "created_at"}


def _otel_event(event: Mapping[str, Any]) -> dict[str, Any]:
    from gait import timefmt

    moment, nanos = timefmt.parse(event["created_at"])
    unix_nanos = int(moment.timestamp()) * 1_000_000_000 + nanos
    return {
        "time_unix_nano": unix_nanos,
        "severity_text": "INFO",
        "body": "gait.mcp.proxy.decision",
        "trace_id": event.get("trace_id", ""),
        "attributes": {
            "gait.run_id": event.get("run_id", ""),
            "gait.session_id": event.get("session_id", ""),
            "gait.trace_path": event.get("trace_path", ""),
            "gait.tool_name": event.get("tool_name", ""),
            "gait.verdict": event.get("verdict", ""),
            "gait.policy_digest": event.get("policy_digest", ""),
            "gait.intent_digest": event.get("intent_digest", ""),
            "gait.decision_latency_ms": event.get("decision_latency_ms", 0),
            "gait.delegation_ref": "",
            "gait.delegation_depth": 0,
            "gait.reason_codes": event.get("reason_codes") or None,
        },
    }


def _append_line(path: str, record: Mapping[str, Any]) -> None:
    """One JSON line appended under an exclusive lock, owner-only mode (the reference's)."""
    from gait.fsutil import append_locked

    line = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode("utf-8")
    append_locked(path, line)
