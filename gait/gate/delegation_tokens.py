"""Delegation tokens (issue 15, item 2): mint, read, check one, and check a chain.

A token says one identity delegated to another, for a scope (``tool:<name>`` entries and an
optional ``scope_class``), until ``expires_at``, optionally bound to one intent and one policy
digest. Signed like approval tokens: the signature covers the token re-read into its fixed
fields (empty optional fields omitted), so the reference's tokens verify here and back.
When a matched rule sets ``require_delegation``, ``gait gate eval`` checks the intent's
delegation chain link by link against the tokens given; a chain without a valid token for
every link blocks (``delegation_chain_insufficient``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gait import timefmt
from gait.canon import digest
from gait.errors import InvalidInput, VerificationFailed
from gait.fsutil import read_input
from gait.sign.keys import SigningKey, VerifyKey
from gait.sign.signature import check_signature

TOKEN_SCHEMA_ID = "gait.gate.delegation_token"
AUDIT_SCHEMA_ID = "gait.gate.delegation_audit_record"
SCHEMA_VERSION = "1.0.0"

CODE_INVALID = "delegation_token_invalid"
CODE_SIGNATURE_MISSING = "delegation_token_signature_missing"
CODE_SIGNATURE_INVALID = "delegation_token_signature_invalid"
CODE_EXPIRED = "delegation_token_expired"
CODE_DELEGATOR = "delegation_token_delegator_mismatch"
CODE_DELEGATE = "delegation_token_delegate_mismatch"
CODE_SCOPE = "delegation_token_scope_mismatch"
CODE_INTENT = "delegation_token_intent_mismatch"
CODE_POLICY = "delegation_token_policy_mismatch"
CODE_CHAIN = "delegation_token_chain_mismatch"

# The stable E_* code `gait delegate verify` reports for each reason (gait/error_codes.py).
E_CODES = {
    CODE_INVALID: "E_DELEGATION_INVALID",
    CODE_SIGNATURE_MISSING: "E_DELEGATION_SIGNATURE_MISSING",
    CODE_SIGNATURE_INVALID: "E_DELEGATION_SIGNATURE_INVALID",
    CODE_EXPIRED: "E_DELEGATION_EXPIRED",
    CODE_DELEGATOR: "E_DELEGATION_DELEGATOR_MISMATCH",
    CODE_DELEGATE: "E_DELEGATION_DELEGATE_MISMATCH",
    CODE_SCOPE: "E_DELEGATION_SCOPE_MISMATCH",
    CODE_INTENT: "E_DELEGATION_INTENT_MISMATCH",
    CODE_POLICY: "E_DELEGATION_POLICY_MISMATCH",
    CODE_CHAIN: "E_DELEGATION_CHAIN_MISMATCH",
}

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class DelegationTokenError(VerificationFailed):
    """A delegation token check failed: ``reason_code`` is the reference's reason (what chain
    entries record), ``code`` its stable E_* code (E_CODES)."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message, code=E_CODES.get(reason_code, "E_DELEGATION_INVALID"))
        self.reason_code = reason_code


def _scopes(values: Sequence[Any]) -> list[str]:
    return sorted({str(v).strip().lower() for v in values if str(v).strip()})


