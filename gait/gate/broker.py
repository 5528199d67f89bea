"""Credential brokers (issue 15, item 4): just-in-time credentials for brokered rules.

When a winning rule sets ``require_broker_credential`` and the verdict is ``allow``,
``gait gate eval --credential-broker stub|env`` asks the broker for a credential bound to the
request (tool, identity, workspace, session, reference, scope, target binding), checks the
broker's receipt against every matched rule (request digest, scope, TTL, JIT, standing access,
allowed sources/issuers/access types, bindings) and writes a
``gait.gate.broker_credential_record``. ``off`` (the default) blocks such an allow with
``broker_credential_required``; a broker that cannot issue blocks with
``broker_credential_missing``. The credential itself never leaves the broker: only a reference
(``stub:<hash>``, ``env:<hash>``) is recorded.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gait import timefmt
from gait.canon import digest
from gait.errors import InvalidInput

BROKERS = ("off", "stub", "env", "command")
DEFAULT_ENV_PREFIX = "GAIT_BROKER_TOKEN_"
RECORD_SCHEMA_ID = "gait.gate.broker_credential_record"
_STANDING = frozenset({"", "cloud_admin", "inherited", "standing", "static", "unknown"})


class CredentialUnavailable(Exception):
    pass


@dataclass(frozen=True)
class Request:
    tool_name: str
    identity: str
    workspace: str = ""
    session_id: str = ""
    request_id: str = ""
    run_id: str = ""
    job_id: str = ""
    reference: str = ""
    scope: tuple[str, ...] = ()
    target_binding: str = ""

    def digest(self) -> str:
        """H of the request as the reference hashes it (its Go field names)."""
        return digest(
            {
                "ToolName": self.tool_name,
                "Identity": self.identity,
                "Workspace": self.workspace,
                "SessionID": self.session_id,
                "RequestID": self.request_id,
                "RunID": self.run_id,
                "JobID": self.job_id,
                "Reference": self.reference,
                "Scope": list(self.scope),
                "TargetBinding": self.target_binding,
            }
        )


@dataclass
class Receipt:
    issued_by: str
    credential_ref: str
    source: str = ""
    access_type: str = ""
    issuer: str = ""
    subject: str = ""
    owner: str = ""
    scope: list[str] = field(default_factory=list)
    target_binding: str = ""
    run_binding: str = ""
    job_binding: str = ""
    request_digest: str = ""
    issued_at: str = ""
    expires_at: str = ""
    ttl_seconds: int = 0


def _scope(values: Any) -> tuple[str, ...]:
    return tuple(sorted({str(v).strip().lower() for v in values if str(v).strip()}))


class Broker:
    name = "off"

    def issue(self, request: Request, now: str) -> Receipt:  # pragma: no cover - interface
        raise NotImplementedError


class StubBroker(Broker):
    """A deterministic local broker for tests and demos (``stub:<hash>``, 5 minutes, JIT)."""

    name = "stub"

    def issue(self, request: Request, now: str) -> Receipt:
        raw = "|".join(
            [
                request.tool_name,
                request.identity,
                request.workspace,
                request.session_id,
                request.request_id,
                request.reference,
                ",".join(request.scope),
            ]
        )
        ref = "stub:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:24]
        return Receipt(
            issued_by="stub",
            credential_ref=ref,
            source="stub",
            access_type="jit",
            issuer="stub",
            subject=request.identity,
            owner=request.identity,
            scope=list(request.scope),
            target_binding=request.target_binding,
            run_binding=request.run_id,
            job_binding=request.job_id,
            issued_at=now,
            expires_at=_plus(now, 300),
            ttl_seconds=300,
        )


class EnvBroker(Broker):
    """A credential handed in through ``<prefix><REFERENCE>`` and its ``_*`` companions."""

    name = "env"

    def __init__(self, prefix: str = DEFAULT_ENV_PREFIX) -> None:
        self.prefix = prefix.strip() or DEFAULT_ENV_PREFIX

    def issue(self, request: Request, now: str) -> Receipt:
        key = self.prefix + _env_key(request.reference or request.tool_name)
        value = os.environ.get(key, "").strip()
        if not value:
            raise CredentialUnavailable(f"credential unavailable: {key}")

        def env(suffix: str) -> str:
            return os.environ.get(key + suffix, "").strip()

        def time_of(suffix: str) -> str:
            try:
                return timefmt.canonical(env(suffix)) if env(suffix) else ""
            except InvalidInput:
                return ""

        ttl = int(env("_TTL_SECONDS")) if env("_TTL_SECONDS").isdigit() else 0
        scope = _scope(env("_SCOPE").split(",")) if env("_SCOPE") else request.scope
        return Receipt(
            issued_by="env",
            credential_ref=f"env:{key}:" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:16],
            source=env("_SOURCE").lower() or "env",
            access_type=env("_ACCESS_TYPE").lower() or "unknown",
            issuer=env("_ISSUER") or "env",
            subject=env("_SUBJECT") or request.identity,
            owner=env("_OWNER") or request.identity,
            scope=list(scope),
            target_binding=env("_TARGET_BINDING") or request.target_binding,
            run_binding=env("_RUN_BINDING") or request.run_id,
            job_binding=env("_JOB_BINDING") or request.job_id,
            issued_at=time_of("_ISSUED_AT"),
            expires_at=time_of("_EXPIRES_AT"),
            ttl_seconds=ttl,
        )


def _env_key(name: str) -> str:
    """The reference's normalizeEnvKey: upper case, ``.``/``-`` and anything else outside
    ``A-Z0-9_`` become ``_``, trimmed; ``DEFAULT`` when nothing is left."""
    upper = name.strip().upper().replace(".", "_").replace("-", "_")
    return re.sub(r"[^A-Z0-9_]+", "_", upper).strip("_") or "DEFAULT"


def _plus(moment: str, seconds: int) -> str:
    from gait.gate.approval import _ns_of, _time_of_ns

    return _time_of_ns(_ns_of(moment) + seconds * 1_000_000_000)


def resolve(
    name: str, env_prefix: str = "", command: str = "", command_args: Sequence[str] = ()
) -> Broker | None:
    name = (name or "off").strip().lower()
    if name in ("", "off", "none"):
        return None
    if name == "stub":
        return StubBroker()
    if name == "env":
        return EnvBroker(env_prefix)
    if name == "command":
        from gait.gate.broker_command import CommandBroker, check_allowlist

        path = (command or "").strip()
        if not path:
            raise InvalidInput(
                "command broker requires --credential-command",
                code="E_CREDENTIAL_COMMAND",
                hint="pass --credential-command PATH (or gate.credential_command in "
                ".gait/config.yaml)",
            )
        check_allowlist(path)
        return CommandBroker(path, [a.strip() for a in command_args if a.strip()])
    raise InvalidInput(
        f"unsupported --credential-broker {name!r}; next: use off, stub, env or command",
        code="E_USAGE",
    )


def issue(broker: Broker, request: Request, now: str) -> Receipt:
    """Ask the broker, then complete the receipt as the reference does."""
    receipt = broker.issue(request, now)
    receipt.issued_by = receipt.issued_by.strip() or broker.name
    receipt.source = receipt.source.strip().lower() or broker.name
    receipt.access_type = receipt.access_type.strip().lower()
    receipt.scope = list(_scope(receipt.scope))
    if not receipt.credential_ref.strip():
        raise CredentialUnavailable("broker returned empty credential reference")
    receipt.request_digest = receipt.request_digest.strip().lower() or request.digest()
    if not receipt.issued_at and receipt.expires_at:
        receipt.issued_at = now
    if receipt.issued_at and receipt.expires_at and not receipt.ttl_seconds:
        from gait.gate.approval import _ns_of

        span = (_ns_of(receipt.expires_at) - _ns_of(receipt.issued_at)) // 1_000_000_000
        receipt.ttl_seconds = max(span, 0)
    if receipt.ttl_seconds > 0 and receipt.issued_at and not receipt.expires_at:
        receipt.expires_at = _plus(receipt.issued_at, receipt.ttl_seconds)
    return receipt


def check_receipt(
    rule: dict[str, Any], request: Request, receipt: Receipt, binding: dict[str, str]
) -> set[str]:
    """The reference's receipt checks against one matched rule's digest payload; the codes
    are both reasons and violations."""
    codes: set[str] = set()
    source, access, issuer = receipt.source, receipt.access_type, receipt.issuer.strip()
    if not receipt.request_digest:
        codes.add("broker_request_digest_missing")
    elif receipt.request_digest != request.digest():
        codes.add("broker_request_digest_mismatch")
    if request.scope and not set(request.scope) <= set(receipt.scope):
        codes.add("broker_scope_mismatch")
    max_ttl = rule.get("MaxCredentialTTLSeconds", 0)
    if max_ttl > 0 and (receipt.ttl_seconds <= 0 or receipt.ttl_seconds > max_ttl):
        codes.add("broker_ttl_exceeded")
    if rule.get("RequireJITCredential") and access != "jit":
        codes.add("credential_not_jit")
    if rule.get("BlockStandingCredentials") and access in _STANDING:
        codes.add("standing_credential_disallowed")
    for key, value, code in (
        ("AllowedCredentialSources", source, "credential_source_disallowed"),
        ("AllowedCredentialIssuers", issuer, "credential_issuer_disallowed"),
        ("AllowedCredentialAccessTypes", access, "credential_access_type_disallowed"),
    ):
        allowed = rule.get(key) or []
        if allowed and (not value or value not in allowed):
            codes.add(code)
    for name, got, code in (
        ("credential_ref", receipt.credential_ref, "broker_credential_ref_mismatch"),
        ("target_binding", receipt.target_binding, "broker_target_binding_mismatch"),
        ("run_binding", receipt.run_binding, "broker_run_binding_mismatch"),
        ("job_binding", receipt.job_binding, "broker_job_binding_mismatch"),
    ):
        if binding.get(name) and got.strip() != binding[name]:
            codes.add(code)
    return codes


@dataclass
class BrokerSettings:
    """``gait gate eval``'s broker flags."""

    broker: Broker | None = None
    credential_ref: str = ""
    scopes: tuple[str, ...] = ()
    evidence_out: str | None = None


