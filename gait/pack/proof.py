"""``proof_records.jsonl``: one Clyra-AI/proof record per pack member, hash-chained.

The reference's pack builder (core/pack/proof.go buildProofRecordsJSONL) writes one
``tool_invocation`` record for every member but the records file itself, in path order, and its
verifier (verifyProofRecordsJSONL) re-hashes each line and follows the chain. The record format
and its hash come from the proof library (core/record/record.go New, ComputeHash):
``integrity.record_hash`` is ``sha256:`` + the JCS digest of the record's fields with only
``previous_record_hash`` kept under ``integrity`` (timestamps to the second); ``record_id`` is
``prf-<timestamp>-`` + 8 hex of the JCS digest of the record's identifying fields. A signing key
signs each record's hash text (``base64:`` + signature, signing/sign.go SignBytes).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gait import timefmt
from gait.canon import canonical_bytes, digest, loads_strict, sha256_hex
from gait.errors import GaitError, VerificationFailed
from gait.sign.keys import SigningKey, VerifyKey

FILE_NAME = "proof_records.jsonl"
_HASHED = ("record_id", "record_version", "source", "source_product", "record_type", "event")
_MEMBER_MODE = 0o644  # every member is written 0644 (runpack.archive.zip_bytes), as the reference
_SIG_PREFIX = "base64:"


def _fail(line: int, message: str) -> VerificationFailed:
    return VerificationFailed(
        f"proof_records.jsonl line {line}: {message}",
        code="E_PACK_PROOF_CHAIN_BROKEN",
        hint="the pack's proof records were edited or reordered; rebuild the pack",
    )


def _whole_seconds(stamp: Any) -> str:
    moment, _ = timefmt.parse(stamp if isinstance(stamp, str) else "")
    return timefmt.format_utc(moment)


def record_hash(record: dict[str, Any]) -> str:
    payload: dict[str, Any] = {key: record.get(key, "") for key in _HASHED}
    payload["timestamp"] = _whole_seconds(record.get("timestamp"))
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


def _record_id(record: dict[str, Any]) -> str:
    stamp = _whole_seconds(record["timestamp"])
    keyed = {k: record[k] for k in ("source", "source_product", "agent_id", "record_type")}
    prefix = digest({**keyed, "timestamp": stamp, "event": record["event"]})[:8]
    return f"prf-{stamp}-{prefix}"


def entry_type(path: str) -> str:
    lower = path.strip().lower()
    for suffix, kind in ((".json", "json"), (".jsonl", "jsonl"), (".zip", "zip")):
        if lower.endswith(suffix):
            return kind
    return "blob"


def build_proof_records(
    pack_type: str,
    source_ref: str,
    producer_version: str,
    created_at: str,
    files: Sequence[tuple[str, bytes]],
    key: SigningKey | None = None,
) -> bytes:
    """The records file for ``files`` (every member but the manifest and this file)."""
    lines: list[bytes] = []
    previous = ""
    for path, data in sorted(f for f in files if f[0].strip() and f[0] != FILE_NAME):
        record: dict[str, Any] = {
            "record_version": "1.0",
            "timestamp": timefmt.canonical(created_at),
            "source": "gait.pack",
            "source_product": "gait",
            "agent_id": "gait",
            "record_type": "tool_invocation",
            "event": {
                "pack_type": pack_type,
                "source_ref": source_ref,
                "producer_version": producer_version,
                "entry_path": path,
                "entry_type": entry_type(path),
                "entry_sha256": sha256_hex(data),
                "entry_size_bytes": len(data),
                "entry_permissions": _MEMBER_MODE,
            },
            "controls": {"permissions_enforced": False},
            "metadata": {"artifact_kind": "gait.pack.entry"},
        }
        record["record_id"] = _record_id(record)
        record["integrity"] = {"previous_record_hash": previous} if previous else {}
        integrity: dict[str, str] = {"record_hash": record_hash(record)}
        if previous:
            integrity["previous_record_hash"] = previous
        if key is not None:
            integrity["signing_key_id"] = key.key_id
            signature = key.sign(integrity["record_hash"].encode())
            integrity["signature"] = _SIG_PREFIX + base64.b64encode(signature).decode()
        record["integrity"] = integrity
        lines.append(canonical_bytes(record))
        previous = integrity["record_hash"]
    return b"\n".join(lines)


@dataclass
class ProofCheck:
    verified: int = 0
    signature_errors: list[str] = field(default_factory=list)


def _check_record_signature(
    number: int, integrity: dict[str, Any], keys: Sequence[VerifyKey], explicit: bool
) -> str:
    """'' when the line's signature verifies under one of ``keys``, else why not."""
    sig = str(integrity.get("signature") or "").strip()
    key_id = str(integrity.get("signing_key_id") or "").strip()
    where = f"proof_records line {number}"
    if not sig:
        return f"{where} missing signature"
    if not key_id:
        return f"{where} missing signing_key_id"
    if not sig.startswith(_SIG_PREFIX):
        return f"{where} unsupported signature prefix"
    try:
        raw = base64.b64decode(sig[len(_SIG_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return f"{where} signature verification: signature is not base64"
    candidates = [k for k in keys if k.key_id == key_id]
    if not candidates:
        return f"{where} signature verification: key id mismatch" if explicit else ""
    message = str(integrity.get("record_hash") or "").encode()
    if len(raw) != 64 or not any(k.verify(raw, message) for k in candidates):
        return f"{where} signature verification failed"
    return ""


def verify_proof_records(
    raw: bytes,
    *,
    keys: Sequence[VerifyKey] = (),
    explicit_keys: bool = False,
    require_signature: bool = False,
) -> ProofCheck:
    """Re-hash every record and follow the chain; signatures are checked, as the reference
    does, only when a signature is required and a key is given (errors, not exceptions, so the
    caller reports them with the manifest's signature status)."""
    check = ProofCheck()
    previous = ""
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
        if require_signature and keys:
            error = _check_record_signature(number, integrity, keys, explicit_keys)
            if error:
                check.signature_errors.append(error)
        check.verified += 1
    return check