def token_id_for(
    delegator: str,
    delegate: str,
    scope: list[str],
    scope_class: str,
    intent_digest: str,
    policy_digest: str,
    expires_at: str,
) -> str:
    text = ":".join(
        [delegator, delegate, ",".join(scope), scope_class, intent_digest, policy_digest]
        + [expires_at]
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def mint_token(
    *,
    key: SigningKey,
    delegator: str,
    delegate: str,
    scope: Sequence[str],
    ttl_ns: int,
    now: str,
    producer_version: str,
    scope_class: str = "",
    intent_digest: str = "",
    policy_digest: str = "",
) -> dict[str, Any]:
    """A signed delegation token with exactly the reference's fields."""
    from gait.gate.approval import signed_token, token_window

    delegator, delegate = delegator.strip(), delegate.strip()
    if not delegator or not delegate:
        raise InvalidInput("--delegator and --delegate are required", code="E_USAGE")
    scopes = _scopes(scope)
    if not scopes:
        raise InvalidInput("--scope must include at least one value", code="E_USAGE")
    intent_digest = intent_digest.strip().lower()
    policy_digest = policy_digest.strip().lower()
    for value, name in ((intent_digest, "intent"), (policy_digest, "policy")):
        if value and not _HEX64.match(value):
            raise InvalidInput(f"{name} digest must be sha256 hex when set", code="E_USAGE")
    created_at, expires_at = token_window(now, ttl_ns)
    scope_class = scope_class.strip().lower()
    token_id = token_id_for(
        delegator, delegate, scopes, scope_class, intent_digest, policy_digest, expires_at
    )
    return signed_token(
        key,
        (TOKEN_SCHEMA_ID, SCHEMA_VERSION, created_at, producer_version, token_id),
        [
            ("delegator_identity", delegator),
            ("delegate_identity", delegate),
            ("scope", scopes),
            ("scope_class", scope_class),
            ("intent_digest", intent_digest),
            ("policy_digest", policy_digest),
        ],
        expires_at,
    )


@dataclass
class Token:
    token_id: str
    delegator: str
    delegate: str
    scope: list[str]
    scope_class: str
    intent_digest: str
    policy_digest: str
    expires_at: str
    signature: Any
    signable: dict[str, Any]


def read_token(raw: Any) -> Token:
    """Re-read a decoded token as the reference normalises it; raises DelegationTokenError."""
    if not isinstance(raw, Mapping):
        raise DelegationTokenError(CODE_INVALID, "token is not a JSON object")
    values: dict[str, str] = {}
    for name in (
        "schema_id",
        "schema_version",
        "producer_version",
        "token_id",
        "delegator_identity",
        "delegate_identity",
        "scope_class",
        "intent_digest",
        "policy_digest",
    ):
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            raise DelegationTokenError(CODE_INVALID, f"token {name} must be a string")
        values[name] = (value or "").strip()
    scope = raw.get("scope")
    if scope is not None and (
        not isinstance(scope, list) or not all(isinstance(s, str) for s in scope)
    ):
        raise DelegationTokenError(CODE_INVALID, "token scope must be a list of strings")
    times = {}
    for name in ("created_at", "expires_at"):
        value = raw.get(name)
        try:
            times[name] = timefmt.canonical(value) if value is not None else timefmt.ZERO_TIME
        except InvalidInput as exc:
            raise DelegationTokenError(CODE_INVALID, f"token {name} is not a time") from exc
    schema_id = values["schema_id"] or TOKEN_SCHEMA_ID
    schema_version = values["schema_version"] or SCHEMA_VERSION
    scopes = _scopes(scope or [])
    scope_class = values["scope_class"].lower()
    intent_digest = values["intent_digest"].lower()
    policy_digest = values["policy_digest"].lower()
    for ok, message in (
        (schema_id == TOKEN_SCHEMA_ID, f"unsupported schema_id: {schema_id}"),
        (schema_version == SCHEMA_VERSION, f"unsupported schema_version: {schema_version}"),
        (values["token_id"], "token_id is required"),
        (
            values["delegator_identity"] and values["delegate_identity"],
            "delegator_identity and delegate_identity are required",
        ),
        (scopes, "scope is required"),
        (not intent_digest or _HEX64.match(intent_digest), "intent_digest must be sha256 hex"),
        (not policy_digest or _HEX64.match(policy_digest), "policy_digest must be sha256 hex"),
        (times["created_at"] != timefmt.ZERO_TIME, "created_at is required"),
        (times["expires_at"] != timefmt.ZERO_TIME, "expires_at is required"),
    ):
        if not ok:
            raise DelegationTokenError(CODE_INVALID, message)
    signable: dict[str, Any] = {
        "schema_id": schema_id,
        "schema_version": schema_version,
        "created_at": times["created_at"],
        "producer_version": raw.get("producer_version") or "",
        "token_id": values["token_id"],
        "delegator_identity": values["delegator_identity"],
        "delegate_identity": values["delegate_identity"],
        "scope": scopes,
    }
    for name, value in (
        ("scope_class", scope_class),
        ("intent_digest", intent_digest),
        ("policy_digest", policy_digest),
    ):
        if value:
            signable[name] = value
    signable["expires_at"] = times["expires_at"]
    return Token(
        token_id=values["token_id"],
        delegator=values["delegator_identity"],
        delegate=values["delegate_identity"],
        scope=scopes,
        scope_class=scope_class,
        intent_digest=intent_digest,
        policy_digest=policy_digest,
        expires_at=times["expires_at"],
        signature=raw.get("signature"),
        signable=signable,
    )


@dataclass(frozen=True)
class Expectation:
    now: str
    delegator: str = ""
    delegate: str = ""
    scope: tuple[str, ...] = ()
    intent_digest: str = ""
    policy_digest: str = ""


def check_token(token: Token, keys: Sequence[VerifyKey], expect: Expectation) -> None:
    """The reference's checks, in its order; raises DelegationTokenError on the first failure."""
    from gait.gate.approval import _ns_of

    if not keys:
        raise DelegationTokenError(CODE_SIGNATURE_INVALID, "verification public key is required")
    if token.signature is None:
        raise DelegationTokenError(CODE_SIGNATURE_MISSING, "signature missing")
    check = check_signature(token.signature, digest(token.signable), keys)
    if not check.ok:
        raise DelegationTokenError(CODE_SIGNATURE_INVALID, check.error or "signature invalid")
    if not _ns_of(expect.now) < _ns_of(token.expires_at):
        raise DelegationTokenError(CODE_EXPIRED, "token expired")
    if expect.delegator and token.delegator != expect.delegator:
        raise DelegationTokenError(CODE_DELEGATOR, "delegator mismatch")
    if expect.delegate and token.delegate != expect.delegate:
        raise DelegationTokenError(CODE_DELEGATE, "delegate mismatch")
    if expect.intent_digest and token.intent_digest and token.intent_digest != expect.intent_digest:
        raise DelegationTokenError(CODE_INTENT, "intent digest mismatch")
    if expect.policy_digest and token.policy_digest and token.policy_digest != expect.policy_digest:
        raise DelegationTokenError(CODE_POLICY, "policy digest mismatch")
    if expect.scope:
        have = set(token.scope) | ({token.scope_class} if token.scope_class else set())
        if "*" not in have and not have & set(expect.scope):
            raise DelegationTokenError(CODE_SCOPE, "scope mismatch")


@dataclass
class ChainResult:
    complete: bool
    required: int
    valid: int
    valid_token_ids: list[str]
    entries: list[dict[str, Any]] = field(default_factory=list)


def _entry(token: Token, valid: bool, code: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {
        "token_id": token.token_id,
        "delegator_identity": token.delegator,
        "delegate_identity": token.delegate,
        "scope": token.scope,
        "expires_at": token.expires_at,
        "valid": valid,
    }
    if code:
        out["error_code"] = code
    return out


def check_chain(
    delegation: dict[str, Any] | None,
    raw_tokens: Sequence[Any],
    keys: Sequence[VerifyKey],
    *,
    now: str,
    scope: Sequence[str] = (),
    intent_digest: str = "",
    policy_digest: str = "",
) -> ChainResult:
    """Match tokens to the intent's delegation links as the reference does.

    Each link takes the first unused token that checks for it; tokens left over are reported
    with the reason they fit no remaining link. An unreadable token is never valid.
    """
    if delegation is None:
        return ChainResult(False, 0, 0, [])
    links = delegation.get("chain") or [
        {
            "delegator_identity": "",
            "delegate_identity": delegation["requester_identity"],
            "scope_class": delegation.get("scope_class", ""),
        }
    ]
    tokens: list[Token | DelegationTokenError] = []
    for raw in raw_tokens:
        try:
            tokens.append(read_token(raw))
        except DelegationTokenError as exc:
            tokens.append(exc)
    used = [False] * len(tokens)
    matched = [False] * len(links)
    entries: list[dict[str, Any]] = []
    ids: list[str] = []

    def expectation(link: dict[str, Any]) -> Expectation:
        return Expectation(
            now=now,
            delegator=link.get("delegator_identity", "").strip(),
            delegate=link.get("delegate_identity", "").strip(),
            scope=tuple(_scopes(scope)),
            intent_digest=intent_digest,
            policy_digest=policy_digest,
        )

    for link_index, link in enumerate(links):
        expect = expectation(link)
        for index, token in enumerate(tokens):
            if used[index] or isinstance(token, DelegationTokenError):
                continue
            try:
                check_token(token, keys, expect)
            except DelegationTokenError:
                continue
            used[index] = matched[link_index] = True
            ids.append(token.token_id)
            entries.append(_entry(token, True))
            break
        else:
            entries.append(
                {
                    "delegator_identity": link.get("delegator_identity", "").strip(),
                    "delegate_identity": link.get("delegate_identity", "").strip(),
                    "valid": False,
                    "error_code": "delegation_token_missing",
                }
            )
    for index, token in enumerate(tokens):
        if used[index]:
            continue
        if isinstance(token, DelegationTokenError):
            entries.append({"valid": False, "error_code": token.reason_code})
            continue
        code = CODE_CHAIN
        for link_index, link in enumerate(links):
            if matched[link_index]:
                continue
            try:
                check_token(token, keys, expectation(link))
            except DelegationTokenError as exc:
                code = exc.reason_code
                break
            code = CODE_CHAIN
            break
        entries.append(_entry(token, False, code))
    valid = sum(1 for m in matched if m)
    return ChainResult(valid == len(links), len(links), valid, sorted(set(ids)), entries)


def audit_record(
    *,
    created_at: str,
    producer_version: str,
    trace_id: str,
    tool_name: str,
    intent_digest: str,
    policy_digest: str,
    required: bool,
    delegation_ref: str,
    entries: list[dict[str, Any]],
) -> dict[str, Any]:
    """The reference's ``gait.gate.delegation_audit_record``."""
    ordered = sorted(
        entries,
        key=lambda e: (
            e.get("delegator_identity", ""),
            e.get("delegate_identity", ""),
            e.get("token_id", ""),
        ),
    )
    valid = sum(1 for e in ordered if e["valid"])
    record: dict[str, Any] = {
        "schema_id": AUDIT_SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "created_at": created_at,
        "producer_version": producer_version,
        "trace_id": trace_id,
        "tool_name": tool_name,
        "intent_digest": intent_digest,
        "policy_digest": policy_digest,
        "delegation_required": required,
        "valid_delegations": valid,
        "delegated": valid > 0,
    }
    if delegation_ref:
        record["delegation_ref"] = delegation_ref
    record["entries"] = ordered
    return record


@dataclass
class DelegationEvidence:
    """What ``gait gate eval`` was given to prove a delegation: decoded tokens (None for an
    unreadable one), the keys that verify them (None: the gate's approval keys) and where to
    write the audit record."""

    tokens: list[Any] = field(default_factory=list)
    keys: list[VerifyKey] | None = None
    audit_out: str | None = None
    paths: list[str] = field(default_factory=list)  # read only when a rule needs them

    def all_tokens(self) -> list[Any]:
        from gait.canon import loads_strict

        out = list(self.tokens)
        for path in self.paths:
            data = read_input(path, "E_DELEGATION_TOKEN_READ", "delegation token")
            out.append(
                loads_strict(data, what=f"delegation token {path}", code="E_DELEGATION_TOKEN_READ")
            )
        return out


@dataclass
class DelegationOutcome:
    required: bool
    entries: list[dict[str, Any]]
    ref: str
    valid: int = 0
    audit_path: str = ""


def enforce(
    outcome: Any,
    intent: Any,
    policy_digest: str,
    evidence: DelegationEvidence | None,
    now: str,
    fallback_keys: Sequence[VerifyKey],
) -> DelegationOutcome:
    """Apply a ``require_delegation`` decision to ``outcome`` (verdict, reasons, violations)."""
    decision = outcome.decision
    tokens = evidence.all_tokens() if evidence is not None else []
    if not tokens:
        _block(outcome, "delegation_token_missing")
        return DelegationOutcome(True, [], "")
    keys = evidence.keys if evidence is not None and evidence.keys is not None else fallback_keys
    result = check_chain(
        intent.doc.get("delegation"),
        tokens,
        list(keys),
        now=now,
        scope=decision.delegation_scopes,
        intent_digest=intent.digest,
        policy_digest=policy_digest,
    )
    if not result.complete:
        codes = [e["error_code"] for e in result.entries if not e["valid"] and e.get("error_code")]
        _block(outcome, "delegation_chain_insufficient", *codes)
        return DelegationOutcome(True, result.entries, "", result.valid)
    outcome.reason_codes = sorted(set(outcome.reason_codes) | {"delegation_granted"})
    return DelegationOutcome(True, result.entries, ",".join(result.valid_token_ids), result.valid)


def _block(outcome: Any, *reasons: str) -> None:
    outcome.verdict = "block"
    outcome.reason_codes = sorted(set(outcome.reason_codes) | set(reasons))
    outcome.violations = sorted(set(outcome.violations) | {"delegation_not_granted"})
