"""Voice mode: gate a spoken commitment before it is said, and bind the "yes" to a SayToken.

A voice agent declares a commitment intent (``gait.voice.commitment_intent``: a quote, a
refund, a cancellation... at one turn of one call) before the text-to-speech engine says it.
The intent becomes an ordinary IntentRequest (tool ``voice.commitment.<class>``, one ``speak``
target) so the same policy decides it; an allow mints a short-lived signed SayToken
(``gait.voice.say_token``) bound to the intent digest, the policy digest and the call
coordinates, which the speech path checks before it speaks. The reference (Go) does the same
(core/gate/voice.go); a token minted by either verifies with the other, because the signature
covers the token's fields re-read as the reference re-reads them (unknown keys dropped,
digests lowercased, times re-printed) and signs their canonical digest, as approval tokens do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gait import timefmt
from gait.canon import digest, id24
from gait.errors import InvalidInput, VerificationFailed
from gait.sign.keys import SigningKey, VerifyKey
from gait.sign.signature import check_signature, sign_digest

INTENT_SCHEMA = ("gait.voice.commitment_intent", "1.0.0")
TOKEN_SCHEMA = ("gait.voice.say_token", "1.0.0")
COMMITMENT_CLASSES = ("refund", "quote", "eligibility", "schedule", "cancel", "account_change")

CODE_INVALID = "say_token_invalid"
CODE_SIGNATURE_MISSING = "say_token_signature_missing"
CODE_SIGNATURE_INVALID = "say_token_signature_invalid"
CODE_EXPIRED = "say_token_expired"
CODE_INTENT = "say_token_intent_mismatch"
CODE_POLICY = "say_token_policy_mismatch"
CODE_CALL = "say_token_call_binding_mismatch"
CODE_CLASS = "say_token_class_mismatch"

# The stable E_* code of each token reason code (the reason code stays in ``reason_code``).
E_CODES = {
    CODE_INVALID: "E_VOICE_TOKEN_INVALID",
    CODE_SIGNATURE_MISSING: "E_VOICE_TOKEN_SIGNATURE_MISSING",
    CODE_SIGNATURE_INVALID: "E_VOICE_TOKEN_SIGNATURE_INVALID",
    CODE_EXPIRED: "E_VOICE_TOKEN_EXPIRED",
    CODE_INTENT: "E_VOICE_TOKEN_INTENT_MISMATCH",
    CODE_POLICY: "E_VOICE_TOKEN_POLICY_MISMATCH",
    CODE_CALL: "E_VOICE_TOKEN_CALL_MISMATCH",
    CODE_CLASS: "E_VOICE_TOKEN_CLASS_MISMATCH",
}
INTENT_CODE = "E_VOICE_INTENT_INVALID"
READ_CODE = "E_VOICE_TOKEN_READ"

INTENT_HINT = "fix the gait.voice.commitment_intent file (docs: README 'Voice mode')"


class SayTokenError(VerificationFailed):
    """A SayToken check failed: ``reason_code`` is the reference's (``say_token_expired``),
    ``code`` its stable E_* code."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(f"{reason_code}: {message}", code=E_CODES[reason_code])
        self.reason_code = reason_code


