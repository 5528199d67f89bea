"""The kill switch: stop an agent, identity, tool, target, environment or path at once.

Entries live in one JSON state file in the reference's shape (``gait.gate.kill_switch_state``,
so its files read here and ours there) and are honoured before any rule: a matching, enabled,
unexpired entry turns the decision into ``block`` with the reference's reason codes, whatever
the policy says. An entry stops applying at its ``expires_at`` without anyone touching the file.

Every change (add, disable, expire) and every enforcement is appended to a journal beside the
state file (``kill_switch_journal.jsonl``): each line carries the digest of the one before and
an Ed25519 signature, so a removed or edited line is detectable.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gait import timefmt
from gait.errors import InvalidInput

STATE_SCHEMA_ID = "gait.gate.kill_switch_state"
STATE_SCHEMA_VERSION = "1.0.0"
JOURNAL_SCHEMA_ID = "gait.gate.kill_switch_journal"
JOURNAL_NAME = "kill_switch_journal.jsonl"
DEFAULT_STATE = "./.gait-out/kill_switch_state.json"
ZERO = timefmt.ZERO_TIME
TARGET_KINDS = frozenset(
    {"path", "url", "host", "repo", "bucket", "table", "queue", "topic", "other"}
)
_SELECTORS = (
    "agent_id",
    "identity",
    "tool_name",
    "target_kind",
    "target_value",
    "environment",
)


class KillSwitchInvalid(InvalidInput):
    """The state file or an entry is not valid: ``E_KILL_SWITCH_INVALID`` (exit 6)."""

    default_code = "E_KILL_SWITCH_INVALID"


def _fail(message: str) -> KillSwitchInvalid:
    return KillSwitchInvalid(
        message, hint="fix or recreate the state with gait kill-switch add --state PATH"
    )


def _time(value: Any, where: str, *, required: bool) -> str:
    if value in (None, "", ZERO):
        if required:
            raise _fail(f"kill switch {where} is required")
        return ""
    if not isinstance(value, str):
        raise _fail(f"kill switch {where} must be an RFC 3339 time")
    try:
        return timefmt.canonical(value)
    except InvalidInput as exc:
        raise _fail(f"kill switch {where}: {exc.message}") from exc


def _clean_prefixes(values: Any, where: str) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise _fail(f"kill switch {where} must be a list of strings")
    out = set()
    for raw in values:
        text = raw.strip()
        if not text:
            continue
        value = os.path.normpath(text).replace(os.sep, "/")
        if value == ".":
            continue
        out.add(value)
    return sorted(out)


@dataclass
class Entry:
    """One kill-switch entry (the reference's ``KillSwitchEntry``)."""

    entry_id: str
    enabled: bool
    created_at: str
    agent_id: str = ""
    identity: str = ""
    tool_name: str = ""
    target_kind: str = ""
    target_value: str = ""
    environment: str = ""
    path_prefixes: list[str] = field(default_factory=list)
    workspace_prefixes: list[str] = field(default_factory=list)
    reason: str = ""
    actor: str = ""
    expires_at: str = ""

    @classmethod
    def from_json(cls, raw: Any, where: str = "entry") -> Entry:
        if not isinstance(raw, Mapping):
            raise _fail(f"kill switch {where} must be an object")

        def text(name: str) -> str:
            value = raw.get(name)
            if value is None:
                return ""
            if not isinstance(value, str):
                raise _fail(f"kill switch {where}.{name} must be a string")
            return value.strip()

        enabled = raw.get("enabled", False)
        if not isinstance(enabled, bool):
            raise _fail(f"kill switch {where}.enabled must be true or false")
        entry = cls(
            entry_id=text("entry_id"),
            enabled=enabled,
            created_at=_time(raw.get("created_at"), f"{where}.created_at", required=True),
            agent_id=text("agent_id"),
            identity=text("identity"),
            tool_name=text("tool_name").lower(),
            target_kind=text("target_kind").lower(),
            target_value=text("target_value"),
            environment=text("environment").lower(),
            path_prefixes=_clean_prefixes(raw.get("path_prefixes"), f"{where}.path_prefixes"),
            workspace_prefixes=_clean_prefixes(
                raw.get("workspace_prefixes"), f"{where}.workspace_prefixes"
            ),
            reason=text("reason"),
            actor=text("actor"),
            expires_at=_time(raw.get("expires_at"), f"{where}.expires_at", required=False),
        )
        entry.check()
        return entry

    def check(self) -> None:
        if self.target_kind and self.target_kind not in TARGET_KINDS:
            raise _fail(f"kill switch entry target_kind is unsupported: {self.target_kind}")
        if not (
            self.entry_id
            or any(getattr(self, name) for name in _SELECTORS)
            or self.path_prefixes
            or self.workspace_prefixes
        ):
            raise _fail("kill switch entry requires at least one scope selector")

    def compute_id(self) -> str:
        """The reference's id: sha256 over the selectors, reason and creation time, 12 bytes."""
        parts = [
            self.agent_id,
            self.identity,
            self.tool_name,
            self.target_kind,
            self.target_value,
            self.environment,
            ",".join(self.path_prefixes),
            ",".join(self.workspace_prefixes),
            self.reason,
            self.created_at,
        ]
        return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:24]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"entry_id": self.entry_id, "enabled": self.enabled}
        for name in (*_SELECTORS, "path_prefixes", "workspace_prefixes", "reason", "actor"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        out["created_at"] = self.created_at
        out["expires_at"] = self.expires_at or ZERO
        return out

    def active_at(self, now: str) -> bool:
        if not self.enabled:
            return False
        return not self.expires_at or _after(self.expires_at, now)


def _after(a: str, b: str) -> bool:
    """Is time ``a`` strictly after time ``b``?"""
    (ma, na), (mb, nb) = timefmt.parse(a), timefmt.parse(b)
    return (ma, na) > (mb, nb)


@dataclass
class State:
    created_at: str
    updated_at: str
    producer_version: str = "0.0.0-dev"
    entries: list[Entry] = field(default_factory=list)

    @classmethod
    def new(cls, now: str, producer_version: str) -> State:
        return cls(created_at=now, updated_at=now, producer_version=producer_version)

    @classmethod
    def from_json(cls, raw: Any) -> State:
        if not isinstance(raw, Mapping):
            raise _fail("kill switch state must be a JSON object")
        if (raw.get("schema_id") or STATE_SCHEMA_ID) != STATE_SCHEMA_ID:
            raise _fail(f"kill switch state schema_id must be {STATE_SCHEMA_ID}")
        if (raw.get("schema_version") or STATE_SCHEMA_VERSION) != STATE_SCHEMA_VERSION:
            raise _fail(f"kill switch state schema_version must be {STATE_SCHEMA_VERSION}")
        entries = raw.get("entries") or []
        if not isinstance(entries, list):
            raise _fail("kill switch state entries must be a list")
        producer = raw.get("producer_version")
        state = cls(
            created_at=_time(raw.get("created_at"), "state created_at", required=True),
            updated_at=_time(raw.get("updated_at"), "state updated_at", required=True),
            producer_version=(producer.strip() if isinstance(producer, str) else "") or "0.0.0-dev",
            entries=[Entry.from_json(e, f"entries[{i}]") for i, e in enumerate(entries)],
        )
        state.entries.sort(key=lambda e: e.entry_id)
        return state

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_id": STATE_SCHEMA_ID,
            "schema_version": STATE_SCHEMA_VERSION,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "producer_version": self.producer_version,
            "entries": [e.to_json() for e in sorted(self.entries, key=lambda e: e.entry_id)],
        }


