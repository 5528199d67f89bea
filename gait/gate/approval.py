"""Approval tokens (FORMATS.md 6.1): mint, read, and check in the reference's order.

A token binds one approver's decision to one intent digest and one policy digest, for a scope
and until ``expires_at``. The signature covers the token re-read into its fixed fields (unknown
keys dropped, times re-printed), so a token signed by the reference verifies here and back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gait import timefmt
from gait.canon import digest, id24
from gait.errors import ApprovalRequired, InvalidInput
from gait.sign.keys import SigningKey, VerifyKey
from gait.sign.signature import check_signature, sign_digest

TOKEN_SCHEMA_ID = "gait.gate.approval_token"
SCHEMA_VERSION = "1.0.0"
FUTURE_SKEW_SECONDS = 60
MAX_TTL_NS = 100 * 366 * 86_400 * 1_000_000_000

CODE_INVALID = "approval_token_invalid"
CODE_SIGNATURE_MISSING = "approval_token_signature_missing"
CODE_SIGNATURE_INVALID = "approval_token_signature_invalid"
CODE_INTENT = "approval_token_intent_mismatch"
CODE_POLICY = "approval_token_policy_mismatch"
CODE_DELEGATION = "approval_token_delegation_binding_mismatch"
CODE_EXPIRED = "approval_token_expired"
CODE_NOT_YET_VALID = "approval_token_not_yet_valid"
CODE_SCOPE = "approval_token_scope_mismatch"
CODE_TARGETS = "approval_token_max_targets_exceeded"
CODE_OPS = "approval_token_max_ops_exceeded"
CODE_REPLAYED = "approval_token_replayed"

# PRD failure codes for the CLI's error_code, by token reason code.
E_CODES = {
    CODE_EXPIRED: "E_APPROVAL_EXPIRED",
    CODE_NOT_YET_VALID: "E_APPROVAL_NOT_YET_VALID",
    CODE_INVALID: "E_APPROVAL_INVALID",
    CODE_SIGNATURE_MISSING: "E_APPROVAL_SIGNATURE_MISSING",
    CODE_SIGNATURE_INVALID: "E_APPROVAL_SIGNATURE_INVALID",
    CODE_INTENT: "E_APPROVAL_INTENT_MISMATCH",
    CODE_POLICY: "E_APPROVAL_POLICY_MISMATCH",
    CODE_DELEGATION: "E_APPROVAL_DELEGATION_MISMATCH",
    CODE_SCOPE: "E_APPROVAL_SCOPE_MISMATCH",
    CODE_TARGETS: "E_APPROVAL_MAX_TARGETS_EXCEEDED",
    CODE_OPS: "E_APPROVAL_MAX_OPS_EXCEEDED",
    CODE_REPLAYED: "E_APPROVAL_REPLAYED",
}

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class TokenError(ApprovalRequired):
    """A token check failed. ``reason_code`` is the reference's reason (``approval_token_expired``,
    what gate results record); ``code`` is its stable E_* code (E_CODES), as on every GaitError."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message, code=E_CODES.get(reason_code, "E_APPROVAL_INVALID"))
        self.reason_code = reason_code


def parse_ttl(text: str) -> int:
    """A Go-style duration (``15m``, ``1h30m``, ``8760h``; also ``d``) in nanoseconds."""
    total = timefmt.parse_flag_duration(text)
    if total is None:
        raise InvalidInput(f"--ttl {text!r} is not a duration like 15m or 1h", code="E_USAGE")
    if total > MAX_TTL_NS:
        raise InvalidInput(f"--ttl {text[:40]!r} is longer than 100 years", code="E_USAGE")
    if total <= 0:
        raise InvalidInput("--ttl must be greater than 0", code="E_USAGE")
    return total


def _ns_of(text: str) -> int:
    moment, nanos = timefmt.parse(text)
    return int(moment.timestamp()) * 1_000_000_000 + nanos


