"""The reference Python SDK's data model: intents, gate results, traces, captures.

The same class names, fields, defaults and ``to_dict``/``from_dict`` shapes as the reference
SDK, so code written against it constructs and reads these unchanged. Optional fields are left
out of ``to_dict`` when empty, as there, so the JSON an intent becomes is the same document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _isoformat(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_datetime(value: str) -> datetime:
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    return datetime.fromisoformat(text).astimezone(UTC)


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` only when ``value`` is truthy: the reference omits empty optional fields."""
    if value:
        out[key] = value


def _strings(values: Any) -> list[str]:
    return [str(value) for value in values or []]


@dataclass(slots=True, frozen=True)
class IntentTarget:
    kind: str
    value: str
    operation: str | None = None
    sensitivity: str | None = None

    def to_dict(self) -> dict[str, str]:
        out: dict[str, str] = {"kind": self.kind, "value": self.value}
        if self.operation:
            out["operation"] = self.operation
        if self.sensitivity:
            out["sensitivity"] = self.sensitivity
        return out

    @classmethod
    def _from(cls, raw: dict[str, Any]) -> IntentTarget:
        return cls(
            kind=str(raw["kind"]),
            value=str(raw["value"]),
            operation=raw.get("operation"),
            sensitivity=raw.get("sensitivity"),
        )


@dataclass(slots=True, frozen=True)
class IntentArgProvenance:
    arg_path: str
    source: str
    source_ref: str | None = None
    integrity_digest: str | None = None

    def to_dict(self) -> dict[str, str]:
        out: dict[str, str] = {"arg_path": self.arg_path, "source": self.source}
        if self.source_ref:
            out["source_ref"] = self.source_ref
        if self.integrity_digest:
            out["integrity_digest"] = self.integrity_digest
        return out

    @classmethod
    def _from(cls, raw: dict[str, Any]) -> IntentArgProvenance:
        return cls(
            arg_path=str(raw["arg_path"]),
            source=str(raw["source"]),
            source_ref=raw.get("source_ref"),
            integrity_digest=raw.get("integrity_digest"),
        )


@dataclass(slots=True, frozen=True)
class IntentContext:
    identity: str
    workspace: str
    risk_class: str
    session_id: str | None = None
    request_id: str | None = None
    auth_context: dict[str, Any] | None = None
    credential_scopes: list[str] = field(default_factory=list)
    environment_fingerprint: str | None = None
    context_set_digest: str | None = None
    context_evidence_mode: str | None = None
    context_refs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "identity": self.identity,
            "workspace": self.workspace,
            "risk_class": self.risk_class,
        }
        # _put's rule spelled out (this runs on every gated call): truthy fields only.
        if self.session_id:
            out["session_id"] = self.session_id
        if self.request_id:
            out["request_id"] = self.request_id
        if self.auth_context:
            out["auth_context"] = dict(self.auth_context)
        if self.credential_scopes:
            out["credential_scopes"] = list(self.credential_scopes)
        if self.environment_fingerprint:
            out["environment_fingerprint"] = self.environment_fingerprint
        if self.context_set_digest:
            out["context_set_digest"] = self.context_set_digest
        if self.context_evidence_mode:
            out["context_evidence_mode"] = self.context_evidence_mode
        if self.context_refs:
            out["context_refs"] = list(self.context_refs)
        return out

    @classmethod
    def _from(cls, raw: dict[str, Any]) -> IntentContext:
        return cls(
            identity=str(raw["identity"]),
            workspace=str(raw["workspace"]),
            risk_class=str(raw["risk_class"]),
            session_id=raw.get("session_id"),
            request_id=raw.get("request_id"),
            auth_context=raw.get("auth_context"),
            credential_scopes=_strings(raw.get("credential_scopes")),
            environment_fingerprint=raw.get("environment_fingerprint"),
            context_set_digest=raw.get("context_set_digest"),
            context_evidence_mode=raw.get("context_evidence_mode"),
            context_refs=_strings(raw.get("context_refs")),
        )


@dataclass(slots=True, frozen=True)
class DelegationLink:
    delegator_identity: str
    delegate_identity: str
    scope_class: str | None = None
    token_ref: str | None = None

    def to_dict(self) -> dict[str, str]:
        out: dict[str, str] = {
            "delegator_identity": self.delegator_identity,
            "delegate_identity": self.delegate_identity,
        }
        _put(out, "scope_class", self.scope_class)
        _put(out, "token_ref", self.token_ref)
        return out

    @classmethod
    def _from(cls, raw: dict[str, Any]) -> DelegationLink:
        return cls(
            delegator_identity=str(raw["delegator_identity"]),
            delegate_identity=str(raw["delegate_identity"]),
            scope_class=raw.get("scope_class"),
            token_ref=raw.get("token_ref"),
        )


