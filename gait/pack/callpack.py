"""Call packs (``pack_type=call``): a voice call record and its runpack in one PackSpec v1 pack.

The reference builds these from a ``gait.voice.call_record`` file (core/pack/callpack.go
BuildCallPack) and checks them on verify (verifyCallPayloadContracts). The members, their
normalization and the cross-checks below are the ones it applies, so a call pack built here
verifies there and one built there verifies here. Its documents are Go structs decoded with
unknown fields refused; ``_decode`` and ``_encode`` re-state that decoding and the encoder's
omitempty rules, because the member bytes (and so the pack id) depend on them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gait import timefmt
from gait.canon import canonical_bytes, loads_strict
from gait.errors import GaitError, InvalidInput, VerificationFailed
from gait.fsutil import read_input
from gait.gate.policy_keys import norm
from gait.runpack.archive import Members

RECORD_SCHEMA = ("gait.voice.call_record", "1.0.0")
PAYLOAD_SCHEMA = ("gait.pack.call", "1.0.0")
CALLPACK_MANIFEST_SCHEMA = ("gait.voice.callpack_manifest", "1.0.0")
EVENT_SCHEMA = ("gait.voice.call_event", "1.0.0")
COMMITMENT_SCHEMA = ("gait.voice.commitment_intent", "1.0.0")
PRIVACY_MODES = ("hash_only", "dispute_encrypted")
COMMITMENT_CLASSES = ("refund", "quote", "eligibility", "schedule", "cancel", "account_change")
REQUIRED_EVENT_TYPES = (
    "asr.final",
    "commitment.declared",
    "gate.decision",
    "tts.request",
    "tts.emitted",
    "tool.intent",
    "tool.result",
)
VERDICTS = ("allow", "block", "dry_run", "require_approval")
MEMBERS = (
    "call_payload.json",
    "callpack_manifest.json",
    "call_events.jsonl",
    "commitments.jsonl",
    "gate_decisions.jsonl",
    "speak_receipts.jsonl",
    "reference_digests.json",
    "source/runpack.zip",
)

Fail = Callable[[str], GaitError]

# Go struct shapes (core/schema/v1/voice/types.go, core/schema/v1/pack/types.go): field ->
# (kind, omitempty). Kinds: s string, i int, b bool, t time, l []string, m map, a nested
# struct (dict), or a 1-tuple (struct,) for a list of that struct.
_S, _I, _B, _T, _L, _M = "s", "i", "b", "t", "l", "m"
_EVENT = {
    "schema_id": (_S, False),
    "schema_version": (_S, False),
    "created_at": (_T, False),
    "call_id": (_S, False),
    "call_seq": (_I, False),
    "turn_index": (_I, False),
    "event_type": (_S, False),
    "commitment_class": (_S, True),
    "intent_digest": (_S, True),
    "policy_digest": (_S, True),
    "say_token_id": (_S, True),
    "payload_digest": (_S, True),
    "attributes": (_M, True),
}
_CONTEXT = {
    "identity": (_S, False),
    "workspace": (_S, False),
    "risk_class": (_S, False),
    "session_id": (_S, True),
    "request_id": (_S, True),
    "environment_fingerprint": (_S, True),
}
_COMMITMENT: dict[str, tuple[Any, bool]] = {
    "schema_id": (_S, False),
    "schema_version": (_S, False),
    "created_at": (_T, False),
    "producer_version": (_S, False),
    "call_id": (_S, False),
    "turn_index": (_I, False),
    "call_seq": (_I, False),
    "commitment_class": (_S, False),
    "utterance_digest": (_S, True),
    "context": (_CONTEXT, False),
    "currency": (_S, True),
    "quote_min_cents": (_I, True),
    "quote_max_cents": (_I, True),
    "refund_ceiling_cents": (_I, True),
    "approval_required": (_B, True),
    "approval_artifact_refs": (_L, True),
    "evidence_reference_digests": (_L, True),
}
_DECISION = {
    "call_id": (_S, False),
    "call_seq": (_I, False),
    "turn_index": (_I, False),
    "commitment_class": (_S, False),
    "verdict": (_S, False),
    "reason_codes": (_L, True),
    "intent_digest": (_S, True),
    "policy_digest": (_S, True),
    "approval_ref": (_S, True),
}
_RECEIPT = {
    "call_id": (_S, False),
    "call_seq": (_I, False),
    "turn_index": (_I, False),
    "commitment_class": (_S, False),
    "say_token_id": (_S, False),
    "spoken_digest": (_S, False),
    "emitted_at": (_T, False),
}
_REFERENCE = {"ref_id": (_S, False), "sha256": (_S, False)}
_RECORD: dict[str, tuple[Any, bool]] = {
    "schema_id": (_S, False),
    "schema_version": (_S, False),
    "created_at": (_T, False),
    "producer_version": (_S, False),
    "call_id": (_S, False),
    "runpack_path": (_S, False),
    "privacy_mode": (_S, False),
    "environment_fingerprint": (_S, True),
    "events": ((_EVENT,), False),
    "commitments": ((_COMMITMENT,), False),
    "gate_decisions": ((_DECISION,), False),
    "speak_receipts": ((_RECEIPT,), False),
    "reference_digests": ((_REFERENCE,), True),
}
_COUNTS = (
    "event_count",
    "commitment_count",
    "decision_count",
    "speak_receipt_count",
    "reference_digest_count",
)
_PAYLOAD: dict[str, tuple[Any, bool]] = {
    "schema_id": (_S, False),
    "schema_version": (_S, False),
    "created_at": (_T, False),
    "call_id": (_S, False),
    "run_id": (_S, True),
    "privacy_mode": (_S, False),
    **{name: (_I, False) for name in _COUNTS},
    "environment_fingerprint": (_S, True),
}
_CALLPACK_MANIFEST: dict[str, tuple[Any, bool]] = {
    "schema_id": (_S, False),
    "schema_version": (_S, False),
    "created_at": (_T, False),
    "producer_version": (_S, False),
    "call_id": (_S, False),
    "privacy_mode": (_S, False),
    **{name: (_I, False) for name in _COUNTS},
    "environment_fingerprint": (_S, True),
}


# ---------------------------------------------------------------------------------------------
# Go's strict decoder and its encoder, for these shapes


def _zero(kind: Any) -> Any:
    if isinstance(kind, dict):
        return {name: _zero(k) for name, (k, _) in kind.items()}
    return (
        {_S: "", _I: 0, _B: False, _T: timefmt.ZERO_TIME}.get(kind)
        if isinstance(kind, str)
        else None
    )


def _decode(value: Any, kind: Any, where: str, fail: Fail) -> Any:
    if value is None:
        return _zero(kind)
    if isinstance(kind, dict):
        if not isinstance(value, dict):
            raise fail(f"{where}: not a JSON object")
        unknown = sorted(set(value) - set(kind))
        if unknown:
            raise fail(f"{where}: unknown field {unknown[0]!r}")
        return {
            name: _decode(value.get(name), k, f"{where}.{name}", fail)
            for name, (k, _) in kind.items()
        }
    if isinstance(kind, tuple):
        if not isinstance(value, list):
            raise fail(f"{where}: not a list")
        return [_decode(item, kind[0], f"{where}[{n}]", fail) for n, item in enumerate(value)]
    ok = {
        _S: isinstance(value, str),
        _I: isinstance(value, int) and not isinstance(value, bool),
        _B: isinstance(value, bool),
        _T: isinstance(value, str),
        _L: isinstance(value, list) and all(isinstance(v, str) for v in value),
        _M: isinstance(value, dict),
    }[kind]
    if not ok:
        raise fail(f"{where}: wrong type")
    if kind == _T:
        try:
            return timefmt.canonical(value)
        except InvalidInput as exc:
            raise fail(f"{where}: {exc.message}") from exc
    return value


def _encode(doc: Mapping[str, Any], shape: Mapping[str, tuple[Any, bool]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (kind, omitempty) in shape.items():
        value = doc.get(name)
        if omitempty and (value in ("", 0, False, None) or value == [] or value == {}):
            continue
        if isinstance(kind, dict):
            value = _encode(value or {}, kind)
        elif isinstance(kind, tuple):
            value = None if not value else [_encode(item, kind[0]) for item in value]
        out[name] = value
    return out


def _strict(data: bytes, shape: Any, name: str, fail: Fail) -> Any:
    try:
        raw = loads_strict(data, what=name)
    except GaitError as exc:
        raise fail(f"parse {name}: {exc.message}") from exc
    return _decode(raw, shape, name, fail)


def _jsonl(items: list[dict[str, Any]], shape: Mapping[str, tuple[Any, bool]]) -> bytes:
    return b"".join(canonical_bytes(_encode(item, shape)) + b"\n" for item in items)


def _parse_jsonl(data: bytes, shape: Any, name: str, fail: Fail) -> list[dict[str, Any]]:
    out = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.strip():
            out.append(_strict(line.strip(), shape, f"{name} line {number}", fail))
    return out


# ---------------------------------------------------------------------------------------------
# Normalization (core/pack/callpack.go normalize*, core/gate/voice.go NormalizeCommitmentIntent)


def _hex64(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _digest_field(doc: dict[str, Any], key: str, what: str, fail: Fail) -> None:
    doc[key] = doc[key].strip().lower()
    if doc[key] and not _hex64(doc[key]):
        raise fail(f"{what} {key} must be sha256 hex")


def _seq(doc: dict[str, Any], what: str, call_id: str, fail: Fail) -> None:
    doc["call_id"] = doc["call_id"].strip()
    if not doc["call_id"] or doc["call_id"] != call_id:
        raise fail(f"{what} call_id must match call record")
    if doc["call_seq"] <= 0:
        raise fail(f"{what} call_seq must be >= 1")
    if doc["turn_index"] < 0:
        raise fail(f"{what} turn_index must be >= 0")


def _class(doc: dict[str, Any], what: str, fail: Fail, *, optional: bool = False) -> None:
    doc["commitment_class"] = doc["commitment_class"].strip().lower()
    if optional and not doc["commitment_class"]:
        return
    if doc["commitment_class"] not in COMMITMENT_CLASSES:
        raise fail(f"unsupported {what} commitment_class: {doc['commitment_class']}")


def _schema(doc: dict[str, Any], schema: tuple[str, str], what: str, fail: Fail) -> None:
    doc["schema_id"] = doc["schema_id"] if doc["schema_id"].strip() else schema[0]
    if doc["schema_id"] != schema[0]:
        raise fail(f"unsupported {what} schema_id: {doc['schema_id']}")
    doc["schema_version"] = doc["schema_version"] if doc["schema_version"].strip() else schema[1]
    if doc["schema_version"] != schema[1]:
        raise fail(f"unsupported {what} schema_version: {doc['schema_version']}")


def _created(doc: dict[str, Any], key: str, what: str, fail: Fail) -> None:
    if doc[key] == timefmt.ZERO_TIME:
        raise fail(f"{what} {key} is required")


def normalize_event(event: dict[str, Any], call_id: str, fail: Fail) -> dict[str, Any]:
    out = dict(event)
    _schema(out, EVENT_SCHEMA, "call event", fail)
    _created(out, "created_at", "call event", fail)
    _seq(out, "call event", call_id, fail)
    out["event_type"] = out["event_type"].strip()
    if not out["event_type"]:
        raise fail("call event event_type is required")
    _class(out, "call event", fail, optional=True)
    for key in ("intent_digest", "policy_digest"):
        _digest_field(out, key, "call event", fail)
    out["say_token_id"] = out["say_token_id"].strip()
    _digest_field(out, "payload_digest", "call event", fail)
    return out


def normalize_commitment(item: dict[str, Any], fail: Fail) -> dict[str, Any]:
    out = dict(item)
    _schema(out, COMMITMENT_SCHEMA, "commitment", fail)
    _created(out, "created_at", "commitment", fail)
    out["producer_version"] = out["producer_version"].strip() or "0.0.0-dev"
    out["call_id"] = out["call_id"].strip()
    if not out["call_id"]:
        raise fail("commitment call_id is required")
    if out["turn_index"] < 0:
        raise fail("commitment turn_index must be >= 0")
    if out["call_seq"] <= 0:
        raise fail("commitment call_seq must be >= 1")
    _class(out, "commitment", fail)
    _digest_field(out, "utterance_digest", "commitment", fail)
    context = {k: v.strip() for k, v in out["context"].items()}
    context["risk_class"] = context["risk_class"].lower()
    if not (context["identity"] and context["workspace"] and context["risk_class"]):
        raise fail("commitment context identity, workspace, and risk_class are required")
    out["context"] = context
    out["currency"] = out["currency"].strip().upper()
    bounds = (out["quote_min_cents"], out["quote_max_cents"], out["refund_ceiling_cents"])
    if min(bounds) < 0:
        raise fail("commitment bound values must be >= 0")
    if out["quote_max_cents"] > 0 and out["quote_min_cents"] > out["quote_max_cents"]:
        raise fail("commitment quote_max_cents must be >= quote_min_cents")
    out["approval_artifact_refs"] = norm(out["approval_artifact_refs"], lower=False)
    digests = {d.strip().lower() for d in out["evidence_reference_digests"] or ()}
    out["evidence_reference_digests"] = sorted(d for d in digests if _hex64(d))
    return out


def normalize_decision(item: dict[str, Any], call_id: str, fail: Fail) -> dict[str, Any]:
    out = dict(item)
    _seq(out, "gate decision", call_id, fail)
    _class(out, "gate decision", fail)
    out["verdict"] = out["verdict"].strip().lower()
    if out["verdict"] not in VERDICTS:
        raise fail(f"unsupported gate decision verdict: {out['verdict']}")
    out["reason_codes"] = norm(out["reason_codes"], lower=False)
    for key in ("intent_digest", "policy_digest"):
        _digest_field(out, key, "gate decision", fail)
    out["approval_ref"] = out["approval_ref"].strip()
    return out


def normalize_receipt(item: dict[str, Any], call_id: str, fail: Fail) -> dict[str, Any]:
    out = dict(item)
    _seq(out, "speak receipt", call_id, fail)
    _class(out, "speak receipt", fail)
    out["say_token_id"] = out["say_token_id"].strip()
    if not out["say_token_id"]:
        raise fail("speak receipt say_token_id is required")
    out["spoken_digest"] = out["spoken_digest"].strip().lower()
    if not _hex64(out["spoken_digest"]):
        raise fail("speak receipt spoken_digest must be sha256 hex")
    _created(out, "emitted_at", "speak receipt", fail)
    return out


def normalize_references(items: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    seen = set()
    for item in items or ():
        ref_id, sha = item["ref_id"].strip(), item["sha256"].strip().lower()
        if ref_id and _hex64(sha):
            seen.add((ref_id, sha))
    return [{"ref_id": r, "sha256": d} for r, d in sorted(seen)]


def check_event_coverage(events: list[dict[str, Any]], fail: Fail) -> None:
    if not events:
        raise fail("call record events are required")
    last = 0
    for event in events:
        if event["call_seq"] < last:
            raise fail("call events must be sorted by call_seq")
        last = event["call_seq"]
    seen = {e["event_type"] for e in events}
    for required in REQUIRED_EVENT_TYPES:
        if required not in seen:
            raise fail(f"call events missing required type: {required}")


def check_speech_is_gated(
    events: list[dict[str, Any]],
    decisions: list[dict[str, Any]],
    receipts: list[dict[str, Any]],
    fail: Fail,
) -> None:
    """Every gated ``tts.emitted`` has its speak receipt (same say token) and every receipt
    follows a gate decision for its turn and class whose latest verdict is allow."""
    by_key = {(r["call_seq"], r["turn_index"], r["commitment_class"]): r for r in receipts}
    for event in events:
        if event["event_type"] != "tts.emitted" or not event["commitment_class"].strip():
            continue
        where = (
            f"call_seq={event['call_seq']} turn_index={event['turn_index']} "
            f"class={event['commitment_class']}"
        )
        if not event["say_token_id"].strip():
            raise fail(f"gated tts.emitted event missing say_token_id for {where}")
        receipt = by_key.get((event["call_seq"], event["turn_index"], event["commitment_class"]))
        if receipt is None:
            raise fail(f"gated tts.emitted event missing speak receipt for {where}")
        if receipt["say_token_id"] != event["say_token_id"]:
            raise fail(f"gated tts.emitted event say_token_id mismatch for {where}")
    for receipt in receipts:
        where = (
            f"turn_index={receipt['turn_index']} call_seq={receipt['call_seq']} "
            f"class={receipt['commitment_class']}"
        )
        prior = [
            d
            for d in decisions
            if d["commitment_class"] == receipt["commitment_class"]
            and d["turn_index"] == receipt["turn_index"]
            and d["call_seq"] <= receipt["call_seq"]
        ]
        if not prior:
            raise fail(f"speak receipt missing prior gate decision for {where}")
        latest = prior[0]
        for decision in prior[1:]:
            if decision["call_seq"] > latest["call_seq"]:
                latest = decision
        if latest["verdict"] != "allow":
            raise fail(
                f"speak receipt latest prior gate verdict is {latest['verdict']} "
                f"(expected allow) for {where}"
            )


def _by_seq_class(item: dict[str, Any]) -> tuple[int, str]:
    return item["call_seq"], item["commitment_class"]


def normalize_record(record: dict[str, Any], fail: Fail) -> dict[str, Any]:
    out = dict(record)
    _schema(out, RECORD_SCHEMA, "call record", fail)
    _created(out, "created_at", "call record", fail)
    out["producer_version"] = out["producer_version"].strip() or "0.0.0-dev"
    out["call_id"] = out["call_id"].strip()
    if not out["call_id"]:
        raise fail("call record call_id is required")
    out["runpack_path"] = out["runpack_path"].strip()
    if not out["runpack_path"]:
        raise fail("call record runpack_path is required")
    out["privacy_mode"] = out["privacy_mode"].strip().lower() or "hash_only"
    if out["privacy_mode"] not in PRIVACY_MODES:
        raise fail("call record privacy_mode must be hash_only or dispute_encrypted")
    out["environment_fingerprint"] = out["environment_fingerprint"].strip()
    call_id = out["call_id"]
    events = [normalize_event(e, call_id, fail) for e in out["events"] or ()]
    events.sort(key=lambda e: (e["call_seq"], e["event_type"]))
    check_event_coverage(events, fail)
    commitments = []
    for item in out["commitments"] or ():
        commitment = normalize_commitment(item, fail)
        if commitment["call_id"] != call_id:
            raise fail("commitment call_id does not match call record")
        commitments.append(commitment)
    decisions = [normalize_decision(d, call_id, fail) for d in out["gate_decisions"] or ()]
    receipts = [normalize_receipt(r, call_id, fail) for r in out["speak_receipts"] or ()]
    out["events"] = events
    out["commitments"] = sorted(commitments, key=_by_seq_class)
    out["gate_decisions"] = sorted(decisions, key=_by_seq_class)
    out["speak_receipts"] = sorted(receipts, key=_by_seq_class)
    check_speech_is_gated(events, out["gate_decisions"], out["speak_receipts"], fail)
    out["reference_digests"] = normalize_references(out["reference_digests"])
    return out


# ---------------------------------------------------------------------------------------------
# Build


def _build_fail(message: str) -> GaitError:
    return InvalidInput(
        f"call record: {message}",
        code="E_PACK_CALL_RECORD_INVALID",
        hint="fix the gait.voice.call_record file, then gait pack build --type call --from it",
    )


def call_members(record_path: Path) -> tuple[str, list[tuple[str, bytes]]]:
    """(call_id, members) of the call pack for a call record file."""
    from gait.runpack.verify import verify_runpack

    data = read_input(record_path, "E_PACK_NOT_FOUND", "call record")
    record = normalize_record(_strict(data, _RECORD, "call record", _build_fail), _build_fail)
    runpack = Path(record["runpack_path"])
    if not runpack.is_absolute():
        runpack = record_path.parent / runpack
    if not runpack.is_file():
        raise InvalidInput(
            f"call record runpack_path {record['runpack_path']} not found",
            code="E_PACK_SOURCE_INVALID",
        )
    report = verify_runpack(runpack)
    if report.missing_files or report.hash_mismatches:
        raise InvalidInput(
            f"source runpack {runpack} failed integrity checks", code="E_PACK_SOURCE_INVALID"
        )
    counts = {
        "event_count": len(record["events"]),
        "commitment_count": len(record["commitments"]),
        "decision_count": len(record["gate_decisions"]),
        "speak_receipt_count": len(record["speak_receipts"]),
        "reference_digest_count": len(record["reference_digests"]),
    }
    common = {
        "created_at": record["created_at"],
        "call_id": record["call_id"],
        "privacy_mode": record["privacy_mode"],
        **counts,
        "environment_fingerprint": record["environment_fingerprint"],
    }
    payload = {
        "schema_id": PAYLOAD_SCHEMA[0],
        "schema_version": PAYLOAD_SCHEMA[1],
        "run_id": report.run_id.strip(),
        **common,
    }
    manifest = {
        "schema_id": CALLPACK_MANIFEST_SCHEMA[0],
        "schema_version": CALLPACK_MANIFEST_SCHEMA[1],
        "producer_version": record["producer_version"],
        **common,
    }
    references = _encode({"r": record["reference_digests"]}, {"r": ((_REFERENCE,), False)})["r"]
    members = [
        ("call_payload.json", canonical_bytes(_encode(payload, _PAYLOAD))),
        ("callpack_manifest.json", canonical_bytes(_encode(manifest, _CALLPACK_MANIFEST))),
        ("call_events.jsonl", _jsonl(record["events"], _EVENT)),
        ("commitments.jsonl", _jsonl(record["commitments"], _COMMITMENT)),
        ("gate_decisions.jsonl", _jsonl(record["gate_decisions"], _DECISION)),
        ("speak_receipts.jsonl", _jsonl(record["speak_receipts"], _RECEIPT)),
        ("reference_digests.json", canonical_bytes(references)),
        ("source/runpack.zip", runpack.read_bytes()),
    ]
    return record["call_id"], members


# ---------------------------------------------------------------------------------------------
# Verify


def verify_call_payload(members: Members, source_ref: str) -> None:
    """The reference's verifyCallPayloadContracts: every member present and parsed strictly,
    the payload, the call manifest and the member counts agreeing, speech gated."""

    def fail(message: str) -> GaitError:
        return VerificationFailed(
            f"call pack: {message}",
            code="E_PACK_PAYLOAD_INVALID",
            hint="rebuild the call pack from its call record: gait pack build --type call",
        )

    def mismatch(message: str) -> GaitError:
        return VerificationFailed(
            f"call pack: {message}",
            code="E_PACK_PAYLOAD_MISMATCH",
            hint="the call pack's members disagree; rebuild it from its call record",
        )

    for name in MEMBERS:
        if name not in members.data:
            raise fail(f"missing {name}")
    data = members.data
    payload = _strict(data["call_payload.json"], _PAYLOAD, "call_payload.json", fail)
    _check_header(payload, PAYLOAD_SCHEMA, "call payload", fail)
    if payload["call_id"] != source_ref.strip():
        raise mismatch("call payload call_id does not match manifest source_ref")
    manifest = _strict(
        data["callpack_manifest.json"], _CALLPACK_MANIFEST, "callpack_manifest.json", fail
    )
    _check_header(manifest, CALLPACK_MANIFEST_SCHEMA, "callpack manifest", fail)
    if not manifest["producer_version"].strip():
        raise fail("callpack manifest producer_version is required")
    if manifest["call_id"] != payload["call_id"]:
        raise mismatch("callpack manifest call_id does not match call payload")
    call_id = payload["call_id"]
    events = [
        normalize_event(e, call_id, fail)
        for e in _parse_jsonl(data["call_events.jsonl"], _EVENT, "call_events.jsonl", fail)
    ]
    check_event_coverage(events, fail)
    commitments = [
        normalize_commitment(c, fail)
        for c in _parse_jsonl(data["commitments.jsonl"], _COMMITMENT, "commitments.jsonl", fail)
    ]
    decisions = [
        normalize_decision(d, call_id, fail)
        for d in _parse_jsonl(data["gate_decisions.jsonl"], _DECISION, "gate_decisions", fail)
    ]
    receipts = [
        normalize_receipt(r, call_id, fail)
        for r in _parse_jsonl(data["speak_receipts.jsonl"], _RECEIPT, "speak_receipts", fail)
    ]
    raw_refs = _strict(
        data["reference_digests.json"], (_REFERENCE,), "reference_digests.json", fail
    )
    references = normalize_references(raw_refs)
    for commitment in commitments:
        if commitment["call_id"] != call_id:
            raise mismatch("commitment call_id does not match payload")
    check_speech_is_gated(events, decisions, receipts, fail)
    actual = {
        "event_count": len(events),
        "commitment_count": len(commitments),
        "decision_count": len(decisions),
        "speak_receipt_count": len(receipts),
        "reference_digest_count": len(references),
    }
    for key, count in actual.items():
        if payload[key] != count:
            raise mismatch(f"call payload {key} does not match its member")
    if any(manifest[key] != payload[key] for key in _COUNTS):
        raise mismatch("callpack manifest counts do not match call payload")
    for key in ("privacy_mode", "created_at"):
        if manifest[key] != payload[key]:
            raise mismatch(f"callpack manifest {key} does not match call payload")
    if manifest["environment_fingerprint"].strip() != payload["environment_fingerprint"].strip():
        raise mismatch("callpack manifest environment_fingerprint does not match call payload")


def _check_header(doc: dict[str, Any], schema: tuple[str, str], what: str, fail: Fail) -> None:
    if doc["schema_id"] != schema[0]:
        raise fail(f"{what} schema_id must be {schema[0]}")
    if doc["schema_version"] != schema[1]:
        raise fail(f"{what} schema_version must be {schema[1]}")
    _created(doc, "created_at", what, fail)
    if not doc["call_id"].strip():
        raise fail(f"{what} call_id is required")
    if doc["privacy_mode"] not in PRIVACY_MODES:
        raise fail(f"{what} privacy_mode must be hash_only or dispute_encrypted")
    if any(doc[key] < 0 for key in _COUNTS):
        raise fail(f"{what} counts must be >= 0")