def load_state(path: str | Path) -> State:
    """Read a state file; a missing one raises ``FileNotFoundError`` (the caller decides)."""
    data = Path(path).read_bytes()
    try:
        raw = json.loads(data)
    except ValueError as exc:
        raise _fail(f"parse kill switch state {path}: {exc}") from exc
    return State.from_json(raw)


def write_state(path: str | Path, state: State) -> None:
    from gait.canon import dumps_pretty
    from gait.fsutil import atomic_write

    atomic_write(Path(path), dumps_pretty(state.to_json(), sort_keys=False), mode=0o600)


def journal_path(state_path: str | Path) -> Path:
    return Path(state_path).parent / JOURNAL_NAME


def _targets_of(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    targets = list(doc.get("targets") or [])
    for step in (doc.get("script") or {}).get("steps") or []:
        targets.extend(step.get("targets") or [])
    return targets


def _prefix_match(value: str, prefix: str) -> bool:
    if not prefix:
        return False
    if value == prefix:
        return True
    if prefix.endswith("/"):
        return value.startswith(prefix)
    return value.startswith(prefix + "/")


def _clean(value: str) -> str:
    return os.path.normpath(value.strip()).replace(os.sep, "/") if value.strip() else "."


def entry_reasons(entry: Entry, doc: Mapping[str, Any]) -> list[str] | None:
    """The entry's reason codes if it matches the normalised intent ``doc``, else None."""
    ctx = doc.get("context") or {}
    reasons: list[str] = []
    if entry.agent_id:
        if str(ctx.get("agent_id") or "").strip() != entry.agent_id:
            return None
        reasons.append("kill_switch_agent_id_active")
    if entry.identity:
        if str(ctx.get("identity") or "").strip() != entry.identity:
            return None
        reasons.append("kill_switch_identity_active")
    if entry.tool_name:
        if str(doc.get("tool_name") or "").strip().lower() != entry.tool_name:
            return None
        reasons.append("kill_switch_tool_name_active")
    if entry.environment:
        if str(ctx.get("environment") or "").strip().lower() != entry.environment:
            return None
        reasons.append("kill_switch_environment_active")
    targets = _targets_of(doc)
    if entry.target_kind or entry.target_value:
        if not any(
            (not entry.target_kind or str(t.get("kind", "")).lower() == entry.target_kind)
            and (not entry.target_value or str(t.get("value", "")).strip() == entry.target_value)
            for t in targets
        ):
            return None
        reasons.append("kill_switch_target_active")
    if entry.path_prefixes:
        paths = [_clean(str(t.get("value", ""))) for t in targets if t.get("kind") == "path"]
        if not any(_prefix_match(p, pre) for p in paths for pre in entry.path_prefixes):
            return None
        reasons.append("kill_switch_path_active")
    if entry.workspace_prefixes:
        workspace = _clean(str(ctx.get("workspace") or ""))
        if not any(_prefix_match(workspace, pre) for pre in entry.workspace_prefixes):
            return None
        reasons.append("kill_switch_workspace_active")
    return sorted(set(reasons))


def match(state: State, doc: Mapping[str, Any], now: str) -> dict[str, Any]:
    """The reference's ``KillSwitchDecision`` for an intent at ``now``."""
    reasons: set[str] = set()
    matched: set[str] = set()
    for entry in state.entries:
        if not entry.active_at(now):
            continue
        found = entry_reasons(entry, doc)
        if found is None:
            continue
        matched.add(entry.entry_id)
        reasons.update(["kill_switch_active", *found])
    if not matched:
        return {"status": "inactive", "evaluated_at": now}
    codes = sorted(reasons)
    primary = next((c for c in codes if c != "kill_switch_active"), "kill_switch_active")
    return {
        "status": "active",
        "reason_code": primary,
        "reason_codes": codes,
        "matched_entry_ids": sorted(matched),
        "evaluated_at": now,
    }


def state_required(profile: str, risk_class: str) -> bool:
    """Must the state be readable for this call? (oss-prod always; high/critical risk)"""
    return profile == "oss-prod" or risk_class in ("high", "critical")


def state_check(
    path: str | Path,
    *,
    profile: str = "standard",
    journal_key: Any = None,
    source: str = "gate",
) -> Callable[..., Any]:
    """A ``BoundaryCheck`` honouring the state file at ``path``, re-read when it changes.

    An unreadable state blocks a call that needs it (``kill_switch_state_unavailable``) and
    is an ``E_KILL_SWITCH_INVALID`` error for one that does not: a kill switch that cannot be
    read never silently lets a high-risk call through.
    """
    from gait.errors import GaitError
    from gait.gate.engine import BoundaryFinding
    from gait.gate.killswitch_store import open_store

    store = open_store(path)
    cache: dict[str, Any] = {"stamp": None, "state": None, "error": None}

    def current() -> State | None:
        try:
            stamp: Any = store.stamp()
        except OSError as exc:
            cache.update(stamp=None, state=None, error=_fail(f"read kill switch state: {exc}"))
            return None
        if stamp is None or stamp != cache["stamp"]:
            try:
                cache.update(stamp=stamp, state=store.load(), error=None)
            except (OSError, GaitError) as exc:
                error = exc if isinstance(exc, KillSwitchInvalid) else _fail(str(exc))
                cache.update(stamp=None, state=None, error=error)
        current: State | None = cache["state"]
        return current

    def check(intent: Any, now: str) -> BoundaryFinding | None:
        state = current()
        if state is None:
            if not state_required(profile, intent.risk_class):
                raise cache["error"]
            record = {
                "status": "unavailable",
                "reason_code": "kill_switch_state_unavailable",
                "reason_codes": ["kill_switch_state_unavailable"],
                "evaluated_at": now,
            }
            return BoundaryFinding(
                field="kill_switch",
                record=record,
                verdict="block",
                reason_codes=("kill_switch_state_unavailable",),
                violations=("kill_switch_state_unavailable",),
                replace=True,
            )
        decision = match(state, intent.doc, now)
        if decision["status"] != "active":
            return BoundaryFinding(field="kill_switch", record=decision)
        if journal_key is not None:
            store.journal(
                {
                    "created_at": now,
                    "source": source,
                    "tool_name": intent.tool_name,
                    "identity": intent.identity,
                    "agent_id": str(intent.doc["context"].get("agent_id") or ""),
                    "reason_codes": decision["reason_codes"],
                    "matched_entry_ids": decision["matched_entry_ids"],
                },
                journal_key,
            )
        return BoundaryFinding(
            field="kill_switch",
            record=decision,
            verdict="block",
            reason_codes=tuple(decision["reason_codes"]),
            violations=("kill_switch_active",),
        )

    return check


def _journal_tail(path: Path) -> str:
    from gait.canon import digest

    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(size - 65536, 0))
            lines = [line for line in handle.read().splitlines() if line.strip()]
    except FileNotFoundError:
        return ""
    if not lines:
        return ""
    last = json.loads(lines[-1])
    return digest({k: v for k, v in last.items() if k != "signature"})


