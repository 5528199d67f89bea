"""Context evidence envelopes (``gait.context.envelope``): what an agent retrieved, as digests.

An envelope lists the reference records an agent's context came from (ref id, source, query and
content digests, retrieval time); its ``context_set_digest`` is the canonical (RFC 8785) digest
of those records in their normalized form, exactly as the reference computes it, so an envelope
written by either implementation verifies in the other. The gate binds a verified envelope to an
intent (``bind_intent``): only then can ``require_context_evidence`` rules see evidence, since
claims an intent makes on its own are stripped. ``gait run record`` copies an envelope into the
runpack's refs (``apply_to_refs``).

A core module: no CLI, no I/O beyond ``read_envelope``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from gait import timefmt
from gait.canon import digest, loads_strict
from gait.errors import InvalidInput

ENVELOPE_SCHEMA_ID = "gait.context.envelope"
ENVELOPE_SCHEMA_VERSION = "1.0.0"
MAX_ENVELOPE_BYTES = 1024 * 1024
EVIDENCE_MODES = ("best_effort", "required")
DEFAULT_PRODUCER_VERSION = "0.0.0-dev"
CONTEXT_SOURCE = "context_envelope"

_HEX64 = re.compile(r"^[a-f0-9]{64}$")
_ENVELOPE_FIELDS = (
    "schema_id",
    "schema_version",
    "created_at",
    "producer_version",
    "context_set_id",
    "context_set_digest",
    "evidence_mode",
    "records",
)
_RECORD_STRINGS = (
    "ref_id",
    "source_type",
    "source_locator",
    "query_digest",
    "content_digest",
    "redaction_mode",
    "immutability",
    "sensitivity_label",
)
_RECORD_FIELDS = (*_RECORD_STRINGS, "retrieved_at", "freshness_sla_seconds", "retrieval_params")


class EnvelopeInvalid(InvalidInput):
    """The envelope cannot be read, parsed or verified (the reference refuses it, exit 6)."""

    default_code = "E_CONTEXT_ENVELOPE_INVALID"


def _fail(message: str) -> EnvelopeInvalid:
    return EnvelopeInvalid(message, code="E_CONTEXT_ENVELOPE_INVALID")


def normalize_evidence_mode(mode: Any) -> str:
    """``best_effort``, ``required`` or '' (unset)."""
    text = (mode or "").strip().lower() if isinstance(mode, str) else mode
    if not isinstance(text, str):
        raise _fail("context evidence mode must be best_effort or required")
    if text and text not in EVIDENCE_MODES:
        raise _fail("context evidence mode must be best_effort or required")
    return text


def read_envelope(path: str) -> dict[str, Any]:
    """Read, parse and verify the envelope at ``path`` (a local path)."""
    import os.path
    from pathlib import Path

    clean = os.path.normpath(path.strip()) if path.strip() else ""
    if not clean:
        raise _fail("context envelope path is required")
    if not os.path.isabs(clean) and (clean == ".." or clean.startswith("../")):
        raise _fail("context envelope path must be a local filesystem path")
    try:
        data = Path(clean).read_bytes()
    except OSError as exc:
        raise _fail(f"read context envelope: {clean}: {exc.strerror or exc}") from exc
    return parse_envelope(data)


def parse_envelope(data: bytes) -> dict[str, Any]:
    """The normalized envelope; unknown fields are refused, as the reference's decoder does."""
    if len(data) > MAX_ENVELOPE_BYTES:
        raise _fail(f"context envelope exceeds size limit ({MAX_ENVELOPE_BYTES} bytes)")
    try:
        raw = loads_strict(data, what="context envelope", code="E_CONTEXT_ENVELOPE_INVALID")
    except InvalidInput as exc:
        raise _fail(f"parse context envelope: {exc.message}") from exc
    if not isinstance(raw, dict):
        raise _fail("parse context envelope: the envelope must be a JSON object")
    doc = _fields(raw, _ENVELOPE_FIELDS, "")
    records = doc.get("records")
    if records is not None and not isinstance(records, list):
        raise _fail("parse context envelope: records must be an array")
    parsed: list[dict[str, Any]] = []
    for index, record in enumerate(records or []):
        if not isinstance(record, dict):
            raise _fail(f"parse context envelope: records[{index}] must be an object")
        parsed.append(_fields(record, _RECORD_FIELDS, f"records[{index}]."))
    doc["records"] = parsed
    return normalize_envelope(doc)


