"""The hash chain of a reference pack's ``proof_records.jsonl`` (one record per member).

Each record's ``integrity.record_hash`` is ``sha256:`` + the JCS digest of the record's fields
with only ``previous_record_hash`` kept under ``integrity``; each record names the previous
record's hash. This project does not write these records; it checks the ones it is given.
"""

from __future__ import annotations

from typing import Any

from gait import timefmt
from gait.canon import digest, loads_strict
from gait.errors import GaitError, VerificationFailed

_HASHED = ("record_id", "record_version", "source", "source_product", "record_type", "event")


def _fail(line: int, message: str) -> VerificationFailed:
    return VerificationFailed(
        f"proof_records.jsonl line {line}: {message}",
        code="E_PACK_PROOF_CHAIN_BROKEN",
        hint="the pack's proof records were edited or reordered; rebuild the pack",
    )


def record_hash(record: dict[str, Any]) -> str:
    stamp = record.get("timestamp")
    moment, _ = timefmt.parse(stamp if isinstance(stamp, str) else "")
    payload: dict[str, Any] = {key: record.get(key, "") for key in _HASHED}
    payload["timestamp"] = timefmt.format_utc(moment)  # whole seconds, as the reference hashes
    payload["agent_id"] = record.get("agent_id", "")
    payload["controls"] = record.get("controls", {"permissions_enforced": False})
    payload["metadata"] = record.get("metadata")
    raw_integrity = record.get("integrity")
    integrity = raw_integrity if isinstance(raw_integrity, dict) else {}
    payload["integrity"] = {"previous_record_hash": integrity.get("previous_record_hash", "")}
    for optional in ("relations", "relationship"):
        if record.get(optional) is not None:
            payload[optional] = record[optional]
    return "sha256:" + digest(payload)


def verify_proof_records(raw: bytes) -> int:
    previous = ""
    count = 0
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            record = loads_strict(line, what=f"proof record {number}")
        except GaitError as exc:
            raise _fail(number, exc.message) from exc
        if not isinstance(record, dict) or not isinstance(record.get("integrity"), dict):
            raise _fail(number, "not a proof record")
        for key in ("record_version", "timestamp", "source", "source_product", "record_type"):
            if not str(record.get(key) or "").strip():
                raise _fail(number, f"{key} is required")
        if record.get("event") is None:
            raise _fail(number, "event is required")
        integrity = record["integrity"]
        try:
            expected = record_hash(record)
        except GaitError as exc:
            raise _fail(number, exc.message) from exc
        if expected != integrity.get("record_hash"):
            raise _fail(number, "record_hash does not match the record")
        link = integrity.get("previous_record_hash", "") or ""
        if link != previous:
            raise _fail(number, "previous_record_hash does not name the record before it")
        previous = expected
        count += 1
    return count
