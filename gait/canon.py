"""Canonical JSON (RFC 8785 / JCS) and digests: the only place bytes for hashing are made.

Numbers follow the reference's reading of JSON: every number is an IEEE double, so an integer
outside +-2**53 is rounded the way a Go ``float64`` rounds it before it is printed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from gait.errors import InvalidInput

_SAFE_INT = 2**53
_ENCODER = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
)


def _fast_path_ok(value: Any) -> bool:
    """True when ``json.dumps`` is byte-equal to JCS for ``value``.

    That holds without floats, with integers in the double-exact range, and with keys whose
    code-point order equals their UTF-16 order (no character at or above U+E000).
    """
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if kind is int:
            if -_SAFE_INT <= item <= _SAFE_INT:
                continue
            return False
        if kind is dict:
            for key in item:
                if type(key) is not str or (not key.isascii() and max(key) >= "\ue000"):
                    return False
            stack.extend(item.values())
            continue
        if kind is list:
            stack.extend(item)
            continue
        return False
    return True


def _as_doubles(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if -_SAFE_INT < value < _SAFE_INT else float(value)
    if isinstance(value, dict):
        return {key: _as_doubles(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_doubles(item) for item in value]
    return value


def canonical_bytes(value: Any) -> bytes:
    """JCS bytes of a JSON value; raises InvalidInput for what JSON cannot hold (NaN, bytes...)."""
    if _fast_path_ok(value):
        try:
            return _ENCODER.encode(value).encode("utf-8")
        except (UnicodeEncodeError, ValueError):
            pass
    import rfc8785  # only values the fast path cannot take pay for the import

    try:
        return rfc8785.dumps(_as_doubles(value))
    except (rfc8785.CanonicalizationError, UnicodeEncodeError, TypeError, ValueError) as exc:
        raise InvalidInput(
            f"value cannot be canonicalized as JSON: {exc}", code="E_CANONICAL_JSON"
        ) from exc


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest(value: Any) -> str:
    """``H(x)`` of FORMATS.md: lowercase hex SHA-256 of the canonical bytes."""
    return hashlib.sha256(canonical_bytes(value)).hexdigest()


def id24(text: str) -> str:
    """Hex of the first 12 bytes of SHA-256 of an ASCII/UTF-8 string (trace, token, event ids)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, val in pairs:
        if key in result:
            raise _DuplicateKey(f"duplicate key {key!r}")
        result[key] = val
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads_strict(data: bytes | str, *, what: str = "JSON", code: str = "E_INVALID_JSON") -> Any:
    """Parse JSON refusing non-UTF-8 bytes, duplicate keys and NaN/Infinity."""
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{what} is not valid UTF-8 (byte {exc.start})", code=code) from exc
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except _DuplicateKey as exc:
        raise InvalidInput(f"{what} has a {exc}", code=code) from exc
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise InvalidInput(f"{what} is not valid JSON: {exc}", code=code) from exc


def dumps_pretty(value: Any) -> bytes:
    """2-space indented JSON plus newline, keys sorted: traces, tokens and regress files."""
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def dumps_compact(value: Any) -> str:
    """One-line sorted JSON for ``--json`` output."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