def _fields(raw: dict[str, Any], known: tuple[str, ...], where: str) -> dict[str, Any]:
    """Keys matched to ``known`` as the reference's decoder does (exact, else ignoring case);
    any other key is refused."""
    out: dict[str, Any] = {}
    folded = {name.lower(): name for name in known}
    for key, value in raw.items():
        name = key if key in known else folded.get(key.lower())
        if name is None:
            raise _fail(f'parse context envelope: unknown field "{where}{key}"')
        out[name] = value
    return out


def _string(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _fail(f"parse context envelope: {what} must be a string")
    return value


def _when(value: Any, what: str) -> str:
    """A time in canonical form; unset or the zero time becomes 1980-01-01, as the reference."""
    if value is None:
        return timefmt.EPOCH_1980
    if not isinstance(value, str):
        raise _fail(f"parse context envelope: {what} must be an RFC 3339 time")
    try:
        text = timefmt.canonical(value)
    except InvalidInput as exc:
        raise _fail(f"parse context envelope: {what}: {exc.message}") from exc
    return timefmt.EPOCH_1980 if text == timefmt.ZERO_TIME else text


def normalize_record(raw: dict[str, Any], index: int) -> dict[str, Any]:
    where = f"records[{index}]"
    text = {name: _string(raw.get(name), f"{where}.{name}") for name in _RECORD_STRINGS}
    ref_id = text["ref_id"].strip()
    source_type = text["source_type"].strip()
    locator = text["source_locator"].strip()
    redaction = text["redaction_mode"].strip()
    if not (ref_id and source_type and locator and redaction):
        raise _fail(
            "context record fields ref_id/source_type/source_locator/redaction_mode are required"
        )
    query = text["query_digest"].strip().lower()
    content = text["content_digest"].strip().lower()
    if not _HEX64.match(query) or not _HEX64.match(content):
        raise _fail("context record digests must be sha256 hex")
    immutability = text["immutability"].strip().lower() or "unknown"
    if immutability not in ("unknown", "mutable", "immutable"):
        raise _fail("context record immutability must be unknown|mutable|immutable")
    sla = raw.get("freshness_sla_seconds")
    if sla is None:
        sla = 0
    if isinstance(sla, bool) or not isinstance(sla, int):
        raise _fail(f"parse context envelope: {where}.freshness_sla_seconds must be an integer")
    if sla < 0:
        raise _fail("context record freshness_sla_seconds must be >= 0")
    params = raw.get("retrieval_params")
    if params is not None and not isinstance(params, dict):
        raise _fail(f"parse context envelope: {where}.retrieval_params must be an object")
    # The reference's field order (a digest input, so only the key set matters) and omissions.
    record: dict[str, Any] = {
        "ref_id": ref_id,
        "source_type": source_type,
        "source_locator": locator,
        "query_digest": query,
        "content_digest": content,
        "retrieved_at": _when(raw.get("retrieved_at"), f"{where}.retrieved_at"),
        "redaction_mode": redaction,
        "immutability": immutability,
    }
    if text["sensitivity_label"]:
        record["sensitivity_label"] = text["sensitivity_label"]
    if sla:
        record["freshness_sla_seconds"] = sla
    if params:
        record["retrieval_params"] = params
    return record


def context_set_digest(records: list[dict[str, Any]]) -> str:
    """The canonical digest of normalized, sorted records (``[]`` when there are none)."""
    return digest(records)


def _record_key(record: dict[str, Any]) -> tuple[str, str, str, str]:
    return (
        record["ref_id"],
        record["source_type"],
        record["source_locator"],
        record["content_digest"],
    )


def normalize_envelope(raw: dict[str, Any]) -> dict[str, Any]:
    """Defaults filled, records normalized and sorted, the digest computed or checked."""
    schema_id = _string(raw.get("schema_id"), "schema_id").strip() or ENVELOPE_SCHEMA_ID
    if schema_id != ENVELOPE_SCHEMA_ID:
        raise _fail(f"unsupported context envelope schema_id: {schema_id}")
    version = _string(raw.get("schema_version"), "schema_version").strip()
    version = version or ENVELOPE_SCHEMA_VERSION
    if version != ENVELOPE_SCHEMA_VERSION:
        raise _fail(f"unsupported context envelope schema_version: {version}")
    producer = _string(raw.get("producer_version"), "producer_version").strip()
    set_id = _string(raw.get("context_set_id"), "context_set_id").strip()
    if not set_id:
        raise _fail("context_set_id is required")
    mode = normalize_evidence_mode(_string(raw.get("evidence_mode"), "evidence_mode"))
    records = [normalize_record(r, i) for i, r in enumerate(raw.get("records") or [])]
    records.sort(key=_record_key)
    computed = context_set_digest(records)
    claimed = _string(raw.get("context_set_digest"), "context_set_digest").strip().lower()
    if claimed:
        if not _HEX64.match(claimed):
            raise _fail("context_set_digest must be sha256 hex")
        if claimed != computed:
            raise _fail("context_set_digest mismatch")
    return {
        "schema_id": schema_id,
        "schema_version": version,
        "created_at": _when(raw.get("created_at"), "created_at"),
        "producer_version": producer or DEFAULT_PRODUCER_VERSION,
        "context_set_id": set_id,
        "context_set_digest": computed,
        "evidence_mode": mode or "best_effort",
        "records": records,
    }


def has_raw_records(records: list[dict[str, Any]]) -> bool:
    """Whether any record or receipt was captured with ``redaction_mode: raw``."""
    return any(
        str(r.get("redaction_mode") or "").strip().lower() == "raw"
        for r in records
        if isinstance(r, dict)
    )


def apply_to_refs(refs: dict[str, Any], envelope: dict[str, Any]) -> dict[str, Any]:
    """A record input's ``refs`` with the envelope's evidence: digest, mode, count, and one
    receipt per record (the receipts given before are replaced, as the reference does)."""
    out = dict(refs)
    out["context_set_digest"] = envelope["context_set_digest"]
    out["context_evidence_mode"] = envelope["evidence_mode"]
    out["context_ref_count"] = len(envelope["records"])
    out["receipts"] = sorted(
        (dict(record) for record in envelope["records"]), key=lambda r: r["ref_id"]
    )
    return out


def context_refs(envelope: dict[str, Any]) -> list[str]:
    """The distinct record ids, sorted (what a bound intent's ``context_refs`` holds)."""
    return sorted({r["ref_id"] for r in envelope["records"] if r["ref_id"]})


def _nanos(text: str) -> int:
    moment, nanos = timefmt.parse(text)
    seconds = (moment - datetime(1, 1, 1, tzinfo=UTC)) // _SECOND
    return seconds * 1_000_000_000 + nanos


_SECOND = datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC) - datetime(1, 1, 1, tzinfo=UTC)