@dataclass(slots=True, frozen=True)
class IntentDelegation:
    requester_identity: str
    scope_class: str | None = None
    token_refs: list[str] = field(default_factory=list)
    chain: list[DelegationLink] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"requester_identity": self.requester_identity}
        _put(out, "scope_class", self.scope_class)
        _put(out, "token_refs", list(self.token_refs))
        _put(out, "chain", [link.to_dict() for link in self.chain])
        return out

    @classmethod
    def _from(cls, raw: dict[str, Any]) -> IntentDelegation:
        return cls(
            requester_identity=str(raw["requester_identity"]),
            scope_class=raw.get("scope_class"),
            token_refs=_strings(raw.get("token_refs")),
            chain=[DelegationLink._from(link) for link in raw.get("chain", [])],
        )


@dataclass(slots=True, frozen=True)
class IntentScriptStep:
    tool_name: str
    args: dict[str, Any]
    targets: list[IntentTarget] = field(default_factory=list)
    arg_provenance: list[IntentArgProvenance] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tool_name": self.tool_name, "args": self.args}
        _put(out, "targets", [target.to_dict() for target in self.targets])
        _put(out, "arg_provenance", [entry.to_dict() for entry in self.arg_provenance])
        return out

    @classmethod
    def _from(cls, raw: dict[str, Any]) -> IntentScriptStep:
        return cls(
            tool_name=str(raw["tool_name"]),
            args=dict(raw.get("args", {})),
            targets=[IntentTarget._from(t) for t in raw.get("targets", [])],
            arg_provenance=[IntentArgProvenance._from(p) for p in raw.get("arg_provenance", [])],
        )


@dataclass(slots=True, frozen=True)
class IntentScript:
    steps: list[IntentScriptStep]

    def to_dict(self) -> dict[str, Any]:
        return {"steps": [step.to_dict() for step in self.steps]}

    @classmethod
    def _from(cls, raw: dict[str, Any]) -> IntentScript:
        return cls(steps=[IntentScriptStep._from(step) for step in raw.get("steps", [])])


@dataclass(slots=True)
class IntentRequest:
    tool_name: str
    args: dict[str, Any]
    context: IntentContext
    targets: list[IntentTarget] = field(default_factory=list)
    arg_provenance: list[IntentArgProvenance] = field(default_factory=list)
    delegation: IntentDelegation | None = None
    script: IntentScript | None = None
    created_at: datetime = field(default_factory=_utc_now)
    producer_version: str = "0.0.0-dev"
    schema_id: str = "gait.gate.intent_request"
    schema_version: str = "1.0.0"
    args_digest: str | None = None
    intent_digest: str | None = None
    script_hash: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema_id": self.schema_id,
            "schema_version": self.schema_version,
            "created_at": _isoformat(self.created_at),
            "producer_version": self.producer_version,
            "tool_name": self.tool_name,
            "args": self.args,
            "targets": [target.to_dict() for target in self.targets],
            "context": self.context.to_dict(),
        }
        if self.arg_provenance:
            out["arg_provenance"] = [entry.to_dict() for entry in self.arg_provenance]
        if self.delegation is not None:
            out["delegation"] = self.delegation.to_dict()
        if self.script is not None:
            out["script"] = self.script.to_dict()
        if self.args_digest:
            out["args_digest"] = self.args_digest
        if self.intent_digest:
            out["intent_digest"] = self.intent_digest
        if self.script_hash:
            out["script_hash"] = self.script_hash
        return out

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> IntentRequest:
        delegation = payload.get("delegation")
        script = payload.get("script")
        return cls(
            schema_id=str(payload.get("schema_id", "gait.gate.intent_request")),
            schema_version=str(payload.get("schema_version", "1.0.0")),
            created_at=_parse_datetime(str(payload["created_at"])),
            producer_version=str(payload.get("producer_version", "0.0.0-dev")),
            tool_name=str(payload["tool_name"]),
            args=dict(payload.get("args", {})),
            args_digest=payload.get("args_digest"),
            intent_digest=payload.get("intent_digest"),
            script_hash=payload.get("script_hash"),
            targets=[IntentTarget._from(t) for t in payload.get("targets", [])],
            arg_provenance=[
                IntentArgProvenance._from(p) for p in payload.get("arg_provenance", [])
            ],
            context=IntentContext._from(payload["context"]),
            delegation=IntentDelegation._from(delegation) if isinstance(delegation, dict) else None,
            script=IntentScript._from(script) if isinstance(script, dict) else None,
        )