def _time_of_ns(total: int) -> str:
    from datetime import UTC, datetime

    seconds, nanos = divmod(total, 1_000_000_000)
    return timefmt.format_utc(datetime.fromtimestamp(seconds, UTC), nanos)


def _scope_list(values: Sequence[Any]) -> list[str]:
    return sorted({str(v).strip().lower() for v in values if str(v).strip()})


def token_id_for(
    intent_digest: str,
    policy_digest: str,
    approver: str,
    reason_code: str,
    scope: list[str],
    max_targets: int,
    max_ops: int,
    expires_at: str,
) -> str:
    return id24(
        f"{intent_digest}:{policy_digest}:{approver}:{reason_code}:{','.join(scope)}"
        f":{max_targets}:{max_ops}:{expires_at}"
    )


def mint_token(
    *,
    key: SigningKey,
    intent_digest: str,
    policy_digest: str,
    approver: str,
    reason_code: str,
    scope: Sequence[str],
    ttl_ns: int,
    now: str,
    producer_version: str,
    delegation_binding_digest: str = "",
    max_targets: int = 0,
    max_ops: int = 0,
) -> dict[str, Any]:
    """A signed approval token with exactly the fields of FORMATS 6.1."""
    intent_digest = intent_digest.strip().lower()
    policy_digest = policy_digest.strip().lower()
    binding = delegation_binding_digest.strip().lower()
    if not _HEX64.match(intent_digest):
        raise InvalidInput("intent digest must be 64 hex characters", code="E_USAGE")
    if not _HEX64.match(policy_digest):
        raise InvalidInput("policy digest must be 64 hex characters", code="E_USAGE")
    if binding and not _HEX64.match(binding):
        raise InvalidInput("delegation binding digest must be 64 hex characters", code="E_USAGE")
    approver = approver.strip()
    reason_code = reason_code.strip()
    if not approver:
        raise InvalidInput("--approver is required", code="E_USAGE")
    if not reason_code:
        raise InvalidInput("--reason-code is required", code="E_USAGE")
    scopes = _scope_list(scope)
    if not scopes:
        raise InvalidInput("--scope must include at least one value", code="E_USAGE")
    if max_targets < 0 or max_ops < 0:
        raise InvalidInput("--max-targets and --max-ops must be >= 0", code="E_USAGE")
    created_at, expires_at = token_window(now, ttl_ns)
    token_id = token_id_for(
        intent_digest,
        policy_digest,
        approver,
        reason_code,
        scopes,
        max_targets,
        max_ops,
        expires_at,
    )
    return signed_token(
        key,
        (TOKEN_SCHEMA_ID, SCHEMA_VERSION, created_at, producer_version, token_id),
        [
            ("approver_identity", approver),
            ("reason_code", reason_code),
            ("intent_digest", intent_digest),
            ("policy_digest", policy_digest),
            ("delegation_binding_digest", binding),
            ("scope", scopes),
            ("max_targets", max_targets),
            ("max_ops", max_ops),
        ],
        expires_at,
    )


def token_window(now: str, ttl_ns: int) -> tuple[str, str]:
    """(created_at, expires_at) of a token minted at ``now`` for ``ttl_ns``: approval and
    delegation tokens alike (E_USAGE for a ttl that is not positive or ends past 9999)."""
    if ttl_ns <= 0:
        raise InvalidInput("--ttl must be greater than 0", code="E_USAGE")
    created_at = timefmt.canonical(now)
    try:
        expires_at = _time_of_ns(_ns_of(created_at) + ttl_ns)
    except (OverflowError, ValueError, OSError):
        raise InvalidInput(
            f"expiry {created_at} + ttl is past the year 9999", code="E_USAGE"
        ) from None
    return created_at, expires_at


