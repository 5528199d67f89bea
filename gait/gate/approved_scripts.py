"""Approved scripts (issue 15, item 5): a signed registry of pre-approved script intents.

``gait approve-script`` signs an entry binding a script's hash and tool sequence to one policy
digest, an approver and an expiry; ``gait gate eval --approved-script-registry`` lets a script
intent matching a verified, unexpired entry through without policy evaluation (``pre_approved``,
``approved_script_match``). A registry that cannot be read or verified fails closed for high
and critical risk (exit 3); for lower risk the fast path is only turned off, with a warning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gait import timefmt
from gait.canon import digest
from gait.errors import InvalidInput
from gait.sign.keys import SigningKey, VerifyKey
from gait.sign.signature import check_signature, sign_digest

ENTRY_SCHEMA_ID = "gait.gate.approved_script_entry"
SCHEMA_VERSION = "1.0.0"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class RegistryError(Exception):
    """The registry or one of its entries is unusable (read, shape, expiry or signature)."""


def _lower_list(values: Any) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise RegistryError("must be a list of strings")
    return sorted({v.strip().lower() for v in values if v.strip()})


def normalize_entry(raw: Any) -> dict[str, Any]:
    """The entry as the reference normalises it (its signable form plus ``signature``)."""
    if not isinstance(raw, Mapping):
        raise RegistryError("entry must be a JSON object")

    def text(name: str) -> str:
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            raise RegistryError(f"{name} must be a string")
        return (value or "").strip()

    schema_id = text("schema_id") or ENTRY_SCHEMA_ID
    if schema_id != ENTRY_SCHEMA_ID:
        raise RegistryError(f"unsupported approved script schema_id: {schema_id}")
    schema_version = text("schema_version") or SCHEMA_VERSION
    if schema_version != SCHEMA_VERSION:
        raise RegistryError(f"unsupported approved script schema_version: {schema_version}")
    times = {}
    for name in ("created_at", "expires_at"):
        value = raw.get(name)
        try:
            times[name] = timefmt.canonical(value) if value is not None else timefmt.ZERO_TIME
        except InvalidInput as exc:
            raise RegistryError(f"{name} is not an RFC 3339 time") from exc
    if times["created_at"] == timefmt.ZERO_TIME:
        times["created_at"] = timefmt.EPOCH_1980
    entry: dict[str, Any] = {
        "schema_id": schema_id,
        "schema_version": schema_version,
        "created_at": times["created_at"],
        "producer_version": raw.get("producer_version") or "",
        "pattern_id": text("pattern_id"),
        "policy_digest": text("policy_digest").lower(),
        "script_hash": text("script_hash").lower(),
        "tool_sequence": _lower_list(raw.get("tool_sequence")),
    }
    scope = _lower_list(raw.get("scope"))
    if scope:
        entry["scope"] = scope
    entry["approver_identity"] = text("approver_identity")
    entry["expires_at"] = times["expires_at"]
    for ok, message in (
        (entry["pattern_id"], "pattern_id is required"),
        (_HEX64.match(entry["policy_digest"]), "policy_digest must be sha256 hex"),
        (_HEX64.match(entry["script_hash"]), "script_hash must be sha256 hex"),
        (entry["tool_sequence"], "tool_sequence is required"),
        (entry["approver_identity"], "approver_identity is required"),
        (
            entry["expires_at"] != timefmt.ZERO_TIME
            and _ns(entry["expires_at"]) > _ns(entry["created_at"]),
            "expires_at must be after created_at",
        ),
    ):
        if not ok:
            raise RegistryError(message)
    if raw.get("signature") is not None:
        entry["signature"] = raw["signature"]
    return entry


def _ns(text: str) -> int:
    from gait.gate.approval import _ns_of

    return _ns_of(text)


def _signable(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != "signature"}


def sign_entry(raw: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    entry = normalize_entry(raw)
    entry.pop("signature", None)
    entry["signature"] = sign_digest(key, digest(entry))
    return entry


def verify_entry(raw: Any, keys: Sequence[VerifyKey], now: str) -> None:
    """The reference's checks in order: shape, signature present, expiry, signature."""
    entry = normalize_entry(raw)
    if entry.get("signature") is None:
        raise RegistryError("signature is required")
    if not _ns(entry["expires_at"]) > _ns(now):
        raise RegistryError("approved script entry is expired")
    if not keys:
        raise RegistryError("verify key is required")
    check = check_signature(entry["signature"], digest(_signable(entry)), keys)
    if not check.ok:
        raise RegistryError(
            f"approved script signature did not verify ({check.error or 'mismatch'})"
        )


