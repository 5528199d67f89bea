"""One registry of artifact readers, keyed by ``(schema_id, schema_version)``, and ``gait migrate``.

Only ``1.0.0`` exists, and the reference refuses every other version, so today each known schema
id has one reader: the identity. A later version adds one ``register_reader`` call (an upgrade
from the old version to the next), and every reader that goes through ``read_artifact`` accepts
old artifacts from then on. Nothing guesses: an unknown or newer version is refused with
``E_MIGRATE_UNSUPPORTED_VERSION`` (exit 6), never read as if it were current.

Migrated bytes are not what a signature covered. Migration re-signs only with a key the user
names; otherwise it removes the stale signature and says so, rather than ship a signature that
cannot verify.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from gait.canon import canonical_bytes, digest, dumps_pretty, loads_strict
from gait.errors import GaitError, InvalidInput

CURRENT_VERSION = "1.0.0"
Upgrade = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Reader:
    """Reads one version of one artifact and hands back the next version's document."""

    schema_id: str
    version: str
    to_version: str
    upgrade: Upgrade

    @property
    def is_current(self) -> bool:
        return self.version == self.to_version


_READERS: dict[tuple[str, str], Reader] = {}


def _identity(doc: dict[str, Any]) -> dict[str, Any]:
    return doc


@cache
def _current_ids() -> tuple[str, ...]:
    """Every schema id whose schema pins ``schema_version`` to the current version."""
    from gait import schema

    found = []
    for schema_id in schema.schema_ids():
        props = schema.load_schema(schema_id).get("properties", {})
        if props.get("schema_version", {}).get("const") == CURRENT_VERSION:
            found.append(schema_id)
    return tuple(found)


def readers() -> dict[tuple[str, str], Reader]:
    """The registry: the current reader of every schema id, plus registered upgrades."""
    table = {
        (sid, CURRENT_VERSION): Reader(sid, CURRENT_VERSION, CURRENT_VERSION, _identity)
        for sid in _current_ids()
    }
    table.update(_READERS)
    return table


def register_reader(
    schema_id: str, version: str, upgrade: Upgrade, *, to_version: str = CURRENT_VERSION
) -> Reader:
    """Teach gait to read ``version`` of ``schema_id`` by upgrading it to ``to_version``."""
    if version == to_version:
        raise ValueError("an upgrade must change the version")
    reader = Reader(schema_id, version, to_version, upgrade)
    _READERS[(schema_id, version)] = reader
    return reader


def unregister_reader(schema_id: str, version: str) -> None:
    _READERS.pop((schema_id, version), None)


def _version_tuple(version: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in version.split("-")[0].split("+")[0].split("."))
    except ValueError:
        return None


def _unsupported(schema_id: str, version: Any, where: str) -> InvalidInput:
    shown = version if isinstance(version, str) else repr(version)
    known = sorted(v for (sid, v) in readers() if sid == schema_id)
    newer = isinstance(version, str) and (_version_tuple(version) or ()) > (
        _version_tuple(CURRENT_VERSION) or ()
    )
    reason = "is newer than this gait reads" if newer else "is not a version gait knows"
    hint = "upgrade gait to read it" if newer else f"readable versions: {', '.join(known)}"
    return InvalidInput(
        f"{where}: {schema_id} schema_version {shown} {reason}",
        code="E_MIGRATE_UNSUPPORTED_VERSION",
        hint=hint,
        details={"schema_id": schema_id, "schema_version": shown},
    )


def reader_for(doc: Any, where: str = "artifact") -> Reader:
    """The reader for a document's (schema_id, schema_version); refuses what none reads."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("schema_id"), str):
        raise InvalidInput(
            f"{where} has no schema_id: not a Gait artifact", code="E_MIGRATE_UNKNOWN_SCHEMA"
        )
    schema_id = doc["schema_id"]
    table = readers()
    if not any(sid == schema_id for sid, _ in table):
        raise InvalidInput(
            f"{where}: unknown schema_id {schema_id!r}", code="E_MIGRATE_UNKNOWN_SCHEMA"
        )
    version = doc.get("schema_version")
    reader = table.get((schema_id, version)) if isinstance(version, str) else None
    if reader is None:
        raise _unsupported(schema_id, version, where)
    return reader


@dataclass
class Migration:
    doc: dict[str, Any]
    schema_id: str
    from_version: str
    to_version: str
    steps: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.steps)


def migrate_doc(doc: Any, *, to: str | None = None, where: str = "artifact") -> Migration:
    """Follow readers from the document's version to ``to`` (default: current)."""
    target = to or CURRENT_VERSION
    reader = reader_for(doc, where)
    schema_id, start = reader.schema_id, reader.version
    if (schema_id, target) not in readers():
        raise _unsupported(schema_id, target, f"{where} (--to)")
    current: dict[str, Any] = dict(doc)
    steps: list[str] = []
    seen = set()
    while reader.version != target and not reader.is_current:
        if reader.version in seen:
            raise GaitError(f"reader loop at {reader.version}", code="E_INTERNAL")
        seen.add(reader.version)
        current = dict(reader.upgrade(dict(current)))
        current["schema_version"] = reader.to_version
        steps.append(f"{reader.version}->{reader.to_version}")
        reader = reader_for(current, where)
    if reader.version != target:
        raise _unsupported(schema_id, target, f"{where} (--to)")
    return Migration(current, schema_id, start, target, steps)


def read_artifact(doc: Any, where: str = "artifact") -> dict[str, Any]:
    """A document at the current version, validated: the one way readers take old artifacts."""
    from gait import schema

    migration = migrate_doc(doc, where=where)
    schema.validate(migration.schema_id, migration.doc, what=where)
    return migration.doc