def context_age_seconds(envelope: dict[str, Any], now: str) -> int:
    """Whole seconds since the oldest record was retrieved (since ``created_at`` when there
    are no records); 0 for a time after ``now``."""
    current = _nanos(now)
    times = [r["retrieved_at"] for r in envelope["records"]] or [envelope["created_at"]]
    age = 0
    for when in times:
        if when == timefmt.ZERO_TIME:
            continue
        delta = current - _nanos(when)
        if delta > 0:
            age = max(age, delta // 1_000_000_000)
    return age


class EnvelopeMismatch(InvalidInput):
    """The intent claims evidence the envelope does not back (a digest or mode it lacks)."""

    default_code = "E_CONTEXT_ENVELOPE_MISMATCH"


def bound_context(ctx: dict[str, Any], envelope: dict[str, Any], now: str) -> dict[str, Any]:
    """An intent's normalized context with the verified envelope's evidence in place of any
    claims: ``context_set_digest``, ``context_evidence_mode``, ``context_refs`` and
    ``auth_context.context_age_seconds``. Raises ``EnvelopeMismatch`` when the intent claims a
    digest or a mode the envelope does not have."""
    claim = str(ctx.get("context_set_digest") or "").strip()
    if claim and claim.lower() != envelope["context_set_digest"]:
        raise EnvelopeMismatch(
            "verify context envelope: context envelope digest does not match "
            "context.context_set_digest",
            code="E_CONTEXT_ENVELOPE_MISMATCH",
        )
    mode = str(ctx.get("context_evidence_mode") or "").strip()
    if mode and mode.lower() != envelope["evidence_mode"]:
        raise EnvelopeMismatch(
            "verify context envelope: context envelope evidence mode does not match "
            "context.context_evidence_mode",
            code="E_CONTEXT_ENVELOPE_MISMATCH",
        )
    out = {
        k: v
        for k, v in ctx.items()
        if k not in ("context_set_digest", "context_evidence_mode", "context_refs")
    }
    out["context_set_digest"] = envelope["context_set_digest"]
    out["context_evidence_mode"] = envelope["evidence_mode"]
    refs = context_refs(envelope)
    if refs:
        out["context_refs"] = refs
    auth = dict(out.get("auth_context") or {})
    auth["context_age_seconds"] = context_age_seconds(envelope, now)
    out["auth_context"] = auth
    return out


def record_evidence(
    doc: dict[str, Any],
    *,
    mode: str | None,
    envelope_path: str | None,
    unsafe_raw: bool = False,
) -> tuple[dict[str, Any], list[str]]:
    """A record input's refs with ``gait run record``'s context evidence, as the reference:
    the mode (flag, else the input's, else ``best_effort``); an envelope's records as the
    receipts (in ``required`` mode an unreadable or invalid envelope is an error, otherwise
    it is ignored with a warning); raw context needs ``unsafe_raw``; ``required`` needs a
    ``context_set_digest`` in the end. Returns (record input, warnings)."""
    refs_in = doc.get("refs")
    refs: dict[str, Any] = dict(refs_in) if isinstance(refs_in, dict) else {}
    if refs_in is not None and not isinstance(refs_in, dict):
        return doc, []  # the record input's own validation reports it
    given = mode if mode else refs.get("context_evidence_mode")
    if given is not None and not isinstance(given, str):
        raise _record_fail("context evidence mode must be best_effort or required")
    try:
        resolved = normalize_evidence_mode(given or "") or "best_effort"
    except EnvelopeInvalid as exc:
        raise _record_fail(exc.message) from exc
    refs["context_evidence_mode"] = resolved
    warnings: list[str] = []
    if envelope_path is not None:
        try:
            envelope = read_envelope(envelope_path)
        except EnvelopeInvalid as exc:
            if resolved == "required":
                raise
            warnings.append(f"context envelope ignored: {exc.message}")
        else:
            envelope["evidence_mode"] = resolved
            if not unsafe_raw and has_raw_records(envelope["records"]):
                raise _record_fail(
                    "context envelope includes redaction_mode=raw; re-run with "
                    "--unsafe-context-raw to allow unsafe context capture"
                )
            refs = apply_to_refs(refs, envelope)
    receipts = refs.get("receipts")
    if not unsafe_raw and isinstance(receipts, list) and has_raw_records(receipts):
        raise _record_fail(
            "refs receipts include redaction_mode=raw; re-run with --unsafe-context-raw to "
            "allow unsafe context capture"
        )
    if resolved == "required" and not str(refs.get("context_set_digest") or "").strip():
        raise _record_fail("context evidence mode required but context_set_digest is missing")
    out = dict(doc)
    out["refs"] = refs
    return out, warnings


def _record_fail(message: str) -> InvalidInput:
    return InvalidInput(message, code="E_RECORD_CONTEXT_EVIDENCE")