def read_registry(path: str | Path) -> list[Any]:
    """Raw entries of a registry file (``{"entries": [...]}`` or a bare list); a missing or
    empty file is an empty registry, as in the reference. Entries are checked for shape."""
    from gait.canon import loads_strict

    file = Path(str(path).strip())
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise RegistryError(f"read approved script registry: {exc.strerror or exc}") from exc
    if not data.strip():
        return []
    try:
        doc = loads_strict(data, what=f"approved script registry {file}", code="E_REGISTRY")
    except InvalidInput as exc:
        raise RegistryError(f"parse approved script registry: {exc.message}") from exc
    entries = doc.get("entries") if isinstance(doc, dict) else doc
    if not isinstance(entries, list):
        raise RegistryError("parse approved script registry: entries must be a JSON array")
    for index, entry in enumerate(entries):
        try:
            normalize_entry(entry)
        except RegistryError as exc:
            raise RegistryError(f"approved script entries[{index}]: {exc}") from exc
    return entries


def write_registry(path: str | Path, entries: list[dict[str, Any]]) -> None:
    from gait.canon import dumps_pretty
    from gait.fsutil import atomic_write

    normalized = [normalize_entry(e) for e in entries]
    normalized.sort(key=lambda e: (e["pattern_id"], _ns(e["created_at"])))
    target = Path(str(path).strip())
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, dumps_pretty({"entries": normalized}), mode=0o600)


@dataclass(frozen=True)
class Match:
    matched: bool
    pattern_id: str
    reason: str


def match_script(intent: Any, policy_digest: str, entries: Sequence[Any], now: str) -> Match:
    """The first verified entry for this script, policy digest, tool sequence and scope."""
    if intent.script is None:
        return Match(False, "", "not_script")
    sequence = [step["tool_name"] for step in intent.script["steps"]]
    script_hash = intent.doc.get("script_hash", "")
    for raw in entries:
        entry = normalize_entry(raw)
        if entry["policy_digest"] != policy_digest or entry["script_hash"] != script_hash:
            continue
        if not _ns(entry["expires_at"]) > _ns(now):
            continue
        # As the reference: the stored sequence is sorted, so only an already sorted,
        # repeat-free script sequence can match it.
        if entry["tool_sequence"] != sequence:
            continue
        if not _scope_matches(intent, entry.get("scope", [])):
            continue
        return Match(True, entry["pattern_id"], "approved_script_match")
    return Match(False, "", "approved_script_not_found")


def _scope_matches(intent: Any, scope: list[str]) -> bool:
    from gait.gocompat import clean_path

    for item in scope:
        if item.startswith("risk:"):
            if intent.risk_class != item[len("risk:") :]:
                return False
        elif item.startswith("tool:"):
            if intent.tool_name != item[len("tool:") :]:
                return False
        elif item.startswith("workspace_prefix:"):
            prefix = item[len("workspace_prefix:") :]
            workspace = clean_path(intent.workspace.strip())
            if workspace != prefix and not workspace.startswith(prefix + "/"):
                return False
        elif item.startswith("endpoint:"):
            wanted = item[len("endpoint:") :]
            steps = intent.script["steps"] if intent.script else [{"targets": intent.targets}]
            if not any(t["endpoint_class"] == wanted for s in steps for t in s.get("targets", [])):
                return False
        else:
            return False
    return True


def step_risk_classes(intent: Any) -> list[str]:
    from gait.gate.scripts import step_risk

    return [step_risk(step.get("targets", [])) for step in intent.script["steps"]]
