"""JSON Schema (2020-12) validation of every Gait artifact, by schema id.

Schemas are read lazily and each validator is built once: building one compiles every regex and
``$ref`` in the schema, which costs far more than a validation. ``jsonschema`` is imported only
inside functions so that ``gait --version`` never pays for it.

Each schema file names its id in ``x-gait-schema-id`` (the artifact's ``schema_id`` where it has
one); a schema can be asked for by that id or by its file stem (``trace_record``).
"""

from __future__ import annotations

import json
import threading
from functools import cache
from pathlib import Path
from typing import Any

from gait.errors import InvalidInput

_SUFFIX = ".schema.json"
_ID_KEY = "x-gait-schema-id"
_LOCK = threading.Lock()


@cache
def _schema_dir() -> Path:
    """Where the ``*.schema.json`` files are: package data in a wheel, ``schemas/`` in a checkout.

    The wheel maps ``schemas/`` to ``gait._schemas``; an editable install or a bare checkout has
    no such package (or an empty one), so fall back to the directory beside ``gait/``.
    """
    try:
        from importlib.resources import files

        # A namespace package gives a MultiplexedPath, whose entries are plain Paths.
        for entry in files("gait._schemas").iterdir():
            if isinstance(entry, Path) and entry.name.endswith(_SUFFIX):
                return entry.parent
    except (ModuleNotFoundError, TypeError, ValueError, OSError):
        pass
    import gait

    return Path(gait.__file__).resolve().parent.parent / "schemas"


@cache
def _index() -> dict[str, Path]:
    """Schema id and file stem -> file. Read once; a clash between two files is a bug here."""
    index: dict[str, Path] = {}
    for path in sorted(_schema_dir().glob("*" + _SUFFIX)):
        stem = path.name[: -len(_SUFFIX)]
        schema_id = json.loads(path.read_text(encoding="utf-8")).get(_ID_KEY) or stem
        for key in {schema_id, stem}:
            if key in index and index[key] != path:
                raise RuntimeError(f"schema key {key!r} names both {index[key]} and {path}")
            index[key] = path
    return index


def _ids() -> dict[Path, str]:
    ids: dict[Path, str] = {}
    for key, path in _index().items():
        if "." in key or path not in ids:
            ids[path] = key
    return ids


def schema_ids() -> list[str]:
    """Every schema id (``gait.runpack.manifest``...), sorted; file stems are aliases."""
    return sorted(_ids().values())


def schema_path(schema_id: str) -> Path:
    """The file of a schema id or stem; InvalidInput when unknown."""
    try:
        return _index()[schema_id]
    except (KeyError, TypeError):
        raise InvalidInput(f"unknown schema {schema_id!r}", code="E_SCHEMA_UNKNOWN") from None


@cache
def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def load_schema(schema_id: str) -> dict[str, Any]:
    """The parsed schema (shared: do not mutate it)."""
    return _load(schema_path(schema_id))


@cache
def _format_checker() -> Any:
    """date-time checked by our own RFC 3339 parser.

    jsonschema's built-in date-time check silently does nothing unless an optional package is
    installed, and it would accept forms the reference refuses (no seconds fraction limit).
    """
    from jsonschema import FormatChecker

    from gait import timefmt

    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=(InvalidInput,))
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        timefmt.parse(value)
        return True

    return checker


def _validator(path: Path) -> Any:
    with _LOCK:
        return _build(path)


@cache
def _build(path: Path) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_load(path), format_checker=_format_checker())


def _json_path(parts: Any) -> str:
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            out += f".{part}"
        else:
            out += "[" + json.dumps(part, ensure_ascii=False) + "]"
    return out


def _leaves(error: Any) -> list[Any]:
    """The most specific failures: a oneOf/anyOf failure says more through its sub-errors."""
    if error.context and error.validator in ("oneOf", "anyOf"):
        found: list[Any] = []
        for sub in error.context:
            found.extend(_leaves(sub))
        return found
    return [error]


def _message(error: Any) -> str:
    message = error.message
    if len(message) > 300:
        message = message[:297] + "..."
    return f"{_json_path(error.absolute_path)}: {message}"


def errors(schema_id: str, instance: Any) -> list[str]:
    """Every schema violation as ``<json path>: <message>``, sorted; empty when valid."""
    validator = _validator(schema_path(schema_id))
    found = {_message(leaf) for error in validator.iter_errors(instance) for leaf in _leaves(error)}
    return sorted(found)


def validate(schema_id: str, instance: Any, *, what: str = "") -> None:
    """Raise InvalidInput (E_SCHEMA_INVALID) naming the first violations on one line."""
    problems = errors(schema_id, instance)
    if not problems:
        return
    shown = "; ".join(problems[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    subject = what or schema_id
    raise InvalidInput(
        f"{subject} does not match schema {schema_id}: {shown}{more}".replace("\n", " "),
        code="E_SCHEMA_INVALID",
        details={"schema_id": schema_id, "errors": problems},
    )