def journal_record(fields: Mapping[str, Any], prev_digest: str, key: Any) -> dict[str, Any]:
    """One journal record: the fields, the digest of the record before, a signature."""
    from gait import __version__
    from gait.canon import digest
    from gait.sign.signature import sign_digest

    record: dict[str, Any] = {
        "schema_id": JOURNAL_SCHEMA_ID,
        "schema_version": "1.0.0",
        "producer_version": __version__,
    }
    for name, value in fields.items():
        if value:
            record[name] = value
    record["prev_digest"] = prev_digest
    record["signature"] = sign_digest(key, digest(record))
    return record


def append_journal(path: Path, fields: Mapping[str, Any], key: Any) -> dict[str, Any]:
    """Append one signed record chained to the previous one (under an exclusive lock)."""
    from gait.canon import canonical_bytes
    from gait.fsutil import append_locked

    records: list[dict[str, Any]] = []

    def chained() -> bytes:
        records.append(journal_record(fields, _journal_tail(path), key))
        return canonical_bytes(records[0]) + b"\n"

    append_locked(path, chained, sync=True)
    return records[0]


def verify_journal(path: Path, keys: Sequence[Any]) -> tuple[int, list[str]]:
    """(records, problems): each line's signature and its link to the line before."""
    return verify_journal_lines(path.read_bytes().splitlines(), keys)


def verify_journal_lines(lines: Sequence[bytes], keys: Sequence[Any]) -> tuple[int, list[str]]:
    from gait.canon import digest
    from gait.sign.signature import check_signature

    problems: list[str] = []
    prev = ""
    count = 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        count += 1
        try:
            record = json.loads(line)
        except ValueError:
            problems.append(f"line {number}: not JSON")
            continue
        body = {k: v for k, v in record.items() if k != "signature"}
        if record.get("prev_digest", "") != prev:
            problems.append(f"line {number}: chain broken (a line was removed or edited)")
        wanted = digest(body)
        if not check_signature(record.get("signature"), wanted, keys).ok:
            problems.append(f"line {number}: signature does not verify")
        prev = wanted
    return count, problems
