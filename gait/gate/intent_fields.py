"""Typed readers for the fields of a decoded IntentRequest (JSON values, FORMATS.md 5.1).

Every field of an intent is read the same way: absent or ``null`` is the type's empty value
(as the reference's Go structs read it), any other type is ``E_INTENT_INVALID`` naming the field.
These readers are the one place that rule lives; gait.gate.intent holds what the fields mean.
"""

from __future__ import annotations

# collections.abc without the collections package (see gait.gate.engine)
from _collections_abc import Mapping

from gait import timefmt
from gait.errors import InvalidInput
from gait.lazyre import lazy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HEX64 = lazy(r"^[a-f0-9]{64}$")


class IntentInvalid(InvalidInput):
    """The intent cannot be normalised: the reference refuses it (exit 6)."""

    default_code = "E_INTENT_INVALID"


def fail(message: str) -> IntentInvalid:
    return IntentInvalid(f"intent invalid: {message}", code="E_INTENT_INVALID")


def string(value: Any, where: str) -> str:
    if type(value) is str:
        return value
    if value is None:
        return ""
    if not isinstance(value, str):
        raise fail(f"{where} must be a string")
    return value


def boolean(value: Any, where: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise fail(f"{where} must be a boolean")
    return value


def integer(value: Any, where: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise fail(f"{where} must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise fail(f"{where} must be an integer")
        value = int(value)
    count: int = value
    return count


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise fail(f"{where} must be an object")
    return value


def array(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise fail(f"{where} must be an array")
    return value


def rfc3339(value: Any, where: str) -> str:
    """Canonical RFC 3339 (the zero time when unset), as the reference always prints it."""
    if value is None:
        return timefmt.ZERO_TIME
    if not isinstance(value, str):
        raise fail(f"{where} must be an RFC 3339 time")
    try:
        # No cache of whole strings: an SDK's intents each carry their own microsecond, so
        # one never hit (timefmt.canonical remembers the last valid second instead).
        return timefmt.canonical(value)
    except InvalidInput as exc:
        raise fail(f"{where} is not an RFC 3339 time") from exc


def time_before_eq(a: str, b: str) -> bool:
    return timefmt.parse(a) <= timefmt.parse(b)


def normalize_json(value: Any, where: str = "args", floats: list[float] | None = None) -> Any:
    """Trim keys and strings recursively; an empty key is an error.

    The result holds only exact dict, list, str, int, bool, None and float; ``floats``, when
    given, collects the floats met, so a caller knows whether its digest may take
    ``gait.canon.digest_floatless``.
    """
    kind = type(value)
    if kind is str:
        return value.strip()
    if kind is dict or isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, nested in value.items():
            if not isinstance(key, str):
                raise fail(f"{where} has a non-string key")
            trimmed = key.strip()
            if not trimmed:
                raise fail(f"{where} contains an empty key")
            out[trimmed] = (
                nested.strip() if type(nested) is str else normalize_json(nested, where, floats)
            )
        return out
    if kind is list or kind is tuple:
        return [normalize_json(item, where, floats) for item in value]
    if value is None or kind is bool or kind is int:
        return value
    if kind is float:
        if floats is not None:
            floats.append(value)
        return value
    raise fail(f"{where} holds a value that is not JSON ({kind.__name__})")


def target_text(target: Mapping[str, Any], name: str, where: str) -> str:
    value = target.get(name)
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    raise fail(f"{where}.{name} must be a string")


def target_flag(target: Mapping[str, Any], name: str, where: str) -> bool:
    value = target.get(name)
    if value is None or value is False:
        return False
    if value is True:
        return True
    raise fail(f"{where}.{name} must be a boolean")


def string_list(raw: Any, where: str, *, lower: bool = False) -> list[str]:
    out = set()
    for index, item in enumerate(array(raw, where)):
        text = string(item, f"{where}[{index}]").strip()
        if lower:
            text = text.lower()
        if text:
            out.add(text)
    return sorted(out)