def _hex64(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


# ---------------------------------------------------------------------------------------------
# Commitment intents


_CONTEXT_FIELDS = (
    "identity",
    "workspace",
    "risk_class",
    "session_id",
    "request_id",
    "environment_fingerprint",
)


def _intent_error(message: str) -> InvalidInput:
    return InvalidInput(f"commitment intent: {message}", code=INTENT_CODE, hint=INTENT_HINT)


def normalize_commitment_intent(raw: Any) -> dict[str, Any]:
    """A decoded commitment intent, re-read as the reference reads it (unknown keys ignored,
    wrong types refused) and normalised (trimmed, classes lowercased, currency uppercased,
    bounds checked, digests sorted); InvalidInput E_VOICE_INTENT_INVALID when it cannot be."""
    from gait.pack.callpack import _COMMITMENT, _decode, normalize_commitment

    if not isinstance(raw, Mapping):
        raise _intent_error("not a JSON object")
    known = {k: v for k, v in raw.items() if k in _COMMITMENT}
    context = known.get("context")
    if isinstance(context, Mapping):
        known["context"] = {k: v for k, v in context.items() if k in _CONTEXT_FIELDS}

    def fail(message: str) -> InvalidInput:
        return _intent_error(message.removeprefix("commitment ").removeprefix("intent "))

    decoded = _decode(known, _COMMITMENT, "intent", fail)
    return normalize_commitment(decoded, fail)


def intent_request(commitment: Mapping[str, Any]) -> dict[str, Any]:
    """The IntentRequest the policy decides for a normalised commitment intent: tool
    ``voice.commitment.<class>``, the call coordinates and bounds as args (zero bounds left
    out), one ``speak`` target of endpoint class ``ui.type``."""
    args: dict[str, Any] = {
        "call_id": commitment["call_id"],
        "turn_index": commitment["turn_index"],
        "call_seq": commitment["call_seq"],
        "commitment_class": commitment["commitment_class"],
    }
    for name in (
        "utterance_digest",
        "currency",
        "quote_min_cents",
        "quote_max_cents",
        "refund_ceiling_cents",
        "approval_required",
        "approval_artifact_refs",
        "evidence_reference_digests",
    ):
        if commitment.get(name):
            args[name] = commitment[name]
    context = {k: v for k, v in commitment["context"].items() if v}
    return {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": commitment["created_at"],
        "producer_version": commitment["producer_version"],
        "tool_name": "voice.commitment." + commitment["commitment_class"],
        "args": args,
        "targets": [
            {
                "kind": "other",
                "value": commitment["commitment_class"],
                "operation": "speak",
                "endpoint_class": "ui.type",
            }
        ],
        "context": context,
    }


# ---------------------------------------------------------------------------------------------
# SayTokens


def token_id_for(
    intent_digest: str,
    policy_digest: str,
    call_id: str,
    turn_index: int,
    call_seq: int,
    commitment_class: str,
    expires_at: str,
) -> str:
    return id24(
        f"{intent_digest}:{policy_digest}:{call_id}:{turn_index}:{call_seq}"
        f":{commitment_class}:{expires_at}"
    )


def _token_doc(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The token's fields in the reference's order, with its omit-when-empty rules: the
    currency and the three bounds are left out when empty or zero, the rest always written."""
    doc: dict[str, Any] = {}
    for name in (
        "schema_id",
        "schema_version",
        "created_at",
        "producer_version",
        "token_id",
        "commitment_class",
        "intent_digest",
        "policy_digest",
        "call_id",
        "turn_index",
        "call_seq",
    ):
        doc[name] = fields[name]
    for name in ("currency", "quote_min_cents", "quote_max_cents", "refund_ceiling_cents"):
        if fields.get(name):
            doc[name] = fields[name]
    doc["expires_at"] = fields["expires_at"]
    return doc


def mint_say_token(
    *,
    key: SigningKey,
    commitment: Mapping[str, Any],
    intent_digest: str,
    policy_digest: str,
    ttl_ns: int,
    now: str,
    producer_version: str,
) -> dict[str, Any]:
    """A signed SayToken for an allowed, normalised commitment intent."""
    from gait.gate.approval import token_window

    created_at, expires_at = token_window(now, ttl_ns)
    fields = {
        "schema_id": TOKEN_SCHEMA[0],
        "schema_version": TOKEN_SCHEMA[1],
        "created_at": created_at,
        "producer_version": producer_version.strip() or "0.0.0-dev",
        "token_id": token_id_for(
            intent_digest,
            policy_digest,
            commitment["call_id"],
            commitment["turn_index"],
            commitment["call_seq"],
            commitment["commitment_class"],
            expires_at,
        ),
        "commitment_class": commitment["commitment_class"],
        "intent_digest": intent_digest,
        "policy_digest": policy_digest,
        "call_id": commitment["call_id"],
        "turn_index": commitment["turn_index"],
        "call_seq": commitment["call_seq"],
        "currency": commitment.get("currency", ""),
        "quote_min_cents": commitment.get("quote_min_cents", 0),
        "quote_max_cents": commitment.get("quote_max_cents", 0),
        "refund_ceiling_cents": commitment.get("refund_ceiling_cents", 0),
        "expires_at": expires_at,
    }
    token = _token_doc(fields)
    token["signature"] = sign_digest(key, digest(token))
    return token


@dataclass(frozen=True)
class SayToken:
    """A token re-read as the reference re-reads it; ``signable`` is what its signature covers
    and ``fields`` the raw values its CLI reports (before normalisation)."""

    token_id: str
    commitment_class: str
    intent_digest: str
    policy_digest: str
    call_id: str
    turn_index: int
    call_seq: int
    expires_at: str
    signature: Any
    signable: dict[str, Any]


_STRINGS = (
    "schema_id",
    "schema_version",
    "producer_version",
    "token_id",
    "commitment_class",
    "intent_digest",
    "policy_digest",
    "call_id",
    "currency",
)
_INTS = ("turn_index", "call_seq", "quote_min_cents", "quote_max_cents", "refund_ceiling_cents")


def decode_token(raw: Any) -> dict[str, Any]:
    """The token's known fields with their zero values, as a Go decoder fills its struct;
    InvalidInput E_VOICE_TOKEN_READ for a value of the wrong type (the reference's
    ``parse say token`` error, exit 6)."""

    def bad(message: str) -> InvalidInput:
        return InvalidInput(
            f"parse say token: {message}",
            code=READ_CODE,
            hint="pass the say_token JSON written by gait voice token mint",
        )

    if not isinstance(raw, Mapping):
        raise bad("not a JSON object")
    out: dict[str, Any] = {}
    for name in _STRINGS:
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            raise bad(f"{name} must be a string")
        out[name] = value or ""
    for name in _INTS:
        value = raw.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise bad(f"{name} must be an integer")
        out[name] = value or 0
    out.update(timefmt.token_times(raw, bad))
    signature = raw.get("signature")
    if signature is not None and not isinstance(signature, Mapping):
        raise bad("signature must be an object")
    out["signature"] = signature
    return out


def read_token(fields: Mapping[str, Any]) -> SayToken:
    """Normalise decoded token fields as the reference does before it checks the signature;
    SayTokenError(say_token_invalid) when a field breaks the format."""
    out = dict(fields)
    out["schema_id"] = out["schema_id"] if out["schema_id"].strip() else TOKEN_SCHEMA[0]
    out["schema_version"] = (
        out["schema_version"] if out["schema_version"].strip() else TOKEN_SCHEMA[1]
    )
    for name in ("token_id", "call_id"):
        out[name] = out[name].strip()
    out["commitment_class"] = out["commitment_class"].strip().lower()
    for name in ("intent_digest", "policy_digest"):
        out[name] = out[name].strip().lower()
    out["currency"] = out["currency"].strip().upper()
    low, high, ceiling = out["quote_min_cents"], out["quote_max_cents"], out["refund_ceiling_cents"]
    checks: tuple[tuple[bool, str], ...] = (
        (out["schema_id"] == TOKEN_SCHEMA[0], f"unsupported schema_id: {out['schema_id']}"),
        (
            out["schema_version"] == TOKEN_SCHEMA[1],
            f"unsupported schema_version: {out['schema_version']}",
        ),
        (bool(out["token_id"]), "token_id is required"),
        (
            out["commitment_class"] in COMMITMENT_CLASSES,
            f"unsupported commitment_class: {out['commitment_class']}",
        ),
        (_hex64(out["intent_digest"]), "intent_digest must be sha256 hex"),
        (_hex64(out["policy_digest"]), "policy_digest must be sha256 hex"),
        (bool(out["call_id"]), "call_id is required"),
        (out["turn_index"] >= 0, "turn_index must be >= 0"),
        (out["call_seq"] > 0, "call_seq must be >= 1"),
        (min(low, high, ceiling) >= 0, "bound values must be >= 0"),
        (not (high > 0 and low > high), "quote_max_cents must be >= quote_min_cents"),
        (out["created_at"] != timefmt.ZERO_TIME, "created_at is required"),
        (out["expires_at"] != timefmt.ZERO_TIME, "expires_at is required"),
    )
    for ok, message in checks:
        if not ok:
            raise SayTokenError(CODE_INVALID, message)
    return SayToken(
        token_id=out["token_id"],
        commitment_class=out["commitment_class"],
        intent_digest=out["intent_digest"],
        policy_digest=out["policy_digest"],
        call_id=out["call_id"],
        turn_index=out["turn_index"],
        call_seq=out["call_seq"],
        expires_at=out["expires_at"],
        signature=out["signature"],
        signable=_token_doc(out),
    )


@dataclass(frozen=True)
class Expectation:
    """What a token must be bound to; empty strings, ``turn_index < 0`` and ``call_seq <= 0``
    check nothing (the reference's flag defaults)."""

    now: str
    intent_digest: str = ""
    policy_digest: str = ""
    call_id: str = ""
    turn_index: int = -1
    call_seq: int = 0
    commitment_class: str = ""


def check_token(token: SayToken, key: VerifyKey, expect: Expectation) -> None:
    """The reference's checks in its order; raise SayTokenError with the first failure."""
    if token.signature is None:
        raise SayTokenError(CODE_SIGNATURE_MISSING, "signature missing")
    check = check_signature(token.signature, digest(token.signable), [key])
    if not check.ok:
        raise SayTokenError(CODE_SIGNATURE_INVALID, check.error or "signature verification failed")
    binding: tuple[tuple[bool, str, str], ...] = (
        (
            bool(expect.intent_digest) and token.intent_digest != expect.intent_digest,
            CODE_INTENT,
            "intent digest mismatch",
        ),
        (
            bool(expect.policy_digest) and token.policy_digest != expect.policy_digest,
            CODE_POLICY,
            "policy digest mismatch",
        ),
        (bool(expect.call_id) and token.call_id != expect.call_id, CODE_CALL, "call_id mismatch"),
        (
            expect.turn_index >= 0 and token.turn_index != expect.turn_index,
            CODE_CALL,
            "turn_index mismatch",
        ),
        (
            expect.call_seq > 0 and token.call_seq != expect.call_seq,
            CODE_CALL,
            "call_seq mismatch",
        ),
        (
            bool(expect.commitment_class) and token.commitment_class != expect.commitment_class,
            CODE_CLASS,
            "commitment_class mismatch",
        ),
    )
    for failed, code, message in binding:
        if failed:
            raise SayTokenError(code, message)
    if not _ns(expect.now) < _ns(token.expires_at):
        raise SayTokenError(CODE_EXPIRED, f"token expired at {token.expires_at}")


def _ns(text: str) -> int:
    moment, nanos = timefmt.parse(text)
    return int(moment.timestamp()) * 1_000_000_000 + nanos