def enforce(
    outcome: Any, intent: Any, policy: Any, settings: BrokerSettings | None, now: str
) -> tuple[Receipt, Request] | None:
    """Apply a winning rule's ``require_broker_credential`` to an ``allow``; returns the
    receipt and the request's reference when a credential was issued."""
    decision = outcome.decision

    def block(*codes: str, violation: str = "broker_credential_missing") -> None:
        outcome.verdict = "block"
        outcome.reason_codes = sorted(set(outcome.reason_codes) | set(codes))
        outcome.violations = sorted(set(outcome.violations) | {violation})

    if settings is None or settings.broker is None:
        block("broker_credential_required")
        return None
    broker = settings.broker
    ctx = intent.context
    reference = (settings.credential_ref or "").strip() or decision.broker_reference
    request = Request(
        tool_name=intent.tool_name,
        identity=intent.identity,
        workspace=intent.workspace,
        session_id=ctx.get("session_id", ""),
        request_id=ctx.get("request_id", ""),
        run_id=ctx.get("run_id", ""),
        job_id=ctx.get("job_id", ""),
        reference=reference,
        scope=_scope([*decision.broker_scopes, *settings.scopes]),
        target_binding=digest(intent.targets),
    )
    try:
        receipt = issue(broker, request, now)
    except CredentialUnavailable as exc:
        block("broker_credential_missing")
        if broker.name == "command":  # say why, or a failing broker command is a mystery
            outcome.warnings.append(f"credential broker: {exc}")
        return None
    binding = {
        "credential_ref": ctx.get("credential_ref", "").strip(),
        "target_binding": request.target_binding,
        "run_binding": ctx.get("run_id", "").strip(),
        "job_binding": ctx.get("job_id", "").strip(),
    }
    names = {n.strip() for n in outcome.matched_rule.split(",") if n.strip()}
    codes: set[str] = set()
    for rule in policy.normalized["Rules"]:
        if rule["Name"] in names:
            codes |= check_receipt(rule, request, receipt, binding)
    if codes:
        outcome.verdict = "block"
        outcome.reason_codes = sorted(set(outcome.reason_codes) | codes)
        outcome.violations = sorted(set(outcome.violations) | codes)
    else:
        outcome.reason_codes = sorted(set(outcome.reason_codes) | {"broker_credential_present"})
    return receipt, request