def signed_token(
    key: SigningKey,
    header: tuple[str, str, str, str, str],
    fields: Sequence[tuple[str, Any]],
    expires_at: str,
) -> dict[str, Any]:
    """A token as the reference writes it: ``header`` (schema id and version, created_at,
    producer_version, token_id), the ``fields`` that are set (empty ones are left out, as Go's
    omitempty does), ``expires_at``, and the signature over the canonical digest of all that."""
    schema_id, schema_version, created_at, producer_version, token_id = header
    token: dict[str, Any] = {
        "schema_id": schema_id,
        "schema_version": schema_version,
        "created_at": created_at,
        "producer_version": producer_version,
        "token_id": token_id,
    }
    token.update((name, value) for name, value in fields if value)
    token["expires_at"] = expires_at
    token["signature"] = sign_digest(key, digest(token))
    return token


@dataclass
class Token:
    """A token re-read into its fixed fields; ``signable`` is what its signature covers."""

    token_id: str
    approver: str
    reason_code: str
    intent_digest: str
    policy_digest: str
    binding: str
    scope: list[str]
    max_targets: int
    max_ops: int
    created_at: str
    expires_at: str
    signature: Any
    signable: dict[str, Any]
    raw_scope: list[str]


_STRING_FIELDS = (
    "schema_id",
    "schema_version",
    "producer_version",
    "token_id",
    "approver_identity",
    "reason_code",
    "intent_digest",
    "policy_digest",
    "delegation_binding_digest",
)


def read_token(raw: Any) -> Token:
    """Re-read a decoded token as the reference does; raises TokenError(invalid)."""
    if not isinstance(raw, Mapping):
        raise TokenError(CODE_INVALID, "token is not a JSON object")
    values: dict[str, Any] = {}
    for name in _STRING_FIELDS:
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            raise TokenError(CODE_INVALID, f"token {name} must be a string")
        values[name] = value or ""
    for name in ("max_targets", "max_ops"):
        value = raw.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise TokenError(CODE_INVALID, f"token {name} must be an integer")
        values[name] = value or 0
    scope = raw.get("scope")
    if scope is not None and (
        not isinstance(scope, list) or not all(isinstance(s, str) for s in scope)
    ):
        raise TokenError(CODE_INVALID, "token scope must be a list of strings")
    scope = list(scope or [])
    for text in [*(v for v in values.values() if isinstance(v, str)), *scope]:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no canonical JSON, so no signature
            raise TokenError(CODE_INVALID, "token holds text that is not valid Unicode") from None
    times = timefmt.token_times(raw, lambda message: TokenError(CODE_INVALID, f"token {message}"))
    signature = raw.get("signature")

    signable: dict[str, Any] = {
        "schema_id": values["schema_id"],
        "schema_version": values["schema_version"],
        "created_at": times["created_at"],
        "producer_version": values["producer_version"],
        "token_id": values["token_id"],
        "approver_identity": values["approver_identity"],
        "reason_code": values["reason_code"],
        "intent_digest": values["intent_digest"],
        "policy_digest": values["policy_digest"],
        "scope": scope,
        "expires_at": times["expires_at"],
    }
    # The reference verifies the token after normalising it: trimmed, lowercased digests,
    # scope lowercased, de-duplicated and sorted.
    schema_id = values["schema_id"] or TOKEN_SCHEMA_ID
    schema_version = values["schema_version"] or SCHEMA_VERSION
    if schema_id != TOKEN_SCHEMA_ID:
        raise TokenError(CODE_INVALID, f"unsupported schema_id: {schema_id}")
    if schema_version != SCHEMA_VERSION:
        raise TokenError(CODE_INVALID, f"unsupported schema_version: {schema_version}")
    token_id = values["token_id"].strip()
    approver = values["approver_identity"].strip()
    reason = values["reason_code"].strip()
    intent_digest = values["intent_digest"].strip().lower()
    policy_digest = values["policy_digest"].strip().lower()
    binding = values["delegation_binding_digest"].strip().lower()
    scopes = _scope_list(scope)
    for ok, message in (
        (token_id, "token_id is required"),
        (approver, "approver_identity is required"),
        (reason, "reason_code is required"),
        (_HEX64.match(intent_digest), "intent_digest must be sha256 hex"),
        (_HEX64.match(policy_digest), "policy_digest must be sha256 hex"),
        (not binding or _HEX64.match(binding), "delegation_binding_digest must be sha256 hex"),
        (scopes, "scope is required"),
        (values["max_targets"] >= 0, "max_targets must be >= 0"),
        (values["max_ops"] >= 0, "max_ops must be >= 0"),
        (times["created_at"] != timefmt.ZERO_TIME, "created_at is required"),
        (times["expires_at"] != timefmt.ZERO_TIME, "expires_at is required"),
    ):
        if not ok:
            raise TokenError(CODE_INVALID, message)
    signable.update(
        schema_id=schema_id,
        schema_version=schema_version,
        token_id=token_id,
        approver_identity=approver,
        reason_code=reason,
        intent_digest=intent_digest,
        policy_digest=policy_digest,
        scope=scopes,
    )
    if binding:
        signable["delegation_binding_digest"] = binding
    if values["max_targets"]:
        signable["max_targets"] = values["max_targets"]
    if values["max_ops"]:
        signable["max_ops"] = values["max_ops"]
    return Token(
        token_id=token_id,
        approver=approver,
        reason_code=reason,
        intent_digest=intent_digest,
        policy_digest=policy_digest,
        binding=binding,
        scope=scopes,
        max_targets=values["max_targets"],
        max_ops=values["max_ops"],
        created_at=times["created_at"],
        expires_at=times["expires_at"],
        signature=signature,
        signable=signable,
        raw_scope=scope,
    )