# --- signatures over migrated bytes ---------------------------------------------------------

SIGNED_FIELDS = ("signature", "signatures")


def signature_field(doc: Mapping[str, Any]) -> str:
    return next((f for f in SIGNED_FIELDS if doc.get(f)), "")


def resign(doc: dict[str, Any], key: Any) -> dict[str, Any]:
    """Sign ``H(doc minus its signature field)`` as FORMATS.md section 2 does for each artifact."""
    from gait.sign.signature import sign_digest

    name = signature_field(doc) or "signature"
    body = {k: v for k, v in doc.items() if k != name}
    signed = sign_digest(key, digest(body))
    out = dict(body)
    out[name] = [signed] if name == "signatures" else signed
    return out


def strip_signature(doc: dict[str, Any]) -> dict[str, Any]:
    name = signature_field(doc)
    return {k: v for k, v in doc.items() if k != name} if name else doc


# --- files ----------------------------------------------------------------------------------


@dataclass
class Item:
    where: str
    migration: Migration
    note: str = ""


def _load_docs(path: Path) -> tuple[str, list[tuple[str, Any]], bytes]:
    """(kind, [(where, doc)], raw bytes) of a .json, .jsonl, .yaml or runpack .zip file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise InvalidInput(f"artifact not found: {path}", code="E_MIGRATE_INPUT_INVALID") from exc
    except OSError as exc:
        raise InvalidInput(
            f"cannot read {path}: {exc.strerror}", code="E_MIGRATE_INPUT_INVALID"
        ) from exc
    name = path.name.lower()
    if name.endswith(".zip"):
        return "zip", _zip_docs(path), raw
    if name.endswith((".yaml", ".yml")):
        from gait import yamlload

        def fail(message: str, line: int | None) -> InvalidInput:
            where = f" (line {line})" if line is not None else ""
            return InvalidInput(
                f"{path} is not valid YAML{where}: {message}", code="E_MIGRATE_INPUT_INVALID"
            )

        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise fail("not UTF-8 text", None) from None
        doc = yamlload.load(text, fail)
        return "yaml", [(str(path), doc)], raw
    if name.endswith(".jsonl"):
        docs = [
            (
                f"{path}:{i}",
                loads_strict(line, what=f"{path} line {i}", code="E_MIGRATE_INPUT_INVALID"),
            )
            for i, line in enumerate(raw.splitlines(), start=1)
            if line.strip()
        ]
        return "jsonl", docs, raw
    doc = loads_strict(raw, what=str(path), code="E_MIGRATE_INPUT_INVALID")
    return "json", [(str(path), doc)], raw


def _zip_docs(path: Path) -> list[tuple[str, Any]]:
    from gait.runpack.archive import read_members

    members = read_members(path, keep=None)  # every JSON artifact in the zip is migrated
    if members.problems or members.unreadable:
        first = members.problems[0].message if members.problems else "unreadable member"
        raise InvalidInput(f"{path}: {first}", code="E_MIGRATE_INPUT_INVALID")
    docs: list[tuple[str, Any]] = []
    for name in sorted(members.data):
        data = members.data[name]
        where = f"{path}!{name}"
        if name.endswith(".jsonl"):
            docs += [
                (f"{where}:{i}", loads_strict(line, what=where, code="E_MIGRATE_INPUT_INVALID"))
                for i, line in enumerate(data.splitlines(), start=1)
                if line.strip()
            ]
        elif name.endswith(".json"):
            docs.append((where, loads_strict(data, what=where, code="E_MIGRATE_INPUT_INVALID")))
    if not docs:
        raise InvalidInput(f"{path} holds no JSON artifacts", code="E_MIGRATE_INPUT_INVALID")
    return docs


def _dump(doc: dict[str, Any], kind: str, raw: bytes) -> bytes:
    if kind == "yaml":
        import yaml

        return yaml.safe_dump(doc, sort_keys=False).encode()
    if kind == "jsonl":
        return canonical_bytes(doc) + b"\n"
    return dumps_pretty(doc) if b"\n  " in raw else canonical_bytes(doc)


@dataclass
class FileMigration:
    path: Path
    kind: str
    items: list[Item]
    output: bytes
    raw: bytes

    @property
    def changed(self) -> bool:
        return any(item.migration.changed for item in self.items)


def migrate_file(
    path: str | Path, *, to: str | None = None, signing_key: Any = None
) -> FileMigration:
    """Migrate every artifact in a file; the result's ``output`` is what ``--out`` writes."""
    target = Path(path)
    kind, docs, raw = _load_docs(target)
    if not docs:
        raise InvalidInput(f"{target} holds no artifacts", code="E_MIGRATE_INPUT_INVALID")
    items = []
    for where, doc in docs:
        migration = migrate_doc(doc, to=to, where=where)
        note = ""
        if migration.changed and signature_field(migration.doc):
            if signing_key is not None:
                migration.doc = resign(migration.doc, signing_key)
                note = f"re-signed with key {signing_key.key_id[:16]}"
            else:
                migration.doc = strip_signature(migration.doc)
                note = (
                    "signature removed: it covered the old bytes, not the migrated ones; "
                    "re-sign with --private-key"
                )
        items.append(Item(where, migration, note))
    changed = any(item.migration.changed for item in items)
    if changed and kind == "zip":
        raise InvalidInput(
            f"{target}: migrating a runpack rewrites its manifest; no runpack version needs it yet",
            code="E_MIGRATE_UNSUPPORTED_VERSION",
        )
    if not changed:
        output = raw
    elif kind == "jsonl":
        output = b"".join(_dump(item.migration.doc, kind, raw) for item in items)
    else:
        output = _dump(items[0].migration.doc, kind, raw)
    return FileMigration(target, kind, items, output, raw)