def record(
    *,
    created_at: str,
    producer_version: str,
    trace_id: str,
    tool_name: str,
    identity: str,
    receipt: Receipt,
    request: Request,
) -> dict[str, Any]:
    """``gait.gate.broker_credential_record`` (empty optional fields omitted)."""
    out: dict[str, Any] = {
        "schema_id": RECORD_SCHEMA_ID,
        "schema_version": "1.0.0",
        "created_at": created_at,
        "producer_version": producer_version,
        "trace_id": trace_id,
        "tool_name": tool_name,
        "identity": identity,
        "broker": receipt.issued_by,
    }
    optional = {
        "reference": request.reference,
        "credential_source": receipt.source,
        "credential_access_type": receipt.access_type,
        "credential_issuer": receipt.issuer or receipt.issued_by,
        "credential_subject": receipt.subject,
        "credential_owner": receipt.owner,
        "scope": list(request.scope),
    }
    out.update({k: v for k, v in optional.items() if v})
    out["credential_ref"] = receipt.credential_ref
    for key, value in (
        ("target_binding", receipt.target_binding),
        ("run_binding", receipt.run_binding),
        ("job_binding", receipt.job_binding),
        ("request_digest", receipt.request_digest),
        ("issued_at", receipt.issued_at),
        ("expires_at", receipt.expires_at),
        ("ttl_seconds", receipt.ttl_seconds),
    ):
        if value:
            out[key] = value
    return out