def required_scope(tool_name: str, phase: str, destructive: bool) -> list[str]:
    scope = [f"tool:{tool_name}"]
    if phase == "apply" and destructive:
        scope += ["phase:apply", "destructive:apply"]
    return sorted(set(scope))


@dataclass(frozen=True)
class Expectation:
    """What a token must match to approve this decision."""

    intent_digest: str
    policy_digest: str
    scope: list[str]
    target_count: int
    op_count: int
    now: str
    binding: str = ""


def check_token(token: Token, keys: Sequence[VerifyKey], expect: Expectation) -> None:
    """Run the checks of FORMATS 6.1 in order; raise TokenError with the first failure."""
    if token.signature is None:
        raise TokenError(CODE_SIGNATURE_MISSING, "signature missing")
    check = check_signature(token.signature, digest(token.signable), keys)
    if not check.ok:
        raise TokenError(CODE_SIGNATURE_INVALID, check.error or "signature verification failed")
    if token.intent_digest != expect.intent_digest:
        raise TokenError(CODE_INTENT, "intent digest mismatch")
    if token.policy_digest != expect.policy_digest:
        raise TokenError(CODE_POLICY, "policy digest mismatch")
    if expect.binding and token.binding != expect.binding:
        raise TokenError(CODE_DELEGATION, "delegation binding digest mismatch")
    now_ns = _ns_of(expect.now)
    if not now_ns < _ns_of(token.expires_at):
        raise TokenError(CODE_EXPIRED, f"token expired at {token.expires_at}")
    if _ns_of(token.created_at) > now_ns + FUTURE_SKEW_SECONDS * 1_000_000_000:
        raise TokenError(CODE_NOT_YET_VALID, f"token created in the future ({token.created_at})")
    if "*" not in token.scope and not set(expect.scope) <= set(token.scope):
        raise TokenError(CODE_SCOPE, f"scope {token.scope} lacks {expect.scope}")
    if token.max_targets and expect.target_count > token.max_targets:
        raise TokenError(CODE_TARGETS, "target count exceeds token max_targets")
    if token.max_ops and expect.op_count > token.max_ops:
        raise TokenError(CODE_OPS, "operation count exceeds token max_ops")