@dataclass(slots=True, frozen=True)
class GateEvalResult:
    ok: bool
    exit_code: int
    verdict: str | None = None
    reason_codes: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    approval_ref: str | None = None
    trace_id: str | None = None
    trace_path: str | None = None
    policy_digest: str | None = None
    intent_digest: str | None = None
    script: bool = False
    step_count: int = 0
    script_hash: str | None = None
    composite_risk_class: str | None = None
    pre_approved: bool = False
    pattern_id: str | None = None
    registry_reason: str | None = None
    step_verdicts: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    @classmethod
    def from_dict(cls, payload: dict[str, Any], exit_code: int) -> GateEvalResult:
        """From a ``gait gate eval --json`` document and the exit code it came with."""
        return cls(
            ok=bool(payload.get("ok", False)),
            exit_code=exit_code,
            verdict=payload.get("verdict"),
            reason_codes=_strings(payload.get("reason_codes")),
            violations=_strings(payload.get("violations")),
            approval_ref=payload.get("approval_ref"),
            trace_id=payload.get("trace_id"),
            trace_path=payload.get("trace_path"),
            policy_digest=payload.get("policy_digest"),
            intent_digest=payload.get("intent_digest"),
            script=bool(payload.get("script", False)),
            step_count=int(payload.get("step_count", 0)),
            script_hash=payload.get("script_hash"),
            composite_risk_class=payload.get("composite_risk_class"),
            pre_approved=bool(payload.get("pre_approved", False)),
            pattern_id=payload.get("pattern_id"),
            registry_reason=payload.get("registry_reason"),
            step_verdicts=[
                dict(step) for step in payload.get("step_verdicts", []) if isinstance(step, dict)
            ],
            warnings=_strings(payload.get("warnings")),
            error=payload.get("error"),
        )


@dataclass(slots=True, frozen=True)
class LangChainDecisionMetadata:
    tool_name: str
    tool_call_id: str | None
    run_id: str | None
    request_id: str | None
    auth_context: dict[str, Any] | None
    trace_path: str | None
    policy_digest: str | None
    intent_digest: str | None
    verdict: str | None
    executed: bool

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tool_name": self.tool_name, "executed": self.executed}
        for name in (
            "tool_call_id",
            "run_id",
            "request_id",
            "auth_context",
            "trace_path",
            "policy_digest",
            "intent_digest",
            "verdict",
        ):
            value = getattr(self, name)
            _put(out, name, dict(value) if isinstance(value, dict) else value)
        return out


@dataclass(slots=True, frozen=True)
class TraceRecord:
    schema_id: str
    schema_version: str
    created_at: datetime
    producer_version: str
    trace_id: str
    tool_name: str
    args_digest: str
    intent_digest: str
    policy_digest: str
    verdict: str
    raw: dict[str, Any]

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> TraceRecord:
        return cls(
            schema_id=str(payload["schema_id"]),
            schema_version=str(payload["schema_version"]),
            created_at=_parse_datetime(str(payload["created_at"])),
            producer_version=str(payload["producer_version"]),
            trace_id=str(payload["trace_id"]),
            tool_name=str(payload["tool_name"]),
            args_digest=str(payload["args_digest"]),
            intent_digest=str(payload["intent_digest"]),
            policy_digest=str(payload["policy_digest"]),
            verdict=str(payload["verdict"]),
            raw=dict(payload),
        )


@dataclass(slots=True, frozen=True)
class DemoCapture:
    run_id: str
    bundle_path: str
    ticket_footer: str
    verified: bool
    raw_output: str


@dataclass(slots=True, frozen=True)
class RegressInitResult:
    run_id: str
    fixture_name: str
    fixture_dir: str
    runpack_path: str
    config_path: str
    next_commands: list[str]

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> RegressInitResult:
        return cls(
            run_id=str(payload.get("run_id", "")),
            fixture_name=str(payload.get("fixture_name", "")),
            fixture_dir=str(payload.get("fixture_dir", "")),
            runpack_path=str(payload.get("runpack_path", "")),
            config_path=str(payload.get("config_path", "")),
            next_commands=_strings(payload.get("next_commands")),
        )

    @property
    def fixture_path(self) -> Path:
        return Path(self.fixture_dir)


@dataclass(slots=True, frozen=True)
class RunRecordCapture:
    run_id: str
    bundle_path: str
    manifest_digest: str
    ticket_footer: str
